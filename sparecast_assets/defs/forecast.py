"""Features, the global LightGBM demand model, and the forecast table planners read."""

from dataclasses import dataclass

import dagster as dg
import pandas as pd

from sparecast_assets.defs.automation import first_training, refresh_after_loads
from sparecast_assets.defs.resources import ForecastSettings, PostgresResource
from sparecast_assets.forecasting import model as demand_model
from sparecast_assets.forecasting.features import demand_matrix, horizon_rows, origin_features
from sparecast_assets.forecasting.store import (
    forecast_problems, read_model_inputs, record_model_run, write_forecast)


@dataclass
class PartDemandFeatures:
    matrix: pd.DataFrame  # day x part, units consumed, complete calendar
    features: pd.DataFrame  # (origin_date, part_id) -> feature columns

@dg.asset(
    group_name="forecasting",
    kinds={"python", "pandas"},
    automation_condition=refresh_after_loads,
    deps=["fct_part_demand_daily", "fct_part_fleet_daily", "fct_machine_sensor_daily"],
)
def part_demand_features(context: dg.AssetExecutionContext,
                         postgres: PostgresResource) -> PartDemandFeatures:
    """One row per part and origin day: demand lags and rolling windows on the complete
    calendar, the usage and health of the machines carrying the part, and sensor trends."""
    with postgres.connect() as conn:
        inputs = read_model_inputs(conn)
    if inputs["demand"].empty:
        raise dg.Failure("dbt.fct_part_demand_daily is empty: no part usage has been loaded")
    matrix = demand_matrix(inputs["demand"])
    features = origin_features(matrix, inputs["fleet"], inputs["sensors"])
    context.add_output_metadata({
        "parts": matrix.shape[1],
        "days": matrix.shape[0],
        "features": features.shape[1],
        "first_day": str(matrix.index.min().date()),
        "last_day": str(matrix.index.max().date()),
    })
    return PartDemandFeatures(matrix, features)

# Trained once as soon as its features are built; after that the retrain_part_demand_model
# schedule (defs/sensors.py) retrains it, and new data between retrains refreshes the forecast.
@dg.asset(group_name="forecasting", kinds={"lightgbm"},
          automation_condition=first_training)
def part_demand_model(context: dg.AssetExecutionContext, part_demand_features: PartDemandFeatures,
                      postgres: PostgresResource,
                      forecast_settings: ForecastSettings) -> demand_model.TrainedModel:
    """One global LightGBM model over all parts predicting daily demand 1..horizon days ahead,
    backtested at rolling origins against a weekly seasonal naive and a 28-day mean."""
    horizon = forecast_settings.horizon_days
    matrix, features = part_demand_features.matrix, part_demand_features.features
    try:
        backtest = demand_model.backtest(features, matrix, horizon,
                                         forecast_settings.backtest_folds)
    except demand_model.ShortHistoryError as exc:
        # A new deployment still gets a forecast; its accuracy is unknown until history grows.
        context.log.warning(f"backtest skipped: {exc}")
        backtest = {"_skipped": str(exc)}

    trained = demand_model.fit(horizon_rows(features, matrix, horizon))
    with postgres.connect() as conn:
        record_model_run(conn, trained, horizon, backtest)

    methods = [m for m in backtest if not m.startswith("_")]
    for method in methods:
        context.log.info(
            f"backtest {method}: MAE {backtest[method]['mae']:.4f}, RMSE "
            f"{backtest[method]['rmse']:.4f}, {horizon}-day total MAE "
            f"{backtest[method]['horizon_total_mae']:.3f}")
    metadata = {"model_version": trained.version, "dispersion": trained.dispersion,
                "backtest": dg.MetadataValue.json(backtest),
                "backtest_origins": ", ".join(backtest.get("_folds", {}).get("origins", []))
                or backtest.get("_skipped", "")}
    for method in methods:
        for metric, value in backtest[method].items():
            metadata[f"{method}_{metric}"] = value
    context.add_output_metadata(metadata)
    return trained

@dg.asset(group_name="forecasting", kinds={"postgres"},
          automation_condition=dg.AutomationCondition.eager())
def part_demand_forecast(context: dg.AssetExecutionContext,
                         part_demand_features: PartDemandFeatures,
                         part_demand_model: demand_model.TrainedModel,
                         postgres: PostgresResource,
                         forecast_settings: ForecastSettings) -> dg.MaterializeResult:
    """analytics.part_demand_forecast: one row per (as_of_date, part_id, target_date) with the
    mean, median and 90th percentile of daily demand in units. Earlier as-of dates are kept so
    forecasts can be compared with the actuals that followed."""
    forecast = demand_model.forecast(part_demand_model, part_demand_features.features,
                                     part_demand_features.matrix, forecast_settings.horizon_days)
    with postgres.connect() as conn:
        rows = write_forecast(conn, forecast)
    as_of = str(forecast["as_of_date"].iloc[0])
    context.log.info(f"forecast as of {as_of}: {rows:,} rows for {forecast['part_id'].nunique()} parts")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "as_of_date": as_of,
        "horizon_days": forecast_settings.horizon_days,
        "parts": int(forecast["part_id"].nunique()),
        "model_version": part_demand_model.version,
        "expected_demand_next_horizon": float(forecast["demand_mean"].sum()),
    })


@dg.asset_check(asset=part_demand_forecast, blocking=True)
def forecast_is_sane(postgres: PostgresResource) -> dg.AssetCheckResult:
    """The newest forecast has rows, no negative demand, p50 <= p90 everywhere, and covers every
    part with demand in the last year."""
    with postgres.connect() as conn:
        problems = forecast_problems(conn)
    passed = problems["forecast_rows"] > 0 and all(
        problems[k] == 0 for k in ("negative_rows", "unordered_quantile_rows",
                                   "active_parts_without_forecast"))
    return dg.AssetCheckResult(passed=passed, metadata=problems)
