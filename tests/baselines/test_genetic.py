"""The genetic algorithm of seed 002: the brute-force optimum on a tiny instance, reproducibility
for a seed, its operators and its parameter checks."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from rlte.baselines.genetic import GeneticConfig, _crossover, _mutation, genetic_weights, node_lines
from rlte.errors import RlteError
from rlte.net.flows import Flows, read_maroh_flows
from rlte.net.topology import load_topology
from rlte.sim.hash_routing import FlowRouter


@pytest.fixture
def diamond_router(diamond) -> FlowRouter:
    """18 flows on the diamond: 0 <-> 3 (two branches each way) and 1 <-> 2 (via 0 or 3)."""
    pairs = [(0, 3)] * 6 + [(3, 0)] * 6 + [(1, 2)] * 3 + [(2, 1)] * 3
    rates = [4, 3, 2, 2, 1, 1, 5, 2, 2, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    flows = Flows(
        diamond.nodes,
        np.array([s for s, _ in pairs]),
        np.array([t for _, t in pairs]),
        np.array(rates, dtype=float),
        tuple(f"d{i}" for i in range(len(pairs))),
    )
    return FlowRouter(diamond, flows)


@pytest.mark.parametrize("reassign_all", [True, False])
def test_finds_the_brute_force_optimum_on_the_diamond(diamond, diamond_router, reassign_all):
    every = np.array(list(itertools.product(range(1, 5), repeat=diamond.num_links)), dtype=float)
    phi = diamond_router.phi(every)  # all 4^8 weight vectors
    best = float(phi.min())
    assert np.mean(np.isclose(phi, best, rtol=1e-12, atol=0.0)) < 0.01  # 480 of 65,536 are optimal
    config = GeneticConfig(population=20, generations=20, max_weight=4, reassign_all=reassign_all)
    for seed in range(3):
        result = genetic_weights(diamond, diamond_router.phi, config, rng=np.random.default_rng(seed))
        assert result.phi == pytest.approx(best, rel=1e-12)
        assert float(diamond_router.phi(result.weights)) == result.phi
        assert set(np.unique(result.weights)) <= {1.0, 2.0, 3.0, 4.0}
        assert result.best_phi.shape == (21,) and result.best_phi.min() == result.phi
        assert result.population_phi.min() >= best - 1e-15


def test_is_reproducible_for_a_seed(diamond, diamond_router):
    config = GeneticConfig(population=30, generations=5)
    first, again, other = (
        genetic_weights(diamond, diamond_router.phi, config, rng=np.random.default_rng(seed))
        for seed in (7, 7, 8)
    )
    for name in ("weights", "best_phi", "population", "population_phi"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert first.evaluations == again.evaluations
    assert not np.array_equal(first.population, other.population)


def test_abilene_improves_on_ecmp(data_dir):
    topology = load_topology("maroh/abilene", data_dir=data_dir)
    router = FlowRouter(topology, read_maroh_flows(data_dir / "maroh" / "abilene" / "flows40.json", topology))
    result = genetic_weights(
        topology, router.phi, GeneticConfig(generations=30), rng=np.random.default_rng(0)
    )
    assert result.phi < 0.8 * float(router.phi(np.ones(topology.num_links)))
    assert result.weights.min() >= 1 and result.weights.max() <= 64
    # about 100 selected + 70 children + 120 mutants a generation, as in the authors' runs
    assert 200 * 31 < result.evaluations < 400 * 31


# ---------------------------------------------------------------------- the operators
def test_node_lines_are_rows_and_columns(diamond):
    lines, lengths = node_lines(diamond)
    for u in range(diamond.num_nodes):
        row, column = lines[2 * u, : lengths[2 * u]], lines[2 * u + 1, : lengths[2 * u + 1]]
        assert (diamond.src[row] == u).all() and sorted(row) == sorted(np.flatnonzero(diamond.src == u))
        assert (diamond.dst[column] == u).all() and sorted(column) == sorted(np.flatnonzero(diamond.dst == u))
        assert list(diamond.dst[row]) == sorted(diamond.dst[row])  # by destination index


def test_children_exchange_whole_node_lines(diamond):
    lines, lengths = node_lines(diamond)
    rng = np.random.default_rng(0)
    population = rng.integers(1, 65, (40, diamond.num_links)).astype(float)
    children = _crossover(
        population, lines, lengths, diamond.num_nodes, GeneticConfig(crossover_rate=1.0), rng
    )
    assert len(children) == 40  # every pair crosses (no two random parents are equal)
    first, second = children[0::2], children[1::2]
    parents_first, parents_second = population[0::2], population[1::2]
    # every link of a child comes from one parent, and the pair keeps both parents' weights
    assert ((first == parents_first) | (first == parents_second)).all()
    assert np.array_equal(
        np.sort(np.stack([first, second]), axis=0), np.sort(np.stack([parents_first, parents_second]), axis=0)
    )


@pytest.mark.parametrize("reassign_all", [True, False])
def test_mutants_change_one_nodes_lines(diamond, reassign_all):
    lines, lengths = node_lines(diamond)
    rng = np.random.default_rng(1)
    pool = rng.integers(1, 65, (50, diamond.num_links)).astype(float)
    config = GeneticConfig(mutation_rate=1.0, reassign_all=reassign_all)
    mutants = _mutation(pool, lines, lengths, diamond.num_nodes, config, rng)
    assert len(mutants) == 50
    for mutant, parent in zip(mutants, pool):
        changed = np.flatnonzero(mutant != parent)
        touching = [u for u in range(diamond.num_nodes) if np.isin(changed, lines[2 * u : 2 * u + 2]).all()]
        assert touching, "a mutant changes the row and column of one node only"
        assert ((mutant >= 1) & (mutant <= 64)).all()


def test_bad_parameters_are_one_line_errors(diamond, diamond_router):
    for options, message in (
        ({"population": 0}, "genetic population 0: must be an integer >= 1"),
        ({"generations": -1}, "genetic generations -1: must be an integer >= 0"),
        ({"max_weight": 0}, "genetic max_weight 0: must be an integer >= 1"),
        ({"crossover_rate": 1.5}, "genetic crossover_rate 1.5: must be in [0, 1]"),
        ({"selection_pressure": 2.5}, "genetic selection_pressure 2.5: must be in [1, 2]"),
    ):
        with pytest.raises(RlteError, match=f"^{re.escape(message)}$"):
            GeneticConfig(**options)
    with pytest.raises(RlteError, match=r"^genetic algorithm: rng must be a numpy Generator, not int$"):
        genetic_weights(diamond, diamond_router.phi, rng=0)
