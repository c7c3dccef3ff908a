"""The condition-based replacement model: labels, calendar windows, the per-part covariate and
a backtest that sees nothing after its origin."""

import numpy as np
import pandas as pd
import pytest

from sparecast_assets.forecasting import condition


def machine_part_days(rows: list[tuple]) -> pd.DataFrame:
    """int_machine_part_daily rows: machine, part, date, replaced, failures, days since."""
    return pd.DataFrame(rows, columns=["machine_id", "part_id", "activity_date",
                                       "parts_replaced", "failures", "days_since_replacement"]
                        ).assign(activity_date=lambda f: pd.to_datetime(f["activity_date"]))


def ten_days(replaced_on: dict[str, int]) -> pd.DataFrame:
    """Machine M1, part P1, 2024-01-01 .. 2024-01-10, with the given replacements."""
    days = pd.date_range("2024-01-01", periods=10, freq="D")
    return machine_part_days([("M1", "P1", day, replaced_on.get(f"{day:%m-%d}", 0), 0, None)
                              for day in days])


def test_label_is_a_replacement_on_one_of_the_next_k_days():
    labels = condition.replacement_labels(ten_days({"01-05": 1}), k=3)
    assert list(labels.columns) == ["machine_id", "part_id", "activity_date",
                                    "replaced_within_3d"]
    # Jan 2 sees Jan 3-5: the replacement on exactly day t + k counts. Jan 5 sees Jan 6-8:
    # the replacement on the day itself does not. From Jan 8 on, t + 3 is past Jan 10.
    np.testing.assert_array_equal(labels["replaced_within_3d"].to_numpy(),
                                  [0, 1, 1, 1, 0, 0, 0, np.nan, np.nan, np.nan])


def test_label_one_day_past_k_does_not_count():
    labels = condition.replacement_labels(ten_days({"01-06": 2}), k=4)
    # Jan 1 sees Jan 2-5, one day short of Jan 6.
    np.testing.assert_array_equal(labels["replaced_within_4d"].to_numpy(),
                                  [0, 1, 1, 1, 1, 0, np.nan, np.nan, np.nan, np.nan])


def test_label_horizon_longer_than_the_data_is_unknown_everywhere():
    labels = condition.replacement_labels(ten_days({"01-05": 1}), k=10)
    assert labels["replaced_within_10d"].isna().all()


def test_windows_count_calendar_days_across_days_without_rows():
    # The part table has rows on Jan 1 (replaced), Jan 6 and Jan 10 only; machine M1's
    # errors land on Jan 2, 3 and 9; sensor readings on Jan 1 and Jan 3.
    parts = machine_part_days([
        ("M1", "P1", "2024-01-01", 1, 0, 0),
        ("M1", "P1", "2024-01-06", 0, 1, 5),
        ("M1", "P1", "2024-01-10", 0, 0, 9),
    ])
    machine_daily = pd.DataFrame({
        "machine_id": ["M1", "M1", "M1"],
        "activity_date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-09"]),
        "error_count": [2, 1, 4],
        "failure_count": [0, 1, 0],
        "error_counts": [{"e1": 2}, {"e2": 1}, {"e1": 3, "e2": 1}],
    })
    sensors = pd.DataFrame({
        "machine_id": ["M1", "M1"],
        "reading_date": pd.to_datetime(["2024-01-01", "2024-01-03"]),
        "sensor": ["volt", "volt"],
        "mean_value": [10.0, 20.0],
    })
    machines = pd.DataFrame({"machine_id": ["M1"], "model": ["model3"], "age_years": [7]})
    frame = condition.condition_frame(parts, machine_daily, machines, sensors, k=2)
    day = frame.set_index("activity_date")

    assert len(frame) == 10  # every calendar day, rows or not
    assert day.loc["2024-01-04", "days_since_replacement"] == 3
    assert day.loc["2024-01-10", "days_since_replacement"] == 9
    # Jan 9's 7 days are Jan 3 .. Jan 9: the errors of Jan 3 and Jan 9, not Jan 2's.
    assert day.loc["2024-01-09", "errors_7d"] == 5
    assert day.loc["2024-01-08", "errors_7d"] == 3
    assert day.loc["2024-01-09", "errors_1d"] == 4
    assert day.loc["2024-01-09", "errors_e1_7d"] == 3
    assert day.loc["2024-01-09", "errors_e1_28d"] == 5
    assert day.loc["2024-01-05", "machine_failures_7d"] == 1
    assert day.loc["2024-01-05", "days_since_machine_failure"] == 2
    assert day.loc["2024-01-08", "days_since_part_failure"] == 2
    assert np.isnan(day.loc["2024-01-05", "days_since_part_failure"])  # no failure yet
    # Sensor means are over the days that have readings: (10 + 20) / 2 on Jan 4.
    assert day.loc["2024-01-04", "sensor_volt_mean_7d"] == 15
    assert np.isnan(day.loc["2024-01-04", "sensor_volt_mean_1d"])
    assert day.loc["2024-01-08", "sensor_volt_mean_7d"] == 20  # Jan 1 is out of the window
    assert day.loc["2024-01-08", "sensor_volt_trend"] == 5  # 20 over 7 days, 15 over 28
    assert day.loc["2024-01-03", "day_of_week"] == 2  # a Wednesday
    assert day.loc["2024-01-03", "machine_model"] == "model3"
    assert day.loc["2024-01-03", "machine_age_years"] == 7


def test_days_since_replacement_keeps_a_replacement_from_before_the_table():
    # Replaced before the table's window: the table says 10 days on Jan 1; Jan 2 has no row.
    parts = machine_part_days([("M1", "P1", "2024-01-01", 0, 0, 10),
                               ("M1", "P1", "2024-01-03", 0, 0, 12),
                               ("M2", "P1", "2024-01-01", 0, 0, None),
                               ("M2", "P1", "2024-01-03", 1, 0, 0)])
    frame = condition.condition_frame(parts, k=1)
    since = frame.set_index(["machine_id", "activity_date"])["days_since_replacement"]
    assert since[("M1", pd.Timestamp("2024-01-02"))] == 11
    assert np.isnan(since[("M2", pd.Timestamp("2024-01-02"))])
    assert since[("M2", pd.Timestamp("2024-01-03"))] == 0
    # The machine's last replacement of any part: M2 on Jan 3 only.
    machine = frame.set_index(["machine_id", "activity_date"])["days_since_machine_replacement"]
    assert np.isnan(machine[("M1", pd.Timestamp("2024-01-03"))])


def test_expected_replacements_sum_the_machines_probabilities_per_part_and_day():
    probabilities = pd.DataFrame({
        "machine_id": ["M1", "M2", "M3", "M1", "M2", "M1"],
        "part_id": ["P1", "P1", "P1", "P1", "P1", "P2"],
        "activity_date": pd.to_datetime(["2024-01-01"] * 3 + ["2024-01-02"] * 2
                                        + ["2024-01-01"]),
        "probability": [0.25, 0.5, 0.125, 0.75, np.nan, 0.5],
    })
    covariate = condition.expected_replacements(probabilities, k=28)
    assert list(covariate.columns) == ["item", "period", "expected_replacements_28d"]
    assert covariate["item"].tolist() == ["P1", "P1", "P2"]
    assert covariate["period"].dt.strftime("%m-%d").tolist() == ["01-01", "01-02", "01-01"]
    assert covariate["expected_replacements_28d"].tolist() == [0.875, 0.75, 0.5]


def test_f1_threshold_and_scores_by_hand():
    label = np.array([1, 0, 1, 0])
    probability = np.array([0.9, 0.8, 0.7, 0.1])
    # F1 at the cuts 0.9, 0.8, 0.7, 0.1: 2/3, 1/2, 4/5, 2/3.
    assert condition.f1_threshold(label, probability) == 0.7
    scores = condition.classification_scores(label, probability, 0.75)
    # predicted at 0.9 and 0.8: one of two right, one of two positives found; the positives
    # outrank the negatives in 3 of the 4 pairs.
    assert scores == {"precision": 0.5, "recall": 0.5, "auc": 0.75, "base_rate": 0.5}


def test_f1_threshold_cuts_between_ties_not_through_them():
    label = np.array([1, 0, 0, 1])
    probability = np.array([0.9, 0.6, 0.6, 0.2])
    # Cutting inside the tie at 0.6 is impossible: F1 at 0.9 is 2/3, at 0.6 2/5, at 0.2 4/6.
    assert condition.f1_threshold(label, probability) == 0.9


def test_folds_go_by_sorted_machine():
    assert condition.fold_of(np.array(["10", "2", "3", "2"]), 2).tolist() == [0, 1, 0, 1]


def planted_frame(seed: int = 5) -> pd.DataFrame:
    """40 machines x 120 days with a 7-day label at random and one feature, planted: 0 up to
    2024-03-08, equal to the label from 2024-03-09 on."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    machines = [f"M{i:02d}" for i in range(40)]
    frame = pd.DataFrame({"machine_id": np.repeat(machines, len(days)), "part_id": "P1",
                          "activity_date": np.tile(days, len(machines))})
    label = rng.binomial(1, 0.4, len(frame)).astype(float)
    frame["planted"] = np.where(frame["activity_date"] >= "2024-03-09", label, 0.0)
    frame["replaced_within_7d"] = label
    return frame


def test_backtest_learns_nothing_from_after_its_origin():
    frame = planted_frame()
    # At the end of Mar 15 the 7-day labels are known up to Mar 8, where the planted feature
    # is still 0: the model cannot use it, gives every test day (Mar 15 .. 21) the same
    # probability, and ranks nothing (AUC exactly 0.5, ties count half). Training on Mar 9 ..
    # 15 too, whose labels reach past the origin, would learn the feature.
    table = condition.backtest(frame, 7, origins=[pd.Timestamp("2024-03-15")],
                               num_boost_round=30)
    fixed = table[(table["origin"] == "2024-03-15") & (table["threshold_rule"] == "fixed")]
    assert fixed["training_end"].item() == "2024-03-08"
    assert fixed["training_rows"].item() == 40 * 68  # Jan 1 .. Mar 8
    assert fixed["test_rows"].item() == 40 * 7
    assert fixed["auc"].item() == 0.5

    # Control: a model trained at a later origin sees the planted days and learns them.
    leaky = condition.fit(frame, 7, origin=pd.Timestamp("2024-04-10"), num_boost_round=30)
    test = frame[(frame["activity_date"] >= "2024-03-15") & (frame["activity_date"] < "2024-03-22")]
    scores = condition.classification_scores(test["replaced_within_7d"], leaky.predict(test), 0.5)
    assert scores["auc"] == 1.0


def test_cross_fitted_probabilities_stop_at_the_origin_and_cover_every_row():
    frame = planted_frame()
    scored = condition.cross_fitted(frame, 7, origin=pd.Timestamp("2024-03-01"),
                                    start=pd.Timestamp("2024-01-15"), folds=2,
                                    num_boost_round=10)
    assert scored["activity_date"].min() == pd.Timestamp("2024-01-15")
    assert scored["activity_date"].max() == pd.Timestamp("2024-03-01")
    assert len(scored) == 40 * 47  # Jan 15 .. Mar 1
    assert scored["probability"].between(0, 1).all()


def test_fit_refuses_training_rows_without_both_outcomes():
    frame = planted_frame().assign(replaced_within_7d=0.0)
    with pytest.raises(ValueError, match="every training row has label 0"):
        condition.fit(frame, 7)


def test_bad_part_table_is_refused_with_the_problem_named():
    parts = ten_days({}).drop(columns=["failures"])
    with pytest.raises(ValueError,
                       match=r"machine_parts_daily lacks column\(s\) \['failures'\]"):
        condition.replacement_labels(parts, k=3)
    doubled = pd.concat([ten_days({}), ten_days({}).iloc[:1]])
    with pytest.raises(ValueError, match="more than one row"):
        condition.replacement_labels(doubled, k=3)
    negative = ten_days({"01-03": -1})
    with pytest.raises(ValueError,
                       match=r"parts_replaced must be a count >= 0 on every row \(1 row"):
        condition.replacement_labels(negative, k=3)
