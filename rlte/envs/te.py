"""``rlte/TE-v0``: one centralised agent routes all traffic of a network, interval by interval."""

from __future__ import annotations

from collections.abc import Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlte.envs.core import UTILISATION_CLIP, TECore, masked_softmax
from rlte.envs.scenario import build, config_from_options


class TrafficEngineeringEnv(gym.Env):
    """Centralised traffic engineering over k candidate paths per demand.

    ## Description
    Each step is one traffic interval of a scenario (a topology and a traffic series split in time
    into training and test parts, scaled to a load level; see `rlte.envs.scenario`). The agent
    observes the past and chooses how every origin-destination demand is split over its k
    candidate paths for the next interval; the environment then applies that interval's real
    matrix in the fluid model (`rlte.sim.flow`). The agent never sees the matrix it routes.

    ## Action space
    ``action_type="splits"`` (default): ``Box(-1, 1, (D * K,), float32)``, logits per demand and
    path slot (scaled by ``logit_scale``) turned into split ratios by a softmax over each demand's
    valid paths. ``action_type="path"``: ``MultiDiscrete([K] * D)``, one path per demand (a slot
    beyond a demand's paths wraps around: slot j means path ``j mod num_paths``).

    ## Observation space
    ``Box(0, 4, (size,), float32)``: the last ``window`` intervals' link utilisations under the
    agent's own routing (``observe="utilisation"``), their demands divided by the median link
    capacity (``"traffic"``), or both (each clipped at 4), flattened oldest first. Before the first step
    the window is filled with the preceding intervals routed by an even split over the paths.

    ## Rewards
    ``reward``: ``-mlu`` (default), ``-mlu/optimal`` (relative to the interval's LP optimum),
    ``-phi`` (variance of link utilisation), ``-delay`` (mean delay in seconds), or ``composite``
    (seed 000: see `rlte.envs.core.COMPOSITE_WEIGHTS`).

    ## Episode end
    Never terminated (routing is a continuing task); truncated after ``episode_length`` steps
    (default 288, one day of 5-minute intervals; None runs to the end of the part). Training
    episodes start at a random interval; test episodes at the first.

    ## Info
    Every metric of the step (``mlu``, ``mean_util``, ``phi``, ``mean_delay_ms``, ``loss_rate``,
    ``throughput``), the interval's ``optimal_mlu`` and its index.

    ## Arguments
    ``preset`` (see `rlte.envs.scenario.PRESETS`) and any `ScenarioConfig` field (``topology``,
    ``traffic``, ``load``, ``bursts``, ``failures``, ...), plus ``k=4``, ``path_metric="hops"``,
    ``window=4``, ``observe="utilisation"``, ``reward="-mlu"``, ``part="train"``,
    ``episode_length=288``, ``action_type="splits"``, ``logit_scale=3.0``, ``with_optimal=True``.

    ## Version history
    - v0: first version.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        preset: str | None = None,
        *,
        k: int = 4,
        path_metric: str = "hops",
        window: int = 4,
        observe: str = "utilisation",
        reward: str = "-mlu",
        part: str = "train",
        episode_length: int | None = 288,
        action_type: str = "splits",
        logit_scale: float = 3.0,
        reward_weights: Mapping[str, float] | None = None,
        with_optimal: bool = True,
        render_mode: str | None = None,
        **scenario_options,
    ) -> None:
        from rlte.errors import RlteError

        if action_type not in ("splits", "path"):
            raise RlteError(f"action_type {action_type!r}: unknown (choose from splits, path)")
        self.scenario = build(config_from_options(preset, **scenario_options))
        self.core = TECore(
            self.scenario, k=k, path_metric=path_metric, window=window, observe=observe, reward=reward,
            part=part, episode_length=episode_length, reward_weights=reward_weights, with_optimal=with_optimal,
        )  # fmt: skip
        self.action_type = action_type
        self.logit_scale = float(logit_scale)
        self.render_mode = render_mode
        core = self.core
        if action_type == "splits":
            self.action_space = spaces.Box(-1.0, 1.0, (core.num_demands * core.k_slots,), np.float32)
        else:
            self.action_space = spaces.MultiDiscrete(np.full(core.num_demands, core.k_slots))
        self.observation_space = spaces.Box(0.0, UTILISATION_CLIP, (core.observation_size(),), np.float32)
        self._num_paths = core.mask.sum(axis=1)

    def splits_from_action(self, action) -> np.ndarray:
        """The split ratios [D, K] an action stands for."""
        core = self.core
        if self.action_type == "splits":
            logits = (
                np.asarray(action, dtype=np.float64).reshape(core.num_demands, core.k_slots)
                * self.logit_scale
            )
            return masked_softmax(logits, core.mask)
        choice = np.asarray(action, dtype=np.int64) % self._num_paths
        splits = np.zeros(core.mask.shape)
        splits[np.arange(core.num_demands), choice] = 1.0
        return splits

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.core.reset(self.np_random)
        return self.core.observation(), {"interval": int(self.core.t)}

    def step(self, action):
        result = self.core.apply(self.splits_from_action(action))
        return self.core.observation(), result.reward, False, self.core.truncated(), result.info
