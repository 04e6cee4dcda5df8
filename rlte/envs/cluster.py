"""``rlte/Cluster-v0``: one agent balances a compute cluster by migrating queued tasks between its
nodes at fixed decision epochs (seed 003's load balancing), over `rlte.sim.cluster`.

The cluster and workload names the environment (and the cluster domain's grid axes) accept:

- clusters (`parse_cluster`): ``heterogeneous:N`` (`rlte.sim.cluster.Cluster.heterogeneous`: four
  node types in turn), ``homogeneous:N`` (unit speed and capacities), ``speeds:V1,V2,...`` (unit
  capacities, the given speeds), ``nodes:V/C/M/I,...`` (each node's speed and cpu, memory and io
  capacities) and ``park`` (Park's ten servers);
- workloads (`parse_workload`): a task mix, ``cpu_bound``, ``memory_bound``, ``io_heavy`` or ``mixed``
  (stationary Poisson arrivals over ``bins`` bins), ``park`` (Park's jobs), or a window of a trace,
  ``google2019:START:BINS`` or ``alibaba2018:START:BINS`` (300 s bins; `rlte.sim.cluster_traces`).

A workload's window of B bins is split in time: the training part is its first ``round(B *
train_fraction)`` bins, the evaluated part the rest, each scaled to ``load`` on its own (the
expected load of the bottleneck resource over the part). A trace's parts are disjoint spans of the
trace; a mix's parts are independent draws of the same stationary process.
"""

from __future__ import annotations

import difflib
import functools
import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlte import metrics
from rlte.envs.contract import EnvOptions, GraphObservation, generator_from_state, generator_state
from rlte.errors import RlteError
from rlte.options import fail, option
from rlte.sim.cluster import (
    C_NEXT_ARRIVAL,
    F_AREA,
    PARK_SERVICE_RATES,
    S_DONE,
    SCENARIO_CLASSES,
    Cluster,
    ClusterSimOptions,
    ClusterSimulator,
    FailureSchedule,
    Workload,
    arrival_rate_for_load,
    dispatch_policy,
    expected_demand,
    park_scenario,
)
from rlte.sim.cluster_traces import TRACES, TraceProfile, trace_profile, trace_workload

ENV_ID = "rlte/Cluster-v0"
#: Task mixes a workload can name (a stationary workload, or the base mix of a trace's tasks).
MIXES = tuple(SCENARIO_CLASSES)
#: The dispatchers that place arriving tasks between decisions (`rlte.sim.cluster.POLICIES`).
DISPATCHERS = ("round_robin", "random", "jsq", "least_work", "power_of_two")
#: The metrics in every step's ``info`` (the cluster domain's), each over the epoch just simulated.
METRICS = ("latency_ms", "cpu_utilisation", "success_rate", "migration_cost", "completed", "failed", "arrived",
           "migrated", "capacity_up")  # fmt: skip
#: Per-node observation features, in column order.
NODE_FEATURES = ("up", "speed", "cpu", "memory", "io", "queue", "backlog")
#: The ``summary`` observation's features.
SUMMARY_FEATURES = ("cpu", "backlog_spread", "queued", "down")

Mix = Literal["cpu_bound", "memory_bound", "io_heavy", "mixed"]


# ---------------------------------------------------------------------- names
def _close(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _count(text: str, what: str, where: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise RlteError(f"{where}: {what} {text!r} must be an integer") from None
    if value < minimum:
        raise RlteError(f"{where}: {what} {value} must be >= {minimum}")
    return value


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise RlteError(f"{where}: {text!r} is not a number") from None


CLUSTER_FORMS = ("heterogeneous:N", "homogeneous:N", "speeds:V1,V2,...", "nodes:V/C/M/I,...", "park")


def parse_cluster(name: str) -> Cluster:
    """The cluster a name describes (the module docstring lists the forms).

    Raises:
        RlteError: one line, for an unknown form, a count that is not a positive integer (a cluster
            of 0 nodes), or a speed or capacity the cluster refuses (not > 0, negative).
    """
    where = f"cluster {name!r}"
    if not isinstance(name, str):
        raise RlteError(f"{where}: must be a name ({', '.join(CLUSTER_FORMS)})")
    kind, _, rest = name.partition(":")
    if name == "park":
        return Cluster(np.array(PARK_SERVICE_RATES), np.ones((len(PARK_SERVICE_RATES), 3)), "park")
    if kind in ("heterogeneous", "homogeneous") and rest:
        count = _count(rest, "node count", where, 1)
        if kind == "heterogeneous":
            return Cluster.heterogeneous(count, name)
        return Cluster.homogeneous(count, name=name)
    if kind == "speeds" and rest:
        speeds = [_number(part, where) for part in rest.split(",")]
        return Cluster(np.array(speeds), np.ones((len(speeds), 3)), name)
    if kind == "nodes" and rest:
        rows = []
        for node in rest.split(","):
            parts = node.split("/")
            if len(parts) != 4:
                raise RlteError(f"{where}: node {node!r} must be SPEED/CPU/MEMORY/IO")
            rows.append([_number(part, where) for part in parts])
        table = np.array(rows)
        return Cluster(table[:, 0], table[:, 1:], name)
    raise RlteError(f"{where}: unknown{_close(name, CLUSTER_FORMS)}; clusters: {', '.join(CLUSTER_FORMS)}")


class WorkloadSource(NamedTuple):
    """What a workload name stands for (`parse_workload`)."""

    kind: Literal["mix", "trace", "park"]
    mix: str | None
    """The task mix of a ``mix`` workload (a trace's comes from the ``mix`` option)."""
    trace: str | None
    start: int
    """First bin of a trace's window."""
    bins: int | None
    """Bins of a trace's window (a mix's come from the ``bins`` option)."""


WORKLOAD_FORMS = (*MIXES, "park", *(f"{trace}:START:BINS" for trace in TRACES))


def parse_workload(name: str) -> WorkloadSource:
    """What a workload name stands for (the module docstring lists the forms); a trace window is
    checked against the trace when the workload is built.

    Raises:
        RlteError: one line, for an unknown name or trace, or a malformed window.
    """
    where = f"workload {name!r}"
    if not isinstance(name, str):
        raise RlteError(f"{where}: must be a name ({', '.join(WORKLOAD_FORMS)})")
    if name in MIXES:
        return WorkloadSource("mix", name, None, 0, None)
    if name == "park":
        return WorkloadSource("park", None, None, 0, None)
    parts = name.split(":")
    if len(parts) == 3 and parts[0] in TRACES:
        start = _count(parts[1], "start bin", where, 0)
        bins = _count(parts[2], "bin count", where, 2)
        return WorkloadSource("trace", None, parts[0], start, bins)
    if parts[0] in TRACES:
        raise RlteError(f"{where}: a trace window is {parts[0]}:START:BINS")
    hint = _close(parts[0], TRACES) if len(parts) > 1 else _close(name, WORKLOAD_FORMS)
    raise RlteError(f"{where}: unknown{hint}; workloads: {', '.join(WORKLOAD_FORMS)}")


@functools.lru_cache(maxsize=32)
def _trace_window(trace: str, start: int, bins: int) -> TraceProfile:
    return trace_profile(trace, start=start, bins=bins)


def _flat_profile(bins: int) -> TraceProfile:
    ones = np.ones(bins)
    return TraceProfile("stationary", 300.0, ones, ones, ones)


# ---------------------------------------------------------------------- options
@dataclass(frozen=True)
class ClusterOptions(EnvOptions):
    """The options of ``rlte/Cluster-v0`` (every constructor option, with its default)."""

    cluster: str = "heterogeneous:10"
    """The nodes (`parse_cluster`)."""
    workload: str = "mixed"
    """The tasks (`parse_workload`)."""
    load: float | None = option(0.8, gt=0.0)
    """Expected load of the bottleneck resource over the part (None only for ``park``, whose load is 0.909)."""
    mix: Mix | None = None
    """The task mix of a trace's tasks (default ``mixed``); a mix workload is its own mix."""
    bins: int = option(60, ge=2)
    """Bins of a mix workload's window (a trace window gives its own)."""
    bin_duration: float = option(1000.0, gt=0.0)
    """Simulated ms per bin (a 300 s trace bin becomes 1 s)."""
    train_fraction: float = option(2.0 / 3.0, gt=0.0, lt=1.0)
    """Share of the window's bins in the training part (at least one bin each)."""
    part: Literal["train", "evaluate"] = "train"
    """The part the episodes run over."""
    park_jobs: int = option(1000, ge=1)
    """Jobs of a ``park`` workload's episode."""
    mean_size: float = option(20.0, gt=0.0)
    """Mean task size (ms of work at speed 1)."""
    size_shape: float = option(2.5, gt=1.0)
    """Pareto shape of the task sizes."""
    deadline: float | None = option(500.0, ge=0.0)
    """A task that has not started this many ms after its arrival fails (None: no deadlines)."""
    dispatcher: Literal["round_robin", "random", "jsq", "least_work", "power_of_two"] = "round_robin"
    """Places every arriving task between decisions (`rlte.sim.cluster.dispatch_policy`)."""
    interval: float = option(100.0, gt=0.0)
    """Length of a decision epoch, simulated ms."""
    migration_delay: float = option(0.1, ge=0.0)
    """A migrated task is in transfer for this times its size (ms)."""
    lookahead: int = option(16, ge=1)
    """Queued tasks that may fail to fit before a node stops starting tasks (1: strict FIFO)."""
    failures: tuple[tuple[int, float, float], ...] = ()
    """Node failures ``[node, first epoch, recovery epoch]``: the node is down from the start of one
    epoch to the start of the other."""
    on_failure: Literal["redispatch", "lose"] = "redispatch"
    """The tasks of a failed node go back to the dispatcher, or fail."""
    action_type: Literal["continuous", "discrete"] = "continuous"
    """Per-node migration ratios and targets (``Box``), or one balancing level (``Discrete``)."""
    max_ratio: float = option(0.5, ge=0.0, le=1.0)
    """The largest fraction of a node's queue an action moves in one epoch."""
    levels: int = option(5, ge=1)
    """Discrete actions 0..levels: level l moves ``max_ratio * l / levels``."""
    logit_scale: float = option(5.0, gt=0.0)
    """Continuous target preferences (in [-1, 1]) are multiplied by this before their softmax."""
    observe: Literal["nodes", "summary"] = "nodes"
    """Per-node features (`NODE_FEATURES`) or four cluster-wide ones (`SUMMARY_FEATURES`)."""
    max_nodes: int | None = option(None, ge=1)
    """Node slots of the observation and the continuous action (padded; None: the cluster's nodes), so
    that one policy can act on clusters of several sizes."""
    queue_scale: float = option(20.0, gt=0.0)
    """A queue of q tasks is observed as ``q / (q + queue_scale)``."""
    backlog_scale: float = option(200.0, gt=0.0)
    """A backlog of b ms is observed as ``b / (b + backlog_scale)``."""
    latency_scale: float = option(100.0, gt=0.0)
    """The reward's latency term is in units of this many ms."""
    alpha: float = option(1.0, ge=0.0)
    """Weight of the latency term of the reward."""
    beta: float = option(0.2, ge=0.0)
    """Weight of the cpu utilisation term."""
    delta: float = option(0.5, ge=0.0)
    """Weight of the migration cost term."""
    max_drain: int = option(50, ge=0)
    """Epochs an episode may run past the part's last arrival for the tasks still in the system."""
    episode_length: int | None = option(None, ge=1)
    """Epochs after which an episode is truncated (None: the whole part and its drain)."""

    def check(self, where: str) -> None:
        try:
            parse_cluster(self.cluster)
            source = parse_workload(self.workload)
        except RlteError as err:
            raise RlteError(f"{where}: {err}") from None
        if source.kind == "mix" and self.mix is not None and self.mix != source.mix:
            fail(where, "mix", self.mix, f"unset for the {source.mix} workload (it is its own mix)")
        if (self.load is None) != (source.kind == "park"):
            fail(where, "load", self.load, "null for park (its load is its own)" if source.kind == "park"
                 else "a number > 0 (the expected load of the bottleneck resource)")  # fmt: skip
        for failure in self.failures:
            node, first, last = failure
            if node < 0 or not 0 <= first < last:
                fail(
                    where, "failures", list(failure), "[node >= 0, first epoch >= 0, recovery epoch > first]"
                )


# ---------------------------------------------------------------------- decoding actions
def continuous_matrix(action: np.ndarray, num_nodes: int, slots: int, up: np.ndarray, max_ratio: float,
                      logit_scale: float) -> np.ndarray:  # fmt: skip
    """The migration matrix of a continuous action: node i sends ``r_i = max_ratio (a_i + 1) / 2`` of its
    queue, split over the other up nodes j by ``softmax_j(logit_scale * a_(slots + j))``.

    Shapes:
        action [2 * slots] in [-1, 1] (entries of padding slots are ignored), up [N] -> [N, N].
    """
    action = np.clip(np.asarray(action, dtype=np.float64).ravel(), -1.0, 1.0)
    ratios = max_ratio * (action[:num_nodes] + 1.0) / 2.0
    logits = logit_scale * action[slots : slots + num_nodes]
    matrix = np.zeros((num_nodes, num_nodes))
    alive = up.astype(bool)
    for i in np.flatnonzero(alive & (ratios > 0)):
        targets = alive.copy()
        targets[i] = False
        if not targets.any():
            continue
        weights = np.exp(logits[targets] - logits[targets].max())
        matrix[i, targets] = ratios[i] * weights / weights.sum()
    return matrix


def balancing_matrix(backlog: np.ndarray, up: np.ndarray, ratio: float) -> np.ndarray:
    """The rule of the discrete actions and of the fixed-ratio baseline: every up node whose backlog
    (unfinished work per speed) is above the up nodes' mean sends ``ratio`` of its queue to the up
    nodes below the mean, split in proportion to how far below it each is.

    Shapes: backlog [N], up [N] -> [N, N].
    """
    n = len(backlog)
    matrix = np.zeros((n, n))
    alive = up.astype(bool)
    if ratio <= 0 or alive.sum() < 2:
        return matrix
    mean = backlog[alive].mean()
    below = alive & (backlog < mean)
    if not below.any():
        return matrix
    room = np.where(below, mean - backlog, 0.0)
    shares = room / room.sum()
    for i in np.flatnonzero(alive & (backlog > mean)):
        matrix[i] = ratio * shares
    return matrix


# ---------------------------------------------------------------------- the environment
class ClusterEnv(gym.Env):
    """Load balancing of a compute cluster by task migration (seed 003).

    ## Description
    A cluster of N heterogeneous nodes (cpu, memory and io capacities, a speed each) runs a stream of
    tasks (`rlte.sim.cluster`: multi-resource reservation, FIFO with bounded backfill, deadlines to
    start). A named dispatcher (``dispatcher``, round robin by default) places every arriving task;
    every ``interval`` ms (a decision epoch, one step) the agent may move queued tasks between nodes.
    A moved task is in transfer for ``migration_delay`` times its size, then joins the target's
    queue. The workload is a stationary task mix or a window of a real trace (Google 2019, Alibaba
    2018), split in time into a training and an evaluated part (the module docstring).

    ## Action space
    ``action_type="continuous"`` (default): ``Box(-1, 1, (2 * S,), float32)``, S node slots
    (``max_nodes`` or N): the first S entries are the migration ratios, node i sending
    ``max_ratio * (a_i + 1) / 2`` of its queue (the last tasks of it, the ones that would wait
    longest); the next S are target preferences, the moved tasks being split over the other up nodes
    by ``softmax(logit_scale * a)`` (`continuous_matrix`). An action of -1 everywhere moves nothing.
    ``action_type="discrete"``: ``Discrete(levels + 1)``, level l moving ``max_ratio * l / levels``
    of the queue of every node whose backlog is above the mean to the nodes below it
    (`balancing_matrix`): the discretisation keeps the amount and leaves the targets to that rule.

    ## Observation space
    ``observe="nodes"`` (default): ``Box(0, 1, (S * 7,), float32)``, per node slot (node-major):
    up (1) or failed (0), speed over the fastest node's, reserved share of cpu, memory and io, queue
    length ``q / (q + queue_scale)`` and backlog (unfinished work per speed, ms) ``b / (b +
    backlog_scale)``; padding slots are 0. ``observe="summary"``: ``Box(0, 1, (4,), float32)``: the up
    nodes' mean cpu share, the spread of their backlogs ``d / (d + backlog_scale)`` (d the largest
    minus the smallest), the queued tasks ``Q / (Q + N * queue_scale)`` and the share of nodes down.

    ## Rewards
    ``r = -alpha * L / latency_scale + beta * U - delta * C`` over the epoch. L is the epoch's part of
    the mean latency by Little's law: the time integral over the epoch of the tasks in the system
    (queued, running, in transfer) divided by the part's mean arrivals per epoch, in ms; over an
    episode that drains, the L sum to the sum of every task's time in the system over the arrivals
    per epoch, so maximising the return minimises the mean latency, a failed task counting for the
    time it waited (letting tasks miss their deadline is no shortcut), and L answers a migration at
    once rather than when the moved tasks complete. U is the cpu utilisation of the up nodes and C
    the migration cost, migrations per task arrived (`rlte.metrics.migrations_per_task`). Defaults
    ``alpha=1``, ``beta=0.2``, ``delta=0.5``, ``latency_scale=100`` ms: latency dominates; migrating
    every task arriving in an epoch once costs as much as 50 ms of latency.

    ## Episode end
    Terminated when every task of the part has arrived and left (nothing can happen any more);
    truncated ``max_drain`` epochs after the part's last arrival epoch, or after ``episode_length``
    epochs. Each reset draws a new workload over the part (from the seed given, else from
    ``np_random``), so every method reset with one seed sees the same tasks.

    ## Info
    Every step: `METRICS` over the epoch (``latency_ms``: mean latency of the tasks completed in it,
    0 when none; ``cpu_utilisation``; ``success_rate``: completed over completed and failed, 1 when
    none left; ``migration_cost``: migrations per task arrived; the counts ``completed``, ``failed``,
    ``arrived``, ``migrated``; ``capacity_up``: share of the cpu capacity that was up), ``epoch`` and
    ``time_ms`` (the epoch's end). From these sums the whole-run values follow exactly
    (`rlte.domains.cluster`).

    ## Arguments
    The fields of `ClusterOptions`, plus ``render_mode`` (None only). Every value is checked
    (`rlte.options`): a bad one is an `rlte.errors.RlteError` naming it.

    ## Version history
    - v0: first version.
    """

    metadata = {"render_modes": []}
    Options = ClusterOptions
    METRICS = METRICS

    def __init__(self, *, render_mode: str | None = None, **options) -> None:
        self.options = opts = ClusterOptions.parse(options, ENV_ID)
        if render_mode is not None:
            raise RlteError(f"{ENV_ID}: render_mode {render_mode!r} must be None (no rendering)")
        self.render_mode = render_mode
        self.cluster = parse_cluster(opts.cluster)
        self.source = parse_workload(opts.workload)
        n = self.num_nodes = self.cluster.num_nodes
        self.slots = int(opts.max_nodes) if opts.max_nodes is not None else n
        if self.slots < n:
            fail(ENV_ID, "max_nodes", opts.max_nodes, f">= the cluster's {n} nodes")
        bad = [f for f in opts.failures if f[0] >= n]
        if bad:
            fail(ENV_ID, "failures", list(bad[0]), f"a node of the cluster (0 to {n - 1})")
        self.profile = self._profile()
        integer = self.source.kind == "park"
        self.sim_options = ClusterSimOptions(interval=opts.interval, migration_delay=opts.migration_delay,
                                             on_failure=opts.on_failure, integer_durations=integer,
                                             lookahead=opts.lookahead)  # fmt: skip
        self.failure_schedule = FailureSchedule(
            np.array([f[0] for f in opts.failures], dtype=np.int64),
            np.array([f[1] * opts.interval for f in opts.failures]),
            np.array([f[2] * opts.interval for f in opts.failures]),
        )
        self.policy = dispatch_policy(opts.dispatcher)
        if opts.action_type == "continuous":
            self.action_space = spaces.Box(-1.0, 1.0, (2 * self.slots,), np.float32)
        else:
            self.action_space = spaces.Discrete(opts.levels + 1)
        size = self.slots * len(NODE_FEATURES) if opts.observe == "nodes" else len(SUMMARY_FEATURES)
        self.observation_space = spaces.Box(0.0, 1.0, (size,), np.float32)
        self._speed = self.cluster.speed / self.cluster.speed.max()
        self._cpu_units = self.cluster.capacity_units[:, 0].astype(np.float64)
        self._edges = np.array([(i, j) for i in range(n) for j in range(n) if i != j], dtype=np.int64).T
        self.workload: Workload | None = None
        self.sim: ClusterSimulator | None = None
        self._workload_seed: int | None = None
        self._epoch = 0
        self._scan = 0
        if self.source.kind != "park":  # refuse now, not at the first reset, tasks the cluster cannot run
            mix = self.source.mix or opts.mix or "mixed"
            try:
                arrival_rate_for_load(self.cluster, expected_demand(mix) * opts.mean_size, float(opts.load))
            except RlteError as err:
                raise RlteError(f"{ENV_ID}: {err}") from None

    # ------------------------------------------------------------------ the workload
    def _part_bins(self) -> tuple[int, int]:
        """First bin and bin count of the part, within the window."""
        total = self.source.bins if self.source.kind == "trace" else int(self.options.bins)
        train = min(max(int(round(total * self.options.train_fraction)), 1), total - 1)
        return (0, train) if self.options.part == "train" else (train, total - train)

    def _profile(self) -> TraceProfile | None:
        if self.source.kind == "park":
            return None
        offset, bins = self._part_bins()
        if self.source.kind == "mix":
            return _flat_profile(bins)
        try:
            _trace_window(self.source.trace, self.source.start, self.source.bins)  # the whole window exists
            return _trace_window(self.source.trace, self.source.start + offset, bins)
        except RlteError as err:
            raise RlteError(f"{ENV_ID}: workload {self.options.workload!r}: {err}") from None

    def _build_workload(self, seed: int) -> None:
        """The part's tasks drawn from ``seed``, and a simulator over them."""
        if seed != self._workload_seed:
            opts = self.options
            workload_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
            if self.source.kind == "park":
                self.workload = park_scenario(workload_rng, int(opts.park_jobs)).workload
            else:
                mix = self.source.mix or opts.mix or "mixed"
                self.workload = trace_workload(self.profile, self.cluster, workload_rng, load=float(opts.load),
                                               bin_duration=opts.bin_duration, base=mix, mean_size=opts.mean_size,
                                               size_shape=opts.size_shape, deadline=opts.deadline)  # fmt: skip
            self.sim = ClusterSimulator(self.cluster, self.workload, self.sim_options, self.failure_schedule)
            self._workload_seed = seed
            self._span_epochs = max(int(math.ceil(self.workload.horizon / self.options.interval)), 1)
            self._arrivals_per_epoch = max(self.workload.num_tasks / self._span_epochs, 1e-9)
        self.sim.reset(np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1]))
        self._epoch = 0
        self._scan = 0

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Draw the part's tasks (from ``seed`` when given, else from ``np_random``) and start with
        empty nodes at time 0. ``options`` is accepted and unused."""
        super().reset(seed=seed)
        self._build_workload(int(self.np_random.integers(2**63 - 1)))
        return self._observation(), {"epoch": 0, "time_ms": 0.0, "tasks": self.workload.num_tasks}

    def migration_matrix(self, action) -> np.ndarray:
        """The migration matrix [N, N] an action stands for, in the cluster's state now."""
        opts, view = self.options, self.sim.node_view()
        if opts.action_type == "continuous":
            return continuous_matrix(
                action, self.num_nodes, self.slots, view.up, opts.max_ratio, opts.logit_scale
            )
        level = int(np.asarray(action).item())
        if not 0 <= level <= opts.levels:
            raise RlteError(f"{ENV_ID}: action {level} must be in [0, {opts.levels}]")
        return balancing_matrix(view.backlog, view.up, opts.max_ratio * level / opts.levels)

    def step(self, action):
        if self.sim is None or self.sim.state is None:
            raise RlteError(f"{ENV_ID}: call reset() first")
        sim, opts = self.sim, self.options
        matrix = self.migration_matrix(action)
        moved = sim.migrate(matrix).moved if matrix.any() else 0
        start = sim.now
        arrived_before = int(sim.arrays.counts[C_NEXT_ARRIVAL])
        reserved_before, up_before = self._integrals(start)
        area_before = float(sim.arrays.clock[F_AREA])
        sim.run_epoch(self.policy)
        end = sim.now
        self._epoch += 1
        reserved_after, up_after = self._integrals(end)
        arrived = int(sim.arrays.counts[C_NEXT_ARRIVAL]) - arrived_before
        completed, failed, latency_sum = self._departures(start)
        available = float((self._cpu_units * (up_after - up_before)).sum())
        utilisation = metrics.resource_utilisation(float((reserved_after - reserved_before).sum()), available)
        utilisation = 0.0 if math.isnan(utilisation) else float(utilisation)
        cost = metrics.migrations_per_task(moved, arrived)
        info = {
            "latency_ms": metrics.mean_latency(latency_sum, completed) if completed else 0.0,
            "cpu_utilisation": utilisation,
            "success_rate": metrics.task_success_rate(completed, completed + failed)
            if completed + failed
            else 1.0,
            "migration_cost": cost,
            "completed": completed,
            "failed": failed,
            "arrived": arrived,
            "migrated": int(moved),
            "capacity_up": available / max(float(self._cpu_units.sum()) * (end - start), 1e-300),
            "epoch": self._epoch,
            "time_ms": end,
        }
        latency = (float(sim.arrays.clock[F_AREA]) - area_before) / self._arrivals_per_epoch
        reward = -opts.alpha * latency / opts.latency_scale + opts.beta * utilisation - opts.delta * cost
        terminated = sim.finished
        truncated = not terminated and (
            self._epoch >= self._span_epochs + opts.max_drain
            or (opts.episode_length is not None and self._epoch >= opts.episode_length)
        )
        return self._observation(), float(reward), bool(terminated), bool(truncated), info

    def render(self) -> None:
        return None

    # ------------------------------------------------------------------ measuring an epoch
    def _integrals(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """Per node, the time integrals up to ``now`` of the reserved cpu (units) and of being up."""
        a = self.sim.arrays
        span = now - a.last
        return a.area_used[:, 0] + a.used[:, 0] * span, a.area_up + a.up * span

    def _departures(self, since: float) -> tuple[int, int, float]:
        """Tasks that left since ``since``: completed, failed, and the completed ones' latency sum."""
        a = self.sim.arrays
        first, last = self._scan, int(a.counts[C_NEXT_ARRIVAL])
        status, end = a.status[first:last], a.end[first:last]
        terminal = status >= S_DONE
        recent = terminal & (end >= since)
        done = recent & (status == S_DONE)
        latency_sum = float((end[done] - self.workload.arrival[first:last][done]).sum())
        open_tasks = np.flatnonzero(~terminal)
        self._scan = first + (int(open_tasks[0]) if len(open_tasks) else len(status))
        return int(done.sum()), int((recent & ~done).sum()), latency_sum

    # ------------------------------------------------------------------ observations
    def node_features(self) -> np.ndarray:
        """The nodes' features now (`NODE_FEATURES`). Shape [N, 7], float32."""
        view, opts = self.sim.node_view(), self.options
        queue = view.queued.astype(np.float64)
        backlog = np.maximum(view.backlog, 0.0)
        features = np.column_stack([view.up.astype(np.float64), self._speed, view.utilisation,
                                    queue / (queue + opts.queue_scale), backlog / (backlog + opts.backlog_scale)])  # fmt: skip
        features[~view.up] = 0.0
        return features.astype(np.float32)

    def _observation(self) -> np.ndarray:
        features = self.node_features()
        if self.options.observe == "nodes":
            padded = np.zeros((self.slots, len(NODE_FEATURES)), dtype=np.float32)
            padded[: self.num_nodes] = features
            return padded.ravel()
        opts, up = self.options, features[:, 0] > 0
        view = self.sim.node_view()
        backlog = np.maximum(view.backlog[up], 0.0)
        spread = float(backlog.max() - backlog.min()) if up.any() else 0.0
        queued = float(view.queued.sum())
        summary = [float(features[up, 2].mean()) if up.any() else 0.0, spread / (spread + opts.backlog_scale),
                   queued / (queued + self.num_nodes * opts.queue_scale), 1.0 - float(up.mean())]  # fmt: skip
        return np.clip(np.array(summary, dtype=np.float32), 0.0, 1.0)

    def graph(self) -> GraphObservation:
        """The nodes as a complete directed graph (a task may move between any two): node features
        [N, 7] (`NODE_FEATURES`), no edge features."""
        return GraphObservation(self.node_features(), self._edges.copy(), None, NODE_FEATURES, ())

    # ------------------------------------------------------------------ the rlte contract
    def get_state(self) -> dict:
        """The generator, the seed of the episode's tasks (they are drawn again from it), the simulator's
        arrays and its generator, the epoch and the departure scan's position."""
        return {"np_random": generator_state(self.np_random), "workload_seed": int(self._workload_seed),
                "sim": self.sim.get_state(), "epoch": int(self._epoch), "scan": int(self._scan)}  # fmt: skip

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned (on an env built with the same options)."""
        self._np_random = generator_from_state(state["np_random"])
        self._build_workload(int(state["workload_seed"]))
        self.sim.set_state(state["sim"])
        self._epoch, self._scan = int(state["epoch"]), int(state["scan"])


__all__ = [
    "CLUSTER_FORMS",
    "DISPATCHERS",
    "ENV_ID",
    "METRICS",
    "MIXES",
    "NODE_FEATURES",
    "SUMMARY_FEATURES",
    "WORKLOAD_FORMS",
    "ClusterEnv",
    "ClusterOptions",
    "WorkloadSource",
    "balancing_matrix",
    "continuous_matrix",
    "parse_cluster",
    "parse_workload",
]
