"""The fluid model: hand-computed loads, invariants, and agreement of its implementations."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_topology
from hypothesis import given, settings
from hypothesis import strategies as st

from rlte import metrics
from rlte.errors import RlteError
from rlte.net.paths import ecmp_dag, k_shortest_paths
from rlte.net.topology import load_topology
from rlte.sim.flow import (
    FlowModel,
    NextHopRouting,
    PathRouting,
    even_splits,
    reference_link_loads,
    weights_to_splits,
)


def _matrix(n: int, entries: dict[tuple[int, int], float]) -> np.ndarray:
    matrix = np.zeros((n, n))
    for (s, t), value in entries.items():
        matrix[s, t] = value
    return matrix


def _random_splits(pathset, rng, batch=()):
    splits = rng.random((*batch, *pathset.mask.shape)) * pathset.mask
    return splits / splits.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------- hand-computed
def test_ecmp_on_the_diamond_splits_evenly(diamond):
    model = FlowModel(diamond)
    routing = NextHopRouting(even_splits(diamond, ecmp_dag(diamond).on_dag))
    stats = model.evaluate(routing, _matrix(4, {(0, 3): 20.0}))
    load = dict(zip(diamond.link_names(), stats.link_load))
    assert load[("0", "1")] == pytest.approx(10.0) and load[("1", "3")] == pytest.approx(10.0)
    assert load[("0", "2")] == pytest.approx(10.0) and load[("2", "3")] == pytest.approx(10.0)
    assert load[("3", "1")] == 0.0 and load[("1", "0")] == 0.0
    assert stats.mlu == pytest.approx(1.0)  # 10 on the capacity-10 branch
    assert stats.loss_rate == pytest.approx(0.0)
    assert stats.throughput == pytest.approx(20.0)


def test_overload_on_one_link_loses_the_excess():
    # a line 0 -> 1 -> 2, the second link at 5 Mbit/s, 10 Mbit/s offered
    line = make_topology([(0, 1, 1e9), (1, 2, 5e6)])
    model = FlowModel(line)
    routing = NextHopRouting(even_splits(line, ecmp_dag(line).on_dag))
    stats = model.evaluate(routing, _matrix(3, {(0, 2): 1e7}))
    assert stats.mlu == pytest.approx(2.0)
    assert stats.delivered == pytest.approx(5e6)  # the link forwards 1/u of what arrives
    assert stats.loss_rate == pytest.approx(0.5)
    # delay: propagation 1 ms per hop, M/M/1 on the first link (u = 0.01), a full buffer on the second
    first = 1e-3 + 1500 * 8 / 1e9 / (1 - 0.01)
    second = 1e-3 + metrics.DEFAULT_BUFFER_S
    assert stats.mean_delay_ms == pytest.approx(1e3 * (first + second))


def test_mm1_delay_below_capacity():
    line = make_topology([(0, 1, 1e6)])
    stats = FlowModel(line, packet_bytes=1000).evaluate(
        NextHopRouting(even_splits(line, ecmp_dag(line).on_dag)), _matrix(2, {(0, 1): 5e5})
    )
    # 8000 bits / (1e6 - 5e5) bit/s = 16 ms, plus 1 ms propagation
    assert stats.mean_delay_ms == pytest.approx(17.0)
    assert stats.phi == pytest.approx(np.var([0.5, 0.0]))
    assert stats.mean_util == pytest.approx(0.25)


def test_path_routing_on_the_diamond(diamond):
    pathset = k_shortest_paths(diamond, 2)
    d = pathset.demand_index[0, 3]
    splits = np.full(pathset.mask.shape, 0.0)
    splits[:, 0] = 1.0
    # two shortest paths 0-1-3 and 0-2-3 (ties by node order): 1/4 and 3/4
    splits[d, :2] = [0.25, 0.75]
    stats = FlowModel(diamond).evaluate(PathRouting(pathset, splits), _matrix(4, {(0, 3): 20.0}))
    assert stats.mlu == pytest.approx(0.5)


# ---------------------------------------------------------------------- agreement
@pytest.mark.parametrize("topology_id", ["sndlib/abilene", "nsfnet14"])
def test_batched_path_loads_agree_with_the_loop(topology_id):
    topology = load_topology(topology_id)
    pathset = k_shortest_paths(topology, 4)
    rng = np.random.default_rng(1)
    splits = _random_splits(pathset, rng, batch=(5,))
    traffic = rng.random((5, topology.num_nodes, topology.num_nodes)) * 1e9
    model = FlowModel(topology)
    batched = model.link_loads(PathRouting(pathset, splits), traffic)
    single_matrix = model.link_loads(PathRouting(pathset, splits), traffic[0])
    for b in range(5):
        looped = reference_link_loads(pathset, splits[b], traffic[b], topology.num_links)
        np.testing.assert_allclose(batched[b], looped, rtol=1e-9, atol=1e-3)
        np.testing.assert_allclose(
            single_matrix[b],
            reference_link_loads(pathset, splits[b], traffic[0], topology.num_links),
            rtol=1e-9,
            atol=1e-3,
        )


def test_sparse_and_dense_incidence_agree():
    topology = load_topology("nsfnet14")
    pathset = k_shortest_paths(topology, 3)
    rng = np.random.default_rng(2)
    splits, traffic = _random_splits(pathset, rng, batch=(3,)), rng.random((3, 14, 14))
    dense = FlowModel(topology).paths(pathset)
    from rlte.sim.flow import PathEvaluator

    sparse = PathEvaluator(topology, pathset, dense_limit=0)
    assert not isinstance(sparse.incidence, np.ndarray)
    np.testing.assert_allclose(
        dense.link_loads(splits, traffic), sparse.link_loads(splits, traffic), rtol=1e-12
    )
    forwarded = rng.uniform(0.5, 1.0, (3, topology.num_links))
    np.testing.assert_allclose(
        dense.delivered(splits, traffic, forwarded), sparse.delivered(splits, traffic, forwarded), rtol=1e-12
    )


def test_single_path_as_next_hops_equals_the_same_paths():
    """A shortest-path tree given as next hops and as paths gives identical loads and losses."""
    topology = load_topology("nsfnet14")
    dag = ecmp_dag(topology)
    first = np.zeros_like(dag.on_dag)
    for t in range(topology.num_nodes):
        for u in range(topology.num_nodes):
            hops = np.flatnonzero(dag.on_dag[t] & (topology.src == u))
            if len(hops):
                first[t, hops[0]] = True
    next_hops = NextHopRouting(even_splits(topology, first))
    # follow the tree to build the path of every pair
    from rlte.net.paths import PathSet

    node_paths = []
    n = topology.num_nodes
    for s in range(n):
        for t in range(n):
            if s == t:
                continue
            node, links = s, []
            while node != t:
                link = int(np.flatnonzero(first[t] & (topology.src == node))[0])
                links.append(link)
                node = int(topology.dst[link])
            node_paths.append((tuple(links),))
    pathset = PathSet(num_nodes=n, num_links=topology.num_links, paths=tuple(node_paths))
    path_routing = PathRouting(pathset, np.ones((len(node_paths), 1)))
    traffic = np.random.default_rng(3).random((n, n)) * 4e9
    model = FlowModel(topology)
    a, b = model.evaluate(next_hops, traffic), model.evaluate(path_routing, traffic)
    np.testing.assert_allclose(a.link_load, b.link_load, rtol=1e-9)
    assert a.mlu > 1  # overloaded, so the loss model is exercised too
    assert a.delivered == pytest.approx(b.delivered, rel=1e-9)
    assert a.mean_delay_ms == pytest.approx(b.mean_delay_ms, rel=1e-9)


# ---------------------------------------------------------------------- invariants
@st.composite
def _instances(draw):
    n = draw(st.integers(3, 7))
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=8))
    edges = {(min(i, (i + 1) % n), max(i, (i + 1) % n)) for i in range(n)}
    edges |= {(min(u, v), max(u, v)) for u, v in extra if u != v}
    capacities = draw(st.lists(st.floats(1.0, 10.0), min_size=len(edges), max_size=len(edges)))
    topology = make_topology([(u, v, c) for (u, v), c in zip(sorted(edges), capacities)])
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.floats(0.1, 20.0))
    return topology, np.random.default_rng(seed), scale


@settings(max_examples=25, deadline=None)
@given(_instances())
def test_conservation_and_overload_invariants(instance):
    topology, rng, scale = instance
    n = topology.num_nodes
    traffic = rng.random((n, n)) * scale
    np.fill_diagonal(traffic, 0.0)
    model = FlowModel(topology)
    weights = rng.uniform(0.5, 2.0, topology.num_links)
    for splits in (
        weights_to_splits(topology, weights, "ecmp"),
        weights_to_splits(topology, weights, "weighted"),
    ):
        # rows are distributions over each node's out-links
        out = np.zeros((n, n))
        np.add.at(out, (slice(None), topology.src), splits)
        expected = 1.0 - np.eye(n)
        np.testing.assert_allclose(out, expected, atol=1e-12)
        # conservation: per destination, what enters a node plus its demand leaves it (or is absorbed)
        per_destination = model.next_hop.per_destination_link_flow(splits, traffic)
        for t in range(n):
            inflow = np.bincount(topology.dst, per_destination[t], minlength=n)
            outflow = np.bincount(topology.src, per_destination[t], minlength=n)
            balance = outflow - inflow
            for u in range(n):
                assert balance[u] == pytest.approx(
                    traffic[:, t].sum() * -1 if u == t else traffic[u, t], abs=1e-9 * max(1, traffic.sum())
                )
        stats = model.evaluate(NextHopRouting(splits), traffic)
        assert stats.delivered <= stats.offered * (1 + 1e-12)
        if stats.mlu < 1.0:
            assert stats.loss_rate == pytest.approx(0.0, abs=1e-12)
        else:
            assert stats.loss_rate > 0.0
    pathset = k_shortest_paths(topology, 3)
    splits = _random_splits(pathset, rng)
    stats = model.evaluate(PathRouting(pathset, splits), traffic)
    assert stats.delivered <= stats.offered * (1 + 1e-12)
    assert (stats.loss_rate == 0.0) == (stats.mlu <= 1.0)


def test_total_link_load_is_demand_times_path_length():
    topology = load_topology("sndlib/abilene")
    pathset = k_shortest_paths(topology, 4)
    rng = np.random.default_rng(5)
    splits = _random_splits(pathset, rng)
    traffic = topology.demands
    load = FlowModel(topology).link_loads(PathRouting(pathset, splits), traffic)
    hops = np.zeros(pathset.mask.shape)
    hops[pathset.mask] = pathset.path_hops[pathset.path_index[pathset.mask]]
    expected = (pathset.demand_vector(traffic)[:, None] * splits * hops).sum()
    assert load.sum() == pytest.approx(expected, rel=1e-12)


def test_batches_broadcast():
    topology = load_topology("nsfnet14")
    model = FlowModel(topology)
    splits = even_splits(topology, ecmp_dag(topology).on_dag)
    traffic = np.random.default_rng(0).random((4, 14, 14))
    batch = model.evaluate(NextHopRouting(splits), traffic)
    assert batch.mlu.shape == (4,) and batch.link_load.shape == (4, topology.num_links)
    for i in range(4):
        single = model.evaluate(NextHopRouting(splits), traffic[i])
        assert single.mlu == pytest.approx(batch.mlu[i], rel=1e-12)
    routings = model.evaluate(NextHopRouting(np.stack([splits] * 3)), traffic[0])
    assert routings.mlu.shape == (3,)


# ---------------------------------------------------------------------- errors
def test_bad_traffic_and_routing_errors(diamond):
    model = FlowModel(diamond)
    routing = NextHopRouting(even_splits(diamond, ecmp_dag(diamond).on_dag))
    with pytest.raises(
        RlteError, match=r"traffic of shape \(3, 3\): topology 'diamond' needs \[\.\.\., 4, 4\] matrices"
    ):
        model.evaluate(routing, np.zeros((3, 3)))
    with pytest.raises(RlteError, match=r"traffic: contains negative demands"):
        model.evaluate(routing, -np.ones((4, 4)))
    with pytest.raises(RlteError, match=r"traffic: contains NaN or infinite demands"):
        model.evaluate(routing, np.full((4, 4), np.nan))
    with pytest.raises(RlteError, match=r"link weight rule 'hash2': unknown \(choose from ecmp, weighted\)"):
        weights_to_splits(diamond, np.ones(diamond.num_links), "hash2")
    with pytest.raises(RlteError, match=r"link weights: must be finite and > 0"):
        weights_to_splits(diamond, np.zeros(diamond.num_links))
    with pytest.raises(RlteError, match=r"routing of type tuple: expected PathRouting or NextHopRouting"):
        model.evaluate((1, 2), np.zeros((4, 4)))


def test_forwarding_loop_is_an_error():
    triangle = make_topology([(0, 1), (1, 2), (2, 0)])
    splits = np.zeros((3, triangle.num_links))
    # toward node 2, node 0 sends to 1 and node 1 sends back to 0: the traffic never arrives
    splits[2, triangle.link_index[(0, 1)]] = 1.0
    splits[2, triangle.link_index[(1, 0)]] = 1.0
    with pytest.raises(RlteError, match=r"forwarding loop"):
        FlowModel(triangle).evaluate(NextHopRouting(splits), _matrix(3, {(0, 2): 1.0}))
