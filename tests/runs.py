"""Helpers that do in-process what Dagster's daemon does: tick a sensor, launch what it asks."""

from __future__ import annotations

import dagster as dg

from sparecast_assets.defs.resources import LandingZone, PostgresResource
from sparecast_assets.defs.sensors import SENSOR_NAME, landing_sensor


def tick(instance: dg.DagsterInstance, landing_uri: str, database_url: str,
         cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, sensor_name=SENSOR_NAME,
        resources={"landing": LandingZone(uri=landing_uri),
                   "postgres": PostgresResource(database_url=database_url)})
    return landing_sensor(context)


def launch(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest,
           origin_tags: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
    """Execute one run request in-process, as the daemon would launch it."""
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        asset_selection=list(request.asset_selection or []),
        partition_key=request.partition_key,
        tags={**request.tags, **(origin_tags or {})},
    )


def summary(request: dg.RunRequest) -> tuple:
    """(asset, first day, last day) of a load request."""
    tags = request.tags
    first = request.partition_key or tags["dagster/asset_partition_range_start"]
    last = request.partition_key or tags["dagster/asset_partition_range_end"]
    return ("/".join(request.asset_selection[0].path), first, last)
