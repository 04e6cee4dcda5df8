"""Every loader of rlte.net, fed arbitrary bytes and mutated valid files, returns a valid object or
raises a one-line RlteError: never another exception, never a silently broken object.

The mutations are those real files suffer: flipped bytes, truncation, deleted, duplicated or
swapped lines, numbers replaced by junk (NaN, negative, huge, not a number), bytes inserted, and
for JSON values of the wrong type anywhere in the tree. Examples are derandomized (the same on
every machine) and no example database is kept.
"""

from __future__ import annotations

import copy
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlte.errors import RlteError
from rlte.net.flows import Flows, load_maroh_flows, read_maroh_flows
from rlte.net.topology import (
    Topology,
    from_abilene_table,
    from_edge_csv,
    from_gml,
    from_graphml,
    from_node_link_json,
    load_topology_file,
)
from rlte.net.traffic import (
    TrafficSeries,
    load_abilene_tm,
    load_sndlib_csv,
    load_sndlib_xml,
    load_traffic_csv,
    load_traffic_file,
)


def fuzz(examples: int):
    """Derandomized settings without an example database: the same examples on every machine."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---------------------------------------------------------------------- valid seeds
GML = b"""graph [
  directed 1
  label "tiny"
  node [ id 0 label "a" Longitude 10.5 Latitude 50.1 ]
  node [ id 1 label "b" Longitude 11.0 Latitude 49.0 ]
  node [ id 2 label "c" Longitude 9.25 Latitude 48.5 ]
  edge [ source 0 target 1 bandwidth 10000000 weight 2 ]
  edge [ source 1 target 0 bandwidth 10000000 weight 2 ]
  edge [ source 1 target 2 bandwidth 40000000 delay 0.004 ]
  edge [ source 2 target 1 bandwidth 40000000 ]
  edge [ source 2 target 0 bandwidth 20000000 dist 120.5 ]
  edge [ source 0 target 2 bandwidth 20000000 ]
]
"""


def _graphml() -> bytes:
    graph = nx.Graph()
    graph.add_node("x", pos="0")
    graph.add_edge("x", "y", capacity=5e9, length_km=400.0)
    graph.add_edge("y", "z", capacity=1e9, weight=2)
    graph.add_edge("z", "x", capacity=2e9, delay=0.003)
    buffer = io.BytesIO()
    nx.write_graphml(graph, buffer)
    return buffer.getvalue()


NODE_LINK = {
    "directed": False,
    "multigraph": False,
    "graph": {"name": "triangle"},
    "nodes": [{"id": "a", "pos": [0.0, 1.0]}, {"id": "b", "pos": [1.0, 1.0]}, {"id": 3, "pos": [2, 0]}],
    "links": [
        {"source": "a", "target": "b", "capacity": 1e9, "weight": 3},
        {"source": "b", "target": 3, "capacity": "2e9", "delay": 0.002},
        {"source": 3, "target": "a", "dist": 50},
    ],
}
ABILENE_TABLE = (
    b"Node_num: 3\tEdge_num: 4\nLink_index\tSource\tDestination\tOSPF\tCapacity(kbps)\n"
    b"0\t0\t1\t5\t1000\n1\t1\t0\t5\t1000\n2\t1\t2\t7\t2000\n3\t2\t0\t9\t500\n"
)
EDGE_CSV = b"u,v,capacity,weight,delay\n0,1,1e9,1,0.001\n1,2,,2,\n2,10,3e9,,0.002\n10,0,1e9,1,\n"
ABILENE_TM = b"0 300 600 10 0 20 7 8 0\n\n0 1 2 3 0 4 5 6 0\n"
SNDLIB_CSV = (
    b"time,a.x->a.x,a.x->b.y,b.y->a.x,b.y->c.z,c.z->a.x\n20050504-1500,9,1.5,0,2,0.25\n"
    b"20050504-1515,9,0,3,0,1\n2005-05-04 15:30,9,4,0,0,0\n"
)
SNDLIB_XML = (
    b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<network xmlns="http://sndlib.zib.de/network" version="1.0">'
    b"<meta><granularity>15min</granularity><time>20050504-1500</time><unit>MBITPERSEC</unit></meta>"
    b'<networkStructure><nodes><node id="n1"/><node id="n2"/><node id="n3"/></nodes></networkStructure>'
    b'<demands><demand id="d1"><source>n1</source><target>n2</target><demandValue> 1.5 </demandValue></demand>'
    b'<demand id="d2"><source>n2</source><target>n3</target><demandValue>2</demandValue></demand>'
    b'<demand id="d3"><source>n3</source><target>n1</target><demandValue>0.25</demandValue></demand>'
    b"</demands></network>\n"
)
LONG_CSV = (
    b"time,src,dst,rate_bps\n2020-01-01T00:05,a,b,3\n2020-01-01T00:00,b,a,1\n"
    b"2020-01-01T00:10,a,b,4\n20200101-0010,c,a,2.5e6\n"
)
FLOWS = [
    {"start": "1", "end": "2", "all_bandwidth": {"0": 100.0}, "bandwidth": None, "flow_id": "f0"},
    {"start": "3", "end": "1", "all_bandwidth": {"0": 50}, "bandwidth": None, "flow_id": "f1"},
    {"start": 1, "end": "3", "bandwidth": "25", "flow_id": 7},
]


# ---------------------------------------------------------------------- what a valid result is
def check_topology(topology) -> None:
    assert isinstance(topology, Topology)
    assert len(set(topology.nodes)) == topology.num_nodes >= 2
    assert np.isfinite(topology.capacity).all() and (topology.capacity > 0).all()
    assert np.isfinite(topology.weight).all() and (topology.weight > 0).all()
    assert np.isfinite(topology.delay).all() and (topology.delay >= 0).all()
    if topology.coords is not None:
        assert topology.coords.shape == (topology.num_nodes, 2) and np.isfinite(topology.coords).all()
    with np.errstate(over="ignore"):  # capacities near the float maximum sum to inf
        topology.summary()


def check_series(series) -> None:
    assert isinstance(series, TrafficSeries)
    steps, n, _ = series.demands.shape
    assert len(set(series.nodes)) == n >= 2 and steps >= 1
    assert np.isfinite(series.demands).all() and (series.demands >= 0).all()
    assert (np.einsum("tii->ti", series.demands) == 0).all()
    assert series.timestamps.shape == (steps,) and not np.isnat(series.timestamps).any()
    assert (np.diff(series.timestamps) > np.timedelta64(0, "s")).all()
    assert 0 < series.interval_s < math.inf
    with np.errstate(over="ignore", invalid="ignore"):  # rates near the float maximum: inf bytes
        series.summary()


def check_flows(flows) -> None:
    assert isinstance(flows, Flows)
    n = len(flows.nodes)
    assert len(set(flows.nodes)) == n
    assert len(flows.src) == len(flows.dst) == len(flows.rate_bps) == len(flows.ids) >= 1
    assert ((flows.src >= 0) & (flows.src < n) & (flows.dst >= 0) & (flows.dst < n)).all()
    assert (flows.src != flows.dst).all()
    assert np.isfinite(flows.rate_bps).all() and (flows.rate_bps >= 0).all()
    assert flows.matrix().shape == (n, n)


class Loader:
    def __init__(self, suffix: str, load: Callable[[Path], object], check: Callable, seed: bytes) -> None:
        self.suffix, self.load, self.check, self.seed = suffix, load, check, seed


LOADERS = {
    "gml": Loader(".gml", from_gml, check_topology, GML),
    "graphml": Loader(".graphml", from_graphml, check_topology, _graphml()),
    "node-link-json": Loader(".json", from_node_link_json, check_topology, json.dumps(NODE_LINK).encode()),
    "abilene-table": Loader("", from_abilene_table, check_topology, ABILENE_TABLE),
    "edge-csv": Loader(".csv", from_edge_csv, check_topology, EDGE_CSV),
    "topology-file": Loader(".gml", load_topology_file, check_topology, GML),
    "abilene-tm": Loader("", lambda p: load_abilene_tm(p, nodes=("a", "b", "c")), check_series, ABILENE_TM),
    "sndlib-csv": Loader(".csv", load_sndlib_csv, check_series, SNDLIB_CSV),
    "sndlib-xml": Loader(".xml", load_sndlib_xml, check_series, SNDLIB_XML),
    "long-csv": Loader(".csv", load_traffic_csv, check_series, LONG_CSV),
    "traffic-file": Loader(".csv", load_traffic_file, check_series, LONG_CSV),
    "traffic-file-tm": Loader(".txt", load_traffic_file, check_series, b" ".join([b"7"] * 144) + b"\n"),
    "maroh-flows": Loader(".json", read_maroh_flows, check_flows, json.dumps(FLOWS).encode()),
    "maroh-series": Loader(".json", load_maroh_flows, check_series, json.dumps(FLOWS).encode()),
}
JSON_LOADERS = {"node-link-json": NODE_LINK, "maroh-flows": FLOWS, "maroh-series": FLOWS}


def outcome(loader: Loader, folder: Path, data: bytes) -> None:
    """Write ``data`` to a file and load it: a valid result or a one-line RlteError."""
    path = folder / f"input{loader.suffix}"
    path.write_bytes(data)
    try:
        result = loader.load(path)
    except RlteError as err:
        message = str(err)
        assert message and "\n" not in message, message
        return
    loader.check(result)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# ---------------------------------------------------------------------- mutations
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
TOKEN = re.compile(rb"[^\s,<>\[\]{}\"']+")
JUNK = [
    b"nan", b"NaN", b"-nan", b"inf", b"-inf", b"Infinity", b"-1", b"-0", b"0", b"0.0", b"1e-320",
    b"1e308", b"1e400", b"-1e400", b"99999999999999999999999999", b"9" * 5000, b"300000000",
    b"abc", b"", b" ", b"0x1F", b"1_000", b"\xc2\xb2", b"\xd9\xa3", b'"', b"'", b",", b";", b"\t",
    b"\n", b"\r\n", b"null", b"true", b"[]", b"{}", b"[", b"{", b"<", b">", b"&", b"]", b"\x00",
    b"\xff\xfe", b"->", b"2020-01-01", b"99999999-12-31", b"-5", b"Node_num:", b"a", b"1",
    b'"abc"', b'"east"', b'""', b'"1e9"', b'"nan"',
]  # fmt: skip
#: Characters that separate fields, lines, strings and elements in the formats read here.
SEPARATORS = [b",", b"\t", b" ", b"\n", b'"', b"'", b"[", b"]", b"{", b"}", b"<", b">", b"/", b":", b";"]


JUNK_BYTES = st.sampled_from(JUNK)
INSERTED = JUNK_BYTES | st.binary(max_size=8)
SEPARATOR_BYTES = st.sampled_from(SEPARATORS)
EDITS = st.sampled_from(["number", "token", "flip", "truncate", "lines", "insert", "separator"])
LINE_EDITS = st.sampled_from(["delete", "duplicate", "swap", "repeat"])


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """``seed`` after one to four random edits of the kinds real files suffer."""
    data = seed
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(EDITS)
        if kind in ("number", "token"):
            spans = [m.span() for m in (NUMBER if kind == "number" else TOKEN).finditer(data)]
            if spans:
                start, end = spans[draw(st.integers(0, len(spans) - 1))]
                data = data[:start] + draw(JUNK_BYTES) + data[end:]
        elif kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([data[i] ^ (1 << draw(st.integers(0, 7)))]) + data[i + 1 :]
        elif kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "lines":
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            how = draw(LINE_EDITS)
            if how == "delete":
                del lines[i]
            elif how == "duplicate":
                lines.insert(i, lines[i])
            elif how == "swap":
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[i:i] = [lines[i]] * draw(st.integers(2, 50))
            data = b"\n".join(lines)
        else:
            i = draw(st.integers(0, len(data)))
            data = data[:i] + draw(SEPARATOR_BYTES if kind == "separator" else INSERTED) + data[i:]
    return data


JSON_JUNK = st.sampled_from(
    [None, True, False, 0, -1, 2, 1.5, -2.5, math.nan, math.inf, -math.inf, 10**30, 10**400, "", "x",
     "a", "1", "3", "nan", "1e999", "-7", [], {}, [1], ["a", "b"], {"a": 1}, [[1]], {"0": None}]
)  # fmt: skip


TREE_EDITS = st.sampled_from(["replace", "replace", "delete", "duplicate"])


def _slots(value, slots: list) -> list:
    """Every (container, key) of a JSON tree."""
    if isinstance(value, dict):
        for key in list(value):
            slots.append((value, key))
            _slots(value[key], slots)
    elif isinstance(value, list):
        for index in range(len(value)):
            slots.append((value, index))
            _slots(value[index], slots)
    return slots


@st.composite
def json_mutated(draw, seed) -> bytes:
    """``seed`` (a JSON value) with one to three values replaced, deleted or duplicated."""
    tree = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(tree, [])
        if not slots:
            break
        container, key = slots[draw(st.integers(0, len(slots) - 1))]
        how = draw(TREE_EDITS)
        if how == "replace":
            container[key] = copy.deepcopy(draw(JSON_JUNK))
        elif how == "delete":
            del container[key]
        elif isinstance(container, list):
            container.insert(key, copy.deepcopy(container[key]))
    return json.dumps(tree).encode()


# ---------------------------------------------------------------------- the properties
@pytest.mark.parametrize("name", sorted(LOADERS))
def test_valid_seed_loads(name, folder):
    loader = LOADERS[name]
    path = folder / f"seed{loader.suffix}"
    path.write_bytes(loader.seed)
    loader.check(loader.load(path))


@pytest.mark.parametrize("name", sorted(LOADERS))
@fuzz(50)
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode)))
def test_arbitrary_bytes(name, folder, data):
    outcome(LOADERS[name], folder, data)


@pytest.mark.parametrize("name", sorted(LOADERS))
@fuzz(100)
@given(st.data())
def test_mutated_files(name, folder, data):
    loader = LOADERS[name]
    outcome(loader, folder, data.draw(mutated(loader.seed)))


@pytest.mark.parametrize("name", sorted(JSON_LOADERS))
@fuzz(100)
@given(st.data())
def test_mutated_json_trees(name, folder, data):
    outcome(LOADERS[name], folder, data.draw(json_mutated(JSON_LOADERS[name])))
