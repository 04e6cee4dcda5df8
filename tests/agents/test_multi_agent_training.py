"""What every learner promises, through rlte's one checkpointing core: the multi-agent learners on
``rlte/TE-MA-v0`` (TRPO, PPO, DQN) and the Stable-Baselines3 wrapper on ``rlte/TE-v0``. The same
seed gives the same networks, a run killed mid-training and resumed ends exactly where an
uninterrupted run ends (learning log included), a checkpoint of another run is refused, and the
usual misuse gives one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from instances import (
    DIAMOND,
    moving_diamond,
    moving_diamond_single,
    same_state,
    static_diamond,
    write_topology,
)

from rlte.agents.dqn import DQNAgent
from rlte.agents.mappo import PPOAgent
from rlte.agents.sb3 import SB3PPO
from rlte.agents.trpo import TRPOAgent
from rlte.errors import RlteError

torch.set_num_threads(1)

# small settings; each learner logs (and may be killed) every 64 steps
LEARNERS = {
    "trpo": (TRPOAgent, {"rollout_steps": 64, "hidden_sizes": (16,), "critic_hidden_sizes": (16,),
                         "critic_minibatch_size": 32}),
    "ppo": (PPOAgent, {"rollout_steps": 64, "epochs": 3, "minibatch_size": 32, "hidden_sizes": (16,),
                       "critic_hidden_sizes": (16,)}),
    "dqn": (DQNAgent, {"buffer_size": 100, "learning_starts": 32, "batch_size": 16, "train_frequency": 2,
                       "target_update_interval": 50, "exploration_steps": 200, "hidden_sizes": (16,),
                       "log_interval": 64}),
    "sb3_ppo": (SB3PPO, {"n_steps": 64, "batch_size": 32, "n_epochs": 2, "net_arch": (16,)}),
}  # fmt: skip
MULTI_AGENT = ["trpo", "ppo", "dqn"]
BLOCK = 64
#: a parameter each learner has, with a value other than its default (another run's checkpoint)
OTHER = {
    "trpo": {"delta": 0.02},
    "ppo": {"clip_range": 0.3},
    "dqn": {"gamma": 0.5},
    "sb3_ppo": {"gamma": 0.5},
}


def _moving(name: str, diamond: str):
    return moving_diamond_single(diamond) if name.startswith("sb3") else moving_diamond(diamond)


def _static(name: str, diamond: str):
    return static_diamond(diamond, single=name.startswith("sb3"))


@pytest.fixture(scope="module")
def diamond(tmp_path_factory) -> str:
    return write_topology(tmp_path_factory, "diamond", DIAMOND)


def _learned_state(agent) -> dict:
    """Everything the learner checkpoints of its own: networks, optimisers, buffers, counters."""
    return {
        **{name: item.state_dict() for name, item in agent._stateful().items()},
        **{key: getattr(agent, attribute) for key, attribute in agent.COUNTERS.items()},
        "episodes": agent.episodes.state_dict(),
    }


@pytest.mark.parametrize("name", list(LEARNERS))
def test_same_seed_same_networks(diamond, name):
    cls, params = LEARNERS[name]
    runs = []
    for seed in (0, 0, 1):
        agent = cls(params, seed=seed)
        agent.train(lambda: _moving(name, diamond), 3 * BLOCK)
        runs.append(_learned_state(agent))
    same_state(runs[0], runs[1])
    with pytest.raises(AssertionError):
        same_state(runs[0], runs[2])


class Killed(Exception):
    pass


@pytest.mark.parametrize("name", list(LEARNERS))
def test_killed_and_resumed_training_ends_identical(diamond, tmp_path, name):
    """A run killed after its third block resumes from the checkpoint of the start of that block and
    ends with the networks, optimisers, buffers, counters, episode returns and learning log of an
    uninterrupted run; training a finished run again does nothing."""
    cls, params = LEARNERS[name]
    make_env = lambda: _moving(name, diamond)  # noqa: E731
    total = 5 * BLOCK
    straight = cls(params, seed=4)
    straight.train(make_env, total, learning_log=tmp_path / "straight.csv")

    checkpoint, log = tmp_path / "run" / "checkpoint.pt", tmp_path / "resumed.csv"

    def kill_after_third(steps: int) -> None:
        if steps == 3 * BLOCK:
            raise Killed

    with pytest.raises(Killed):
        cls(params, seed=4).train(make_env, total, checkpoint_path=checkpoint, checkpoint_every=BLOCK,
                                  learning_log=log, on_progress=kill_after_third)  # fmt: skip
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["counters"]["timesteps"] == 2 * BLOCK
    if name == "dqn":  # the buffer has wrapped around by then: its ring position matters
        assert saved["buffer"]["size"] == params["buffer_size"]
    resumed = cls(params, seed=4)
    trained = resumed.train(
        make_env, total, checkpoint_path=checkpoint, checkpoint_every=BLOCK, learning_log=log
    )
    assert trained == 3 * BLOCK
    same_state(_learned_state(straight), _learned_state(resumed))
    assert log.read_text() == (tmp_path / "straight.csv").read_text()
    assert cls(params, seed=4).train(make_env, total, checkpoint_path=checkpoint) == 0


@pytest.mark.parametrize("name", list(LEARNERS))
def test_checkpoint_of_another_configuration_is_refused(diamond, tmp_path, name):
    cls, params = LEARNERS[name]
    make_env = lambda: _static(name, diamond)  # noqa: E731
    checkpoint = tmp_path / "checkpoint.pt"
    cls(params, seed=0).train(make_env, BLOCK, checkpoint_path=checkpoint)
    with pytest.raises(RlteError, match=f"{checkpoint}: checkpoint of another configuration"):
        cls({**params, **OTHER[name]}, seed=0).train(make_env, 2 * BLOCK, checkpoint_path=checkpoint)
    with pytest.raises(RlteError, match="checkpoint of another configuration, seed"):
        cls(params, seed=1).train(make_env, 2 * BLOCK, checkpoint_path=checkpoint)
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(RlteError) as error:
        cls(params, seed=0).train(make_env, 2 * BLOCK, checkpoint_path=checkpoint)
    message = str(error.value)
    assert message.startswith(f"{checkpoint}: unreadable checkpoint (") and message.endswith(
        "; remove it to start afresh"
    )
    assert "\n" not in message and "weights_only" not in message


@pytest.mark.parametrize("name", list(LEARNERS))
def test_checkpoint_holding_code_objects_is_refused_in_one_line(diamond, tmp_path, name):
    """A checkpoint that would need arbitrary unpickling (here: a class instance) is never loaded."""
    cls, params = LEARNERS[name]
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"counters": Killed()}, checkpoint)
    with pytest.raises(RlteError) as error:
        cls(params, seed=0).train(lambda: _static(name, diamond), BLOCK, checkpoint_path=checkpoint)
    assert str(error.value) == (
        f"{checkpoint}: unreadable checkpoint (it holds objects other than tensors and plain values); "
        "remove it to start afresh"
    )


@pytest.mark.parametrize("name", list(LEARNERS))
def test_act_before_training_is_an_error(name):
    with pytest.raises(RlteError, match=r"agent: train\(\) it first"):
        LEARNERS[name][0]().act({})


@pytest.mark.parametrize("name", MULTI_AGENT)
def test_unknown_agents_are_an_error(diamond, name):
    cls, params = LEARNERS[name]
    agent = cls(params, seed=0)
    agent.train(lambda: static_diamond(diamond), BLOCK)
    with pytest.raises(RlteError, match=r"unknown agents \['node_9'\]"):
        agent.act({"node_9": np.zeros(3, np.float32)})


@pytest.mark.parametrize("name", list(LEARNERS))
def test_tensorboard_scalars_are_written(diamond, tmp_path, name):
    pytest.importorskip("tensorboard")
    cls, params = LEARNERS[name]
    cls(params, seed=0).train(lambda: _static(name, diamond), 2 * BLOCK, tensorboard_dir=tmp_path / "tb")
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
