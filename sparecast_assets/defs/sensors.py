"""The landing sensor (files that land start their loads) and the retraining schedule.

Settings, read when the code location loads:
- ``SPARECAST_SENSOR_INTERVAL_SECONDS`` (default 60): time between ticks.
- ``SPARECAST_SENSOR_MAX_GAP_DAYS`` (default 31): new files of one source become one run over
  their days, split where days are further apart than this.
- ``SPARECAST_RETRAIN_CRON`` (default ``0 4 * * 1``, Mondays 04:00 UTC): when the model
  retrains. Between retrains, new data refreshes the features and the forecast only.
"""

import os
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg

from sparecast_assets.defs.resources import LandingZone, PostgresResource
from sparecast_assets.ingest.load import loaded_versions
from sparecast_assets.landing.storage import LocalLanding
from sparecast_assets.landing.watch import PlannedLoad, WatchCursor, plan_loads
from sparecast_assets.partitions import daily_partitions



def _setting(name: str, default: int, minimum: int) -> int:
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ValueError(f"{name}={text!r}: expected a whole number >= {minimum} "
                         f"(default {default})")
    return value


SENSOR_NAME = "landing_sensor"
INTERVAL_SECONDS = _setting("SPARECAST_SENSOR_INTERVAL_SECONDS", 60, 1)
MAX_GAP_DAYS = _setting("SPARECAST_SENSOR_MAX_GAP_DAYS", 31, 0)
RETRAIN_CRON = os.environ.get("SPARECAST_RETRAIN_CRON", "0 4 * * 1")

SOURCE_TAG = "sparecast/source"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
# Skipped keys named one by one in a tick's log; the rest are counted.
SKIPPED_LOGGED = 50

_UNFINISHED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
               dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def run_request(load: PlannedLoad) -> dg.RunRequest:
    tags = {SOURCE_TAG: load.source, "sparecast/files": str(len(load.files))}
    selection = [dg.AssetKey(["raw", load.source])]
    if load.first_day == load.last_day:
        return dg.RunRequest(run_key=load.run_key, asset_selection=selection, tags=tags,
                             partition_key=load.first_day.isoformat())
    tags.update({RANGE_START: load.first_day.isoformat(), RANGE_END: load.last_day.isoformat()})
    return dg.RunRequest(run_key=load.run_key, asset_selection=selection, tags=tags)


def _pending_check(instance: dg.DagsterInstance):
    """(source, day, last_modified) -> whether an unfinished run of this sensor, created after
    the file was modified, covers that day: the run lists the day's files when it starts, so it
    will load the file."""
    pending: list[tuple[str, date, date, datetime]] = []
    for record in instance.get_run_records(
            filters=dg.RunsFilter(tags={"dagster/sensor_name": SENSOR_NAME}, statuses=_UNFINISHED)):
        tags = record.dagster_run.tags
        first = tags.get(RANGE_START) or tags.get("dagster/partition")
        last = tags.get(RANGE_END) or first
        if SOURCE_TAG in tags and first:
            pending.append((tags[SOURCE_TAG], date.fromisoformat(first), date.fromisoformat(last),
                            record.create_timestamp.astimezone(timezone.utc)))

    def check(source: str, day: date, modified: datetime) -> bool:
        return any(s == source and a <= day <= b and modified <= created
                   for s, a, b, created in pending)

    return check


@dg.sensor(
    name=SENSOR_NAME,
    target=dg.AssetSelection.groups("raw"),
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Lists the landing zone (S3 or the local folder) and requests raw loads for exactly the "
        "days whose files arrived or changed: one run per source over the range of new days. "
        "Keys outside the landing contract are named in the tick's log and skipped."),
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone,
                   postgres: PostgresResource) -> dg.SensorResult:
    cursor = WatchCursor.loads(context.cursor)
    zone = landing.open()
    if isinstance(zone, LocalLanding) and not Path(zone.uri).is_dir():
        return dg.SensorResult(skip_reason=(
            f"the landing folder {zone.uri} does not exist (SPARECAST_LANDING): create it, or "
            "point SPARECAST_LANDING at your landing zone"), cursor=context.cursor)
    # The first and last partition, not all ~5,000 keys built on every tick.
    days = (date.fromisoformat(daily_partitions.get_first_partition_key()),
            date.fromisoformat(daily_partitions.get_last_partition_key()))
    with postgres.connect() as conn:
        result = plan_loads(
            zone, cursor, ledger=lambda prefix: loaded_versions(conn, prefix),
            pending=_pending_check(context.instance), max_gap_days=MAX_GAP_DAYS,
            days=days)

    for key, reason in result.skipped[:SKIPPED_LOGGED]:
        context.log.warning(f"skipped {key}: {reason}")
    if len(result.skipped) > SKIPPED_LOGGED:
        context.log.warning(f"skipped {len(result.skipped) - SKIPPED_LOGGED} more keys outside "
                            "the landing contract (docs/landing-contract.md)")
    if result.gone:
        context.log.warning(
            f"{len(result.gone):,} loaded file(s) are no longer in the landing zone, e.g. "
            f"{result.gone[0]}; their rows stay in raw until their day is loaded again "
            "(a backfill of that day)")
    context.log.info(
        f"{zone.uri}: {result.listed:,} objects listed, {result.files:,} contract files, "
        f"{result.already_loaded:,} already loaded, {result.left_to_pending:,} left to queued "
        f"or running loads, {result.held:,} waiting for their day, "
        f"{sum(result.counts.values()):,} new or changed, {len(result.skipped):,} newly "
        "skipped")
    for load in result.loads:
        context.log.info(f"requesting raw.{load.source} for {load.first_day}..{load.last_day} "
                         f"({len(load.files)} file(s))")
    requests = [run_request(load) for load in result.loads]
    return dg.SensorResult(
        run_requests=requests, cursor=result.cursor.dumps(),
        skip_reason=None if requests else
        f"no new or changed files among {result.listed:,} objects"
        + (f" ({len(result.skipped):,} keys outside the landing contract skipped: see the "
           "tick's log)" if result.skipped else ""))


retrain_schedule = dg.ScheduleDefinition(
    name="retrain_part_demand_model",
    cron_schedule=RETRAIN_CRON,
    execution_timezone="UTC",
    target=dg.AssetSelection.assets("part_demand_model"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=("Retrains the demand model (SPARECAST_RETRAIN_CRON, UTC); the forecast "
                 "follows through its automation condition."),
)
