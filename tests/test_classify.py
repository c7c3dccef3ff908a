"""Syntetos-Boylan-Croston classes against ADI and CV^2 worked out by hand."""

import pandas as pd
import pytest

from sparecast_assets.forecasting.classify import classify_demand, demand_class

PERIODS = pd.date_range("2023-01-01", periods=12, freq="MS")


def table(series: dict[str, dict[int, float]], first: dict[str, int] | None = None):
    """Long table: every item has a row for each period from its first (default 0) on."""
    first = first or {}
    rows = []
    for item, demands in series.items():
        for position in range(first.get(item, 0), len(PERIODS)):
            rows.append((item, PERIODS[position], demands.get(position, 0.0)))
    return pd.DataFrame(rows, columns=["item", "period", "quantity"])


def classes(series, **kwargs):
    return classify_demand(table(series, kwargs.pop("first", None)), PERIODS,
                           **kwargs).set_index("item")


def test_adi_and_cv2_by_hand_for_each_class():
    result = classes({
        # demands in periods 2, 5, 9: intervals 3 and 4, ADI 3.5; sizes 2, 4, 6: mean 4,
        # var (4 + 0 + 4) / 3 = 8/3, CV^2 = (8/3) / 16 = 1/6
        "intermittent": {2: 2, 5: 4, 9: 6},
        # every period, size 3: ADI 1, CV^2 0
        "smooth": {p: 3 for p in range(12)},
        # every period, sizes 1, 9, 1, 9, ...: ADI 1, mean 5, var 16, CV^2 16 / 25 = 0.64
        "erratic": {p: (1 if p % 2 == 0 else 9) for p in range(12)},
        # periods 0 and 6, sizes 1 and 9: ADI 6, CV^2 0.64
        "lumpy": {0: 1, 6: 9},
    })
    assert result.loc["intermittent", "adi"] == pytest.approx(3.5)
    assert result.loc["intermittent", "cv2"] == pytest.approx(1 / 6)
    assert result.loc["smooth", ["adi", "cv2"]].tolist() == [1.0, 0.0]
    assert result.loc["erratic", "cv2"] == pytest.approx(0.64)
    assert result.loc["lumpy", "adi"] == pytest.approx(6.0)
    assert result.loc["lumpy", "cv2"] == pytest.approx(0.64)
    assert result["demand_class"].to_dict() == {
        "erratic": "erratic", "intermittent": "intermittent", "lumpy": "lumpy",
        "smooth": "smooth"}
    assert result["demand_periods"].to_dict() == {
        "erratic": 12, "intermittent": 3, "lumpy": 2, "smooth": 12}


def test_one_demand_has_adi_of_the_history_length_and_is_intermittent():
    # 12 periods of history, one demand of 7: ADI 12 / 1 = 12, CV^2 0
    result = classes({"once": {4: 7}})
    assert result.loc["once", ["adi", "cv2"]].tolist() == [12.0, 0.0]
    assert result.loc["once", "demand_class"] == "intermittent"


def test_no_demand_and_new_items():
    # "young" first appears in period 6: 6 periods of history < 12, so 'new' despite demand.
    result = classes({"idle": {}, "young": {7: 3, 9: 3}}, first={"young": 6})
    assert result.loc["idle", "demand_class"] == "no_demand"
    assert result.loc["young", "demand_class"] == "new"
    assert result.loc["young", "history_periods"] == 6
    assert result.loc["young", ["adi", "cv2"]].isna().all()


def test_min_history_decides_what_is_new():
    result = classes({"young": {7: 3, 9: 3}}, first={"young": 6}, min_history=6)
    # demands in periods 7 and 9: ADI 2, equal sizes: CV^2 0
    assert result.loc["young", ["adi", "cv2"]].tolist() == [2.0, 0.0]
    assert result.loc["young", "demand_class"] == "intermittent"


def test_a_value_on_a_cut_off_falls_in_the_upper_class():
    assert demand_class(1.32, 0.1) == "intermittent"
    assert demand_class(1.0, 0.49) == "erratic"
    assert demand_class(1.3199, 0.4899) == "smooth"
    assert demand_class(1.32, 0.49) == "lumpy"


def test_bad_rows_are_refused_with_the_reason():
    good = table({"a": {1: 2}})
    outside = pd.concat([good, pd.DataFrame({"item": ["a"], "period": [pd.Timestamp("2024-01-01")],
                                             "quantity": [1.0]})])
    with pytest.raises(ValueError, match="period outside the index"):
        classify_demand(outside, PERIODS)
    negative = good.assign(quantity=good["quantity"].where(good.index != 3, -1.0))
    with pytest.raises(ValueError, match="negative quantity"):
        classify_demand(negative, PERIODS)
    with pytest.raises(ValueError, match="more than one row"):
        classify_demand(pd.concat([good, good.iloc[[0]]]), PERIODS)
    with pytest.raises(ValueError, match="lacks column"):
        classify_demand(good.drop(columns="quantity"), PERIODS)
