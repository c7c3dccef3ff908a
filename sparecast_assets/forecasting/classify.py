"""Syntetos-Boylan-Croston demand classes per part.

Grain: one row per item. The class comes from two numbers of the item's demand history:

- ADI, the average inter-demand interval: the mean number of periods from one non-zero demand
  to the next (demands in periods 2, 5 and 9 have intervals 3 and 4, ADI 3.5);
- CV^2, the squared coefficient of variation of the non-zero demand sizes, population form:
  var(sizes, ddof=0) / mean(sizes)^2.

With the cut-offs of Syntetos, Boylan & Croston (2005), ADI 1.32 and CV^2 0.49 (a value equal
to a cut-off falls in the upper class):

                    CV^2 < 0.49     CV^2 >= 0.49
    ADI <  1.32     smooth          erratic
    ADI >= 1.32     intermittent    lumpy

Rules for the histories the table cannot judge, applied in this order:

1. 'new': the item's history is shorter than ``min_history`` periods. An item's history runs
   from its first row in the demand table (a row with zero quantity counts: the part was known)
   to the last period of the index. Too little history to tell a slow part from a young one.
2. 'no_demand': no non-zero demand in the history.
3. Exactly one non-zero demand: there is no interval between demands, so ADI is the history
   length divided by the one demand (the other common ADI definition, periods per demand) and
   CV^2 is 0 (one size does not vary). With ``min_history`` >= 2 that is always 'intermittent',
   which is what a part used once in a year or more is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
# A year of monthly history; weekly or daily callers pass their own.
DEFAULT_MIN_HISTORY = 12


def demand_class(adi: float, cv2: float) -> str:
    """The Syntetos-Boylan-Croston class of one ADI / CV^2 pair."""
    if adi < ADI_CUTOFF:
        return "smooth" if cv2 < CV2_CUTOFF else "erratic"
    return "intermittent" if cv2 < CV2_CUTOFF else "lumpy"


def classify_demand(demand: pd.DataFrame, periods: pd.DatetimeIndex, *,
                    min_history: int = DEFAULT_MIN_HISTORY) -> pd.DataFrame:
    """Demand class of every item in ``demand`` (columns item, period, quantity).

    ``periods`` is the full, ordered period index of the history (month, week or day starts);
    a period of the index with no row for an item is zero demand. Returns one row per item:
    item, history_periods, demand_periods (periods with non-zero demand), adi, cv2 (NaN when
    undefined: no demand, or 'new'), demand_class.
    """
    missing = {"item", "period", "quantity"} - set(demand.columns)
    if missing:
        raise ValueError(f"demand table lacks column(s) {sorted(missing)}")
    periods = pd.DatetimeIndex(periods)
    if not periods.is_monotonic_increasing or not periods.is_unique:
        raise ValueError("the period index must be strictly increasing")
    if min_history < 1:
        raise ValueError(f"min_history must be at least 1, got {min_history}")
    quantity = pd.to_numeric(demand["quantity"], errors="coerce")
    if quantity.isna().any():
        raise ValueError(f"{int(quantity.isna().sum())} row(s) have no numeric quantity")
    if (quantity < 0).any():
        raise ValueError(f"{int((quantity < 0).sum())} row(s) have negative quantity")
    position = periods.get_indexer(pd.DatetimeIndex(demand["period"]))
    if (position < 0).any():
        outside = pd.DatetimeIndex(demand["period"])[position < 0]
        raise ValueError(f"{len(outside)} row(s) have a period outside the index, "
                         f"for example {outside[0]}")
    rows = pd.DataFrame({"item": demand["item"].to_numpy(), "position": position,
                         "quantity": quantity.to_numpy()})
    if rows.duplicated(["item", "position"]).any():
        raise ValueError("more than one row for an (item, period) pair")

    records = []
    for item, group in rows.groupby("item", sort=True):
        history = len(periods) - int(group["position"].min())
        sold = group[group["quantity"] > 0].sort_values("position")
        record = {"item": item, "history_periods": history, "demand_periods": len(sold),
                  "adi": np.nan, "cv2": np.nan}
        if history < min_history:
            record["demand_class"] = "new"
        elif sold.empty:
            record["demand_class"] = "no_demand"
        else:
            if len(sold) == 1:
                record["adi"] = float(history)
                record["cv2"] = 0.0
            else:
                sizes = sold["quantity"].to_numpy(dtype=float)
                record["adi"] = float(np.diff(sold["position"].to_numpy()).mean())
                record["cv2"] = float(sizes.var() / sizes.mean() ** 2)
            record["demand_class"] = demand_class(record["adi"], record["cv2"])
        records.append(record)
    columns = ["item", "history_periods", "demand_periods", "adi", "cv2", "demand_class"]
    return pd.DataFrame.from_records(records, columns=columns)
