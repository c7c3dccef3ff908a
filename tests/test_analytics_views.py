"""The analytics views: their documented columns (the contract BI reports are built on), their
comments, and the numbers they compute, on a real Postgres over tables the tests fill.

The tables under the views are created here with the columns and types dbt and the forecasting
code give them; the dashboard test builds the same views over a database the real pipeline
filled, and checks the same contract there.
"""

import json
import math
import re
import statistics
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from sparecast_assets.analytics import views
from sparecast_assets.analytics.views import MissingTablesError, apply_views
from tests.conftest import REPO

# The columns BI reports may rely on, with their types. A column leaves a view only together
# with its line here: removing or retyping one breaks every report built on it.
CONTRACT = {
    "dim_parts": {
        "part_id": "text", "description": "text", "criticality": "text",
        "unit_cost": "double precision", "lead_time_days": "double precision",
        "min_order_qty": "double precision", "pack_size": "double precision",
        "has_master_data": "boolean",
    },
    "dim_machines": {
        "machine_id": "text", "model": "text", "age_years": "double precision",
        "location_id": "text", "has_master_data": "boolean",
    },
    "dim_locations": {"location_id": "text", "machines": "integer"},
    "dim_dates": {
        "calendar_date": "date", "year": "integer", "quarter": "integer", "month": "integer",
        "month_name": "text", "month_start_date": "date", "iso_year": "integer",
        "iso_week": "integer", "week_start_date": "date", "day_of_week": "integer",
        "day_name": "text", "is_weekend": "boolean",
    },
    "part_demand_daily": {
        "part_id": "text", "demand_date": "date", "demand_quantity": "double precision",
        "failure_demand_quantity": "double precision",
        "planned_demand_quantity": "double precision", "machines_served": "integer",
    },
    "forecast_vs_actual": {
        "as_of_date": "date", "part_id": "text", "target_date": "date", "horizon_days": "integer",
        "model_version": "text", "demand_mean": "double precision",
        **{f"demand_p{q}": "double precision" for q in (10, 20, 30, 40, 50, 60, 70, 80, 90, 95,
                                                         99)},
        "demand_class": "text", "actual_quantity": "double precision", "has_actual": "boolean",
        "forecast_error": "double precision", "absolute_error": "double precision",
        "within_p10_p90": "boolean",
    },
    "forecast_accuracy": {
        "as_of_date": "date", "model_version": "text", "horizon_days": "integer",
        "parts": "integer", "observations": "integer", "actual_quantity": "double precision",
        "forecast_quantity": "double precision", "sum_error": "double precision",
        "sum_absolute_error": "double precision", "sum_squared_error": "double precision",
        "mae": "double precision", "rmse": "double precision", "bias": "double precision",
        "wape": "double precision", "p10_p90_coverage": "double precision",
        "p90_coverage": "double precision",
    },
    "model_runs": {
        "model_version": "text", "trained_at": "timestamp with time zone",
        "training_start": "date", "training_end": "date", "training_days": "integer",
        "horizon_days": "integer", "feature_count": "integer", "features": "text",
        "params": "text", "backtest_origins": "text", "backtest_skipped_reason": "text",
        "is_latest": "boolean",
    },
    "model_backtest": {
        "model_version": "text", "trained_at": "timestamp with time zone", "method": "text",
        "mae": "double precision", "rmse": "double precision", "bias": "double precision",
        "horizon_total_mae": "double precision", "metrics": "text",
        "wql": "double precision", "mase": "double precision", "rmsse": "double precision",
    },
    "stock_recommendations": {
        "as_of_date": "date", "part_id": "text", "location_id": "text", "model_version": "text",
        "criticality": "text", "service_measure": "text", "service_target": "double precision",
        "lead_time_days": "double precision", "review_period_days": "double precision",
        "inventory_snapshot_date": "date", "on_hand": "double precision",
        "on_order": "double precision", "inventory_position": "double precision",
        "mean_daily_demand": "double precision", "lead_time_demand_mean": "double precision",
        "safety_stock": "double precision", "reorder_point": "double precision",
        "order_up_to_level": "double precision", "expected_fill_rate": "double precision",
        "expected_cycle_service_level": "double precision",
        "recommended_order_qty": "double precision",
        "recommended_order_value": "double precision", "needs_order": "boolean",
        "stockout_probability": "double precision", "expected_units_short": "double precision",
        "value_at_risk": "double precision", "days_of_cover": "double precision",
        "projected_stockout_date": "date", "excess_units": "double precision",
        "excess_value": "double precision", "last_demand_date": "date",
        "dead_stock_units": "double precision", "dead_stock_value": "double precision",
        "data_flags": "text", "is_latest": "boolean",
    },
    "stockout_exceptions": {
        "as_of_date": "date", "part_id": "text", "location_id": "text", "risk_rank": "integer",
        "stockout_probability": "double precision",
        "allowed_stockout_probability": "double precision",
        "expected_units_short": "double precision", "value_at_risk": "double precision",
        "service_target": "double precision", "projected_stockout_date": "date",
        "recommended_order_qty": "double precision", "data_flags": "text",
        "is_latest": "boolean",
    },
    "machine_health_daily": {
        "machine_id": "text", "activity_date": "date", "telemetry_readings": "bigint",
        "error_count": "bigint", "failure_count": "bigint", "parts_replaced": "double precision",
        "errors_last_7d": "bigint", "errors_last_28d": "bigint",
    },
    "fleet_health": {
        "machine_id": "text", "as_of_date": "date", "errors_last_7d": "bigint",
        "errors_per_day_last_7d": "double precision",
        "errors_per_day_prior_28d": "double precision", "error_rate_ratio": "double precision",
        "drifting_sensor": "text", "sensor_drift_z": "double precision",
        "failures_last_90d": "bigint", "last_failure_date": "date",
        "days_since_last_failure": "integer", "max_days_since_replacement": "double precision",
        "rising_failure_risk": "boolean", "risk_reason": "text",
    },
}


def contract_violations(conn: psycopg.Connection, contract: dict = CONTRACT) -> list[str]:
    """Every documented column that is missing from its view or has another type."""
    problems = []
    for view, columns in contract.items():
        actual = dict(conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'analytics' and table_name = %s", (view,)).fetchall())
        if not actual:
            problems.append(f"analytics.{view} does not exist")
            continue
        for column, data_type in columns.items():
            if column not in actual:
                problems.append(f"analytics.{view}.{column} is missing")
            elif actual[column] != data_type:
                problems.append(f"analytics.{view}.{column} is {actual[column]}, documented as "
                                f"{data_type}")
    return problems


def undocumented(conn: psycopg.Connection) -> list[str]:
    """Views and columns of analytics.* (from views.py) without the comment views.py gives."""
    problems = []
    for view in views.VIEWS:
        comment = conn.execute("select obj_description(to_regclass(%s), 'pg_class')",
                               (f"analytics.{view.name}",)).fetchone()[0]
        if comment != view.description:
            problems.append(f"analytics.{view.name}: comment {comment!r}")
        rows = conn.execute(
            "select a.attname, col_description(a.attrelid, a.attnum) from pg_attribute a "
            "where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped "
            "order by a.attnum", (f"analytics.{view.name}",)).fetchall()
        if [name for name, _ in rows] != view.column_names:
            problems.append(f"analytics.{view.name}: columns {[n for n, _ in rows]}")
        for (name, comment), (_, documented) in zip(rows, view.columns):
            if not comment or comment != documented:
                problems.append(f"analytics.{view.name}.{name}: comment {comment!r}")
    return problems


# The tables under the views, as dbt and the forecasting code create them.
DBT_TABLES = """
create schema if not exists dbt;
create schema if not exists ml;
create schema if not exists analytics;
create table dbt.dim_parts (part_id text, description text, unit_cost double precision,
    lead_time_days double precision, min_order_qty double precision, pack_size double precision,
    criticality text, has_master_data boolean);
create table dbt.dim_machines (machine_id text, model text, age_years double precision,
    location_id text, has_master_data boolean);
create table dbt.fct_part_demand_daily (part_id text, demand_date date,
    demand_quantity double precision, failure_demand_quantity double precision,
    machines_served bigint);
create table dbt.fct_machine_daily (machine_id text, activity_date date,
    telemetry_readings numeric, sensor_mean jsonb, sensor_max jsonb, error_count numeric,
    error_counts jsonb, failure_count bigint, parts_replaced double precision,
    days_since_replacement jsonb);
create table dbt.fct_machine_sensor_daily (machine_id text, reading_date date, sensor text,
    readings bigint, mean_value double precision, min_value double precision,
    max_value double precision, stddev_value double precision);
"""

QUANTILE_FORECAST_TABLE = """
create table analytics.part_demand_forecast (
    as_of_date date not null, part_id text not null, target_date date not null,
    horizon_days integer not null, demand_mean double precision not null,
    demand_p10 double precision, demand_p20 double precision, demand_p30 double precision,
    demand_p40 double precision, demand_p50 double precision, demand_p60 double precision,
    demand_p70 double precision, demand_p80 double precision, demand_p90 double precision,
    demand_p95 double precision, demand_p99 double precision, demand_class text,
    model_version text not null, created_at timestamptz not null default now(),
    primary key (as_of_date, part_id, target_date))
"""

# The forecast table before quantile forecasts: mean, median and 90th percentile only.
OLDER_FORECAST_TABLE = """
create table analytics.part_demand_forecast (
    as_of_date date not null, part_id text not null, target_date date not null,
    horizon_days integer not null, demand_mean double precision not null,
    demand_p50 double precision not null, demand_p90 double precision not null,
    model_version text not null, created_at timestamptz not null default now(),
    primary key (as_of_date, part_id, target_date))
"""

QUANTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99)


def band(center: float) -> dict:
    """Quantiles 10..99 around a center: p10 = center - 1, rising by 0.25 per level."""
    return {f"demand_p{q}": center - 1 + 0.25 * i for i, q in enumerate(QUANTILES)}


@pytest.fixture
def conn(fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(DBT_TABLES)
        conn.execute("""
            insert into dbt.dim_parts values
                ('P-1', 'Bearing', 12.5, 21, 2, 5, 'high', true),
                ('P-2', null, null, null, null, null, null, false);
            insert into dbt.dim_machines values ('M-1', 'pump-C', 7, 'WH-01', true);
        """)
        # P-1: 10 days of history, 2025-01-01 .. 2025-01-10; actuals known through the 10th.
        for day in range(1, 11):
            conn.execute("insert into dbt.fct_part_demand_daily values ('P-1', %s, %s, %s, %s)",
                         (date(2025, 1, day), day % 4, 1 if day % 4 == 3 else 0, day % 4 and 1))
        yield conn


def insert_forecast(conn, as_of: date, part: str, horizon: int, mean: float, quantiles: dict,
                    demand_class: str | None = "smooth", model: str = "lgbm-a") -> None:
    columns = {"as_of_date": as_of, "part_id": part, "target_date": as_of + timedelta(horizon),
               "horizon_days": horizon, "demand_mean": mean, **quantiles,
               "model_version": model}
    if demand_class is not None:
        columns["demand_class"] = demand_class
    conn.execute(f"insert into analytics.part_demand_forecast ({', '.join(columns)}) "
                 f"values ({', '.join(['%s'] * len(columns))})", list(columns.values()))


def test_every_documented_column_is_there_with_its_type_and_comment(conn):
    conn.execute(QUANTILE_FORECAST_TABLE)

    assert apply_views(conn) == [v.name for v in views.VIEWS] == list(CONTRACT)

    assert contract_violations(conn) == []
    assert undocumented(conn) == []


def test_the_contract_check_names_a_column_that_disappeared_or_changed_type(conn):
    apply_views(conn)
    conn.execute("drop view analytics.dim_parts")
    conn.execute("create view analytics.dim_parts as select part_id, description, "
                 "criticality, unit_cost::numeric as unit_cost, lead_time_days, min_order_qty, "
                 "pack_size from dbt.dim_parts")

    assert contract_violations(conn) == [
        "analytics.dim_parts.unit_cost is numeric, documented as double precision",
        "analytics.dim_parts.has_master_data is missing",
    ]


def test_views_py_documents_every_contract_column_and_nothing_is_undocumented():
    assert {v.name: v.column_names for v in views.VIEWS} == {
        name: list(columns) for name, columns in CONTRACT.items()}


def test_forecasts_meet_the_demand_that_followed(conn):
    conn.execute(QUANTILE_FORECAST_TABLE)
    as_of = date(2025, 1, 8)
    # Actuals: 9th -> 1 unit, 10th -> 2 units; the 11th is not in the history yet.
    insert_forecast(conn, as_of, "P-1", 1, 2.0, band(2.0))    # error +1, band 1..3.5: inside
    insert_forecast(conn, as_of, "P-1", 2, 0.5, band(0.5))    # error -1.5, band -0.5..1.5: above
    insert_forecast(conn, as_of, "P-1", 3, 1.0, band(1.0))    # no actual
    apply_views(conn)

    rows = conn.execute(
        "select horizon_days, demand_mean, demand_p10, demand_p99, demand_class, "
        "actual_quantity, has_actual, forecast_error, absolute_error, within_p10_p90 "
        "from analytics.forecast_vs_actual order by horizon_days").fetchall()
    assert rows == [
        (1, 2.0, 1.0, 3.5, "smooth", 1.0, True, 1.0, 1.0, True),
        (2, 0.5, -0.5, 2.0, "smooth", 2.0, True, -1.5, 1.5, False),
        (3, 1.0, 0.0, 2.5, "smooth", None, False, None, None, None),
    ]


def test_forecast_accuracy_per_as_of_date_and_horizon(conn):
    conn.execute(QUANTILE_FORECAST_TABLE)
    conn.execute("insert into dbt.fct_part_demand_daily values ('P-2', '2025-01-06', 0, 0, 0), "
                 "('P-2', '2025-01-07', 4, 4, 1)")
    as_of = date(2025, 1, 5)
    # Horizon 1 (the 6th): P-1 actual 2, forecast 3; P-2 actual 0, forecast 1; both inside
    # their bands.
    insert_forecast(conn, as_of, "P-1", 1, 3.0, band(3.0))
    insert_forecast(conn, as_of, "P-2", 1, 1.0, band(1.0))
    # Horizon 2 (the 7th): P-1 actual 3, forecast 1 (p90 = 2: above the band); P-2 actual 4,
    # forecast 4.
    insert_forecast(conn, as_of, "P-1", 2, 1.0, band(1.0))
    insert_forecast(conn, as_of, "P-2", 2, 4.0, band(4.0))
    # A later as-of date whose targets are not in the history: no row.
    insert_forecast(conn, date(2025, 1, 10), "P-1", 1, 1.0, band(1.0))
    apply_views(conn)

    rows = conn.execute(
        "select as_of_date, model_version, horizon_days, parts, observations, actual_quantity, "
        "forecast_quantity, sum_error, sum_absolute_error, sum_squared_error, mae, rmse, bias, "
        "wape, p10_p90_coverage, p90_coverage from analytics.forecast_accuracy "
        "order by horizon_days").fetchall()
    assert rows == [
        (as_of, "lgbm-a", 1, 2, 2, 2.0, 4.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
        (as_of, "lgbm-a", 2, 2, 2, 7.0, 5.0, -2.0, 2.0, 4.0, 1.0, math.sqrt(2), -1.0, 2 / 7,
         0.5, 0.5),
    ]


def test_an_older_forecast_table_without_quantiles_shows_nulls_instead_of_failing(conn):
    conn.execute(OLDER_FORECAST_TABLE)
    conn.execute("insert into analytics.part_demand_forecast (as_of_date, part_id, target_date, "
                 "horizon_days, demand_mean, demand_p50, demand_p90, model_version) values "
                 "('2025-01-08', 'P-1', '2025-01-09', 1, 0.7, 1, 2, 'lgbm-old')")

    apply_views(conn)

    assert contract_violations(conn) == []
    assert conn.execute(
        "select demand_mean, demand_p10, demand_p50, demand_p90, demand_class, actual_quantity, "
        "within_p10_p90 from analytics.forecast_vs_actual").fetchall() == [
        (0.7, None, 1.0, 2.0, None, 1.0, None)]


def test_views_follow_the_forecast_table_when_it_gains_the_quantile_columns(conn):
    conn.execute(OLDER_FORECAST_TABLE)
    apply_views(conn)
    conn.execute("alter table analytics.part_demand_forecast "
                 "add column demand_p10 double precision, add column demand_class text")
    conn.execute("insert into analytics.part_demand_forecast (as_of_date, part_id, target_date, "
                 "horizon_days, demand_mean, demand_p10, demand_p50, demand_p90, demand_class, "
                 "model_version) values ('2025-01-08', 'P-1', '2025-01-09', 1, 0.7, 0, 1, 2, "
                 "'erratic', 'lgbm-new')")

    apply_views(conn)

    assert conn.execute("select demand_p10, demand_class, within_p10_p90 "
                        "from analytics.forecast_vs_actual").fetchall() == [(0.0, "erratic", True)]


def test_a_view_whose_columns_changed_is_replaced_and_the_others_keep_their_grants(conn):
    apply_views(conn)
    # An older release's view with another column order: create or replace alone would refuse.
    conn.execute("drop view analytics.dim_machines")
    conn.execute("create view analytics.dim_machines as select model, machine_id "
                 "from dbt.dim_machines")
    conn.execute("grant select on analytics.dim_parts to public")

    apply_views(conn)

    assert conn.execute("select * from analytics.dim_machines").fetchall() == [
        ("M-1", "pump-C", 7.0, "WH-01", True)]
    assert conn.execute("select has_table_privilege('public', 'analytics.dim_parts', 'select')"
                        ).fetchone()[0] is True


def test_dims_pass_master_data_through(conn):
    apply_views(conn)

    assert conn.execute("select * from analytics.dim_parts order by part_id").fetchall() == [
        ("P-1", "Bearing", "high", 12.5, 21.0, 2.0, 5.0, True),
        ("P-2", None, None, None, None, None, None, False),
    ]


def test_the_date_dimension_spans_history_and_forecasts_without_gaps(conn):
    conn.execute(QUANTILE_FORECAST_TABLE)
    insert_forecast(conn, date(2025, 1, 10), "P-1", 28, 1.0, band(1.0))
    apply_views(conn)

    days = conn.execute("select calendar_date from analytics.dim_dates order by 1").fetchall()
    assert [d for (d,) in days] == [date(2025, 1, 1) + timedelta(i) for i in range(38)]
    assert conn.execute(
        "select year, quarter, month, month_name, month_start_date, iso_year, iso_week, "
        "week_start_date, day_of_week, day_name, is_weekend from analytics.dim_dates "
        "where calendar_date = '2025-02-01'").fetchone() == (
        2025, 1, 2, "February", date(2025, 2, 1), 2025, 5, date(2025, 1, 27), 6, "Saturday",
        True)
    # 2025-01-01 belongs to ISO week 1 of 2025, whose Monday is in 2024.
    assert conn.execute("select iso_year, iso_week, week_start_date from analytics.dim_dates "
                        "where calendar_date = '2025-01-01'").fetchone() == (
        2025, 1, date(2024, 12, 30))


def test_part_demand_daily_splits_failure_and_planned_demand(conn):
    apply_views(conn)

    assert conn.execute(
        "select demand_date, demand_quantity, failure_demand_quantity, planned_demand_quantity, "
        "machines_served from analytics.part_demand_daily where demand_date between "
        "'2025-01-03' and '2025-01-04' order by 1").fetchall() == [
        (date(2025, 1, 3), 3.0, 1.0, 2.0, 1), (date(2025, 1, 4), 0.0, 0.0, 0.0, 0)]


def insert_model_run(conn, version: str, trained_at: str, backtest: dict) -> None:
    from sparecast_assets.forecasting.store import MODEL_RUNS_DDL

    conn.execute(MODEL_RUNS_DDL)
    conn.execute(
        "insert into ml.model_runs (model_version, trained_at, training_start, training_end, "
        "horizon_days, dispersion, params, features, backtest) values "
        "(%s, %s, '2025-01-01', '2025-12-31', 28, 0.1, %s, %s, %s)",
        (version, trained_at, json.dumps({"num_leaves": 31}),
         json.dumps(["demand_lag_0", "horizon_days"]), json.dumps(backtest)))


def test_model_runs_and_their_backtest_metrics_flat(conn):
    insert_model_run(conn, "lgbm-a", "2026-01-01 06:00+00", {
        "lightgbm": {"mae": 0.4, "rmse": 0.5, "bias": 0.01, "horizon_total_mae": 1.5},
        "mean_28d": {"mae": 0.38, "rmse": 0.52, "bias": 0.02, "horizon_total_mae": 1.4,
                     "pinball_p90": 0.2},
        "_folds": {"origins": ["2025-12-03", "2025-11-05"], "rows": 100},
    })
    insert_model_run(conn, "lgbm-b", "2026-01-08 06:00+00",
                     {"_skipped": "a backtest needs more than 56 days of history"})
    apply_views(conn)

    assert conn.execute(
        "select model_version, training_days, feature_count, features, params, backtest_origins, "
        "backtest_skipped_reason, is_latest from analytics.model_runs order by 1").fetchall() == [
        ("lgbm-a", 365, 2, '["demand_lag_0", "horizon_days"]', '{"num_leaves": 31}',
         "2025-11-05, 2025-12-03", None, False),
        ("lgbm-b", 365, 2, '["demand_lag_0", "horizon_days"]', '{"num_leaves": 31}', None,
         "a backtest needs more than 56 days of history", True),
    ]
    rows = conn.execute("select model_version, method, mae, rmse, bias, horizon_total_mae, "
                        "metrics from analytics.model_backtest order by method").fetchall()
    assert rows[0] == ("lgbm-a", "lightgbm", 0.4, 0.5, 0.01, 1.5, json.dumps(
        {"mae": 0.4, "bias": 0.01, "rmse": 0.5, "horizon_total_mae": 1.5}))
    assert rows[1][:6] == ("lgbm-a", "mean_28d", 0.38, 0.52, 0.02, 1.4)
    assert json.loads(rows[1][6])["pinball_p90"] == 0.2
    assert len(rows) == 2
    # Runs of the current model carry the probabilistic measures too.
    insert_model_run(conn, "cascade-c", "2026-01-15 06:00+00", {
        "sparecast": {"wql": 0.85, "mase": 0.74, "rmsse": 0.56, "bias": -0.01, "mae": 0.3,
                      "rmse": 0.4, "horizon_total_mae": 1.2}})
    assert conn.execute("select method, wql, mase, rmsse, bias from analytics.model_backtest "
                        "where model_version = 'cascade-c'").fetchall() == [
        ("sparecast", 0.85, 0.74, 0.56, -0.01)]


def fill_machine_days(conn, machine: str, errors: list[int], failures: dict | None = None,
                      replaced: dict | None = None, start: date = date(2025, 1, 1)) -> None:
    """One row per day from ``start``: errors[i] errors on day i, failures {day index: count},
    and days since replacement per part on the last day."""
    failures = failures or {}
    for i, count in enumerate(errors):
        conn.execute(
            "insert into dbt.fct_machine_daily values (%s, %s, 24, '{}', '{}', %s, '{}', %s, 0, "
            "%s)", (machine, start + timedelta(i), count, failures.get(i, 0),
                    json.dumps(replaced if i == len(errors) - 1 and replaced else {})))


def test_fleet_health_flags_rising_errors_and_sensor_drift(conn):
    # 35 days ending 2025-02-04. M-1: 7 errors in the 28 days before the last week (0.25 a
    # day), then 4 in the last week (0.571 a day): ratio 2.29 with >= 3 errors -> rising.
    m1 = [1 if i % 4 == 0 else 0 for i in range(28)] + [1, 0, 1, 0, 1, 0, 1]
    fill_machine_days(conn, "M-1", m1, failures={3: 1}, replaced={"P-1": 40, "P-2": 12})
    # M-2: an error a day throughout (ratio 1), but its temperature drifts in the last week.
    fill_machine_days(conn, "M-2", [1] * 35)
    baseline = [10.0 + (i % 3) for i in range(28)]
    recent = [14.0] * 7
    for i, value in enumerate(baseline + recent):
        conn.execute("insert into dbt.fct_machine_sensor_daily values ('M-2', %s, 'temperature_c', "
                     "24, %s, %s, %s, 0)", (date(2025, 1, 1) + timedelta(i), value, value, value))
    apply_views(conn)

    rows = {r[0]: r[1:] for r in conn.execute(
        "select machine_id, as_of_date, errors_last_7d, errors_per_day_prior_28d, "
        "error_rate_ratio, drifting_sensor, sensor_drift_z, failures_last_90d, "
        "last_failure_date, days_since_last_failure, max_days_since_replacement, "
        "rising_failure_risk, risk_reason from analytics.fleet_health")}

    z = (14.0 - statistics.mean(baseline)) / statistics.stdev(baseline)
    assert rows["M-1"] == (date(2025, 2, 4), 4, 0.25, pytest.approx(4 / 7 / 0.25), None, None,
                           1, date(2025, 1, 4), 31, 40.0, True, "errors")
    assert rows["M-2"] == (date(2025, 2, 4), 7, 1.0, 1.0, "temperature_c", pytest.approx(z), 0,
                           None, None, None, True, "sensor drift")
    assert z > 3


def test_machine_health_daily_counts_trailing_errors(conn):
    fill_machine_days(conn, "M-1", [1] * 10)
    apply_views(conn)

    assert conn.execute(
        "select activity_date, error_count, errors_last_7d, errors_last_28d "
        "from analytics.machine_health_daily where activity_date in ('2025-01-03', '2025-01-10') "
        "order by 1").fetchall() == [(date(2025, 1, 3), 1, 3, 3), (date(2025, 1, 10), 1, 7, 10)]


def test_without_the_dbt_marts_the_error_names_them_and_nothing_is_created(fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        with pytest.raises(MissingTablesError, match=re.escape(
                "the analytics views read tables that do not exist yet: dbt.dim_parts (from "
                "dbt (the dim_parts model)), dbt.dim_machines")):
            apply_views(conn)
        assert conn.execute("select count(*) from information_schema.views "
                            "where table_schema = 'analytics'").fetchone()[0] == 0


def insert_recommendation(conn, as_of: date, part: str, location: str, **values) -> None:
    """A recommendation row as the inventory asset writes it (through its store's code)."""
    import pandas as pd

    from sparecast_assets.inventory.policy import EXCEPTION_COLUMNS, RECOMMENDATION_COLUMNS
    from sparecast_assets.inventory.store import write_recommendations

    row = {column: 0.0 for column in RECOMMENDATION_COLUMNS}
    row.update(as_of_date=as_of, part_id=part, location_id=location, model_version="lgbm-a",
               criticality="high", service_measure="fill_rate", service_target=0.99,
               inventory_snapshot_date=as_of, reorder_point=0, order_up_to_level=0,
               days_of_cover=None, projected_stockout_date=None, last_demand_date=None,
               data_flags="", pack_size=1.0)
    row.update(values)
    recommendations = pd.DataFrame([row], columns=RECOMMENDATION_COLUMNS)
    at_risk = recommendations.assign(risk_rank=1)
    if row["stockout_probability"] <= 1 - row["service_target"]:
        at_risk = at_risk.iloc[0:0]
    write_recommendations(conn, recommendations, at_risk[EXCEPTION_COLUMNS])


def test_stock_recommendations_and_exceptions_of_every_as_of_date(conn):
    apply_views(conn)
    insert_recommendation(conn, date(2025, 1, 3), "P-1", "WH-01", on_hand=1.0, on_order=2.0,
                          inventory_position=3.0, reorder_point=4, order_up_to_level=9,
                          recommended_order_qty=6.0, stockout_probability=0.2,
                          expected_units_short=0.5, value_at_risk=6.25,
                          projected_stockout_date=date(2025, 1, 5), days_of_cover=2.0)
    insert_recommendation(conn, date(2025, 1, 10), "P-1", "WH-02", on_hand=8.0,
                          inventory_position=8.0, reorder_point=4, order_up_to_level=9,
                          stockout_probability=0.001, data_flags="lead_time_default")

    assert conn.execute(
        "select as_of_date, location_id, inventory_position, reorder_point, "
        "recommended_order_qty, needs_order, stockout_probability, data_flags, is_latest "
        "from analytics.stock_recommendations order by as_of_date").fetchall() == [
        (date(2025, 1, 3), "WH-01", 3.0, 4.0, 6.0, True, 0.2, "", False),
        (date(2025, 1, 10), "WH-02", 8.0, 4.0, 0.0, False, 0.001, "lead_time_default", True),
    ]
    assert conn.execute(
        "select as_of_date, part_id, location_id, risk_rank, stockout_probability, "
        "allowed_stockout_probability, value_at_risk, projected_stockout_date, is_latest "
        "from analytics.stockout_exceptions").fetchall() == [
        (date(2025, 1, 3), "P-1", "WH-01", 1, 0.2, pytest.approx(0.01), 6.25, date(2025, 1, 5),
         True)]
    # A location known only from stock, and one from the machines.
    assert conn.execute("select location_id, machines from analytics.dim_locations "
                        "order by 1").fetchall() == [("WH-01", 1), ("WH-02", 0)]


def powerbi_doc_views() -> set[str]:
    text = (REPO / "docs" / "powerbi.md").read_text()
    return set(re.findall(r"\banalytics\.([a-z_]+)\b", text))


def test_every_view_docs_powerbi_md_names_exists(conn):
    conn.execute(QUANTILE_FORECAST_TABLE)
    apply_views(conn)
    named = powerbi_doc_views()
    existing = {name for (name,) in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'analytics'")}

    assert named - existing == set()
    # and the doc covers every view a report can load
    assert {v.name for v in views.VIEWS} - named == set()
