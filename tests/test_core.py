"""The forecasting core: calendar handling, the hurdle distribution, the API's guarantees and
its fallbacks."""

import numpy as np
import pandas as pd
import pytest

from sparecast_assets.forecasting import core

QUANTILES = list(core.QUANTILE_COLUMNS.values())


def long(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item", "period", "quantity"]).assign(
        period=lambda f: pd.to_datetime(f["period"]))


def fleet(n_items: int = 40, n_periods: int = 36, seed: int = 3) -> pd.DataFrame:
    """Monthly demand of parts with different rates, most periods zero."""
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2020-01-01", periods=n_periods, freq="MS")
    rates = np.linspace(0.05, 3.0, n_items)
    rows = [(f"P{i:02d}", period, float(rng.poisson(rate)))
            for i, rate in enumerate(rates) for period in periods]
    return pd.DataFrame(rows, columns=["item", "period", "quantity"])


def test_lags_count_calendar_periods_across_missing_rows():
    # A has rows only in the months with demand: Jan 2, Apr 3. B starts in March.
    history = long([("A", "2024-01-01", 2), ("A", "2024-04-01", 3), ("A", "2024-06-01", 0),
                    ("B", "2024-03-01", 1), ("B", "2024-06-01", 4)])
    series = core.to_series(history, "M")
    assert list(series.items) == ["A", "B"]
    assert series.periods.strftime("%Y-%m").tolist() == [
        "2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    np.testing.assert_array_equal(series.values[0], [2, 0, 0, 3, 0, 0])
    np.testing.assert_array_equal(series.values[1], [np.nan, np.nan, 1, 0, 0, 4])

    features = core.origin_features(series)
    april = 3
    assert features["lag_0"][0, april] == 3
    assert features["lag_1"][0, april] == 0  # March had no row: zero demand, not January's 2
    assert features["lag_3"][0, april] == 2
    assert np.isnan(features["lag_2"][1, april])  # February is before B existed
    assert features["lag_1"][1, april] == 1
    # Windows span calendar periods and only the item's own life: B's 3-month mean in June
    # is (0 + 0 + 4) / 3, its mean since it started (1 + 0 + 0 + 4) / 4.
    assert features["mean_3"][1, 5] == pytest.approx(4 / 3)
    assert features["mean_all"][1, 5] == pytest.approx(5 / 4)
    assert features["periods_since_demand"][0, 5] == 2
    assert features["periods_since_demand"][1, 4] == 2
    # Two demands in the six months since A's first (January): 3 periods per demand.
    assert features["mean_interval"][0, 5] == 3


def test_weekly_periods_must_be_on_one_grid():
    history = long([("A", "2024-01-01", 1), ("A", "2024-01-09", 1)])  # Monday, then Tuesday
    with pytest.raises(ValueError, match="1 history period\\(s\\) are not 'W' period starts "
                                         "\\(e.g. 2024-01-09 00:00:00\\): give weeks as the "
                                         "Monday"):
        core.to_series(history, "W")
    # Mondays with a week without a row (22 January): the calendar fills it with zero.
    assert core.to_series(long([("A", "2024-01-15", 1), ("A", "2024-01-29", 2)]), "W") \
        .values.tolist() == [[1.0, 0.0, 2.0]]


def test_periods_off_their_start_and_odd_quantities_are_refused():
    # Regression, from trying to break the API: evenly spaced periods off the documented
    # starts (months on the 15th, days at noon, Tuesday weeks) and time-zone-aware periods
    # were accepted; true/false quantities were read as 1/0.
    with pytest.raises(ValueError, match="2 history period\\(s\\) are not 'M' period starts "
                                         "\\(e.g. 2024-01-15 00:00:00\\): give months as "
                                         "their first day"):
        core.to_series(long([("A", "2024-01-15", 1), ("A", "2024-02-15", 1)]), "M")
    with pytest.raises(ValueError, match="give days at midnight"):
        core.to_series(long([("A", "2024-01-01 12:00", 1), ("A", "2024-01-02 12:00", 1)]), "D")
    with pytest.raises(ValueError, match="give weeks as the Monday"):
        core.to_series(long([("A", "2024-01-02", 1), ("A", "2024-01-09", 1)]), "W")
    aware = long([("A", "2024-01-01", 1), ("A", "2024-01-02", 1)])
    aware["period"] = aware["period"].dt.tz_localize("Europe/Berlin")
    with pytest.raises(ValueError, match="carry a time zone"):
        core.to_series(aware, "D")
    with pytest.raises(ValueError, match="true/false, not a number of units"):
        core.to_series(pd.DataFrame({"item": "A", "period": pd.to_datetime(["2024-01-01"]),
                                     "quantity": [True]}), "D")
    # Numbers as text and fractions (litres) are read as numbers.
    assert core.to_series(long([("A", "2024-01-01", "3"), ("A", "2024-01-02", 0.5)]), "D") \
        .values.tolist() == [[3.0, 0.5]]
    with pytest.raises(ValueError, match="horizon must be a whole number of periods >= 1"):
        core.fit(fleet(n_items=3), 2.5, "M")


def test_bad_history_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="1 history row"):
        core.forecast(long([("A", "2024-01-01", -1)]), 3, "M")
    with pytest.raises(ValueError, match="freq must be one of"):
        core.forecast(long([("A", "2024-01-01", 1)]), 3, "Q")
    with pytest.raises(ValueError, match="horizon must be at least 1"):
        core.forecast(long([("A", "2024-01-01", 1)]), 0, "M")
    with pytest.raises(ValueError, match="more than one row"):
        core.forecast(long([("A", "2024-01-01", 1), ("A", "2024-01-01", 2)]), 3, "M")


def test_hurdle_quantiles_by_hand():
    # p = 0.4 of any demand: levels up to 0.6 are 0. Above, 1 + the Poisson(2) quantile of
    # (l - 0.6) / 0.4: l = 0.7 -> 0.25 -> 1 (P(X<=0) = 0.135, P(X<=1) = 0.406), so 2;
    # l = 0.9 -> 0.75 -> 3 (P(X<=2) = 0.677, P(X<=3) = 0.857), so 4.
    p, size = np.array([0.4]), np.array([2.0])
    assert core.hurdle_quantile(p, size, 0.0, 0.6)[0] == 0
    assert core.hurdle_quantile(p, size, 0.0, 0.7)[0] == 2
    assert core.hurdle_quantile(p, size, 0.0, 0.9)[0] == 4


def test_forecast_is_non_negative_monotone_and_covers_every_item_and_step():
    history = fleet()
    frame = core.forecast(history, 6, "M")
    assert len(frame) == 40 * 6
    assert frame.groupby("item")["step"].apply(list).map(tuple).unique().tolist() == [
        (1, 2, 3, 4, 5, 6)]
    assert frame["period"].min() == pd.Timestamp("2023-01-01")
    assert frame["period"].max() == pd.Timestamp("2023-06-01")
    values = frame[["mean", *QUANTILES]].to_numpy()
    assert (values >= 0).all()
    assert (np.diff(frame[QUANTILES].to_numpy(), axis=1) >= 0).all()
    # Whole units, and the fast movers are forecast above the slow ones.
    assert (frame[QUANTILES] == frame[QUANTILES].round()).all().all()
    mean = frame.groupby("item")["mean"].mean()
    assert mean["P39"] > 2 > 0.5 > mean["P00"]


def test_fallbacks_all_zero_history_one_demand_and_a_brand_new_part():
    history = fleet()
    periods = sorted(history["period"].unique())
    history = pd.concat([
        history,
        pd.DataFrame({"item": "ZERO", "period": periods, "quantity": 0.0}),
        pd.DataFrame({"item": "ONCE", "period": periods,
                      "quantity": [5.0 if i == 10 else 0.0 for i in range(len(periods))]}),
    ])
    result = core.forecast_with_model(history, 6, "M", new_items=["NEW"])
    frame = result.frame.set_index(["item", "step"])
    assert result.model is not None
    # Three years without demand: nothing at the median, and less than the slowest mover.
    assert (frame.loc["ZERO", ["q10", "q50"]].to_numpy() == 0).all()
    assert frame.loc["ZERO", "mean"].max() < frame.loc["P39", "mean"].min() / 10
    # One demand 26 months ago: rare, so nothing expected at the median either.
    assert (frame.loc["ONCE", "q50"] == 0).all()
    # A part with no history is still forecast, from the model's cold start.
    assert len(frame.loc["NEW"]) == 6
    assert (np.diff(frame.loc["NEW", QUANTILES].to_numpy(), axis=1) >= 0).all()
    assert (frame.loc["NEW", "mean"] >= 0).all()


def test_too_little_history_falls_back_to_each_items_own_distribution():
    # 2 items x 4 months x 3 steps is below the global model's minimum of training rows.
    history = long([("A", "2024-01-01", 0), ("A", "2024-02-01", 2), ("A", "2024-03-01", 0),
                    ("A", "2024-04-01", 4), ("B", "2024-03-01", 1), ("B", "2024-04-01", 1)])
    result = core.forecast_with_model(history, 3, "M")
    assert result.model is None
    frame = result.frame.set_index(["item", "step"])
    # A's four months 0, 2, 0, 4: mean 1.5, median (inverted CDF) 0, 90th percentile 4.
    assert frame.loc[("A", 1), "mean"] == 1.5
    assert frame.loc[("A", 3), "q50"] == 0
    assert frame.loc[("A", 2), "q90"] == 4
    assert frame.loc[("B", 1), "q10"] == 1
    assert result.drivers().empty


def test_drivers_rank_each_items_strongest_contributions():
    result = core.forecast_with_model(fleet(), 3, "M")
    drivers = result.drivers(top=3)
    assert drivers.groupby("item").size().unique().tolist() == [3]
    assert drivers["rank"].tolist()[:3] == [1, 2, 3]
    first = drivers[drivers["item"] == "P39"]
    assert first["contribution"].abs().is_monotonic_decreasing
    assert set(drivers["feature"]) <= set(result.model.names)


def test_covariates_and_static_attributes_become_features():
    history = fleet(n_items=20)
    covariates = history[["item", "period"]].assign(machines=3.0)
    static = pd.DataFrame({"item": [f"P{i:02d}" for i in range(20)],
                           "criticality": ["A", "B"] * 10})
    result = core.forecast_with_model(history, 3, "M", covariates=covariates, static=static)
    assert {"cov_machines", "cov_machines_mean_6", "static_criticality"} <= set(result.model.names)
    column = result.model.names.index("static_criticality")
    np.testing.assert_array_equal(np.unique(result.design.X[:, column]), [0.0, 1.0])


def test_steps_no_period_reaches_are_constants_not_models():
    # Regression: demand of at most one unit left the cascade's later steps without a single
    # training row, and fitting them failed ("zero-size array").
    history = fleet(n_items=30)
    history["quantity"] = (history["quantity"] > 0).astype(float)
    result = core.forecast_with_model(history, 4, "M")
    assert [step[0] for step in result.model.survival_texts[1:]] == ["constant:0.0"] * 4
    # Nothing beyond the fifth unit either: a constant tail ("sum of labels is zero" before).
    assert result.model.tail_text == "constant:0.0"
    assert result.frame["q99"].max() == 1
    assert not result.drivers().empty


def test_infinite_huge_and_disguised_duplicate_input_is_refused_with_the_reason():
    # Regression, from trying to break the API: inf passed as a quantity and came out as NaN
    # quantiles; "2021-1-1" next to "2021-01-01" leaked a pandas reshape error.
    history = fleet(n_items=3)
    with pytest.raises(ValueError, match="1 history row\\(s\\) have a quantity above"):
        core.forecast(history.assign(quantity=history["quantity"].where(
            history.index != 5, np.inf)), 3, "M")
    twice = pd.concat([history, history.iloc[[0]].assign(period="2020-1-1")])
    with pytest.raises(ValueError, match="more than one row for an \\(item, period\\) pair"):
        core.forecast(twice, 3, "M")
    with pytest.raises(ValueError, match="horizon must be a whole number of periods, got 2.5"):
        core.forecast(history, 2.5, "M")
    assert len(core.forecast(history, np.int64(2), "M", levels=(0.5,))) == 3 * 2
    assert core.fit(history, np.int64(2), "M").horizon == 2
