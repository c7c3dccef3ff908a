"""The distribution of demand over a lead time (plus a review period), in whole units.

Grain: one probability mass function (pmf) per part and protection interval: ``pmf[k]`` is the
probability that exactly k units are demanded. Two sources give the same shape, so every policy
and the simulator share one code path whichever forecaster drove them:

- **Per-period forecast quantiles** (sparecast's forecast: columns ``q10`` ... ``q99`` of
  ``core.forecast``, or ``demand_p10`` ... ``demand_p99`` of ``analytics.part_demand_forecast``).
  Each period's quantiles become a pmf over whole units by the rule of
  :func:`pmf_from_quantiles`, and the periods are convolved. No normal approximation: a part
  used twice a year keeps its mass at zero and its lumps.
- **A negative binomial** with a per-period mean and the NB2 dispersion alpha
  (Var = mean + alpha * mean^2), for the Croston-SBA and TSB baselines, which forecast a mean
  only (:func:`negative_binomial_pmf`).

Assumptions, stated once:

- Periods are independent: the demand over several periods is the convolution of the periods'
  pmfs. Forecast quantiles carry no correlation between steps, so nothing better is available;
  positively correlated demand (a fleet wearing out together) makes the true spread wider.
- A fractional period (a 10-day lead time against weekly periods covers 1 3/7 weeks) counts
  each unit of the partly covered period with probability equal to the covered fraction
  (binomial thinning, :func:`thin`): units arrive independently and uniformly within a period.
- Beyond the forecast horizon, steps repeat the last ``season`` steps of the forecast in order
  (see :func:`period_pmfs_for`), so a 45-day lead time can be protected with a 28-day forecast.
- Parts used by the thousand are counted in **buckets** of ``unit`` units (:func:`bucket_size`):
  a pmf then holds P(D = k x unit), the distribution on a lattice of whole buckets, so one
  period needs at most about PERIOD_BUCKETS entries whatever the volume. Demand of 40,000
  bolts a week in buckets of 20 moves a level by at most 20 units (0.05 %), and a lead time of
  17 such weeks convolves in milliseconds instead of minutes. Parts whose top quantile is at
  most PERIOD_BUCKETS units keep buckets of one unit: their figures are exact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, signal, stats

# Mass left beyond the last unit of a pmf's support; it is added to the last unit.
TAIL_TOLERANCE = 1e-9
# More entries than this in one period's pmf is refused: a pmf holds one probability per unit
# or bucket (8 MB at this size); bucket_size keeps real forecasts far below it.
MAX_PERIOD_UNITS = 1_000_000
# Binomial thinning (a location's share, a partly covered period) costs the square of the
# support: above this many buckets it would take minutes, and is refused.
MAX_THINNED_UNITS = 20_000
# One period's top quantile spans at most about this many buckets (see bucket_size).
PERIOD_BUCKETS = 1_000
# More than this in one period is a unit or data error, not a part's demand (the forecasting
# core refuses such history too).
MAX_PERIOD_DEMAND = 1e9
_QUANTILE_COLUMN = re.compile(r"^(?:q|demand_p)(\d{2})$")


def quantile_columns(frame: pd.DataFrame) -> dict[float, str]:
    """The quantile columns of a forecast frame by level: ``q10`` or ``demand_p10`` -> 0.10.

    Raises ValueError when the frame has fewer than two quantile columns (the tail rule needs
    the two highest levels)."""
    found = {}
    for column in frame.columns:
        match = _QUANTILE_COLUMN.match(str(column))
        if match:
            found[int(match.group(1)) / 100] = column
    if len(found) < 2:
        raise ValueError(f"forecast has {len(found)} quantile column(s) ({sorted(found.values())})"
                         "; expected q10 ... q99 or demand_p10 ... demand_p99")
    return dict(sorted(found.items()))


def bucket_size(largest_units: float) -> int:
    """Units per bucket for a part whose largest demand worth resolving in one period (its top
    forecast quantile) is ``largest_units``: 1 up to PERIOD_BUCKETS units, then the smallest
    whole number that keeps the top quantile within PERIOD_BUCKETS buckets."""
    if not np.isfinite(largest_units) or largest_units < 0:
        raise ValueError(f"largest_units must be finite and >= 0, got {largest_units}")
    return max(1, int(np.ceil(largest_units / PERIOD_BUCKETS)))


def forecast_bucket_size(quantiles: np.ndarray, means: np.ndarray | None = None) -> int:
    """bucket_size for one part's forecast (steps x levels quantiles, highest level last, and
    the steps' means): the largest of its top quantiles and its means (a mean above the top
    quantile puts the demand in the tail)."""
    quantiles = np.asarray(quantiles, dtype=float)
    largest = float(np.max(quantiles[..., -1], initial=0.0))
    if means is not None and np.size(means):
        largest = max(largest, float(np.max(means)))
    return bucket_size(largest) if np.isfinite(largest) else 1


def pmf_from_quantiles(levels: Sequence[float], quantiles: Sequence[float],
                       mean: float | None = None, unit: int = 1) -> np.ndarray:
    """One period's pmf over whole units (buckets of ``unit`` units) from its forecast
    quantiles.

    The rule: the quantiles are points (Q_j, tau_j) of the CDF of a continuous demand whose
    rounding to the nearest unit is the demand in units, so P(D <= k) = F(k + 0.5), with F
    piecewise linear through the points and, below the lowest quantile, down to F = 0 with the
    density of the lowest interval between quantiles, but not below -0.5 (no negative demand;
    with a single distinct quantile, one unit below it). Where
    several levels share a quantile (zero-inflated demand: q10 ... q80 all 0) F jumps there:
    from the smallest of those levels (approaching from below) to the largest (at the
    quantile and just above, up to the next quantile). For integer quantiles the result lies
    between the bounds they imply: P(D <= k) is at least the largest level whose quantile is
    <= k and below the smallest level whose quantile exceeds k. Fractional quantiles (a
    model's 0.3 units) are read as rounding, not as a whole unit.

    Tail beyond the highest quantile Q_m (the 0.99 one): exponential,
    P(D > x) = (1 - tau_m) * exp(-(x - Q_m) / theta), with theta fitted through the two highest
    quantiles, theta = (Q_m - Q_{m-1}) / ln((1 - tau_{m-1}) / (1 - tau_m)); for q95 and q99
    theta = (q99 - q95) / ln 5. When those two quantiles are equal the forecast says nothing
    about the tail and theta is 0: the last 1 % falls on the first unit above Q_m.

    With the forecast's ``mean``, theta is at least the value that makes the pmf's mean equal
    to it (closed form in theta, solved with brentq). This matters for slow parts: a daily
    forecast of a part used three times a year has every quantile up to q99 at 0, and without
    the mean its demand would vanish; with it, the 1 % above q99 carries the part's demand. The
    support ends where the tail's mass is below TAIL_TOLERANCE, which goes to the last unit.

    With ``unit`` > 1 the same rule runs on quantiles and mean divided by ``unit``: pmf[k] is
    the probability that the demand rounds to k buckets.
    """
    _check_unit(unit)
    levels = np.asarray(levels, dtype=float)
    values = np.asarray(quantiles, dtype=float)
    if levels.shape != values.shape or levels.size < 2:
        raise ValueError("need the same number (>= 2) of levels and quantiles")
    if np.any(np.diff(levels) <= 0) or levels[0] <= 0 or levels[-1] >= 1:
        raise ValueError(f"levels must increase strictly inside (0, 1), got {levels.tolist()}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"quantiles must be finite, got {values.tolist()}")
    if values[0] < 0:
        raise ValueError(f"quantiles must be >= 0, got {values.tolist()}")
    if np.any(np.diff(values) < -1e-9):
        raise ValueError(f"quantiles must not decrease with the level, got {values.tolist()}")
    if values[-1] > MAX_PERIOD_DEMAND or (mean is not None and mean > MAX_PERIOD_DEMAND):
        raise ValueError(f"a quantile or mean above {MAX_PERIOD_DEMAND:,.0f} units in one "
                         f"period is not a part's demand (quantiles {values.tolist()}, mean "
                         f"{mean}): check the forecast's units")
    lattice = "units" if unit == 1 else f"buckets of {unit} units"
    if values[-1] / unit > MAX_PERIOD_UNITS:
        raise ValueError(f"a quantile of {values[-1]:g} units in one period is more than the "
                         f"{MAX_PERIOD_UNITS:,} {lattice} a pmf holds: use larger buckets "
                         "(bucket_size)")
    if mean is not None and (not np.isfinite(mean) or mean < 0):
        raise ValueError(f"the forecast mean must be finite and >= 0, got {mean}")
    values = np.maximum.accumulate(values) / unit
    mean = None if mean is None else mean / unit

    # Knots of F: each distinct quantile with the smallest level sharing it (F's left limit
    # there) and the largest (F's value there); the anchor where F starts from 0 first.
    knots, first = np.unique(values, return_index=True)
    _, last_reversed = np.unique(values[::-1], return_index=True)
    left = np.concatenate([[0.0], levels[first]])
    right = np.concatenate([[0.0], levels[values.size - 1 - last_reversed]])
    # Below the lowest quantile: a part used by the hundred (q10 = 280) has no mass near 0, so
    # the mass under q10 spreads at the density just above it, not down to -0.5; otherwise
    # the body's mean falls short and the tail matched to the mean swells to thousands.
    anchor = -0.5
    if knots[0] > 0:
        if knots.size > 1:
            density = (left[2] - right[1]) / (knots[1] - knots[0])
            anchor = max(-0.5, knots[0] - left[1] / density)
        else:
            anchor = max(-0.5, knots[0] - 1.0)
    knots = np.concatenate([[anchor], knots])

    top, top_level = values[-1], levels[-1]

    def body(x: np.ndarray) -> np.ndarray:
        below = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, knots.size - 1)
        above = np.minimum(below + 1, knots.size - 1)
        span = np.where(above > below, knots[above] - knots[below], 1.0)
        inside = right[below] + (left[above] - right[below]) * (x - knots[below]) / span
        return np.where(x < knots[0], 0.0, np.where(x == knots[below], right[below], inside))

    theta = (values[-1] - values[-2]) / np.log((1 - levels[-2]) / (1 - top_level))
    if mean is not None and mean > 0:
        theta = max(theta, _mean_matching_theta(body, top, top_level, float(mean)))
    tail_length = theta * np.log((1 - top_level) / TAIL_TOLERANCE)
    if top + tail_length > MAX_PERIOD_UNITS:
        raise ValueError(f"the tail beyond the highest quantile ({top * unit:g}) reaches past "
                         f"{MAX_PERIOD_UNITS:,} {lattice} in one period (forecast mean "
                         f"{None if mean is None else mean * unit}): check the forecast, or use "
                         "larger buckets (bucket_size)")
    last_unit = max(int(np.floor(top + tail_length + 0.5)), int(np.floor(top + 0.5)), 0)
    x = np.arange(last_unit + 1) + 0.5
    inside = body(x)
    with np.errstate(divide="ignore", over="ignore"):
        tail = 1.0 - (1 - top_level) * np.exp(-(x - top) / theta) if theta > 0 else np.ones_like(x)
    cdf = np.where(x <= top, inside, tail)
    cdf[-1] = 1.0
    return np.diff(cdf, prepend=0.0)


def _mean_matching_theta(body, top: float, top_level: float, mean: float) -> float:
    """The tail scale theta at which the pmf's mean is ``mean``: mean = sum over units k of
    P(D > k); the units up to the highest quantile Q_m give the body's part, those above it the
    geometric sum (1 - tau_m) e^(-d / theta) / (1 - e^(-1 / theta)), d = the first tail unit
    + 0.5 - Q_m. 0 when the body alone reaches the mean."""
    first_tail_unit = int(np.floor(top + 0.5))  # the first k with k + 0.5 > Q_m
    body_part = float((1.0 - body(np.arange(first_tail_unit) + 0.5)).sum())
    needed = (mean - body_part) / (1 - top_level)
    if needed <= 0:
        return 0.0
    d = first_tail_unit + 0.5 - top

    def gap(theta: float) -> float:
        return np.exp(-d / theta) / -np.expm1(-1.0 / theta) - needed

    upper = 1.0
    while gap(upper) < 0:
        upper *= 2.0
    return float(optimize.brentq(gap, 1e-6, upper, xtol=1e-10))


def negative_binomial_pmf(mean_per_period: float, alpha: float, periods: float,
                          unit: int = 1) -> np.ndarray:
    """Demand over ``periods`` periods (fractional allowed) of NB2(mean, alpha) per period, in
    buckets of ``unit`` units (pmf[k] = P(D rounds to k buckets)).

    The sum of independent NB2 demands with the same per-period mean and alpha is NB2 again,
    with size n = periods / alpha and success probability 1 / (1 + alpha * mean); alpha 0 is
    Poisson with mean periods * mean; mean 0 is no demand. Thinning a period by a fraction
    f gives NB(f n, p) too, so fractional periods follow the same formula."""
    _check_unit(unit)
    if not np.isfinite([mean_per_period, alpha, periods]).all():
        raise ValueError(f"mean {mean_per_period}, alpha {alpha} and periods {periods} "
                         "must be finite")
    if mean_per_period < 0 or alpha < 0 or periods < 0:
        raise ValueError(f"mean {mean_per_period}, alpha {alpha} and periods {periods} "
                         "must be >= 0")
    total_mean = mean_per_period * periods
    if total_mean <= 0:
        return np.array([1.0])
    # Not frozen distributions: freezing builds docstrings, which dominates the simulator.
    if alpha <= 0:
        distribution, shape = stats.poisson, (total_mean,)
    else:
        distribution = stats.nbinom
        shape = (periods / alpha, 1.0 / (1.0 + alpha * mean_per_period))
    last_unit = int(distribution.ppf(1 - TAIL_TOLERANCE, *shape))
    if unit == 1:
        pmf = distribution.pmf(np.arange(last_unit + 1), *shape)
    else:
        # Bucket k holds the units that round to it: up to (k + 1/2) x unit.
        buckets = int(np.floor(last_unit / unit + 0.5))
        edges = np.floor((np.arange(buckets + 1) + 0.5) * unit - 1e-9)
        pmf = np.diff(distribution.cdf(edges, *shape), prepend=0.0)
    pmf[-1] += max(1.0 - pmf.sum(), 0.0)
    return pmf


def _check_unit(unit) -> None:
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or unit < 1:
        raise ValueError(f"unit (units per bucket) must be a whole number >= 1, got {unit!r}")


def convolve(pmfs: Sequence[np.ndarray]) -> np.ndarray:
    """The pmf of the sum of independent demands. FFT for long supports (scipy chooses), which
    leaves round-off around 1e-16: clipped at zero and renormalised."""
    total = np.array([1.0])
    for pmf in pmfs:
        total = signal.convolve(total, pmf, method="auto") if pmf.size > 1 else total
        total = np.clip(total, 0.0, None)
        total /= total.sum()
        total = _trim(total)
    return total


def _trim(pmf: np.ndarray) -> np.ndarray:
    """Drop the far tail below TAIL_TOLERANCE (its mass moves to the last kept unit), so
    repeated convolution does not carry thousands of empty units."""
    survival = 1.0 - np.cumsum(pmf)
    beyond = np.flatnonzero(survival < TAIL_TOLERANCE)
    if beyond.size == 0 or beyond[0] == pmf.size - 1:
        return pmf
    kept = pmf[: beyond[0] + 1].copy()
    kept[-1] += pmf[beyond[0] + 1:].sum()
    return kept


def thin(pmf: np.ndarray, fraction: float) -> np.ndarray:
    """The pmf of the units of a period that fall in its first ``fraction`` (0..1): each unit
    is kept with probability ``fraction`` (binomial thinning). On a lattice of buckets each
    bucket is kept whole or not: the mean is exact, the spread a little wider (by
    fraction x (1 - fraction) x (unit - 1) x mean), which only parts used by the thousand see."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction}")
    if fraction == 1.0:
        return pmf
    if fraction == 0.0:
        return np.array([1.0])
    if pmf.size > MAX_THINNED_UNITS + 1:
        raise ValueError(f"thinning a distribution over {pmf.size - 1:,} units (a location's "
                         f"share, or a partly covered period) is limited to "
                         f"{MAX_THINNED_UNITS:,}: count this part in larger units")
    units = np.arange(pmf.size)
    out = np.zeros(pmf.size)
    # In blocks of demand sizes: the (kept, demanded) matrix of a long support is large.
    for start in range(0, pmf.size, 512):
        demanded = units[start:start + 512]
        out += stats.binom.pmf(units[:, None], demanded[None, :], fraction) @ pmf[demanded]
    return _trim(out / out.sum())


def demand_over(period_pmfs: Sequence[np.ndarray], periods: float) -> np.ndarray:
    """Demand over the first ``periods`` periods (fractional allowed) of ``period_pmfs``."""
    if periods < 0:
        raise ValueError(f"periods must be >= 0, got {periods}")
    whole = int(np.floor(periods + 1e-9))
    fraction = periods - whole if periods - whole > 1e-9 else 0.0
    needed = whole + (1 if fraction else 0)
    if needed > len(period_pmfs):
        raise ValueError(f"{periods} periods need {needed} period pmfs, got {len(period_pmfs)}")
    parts = list(period_pmfs[:whole])
    if fraction:
        parts.append(thin(period_pmfs[whole], fraction))
    return convolve(parts)


def period_pmfs_for(period_pmfs: Sequence[np.ndarray], periods: float,
                    season: int = 1) -> tuple[list[np.ndarray], bool]:
    """The period pmfs covering ``periods``, repeating the last ``season`` forecast steps in
    order beyond the horizon (season 7 keeps the weekday pattern of a daily forecast). Returns
    (pmfs, whether the horizon was extended)."""
    needed = int(np.ceil(periods - 1e-9))
    pmfs = list(period_pmfs)
    if needed <= len(pmfs):
        return pmfs[:max(needed, 0)], False
    if not pmfs:
        raise ValueError("no forecast periods to extend")
    cycle = pmfs[-min(season, len(pmfs)):]
    extra = [cycle[i % len(cycle)] for i in range(needed - len(pmfs))]
    return pmfs + extra, True


class DemandDistribution:
    """A pmf over whole buckets of ``unit`` units (1: whole units) with the figures policies
    need, all in units. Grain: one protection interval."""

    def __init__(self, pmf: np.ndarray, unit: int = 1):
        _check_unit(unit)
        pmf = np.asarray(pmf, dtype=float)
        if (pmf.ndim != 1 or pmf.size == 0 or not np.all(np.isfinite(pmf))
                or np.any(pmf < -1e-12) or abs(pmf.sum() - 1) > 1e-6):
            raise ValueError("a pmf is a non-empty vector of probabilities summing to 1")
        self.unit = int(unit)
        self.pmf = np.clip(pmf, 0.0, None) / pmf.sum()
        self.cdf = np.minimum(np.cumsum(self.pmf), 1.0)
        self.cdf[-1] = 1.0
        self.mean = float(np.dot(np.arange(self.pmf.size), self.pmf)) * self.unit
        # loss[s] = E[(D - s)^+] in buckets for s = 0 .. size: the sum over j >= s of P(D > j).
        survival = 1.0 - self.cdf
        self._loss = np.concatenate([np.cumsum(survival[::-1])[::-1], [0.0]])

    @property
    def max_units(self) -> int:
        return (self.pmf.size - 1) * self.unit

    @property
    def stock_levels(self) -> np.ndarray:
        """The levels worth considering: every point of the lattice, 0 .. max_units."""
        return np.arange(self.pmf.size) * self.unit

    def quantile(self, level: float) -> int:
        """The smallest level k of the lattice with P(D <= k) >= level."""
        if not 0.0 <= level <= 1.0:
            raise ValueError(f"level must be within [0, 1], got {level}")
        return int(np.searchsorted(self.cdf, level - 1e-12, side="left")) * self.unit

    def probability_at_most(self, units: float) -> float:
        """P(D <= units); units below 0 give 0."""
        if units < 0:
            return 0.0
        bucket = int(np.floor(units / self.unit + 1e-9))
        return float(self.cdf[min(bucket, self.pmf.size - 1)])

    def expected_shortage(self, levels) -> np.ndarray:
        """E[(D - s)^+] for each stock level s (any real; s is floored to the lattice, whole
        units or buckets, which never understates a shortage; below zero the shortage is
        mean - s)."""
        s = np.asarray(levels, dtype=float)
        bucket = np.floor(s / self.unit + 1e-9)
        inside = self._loss[np.clip(bucket, 0, self._loss.size - 1).astype(int)] * self.unit
        return np.where(s < 0, self.mean - s, inside)
