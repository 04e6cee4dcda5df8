"""Phi's baselines and bounds (seed 002): the QP's minimum against a hand-computed optimum, the
edge and path forms against each other, and the bound against ECMP, the LP's routing and every
genetic individual on the MAROH inputs, and the bound over the authors' next hops."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import make_topology

from rlte.baselines.genetic import GeneticConfig, genetic_weights
from rlte.baselines.phi import ecmp_phi, lp_routing_phi, min_phi, min_phi_paths, router_phi_bound
from rlte.errors import RlteError
from rlte.net.flows import read_maroh_flows
from rlte.net.paths import PathSet, stretch_dag
from rlte.net.topology import load_topology
from rlte.sim.hash_routing import FlowRouter


@pytest.fixture
def triangle():
    """Three nodes, every link 1 Gbit/s both ways; 1 Gbit/s from 0 to 2."""
    topology = make_topology([(0, 1), (1, 2), (0, 2)], capacity=1e9, name="triangle")
    matrix = np.zeros((3, 3))
    matrix[0, 2] = 1e9
    return topology, matrix


def test_split_over_two_paths_has_the_hand_computed_optimum(triangle):
    """x on 0 -> 1 -> 2, 1 - x on 0 -> 2: utilisations (1 - x, x, x, 0, 0, 0), mean (1 + x) / 6,
    Phi(x) = ((1 - x)^2 + 2 x^2) / 6 - ((1 + x) / 6)^2, least at x = 7/17 where Phi = 1/17."""
    topology, matrix = triangle
    bound = min_phi_paths(topology, matrix)
    assert bound.label == "all simple paths" and bound.status == "optimal"
    assert bound.phi == pytest.approx(1 / 17, rel=1e-6)
    assert bound.lower <= 1 / 17 + 1e-12 and bound.lower == pytest.approx(1 / 17, rel=1e-4)
    utilisation = dict(
        zip(topology.link_names(), bound.utilisation)
    )  # the flows' regularisation moves x by 1e-5
    assert utilisation[("0", "2")] == pytest.approx(10 / 17, abs=1e-4)
    assert utilisation[("0", "1")] == pytest.approx(7 / 17, abs=1e-4)
    assert utilisation[("1", "2")] == pytest.approx(7 / 17, abs=1e-4)
    # on the stretch DAG 0 -> 2 is the only route: (1, 0, 0, 0, 0, 0) has Phi 1/6 - 1/36 = 5/36
    dag = min_phi(topology, matrix, stretch_dag(topology, 1.5))
    assert dag.phi == pytest.approx(5 / 36, rel=1e-9) and dag.lower == pytest.approx(5 / 36, rel=1e-6)
    # over all routings a circulation 0 -> 1 -> 0 raises the idle 1 -> 0 too: lower still
    assert min_phi(topology, matrix).phi <= 1 / 17 - 1e-4


def _dag_paths(topology, eligible) -> PathSet:
    """Every route of every pair along the eligible next hops (depth-first)."""
    n = topology.num_nodes
    per_pair = []
    for s in range(n):
        for t in range(n):
            if s == t:
                continue
            found, stack = [], [(s, ())]
            while stack:
                u, links = stack.pop()
                if u == t:
                    found.append(links)
                    continue
                for e in np.flatnonzero((topology.src == u) & eligible[t]):
                    stack.append((int(topology.dst[e]), links + (int(e),)))
            per_pair.append(tuple(sorted(found)))
    return PathSet(num_nodes=n, num_links=topology.num_links, paths=tuple(per_pair), label="dag")


def test_edge_and_path_forms_agree_on_the_stretch_dag():
    topology = load_topology("nsfnet14")
    rng = np.random.default_rng(0)
    matrix = rng.uniform(0, 1e8, (14, 14)) * (rng.random((14, 14)) < 0.4)
    eligible = stretch_dag(topology, 1.5)
    edge = min_phi(topology, matrix, eligible)
    path = min_phi_paths(topology, matrix, _dag_paths(topology, eligible))
    assert edge.phi == pytest.approx(path.phi, rel=1e-4)
    assert max(edge.lower, path.lower) <= min(edge.phi, path.phi) + 1e-15
    assert edge.lower == pytest.approx(edge.phi, rel=1e-3)


@pytest.mark.parametrize("net", ["rhombus", "abilene"])
@pytest.mark.parametrize("load", [40, 60])
def test_no_routing_beats_the_bound(data_dir, net, load):
    topology = load_topology(f"maroh/{net}", data_dir=data_dir)
    flows = read_maroh_flows(data_dir / "maroh" / net / f"flows{load}.json", topology)
    matrix = flows.matrix()
    everything = min_phi(topology, matrix)  # all routings
    simple = min_phi_paths(topology, matrix)  # all loop-free routings, with a certified bound
    dag = min_phi(topology, matrix, stretch_dag(topology, 1.5))  # every routing on the hash's next hops
    assert everything.phi <= simple.phi + 1e-9 and simple.lower <= simple.phi
    assert simple.lower == pytest.approx(simple.phi, rel=1e-3)
    assert simple.lower <= dag.lower + 1e-12 and dag.lower <= dag.phi
    ecmp, ecmp_split = ecmp_phi(topology, flows), ecmp_phi(topology, flows, "split")
    lp = lp_routing_phi(topology, matrix)
    router = FlowRouter(topology, flows)
    result = genetic_weights(
        topology, router.phi, GeneticConfig(generations=10), rng=np.random.default_rng(0)
    )
    for phi in (ecmp, ecmp_split, lp, *result.population_phi, result.phi):
        assert everything.phi <= phi + 1e-12 and simple.lower <= phi
    for phi in (ecmp, ecmp_split, *result.population_phi):  # these forward on the stretch DAG only
        assert dag.lower <= phi


def test_bound_over_the_authors_routes_on_abilene(data_dir):
    topology = load_topology("maroh/abilene", data_dir=data_dir)
    flows = read_maroh_flows(data_dir / "maroh" / "abilene" / "flows40.json", topology)
    authors, stretch = FlowRouter(topology, flows, dag="authors"), FlowRouter(topology, flows)
    bound, stretch_bound = router_phi_bound(authors), router_phi_bound(stretch)
    # the least splittable Phi over the authors' 73 routes, and over the stretch DAG's next hops
    assert bound.label == "paths authors" and bound.phi == pytest.approx(0.01643, abs=1e-4)
    assert bound.lower <= bound.phi and bound.lower == pytest.approx(bound.phi, rel=1e-3)
    assert stretch_bound.label == "eligible next hops" and stretch_bound.phi == pytest.approx(
        0.01935, abs=1e-4
    )
    assert stretch_bound.phi == pytest.approx(
        min_phi(topology, flows.matrix(), stretch_dag(topology, 1.5)).phi
    )
    assert ecmp_phi(topology, flows, dag="authors") == pytest.approx(0.038215, abs=1e-6)
    result = genetic_weights(
        topology, authors.phi, GeneticConfig(generations=5), rng=np.random.default_rng(0)
    )
    for phi in (*result.population_phi, result.phi):  # no weights beat it
        assert bound.lower <= phi


def test_both_dags_give_the_same_bound_on_the_rhombus(data_dir):
    topology = load_topology("maroh/rhombus", data_dir=data_dir)
    flows = read_maroh_flows(data_dir / "maroh" / "rhombus" / "flows40.json", topology)
    authors = router_phi_bound(FlowRouter(topology, flows, dag="authors"))
    stretch = router_phi_bound(FlowRouter(topology, flows))
    assert authors.phi == pytest.approx(0.02037, abs=1e-5) and authors.phi == pytest.approx(
        stretch.phi, abs=1e-9
    )
    assert (
        ecmp_phi(topology, flows, dag="authors")
        == pytest.approx(ecmp_phi(topology, flows))
        == pytest.approx(0.033131, abs=1e-6)
    )


def test_no_traffic_has_phi_zero(triangle):
    topology, _ = triangle
    bound = min_phi(topology, np.zeros((3, 3)))
    assert bound.phi == 0.0 and bound.lower == 0.0 and not bound.link_load.any()


def test_bad_input_is_a_one_line_error(triangle):
    topology, matrix = triangle
    for call, message in (
        (
            lambda: min_phi(topology, matrix, np.ones((2, 2), bool)),
            "eligible next hops of shape (2, 2): want (3, 6)",
        ),
        (
            lambda: min_phi(topology, matrix, np.zeros((3, 6), bool)),
            "next-hop QP on topology 'triangle': the eligible next hops cannot route every demand",
        ),
        (
            lambda: min_phi_paths(topology, -matrix),
            "traffic matrix: demand 0 -> 2 is -1000000000.0; demands must be finite and >= 0",
        ),
    ):
        with pytest.raises(RlteError, match=f"^{re.escape(message)}$"):
            call()
