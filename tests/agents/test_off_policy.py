"""The off-policy continuous-control learners (TD3, DDPG) on a bandit with a known optimum: they
learn it, the critic target bootstraps across a time limit and not across a terminal state (by
hand), actions reach the environment scaled to its bounds, the same seed trains the same networks,
a run killed and resumed ends identical to an uninterrupted one, DDPG is TD3 with one critic, no
smoothing and no delay, and misuse gives one-line errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from continuous_instances import TargetEnv, mean_return
from gymnasium.utils.env_checker import check_env
from instances import same_state
from torch import nn

from rlte.agents.common.continuous_replay import ContinuousBatch
from rlte.agents.common.off_policy import OffPolicyLearner, bootstrapped_target, soft_update
from rlte.agents.ddpg import DDPGAgent, DDPGConfig
from rlte.agents.td3 import TD3Agent, TD3Config
from rlte.errors import RlteError

torch.set_num_threads(1)

AGENTS = {"td3": TD3Agent, "ddpg": DDPGAgent}
BLOCK = 64
#: small settings: a block (and a possible kill) every 64 steps, two gradient steps every fourth
SMALL = {"buffer_size": 100, "learning_starts": 32, "batch_size": 16, "gamma": 0.5, "train_frequency": 4,
         "gradient_steps": 2, "hidden_sizes": (16,), "critic_hidden_sizes": (16,),
         "log_interval": BLOCK}  # fmt: skip
#: what learns `TargetEnv` in 400 steps (300 gradient steps)
LEARNING = {"buffer_size": 5_000, "learning_starts": 100, "batch_size": 128, "gamma": 0.5, "tau": 0.05,
            "actor_learning_rate": 3e-3, "critic_learning_rate": 3e-3, "exploration_noise": 0.2,
            "hidden_sizes": (32, 32), "critic_hidden_sizes": (32, 32), "log_interval": 100}  # fmt: skip


def moving_env() -> TargetEnv:
    """Episodes of 10 steps, so checkpoints (every 64 steps) fall inside episodes."""
    return TargetEnv(episode_length=10)


def _learned_state(agent: OffPolicyLearner) -> dict:
    """Everything the learner checkpoints of its own: networks, targets, optimisers, the buffer,
    counters, episode returns, generators and the current observation."""
    return {
        **{name: item.state_dict() for name, item in agent._stateful().items()},
        **{key: getattr(agent, attribute) for key, attribute in agent.COUNTERS.items()},
        "episodes": agent.episodes.state_dict(),
        "torch_rng": agent.torch_rng.get_state(),
        "numpy_rng": agent.numpy_rng.bit_generator.state,
        "observation": agent.observation,
    }


# ---------------------------------------------------------------------- hand-made networks
class ConstantCritic(nn.Module):
    """``Q(o, a) = value`` (a linear layer with zero weights and bias ``value``)."""

    def __init__(self, observation_shape, action_size: int, value: float) -> None:
        super().__init__()
        self.linear = nn.Linear(int(np.prod(observation_shape)) + action_size, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.constant_(self.linear.bias, value)

    def forward(self, observations, actions):
        return self.linear(torch.cat([observations.flatten(1), actions], dim=-1)).squeeze(-1)


def constant_critics(*values: float):
    """A critic factory whose i-th critic is `ConstantCritic` ``values[i]``."""
    remaining = list(values)
    return lambda shape, size, generator: ConstantCritic(shape, size, remaining.pop(0))


class FixedActor(nn.Module):
    """``mu(o) = action`` for every observation."""

    def __init__(self, action) -> None:
        super().__init__()
        self.action = nn.Parameter(torch.as_tensor(action, dtype=torch.float32), requires_grad=False)

    def forward(self, observations):
        return self.action.expand(len(observations), -1)


# ---------------------------------------------------------------------- the environment
@pytest.mark.filterwarnings("ignore:.*symmetric and normalized space")  # asymmetric on purpose
def test_target_env_follows_the_api_and_the_rlte_contract():
    env = TargetEnv()
    check_env(env, skip_render_check=True)
    env.reset(seed=3)
    env.step(env.action_space.sample())
    saved, copy = env.get_state(), TargetEnv()
    copy.reset(seed=0)
    copy.set_state(saved)
    for _ in range(10):
        action = env.action_space.sample()
        same_state(list(env.step(action)), list(copy.step(action)))


def test_the_learning_margin_means_something():
    """A random policy and the best constant action are far below the margin the learners must
    clear (80 % of the optimum); the goal itself earns the optimum."""
    env, rng = TargetEnv(), np.random.default_rng(0)
    assert mean_return(lambda o: rng.uniform(TargetEnv.LOW, TargetEnv.HIGH)) < 0.4 * env.optimal_return
    assert mean_return(lambda o: (TargetEnv.LOW + TargetEnv.HIGH) / 2) < 0.55 * env.optimal_return
    goal = lambda o: TargetEnv.LOW + (o + 1.0) * (TargetEnv.HIGH - TargetEnv.LOW) / 2  # noqa: E731
    assert mean_return(goal) == pytest.approx(env.optimal_return, abs=1e-5)


# ---------------------------------------------------------------------- learning
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", list(AGENTS))
def test_learns_to_choose_the_target(name, seed):
    """Within 20 % of the optimal return after 400 steps (runs reach about 94 %; a random policy
    earns about 35 %, the best constant action about 52 %)."""
    agent = AGENTS[name](LEARNING, seed=seed)
    agent.train(TargetEnv, 400)
    assert mean_return(agent.act) >= 0.8 * TargetEnv().optimal_return


# ---------------------------------------------------------------------- the update, by hand
@pytest.mark.parametrize("terminal", [False, True])
def test_time_limit_bootstraps_and_terminal_state_does_not(terminal):
    """Episodes of 2 steps ending by a time limit (stored not terminal) or in a terminal state.
    With constant target critics 3 and 2 and gamma 0.5, the TD3 target of every step is
    ``r + 0.5 * min(3, 2)``, except a terminal step's, which is ``r``."""
    agent = TD3Agent({"gamma": 0.5, "learning_starts": 100, "log_interval": 4}, seed=0,
                     critic_factory=constant_critics(3.0, 2.0))  # fmt: skip
    agent.train(lambda: TargetEnv(episode_length=2, terminal=terminal), 4)
    buffer = agent.buffer
    assert buffer.terminated[:4].tolist() == ([0.0, 1.0, 0.0, 1.0] if terminal else [0.0] * 4)
    # the last observation of an episode is kept for the bootstrap, not the next episode's first
    assert not np.array_equal(buffer.next_observations[1], buffer.observations[2])
    np.testing.assert_array_equal(buffer.next_observations[0], buffer.observations[1])
    batch = ContinuousBatch(
        *(torch.from_numpy(getattr(buffer, field)[:4]) for field in ContinuousBatch._fields)
    )
    rewards = buffer.rewards[:4].astype(np.float64)
    expected = rewards + 0.5 * 2.0 * np.array([1.0, 0.0, 1.0, 0.0] if terminal else [1.0] * 4)
    np.testing.assert_allclose(agent.critic_target(batch).numpy(), expected, rtol=1e-6)


def test_bootstrapped_target_and_soft_update_by_hand():
    target = bootstrapped_target(
        torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0]), torch.tensor([4.0, 4.0]), 0.5
    )
    assert target.tolist() == [3.0, 1.0]
    source, follower = nn.Linear(1, 1), nn.Linear(1, 1)
    with torch.no_grad():
        source.weight.fill_(1.0), source.bias.fill_(1.0), follower.weight.fill_(0.0), follower.bias.fill_(2.0)
    soft_update(follower, source, 0.25)
    assert follower.weight.item() == 0.25 and follower.bias.item() == 1.75


@pytest.mark.parametrize("name", list(AGENTS))
def test_actions_reach_the_environment_scaled_to_its_bounds(name):
    """A tanh action of -1 is the lower bound, +1 the upper one, 0 the centre; exploration stays in
    bounds and the buffer keeps the network's range."""
    for tanh, expected in (([-1.0, 1.0], [-2.0, 4.0]), ([0.0, 0.0], [0.0, 2.0]), ([1.0, -1.0], [2.0, 0.0])):
        agent = AGENTS[name]({**SMALL, "exploration_noise": 0.5}, seed=0,
                             actor_factory=lambda shape, size, generator, a=tanh: FixedActor(a))  # fmt: skip
        agent.train(TargetEnv, 2 * BLOCK)
        action = agent.act(np.zeros(2, dtype=np.float32))
        assert action.dtype == np.float32 and action.shape == (2,)
        np.testing.assert_allclose(action, expected, atol=1e-6)
        assert np.all(np.abs(agent.buffer.actions[: agent.buffer.size]) <= 1.0)


def test_ddpg_is_td3_with_one_critic_no_smoothing_no_delay(tmp_path):
    settings = {"n_critics": 1, "policy_delay": 1, "target_policy_noise": 0.0}
    ddpg, td3 = DDPGAgent(SMALL, seed=3), TD3Agent({**SMALL, **settings}, seed=3)
    ddpg.train(moving_env, 3 * BLOCK, learning_log=tmp_path / "ddpg.csv")
    td3.train(moving_env, 3 * BLOCK, learning_log=tmp_path / "td3.csv")
    same_state(_learned_state(ddpg), _learned_state(td3))
    assert (tmp_path / "ddpg.csv").read_text() == (tmp_path / "td3.csv").read_text()
    assert len(ddpg.critics) == 1 and len(TD3Agent(SMALL).settings()) == 4 and TD3Agent(SMALL).n_critics == 2


# ---------------------------------------------------------------------- determinism and resume
@pytest.mark.parametrize("name", list(AGENTS))
def test_same_seed_same_networks(name):
    runs = []
    for seed in (0, 0, 1):
        agent = AGENTS[name](SMALL, seed=seed)
        agent.train(moving_env, 3 * BLOCK)
        runs.append(_learned_state(agent))
    same_state(runs[0], runs[1])
    with pytest.raises(AssertionError):
        same_state(runs[0], runs[2])


class Killed(Exception):
    pass


@pytest.mark.parametrize("name", list(AGENTS))
def test_killed_and_resumed_training_ends_identical(tmp_path, name):
    """A run killed after its third block resumes from the checkpoint of the start of that block
    (the buffer has wrapped around by then, the episode is half-way) and ends with the networks,
    targets, optimisers, buffer, generators, counters and learning log of an uninterrupted run;
    training a finished run again does nothing."""
    cls, total = AGENTS[name], 5 * BLOCK
    straight = cls(SMALL, seed=4)
    straight.train(moving_env, total, learning_log=tmp_path / "straight.csv")
    checkpoint, log = tmp_path / "run" / "checkpoint.pt", tmp_path / "resumed.csv"

    def kill_after_third(steps: int) -> None:
        if steps == 3 * BLOCK:
            raise Killed

    with pytest.raises(Killed):
        cls(SMALL, seed=4).train(moving_env, total, checkpoint_path=checkpoint, checkpoint_every=BLOCK,
                                 learning_log=log, on_progress=kill_after_third)  # fmt: skip
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["counters"]["timesteps"] == 2 * BLOCK and saved["buffer"]["size"] == SMALL["buffer_size"]
    assert saved["env"]["steps"] not in (0, 10)
    resumed = cls(SMALL, seed=4)
    trained = resumed.train(moving_env, total, checkpoint_path=checkpoint, checkpoint_every=BLOCK,
                            learning_log=log)  # fmt: skip
    assert trained == 3 * BLOCK
    same_state(_learned_state(straight), _learned_state(resumed))
    text = log.read_text()
    assert text == (tmp_path / "straight.csv").read_text()
    assert text.splitlines()[0] == ",".join(cls.LOG_COLUMNS) and len(text.splitlines()) == 1 + 5
    assert cls(SMALL, seed=4).train(moving_env, total, checkpoint_path=checkpoint) == 0


def test_checkpoint_of_another_run_is_refused_in_one_line(tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    TD3Agent(SMALL, seed=0).train(TargetEnv, BLOCK, checkpoint_path=checkpoint)
    others = [
        TD3Agent({**SMALL, "tau": 0.5}, seed=0),
        TD3Agent(SMALL, seed=1),
        DDPGAgent(SMALL, seed=0),
        TD3Agent(SMALL, seed=0, actor_factory=lambda shape, size, generator: FixedActor([0.0, 0.0])),
    ]
    for other in others:
        with pytest.raises(RlteError) as error:
            other.train(TargetEnv, 2 * BLOCK, checkpoint_path=checkpoint)
        assert str(error.value) == (
            f"{checkpoint}: checkpoint of another configuration, seed or environment; "
            "remove it to start afresh"
        )


# ---------------------------------------------------------------------- misuse
@pytest.mark.parametrize(
    ("name", "params", "named"),
    [
        ("td3", {"actor_learning_rate": "1e-3"}, "actor_learning_rate"),
        ("ddpg", {"critic_learning_rate": "3e-4"}, "critic_learning_rate"),
        ("td3", {"tau": 1.5}, "tau"),
        ("ddpg", {"tau": 0.0}, "tau"),
        ("td3", {"batch_size": -4}, "batch_size"),
        ("ddpg", {"batch_size": 8.0}, "batch_size"),
        ("td3", {"gamma": 1.1}, "gamma"),
        ("td3", {"policy_delay": 0}, "policy_delay"),
        ("td3", {"target_policy_noise": -0.1}, "target_policy_noise"),
        ("ddpg", {"exploration_noise": -1.0}, "exploration_noise"),
        ("ddpg", {"hidden_sizes": (64, 0)}, "hidden_sizes"),
        ("td3", {"learning_rate": 1e-3}, "learning_rate"),
        ("ddpg", {"policy_delay": 2}, "policy_delay"),  # DDPG has none
    ],
)
def test_bad_parameters_are_one_line_errors_naming_them(name, params, named):
    with pytest.raises(RlteError, match=rf"^{name}: (unknown parameter '{named}'|{named} )") as error:
        AGENTS[name](params)
    assert "\n" not in str(error.value)


def test_configs_parse_and_describe():
    assert isinstance(TD3Agent().config, TD3Config) and isinstance(DDPGAgent().config, DDPGConfig)
    assert set(DDPGConfig.keys()) < set(TD3Config.keys())
    described = TD3Agent({"tau": 0.01}, seed=7).describe()
    assert described["algorithm"] == "TD3" and described["seed"] == 7 and described["tau"] == 0.01
    assert DDPGAgent().describe()["algorithm"] == "DDPG"


@pytest.mark.parametrize("name", list(AGENTS))
def test_act_before_training_is_an_error(name):
    with pytest.raises(RlteError, match=r"agent: train\(\) it first"):
        AGENTS[name]().act(np.zeros(2, dtype=np.float32))


def test_a_discrete_action_space_is_refused():
    with pytest.raises(RlteError, match=r"^td3: needs a Box action space with finite bounds"):
        TD3Agent(SMALL).train(lambda: gym.make("CartPole-v1"), BLOCK)


def test_a_network_of_the_wrong_shape_is_refused_in_one_line():
    wide = lambda shape, size, generator: FixedActor([0.0, 0.0, 0.0])  # noqa: E731
    with pytest.raises(RlteError) as error:
        TD3Agent(SMALL, actor_factory=wide).train(TargetEnv, BLOCK)
    assert str(error.value) == "td3: the actor returns shape (2, 3) for a batch of 2, not (2, 2)"
