"""What the dashboard shows, read from the analytics views only (the BI role can run it).

Plain functions of a connection returning DataFrames, so the numbers can be tested without a
browser. Every query names ``analytics.`` objects and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import psycopg

from sparecast_assets.db import query_frame

# Days of demand history drawn before the forecast in a part's chart.
HISTORY_DAYS = 120
# Days of fleet-wide errors and failures in the fleet chart.
FLEET_DAYS = 90


def connect(database_url: str) -> psycopg.Connection:
    conn = psycopg.connect(database_url, autocommit=True, connect_timeout=10)
    conn.read_only = True  # a dashboard never writes, whatever role it connects as
    return conn


def frame(conn: psycopg.Connection, query: str, params: tuple | dict = ()) -> pd.DataFrame:
    return query_frame(conn, query, params)


@dataclass(frozen=True)
class Overview:
    as_of_date: date | None  # newest forecast's as-of date
    history_end: date | None  # last day of demand history
    model_version: str | None  # the newest model
    parts: int
    machines: int
    machines_at_risk: int


def overview(conn: psycopg.Connection) -> Overview:
    row = conn.execute("""
        select
            (select max(as_of_date) from analytics.forecast_vs_actual),
            (select max(demand_date) from analytics.part_demand_daily),
            (select model_version from analytics.model_runs where is_latest
             order by model_version limit 1),
            (select count(*) from analytics.dim_parts),
            (select count(*) from analytics.dim_machines),
            (select count(*) from analytics.fleet_health where rising_failure_risk)
    """).fetchone()
    return Overview(*row)


def part_choices(conn: psycopg.Connection) -> pd.DataFrame:
    """One row per part: id, description and criticality, for the part picker."""
    return frame(conn, """
        select part_id, coalesce(description, part_id) as description, criticality,
               lead_time_days
        from analytics.dim_parts order by part_id""")


def part_history(conn: psycopg.Connection, part_id: str, days: int = HISTORY_DAYS
                 ) -> pd.DataFrame:
    """The part's daily demand in units over the last ``days`` days of history."""
    return frame(conn, """
        select demand_date, demand_quantity, failure_demand_quantity
        from analytics.part_demand_daily
        where part_id = %(part)s
          and demand_date > (select max(demand_date) from analytics.part_demand_daily) - %(days)s
        order by demand_date""", {"part": part_id, "days": days})


def part_forecast(conn: psycopg.Connection, part_id: str) -> pd.DataFrame:
    """The part's newest forecast: one row per target date with mean and band, in units/day."""
    return frame(conn, """
        select as_of_date, target_date, horizon_days, demand_mean, demand_p10, demand_p50,
               demand_p90, demand_class, model_version
        from analytics.forecast_vs_actual
        where part_id = %(part)s
          and as_of_date = (select max(as_of_date) from analytics.forecast_vs_actual
                            where part_id = %(part)s)
        order by target_date""", {"part": part_id})


def accuracy_over_time(conn: psycopg.Connection) -> pd.DataFrame:
    """Realised error per as-of date over all parts and horizons: MAE and bias in units per
    part-day, coverage of the 10th-90th percentile band as a fraction."""
    return frame(conn, """
        select as_of_date, model_version,
               sum(observations) as observations,
               sum(sum_absolute_error) / sum(observations) as mae,
               sum(sum_error) / sum(observations) as bias,
               sqrt(sum(sum_squared_error) / sum(observations)) as rmse,
               sum(p10_p90_coverage * observations) / sum(observations) as p10_p90_coverage
        from analytics.forecast_accuracy
        group by as_of_date, model_version
        order by as_of_date, model_version""")


def backtest_by_run(conn: psycopg.Connection) -> pd.DataFrame:
    """Backtest errors per model run and method: weighted quantile loss, and errors in units
    per part-day."""
    return frame(conn, """
        select b.model_version, b.trained_at, r.training_end, b.method, b.wql, b.mae, b.rmse,
               b.bias, b.horizon_total_mae
        from analytics.model_backtest as b
        join analytics.model_runs as r on r.model_version = b.model_version
        order by r.training_end, b.trained_at, b.method""")


def fleet_health(conn: psycopg.Connection) -> pd.DataFrame:
    """One row per machine, rising risk first, then by how far its sensors or errors moved."""
    return frame(conn, """
        select h.machine_id, m.model, m.location_id, h.rising_failure_risk, h.risk_reason,
               h.errors_last_7d, h.errors_per_day_prior_28d, h.error_rate_ratio,
               h.drifting_sensor, h.sensor_drift_z, h.failures_last_90d,
               h.days_since_last_failure, h.as_of_date
        from analytics.fleet_health as h
        left join analytics.dim_machines as m on m.machine_id = h.machine_id
        order by h.rising_failure_risk desc, abs(h.sensor_drift_z) desc nulls last,
                 h.error_rate_ratio desc nulls last, h.machine_id""")


def fleet_daily(conn: psycopg.Connection, days: int = FLEET_DAYS) -> pd.DataFrame:
    """Errors and failures per day over the whole fleet, last ``days`` days."""
    return frame(conn, """
        select activity_date, sum(error_count) as errors, sum(failure_count) as failures
        from analytics.machine_health_daily
        where activity_date > (select max(activity_date) from analytics.machine_health_daily)
                              - %(days)s
        group by activity_date order by activity_date""", {"days": days})


def stock_filters(conn: psycopg.Connection) -> tuple[list[str], list[str]]:
    """Criticalities and locations of the newest stock recommendations, for the filters."""
    rows = conn.execute("""
        select distinct criticality, location_id from analytics.stock_recommendations
        where is_latest""").fetchall()
    return (sorted({c for c, _ in rows if c is not None}),
            sorted({loc for _, loc in rows if loc is not None}))


def stock_risk(conn: psycopg.Connection, criticalities: list[str] | None = None,
               locations: list[str] | None = None) -> pd.DataFrame:
    """The newest recommendation of every part and location, parts at risk of stockout first
    (by their rank), then by stockout probability. Empty filters mean all."""
    return frame(conn, """
        select r.part_id, p.description, r.criticality, r.location_id, e.risk_rank,
               r.stockout_probability, r.value_at_risk, r.on_hand, r.on_order,
               r.inventory_position, r.reorder_point, r.order_up_to_level,
               r.recommended_order_qty, r.days_of_cover, r.projected_stockout_date,
               r.lead_time_days, r.data_flags
        from analytics.stock_recommendations as r
        left join analytics.dim_parts as p on p.part_id = r.part_id
        left join analytics.stockout_exceptions as e
            on e.as_of_date = r.as_of_date and e.part_id = r.part_id
           and e.location_id = r.location_id
        where r.is_latest
          and (cardinality(%(criticalities)s::text[]) = 0
               or r.criticality = any(%(criticalities)s::text[]))
          and (cardinality(%(locations)s::text[]) = 0
               or r.location_id = any(%(locations)s::text[]))
        order by e.risk_rank nulls last, r.stockout_probability desc, r.value_at_risk desc,
                 r.part_id, r.location_id""",
                 {"criticalities": list(criticalities or []), "locations": list(locations or [])})


def part_stock(conn: psycopg.Connection, part_id: str) -> pd.DataFrame:
    """The part's newest stock levels per location, in units."""
    return frame(conn, """
        select as_of_date, location_id, on_hand, on_order, inventory_position, safety_stock,
               reorder_point, order_up_to_level, recommended_order_qty, stockout_probability,
               mean_daily_demand, lead_time_days, service_target
        from analytics.stock_recommendations
        where part_id = %(part)s and is_latest
        order by location_id""", {"part": part_id})
