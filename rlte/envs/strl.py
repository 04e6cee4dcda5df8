"""``rlte/STRL-v0``: seed 001's routing of one node pair through an hourly, trace-driven queueing
network (Wang and Leung, Spatial-Temporal Reinforcement Learning for Network Routing with
Non-Markovian Traffic).

The network (`rlte.sim.strl`): the topology's nodes process packets at rates mu_i, its links carry
B / L = 1 Gbit/s / 64 kbit = 15,625 packets/s, every queue with a buffer; one step is one hour.
Traffic: lambda(t) packets in hour t, proportional to the Alibaba 2018 trace's hourly CPU
utilisation (the utilisation law ``rho_cpu(t) = lambda(t) C``), shared between every ordered node
pair: the controlled pair gets ``pair_share`` of it, the other pairs equal parts of the rest. Every
pair but the controlled one routes at random: its packets pick one of the pair's ``random_paths``
fewest-hop simple paths uniformly, which as fluid is an even split.

Calibration (the paper sets the mu_i "neither too slow nor too fast" and says no more): under the
random routing of every pair, on the base topology (without ``extra_links``) and at the trace's
mean rate, the busiest link runs at ``link_load`` (this fixes the constant C: the mean rate), and
node i runs at u_i, the values ``node_load[0] ... node_load[1]`` spread evenly over the nodes in
an order drawn from ``rates_seed`` (this fixes mu_i = offered_i / u_i). With the trace's peak hour
1.57 times its mean, the nodes with u_i above about 0.64 overload in the busy hours, build backlogs
that drain through the night, and some drop packets when their buffers (``buffer_s`` seconds of
service) fill; the others stay lightly queued. So queues neither explode nor stay empty, and the
rates are properties of the nodes: a topology with links added keeps them.

## Action Space
``Box(-1, 1, (N,))``: an efficiency score a_i per node. A node costs ``c_i = (1 - a_i) / 2 + 0.01``
(Dijkstra needs costs > 0; a higher score is a cheaper node), a path the sum of the costs of the
nodes it enters (its source excluded), and the controlled pair's ``paths`` cheapest simple paths
(Yen's k shortest paths on the node costs, computed exactly by scoring the pair's every simple path)
carry its traffic in proportion to ``exp(-(cost_p - cost_min) / temperature)``: the best path most,
the tenth the least. (The paper says only that Dijkstra selects the top 10 paths.)

## Observation Space
``Box(0, float32 max, (window, N, 1 + max_links))``, oldest hour first: per hour and node, the node's
delay (waiting plus processing) and the delays of its outgoing links in link order (waiting,
transmission and propagation), 0 for the missing ones; as ``log(1 + ms)`` (``observation="log"``)
or in ms. ``graph()`` gives the same window as node features with the topology's links as edges.

## Rewards
The paper's: system throughput (packets delivered over packets injected in the hour) over the mean
delay of the hour's delivered packets, in seconds.

## Starting State
The network starts empty, then runs ``warmup_hours`` hours of random routing for every pair (the
controlled one included) on the hours before the episode's first; the last ``window`` of them fill
the observation. Training episodes start at a random hour of the training part and run
``episode_length`` hours, the part's hours cyclically (it is whole days, so the time of day runs
on); the test part is the trace's hours after the training days, run once from its first hour,
warmed up on the hours before it.

## Episode End
Truncated after ``episode_length`` hours (the test part: at its end). Never terminated.

## Info
`METRICS` of the hour (``reward``; ``throughput``; ``delay_ms``, the mean delay of the delivered
packets; ``loss_rate``, dropped over injected; ``pair_delay_ms``, the controlled pair's mean delay;
``queued``, packets waiting at the hour's end) and ``hour`` (its index in the trace).

## Arguments
The fields of `STRLOptions`, plus ``render_mode`` (None only). Every value is checked
(`rlte.options`).

## Version history
- v0: first version.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlte.envs.contract import EnvOptions, GraphObservation, generator_from_state, generator_state
from rlte.errors import RlteError
from rlte.options import fail, option
from rlte.sim import strl

ENV_ID = "rlte/STRL-v0"
METRICS = ("reward", "throughput", "delay_ms", "loss_rate", "pair_delay_ms", "queued")
NODE_COST_FLOOR = 0.01
"""Added to every node's cost so that Dijkstra's costs are > 0."""
MAX_PAIR_PATHS = 20_000
"""The controlled pair's simple paths are enumerated; a topology with more is refused."""
NSFNET_NAMES = ("CA1", "WA", "CA2", "UT", "CO", "TX", "NE", "IL", "MI", "NY", "PA", "NJ", "MD", "GA")
"""The paper's state abbreviations for rlte's ``nsfnet14`` numbering (NY / NJ by convention)."""
MODIFIED_LINKS = ((4, 13), (6, 13))
"""The links the paper's Figure 3(b) adds to NSFNET: CO-GA and NE-GA."""


@dataclass
class STRLOptions(EnvOptions):
    """The options of ``rlte/STRL-v0`` (every constructor option, with its default)."""

    topology: str = "nsfnet14"
    """The network (`rlte.net.topology.load_topology`)."""
    extra_links: tuple[tuple[int, int], ...] = ()
    """Links added (both directions) after calibration: the paper's modified topology is
    ``[[4, 13], [6, 13]]``."""
    data_dir: str | None = None
    """Where a data-directory topology is read from."""
    pair: tuple[int, int] = (0, 9)
    """The node pair the agent routes (source, destination): CA1 to NY, coast to coast, by default."""
    pair_share: float = option(0.02, gt=0.0, lt=1.0)
    """The controlled pair's share of lambda(t) (the other pairs share the rest equally)."""
    paths: int = option(10, ge=1)
    """The cheapest paths the controlled pair's traffic uses (the paper's top 10)."""
    temperature: float = option(0.1, gt=0.0)
    """Of the split over those paths by their costs."""
    random_paths: int = option(3, ge=1)
    """The fewest-hop simple paths a randomly routed pair picks from."""
    link_load: float = option(0.6, gt=0.0)
    """The busiest link's utilisation under random routing at the trace's mean rate (sets lambda)."""
    node_load: tuple[float, float] = option((0.3, 0.7), gt=0.0)
    """The range of the nodes' utilisations under random routing at the mean rate (sets mu_i)."""
    rates_seed: int = option(0, ge=0)
    """Draws which node gets which utilisation."""
    buffer_s: float = option(600.0, gt=0.0)
    """Every queue's buffer, in seconds of its own service."""
    substeps: int = option(60, ge=1)
    """Fluid steps per hour."""
    window: int = option(24, ge=1)
    """Hours the observation holds."""
    max_links: int = option(4, ge=1)
    """Outgoing-link slots per node (a node with more is refused)."""
    episode_length: int | None = option(100, ge=1)
    """Hours of a training episode (None: the part's length); the test part runs at most its own."""
    warmup_hours: int = option(48, ge=1)
    """Hours of random routing before the first step (at least ``window``)."""
    part: Literal["train", "test"] = "train"
    """The hours the episodes run over."""
    train_days: int = option(5, ge=1)
    """Whole days of the trace in the training part; the rest is the test part."""
    trace: Literal["alibaba2018"] = "alibaba2018"
    """The CPU trace (`rlte.sim.strl.hourly_cpu`)."""
    observation: Literal["log", "ms"] = "log"
    """Delays in the observation as ``log(1 + ms)`` or in ms."""


@functools.lru_cache(maxsize=4)
def _hourly(trace: str) -> np.ndarray:
    series = strl.hourly_cpu(trace)
    series.setflags(write=False)
    return series


def simple_paths(
    adjacency: list[list[int]], source: int, target: int, limit: int = MAX_PAIR_PATHS
) -> list[tuple]:
    """Every simple path from source to target, fewest hops first, then by node sequence.

    Raises:
        RlteError: more than ``limit`` paths.
    """
    found: list[tuple] = []
    stack = [(source, (source,))]
    while stack:
        node, path = stack.pop()
        for nxt in adjacency[node]:
            if nxt in path:
                continue
            if nxt == target:
                found.append((*path, nxt))
                if len(found) > limit:
                    raise RlteError(f"{ENV_ID}: more than {limit} simple paths from {source} to {target}")
            else:
                stack.append((nxt, (*path, nxt)))
    return sorted(found, key=lambda p: (len(p), p))


def top_paths(path_nodes: np.ndarray, node_cost: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k cheapest paths by the summed cost of the nodes they enter, cheapest first (ties: the
    earlier path).

    Args:
        path_nodes: which nodes each path enters (its source excluded). Shape [P, N], 0 / 1.
        node_cost: Shape [N], > 0.
        k: how many (at most P).

    Returns:
        ``(indices, costs)``, both of shape [min(k, P)].
    """
    costs = path_nodes @ node_cost
    order = np.argsort(costs, kind="stable")[: min(int(k), len(costs))]
    return order, costs[order]


@functools.lru_cache(maxsize=8)
def _fewest_hop_paths(
    links: tuple[tuple[int, int], ...], num_nodes: int, k: int
) -> dict[tuple[int, int], list[tuple]]:
    """The k fewest-hop simple paths of every ordered pair (`simple_paths` order)."""
    adjacency: list[list[int]] = [[] for _ in range(num_nodes)]
    for u, v in links:
        adjacency[u].append(v)
    return {
        (s, t): simple_paths(adjacency, s, t)[:k]
        for s in range(num_nodes)
        for t in range(num_nodes)
        if s != t
    }


class STRLEnv(gym.Env):
    __doc__ = __doc__

    metadata = {"render_modes": []}
    Options = STRLOptions
    METRICS = METRICS

    def __init__(self, *, render_mode: str | None = None, **options) -> None:
        from rlte.net.topology import load_topology

        self.options = opts = STRLOptions.parse(options, ENV_ID)
        if render_mode is not None:
            raise RlteError(f"{ENV_ID}: render_mode {render_mode!r} must be None (no rendering)")
        self.render_mode = render_mode
        base = load_topology(opts.topology, data_dir=opts.data_dir)
        n = self.num_nodes = base.num_nodes
        for name, value in (("pair", opts.pair), *(("extra_links", link) for link in opts.extra_links)):
            if len(value) != 2 or not all(0 <= int(v) < n for v in value) or value[0] == value[1]:
                fail(ENV_ID, name, list(value), f"two different nodes of {opts.topology} (0 to {n - 1})")
        low, high = opts.node_load
        if not low <= high:
            fail(ENV_ID, "node_load", list(opts.node_load), "[low, high] with low <= high")
        if opts.warmup_hours < opts.window:
            fail(ENV_ID, "warmup_hours", opts.warmup_hours, f">= window ({opts.window})")
        existing = set(zip(base.src.tolist(), base.dst.tolist()))
        for u, v in opts.extra_links:
            if (int(u), int(v)) in existing:
                fail(ENV_ID, "extra_links", [u, v], f"a link {opts.topology} does not have")
        topology = (
            base.with_links([(int(u), int(v)) for u, v in opts.extra_links]) if opts.extra_links else base
        )
        self.base_topology, self.topology = base, topology
        degree = np.bincount(topology.src, minlength=n)
        if degree.max() > opts.max_links:
            fail(
                ENV_ID,
                "max_links",
                opts.max_links,
                f">= the most outgoing links of a node ({int(degree.max())})",
            )
        self.cpu = _hourly(opts.trace)
        hours = len(self.cpu)
        self.train_hours = 24 * int(opts.train_days)
        if self.train_hours >= hours:
            fail(ENV_ID, "train_days", opts.train_days, f"fewer than the trace's {hours / 24:.2f} days")
        self._calibrate()
        self._build_classes()
        features = 1 + int(opts.max_links)
        self.observation_space = spaces.Box(
            0.0, float(np.finfo(np.float32).max), (int(opts.window), n, features), np.float32
        )
        self.action_space = spaces.Box(-1.0, 1.0, (n,), np.float32)
        self._slots = self._link_slots(topology, int(opts.max_links))
        self._edge_index = np.stack([topology.src, topology.dst]).astype(np.int64)
        self.backlog = strl.new_backlog(self.classes)
        self.window = np.zeros(self.observation_space.shape, np.float32)
        self.delays = self.network.service_s() + self.network.propagation_s
        self._hour = 0
        self._step = 0
        self._start = 0

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def _adjacency(topology) -> list[list[int]]:
        adjacency: list[list[int]] = [[] for _ in range(topology.num_nodes)]
        for u, v in zip(topology.src.tolist(), topology.dst.tolist()):
            adjacency[u].append(v)
        return adjacency

    @staticmethod
    def _link_slots(topology, slots: int) -> np.ndarray:
        """Queue index of each node's outgoing links in link order, -1 padded. Shape [N, slots]."""
        table = np.full((topology.num_nodes, slots), -1, dtype=np.int64)
        filled = np.zeros(topology.num_nodes, dtype=np.int64)
        for e, u in enumerate(topology.src.tolist()):
            table[u, filled[u]] = topology.num_nodes + e
            filled[u] += 1
        return table

    def _random_sets(self, topology) -> dict[tuple[int, int], list[tuple]]:
        links = tuple(zip(topology.src.tolist(), topology.dst.tolist()))
        return _fewest_hop_paths(links, topology.num_nodes, int(self.options.random_paths))

    def _pair_weights(self) -> dict[tuple[int, int], float]:
        """Each pair's share of lambda(t)."""
        n, share = self.num_nodes, float(self.options.pair_share)
        pair = tuple(int(v) for v in self.options.pair)
        others = n * (n - 1) - 1
        return {(s, t): share if (s, t) == pair else (1.0 - share) / others
                for s in range(n) for t in range(n) if s != t}  # fmt: skip

    def _calibrate(self) -> None:
        """The mean rate (packets/s) and the node rates mu_i, from random routing on the base topology."""
        opts, base, n = self.options, self.base_topology, self.num_nodes
        link_of = {(int(u), int(v)): e for e, (u, v) in enumerate(zip(base.src, base.dst))}
        node_use, link_use = np.zeros(n), np.zeros(base.num_links)
        weights = self._pair_weights()
        for pair, paths in self._random_sets(base).items():
            for path in paths:
                fraction = weights[pair] / len(paths)
                for u, v in zip(path[:-1], path[1:]):
                    node_use[u] += fraction
                    link_use[link_of[(u, v)]] += fraction
        link_rate = strl.LINK_BPS / strl.PACKET_BITS
        self.mean_rate = float(opts.link_load) * link_rate / float(link_use.max())
        low, high = opts.node_load
        order = np.random.default_rng(int(opts.rates_seed)).permutation(n)
        utilisation = np.empty(n)
        utilisation[order] = np.linspace(float(low), float(high), n)
        self.node_utilisation = utilisation
        self.node_rate = self.mean_rate * node_use / utilisation
        self.network = strl.queue_network(
            self.node_rate, self.topology.delay, float(opts.buffer_s), link_rate
        )

    def _build_classes(self) -> None:
        """The flow classes: every other pair's random paths, then the controlled pair's every simple path."""
        topology, n = self.topology, self.num_nodes
        link_of = {(int(u), int(v)): e for e, (u, v) in enumerate(zip(topology.src, topology.dst))}
        pair = tuple(int(v) for v in self.options.pair)
        weights = self._pair_weights()
        queue_lists, background = [], []
        for other, paths in self._random_sets(topology).items():
            if other == pair:
                continue
            for path in paths:
                queue_lists.append(strl.path_queues(path, link_of, n))
                background.append(weights[other] / len(paths))
        self.pair_paths = simple_paths(self._adjacency(topology), *pair)
        self.pair_offset = len(queue_lists)
        for path in self.pair_paths:
            queue_lists.append(strl.path_queues(path, link_of, n))
        self.classes = strl.path_classes(queue_lists)
        self.background = np.array(background)
        self.path_nodes = np.zeros((len(self.pair_paths), n))
        for p, path in enumerate(self.pair_paths):
            self.path_nodes[p, list(path[1:])] = 1.0
        self.random_weights = np.zeros(len(self.pair_paths))
        self.random_weights[: min(int(self.options.random_paths), len(self.pair_paths))] = 1.0
        self.random_weights /= self.random_weights.sum()

    # ------------------------------------------------------------------ the hours
    def _part(self) -> tuple[int, int]:
        """First hour and length of the part."""
        if self.options.part == "train":
            return 0, self.train_hours
        return self.train_hours, len(self.cpu) - self.train_hours

    @property
    def episode_hours(self) -> int:
        """Steps of an episode."""
        first, length = self._part()
        if self.options.part == "test":
            return (
                length
                if self.options.episode_length is None
                else min(int(self.options.episode_length), length)
            )
        return length if self.options.episode_length is None else int(self.options.episode_length)

    def _trace_hour(self, step: int) -> int:
        """The trace hour of an episode step (negative steps: the warm-up)."""
        first, length = self._part()
        if self.options.part == "train":
            return first + (self._start - first + step) % length
        return (self._start + step) % len(self.cpu)

    def arrivals(self, hour: int, pair_weights: np.ndarray) -> np.ndarray:
        """Packets each class injects in a trace hour, the controlled pair split by ``pair_weights``
        (over its paths). Shape [C]."""
        total = self.mean_rate * strl.HOUR_S * float(self.cpu[hour]) / float(self.cpu.mean())
        pair = float(self.options.pair_share) * total * np.asarray(pair_weights, dtype=np.float64)
        return np.concatenate([total * self.background, pair])

    def _features(self, delays: np.ndarray) -> np.ndarray:
        """One hour's node features from the queue delays (s). Shape [N, 1 + max_links]."""
        ms = np.append(delays * 1e3, 0.0)
        values = np.concatenate([ms[: self.num_nodes, None], ms[self._slots]], axis=1)
        if self.options.observation == "log":
            values = np.log1p(values)
        return values.astype(np.float32)

    def _run_hour(self, weights: np.ndarray, record: bool) -> dict:
        hour = self._trace_hour(self._step)
        stats = strl.simulate_hour(self.network, self.classes, self.arrivals(hour, weights), self.backlog,
                                   int(self.options.substeps))  # fmt: skip
        self.delays = strl.queue_delays(self.network, stats)
        self.window = np.concatenate([self.window[1:], self._features(self.delays)[None]])
        self._step += 1
        if not record:
            return {}
        return self._hour_info(stats, self.delays, hour)

    def _hour_info(self, stats: strl.HourStats, delays: np.ndarray, hour: int) -> dict:
        delay = strl.mean_delay(self.classes, stats, delays)
        through = strl.throughput(stats)
        pair = slice(self.pair_offset, None)
        pair_delivered = float(stats.delivered[pair].sum())
        pair_delay = (float(stats.delivered[pair] @ strl.class_delays(self.classes, delays)[pair]) / pair_delivered
                      if pair_delivered > 0 else math.nan)  # fmt: skip
        reward = through / delay if delay > 0 and math.isfinite(delay) and math.isfinite(through) else 0.0
        return {"reward": float(reward), "throughput": through, "delay_ms": delay * 1e3,
                "loss_rate": float(stats.dropped.sum()) / max(float(stats.injected.sum()), 1e-300),
                "pair_delay_ms": pair_delay * 1e3, "queued": float(self.backlog.sum()), "hour": int(hour)}  # fmt: skip

    # ------------------------------------------------------------------ routing rules
    def weights_from_scores(self, action) -> np.ndarray:
        """The controlled pair's split over its paths for an action (see the Action Space). Shape [P]."""
        scores = np.clip(np.asarray(action, dtype=np.float64).reshape(self.num_nodes), -1.0, 1.0)
        cost = (1.0 - scores) / 2.0 + NODE_COST_FLOOR
        chosen, costs = top_paths(self.path_nodes, cost, int(self.options.paths))
        weights = np.zeros(len(self.pair_paths))
        weights[chosen] = np.exp(-(costs - costs[0]) / float(self.options.temperature))
        return weights / weights.sum()

    def one_path(self, index: int) -> np.ndarray:
        """All of the controlled pair's traffic on one of its paths. Shape [P]."""
        weights = np.zeros(len(self.pair_paths))
        weights[int(index)] = 1.0
        return weights

    def path_delays(self) -> np.ndarray:
        """Each of the controlled pair's paths' delay over the last hour (s). Shape [P]."""
        return strl.class_delays(self.classes, self.delays)[self.pair_offset :]

    def hindsight(self) -> tuple[np.ndarray, np.ndarray]:
        """The best routing of the coming hour in hindsight, among the pair's single paths and the
        random split: the coming hour run from the present backlogs with each in turn (an oracle: it
        sees the hour it routes). Returns ``(weights [P], rewards [P + 1])``, the random split's
        reward last."""
        hour = self._trace_hour(self._step)
        candidates = [self.one_path(p) for p in range(len(self.pair_paths))] + [self.random_weights]
        rewards = np.empty(len(candidates))
        for index, weights in enumerate(candidates):
            backlog = self.backlog.copy()
            stats = strl.simulate_hour(self.network, self.classes, self.arrivals(hour, weights), backlog,
                                       int(self.options.substeps))  # fmt: skip
            delay = strl.mean_delay(self.classes, stats, strl.queue_delays(self.network, stats))
            through = strl.throughput(stats)
            rewards[index] = through / delay if delay > 0 and math.isfinite(delay) else 0.0
        return candidates[int(np.argmax(rewards))], rewards

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """An empty network, the episode's first hour (a random hour of the training part, or the
        test part's first), then the warm-up. ``options`` is accepted and unused."""
        super().reset(seed=seed)
        first, length = self._part()
        self._start = first + int(self.np_random.integers(length)) if self.options.part == "train" else first
        self.backlog[:] = 0.0
        self.window[:] = 0.0
        self._step = -int(self.options.warmup_hours)
        while self._step < 0:
            self._run_hour(self.random_weights, record=False)
        return self.window.copy(), {"hour": self._trace_hour(0)}

    def step(self, action):
        return self.route(self.weights_from_scores(action))

    def route(self, weights: np.ndarray):
        """A step with the controlled pair's split over its paths given directly (the baselines')."""
        weights = np.asarray(weights, dtype=np.float64)
        if (
            weights.shape != (len(self.pair_paths),)
            or (weights < 0).any()
            or not math.isclose(weights.sum(), 1.0)
        ):
            raise ValueError(
                f"{ENV_ID}: weights over the {len(self.pair_paths)} paths must be >= 0 and sum to 1"
            )
        info = self._run_hour(weights, record=True)
        truncated = self._step >= self.episode_hours
        return self.window.copy(), float(info["reward"]), False, bool(truncated), info

    def graph(self) -> GraphObservation:
        """The window as node features [W, N, 1 + max_links] over the topology's links."""
        names = ("node_delay", *(f"link_delay_{i + 1}" for i in range(int(self.options.max_links))))
        return GraphObservation(self.window.copy(), self._edge_index.copy(), None, names, ())

    def get_state(self) -> dict:
        """The generator, the backlogs, the window, the last hour's delays and the episode's position."""
        return {"np_random": generator_state(self.np_random), "backlog": self.backlog.copy(),
                "window": self.window.copy(), "delays": self.delays.copy(), "step": int(self._step),
                "start": int(self._start)}  # fmt: skip

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned (on an env built with the same options)."""
        self._np_random = generator_from_state(state["np_random"])
        self.backlog = np.array(state["backlog"], dtype=np.float64)
        self.window = np.array(state["window"], dtype=np.float32)
        self.delays = np.array(state["delays"], dtype=np.float64)
        self._step, self._start = int(state["step"]), int(state["start"])


__all__ = ["ENV_ID", "METRICS", "MODIFIED_LINKS", "NSFNET_NAMES", "STRLEnv", "STRLOptions", "simple_paths",
           "top_paths"]  # fmt: skip
