"""Speed of the packet simulator (`rlte.sim.packet`): packet-hops per second, compiled against the
plain-Python reference (`rlte.sim.packet_reference`) on the same workload, on one core.

Workload: Boyan and Littman's 6x6 grid at load 2.0 (queues form, nothing saturates), from an empty
network, one seed, routed by shortest paths (random tie-break) or learned by ``off_greedy``
(Boyan and Littman's Q-routing) and ``on_dbl_expected_softmax_2hop`` (seed 004's most complex
row). Both implementations run the identical simulation (same seed, same horizon: their results
are checked equal); the compiled one also runs a long horizon for its steady rate. Times are the
process's CPU time (so other load on the machine does not count), the best of a few repeats; numba
runs on one thread, and BLAS is held to one.
"""

from __future__ import annotations

import time

#: The benchmark's workload.
TOPOLOGY, LOAD = "grid6x6", 2.0
#: Learners measured besides shortest-path routing.
LEARNERS = ("off_greedy", "on_dbl_expected_softmax_2hop")


def _best_seconds(run, *args, repeats: int) -> float:
    """The least CPU time of ``repeats`` calls of ``run(*args)``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run(*args)
        best = min(best, time.process_time() - start)
    return best


def bench_packet(quick: bool = False) -> list[dict]:
    """Packet-hops per second of the compiled simulator and of the plain-Python reference.

    Args:
        quick: shorter horizons (for smoke tests).

    Returns:
        One row per routing method: its packet-hops, CPU seconds and rate in both implementations
        on the same horizon (``ratio`` = compiled rate / Python rate), and the compiled rate over a
        long horizon.
    """
    from threadpoolctl import threadpool_limits

    from rlte.agents.qrouting import QRouter
    from rlte.net.topology import load_topology
    from rlte.sim.packet import (
        LoadSchedule,
        PacketNetwork,
        PacketSimulator,
        seed_streams,
        shortest_path_policy,
    )
    from rlte.sim.packet_reference import ReferencePacketSimulator, ReferenceTablePolicy

    network = PacketNetwork.from_topology(load_topology(TOPOLOGY))
    short, long = (300.0, 5_000.0) if quick else (2_000.0, 50_000.0)
    repeats = 2 if quick else 3
    policy = shortest_path_policy(network)

    def compiled(method: str, horizon: float) -> PacketSimulator:
        sim = PacketSimulator(network, LoadSchedule.fixed(LOAD, horizon))
        traffic, policy_rng = seed_streams(0)
        sim.reset(traffic)
        if method == "shortest_path":
            sim.run(policy, policy_rng)
        else:
            QRouter(network, method, policy_rng).run(sim)
        return sim

    def reference(method: str, horizon: float) -> ReferencePacketSimulator:
        sim = ReferencePacketSimulator(network, LoadSchedule.fixed(LOAD, horizon))
        traffic, policy_rng = seed_streams(0)
        sim.reset(traffic)
        router = ReferenceTablePolicy(network, policy, policy_rng)
        sim.run(router if method == "shortest_path" else QRouter(network, method, policy_rng))
        return sim

    rows = []
    with threadpool_limits(limits=1):
        for method in ("shortest_path", *LEARNERS):
            compiled(method, 10.0)  # compile (or load the cache) outside the timing
            python_seconds = _best_seconds(reference, method, short, repeats=repeats)
            compiled_seconds = _best_seconds(compiled, method, short, repeats=3 * repeats)
            long_seconds = _best_seconds(compiled, method, long, repeats=repeats)
            same = compiled(method, short)
            check = reference(method, short)
            if same.counts() != check.counts():
                raise AssertionError(f"bench_packet: compiled and reference disagree for {method}")
            hops = same.counts().hops
            long_hops = compiled(method, long).counts().hops
            rows.append({
                "benchmark": "packet",
                "topology": TOPOLOGY,
                "load": LOAD,
                "method": method,
                "horizon": short,
                "packet_hops": hops,
                "python_s": python_seconds,
                "python_hops_per_s": hops / python_seconds,
                "compiled_s": compiled_seconds,
                "compiled_hops_per_s": hops / compiled_seconds,
                "ratio": python_seconds / compiled_seconds,
                "long_horizon": long,
                "long_packet_hops": long_hops,
                "long_compiled_hops_per_s": long_hops / long_seconds,
                "mean_delay": same.counts().mean_delay,
                "threads": 1,
            })  # fmt: skip
    return rows


def format_rows(rows: list[dict]) -> str:
    """A small table of the rows."""
    lines = [
        f"{'method':30s} {'hops':>9s} {'python/s':>10s} {'compiled/s':>11s} {'ratio':>6s} {'long/s':>10s}"
    ]
    for row in rows:
        lines.append(
            f"{row['method']:30s} {row['packet_hops']:9d} {row['python_hops_per_s']:10.3g} "
            f"{row['compiled_hops_per_s']:11.3g} {row['ratio']:6.1f} {row['long_compiled_hops_per_s']:10.3g}"
        )
    return "\n".join(lines)


__all__ = ["bench_packet", "format_rows"]
