"""The whole loop, in-process, as the daemon drives it: files uploaded to S3 (moto's server over
HTTP) -> landing sensor tick -> load runs -> rows in Postgres -> the automation sensor's
conditions request the dbt models, the features, the model and the forecast."""

from datetime import date

import dagster as dg
import psycopg
import pytest

from sparecast_assets.landing.storage import S3Landing
from sparecast_assets.sources.synthetic import FleetSize, generate_fleet
from sparecast_assets.sources.writer import write_landing
from tests.runs import launch, launch_requested, requested, summary, tick

pytestmark = pytest.mark.e2e

LANDING = "s3://landing/plant"
FLEET = FleetSize(machines=6, parts=4, days=120, start=date(2025, 1, 1), readings_per_day=2)


def test_uploaded_files_flow_through_sensor_loads_and_automation_to_the_forecast(
        s3_endpoint, fresh_database, monkeypatch, tmp_path):
    _, client = s3_endpoint
    client.create_bucket(Bucket="landing")
    sources = generate_fleet(FLEET)
    write_landing(sources, S3Landing(LANDING), "plant")
    monkeypatch.setenv("SPARECAST_LANDING", LANDING)
    monkeypatch.setenv("SPARECAST_DATABASE_URL", fresh_database)
    from sparecast_assets.definitions import defs

    code = defs()
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        # The automation sensor ticks from the start; before any load it has nothing to do.
        first = dg.evaluate_automation_conditions(defs=code, instance=instance)
        assert requested(code, first) == {}
        cursor = first.cursor

        ticked = tick(instance, LANDING, fresh_database)
        assert sorted(summary(r) for r in ticked.run_requests) == [
            ("raw/errors", "2025-01-01", "2025-04-29"),
            ("raw/failures", "2025-01-09", "2025-03-28"),  # 7 days, none 31 days apart
            ("raw/inventory", "2025-01-01", "2025-04-30"),
            ("raw/machines", "2025-01-01", "2025-01-01"),
            ("raw/part_usage", "2025-01-02", "2025-04-30"),
            ("raw/parts", "2025-01-01", "2025-01-01"),
            ("raw/telemetry", "2025-01-01", "2025-04-30"),
        ]
        for request in ticked.run_requests:
            assert launch(code, instance, request, {"dagster/sensor_name": "landing_sensor"}).success

        with psycopg.connect(fresh_database) as conn:
            assert conn.execute("select count(*) from raw.part_usage").fetchone()[0] == len(
                sources["part_usage"])

        launched = []
        for _ in range(6):
            evaluation = dg.evaluate_automation_conditions(defs=code, instance=instance,
                                                           cursor=cursor)
            cursor = evaluation.cursor
            wanted = requested(code, evaluation)
            if not wanted:
                break
            launched.append({k: (p[0], p[-1], len(p)) if p else () for k, p in wanted.items()})
            assert launch_requested(code, instance, wanted).success

        with psycopg.connect(fresh_database) as conn:
            demand = conn.execute(
                "select count(*), sum(demand_quantity) from dbt.fct_part_demand_daily").fetchone()
            forecast = conn.execute(
                "select count(distinct part_id), count(*) from analytics.part_demand_forecast"
            ).fetchone()
        # every part on every day of the 120, and every unit used
        assert demand == (4 * 120, sources["part_usage"]["quantity"].sum())
        assert forecast == (4, 4 * 28)
        # Tick 1: the dbt models for exactly the days each raw load wrote; tick 2: features, the
        # model's first training, the forecast, the stocking decisions and the BI views; tick 3:
        # nothing left to do.
        assert len(launched) == 2
        assert len(launched[0]) == 17
        assert {k: launched[0][k] for k in ("stg_machines", "stg_failures", "stg_part_usage",
                                            "fct_part_demand_daily")} == {
            "stg_machines": ("2025-01-01", "2025-01-01", 1),
            "stg_failures": ("2025-01-09", "2025-03-28", 79),
            "stg_part_usage": ("2025-01-02", "2025-04-30", 119),
            "fct_part_demand_daily": ("2025-01-01", "2025-04-30", 120),
        }
        assert launched[1] == {"part_demand_features": (), "part_demand_model": (),
                               "part_demand_forecast": (), "inventory_recommendations": (),
                               "analytics_views": ()}

        # A file of nothing but bad rows lands for a loaded day: its rows go to quarantine,
        # the load's blocking rejected_share check fails, and automation refreshes nothing
        # downstream of it.
        key = next(k["Key"] for k in client.list_objects_v2(
            Bucket="landing", Prefix="plant/part_usage/")["Contents"])
        client.put_object(Bucket="landing", Key=key.replace(".csv", "-garbled.csv"),
                          Body=b"part_id,quantity,used_at\nP-1001,lots,2025-01-02\n")
        resent = tick(instance, LANDING, fresh_database, cursor=ticked.cursor)
        assert len(resent.run_requests) == 1
        load = launch(code, instance, resent.run_requests[0], raise_on_error=False)
        assert not load.success
        held = dg.evaluate_automation_conditions(defs=code, instance=instance, cursor=cursor)
        assert requested(code, held) == {}
