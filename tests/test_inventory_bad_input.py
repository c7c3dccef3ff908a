"""Bad and unusual input to the inventory policy, the simulator and the target map: a clear
error naming what is wrong, or the documented behaviour; never NaN, a crash or a silent drop.
(Found by trying to break the code; each case is a regression test.)"""

import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from sparecast_assets.inventory.calibrate import NOMINAL_TARGETS, TargetMap
from sparecast_assets.inventory.demand import (
    MAX_PERIOD_UNITS, DemandDistribution, negative_binomial_pmf, pmf_from_quantiles, thin)
from sparecast_assets.inventory.policy import (
    InventorySettings, order_quantity, recommend)
from sparecast_assets.inventory.simulate import order_up_to_paths, replay, summarise

AS_OF = date(2024, 6, 1)
LEVELS = ("demand_p10", "demand_p50", "demand_p90", "demand_p95", "demand_p99")


def forecast(part="A", days=28, quantiles=(0, 1, 2, 3, 5), mean=1.5):
    frame = pd.DataFrame({"part_id": part, "horizon_days": np.arange(1, days + 1),
                          "demand_mean": mean, "model_version": "v1"})
    for column, value in zip(LEVELS, quantiles):
        frame[column] = float(value)
    return frame


def parts(part="A", **changes):
    row = dict(part_id=part, unit_cost=10.0, lead_time_days=14.0, min_order_qty=0.0,
               pack_size=1.0, criticality="high")
    return pd.DataFrame([{**row, **changes}])


def inventory(part="A", **changes):
    row = dict(part_id=part, location_id="L1", snapshot_date=date(2024, 5, 31), on_hand=5.0,
               on_order=0.0)
    return pd.DataFrame([{**row, **changes}])


def usage(part="A", **changes):
    row = dict(part_id=part, location_id="L1", units=10.0, last_demand_date=date(2024, 5, 1))
    return pd.DataFrame([{**row, **changes}])


def run(f=None, p=None, i=None, u=None, settings=InventorySettings(), as_of=AS_OF):
    return recommend(forecast() if f is None else f, parts() if p is None else p,
                     inventory() if i is None else i, usage() if u is None else u, as_of,
                     date(2020, 1, 1), settings)


def test_a_part_with_a_tiny_forecast_and_stock_gets_no_date_past_the_calendar():
    # 500 on hand at 1e-9 units a day is 5e11 days of cover: no projected stockout date.
    result = run(f=forecast(quantiles=(0, 0, 0, 0, 0), mean=1e-9),
                 i=inventory(on_hand=500.0))
    assert result["days_of_cover"].iloc[0] == pytest.approx(5e11)
    assert result["projected_stockout_date"].iloc[0] is None


def test_a_part_used_by_the_hundred_at_two_locations_is_quick():
    # 300 units a day split over two locations: each day is thinned, then summed.
    started = time.monotonic()
    result = run(f=forecast(quantiles=(280, 300, 320, 330, 340), mean=300),
                 i=pd.concat([inventory(), inventory(location_id="L2")]),
                 u=pd.concat([usage(units=30.0), usage(location_id="L2", units=10.0)]))
    assert time.monotonic() - started < 10
    assert result["demand_share"].tolist() == [0.75, 0.25]
    # The lead time's mean is 14 days x the day's pmf mean x the location's share (the day's
    # mean is just above the forecast's 300: the tail is matched to at least the mean).
    day = pmf_from_quantiles([0.1, 0.5, 0.9, 0.95, 0.99], [280, 300, 320, 330, 340], 300.0)
    day_mean = float(np.dot(np.arange(day.size), day))
    assert 300 <= day_mean < 301
    assert result["lead_time_demand_mean"].tolist() == [
        pytest.approx(14 * day_mean * 0.75), pytest.approx(14 * day_mean * 0.25)]


def test_a_part_used_by_the_hundred_million_is_counted_in_buckets():
    # 1e8 units a day: buckets of 100,000 units, levels in whole buckets, in well under a
    # second; the 14-day lead time holds 14 days of the constant demand exactly.
    started = time.monotonic()
    result = run(f=forecast(quantiles=(1e8,) * 5, mean=1e8))
    assert time.monotonic() - started < 5
    assert result["lead_time_demand_mean"].iloc[0] == pytest.approx(14e8)
    assert result["order_up_to_level"].iloc[0] % 100_000 == 0
    assert result["order_up_to_level"].iloc[0] == pytest.approx(21e8, rel=1e-2)


def test_implausibly_large_forecasts_and_lead_times_are_refused():
    with pytest.raises(ValueError, match="forecast of part 'A': a quantile or mean above "
                                         "1,000,000,000 units"):
        run(f=forecast(quantiles=(2e9,) * 5, mean=2e9))
    with pytest.raises(ValueError, match=f"past {MAX_PERIOD_UNITS:,} units"):
        pmf_from_quantiles([0.95, 0.99], [0.0, 0.0], mean=50_000.0)
    with pytest.raises(ValueError, match="thinning a distribution over 30,000 units"):
        thin(np.full(30_001, 1 / 30_001), 0.5)
    with pytest.raises(ValueError, match="lead_time_days must be finite, >= 0 and <= 3650 for "
                                         "part\\(s\\) A"):
        run(p=parts(lead_time_days=9999))


def test_forecast_steps_must_be_whole_consecutive_days():
    shuffled = forecast(days=12)
    shuffled["horizon_days"] = shuffled["horizon_days"].astype(str)
    result = run(f=shuffled)  # text that is a number is read as one, in day order
    assert result["lead_time_demand_mean"].iloc[0] == pytest.approx(
        run(f=forecast(days=12))["lead_time_demand_mean"].iloc[0])
    gap = forecast()[lambda f: f["horizon_days"] != 5]
    with pytest.raises(ValueError, match="horizon_days must run 1, 2, ... without gaps for "
                                         "part\\(s\\) A"):
        run(f=gap)
    with pytest.raises(ValueError, match="whole days >= 1"):
        run(f=forecast().assign(horizon_days=lambda f: f["horizon_days"] - 0.5))


@pytest.mark.parametrize("frame, column, value, message", [
    ("forecast", "demand_mean", np.nan, "demand_mean must be finite and >= 0"),
    ("forecast", "demand_mean", -1.0, "demand_mean must be finite and >= 0"),
    ("parts", "unit_cost", np.inf, "unit_cost must be finite, >= 0"),
    ("parts", "unit_cost", -10.0, "unit_cost must be finite, >= 0"),
    ("parts", "pack_size", 0.0, "pack_size must be finite, > 0"),
    ("parts", "pack_size", np.inf, "pack_size must be finite, > 0"),
    ("parts", "min_order_qty", np.inf, "min_order_qty must be finite, >= 0"),
    ("parts", "unit_cost", "ten", "unit_cost is not a number"),
    ("inventory", "on_hand", np.nan, "on_hand must be a finite count >= 0"),
    ("inventory", "on_hand", -20.0, "on_hand must be a finite count >= 0"),
    ("inventory", "on_order", np.inf, "on_order must be finite and >= 0"),
    ("usage", "units", np.nan, "units must be finite and >= 0"),
    ("usage", "units", -1.0, "units must be finite and >= 0"),
])
def test_values_that_would_give_nan_or_nonsense_are_refused_naming_the_part(frame, column,
                                                                            value, message):
    inputs = {"f": forecast(), "p": parts(), "i": inventory(), "u": usage()}
    key = {"forecast": "f", "parts": "p", "inventory": "i", "usage": "u"}[frame]
    inputs[key] = inputs[key].astype({column: object}).assign(**{column: value})
    with pytest.raises(ValueError, match=f"{message}.* A"):
        run(**inputs)


def test_duplicates_and_missing_ids_are_refused():
    with pytest.raises(ValueError, match="parts: more than one row for part\\(s\\) A"):
        run(p=pd.concat([parts(), parts(unit_cost=5.0)]))
    with pytest.raises(ValueError, match="inventory: more than one stock count at a location"):
        run(i=pd.concat([inventory(), inventory(on_hand=3.0)]))
    with pytest.raises(ValueError, match="location_demand: more than one usage row"):
        run(u=pd.concat([usage(), usage(units=3.0)]))
    with pytest.raises(ValueError, match="forecast has 1 row\\(s\\) without a part_id"):
        run(f=pd.concat([forecast(), forecast(days=1).assign(part_id=None)]))
    with pytest.raises(ValueError, match="a stock count without a location_id"):
        run(i=inventory(location_id=None))


def test_ids_dates_and_criticality_of_other_types_are_read_not_refused():
    result = run(f=forecast(part=7), p=parts(part=7, criticality=1.0), i=inventory(part=7),
                 u=usage(part="7", last_demand_date="2024-05-01"), as_of="2024-06-01")
    assert result["part_id"].tolist() == ["7"]
    assert result["as_of_date"].tolist() == [AS_OF]
    assert result["last_demand_date"].tolist() == [date(2024, 5, 1)]
    # Criticality "1.0" is no class: the default target, flagged.
    assert "criticality_default" in result["data_flags"].iloc[0]
    with pytest.raises(ValueError, match="as_of_date must be a date, got 'soon'"):
        run(as_of="soon")


def test_a_part_only_used_at_a_location_gets_a_row():
    result = run(u=pd.concat([usage(), usage(part="B", location_id="L9", units=4.0)]))
    row = result[result["part_id"] == "B"].iloc[0]
    assert (row["location_id"], row["on_hand"], row["model_version"]) == ("L9", 0.0, None)
    assert row["data_flags"] == "lead_time_default,unit_cost_default,criticality_default," \
                                "no_forecast,no_inventory_snapshot"


def test_settings_match_criticality_without_case_and_refuse_non_finite_numbers():
    settings = InventorySettings(service_targets={"High": 0.97, " medium ": 0.9},
                                 default_criticality="Medium")
    assert settings.target_for("HIGH ") == (0.97, False)
    assert run(settings=settings)["service_target"].iloc[0] == 0.97
    for name, value in (("review_period_days", np.nan), ("default_lead_time_days", np.inf),
                        ("dead_stock_days", np.nan), ("excess_horizon_days", np.nan),
                        ("default_unit_cost", np.nan)):
        with pytest.raises(ValueError, match=f"{name} must be a finite number"):
            InventorySettings(**{name: value})
    with pytest.raises(ValueError, match="forecast_season must be a whole number"):
        InventorySettings(forecast_season=0)
    with pytest.raises(ValueError, match="names 'high' twice"):
        InventorySettings(service_targets={"high": 0.9, "HIGH": 0.95})


def test_order_quantity_and_distributions_refuse_nan():
    with pytest.raises(ValueError, match="finite numbers"):
        order_quantity(10, np.nan, 5)
    with pytest.raises(ValueError, match="finite numbers"):
        order_quantity(10, 3, 2, min_order_qty=np.nan)
    with pytest.raises(ValueError, match="probabilities summing to 1"):
        DemandDistribution(np.array([0.5, np.nan, 0.5]))
    with pytest.raises(ValueError, match="must be finite"):
        negative_binomial_pmf(np.nan, 0.1, 3)


def test_simulator_refuses_nan_demand_fractional_lead_times_and_missing_items():
    with pytest.raises(ValueError, match="demand must be finite"):
        replay([1.0, 2.0, np.nan], order_up_to=5, lead_time=1)
    with pytest.raises(ValueError, match="non-empty"):
        replay([], order_up_to=5, lead_time=1)
    assert replay([1.0, 0.0], order_up_to=2, lead_time=1.0).measured_from == 1
    with pytest.raises(ValueError, match="no replays"):
        summarise({})
    periods = pd.date_range("2024-01-01", periods=4, freq="MS")
    demand = pd.DataFrame({"item": "P1", "period": periods, "quantity": [1.0, 0, np.nan, 1]})

    def forecaster(history, horizon):
        return pd.DataFrame({"item": "P1", "step": np.arange(1, horizon + 1), "mean": 1.0,
                             "alpha": 0.0})

    with pytest.raises(ValueError, match="finite numbers >= 0 \\(no NaN\\)"):
        order_up_to_paths(demand, pd.Series({"P1": 1}), forecaster, 2, [0.9])
    demand["quantity"] = 1.0
    with pytest.raises(ValueError, match="whole numbers of periods"):
        order_up_to_paths(demand, pd.Series({"P1": 2.7}), forecaster, 2, [0.9])
    with pytest.raises(ValueError, match="have no demand rows: \\['P2'\\]"):
        order_up_to_paths(demand, pd.Series({"P1": 1, "P2": 1}), forecaster, 2, [0.9])
    two = pd.concat([demand, demand.assign(item="P2")])
    with pytest.raises(ValueError, match="left out 1 item\\(s\\): \\['P2'\\]"):
        order_up_to_paths(two, pd.Series({"P1": 1, "P2": 1}), forecaster, 2, [0.9])


def test_target_map_refuses_nan_levels_and_targets_outside_zero_and_one():
    target_map = TargetMap()
    with pytest.raises(ValueError, match="levels must be finite"):
        target_map.add(np.full(NOMINAL_TARGETS.size, np.nan), 1.0, 1.0)
    assert target_map.reviews == 0
    with pytest.raises(ValueError, match="targets must be within \\(0, 1\\)"):
        target_map.nominal([1.5, np.nan, -1])
