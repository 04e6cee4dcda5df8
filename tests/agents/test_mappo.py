"""Multi-agent PPO: TRPO's networks, learning a diamond to its LP optimum, determinism, exact resume
and parameter errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from instances import DIAMOND, static_diamond, write_topology

from rlte.agents.common.actor_critic import SharedGaussianActor
from rlte.agents.mappo import LOG_COLUMNS, PPOAgent, PPOConfig, clipped_surrogate_loss
from rlte.agents.trpo import TRPOAgent
from rlte.envs import make_parallel
from rlte.errors import RlteError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def diamond(tmp_path_factory) -> str:
    return write_topology(tmp_path_factory, "diamond", DIAMOND)


SMALL = {
    "rollout_steps": 64,
    "epochs": 3,
    "minibatch_size": 32,
    "hidden_sizes": (16,),
    "critic_hidden_sizes": (16,),
}


# ---------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"learning_rte": 1e-3}, "learning_rte"),
        ({"clip_range": 0.0}, "clip_range"),
        ({"epochs": "3"}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"minibatch_size": 0}, "minibatch_size"),
        ({"gamma": 1.5}, "gamma"),
        ({"target_kl": -0.1}, "target_kl"),
        ({"normalize_advantages": "yes"}, "normalize_advantages"),
        ({"hidden_sizes": [64, 0]}, "hidden_sizes"),
    ],
)
def test_bad_parameters_are_errors_naming_them(params, named):
    with pytest.raises(RlteError, match=named):
        PPOAgent(params)
    with pytest.raises(RlteError, match=rf"^cell 3: (unknown parameter '{named}'|{named} )"):
        PPOConfig.parse(params, "cell 3")


def test_parameters_are_converted_and_described():
    agent = PPOAgent({"hidden_sizes": [8, 8], "learning_rate": 1, "target_kl": None}, seed=5)
    assert agent.config == PPOConfig(hidden_sizes=(8, 8), learning_rate=1.0)
    described = agent.describe()
    assert described["algorithm"] == "MAPPO" and described["seed"] == 5 and described["clip_range"] == 0.2


# ---------------------------------------------------------------------- the clipped surrogate
def test_clipped_surrogate_by_hand():
    """eps = 0.2: a ratio past 1 + eps with a positive advantage, or below 1 - eps with a negative
    one, counts as clipped and gets no gradient; the others count as they are."""
    ratio = torch.tensor([1.5, 0.5, 0.5, 1.5, 1.1], requires_grad=True)
    advantages = torch.tensor([1.0, 1.0, -1.0, -1.0, 2.0])
    loss = clipped_surrogate_loss(ratio, advantages, 0.2)
    # terms: min(1.5, 1.2) = 1.2, min(0.5, 0.8) = 0.5, min(-0.5, -0.8) = -0.8, min(-1.5, -1.2) = -1.5, 2.2
    assert loss.item() == pytest.approx(-(1.2 + 0.5 - 0.8 - 1.5 + 2.2) / 5)
    loss.backward()
    np.testing.assert_allclose(ratio.grad.numpy(), [0.0, -0.2, 0.0, 0.2, -0.4])


# ---------------------------------------------------------------------- the networks are TRPO's
def test_same_seed_builds_trpos_actor_and_critic(diamond):
    """The comparison with TRPO differs only in the policy step: the same seed builds the very
    same initial actor and critic."""
    env = static_diamond(diamond)
    ppo, trpo = PPOAgent(seed=3), TRPOAgent(seed=3)
    ppo._build(env)
    trpo._build(env)
    assert isinstance(ppo.actor, SharedGaussianActor)
    for own, theirs in ((ppo.actor, trpo.actor), (ppo.critic, trpo.critic)):
        mine, other = own.state_dict(), theirs.state_dict()
        assert mine.keys() == other.keys()
        assert all(torch.equal(mine[key], other[key]) for key in mine)


# ---------------------------------------------------------------------- the agent
def test_smoke_on_the_default_environment(tmp_path):
    """Two rollouts on the default ``rlte/TE-MA-v0`` (Abilene, synthetic week): the log has its
    columns, every agent gets a valid, deterministic action."""
    log = tmp_path / "log.csv"
    agent = PPOAgent({"rollout_steps": 128, "epochs": 2}, seed=0)
    make_env = lambda: make_parallel("rlte/TE-MA-v0", with_optimal=False, episode_length=64)  # noqa: E731
    assert agent.train(make_env, 256, learning_log=log) == 256
    rows = list(csv.DictReader(log.open()))
    assert tuple(rows[0]) == LOG_COLUMNS and [int(row["timesteps"]) for row in rows] == [128, 256]
    assert all(0.0 <= float(row["clip_fraction"]) <= 1.0 and int(row["epochs"]) == 2 for row in rows)
    env = make_env()
    observations, _ = env.reset(seed=3)
    actions = agent.act(observations)
    assert set(actions) == set(env.possible_agents)
    assert all(env.action_space(a).contains(action) for a, action in actions.items())
    again = agent.act(observations)
    assert all(np.array_equal(actions[a], again[a]) for a in actions)


def test_target_kl_stops_the_epochs_early(diamond, tmp_path):
    log = tmp_path / "log.csv"
    PPOAgent({**SMALL, "epochs": 50, "target_kl": 1e-9}, seed=0).train(lambda: static_diamond(diamond), 128,
                                                                       learning_log=log)  # fmt: skip
    assert [int(row["epochs"]) for row in csv.DictReader(log.open())] == [1, 1]


@pytest.mark.slow
def test_learns_the_diamond_to_its_lp_optimum(diamond):
    """Splits are continuous, so PPO can reach the LP optimum (0.3, the even split's MLU is 0.6):
    the deterministic policy's MLU is within 4 % of it after 12k steps. ``gamma=0`` because on a
    static matrix the reward does not depend on earlier actions; short rollouts give more updates."""
    params = {"rollout_steps": 128, "gamma": 0.0, "learning_rate": 1e-3}
    agent = PPOAgent(params, seed=0)
    agent.train(lambda: static_diamond(diamond), 12_288)
    env = static_diamond(diamond)
    first = env.possible_agents[0]
    env.reset(seed=0)
    _, _, _, _, infos = env.step({a: np.zeros(env.action_space(a).shape) for a in env.possible_agents})
    even, optimal = infos[first]["mlu"], infos[first]["optimal_mlu"]
    assert even == pytest.approx(0.6) and optimal == pytest.approx(0.3)
    observations, _ = env.reset(seed=0)
    for _ in range(3):  # the observation carries the last utilisation: check the policy's steady state
        observations, _, _, _, infos = env.step(agent.act(observations))
        assert infos[first]["mlu"] <= 1.04 * optimal
