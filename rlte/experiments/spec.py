"""Experiment specs: a YAML file describing a grid of runs, validated before anything runs.

A spec::

    name: baselines_abilene               # the run store folder: runs/<name>/<run-id>/
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
    training: {timesteps: 20000, checkpoint_every: 2000}
    evaluation: {part: test}
    paper:                                  # optional: published numbers shown beside rlte's
      source: seed 000, Table 1
      values: [{method: trpo, load: 0.7, metric: mlu, value: 0.894}]
    quick: {loads: [0.6], seeds: [0, 1], training: {timesteps: 1000}}   # overrides for --quick

Every key is checked (a typo names the key and the closest valid one), every method must exist,
and every data file the cells need must be in the data directory.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from rlte.errors import RlteError

TOP_KEYS = {
    "name", "description", "methods", "topologies", "traffic", "loads", "scenarios", "seeds",
    "scenario", "training", "evaluation", "paper", "quick", "env",
}  # fmt: skip
TRAINING_KEYS = {"timesteps", "checkpoint_every"}
EVALUATION_KEYS = {"part", "episode_length"}
#: Environment options a spec may set: those of ``rlte/TE-v0`` (single-agent learners) and of
#: ``rlte/TE-MA-v0`` (multi-agent ones); each learner's environment takes the ones it knows.
TE_ENV_KEYS = (
    "k",
    "path_metric",
    "window",
    "observe",
    "reward",
    "episode_length",
    "action_type",
    "logit_scale",
)
TE_MA_ENV_KEYS = (
    "k",
    "path_metric",
    "window",
    "reward",
    "reward_sharing",
    "neighbours",
    "episode_length",
    "logit_scale",
)
ENV_KEYS = set(TE_ENV_KEYS) | set(TE_MA_ENV_KEYS)


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
        """A short folder name, unique within the spec."""
        digest = hashlib.blake2b(
            json.dumps([self.key, sorted(self.method.params)], default=str).encode(), digest_size=5
        ).hexdigest()
        safe = f"{self.method.display}-{self.topology}-{self.load}-{self.scenario}-s{self.seed}".replace(
            "/", "_"
        )
        return f"{safe}-{digest}"


@dataclass
class Spec:
    """A validated spec."""

    name: str
    description: str
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
        }


def _unknown(where: str, keys, allowed: set[str]) -> None:
    for key in keys:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RlteError(f"{where}: unknown key {key!r}{hint}")


def _list(where: str, value, kind) -> list:
    if value is None:
        raise RlteError(f"{where}: missing")
    values = value if isinstance(value, list) else [value]
    if not values:
        raise RlteError(f"{where}: empty")
    for item in values:
        if kind is not None and not isinstance(item, kind):
            raise RlteError(
                f"{where}: {item!r} is not a {kind.__name__ if isinstance(kind, type) else 'valid value'}"
            )
    return values


def _methods(where: str, entries) -> list[Method]:
    from rlte.experiments.methods import check_method

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
        check_method(name, params, f"{where}[{i}]")
        methods.append(Method(name, tuple(sorted(params.items())), str(entry.get("label", ""))))
    labels = [m.display for m in methods]
    duplicates = {label for label in labels if labels.count(label) > 1}
    if duplicates:
        raise RlteError(f"{where}: method {sorted(duplicates)[0]!r} appears twice (give one a 'label')")
    return methods


def parse_spec(raw: dict, source: str = "spec", *, quick: bool = False, data_dir: str | None = None) -> Spec:
    """Validate a spec mapping (see the module docstring) and fill in defaults.

    Raises:
        RlteError: naming the spec and the first problem found.
    """
    from rlte.envs.scenario import ScenarioConfig

    if not isinstance(raw, dict):
        raise RlteError(f"{source}: a spec is a YAML mapping")
    raw = copy.deepcopy(raw)
    _unknown(source, raw, TOP_KEYS)
    if quick and raw.get("quick"):
        quick_overrides = raw["quick"]
        if not isinstance(quick_overrides, dict):
            raise RlteError(f"{source}: quick must be a mapping of overrides")
        _unknown(f"{source}: quick", quick_overrides, TOP_KEYS - {"quick", "name"})
        for key, value in quick_overrides.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key] = {**raw[key], **value}
            else:
                raw[key] = value
    name = raw.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise RlteError(f"{source}: 'name' must be a non-empty string without '/'")
    methods = _methods(f"{source}: methods", raw.get("methods"))
    topologies = _list(f"{source}: topologies", raw.get("topologies"), str)
    traffic = _list(f"{source}: traffic", raw.get("traffic"), str)
    loads = _list(f"{source}: loads", raw.get("loads", [None]), None)
    for load in loads:
        if load is not None and (
            isinstance(load, bool)
            or not isinstance(load, (int, float))
            or not (load > 0)
            or not math.isfinite(load)
        ):
            raise RlteError(f"{source}: loads: {load!r} must be a number > 0 (or null for unscaled traffic)")
    seeds = _list(f"{source}: seeds", raw.get("seeds", [0]), int)
    scenario_fields = set(ScenarioConfig.__dataclass_fields__) - {
        "topology",
        "traffic",
        "load",
        "traffic_seed",
    }
    common = raw.get("scenario") or {}
    if not isinstance(common, dict):
        raise RlteError(f"{source}: scenario must be a mapping of scenario options")
    _unknown(f"{source}: scenario", common, scenario_fields)
    scenarios: dict[str, dict] = {}
    for i, entry in enumerate(_list(f"{source}: scenarios", raw.get("scenarios", [{"name": "plain"}]), dict)):
        _unknown(f"{source}: scenarios[{i}]", entry, {"name", "options"})
        label = entry.get("name")
        if not isinstance(label, str):
            raise RlteError(f"{source}: scenarios[{i}]: missing 'name'")
        options = entry.get("options") or {}
        _unknown(f"{source}: scenarios[{i}] ({label})", options, scenario_fields)
        scenarios[label] = options
    training = {"timesteps": 10_000, "checkpoint_every": 2_000, **(raw.get("training") or {})}
    _unknown(f"{source}: training", training, TRAINING_KEYS)
    for key in TRAINING_KEYS:
        if not isinstance(training[key], int) or training[key] < 1:
            raise RlteError(f"{source}: training.{key} must be a positive integer")
    evaluation = {"part": "test", "episode_length": None, **(raw.get("evaluation") or {})}
    _unknown(f"{source}: evaluation", evaluation, EVALUATION_KEYS)
    if evaluation["part"] not in ("train", "test"):
        raise RlteError(f"{source}: evaluation.part must be 'train' or 'test'")
    env = dict(raw.get("env") or {})
    _unknown(f"{source}: env", env, ENV_KEYS)
    paper = raw.get("paper")
    if paper is not None:
        if not isinstance(paper, dict):
            raise RlteError(f"{source}: paper must be a mapping with 'source' and 'values'")
        _unknown(f"{source}: paper", paper, {"source", "values", "notes"})
        for j, value in enumerate(paper.get("values") or []):
            _unknown(
                f"{source}: paper.values[{j}]",
                value,
                {"method", "load", "scenario", "metric", "value", "band"},
            )
    spec = Spec(
        name=name, description=str(raw.get("description", "")), methods=methods, topologies=topologies,
        traffic=traffic, loads=loads, scenarios=scenarios, seeds=seeds, scenario=common, training=training,
        evaluation=evaluation, env=env, paper=paper, raw=raw, source=source,
    )  # fmt: skip
    check_data(spec, data_dir)
    return spec


def check_data(spec: Spec, data_dir: str | None) -> None:
    """Every topology and traffic source of the grid resolves, and its data files exist."""
    from rlte.datadir import data_file
    from rlte.net.topology import BUILTINS, DATA_TOPOLOGIES, topohub_ids
    from rlte.net.traffic import DATA_TRAFFIC

    known_topohub = None
    for topology in spec.topologies:
        if topology in DATA_TOPOLOGIES:
            data_file(DATA_TOPOLOGIES[topology], data_dir)
        elif topology in BUILTINS:
            continue
        elif Path(topology).suffix:
            if not Path(topology).exists():
                raise RlteError(f"{spec.source}: topology file {topology!r} does not exist")
        else:
            known_topohub = known_topohub or set(topohub_ids())
            if topology not in known_topohub:
                close = difflib.get_close_matches(
                    topology, sorted(known_topohub | set(BUILTINS) | set(DATA_TOPOLOGIES)), n=1
                )
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise RlteError(f"{spec.source}: unknown topology {topology!r}{hint}")
    for traffic in spec.traffic:
        base = traffic[len("diurnal:") :] if traffic.startswith("diurnal:") else traffic
        if base in DATA_TRAFFIC:
            data_file(DATA_TRAFFIC[base], data_dir)
        elif base.startswith("maroh/"):
            data_file(base if base.endswith(".json") else f"{base}.json", data_dir)


def load_spec(path: str | Path, *, quick: bool = False, data_dir: str | None = None) -> Spec:
    """Read and validate a YAML spec file (``yaml.safe_load``: no code runs from it)."""
    from rlte.fileio import read_yaml

    raw = read_yaml(path, missing="no such spec file")
    return parse_spec(raw, str(path), quick=quick, data_dir=data_dir)
