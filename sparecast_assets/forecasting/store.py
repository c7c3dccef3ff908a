"""Read model inputs from the marts; write model runs and forecasts."""

from __future__ import annotations

import io
import json

import pandas as pd
import psycopg

from sparecast_assets.forecasting.model import TrainedModel

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
)
"""


def _frame(conn: psycopg.Connection, query: str) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(query)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def read_model_inputs(conn: psycopg.Connection) -> dict[str, pd.DataFrame]:
    demand = _frame(conn, """
        select part_id, demand_date, demand_quantity::double precision as demand_quantity
        from dbt.fct_part_demand_daily""")
    fleet = _frame(conn, """
        select part_id, activity_date, machines_carrying, machines_reporting,
               part_failures, machine_errors, machine_failures,
               mean_days_since_replacement::double precision as mean_days_since_replacement,
               max_days_since_replacement::double precision as max_days_since_replacement
        from dbt.fct_part_fleet_daily""")
    sensors = _frame(conn, """
        select carried.part_id, s.reading_date as activity_date, s.sensor,
               round(avg(s.mean_value)::numeric, 6)::double precision as mean_value
        from dbt.int_machine_parts as carried
        join dbt.fct_machine_sensor_daily as s on s.machine_id = carried.machine_id
        group by carried.part_id, s.reading_date, s.sensor""")
    numeric = fleet.columns.drop(["part_id", "activity_date"])
    fleet[numeric] = fleet[numeric].astype(float)
    return {"demand": demand, "fleet": fleet, "sensors": sensors}


def record_model_run(conn: psycopg.Connection, model: TrainedModel, horizon_days: int,
                     backtest: dict) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(MODEL_RUNS_DDL)
        cur.execute(
            """
            insert into ml.model_runs (model_version, training_start, training_end, horizon_days,
                                       dispersion, params, features, backtest)
            values (%s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (model_version) do update set
                trained_at = now(), backtest = excluded.backtest
            """,
            (model.version, model.training_start.date(), model.training_end.date(), horizon_days,
             model.dispersion, json.dumps(model.params), json.dumps(model.features),
             json.dumps(backtest)),
        )


def write_forecast(conn: psycopg.Connection, forecast: pd.DataFrame) -> int:
    """Replace the forecast of the as-of dates in ``forecast``; other as-of dates stay."""
    columns = ["as_of_date", "part_id", "target_date", "horizon_days", "demand_mean",
               "demand_p50", "demand_p90", "model_version"]
    buffer = io.StringIO()
    forecast[columns].to_csv(buffer, header=False, index=False)
    as_of_dates = sorted(set(forecast["as_of_date"]))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(FORECAST_DDL)
        cur.execute("delete from analytics.part_demand_forecast where as_of_date = any(%s)",
                    (as_of_dates,))
        with cur.copy(f"copy analytics.part_demand_forecast ({', '.join(columns)}) "
                      "from stdin with (format csv)") as copy:
            copy.write(buffer.getvalue())
    return len(forecast)


def forecast_problems(conn: psycopg.Connection, active_days: int = 365) -> dict[str, int | str]:
    """Sanity of the newest forecast: counts of rows that break a rule, and active parts (with
    demand in the ``active_days`` before the as-of date) that have no forecast."""
    as_of = conn.execute("select max(as_of_date) from analytics.part_demand_forecast").fetchone()[0]
    if as_of is None:
        return {"as_of_date": "none", "forecast_rows": 0}
    negative, unordered, rows = conn.execute(
        """
        select count(*) filter (where least(demand_mean, demand_p50, demand_p90) < 0),
               count(*) filter (where demand_p50 > demand_p90),
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
