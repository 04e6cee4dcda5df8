"""``rlte/PacketRouting-v0``: the PettingZoo API checker, determinism, exact get_state / set_state,
agreement with the compiled Q-routing loop, observations and options."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from rlte.agents.qrouting import QRouter
from rlte.envs.packet import PacketRoutingOptions, PacketRoutingParallelEnv
from rlte.errors import RlteError
from rlte.sim.packet import LoadSchedule, PacketSimOptions, PacketSimulator, seed_streams

SMALL = {"topology": "grid6x6", "load": 2.0, "duration": 60.0}


def _rollout(env, seed: int, steps: int, restore: dict | None = None) -> list:
    """Observations, rewards and infos of ``steps`` steps (actions from the seeded action spaces)."""
    if restore is None:
        observations, infos = env.reset(seed=seed)
        trace = [copy.deepcopy((observations, infos))]
    else:
        env.set_state(restore)
        trace = []
    for _ in range(steps):
        if not env.agents:
            break
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        trace.append(copy.deepcopy(env.step(actions)))
    return trace


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return a == b


def test_passes_the_pettingzoo_parallel_api_test():
    parallel_api_test(PacketRoutingParallelEnv(**SMALL), num_cycles=300)


def test_same_seed_same_rollout_other_seed_differs():
    first = _rollout(PacketRoutingParallelEnv(**SMALL), 3, 150)
    second = _rollout(PacketRoutingParallelEnv(**SMALL), 3, 150)
    other = _rollout(PacketRoutingParallelEnv(**SMALL), 4, 150)
    assert _equal(first, second)
    assert not _equal(first, other)


def test_get_state_then_set_state_resumes_exactly():
    env = PacketRoutingParallelEnv(**SMALL)
    _rollout(env, 11, 70)
    state = copy.deepcopy(env.get_state())
    expected = _rollout(env, 11, 60, restore=state)
    fresh = PacketRoutingParallelEnv(**SMALL)
    fresh.reset(seed=99)
    assert _equal(_rollout(fresh, 0, 60, restore=copy.deepcopy(state)), expected)


def test_a_q_router_stepping_the_env_equals_the_compiled_loop():
    """off_greedy driven decision by decision through the env (its policy stream seeded like
    run_experiment's) delivers every packet at exactly the time the compiled loop does."""
    seed, duration = 5, 250.0
    env = PacketRoutingParallelEnv(topology="grid6x6", load=2.0, duration=duration, record_packets=100_000)
    observations, infos = env.reset(seed=seed)
    router = QRouter(env.network, "off_greedy", seed_streams(seed)[1])
    steps = 0
    while env.agents:
        acting = next(agent for agent in env.agents if infos[agent]["acting"])
        node = env.possible_agents.index(acting)
        assert (
            observations[acting][0] == 1.0 and observations[acting][2 + infos[acting]["destination"]] == 1.0
        )
        actions = {agent: 0 for agent in env.agents}
        actions[acting] = router.act(node, infos[acting]["destination"])
        observations, rewards, _, _, infos = env.step(actions)
        done = infos.get(acting, {})
        if done.get("sent"):
            router.sent(done["acted_packet"], node, done["slot"], done["acted_destination"], done["hop_start"],
                        done["arrival"], done["hops"])  # fmt: skip
            assert rewards[acting] == -(done["arrival"] - done["hop_start"]) < 0
        steps += 1
    compiled = PacketSimulator(
        env.network, LoadSchedule.fixed(2.0, duration), PacketSimOptions(record_packets=100_000)
    )
    traffic, policy = seed_streams(seed)
    compiled.reset(traffic)
    compiled_router = QRouter(env.network, "off_greedy", policy)
    compiled_router.run(compiled)
    assert steps == compiled.counts().hops + compiled.counts().blocked > 1000
    assert np.array_equal(env.sim.packets().delay, compiled.packets().delay)
    assert np.array_equal(router.q, compiled_router.q)


def test_observations_masks_and_metrics():
    env = PacketRoutingParallelEnv(**SMALL)
    observations, infos = env.reset(seed=0)
    n, degree = env.network.num_nodes, env.max_degree
    assert env.observation_space(env.agents[0]).shape == (2 + n + degree,)
    acting = [agent for agent in env.agents if infos[agent]["acting"]]
    assert len(acting) == 1 and sum(obs[0] for obs in observations.values()) == 1.0
    for i, agent in enumerate(env.possible_agents):
        assert infos[agent]["action_mask"].sum() == env.network.degree[i]
        assert set(infos[agent]) >= set(env.METRICS)
    # an index beyond a router's out-degree wraps around: every action is valid
    node = env.possible_agents.index(acting[0])
    _, _, _, _, infos = env.step({agent: degree - 1 for agent in env.agents})
    assert infos[acting[0]]["slot"] == env.network.out_ptr[node] + (degree - 1) % env.network.degree[node]
    while env.agents:
        _, _, terminations, truncations, infos = env.step({agent: 0 for agent in env.agents})
    assert not any(terminations.values()) and all(truncations.values())
    last = next(iter(infos.values()))
    assert last["delivered"] > 0 and last["e2e_delay"] > 0
    with pytest.raises(RlteError, match=r"^rlte/PacketRouting-v0: step\(\) called on a finished episode"):
        env.step({})


def test_options_are_checked_in_one_line():
    assert PacketRoutingOptions().topology == "grid6x6"
    with pytest.raises(RlteError, match=r"^rlte/PacketRouting-v0: load -1\.0: must be >= 0$"):
        PacketRoutingParallelEnv(load=-1.0)
    with pytest.raises(
        RlteError,
        match=r"^rlte/PacketRouting-v0: schedule 'ramp': must be one of 'fixed', 'seed004_low_to_high', 'seed004_high'$",
    ):
        PacketRoutingParallelEnv(schedule="ramp")
    with pytest.raises(RlteError, match=r"^rlte/PacketRouting-v0: queue_limit 0: must be >= 1$"):
        PacketRoutingParallelEnv(queue_limit=0)
    env = PacketRoutingParallelEnv(schedule="seed004_high")
    assert env.sim.horizon == 100_000.0
