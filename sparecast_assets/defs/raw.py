"""Raw loads: one asset per landing source, one daily partition per ``dt=`` folder."""

import time

import dagster as dg

from sparecast_assets.defs.resources import LandingZone, PostgresResource
from sparecast_assets.ingest.load import (
    count_window_rows,
    duplicate_keys,
    load_window,
    unknown_parts,
)
from sparecast_assets.landing.contract import SOURCES
from sparecast_assets.landing.formats import LandedFileError
from sparecast_assets.landing.options import SourceOptionsError, load_source_options
from sparecast_assets.partitions import daily_partitions, single_run

# A dropped connection, a database restart or an S3 hiccup is retried with growing pauses
# (10 s, 20 s, 40 s, ± jitter); a load is one transaction, so a retry starts from the old
# content. A bad file or a bad sources file is not retried: it fails until someone fixes it.
LOAD_RETRIES = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL,
                              jitter=dg.Jitter.PLUS_MINUS)
# Sources whose rows name a part; their part ids are checked against the parts master data.
PART_SOURCES = ("part_usage", "failures", "inventory")

def build_raw_asset(source_name: str) -> dg.AssetsDefinition:
    source = SOURCES[source_name]

    @dg.asset(
        key=["raw", source_name],
        group_name="raw",
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        kinds={"postgres"},
        check_specs=[
            dg.AssetCheckSpec(
                "rows_match_files", asset=["raw", source_name], blocking=True,
                description="The window's rows in Postgres equal the rows read from its files."),
            dg.AssetCheckSpec(
                "rejected_share", asset=["raw", source_name], blocking=True,
                description=("No file of the loaded days has more of its rows rejected than "
                             "the source's max_rejected_share (default 5 %).")),
            dg.AssetCheckSpec(
                "no_duplicate_keys", asset=["raw", source_name],
                description=(f"No row of the loaded days repeats the key "
                             f"({', '.join(source.key)}) of another row in raw.{source_name}"
                             + (" of the same dt" if source.master_data else "")
                             + ". A warning: staging keeps the first-landed row of each key.")),
        ] + ([dg.AssetCheckSpec(
                "known_parts", asset=["raw", source_name],
                description=("Every part_id of the loaded days is in the parts master data "
                             "(checked once any parts file is loaded). A warning: the rows "
                             "still count."))] if source_name in PART_SOURCES else []),
        retry_policy=LOAD_RETRIES,
        description=(
            f"raw.{source_name}: {source.description} One row per row of the landed files of "
            "the partition's day; a run replaces the days it covers in one transaction."
        ),
    )
    def load(context: dg.AssetExecutionContext, landing: LandingZone,
             postgres: PostgresResource) -> dg.MaterializeResult:
        window = context.partition_time_window
        start, end = window.start.date(), window.end.date()
        started = time.monotonic()
        try:
            options = load_source_options()[source_name]
            with postgres.connect() as conn:
                loads = load_window(conn, landing.open(), source_name, start, end, options)
                in_table = count_window_rows(conn, source_name, start, end)
                surplus, duplicated = duplicate_keys(conn, source_name, start, end)
                unknown = (unknown_parts(conn, source_name, start, end)
                           if source_name in PART_SOURCES else None)
        except (LandedFileError, SourceOptionsError) as exc:
            # Nothing of the window was written; retrying cannot fix the file.
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        rows = sum(f.rows for f in loads)
        rejected = sum(f.rejected for f in loads)
        ignored = sorted({c for f in loads for c in f.ignored_columns})
        over = [f for f in loads if f.rejected_share > options.max_rejected_share]
        context.log.info(
            f"raw.{source_name}: {rows:,} rows loaded, {rejected:,} rejected, from "
            f"{len(loads)} file(s) for [{start}, {end}) in {time.monotonic() - started:.1f}s"
            + (f"; columns not in the contract, not loaded: {', '.join(ignored)}"
               if ignored else "")
        )
        if rejected:
            context.log.warning(
                f"raw.{source_name}: {rejected:,} row(s) broke the contract; they are in "
                f"raw.rejected_rows (source = '{source_name}') with their reasons")
        checks = [
            dg.AssetCheckResult(
                check_name="rows_match_files", passed=in_table == rows,
                metadata={"rows_loaded": rows, "rows_in_table": in_table}),
            dg.AssetCheckResult(
                check_name="rejected_share", passed=not over,
                description=("; ".join(
                    f"{f.uri}: {f.rejected:,} of {f.rows + f.rejected:,} rows rejected "
                    f"({f.rejected_share:.0%}, allowed {options.max_rejected_share:.0%})"
                    for f in over) + f"; reasons in raw.rejected_rows (source = "
                    f"'{source_name}')") if over else None,
                metadata={"max_rejected_share": options.max_rejected_share,
                          "rows_rejected": rejected,
                          "files_over_threshold": dg.MetadataValue.json(
                              [{"file": f.uri, "rejected": f.rejected,
                                "share": round(f.rejected_share, 4)} for f in over])}),
            dg.AssetCheckResult(
                check_name="no_duplicate_keys", passed=surplus == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"duplicate_rows": surplus,
                          "duplicated_keys": dg.MetadataValue.json(duplicated)}),
        ]
        if unknown is not None:
            checks.append(dg.AssetCheckResult(
                check_name="known_parts", passed=not unknown,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"unknown_part_ids": dg.MetadataValue.json(unknown)}))
        return dg.MaterializeResult(
            check_results=checks,
            metadata={
                "dagster/row_count": rows,
                "rows_rejected": rejected,
                "files_loaded": len(loads),
                "ignored_columns": ", ".join(ignored) or "none",
                "rows_per_file": dg.MetadataValue.table(
                    records=[dg.TableRecord({"file": f.uri, "rows": f.rows,
                                             "rejected": f.rejected}) for f in loads],
                    schema=dg.TableSchema(columns=[
                        dg.TableColumn("file", "string"), dg.TableColumn("rows", "int"),
                        dg.TableColumn("rejected", "int")]),
                ),
            }
        )

    return load

raw_assets = [build_raw_asset(name) for name in SOURCES]
