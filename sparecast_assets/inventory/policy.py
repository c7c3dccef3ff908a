"""Stocking levels for a part at a location: reorder point, order-up-to level, safety stock,
the order to place now, and the risk, cover, excess and dead stock figures around them.

Grain: one part at one location on one as-of date. Inputs are two demand distributions in
whole units (:mod:`sparecast_assets.inventory.demand`): over the lead time L (D_L) and over the
lead time plus the review period R (D_LR). R is how often the part is ordered (a planner's
weekly order round, or one period in the simulator).

The rules:

- **Cycle service level target** alpha: reorder point s = the alpha quantile of D_L; order-up-
  to level S = the alpha quantile of D_LR.
- **Fill-rate target** beta, for the periodic-review order-up-to (R, S) policy with
  backorders: the expected fill rate of level S is

      fill_rate(S) = 1 - (E[(D_LR - S)^+] - E[(D_L - S)^+]) / E[D_R],   E[D_R] = E[D_LR] - E[D_L]

  (Silver, Pyke & Thomas, *Inventory and Production Management in Supply Chains*, 4th ed.,
  2017, section 6.7; Axsaeter, *Inventory Control*, 3rd ed., 2015, section 5.11). The second
  term removes the shortage already backordered before the cycle began, which the textbook
  approximation 1 - E[(D_LR - S)^+] / E[D_R] counts again; for lumpy demand, where a single
  order can exceed S, the difference is large. The expectations are taken on the discrete
  distributions, so no normal or gamma shape is assumed. S is the smallest level meeting beta.
  The reorder point is then the smallest s < S whose (s, S) cycle meets beta with the same
  formula over the lead time and an order of S - s:
  1 - (E[(D_L - s)^+] - E[(D_L - S)^+]) / (S - s) >= beta (Hadley & Whitin's shortage per
  cycle; the undershoot of s is ignored), or S - 1 when none does.
- **Safety stock** = s - E[D_L] (negative when the target needs less than the mean, which
  happens for slow parts at modest targets).
- **Order** when the inventory position (on hand + on order - backorders) is at or below s: the
  smallest multiple of the pack size that is >= max(S - position, MOQ). At-or-below, not below:
  a part whose reorder point is 0 and that has nothing would otherwise never be ordered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from sparecast_assets.inventory.demand import (
    DemandDistribution, demand_over, forecast_bucket_size, period_pmfs_for, pmf_from_quantiles,
    quantile_columns, thin)

# A lead time longer than ten years is a placeholder ("9999": unknown), not a lead time.
MAX_LEAD_TIME_DAYS = 3650
# Days of cover beyond this (a century) give no projected stockout date: it would not be a
# date anyone plans for, and Python's dates end in 9999.
MAX_COVER_DAYS = 36_500

CYCLE_SERVICE = "cycle_service"
FILL_RATE = "fill_rate"
SERVICE_MEASURES = (CYCLE_SERVICE, FILL_RATE)
ITEM_TARGETS = "item"
SYSTEM_TARGETS = "system"
ALLOCATIONS = (ITEM_TARGETS, SYSTEM_TARGETS)


@dataclass(frozen=True)
class InventorySettings:
    """What the planner configures. Defaults are what a part without data gets; a row that used
    one says so in its data_flags."""

    service_measure: str = FILL_RATE
    # Target service level by criticality (the parts source's high / medium / low).
    service_targets: dict[str, float] = field(
        default_factory=lambda: {"high": 0.99, "medium": 0.95, "low": 0.90})
    default_criticality: str = "medium"
    default_lead_time_days: float = 14.0
    # 1.0 makes every value column a count of units when costs are unknown.
    default_unit_cost: float = 1.0
    review_period_days: float = 7.0
    # Excess = on hand beyond the order-up-to level plus this many days of mean demand.
    excess_horizon_days: float = 90.0
    # Dead stock: stock with no demand at the location in this many days.
    dead_stock_days: int = 365
    # A daily forecast repeats its last week beyond its horizon (keeps the weekday pattern).
    forecast_season: int = 7
    # ITEM_TARGETS: every part-location gets its criticality's target. SYSTEM_TARGETS: a
    # criticality's target is the fill rate over all units of its part-locations, reached at
    # the least stock value (system_order_up_to); fill-rate targets only.
    allocation: str = "item"

    def __post_init__(self):
        # Criticality classes are matched without case or surrounding spaces, on both sides.
        targets = {}
        for criticality, level in self.service_targets.items():
            key = str(criticality).strip().lower()
            if key in targets:
                raise ValueError(f"service_targets names {key!r} twice")
            targets[key] = level
        object.__setattr__(self, "service_targets", targets)
        object.__setattr__(self, "default_criticality",
                           str(self.default_criticality).strip().lower())
        for name in ("default_lead_time_days", "default_unit_cost", "review_period_days",
                     "excess_horizon_days", "dead_stock_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not np.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.default_lead_time_days > MAX_LEAD_TIME_DAYS:
            raise ValueError(f"default_lead_time_days must be at most {MAX_LEAD_TIME_DAYS}, "
                             f"got {self.default_lead_time_days}")
        if int(self.dead_stock_days) != self.dead_stock_days:
            raise ValueError(f"dead_stock_days must be whole days, got {self.dead_stock_days}")
        if isinstance(self.forecast_season, bool) or not isinstance(
                self.forecast_season, (int, np.integer)) or self.forecast_season < 1:
            raise ValueError(f"forecast_season must be a whole number of days >= 1, got "
                             f"{self.forecast_season!r}")
        if self.service_measure not in SERVICE_MEASURES:
            raise ValueError(f"service_measure must be one of {SERVICE_MEASURES}, got "
                             f"{self.service_measure!r}")
        for criticality, level in self.service_targets.items():
            if isinstance(level, bool) or not isinstance(level, (int, float, np.number)) \
                    or not 0.0 < level < 1.0:
                raise ValueError(f"service target for {criticality!r} must be within (0, 1), "
                                 f"got {level}")
        if self.default_criticality not in self.service_targets:
            raise ValueError(f"default_criticality {self.default_criticality!r} has no target in "
                             f"{sorted(self.service_targets)}")
        for name in ("default_lead_time_days", "default_unit_cost", "excess_horizon_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.review_period_days <= 0 or self.dead_stock_days <= 0:
            raise ValueError("review_period_days and dead_stock_days must be > 0")
        if self.allocation not in ALLOCATIONS:
            raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {self.allocation!r}")
        if self.allocation == SYSTEM_TARGETS and self.service_measure != FILL_RATE:
            raise ValueError("allocation 'system' sets fill-rate targets: use service_measure "
                             f"{FILL_RATE!r}")

    def target_for(self, criticality: str | None) -> tuple[float, bool]:
        """(target service level, whether the default criticality was used)."""
        key = (criticality or "").strip().lower()
        if key in self.service_targets:
            return self.service_targets[key], False
        return self.service_targets[self.default_criticality], True


def expected_fill_rate(lead_time: DemandDistribution, protection: DemandDistribution,
                       order_up_to) -> np.ndarray:
    """Expected fill rate of an (R, S) policy at each order-up-to level S (see the module
    docstring for the formula). 1 where no demand is expected in the review period."""
    review_demand = protection.mean - lead_time.mean
    if review_demand <= 1e-12:
        return np.ones_like(np.asarray(order_up_to, dtype=float))
    short = protection.expected_shortage(order_up_to) - lead_time.expected_shortage(order_up_to)
    return np.clip(1.0 - short / review_demand, 0.0, 1.0)


def order_up_to_for_fill_rate(lead_time: DemandDistribution, protection: DemandDistribution,
                              target):
    """The smallest order-up-to level whose expected fill rate is >= target (an int; an array
    of them for an array of targets)."""
    _same_lattice(lead_time, protection)
    levels = protection.stock_levels
    rate = expected_fill_rate(lead_time, protection, levels)
    # The rate never falls as S grows, and at S = the largest possible demand nothing is short:
    # the first level at or above the target exists (the clip keeps round-off from missing it).
    found = np.searchsorted(np.maximum.accumulate(rate), np.asarray(target) - 1e-12, side="left")
    found = levels[np.minimum(found, levels.size - 1)]
    return int(found) if np.ndim(found) == 0 else found.astype(int)


def _same_lattice(lead_time: DemandDistribution, protection: DemandDistribution) -> None:
    if lead_time.unit != protection.unit:
        raise ValueError(f"lead-time and protection distributions are on different lattices "
                         f"(buckets of {lead_time.unit} and {protection.unit} units)")


def reorder_point_for_fill_rate(lead_time: DemandDistribution, order_up_to: int,
                                target: float) -> int:
    """The smallest s < S whose (s, S) cycle meets the fill-rate target (module docstring);
    0 when S is 0."""
    if order_up_to <= 0:
        return 0
    s = np.arange(0, order_up_to, lead_time.unit)
    short = lead_time.expected_shortage(s) - lead_time.expected_shortage(order_up_to)
    meets = np.flatnonzero(1.0 - short / (order_up_to - s) >= target - 1e-12)
    return int(s[meets[0]]) if meets.size else int(s[-1])


@dataclass(frozen=True)
class StockLevels:
    reorder_point: int
    order_up_to_level: int
    safety_stock: float
    lead_time_demand_mean: float
    protection_demand_mean: float
    expected_fill_rate: float
    expected_cycle_service_level: float


def order_up_to_levels(lead_time: DemandDistribution, protection: DemandDistribution,
                       targets, measure: str = FILL_RATE) -> np.ndarray:
    """The order-up-to level of :func:`stock_levels` for several targets at once."""
    targets = np.asarray(targets, dtype=float)
    if measure == FILL_RATE:
        return order_up_to_for_fill_rate(lead_time, protection, targets)
    if measure == CYCLE_SERVICE:
        return np.array([max(protection.quantile(t), lead_time.quantile(t)) for t in targets])
    raise ValueError(f"measure must be one of {SERVICE_MEASURES}, got {measure!r}")


def reorder_points(lead_time: DemandDistribution, order_up_to, targets,
                   measure: str = FILL_RATE) -> np.ndarray:
    """The reorder point of :func:`stock_levels` for each (order-up-to level, target) pair."""
    order_up_to = np.asarray(order_up_to, dtype=float)
    targets = np.broadcast_to(np.asarray(targets, dtype=float), order_up_to.shape)
    if measure == FILL_RATE:
        return np.array([reorder_point_for_fill_rate(lead_time, int(s), t)
                         for s, t in zip(order_up_to, targets)])
    if measure == CYCLE_SERVICE:
        return np.array([lead_time.quantile(t) for t in targets])
    raise ValueError(f"measure must be one of {SERVICE_MEASURES}, got {measure!r}")


def system_order_up_to(lead_times: Sequence[DemandDistribution],
                       protections: Sequence[DemandDistribution], unit_costs, targets,
                       smallest_orders=None) -> np.ndarray:
    """Order-up-to levels (parts x targets) that reach a fill rate over all parts' units at
    the least stock value: the system approach to spare parts (Sherbrooke, *Optimal Inventory
    Modeling of Systems*, 2nd ed., 2004; Thonemann, Brown & Hausman, "Easy quantification of
    improved spare parts inventory policies", Management Science 48, 2002).

    One fill-rate target for every part spends as much on an expensive part used once a year
    as on a cheap one used by the box; a planner who is measured on the units filled keeps
    the cheap fast movers plentiful and the expensive slow ones lean. For a multiplier lambda
    (value of a filled unit), each part takes the S on its lattice that minimises

        unit_cost x E[(S - D_LR)^+]  -  lambda x filled(S),
        filled(S) = E[D_R] - (E[(D_LR - S)^+] - E[(D_L - S)^+])

    (stock left at the end of the protection interval against the expected units filled from
    stock per review, :func:`expected_fill_rate` x E[D_R]); lambda is then the smallest for
    which sum filled >= target x sum E[D_R] (bisection on log lambda). A part with no cost is
    stocked at the level that fills all its units its distribution allows.

    ``smallest_orders`` (units per part, default 1): the fewest units an order can bring (the
    MOQ rounded up to whole packs). Any S > 0 then also holds about (smallest - 1) / 2 units
    of cycle stock: a part sold in packs of 1,000 is not stocked to fill one unit a year."""
    lead_times, protections = list(lead_times), list(protections)
    costs = np.asarray(unit_costs, dtype=float)
    targets = np.atleast_1d(np.asarray(targets, dtype=float))
    if not (len(lead_times) == len(protections) == costs.size):
        raise ValueError("one lead-time and one protection distribution and unit cost per part")
    if not np.all(np.isfinite(costs)) or np.any(costs < 0):
        raise ValueError("unit costs must be finite and >= 0")
    if not np.all((targets > 0) & (targets < 1)):
        raise ValueError(f"targets must be within (0, 1), got {targets.tolist()}")
    if not lead_times:
        return np.zeros((0, targets.size))
    batches = (np.ones(costs.size) if smallest_orders is None
               else np.asarray(smallest_orders, dtype=float))
    if batches.shape != costs.shape or not np.all(np.isfinite(batches)) or np.any(batches < 1):
        raise ValueError("smallest_orders must be one number >= 1 per part")

    # One flat array over every part's lattice: part p's levels at starts[p]:starts[p + 1].
    levels, filled, held, owner = [], [], [], []
    review_demand = np.zeros(costs.size)
    for p, (lead, protection) in enumerate(zip(lead_times, protections)):
        _same_lattice(lead, protection)
        lattice = protection.stock_levels
        review_demand[p] = max(protection.mean - lead.mean, 0.0)
        short = protection.expected_shortage(lattice) - lead.expected_shortage(lattice)
        levels.append(lattice)
        filled.append(np.clip(review_demand[p] - short, 0.0, None))
        cycle_stock = np.where(lattice > 0, (batches[p] - 1.0) / 2.0, 0.0)
        held.append(costs[p] * (lattice - protection.mean + protection.expected_shortage(lattice)
                                + cycle_stock))
        owner.append(np.full(lattice.size, p))
    starts = np.concatenate([[0], np.cumsum([a.size for a in levels])])
    levels, filled, held = (np.concatenate(a) for a in (levels, filled, held))
    owner = np.concatenate(owner)
    # Ties go to the lowest level: reduceat finds each part's minimum, the first match wins.
    position = np.arange(levels.size)

    def choose(value_of_filled: float) -> np.ndarray:
        objective = held - value_of_filled * filled
        lowest = np.minimum.reduceat(objective, starts[:-1])
        at_lowest = objective <= lowest[owner] + 1e-12 * np.maximum(1.0, np.abs(lowest[owner]))
        first = np.full(costs.size, levels.size)
        np.minimum.at(first, owner[at_lowest], position[at_lowest])
        return first

    total = review_demand.sum()
    result = np.zeros((costs.size, targets.size))
    for j, target in enumerate(targets):
        needed = target * total
        low, high = -30.0, 30.0  # log lambda
        chosen = choose(np.exp(high))
        if filled[chosen].sum() >= needed:
            for _ in range(60):
                middle = (low + high) / 2
                candidate = choose(np.exp(middle))
                if filled[candidate].sum() >= needed:
                    high, chosen = middle, candidate
                else:
                    low = middle
        result[:, j] = levels[chosen]
    return result


def stock_levels(lead_time: DemandDistribution, protection: DemandDistribution, target: float,
                 measure: str = FILL_RATE) -> StockLevels:
    """Reorder point, order-up-to level and safety stock for one service target."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be within (0, 1), got {target}")
    if measure == CYCLE_SERVICE:
        reorder_point = lead_time.quantile(target)
        order_up_to = max(protection.quantile(target), reorder_point)
    elif measure == FILL_RATE:
        order_up_to = order_up_to_for_fill_rate(lead_time, protection, target)
        reorder_point = reorder_point_for_fill_rate(lead_time, order_up_to, target)
    else:
        raise ValueError(f"measure must be one of {SERVICE_MEASURES}, got {measure!r}")
    return _levels_at(lead_time, protection, order_up_to, reorder_point)


def order_quantity(order_up_to: float, reorder_point: float, inventory_position: float,
                   min_order_qty: float = 0.0, pack_size: float = 1.0) -> float:
    """Units to order now: 0 when the position is above the reorder point; otherwise the
    smallest multiple of ``pack_size`` that is at least max(order_up_to - position, MOQ).

    Example: S 17, position 3, MOQ 10, pack 4 -> need 14 >= MOQ -> 16 (four packs). With
    MOQ 18 instead -> 20 (MOQ first, then whole packs, so both hold)."""
    if not np.isfinite([order_up_to, reorder_point, inventory_position, min_order_qty,
                        pack_size]).all():
        raise ValueError(f"order_quantity needs finite numbers, got S {order_up_to}, s "
                         f"{reorder_point}, position {inventory_position}, MOQ {min_order_qty}, "
                         f"pack {pack_size}")
    if pack_size <= 0:
        raise ValueError(f"pack_size must be > 0, got {pack_size}")
    if min_order_qty < 0:
        raise ValueError(f"min_order_qty must be >= 0, got {min_order_qty}")
    if inventory_position > reorder_point:
        return 0.0
    needed = order_up_to - inventory_position
    if needed <= 0:
        return 0.0
    units = max(needed, min_order_qty)
    packs = math.ceil(units / pack_size - 1e-9)
    return float(packs * pack_size)


# The columns of one recommendation, in table order (store.py's DDL follows it).
RECOMMENDATION_COLUMNS = [
    "as_of_date", "part_id", "location_id", "model_version", "criticality", "service_measure",
    "service_target", "lead_time_days", "review_period_days", "unit_cost", "min_order_qty",
    "pack_size", "inventory_snapshot_date", "on_hand", "on_order", "inventory_position",
    "demand_share", "mean_daily_demand", "lead_time_demand_mean", "safety_stock",
    "reorder_point", "order_up_to_level", "expected_fill_rate", "expected_cycle_service_level",
    "recommended_order_qty", "recommended_order_value", "stockout_probability",
    "expected_units_short", "value_at_risk", "days_of_cover", "projected_stockout_date",
    "excess_units", "excess_value", "last_demand_date", "dead_stock_units", "dead_stock_value",
    "data_flags",
]
# Where a part has no stock record at any location and no located usage.
UNKNOWN_LOCATION = "unknown"


def _value(value, default=None):
    """The value, or ``default`` when it is missing (None, NaN, NaT, NA)."""
    return default if value is None or pd.isna(value) else value


def recommend(forecast: pd.DataFrame, parts: pd.DataFrame, inventory: pd.DataFrame,
              location_demand: pd.DataFrame, as_of_date: date, history_start: date | None,
              settings: InventorySettings = InventorySettings()) -> pd.DataFrame:
    """One row per part and location (RECOMMENDATION_COLUMNS) for one as-of date.

    Inputs, one as-of date:

    - ``forecast``: part_id, horizon_days (1..H, daily steps), demand_mean, the quantile
      columns demand_p10 ... demand_p99 (any two or more levels), model_version.
    - ``parts``: part_id, unit_cost, lead_time_days, min_order_qty, pack_size, criticality.
    - ``inventory``: the newest count per part and location: part_id, location_id,
      snapshot_date, on_hand, on_order.
    - ``location_demand``: part_id, location_id (None for usage on a machine without a
      location), units (consumed in the last ``dead_stock_days``), last_demand_date (ever).
    - ``history_start``: the first day of demand history; stock is only called dead when the
      history covers the whole dead-stock window.

    Rules (each use of a default is named in ``data_flags``, comma-separated):

    - Rows: every location that holds a count of the part, plus every location that used it in
      the window without a count (on hand and on order 0, flag ``no_inventory_snapshot``); a
      part with neither gets one row at location 'unknown' with the same flag. A part with
      stock but no forecast is taken as having no demand (flag ``no_forecast``), so its excess
      and dead stock still show; its model_version is empty.
    - The part's forecast is for all locations together. A location's demand is the part's
      thinned by the location's share of the part's located units in the window (each unit
      independently, binomial thinning); with no located usage the share is split evenly
      (flag ``demand_split_evenly`` when there is more than one location).
    - Missing lead time, unit cost or criticality: the settings' defaults (flags
      ``lead_time_default``, ``unit_cost_default``, ``criticality_default``); missing MOQ is
      0 and missing pack size 1, which change nothing. A lead time plus review period longer
      than the forecast repeats the forecast's last week (flag ``lead_time_beyond_forecast``).
    - stockout_probability = P(D_L > on hand + on order): outstanding orders are taken to
      arrive within the lead time, and an order placed today cannot arrive sooner.
      expected_units_short = E[(D_L - on hand - on order)^+]; value_at_risk = that x unit cost.
    - days_of_cover = on hand / mean daily demand and projected_stockout_date = as-of date +
      whole days of cover: when on hand runs out if nothing arrives. Both empty without
      demand.
    - excess_units = on hand beyond S + ``excess_horizon_days`` of mean demand.
    - dead stock: on hand at a location with no demand there in the last ``dead_stock_days``
      (the part's last demand anywhere when no usage of it has a location).
    """
    required = {
        "forecast": (forecast, {"part_id", "horizon_days", "demand_mean", "model_version"}),
        "parts": (parts, {"part_id", "unit_cost", "lead_time_days", "min_order_qty",
                          "pack_size", "criticality"}),
        "inventory": (inventory, {"part_id", "location_id", "snapshot_date", "on_hand",
                                  "on_order"}),
        "location_demand": (location_demand, {"part_id", "location_id", "units",
                                              "last_demand_date"}),
    }
    for name, (frame, columns) in required.items():
        missing = columns - set(frame.columns)
        if missing:
            raise ValueError(f"{name} lacks column(s) {sorted(missing)}")
    if forecast.duplicated(["part_id", "horizon_days"]).any():
        raise ValueError("forecast has more than one row per part and horizon day: pass one "
                         "as-of date")
    as_of_date = _as_date(as_of_date, "as_of_date")
    history_start = None if history_start is None else _as_date(history_start, "history_start")
    forecast, parts, inventory, location_demand = _checked_inputs(
        forecast, parts, inventory, location_demand)
    levels = quantile_columns(forecast) if len(forecast) else {}
    versions = sorted(set(forecast["model_version"].dropna().astype(str)))
    model_version = versions[-1] if len(versions) == 1 else ", ".join(versions) or None

    by_part = {part: group.sort_values("horizon_days")
               for part, group in forecast.groupby("part_id")}
    attributes = parts.set_index("part_id")
    # Every part with a forecast, a stock record or usage at a location in the window.
    part_ids = sorted(set(by_part) | set(inventory["part_id"])
                      | set(location_demand.loc[location_demand["units"] > 0, "part_id"]))
    window_start = as_of_date - timedelta(days=settings.dead_stock_days - 1)
    history_covers_window = history_start is not None and history_start <= window_start
    # (lead-time and protection distributions, target, unit cost, MOQ, pack size, the row's
    # figures that do not depend on the levels) per part-location; levels come last, as the
    # system allocation needs every part-location of a target at once.
    pending: list[tuple] = []
    rows = []

    for part_id in part_ids:
        flags: list[str] = []
        attr = attributes.loc[part_id] if part_id in attributes.index else pd.Series(dtype=object)
        lead_time = _value(attr.get("lead_time_days"))
        if lead_time is None:
            lead_time = settings.default_lead_time_days
            flags.append("lead_time_default")
        unit_cost = _value(attr.get("unit_cost"))
        if unit_cost is None:
            unit_cost = settings.default_unit_cost
            flags.append("unit_cost_default")
        criticality = _value(attr.get("criticality"))
        target, defaulted = settings.target_for(criticality)
        if defaulted:
            criticality = settings.default_criticality
            flags.append("criticality_default")
        min_order_qty = float(_value(attr.get("min_order_qty"), 0.0))
        pack_size = float(_value(attr.get("pack_size"), 1.0))
        lead_time, unit_cost = float(lead_time), float(unit_cost)
        review = settings.review_period_days

        part_forecast = by_part.get(part_id)
        unit = 1
        if part_forecast is None:
            flags.append("no_forecast")
            covering = []
            mean_daily = 0.0
        else:
            steps = part_forecast[list(levels.values())].to_numpy(float)
            means = part_forecast["demand_mean"].to_numpy(float)
            try:
                unit = forecast_bucket_size(steps, means)
                period_pmfs = [pmf_from_quantiles(list(levels), row, mean, unit)
                               for row, mean in zip(steps, means)]
            except ValueError as error:
                raise ValueError(f"forecast of part {part_id!r}: {error}") from error
            covering, extended = period_pmfs_for(period_pmfs, lead_time + review,
                                                 settings.forecast_season)
            if extended:
                flags.append("lead_time_beyond_forecast")
            mean_daily = float(part_forecast["demand_mean"].mean())

        stock = inventory[inventory["part_id"] == part_id].set_index("location_id")
        used = location_demand[location_demand["part_id"] == part_id]
        located = used[used["location_id"].notna()].set_index("location_id")
        locations = sorted(set(stock.index) | set(located.index[located["units"] > 0]))
        if not locations:
            locations = [UNKNOWN_LOCATION]
        located_units = located["units"].astype(float).reindex(locations).fillna(0.0)
        if located_units.sum() > 0:
            shares = located_units / located_units.sum()
        else:
            shares = pd.Series(1.0 / len(locations), index=locations)
            if len(locations) > 1:
                flags.append("demand_split_evenly")
        part_last_demand = _value(used["last_demand_date"].max()) if len(used) else None

        for location in locations:
            row_flags = list(flags)
            share = float(shares[location])
            if location in stock.index:
                count = stock.loc[location]
                on_hand, on_order = float(count["on_hand"]), float(_value(count["on_order"], 0.0))
                snapshot_date = count["snapshot_date"]
            else:
                on_hand, on_order, snapshot_date = 0.0, 0.0, None
                row_flags.append("no_inventory_snapshot")
            # Each day's demand is thinned before the days are summed: the same distribution
            # as thinning the sum, at a fraction of the cost for parts used by the hundred.
            days = [thin(pmf, share) for pmf in covering]
            lead = DemandDistribution(demand_over(days, lead_time) if days else np.array([1.0]),
                                      unit)
            protection = DemandDistribution(demand_over(days, lead_time + review) if days
                                            else np.array([1.0]), unit)
            position = on_hand + on_order
            short = float(lead.expected_shortage([position])[0])
            daily = mean_daily * share
            cover = max(on_hand, 0.0) / daily if daily > 0 else None

            if location in located.index:
                last_demand = _value(located.loc[location, "last_demand_date"])
            else:
                last_demand = None if len(located) else part_last_demand
            dead = (on_hand > 0 and history_covers_window
                    and (last_demand is None or last_demand < window_start))
            pending.append((lead, protection, target, unit_cost, min_order_qty, pack_size, {
                "as_of_date": as_of_date, "part_id": part_id, "location_id": location,
                "model_version": None if part_forecast is None else model_version,
                "criticality": criticality,
                "service_measure": settings.service_measure, "service_target": target,
                "lead_time_days": lead_time, "review_period_days": review,
                "unit_cost": unit_cost, "min_order_qty": min_order_qty, "pack_size": pack_size,
                "inventory_snapshot_date": snapshot_date, "on_hand": on_hand,
                "on_order": on_order, "inventory_position": position, "demand_share": share,
                "mean_daily_demand": daily, "lead_time_demand_mean": lead.mean,
                "stockout_probability": 1.0 - lead.probability_at_most(position),
                "expected_units_short": short, "value_at_risk": short * unit_cost,
                "days_of_cover": cover,
                "projected_stockout_date": (as_of_date + timedelta(days=math.floor(cover))
                                            if cover is not None and cover <= MAX_COVER_DAYS
                                            else None),
                "last_demand_date": last_demand,
                "dead_stock_units": on_hand if dead else 0.0,
                "dead_stock_value": on_hand * unit_cost if dead else 0.0,
                "data_flags": ",".join(row_flags),
            }))

    for levels_here, (_, _, _, unit_cost, min_order_qty, pack_size, row) in zip(
            _levels_for(pending, settings), pending):
        quantity = order_quantity(levels_here.order_up_to_level, levels_here.reorder_point,
                                  row["inventory_position"], min_order_qty, pack_size)
        excess = max(row["on_hand"] - (levels_here.order_up_to_level
                                       + settings.excess_horizon_days * row["mean_daily_demand"]),
                     0.0)
        rows.append({**row, "safety_stock": levels_here.safety_stock,
                     "reorder_point": levels_here.reorder_point,
                     "order_up_to_level": levels_here.order_up_to_level,
                     "expected_fill_rate": levels_here.expected_fill_rate,
                     "expected_cycle_service_level": levels_here.expected_cycle_service_level,
                     "recommended_order_qty": quantity,
                     "recommended_order_value": quantity * unit_cost,
                     "excess_units": excess, "excess_value": excess * unit_cost})
    return pd.DataFrame(rows, columns=RECOMMENDATION_COLUMNS)


def _levels_for(pending: list[tuple], settings: InventorySettings) -> list[StockLevels]:
    """The stock levels of every pending part-location: each on its own target, or, with the
    system allocation, per target (criticality) over all part-locations sharing it."""
    if settings.allocation == ITEM_TARGETS:
        return [stock_levels(lead, protection, target, settings.service_measure)
                for lead, protection, target, *_ in pending]
    levels: list[StockLevels | None] = [None] * len(pending)
    for target in sorted({entry[2] for entry in pending}):
        group = [i for i, entry in enumerate(pending) if entry[2] == target]
        leads = [pending[i][0] for i in group]
        protections = [pending[i][1] for i in group]
        smallest = [max(math.ceil(pending[i][4] / pending[i][5] - 1e-9), 1) * pending[i][5]
                    for i in group]
        order_up_to = system_order_up_to(leads, protections, [pending[i][3] for i in group],
                                         [target], smallest)[:, 0]
        for i, lead, protection, level in zip(group, leads, protections, order_up_to):
            rate = float(expected_fill_rate(lead, protection, [level])[0])
            levels[i] = _levels_at(lead, protection, int(level),
                                   reorder_point_for_fill_rate(lead, int(level), rate))
    return levels


def _levels_at(lead_time: DemandDistribution, protection: DemandDistribution, order_up_to: int,
               reorder_point: int) -> StockLevels:
    return StockLevels(
        reorder_point=reorder_point,
        order_up_to_level=order_up_to,
        safety_stock=reorder_point - lead_time.mean,
        lead_time_demand_mean=lead_time.mean,
        protection_demand_mean=protection.mean,
        expected_fill_rate=float(expected_fill_rate(lead_time, protection, [order_up_to])[0]),
        expected_cycle_service_level=protection.probability_at_most(order_up_to),
    )


def _as_date(value, name: str) -> date:
    """A date from a date, datetime, pandas Timestamp or ISO string."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a date, got {value!r}") from error
    if pd.isna(stamp):
        raise ValueError(f"{name} must be a date, got {value!r}")
    return stamp.date()


def _bad(frame: pd.DataFrame, mask, what: str, name: str) -> None:
    mask = np.asarray(mask, dtype=bool)
    if mask.any():
        shown = sorted({str(p) for p in frame.loc[mask, "part_id"]})
        more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
        raise ValueError(f"{name}: {what} for part(s) {', '.join(shown[:5])}{more}")


def _numbers(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """The column as floats; text that is not a number is refused, missing values stay NaN."""
    values = pd.to_numeric(frame[column], errors="coerce")
    _bad(frame, values.isna() & frame[column].notna(), f"{column} is not a number", name)
    return values.astype(float)


def _checked_inputs(forecast: pd.DataFrame, parts: pd.DataFrame, inventory: pd.DataFrame,
                    location_demand: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """Copies of the inputs with ids as text and numbers as floats; whatever would give a
    wrong or meaningless recommendation is refused with the parts it concerns."""
    frames = []
    for name, frame in (("forecast", forecast), ("parts", parts), ("inventory", inventory),
                        ("location_demand", location_demand)):
        frame = frame.copy()
        if frame["part_id"].isna().any():
            raise ValueError(f"{name} has {int(frame['part_id'].isna().sum())} row(s) "
                             "without a part_id")
        frame["part_id"] = frame["part_id"].astype(str)
        if "location_id" in frame:
            frame["location_id"] = frame["location_id"].map(
                lambda v: None if v is None or pd.isna(v) else str(v))
        frames.append(frame)
    forecast, parts, inventory, location_demand = frames

    if len(forecast):
        days = _numbers(forecast, "horizon_days", "forecast")
        _bad(forecast, days.isna() | (days < 1) | (days != np.floor(days)),
             "horizon_days must be whole days >= 1", "forecast")
        forecast["horizon_days"] = days.astype(int)
        steps = forecast.groupby("part_id")["horizon_days"].agg(["min", "max", "count"])
        gaps = steps[(steps["min"] != 1) | (steps["max"] != steps["count"])].index
        _bad(forecast, forecast["part_id"].isin(gaps),
             "horizon_days must run 1, 2, ... without gaps", "forecast")
        mean = _numbers(forecast, "demand_mean", "forecast")
        _bad(forecast, ~np.isfinite(mean) | (mean < 0), "demand_mean must be finite and >= 0",
             "forecast")
        forecast["demand_mean"] = mean
        forecast["model_version"] = forecast["model_version"].map(
            lambda v: None if v is None or pd.isna(v) else str(v))

    _bad(parts, parts["part_id"].duplicated(keep=False), "more than one row", "parts")
    for column, low, high, closed in (("unit_cost", 0.0, np.inf, True),
                                      ("lead_time_days", 0.0, MAX_LEAD_TIME_DAYS, True),
                                      ("min_order_qty", 0.0, np.inf, True),
                                      ("pack_size", 0.0, np.inf, False)):
        values = _numbers(parts, column, "parts")
        outside = values.notna() & (~np.isfinite(values) | (values > high)
                                    | ((values < low) if closed else (values <= low)))
        bound = f"{'>=' if closed else '>'} {low:g}" + (
            f" and <= {high:g}" if np.isfinite(high) else "")
        _bad(parts, outside, f"{column} must be finite, {bound}", "parts")
        parts[column] = values
    parts["criticality"] = parts["criticality"].map(
        lambda v: None if v is None or pd.isna(v) else str(v))

    _bad(inventory, inventory["location_id"].isna(), "a stock count without a location_id",
         "inventory")
    _bad(inventory, inventory.duplicated(["part_id", "location_id"], keep=False),
         "more than one stock count at a location", "inventory")
    on_hand = _numbers(inventory, "on_hand", "inventory")
    _bad(inventory, ~np.isfinite(on_hand) | (on_hand < 0),
         "on_hand must be a finite count >= 0", "inventory")
    on_order = _numbers(inventory, "on_order", "inventory").fillna(0.0)
    _bad(inventory, ~np.isfinite(on_order) | (on_order < 0),
         "on_order must be finite and >= 0", "inventory")
    inventory["on_hand"], inventory["on_order"] = on_hand, on_order

    _bad(location_demand, location_demand.duplicated(["part_id", "location_id"], keep=False),
         "more than one usage row at a location", "location_demand")
    units = _numbers(location_demand, "units", "location_demand")
    _bad(location_demand, ~np.isfinite(units) | (units < 0), "units must be finite and >= 0",
         "location_demand")
    location_demand["units"] = units
    try:
        location_demand["last_demand_date"] = pd.to_datetime(
            location_demand["last_demand_date"]).dt.date
    except (TypeError, ValueError) as error:
        raise ValueError(f"location_demand: last_demand_date must be dates ({error})") from error
    location_demand["last_demand_date"] = location_demand["last_demand_date"].map(
        lambda v: None if v is None or pd.isna(v) else v)
    return forecast, parts, inventory, location_demand


def exceptions(recommendations: pd.DataFrame) -> pd.DataFrame:
    """Parts at risk of stockout: the lead time's stockout probability exceeds what the part's
    service target allows (1 - target), i.e. the position no longer protects the lead time at
    the target; an order placed now arrives too late, so these need expediting or a transfer.
    Sorted by value at risk (expected units short over the lead time x unit cost), largest
    first, with their rank."""
    at_risk = recommendations[recommendations["stockout_probability"]
                              > 1.0 - recommendations["service_target"] + 1e-12]
    at_risk = at_risk.sort_values(["value_at_risk", "stockout_probability", "part_id",
                                   "location_id"], ascending=[False, False, True, True])
    at_risk = at_risk.assign(risk_rank=np.arange(1, len(at_risk) + 1))
    return at_risk[EXCEPTION_COLUMNS].reset_index(drop=True)


EXCEPTION_COLUMNS = [
    "as_of_date", "part_id", "location_id", "risk_rank", "value_at_risk", "expected_units_short",
    "stockout_probability", "service_target", "criticality", "on_hand", "on_order",
    "reorder_point", "order_up_to_level", "recommended_order_qty", "lead_time_days",
    "projected_stockout_date", "unit_cost", "model_version", "data_flags",
]
