"""Service-target calibration: the target to ask of the policy so that past reviews would have
achieved the service really wanted.

A policy sets stock from the upper tail of the demand over a lead time plus a review period,
and that tail is where forecasts are least reliable: per-period forecasts are convolved as if
periods were independent, while real spare-part demand comes in runs and lumps (a fleet wearing
out together, a shutdown, one order of 50 gaskets), so the spread over 6 or 17 periods is
wider than the convolution says. Measured on OIL before this: every forecaster's policy fell
short of its fill-rate target at 0.90 and above (sparecast's 0.952 at 0.99, Croston-SBA's 0.879).

The remedy is to backtest the policy's own decision on reviews whose protection interval is
over, and to pick the nominal target that would have delivered the real one:

- For each past review of a part with lead time L and review period R, the order-up-to level
  S(g) the policy would have set at each nominal target g of a fixed grid, from the
  distributions the forecast gave then, and the demand that came: y_L over the lead time and
  y_R over the review period after it.
- Fill rate (the units of the review period filled from stock, the (R, S) cycle of
  :mod:`sparecast_assets.inventory.policy`): the net stock when the period's demand starts is
  S - y_L, so min(y_R, max(S(g) - y_L, 0)) of its y_R units are filled. Achieved at g =
  those summed over reviews / y_R summed: units count, as in the fill rate the planner reads.
  Cycle service level: the share of reviews with y_L + y_R <= S(g).
- A target t is served by the smallest nominal g whose achieved service is >= t; the largest g
  of the grid when none reaches it (the forecasts cannot say where such lumps fall); t itself
  when too few past reviews had demand to tell.

One map for all parts: it corrects how the forecaster's tails are read, not a part's stock.
This is the backtest a planner does by hand when raising "safety factors" until the service
report looks right, made explicit and repeatable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sparecast_assets.inventory.demand import DemandDistribution
from sparecast_assets.inventory.policy import CYCLE_SERVICE, FILL_RATE, order_up_to_levels

# The nominal targets searched, finer towards 1 where high service levels are set.
NOMINAL_TARGETS = np.unique(np.round(np.concatenate([
    np.arange(0.50, 0.99, 0.01), 1.0 - np.logspace(-2, -5, 16)]), 8))
# Fewer past reviews with demand than this and targets are used as they are.
MIN_REVIEWS_WITH_DEMAND = 1000


class TargetMap:
    """Accumulates past reviews and maps service targets to the nominal targets that would
    have achieved them."""

    def __init__(self, measure: str = FILL_RATE):
        if measure not in (FILL_RATE, CYCLE_SERVICE):
            raise ValueError(f"measure must be {FILL_RATE!r} or {CYCLE_SERVICE!r}, got {measure!r}")
        self.measure = measure
        self.reviews = 0
        self.reviews_with_demand = 0
        self._served = np.zeros(NOMINAL_TARGETS.size)  # filled units, or served cycles
        self._demanded = 0.0  # review-period units, or reviews

    def add(self, levels: np.ndarray, lead_units: float, review_units: float) -> None:
        """One past review: its order-up-to level at each of NOMINAL_TARGETS (from
        :func:`nominal_levels`), the units demanded over its lead time and over the review
        period after it."""
        levels = np.asarray(levels, dtype=float)
        if levels.shape != NOMINAL_TARGETS.shape:
            raise ValueError(f"need one level per nominal target ({NOMINAL_TARGETS.size}), got "
                             f"{levels.shape}")
        if not np.all(np.isfinite(levels)) or np.any(np.diff(levels) < 0):
            raise ValueError("levels must be finite and must not fall as the target rises")
        if min(lead_units, review_units) < 0 or not np.isfinite(lead_units + review_units):
            raise ValueError(f"demanded units must be finite and >= 0, got {lead_units}, "
                             f"{review_units}")
        self.reviews += 1
        if self.measure == FILL_RATE:
            self._served += np.minimum(review_units, np.maximum(levels - lead_units, 0.0))
            self._demanded += review_units
        else:
            self._served += (lead_units + review_units <= levels + 1e-9)
            self._demanded += 1.0
        self.reviews_with_demand += int(lead_units + review_units > 0)

    @property
    def calibrated(self) -> bool:
        return self.reviews_with_demand >= MIN_REVIEWS_WITH_DEMAND and self._demanded > 0

    def achieved(self) -> np.ndarray:
        """The service the past reviews achieved at each nominal target."""
        if self._demanded <= 0:
            return np.ones(NOMINAL_TARGETS.size)
        return np.maximum.accumulate(self._served / self._demanded)

    def nominal(self, targets) -> np.ndarray:
        """The nominal target to ask for each target (module docstring)."""
        targets = np.asarray(targets, dtype=float)
        if not np.all((targets > 0) & (targets < 1)):
            raise ValueError(f"targets must be within (0, 1), got {targets.tolist()}")
        if not self.calibrated:
            return targets
        found = np.searchsorted(self.achieved(), targets - 1e-12, side="left")
        return NOMINAL_TARGETS[np.minimum(found, NOMINAL_TARGETS.size - 1)]


def nominal_levels(lead_time: DemandDistribution, protection: DemandDistribution,
                   measure: str = FILL_RATE) -> np.ndarray:
    """The order-up-to level at each of NOMINAL_TARGETS."""
    return np.asarray(order_up_to_levels(lead_time, protection, NOMINAL_TARGETS, measure),
                      dtype=float)
