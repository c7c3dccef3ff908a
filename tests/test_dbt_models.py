"""dbt models on a real Postgres: incremental windows rebuild exactly what they must."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg

from sparecast_assets.db import dbt_environment
from sparecast_assets.ingest.load import load_window
from sparecast_assets.landing.contract import SOURCES
from sparecast_assets.landing.storage import LocalLanding
from tests.conftest import REPO

DBT_PROJECT = REPO / "dbt_project"
USAGE = "part_id,quantity,used_at,machine_id,reason\n"


def load_and_build(url: str, landing: LocalLanding, start: date, end: date, target: Path) -> None:
    with psycopg.connect(url) as conn:
        for source in SOURCES:
            load_window(conn, landing, source, start, end)
    env = {**os.environ, **dbt_environment(url), "DBT_USE_COLORS": "false"}
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run(
        [str(dbt), "build", "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
         "--target-path", str(target), "--vars",
         json.dumps({"start_date": start.isoformat(), "end_date": end.isoformat()})],
        env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def demand(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select part_id, demand_date::text, demand_quantity::float "
            "from dbt.fct_part_demand_daily order by 1, 2").fetchall()


def test_a_late_file_corrects_earlier_days_and_a_new_part_gets_its_whole_history(
        fresh_database, tmp_path):
    landing = LocalLanding(tmp_path / "landing")
    landing.write_bytes("part_usage/dt=2025-01-01/a.csv", (USAGE + "P1,2,2025-01-01,m1,\n").encode())
    landing.write_bytes("part_usage/dt=2025-01-03/a.csv", (USAGE + "P1,1,2025-01-03,m1,\n").encode())
    load_and_build(fresh_database, landing, date(2025, 1, 1), date(2025, 1, 4), tmp_path / "t1")
    assert demand(fresh_database) == [
        ("P1", "2025-01-01", 2.0), ("P1", "2025-01-02", 0.0), ("P1", "2025-01-03", 1.0)]

    # Landed on the 4th: a replacement done on the 2nd, and a part never seen before.
    landing.write_bytes("part_usage/dt=2025-01-04/late.csv",
                        (USAGE + "P1,5,2025-01-02,m1,\nP2,1,2025-01-04,m2,\n").encode())
    load_and_build(fresh_database, landing, date(2025, 1, 4), date(2025, 1, 5), tmp_path / "t2")

    assert demand(fresh_database) == [
        ("P1", "2025-01-01", 2.0), ("P1", "2025-01-02", 5.0), ("P1", "2025-01-03", 1.0),
        ("P1", "2025-01-04", 0.0),
        ("P2", "2025-01-01", 0.0), ("P2", "2025-01-02", 0.0), ("P2", "2025-01-03", 0.0),
        ("P2", "2025-01-04", 1.0)]


def test_rebuilding_a_window_twice_changes_nothing(fresh_database, tmp_path):
    landing = LocalLanding(tmp_path / "landing")
    landing.write_bytes("part_usage/dt=2025-01-01/a.csv", (USAGE + "P1,2,2025-01-01,m1,\n").encode())
    landing.write_bytes("errors/dt=2025-01-02/a.csv",
                        b"machine_id,error_at,error_code\nm1,2025-01-02 10:00:00,E1\n")
    load_and_build(fresh_database, landing, date(2025, 1, 1), date(2025, 1, 3), tmp_path / "t1")
    first = demand(fresh_database)

    load_and_build(fresh_database, landing, date(2025, 1, 2), date(2025, 1, 3), tmp_path / "t2")

    assert demand(fresh_database) == first == [("P1", "2025-01-01", 2.0), ("P1", "2025-01-02", 0.0)]
