"""Helpers that do in-process what Dagster's daemon does: tick a sensor, launch what it asks."""

from __future__ import annotations

import dagster as dg

from sparecast_assets.defs.raw import raw_assets
from sparecast_assets.defs.resources import LandingZone, PostgresResource
from sparecast_assets.defs.sensors import SENSOR_NAME, landing_sensor


def tick(instance: dg.DagsterInstance, landing_uri: str, database_url: str,
         cursor: str | None = None):
    """One evaluation as the daemon's code server runs it (``evaluate_tick``, which also
    checks every requested partition against the assets). Has ``run_requests``, ``cursor``
    and ``skip_message``."""
    resources = {"landing": LandingZone(uri=landing_uri),
                 "postgres": PostgresResource(database_url=database_url)}
    defs = dg.Definitions(assets=raw_assets, sensors=[landing_sensor], resources=resources)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, sensor_name=SENSOR_NAME, definitions=defs,
        resources=resources)
    return landing_sensor.evaluate_tick(context)


def launch(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest,
           origin_tags: dict[str, str] | None = None,
           raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    """Execute one run request in-process, as the daemon would launch it."""
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        asset_selection=list(request.asset_selection or []),
        partition_key=request.partition_key,
        tags={**request.tags, **(origin_tags or {})},
        raise_on_error=raise_on_error,
    )


def summary(request: dg.RunRequest) -> tuple:
    """(asset, first day, last day) of a load request."""
    tags = request.tags
    first = request.partition_key or tags["dagster/asset_partition_range_start"]
    last = request.partition_key or tags["dagster/asset_partition_range_end"]
    return ("/".join(request.asset_selection[0].path), first, last)


def requested(code: dg.Definitions, evaluation) -> dict[str, list[str]]:
    """asset key -> sorted partition keys (empty for unpartitioned) an automation evaluation
    requested."""
    out = {}
    for key in code.resolve_asset_graph().get_all_asset_keys():
        if evaluation.get_num_requested(key):
            partitions = evaluation.get_requested_partitions(key)
            out[key.to_user_string()] = sorted(p for p in partitions if p is not None)
    return out


def launch_requested(code: dg.Definitions, instance: dg.DagsterInstance,
                     wanted: dict[str, list[str]]) -> dg.ExecuteInProcessResult:
    """One run for what an automation evaluation requested, as the daemon launches a tick's
    requests of single-run assets: partitioned assets over the range of their days."""
    days = sorted({p for partitions in wanted.values() for p in partitions})
    tags = ({"dagster/asset_partition_range_start": days[0],
             "dagster/asset_partition_range_end": days[-1]} if days else {})
    job = code.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance, tags=tags,
        asset_selection=[dg.AssetKey.from_user_string(k) for k in wanted])
