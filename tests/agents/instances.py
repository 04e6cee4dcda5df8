"""Tiny instances the agent tests share (imported by the test modules of this folder)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from rlte.envs import make_parallel

DIAMOND = "u,v,capacity\n0,1,10e9\n1,3,10e9\n0,2,5e9\n2,3,5e9\n"
"""4-node diamond 0-1-3 (10 Gbit/s) and 0-2-3 (5 Gbit/s): uniform 1 Gbit/s demands give an even
split MLU 0.6 and an LP optimum 0.3."""

KITE = "u,v,capacity\n0,1,10e9\n1,2,10e9\n2,3,10e9\n3,0,10e9\n0,2,10e9\n3,4,10e9\n"
"""A 4-cycle with the chord 0-2 and a tail 3-4: with k=4, demands have 1, 3 or 4 paths, so some
path slots are invalid."""


def write_topology(tmp_path_factory, name: str, text: str) -> str:
    """Write an edge-list CSV into a fresh temporary folder and return its path."""
    path = tmp_path_factory.mktemp("topology") / f"{name}.csv"
    path.write_text(text)
    return str(path)


def static_diamond(diamond: str, single: bool = False):
    """One uniform matrix on the diamond, episodes of 8 steps, the LP optimum in ``info``
    (``rlte/TE-MA-v0``, or ``rlte/TE-v0`` with ``single``)."""
    options = dict(topology=diamond, traffic="uniform:1e9", load=None, train_fraction=0.0, window=1, k=2,
                   with_optimal=True, episode_length=8)  # fmt: skip
    return gym.make("rlte/TE-v0", **options) if single else make_parallel("rlte/TE-MA-v0", **options)


def moving_diamond(diamond: str):
    """A synthetic week of diurnal traffic on the diamond: random episode starts, changing traffic;
    episodes of 10 steps, so checkpoints (every 64 steps) fall inside episodes."""
    return make_parallel("rlte/TE-MA-v0", topology=diamond, traffic="diurnal:uniform:1e9", load=None, window=2,
                         k=2, with_optimal=False, episode_length=10)  # fmt: skip


def moving_diamond_single(diamond: str):
    """`moving_diamond` for one centralised agent (``rlte/TE-v0``)."""
    return gym.make("rlte/TE-v0", topology=diamond, traffic="diurnal:uniform:1e9", load=None, window=2, k=2,
                    with_optimal=False, episode_length=10)  # fmt: skip


def kite_env(kite: str):
    return make_parallel("rlte/TE-MA-v0", topology=kite, traffic="uniform:1e9", load=None, train_fraction=0.0,
                         window=1, k=4, with_optimal=False, episode_length=8)  # fmt: skip


def same_state(first, second, where: str = "state") -> None:
    """Recursive exact equality of checkpoint-like values (tensors, arrays, dicts, lists, scalars)."""
    if isinstance(first, torch.Tensor):
        assert torch.equal(first, second), where
    elif isinstance(first, np.ndarray):
        assert np.array_equal(first, second), where
    elif isinstance(first, dict):
        assert first.keys() == second.keys(), where
        for key in first:
            same_state(first[key], second[key], f"{where}.{key}")
    elif isinstance(first, list | tuple):
        assert len(first) == len(second), where
        for i, (a, b) in enumerate(zip(first, second)):
            same_state(a, b, f"{where}[{i}]")
    else:
        assert first == second, where
