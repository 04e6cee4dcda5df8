"""Candidate paths per ordered node pair (`PathSet`) and shortest-path DAGs for ECMP (`EcmpDag`).

A `PathSet` holds, for every ordered pair (s, t), s != t, a list of simple paths given as link
indices of a `Topology`, numbered s-major (d = s * (N - 1) + t - (t > s)), with the arrays a solver
needs: padded path numbers [D, K], a sparse path x link incidence [P, E], hop counts.

Constructors, all deterministic:

- `k_shortest_paths`: the k shortest simple paths (hops, IGP weight or delay);
- `edge_disjoint_paths`: up to k pairwise link-disjoint paths, found greedily;
- `paths_within_stretch`: every simple path at most ``stretch`` times the shortest hop count
  (MAROH uses 1.5);
- `all_simple_paths`: every simple path (tiny graphs only: their number grows exponentially).

Path order is the same everywhere: by cost, ties broken by the lexicographic order of the node
sequences. Costs are compared exactly: costs that are whole numbers (hops, usual IGP weights) are
used as they are, other costs (delays) are rounded to multiples of 2^-30 times the largest link
cost first, so that sums which differ only by floating-point rounding count as ties.

Shortest paths come from A* keyed by (cost + exact distance left, node sequence), which finds the
least path in that order; k shortest paths from Yen's algorithm over it. Enumerations under a
bound (stretch, all paths) run a best-first search over partial simple paths with the same key:
a partial path's key is never above the key of any of its completions, so complete paths come
out in exactly the order above.

Limits, so that no call runs away: k (and ``max_paths``) is at most `MAX_PATHS_PER_PAIR`, and an
enumeration (`paths_within_stretch`, `all_simple_paths`) expands at most `MAX_SEARCH_STEPS`
partial paths over all pairs; either raises `RlteError` naming the limit. (The number of simple
paths grows exponentially: ``paths_within_stretch`` on a 100-node Gabriel graph does not end.)

Hop-by-hop next hops: `ecmp_dag` (the shortest-path DAG toward every destination) and
`stretch_dag` (next hops on near-shortest routes, MAROH's candidates).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from rlte.errors import RlteError
from rlte.net.path_cache import cached_paths
from rlte.net.topology import Topology

#: Metrics a path cost can be measured in.
PATH_METRICS = ("hops", "weight", "delay")
#: Metrics an ECMP shortest-path DAG can be built on.
ECMP_METRICS = ("hops", "weight")
#: Relative tolerance under which two float distances count as equal in `ecmp_dag`.
ECMP_RTOL = 1e-9
#: The largest k (paths per ordered pair) a constructor accepts, and the largest ``max_paths``.
#: The work of k shortest paths grows faster than k: k = 100 on the 36-node grid6x6 takes about 20 s.
MAX_PATHS_PER_PAIR = 100
#: The most partial paths one enumeration (`paths_within_stretch`, `all_simple_paths`) expands
#: over all its pairs (about 30 s of search); MAROH's stretch 1.5 on grid6x6 needs 216,000.
MAX_SEARCH_STEPS = 5_000_000

LinkPath = tuple[int, ...]


def _frozen(values, dtype) -> np.ndarray:
    array = np.array(values, dtype=dtype, copy=True)
    array.setflags(write=False)
    return array


def _demand_pairs(num_nodes: int) -> np.ndarray:
    """Ordered pairs (s, t), s != t, s-major. Shape [N * (N - 1), 2]."""
    s, t = np.divmod(np.arange(num_nodes * num_nodes, dtype=np.int64), num_nodes)
    keep = s != t
    return np.stack([s[keep], t[keep]], axis=1)


# ---------------------------------------------------------------------- PathSet
@dataclass(frozen=True, eq=False)
class PathSet:
    """Candidate paths for every ordered node pair of a topology.

    Demands d are the ordered pairs (s, t), s != t, numbered s-major:
    d = s * (N - 1) + t - (t > s). Paths are numbered globally, demand by demand, in the order
    they are listed in ``paths``. Build one with a constructor of this module, or
    `PathSet.from_node_paths`; the derived arrays are computed once, on construction, and are
    read-only.

    Attributes:
        num_nodes: N, the number of nodes of the topology.
        num_links: E, the number of links of the topology.
        paths: per demand, its paths, each a tuple of link indices from s to t. Length D.
        label: how the paths were chosen, for tables (e.g. ``"ksp4-hops"``).
        k: K, the largest number of paths of any demand.
        pairs: (s, t) of each demand. Shape [D, 2].
        demand_index: the demand of (s, t), -1 on the diagonal. Shape [N, N].
        num_paths: number of paths of each demand. Shape [D].
        path_index: global path number of the j-th path of demand d, -1 padding. Shape [D, K].
        mask: True where ``path_index`` is a path. Shape [D, K].
        path_demand: the demand of each path. Shape [P].
        path_hops: the number of links of each path. Shape [P].
        incidence: 1.0 where path p uses link e (``scipy.sparse.csr_matrix``). Shape [P, E].
    """

    num_nodes: int
    num_links: int
    paths: tuple[tuple[LinkPath, ...], ...] = field(repr=False)
    label: str = ""
    k: int = field(init=False)
    pairs: np.ndarray = field(init=False, repr=False)
    demand_index: np.ndarray = field(init=False, repr=False)
    num_paths: np.ndarray = field(init=False, repr=False)
    path_index: np.ndarray = field(init=False, repr=False)
    mask: np.ndarray = field(init=False, repr=False)
    path_demand: np.ndarray = field(init=False, repr=False)
    path_hops: np.ndarray = field(init=False, repr=False)
    incidence: csr_matrix = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n, e = int(self.num_nodes), int(self.num_links)
        paths = tuple(tuple(tuple(int(x) for x in path) for path in demand) for demand in self.paths)
        num_demands = n * (n - 1)
        if len(paths) != num_demands:
            raise RlteError(f"path set: has {len(paths)} demands, want N * (N - 1) = {num_demands}")
        counts = np.fromiter((len(demand) for demand in paths), dtype=np.int64, count=num_demands)
        if num_demands and counts.min() == 0:
            d = int(np.argmin(counts))
            raise RlteError(f"path set: demand {d} has no path")
        flat = [path for demand in paths for path in demand]
        hops = np.fromiter((len(path) for path in flat), dtype=np.int64, count=len(flat))
        if len(flat) and hops.min() == 0:
            raise RlteError(f"path set: path {int(np.argmin(hops))} has no link")
        links = np.fromiter((x for path in flat for x in path), dtype=np.int64, count=int(hops.sum()))
        if len(links) and (links.min() < 0 or links.max() >= e):
            raise RlteError(f"path set: link index {int(links[(links < 0) | (links >= e)][0])} out of range")
        num_total = len(flat)
        k = int(counts.max()) if num_demands else 0
        path_demand = np.repeat(np.arange(num_demands, dtype=np.int64), counts)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        column = np.arange(num_total, dtype=np.int64) - first[path_demand]
        path_index = np.full((num_demands, k), -1, dtype=np.int64)
        path_index[path_demand, column] = np.arange(num_total, dtype=np.int64)
        # rows sorted by link index so scipy never has to sort the (read-only) arrays in place
        rows = np.repeat(np.arange(num_total, dtype=np.int64), hops)
        order = np.lexsort((links, rows))
        indptr = np.concatenate([[0], np.cumsum(hops)]).astype(np.int64)
        incidence = csr_matrix(
            (np.ones(len(links)), links[order], indptr), shape=(num_total, e), dtype=np.float64
        )
        incidence.has_sorted_indices = True
        for array in (incidence.data, incidence.indices, incidence.indptr):
            array.setflags(write=False)
        pairs = _demand_pairs(n)
        demand_index = np.full((n, n), -1, dtype=np.int64)
        demand_index[pairs[:, 0], pairs[:, 1]] = np.arange(num_demands, dtype=np.int64)

        set_ = object.__setattr__
        set_(self, "num_nodes", n)
        set_(self, "num_links", e)
        set_(self, "paths", paths)
        set_(self, "k", k)
        set_(self, "pairs", _frozen(pairs, np.int64))
        set_(self, "demand_index", _frozen(demand_index, np.int64))
        set_(self, "num_paths", _frozen(counts, np.int64))
        set_(self, "path_index", _frozen(path_index, np.int64))
        set_(self, "mask", _frozen(path_index >= 0, bool))
        set_(self, "path_demand", _frozen(path_demand, np.int64))
        set_(self, "path_hops", _frozen(hops, np.int64))
        set_(self, "incidence", incidence)

    @classmethod
    def from_node_paths(
        cls, topology: Topology, node_paths: Sequence[Sequence[Sequence[int]]], label: str = ""
    ) -> PathSet:
        """A path set from node sequences, checked against the topology.

        Args:
            topology: the network the paths run on.
            node_paths: per demand (s-major order), its paths as node index sequences from s to t.
            label: how the paths were chosen.

        Returns:
            The path set, with each path turned into link indices.

        Raises:
            RlteError: a demand count that does not match, a path that does not run from s to t,
                uses a missing link or visits a node twice.
        """
        n = topology.num_nodes
        pairs = _demand_pairs(n)
        if len(node_paths) != len(pairs):
            raise RlteError(f"path set: has {len(node_paths)} demands, want N * (N - 1) = {len(pairs)}")
        link_index = topology.link_index
        converted = []
        for d, demand in enumerate(node_paths):
            s, t = int(pairs[d, 0]), int(pairs[d, 1])
            links_of_demand = []
            for path in demand:
                nodes = [int(x) for x in path]
                where = f"path set: path {nodes} of demand {d} ({s} -> {t})"
                if len(nodes) < 2 or nodes[0] != s or nodes[-1] != t:
                    raise RlteError(f"{where} does not run from {s} to {t}")
                if len(set(nodes)) != len(nodes):
                    raise RlteError(f"{where} visits a node twice")
                try:
                    links_of_demand.append(tuple(link_index[(u, v)] for u, v in zip(nodes, nodes[1:])))
                except KeyError as missing:
                    raise RlteError(f"{where} uses a missing link {missing.args[0]}") from None
            converted.append(tuple(links_of_demand))
        return cls(num_nodes=n, num_links=topology.num_links, paths=tuple(converted), label=label)

    # ------------------------------------------------------------------ accessors
    @property
    def num_demands(self) -> int:
        """D, the number of ordered pairs."""
        return len(self.paths)

    @property
    def total_paths(self) -> int:
        """P, the number of paths over all demands."""
        return len(self.path_demand)

    def path_nodes(self, topology: Topology, d: int, j: int) -> list[int]:
        """The node sequence of the j-th path of demand d.

        Args:
            topology: the topology the path set was built on.
            d: demand index.
            j: path position within the demand.

        Returns:
            Node indices from s to t.
        """
        if topology.num_nodes != self.num_nodes or topology.num_links != self.num_links:
            raise RlteError(
                f"path set: built for {self.num_nodes} nodes and {self.num_links} links, topology "
                f"{topology.name!r} has {topology.num_nodes} and {topology.num_links}"
            )
        links = self.paths[d][j]
        return [int(topology.src[links[0]])] + [int(topology.dst[x]) for x in links]

    def demand_vector(self, matrix: np.ndarray) -> np.ndarray:
        """A traffic matrix as a demand vector in this set's demand order.

        Args:
            matrix: traffic from s to t (the diagonal is ignored). Shape [..., N, N].

        Returns:
            ``matrix[..., s, t]`` for each demand. Shape [..., D].
        """
        matrix = np.asarray(matrix)
        n = self.num_nodes
        if matrix.ndim < 2 or matrix.shape[-2:] != (n, n):
            raise RlteError(f"traffic matrix: has shape {matrix.shape}, want [..., {n}, {n}]")
        return matrix[..., self.pairs[:, 0], self.pairs[:, 1]]

    def path_totals(self, link_values: np.ndarray) -> np.ndarray:
        """The sum of a per-link quantity along each path (delay, weight, ...).

        Args:
            link_values: a value per link. Shape [..., E].

        Returns:
            Per path, the sum over its links. Shape [..., P].
        """
        link_values = np.asarray(link_values, dtype=np.float64)
        if link_values.ndim < 1 or link_values.shape[-1] != self.num_links:
            raise RlteError(f"link values: have shape {link_values.shape}, want [..., {self.num_links}]")
        return np.asarray(self.incidence @ link_values.reshape(-1, self.num_links).T).T.reshape(
            link_values.shape[:-1] + (self.total_paths,)
        )


# ---------------------------------------------------------------------- search machinery
def _check_metric(metric: str, allowed: tuple[str, ...]) -> None:
    if metric not in allowed:
        names = ", ".join(repr(m) for m in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise RlteError(f"metric {metric!r}: unknown (use {names})")


def _check_count(name: str, value, *, allow_none: bool = False, limit: int | None = None) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise RlteError(f"{name} {value!r}: must be an integer >= 1{' or None' if allow_none else ''}")
    if limit is not None and value > limit:
        raise RlteError(f"{name} {value!r}: at most {limit:,} paths per pair (MAX_PATHS_PER_PAIR)")


def check_paths_per_pair(k, name: str = "k") -> None:
    """Refuse a number of paths per pair that is not an integer in 1 .. `MAX_PATHS_PER_PAIR`.

    Args:
        k: the number (e.g. parsed from a baseline name such as ``kpath_uniform_k8``).
        name: how the message names it.

    Raises:
        RlteError: k is not an integer >= 1, or is above `MAX_PATHS_PER_PAIR`.
    """
    _check_count(name, k, limit=MAX_PATHS_PER_PAIR)


class _SearchBudgetSpent(Exception):
    """An enumeration expanded `MAX_SEARCH_STEPS` partial paths (turned into an RlteError)."""


def _integer_costs(topology: Topology, metric: str) -> list[int]:
    """Link costs as exact integers (see the module docstring for the rounding of delays)."""
    if metric == "hops":
        return [1] * topology.num_links
    values = topology.weight if metric == "weight" else topology.delay
    largest = float(values.max())
    if largest == 0:
        return [0] * topology.num_links
    if np.all(values == np.round(values)) and largest < 2.0**40:
        return [int(x) for x in values]
    quantum = 2.0 ** (math.frexp(largest)[1] - 30)
    return [int(x) for x in np.round(values / quantum)]


class _Searcher:
    """Out-adjacency lists and all-pairs distances of one topology under one integer cost."""

    def __init__(self, topology: Topology, costs: list[int]) -> None:
        n = topology.num_nodes
        self.num_nodes = n
        src, dst = topology.src.tolist(), topology.dst.tolist()
        adjacency: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        for e in np.lexsort((topology.dst, topology.src)).tolist():
            adjacency[src[e]].append((dst[e], e, costs[e]))
        self.adjacency = adjacency
        self.link_cost = costs
        #: partial paths `ordered_paths` may still expand, over all its calls
        self.steps_left = MAX_SEARCH_STEPS
        graph = csr_matrix((np.asarray(costs, dtype=np.float64), (topology.src, topology.dst)), shape=(n, n))
        # integer costs below 2^53 add up exactly in float64
        dist = shortest_path(graph, method="D", directed=True)
        self._to_target = [[int(x) for x in column] for column in dist.T]

    def to_target(self, t: int) -> list[int]:
        """Exact distance from every node to t."""
        return self._to_target[t]

    def ordered_paths(
        self, s: int, t: int, bound: int | None = None
    ) -> Iterator[tuple[int, tuple[int, ...], LinkPath]]:
        """Simple paths from s to t with cost <= bound as (cost, nodes, links), ordered by
        (cost, nodes). Best-first over partial paths keyed by (cost + exact distance left, nodes).

        Raises:
            _SearchBudgetSpent: ``steps_left`` partial paths were expanded (over all calls).
        """
        h = self._to_target[t]
        adjacency = self.adjacency
        heap = [(h[s], (s,), (), 1 << s, 0)]
        push, pop = heapq.heappush, heapq.heappop
        while heap:
            if self.steps_left <= 0:
                raise _SearchBudgetSpent
            self.steps_left -= 1
            _, nodes, links, visited, cost = pop(heap)
            u = nodes[-1]
            if u == t:
                yield cost, nodes, links
                continue
            for v, e, c in adjacency[u]:
                if visited >> v & 1:
                    continue
                reach = cost + c + h[v]
                if bound is not None and reach > bound:
                    continue
                push(heap, (reach, nodes + (v,), links + (e,), visited | 1 << v, cost + c))

    def shortest_avoiding(
        self, s: int, t: int, removed_links: set[int], blocked_nodes: Sequence[int] = ()
    ) -> tuple[int, tuple[int, ...], LinkPath] | None:
        """The (cost, nodes)-least path from s to t using no link in ``removed_links`` and no node
        in ``blocked_nodes``, as (cost, nodes, links), or None.

        A* with the full graph's distances as heuristic: they never exceed distances in a graph
        with fewer links, and they are consistent, so the first arrival at a node is its least
        path (with positive costs; zero-cost links can spoil the tie-break, not the cost)."""
        h = self._to_target[t]
        adjacency = self.adjacency
        heap = [(h[s], (s,), (), 0)]
        done = bytearray(self.num_nodes)
        for node in blocked_nodes:
            done[node] = 1
        push, pop = heapq.heappush, heapq.heappop
        while heap:
            _, nodes, links, cost = pop(heap)
            u = nodes[-1]
            if done[u]:
                continue
            done[u] = 1
            if u == t:
                return cost, nodes, links
            for v, e, c in adjacency[u]:
                if done[v] or e in removed_links:
                    continue
                push(heap, (cost + c + h[v], nodes + (v,), links + (e,), cost + c))
        return None

    def yen(self, s: int, t: int, k: int) -> list[tuple[int, tuple[int, ...], LinkPath]]:
        """The first k simple paths from s to t in (cost, nodes) order: Yen's algorithm with
        Lawler's saving (spur only from where a path left its parent), spur paths by A*."""
        first = self.shortest_avoiding(s, t, set())
        if first is None:
            return []
        chosen = [first]
        deviation = [0]
        candidates: list[tuple[int, tuple[int, ...], LinkPath, int]] = []
        seen = {first[1]}
        while len(chosen) < k:
            _, nodes, links = chosen[-1]
            root_cost = sum(self.link_cost[e] for e in links[: deviation[-1]])
            for i in range(deviation[-1], len(links)):
                root = nodes[: i + 1]
                removed = {other[2][i] for other in chosen if len(other[2]) > i and other[1][: i + 1] == root}
                spur = self.shortest_avoiding(nodes[i], t, removed, nodes[:i])
                if spur is not None:
                    path_nodes = root + spur[1][1:]
                    if path_nodes not in seen:
                        seen.add(path_nodes)
                        heapq.heappush(candidates, (root_cost + spur[0], path_nodes, links[:i] + spur[2], i))
                root_cost += self.link_cost[links[i]]
            if not candidates:
                break
            cost, path_nodes, path_links, i = heapq.heappop(candidates)
            chosen.append((cost, path_nodes, path_links))
            deviation.append(i)
        return chosen


def _build(
    topology: Topology,
    label: str,
    per_pair: Callable[[int, int], list[LinkPath]],
    *,
    advice: str = "",
    costs: list[int] | None = None,
) -> PathSet:
    """The path set of ``per_pair(s, t)`` over every ordered pair; with ``costs`` (the integer link
    costs the search used) a large network's result is cached on disk under its label, the
    topology and the costs (`rlte.net.path_cache`)."""

    def search() -> tuple:
        found = []
        for s, t in _demand_pairs(topology.num_nodes).tolist():
            try:
                found.append(tuple(per_pair(s, t)))
            except _SearchBudgetSpent:
                raise RlteError(
                    f"{label} on topology {topology.name!r}: gave up after {MAX_SEARCH_STEPS:,} partial paths "
                    f"(MAX_SEARCH_STEPS), at {topology.nodes[s]} -> {topology.nodes[t]}; {advice}"
                ) from None
        return tuple(found)

    paths = search() if costs is None else cached_paths(label, topology, costs, search)
    return PathSet(num_nodes=topology.num_nodes, num_links=topology.num_links, paths=paths, label=label)


# ---------------------------------------------------------------------- constructors
def k_shortest_paths(topology: Topology, k: int, metric: str = "hops") -> PathSet:
    """The k shortest simple paths of every ordered pair (fewer where fewer exist).

    Paths are ordered by cost, ties broken by the lexicographic order of their node sequences,
    so the result is the first k of all simple paths sorted that way (Yen's k shortest paths with
    a deterministic tie-break).

    Args:
        topology: the network.
        k: the number of paths per pair, >= 1.
        metric: the path cost: ``"hops"``, ``"weight"`` (sum of IGP weights) or ``"delay"``
            (sum of propagation delays).

    Returns:
        A path set with up to k paths per demand.

    Shapes:
        ``path_index`` and ``mask`` are [D, K] with K <= k.

    Raises:
        RlteError: k < 1, k > `MAX_PATHS_PER_PAIR` or an unknown metric.
    """
    _check_count("k", k, limit=MAX_PATHS_PER_PAIR)
    _check_metric(metric, PATH_METRICS)
    costs = _integer_costs(topology, metric)
    searcher = _Searcher(topology, costs)

    def per_pair(s: int, t: int) -> list[LinkPath]:
        return [links for _, _, links in searcher.yen(s, t, k)]

    return _build(topology, f"ksp{k}-{metric}", per_pair, costs=costs)


def edge_disjoint_paths(topology: Topology, k: int, metric: str = "hops") -> PathSet:
    """Up to k pairwise link-disjoint paths of every ordered pair, found greedily.

    The first path is the shortest path; each next one is the shortest path over the links no
    earlier path of the pair uses, until k are found or s and t are cut apart. Ties are broken by
    the lexicographic order of node sequences, so paths come out sorted by (cost, nodes). Greedy
    choice can find fewer disjoint paths than exist (a maximum flow could route around the first
    path), but it keeps every path as short as the ones before it allow, as TE candidate paths
    should be.

    Args:
        topology: the network.
        k: the largest number of paths per pair, >= 1.
        metric: ``"hops"``, ``"weight"`` or ``"delay"``, as in `k_shortest_paths`.

    Returns:
        A path set with 1 to k link-disjoint paths per demand.

    Shapes:
        ``path_index`` and ``mask`` are [D, K] with K <= k.

    Raises:
        RlteError: k < 1, k > `MAX_PATHS_PER_PAIR` or an unknown metric.
    """
    _check_count("k", k, limit=MAX_PATHS_PER_PAIR)
    _check_metric(metric, PATH_METRICS)
    searcher = _Searcher(topology, _integer_costs(topology, metric))

    def per_pair(s: int, t: int) -> list[LinkPath]:
        found: list[LinkPath] = []
        used: set[int] = set()
        while len(found) < k:
            best = searcher.shortest_avoiding(s, t, used)
            if best is None:
                break
            links = best[2]
            found.append(links)
            used.update(links)
        return found

    return _build(topology, f"edp{k}-{metric}", per_pair)


def paths_within_stretch(topology: Topology, stretch: float = 1.5, max_paths: int | None = None) -> PathSet:
    """Every simple path whose hop count is at most floor(stretch x the shortest hop count).

    MAROH's candidate paths use stretch 1.5. Paths are sorted by hops, ties broken by the
    lexicographic order of node sequences; ``max_paths`` keeps the first ones of that order.

    Args:
        topology: the network.
        stretch: the largest ratio of a path's hops to the shortest, a finite number >= 1
            (the bound is floor(stretch * hops + 1e-9), so 1.1 * 10 allows 11 hops).
        max_paths: the largest number of paths per pair, or None for all.

    Returns:
        A path set including every shortest-hop path of every pair (unless ``max_paths`` cuts).

    Raises:
        RlteError: stretch < 1 or not finite, max_paths < 1 or above `MAX_PATHS_PER_PAIR`, or the
            search expanded `MAX_SEARCH_STEPS` partial paths.
    """
    if (
        isinstance(stretch, bool)
        or not isinstance(stretch, (int, float, np.integer, np.floating))
        or not (1 <= stretch < math.inf)
    ):
        raise RlteError(f"stretch {stretch!r}: must be a finite number >= 1")
    _check_count("max_paths", max_paths, allow_none=True, limit=MAX_PATHS_PER_PAIR)
    searcher = _Searcher(topology, _integer_costs(topology, "hops"))

    def per_pair(s: int, t: int) -> list[LinkPath]:
        bound = math.floor(float(stretch) * searcher.to_target(t)[s] + 1e-9)
        found = []
        for _, _, links in searcher.ordered_paths(s, t, bound):
            found.append(links)
            if max_paths is not None and len(found) == max_paths:
                break
        return found

    label = f"stretch{float(stretch):g}" + ("" if max_paths is None else f"-max{max_paths}")
    return _build(topology, label, per_pair, advice="lower the stretch or set max_paths")


def all_simple_paths(topology: Topology, max_hops: int | None = None) -> PathSet:
    """Every simple path of every ordered pair, sorted by hops then node sequence.

    Their number grows exponentially with the size of the network: meant for tiny graphs, e.g.
    to check a path-based LP against the link-based one.

    Args:
        topology: the network.
        max_hops: keep only paths of at most this many links, or None for all.

    Returns:
        A path set.

    Raises:
        RlteError: max_hops < 1, some pair has no path of at most max_hops links, or the search
            expanded `MAX_SEARCH_STEPS` partial paths.
    """
    _check_count("max_hops", max_hops, allow_none=True)
    searcher = _Searcher(topology, _integer_costs(topology, "hops"))

    def per_pair(s: int, t: int) -> list[LinkPath]:
        if max_hops is not None and searcher.to_target(t)[s] > max_hops:
            raise RlteError(
                f"max_hops {max_hops}: no path from {topology.nodes[s]!r} to {topology.nodes[t]!r} "
                f"has so few links (the shortest has {searcher.to_target(t)[s]})"
            )
        return [links for _, _, links in searcher.ordered_paths(s, t, max_hops)]

    label = "all" if max_hops is None else f"all-max{max_hops}hops"
    return _build(topology, label, per_pair, advice="set max_hops or use a smaller network")


# ---------------------------------------------------------------------- ECMP
@dataclass(frozen=True, eq=False)
class EcmpDag:
    """Shortest-path DAGs toward every destination, the next hops of ECMP.

    Attributes:
        metric: ``"hops"`` or ``"weight"``.
        src: source node of each link. Shape [E].
        dst: destination node of each link. Shape [E].
        dist: shortest distance from u to t at ``dist[u, t]``. Shape [N, N].
        on_dag: row t, link e = (u, v) is True iff dist[u, t] == cost(e) + dist[v, t]
            (relative tolerance `ECMP_RTOL`): e is an equal-cost next hop of u toward t.
            Shape [N, E].
    """

    metric: str
    src: np.ndarray
    dst: np.ndarray
    dist: np.ndarray
    on_dag: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "src", _frozen(self.src, np.int64))
        object.__setattr__(self, "dst", _frozen(self.dst, np.int64))
        object.__setattr__(self, "dist", _frozen(self.dist, np.float64))
        object.__setattr__(self, "on_dag", _frozen(self.on_dag, bool))

    @property
    def num_nodes(self) -> int:
        return self.dist.shape[0]

    def next_hops(self, u: int, t: int) -> np.ndarray:
        """Links on which u forwards traffic for t (empty when u == t).

        Args:
            u: the forwarding node.
            t: the destination.

        Returns:
            Link indices, ascending. Shape [number of next hops].
        """
        return np.flatnonzero(self.on_dag[t] & (self.src == u))

    def even_splits(self) -> np.ndarray:
        """ECMP next-hop splits: each node splits traffic for t evenly over its DAG links.

        Returns:
            Row t, link e: 1 / (number of next hops of src[e] toward t) if e is on the DAG of t,
            else 0; every node's out-links sum to 1 except at t. Shape [N, E].
        """
        n = self.num_nodes
        rows, links = np.nonzero(self.on_dag)
        counts = np.bincount(rows * n + self.src[links], minlength=n * n).reshape(n, n)
        splits = np.zeros(self.on_dag.shape)
        splits[rows, links] = 1.0 / counts[rows, self.src[links]]
        return splits


def ecmp_dag(topology: Topology, metric: str = "hops") -> EcmpDag:
    """The shortest-path DAG toward every destination (equal-cost multipath next hops).

    Args:
        topology: the network.
        metric: ``"hops"`` (every link costs 1) or ``"weight"`` (IGP weights).

    Returns:
        The DAGs with the distances they come from.

    Shapes:
        ``dist`` [N, N] (from u to t), ``on_dag`` [N, E] (row t).

    Raises:
        RlteError: an unknown metric.
    """
    _check_metric(metric, ECMP_METRICS)
    n = topology.num_nodes
    cost = np.ones(topology.num_links) if metric == "hops" else topology.weight.astype(np.float64)
    graph = csr_matrix((cost, (topology.src, topology.dst)), shape=(n, n))
    dist = shortest_path(graph, method="D", directed=True)
    here = dist[topology.src].T  # [N, E]: dist[src[e], t]
    via = cost[None, :] + dist[topology.dst].T  # [N, E]: cost(e) + dist[dst[e], t]
    on_dag = np.isclose(here, via, rtol=ECMP_RTOL, atol=0.0) & (
        topology.src[None, :] != np.arange(n)[:, None]
    )
    return EcmpDag(metric=metric, src=topology.src, dst=topology.dst, dist=dist, on_dag=on_dag)


def stretch_dag(topology: Topology, stretch: float = 1.5) -> np.ndarray:
    """Eligible next hops per destination for hop-by-hop splitting on near-shortest paths.

    Link e = (u, v) is eligible toward t when it brings the traffic closer in the order
    (hop distance to t, node index) -- strictly fewer hops, or as many hops and a lower index --
    and ``h(v, t) + 1 <= stretch * h(u, t)``. The order makes every destination's graph acyclic
    (no forwarding loop); the second condition keeps each hop within the stretch of the shortest
    route from u (MAROH uses 1.5: with it, equal-distance detours are allowed from 2 hops away).
    Every shortest-path next hop is eligible, so every node has one; with stretch 1 the result
    is `ecmp_dag`'s hop DAG.

    Args:
        topology: the network.
        stretch: the largest ratio of a route's hops to the shortest, a finite number >= 1.

    Returns:
        on_dag: row t, link e is True iff e is an eligible next hop of src[e] toward t. Shape [N, E].

    Raises:
        RlteError: stretch < 1 or not finite.
    """
    if (
        isinstance(stretch, bool)
        or not isinstance(stretch, (int, float, np.integer, np.floating))
        or not (1 <= stretch < math.inf)
    ):
        raise RlteError(f"stretch {stretch!r}: must be a finite number >= 1")
    hops = ecmp_dag(topology, metric="hops").dist  # [u, t]
    u, v = topology.src, topology.dst
    h_u, h_v = hops[u].T, hops[v].T  # [t, e]
    closer = (h_v < h_u) | ((h_v == h_u) & (v < u)[None, :])
    within = h_v + 1 <= stretch * h_u + 1e-9
    return closer & within & (h_u > 0)
