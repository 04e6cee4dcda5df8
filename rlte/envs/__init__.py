"""Gymnasium and PettingZoo environments over rlte's simulators.

Importing this package registers the Gymnasium ids (``gymnasium.make("rlte/TE-v0", **options)``);
the PettingZoo ones are built by `make_parallel` (``make_parallel("rlte/TE-MA-v0", **options)``).
`make` builds either kind by id. Every environment implements the rlte contract
(`rlte.envs.contract`): an options class, ``get_state`` / ``set_state``, metrics in ``info``.
"""

from __future__ import annotations

import difflib
import importlib
from typing import NamedTuple

import gymnasium as gym

from rlte.errors import RlteError


class EnvEntry(NamedTuple):
    """A registered environment."""

    kind: str
    """``gym`` (a `gymnasium.Env`, built with `gymnasium.make`) or ``parallel`` (a PettingZoo
    ``ParallelEnv``)."""
    entry_point: str
    """``module:Class``."""


#: Every rlte environment id.
ENVS: dict[str, EnvEntry] = {
    "rlte/TE-v0": EnvEntry("gym", "rlte.envs.te:TrafficEngineeringEnv"),
    "rlte/TE-MA-v0": EnvEntry("parallel", "rlte.envs.te_ma:NodeRoutingParallelEnv"),
    "rlte/LinkWeight-MA-v0": EnvEntry("parallel", "rlte.envs.link_weight:LinkWeightParallelEnv"),
    "rlte/MAROH-MA-v0": EnvEntry("parallel", "rlte.envs.maroh:MarohParallelEnv"),
    "rlte/PacketRouting-v0": EnvEntry("parallel", "rlte.envs.packet:PacketRoutingParallelEnv"),
    "rlte/Cluster-v0": EnvEntry("gym", "rlte.envs.cluster:ClusterEnv"),
    "rlte/STRL-v0": EnvEntry("gym", "rlte.envs.strl:STRLEnv"),
}

GYM_IDS = tuple(env_id for env_id, entry in ENVS.items() if entry.kind == "gym")
PARALLEL_ENVS = {env_id: entry.entry_point for env_id, entry in ENVS.items() if entry.kind == "parallel"}

for _id in GYM_IDS:
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=ENVS[_id].entry_point, disable_env_checker=True)


def _entry(env_id: str, kinds: tuple[str, ...] = ("gym", "parallel")) -> EnvEntry:
    known = [i for i, entry in ENVS.items() if entry.kind in kinds]
    if env_id not in known:
        close = difflib.get_close_matches(str(env_id), known, n=2)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise RlteError(f"environment {env_id!r}: unknown{hint}; ids: {', '.join(known)}")
    return ENVS[env_id]


def env_class(env_id: str) -> type:
    """The class of a registered environment."""
    module, _, name = _entry(env_id).entry_point.partition(":")
    return getattr(importlib.import_module(module), name)


def options_class(env_id: str) -> type:
    """The options dataclass of a registered environment (its valid keys, types and ranges)."""
    return env_class(env_id).Options


def is_multi_agent(env_id: str) -> bool:
    """Whether an id is a PettingZoo ``ParallelEnv``."""
    return _entry(env_id).kind == "parallel"


def make_parallel(env_id: str, **options):
    """Build a registered PettingZoo ``ParallelEnv`` by id."""
    _entry(env_id, ("parallel",))
    return env_class(env_id)(**options)


def make(env_id: str, **options):
    """Build any registered environment by id (`gymnasium.make` for Gymnasium ids)."""
    if _entry(env_id).kind == "gym":
        return gym.make(env_id, **options)
    return make_parallel(env_id, **options)


__all__ = ["ENVS", "GYM_IDS", "PARALLEL_ENVS", "EnvEntry", "env_class", "is_multi_agent", "make",
           "make_parallel", "options_class"]  # fmt: skip
