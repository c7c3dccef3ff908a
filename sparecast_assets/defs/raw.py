"""Raw loads: one asset per landing source, one daily partition per ``dt=`` folder."""

import time

import dagster as dg

from sparecast_assets.defs.resources import LandingZone, PostgresResource
from sparecast_assets.ingest.load import count_window_rows, duplicate_keys, load_window
from sparecast_assets.landing.contract import SOURCES
from sparecast_assets.partitions import daily_partitions, single_run

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
                "no_duplicate_keys", asset=["raw", source_name], blocking=True,
                description=(f"No row of the loaded days repeats the key "
                             f"({', '.join(source.key)}) of another row in raw.{source_name}"
                             + (" of the same dt." if source.master_data else "."))),
        ],
        description=(
            f"raw.{source_name}: {source.description} One row per row of the landed files of "
            "the partition's day; a run replaces the days it covers in one transaction."
        ),
    )
    def load(context: dg.AssetExecutionContext, landing: LandingZone,
             postgres: PostgresResource) -> dg.MaterializeResult:
        window = context.partition_time_window
        started = time.monotonic()
        with postgres.connect() as conn:
            loads = load_window(conn, landing.open(), source_name, window.start.date(),
                                window.end.date())
            in_table = count_window_rows(conn, source_name, window.start.date(), window.end.date())
            surplus, duplicated = duplicate_keys(conn, source_name, window.start.date(),
                                                 window.end.date())
        rows = sum(f.rows for f in loads)
        ignored = sorted({c for f in loads for c in f.ignored_columns})
        context.log.info(
            f"raw.{source_name}: {rows:,} rows from {len(loads)} file(s) for "
            f"[{window.start.date()}, {window.end.date()}) in {time.monotonic() - started:.1f}s"
            + (f"; columns not in the contract, not loaded: {', '.join(ignored)}" if ignored else "")
        )
        return dg.MaterializeResult(
            check_results=[dg.AssetCheckResult(
                check_name="rows_match_files", passed=in_table == rows,
                metadata={"rows_in_files": rows, "rows_in_table": in_table}),
                dg.AssetCheckResult(
                    check_name="no_duplicate_keys", passed=surplus == 0,
                    metadata={"duplicate_rows": surplus,
                              "duplicated_keys": dg.MetadataValue.json(duplicated)}),
            ],
            metadata={
                "dagster/row_count": rows,
                "files_loaded": len(loads),
                "ignored_columns": ", ".join(ignored) or "none",
                "rows_per_file": dg.MetadataValue.table(
                    records=[dg.TableRecord({"file": f.uri, "rows": f.rows}) for f in loads],
                    schema=dg.TableSchema(columns=[
                        dg.TableColumn("file", "string"), dg.TableColumn("rows", "int")]),
                ),
            }
        )

    return load

raw_assets = [build_raw_asset(name) for name in SOURCES]
