"""Baseline forecasts: exact values on tiny histories, and the contract of core.forecast."""

import numpy as np
import pandas as pd
import pytest

from sparecast_assets.forecasting.baselines import (
    BASELINES,
    QUANTILE_COLUMNS,
    count_quantiles,
    empirical_quantiles,
    negative_binomial_dispersion,
    seasonal_naive,
    tsb,
    zero,
)

MONTHS = pd.date_range("2020-01-01", periods=6, freq="MS")
COLUMNS = ["item", "period", "step", "mean", *QUANTILE_COLUMNS.values()]


def history() -> pd.DataFrame:
    # Part "a" has a row every month; part "b" only in January and June (zero in between).
    a = pd.DataFrame({"item": "a", "period": MONTHS, "quantity": [0, 2, 0, 0, 5, 1]})
    b = pd.DataFrame({"item": "b", "period": MONTHS[[0, 5]], "quantity": [3, 0]})
    return pd.concat([a, b], ignore_index=True)


def quantiles_of(frame: pd.DataFrame, item: str) -> pd.DataFrame:
    return frame[frame["item"] == item][list(QUANTILE_COLUMNS.values())]


def test_zero_forecasts_nothing_in_the_frame_shape_of_core_forecast():
    out = zero(history(), horizon=3, freq="M", season=2)
    assert out.columns.tolist() == COLUMNS
    assert out["item"].tolist() == ["a", "a", "a", "b", "b", "b"]
    assert out["step"].tolist() == [1, 2, 3, 1, 2, 3]
    assert out["period"].tolist() == [pd.Timestamp("2020-07-01"), pd.Timestamp("2020-08-01"),
                                      pd.Timestamp("2020-09-01")] * 2
    assert (out[COLUMNS[3:]] == 0).all().all()


def test_seasonal_naive_repeats_the_last_season():
    # season 2, last months of "a" are (5, 1): steps 1, 2, 3 -> 5, 1, 5. "b" ends (0, 0).
    out = seasonal_naive(history(), horizon=3, freq="M", season=2)
    assert out[out["item"] == "a"]["mean"].tolist() == [5, 1, 5]
    assert (quantiles_of(out, "a").to_numpy() == np.array([[5], [1], [5]])).all()
    assert out[out["item"] == "b"]["mean"].tolist() == [0, 0, 0]


def test_empirical_quantiles_of_the_last_season():
    # last 4 months of "a": (0, 0, 5, 1). Empirical CDF: F(0) = 0.5, F(1) = 0.75, F(5) = 1.
    # So q10 .. q50 = 0, q60 and q70 = 1, q80 .. q99 = 5; mean 6 / 4 = 1.5, every step.
    out = empirical_quantiles(history(), horizon=2, freq="M", season=4)
    a = out[out["item"] == "a"]
    assert a["mean"].tolist() == [1.5, 1.5]
    expected = [0, 0, 0, 0, 0, 1, 1, 5, 5, 5, 5]
    assert quantiles_of(out, "a").to_numpy().tolist() == [expected, expected]
    # "b" over the last 4 months: all zero.
    assert (quantiles_of(out, "b") == 0).all().all()


def test_seasonal_methods_need_a_season_of_history():
    with pytest.raises(ValueError, match="needs 12 periods"):
        seasonal_naive(history(), horizon=3, freq="M", season=12)


def test_dispersion_by_method_of_moments_on_one_step_residuals():
    # fitted (-, 1, 1) for actual (0, 4, 0): sum r^2 = 9 + 1 = 10, sum f = 2, sum f^2 = 2
    #   alpha = (10 - 2) / 2 = 4
    # actual (0, 2, 1): sum r^2 = 1 + 0 = 1 < sum f: not over-dispersed -> 0 (Poisson)
    actual = np.array([[0.0, 4.0, 0.0], [0.0, 2.0, 1.0]])
    fitted = np.array([[np.nan, 1.0, 1.0], [np.nan, 1.0, 1.0]])
    assert negative_binomial_dispersion(actual, fitted).tolist() == [4.0, 0.0]


def test_count_quantiles_poisson_and_negative_binomial_by_hand():
    # Poisson(1): P(0) = 0.368, P(<=1) = 0.736, P(<=2) = 0.920 -> q10 0, q50 1, q80 2.
    # NB mean 1, alpha 1 (size 1): geometric, P(<=k) = 1 - 0.5^(k+1): q50 0, q80 2,
    # q99: 0.5^(k+1) <= 0.01 first at k = 6.
    mean = np.array([[1.0], [1.0], [0.0]])
    alpha = np.array([0.0, 1.0, 3.0])
    assert count_quantiles(mean, alpha, 0.1)[:, 0].tolist() == [0, 0, 0]
    assert count_quantiles(mean, alpha, 0.5)[:, 0].tolist() == [1, 0, 0]
    assert count_quantiles(mean, alpha, 0.8)[:, 0].tolist() == [2, 2, 0]
    assert count_quantiles(mean, alpha, 0.99)[:, 0].tolist() == [4, 6, 0]


def intermittent_history() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    periods = pd.date_range("2019-01-07", periods=60, freq="W-MON")
    rows = []
    for part in range(20):
        occurs = rng.random(60) < 0.1 + 0.04 * part
        sizes = rng.poisson(1 + part % 5, 60) + 1
        rows.append(pd.DataFrame({"item": f"p{part:02d}", "period": periods,
                                  "quantity": np.where(occurs, sizes, 0).astype(float)}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("method", ["croston_sba", "tsb", "adida", "imapa"])
def test_statsforecast_baselines_are_non_negative_and_monotone(method):
    out = BASELINES[method](intermittent_history(), horizon=4, freq="W", season=52)
    assert out.columns.tolist() == COLUMNS
    assert len(out) == 20 * 4
    assert out["period"].iloc[0] == pd.Timestamp("2020-03-02")  # the week after the last
    values = out[COLUMNS[3:]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (np.diff(out[list(QUANTILE_COLUMNS.values())].to_numpy(), axis=1) >= 0).all()
    # Demand is strongly over-dispersed here: the upper quantiles spread above the median.
    assert (out["q99"] > out["q50"]).all()


def test_tsb_mean_is_statsforecast_tsb_with_alphas_one_tenth():
    from statsforecast.models import TSB

    frame = intermittent_history()
    out = tsb(frame, horizon=3, freq="W", season=52)
    y = frame[frame["item"] == "p05"]["quantity"].to_numpy()
    expected = TSB(alpha_d=0.1, alpha_p=0.1).forecast(y, 3)["mean"]
    np.testing.assert_allclose(out[out["item"] == "p05"]["mean"], expected)


def test_bad_history_is_refused_with_the_reason():
    bad = history()
    bad.loc[1, "quantity"] = -2
    with pytest.raises(ValueError, match="negative quantity"):
        zero(bad, 3, "M", 2)
    off_grid = history()
    off_grid.loc[1, "period"] = pd.Timestamp("2020-02-15")
    with pytest.raises(ValueError, match="1 history period\\(s\\) are not 'M' period starts "
                                         "\\(e.g. 2020-02-15 00:00:00\\): give months as their "
                                         "first day"):
        zero(off_grid, 3, "M", 2)
    with pytest.raises(ValueError, match="more than one row"):
        zero(pd.concat([history(), history().iloc[[0]]]), 3, "M", 2)
    with pytest.raises(ValueError, match="freq must be one of"):
        zero(history(), 3, "Q", 2)
