"""Read model inputs from the marts; write model runs, forecasts and their drivers."""

from __future__ import annotations

import json

import pandas as pd
import psycopg

from sparecast_assets.db import copy_rows, query_frame
from sparecast_assets.forecasting.core import QUANTILE_COLUMNS, CoreModel

# demand_p10 ... demand_p99: the forecast's quantiles of one day's demand, in units.
QUANTILE_COLUMNS_SQL = [f"demand_p{column[1:]}" for column in QUANTILE_COLUMNS.values()]

FORECAST_DDL = """
create table if not exists analytics.part_demand_forecast (
    as_of_date date not null,
    part_id text not null,
    target_date date not null,
    horizon_days integer not null,
    demand_mean double precision not null,
    demand_p50 double precision not null,
    demand_p90 double precision not null,
    model_version text not null,
    created_at timestamptz not null default now(),
    primary key (as_of_date, part_id, target_date)
)
"""
# Tables made before the forecast carried every quantile and the demand class gain the
# columns; their old rows keep nulls there.
FORECAST_MIGRATION = "".join(
    f"alter table analytics.part_demand_forecast add column if not exists {column} "
    "double precision;\n" for column in QUANTILE_COLUMNS_SQL
) + "alter table analytics.part_demand_forecast add column if not exists demand_class text;\n"

DRIVERS_DDL = """
create table if not exists analytics.part_demand_drivers (
    as_of_date date not null,
    part_id text not null,
    rank integer not null,
    feature text not null,
    contribution double precision not null,
    model_version text not null,
    primary key (as_of_date, part_id, rank)
)
"""

MODEL_RUNS_DDL = """
create table if not exists ml.model_runs (
    model_version text primary key,
    trained_at timestamptz not null default now(),
    training_start date not null,
    training_end date not null,
    horizon_days integer not null,
    dispersion double precision not null,
    params jsonb not null,
    features jsonb not null,
    backtest jsonb not null
);
alter table ml.model_runs add column if not exists training_rows bigint;
alter table ml.model_runs add column if not exists artifact_uri text
"""


def read_model_inputs(conn: psycopg.Connection) -> dict[str, pd.DataFrame]:
    demand = query_frame(conn, """
        select part_id, demand_date, demand_quantity::double precision as demand_quantity
        from dbt.fct_part_demand_daily""")
    fleet = query_frame(conn, """
        select part_id, activity_date, machines_carrying, machines_reporting,
               part_failures, machine_errors, machine_failures,
               mean_days_since_replacement::double precision as mean_days_since_replacement,
               max_days_since_replacement::double precision as max_days_since_replacement
        from dbt.fct_part_fleet_daily""")
    sensors = query_frame(conn, """
        select carried.part_id, s.reading_date as activity_date, s.sensor,
               round(avg(s.mean_value)::numeric, 6)::double precision as mean_value
        from dbt.int_machine_parts as carried
        join dbt.fct_machine_sensor_daily as s on s.machine_id = carried.machine_id
        group by carried.part_id, s.reading_date, s.sensor""")
    numeric = fleet.columns.drop(["part_id", "activity_date"])
    fleet[numeric] = fleet[numeric].astype(float)
    # Attributes the model may learn from: how critical the part is, what it costs, how long
    # it takes to get (missing where the parts master data has not landed).
    parts = query_frame(conn, """
        select part_id, criticality,
               unit_cost::double precision as unit_cost,
               lead_time_days::double precision as lead_time_days
        from dbt.dim_parts""")
    return {"demand": demand, "fleet": fleet, "sensors": sensors, "parts": parts}


def record_model_run(conn: psycopg.Connection, model: CoreModel, training_start, training_end,
                     backtest: dict, artifact_uri: str | None = None) -> None:
    """One row per trained model: its version, training window, parameters, features and the
    backtest of every method (sparecast and the baselines)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(MODEL_RUNS_DDL)
        cur.execute(
            """
            insert into ml.model_runs (model_version, training_start, training_end, horizon_days,
                                       dispersion, params, features, backtest, training_rows,
                                       artifact_uri)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (model_version) do update set
                trained_at = now(), backtest = excluded.backtest,
                artifact_uri = coalesce(excluded.artifact_uri, ml.model_runs.artifact_uri)
            """,
            (model.version, training_start, training_end, model.horizon, model.dispersion,
             json.dumps(model.params), json.dumps(model.names), json.dumps(backtest),
             model.training_rows, artifact_uri),
        )


def write_forecast(conn: psycopg.Connection, forecast: pd.DataFrame,
                   drivers: pd.DataFrame | None = None) -> int:
    """Replace the forecast (and its drivers) of the as-of dates in ``forecast`` in one
    transaction; other as-of dates stay. Quantile columns the frame lacks stay null."""
    columns = ["as_of_date", "part_id", "target_date", "horizon_days", "demand_mean",
               *[c for c in QUANTILE_COLUMNS_SQL if c in forecast.columns],
               *[c for c in ("demand_class",) if c in forecast.columns], "model_version"]
    as_of_dates = sorted(set(forecast["as_of_date"]))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(FORECAST_DDL)
        cur.execute(FORECAST_MIGRATION)
        cur.execute(DRIVERS_DDL)
        cur.execute("delete from analytics.part_demand_forecast where as_of_date = any(%s)",
                    (as_of_dates,))
        cur.execute("delete from analytics.part_demand_drivers where as_of_date = any(%s)",
                    (as_of_dates,))
        copy_rows(cur, "analytics.part_demand_forecast", forecast, columns)
        if drivers is not None and len(drivers):
            copy_rows(cur, "analytics.part_demand_drivers", drivers,
                        ["as_of_date", "part_id", "rank", "feature", "contribution",
                         "model_version"])
    return len(forecast)


def forecast_problems(conn: psycopg.Connection, active_days: int = 365) -> dict[str, int | str]:
    """Sanity of the newest forecast: counts of rows that break a rule, and active parts (with
    demand in the ``active_days`` before the as-of date) that have no forecast."""
    as_of = conn.execute("select max(as_of_date) from analytics.part_demand_forecast").fetchone()[0]
    if as_of is None:
        return {"as_of_date": "none", "forecast_rows": 0}
    negative, unordered, rows = conn.execute(
        """
        select count(*) filter (where least(demand_mean, demand_p10, demand_p50, demand_p90,
                                            demand_p99) < 0),
               count(*) filter (where demand_p50 > demand_p90
                                   or demand_p10 > demand_p20 or demand_p20 > demand_p30
                                   or demand_p30 > demand_p40 or demand_p40 > demand_p50
                                   or demand_p90 > demand_p95 or demand_p95 > demand_p99
                                   or demand_p50 > demand_p60 or demand_p60 > demand_p70
                                   or demand_p70 > demand_p80 or demand_p80 > demand_p90),
               count(*)
        from analytics.part_demand_forecast where as_of_date = %s
        """, (as_of,)).fetchone()
    uncovered = conn.execute(
        """
        select count(distinct demand.part_id)
        from dbt.fct_part_demand_daily as demand
        where demand.demand_quantity > 0
          and demand.demand_date > %s::date - %s and demand.demand_date <= %s
          and not exists (
              select 1 from analytics.part_demand_forecast as f
              where f.as_of_date = %s and f.part_id = demand.part_id)
        """, (as_of, active_days, as_of, as_of)).fetchone()[0]
    return {"as_of_date": str(as_of), "forecast_rows": rows, "negative_rows": negative,
            "unordered_quantile_rows": unordered, "active_parts_without_forecast": uncovered}
