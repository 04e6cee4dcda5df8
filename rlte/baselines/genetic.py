"""The genetic algorithm that seed 002 (MAROH / SAMAROH) benchmarks its agents against: a
centralised search for integer link weights that minimise Phi (the population variance of link
utilisation) under the weighted hash, as the authors' ``optimalweights.py`` does it.

A genome is one integer weight per directed link, 1..``max_weight``. Node-wise operations act on
a node's *row* (its out-links, by destination index) or *column* (its in-links, by source index),
the rows and columns of the authors' weight matrix. Each generation:

1. **selection** (from the second generation on): ``population`` individuals drawn with
   replacement from the current pool by linear ranking (the best of n with probability sp / n,
   the worst (2 - sp) / n, sp = ``selection_pressure``);
2. **crossover**: each consecutive pair (0, 1), (2, 3), ... with probability ``crossover_rate``
   makes two children, copies of the parents that exchange the row (or, with probability 1/2, the
   column) of a random node, ``crossover_swaps`` times; identical parents make none. Children
   join the pool;
3. **mutation**: every member of the pool with probability ``mutation_rate`` makes a mutant: one
   random node, ``mutation_shifts`` steps each on its row or its column (1/2 each): with
   probability 1/2 a cyclic shift of the line's weights by one, then ``mutation_reassigns``
   re-initialisations. Mutants join the pool;
4. **fitness**: Phi of every member, in one batched call.

The result is the best individual seen in any generation (selection is not elitist, so the last
pool may have lost it). Re-initialisation: the paper says "a randomly selected subset of these
weights"; the authors' code indexes the tuple ``np.where`` returns, so its random index is always
0 and each re-initialisation sets *all* the line's weights to one new value (the shift is then
overwritten). ``reassign_all=True`` (the default) does what their code does, ``False`` what the
paper says (one random link of the line per re-initialisation).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from rlte.errors import RlteError
from rlte.net.topology import Topology


@dataclass(frozen=True)
class GeneticConfig:
    """Parameters of the genetic algorithm; the defaults are the authors'."""

    population: int = 100
    """Individuals that selection keeps each generation."""
    generations: int = 100
    """Generations after the first (random) one."""
    crossover_rate: float = 0.7
    """Probability that a pair of consecutive individuals makes two children."""
    crossover_swaps: int = 5
    """Node rows or columns the two children exchange."""
    mutation_rate: float = 0.7
    """Probability that an individual makes a mutant."""
    mutation_shifts: int = 4
    """Steps of one mutation (each a possible cyclic shift, then re-initialisations)."""
    mutation_reassigns: int = 4
    """Re-initialisations per mutation step."""
    max_weight: int = 64
    """Weights are integers 1..max_weight."""
    selection_pressure: float = 1.9
    """Linear ranking's sp in [1, 2]: the best of n is drawn with probability sp / n."""
    reassign_all: bool = True
    """A re-initialisation sets all the line's weights to one value (the authors' code), or one link's."""

    def __post_init__(self) -> None:
        for name in ("population", "generations", "crossover_swaps", "mutation_shifts", "mutation_reassigns"):
            value = getattr(self, name)
            low = 1 if name == "population" else 0
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise RlteError(f"genetic {name} {value!r}: must be an integer >= {low}")
        if (
            isinstance(self.max_weight, bool)
            or not isinstance(self.max_weight, (int, np.integer))
            or (self.max_weight < 1)
        ):
            raise RlteError(f"genetic max_weight {self.max_weight!r}: must be an integer >= 1")
        for name in ("crossover_rate", "mutation_rate"):
            value = getattr(self, name)
            if not (0.0 <= value <= 1.0):
                raise RlteError(f"genetic {name} {value!r}: must be in [0, 1]")
        if not (1.0 <= self.selection_pressure <= 2.0):
            raise RlteError(f"genetic selection_pressure {self.selection_pressure!r}: must be in [1, 2]")


class GeneticResult(NamedTuple):
    """What the genetic algorithm found.

    Attributes:
        weights: the best individual of all generations. Shape [E], integers as floats.
        phi: its fitness.
        best_phi: the best fitness of each generation's pool (the first is the random one's).
            Shape [generations + 1].
        population: the last generation's pool. Shape [P, E].
        population_phi: its fitness. Shape [P].
        evaluations: fitness evaluations in all.
        runtime_s: wall time.
    """

    weights: np.ndarray
    phi: float
    best_phi: np.ndarray
    population: np.ndarray
    population_phi: np.ndarray
    evaluations: int
    runtime_s: float


def node_lines(topology: Topology) -> tuple[np.ndarray, np.ndarray]:
    """Each node's row and column as padded link lists: line 2u is u's row (out-links, by
    destination index), line 2u + 1 its column (in-links, by source index).

    Returns:
        lines: link indices, -1 padding. Shape [2N, L].
        lengths: links per line. Shape [2N].
    """
    src, dst = topology.src, topology.dst
    found = []
    for u in range(topology.num_nodes):
        found.append(np.flatnonzero(src == u)[np.argsort(dst[src == u], kind="stable")])
        found.append(np.flatnonzero(dst == u)[np.argsort(src[dst == u], kind="stable")])
    lengths = np.array([len(line) for line in found], dtype=np.int64)
    lines = np.full((len(found), max(int(lengths.max()), 1)), -1, dtype=np.int64)
    for i, line in enumerate(found):
        lines[i, : len(line)] = line
    return lines, lengths


def genetic_weights(
    topology: Topology,
    fitness: Callable[[np.ndarray], np.ndarray],
    config: GeneticConfig | None = None,
    *,
    rng: np.random.Generator,
) -> GeneticResult:
    """Search integer link weights minimising ``fitness`` with the authors' genetic algorithm.

    Args:
        topology: the network (its links are the genome).
        fitness: maps a batch of weight vectors [B, E] to their fitness [B], lower is better
            (e.g. `rlte.sim.hash_routing.FlowRouter.phi`).
        config: the parameters (`GeneticConfig`; defaults are the authors').
        rng: the one source of randomness.

    Returns:
        A `GeneticResult`.
    """
    config = GeneticConfig() if config is None else config
    if not isinstance(rng, np.random.Generator):
        raise RlteError(f"genetic algorithm: rng must be a numpy Generator, not {type(rng).__name__}")
    start = time.perf_counter()
    lines, lengths = node_lines(topology)
    num_nodes, num_links = topology.num_nodes, topology.num_links

    def evaluate(pool: np.ndarray) -> np.ndarray:
        values = np.asarray(fitness(pool), dtype=np.float64)
        if values.shape != (len(pool),):
            raise RlteError(f"genetic algorithm: fitness returned shape {values.shape}, want ({len(pool)},)")
        return values

    pool = rng.integers(1, config.max_weight + 1, size=(config.population, num_links)).astype(np.float64)
    pool_phi = evaluate(pool)
    evaluations = len(pool)
    best = int(np.argmin(pool_phi))
    best_weights, best_phi = pool[best].copy(), float(pool_phi[best])
    history = [best_phi]
    for _ in range(config.generations):
        population = pool[_linear_ranking(pool_phi, config.population, config.selection_pressure, rng)]
        pool = np.concatenate([population, _crossover(population, lines, lengths, num_nodes, config, rng)])
        pool = np.concatenate([pool, _mutation(pool, lines, lengths, num_nodes, config, rng)])
        pool_phi = evaluate(pool)
        evaluations += len(pool)
        best = int(np.argmin(pool_phi))
        if pool_phi[best] < best_phi:
            best_weights, best_phi = pool[best].copy(), float(pool_phi[best])
        history.append(float(pool_phi[best]))
    return GeneticResult(
        weights=best_weights,
        phi=best_phi,
        best_phi=np.array(history),
        population=pool,
        population_phi=pool_phi,
        evaluations=evaluations,
        runtime_s=time.perf_counter() - start,
    )


def _linear_ranking(phi: np.ndarray, count: int, pressure: float, rng: np.random.Generator) -> np.ndarray:
    """``count`` indices drawn with replacement, rank r (0 = least phi) with probability
    (sp - (2 sp - 2) r / (n - 1)) / n."""
    n = len(phi)
    if n == 1:
        return np.zeros(count, dtype=np.int64)
    ranks = np.argsort(np.argsort(phi, kind="stable"), kind="stable")
    probability = (pressure - (2 * pressure - 2) * ranks / (n - 1)) / n
    return rng.choice(n, size=count, p=probability / probability.sum())


def _crossover(population, lines, lengths, num_nodes, config: GeneticConfig, rng) -> np.ndarray:
    """The children of the pairs (0, 1), (2, 3), ... that cross. Shape [C, E]."""
    pairs = len(population) // 2
    crossing = rng.random(pairs) < config.crossover_rate
    nodes = rng.integers(num_nodes, size=(pairs, config.crossover_swaps))
    columns = rng.random((pairs, config.crossover_swaps)) >= 0.5
    first, second = population[0 : 2 * pairs : 2], population[1 : 2 * pairs : 2]
    crossing &= (first != second).any(axis=1)  # identical parents make no children
    first, second = first[crossing].copy(), second[crossing].copy()
    _swap_lines(first, second, lines, lengths, (2 * nodes + columns)[crossing])
    return np.stack([first, second], axis=1).reshape(-1, population.shape[1])


def _mutation(pool, lines, lengths, num_nodes, config: GeneticConfig, rng) -> np.ndarray:
    """The mutants of the pool's members that mutate. Shape [M, E]."""
    steps, reassigns = config.mutation_shifts, config.mutation_reassigns
    mutating = np.flatnonzero(rng.random(len(pool)) < config.mutation_rate)
    count = len(mutating)
    nodes = rng.integers(num_nodes, size=count)
    columns = rng.random((count, steps)) >= 0.5
    shifts = rng.random((count, steps)) < 0.5
    values = rng.integers(1, config.max_weight + 1, size=(count, steps, reassigns)).astype(np.float64)
    picks = rng.random((count, steps, reassigns))
    mutants = pool[mutating].copy()
    _mutate(mutants, lines, lengths, 2 * nodes[:, None] + columns, shifts, values, picks, config.reassign_all)
    return mutants


@numba.njit(cache=True)
def _swap_lines(first, second, lines, lengths, line_ids):
    """Child pair i exchanges the weights of lines line_ids[i, 0], line_ids[i, 1], ... in turn."""
    for i in range(first.shape[0]):
        for s in range(line_ids.shape[1]):
            line = line_ids[i, s]
            for q in range(lengths[line]):
                link = lines[line, q]
                first[i, link], second[i, link] = second[i, link], first[i, link]


@numba.njit(cache=True)
def _mutate(mutants, lines, lengths, line_ids, shifts, values, picks, reassign_all):
    """Mutant i, step s on line line_ids[i, s]: a cyclic shift by one if shifts[i, s], then each
    re-initialisation r sets the whole line (reassign_all) or its link at picks[i, s, r] * length
    to values[i, s, r]."""
    for i in range(mutants.shape[0]):
        for s in range(line_ids.shape[1]):
            line = line_ids[i, s]
            size = lengths[line]
            if size == 0:
                continue
            if shifts[i, s]:
                head = mutants[i, lines[line, 0]]
                for q in range(size - 1):
                    mutants[i, lines[line, q]] = mutants[i, lines[line, q + 1]]
                mutants[i, lines[line, size - 1]] = head
            for r in range(values.shape[2]):
                if reassign_all:
                    for q in range(size):
                        mutants[i, lines[line, q]] = values[i, s, r]
                else:
                    mutants[i, lines[line, min(int(picks[i, s, r] * size), size - 1)]] = values[i, s, r]
