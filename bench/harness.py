"""Benchmark harness: hold out the last 12 periods of a data set, forecast them with each
method, and score the forecasts.

Each method runs in its own Python process, which loads the held-in history, runs the method
and exits; its wall time is the method call alone and its peak memory is that process's
ru_maxrss (interpreter, pandas and the history included: the "before the method" figure under
the table is that floor). The scores, over all items and the 12 steps:

- WQL: mean weighted quantile loss over the levels 0.1 ... 0.9 (Chronos / GluonTS);
- MASE: mean over items of the seasonal MASE (season 12 for monthly, 52 for weekly data) of
  the median forecast rounded half up to whole units; items with a zero in-sample scale are
  left out and counted;
- RMSSE: mean over items of the M5 RMSSE of the forecast mean, zero-scale items counted the
  same way;
- bias: (sum of forecast means - sum of actuals) / sum of actuals.

The table is printed and written to bench/out/<dataset>.csv.

    python bench/carparts.py [--methods zero tsb ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
HORIZON = 12
SEASON = {"M": 12, "W": 52}
METHODS = ("zero", "seasonal_naive", "empirical_quantiles", "croston_sba", "tsb", "adida",
           "imapa", "sparecast", "sparecast_hurdle")

# Published results on carparts (Monash "without missing values", last 12 months held out).
CARPARTS_REFERENCES = (
    "Published on carparts: Chronos-Bolt-Base WQL 0.995, TiRex WQL 0.991, seasonal naive WQL "
    "1.600 (Chronos benchmark); best Monash archive mean MASE 0.746.",
)


def _dataset(name: str):
    """(demand, freq) of a benchmark data set."""
    import datasets  # bench/ is on sys.path: the scripts run from it

    if name == "carparts":
        return datasets.load_carparts(), "M"
    if name == "man":
        return datasets.load_man()[0], "W"
    if name == "oil":
        return datasets.load_oil()[0], "M"
    raise ValueError(f"unknown data set {name!r}")


def _method(name: str):
    if name == "sparecast":
        from sparecast_assets.forecasting.core import forecast

        return lambda history, horizon, freq, season: forecast(history, horizon, freq)
    if name == "sparecast_hurdle":
        # The one-step hurdle (occurrence, then 1 + NB units): the cascade's K = 1, shown so
        # that the choice of the default can be checked on every data set.
        from sparecast_assets.forecasting.core import forecast

        return lambda history, horizon, freq, season: forecast(history, horizon, freq,
                                                               survival_steps=1)
    from sparecast_assets.forecasting.baselines import BASELINES

    return BASELINES[name]


def worker(method: str, freq: str, horizon: int, history_path: str, out_path: str) -> None:
    """Child process: run one method on the pickled history and pickle its forecast."""
    history = pd.read_pickle(history_path)
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run = _method(method)
    started = time.perf_counter()
    forecast = run(history, horizon, freq, SEASON[freq])
    seconds = time.perf_counter() - started
    forecast.to_pickle(out_path)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(out_path + ".json").write_text(json.dumps(
        {"seconds": seconds, "peak_mb": peak_kb / 1024, "before_mb": before_kb / 1024}))


def split(demand: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, held-out actuals): the last ``horizon`` periods are held out."""
    periods = np.sort(demand["period"].unique())
    if len(periods) <= horizon:
        raise ValueError(f"{len(periods)} periods cannot hold out {horizon}")
    cutoff = periods[-horizon]
    return demand[demand["period"] < cutoff], demand[demand["period"] >= cutoff]


def score(forecast: pd.DataFrame, history: pd.DataFrame, actual: pd.DataFrame,
          horizon: int, season: int) -> dict[str, float]:
    from sparecast_assets.forecasting.backtest import score as backtest_score

    return backtest_score(forecast, history, actual, horizon, season)


def _print_table(rows: list[dict]) -> None:
    header = (f"{'method':<20} {'WQL':>7} {'MASE':>7} {'MASE used/excl':>15} {'RMSSE':>7} "
              f"{'bias':>7} {'seconds':>8} {'peak MB':>8}")
    print(header)
    print("-" * len(header))
    for row in rows:
        if row.get("error"):
            print(f"{row['method']:<20} failed: {row['error']}")
            continue
        used = f"{row['mase_series_used']}/{row['mase_series_excluded']}"
        print(f"{row['method']:<20} {row['wql']:>7.3f} {row['mase']:>7.3f} {used:>15} "
              f"{row['rmsse']:>7.3f} {row['bias']:>+7.3f} {row['seconds']:>8.2f} "
              f"{row['peak_mb']:>8.0f}")


def run(dataset: str, methods: list[str], horizon: int = HORIZON) -> pd.DataFrame:
    from sparecast_assets.forecasting.classify import classify_demand

    demand, freq = _dataset(dataset)
    season = SEASON[freq]
    history, actual = split(demand, horizon)
    periods = pd.DatetimeIndex(np.sort(history["period"].unique()))
    classes = Counter(classify_demand(history, periods)["demand_class"])
    print(f"{dataset}: {demand['item'].nunique()} items, {len(periods)} periods of history "
          f"({periods[0]:%Y-%m-%d} .. {periods[-1]:%Y-%m-%d}), {horizon} held out, "
          f"freq {freq}, season {season}; held-out demand {actual['quantity'].sum():g}")
    print("demand classes of the history: "
          + ", ".join(f"{name} {count}" for name, count in sorted(classes.items())))
    if demand.attrs:
        print("loader notes: " + "; ".join(f"{k} {v}" for k, v in demand.attrs.items()))
    print()

    rows = []
    with tempfile.TemporaryDirectory(prefix="sparecast-bench-") as scratch:
        history_path = str(Path(scratch) / "history.pkl")
        history.to_pickle(history_path)
        for method in methods:
            out_path = str(Path(scratch) / f"{method}.pkl")
            child = subprocess.run(
                [sys.executable, __file__, "--worker", method, freq, str(horizon),
                 history_path, out_path],
                capture_output=True, text=True, cwd=REPO)
            row = {"method": method}
            if child.returncode != 0:
                last = (child.stderr.strip().splitlines() or ["no output"])[-1]
                row["error"] = f"exit {child.returncode}: {last}"
                rows.append(row)
                continue
            row.update(json.loads(Path(out_path + ".json").read_text()))
            try:
                row.update(score(pd.read_pickle(out_path), history, actual, horizon, season))
            except ValueError as error:
                row["error"] = str(error)
            rows.append(row)

    _print_table(rows)
    table = pd.DataFrame(rows)
    if "error" not in table:
        table["error"] = None
    finished = table[table["error"].isna()]
    if not finished.empty:
        print()
        print(f"RMSSE items used/excluded: {int(finished['rmsse_series_used'].iloc[0])}/"
              f"{int(finished['rmsse_series_excluded'].iloc[0])}; each method's process held "
              f"{finished['before_mb'].min():.0f}-{finished['before_mb'].max():.0f} MB before "
              "the method ran (interpreter, pandas, history)")
    if dataset == "carparts":
        for line in CARPARTS_REFERENCES:
            print(line)

    OUT.mkdir(parents=True, exist_ok=True)
    columns = ["method", "wql", "mase", "mase_series_used", "mase_series_excluded", "rmsse",
               "rmsse_series_used", "rmsse_series_excluded", "bias", "seconds", "peak_mb",
               "before_mb", "error"]
    table = table.reindex(columns=columns)
    table.to_csv(OUT / f"{dataset}.csv", index=False)
    print(f"written {OUT / f'{dataset}.csv'}")
    return table


def main(dataset: str, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"Forecast benchmark on {dataset}: the last "
                                     f"{HORIZON} periods held out.")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                        metavar="METHOD",
                        help=f"methods to run, in this order (all of them if not given): "
                             f"{', '.join(METHODS)}")
    args = parser.parse_args(argv)
    run(dataset, args.methods)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--worker":
        method, freq, horizon, history_path, out_path = sys.argv[2:]
        worker(method, freq, int(horizon), history_path, out_path)
    else:
        sys.exit("run bench/carparts.py, bench/man.py or bench/oil.py; this module is the "
                 "harness they share")
