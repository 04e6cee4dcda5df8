"""The rlte environment contract on every registered id: same seed same rollout (env to env),
exact ``get_state`` / ``set_state``, options classes that check every value, graphs."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from rlte.envs import ENVS, make, options_class
from rlte.envs.contract import GraphObservation, env_state, restore_env_state
from rlte.errors import RlteError

SMALL = {"topology": "nsfnet14", "traffic": "diurnal:gravity:1e9", "with_optimal": False}

#: Small options of each registered id (every id must be listed: see the last test).
CASES = {
    "rlte/TE-v0": [{**SMALL, "episode_length": 5}, {**SMALL, "episode_length": 5, "action_type": "path"}],
    "rlte/TE-MA-v0": [{**SMALL, "episode_length": 5, "neighbours": True}],
    "rlte/LinkWeight-MA-v0": [{"horizons": 5}, {"horizons": 5, "mode": "sequential"}],
    "rlte/MAROH-MA-v0": [
        {"horizons": 5},
        {"horizons": 5, "topology": "maroh/abilene", "flows": "flows60", "normalize": False},
    ],
    "rlte/PacketRouting-v0": [
        {"load": 2.0, "duration": 60.0},
        {"load": 0.5, "duration": 40.0, "delivery": "handoff"},
    ],
    "rlte/Cluster-v0": [{"bins": 3}, {"bins": 3, "action_type": "discrete", "observe": "summary"}],
    "rlte/STRL-v0": [
        {"episode_length": 5, "substeps": 4, "warmup_hours": 24},
        {"part": "test", "window": 4, "warmup_hours": 4, "substeps": 4, "extra_links": [[4, 13], [6, 13]]},
    ],
}

PARAMS = [(env_id, options) for env_id, cases in CASES.items() for options in cases]


def _act(env, step: int):
    """A reproducible action (from the action spaces, which the env seeds or the test does)."""
    if hasattr(env, "possible_agents"):
        return {agent: env.action_space(agent).sample() for agent in env.agents}
    return env.action_space.sample()


def _run(env, steps: int, seed: int | None = None, restart: bool = True) -> list:
    """Step ``steps`` times (resetting at episode ends); the trace of observations, rewards and infos."""
    trace = []
    if seed is not None:
        observations, _ = env.reset(seed=seed)
        if not hasattr(env, "possible_agents"):
            env.action_space.seed(seed)
        trace.append(copy.deepcopy(observations))
    for step in range(steps):
        observations, rewards, _, truncations, infos = env.step(_act(env, step))
        trace.append(copy.deepcopy((observations, rewards, infos)))
        done = all(truncations.values()) if isinstance(truncations, dict) else truncations
        if done and restart:
            trace.append(copy.deepcopy(env.reset()[0]))
    return trace


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize(("env_id", "options"), PARAMS)
def test_same_seed_same_rollout(env_id, options):
    first = _run(make(env_id, **options), 12, seed=3)
    second = _run(make(env_id, **options), 12, seed=3)
    assert _equal(first, second)
    other = _run(make(env_id, **options), 12, seed=4)
    assert not _equal(first, other)


@pytest.mark.parametrize(("env_id", "options"), PARAMS)
def test_get_state_then_set_state_resumes_exactly(env_id, options):
    """Run 7 steps, snapshot, run 8 more; a fresh env, reset with another seed and given the
    snapshot (and the action space's generator, which belongs to the caller for Gymnasium envs),
    runs the same 8 steps."""
    env = make(env_id, **options)
    _run(env, 7, seed=11)
    state = env_state(env)
    spaces = None if hasattr(env, "possible_agents") else copy.deepcopy(env.action_space.np_random)
    expected = _run(env, 8)
    fresh = make(env_id, **options)
    fresh.reset(seed=99)  # Gymnasium's wrappers want a reset before any step; the state overrides it
    restore_env_state(fresh, copy.deepcopy(state))
    if spaces is not None:
        fresh.action_space._np_random = spaces
    assert _equal(_run(fresh, 8), expected)


@pytest.mark.parametrize("env_id", list(ENVS))
def test_every_id_has_cases_and_an_options_class(env_id):
    assert env_id in CASES
    options = options_class(env_id)
    assert options.keys() and all(isinstance(key, str) for key in options.keys())
    env = make(env_id, **CASES[env_id][0])
    assert isinstance(getattr(env, "unwrapped", env).options, options)


@pytest.mark.parametrize("env_id", list(ENVS))
def test_unknown_and_bad_options_are_refused_naming_the_id(env_id):
    with pytest.raises(RlteError, match=rf"^{env_id}: unknown (environment )?option 'no_such_option'"):
        make(env_id, no_such_option=1)
    first_int = next(
        (key for key, kind in options_class(env_id)._hints().items() if kind is int), None
    )  # every id has an integer option; a list is never an integer
    assert first_int is not None
    with pytest.raises(RlteError, match=rf"^{env_id}: {first_int} \[1, 2\]: must be an integer"):
        make(env_id, **{**CASES[env_id][0], first_int: [1, 2]})


@pytest.mark.parametrize(("env_id", "options"), PARAMS)
def test_graph_has_documented_shapes(env_id, options):
    env = make(env_id, **options)
    env.reset(seed=0)
    graph = getattr(env, "unwrapped", env).graph()
    assert isinstance(graph, GraphObservation)
    n, m = graph.node_features.shape[-2], graph.edge_index.shape[1]
    assert graph.edge_index.shape == (2, m) and graph.edge_index.dtype == np.int64
    assert graph.edge_index.min() >= 0 and graph.edge_index.max() < n
    assert graph.node_features.shape[-1] == len(graph.node_feature_names)
    if graph.edge_features is not None:
        assert graph.edge_features.shape[-2:] == (m, len(graph.edge_feature_names))


def test_link_weight_options_keep_its_own_default_scenario():
    """Passing a scenario option with its default value does not swap the static flow set for
    another scenario (a bug of the first version)."""
    bare = make("rlte/LinkWeight-MA-v0")
    explicit = make("rlte/LinkWeight-MA-v0", load=0.6)
    assert bare.scenario.config == explicit.scenario.config
    assert len(bare.matrices) == 1


@pytest.mark.parametrize("env_id", list(CASES))
def test_the_library_checkers_pass(env_id):
    """Gymnasium's env checker or PettingZoo's parallel API test, on each id's first small options."""
    env = make(env_id, **CASES[env_id][0])
    if ENVS[env_id].kind == "gym":
        from gymnasium.utils.env_checker import check_env

        check_env(getattr(env, "unwrapped", env), skip_render_check=True)
    else:
        from pettingzoo.test import parallel_api_test

        parallel_api_test(env, num_cycles=30)
