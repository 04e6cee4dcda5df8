"""Trace-driven discrete-event simulator of a compute cluster, compiled with numba.

The system (seed 003's distributed system; Park's ``load_balance`` as a special case):

- N heterogeneous nodes, node n with a speed ``v_n > 0`` and capacities ``cap[n, r] >= 0`` of three
  resources r (cpu, memory, io; `RESOURCES`), a FIFO queue of waiting tasks and a set of running
  tasks. A node is up or failed.
- Tasks arrive at given times (a `Workload`: the arrival process is generated beforehand, from a
  named scenario or a trace), each with demands ``d[i, r]`` of the three resources, a size ``s_i``
  (work) and a deadline (absolute time, ``inf`` for none).

**Service model: FIFO multi-resource reservation with bounded backfill.** A node runs at once as
many of its queued tasks as its capacities allow, head of line first: whenever something changes at
a node, it walks its queue from the head and starts every task whose demands fit in what its running
tasks leave free (``used[n, r] + d[i, r] <= cap[n, r]`` for every r), and stops after ``lookahead``
tasks that did not fit (16; ``lookahead=1`` is strict FIFO: it stops at the first head that does
not fit). A started task reserves its demands until it completes, after ``s_i / v_n`` time units
(``floor(s_i / v_n)`` with ``integer_durations``, Park's rule), whatever else runs beside it. This is
how cluster managers such as Borg and Kubernetes admit tasks (by their resource requests, in queue
order, with a bounded look past a head that does not fit), the setting of seed 003's Google trace
(tasks with CPU and memory requests); with one resource and tasks that each demand a whole node it is
Park's set-up exactly: one job at a time per server, FIFO, service time size / rate (nothing can pass
a head that does not fit). Strict FIFO would make complementary demands block each other (a
cpu-heavy head idles the memory a memory-heavy task behind it could use), so the mixed workload would
be the hardest, where seed 003 finds it the easiest. Invariant: a node never runs above its
capacities. To make it exact, resources are counted in integers, `UNITS` per capacity unit (demands
and capacities are rounded to 1e-6), so reserving and releasing never drift.

**Deadlines.** A task that has not started by its deadline fails at its deadline (it leaves its
queue, or its migration, then). A task that has started once is no longer subject to its deadline.

**Dispatch.** Every arriving task is placed on one node by a dispatcher, at its arrival: a compiled
policy (`POLICIES`: round robin, uniform random, join-shortest-queue, least unfinished work,
power-of-two choices, or ``given``: a node chosen beforehand per task), so the whole loop stays
compiled (`ClusterSimulator.run`), or an external caller, one decision at a time
(`ClusterSimulator.next_decision` / `dispatch`, the slow path for RL environments). Policies pick
among the *eligible* nodes: up, and with capacities the task fits in when idle. A task placed on a
node that is not eligible (by ``given`` or an external caller) is rejected: it fails at once.

**Migration.** Between runs, at decision epochs (every ``interval`` time units, `run_epoch`), a
controller may move queued (not running) tasks: `migrate` takes a matrix M [N, N], M[i, j] the
fraction of node i's queued tasks to send to node j (rows sum to <= 1, diagonal 0); node i sends
``c_j - c_(j-1)`` tasks to its j-th target, ``c_j = floor(q_i * (M[i, 1] + ... + M[i, j]) + 1/2)``,
``q_i`` its queue length before it sends any: the last ones of its queue (the tasks that would wait
longest) among those that fit the target's capacities, sent in queue order. A moved task is in
migration for ``migration_delay * s_i`` time units (the migration cost), then joins the target's
queue tail. A fraction 0 moves nothing and draws nothing: migrating with a zero matrix changes
nothing at all.

**Failures** (`FailureSchedule`): at its failure time a node goes down and all its tasks leave it:
running tasks (in start order: their progress is lost), then queued ones (queue order); with
``on_failure="redispatch"`` each goes back to the dispatcher (it keeps its arrival time), with
``"lose"`` each fails. A task whose migration ends at a failed node is handled the same way. A node
recovers, empty, at its recovery time.

**Time and ties.** The time unit is the workload's (milliseconds in the named and trace scenarios,
Park's abstract unit in ``park``). Events happen in time order; at equal times, completions, deadlines,
migrations and failures (in the order they were scheduled) come before arrivals, and arrivals in
task order. ``run(until)`` handles the events before ``until`` and moves the clock to ``until``.

**Counts.** ``arrived = completed + expired + lost + rejected + queued + running + migrating +
pending`` at all times (pending: waiting for a dispatch decision; only between `next_decision` and
`dispatch`).

**Load** (`Workload.offered_load`, how scenarios are scaled): resource r's load is the work it is
offered over the pooled capacity, ``rho_r = sum_i d[i, r] s_i / (H * sum_n cap[n, r] v_n)`` over the
arrival period H (a task holds ``d[i, r]`` for ``s_i / v_n``: it needs ``d[i, r] s_i`` of the
``cap[n, r] v_n`` per time unit node n offers), and the cluster's load is that of the bottleneck
resource, ``max_r rho_r``: the share of the bottleneck's pooled capacity the tasks need whatever the
placement (any placement that keeps up has a speed-weighted utilisation of exactly rho_r; above 1
none keeps up), as rlte's network load is the optimal MLU. Scenarios set the arrival rate so that
the expected load is the target exactly (Park: ``E[s] / (55 * 6.0) = 0.909``); the reported cpu
utilisation (`ClusterMetrics`, reserved over capacity, not speed-weighted) equals it on identical
nodes.

**The pooled reference** (`pooled_reference`): one queue with the whole cluster's capacity. The bound
no dispatcher beats is a single server of the summed speed (per resource, ``C_r``) serving
shortest-remaining-work first, with preemption (SRPT), combined with each task's shortest possible
service; not a FIFO server: with heavy-tailed sizes a FIFO pooled server makes small tasks wait
behind huge ones that a cluster isolates on one node, and dispatchers beat it (see
`pooled_reference`'s proof and the tests).

**Randomness.** The workload is drawn beforehand (a numpy Generator in the scenario builders); the
simulator takes one Generator at `reset`, consumed in compiled code by the random and power-of-two
policies only (``u = random()``, index ``floor(u * m)`` among the m eligible nodes).
`rlte.sim.cluster_reference` draws the same numbers in the same order: same seed, same policy ->
identical task latencies.

**Speed.** No Python object per task: tasks live in preallocated arrays indexed by task number,
queues are doubly linked lists through them, events sit in an array binary heap ordered by (time,
creation number). The loop is `advance` (run until a dispatch decision is due) and `dispatch`
(apply it), njit functions that `run_policy` calls in compiled code and the slow path calls from
Python. The simulator knows nothing of learning: no rewards, no observations. Metrics and their
formulas: `ClusterMetrics`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
from numba.core import types
from numba.experimental import structref

from rlte import metrics
from rlte.errors import RlteError
from rlte.sim.event_heap import heap_insert, heap_remove_top

#: The resources every node has and every task demands, in column order.
RESOURCES = ("cpu", "memory", "io")
NUM_RESOURCES = 3
#: Integer resource units per capacity unit (reservations are exact in these).
UNITS = 1_000_000
#: Compiled dispatch policies, by code (the index).
POLICIES = ("round_robin", "random", "jsq", "least_work", "power_of_two", "given")
P_ROUND_ROBIN, P_RANDOM, P_JSQ, P_LEAST_WORK, P_POWER_OF_TWO, P_GIVEN = range(6)
#: What happens to the tasks of a failed node.
ON_FAILURE = ("redispatch", "lose")
#: Named workload scenarios (`scenario`); traces are in `rlte.sim.cluster_traces`.
SCENARIOS = ("cpu_bound", "memory_bound", "io_heavy", "mixed", "park")

# ---------------------------------------------------------------------- compiled-state layout
# task status
S_FUTURE, S_PENDING, S_QUEUED, S_RUNNING, S_MIGRATING, S_DONE, S_EXPIRED, S_LOST, S_REJECTED = range(9)
STATUS_NAMES = ("future", "pending", "queued", "running", "migrating", "done", "expired", "lost", "rejected")
# event kinds, packed with the item as item * 8 + kind
EV_COMPLETE, EV_DEADLINE, EV_MIGRATED, EV_FAIL, EV_RECOVER = range(5)
# advance() results
ADVANCE_DONE, ADVANCE_DECISION = 0, 1
# dispatch() results
PLACED, REJECTED = 0, 1
# indices into counts (int64)
C_ARRIVED, C_COMPLETED, C_EXPIRED, C_LOST, C_REJECTED = range(5)
C_QUEUED, C_RUNNING, C_MIGRATING, C_PENDING = range(5, 9)
C_MIGRATED, C_REDISPATCHED, C_DISPLACED, C_EVENTS = range(9, 13)
C_NEXT_ARRIVAL, C_SEQ, C_HEAP_SIZE, C_PENDING_HEAD, C_ROUND_ROBIN, C_EPOCH = range(13, 19)
C_INTEGER_DURATIONS, C_REDISPATCH, C_LOOKAHEAD = 19, 20, 21
NUM_COUNTS = 22
# indices into clock (float64)
F_NOW, F_AREA, F_MIGRATION_COST, F_MIGRATED_WORK, F_MIGRATION_DELAY = range(5)
NUM_CLOCK = 5


class ClusterArrays(NamedTuple):
    """The whole state of one simulation as the compiled code holds it (N nodes, T tasks, F failures,
    H heap slots). The static inputs come first; `ClusterSimulator.get_state` saves the rest. The
    compiled code replaces the three heap arrays when the heap grows: read them with `heap_arrays`."""

    speed: np.ndarray
    """Node speeds. Shape [N], float64."""
    cap: np.ndarray
    """Node capacities in `UNITS`. Shape [N, 3], int64."""
    arrival: np.ndarray
    """Task arrival times, non-decreasing. Shape [T], float64."""
    size: np.ndarray
    """Task sizes (work). Shape [T], float64."""
    deadline: np.ndarray
    """Task start deadlines (absolute; inf for none). Shape [T], float64."""
    demand: np.ndarray
    """Task demands in `UNITS`. Shape [T, 3], int64."""
    fail_node: np.ndarray
    """Node of each scheduled failure. Shape [F], int64."""
    fail_time: np.ndarray
    """Time of each failure. Shape [F], float64."""
    recover_time: np.ndarray
    """Time the node recovers (inf: never). Shape [F], float64."""
    counts: np.ndarray
    """Counters, pointers and flags (indices ``C_*``). Shape [NUM_COUNTS], int64."""
    clock: np.ndarray
    """Now, the tasks-in-system integral, migration sums, the delay rate (``F_*``). Shape [5], float64."""
    up: np.ndarray
    """1 while the node is up. Shape [N], int64."""
    used: np.ndarray
    """Resources its running tasks reserve, in `UNITS`. Shape [N, 3], int64."""
    qhead: np.ndarray
    """First queued task, or -1. Shape [N], int64."""
    qtail: np.ndarray
    """Last queued task, or -1. Shape [N], int64."""
    qlen: np.ndarray
    """Queued tasks. Shape [N], int64."""
    rhead: np.ndarray
    """First running task (earliest started), or -1. Shape [N], int64."""
    rtail: np.ndarray
    """Last running task, or -1. Shape [N], int64."""
    nrun: np.ndarray
    """Running tasks. Shape [N], int64."""
    qwork: np.ndarray
    """Sum of the sizes of the queued tasks. Shape [N], float64."""
    fsum: np.ndarray
    """Sum of the finish times of the running tasks. Shape [N], float64."""
    last: np.ndarray
    """Time up to which the node's integrals are summed. Shape [N], float64."""
    area_used: np.ndarray
    """Time integral of ``used``. Shape [N, 3], float64."""
    area_tasks: np.ndarray
    """Time integral of the node's tasks (queued + running). Shape [N], float64."""
    area_up: np.ndarray
    """Time the node was up. Shape [N], float64."""
    status: np.ndarray
    """Task status (``S_*``). Shape [T], int64."""
    node: np.ndarray
    """Node the task is at or migrating to, or -1. Shape [T], int64."""
    nxt: np.ndarray
    """Next task in the same queue or running list, or -1. Shape [T], int64."""
    prv: np.ndarray
    """Previous task in the same list, or -1. Shape [T], int64."""
    start: np.ndarray
    """Start of the task's current (last) run. Shape [T], float64."""
    first_start: np.ndarray
    """Start of its first run, or -1. Shape [T], float64."""
    finish: np.ndarray
    """Scheduled end of its current run. Shape [T], float64."""
    end: np.ndarray
    """When it completed or failed (nan before). Shape [T], float64."""
    event: np.ndarray
    """Creation number of its live completion or migration event, or -1. Shape [T], int64."""
    dispatches: np.ndarray
    """Dispatch decisions it has had. Shape [T], int64."""
    pending: np.ndarray
    """Ring buffer of tasks waiting for a dispatch decision. Shape [max(T, 1)], int64."""
    heap_time: np.ndarray
    """Event times (the heap grows when full). Shape [H], float64."""
    heap_seq: np.ndarray
    """Event creation numbers (the tie-break). Shape [H], int64."""
    heap_code: np.ndarray
    """Event item * 8 + kind. Shape [H], int64."""


_STATIC_FIELDS = ClusterArrays._fields[:9]
_HEAP_FIELDS = ("heap_time", "heap_seq", "heap_code")
_FLOAT_FIELDS = frozenset(
    ("speed", "arrival", "size", "deadline", "fail_time", "recover_time", "clock", "qwork", "fsum", "last",
     "area_used", "area_tasks", "area_up", "start", "first_start", "finish", "end", "heap_time")
)  # fmt: skip
_MATRIX_FIELDS = frozenset(("cap", "demand", "used", "area_used"))


@structref.register
class _ClusterStateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(kind)) for name, kind in fields)


class ClusterState(structref.StructRefProxy):
    """`ClusterArrays` as the compiled code takes them (the same arrays: writes show in both)."""


structref.define_boxing(_ClusterStateType, ClusterState)


def _field_type(name: str):
    base = types.float64 if name in _FLOAT_FIELDS else types.int64
    return base[:, ::1] if name in _MATRIX_FIELDS else base[::1]


_STATE_TYPE = _ClusterStateType([(name, _field_type(name)) for name in ClusterArrays._fields])


# ---------------------------------------------------------------------- the cluster
def _finite_array(
    values, shape, what: str, where: str, *, minimum: float, strict: bool = False
) -> np.ndarray:
    try:
        array = np.array(np.broadcast_to(np.asarray(values, dtype=np.float64), shape))
    except (ValueError, TypeError):
        raise RlteError(f"{where}: {what} of shape {np.shape(values)} (want {shape})") from None
    bad = ~np.isfinite(array) | ((array <= minimum) if strict else (array < minimum))
    if bad.any():
        index = np.argwhere(bad)[0]
        value = float(array[tuple(index)])
        rule = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise RlteError(
            f"{where}: {what} {value!r} at {tuple(int(i) for i in index)} must be a finite number {rule}"
        )
    return array


@dataclass(frozen=True, eq=False)
class Cluster:
    """N nodes with speeds and capacities (immutable).

    Attributes:
        speed: work a node does per time unit on each task it runs, > 0. Shape [N].
        capacity: capacity of cpu, memory and io of each node, >= 0 (a scalar or [3] is broadcast).
            Shape [N, 3].
        name: a label.
    """

    speed: np.ndarray
    capacity: np.ndarray
    name: str = "cluster"

    def __post_init__(self) -> None:
        where = f"cluster {self.name!r}"
        speed = np.asarray(self.speed, dtype=np.float64)
        if speed.ndim != 1:
            raise RlteError(f"{where}: speed must be a 1-D array (one speed per node)")
        if len(speed) < 1:
            raise RlteError(f"{where}: needs at least 1 node, has 0")
        n = len(speed)
        bad = np.flatnonzero(~np.isfinite(speed) | (speed <= 0))
        if len(bad):
            raise RlteError(
                f"{where}: node {int(bad[0])} speed {float(speed[bad[0]])!r} must be a finite number > 0"
            )
        try:
            capacity = np.array(
                np.broadcast_to(np.asarray(self.capacity, dtype=np.float64), (n, NUM_RESOURCES))
            )
        except (ValueError, TypeError):
            raise RlteError(
                f"{where}: capacity of shape {np.shape(self.capacity)} (want ({n}, {NUM_RESOURCES}))"
            ) from None
        bad = np.argwhere(~np.isfinite(capacity) | (capacity < 0))
        if len(bad):
            node, r = (int(i) for i in bad[0])
            raise RlteError(
                f"{where}: node {node} {RESOURCES[r]} capacity {float(capacity[node, r])!r} must be a finite number >= 0"
            )
        speed.setflags(write=False)
        capacity.setflags(write=False)
        object.__setattr__(self, "speed", speed)
        object.__setattr__(self, "capacity", capacity)

    @classmethod
    def homogeneous(
        cls, num_nodes: int, speed: float = 1.0, capacity=1.0, name: str = "homogeneous"
    ) -> Cluster:
        """``num_nodes`` identical nodes."""
        return cls(
            np.full(int(num_nodes), float(speed)), np.broadcast_to(capacity, (int(num_nodes), 3)), name
        )

    @classmethod
    def heterogeneous(cls, num_nodes: int, name: str = "heterogeneous") -> Cluster:
        """``num_nodes`` nodes cycling through four types (speed; cpu, memory, io capacity): general
        (1.0; 1, 1, 1), compute (1.5; 1, 0.75, 0.75), memory (0.75; 0.75, 2, 1), storage (1.0; 0.75,
        1, 2). Every named scenario's task fits every type (demands are at most 0.3)."""
        kinds = np.array(
            [[1.0, 1.0, 1.0, 1.0], [1.5, 1.0, 0.75, 0.75], [0.75, 0.75, 2.0, 1.0], [1.0, 0.75, 1.0, 2.0]]
        )
        rows = kinds[np.arange(max(int(num_nodes), 0)) % 4]
        return cls(rows[:, 0], rows[:, 1:], name)

    @property
    def num_nodes(self) -> int:
        return len(self.speed)

    @property
    def capacity_units(self) -> np.ndarray:
        """Capacities in integer `UNITS`. Shape [N, 3]."""
        return np.rint(self.capacity * UNITS).astype(np.int64)

    @property
    def pooled_capacity(self) -> np.ndarray:
        """``C_r = sum_n cap[n, r] v_n``: the resource-work per time unit the cluster offers. Shape [3]."""
        return (self.capacity_units * self.speed[:, None]).sum(axis=0) / UNITS


# ---------------------------------------------------------------------- workloads
@dataclass(frozen=True, eq=False)
class Workload:
    """The tasks of one run, in arrival order (immutable).

    Attributes:
        arrival: arrival times, non-decreasing, >= 0. Shape [T].
        size: work of each task, > 0. Shape [T].
        demand: cpu, memory and io each task reserves while it runs, >= 0. Shape [T, 3].
        deadline: the time by which each task must have started (inf: none), >= its arrival. Shape [T].
        horizon: end of the arrival period (>= the last arrival), the H of `offered_load`.
        name: a label.
        expected_load: the load the generator aimed at (its expectation), or nan.
    """

    arrival: np.ndarray
    size: np.ndarray
    demand: np.ndarray
    deadline: np.ndarray
    horizon: float
    name: str = "workload"
    expected_load: float = math.nan

    def __post_init__(self) -> None:
        where = f"workload {self.name!r}"
        arrival = np.asarray(self.arrival, dtype=np.float64).ravel().copy()
        t = len(arrival)
        if (~np.isfinite(arrival) | (arrival < 0)).any():
            bad = int(np.flatnonzero(~np.isfinite(arrival) | (arrival < 0))[0])
            raise RlteError(
                f"{where}: task {bad} arrival time {float(arrival[bad])!r} must be a finite number >= 0"
            )
        if t > 1 and (np.diff(arrival) < 0).any():
            bad = int(np.flatnonzero(np.diff(arrival) < 0)[0]) + 1
            raise RlteError(f"{where}: task {bad} arrives before task {bad - 1} (arrivals must be in order)")
        size = _finite_array(self.size, (t,), "task size", where, minimum=0.0, strict=True)
        demand = _finite_array(self.demand, (t, NUM_RESOURCES), "task demand", where, minimum=0.0)
        deadline = np.array(np.broadcast_to(np.asarray(self.deadline, dtype=np.float64), (t,)))
        bad = np.flatnonzero(np.isnan(deadline) | (deadline < arrival))
        if len(bad):
            raise RlteError(
                f"{where}: task {int(bad[0])} deadline {float(deadline[bad[0]])!r} is before its arrival"
            )
        horizon = float(self.horizon)
        if not math.isfinite(horizon) or horizon < (arrival[-1] if t else 0.0) or horizon < 0:
            raise RlteError(f"{where}: horizon {horizon!r} must be finite and >= the last arrival")
        for name, value in (("arrival", arrival), ("size", size), ("demand", demand), ("deadline", deadline)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "horizon", horizon)
        object.__setattr__(self, "expected_load", float(self.expected_load))

    @property
    def num_tasks(self) -> int:
        return len(self.arrival)

    @property
    def demand_units(self) -> np.ndarray:
        """Demands in integer `UNITS`. Shape [T, 3]."""
        return np.rint(self.demand * UNITS).astype(np.int64)

    def offered_load(self, cluster: Cluster) -> np.ndarray:
        """Realised load of each resource: ``rho_r = sum_i d[i, r] s_i / (H C_r)``, ``C_r = sum_n
        cap[n, r] v_n`` (`Cluster.pooled_capacity`); nan where ``C_r = 0``. Shape [3]."""
        work = (self.demand_units * self.size[:, None]).sum(axis=0) / UNITS
        pooled = cluster.pooled_capacity * self.horizon
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pooled > 0, work / pooled, np.nan)

    def load(self, cluster: Cluster) -> float:
        """The cluster's realised load: that of its bottleneck resource, ``max_r rho_r``."""
        return float(np.nanmax(self.offered_load(cluster)))


# (low, high) of the uniform demands of each task class: cpu, memory, io (fractions of a capacity unit)
TASK_CLASSES = {
    "cpu": ((0.1, 0.01, 0.0), (0.3, 0.05, 0.02)),
    "memory": ((0.02, 0.1, 0.0), (0.06, 0.3, 0.02)),
    "io": ((0.02, 0.01, 0.1), (0.06, 0.05, 0.3)),
}
#: The task classes of each named scenario (a task's class is uniform among them).
SCENARIO_CLASSES = {
    "cpu_bound": ("cpu",),
    "memory_bound": ("memory",),
    "io_heavy": ("io",),
    "mixed": ("cpu", "memory", "io"),
}


def _check_mix(name: str) -> tuple[str, ...]:
    if name not in SCENARIO_CLASSES:
        raise RlteError(f"scenario {name!r}: unknown (choose from {', '.join(SCENARIOS)})")
    return SCENARIO_CLASSES[name]


def expected_demand(mix: str) -> np.ndarray:
    """Mean demand of a task of the named mix (a scenario other than park). Shape [3]."""
    bounds = np.array([TASK_CLASSES[c] for c in _check_mix(mix)])  # [K, 2, 3]
    return bounds.mean(axis=(0, 1))


def draw_tasks(
    mix: str, count: int, rng: np.random.Generator, *, mean_size: float = 20.0, size_shape: float = 2.5
) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and demands of ``count`` tasks of a named mix.

    A task's class is uniform among the mix's classes (`SCENARIO_CLASSES`), each demand uniform in its
    class's range (`TASK_CLASSES`); sizes are Pareto: ``x_m (1 + L)`` with L Lomax of shape
    ``size_shape`` (``Generator.pareto``) and ``x_m = mean_size (shape - 1) / shape``, so the mean is
    ``mean_size``. Draws, in order: the classes (only when the mix has several), the demands [count, 3],
    the sizes.

    Returns:
        sizes [count] and demands [count, 3].

    Raises:
        RlteError: an unknown mix, a size shape <= 1 or a mean size <= 0.
    """
    classes = _check_mix(mix)
    if not size_shape > 1:
        raise RlteError(f"task size shape {size_shape!r}: must be > 1 (a finite mean)")
    if not mean_size > 0:
        raise RlteError(f"mean task size {mean_size!r}: must be > 0")
    bounds = np.array([TASK_CLASSES[c] for c in classes])  # [K, 2, 3]
    kind = rng.integers(len(classes), size=count) if len(classes) > 1 else np.zeros(count, dtype=np.int64)
    low, high = bounds[kind, 0], bounds[kind, 1]
    demand = low + (high - low) * rng.random((count, NUM_RESOURCES))
    scale = mean_size * (size_shape - 1.0) / size_shape
    size = scale * (1.0 + rng.pareto(size_shape, count))
    return size, demand


def arrival_rate_for_load(cluster: Cluster, work_per_task: np.ndarray, load: float) -> float:
    """The arrival rate at which the expected load is ``load``: ``lambda = load / max_r (E[d_r s] /
    C_r)`` over the resources with ``C_r > 0``.

    Args:
        cluster: the nodes.
        work_per_task: expected ``d_r s`` of a task (resource-work), per resource. Shape [3].
        load: the target, > 0.

    Raises:
        RlteError: a load that is not > 0, or tasks that need a resource the cluster lacks.
    """
    if not (load > 0 and math.isfinite(load)):
        raise RlteError(f"load {load!r}: must be a finite number > 0")
    pooled = cluster.pooled_capacity
    needed = np.asarray(work_per_task, dtype=np.float64)
    lacking = np.flatnonzero((pooled <= 0) & (needed > 0))
    if len(lacking):
        raise RlteError(
            f"cluster {cluster.name!r}: has no {RESOURCES[int(lacking[0])]} capacity for the tasks"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        per_rate = np.where(pooled > 0, needed / pooled, 0.0)
    return float(load / per_rate.max())


class ClusterScenario(NamedTuple):
    """A cluster, a workload over it and the simulator options that go with them."""

    name: str
    cluster: Cluster
    workload: Workload
    options: ClusterSimOptions


#: Park's load_balance set-up (park/param.py): server rates, mean inter-arrival time, Pareto size.
PARK_SERVICE_RATES = (0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 1.05)
PARK_JOB_INTERVAL = 55.0
PARK_PARETO_SHAPE, PARK_PARETO_SCALE = 1.5, 100.0
PARK_NUM_JOBS = 1000


def park_scenario(rng: np.random.Generator, num_jobs: int = PARK_NUM_JOBS) -> ClusterScenario:
    """Park's ``load_balance`` environment exactly (Mao et al., "Variance reduction for RL in
    input-driven environments", ICLR 2019).

    10 FIFO servers with service rates 0.15, 0.25, ..., 1.05 (total 6.0), one job at a time each (one
    resource: every job demands a whole server's cpu); ``num_jobs`` jobs (1,000) whose sizes are
    ``int((Pareto(1.5) + 1) * 100)`` (mean about 300) and inter-arrival times ``int(Exp(mean 55))``,
    cumulated from 0; a job on server n takes ``int(size / rate_n)`` time units (``integer_durations``);
    no deadlines, no failures, no migration. Load ``300 / 55 / 6.0 = 0.909`` (`Workload.expected_load`).
    Park's cost, the time-integral of the number of jobs in the system until the last completes, is
    `ClusterMetrics.tasks_integral` after ``run()``. Draws: the sizes [num_jobs], then the gaps.
    """
    if not isinstance(num_jobs, int | np.integer) or num_jobs < 1:
        raise RlteError(f"park scenario: num_jobs {num_jobs!r} must be an integer >= 1")
    rates = np.array(PARK_SERVICE_RATES)
    cluster = Cluster(rates, np.ones((len(rates), NUM_RESOURCES)), "park")
    size = np.floor((rng.pareto(PARK_PARETO_SHAPE, num_jobs) + 1.0) * PARK_PARETO_SCALE)
    gaps = np.floor(rng.exponential(PARK_JOB_INTERVAL, num_jobs))
    arrival = np.cumsum(gaps)
    demand = np.zeros((num_jobs, NUM_RESOURCES))
    demand[:, 0] = 1.0
    mean_size = PARK_PARETO_SHAPE * PARK_PARETO_SCALE / (PARK_PARETO_SHAPE - 1.0)
    expected = mean_size / PARK_JOB_INTERVAL / rates.sum()
    workload = Workload(arrival, size, demand, np.inf, float(arrival[-1]), "park", expected)
    options = ClusterSimOptions(interval=1000.0, migration_delay=0.0, integer_durations=True)
    return ClusterScenario("park", cluster, workload, options)


def scenario(
    name: str,
    rng: np.random.Generator,
    *,
    num_nodes: int = 10,
    num_tasks: int = 10_000,
    load: float = 0.8,
    mean_size: float = 20.0,
    size_shape: float = 2.5,
    deadline: float | None = 500.0,
    cluster: Cluster | None = None,
) -> ClusterScenario:
    """A named workload scenario (`SCENARIOS`); time in milliseconds.

    ``cpu_bound``, ``memory_bound``, ``io_heavy``: tasks of one class (`TASK_CLASSES`: its main
    resource 0.25-0.5 of a capacity unit, the others small); ``mixed``: each task's class uniform among
    the three. Sizes Pareto with mean ``mean_size`` ms of work at speed 1 and shape ``size_shape``
    (heavy-tailed; 2.5 by default, finite variance). Arrivals Poisson at the rate that makes the
    expected load ``load`` (`arrival_rate_for_load`); ``num_tasks`` tasks; each must start within
    ``deadline`` ms of its arrival (None: no deadlines). The cluster defaults to
    ``Cluster.heterogeneous(num_nodes)``. ``park`` is `park_scenario` (``num_tasks`` jobs; the other
    arguments do not apply). Draws: the inter-arrival times, then `draw_tasks`.

    Raises:
        RlteError: an unknown scenario, or a bad count, load, size or deadline.
    """
    if name == "park":
        return park_scenario(rng, num_tasks)
    _check_mix(name)
    if not isinstance(num_tasks, int | np.integer) or num_tasks < 1:
        raise RlteError(f"scenario {name!r}: num_tasks {num_tasks!r} must be an integer >= 1")
    if deadline is not None and not deadline >= 0:
        raise RlteError(f"scenario {name!r}: deadline {deadline!r} must be >= 0 (or None)")
    cluster = cluster if cluster is not None else Cluster.heterogeneous(num_nodes)
    work = expected_demand(name) * mean_size
    rate = arrival_rate_for_load(cluster, work, load)
    arrival = np.cumsum(rng.exponential(1.0 / rate, num_tasks))
    size, demand = draw_tasks(name, num_tasks, rng, mean_size=mean_size, size_shape=size_shape)
    deadlines = arrival + (np.inf if deadline is None else float(deadline))
    workload = Workload(arrival, size, demand, deadlines, float(arrival[-1]), name, float(load))
    return ClusterScenario(name, cluster, workload, ClusterSimOptions())


# ---------------------------------------------------------------------- failures, options, policies
@dataclass(frozen=True, eq=False)
class FailureSchedule:
    """Node failures: node ``node[k]`` fails at ``fail_time[k]`` and recovers (empty) at
    ``recover_time[k]`` (inf: never). A node's failures may not overlap. Shapes [F]."""

    node: np.ndarray
    fail_time: np.ndarray
    recover_time: np.ndarray

    def __post_init__(self) -> None:
        node = np.asarray(self.node, dtype=np.int64).ravel()
        f = len(node)
        fail = np.array(np.broadcast_to(np.asarray(self.fail_time, dtype=np.float64), (f,)))
        recover = np.array(np.broadcast_to(np.asarray(self.recover_time, dtype=np.float64), (f,)))
        for k in range(f):
            if not (math.isfinite(fail[k]) and fail[k] >= 0):
                raise RlteError(
                    f"failure schedule: failure time {float(fail[k])!r} of node {int(node[k])} must be a finite number >= 0"
                )
            if not recover[k] > fail[k]:
                raise RlteError(
                    f"failure schedule: node {int(node[k])} recovers at {float(recover[k])!r}, not after its failure at {float(fail[k])!r}"
                )
        if (node < 0).any():
            raise RlteError(f"failure schedule: node {int(node[node < 0][0])} is not a node")
        order = np.lexsort((fail, node))
        for a, b in zip(order[:-1], order[1:]):
            if node[a] == node[b] and fail[b] < recover[a]:
                raise RlteError(
                    f"failure schedule: node {int(node[a])} fails at {float(fail[b])!r} while down since {float(fail[a])!r}"
                )
        for name, value in (("node", node), ("fail_time", fail), ("recover_time", recover)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @classmethod
    def none(cls) -> FailureSchedule:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))

    @property
    def num_failures(self) -> int:
        return len(self.node)


@dataclass(frozen=True)
class ClusterSimOptions:
    """Service, migration and failure rules of a `ClusterSimulator`."""

    interval: float = 100.0
    """Length of a decision epoch (`ClusterSimulator.run_epoch`), in time units."""
    migration_delay: float = 0.1
    """Transfer time of a migrated task per unit of its size."""
    on_failure: str = "redispatch"
    """The tasks of a failed node: ``redispatch`` (back to the dispatcher) or ``lose`` (they fail)."""
    integer_durations: bool = False
    """Service time ``floor(size / speed)`` instead of ``size / speed`` (Park's rule)."""
    lookahead: int = 16
    """Queued tasks that may fail to fit before a node stops starting tasks (1: strict FIFO)."""

    def validate(self, where: str = "cluster simulator") -> None:
        """Raise `RlteError` naming the first bad field."""
        if not (
            isinstance(self.interval, int | float) and math.isfinite(self.interval) and self.interval > 0
        ):
            raise RlteError(f"{where}: interval {self.interval!r} must be a number > 0")
        delay = self.migration_delay
        if not (isinstance(delay, int | float) and math.isfinite(delay) and delay >= 0):
            raise RlteError(f"{where}: migration_delay {delay!r} must be a number >= 0")
        lookahead = self.lookahead
        if not isinstance(lookahead, int | np.integer) or isinstance(lookahead, bool) or lookahead < 1:
            raise RlteError(f"{where}: lookahead {lookahead!r} must be an integer >= 1")
        if self.on_failure not in ON_FAILURE:
            raise RlteError(f"{where}: on_failure {self.on_failure!r} must be one of {', '.join(ON_FAILURE)}")


class DispatchPolicy(NamedTuple):
    """A compiled dispatch policy: its code (index in `POLICIES`) and, for ``given``, the node of
    every task (by task number; a task whose given node is not eligible is rejected)."""

    code: int
    given: np.ndarray


_NO_GIVEN = np.zeros(0, dtype=np.int64)


def dispatch_policy(name: str, given=None) -> DispatchPolicy:
    """The compiled policy of that name (`POLICIES`).

    - ``round_robin``: the next eligible node after the last one chosen, cyclically;
    - ``random``: uniform among the eligible nodes;
    - ``jsq``: fewest tasks (queued + running), lowest index on ties;
    - ``least_work``: least unfinished work per speed, ``sum_queued s_i / v_n + sum_running (finish_i
      - now)``, lowest index on ties;
    - ``power_of_two``: two distinct eligible nodes uniformly, the one with fewer tasks (the first
      drawn on ties);
    - ``given``: node ``given[i]`` for task i (``given`` required, [T]).

    Raises:
        RlteError: an unknown name, or ``given`` missing or not non-negative integers.
    """
    if name not in POLICIES:
        raise RlteError(f"dispatch policy {name!r}: unknown (choose from {', '.join(POLICIES)})")
    if name != "given":
        return DispatchPolicy(POLICIES.index(name), _NO_GIVEN)
    if given is None:
        raise RlteError("dispatch policy 'given': needs the node of every task (given=...)")
    nodes = np.asarray(given)
    if nodes.ndim != 1 or not np.issubdtype(nodes.dtype, np.integer) or (nodes < 0).any():
        raise RlteError("dispatch policy 'given': given must be a 1-D array of node indices >= 0")
    return DispatchPolicy(P_GIVEN, np.ascontiguousarray(nodes, dtype=np.int64))


# ---------------------------------------------------------------------- results
class ClusterCounts(NamedTuple):
    """Totals so far. ``arrived = completed + failed + queued + running + migrating + pending``."""

    arrived: int
    completed: int
    expired: int
    """Failed: not started by their deadline."""
    lost: int
    """Failed: on a node that failed (``on_failure="lose"``)."""
    rejected: int
    """Failed: placed on a node that was not eligible, or no node was."""
    queued: int
    running: int
    migrating: int
    pending: int
    """Waiting for a dispatch decision (slow path)."""
    migrated: int
    """Migrations (a task may migrate several times)."""
    redispatched: int
    """Tasks sent back to the dispatcher by a failure."""
    displaced: int
    """Tasks a failure took off a node (redispatched or lost)."""
    events: int
    """Events that changed the state: arrivals, completions, expiries, migration arrivals, failures
    and recoveries (stale heap entries, e.g. deadlines of tasks that started, are not counted)."""
    time: float

    @property
    def failed(self) -> int:
        return self.expired + self.lost + self.rejected

    @property
    def in_system(self) -> int:
        return self.queued + self.running + self.migrating + self.pending


class DispatchDecision(NamedTuple):
    """A dispatch decision that is due (the slow path)."""

    task: int
    time: float
    """Now."""
    size: float
    demand: np.ndarray
    """Its cpu, memory and io demands. Shape [3]."""
    deadline: float
    redispatch: bool
    """The task was dispatched before (a failure sent it back)."""


class NodeView(NamedTuple):
    """The nodes now (what an environment observes). Shapes [N] unless said."""

    up: np.ndarray
    queued: np.ndarray
    running: np.ndarray
    utilisation: np.ndarray
    """Reserved / capacity of each resource (0 where the capacity is 0). Shape [N, 3]."""
    backlog: np.ndarray
    """Unfinished work per speed: ``sum_queued s_i / v_n + sum_running (finish_i - now)``."""


class MigrationOutcome(NamedTuple):
    """What one `ClusterSimulator.migrate` call moved."""

    moved: int
    work: float
    """Sum of the moved tasks' sizes."""
    cost: float
    """Sum of their transfer delays (``migration_delay * size`` each)."""


class ClusterRecord(NamedTuple):
    """The raw results both simulators expose, from which `cluster_metrics` computes everything."""

    time: float
    """Now: the observed period is [0, time]."""
    status: np.ndarray
    """Task status (``S_*``). Shape [T]."""
    end: np.ndarray
    """Completion or failure time (nan before). Shape [T]."""
    area_used: np.ndarray
    """Time integral of reserved resources up to ``last``, in `UNITS`. Shape [N, 3]."""
    area_tasks: np.ndarray
    """Time integral of each node's tasks up to ``last``. Shape [N]."""
    area_up: np.ndarray
    """Up time up to ``last``. Shape [N]."""
    last: np.ndarray
    """Time each node's integrals reach. Shape [N]."""
    used: np.ndarray
    """Reserved now, `UNITS`. Shape [N, 3]."""
    tasks: np.ndarray
    """Tasks on each node now (queued + running). Shape [N]."""
    up: np.ndarray
    """1 if up now. Shape [N]."""
    tasks_integral: float
    """Time integral of the tasks in the system over [0, time]."""
    arrived: int
    migrated: int
    migration_cost: float
    migrated_work: float


class ClusterMetrics(NamedTuple):
    """What a run measured over [0, T], T = ``time`` (each field gives its formula; the latency,
    utilisation, success rate and imbalance are computed by their one definition in `rlte.metrics`)."""

    time: float
    """T."""
    arrived: int
    completed: int
    failed: int
    mean_latency: float
    """``(1/|D|) sum_(i in D) (end_i - a_i)``, D the completed tasks (nan if none)."""
    p95_latency: float
    """95th percentile of the same latencies (linear interpolation, numpy's default)."""
    cpu_utilisation: float
    """``utilisation[cpu]``."""
    utilisation: np.ndarray
    """Per resource r: ``sum_n int_0^T used[n, r] dt / sum_n cap[n, r] U_n``, U_n node n's up time:
    the share of the capacity that was available and reserved. Shape [3]."""
    node_utilisation: np.ndarray
    """Per node: ``int_0^T used[n, cpu] dt / (cap[n, cpu] U_n)`` (nan if never up or no cpu). Shape [N]."""
    imbalance: float
    """Coefficient of variation of ``node_utilisation`` (population std / mean over the finite values;
    0 when the mean is 0)."""
    queue_imbalance: float
    """Coefficient of variation over nodes of the time-average number of tasks on each node,
    ``(1/T) int_0^T (queued_n + running_n) dt``."""
    success_rate: float
    """``|D| / arrived``: tasks completed (hence started before their deadline) per task arrived."""
    migrated: int
    migration_cost: float
    """``sum over migrations of migration_delay * s_i``: time tasks spent in transfer."""
    migrated_work: float
    tasks_integral: float
    """``int_0^T N(t) dt``, N the tasks in the system (Park's cost; the sum of latencies once all
    tasks have completed)."""
    mean_tasks: float
    """``tasks_integral / T``."""


def task_latencies(record: ClusterRecord, workload: Workload) -> np.ndarray:
    """``end_i - a_i`` for completed tasks, nan for the others. Shape [T]."""
    return np.where(record.status == S_DONE, record.end - workload.arrival, np.nan)


def cluster_metrics(record: ClusterRecord, cluster: Cluster, workload: Workload) -> ClusterMetrics:
    """The metrics of a run from its record (formulas in `ClusterMetrics`)."""
    time = float(record.time)
    span = np.maximum(time - record.last, 0.0)
    area_used = record.area_used + record.used * span[:, None]
    area_tasks = record.area_tasks + record.tasks * span
    area_up = record.area_up + record.up * span
    capacity = cluster.capacity_units.astype(np.float64)
    available = (capacity * area_up[:, None]).sum(axis=0)
    utilisation = metrics.resource_utilisation(area_used.sum(axis=0), available)
    node_utilisation = metrics.resource_utilisation(area_used[:, 0], capacity[:, 0] * area_up)
    latency = task_latencies(record, workload)
    done = latency[~np.isnan(latency)]
    completed = len(done)
    failed = int(np.isin(record.status, (S_EXPIRED, S_LOST, S_REJECTED)).sum())
    return ClusterMetrics(
        time=time,
        arrived=int(record.arrived),
        completed=completed,
        failed=failed,
        mean_latency=metrics.mean_latency(done.sum(), completed),
        p95_latency=float(np.percentile(done, 95)) if completed else math.nan,
        cpu_utilisation=float(utilisation[0]),
        utilisation=utilisation,
        node_utilisation=node_utilisation,
        imbalance=metrics.coefficient_of_variation(node_utilisation),
        queue_imbalance=metrics.coefficient_of_variation(area_tasks / time) if time > 0 else math.nan,
        success_rate=metrics.task_success_rate(completed, int(record.arrived)),
        migrated=int(record.migrated),
        migration_cost=float(record.migration_cost),
        migrated_work=float(record.migrated_work),
        tasks_integral=float(record.tasks_integral),
        mean_tasks=float(record.tasks_integral / time) if time > 0 else math.nan,
    )


# ---------------------------------------------------------------------- compiled primitives
@numba.njit(cache=True)
def _grow_heap(sim):
    # plain loops: slice copies here made the push take seconds to compile
    size = len(sim.heap_time)
    grown = 2 * size + 16
    old_time, old_seq, old_code = sim.heap_time, sim.heap_seq, sim.heap_code
    heap_time = np.empty(grown)
    heap_seq = np.empty(grown, dtype=np.int64)
    heap_code = np.empty(grown, dtype=np.int64)
    for k in range(size):
        heap_time[k] = old_time[k]
        heap_seq[k] = old_seq[k]
        heap_code[k] = old_code[k]
    sim.heap_time = heap_time
    sim.heap_seq = heap_seq
    sim.heap_code = heap_code


@numba.njit(cache=True)
def _heap_push(sim, time, code):
    """Schedule an event; return its creation number."""
    counts = sim.counts
    size = counts[C_HEAP_SIZE]
    if size == len(sim.heap_time):
        _grow_heap(sim)
    seq = counts[C_SEQ]
    counts[C_SEQ] = seq + 1
    heap_insert(sim.heap_time, sim.heap_seq, sim.heap_code, size, time, seq, code)
    counts[C_HEAP_SIZE] = size + 1
    return seq


@numba.njit(cache=True)
def _heap_pop(sim):
    """Remove the earliest event; return its code and creation number."""
    counts = sim.counts
    top_code, top_seq = sim.heap_code[0], sim.heap_seq[0]
    heap_remove_top(sim.heap_time, sim.heap_seq, sim.heap_code, counts[C_HEAP_SIZE])
    counts[C_HEAP_SIZE] -= 1
    return top_code, top_seq


@numba.njit(cache=True)
def _advance_clock(sim, time):
    """Move the clock to ``time``, adding the tasks in the system to its integral."""
    clock = sim.clock
    now = clock[F_NOW]
    if time > now:
        counts = sim.counts
        inside = counts[C_QUEUED] + counts[C_RUNNING] + counts[C_MIGRATING] + counts[C_PENDING]
        if inside > 0:
            clock[F_AREA] += inside * (time - now)
        clock[F_NOW] = time


@numba.njit(cache=True)
def _touch(sim, n):
    """Bring node n's integrals up to now (call before changing what they integrate)."""
    now = sim.clock[F_NOW]
    last = sim.last
    dt = now - last[n]
    if dt > 0.0:
        area_used, used = sim.area_used, sim.used
        for r in range(NUM_RESOURCES):
            area_used[n, r] += used[n, r] * dt
        sim.area_tasks[n] += (sim.qlen[n] + sim.nrun[n]) * dt
        sim.area_up[n] += sim.up[n] * dt
        last[n] = now


@numba.njit(cache=True)
def _queue_append(sim, n, t):
    _touch(sim, n)
    tail = sim.qtail[n]
    sim.prv[t] = tail
    sim.nxt[t] = -1
    if tail >= 0:
        sim.nxt[tail] = t
    else:
        sim.qhead[n] = t
    sim.qtail[n] = t
    sim.qlen[n] += 1
    sim.qwork[n] += sim.size[t]
    sim.status[t] = S_QUEUED
    sim.node[t] = n
    sim.counts[C_QUEUED] += 1


@numba.njit(cache=True)
def _queue_remove(sim, n, t):
    _touch(sim, n)
    before, after = sim.prv[t], sim.nxt[t]
    if before >= 0:
        sim.nxt[before] = after
    else:
        sim.qhead[n] = after
    if after >= 0:
        sim.prv[after] = before
    else:
        sim.qtail[n] = before
    sim.qlen[n] -= 1
    if sim.qlen[n] == 0:
        sim.qwork[n] = 0.0
    else:
        sim.qwork[n] -= sim.size[t]
    sim.counts[C_QUEUED] -= 1


@numba.njit(cache=True)
def _running_append(sim, n, t):
    _touch(sim, n)
    tail = sim.rtail[n]
    sim.prv[t] = tail
    sim.nxt[t] = -1
    if tail >= 0:
        sim.nxt[tail] = t
    else:
        sim.rhead[n] = t
    sim.rtail[n] = t
    sim.nrun[n] += 1
    sim.fsum[n] += sim.finish[t]
    sim.status[t] = S_RUNNING
    sim.counts[C_RUNNING] += 1


@numba.njit(cache=True)
def _running_remove(sim, n, t):
    _touch(sim, n)
    before, after = sim.prv[t], sim.nxt[t]
    if before >= 0:
        sim.nxt[before] = after
    else:
        sim.rhead[n] = after
    if after >= 0:
        sim.prv[after] = before
    else:
        sim.rtail[n] = before
    sim.nrun[n] -= 1
    if sim.nrun[n] == 0:
        sim.fsum[n] = 0.0
    else:
        sim.fsum[n] -= sim.finish[t]
    used, demand = sim.used, sim.demand
    for r in range(NUM_RESOURCES):
        used[n, r] -= demand[t, r]
    sim.counts[C_RUNNING] -= 1


@numba.njit(cache=True)
def _fits(demand, cap, t, n):
    """Task t fits node n when the node is idle."""
    for r in range(NUM_RESOURCES):
        if demand[t, r] > cap[n, r]:
            return False
    return True


@numba.njit(cache=True)
def _eligible(up, demand, cap, t, n):
    # an if, not ``up[n] == 1 and _fits(...)``: numba does not inline a call inside a value-``and``
    if up[n] != 1:
        return False
    return _fits(demand, cap, t, n)


@numba.njit(cache=True)
def _try_start(sim, n):
    """Start, in queue order, node n's queued tasks that fit, until ``lookahead`` have not."""
    now = sim.clock[F_NOW]
    integer = sim.counts[C_INTEGER_DURATIONS] == 1
    patience = sim.counts[C_LOOKAHEAD]
    used, demand, cap, nxt = sim.used, sim.demand, sim.cap, sim.nxt
    t = sim.qhead[n]
    while t >= 0:
        after = nxt[t]
        fits = True
        for r in range(NUM_RESOURCES):
            if used[n, r] + demand[t, r] > cap[n, r]:
                fits = False
                break
        if not fits:
            patience -= 1
            if patience == 0:
                return
            t = after
            continue
        _queue_remove(sim, n, t)
        for r in range(NUM_RESOURCES):
            used[n, r] += demand[t, r]
        duration = sim.size[t] / sim.speed[n]
        if integer:
            duration = np.floor(duration)
        finish = now + duration
        sim.start[t] = now
        if sim.first_start[t] < 0.0:
            sim.first_start[t] = now
        sim.finish[t] = finish
        _running_append(sim, n, t)
        sim.event[t] = _heap_push(sim, finish, t * 8 + EV_COMPLETE)
        t = after


@numba.njit(cache=True)
def _pending_push(sim, t):
    counts = sim.counts
    capacity = len(sim.pending)
    sim.pending[(counts[C_PENDING_HEAD] + counts[C_PENDING]) % capacity] = t
    counts[C_PENDING] += 1
    sim.status[t] = S_PENDING
    sim.node[t] = -1


@numba.njit(cache=True)
def _finish_task(sim, t, status, counter):
    sim.status[t] = status
    sim.end[t] = sim.clock[F_NOW]
    sim.counts[counter] += 1


@numba.njit(cache=True)
def _displace(sim, t):
    """A task a failure took off its node: back to the dispatcher, or lost."""
    sim.counts[C_DISPLACED] += 1
    sim.event[t] = -1
    if sim.counts[C_REDISPATCH] == 1:
        sim.counts[C_REDISPATCHED] += 1
        _pending_push(sim, t)
    else:
        _finish_task(sim, t, S_LOST, C_LOST)


# The event handlers return the node whose queue may now start tasks (-1: none); `advance` starts
# them, so the loop holds one copy of `_try_start` (its compile time grows with every copy).
@numba.njit(cache=True)
def _complete(sim, t):
    n = sim.node[t]
    _running_remove(sim, n, t)
    _finish_task(sim, t, S_DONE, C_COMPLETED)
    return n


@numba.njit(cache=True)
def _expire(sim, t):
    if sim.status[t] == S_QUEUED:
        n = sim.node[t]
        _queue_remove(sim, n, t)
        _finish_task(sim, t, S_EXPIRED, C_EXPIRED)
        return n  # the task may have held back the tasks behind it
    sim.counts[C_MIGRATING] -= 1  # it was in migration
    sim.event[t] = -1
    _finish_task(sim, t, S_EXPIRED, C_EXPIRED)
    return -1


@numba.njit(cache=True)
def _migration_arrival(sim, t):
    sim.counts[C_MIGRATING] -= 1
    sim.event[t] = -1
    n = sim.node[t]
    if sim.up[n] == 1:
        _queue_append(sim, n, t)
        return n
    _displace(sim, t)
    return -1


@numba.njit(cache=True)
def _fail_node(sim, f):
    n = sim.fail_node[f]
    if sim.up[n] == 0:
        return
    _touch(sim, n)
    sim.up[n] = 0
    t = sim.rhead[n]
    while t >= 0:
        after = sim.nxt[t]
        _running_remove(sim, n, t)
        _displace(sim, t)
        t = after
    t = sim.qhead[n]
    while t >= 0:
        after = sim.nxt[t]
        _queue_remove(sim, n, t)
        _displace(sim, t)
        t = after


@numba.njit(cache=True)
def _recover_node(sim, f):
    n = sim.fail_node[f]
    _touch(sim, n)
    sim.up[n] = 1


@numba.njit(cache=True)
def start(sim):
    """Schedule the failures (call once, on a fresh state): failure k's events in order k."""
    for f in range(len(sim.fail_node)):
        _heap_push(sim, sim.fail_time[f], f * 8 + EV_FAIL)
        if sim.recover_time[f] < np.inf:
            _heap_push(sim, sim.recover_time[f], f * 8 + EV_RECOVER)


@numba.njit(cache=True)
def advance(sim, until):
    """Process events before ``until`` until a dispatch decision is due.

    Returns:
        `ADVANCE_DECISION` (the task at the head of ``pending`` awaits a node: call `dispatch`) or
        `ADVANCE_DONE` (no event before ``until``: the clock is at ``until`` if finite; with ``until =
        inf``, when every task has left the system).
    """
    counts = sim.counts
    if counts[C_PENDING] > 0:
        return ADVANCE_DECISION
    num_tasks = len(sim.arrival)
    while True:
        na = counts[C_NEXT_ARRIVAL]
        ta = sim.arrival[na] if na < num_tasks else np.inf
        th = sim.heap_time[0] if counts[C_HEAP_SIZE] > 0 else np.inf
        t = th if th <= ta else ta
        if t >= until or t == np.inf:
            if until < np.inf:
                _advance_clock(sim, until)
            return ADVANCE_DONE
        if until == np.inf and na >= num_tasks:
            inside = counts[C_QUEUED] + counts[C_RUNNING] + counts[C_MIGRATING]
            if inside == 0:
                return ADVANCE_DONE
        _advance_clock(sim, t)
        if th <= ta:
            code, seq = _heap_pop(sim)
            kind = code & 7
            item = code >> 3
            wake = -1
            if kind == EV_COMPLETE:
                if sim.status[item] == S_RUNNING and sim.event[item] == seq:
                    counts[C_EVENTS] += 1
                    wake = _complete(sim, item)
            elif kind == EV_DEADLINE:
                status = sim.status[item]
                if sim.first_start[item] < 0.0 and (status == S_QUEUED or status == S_MIGRATING):
                    counts[C_EVENTS] += 1
                    wake = _expire(sim, item)
            elif kind == EV_MIGRATED:
                if sim.status[item] == S_MIGRATING and sim.event[item] == seq:
                    counts[C_EVENTS] += 1
                    wake = _migration_arrival(sim, item)
            elif kind == EV_FAIL:
                counts[C_EVENTS] += 1
                _fail_node(sim, item)
            else:
                counts[C_EVENTS] += 1
                _recover_node(sim, item)
            if wake >= 0:
                _try_start(sim, wake)
            if counts[C_PENDING] > 0:
                return ADVANCE_DECISION
        else:
            counts[C_EVENTS] += 1
            counts[C_NEXT_ARRIVAL] = na + 1
            counts[C_ARRIVED] += 1
            _pending_push(sim, na)
            return ADVANCE_DECISION


@numba.njit(cache=True)
def pending_task(sim):
    """The task whose dispatch decision is due, or -1."""
    if sim.counts[C_PENDING] == 0:
        return -1
    return sim.pending[sim.counts[C_PENDING_HEAD]]


@numba.njit(cache=True)
def dispatch(sim, n):
    """Place the pending task on node n (any n: a node that is not eligible rejects it).

    Returns:
        `PLACED` or `REJECTED`; -1 if no decision is due (nothing changed).
    """
    counts = sim.counts
    if counts[C_PENDING] == 0:
        return -1
    head = counts[C_PENDING_HEAD]
    t = sim.pending[head]
    counts[C_PENDING_HEAD] = (head + 1) % len(sim.pending)
    counts[C_PENDING] -= 1
    sim.dispatches[t] += 1
    if n < 0 or n >= len(sim.speed) or not _eligible(sim.up, sim.demand, sim.cap, t, n):
        _finish_task(sim, t, S_REJECTED, C_REJECTED)
        return REJECTED
    _queue_append(sim, n, t)
    _try_start(sim, n)
    if sim.dispatches[t] == 1 and sim.status[t] == S_QUEUED and sim.deadline[t] < np.inf:
        # only a task that waits after its first placement can miss its deadline (one event each)
        _heap_push(sim, sim.deadline[t], t * 8 + EV_DEADLINE)
    return PLACED


@numba.njit(cache=True)
def _kth_eligible(up, demand, cap, t, k):
    for n in range(len(up)):
        if _eligible(up, demand, cap, t, n):
            if k == 0:
                return n
            k -= 1
    return -1


@numba.njit(cache=True)
def choose_node(sim, code, given, rng):
    """The node a compiled policy (`POLICIES`) picks for the pending task (-1: none eligible)."""
    t = sim.pending[sim.counts[C_PENDING_HEAD]]
    up, demand, cap, qlen, nrun = sim.up, sim.demand, sim.cap, sim.qlen, sim.nrun
    num_nodes = len(up)
    if code == P_GIVEN:
        return given[t]
    if code == P_ROUND_ROBIN:
        first = sim.counts[C_ROUND_ROBIN]
        for k in range(num_nodes):
            n = (first + k) % num_nodes
            if _eligible(up, demand, cap, t, n):
                sim.counts[C_ROUND_ROBIN] = (n + 1) % num_nodes
                return n
        return -1
    if code == P_JSQ or code == P_LEAST_WORK:
        now = sim.clock[F_NOW]
        qwork, speed, fsum = sim.qwork, sim.speed, sim.fsum
        best = -1
        best_load = 0.0
        for n in range(num_nodes):
            if not _eligible(up, demand, cap, t, n):
                continue
            if code == P_JSQ:
                load = float(qlen[n] + nrun[n])
            else:
                load = qwork[n] / speed[n] + (fsum[n] - nrun[n] * now)
            if best < 0 or load < best_load:
                best = n
                best_load = load
        return best
    count = 0
    only = -1
    for n in range(num_nodes):
        if _eligible(up, demand, cap, t, n):
            count += 1
            only = n
    if count <= 1:
        return only
    i = int(rng.random() * count)
    if i >= count:
        i = count - 1
    first = _kth_eligible(up, demand, cap, t, i)
    if code == P_RANDOM:
        return first
    j = int(rng.random() * (count - 1))
    if j >= count - 1:
        j = count - 2
    if j >= i:
        j += 1
    second = _kth_eligible(up, demand, cap, t, j)
    if qlen[second] + nrun[second] < qlen[first] + nrun[first]:
        return second
    return first


@numba.njit(cache=True)
def run_policy(sim, code, given, rng, until):
    """Simulate until ``until`` dispatching with a compiled policy."""
    while advance(sim, until) == ADVANCE_DECISION:
        dispatch(sim, choose_node(sim, code, given, rng))


@numba.njit(cache=True)
def migrate(sim, matrix):
    """Move queued tasks by a migration matrix (the rule in the module docstring).

    Returns:
        The number of tasks moved.
    """
    num_nodes = len(sim.speed)
    now = sim.clock[F_NOW]
    per_size = sim.clock[F_MIGRATION_DELAY]
    counts = sim.counts
    moved = 0
    for i in range(num_nodes):
        queued = sim.qlen[i]
        if queued == 0:
            continue
        total = 0.0
        sent = 0
        moved_here = 0
        for j in range(num_nodes):
            share = matrix[i, j]
            if j == i or not share > 0.0:
                continue
            total += share
            target = int(np.floor(queued * total + 0.5))
            if target > queued:
                target = queued
            want = target - sent
            sent = target
            if want <= 0 or sim.up[j] == 0:
                continue
            # the last ``want`` queued tasks that fit j leave, in queue order: find the first of them
            t = sim.qtail[i]
            first = -1
            found = 0
            while t >= 0 and found < want:
                if _fits(sim.demand, sim.cap, t, j):
                    found += 1
                    first = t
                t = sim.prv[t]
            t = first
            while t >= 0 and found > 0:
                after = sim.nxt[t]
                if _fits(sim.demand, sim.cap, t, j):
                    _queue_remove(sim, i, t)
                    sim.status[t] = S_MIGRATING
                    sim.node[t] = j
                    counts[C_MIGRATING] += 1
                    counts[C_MIGRATED] += 1
                    delay = per_size * sim.size[t]
                    sim.clock[F_MIGRATION_COST] += delay
                    sim.clock[F_MIGRATED_WORK] += sim.size[t]
                    sim.event[t] = _heap_push(sim, now + delay, t * 8 + EV_MIGRATED)
                    found -= 1
                    moved_here += 1
                t = after
        if moved_here > 0:
            _try_start(sim, i)
            moved += moved_here
    return moved


# ---------------------------------------------------------------------- state construction
@numba.njit(cache=True)
def _assemble(speed, cap, arrival, size, deadline, demand, fail_node, fail_time, recover_time, counts, clock,
              up, used, qhead, qtail, qlen, rhead, rtail, nrun, qwork, fsum, last, area_used, area_tasks,
              area_up, status, node, nxt, prv, start, first_start, finish, end, event, dispatches, pending,
              heap_time, heap_seq, heap_code):  # fmt: skip
    # the arrays are built in numpy: assigning them compiles much faster than allocating them here
    s = structref.new(_STATE_TYPE)
    s.speed = speed
    s.cap = cap
    s.arrival = arrival
    s.size = size
    s.deadline = deadline
    s.demand = demand
    s.fail_node = fail_node
    s.fail_time = fail_time
    s.recover_time = recover_time
    s.counts = counts
    s.clock = clock
    s.up = up
    s.used = used
    s.qhead = qhead
    s.qtail = qtail
    s.qlen = qlen
    s.rhead = rhead
    s.rtail = rtail
    s.nrun = nrun
    s.qwork = qwork
    s.fsum = fsum
    s.last = last
    s.area_used = area_used
    s.area_tasks = area_tasks
    s.area_up = area_up
    s.status = status
    s.node = node
    s.nxt = nxt
    s.prv = prv
    s.start = start
    s.first_start = first_start
    s.finish = finish
    s.end = end
    s.event = event
    s.dispatches = dispatches
    s.pending = pending
    s.heap_time = heap_time
    s.heap_seq = heap_seq
    s.heap_code = heap_code
    return s


@numba.njit(cache=True)
def _heap_arrays(s):
    return s.heap_time, s.heap_seq, s.heap_code


@numba.njit(cache=True)
def _set_heap(s, heap_time, heap_seq, heap_code):
    s.heap_time = heap_time
    s.heap_seq = heap_seq
    s.heap_code = heap_code


def _fresh_arrays(
    cluster: Cluster, workload: Workload, options: ClusterSimOptions, failures: FailureSchedule
) -> ClusterArrays:
    n, t, f = cluster.num_nodes, workload.num_tasks, failures.num_failures
    counts = np.zeros(NUM_COUNTS, dtype=np.int64)
    counts[C_INTEGER_DURATIONS] = int(bool(options.integer_durations))
    counts[C_REDISPATCH] = int(options.on_failure == "redispatch")
    counts[C_LOOKAHEAD] = int(options.lookahead)
    clock = np.zeros(NUM_CLOCK)
    clock[F_MIGRATION_DELAY] = float(options.migration_delay)
    heap = 2 * t + 2 * f + 16

    def ints(count, value=0):
        return np.full(count, value, dtype=np.int64)

    return ClusterArrays(
        speed=np.array(cluster.speed, dtype=np.float64), cap=np.ascontiguousarray(cluster.capacity_units),
        arrival=np.array(workload.arrival), size=np.array(workload.size),
        deadline=np.array(workload.deadline), demand=np.ascontiguousarray(workload.demand_units),
        fail_node=np.array(failures.node), fail_time=np.array(failures.fail_time),
        recover_time=np.array(failures.recover_time), counts=counts, clock=clock,
        up=ints(n, 1), used=np.zeros((n, NUM_RESOURCES), dtype=np.int64), qhead=ints(n, -1),
        qtail=ints(n, -1), qlen=ints(n), rhead=ints(n, -1), rtail=ints(n, -1), nrun=ints(n),
        qwork=np.zeros(n), fsum=np.zeros(n),
        last=np.zeros(n), area_used=np.zeros((n, NUM_RESOURCES)), area_tasks=np.zeros(n), area_up=np.zeros(n),
        status=ints(t, S_FUTURE), node=ints(t, -1), nxt=ints(t, -1), prv=ints(t, -1), start=np.full(t, -1.0),
        first_start=np.full(t, -1.0), finish=np.full(t, np.nan), end=np.full(t, np.nan), event=ints(t, -1),
        dispatches=ints(t), pending=ints(max(t, 1)),
        heap_time=np.zeros(heap), heap_seq=ints(heap), heap_code=ints(heap),
    )  # fmt: skip


def new_state(
    cluster: Cluster, workload: Workload, options: ClusterSimOptions, failures: FailureSchedule
) -> tuple[ClusterState, ClusterArrays]:
    """A fresh simulation state (empty nodes, the failures scheduled): the compiled view and its
    arrays (the same arrays; the heap's are replaced when it grows, see `heap_arrays`)."""
    arrays = _fresh_arrays(cluster, workload, options, failures)
    state = _assemble(*arrays)
    start(state)
    return state, arrays


def heap_arrays(state: ClusterState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The event heap's current arrays (time, creation number, code)."""
    return _heap_arrays(state)


# ---------------------------------------------------------------------- the pooled reference
@numba.njit(cache=True)
def srpt_completions(arrival, work, rate):
    """Completion times on one server of speed ``rate`` serving shortest remaining work first, with
    preemption (ties: lower index). Shapes: arrival [T] (non-decreasing), work [T] -> [T]."""
    count = len(arrival)
    completion = np.empty(count)
    heap_rem = np.empty(count)
    heap_idx = np.empty(count, dtype=np.int64)
    size = 0
    current = -1
    remaining = 0.0
    now = 0.0
    i = 0
    while i < count or current >= 0 or size > 0:
        if current < 0:
            if size > 0:
                current, remaining = heap_idx[0], heap_rem[0]
                size -= 1
                if size > 0:  # sift the last entry down from the root
                    rem, idx = heap_rem[size], heap_idx[size]
                    k = 0
                    while True:
                        child = 2 * k + 1
                        if child >= size:
                            break
                        if child + 1 < size and (
                            heap_rem[child + 1] < heap_rem[child]
                            or (
                                heap_rem[child + 1] == heap_rem[child]
                                and heap_idx[child + 1] < heap_idx[child]
                            )
                        ):
                            child += 1
                        if rem < heap_rem[child] or (rem == heap_rem[child] and idx < heap_idx[child]):
                            break
                        heap_rem[k] = heap_rem[child]
                        heap_idx[k] = heap_idx[child]
                        k = child
                    heap_rem[k] = rem
                    heap_idx[k] = idx
            else:
                now = max(now, arrival[i])
                current, remaining = i, work[i]
                i += 1
                continue
        following = arrival[i] if i < count else np.inf
        done_at = now + remaining / rate
        if done_at <= following:
            now = done_at
            completion[current] = now
            current = -1
            continue
        remaining = max(remaining - (following - now) * rate, 0.0)
        now = following
        new, new_work = i, work[i]
        i += 1
        if new_work < remaining:
            push_rem, push_idx = remaining, current
            current, remaining = new, new_work
        else:
            push_rem, push_idx = new_work, new
        k = size
        size += 1
        while k > 0:
            parent = (k - 1) >> 1
            if heap_rem[parent] < push_rem or (heap_rem[parent] == push_rem and heap_idx[parent] < push_idx):
                break
            heap_rem[k] = heap_rem[parent]
            heap_idx[k] = heap_idx[parent]
            k = parent
        heap_rem[k] = push_rem
        heap_idx[k] = push_idx
    return completion


class PooledReference(NamedTuple):
    """Lower bounds on the number of tasks in the system at every time, for any dispatcher,
    migration controller and failure schedule of the cluster, as long as no task fails.

    ``bounds`` [K, T] holds, for each of K bounds, a completion time per task such that the cluster
    has at least ``N_k(t) = #{i : a_i <= t < bounds[k, i]}`` tasks in the system at every t: one per
    resource with capacity (SRPT on the pooled server) and the last from the shortest possible service
    of each task. ``N(t) >= max_k N_k(t)``, so every integral below bounds the cluster's.
    """

    arrival: np.ndarray
    """Task arrival times. Shape [T]."""
    bounds: np.ndarray
    """Completion times of each bound. Shape [K, T]."""
    labels: tuple[str, ...]
    """What each bound is: ``srpt_<resource>`` or ``min_service``."""

    def tasks_integral(self, until: float = math.inf) -> float:
        """``int_0^until max_k N_k(t) dt``: at most the cluster's `ClusterMetrics.tasks_integral` at
        time ``until`` (Park's cost)."""
        arrival = np.sort(self.arrival)
        ends = np.sort(self.bounds, axis=1)
        points = np.unique(np.concatenate([self.arrival, self.bounds.ravel()]))
        points = points[points < until]
        if len(points) == 0:
            return 0.0
        # after the last point every bound has ended, so only a finite ``until`` extends the last piece
        upper = np.append(points[1:], until if until < math.inf else points[-1])
        arrived = np.searchsorted(arrival, points, side="right")
        gone = np.stack([np.searchsorted(row, points, side="right") for row in ends])
        inside = (arrived[None, :] - gone).max(axis=0)
        return float((inside * (upper - points)).sum())

    @property
    def mean_latency(self) -> float:
        """``tasks_integral() / T``: at most the cluster's mean latency when every task completes."""
        return self.tasks_integral() / max(len(self.arrival), 1)


def _durations(size: np.ndarray, speed: np.ndarray, integer: bool) -> np.ndarray:
    """Service time of each task on each node. Shape [T, N]."""
    duration = size[:, None] / speed[None, :]
    return np.floor(duration) if integer else duration


def pooled_reference(
    cluster: Cluster, workload: Workload, options: ClusterSimOptions | None = None
) -> PooledReference:
    """The pooled system no dispatcher beats: one queue with the whole cluster's capacity.

    For each resource r with ``C_r = sum_n cap[n, r] v_n > 0``, one server of speed ``C_r`` gets task i
    with work ``w_ir = d[i, r] * min_n (v_n * duration_n(s_i))`` (the r-work the task's run on any
    node it fits consumes; ``d[i, r] s_i`` unless durations are rounded) at its arrival and serves
    shortest remaining work first, preemptively (SRPT). For Park (one resource, each task a whole
    node) it is one server with the summed speed 6.0 and work ``s_i``. A last bound ends each task
    after its shortest possible service, ``a_i + min_n duration_n(s_i)`` over the nodes it fits.

    Why it is a bound: in the cluster, task i runs on node n at speed ``v_n`` holding ``d[i, r]``, so
    it consumes r-work at ``d[i, r] v_n``; the capacity invariant caps node n's total at ``cap[n, r]
    v_n``, hence the cluster's at ``C_r``, and a task completes only after a run that consumed at
    least ``w_ir``. So any cluster schedule (any dispatcher, migration or failure, preemption and
    waste included) is a schedule of one server of speed ``C_r`` that may share its speed, with the
    same or later completions. SRPT maximises the number of completions by every time t over all
    such schedules (Schrage 1968; Smith 1978), so the cluster has at least as many tasks in the system
    as SRPT at every t; and no task leaves before its shortest service. Both hold pointwise, so their
    maximum bounds the tasks in the system, its integral (Park's cost) and, once all tasks complete,
    the mean latency. It does not hold when tasks fail (the cluster could drop work).

    Why not a FIFO pooled server: with sizes Pareto(1.5), a huge task holds the one FIFO server
    while small ones queue behind it; the cluster runs it on one node and the small ones elsewhere,
    so dispatchers beat the FIFO pooled server (measured in the tests). A central FIFO queue over the
    N nodes (the M/G/c view) is no bound either: it too serves in arrival order, and with
    heterogeneous speeds it starts its head on whichever node frees first, where a dispatcher that
    sees sizes (as Park's agents do) can wait for a fast one.

    Args:
        cluster: the nodes.
        workload: the tasks.
        options: the simulator's options (``integer_durations`` shortens the work).

    Raises:
        RlteError: a task that fits no node (it could never complete).
    """
    options = options or ClusterSimOptions()
    fits = (workload.demand_units[:, None, :] <= cluster.capacity_units[None, :, :]).all(axis=2)  # [T, N]
    nowhere = np.flatnonzero(~fits.any(axis=1))
    if len(nowhere):
        raise RlteError(f"pooled reference: task {int(nowhere[0])} fits no node of cluster {cluster.name!r}")
    duration = _durations(workload.size, cluster.speed, options.integer_durations)
    shortest = np.where(fits, duration, np.inf).min(axis=1)
    work_run = np.where(fits, duration * cluster.speed[None, :], np.inf).min(axis=1)
    work_run = np.minimum(work_run, workload.size)
    pooled = cluster.pooled_capacity
    bounds, labels = [], []
    arrival = np.ascontiguousarray(workload.arrival)
    for r in range(NUM_RESOURCES):
        if pooled[r] <= 0:
            continue
        work = np.ascontiguousarray(workload.demand_units[:, r] / UNITS * work_run)
        bounds.append(srpt_completions(arrival, work, float(pooled[r])))
        labels.append(f"srpt_{RESOURCES[r]}")
    bounds.append(arrival + shortest)
    labels.append("min_service")
    return PooledReference(arrival.copy(), np.array(bounds), tuple(labels))


# ---------------------------------------------------------------------- the simulator
class ClusterSimulator:
    """One run of a `Workload` on a `Cluster`.

    ``reset(rng)`` empties the nodes; ``run(policy, until)`` simulates with a compiled dispatch
    policy; ``next_decision`` / ``dispatch`` place one task at a time from Python (an external
    dispatcher); ``run_epoch`` runs to the next decision epoch; ``migrate`` moves queued tasks.
    ``state`` is the compiled view, for compiled callers of `advance` and `dispatch`.

    Args:
        cluster: the nodes.
        workload: the tasks.
        options: service, migration and failure rules.
        failures: node failures (none by default).

    Raises:
        RlteError: bad options, or a failure naming a node the cluster lacks.
    """

    def __init__(
        self,
        cluster: Cluster,
        workload: Workload,
        options: ClusterSimOptions | None = None,
        failures: FailureSchedule | None = None,
    ) -> None:
        self.cluster = cluster
        self.workload = workload
        self.options = options or ClusterSimOptions()
        self.options.validate()
        self.failures = failures if failures is not None else FailureSchedule.none()
        if self.failures.num_failures and int(self.failures.node.max()) >= cluster.num_nodes:
            bad = int(self.failures.node.max())
            raise RlteError(f"failure schedule: node {bad} is not a node of cluster {cluster.name!r}")
        self.state: ClusterState | None = None
        self.arrays: ClusterArrays | None = None
        self.rng: np.random.Generator | None = None

    # ------------------------------------------------------------------ running
    def reset(self, rng: np.random.Generator) -> None:
        """Empty nodes at time 0; the random policies draw from ``rng`` (kept and advanced)."""
        self.rng = rng
        self.state, self.arrays = new_state(self.cluster, self.workload, self.options, self.failures)

    def _sim(self) -> ClusterArrays:
        if self.arrays is None:
            raise RlteError("cluster simulator: call reset(rng) first")
        return self.arrays

    def _policy(self, policy: DispatchPolicy | str) -> DispatchPolicy:
        if isinstance(policy, str):
            policy = dispatch_policy(policy)
        if policy.code == P_GIVEN:
            given = policy.given
            if len(given) != self.workload.num_tasks:
                raise RlteError(
                    f"dispatch policy 'given': {len(given)} nodes for {self.workload.num_tasks} tasks"
                )
            if len(given) and int(given.max()) >= self.cluster.num_nodes:
                raise RlteError(
                    f"dispatch policy 'given': node {int(given.max())} is not a node of the cluster"
                )
        return policy

    @staticmethod
    def _until(until: float | None) -> float:
        return math.inf if until is None else float(until)

    def run(self, policy: DispatchPolicy | str, until: float | None = None) -> None:
        """Simulate the events before ``until`` (default: until every task has left) dispatching with
        a compiled policy (a `DispatchPolicy` or a name in `POLICIES`; a decision already due is
        taken by it too)."""
        self._sim()
        policy = self._policy(policy)
        run_policy(self.state, policy.code, policy.given, self.rng, self._until(until))

    def next_epoch_time(self) -> float:
        """End of the current decision epoch: ``(epoch + 1) * interval``."""
        return (int(self._sim().counts[C_EPOCH]) + 1) * float(self.options.interval)

    def run_epoch(self, policy: DispatchPolicy | str) -> bool:
        """Run to the end of the current decision epoch; True while tasks remain (to arrive or in
        the system)."""
        self.run(policy, self.next_epoch_time())
        self.arrays.counts[C_EPOCH] += 1
        return not self.finished

    def next_decision(self, until: float | None = None) -> DispatchDecision | None:
        """Simulate until a dispatch decision is due before ``until``; None if none is (a decision
        already due is returned again)."""
        self._sim()
        if advance(self.state, self._until(until)) == ADVANCE_DONE:
            return None
        return self.pending_decision()

    def pending_decision(self) -> DispatchDecision | None:
        """The decision that is due, if any."""
        sim = self._sim()
        if sim.counts[C_PENDING] == 0:
            return None
        t = int(sim.pending[sim.counts[C_PENDING_HEAD]])
        return DispatchDecision(t, float(sim.clock[F_NOW]), float(self.workload.size[t]),
                                self.workload.demand[t].copy(), float(self.workload.deadline[t]),
                                bool(sim.dispatches[t] > 0))  # fmt: skip

    def dispatch(self, node: int) -> bool:
        """Place the due decision's task on ``node``; False if the node was not eligible (down, or
        the task does not fit it): the task is rejected (it fails).

        Raises:
            RlteError: no decision is due, or ``node`` is not a node index.
        """
        sim = self._sim()
        if sim.counts[C_PENDING] == 0:
            raise RlteError("cluster simulator: no decision is due (call next_decision first)")
        n = self.cluster.num_nodes
        if isinstance(node, bool) or not isinstance(node, int | np.integer) or not 0 <= int(node) < n:
            raise RlteError(f"cluster simulator: node {node!r} must be an integer in [0, {n - 1}]")
        return int(dispatch(self.state, int(node))) == PLACED

    def migrate(self, matrix: np.ndarray) -> MigrationOutcome:
        """Move queued tasks now: ``matrix[i, j]`` is the fraction of node i's queued tasks sent to j.

        Shapes:
            matrix: [N, N], >= 0, diagonal 0, rows summing to <= 1.

        Raises:
            RlteError: a bad matrix, or a dispatch decision is due.
        """
        sim = self._sim()
        n = self.cluster.num_nodes
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape != (n, n):
            raise RlteError(f"migration matrix of shape {matrix.shape}: want ({n}, {n})")
        if not np.isfinite(matrix).all() or (matrix < 0).any():
            raise RlteError("migration matrix: entries must be finite and >= 0")
        if (np.diag(matrix) != 0).any():
            raise RlteError("migration matrix: the diagonal must be 0 (a node does not migrate to itself)")
        rows = matrix.sum(axis=1)
        if (rows > 1.0 + 1e-9).any():
            bad = int(np.flatnonzero(rows > 1.0 + 1e-9)[0])
            raise RlteError(f"migration matrix: row {bad} sums to {float(rows[bad])!r} (must be <= 1)")
        if sim.counts[C_PENDING] > 0:
            raise RlteError("cluster simulator: a dispatch decision is due (dispatch before migrating)")
        before = (
            int(sim.counts[C_MIGRATED]),
            float(sim.clock[F_MIGRATED_WORK]),
            float(sim.clock[F_MIGRATION_COST]),
        )
        migrate(self.state, np.ascontiguousarray(matrix))
        migrated, work, cost = before
        return MigrationOutcome(
            int(sim.counts[C_MIGRATED]) - migrated,
            float(sim.clock[F_MIGRATED_WORK]) - work,
            float(sim.clock[F_MIGRATION_COST]) - cost,
        )

    def migrate_ratios(self, ratios, targets) -> MigrationOutcome:
        """Node i sends the fraction ``ratios[i]`` of its queued tasks to node ``targets[i]`` (the
        paper's action: a migration ratio per node). Shapes: ratios [N] in [0, 1], targets [N]."""
        return self.migrate(migration_matrix(self.cluster.num_nodes, ratios, targets))

    # ------------------------------------------------------------------ results
    @property
    def now(self) -> float:
        return float(self._sim().clock[F_NOW])

    @property
    def epoch(self) -> int:
        return int(self._sim().counts[C_EPOCH])

    @property
    def finished(self) -> bool:
        """Every task has arrived and left the system."""
        c = self.counts()
        return c.arrived == self.workload.num_tasks and c.in_system == 0

    def counts(self) -> ClusterCounts:
        sim = self._sim()
        c = sim.counts
        return ClusterCounts(*(int(c[i]) for i in range(C_ARRIVED, C_EVENTS + 1)), float(sim.clock[F_NOW]))

    def node_view(self) -> NodeView:
        """The nodes now."""
        sim = self._sim()
        capacity = sim.cap.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            utilisation = np.where(capacity > 0, sim.used / capacity, 0.0)
        backlog = sim.qwork / sim.speed + (sim.fsum - sim.nrun * sim.clock[F_NOW])
        return NodeView(sim.up.astype(bool), sim.qlen.copy(), sim.nrun.copy(), utilisation, backlog)

    def record(self) -> ClusterRecord:
        sim = self._sim()
        c = sim.counts
        return ClusterRecord(
            time=float(sim.clock[F_NOW]),
            status=sim.status.copy(),
            end=sim.end.copy(),
            area_used=sim.area_used.copy(),
            area_tasks=sim.area_tasks.copy(),
            area_up=sim.area_up.copy(),
            last=sim.last.copy(),
            used=sim.used.copy(),
            tasks=sim.qlen + sim.nrun,
            up=sim.up.copy(),
            tasks_integral=float(sim.clock[F_AREA]),
            arrived=int(c[C_ARRIVED]),
            migrated=int(c[C_MIGRATED]),
            migration_cost=float(sim.clock[F_MIGRATION_COST]),
            migrated_work=float(sim.clock[F_MIGRATED_WORK]),
        )

    def task_latencies(self) -> np.ndarray:
        """Completion - arrival of every completed task, nan for the others. Shape [T]."""
        return task_latencies(self.record(), self.workload)

    def task_status(self) -> np.ndarray:
        """Status of every task (``S_*``; names in `STATUS_NAMES`). Shape [T]."""
        return self._sim().status.copy()

    def metrics(self) -> ClusterMetrics:
        """The metrics over [0, now] (`ClusterMetrics`)."""
        return cluster_metrics(self.record(), self.cluster, self.workload)

    # ------------------------------------------------------------------ checkpoints
    def get_state(self) -> dict:
        """Every mutable array of the run and the generator's state (numpy arrays, plain values)."""
        arrays = self._sim()._replace(**dict(zip(_HEAP_FIELDS, heap_arrays(self.state))))
        state = {
            name: getattr(arrays, name).copy() for name in ClusterArrays._fields if name not in _STATIC_FIELDS
        }
        state["rng"] = self.rng.bit_generator.state
        return state

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned (on a simulator built with the same arguments)."""
        if self.arrays is None:
            self.reset(np.random.default_rng())
        rng_state = state["rng"]
        bit_generator = getattr(np.random, rng_state["bit_generator"])()
        bit_generator.state = rng_state
        self.rng = np.random.Generator(bit_generator)
        heap = tuple(
            np.array(state[name], dtype=np.float64 if name == "heap_time" else np.int64)
            for name in _HEAP_FIELDS
        )
        _set_heap(self.state, *heap)
        self.arrays = self.arrays._replace(**dict(zip(_HEAP_FIELDS, heap)))
        for name in ClusterArrays._fields:
            if name in _STATIC_FIELDS or name in _HEAP_FIELDS:
                continue
            array, value = getattr(self.arrays, name), np.asarray(state[name])
            if value.shape != array.shape:
                raise RlteError(
                    f"cluster simulator state: {name} has shape {value.shape}, want {array.shape}"
                )
            array[...] = value


def migration_matrix(num_nodes: int, ratios, targets) -> np.ndarray:
    """The matrix of per-node ratios and targets: ``M[i, targets[i]] = ratios[i]``.

    Shapes:
        ratios [N] in [0, 1], targets [N] node indices (ignored where the ratio is 0) -> [N, N].

    Raises:
        RlteError: a bad shape, a ratio outside [0, 1], a bad target, or a node targeting itself.
    """
    ratios = np.asarray(ratios, dtype=np.float64)
    targets = np.asarray(targets)
    if ratios.shape != (num_nodes,) or targets.shape != (num_nodes,):
        raise RlteError(
            f"migration ratios {ratios.shape} and targets {targets.shape}: want ({num_nodes},) each"
        )
    bad = np.flatnonzero(~(ratios >= 0) | ~(ratios <= 1))
    if len(bad):
        raise RlteError(f"migration ratio {float(ratios[bad[0]])!r} of node {int(bad[0])}: must be in [0, 1]")
    active = ratios > 0
    if not np.issubdtype(targets.dtype, np.integer) or ((targets < 0) | (targets >= num_nodes))[active].any():
        raise RlteError(f"migration targets: must be node indices in [0, {num_nodes - 1}]")
    selfish = np.flatnonzero(active & (targets == np.arange(num_nodes)))
    if len(selfish):
        raise RlteError(f"migration targets: node {int(selfish[0])} targets itself")
    matrix = np.zeros((num_nodes, num_nodes))
    rows = np.flatnonzero(active)
    matrix[rows, targets[rows]] = ratios[rows]
    return matrix


__all__ = [
    "NUM_RESOURCES",
    "ON_FAILURE",
    "PARK_SERVICE_RATES",
    "POLICIES",
    "RESOURCES",
    "SCENARIOS",
    "STATUS_NAMES",
    "UNITS",
    "Cluster",
    "ClusterCounts",
    "ClusterMetrics",
    "ClusterRecord",
    "ClusterScenario",
    "ClusterSimOptions",
    "ClusterSimulator",
    "ClusterState",
    "DispatchDecision",
    "DispatchPolicy",
    "FailureSchedule",
    "MigrationOutcome",
    "NodeView",
    "PooledReference",
    "Workload",
    "advance",
    "arrival_rate_for_load",
    "heap_arrays",
    "new_state",
    "choose_node",
    "cluster_metrics",
    "dispatch",
    "dispatch_policy",
    "draw_tasks",
    "expected_demand",
    "migrate",
    "migration_matrix",
    "park_scenario",
    "pooled_reference",
    "run_policy",
    "scenario",
    "srpt_completions",
    "task_latencies",
]
