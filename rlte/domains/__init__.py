"""The registry of domains and methods: what experiments, reports and the command line iterate
over, so that none of them branches on a domain's or a method's name.

A **domain** (`Domain`) is one kind of problem rlte serves: flow-level traffic engineering
(`rlte.domains.flow_te`) today; packet routing and compute-cluster balancing next. It declares its
grid axes and scenario options, its baselines, its metrics with their direction, its reference
(the bound every table measures a gap to) and the rivals every learned method is compared with,
and it runs its own evaluation protocol for one cell of an experiment grid.

A **method** (`MethodInfo`) is a learned agent: its name, domain, environment id, agent class and
config dataclass (both by ``module:name``, imported on use), and the parameters its name fixes.
Classical baselines belong to their domain (`Domain.check_baseline`).

Adding a method touches its own agent file and one `register_method` call; adding a domain, its
own modules and one `register_domain` call (see ``docs/ARCHITECTURE.md``, "Where a new domain
goes").
"""

from __future__ import annotations

import difflib
import importlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rlte.errors import RlteError

#: Modules that register the built-in domains and their methods, imported on first use.
BUILTIN_DOMAINS = (
    "rlte.domains.flow_te",
    "rlte.domains.packet",
    "rlte.domains.cluster",
    "rlte.domains.link_weights",
    "rlte.domains.strl",
)

_DOMAINS: dict[str, Domain] = {}
_METHODS: dict[str, MethodInfo] = {}
_loaded = False


def _import(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


# ---------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class Metric:
    """A metric a domain reports."""

    name: str
    """Its key in ``info``, in the evaluation series and in ``results.csv``."""
    label: str
    """Its name in prose and table headers (``MLU``, ``mean delay``)."""
    unit: str = ""
    """The unit it is shown in (``%``, ``ms``, ``Mbit/s``, ``s`` or nothing)."""
    scale: float = 1.0
    """What the stored value is multiplied by to show it in ``unit``."""
    lower_is_better: bool = True
    """Its direction: which of two methods is better on it."""
    agreement: float | None = None
    """How far (in stored units) rlte's value may lie from a paper's to agree with it; None: within
    the report's relative tolerance (10 %). A rate near 1 wants an absolute one: 99.8 % and 91.4 %
    success lie 9 % apart but fail 40 times as often."""


#: Metrics every domain's cells also write.
DECISION_TIME = Metric("decision_ms", "decision time", "ms")
TRAINING_TIME = Metric("train_s", "training time", "s")


# ---------------------------------------------------------------------- methods
@dataclass(frozen=True)
class MethodInfo:
    """A learned method."""

    name: str
    """Its name in specs and tables."""
    domain: str
    """The domain it belongs to."""
    env_id: str | None
    """The environment it trains and is evaluated on (or, for methods with their own ``runner``,
    the environment through which any agent can take its part)."""
    agent: str | None
    """``module:Class`` of the agent: ``Class(params: dict, seed: int)`` with ``train`` and ``act``
    (None for methods with their own ``runner``)."""
    config: str
    """``module:Class`` of its config dataclass (an `rlte.options.Options`)."""
    description: str
    """One line for listings."""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    """Config fields its name sets (``ma_trpo_fixed``: ``atra=False``); a spec may not set them."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Config fields whose default its name changes (a spec may set them)."""
    runner: str | None = None
    """``module:function`` that runs a whole cell itself (online learners inside a simulator, or a
    protocol with more than one evaluation), instead of the domain's train-then-evaluate protocol."""
    online: bool = False
    """It learns as it acts, inside the evaluated run, with no separate training (the Q-routers)."""
    env: Mapping[str, Any] = field(default_factory=dict)
    """Options of ``env_id`` its name fixes (what it observes, its action type), over a spec's
    ``env:`` keys: the domain's `Domain.env_options` applies them."""

    def config_class(self) -> type:
        return _import(self.config)

    def check_params(self, params: Mapping, where: str):
        """The config the parameters give (checked: names, types, ranges).

        Raises:
            RlteError: naming ``where`` and the parameter.
        """
        for key in params:
            if key in self.fixed:
                raise RlteError(f"{where}: {key!r} is set by the method's name ({self.name})")
        return self.config_class().parse({**self.defaults, **self.fixed, **params}, where)

    def make(self, params: Mapping, seed: int):
        """The agent, with the parameters and those its name fixes."""
        self.check_params(params, self.name)
        if self.agent is None:
            raise RlteError(
                f"method {self.name!r} runs inside its domain's simulator (it has no agent object)"
            )
        return _import(self.agent)({**self.defaults, **self.fixed, **params}, seed=int(seed))


# ---------------------------------------------------------------------- cells
class CellContext(NamedTuple):
    """What one cell of a grid runs on (built by `rlte.experiments.cell.run_cell`)."""

    spec: dict
    """The resolved spec (`rlte.experiments.spec.Spec.resolved`)."""
    cell: dict
    """The cell: ``method``, ``label``, ``params``, ``topology``, ``traffic``, ``load``,
    ``scenario``, ``seed``, ``cell_id``."""
    folder: Path
    """The cell's folder (checkpoints, logs)."""
    data_dir: str | None
    """The data directory."""
    log: Callable[[str], None]
    """Adds a line to the cell's ``log.txt``."""


class Evaluation(NamedTuple):
    """What a method did in one cell."""

    series: dict[str, np.ndarray]
    """Metric name -> its value at each evaluated step (interval, window of time, episode); more
    columns (a step's time or load) may come along for figures."""
    decision_s: float
    """Seconds spent deciding, over all decisions."""
    train_s: float | None = None
    """Seconds of training (learned methods)."""
    summary: dict[str, float] = {}
    """Whole-run values that replace the series' mean (a delivery time over all packets rather
    than the mean over windows); metrics absent from it take the series' mean."""
    by_load: dict[float, dict[str, float]] = {}
    """Values per load level the run went through (a stepped load schedule): written as rows at
    that load."""
    scalars: dict[str, float] = {}
    """More metrics of the run (a convergence time), written as rows of their own."""
    decisions: int | None = None
    """Decisions taken (the decision time's denominator); the number of evaluated steps if None."""


# ---------------------------------------------------------------------- domains
class Domain:
    """A kind of problem: its scenarios, baselines, metrics, reference and protocol.

    Subclasses set the class attributes and implement `check_axes`, `baseline_names`,
    `check_baseline`, `is_oracle`, `evaluate_baseline` and, for methods with an environment,
    `env_options`; `evaluate_learned` (train on the training part, then one deterministic episode
    over the evaluated part) serves every method that has no ``runner`` of its own.
    """

    name: str = ""
    description: str = ""
    #: Every metric a cell reports, in table order; each is also written as ``<name>_p95``.
    metrics: tuple[Metric, ...] = ()
    #: Metrics some cells add of their own (`Evaluation.scalars`: a convergence time).
    scalar_metrics: tuple[Metric, ...] = ()
    #: The headline metric: gaps to the reference and verdicts against rivals are on it.
    primary: str = ""
    #: The columns of the report's tables.
    table_metrics: tuple[str, ...] = ()
    #: Metrics the report plots against the load level (the table metrics when empty).
    load_figure_metrics: tuple[str, ...] = ()
    #: Metrics the report plots over the evaluated steps under a non-plain scenario; the first also
    #: gets the report's over-time table (the table metrics when empty).
    time_metrics: tuple[str, ...] = ()
    #: Whether the report draws the time metrics over time in every scenario, as the mean over seeds
    #: (with the load steps marked when the series has a ``load`` column), rather than the lowest
    #: seed under non-plain scenarios only.
    time_figures: bool = False
    #: The method every table measures a gap to (``lp_opt``), or None.
    reference: str | None = None
    #: The baselines (classes or rules the domain evaluates itself), in table order.
    baselines: tuple[str, ...] = ()
    #: The baselines that see what they route or bound every method (labelled so in every table).
    oracles: tuple[str, ...] = ()
    #: Baselines each learned method is compared with in the report's findings.
    rivals: tuple[str, ...] = ()
    #: The environments its learned methods act on.
    env_ids: tuple[str, ...] = ()
    #: Environment options the protocol sets itself (a spec may not).
    reserved_env_keys: tuple[str, ...] = ()
    #: Scenario options that change only how a learned method trains (a method that does not learn
    #: runs the same cell under them; a spec's sweep draws it once).
    training_options: tuple[str, ...] = ()
    #: What the grid's axes mean in this domain (spec key -> description).
    axes: Mapping[str, str] = {}
    #: A line for the report's header (units without a name, conventions).
    report_note: str = ""
    #: What a spec's ``training.timesteps`` counts in this domain (reports and the leaderboard say it).
    timesteps_unit: str = "environment steps"
    #: What the ``time`` column of a cell's ``series.csv`` counts (the time figures' x axis).
    time_axis: str = "time"

    # -- the grid
    def scenario_options(self) -> type:
        """The options dataclass of a scenario (its keys are the spec's ``scenario:`` keys)."""
        raise NotImplementedError

    def axis_fields(self) -> tuple[str, ...]:
        """Scenario fields the grid's axes set (a spec's ``scenario:`` may not)."""
        return ()

    def check_axes(self, spec, data_dir: str | None) -> None:
        """Refuse grid values (topologies, traffic, loads) the domain cannot run."""

    def scenario_values(self, context: CellContext) -> dict:
        """A cell's scenario options as the spec gives them: its common ``scenario:`` options, then
        its named scenario's (the grid's axes are the domain's to add)."""
        spec, cell = context.spec, context.cell
        options = dict(spec.get("scenario") or {})
        for entry in spec.get("scenarios") or []:
            if entry["name"] == cell["scenario"]:
                options.update(entry.get("options") or {})
        return options

    def check_scenario(self, options: dict, where: str) -> None:
        """Refuse scenario options (already checked key by key) that cannot go together."""
        self.scenario_options().parse(options, where)

    # -- methods
    def baseline_names(self) -> tuple[str, ...]:
        """The baselines, in table order (the default set of a listing): ``baselines``."""
        return self.baselines

    def check_baseline(self, name: str, where: str) -> None:
        """Raise `RlteError` unless ``name`` is one of the domain's baselines."""
        if name not in self.baseline_names():
            raise RlteError(f"{where}: unknown method {name!r}")

    def is_oracle(self, name: str) -> bool:
        """Whether a baseline sees what it routes or is a bound (labelled so in every table): ``oracles``."""
        return name in self.oracles

    def is_classical(self, name: str) -> bool:
        """Whether a baseline is a classical routing (not an oracle nor an optimiser): the report
        compares learned methods with the best of them."""
        return not self.is_oracle(name)

    @staticmethod
    def check_loads(spec, null: str) -> None:
        """Refuse a grid load that is not a finite number > 0 or null (``null`` says what null means)."""
        for load in spec.loads:
            if load is not None and (isinstance(load, bool) or not isinstance(load, int | float) or not load > 0
                                     or not math.isfinite(load)):  # fmt: skip
                raise RlteError(f"{spec.source}: loads: {load!r} must be a number > 0 ({null})")

    def evaluate_baseline(self, name: str, context: CellContext) -> Evaluation:
        raise NotImplementedError

    # -- learned methods
    def env_options(self, method: MethodInfo, context: CellContext, part: str) -> dict:
        """The keyword options of ``method.env_id`` for training (``part="train"``) or evaluation."""
        raise NotImplementedError

    def evaluate_learned(self, method: MethodInfo, context: CellContext) -> Evaluation:
        """Train (resuming from the cell's checkpoint), then run one deterministic episode over the
        evaluated part and collect the domain's metrics from ``info``."""
        from rlte.envs import make

        if method.runner is not None:
            return _import(method.runner)(method, context)
        agent, train_s = self.train_agent(method, context)
        env = make(method.env_id, **self.env_options(method, context, "evaluate"))
        series, decide = self.run_episode(method, agent, env, int(context.cell["seed"]))
        return Evaluation(series, decide, train_s)

    def train_agent(self, method: MethodInfo, context: CellContext):
        """The cell's agent, trained on the training part (resuming from the cell's checkpoint), and
        the seconds it took."""
        from rlte.envs import make

        spec, cell = context.spec, context.cell
        agent = method.make(cell["params"], seed=int(cell["seed"]))
        training = spec["training"]
        start = time.perf_counter()
        agent.train(lambda: make(method.env_id, **self.env_options(method, context, "train")),
                    int(training["timesteps"]), checkpoint_path=context.folder / "checkpoint.pt",
                    checkpoint_every=int(training["checkpoint_every"]),
                    learning_log=context.folder / "learning.csv", tensorboard_dir=context.folder / "tb")  # fmt: skip
        return agent, time.perf_counter() - start

    def run_episode(self, method: MethodInfo, agent, env, seed: int) -> tuple[dict[str, np.ndarray], float]:
        """One deterministic episode of a trained agent: the domain's metrics at every step and the
        seconds spent deciding. An agent with ``bind(env)`` (a graph agent) is first bound to the
        evaluated environment's graph, which may differ from the training one's."""
        from rlte.envs import is_multi_agent

        multi_agent = is_multi_agent(method.env_id)
        observation, _ = env.reset(seed=seed)
        bind = getattr(agent, "bind", None)
        if bind is not None:
            bind(env)
        names = [metric.name for metric in self.metrics]
        series: dict[str, list] = {name: [] for name in names}
        decide = 0.0
        while True:
            start = time.perf_counter()
            action = agent.act(observation)
            decide += time.perf_counter() - start
            observation, _, terminated, truncated, info = env.step(action)
            if multi_agent:
                info = next(iter(info.values()))
                done = all(terminated.values()) or all(truncated.values())
            else:
                done = terminated or truncated
            for name in names:
                series[name].append(info[name])
            if done:
                break
        return {name: np.asarray(values) for name, values in series.items()}, decide

    def report_findings(self, run, groups) -> list[str]:
        """Findings of the domain's own for a run's report (a paper's claim about two learned
        methods, read against the paired interval), as Markdown lines; empty by default."""
        return []

    def report_protocol(self, run) -> list[str]:
        """What the report's header says of the protocol (which span trains, which is evaluated,
        what differs at test time), one Markdown line each; empty by default."""
        return []

    def report_figures(self, run, folder: Path) -> list[tuple[str, Path]]:
        """Figures of the domain's own for a run's report (a trace's autocorrelation, a network's
        hidden states): ``(caption, path)`` pairs, written into ``folder``."""
        return []

    # -- reports
    def metric(self, name: str) -> Metric:
        """A metric by name (``<name>_p95`` gives its 95th percentile's), or a plain stand-in."""
        base = name.removesuffix("_p95")
        for metric in (*self.metrics, *self.scalar_metrics, DECISION_TIME, TRAINING_TIME):
            if metric.name == base:
                if base != name:
                    return Metric(
                        name, f"{metric.label} (p95)", metric.unit, metric.scale, metric.lower_is_better
                    )
                return metric
        return Metric(name, name)

    def load_heading(self, load: float | None) -> str:
        """How a table names a load level."""
        return (
            "Unscaled" if load is None or (isinstance(load, float) and math.isnan(load)) else f"Load {load:g}"
        )

    def load_phrase(self, load: float | None, band: str | None = None) -> str:
        """How a sentence names a load level (``at load 0.7``)."""
        return "unscaled" if load is None else f"at load {load:g}"

    def paper_load(self, value: Mapping) -> float | None:
        """The load level a published value refers to (its ``load``, or what its ``band`` means)."""
        return value.get("load")


# ---------------------------------------------------------------------- the registry
def register_domain(domain: Domain) -> Domain:
    """Add a domain (its name must be new)."""
    if domain.name in _DOMAINS and _DOMAINS[domain.name] is not domain:
        raise ValueError(f"domain {domain.name!r} is registered already")
    _DOMAINS[domain.name] = domain
    return domain


def register_method(method: MethodInfo) -> MethodInfo:
    """Add a learned method (its name must be new)."""
    if method.name in _METHODS and _METHODS[method.name] != method:
        raise ValueError(f"method {method.name!r} is registered already")
    _METHODS[method.name] = method
    return method


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_DOMAINS:
            importlib.import_module(module)


def domains() -> dict[str, Domain]:
    """Every registered domain by name."""
    _load()
    return dict(_DOMAINS)


def methods(domain: str | None = None) -> dict[str, MethodInfo]:
    """Every registered learned method by name (of one domain, if given)."""
    _load()
    return {name: m for name, m in _METHODS.items() if domain is None or m.domain == domain}


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get_domain(name: str, where: str = "domain") -> Domain:
    """A domain by name.

    Raises:
        RlteError: for an unknown name, with the closest known one.
    """
    known = domains()
    if name not in known:
        raise RlteError(
            f"{where}: unknown domain {name!r}{_suggest(name, known)}; domains: {', '.join(known)}"
        )
    return known[name]


def get_method(name: str) -> MethodInfo | None:
    """A learned method by name, or None for a name that is not one (a baseline, or unknown)."""
    return methods().get(name)


def check_method(domain: Domain, name: str, params: Mapping, where: str) -> None:
    """Raise `RlteError` for a method the domain cannot run: an unknown name (with the closest of
    its baselines and learned methods), a learned method of another domain, a bad parameter, or
    parameters given to a baseline."""
    method = get_method(name)
    if method is not None:
        if method.domain != domain.name:
            raise RlteError(
                f"{where}: method {name!r} belongs to the {method.domain} domain, not {domain.name}"
            )
        method.check_params(params, f"{where} ({name})")
        return
    try:
        domain.check_baseline(name, where)
    except RlteError:
        known = [*domain.baseline_names(), *methods(domain.name)]
        raise RlteError(f"{where}: unknown method {name!r}{_suggest(name, known)}") from None
    if params:
        raise RlteError(f"{where}: baseline {name!r} takes no params (put its parameter in its name)")


__all__ = [
    "CellContext",
    "DECISION_TIME",
    "Domain",
    "Evaluation",
    "MethodInfo",
    "Metric",
    "TRAINING_TIME",
    "check_method",
    "domains",
    "get_domain",
    "get_method",
    "methods",
    "register_domain",
    "register_method",
]
