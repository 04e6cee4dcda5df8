"""Experiment specs: a YAML file describing a grid of runs, validated before anything runs.

A spec::

    name: baselines_abilene               # the run store folder: runs/<name>/<run-id>/
    domain: flow_te                        # the registered domain (default flow_te)
    description: every classical baseline on Abilene's real week at five load levels
    methods:                               # baselines by name, or learned agents with parameters
      - ecmp
      - {name: sb3_ppo, params: {learning_rate: 0.001}}
    topologies: [abilene]
    traffic: [abilene]
    loads: [0.2, 0.45, 0.7, 0.875, 0.975]
    scenarios:                             # named ScenarioConfig overrides (default: one, "plain")
      - {name: plain}
      - {name: bursts, options: {bursts: [0.002, 5.0, 3]}}
    seeds: [0, 1, 2, 3, 4]                 # traffic noise and agent seeds
    scenario: {train_fraction: 0.7142857, noise: 0.05}   # common ScenarioConfig fields
    sweep: noise                            # optional: the scenario option the scenarios vary
    training: {timesteps: 20000, checkpoint_every: 2000}
    evaluation: {part: test}
    paper:                                  # optional: published numbers shown beside rlte's
      source: seed 000, Table 1
      values: [{method: trpo, load: 0.7, metric: mlu, value: 0.894}]
    quick: {loads: [0.6], seeds: [0, 1], training: {timesteps: 1000}}   # overrides for --quick

Every key is checked (a typo names the key and the closest valid one) and every value against
its options class (`rlte.options`): the domain's scenario options for ``scenario:`` and
``scenarios:``, the options of the domain's environments for ``env:``, each method's config for
its ``params``. ``sweep`` names a scenario option that every scenario sets (its x axis): the
report then adds a table and a figure of the metrics against it. Every method must be one of the domain's baselines or a learned method registered
for it (`rlte.domains`), and every data file the cells need must be in the data directory. A
spec that fails any check is refused before anything runs.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from rlte.errors import RlteError

TOP_KEYS = {
    "name", "description", "domain", "methods", "topologies", "traffic", "loads", "scenarios", "seeds",
    "scenario", "training", "evaluation", "paper", "quick", "env", "sweep",
}  # fmt: skip
TRAINING_KEYS = {"timesteps", "checkpoint_every"}
EVALUATION_KEYS = {"part", "episode_length"}
DEFAULT_DOMAIN = "flow_te"
#: Longest readable part of a cell's folder name (file names have at most 255 bytes).
CELL_ID_CHARS = 160


def env_keys(domain) -> dict[str, list[type]]:
    """The environment options a spec of ``domain`` may set: key -> the options classes (of the
    domain's environments) that know it. Each learner's environment takes the keys it knows."""
    from rlte.envs import options_class

    keys: dict[str, list[type]] = {}
    for env_id in domain.env_ids:
        options = options_class(env_id)
        for key in options.keys():
            if key not in domain.reserved_env_keys:
                keys.setdefault(key, []).append(options)
    return keys


@dataclass(frozen=True)
class Method:
    """A method of the grid: a baseline or a learned agent, with its parameters."""

    name: str
    params: tuple[tuple[str, object], ...] = ()
    label: str = ""

    @property
    def display(self) -> str:
        return self.label or self.name

    def params_dict(self) -> dict:
        return dict(self.params)


@dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    method: Method
    topology: str
    traffic: str
    load: float | None
    scenario: str
    seed: int

    @property
    def key(self) -> str:
        """A stable, readable identity (also the sort order of results)."""
        return json.dumps(
            [self.method.display, self.topology, self.traffic, self.load, self.scenario, self.seed],
            separators=(",", ":"),
        )

    @property
    def cell_id(self) -> str:
        """A short folder name, unique within the spec (its readable part is cut to
        `CELL_ID_CHARS`: a topology named by a long path must not make a name the system refuses)."""
        digest = hashlib.blake2b(
            json.dumps([self.key, sorted(self.method.params)], default=str).encode(), digest_size=5
        ).hexdigest()
        safe = f"{self.method.display}-{self.topology}-{self.load}-{self.scenario}-s{self.seed}".replace(
            "/", "_"
        )
        return f"{safe[:CELL_ID_CHARS]}-{digest}"


@dataclass
class Spec:
    """A validated spec."""

    name: str
    description: str
    domain: str
    methods: list[Method]
    topologies: list[str]
    traffic: list[str]
    loads: list[float | None]
    scenarios: dict[str, dict]
    seeds: list[int]
    scenario: dict
    training: dict
    evaluation: dict
    env: dict
    paper: dict | None
    raw: dict = field(repr=False)
    source: str = ""
    sweep: str | None = None

    def cells(self) -> list[Cell]:
        """Every cell of the grid, in a fixed order."""
        return [
            Cell(method, topology, traffic, load, scenario, seed)
            for method, topology, traffic, load, scenario, seed in itertools.product(
                self.methods, self.topologies, self.traffic, self.loads, list(self.scenarios), self.seeds
            )
        ]

    def resolved(self) -> dict:
        """The spec as run (defaults filled in), for the run store."""
        return {
            "name": self.name,
            "description": self.description,
            "domain": self.domain,
            "methods": [
                {"name": m.name, "label": m.display, "params": m.params_dict()} for m in self.methods
            ],
            "topologies": self.topologies,
            "traffic": self.traffic,
            "loads": self.loads,
            "scenarios": [{"name": name, "options": options} for name, options in self.scenarios.items()],
            "seeds": self.seeds,
            "scenario": self.scenario,
            "training": self.training,
            "evaluation": self.evaluation,
            "env": self.env,
            "paper": self.paper,
            **({"sweep": self.sweep} if self.sweep is not None else {}),
        }


def _closest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unknown(where: str, keys, allowed: set[str]) -> None:
    for key in keys:
        if key not in allowed:
            raise RlteError(f"{where}: unknown key {key!r}{_closest(str(key), allowed)}")


def _list(where: str, value, kind) -> list:
    if value is None:
        raise RlteError(f"{where}: missing")
    values = value if isinstance(value, list) else [value]
    if not values:
        raise RlteError(f"{where}: empty")
    names = {int: "an integer", str: "a string", dict: "a mapping"}
    for item in values:
        if kind is not None and (not isinstance(item, kind) or (kind is int and isinstance(item, bool))):
            raise RlteError(f"{where}: {item!r} is not {names.get(kind, 'a valid value')}")
    return values


def _axis(where: str, value, kind) -> list:
    """A grid axis: `_list`, each value once (a value twice would make two cells of one folder)."""
    values = _list(where, value, kind)
    for i, item in enumerate(values):
        if any(type(item) is type(other) and item == other for other in values[:i]):
            raise RlteError(f"{where}: {item!r} appears twice")
    return values


def _folder_name(where: str, value) -> str:
    """``value`` as part of a folder name: a string without a NUL (which no file name can hold)."""
    if not isinstance(value, str) or "\0" in value:
        raise RlteError(f"{where}: {value!r} is not a name (a string without NUL characters)")
    return value


def _mapping(where: str, value) -> dict:
    """A section that is a mapping of keys (missing or null: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RlteError(f"{where}: must be a mapping, not {value!r}")
    return value


def _methods(where: str, entries, domain) -> list[Method]:
    from rlte.domains import check_method

    methods = []
    for i, entry in enumerate(_list(where, entries, None)):
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict):
            raise RlteError(f"{where}[{i}]: a method is a name or a mapping with 'name' and 'params'")
        _unknown(f"{where}[{i}]", entry, {"name", "params", "label"})
        name = entry.get("name")
        if not isinstance(name, str):
            raise RlteError(f"{where}[{i}]: missing 'name'")
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise RlteError(f"{where}[{i}] ({name}): params must be a mapping")
        check_method(domain, name, params, f"{where}[{i}]")
        label = _folder_name(f"{where}[{i}] ({name}): label", entry["label"]) if "label" in entry else ""
        methods.append(Method(name, tuple(sorted(params.items())), label))
    labels = [m.display for m in methods]
    duplicates = {label for label in labels if labels.count(label) > 1}
    if duplicates:
        raise RlteError(f"{where}: method {sorted(duplicates)[0]!r} appears twice (give one a 'label')")
    return methods


def _options(where: str, values, options_class, allowed: set[str]) -> dict:
    """Check a mapping of options key by key against ``options_class`` (only ``allowed`` keys);
    returns it unchanged (plain values, for the resolved spec)."""
    if not isinstance(values, dict):
        raise RlteError(f"{where}: must be a mapping of options")
    _unknown(where, values, allowed)
    for key, value in values.items():
        options_class.convert(key, value, where)
    return values


def parse_spec(raw: dict, source: str = "spec", *, quick: bool = False, data_dir: str | None = None) -> Spec:
    """Validate a spec mapping (see the module docstring) and fill in defaults.

    Raises:
        RlteError: naming the spec and the first problem found.
    """
    from rlte.domains import DECISION_TIME, TRAINING_TIME, get_domain

    if not isinstance(raw, dict):
        raise RlteError(f"{source}: a spec is a YAML mapping")
    raw = copy.deepcopy(raw)
    _unknown(source, raw, TOP_KEYS)
    # the overrides' shape is checked in either mode: a broken quick section is found before --quick
    quick_overrides = raw.get("quick") or {}
    if not isinstance(quick_overrides, dict):
        raise RlteError(f"{source}: quick must be a mapping of overrides")
    _unknown(f"{source}: quick", quick_overrides, TOP_KEYS - {"quick", "name", "domain"})
    if quick:
        for key, value in quick_overrides.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key] = {**raw[key], **value}
            else:
                raw[key] = value
    name = raw.get("name")
    if not isinstance(name, str) or not name or "/" in name or "\0" in name or name in (".", ".."):
        raise RlteError(f"{source}: 'name' must be a non-empty string without '/' (a folder name)")
    domain_name = raw.get("domain", DEFAULT_DOMAIN)
    if not isinstance(domain_name, str):
        raise RlteError(f"{source}: domain must be a name")
    domain = get_domain(domain_name, f"{source}: domain")
    methods = _methods(f"{source}: methods", raw.get("methods"), domain)
    topologies = _axis(f"{source}: topologies", raw.get("topologies"), str)
    traffic = _axis(f"{source}: traffic", raw.get("traffic"), str)
    loads = _axis(f"{source}: loads", raw.get("loads", [None]), None)
    seeds = _axis(f"{source}: seeds", raw.get("seeds", [0]), int)
    negative = next((seed for seed in seeds if seed < 0), None)
    if negative is not None:
        raise RlteError(f"{source}: seeds: {negative} must be >= 0 (seeds of numpy's generators)")
    scenario_class = domain.scenario_options()
    scenario_fields = set(scenario_class.keys()) - set(domain.axis_fields())
    common = _options(f"{source}: scenario", raw.get("scenario") or {}, scenario_class, scenario_fields)
    scenarios: dict[str, dict] = {}
    for i, entry in enumerate(_list(f"{source}: scenarios", raw.get("scenarios", [{"name": "plain"}]), dict)):
        _unknown(f"{source}: scenarios[{i}]", entry, {"name", "options"})
        label = entry.get("name")
        if label is None:
            raise RlteError(f"{source}: scenarios[{i}]: missing 'name'")
        _folder_name(f"{source}: scenarios[{i}]: name", label)
        if label in scenarios:
            raise RlteError(f"{source}: scenarios[{i}]: the name {label!r} appears twice")
        where = f"{source}: scenarios[{i}] ({label})"
        options = _options(where, entry.get("options") or {}, scenario_class, scenario_fields)
        domain.check_scenario({**common, **options}, where)
        scenarios[label] = options
    sweep = raw.get("sweep")
    if sweep is not None:
        if not isinstance(sweep, str) or sweep not in scenario_fields:
            raise RlteError(
                f"{source}: sweep {sweep!r}: not a scenario option{_closest(str(sweep), scenario_fields)}; "
                f"options: {', '.join(sorted(scenario_fields))}"
            )
        unset = next(
            (label for label, options in scenarios.items() if sweep not in {**common, **options}), None
        )
        if unset is not None:
            raise RlteError(f"{source}: sweep {sweep!r}: scenario {unset!r} does not set it")
    training = {
        "timesteps": 10_000,
        "checkpoint_every": 2_000,
        **_mapping(f"{source}: training", raw.get("training")),
    }
    _unknown(f"{source}: training", training, TRAINING_KEYS)
    for key in TRAINING_KEYS:
        value = training[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RlteError(f"{source}: training.{key} {value!r}: must be a positive integer")
    evaluation = {
        "part": "test",
        "episode_length": None,
        **_mapping(f"{source}: evaluation", raw.get("evaluation")),
    }
    _unknown(f"{source}: evaluation", evaluation, EVALUATION_KEYS)
    if evaluation["part"] not in ("train", "test"):
        raise RlteError(f"{source}: evaluation.part must be 'train' or 'test'")
    length = evaluation["episode_length"]
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
        raise RlteError(f"{source}: evaluation.episode_length {length!r}: must be a positive integer or null")
    env = raw.get("env") or {}
    if not isinstance(env, dict):
        raise RlteError(f"{source}: env must be a mapping of environment options")
    known_env = env_keys(domain)
    _unknown(f"{source}: env", env, set(known_env))
    for key, value in env.items():
        for options_class in known_env[key]:
            options_class.convert(key, value, f"{source}: env")
    env = dict(env)
    paper = raw.get("paper")
    metric_names = {m.name for m in (*domain.metrics, *domain.scalar_metrics, DECISION_TIME, TRAINING_TIME)}
    if paper is not None:
        if not isinstance(paper, dict):
            raise RlteError(f"{source}: paper must be a mapping with 'source' and 'values'")
        _unknown(f"{source}: paper", paper, {"source", "values", "notes"})
        values = paper.get("values") or []
        if not isinstance(values, list):
            raise RlteError(f"{source}: paper.values must be a list")
        for j, value in enumerate(values):
            if not isinstance(value, dict):
                raise RlteError(f"{source}: paper.values[{j}] must be a mapping")
            _unknown(
                f"{source}: paper.values[{j}]",
                value,
                {"method", "load", "scenario", "metric", "value", "band"},
            )
            if isinstance(value.get("value"), bool) or not isinstance(value.get("value"), int | float):
                raise RlteError(f"{source}: paper.values[{j}]: value {value.get('value')!r} must be a number")
            load = value.get("load")
            if load is not None and (isinstance(load, bool) or not isinstance(load, int | float)):
                raise RlteError(f"{source}: paper.values[{j}]: load {load!r} must be a number or null")
            # a misspelt metric would match no row: the published number would silently never be shown
            metric = value.get("metric")
            if metric is not None and str(metric).removesuffix("_p95") not in metric_names:
                raise RlteError(
                    f"{source}: paper.values[{j}]: unknown metric {metric!r}"
                    f"{_closest(str(metric), metric_names)}; metrics: {', '.join(sorted(metric_names))}"
                )
    spec = Spec(
        name=name, description=str(raw.get("description", "")), domain=domain.name, methods=methods,
        topologies=topologies, traffic=traffic, loads=loads, scenarios=scenarios, seeds=seeds, scenario=common,
        training=training, evaluation=evaluation, env=env, paper=paper, raw=raw, source=source, sweep=sweep,
    )  # fmt: skip
    try:
        domain.check_axes(spec, data_dir)
    except RlteError as err:  # every problem of the spec names it, also one a domain's check finds deep down
        if str(err).startswith(source):
            raise
        raise RlteError(f"{source}: {err}") from None
    return spec


def load_spec(path: str | Path, *, quick: bool = False, data_dir: str | None = None) -> Spec:
    """Read and validate a YAML spec file (``yaml.safe_load``: no code runs from it)."""
    from rlte.fileio import read_yaml

    raw = read_yaml(path, missing="no such spec file")
    return parse_spec(raw, str(path), quick=quick, data_dir=data_dir)
