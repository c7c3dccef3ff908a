import numpy as np
import pandas as pd
import pytest

from sparecast_assets.forecasting.features import demand_matrix, horizon_rows, origin_features
from sparecast_assets.forecasting.model import fit_dispersion, quantile, seasonal_naive


@pytest.fixture
def matrix():
    # Part A has demand on Jan 1 and Jan 4 with no rows in between: a gap, not missing data.
    return demand_matrix(pd.DataFrame({
        "part_id": ["A", "A", "B"],
        "demand_date": ["2025-01-01", "2025-01-04", "2025-01-02"],
        "demand_quantity": [2.0, 1.0, 3.0],
    }))


def test_the_demand_matrix_fills_every_calendar_day(matrix):
    assert list(matrix.index.strftime("%m-%d")) == ["01-01", "01-02", "01-03", "01-04"]
    assert matrix["A"].tolist() == [2.0, 0.0, 0.0, 1.0]
    assert matrix["B"].tolist() == [0.0, 3.0, 0.0, 0.0]


def test_lags_and_windows_count_calendar_days_across_gaps(matrix):
    features = origin_features(matrix).xs(pd.Timestamp("2025-01-04"), level="origin_date")

    assert features.loc["A", "demand_lag_0"] == 1.0
    assert features.loc["A", "demand_lag_1"] == 0.0
    assert features.loc["A", "demand_lag_3"] == 2.0  # three calendar days back, not one row
    assert np.isnan(features.loc["A", "demand_lag_4"])  # before the history starts
    assert features.loc["A", "demand_sum_7d"] == 3.0
    assert features.loc["A", "demand_days_7d"] == 2.0
    assert features.loc["B", "demand_sum_7d"] == 3.0


def test_days_since_demand_restarts_on_each_demand_day(matrix):
    features = origin_features(matrix)

    assert features.xs("A", level="part_id")["days_since_demand"].tolist() == [0, 1, 2, 0]
    assert features.xs("B", level="part_id")["days_since_demand"].tolist()[1:] == [0, 1, 2]
    assert np.isnan(features.xs("B", level="part_id")["days_since_demand"].iloc[0])


def test_horizon_rows_carry_the_target_actual_inside_the_history_only(matrix):
    rows = horizon_rows(origin_features(matrix), matrix, horizon_days=2,
                        origins=pd.DatetimeIndex(["2025-01-03"]))
    a = rows[rows["part_id"] == "A"].set_index("horizon_days")

    assert a.loc[1, "target_date"] == pd.Timestamp("2025-01-04")
    assert a.loc[1, "actual"] == 1.0
    assert np.isnan(a.loc[2, "actual"])  # Jan 5 is beyond the last day of data
    assert a.loc[1, "target_day_of_week"] == 5  # Saturday


def test_seasonal_naive_uses_the_latest_day_with_the_targets_weekday():
    rows = pd.DataFrame({f"demand_lag_{k}": [float(k)] * 3 for k in range(7)})
    rows["horizon_days"] = [1, 7, 8]

    # h=1 -> six days before the origin; h=7 -> the origin day; h=8 -> six days before again
    assert seasonal_naive(rows).tolist() == [6.0, 0.0, 6.0]


def test_count_quantiles_are_exact_and_zero_for_zero_mean():
    assert quantile(np.array([0.0, 1.0]), 0.0, 0.9).tolist() == [0.0, 2.0]  # Poisson(1)
    # Negative binomial with mean 1 and alpha 1 is geometric with p = 1/2.
    assert quantile(np.array([1.0]), 1.0, 0.5).tolist() == [0.0]
    assert quantile(np.array([1.0]), 1.0, 0.9).tolist() == [3.0]


def test_dispersion_is_the_method_of_moments_estimate():
    assert fit_dispersion(np.array([0.0, 2.0]), np.array([1.0, 1.0])) == 0.0
    assert fit_dispersion(np.array([0.0, 4.0]), np.array([2.0, 2.0])) == 0.5


def test_a_backtest_on_too_short_a_history_says_how_much_is_needed(matrix):
    from sparecast_assets.forecasting.model import ShortHistoryError, backtest

    with pytest.raises(ShortHistoryError, match="needs more than 56 days of history, there are 4"):
        backtest(origin_features(matrix), matrix, horizon_days=28)
