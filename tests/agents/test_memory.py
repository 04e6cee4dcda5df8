"""The two-layer control plane's memories (seed 002): the Delta-net keeps the spacing, covering and
look-up its docstring promises under every metric (a worked example in one dimension, then random
insertion sequences), the authors' clustered memory keeps every cluster and its state-value
pairs, and `TwoLayerMemory.decide` takes a familiar joint state from memory, an unfamiliar one
(or a bypassed one) to the decision-making layer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlte.agents.common.memory import (
    PERMANENT,
    TEMPORARY,
    ClusteredMemory,
    DeltaNetMemory,
    TwoLayerMemory,
)


def distance(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Distances between the rows of ``a`` and ``b`` (broadcast), written here from the metric
    definitions rather than taken from the module. Shapes [..., d] -> [...]."""
    if metric == "l2":
        return np.sqrt(((a - b) ** 2).sum(-1))
    if metric == "l1":
        return np.abs(a - b).sum(-1)
    dot, norms = (a * b).sum(-1), np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    return np.where(norms > 0, 1.0 - dot / np.where(norms > 0, norms, 1.0), 1.0)


def insert_one(memory, states, value: float) -> None:
    """Insert one joint state with the same scalar value for every agent."""
    states = np.asarray(states, dtype=np.float64)
    memory.insert(states, np.full((states.shape[0], 1), value, dtype=np.float32))


# ---------------------------------------------------------------------- the Delta-net by hand
def test_delta_net_worked_example_in_one_dimension():
    """Delta = 1 on a line (L2 = L1 there); each step is the rule of `DeltaNetMemory.insert`."""
    memory = DeltaNetMemory(1, 1, 1, 8, 1.0, "l2")

    def kinds():
        return (
            sorted(memory.representatives(0, PERMANENT).ravel().tolist()),
            sorted(memory.representatives(0, TEMPORARY).ravel().tolist()),
        )

    def look(x):
        found = memory.nearest(np.array([[x]]))
        return float(found.distance[0]), float(memory.values(found.index)[0, 0])

    insert_one(memory, [[0.0]], 1)  # nothing stored: 0 becomes permanent
    assert kinds() == ([0.0], [])
    insert_one(memory, [[1.5]], 2)  # 1.5 from the permanent, between Delta and 2 Delta: a temporary
    assert kinds() == ([0.0], [1.5])
    insert_one(memory, [[1.8]], 3)  # within Delta of the temporary and farther out: it moves to 1.8
    assert kinds() == ([0.0], [1.8])
    insert_one(memory, [[1.2]], 4)  # within Delta of the temporary but nearer in: it stays, takes the value
    assert kinds() == ([0.0], [1.8])
    assert look(1.3) == pytest.approx((0.5, 4.0))  # no permanent within Delta: the temporary answers
    insert_one(memory, [[0.5]], 5)  # within Delta of the permanent: its value is refreshed
    assert kinds() == ([0.0], [1.8])
    assert look(0.95) == pytest.approx((0.95, 5.0))  # the permanent within Delta beats the nearer temporary
    insert_one(memory, [[2.7]], 6)  # 2.7 >= 2 Delta from 0: permanent; it removes the temporary 0.9 away
    assert kinds() == ([0.0, 2.7], [])
    assert look(0.0) == (0.0, 5.0)
    assert look(2.7) == (0.0, 6.0)
    assert look(1.8) == pytest.approx((0.9, 6.0))
    assert look(5.0)[0] == pytest.approx(2.3)  # nothing within Delta: the nearest, farther than Delta


def test_a_temporary_moves_outward_from_a_permanent_added_after_it():
    """Delta = 1: the temporary 1.9 (1.9 from the permanent 0) has a permanent 3.05 added 1.15
    from it; 1.5 lies within Delta of it and farther from the permanents (1.5 > 1.15), so by the
    rule "a later state within Delta of a temporary that lies farther from the permanent ones
    replaces it" the temporary moves to 1.5."""
    memory = DeltaNetMemory(1, 1, 1, 8, 1.0, "l2")
    for value, x in enumerate((0.0, 1.9, 3.05)):
        insert_one(memory, [[x]], value)
    assert memory.representatives(0, TEMPORARY).ravel().tolist() == [1.9]
    insert_one(memory, [[1.5]], 3)
    assert memory.representatives(0, TEMPORARY).ravel().tolist() == [1.5]


# ---------------------------------------------------------------------- the Delta-net at random
THRESHOLDS = {"l2": (0.05, 0.1, 0.3), "l1": (0.05, 0.1, 0.3), "cosine": (0.01, 0.05, 0.2)}


@st.composite
def insertion_runs(draw):
    """A metric, its Delta and a sequence of joint states drawn around a few centres at a spread
    comparable to Delta, so that every branch of the insertion rule is taken."""
    metric = draw(st.sampled_from(sorted(THRESHOLDS)))
    threshold = draw(st.sampled_from(THRESHOLDS[metric]))
    agents, size = draw(st.integers(1, 3)), draw(st.integers(1 if metric != "cosine" else 2, 4))
    count, centres = draw(st.integers(1, 150)), draw(st.integers(1, 6))
    spread = draw(st.sampled_from((0.5, 1.0, 3.0)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    middle = rng.uniform(-1.0, 1.0, (agents, centres, size))
    which = rng.integers(centres, size=(count, agents))
    noise = rng.normal(scale=spread * threshold, size=(count, agents, size))
    states = middle[np.arange(agents), which] + noise
    return metric, threshold, states


@settings(max_examples=60, deadline=None)
@given(insertion_runs())
def test_delta_net_spacing_covering_and_lookup(run):
    """With room for every state (capacity = insertions), as `DeltaNetMemory` documents:

    - a state 2 Delta or more from every permanent becomes one, with its value; one within Delta
      of a permanent refreshes that permanent's value; right after its insertion a state is
      familiar (its look-up is within Delta);
    - permanents stay at least 2 Delta apart and never move; temporaries lie more than Delta from
      every permanent;
    - every state inserted lies within 2 Delta of some permanent (the net covers);
    - under L1 and L2 (triangle inequality) no state has two permanents within Delta;
    - looking up a permanent returns it (distance 0) and the value of the last state inserted
      within Delta of it; looking up a temporary returns it, with the value of a state inserted
      within Delta of it.
    """
    metric, delta, states = run
    count, agents, _ = states.shape
    memory = DeltaNetMemory(agents, states.shape[2], 1, count, delta, metric)
    expected = [dict() for _ in range(agents)]  # per agent: permanent (as a tuple) -> its value
    for i, joint in enumerate(states):
        before = [memory.representatives(a).copy() for a in range(agents)]
        insert_one(memory, joint, i)
        found = memory.nearest(joint)
        assert (found.distance <= delta).all(), f"insertion {i} is not familiar right after it"
        for a in range(agents):
            after = memory.representatives(a)
            near = distance(before[a], joint[a], metric) if len(before[a]) else np.full(1, np.inf)
            if near.min() >= 2 * delta:
                assert len(after) == len(before[a]) + 1 and np.equal(after, joint[a]).all(1).any()
                expected[a][tuple(joint[a])] = i
            else:
                np.testing.assert_array_equal(after, before[a])
                if near.min() <= delta:
                    expected[a][tuple(before[a][near.argmin()])] = i
    for a in range(agents):
        permanents = memory.representatives(a, PERMANENT)
        temporaries = memory.representatives(a, TEMPORARY)
        assert {tuple(p) for p in permanents} == set(expected[a])
        gaps = distance(permanents[:, None], permanents[None], metric)
        np.fill_diagonal(gaps, np.inf)
        assert gaps.min() >= 2 * delta
        if len(temporaries):
            assert distance(temporaries[:, None], permanents[None], metric).min() > delta
        reach = distance(states[:, a, None], permanents[None], metric)  # [count, permanents]
        assert (reach.min(axis=1) < 2 * delta).all()
        if metric != "cosine":
            assert ((reach <= delta).sum(axis=1) <= 1).all()
        for kind, stored in ((PERMANENT, permanents), (TEMPORARY, temporaries)):
            for entry in stored:
                queries = states[0].copy()
                queries[a] = entry
                found = memory.nearest(queries)
                assert found.distance[a] == pytest.approx(0.0, abs=1e-12)
                value = int(memory.values(found.index)[a, 0])
                if kind == PERMANENT:
                    assert value == expected[a][tuple(entry)]
                else:
                    assert distance(states[value, a], entry, metric) <= delta


# ---------------------------------------------------------------------- the clustered memory
@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_clustering_keeps_a_member_of_every_cluster_with_its_value(metric):
    """Capacity 8 (a candidate buffer of 2 x 8 // 4 = 4): 8 tight groups far apart, 12 states
    stored, the 13th starts a clustering into 8 clusters. Average-linkage finds the 8 groups, so
    one member of each is kept: every group's centre is familiar afterwards, and every kept state
    still carries its own value."""
    rng = np.random.default_rng(0)
    centres = np.arange(8.0)[:, None] * np.array([[10.0, -7.0]])  # 8 groups, >= 12 apart
    groups = np.r_[np.arange(8), np.arange(4), 7]  # the first 8 fill the memory, 4 candidates, 1 more
    states = centres[groups] + rng.normal(scale=0.01, size=(len(groups), 2))
    memory = ClusteredMemory(1, 2, 1, 8, 0.2, metric, "agglomerative", rng)
    for i, state in enumerate(states):
        insert_one(memory, state[None], i)
        if i == 8:  # the 9th went to the candidates, which are not searched
            assert memory.nearest(state[None]).distance[0] > 0.0
    assert (memory.clusterings, memory.size(), memory.candidate_count) == (1, 8, 1)
    kept = memory.stored[0, :, 0].astype(int)
    np.testing.assert_array_equal(memory.states[0], states[kept])
    assert len(set(kept.tolist())) == 8
    for centre in centres:
        assert memory.nearest(centre[None]).distance[0] <= 0.2


def test_minibatch_kmeans_fits_once_then_takes_one_step_per_clustering(monkeypatch):
    """The authors' rule: a memory's first MiniBatchKMeans clustering is a full fit, every later
    one a single partial_fit of a fresh model. Capacity 8 (a buffer of 2 x 8 // 4 = 4): 8 stored,
    then a clustering at the 13th, 17th and 21st insertion; after each the memory still holds 8
    of the states inserted before, each with its own value."""
    from sklearn.cluster import MiniBatchKMeans

    calls = []
    fit, partial_fit = MiniBatchKMeans.fit, MiniBatchKMeans.partial_fit
    monkeypatch.setattr(
        MiniBatchKMeans, "fit", lambda self, *a, **k: calls.append("fit") or fit(self, *a, **k)
    )
    monkeypatch.setattr(MiniBatchKMeans, "partial_fit",
                        lambda self, *a, **k: calls.append("partial_fit") or partial_fit(self, *a, **k))  # fmt: skip
    rng = np.random.default_rng(3)
    states = rng.normal(size=(21, 2))
    memory = ClusteredMemory(1, 2, 1, 8, 0.1, "l2", "minibatch_kmeans", rng)
    for i, state in enumerate(states):
        insert_one(memory, state[None], i)
        if i in (12, 16, 20):
            kept = memory.stored[0, :, 0].astype(int)
            assert len(set(kept.tolist())) == 8 and kept.max() < i
            np.testing.assert_array_equal(memory.states[0], states[kept])
    assert memory.clusterings == 3
    assert calls == ["fit", "partial_fit", "partial_fit"]


# ---------------------------------------------------------------------- the control plane
LEVELS = [2, 4]  # level 0: the inputs (2 features); level 1: the hidden states after one round
VALUES = 4


def control_plane(representatives: str, metric: str, bypass: float = 0.0, levels=LEVELS) -> TwoLayerMemory:
    clustering = "minibatch_kmeans" if metric == "l2" else "agglomerative"
    return TwoLayerMemory(3, levels, VALUES, 16, 0.05, metric, representatives, clustering, bypass,
                          np.random.default_rng(0))  # fmt: skip


def joint_states(rng: np.random.Generator, levels=LEVELS) -> list[np.ndarray]:
    """One state per level for 3 agents, away from the origin (cosine needs a direction)."""
    return [rng.uniform(0.5, 1.0, (3, size)) for size in levels]


KINDS = [(kind, metric) for kind in ("delta_net", "clustering") for metric in ("l2", "l1", "cosine")]


@pytest.mark.parametrize(("representatives", "metric"), KINDS)
def test_a_stored_state_is_familiar_and_returns_its_values(representatives, metric):
    """Stored after an exchange, the same joint state is decided at level 0 by the stored final
    states, whatever final states the decision layer would compute now."""
    rng = np.random.default_rng(1)
    memory = control_plane(representatives, metric)
    states, final = joint_states(rng), rng.random((3, VALUES)).astype(np.float32)
    assert memory.lookup(states) is None
    first = memory.decide(states, final)
    assert (first.rounds, first.hit) == (2, False)
    np.testing.assert_array_equal(first.values, final)
    assert memory.sizes() == [1, 1]
    again = memory.decide(states, np.zeros((3, VALUES), np.float32))
    assert (again.rounds, again.hit) == (0, True)
    np.testing.assert_array_equal(again.values, final)
    found = memory.lookup(states)
    assert found is not None and found[0] == 0
    np.testing.assert_array_equal(found[1], final)


@pytest.mark.parametrize(("representatives", "metric"), KINDS)
def test_a_state_far_from_every_representative_is_exchanged_for(representatives, metric):
    """Far at every level (L1 / L2: shifted by 10; cosine: pointing the other way), the state
    goes through both rounds, takes the computed final states and is stored; `lookup` finds
    nothing and stores nothing."""
    rng = np.random.default_rng(2)
    memory = control_plane(representatives, metric)
    states = joint_states(rng)
    memory.decide(states, rng.random((3, VALUES)).astype(np.float32))
    far = [-level for level in states] if metric == "cosine" else [level + 10.0 for level in states]
    assert memory.lookup(far) is None and memory.sizes() == [1, 1]
    final = rng.random((3, VALUES)).astype(np.float32)
    decision = memory.decide(far, final)
    assert (decision.rounds, decision.hit) == (2, False)
    np.testing.assert_array_equal(decision.values, final)
    assert memory.sizes() == [2, 2]


@pytest.mark.parametrize("representatives", ["delta_net", "clustering"])
def test_one_unfamiliar_agent_sends_every_agent_to_exchange(representatives):
    """Synchronous switching: agents 0 and 1 are familiar at both levels, agent 2 at neither, so
    all three use the computed final states after both rounds."""
    rng = np.random.default_rng(3)
    memory = control_plane(representatives, "l2")
    states = joint_states(rng)
    memory.decide(states, rng.random((3, VALUES)).astype(np.float32))
    mixed = [level.copy() for level in states]
    for level in mixed:
        level[2] += 10.0
    final = rng.random((3, VALUES)).astype(np.float32)
    decision = memory.decide(mixed, final)
    assert (decision.rounds, decision.hit) == (2, False)
    np.testing.assert_array_equal(decision.values, final)


@pytest.mark.parametrize("representatives", ["delta_net", "clustering"])
def test_a_level_one_hit_stops_after_one_round_and_teaches_level_zero(representatives):
    """Inputs unfamiliar but the states after round 1 familiar: decided after 1 round by level 1's
    stored values, which level 0 then stores with the new inputs, so those inputs are decided at
    level 0 next time."""
    rng = np.random.default_rng(4)
    memory = control_plane(representatives, "l2")
    states, stored = joint_states(rng), rng.random((3, VALUES)).astype(np.float32)
    memory.decide(states, stored)
    new_inputs = [states[0] + 10.0, states[1]]
    decision = memory.decide(new_inputs, np.zeros((3, VALUES), np.float32))
    assert (decision.rounds, decision.hit) == (1, True)
    np.testing.assert_array_equal(decision.values, stored)
    assert memory.sizes() == [2, 1]
    later = memory.decide([new_inputs[0], states[1] + 10.0], np.zeros((3, VALUES), np.float32))
    assert (later.rounds, later.hit) == (0, True)
    np.testing.assert_array_equal(later.values, stored)


@pytest.mark.parametrize("representatives", ["delta_net", "clustering"])
def test_bypass_one_always_goes_to_the_decision_layer(representatives):
    """With bypass 1 a familiar state is exchanged for every time (all rounds, the computed final
    states); deterministic `lookup` draws no bypass and still finds it."""
    rng = np.random.default_rng(5)
    memory = control_plane(representatives, "l2", bypass=1.0)
    states = joint_states(rng)
    first = rng.random((3, VALUES)).astype(np.float32)
    memory.decide(states, first)
    for _ in range(5):
        final = rng.random((3, VALUES)).astype(np.float32)
        decision = memory.decide(states, final)
        assert (decision.rounds, decision.hit) == (2, False)
        np.testing.assert_array_equal(decision.values, final)
    assert memory.lookup(states) is not None


def test_bypass_half_sends_about_half_the_familiar_states_on():
    """One level, bypass 0.5: of 400 decisions of a stored state about half are taken by the
    memory (binomial: 200 +- 10 standard deviation; the bounds are 6 of them)."""
    rng = np.random.default_rng(6)
    memory = control_plane("delta_net", "l2", bypass=0.5, levels=[2])
    states = joint_states(rng, levels=[2])
    memory.decide(states, rng.random((3, VALUES)).astype(np.float32))
    hits = sum(memory.decide(states, np.zeros((3, VALUES), np.float32)).hit for _ in range(400))
    assert 140 <= hits <= 260
