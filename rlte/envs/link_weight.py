"""``rlte/LinkWeight-MA-v0``: one agent per directed link tunes its weight; traffic follows weighted
next-hop splitting (seed 002, MAROH / SAMAROH)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rlte.envs.core import UTILISATION_CLIP
from rlte.envs.scenario import build, config_from_options
from rlte.errors import RlteError
from rlte.net.topology import Topology
from rlte.sim.flow import FlowModel, NextHopRouting, weights_to_splits

MODES = ("simultaneous", "sequential")


def stretch_dag(topology: Topology, stretch: float = 1.5) -> np.ndarray:
    """Eligible next hops per destination for hop-by-hop splitting on near-shortest paths.

    Link e = (u, v) is eligible toward t when it brings the traffic closer in the order
    (hop distance to t, node index) -- strictly fewer hops, or as many hops and a lower index --
    and ``h(v, t) + 1 <= stretch * h(u, t)``. The order makes every destination's graph acyclic
    (no forwarding loop); the second condition keeps each hop within the stretch of the shortest
    route from u (MAROH uses 1.5: with it, equal-distance detours are allowed from 2 hops away).

    Returns:
        on_dag [N, E] bool.
    """
    from rlte.net.paths import ecmp_dag

    hops = ecmp_dag(topology, metric="hops").dist  # [u, t]
    u, v = topology.src, topology.dst
    h_u, h_v = hops[u].T, hops[v].T  # [t, e]
    closer = (h_v < h_u) | ((h_v == h_u) & (v < u)[None, :])
    within = h_v + 1 <= stretch * h_u + 1e-9
    return closer & within & (h_u > 0)


class LinkWeightParallelEnv(ParallelEnv):
    """Link agents set weights; each node splits traffic over eligible next hops by weight.

    ## Description
    One agent per directed link (``link_<src>_<dst>``). A node forwards its traffic toward t over
    the eligible next hops (`stretch_dag`, paths within ``stretch`` x the shortest hop count) in
    proportion to their weights: MAROH's weighted hash, in expectation. Traffic is static within
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

    ## Arguments
    ``preset`` and scenario options (default: sndlib/abilene with its topohub demands at 60 % load;
    ``maroh-rhombus-40``, ``maroh-abilene-60``, ... for the MAROH inputs), ``mode``, ``horizons``,
    ``factor=1.25``, ``stretch=1.5``, ``min_weight=1.0``, ``max_weight=64.0``, ``reward``, ``part``.

    ## Version history
    - v0: first version.
    """

    metadata = {"name": "rlte_link_weight_ma_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        preset: str | None = None,
        *,
        mode: str = "simultaneous",
        horizons: int = 50,
        factor: float = 1.25,
        stretch: float = 1.5,
        min_weight: float = 1.0,
        max_weight: float = 64.0,
        reward: str = "phi_change",
        part: str = "train",
        render_mode: str | None = None,
        **scenario_options,
    ) -> None:
        if mode not in MODES:
            raise RlteError(f"mode {mode!r}: unknown (choose from {', '.join(MODES)})")
        if reward not in ("phi_change", "-phi"):
            raise RlteError(f"reward {reward!r}: unknown (choose from phi_change, -phi)")
        if horizons < 1:
            raise RlteError(f"horizons {horizons}: must be >= 1")
        if not (factor > 1.0):
            raise RlteError(f"factor {factor!r}: must be > 1")
        if not (0 < min_weight <= 1.0 <= max_weight):
            raise RlteError(f"weights [{min_weight}, {max_weight}]: need 0 < min_weight <= 1 <= max_weight")
        if preset is None and not scenario_options:
            scenario_options = {
                "topology": "sndlib/abilene",
                "traffic": "topohub",
                "load": 0.6,
                "train_fraction": 0.0,
            }
        self.scenario = build(config_from_options(preset, **scenario_options))
        self.topology = self.scenario.topology_for(part)
        self.matrices = self.scenario.matrices(part)
        self.mode, self.horizons, self.factor = mode, horizons, float(factor)
        self.min_weight, self.max_weight, self.reward_name = float(min_weight), float(max_weight), reward
        self.render_mode = render_mode
        self.eligible = stretch_dag(self.topology, stretch)
        self.model = FlowModel(self.topology)
        names = self.topology.nodes
        self.possible_agents = [
            f"link_{names[u]}_{names[v]}" for u, v in zip(self.topology.src, self.topology.dst)
        ]
        self.agents: list[str] = []
        num_actions = 2 if mode == "simultaneous" else 4
        size = 2 if mode == "simultaneous" else 3
        self._action_spaces = {agent: spaces.Discrete(num_actions) for agent in self.possible_agents}
        self._observation_spaces = {
            agent: spaces.Box(0.0, UTILISATION_CLIP, (size,), np.float32) for agent in self.possible_agents
        }
        self.state_space = spaces.Box(0.0, UTILISATION_CLIP, (2 * self.topology.num_links,), np.float32)
        self._rng = np.random.default_rng()

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
        return self._observations(), {agent: {"phi": self.phi} for agent in self.agents}

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
        info = {"phi": self.phi, "mlu": float(self.util.max()), "horizon": self.horizon}
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
