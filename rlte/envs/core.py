"""The part of the traffic-engineering environments that is not an API: a scenario, its candidate
paths, the time line of an episode, the history an agent may observe, and the rewards.

`TECore` steps one traffic interval at a time under the time-series protocol: the routing chosen
at step t is applied to interval t's matrix, and the observation after it holds intervals up to t
only. Both `rlte/TE-v0` (one agent) and `rlte/TE-MA-v0` (one agent per node) wrap it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from rlte.envs.contract import EnvOptions, GraphObservation
from rlte.envs.scenario import Scenario
from rlte.errors import RlteError
from rlte.metrics import FLOW_METRICS
from rlte.net.paths import MAX_PATHS_PER_PAIR, PathSet, k_shortest_paths
from rlte.net.topology import Topology
from rlte.options import fail, option
from rlte.sim.flow import FlowModel, FlowStats, PathRouting

Reward = Literal["-mlu", "-mlu/optimal", "-phi", "-delay", "composite"]
Observe = Literal["utilisation", "traffic", "both"]
REWARDS = get_args(Reward)
OBSERVATIONS = get_args(Observe)
#: The flow-level metrics every step's ``info`` carries (the flow-TE domain's metrics).
METRICS = FLOW_METRICS

#: Weights of seed 000's composite reward, ``-(w_u * mean_util + w_c * mlu + w_d * delay_ms / 100
#: + w_l * 10 * loss_rate)``: utilisation, congestion (the busiest link), delay (per 100 ms) and
#: loss (per 10 %), chosen so that each term is about 1 on a congested network.
COMPOSITE_WEIGHTS = {"utilisation": 0.2, "congestion": 0.4, "delay": 0.2, "loss": 0.2}

#: Utilisations and normalised demands in observations are clipped to this (an overloaded link
#: reads as 4x its capacity at most), so observation spaces are bounded.
UTILISATION_CLIP = 4.0


@dataclass
class StepResult:
    """What one interval gave: the flow statistics and the reward."""

    stats: FlowStats
    reward: float
    info: dict


@dataclass(frozen=True)
class TEOptionsBase(EnvOptions):
    """Options shared by the traffic-engineering environments (``rlte/TE-v0``, ``rlte/TE-MA-v0``)."""

    k: int = option(4, ge=1, le=MAX_PATHS_PER_PAIR)
    """Candidate paths per demand (the k shortest by ``path_metric``)."""
    path_metric: Literal["hops", "weight", "delay"] = "hops"
    """What "shortest" means for the candidate paths."""
    window: int = option(4, ge=1)
    """Past intervals in an observation."""
    reward: Reward = "-mlu"
    """What the agent is rewarded for (see `REWARDS`)."""
    part: Literal["train", "test"] = "train"
    """Scenario part: ``train`` (episodes start at random intervals) or ``test`` (from its start)."""
    episode_length: int | None = option(288, ge=1)
    """Steps per episode; None runs to the end of the part."""
    logit_scale: float = option(3.0, gt=0.0)
    """Actions (in [-1, 1]) are multiplied by this before the softmax over a demand's paths."""
    reward_weights: dict[str, float] | None = None
    """Override `COMPOSITE_WEIGHTS` (keys utilisation, congestion, delay, loss)."""
    with_optimal: bool = True
    """Put the interval's LP-optimal MLU in ``info`` (solved once per matrix and cached); always on
    for the ``-mlu/optimal`` reward."""

    def check(self, where: str) -> None:
        for key in self.reward_weights or {}:
            if key not in COMPOSITE_WEIGHTS:
                fail(where, "reward_weights", self.reward_weights,
                     f"a mapping with keys among {', '.join(COMPOSITE_WEIGHTS)}")  # fmt: skip


def split_options(env_id: str, options_class: type[EnvOptions], options: dict) -> tuple[EnvOptions, dict]:
    """An environment's keyword options split into its own (parsed) and the scenario's (unparsed).

    Raises:
        RlteError: for a key that is neither, naming both lists.
    """
    from rlte.envs.scenario import ScenarioConfig

    own = {key: value for key, value in options.items() if key in options_class.keys()}
    rest = {key: value for key, value in options.items() if key not in own}
    for key in rest:
        if key not in ScenarioConfig.keys():
            import difflib

            known = [*options_class.keys(), *ScenarioConfig.keys()]
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RlteError(
                f"{env_id}: unknown option {key!r}{hint}; environment options: {', '.join(options_class.keys())}; "
                f"scenario options: {', '.join(ScenarioConfig.keys())}"
            )
    return options_class.parse(own, env_id), rest


class TECore:
    """Shared state and dynamics of the traffic-engineering environments.

    Args:
        scenario: the built scenario.
        options: the environment's options (`TEOptionsBase` fields).
        observe: ``utilisation``, ``traffic`` or ``both``.
    """

    def __init__(self, scenario: Scenario, options: TEOptionsBase, observe: str = "utilisation") -> None:
        weights = dict(COMPOSITE_WEIGHTS)
        weights.update({key: float(value) for key, value in (options.reward_weights or {}).items()})
        self.scenario = scenario
        self.k, self.path_metric, self.window = options.k, options.path_metric, options.window
        self.observe, self.reward_name, self.part = observe, options.reward, options.part
        self.weights = weights
        self.with_optimal = options.with_optimal or options.reward == "-mlu/optimal"
        part, window, episode_length = options.part, options.window, options.episode_length
        self.matrices = scenario.matrices(part)
        if len(self.matrices) == 0:
            raise RlteError("scenario has no traffic matrix")
        self.static = len(self.matrices) == 1
        available = len(self.matrices) - (0 if self.static else window)
        if available < 1:
            raise RlteError(
                f"scenario part {part!r} has {len(self.matrices)} intervals, fewer than window + 1 = {window + 1}"
            )
        self.episode_length = episode_length if episode_length is not None else available
        if not self.static and self.episode_length > available:
            self.episode_length = available
        self.base_topology = scenario.topology_for(part)
        self.num_links = self.base_topology.num_links
        self.num_nodes = self.base_topology.num_nodes
        self.pathset = k_shortest_paths(self.base_topology, self.k, metric=self.path_metric)
        self.num_demands = len(self.pathset.pairs)
        self.k_slots = self.pathset.mask.shape[1]
        self.pairs = self.pathset.pairs
        self.traffic_scale = float(np.median(self.base_topology.capacity))
        self._setups: dict[int, tuple[Topology, PathSet, FlowModel, np.ndarray]] = {}
        self._setup_for_step(0)

    # ------------------------------------------------------------------ topology over time
    def _setup_for_step(self, step: int):
        """Topology, paths, flow model and link map (indices into the base topology) in force at
        ``step``; built once per distinct failure state (`rlte.envs.scenario.Scenario.topology_at`)."""
        state = self.scenario.failure_state(step)
        if state not in self._setups:
            topology = self.scenario.topology_at(self.part, step)
            if state == 0:
                topology, pathset = self.base_topology, self.pathset
            else:
                pathset = k_shortest_paths(topology, self.k, metric=self.path_metric)
            link_map = np.array(
                [self.base_topology.link_index[(int(u), int(v))] for u, v in zip(topology.src, topology.dst)],
                dtype=np.int64,
            )
            self._setups[state] = (topology, pathset, FlowModel(topology), link_map)
        return self._setups[state]

    @property
    def mask(self) -> np.ndarray:
        """Valid path slots [D, K] of the base path set."""
        return self.pathset.mask

    # ------------------------------------------------------------------ episodes
    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode: a random start in the training part, the first interval in the test part."""
        if self.static:
            self.start = 0
        elif self.part == "train":
            last_start = len(self.matrices) - self.window - self.episode_length
            self.start = int(rng.integers(0, last_start + 1))
        else:
            self.start = 0
        self.step_count = 0
        self.t = self.start + (0 if self.static else self.window)
        n_hist = self.window
        self.util_history = np.zeros((n_hist, self.num_links))
        self.traffic_history = np.zeros((n_hist, self.num_demands))
        if not self.static:
            # the warm-up window: observed under an even split over the candidate paths
            even = self.pathset.mask / self.pathset.mask.sum(axis=1, keepdims=True)
            _, pathset, model, link_map = self._setup_for_step(0)
            past = self.matrices[self.start : self.t]
            loads = model.paths(pathset).link_loads(np.broadcast_to(even, (len(past), *even.shape)), past)
            self.util_history[:, link_map] = loads / model.topology.capacity
            self.traffic_history[:] = past[:, self.pairs[:, 0], self.pairs[:, 1]] / self.traffic_scale
        else:
            matrix = self.matrices[0]
            self.traffic_history[:] = matrix[self.pairs[:, 0], self.pairs[:, 1]] / self.traffic_scale

    def get_state(self) -> dict:
        """The episode state (for exact training checkpoints): position and observation history."""
        return {
            "start": int(self.start), "t": int(self.t), "step_count": int(self.step_count),
            "util_history": self.util_history.copy(), "traffic_history": self.traffic_history.copy(),
        }  # fmt: skip

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned."""
        self.start, self.t, self.step_count = int(state["start"]), int(state["t"]), int(state["step_count"])
        self.util_history = np.array(state["util_history"], dtype=np.float64)
        self.traffic_history = np.array(state["traffic_history"], dtype=np.float64)

    def current_matrix(self) -> np.ndarray:
        return self.matrices[self.t]

    def apply(self, splits: np.ndarray) -> StepResult:
        """Route interval t with path splits [D, K] over the base path set, advance time."""
        topology, pathset, model, link_map = self._setup_for_step(self.step_count)
        matrix = self.matrices[self.t]
        if pathset is not self.pathset:
            splits = self._remap_splits(splits, pathset)
        stats = model.evaluate(PathRouting(pathset, splits), matrix, check=False)
        utilisation = np.zeros(self.num_links)
        utilisation[link_map] = stats.utilisation
        optimal = self.scenario.optimal_mlu(self.part, self.t, topology) if self.with_optimal else None
        reward = self._reward(stats, optimal)
        info = {name: float(getattr(stats, name)) for name in FLOW_METRICS}
        info.update(interval=int(self.t), step=self.step_count)
        if optimal is not None:
            info["optimal_mlu"] = optimal
        self.util_history[:-1] = self.util_history[1:]
        self.util_history[-1] = utilisation
        self.traffic_history[:-1] = self.traffic_history[1:]
        self.traffic_history[-1] = matrix[self.pairs[:, 0], self.pairs[:, 1]] / self.traffic_scale
        self.step_count += 1
        if not self.static:
            self.t += 1
        return StepResult(stats, reward, info)

    def truncated(self) -> bool:
        return self.step_count >= self.episode_length

    def _remap_splits(self, splits: np.ndarray, pathset: PathSet) -> np.ndarray:
        """After a failure the path set is rebuilt; column j of the action means path j of the new set."""
        out = (
            splits[:, : pathset.mask.shape[1]] * pathset.mask
            if pathset.mask.shape[1] <= splits.shape[1]
            else None
        )
        if out is None:
            out = np.zeros(pathset.mask.shape)
            out[:, : splits.shape[1]] = splits
            out *= pathset.mask
        total = out.sum(axis=1, keepdims=True)
        even = pathset.mask / pathset.mask.sum(axis=1, keepdims=True)
        return np.where(total > 0, out / np.where(total > 0, total, 1.0), even)

    def _reward(self, stats: FlowStats, optimal: float | None) -> float:
        name = self.reward_name
        if name == "-mlu":
            return -float(stats.mlu)
        if name == "-mlu/optimal":
            return -float(stats.mlu) / optimal if optimal > 0 else -float(stats.mlu)
        if name == "-phi":
            return -float(stats.phi)
        if name == "-delay":
            return -float(stats.mean_delay_ms) / 1e3
        w = self.weights
        return -(
            w["utilisation"] * float(stats.mean_util)
            + w["congestion"] * float(stats.mlu)
            + w["delay"] * float(stats.mean_delay_ms) / 100.0
            + w["loss"] * 10.0 * float(stats.loss_rate)
        )

    # ------------------------------------------------------------------ observations
    def observation(self) -> np.ndarray:
        """The window of past intervals, flattened: utilisations [window, E] and/or demands
        [window, D] divided by the median link capacity, both clipped to `UTILISATION_CLIP`."""
        parts = []
        if self.observe in ("utilisation", "both"):
            parts.append(np.minimum(self.util_history, UTILISATION_CLIP).ravel())
        if self.observe in ("traffic", "both"):
            parts.append(np.minimum(self.traffic_history, UTILISATION_CLIP).ravel())
        return np.concatenate(parts).astype(np.float32)

    def graph(self) -> GraphObservation:
        """The topology as a graph over the window: node features [W, N, 2] (traffic each node
        originates and receives, divided by the median link capacity), edge features [W, E, 1]
        (link utilisation), both clipped to `UTILISATION_CLIP`."""
        topology = self.base_topology
        demand = np.zeros((self.window, self.num_nodes, self.num_nodes))
        demand[:, self.pairs[:, 0], self.pairs[:, 1]] = self.traffic_history
        nodes = np.stack([demand.sum(axis=2), demand.sum(axis=1)], axis=-1)
        return GraphObservation(
            node_features=np.minimum(nodes, UTILISATION_CLIP).astype(np.float32),
            edge_index=np.stack([topology.src, topology.dst]).astype(np.int64),
            edge_features=np.minimum(self.util_history, UTILISATION_CLIP)[..., None].astype(np.float32),
            node_feature_names=("traffic_out", "traffic_in"),
            edge_feature_names=("utilisation",),
        )

    def observation_size(self) -> int:
        size = 0
        if self.observe in ("utilisation", "both"):
            size += self.window * self.num_links
        if self.observe in ("traffic", "both"):
            size += self.window * self.num_demands
        return size


def masked_softmax(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Split ratios from logits [..., D, K]: a softmax over each demand's valid paths."""
    shifted = np.where(mask, logits, -np.inf)
    shifted -= shifted.max(axis=-1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=-1, keepdims=True)
    return shifted
