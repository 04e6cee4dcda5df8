"""Seed 002's (MAROH / SAMAROH) objective Phi, the population variance of link utilisation
(`rlte.metrics.phi`), for the baselines the paper compares with, and its lower bounds.

- `ecmp_phi`: Phi of uniform weights under the same per-flow rule (ECMP over the stretch DAG, or
  over the authors' next hops with ``dag="authors"``);
- `lp_routing_phi`: Phi of the LP's MLU-optimal routing (`rlte.baselines.lp.solve_min_mlu` on
  the flow set's matrix; splittable, loop-free);
- `min_phi`: the least Phi of any splittable routing, by HiGHS's QP solver: over all routings
  (the default; the bound no routing, split or unsplit, can beat), or over per-destination
  next hops such as `stretch_dag`'s (the bound for every routing that forwards only on them:
  the hash and split rules whatever the weights, hence the genetic algorithm);
- `min_phi_paths`: the same over a set of paths (default every simple path: all loop-free
  routings; tiny networks only);
- `router_phi_bound`: the bound for a `FlowRouter`'s rule whatever the weights: `min_phi` over the
  stretch DAG's next hops, or `min_phi_paths` over the routes the authors' path calculator allows
  (``dag="authors"``, `rlte.net.maroh_dag`; its next hops depend on the previous node, so no
  per-destination mask describes them). On Abilene at 40 %: 0.01935 over the stretch DAG, 0.01643
  over the authors' 73 routes.

The QP. Phi is convex in the link loads, which are linear in the flows; with the deviations
``d_e = u_e - m`` as variables it is separable::

    minimise    (1 / 2) sum_e d_e^2  (+ REGULARISATION / 2 * sum flows^2)   (Phi = sum_e d_e^2 / E)
    subject to  the flows route every demand (next-hop or path form, flows >= 0)
                sum_{flows on e} flow / capacity[e] - d_e - m = 0        (all e; d, m free)
                sum_e d_e = 0                                            (so m is the mean utilisation)

The mean moves with the routing: longer routes raise it and bring idle links nearer to it, so the
optimum uses long detours (and, over all routings, circulations; on Abilene at 40 % the minimum
over all routings, 0.00529, is also that over simple paths, far below the 0.0194 of the stretch
DAG). Units are scaled as in the LP (`rlte.baselines.lp`): flows in multiples of ``a * c_ref``,
utilisations in multiples of ``a`` (a lower bound of the optimal MLU). The flows' small
regularisation makes the optimum unique; without it HiGHS's active-set solver cycles among the
many routings with equal loads (Abilene over all simple paths: no end after 800,000 iterations).

Two numbers come out. ``phi`` is that of the solution's routing (recomputed from its loads): a
routing exists with this Phi. ``lower`` is certified by weak duality from the solution's
deviations d (multipliers -d): with link costs ``d_e c_ref / c_e``, ``r^T y - |d|^2 / 2`` is
below the minimum, where y are the least route costs to each destination (Bellman-Ford). Over
all routings the regularised optimum leaves slightly negative cycles, so no such y exists and
``lower`` is NaN; on path sets and DAGs it is finite, 1e-5 to 1e-3 (relative) below ``phi`` on the
MAROH inputs.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import highspy
import numpy as np
import scipy.sparse as sp

from rlte import metrics
from rlte.baselines.lp import _hop_distance, _mlu_lower_bound, _silent_highs, _validated_matrix, solve_min_mlu
from rlte.errors import RlteError
from rlte.net.flows import Flows
from rlte.net.paths import PathSet, all_simple_paths
from rlte.net.topology import Topology
from rlte.sim.hash_routing import FlowRouter

#: Weight of the flows' squares in the QP's objective (scaled units), beside 1 for the deviations:
#: enough to stop the active-set solver cycling (1e-6 and 1e-8 still cycle on Abilene), with no
#: effect on the first 8 digits of Phi on rhombus and Abilene at 40 % (against 1e-6).
REGULARISATION = 1e-4


class PhiBound(NamedTuple):
    """The least Phi over a class of splittable routings.

    Attributes:
        phi: Phi of the optimal routing found (from its loads).
        lower: a certified lower bound of the minimum (weak duality), <= phi; NaN when the
            certificate fails (over all routings).
        link_load: the routing's load on each link, bit/s. Shape [E].
        utilisation: its link utilisation. Shape [E].
        runtime_s: wall time of the whole call.
        status: HiGHS's model status in lower case (``"optimal"``).
        label: the routings it is taken over (``"all routings"``, ``"eligible next hops"``,
            ``"all simple paths"``, ``"paths stretch1.5"``).
    """

    phi: float
    lower: float
    link_load: np.ndarray
    utilisation: np.ndarray
    runtime_s: float
    status: str
    label: str


# ---------------------------------------------------------------------- baselines
def ecmp_phi(
    topology: Topology, flows: Flows, rule: str = "hash", stretch: float = 1.5, *, dag: str = "stretch"
) -> float:
    """Phi of uniform link weights under a flow rule (`rlte.sim.hash_routing`): ECMP over the
    stretch DAG (or the authors' next hops, ``dag="authors"``), each flow hashed to one next hop
    (``"hash"``) or split evenly (``"split"``)."""
    router = FlowRouter(topology, flows, rule, dag=dag, stretch=stretch)
    return float(router.phi(np.ones(topology.num_links)))


def lp_routing_phi(topology: Topology, matrix: np.ndarray) -> float:
    """Phi of the MLU-optimal routing of `rlte.baselines.lp.solve_min_mlu` (splittable,
    loop-free) on a traffic matrix [N, N] (a flow set's is ``flows.matrix()``)."""
    result = solve_min_mlu(topology, matrix)
    return float(metrics.phi(result.link_load / topology.capacity))


# ---------------------------------------------------------------------- bounds
def min_phi(topology: Topology, matrix: np.ndarray, eligible: np.ndarray | None = None) -> PhiBound:
    """The least Phi of any splittable routing of ``matrix`` (edge form, flows per destination).

    Args:
        topology: the network.
        matrix: demand in bit/s from row node to column node; the diagonal is ignored.
        eligible: row t, link e True iff e may carry traffic toward t (e.g.
            ``stretch_dag(topology, 1.5)``, the hash rule's next hops); default every link (all
            routings, circulations included: the bound no routing can beat).

    Returns:
        A `PhiBound`.

    Shapes:
        matrix: [N, N]; eligible: [N, E].

    Raises:
        RlteError: a bad matrix, a mask of the wrong shape, a demand the mask cannot route, or
            HiGHS not reporting an optimum.
    """
    start = time.perf_counter()
    demand_matrix = _validated_matrix(topology, matrix)
    n, num_links = topology.num_nodes, topology.num_links
    label = "all routings" if eligible is None else "eligible next hops"
    mask = np.ones((n, num_links), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    if mask.shape != (n, num_links):
        raise RlteError(f"eligible next hops of shape {mask.shape}: want ({n}, {num_links})")
    destinations = np.flatnonzero(demand_matrix.sum(axis=0) > 0)
    if not len(destinations):
        return _no_traffic(topology, start, label)
    src, dst = topology.src, topology.dst
    allowed = mask[destinations] & (src[None, :] != destinations[:, None])
    job, link = np.nonzero(allowed)
    t = destinations[job]
    # conservation rows (j, u), u != t_j: what u sends out minus what it receives is its demand
    out_row = job * (n - 1) + src[link] - (src[link] > t)
    into = dst[link] != t
    in_row = (job * (n - 1) + dst[link] - (dst[link] > t))[into]
    conservation = sp.csr_matrix(
        (
            np.concatenate([np.ones(len(job)), -np.ones(int(into.sum()))]),
            (np.concatenate([out_row, in_row]), np.concatenate([np.arange(len(job)), np.flatnonzero(into)])),
        ),
        shape=(len(destinations) * (n - 1), len(job)),
    )
    keep = np.arange(n)[None, :] != destinations[:, None]
    towards = demand_matrix[:, destinations].T  # [K, N]: what each node sends to each destination
    on_link = sp.csr_matrix((np.ones(len(job)), (link, np.arange(len(job)))), shape=(num_links, len(job)))
    model = _PhiQp(topology, demand_matrix)
    flows, deviation = model.solve(conservation, towards[keep], on_link, "next-hop QP", routable=True)
    cost = deviation * model.capacity_ref / topology.capacity
    route_cost = _least_costs(n, src, dst, cost, allowed, destinations)  # [K, N], inf where none
    with np.errstate(invalid="ignore"):
        routed = float(np.sum(np.where(towards > 0, towards * route_cost, 0.0)))
    lower = model.dual_bound(routed, deviation)
    return model.bound(np.asarray(on_link @ flows).ravel(), lower, start, label)


def min_phi_paths(topology: Topology, matrix: np.ndarray, pathset: PathSet | None = None) -> PhiBound:
    """The least Phi of any splittable routing of ``matrix`` over the paths of ``pathset``.

    Args:
        topology: the network.
        matrix: demand in bit/s; the diagonal is ignored.
        pathset: the candidate paths; default every simple path (`all_simple_paths`: the minimum
            over all loop-free routings; Abilene has 310 paths, a 16-node grid 538,000).

    Returns:
        A `PhiBound`.

    Shapes:
        matrix: [N, N].

    Raises:
        RlteError: a bad matrix, a path set of another topology, or HiGHS not reporting an
            optimum.
    """
    start = time.perf_counter()
    demand_matrix = _validated_matrix(topology, matrix)
    pathset = all_simple_paths(topology) if pathset is None else pathset
    label = "all simple paths" if pathset.label == "all" else f"paths {pathset.label}"
    if pathset.num_nodes != topology.num_nodes or pathset.num_links != topology.num_links:
        raise RlteError(f"path set: built for another topology than {topology.name!r}")
    pairs = np.asarray(pathset.pairs)
    demand = demand_matrix[pairs[:, 0], pairs[:, 1]]
    if not demand.any():
        return _no_traffic(topology, start, label)
    active = np.flatnonzero(demand > 0)
    row_of_demand = np.full(len(demand), -1)
    row_of_demand[active] = np.arange(len(active))
    path_demand = np.asarray(pathset.path_demand)
    columns = np.flatnonzero(demand[path_demand] > 0)
    incidence = sp.csr_matrix(pathset.incidence)[columns]  # [P', E]
    demand_rows = sp.csr_matrix(
        (np.ones(len(columns)), (row_of_demand[path_demand[columns]], np.arange(len(columns)))),
        shape=(len(active), len(columns)),
    )
    model = _PhiQp(topology, demand_matrix)
    flows, deviation = model.solve(demand_rows, demand[active], incidence.T.tocsr(), "path QP")
    path_cost = incidence @ (deviation * model.capacity_ref / topology.capacity)
    least = np.full(len(active), np.inf)
    np.minimum.at(least, row_of_demand[path_demand[columns]], path_cost)
    lower = model.dual_bound(float(np.dot(demand[active], least)), deviation)
    return model.bound(np.asarray(incidence.T @ flows).ravel(), lower, start, label)


def router_phi_bound(router: FlowRouter, matrix: np.ndarray | None = None) -> PhiBound:
    """The least Phi of any splittable routing over the next hops a `FlowRouter` may take: no
    weights, hence no unsplittable routing by its rule, beat it.

    With ``dag="stretch"`` it is `min_phi` over the router's eligible next hops; with
    ``dag="authors"`` `min_phi_paths` over the routes the authors' rule allows
    (`rlte.net.maroh_dag.AuthorsDag.path_set`, label ``"paths authors"``).

    Args:
        router: the router (its topology, rule and next hops).
        matrix: demand in bit/s; default the router's flows' (their rates summed per pair).
            Shape [N, N].

    Returns:
        A `PhiBound`.

    Raises:
        RlteError: as `min_phi` and `min_phi_paths`.
    """
    topology = router.topology
    if matrix is None:
        matrix = np.zeros((topology.num_nodes, topology.num_nodes))
        np.add.at(matrix, (router.src, router.dst), router.rate)
    if router.authors is not None:
        return min_phi_paths(topology, matrix, router.authors.path_set(topology))
    return min_phi(topology, matrix, eligible=router.eligible)


class _PhiQp:
    """The deviation QP around a routing block, in the LP's scaled units."""

    def __init__(self, topology: Topology, demand_matrix: np.ndarray) -> None:
        self.topology = topology
        self.capacity_ref = float(np.median(topology.capacity))
        self.mlu_ref = _mlu_lower_bound(topology, demand_matrix, _hop_distance(topology))
        self.scale = self.mlu_ref * self.capacity_ref
        self.status = "optimal"

    def solve(
        self,
        routing: sp.csr_matrix,
        rhs: np.ndarray,
        on_link: sp.csr_matrix,
        what: str,
        *,
        routable: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Minimise Phi subject to ``routing @ flows = rhs`` (bit/s), flows >= 0, where
        ``on_link`` [E, columns] adds flows up into link loads. Returns the flows (bit/s) and the
        deviations d (scaled utilisation minus its mean)."""
        topology = self.topology
        num_links = topology.num_links
        num_flows = routing.shape[1]
        usage = sp.diags(self.capacity_ref / topology.capacity) @ on_link  # scaled utilisation
        deviation_rows = sp.hstack([usage, -sp.identity(num_links), -np.ones((num_links, 1))])
        sum_row = sp.hstack([sp.csr_matrix((1, num_flows)), np.ones((1, num_links)), sp.csr_matrix((1, 1))])
        routing_rows = sp.hstack([routing, sp.csr_matrix((routing.shape[0], num_links + 1))])
        matrix = sp.vstack([routing_rows, deviation_rows, sum_row], format="csc")
        matrix.sort_indices()
        bounds = np.concatenate([np.asarray(rhs, dtype=np.float64) / self.scale, np.zeros(num_links + 1)])
        num_cols = matrix.shape[1]
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = num_cols, matrix.shape[0]
        lp.col_cost_ = np.zeros(num_cols)
        lp.col_lower_ = np.concatenate([np.zeros(num_flows), np.full(num_links + 1, -highspy.kHighsInf)])
        lp.col_upper_ = np.full(num_cols, highspy.kHighsInf)
        lp.row_lower_, lp.row_upper_ = bounds, bounds.copy()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
        lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
        lp.a_matrix_.value_ = matrix.data.astype(np.float64)
        highs = _silent_highs()
        highs.passModel(lp)
        # the Hessian, diagonal (lower-triangular, column-wise): REGULARISATION on each flow, 1 on
        # each deviation, nothing on the mean
        size = num_flows + num_links
        highs.passHessian(
            num_cols, size, highspy.HessianFormat.kTriangular,
            np.concatenate([np.arange(size + 1), [size]]).astype(np.int32),
            np.arange(size, dtype=np.int32),
            np.concatenate([np.full(num_flows, REGULARISATION), np.ones(num_links)]),
        )  # fmt: skip
        highs.run()
        status = highs.getModelStatus()
        where = f"{what} on topology {topology.name!r}"
        if status == highspy.HighsModelStatus.kInfeasible and routable:
            raise RlteError(f"{where}: the eligible next hops cannot route every demand")
        if status != highspy.HighsModelStatus.kOptimal:
            raise RlteError(f"{where}: HiGHS ended with status {highs.modelStatusToString(status)!r}")
        self.status = highs.modelStatusToString(status).lower()
        values = np.asarray(highs.getSolution().col_value, dtype=np.float64)
        deviation = values[num_flows : num_flows + num_links]
        return np.clip(values[:num_flows], 0.0, None) * self.scale, deviation - deviation.mean()

    def dual_bound(self, routed_cost_bps: float, deviation: np.ndarray) -> float:
        """Phi's lower bound from the multipliers -d: ``r^T y - |d|^2 / 2`` in scaled units,
        where ``routed_cost_bps`` is r^T y with r in bit/s; NaN when it is not finite."""
        value = routed_cost_bps / self.scale - 0.5 * float(deviation @ deviation)
        if not np.isfinite(value):
            return float("nan")
        return max(0.0, 2.0 * value * self.mlu_ref**2 / self.topology.num_links)

    def bound(self, load: np.ndarray, lower: float, start: float, label: str) -> PhiBound:
        utilisation = load / self.topology.capacity
        phi = float(metrics.phi(utilisation))
        return PhiBound(
            phi=phi,
            lower=min(lower, phi) if np.isfinite(lower) else lower,
            link_load=load,
            utilisation=utilisation,
            runtime_s=time.perf_counter() - start,
            status=self.status,
            label=label,
        )


def _least_costs(
    num_nodes: int, src: np.ndarray, dst: np.ndarray, cost: np.ndarray, allowed: np.ndarray, destinations
) -> np.ndarray:
    """Least cost from every node to each destination over its allowed links (Bellman-Ford;
    costs may be negative); -inf for the nodes of a destination whose graph has a negative cycle.
    Shapes: cost [E], allowed [K, E] -> [K, N]."""
    k = len(destinations)
    rows = np.repeat(np.arange(k), len(src))
    columns = np.tile(src, k)
    via = np.where(allowed, cost[None, :], np.inf)  # [K, E]
    distance = np.full((k, num_nodes), np.inf)
    distance[np.arange(k), destinations] = 0.0

    def relaxed(current: np.ndarray) -> np.ndarray:
        reach = np.full((k, num_nodes), np.inf)
        np.minimum.at(reach, (rows, columns), (via + current[:, dst]).ravel())  # reach src[e] via e
        return np.minimum(current, reach)

    for _ in range(num_nodes - 1):  # least simple routes have at most N - 1 links
        distance = relaxed(distance)
    cyclic = (relaxed(distance) < distance).any(axis=1)
    distance[cyclic] = -np.inf
    return distance


def _no_traffic(topology: Topology, start: float, label: str) -> PhiBound:
    zeros = np.zeros(topology.num_links)
    return PhiBound(0.0, 0.0, zeros, zeros.copy(), time.perf_counter() - start, "optimal", label)
