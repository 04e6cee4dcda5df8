"""Plain-Python event-driven implementation of `rlte.sim.packet`'s rules: the correctness oracle.

Same events, same tie-breaks (events ordered by time, then by creation), same random draws in the
same order from the same generators (traffic: source, destination, next Exp(1) variate at each
injection; policy: whatever the policy draws), same floating-point operations: with one seed and
one policy it gives exactly the delivery times, counts and window sums of the compiled simulator.
It is written for clarity (a heap of tuples, a deque per node, a dict per packet) and is 10-20x
slower; `rlte.bench_packet` measures both.

A policy is an object with ``choose(node, packet, destination) -> slot`` (a slot of
`PacketNetwork`, i.e. ``out_ptr[node] + action``) and, optionally, ``sent(packet, node, slot,
destination, hop_start, arrival, hops)``, called after every successful send (``hops`` counts the
hop just taken): learners update there.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np

from rlte.errors import RlteError
from rlte.sim.packet import (
    BLOCKED,
    DELIVERY_CONVENTIONS,
    DROPPED,
    SENT,
    LoadSchedule,
    PacketCounts,
    PacketNetwork,
    PacketRecords,
    PacketSimOptions,
    TablePolicy,
    WindowSeries,
)

_INJECT, _ARRIVE, _HANDLE = 0, 1, 2


class _Packet:
    __slots__ = ("arrival", "destination", "handoff", "hops", "inject", "node", "source")

    def __init__(self, source: int, destination: int, time: float) -> None:
        self.source, self.destination, self.node = source, destination, source
        self.hops = 0
        self.inject = self.arrival = self.handoff = time


class ReferenceTablePolicy:
    """A `TablePolicy` in plain Python (the same draws as `rlte.sim.packet.choose_table_slot`)."""

    def __init__(self, network: PacketNetwork, policy: TablePolicy, rng: np.random.Generator) -> None:
        self.out_ptr = network.out_ptr.tolist()
        self.single = policy.single.tolist()
        self.cumulative = policy.cumulative.tolist()
        self.rng = rng

    def choose(self, node: int, packet: int, destination: int) -> int:
        slot = self.single[destination][node]
        if slot >= 0:
            return slot
        lo, hi = self.out_ptr[node], self.out_ptr[node + 1]
        row = self.cumulative[destination]
        x = self.rng.random() * row[hi - 1]
        for k in range(lo, hi):
            if x < row[k]:
                return k
        k = hi - 1
        while k > lo and row[k] == row[k - 1]:
            k -= 1
        return k


class ReferencePacketSimulator:
    """`rlte.sim.packet.PacketSimulator`'s rules in plain Python (same arguments)."""

    def __init__(
        self, network: PacketNetwork, load: LoadSchedule, options: PacketSimOptions | None = None
    ) -> None:
        self.network = network
        self.load = load
        self.options = options or PacketSimOptions()
        self.options.validate()
        self.horizon = float(load.end)
        self.num_nodes = network.num_nodes
        self.out_ptr = network.out_ptr.tolist()
        self.link_src = network.link_src.tolist()
        self.link_dst = network.link_dst.tolist()
        self.hop_service = network.hop_service.tolist()
        self.hop_latency = network.hop_latency.tolist()
        self.starts = load.start.tolist()
        self.rates = load.rate.tolist()

    # ------------------------------------------------------------------ state
    def reset(self, traffic_rng: np.random.Generator) -> None:
        n = self.num_nodes
        self.rng = traffic_rng
        self.now = 0.0
        self.heap: list[tuple[float, int, int, int]] = []
        self.seq = 0
        self.segment = 0
        self.queues = [deque() for _ in range(n)]
        self.occupancy = [0] * n
        self.max_occupancy = [0] * n
        self.handle_pending = [False] * n
        self.busy_until = [0.0] * n
        self.live: dict[int, _Packet] = {}
        self.next_id = 0
        self.injected = self.refused = self.dropped = self.delivered = 0
        self.hops = self.blocked = self.queued = 0
        self.delay_sum = 0.0
        self.num_windows = int(math.ceil(self.horizon / self.options.window)) + 1
        self.win = {name: [0] * self.num_windows for name in ("injected", "refused", "dropped", "delivered")}
        self.win_delay = [0.0] * self.num_windows
        self.win_queue = [0.0] * self.num_windows
        self.records: list[tuple[float, float, int, int, int]] = []
        self._schedule_injection(0.0)

    def _push(self, time: float, kind: int, item: int) -> None:
        heapq.heappush(self.heap, (time, self.seq, kind, item))
        self.seq += 1

    def _window(self, time: float) -> int:
        return min(int(time / self.options.window), self.num_windows - 1)

    def _advance_clock(self, time: float) -> None:
        last = self.now
        if time > last:
            if self.queued > 0:
                width = self.options.window
                w, end = self._window(last), self._window(time)
                while w < end:
                    boundary = (w + 1) * width
                    self.win_queue[w] += self.queued * (boundary - last)
                    last = boundary
                    w += 1
                self.win_queue[w] += self.queued * (time - last)
            self.now = time

    def _next_injection_time(self, time: float, exponential: float) -> float:
        starts, rates = self.starts, self.rates
        last = len(starts) - 1
        seg, remaining, t = self.segment, exponential, time
        while True:
            while seg < last and starts[seg + 1] <= t:
                seg += 1
            rate = rates[seg]
            if rate > 0.0:
                end = starts[seg + 1] if seg < last else math.inf
                span = (end - t) * rate
                if remaining <= span:
                    self.segment = seg
                    return t + remaining / rate
                remaining -= span
                t = end
            elif seg == last:
                self.segment = seg
                return math.inf
            else:
                t = starts[seg + 1]

    def _schedule_injection(self, time: float) -> None:
        nxt = self._next_injection_time(time, -math.log(1.0 - self.rng.random()))
        if nxt < math.inf:
            self._push(nxt, _INJECT, 0)

    def _reserve(self, node: int) -> None:
        self.occupancy[node] += 1
        self.max_occupancy[node] = max(self.max_occupancy[node], self.occupancy[node])

    def _enqueue(self, packet: int, node: int) -> None:
        self.queues[node].append(packet)
        self.queued += 1

    def _arrive(self, packet: int, node: int, time: float) -> bool:
        """Join the node's queue; True if the node handles the packet at once."""
        self._enqueue(packet, node)
        if not self.handle_pending[node]:
            if self.busy_until[node] <= time:
                return True
            self.handle_pending[node] = True
            self._push(self.busy_until[node], _HANDLE, node)
        return False

    def _free(self, packet: int) -> None:
        del self.live[packet]

    def _deliver(self, packet: int, time: float) -> None:
        p = self.live[packet]
        delay = time - p.inject if self.options.delivery == DELIVERY_CONVENTIONS[0] else p.handoff - p.inject
        self.delivered += 1
        self.delay_sum += delay
        w = self._window(time)
        self.win["delivered"][w] += 1
        self.win_delay[w] += delay
        if len(self.records) < self.options.record_packets:
            self.records.append((p.inject, delay, p.source, p.destination, p.hops))
        self._free(packet)

    def _drop(self, packet: int, time: float) -> None:
        self.dropped += 1
        self.win["dropped"][self._window(time)] += 1
        self._free(packet)

    # ------------------------------------------------------------------ the loop
    def run(self, policy, until: float | None = None) -> None:
        """Simulate the events before ``until`` (default: the horizon) with ``policy``."""
        until = self.horizon if until is None else min(float(until), self.horizon)
        sent_hook = getattr(policy, "sent", None)
        n = self.num_nodes
        while self.heap and self.heap[0][0] < until:
            time, _, kind, item = heapq.heappop(self.heap)
            self._advance_clock(time)
            if kind == _INJECT:
                source = min(int(self.rng.random() * n), n - 1)
                dest = min(int(self.rng.random() * (n - 1)), n - 2)
                if dest >= source:
                    dest += 1
                self._schedule_injection(time)
                self.injected += 1
                w = self._window(time)
                self.win["injected"][w] += 1
                if len(self.live) >= self.options.network_limit:
                    self.refused += 1
                    self.win["refused"][w] += 1
                    continue
                packet = self.next_id
                self.next_id += 1
                self.live[packet] = _Packet(source, dest, time)
                if not self.options.source_queue:
                    self._decide(policy, sent_hook, packet, source, True)
                    continue
                if self.occupancy[source] >= self.options.queue_limit:
                    self._drop(packet, time)
                    continue
                self._reserve(source)
                if self._arrive(packet, source, time):
                    self._decide(policy, sent_hook, packet, source, False)
            elif kind == _ARRIVE:
                p = self.live[item]
                if p.node == p.destination:
                    self._deliver(item, time)
                elif self._arrive(item, p.node, time):
                    self._decide(policy, sent_hook, item, p.node, False)
            else:
                self.handle_pending[item] = False
                self._decide(policy, sent_hook, self.queues[item][0], item, False)

    def _decide(self, policy, sent_hook, packet: int, node: int, bypass: bool) -> int:
        p = self.live[packet]
        slot = policy.choose(node, packet, p.destination)
        if not self.out_ptr[node] <= slot < self.out_ptr[node + 1]:
            raise RlteError(f"reference packet simulator: slot {slot} is not an out-link of node {node}")
        time = self.now
        nxt = self.link_dst[slot]
        hop_start = p.arrival
        service_end = time + self.hop_service[slot]
        limit = self.options.queue_limit
        if nxt != p.destination and self.occupancy[nxt] >= limit:
            self.blocked += 1
            if bypass:
                if self.occupancy[node] >= limit:
                    self._drop(packet, time)
                    return DROPPED
                self._reserve(node)
                self._enqueue(packet, node)
                if not self.handle_pending[node]:
                    self.handle_pending[node] = True
                    self._push(max(self.busy_until[node], service_end), _HANDLE, node)
            else:
                self.busy_until[node] = service_end
                self.handle_pending[node] = True
                self._push(service_end, _HANDLE, node)
            return BLOCKED
        if not bypass:
            self.queues[node].popleft()
            self.queued -= 1
            self.occupancy[node] -= 1
            self.busy_until[node] = service_end
            if self.queues[node]:
                self.handle_pending[node] = True
                self._push(service_end, _HANDLE, node)
        if nxt != p.destination:
            self._reserve(nxt)
        arrival = time + self.hop_latency[slot]
        p.arrival, p.handoff, p.node = arrival, time, nxt
        p.hops += 1
        self.hops += 1
        self._push(arrival, _ARRIVE, packet)
        if sent_hook is not None:
            sent_hook(packet, node, slot, p.destination, hop_start, arrival, p.hops)
        return SENT

    # ------------------------------------------------------------------ results
    def counts(self) -> PacketCounts:
        return PacketCounts(self.injected, self.delivered, self.refused, self.dropped, len(self.live), self.hops,
                            self.blocked, self.queued, self.delay_sum, self.now)  # fmt: skip

    def windows(self) -> WindowSeries:
        count = self.num_windows - 1
        width = self.options.window
        ints = {name: np.array(values[:count], dtype=np.int64) for name, values in self.win.items()}
        return WindowSeries(width * np.arange(count, dtype=np.float64), ints["injected"], ints["refused"],
                            ints["dropped"], ints["delivered"], np.array(self.win_delay[:count]),
                            np.array(self.win_queue[:count]) / width)  # fmt: skip

    def packets(self) -> PacketRecords:
        rows = self.records
        return PacketRecords(
            np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), np.array([r[2] for r in rows], dtype=np.int64),
            np.array([r[3] for r in rows], dtype=np.int64), np.array([r[4] for r in rows], dtype=np.int64),
        )  # fmt: skip


__all__ = ["ReferencePacketSimulator", "ReferenceTablePolicy"]
