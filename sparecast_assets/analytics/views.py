"""The views of the ``analytics`` schema that Power BI and the dashboard read.

A star: facts keyed to ``dim_parts``, ``dim_machines`` and ``dim_dates``. Every view and column
carries a comment (Power BI shows them as descriptions). The views are the stable surface over
tables that change with pipeline and model versions, so they:

- cast every column to a fixed type, whatever type dbt or pandas gave the table underneath;
- read the forecast table's quantile columns where they exist and show null where an older
  forecast table has none, so a view never fails because the model that wrote it was older;
- read no other view of this module, so each can be replaced on its own.

The facts carry keys and measures only; attributes (criticality, location) live in the dims.
That keeps the facts off ``dbt.dim_parts`` and ``dbt.dim_machines``, which dbt rebuilds as
tables: it drops the old table with CASCADE, which drops the two dim views with it until
``apply_views`` runs again.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from sparecast_assets import db

SCHEMA = "analytics"

# Columns of analytics.part_demand_forecast that the views pass through, with the type they
# have in every view. The quantile columns and demand_class came with quantile forecasts.
FORECAST_QUANTILES = ("p10", "p20", "p30", "p40", "p50", "p60", "p70", "p80", "p90", "p95",
                      "p99")
FORECAST_MEASURES = {"demand_mean": "double precision",
                     **{f"demand_{q}": "double precision" for q in FORECAST_QUANTILES},
                     "demand_class": "text"}


@dataclass(frozen=True)
class View:
    name: str
    description: str
    # (column, comment), in the order the query returns them
    columns: tuple[tuple[str, str], ...]
    # a query; "{forecast_measures}" becomes the FORECAST_MEASURES select items on alias f
    query: str

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _quantile_comment(q: str) -> str:
    level = int(q[1:])
    return (f"{level}th percentile of the day's demand in units: demand is at or below this on "
            f"{level} of 100 such days. Null for forecasts written before quantile forecasts.")


FORECAST_COLUMNS = (
    ("demand_mean", "Expected demand on the target date, in units."),
    *((f"demand_{q}", _quantile_comment(q)) for q in FORECAST_QUANTILES),
    ("demand_class", "Demand pattern of the part at the as-of date: smooth, erratic, "
                     "intermittent, lumpy, no_demand or new. Null for older forecasts."),
)

DIM_PARTS = View(
    "dim_parts",
    "One row per spare part: master data where it has landed, and every part seen only in "
    "events (then the attributes are null and has_master_data is false).",
    (
        ("part_id", "Part identifier (key)."),
        ("description", "Part description from the parts master data."),
        ("criticality", "How badly a missing part stops work: high, medium or low."),
        ("unit_cost", "Cost of one unit, in the currency of the master data."),
        ("lead_time_days", "Replenishment lead time in days from order to receipt."),
        ("min_order_qty", "Minimum order quantity, in units."),
        ("pack_size", "Units per pack: orders are multiples of this."),
        ("has_master_data", "True when the part is in the parts master data."),
    ),
    """
    select
        part_id::text,
        description::text,
        criticality::text,
        unit_cost::double precision,
        lead_time_days::double precision,
        min_order_qty::double precision,
        pack_size::double precision,
        has_master_data::boolean
    from dbt.dim_parts
    """,
)

DIM_MACHINES = View(
    "dim_machines",
    "One row per machine: master data where it has landed, and every machine seen only in "
    "events or telemetry (then the attributes are null and has_master_data is false).",
    (
        ("machine_id", "Machine identifier (key)."),
        ("model", "Machine model."),
        ("age_years", "Age of the machine in years, as of its newest master-data snapshot."),
        ("location_id", "Site or warehouse serving the machine."),
        ("has_master_data", "True when the machine is in the machines master data."),
    ),
    """
    select
        machine_id::text,
        model::text,
        age_years::double precision,
        location_id::text,
        has_master_data::boolean
    from dbt.dim_machines
    """,
)

DIM_DATES = View(
    "dim_dates",
    "One row per calendar day, without gaps, from the first day of demand history to the last "
    "forecast target date. Mark it as the date table in Power BI.",
    (
        ("calendar_date", "The day (key)."),
        ("year", "Calendar year."),
        ("quarter", "Calendar quarter, 1-4."),
        ("month", "Calendar month, 1-12."),
        ("month_name", "Month name in English, e.g. January."),
        ("month_start_date", "First day of the month."),
        ("iso_year", "ISO 8601 week-numbering year."),
        ("iso_week", "ISO 8601 week number, 1-53."),
        ("week_start_date", "Monday of the ISO week."),
        ("day_of_week", "ISO day of the week: 1 Monday .. 7 Sunday."),
        ("day_name", "Day name in English, e.g. Monday."),
        ("is_weekend", "True on Saturday and Sunday."),
    ),
    """
    with bounds as (
        select
            least(demand.first_day, forecast.first_day) as first_day,
            greatest(demand.last_day, forecast.last_day) as last_day
        from (select min(demand_date) as first_day, max(demand_date) as last_day
              from dbt.fct_part_demand_daily) as demand
        cross join (select min(as_of_date) as first_day, max(target_date) as last_day
                    from analytics.part_demand_forecast) as forecast
    ),

    days as (
        select day::date as calendar_date
        from bounds
        cross join generate_series(bounds.first_day, bounds.last_day, interval '1 day') as day
    )

    select
        calendar_date::date,
        extract(year from calendar_date)::integer as year,
        extract(quarter from calendar_date)::integer as quarter,
        extract(month from calendar_date)::integer as month,
        trim(to_char(calendar_date, 'FMMonth'))::text as month_name,
        date_trunc('month', calendar_date)::date as month_start_date,
        extract(isoyear from calendar_date)::integer as iso_year,
        extract(week from calendar_date)::integer as iso_week,
        date_trunc('week', calendar_date)::date as week_start_date,
        extract(isodow from calendar_date)::integer as day_of_week,
        trim(to_char(calendar_date, 'FMDay'))::text as day_name,
        (extract(isodow from calendar_date) >= 6)::boolean as is_weekend
    from days
    """,
)

PART_DEMAND_DAILY = View(
    "part_demand_daily",
    "One row per part per day of history, zero-filled: the units consumed that day (UTC), the "
    "demand signal the forecasts learn from.",
    (
        ("part_id", "Part (key to dim_parts)."),
        ("demand_date", "Day of consumption, UTC (key to dim_dates)."),
        ("demand_quantity", "Units consumed that day, all reasons."),
        ("failure_demand_quantity", "Units consumed replacing failed parts."),
        ("planned_demand_quantity", "Units consumed for any other reason (preventive "
                                    "maintenance): demand_quantity - failure_demand_quantity."),
        ("machines_served", "Distinct machines that consumed the part that day."),
    ),
    """
    select
        part_id::text,
        demand_date::date,
        demand_quantity::double precision,
        failure_demand_quantity::double precision,
        (demand_quantity - failure_demand_quantity)::double precision
            as planned_demand_quantity,
        machines_served::integer
    from dbt.fct_part_demand_daily
    """,
)

# One row per forecast row with the actual demand of its target date, where it is known.
# Shared by the two forecast views (each reads the tables itself: no view on a view).
_FORECAST_WITH_ACTUAL = """
    select
        f.as_of_date::date as as_of_date,
        f.part_id::text as part_id,
        f.target_date::date as target_date,
        f.horizon_days::integer as horizon_days,
        f.model_version::text as model_version,
        {forecast_measures},
        actual.demand_quantity::double precision as actual_quantity
    from analytics.part_demand_forecast as f
    left join dbt.fct_part_demand_daily as actual
        on actual.part_id = f.part_id and actual.demand_date = f.target_date
"""

FORECAST_VS_ACTUAL = View(
    "forecast_vs_actual",
    "One row per forecast (as_of_date, part_id, target_date): the forecast with its quantile "
    "band, and the demand that followed once the target date is in the history. Every as-of "
    "date the pipeline kept is here, so forecasts can be judged over time.",
    (
        ("as_of_date", "Last day of history the forecast was made from (key to dim_dates)."),
        ("part_id", "Part (key to dim_parts)."),
        ("target_date", "Day the forecast is for (key to dim_dates)."),
        ("horizon_days", "Days ahead of the as-of date: target_date - as_of_date, from 1."),
        ("model_version", "Model that made the forecast (key to model_runs)."),
        *FORECAST_COLUMNS,
        ("actual_quantity", "Units consumed on the target date; null while the target date "
                            "is not in the history yet."),
        ("has_actual", "True when the actual demand of the target date is known."),
        ("forecast_error", "demand_mean - actual_quantity, in units: positive means the "
                           "forecast was too high. Null without an actual."),
        ("absolute_error", "Absolute value of forecast_error, in units."),
        ("within_p10_p90", "True when the actual fell inside the 10th-90th percentile band. "
                           "Null without an actual or without quantiles."),
    ),
    f"""
    with rows as ({_FORECAST_WITH_ACTUAL})

    select
        rows.*,
        (actual_quantity is not null)::boolean as has_actual,
        (demand_mean - actual_quantity)::double precision as forecast_error,
        abs(demand_mean - actual_quantity)::double precision as absolute_error,
        (actual_quantity between demand_p10 and demand_p90)::boolean as within_p10_p90
    from rows
    """,
)

FORECAST_ACCURACY = View(
    "forecast_accuracy",
    "One row per as-of date, model version and horizon (days ahead) with at least one actual: "
    "how far the forecasts were from the demand that followed, over all parts. The sums are "
    "additive, so Power BI measures can re-aggregate them (MAE = sum_absolute_error / "
    "observations).",
    (
        ("as_of_date", "Last day of history the forecasts were made from (key to dim_dates)."),
        ("model_version", "Model that made the forecasts (key to model_runs)."),
        ("horizon_days", "Days ahead of the as-of date, from 1."),
        ("parts", "Parts forecast for this as-of date and horizon."),
        ("observations", "Forecasts whose actual is known (part-days)."),
        ("actual_quantity", "Units consumed over the observed part-days."),
        ("forecast_quantity", "Expected units (demand_mean) over the observed part-days."),
        ("sum_error", "Sum of demand_mean - actual, in units (positive: over-forecast)."),
        ("sum_absolute_error", "Sum of absolute errors, in units."),
        ("sum_squared_error", "Sum of squared errors, in units squared."),
        ("mae", "Mean absolute error per part-day, in units."),
        ("rmse", "Root mean squared error per part-day, in units."),
        ("bias", "Mean error per part-day, in units (positive: over-forecast)."),
        ("wape", "Weighted absolute percentage error: sum_absolute_error / actual_quantity, "
                 "as a fraction. Null when nothing was consumed."),
        ("p10_p90_coverage", "Share of actuals inside the 10th-90th percentile band, as a "
                             "fraction; 0.8 when the band is calibrated. Null without "
                             "quantiles."),
        ("p90_coverage", "Share of actuals at or below the 90th percentile, as a fraction; 0.9 "
                         "when calibrated. Null without quantiles."),
    ),
    f"""
    with rows as ({_FORECAST_WITH_ACTUAL}),

    observed as (
        select *, demand_mean - actual_quantity as error from rows
    )

    select
        as_of_date,
        model_version,
        horizon_days,
        count(distinct part_id)::integer as parts,
        count(actual_quantity)::integer as observations,
        sum(actual_quantity)::double precision as actual_quantity,
        sum(demand_mean) filter (where actual_quantity is not null)::double precision
            as forecast_quantity,
        sum(error)::double precision as sum_error,
        sum(abs(error))::double precision as sum_absolute_error,
        sum(error * error)::double precision as sum_squared_error,
        avg(abs(error))::double precision as mae,
        sqrt(avg(error * error))::double precision as rmse,
        avg(error)::double precision as bias,
        (sum(abs(error)) / nullif(sum(actual_quantity), 0))::double precision as wape,
        avg((actual_quantity between demand_p10 and demand_p90)::integer)
            ::double precision as p10_p90_coverage,
        avg((actual_quantity <= demand_p90)::integer)::double precision as p90_coverage
    from observed
    group by as_of_date, model_version, horizon_days
    having count(actual_quantity) > 0
    """,
)

MODEL_RUNS = View(
    "model_runs",
    "One row per trained demand model: when it was trained, on which days, with which "
    "settings. The newest one makes the current forecast.",
    (
        ("model_version", "Model identifier (key): a digest of its data and settings."),
        ("trained_at", "When the model was (last) trained, UTC."),
        ("training_start", "First day of the training history."),
        ("training_end", "Last day of the training history."),
        ("training_days", "Days of history trained on: training_end - training_start + 1."),
        ("horizon_days", "Days ahead the model forecasts."),
        ("feature_count", "Number of model features."),
        ("features", "The model's features, as a JSON array."),
        ("params", "The model's training parameters, as a JSON object."),
        ("backtest_origins", "As-of dates of the backtest folds, comma separated."),
        ("backtest_skipped_reason", "Why the backtest was skipped (short history); null when "
                                    "it ran."),
        ("is_latest", "True for the most recently trained model."),
    ),
    """
    select
        model_version::text,
        trained_at::timestamptz,
        training_start::date,
        training_end::date,
        (training_end - training_start + 1)::integer as training_days,
        horizon_days::integer,
        jsonb_array_length(features)::integer as feature_count,
        features::text,
        params::text,
        (select string_agg(origin, ', ' order by origin)
         from jsonb_array_elements_text(backtest -> '_folds' -> 'origins') as origin)::text
            as backtest_origins,
        (backtest ->> '_skipped')::text as backtest_skipped_reason,
        (trained_at = max(trained_at) over ())::boolean as is_latest
    from ml.model_runs
    """,
)

MODEL_BACKTEST = View(
    "model_backtest",
    "One row per model version and forecasting method (the model and the baselines it is "
    "compared with): errors of daily demand per part in units, over rolling backtest origins.",
    (
        ("model_version", "Model run the backtest belongs to (key to model_runs)."),
        ("trained_at", "When that model was trained, UTC."),
        ("method", "Forecasting method: the model (sparecast) or a baseline (zero, "
                   "seasonal_naive, empirical_quantiles, croston_sba, tsb, adida, imapa)."),
        ("mae", "Mean absolute error of daily demand per part, in units."),
        ("rmse", "Root mean squared error of daily demand per part, in units."),
        ("bias", "Relative bias of the total: (sum of forecast means - sum of actuals) / "
                 "sum of actuals; -1 is a forecast of nothing."),
        ("horizon_total_mae", "Mean absolute error of each part's total demand over the "
                              "horizon, in units."),
        ("metrics", "Every metric of the method as a JSON object, including ones added after "
                    "this view was written."),
        ("wql", "Weighted quantile loss over the levels 0.1 ... 0.9 (0 is perfect, 1 is the "
                "loss of forecasting nothing); null for runs recorded before it was measured."),
        ("mase", "Mean absolute scaled error of the median rounded to whole units (seasonal "
                 "naive scale); null for runs recorded before it was measured."),
        ("rmsse", "Root mean squared scaled error of the mean (M5 scale); null for runs "
                  "recorded before it was measured."),
    ),
    """
    select
        runs.model_version::text,
        runs.trained_at::timestamptz,
        method.key::text as method,
        (method.value ->> 'mae')::double precision as mae,
        (method.value ->> 'rmse')::double precision as rmse,
        (method.value ->> 'bias')::double precision as bias,
        (method.value ->> 'horizon_total_mae')::double precision as horizon_total_mae,
        method.value::text as metrics,
        (method.value ->> 'wql')::double precision as wql,
        (method.value ->> 'mase')::double precision as mase,
        (method.value ->> 'rmsse')::double precision as rmsse
    from ml.model_runs as runs
    cross join lateral jsonb_each(runs.backtest) as method
    -- keys starting with "_" hold the folds or why the backtest was skipped, not a method
    where left(method.key, 1) <> '_' and jsonb_typeof(method.value) = 'object'
    """,
)

MACHINE_HEALTH_DAILY = View(
    "machine_health_daily",
    "One row per machine per day of history: telemetry, errors, failures and parts replaced, "
    "with trailing 7- and 28-day error counts.",
    (
        ("machine_id", "Machine (key to dim_machines)."),
        ("activity_date", "Day, UTC (key to dim_dates)."),
        ("telemetry_readings", "Sensor readings received that day."),
        ("error_count", "Errors and alarms raised that day."),
        ("failure_count", "Failures that day."),
        ("parts_replaced", "Units of parts replaced that day."),
        ("errors_last_7d", "Errors in the 7 days ending on this day."),
        ("errors_last_28d", "Errors in the 28 days ending on this day."),
    ),
    """
    select
        machine_id::text,
        activity_date::date,
        telemetry_readings::bigint,
        error_count::bigint,
        failure_count::bigint,
        parts_replaced::double precision,
        sum(error_count) over (partition by machine_id order by activity_date
                               range between interval '6 days' preceding and current row)
            ::bigint as errors_last_7d,
        sum(error_count) over (partition by machine_id order by activity_date
                               range between interval '27 days' preceding and current row)
            ::bigint as errors_last_28d
    from dbt.fct_machine_daily
    """,
)

# A machine's failure risk is rising when it raises errors at least twice as often in the last
# 7 days as in the 28 days before (and at least 3 of them: one stray error is not a trend), or
# when a sensor's last-7-day mean has moved 3 or more standard deviations of its daily means
# in the 28 days before: the drift that precedes wear-out failures.
ERROR_RATE_RATIO_RISING = 2.0
ERRORS_LAST_7D_RISING = 3
SENSOR_DRIFT_Z_RISING = 3.0

FLEET_HEALTH = View(
    "fleet_health",
    "One row per machine, as of the last day of history: recent errors against the machine's "
    "own baseline, sensor drift, failures, and whether its failure risk is rising. Sort by "
    "rising_failure_risk, then sensor_drift_z or error_rate_ratio.",
    (
        ("machine_id", "Machine (key to dim_machines)."),
        ("as_of_date", "Last day of history (key to dim_dates)."),
        ("errors_last_7d", "Errors in the 7 days ending on the as-of date."),
        ("errors_per_day_last_7d", "errors_last_7d / 7."),
        ("errors_per_day_prior_28d", "Errors per day in the 28 days before those 7: the "
                                     "machine's baseline."),
        ("error_rate_ratio", "errors_per_day_last_7d / errors_per_day_prior_28d; null when the "
                             "baseline is zero."),
        ("drifting_sensor", "Sensor channel whose recent mean moved furthest from its baseline."),
        ("sensor_drift_z", "That sensor's last-7-day mean minus its prior-28-day mean, in "
                           "standard deviations of its daily means (signed)."),
        ("failures_last_90d", "Failures in the 90 days ending on the as-of date."),
        ("last_failure_date", "Day of the most recent failure; null when none is recorded."),
        ("days_since_last_failure", "as_of_date - last_failure_date, in days."),
        ("max_days_since_replacement", "Days since the part replaced longest ago on this "
                                       "machine was replaced; null when none is recorded."),
        ("rising_failure_risk", f"True when error_rate_ratio >= {ERROR_RATE_RATIO_RISING:g} "
                                f"with at least {ERRORS_LAST_7D_RISING} errors in 7 days, or "
                                f"|sensor_drift_z| >= {SENSOR_DRIFT_Z_RISING:g}."),
        ("risk_reason", "Which rule made the risk rising: errors, sensor drift, or both."),
    ),
    f"""
    with as_of as (
        select max(activity_date) as as_of_date from dbt.fct_machine_daily
    ),

    errors as (
        select
            daily.machine_id,
            sum(daily.error_count) filter (
                where daily.activity_date > as_of.as_of_date - 7) as errors_last_7d,
            sum(daily.error_count) filter (
                where daily.activity_date <= as_of.as_of_date - 7
                  and daily.activity_date > as_of.as_of_date - 35) / 28.0
                as errors_per_day_prior_28d,
            sum(daily.failure_count) filter (
                where daily.activity_date > as_of.as_of_date - 90) as failures_last_90d,
            max(daily.activity_date) filter (where daily.failure_count > 0) as last_failure_date
        from dbt.fct_machine_daily as daily
        cross join as_of
        group by daily.machine_id
    ),

    sensor_windows as (
        select
            s.machine_id,
            s.sensor,
            avg(s.mean_value) filter (where s.reading_date > as_of.as_of_date - 7) as recent_mean,
            avg(s.mean_value) filter (where s.reading_date <= as_of.as_of_date - 7)
                as baseline_mean,
            stddev_samp(s.mean_value) filter (where s.reading_date <= as_of.as_of_date - 7)
                as baseline_sd
        from dbt.fct_machine_sensor_daily as s
        cross join as_of
        where s.reading_date > as_of.as_of_date - 35
        group by s.machine_id, s.sensor
    ),

    drift as (
        select distinct on (machine_id)
            machine_id,
            sensor as drifting_sensor,
            (recent_mean - baseline_mean) / baseline_sd as sensor_drift_z
        from sensor_windows
        where baseline_sd > 0 and recent_mean is not null
        order by machine_id, abs((recent_mean - baseline_mean) / baseline_sd) desc, sensor
    ),

    replacement as (
        select daily.machine_id, max(since.value::numeric) as max_days_since_replacement
        from dbt.fct_machine_daily as daily
        cross join as_of
        cross join lateral jsonb_each_text(daily.days_since_replacement) as since
        where daily.activity_date = as_of.as_of_date
        group by daily.machine_id
    ),

    health as (
        select
            errors.machine_id,
            as_of.as_of_date,
            coalesce(errors.errors_last_7d, 0) as errors_last_7d,
            coalesce(errors.errors_last_7d, 0) / 7.0 as errors_per_day_last_7d,
            coalesce(errors.errors_per_day_prior_28d, 0) as errors_per_day_prior_28d,
            (coalesce(errors.errors_last_7d, 0) / 7.0)
                / nullif(errors.errors_per_day_prior_28d, 0) as error_rate_ratio,
            drift.drifting_sensor,
            drift.sensor_drift_z,
            coalesce(errors.failures_last_90d, 0) as failures_last_90d,
            errors.last_failure_date,
            replacement.max_days_since_replacement
        from errors
        cross join as_of
        left join drift on drift.machine_id = errors.machine_id
        left join replacement on replacement.machine_id = errors.machine_id
    ),

    flagged as (
        select
            health.*,
            coalesce(error_rate_ratio >= {ERROR_RATE_RATIO_RISING}
                     and errors_last_7d >= {ERRORS_LAST_7D_RISING}, false) as errors_rising,
            coalesce(abs(sensor_drift_z) >= {SENSOR_DRIFT_Z_RISING}, false) as drift_rising
        from health
    )

    select
        machine_id::text,
        as_of_date::date,
        errors_last_7d::bigint,
        errors_per_day_last_7d::double precision,
        errors_per_day_prior_28d::double precision,
        error_rate_ratio::double precision,
        drifting_sensor::text,
        sensor_drift_z::double precision,
        failures_last_90d::bigint,
        last_failure_date::date,
        (as_of_date - last_failure_date)::integer as days_since_last_failure,
        max_days_since_replacement::double precision,
        (errors_rising or drift_rising)::boolean as rising_failure_risk,
        (case
            when errors_rising and drift_rising then 'errors and sensor drift'
            when errors_rising then 'errors'
            when drift_rising then 'sensor drift'
        end)::text as risk_reason
    from flagged
    """,
)

DIM_LOCATIONS = View(
    "dim_locations",
    "One row per location (site or warehouse): every location of a machine or of a stock "
    "recommendation, with the machines it serves. 'unknown' holds parts with no stock count "
    "and no located usage.",
    (
        ("location_id", "Location identifier (key)."),
        ("machines", "Machines at the location (0 for a stock-only location)."),
    ),
    """
    with locations as (
        select location_id from dbt.dim_machines where location_id is not null
        union
        select location_id from analytics.inventory_recommendations
    )

    select
        locations.location_id::text,
        count(machines.machine_id)::integer as machines
    from locations
    left join dbt.dim_machines as machines on machines.location_id = locations.location_id
    group by locations.location_id
    """,
)

STOCK_RECOMMENDATIONS = View(
    "stock_recommendations",
    "One row per as-of date, part and location: the stock position, the reorder point and "
    "order-up-to level for the part's service target, the order to place now, and the risk, "
    "cover, excess and dead-stock figures. Quantities in units, values in the parts' cost "
    "currency. Every as-of date is kept; is_latest marks the newest.",
    (
        ("as_of_date", "Day of the forecast the recommendation is computed from (key to "
                       "dim_dates)."),
        ("part_id", "Part (key to dim_parts)."),
        ("location_id", "Location holding the stock (key to dim_locations)."),
        ("model_version", "Model whose forecast was used (key to model_runs); null when the "
                          "part had no forecast."),
        ("criticality", "Criticality the service target was set from (the default when the "
                        "part has none; see data_flags)."),
        ("service_measure", "Service target measure: fill_rate or cycle_service."),
        ("service_target", "Target service level, as a fraction (e.g. 0.95)."),
        ("lead_time_days", "Lead time used, in days."),
        ("review_period_days", "Days between order reviews used."),
        ("inventory_snapshot_date", "Day of the stock count used; null without a count."),
        ("on_hand", "Units on hand at the count."),
        ("on_order", "Units ordered and not yet received."),
        ("inventory_position", "on_hand + on_order, in units: what the reorder point is "
                               "compared with."),
        ("mean_daily_demand", "Expected demand at this location, in units per day."),
        ("lead_time_demand_mean", "Expected demand over the lead time, in units."),
        ("safety_stock", "reorder_point - lead_time_demand_mean, in units (negative when the "
                         "target needs less than the mean)."),
        ("reorder_point", "Order when the inventory position is at or below this, in units."),
        ("order_up_to_level", "An order brings the inventory position up to this, in units."),
        ("expected_fill_rate", "Share of demand served from stock at the order-up-to level, as "
                               "a fraction."),
        ("expected_cycle_service_level", "Probability of no stockout in a replenishment "
                                         "cycle at the order-up-to level."),
        ("recommended_order_qty", "Units to order now (whole packs, at least the minimum "
                                  "order quantity); 0 above the reorder point."),
        ("recommended_order_value", "recommended_order_qty x unit cost."),
        ("needs_order", "True when recommended_order_qty > 0."),
        ("stockout_probability", "Probability that lead-time demand exceeds the inventory "
                                 "position, as a fraction."),
        ("expected_units_short", "Expected units short over the lead time."),
        ("value_at_risk", "expected_units_short x unit cost."),
        ("days_of_cover", "on_hand / mean_daily_demand, in days; null without demand."),
        ("projected_stockout_date", "When on hand runs out if nothing arrives; null without "
                                    "demand."),
        ("excess_units", "Units on hand beyond the order-up-to level plus the excess horizon's "
                         "demand."),
        ("excess_value", "excess_units x unit cost."),
        ("last_demand_date", "Last day the part was used at this location."),
        ("dead_stock_units", "Units on hand with no demand at the location in the dead-stock "
                             "window."),
        ("dead_stock_value", "dead_stock_units x unit cost."),
        ("data_flags", "Defaults and gaps used, comma separated (e.g. lead_time_default, "
                       "no_inventory_snapshot); empty when none."),
        ("is_latest", "True for the newest as-of date."),
    ),
    """
    select
        as_of_date::date,
        part_id::text,
        location_id::text,
        model_version::text,
        criticality::text,
        service_measure::text,
        service_target::double precision,
        lead_time_days::double precision,
        review_period_days::double precision,
        inventory_snapshot_date::date,
        on_hand::double precision,
        on_order::double precision,
        inventory_position::double precision,
        mean_daily_demand::double precision,
        lead_time_demand_mean::double precision,
        safety_stock::double precision,
        reorder_point::double precision,
        order_up_to_level::double precision,
        expected_fill_rate::double precision,
        expected_cycle_service_level::double precision,
        recommended_order_qty::double precision,
        recommended_order_value::double precision,
        (recommended_order_qty > 0)::boolean as needs_order,
        stockout_probability::double precision,
        expected_units_short::double precision,
        value_at_risk::double precision,
        days_of_cover::double precision,
        projected_stockout_date::date,
        excess_units::double precision,
        excess_value::double precision,
        last_demand_date::date,
        dead_stock_units::double precision,
        dead_stock_value::double precision,
        data_flags::text,
        (as_of_date = max(as_of_date) over ())::boolean as is_latest
    from analytics.inventory_recommendations
    """,
)

STOCKOUT_EXCEPTIONS = View(
    "stockout_exceptions",
    "One row per as-of date, part and location at risk of stockout: the lead time's stockout "
    "probability exceeds what the service target allows, so an order placed now arrives too "
    "late (expedite or transfer). Ranked by value at risk.",
    (
        ("as_of_date", "Day of the forecast (key to dim_dates)."),
        ("part_id", "Part (key to dim_parts)."),
        ("location_id", "Location (key to dim_locations)."),
        ("risk_rank", "1 = the largest value at risk on that as-of date."),
        ("stockout_probability", "Probability that lead-time demand exceeds the inventory "
                                 "position, as a fraction."),
        ("allowed_stockout_probability", "1 - service_target: what the target allows."),
        ("expected_units_short", "Expected units short over the lead time."),
        ("value_at_risk", "expected_units_short x unit cost."),
        ("service_target", "Target service level, as a fraction."),
        ("projected_stockout_date", "When on hand runs out if nothing arrives."),
        ("recommended_order_qty", "Units to order now."),
        ("data_flags", "Defaults and gaps used, comma separated; empty when none."),
        ("is_latest", "True for the newest as-of date."),
    ),
    """
    select
        as_of_date::date,
        part_id::text,
        location_id::text,
        risk_rank::integer,
        stockout_probability::double precision,
        (1 - service_target)::double precision as allowed_stockout_probability,
        expected_units_short::double precision,
        value_at_risk::double precision,
        service_target::double precision,
        projected_stockout_date::date,
        recommended_order_qty::double precision,
        data_flags::text,
        (as_of_date = max(as_of_date) over ())::boolean as is_latest
    from analytics.inventory_exceptions
    """,
)

VIEWS: tuple[View, ...] = (
    DIM_PARTS, DIM_MACHINES, DIM_LOCATIONS, DIM_DATES, PART_DEMAND_DAILY, FORECAST_VS_ACTUAL,
    FORECAST_ACCURACY, MODEL_RUNS, MODEL_BACKTEST, STOCK_RECOMMENDATIONS, STOCKOUT_EXCEPTIONS,
    MACHINE_HEALTH_DAILY, FLEET_HEALTH,
)

# Tables the views read, and whose creator they are: a view cannot be created before them.
REQUIRED_TABLES = {
    "dbt.dim_parts": "dbt (the dim_parts model)",
    "dbt.dim_machines": "dbt (the dim_machines model)",
    "dbt.fct_part_demand_daily": "dbt (the fct_part_demand_daily model)",
    "dbt.fct_machine_daily": "dbt (the fct_machine_daily model)",
    "dbt.fct_machine_sensor_daily": "dbt (the fct_machine_sensor_daily model)",
}


class MissingTablesError(RuntimeError):
    pass


def _forecast_measures(conn: psycopg.Connection) -> str:
    """The forecast measures as select items on alias ``f``: the column where the forecast table
    has it, else a typed null."""
    present = {name for (name,) in conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'analytics' and table_name = 'part_demand_forecast'")}
    items = []
    for column, sql_type in FORECAST_MEASURES.items():
        source = f"f.{column}" if column in present else "null"
        items.append(f"{source}::{sql_type} as {column}")
    return ",\n        ".join(items)


def _ensure_owned_tables(conn: psycopg.Connection) -> None:
    """Create the tables that Python assets own and write later (forecast, model runs, stock
    recommendations), empty, with their owners' own DDL, so the views exist from the first
    run."""
    from sparecast_assets.forecasting.store import FORECAST_DDL, MODEL_RUNS_DDL
    from sparecast_assets.inventory.store import EXCEPTIONS_DDL, RECOMMENDATIONS_DDL

    conn.execute('create schema if not exists "ml"')
    for ddl in (FORECAST_DDL, MODEL_RUNS_DDL, RECOMMENDATIONS_DDL, EXCEPTIONS_DDL):
        conn.execute(ddl)


def _missing_tables(conn: psycopg.Connection) -> list[str]:
    return [name for name in REQUIRED_TABLES
            if conn.execute("select to_regclass(%s)", (name,)).fetchone()[0] is None]


def view_sql(conn: psycopg.Connection, view: View) -> str:
    return view.query.replace("{forecast_measures}", _forecast_measures(conn))


def apply_views(conn: psycopg.Connection) -> list[str]:
    """Create or replace every view of the analytics schema with its comments, in one
    transaction (readers see the old views or the new ones, never none). Returns the names.

    ``create or replace view`` keeps grants and dependent objects, but only accepts new columns
    at the end; a view whose columns were renamed, removed or retyped is dropped and created
    again (without CASCADE: a user's own view on it stops the change with Postgres's error
    naming it)."""
    with conn.transaction():
        db.lock_ddl(conn)
        conn.execute(f'create schema if not exists "{SCHEMA}"')
        _ensure_owned_tables(conn)
        missing = _missing_tables(conn)
        if missing:
            raise MissingTablesError(
                "the analytics views read tables that do not exist yet: "
                + ", ".join(f"{t} (from {REQUIRED_TABLES[t]})" for t in missing)
                + "; run the pipeline (sparecast run) first")
        for view in VIEWS:
            name = sql.Identifier(SCHEMA, view.name)
            query = sql.SQL(view_sql(conn, view))
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("create or replace view {} as ").format(name) + query)
            except psycopg.errors.InvalidTableDefinition:
                conn.execute(sql.SQL("drop view {}").format(name))
                conn.execute(sql.SQL("create view {} as ").format(name) + query)
            conn.execute(sql.SQL("comment on view {} is {}").format(
                name, sql.Literal(view.description)))
            for column, comment in view.columns:
                conn.execute(sql.SQL("comment on column {} is {}").format(
                    sql.Identifier(SCHEMA, view.name, column), sql.Literal(comment)))
    return [view.name for view in VIEWS]
