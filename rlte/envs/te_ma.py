"""``rlte/TE-MA-v0``: one agent per node splits the traffic it originates (seed 000's set-up:
centralised training, decentralised execution)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rlte.envs.contract import (
    GraphObservation,
    generator_from_state,
    generator_state,
    restore_spaces_state,
    spaces_state,
)
from rlte.envs.core import METRICS, UTILISATION_CLIP, TECore, TEOptionsBase, masked_softmax, split_options
from rlte.envs.scenario import build, config_from_options
from rlte.errors import RlteError


@dataclass(frozen=True)
class TEMAOptions(TEOptionsBase):
    """Options of ``rlte/TE-MA-v0`` (besides the scenario's)."""

    reward_sharing: Literal["shared", "local"] = "shared"
    """Every agent gets the network's reward, or minus the busiest of its own out-links."""
    neighbours: bool = False
    """Observations include what each neighbour announced last interval."""


class NodeRoutingParallelEnv(ParallelEnv):
    """Multi-agent traffic engineering: node agents split their own demands over k paths.

    ## Description
    The dynamics, traffic, time line and metrics are those of ``rlte/TE-v0`` (`rlte.envs.core`).
    Agent ``node_<name>`` chooses the split ratios of the demands that node originates (N - 1 of
    them) over their k candidate paths. All agents act at once each interval.

    ## Action space (per agent)
    ``Box(-1, 1, ((N - 1) * K,), float32)``: logits (times ``logit_scale``), softmax over each
    demand's valid paths.

    ## Observation space (per agent)
    ``Box(0, 4, (size,), float32)``, flattened: the utilisation of the node's outgoing links over
    the last ``window`` intervals (padded with zeros to the largest out-degree), its own demand row
    over the same window (divided by the median link capacity, clipped at 4), and with
    ``neighbours=True`` what each neighbour announced last interval: the largest utilisation among
    that neighbour's outgoing links (padded to the largest out-degree).

    ## Global state
    `state()`: every link's utilisation and every demand over the window (``observe="both"`` of
    ``rlte/TE-v0``), for a centralised critic.

    ## Rewards
    ``reward`` as in ``rlte/TE-v0``. ``reward_sharing="shared"`` (default) gives every agent the
    network's reward; ``"local"`` gives each agent minus the largest utilisation among its own
    outgoing links (whatever ``reward`` is).

    ## Episode end
    Never terminated; truncated for every agent after ``episode_length`` steps.

    ## Arguments
    ``preset``, any scenario option, and the `TEMAOptions` fields: those of ``rlte/TE-v0`` but
    ``observe`` and ``action_type``, plus ``neighbours=False`` and ``reward_sharing="shared"``.
    `path_mask` and `latest_demands` give what a learner may know beyond the observation: the
    valid path slots of each agent's action and the latest demand vector.

    ## Version history
    - v0: first version.
    """

    metadata = {"name": "rlte_te_ma_v0", "render_modes": [], "is_parallelizable": True}
    Options = TEMAOptions
    METRICS = METRICS

    def __init__(self, preset: str | None = None, *, render_mode: str | None = None, **options) -> None:
        self.options, scenario_options = split_options("rlte/TE-MA-v0", TEMAOptions, options)
        self.scenario = build(config_from_options(preset, **scenario_options))
        self.core = TECore(self.scenario, self.options, observe="both")
        core = self.core
        topology = core.base_topology
        self.reward_sharing, self.neighbours = self.options.reward_sharing, self.options.neighbours
        self.logit_scale = float(self.options.logit_scale)
        self.render_mode = render_mode
        self.possible_agents = [f"node_{name}" for name in topology.nodes]
        self.agents: list[str] = []
        n = topology.num_nodes
        window = self.options.window
        self.out_links = [np.flatnonzero(topology.src == u) for u in range(n)]
        self.max_degree = max(len(links) for links in self.out_links)
        self.neighbour_of = [topology.dst[links] for links in self.out_links]
        # the demands of node u are d = u * (N - 1) ... (u + 1) * (N - 1) - 1 (s-major numbering)
        self.own_demands = [np.arange(u * (n - 1), (u + 1) * (n - 1)) for u in range(n)]
        per_agent = window * self.max_degree + window * (n - 1) + (self.max_degree if self.neighbours else 0)
        self._observation_spaces = {
            agent: spaces.Box(0.0, UTILISATION_CLIP, (per_agent,), np.float32)
            for agent in self.possible_agents
        }
        self._action_spaces = {
            agent: spaces.Box(-1.0, 1.0, ((n - 1) * core.k_slots,), np.float32)
            for agent in self.possible_agents
        }
        self.state_space = spaces.Box(0.0, UTILISATION_CLIP, (core.observation_size(),), np.float32)
        self._rng = np.random.default_rng()

    def path_mask(self, agent: str) -> np.ndarray:
        """The valid path slots of an agent's demands, [N - 1, K] bool: action entry
        ``j * K + k`` is path k of the agent's j-th demand, and only valid slots carry traffic."""
        return self.core.mask[self.own_demands[self.possible_agents.index(agent)]]

    def latest_demands(self) -> np.ndarray:
        """Every demand of the latest observed interval (divided by the median link capacity,
        clipped at 4). Shape [D]."""
        return np.minimum(self.core.traffic_history[-1], UTILISATION_CLIP)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self._action_spaces[agent]

    # ------------------------------------------------------------------ API
    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            for i, agent in enumerate(self.possible_agents):
                self._action_spaces[agent].seed(seed + i)
        self.agents = list(self.possible_agents)
        self.core.reset(self._rng)
        observations = self._observations()
        return observations, {agent: {"interval": int(self.core.t)} for agent in self.agents}

    def step(self, actions: dict):
        if not self.agents:
            raise RlteError("step() called on a finished episode: call reset() first")
        core = self.core
        n = core.num_nodes
        logits = np.zeros((core.num_demands, core.k_slots))
        for u, agent in enumerate(self.possible_agents):
            if agent not in actions:
                raise RlteError(f"actions: missing the action of agent {agent!r}")
            logits[self.own_demands[u]] = np.asarray(actions[agent], dtype=np.float64).reshape(
                n - 1, core.k_slots
            )
        result = core.apply(masked_softmax(logits * self.logit_scale, core.mask))
        if self.reward_sharing == "shared":
            rewards = {agent: result.reward for agent in self.agents}
        else:
            latest = core.util_history[-1]
            rewards = {
                agent: -float(latest[self.out_links[u]].max()) for u, agent in enumerate(self.possible_agents)
            }
        truncated = core.truncated()
        observations = self._observations()
        terminations = {agent: False for agent in self.agents}
        truncations = {agent: truncated for agent in self.agents}
        infos = {agent: dict(result.info) for agent in self.agents}
        if truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return np.minimum(self.core.observation(), UTILISATION_CLIP)

    def render(self) -> None:
        return None

    # ------------------------------------------------------------------ the rlte contract
    def get_state(self) -> dict:
        """Generators (the environment's and each action space's), the agents still acting and the
        episode's position and observation history (plain values and arrays)."""
        return {"rng": generator_state(self._rng), "action_spaces": spaces_state(self._action_spaces),
                "agents": list(self.agents), "core": self.core.get_state()}  # fmt: skip

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned."""
        self._rng = generator_from_state(state["rng"])
        restore_spaces_state(self._action_spaces, state["action_spaces"])
        self.agents = list(state["agents"])
        self.core.set_state(state["core"])

    def graph(self) -> GraphObservation:
        """The observation window as a graph over the topology (`rlte.envs.core.TECore.graph`)."""
        return self.core.graph()

    def close(self) -> None:
        return None

    # ------------------------------------------------------------------ helpers
    def _observations(self) -> dict[str, np.ndarray]:
        core = self.core
        util = np.minimum(core.util_history, UTILISATION_CLIP)  # [window, E]
        traffic = np.minimum(core.traffic_history, UTILISATION_CLIP)  # [window, D]
        latest_max = np.zeros(core.num_nodes)
        for u, links in enumerate(self.out_links):
            latest_max[u] = util[-1, links].max()
        observations = {}
        for u, agent in enumerate(self.possible_agents):
            own = np.zeros((core.window, self.max_degree))
            own[:, : len(self.out_links[u])] = util[:, self.out_links[u]]
            parts = [own.ravel(), traffic[:, self.own_demands[u]].ravel()]
            if self.neighbours:
                announced = np.zeros(self.max_degree)
                announced[: len(self.neighbour_of[u])] = latest_max[self.neighbour_of[u]]
                parts.append(announced)
            observations[agent] = np.concatenate(parts).astype(np.float32)
        return observations
