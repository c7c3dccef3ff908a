"""Demand history and fleet signals, the global forecasting model with its backtest, and the
forecast table planners read. The model is sparecast's forecasting core
(``forecasting/core.py``), the same code the benchmarks measure."""

from dataclasses import dataclass

import dagster as dg
import pandas as pd

from sparecast_assets.defs.automation import first_training, refresh_after_loads
from sparecast_assets.defs.resources import (
    ForecastSettings, PostgresResource, default_artifacts_uri)
from sparecast_assets.forecasting import backtest as backtesting
from sparecast_assets.forecasting import core
from sparecast_assets.forecasting.classify import classify_demand
from sparecast_assets.forecasting.store import (
    QUANTILE_COLUMNS_SQL, forecast_problems, read_model_inputs, record_model_run, write_forecast)

DRIVERS_PER_PART = 5


@dataclass
class PartDemandInputs:
    """Daily demand per part (item, period, quantity), the fleet covariates per part and day,
    and static part attributes, as the forecasting core takes them."""

    history: pd.DataFrame
    covariates: pd.DataFrame | None
    static: pd.DataFrame | None

    def forecast(self, horizon: int, model: core.CoreModel | None = None) -> core.Forecast:
        return core.forecast_with_model(self.history, horizon, "D", covariates=self.covariates,
                                        static=self.static, model=model)


@dg.asset(
    group_name="forecasting",
    kinds={"python", "pandas"},
    automation_condition=refresh_after_loads,
    deps=["fct_part_demand_daily", "fct_part_fleet_daily", "fct_machine_sensor_daily",
          "dim_parts"],
)
def part_demand_features(context: dg.AssetExecutionContext,
                         postgres: PostgresResource) -> PartDemandInputs:
    """The forecasting core's inputs: one row per part and day of demand (zero-filled by dbt),
    one row per part and day of what the machines carrying it did (how many carry it, their
    failures and errors, days since the part was last replaced, sensor means), and one row per
    part of its attributes (criticality, unit cost, lead time)."""
    with postgres.connect() as conn:
        inputs = read_model_inputs(conn)
    if inputs["demand"].empty:
        raise dg.Failure("dbt.fct_part_demand_daily is empty: no part usage has been loaded")
    history = inputs["demand"].rename(columns={"part_id": "item", "demand_date": "period",
                                               "demand_quantity": "quantity"})
    history["period"] = pd.to_datetime(history["period"])
    covariates = _covariates(inputs["fleet"], inputs["sensors"])
    static = inputs["parts"].rename(columns={"part_id": "item"})
    context.add_output_metadata({
        "parts": int(history["item"].nunique()),
        "days": int(history["period"].nunique()),
        "covariates": ", ".join(c for c in (covariates.columns if covariates is not None else [])
                                if c not in ("item", "period")),
        "first_day": str(history["period"].min().date()),
        "last_day": str(history["period"].max().date()),
    })
    return PartDemandInputs(history, covariates, static if len(static) else None)


def _covariates(fleet: pd.DataFrame, sensors: pd.DataFrame) -> pd.DataFrame | None:
    """Fleet figures and one column per sensor channel, per part and day."""
    frames = []
    if len(fleet):
        frames.append(fleet.rename(columns={"part_id": "item", "activity_date": "period"})
                      .set_index(["item", "period"]))
    if len(sensors):
        wide = sensors.pivot_table(index=["part_id", "activity_date"], columns="sensor",
                                   values="mean_value", aggfunc="mean")
        wide.columns = [f"sensor_{c}" for c in wide.columns]
        wide.index = wide.index.set_names(["item", "period"])
        frames.append(wide)
    if not frames:
        return None
    joined = pd.concat(frames, axis=1).reset_index()
    joined["period"] = pd.to_datetime(joined["period"])
    return joined


def _methods(inputs: PartDemandInputs) -> dict[str, backtesting.Method]:
    """sparecast (with the fleet covariates and part attributes) and every baseline."""
    def sparecast(history: pd.DataFrame, horizon: int, freq: str) -> pd.DataFrame:
        return core.forecast(history, horizon, freq, covariates=inputs.covariates,
                             static=inputs.static)

    return {"sparecast": sparecast, **backtesting.baseline_methods("D")}


# Trained once as soon as its inputs are built; after that the retrain_part_demand_model
# schedule (defs/sensors.py) retrains it, and new data between retrains refreshes the forecast.
@dg.asset(group_name="forecasting", kinds={"lightgbm"}, io_manager_key="model_io_manager",
          automation_condition=first_training)
def part_demand_model(context: dg.AssetExecutionContext, part_demand_features: PartDemandInputs,
                      postgres: PostgresResource,
                      forecast_settings: ForecastSettings) -> core.CoreModel:
    """The global model over all parts predicting each day's demand distribution 1..horizon
    days ahead. Backtested at rolling origins, one horizon apart, against the baselines (zero,
    seasonal naive, empirical quantiles of the last year, Croston SBA, TSB, ADIDA, IMAPA); the
    model and every baseline's errors go to ml.model_runs. The artifact is stored by the
    model_io_manager (SPARECAST_ARTIFACTS: a folder or s3:// prefix)."""
    horizon = forecast_settings.horizon_days
    inputs = part_demand_features
    try:
        backtest = backtesting.rolling_backtest(inputs.history, horizon, "D", _methods(inputs),
                                                forecast_settings.backtest_folds,
                                                log=context.log.info)
    except backtesting.ShortHistoryError as exc:
        # A new deployment still gets a forecast; its accuracy is unknown until history grows.
        context.log.warning(f"backtest skipped: {exc}")
        backtest = {"_skipped": str(exc)}

    context.log.info(f"training on {len(inputs.history):,} part-days")
    trained = core.fit(inputs.history, horizon, "D", covariates=inputs.covariates,
                       static=inputs.static)
    if trained is None:
        raise dg.Failure(
            f"{len(inputs.history):,} part-days are too few to train a model over a "
            f"{horizon}-day horizon; load more history or shorten SPARECAST_HORIZON_DAYS")
    artifact = f"{default_artifacts_uri().rstrip('/')}/part_demand_model"
    with postgres.connect() as conn:
        record_model_run(conn, trained, inputs.history["period"].min().date(),
                         inputs.history["period"].max().date(), backtest, artifact)

    methods = [m for m in backtest if not m.startswith("_")]
    for method in methods:
        errors = backtest[method]
        context.log.info(f"backtest {method}: WQL {errors['wql']:.4f}, MASE {errors['mase']:.4f},"
                         f" RMSSE {errors['rmsse']:.4f}, bias {errors['bias']:+.3f}")
    metadata = {"model_version": trained.version, "training_rows": trained.training_rows,
                "backtest": dg.MetadataValue.json(backtest),
                "backtest_origins": ", ".join(backtest.get("_folds", {}).get("origins", []))
                or backtest.get("_skipped", "")}
    if methods:
        metadata["backtest_wql"] = dg.MetadataValue.md(_backtest_table(backtest, methods))
    for method in methods:
        for measure in ("wql", "mase", "rmsse", "bias"):
            metadata[f"{method}_{measure}"] = backtest[method][measure]
    context.add_output_metadata(metadata)
    return trained


def _backtest_table(backtest: dict, methods: list[str]) -> str:
    """A Markdown table of the backtest, best WQL first, for the Dagster UI."""
    lines = ["| method | WQL | MASE | RMSSE | bias |", "|---|---:|---:|---:|---:|"]
    for method in sorted(methods, key=lambda m: backtest[m]["wql"]):
        e = backtest[method]
        lines.append(f"| {method} | {e['wql']:.4f} | {e['mase']:.4f} | {e['rmsse']:.4f} | "
                     f"{e['bias']:+.3f} |")
    return "\n".join(lines)


@dg.asset(group_name="forecasting", kinds={"postgres"},
          automation_condition=dg.AutomationCondition.eager())
def part_demand_forecast(context: dg.AssetExecutionContext,
                         part_demand_features: PartDemandInputs,
                         part_demand_model: core.CoreModel,
                         postgres: PostgresResource,
                         forecast_settings: ForecastSettings) -> dg.MaterializeResult:
    """analytics.part_demand_forecast: one row per (as_of_date, part_id, target_date) with the
    mean and the quantiles p10 ... p99 of that day's demand in units, the part's demand class
    and the model version; analytics.part_demand_drivers: per part the features that move its
    forecast most. Earlier as-of dates are kept so forecasts can be compared with the actuals
    that followed."""
    inputs = part_demand_features
    horizon = forecast_settings.horizon_days
    result = inputs.forecast(horizon, model=part_demand_model)
    as_of = inputs.history["period"].max()
    periods = pd.date_range(inputs.history["period"].min(), as_of, freq="D")
    # A part with less than one horizon of history is 'new': too short to classify.
    classes = classify_demand(inputs.history, periods, min_history=horizon).set_index("item")

    frame = result.frame
    forecast = pd.DataFrame({
        "as_of_date": as_of.date(),
        "part_id": frame["item"],
        "target_date": pd.to_datetime(frame["period"]).dt.date,
        "horizon_days": frame["step"].astype(int),
        "demand_mean": frame["mean"],
        **{sql: frame[column] for sql, column in zip(QUANTILE_COLUMNS_SQL,
                                                     core.QUANTILE_COLUMNS.values())},
        "demand_class": frame["item"].map(classes["demand_class"]).fillna("new"),
        "model_version": part_demand_model.version,
    })
    drivers = result.drivers(DRIVERS_PER_PART).rename(columns={"item": "part_id"})
    drivers.insert(0, "as_of_date", as_of.date())
    drivers["model_version"] = part_demand_model.version
    with postgres.connect() as conn:
        rows = write_forecast(conn, forecast, drivers)
    context.log.info(f"forecast as of {as_of.date()}: {rows:,} rows for "
                     f"{forecast['part_id'].nunique()} parts")
    by_class = forecast.drop_duplicates("part_id")["demand_class"].value_counts()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "as_of_date": str(as_of.date()),
        "horizon_days": horizon,
        "parts": int(forecast["part_id"].nunique()),
        "model_version": part_demand_model.version,
        "expected_demand_next_horizon": float(forecast["demand_mean"].sum()),
        "demand_classes": dg.MetadataValue.md(
            "| class | parts |\n|---|---:|\n"
            + "\n".join(f"| {c} | {n} |" for c, n in by_class.items())),
        "driver_rows": len(drivers),
    })


@dg.asset_check(asset=part_demand_forecast, blocking=True)
def forecast_is_sane(postgres: PostgresResource) -> dg.AssetCheckResult:
    """The newest forecast has rows, no negative demand, quantiles that never fall as the level
    rises, and covers every part with demand in the last year."""
    with postgres.connect() as conn:
        problems = forecast_problems(conn)
    passed = problems["forecast_rows"] > 0 and all(
        problems[k] == 0 for k in ("negative_rows", "unordered_quantile_rows",
                                   "active_parts_without_forecast"))
    return dg.AssetCheckResult(passed=passed, metadata=problems)
