"""Run every asset for a range of days in one in-process Dagster run, and summarise it."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date

from sparecast_assets import db
from sparecast_assets.landing.storage import open_landing, scan



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
    backtest: dict[str, dict[str, float]] = field(default_factory=dict)
    model_version: str = ""
    forecast_rows: int = 0
    forecast_parts: int = 0
    as_of_date: str = ""
    skipped_keys: list[tuple[str, str]] = field(default_factory=list)


class PipelineError(RuntimeError):
    pass


def landed_range(landing_uri: str) -> tuple[date, date, list[tuple[str, str]]]:
    try:
        landing = open_landing(landing_uri)
    except ValueError as exc:
        raise PipelineError(str(exc)) from exc
    if not landing_uri.startswith("s3://") and not os.path.isdir(landing_uri):
        raise PipelineError(f"landing folder {landing_uri} does not exist")
    result = scan(landing)
    days = result.partition_dates()
    if not days:
        raise PipelineError(
            f"no landed files in {landing_uri}: expected <source>/dt=YYYY-MM-DD/<name>.csv and "
            "friends (see docs/landing-contract.md)")
    return days[0], days[-1], result.skipped


def run_pipeline(landing_uri: str, start: date | None = None, end: date | None = None,
                 echo=print) -> RunSummary:
    """Materialize raw loads, dbt models, features, model and forecast for days [start, end]
    (inclusive; default: every day that has landed files) in a single run."""
    first, last, skipped = landed_range(landing_uri)
    start, end = start or first, end or last
    if end < start:
        raise PipelineError(f"--end {end} is before --start {start}")

    url = db.database_url()
    echo(f"landing   {landing_uri}")
    echo(f"database  {db.describe(url)}")
    echo(f"days      {start} .. {end} ({(end - start).days + 1} daily partitions, one run)")
    for key, reason in skipped:
        echo(f"skipped   {reason}")

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
            "yesterday (UTC) cannot run yet. Check for a stray dt= folder, or pass --start/--end.")

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
    summary.seconds = time.monotonic() - started
    if not result.success:
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        detail = "\n".join(f"  {e.step_key}: {_root_cause(e.step_failure_data.error)}"
                           for e in failures)
        raise PipelineError(f"run {result.run_id} failed, nothing after the failed step ran:\n"
                            f"{detail}")
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
        if event.event_type_value != "ASSET_MATERIALIZATION":
            continue
        materialization = event.event_specific_data.materialization
        key = materialization.asset_key.path
        meta = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
        if key[0] == "raw":
            summary.rows_per_source[key[1]] = int(meta.get("dagster/row_count", 0))
            summary.files_per_source[key[1]] = int(meta.get("files_loaded", 0))
        elif key == ["part_demand_model"]:
            summary.model_version = str(meta.get("model_version", ""))
            for name, value in meta.items():
                for method in ("lightgbm", "seasonal_naive_7d", "mean_28d"):
                    if name.startswith(method + "_"):
                        summary.backtest.setdefault(method, {})[name[len(method) + 1:]] = value
        elif key == ["part_demand_forecast"]:
            summary.forecast_rows = int(meta.get("dagster/row_count", 0))
            summary.forecast_parts = int(meta.get("parts", 0))
            summary.as_of_date = str(meta.get("as_of_date", ""))


def format_summary(summary: RunSummary) -> str:
    lines = [
        "",
        f"sparecast run {summary.run_id[:8]} finished in {summary.seconds:.0f}s",
        f"  days       {summary.start} .. {summary.end}",
        "  rows loaded per source (files):",
    ]
    for source, rows in sorted(summary.rows_per_source.items()):
        lines.append(f"    {source:<12}{rows:>12,}  ({summary.files_per_source.get(source, 0)} files)")
    if summary.backtest:
        lines.append("  backtest (daily demand per part, rolling origins):")
        lines.append(f"    {'method':<20}{'MAE':>10}{'RMSE':>10}{'bias':>10}{'horizon-total MAE':>20}")
        for method, m in summary.backtest.items():
            lines.append(f"    {method:<20}{m.get('mae', 0):>10.4f}{m.get('rmse', 0):>10.4f}"
                         f"{m.get('bias', 0):>10.4f}{m.get('horizon_total_mae', 0):>20.3f}")
    lines += [
        f"  model      {summary.model_version}",
        f"  forecast   {summary.forecast_rows:,} rows for {summary.forecast_parts} parts as of "
        f"{summary.as_of_date} -> analytics.part_demand_forecast",
        f"  database   {summary.database}",
        "  next: query analytics.part_demand_forecast, or `dagster dev` from the repository root "
        "to browse the assets",
    ]
    return "\n".join(lines)

