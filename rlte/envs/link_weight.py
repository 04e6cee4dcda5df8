"""``rlte/LinkWeight-MA-v0``: one agent per directed link tunes its weight; traffic follows weighted
next-hop splitting (seed 002, MAROH / SAMAROH)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rlte.envs.contract import (
    EnvOptions,
    GraphObservation,
    generator_from_state,
    generator_state,
    restore_spaces_state,
    spaces_state,
)
from rlte.envs.core import UTILISATION_CLIP, split_options
from rlte.envs.scenario import build, config_from_options
from rlte.errors import RlteError
from rlte.net.paths import stretch_dag
from rlte.options import option
from rlte.sim.flow import FlowModel, NextHopRouting, weights_to_splits

MODES = ("simultaneous", "sequential")
#: The metrics in every step's ``info``.
METRICS = ("phi", "mlu", "mean_util")
#: The scenario when no preset or option says otherwise: sndlib/abilene with its static topohub
#: demands at 60 % load.
DEFAULT_SCENARIO = {"topology": "sndlib/abilene", "traffic": "topohub", "load": 0.6, "train_fraction": 0.0}


@dataclass(frozen=True)
class LinkWeightOptions(EnvOptions):
    """Options of ``rlte/LinkWeight-MA-v0`` (besides the scenario's)."""

    mode: Literal["simultaneous", "sequential"] = "simultaneous"
    """SAMAROH (every agent acts each horizon) or MAROH (one agent per horizon, round robin)."""
    horizons: int = option(50, ge=1)
    """Steps (weight changes) per episode."""
    factor: float = option(1.25, gt=1.0)
    """The multiplicative action's factor."""
    stretch: float = option(1.5, ge=1.0)
    """Eligible next hops lie on paths at most this many times the shortest hop count."""
    min_weight: float = option(1.0, gt=0.0, le=1.0)
    """Smallest weight (weights start at 1)."""
    max_weight: float = option(64.0, ge=1.0)
    """Largest weight."""
    reward: Literal["phi_change", "-phi"] = "phi_change"
    """phi before the step minus phi after it, or minus phi after it."""
    part: Literal["train", "test"] = "train"
    """Scenario part whose matrices episodes draw from."""


def _line_graph(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Edges (a, b) between links with dst[a] == src[b] and b not the reverse of a. Shape [2, M]."""
    a, b = np.nonzero((dst[:, None] == src[None, :]) & ~(src[:, None] == dst[None, :]))
    return np.stack([a, b]).astype(np.int64)


class LinkWeightParallelEnv(ParallelEnv):
    """Link agents set weights; each node splits traffic over eligible next hops by weight.

    ## Description
    One agent per directed link (``link_<src>_<dst>``). A node forwards its traffic toward t over
    the eligible next hops (`stretch_dag`, paths within ``stretch`` x the shortest hop count) in
    proportion to their weights (a fluid stand-in for MAROH's unsplittable weighted hash, which
    `rlte.sim.hash_routing` implements exactly and which gives 3 : 1, not 2 : 1, for weights
    1 : 0.5). Traffic is static within
    an episode (a flow set, or one interval of a series drawn at reset); an episode is
    ``horizons`` steps of weight changes. All weights start at 1.

    ## Modes
    ``mode="simultaneous"`` (SAMAROH): every agent acts each horizon. ``mode="sequential"``
    (MAROH): only one agent acts per horizon, in round-robin order from a random first link; the
    others' actions are ignored, and observations carry an ``active`` flag.

    ## Action space (per agent)
    ``Discrete(2)`` in simultaneous mode: 0 keeps the weight (``+0``), 1 multiplies it by
    ``factor`` (``*k``, default 1.25). ``Discrete(4)`` in sequential mode: also 2 adds 1 (``+1``)
    and 3 divides by ``factor`` (``/k``). Weights are clipped to ``[min_weight, max_weight]``.

    ## Observation space (per agent)
    ``Box``: [weight / max_weight, utilisation (clipped at 4)] and in sequential mode the active
    flag. Message passing between agents belongs to the agent (seed 002), not to the environment.

    ## Rewards
    ``reward="phi_change"`` (default, MAROH's "change"): phi before the step minus phi after it,
    shared by all agents; ``"-phi"``: minus phi after the step. phi is the population variance of
    link utilisation.

    ## Episode end
    Never terminated; truncated after ``horizons`` steps (default 50).

    ## Info
    ``phi``, ``mlu`` and ``mean_util`` of the link utilisations after the step, and the horizon.

    ## Arguments
    ``preset`` and scenario options over the environment's own default scenario
    (`DEFAULT_SCENARIO`: sndlib/abilene with its topohub demands at 60 % load; a preset such as
    ``maroh-rhombus-40`` or ``maroh-abilene-60`` for the MAROH inputs, and any option, change it
    field by field), and the `LinkWeightOptions` fields ``mode``, ``horizons=50``,
    ``factor=1.25``, ``stretch=1.5``, ``min_weight=1.0``, ``max_weight=64.0``, ``reward``, ``part``.
    `graph` gives the link agents' graph (for message passing).

    ## Version history
    - v0: first version.
    """

    metadata = {"name": "rlte_link_weight_ma_v0", "render_modes": [], "is_parallelizable": True}
    Options = LinkWeightOptions
    METRICS = METRICS

    def __init__(self, preset: str | None = None, *, render_mode: str | None = None, **options) -> None:
        self.options, scenario_options = split_options("rlte/LinkWeight-MA-v0", LinkWeightOptions, options)
        # the environment's own default scenario; a preset or options change it field by field
        self.scenario = build(config_from_options(preset, defaults=DEFAULT_SCENARIO, **scenario_options))
        opts = self.options
        self.topology = self.scenario.topology_for(opts.part)
        self.matrices = self.scenario.matrices(opts.part)
        self.mode, self.horizons, self.factor = opts.mode, opts.horizons, float(opts.factor)
        self.min_weight, self.max_weight, self.reward_name = opts.min_weight, opts.max_weight, opts.reward
        self.render_mode = render_mode
        self.eligible = stretch_dag(self.topology, opts.stretch)
        self.model = FlowModel(self.topology)
        names = self.topology.nodes
        self.possible_agents = [
            f"link_{names[u]}_{names[v]}" for u, v in zip(self.topology.src, self.topology.dst)
        ]
        self.agents: list[str] = []
        num_actions = 2 if self.mode == "simultaneous" else 4
        size = 2 if self.mode == "simultaneous" else 3
        self._action_spaces = {agent: spaces.Discrete(num_actions) for agent in self.possible_agents}
        self._observation_spaces = {
            agent: spaces.Box(0.0, UTILISATION_CLIP, (size,), np.float32) for agent in self.possible_agents
        }
        self.state_space = spaces.Box(0.0, UTILISATION_CLIP, (2 * self.topology.num_links,), np.float32)
        self._rng = np.random.default_rng()
        self._line_graph = _line_graph(self.topology.src, self.topology.dst)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_spaces[agent]

    # ------------------------------------------------------------------ dynamics
    def utilisation(self, weights: np.ndarray) -> np.ndarray:
        """Link utilisation [E] of the current matrix under link weights [E]."""
        splits = weights_to_splits(self.topology, weights, "weighted", eligible=self.eligible)
        return self.model.link_loads(NextHopRouting(splits), self.matrix) / self.topology.capacity

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            for i, agent in enumerate(self.possible_agents):
                self._action_spaces[agent].seed(seed + i)
        self.agents = list(self.possible_agents)
        self.interval = int(self._rng.integers(len(self.matrices))) if len(self.matrices) > 1 else 0
        self.matrix = self.matrices[self.interval]
        self.weights = np.ones(self.topology.num_links)
        self.util = self.utilisation(self.weights)
        self.phi = float(np.var(self.util))
        self.horizon = 0
        self.active = int(self._rng.integers(self.topology.num_links))
        return self._observations(), {agent: self._metrics() for agent in self.agents}

    def step(self, actions: dict):
        if not self.agents:
            raise RlteError("step() called on a finished episode: call reset() first")
        chosen = np.zeros(self.topology.num_links, dtype=np.int64)
        for i, agent in enumerate(self.possible_agents):
            if agent not in actions:
                raise RlteError(f"actions: missing the action of agent {agent!r}")
            chosen[i] = int(actions[agent])
        if self.mode == "sequential":
            acting = np.zeros_like(chosen)
            acting[self.active] = chosen[self.active]
            chosen = acting
        weights = self.weights.copy()
        weights = np.where(chosen == 1, weights * self.factor, weights)
        weights = np.where(chosen == 2, weights + 1.0, weights)
        weights = np.where(chosen == 3, weights / self.factor, weights)
        self.weights = np.clip(weights, self.min_weight, self.max_weight)
        previous = self.phi
        self.util = self.utilisation(self.weights)
        self.phi = float(np.var(self.util))
        reward = previous - self.phi if self.reward_name == "phi_change" else -self.phi
        self.horizon += 1
        if self.mode == "sequential":
            self.active = (self.active + 1) % self.topology.num_links
        truncated = self.horizon >= self.horizons
        info = {**self._metrics(), "horizon": self.horizon}
        observations = self._observations()
        rewards = {agent: reward for agent in self.agents}
        terminations = {agent: False for agent in self.agents}
        truncations = {agent: truncated for agent in self.agents}
        infos = {agent: dict(info) for agent in self.agents}
        if truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return np.concatenate(
            [self.weights / self.max_weight, np.minimum(self.util, UTILISATION_CLIP)]
        ).astype(np.float32)

    def render(self) -> None:
        return None

    # ------------------------------------------------------------------ the rlte contract
    def get_state(self) -> dict:
        """Generators (the environment's and each action space's), the agents still acting, the
        interval, the weights and the horizon (plain values and arrays)."""
        return {
            "rng": generator_state(self._rng), "action_spaces": spaces_state(self._action_spaces),
            "agents": list(self.agents), "interval": int(self.interval), "weights": self.weights.copy(),
            "horizon": int(self.horizon), "active": int(self.active),
        }  # fmt: skip

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned."""
        self._rng = generator_from_state(state["rng"])
        restore_spaces_state(self._action_spaces, state["action_spaces"])
        self.agents = list(state["agents"])
        self.interval = int(state["interval"])
        self.matrix = self.matrices[self.interval]
        self.weights = np.array(state["weights"], dtype=np.float64)
        self.util = self.utilisation(self.weights)
        self.phi = float(np.var(self.util))
        self.horizon, self.active = int(state["horizon"]), int(state["active"])

    def graph(self) -> GraphObservation:
        """The link agents as a graph: one node per directed link with features [weight /
        max_weight, utilisation (clipped at 4)]; an edge from link a to link b when a ends where b
        starts (a's traffic can continue on b)."""
        features = np.stack(
            [self.weights / self.max_weight, np.minimum(self.util, UTILISATION_CLIP)], axis=-1
        )
        return GraphObservation(
            features.astype(np.float32), self._line_graph, None, ("weight", "utilisation"), ()
        )

    def _metrics(self) -> dict:
        return {"phi": self.phi, "mlu": float(self.util.max()), "mean_util": float(self.util.mean())}

    def close(self) -> None:
        return None

    def _observations(self) -> dict[str, np.ndarray]:
        util = np.minimum(self.util, UTILISATION_CLIP)
        scaled = self.weights / self.max_weight
        observations = {}
        for i, agent in enumerate(self.possible_agents):
            values = [scaled[i], util[i]]
            if self.mode == "sequential":
                values.append(1.0 if i == self.active else 0.0)
            observations[agent] = np.array(values, dtype=np.float32)
        return observations
