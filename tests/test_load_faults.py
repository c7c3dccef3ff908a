"""Faults during a load: the connection dies mid-COPY, and secrets must never reach logs."""

from __future__ import annotations

import threading
from datetime import date

import psycopg
import pytest

from sparecast_assets.ingest.load import load_window
from sparecast_assets.landing.storage import LocalLanding

HEADER = "part_usage/dt=2025-01-01/"
DAY, NEXT = date(2025, 1, 1), date(2025, 1, 2)


def _state(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        return (conn.execute("select count(*), sum(quantity) from raw.part_usage").fetchone(),
                conn.execute("select regexp_replace(uri, '.*/', ''), rows from raw.landed_files "
                             "order by 1").fetchall(),
                conn.execute("select count(*) from raw.rejected_rows").fetchone()[0])


class Stall:
    """Wraps the loader's contract check: on its third batch (two batches already sent into
    the open COPY) it tells the test, and waits until the test lets it go on."""

    def __init__(self, conform):
        self.conform, self.calls = conform, 0
        self.copy_open, self.go_on = threading.Event(), threading.Event()

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 3:
            self.copy_open.set()
            self.go_on.wait(30)
        return self.conform(*args, **kwargs)


def test_a_connection_killed_mid_copy_leaves_the_day_as_it_was_and_a_retry_loads_once(
        fresh_database, tmp_path, monkeypatch):
    import sparecast_assets.ingest.load as load_module
    import sparecast_assets.landing.formats as formats

    landing = LocalLanding(tmp_path)
    landing.write_bytes(HEADER + "a.csv", b"part_id,quantity,used_at\nP1,1,2025-01-01\n")
    with psycopg.connect(fresh_database) as conn:
        load_window(conn, landing, "part_usage", DAY, NEXT)
    before = _state(fresh_database)
    assert before == ((1, 1.0), [("a.csv", 1)], 0)

    # New content for the day: 50,000 rows in a.csv (one rejected), 1 in b.csv, read in
    # batches of about 64 KB so the COPY is open across several of them.
    rows = "".join(f"P{i % 97},2,2025-01-01 {i % 24:02d}:00\n" for i in range(50_000))
    landing.write_bytes(HEADER + "a.csv", ("part_id,quantity,used_at\n" + rows
                                           + "P1,-1,2025-01-01\n").encode())
    landing.write_bytes(HEADER + "b.csv", b"part_id,quantity,used_at\nP2,5,2025-01-01\n")
    monkeypatch.setattr(formats, "CSV_BLOCK_BYTES", 64 << 10)
    stall = Stall(load_module.conform)
    monkeypatch.setattr(load_module, "conform", stall)

    failure: list[BaseException] = []

    def loader():
        try:
            with psycopg.connect(fresh_database, application_name="sparecast-fault") as conn:
                load_window(conn, landing, "part_usage", DAY, NEXT)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failure.append(exc)

    thread = threading.Thread(target=loader)
    thread.start()
    assert stall.copy_open.wait(30)
    with psycopg.connect(fresh_database, autocommit=True) as admin:
        copying = admin.execute(
            "select pid, query from pg_stat_activity where application_name = 'sparecast-fault'"
        ).fetchall()
        assert [q.split(" (")[0] for _, q in copying] == ['copy "raw"."part_usage"']
        assert admin.execute("select pg_terminate_backend(%s)", (copying[0][0],)).fetchone()[0]
    stall.go_on.set()
    thread.join(60)

    assert len(failure) == 1 and isinstance(failure[0], psycopg.OperationalError)
    assert _state(fresh_database) == before  # not a row of the half-done load is visible

    monkeypatch.setattr(load_module, "conform", stall.conform)
    with psycopg.connect(fresh_database) as conn:  # the retry
        loads = load_window(conn, landing, "part_usage", DAY, NEXT)
    assert [(f.rows, f.rejected) for f in loads] == [(50_000, 1), (1, 0)]
    assert _state(fresh_database) == ((50_001, 100_005.0), [("a.csv", 50_000), ("b.csv", 1)], 1)


@pytest.mark.usefixtures("s3_endpoint")
def test_credentials_never_reach_logs_or_metadata(fresh_database, s3_endpoint, tmp_path,
                                                  monkeypatch):
    import dagster as dg

    from sparecast_assets.definitions import defs
    from sparecast_assets.defs.resources import LandingZone, PostgresResource

    _, client = s3_endpoint
    secret = "s3cr3t-Passw0rd"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-Secret-Key-42")
    client.create_bucket(Bucket="landing")
    client.put_object(Bucket="landing", Key="part_usage/dt=2025-01-01/a.csv",
                      Body=b"part_id,quantity,used_at\nP1,1,2025-01-01\nP1,x,2025-01-01\n")
    # Trust authentication ignores the password, so the run works and the URL still holds it.
    url = fresh_database.replace("postgres@", f"postgres:{secret}@")
    instance = dg.DagsterInstance.ephemeral()
    code = defs()
    result = dg.materialize(
        [code.get_assets_def(["raw", "part_usage"])], partition_key="2025-01-01",
        instance=instance, raise_on_error=False,
        resources={"landing": LandingZone(uri="s3://landing"),
                   "postgres": PostgresResource(database_url=url)})

    assert [e.event_type_value for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"] == ["ASSET_MATERIALIZATION"]
    records = instance.get_records_for_run(result.run_id).records
    text = "\n".join(str(r.event_log_entry) for r in records)
    text += str(instance.get_run_by_id(result.run_id).run_config)
    assert "1 rejected" in text  # the log holds the load's messages ...
    assert secret not in text and "aws-Secret-Key-42" not in text  # ... and no secret
