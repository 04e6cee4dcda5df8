"""Statistics over seeds: the paired interval against a hand computation and against scipy's t-tests,
the verdict in both directions of a metric, the gap to a reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rlte.experiments.statistics import Summary, Verdict, paired_difference, relative_gaps, summarise, verdict


def test_summarise_drops_non_finite_values():
    summary = summarise([0.5, math.nan, 0.7, math.inf])
    assert summary.n == 2 and summary.mean == pytest.approx(0.6)
    assert summary.half_width == pytest.approx(
        stats.t.ppf(0.975, 1) * np.std([0.5, 0.7], ddof=1) / math.sqrt(2)
    )


def test_paired_difference_by_hand_over_the_seeds_both_have():
    """Seed 3 has no partner and seed 4 no own value: the differences are those of seeds 0, 1, 2."""
    own = {0: 0.50, 1: 0.60, 2: 0.70, 3: 0.65}
    other = {0: 0.55, 1: 0.58, 2: 0.80, 4: 9.9}
    differences = np.array([0.50 - 0.55, 0.60 - 0.58, 0.70 - 0.80])
    mean = differences.sum() / 3
    sd = math.sqrt(((differences - mean) ** 2).sum() / 2)
    summary = paired_difference(own, other)
    assert summary.n == 3
    assert summary.mean == pytest.approx(mean)
    assert summary.half_width == pytest.approx(stats.t.ppf(0.975, 2) * sd / math.sqrt(3))
    assert paired_difference(pd.Series(own), pd.Series(other)) == summary  # a Series indexed by seed


def test_paired_difference_agrees_with_scipy():
    """The interval is scipy's paired t-test interval; against a method constant over seeds it is the
    one-sample interval of the other's values, shifted."""
    rng = np.random.default_rng(0)
    own, other = rng.normal(1.0, 0.1, 5), rng.normal(1.05, 0.1, 5)
    summary = paired_difference(dict(enumerate(own)), dict(enumerate(other)))
    low, high = stats.ttest_rel(own, other).confidence_interval(0.95)
    assert (summary.mean - summary.half_width, summary.mean + summary.half_width) == pytest.approx(
        (low, high)
    )
    constant = paired_difference(dict(enumerate(own)), dict.fromkeys(range(5), 1.057))
    low, high = stats.ttest_1samp(own, 1.057).confidence_interval(0.95)
    assert (constant.mean - constant.half_width, constant.mean + constant.half_width) == pytest.approx(
        (low - 1.057, high - 1.057)
    )


def test_the_verdict_is_the_two_sided_t_test_at_five_percent():
    """Outside WITHIN exactly when scipy's paired t-test rejects equal means at 5 %."""
    rng = np.random.default_rng(1)
    kinds = set()
    for _ in range(60):
        n = int(rng.integers(2, 7))
        own, other = rng.normal(0, 1, n), rng.normal(rng.normal(0, 1), 1, n)
        found = verdict(paired_difference(dict(enumerate(own)), dict(enumerate(other))), lower_is_better=True)
        assert (found is not Verdict.WITHIN) == (stats.ttest_rel(own, other).pvalue < 0.05)
        kinds.add(found)
    assert kinds == {Verdict.BETTER, Verdict.WORSE, Verdict.WITHIN}


@pytest.mark.parametrize(
    "difference, lower, higher",
    [
        (Summary(-0.3, 0.2, 3), Verdict.BETTER, Verdict.WORSE),
        (Summary(0.3, 0.2, 3), Verdict.WORSE, Verdict.BETTER),
        (Summary(-0.1, 0.2, 3), Verdict.WITHIN, Verdict.WITHIN),
        (Summary(-0.2, 0.2, 3), Verdict.WITHIN, Verdict.WITHIN),  # touching 0 does not exclude it
        (Summary(-0.2, 0.0, 2), Verdict.BETTER, Verdict.WORSE),  # the same difference on every seed
        (Summary(0.0, 0.0, 2), Verdict.WITHIN, Verdict.WITHIN),
        (Summary(-0.3, math.nan, 1), Verdict.UNTESTED, Verdict.UNTESTED),
        (Summary(math.nan, math.nan, 0), Verdict.UNTESTED, Verdict.UNTESTED),
    ],
)
def test_verdict_in_both_directions(difference, lower, higher):
    assert verdict(difference, lower_is_better=True) is lower
    assert verdict(difference, lower_is_better=False) is higher


def test_relative_gaps_are_paired_and_finite():
    gaps = relative_gaps({0: 0.6, 1: 0.9, 2: 0.5, 3: 1.0}, {0: 0.5, 1: 0.6, 2: 0.0, 4: 1.0})
    assert gaps == pytest.approx([0.6 / 0.5 - 1, 0.9 / 0.6 - 1])
