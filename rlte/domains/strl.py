"""Seed 001's domain: routing one node pair through an hourly, trace-driven queueing network
(`rlte.envs.strl` over `rlte.sim.strl`), STRL and its ablations beside simple routings and a
reference that knows the coming hour.

Grid axes: ``topologies`` (`rlte.net.topology.load_topology` names; the paper's ``nsfnet14``),
``traffic`` (the CPU trace: ``alibaba2018``), ``loads`` (the busiest link's utilisation under random
routing at the trace's mean rate, the env's ``link_load``; null for its default), ``scenarios``
(`STRLScenario`: links added to the topology, and the links of a modified topology every method is also
evaluated on).

Protocol: learned methods train on the trace's first ``train_days`` days (episodes of
``episode_length`` hours from random start hours) and every method is evaluated on the rest of the
trace, once, from its first hour, after the same random-routing warm-up: the same hours, the same
backlogs, the same traffic for every method (the network is deterministic given the routing). With
``modified_links``, every method is also evaluated on the topology with those links added, without
retraining (the paper's Figure 3(b)), as the ``*_modified`` metrics; a graph agent is bound to that
graph (`rlte.domains.Domain.run_episode`). A cell's series is one row per evaluated hour; its summary is
the mean over the hours (the paper's reward per step).

Baselines, routing the controlled pair's traffic through the same environment:

- ``random``: the pair's packets pick one of its ``random_paths`` fewest-hop paths at random (the
  other pairs' rule, and the warm-up's);
- ``sp_hops``: all of the pair's traffic on its fewest-hop path;
- ``sp_delay``: all of it on the path that was fastest over the last hour (Dijkstra on the delays
  the agent observes);
- ``hindsight`` (the reference, an oracle): every hour, the best of the pair's single paths and the
  random split for that very hour, found by running the hour with each from the present backlogs. It
  knows the coming hour's delays, but it is greedy (one hour ahead) and does not split its traffic
  as the learners may, so a learner can beat it: it is the reference the gaps are measured to, not
  a bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from rlte.domains import CellContext, Domain, Evaluation, MethodInfo, Metric, register_domain, register_method
from rlte.errors import RlteError
from rlte.options import Options, option

BASELINES = ("random", "sp_hops", "sp_delay", "hindsight")
TRACES = ("alibaba2018",)
#: The paper's Figure 3(a): STRL's reward above TRL's and SRL's, as fractions.
PAPER_LEADS = {"trl": 0.0918, "srl": 0.1443}
#: The lags at which the paper finds the hourly CPU curve autocorrelated (its Figure 1).
PAPER_LAGS = (1, 2, 3, 23, 24, 25)


@dataclass(frozen=True)
class STRLScenario(Options):
    """Options of a scenario of the STRL domain (a spec's ``scenario:`` and ``scenarios:`` keys)."""

    WHAT: ClassVar[str] = "scenario option"

    topology: str = "nsfnet14"
    """The network (set by the grid's topologies)."""
    trace: str = "alibaba2018"
    """The CPU trace (set by the grid's traffic)."""
    link_load: float | None = option(None, gt=0.0)
    """The env's ``link_load`` (set by the grid's loads; None: the env's default)."""
    traffic_seed: int = 0
    """The seed (set by the grid's seeds): the learners' seed; the evaluation is deterministic."""
    extra_links: tuple[tuple[int, int], ...] = ()
    """Links added to the topology (both parts)."""
    modified_links: tuple[tuple[int, int], ...] = ()
    """Every method is also evaluated, without retraining, on the topology with these links added
    (the paper's Figure 3(b): ``[[4, 13], [6, 13]]``), reported as the ``*_modified`` metrics."""


class STRLRouting(Domain):
    """Seed 001's routing of one pair through an hourly queueing network (see the module docstring)."""

    name = "strl"
    description = "hourly queueing-network routing of one node pair under trace-driven traffic (seed 001)"
    metrics = (
        Metric("reward", "reward (throughput / delay in s)", "", 1.0, lower_is_better=False),
        Metric("throughput", "throughput (out / in)", "", 1.0, lower_is_better=False),
        Metric("delay_ms", "mean delay", "ms"),
        Metric("pair_delay_ms", "controlled pair's delay", "ms"),
        Metric("loss_rate", "loss", "%", 100.0),
        Metric("queued", "packets queued"),
    )
    primary = "reward"
    scalar_metrics = (
        Metric("reward_modified", "reward, modified topology", "", 1.0, lower_is_better=False),
        Metric("throughput_modified", "throughput, modified topology", "", 1.0, lower_is_better=False),
        Metric("delay_ms_modified", "mean delay, modified topology", "ms"),
        Metric("pair_delay_ms_modified", "controlled pair's delay, modified topology", "ms"),
    )
    table_metrics = (
        "reward",
        "delay_ms",
        "pair_delay_ms",
        "loss_rate",
        "reward_modified",
        "pair_delay_ms_modified",
    )
    time_metrics = ("reward", "pair_delay_ms")
    reference = "hindsight"
    baselines, oracles = BASELINES, ("hindsight",)
    rivals = ("random", "sp_delay")
    env_ids = ("rlte/STRL-v0",)
    reserved_env_keys = ("topology", "extra_links", "part", "link_load", "trace")
    axes = {
        "topologies": "topology names (nsfnet14: the paper's)",
        "traffic": "the CPU trace: alibaba2018",
        "loads": "the busiest link's utilisation under random routing at the trace's mean rate (null: 0.6)",
    }
    report_note = (
        "Every row is the mean over the evaluated hours of the test part (the trace's hours after the training days). "
        "The reward is the paper's: packets delivered over packets injected in the hour, divided by the mean delay of "
        "the delivered packets in seconds. The hindsight reference knows the coming hour but is greedy and routes on "
        "one path (or the random split): a learner may beat it."
    )

    # ------------------------------------------------------------------ the grid
    def scenario_options(self) -> type:
        return STRLScenario

    def axis_fields(self) -> tuple[str, ...]:
        return ("topology", "trace", "link_load", "traffic_seed")

    def check_scenario(self, options: dict, where: str) -> None:
        STRLScenario.parse(options, where)

    def check_axes(self, spec, data_dir: str | None) -> None:
        """Every topology, trace and load builds the environment of both parts, in every scenario."""
        from rlte.envs.strl import STRLEnv

        for traffic in spec.traffic:
            if traffic not in TRACES:
                raise RlteError(
                    f"{spec.source}: traffic {traffic!r}: unknown trace (choose from {', '.join(TRACES)})"
                )
        self.check_loads(spec, "null for the default")
        for topology in spec.topologies:
            for traffic in spec.traffic:
                for load in spec.loads:
                    for label, options in spec.scenarios.items():
                        where = f"{spec.source}: scenario {label!r} on {topology} · {traffic} · load {load}"
                        values = {
                            **spec.scenario,
                            **options,
                            "topology": topology,
                            "trace": traffic,
                            "link_load": load,
                        }
                        scenario = STRLScenario.parse(values, where)
                        for part in (
                            ("train", "evaluate", "modified")
                            if scenario.modified_links
                            else ("train", "evaluate")
                        ):
                            try:
                                STRLEnv(**self._env_options(scenario, spec.env, part, data_dir))
                            except RlteError as err:
                                raise RlteError(f"{where}: {err}") from None

    def scenario(self, context: CellContext) -> STRLScenario:
        cell = context.cell
        values = self.scenario_values(context)
        values.update(topology=cell["topology"], trace=cell["traffic"], link_load=cell["load"],
                      traffic_seed=int(cell["seed"]))  # fmt: skip
        return STRLScenario.parse(values, f"cell {cell['cell_id']}")

    def _env_options(self, scenario: STRLScenario, env: dict | None, part: str, data_dir: str | None) -> dict:
        """The env options of a part: the spec's ``env:``, then the scenario's; training on the
        training topology, evaluating the test part once on the evaluated one."""
        from rlte.envs.strl import STRLOptions

        known = STRLOptions.keys()
        options = {key: value for key, value in (env or {}).items() if key in known}
        options.update(topology=scenario.topology, trace=scenario.trace, data_dir=data_dir)
        if scenario.link_load is not None:
            options["link_load"] = scenario.link_load
        links = (
            scenario.extra_links if part != "modified" else (*scenario.extra_links, *scenario.modified_links)
        )
        options["extra_links"] = links
        if part == "train":
            options["part"] = "train"
        else:
            options.update(part="test", episode_length=None)
        return options

    # ------------------------------------------------------------------ baselines
    def evaluate_baseline(self, name: str, context: CellContext) -> Evaluation:
        from rlte.envs.strl import STRLEnv

        scenario = self.scenario(context)
        seed = int(context.cell["seed"])
        env = STRLEnv(**self._env_options(scenario, context.spec.get("env"), "evaluate", context.data_dir))
        series, decide = self._baseline_episode(name, env, seed)
        context.log(f"{name}: {len(series['reward'])} hours, {len(env.pair_paths)} paths for the pair")
        scalars = {}
        if scenario.modified_links:
            modified = STRLEnv(
                **self._env_options(scenario, context.spec.get("env"), "modified", context.data_dir)
            )
            scalars = modified_metrics(self._baseline_episode(name, modified, seed)[0])
        return Evaluation(series, decide, scalars=scalars)

    def _baseline_episode(self, name: str, env, seed: int) -> tuple[dict[str, np.ndarray], float]:
        env.reset(seed=seed)
        names = [metric.name for metric in self.metrics]
        series: dict[str, list] = {key: [] for key in names}
        decide = 0.0
        while True:
            start = time.perf_counter()
            if name == "random":
                weights = env.random_weights
            elif name == "sp_hops":
                weights = env.one_path(0)
            elif name == "sp_delay":
                weights = env.one_path(int(np.argmin(env.path_delays())))
            else:
                weights = env.hindsight()[0]
            decide += time.perf_counter() - start
            _, _, _, truncated, info = env.route(weights)
            for key in names:
                series[key].append(info[key])
            if truncated:
                break
        return {key: np.asarray(values) for key, values in series.items()}, decide

    # ------------------------------------------------------------------ learned methods
    def env_options(self, method: MethodInfo, context: CellContext, part: str) -> dict:
        return self._env_options(self.scenario(context), context.spec.get("env"), part, context.data_dir)

    # ------------------------------------------------------------------ reports
    def report_findings(self, run, groups) -> list[str]:
        """The paper's claim: STRL's reward above TRL's by 9.18 % and above SRL's by 14.43 % (Figure 3(a));
        on the modified topology (3(b)) STRL "maintains a higher reward". Read against rlte's per-seed
        relative gaps, ``reward(strl) / reward(other) - 1`` on the seeds both share, with their 95 % interval."""
        from rlte.experiments.statistics import relative_gaps, summarise
        from rlte.experiments.store import per_seed

        labels = {info["name"]: label for label, info in run.methods.items()}
        if "strl" not in labels:
            return []
        lines = []
        for group in groups:
            rows = run.group_rows(group)
            for metric, where in (
                ("reward", "the evaluated topology"),
                ("reward_modified", "the modified topology"),
            ):
                strl = per_seed(rows, labels["strl"], metric)
                if not len(strl):
                    continue
                for other in ("trl", "srl"):
                    if other not in labels:
                        continue
                    gaps = relative_gaps(strl, per_seed(rows, labels[other], metric))
                    if not len(gaps):
                        continue
                    summary = summarise(gaps)
                    paper = PAPER_LEADS.get(other) if metric == "reward" else None
                    if summary.n < 2:
                        reading = "one seed: no interval"
                    elif summary.mean - summary.half_width > 0:
                        reading = "STRL leads: the interval lies above 0"
                    elif summary.mean + summary.half_width < 0:
                        reading = f"STRL trails {other.upper()}: the interval lies below 0"
                    else:
                        reading = "within the interval: the seeds do not tell them apart"
                    interval = "" if summary.n < 2 else f" ± {100 * summary.half_width:.2f}"
                    claim = f"; the paper: +{100 * paper:.2f} %" if paper is not None else ""
                    lines.append(f"- {group.title}, {where}: STRL's reward against {other.upper()}'s "
                                 f"{100 * summary.mean:+.2f}{interval} % over {summary.n} seed{'s' * (summary.n != 1)} ({reading}{claim}).")  # fmt: skip
        if lines:
            lines = ["### STRL against its ablations (the paper's Figure 3)", "",
                     "Per seed, reward(STRL) / reward(other) − 1 on the test part, mean and 95 % Student-t interval:", "",
                     *lines]  # fmt: skip
        return lines

    def report_figures(self, run, folder: Path) -> list[tuple[str, Path]]:
        """The paper's Figure 1 (the hourly trace's autocorrelation with its 95 % band) and Figure 4
        (the GRU's hidden states over the window, the lowest seed's STRL cell on the plain topology)."""
        made = []
        for trace in sorted({str(t) for t in run.results["traffic"].unique()}):
            made.append((f"Autocorrelation of the hourly CPU utilisation, {trace} (the paper's Figure 1)",
                         autocorrelation_figure(trace, folder)))  # fmt: skip
        for (method, topology, _, _, scenario, seed), cell_dir in sorted(
            run.cell_dirs.items(), key=lambda item: (str(item[0][0]), str(item[0][4]), item[0][5])
        ):
            info = run.methods.get(method, {})
            if info.get("name") == "strl" and (cell_dir / "hidden_states.npy").exists():
                path = hidden_state_figure(np.load(cell_dir / "hidden_states.npy"), folder,
                                           f"{method}, {topology}, {scenario}, seed {seed}")  # fmt: skip
                made.append(
                    (f"GRU hidden states of {method} (seed {seed}, {scenario}; the paper's Figure 4)", path)
                )
                break
        return made


def autocorrelation_figure(trace: str, folder: Path, max_lag: int = 48) -> Path:
    """Figure 1: the hourly CPU series' autocorrelation at lags 1..max_lag with the 95 % band, the
    paper's significant lags marked."""
    from rlte.plotting import pyplot, save_figure
    from rlte.sim.strl import autocorrelation, hourly_cpu

    series = hourly_cpu(trace)
    r, band = autocorrelation(series, max_lag)
    lags = np.arange(1, max_lag + 1)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.vlines(lags, 0, r, color="tab:blue")
    ax.plot(lags, r, "o", color="tab:blue", markersize=3)
    ax.fill_between(
        [0.5, max_lag + 0.5], -band, band, color="tab:blue", alpha=0.15, label="95 % band (no correlation)"
    )
    for lag in PAPER_LAGS:
        ax.axvline(lag, color="tab:red", alpha=0.25, linewidth=4)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("lag (hours)")
    ax.set_ylabel("autocorrelation")
    ax.set_title(
        f"{trace}: hourly CPU utilisation, {len(series)} hours (red: the paper's lags 1-3 and 23-25)"
    )
    ax.legend(fontsize=8)
    return save_figure(fig, folder / f"autocorrelation-{trace}.png")


def hidden_state_figure(hidden: np.ndarray, folder: Path, title: str) -> Path:
    """Figure 4: the GRU's hidden states (after ReLU) over the window, [N, T, H] averaged over the
    nodes into a T x H heatmap."""
    from rlte.plotting import pyplot, save_figure

    grid = np.asarray(hidden, dtype=float)
    grid = grid.mean(axis=0) if grid.ndim == 3 else grid
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.8))
    image = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="activation (mean over nodes)")
    ax.set_xlabel("hidden unit")
    ax.set_ylabel("hour of the window (oldest first)")
    ax.set_title(f"GRU hidden states at the last test hour: {title}", fontsize=9)
    return save_figure(fig, folder / "hidden-states.png")


def run_learned(method: MethodInfo, context: CellContext) -> Evaluation:
    """Train, evaluate once on the test part (bound to the evaluated graph), and keep the GRU's hidden
    states at the last observation (``hidden_states.npy``, [N, T, H], for the Figure 4 heatmap)."""
    import torch

    from rlte.envs import make
    from rlte.fileio import atomic_write

    agent, train_s = STRL.train_agent(method, context)
    env = make(method.env_id, **STRL.env_options(method, context, "evaluate"))
    seed = int(context.cell["seed"])
    series, decide = STRL.run_episode(method, agent, env, seed)
    scalars = {}
    if STRL.scenario(context).modified_links:
        modified = make(method.env_id, **STRL.env_options(method, context, "modified"))
        scalars = modified_metrics(STRL.run_episode(method, agent, modified, seed)[0])
    actor = getattr(agent, "actor", None)
    if actor is not None and getattr(actor, "variant", "srl") != "srl":
        window = torch.as_tensor(env.unwrapped.window[None], dtype=torch.float32)
        with torch.no_grad():
            hidden = actor.hidden_states(window)[0].numpy().astype(np.float32)
        atomic_write(
            context.folder / "hidden_states.npy", lambda handle: np.save(handle, hidden), binary=True
        )
    return Evaluation(series, decide, train_s, scalars=scalars)


def modified_metrics(series: dict[str, np.ndarray]) -> dict[str, float]:
    """The ``*_modified`` metrics: the means over the hours of an episode on the modified topology."""
    return {f"{key}_modified": float(np.nanmean(series[key]))
            for key in ("reward", "throughput", "delay_ms", "pair_delay_ms")}  # fmt: skip


STRL = register_domain(STRLRouting())

for _name, _description in (
    (
        "strl",
        "seed 001: STRL, a GRU with causal temporal attention, a GAT layer and an MLP scoring nodes, DDPG",
    ),
    ("trl", "seed 001's ablation TRL: the GRU alone (temporal only), DDPG"),
    ("srl", "seed 001's ablation SRL: the GAT layer alone on the latest hour (spatial only), DDPG"),
):
    register_method(MethodInfo(_name, "strl", "rlte/STRL-v0", "rlte.agents.strl:STRLAgent",
                               "rlte.agents.strl:STRLConfig", _description, fixed={"variant": _name},
                               runner="rlte.domains.strl:run_learned"))  # fmt: skip
