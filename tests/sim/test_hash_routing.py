"""Per-flow routing under link weights (seed 002): the weighted hash's acceptance rule, valid
loop-free paths that carry every flow's demand, determinism, agreement with a literal
re-implementation of the rule and with the fluid model's weighted splits, the authors' next hops
(their code's Phi on the MAROH networks, the compiled walk against a literal one), and bad input."""

from __future__ import annotations

import math
import random
import re
import zlib

import numpy as np
import pytest
from conftest import make_topology

from rlte.errors import RlteError
from rlte.net.flows import Flows, read_maroh_flows
from rlte.net.maroh_dag import NO_PREVIOUS, AuthorsCalculator
from rlte.net.paths import stretch_dag
from rlte.net.topology import load_topology
from rlte.sim.flow import NextHopEvaluator
from rlte.sim.hash_routing import (
    FLOW_RULES,
    FlowRouter,
    flow_keys,
    flow_link_loads,
    hash_choice_probabilities,
)
from rlte.sim.routing import weights_to_splits


def _flows(topology, pairs, rng, prefix="flow") -> Flows:
    """Flows between the given (s, t) node indices, random rates, ids ``<prefix>-<i>``."""
    pairs = np.asarray(pairs, dtype=np.int64)
    return Flows(
        nodes=topology.nodes,
        src=pairs[:, 0],
        dst=pairs[:, 1],
        rate_bps=rng.uniform(1e5, 1e6, len(pairs)),
        ids=tuple(f"{prefix}-{i}" for i in range(len(pairs))),
    )


def _random_pairs(n, count, rng):
    s = rng.integers(n, size=count)
    t = (s + rng.integers(1, n, size=count)) % n
    return np.stack([s, t], axis=1)


def _link(topology, u, v) -> int:
    return topology.link_index[(u, v)]


# ---------------------------------------------------------------------- the acceptance rule
def test_weights_one_to_half_give_three_to_one_not_two_to_one(diamond):
    """Node 0 of the diamond has two next hops toward 3, 0 -> 1 (weight 1) and 0 -> 2 (0.5)."""
    n = 20_000
    flows = Flows(
        diamond.nodes, np.zeros(n, int), np.full(n, 3), np.ones(n), tuple(f"id{i}" for i in range(n))
    )
    weights = np.ones(diamond.num_links)
    weights[_link(diamond, 0, 2)] = 0.5
    paths = FlowRouter(diamond, flows).flow_paths(weights)
    light = float(np.mean(paths[:, 0] == _link(diamond, 0, 2)))
    exact = hash_choice_probabilities([1.0, 0.5])[1]  # the rule with its CRC coins: 0.2471
    assert exact == pytest.approx(0.25, abs=0.005)  # 3 : 1
    margin = 4 * math.sqrt(exact * (1 - exact) / n)
    assert abs(light - exact) < margin
    assert abs(light - 0.25) < margin + 0.005
    assert abs(light - 1 / 3) > 4 * math.sqrt(2 / 9 / n)  # not 2 : 1


def test_three_next_hops_follow_the_rules_probabilities():
    """A star: node 0 reaches the hub 4 through 1, 2 or 3 (two hops each)."""
    edges = [(0, v) for v in (1, 2, 3)] + [(v, 4) for v in (1, 2, 3)]
    star = make_topology(edges, name="star")
    n = 12_000
    flows = Flows(star.nodes, np.zeros(n, int), np.full(n, 4), np.ones(n), tuple(f"s{i}" for i in range(n)))
    weights = np.ones(star.num_links)
    firsts = [_link(star, 0, v) for v in (1, 2, 3)]
    weights[firsts] = [4.0, 2.0, 1.0]
    paths = FlowRouter(star, flows).flow_paths(weights)
    exact = hash_choice_probabilities([4.0, 2.0, 1.0])
    # uniform random order, candidate i accepting with probability w_i / w_max: 2/3, 0.2292, 0.1042
    ratio = np.array([1.0, 0.5, 0.25])
    ideal = [
        ratio[0] * (1 / 3 + (1 - ratio[1]) / 6 + (1 - ratio[2]) / 6 + (1 - ratio[1]) * (1 - ratio[2]) / 3),
        ratio[1] * (1 / 3 + 0 / 6 + (1 - ratio[2]) / 6 + 0),
        ratio[2] * (1 / 3 + (1 - ratio[1]) / 6 + 0 + 0),
    ]
    assert exact == pytest.approx(ideal, abs=0.01)
    for link, p in zip(firsts, exact):
        assert abs(np.mean(paths[:, 0] == link) - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_equal_weights_are_one_bucket_each():
    assert hash_choice_probabilities([3.0, 3.0]) == pytest.approx([0.5, 0.5], abs=1e-3)
    assert hash_choice_probabilities([2.0]) == pytest.approx([1.0])


def test_keys_are_the_authors_randint_draws():
    for flow_id, seed in (("6981856a-8400-421a-a225-24448d6a54ff", None), ("x", 7), ("", "s")):
        stream = random.Random(flow_id + ("" if seed is None else str(seed)))
        assert flow_keys([flow_id], 6, seed)[0].tolist() == [stream.randint(0, 10_000) for _ in range(6)]


# ---------------------------------------------------------------------- a literal reference


def _reference_pick(left: list[int], weights, key_seed: int) -> int:
    """The authors' draw among the candidate links ``left``, as written: a stream re-seeded with the
    flow's id plus the hash seed, draw a key, pick ``key % len(left)``, accept with probability
    weight / largest weight (crc32 of the key as the coin), else delete it and draw again."""
    stream = random.Random(key_seed)
    w_max = max(weights[e] for e in left)
    while True:
        key = stream.randint(0, 10_000)
        pick = key % len(left)
        if zlib.crc32(bytes(key)) / 2**32 < weights[left[pick]] / w_max:
            return left[pick]
        del left[pick]


def _reference_paths(topology, flows, weights, eligible, seed=""):
    """The rule as written (the authors' loop): re-seed per node, draw, accept or delete, repeat."""
    paths = []
    for s, t, flow_id in zip(flows.src, flows.dst, flows.ids):
        u, path = int(s), []
        while u != t:
            left = [e for e in range(topology.num_links) if topology.src[e] == u and eligible[t, e]]
            link = _reference_pick(left, weights, flow_id + seed)
            path.append(link)
            u = int(topology.dst[link])
        paths.append(path)
    return paths


def test_compiled_rule_equals_the_literal_rule():
    topology = load_topology("nsfnet14")
    rng = np.random.default_rng(3)
    flows = _flows(topology, _random_pairs(topology.num_nodes, 300, rng), rng)
    router = FlowRouter(topology, flows, hash_seed=5)
    eligible = stretch_dag(topology, 1.5)
    for _ in range(3):
        weights = rng.integers(1, 65, topology.num_links).astype(float)
        compiled = router.flow_paths(weights)
        expected = _reference_paths(topology, flows, weights, eligible, seed="5")
        assert [row[row >= 0].tolist() for row in compiled] == expected


# ---------------------------------------------------------------------- paths and loads
def _check_paths_and_loads(topology, flows, router, weights):
    paths = router.flow_paths(weights)
    eligible = router.eligible
    loads = np.zeros(topology.num_links)
    for f, row in enumerate(paths):
        links = row[row >= 0]
        nodes = [int(router.src[f])] + [int(topology.dst[e]) for e in links]
        assert nodes[-1] == router.dst[f] and len(set(nodes)) == len(nodes)  # reaches t, no loop
        assert all(topology.src[e] == u for e, u in zip(links, nodes))  # a walk along links
        assert eligible[router.dst[f], links].all()  # every hop on the stretch DAG toward t
        loads[links] += router.rate[f]  # the whole demand on every link of the one path
    np.testing.assert_allclose(router.link_loads(weights), loads, rtol=1e-12)
    hops = (paths >= 0).sum(axis=1)
    assert router.link_loads(weights).sum() == pytest.approx(float(router.rate @ hops), rel=1e-12)


def test_flows_follow_loop_free_dag_paths_and_carry_their_demand():
    topology = load_topology("grid6x6")
    rng = np.random.default_rng(0)
    flows = _flows(topology, _random_pairs(topology.num_nodes, 500, rng), rng)
    router = FlowRouter(topology, flows)
    for weights in (np.ones(topology.num_links), rng.uniform(0.1, 64, topology.num_links)):
        _check_paths_and_loads(topology, flows, router, weights)


@pytest.mark.parametrize("net", ["rhombus", "abilene", "geant2009"])
def test_maroh_flows_follow_loop_free_dag_paths(data_dir, net):
    topology = load_topology(f"maroh/{net}", data_dir=data_dir)
    flows = read_maroh_flows(data_dir / "maroh" / net / "flows40.json", topology)
    router = FlowRouter(topology, flows)
    rng = np.random.default_rng(1)
    _check_paths_and_loads(topology, flows, router, rng.integers(1, 65, topology.num_links).astype(float))


def test_same_ids_and_weights_give_identical_loads():
    topology = load_topology("nsfnet14")
    rng = np.random.default_rng(2)
    flows = _flows(topology, _random_pairs(topology.num_nodes, 200, rng), rng)
    weights = rng.uniform(1, 64, (4, topology.num_links))
    first = FlowRouter(topology, flows).link_loads(weights)
    again = flow_link_loads(topology, flows, weights)
    assert np.array_equal(first, again)
    # a flow's path depends on its id alone: shuffling the flows changes no path
    order = rng.permutation(len(flows.ids))
    shuffled = Flows(flows.nodes, flows.src[order], flows.dst[order], flows.rate_bps[order],
                     tuple(flows.ids[i] for i in order))  # fmt: skip
    np.testing.assert_allclose(FlowRouter(topology, shuffled).link_loads(weights), first, rtol=1e-12)
    assert np.array_equal(
        FlowRouter(topology, shuffled).flow_paths(weights[0]),
        FlowRouter(topology, flows).flow_paths(weights[0])[order],
    )
    # another hash seed is another hash function
    assert not np.array_equal(FlowRouter(topology, flows, hash_seed=1).link_loads(weights), first)


def test_a_batch_equals_one_call_per_weight_vector():
    topology = load_topology("nsfnet14")
    rng = np.random.default_rng(4)
    flows = _flows(topology, _random_pairs(topology.num_nodes, 100, rng), rng)
    router = FlowRouter(topology, flows)
    weights = rng.uniform(1, 64, (2, 3, topology.num_links))
    batch = router.link_loads(weights)
    assert batch.shape == (2, 3, topology.num_links)
    for index in np.ndindex(2, 3):
        assert np.array_equal(batch[index], router.link_loads(weights[index]))
    np.testing.assert_allclose(router.phi(weights), np.var(batch / topology.capacity, axis=-1))


def test_split_rule_is_the_weighted_next_hop_split():
    topology = load_topology("nsfnet14")
    rng = np.random.default_rng(5)
    flows = _flows(topology, _random_pairs(topology.num_nodes, 150, rng), rng)
    weights = rng.uniform(1, 64, topology.num_links)
    split = FlowRouter(topology, flows, "split")
    splits = weights_to_splits(topology, weights, "weighted", eligible=stretch_dag(topology, 1.5))
    expected = NextHopEvaluator(topology).link_loads(splits, flows.matrix())
    np.testing.assert_allclose(split.link_loads(weights), expected, rtol=1e-10)
    # both rules route the same demand: total load is demand x hops, the same on one path or split
    hashed = FlowRouter(topology, flows).link_loads(np.ones(topology.num_links))
    assert hashed.sum() >= flows.rate_bps.sum() and split.link_loads(weights).sum() >= flows.rate_bps.sum()


def test_flow_nodes_are_matched_by_name(diamond):
    # the flow set lists its nodes in another order than the topology
    flows = Flows(("3", "0"), np.array([1]), np.array([0]), np.array([5.0]), ("a",))
    loads = flow_link_loads(diamond, flows, np.ones(diamond.num_links))
    assert loads.sum() == pytest.approx(10.0)  # 5 bit/s over two hops from 0 to 3
    assert loads[[_link(diamond, 0, 1), _link(diamond, 0, 2)]].sum() == pytest.approx(5.0)


# ---------------------------------------------------------------------- the authors' next hops
def _reference_authors_paths(topology, flows, weights, calculator, seed=""):
    """The hash as written over the authors' rule evaluated state by state (no table)."""
    paths = []
    for s, t, flow_id in zip(flows.src, flows.dst, flows.ids):
        s, t = int(s), int(t)
        u, previous, path = s, NO_PREVIOUS, []
        while u != t:
            link = _reference_pick(list(calculator.next_hops(s, t, previous, u)), weights, flow_id + seed)
            path.append(link)
            previous, u = u, int(topology.dst[link])
        paths.append(path)
    return paths


def test_compiled_authors_walk_equals_the_literal_rule():
    topology = load_topology("nsfnet14")
    rng = np.random.default_rng(6)
    flows = _flows(topology, _random_pairs(topology.num_nodes, 300, rng), rng)
    router = FlowRouter(topology, flows, dag="authors", hash_seed=5)
    calculator = AuthorsCalculator(topology)
    routes, n = router.authors.link_routes(), topology.num_nodes
    for weights in (np.ones(topology.num_links), *rng.integers(1, 65, (3, topology.num_links)).astype(float)):
        compiled = router.flow_paths(weights)
        expected = _reference_authors_paths(topology, flows, weights, calculator, seed="5")
        assert [row[row >= 0].tolist() for row in compiled] == expected
        for s, t, path in zip(router.src, router.dst, expected):  # each one of its pair's routes
            assert tuple(path) in routes[s * (n - 1) + t - (t > s)]
        _check_paths_and_loads(topology, flows, router, weights)


# Weight vectors np.random.default_rng(0).integers(1, 65, (3, E)) (Abilene's written out), and the
# Phi of weights 1 and of these three on each network's flows40.json as the authors' code gives
# it: their DAGCalculator and WeightedDxHashFunction (github.com/estepanov-lvk/maroh at commit
# 190999ce746509216f2f6f142185dca5ef6f8f8b), run on these weights as hash weights for every
# destination, without a hash seed.
ABILENE_WEIGHTS = [
    [55, 41, 33, 18, 20, 3, 5, 2, 12, 53, 42, 59, 33, 39, 63, 47, 41, 35, 36, 60],
    [18, 53, 43, 1, 26, 55, 36, 3, 49, 47, 55, 12, 6, 56, 2, 35, 6, 20, 31, 28],
    [26, 2, 1, 8, 1, 43, 34, 42, 17, 40, 49, 25, 30, 64, 52, 63, 25, 44, 61, 42],
]
AUTHORS_PHI = {
    "rhombus": [0.03313119162152657, 0.03015374623630731, 0.04660244749939593, 0.07102162042426008],
    "abilene": [0.03821536672309294, 0.0379748005009625, 0.036114644404540736, 0.051611388054007126],
    "symm16": [0.031938666663951024, 0.02936220192172718, 0.03683876038413596, 0.042884426326386144],
    "geant2009": [0.12007507340843786, 0.12731980904436527, 0.13504500037112246, 0.1310455584717047],
}


def _maroh_router(data_dir, net, **options):
    topology = load_topology(f"maroh/{net}", data_dir=data_dir)
    flows = read_maroh_flows(data_dir / "maroh" / net / "flows40.json", topology)
    return topology, FlowRouter(topology, flows, **options)


def test_authors_dag_gives_the_authors_phi_on_abilene(data_dir):
    topology, router = _maroh_router(data_dir, "abilene", dag="authors")
    weights = np.array([np.ones(topology.num_links), *ABILENE_WEIGHTS], dtype=float)
    assert np.array_equal(weights[1:], np.random.default_rng(0).integers(1, 65, (3, topology.num_links)))
    phi = router.phi(weights)
    assert phi[0] == pytest.approx(0.038215, abs=1e-6)  # ECMP under the hash, the authors' 0.038215
    np.testing.assert_allclose(phi, AUTHORS_PHI["abilene"], rtol=1e-12)
    # the stretch DAG routes the same flows otherwise (ECMP 0.0435)
    _, stretch = _maroh_router(data_dir, "abilene")
    assert float(stretch.phi(np.ones(topology.num_links))) == pytest.approx(0.043496, abs=1e-6)
    _check_paths_and_loads(topology, None, router, weights[1])


@pytest.mark.parametrize("net", ["rhombus", "symm16", pytest.param("geant2009", marks=pytest.mark.slow)])
def test_authors_dag_gives_the_authors_phi(data_dir, net):
    topology, router = _maroh_router(data_dir, net, dag="authors")
    weights = np.vstack(
        [np.ones(topology.num_links), np.random.default_rng(0).integers(1, 65, (3, topology.num_links))]
    )
    np.testing.assert_allclose(router.phi(weights.astype(float)), AUTHORS_PHI[net], rtol=1e-12)


def test_rhombus_routes_alike_under_both_dags(data_dir):
    topology, authors = _maroh_router(data_dir, "rhombus", dag="authors")
    _, stretch = _maroh_router(data_dir, "rhombus")
    weights = np.vstack(
        [np.ones(topology.num_links), np.random.default_rng(2).uniform(1, 64, (4, topology.num_links))]
    )
    for w in weights:
        assert np.array_equal(authors.flow_paths(w), stretch.flow_paths(w))
    assert float(authors.phi(np.ones(topology.num_links))) == pytest.approx(0.033131, abs=1e-6)


# ---------------------------------------------------------------------- bad input
def _one_flow(nodes=("0", "3"), src=0, dst=1, rate=1.0):
    return Flows(tuple(nodes), np.array([src]), np.array([dst]), np.array([rate]), ("f1",))


@pytest.mark.parametrize(
    "flow, options, message",
    [
        ({}, {"rule": "ecmp"}, "flow routing rule 'ecmp': unknown (choose from hash, split)"),
        ({"nodes": ("0", "9")}, {}, "flow 'f1': destination '9' is not a node of topology 'diamond'"),
        ({"nodes": ("7", "3")}, {}, "flow 'f1': source '7' is not a node of topology 'diamond'"),
        ({"dst": 0}, {}, "flow 'f1': starts and ends at '0'"),
        ({"rate": -1.0}, {}, "flow 'f1': rate -1.0 must be finite and >= 0"),
        ({"dst": 5}, {}, "flow 'f1': destination index 5 is not one of its 2 nodes"),
        ({}, {"eligible": np.ones((4, 3), bool)}, "eligible next hops of shape (4, 3): want (4, 8)"),
        ({}, {"dag": "ecmp"}, "next-hop dag 'ecmp': unknown (choose from stretch, authors)"),
        (
            {},
            {"rule": "split", "dag": "authors"},
            "flow routing rule 'split': needs per-destination next hops, not dag 'authors' "
            "(whose next hops depend on the previous node)",
        ),
        (
            {},
            {"dag": "authors", "eligible": np.ones((4, 8), bool)},
            "eligible next hops: a mask replaces the stretch DAG, not dag 'authors'",
        ),
    ],
)
def test_bad_input_is_a_one_line_error(diamond, flow, options, message):
    with pytest.raises(RlteError, match=f"^{re.escape(message)}$"):
        FlowRouter(diamond, _one_flow(**flow), **options)


@pytest.mark.parametrize("rule", FLOW_RULES)
def test_bad_weights_are_one_line_errors(diamond, rule):
    router = FlowRouter(diamond, _one_flow(), rule)
    for weights in (np.zeros(8), np.full(8, -1.0), np.full(8, np.nan)):
        with pytest.raises(RlteError, match=r"^link weights: must be finite and > 0$"):
            router.link_loads(weights)
    with pytest.raises(RlteError, match=r"^link weights of shape \(3,\): topology 'diamond' has 8 links$"):
        router.link_loads(np.ones(3))


def test_a_node_without_next_hop_is_a_one_line_error(diamond):
    eligible = stretch_dag(diamond, 1.5)
    eligible[3, [_link(diamond, 0, 1), _link(diamond, 0, 2)]] = False
    router = FlowRouter(diamond, _one_flow(), eligible=eligible)
    with pytest.raises(RlteError, match=r"^hash routing: flow 'f1' \(0 -> 3\) has no next hop at node '0'$"):
        router.link_loads(np.ones(8))


def test_benchmark_reports_every_maroh_network(data_dir):
    from rlte.bench_maroh import MAROH_NETS, bench_maroh_routing

    rows = bench_maroh_routing(quick=True)
    assert [row["topology"] for row in rows[:-1]] == list(MAROH_NETS)
    assert all(row["routing_ms"] > 0 and row["batched_routing_ms"] > 0 for row in rows[:-1])
    assert all(row["authors_routing_ms"] > 0 and row["authors_setup_ms"] > 0 for row in rows[:-1])
    assert rows[-1]["benchmark"] == "maroh_genetic" and rows[-1]["generations_per_s"] > 0
