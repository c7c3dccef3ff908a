"""The simulator's bookkeeping against traces run by hand, and its forecaster driver."""

import numpy as np
import pandas as pd
import pytest

from sparecast_assets.inventory.simulate import (
    CoreForecaster, negative_binomial_forecaster, order_up_to_paths, replay, summarise)


def test_order_up_to_replay_matches_the_hand_trace_with_backorders():
    # S = 5, lead time 1, starting with 5 on hand. Per period: receive, review, demand.
    # t0: position 5, no order; demand 3 -> 2 on hand.
    # t1: position 2 -> order 3 (arrives t2); demand 0 -> 2.
    # t2: receive 3 -> 5, no order; demand 6: 5 filled, 1 backordered.
    # t3: position -1 -> order 6 (arrives t4); demand 1: none filled, 2 backordered.
    # t4: receive 6 -> net 4, position 4 -> order 1; demand 2 filled -> 2 on hand.
    run = replay([3, 0, 6, 1, 2], order_up_to=5, lead_time=1, unit_cost=2.0)
    assert run.received.tolist() == [0, 0, 3, 0, 6]
    assert run.position.tolist() == [5, 2, 5, -1, 4]
    assert run.ordered.tolist() == [0, 3, 0, 6, 1]
    assert run.filled.tolist() == [3, 0, 5, 0, 2]
    assert run.on_hand.tolist() == [2, 2, 0, 0, 2]
    assert run.backorders.tolist() == [0, 0, 1, 2, 0]
    # Measured from t = L = 1: demand 9, filled 7; periods 1 and 4 end without backorders;
    # stock value (2 + 0 + 0 + 2) x 2; orders at t1, t3, t4.
    assert run.totals() == {"periods": 4, "demand": 9.0, "filled": 7.0, "served_cycles": 2,
                            "stock_value_periods": 8.0, "orders": 3, "backordered_units": 2.0}


def test_reorder_point_replay_with_zero_lead_time_moq_and_packs_matches_the_hand_trace():
    # s = 1, S = 4, MOQ 3, pack 2, lead time 0 (an order arrives before the period's demand).
    # t0: position 2 > s; demand 2 -> 0. t1: position 0 -> need 4 >= MOQ -> 2 packs = 4, in at
    # once; demand 2 -> 2. t2: position 2 > s; demand 2 -> 0.
    run = replay([2, 2, 2], order_up_to=4, reorder_points=1, lead_time=0, min_order_qty=3,
                 pack_size=2, initial_on_hand=2)
    assert run.ordered.tolist() == [0, 4, 0]
    assert run.received.tolist() == [0, 4, 0]
    assert run.on_hand.tolist() == [0, 2, 0]
    assert run.totals()["filled"] == 6.0 and run.totals()["orders"] == 1


def test_summary_weights_the_fill_rate_by_units_and_the_service_level_by_periods():
    first = replay([3, 0, 6, 1, 2], order_up_to=5, lead_time=1, unit_cost=2.0)
    second = replay([2, 2, 2], order_up_to=4, reorder_points=1, lead_time=0, min_order_qty=3,
                    pack_size=2, initial_on_hand=2)
    summary = summarise({"a": first, "b": second})
    # Fill rate (7 + 6) / (9 + 6); cycles 2 of 4 and 3 of 3; stock 8 / 4 + 2 / 3 per period.
    assert summary["fill_rate"] == pytest.approx(13 / 15)
    assert summary["item_fill_rate_mean"] == pytest.approx((7 / 9 + 1) / 2)
    assert summary["cycle_service_level"] == pytest.approx(5 / 7)
    assert summary["average_stock_value"] == pytest.approx(2 + 2 / 3)
    assert (summary["orders"], summary["backordered_units"]) == (4, 2.0)


def test_replay_rejects_a_fractional_lead_time_and_negative_demand():
    with pytest.raises(ValueError, match="whole number"):
        replay([1, 1], order_up_to=2, lead_time=1.5)
    with pytest.raises(ValueError, match="demand must be >= 0"):
        replay([1, -1], order_up_to=2, lead_time=1)


def test_order_up_to_paths_reforecast_on_schedule_and_take_levels_per_target():
    periods = pd.date_range("2024-01-01", periods=5, freq="MS")
    demand = pd.DataFrame({"item": "P1", "period": periods, "quantity": [1.0, 0, 1, 0, 1]})
    calls = []

    def forecaster(history, horizon):
        calls.append((history["period"].max(), horizon))
        # Every step: q10..q50 = 0, q60..q99 = 1, i.e. 0 or 1 unit with P(1) = 0.45.
        frame = pd.DataFrame({"item": "P1", "step": np.arange(1, horizon + 1)})
        for level in (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99):
            frame[f"q{level}"] = 0.0 if level <= 50 else 1.0
        return frame

    paths = order_up_to_paths(demand, pd.Series({"P1": 1}), forecaster, holdout=3,
                              targets=[0.5, 0.9], reforecast_every=2)
    # Origins: the 3rd period (history to the 2nd, horizon 2 - 1 + L 1 + R 1) and the 5th.
    assert calls == [(periods[1], 3), (periods[3], 2)]
    # D_L = [0.55, 0.45], D_LR = Bin(2, 0.45), E[D_R] = 0.45: fill rate at S = 1 is
    # 1 - (0.2025 - 0) / 0.45 = 0.55, at S = 2 it is 1 -> S = 1 for 0.5, 2 for 0.9.
    # Reorder points: for S = 1, s = 0 gives 1 - (0.45 - 0) / 1 = 0.55 >= 0.5; for S = 2,
    # s = 0 gives 1 - 0.45 / 2 = 0.775 < 0.9 and s = 1 gives 1 -> s = 1.
    assert paths["P1"].tolist() == [[[1, 0], [2, 1]]] * 3


def test_croston_sba_forecaster_gives_a_flat_mean_and_poisson_for_steady_demand():
    periods = pd.date_range("2024-01-01", periods=12, freq="MS")
    demand = pd.DataFrame({"item": "P1", "period": periods, "quantity": 2.0})
    forecast = negative_binomial_forecaster("crostonsba")(demand, 3)
    # Croston on a constant 2 is 2; the Syntetos-Boylan factor (1 - 0.1 / 2) makes it 1.9.
    assert forecast["step"].tolist() == [1, 2, 3]
    assert forecast["mean"].tolist() == pytest.approx([1.9, 1.9, 1.9])
    # Residuals of 0.1 against fitted 1.9 are not over-dispersed: alpha 0, Poisson.
    assert forecast["alpha"].tolist() == [0.0, 0.0, 0.0]


def test_system_allocation_in_the_simulator_replays_its_levels_and_reorder_points():
    # Two items with the same lumpy forecast (q10..q50 = 0, q60..q99 = 1: P(1) = 0.45) and
    # lead time 1; 'cheap' costs 1, 'dear' 100. D_L = [0.55, 0.45], D_LR = Bin(2, 0.45),
    # filled per review at S = 0, 1, 2: 0, 0.45 - 0.2025 = 0.2475, 0.45. A fill rate of 50 %
    # of all units (0.45 of 0.9) is cheapest from the cheap item alone at S = 2.
    periods = pd.date_range("2024-01-01", periods=4, freq="MS")
    demand = pd.DataFrame({"item": np.repeat(["cheap", "dear"], 4),
                           "period": np.tile(periods, 2), "quantity": 1.0})

    def forecaster(history, horizon):
        frame = pd.DataFrame({"item": np.repeat(["cheap", "dear"], horizon),
                              "step": np.tile(np.arange(1, horizon + 1), 2)})
        for level in (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99):
            frame[f"q{level}"] = 0.0 if level <= 50 else 1.0
        return frame

    paths = order_up_to_paths(demand, pd.Series({"cheap": 1, "dear": 1}), forecaster,
                              holdout=2, targets=[0.5],
                              unit_costs=pd.Series({"cheap": 1.0, "dear": 100.0}))
    # The cheap item's S = 2 fills all its units: its reorder point for a fill rate of 1 is
    # the smallest s with 1 - (E[(D_L - s)^+] - 0) / (2 - s) >= 1, s = 1.
    assert paths["cheap"].tolist() == [[[2, 1]], [[2, 1]]]
    assert paths["dear"].tolist() == [[[0, 0]], [[0, 0]]]
    with pytest.raises(ValueError, match="not recalibrated"):
        order_up_to_paths(demand, pd.Series({"cheap": 1, "dear": 1}), forecaster, holdout=2,
                          targets=[0.5], unit_costs=pd.Series({"cheap": 1.0, "dear": 1.0}),
                          recalibrate=True)


def test_core_forecaster_retrains_on_schedule_and_forecasts_in_between(monkeypatch):
    from sparecast_assets.forecasting import core

    fits, forecasts = [], []
    monkeypatch.setattr(core, "fit", lambda history, horizon, freq: fits.append(
        (history["period"].max(), horizon)) or f"model {len(fits)}")
    monkeypatch.setattr(core, "forecast_with_model", lambda history, horizon, freq, model: (
        forecasts.append((history["period"].max(), model))
        or type("Result", (), {"frame": pd.DataFrame()})()))
    months = pd.date_range("2024-01-01", periods=8, freq="MS")
    history = pd.DataFrame({"item": "P1", "period": months, "quantity": 1.0})
    forecaster = CoreForecaster("M", retrain_every=3)
    for end in range(4, 9):
        forecaster(history.iloc[:end], 2)
    forecaster(history, 5)  # a longer horizon than the model's retrains at once
    # Trained on the history to April, again three months later (July), then for horizon 5.
    assert fits == [(months[3], 2), (months[6], 2), (months[7], 5)]
    assert [model for _, model in forecasts] == ["model 1"] * 3 + ["model 2"] * 2 + ["model 3"]
    assert forecaster.trainings == 3
