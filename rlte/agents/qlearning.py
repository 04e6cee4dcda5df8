"""Tabular Q-learning (Watkins 1989) on a single-agent Gymnasium environment with a bounded ``Box``
observation and a ``Discrete`` action space: seed 003's Q-learning comparison (on the discrete
variant of ``rlte/Cluster-v0`` with its four-feature ``summary`` observation).

**Discretised state.** Each observation dimension d is cut into ``bins`` equal-width bins over the
observation space's bounds, ``b_d = min(floor(bins (x_d - low_d) / (high_d - low_d)), bins - 1)``
(values outside the bounds fall in the first or last bin); a state is the tuple of bins. The table
holds a row per state met so far (at most ``bins ** D``), so the learner is exactly tabular: with
the summary observation and 4 bins, at most 256 states.

**Update.** After every step ``(s, a, r, s', term)``, with the step size ``learning_rate``,

    ``Q(s, a) <- Q(s, a) + learning_rate * (r + gamma (1 - term) max_a' Q(s', a') - Q(s, a))``

(a time-limit end is not terminal: it bootstraps). Rows start at ``initial_value``.

**Acting.** Epsilon-greedy while training: with probability epsilon a uniform action, else the
greedy one (ties: the lowest action); epsilon falls linearly from ``epsilon_start`` to
``epsilon_end`` over the first ``exploration_fraction`` of the training steps (of the ``timesteps``
``train`` is given, so a run in blocks follows one schedule). `act` is greedy; a state never met
takes the action with the best mean value over the known states (the best state-independent choice).

Checkpoints are exact (`rlte.agents.common.training.CheckpointedLearner`): the table (the states'
bins and their rows), the generator, the environment's state, the episode returns and the current
observation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from gymnasium import spaces

from rlte.agents.common.configs import AgentConfig
from rlte.agents.common.training import CheckpointedLearner, EpisodeReturns
from rlte.errors import RlteError
from rlte.options import option


@dataclass
class QLearningConfig(AgentConfig):
    """Hyperparameters of tabular Q-learning."""

    bins: int = option(4, ge=1)
    """Equal-width bins per observation dimension."""
    learning_rate: float = option(0.1, gt=0.0, le=1.0)
    """Step size of the update."""
    gamma: float = option(0.9, ge=0.0, le=1.0)
    """Discount factor."""
    epsilon_start: float = option(1.0, ge=0.0, le=1.0)
    """Exploration rate at the first step."""
    epsilon_end: float = option(0.05, ge=0.0, le=1.0)
    """Exploration rate after the schedule."""
    exploration_fraction: float = option(0.5, gt=0.0, le=1.0)
    """Share of the training steps over which epsilon falls."""
    initial_value: float = 0.0
    """Value of every action in a state met for the first time."""
    log_interval: int = option(1_000, ge=1)
    """Environment steps per learning-log row (and between the points where checkpoints may be written)."""


class QTable:
    """Q-values of the discretised states met so far: a row per state, found by its bins.

    Args:
        actions: A, the number of actions.
        initial_value: the value of every action of a new row.
    """

    def __init__(self, actions: int, initial_value: float) -> None:
        self.actions, self.initial_value = int(actions), float(initial_value)
        self.index: dict[bytes, int] = {}
        self.keys: list[np.ndarray] = []
        self.values = np.zeros((0, self.actions))

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, key: np.ndarray, create: bool = True) -> int:
        """The row of a state's bins (a new row when ``create``; -1 for an unknown state otherwise)."""
        found = self.index.get(key.tobytes())
        if found is not None or not create:
            return -1 if found is None else found
        self.index[key.tobytes()] = len(self.keys)
        self.keys.append(key.copy())
        if len(self.keys) > len(self.values):  # grow by doubling
            grown = np.full((max(2 * len(self.values), 16), self.actions), self.initial_value)
            grown[: len(self.values)] = self.values
            self.values = grown
        self.values[len(self.keys) - 1] = self.initial_value
        return len(self.keys) - 1

    def state_dict(self) -> dict:
        count = len(self.keys)
        keys = np.stack(self.keys) if count else np.zeros((0, 0), dtype=np.int64)
        return {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "values": torch.from_numpy(self.values[:count].copy()),
        }

    def load_state_dict(self, state: dict) -> None:
        keys, values = state["keys"].numpy(), state["values"].numpy()
        self.index, self.keys = {}, []
        self.values = np.zeros((0, self.actions))
        for key, value in zip(keys, values):
            row = self.row(key.astype(np.int64))  # may grow (replace) the values array
            self.values[row] = value


class QLearningAgent(CheckpointedLearner):
    """Tabular Q-learning over a binned observation (see the module docstring).

    Args:
        params: `QLearningConfig` fields.
        seed: seeds the learner's generator (exploration and the environment's first reset).
    """

    NAME = "qlearning"
    LOG_COLUMNS = ("timesteps", "episode_reward_mean", "td_error", "epsilon", "states")

    def __init__(self, params: dict | None = None, seed: int = 0) -> None:
        self.seed = int(seed)
        self.config = QLearningConfig.parse(params or {}, self.NAME)
        self.table: QTable | None = None

    # ------------------------------------------------------------------ construction
    def _build(self, env) -> None:
        observation_space, action_space = env.observation_space, env.action_space
        if not isinstance(action_space, spaces.Discrete):
            raise RlteError(f"{self.NAME}: needs a Discrete action space, got {action_space}")
        if not isinstance(observation_space, spaces.Box) or not (
            np.isfinite(observation_space.low).all() and np.isfinite(observation_space.high).all()
        ):
            raise RlteError(
                f"{self.NAME}: needs a Box observation space with finite bounds, got {observation_space}"
            )
        self.low = observation_space.low.astype(np.float64).ravel()
        self.width = np.maximum(observation_space.high.astype(np.float64).ravel() - self.low, 1e-12)
        self.action_start = int(action_space.start)
        self.table = QTable(int(action_space.n), self.config.initial_value)
        self.numpy_rng = np.random.default_rng(self.seed)
        self.num_timesteps = 0
        self.episodes = EpisodeReturns()
        self.observation = np.zeros_like(self.low)

    def state_key(self, observation: np.ndarray) -> np.ndarray:
        """The bins of an observation. Shapes: [D] -> [D], int64."""
        bins = self.config.bins
        scaled = (np.asarray(observation, dtype=np.float64).ravel() - self.low) / self.width
        return np.clip(np.floor(scaled * bins), 0, bins - 1).astype(np.int64)

    # ------------------------------------------------------------------ acting
    def epsilon(self, timesteps: int) -> float:
        """The exploration rate at the current step of a run of ``timesteps`` steps."""
        config = self.config
        progress = min(self.num_timesteps / max(config.exploration_fraction * timesteps, 1.0), 1.0)
        return config.epsilon_start + progress * (config.epsilon_end - config.epsilon_start)

    def _greedy(self, row: int) -> int:
        if row < 0:
            if len(self.table) == 0:
                return 0
            return int(np.argmax(self.table.values[: len(self.table)].mean(axis=0)))
        return int(np.argmax(self.table.values[row]))

    def act(self, observation: np.ndarray) -> int:
        """The greedy action for one observation (see the module docstring for unknown states)."""
        if self.table is None:
            raise RlteError("agent: train() it first")
        return self._greedy(self.table.row(self.state_key(observation), create=False)) + self.action_start

    # ------------------------------------------------------------------ learning
    def _block(self, env, timesteps: int) -> tuple[dict, None]:
        """``log_interval`` steps (fewer if ``timesteps`` comes first) of acting and updating."""
        config, table, rng = self.config, self.table, self.numpy_rng
        block_end = min(timesteps, self.num_timesteps + config.log_interval)
        errors = []
        while self.num_timesteps < block_end:
            epsilon = self.epsilon(timesteps)
            row = table.row(self.state_key(self.observation))
            if rng.random() < epsilon:
                action = int(rng.integers(table.actions))
            else:
                action = self._greedy(row)
            next_observation, reward, terminated, truncated, _ = env.step(action + self.action_start)
            next_row = table.row(self.state_key(next_observation))
            bootstrap = 0.0 if terminated else config.gamma * float(table.values[next_row].max())
            error = float(reward) + bootstrap - table.values[row, action]
            table.values[row, action] += config.learning_rate * error
            errors.append(abs(error))
            self.episodes.add(float(reward), bool(terminated or truncated))
            if terminated or truncated:
                next_observation, _ = env.reset()
            self.observation = np.asarray(next_observation, dtype=np.float64).ravel()
            self.num_timesteps += 1
        return {
            "td_error": float(np.mean(errors)),
            "epsilon": self.epsilon(timesteps),
            "states": len(table),
        }, None

    # ------------------------------------------------------------------ checkpoints
    def _first_reset(self, env) -> None:
        observation, _ = env.reset(seed=int(self.numpy_rng.integers(2**31 - 1)))
        self.observation = np.asarray(observation, dtype=np.float64).ravel()

    def _stateful(self) -> dict:
        return {"table": self.table}

    def _extra_state(self, env) -> dict:
        return {"observation": self.observation}

    def _load_extra_state(self, state: dict, env) -> None:
        self.observation = np.asarray(state["observation"], dtype=np.float64)

    def _identity_extra(self) -> dict:
        return {"algorithm": "Q-learning", "actions": int(self.table.actions), "dimensions": len(self.low)}

    def describe(self) -> dict:
        """The algorithm's name, the seed and every hyperparameter."""
        return {"algorithm": "Q-learning", "seed": self.seed, **asdict(self.config)}


__all__ = ["QLearningAgent", "QLearningConfig", "QTable"]
