"""How the report writes numbers: units and scales from the domain's metrics."""

from __future__ import annotations

import math

from rlte.domains import Metric
from rlte.domains.flow_te import FLOW_TE
from rlte.experiments.formatting import (
    GAP,
    format_interval,
    format_summary,
    format_value,
    join_words,
    paper_entry,
    paper_number,
)
from rlte.experiments.statistics import Summary

MLU = FLOW_TE.metric("mlu")
DELAY = FLOW_TE.metric("mean_delay_ms")
THROUGHPUT = FLOW_TE.metric("throughput")


def test_table_cells_in_the_metric_unit():
    assert format_summary(Summary(0.7213, 0.0123, 3), MLU) == "72.13 ± 1.23 %"
    assert format_summary(Summary(12.5, 0.25, 2), DELAY, seeds=3) == "12.50 ± 0.25 ms (n=2)"
    assert format_summary(Summary(2.5e9, math.nan, 1), THROUGHPUT) == "2500.00 Mbit/s (n=1)"
    assert format_summary(Summary(math.nan, math.nan, 0), MLU) == "—"
    assert format_summary(Summary(0.5, 0.1, 3), FLOW_TE.metric("phi")) == "0.50 ± 0.10"


def test_values_in_prose():
    assert format_value(MLU, 0.72) == "72.0 %"
    assert format_value(FLOW_TE.metric("loss_rate"), 0.0000123) == "0.00123 %"
    assert format_value(GAP, -0.0) == "0.0 %"
    assert paper_number(MLU, 0.894) == "89.4 %" and paper_number(MLU, 0.8945) == "89.45 %"
    assert paper_entry(FLOW_TE.metric("mean_util"), 0.753) == "Mean utilisation 75.3 %"
    assert paper_entry(FLOW_TE.metric("mlu_p95"), 0.9) == "MLU (p95) 90.0 %"


def test_intervals_share_their_decimals():
    assert format_interval(MLU, Summary(-0.01533, 0.25466, 3)) == "-1.5 ± 25.5 %"
    assert format_interval(MLU, Summary(-0.08, 1e-17, 3)) == "-8.0 ± 0.0 %"
    assert format_interval(MLU, Summary(-0.0004, 0.00012, 3)) == "-0.0400 ± 0.0120 %"
    assert format_interval(Metric("x", "x"), Summary(-1e-5, 1e-5, 3)) == "-0.0000100 ± 0.0000100"


def test_join_words():
    assert [join_words(w) for w in ([], ["a"], ["a", "b"], ["a", "b", "c"])] == [
        "",
        "a",
        "a and b",
        "a, b and c",
    ]
