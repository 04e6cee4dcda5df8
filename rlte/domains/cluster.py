"""The compute-cluster load-balancing domain (seed 003): a dispatcher places arriving tasks, and at
every decision epoch a balancer may migrate queued tasks between nodes (`rlte.envs.cluster` over
`rlte.sim.cluster`), beside the classical balancers and the pooled system no balancer beats.

Grid axes: ``topologies`` (cluster descriptions, `rlte.envs.cluster.parse_cluster`:
``heterogeneous:N``, ``homogeneous:N``, ``speeds:V1,...``, ``nodes:V/C/M/I,...``, ``park``),
``traffic`` (workloads, `rlte.envs.cluster.parse_workload`: a task mix ``cpu_bound``,
``memory_bound``, ``io_heavy``, ``mixed``, Park's ``park`` jobs, or a trace window
``google2019:START:BINS``), ``loads`` (the expected load of the bottleneck resource; null for
``park``), ``scenarios`` (`ClusterScenario` overrides: a migration ratio, node failures, the set-up
learned methods train on, ...).

Protocol: a workload's window is split in time (`rlte.envs.cluster`): learned methods train on the
training part and every method is evaluated on the later, disjoint, evaluated part, with the tasks
its seed draws (the same tasks for every method of a seed), from empty nodes, until every task has
left or ``max_drain`` epochs after the last arrival. The evaluation set-up may differ from the
training one: ``train_nodes`` (train on a cluster of that many nodes of the same family, evaluate
on the cell's: seed 003's Figure 3) and ``train_mix`` (train on that task mix, evaluate on the
cell's: Figure 4); node ``failures`` happen in the evaluated part only (Figure 6: the learned
methods never saw one). Learned methods use `rlte.envs.cluster.ClusterEnv` with the scenario's
dispatcher; the continuous ones (td3, ddpg, ppo) set per-node ratios and targets, the discrete ones
(dqn, qlearning) a balancing level (the env's discrete variant), tabular Q-learning over the env's
four-feature ``summary`` observation. Baselines run through the same environment:

- ``round_robin``, ``random``, ``jsq``, ``least_work``, ``power_of_two``: that dispatcher, no migration;
- ``no_migration``: the scenario's dispatcher (what the learned methods start from), no migration;
- ``fixed_ratio``: the scenario's dispatcher, and every epoch the nodes above the mean backlog send
  ``migration_ratio`` of their queues to those below it (`rlte.envs.cluster.balancing_matrix`);
- ``pooled`` (the reference): `rlte.sim.cluster.pooled_reference` on the same tasks, a lower bound on
  the mean latency of any dispatcher and migration controller that completes every task.

A cell reports, over the evaluated episode, the mean latency of the completed tasks, the cpu
utilisation of the up nodes, the task success rate (completed over arrived) and the migration cost
(migrations per task arrived), all from the per-epoch sums of the env's ``info`` (`whole_run`);
learned cells also report their training loss at the start and at the end (seed 003's Figure 5).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from rlte import metrics
from rlte.domains import CellContext, Domain, Evaluation, MethodInfo, Metric, register_domain, register_method
from rlte.errors import RlteError
from rlte.options import Options, fail, option

#: Dispatch baselines (no migration) and the other baselines, in table order.
DISPATCH_BASELINES = ("round_robin", "random", "jsq", "least_work", "power_of_two")
BASELINES = (*DISPATCH_BASELINES, "no_migration", "fixed_ratio", "pooled")
#: Cluster families whose node count a scenario may change (``nodes``, ``train_nodes``).
SIZED_FAMILIES = ("heterogeneous", "homogeneous")

Mix = Literal["cpu_bound", "memory_bound", "io_heavy", "mixed"]


@dataclass(frozen=True)
class ClusterScenario(Options):
    """Options of a cluster scenario (a spec's ``scenario:`` and ``scenarios:`` keys)."""

    WHAT: ClassVar[str] = "scenario option"

    topology: str = "heterogeneous:10"
    """The cluster (set by the grid's topologies)."""
    workload: str = "mixed"
    """The workload (set by the grid's traffic)."""
    load: float | None = option(0.8, gt=0.0)
    """Expected load of the bottleneck resource (set by the grid's loads)."""
    traffic_seed: int = 0
    """The seed: the evaluated tasks and every learner's seed (set by the grid's seeds)."""
    nodes: int | None = option(None, ge=1)
    """The cluster's node count, replacing the topology's (``heterogeneous:N``, ``homogeneous:N``), so
    that a grid over sizes is a grid of scenarios the paper's values can name."""
    train_nodes: int | None = option(None, ge=1)
    """Learned methods train on a cluster of this many nodes of the same family and are evaluated on
    the cell's (None: the cell's); their policy has ``max(nodes, train_nodes)`` node slots."""
    mix: Mix | None = None
    """The task mix of a trace's tasks (default ``mixed``; a mix workload is its own)."""
    train_mix: Mix | None = None
    """Learned methods train on this task mix and are evaluated on the cell's (None: the cell's)."""
    dispatcher: Literal["round_robin", "random", "jsq", "least_work", "power_of_two"] = "round_robin"
    """Places arriving tasks between decisions, for the learned methods, no_migration and fixed_ratio."""
    migration_ratio: float = option(0.5, ge=0.0, le=1.0)
    """The fraction fixed_ratio moves each epoch, and the most a learned method's action moves."""
    failures: tuple[tuple[int, float, float], ...] = ()
    """Node failures of the evaluated part, ``[node, first epoch, recovery epoch]``."""
    on_failure: Literal["redispatch", "lose"] = "redispatch"
    """The tasks of a failed node go back to the dispatcher, or fail."""
    bins: int = option(60, ge=2)
    """Bins of a mix workload's window."""
    bin_duration: float = option(1000.0, gt=0.0)
    """Simulated ms per bin (a 300 s trace bin becomes this)."""
    train_fraction: float = option(2.0 / 3.0, gt=0.0, lt=1.0)
    """Share of the window's bins in the training part (the rest is evaluated)."""
    park_jobs: int = option(1000, ge=1)
    """Jobs per episode of the park workload."""
    mean_size: float = option(20.0, gt=0.0)
    """Mean task size, ms of work at speed 1."""
    size_shape: float = option(2.5, gt=1.0)
    """Pareto shape of the task sizes."""
    deadline: float | None = option(500.0, ge=0.0)
    """A task not started this many ms after its arrival fails (None: no deadlines)."""
    interval: float = option(100.0, gt=0.0)
    """Decision epoch, ms."""
    migration_delay: float = option(0.1, ge=0.0)
    """Transfer time of a migrated task per unit of its size."""
    lookahead: int = option(16, ge=1)
    """Queued tasks that may fail to fit before a node stops starting tasks."""

    def check(self, where: str) -> None:
        for key in ("nodes", "train_nodes"):
            if getattr(self, key) is not None and self.topology.partition(":")[0] not in SIZED_FAMILIES:
                fail(where, key, getattr(self, key),
                     f"unset for cluster {self.topology!r} (only {' and '.join(f'{f}:N' for f in SIZED_FAMILIES)} have a size)")  # fmt: skip

    def cluster(self, nodes: int | None = None) -> str:
        """The cluster's name, with ``nodes`` (else the scenario's ``nodes``) replacing its size."""
        nodes = nodes if nodes is not None else self.nodes
        return self.topology if nodes is None else f"{self.topology.partition(':')[0]}:{nodes}"


#: The env options a scenario sets (`ClusterScenario` fields of the same name and meaning).
_SHARED = ("mix", "bins", "bin_duration", "train_fraction", "park_jobs", "mean_size", "size_shape", "deadline",
           "dispatcher", "interval", "migration_delay", "lookahead", "on_failure")  # fmt: skip
#: The learning-log column that is each method's training loss (seed 003's Figure 5), by method name.
LOSS_COLUMN: dict[str, str] = {}


def whole_run(series: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The evaluated episode's metrics from its per-epoch series (the env's ``info``), exactly: the
    latency is the mean over every completed task, ``sum_t L_t c_t / sum_t c_t``; the cpu utilisation
    ``sum_t U_t u_t / sum_t u_t`` (u_t the capacity up); the success rate and the migration cost over
    every task arrived (`rlte.metrics`). Epochs where no task completed (left) get a nan latency
    (success rate) in the returned series, for the figures and percentiles.

    Returns:
        The series and the whole-run summary.
    """
    completed, arrived = np.asarray(series["completed"], float), np.asarray(series["arrived"], float)
    failed, latency = np.asarray(series["failed"], float), np.asarray(series["latency_ms"], float)
    up, cpu = np.asarray(series["capacity_up"], float), np.asarray(series["cpu_utilisation"], float)
    summary = {
        "latency_ms": metrics.mean_latency(float(np.nansum(latency * completed)), int(completed.sum())),
        "cpu_utilisation": float(metrics.resource_utilisation(float((cpu * up).sum()), float(up.sum()))),
        "success_rate": metrics.task_success_rate(int(completed.sum()), int(arrived.sum())),
        "migration_cost": metrics.migrations_per_task(int(np.sum(series["migrated"])), int(arrived.sum())),
    }
    shown = dict(series)
    shown["latency_ms"] = np.where(completed > 0, latency, np.nan)
    shown["success_rate"] = np.where(
        completed + failed > 0, np.asarray(series["success_rate"], float), np.nan
    )
    return shown, summary


class ClusterBalancing(Domain):
    """Compute-cluster load balancing (see the module docstring)."""

    name = "cluster"
    description = "compute-cluster load balancing: dispatch and task migration, latency, the pooled system"
    metrics = (
        Metric("latency_ms", "mean latency", "ms"),
        Metric("cpu_utilisation", "CPU utilisation", "%", 100.0, lower_is_better=False, agreement=0.02),
        Metric("success_rate", "task success rate", "%", 100.0, lower_is_better=False, agreement=0.01),
        Metric("migration_cost", "migration cost"),
        Metric("completed", "tasks completed per epoch", lower_is_better=False),
        Metric("failed", "tasks failed per epoch"),
        Metric("arrived", "tasks arrived per epoch", lower_is_better=False),
        Metric("migrated", "tasks migrated per epoch"),
        Metric("capacity_up", "CPU capacity up", "%", 100.0, lower_is_better=False),
    )
    scalar_metrics = (
        Metric("loss_first", "training loss (first 10 %)"),
        Metric("loss_last", "training loss (last 10 %)"),
    )
    primary = "latency_ms"
    table_metrics = (
        "latency_ms",
        "cpu_utilisation",
        "success_rate",
        "migration_cost",
        "loss_first",
        "loss_last",
    )
    load_figure_metrics = ("latency_ms", "success_rate")
    time_metrics = ("latency_ms", "success_rate")
    time_figures = True
    reference = "pooled"
    baselines, oracles = BASELINES, ("pooled",)
    rivals = ("no_migration", "jsq")
    env_ids = ("rlte/Cluster-v0",)
    reserved_env_keys = ("cluster", "workload", "load", "part", "failures", "action_type", "max_ratio", "observe",
                         *_SHARED)  # fmt: skip
    training_options = ("train_nodes", "train_mix")
    axes = {
        "topologies": "clusters: heterogeneous:N, homogeneous:N, speeds:V1,V2,..., nodes:V/C/M/I,..., park",
        "traffic": "workloads: cpu_bound, memory_bound, io_heavy, mixed, park, google2019:START:BINS, alibaba2018:START:BINS",
        "loads": "expected load of the bottleneck resource (null for park)",
    }
    report_note = (
        "Times are simulated ms (a 300 s trace bin lasts bin_duration ms); the migration cost is migrations per "
        "task arrived; the training losses are each learner's own (TD3 and DDPG: the critics' TD loss; DQN: its "
        "Huber loss; Q-learning: the mean absolute TD error). The pooled reference bounds the latency only; its "
        "other columns are those of a system that completes every task without migrating."
    )

    # ------------------------------------------------------------------ the grid
    def scenario_options(self) -> type:
        return ClusterScenario

    def axis_fields(self) -> tuple[str, ...]:
        return ("topology", "workload", "load", "traffic_seed")

    def check_scenario(self, options: dict, where: str) -> None:
        ClusterScenario.parse(
            options, where, topology="heterogeneous:10"
        )  # the axes are checked in check_axes

    def check_axes(self, spec, data_dir: str | None) -> None:
        """Every cluster, workload and load is one the env accepts, with every scenario: each
        (topology, traffic, load, scenario) builds its training and evaluation environments (a trace
        window outside the trace, a failure of a node the cluster lacks, a size for a cluster
        without one, too few node slots, are refused now)."""
        from rlte.envs.cluster import ClusterEnv, parse_cluster, parse_workload

        self.check_loads(spec, "null for park")
        for topology in spec.topologies:
            parse_cluster(topology)
        for traffic in spec.traffic:
            parse_workload(traffic)
        for topology in spec.topologies:
            for traffic in spec.traffic:
                for load in spec.loads:
                    for label, options in spec.scenarios.items():
                        where = f"{spec.source}: scenario {label!r} on {topology} · {traffic} · load {load}"
                        values = {**spec.scenario, **options, "topology": topology, "workload": traffic,
                                  "load": load}  # fmt: skip
                        scenario = ClusterScenario.parse(values, where)
                        for part in ("train", "evaluate"):
                            try:
                                ClusterEnv(**self._env_options(scenario, spec.env, {}, part))
                            except RlteError as err:
                                raise RlteError(f"{where}: {err}") from None

    def scenario(self, context: CellContext) -> ClusterScenario:
        """The cell's scenario: the spec's common options, its named scenario's, and the axes."""
        cell = context.cell
        values = self.scenario_values(context)
        values.update(topology=cell["topology"], workload=cell["traffic"], load=cell["load"],
                      traffic_seed=int(cell["seed"]))  # fmt: skip
        return ClusterScenario.parse(values, f"cell {cell['cell_id']}")

    def _env_options(self, scenario: ClusterScenario, env: dict, method_env: dict, part: str) -> dict:
        """The env options of one part of a scenario: the spec's ``env:``, the method's own, the
        scenario's; training on the training set-up, evaluating the whole part with the failures."""
        from rlte.envs.cluster import ClusterOptions, parse_cluster, parse_workload

        known = ClusterOptions.keys()
        options = {key: value for key, value in (env or {}).items() if key in known}
        options.update(method_env)
        options.update({key: getattr(scenario, key) for key in _SHARED})
        evaluated_nodes = parse_cluster(scenario.cluster()).num_nodes
        if scenario.train_nodes is not None and options.get("max_nodes") is None:
            options["max_nodes"] = max(evaluated_nodes, scenario.train_nodes)
        options.update(workload=scenario.workload, load=scenario.load, max_ratio=scenario.migration_ratio)
        if part == "train":
            options.update(cluster=scenario.cluster(scenario.train_nodes), part="train", failures=())
            if scenario.train_mix is not None:
                if parse_workload(scenario.workload).kind == "mix":
                    options["workload"] = scenario.train_mix
                else:
                    options["mix"] = scenario.train_mix
        else:
            options.update(cluster=scenario.cluster(), part="evaluate", failures=scenario.failures,
                           episode_length=None)  # fmt: skip
        return options

    # ------------------------------------------------------------------ baselines
    def evaluate_baseline(self, name: str, context: CellContext) -> Evaluation:
        from rlte.envs.cluster import ClusterEnv

        scenario = self.scenario(context)
        options = self._env_options(scenario, context.spec.get("env") or {}, {}, "evaluate")
        options.update(action_type="discrete", levels=1)
        if name in DISPATCH_BASELINES:
            options.update(dispatcher=name, max_ratio=0.0)
        elif name == "no_migration":
            options["max_ratio"] = 0.0
        env = ClusterEnv(**options)
        env.reset(seed=int(context.cell["seed"]))
        if name == "pooled":
            return self._pooled(env, context)
        series: dict[str, list] = {metric.name: [] for metric in self.metrics}
        decide = 0.0
        while True:
            start = time.perf_counter()
            env.migration_matrix(1)  # the rule's decision, timed (step decodes the action again)
            decide += time.perf_counter() - start
            _, _, terminated, truncated, info = env.step(1)
            for key in series:
                series[key].append(info[key])
            if terminated or truncated:
                break
        shown, summary = whole_run({key: np.asarray(values) for key, values in series.items()})
        context.log(f"{name}: {env.workload.num_tasks} tasks over {len(shown['latency_ms'])} epochs")
        return Evaluation(shown, decide, summary=summary)

    def _pooled(self, env, context: CellContext) -> Evaluation:
        """The pooled bound on the env's tasks: its whole-run latency is `PooledReference.mean_latency`
        (the tightest of its bounds, pointwise); its series follows the binding bound's completions
        (the SRPT pooled server or the shortest services) epoch by epoch."""
        from rlte.sim.cluster import pooled_reference

        start = time.perf_counter()
        reference = pooled_reference(env.cluster, env.workload, env.sim_options)
        elapsed = time.perf_counter() - start
        arrival = reference.arrival
        binding = int(np.argmax([(bound - arrival).sum() for bound in reference.bounds]))
        completion = reference.bounds[binding]
        interval = env.options.interval
        epochs = max(int(np.ceil(completion.max() / interval)), 1) if len(completion) else 1
        done_in = np.minimum((completion // interval).astype(np.int64), epochs - 1)
        came_in = np.minimum((arrival // interval).astype(np.int64), epochs - 1)
        completed = np.bincount(done_in, minlength=epochs).astype(float)
        latency_sum = np.bincount(done_in, weights=completion - arrival, minlength=epochs)
        arrived = np.bincount(came_in, minlength=epochs).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            latency = np.where(completed > 0, latency_sum / np.maximum(completed, 1.0), np.nan)
        zeros = np.zeros(epochs)
        series = {"latency_ms": latency, "cpu_utilisation": np.full(epochs, np.nan),
                  "success_rate": np.where(completed > 0, 1.0, np.nan), "migration_cost": zeros,
                  "completed": completed, "failed": zeros, "arrived": arrived, "migrated": zeros,
                  "capacity_up": np.ones(epochs)}  # fmt: skip
        summary = {"latency_ms": reference.mean_latency, "cpu_utilisation": math.nan, "success_rate": 1.0,
                   "migration_cost": 0.0}  # fmt: skip
        context.log(f"pooled: {len(arrival)} tasks, binding bound {reference.labels[binding]}, "
                    f"mean latency bound {reference.mean_latency:.6g} ms")  # fmt: skip
        return Evaluation(series, elapsed, summary=summary, decisions=1)

    # ------------------------------------------------------------------ learned methods
    def env_options(self, method: MethodInfo, context: CellContext, part: str) -> dict:
        scenario = self.scenario(context)
        return self._env_options(scenario, context.spec.get("env") or {}, dict(method.env), part)

    def evaluate_learned(self, method: MethodInfo, context: CellContext) -> Evaluation:
        """The generic protocol (train on the training part, one deterministic episode over the
        evaluated part), then the whole-run metrics from the episode's sums (`whole_run`) and the
        training loss at the start and at the end of the learning log."""
        evaluation = super().evaluate_learned(method, context)
        shown, summary = whole_run(evaluation.series)
        scalars = training_loss(context.folder / "learning.csv", LOSS_COLUMN.get(method.name))
        return evaluation._replace(series=shown, summary=summary, scalars=scalars)

    # ------------------------------------------------------------------ reports
    def load_heading(self, load: float | None) -> str:
        return "Park's load (0.909)" if load is None else f"Load {load:g}"

    def load_phrase(self, load: float | None, band: str | None = None) -> str:
        return "at Park's load" if load is None else f"at load {load:g}"


def training_loss(path, column: str | None) -> dict[str, float]:
    """``loss_first`` and ``loss_last``: the mean of a learning-log column over its first and its last
    tenth of rows with a value (at least one row each); empty without a column or a log."""
    import pandas as pd

    if column is None or not path.exists():
        return {}
    frame = pd.read_csv(path)
    if column not in frame.columns:
        return {}
    values = pd.to_numeric(frame[column], errors="coerce").dropna().to_numpy()
    if len(values) == 0:
        return {}
    tenth = max(len(values) // 10, 1)
    return {"loss_first": float(values[:tenth].mean()), "loss_last": float(values[-tenth:].mean())}


CLUSTER = register_domain(ClusterBalancing())


def _register(name, agent, config, description, env, loss=None, **extra) -> None:
    if loss is not None:
        LOSS_COLUMN[name] = loss
    register_method(
        MethodInfo(name, "cluster", "rlte/Cluster-v0", agent, config, description, env=env, **extra)
    )


_CONTINUOUS = {"action_type": "continuous", "observe": "nodes"}
_register("td3", "rlte.agents.td3:TD3Agent", "rlte.agents.td3:TD3Config",
          "seed 003: TD3 (twin critics, target smoothing, delayed actor) setting per-node migration ratios and targets",
          _CONTINUOUS, "critic_loss")  # fmt: skip
_register("ddpg", "rlte.agents.ddpg:DDPGAgent", "rlte.agents.ddpg:DDPGConfig",
          "seed 003's comparison: DDPG on the same continuous migration action", _CONTINUOUS, "critic_loss")  # fmt: skip
_register("ppo", "rlte.agents.sb3:SB3PPO", "rlte.agents.sb3:SB3Config",
          "seed 003's comparison: Stable-Baselines3 PPO on the same continuous migration action", _CONTINUOUS)  # fmt: skip
_register("dqn", "rlte.agents.sb3:SB3DQN", "rlte.agents.sb3:SB3DQNConfig",
          "seed 003's comparison: Stable-Baselines3 DQN choosing a balancing level (the env's discrete variant)",
          {"action_type": "discrete", "observe": "nodes"}, "loss")  # fmt: skip
_register("qlearning", "rlte.agents.qlearning:QLearningAgent", "rlte.agents.qlearning:QLearningConfig",
          "seed 003's comparison: tabular Q-learning over the binned summary observation and the balancing levels",
          {"action_type": "discrete", "observe": "summary"}, "td_error")  # fmt: skip
