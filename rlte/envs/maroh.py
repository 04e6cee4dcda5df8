"""``rlte/MAROH-MA-v0``: seed 002's environment (MAROH, SAMAROH and their two-layer variants). One
agent per directed link sets its weight; every flow of a static flow set follows one path, chosen
hop by hop by the authors' weighted hash over the eligible next hops (`rlte.sim.hash_routing`).

The dynamics are those of the authors' ``dte_stand`` environment: an episode starts with every
weight at 1 and lasts ``horizons`` decision steps on the same flows; at each step every agent
either keeps its weight (``+0``) or multiplies it by ``factor`` (``*1.25``), the only two actions
the authors enable; the reward is Phi before the step minus Phi after it, shared by all agents.
Weights have no upper bound (the authors' ``weight_update="sum"`` never clips; the hash only sees
each node's weight ratios).

Besides the PettingZoo API the environment offers a batched, stateless form of the same dynamics
for learners that run many episodes in lockstep (`initial_state`, `advance`, `observe`): it is
what `step` itself uses, so both give the same numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

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
from rlte.errors import RlteError
from rlte.net.flows import Flows, read_maroh_flows
from rlte.net.topology import Topology
from rlte.options import option

ENV_ID = "rlte/MAROH-MA-v0"
#: The metrics in every step's ``info``.
METRICS = ("phi", "mlu", "mean_util")
#: A flow set named by its file beside the topology's (``flows40`` is ``flows40.json``).
FLOW_SET_NAME = re.compile(r"flows\d+")
#: Actions: keep the weight, or multiply it by ``factor``.
KEEP, MULTIPLY = 0, 1


@dataclass(frozen=True)
class MarohOptions(EnvOptions):
    """Options of ``rlte/MAROH-MA-v0``."""

    topology: str = "maroh/rhombus"
    """The network (`rlte.net.sources` names: ``maroh/rhombus``, ``maroh/abilene``, a file)."""
    flows: str = "flows40"
    """The flow set: ``flowsNN`` beside the topology's file, ``maroh/<net>/flowsNN`` or a JSON file."""
    data_dir: str | None = None
    """The data directory (default: ``RLTE_DATA`` or the checkout's)."""
    routing: Literal["hash", "split"] = "hash"
    """Per-flow weighted hash (the authors') or proportional splitting of each node's traffic."""
    dag: Literal["stretch", "authors"] = "stretch"
    """Eligible next hops: rlte's stretch DAG (`rlte.net.paths.stretch_dag`) or the authors' path
    calculator (`rlte.net.maroh_dag`; hash routing only)."""
    stretch: float = option(1.5, ge=1.0)
    """Eligible routes are at most this many times the shortest hop count (both DAGs)."""
    hash_seed: int | None = None
    """The hash's seed, appended to each flow id (the authors' default: none)."""
    horizons: int = option(20, ge=1)
    """Decision steps per episode (the authors': 20 on rhombus for SAMAROH, 100 for MAROH)."""
    factor: float = option(1.25, gt=1.0)
    """The multiplicative action's factor."""
    max_weight: float | None = option(None, gt=1.0)
    """Largest weight (None: unbounded, as the authors')."""
    weight_scale: float = option(3.0, gt=0.0)
    """Observations carry weight / weight_scale (the authors': 3 x their largest initial weight, 1)."""
    normalize: bool = True
    """Normalise observations by running statistics over the episode, as the authors' environment
    does (its ``WelfordStateNormalizer``, recurrence and all: see `normalised`)."""
    reward: Literal["phi_change", "-phi"] = "phi_change"
    """Phi before the step minus Phi after it (the authors'), or minus Phi after it."""


class LinkState(NamedTuple):
    """The state of B episodes of one environment (the batched dynamics).

    Attributes:
        weights: link weights. Shape [B, E].
        utilisation: link load / capacity under them. Shape [B, E].
        phi: Phi of that utilisation. Shape [B].
        horizon: decision steps taken. Shape [B].
        mean: the observation normaliser's running mean. Shape [B, E, 2].
        squares: its running sum of squared deviations. Shape [B, E, 2].
        count: its count (1 before the episode's first observation). Shape [B].
    """

    weights: np.ndarray
    utilisation: np.ndarray
    phi: np.ndarray
    horizon: np.ndarray
    mean: np.ndarray
    squares: np.ndarray
    count: np.ndarray


def normalised(features: np.ndarray, mean: np.ndarray, squares: np.ndarray, count: np.ndarray):
    """The authors' observation normaliser (``WelfordStateNormalizer`` in ``dte_stand``), exactly.

    Per episode it starts with ``count = 1``, ``mean = 0``, ``squares = 1``. The first observation
    passes unchanged and only sets ``count = 2``; each later one updates ``mean += (x - mean) /
    count``, then ``squares += (x - mean)^2`` with the *updated* mean (their code aliases the old
    mean to the new one), ``count += 1``, and returns ``(x - mean) / sqrt(squares / count)``. The
    first observation never enters the mean.

    Args:
        features: the raw observations. Shape [B, E, F].
        mean, squares: the running statistics. Shape [B, E, F].
        count: the count. Shape [B].

    Returns:
        ``(observations, mean, squares, count)``, the statistics updated (new arrays).
    """
    first = (count == 1)[:, None, None]
    step = count[:, None, None].astype(np.float64)
    new_mean = np.where(first, mean, mean + (features - mean) / step)
    new_squares = np.where(first, squares, squares + (features - new_mean) ** 2)
    new_count = count + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = (features - new_mean) / np.sqrt(new_squares / new_count[:, None, None])
    return np.where(first, features, scaled), new_mean, new_squares, new_count


def load_flow_set(topology_name: str, flows: str, data_dir: str | None, topology: Topology) -> Flows:
    """The flow set ``flows`` names, over the topology's nodes.

    Args:
        topology_name: the topology's name (``maroh/abilene``), to find ``flowsNN.json`` beside its file.
        flows: ``flowsNN`` (the file beside the topology's), ``maroh/<net>/flowsNN`` or a JSON file.
        data_dir: the data directory.
        topology: the loaded topology.

    Raises:
        RlteError: no such file, a file that is not a MAROH flow set, a flow on an unknown node.
    """
    from rlte.net.sources import resolve_topology, resolve_traffic

    where = f"flows {flows!r}"
    if FLOW_SET_NAME.fullmatch(flows):
        source = resolve_topology(topology_name, data_dir)
        if source.path is None:
            raise RlteError(
                f"{where}: names a file beside the topology's, but topology {topology_name!r} has no file"
            )
        path = source.path.parent / f"{flows}.json"
        if not path.exists():
            raise RlteError(f"{where}: no file {path}")
    else:
        source = resolve_traffic(flows, data_dir)
        if source.format != "maroh-flows" or source.path is None:
            raise RlteError(f"{where}: not a MAROH flow set (a flowsNN.json file)")
        path = source.path
    return read_maroh_flows(path, topology)


def head_to_tail_graph(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The authors' exchange graph between link agents: an edge a -> b when link a ends where link
    b starts (b's reverse included), sorted by sender then receiver. Shape [2, M], int64."""
    adjacent = np.asarray(dst)[:, None] == np.asarray(src)[None, :]
    np.fill_diagonal(adjacent, False)
    senders, receivers = np.nonzero(adjacent)
    return np.stack([senders, receivers]).astype(np.int64)


class MarohParallelEnv(ParallelEnv):
    """Link agents set weights; every flow is hashed onto one path by them (seed 002).

    ## Description
    One agent per directed link (``link_<src>_<dst>``). A static flow set (MAROH's
    ``flows40.json`` / ``flows60.json``, each flow with its id) is routed flow by flow: at every
    node a flow picks one eligible next hop toward its destination by the authors' weighted hash
    (`rlte.sim.hash_routing.FlowRouter`; ``routing="split"`` splits each node's traffic in
    proportion to the weights instead). Eligible next hops come from rlte's stretch DAG
    (``dag="stretch"``) or the authors' path calculator (``dag="authors"``,
    `rlte.net.maroh_dag`: next hops that depend on the flow's source and previous node, with the
    hash only). An episode starts with all weights at 1 and runs ``horizons`` steps on the same
    flows.

    ## Action space (per agent)
    ``Discrete(2)``: 0 keeps the weight (``+0``), 1 multiplies it by ``factor`` (``*1.25``). MAROH
    (one agent acts per horizon) is the joint action with at most one 1; SAMAROH lets every agent
    choose.

    ## Observation space (per agent)
    ``Box(-inf, inf, (2,))``: [utilisation, weight / ``weight_scale``], normalised over the
    episode by the authors' running statistics when ``normalize`` (the default; `normalised`).
    The first observation of an episode is the raw one.

    ## Rewards
    ``reward="phi_change"``: Phi before the step minus Phi after it, shared by all agents
    (``"-phi"``: minus Phi after it). Phi is the population variance of load / capacity over all
    directed links (`rlte.metrics.phi`).

    ## Episode end
    Never terminated; truncated after ``horizons`` steps.

    ## Info
    ``phi``, ``mlu`` and ``mean_util`` after the step, and ``horizon``.

    ## Batched dynamics (for learners)
    `initial_state(count)` gives B fresh episodes and their observations [B, E, 2]; `advance(state,
    actions [B, E])` steps them all and returns the new state, observations and rewards [B]. They
    keep no state of their own: the environment's episode is untouched. `graph` gives the agents'
    exchange graph.

    ## Arguments
    The `MarohOptions` fields: ``topology``, ``flows``, ``data_dir``, ``routing``, ``dag``,
    ``stretch``, ``hash_seed``, ``horizons``, ``factor``, ``max_weight``, ``weight_scale``,
    ``normalize``, ``reward``.

    ## Version history
    - v0: first version.
    """

    metadata = {"name": "rlte_maroh_ma_v0", "render_modes": [], "is_parallelizable": True}
    Options = MarohOptions
    METRICS = METRICS

    def __init__(self, *, render_mode: str | None = None, **options) -> None:
        from rlte.net.topology import load_topology
        from rlte.sim.hash_routing import FlowRouter

        self.options = opts = MarohOptions.parse(options, ENV_ID)
        self.topology = load_topology(opts.topology, data_dir=opts.data_dir)
        self.network = self.topology.name
        self.flows = load_flow_set(opts.topology, opts.flows, opts.data_dir, self.topology)
        self.router = FlowRouter(
            self.topology,
            self.flows,
            opts.routing,
            dag=opts.dag,
            stretch=opts.stretch,
            hash_seed=opts.hash_seed,
        )
        self.horizons, self.factor = opts.horizons, float(opts.factor)
        self.render_mode = render_mode
        names = self.topology.nodes
        self.possible_agents = [
            f"link_{names[u]}_{names[v]}" for u, v in zip(self.topology.src, self.topology.dst)
        ]
        self.agents: list[str] = []
        self.num_links = self.topology.num_links
        self._action_spaces = {agent: spaces.Discrete(2) for agent in self.possible_agents}
        self._observation_spaces = {
            agent: spaces.Box(-np.inf, np.inf, (2,), np.float32) for agent in self.possible_agents
        }
        self.state_space = spaces.Box(-np.inf, np.inf, (2 * self.num_links,), np.float32)
        self.edge_index = head_to_tail_graph(self.topology.src, self.topology.dst)
        self._rng = np.random.default_rng()
        self._state = self.initial_state(1)[0]
        self._observation = np.zeros((self.num_links, 2))

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_spaces[agent]

    # ------------------------------------------------------------------ batched dynamics
    def _measure(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        utilisation = self.router.utilisation(weights)
        return utilisation, np.var(utilisation, axis=-1)

    def observe(self, state: LinkState) -> tuple[LinkState, np.ndarray]:
        """The observations of a state (normalised when ``normalize``), which advance the
        normaliser: call once per step, as the environment does.

        Returns:
            The state with its normaliser updated, and the observations. Shape [B, E, 2], float32.
        """
        raw = np.stack([state.utilisation, state.weights / self.options.weight_scale], axis=-1)
        if not self.options.normalize:
            return state, raw.astype(np.float32)
        observations, mean, squares, count = normalised(raw, state.mean, state.squares, state.count)
        return state._replace(mean=mean, squares=squares, count=count), observations.astype(np.float32)

    def initial_state(self, count: int) -> tuple[LinkState, np.ndarray]:
        """B = ``count`` fresh episodes (all weights 1) and their first observations.

        Returns:
            ``(state, observations)``; observations Shape [B, E, 2], float32.
        """
        weights = np.ones((int(count), self.num_links))
        utilisation, phi = self._measure(weights)
        state = LinkState(
            weights, utilisation, phi, np.zeros(int(count), dtype=np.int64),
            np.zeros((int(count), self.num_links, 2)), np.ones((int(count), self.num_links, 2)),
            np.ones(int(count), dtype=np.int64),
        )  # fmt: skip
        return self.observe(state)

    def advance(self, state: LinkState, actions: np.ndarray) -> tuple[LinkState, np.ndarray, np.ndarray]:
        """One step of B episodes.

        Args:
            state: their state.
            actions: each agent's action (0 keep, 1 multiply). Shape [B, E].

        Returns:
            ``(state, observations, rewards)``: the new state, observations [B, E, 2] (float32) and
            the shared rewards [B].
        """
        actions = np.asarray(actions)
        if actions.shape != state.weights.shape:
            raise RlteError(f"{ENV_ID}: actions of shape {actions.shape}, want {state.weights.shape}")
        weights = np.where(actions == MULTIPLY, state.weights * self.factor, state.weights)
        if self.options.max_weight is not None:
            weights = np.minimum(weights, self.options.max_weight)
        utilisation, phi = self._measure(weights)
        reward = state.phi - phi if self.options.reward == "phi_change" else -phi
        moved = state._replace(weights=weights, utilisation=utilisation, phi=phi, horizon=state.horizon + 1)
        moved, observations = self.observe(moved)
        return moved, observations, reward

    # ------------------------------------------------------------------ the PettingZoo API
    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            for i, agent in enumerate(self.possible_agents):
                self._action_spaces[agent].seed(seed + i)
        self.agents = list(self.possible_agents)
        self._state, observations = self.initial_state(1)
        self._observation = observations[0]
        return self._observations(), {agent: self._metrics() for agent in self.agents}

    def step(self, actions: dict):
        if not self.agents:
            raise RlteError("step() called on a finished episode: call reset() first")
        chosen = np.zeros(self.num_links, dtype=np.int64)
        for i, agent in enumerate(self.possible_agents):
            if agent not in actions:
                raise RlteError(f"actions: missing the action of agent {agent!r}")
            value = int(actions[agent])
            if value not in (KEEP, MULTIPLY):
                raise RlteError(f"actions: agent {agent!r} took {actions[agent]!r}, not 0 or 1")
            chosen[i] = value
        self._state, observations, reward = self.advance(self._state, chosen[None])
        self._observation = observations[0]
        horizon = int(self._state.horizon[0])
        truncated = horizon >= self.horizons
        info = {**self._metrics(), "horizon": horizon}
        rewards = {agent: float(reward[0]) for agent in self.agents}
        terminations = {agent: False for agent in self.agents}
        truncations = {agent: truncated for agent in self.agents}
        infos = {agent: dict(info) for agent in self.agents}
        result = self._observations(), rewards, terminations, truncations, infos
        if truncated:
            self.agents = []
        return result

    def state(self) -> np.ndarray:
        """Every agent's current observation, [util..., weight...] (the authors' state layout)."""
        return self._observation.T.reshape(-1).astype(np.float32)

    def render(self) -> None:
        return None

    def close(self) -> None:
        return None

    # ------------------------------------------------------------------ the rlte contract
    def get_state(self) -> dict:
        """Generators (the environment's and each action space's), the agents still acting, the
        weights, horizon and normaliser statistics, and the current observation."""
        state = self._state
        return {
            "rng": generator_state(self._rng), "action_spaces": spaces_state(self._action_spaces),
            "agents": list(self.agents), "weights": state.weights.copy(), "horizon": state.horizon.copy(),
            "mean": state.mean.copy(), "squares": state.squares.copy(), "count": state.count.copy(),
            "observation": self._observation.copy(),
        }  # fmt: skip

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned."""
        self._rng = generator_from_state(state["rng"])
        restore_spaces_state(self._action_spaces, state["action_spaces"])
        self.agents = list(state["agents"])
        weights = np.array(state["weights"], dtype=np.float64)
        utilisation, phi = self._measure(weights)
        self._state = LinkState(
            weights, utilisation, phi, np.array(state["horizon"], dtype=np.int64),
            np.array(state["mean"], dtype=np.float64), np.array(state["squares"], dtype=np.float64),
            np.array(state["count"], dtype=np.int64),
        )  # fmt: skip
        self._observation = np.array(state["observation"], dtype=np.float32)

    def graph(self) -> GraphObservation:
        """The link agents' exchange graph (`head_to_tail_graph`: a -> b when a ends where b
        starts) with each agent's current observation as its features."""
        return GraphObservation(
            self._observation.astype(np.float32), self.edge_index, None, ("utilisation", "weight"), ()
        )

    def _metrics(self) -> dict:
        utilisation = self._state.utilisation[0]
        return {"phi": float(self._state.phi[0]), "mlu": float(utilisation.max()),
                "mean_util": float(utilisation.mean())}  # fmt: skip

    def _observations(self) -> dict[str, np.ndarray]:
        return {agent: self._observation[i].copy() for i, agent in enumerate(self.possible_agents)}
