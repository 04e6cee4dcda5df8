"""Speed of the cluster simulator (`rlte.sim.cluster`): task events per second, compiled against the
plain-Python reference (`rlte.sim.cluster_reference`) on the same workload, on one core.

Workload: the ``mixed`` scenario on 20 heterogeneous nodes at load 0.8 with deadlines (queues form,
some tasks expire), from empty nodes, one seed, dispatched by each compiled policy. Events are the
ones that change the state (arrivals, completions, expiries, migration arrivals, failures; stale heap
entries are not counted), so both implementations count the same events. Both run the identical
simulation on a short workload (their task latencies are checked equal); the compiled one also runs
a long workload for its steady rate. Times are the process's CPU time (so other load on the machine
does not count), the best of a few repeats; numba runs on one thread.
"""

from __future__ import annotations

import time

#: The benchmark's workload.
SCENARIO, NUM_NODES, LOAD = "mixed", 20, 0.8
#: Policies measured.
POLICIES = ("round_robin", "random", "jsq", "least_work", "power_of_two")


def _best_seconds(run, *args, repeats: int) -> float:
    """The least CPU time of ``repeats`` calls of ``run(*args)``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run(*args)
        best = min(best, time.process_time() - start)
    return best


def bench_cluster(quick: bool = False) -> list[dict]:
    """Task events per second of the compiled cluster simulator and of the plain-Python reference.

    Args:
        quick: smaller workloads (for smoke tests).

    Returns:
        One row per dispatch policy: events, CPU seconds and rate of both implementations on the
        same workload (``ratio`` = compiled rate / Python rate), and the compiled rate on a long one.
    """
    import numpy as np

    from rlte.sim.cluster import ClusterSimulator, scenario
    from rlte.sim.cluster_reference import ReferenceClusterSimulator

    short_tasks, long_tasks = (2_000, 50_000) if quick else (20_000, 500_000)
    repeats = 2 if quick else 3
    short = scenario(
        SCENARIO, np.random.default_rng(0), num_tasks=short_tasks, load=LOAD, num_nodes=NUM_NODES
    )
    long = scenario(SCENARIO, np.random.default_rng(0), num_tasks=long_tasks, load=LOAD, num_nodes=NUM_NODES)

    def run(simulator, case, policy: str):
        sim = simulator(case.cluster, case.workload, case.options)
        sim.reset(np.random.default_rng(1))
        sim.run(policy)
        return sim

    rows = []
    for policy in POLICIES:
        run(ClusterSimulator, short, policy)  # compile (or load the cache) outside the timing
        python_seconds = _best_seconds(run, ReferenceClusterSimulator, short, policy, repeats=repeats)
        compiled_seconds = _best_seconds(run, ClusterSimulator, short, policy, repeats=3 * repeats)
        long_seconds = _best_seconds(run, ClusterSimulator, long, policy, repeats=repeats)
        same = run(ClusterSimulator, short, policy)
        check = run(ReferenceClusterSimulator, short, policy)
        if same.counts() != check.counts() or not np.array_equal(
            same.task_latencies(), check.task_latencies(), equal_nan=True
        ):
            raise AssertionError(f"bench_cluster: compiled and reference disagree for {policy}")
        events = same.counts().events
        long_events = run(ClusterSimulator, long, policy).counts().events
        metrics = same.metrics()
        rows.append({
            "benchmark": "cluster",
            "scenario": SCENARIO,
            "nodes": NUM_NODES,
            "load": LOAD,
            "method": policy,
            "tasks": short_tasks,
            "events": events,
            "python_s": python_seconds,
            "python_events_per_s": events / python_seconds,
            "compiled_s": compiled_seconds,
            "compiled_events_per_s": events / compiled_seconds,
            "ratio": python_seconds / compiled_seconds,
            "long_tasks": long_tasks,
            "long_events": long_events,
            "long_compiled_events_per_s": long_events / long_seconds,
            "mean_latency": metrics.mean_latency,
            "success_rate": metrics.success_rate,
            "threads": 1,
        })  # fmt: skip
    return rows


def format_rows(rows: list[dict]) -> str:
    """A small table of the rows."""
    lines = [
        f"{'policy':14s} {'events':>8s} {'python/s':>10s} {'compiled/s':>11s} {'ratio':>6s} {'long/s':>10s}"
    ]
    for row in rows:
        lines.append(
            f"{row['method']:14s} {row['events']:8d} {row['python_events_per_s']:10.3g} "
            f"{row['compiled_events_per_s']:11.3g} {row['ratio']:6.1f} {row['long_compiled_events_per_s']:10.3g}"
        )
    return "\n".join(lines)


__all__ = ["bench_cluster", "format_rows"]
