"""Inventory simulation on MAN (manufacturer spare parts, weekly): sparecast's forecast against
Croston-SBA and TSB with negative-binomial lead-time demand.

    python bench/simulate_man.py [--forecasters sparecast,crostonsba,tsb] [--items N]

Setup (decided here, printed with the results):
- 150 weeks (ISO weeks 2012-W01 to 2014-W46, bench/datasets.py); the last 52 are held out.
  Lead times are 7 or 16 weeks and a policy is measured once its first order can have arrived
  (weeks t >= L), so every item has 36 to 45 measured weeks.
- Weekly review (R = 1 week); orders respect the data's minimum order quantity and are whole
  multiples of its pack size ("products per unit"), the same for every policy.
- Items: those with demand in the 98 training weeks (1,510 SKUs have no demand at all).
- Targets are fill-rate targets 0.80 ... 0.99, the same for every item. Stock value is in EUR
  (the data's cost price per unit).

Writes bench/out/simulate_man.csv and bench/out/simulate_man_tradeoff.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datasets import load_man  # noqa: E402
from simulate_oil import arguments, run  # noqa: E402


def main() -> None:
    args = arguments(default_holdout=52, default_every=13, default_warmup=36)
    demand, attributes = load_man()
    items = pd.DataFrame({
        "item": attributes["item"],
        "lead_time_periods": attributes["lead_time_weeks"].astype(int),
        "unit_cost": attributes["unit_cost"],
        "min_order_qty": attributes["moq"],
        "pack_size": attributes["pack_size"],
    })
    run("MAN", demand, items, args, "W", None, "EUR",
        "weekly review, lead time 7 or 16 weeks, MOQ and pack size from the data")


if __name__ == "__main__":
    main()
