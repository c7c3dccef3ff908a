"""Benchmark on the Azure predictive-maintenance data: machine level and part level, rolling
origin.

Machine level: the replacement model (sparecast_assets/forecasting/condition.py) of "part p is
replaced on machine m within the next 28 days", backtested at 3 origins 28 days apart; at each
origin it trains on the rows whose 28-day label is known by the origin and is scored on the 28
days from the origin (every machine and part each day). Precision and recall at the fixed
threshold 0.5 and at the threshold that maximised F1 on the training rows, ROC AUC, base rate.

Part level: daily demand per component (comp1-comp4), 3 origins 28 days apart at the end, horizon
28 days. Scores as in bench/harness.py (WQL over the levels 0.1-0.9, MASE of the median rounded
half up with season 7, RMSSE of the mean, bias) per origin and their mean over the origins, for
the forecasting core without covariates, with the condition covariate (expected replacements in
the next 28 days, the replacement model's probabilities summed per part and day), with the
fleet covariates (fct_part_fleet_daily's columns), with both, and every baseline (season 7).
For each origin the replacement model behind the covariate is trained only on rows whose label
is known by the origin (``condition.cross_fitted``), so the covariate knows nothing after it.

The dbt tables the pipeline reads (int_machine_part_daily, fct_machine_daily,
fct_machine_sensor_daily, dim_machines, fct_part_demand_daily, fct_part_fleet_daily) are built
here in pandas straight from the CSVs, with the importer's parsing (sources/azure_pdm.py), and
the same rules as the SQL: dates are the UTC day of the naive timestamps, every machine-part pair
and machine is zero-filled over the calendar from the first to the last day of any source.

The replacement model trains from TRAIN_START: the error and failure files start on 2015-01-01
(the maintenance file in mid-2014), so before then the zero-filled error counts mean "no data",
not "no errors"; TRAIN_START leaves 28 more days so the 28-day windows are full. No subsampling:
the training rows (400 machine-parts x at most 335 days) train in seconds.

    python bench/azure.py [--k DAYS]

Writes bench/out/azure_machine.csv and bench/out/azure_part.csv (with ``--k`` other than 28:
azure_machine_k<DAYS>.csv and azure_part_k<DAYS>.csv).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import score  # noqa: E402

from sparecast_assets.forecasting import condition, core  # noqa: E402
from sparecast_assets.forecasting.baselines import BASELINES  # noqa: E402
from sparecast_assets.sources.azure_pdm import read_azure, to_contract  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "azure_pdm"
OUT = Path(__file__).resolve().parent / "out"
K = 28
HORIZON = 28
ORIGINS = 3
SEASON = 7
TRAIN_START = pd.Timestamp("2015-01-29")


def _day(stamps: pd.Series) -> pd.Series:
    return pd.to_datetime(stamps).dt.floor("D")


def dbt_tables(directory: Path = DATA) -> dict[str, pd.DataFrame]:
    """The dbt tables of the Azure data, built in pandas."""
    sources = to_contract(read_azure(directory))
    for frame in sources.values():
        if "machine_id" in frame.columns:
            frame["machine_id"] = frame["machine_id"].astype(str)
    usage = sources["part_usage"].assign(used_date=_day(sources["part_usage"]["used_at"]))
    failures = sources["failures"].assign(failed_date=_day(sources["failures"]["failed_at"]))
    errors = sources["errors"].assign(error_date=_day(sources["errors"]["error_at"]))
    telemetry = sources["telemetry"].assign(
        measured_date=_day(sources["telemetry"]["measured_at"]))

    # int_data_calendar
    first = min(usage["used_date"].min(), failures["failed_date"].min(),
                errors["error_date"].min(), telemetry["measured_date"].min())
    last = max(usage["used_date"].max(), failures["failed_date"].max(),
               errors["error_date"].max(), telemetry["measured_date"].max())
    days = pd.date_range(first, last, freq="D")

    # int_machine_parts and int_machine_part_daily
    pairs = pd.concat([usage[["machine_id", "part_id"]], failures[["machine_id", "part_id"]]]
                      ).drop_duplicates().sort_values(["machine_id", "part_id"])
    grid = pairs.merge(pd.DataFrame({"activity_date": days}), how="cross")
    replaced = usage.groupby(["machine_id", "part_id", "used_date"])["quantity"].sum()
    failed = failures.groupby(["machine_id", "part_id", "failed_date"]).size()
    key = pd.MultiIndex.from_frame(grid[["machine_id", "part_id", "activity_date"]])
    grid["parts_replaced"] = replaced.reindex(key).fillna(0).to_numpy()
    grid["failures"] = failed.reindex(key).fillna(0).to_numpy()
    last_replaced = grid["activity_date"].where(grid["parts_replaced"] > 0)
    last_replaced = last_replaced.groupby([grid["machine_id"], grid["part_id"]]).ffill()
    grid["days_since_replacement"] = (grid["activity_date"] - last_replaced).dt.days

    # dim_machines: master data plus machines seen only in events
    master = sources["machines"][["machine_id", "model", "age_years"]]
    seen = sorted(set(master["machine_id"]) | set(errors["machine_id"])
                  | set(failures["machine_id"]) | set(usage["machine_id"])
                  | set(telemetry["machine_id"]))
    machines = pd.DataFrame({"machine_id": seen}).merge(master, on="machine_id", how="left")

    # fct_machine_sensor_daily
    channels = [c for c in telemetry.columns
                if c not in ("machine_id", "measured_at", "measured_date")]
    sensors = (telemetry.melt(id_vars=["machine_id", "measured_date"], value_vars=channels,
                              var_name="sensor", value_name="reading_value")
               .groupby(["machine_id", "measured_date", "sensor"])["reading_value"]
               .agg(readings="count", mean_value="mean", max_value="max").reset_index()
               .rename(columns={"measured_date": "reading_date"}))

    # fct_machine_daily
    machine_daily = pd.DataFrame({"machine_id": seen}).merge(
        pd.DataFrame({"activity_date": days}), how="cross")
    mkey = pd.MultiIndex.from_frame(machine_daily[["machine_id", "activity_date"]])
    by_code = errors.groupby(["machine_id", "error_date", "error_code"]).size()
    counts: dict[tuple, dict[str, int]] = {}
    for (machine_id, day, code), n in by_code.items():
        counts.setdefault((machine_id, day), {})[code] = int(n)
    machine_daily["error_count"] = by_code.groupby(level=[0, 1]).sum().reindex(mkey).fillna(
        0).to_numpy()
    machine_daily["error_counts"] = [counts.get(key, {}) for key in mkey]
    machine_daily["failure_count"] = failures.groupby(["machine_id", "failed_date"]).size(
        ).reindex(mkey).fillna(0).to_numpy()
    reporting = sensors.groupby(["machine_id", "reading_date"])["readings"].max()
    machine_daily["telemetry_readings"] = reporting.reindex(mkey).fillna(0).to_numpy()

    # fct_part_demand_daily, as the core's history (item, period, quantity)
    parts = sorted(set(usage["part_id"]) | set(failures["part_id"]))
    demand = pd.DataFrame({"item": parts}).merge(pd.DataFrame({"period": days}), how="cross")
    units = usage.groupby(["part_id", "used_date"])["quantity"].sum()
    demand["quantity"] = units.reindex(pd.MultiIndex.from_frame(demand)).fillna(0).to_numpy(
        dtype=float)

    # fct_part_fleet_daily
    carried = grid.merge(machine_daily[["machine_id", "activity_date", "telemetry_readings",
                                        "error_count", "failure_count"]],
                         on=["machine_id", "activity_date"], how="left")
    fleet = carried.groupby(["part_id", "activity_date"]).agg(
        machines_carrying=("machine_id", "size"),
        machines_reporting=("telemetry_readings", lambda r: int((r > 0).sum())),
        part_failures=("failures", "sum"), machine_errors=("error_count", "sum"),
        machine_failures=("failure_count", "sum"),
        mean_days_since_replacement=("days_since_replacement", "mean"),
        max_days_since_replacement=("days_since_replacement", "max")).reset_index()
    fleet = fleet.rename(columns={"part_id": "item", "activity_date": "period"})

    return {"machine_parts_daily": grid.reset_index(drop=True), "machine_daily": machine_daily,
            "machines": machines, "sensors": sensors, "demand": demand, "fleet": fleet}


def machine_level(frame: pd.DataFrame) -> pd.DataFrame:
    started = time.perf_counter()
    table = condition.backtest(frame, K, start=TRAIN_START)
    seconds = time.perf_counter() - started
    print(f"Machine level: P(part replaced on the machine within {K} days), rolling origin, "
          f"{seconds:.1f} s")
    header = (f"{'origin':<11} {'threshold':<15} {'cut':>6} {'train rows':>10} {'test rows':>9} "
              f"{'precision':>9} {'recall':>7} {'AUC':>6} {'base rate':>9}")
    print(header)
    print("-" * len(header))
    for row in table.itertuples():
        cut = "" if np.isnan(row.threshold) else f"{row.threshold:.3f}"
        trained = "" if np.isnan(row.training_rows) else f"{int(row.training_rows)}"
        print(f"{row.origin:<11} {row.threshold_rule:<15} {cut:>6} {trained:>10} "
              f"{row.test_rows:>9} {row.precision:>9.3f} {row.recall:>7.3f} {row.auc:>6.3f} "
              f"{row.base_rate:>9.3f}")
    return table


def _combine(*covariates: pd.DataFrame | None) -> pd.DataFrame | None:
    present = [c for c in covariates if c is not None]
    if not present:
        return None
    out = present[0]
    for other in present[1:]:
        out = out.merge(other, on=["item", "period"], how="outer")
    return out


def part_level(tables: dict[str, pd.DataFrame], frame: pd.DataFrame) -> pd.DataFrame:
    demand, fleet = tables["demand"], tables["fleet"]
    last = demand["period"].max()
    origins = [last - pd.Timedelta(days=HORIZON * i) for i in reversed(range(1, ORIGINS + 1))]
    rows = []
    for origin in origins:
        history = demand[demand["period"] <= origin]
        actual = demand[(demand["period"] > origin)
                        & (demand["period"] <= origin + pd.Timedelta(days=HORIZON))]
        started = time.perf_counter()
        covariate = condition.condition_covariate(frame, K, origin=origin, start=TRAIN_START)
        covariate_seconds = time.perf_counter() - started
        fleet_known = fleet[fleet["period"] <= origin]
        methods = {
            "core": None,
            "core+condition": covariate,
            "core+fleet": fleet_known,
            "core+fleet+condition": _combine(fleet_known, covariate),
        }
        for name, covariates in methods.items():
            started = time.perf_counter()
            forecast = core.forecast(history, HORIZON, "D", covariates=covariates)
            seconds = time.perf_counter() - started
            if "condition" in name:
                seconds += covariate_seconds
            rows.append({"origin": origin.date().isoformat(), "method": name,
                         "seconds": seconds, **score(forecast, history, actual, HORIZON,
                                                     SEASON)})
        for name, method in BASELINES.items():
            started = time.perf_counter()
            forecast = method(history, HORIZON, "D", SEASON)
            seconds = time.perf_counter() - started
            rows.append({"origin": origin.date().isoformat(), "method": name,
                         "seconds": seconds, **score(forecast, history, actual, HORIZON,
                                                     SEASON)})
        held_out = actual["quantity"].sum()
        at_origin = covariate[covariate["period"] == origin]
        print(f"origin {origin.date()}: held-out demand {held_out:g} units; covariate at the "
              f"origin (expected replacements in {K} days) "
              + ", ".join(f"{r.item} {r[3]:.1f}" for r in at_origin.itertuples())
              + "; actual in the next 28 days "
              + ", ".join(f"{item} {q:g}" for item, q in
                          actual.groupby("item")["quantity"].sum().items())
              + f"; replacement models {covariate_seconds:.1f} s")

    table = pd.DataFrame(rows)
    mean = table.groupby("method", sort=False)[["wql", "mase", "rmsse", "bias", "seconds"]
                                               ].mean().reset_index()
    mean.insert(0, "origin", "mean")
    table = pd.concat([table, mean], ignore_index=True)
    print()
    print(f"Part level: daily demand of {demand['item'].nunique()} parts, origins "
          + ", ".join(o.date().isoformat() for o in origins)
          + f", horizon {HORIZON} days, season {SEASON}")
    header = f"{'method':<22} " + " ".join(f"{'WQL ' + o.strftime('%m-%d'):>10}"
                                           for o in origins) + \
        f" {'WQL':>7} {'MASE':>7} {'RMSSE':>7} {'bias':>7} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    for method in mean["method"]:
        per = table[(table["method"] == method) & (table["origin"] != "mean")]
        m = mean[mean["method"] == method].iloc[0]
        print(f"{method:<22} " + " ".join(f"{w:>10.3f}" for w in per["wql"])
              + f" {m.wql:>7.3f} {m.mase:>7.3f} {m.rmsse:>7.3f} {m.bias:>+7.3f} "
                f"{m.seconds:>8.2f}")
    print("(WQL, MASE, RMSSE, bias, seconds: mean over the origins)")
    return table


def main(argv: list[str] | None = None) -> None:
    global K
    parser = argparse.ArgumentParser(description="Azure PdM benchmark, machine and part level.")
    parser.add_argument("--k", type=int, default=K,
                        help=f"days ahead of the replacement label (default {K})")
    K = parser.parse_args(argv).k
    started = time.perf_counter()
    tables = dbt_tables()
    frame = condition.condition_frame(tables["machine_parts_daily"], tables["machine_daily"],
                                      tables["machines"], tables["sensors"], K)
    print(f"Azure PdM: {frame['machine_id'].nunique()} machines, {frame['part_id'].nunique()} "
          f"parts, {frame['activity_date'].min():%Y-%m-%d} .. "
          f"{frame['activity_date'].max():%Y-%m-%d}, {len(frame):,} machine-part-days, "
          f"{len(condition.feature_columns(frame))} features; replacement model trains from "
          f"{TRAIN_START:%Y-%m-%d}; inputs built in {time.perf_counter() - started:.1f} s")
    print()
    machine = machine_level(frame)
    print()
    part = part_level(tables, frame)
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "" if K == 28 else f"_k{K}"
    machine.to_csv(OUT / f"azure_machine{suffix}.csv", index=False)
    part.to_csv(OUT / f"azure_part{suffix}.csv", index=False)
    print(f"written {OUT / f'azure_machine{suffix}.csv'} and {OUT / f'azure_part{suffix}.csv'}; "
          f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
