"""Generalised advantage estimation (Schulman et al. 2016)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Advantages(NamedTuple):
    """GAE's output."""

    advantages: np.ndarray
    """``A_t``. Shape [T, ...]."""
    returns: np.ndarray
    """``A_t + V(s_t)``, the critic's regression targets. Shape [T, ...]."""


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    dones: np.ndarray,
    last_value: np.ndarray | float,
    gamma: float,
    lam: float,
) -> Advantages:
    """Generalised advantage estimates over a rollout of T steps.

    ``delta_t = r_t + gamma (1 - done_t) V(s_{t+1}) - V(s_t)`` and
    ``A_t = delta_t + gamma lam (1 - done_t) A_{t+1}``, with ``V(s_T) = last_value`` (the value of
    the state after the rollout). ``done_t`` means the episode ended with step t, so nothing is
    bootstrapped across it; for a time-limit end, add ``gamma V(final state)`` to ``r_t`` first.

    Args:
        rewards: ``r_t``. Shape [T, ...] (trailing dimensions are independent environments).
        values: ``V(s_t)``. Shape [T, ...].
        dones: 1 where the episode ended with step t. Shape [T, ...].
        last_value: ``V(s_T)``. Shape [...] or a scalar.
        gamma: discount factor.
        lam: the GAE parameter (0: one-step TD, 1: Monte Carlo).

    Returns:
        `Advantages` (advantages and returns), float64. Shapes [T, ...].
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    not_done = 1.0 - np.asarray(dones, dtype=np.float64)
    advantages = np.zeros_like(rewards)
    next_value = np.asarray(last_value, dtype=np.float64)
    running = np.zeros_like(rewards[0]) if len(rewards) else 0.0
    for t in range(len(rewards) - 1, -1, -1):
        delta = rewards[t] + gamma * not_done[t] * next_value - values[t]
        running = delta + gamma * lam * not_done[t] * running
        advantages[t] = running
        next_value = values[t]
    return Advantages(advantages, advantages + values)
