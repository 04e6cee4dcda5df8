"""Statistics over seeds: a mean with its Student-t interval, the paired test of two methods, the
gap to a reference.

Seeds are the replicates: one value per seed is one observation. Two methods run on the same
seeds see the same traffic noise and scenario, so they are compared on their per-seed differences
(a paired test), never on two unpaired means.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

#: Confidence level of every interval in the report.
CONFIDENCE = 0.95


class Summary(NamedTuple):
    """A sample's mean and the half-width of its confidence interval (NaN with fewer than 2 values)."""

    mean: float
    half_width: float
    n: int


def summarise(values, confidence: float = CONFIDENCE) -> Summary:
    """Mean and Student-t confidence half-width over seeds: ``t_{(1+c)/2, n-1} * s / sqrt(n)``,
    with ``s`` the sample standard deviation (n - 1 in the denominator). Non-finite values are
    dropped.

    Args:
        values: one value per seed.
        confidence: the interval's confidence level.

    Returns:
        The summary; ``half_width`` is NaN when fewer than two values remain, ``mean`` when none.
    """
    from scipy import stats

    sample = np.asarray(values, dtype=np.float64)
    sample = sample[np.isfinite(sample)]
    n = int(sample.size)
    if n == 0:
        return Summary(math.nan, math.nan, 0)
    mean = float(sample.mean())
    if n == 1:
        return Summary(mean, math.nan, 1)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1) * sample.std(ddof=1) / math.sqrt(n))
    return Summary(mean, half, n)


def _by_seed(values: Mapping) -> dict[int, float]:
    """``{seed: value}`` from a mapping or a `pandas.Series` indexed by seed."""
    return {int(seed): float(value) for seed, value in values.items()}


def paired_difference(values: Mapping, others: Mapping, confidence: float = CONFIDENCE) -> Summary:
    """The paired t interval of ``values - others`` over the seeds both have: `summarise` of the
    per-seed differences ``d_s = values[s] - others[s]``, i.e. ``mean(d) ± t_{(1+c)/2, n-1} *
    sd(d) / sqrt(n)``. Against a method that gives the same value on every seed (a deterministic
    baseline on unchanged traffic) this is the one-sample t interval of ``values`` minus that value.

    Args:
        values: seed -> value of one method (a mapping or a `pandas.Series` indexed by seed).
        others: seed -> value of the method it is compared with.
        confidence: the interval's confidence level.

    Returns:
        The summary of the differences; ``n`` counts the seeds both have with finite values.
    """
    own, other = _by_seed(values), _by_seed(others)
    seeds = sorted(set(own) & set(other))
    return summarise([own[seed] - other[seed] for seed in seeds], confidence)


def relative_gaps(values: Mapping, reference: Mapping) -> np.ndarray:
    """Per seed both have: ``values[s] / reference[s] - 1`` (seeds where it is not finite are left out).

    Shapes:
        Returns [S], S the seeds both have, ascending.
    """
    own, ref = _by_seed(values), _by_seed(reference)
    seeds = sorted(set(own) & set(ref))
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = np.array([own[s] for s in seeds], dtype=np.float64) / np.array([ref[s] for s in seeds]) - 1.0
    return gaps[np.isfinite(gaps)]


class Verdict(enum.Enum):
    """What a paired interval of ``method - other`` says about the method."""

    BETTER = "better"
    """The interval excludes 0 on the method's side (below 0 for a lower-is-better metric)."""
    WORSE = "worse"
    """The interval excludes 0 on the other side."""
    WITHIN = "within"
    """The interval contains 0: the seeds do not tell the two apart."""
    UNTESTED = "untested"
    """Fewer than two seeds in common: no interval."""


def verdict(difference: Summary, *, lower_is_better: bool) -> Verdict:
    """Read a paired interval of ``method - other`` (`paired_difference`) in the metric's direction.

    Args:
        difference: the paired difference, the method's values minus the other's.
        lower_is_better: the metric's direction.

    Returns:
        `Verdict.BETTER` only when the whole interval lies on the method's side of 0, `Verdict.WORSE`
        when it lies on the other, `Verdict.WITHIN` when it contains 0, `Verdict.UNTESTED` with
        fewer than two seeds.
    """
    if difference.n < 2 or not math.isfinite(difference.half_width):
        return Verdict.UNTESTED
    low, high = difference.mean - difference.half_width, difference.mean + difference.half_width
    if high < 0:
        return Verdict.BETTER if lower_is_better else Verdict.WORSE
    if low > 0:
        return Verdict.WORSE if lower_is_better else Verdict.BETTER
    return Verdict.WITHIN
