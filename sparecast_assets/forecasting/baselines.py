"""Reference forecasts that sparecast's own forecast is measured against.

Every method takes (history, horizon, freq, season) and returns the frame shape of
``core.forecast``: one row per item and horizon step, columns item, period, step (1..horizon),
mean, q10 ... q90, q95, q99. ``history`` is a long table (item, period, quantity); a period
between the first and last period of the table with no row for an item is zero demand, so every
item's series spans the whole table and every forecast starts after the table's last period.

The methods:

- ``zero``: nothing is ever needed. The floor any forecast of intermittent demand must beat.
- ``seasonal_naive``: the value one season earlier; all quantiles equal it.
- ``empirical_quantiles``: the empirical distribution of the last ``season`` periods, the same
  for every step; mean = the mean of those periods. Quantiles are the inverted empirical CDF
  (the smallest observed value whose share at or below it reaches the level), so they are
  demands that actually occurred.
- ``croston_sba``, ``tsb``, ``adida``, ``imapa``: statsforecast's implementations. TSB uses
  alpha_d = alpha_p = 0.1, the usual choice in the intermittent-demand literature.

The statsforecast methods give a point forecast only. Their quantiles come from a negative
binomial with the method's mean and one dispersion per series, fitted by the method of moments
to the in-sample one-step residuals (NB2: Var = mu + alpha * mu^2; sum r_t^2 = sum (f_t +
alpha f_t^2) over the fitted periods); when the residuals are not over-dispersed (alpha <= 0)
the distribution is Poisson. That makes these baselines stronger than their usual degenerate
quantiles (every quantile equal to the mean), which score badly on the weighted quantile loss.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

from sparecast_assets.forecasting.core import FREQ_STEP, QUANTILE_COLUMNS, to_series

TSB_ALPHA_DEMAND = 0.1
TSB_ALPHA_PROBABILITY = 0.1


def demand_matrix(history: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Wide demand: one row per item (sorted), one column per period from the table's first to
    its last period, zero where the table has no row (before an item's first row too: these
    local methods see every item over the whole table)."""
    series = to_series(history, freq)
    return pd.DataFrame(np.nan_to_num(series.values, nan=0.0), index=series.items,
                        columns=series.periods)


def _frame(items: pd.Index, last_period: pd.Timestamp, freq: str, mean: np.ndarray,
           quantiles: dict[float, np.ndarray]) -> pd.DataFrame:
    """The core.forecast frame from (items, horizon) blocks of mean and quantiles."""
    n_items, horizon = mean.shape
    periods = [last_period + FREQ_STEP[freq] * step for step in range(1, horizon + 1)]
    out = pd.DataFrame({
        "item": np.repeat(items.to_numpy(), horizon),
        "period": np.tile(pd.DatetimeIndex(periods).to_numpy(), n_items),
        "step": np.tile(np.arange(1, horizon + 1), n_items),
        "mean": mean.ravel(),
    })
    for level, column in QUANTILE_COLUMNS.items():
        out[column] = quantiles[level].ravel()
    return out


def _check(horizon: int, season: int) -> None:
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    if season < 1:
        raise ValueError(f"season must be at least 1, got {season}")


def zero(history: pd.DataFrame, horizon: int, freq: str, season: int) -> pd.DataFrame:
    """Mean and every quantile 0."""
    _check(horizon, season)
    matrix = demand_matrix(history, freq)
    block = np.zeros((len(matrix), horizon))
    return _frame(matrix.index, matrix.columns[-1], freq, block,
                  {level: block for level in QUANTILE_COLUMNS})


def seasonal_naive(history: pd.DataFrame, horizon: int, freq: str, season: int) -> pd.DataFrame:
    """Step h forecasts the demand of the last period with h's position in the season:
    y[T - season + ((h - 1) mod season)]; mean and every quantile equal it."""
    _check(horizon, season)
    matrix = demand_matrix(history, freq)
    values = matrix.to_numpy()
    if values.shape[1] < season:
        raise ValueError(f"seasonal naive needs {season} periods of history, "
                         f"got {values.shape[1]}")
    lag = values.shape[1] - season + (np.arange(horizon) % season)
    block = values[:, lag]
    return _frame(matrix.index, matrix.columns[-1], freq, block,
                  {level: block for level in QUANTILE_COLUMNS})


def empirical_quantiles(history: pd.DataFrame, horizon: int, freq: str,
                        season: int) -> pd.DataFrame:
    """Quantiles of the last ``season`` periods (inverted empirical CDF), constant over the
    horizon; mean = the mean of those periods."""
    _check(horizon, season)
    matrix = demand_matrix(history, freq)
    values = matrix.to_numpy()
    if values.shape[1] < season:
        raise ValueError(f"empirical quantiles need {season} periods of history, "
                         f"got {values.shape[1]}")
    last_year = values[:, -season:]
    ones = np.ones((1, horizon))
    mean = last_year.mean(axis=1, keepdims=True) * ones
    quantiles = {level: np.quantile(last_year, level, axis=1, method="inverted_cdf")[:, None]
                 * ones for level in QUANTILE_COLUMNS}
    return _frame(matrix.index, matrix.columns[-1], freq, mean, quantiles)


def negative_binomial_dispersion(actual: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Method-of-moments NB2 alpha per series (rows) from in-sample one-step forecasts.

    alpha = (sum r^2 - sum f) / sum f^2 over the periods that have a fitted value, r = y - f;
    0 (Poisson) when that is not positive or the series was never forecast above zero.
    """
    fitted_ok = np.isfinite(fitted)
    f = np.where(fitted_ok, np.maximum(fitted, 0.0), 0.0)
    residual_sq = np.where(fitted_ok, (actual - f) ** 2, 0.0)
    f_sq = (f**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(f_sq > 0, (residual_sq.sum(axis=1) - f.sum(axis=1)) / f_sq, 0.0)
    return np.maximum(alpha, 0.0)


def count_quantiles(mean: np.ndarray, alpha: np.ndarray, level: float) -> np.ndarray:
    """The ``level`` quantile of NB2(mean, alpha) per cell; Poisson where alpha is 0 and 0
    where the mean is 0. ``alpha`` has one value per row of ``mean``."""
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float)[:, None], mean.shape)
    safe_mean = np.maximum(mean, 1e-12)
    poisson = stats.poisson.ppf(level, safe_mean)
    nb_alpha = np.maximum(alpha, 1e-12)
    size = 1.0 / nb_alpha
    negative_binomial = stats.nbinom.ppf(level, size, size / (size + safe_mean))
    values = np.where(alpha > 0, negative_binomial, poisson)
    return np.where(mean > 0, values, 0.0)


def _statsforecast(model_factory: Callable[[], object], history: pd.DataFrame, horizon: int,
                   freq: str, season: int) -> pd.DataFrame:
    from statsforecast import StatsForecast

    _check(horizon, season)
    matrix = demand_matrix(history, freq)
    values = matrix.to_numpy()
    n_items, n_periods = values.shape
    # Integer time stamps: statsforecast then needs no pandas frequency string, and week starts
    # on any weekday work the same.
    frame = pd.DataFrame({"unique_id": np.repeat(np.arange(n_items), n_periods),
                          "ds": np.tile(np.arange(n_periods), n_items),
                          "y": values.ravel()})
    model = model_factory()
    engine = StatsForecast(models=[model], freq=1, n_jobs=1)
    predicted = engine.forecast(h=horizon, df=frame, fitted=True)
    fitted = engine.forecast_fitted_values()
    alias = model.alias
    predicted = predicted.sort_values(["unique_id", "ds"])
    fitted = fitted.sort_values(["unique_id", "ds"])
    mean = np.maximum(predicted[alias].to_numpy(dtype=float).reshape(n_items, horizon), 0.0)
    fitted_block = fitted[alias].to_numpy(dtype=float).reshape(n_items, n_periods)

    alpha = negative_binomial_dispersion(values, fitted_block)
    quantiles = {level: count_quantiles(mean, alpha, level) for level in QUANTILE_COLUMNS}
    return _frame(matrix.index, matrix.columns[-1], freq, mean, quantiles)


def croston_sba(history: pd.DataFrame, horizon: int, freq: str, season: int) -> pd.DataFrame:
    """Croston with the Syntetos-Boylan bias correction (statsforecast CrostonSBA)."""
    from statsforecast.models import CrostonSBA

    return _statsforecast(CrostonSBA, history, horizon, freq, season)


def tsb(history: pd.DataFrame, horizon: int, freq: str, season: int) -> pd.DataFrame:
    """Teunter-Syntetos-Babai, alpha_d = alpha_p = 0.1 (statsforecast TSB)."""
    from statsforecast.models import TSB

    return _statsforecast(lambda: TSB(alpha_d=TSB_ALPHA_DEMAND, alpha_p=TSB_ALPHA_PROBABILITY),
                          history, horizon, freq, season)


def adida(history: pd.DataFrame, horizon: int, freq: str, season: int) -> pd.DataFrame:
    """Aggregate-disaggregate intermittent demand approach (statsforecast ADIDA)."""
    from statsforecast.models import ADIDA

    return _statsforecast(ADIDA, history, horizon, freq, season)


def imapa(history: pd.DataFrame, horizon: int, freq: str, season: int) -> pd.DataFrame:
    """Intermittent multiple aggregation prediction algorithm (statsforecast IMAPA)."""
    from statsforecast.models import IMAPA

    return _statsforecast(IMAPA, history, horizon, freq, season)


BASELINES: dict[str, Callable[[pd.DataFrame, int, str, int], pd.DataFrame]] = {
    "zero": zero,
    "seasonal_naive": seasonal_naive,
    "empirical_quantiles": empirical_quantiles,
    "croston_sba": croston_sba,
    "tsb": tsb,
    "adida": adida,
    "imapa": imapa,
}
