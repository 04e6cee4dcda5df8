"""The methods an experiment can run: classical baselines (by their `rlte.baselines` names) and
learned agents (by the names below)."""

from __future__ import annotations

import difflib

from rlte.errors import RlteError

#: Learned methods: name -> (factory module:callable, description).
LEARNED = {
    "sb3_ppo": "Stable-Baselines3 PPO on rlte/TE-v0 (centralised, path splits)",
    "sb3_a2c": "Stable-Baselines3 A2C on rlte/TE-v0",
    "sb3_trpo": "sb3-contrib TRPO on rlte/TE-v0 (centralised, fixed KL bound)",
    "ma_trpo": "seed 000: multi-agent TRPO on rlte/TE-MA-v0 with the adaptive trust region (ATRA)",
    "ma_trpo_fixed": "seed 000's ablation: multi-agent TRPO with a fixed KL bound",
    "ma_ppo": "seed 000's comparison: multi-agent PPO, the same actor and critic as ma_trpo, clipped objective",
    "ma_dqn": "seed 000's comparison: multi-agent DQN over the discrete path choice",
}

#: Learned methods that act through the multi-agent rlte/TE-MA-v0 (the rest use rlte/TE-v0).
MULTI_AGENT = {"ma_trpo", "ma_trpo_fixed", "ma_ppo", "ma_dqn"}


def is_learned(name: str) -> bool:
    return name in LEARNED


def make_learned(name: str, params: dict, seed: int):
    """A learned agent by name."""
    if name.startswith("sb3_"):
        from rlte.agents.sb3 import SB3Agent

        return SB3Agent(name[len("sb3_") :].upper(), params, seed=seed)
    if name in ("ma_trpo", "ma_trpo_fixed"):
        from rlte.agents.trpo import TRPOAgent

        return TRPOAgent({**params, "atra": name == "ma_trpo"}, seed=seed)
    if name == "ma_ppo":
        from rlte.agents.mappo import PPOAgent

        return PPOAgent(params, seed=seed)
    if name == "ma_dqn":
        from rlte.agents.dqn import DQNAgent

        return DQNAgent(params, seed=seed)
    raise RlteError(f"method {name!r}: unknown learned method")


def check_method(name: str, params: dict, where: str) -> None:
    """Raise `RlteError` for an unknown method or parameter, naming ``where``."""
    from rlte.baselines import BASELINES, make_baseline

    if name in LEARNED:
        if name.startswith("sb3_"):
            from rlte.agents.sb3 import check_params
        elif name == "ma_ppo":
            from rlte.agents.mappo import check_params
        elif name == "ma_dqn":
            from rlte.agents.dqn import check_params
        else:
            from rlte.agents.trpo import check_params

            if "atra" in params:
                raise RlteError(
                    f"{where} ({name}): 'atra' is set by the method's name (ma_trpo or ma_trpo_fixed)"
                )
        check_params(params, f"{where} ({name})")
        return
    try:
        make_baseline(name)
    except RlteError:
        known = list(BASELINES) + list(LEARNED)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RlteError(f"{where}: unknown method {name!r}{hint}") from None
    if params:
        raise RlteError(
            f"{where}: baseline {name!r} takes no params (put k or a window in its name: kpath_uniform_k8)"
        )
