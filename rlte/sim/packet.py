"""Packet-level discrete-event simulator of a network of routers, compiled with numba.

The default timing rules are Boyan and Littman's (1994), so delivery times compare with the
Q-routing literature:

- one network-wide Poisson process injects packets at rate ``lambda`` per time unit, source and
  destination uniform and distinct (`LoadSchedule`: a fixed rate or steps over time);
- an injected packet is handled at its source at once: it bypasses the source's queue;
- a node handles the packets that reach it one at a time, in arrival order: a packet's handling
  time is ``max(end of the node's previous handling, its arrival)``; handling takes one time unit
  and so does the hop, so at zero load a packet handled at t reaches the next node at t + 1;
- handing a packet to its destination delivers it on arrival there (one time unit later);
- a node holds at most ``queue_limit`` (1,000) packets: a packet whose chosen next hop is full is
  not sent and waits where it is (offered again at the node's next handling slot); at most
  ``network_limit`` (1,000) packets are in the network at once: an injection beyond is refused;
- the node's routing policy picks the next hop when it handles a packet.

General timing (`PacketNetwork`): handling packet p at node v on link e takes the node
``node_service[v] + transmission[e]`` (it is busy that long) and p reaches the next node
``propagation[e]`` later. Boyan and Littman's rules are ``node_service = 1``, ``transmission =
propagation = 0`` (``timing="unit"``, the default for any topology); ``timing="topology"`` takes
transmission from link capacity and packet size and propagation from the link delay (time in
seconds then, load in packets per second). One server per node serialises its links.

Delivery time conventions (``delivery``):

- ``"boyan_littman"`` (default): delivery time = arrival at the destination - injection. At zero
  load it equals the hop count (mean 4.83 over the 6x6 grid's uniform distinct pairs); the
  excess is queueing, which vanishes with the load: under shortest paths 0.003 at load 0.01,
  0.03 at 0.1, 0.17 at 0.5, 0.43 at 1.0 (two packets reaching a node less than a unit apart:
  the second waits). An implementation of these rules built differently (handling times fixed at
  send time, as in Boyan and Littman's C simulator) measures the same (tests/sim/test_packet.py).
- ``"handoff"``: the clock stops when the last router hands the packet over, so the final hop's
  handling and link time is not counted: at zero load hop count - 1. This is how seed 004 counts.
  Under unit timing the first hop also always takes one unit (injected packets bypass the queue),
  so "clock starts on arrival at the first next hop" would give the same numbers; the two
  readings differ only under general timing, where ``"handoff"`` is the one implemented. Only the
  recorded time differs: the dynamics are the same.

Seed 004's shortest-path row (3.88, 4.05, 4.46 at loads 0.5, 1.0, 1.5) sits 0.13-0.28 below
these rules' handoff means (4.01, 4.27, 4.74): it is the mean of delivery times truncated to whole
time units (3.880, 4.050 and 4.45 here). Boyan and Littman's C simulator (``netsim1.c``) adds
each delivery time to an ``int`` total, which truncates it; the truncation removes most of the
queueing, which is mostly a fraction of a unit at low load. The dynamics are not in question
(without queueing every time is whole and the conventions agree), so rlte keeps exact times.

Counts: ``injected`` counts every packet the arrival process generates, so that ``injected =
delivered + refused + dropped + in_flight`` at all times. A drop happens only when an injected
packet cannot leave its source (next hop full) and the source's queue is full too (or, with
``source_queue=True``, when an injection finds its source's queue full). A node's queue length
(its occupancy) counts the packets sent to it and not yet handled by it, those on the link
included, so that the limit holds when they arrive; ``queued`` counts those waiting in queues.

Randomness: two numpy Generators, consumed inside the compiled code (numba shares their state):
the traffic stream, drawn at each injection in this order: source ``u_s``, destination ``u_d``
(``s = floor(u_s N)``, ``d = floor(u_d (N - 1))`` skipping s), then the Exp(1) variate of the next
injection ``-log(1 - u)`` (mapped through the schedule's cumulative rate, so steps of the load are
exact); and the policy stream, owned by the routing policy. `rlte.sim.packet_reference` draws the
same numbers in the same order and gives identical results.

Speed: no Python object per packet. Packets live in a preallocated pool, per-node FIFO queues are
linked lists through the pool, events sit in an array binary heap ordered by (time, insertion
number), so ties resolve in the order events were created. The event loop is `advance` (run until
a routing decision is due) and `forward` (apply it): njit functions that compiled loops elsewhere
call (`run_table_policy` here; the Q-routing learners in `rlte.agents.qrouting`), and that the slow
path (`PacketSimulator.next_decision`, `rlte.envs.packet`) calls from Python. The simulator knows
nothing of learning: no rewards, no observations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numba
import numpy as np
from numba.core import types
from numba.experimental import structref

from rlte.errors import RlteError
from rlte.net.topology import Topology
from rlte.sim.event_heap import heap_insert, heap_remove_top

#: Delivery time conventions (see the module docstring).
DELIVERY_CONVENTIONS = ("boyan_littman", "handoff")
#: The convention of seed 004's tables.
SEED004_DELIVERY = "handoff"
#: Timing rules `PacketNetwork.from_topology` knows.
TIMINGS = ("unit", "topology")

# ---------------------------------------------------------------------- compiled-state layout
# event kinds, packed with the item as item * 4 + kind
EV_INJECT, EV_ARRIVE, EV_HANDLE = 0, 1, 2
# advance() results
ADVANCE_DONE, ADVANCE_DECISION, ADVANCE_PENDING = 0, 1, -1
# forward() results
SENT, BLOCKED, DROPPED, NO_DECISION, BAD_LINK = 0, 1, 2, -1, -2
# indices into SimArrays.counts (int64)
C_INJECTED, C_REFUSED, C_DROPPED, C_DELIVERED, C_IN_FLIGHT, C_HOPS, C_BLOCKED, C_QUEUED = range(8)
C_SEQ, C_HEAP_SIZE, C_FREE_TOP, C_RECORDED, C_SEGMENT = range(8, 13)
C_DEC_PACKET, C_DEC_NODE, C_DEC_BYPASS = range(13, 16)
C_QUEUE_LIMIT, C_NETWORK_LIMIT, C_SOURCE_QUEUE, C_DELIVERY = range(16, 20)
NUM_COUNTS = 20
# indices into SimArrays.clock (float64)
F_NOW, F_WINDOW, F_HOP_START, F_DELAY_SUM = range(4)
NUM_CLOCK = 4


class NetworkArrays(NamedTuple):
    """The static network as the compiled code sees it; links in slot order (sorted by source, then
    destination), so node v's out-links are slots ``out_ptr[v] .. out_ptr[v + 1] - 1``."""

    out_ptr: np.ndarray
    """First slot of each node's out-links. Shape [N + 1], int64."""
    link_src: np.ndarray
    """Source node of each slot. Shape [E], int64."""
    link_dst: np.ndarray
    """Destination node of each slot. Shape [E], int64."""
    hop_service: np.ndarray
    """How long handling a packet on this slot keeps its node busy. Shape [E], float64."""
    hop_latency: np.ndarray
    """From handling at the source to arrival at the destination of the slot. Shape [E], float64."""


class SimArrays(NamedTuple):
    """The whole mutable state of one simulation (all preallocated; P = network_limit)."""

    counts: np.ndarray
    """Counters, limits and the pending decision (indices ``C_*``). Shape [NUM_COUNTS], int64."""
    clock: np.ndarray
    """Current time, window length, hop start, total delay (indices ``F_*``). Shape [4], float64."""
    heap_time: np.ndarray
    """Event times. Shape [P + N + 2], float64."""
    heap_seq: np.ndarray
    """Event insertion numbers (tie-break). Shape [P + N + 2], int64."""
    heap_code: np.ndarray
    """Event item * 4 + kind. Shape [P + N + 2], int64."""
    seg_start: np.ndarray
    """Start time of each load step. Shape [S], float64."""
    seg_rate: np.ndarray
    """Injection rate of each load step. Shape [S], float64."""
    fifo_head: np.ndarray
    """First packet waiting at each node, or -1. Shape [N], int64."""
    fifo_tail: np.ndarray
    """Last packet waiting at each node, or -1. Shape [N], int64."""
    fifo_len: np.ndarray
    """Packets waiting at each node. Shape [N], int64."""
    occupancy: np.ndarray
    """Packets sent to each node and not yet handled by it (the queue limit's count). Shape [N]."""
    max_occupancy: np.ndarray
    """Largest occupancy seen at each node. Shape [N], int64."""
    handle_pending: np.ndarray
    """1 if a handling event of the node is in the heap. Shape [N], int64."""
    busy_until: np.ndarray
    """End of each node's current handling. Shape [N], float64."""
    pkt_src: np.ndarray
    """Source of each pooled packet. Shape [P], int64."""
    pkt_dst: np.ndarray
    """Destination. Shape [P], int64."""
    pkt_node: np.ndarray
    """Node the packet is at (or travelling to). Shape [P], int64."""
    pkt_hops: np.ndarray
    """Hops taken. Shape [P], int64."""
    pkt_next: np.ndarray
    """Next packet in the same FIFO queue, or -1. Shape [P], int64."""
    pkt_inject: np.ndarray
    """Injection time. Shape [P], float64."""
    pkt_arrival: np.ndarray
    """Arrival time at its current node (injection time at the source). Shape [P], float64."""
    pkt_handoff: np.ndarray
    """Time of its last handling. Shape [P], float64."""
    free: np.ndarray
    """Stack of free pool slots (``counts[C_FREE_TOP]`` of them). Shape [P], int64."""
    win_injected: np.ndarray
    """Packets generated per time window (refused included). Shape [W], int64."""
    win_refused: np.ndarray
    """Injections refused per window. Shape [W], int64."""
    win_dropped: np.ndarray
    """Packets dropped per window. Shape [W], int64."""
    win_delivered: np.ndarray
    """Packets delivered per window (by delivery time). Shape [W], int64."""
    win_delay_sum: np.ndarray
    """Sum of the delivery times of the packets delivered in each window. Shape [W], float64."""
    win_queue_area: np.ndarray
    """Time integral of the number of queued packets over each window. Shape [W], float64."""
    rec_inject: np.ndarray
    """Injection time of each recorded delivered packet. Shape [R], float64."""
    rec_delay: np.ndarray
    """Delivery time of each recorded packet. Shape [R], float64."""
    rec_src: np.ndarray
    """Source of each recorded packet. Shape [R], int64."""
    rec_dst: np.ndarray
    """Destination of each recorded packet. Shape [R], int64."""
    rec_hops: np.ndarray
    """Hops of each recorded packet. Shape [R], int64."""


_FLOAT_FIELDS = frozenset(
    ("clock", "heap_time", "seg_start", "seg_rate", "busy_until", "pkt_inject", "pkt_arrival", "pkt_handoff",
     "win_delay_sum", "win_queue_area", "rec_inject", "rec_delay")
)  # fmt: skip


# The compiled code takes these as numba StructRefs over the same arrays: one reference to pass
# instead of a tuple of dozens of arrays, whose reference counting would cost microseconds a call.
@structref.register
class _NetworkStateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(kind)) for name, kind in fields)


@structref.register
class _SimStateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(kind)) for name, kind in fields)


class NetworkState(structref.StructRefProxy):
    """`NetworkArrays` as the compiled code takes them (the same arrays)."""


class SimState(structref.StructRefProxy):
    """`SimArrays` as the compiled code takes them (the same arrays: writes show in both)."""


structref.define_boxing(_NetworkStateType, NetworkState)
structref.define_boxing(_SimStateType, SimState)
_INT_ARRAY, _FLOAT_ARRAY = types.int64[::1], types.float64[::1]
_NETWORK_STATE_TYPE = _NetworkStateType(
    [
        (name, _INT_ARRAY if name in ("out_ptr", "link_src", "link_dst") else _FLOAT_ARRAY)
        for name in NetworkArrays._fields
    ]
)
_SIM_STATE_TYPE = _SimStateType(
    [(name, _FLOAT_ARRAY if name in _FLOAT_FIELDS else _INT_ARRAY) for name in SimArrays._fields]
)


# ---------------------------------------------------------------------- load schedules
@dataclass(frozen=True, eq=False)
class LoadSchedule:
    """Injection rate over time: a step function.

    Attributes:
        start: start time of each step, increasing, the first 0. Shape [S].
        rate: packets injected per time unit during each step, >= 0. Shape [S].
        end: the horizon: the last step lasts until ``end``.
    """

    start: np.ndarray
    rate: np.ndarray
    end: float

    def __post_init__(self) -> None:
        start = np.array(self.start, dtype=np.float64).ravel()
        rate = np.array(self.rate, dtype=np.float64).ravel()
        if start.shape != rate.shape or len(start) == 0:
            raise RlteError(
                f"load schedule: {len(start)} step starts for {len(rate)} rates (need as many, >= 1)"
            )
        if start[0] != 0.0 or (np.diff(start) <= 0).any() or not np.isfinite(start).all():
            raise RlteError("load schedule: step starts must begin at 0 and increase")
        bad = np.flatnonzero(~(rate >= 0) | ~np.isfinite(rate))
        if len(bad):
            raise RlteError(f"load schedule: load {float(rate[bad[0]])!r} must be a finite number >= 0")
        end = float(self.end)
        if not (end > start[-1]) or not math.isfinite(end):
            raise RlteError(f"load schedule: end {end!r} must be finite and after the last step's start")
        start.setflags(write=False)
        rate.setflags(write=False)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "end", end)

    @classmethod
    def fixed(cls, rate: float, duration: float) -> LoadSchedule:
        """One rate for ``duration`` time units."""
        return cls(np.zeros(1), np.array([rate], dtype=np.float64), duration)

    @classmethod
    def steps(cls, first: float, last: float, step: float, every: float) -> LoadSchedule:
        """Rates ``first, first + step, ..., last``, each for ``every`` time units.

        ``steps(0.5, 4.5, 0.5, 10_000)`` and ``steps(3.5, 4.4, 0.1, 10_000)`` are seed 004's
        low-to-high and high-load schedules. Rates are rounded to 10 decimals (no 0.30000000000000004).
        """
        if not (step > 0 and every > 0 and last >= first):
            raise RlteError(
                f"load steps {first}..{last} by {step} every {every}: need step > 0, every > 0, last >= first"
            )
        count = int(math.floor((last - first) / step + 1e-9)) + 1
        rates = np.round(first + step * np.arange(count), 10)
        return cls(every * np.arange(count, dtype=np.float64), rates, every * count)

    @property
    def num_steps(self) -> int:
        return len(self.rate)

    def step_end(self) -> np.ndarray:
        """End time of each step. Shape [S]."""
        return np.append(self.start[1:], self.end)

    def rate_at(self, time: float) -> float:
        """The injection rate at ``time``."""
        return float(self.rate[max(int(np.searchsorted(self.start, time, side="right")) - 1, 0)])


#: Seed 004's schedules (Tables II and III): 10,000 time units per load.
def seed004_low_to_high() -> LoadSchedule:
    """Load 0.5, 1.0, ..., 4.5, each for 10,000 time units (seed 004, Fig. 3 and Table II)."""
    return LoadSchedule.steps(0.5, 4.5, 0.5, 10_000.0)


def seed004_high() -> LoadSchedule:
    """Load 3.5, 3.6, ..., 4.4, each for 10,000 time units (seed 004, Fig. 4 and Table III)."""
    return LoadSchedule.steps(3.5, 4.4, 0.1, 10_000.0)


# ---------------------------------------------------------------------- the network
@dataclass(frozen=True, eq=False)
class PacketNetwork:
    """Routers and directed links with their timing, links sorted by (source, destination).

    Build one with `from_topology` or `from_links`. "Slot" k is the k-th link in this order; node
    v's out-links are slots ``out_ptr[v] .. out_ptr[v + 1] - 1`` and its action index i is slot
    ``out_ptr[v] + i`` (neighbours in increasing index order).

    Attributes:
        name: a label.
        num_nodes: N.
        link_src: source node of each slot. Shape [E].
        link_dst: destination node of each slot. Shape [E].
        node_service: time a node spends handling a packet. Shape [N].
        transmission: time a packet takes to be put on each link (the node is busy). Shape [E].
        propagation: time on each link after that. Shape [E].
        source_link: index of each slot's link in the input (the topology's link order). Shape [E].
    """

    name: str
    num_nodes: int
    link_src: np.ndarray
    link_dst: np.ndarray
    node_service: np.ndarray
    transmission: np.ndarray
    propagation: np.ndarray
    source_link: np.ndarray
    out_ptr: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        where = f"packet network {self.name!r}"
        n = int(self.num_nodes)
        src = np.asarray(self.link_src, dtype=np.int64).ravel()
        dst = np.asarray(self.link_dst, dtype=np.int64).ravel()
        e = len(src)
        if n < 2:
            raise RlteError(f"{where}: needs at least 2 nodes, has {n}")
        if dst.shape != (e,):
            raise RlteError(f"{where}: {e} link sources for {len(dst)} destinations")
        bad = np.flatnonzero((src < 0) | (src >= n) | (dst < 0) | (dst >= n))
        if len(bad):
            raise RlteError(
                f"{where}: link {int(bad[0])} names an unknown node ({src[bad[0]]} -> {dst[bad[0]]})"
            )
        loops = np.flatnonzero(src == dst)
        if len(loops):
            raise RlteError(f"{where}: self-loop at node {int(src[loops[0]])}")
        order = np.lexsort((dst, src))
        src, dst = src[order], dst[order]
        dup = np.flatnonzero((np.diff(src) == 0) & (np.diff(dst) == 0))
        if len(dup):
            raise RlteError(f"{where}: duplicate link {int(src[dup[0]])} -> {int(dst[dup[0]])}")
        touched = np.zeros(n, dtype=bool)
        touched[src] = True
        touched[dst] = True
        if not touched.all():
            raise RlteError(f"{where}: node {int(np.flatnonzero(~touched)[0])} has no links (isolated)")

        def timing(values, shape, what: str) -> np.ndarray:
            array = np.broadcast_to(np.asarray(values, dtype=np.float64), shape).copy()
            bad = np.flatnonzero(~np.isfinite(array) | (array < 0))
            if len(bad):
                raise RlteError(f"{where}: {what} {float(array[bad[0]])!r} must be a finite number >= 0")
            return array

        node_service = timing(self.node_service, (n,), "node service time")
        transmission = timing(self.transmission, (e,), "transmission time")[order]
        propagation = timing(self.propagation, (e,), "propagation time")[order]
        source_link = np.asarray(self.source_link, dtype=np.int64).ravel()
        source_link = (np.arange(e) if len(source_link) == 0 else source_link)[order]
        out_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=out_ptr[1:])
        for name, value in (("link_src", src), ("link_dst", dst), ("node_service", node_service),
                            ("transmission", transmission), ("propagation", propagation),
                            ("source_link", source_link), ("out_ptr", out_ptr)):  # fmt: skip
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "num_nodes", n)
        stuck = np.flatnonzero(self.hop_service <= 0)
        if len(stuck):
            k = int(stuck[0])
            raise RlteError(
                f"{where}: handling a packet on link {src[k]} -> {dst[k]} takes no time (need > 0)"
            )
        hops = self.hop_counts()
        unreachable = np.argwhere(~np.isfinite(hops))
        if len(unreachable):
            u, v = unreachable[0]
            raise RlteError(f"{where}: not strongly connected (no path from node {u} to node {v})")

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_links(
        cls,
        num_nodes: int,
        src,
        dst,
        *,
        node_service=1.0,
        transmission=0.0,
        propagation=0.0,
        name: str = "links",
    ) -> PacketNetwork:
        """A network from directed link arrays; timing scalars or arrays (per node, per link).

        The defaults are Boyan and Littman's unit timing.

        Raises:
            RlteError: an unknown node, a self-loop, a duplicate link, an isolated node, a negative
                time, a link whose handling takes no time, or a network that is not strongly connected.
        """
        return cls(name, num_nodes, src, dst, node_service, transmission, propagation, np.arange(len(src)))

    @classmethod
    def from_topology(
        cls,
        topology: Topology,
        timing: str = "unit",
        *,
        packet_bytes: float = 1500.0,
        node_service: float = 0.0,
    ) -> PacketNetwork:
        """A network over an rlte `Topology`.

        Args:
            topology: the network.
            timing: ``"unit"``: Boyan and Littman's rules (every node handles one packet per time
                unit, every hop takes one unit). ``"topology"``: transmission ``packet_bytes * 8 /
                capacity`` and propagation ``delay`` of each link, ``node_service`` seconds per
                packet at every node; time in seconds.
            packet_bytes: packet size for ``"topology"`` timing.
            node_service: processing time per packet for ``"topology"`` timing, seconds.

        Raises:
            RlteError: an unknown timing or a non-positive packet size.
        """
        if timing not in TIMINGS:
            raise RlteError(f"timing {timing!r}: unknown (choose from {', '.join(TIMINGS)})")
        if timing == "unit":
            return cls(topology.name, topology.num_nodes, topology.src, topology.dst, 1.0, 0.0, 0.0,
                       np.arange(topology.num_links))  # fmt: skip
        if not packet_bytes > 0:
            raise RlteError(f"packet_bytes {packet_bytes!r}: must be > 0")
        return cls(topology.name, topology.num_nodes, topology.src, topology.dst, node_service,
                   packet_bytes * 8.0 / topology.capacity, topology.delay, np.arange(topology.num_links))  # fmt: skip

    # ------------------------------------------------------------------ derived
    @property
    def num_links(self) -> int:
        return len(self.link_src)

    @property
    def hop_service(self) -> np.ndarray:
        """How long handling a packet on each slot keeps its node busy. Shape [E]."""
        return self.node_service[self.link_src] + self.transmission

    @property
    def hop_latency(self) -> np.ndarray:
        """Time from handling at a slot's source to arrival at its destination. Shape [E]."""
        return self.hop_service + self.propagation

    @property
    def degree(self) -> np.ndarray:
        """Out-degree of each node. Shape [N]."""
        return np.diff(self.out_ptr)

    @property
    def max_degree(self) -> int:
        return int(self.degree.max())

    def neighbours(self, node: int) -> np.ndarray:
        """The next hops of ``node``, in action-index order."""
        return self.link_dst[self.out_ptr[node] : self.out_ptr[node + 1]]

    def slot(self, u: int, v: int) -> int:
        """The slot of link u -> v.

        Raises:
            RlteError: no such link.
        """
        lo, hi = int(self.out_ptr[u]), int(self.out_ptr[u + 1])
        i = lo + int(np.searchsorted(self.link_dst[lo:hi], v))
        if i >= hi or self.link_dst[i] != v:
            raise RlteError(f"packet network {self.name!r}: no link {u} -> {v}")
        return i

    def arrays(self) -> NetworkArrays:
        """The arrays the compiled code takes."""
        return NetworkArrays(
            self.out_ptr.copy(), self.link_src.copy(), self.link_dst.copy(),
            np.ascontiguousarray(self.hop_service), np.ascontiguousarray(self.hop_latency),
        )  # fmt: skip

    def distances(self, metric: str = "hops") -> np.ndarray:
        """Shortest distances between nodes, in hops or in hop latency (inf where unreachable).

        Shapes:
            [N, N]: from u (row) to t (column).
        """
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import shortest_path

        if metric not in ("hops", "latency"):
            raise RlteError(f"shortest-path metric {metric!r}: unknown (choose from hops, latency)")
        cost = np.ones(self.num_links) if metric == "hops" else self.hop_latency
        graph = csr_matrix((cost, (self.link_src, self.link_dst)), shape=(self.num_nodes,) * 2)
        return shortest_path(graph, method="D", directed=True)

    def hop_counts(self) -> np.ndarray:
        """Fewest hops from u (row) to t (column). Shape [N, N]."""
        return self.distances("hops")


# ---------------------------------------------------------------------- table policies
class TablePolicy(NamedTuple):
    """A fixed routing table: for destination t, node v forwards on its slot k with probability
    proportional to ``weight[t, k]`` (drawn per packet from the policy stream; no draw when only
    one slot has weight)."""

    single: np.ndarray
    """The one slot node v uses toward t, or -1 when several have weight. Shape [N(t), N(v)], int64."""
    cumulative: np.ndarray
    """Running sum of the weights over each node's slots. Shape [N(t), E], float64."""


def table_policy(network: PacketNetwork, weights: np.ndarray, *, order: str = "source") -> TablePolicy:
    """A `TablePolicy` from per-destination next-hop weights (next-hop splits, rlte's routing form).

    Args:
        network: the network.
        weights: row t weighs each link for traffic toward t, >= 0. Shape [N, E].
        order: ``"source"``: columns in the input's (topology's) link order; ``"slot"``: slot order.

    Raises:
        RlteError: a bad shape, a negative weight, or a node with no weight toward a destination.
    """
    weights = np.asarray(weights, dtype=np.float64)
    n, e = network.num_nodes, network.num_links
    if weights.shape != (n, e):
        raise RlteError(f"next-hop weights of shape {weights.shape}: want ({n}, {e})")
    if order not in ("source", "slot"):
        raise RlteError(f"weight order {order!r}: unknown (choose from source, slot)")
    if order == "source":
        weights = weights[:, network.source_link]
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise RlteError("next-hop weights: must be finite and >= 0")
    single = np.full((n, n), -1, dtype=np.int64)
    cumulative = np.zeros((n, e))
    for v in range(n):
        lo, hi = network.out_ptr[v], network.out_ptr[v + 1]
        block = weights[:, lo:hi]
        cumulative[:, lo:hi] = np.cumsum(block, axis=1)
        positive = block > 0
        for t in range(n):
            if t == v:
                continue
            count = int(positive[t].sum())
            if count == 0:
                raise RlteError(f"next-hop weights: node {v} has no next hop toward {t}")
            if count == 1:
                single[t, v] = lo + int(np.flatnonzero(positive[t])[0])
    return TablePolicy(single, cumulative)


def shortest_path_policy(
    network: PacketNetwork, tie_break: str = "random", metric: str = "hops"
) -> TablePolicy:
    """Shortest-path routing, the baseline.

    Args:
        network: the network.
        tie_break: ``"random"``: each packet picks uniformly among the next hops on shortest paths;
            ``"fixed"``: always the first of them (lowest neighbour index).
        metric: ``"hops"`` or ``"latency"`` (hop latency as link cost).

    Raises:
        RlteError: an unknown tie-break or metric.
    """
    if tie_break not in ("random", "fixed"):
        raise RlteError(f"shortest-path tie_break {tie_break!r}: unknown (choose from random, fixed)")
    dist = network.distances(metric)
    cost = np.ones(network.num_links) if metric == "hops" else network.hop_latency
    here = dist[network.link_src].T  # [N(t), E]
    via = cost[None, :] + dist[network.link_dst].T
    on_path = np.isclose(here, via, rtol=1e-9, atol=0.0)
    on_path &= network.link_src[None, :] != np.arange(network.num_nodes)[:, None]
    if tie_break == "fixed":
        first = np.zeros_like(on_path)
        for v in range(network.num_nodes):
            lo, hi = network.out_ptr[v], network.out_ptr[v + 1]
            block = on_path[:, lo:hi]
            has = block.any(axis=1)
            first[np.flatnonzero(has), lo + block[has].argmax(axis=1)] = True
        on_path = first
    return table_policy(network, on_path.astype(np.float64), order="slot")


# ---------------------------------------------------------------------- options and results
@dataclass(frozen=True)
class PacketSimOptions:
    """Limits, conventions and recording of a `PacketSimulator`."""

    queue_limit: int = 1000
    """Packets a node holds (waiting or on their way to it)."""
    network_limit: int = 1000
    """Packets in the network at once; an injection beyond is refused."""
    delivery: str = "boyan_littman"
    """Delivery time convention: ``boyan_littman`` (arrival - injection) or ``handoff`` (seed 004)."""
    source_queue: bool = False
    """True: injected packets join their source's queue instead of being handled at once."""
    window: float = 100.0
    """Length of the time windows of the per-window sums."""
    record_packets: int = 0
    """Delivered packets whose injection time, delivery time, endpoints and hops are kept (the first ones)."""

    def validate(self, where: str = "packet simulator") -> None:
        """Raise `RlteError` naming the first bad field."""
        for name in ("queue_limit", "network_limit"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise RlteError(f"{where}: {name} {value!r} must be an integer >= 1")
        if self.delivery not in DELIVERY_CONVENTIONS:
            raise RlteError(
                f"{where}: delivery {self.delivery!r} must be one of {', '.join(DELIVERY_CONVENTIONS)}"
            )
        if not (isinstance(self.window, int | float) and math.isfinite(self.window) and self.window > 0):
            raise RlteError(f"{where}: window {self.window!r} must be a number > 0")
        if not isinstance(self.record_packets, int | np.integer) or self.record_packets < 0:
            raise RlteError(f"{where}: record_packets {self.record_packets!r} must be an integer >= 0")


class PacketCounts(NamedTuple):
    """Totals so far. ``injected = delivered + refused + dropped + in_flight``."""

    injected: int
    """Packets the arrival process generated (refused ones included)."""
    delivered: int
    """Packets that reached their destination."""
    refused: int
    """Injections refused because the network held ``network_limit`` packets."""
    dropped: int
    """Packets lost because their source could neither send nor queue them."""
    in_flight: int
    """Packets in the network now."""
    hops: int
    """Packet-hops: packets sent over a link."""
    blocked: int
    """Handlings that could not send (next hop full)."""
    queued: int
    """Packets waiting in queues now."""
    delay_sum: float
    """Sum of the delivery times of all delivered packets."""
    time: float
    """Time of the last event processed."""

    @property
    def mean_delay(self) -> float:
        """Mean delivery time of the delivered packets (nan before the first delivery)."""
        return self.delay_sum / self.delivered if self.delivered else math.nan


class WindowSeries(NamedTuple):
    """Per-window sums over consecutive windows ``[i w, (i + 1) w)``. Shapes [W]."""

    start: np.ndarray
    """Start time of each window."""
    injected: np.ndarray
    refused: np.ndarray
    dropped: np.ndarray
    delivered: np.ndarray
    """Packets delivered in the window (by delivery time)."""
    delay_sum: np.ndarray
    """Sum of their delivery times."""
    mean_queued: np.ndarray
    """Time-average number of packets waiting in queues."""

    @property
    def mean_delay(self) -> np.ndarray:
        """Mean delivery time of the packets delivered in each window (nan where none)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.delivered > 0, self.delay_sum / np.maximum(self.delivered, 1), np.nan)


class PacketRecords(NamedTuple):
    """The recorded delivered packets, in delivery order. Shapes [R]."""

    inject_time: np.ndarray
    delay: np.ndarray
    """Delivery time under the simulator's convention."""
    source: np.ndarray
    destination: np.ndarray
    hops: np.ndarray


class Decision(NamedTuple):
    """A routing decision that is due (the slow path)."""

    node: int
    """The node handling the packet."""
    packet: int
    """The packet's pool slot (unique among packets in flight)."""
    destination: int
    time: float
    """Now."""
    hop_start: float
    """When the packet reached this node (its injection time at the source)."""
    injected: bool
    """The packet was just injected (handled at its source at once)."""


class HopOutcome(NamedTuple):
    """What forwarding did."""

    status: int
    """`SENT`, `BLOCKED` (next hop full: the packet waits) or `DROPPED`."""
    next_node: int
    hop_start: float
    """When the packet reached the node it left."""
    arrival: float
    """When it reaches ``next_node`` (nan unless sent)."""
    delivered: bool
    """``next_node`` is its destination."""


def seed_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The traffic and policy generators of one seed (independent streams)."""
    traffic, policy = np.random.SeedSequence(int(seed)).spawn(2)
    return np.random.default_rng(traffic), np.random.default_rng(policy)


# ---------------------------------------------------------------------- compiled primitives
@numba.njit(cache=True)
def _heap_push(sim, time, code):
    counts = sim.counts
    size = counts[C_HEAP_SIZE]
    seq = counts[C_SEQ]
    counts[C_SEQ] = seq + 1
    heap_insert(sim.heap_time, sim.heap_seq, sim.heap_code, size, time, seq, code)
    counts[C_HEAP_SIZE] = size + 1


@numba.njit(cache=True)
def _heap_pop(sim):
    """Remove the earliest event; return its code (the caller read its time at the top)."""
    counts = sim.counts
    top = sim.heap_code[0]
    heap_remove_top(sim.heap_time, sim.heap_seq, sim.heap_code, counts[C_HEAP_SIZE])
    counts[C_HEAP_SIZE] -= 1
    return top


@numba.njit(cache=True)
def _window(sim, time):
    w = int(time / sim.clock[F_WINDOW])
    last = len(sim.win_delivered) - 1
    return w if w < last else last


@numba.njit(cache=True)
def _advance_clock(sim, time):
    """Move the clock to ``time``, adding the queued packets' time to the window sums."""
    last = sim.clock[F_NOW]
    if time > last:
        queued = sim.counts[C_QUEUED]
        if queued > 0:
            width = sim.clock[F_WINDOW]
            w = _window(sim, last)
            end = _window(sim, time)
            while w < end:
                boundary = (w + 1) * width
                sim.win_queue_area[w] += queued * (boundary - last)
                last = boundary
                w += 1
            sim.win_queue_area[w] += queued * (time - last)
        sim.clock[F_NOW] = time


@numba.njit(cache=True)
def next_injection_time(sim, time, exponential):
    """The time at which the cumulative injection rate since ``time`` reaches ``exponential``
    (inf if it never does): the next event of the piecewise-constant-rate Poisson process."""
    starts, rates = sim.seg_start, sim.seg_rate
    last = len(starts) - 1
    seg = sim.counts[C_SEGMENT]
    remaining = exponential
    t = time
    while True:
        while seg < last and starts[seg + 1] <= t:
            seg += 1
        rate = rates[seg]
        if rate > 0.0:
            end = starts[seg + 1] if seg < last else np.inf
            span = (end - t) * rate
            if remaining <= span:
                sim.counts[C_SEGMENT] = seg
                return t + remaining / rate
            remaining -= span
            t = end
        elif seg == last:
            sim.counts[C_SEGMENT] = seg
            return np.inf
        else:
            t = starts[seg + 1]


@numba.njit(cache=True)
def _schedule_injection(sim, traffic_rng, time):
    u = traffic_rng.random()
    nxt = next_injection_time(sim, time, -math.log(1.0 - u))
    if nxt < np.inf:
        _heap_push(sim, nxt, EV_INJECT)


@numba.njit(cache=True)
def start(sim, traffic_rng):
    """Schedule the first injection (call once, on a fresh state)."""
    _schedule_injection(sim, traffic_rng, 0.0)


@numba.njit(cache=True)
def _enqueue(sim, packet, node):
    sim.pkt_next[packet] = -1
    if sim.fifo_len[node] == 0:
        sim.fifo_head[node] = packet
    else:
        sim.pkt_next[sim.fifo_tail[node]] = packet
    sim.fifo_tail[node] = packet
    sim.fifo_len[node] += 1
    sim.counts[C_QUEUED] += 1


@numba.njit(cache=True)
def _dequeue(sim, node):
    packet = sim.fifo_head[node]
    sim.fifo_head[node] = sim.pkt_next[packet]
    sim.fifo_len[node] -= 1
    if sim.fifo_len[node] == 0:
        sim.fifo_tail[node] = -1
    sim.counts[C_QUEUED] -= 1
    return packet


@numba.njit(cache=True)
def _free_packet(sim, packet):
    sim.free[sim.counts[C_FREE_TOP]] = packet
    sim.counts[C_FREE_TOP] += 1
    sim.counts[C_IN_FLIGHT] -= 1


@numba.njit(cache=True)
def _set_decision(sim, packet, node, bypass):
    sim.counts[C_DEC_PACKET] = packet
    sim.counts[C_DEC_NODE] = node
    sim.counts[C_DEC_BYPASS] = bypass


@numba.njit(cache=True)
def _reserve(sim, node):
    sim.occupancy[node] += 1
    if sim.occupancy[node] > sim.max_occupancy[node]:
        sim.max_occupancy[node] = sim.occupancy[node]


@numba.njit(cache=True)
def _arrive(sim, packet, node, time):
    """The packet joins the node's queue; True if the node handles it at once (a decision is due)."""
    _enqueue(sim, packet, node)
    if sim.handle_pending[node] == 0:
        if sim.busy_until[node] <= time:
            _set_decision(sim, packet, node, 0)
            return True
        sim.handle_pending[node] = 1
        _heap_push(sim, sim.busy_until[node], node * 4 + EV_HANDLE)
    return False


@numba.njit(cache=True)
def _deliver(sim, packet, time):
    counts = sim.counts
    if counts[C_DELIVERY] == 0:
        delay = time - sim.pkt_inject[packet]
    else:
        delay = sim.pkt_handoff[packet] - sim.pkt_inject[packet]
    counts[C_DELIVERED] += 1
    sim.clock[F_DELAY_SUM] += delay
    w = _window(sim, time)
    sim.win_delivered[w] += 1
    sim.win_delay_sum[w] += delay
    r = counts[C_RECORDED]
    if r < len(sim.rec_delay):
        sim.rec_inject[r] = sim.pkt_inject[packet]
        sim.rec_delay[r] = delay
        sim.rec_src[r] = sim.pkt_src[packet]
        sim.rec_dst[r] = sim.pkt_dst[packet]
        sim.rec_hops[r] = sim.pkt_hops[packet]
        counts[C_RECORDED] = r + 1
    _free_packet(sim, packet)


@numba.njit(cache=True)
def _drop(sim, packet, time):
    sim.counts[C_DROPPED] += 1
    sim.win_dropped[_window(sim, time)] += 1
    _free_packet(sim, packet)


@numba.njit(cache=True)
def advance(net, sim, traffic_rng, until):
    """Process events before ``until`` until a routing decision is due.

    Returns:
        `ADVANCE_DECISION` (the packet ``counts[C_DEC_PACKET]`` at node ``counts[C_DEC_NODE]``
        awaits its next hop: call `forward`), `ADVANCE_DONE` (no event before ``until``) or
        `ADVANCE_PENDING` (a decision is already due).
    """
    counts = sim.counts
    if counts[C_DEC_PACKET] >= 0:
        return ADVANCE_PENDING
    num_nodes = len(net.out_ptr) - 1
    while True:
        if counts[C_HEAP_SIZE] == 0:
            return ADVANCE_DONE
        time = sim.heap_time[0]
        if time >= until:
            return ADVANCE_DONE
        code = _heap_pop(sim)
        _advance_clock(sim, time)
        kind = code & 3
        item = code >> 2
        if kind == EV_INJECT:
            source = int(traffic_rng.random() * num_nodes)
            if source >= num_nodes:
                source = num_nodes - 1
            dest = int(traffic_rng.random() * (num_nodes - 1))
            if dest >= num_nodes - 1:
                dest = num_nodes - 2
            if dest >= source:
                dest += 1
            _schedule_injection(sim, traffic_rng, time)
            counts[C_INJECTED] += 1
            w = _window(sim, time)
            sim.win_injected[w] += 1
            if counts[C_IN_FLIGHT] >= counts[C_NETWORK_LIMIT]:
                counts[C_REFUSED] += 1
                sim.win_refused[w] += 1
                continue
            counts[C_FREE_TOP] -= 1
            packet = sim.free[counts[C_FREE_TOP]]
            counts[C_IN_FLIGHT] += 1
            sim.pkt_src[packet] = source
            sim.pkt_dst[packet] = dest
            sim.pkt_node[packet] = source
            sim.pkt_hops[packet] = 0
            sim.pkt_inject[packet] = time
            sim.pkt_arrival[packet] = time
            sim.pkt_handoff[packet] = time
            if counts[C_SOURCE_QUEUE] == 0:
                _set_decision(sim, packet, source, 1)
                return ADVANCE_DECISION
            if sim.occupancy[source] >= counts[C_QUEUE_LIMIT]:
                _drop(sim, packet, time)
                continue
            _reserve(sim, source)
            if _arrive(sim, packet, source, time):
                return ADVANCE_DECISION
        elif kind == EV_ARRIVE:
            node = sim.pkt_node[item]
            if node == sim.pkt_dst[item]:
                _deliver(sim, item, time)
            elif _arrive(sim, item, node, time):
                return ADVANCE_DECISION
        else:
            sim.handle_pending[item] = 0
            _set_decision(sim, sim.fifo_head[item], item, 0)
            return ADVANCE_DECISION


@numba.njit(cache=True)
def forward(net, sim, slot):
    """Apply the due decision: send its packet on ``slot`` (an out-link of its node).

    Sets ``clock[F_HOP_START]`` to when the packet reached the node it leaves; on `SENT`,
    ``pkt_arrival[packet]`` is when it reaches ``link_dst[slot]`` and ``pkt_hops`` counts this hop.

    Returns:
        `SENT`; `BLOCKED` (the next hop is full: the packet waits at the node and is offered again
        at its next handling slot); `DROPPED` (a packet just injected could neither leave nor join
        its source's queue); `NO_DECISION` or `BAD_LINK` (caller errors, nothing changed).
    """
    counts = sim.counts
    packet = counts[C_DEC_PACKET]
    if packet < 0:
        return NO_DECISION
    node = counts[C_DEC_NODE]
    if slot < net.out_ptr[node] or slot >= net.out_ptr[node + 1]:
        return BAD_LINK
    bypass = counts[C_DEC_BYPASS]
    counts[C_DEC_PACKET] = -1
    time = sim.clock[F_NOW]
    nxt = net.link_dst[slot]
    dest = sim.pkt_dst[packet]
    sim.clock[F_HOP_START] = sim.pkt_arrival[packet]
    service_end = time + net.hop_service[slot]
    if nxt != dest and sim.occupancy[nxt] >= counts[C_QUEUE_LIMIT]:
        counts[C_BLOCKED] += 1
        if bypass == 1:
            if sim.occupancy[node] >= counts[C_QUEUE_LIMIT]:
                _drop(sim, packet, time)
                return DROPPED
            _reserve(sim, node)
            _enqueue(sim, packet, node)
            if sim.handle_pending[node] == 0:
                retry = sim.busy_until[node] if sim.busy_until[node] > service_end else service_end
                sim.handle_pending[node] = 1
                _heap_push(sim, retry, node * 4 + EV_HANDLE)
        else:
            sim.busy_until[node] = service_end
            sim.handle_pending[node] = 1
            _heap_push(sim, service_end, node * 4 + EV_HANDLE)
        return BLOCKED
    if bypass == 0:
        _dequeue(sim, node)
        sim.occupancy[node] -= 1
        sim.busy_until[node] = service_end
        if sim.fifo_len[node] > 0:
            sim.handle_pending[node] = 1
            _heap_push(sim, service_end, node * 4 + EV_HANDLE)
    if nxt != dest:
        _reserve(sim, nxt)
    arrival = time + net.hop_latency[slot]
    sim.pkt_arrival[packet] = arrival
    sim.pkt_handoff[packet] = time
    sim.pkt_node[packet] = nxt
    sim.pkt_hops[packet] += 1
    counts[C_HOPS] += 1
    _heap_push(sim, arrival, packet * 4 + EV_ARRIVE)
    return SENT


@numba.njit(cache=True)
def choose_table_slot(net, single, cumulative, node, dest, policy_rng):
    """The slot a `TablePolicy` picks for a packet at ``node`` toward ``dest``."""
    slot = single[dest, node]
    if slot >= 0:
        return slot
    lo = net.out_ptr[node]
    hi = net.out_ptr[node + 1]
    x = policy_rng.random() * cumulative[dest, hi - 1]
    for k in range(lo, hi):
        if x < cumulative[dest, k]:
            return k
    # rounding took x to the total: the last slot with weight
    k = hi - 1
    while k > lo and cumulative[dest, k] == cumulative[dest, k - 1]:
        k -= 1
    return k


@numba.njit(cache=True)
def run_table_policy(net, sim, traffic_rng, single, cumulative, policy_rng, until):
    """Simulate until ``until`` routing with a `TablePolicy`."""
    counts, pkt_dst = sim.counts, sim.pkt_dst
    while advance(net, sim, traffic_rng, until) == ADVANCE_DECISION:
        slot = choose_table_slot(
            net, single, cumulative, counts[C_DEC_NODE], pkt_dst[counts[C_DEC_PACKET]], policy_rng
        )
        forward(net, sim, slot)


# ---------------------------------------------------------------------- the simulator
@numba.njit(cache=True)
def _new_sim_state(num_nodes, pool, windows, records, seg_start, seg_rate, queue_limit, source_queue, delivery,
                   window):  # fmt: skip
    state = structref.new(_SIM_STATE_TYPE)
    counts = np.zeros(NUM_COUNTS, dtype=np.int64)
    counts[C_FREE_TOP] = pool
    counts[C_DEC_PACKET] = -1
    counts[C_DEC_NODE] = -1
    counts[C_QUEUE_LIMIT] = queue_limit
    counts[C_NETWORK_LIMIT] = pool
    counts[C_SOURCE_QUEUE] = source_queue
    counts[C_DELIVERY] = delivery
    state.counts = counts
    clock = np.zeros(NUM_CLOCK)
    clock[F_WINDOW] = window
    state.clock = clock
    heap = pool + num_nodes + 2
    state.heap_time = np.zeros(heap)
    state.heap_seq = np.zeros(heap, dtype=np.int64)
    state.heap_code = np.zeros(heap, dtype=np.int64)
    state.seg_start = seg_start.copy()
    state.seg_rate = seg_rate.copy()
    state.fifo_head = np.full(num_nodes, -1, dtype=np.int64)
    state.fifo_tail = np.full(num_nodes, -1, dtype=np.int64)
    state.fifo_len = np.zeros(num_nodes, dtype=np.int64)
    state.occupancy = np.zeros(num_nodes, dtype=np.int64)
    state.max_occupancy = np.zeros(num_nodes, dtype=np.int64)
    state.handle_pending = np.zeros(num_nodes, dtype=np.int64)
    state.busy_until = np.zeros(num_nodes)
    state.pkt_src = np.zeros(pool, dtype=np.int64)
    state.pkt_dst = np.zeros(pool, dtype=np.int64)
    state.pkt_node = np.zeros(pool, dtype=np.int64)
    state.pkt_hops = np.zeros(pool, dtype=np.int64)
    state.pkt_next = np.full(pool, -1, dtype=np.int64)
    state.pkt_inject = np.zeros(pool)
    state.pkt_arrival = np.zeros(pool)
    state.pkt_handoff = np.zeros(pool)
    state.free = np.arange(pool - 1, -1, -1).astype(np.int64)
    state.win_injected = np.zeros(windows, dtype=np.int64)
    state.win_refused = np.zeros(windows, dtype=np.int64)
    state.win_dropped = np.zeros(windows, dtype=np.int64)
    state.win_delivered = np.zeros(windows, dtype=np.int64)
    state.win_delay_sum = np.zeros(windows)
    state.win_queue_area = np.zeros(windows)
    state.rec_inject = np.zeros(records)
    state.rec_delay = np.zeros(records)
    state.rec_src = np.zeros(records, dtype=np.int64)
    state.rec_dst = np.zeros(records, dtype=np.int64)
    state.rec_hops = np.zeros(records, dtype=np.int64)
    return state


@numba.njit(cache=True)
def _sim_arrays(s):
    return (
        s.counts, s.clock, s.heap_time, s.heap_seq, s.heap_code, s.seg_start, s.seg_rate, s.fifo_head,
        s.fifo_tail, s.fifo_len, s.occupancy, s.max_occupancy, s.handle_pending, s.busy_until, s.pkt_src,
        s.pkt_dst, s.pkt_node, s.pkt_hops, s.pkt_next, s.pkt_inject, s.pkt_arrival, s.pkt_handoff, s.free,
        s.win_injected, s.win_refused, s.win_dropped, s.win_delivered, s.win_delay_sum, s.win_queue_area,
        s.rec_inject, s.rec_delay, s.rec_src, s.rec_dst, s.rec_hops,
    )  # fmt: skip


@numba.njit(cache=True)
def _new_network_state(out_ptr, link_src, link_dst, hop_service, hop_latency):
    state = structref.new(_NETWORK_STATE_TYPE)
    state.out_ptr = out_ptr
    state.link_src = link_src
    state.link_dst = link_dst
    state.hop_service = hop_service
    state.hop_latency = hop_latency
    return state


def network_state(network: PacketNetwork) -> NetworkState:
    """The compiled view of a network (see `NetworkArrays`)."""
    return _new_network_state(*network.arrays())


def new_state(
    network: PacketNetwork, load: LoadSchedule, options: PacketSimOptions
) -> tuple[SimState, SimArrays]:
    """A fresh simulation state (empty network, nothing scheduled): the compiled view and its arrays."""
    windows = int(math.ceil(float(load.end) / options.window)) + 1
    state = _new_sim_state(
        network.num_nodes, int(options.network_limit), windows, max(int(options.record_packets), 1),
        load.start, load.rate, int(options.queue_limit), int(bool(options.source_queue)),
        DELIVERY_CONVENTIONS.index(options.delivery), float(options.window),
    )  # fmt: skip
    return state, SimArrays(*_sim_arrays(state))


class PacketSimulator:
    """One simulation run over a `PacketNetwork` under a `LoadSchedule`.

    ``reset(traffic_rng)`` empties the network; ``run(policy, policy_rng, until)`` simulates with a
    `TablePolicy` in compiled code; ``next_decision`` / ``forward`` step one routing decision at a
    time from Python (for external policies). Compiled learners take `state` and `network_state`
    and call `advance` and `forward` themselves; `arrays` are the same arrays, for reading.

    Args:
        network: routers, links and timing.
        load: the injection rate over time; its ``end`` is the horizon.
        options: limits, the delivery convention, windows and recording.
    """

    def __init__(
        self, network: PacketNetwork, load: LoadSchedule, options: PacketSimOptions | None = None
    ) -> None:
        self.network = network
        self.load = load
        self.options = options or PacketSimOptions()
        self.options.validate()
        self.horizon = float(load.end)
        self.network_state = network_state(network)
        self.arrays: SimArrays | None = None
        self.state: SimState | None = None
        self.traffic_rng: np.random.Generator | None = None

    # ------------------------------------------------------------------ running
    def reset(self, traffic_rng: np.random.Generator) -> None:
        """An empty network at time 0; traffic drawn from ``traffic_rng`` (kept and advanced)."""
        self.traffic_rng = traffic_rng
        self.state, self.arrays = new_state(self.network, self.load, self.options)
        start(self.state, traffic_rng)

    def _arrays(self) -> SimArrays:
        if self.arrays is None:
            raise RlteError("packet simulator: call reset(traffic_rng) first")
        return self.arrays

    def _until(self, until: float | None) -> float:
        return self.horizon if until is None else min(float(until), self.horizon)

    def run(self, policy: TablePolicy, policy_rng: np.random.Generator, until: float | None = None) -> None:
        """Simulate the events before ``until`` (default: the horizon) routing with ``policy``."""
        if self._arrays().counts[C_DEC_PACKET] >= 0:
            raise RlteError("packet simulator: a decision is due (forward it before run)")
        run_table_policy(self.network_state, self.state, self.traffic_rng, policy.single, policy.cumulative,
                         policy_rng, self._until(until))  # fmt: skip

    def next_decision(self, until: float | None = None) -> Decision | None:
        """Simulate until the next routing decision before ``until``; None if there is none (a
        decision already due is returned again)."""
        self._arrays()
        status = advance(self.network_state, self.state, self.traffic_rng, self._until(until))
        if status == ADVANCE_DONE:
            return None
        return self.pending_decision()

    def pending_decision(self) -> Decision | None:
        """The decision that is due, if any."""
        sim = self._arrays()
        packet = int(sim.counts[C_DEC_PACKET])
        if packet < 0:
            return None
        return Decision(int(sim.counts[C_DEC_NODE]), packet, int(sim.pkt_dst[packet]), float(sim.clock[F_NOW]),
                        float(sim.pkt_arrival[packet]), bool(sim.counts[C_DEC_BYPASS]))  # fmt: skip

    def forward(self, action: int) -> HopOutcome:
        """Send the due decision's packet on its node's out-link number ``action`` (0 .. degree - 1).

        Raises:
            RlteError: no decision is due, or ``action`` is not an out-link index of the node.
        """
        sim = self._arrays()
        packet, node = int(sim.counts[C_DEC_PACKET]), int(sim.counts[C_DEC_NODE])
        if packet < 0:
            raise RlteError("packet simulator: no decision is due (call next_decision first)")
        degree = int(self.network.out_ptr[node + 1] - self.network.out_ptr[node])
        if not 0 <= int(action) < degree:
            raise RlteError(f"packet simulator: action {action} at node {node}: must be in [0, {degree - 1}]")
        slot = int(self.network.out_ptr[node]) + int(action)
        status = int(forward(self.network_state, self.state, slot))
        nxt = int(self.network.link_dst[slot])
        arrival = float(sim.pkt_arrival[packet]) if status == SENT else math.nan
        return HopOutcome(status, nxt, float(sim.clock[F_HOP_START]), arrival,
                          status == SENT and nxt == int(sim.pkt_dst[packet]))  # fmt: skip

    # ------------------------------------------------------------------ results
    @property
    def now(self) -> float:
        return float(self._arrays().clock[F_NOW])

    def counts(self) -> PacketCounts:
        sim = self._arrays()
        c = sim.counts
        return PacketCounts(
            int(c[C_INJECTED]), int(c[C_DELIVERED]), int(c[C_REFUSED]), int(c[C_DROPPED]), int(c[C_IN_FLIGHT]),
            int(c[C_HOPS]), int(c[C_BLOCKED]), int(c[C_QUEUED]), float(sim.clock[F_DELAY_SUM]),
            float(sim.clock[F_NOW]),
        )  # fmt: skip

    def windows(self) -> WindowSeries:
        """Per-window sums over ``[0, horizon)``."""
        sim = self._arrays()
        width = self.options.window
        cut = slice(0, len(sim.win_delivered) - 1)
        return WindowSeries(
            width * np.arange(cut.stop, dtype=np.float64), sim.win_injected[cut].copy(), sim.win_refused[cut].copy(),
            sim.win_dropped[cut].copy(), sim.win_delivered[cut].copy(), sim.win_delay_sum[cut].copy(),
            sim.win_queue_area[cut] / width,
        )  # fmt: skip

    def packets(self) -> PacketRecords:
        """The recorded delivered packets (the first ``options.record_packets``)."""
        sim = self._arrays()
        r = int(sim.counts[C_RECORDED])
        return PacketRecords(sim.rec_inject[:r].copy(), sim.rec_delay[:r].copy(), sim.rec_src[:r].copy(),
                             sim.rec_dst[:r].copy(), sim.rec_hops[:r].copy())  # fmt: skip

    def queue_lengths(self) -> np.ndarray:
        """Packets waiting at each node now. Shape [N]."""
        return self._arrays().fifo_len.copy()

    def occupancy(self) -> np.ndarray:
        """Packets each node holds now (waiting or on their way to it): what the limit counts. Shape [N]."""
        return self._arrays().occupancy.copy()

    def max_occupancy(self) -> np.ndarray:
        """Largest occupancy seen at each node. Shape [N]."""
        return self._arrays().max_occupancy.copy()

    # ------------------------------------------------------------------ checkpoints
    def get_state(self) -> dict:
        """Every array of the run and the traffic generator's state (numpy arrays, plain values)."""
        sim = self._arrays()
        state = {name: value.copy() for name, value in sim._asdict().items()}
        state["traffic_rng"] = self.traffic_rng.bit_generator.state
        return state

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned (on a simulator built with the same arguments)."""
        if self.arrays is None:
            self.state, self.arrays = new_state(self.network, self.load, self.options)
        rng_state = state["traffic_rng"]
        bit_generator = getattr(np.random, rng_state["bit_generator"])()
        bit_generator.state = rng_state
        self.traffic_rng = np.random.Generator(bit_generator)
        for name, array in self.arrays._asdict().items():
            value = np.asarray(state[name])
            if value.shape != array.shape:
                raise RlteError(f"packet simulator state: {name} has shape {value.shape}, want {array.shape}")
            array[...] = value


__all__ = [
    "DELIVERY_CONVENTIONS",
    "SEED004_DELIVERY",
    "Decision",
    "HopOutcome",
    "LoadSchedule",
    "PacketCounts",
    "PacketNetwork",
    "PacketRecords",
    "PacketSimOptions",
    "PacketSimulator",
    "NetworkState",
    "SimState",
    "TablePolicy",
    "WindowSeries",
    "advance",
    "forward",
    "seed004_high",
    "seed004_low_to_high",
    "seed_streams",
    "shortest_path_policy",
    "table_policy",
]
