"""A tiny continuous-control environment with a known optimum, for the off-policy agents' tests
(imported by the test modules of this folder)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlte.envs.contract import generator_from_state, generator_state


class TargetEnv(gym.Env):
    """Choose the point the observation names: a contextual bandit whose optimum is known.

    ## Description
    Each step shows a target and rewards the action by how close it comes to it; the next target
    is drawn uniformly, whatever the action.

    ## Action space
    ``Box([-2, 0], [2, 4])``, float32: deliberately asymmetric bounds, so a learner that scales
    its actions wrongly misses.

    ## Observation space
    ``Box(-1, 1, (2,))``, float32: the target ``t``, normalised; in the action's units it is
    ``x = low + (t + 1) (high - low) / 2``.

    ## Reward
    ``1 - mean_d |a_d - x_d| / h_d``, ``h`` half the action range: 1 at the target, per step.
    The optimal return is ``episode_length``; a uniformly random action earns 1/3 per step in
    expectation (``E|u - v| = 2/3`` for independent uniforms on [-1, 1]) and the best constant
    action (the centre) 1/2.

    ## Episode end
    After ``episode_length`` steps: a time limit (``truncated``), or a terminal state with
    ``terminal=True``.

    ## Arguments
    ``episode_length`` (8), ``terminal`` (False).
    """

    metadata = {"render_modes": []}
    LOW = np.array([-2.0, 0.0], dtype=np.float32)
    HIGH = np.array([2.0, 4.0], dtype=np.float32)

    def __init__(self, episode_length: int = 8, terminal: bool = False) -> None:
        self.episode_length, self.terminal = int(episode_length), bool(terminal)
        self.action_space = spaces.Box(self.LOW, self.HIGH, dtype=np.float32)
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.steps = 0
        self.target = np.zeros(2, dtype=np.float32)

    @property
    def optimal_return(self) -> float:
        return float(self.episode_length)

    def goal(self) -> np.ndarray:
        """The target in the action's units."""
        return self.LOW + (self.target + 1.0) * (self.HIGH - self.LOW) / 2

    def _draw(self) -> None:
        self.target = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.steps = 0
        self._draw()
        return self.target.copy(), {}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float32), self.LOW, self.HIGH)
        reward = 1.0 - float(np.mean(np.abs(action - self.goal()) / ((self.HIGH - self.LOW) / 2)))
        self.steps += 1
        self._draw()
        over = self.steps >= self.episode_length
        return self.target.copy(), reward, over and self.terminal, over and not self.terminal, {}

    # the rlte environment contract
    def get_state(self) -> dict:
        return {
            "np_random": generator_state(self.np_random),
            "steps": self.steps,
            "target": self.target.copy(),
        }

    def set_state(self, state: dict) -> None:
        self.np_random = generator_from_state(state["np_random"])
        self.steps = int(state["steps"])
        self.target = np.asarray(state["target"], dtype=np.float32).copy()


def mean_return(policy, episodes: int = 20, seed: int = 12345, episode_length: int = 8) -> float:
    """Mean return of ``policy`` (observation -> action) over ``episodes`` episodes of a fresh
    `TargetEnv` seeded ``seed``."""
    env, returns = TargetEnv(episode_length), []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, over = 0.0, False
        while not over:
            observation, reward, terminated, truncated, _ = env.step(policy(observation))
            total += reward
            over = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))
