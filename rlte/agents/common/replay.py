"""A replay buffer of joint multi-agent transitions in its own numpy arrays (a ring), sampled
uniformly with a caller's generator and saved whole in checkpoints so a resumed run samples what an
uninterrupted one would."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


class ReplayBatch(NamedTuple):
    """B transitions of N agents, as tensors."""

    observations: Tensor
    """Each agent's observation before the step. Shape [B, N, O], float32."""
    actions: Tensor
    """Each agent's discrete choices (for DQN: a path slot per demand). Shape [B, N, M], int64."""
    rewards: Tensor
    """The shared reward. Shape [B], float32."""
    next_observations: Tensor
    """Each agent's observation after the step (the episode's last one if it ended). Shape [B, N, O]."""
    terminated: Tensor
    """1 where the step reached a terminal state (not a time limit). Shape [B], float32."""


class ReplayBuffer:
    """The last ``capacity`` transitions; the oldest is overwritten first.

    Args:
        capacity: transitions kept.
        observation_shape: ``(N, O)``, every agent's observation.
        action_shape: ``(N, M)``, every agent's discrete choices.
    """

    def __init__(
        self, capacity: int, observation_shape: tuple[int, ...], action_shape: tuple[int, ...]
    ) -> None:
        self.capacity = int(capacity)
        self.observations = np.zeros((self.capacity, *observation_shape), dtype=np.float32)
        self.next_observations = np.zeros((self.capacity, *observation_shape), dtype=np.float32)
        self.actions = np.zeros((self.capacity, *action_shape), dtype=np.int16)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        self.position = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, observations: np.ndarray, actions: np.ndarray, reward: float, next_observations: np.ndarray,
            terminated: bool) -> None:  # fmt: skip
        """Store one transition.

        Args:
            observations: Shape [N, O].
            actions: Shape [N, M].
            reward: the shared reward.
            next_observations: Shape [N, O].
            terminated: whether the step reached a terminal state.
        """
        i = self.position
        self.observations[i] = observations
        self.actions[i] = actions
        self.rewards[i] = reward
        self.next_observations[i] = next_observations
        self.terminated[i] = float(terminated)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> ReplayBatch:
        """``batch_size`` transitions drawn uniformly with replacement.

        Args:
            batch_size: B.
            rng: draws the indices.

        Returns:
            `ReplayBatch`.
        """
        if self.size == 0:
            raise ValueError("sample() from an empty replay buffer")
        index = rng.integers(0, self.size, size=batch_size)
        return ReplayBatch(
            torch.from_numpy(self.observations[index]),
            torch.from_numpy(self.actions[index].astype(np.int64)),
            torch.from_numpy(self.rewards[index]),
            torch.from_numpy(self.next_observations[index]),
            torch.from_numpy(self.terminated[index]),
        )

    def state_dict(self) -> dict:
        """The filled part of the arrays (copies) and the ring's position."""
        size = self.size
        return {
            "position": self.position,
            "size": size,
            **{
                name: torch.from_numpy(getattr(self, name)[:size].copy())
                for name in ("observations", "actions", "rewards", "next_observations", "terminated")
            },
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned (into a buffer of the same capacity and shapes)."""
        size = int(state["size"])
        if size > self.capacity:
            raise ValueError(f"replay state of {size} transitions does not fit a capacity of {self.capacity}")
        for name in ("observations", "actions", "rewards", "next_observations", "terminated"):
            array = getattr(self, name)
            array[:] = 0
            array[:size] = state[name].numpy()
        self.position, self.size = int(state["position"]), size
