"""Multi-agent DQN: the per-demand Double-DQN target against a hand computation, valid path slots
only, the choice encoding, the replay buffer, learning a diamond to its best single-path routing,
determinism, exact resume and parameter errors."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from instances import DIAMOND, KITE, kite_env, static_diamond, write_topology

from rlte.agents.common.replay import ReplayBatch, ReplayBuffer
from rlte.agents.dqn import (
    LOG_COLUMNS,
    DQNAgent,
    DQNConfig,
    chosen_share,
    encode_choices,
    greedy_slots,
    linear_epsilon,
    random_slots,
)
from rlte.envs import make_parallel
from rlte.envs.core import masked_softmax
from rlte.errors import RlteError

torch.set_num_threads(1)


# ---------------------------------------------------------------------- instances
@pytest.fixture(scope="module")
def diamond(tmp_path_factory) -> str:
    return write_topology(tmp_path_factory, "diamond", DIAMOND)


@pytest.fixture(scope="module")
def kite(tmp_path_factory) -> str:
    return write_topology(tmp_path_factory, "kite", KITE)


SMALL = {
    "buffer_size": 100,
    "learning_starts": 32,
    "batch_size": 16,
    "train_frequency": 2,
    "target_update_interval": 50,
    "exploration_steps": 200,
    "hidden_sizes": (16,),
    "log_interval": 64,
}


# ---------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"learnig_rate": 1e-3}, "learnig_rate"),
        ({"buffer_size": 0}, "buffer_size"),
        ({"batch_size": 32.0}, "batch_size"),
        ({"epsilon_end": 1.5}, "epsilon_end"),
        ({"gamma": -0.1}, "gamma"),
        ({"double_q": 1}, "double_q"),
        ({"learning_starts": -1}, "learning_starts"),
        ({"target_update_interval": 0}, "target_update_interval"),
        ({"hidden_sizes": "64"}, "hidden_sizes"),
    ],
)
def test_bad_parameters_are_errors_naming_them(params, named):
    with pytest.raises(RlteError, match=named):
        DQNAgent(params)
    with pytest.raises(RlteError, match=rf"^cell 3: (unknown parameter '{named}'|{named} )"):
        DQNConfig.parse(params, "cell 3")


def test_describe_names_the_algorithm_and_every_parameter():
    described = DQNAgent({"hidden_sizes": [8]}, seed=2).describe()
    assert described["algorithm"] == "DQN" and described["seed"] == 2 and described["hidden_sizes"] == (8,)
    assert described["double_q"] is True and described["train_frequency"] == 4


# ---------------------------------------------------------------------- choices
def test_linear_epsilon():
    assert linear_epsilon(0, 1.0, 0.05, 100) == 1.0
    assert linear_epsilon(50, 1.0, 0.05, 100) == pytest.approx(0.525)
    assert linear_epsilon(100, 1.0, 0.05, 100) == pytest.approx(0.05)
    assert linear_epsilon(10**6, 1.0, 0.05, 100) == pytest.approx(0.05)


@st.composite
def masks_and_values(draw):
    demands, k = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    mask = draw(hnp.arrays(np.bool_, (demands, k)))
    mask[np.arange(demands), draw(hnp.arrays(np.int64, demands, elements=st.integers(0, k - 1)))] = True
    values = draw(hnp.arrays(np.float32, (demands, k), elements=st.floats(-1e6, 1e6, width=32)))
    uniforms = draw(hnp.arrays(np.float64, demands, elements=st.floats(0.0, 1.0, exclude_max=True)))
    return mask, values, uniforms


@settings(max_examples=300, deadline=None)
@given(masks_and_values())
def test_greedy_and_random_slots_are_always_valid(case):
    """Whatever the Q-values (an invalid slot may hold the largest) and the draws, a chosen slot is
    valid; the greedy one is the best valid slot."""
    mask, values, uniforms = case
    greedy = greedy_slots(torch.from_numpy(values), torch.from_numpy(mask)).numpy()
    rows = np.arange(len(mask))
    assert mask[rows, greedy].all()
    assert np.array_equal(values[rows, greedy], np.where(mask, values, -np.inf).max(axis=1))
    assert mask[rows, random_slots(mask, uniforms)].all()


def test_random_slots_are_uniform_over_the_valid_ones():
    mask = np.array([[True, False, True, True], [False, False, True, False]])
    draws = (np.arange(300) + 0.5) / 300  # evenly spread: each valid slot gets an equal share
    counts = [np.bincount(random_slots(np.broadcast_to(row, (300, 4)), draws), minlength=4) for row in mask]
    assert counts[0].tolist() == [100, 0, 100, 100] and counts[1].tolist() == [0, 0, 300, 0]


def test_a_choice_puts_the_documented_share_on_its_path(kite):
    """``+1`` in the chosen slot, ``-1`` elsewhere, times logit_scale 3, softmaxed over the valid
    slots: the chosen path carries ``1 / (1 + (V - 1) e^-6)`` (99.75 % for 2 valid slots, 99.26 %
    for 4), and the logits lie in the action space."""
    env = kite_env(kite)
    env.reset(seed=0)
    mask, k = env.core.mask, env.core.k_slots
    slots = random_slots(mask, np.random.default_rng(0).random(len(mask)))
    logits = encode_choices(slots, k, -1.0, 1.0)
    assert logits.shape == (len(mask) * k,) and logits.dtype == np.float32
    assert env.action_space(env.possible_agents[0]).contains(logits[: 4 * k])
    splits = masked_softmax(logits.reshape(-1, k).astype(np.float64) * env.logit_scale, mask)
    share = splits[np.arange(len(mask)), slots]
    valid = mask.sum(axis=1)
    np.testing.assert_allclose(share, [chosen_share(env.logit_scale, v) for v in valid], rtol=1e-12)
    assert chosen_share(3.0, 2) == pytest.approx(0.99752, abs=1e-5)
    assert chosen_share(3.0, 4) == pytest.approx(0.99262, abs=1e-5)
    assert share[valid == 1].tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------- the replay buffer
def test_replay_buffer_is_a_ring_and_round_trips():
    buffer = ReplayBuffer(3, (2, 1), (2, 1))
    for t in range(5):
        buffer.add(np.full((2, 1), t), np.full((2, 1), t), float(t), np.full((2, 1), t + 1), t == 4)
    assert len(buffer) == 3 and buffer.position == 2
    assert sorted(buffer.rewards.tolist()) == [2.0, 3.0, 4.0]  # the two oldest were overwritten
    copy = ReplayBuffer(3, (2, 1), (2, 1))
    copy.load_state_dict(buffer.state_dict())
    batches = [b.sample(8, np.random.default_rng(1)) for b in (buffer, copy)]
    assert all(torch.equal(x, y) for x, y in zip(*batches))
    batch = batches[0]
    assert batch.actions.dtype == torch.int64 and batch.observations.shape == (8, 2, 1)
    assert torch.equal(batch.next_observations, batch.observations + 1)
    assert torch.equal(batch.terminated, (batch.rewards == 4).float())


# ---------------------------------------------------------------------- the target
def _huber(x: float) -> float:
    return 0.5 * x * x if abs(x) < 1 else abs(x) - 0.5


@pytest.mark.parametrize("double_q", [True, False])
def test_loss_is_the_per_demand_double_dqn_target_computed_by_hand(kite, double_q):
    """``y = r + gamma (1 - term) Q_target(o', i)[j, argmax_{valid k} Q_picker(o', i)[j, k]]`` per
    transition, agent i and demand j, the picker the online network (Double DQN) or the target
    network; loss the mean Huber error of the chosen slots. The last slot's output bias is raised,
    so an argmax that ignored the mask would pick invalid slots."""
    env = kite_env(kite)
    agent = DQNAgent({"gamma": 0.7, "hidden_sizes": (8,), "double_q": double_q}, seed=1)
    agent._build(env)
    with torch.no_grad():
        agent.target_network.body[-1].weight.mul_(1.5)  # a target network that differs from the online one
        for network in (agent.q_network, agent.target_network):
            network.body[-1].bias.view(agent.demands_per_agent, agent.k_slots)[:, -1] += 3.0
    rng = np.random.default_rng(0)
    size, num_agents = 5, len(agent.agent_names)
    observation_size = env.observation_space(agent.agent_names[0]).shape[0]
    mask = agent.mask
    batch = ReplayBatch(
        torch.from_numpy(rng.random((size, num_agents, observation_size), dtype=np.float32)),
        torch.from_numpy(
            random_slots(np.broadcast_to(mask, (size, *mask.shape)), rng.random((size, *mask.shape[:2])))
        ),
        torch.from_numpy(-rng.random(size, dtype=np.float32)),
        torch.from_numpy(rng.random((size, num_agents, observation_size), dtype=np.float32)),
        torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0]),
    )
    picked_invalid = False
    errors = []
    with torch.no_grad():
        for b, i in itertools.product(range(size), range(num_agents)):
            agent_id = torch.tensor(i)
            q = agent.q_network(batch.observations[b, i], agent_id).numpy()
            next_online = agent.q_network(batch.next_observations[b, i], agent_id).numpy()
            next_target = agent.target_network(batch.next_observations[b, i], agent_id).numpy()
            picker = next_online if double_q else next_target
            for j in range(agent.demands_per_agent):
                valid = [k for k in range(agent.k_slots) if mask[i, j, k]]
                best = max(valid, key=lambda k: picker[j, k])
                picked_invalid |= int(np.argmax(picker[j])) not in valid
                target = (
                    float(batch.rewards[b]) + 0.7 * (1 - float(batch.terminated[b])) * next_target[j, best]
                )
                errors.append(_huber(q[j, int(batch.actions[b, i, j])] - target))
    assert picked_invalid  # the mask mattered
    stats = agent._learn(batch)
    assert stats.loss == pytest.approx(float(np.mean(errors)), rel=1e-5)
    assert agent.gradient_steps == 1


# ---------------------------------------------------------------------- the agent
def test_never_picks_an_invalid_slot(kite):
    """Exploring and greedy: every stored choice and every greedy action of every agent uses a valid
    slot, and exploration tried every valid slot of every demand."""
    agent = DQNAgent({**SMALL, "buffer_size": 400, "exploration_steps": 400}, seed=0)
    agent.train(lambda: kite_env(kite), 400)
    mask = agent.mask  # [N, M, K]
    stored = agent.buffer.actions[: len(agent.buffer)].astype(np.int64)  # [T, N, M]
    n, m = np.meshgrid(np.arange(mask.shape[0]), np.arange(mask.shape[1]), indexing="ij")
    assert mask[n, m, stored].all()
    tried = np.zeros_like(mask)
    tried[n, m, stored] = True
    assert np.array_equal(tried, mask)
    env = kite_env(kite)
    observations, _ = env.reset(seed=0)
    for _ in range(4):
        actions = agent.act(observations)
        for u, name in enumerate(env.possible_agents):
            logits = actions[name].reshape(mask.shape[1], mask.shape[2])
            assert (logits == 1.0).sum(axis=1).tolist() == [1] * mask.shape[1]
            assert mask[u][logits == 1.0].all()
        observations, *_ = env.step(actions)


def test_smoke_on_the_default_environment(tmp_path):
    """A few hundred steps on the default ``rlte/TE-MA-v0`` (Abilene, synthetic week): the log has its
    columns, every agent gets a valid, deterministic action."""
    log = tmp_path / "log.csv"
    params = {"buffer_size": 256, "learning_starts": 64, "log_interval": 64, "exploration_steps": 128}
    agent = DQNAgent(params, seed=0)
    make_env = lambda: make_parallel("rlte/TE-MA-v0", with_optimal=False, episode_length=32)  # noqa: E731
    assert agent.train(make_env, 200, learning_log=log) == 200
    rows = list(csv.DictReader(log.open()))
    assert tuple(rows[0]) == LOG_COLUMNS and [int(row["timesteps"]) for row in rows] == [64, 128, 192, 200]
    assert rows[0]["loss"] == "" and float(rows[-1]["loss"]) >= 0 and int(rows[-1]["gradient_steps"]) == 34
    assert float(rows[-1]["epsilon"]) == pytest.approx(0.05)
    env = make_env()
    observations, _ = env.reset(seed=3)
    actions = agent.act(observations)
    assert set(actions) == set(env.possible_agents)
    assert all(env.action_space(a).contains(action) for a, action in actions.items())
    again = agent.act(observations)
    assert all(np.array_equal(actions[a], again[a]) for a in actions)


def _best_single_path_mlu(env) -> float:
    """The lowest MLU of any routing that puts each demand on one candidate path (by enumeration)."""
    core = env.core
    best = np.inf
    for choice in itertools.product(*[np.flatnonzero(row) for row in core.mask]):
        splits = np.zeros(core.mask.shape)
        splits[np.arange(len(choice)), choice] = 1.0
        core.reset(np.random.default_rng(0))
        best = min(best, core.apply(splits).stats.mlu)
    return float(best)


@pytest.mark.slow
def test_learns_the_diamond_to_its_best_single_path_routing(diamond):
    """DQN picks one path per demand, so the LP optimum (0.3, splitting the 0-3 demands) is out of
    its reach; the best single-path routing (every demand on its shortest path) has MLU 0.4, the
    even split 0.6. The greedy policy is within 2 % of 0.4 (the slack: ~0.25 % of each demand
    leaks to its other path, `chosen_share`)."""
    params = {"learning_starts": 200, "exploration_steps": 2000, "target_update_interval": 200,
              "train_frequency": 2, "log_interval": 500}  # fmt: skip
    agent = DQNAgent(params, seed=0)
    agent.train(lambda: static_diamond(diamond), 3000)
    env = static_diamond(diamond)
    single_path = _best_single_path_mlu(env)
    assert single_path == pytest.approx(0.4)
    first = env.possible_agents[0]
    observations, _ = env.reset(seed=0)
    for _ in range(3):
        observations, _, _, _, infos = env.step(agent.act(observations))
        assert infos[first]["mlu"] <= 1.02 * single_path
    assert infos[first]["optimal_mlu"] == pytest.approx(0.3)
