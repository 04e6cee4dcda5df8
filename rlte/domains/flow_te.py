"""The flow-level traffic-engineering domain (seeds 000 and 002): a routing decision per traffic
interval, evaluated by the fluid model, beside the classical routings and the LP optimum.

Grid axes: ``topologies`` (`rlte.net.topology.load_topology` names), ``traffic``
(`rlte.net.traffic.load_traffic` names, or ``diurnal:BASE``), ``loads`` (the LP-optimal MLU the
traffic is scaled to; null keeps it as loaded), ``scenarios`` (named `ScenarioConfig` overrides).

Protocol: every method of a grid is evaluated on the same intervals, the evaluated part (``test``,
or ``train`` if the spec says so) after its first ``window`` intervals, which a learned agent
observes before its first decision; the predictive baselines see them, and the training part, as
history. A baseline routes each stretch between link failures on the topology in force. A learned
method trains on the training part (``rlte/TE-v0`` or ``rlte/TE-MA-v0``), then acts
deterministically over one episode of the evaluated part.
"""

from __future__ import annotations

import math
import time

import numpy as np

from rlte.domains import CellContext, Domain, Evaluation, MethodInfo, Metric, register_domain, register_method
from rlte.errors import RlteError

#: Load bands of seed 000's tables and the load level rlte runs for each (the middle of the band).
LOAD_BANDS = {"10-30": 0.2, "30-60": 0.45, "60-80": 0.7, "80-95": 0.875, "95-100": 0.975}

#: Baselines that are optimisers rather than routings an operator runs (the LP family).
OPTIMISERS = ("lp_",)


class FlowTE(Domain):
    """Flow-level traffic engineering (see the module docstring)."""

    name = "flow_te"
    description = (
        "flow-level traffic engineering: one routing per traffic interval, the fluid model, the LP optimum"
    )
    metrics = (
        Metric("mlu", "MLU", "%", 100.0),
        Metric("mean_util", "mean utilisation", "%", 100.0),
        Metric("phi", "phi"),
        Metric("mean_delay_ms", "mean delay", "ms"),
        Metric("loss_rate", "loss", "%", 100.0),
        Metric("throughput", "throughput", "Mbit/s", 1e-6, lower_is_better=False),
    )
    primary = "mlu"
    table_metrics = ("mlu", "mean_util", "mean_delay_ms", "loss_rate")
    load_figure_metrics = ("mlu", "mean_delay_ms", "loss_rate")
    time_metrics = ("loss_rate", "mlu")  # loss first, as seed 000's Figure 2
    reference = "lp_opt"
    rivals = ("ecmp", "lp_last")
    env_ids = ("rlte/TE-v0", "rlte/TE-MA-v0")
    reserved_env_keys = ("part", "with_optimal")
    axes = {
        "topologies": "topology names: built-in, data-directory, topohub id or file",
        "traffic": "traffic names: abilene, geant, topohub, uniform:R, gravity:TOTAL, diurnal:BASE, a file",
        "loads": "LP-optimal MLU the traffic is scaled to (null: unscaled)",
    }

    # ------------------------------------------------------------------ the grid
    def scenario_options(self) -> type:
        from rlte.envs.scenario import ScenarioConfig

        return ScenarioConfig

    def axis_fields(self) -> tuple[str, ...]:
        return ("topology", "traffic", "load", "traffic_seed", "data_dir")

    def check_axes(self, spec, data_dir: str | None) -> None:
        """Every load is a number > 0 or null; every topology and traffic source resolves
        (`rlte.net.sources`), and its data files exist."""
        self.check_loads(spec, "or null for unscaled traffic")
        from rlte.envs.core import TEOptionsBase
        from rlte.envs.scenario import ScenarioConfig, series_length
        from rlte.net.sources import resolve_topology, resolve_traffic
        from rlte.net.topology import load_topology

        window = int((spec.env or {}).get("window", TEOptionsBase.window))
        named = [
            (f"scenarios[{i}] ({name})", options) for i, (name, options) in enumerate(spec.scenarios.items())
        ]
        failures = [
            (where, key, options[key])
            for where, options in [("scenario", spec.scenario), *named]
            for key in ("failures", "test_topology_change")
            if options.get(key)
        ]
        try:
            for topology in spec.topologies:
                resolve_topology(topology, data_dir)
            for traffic in spec.traffic:
                resolve_traffic(traffic.removeprefix("diurnal:"), data_dir)
            # every source is parsed once (a malformed file is refused now, not inside a cell)
            for name in spec.topologies:
                topology = load_topology(name, data_dir=data_dir)
                for where, key, value in failures:
                    links = ScenarioConfig.convert(key, value, f"{where}: {key}")
                    named = (
                        [link for _, group in links for link in group] if key == "failures" else list(links)
                    )
                    try:
                        topology.without_links(named)
                    except RlteError as err:
                        raise RlteError(f"{where}: {key} on topology {name!r}: {err}") from None
                for traffic in spec.traffic:
                    config = ScenarioConfig.parse({"traffic": traffic, "data_dir": data_dir}, "scenario")
                    length = series_length(config, topology)
                    if length <= window:
                        raise RlteError(
                            f"traffic {traffic!r}: {length} interval(s), not more than the window ({window}) a "
                            f"flow_te cell evaluates after (a static matrix: use diurnal:{traffic} for a week around it)"
                        )
        except RlteError as err:
            raise RlteError(f"{spec.source}: {err}") from None

    def scenario_config(self, context: CellContext):
        """The cell's `ScenarioConfig`: the spec's common options, its named scenario's, and the axes."""
        from rlte.envs.scenario import config_from_options

        cell = context.cell
        options = self.scenario_values(context)
        options.update(topology=cell["topology"], traffic=cell["traffic"], load=cell["load"],
                       traffic_seed=int(cell["seed"]), data_dir=context.data_dir)  # fmt: skip
        return config_from_options(**options, where=f"cell {cell['cell_id']}")

    def scenario(self, context: CellContext):
        """The cell's built scenario (cached per process), logged."""
        from rlte.envs.scenario import build

        scenario = build(self.scenario_config(context))
        context.log(f"scenario: {len(scenario.train)} training and {len(scenario.test)} test intervals, "
                    f"load factor {scenario.load_factor:.6g}, {len(scenario.bursts)} bursts")  # fmt: skip
        return scenario

    def window(self, context: CellContext) -> int:
        """Intervals before the first evaluated one (the environments' observation window)."""
        from rlte.envs.core import TEOptionsBase

        return int((context.spec.get("env") or {}).get("window", TEOptionsBase.window))

    def _evaluated(self, context: CellContext):
        scenario = self.scenario(context)
        part, window = context.spec["evaluation"]["part"], self.window(context)
        if len(scenario.matrices(part)) <= window:
            raise RlteError(
                f"cell {context.cell['cell_id']}: the {part} part has {len(scenario.matrices(part))} intervals, "
                f"not more than window={window}"
            )
        return scenario, part, window

    # ------------------------------------------------------------------ baselines
    def baseline_names(self) -> tuple[str, ...]:
        from rlte.baselines import BASELINES

        return tuple(BASELINES)

    def check_baseline(self, name: str, where: str) -> None:
        from rlte.baselines import make_baseline

        make_baseline(name)

    def is_oracle(self, name: str) -> bool:
        from rlte.baselines import make_baseline

        try:
            return bool(make_baseline(name).oracle)
        except RlteError:
            return name in ("lp_opt", "lp_paths") or name.startswith("lp_paths_k")

    def is_classical(self, name: str) -> bool:
        return not self.is_oracle(name) and not name.startswith(OPTIMISERS)

    def evaluate_baseline(self, name: str, context: CellContext) -> Evaluation:
        from rlte.baselines import make_baseline

        scenario, part, window = self._evaluated(context)
        matrices = scenario.matrices(part)
        history = np.concatenate([scenario.train, matrices[:window]]) if part == "test" else matrices[:window]
        baseline = make_baseline(name, cache=scenario.lp)
        reused = scenario.lp.reused_time_s
        segments, elapsed = route_segments(baseline, scenario, part, history, matrices[window:])
        # an LP solution another method of this process solved first counts at its own solve time
        elapsed += scenario.lp.reused_time_s - reused
        series = {
            metric.name: np.concatenate([np.atleast_1d(getattr(stats, metric.name)) for _, stats in segments])
            for metric in self.metrics
        }
        return Evaluation(series, elapsed)

    # ------------------------------------------------------------------ learned methods
    def env_options(self, method: MethodInfo, context: CellContext, part: str) -> dict:
        from rlte.envs import options_class

        known = options_class(method.env_id).keys()
        options = {key: value for key, value in (context.spec.get("env") or {}).items() if key in known}
        options.update(method.env)  # what the method's name fixes (DOTE observes the traffic)
        scenario = self.scenario_config(context).to_dict()
        options.update(scenario, with_optimal=False)
        if part == "train":
            options["part"] = "train"
        else:
            self._evaluated(context)
            options.update(part=context.spec["evaluation"]["part"], episode_length=None)
        return options

    # ------------------------------------------------------------------ reports
    def report_protocol(self, run) -> list[str]:
        """The generalisation protocol, from the spec: the training and evaluated spans, and per
        scenario what the evaluated part changes (links removed, failures, bursts, another load)."""
        from rlte.envs.core import TEOptionsBase
        from rlte.envs.scenario import ScenarioConfig

        def percent(fraction: float) -> str:
            return f"{100 * fraction:.1f} %"

        spec = run.spec
        common = dict(spec.get("scenario") or {})
        window = int((spec.get("env") or {}).get("window", TEOptionsBase.window))
        on_train = (spec.get("evaluation") or {}).get("part", "test") == "train"

        def split(options: dict) -> tuple[float, float, int | None]:
            fraction = float(options.get("train_fraction", ScenarioConfig.train_fraction))
            return fraction, float(options.get("validation", 0.0) or 0.0), options.get("test_intervals")

        def span_of(options: dict) -> str:
            fraction, validation, _ = split(options)
            if on_train:
                return "every method is evaluated on the training part itself (no held-out span)"
            if validation:
                return (f"learned methods train on the first {percent(fraction * (1 - validation))} of each traffic "
                        f"series; every method is evaluated on the next {percent(fraction * validation)}, held out "
                        "from training (a validation span: the test part is never loaded)")  # fmt: skip
            head = options.get("test_intervals")
            rest = f"the rest's first {int(head)} intervals" if head else "the rest"
            return (f"learned methods train on the first {percent(fraction)} of each traffic series; every method "
                    f"is evaluated on {rest}, a later span disjoint from it")  # fmt: skip

        span = span_of(common)
        lines = [f"Protocol: {span}, after a {window}-interval window."]
        entries = [s for s in spec.get("scenarios") or [] if isinstance(s, dict)] or [{"name": "plain"}]
        for entry in entries:
            options = {**common, **(entry.get("options") or {})}
            changes = [span_of(options)] if split(options) != split(common) else []
            if options.get("test_topology_change"):
                links = ", ".join(f"{u}-{v}" for u, v in options["test_topology_change"])
                changes.append(f"the test topology lacks links {links}, never seen in training")
            if options.get("failures"):
                failed = "; ".join(f"from step {step}: " + ", ".join(f"{u}-{v}" for u, v in links)
                                   for step, links in options["failures"])  # fmt: skip
                changes.append(f"links fail during the evaluated episode ({failed})")
            if options.get("bursts"):
                rate, factor, duration = options["bursts"]
                changes.append(f"flash crowds in the evaluated part (each pair starts a {factor:g}x burst of "
                               f"{int(duration)} interval(s) with probability {rate:g} per interval)")  # fmt: skip
            if options.get("test_load") is not None:
                changes.append(f"the evaluated part is at load {float(options['test_load']):g}, the training "
                               "part at the cell's load")  # fmt: skip
            if changes:
                lines.append(f"Scenario {entry.get('name')}: " + "; ".join(changes) + ".")
        if len(lines) == 1:
            lines[0] = lines[0][:-1] + " on the training topology and load."
        return lines

    def report_figures(self, run, folder):
        """With two or more topologies of different sizes: each method's MLU gap to ``lp_opt`` (mean
        over seeds and its 95 % interval) and its decision time per interval, against the node count
        (the topology-size curve of `experiments/dote_scale.yaml`); one figure per (traffic,
        scenario, load)."""
        from rlte.experiments.store import load_value
        from rlte.net.topology import load_topology

        reference = run.label_of(self.reference)
        results = run.results
        if reference is None or results["topology"].nunique() < 2:
            return []
        nodes = {}
        for name in results["topology"].unique():
            try:
                nodes[name] = load_topology(str(name)).num_nodes
            except RlteError:
                return []  # a topology not loadable here (a data-directory one): no size axis
        if len(set(nodes.values())) < 2:
            return []
        made = []
        settings = results[["traffic", "scenario", "load"]].drop_duplicates().itertuples(index=False)
        for number, (traffic, scenario, load) in enumerate(settings):
            rows = results[
                (results["traffic"] == traffic)
                & (results["scenario"] == scenario)
                & (results["load"] == load)
            ]
            path = size_figure(run, rows, nodes, reference, folder / f"size_{number}.png",
                               f"{traffic}, {scenario}" + ("" if load_value(load) is None else f", load {load:g}"))  # fmt: skip
            if path is not None:
                made.append((f"MLU gap to {reference} and decision time against topology size ({traffic}, {scenario})",
                             path))  # fmt: skip
        return made

    def load_heading(self, load: float | None) -> str:
        if load is None:
            return "Unscaled traffic"
        band = band_of(load)
        return f"Load {load:g}" + (f" ({band} % band)" if band else "")

    def load_phrase(self, load: float | None, band: str | None = None) -> str:
        band = band or (band_of(load) if load is not None else None)
        if band:
            return f"at {band} % load"
        return "on unscaled traffic" if load is None else f"at load {load:g}"

    def paper_load(self, value) -> float | None:
        if value.get("band") is not None:
            return LOAD_BANDS.get(str(value["band"]))
        return value.get("load")


def route_segments(baseline, scenario, part: str, history: np.ndarray, evaluated: np.ndarray):
    """Route ``evaluated`` intervals of a scenario's part with a baseline, stretch by stretch between
    link failures, each on the topology in force, and measure them in the fluid model.

    Args:
        baseline: an `rlte.baselines.Baseline`.
        scenario: the built scenario.
        part: ``train`` or ``test``.
        history: the matrices before the first evaluated one (the predictive baselines' past).
        evaluated: the matrices routed and measured. Shape [T, N, N].

    Returns:
        ``([(topology, stats), ...], routing seconds)``, one `rlte.sim.flow.FlowStats` per stretch.
    """
    from rlte.sim.flow import FlowModel

    segments, elapsed = [], 0.0
    for begin, end, topology in scenario.segments(part, len(evaluated)):
        past = np.concatenate([history, evaluated[:begin]])
        start = time.perf_counter()
        routing = baseline.route_series(topology, evaluated[begin:end], past)
        elapsed += time.perf_counter() - start
        segments.append((topology, FlowModel(topology).evaluate(routing, evaluated[begin:end], check=False)))
    return segments, elapsed


def compare_baselines(scenario, methods, *, progress=None) -> list[dict]:
    """Route a scenario's test part with each baseline (its training part is the history) and
    measure it: what ``rlte baselines`` prints.

    Args:
        scenario: the built scenario (`rlte.envs.scenario.build`).
        methods: baseline names.
        progress: called with each method's name before it runs.

    Returns:
        One dict per method: ``method``, ``oracle``, for each flow metric its mean over intervals
        (under the metric's name) and its 95th percentile (``<metric>_p95``), ``runtime_s`` (the
        method's routing time for the whole series; an LP solution another method already solved
        counts at its original solve time), ``notes``, and ``link_load_bps`` / ``link_util`` (mean
        over intervals, per link).
    """
    from rlte.baselines import make_baseline

    rows = []
    cache = scenario.lp
    for name in methods:
        baseline = make_baseline(name, cache=cache)
        if progress:
            progress(baseline.name)
        reused = cache.reused_time_s
        segments, elapsed = route_segments(baseline, scenario, "test", scenario.train, scenario.test)
        (_, stats), *more = segments
        assert not more, "rlte baselines has no failure schedule"
        row: dict = {"method": baseline.name, "oracle": bool(baseline.oracle)}
        for metric in FLOW_TE.metrics:
            values = np.asarray(getattr(stats, metric.name), dtype=np.float64)
            row[metric.name] = float(values.mean())
            row[f"{metric.name}_p95"] = float(np.percentile(values, 95))
        row["runtime_s"] = elapsed + (cache.reused_time_s - reused)
        row["notes"] = list(getattr(baseline, "notes", []))
        row["link_load_bps"] = np.atleast_2d(stats.link_load).mean(axis=0)
        row["link_util"] = np.atleast_2d(stats.utilisation).mean(axis=0)
        rows.append(row)
    return rows


def size_curves(run, rows, nodes: dict, reference: str) -> dict[str, dict]:
    """Per method, over the topologies in order of size: ``nodes``, the MLU gap to ``reference``
    in % (``gap``, mean over the seeds both have of ``100 (mlu / ref - 1)``, and ``gap_ci95``, NaN
    for the reference itself) and the mean decision time in ms (``decision_ms``, NaN if absent)."""
    from rlte.domains import DECISION_TIME
    from rlte.experiments.statistics import relative_gaps, summarise
    from rlte.experiments.store import per_seed

    curves = {}
    for label in run.method_order():
        curve = {"nodes": [], "gap": [], "gap_ci95": [], "decision_ms": []}
        for topology in sorted(nodes, key=lambda name: nodes[name]):
            at = rows[rows["topology"] == topology]
            values, ref = per_seed(at, label, "mlu"), per_seed(at, reference, "mlu")
            if values.empty:
                continue
            gap = (
                summarise(100 * relative_gaps(values, ref)) if label != reference and not ref.empty else None
            )
            decide = per_seed(at, label, DECISION_TIME.name)
            curve["nodes"].append(nodes[topology])
            curve["gap"].append(gap.mean if gap is not None else math.nan)
            curve["gap_ci95"].append(gap.half_width if gap is not None else math.nan)
            curve["decision_ms"].append(float(decide.mean()) if not decide.empty else math.nan)
        if curve["nodes"]:
            curves[label] = curve
    return curves


def size_figure(run, rows, nodes: dict, reference: str, path, title: str):
    """The size curves (`size_curves`) drawn: gap to the reference against the nodes, and the
    decision time (log scale); None when no method has a gap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = size_curves(run, rows, nodes, reference)
    if not any(label != reference and any(map(math.isfinite, c["gap"])) for label, c in curves.items()):
        return None
    figure, (gap_axis, time_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for label, curve in curves.items():
        if label != reference:
            gap_axis.errorbar(curve["nodes"], curve["gap"], yerr=np.nan_to_num(curve["gap_ci95"]), marker="o",
                              capsize=3, label=label)  # fmt: skip
        if any(math.isfinite(t) and t > 0 for t in curve["decision_ms"]):
            time_axis.plot(curve["nodes"], curve["decision_ms"], marker="o", label=label)
    gap_axis.axhline(0.0, color="black", linewidth=0.8)
    gap_axis.set(xlabel="nodes", ylabel=f"MLU above {reference} (%)", title=title)
    time_axis.set(xlabel="nodes", ylabel="decision time per interval (ms)", yscale="log")
    gap_axis.legend(fontsize=8)
    time_axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def band_of(load: float) -> str | None:
    """The paper's band whose load level is ``load`` (``0.7`` -> ``"60-80"``), else None."""
    for band, level in LOAD_BANDS.items():
        if math.isclose(load, level, abs_tol=1e-9):
            return band
    return None


FLOW_TE = register_domain(FlowTE())

_SB3 = "rlte.agents.sb3"
for _method in (
    MethodInfo("sb3_ppo", "flow_te", "rlte/TE-v0", f"{_SB3}:SB3PPO", f"{_SB3}:SB3Config",
               "Stable-Baselines3 PPO on rlte/TE-v0 (centralised, path splits)"),
    MethodInfo("sb3_a2c", "flow_te", "rlte/TE-v0", f"{_SB3}:SB3A2C", f"{_SB3}:SB3Config",
               "Stable-Baselines3 A2C on rlte/TE-v0"),
    MethodInfo("sb3_trpo", "flow_te", "rlte/TE-v0", f"{_SB3}:SB3TRPO", f"{_SB3}:SB3Config",
               "sb3-contrib TRPO on rlte/TE-v0 (centralised, fixed KL bound)"),
    MethodInfo("ma_trpo", "flow_te", "rlte/TE-MA-v0", "rlte.agents.trpo:TRPOAgent", "rlte.agents.trpo:TRPOConfig",
               "seed 000: multi-agent TRPO on rlte/TE-MA-v0 with the adaptive trust region (ATRA)",
               fixed={"atra": True}),
    MethodInfo("ma_trpo_fixed", "flow_te", "rlte/TE-MA-v0", "rlte.agents.trpo:TRPOAgent",
               "rlte.agents.trpo:TRPOConfig", "seed 000's ablation: multi-agent TRPO with a fixed KL bound",
               fixed={"atra": False}),
    MethodInfo("ma_ppo", "flow_te", "rlte/TE-MA-v0", "rlte.agents.mappo:PPOAgent", "rlte.agents.mappo:PPOConfig",
               "seed 000's comparison: multi-agent PPO, the same actor and critic as ma_trpo, clipped objective"),
    MethodInfo("ma_dqn", "flow_te", "rlte/TE-MA-v0", "rlte.agents.dqn:DQNAgent", "rlte.agents.dqn:DQNConfig",
               "seed 000's comparison: multi-agent DQN over the discrete path choice"),
):  # fmt: skip
    register_method(_method)

_DOTE_ENV = {"observe": "traffic", "action_type": "splits", "logit_scale": 10.0}
register_method(MethodInfo(
    "dote", "flow_te", "rlte/TE-v0", "rlte.agents.dote:DOTEAgent", "rlte.agents.dote:DOTEConfig",
    "DOTE-style: an MLP from the last H matrices to path splits, trained by gradient descent on the next MLU",
    env=_DOTE_ENV,
))  # fmt: skip
register_method(MethodInfo(
    "dote_robust", "flow_te", "rlte/TE-v0", "rlte.agents.dote:DOTEAgent", "rlte.agents.dote:DOTEConfig",
    "DOTE with a FIGRET-style burst penalty (a pair's std times its worst link's sensitivity)",
    defaults={"robustness": 1.0}, env=_DOTE_ENV,
))  # fmt: skip
