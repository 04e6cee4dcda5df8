"""``rlte/TE-v0``: one centralised agent routes all traffic of a network, interval by interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlte.envs.contract import GraphObservation, generator_from_state, generator_state
from rlte.envs.core import (
    METRICS,
    UTILISATION_CLIP,
    Observe,
    TECore,
    TEOptionsBase,
    masked_softmax,
    split_options,
)
from rlte.envs.scenario import build, config_from_options


@dataclass(frozen=True)
class TEOptions(TEOptionsBase):
    """Options of ``rlte/TE-v0`` (besides the scenario's)."""

    observe: Observe = "utilisation"
    """What the observation holds: link utilisations, demands, or both."""
    action_type: Literal["splits", "path"] = "splits"
    """Split ratios over the k paths, or one path per demand."""


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
    `graph` gives the same window as a graph (`rlte.envs.core.TECore.graph`).

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
    ``preset`` (see `rlte.envs.scenario.PRESETS`), any `rlte.envs.scenario.ScenarioConfig` field
    (``topology``, ``traffic``, ``load``, ``bursts``, ``failures``, ...), and the `TEOptions`
    fields: ``k=4``, ``path_metric="hops"``, ``window=4``, ``observe="utilisation"``,
    ``reward="-mlu"``, ``part="train"``, ``episode_length=288``, ``action_type="splits"``,
    ``logit_scale=3.0``, ``reward_weights=None``, ``with_optimal=True``. Every value is checked
    (`rlte.options`): a bad one is an `rlte.errors.RlteError` naming it.

    ## Version history
    - v0: first version.
    """

    metadata = {"render_modes": []}
    Options = TEOptions
    METRICS = METRICS

    def __init__(self, preset: str | None = None, *, render_mode: str | None = None, **options) -> None:
        self.options, scenario_options = split_options("rlte/TE-v0", TEOptions, options)
        self.scenario = build(config_from_options(preset, **scenario_options))
        self.core = TECore(self.scenario, self.options, observe=self.options.observe)
        self.action_type = self.options.action_type
        self.logit_scale = float(self.options.logit_scale)
        self.render_mode = render_mode
        core = self.core
        if self.action_type == "splits":
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

    # ------------------------------------------------------------------ the rlte contract
    def get_state(self) -> dict:
        """The generator, the episode's position and observation history (plain values and arrays)."""
        return {"np_random": generator_state(self.np_random), "core": self.core.get_state()}

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned."""
        self._np_random = generator_from_state(state["np_random"])
        self.core.set_state(state["core"])

    def graph(self) -> GraphObservation:
        """The observation window as a graph over the topology (`rlte.envs.core.TECore.graph`)."""
        return self.core.graph()
