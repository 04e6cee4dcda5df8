"""Gymnasium and PettingZoo environments over rlte's simulators.

Importing this package registers the Gymnasium ids (``gymnasium.make("rlte/TE-v0", **options)``);
the PettingZoo ones are built by `make_parallel` (``make_parallel("rlte/TE-MA-v0", **options)``).
"""

from __future__ import annotations

import difflib

import gymnasium as gym

from rlte.errors import RlteError

GYM_IDS = ("rlte/TE-v0",)

for _id, _entry in (("rlte/TE-v0", "rlte.envs.te:TrafficEngineeringEnv"),):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry, disable_env_checker=True)

PARALLEL_ENVS = {
    "rlte/TE-MA-v0": "rlte.envs.te_ma:NodeRoutingParallelEnv",
    "rlte/LinkWeight-MA-v0": "rlte.envs.link_weight:LinkWeightParallelEnv",
}


def make_parallel(env_id: str, **options):
    """Build a registered PettingZoo ``ParallelEnv`` by id."""
    import importlib

    if env_id not in PARALLEL_ENVS:
        close = difflib.get_close_matches(env_id, list(PARALLEL_ENVS), n=2)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise RlteError(f"environment {env_id!r}: unknown{hint}; ids: {', '.join(PARALLEL_ENVS)}")
    module, _, name = PARALLEL_ENVS[env_id].partition(":")
    return getattr(importlib.import_module(module), name)(**options)


__all__ = ["GYM_IDS", "PARALLEL_ENVS", "make_parallel"]
