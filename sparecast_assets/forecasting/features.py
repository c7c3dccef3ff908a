"""Features for the part-level daily demand model.

Everything is computed on a complete daily calendar per part (a day with no row is a day with
no demand), so a lag of k days is always k calendar days back, never "k rows back", and a
rolling window of 28 days always spans 28 calendar days, gaps included.

The model is direct multi-horizon: one row per (part, origin day, horizon h) whose target is
the demand h days after the origin; features describe the part and its fleet up to and
including the origin day, plus the calendar of the target day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LAG_DAYS = tuple(range(7))  # demand on the origin day and each of the six days before it
WINDOWS = (7, 28, 91, 364)
FLEET_COLUMNS = (
    "machines_carrying",
    "machines_reporting",
    "part_failures",
    "machine_errors",
    "machine_failures",
    "mean_days_since_replacement",
    "max_days_since_replacement",
)
SUMMED_FLEET_COLUMNS = ("part_failures", "machine_errors", "machine_failures")


def demand_matrix(demand: pd.DataFrame) -> pd.DataFrame:
    """Pivot (part_id, demand_date, demand_quantity) to a complete day x part matrix."""
    frame = demand.assign(demand_date=pd.to_datetime(demand["demand_date"]))
    matrix = frame.pivot_table(index="demand_date", columns="part_id", values="demand_quantity",
                               aggfunc="sum")
    days = pd.date_range(matrix.index.min(), matrix.index.max(), freq="D")
    return matrix.reindex(days).fillna(0.0).astype(float)


def _days_since_positive(matrix: pd.DataFrame) -> pd.DataFrame:
    """Days since the last day with demand (inclusive: 0 on a demand day); NaN before any."""
    positions = np.arange(len(matrix), dtype=float)[:, None]
    last = np.where(matrix.to_numpy() > 0, positions, np.nan)
    last = pd.DataFrame(last, index=matrix.index, columns=matrix.columns).ffill()
    return positions - last


def _stack(matrix: pd.DataFrame, name: str) -> pd.Series:
    stacked = matrix.stack(future_stack=True)
    stacked.index = stacked.index.set_names(["origin_date", "part_id"])
    return stacked.rename(name)


def origin_features(
    matrix: pd.DataFrame,
    fleet: pd.DataFrame | None = None,
    sensors: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (origin_date, part_id): what is known about the part at the end of that day.

    ``fleet`` is fct_part_fleet_daily (part_id, activity_date, FLEET_COLUMNS...); ``sensors``
    is (part_id, activity_date, sensor, mean_value), the daily sensor means of the machines
    carrying the part. Both are optional: parts without machines simply get NaN features.
    """
    columns = []
    for lag in LAG_DAYS:
        columns.append(_stack(matrix.shift(lag), f"demand_lag_{lag}"))
    for window in WINDOWS:
        rolled = matrix.rolling(window, min_periods=1)
        columns.append(_stack(rolled.sum(), f"demand_sum_{window}d"))
        columns.append(_stack((matrix > 0).rolling(window, min_periods=1).sum(),
                              f"demand_days_{window}d"))
    columns.append(_stack(matrix.rolling(91, min_periods=7).std(), "demand_std_91d"))
    columns.append(_stack(_days_since_positive(matrix), "days_since_demand"))

    if fleet is not None and len(fleet):
        fleet = fleet.assign(activity_date=pd.to_datetime(fleet["activity_date"]))
        for column in FLEET_COLUMNS:
            wide = _align(fleet, column, matrix)
            columns.append(_stack(wide, f"fleet_{column}"))
            if column in SUMMED_FLEET_COLUMNS:
                columns.append(_stack(wide.rolling(7, min_periods=1).sum(), f"fleet_{column}_7d"))
                columns.append(_stack(wide.rolling(28, min_periods=1).sum(), f"fleet_{column}_28d"))

    if sensors is not None and len(sensors):
        sensors = sensors.assign(activity_date=pd.to_datetime(sensors["activity_date"]))
        for sensor, readings in sensors.groupby("sensor", sort=True):
            wide = _align(readings, "mean_value", matrix, fill=None)
            smooth = wide.rolling(7, min_periods=1).mean()
            columns.append(_stack(smooth, f"sensor_{sensor}_7d"))
            columns.append(_stack(smooth - wide.rolling(28, min_periods=1).mean(),
                                  f"sensor_{sensor}_trend"))

    return pd.concat(columns, axis=1)


def _align(long: pd.DataFrame, value: str, matrix: pd.DataFrame, fill: float | None = 0.0):
    wide = long.pivot_table(index="activity_date", columns="part_id", values=value, aggfunc="mean")
    wide = wide.reindex(index=matrix.index, columns=matrix.columns)
    return wide.fillna(fill) if fill is not None else wide


# Yearly seasonality is learnt only from at least two years of history: with less, month and
# day of year just memorise one year's level (on the Azure sample, the sparse first months).
YEARLY_SEASON_MIN_DAYS = 730


def calendar_features(target_dates: pd.DatetimeIndex | pd.Series, history_days: int) -> pd.DataFrame:
    dates = pd.DatetimeIndex(target_dates)
    frame = pd.DataFrame({"target_day_of_week": dates.day_of_week})
    if history_days >= YEARLY_SEASON_MIN_DAYS:
        frame["target_month"] = dates.month
        frame["target_day_of_year"] = dates.day_of_year
    return frame


def horizon_rows(features: pd.DataFrame, matrix: pd.DataFrame, horizon_days: int,
                 origins: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Expand origin features to one row per horizon 1..horizon_days, with the target's calendar
    and, where the target day is inside the history, its actual demand (else NaN)."""
    if origins is not None:
        features = features[features.index.get_level_values("origin_date").isin(origins)]
    actual = _stack(matrix, "actual")
    frames = []
    for h in range(1, horizon_days + 1):
        frame = features.reset_index()
        frame["horizon_days"] = h
        frame["target_date"] = frame["origin_date"] + pd.Timedelta(days=h)
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows.join(calendar_features(rows["target_date"], len(matrix)))
    key = pd.MultiIndex.from_arrays([rows["target_date"], rows["part_id"]])
    rows["actual"] = actual.reindex(key).to_numpy()
    return rows
