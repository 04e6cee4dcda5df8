"""A replay buffer of continuous-action transitions for the off-policy actor-critic agents (DDPG,
TD3), single-agent or multi-agent: observations, actions and rewards have any fixed shapes.

The transitions live in numpy arrays used as a ring (the oldest is overwritten first), are sampled
uniformly with replacement from a caller's ``numpy.random.Generator`` and come out as a
`ContinuousBatch` of torch tensors. `ContinuousReplayBuffer.state_dict` holds only tensors and
plain values, so it goes into a checkpoint that loads with ``torch.load(weights_only=True)``, and a
restored buffer holds every transition in the slot it had: with the same generator state it samples
exactly what the original would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

_FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated")


class ContinuousBatch(NamedTuple):
    """B transitions, as float32 tensors."""

    observations: Tensor
    """The observation before the step. Shape [B, *observation_shape]."""
    actions: Tensor
    """The action taken. Shape [B, *action_shape]."""
    rewards: Tensor
    """The reward. Shape [B, *reward_shape] ([B] for one shared reward)."""
    next_observations: Tensor
    """The observation after the step (the episode's last one if it ended). Shape [B, *observation_shape]."""
    terminated: Tensor
    """1 where the step reached a terminal state (not a time limit), else 0. Shape [B]."""


def _shape(shape: Sequence[int], name: str, *, allow_empty: bool) -> tuple[int, ...]:
    try:
        result = tuple(int(size) for size in shape)
    except TypeError:
        raise ValueError(f"{name} must be a tuple of sizes, got {shape!r}") from None
    if any(size <= 0 for size in result) or (not result and not allow_empty):
        raise ValueError(
            f"{name} must be a {'' if allow_empty else 'non-empty '}tuple of positive sizes, got {shape!r}"
        )
    return result


class ContinuousReplayBuffer:
    """The last ``capacity`` transitions of continuous actions, in a ring.

    Single agent: ``observation_shape=(O,)``, ``action_shape=(A,)``. Multi-agent (one joint
    transition of N agents): ``(N, O)`` and ``(N, A)``, with ``reward_shape=(N,)`` for per-agent
    rewards or ``()`` for a shared one. ``terminated`` is one flag per transition.

    Args:
        capacity: transitions kept.
        observation_shape: the shape of one observation.
        action_shape: the shape of one action.
        reward_shape: the shape of one reward (``()``: a scalar).

    Attributes:
        position: the slot the next transition goes into.
        size: transitions held (at most ``capacity``).

    Raises:
        ValueError: a capacity below 1 or a shape with a size below 1.
    """

    def __init__(
        self,
        capacity: int,
        observation_shape: Sequence[int],
        action_shape: Sequence[int],
        reward_shape: Sequence[int] = (),
    ) -> None:
        if isinstance(capacity, bool) or int(capacity) < 1:
            raise ValueError(f"replay capacity must be a positive integer, got {capacity!r}")
        self.capacity = int(capacity)
        self.observation_shape = _shape(observation_shape, "observation_shape", allow_empty=False)
        self.action_shape = _shape(action_shape, "action_shape", allow_empty=False)
        self.reward_shape = _shape(reward_shape, "reward_shape", allow_empty=True)
        self._shapes = {
            "observations": self.observation_shape,
            "actions": self.action_shape,
            "rewards": self.reward_shape,
            "next_observations": self.observation_shape,
            "terminated": (),
        }
        self.observations = np.zeros((self.capacity, *self.observation_shape), dtype=np.float32)
        self.actions = np.zeros((self.capacity, *self.action_shape), dtype=np.float32)
        self.rewards = np.zeros((self.capacity, *self.reward_shape), dtype=np.float32)
        self.next_observations = np.zeros((self.capacity, *self.observation_shape), dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        self.position = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    @property
    def full(self) -> bool:
        """Whether the ring is full (the next `add` overwrites the oldest transition)."""
        return self.size == self.capacity

    def add(
        self,
        observation: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray | float,
        next_observation: np.ndarray,
        terminated: bool,
    ) -> None:
        """Store one transition, overwriting the oldest when full.

        Args:
            observation: Shape ``observation_shape``.
            action: Shape ``action_shape``.
            reward: Shape ``reward_shape``.
            next_observation: Shape ``observation_shape``.
            terminated: whether the step reached a terminal state (not a time limit).

        Raises:
            ValueError: a value of the wrong shape or not finite (nothing is stored).
        """
        values = {
            "observations": observation,
            "actions": action,
            "rewards": reward,
            "next_observations": next_observation,
            "terminated": float(terminated),
        }
        arrays = {}
        for name, value in values.items():
            array = np.asarray(value, dtype=np.float32)
            if array.shape != self._shapes[name]:
                raise ValueError(f"replay {name}: shape {array.shape}, the buffer's is {self._shapes[name]}")
            if not np.isfinite(array).all():
                raise ValueError(f"replay {name}: not finite")
            arrays[name] = array
        i = self.position
        for name, array in arrays.items():
            getattr(self, name)[i] = array
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> ContinuousBatch:
        """``batch_size`` transitions drawn uniformly with replacement from those held.

        Args:
            batch_size: B.
            rng: draws the slots (one ``rng.integers`` call).

        Returns:
            `ContinuousBatch`.

        Raises:
            ValueError: the buffer is empty or ``batch_size`` below 1.
        """
        if self.size == 0:
            raise ValueError("sample() from an empty replay buffer")
        if int(batch_size) < 1:
            raise ValueError(f"replay batch size must be positive, got {batch_size}")
        index = rng.integers(0, self.size, size=int(batch_size))
        # fancy indexing copies, so the batch never aliases the ring
        return ContinuousBatch(*(torch.from_numpy(getattr(self, name)[index]) for name in _FIELDS))

    def state_dict(self) -> dict:
        """The shapes, the ring's position and size, and the filled slots (copies, as tensors)."""
        return {
            "capacity": self.capacity,
            "observation_shape": list(self.observation_shape),
            "action_shape": list(self.action_shape),
            "reward_shape": list(self.reward_shape),
            "position": self.position,
            "size": self.size,
            **{name: torch.from_numpy(getattr(self, name)[: self.size].copy()) for name in _FIELDS},
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned into a buffer of the same capacity and shapes.

        Raises:
            ValueError: the state was saved from a buffer of another capacity or shapes.
        """
        for key, mine in (
            ("capacity", self.capacity),
            ("observation_shape", self.observation_shape),
            ("action_shape", self.action_shape),
            ("reward_shape", self.reward_shape),
        ):
            theirs = state[key] if key == "capacity" else tuple(state[key])
            if theirs != mine:
                raise ValueError(f"replay state has {key} {theirs}, this buffer {mine}")
        size, position = int(state["size"]), int(state["position"])
        if not (0 <= size <= self.capacity and 0 <= position < self.capacity):
            raise ValueError(
                f"replay state has size {size} and position {position} for capacity {self.capacity}"
            )
        for name in _FIELDS:
            stored = state[name].numpy()
            if stored.shape != (size, *self._shapes[name]):
                raise ValueError(
                    f"replay state {name}: shape {stored.shape}, expected {(size, *self._shapes[name])}"
                )
            array = getattr(self, name)
            array[:] = 0
            array[:size] = stored
        self.position, self.size = position, size
