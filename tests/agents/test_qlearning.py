"""Tabular Q-learning: the binned state on inputs known by hand, the update against a table known by
hand, a bandit it must solve, time limits that bootstrap, exact resume after a kill, determinism and
one-line errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from instances import same_state

from rlte.agents.qlearning import QLearningAgent, QTable
from rlte.envs import make
from rlte.envs.contract import generator_from_state, generator_state
from rlte.errors import RlteError


class ArmEnv(gym.Env):
    """Two contexts, two arms: the observation 0.25 (context 0) or 0.75 (context 1) names the arm
    that pays 1 (the other pays 0); the next context is uniform. Truncated after ``episode_length``
    steps (or terminated, with ``terminal``). Implements the rlte contract."""

    def __init__(self, episode_length: int = 8, terminal: bool = False) -> None:
        self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.episode_length, self.terminal = episode_length, terminal
        self.context = self.steps = 0

    def _observation(self) -> np.ndarray:
        return np.array([0.25 + 0.5 * self.context], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.context, self.steps = int(self.np_random.integers(2)), 0
        return self._observation(), {}

    def step(self, action):
        reward = float(int(action) == self.context)
        self.context, self.steps = int(self.np_random.integers(2)), self.steps + 1
        end = self.steps >= self.episode_length
        return self._observation(), reward, end and self.terminal, end and not self.terminal, {}

    def get_state(self) -> dict:
        return {"rng": generator_state(self.np_random), "context": self.context, "steps": self.steps}

    def set_state(self, state: dict) -> None:
        self._np_random = generator_from_state(state["rng"])
        self.context, self.steps = int(state["context"]), int(state["steps"])


#: The summary observation of a small cluster (a contract env whose episodes outlast a block).
def small_cluster():
    return make("rlte/Cluster-v0", cluster="heterogeneous:4", workload="cpu_bound", bins=4, bin_duration=500.0,
                action_type="discrete", observe="summary", levels=3)  # fmt: skip


def test_the_state_is_the_tuple_of_equal_width_bins():
    agent = QLearningAgent({"bins": 4})
    agent._build(small_cluster())
    np.testing.assert_array_equal(agent.state_key(np.array([0.0, 0.2499, 0.25, 1.0])), [0, 0, 1, 3])
    np.testing.assert_array_equal(agent.state_key(np.array([-5.0, 0.74, 0.76, 7.0])), [0, 2, 3, 3])


def test_the_table_holds_a_row_per_state_met_and_round_trips():
    table = QTable(3, initial_value=2.0)
    keys = [np.array([i, i % 2]) for i in range(40)]  # grows past its first 16 rows
    rows = [table.row(key) for key in keys]
    assert (
        rows == list(range(40))
        and table.row(keys[5]) == 5
        and table.row(np.array([99, 0]), create=False) == -1
    )
    table.values[7] = [1.0, 2.0, 3.0]
    copy = QTable(3, initial_value=0.0)
    copy.load_state_dict(table.state_dict())
    assert len(copy) == 40 and copy.row(keys[7]) == 7
    np.testing.assert_array_equal(copy.values[:40], table.values[:40])
    assert (copy.values[:7] == 2.0).all()


def test_the_update_with_step_one_and_no_discount_copies_the_rewards():
    """With ``learning_rate=1``, ``gamma=0`` and uniform exploration, ``Q(s, a)`` becomes the last
    reward of (s, a): exactly the payoff table."""
    agent = QLearningAgent({"learning_rate": 1.0, "gamma": 0.0, "epsilon_start": 1.0, "epsilon_end": 1.0,
                            "bins": 2})  # fmt: skip
    agent.train(ArmEnv, 200)
    table = agent.table
    assert len(table) == 2
    values = np.array([table.values[table.row(np.array([context]))] for context in (0, 1)])
    np.testing.assert_array_equal(values, [[1.0, 0.0], [0.0, 1.0]])
    assert agent.act(np.array([0.25])) == 0 and agent.act(np.array([0.75])) == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learns_the_arms_with_exploration_and_discounting(seed):
    agent = QLearningAgent(
        {"bins": 4, "gamma": 0.5, "exploration_fraction": 0.5, "log_interval": 100}, seed=seed
    )
    agent.train(lambda: ArmEnv(terminal=bool(seed % 2)), 600)
    assert agent.act(np.array([0.25])) == 0 and agent.act(np.array([0.75])) == 1
    # bin 2 (0.5 to 0.75) was never met: the action with the best mean value over the known states
    table = agent.table
    assert len(table) == 2 and agent.act(np.array([0.6])) == int(np.argmax(table.values[:2].mean(axis=0)))


def test_a_time_limit_bootstraps_and_a_terminal_state_does_not():
    """One step per episode, reward 1 for the right arm: with ``gamma=0.5`` a time-limit end
    bootstraps (values near 1 + 0.5 max Q), a terminal end does not (values near 1)."""
    values = {}
    for terminal in (False, True):
        agent = QLearningAgent({"bins": 2, "gamma": 0.5, "learning_rate": 0.2, "epsilon_start": 1.0,
                                "epsilon_end": 1.0}, seed=0)  # fmt: skip
        agent.train(lambda terminal=terminal: ArmEnv(episode_length=1, terminal=terminal), 3000)
        values[terminal] = agent.table.values[agent.table.row(np.array([0])), 0]
    assert values[True] == pytest.approx(1.0, abs=0.05)
    assert values[False] == pytest.approx(2.0, abs=0.15)  # 1 + 0.5 * 2


class Killed(Exception):
    pass


def test_killed_and_resumed_training_ends_identical(tmp_path):
    params = {"log_interval": 50, "bins": 3}
    straight = QLearningAgent(params, seed=4)
    straight.train(small_cluster, 250, learning_log=tmp_path / "straight.csv")
    checkpoint, log = tmp_path / "run" / "checkpoint.pt", tmp_path / "resumed.csv"

    def kill(steps: int) -> None:
        if steps == 150:
            raise Killed

    with pytest.raises(Killed):
        QLearningAgent(params, seed=4).train(small_cluster, 250, checkpoint_path=checkpoint, checkpoint_every=50,
                                             learning_log=log, on_progress=kill)  # fmt: skip
    assert torch.load(checkpoint, weights_only=True)["counters"]["timesteps"] == 100
    resumed = QLearningAgent(params, seed=4)
    assert (
        resumed.train(small_cluster, 250, checkpoint_path=checkpoint, checkpoint_every=50, learning_log=log)
        == 150
    )
    same_state(straight.table.state_dict(), resumed.table.state_dict())
    same_state(straight.numpy_rng.bit_generator.state, resumed.numpy_rng.bit_generator.state)
    np.testing.assert_array_equal(straight.observation, resumed.observation)
    assert log.read_text() == (tmp_path / "straight.csv").read_text()


def test_same_seed_same_table_other_seed_differs():
    tables = [QLearningAgent({"bins": 3}, seed=seed) for seed in (1, 1, 2)]
    for agent in tables:
        agent.train(small_cluster, 120)
    same_state(tables[0].table.state_dict(), tables[1].table.state_dict())
    assert not np.array_equal(
        tables[0].table.values[: len(tables[0].table)], tables[2].table.values[: len(tables[2].table)]
    )


def test_misuse_is_a_one_line_error():
    with pytest.raises(RlteError, match=r"^qlearning: bins 0: must be >= 1$"):
        QLearningAgent({"bins": 0})
    with pytest.raises(RlteError, match=r"^qlearning: needs a Discrete action space"):
        QLearningAgent().train(lambda: make("rlte/Cluster-v0", cluster="heterogeneous:2", bins=3), 10)
    with pytest.raises(RlteError, match=r"^agent: train\(\) it first$"):
        QLearningAgent().act(np.zeros(4))
