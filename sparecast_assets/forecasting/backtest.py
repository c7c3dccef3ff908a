"""Scoring forecasts against held-out demand, and the rolling-origin backtest that every model
run and every benchmark uses: the same code measures sparecast and the baselines."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pandas as pd

from sparecast_assets.forecasting import baselines, core, metrics

QUANTILE_COLUMNS = tuple(core.QUANTILE_COLUMNS.values())
# A method takes (history, horizon, freq) and returns core.forecast's frame.
Method = Callable[[pd.DataFrame, int, str], pd.DataFrame]


class ShortHistoryError(ValueError):
    """Too little history to hold out even one backtest origin."""


def blocks(forecast: pd.DataFrame, items: pd.Index, horizon: int) -> dict[str, np.ndarray]:
    """(items, horizon) arrays of the mean and every quantile; contract problems raise."""
    missing = {"item", "step", "mean", *QUANTILE_COLUMNS} - set(forecast.columns)
    if missing:
        raise ValueError(f"forecast lacks column(s) {sorted(missing)}")
    if forecast.duplicated(["item", "step"]).any():
        raise ValueError("forecast has more than one row for an (item, step) pair")
    values = forecast[["mean", *QUANTILE_COLUMNS]]
    if values.isna().any().any():
        raise ValueError(f"forecast has {int(values.isna().sum().sum())} missing value(s)")
    if (values < 0).any().any():
        raise ValueError(f"forecast has {int((values < 0).sum().sum())} negative value(s)")
    crossing = (np.diff(forecast[list(QUANTILE_COLUMNS)].to_numpy(dtype=float), axis=1)
                < -1e-9).any(axis=1)
    if crossing.any():
        raise ValueError(f"{int(crossing.sum())} forecast row(s) have quantiles decreasing "
                         "with the level")

    out = {}
    for column in ("mean", *QUANTILE_COLUMNS):
        wide = forecast.pivot(index="item", columns="step", values=column)
        wide = wide.reindex(index=items, columns=range(1, horizon + 1))
        if wide.isna().any().any():
            raise ValueError(f"forecast misses {int(wide.isna().sum().sum())} (item, step) "
                             f"pair(s), for example item {wide.index[wide.isna().any(axis=1)][0]}")
        out[column] = wide.to_numpy(dtype=float)
    return out


def score(forecast: pd.DataFrame, history: pd.DataFrame, actual: pd.DataFrame,
          horizon: int, season: int) -> dict[str, float]:
    """WQL over 0.1..0.9, mean MASE of the median rounded to whole units (seasonal scale),
    RMSSE and bias of the mean, and plain errors in units (MAE, RMSE per item and period; MAE
    of each item's total over the horizon). Items are those of ``history``; a period of
    ``actual`` without a row is zero demand."""
    items = pd.Index(sorted(history["item"].astype(str).unique()))
    periods = pd.DatetimeIndex(sorted(pd.to_datetime(history["period"]).unique()))
    insample = (history.assign(item=history["item"].astype(str))
                .pivot(index="item", columns="period", values="quantity")
                .reindex(index=items, columns=periods).fillna(0.0))
    held_out = (actual.assign(item=actual["item"].astype(str))
                .pivot(index="item", columns="period", values="quantity"))
    held_out = held_out.reindex(index=items).fillna(0.0)
    if held_out.shape[1] != horizon:
        raise ValueError(f"{held_out.shape[1]} held-out periods for a horizon of {horizon}")
    b = blocks(forecast, items, horizon)
    y, x = held_out.to_numpy(dtype=float), insample.to_numpy(dtype=float)

    median = np.floor(b["q50"] + 0.5)  # half up: 0.5 parts is one part, not zero
    scaled = metrics.mase(y, median, x, season)
    squared = metrics.rmsse(y, b["mean"], x)
    quantiles = {level: b[core.QUANTILE_COLUMNS[level]] for level in metrics.WQL_LEVELS}
    return {
        "wql": metrics.weighted_quantile_loss(y, quantiles, metrics.WQL_LEVELS),
        "mase": scaled.mean, "mase_series_used": scaled.n_used,
        "mase_series_excluded": scaled.n_excluded,
        "rmsse": squared.mean, "rmsse_series_used": squared.n_used,
        "rmsse_series_excluded": squared.n_excluded,
        "bias": metrics.bias(y, b["mean"]),
        "mae": float(np.mean(np.abs(y - b["mean"]))),
        "rmse": float(np.sqrt(np.mean((y - b["mean"]) ** 2))),
        "horizon_total_mae": float(np.mean(np.abs(y.sum(axis=1) - b["mean"].sum(axis=1)))),
    }


def baseline_methods(freq: str) -> dict[str, Method]:
    """The baselines at their usual seasons: seasonal naive over the week (daily data) or the
    year; empirical quantiles of the last year (364 days, 52 weeks, 12 months)."""
    season = core.SEASON[freq]
    year = {"D": 364, "W": 52, "M": 12}[freq]
    chosen = {name: (lambda f, s: (lambda h, n, q: f(h, n, q, s)))(f, season)
              for name, f in baselines.BASELINES.items()}
    chosen["empirical_quantiles"] = (
        lambda h, n, q: baselines.empirical_quantiles(h, n, q, min(year, _periods(h))))
    return chosen


def _periods(history: pd.DataFrame) -> int:
    return int(pd.to_datetime(history["period"]).nunique())


def rolling_origins(periods: pd.DatetimeIndex, horizon: int, folds: int) -> list[pd.Timestamp]:
    """The last ``folds`` origins, one horizon apart, each with at least two horizons and one
    season of history before it; the newest leaves exactly one horizon to score."""
    periods = pd.DatetimeIndex(sorted(periods))
    origins = [periods[-1 - horizon * k] for k in range(folds, 0, -1)
               if len(periods) - 1 - horizon * k >= 2 * horizon]
    if not origins:
        raise ShortHistoryError(f"a backtest needs more than {3 * horizon} periods of history, "
                                f"there are {len(periods)}")
    return origins


def rolling_backtest(history: pd.DataFrame, horizon: int, freq: str, methods: dict[str, Method],
                     folds: int = 3, log: Callable[[str], None] | None = None) -> dict:
    """At each origin, every method forecasts from the history up to and including it and is
    scored on the next ``horizon`` periods. Returns per method the mean of each measure over
    the folds, and ``_folds`` with the origins and the per-fold WQL of every method."""
    periods = pd.DatetimeIndex(sorted(pd.to_datetime(history["period"]).unique()))
    origins = rolling_origins(periods, horizon, folds)
    season = core.SEASON[freq]
    per_fold: dict[str, list[dict]] = {name: [] for name in methods}
    period = pd.to_datetime(history["period"])
    for origin in origins:
        known = history[period <= origin]
        target_periods = periods[(periods > origin)][:horizon]
        actual = history[period.isin(target_periods)]
        for name, method in methods.items():
            started = time.monotonic()
            forecast = method(known, horizon, freq)
            per_fold[name].append(score(forecast, known, actual, horizon, season))
            if log is not None:
                log(f"backtest origin {origin.date()}: {name} WQL {per_fold[name][-1]['wql']:.4f}"
                    f" in {time.monotonic() - started:.1f}s")

    result: dict = {}
    for name, scores in per_fold.items():
        result[name] = {measure: float(np.nanmean([s[measure] for s in scores]))
                        for measure in scores[0]}
    result["_folds"] = {
        "origins": [o.date().isoformat() for o in origins],
        "wql_per_fold": {name: [round(s["wql"], 6) for s in scores]
                         for name, scores in per_fold.items()},
    }
    return result
