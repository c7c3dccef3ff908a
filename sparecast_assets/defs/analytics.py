"""The analytics schema's documented views, for Power BI and the dashboard (docs/powerbi.md)."""

import dagster as dg

from sparecast_assets.analytics.views import apply_views
from sparecast_assets.defs.automation import refresh_after_loads
from sparecast_assets.defs.resources import PostgresResource


@dg.asset(group_name="bi", kinds={"postgres"}, automation_condition=refresh_after_loads,
          deps=["dim_parts", "dim_machines", "fct_part_demand_daily", "fct_machine_daily",
                "fct_machine_sensor_daily", "part_demand_model", "part_demand_forecast",
                "inventory_recommendations"])
def analytics_views(context: dg.AssetExecutionContext,
                    postgres: PostgresResource) -> dg.MaterializeResult:
    """The analytics views: a star of facts keyed to parts, machines, locations and dates.
    Re-created after every upstream change: dbt rebuilds dim_parts and dim_machines with
    DROP ... CASCADE, which drops the views on them."""
    with postgres.connect() as conn:
        names = apply_views(conn)
    context.log.info(f"{len(names)} views in analytics")
    return dg.MaterializeResult(metadata={"views": ", ".join(names)})
