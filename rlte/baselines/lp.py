"""The LP optimum of the maximum link utilisation (MLU), solved with HiGHS through ``highspy``.

Two formulations of one problem, "route every demand so that the busiest link is as little used as
possible":

- `solve_min_mlu`: the edge-based multicommodity flow, exact over all routings. Commodities are
  aggregated by destination (N of them, not N^2): f[t, e] >= 0 is the flow destined to t on link e.
  It returns per-destination next-hop splits, the routing that reaches the optimum.
- `solve_min_mlu_paths`: the same objective restricted to the candidate paths of a `PathSet`;
  it returns path splits [D, K]. Over all simple paths it equals the edge LP; over fewer paths it
  can only be worse.

`optimal_mlu` gives the optimum alone for a series of matrices (one model, re-solved from the
previous basis), and `scale_to_load` scales traffic so that the optimal MLU reaches a load level,
the definition of "load" used throughout rlte.

Numerics: the LPs are solved in scaled units, flows divided by ``a * c_ref`` and the MLU variable
by ``a``, where ``c_ref`` is the median capacity and ``a`` a cheap lower bound of the optimum (the
busiest single-node cut, or total demand x hops over total capacity). Coefficients are then near
1 whatever the magnitude of the traffic in bit/s. This matters: HiGHS's tolerances are absolute,
and the same LP written in raw bit/s (capacities 1e10, MLU 1e-2) stops at answers up to 50 % above
the optimum. The tie-break objective is multiplied through by ``E / tie_break`` for the same
reason (see `_objective`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, NamedTuple

import highspy
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from rlte.errors import RlteError
from rlte.net.paths import ecmp_dag
from rlte.net.topology import Topology
from rlte.sim.flow import destination_link_flows
from rlte.sim.routing import even_splits

__all__ = [
    "EdgeLpResult",
    "PathLpResult",
    "ScaledTraffic",
    "optimal_mlu",
    "scale_to_load",
    "solve_min_mlu",
    "solve_min_mlu_paths",
]

#: A node forwarding at most this fraction of the demand towards t counts as carrying none.
_IDLE_FRACTION = 1e-9
#: From this many columns on, the first solve uses the interior-point method (with crossover to
#: a vertex): on gabriel/200/0 (158,000 columns) it takes 41 s where dual simplex takes 176 s;
#: at 37,000 columns (gabriel/100/0) the two are even. Re-solves restart the simplex from the basis.
_IPM_MIN_COLUMNS = 100_000
_STATISTICS = {"mean": np.mean, "max": np.max, "median": np.median}


class EdgeLpResult(NamedTuple):
    """The optimum of the edge-based LP and a routing that reaches it.

    Attributes:
        mlu: the minimum maximum link utilisation, from the link loads below. A float.
        next_hop_splits: row t is, for traffic destined to t, the fraction of what node ``src[e]``
            forwards that goes on link e. Shape [N, E].
        dest_link_flow: flow destined to t on link e, bit/s. Shape [N, E].
        link_load: total flow on each link, bit/s. Shape [E].
        runtime_s: wall time of the whole call, seconds.
        status: HiGHS's model status in lower case (``"optimal"``).
    """

    mlu: float
    next_hop_splits: np.ndarray
    dest_link_flow: np.ndarray
    link_load: np.ndarray
    runtime_s: float
    status: str


class PathLpResult(NamedTuple):
    """The optimum of the path-based LP over a `PathSet`.

    Attributes:
        mlu: the minimum maximum link utilisation over the candidate paths, from the link loads.
        splits: fraction of each demand on each candidate path; rows sum to 1 over valid paths,
            padding columns are 0. Shape [D, K].
        link_load: total flow on each link, bit/s. Shape [E].
        runtime_s: wall time of the whole call, seconds.
        status: HiGHS's model status in lower case (``"optimal"``).
    """

    mlu: float
    splits: np.ndarray
    link_load: np.ndarray
    runtime_s: float
    status: str


class ScaledTraffic(NamedTuple):
    """Traffic scaled to a load level, and the factor applied.

    Attributes:
        matrices: the input times ``factor``, bit/s. Shape as given, [N, N] or [T, N, N].
        factor: the common scale factor (apply it to the test part too).
    """

    matrices: np.ndarray
    factor: float


# ---------------------------------------------------------------------- public API
def solve_min_mlu(topology: Topology, matrix: np.ndarray, *, tie_break: float = 1e-6) -> EdgeLpResult:
    """Minimise the maximum link utilisation over all routings (edge-based multicommodity flow).

    The LP, with commodities aggregated by destination::

        minimise    alpha + tie_break / E * sum_{t,e} f[t, e] / (alpha_ref * capacity[e])
        subject to  sum_{e out of u} f[t, e] - sum_{e into u} f[t, e] = matrix[u, t]   (u != t)
                    sum_t f[t, e] <= alpha * capacity[e]                                 (all e)
                    f >= 0, and f[t, e] = 0 on the links leaving t

    where ``alpha_ref`` is a positive lower bound of the optimum. The second term is the total
    link utilisation, divided by ``E * alpha_ref``: it makes every cycle cost something, so the
    flows are loop-free, and among routings with the least MLU it prefers short ones (in the
    inverse-capacity metric). Every utilisation is at most ``alpha``, so the term is at most
    ``tie_break * alpha``, and the returned MLU exceeds the pure optimum by a relative
    ``tie_break`` at most (1e-6 by default). ``tie_break=0`` solves for ``alpha`` alone; the flows
    may then hold cycles.

    The splits follow the LP flows where a node forwards any traffic towards t; elsewhere (nodes
    carrying nothing towards t, and destinations with no demand) they split evenly over the
    next hops on shortest paths in hop count, so every row is a complete routing. The flows are
    then recomputed by sending the demand through those splits, so `dest_link_flow`,
    `link_load` and `mlu` are exactly what the returned routing gives.

    Args:
        topology: the network.
        matrix: demand in bit/s from row node to column node; the diagonal is ignored.
        tie_break: weight of the normalised total utilisation in the objective, >= 0.

    Returns:
        An `EdgeLpResult`.

    Shapes:
        matrix: [N, N]. Result: next_hop_splits and dest_link_flow [N, E], link_load [E].

    Raises:
        RlteError: the matrix has the wrong shape, a NaN, an infinity or a negative entry, or
            HiGHS does not report an optimum.
    """
    start = time.perf_counter()
    demand = _validated_matrix(topology, matrix)
    if not (tie_break >= 0) or not np.isfinite(tie_break):
        raise RlteError(f"tie_break {tie_break!r}: must be a finite number >= 0")
    n, num_links = topology.num_nodes, topology.num_links
    hops = _hop_distance(topology)
    splits = even_splits(topology, ecmp_dag(topology, metric="hops").on_dag)
    dest_link_flow = np.zeros((n, num_links))
    status = "optimal"
    destinations = np.flatnonzero(demand.sum(axis=0) > 0)
    if len(destinations):
        model = _EdgeLp(topology, destinations, tie_break=tie_break)
        _, flows, status = model.solve(demand, hops)
        towards = demand[:, destinations].T  # [K, N]: what each node sends to each destination
        lp_splits = _splits_from_flows(topology, flows, towards.sum(axis=1), splits[destinations])
        propagated = destination_link_flows(topology, lp_splits, towards)
        splits[destinations] = lp_splits
        dest_link_flow[destinations] = flows if propagated is None else propagated
    link_load = dest_link_flow.sum(axis=0)
    mlu = float(np.max(link_load / topology.capacity))
    return EdgeLpResult(
        mlu=mlu,
        next_hop_splits=splits,
        dest_link_flow=dest_link_flow,
        link_load=link_load,
        runtime_s=time.perf_counter() - start,
        status=status,
    )


def solve_min_mlu_paths(
    topology: Topology, pathset: Any, matrix: np.ndarray, *, tie_break: float = 1e-6
) -> PathLpResult:
    """Minimise the maximum link utilisation over the candidate paths of a `PathSet`.

    The LP, with x[p] the flow (bit/s) on candidate path p of demand d(p)::

        minimise    alpha + tie_break / E * sum_p x[p] * sum_{e in p} 1 / (alpha_ref * capacity[e])
        subject to  sum_{p of d} x[p] = demand[d]                  (every demand > 0)
                    sum_{p through e} x[p] <= alpha * capacity[e]   (all e)
                    x >= 0

    The tie-break term is the one of `solve_min_mlu` (the same bound holds: the MLU is within a
    relative ``tie_break`` of the pure optimum over these paths).

    Args:
        topology: the network the paths were built on.
        pathset: a `rlte.net.paths.PathSet` (``pairs``, ``path_index``, ``mask``,
            ``path_demand``, ``incidence``, ``num_paths``).
        matrix: demand in bit/s; the diagonal is ignored.
        tie_break: weight of the normalised total utilisation in the objective, >= 0.

    Returns:
        A `PathLpResult`; demands of 0 get an even split over their valid paths.

    Shapes:
        matrix: [N, N]. Result: splits [D, K], link_load [E].

    Raises:
        RlteError: a bad matrix, a path set of another topology, a positive demand with no
            candidate path (named by its nodes), or HiGHS not reporting an optimum.
    """
    start = time.perf_counter()
    demand_matrix = _validated_matrix(topology, matrix)
    if not (tie_break >= 0) or not np.isfinite(tie_break):
        raise RlteError(f"tie_break {tie_break!r}: must be a finite number >= 0")
    pairs = np.asarray(pathset.pairs, dtype=np.int64)
    mask = np.asarray(pathset.mask, dtype=bool)
    path_index = np.asarray(pathset.path_index, dtype=np.int64)
    path_demand = np.asarray(pathset.path_demand, dtype=np.int64)
    incidence = sp.csr_matrix(pathset.incidence, dtype=np.float64)
    n = topology.num_nodes
    if len(pairs) != n * (n - 1) or incidence.shape[1] != topology.num_links:
        raise RlteError(
            f"path set: has {len(pairs)} demands and {incidence.shape[1]} links, topology "
            f"{topology.name!r} has {n * (n - 1)} and {topology.num_links}"
        )
    demand = demand_matrix[pairs[:, 0], pairs[:, 1]]
    has_path = mask.any(axis=1)
    missing = np.flatnonzero((demand > 0) & ~has_path)
    if len(missing):
        s, t = (topology.nodes[int(i)] for i in pairs[missing[0]])
        raise RlteError(f"demand {s} -> {t}: no candidate path in the path set")
    counts = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    splits = mask / counts  # even split, kept for demands of 0
    status = "optimal"
    if demand.sum() > 0:
        model = _PathLp(topology, incidence, path_demand, demand, tie_break=tie_break)
        path_flow, status = model.solve(demand_matrix)
        active = demand > 0
        path_fraction = np.zeros(len(path_demand))
        path_fraction[model.columns] = path_flow / demand[path_demand[model.columns]]
        lp_splits = np.where(mask, path_fraction[np.where(mask, path_index, 0)], 0.0)
        lp_splits = np.clip(lp_splits, 0.0, None)
        lp_splits /= np.maximum(lp_splits.sum(axis=1, keepdims=True), np.finfo(float).tiny)
        splits[active] = lp_splits[active]
    path_split = np.zeros(len(path_demand))
    path_split[path_index[mask]] = splits[mask]
    link_load = incidence.T @ (path_split * demand[path_demand])
    mlu = float(np.max(link_load / topology.capacity))
    return PathLpResult(
        mlu=mlu,
        splits=splits,
        link_load=np.asarray(link_load, dtype=np.float64),
        runtime_s=time.perf_counter() - start,
        status=status,
    )


def optimal_mlu(topology: Topology, matrices: np.ndarray) -> np.ndarray:
    """The minimum maximum link utilisation of each traffic matrix (pure objective, no tie-break).

    One edge LP over all destinations is built once; each matrix changes only its right-hand
    side, and HiGHS restarts from the previous optimal basis. Zero matrices give 0 without a
    solve (the MLU is positively homogeneous in the traffic).

    Args:
        topology: the network.
        matrices: demands in bit/s; a single [N, N] matrix counts as T = 1.

    Returns:
        The optimal MLU of each matrix. Shape [T].

    Shapes:
        matrices: [T, N, N] or [N, N].

    Raises:
        RlteError: a malformed matrix (named by its index in the series).
    """
    batch = _as_batch(topology, matrices)
    result = np.zeros(len(batch))
    hops: np.ndarray | None = None
    model: _EdgeLp | None = None
    for i, matrix in enumerate(batch):
        demand = _validated_matrix(topology, matrix, where=f"traffic matrix {i}")
        if not demand.any():
            continue
        if model is None:
            hops = _hop_distance(topology)
            model = _EdgeLp(topology, np.arange(topology.num_nodes), tie_break=0.0)
        result[i], _, _ = model.solve(demand, hops, want_flows=False)
    return result


def scale_to_load(
    matrices: np.ndarray,
    topology: Topology,
    level: float,
    *,
    statistic: str = "mean",
    sample_every: int = 1,
) -> ScaledTraffic:
    """Scale traffic by one common factor so that a statistic of the optimal MLU equals ``level``.

    "80 % load" means ``level=0.8``: optimal routing would just use 80 % of its busiest link (on
    average over the matrices with ``statistic="mean"``). Pass the training part of a series and
    apply the returned factor to the test part as well. Because the MLU is positively
    homogeneous, the statistic of the scaled matrices is exactly ``level``.

    Args:
        matrices: demands in bit/s.
        topology: the network.
        level: the target, > 0 (1.0 is the optimal routing at full capacity).
        statistic: ``"mean"``, ``"max"`` or ``"median"`` of the per-matrix optimal MLU.
        sample_every: use every k-th matrix for the statistic (faster on long series).

    Returns:
        A `ScaledTraffic` (``matrices``, ``factor``); it unpacks as a tuple.

    Shapes:
        matrices: [N, N] or [T, N, N]; the result has the same shape.

    Raises:
        RlteError: a level that is not > 0, an unknown statistic, a bad ``sample_every``, a
            malformed matrix, or traffic that is all zero.
    """
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise RlteError(f"load level {level!r}: must be > 0") from None
    if not (level > 0):
        raise RlteError(f"load level {level}: must be > 0")
    if not np.isfinite(level):
        raise RlteError(f"load level {level}: must be finite")
    if statistic not in _STATISTICS:
        raise RlteError(f"load statistic {statistic!r}: must be one of {', '.join(_STATISTICS)}")
    if isinstance(sample_every, bool) or not isinstance(sample_every, (int, np.integer)) or sample_every < 1:
        raise RlteError(f"sample_every {sample_every!r}: must be an integer >= 1")
    array = np.asarray(matrices, dtype=np.float64)
    batch = _as_batch(topology, array)
    value = float(_STATISTICS[statistic](optimal_mlu(topology, batch[::sample_every])))
    if not value > 0:
        raise RlteError(f"load level {level}: cannot scale traffic that is all zero")
    factor = level / value
    return ScaledTraffic(matrices=array * factor, factor=factor)


# ---------------------------------------------------------------------- models
class _EdgeLp:
    """The destination-aggregated edge LP for a fixed set of destinations, in scaled units.

    Columns: f[j, e] for destination ``destinations[j]`` and every link e not leaving it
    (grouped by j), then alpha / alpha_ref. Rows: conservation (j, u) for u != t_j at
    ``j * (N - 1) + u - (u > t_j)``, then one capacity row per link.
    """

    def __init__(self, topology: Topology, destinations: np.ndarray, *, tie_break: float) -> None:
        n, num_links = topology.num_nodes, topology.num_links
        src, dst, capacity = topology.src, topology.dst, topology.capacity
        dest = np.asarray(destinations, dtype=np.int64)
        k = len(dest)
        self.topology = topology
        self.destinations = dest
        self.capacity_ref = float(np.median(capacity))
        job, link = np.nonzero(src[None, :] != dest[:, None])
        num_flows = len(job)
        self.flow_job, self.flow_link = job, link
        num_conservation = k * (n - 1)
        self.num_conservation = num_conservation
        t = dest[job]
        out_row = job * (n - 1) + src[link] - (src[link] > t)
        into = dst[link] != t
        in_row = (job * (n - 1) + dst[link] - (dst[link] > t))[into]
        flow_col = np.arange(num_flows)
        alpha_col = num_flows
        rows = np.concatenate(
            [out_row, in_row, num_conservation + link, num_conservation + np.arange(num_links)]
        )
        cols = np.concatenate([flow_col, flow_col[into], flow_col, np.full(num_links, alpha_col)])
        values = np.concatenate(
            [np.ones(num_flows), -np.ones(int(into.sum())), np.ones(num_flows), -capacity / self.capacity_ref]
        )
        matrix = sp.csc_matrix((values, (rows, cols)), shape=(num_conservation + num_links, num_flows + 1))
        cost = np.zeros(num_flows + 1)
        cost[:num_flows], cost[alpha_col] = _objective(
            tie_break, num_links, self.capacity_ref / capacity[link]
        )
        row_lower = np.concatenate([np.zeros(num_conservation), np.full(num_links, -highspy.kHighsInf)])
        row_upper = np.zeros(num_conservation + num_links)
        keep = np.arange(n)[None, :] != dest[:, None]
        self._rhs_mask = keep  # [K, N]: the (j, u) entries with a conservation row, in row order
        self._rhs_index = np.arange(num_conservation, dtype=np.int32)
        self.highs = _highs(matrix, cost, row_lower, row_upper)

    def solve(
        self, demand: np.ndarray, hops: np.ndarray, *, want_flows: bool = True
    ) -> tuple[float, np.ndarray | None, str]:
        """The optimal MLU, the flows [K, E] in bit/s (None unless ``want_flows``), the status."""
        alpha_ref = _mlu_lower_bound(self.topology, demand, hops)
        scale = alpha_ref * self.capacity_ref
        rhs = demand[:, self.destinations].T[self._rhs_mask] / scale
        self.highs.changeRowsBounds(self.num_conservation, self._rhs_index, rhs, rhs)
        values, status = _run(self.highs, f"edge LP on topology {self.topology.name!r}")
        mlu = float(values[-1]) * alpha_ref
        if not want_flows:
            return mlu, None, status
        flows = np.zeros((len(self.destinations), self.topology.num_links))
        flows[self.flow_job, self.flow_link] = np.clip(values[:-1], 0.0, None) * scale
        return mlu, flows, status


class _PathLp:
    """The path LP over the paths of positive demands, in scaled units.

    Columns: x[p] for p in ``columns``, then alpha / alpha_ref. Rows: one per positive demand,
    then one capacity row per link.
    """

    def __init__(
        self,
        topology: Topology,
        incidence: sp.csr_matrix,
        path_demand: np.ndarray,
        demand: np.ndarray,
        *,
        tie_break: float,
    ) -> None:
        num_links = topology.num_links
        capacity = topology.capacity
        self.topology = topology
        self.capacity_ref = float(np.median(capacity))
        active = np.flatnonzero(demand > 0)
        row_of_demand = np.full(len(demand), -1)
        row_of_demand[active] = np.arange(len(active))
        self.columns = np.flatnonzero(demand[path_demand] > 0)
        self.demand = demand
        self.active = active
        used = incidence[self.columns]  # [P', E]
        num_cols = len(self.columns)
        demand_rows = sp.csc_matrix(
            (np.ones(num_cols), (row_of_demand[path_demand[self.columns]], np.arange(num_cols))),
            shape=(len(active), num_cols),
        )
        alpha_col = sp.csc_matrix(
            np.concatenate([np.zeros(len(active)), -capacity / self.capacity_ref])[:, None]
        )
        matrix = sp.hstack([sp.vstack([demand_rows, used.T.tocsc()]), alpha_col], format="csc")
        cost = np.zeros(num_cols + 1)
        cost[:num_cols], cost[-1] = _objective(
            tie_break, num_links, self.capacity_ref * (used @ (1.0 / capacity))
        )
        row_lower = np.concatenate([np.zeros(len(active)), np.full(num_links, -highspy.kHighsInf)])
        row_upper = np.zeros(len(active) + num_links)
        self.highs = _highs(matrix, cost, row_lower, row_upper)

    def solve(self, demand_matrix: np.ndarray) -> tuple[np.ndarray, str]:
        """Flow on each path of ``columns`` in bit/s, and the status."""
        alpha_ref = _mlu_lower_bound(self.topology, demand_matrix, _hop_distance(self.topology))
        scale = alpha_ref * self.capacity_ref
        rhs = self.demand[self.active] / scale
        self.highs.changeRowsBounds(len(self.active), np.arange(len(self.active), dtype=np.int32), rhs, rhs)
        values, status = _run(self.highs, f"path LP on topology {self.topology.name!r}")
        return np.clip(values[:-1], 0.0, None) * scale, status


def _objective(tie_break: float, num_links: int, flow_cost: np.ndarray) -> tuple[np.ndarray, float]:
    """Costs of the flow columns and of alpha for ``alpha + tie_break / E * sum(flow_cost * x)``,
    multiplied through by ``E / tie_break`` so that the tie-break costs are near 1: far above the
    simplex's dual feasibility tolerance (1e-7), which would otherwise ignore them."""
    if tie_break == 0:
        return np.zeros_like(flow_cost), 1.0
    return flow_cost, num_links / tie_break


#: Whether this process has built its first HiGHS instance (the one that prints the banner).
_highs_banner_done = False
_highs_banner_lock = threading.Lock()


def _silent_highs() -> highspy.Highs:
    """A new HiGHS instance with its output off.

    The first instance of a process prints HiGHS's banner ("Running HiGHS ... Copyright") from its
    constructor, before any option can be set, straight to file descriptor 1 (bypassing
    ``sys.stdout``): it would land in the output of every command and every log. So that one is
    built with descriptor 1 on /dev/null, for the moment the constructor takes (under a lock: two
    threads must not swap descriptor 1 at once)."""
    global _highs_banner_done
    with _highs_banner_lock:
        saved = None
        if not _highs_banner_done:
            try:
                sys.stdout.flush()  # what Python buffered goes out first, not to /dev/null
                saved = os.dup(1)
            except (OSError, ValueError, AttributeError):  # no descriptor 1 or no sys.stdout: nothing to hide
                saved = None
        if saved is None:
            highs = highspy.Highs()
        else:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
                highs = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
        _highs_banner_done = True
    highs.setOptionValue("output_flag", False)
    return highs


def _highs(
    matrix: sp.csc_matrix, cost: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray
) -> highspy.Highs:
    """A silent HiGHS instance holding ``min cost @ x`` s.t. ``row_lower <= matrix @ x <= row_upper``, x >= 0."""
    matrix = matrix.tocsc()
    matrix.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(matrix.shape[1])
    lp.col_upper_ = np.full(matrix.shape[1], highspy.kHighsInf)
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)
    highs = _silent_highs()
    highs.setOptionValue("solver", "ipm" if matrix.shape[1] >= _IPM_MIN_COLUMNS else "simplex")
    highs.passModel(lp)
    return highs


def _run(highs: highspy.Highs, where: str) -> tuple[np.ndarray, str]:
    """Solve; the column values and the status in lower case, or RlteError without an optimum."""
    highs.run()
    highs.setOptionValue("solver", "simplex")  # later solves of this model start from the basis
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RlteError(f"{where}: HiGHS ended with status {highs.modelStatusToString(status)!r}")
    values = np.asarray(highs.getSolution().col_value, dtype=np.float64)
    return values, highs.modelStatusToString(status).lower()


# ---------------------------------------------------------------------- helpers
def _validated_matrix(topology: Topology, matrix: np.ndarray, where: str = "traffic matrix") -> np.ndarray:
    """A float64 copy with a zero diagonal; RlteError naming the problem otherwise."""
    n = topology.num_nodes
    try:
        array = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise RlteError(f"{where}: not an array of numbers") from None
    if array.shape != (n, n):
        raise RlteError(f"{where}: shape {array.shape}, want ({n}, {n}) for topology {topology.name!r}")
    bad = np.argwhere(~(array >= 0) | np.isinf(array))
    if len(bad):
        s, t = bad[0]
        raise RlteError(
            f"{where}: demand {topology.nodes[s]} -> {topology.nodes[t]} is {float(array[s, t])!r}; "
            "demands must be finite and >= 0"
        )
    np.fill_diagonal(array, 0.0)
    return array


def _as_batch(topology: Topology, matrices: np.ndarray) -> np.ndarray:
    array = np.asarray(matrices, dtype=np.float64)
    n = topology.num_nodes
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (n, n):
        raise RlteError(
            f"traffic matrices: shape {np.shape(matrices)}, want ({n}, {n}) or (T, {n}, {n}) "
            f"for topology {topology.name!r}"
        )
    return array


def _hop_distance(topology: Topology) -> np.ndarray:
    """Hops on a shortest path from u to v. Shape [N, N]."""
    n = topology.num_nodes
    graph = sp.csr_matrix((np.ones(topology.num_links), (topology.src, topology.dst)), shape=(n, n))
    return shortest_path(graph, directed=True, unweighted=True)


def _per_source_node(topology: Topology, per_link: np.ndarray) -> np.ndarray:
    """Sum of a per-link quantity over each node's out-links. Shapes [K, E] -> [K, N]."""
    n, num_links = topology.num_nodes, topology.num_links
    by_src = sp.csr_matrix((np.ones(num_links), (np.arange(num_links), topology.src)), shape=(num_links, n))
    return np.asarray((by_src.T @ per_link.T).T)


def _mlu_lower_bound(topology: Topology, demand: np.ndarray, hops: np.ndarray) -> float:
    """A positive lower bound of the optimal MLU (of a nonzero matrix): the busiest single-node
    cut, or the demand-weighted hop volume over the total capacity."""
    n = topology.num_nodes
    out_capacity = np.bincount(topology.src, weights=topology.capacity, minlength=n)
    in_capacity = np.bincount(topology.dst, weights=topology.capacity, minlength=n)
    cut = max(np.max(demand.sum(axis=1) / out_capacity), np.max(demand.sum(axis=0) / in_capacity))
    volume = float(np.sum(demand * hops) / topology.capacity.sum())
    return max(float(cut), volume)


def _splits_from_flows(
    topology: Topology, flows: np.ndarray, arriving: np.ndarray, fallback: np.ndarray
) -> np.ndarray:
    """Next-hop splits from per-destination link flows; ``fallback`` where a node forwards
    (next to) nothing. ``arriving`` is the total demand to each destination. Shapes [K, E], [K]."""
    outflow = _per_source_node(topology, flows)[:, topology.src]  # [K, E]: what src[e] forwards
    busy = outflow > _IDLE_FRACTION * arriving[:, None]
    return np.where(busy, flows / np.where(busy, outflow, 1.0), fallback)
