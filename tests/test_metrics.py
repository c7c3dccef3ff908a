"""Accuracy measures against values worked out by hand (the arithmetic is in the comments)."""

import numpy as np
import pytest

from sparecast_assets.forecasting.metrics import (
    WQL_LEVELS,
    bias,
    mase,
    pinball_loss,
    rmsse,
    weighted_quantile_loss,
)


def test_pinball_at_level_09_charges_nine_times_more_for_short_than_for_over():
    # y = 10. Forecast 8 is 2 short: 0.9 * 2 = 1.8. Forecast 13 is 3 over: 0.1 * 3 = 0.3.
    assert pinball_loss(10, 8, 0.9) == pytest.approx(1.8)
    assert pinball_loss(10, 13, 0.9) == pytest.approx(0.3)
    assert pinball_loss(10, 10, 0.9) == 0.0


def test_pinball_rejects_a_level_outside_zero_one():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        pinball_loss(1, 1, 1.0)


def test_all_zero_forecast_has_wql_one():
    # Each level l loses l * y per cell: 2 * l * sum(y) / sum(y) = 2l, and the mean of 2l over
    # 0.1 .. 0.9 is 2 * 0.5 = 1.
    actual = np.array([[1.0, 0.0, 3.0], [0.0, 2.0, 0.0]])
    zeros = {level: np.zeros_like(actual) for level in WQL_LEVELS}
    assert weighted_quantile_loss(actual, zeros) == pytest.approx(1.0, abs=1e-12)


def test_wql_of_two_levels_by_hand():
    # actual (2, 0), sum |y| = 2.
    # level 0.5, q = (1, 1): 0.5 * 1 + 0.5 * 1 = 1.0      -> 2 * 1.0 / 2 = 1.0
    # level 0.9, q = (3, 0): 0.1 * 1 + 0       = 0.1      -> 2 * 0.1 / 2 = 0.1
    # mean over the two levels: 0.55
    actual = np.array([2.0, 0.0])
    quantiles = {0.5: np.array([1.0, 1.0]), 0.9: np.array([3.0, 0.0])}
    assert weighted_quantile_loss(actual, quantiles, levels=(0.5, 0.9)) == pytest.approx(0.55)


def test_wql_names_a_missing_level_and_refuses_all_zero_actuals():
    with pytest.raises(ValueError, match=r"level\(s\) \[0.9\]"):
        weighted_quantile_loss([1.0], {0.5: [1.0]}, levels=(0.5, 0.9))
    with pytest.raises(ValueError, match="all actual values are zero"):
        weighted_quantile_loss([0.0, 0.0], {0.5: [1.0, 1.0]}, levels=(0.5,))


def test_mase_excludes_and_counts_a_series_with_zero_seasonal_scale():
    # season 2.
    # A: history (1, 3, 2, 5): |2-1| = 1, |5-3| = 2, scale 1.5; |4-2| = 2, |0-1| = 1, MAE 1.5
    #    -> MASE 1.0
    # B: history (0, 4, 0, 4) repeats one season later: scale 0 -> excluded
    # C: history (2, 0, 0, 0): |0-2| = 2, |0-0| = 0, scale 1; |1-0| = 1, |1-3| = 2, MAE 1.5
    #    -> MASE 1.5
    # mean over A and C: 1.25
    insample = np.array([[1, 3, 2, 5], [0, 4, 0, 4], [2, 0, 0, 0]])
    actual = np.array([[4, 0], [1, 1], [1, 1]])
    forecast = np.array([[2, 1], [0, 0], [0, 3]])
    result = mase(actual, forecast, insample, season=2)
    assert result.mean == pytest.approx(1.25)
    assert (result.n_used, result.n_excluded) == (2, 1)
    np.testing.assert_allclose(result.per_series, [1.0, np.nan, 1.5])


def test_mase_needs_more_history_than_one_season():
    with pytest.raises(ValueError, match="more than 2 in-sample periods"):
        mase([[1, 1]], [[1, 1]], [[1, 2]], season=2)


def test_rmsse_scale_starts_at_the_first_sale_as_in_m5():
    # history (0, 0, 2, 4, 1): first sale in period 3; steps from there: (4-2)^2 = 4,
    # (1-4)^2 = 9, scale 6.5 (the whole history would give (0 + 4 + 4 + 9) / 4 = 4.25).
    # errors (3-1)^2 = 4, (1-2)^2 = 1, mean 2.5 -> RMSSE sqrt(2.5 / 6.5) = 0.620173...
    # The all-zero and the constant history have scale 0 and are excluded.
    insample = np.array([[0, 0, 2, 4, 1], [0, 0, 0, 0, 0], [3, 3, 3, 3, 3]])
    actual = np.array([[3, 1], [1, 0], [3, 3]])
    mean = np.array([[1, 2], [0, 0], [3, 3]])
    result = rmsse(actual, mean, insample)
    assert result.mean == pytest.approx(np.sqrt(2.5 / 6.5))
    assert result.mean == pytest.approx(0.6201736729)
    assert (result.n_used, result.n_excluded) == (1, 2)


def test_bias_is_relative_error_of_the_total():
    # actual total 2 + 0 + 1 + 1 = 4, forecast total 1 + 1 + 1 + 2 = 5: (5 - 4) / 4 = 0.25
    actual = np.array([[2, 0], [1, 1]])
    assert bias(actual, np.array([[1, 1], [1, 2]])) == pytest.approx(0.25)
    assert bias(actual, np.zeros((2, 2))) == -1.0
    with pytest.raises(ValueError, match="actual total is zero"):
        bias(np.zeros(3), np.ones(3))


def test_shapes_that_do_not_match_are_refused():
    with pytest.raises(ValueError, match="shape"):
        mase([[1, 2]], [[1, 2, 3]], [[1, 2, 3]], season=1)
    with pytest.raises(ValueError, match="in-sample histories"):
        rmsse([[1, 2]], [[1, 2]], [[1, 2, 3], [1, 2, 3]])
