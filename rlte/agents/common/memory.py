"""The two-layer control plane of seed 002 (MAROH-2L, SAMAROH-2L): an experience layer of stored
hidden states (representatives) beside the decision-making layer of message passing.

Before each exchange round l + 1 (l = 0 .. K - 1) every agent compares its hidden state with the
representatives of level l (level 0 holds the agents' inputs, the others their hidden states after
l rounds). If the state is *familiar* (some representative within the threshold Delta under the
metric) the agent can take the representative's stored value (the hidden state that reached the
readout after the last round, from which its action follows) and exchange nothing more. Switching
is synchronous (the paper's experiments): one unfamiliar agent sends its neighbours to the
decision-making layer, they send theirs, and so on, so on a connected exchange graph either every
agent uses its memory or all exchange. With probability ``bypass`` (the paper's gamma read as the
chance of consulting the other agents anyway; one draw per joint decision) a familiar state still
goes to the decision-making layer. After a decision by exchange, the states of the levels it
passed become candidates for representation, each with the value that was used.

Entries are joint over the agents (every insertion stores one state per agent) but searched per
agent: agent a's nearest entry is found among the agents' a-th states, as in the authors' code.

Two ways to choose representatives (`LevelMemory` implementations):

- `ClusteredMemory`, the authors' (``StatesMemory`` in ``dte_stand``): states are stored until the
  memory holds ``capacity``; later ones are gathered in a candidate buffer of a quarter of that
  (doubled when under 32); when it is full, memory and candidates are clustered per agent into
  ``capacity`` clusters (MiniBatchKMeans for L2, average-linkage AgglomerativeClustering for L1
  and cosine, seeded from the caller's generator), each cluster keeps one member (its last, as the
  authors' code does), the remaining places go to randomly drawn other members, and the buffer
  restarts with the state being inserted. As in the authors' code, only a memory's first
  MiniBatchKMeans clustering is a full fit (random starts, best of 3, scikit-learn 1.4's default
  for them); every later one is a single ``partial_fit`` of a fresh model, one mini-batch step
  over memory and candidates from randomly chosen centres, and its labels.
- `DeltaNetMemory`, rlte's implementation of the paper's Delta-net (section 4.2.3; not in the
  authors' code): permanent representatives stay at least 2 Delta apart, so every state has at
  most one within Delta; a state between Delta and 2 Delta from them becomes a temporary
  representative, and a later state within Delta of a temporary that lies farther from the
  permanent ones replaces it (temporaries move outward); a state 2 Delta or more from every
  permanent becomes permanent and removes the temporaries within Delta of it. A look-up prefers
  the permanent within Delta, then the nearest temporary within Delta. Insertion and look-up are
  O(|M| d) per agent, no clustering.

Metrics: ``l2`` (Euclidean), ``l1`` (Manhattan), ``cosine`` (1 - cos, not a metric: no
triangle inequality, so a Delta-net under it keeps its spacing but not the uniqueness argument).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numba
import numpy as np

from rlte.errors import RlteError

METRICS = ("l2", "l1", "cosine")
CLUSTERINGS = ("minibatch_kmeans", "agglomerative")
REPRESENTATIVES = ("clustering", "delta_net")
#: Entry kinds of a Delta-net.
EMPTY, PERMANENT, TEMPORARY = 0, 1, 2


# ---------------------------------------------------------------------- distances
@numba.njit(cache=True, inline="always")
def _distance(a, b, metric):
    total = 0.0
    if metric == 0:
        for k in range(a.shape[0]):
            diff = a[k] - b[k]
            total += diff * diff
        return np.sqrt(total)
    if metric == 1:
        for k in range(a.shape[0]):
            total += abs(a[k] - b[k])
        return total
    norm_a = 0.0
    norm_b = 0.0
    for k in range(a.shape[0]):
        total += a[k] * b[k]
        norm_a += a[k] * a[k]
        norm_b += b[k] * b[k]
    if norm_a == 0.0 or norm_b == 0.0:
        return 1.0
    return 1.0 - total / np.sqrt(norm_a * norm_b)


@numba.njit(cache=True)
def _nearest(entries, sizes, valid, states, metric, index, distance):
    """Each agent's nearest valid entry: index[a], distance[a] (-1, inf without one)."""
    for a in range(entries.shape[0]):
        best = np.inf
        where = -1
        for m in range(sizes[a]):
            if valid[a, m]:
                d = _distance(entries[a, m], states[a], metric)
                if d < best:
                    best = d
                    where = m
        index[a] = where
        distance[a] = best


def metric_code(metric: str) -> int:
    """The compiled code's number of a metric (`METRICS` order)."""
    if metric not in METRICS:
        raise RlteError(f"memory metric {metric!r}: unknown (choose from {', '.join(METRICS)})")
    return METRICS.index(metric)


def distances(entries: np.ndarray, state: np.ndarray, metric: str) -> np.ndarray:
    """Distances of one state to many (for tests and checks).

    Args:
        entries: the stored states. Shape [M, d].
        state: one state. Shape [d].
        metric: one of `METRICS`.

    Returns:
        Shape [M].
    """
    entries, state = np.asarray(entries, dtype=np.float64), np.asarray(state, dtype=np.float64)
    if metric == "l2":
        return np.linalg.norm(entries - state, axis=-1)
    if metric == "l1":
        return np.abs(entries - state).sum(axis=-1)
    metric_code(metric)
    norms = np.linalg.norm(entries, axis=-1) * np.linalg.norm(state)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, 1.0 - entries @ state / np.where(norms > 0, norms, 1.0), 1.0)


# ---------------------------------------------------------------------- one level
class Nearest(NamedTuple):
    """Each agent's nearest representative."""

    index: np.ndarray
    """Its place in the level's arrays (-1: none). Shape [A]."""
    distance: np.ndarray
    """Its distance (inf: none). Shape [A]."""


class LevelMemory(Protocol):
    """One message-passing level's representatives (both implementations)."""

    threshold: float

    def nearest(self, states: np.ndarray) -> Nearest: ...

    def values(self, index: np.ndarray) -> np.ndarray: ...

    def insert(self, states: np.ndarray, values: np.ndarray) -> None: ...

    def size(self) -> int: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class ClusteredMemory:
    """The authors' memory of one level: store, gather candidates, cluster (module docstring).

    Args:
        num_agents: A.
        state_size: d, the size of the states compared.
        value_size: h, the size of the values stored (the readout's input).
        capacity: |M|, representatives kept.
        threshold: Delta.
        metric: one of `METRICS`.
        clustering: ``minibatch_kmeans`` (L2 only) or ``agglomerative``.
        rng: draws the clustering's seeds and the random fill; the caller's, so a checkpoint of
            the caller's generator covers it.
    """

    def __init__(self, num_agents: int, state_size: int, value_size: int, capacity: int, threshold: float,
                 metric: str, clustering: str, rng: np.random.Generator) -> None:  # fmt: skip
        if clustering not in CLUSTERINGS:
            raise RlteError(
                f"memory clustering {clustering!r}: unknown (choose from {', '.join(CLUSTERINGS)})"
            )
        if clustering == "minibatch_kmeans" and metric != "l2":
            raise RlteError(
                f"memory: MiniBatchKMeans clusters by L2 only, not {metric!r} (use agglomerative)"
            )
        if capacity < 1:
            raise RlteError(f"memory capacity {capacity!r}: must be >= 1")
        self.capacity, self.threshold, self.metric, self.clustering = (
            int(capacity),
            float(threshold),
            metric,
            clustering,
        )
        self.code = metric_code(metric)
        self.rng = rng
        self.candidate_capacity = max(self.capacity // 4, 1)
        if self.candidate_capacity < 32:  # the authors' rule
            self.candidate_capacity *= 2
        self.states = np.zeros((num_agents, self.capacity, state_size))
        self.stored = np.zeros((num_agents, self.capacity, value_size), dtype=np.float32)
        self.candidates = np.zeros((num_agents, self.candidate_capacity, state_size))
        self.candidate_values = np.zeros((num_agents, self.candidate_capacity, value_size), dtype=np.float32)
        self.count = 0
        self.candidate_count = 0
        self.clusterings = 0
        self._valid = np.ones((num_agents, self.capacity), dtype=np.bool_)

    def size(self) -> int:
        """Representatives stored."""
        return self.count

    def nearest(self, states: np.ndarray) -> Nearest:
        """Each agent's nearest stored state (candidates are not searched, as the authors').

        Shapes: states [A, d].
        """
        num_agents = self.states.shape[0]
        index, distance = np.empty(num_agents, dtype=np.int64), np.empty(num_agents)
        sizes = np.full(num_agents, self.count, dtype=np.int64)
        _nearest(
            self.states, sizes, self._valid, np.asarray(states, dtype=np.float64), self.code, index, distance
        )
        return Nearest(index, distance)

    def values(self, index: np.ndarray) -> np.ndarray:
        """The stored values at each agent's index. Shapes: index [A] -> [A, h]."""
        return self.stored[np.arange(len(index)), index]

    def insert(self, states: np.ndarray, values: np.ndarray) -> None:
        """Store a joint state (one per agent) with its values, or gather it as a candidate.

        Shapes: states [A, d], values [A, h].
        """
        if self.count < self.capacity:
            self.states[:, self.count], self.stored[:, self.count] = states, values
            self.count += 1
            return
        if self.candidate_count == self.candidate_capacity:
            self._cluster()
        self.candidates[:, self.candidate_count] = states
        self.candidate_values[:, self.candidate_count] = values
        self.candidate_count += 1

    def _cluster(self) -> None:
        """Cluster memory and candidates per agent into ``capacity`` clusters; keep each
        cluster's last member and fill the other places with random other members."""
        from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans

        total = self.capacity + self.candidate_count
        for agent in range(self.states.shape[0]):
            points = np.concatenate([self.states[agent], self.candidates[agent, : self.candidate_count]])
            values = np.concatenate(
                [self.stored[agent], self.candidate_values[agent, : self.candidate_count]]
            )
            if self.clustering == "minibatch_kmeans":
                model = MiniBatchKMeans(
                    n_clusters=self.capacity, init="random", max_iter=100, max_no_improvement=10,
                    reassignment_ratio=0.0, n_init=3, random_state=int(self.rng.integers(2**31 - 1)),
                )  # fmt: skip
                if self.clusterings == 0:
                    labels = model.fit_predict(points)
                else:  # one step from a random start; labels_ are predict(points) after it
                    labels = model.partial_fit(points).labels_
            else:
                model = AgglomerativeClustering(n_clusters=self.capacity, metric=self._sklearn_metric(),
                                                linkage="average")  # fmt: skip
                labels = model.fit_predict(points)
            _, last = np.unique(labels[::-1], return_index=True)
            keep = total - 1 - last  # each cluster's last member
            others = np.setdiff1d(np.arange(total), keep)
            fill = self.rng.choice(others, size=self.capacity - len(keep), replace=False)
            kept = np.sort(np.concatenate([keep, fill]))
            self.states[agent], self.stored[agent] = points[kept], values[kept]
        self.candidate_count = 0
        self.clusterings += 1

    def _sklearn_metric(self) -> str:
        return {"l2": "euclidean", "l1": "manhattan", "cosine": "cosine"}[self.metric]

    def state_dict(self) -> dict:
        return {"states": self.states.copy(), "stored": self.stored.copy(), "candidates": self.candidates.copy(),
                "candidate_values": self.candidate_values.copy(), "count": self.count,
                "candidate_count": self.candidate_count, "clusterings": self.clusterings}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        for name in ("states", "stored", "candidates", "candidate_values"):
            getattr(self, name)[...] = np.asarray(state[name])
        self.count, self.candidate_count = int(state["count"]), int(state["candidate_count"])
        self.clusterings = int(state["clusterings"])


@numba.njit(cache=True)
def _delta_insert(entries, stored, kind, gap, age, clock, sizes, states, values, threshold, metric):
    """Insert one state per agent into its Delta-net (see `DeltaNetMemory.insert`)."""
    capacity = entries.shape[1]
    for a in range(entries.shape[0]):
        x = states[a]
        near_perm = np.inf
        which_perm = -1
        near_temp = np.inf
        which_temp = -1
        free = -1
        for m in range(capacity):
            if kind[a, m] == EMPTY:
                if free < 0:
                    free = m
                continue
            d = _distance(entries[a, m], x, metric)
            if kind[a, m] == PERMANENT:
                if d < near_perm:
                    near_perm = d
                    which_perm = m
            elif d < near_temp:
                near_temp = d
                which_temp = m
        if near_perm >= 2.0 * threshold:
            # a new permanent representative: the temporaries it covers go, the others measure
            # their distance to the permanents anew (it is placed whenever a temporary exists)
            for m in range(capacity):
                if kind[a, m] == TEMPORARY:
                    d = _distance(entries[a, m], x, metric)
                    if d <= threshold:
                        kind[a, m] = EMPTY
                        if free < 0 or m < free:
                            free = m
                    elif d < gap[a, m]:
                        gap[a, m] = d
            if free < 0:  # full: the oldest temporary makes room, if there is one
                oldest = np.iinfo(np.int64).max
                for m in range(capacity):
                    if kind[a, m] == TEMPORARY and age[a, m] < oldest:
                        oldest = age[a, m]
                        free = m
            if free >= 0:
                entries[a, free] = x
                stored[a, free] = values[a]
                kind[a, free] = PERMANENT
                gap[a, free] = 0.0
                age[a, free] = clock
        elif near_perm <= threshold:
            stored[a, which_perm] = values[a]  # a familiar state decided anew: refresh the experience
        elif which_temp >= 0 and near_temp <= threshold:
            if gap[a, which_temp] < near_perm:  # the temporary moves outward, away from the permanents
                entries[a, which_temp] = x
                gap[a, which_temp] = near_perm
                age[a, which_temp] = clock
            stored[a, which_temp] = values[a]
        elif free >= 0:
            entries[a, free] = x
            stored[a, free] = values[a]
            kind[a, free] = TEMPORARY
            gap[a, free] = near_perm
            age[a, free] = clock
        count = 0
        for m in range(capacity):
            if kind[a, m] != EMPTY:
                count = m + 1
        sizes[a] = count


@numba.njit(cache=True)
def _delta_nearest(entries, kind, sizes, states, threshold, metric, index, distance):
    """The permanent within threshold, else the nearest temporary within it, else the nearest."""
    for a in range(entries.shape[0]):
        best_perm = np.inf
        where_perm = -1
        best_temp = np.inf
        where_temp = -1
        for m in range(sizes[a]):
            if kind[a, m] == EMPTY:
                continue
            d = _distance(entries[a, m], states[a], metric)
            if kind[a, m] == PERMANENT:
                if d < best_perm:
                    best_perm = d
                    where_perm = m
            elif d < best_temp:
                best_temp = d
                where_temp = m
        if best_perm <= threshold or best_perm <= best_temp:
            index[a] = where_perm
            distance[a] = best_perm
        else:
            index[a] = where_temp
            distance[a] = best_temp


class DeltaNetMemory:
    """rlte's Delta-net memory of one level (module docstring; the paper's section 4.2.3).

    Args:
        num_agents: A.
        state_size: d.
        value_size: h.
        capacity: |M|, representatives (permanent and temporary) per agent.
        threshold: Delta.
        metric: one of `METRICS`.
    """

    def __init__(self, num_agents: int, state_size: int, value_size: int, capacity: int, threshold: float,
                 metric: str) -> None:  # fmt: skip
        if capacity < 1:
            raise RlteError(f"memory capacity {capacity!r}: must be >= 1")
        self.capacity, self.threshold, self.metric = int(capacity), float(threshold), metric
        self.code = metric_code(metric)
        self.entries = np.zeros((num_agents, self.capacity, state_size))
        self.stored = np.zeros((num_agents, self.capacity, value_size), dtype=np.float32)
        self.kind = np.zeros((num_agents, self.capacity), dtype=np.int8)
        self.gap = np.zeros((num_agents, self.capacity))
        self.age = np.zeros((num_agents, self.capacity), dtype=np.int64)
        self.sizes = np.zeros(num_agents, dtype=np.int64)
        self.clock = 0

    def size(self) -> int:
        """Representatives of the fullest agent."""
        return int((self.kind != EMPTY).sum(axis=1).max())

    def nearest(self, states: np.ndarray) -> Nearest:
        """Each agent's representative: the permanent within Delta, else the nearest temporary
        within Delta, else the nearest of all (then farther than Delta). Shapes: states [A, d]."""
        num_agents = self.entries.shape[0]
        index, distance = np.empty(num_agents, dtype=np.int64), np.empty(num_agents)
        _delta_nearest(self.entries, self.kind, self.sizes, np.asarray(states, dtype=np.float64), self.threshold,
                       self.code, index, distance)  # fmt: skip
        return Nearest(index, distance)

    def values(self, index: np.ndarray) -> np.ndarray:
        """The stored values at each agent's index. Shapes: index [A] -> [A, h]."""
        return self.stored[np.arange(len(index)), index]

    def insert(self, states: np.ndarray, values: np.ndarray) -> None:
        """Offer a state per agent to its net: a new permanent (2 Delta or more from every
        permanent), a refreshed value (within Delta of a permanent, or of a temporary that lies
        farther out), a temporary moved outward, or a new temporary. Shapes: states [A, d],
        values [A, h]."""
        self.clock += 1
        _delta_insert(self.entries, self.stored, self.kind, self.gap, self.age, self.clock, self.sizes,
                      np.asarray(states, dtype=np.float64), np.asarray(values, dtype=np.float32), self.threshold,
                      self.code)  # fmt: skip

    def representatives(self, agent: int, kind: int = PERMANENT) -> np.ndarray:
        """One agent's permanent (or temporary) representatives. Shape [R, d]."""
        return self.entries[agent][self.kind[agent] == kind]

    def state_dict(self) -> dict:
        return {"entries": self.entries.copy(), "stored": self.stored.copy(), "kind": self.kind.copy(),
                "gap": self.gap.copy(), "age": self.age.copy(), "sizes": self.sizes.copy(), "clock": self.clock}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        for name in ("entries", "stored", "kind", "gap", "age", "sizes"):
            getattr(self, name)[...] = np.asarray(state[name])
        self.clock = int(state["clock"])


# ---------------------------------------------------------------------- the control plane
class Decision(NamedTuple):
    """How one joint decision was taken."""

    rounds: int
    """Exchange rounds done (0 .. K): K when every level was unfamiliar."""
    values: np.ndarray
    """Each agent's readout input (a stored value on a hit, else the computed final state). Shape [A, h]."""
    hit: bool
    """Whether the experience layer decided (a familiar level)."""


class TwoLayerMemory:
    """The experience layer over K message-passing levels (module docstring).

    Args:
        num_agents: A.
        level_sizes: the state size compared at each level (level 0: the inputs). Shape [K].
        value_size: h, the readout's input size.
        capacity: |M| per level.
        threshold: Delta.
        metric: one of `METRICS`.
        representatives: ``clustering`` (`ClusteredMemory`) or ``delta_net`` (`DeltaNetMemory`).
        clustering: ``minibatch_kmeans`` or ``agglomerative`` (for ``clustering``).
        bypass: probability that a familiar state goes to the decision-making layer anyway.
        rng: the caller's generator (bypass draws, clustering seeds).
    """

    def __init__(self, num_agents: int, level_sizes: list[int], value_size: int, capacity: int, threshold: float,
                 metric: str, representatives: str, clustering: str, bypass: float,
                 rng: np.random.Generator) -> None:  # fmt: skip
        if representatives not in REPRESENTATIVES:
            raise RlteError(
                f"memory representatives {representatives!r}: unknown (choose from {', '.join(REPRESENTATIVES)})"
            )
        self.rng, self.bypass = rng, float(bypass)
        self.levels: list[LevelMemory] = [
            ClusteredMemory(num_agents, size, value_size, capacity, threshold, metric, clustering, rng)
            if representatives == "clustering"
            else DeltaNetMemory(num_agents, size, value_size, capacity, threshold, metric)
            for size in level_sizes
        ]

    def lookup(self, level_states: list[np.ndarray]) -> tuple[int, np.ndarray] | None:
        """The first familiar level and its stored values, without the bypass draw or any
        insertion (deterministic acting). None when no level is familiar."""
        for level, (memory, states) in enumerate(zip(self.levels, level_states)):
            if memory.size():
                found = memory.nearest(states)
                if bool(np.all(found.distance <= memory.threshold)):
                    return level, memory.values(found.index)
        return None

    def decide(self, level_states: list[np.ndarray], final: np.ndarray) -> Decision:
        """One joint decision, with experience updated.

        With probability ``bypass`` (one draw per decision) the decision goes to the
        decision-making layer whatever the memory holds. Otherwise, level by level, the agents'
        states are compared with that level's representatives; the first level where every agent
        is familiar decides with its stored values after that many rounds. The levels passed
        before then store their states with the values used.

        Args:
            level_states: each level's states (level 0: the inputs; level l: after l rounds).
                Shapes [A, d_l], K of them.
            final: the final hidden states the decision-making layer computed. Shape [A, h].

        Returns:
            The `Decision`.
        """
        if not (self.bypass > 0 and self.rng.random() < self.bypass):  # one draw per decision
            found = self.lookup(level_states)
            if found is not None:
                level, values = found[0], found[1].copy()
                for passed in range(level):
                    self.levels[passed].insert(level_states[passed], values)
                return Decision(level, values, True)
        for memory, states in zip(self.levels, level_states):
            memory.insert(states, final)
        return Decision(len(self.levels), np.asarray(final, dtype=np.float32), False)

    def sizes(self) -> list[int]:
        """Representatives at each level."""
        return [memory.size() for memory in self.levels]

    def state_dict(self) -> dict:
        return {f"level{i}": memory.state_dict() for i, memory in enumerate(self.levels)}

    def load_state_dict(self, state: dict) -> None:
        for i, memory in enumerate(self.levels):
            memory.load_state_dict(state[f"level{i}"])
