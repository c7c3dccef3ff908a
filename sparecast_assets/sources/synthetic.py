"""A seeded synthetic fleet: machines that wear out, and the data trail that wear leaves.

The physics, kept simple but causal:
- every machine carries a set of wear parts; each installed part ages with the machine's
  running hours and fails with a Weibull hazard in those hours;
- a worn part drags one sensor channel away from the machine's baseline (drift grows with the
  square of wear), and raises the rate of the error code tied to it;
- a failure stops the machine for the day and consumes a replacement part (reason ``failure``);
- preventive maintenance every ``pm_interval_days`` replaces wear parts past 80 % of their
  characteristic life and consumes consumables (reason ``preventive``);
- each location's stores issue the parts, count stock weekly and reorder at a reorder point,
  with the part's lead time.
The same seed and sizes always give the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd

CHANNELS = ("vibration_mm_s", "temperature_c", "pressure_bar", "current_a")
CHANNEL_BASE = {"vibration_mm_s": 2.0, "temperature_c": 65.0, "pressure_bar": 6.0, "current_a": 40.0}
CHANNEL_NOISE = {"vibration_mm_s": 0.25, "temperature_c": 1.5, "pressure_bar": 0.15, "current_a": 1.2}
CHANNEL_DRIFT = {"vibration_mm_s": 4.0, "temperature_c": 15.0, "pressure_bar": -1.5, "current_a": 8.0}


@dataclass(frozen=True)
class FleetSize:
    machines: int = 20
    parts: int = 12
    days: int = 365
    start: date = date(2025, 1, 1)
    readings_per_day: int = 6
    locations: int = 2
    pm_interval_days: int = 30
    seed: int = 7


def generate_fleet(size: FleetSize) -> dict[str, pd.DataFrame]:
    """Return the contract's sources (machines, parts, telemetry, errors, failures, part_usage,
    inventory) for a synthetic fleet of the given size."""
    rng = np.random.default_rng(size.seed)
    n_wear = max(1, round(size.parts * 0.75))
    part_ids = [f"P-{1001 + i}" for i in range(size.parts)]
    is_wear = np.array([i < n_wear for i in range(size.parts)])
    locations = [f"WH-{i + 1:02d}" for i in range(size.locations)]

    parts = pd.DataFrame({
        "part_id": part_ids,
        "description": [
            f"{'Wear' if w else 'Consumable'} part {p}" for p, w in zip(part_ids, is_wear)
        ],
        "unit_cost": np.round(rng.lognormal(4.0, 1.0, size.parts), 2),
        "lead_time_days": rng.choice([7, 14, 21, 28, 45], size.parts),
        "min_order_qty": rng.choice([1, 1, 2, 5, 10], size.parts),
        "pack_size": rng.choice([1, 1, 1, 2, 5], size.parts),
        "criticality": rng.choice(["high", "medium", "low"], size.parts, p=[0.3, 0.5, 0.2]),
    })

    models = np.array(["press-A", "press-B", "pump-C"])
    machine_ids = [f"M-{i + 1:03d}" for i in range(size.machines)]
    machines = pd.DataFrame({
        "machine_id": machine_ids,
        "model": rng.choice(models, size.machines),
        "age_years": rng.integers(0, 16, size.machines).astype(float),
        "location_id": [locations[i % size.locations] for i in range(size.machines)],
    })
    load = rng.uniform(0.55, 1.0, size.machines)  # share of the day a machine runs

    # Which wear parts each model carries, and each wear part's Weibull life in running hours.
    carries = {m: rng.random(n_wear) < 0.7 for m in models}
    for m in models:
        carries[m][rng.integers(0, n_wear)] = True
    shape = rng.uniform(1.8, 3.2, n_wear)
    scale_hours = rng.uniform(1500, 5000, n_wear)
    channel_of = rng.integers(0, len(CHANNELS), n_wear)
    error_code_of = [f"E{100 + (i % 7)}" for i in range(n_wear)]
    consumable_qty = rng.integers(1, 4, size.parts - n_wear)

    installed = np.array([carries[m] for m in machines["model"]])  # machine x wear part
    wear_hours = rng.uniform(0, 1, installed.shape) * scale_hours * 0.9
    baseline = {c: CHANNEL_BASE[c] * rng.uniform(0.9, 1.1, size.machines) for c in CHANNELS}
    pm_offset = rng.integers(0, size.pm_interval_days, size.machines)

    telemetry, errors, failures, usage = [], [], [], []
    hours = np.linspace(0, 24, size.readings_per_day, endpoint=False)
    for d in range(size.days):
        day = datetime.combine(size.start + timedelta(days=d), datetime.min.time(), timezone.utc)
        for m in range(size.machines):
            run_hours = 24 * load[m] * rng.uniform(0.85, 1.0)
            wear_before = wear_hours[m].copy()
            wear_after = wear_before + run_hours * installed[m]
            hazard = (wear_after / scale_hours) ** shape - (wear_before / scale_hours) ** shape
            failed = installed[m] & (rng.random(n_wear) < 1 - np.exp(-hazard))
            wear_hours[m] = wear_after

            # Sensor drift and errors reflect wear before anything is replaced today.
            life_used = np.where(installed[m], wear_hours[m] / scale_hours, 0.0)
            drift = {c: 0.0 for c in CHANNELS}
            for p in np.flatnonzero(installed[m]):
                drift[CHANNELS[channel_of[p]]] = max(drift[CHANNELS[channel_of[p]]], life_used[p] ** 2)
            for h in hours:
                if failed.any() and h > 12:
                    break  # the machine stopped at its failure; no readings after it
                row = {"machine_id": machine_ids[m], "measured_at": day + timedelta(hours=float(h))}
                for c in CHANNELS:
                    row[c] = round(float(baseline[c][m] + CHANNEL_DRIFT[c] * min(drift[c], 1.5)
                                         + rng.normal(0, CHANNEL_NOISE[c])), 4)
                telemetry.append(row)
            for p in np.flatnonzero(installed[m]):
                for _ in range(rng.poisson(0.01 + 0.6 * life_used[p] ** 3)):
                    errors.append({
                        "machine_id": machine_ids[m],
                        "error_at": day + timedelta(hours=float(rng.uniform(0, 24))),
                        "error_code": error_code_of[p],
                    })

            for p in np.flatnonzero(failed):
                at = day + timedelta(hours=12)
                failures.append({"machine_id": machine_ids[m], "failed_at": at,
                                 "part_id": part_ids[p], "failure_mode": "wear-out"})
                usage.append({"part_id": part_ids[p], "quantity": 1.0, "used_at": at,
                              "machine_id": machine_ids[m], "reason": "failure",
                              "work_order_id": f"WO-{d:04d}-{m:03d}-F"})
                wear_hours[m, p] = 0.0

            if (d + pm_offset[m]) % size.pm_interval_days == 0:
                at = day + timedelta(hours=8)
                order = f"WO-{d:04d}-{m:03d}-P"
                for p in np.flatnonzero(installed[m] & (wear_hours[m] > 0.8 * scale_hours)):
                    usage.append({"part_id": part_ids[p], "quantity": 1.0, "used_at": at,
                                  "machine_id": machine_ids[m], "reason": "preventive",
                                  "work_order_id": order})
                    wear_hours[m, p] = 0.0
                for j, qty in enumerate(consumable_qty):
                    usage.append({"part_id": part_ids[n_wear + j], "quantity": float(qty),
                                  "used_at": at, "machine_id": machine_ids[m],
                                  "reason": "preventive", "work_order_id": order})

    usage_frame = pd.DataFrame(usage, columns=["part_id", "quantity", "used_at", "machine_id",
                                               "reason", "work_order_id"])
    return {
        "machines": machines,
        "parts": parts,
        "telemetry": pd.DataFrame(telemetry),
        "errors": pd.DataFrame(errors, columns=["machine_id", "error_at", "error_code"]),
        "failures": pd.DataFrame(failures, columns=["machine_id", "failed_at", "part_id",
                                                    "failure_mode"]),
        "part_usage": usage_frame,
        "inventory": _inventory(size, parts, machines, usage_frame),
    }


def _inventory(size: FleetSize, parts: pd.DataFrame, machines: pd.DataFrame,
               usage: pd.DataFrame) -> pd.DataFrame:
    """Weekly stock counts per part and location under a simple reorder-point policy."""
    location_of = dict(zip(machines["machine_id"], machines["location_id"]))
    usage = usage.assign(
        location_id=usage["machine_id"].map(location_of),
        day=(usage["used_at"].dt.date - size.start).apply(lambda t: t.days),
    )
    daily = usage.groupby(["part_id", "location_id", "day"])["quantity"].sum()
    snapshots = []
    for part in parts.itertuples():
        for location in sorted(set(location_of.values())):
            demand = np.zeros(size.days)
            if (part.part_id, location) in daily.index.droplevel(2):
                series = daily.loc[(part.part_id, location)]
                demand[series.index.to_numpy()] = series.to_numpy()
            mean = max(demand.mean(), 0.05)
            reorder_point = int(np.ceil(mean * part.lead_time_days * 1.3)) + 1
            order_qty = max(int(part.min_order_qty), int(np.ceil(mean * 30)))
            on_hand, pipeline = float(reorder_point + order_qty), []  # pipeline: (arrival day, qty)
            for d in range(size.days):
                on_hand += sum(q for t, q in pipeline if t == d)
                pipeline = [(t, q) for t, q in pipeline if t > d]
                on_hand = max(on_hand - demand[d], 0.0)  # unmet demand is expedited elsewhere
                on_order = sum(q for _, q in pipeline)
                if on_hand + on_order <= reorder_point:
                    pipeline.append((d + int(part.lead_time_days), float(order_qty)))
                    on_order += order_qty
                if d % 7 == 0:
                    snapshots.append({
                        "part_id": part.part_id,
                        "location_id": location,
                        "snapshot_at": datetime.combine(size.start + timedelta(days=d),
                                                        datetime.min.time(), timezone.utc)
                        + timedelta(hours=18),
                        "on_hand": on_hand,
                        "on_order": float(on_order),
                    })
    return pd.DataFrame(snapshots)
