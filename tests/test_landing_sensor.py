"""The landing sensor against moto's S3 server over HTTP (and a local folder through the same
code): which files start which runs, and which never do."""

import os
import time
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from sparecast_assets.defs.raw import raw_assets
from sparecast_assets.defs.resources import LandingZone, PostgresResource
from sparecast_assets.defs.sensors import SENSOR_NAME, _pending_check
from sparecast_assets.ingest.load import loaded_versions
from sparecast_assets.landing.storage import LocalLanding, S3Landing
from sparecast_assets.landing.watch import WatchCursor, plan_loads
from tests.runs import launch, summary, tick

ERRORS_CSV = b"machine_id,error_at,error_code\nM1,2025-03-01T10:00:00Z,E1\n"
LANDING = "s3://landing/plant"


@pytest.fixture
def bucket(s3_endpoint):
    _, client = s3_endpoint
    client.create_bucket(Bucket="landing")

    def put(key: str, body: bytes = ERRORS_CSV) -> None:
        client.put_object(Bucket="landing", Key=f"plant/{key}", Body=body)

    return put


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def loads_defs(database_url: str, landing_uri: str = LANDING) -> dg.Definitions:
    return dg.Definitions(assets=raw_assets, resources={
        "landing": LandingZone(uri=landing_uri),
        "postgres": PostgresResource(database_url=database_url)})


def test_files_that_arrive_become_one_load_per_source_over_their_days(
        bucket, instance, fresh_database):
    for day in ("2025-03-01", "2025-03-02", "2025-03-03"):
        bucket(f"errors/dt={day}/scada.csv")
    bucket("part_usage/dt=2025-03-02/erp.csv", b"part_id,quantity,used_at\nP1,2,2025-03-02T08:00:00Z\n")
    bucket("machines/dt=2025-03-01/fleet.csv", b"machine_id\nM1\n")

    result = tick(instance, LANDING, fresh_database)

    assert [summary(r) for r in result.run_requests] == [
        ("raw/errors", "2025-03-01", "2025-03-03"),
        ("raw/machines", "2025-03-01", "2025-03-01"),
        ("raw/part_usage", "2025-03-02", "2025-03-02"),
    ]
    assert [r.tags["sparecast/files"] for r in result.run_requests] == ["3", "1", "1"]


def test_1500_keys_under_one_prefix_are_all_seen_and_the_cursor_stays_small(
        bucket, instance, fresh_database):
    for i in range(1500):
        bucket(f"errors/dt=2025-03-01/part-{i:04d}.csv")

    first = tick(instance, LANDING, fresh_database)
    again = tick(instance, LANDING, fresh_database, cursor=first.cursor)

    assert [(summary(r), r.tags["sparecast/files"]) for r in first.run_requests] == [
        (("raw/errors", "2025-03-01", "2025-03-01"), "1500")]
    assert len(first.cursor.encode()) < 1024
    assert len(again.cursor.encode()) < 1024
    # Not loaded yet and seen again: the same run key, which Dagster never launches twice.
    assert [r.run_key for r in again.run_requests] == [first.run_requests[0].run_key]


def test_an_unchanged_file_never_runs_twice_and_a_changed_one_runs_again(
        bucket, instance, fresh_database):
    bucket("errors/dt=2025-03-01/scada.csv")
    defs = loads_defs(fresh_database)

    first = tick(instance, LANDING, fresh_database)
    assert launch(defs, instance, first.run_requests[0]).success

    # Loaded: ticks see it in the ledger, also when the same bytes are uploaded again.
    quiet = tick(instance, LANDING, fresh_database, cursor=first.cursor)
    bucket("errors/dt=2025-03-01/scada.csv")
    still_quiet = tick(instance, LANDING, fresh_database, cursor=quiet.cursor)
    assert (quiet.run_requests, still_quiet.run_requests) == ([], [])
    assert still_quiet.skip_message == "no new or changed files among 1 objects"

    bucket("errors/dt=2025-03-01/scada.csv", ERRORS_CSV + b"M2,2025-03-01T11:00:00Z,E4\n")
    changed = tick(instance, LANDING, fresh_database, cursor=still_quiet.cursor)
    assert [summary(r) for r in changed.run_requests] == [("raw/errors", "2025-03-01", "2025-03-01")]
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key

    assert launch(defs, instance, changed.run_requests[0]).success
    after = tick(instance, LANDING, fresh_database, cursor=changed.cursor)
    assert after.run_requests == []
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("select machine_id, error_code from raw.errors order by 1").fetchall() \
            == [("M1", "E1"), ("M2", "E4")]


def test_keys_outside_the_contract_are_reported_and_skipped_and_the_rest_still_load(
        bucket, instance, fresh_database, capsys):
    bucket("errors/readme.txt")
    bucket("spares/dt=2025-03-01/a.csv")
    bucket("errors/dt=2025-13-01/a.csv")
    bucket("errors/dt=2025-03-01/a.xlsx")
    bucket("errors/dt=2025-03-02/good.csv")

    with psycopg.connect(fresh_database) as conn:
        plan = plan_loads(S3Landing(LANDING), WatchCursor(),
                          ledger=lambda prefix: loaded_versions(conn, prefix))
    result = tick(instance, LANDING, fresh_database)
    again = tick(instance, LANDING, fresh_database, cursor=result.cursor)

    assert plan.skipped == [
        ("errors/dt=2025-03-01/a.xlsx", "'errors/dt=2025-03-01/a.xlsx' does not match "
         "<source>/dt=YYYY-MM-DD/<name>.<csv.gz|csv|parquet|jsonl.gz|jsonl>"),
        ("errors/dt=2025-13-01/a.csv", "'errors/dt=2025-13-01/a.csv': dt=2025-13-01 is not a date"),
        ("errors/readme.txt", "'errors/readme.txt' does not match "
         "<source>/dt=YYYY-MM-DD/<name>.<csv.gz|csv|parquet|jsonl.gz|jsonl>"),
        ("spares/dt=2025-03-01/a.csv", "'spares/dt=2025-03-01/a.csv': unknown source 'spares' "
         "(known: errors, failures, inventory, machines, part_usage, parts, telemetry)"),
    ]
    assert [summary(r) for r in result.run_requests] == [("raw/errors", "2025-03-02", "2025-03-02")]
    logged = [line.split(" - WARNING - ", 1)[1] for line in capsys.readouterr().err.splitlines()
              if " - WARNING - skipped " in line]
    assert logged == [f"skipped {key}: {reason}" for key, reason in plan.skipped]
    assert result.skip_message is None
    # Reported once: the next tick does not name them again (and asks for the unloaded good
    # file under the same run key, which Dagster does not launch twice).
    assert [r.run_key for r in again.run_requests] == [result.run_requests[0].run_key]
    assert "skipped errors" not in capsys.readouterr().err


def test_days_far_apart_are_separate_loads_and_a_queued_load_keeps_its_files(
        bucket, instance, fresh_database):
    for day in ("2025-01-01", "2025-01-20", "2025-03-15"):
        bucket(f"errors/dt={day}/scada.csv")

    first = tick(instance, LANDING, fresh_database)
    assert [summary(r) for r in first.run_requests] == [
        ("raw/errors", "2025-01-01", "2025-01-20"),  # 19 days apart: one run
        ("raw/errors", "2025-03-15", "2025-03-15"),  # 54 days further: its own run
    ]

    # The first run is launched, not yet started; a new file for another day arrives.
    job = loads_defs(fresh_database).resolve_implicit_global_asset_job_def()
    instance.create_run_for_job(job, status=dg.DagsterRunStatus.NOT_STARTED, tags={
        **first.run_requests[0].tags, "dagster/sensor_name": SENSOR_NAME})
    time.sleep(0.01)
    bucket("errors/dt=2025-01-25/scada.csv")
    second = tick(instance, LANDING, fresh_database, cursor=first.cursor)

    # 01-01 and 01-20 are left to the queued run; 01-25 is new; 03-15 is not loaded yet and
    # asked for again under the same run key, which Dagster does not launch twice.
    assert [summary(r) for r in second.run_requests] == [
        ("raw/errors", "2025-01-25", "2025-01-25"), ("raw/errors", "2025-03-15", "2025-03-15")]
    assert second.run_requests[1].run_key == first.run_requests[1].run_key
    pending = _pending_check(instance)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert pending("errors", date(2025, 1, 20), an_hour_ago) is True
    assert pending("errors", date(2025, 1, 21), an_hour_ago) is False  # outside its days
    assert pending("failures", date(2025, 1, 20), an_hour_ago) is False  # another source
    # Modified after the run was created: the run may have listed the day before it arrived.
    assert pending("errors", date(2025, 1, 20), datetime.now(UTC)) is False


def test_files_with_old_timestamps_and_a_version_put_back_are_loaded_from_a_local_folder(
        tmp_path, instance, fresh_database):
    landing = LocalLanding(tmp_path)
    landing.write_bytes("errors/dt=2025-03-01/a.csv", ERRORS_CSV)
    defs = loads_defs(fresh_database, str(tmp_path))
    first = tick(instance, str(tmp_path), fresh_database)
    assert launch(defs, instance, first.run_requests[0]).success

    # Copied in with its timestamp kept (cp -p, rsync -a): a day older than anything seen.
    landing.write_bytes("errors/dt=2025-03-02/copied.csv",
                        ERRORS_CSV.replace(b"2025-03-01T10", b"2025-03-02T10"))
    a_day_ago = time.time() - 86400
    os.utime(tmp_path / "errors/dt=2025-03-02/copied.csv", (a_day_ago, a_day_ago))
    second = tick(instance, str(tmp_path), fresh_database, cursor=first.cursor)
    assert [summary(r) for r in second.run_requests] == [("raw/errors", "2025-03-02", "2025-03-02")]
    assert launch(defs, instance, second.run_requests[0]).success

    # A -> B -> A: the first version put back (same size and time as the original: the
    # same version key as the first load) is loaded again, under a new run key.
    original = (tmp_path / "errors/dt=2025-03-01/a.csv").stat()
    landing.write_bytes("errors/dt=2025-03-01/a.csv", ERRORS_CSV.replace(b"E1", b"E9"))
    b = tick(instance, str(tmp_path), fresh_database, cursor=second.cursor)
    assert launch(defs, instance, b.run_requests[0]).success
    landing.write_bytes("errors/dt=2025-03-01/a.csv", ERRORS_CSV)
    os.utime(tmp_path / "errors/dt=2025-03-01/a.csv", ns=(original.st_atime_ns,
                                                          original.st_mtime_ns))
    back = tick(instance, str(tmp_path), fresh_database, cursor=b.cursor)

    assert [summary(r) for r in back.run_requests] == [("raw/errors", "2025-03-01", "2025-03-01")]
    assert back.run_requests[0].run_key != first.run_requests[0].run_key
    assert launch(defs, instance, back.run_requests[0]).success
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("select error_code from raw.errors where _partition_date = "
                            "'2025-03-01'").fetchall() == [("E1",)]


def test_a_failed_load_is_not_forgotten_when_other_files_arrive(tmp_path, instance,
                                                               fresh_database):
    landing = LocalLanding(tmp_path)
    for day in ("2025-03-04", "2025-03-06"):
        landing.write_bytes(f"errors/dt={day}/a.csv", ERRORS_CSV)
    landing.write_bytes("errors/dt=2025-03-05/a.csv", b"")  # a failed upload: refused
    defs = loads_defs(fresh_database, str(tmp_path))
    first = tick(instance, str(tmp_path), fresh_database)
    assert not launch(defs, instance, first.run_requests[0], raise_on_error=False).success

    # Until something changes, the same plan and the same run key: not run again and again.
    same = tick(instance, str(tmp_path), fresh_database, cursor=first.cursor)
    assert [r.run_key for r in same.run_requests] == [first.run_requests[0].run_key]
    # The broken file is fixed: all three days load, not only the fixed one.
    landing.write_bytes("errors/dt=2025-03-05/a.csv", ERRORS_CSV)
    fixed = tick(instance, str(tmp_path), fresh_database, cursor=same.cursor)

    assert [(summary(r), r.tags["sparecast/files"]) for r in fixed.run_requests] == [
        (("raw/errors", "2025-03-04", "2025-03-06"), "3")]


def test_a_missing_landing_folder_and_a_future_cursor_are_handled(tmp_path, instance,
                                                                  fresh_database):
    missing = tick(instance, str(tmp_path / "nope"), fresh_database)
    assert missing.run_requests == []
    assert missing.skip_message == (
        f"the landing folder {tmp_path / 'nope'} does not exist (SPARECAST_LANDING): create "
        "it, or point SPARECAST_LANDING at your landing zone")

    LocalLanding(tmp_path).write_bytes("errors/dt=2025-03-01/a.csv", ERRORS_CSV)
    future = WatchCursor(datetime(2099, 1, 1, tzinfo=UTC)).dumps()
    result = tick(instance, str(tmp_path), fresh_database, cursor=future)
    assert [summary(r) for r in result.run_requests] == [("raw/errors", "2025-03-01", "2025-03-01")]
    assert WatchCursor.loads(result.cursor).high_water <= datetime.now(UTC)


def test_a_cursor_from_something_else_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match="reset the sensor's cursor"):
        WatchCursor.loads('{"last_key": "errors/dt=2025-03-01/a.csv"}')


def test_days_outside_the_partitions_are_reported_and_the_next_days_held_until_they_begin(
        tmp_path):
    landing = LocalLanding(tmp_path)
    for day in ("2024-12-31", "2025-03-10", "2025-03-11", "2025-06-01"):
        landing.write_bytes(f"errors/dt={day}/a.csv", ERRORS_CSV)
    plan = lambda cursor, last: plan_loads(  # noqa: E731
        landing, cursor, ledger=lambda prefix: {}, days=(date(2025, 1, 1), last))

    today = plan(WatchCursor(), date(2025, 3, 10))
    tomorrow = plan(today.cursor, date(2025, 3, 11))

    assert today.skipped == [
        ("errors/dt=2024-12-31/a.csv", "dt=2024-12-31 is before the first daily partition "
         "(2025-01-01): set SPARECAST_PARTITIONS_START earlier, then backfill that range"),
        ("errors/dt=2025-06-01/a.csv", "dt=2025-06-01 is in the future (the last daily partition "
         "is 2025-03-10, UTC): fix the key; it loads by itself once its day is at most two "
         "days ahead"),
    ]
    assert [(p.first_day, p.last_day) for p in today.loads] == [(date(2025, 3, 10),) * 2]
    assert today.held == 1
    # 03-11 was held, not skipped, and is planned once its day is a partition; nothing is
    # reported twice.
    assert [(p.first_day, p.last_day) for p in tomorrow.loads] == [
        (date(2025, 3, 10), date(2025, 3, 11))]
    assert tomorrow.skipped == []


def test_a_file_for_a_day_far_in_the_future_does_not_stop_the_sensor(
        bucket, instance, fresh_database):
    bucket("errors/dt=2099-01-01/typo.csv")
    bucket("errors/dt=1990-01-01/typo.csv")
    bucket("errors/dt=2025-03-01/good.csv")

    result = tick(instance, LANDING, fresh_database)

    assert [summary(r) for r in result.run_requests] == [("raw/errors", "2025-03-01", "2025-03-01")]
