"""Plain-Python implementation of `rlte.sim.strl`'s hour: the compiled simulator's correctness oracle.

The same rules (see `rlte.sim.strl`), written for clarity rather than speed: each queue is an
object holding a dict from (class, hop) to the fluid waiting there, and a step walks the queues and
the classes in Python. It agrees with `rlte.sim.strl.simulate_hour` to rounding
(tests/sim/test_strl.py); it is much slower.
"""

from __future__ import annotations

import numpy as np

from rlte.sim.strl import HOUR_S, HourStats, PathClasses, QueueNetwork


class _Queue:
    def __init__(self, rate: float, buffer: float) -> None:
        self.rate, self.buffer = rate, buffer
        self.waiting: dict[tuple[int, int], float] = {}
        self.served = 0.0
        self.backlog_time = 0.0

    def total(self) -> float:
        return sum(self.waiting.values())


def simulate_hour(network: QueueNetwork, classes: PathClasses, arrivals: np.ndarray, backlog: np.ndarray,
                  substeps: int = 60, hour_s: float = HOUR_S) -> HourStats:  # fmt: skip
    """`rlte.sim.strl.simulate_hour`, in plain Python (updates ``backlog`` in place)."""
    paths = [[int(q) for q in classes.hops[c, : classes.length[c]]] for c in range(len(classes.length))]
    queues = [_Queue(float(r), float(b)) for r, b in zip(network.rate, network.buffer)]
    for c, path in enumerate(paths):
        for h, q in enumerate(path):
            if backlog[c, h] > 0:
                queues[q].waiting[(c, h)] = float(backlog[c, h])
    delivered = [0.0] * len(paths)
    dropped = [0.0] * len(paths)
    dt = hour_s / substeps
    for _ in range(substeps):
        budget = [queue.rate * dt for queue in queues]
        moving: dict[tuple[int, int], float] = {}  # (class, hop) -> fluid arriving at that hop this step

        def arrive(c: int, h: int, amount: float, moving: dict = moving) -> None:
            if h == len(paths[c]):
                delivered[c] += amount
            else:
                moving[(c, h)] = moving.get((c, h), 0.0) + amount

        # 1. the waiting packets first, every class in proportion
        for q, queue in enumerate(queues):
            total = queue.total()
            if total <= 0:
                continue
            fraction = min(1.0, budget[q] / total)
            for (c, h), amount in list(queue.waiting.items()):
                queue.waiting[(c, h)] = amount - amount * fraction
                arrive(c, h + 1, amount * fraction)
            budget[q] -= total * fraction
            queue.served += total * fraction
        # 2. new packets, hop by hop
        for c in range(len(paths)):
            if arrivals[c] > 0:
                moving[(c, 0)] = moving.get((c, 0), 0.0) + float(arrivals[c]) * dt / hour_s
        for h in range(classes.hops.shape[1]):
            at_hop = {key: amount for key, amount in moving.items() if key[1] == h}
            offered: dict[int, float] = {}
            for (c, _), amount in at_hop.items():
                offered[paths[c][h]] = offered.get(paths[c][h], 0.0) + amount
            for (c, _), amount in at_hop.items():
                q = paths[c][h]
                served_share = min(1.0, budget[q] / offered[q]) if offered[q] > 0 else 1.0
                arrive(c, h + 1, amount * served_share)
            # each queue's admission, from its room before any of this hop's newcomers
            for q, load in offered.items():
                if load <= 0:
                    continue
                queue = queues[q]
                done = min(load, budget[q])
                budget[q] -= done
                queue.served += done
                rest = load - done
                room = max(queue.buffer - queue.total(), 0.0)
                admitted = 1.0 if rest <= room else room / rest
                for (c, _), amount in at_hop.items():
                    if paths[c][h] != q:
                        continue
                    unserved = amount - amount * (done / load)
                    queue.waiting[(c, h)] = queue.waiting.get((c, h), 0.0) + unserved * admitted
                    dropped[c] += unserved - unserved * admitted
        for queue in queues:
            queue.backlog_time += queue.total() * dt
    backlog[:] = 0.0
    for queue in queues:
        for (c, h), amount in queue.waiting.items():
            backlog[c, h] = amount
    return HourStats(
        np.asarray(arrivals, dtype=np.float64).copy(),
        np.array(delivered),
        np.array(dropped),
        np.array([queue.served for queue in queues]),
        np.array([queue.backlog_time for queue in queues]),
    )
