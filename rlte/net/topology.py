"""The network as data: named nodes and directed links with capacity, delay and IGP weight.

A `Topology` is immutable. Transformations (failures, added links, capacity changes) return a new
one. Links are directed; an undirected source link becomes two directed links, one per direction,
with the same attributes.

`load_topology` turns one string, as the command line takes it, into a topology: the resolver
(`rlte.net.sources.resolve_topology`) says where it comes from (a built-in, a data-directory file,
a file, a topohub id) and `read_topology` parses it. The readers of each file format live in
`rlte.net.topology_formats` (`from_gml`, `from_graphml`, `from_node_link_json`,
`from_abilene_table`, `from_edge_csv`, `from_topohub`), the built-ins (`nsfnet14`, `grid6x6`) in
`rlte.net.builtin_topologies`; both are importable from here too.

Units: capacity in bit/s, propagation delay in seconds, IGP weight unitless.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from rlte.errors import RlteError
from rlte.net.builtin_topologies import BUILTINS, GRID6X6_EDGES, NSFNET14_EDGES
from rlte.net.inputs import suggest as _suggest
from rlte.net.sources import DATA_TOPOLOGIES, TopologySource, resolve_topology, topology_file_format
from rlte.net.topology_formats import (
    ABILENE_NODES,
    TOPOHUB_DEFAULT_DEMAND_UNIT_BPS,
    TOPOHUB_DEMAND_UNIT_BPS,
    TOPOLOGY_READERS,
    from_abilene_table,
    from_edge_csv,
    from_gml,
    from_graphml,
    from_node_link_json,
    from_topohub,
    topohub_ids,
)

__all__ = [
    "ABILENE_NODES",
    "BUILTINS",
    "DATA_TOPOLOGIES",
    "DEFAULT_CAPACITY_BPS",
    "DEFAULT_DELAY_S",
    "FIBRE_KM_PER_S",
    "GRID6X6_EDGES",
    "NSFNET14_EDGES",
    "TOPOHUB_DEFAULT_DEMAND_UNIT_BPS",
    "TOPOHUB_DEMAND_UNIT_BPS",
    "Topology",
    "TopologySource",
    "build_topology",
    "from_abilene_table",
    "from_edge_csv",
    "from_gml",
    "from_graphml",
    "from_node_link_json",
    "from_topohub",
    "load_topology",
    "load_topology_file",
    "read_topology",
    "resolve_topology",
    "topohub_ids",
]

#: Capacity given to links whose source states none (topohub, edge lists): 10 Gbit/s.
DEFAULT_CAPACITY_BPS = 10e9
#: Propagation delay of links with neither a length nor node coordinates: 1 ms (about 200 km).
DEFAULT_DELAY_S = 1e-3
#: Signal speed in fibre used to turn link lengths into propagation delay.
FIBRE_KM_PER_S = 200_000.0
_EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True, eq=False)
class Topology:
    """A directed network.

    Attributes:
        name: a label for tables and plots.
        nodes: node names, in index order.
        src: source node index of each link. Shape [E].
        dst: destination node index of each link. Shape [E].
        capacity: link capacity in bit/s. Shape [E].
        delay: propagation delay in seconds. Shape [E].
        weight: IGP (OSPF) weight. Shape [E].
        coords: (longitude, latitude) or plane coordinates of each node, or None. Shape [N, 2].
        demands: a static demand matrix in bit/s shipped with the source, or None. Shape [N, N].
    """

    name: str
    nodes: tuple[str, ...]
    src: np.ndarray
    dst: np.ndarray
    capacity: np.ndarray
    delay: np.ndarray
    weight: np.ndarray
    coords: np.ndarray | None = None
    demands: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        def frozen(values, dtype):
            array = np.array(values, dtype=dtype, copy=True)
            array.setflags(write=False)
            return array

        object.__setattr__(self, "nodes", tuple(str(n) for n in self.nodes))
        for name, dtype in (("src", np.int64), ("dst", np.int64)):
            object.__setattr__(self, name, frozen(self.src if name == "src" else self.dst, dtype))
        for name in ("capacity", "delay", "weight"):
            object.__setattr__(self, name, frozen(getattr(self, name), np.float64))
        if self.coords is not None:
            object.__setattr__(self, "coords", frozen(self.coords, np.float64))
        if self.demands is not None:
            object.__setattr__(self, "demands", frozen(self.demands, np.float64))
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        where = f"topology {self.name!r}"
        n, e = len(self.nodes), len(self.src)
        if n < 2:
            raise RlteError(f"{where}: needs at least 2 nodes, has {n}")
        if len(set(self.nodes)) != n:
            dup = sorted({x for x in self.nodes if self.nodes.count(x) > 1})
            raise RlteError(f"{where}: duplicate node name {dup[0]!r}")
        for name in ("dst", "capacity", "delay", "weight"):
            if getattr(self, name).shape != (e,):
                raise RlteError(f"{where}: {name} has shape {getattr(self, name).shape}, want ({e},)")
        for i in range(e):
            u, v = int(self.src[i]), int(self.dst[i])
            if not (0 <= u < n and 0 <= v < n):
                raise RlteError(f"{where}: link {i} names an unknown node ({u} -> {v})")
            if u == v:
                raise RlteError(f"{where}: self-loop at node {self.nodes[u]!r}")
        keys = self.src * n + self.dst
        if len(np.unique(keys)) != e:
            seen: set[int] = set()
            for i, key in enumerate(keys.tolist()):
                if key in seen:
                    u, v = self.nodes[self.src[i]], self.nodes[self.dst[i]]
                    raise RlteError(f"{where}: duplicate link {u} -> {v}")
                seen.add(key)
        for name, arr in (("capacity", self.capacity), ("weight", self.weight)):
            bad = np.flatnonzero(~(arr > 0))
            if len(bad):
                i = int(bad[0])
                raise RlteError(
                    f"{where}: link {self.nodes[self.src[i]]} -> {self.nodes[self.dst[i]]} has "
                    f"{name} {float(arr[i])!r}; it must be a positive number"
                )
        bad = np.flatnonzero(~(self.delay >= 0) | ~np.isfinite(self.delay))
        if len(bad):
            i = int(bad[0])
            raise RlteError(
                f"{where}: link {self.nodes[self.src[i]]} -> {self.nodes[self.dst[i]]} has delay "
                f"{float(self.delay[i])!r}; it must be a finite number >= 0"
            )
        if np.isinf(self.capacity).any():
            raise RlteError(f"{where}: infinite capacity")
        bad = np.flatnonzero(np.isinf(self.weight))
        if len(bad):
            i = int(bad[0])
            raise RlteError(
                f"{where}: link {self.nodes[self.src[i]]} -> {self.nodes[self.dst[i]]} has weight "
                f"{float(self.weight[i])!r}; it must be finite"
            )
        if self.coords is not None:
            if self.coords.shape != (n, 2):
                raise RlteError(f"{where}: coords have shape {self.coords.shape}, want ({n}, 2)")
            bad = np.flatnonzero(~np.isfinite(self.coords).all(axis=1))
            if len(bad):
                i = int(bad[0])
                raise RlteError(
                    f"{where}: node {self.nodes[i]!r} has coordinates {self.coords[i].tolist()}; "
                    "they must be finite numbers"
                )
        if self.demands is not None:
            if self.demands.shape != (n, n):
                raise RlteError(f"{where}: demands have shape {self.demands.shape}, want ({n}, {n})")
            if not np.isfinite(self.demands).all() or (self.demands < 0).any():
                raise RlteError(f"{where}: demands must be finite and >= 0")
        unreachable = self._first_unreachable_pair()
        if unreachable is not None:
            u, v = unreachable
            raise RlteError(
                f"{where}: not strongly connected (no path from {self.nodes[u]!r} to {self.nodes[v]!r})"
            )

    def _first_unreachable_pair(self) -> tuple[int, int] | None:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import breadth_first_order

        n = self.num_nodes
        graph = csr_matrix((np.ones(self.num_links), (self.src, self.dst)), shape=(n, n))
        for reverse, matrix in ((False, graph), (True, graph.T.tocsr())):
            reached = breadth_first_order(matrix, 0, directed=True, return_predecessors=False)
            if len(reached) < n:
                missing = int(np.setdiff1d(np.arange(n), reached)[0])
                return (missing, 0) if reverse else (0, missing)
        return None

    # ------------------------------------------------------------------ accessors
    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_links(self) -> int:
        return len(self.src)

    @cached_property
    def node_index(self) -> dict[str, int]:
        """Node name -> index."""
        return {name: i for i, name in enumerate(self.nodes)}

    @cached_property
    def link_index(self) -> dict[tuple[int, int], int]:
        """(source index, destination index) -> link index."""
        return {(int(u), int(v)): i for i, (u, v) in enumerate(zip(self.src, self.dst))}

    def index_of(self, node: str | int) -> int:
        """The index of a node given by name (or by index, checked)."""
        if isinstance(node, (int, np.integer)) and not isinstance(node, bool):
            if 0 <= int(node) < self.num_nodes:
                return int(node)
            raise RlteError(f"topology {self.name!r}: no node with index {node}")
        key = str(node)
        if key not in self.node_index:
            raise RlteError(f"topology {self.name!r}: unknown node {key!r}{_suggest(key, self.nodes)}")
        return self.node_index[key]

    def link_names(self) -> list[tuple[str, str]]:
        """(source name, destination name) of each link."""
        return [(self.nodes[u], self.nodes[v]) for u, v in zip(self.src, self.dst)]

    def out_links(self, node: int) -> np.ndarray:
        """Indices of the links leaving ``node``."""
        return np.flatnonzero(self.src == node)

    def to_networkx(self):
        """A ``networkx.DiGraph`` on node indices with link attributes (``index``, ``capacity``,
        ``delay``, ``weight``) and node attribute ``name``."""
        import networkx as nx

        graph = nx.DiGraph(name=self.name)
        for i, name in enumerate(self.nodes):
            graph.add_node(i, name=name)
        for i in range(self.num_links):
            graph.add_edge(
                int(self.src[i]),
                int(self.dst[i]),
                index=i,
                capacity=float(self.capacity[i]),
                delay=float(self.delay[i]),
                weight=float(self.weight[i]),
            )
        return graph

    def hop_diameter(self) -> int:
        """The longest shortest path, in hops."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import shortest_path

        n = self.num_nodes
        graph = csr_matrix((np.ones(self.num_links), (self.src, self.dst)), shape=(n, n))
        return int(shortest_path(graph, unweighted=True).max())

    def summary(self) -> dict:
        """Counts and ranges for display."""
        return {
            "name": self.name,
            "nodes": self.num_nodes,
            "links": self.num_links,
            "capacity_min_bps": float(self.capacity.min()),
            "capacity_max_bps": float(self.capacity.max()),
            "total_capacity_bps": float(self.capacity.sum()),
            "delay_min_s": float(self.delay.min()),
            "delay_max_s": float(self.delay.max()),
            "hop_diameter": self.hop_diameter(),
            "has_demands": self.demands is not None,
        }

    # ------------------------------------------------------------------ transformations
    def replace(self, **changes) -> Topology:
        """A copy with some fields changed (validated again)."""
        fields = {
            "name": self.name,
            "nodes": self.nodes,
            "src": self.src,
            "dst": self.dst,
            "capacity": self.capacity,
            "delay": self.delay,
            "weight": self.weight,
            "coords": self.coords,
            "demands": self.demands,
        }
        fields.update(changes)
        return Topology(**fields)

    def _link_ids(self, links: Iterable[tuple[str | int, str | int]], both_directions: bool) -> list[int]:
        ids: list[int] = []
        for u, v in links:
            a, b = self.index_of(u), self.index_of(v)
            pairs = [(a, b), (b, a)] if both_directions else [(a, b)]
            found = False
            for pair in pairs:
                if pair in self.link_index:
                    ids.append(self.link_index[pair])
                    found = True
                elif not both_directions:
                    raise RlteError(f"topology {self.name!r}: no link {self.nodes[a]} -> {self.nodes[b]}")
            if not found:
                raise RlteError(
                    f"topology {self.name!r}: no link between {self.nodes[a]} and {self.nodes[b]}"
                )
        return ids

    def without_links(
        self, links: Iterable[tuple[str | int, str | int]], *, both_directions: bool = True
    ) -> Topology:
        """Remove links (a failure). By default a named pair removes both directions.

        Raises:
            RlteError: a named link does not exist, or the rest is not strongly connected.
        """
        drop = set(self._link_ids(links, both_directions))
        keep = np.array([i for i in range(self.num_links) if i not in drop], dtype=np.int64)
        return self._keep_links(keep, name=f"{self.name}-{len(drop)}links")

    def without_nodes(self, nodes: Iterable[str | int]) -> Topology:
        """Remove nodes and their links (a node failure). Indices of the rest are renumbered."""
        drop = {self.index_of(node) for node in nodes}
        keep_nodes = [i for i in range(self.num_nodes) if i not in drop]
        renumber = {old: new for new, old in enumerate(keep_nodes)}
        keep = np.array(
            [i for i in range(self.num_links) if self.src[i] not in drop and self.dst[i] not in drop],
            dtype=np.int64,
        )
        return Topology(
            name=f"{self.name}-{len(drop)}nodes",
            nodes=[self.nodes[i] for i in keep_nodes],
            src=[renumber[int(u)] for u in self.src[keep]],
            dst=[renumber[int(v)] for v in self.dst[keep]],
            capacity=self.capacity[keep],
            delay=self.delay[keep],
            weight=self.weight[keep],
            coords=None if self.coords is None else self.coords[keep_nodes],
            demands=None if self.demands is None else self.demands[np.ix_(keep_nodes, keep_nodes)],
        )

    def _keep_links(self, keep: np.ndarray, name: str) -> Topology:
        return self.replace(
            name=name,
            src=self.src[keep],
            dst=self.dst[keep],
            capacity=self.capacity[keep],
            delay=self.delay[keep],
            weight=self.weight[keep],
        )

    def with_links(
        self,
        links: Iterable[tuple[str | int, str | int]],
        *,
        capacity: float | None = None,
        delay: float | None = None,
        weight: float = 1.0,
        both_directions: bool = True,
    ) -> Topology:
        """Add links (a topology change). New links get ``capacity`` (default: the median
        capacity), ``delay`` (default: from node coordinates, else `DEFAULT_DELAY_S`) and ``weight``.
        """
        cap = float(np.median(self.capacity)) if capacity is None else float(capacity)
        src, dst = list(self.src), list(self.dst)
        caps, delays, weights = list(self.capacity), list(self.delay), list(self.weight)
        for u, v in links:
            a, b = self.index_of(u), self.index_of(v)
            for x, y in [(a, b), (b, a)] if both_directions else [(a, b)]:
                src.append(x)
                dst.append(y)
                caps.append(cap)
                weights.append(weight)
                if delay is not None:
                    delays.append(float(delay))
                elif self.coords is not None:
                    delays.append(_coord_delay(self.coords[x], self.coords[y]))
                else:
                    delays.append(DEFAULT_DELAY_S)
        return self.replace(src=src, dst=dst, capacity=caps, delay=delays, weight=weights)

    def with_uniform_capacity(self, capacity_bps: float) -> Topology:
        """Every link gets the same capacity (bit/s)."""
        if not (capacity_bps > 0) or not math.isfinite(capacity_bps):
            raise RlteError(f"capacity {capacity_bps!r}: must be a positive finite number of bit/s")
        return self.replace(capacity=np.full(self.num_links, float(capacity_bps)))

    def with_scaled_capacity(self, factor: float) -> Topology:
        """Every link's capacity multiplied by ``factor``."""
        if not (factor > 0) or not math.isfinite(factor):
            raise RlteError(f"capacity factor {factor!r}: must be a positive finite number")
        return self.replace(capacity=self.capacity * float(factor))

    def with_weights(self, weights: Sequence[float] | np.ndarray) -> Topology:
        """New IGP weights, one per link."""
        return self.replace(weight=np.asarray(weights, dtype=np.float64))


# ---------------------------------------------------------------------- building from a source's links
def _great_circle_km(a: np.ndarray, b: np.ndarray) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _coord_delay(a: np.ndarray, b: np.ndarray) -> float:
    """Delay over the great-circle distance between two (longitude, latitude) points."""
    if abs(a[1]) > 90 or abs(b[1]) > 90:  # plane coordinates, not geographic
        return DEFAULT_DELAY_S
    return _great_circle_km(a, b) / FIBRE_KM_PER_S


def build_topology(
    name: str,
    nodes: Sequence[str],
    edges: Iterable[tuple[int, int, dict]],
    *,
    coords: np.ndarray | None = None,
    directed: bool = False,
    demands: np.ndarray | None = None,
    source: str,
) -> Topology:
    """A topology from a source's links, with the defaults where the source says nothing.

    Args:
        name: the topology's label.
        nodes: node names, in index order.
        edges: (u, v, attrs) with node indices; ``attrs`` may hold ``capacity`` (bit/s, default
            `DEFAULT_CAPACITY_BPS`), ``delay`` (s), ``length_km`` (delay at `FIBRE_KM_PER_S`) and
            ``weight`` (default 1). Without delay or length, the delay follows the great-circle
            distance of ``coords``, else `DEFAULT_DELAY_S`.
        coords: (longitude, latitude) per node, or None. Shape [N, 2].
        directed: keep each edge as one link; else each becomes two, one per direction.
        demands: the source's static demand matrix in bit/s, or None. Shape [N, N].
        source: names the input in error messages (a file, a topohub id).

    Returns:
        The validated topology.

    Raises:
        RlteError: what `Topology` validation finds, naming ``source``.
    """
    if coords is not None:  # checked before delays are computed from them
        coords = np.asarray(coords, dtype=np.float64)
        if coords.shape != (len(nodes), 2):
            raise RlteError(f"{source}: coords have shape {coords.shape}, want ({len(nodes)}, 2)")
        bad = np.flatnonzero(~np.isfinite(coords).all(axis=1))
        if len(bad):
            i = int(bad[0])
            raise RlteError(
                f"{source}: node {nodes[i]!r} has coordinates {coords[i].tolist()}; they must be finite numbers"
            )
    src, dst, cap, delay, weight = [], [], [], [], []
    for u, v, attrs in edges:
        if u == v:
            raise RlteError(f"{source}: self-loop at node {nodes[u]!r}")
        capacity = attrs.get("capacity", DEFAULT_CAPACITY_BPS)
        if attrs.get("delay") is not None:
            d = float(attrs["delay"])
        elif attrs.get("length_km") is not None:
            d = float(attrs["length_km"]) / FIBRE_KM_PER_S
        elif coords is not None:
            d = _coord_delay(coords[u], coords[v])
        else:
            d = DEFAULT_DELAY_S
        w = attrs.get("weight", 1.0)
        for a, b in [(u, v)] if directed else [(u, v), (v, u)]:
            src.append(a)
            dst.append(b)
            cap.append(capacity)
            delay.append(d)
            weight.append(w)
    try:
        return Topology(
            name=name,
            nodes=nodes,
            src=src,
            dst=dst,
            capacity=cap,
            delay=delay,
            weight=weight,
            coords=coords,
            demands=demands,
        )
    except RlteError as err:
        message = str(err).replace(f"topology {name!r}", source, 1)
        raise RlteError(message) from None
    except (TypeError, ValueError) as err:
        raise RlteError(f"{source}: {err}") from None


# ---------------------------------------------------------------------- loading
def load_topology(spec: str, *, data_dir: str | os.PathLike | None = None) -> Topology:
    """Load a topology from one string, as the command line does.

    ``spec`` is, in order of precedence: a built-in (``nsfnet14``, ``grid6x6``); a data-directory
    name (``abilene``: the real link table; ``maroh/rhombus``, ``maroh/abilene``, ...); an existing
    file (``.gml``, ``.graphml``, ``.json``, ``.csv``, or an Abilene-format table); a topohub id.

    Raises:
        RlteError: nothing matches (close names are suggested) or the file is malformed.
    """
    return read_topology(resolve_topology(spec, data_dir))


def load_topology_file(path: str | os.PathLike) -> Topology:
    """Load a topology file, choosing the reader by its extension (or content, for an Abilene table)."""
    path = Path(path)
    return read_topology(TopologySource("file", str(path), path=path, format=topology_file_format(path)))


def read_topology(source: TopologySource) -> Topology:
    """The topology a resolved source describes (`rlte.net.sources.resolve_topology` found it).

    Raises:
        RlteError: the file is malformed (or, for a topohub id, unknown).
    """
    if source.kind == "builtin":
        return BUILTINS[source.spec]()
    if source.kind == "topohub":
        return from_topohub(source.spec)
    topology = TOPOLOGY_READERS[source.format](source.path)
    if source.name is not None and source.name != topology.name:
        topology = topology.replace(name=source.name)
    return topology
