"""Run baselines side by side on one topology and one traffic series, with the same metrics.

This is what ``rlte baselines`` prints: for each method, every flow metric (its mean over the
evaluated intervals and, for a series, its 95th percentile) and the time the method took.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rlte.baselines import lp
from rlte.baselines.classical import BASELINES, LpCache, make_baseline
from rlte.errors import RlteError
from rlte.metrics import FLOW_METRICS
from rlte.net.topology import Topology
from rlte.net.traffic import TrafficSeries
from rlte.sim.flow import FlowModel


@dataclass
class PreparedTraffic:
    """Traffic ready for evaluation: the history the predictive methods may see and the intervals
    that are evaluated, both already scaled to the load level."""

    history: np.ndarray  # [H, N, N]
    evaluated: np.ndarray  # [T, N, N]
    factor: float  # the load scaling applied (1.0 without --load)
    timestamps: np.ndarray  # [T]


def prepare_traffic(
    topology: Topology,
    series: TrafficSeries,
    *,
    load: float | None = None,
    train_fraction: float = 0.0,
    sample_every: int | None = None,
) -> PreparedTraffic:
    """Split a series in time and scale it to a load level.

    Args:
        topology: the network (the series must be aligned to it).
        series: the traffic.
        load: the level L: one common factor makes the mean optimal MLU of the training part
            (the whole series when ``train_fraction`` is 0) equal L. None keeps the traffic as is.
        train_fraction: the leading fraction of the series used only as history (to choose the
            load factor and to feed the predictive LPs); the rest is evaluated.
        sample_every: subsample for the load statistic (default: about 120 matrices).
    """
    if not 0.0 <= train_fraction < 1.0:
        raise RlteError(f"train fraction {train_fraction!r}: must be in [0, 1)")
    matrices = np.asarray(series.demands, dtype=np.float64)
    cut = int(round(train_fraction * len(matrices)))
    if cut >= len(matrices):
        raise RlteError(f"train fraction {train_fraction!r}: leaves no interval to evaluate")
    history, evaluated = matrices[:cut], matrices[cut:]
    factor = 1.0
    if load is not None:
        reference = history if len(history) else evaluated
        step = sample_every or max(1, len(reference) // 120)
        factor = lp.scale_to_load(reference, topology, load, sample_every=step).factor
    return PreparedTraffic(history * factor, evaluated * factor, factor, np.asarray(series.timestamps)[cut:])


def compare_baselines(
    topology: Topology,
    traffic: PreparedTraffic,
    methods: Sequence[str] = BASELINES,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Route the evaluated intervals with each method and measure them.

    Returns:
        One dict per method: ``method``, ``oracle``, for each metric its mean over intervals (under
        the metric's name) and its 95th percentile (``<metric>_p95``), ``runtime_s`` (the method's
        routing time for the whole series), ``notes``, and ``link_load_bps``/``link_util`` (mean
        over intervals, per link).
    """
    model = FlowModel(topology)
    cache = LpCache()
    rows = []
    for name in methods:
        baseline = make_baseline(name, cache=cache)
        if progress:
            progress(baseline.name)
        start, reused = time.perf_counter(), cache.reused_time_s
        routing = baseline.route_series(topology, traffic.evaluated, traffic.history)
        # a solution another method already solved counts at its original solve time
        runtime = time.perf_counter() - start + (cache.reused_time_s - reused)
        stats = model.evaluate(routing, traffic.evaluated)
        row: dict = {"method": baseline.name, "oracle": bool(baseline.oracle)}
        for metric in FLOW_METRICS:
            values = np.asarray(getattr(stats, metric), dtype=np.float64)
            row[metric] = float(values.mean())
            row[f"{metric}_p95"] = float(np.percentile(values, 95))
        row["runtime_s"] = runtime
        row["notes"] = list(getattr(baseline, "notes", []))
        row["link_load_bps"] = stats.link_load.mean(axis=0)
        row["link_util"] = stats.utilisation.mean(axis=0)
        rows.append(row)
    return rows
