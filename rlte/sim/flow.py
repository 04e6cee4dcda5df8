"""Fluid (flow-level) model of a network: a routing and a traffic matrix give link loads,
utilisations, delay, loss and throughput. Batched: a leading shape ``[...]`` on the routing, the
traffic, or both (broadcast) evaluates many at once with matrix products, never a Python loop over
demands.

Three routing forms (defined in `rlte.sim.routing`, shared with the other simulators), evaluated
the same way (see docs/ARCHITECTURE.md):

- `PathRouting`: split ratios ``[..., D, K]`` over the candidate paths of a `PathSet`;
- `NextHopRouting`: per-destination next-hop split ratios ``[..., N, E]`` (hop-by-hop forwarding);
- link weights, turned into next-hop splits by `weights_to_splits` with a named rule (ECMP over
  shortest paths, or weighted next-hop splitting, a fluid stand-in for MAROH's weighted hash, which
  `rlte.sim.hash_routing` implements exactly).

Overload model: utilisation is that of the offered load (what the routing puts on a link when
nothing is dropped); a link at utilisation u > 1 forwards 1/u of what arrives, and the forwarded
fractions compound hop by hop along each route. This is exact when at most one overloaded link
lies on a route and overstates loss when several do (a downstream link then receives less than
its offered load). A full queue's delay is the buffer's (`rlte.metrics.DEFAULT_BUFFER_S`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import MatrixRankWarning, spsolve

from rlte import metrics
from rlte.errors import RlteError
from rlte.net.paths import PathSet
from rlte.net.topology import Topology
from rlte.sim.routing import (  # noqa: F401  (the routing forms, re-exported for callers of this module)
    WEIGHT_RULES,
    NextHopRouting,
    PathRouting,
    Routing,
    even_splits,
    proportional_splits,
    weights_to_splits,
)


class FlowStats(NamedTuple):
    """What the fluid model measures, with the routing's and traffic's batch shape ``[...]``."""

    link_load: np.ndarray  # [..., E] offered load, bit/s
    utilisation: np.ndarray  # [..., E]
    offered: np.ndarray  # [...] total demand, bit/s
    delivered: np.ndarray  # [...] total delivered, bit/s
    mlu: np.ndarray
    mean_util: np.ndarray
    phi: np.ndarray
    mean_delay_ms: np.ndarray
    loss_rate: np.ndarray
    throughput: np.ndarray

    def metric_dict(self) -> dict[str, np.ndarray]:
        """The reported metrics by name (`rlte.metrics.FLOW_METRICS`)."""
        return {name: getattr(self, name) for name in metrics.FLOW_METRICS}


# ---------------------------------------------------------------------- traffic checks
def _check_traffic(topology: Topology, traffic: np.ndarray) -> np.ndarray:
    traffic = np.asarray(traffic, dtype=np.float64)
    n = topology.num_nodes
    if traffic.ndim < 2 or traffic.shape[-2:] != (n, n):
        raise RlteError(
            f"traffic of shape {traffic.shape}: topology {topology.name!r} needs [..., {n}, {n}] matrices"
        )
    if not np.isfinite(traffic).all():
        raise RlteError("traffic: contains NaN or infinite demands")
    if (traffic < 0).any():
        raise RlteError("traffic: contains negative demands")
    return traffic


# ---------------------------------------------------------------------- path form
@dataclass(eq=False)
class PathEvaluator:
    """Evaluates path-split routings over one `PathSet` on one topology. Build once, call often.

    The path x link incidence is kept dense when small (BLAS beats sparse products for batches)
    and sparse otherwise.
    """

    topology: Topology
    pathset: PathSet
    dense_limit: int = 2_000_000

    def __post_init__(self) -> None:
        ps = self.pathset
        if ps.num_links != self.topology.num_links or ps.num_nodes != self.topology.num_nodes:
            raise RlteError(f"path set does not match topology {self.topology.name!r}")
        # Slot incidence [D*K, E]: row d*K + k is path k of demand d (zero for padding), so a
        # split tensor times its demand multiplies it with no gather.
        slot_of_path = np.empty(len(ps.path_demand), dtype=np.int64)
        slot_of_path[ps.path_index[ps.mask]] = np.flatnonzero(ps.mask.ravel())
        path_incidence = sp.csr_matrix(ps.incidence, dtype=np.float64).tocoo()
        num_slots = ps.mask.size
        slots = sp.csr_matrix(
            (path_incidence.data, (slot_of_path[path_incidence.row], path_incidence.col)),
            shape=(num_slots, ps.num_links),
        )
        self.incidence = slots.toarray() if num_slots * ps.num_links <= self.dense_limit else slots
        self.pairs = np.asarray(ps.pairs)

    def demand_vector(self, traffic: np.ndarray) -> np.ndarray:
        """[..., N, N] -> [..., D] in the path set's demand order."""
        return traffic[..., self.pairs[:, 0], self.pairs[:, 1]]

    def slot_flows(self, splits: np.ndarray, traffic: np.ndarray) -> np.ndarray:
        """Offered bit/s on every path slot. Shapes: splits [..., D, K], traffic [..., N, N] -> [..., D*K]."""
        flows = splits * self.demand_vector(traffic)[..., None]
        return flows.reshape(*flows.shape[:-2], -1)

    def _times_incidence(self, slot_values: np.ndarray) -> np.ndarray:
        """[..., D*K] @ [D*K, E] -> [..., E]."""
        if isinstance(self.incidence, np.ndarray):
            return slot_values @ self.incidence
        batch = slot_values.shape[:-1]
        flat = slot_values.reshape(-1, slot_values.shape[-1])
        return np.asarray((self.incidence.T @ flat.T).T).reshape(*batch, -1)

    def link_loads(self, splits: np.ndarray, traffic: np.ndarray) -> np.ndarray:
        """Offered link loads, bit/s. Shapes: splits [..., D, K], traffic [..., N, N] -> [..., E]."""
        if traffic.ndim == 2 and isinstance(self.incidence, np.ndarray):
            # one matrix for the whole batch: fold the demands into the incidence rows
            slot_demand = np.repeat(self.demand_vector(traffic), self.pathset.mask.shape[1])
            return splits.reshape(*splits.shape[:-2], -1) @ (self.incidence * slot_demand[:, None])
        return self._times_incidence(self.slot_flows(splits, traffic))

    def delivered(self, splits: np.ndarray, traffic: np.ndarray, forwarded: np.ndarray) -> np.ndarray:
        """Total delivered bit/s given each link's forwarded fraction [..., E]."""
        flows = self.slot_flows(splits, traffic)
        log_forward = np.log(np.maximum(forwarded, 1e-300))
        if isinstance(self.incidence, np.ndarray):
            path_log = log_forward @ self.incidence.T
        else:
            batch = log_forward.shape[:-1]
            path_log = np.asarray(
                (self.incidence @ log_forward.reshape(-1, log_forward.shape[-1]).T).T
            ).reshape(*batch, -1)
        return np.sum(flows * np.exp(path_log), axis=-1)


# ---------------------------------------------------------------------- next-hop form
@dataclass(eq=False)
class NextHopEvaluator:
    """Evaluates per-destination next-hop routings on one topology.

    For destination t, the traffic x_u^t that node u forwards toward t solves
    ``x^t = d^t + M_t^T x^t`` with ``d_u^t`` the demand u -> t and ``M_t[u, v]`` the fraction of
    u's traffic toward t sent on link (u, v) (times that link's forwarded fraction when losses are
    applied); t itself absorbs its traffic. One batched dense solve per destination set.
    """

    topology: Topology

    def __post_init__(self) -> None:
        topology = self.topology
        n, e = topology.num_nodes, topology.num_links
        self.src = np.asarray(topology.src)
        self.dst = np.asarray(topology.dst)
        # scatter matrix: link e -> entry (src, dst) of an N x N matrix
        self.scatter = sp.csr_matrix((np.ones(e), (np.arange(e), self.src * n + self.dst)), shape=(e, n * n))
        self.into = sp.csr_matrix((np.ones(e), (self.dst, np.arange(e))), shape=(n, e))

    def node_traffic(
        self, splits: np.ndarray, traffic: np.ndarray, forwarded: np.ndarray | None = None
    ) -> np.ndarray:
        """x[..., t, u]: bit/s that node u forwards toward destination t (its own demand plus transit).

        Shapes: splits [..., N, E], traffic [..., N, N], forwarded [..., E] or None -> [..., N, N].
        """
        n = self.topology.num_nodes
        weights = splits if forwarded is None else splits * forwarded[..., None, :]
        batch = np.broadcast_shapes(weights.shape[:-2], traffic.shape[:-2])
        weights = np.broadcast_to(weights, (*batch, n, weights.shape[-1]))
        flat = weights.reshape(-1, weights.shape[-1])  # [B*N, E]
        transfer = np.asarray((self.scatter.T @ flat.T).T).reshape(*batch, n, n, n)  # [..., t, u, v]
        index = np.arange(n)
        transfer[..., index, index, :] = 0.0  # the destination absorbs what reaches it
        system = np.eye(n) - np.swapaxes(transfer, -1, -2)  # (I - M_t^T)
        demand = np.broadcast_to(np.swapaxes(traffic, -1, -2), (*batch, n, n)).copy()  # [..., t, u]
        demand[..., index, index] = 0.0
        try:
            return np.linalg.solve(system, demand[..., None])[..., 0]
        except np.linalg.LinAlgError:
            raise RlteError(
                "next-hop routing traps traffic in a forwarding loop that never reaches its destination"
            ) from None

    def per_destination_link_flow(
        self, splits: np.ndarray, traffic: np.ndarray, forwarded: np.ndarray | None = None
    ) -> np.ndarray:
        """Flow toward each destination arriving on each link, bit/s. -> [..., N, E]."""
        x = self.node_traffic(splits, traffic, forwarded)
        return splits * x[..., self.src]

    def link_loads(self, splits: np.ndarray, traffic: np.ndarray) -> np.ndarray:
        """Offered link loads, bit/s. Shapes: splits [..., N, E], traffic [..., N, N] -> [..., E]."""
        return self.per_destination_link_flow(splits, traffic).sum(axis=-2)

    def delivered(self, splits: np.ndarray, traffic: np.ndarray, forwarded: np.ndarray) -> np.ndarray:
        """Total delivered bit/s: what leaves the last link into each destination."""
        arriving = self.per_destination_link_flow(splits, traffic, forwarded) * forwarded[..., None, :]
        n = self.topology.num_nodes
        into_destination = arriving[..., np.arange(n)[:, None] == self.dst[None, :]]
        return into_destination.reshape(*arriving.shape[:-2], -1).sum(axis=-1)


# ---------------------------------------------------------------------- the model
@dataclass(eq=False)
class FlowModel:
    """The fluid model of one topology, with its delay and overload parameters.

    Args:
        topology: the network.
        packet_bytes: mean packet size of the M/M/1 delay.
        buffer_s: delay of a full queue, at line rate.
    """

    topology: Topology
    packet_bytes: float = metrics.DEFAULT_PACKET_BYTES
    buffer_s: float = metrics.DEFAULT_BUFFER_S

    @cached_property
    def next_hop(self) -> NextHopEvaluator:
        return NextHopEvaluator(self.topology)

    def paths(self, pathset: PathSet) -> PathEvaluator:
        """The evaluator of one path set (cached)."""
        cache = self.__dict__.setdefault("_path_evaluators", {})
        if id(pathset) not in cache:
            cache[id(pathset)] = (pathset, PathEvaluator(self.topology, pathset))
        return cache[id(pathset)][1]

    def _evaluator(self, routing: Routing):
        if isinstance(routing, PathRouting):
            return self.paths(routing.pathset), np.asarray(routing.splits, dtype=np.float64)
        if isinstance(routing, NextHopRouting):
            splits = np.asarray(routing.splits, dtype=np.float64)
            if splits.shape[-2:] != (self.topology.num_nodes, self.topology.num_links):
                raise RlteError(f"next-hop splits of shape {splits.shape}: want [..., N, E]")
            return self.next_hop, splits
        raise RlteError(f"routing of type {type(routing).__name__}: expected PathRouting or NextHopRouting")

    def link_loads(self, routing: Routing, traffic: np.ndarray) -> np.ndarray:
        """Offered link loads, bit/s [..., E] (the fast path: no delay or loss)."""
        evaluator, splits = self._evaluator(routing)
        return evaluator.link_loads(splits, _check_traffic(self.topology, traffic))

    def evaluate(self, routing: Routing, traffic: np.ndarray, *, check: bool = True) -> FlowStats:
        """Every flow metric of a routing on traffic matrices [..., N, N] (batches broadcast).

        ``check=False`` skips validating the traffic (for callers that validated it once, such as
        an environment stepping through a loaded series)."""
        evaluator, splits = self._evaluator(routing)
        traffic = _check_traffic(self.topology, traffic) if check else traffic
        load = evaluator.link_loads(splits, traffic)
        return self.stats_from_loads(
            load, traffic, lambda forwarded: evaluator.delivered(splits, traffic, forwarded)
        )

    def stats_from_loads(self, load: np.ndarray, traffic: np.ndarray, deliver) -> FlowStats:
        """Metrics from offered link loads; ``deliver(forwarded) -> delivered bit/s``."""
        topology = self.topology
        utilisation = load / topology.capacity
        offered = np.broadcast_to(traffic.sum(axis=(-1, -2)), utilisation.shape[:-1])
        forwarded = metrics.forwarded_fraction(utilisation)
        overloaded = (utilisation > 1.0).any(axis=-1)
        # the loss model's propagation is only needed where some link is overloaded
        delivered = np.where(overloaded, deliver(forwarded), offered) if overloaded.any() else offered
        delays = metrics.link_delay_s(
            utilisation,
            topology.capacity,
            topology.delay,
            packet_bytes=self.packet_bytes,
            buffer_s=self.buffer_s,
        )
        return FlowStats(
            link_load=load,
            utilisation=utilisation,
            offered=offered,
            delivered=delivered,
            mlu=metrics.mlu(utilisation),
            mean_util=metrics.mean_util(utilisation),
            phi=metrics.phi(utilisation),
            mean_delay_ms=metrics.mean_delay_ms(load, delays, offered),
            loss_rate=metrics.loss_rate(delivered, offered),
            throughput=metrics.throughput(delivered),
        )


def destination_link_flows(topology: Topology, splits: np.ndarray, towards: np.ndarray) -> np.ndarray | None:
    """Per-destination link flows of ONE next-hop routing, for K destinations: per destination
    solve (I - P^T) x = d for the node throughput x, all destinations in one sparse block-diagonal
    system (scales to large topologies; `NextHopEvaluator` is the dense, batched form). The LP
    optimum uses it to turn its splits back into exact flows.

    Returns:
        The flows, or None if the splits trap traffic in a loop.

    Shapes:
        splits [K, E] (rows of the K destinations), towards [K, N] (what each node sends to each)
        -> [K, E].
    """
    k, num_links = splits.shape
    n, src, dst = topology.num_nodes, topology.src, topology.dst
    job, link = np.nonzero(splits)
    size = k * n
    system = sp.csc_matrix(
        (
            np.concatenate([np.ones(size), -splits[job, link]]),
            (
                np.concatenate([np.arange(size), job * n + dst[link]]),
                np.concatenate([np.arange(size), job * n + src[link]]),
            ),
        ),
        shape=(size, size),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MatrixRankWarning)
        throughput = np.atleast_1d(spsolve(system, towards.reshape(-1)))
    if not np.all(np.isfinite(throughput)) or np.any(throughput < -1e-9 * max(towards.max(), 1.0)):
        return None
    throughput = np.clip(throughput, 0.0, None).reshape(k, n)
    return throughput[:, src] * splits


def reference_link_loads(
    pathset: PathSet, splits: np.ndarray, traffic: np.ndarray, num_links: int
) -> np.ndarray:
    """Link loads of one path routing by a plain Python loop over demands, paths and links.

    The slow, obviously correct reference that tests compare the batched evaluators against and
    `rlte bench` times them against. Shapes: splits [D, K], traffic [N, N] -> [E].
    """
    load = [0.0] * num_links
    for d, (s, t) in enumerate(pathset.pairs.tolist()):
        demand = float(traffic[s][t])
        for k, path in enumerate(pathset.paths[d]):
            flow = demand * float(splits[d][k])
            for link in path:
                load[link] += flow
    return np.array(load)


def evaluate(topology: Topology, routing: Routing, traffic: np.ndarray, **options) -> FlowStats:
    """One-off evaluation (builds a `FlowModel`; keep one yourself in a loop)."""
    return FlowModel(topology, **options).evaluate(routing, traffic)
