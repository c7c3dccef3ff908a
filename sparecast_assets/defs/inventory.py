"""Stocking decisions from the forecast: reorder points, order-up-to levels, orders to place,
and the parts at risk of stockout."""

import dagster as dg

from sparecast_assets.defs.automation import refresh_after_loads
from sparecast_assets.defs.resources import PostgresResource
from sparecast_assets.inventory.policy import InventorySettings
from sparecast_assets.inventory.store import recommendation_problems, refresh_recommendations

_DEFAULTS = InventorySettings()


class InventoryConfig(dg.Config):
    """Service targets and the defaults for parts without data (see InventorySettings)."""

    service_measure: str = _DEFAULTS.service_measure
    service_targets: dict[str, float] = dict(_DEFAULTS.service_targets)
    default_criticality: str = _DEFAULTS.default_criticality
    default_lead_time_days: float = _DEFAULTS.default_lead_time_days
    default_unit_cost: float = _DEFAULTS.default_unit_cost
    review_period_days: float = _DEFAULTS.review_period_days
    excess_horizon_days: float = _DEFAULTS.excess_horizon_days
    dead_stock_days: int = _DEFAULTS.dead_stock_days
    # "item": every part-location gets its criticality's target; "system": the target is the
    # fill rate over all units of the criticality's part-locations, at the least stock value.
    allocation: str = _DEFAULTS.allocation

    def settings(self) -> InventorySettings:
        return InventorySettings(**self.model_dump())


@dg.asset(group_name="inventory", kinds={"postgres"},
          # Not eager(): that waits while any partition of its daily dbt deps is missing, and a
          # landing zone has days without files.
          automation_condition=refresh_after_loads,
          deps=["part_demand_forecast", "dim_parts", "dim_machines", "fct_inventory_snapshot",
                "fct_part_demand_daily", "stg_part_usage"])
def inventory_recommendations(context: dg.AssetExecutionContext, postgres: PostgresResource,
                              config: InventoryConfig) -> dg.MaterializeResult:
    """analytics.inventory_recommendations: one row per part and location per as-of date (the
    newest forecast's), with safety stock, reorder point, order-up-to level, the order to place
    (MOQ and pack size respected), stockout risk over the lead time, days of cover, excess and
    dead stock and their value. analytics.inventory_exceptions: the rows at risk of stockout,
    ranked by value at risk. Both replace their as-of date in one transaction."""
    settings = config.settings()
    with postgres.connect() as conn:
        recommendations, at_risk = refresh_recommendations(conn, settings)
    as_of = str(recommendations["as_of_date"].iloc[0]) if len(recommendations) else "none"
    to_order = recommendations[recommendations["recommended_order_qty"] > 0]
    flagged = recommendations[recommendations["data_flags"] != ""]
    context.log.info(
        f"inventory as of {as_of}: {len(recommendations):,} part-locations, "
        f"{len(to_order):,} to order, {len(at_risk):,} at risk of stockout, "
        f"{len(flagged):,} using defaults for missing data")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(recommendations),
        "as_of_date": as_of,
        "service_measure": settings.service_measure,
        "allocation": settings.allocation,
        "parts_to_order": len(to_order),
        "order_value": float(to_order["recommended_order_value"].sum()),
        "exceptions": len(at_risk),
        "value_at_risk": float(at_risk["value_at_risk"].sum()),
        "excess_value": float(recommendations["excess_value"].sum()),
        "dead_stock_value": float(recommendations["dead_stock_value"].sum()),
        "rows_with_defaults": len(flagged),
    })


@dg.asset_check(asset=inventory_recommendations)
def recommendations_are_consistent(postgres: PostgresResource) -> dg.AssetCheckResult:
    """The newest recommendations have rows, no reorder point above its order-up-to level, every
    order a whole number of packs at or above the MOQ, no negative figure, and every part of
    that day's forecast has a row."""
    with postgres.connect() as conn:
        problems = recommendation_problems(conn)
    passed = problems["recommendation_rows"] > 0 and all(
        problems[k] == 0 for k in ("reorder_point_above_order_up_to_rows",
                                   "order_breaking_moq_or_pack_rows", "negative_value_rows",
                                   "forecast_parts_without_recommendation"))
    return dg.AssetCheckResult(passed=passed, metadata=problems)
