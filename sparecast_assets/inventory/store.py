"""Read the inventory inputs from the marts and the forecast; write the recommendations and
the stockout exceptions planners act on."""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg

from sparecast_assets.db import copy_rows, query_frame
from sparecast_assets.inventory.policy import (
    EXCEPTION_COLUMNS, RECOMMENDATION_COLUMNS, InventorySettings, exceptions, recommend)

RECOMMENDATIONS_DDL = """
create table if not exists analytics.inventory_recommendations (
    as_of_date date not null,
    part_id text not null,
    location_id text not null,
    model_version text,
    criticality text not null,
    service_measure text not null,
    service_target double precision not null,
    lead_time_days double precision not null,
    review_period_days double precision not null,
    unit_cost double precision not null,
    min_order_qty double precision not null,
    pack_size double precision not null,
    inventory_snapshot_date date,
    on_hand double precision not null,
    on_order double precision not null,
    inventory_position double precision not null,
    demand_share double precision not null,
    mean_daily_demand double precision not null,
    lead_time_demand_mean double precision not null,
    safety_stock double precision not null,
    reorder_point integer not null,
    order_up_to_level integer not null,
    expected_fill_rate double precision not null,
    expected_cycle_service_level double precision not null,
    recommended_order_qty double precision not null,
    recommended_order_value double precision not null,
    stockout_probability double precision not null,
    expected_units_short double precision not null,
    value_at_risk double precision not null,
    days_of_cover double precision,
    projected_stockout_date date,
    excess_units double precision not null,
    excess_value double precision not null,
    last_demand_date date,
    dead_stock_units double precision not null,
    dead_stock_value double precision not null,
    data_flags text not null,
    created_at timestamptz not null default now(),
    primary key (as_of_date, part_id, location_id)
)
"""

EXCEPTIONS_DDL = """
create table if not exists analytics.inventory_exceptions (
    as_of_date date not null,
    part_id text not null,
    location_id text not null,
    risk_rank integer not null,
    value_at_risk double precision not null,
    expected_units_short double precision not null,
    stockout_probability double precision not null,
    service_target double precision not null,
    criticality text not null,
    on_hand double precision not null,
    on_order double precision not null,
    reorder_point integer not null,
    order_up_to_level integer not null,
    recommended_order_qty double precision not null,
    lead_time_days double precision not null,
    projected_stockout_date date,
    unit_cost double precision not null,
    model_version text,
    data_flags text not null,
    created_at timestamptz not null default now(),
    primary key (as_of_date, part_id, location_id)
)
"""


def read_inventory_inputs(conn: psycopg.Connection, dead_stock_days: int,
                          as_of_date: date | None = None) -> dict:
    """The newest forecast (or that of ``as_of_date``), part attributes from dbt.dim_parts, the
    newest stock count per part and location (dbt.fct_inventory_snapshot), and per part and
    location the units used in the ``dead_stock_days`` up to the as-of date and the last day
    of use (usage joined to the machine's location)."""
    if as_of_date is None:
        as_of_date = conn.execute(
            "select max(as_of_date) from analytics.part_demand_forecast").fetchone()[0]
        if as_of_date is None:
            raise ValueError("analytics.part_demand_forecast is empty: run the forecast first")
    forecast = query_frame(conn, "select * from analytics.part_demand_forecast where as_of_date = %s",
                      (as_of_date,))
    if forecast.empty:
        raise ValueError(f"analytics.part_demand_forecast has no rows as of {as_of_date}")
    parts = query_frame(conn, """
        select part_id, unit_cost::double precision as unit_cost,
               lead_time_days::double precision as lead_time_days,
               min_order_qty::double precision as min_order_qty,
               pack_size::double precision as pack_size, criticality
        from dbt.dim_parts""")
    inventory = query_frame(conn, """
        select part_id, location_id, snapshot_date, on_hand::double precision as on_hand,
               on_order::double precision as on_order
        from dbt.fct_inventory_snapshot""")
    location_demand = query_frame(conn, """
        select usage.part_id, machines.location_id,
               coalesce(sum(usage.quantity) filter (
                   where usage.used_date > %(as_of)s::date - %(window)s), 0)::double precision
                   as units,
               max(usage.used_date) filter (where usage.quantity > 0) as last_demand_date
        from dbt.stg_part_usage as usage
        left join dbt.dim_machines as machines on machines.machine_id = usage.machine_id
        where usage.used_date <= %(as_of)s
        group by usage.part_id, machines.location_id""",
                             {"as_of": as_of_date, "window": dead_stock_days})
    history_start = conn.execute(
        "select min(demand_date) from dbt.fct_part_demand_daily").fetchone()[0]
    return {"as_of_date": as_of_date, "forecast": forecast, "parts": parts,
            "inventory": inventory, "location_demand": location_demand,
            "history_start": history_start}


def write_recommendations(conn: psycopg.Connection, recommendations: pd.DataFrame,
                          at_risk: pd.DataFrame) -> None:
    """Replace both tables' rows of the as-of dates in ``recommendations`` in one transaction;
    other as-of dates stay."""
    as_of_dates = sorted(set(recommendations["as_of_date"]))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(RECOMMENDATIONS_DDL)
        cur.execute(EXCEPTIONS_DDL)
        for table in ("analytics.inventory_recommendations", "analytics.inventory_exceptions"):
            cur.execute(f"delete from {table} where as_of_date = any(%s)", (as_of_dates,))
        copy_rows(cur, "analytics.inventory_recommendations", recommendations,
              RECOMMENDATION_COLUMNS)
        copy_rows(cur, "analytics.inventory_exceptions", at_risk, EXCEPTION_COLUMNS)


def refresh_recommendations(conn: psycopg.Connection, settings: InventorySettings,
                            as_of_date: date | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute and write the recommendations and exceptions of the newest forecast (or of
    ``as_of_date``); returns them."""
    inputs = read_inventory_inputs(conn, settings.dead_stock_days, as_of_date)
    recommendations = recommend(inputs["forecast"], inputs["parts"], inputs["inventory"],
                                inputs["location_demand"], inputs["as_of_date"],
                                inputs["history_start"], settings)
    at_risk = exceptions(recommendations)
    write_recommendations(conn, recommendations, at_risk)
    return recommendations, at_risk


def recommendation_problems(conn: psycopg.Connection) -> dict[str, int | str]:
    """Consistency of the newest recommendations: counts of rows that break a rule, and parts
    in that day's forecast without a recommendation."""
    as_of = conn.execute(
        "select max(as_of_date) from analytics.inventory_recommendations").fetchone()[0]
    if as_of is None:
        return {"as_of_date": "none", "recommendation_rows": 0}
    rows, unordered, bad_orders, negative = conn.execute(
        """
        select count(*),
               count(*) filter (where reorder_point > order_up_to_level),
               count(*) filter (where recommended_order_qty > 0 and (
                   recommended_order_qty < min_order_qty
                   or abs(recommended_order_qty / pack_size
                          - round(recommended_order_qty / pack_size)) > 1e-9)),
               count(*) filter (where least(on_hand, on_order, recommended_order_qty,
                                            stockout_probability, excess_units) < 0)
        from analytics.inventory_recommendations where as_of_date = %s
        """, (as_of,)).fetchone()
    uncovered = conn.execute(
        """
        select count(distinct f.part_id) from analytics.part_demand_forecast as f
        where f.as_of_date = %s and not exists (
            select 1 from analytics.inventory_recommendations as r
            where r.as_of_date = f.as_of_date and r.part_id = f.part_id)
        """, (as_of,)).fetchone()[0]
    return {"as_of_date": str(as_of), "recommendation_rows": rows,
            "reorder_point_above_order_up_to_rows": unordered,
            "order_breaking_moq_or_pack_rows": bad_orders, "negative_value_rows": negative,
            "forecast_parts_without_recommendation": uncovered}
