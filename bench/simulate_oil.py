"""Inventory simulation on OIL (refinery spare parts, monthly): sparecast's forecast against
Croston-SBA and TSB with negative-binomial lead-time demand, and the refinery's own Min / Max.

    python bench/simulate_oil.py [--forecasters sparecast,crostonsba,tsb] [--items N]

Setup (decided here, printed with the results):
- History December 1997 - August 2001 (45 months; bench/datasets.py drops November 1997 and
  earlier). The last 24 months are held out: the longest lead time is 17 months, and a policy is
  measured only once its first order can have arrived (periods t >= L), so 24 months leave every
  item at least 7 measured months, most (lead time <= 4 months) 20 or more.
- Monthly review (R = 1 month); lead time in months = ceil(days / 30.4375), the order arriving
  at the start of a month. No MOQ or pack size in the data (MOQ 0, pack 1).
- Items: those with demand in the 21 training months; an item never used before cannot be
  stocked by any forecaster and would lower every policy's fill rate alike.
- Targets are fill-rate targets 0.80 ... 0.99, the same for every item.
- The refinery's Min (reorder point) / Max (maximum) are replayed as an (s, S) policy with the
  same bookkeeping: order up to Max when the position is at or below Min.

Writes bench/out/simulate_oil.csv and bench/out/simulate_oil_tradeoff.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from datasets import load_oil  # noqa: E402

from sparecast_assets.inventory.simulate import (  # noqa: E402
    ITEM, ORDER_UP_TO, REORDER_POINT, SYSTEM, CoreForecaster, compare,
    negative_binomial_forecaster)

TARGETS = (0.80, 0.85, 0.90, 0.95, 0.99)
DAYS_PER_MONTH = 365.25 / 12
COLUMNS = ["forecaster", "target", "fill_rate", "cycle_service_level", "average_stock_value",
           "orders", "backordered_units", "item_fill_rate_mean", "items"]


def forecasters(names: list[str], freq: str, retrain_every: int) -> dict:
    chosen = {}
    for name in names:
        if name in ("crostonsba", "tsb"):
            chosen[name] = negative_binomial_forecaster(name)
        elif name == "sparecast":
            chosen[name] = CoreForecaster(freq, retrain_every)
        else:
            raise SystemExit(f"unknown forecaster {name!r}: sparecast, crostonsba, tsb")
    return chosen


def print_table(results: pd.DataFrame) -> None:
    print(f"{'forecaster':<14}{'target':>7}{'fill rate':>11}{'CSL':>8}{'avg stock value':>17}"
          f"{'orders':>8}{'backorders':>12}{'item FR':>9}")
    for row in results.itertuples():
        target = "-" if np.isnan(row.target) else f"{row.target:.2f}"
        print(f"{row.forecaster:<14}{target:>7}{row.fill_rate:>11.4f}"
              f"{row.cycle_service_level:>8.4f}{row.average_stock_value:>17,.0f}"
              f"{row.orders:>8,}{row.backordered_units:>12,.0f}{row.item_fill_rate_mean:>9.4f}")


def tradeoff_chart(results: pd.DataFrame, path: Path, title: str, value_unit: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for name, group in results[results["target"].notna()].groupby("forecaster", sort=False):
        ax.plot(group["average_stock_value"], group["fill_rate"] * 100, marker="o", label=name)
        for row in group.itertuples():
            ax.annotate(f"{row.target:.2f}", (row.average_stock_value, row.fill_rate * 100),
                        textcoords="offset points", xytext=(4, -10), fontsize=7)
    for row in results[results["target"].isna()].itertuples():
        ax.plot(row.average_stock_value, row.fill_rate * 100, marker="*", markersize=14,
                linestyle="none", label=row.forecaster)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.set_xlabel(f"average stock value ({value_unit})")
    ax.set_ylabel("achieved fill rate (% of units demanded)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(title="policy driven by (labels: fill-rate target)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(name: str, demand: pd.DataFrame, attributes: pd.DataFrame, args, freq: str,
        fixed_levels: dict | None, value_unit: str, setup: str) -> pd.DataFrame:
    periods = np.sort(demand["period"].unique())
    training = demand[demand["period"] < periods[-args.holdout]]
    used = training.groupby("item")["quantity"].sum()
    items = attributes[attributes["item"].isin(used[used > 0].index)]
    if args.items:
        items = items.iloc[:: max(len(items) // args.items, 1)].head(args.items)
    demand = demand[demand["item"].isin(items["item"])]
    print(f"{name}: {len(items):,} items with demand in the training periods, "
          f"{periods.size} periods, last {args.holdout} held out; {setup}")
    print("targets recalibrated at each forecast origin from the reviews already over "
          f"(warm-up {args.warmup} periods before the held-out ones)" if args.recalibrate
          else "targets used as they are (no recalibration)")
    print(f"policy {args.policy}, allocation {args.allocation}; sparecast's model retrained every {args.retrain_every} "
          "periods, every forecaster forecasting at every review")

    started = time.monotonic()
    chosen = forecasters(args.forecasters.split(","), freq, args.retrain_every)
    results = compare(demand, items, chosen, TARGETS, args.holdout, fixed_levels=fixed_levels,
                      policy=args.policy, allocation=args.allocation,
                      recalibrate=args.recalibrate, warmup=args.warmup,
                      log=lambda message: print(f"  {message}", flush=True))
    print(f"simulated in {time.monotonic() - started:.0f}s\n")
    print_table(results)

    out = BENCH / "out"
    out.mkdir(exist_ok=True)
    stem = f"simulate_{name.lower()}{args.out}"
    results[COLUMNS + ["measured_periods"]].to_csv(out / f"{stem}.csv", index=False)
    tradeoff_chart(results, out / f"{stem}_tradeoff.png",
                   f"{name}: fill rate against stock, last {args.holdout} periods replayed",
                   value_unit)
    print(f"\nwrote {out / f'{stem}.csv'} and {out / f'{stem}_tradeoff.png'}")
    return results


def arguments(default_holdout: int, default_every: int,
              default_warmup: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forecasters", default="sparecast,crostonsba,tsb")
    parser.add_argument("--holdout", type=int, default=default_holdout,
                        help="periods held out and replayed")
    parser.add_argument("--retrain-every", type=int, default=default_every,
                        help="retrain sparecast's model every this many periods; every "
                             "forecaster forecasts at every review")
    parser.add_argument("--out", default="",
                        help="suffix of the output files (bench/out/simulate_<name><out>.csv)")
    parser.add_argument("--warmup", type=int, default=default_warmup,
                        help="periods before the held-out ones that are reviewed (forecast, "
                             "not measured) to recalibrate lead-time demand from the start")
    parser.add_argument("--recalibrate", action="store_true",
                        help="ask each policy for the nominal targets that its past reviews "
                             "needed to achieve the targets (sparecast_assets/inventory/"
                             "calibrate.py); off: the targets as they are")
    parser.add_argument("--policy", choices=(REORDER_POINT, ORDER_UP_TO), default=REORDER_POINT,
                        help="reorder_point: order up to S when the position is at or below the "
                             "reorder point s, as the recommendations say; order_up_to: order "
                             "at every review that finds the position below S")
    parser.add_argument("--allocation", choices=(SYSTEM, ITEM), default=SYSTEM,
                        help="system: the target is the fill rate over all items' units, "
                             "reached at the least stock value; item: every item's own target")
    parser.add_argument("--items", type=int, default=0,
                        help="simulate an evenly spaced sample of this many items (0: all)")
    return parser.parse_args()


def main() -> None:
    args = arguments(default_holdout=24, default_every=3, default_warmup=9)
    demand, attributes = load_oil()
    items = pd.DataFrame({
        "item": attributes["item"],
        "lead_time_periods": np.ceil(attributes["lead_time_days"] / DAYS_PER_MONTH).astype(int),
        "unit_cost": attributes["unit_cost"],
        "min_order_qty": 0.0,
        "pack_size": 1.0,
    })
    refinery = pd.DataFrame({"item": attributes["item"],
                             "reorder_point": attributes["reorder_point_min"],
                             "order_up_to": attributes["maximum"]})
    run("OIL", demand, items, args, "M", {"refinery Min/Max": refinery},
        "currency of the Price column", "monthly review, lead time ceil(days / 30.44) months")


if __name__ == "__main__":
    main()
