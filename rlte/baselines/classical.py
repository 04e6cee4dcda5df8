"""Classical traffic-engineering baselines: what operators run, the LP optimum, and the realistic
predictive LPs.

Every baseline is a class with a ``name``, an ``oracle`` flag (true when it sees the very matrix it
routes) and two methods:

- ``solve(topology, matrix) -> routing`` for one traffic matrix [N, N];
- ``route_series(topology, matrices, history=None) -> routing`` for a series [T, N, N], returning a
  batched routing [T, ...] that obeys the time-series protocol: the routing of interval t may use
  only ``history`` and ``matrices[:t]``, unless the baseline is an oracle.

Routings are `rlte.sim.flow.PathRouting` or `NextHopRouting`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from rlte.baselines import lp
from rlte.errors import RlteError
from rlte.net.paths import PathSet, check_paths_per_pair, ecmp_dag, k_shortest_paths
from rlte.net.topology import Topology
from rlte.sim.flow import NextHopRouting, PathRouting, even_splits


def _broadcast(routing, steps: int):
    if isinstance(routing, PathRouting):
        return PathRouting(routing.pathset, np.broadcast_to(routing.splits, (steps, *routing.splits.shape)))
    return NextHopRouting(np.broadcast_to(routing.splits, (steps, *routing.splits.shape)))


class Baseline:
    """Base class: a routing method that does not learn."""

    name: str = "baseline"
    oracle: bool = False

    def solve(self, topology: Topology, matrix: np.ndarray):
        raise NotImplementedError

    def route_series(self, topology: Topology, matrices: np.ndarray, history: np.ndarray | None = None):
        """Default for methods that ignore traffic: one routing for every interval."""
        return _broadcast(self.solve(topology, np.zeros((topology.num_nodes,) * 2)), len(matrices))


# ---------------------------------------------------------------------- what routers do
_SHORTEST_METRICS = ("hops", "weight", "inv_capacity")


@dataclass
class ShortestPath(Baseline):
    """One shortest path per destination (no multipath): at every node the equal-cost next hop with
    the lowest link index. ``metric``: ``hops``, ``weight`` (the IGP weights, as OSPF without ECMP)
    or ``inv_capacity`` (link cost 1/capacity, Cisco's default OSPF cost rule)."""

    metric: str = "hops"

    def __post_init__(self) -> None:
        if self.metric not in _SHORTEST_METRICS:
            raise RlteError(
                f"shortest path metric {self.metric!r}: unknown (choose from {', '.join(_SHORTEST_METRICS)})"
            )
        self.name = "sp" if self.metric == "hops" else f"sp_{self.metric}"

    def solve(self, topology: Topology, matrix: np.ndarray) -> NextHopRouting:
        on_dag = _dag(topology, self.metric)
        first = np.zeros_like(on_dag)
        n = topology.num_nodes
        for t in range(n):
            for u in range(n):
                hops = np.flatnonzero(on_dag[t] & (topology.src == u))
                if len(hops):
                    first[t, hops[0]] = True
        return NextHopRouting(even_splits(topology, first))


@dataclass
class Ecmp(Baseline):
    """Equal-cost multipath: each node splits evenly over all its next hops on shortest paths
    (hop count by default, what a router does; or ``weight``/``inv_capacity``)."""

    metric: str = "hops"

    def __post_init__(self) -> None:
        if self.metric not in _SHORTEST_METRICS:
            raise RlteError(
                f"ECMP metric {self.metric!r}: unknown (choose from {', '.join(_SHORTEST_METRICS)})"
            )
        self.name = "ecmp" if self.metric == "hops" else f"ecmp_{self.metric}"

    def solve(self, topology: Topology, matrix: np.ndarray) -> NextHopRouting:
        return NextHopRouting(even_splits(topology, _dag(topology, self.metric)))


def _dag(topology: Topology, metric: str) -> np.ndarray:
    if metric == "hops":
        return ecmp_dag(topology, metric="hops").on_dag
    if metric == "inv_capacity":
        topology = topology.with_weights(topology.capacity.max() / topology.capacity)
    return ecmp_dag(topology, metric="weight").on_dag


# ---------------------------------------------------------------------- k paths
@dataclass
class _PathBaseline(Baseline):
    k: int = 4
    _pathsets: dict = field(default_factory=dict, init=False, repr=False)

    def pathset(self, topology: Topology) -> PathSet:
        """The k shortest paths by hop count (cached per topology object)."""
        key = id(topology)
        if key not in self._pathsets:
            self._pathsets[key] = (topology, k_shortest_paths(topology, self.k, metric="hops"))
        return self._pathsets[key][1]


@dataclass
class KPathUniform(_PathBaseline):
    """Even split over the k shortest paths (hop count) of every demand."""

    def __post_init__(self) -> None:
        self.name = f"kpath_uniform_k{self.k}"

    def solve(self, topology: Topology, matrix: np.ndarray) -> PathRouting:
        pathset = self.pathset(topology)
        splits = pathset.mask / pathset.mask.sum(axis=1, keepdims=True)
        return PathRouting(pathset, splits)


@dataclass
class Ucmp(_PathBaseline):
    """Unequal-cost multipath: split over the k shortest paths in proportion to each path's
    bottleneck (smallest) capacity."""

    def __post_init__(self) -> None:
        self.name = f"ucmp_k{self.k}"

    def solve(self, topology: Topology, matrix: np.ndarray) -> PathRouting:
        pathset = self.pathset(topology)
        bottleneck = np.zeros(pathset.mask.shape)
        for d, paths in enumerate(pathset.paths):
            for j, path in enumerate(paths):
                bottleneck[d, j] = topology.capacity[list(path)].min()
        return PathRouting(pathset, bottleneck / bottleneck.sum(axis=1, keepdims=True))


# ---------------------------------------------------------------------- LP
class LpCache:
    """LP results by (topology, matrix), computed at most once: the MLU-optimal routings of the LP
    baselines (`solve`) and the optimal MLU alone (`optimal_mlu`). A scenario holds one, shared by
    its environments and the baselines evaluated on it. Keys are the topology's links and
    capacities and the matrix's bytes, so equal topologies share entries whatever their identity."""

    def __init__(self) -> None:
        self._routings: dict[tuple[bytes, bytes], lp.EdgeLpResult] = {}
        self._optima: dict[tuple[bytes, bytes], float] = {}
        self.solves = 0
        self.solve_time_s = 0.0
        self.reused_time_s = 0.0  # solve time of the solutions served again from the cache

    @staticmethod
    def _key(topology: Topology, matrix: np.ndarray) -> tuple[bytes, bytes]:
        links = hashlib.blake2b(digest_size=16)
        for array in (topology.src, topology.dst, topology.capacity):
            links.update(np.ascontiguousarray(array).tobytes())
        matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        return links.digest(), hashlib.blake2b(matrix.tobytes(), digest_size=16).digest()

    def solve(self, topology: Topology, matrix: np.ndarray) -> lp.EdgeLpResult:
        """`rlte.baselines.lp.solve_min_mlu` of one matrix (the routing and its MLU)."""
        key = self._key(topology, matrix)
        if key not in self._routings:
            result = lp.solve_min_mlu(topology, np.ascontiguousarray(matrix, dtype=np.float64))
            self._routings[key] = result
            self.solves += 1
            self.solve_time_s += result.runtime_s
            return result
        self.reused_time_s += self._routings[key].runtime_s
        return self._routings[key]

    def optimal_mlu(self, topology: Topology, matrix: np.ndarray) -> float:
        """`rlte.baselines.lp.optimal_mlu` of one matrix (the pure objective, no tie-break)."""
        key = self._key(topology, matrix)
        if key not in self._optima:
            self._optima[key] = float(lp.optimal_mlu(topology, matrix)[0])
        return self._optima[key]


@dataclass
class LpOpt(Baseline):
    """The exact minimum of the maximum link utilisation (edge-based multicommodity LP, HiGHS),
    solved on the very matrix it routes: an oracle, the bound every method is measured against."""

    cache: LpCache = field(default_factory=LpCache, repr=False)
    name: str = "lp_opt"
    oracle: bool = True

    def solve(self, topology: Topology, matrix: np.ndarray) -> NextHopRouting:
        return NextHopRouting(self.cache.solve(topology, matrix).next_hop_splits)

    def route_series(self, topology: Topology, matrices: np.ndarray, history: np.ndarray | None = None):
        return NextHopRouting(np.stack([self.solve(topology, m).splits for m in matrices]))


@dataclass
class LpPaths(_PathBaseline):
    """The MLU-optimal split over the k shortest paths, solved on the matrix it routes (oracle)."""

    oracle: bool = True

    def __post_init__(self) -> None:
        self.name = f"lp_paths_k{self.k}"

    def solve(self, topology: Topology, matrix: np.ndarray) -> PathRouting:
        pathset = self.pathset(topology)
        return PathRouting(pathset, lp.solve_min_mlu_paths(topology, pathset, matrix).splits)

    def route_series(self, topology: Topology, matrices: np.ndarray, history: np.ndarray | None = None):
        routings = [self.solve(topology, m) for m in matrices]
        return PathRouting(routings[0].pathset, np.stack([r.splits for r in routings]))


@dataclass
class LpPeak(Baseline):
    """Predictive LP: routes interval t with the MLU-optimal routing of the element-wise maximum of
    the ``window`` matrices before t (``window=1`` is `lp_last`: the previous interval's optimum).

    Interval 0 uses the end of ``history`` (e.g. the training part); with no history it uses its own
    matrix, which makes that one interval an oracle decision (documented, never silent: a warning
    is attached to the routing's ``notes``)."""

    window: int = 1
    cache: LpCache = field(default_factory=LpCache, repr=False)
    oracle: bool = False

    def __post_init__(self) -> None:
        if self.window < 1:
            raise RlteError(f"lp_peak window {self.window}: must be >= 1")
        self.name = "lp_last" if self.window == 1 else f"lp_peak_w{self.window}"
        self.notes: list[str] = []

    def solve(self, topology: Topology, matrix: np.ndarray) -> NextHopRouting:
        """Route with the optimum of ``matrix`` (one matrix: the caller passes the past)."""
        return NextHopRouting(self.cache.solve(topology, matrix).next_hop_splits)

    def route_series(self, topology: Topology, matrices: np.ndarray, history: np.ndarray | None = None):
        matrices = np.asarray(matrices, dtype=np.float64)
        past = (
            np.zeros((0, *matrices.shape[1:])) if history is None else np.asarray(history, dtype=np.float64)
        )
        if len(past) == 0:
            self.notes.append(f"{self.name}: no history, interval 0 routed with its own matrix")
            past = matrices[:1]
        timeline = np.concatenate([past[-self.window :], matrices])
        offset = len(timeline) - len(matrices)
        splits = []
        for t in range(len(matrices)):
            window = timeline[max(0, offset + t - self.window) : offset + t]
            splits.append(self.solve(topology, window.max(axis=0)).splits)
        return NextHopRouting(np.stack(splits))


# ---------------------------------------------------------------------- registry
def make_baseline(name: str, *, cache: LpCache | None = None) -> Baseline:
    """A baseline by name: ``sp``, ``sp_weight``, ``sp_inv_capacity``, ``ecmp``, ``ecmp_weight``,
    ``kpath_uniform`` (k=4; ``kpath_uniform_k8`` for another k), ``ucmp``, ``lp_opt``, ``lp_paths``,
    ``lp_last``, ``lp_peak`` (window 12; ``lp_peak_w6`` for another window)."""
    cache = cache or LpCache()
    base, _, suffix = (
        name.partition("_k") if name.startswith(("kpath_uniform", "ucmp", "lp_paths")) else (name, "", "")
    )
    if suffix:
        if not suffix.isdigit() or int(suffix) < 1:
            raise RlteError(f"baseline {name!r}: k must be a positive integer")
        k = int(suffix)
        check_paths_per_pair(k, f"baseline {name!r}: k")
    else:
        k = 4
    if base == "sp":
        return ShortestPath("hops")
    if base.startswith("sp_"):
        return ShortestPath(base[3:])
    if base == "ecmp":
        return Ecmp("hops")
    if base.startswith("ecmp_"):
        return Ecmp(base[5:])
    if base == "kpath_uniform":
        return KPathUniform(k=k)
    if base == "ucmp":
        return Ucmp(k=k)
    if base == "lp_opt":
        return LpOpt(cache=cache)
    if base == "lp_paths":
        return LpPaths(k=k)
    if base == "lp_last":
        return LpPeak(window=1, cache=cache)
    if base == "lp_peak" or base.startswith("lp_peak_w"):
        window = base[len("lp_peak_w") :] if base.startswith("lp_peak_w") else "12"
        if not window.isdigit():
            raise RlteError(f"baseline {name!r}: window must be a positive integer")
        return LpPeak(window=int(window), cache=cache)
    raise RlteError(f"baseline {name!r}: unknown (choose from {', '.join(BASELINES)})")


#: The baselines `rlte baselines` runs by default, in table order.
BASELINES = ("sp", "sp_weight", "ecmp", "kpath_uniform", "ucmp", "lp_last", "lp_peak", "lp_paths", "lp_opt")
