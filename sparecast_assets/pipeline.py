"""Run every asset for a range of days in one in-process Dagster run, and summarise it."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date

import psycopg

from sparecast_assets import db
from sparecast_assets.landing.storage import LandingScan, open_landing, scan



@dataclass
class RunSummary:
    landing: str
    database: str
    start: date
    end: date
    run_id: str = ""
    seconds: float = 0.0
    rows_per_source: dict[str, int] = field(default_factory=dict)
    files_per_source: dict[str, int] = field(default_factory=dict)
    rejected_per_source: dict[str, int] = field(default_factory=dict)
    # "asset check: why" of every blocking check that failed
    failed_checks: list[str] = field(default_factory=list)
    backtest: dict[str, dict[str, float]] = field(default_factory=dict)
    model_version: str = ""
    forecast_rows: int = 0
    forecast_parts: int = 0
    as_of_date: str = ""
    horizon_days: int = 0
    # (part_id, expected units over the horizon), largest first
    forecast_preview: list[tuple[str, float]] = field(default_factory=list)
    inventory_rows: int = 0
    inventory_to_order: int = 0
    inventory_exceptions: int = 0
    skipped_keys: list[tuple[str, str]] = field(default_factory=list)


class PipelineError(RuntimeError):
    pass


def scan_landing(landing_uri: str) -> LandingScan:
    try:
        landing = open_landing(landing_uri)
    except ValueError as exc:
        raise PipelineError(str(exc)) from exc
    if not landing_uri.startswith("s3://") and not os.path.isdir(landing_uri):
        raise PipelineError(f"landing folder {landing_uri} does not exist")
    result = scan(landing)
    if not result.files:
        raise PipelineError(
            f"no landed files in {landing_uri}: expected <source>/dt=YYYY-MM-DD/<name>.csv and "
            "friends (see docs/landing-contract.md)")
    return result


def run_pipeline(landing_uri: str, start: date | None = None, end: date | None = None,
                 echo=print) -> RunSummary:
    """Materialize raw loads, dbt models, features, model and forecast for days [start, end]
    (inclusive; default: every day that has landed files) in a single run."""
    landed = scan_landing(landing_uri)
    days = landed.partition_dates()
    skipped = landed.skipped
    start, end = start or days[0], end or days[-1]
    if end < start:
        raise PipelineError(f"--end {end} is before --start {start}")

    url = db.database_url()
    try:
        with db.connect(url, connect_timeout=10) as conn:
            db.ensure_schemas(conn)
    except psycopg.OperationalError as exc:
        raise PipelineError(
            f"cannot use the database {db.describe(url)}: {str(exc).strip()}\n"
            "Check SPARECAST_DATABASE_URL; the database itself must exist "
            "(createdb or `create database ...`), or unset the variable to use the embedded "
            "Postgres.") from exc
    echo(f"landing   {landing_uri}")
    echo(f"database  {db.describe(url)}")
    echo(f"days      {start} .. {end} ({(end - start).days + 1} daily partitions, one run)")
    for key, reason in skipped:
        echo(f"skipped   {reason}")
    if not any(start <= d <= end for d in days):
        echo(f"warning   no landed files between {start} and {end}: the run loads nothing new "
             "and retrains on what the database already holds")
    echo("loading   the asset definitions (Dagster, dbt, LightGBM)...")

    import dagster as dg

    from sparecast_assets.definitions import defs
    from sparecast_assets.defs.resources import LandingZone, PostgresResource
    from sparecast_assets.partitions import daily_partitions

    keys = daily_partitions.get_partition_keys()
    outside = [d for d in (start, end) if d.isoformat() not in keys]
    if outside:
        raise PipelineError(
            f"day(s) {', '.join(map(str, outside))} are outside the daily partitions "
            f"{keys[0]}..{keys[-1]}. Set SPARECAST_PARTITIONS_START for older data; days after "
            "today (UTC) cannot run yet. Check for a stray dt= folder, or pass --start/--end.")

    summary = RunSummary(landing_uri, db.describe(url), start, end, skipped_keys=skipped)
    started = time.monotonic()
    code_location = defs()
    job_defs = dg.Definitions(
        assets=code_location.assets,
        asset_checks=code_location.asset_checks,
        jobs=[dg.define_asset_job("sparecast_run", selection=dg.AssetSelection.all())],
        loggers={"progress": _progress_logger(echo, started)},
        resources={
            **(code_location.resources or {}),
            "landing": LandingZone(uri=landing_uri),
            "postgres": PostgresResource(database_url=url),
        },
    )
    # A persistent instance when the user keeps one (DAGSTER_HOME); otherwise an in-memory one,
    # since the run history of a one-off command is not worth a SQLite file per checkout.
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    with instance:
        result = job_defs.resolve_job_def("sparecast_run").execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
            },
            raise_on_error=False,
            run_config={"loggers": {"progress": {}}},
        )
        summary.run_id = result.run_id
        _collect(result, summary)
        for source, rejected in sorted(summary.rejected_per_source.items()):
            if rejected:
                echo(f"rejected  {source}: {_plural(rejected, 'row')} broke the contract; see "
                     f"`sparecast query \"select * from raw.rejected_rows where source = "
                     f"'{source}'\"`")
    if result.success and summary.as_of_date:
        with db.connect(url) as conn:
            summary.forecast_preview = conn.execute(
                "select part_id, sum(demand_mean) from analytics.part_demand_forecast "
                "where as_of_date = %s group by part_id order by 2 desc, 1 limit 10",
                (summary.as_of_date,)).fetchall()
    summary.seconds = time.monotonic() - started
    if not result.success:
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        detail = "\n".join(f"  {e.step_key}: {_root_cause(e.step_failure_data.error)}"
                           for e in failures)
        checks = "".join(f"\n  {c}" for c in summary.failed_checks)
        raise PipelineError(f"run {result.run_id} failed; steps downstream of a failed step "
                            f"or a failed blocking check were skipped:\n{detail}{checks}")
    return summary


def _root_cause(error) -> str:
    """The innermost error's message: Dagster wraps the asset's own exception in its own."""
    if error is None:
        return "unknown error"
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def _progress_logger(echo, started: float):
    """A Dagster logger that prints one line per step start and end, and the assets' own
    messages, instead of Dagster's full event log."""
    import dagster as dg

    class Progress(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            meta = getattr(record, "dagster_meta", {}) or {}
            event = meta.get("dagster_event")
            step = meta.get("step_key") or ""
            clock = f"{time.monotonic() - started:6.0f}s"
            if event is None:
                if record.levelno >= logging.INFO and step:
                    echo(f"{clock}  {step}: {meta.get('orig_message', record.getMessage())}")
            elif event.event_type_value == "STEP_START":
                echo(f"{clock}  start {step}")
            elif event.event_type_value == "STEP_SUCCESS":
                echo(f"{clock}  done  {step}")
            elif event.event_type_value == "STEP_FAILURE":
                echo(f"{clock}  FAILED {step}")

    @dg.logger(description="One line per step and per asset message.")
    def progress(_init_context):
        log = logging.Logger("sparecast.progress", level=logging.DEBUG)
        log.addHandler(Progress())
        return log

    return progress


def _collect(result, summary: RunSummary) -> None:
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            check = event.event_specific_data
            if not check.passed and check.blocking:
                summary.failed_checks.append(
                    f"{check.asset_key.to_user_string()} check {check.check_name} failed"
                    + (f": {check.description}" if check.description else ""))
            continue
        if event.event_type_value != "ASSET_MATERIALIZATION":
            continue
        materialization = event.event_specific_data.materialization
        key = materialization.asset_key.path
        meta = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
        if key[0] == "raw":
            summary.rows_per_source[key[1]] = int(meta.get("dagster/row_count", 0))
            summary.files_per_source[key[1]] = int(meta.get("files_loaded", 0))
            summary.rejected_per_source[key[1]] = int(meta.get("rows_rejected", 0))
        elif key == ["part_demand_model"]:
            summary.model_version = str(meta.get("model_version", ""))
            summary.backtest = {method: errors for method, errors in meta.get("backtest", {}).items()
                                if not method.startswith("_")}
        elif key == ["part_demand_forecast"]:
            summary.forecast_rows = int(meta.get("dagster/row_count", 0))
            summary.forecast_parts = int(meta.get("parts", 0))
            summary.as_of_date = str(meta.get("as_of_date", ""))
            summary.horizon_days = int(meta.get("horizon_days", 0))
        elif key == ["inventory_recommendations"]:
            summary.inventory_rows = int(meta.get("dagster/row_count", 0))
            summary.inventory_to_order = int(meta.get("parts_to_order", 0))
            summary.inventory_exceptions = int(meta.get("exceptions", 0))


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def format_summary(summary: RunSummary) -> str:
    lines = [
        "",
        f"sparecast run {summary.run_id[:8]} finished in {summary.seconds:.0f}s",
        f"  days       {summary.start} .. {summary.end}",
        "  rows loaded per source:",
    ]
    for source, rows in sorted(summary.rows_per_source.items()):
        files = _plural(summary.files_per_source.get(source, 0), "file")
        rejected = summary.rejected_per_source.get(source, 0)
        lines.append(f"    {source:<12}{rows:>12,}  ({files}"
                     + (f", {rejected:,} rejected rows)" if rejected else ")"))
    if summary.backtest:
        lines.append("  backtest, daily demand per part, rolling origins (lower is better):")
        lines.append(f"    {'method':<22}{'WQL':>8}{'MASE':>8}{'RMSSE':>8}{'bias':>8}")
        ranked = sorted(summary.backtest, key=lambda k: summary.backtest[k].get("wql", 0))
        for method in ranked:
            m = summary.backtest[method]
            lines.append(f"    {method:<22}{m.get('wql', 0):>8.3f}{m.get('mase', 0):>8.3f}"
                         f"{m.get('rmsse', 0):>8.3f}{m.get('bias', 0):>+8.3f}")
        if ranked[0] != "sparecast":
            lines.append(f"    note: {ranked[0]} beat sparecast on WQL in this backtest; the "
                         "forecast below is sparecast's")
    lines.append(f"  model      {summary.model_version}")
    if summary.forecast_preview:
        lines.append(f"  forecast as of {summary.as_of_date}, expected units over the next "
                     f"{summary.horizon_days} days ({summary.forecast_parts} parts, top "
                     f"{len(summary.forecast_preview)}):")
        for part, expected in summary.forecast_preview:
            lines.append(f"    {part:<16}{expected:>10.1f}")
    lines += [
        f"  written    {summary.forecast_rows:,} rows to analytics.part_demand_forecast "
        f"(one per part and day ahead)",
        f"  inventory  {summary.inventory_rows:,} part-locations in "
        f"analytics.inventory_recommendations, {summary.inventory_to_order:,} to order, "
        f"{summary.inventory_exceptions:,} at risk in analytics.inventory_exceptions",
        f"  database   {summary.database}",
        "  next: `sparecast query \"select * from analytics.part_demand_forecast limit 20\"`, or "
        "`dagster dev` from the repository root to browse the assets",
    ]
    return "\n".join(lines)
