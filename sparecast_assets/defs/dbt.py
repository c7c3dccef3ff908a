"""The dbt project as Dagster assets: staging, intermediate and mart models on the raw tables."""

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from sparecast_assets import db
from sparecast_assets.db import dbt_environment
from sparecast_assets.defs.automation import refresh_after_loads
from sparecast_assets.defs.resources import DBT_PROJECT_DIR, PostgresResource
from sparecast_assets.partitions import daily_partitions, single_run

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)

def _manifest_is_stale(project: DbtProject) -> bool:
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [p for folder in ("models", "macros") for p in (DBT_PROJECT_DIR / folder).rglob("*")]
    sources.append(DBT_PROJECT_DIR / "dbt_project.yml")
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)

# A fresh checkout has no manifest yet, and an edited model makes it stale: parse then, so
# `sparecast run`, tests and `dagster dev` always see the models as they are on disk.
if _manifest_is_stale(dbt_project):
    dbt_project.preparer.prepare(dbt_project)

class SparecastDbtTranslator(DagsterDbtTranslator):
    """Groups dbt models by their folder (staging, intermediate, marts), as the project reads,
    and lets them refresh themselves after new loads."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else super().get_group_name(dbt_resource_props)

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]):
        # Models refresh the days whose raw loads changed, whatever the day.
        return refresh_after_loads


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=SparecastDbtTranslator(),
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def sparecast_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                         postgres: PostgresResource):
    """Staging views, intermediate models and marts. Incremental models rebuild exactly the
    run's days: the partition window is passed as the half-open range [start_date, end_date)."""
    os.environ.update(dbt_environment(postgres.url()))
    os.environ.setdefault("DBT_USE_COLORS", "false")  # plain text in logs and terminals
    window = context.partition_time_window
    dbt_vars = json.dumps({"start_date": window.start.date().isoformat(),
                           "end_date": window.end.date().isoformat()})
    # Automation can start runs over different days of these models at once; dbt replaces
    # views and tables by name, so two builds at a time collide. One build at a time: the
    # lock is the Postgres session's, released when the run ends however it ends.
    with db.connect(postgres.url(), autocommit=True) as lock:
        lock.execute("select pg_advisory_lock(%s)", (DBT_LOCK,))
        # A run over some models can read a view or table another run has not created yet (on
        # a new database). Views and tables are not windowed (only incremental models are):
        # build them all first when any is missing.
        if _missing_relations(lock):
            context.log.info("creating dbt's views and tables first (a new database)")
            dbt.cli(["run", "--vars", dbt_vars, "--select",
                     "config.materialized:view config.materialized:table"],
                    manifest=dbt_project.manifest_path).wait()
        yield from dbt.cli(["build", "--vars", dbt_vars], context=context).stream()


DBT_LOCK = 0x73706174  # "spat": one dbt build at a time per database


def _missing_relations(conn) -> bool:
    manifest = json.loads(Path(dbt_project.manifest_path).read_text())
    wanted = {n["name"] for n in manifest["nodes"].values()
              if n["resource_type"] == "model"
              and n["config"].get("materialized") in ("view", "table")}
    present = {name for (name,) in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'dbt'")}
    return bool(wanted - present)
