"""Forecast sanity rules on a real Postgres."""

import psycopg
import pandas as pd

from sparecast_assets.forecasting.store import forecast_problems, write_forecast


def _forecast(rows):
    return pd.DataFrame(rows, columns=["as_of_date", "part_id", "target_date", "horizon_days",
                                       "demand_mean", "demand_p50", "demand_p90", "model_version"])


def test_forecast_problems_counts_each_broken_rule(fresh_database):
    with psycopg.connect(fresh_database) as conn:
        conn.execute("create schema analytics; create schema dbt")
        conn.execute("create table dbt.fct_part_demand_daily "
                     "(part_id text, demand_date date, demand_quantity float)")
        conn.execute("insert into dbt.fct_part_demand_daily values "
                     "('A', '2025-06-01', 1), ('B', '2025-05-01', 2), ('C', '2023-01-01', 5)")
        # An older as-of date with a bad row must not count: only the newest forecast is checked.
        write_forecast(conn, _forecast([("2025-05-31", "A", "2025-06-01", 1, -1.0, 0, 0, "v0")]))
        write_forecast(conn, _forecast([
            ("2025-06-01", "A", "2025-06-02", 1, 0.5, 1.0, 2.0, "v1"),
            ("2025-06-01", "A", "2025-06-03", 2, 0.5, 3.0, 2.0, "v1"),  # p50 above p90
            ("2025-06-01", "X", "2025-06-02", 1, -0.1, 0.0, 0.0, "v1"),  # negative mean
        ]))

        problems = forecast_problems(conn)

    # B had demand within the year and has no forecast; C's demand is older than a year.
    assert problems == {"as_of_date": "2025-06-01", "forecast_rows": 3, "negative_rows": 1,
                        "unordered_quantile_rows": 1, "active_parts_without_forecast": 1}
