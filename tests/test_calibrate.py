"""Service-target calibration: the target map and its use in the simulator, against
hand-computed values."""

import numpy as np
import pandas as pd
import pytest

from sparecast_assets.inventory.calibrate import (
    MIN_REVIEWS_WITH_DEMAND, NOMINAL_TARGETS, TargetMap, nominal_levels)
from sparecast_assets.inventory.demand import DemandDistribution, negative_binomial_pmf
from sparecast_assets.inventory.policy import CYCLE_SERVICE, FILL_RATE, order_up_to_levels
from sparecast_assets.inventory.simulate import order_up_to_paths


def test_target_map_counts_filled_review_units_at_each_nominal_target():
    # One review, nominal levels S(g) = 0 .. 5 stepping at g = 0.6, 0.7, 0.8, 0.9, 0.99:
    # lead-time demand 2 and review demand 3 fill min(3, max(S - 2, 0)) units.
    grid = NOMINAL_TARGETS
    levels = np.select([grid < 0.6, grid < 0.7, grid < 0.8, grid < 0.9, grid < 0.99],
                       [0, 2, 3, 4, 5], 6).astype(float)
    target_map = TargetMap(FILL_RATE)
    target_map.add(levels, lead_units=2, review_units=3)
    achieved = target_map.achieved()
    at = {g: achieved[np.flatnonzero(np.isclose(grid, g))[0]] for g in (0.5, 0.6, 0.7, 0.8, 0.9,
                                                                      0.99, 0.999)}
    assert at == {0.5: 0.0, 0.6: 0.0, 0.7: pytest.approx(1 / 3), 0.8: pytest.approx(2 / 3),
                  0.9: 1.0, 0.99: 1.0, 0.999: 1.0}
    # One review is too few to calibrate from: targets are asked as they are.
    assert target_map.nominal([0.6, 0.95]).tolist() == [0.6, 0.95]


def test_target_map_asks_the_smallest_nominal_target_that_achieved_the_target():
    grid = NOMINAL_TARGETS
    levels = np.select([grid < 0.6, grid < 0.7, grid < 0.8, grid < 0.9, grid < 0.99],
                       [0, 2, 3, 4, 5], 6).astype(float)
    target_map = TargetMap(FILL_RATE)
    for _ in range(MIN_REVIEWS_WITH_DEMAND):
        target_map.add(levels, lead_units=2, review_units=3)
    # Achieved 1/3 from 0.7, 2/3 from 0.8, all from 0.9: 0.3 -> 0.7, 0.5 -> 0.8, 0.9 -> 0.9.
    assert target_map.nominal([0.3, 0.5, 0.9]).tolist() == [0.7, 0.8, 0.9]
    # A review of 4 units that even the top level leaves 2 short: (3000 + 2) / 3004 < 0.9995
    # cannot be reached and the largest nominal target is asked.
    target_map.add(np.full(grid.size, 2.0), lead_units=0, review_units=4)
    assert target_map.nominal([0.9995])[0] == grid[-1]


def test_target_map_for_cycle_service_counts_reviews_covered():
    grid = NOMINAL_TARGETS
    target_map = TargetMap(CYCLE_SERVICE)
    for units in range(MIN_REVIEWS_WITH_DEMAND):
        # Levels 10 below 0.9 and 20 from there; demand 15 in one review of three.
        target_map.add(np.where(grid < 0.9, 10.0, 20.0), lead_units=0,
                       review_units=15.0 if units % 3 == 0 else 5.0)
    assert target_map.nominal([0.6, 0.7]).tolist() == [0.5, 0.9]
    with pytest.raises(ValueError, match="one level per nominal target"):
        target_map.add(np.zeros(3), 0, 0)
    with pytest.raises(ValueError, match="finite and >= 0"):
        target_map.add(np.zeros(grid.size), -1, 0)
    with pytest.raises(ValueError, match="measure must be"):
        TargetMap("fill")


def test_nominal_levels_are_the_policys_levels_on_the_grid():
    lead = DemandDistribution(negative_binomial_pmf(0.5, 0.0, 1))
    protection = DemandDistribution(negative_binomial_pmf(0.5, 0.0, 2))
    assert nominal_levels(lead, protection).tolist() == \
        order_up_to_levels(lead, protection, NOMINAL_TARGETS).astype(float).tolist()


def test_simulator_recalibrates_from_reviews_whose_interval_is_over(monkeypatch):
    # 60 items, each demanding 2 units every month, forecast as Poisson with mean 0.5 a month
    # (far too little). Lead time 1, review 1: the review at period t is over at t + 2, and
    # fills min(2, max(S - 2, 0)) of its 2 review-period units: all of them from S = 4.
    monkeypatch.setattr("sparecast_assets.inventory.calibrate.MIN_REVIEWS_WITH_DEMAND", 60)
    periods = pd.date_range("2020-01-01", periods=20, freq="MS")
    items = [f"P{i:02d}" for i in range(60)]
    demand = pd.DataFrame([(item, period, 2.0) for item in items for period in periods],
                          columns=["item", "period", "quantity"])

    def forecaster(history, horizon):
        return pd.DataFrame({"item": np.repeat(items, horizon),
                             "step": np.tile(np.arange(1, horizon + 1), len(items)),
                             "mean": 0.5, "alpha": 0.0})

    messages = []
    paths = order_up_to_paths(demand, pd.Series(1, index=items), forecaster, holdout=3,
                              targets=[0.9], warmup=2, recalibrate=True, log=messages.append)
    plain = order_up_to_paths(demand, pd.Series(1, index=items), forecaster, holdout=3,
                              targets=[0.9], warmup=2, recalibrate=False)
    lead = DemandDistribution(negative_binomial_pmf(0.5, 0.0, 1))
    protection = DemandDistribution(negative_binomial_pmf(0.5, 0.0, 2))
    uncalibrated = float(order_up_to_levels(lead, protection, [0.9])[0])
    nominal = nominal_levels(lead, protection)
    # Warm-up reviews at periods 15 and 16 (12 or more periods of history), held-out ones at
    # 17, 18, 19. At origin 17 the review of 15 is over (60 reviews), at 18 those of 15 and
    # 16 (120), at 19 three (180).
    assert [m.split(",")[1].strip() for m in messages] == [
        "0 past reviews: targets asked 0.9 (too few to calibrate)",
        "0 past reviews: targets asked 0.9 (too few to calibrate)",
        f"60 past reviews: targets asked {NOMINAL_TARGETS[nominal >= 4][0]:.4g}",
        f"120 past reviews: targets asked {NOMINAL_TARGETS[nominal >= 4][0]:.4g}",
        f"180 past reviews: targets asked {NOMINAL_TARGETS[nominal >= 4][0]:.4g}"]
    assert messages[0].startswith("origin 2021-04-01 (warm-up): 60 items")
    assert uncalibrated == 3.0
    assert plain["P00"][:, 0, 0].tolist() == [3.0, 3.0, 3.0]
    assert paths["P00"][:, 0, 0].tolist() == [4.0, 4.0, 4.0]
