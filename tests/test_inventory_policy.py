"""Lead-time demand from forecast quantiles, stocking levels for service targets, and order
rounding: every figure below is computed by hand in the comments."""

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from sparecast_assets.inventory.demand import (
    DemandDistribution, bucket_size, demand_over, negative_binomial_pmf, period_pmfs_for,
    pmf_from_quantiles, thin)
from sparecast_assets.inventory.policy import (
    CYCLE_SERVICE, FILL_RATE, InventorySettings, expected_fill_rate, order_quantity,
    order_up_to_for_fill_rate, recommend, reorder_point_for_fill_rate, stock_levels,
    system_order_up_to)

LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]


def test_integer_quantiles_give_a_pmf_between_the_bounds_they_imply():
    # q10..q80 = 0, q90 = q95 = 1, q99 = 2. F(k) = Phi(k + 0.5):
    # F(0) = 0.8 + (0.9 - 0.8) * 0.5 = 0.85 (P(D = 0) is in [0.8, 0.9));
    # F(1) = 0.95 + (0.99 - 0.95) * 0.5 = 0.97; beyond q99 the tail 1 - 0.01 * 5^-(x - 2)
    # (theta = (q99 - q95) / ln 5): F(2) = 1 - 0.01 / sqrt(5), F(3) = 1 - 0.01 / 5^1.5.
    pmf = pmf_from_quantiles(LEVELS, [0] * 8 + [1, 1, 2])
    cdf = np.cumsum(pmf)
    assert cdf[:4] == pytest.approx([0.85, 0.97, 1 - 0.01 / math.sqrt(5), 1 - 0.01 / 5**1.5],
                                    abs=1e-12)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)


def test_fractional_quantiles_are_read_as_rounding_and_equal_quantiles_as_a_jump():
    # q10..q50 = 0 and q60..q99 = 1: F(0) = 0.5 + (0.6 - 0.5) * 0.5; q95 = q99 means no tail.
    assert pmf_from_quantiles(LEVELS, [0] * 5 + [1] * 6) == pytest.approx([0.55, 0.45])
    # Every quantile 1: F rises from 0 at 0 (one unit below the only quantile) to 0.1 at 1,
    # so P(D = 0) = F(0.5) = 0.05.
    assert pmf_from_quantiles(LEVELS, [1] * 11) == pytest.approx([0.05, 0.95])
    assert pmf_from_quantiles(LEVELS, [0] * 11).tolist() == [1.0]


def test_a_slow_part_whose_quantiles_are_all_zero_keeps_its_mean_in_the_tail():
    # Used about twice a year: every daily quantile up to q99 is 0, mean 0.005 units a day.
    # The 1 % above q99 is exponential with the scale that gives mean 0.005: with
    # u = exp(-0.5 / theta), 0.01 u / (1 - u^2) = 0.005, so u = sqrt(2) - 1 and
    # P(D >= 1) = 0.01 u. Without the mean the part would have no demand at all.
    pmf = pmf_from_quantiles(LEVELS, [0] * 11, mean=0.005)
    assert pmf[0] == pytest.approx(1 - 0.01 * (math.sqrt(2) - 1), abs=1e-9)
    assert np.arange(pmf.size) @ pmf == pytest.approx(0.005, rel=1e-6)
    # A mean the quantiles already reach changes nothing.
    assert pmf_from_quantiles(LEVELS, [0] * 5 + [1] * 6, mean=0.45) == pytest.approx([0.55, 0.45])


def test_quantiles_that_decrease_or_are_negative_are_rejected():
    with pytest.raises(ValueError, match="must not decrease"):
        pmf_from_quantiles(LEVELS, [0] * 9 + [2, 1])
    with pytest.raises(ValueError, match=">= 0"):
        pmf_from_quantiles(LEVELS, [-1] + [0] * 10)


def test_periods_are_convolved_and_a_partly_covered_period_is_thinned():
    coin = np.array([0.5, 0.5])
    assert demand_over([coin, coin], 2) == pytest.approx([0.25, 0.5, 0.25])
    # 1.5 periods: the second period's unit counts with probability 0.5 -> [0.75, 0.25].
    assert demand_over([coin, coin], 1.5) == pytest.approx([0.375, 0.5, 0.125])
    assert demand_over([coin], 0).tolist() == [1.0]
    assert thin(np.array([0.0, 0.0, 1.0]), 0.5) == pytest.approx([0.25, 0.5, 0.25])


def test_steps_beyond_the_horizon_repeat_the_last_season():
    a, b, c = np.array([1.0]), np.array([0.5, 0.5]), np.array([0.0, 1.0])
    pmfs, extended = period_pmfs_for([a, b, c], 5.5, season=2)
    assert extended and [p.tolist() for p in pmfs] == [[1.0], [0.5, 0.5], [0.0, 1.0],
                                                       [0.5, 0.5], [0.0, 1.0], [0.5, 0.5]]
    assert period_pmfs_for([a, b, c], 2, season=2) == ([a, b], False)


def test_negative_binomial_over_periods_has_the_summed_mean_and_variance():
    # NB2 mean 2, alpha 0.5 per period over 3 periods: mean 6, variance 3 * (2 + 0.5 * 4) = 12.
    pmf = negative_binomial_pmf(2.0, 0.5, 3)
    units = np.arange(pmf.size)
    mean = units @ pmf
    assert mean == pytest.approx(6.0, abs=1e-6)
    assert ((units - mean) ** 2) @ pmf == pytest.approx(12.0, abs=1e-4)
    assert negative_binomial_pmf(0.0, 0.5, 3).tolist() == [1.0]
    # alpha 0 is Poisson with mean periods x mean: P(0) = e^-2.
    assert negative_binomial_pmf(1.0, 0.0, 2)[0] == pytest.approx(math.exp(-2))


def test_bucket_size_keeps_whole_units_up_to_a_thousand():
    assert [bucket_size(x) for x in (0, 1, 1000, 1001, 49_980)] == [1, 1, 1, 2, 50]


def test_a_distribution_in_buckets_reports_units():
    # Buckets of 10 units: 0 units with 1/2, 20 units with 1/2.
    lumps = DemandDistribution(np.array([0.5, 0.0, 0.5]), unit=10)
    assert lumps.mean == 10.0
    assert lumps.max_units == 20
    assert lumps.stock_levels.tolist() == [0, 10, 20]
    assert lumps.quantile(0.4) == 0 and lumps.quantile(0.6) == 20
    # P(D <= 19) = P(D <= 10) = 1/2; shortages at levels between buckets are floored to the
    # bucket below: E[(D - 15)^+] is taken as E[(D - 10)^+] = 1/2 x 10.
    assert lumps.probability_at_most(19) == 0.5
    assert lumps.expected_shortage([0, 10, 15, 20]).tolist() == [10.0, 5.0, 5.0, 0.0]
    # The same lumps as the unit lattice's LUMP scaled by 10: every level scales by 10.
    protection = DemandDistribution(demand_over([lumps.pmf, lumps.pmf], 2), unit=10)
    assert order_up_to_for_fill_rate(lumps, protection, [0.5, 0.75, 0.99]).tolist() == [
        10 * s for s in order_up_to_for_fill_rate(LEAD, PROTECTION, [0.5, 0.75, 0.99])]
    assert reorder_point_for_fill_rate(lumps, 40, 0.9) == 10 * reorder_point_for_fill_rate(
        LEAD, 4, 0.9)


def test_levels_in_buckets_agree_with_levels_in_units_within_a_bucket():
    # A part used by the thousand a week (q10 3,000 ... q99 9,000), lead time 6 weeks, review 1.
    quantiles = [3000, 3600, 4000, 4300, 4700, 5000, 5400, 5900, 6800, 7600, 9000]
    unit = bucket_size(quantiles[-1])
    assert unit == 9
    levels = {}
    for lattice in (1, unit):
        week = pmf_from_quantiles(LEVELS, quantiles, 5000.0, lattice)
        lead = DemandDistribution(demand_over([week] * 6, 6), lattice)
        protection = DemandDistribution(demand_over([week] * 7, 7), lattice)
        assert protection.mean == pytest.approx(lead.mean * 7 / 6)
        levels[lattice] = order_up_to_for_fill_rate(lead, protection, [0.8, 0.9, 0.95, 0.99])
    assert np.abs(levels[unit] - levels[1]).max() <= unit
    assert (levels[unit] % unit == 0).all()


def test_negative_binomial_in_buckets_keeps_its_mean():
    # NB2 mean 3,000 a period, alpha 0.2, over 4 periods: mean 12,000 in buckets of 20 units.
    pmf = negative_binomial_pmf(3000.0, 0.2, 4, unit=20)
    distribution = DemandDistribution(pmf, unit=20)
    assert distribution.mean == pytest.approx(12_000, rel=1e-4)
    assert pmf.size < 2_000


# Lumpy demand: 0 or 2 units per period with probability 1/2 each, lead time 1, review 1.
LUMP = np.array([0.5, 0.0, 0.5])
LEAD = DemandDistribution(LUMP)
PROTECTION = DemandDistribution(demand_over([LUMP, LUMP], 2))  # [0.25, 0, 0.5, 0, 0.25]


def test_fill_rate_subtracts_the_shortage_carried_in_from_the_last_cycle():
    # E[D_R] = 1. S = 1: E[(D_LR - 1)^+] = 0.5 * 1 + 0.25 * 3 = 1.25, E[(D_L - 1)^+] = 0.5,
    # fill rate 1 - 0.75 = 0.25 (the textbook shortcut 1 - 1.25 would say -0.25).
    # S = 2: 1 - (0.5 - 0) = 0.5; S = 3: 1 - 0.25 = 0.75; S = 4: 1.
    assert expected_fill_rate(LEAD, PROTECTION, [0, 1, 2, 3, 4]) == pytest.approx(
        [0.0, 0.25, 0.5, 0.75, 1.0])
    assert order_up_to_for_fill_rate(LEAD, PROTECTION, 0.75) == 3
    assert order_up_to_for_fill_rate(LEAD, PROTECTION, 0.76) == 4
    assert order_up_to_for_fill_rate(LEAD, PROTECTION, np.array([0.5, 0.8])).tolist() == [2, 4]


def test_fill_rate_target_sets_the_reorder_point_from_the_lead_time_cycle():
    levels = stock_levels(LEAD, PROTECTION, 0.75, FILL_RATE)
    # S = 3. s = 0: 1 - E[(D_L - 0)^+] / 3 = 2/3; s = 1: 1 - 0.5 / 2 = 0.75 -> s = 1.
    assert (levels.reorder_point, levels.order_up_to_level) == (1, 3)
    assert levels.safety_stock == pytest.approx(0.0)  # 1 - E[D_L] = 1 - 1
    assert levels.expected_fill_rate == pytest.approx(0.75)
    assert levels.expected_cycle_service_level == pytest.approx(0.75)


def test_cycle_service_target_takes_quantiles_of_lead_time_and_protection_demand():
    levels = stock_levels(LEAD, PROTECTION, 0.75, CYCLE_SERVICE)
    # D_L CDF [0.5, 0.5, 1] -> s = 2; D_LR CDF [0.25, 0.25, 0.75, 0.75, 1] -> S = 2.
    assert (levels.reorder_point, levels.order_up_to_level) == (2, 2)
    assert levels.safety_stock == pytest.approx(1.0)
    assert levels.expected_fill_rate == pytest.approx(0.5)


def test_zero_lead_time_protects_the_review_period_only():
    no_lead = DemandDistribution(demand_over([LUMP], 0))
    review = DemandDistribution(demand_over([LUMP], 1))
    levels = stock_levels(no_lead, review, 0.9, FILL_RATE)
    # Fill rate 1 - E[(D - S)^+] / 1: S = 1 -> 0.5, S = 2 -> 1. Nothing to cover before an
    # order arrives, so s = 0.
    assert (levels.reorder_point, levels.order_up_to_level, levels.safety_stock) == (0, 2, 0.0)


@pytest.mark.parametrize("position, moq, pack, expected", [
    (3, 10, 4, 16),   # needs 14 >= MOQ 10 -> four packs of 4
    (3, 18, 4, 20),   # MOQ 18 first, then whole packs -> 20
    (3, 0, 1, 14),
    (-2, 0, 1, 19),   # backorders count against the position: 17 + 2
    (2.5, 0, 1, 15),  # a fractional need is rounded up to whole units
    (5, 10, 4, 12),   # at the reorder point: order (needs 12 >= MOQ 10, three packs)
    (6, 10, 4, 0),    # above the reorder point: nothing
])
def test_order_quantity_respects_reorder_point_moq_and_pack_size(position, moq, pack, expected):
    assert order_quantity(17, 5, position, moq, pack) == expected


def test_order_quantity_rejects_a_pack_size_of_zero():
    with pytest.raises(ValueError, match="pack_size"):
        order_quantity(17, 5, 3, 0, 0)


def _forecast(parts, days=28):
    # q10..q50 = 0, q60..q99 = 1: a daily pmf [0.55, 0.45], mean 0.45.
    rows = []
    for part in parts:
        for day in range(1, days + 1):
            row = {"part_id": part, "horizon_days": day, "demand_mean": 0.45,
                   "model_version": "lgbm-test"}
            row.update({f"demand_p{round(l * 100)}": (0.0 if l <= 0.5 else 1.0) for l in LEVELS})
            rows.append(row)
    return pd.DataFrame(rows)


def test_recommend_falls_back_to_defaults_and_flags_them():
    settings = InventorySettings(default_lead_time_days=0, default_unit_cost=1.0,
                                 review_period_days=1)
    parts = pd.DataFrame({"part_id": ["B"], "unit_cost": [None], "lead_time_days": [None],
                          "min_order_qty": [None], "pack_size": [None], "criticality": [None]})
    inventory = pd.DataFrame({"part_id": ["B"], "location_id": ["WH-1"],
                              "snapshot_date": [date(2025, 6, 1)], "on_hand": [0.0],
                              "on_order": [1.0]})
    usage = pd.DataFrame({"part_id": ["B"], "location_id": ["WH-1"], "units": [3.0],
                          "last_demand_date": [date(2025, 5, 30)]})
    row = recommend(_forecast(["B"]), parts, inventory, usage, date(2025, 6, 1),
                    date(2024, 1, 1), settings).iloc[0]
    # Lead time 0, review 1 day: D_LR = [0.55, 0.45]; medium target 0.95 needs S = 1, s = 0.
    # Position 1 > s: no order; nothing can be short before an order arrives.
    assert row["data_flags"] == "lead_time_default,unit_cost_default,criticality_default"
    assert (row["lead_time_days"], row["unit_cost"], row["criticality"]) == (0.0, 1.0, "medium")
    assert (row["reorder_point"], row["order_up_to_level"]) == (0, 1)
    assert row["recommended_order_qty"] == 0.0
    assert row["stockout_probability"] == 0.0
    assert row["days_of_cover"] == 0.0


def test_recommend_gives_a_part_without_stock_records_a_row_at_an_unknown_location():
    parts = pd.DataFrame({"part_id": ["A"], "unit_cost": [2.0], "lead_time_days": [2.0],
                          "min_order_qty": [0.0], "pack_size": [1.0], "criticality": ["low"]})
    empty_inventory = pd.DataFrame(columns=["part_id", "location_id", "snapshot_date",
                                            "on_hand", "on_order"])
    no_usage = pd.DataFrame(columns=["part_id", "location_id", "units", "last_demand_date"])
    row = recommend(_forecast(["A"]), parts, empty_inventory, no_usage, date(2025, 6, 1), None,
                    InventorySettings(review_period_days=1)).iloc[0]
    # D_L = Bin(2, 0.45), D_LR = Bin(3, 0.45): fill rate at S = 2 is 0.7975 < 0.90, so S = 3;
    # s = 1 gives 1 - 0.2025 / 2 = 0.89875 < 0.90, s = 2 gives 1 -> s = 2. Nothing in stock:
    # order 3, P(D_L > 0) = 1 - 0.55^2.
    assert row["location_id"] == "unknown" and row["data_flags"] == "no_inventory_snapshot"
    assert (row["reorder_point"], row["order_up_to_level"]) == (2, 3)
    assert row["recommended_order_qty"] == 3.0
    assert row["stockout_probability"] == pytest.approx(1 - 0.55**2)
    assert row["days_of_cover"] == 0.0


def test_settings_reject_a_target_outside_zero_and_one():
    with pytest.raises(ValueError, match="service target for 'high'"):
        InventorySettings(service_targets={"high": 1.0, "medium": 0.95})


def test_system_allocation_stocks_the_cheap_part_first_and_meets_the_fill_rate_over_units():
    # Two LUMP parts (0 or 2 units a period, lead time 1, review 1), E[D_R] = 1 unit each.
    # Units filled per review at S = 0 ... 4 (1 - (E[(D_LR - S)^+] - E[(D_L - S)^+])):
    # E[(D_LR - S)^+] = 2, 1.25, 0.5, 0.25, 0 and E[(D_L - S)^+] = 1, 0.5, 0, 0, 0, so
    # filled = 0, 0.25, 0.5, 0.75, 1. The part costing 1 is stocked before the one costing 100:
    # 50 % of all units needs 1 filled (the cheap part at S = 4); 75 % needs 1.5 (the dear
    # one at S = 2 on top); 90 % needs 1.8 (the dear one at 4, as 3 fills only 0.75).
    levels = system_order_up_to([LEAD, LEAD], [PROTECTION, PROTECTION], [1.0, 100.0],
                                [0.5, 0.75, 0.9])
    assert levels.tolist() == [[4, 4, 4], [0, 2, 4]]
    # Each part on its own target, for comparison: both parts at 2, 3, 4.
    assert order_up_to_for_fill_rate(LEAD, PROTECTION, [0.5, 0.75, 0.9]).tolist() == [2, 3, 4]


def test_system_allocation_counts_the_cycle_stock_of_large_packs():
    # 50 % of the units needs one part at S = 4, where E[(4 - D_LR)^+] = 4 - 2 + 0 = 2 units
    # are left at the end. The first part comes in packs of 10: any stock of it also holds
    # (10 - 1) / 2 = 4.5 units of cycle stock. At cost 1 it holds 1 x (2 + 4.5) = 6.5 against
    # the other's 100 x 2 = 200 and still goes first; at cost 60 it would hold
    # 60 x 6.5 = 390, so the part costing 100 is stocked instead.
    assert system_order_up_to([LEAD, LEAD], [PROTECTION, PROTECTION], [1.0, 100.0], [0.5],
                              smallest_orders=[10, 1]).tolist() == [[4], [0]]
    assert system_order_up_to([LEAD, LEAD], [PROTECTION, PROTECTION], [60.0, 100.0], [0.5],
                              smallest_orders=[10, 1]).tolist() == [[0], [4]]


def test_system_allocation_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="one lead-time and one protection distribution"):
        system_order_up_to([LEAD], [PROTECTION, PROTECTION], [1.0], [0.9])
    with pytest.raises(ValueError, match="unit costs must be finite and >= 0"):
        system_order_up_to([LEAD], [PROTECTION], [-1.0], [0.9])
    with pytest.raises(ValueError, match="smallest_orders must be one number >= 1 per part"):
        system_order_up_to([LEAD], [PROTECTION], [1.0], [0.9], smallest_orders=[0.5])


def test_recommend_with_the_system_allocation_stocks_the_cheaper_part_of_a_criticality():
    # Parts A (cost 1) and B (cost 100), same forecast (daily pmf [0.55, 0.45]), lead time 0,
    # review 1 day: D_L is no demand, D_LR = [0.55, 0.45], E[D_R] = 0.45 each. At S = 1 a
    # part fills all its units (0.45). A 'low' target of 0.5 over both parts' units needs
    # 0.45 of 0.9: A at S = 1 (value 1 x E[(1 - D_LR)^+] = 0.55) rather than B (55).
    # A's fill rate at S = 1 is 1; its reorder point s = 0 meets it (no lead-time demand).
    parts = pd.DataFrame({"part_id": ["A", "B"], "unit_cost": [1.0, 100.0],
                          "lead_time_days": [0.0, 0.0], "min_order_qty": [0.0, 0.0],
                          "pack_size": [1.0, 1.0], "criticality": ["low", "low"]})
    no_stock = pd.DataFrame(columns=["part_id", "location_id", "snapshot_date", "on_hand",
                                     "on_order"])
    no_usage = pd.DataFrame(columns=["part_id", "location_id", "units", "last_demand_date"])
    targets = {"high": 0.99, "medium": 0.95, "low": 0.5}
    system = recommend(_forecast(["A", "B"]), parts, no_stock, no_usage, date(2025, 6, 1), None,
                       InventorySettings(review_period_days=1, service_targets=targets,
                                         allocation="system"))
    assert system["order_up_to_level"].tolist() == [1, 0]
    assert system["reorder_point"].tolist() == [0, 0]
    assert system["expected_fill_rate"].tolist() == [1.0, 0.0]
    assert system["recommended_order_qty"].tolist() == [1.0, 0.0]
    # Each part on its own target of 0.5 needs S = 1.
    own = recommend(_forecast(["A", "B"]), parts, no_stock, no_usage, date(2025, 6, 1), None,
                    InventorySettings(review_period_days=1, service_targets=targets))
    assert own["order_up_to_level"].tolist() == [1, 1]
    with pytest.raises(ValueError, match="allocation 'system' sets fill-rate targets"):
        InventorySettings(allocation="system", service_measure="cycle_service")
    with pytest.raises(ValueError, match="allocation must be one of"):
        InventorySettings(allocation="fleet")
