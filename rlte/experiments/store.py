"""The run store as read back: a run folder's spec, results and cell files.

A run folder (written by `rlte.experiments.runner`) holds ``spec.yaml`` (the resolved spec, with
its ``domain``), ``results.csv`` (one row per cell and metric, the columns `RESULT_COLUMNS`) and
``cells/<cell_id>/`` with ``result.json``, ``series.csv`` (per evaluated step) and, for learned
methods, ``learning.csv``. Nothing here writes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from rlte.domains import TRAINING_TIME, Domain, get_domain, get_method
from rlte.errors import RlteError
from rlte.experiments.spec import DEFAULT_DOMAIN
from rlte.fileio import read_yaml

#: Columns of ``results.csv``, in file order (the one definition; the runner writes them).
RESULT_COLUMNS = ("method", "topology", "traffic", "load", "scenario", "seed", "metric", "value", "runtime_s")
#: Stands for "unscaled traffic" (an empty load) in the load column, so that groupby keeps it.
UNSCALED = -1.0


def load_key(value) -> float:
    """A load as the results store it: a float, `UNSCALED` for an empty or missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNSCALED
    return float(value)


def load_value(load: float) -> float | None:
    """The load a domain is told about: None for `UNSCALED`."""
    return None if load == UNSCALED else load


class Group(NamedTuple):
    """A (topology, traffic, scenario) group of the grid."""

    topology: str
    traffic: str
    scenario: str

    @property
    def title(self) -> str:
        return f"{self.topology} · {self.traffic} · {self.scenario}"


class SweepSeries(NamedTuple):
    """One line of a sweep (`Run.sweep_series`): a method under one setting of the other options."""

    method: str
    label: str
    #: (the swept option's value, the scenario measuring it), in spec order
    points: list[tuple[object, str]]


@dataclass
class Run:
    """A run folder as read back: the spec, its domain, the results and what each cell left on disk."""

    path: Path
    spec: dict
    domain: Domain
    results: pd.DataFrame
    #: method label -> {"name", "oracle", "learned"}
    methods: dict[str, dict] = field(default_factory=dict)
    #: (method, topology, traffic, load, scenario, seed) -> the cell's folder
    cell_dirs: dict[tuple, Path] = field(default_factory=dict)

    def method_order(self) -> list[str]:
        """Classical baselines first, then learned methods, oracles last; spec order within each."""
        labels = list(self.methods)
        rank = {
            label: 2 if info["oracle"] else 1 if info["learned"] else 0
            for label, info in self.methods.items()
        }
        return sorted(labels, key=lambda label: (rank[label], labels.index(label)))

    def label_of(self, name: str | None) -> str | None:
        """The label under which the method called ``name`` was run (None if it was not)."""
        for label, info in self.methods.items():
            if name is not None and info["name"] == name:
                return label
        return None

    def groups(self) -> list[Group]:
        """The (topology, traffic, scenario) groups that have results, in spec order."""
        spec, results = self.spec, self.results
        scenario_names = [s.get("name") for s in spec.get("scenarios") or [] if isinstance(s, dict)]
        topologies = _ordered(results["topology"].unique(), spec.get("topologies"))
        traffics = _ordered(results["traffic"].unique(), spec.get("traffic"))
        scenarios = _ordered(results["scenario"].unique(), scenario_names)
        present = set(zip(results["topology"], results["traffic"], results["scenario"]))
        return [
            Group(topology, traffic, scenario)
            for topology in topologies
            for traffic in traffics
            for scenario in scenarios
            if (topology, traffic, scenario) in present
        ]

    def group_rows(self, group: Group) -> pd.DataFrame:
        """The result rows of one group."""
        results = self.results
        mask = (
            (results["topology"] == group.topology)
            & (results["traffic"] == group.traffic)
            & (results["scenario"] == group.scenario)
        )
        return results[mask]

    def sweep_series(self) -> list[SweepSeries]:
        """The spec's ``sweep`` as lines: for each method, one line per combination of the other
        scenario options that differ between scenarios (options of training only, the domain's
        ``training_options``, are left out of a method that does not learn: its cells under them
        are the same runs again). Each line's points are ``(x, scenario)`` in spec order, one per
        x. Empty without a sweep or with fewer than two of its values."""
        sweep = self.spec.get("sweep")
        entries = [s for s in self.spec.get("scenarios") or [] if isinstance(s, dict)]
        common = self.spec.get("scenario") or {}
        merged = {str(s.get("name")): {**common, **(s.get("options") or {})} for s in entries}
        if not isinstance(sweep, str) or not merged or any(sweep not in o for o in merged.values()):
            return []
        if len({json.dumps(o[sweep], sort_keys=True, default=str) for o in merged.values()}) < 2:
            return []
        keys = sorted({key for options in merged.values() for key in options} - {sweep})
        varying = [
            key for key in keys
            if len({json.dumps(o.get(key), sort_keys=True, default=str) for o in merged.values()}) > 1
        ]  # fmt: skip
        present = set(zip(self.results["method"], self.results["scenario"]))
        series: list[SweepSeries] = []
        for method in self.method_order():
            ignored = set() if self.methods[method]["learned"] else set(self.domain.training_options)
            lines: dict[tuple, list[tuple[object, str]]] = {}
            for name, options in merged.items():
                if (method, name) not in present:
                    continue
                key = tuple(
                    (k, options.get(k)) for k in varying if k not in ignored and options.get(k) is not None
                )
                points = lines.setdefault(key, [])
                if all(x != options[sweep] for x, _ in points):
                    points.append((options[sweep], name))
            for key, points in lines.items():
                label = method + "".join(f", {k} {v}" for k, v in key)
                series.append(SweepSeries(method, label, points))
        return series

    def cell_frames(self, group: Group, rows: pd.DataFrame, method: str, load: float, name: str, columns):
        """``(seed, frame)`` for each seed (ascending) of ``method`` at ``load`` in ``rows`` whose cell
        left a non-empty ``name`` CSV with ``columns``.

        Raises:
            RlteError: naming the file, for a CSV that does not parse or lacks a column.
        """
        at_load = rows[(rows["method"] == method) & (rows["load"] == load)]
        for seed in sorted(at_load["seed"].unique()):
            cell_dir = self.cell_dirs.get(
                (method, group.topology, group.traffic, load, group.scenario, int(seed))
            )
            frame = None if cell_dir is None else read_cell_csv(cell_dir / name, columns)
            if frame is not None and len(frame):
                yield int(seed), frame


def per_seed(rows: pd.DataFrame, method: str, metric: str) -> pd.Series:
    """One value per seed (the mean if a cell wrote a metric twice), indexed by seed."""
    chosen = rows[(rows["method"] == method) & (rows["metric"] == metric)]
    return chosen.groupby("seed")["value"].mean()


def read_cell_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame | None:
    """A cell's CSV (``series.csv``, ``learning.csv``), or None when the cell left none.

    Raises:
        RlteError: naming the file, for a CSV that does not parse or lacks one of ``columns``.
    """
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        return None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise RlteError(
            f"{path}: not a valid CSV ({str(err).splitlines()[0] if str(err) else type(err).__name__})"
        ) from None
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise RlteError(f"{path}: missing column(s) {', '.join(missing)}")
    for column in columns:  # numbers, or empty (NaN); a word would fail far from here, in numpy
        numbers = pd.to_numeric(frame[column], errors="coerce")
        bad = numbers.isna() & frame[column].notna()
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise RlteError(f"{path}:{line}: {column} {frame[column][bad].iloc[0]!r} is not a number")
        frame[column] = numbers
    return frame


def _ordered(values, preferred) -> list:
    preferred = [p for p in (preferred or []) if p in set(values)]
    return preferred + sorted(set(values) - set(preferred))


#: The sections of a run's spec.yaml that the report reads, by the kind of value each must be
#: when present (a list of the grid's values, a mapping of options).
_SPEC_LISTS = ("methods", "topologies", "traffic", "loads", "scenarios", "seeds")
_SPEC_MAPPINGS = ("scenario", "training", "evaluation", "env", "paper")


def _read_spec(path: Path) -> dict:
    spec_path = path / "spec.yaml"
    spec = read_yaml(spec_path, missing=f"no such file (is {path} a run folder?)")
    if not isinstance(spec, dict):
        raise RlteError(f"{spec_path}: not a YAML mapping")
    for key in _SPEC_LISTS:
        if spec.get(key) is not None and not isinstance(spec[key], list):
            raise RlteError(f"{spec_path}: {key} must be a list, not {spec[key]!r}")
    for key in _SPEC_MAPPINGS:
        if spec.get(key) is not None and not isinstance(spec[key], dict):
            raise RlteError(f"{spec_path}: {key} must be a mapping, not {spec[key]!r}")
    if spec.get("sweep") is not None and not isinstance(spec["sweep"], str):
        raise RlteError(f"{spec_path}: sweep must be a scenario option's name, not {spec['sweep']!r}")
    paper = spec.get("paper") or {}
    if paper.get("values") is not None and not (
        isinstance(paper["values"], list) and all(isinstance(value, dict) for value in paper["values"])
    ):
        raise RlteError(f"{spec_path}: paper.values must be a list of mappings")
    for j, value in enumerate(paper.get("values") or []):
        number = value.get("value")
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise RlteError(f"{spec_path}: paper.values[{j}]: value {number!r} must be a number")
    return spec


def _read_domain(path: Path, spec: dict) -> Domain:
    name = spec.get("domain", DEFAULT_DOMAIN)  # runs written before domains existed are flow TE
    if not isinstance(name, str):
        raise RlteError(f"{path / 'spec.yaml'}: domain must be a name")
    return get_domain(name, f"{path / 'spec.yaml'}: domain")


def _read_results(path: Path) -> pd.DataFrame:
    results_path = path / "results.csv"
    if not results_path.is_file():
        raise RlteError(f"{results_path}: no such file (is {path} a run folder?)")
    text_columns = {"method": str, "topology": str, "traffic": str, "scenario": str, "metric": str}
    try:
        results = pd.read_csv(results_path, dtype=text_columns)
    except pd.errors.EmptyDataError:
        raise RlteError(f"{results_path}: empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise RlteError(f"{results_path}: not a valid CSV ({str(err).splitlines()[0]})") from None
    missing = [column for column in RESULT_COLUMNS if column not in results.columns]
    if missing:
        raise RlteError(f"{results_path}: missing column(s) {', '.join(missing)}")
    for column in ("load", "seed", "value"):
        numbers = pd.to_numeric(results[column], errors="coerce")
        bad = numbers.isna() & results[column].notna()
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise RlteError(
                f"{results_path}:{line}: {column} {results[column][bad].iloc[0]!r} is not a number"
            )
        results[column] = numbers
    if results["seed"].isna().any():
        line = int(np.flatnonzero(results["seed"].isna().to_numpy())[0]) + 2
        raise RlteError(f"{results_path}:{line}: empty seed")
    for column in text_columns:
        results[column] = results[column].fillna("")
    results["seed"] = results["seed"].astype(int)
    results["load"] = results["load"].map(load_key)
    return results


def _read_cells(run: Run) -> dict[str, dict]:
    """Flags per method label from every ``cells/*/result.json``; fills ``run.cell_dirs``."""
    flags: dict[str, dict] = {}
    cells = run.path / "cells"
    if not cells.is_dir():
        return flags
    for result_path in sorted(cells.glob("*/result.json")):
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise RlteError(f"{result_path}: not a valid cell result ({type(err).__name__}: {err})") from None
        cell = result.get("cell") if isinstance(result, dict) else None
        if not isinstance(cell, dict):
            raise RlteError(f"{result_path}: not a valid cell result (no 'cell' mapping)")
        fields = []
        for name, convert in (("method", str), ("topology", str), ("traffic", str), ("load", load_key),
                              ("scenario", str), ("seed", int)):  # fmt: skip
            if name not in cell:
                raise RlteError(f"{result_path}: not a valid cell result (its cell has no {name!r})")
            try:
                fields.append(convert(cell[name]))
            except (TypeError, ValueError, OverflowError):
                raise RlteError(
                    f"{result_path}: not a valid cell result (cell {name} {cell[name]!r} is not a number)"
                ) from None
        key = tuple(fields)
        run.cell_dirs[key] = result_path.parent
        entry = flags.setdefault(key[0], {"oracle": False, "learned": False})
        entry["oracle"] |= bool(result.get("oracle", False))
        entry["learned"] |= bool(result.get("learned", False))
    return flags


def read_run(run_dir: str | Path) -> Run:
    """Read a run folder back.

    Args:
        run_dir: the run folder.

    Returns:
        The run, with its domain (the spec's ``domain``, flow TE when it has none) and its methods
        (label -> name, oracle, learned) in spec order.

    Raises:
        RlteError: naming the path, for a missing folder, a missing or malformed ``results.csv``,
            an unreadable ``spec.yaml``, an unknown domain or a malformed ``result.json``.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise RlteError(f"{path}: no such run folder")
    results = _read_results(path)
    spec = _read_spec(path)
    run = Run(path=path, spec=spec, domain=_read_domain(path, spec), results=results)
    flags = _read_cells(run)
    names: dict[str, str] = {}
    for entry in spec.get("methods") or []:
        if isinstance(entry, str):
            names[entry] = entry
        elif isinstance(entry, dict) and entry.get("name"):
            names[str(entry.get("label") or entry["name"])] = str(entry["name"])
    labels = [label for label in names if label in set(results["method"])]
    labels += [label for label in dict.fromkeys(results["method"]) if label not in names]
    learned_by_rows = set(results.loc[results["metric"] == TRAINING_TIME.name, "method"])
    for label in labels:
        name = names.get(label, label)
        found = flags.get(label)
        if found is None:  # no result.json: fall back on what the registry and the rows say
            learned = label in learned_by_rows or get_method(name) is not None
            found = {"oracle": not learned and run.domain.is_oracle(name), "learned": learned}
        run.methods[label] = {"name": name, **found}
    return run
