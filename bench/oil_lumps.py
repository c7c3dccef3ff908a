"""How much of OIL's held-out demand nothing in its history announces, and what stocking for
the history's worst case achieves: the ceiling a forecast-driven policy is up against.

    python bench/oil_lumps.py

Same items and split as bench/simulate_oil.py (items with demand in the training months, the
last 24 months held out, lead time ceil(days / 30.44) months, monthly review). Prints:
- the share of held-out units above the item's largest training month, and on items with no
  demand in the last 12 training months; the 10 largest item-months;
- the fill rate and average stock value of an (R, S) policy with S = k times the item's
  largest demand over any lead time plus review period of its history, k = 1, 2, 3, replayed
  with the simulator's bookkeeping.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from datasets import load_oil  # noqa: E402

from sparecast_assets.inventory.simulate import replay, summarise  # noqa: E402

HOLDOUT = 24
DAYS_PER_MONTH = 365.25 / 12


def main() -> None:
    demand, attributes = load_oil()
    periods = np.sort(demand["period"].unique())
    training = demand[demand["period"] < periods[-HOLDOUT]]
    used = training.groupby("item")["quantity"].sum()
    items = attributes[attributes["item"].isin(used[used > 0].index)].reset_index(drop=True)
    wide = (demand.pivot(index="item", columns="period", values="quantity").fillna(0.0)
            .reindex(items["item"]).to_numpy(float))
    train, held = wide[:, :-HOLDOUT], wide[:, -HOLDOUT:]
    lead = np.ceil(items["lead_time_days"].to_numpy(float) / DAYS_PER_MONTH).astype(int)
    total = held.sum()
    print(f"OIL: {len(items):,} items, {train.shape[1]} training months, {HOLDOUT} held out, "
          f"{total:,.0f} held-out units")
    beyond = np.maximum(held - train.max(axis=1)[:, None], 0.0).sum()
    print(f"units above the item's largest training month:          {beyond / total:.1%}")
    quiet = held[train[:, -12:].sum(axis=1) == 0].sum()
    print(f"units on items with no demand in the last 12 training months: {quiet / total:.1%}")
    top = np.sort(held.ravel())[::-1][:10]
    print(f"10 largest item-months: {top.sum() / total:.1%} of the units "
          f"({', '.join(f'{v:,.0f}' for v in top)})")
    print(f"\n{'S = k x largest (L + R)-month demand of the history':<52}{'fill rate':>10}"
          f"{'avg stock value':>18}")
    for k in (1, 2, 3):
        replays = {}
        for i in range(len(items)):
            window = lead[i] + 1
            worst = np.convolve(train[i], np.ones(window), "valid").max()
            replays[i] = replay(held[i], k * worst, int(lead[i]),
                                unit_cost=float(items["unit_cost"].iloc[i]))
        summary = summarise(replays)
        print(f"{'k = ' + str(k):<52}{summary['fill_rate']:>10.4f}"
              f"{summary['average_stock_value']:>18,.0f}")


if __name__ == "__main__":
    main()
