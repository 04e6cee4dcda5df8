"""Candidate paths and ECMP DAGs: hand-checked answers on tiny graphs, agreement with brute force
(networkx's simple-path enumeration) on random ones, and the PathSet array contracts."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlte.errors import RlteError
from rlte.net import paths as paths_module
from rlte.net.paths import (
    MAX_PATHS_PER_PAIR,
    MAX_SEARCH_STEPS,
    EcmpDag,
    PathSet,
    all_simple_paths,
    check_paths_per_pair,
    ecmp_dag,
    edge_disjoint_paths,
    k_shortest_paths,
    paths_within_stretch,
    stretch_dag,
)
from rlte.net.topology import Topology, from_topohub, load_topology


def build(num_nodes, links, *, weight=None, delay=None, name="tiny") -> Topology:
    """A topology on nodes "0".."n-1" from directed (u, v) links."""
    num_links = len(links)
    return Topology(
        name=name,
        nodes=[str(i) for i in range(num_nodes)],
        src=[u for u, _ in links],
        dst=[v for _, v in links],
        capacity=np.full(num_links, 10e9),
        delay=np.full(num_links, 1e-3) if delay is None else delay,
        weight=np.ones(num_links) if weight is None else weight,
    )


def both_ways(edges):
    return [link for u, v in edges for link in ((u, v), (v, u))]


# a=0, b=1, c=2, d=3: a-b-d, a-c-d and a direct a-d, both directions
DIAMOND_EDGES = [(0, 1), (1, 3), (0, 2), (2, 3), (0, 3)]


@pytest.fixture
def diamond() -> Topology:
    return build(4, both_ways(DIAMOND_EDGES), name="diamond")


@pytest.fixture
def triangle() -> Topology:
    return build(3, both_ways([(0, 1), (1, 2), (0, 2)]), name="triangle")


def node_paths(paths: PathSet, topology: Topology, s: int, t: int) -> list[tuple[int, ...]]:
    d = int(paths.demand_index[s, t])
    return [tuple(paths.path_nodes(topology, d, j)) for j in range(int(paths.num_paths[d]))]


def link_cost(topology: Topology, metric: str) -> np.ndarray:
    return {"hops": np.ones(topology.num_links), "weight": topology.weight, "delay": topology.delay}[metric]


def brute_force(
    topology: Topology, s: int, t: int, metric: str = "hops"
) -> list[tuple[float, tuple[int, ...]]]:
    """Every simple path s -> t as (cost, nodes), sorted by cost then nodes."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(topology.num_nodes))
    graph.add_edges_from(zip(topology.src.tolist(), topology.dst.tolist()))
    cost = link_cost(topology, metric)
    found = []
    for nodes in nx.all_simple_paths(graph, s, t):
        links = [topology.link_index[(u, v)] for u, v in zip(nodes, nodes[1:])]
        found.append((float(sum(cost[e] for e in links)), tuple(nodes)))
    return sorted(found)


def assert_valid(paths: PathSet, topology: Topology) -> None:
    """Every path is simple, runs from s to t along chained links; the arrays agree."""
    assert paths.num_nodes == topology.num_nodes and paths.num_links == topology.num_links
    n = topology.num_nodes
    num_demands = n * (n - 1)
    assert paths.pairs.shape == (num_demands, 2)
    assert paths.path_index.shape == paths.mask.shape == (num_demands, paths.k)
    assert paths.k == max(len(demand) for demand in paths.paths)
    assert (paths.num_paths >= 1).all()
    assert paths.incidence.shape == (paths.total_paths, topology.num_links)
    p = 0
    for d, demand in enumerate(paths.paths):
        s, t = paths.pairs[d]
        assert len(demand) == len(set(demand)), "a demand lists a path twice"
        for j, links in enumerate(demand):
            assert topology.src[links[0]] == s and topology.dst[links[-1]] == t
            for a, b in zip(links, links[1:]):
                assert topology.dst[a] == topology.src[b]
            nodes = paths.path_nodes(topology, d, j)
            assert len(nodes) == len(set(nodes)) == len(links) + 1
            assert paths.path_index[d, j] == p and paths.mask[d, j]
            assert paths.path_demand[p] == d and paths.path_hops[p] == len(links)
            row = paths.incidence.getrow(p)
            assert sorted(row.indices.tolist()) == sorted(links)
            assert (row.data == 1.0).all()
            p += 1
        assert (paths.path_index[d, len(demand) :] == -1).all()
        assert not paths.mask[d, len(demand) :].any()
    assert p == paths.total_paths


def assert_same(a: PathSet, b: PathSet) -> None:
    assert a.paths == b.paths and a.label == b.label
    for name in ("pairs", "path_index", "mask", "path_demand", "path_hops", "num_paths", "demand_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.incidence != b.incidence).nnz == 0


# ---------------------------------------------------------------------- hand-checked
def test_k_shortest_on_the_diamond(diamond):
    paths = k_shortest_paths(diamond, 4)
    assert node_paths(paths, diamond, 0, 3) == [(0, 3), (0, 1, 3), (0, 2, 3)]
    assert node_paths(paths, diamond, 0, 1) == [(0, 1), (0, 3, 1), (0, 2, 3, 1)]
    assert node_paths(paths, diamond, 1, 2) == [(1, 0, 2), (1, 3, 2), (1, 0, 3, 2), (1, 3, 0, 2)]
    assert paths.k == 4 and paths.label == "ksp4-hops"
    assert node_paths(k_shortest_paths(diamond, 1), diamond, 1, 2) == [(1, 0, 2)]
    assert_valid(paths, diamond)


def test_k_shortest_by_weight_and_delay(diamond):
    weight = np.ones(diamond.num_links)
    delay = np.full(diamond.num_links, 2e-3)
    for e, (u, v) in enumerate(diamond.link_names()):
        if {u, v} == {"0", "3"}:
            weight[e], delay[e] = 3.0, 5e-3
        if "2" in (u, v):
            delay[e] = 1e-3
    topology = diamond.replace(weight=weight, delay=delay)
    by_weight = k_shortest_paths(topology, 3, metric="weight")
    assert node_paths(by_weight, topology, 0, 3) == [(0, 1, 3), (0, 2, 3), (0, 3)]
    by_delay = k_shortest_paths(topology, 3, metric="delay")
    assert node_paths(by_delay, topology, 0, 3) == [(0, 2, 3), (0, 1, 3), (0, 3)]
    np.testing.assert_allclose(
        by_delay.path_totals(topology.delay)[by_delay.path_index[by_delay.demand_index[0, 3]]],
        [2e-3, 4e-3, 5e-3],
    )


def test_triangle_has_two_paths_per_pair(triangle):
    for paths in (
        k_shortest_paths(triangle, 4),
        all_simple_paths(triangle),
        paths_within_stretch(triangle, 2),
    ):
        assert (paths.num_paths == 2).all()
        assert node_paths(paths, triangle, 0, 2) == [(0, 2), (0, 1, 2)]
        assert node_paths(paths, triangle, 2, 1) == [(2, 1), (2, 0, 1)]
    assert (paths_within_stretch(triangle).num_paths == 1).all()


def test_edge_disjoint_on_the_diamond(diamond):
    paths = edge_disjoint_paths(diamond, 4)
    assert node_paths(paths, diamond, 0, 3) == [(0, 3), (0, 1, 3), (0, 2, 3)]
    # (1, 0, 2) takes 1 -> 0 and (1, 3, 2) takes 1 -> 3: node 1 has no third way out
    assert node_paths(paths, diamond, 1, 2) == [(1, 0, 2), (1, 3, 2)]
    assert node_paths(edge_disjoint_paths(diamond, 1), diamond, 1, 2) == [(1, 0, 2)]
    assert_valid(paths, diamond)


def test_stretch_on_the_diamond(diamond):
    paths = paths_within_stretch(diamond)  # 1.5: one hop allows 1, two hops allow 3
    assert node_paths(paths, diamond, 0, 3) == [(0, 3)]
    assert node_paths(paths, diamond, 1, 2) == [(1, 0, 2), (1, 3, 2), (1, 0, 3, 2), (1, 3, 0, 2)]
    assert node_paths(paths_within_stretch(diamond, 2), diamond, 0, 3) == [(0, 3), (0, 1, 3), (0, 2, 3)]
    capped = paths_within_stretch(diamond, 1.5, max_paths=3)
    assert node_paths(capped, diamond, 1, 2) == [(1, 0, 2), (1, 3, 2), (1, 0, 3, 2)]
    assert capped.label == "stretch1.5-max3"


def test_all_simple_paths_on_the_diamond(diamond):
    paths = all_simple_paths(diamond)
    assert node_paths(paths, diamond, 0, 3) == [(0, 3), (0, 1, 3), (0, 2, 3)]
    assert node_paths(paths, diamond, 1, 2) == [(1, 0, 2), (1, 3, 2), (1, 0, 3, 2), (1, 3, 0, 2)]
    short = all_simple_paths(diamond, max_hops=2)
    assert node_paths(short, diamond, 1, 2) == [(1, 0, 2), (1, 3, 2)]
    assert_valid(paths, diamond)


def test_ecmp_dag_on_the_diamond(diamond):
    dag = ecmp_dag(diamond)
    link = diamond.link_index
    assert dag.dist[0, 3] == 1 and dag.dist[1, 2] == 2 and dag.dist[2, 2] == 0
    # toward d every neighbour goes straight there
    assert sorted(np.flatnonzero(dag.on_dag[3]).tolist()) == sorted(
        [link[(0, 3)], link[(1, 3)], link[(2, 3)]]
    )
    assert dag.next_hops(1, 2).tolist() == sorted([link[(1, 0)], link[(1, 3)]])
    assert dag.next_hops(2, 2).tolist() == []
    splits = dag.even_splits()
    assert splits[2, link[(1, 0)]] == splits[2, link[(1, 3)]] == 0.5
    assert splits[3, link[(0, 3)]] == 1.0 and splits[3, link[(0, 1)]] == 0.0
    # every node but t splits all of its traffic for t
    per_node = np.zeros((4, 4))
    np.add.at(per_node, (slice(None), diamond.src), splits)
    expected = np.ones((4, 4)) - np.eye(4)
    np.testing.assert_allclose(per_node, expected)


def test_ecmp_dag_by_weight(diamond):
    weight = np.array([3.0 if {u, v} == {"0", "3"} else 1.0 for u, v in diamond.link_names()])
    dag = ecmp_dag(diamond.with_weights(weight), metric="weight")
    link = diamond.link_index
    assert dag.dist[0, 3] == 2
    assert dag.next_hops(0, 3).tolist() == sorted([link[(0, 1)], link[(0, 2)]])
    assert isinstance(dag, EcmpDag) and dag.metric == "weight"


# ---------------------------------------------------------------------- PathSet contracts
def test_demand_numbering_matches_the_formula():
    topology = build(5, [(i, (i + 1) % 5) for i in range(5)])
    paths = k_shortest_paths(topology, 2)
    n = 5
    for s in range(n):
        for t in range(n):
            if s == t:
                assert paths.demand_index[s, t] == -1
                continue
            d = s * (n - 1) + t - (t > s)
            assert paths.demand_index[s, t] == d
            assert paths.pairs[d].tolist() == [s, t]
    assert paths.pairs.dtype == np.int64 and len(paths.pairs) == 20


def test_arrays_are_read_only(diamond):
    paths = k_shortest_paths(diamond, 2)
    for name in ("pairs", "path_index", "mask", "path_demand", "path_hops", "num_paths", "demand_index"):
        with pytest.raises(ValueError):
            getattr(paths, name)[0] = 0
    with pytest.raises(ValueError):
        paths.incidence.data[0] = 2.0
    # sparse products still work on the read-only incidence
    loads = paths.incidence.T @ np.ones(paths.total_paths)
    assert loads.shape == (diamond.num_links,)
    assert (paths.incidence.T.tocsr() @ paths.incidence).shape == (diamond.num_links, diamond.num_links)


def test_demand_vector_and_path_totals(diamond):
    paths = k_shortest_paths(diamond, 3)
    matrix = np.arange(16.0).reshape(4, 4)
    vector = paths.demand_vector(matrix)
    assert vector.shape == (12,)
    assert vector[paths.demand_index[1, 2]] == matrix[1, 2]
    batch = paths.demand_vector(np.stack([matrix, 2 * matrix]))
    assert batch.shape == (2, 12)
    np.testing.assert_array_equal(batch[1], 2 * vector)
    np.testing.assert_array_equal(paths.path_totals(np.ones(diamond.num_links)), paths.path_hops)
    assert paths.path_totals(np.ones((3, diamond.num_links))).shape == (3, paths.total_paths)
    with pytest.raises(RlteError) as err:
        paths.demand_vector(np.zeros((3, 3)))
    assert str(err.value) == "traffic matrix: has shape (3, 3), want [..., 4, 4]"


def test_from_node_paths(diamond):
    node_lists = [
        [list(nodes) for nodes in node_paths(k_shortest_paths(diamond, 2), diamond, s, t)]
        for s in range(4)
        for t in range(4)
        if s != t
    ]
    rebuilt = PathSet.from_node_paths(diamond, node_lists, label="ksp2-hops")
    assert_same(rebuilt, k_shortest_paths(diamond, 2))
    node_lists[0] = [[0, 2]]
    with pytest.raises(RlteError) as err:
        PathSet.from_node_paths(diamond, node_lists)
    assert str(err.value) == "path set: path [0, 2] of demand 0 (0 -> 1) does not run from 0 to 1"
    node_lists[0] = [[0, 3, 0, 1]]
    with pytest.raises(RlteError) as err:
        PathSet.from_node_paths(diamond, node_lists)
    assert str(err.value) == "path set: path [0, 3, 0, 1] of demand 0 (0 -> 1) visits a node twice"
    node_lists[0] = [[0, 1]]
    node_lists[3] = [[1, 2, 0]]  # demand 3 is (1, 0); there is no link 1 -> 2
    with pytest.raises(RlteError) as err:
        PathSet.from_node_paths(diamond, node_lists)
    assert str(err.value) == "path set: path [1, 2, 0] of demand 3 (1 -> 0) uses a missing link (1, 2)"
    with pytest.raises(RlteError) as err:
        PathSet.from_node_paths(diamond, node_lists[:5])
    assert str(err.value) == "path set: has 5 demands, want N * (N - 1) = 12"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: k_shortest_paths(t, 0), "k 0: must be an integer >= 1"),
        (lambda t: k_shortest_paths(t, 2.5), "k 2.5: must be an integer >= 1"),
        (lambda t: k_shortest_paths(t, True), "k True: must be an integer >= 1"),
        (
            lambda t: k_shortest_paths(t, 3, metric="cost"),
            "metric 'cost': unknown (use 'hops', 'weight' or 'delay')",
        ),
        (lambda t: edge_disjoint_paths(t, -1), "k -1: must be an integer >= 1"),
        (
            lambda t: edge_disjoint_paths(t, 2, metric="km"),
            "metric 'km': unknown (use 'hops', 'weight' or 'delay')",
        ),
        (lambda t: paths_within_stretch(t, 0.9), "stretch 0.9: must be a finite number >= 1"),
        (lambda t: paths_within_stretch(t, math.nan), "stretch nan: must be a finite number >= 1"),
        (lambda t: paths_within_stretch(t, math.inf), "stretch inf: must be a finite number >= 1"),
        (lambda t: paths_within_stretch(t, 1.5, max_paths=0), "max_paths 0: must be an integer >= 1 or None"),
        (lambda t: all_simple_paths(t, max_hops=0), "max_hops 0: must be an integer >= 1 or None"),
        (
            lambda t: all_simple_paths(t, max_hops=1),
            "max_hops 1: no path from '1' to '2' has so few links (the shortest has 2)",
        ),
        (lambda t: ecmp_dag(t, metric="delay"), "metric 'delay': unknown (use 'hops' or 'weight')"),
    ],
)
def test_bad_arguments(diamond, call, message):
    with pytest.raises(RlteError) as err:
        call(diamond)
    assert str(err.value) == message


# ---------------------------------------------------------------------- random graphs
@st.composite
def strongly_connected(draw, max_nodes: int = 6) -> Topology:
    """A random cycle through every node plus random extra links, integer weights 1..4 and
    delays in multiples of 1/1024 s (exact in binary, so ties are exact)."""
    n = draw(st.integers(2, max_nodes))
    order = draw(st.permutations(range(n)))
    links = {(order[i], order[(i + 1) % n]) for i in range(n)}
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=2 * n))
    links |= {(u, v) for u, v in extra if u != v}
    links = sorted(links)
    weight = draw(st.lists(st.integers(1, 4), min_size=len(links), max_size=len(links)))
    delay = draw(st.lists(st.integers(1, 6), min_size=len(links), max_size=len(links)))
    return build(n, links, weight=np.array(weight, float), delay=np.array(delay) / 1024, name="random")


def all_pairs(n):
    return [(s, t) for s in range(n) for t in range(n) if s != t]


@settings(max_examples=60, deadline=None)
@given(strongly_connected(), st.integers(1, 5), st.sampled_from(["hops", "weight", "delay"]))
def test_k_shortest_agrees_with_brute_force(topology, k, metric):
    paths = k_shortest_paths(topology, k, metric)
    assert_valid(paths, topology)
    cost = link_cost(topology, metric)
    dist = {"hops": ecmp_dag(topology).dist, "weight": ecmp_dag(topology, "weight").dist}.get(metric)
    for s, t in all_pairs(topology.num_nodes):
        d = paths.demand_index[s, t]
        costs = [cost[list(links)].sum() for links in paths.paths[d]]
        assert all(a <= b for a, b in zip(costs, costs[1:]))
        if dist is not None:
            assert costs[0] == dist[s, t]
        expected = brute_force(topology, s, t, metric)[:k]
        assert node_paths(paths, topology, s, t) == [nodes for _, nodes in expected]


@settings(max_examples=60, deadline=None)
@given(strongly_connected(), st.sampled_from(["hops", "weight"]))
def test_ecmp_dag_paths_are_exactly_the_shortest_paths(topology, metric):
    dag = ecmp_dag(topology, metric)
    cost = link_cost(topology, metric)
    for s, t in all_pairs(topology.num_nodes):
        on_dag_paths = set()

        def follow(u, nodes, t=t, found=on_dag_paths):
            if u == t:
                found.add(tuple(nodes))
                return
            for e in dag.next_hops(u, t):
                follow(int(topology.dst[e]), [*nodes, int(topology.dst[e])])

        follow(s, [s])
        shortest = {nodes for c, nodes in brute_force(topology, s, t, metric) if c == dag.dist[s, t]}
        assert on_dag_paths == shortest
        for e in np.flatnonzero(dag.on_dag[t]):
            assert dag.dist[topology.src[e], t] == cost[e] + dag.dist[topology.dst[e], t]


@settings(max_examples=30, deadline=None)
@given(strongly_connected(), st.randoms(use_true_random=False))
def test_ecmp_dag_with_float_weights(topology, rng):
    # weights like 0.1 + 0.2 vs 0.3 tie only within a tolerance
    weight = np.array([rng.choice([0.1, 0.2, 0.3, 0.7]) for _ in range(topology.num_links)])
    topology = topology.with_weights(weight)
    dag = ecmp_dag(topology, "weight")
    for s, t in all_pairs(topology.num_nodes):
        shortest = {
            nodes for c, nodes in brute_force(topology, s, t, "weight") if math.isclose(c, dag.dist[s, t])
        }
        hops_on_dag = {
            tuple(nodes)
            for nodes in shortest
            if all(dag.on_dag[t, topology.link_index[(u, v)]] for u, v in zip(nodes, nodes[1:]))
        }
        assert hops_on_dag == shortest


@settings(max_examples=60, deadline=None)
@given(strongly_connected(), st.integers(1, 4), st.sampled_from(["hops", "weight", "delay"]))
def test_edge_disjoint_paths_share_no_link(topology, k, metric):
    paths = edge_disjoint_paths(topology, k, metric)
    assert_valid(paths, topology)
    first = k_shortest_paths(topology, 1, metric)
    cost = link_cost(topology, metric)
    for d, demand in enumerate(paths.paths):
        used = [e for links in demand for e in links]
        assert len(used) == len(set(used))
        assert demand[0] == first.paths[d][0]
        costs = [cost[list(links)].sum() for links in demand]
        assert all(a <= b for a, b in zip(costs, costs[1:]))
        if len(demand) < k:  # greedy stopped: nothing avoids the links taken
            s, t = paths.pairs[d]
            for _, nodes in brute_force(topology, int(s), int(t)):
                links = {topology.link_index[(u, v)] for u, v in zip(nodes, nodes[1:])}
                assert links & set(used)


@settings(max_examples=60, deadline=None)
@given(strongly_connected(), st.sampled_from([1.0, 1.2, 1.5, 2.0, 3.0]), st.sampled_from([None, 1, 3]))
def test_stretch_paths_agree_with_brute_force(topology, stretch, max_paths):
    paths = paths_within_stretch(topology, stretch, max_paths)
    assert_valid(paths, topology)
    for s, t in all_pairs(topology.num_nodes):
        every = brute_force(topology, s, t)
        bound = math.floor(stretch * every[0][0] + 1e-9)
        expected = [nodes for hops, nodes in every if hops <= bound]
        got = node_paths(paths, topology, s, t)
        assert all(len(nodes) - 1 <= bound for nodes in got)
        if max_paths is None:
            assert got == expected
            assert {nodes for hops, nodes in every if hops == every[0][0]} <= set(got)
        else:
            assert got == expected[:max_paths]


@settings(max_examples=40, deadline=None)
@given(strongly_connected(), st.sampled_from([None, 3, 5]))
def test_all_simple_paths_agree_with_brute_force(topology, max_hops):
    if max_hops is not None and ecmp_dag(topology).dist.max() > max_hops:
        max_hops = None
    paths = all_simple_paths(topology, max_hops)
    assert_valid(paths, topology)
    for s, t in all_pairs(topology.num_nodes):
        expected = [
            nodes for hops, nodes in brute_force(topology, s, t) if max_hops is None or hops <= max_hops
        ]
        assert node_paths(paths, topology, s, t) == expected


@settings(max_examples=20, deadline=None)
@given(strongly_connected())
def test_constructors_are_deterministic(topology):
    for make in (
        lambda: k_shortest_paths(topology, 3, "weight"),
        lambda: edge_disjoint_paths(topology, 3, "delay"),
        lambda: paths_within_stretch(topology, 1.5, 4),
        lambda: all_simple_paths(topology),
    ):
        assert_same(make(), make())
    a, b = ecmp_dag(topology, "weight"), ecmp_dag(topology, "weight")
    np.testing.assert_array_equal(a.dist, b.dist)
    np.testing.assert_array_equal(a.on_dag, b.on_dag)


def test_zero_delay_links_are_allowed():
    delay = np.array([0.0, 0.0, 1e-3, 1e-3, 0.0, 0.0])
    topology = build(3, both_ways([(0, 1), (1, 2), (0, 2)]), delay=delay)
    paths = k_shortest_paths(topology, 2, "delay")
    assert_valid(paths, topology)
    assert node_paths(paths, topology, 0, 2) == [(0, 2), (0, 1, 2)]  # both cost 0: ties by nodes


# ---------------------------------------------------------------------- real topologies
def test_nsfnet14_has_four_paths_for_every_pair():
    topology = load_topology("nsfnet14")
    paths = k_shortest_paths(topology, 4)
    assert paths.k == 4 and (paths.num_paths == 4).all()
    assert paths.total_paths == 4 * 14 * 13
    assert_valid(paths, topology)
    dist = ecmp_dag(topology).dist
    first = paths.path_index[:, 0]
    np.testing.assert_array_equal(paths.path_hops[first], dist[paths.pairs[:, 0], paths.pairs[:, 1]])


def test_sndlib_abilene():
    topology = from_topohub("sndlib/abilene")
    ksp = k_shortest_paths(topology, 4, "delay")
    assert_valid(ksp, topology)
    assert ksp.demand_vector(topology.demands).sum() == pytest.approx(
        topology.demands.sum() - np.trace(topology.demands)
    )
    disjoint = edge_disjoint_paths(topology, 3)
    assert_valid(disjoint, topology)
    stretch = paths_within_stretch(topology, 1.5)
    assert_valid(stretch, topology)
    # every shortest-hop path is a stretch path, and ECMP's DAG holds exactly those
    dag = ecmp_dag(topology)
    shortest_hops = dag.dist[stretch.pairs[:, 0], stretch.pairs[:, 1]]
    assert (stretch.path_hops[stretch.path_index[:, 0]] == shortest_hops).all()
    on_dag = [
        all(dag.on_dag[t, e] for e in links)
        for (_, t), demand in zip(stretch.pairs, stretch.paths)
        for links in demand
    ]
    np.testing.assert_array_equal(on_dag, stretch.path_hops == shortest_hops[stretch.path_demand])


# ---------------------------------------------------------------------- limits
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda t: k_shortest_paths(t, 1_000_000),
            "k 1000000: at most 100 paths per pair (MAX_PATHS_PER_PAIR)",
        ),
        (lambda t: k_shortest_paths(t, 101), "k 101: at most 100 paths per pair (MAX_PATHS_PER_PAIR)"),
        (
            lambda t: edge_disjoint_paths(t, 10**9),
            "k 1000000000: at most 100 paths per pair (MAX_PATHS_PER_PAIR)",
        ),
        (
            lambda t: paths_within_stretch(t, 1.5, max_paths=5000),
            "max_paths 5000: at most 100 paths per pair (MAX_PATHS_PER_PAIR)",
        ),
        (
            lambda t: check_paths_per_pair(1_000_000),
            "k 1000000: at most 100 paths per pair (MAX_PATHS_PER_PAIR)",
        ),
        (lambda t: check_paths_per_pair(0, "kpath_uniform k"), "kpath_uniform k 0: must be an integer >= 1"),
    ],
)
def test_huge_path_counts_are_refused_at_once(call, message):
    grid = load_topology("grid6x6")
    with pytest.raises(RlteError) as err:
        call(grid)
    assert str(err.value) == message
    assert MAX_PATHS_PER_PAIR == 100


def test_the_limit_itself_is_accepted(triangle):
    check_paths_per_pair(MAX_PATHS_PER_PAIR)
    assert (k_shortest_paths(triangle, MAX_PATHS_PER_PAIR).num_paths == 2).all()
    assert (paths_within_stretch(triangle, 2, max_paths=MAX_PATHS_PER_PAIR).num_paths == 2).all()


def test_enumerations_give_up_after_the_search_budget(monkeypatch):
    grid = load_topology("grid6x6")
    monkeypatch.setattr(paths_module, "MAX_SEARCH_STEPS", 500)
    with pytest.raises(RlteError) as err:
        paths_within_stretch(grid, 3.0)
    assert str(err.value) == (
        "stretch3 on topology 'grid6x6': gave up after 500 partial paths (MAX_SEARCH_STEPS), at 0 -> 3; "
        "lower the stretch or set max_paths"
    )
    with pytest.raises(RlteError) as err:
        all_simple_paths(grid)
    assert str(err.value) == (
        "all on topology 'grid6x6': gave up after 500 partial paths (MAX_SEARCH_STEPS), at 0 -> 1; "
        "set max_hops or use a smaller network"
    )


def test_the_search_budget_fits_maroh_candidates():
    assert MAX_SEARCH_STEPS == 5_000_000
    paths = paths_within_stretch(load_topology("nsfnet14"), 1.5)  # well inside the budget
    assert (paths.num_paths >= 1).all()


# ---------------------------------------------------------------------- stretch DAG
def test_stretch_dag_by_hand():
    # t = 0; 1 and 2 are one hop away, 3 (behind 1) and 4 (behind 2) two hops, and 3 - 4 joins them
    topology = build(5, both_ways([(0, 1), (0, 2), (1, 3), (2, 4), (3, 4)]), name="ladder")
    link = topology.link_index
    eligible = stretch_dag(topology, 1.5)
    assert eligible.shape == (5, topology.num_links) and eligible.dtype == bool
    toward_0 = sorted(topology.link_names()[e] for e in np.flatnonzero(eligible[0]))
    # 4 -> 3 keeps the distance (2 hops) and goes to a lower index, and 2 + 1 <= 1.5 * 2;
    # 3 -> 4 goes to a higher index; 1 -> 2 would need 1 + 1 <= 1.5 * 1
    assert toward_0 == [("1", "0"), ("2", "0"), ("3", "1"), ("4", "2"), ("4", "3")]
    assert not eligible[0, link[(3, 4)]] and eligible[0, link[(4, 3)]]
    only_shortest = stretch_dag(topology, 1.0)
    assert np.array_equal(only_shortest, ecmp_dag(topology).on_dag)
    assert not only_shortest[0, link[(4, 3)]]


@pytest.mark.parametrize("stretch", [0.5, math.nan, math.inf, True, "1.5"])
def test_stretch_dag_refuses_bad_stretch(diamond, stretch):
    with pytest.raises(RlteError) as err:
        stretch_dag(diamond, stretch)
    assert str(err.value) == f"stretch {stretch!r}: must be a finite number >= 1"


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(strongly_connected(max_nodes=7), st.sampled_from([1.0, 1.2, 1.5, 2.0, 3.0]))
def test_stretch_dag_definition_acyclic_and_complete(topology, stretch):
    eligible = stretch_dag(topology, stretch)
    n = topology.num_nodes
    hops = ecmp_dag(topology, "hops").dist
    for t in range(n):
        for e, (u, v) in enumerate(zip(topology.src.tolist(), topology.dst.tolist())):
            closer = (hops[v, t], v) < (hops[u, t], u)
            want = u != t and closer and hops[v, t] + 1 <= stretch * hops[u, t] + 1e-9
            assert eligible[t, e] == want
        graph = nx.DiGraph()
        graph.add_nodes_from(range(n))
        graph.add_edges_from(
            (int(topology.src[e]), int(topology.dst[e])) for e in np.flatnonzero(eligible[t])
        )
        assert nx.is_directed_acyclic_graph(graph)  # no forwarding loop toward t
        assert graph.out_degree(t) == 0
        assert all(graph.out_degree(u) >= 1 for u in range(n) if u != t)  # no dead end
    ecmp = ecmp_dag(topology, "hops").on_dag
    assert not (ecmp & ~eligible).any()  # every shortest-path next hop is eligible
    assert np.array_equal(stretch_dag(topology, 1.0), ecmp)
    assert not (eligible & ~stretch_dag(topology, stretch + 0.5)).any()  # more stretch, more hops
