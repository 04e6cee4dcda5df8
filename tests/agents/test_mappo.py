"""Multi-agent PPO: TRPO's networks, learning a diamond to its LP optimum, determinism, exact resume
and parameter errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from rlte.agents.mappo import LOG_COLUMNS, PPOAgent, PPOConfig, check_params, clipped_surrogate_loss
from rlte.agents.trpo import SharedGaussianActor, TRPOAgent
from rlte.envs import make_parallel
from rlte.errors import RlteError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def diamond(tmp_path_factory) -> str:
    """4-node diamond 0-1-3 (10 Gbit/s) and 0-2-3 (5 Gbit/s): uniform 1 Gbit/s demands give an even
    split MLU 0.6 and an LP optimum 0.3 (test_trpo.py's instance)."""
    path = tmp_path_factory.mktemp("topology") / "diamond.csv"
    path.write_text("u,v,capacity\n0,1,10e9\n1,3,10e9\n0,2,5e9\n2,3,5e9\n")
    return str(path)


def static_diamond(diamond: str):
    return make_parallel("rlte/TE-MA-v0", topology=diamond, traffic="uniform:1e9", load=None, train_fraction=0.0,
                         window=1, k=2, with_optimal=True, episode_length=8)  # fmt: skip


def moving_diamond(diamond: str):
    """Diurnal traffic on the diamond, episodes of 10 steps (checkpoints fall inside episodes)."""
    return make_parallel("rlte/TE-MA-v0", topology=diamond, traffic="diurnal:uniform:1e9", load=None, window=2,
                         k=2, with_optimal=False, episode_length=10)  # fmt: skip


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
    with pytest.raises(RlteError, match=rf"cell 3.*{named}"):
        check_params(params, "cell 3")


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
    actions = agent.act_all(observations)
    assert set(actions) == set(env.possible_agents)
    assert all(env.action_space(a).contains(action) for a, action in actions.items())
    again = agent.act_all(observations)
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
        observations, _, _, _, infos = env.step(agent.act_all(observations))
        assert infos[first]["mlu"] <= 1.04 * optimal


def _parameters(agent: PPOAgent) -> dict:
    return {**{f"actor.{k}": v for k, v in agent.actor.state_dict().items()},
            **{f"critic.{k}": v for k, v in agent.critic.state_dict().items()}}  # fmt: skip


def _assert_same(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def test_same_seed_same_parameters(diamond):
    make_env = lambda: moving_diamond(diamond)  # noqa: E731
    runs = []
    for seed in (0, 0, 1):
        agent = PPOAgent(SMALL, seed=seed)
        agent.train(make_env, 192)
        runs.append(_parameters(agent))
    _assert_same(runs[0], runs[1])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


class Killed(Exception):
    pass


def test_killed_and_resumed_training_ends_identical(diamond, tmp_path):
    """A run killed after its third update resumes from the checkpoint of the start of that rollout
    and ends with the parameters, optimiser state and learning log of an uninterrupted run."""
    make_env = lambda: moving_diamond(diamond)  # noqa: E731
    total = 5 * SMALL["rollout_steps"]
    straight = PPOAgent(SMALL, seed=4)
    straight.train(make_env, total, learning_log=tmp_path / "straight.csv")

    checkpoint, log = tmp_path / "run" / "checkpoint.pt", tmp_path / "resumed.csv"

    def kill_after_third(steps: int) -> None:
        if steps == 3 * SMALL["rollout_steps"]:
            raise Killed

    with pytest.raises(Killed):
        PPOAgent(SMALL, seed=4).train(make_env, total, checkpoint_path=checkpoint, checkpoint_every=64,
                                      learning_log=log, on_progress=kill_after_third)  # fmt: skip
    assert torch.load(checkpoint, weights_only=True)["counters"]["timesteps"] == 2 * SMALL["rollout_steps"]
    resumed = PPOAgent(SMALL, seed=4)
    assert (
        resumed.train(make_env, total, checkpoint_path=checkpoint, checkpoint_every=64, learning_log=log)
        == 192
    )
    _assert_same(_parameters(straight), _parameters(resumed))
    for mine, theirs in ((straight.actor_optimizer, resumed.actor_optimizer),
                         (straight.critic_optimizer, resumed.critic_optimizer)):  # fmt: skip
        for a, b in zip(mine.state.values(), theirs.state.values()):
            assert all(torch.equal(a[key], b[key]) for key in a)
    assert resumed.episodes.state_dict() == straight.episodes.state_dict()
    assert log.read_text() == (tmp_path / "straight.csv").read_text()
    assert PPOAgent(SMALL, seed=4).train(make_env, total, checkpoint_path=checkpoint) == 0


def test_checkpoint_of_another_configuration_is_refused(diamond, tmp_path):
    make_env = lambda: static_diamond(diamond)  # noqa: E731
    checkpoint = tmp_path / "checkpoint.pt"
    PPOAgent(SMALL, seed=0).train(make_env, 64, checkpoint_path=checkpoint)
    with pytest.raises(RlteError, match="another configuration"):
        PPOAgent({**SMALL, "clip_range": 0.1}, seed=0).train(make_env, 128, checkpoint_path=checkpoint)
    with pytest.raises(RlteError, match="another configuration"):
        PPOAgent(SMALL, seed=1).train(make_env, 128, checkpoint_path=checkpoint)
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(RlteError, match="unreadable checkpoint"):
        PPOAgent(SMALL, seed=0).train(make_env, 128, checkpoint_path=checkpoint)


def test_act_all_before_training_is_an_error():
    with pytest.raises(RlteError, match="train"):
        PPOAgent().act_all({})


def test_tensorboard_scalars_are_written(diamond, tmp_path):
    pytest.importorskip("tensorboard")
    PPOAgent(SMALL, seed=0).train(lambda: static_diamond(diamond), 128, tensorboard_dir=tmp_path / "tb")
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
