"""Topology loaders, validation and transformations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_topology

from rlte.errors import RlteError
from rlte.net import topology as topology_module
from rlte.net.inputs import MAX_FILE_BYTES, MAX_NODES
from rlte.net.topology import (
    ABILENE_NODES,
    DEFAULT_CAPACITY_BPS,
    DEFAULT_DELAY_S,
    FIBRE_KM_PER_S,
    Topology,
    from_abilene_table,
    from_edge_csv,
    from_gml,
    from_graphml,
    from_node_link_json,
    from_topohub,
    load_topology,
    load_topology_file,
)


def _topology(**changes) -> Topology:
    fields = dict(
        name="t", nodes=["a", "b", "c"], src=[0, 1, 2, 1], dst=[1, 2, 0, 0],
        capacity=[1.0, 1.0, 1.0, 1.0], delay=[0.0] * 4, weight=[1.0] * 4,
    )  # fmt: skip
    fields.update(changes)
    return Topology(**fields)


# ---------------------------------------------------------------------- validation
def test_valid_topology_basics():
    topology = _topology()
    assert topology.num_nodes == 3 and topology.num_links == 4
    assert topology.link_index[(1, 0)] == 3
    assert topology.index_of("c") == 2
    assert topology.link_names()[0] == ("a", "b")
    assert topology.hop_diameter() == 2  # a -> b -> c
    with pytest.raises(ValueError):
        topology.capacity[0] = 5.0  # arrays are read-only


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(src=[0, 1, 5, 1]), r"topology 't': link 2 names an unknown node \(5 -> 0\)"),
        (dict(dst=[1, 2, 2, 0]), r"topology 't': self-loop at node 'c'"),
        (dict(src=[0, 1, 2, 0], dst=[1, 2, 0, 1]), r"topology 't': duplicate link a -> b"),
        (dict(capacity=[1.0, 0.0, 1.0, 1.0]), r"link b -> c has capacity 0.0; it must be a positive number"),
        (
            dict(capacity=[1.0, np.nan, 1.0, 1.0]),
            r"link b -> c has capacity nan; it must be a positive number",
        ),
        (dict(weight=[1.0, 1.0, -2.0, 1.0]), r"link c -> a has weight -2.0"),
        (dict(delay=[0.0, -1.0, 0.0, 0.0]), r"link b -> c has delay -1.0; it must be a finite number >= 0"),
        (
            dict(src=[0, 1, 1], dst=[1, 2, 0], capacity=[1.0] * 3, delay=[0.0] * 3, weight=[1.0] * 3),
            r"topology 't': not strongly connected \(no path from 'a' to 'c'|no path from 'c' to 'a'\)",
        ),
        (dict(nodes=["a", "a", "c"]), r"duplicate node name 'a'"),
    ],
)
def test_validation_errors(changes, message):
    with pytest.raises(RlteError, match=message):
        _topology(**changes)


def test_not_strongly_connected_names_the_pair():
    with pytest.raises(RlteError, match=r"not strongly connected \(no path from 'c' to 'a'\)"):
        _topology(src=[0, 1, 1], dst=[1, 2, 0], capacity=[1.0] * 3, delay=[0.0] * 3, weight=[1.0] * 3)


# ---------------------------------------------------------------------- transformations
def test_without_links_removes_both_directions_and_keeps_attributes():
    ring = make_topology([(0, 1, 1.0), (1, 2, 2.0), (2, 3, 3.0), (3, 0, 4.0), (0, 2, 5.0)])
    smaller = ring.without_links([("0", "2")])
    assert smaller.num_links == ring.num_links - 2
    assert (0, 2) not in smaller.link_index and (2, 0) not in smaller.link_index
    assert smaller.capacity[smaller.link_index[(2, 3)]] == 3.0
    with pytest.raises(RlteError, match=r"not strongly connected"):
        smaller.without_links([("0", "1"), ("2", "3")])
    with pytest.raises(RlteError, match=r"topology 'tiny': no link between 1 and 3"):
        ring.without_links([("1", "3")])
    one_way = ring.without_links([("0", "2")], both_directions=False)
    assert (0, 2) not in one_way.link_index and (2, 0) in one_way.link_index


def test_without_nodes_renumbers():
    ring = make_topology([(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)])
    smaller = ring.without_nodes(["3"])
    assert smaller.nodes == ("0", "1", "2")
    assert smaller.num_links == 6
    with pytest.raises(RlteError, match=r"unknown node '7'"):
        ring.without_nodes(["7"])


def test_with_links_and_capacity_changes():
    line = make_topology([(0, 1), (1, 2), (2, 0)], capacity=4.0)
    added = make_topology([(0, 1), (1, 2)], capacity=4.0).with_links([("2", "0")], capacity=9.0, delay=0.5)
    assert added.num_links == 6
    assert added.capacity[added.link_index[(2, 0)]] == 9.0
    assert added.delay[added.link_index[(0, 2)]] == 0.5
    with pytest.raises(RlteError, match=r"duplicate link 0 -> 1"):
        line.with_links([("0", "1")])
    assert np.all(line.with_uniform_capacity(7.0).capacity == 7.0)
    assert np.allclose(line.with_scaled_capacity(2.5).capacity, 10.0)
    with pytest.raises(RlteError, match=r"capacity -1.0: must be a positive finite number of bit/s"):
        line.with_uniform_capacity(-1.0)
    with pytest.raises(RlteError, match=r"capacity factor 0.0: must be a positive finite number"):
        line.with_scaled_capacity(0.0)


# ---------------------------------------------------------------------- built-ins and topohub
def test_builtins_have_the_published_sizes():
    nsfnet = load_topology("nsfnet14")
    assert (nsfnet.num_nodes, nsfnet.num_links) == (14, 42)
    grid = load_topology("grid6x6")
    assert (grid.num_nodes, grid.num_links) == (36, 100)
    # the two halves of the Boyan-Littman grid are joined by 20-21 and the bottom ring only
    assert (20, 21) in grid.link_index and (21, 20) in grid.link_index


def test_topohub_abilene_with_demands():
    topology = from_topohub("sndlib/abilene")
    assert topology.num_nodes == 12 and topology.num_links == 30
    assert set(topology.nodes) == set(ABILENE_NODES)
    assert np.all(topology.capacity == DEFAULT_CAPACITY_BPS)
    assert topology.demands is not None and topology.demands.shape == (12, 12)
    assert np.all(np.diag(topology.demands) == 0)
    # sndlib/abilene's matrix totals 3,000,000 in topohub, read as kbit/s
    assert topology.demands.sum() == pytest.approx(3.0e9, rel=1e-5)
    # delay from the link length topohub gives (km) at 200,000 km/s
    i = topology.link_index[(topology.index_of("ATLAM5"), topology.index_of("ATLAng"))]
    assert topology.delay[i] == pytest.approx(132.4 / FIBRE_KM_PER_S)


def test_topohub_unknown_id_suggests_close_ids():
    with pytest.raises(
        RlteError, match=r"topology 'sndlib/abilen': unknown topohub id \(did you mean 'sndlib/abilene'"
    ):
        from_topohub("sndlib/abilen")
    with pytest.raises(
        RlteError,
        match=r"topology 'nsfnet15': not a built-in, a file or a topohub id \(did you mean 'nsfnet14'",
    ):
        load_topology("nsfnet15")


@pytest.mark.parametrize(
    "topology_id", ["sndlib/geant", "topozoo/Geant2009", "gabriel/100/0", "sndlib/germany50"]
)
def test_topohub_ids_load(topology_id):
    topology = load_topology(topology_id)
    assert topology.num_links % 2 == 0 and topology.num_nodes > 10


# ---------------------------------------------------------------------- files written by the tests
GML = """graph [
  directed 1
  node [ id 0 label "1" ]
  node [ id 1 label "2" ]
  node [ id 2 label "3" ]
  edge [ source 0 target 1 bandwidth 10000000 ]
  edge [ source 1 target 0 bandwidth 10000000 ]
  edge [ source 1 target 2 bandwidth 40000000 ]
  edge [ source 2 target 1 bandwidth 40000000 ]
  edge [ source 2 target 0 bandwidth 20000000 ]
  edge [ source 0 target 2 bandwidth 20000000 ]
]
"""


def test_gml_with_bandwidth(tmp_path):
    path = tmp_path / "topology.gml"
    path.write_text(GML)
    topology = from_gml(path)
    assert topology.nodes == ("1", "2", "3")
    assert topology.num_links == 6
    assert topology.capacity[topology.link_index[(1, 2)]] == 40e6
    assert np.all(topology.delay == DEFAULT_DELAY_S)
    assert load_topology(str(path)).num_links == 6


def test_gml_errors(tmp_path):
    path = tmp_path / "bad.gml"
    path.write_text("graph [ node [ id 0 ")
    with pytest.raises(RlteError, match=rf"{path}: not valid GML"):
        from_gml(path)
    path.write_text(
        GML.replace(
            "bandwidth 40000000 ]\n  edge [ source 2 target 1", "bandwidth -4 ]\n  edge [ source 2 target 1"
        )
    )
    with pytest.raises(
        RlteError, match=rf"{path}: link 2 -> 3 has capacity -4.0; it must be a positive number"
    ):
        from_gml(path)
    with pytest.raises(RlteError, match=r"missing.gml: no such file"):
        from_gml(tmp_path / "missing.gml")


def test_graphml_undirected_gets_both_directions(tmp_path):
    import networkx as nx

    graph = nx.Graph()
    graph.add_edge("x", "y", capacity=5e9, length_km=400.0)
    graph.add_edge("y", "z", capacity=1e9)
    graph.add_edge("z", "x", capacity=2e9, weight=3.0)
    path = tmp_path / "t.graphml"
    nx.write_graphml(graph, path)
    topology = from_graphml(path)
    assert topology.num_links == 6
    xy = topology.link_index[(topology.index_of("x"), topology.index_of("y"))]
    yx = topology.link_index[(topology.index_of("y"), topology.index_of("x"))]
    assert topology.capacity[xy] == topology.capacity[yx] == 5e9
    assert topology.delay[xy] == pytest.approx(400.0 / FIBRE_KM_PER_S)
    zx = topology.link_index[(topology.index_of("z"), topology.index_of("x"))]
    assert topology.weight[zx] == 3.0


def test_node_link_json(tmp_path):
    data = {
        "directed": False, "multigraph": False, "graph": {"name": "triangle"},
        "nodes": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
        "links": [{"source": "a", "target": "b", "capacity": 1e9},
                  {"source": "b", "target": "c", "capacity": 2e9},
                  {"source": "c", "target": "a"}],
    }  # fmt: skip
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    topology = from_node_link_json(path)
    assert topology.name == "triangle" and topology.num_links == 6
    ca = topology.link_index[(topology.index_of("c"), topology.index_of("a"))]
    assert topology.capacity[ca] == DEFAULT_CAPACITY_BPS
    path.write_text("[1, 2")
    with pytest.raises(RlteError, match=rf"{path}: not valid JSON"):
        from_node_link_json(path)
    path.write_text("[1, 2]")
    with pytest.raises(RlteError, match=rf"{path}: not a node-link JSON object"):
        from_node_link_json(path)


def test_edge_csv(tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text("u,v,capacity\n0,1,1e9\n1,2,\n2,10,3e9\n10,0,1e9\n")
    topology = from_edge_csv(path)
    assert topology.nodes == ("0", "1", "2", "10")  # numeric order, not string order
    assert topology.num_links == 8
    assert topology.capacity[topology.link_index[(1, 2)]] == DEFAULT_CAPACITY_BPS
    path.write_text("a,b\n0,1\n")
    with pytest.raises(
        RlteError, match=rf"{path}: an edge list needs a header with columns u,v\[,capacity\]"
    ):
        from_edge_csv(path)
    path.write_text("u,v,capacity\n0,1,fast\n1,0,1\n")
    with pytest.raises(RlteError, match=rf"{path}:2: capacity 'fast' is not a number"):
        from_edge_csv(path)
    path.write_text("u,v\n0,1\n1,0\n")
    with pytest.raises(RlteError, match=rf"{path}: duplicate link 1 -> 0"):
        from_edge_csv(path)
    path.write_text("u,v\n0,1\n1,1\n")
    with pytest.raises(RlteError, match=rf"{path}: self-loop at node '1'"):
        from_edge_csv(path)
    path.write_text("u,v\n0,1\n2,3\n")
    with pytest.raises(RlteError, match=rf"{path}: not strongly connected"):
        from_edge_csv(path)


def test_abilene_table_tiny(tmp_path):
    path = tmp_path / "Abilene"
    rows = ["Node_num: 3\tEdge_num: 4", "Link_index\tSource\tDestination\tOSPF\tCapacity(kbps)"]
    rows += ["0\t0\t1\t5\t1000", "1\t1\t0\t5\t1000", "2\t1\t2\t7\t2000", "3\t2\t0\t9\t500"]
    path.write_text("\n".join(rows) + "\n")
    topology = from_abilene_table(path)
    assert topology.nodes == ("0", "1", "2")
    assert list(topology.capacity) == [1e6, 1e6, 2e6, 5e5]
    assert list(topology.weight) == [5, 5, 7, 9]
    path.write_text("\n".join(rows[:2] + ["0\t0\t1\tfive\t1000"]) + "\n")
    with pytest.raises(RlteError) as err:
        from_abilene_table(path)
    assert (
        str(err.value)
        == f"{path}:3: malformed row in the Abilene link table (OSPF weight 'five' is not a number)"
    )
    path.write_text("hello\n")
    with pytest.raises(RlteError, match=rf"{path}: not an Abilene link table"):
        from_abilene_table(path)


# ---------------------------------------------------------------------- real files
def test_real_abilene_table(data_dir):
    topology = load_topology("abilene", data_dir=data_dir)
    assert topology.nodes == ABILENE_NODES
    assert topology.num_links == 30
    atlang, iplsng = topology.index_of("ATLAng"), topology.index_of("IPLSng")
    assert topology.capacity[topology.link_index[(atlang, iplsng)]] == 2.48e9
    assert topology.capacity[topology.link_index[(iplsng, atlang)]] == 2.48e9
    assert (topology.capacity == 9.92e9).sum() == 28
    assert topology.weight[topology.link_index[(atlang, iplsng)]] == 587
    assert topology.coords is not None
    assert 0.0005 < topology.delay.min() < topology.delay.max() < 0.02


@pytest.mark.parametrize(
    ("net", "nodes", "links"),
    [("rhombus", 4, 8), ("abilene", 7, 20), ("symm16", 16, 64), ("geant2009", 30, 96)],
)
def test_real_maroh_gml(data_dir, net, nodes, links):
    topology = load_topology(f"maroh/{net}", data_dir=data_dir)
    assert (topology.num_nodes, topology.num_links) == (nodes, links)
    if net == "rhombus":
        assert topology.capacity[topology.link_index[(0, 1)]] == 10e6
        assert topology.capacity[topology.link_index[(0, 2)]] == 20e6
        assert sorted(topology.capacity) == [10e6, 20e6] + [40e6] * 6  # only 1->2 and 1->3 are narrow
    if net == "abilene":
        assert np.all(topology.capacity == 25e6)


def test_real_edge_lists_match_builtins(data_dir):
    for file, builtin in (
        ("nsfnet14/nsfnet14_bnnupc_edges.csv", "nsfnet14"),
        ("boyan_littman_6x6/boyan_littman_6x6_edges.csv", "grid6x6"),
    ):
        from_file = from_edge_csv(data_dir / file)
        written = load_topology(builtin)
        assert from_file.nodes == written.nodes
        assert set(from_file.link_index) == set(written.link_index)


# ---------------------------------------------------------------------- bad inputs: one line each
def error_of(call, *args, **kwargs) -> str:
    """The message of the RlteError that ``call`` raises (any other exception fails the test)."""
    with pytest.raises(RlteError) as err:
        call(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message
    return message


GML_NODES = """graph [
  directed 1
  node [ id 0 label "a" Longitude 1.0 Latitude 2.0 ]
  node [ id 1 label "b" Longitude LON Latitude 2.5 ]
  edge [ source 0 target 1 bandwidth 10000000 EXTRA ]
  edge [ source 1 target 0 bandwidth 10000000 ]
]
"""


@pytest.mark.parametrize(
    ("extra", "longitude", "message"),
    [
        ('weight "abc"', "1.5", "link a -> b has weight 'abc', not a number"),
        ('delay "fast"', "1.5", "link a -> b has delay 'fast', not a number"),
        ('dist "far"', "1.5", "link a -> b has dist 'far', not a number"),
        ('bandwidth2 1 capacity "x"', "1.5", "link a -> b has capacity 'x', not a number"),
        ("", '"east"', "node 'b' has Longitude 'east', not a number"),
        ("weight 0", "1.5", "link a -> b has weight 0.0; it must be a positive number"),
        ("delay -1", "1.5", "link a -> b has delay -1.0; it must be a finite number >= 0"),
        ('weight "inf"', "1.5", "link a -> b has weight inf; it must be finite"),
        ("", '"nan"', "node 'b' has coordinates [nan, 2.5]; they must be finite numbers"),
    ],
)
def test_gml_bad_values(tmp_path, extra, longitude, message):
    path = tmp_path / "t.gml"
    path.write_text(GML_NODES.replace("EXTRA", extra).replace("LON", longitude))
    assert error_of(from_gml, path) == f"{path}: {message}"


def test_gml_good_values_still_load(tmp_path):
    path = tmp_path / "t.gml"
    path.write_text(GML_NODES.replace("EXTRA", 'weight "3" delay 0.002').replace("LON", "1.5"))
    topology = from_gml(path)
    ab = topology.link_index[(0, 1)]
    assert topology.weight[ab] == 3.0 and topology.delay[ab] == 0.002
    assert topology.coords.tolist() == [[1.0, 2.0], [1.5, 2.5]]


NODE_LINK = {
    "directed": True,
    "multigraph": False,
    "graph": {"name": "pair"},
    "nodes": [{"id": "a"}, {"id": "b"}],
    "links": [{"source": "a", "target": "b", "delay": 0.001}, {"source": "b", "target": "a"}],
}


def _node_link(change) -> dict:
    data = json.loads(json.dumps(NODE_LINK))
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(graph=None), "'graph' is None, not an object"),
        (lambda d: d.update(graph=["x"]), "'graph' is ['x'], not an object"),
        (lambda d: d.update(nodes=None), "'nodes' is None, not a list"),
        (lambda d: d.update(nodes={"a": {}}), "'nodes' is {'a': {}}, not a list"),
        (lambda d: d["nodes"].__setitem__(1, "b"), "node 1 is 'b', not an object"),
        (lambda d: d["nodes"][1].update(id=None), "node 1 has id None; an id is a string or a number"),
        (lambda d: d["nodes"][1].update(id="a"), "node id 'a' appears twice"),
        (lambda d: d.update(links=None), "'links' is None, not a list"),
        (lambda d: d.pop("links"), "no 'links' (or 'edges') list"),
        (lambda d: d["links"].__setitem__(0, 7), "link 0 is 7, not an object"),
        (lambda d: d["links"][0].pop("target"), "link 0 has no 'target'"),
        (lambda d: d["links"][0].update(target=None), "link 0 has target None, which is not a node id"),
        (lambda d: d["links"][0].update(target=["b"]), "link 0 has target ['b'], which is not a node id"),
        (
            lambda d: d["links"][0].update(target={"id": "b"}),
            "link 0 has target {'id': 'b'}, which is not a node id",
        ),
        (lambda d: d["links"][0].update(target="c"), "link 0 has target 'c', which is not a node id"),
        (lambda d: d["links"][0].update(delay=""), "link a -> b has delay '', not a number"),
        (lambda d: d["links"][0].update(delay=None), "link a -> b has delay None, not a number"),
        (lambda d: d["links"][0].update(capacity=True), "link a -> b has capacity True, not a number"),
        (
            lambda d: d["links"][0].update(capacity=[1e9]),
            "link a -> b has capacity [1000000000.0], not a number",
        ),
        (lambda d: d.update(directed="false"), "'directed' is 'false', not true or false"),
        (
            lambda d: [d["nodes"][0].update(pos=[0, 0]), d["nodes"][1].update(pos=5)],
            "node 'b' has pos 5, not a pair of numbers",
        ),
    ],
)
def test_node_link_json_bad_structure(tmp_path, change, message):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_node_link(change)))
    assert error_of(from_node_link_json, path) == f"{path}: {message}"


def test_node_link_json_numbers_and_ids_that_are_fine(tmp_path):
    path = tmp_path / "t.json"
    data = _node_link(lambda d: None)
    data["nodes"] = [{"id": 1, "pos": [0, 1]}, {"id": [2, "x"], "pos": [3.5, 4]}]
    data["links"] = [{"source": 1, "target": [2, "x"], "capacity": "2e9"}, {"source": [2, "x"], "target": 1}]
    path.write_text(json.dumps(data))
    topology = from_node_link_json(path)
    assert topology.nodes == ("1", "(2, 'x')")
    assert topology.capacity.tolist() == [2e9, DEFAULT_CAPACITY_BPS]
    assert topology.coords.tolist() == [[0.0, 1.0], [3.5, 4.0]]
    huge = json.dumps(data).replace('"2e9"', "1" + "0" * 400)
    path.write_text(huge)
    assert error_of(from_node_link_json, path) == f"{path}: infinite capacity"
    path.write_text("[" * 100_000)
    assert error_of(from_node_link_json, path) == f"{path}: not valid JSON (nested too deeply)"
    path.write_text("1" * 5000)
    assert error_of(from_node_link_json, path).startswith(f"{path}: not valid JSON (Exceeds the limit")


ABILENE_ROWS = [
    "Link_index\tSource\tDestination\tOSPF\tCapacity(kbps)",
    "0\t0\t1\t5\t1000",
    "1\t1\t0\t5\t1000",
]


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (
            "Node_num: 300000000\tEdge_num: 2",
            [],
            ": 300,000,000 nodes; rlte reads networks of at most 10,000 (MAX_NODES)",
        ),
        ("Node_num: 2\tEdge_num: 3", [], ": the header declares 3 links (Edge_num), the table has 2"),
        (
            "Node_num: many\tEdge_num: 2",
            [],
            ":1: the node count after Node_num is 'many', not a whole number",
        ),
        ("Node_num: 2\tEdge_num: x", [], ":1: Edge_num 'x' is not a whole number"),
        (
            "Node_num: 2\tEdge_num: 3",
            ["2\t0\t1\t5\t1000\textra"],
            ":5: malformed row in the Abilene link table (expected 5 fields: index, source, destination, "
            "OSPF weight, capacity in kbit/s; found 6)",
        ),
        (
            "Node_num: 2\tEdge_num: 3",
            ["2\t0\tone\t5\t1000"],
            ":5: malformed row in the Abilene link table (destination 'one' is not a whole number)",
        ),
        (
            "Node_num: 2\tEdge_num: 3",
            ["2\t0\t7\t5\t1000"],
            ": link 0 -> 7 names an unknown node (table has 2)",
        ),
    ],
)
def test_abilene_table_bad_inputs(tmp_path, header, rows, message):
    path = tmp_path / "Abilene"
    path.write_text("\n".join([header, *ABILENE_ROWS, *rows]) + "\n")
    assert error_of(from_abilene_table, path) == f"{path}{message}"


def test_abilene_table_size_is_refused_before_allocating(tmp_path, monkeypatch):
    path = tmp_path / "Abilene"
    path.write_text("\n".join(["Node_num: 300000000\tEdge_num: 2", *ABILENE_ROWS]) + "\n")
    monkeypatch.setattr(topology_module, "build_topology", None)  # never reached
    assert "MAX_NODES" in error_of(from_abilene_table, path)
    assert MAX_NODES == 10_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("u,v\n0,1,5\n1,0\n", ":2: expected 2 fields, found 3"),
        ("u,v,u\n0,1,2\n", ":1: duplicate column 'u'"),
        ("u,v\n0,\n", ":2: missing u or v"),
        ("u,v,weight\n0,1,heavy\n", ":2: weight 'heavy' is not a number"),
        ("u,v,capacity\n0,1,inf\n", ": infinite capacity"),
    ],
)
def test_edge_csv_bad_inputs(tmp_path, text, message):
    path = tmp_path / "edges.csv"
    path.write_text(text)
    assert error_of(from_edge_csv, path) == f"{path}{message}"


def test_edge_csv_labels_that_look_numeric_but_are_not(tmp_path):
    path = tmp_path / "edges.csv"
    long_number = "9" * 5000  # more digits than int() converts
    path.write_text(f"u,v\n1,{long_number}\n{long_number},2\n2,1\n")
    assert from_edge_csv(path).nodes == ("1", "2", long_number)  # string order
    path.write_text("u,v\n--5,\u00b2\n")  # not integers: '--5' and a superscript two
    assert from_edge_csv(path).nodes == ("--5", "\u00b2")
    path.write_text("u,v\n10,9\n")
    assert from_edge_csv(path).nodes == ("9", "10")  # numeric order


TEXT_READERS = [from_gml, from_node_link_json, from_abilene_table, from_edge_csv, load_topology_file]


@pytest.mark.parametrize("reader", TEXT_READERS + [from_graphml], ids=lambda r: r.__name__)
def test_binary_files(tmp_path, reader):
    path = tmp_path / "binary.gml"
    path.write_bytes(b"\xff\xfe\x00\x81junk\x00")
    message = error_of(reader, path)
    if reader is from_graphml:
        assert message == f"{path}: not valid GraphML (syntax error: line 1, column 1)"
    else:
        assert message == f"{path}: not a text file (byte 0xff at offset 0 is not UTF-8)"
    path.write_bytes(b"graph [\x00]")
    if reader is not from_graphml:
        assert error_of(reader, path) == f"{path}: not a text file (NUL byte at offset 7)"


def test_missing_folder_and_oversized_files(tmp_path, monkeypatch):
    assert error_of(from_gml, tmp_path / "none.gml") == f"{tmp_path / 'none.gml'}: no such file"
    assert error_of(from_gml, tmp_path) == f"{tmp_path}: a folder, not a file"
    path = tmp_path / "big.gml"
    path.write_text(GML)
    monkeypatch.setattr("rlte.net.inputs.MAX_FILE_BYTES", 100)
    assert error_of(from_gml, path) == (
        f"{path}: {len(GML):,} bytes; rlte reads input files of at most 100 bytes (MAX_FILE_BYTES)"
    )
    assert MAX_FILE_BYTES == 1 << 30


def test_topohub_ids_are_checked_not_read_as_paths():
    assert error_of(from_topohub, "sndlib/../sndlib/abilene").startswith(
        "topology 'sndlib/../sndlib/abilene': unknown topohub id"
    )
    assert error_of(load_topology, "sndlib/abilen") == (
        "topology 'sndlib/abilen': unknown topohub id (did you mean 'sndlib/abilene', 'sndlib/brain', 'sndlib/atlanta'?)"
    )


def test_validation_of_weights_and_coordinates():
    with pytest.raises(RlteError, match=r"^topology 't': link c -> a has weight inf; it must be finite$"):
        _topology(weight=[1.0, 1.0, np.inf, 1.0])
    with pytest.raises(
        RlteError, match=r"^topology 't': node 'b' has coordinates \[0.0, nan\]; they must be finite"
    ):
        _topology(coords=[[0.0, 0.0], [0.0, np.nan], [1.0, 1.0]])


def test_names_importable_as_before():
    from rlte.net import topology as module

    for name in (
        "ABILENE_NODES", "BUILTINS", "DATA_TOPOLOGIES", "DEFAULT_CAPACITY_BPS", "DEFAULT_DELAY_S",
        "FIBRE_KM_PER_S", "GRID6X6_EDGES", "NSFNET14_EDGES", "TOPOHUB_DEFAULT_DEMAND_UNIT_BPS",
        "TOPOHUB_DEMAND_UNIT_BPS", "Topology", "from_abilene_table", "from_edge_csv", "from_gml",
        "from_graphml", "from_node_link_json", "from_topohub", "load_topology", "load_topology_file",
        "topohub_ids",
    ):  # fmt: skip
        assert hasattr(module, name), name
