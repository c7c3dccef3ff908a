"""Accuracy measures for probabilistic demand forecasts, as the forecasting literature defines them.

Grain: every function takes whole blocks of forecasts. ``actual`` and the forecasts are arrays of
shape (series, horizon); ``insample`` is the history the forecast was made from, shape
(series, history periods). All series in one call share the same history length, which is how
the benchmarks (carparts, MAN, OIL) are laid out.

The scaled errors (MASE, RMSSE) are undefined for a series whose history has a scale of zero
(for MASE: a history that repeats itself exactly one season later, all-zero histories included).
Such series are left out of the mean and counted, never silently given a number.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import numpy as np

# The levels of the "mean weighted quantile loss" in Chronos and GluonTS.
WQL_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class ScaledError(NamedTuple):
    """A scaled error per series and its mean over the series where it is defined.

    ``per_series`` holds NaN where the scale is zero; ``n_used`` + ``n_excluded`` is the number
    of series. ``mean`` is NaN when no series could be used.
    """

    mean: float
    n_used: int
    n_excluded: int
    per_series: np.ndarray


def pinball_loss(actual, quantile, level: float) -> np.ndarray:
    """Quantile (pinball) loss per cell: max(l * (y - q), (l - 1) * (y - q)).

    Under-forecasting costs ``l`` per unit short and over-forecasting ``1 - l`` per unit over.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"a quantile level lies strictly between 0 and 1, got {level}")
    diff = np.asarray(actual, dtype=float) - np.asarray(quantile, dtype=float)
    return np.maximum(level * diff, (level - 1.0) * diff)


def weighted_quantile_loss(actual, quantiles: Mapping[float, np.ndarray],
                           levels=WQL_LEVELS) -> float:
    """Mean weighted quantile loss over all series and horizon steps together.

    WQL = (1 / |L|) * sum over l in L of  2 * sum_{i,t} pinball_l(y_it, q_l,it) / sum_{i,t} |y_it|

    This is the Chronos / GluonTS "mean weighted quantile loss" with L = 0.1, ..., 0.9. An
    all-zero forecast of non-negative demand scores exactly 1.0 (each level contributes 2l, and
    the mean of 2l over the nine levels is 1).
    """
    actual = np.asarray(actual, dtype=float)
    missing = [level for level in levels if level not in quantiles]
    if missing:
        raise ValueError(f"no forecast for quantile level(s) {missing}")
    scale = np.abs(actual).sum()
    if scale == 0:
        raise ValueError("WQL is undefined when all actual values are zero")

    losses = []
    for level in levels:
        forecast = np.asarray(quantiles[level], dtype=float)
        if forecast.shape != actual.shape:
            raise ValueError(f"quantile {level} has shape {forecast.shape}, actual {actual.shape}")
        losses.append(2.0 * pinball_loss(actual, forecast, level).sum() / scale)
    return float(np.mean(losses))


def _as_blocks(actual, forecast, insample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    actual = np.atleast_2d(np.asarray(actual, dtype=float))
    forecast = np.atleast_2d(np.asarray(forecast, dtype=float))
    insample = np.atleast_2d(np.asarray(insample, dtype=float))
    if actual.shape != forecast.shape:
        raise ValueError(f"forecast has shape {forecast.shape}, actual {actual.shape}")
    if insample.shape[0] != actual.shape[0]:
        raise ValueError(f"{insample.shape[0]} in-sample histories for {actual.shape[0]} series")
    return actual, forecast, insample


def _summarise(per_series: np.ndarray) -> ScaledError:
    used = np.isfinite(per_series)
    n_used = int(used.sum())
    mean = float(per_series[used].mean()) if n_used else float("nan")
    return ScaledError(mean, n_used, int((~used).sum()), per_series)


def mase(actual, forecast, insample, season: int) -> ScaledError:
    """Mean absolute scaled error per series (Hyndman & Koehler 2006, seasonal scale).

    MASE_i = mean_t |y_it - f_it|  /  mean_{t > m} |x_it - x_i,t-m|

    with x the in-sample history and m the season (12 for monthly data, 52 for weekly). Series
    with a zero scale are excluded and counted. The benchmark harness rounds the median forecast
    to whole units before it calls this, so a point forecast of 0.4 counts as 0: demand comes in
    whole parts and MASE rewards a median, not a fraction.
    """
    actual, forecast, insample = _as_blocks(actual, forecast, insample)
    if insample.shape[1] <= season:
        raise ValueError(f"MASE with season {season} needs more than {season} in-sample periods, "
                         f"got {insample.shape[1]}")
    scale = np.abs(insample[:, season:] - insample[:, :-season]).mean(axis=1)
    error = np.abs(actual - forecast).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_series = np.where(scale > 0, error / scale, np.nan)
    return _summarise(per_series)


def rmsse(actual, mean, insample) -> ScaledError:
    """Root mean squared scaled error per series, as in the M5 competition.

    RMSSE_i = sqrt( mean_t (y_it - f_it)^2  /  mean_{t > s_i} (x_it - x_i,t-1)^2 )

    where the scale runs from s_i, the first period with non-zero demand in the history: M5
    leaves out the leading zeros before a product was first sold. Series whose scale is zero
    (no demand in the history, or one constant level) are excluded and counted. The benchmark
    reports the plain mean over series, not M5's dollar-weighted mean.
    """
    actual, mean, insample = _as_blocks(actual, mean, insample)
    if insample.shape[1] < 2:
        raise ValueError("RMSSE needs at least two in-sample periods")
    steps = np.diff(insample, axis=1) ** 2
    # A step from t-1 to t counts once period t-1 is at or after the first sale.
    started = np.maximum.accumulate(insample[:, :-1] != 0, axis=1)
    counted = started.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(counted > 0, (steps * started).sum(axis=1) / counted, 0.0)
        per_series = np.where(scale > 0,
                              np.sqrt(((actual - mean) ** 2).mean(axis=1) / scale), np.nan)
    return _summarise(per_series)


def bias(actual, mean) -> float:
    """Relative bias of the total: (sum of forecast means - sum of actuals) / sum of actuals.

    Positive means the forecast expects more demand than came; -1 is an all-zero forecast.
    """
    actual = np.asarray(actual, dtype=float)
    mean = np.asarray(mean, dtype=float)
    if actual.shape != mean.shape:
        raise ValueError(f"forecast has shape {mean.shape}, actual {actual.shape}")
    total = actual.sum()
    if total == 0:
        raise ValueError("bias is undefined when the actual total is zero")
    return float((mean.sum() - total) / total)
