"""Backfills: a year of daily partitions of the Azure data runs as one run per backfill (every
partitioned asset has a single-run backfill policy), and doing it again changes no row count."""

import time

import dagster as dg
import psycopg
import pytest

from sparecast_assets.partitions import single_run

pytestmark = pytest.mark.e2e

# What `dagster asset materialize --select ... --partition-range 2015-01-01...2015-12-31` runs.
SELECTION = "group:raw or group:staging or group:intermediate or group:marts"
TABLES = """
select table_schema || '.' || table_name from information_schema.tables
where table_schema in ('raw', 'dbt') and table_type = 'BASE TABLE' order by 1
"""


def row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [t for (t,) in conn.execute(TABLES).fetchall()]
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


def test_a_year_backfills_as_one_run_and_a_second_backfill_changes_no_row_count(
        azure_landing, fresh_database, monkeypatch):
    monkeypatch.setenv("SPARECAST_LANDING", str(azure_landing))
    monkeypatch.setenv("SPARECAST_DATABASE_URL", fresh_database)
    from sparecast_assets.definitions import defs

    code = defs()
    graph = code.resolve_asset_graph()
    selected = dg.AssetSelection.from_string(SELECTION).resolve(graph)
    partitioned = {k for k in selected if graph.get(k).partitions_def is not None}
    assert partitioned == selected and len(selected) == 7 + 17
    assert {graph.get(k).backfill_policy for k in selected} == {single_run}

    job = code.resolve_implicit_global_asset_job_def()
    tags = {"dagster/asset_partition_range_start": "2015-01-01",
            "dagster/asset_partition_range_end": "2015-12-31"}
    # In memory: Dagster's SQLite storage spends minutes writing the ~8,400 partition events of
    # a year (README, Backfills); the runs and events are the same.
    with dg.DagsterInstance.ephemeral() as instance:
        seconds, counts = [], []
        for _ in range(2):
            started = time.monotonic()
            result = job.execute_in_process(instance=instance, tags=tags,
                                            asset_selection=list(selected))
            seconds.append(time.monotonic() - started)
            assert result.success
            counts.append(row_counts(fresh_database))
        runs = instance.get_runs()
        materialized = instance.get_materialized_partitions(dg.AssetKey("fct_part_demand_daily"))

    print(f"\nbackfill of 365 days: {seconds[0]:.1f}s, again: {seconds[1]:.1f}s")
    assert len(runs) == 2  # one run per backfill, not one per day
    assert len(materialized) == 365
    assert counts[1] == counts[0]
    # 2015 in the Azure sample: every raw row whose file is dated 2015 (machines and parts
    # landed once, on 2014-06-01, the first day of its maintenance log), and one row per part
    # and day in the demand mart.
    assert {t: n for t, n in counts[0].items() if t.startswith("raw.")} == {
        "raw.errors": 3_917, "raw.failures": 761, "raw.inventory": 0, "raw.landed_files": 1_115,
        "raw.machines": 0, "raw.part_usage": 2_879, "raw.parts": 0, "raw.rejected_rows": 0,
        "raw.telemetry": 43_200,
    }
    # The dims hold every id known so far; the daily marts one row per id and day.
    assert {t: n for t, n in counts[0].items() if t.startswith("dbt.")} == {
        "dbt.dim_machines": 100, "dbt.dim_parts": 4, "dbt.fct_inventory_snapshot": 0,
        "dbt.fct_machine_daily": 100 * 365,
        "dbt.fct_machine_sensor_daily": 7_280, "dbt.fct_part_demand_daily": 4 * 365,
        "dbt.fct_part_fleet_daily": 4 * 365, "dbt.int_data_calendar": 365,
        "dbt.int_machine_part_daily": 100 * 4 * 365, "dbt.int_machine_parts": 100 * 4,
    }
