"""Replay held-out demand through a periodic-review order-up-to policy driven by a forecaster.

Grain: one item (part) per replay, one row per period; results are summed per forecaster and
target over the items.

The bookkeeping of one period t, in this order:

1. Orders due at t arrive (an order placed at the review of period t - L arrives at the start
   of period t; L whole periods, L = 0 arrives at once).
2. Review: inventory position = net stock + on order, net stock = on hand - backorders. When it
   is at or below the reorder point (below the order-up-to level S for the plain (R, S)
   policy), order S - position, raised to the MOQ and rounded up to whole packs
   (:func:`sparecast_assets.inventory.policy.order_quantity`).
3. Demand: filled from on hand as far as it goes; the rest is **backordered** (net stock goes
   negative) and filled when stock arrives. Backorders, not lost sales: spare parts that are
   short are nearly always still needed, and the fill-rate formula of the policy assumes it.
4. End of period: on hand = max(net, 0) is what is held (stock value = on hand x unit cost);
   the period is a served cycle when no backorder is outstanding.

Measured over periods t >= L of the replay (the first order is in control from then on; before,
the stock is the starting stock, set to the first order-up-to level): fill rate = units filled
from stock / units demanded; cycle service level = share of periods ending with no backorder;
average stock value; orders placed; backordered units (demand not filled from stock).

A forecaster is a callable (history, horizon) -> per-period frame with columns item, step
(1..horizon) and either quantile columns q10 ... q99 and mean (core.forecast's shape; the pmf
rule of :mod:`sparecast_assets.inventory.demand`) or mean and alpha (a negative binomial per
period, for the Croston-SBA and TSB baselines). ``history`` is the long table (item, period,
quantity) of every period before the review. It is called every ``reforecast_every`` reviews.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sparecast_assets.inventory.calibrate import TargetMap, nominal_levels
from sparecast_assets.inventory.demand import (
    DemandDistribution, bucket_size, demand_over, forecast_bucket_size, negative_binomial_pmf,
    pmf_from_quantiles, quantile_columns)
from sparecast_assets.inventory.policy import (
    FILL_RATE, expected_fill_rate, order_quantity, order_up_to_levels, reorder_point_for_fill_rate,
    reorder_points, system_order_up_to)

Forecaster = Callable[[pd.DataFrame, int], pd.DataFrame]


@dataclass
class Replay:
    """Per-period bookkeeping of one item (arrays over the replayed periods) and its totals
    over the measured periods."""

    received: np.ndarray
    position: np.ndarray  # inventory position at the review, before ordering
    ordered: np.ndarray
    demand: np.ndarray
    filled: np.ndarray
    on_hand: np.ndarray  # end of period
    backorders: np.ndarray  # end of period
    measured_from: int
    unit_cost: float

    def totals(self) -> dict[str, float]:
        m = slice(self.measured_from, None)
        periods = self.demand[m].size
        return {
            "periods": periods,
            "demand": float(self.demand[m].sum()),
            "filled": float(self.filled[m].sum()),
            "served_cycles": int((self.backorders[m] <= 1e-9).sum()),
            "stock_value_periods": float((self.on_hand[m] * self.unit_cost).sum()),
            "orders": int((self.ordered[m] > 0).sum()),
            "backordered_units": float((self.demand[m] - self.filled[m]).sum()),
        }


def replay(demand: Sequence[float], order_up_to: Sequence[float], lead_time: int, *,
           reorder_points: Sequence[float] | None = None, min_order_qty: float = 0.0,
           pack_size: float = 1.0, unit_cost: float = 1.0,
           initial_on_hand: float | None = None) -> Replay:
    """Replay one item's demand; levels may change every period. ``reorder_points`` None is
    the (R, S) policy (order whenever the position is below S); the starting stock defaults to
    the first order-up-to level, with nothing on order."""
    demand = np.asarray(demand, dtype=float)
    order_up_to = np.broadcast_to(np.asarray(order_up_to, dtype=float), demand.shape)
    if reorder_points is not None:
        reorder_points = np.broadcast_to(np.asarray(reorder_points, dtype=float), demand.shape)
    if isinstance(lead_time, bool) or not isinstance(lead_time, (int, float, np.number)) \
            or not np.isfinite(lead_time) or lead_time < 0 or int(lead_time) != lead_time:
        raise ValueError(f"lead_time must be a whole number of periods >= 0, got {lead_time!r}")
    lead_time = int(lead_time)
    if demand.ndim != 1 or demand.size == 0:
        raise ValueError("demand must be a non-empty sequence of periods")
    if not np.all(np.isfinite(demand)):
        raise ValueError("demand must be finite (no NaN or inf)")
    if np.any(demand < 0):
        raise ValueError("demand must be >= 0")
    if not (np.all(np.isfinite(order_up_to)) and (reorder_points is None
                                                  or np.all(np.isfinite(reorder_points)))):
        raise ValueError("order-up-to levels and reorder points must be finite")
    n = demand.size
    received, position, ordered, filled, on_hand, backorders = (np.zeros(n) for _ in range(6))
    arriving = np.zeros(n + lead_time + 1)
    net = float(order_up_to[0] if initial_on_hand is None else initial_on_hand)
    on_order = 0.0

    for t in range(n):
        net += arriving[t]
        on_order -= arriving[t]
        received[t] = arriving[t]
        position[t] = net + on_order
        # (R, S): any position below S triggers, i.e. a reorder point just under S.
        trigger = order_up_to[t] - 1e-9 if reorder_points is None else reorder_points[t]
        quantity = order_quantity(order_up_to[t], trigger, position[t], min_order_qty, pack_size)
        if quantity > 0:
            ordered[t] = quantity
            if lead_time == 0:
                net += quantity
                received[t] += quantity
            else:
                arriving[t + lead_time] += quantity
                on_order += quantity
        filled[t] = min(demand[t], max(net, 0.0))
        net -= demand[t]
        on_hand[t], backorders[t] = max(net, 0.0), max(-net, 0.0)

    return Replay(received, position, ordered, demand, filled, on_hand, backorders,
                  measured_from=min(lead_time, n), unit_cost=unit_cost)


def _period_frames(forecast: pd.DataFrame) -> tuple[str, dict]:
    """Per item, the forecast steps as an array: quantiles (steps x levels) or (mean, alpha)."""
    forecast = forecast.sort_values(["item", "step"])
    if {"mean", "alpha"} <= set(forecast.columns) and not any(
            str(c).startswith("q") and str(c)[1:].isdigit() for c in forecast.columns):
        per_item = {item: (group["mean"].to_numpy(float), float(group["alpha"].iloc[0]))
                    for item, group in forecast.groupby("item", sort=False)}
        return "negative_binomial", per_item
    columns = quantile_columns(forecast)
    levels = np.array(list(columns))
    # The mean rides along as the last column: the pmf's tail is matched to it.
    means = forecast["mean"] if "mean" in forecast.columns else pd.Series(np.nan, forecast.index)
    values = np.column_stack([forecast[list(columns.values())].to_numpy(float),
                              means.to_numpy(float)])
    items = forecast["item"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, items[1:] != items[:-1], True])
    per_item = {items[a]: values[a:b] for a, b in zip(bounds[:-1], bounds[1:])}
    return "quantiles", {"levels": levels, "items": per_item}


class _Levels:
    """Lead-time and protection-interval distributions of one item's forecast at a review,
    and the order-up-to levels per target from them, cached on the forecast's numbers (many
    slow parts share an all-zero forecast) and on the targets asked."""

    def __init__(self, targets: Sequence[float], measure: str):
        self.targets, self.measure = list(targets), measure
        self._distributions: dict = {}
        self._levels: dict = {}
        self._nominal: dict = {}
        self._pmfs: dict = {}

    def levels(self, key, lead: DemandDistribution, protection: DemandDistribution,
               targets: np.ndarray) -> np.ndarray:
        """(targets x 2): the order-up-to level S and the reorder point s per target."""
        cache_key = (key, targets.tobytes())
        if cache_key not in self._levels:
            order_up_to = order_up_to_levels(lead, protection, targets, self.measure)
            reorder = reorder_points(lead, order_up_to, targets, self.measure)
            self._levels[cache_key] = np.column_stack([order_up_to, reorder]).astype(float)
        return self._levels[cache_key]

    def nominal(self, key, lead: DemandDistribution, protection: DemandDistribution
                ) -> np.ndarray:
        """The levels at every nominal target of the calibration grid."""
        if key not in self._nominal:
            self._nominal[key] = nominal_levels(lead, protection, self.measure)
        return self._nominal[key]

    def from_quantiles(self, levels: np.ndarray, steps: np.ndarray, lead_time: int,
                       review: int) -> tuple[tuple, DemandDistribution, DemandDistribution]:
        covered = steps[: lead_time + review]
        key = (covered.tobytes(), lead_time, review)
        if key not in self._distributions:
            unit = forecast_bucket_size(covered[:, :-1], np.nan_to_num(covered[:, -1]))
            pmfs = []
            for row in covered:
                row_key = (row.tobytes(), unit)
                if row_key not in self._pmfs:
                    mean = None if np.isnan(row[-1]) else row[-1]
                    self._pmfs[row_key] = pmf_from_quantiles(levels, row[:-1], mean, unit)
                pmfs.append(self._pmfs[row_key])
            # The protection interval is the lead time and then the review: convolve once.
            lead = demand_over(pmfs, lead_time)
            self._distributions[key] = (
                DemandDistribution(lead, unit),
                DemandDistribution(demand_over([lead] + pmfs[lead_time:], 1 + review), unit))
        return (key, *self._distributions[key])

    def from_negative_binomial(self, mean: np.ndarray, alpha: float, lead_time: int,
                               review: int) -> tuple[tuple, DemandDistribution,
                                                     DemandDistribution]:
        # The per-period mean over the protected steps: the baselines' mean is flat anyway.
        lead_mean = float(mean[:lead_time].mean()) if lead_time else 0.0
        protection_mean = float(mean[: lead_time + review].mean())
        key = (round(lead_mean, 12), round(protection_mean, 12), round(alpha, 12), lead_time,
               review)
        if key not in self._distributions:
            # The buckets of a period's demand far up its tail (five standard deviations).
            largest = max(lead_mean, protection_mean)
            unit = bucket_size(largest + 5.0 * np.sqrt(largest + alpha * largest**2))
            self._distributions[key] = (
                DemandDistribution(negative_binomial_pmf(lead_mean, alpha, lead_time, unit),
                                   unit),
                DemandDistribution(negative_binomial_pmf(protection_mean, alpha,
                                                         lead_time + review, unit), unit))
        return (key, *self._distributions[key])


# The policies the simulator replays: (R, S), ordering up to S at every review below it, and
# (R, s, S), ordering up to S when the position is at or below the reorder point s.
ORDER_UP_TO = "order_up_to"
REORDER_POINT = "reorder_point"
# How a target is read: as every item's own fill rate, or as the fill rate over all items'
# units at the least stock value.
ITEM = "item"
SYSTEM = "system"

# A review before the held-out periods is forecast for recalibration only when at least this
# many periods of history precede it.
MIN_WARMUP_HISTORY = 12


def order_up_to_paths(demand: pd.DataFrame, lead_times: pd.Series, forecaster: Forecaster,
                      holdout: int, targets: Sequence[float], *, review: int = 1,
                      reforecast_every: int = 1, measure: str = FILL_RATE,
                      recalibrate: bool = False, warmup: int = 0,
                      unit_costs: pd.Series | None = None,
                      smallest_orders: pd.Series | None = None,
                      log: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """Order-up-to level and reorder point per item, held-out period and target: {item: array
    (holdout x targets x 2)}, [..., 0] the order-up-to level S and [..., 1] the reorder point s
    of the policy (:mod:`sparecast_assets.inventory.policy`). ``demand`` is the long table
    (item, period, quantity) of the whole history with every item in every period;
    ``lead_times`` whole periods by item.

    With ``recalibrate`` each origin asks for the nominal targets that reviews already over
    by then (lead time plus review period past) would have needed to achieve the targets
    (:class:`sparecast_assets.inventory.calibrate.TargetMap`): what the policy would have
    known. ``warmup`` periods before the held-out ones are reviewed the same way (forecast
    every ``reforecast_every``, not measured) so that the map has reviews from the start;
    reviews with fewer than MIN_WARMUP_HISTORY periods before them are left out.

    With ``unit_costs`` (by item) the targets are fill rates over all items' units, reached at
    the least stock value (:func:`sparecast_assets.inventory.policy.system_order_up_to`) at
    every review; each item's reorder point is then the one for the fill rate its S gives it.
    Without, every item gets each target as its own."""
    if holdout < 1 or reforecast_every < 1 or review < 1 or warmup < 0:
        raise ValueError("holdout, reforecast_every and review must be >= 1, warmup >= 0")
    if unit_costs is not None and (recalibrate or measure != FILL_RATE):
        raise ValueError("the system allocation (unit_costs) sets fill-rate targets over all "
                         "items and is not recalibrated")
    periods = np.sort(demand["period"].unique())
    if holdout >= periods.size:
        raise ValueError(f"holdout {holdout} leaves no history in {periods.size} periods")
    quantity = pd.to_numeric(demand["quantity"], errors="coerce")
    if not np.all(np.isfinite(quantity)) or (quantity < 0).any():
        raise ValueError("demand quantities must be finite numbers >= 0 (no NaN)")
    if demand.duplicated(["item", "period"]).any():
        raise ValueError("demand has more than one row per item and period")
    lead = pd.to_numeric(lead_times, errors="coerce")
    if not np.all(np.isfinite(lead)) or (lead < 0).any() or (lead != np.floor(lead)).any():
        raise ValueError("lead times must be whole numbers of periods >= 0")
    lead_times = lead.astype(int)
    items = list(lead_times.index)
    missing = sorted(set(items) - set(demand["item"]))
    if missing:
        raise ValueError(f"{len(missing)} item(s) with a lead time have no demand rows: "
                         f"{missing[:5]}")
    wide = (demand.pivot(index="item", columns="period", values="quantity")
            .reindex(index=items, columns=periods).fillna(0.0).to_numpy(float))
    paths = {item: np.zeros((holdout, len(targets), 2)) for item in items}
    longest = int(lead_times.max())
    first = periods.size - holdout
    # Warm-up reviews only feed the target map: without recalibration there is nothing to warm.
    warmup_origins = [origin for origin in range(first - warmup, first, reforecast_every)
                      if origin >= MIN_WARMUP_HISTORY] if recalibrate else []
    # Reviews whose interval has not ended yet: (end period, levels at the nominal targets,
    # demand row, review period, lead time).
    pending: list[tuple] = []
    target_map = TargetMap(measure)
    asked = np.asarray(targets, dtype=float)

    for origin in warmup_origins + list(range(first, periods.size, reforecast_every)):
        started = time.monotonic()
        span = min(reforecast_every, (first if origin < first else periods.size) - origin)
        if recalibrate:
            still = []
            for entry in pending:
                end, nominal, row, at, lead_time = entry
                if end <= origin:
                    target_map.add(nominal, float(wide[row, at:at + lead_time].sum()),
                                   float(wide[row, at + lead_time:end].sum()))
                else:
                    still.append(entry)
            pending = still
            asked = target_map.nominal(targets)
        history = demand[demand["period"] < periods[origin]]
        forecast = forecaster(history, span - 1 + longest + review)
        # A cache per origin: a lumpy part's distributions run to millions of units, and
        # keeping every origin's would take gigabytes; within an origin, items share.
        levels = _Levels(targets, measure)
        kind, per_item = _period_frames(forecast)
        forecast_items = per_item["items"] if kind == "quantiles" else per_item
        left_out = [item for item in items if item not in forecast_items]
        if left_out:
            raise ValueError(f"the forecaster left out {len(left_out)} item(s): {left_out[:5]}")
        for offset in range(span):
            at = origin + offset
            reviewed = []
            for row_index, item in enumerate(items):
                lead_time = int(lead_times[item])
                if kind == "quantiles":
                    key, lead, protection = levels.from_quantiles(
                        per_item["levels"], per_item["items"][item][offset:], lead_time, review)
                else:
                    mean, alpha = per_item[item]
                    key, lead, protection = levels.from_negative_binomial(
                        mean[offset:], alpha, lead_time, review)
                if recalibrate:
                    pending.append((at + lead_time + review,
                                    levels.nominal(key, lead, protection), row_index, at,
                                    lead_time))
                if at >= first and unit_costs is None:
                    paths[item][at - first] = levels.levels(key, lead, protection, asked)
                reviewed.append((lead, protection))
            if at >= first and unit_costs is not None:
                system = _system_levels(
                    reviewed, unit_costs.reindex(items).to_numpy(float), asked,
                    None if smallest_orders is None
                    else smallest_orders.reindex(items).to_numpy(float))
                for item, item_levels in zip(items, system):
                    paths[item][at - first] = item_levels
        if log:
            calibration = ""
            if recalibrate:
                calibration = (f", {target_map.reviews} past reviews: targets asked "
                               + " ".join(f"{a:.4g}" for a in asked)
                               + ("" if target_map.calibrated else " (too few to calibrate)"))
            log(f"origin {pd.Timestamp(periods[origin]).date()}"
                f"{' (warm-up)' if origin < first else ''}: {len(items)} items"
                f"{calibration}, {time.monotonic() - started:.1f}s")
    return paths


def _system_levels(reviewed: list[tuple[DemandDistribution, DemandDistribution]],
                   unit_costs: np.ndarray, targets: np.ndarray,
                   smallest_orders: np.ndarray | None) -> np.ndarray:
    """(items x targets x 2): S of the system allocation and s for the fill rate S gives."""
    leads, protections = zip(*reviewed)
    order_up_to = system_order_up_to(leads, protections, unit_costs, targets, smallest_orders)
    out = np.zeros((len(reviewed), len(targets), 2))
    out[:, :, 0] = order_up_to
    for i, (lead, protection) in enumerate(reviewed):
        rates = expected_fill_rate(lead, protection, order_up_to[i])
        out[i, :, 1] = [reorder_point_for_fill_rate(lead, int(level), rate)
                        for level, rate in zip(order_up_to[i], rates)]
    return out


def summarise(replays: dict[str, Replay]) -> dict[str, float]:
    """Totals over items: fill rate (units), cycle service level (item-periods), average stock
    value per period, orders, backordered units, and the mean of the items' own fill rates."""
    if not replays:
        raise ValueError("no replays to summarise")
    rows = pd.DataFrame([replay.totals() for replay in replays.values()])
    periods = int(rows["periods"].sum())
    measured_periods = rows["periods"].max() if len(rows) else 0
    with_demand = rows[rows["demand"] > 0]
    return {
        "items": int((rows["periods"] > 0).sum()),
        "fill_rate": float(rows["filled"].sum() / rows["demand"].sum()),
        "item_fill_rate_mean": float((with_demand["filled"] / with_demand["demand"]).mean()),
        "cycle_service_level": float(rows["served_cycles"].sum() / periods),
        # Stock value summed over items per period, averaged over the periods each item is
        # measured: items measured from different periods (by lead time) each count their own.
        "average_stock_value": float((rows["stock_value_periods"] / rows["periods"]
                                      .where(rows["periods"] > 0)).sum()),
        "orders": int(rows["orders"].sum()),
        "backordered_units": float(rows["backordered_units"].sum()),
        "measured_periods": int(measured_periods),
    }


def negative_binomial_forecaster(model: str) -> Forecaster:
    """statsforecast's CrostonSBA or TSB (alpha_d = alpha_p = 0.1) as a forecaster: per item a
    flat mean over the horizon, and the NB2 dispersion alpha fitted by the method of moments on
    the in-sample one-step residuals (0, Poisson, when they are not over-dispersed)."""
    from statsforecast import StatsForecast
    from statsforecast.models import TSB, CrostonSBA

    from sparecast_assets.forecasting.baselines import negative_binomial_dispersion

    factories = {"crostonsba": CrostonSBA, "tsb": lambda: TSB(alpha_d=0.1, alpha_p=0.1)}
    if model not in factories:
        raise ValueError(f"model must be one of {sorted(factories)}, got {model!r}")

    def forecast(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        wide = history.pivot(index="item", columns="period", values="quantity").fillna(0.0)
        values = wide.to_numpy(float)
        n_items, n_periods = values.shape
        frame = pd.DataFrame({"unique_id": np.repeat(np.arange(n_items), n_periods),
                              "ds": np.tile(np.arange(n_periods), n_items),
                              "y": values.ravel()})
        engine = StatsForecast(models=[factories[model]()], freq=1, n_jobs=1)
        predicted = engine.forecast(h=horizon, df=frame, fitted=True)
        fitted = engine.forecast_fitted_values().sort_values(["unique_id", "ds"])
        alias = predicted.columns[-1]
        predicted = predicted.sort_values(["unique_id", "ds"])
        mean = np.maximum(predicted[alias].to_numpy(float), 0.0)
        alpha = negative_binomial_dispersion(
            values, fitted[alias].to_numpy(float).reshape(n_items, n_periods))
        return pd.DataFrame({"item": np.repeat(wide.index.to_numpy(), horizon),
                             "step": np.tile(np.arange(1, horizon + 1), n_items),
                             "mean": mean, "alpha": np.repeat(alpha, horizon)})

    return forecast


class CoreForecaster:
    """sparecast's forecasting core as a forecaster, run the way a deployment runs it: the
    model is retrained once ``retrain_every`` periods of new history have come in (or when a
    longer horizon is asked), and every call in between forecasts from the newest history
    with the model it has: features are recomputed, trees are not. ``trainings`` counts the
    retrainings."""

    def __init__(self, freq: str, retrain_every: int = 1, **core_options):
        if retrain_every < 1:
            raise ValueError(f"retrain_every must be >= 1, got {retrain_every}")
        self.freq, self.retrain_every, self.options = freq, retrain_every, core_options
        self.model = None
        self.trained_through: pd.Timestamp | None = None
        self.trained_horizon = 0
        self.trainings = 0

    def __call__(self, history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        from sparecast_assets.forecasting import core

        last = pd.Timestamp(pd.to_datetime(history["period"]).max())
        due = (self.trained_through is None or self.model is None
               or self.trained_horizon < horizon
               or last >= self.trained_through + core.FREQ_STEP[self.freq] * self.retrain_every)
        if due:
            self.model = core.fit(history, horizon, self.freq, **self.options)
            self.trained_through, self.trained_horizon = last, horizon
            self.trainings += 1
        return core.forecast_with_model(history, horizon, self.freq, model=self.model,
                                        **self.options).frame


def compare(demand: pd.DataFrame, attributes: pd.DataFrame, forecasters: dict[str, Forecaster],
            targets: Sequence[float], holdout: int, *,
            reforecast_every: dict[str, int] | None = None,
            fixed_levels: dict[str, pd.DataFrame] | None = None, measure: str = FILL_RATE,
            recalibrate: bool = False, warmup: int = 0,
            policy: str = ORDER_UP_TO, allocation: str = ITEM,
            log: Callable[[str], None] | None = None) -> pd.DataFrame:
    """One row per forecaster and target (and per fixed policy) with :func:`summarise`'s
    figures. ``attributes``: item, lead_time_periods (whole), unit_cost, min_order_qty,
    pack_size. ``fixed_levels``: name -> frame item, reorder_point, order_up_to (a policy that
    does not forecast, such as the refinery's own Min / Max). ``policy``: ORDER_UP_TO orders
    at every review that finds the position below S; REORDER_POINT only when it is at or
    below the reorder point s, as the recommendations table tells a planner. ``allocation``:
    ITEM gives every item the target; SYSTEM reaches the target over all items' units at the
    least stock value (see :func:`order_up_to_paths`)."""
    if policy not in (ORDER_UP_TO, REORDER_POINT):
        raise ValueError(f"policy must be {ORDER_UP_TO!r} or {REORDER_POINT!r}, got {policy!r}")
    if allocation not in (ITEM, SYSTEM):
        raise ValueError(f"allocation must be {ITEM!r} or {SYSTEM!r}, got {allocation!r}")
    attributes = attributes.set_index("item")
    wide = demand.pivot(index="item", columns="period", values="quantity").fillna(0.0)
    held_out = wide.reindex(attributes.index).to_numpy(float)[:, -holdout:]
    lead_times = attributes["lead_time_periods"].astype(int)
    packs = attributes["pack_size"].astype(float)
    smallest = np.maximum(np.ceil(attributes["min_order_qty"].astype(float) / packs - 1e-9), 1.0) * packs
    rows = []

    def replays_of(order_up_to, reorder_points=None) -> dict[str, Replay]:
        return {item: replay(held_out[i], order_up_to[i], int(lead_times.iloc[i]),
                             reorder_points=None if reorder_points is None else reorder_points[i],
                             min_order_qty=float(attributes["min_order_qty"].iloc[i]),
                             pack_size=float(attributes["pack_size"].iloc[i]),
                             unit_cost=float(attributes["unit_cost"].iloc[i]))
                for i, item in enumerate(attributes.index)}

    for name, forecaster in forecasters.items():
        started = time.monotonic()
        every = (reforecast_every or {}).get(name, 1)
        paths = order_up_to_paths(demand, lead_times, forecaster, holdout, targets,
                                  reforecast_every=every, measure=measure,
                                  recalibrate=recalibrate, warmup=warmup,
                                  unit_costs=(attributes["unit_cost"] if allocation == SYSTEM
                                              else None),
                                  smallest_orders=smallest, log=log)
        for j, target in enumerate(targets):
            levels = [paths[item][:, j, 0] for item in attributes.index]
            reorder = ([paths[item][:, j, 1] for item in attributes.index]
                       if policy == REORDER_POINT else None)
            rows.append({"forecaster": name, "target": target,
                         **summarise(replays_of(levels, reorder))})
        if log:
            log(f"{name}: {time.monotonic() - started:.0f}s")
    for name, levels in (fixed_levels or {}).items():
        levels = levels.set_index("item").reindex(attributes.index)
        summary = summarise(replays_of(levels["order_up_to"].to_numpy(float),
                                       levels["reorder_point"].to_numpy(float)))
        rows.append({"forecaster": name, "target": np.nan, **summary})
    return pd.DataFrame(rows)
