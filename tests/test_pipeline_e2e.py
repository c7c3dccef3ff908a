"""The main job end to end: landing zone -> Postgres -> dbt -> LightGBM -> forecast table.

Each test runs the real `sparecast` command in-process against a real Postgres: a fresh
database on the local server, or the embedded one for the demo.
"""

import psycopg
import pytest

from sparecast_assets import cli, db
from sparecast_assets.landing.storage import open_landing
from sparecast_assets.sources.azure_pdm import import_azure_pdm
from tests.conftest import AZURE_PDM

pytestmark = pytest.mark.e2e

AZURE_RAW_ROWS = {
    "errors": 3919, "failures": 761, "part_usage": 3286, "machines": 100, "telemetry": 43200,
    "parts": 4, "inventory": 0,
}
# Replacements per component in PdM_maint.csv
AZURE_DEMAND = {"comp1": 804.0, "comp2": 863.0, "comp3": 808.0, "comp4": 811.0}


def database_state(url: str) -> dict:
    with psycopg.connect(url) as conn:
        state = {
            "raw": {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0]
                    for t in AZURE_RAW_ROWS},
            "demand": dict(conn.execute(
                "select part_id, sum(demand_quantity)::float from dbt.fct_part_demand_daily "
                "group by 1 order by 1").fetchall()),
            "demand_rows": conn.execute("select count(*) from dbt.fct_part_demand_daily").fetchone()[0],
            "machine_days": conn.execute("select count(*) from dbt.fct_machine_daily").fetchone()[0],
            "forecast": dict(conn.execute(
                "select part_id, count(*) from analytics.part_demand_forecast group by 1 "
                "order by 1").fetchall()),
            "model_runs": conn.execute("select count(*) from ml.model_runs").fetchone()[0],
            "backtest_methods": conn.execute(
                "select array(select jsonb_object_keys(backtest) order by 1) "
                "from ml.model_runs").fetchone()[0],
            "drivers": dict(conn.execute(
                "select part_id, count(*) from analytics.part_demand_drivers group by 1 "
                "order by 1").fetchall()),
            "forecast_nulls": conn.execute(
                "select count(*) from analytics.part_demand_forecast where demand_p10 is null "
                "or demand_p99 is null or demand_class is null").fetchone()[0],
            "recommendations": dict(conn.execute(
                "select part_id || '@' || location_id, count(*) "
                "from analytics.inventory_recommendations group by 1 order by 1").fetchall()),
        }
    return state


def run(capsys, *argv) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def assert_azure_state(state: dict) -> None:
    assert state["raw"] == AZURE_RAW_ROWS
    assert state["demand"] == AZURE_DEMAND
    # 2014-06-01 .. 2016-01-01 is 580 days, zero-filled for each of the 4 parts and 100 machines
    assert state["demand_rows"] == 4 * 580
    assert state["machine_days"] == 100 * 580
    assert state["forecast"] == {"comp1": 28, "comp2": 28, "comp3": 28, "comp4": 28}
    assert state["model_runs"] == 1
    assert state["backtest_methods"] == [
        "_folds", "adida", "croston_sba", "empirical_quantiles", "imapa", "seasonal_naive",
        "sparecast", "tsb", "zero"]
    assert state["drivers"] == {"comp1": 5, "comp2": 5, "comp3": 5, "comp4": 5}
    assert state["forecast_nulls"] == 0
    # The Azure data has no stock counts: one row per part at the 'unknown' location.
    assert state["recommendations"] == {
        "comp1@unknown": 1, "comp2@unknown": 1, "comp3@unknown": 1, "comp4@unknown": 1}


def test_azure_data_loads_every_row_and_forecasts_every_component(
        fresh_database, azure_landing, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SPARECAST_DATABASE_URL", fresh_database)
    monkeypatch.setenv("SPARECAST_HOME", str(tmp_path))

    out = run(capsys, "run", "--landing", str(azure_landing))
    assert "telemetry         43,200  (91 files)" in out
    assert "forecast as of 2016-01-01, expected units over the next 28 days (4 parts, top 4)" in out
    assert "written    112 rows to analytics.part_demand_forecast" in out
    first = database_state(fresh_database)
    assert_azure_state(first)

    run(capsys, "run", "--landing", str(azure_landing))
    assert database_state(fresh_database) == first


def test_a_landing_zone_on_s3_gives_the_same_counts(fresh_database, s3_endpoint, monkeypatch,
                                                    tmp_path, capsys):
    _, client = s3_endpoint
    client.create_bucket(Bucket="sparecast-landing")
    import_azure_pdm(AZURE_PDM, open_landing("s3://sparecast-landing/azure"))
    monkeypatch.setenv("SPARECAST_DATABASE_URL", fresh_database)
    monkeypatch.setenv("SPARECAST_HOME", str(tmp_path))

    out = run(capsys, "run", "--landing", "s3://sparecast-landing/azure")

    assert "landing   s3://sparecast-landing/azure" in out
    assert_azure_state(database_state(fresh_database))


def test_the_demo_runs_on_the_embedded_postgres_and_forecasts_every_part(
        monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("SPARECAST_DATABASE_URL", raising=False)
    monkeypatch.setenv("SPARECAST_HOME", str(tmp_path / "home"))

    out = run(capsys, "demo", "--machines", "6", "--parts", "5", "--days", "120")

    assert "socket in" in out and str(tmp_path / "home" / "pgdata") in out
    with psycopg.connect(db.database_url()) as conn:
        parts = [r[0] for r in conn.execute("select part_id from dbt.dim_parts order by 1")]
        forecast = dict(conn.execute(
            "select part_id, count(*) from analytics.part_demand_forecast group by 1").fetchall())
        recommended = dict(conn.execute(
            "select part_id, count(*) from analytics.inventory_recommendations group by 1"
        ).fetchall())
        exceptions = conn.execute(
            "select count(*) from analytics.inventory_exceptions").fetchone()[0]
        at_risk = conn.execute(
            "select count(*) from analytics.inventory_recommendations "
            "where stockout_probability > 1 - service_target + 1e-12").fetchone()[0]
    assert parts == ["P-1001", "P-1002", "P-1003", "P-1004", "P-1005"]
    assert forecast == {p: 28 for p in parts}
    # Every part has a row per stock location of the demo's weekly counts, and the exceptions
    # are exactly the rows whose stockout risk over the lead time exceeds what the target allows.
    assert set(recommended) == set(parts) and min(recommended.values()) >= 1
    assert exceptions == at_risk


def test_a_half_bad_file_loads_its_good_rows_and_stops_the_run(fresh_database, monkeypatch,
                                                               tmp_path, capsys):
    landing = open_landing(str(tmp_path / "landing"))
    landing.write_bytes("errors/dt=2025-01-01/ok.csv",
                        b"machine_id,error_at,error_code\nm1,2025-01-01 10:00:00,E1\n")
    landing.write_bytes("part_usage/dt=2025-01-01/erp.csv",
                        b"part_id,quantity,used_at\nP1,1,2025-01-01\nP1,-3,2025-01-01\n")
    monkeypatch.setenv("SPARECAST_DATABASE_URL", fresh_database)
    monkeypatch.setenv("SPARECAST_HOME", str(tmp_path))

    assert cli.main(["run", "--landing", str(tmp_path / "landing")]) == 1

    captured = capsys.readouterr()
    assert ("raw/part_usage check rejected_share failed: "
            f"{tmp_path / 'landing'}/part_usage/dt=2025-01-01/erp.csv: 1 of 2 rows rejected "
            "(50%, allowed 5%); reasons in raw.rejected_rows (source = 'part_usage')"
            ) in captured.err
    assert "rejected  part_usage: 1 row broke the contract" in captured.out
    with psycopg.connect(fresh_database) as conn:
        # The good row loaded, the bad one waits in quarantine with its reason, and nothing
        # downstream ran on the half-good day.
        assert conn.execute("select part_id, quantity from raw.part_usage").fetchall() == [
            ("P1", 1.0)]
        assert conn.execute("select line_number, reason from raw.rejected_rows").fetchall() == [
            (3, "quantity: '-3' is out of range (allowed: > 0 and <= 1,000,000)")]
        assert conn.execute("select to_regclass('dbt.stg_part_usage')").fetchone()[0] is None
