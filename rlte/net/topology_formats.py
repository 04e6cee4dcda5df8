"""Readers of topology files and of the topologies that ``topohub`` ships.

Each reader parses one format into a validated `rlte.net.topology.Topology`, or raises an
`RlteError` naming the file (and the line, node or link) and the problem:

- `from_gml`: GML (Topology Zoo, MAROH's ``topology.gml`` with per-link ``bandwidth`` in bit/s);
- `from_graphml`: GraphML;
- `from_node_link_json`: networkx node-link JSON;
- `from_abilene_table`: the Abilene link table with real capacities and OSPF weights;
- `from_edge_csv`: an edge list ``u,v[,capacity][,weight][,delay]``;
- `from_topohub`: a topohub id (SNDlib, Topology Zoo, Gabriel graphs, ...), with its static demands.

`TOPOLOGY_READERS` maps the format names of `rlte.net.sources.topology_file_format` to the
readers. Units: capacity in bit/s, delay in seconds, IGP weight unitless.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rlte.errors import RlteError
from rlte.net.inputs import brief, check_node_count, read_bytes, read_json, read_text, shown, suggest

if TYPE_CHECKING:
    from rlte.net.topology import Topology

#: Node names of the Abilene link table, in its index order (from the data set's README).
ABILENE_NODES = (
    "ATLAM5", "ATLAng", "CHINng", "DNVRng", "HSTNng", "IPLSng",
    "KSCYng", "LOSAng", "NYCMng", "SNVAng", "STTLng", "WASHng",
)  # fmt: skip

#: Unit in which rlte reads topohub's static demand values, bit/s per unit. topohub states no
#: unit, and magnitudes differ by 10^3 between networks: sndlib/abilene and sndlib/geant are
#: normalised to a total of 3,000,000, which read as kbit/s gives 3 Gbit/s (the real Abilene week
#: averages 3.0 Gbit/s between distinct nodes); the other SNDlib networks carry SNDlib's own values, read as Mbit/s.
#: Load levels (`scale_to_load`) rescale anyway, so for experiments only ratios matter.
TOPOHUB_DEMAND_UNIT_BPS = {"sndlib/abilene": 1e3, "sndlib/geant": 1e3}
TOPOHUB_DEFAULT_DEMAND_UNIT_BPS = 1e6

#: Link attributes read from graph files, first match wins: capacity (bit/s), IGP weight, length (km).
CAPACITY_KEYS = ("capacity", "bandwidth", "LinkSpeedRaw", "bw")
WEIGHT_KEYS = ("weight", "igp_weight", "ospf", "cost")
LENGTH_KEYS = ("length_km", "dist", "length", "distance")


def _build(name, nodes, edges, **options) -> Topology:
    # imported here: rlte.net.topology imports this module (it re-exports the readers)
    from rlte.net.topology import build_topology

    return build_topology(name, nodes, edges, **options)


def _number(value, what: str) -> float:
    """``value`` as a float; ``what`` starts the error message (``"<file>: link a -> b has weight"``).

    Numbers and numeric strings pass (as ``float`` reads them); booleans, lists, null and other
    strings do not. An integer too large for a float becomes infinite (validation then refuses it).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RlteError(f"{what} {shown(value)}, not a number")
    try:
        return float(value)
    except ValueError:
        raise RlteError(f"{what} {shown(value)}, not a number") from None
    except OverflowError:
        return math.inf if value > 0 else -math.inf


# ---------------------------------------------------------------------- topohub
@lru_cache(maxsize=1)
def _topohub_ids() -> tuple[str, ...]:
    from importlib.resources import files

    import topohub

    ids: list[str] = []

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".json"):
                ids.append(prefix + child.name[: -len(".json")])

    walk(files(topohub) / "data", "")
    return tuple(sorted(ids))


def topohub_ids() -> list[str]:
    """Every topology id that the installed ``topohub`` package ships, sorted."""
    return list(_topohub_ids())


_TOPOHUB_ID = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)+")


def is_topohub_id(topology_id: str) -> bool:
    """Whether the installed ``topohub`` ships a topology of this id (one file lookup; ids are
    names such as ``sndlib/abilene``, never paths such as ``sndlib/../x``)."""
    if not isinstance(topology_id, str) or not _TOPOHUB_ID.fullmatch(topology_id):
        return False
    from importlib.resources import files

    import topohub

    return (files(topohub) / "data" / f"{topology_id}.json").is_file()


def from_topohub(topology_id: str) -> Topology:
    """A topology shipped by ``topohub`` (``sndlib/abilene``, ``topozoo/Geant2009``,
    ``gabriel/100/0``, ...), with links in both directions at `DEFAULT_CAPACITY_BPS`, delay
    from the link length (``dist``, km) and IGP weight 1, and its static demand matrix (bit/s,
    see `TOPOHUB_DEMAND_UNIT_BPS`) when it has one.

    Raises:
        RlteError: the id is unknown (close ids are suggested).
    """
    import topohub

    unknown = f"topology {topology_id!r}: unknown topohub id{{}}"
    if not is_topohub_id(topology_id):
        raise RlteError(unknown.format(suggest(str(topology_id), topohub_ids())))
    try:
        raw = topohub.get(topology_id)
    except (KeyError, OSError, ValueError):
        raise RlteError(unknown.format(suggest(topology_id, topohub_ids()))) from None
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
    return _build(name, names, unique, coords=coords, demands=demands, source=f"topohub {topology_id!r}")


# ---------------------------------------------------------------------- graph files (networkx)
def _graph_to_topology(graph, path: Path, *, capacity_key: str | None = None) -> Topology:
    """A networkx graph (from GML, GraphML or node-link JSON) as a Topology."""
    nodes = list(graph.nodes)
    check_node_count(len(nodes), str(path))
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
            [
                [
                    _number(graph.nodes[n][key], f"{path}: node {names[i]!r} has {key}")
                    for key in ("Longitude", "Latitude")
                ]
                for i, n in enumerate(nodes)
            ]
        )
    elif nodes and all("pos" in graph.nodes[n] for n in nodes):
        rows = []
        for i, n in enumerate(nodes):
            pos = graph.nodes[n]["pos"]
            if not isinstance(pos, (list, tuple)) or len(pos) < 2:
                raise RlteError(f"{path}: node {names[i]!r} has pos {shown(pos)}, not a pair of numbers")
            rows.append([_number(x, f"{path}: node {names[i]!r} has a pos coordinate") for x in pos[:2]])
        coords = np.array(rows)
    directed = graph.is_directed()
    keys = [capacity_key] if capacity_key else list(CAPACITY_KEYS)
    edges = []
    seen: set[tuple[int, int]] = set()
    for u, v, attrs in graph.edges(data=True):
        a, b = position[u], position[v]
        key = (a, b) if directed else (min(a, b), max(a, b))
        if key in seen:
            raise RlteError(f"{path}: duplicate link {names[a]} -> {names[b]}")
        seen.add(key)
        link = f"{path}: link {names[a]} -> {names[b]} has"
        out: dict = {}
        for k in keys:
            if k in attrs:
                out["capacity"] = _number(attrs[k], f"{link} {k}")
                break
        for k in WEIGHT_KEYS:
            if k in attrs:
                out["weight"] = _number(attrs[k], f"{link} {k}")
                break
        if "delay" in attrs:
            out["delay"] = _number(attrs["delay"], f"{link} delay")
        for k in LENGTH_KEYS:
            if k in attrs:
                length = _number(attrs[k], f"{link} {k}")
                if not (length >= 0) or math.isinf(length):  # the delay would be named, not the length
                    raise RlteError(f"{link} {k} {length!r}; a length must be a finite number >= 0 (km)")
                out["length_km"] = length
                break
        edges.append((a, b, out))
    name = str(graph.graph.get("label") or graph.graph.get("name") or path.stem)
    if name == path.stem == "topology":
        name = path.parent.name
    return _build(name, names, edges, coords=coords, directed=directed, source=str(path))


#: What networkx raises on a file it cannot parse, besides its own NetworkXError (LookupError
#: covers KeyError, IndexError and an XML declaration naming an unknown encoding).
_PARSE_ERRORS = (ValueError, TypeError, AttributeError, SyntaxError, LookupError, RecursionError)


def from_gml(path: str | os.PathLike, *, capacity_key: str | None = None) -> Topology:
    """A GML file (Topology Zoo, the MAROH ``topology.gml`` with per-link ``bandwidth`` in bit/s).

    Capacity is read from ``capacity_key`` or the first of ``capacity``, ``bandwidth``,
    ``LinkSpeedRaw``; nodes are named by their ``label``. A directed graph keeps its links as
    they are; an undirected one gets both directions.
    """
    import networkx as nx

    path = Path(path)
    text = read_text(path)
    try:
        graph = nx.parse_gml(text, label="id")
    except (nx.NetworkXError, *_PARSE_ERRORS) as err:
        raise RlteError(f"{path}: not valid GML ({brief(err)})") from None
    return _graph_to_topology(graph, path, capacity_key=capacity_key)


def from_graphml(path: str | os.PathLike, *, capacity_key: str | None = None) -> Topology:
    """A GraphML file; attributes read as in `from_gml`. The XML declaration gives the encoding."""
    import networkx as nx

    path = Path(path)
    data = read_bytes(path)
    try:
        graph = nx.read_graphml(io.BytesIO(data))
    except (nx.NetworkXError, *_PARSE_ERRORS) as err:
        raise RlteError(f"{path}: not valid GraphML ({brief(err)})") from None
    _check_graphml_ends(data, path)
    return _graph_to_topology(graph, path, capacity_key=capacity_key)


def _check_graphml_ends(data: bytes, path: Path) -> None:
    """Refuse an edge to a node the file does not declare: networkx adds such a node silently, so a
    mistyped id would become a new node of the network."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(data)  # networkx has parsed it already
    local = [
        (element, element.tag.rsplit("}", 1)[-1]) for element in root.iter() if isinstance(element.tag, str)
    ]
    declared = {element.get("id") for element, tag in local if tag == "node"}
    for k, element in enumerate(element for element, tag in local if tag == "edge"):
        for end in ("source", "target"):
            if element.get(end) not in declared:
                raise RlteError(
                    f"{path}: edge {k} has {end} {shown(element.get(end))}, which is not a declared <node>"
                )


def _node_id_key(value):
    """The hashable node a node-link id stands for (a list becomes a tuple, as networkx makes it),
    or None when the value cannot be a node id."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        items = [_node_id_key(x) for x in value]
        return None if any(x is None or isinstance(x, tuple) for x in items) else tuple(items)
    return None


def _check_node_link(data, path: Path) -> str:
    """Refuse node-link JSON that networkx would misread or crash on; return the links key."""
    if not isinstance(data, dict) or "nodes" not in data:
        raise RlteError(f"{path}: not a node-link JSON object (needs 'nodes' and 'links' or 'edges')")
    for key in ("directed", "multigraph"):
        if key in data and not (
            isinstance(data[key], bool) or (type(data[key]) is int and data[key] in (0, 1))
        ):
            raise RlteError(f"{path}: '{key}' is {shown(data[key])}, not true or false")
    if "graph" in data and not isinstance(data["graph"], dict):
        raise RlteError(f"{path}: 'graph' is {shown(data['graph'])}, not an object")
    nodes = data["nodes"]
    if not isinstance(nodes, list):
        raise RlteError(f"{path}: 'nodes' is {shown(nodes)}, not a list")
    check_node_count(len(nodes), str(path))
    ids = set()
    for k, node in enumerate(nodes):
        if not isinstance(node, dict):
            raise RlteError(f"{path}: node {k} is {shown(node)}, not an object")
        key = _node_id_key(node["id"]) if "id" in node else k
        if key is None:
            raise RlteError(f"{path}: node {k} has id {shown(node['id'])}; an id is a string or a number")
        if key in ids:
            raise RlteError(f"{path}: node id {shown(node.get('id', k))} appears twice")
        ids.add(key)
    links_key = "edges" if "edges" in data else "links"
    if links_key not in data:
        raise RlteError(f"{path}: no 'links' (or 'edges') list")
    links = data[links_key]
    if not isinstance(links, list):
        raise RlteError(f"{path}: '{links_key}' is {shown(links)}, not a list")
    for k, link in enumerate(links):
        if not isinstance(link, dict):
            raise RlteError(f"{path}: link {k} is {shown(link)}, not an object")
        for end in ("source", "target"):
            if end not in link:
                raise RlteError(f"{path}: link {k} has no '{end}'")
            if _node_id_key(link[end]) not in ids:
                raise RlteError(f"{path}: link {k} has {end} {shown(link[end])}, which is not a node id")
        if data.get("multigraph") and not isinstance(link.get("key"), (str, int, float, type(None))):
            raise RlteError(f"{path}: link {k} has key {shown(link['key'])}; a key is a string or a number")
    return links_key


def from_node_link_json(path: str | os.PathLike, *, capacity_key: str | None = None) -> Topology:
    """A networkx node-link JSON file (keys ``nodes`` and ``links`` or ``edges``).

    Every link must join two listed nodes; ``directed`` and ``multigraph`` are booleans.
    """
    import networkx as nx

    path = Path(path)
    data = read_json(path)
    links_key = _check_node_link(data, path)
    try:
        graph = nx.node_link_graph(data, edges=links_key)
    except (nx.NetworkXError, *_PARSE_ERRORS) as err:
        raise RlteError(f"{path}: not valid node-link JSON ({brief(err)})") from None
    return _graph_to_topology(graph, path, capacity_key=capacity_key)


# ---------------------------------------------------------------------- tables
def from_abilene_table(path: str | os.PathLike) -> Topology:
    """The Abilene link table (``abilene/Abilene`` in the data directory): a header line
    ``Node_num: N  Edge_num: E``, a line of column names, then ``index source destination
    ospf_weight capacity_kbps`` per directed link.

    Nodes get their real names (`ABILENE_NODES`) and coordinates from ``topohub``'s
    ``sndlib/abilene``, which names the same routers; delay follows the great-circle distance.

    Raises:
        RlteError: no ``Node_num`` header, more than `MAX_NODES` nodes, a row without five
            fields, a field that is not a number, a link to an unknown node, a row count that
            differs from ``Edge_num``, or what topology validation finds.
    """
    path = Path(path)
    lines = [(number, line.split()) for number, line in enumerate(read_text(path).splitlines(), 1)]
    lines = [(number, fields) for number, fields in lines if fields]
    if len(lines) < 3 or not lines[0][1][0].startswith("Node_num"):
        raise RlteError(f"{path}: not an Abilene link table (expected a 'Node_num:' header line)")
    header_line, header = lines[0]
    try:
        num_nodes = int(header[1]) if len(header) > 1 else None
    except ValueError:
        num_nodes = None
    if num_nodes is None:
        shown_count = shown(header[1]) if len(header) > 1 else "nothing"
        raise RlteError(
            f"{path}:{header_line}: the node count after Node_num is {shown_count}, not a whole number"
        )
    declared_links = None
    for key, value in zip(header, header[1:]):
        if key.rstrip(":") == "Edge_num":
            try:
                declared_links = int(value)
            except ValueError:
                raise RlteError(
                    f"{path}:{header_line}: Edge_num {shown(value)} is not a whole number"
                ) from None
    check_node_count(num_nodes, str(path))
    rows = []
    columns = ("index", "source", "destination", "OSPF weight", "capacity")
    for number, fields in lines[2:]:
        if len(fields) != len(columns):
            raise RlteError(
                f"{path}:{number}: malformed row in the Abilene link table (expected 5 fields: index, "
                f"source, destination, OSPF weight, capacity in kbit/s; found {len(fields)})"
            )
        values = []
        for column, text, kind in zip(columns[1:], fields[1:], (int, int, float, float), strict=True):
            try:
                values.append(kind(text))
            except ValueError:
                raise RlteError(
                    f"{path}:{number}: malformed row in the Abilene link table ({column} {shown(text)} is "
                    f"not a {'whole number' if kind is int else 'number'})"
                ) from None
        u, v, weight, capacity_kbps = values
        if not (0 <= u < num_nodes and 0 <= v < num_nodes):
            raise RlteError(f"{path}: link {u} -> {v} names an unknown node (table has {num_nodes})")
        rows.append((u, v, weight, capacity_kbps * 1e3))
    if declared_links is not None and declared_links != len(rows):
        raise RlteError(
            f"{path}: the header declares {declared_links} links (Edge_num), the table has {len(rows)}"
        )
    names = list(ABILENE_NODES) if num_nodes == len(ABILENE_NODES) else [str(i) for i in range(num_nodes)]
    coords = None
    if num_nodes == len(ABILENE_NODES):
        reference = from_topohub("sndlib/abilene")
        if set(reference.nodes) == set(names):
            coords = np.array([reference.coords[reference.index_of(n)] for n in names])
    edges = [(u, v, {"weight": w, "capacity": c}) for u, v, w, c in rows]
    return _build("abilene", names, edges, coords=coords, directed=True, source=str(path))


def _integer_order(labels: list[str]) -> list[str] | None:
    """The labels in numeric order when every one is a whole number, else None."""
    keys = []
    for label in labels:
        if not label.lstrip("-").isdigit():
            return None
        try:
            keys.append(int(label))
        except ValueError:  # a digit int() does not read, or more digits than it converts
            return None
    return [label for _, _, label in sorted(zip(keys, range(len(labels)), labels))]


def from_edge_csv(path: str | os.PathLike, *, directed: bool = False, name: str | None = None) -> Topology:
    """An edge list CSV with header ``u,v`` and optional ``capacity`` (bit/s), ``weight``,
    ``delay`` (s). Undirected unless ``directed``; node names are the strings in ``u`` and ``v``,
    ordered numerically when they are all integers.

    Raises:
        RlteError: no ``u,v`` header, a duplicate column, a row with more fields than the header,
            a missing endpoint, a value that is not a number, a duplicate link, more than
            `MAX_NODES` nodes, or what topology validation finds.
    """
    path = Path(path)
    text = read_text(path)
    reader = csv.DictReader(text.splitlines())
    try:
        fieldnames = reader.fieldnames
        records = list(enumerate(reader, start=2))
    except csv.Error as err:
        raise RlteError(f"{path}: not a valid CSV file ({err})") from None
    if fieldnames is None or not {"u", "v"} <= {f.strip() for f in fieldnames}:
        raise RlteError(f"{path}: an edge list needs a header with columns u,v[,capacity]")
    stripped = [f.strip() for f in fieldnames]
    duplicate = next((f for i, f in enumerate(stripped) if f in stripped[:i]), None)
    if duplicate is not None:
        raise RlteError(f"{path}:1: duplicate column {duplicate!r}")
    rows = []
    for line, row in records:
        if None in row:
            raise RlteError(
                f"{path}:{line}: expected {len(fieldnames)} fields, found {len(fieldnames) + len(row[None])}"
            )
        row = {k.strip(): (val or "").strip() for k, val in row.items()}
        if not row.get("u") or not row.get("v"):
            raise RlteError(f"{path}:{line}: missing u or v")
        attrs: dict = {}
        for key in ("capacity", "weight", "delay"):
            if row.get(key):
                try:
                    attrs[key] = float(row[key])
                except ValueError:
                    raise RlteError(f"{path}:{line}: {key} {shown(row[key])} is not a number") from None
        rows.append((row["u"], row["v"], attrs))
    if not rows:
        raise RlteError(f"{path}: no links")
    labels = sorted({x for u, v, _ in rows for x in (u, v)})
    check_node_count(len(labels), str(path))
    labels = _integer_order(labels) or labels
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
    return _build(name or path.stem, labels, edges, directed=directed, source=str(path))


#: Format name (as `rlte.net.sources.topology_file_format` gives it) -> reader.
TOPOLOGY_READERS: dict[str, Callable[[Path], Topology]] = {
    "gml": from_gml,
    "graphml": from_graphml,
    "node-link-json": from_node_link_json,
    "edge-csv": from_edge_csv,
    "abilene-table": from_abilene_table,
}
