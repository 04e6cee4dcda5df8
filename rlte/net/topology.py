"""The network as data: named nodes and directed links with capacity, delay and IGP weight.

A `Topology` is immutable. Transformations (failures, added links, capacity changes) return a new
one. Links are directed; an undirected source link becomes two directed links, one per direction,
with the same attributes.

Loaders: `from_topohub` (SNDlib, Topology Zoo, Gabriel graphs shipped by the ``topohub`` package,
with their static demand matrix), `from_gml`, `from_graphml`, `from_node_link_json`,
`from_abilene_table` (the Abilene link table with real capacities and OSPF weights),
`from_edge_csv` (``u,v[,capacity]``) and the built-ins `nsfnet14` and `grid6x6`. `load_topology`
picks the right one from a single string, as the command line does.

Units: capacity in bit/s, propagation delay in seconds, IGP weight unitless.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from rlte.errors import RlteError

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
        if self.coords is not None and self.coords.shape != (n, 2):
            raise RlteError(f"{where}: coords have shape {self.coords.shape}, want ({n}, 2)")
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


# ---------------------------------------------------------------------- helpers
def _suggest(key: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(candidates), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _great_circle_km(a: np.ndarray, b: np.ndarray) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _coord_delay(a: np.ndarray, b: np.ndarray) -> float:
    """Delay over the great-circle distance between two (longitude, latitude) points."""
    if abs(a[1]) > 90 or abs(b[1]) > 90:  # plane coordinates, not geographic
        return DEFAULT_DELAY_S
    return _great_circle_km(a, b) / FIBRE_KM_PER_S


def _from_undirected(
    name: str,
    nodes: Sequence[str],
    edges: Iterable[tuple[int, int, dict]],
    *,
    coords: np.ndarray | None = None,
    directed: bool = False,
    demands: np.ndarray | None = None,
    source: str,
) -> Topology:
    """Build a topology from (u, v, attrs) edges. ``attrs`` may hold ``capacity`` (bit/s),
    ``length_km``, ``delay`` (s) and ``weight``. Undirected edges become two directed links."""
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


# ---------------------------------------------------------------------- topohub
#: Unit in which rlte reads topohub's static demand values, bit/s per unit. topohub states no
#: unit, and magnitudes differ by 10^3 between networks: sndlib/abilene and sndlib/geant are
#: normalised to a total of 3,000,000, which read as kbit/s gives 3 Gbit/s (the real Abilene week
#: averages 3.0 Gbit/s between distinct nodes); the other SNDlib networks carry SNDlib's own values, read as Mbit/s.
#: Load levels (`scale_to_load`) rescale anyway, so for experiments only ratios matter.
TOPOHUB_DEMAND_UNIT_BPS = {"sndlib/abilene": 1e3, "sndlib/geant": 1e3}
TOPOHUB_DEFAULT_DEMAND_UNIT_BPS = 1e6


def topohub_ids() -> list[str]:
    """Every topology id that the installed ``topohub`` package ships, sorted."""
    from importlib.resources import files

    import topohub

    root = files(topohub) / "data"
    ids: list[str] = []

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".json"):
                ids.append(prefix + child.name[: -len(".json")])

    walk(root, "")
    return sorted(ids)


def from_topohub(topology_id: str) -> Topology:
    """A topology shipped by ``topohub`` (``sndlib/abilene``, ``topozoo/Geant2009``,
    ``gabriel/100/0``, ...), with links in both directions at `DEFAULT_CAPACITY_BPS`, delay
    from the link length (``dist``, km) and IGP weight 1, and its static demand matrix (bit/s,
    see `TOPOHUB_DEMAND_UNIT_BPS`) when it has one.

    Raises:
        RlteError: the id is unknown (close ids are suggested).
    """
    import topohub

    try:
        raw = topohub.get(topology_id)
    except (KeyError, OSError, ValueError):
        raise RlteError(
            f"topology {topology_id!r}: unknown topohub id{_suggest(topology_id, topohub_ids())}"
        ) from None
    ids = [node["id"] for node in raw["nodes"]]
    position = {node_id: i for i, node_id in enumerate(ids)}
    names = [str(node.get("name", node["id"])) for node in raw["nodes"]]
    if len(set(names)) != len(names):  # unnamed or duplicated names: fall back to ids
        names = [str(node_id) for node_id in ids]
    coords = None
    if all("pos" in node for node in raw["nodes"]):
        coords = np.array([node["pos"] for node in raw["nodes"]], dtype=np.float64)
    edges = [
        (position[e["source"]], position[e["target"]], {"length_km": e.get("dist")})
        for e in raw["edges"]
        if e["source"] != e["target"]
    ]
    # topohub stores each undirected edge once; drop accidental repeats in either order
    seen: set[tuple[int, int]] = set()
    unique = []
    for u, v, attrs in edges:
        key = (min(u, v), max(u, v))
        if key not in seen:
            seen.add(key)
            unique.append((u, v, attrs))
    demands = None
    raw_demands = raw["graph"].get("demands") or {}
    if raw_demands:
        demands = np.zeros((len(ids), len(ids)))
        lookup = {str(k): v for k, v in position.items()}
        unit = TOPOHUB_DEMAND_UNIT_BPS.get(topology_id, TOPOHUB_DEFAULT_DEMAND_UNIT_BPS)
        for s, row in raw_demands.items():
            for t, value in row.items():
                if str(s) not in lookup or str(t) not in lookup:
                    raise RlteError(f"topohub {topology_id!r}: a demand names an unknown node ({s} -> {t})")
                if str(s) != str(t):
                    demands[lookup[str(s)], lookup[str(t)]] += float(value) * unit
    name = topology_id.replace("/", "-")
    return _from_undirected(
        name, names, unique, coords=coords, demands=demands, source=f"topohub {topology_id!r}"
    )


# ---------------------------------------------------------------------- files
def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise RlteError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RlteError(f"{path}: cannot read ({err})") from None


def _graph_to_topology(graph, path: Path, *, capacity_key: str | None = None) -> Topology:
    """A networkx graph (from GML, GraphML or node-link JSON) as a Topology."""
    import networkx as nx

    nodes = list(graph.nodes)
    position = {node: i for i, node in enumerate(nodes)}

    def name_of(node) -> str:
        attrs = graph.nodes[node]
        for key in ("name", "label"):
            if key in attrs and attrs[key] not in (None, ""):
                return str(attrs[key])
        return str(node)

    names = [name_of(node) for node in nodes]
    if len(set(names)) != len(names):
        names = [str(node) for node in nodes]
    coords = None
    if nodes and all("Longitude" in graph.nodes[n] and "Latitude" in graph.nodes[n] for n in nodes):
        coords = np.array(
            [[float(graph.nodes[n]["Longitude"]), float(graph.nodes[n]["Latitude"])] for n in nodes]
        )
    elif nodes and all("pos" in graph.nodes[n] for n in nodes):
        coords = np.array([[float(x) for x in graph.nodes[n]["pos"]][:2] for n in nodes])
    directed = graph.is_directed()
    keys = [capacity_key] if capacity_key else ["capacity", "bandwidth", "LinkSpeedRaw", "bw"]
    edges = []
    seen: set[tuple[int, int]] = set()
    edge_iter = graph.edges(data=True)
    for u, v, attrs in edge_iter:
        a, b = position[u], position[v]
        key = (a, b) if directed else (min(a, b), max(a, b))
        if key in seen:
            raise RlteError(f"{path}: duplicate link {names[a]} -> {names[b]}")
        seen.add(key)
        out: dict = {}
        for k in keys:
            if k in attrs:
                try:
                    out["capacity"] = float(attrs[k])
                except (TypeError, ValueError):
                    raise RlteError(
                        f"{path}: link {names[a]} -> {names[b]} has {k} {attrs[k]!r}, not a number"
                    ) from None
                break
        for k in ("weight", "igp_weight", "ospf", "cost"):
            if k in attrs:
                out["weight"] = float(attrs[k])
                break
        if "delay" in attrs:
            out["delay"] = float(attrs["delay"])
        for k in ("length_km", "dist", "length", "distance"):
            if k in attrs:
                out["length_km"] = float(attrs[k])
                break
        edges.append((a, b, out))
    name = str(graph.graph.get("label") or graph.graph.get("name") or path.stem)
    if name == path.stem == "topology":
        name = path.parent.name
    del nx
    return _from_undirected(name, names, edges, coords=coords, directed=directed, source=str(path))


def from_gml(path: str | os.PathLike, *, capacity_key: str | None = None) -> Topology:
    """A GML file (Topology Zoo, the MAROH ``topology.gml`` with per-link ``bandwidth`` in bit/s).

    Capacity is read from ``capacity_key`` or the first of ``capacity``, ``bandwidth``,
    ``LinkSpeedRaw``; nodes are named by their ``label``. A directed graph keeps its links as
    they are; an undirected one gets both directions.
    """
    import networkx as nx

    path = Path(path)
    text = _read_text(path)
    try:
        graph = nx.parse_gml(text, label="id")
    except (nx.NetworkXError, ValueError, KeyError) as err:
        raise RlteError(f"{path}: not valid GML ({err})") from None
    return _graph_to_topology(graph, path, capacity_key=capacity_key)


def from_graphml(path: str | os.PathLike, *, capacity_key: str | None = None) -> Topology:
    """A GraphML file; attributes read as in `from_gml`."""
    import networkx as nx

    path = Path(path)
    _read_text(path)
    try:
        graph = nx.read_graphml(path)
    except (nx.NetworkXError, ValueError, KeyError, SyntaxError) as err:
        raise RlteError(f"{path}: not valid GraphML ({err})") from None
    return _graph_to_topology(graph, path, capacity_key=capacity_key)


def from_node_link_json(path: str | os.PathLike, *, capacity_key: str | None = None) -> Topology:
    """A networkx node-link JSON file (keys ``nodes`` and ``links`` or ``edges``)."""
    import networkx as nx

    path = Path(path)
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise RlteError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict) or "nodes" not in data:
        raise RlteError(f"{path}: not a node-link JSON object (needs 'nodes' and 'links' or 'edges')")
    edges_key = "edges" if "edges" in data else "links"
    try:
        graph = nx.node_link_graph(data, edges=edges_key)
    except (nx.NetworkXError, KeyError, TypeError) as err:
        raise RlteError(f"{path}: not valid node-link JSON ({err})") from None
    return _graph_to_topology(graph, path, capacity_key=capacity_key)


#: Node names of the Abilene link table, in its index order (from the data set's README).
ABILENE_NODES = (
    "ATLAM5", "ATLAng", "CHINng", "DNVRng", "HSTNng", "IPLSng",
    "KSCYng", "LOSAng", "NYCMng", "SNVAng", "STTLng", "WASHng",
)  # fmt: skip


def from_abilene_table(path: str | os.PathLike) -> Topology:
    """The Abilene link table (``abilene/Abilene`` in the data directory): a two-line header,
    then ``index source destination ospf_weight capacity_kbps`` per directed link.

    Nodes get their real names (`ABILENE_NODES`) and coordinates from ``topohub``'s
    ``sndlib/abilene``, which names the same routers; delay follows the great-circle distance.
    """
    path = Path(path)
    lines = [line.split() for line in _read_text(path).splitlines() if line.strip()]
    if len(lines) < 3 or not lines[0] or not lines[0][0].startswith("Node_num"):
        raise RlteError(f"{path}: not an Abilene link table (expected a 'Node_num:' header line)")
    try:
        num_nodes = int(lines[0][1])
        rows = [(int(r[1]), int(r[2]), float(r[3]), float(r[4]) * 1e3) for r in lines[2:]]
    except (IndexError, ValueError):
        raise RlteError(f"{path}: malformed row in the Abilene link table") from None
    names = list(ABILENE_NODES) if num_nodes == len(ABILENE_NODES) else [str(i) for i in range(num_nodes)]
    coords = None
    if num_nodes == len(ABILENE_NODES):
        reference = from_topohub("sndlib/abilene")
        if set(reference.nodes) == set(names):
            coords = np.array([reference.coords[reference.index_of(n)] for n in names])
    for u, v, _, _ in rows:
        if not (0 <= u < num_nodes and 0 <= v < num_nodes):
            raise RlteError(f"{path}: link {u} -> {v} names an unknown node (table has {num_nodes})")
    edges = [(u, v, {"weight": w, "capacity": c}) for u, v, w, c in rows]
    return _from_undirected("abilene", names, edges, coords=coords, directed=True, source=str(path))


def from_edge_csv(path: str | os.PathLike, *, directed: bool = False, name: str | None = None) -> Topology:
    """An edge list CSV with header ``u,v`` and optional ``capacity`` (bit/s), ``weight``,
    ``delay`` (s). Undirected unless ``directed``; node names are the strings in ``u`` and ``v``,
    ordered numerically when they are all integers."""
    path = Path(path)
    text = _read_text(path)
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"u", "v"} <= {f.strip() for f in reader.fieldnames}:
        raise RlteError(f"{path}: an edge list needs a header with columns u,v[,capacity]")
    rows = []
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (val or "").strip() for k, val in row.items() if k is not None}
        if not row.get("u") or not row.get("v"):
            raise RlteError(f"{path}:{line}: missing u or v")
        attrs: dict = {}
        for key in ("capacity", "weight", "delay"):
            if row.get(key):
                try:
                    attrs[key] = float(row[key])
                except ValueError:
                    raise RlteError(f"{path}:{line}: {key} {row[key]!r} is not a number") from None
        rows.append((row["u"], row["v"], attrs))
    if not rows:
        raise RlteError(f"{path}: no links")
    labels = sorted({x for u, v, _ in rows for x in (u, v)})
    if all(label.lstrip("-").isdigit() for label in labels):
        labels = sorted(labels, key=int)
    position = {label: i for i, label in enumerate(labels)}
    seen: set[tuple[int, int]] = set()
    edges = []
    for u, v, attrs in rows:
        a, b = position[u], position[v]
        key = (a, b) if directed else (min(a, b), max(a, b))
        if key in seen:
            raise RlteError(f"{path}: duplicate link {u} -> {v}")
        seen.add(key)
        edges.append((a, b, attrs))
    return _from_undirected(name or path.stem, labels, edges, directed=directed, source=str(path))


# ---------------------------------------------------------------------- built-ins
#: NSFNET, 14 nodes and 21 undirected links, as used by most DRL routing papers (BNN-UPC's DRL-GNN).
NSFNET14_EDGES = (
    (0, 1), (0, 2), (0, 3), (1, 2), (1, 7), (2, 5), (3, 8), (3, 4), (4, 5), (4, 6), (5, 12),
    (5, 13), (6, 7), (7, 10), (8, 9), (8, 11), (9, 10), (9, 12), (10, 11), (10, 13), (11, 12),
)  # fmt: skip

#: Boyan and Littman's irregular 6x6 grid (node = 6*row + col), 36 nodes and 50 undirected links.
GRID6X6_EDGES = (
    (1, 0), (2, 1), (4, 3), (5, 4), (6, 0), (7, 6), (7, 1), (8, 7), (8, 2), (9, 3), (10, 9),
    (10, 4), (11, 10), (11, 5), (12, 6), (13, 12), (13, 7), (14, 13), (14, 8), (15, 9), (16, 15),
    (16, 10), (17, 16), (17, 11), (18, 12), (19, 18), (19, 13), (20, 19), (20, 14), (21, 20),
    (21, 15), (22, 21), (22, 16), (23, 22), (23, 17), (24, 18), (25, 19), (26, 25), (26, 20),
    (27, 21), (28, 27), (28, 22), (29, 23), (30, 24), (31, 30), (32, 31), (33, 32), (34, 33),
    (35, 34), (35, 29),
)  # fmt: skip


def _builtin(name: str, num_nodes: int, edges: Sequence[tuple[int, int]]) -> Topology:
    return _from_undirected(
        name, [str(i) for i in range(num_nodes)], [(u, v, {}) for u, v in edges], source=name
    )


BUILTINS = {
    "nsfnet14": lambda: _builtin("nsfnet14", 14, NSFNET14_EDGES),
    "grid6x6": lambda: _builtin("grid6x6", 36, GRID6X6_EDGES),
}

#: Names resolved inside the data directory.
DATA_TOPOLOGIES = {
    "abilene": "abilene/Abilene",
    "maroh/rhombus": "maroh/rhombus/topology.gml",
    "maroh/abilene": "maroh/abilene/topology.gml",
    "maroh/symm16": "maroh/symm16/topology.gml",
    "maroh/geant2009": "maroh/geant2009/topology.gml",
}


def load_topology(spec: str, *, data_dir: str | os.PathLike | None = None) -> Topology:
    """Load a topology from one string, as the command line does.

    ``spec`` is, in order of precedence: a built-in (``nsfnet14``, ``grid6x6``); a data-directory
    name (``abilene``: the real link table; ``maroh/rhombus``, ``maroh/abilene``, ...); an existing
    file (``.gml``, ``.graphml``, ``.json``, ``.csv``, or an Abilene-format table); a topohub id.

    Raises:
        RlteError: nothing matches (close names are suggested) or the file is malformed.
    """
    if spec in BUILTINS:
        return BUILTINS[spec]()
    if spec in DATA_TOPOLOGIES:
        from rlte.datadir import data_file

        path = data_file(DATA_TOPOLOGIES[spec], data_dir)
        if spec == "abilene":
            return from_abilene_table(path)
        return from_gml(path).replace(name=spec.replace("/", "-"))
    path = Path(spec)
    if path.exists() or path.suffix.lower() in {".gml", ".graphml", ".json", ".csv", ".txt"}:
        return load_topology_file(path)
    if "/" in spec:
        return from_topohub(spec)
    known = list(BUILTINS) + list(DATA_TOPOLOGIES) + topohub_ids()
    raise RlteError(f"topology {spec!r}: not a built-in, a file or a topohub id{_suggest(spec, known)}")


def load_topology_file(path: str | os.PathLike) -> Topology:
    """Load a topology file, choosing the reader by its extension."""
    path = Path(path)
    if not path.exists():
        raise RlteError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".gml":
        return from_gml(path)
    if suffix == ".graphml":
        return from_graphml(path)
    if suffix == ".json":
        return from_node_link_json(path)
    if suffix == ".csv":
        return from_edge_csv(path)
    head = _read_text(path)[:64]
    if head.startswith("Node_num"):
        return from_abilene_table(path)
    raise RlteError(f"{path}: unknown topology format (use .gml, .graphml, .json, .csv or an Abilene table)")
