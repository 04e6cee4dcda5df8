"""The report of a finished run: ``run_dir/report.md`` and its figures in ``run_dir/figures/``.

A run folder (written by the experiment runner) holds ``spec.yaml`` (the resolved spec),
``results.csv`` (one row per cell and metric, fixed columns) and ``cells/<cell_id>/`` with
``result.json``, ``series.csv`` (per evaluated interval) and, for learned methods, ``learning.csv``.

The report has, in order: a header (spec, cells, seeds, training budget, paper source); per
(topology, traffic, scenario) group and load level, a table of every method with each metric's mean
over seeds and the half-width of its 95 % Student-t confidence interval, the gap to ``lp_opt`` and
the paper's values, and under a non-plain scenario (bursts, failures) the loss over time (mean,
spread, 95th percentile, maximum); findings in plain sentences (every disagreement with the paper
beyond 10 %, and whether each learned method beat ECMP, the best classical routing and
``lp_last``); and figures (metric versus load, learning curves, the trust region's KL bound when
logged, metrics over time under non-plain scenarios). Everything is written atomically: to a
temporary file in the target folder, then renamed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from rlte.errors import RlteError
from rlte.fileio import atomic_write_text, read_yaml
from rlte.plotting import pyplot, save_figure

#: Columns of ``results.csv``, in file order.
RESULT_COLUMNS = ("method", "topology", "traffic", "load", "scenario", "seed", "metric", "value", "runtime_s")
#: Load bands of the seed-000 paper and the load level rlte runs for each (the band's centre).
LOAD_BANDS = {"10-30": 0.2, "30-60": 0.45, "60-80": 0.7, "80-95": 0.875, "95-100": 0.975}
#: Metrics in the tables, in column order.
TABLE_METRICS = ("mlu", "mean_util", "mean_delay_ms", "loss_rate")
#: Metrics plotted against the load.
LOAD_FIGURE_METRICS = ("mlu", "mean_delay_ms", "loss_rate")
#: Metrics plotted over time under scenarios other than ``plain`` (loss first, as the paper's Figure 2).
TIME_FIGURE_METRICS = ("loss_rate", "mlu")
#: Method names that are oracles even when a cell's ``result.json`` is missing.
ORACLE_NAMES = frozenset({"lp_opt", "lp_paths_k4"})
#: Relative difference to a paper value above which the report states a disagreement.
PAPER_TOLERANCE = 0.10
#: Stands for "unscaled traffic" (an empty load) in the load column, so that groupby keeps it.
UNSCALED = -1.0
#: Confidence level of every interval in the report.
CONFIDENCE = 0.95

_NAMES = {
    "mlu": "MLU",
    "mean_util": "mean utilisation",
    "phi": "phi",
    "mean_delay_ms": "mean delay",
    "loss_rate": "loss",
    "throughput": "throughput",
    "decision_ms": "decision time",
    "train_s": "training time",
}


class Summary(NamedTuple):
    """A sample's mean and the half-width of its confidence interval (NaN with fewer than 2 values)."""

    mean: float
    half_width: float
    n: int


def summarise(values, confidence: float = CONFIDENCE) -> Summary:
    """Mean and Student-t confidence half-width over seeds: ``t_{(1+c)/2, n-1} * s / sqrt(n)``,
    with ``s`` the sample standard deviation (n - 1 in the denominator). Non-finite values are
    dropped.

    Args:
        values: one value per seed.
        confidence: the interval's confidence level.

    Returns:
        The summary; ``half_width`` is NaN when fewer than two values remain, ``mean`` when none.
    """
    from scipy import stats

    sample = np.asarray(values, dtype=np.float64)
    sample = sample[np.isfinite(sample)]
    n = int(sample.size)
    if n == 0:
        return Summary(math.nan, math.nan, 0)
    mean = float(sample.mean())
    if n == 1:
        return Summary(mean, math.nan, 1)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1) * sample.std(ddof=1) / math.sqrt(n))
    return Summary(mean, half, n)


# ---------------------------------------------------------------------------------- the run folder
@dataclass
class Run:
    """A run folder as read back: the spec, the results and what each cell left on disk."""

    path: Path
    spec: dict
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

    def label_of(self, name: str) -> str | None:
        """The label under which the method called ``name`` was run (None if it was not)."""
        for label, info in self.methods.items():
            if info["name"] == name:
                return label
        return None


def _load_key(value) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNSCALED
    return float(value)


def _read_spec(path: Path) -> dict:
    spec_path = path / "spec.yaml"
    spec = read_yaml(spec_path, missing=f"no such file (is {path} a run folder?)")
    if not isinstance(spec, dict):
        raise RlteError(f"{spec_path}: not a YAML mapping")
    return spec


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
    results["load"] = results["load"].map(_load_key)
    return results


def _read_cells(run: Run) -> dict[str, dict]:
    """Flags per method label from every ``cells/*/result.json``; fills ``run.cell_dirs``."""
    flags: dict[str, dict] = {}
    cells = run.path / "cells"
    if not cells.is_dir():
        return flags
    for result_path in sorted(cells.glob("*/result.json")):
        try:
            result = json.loads(result_path.read_text())
            cell = result["cell"]
            key = (
                str(cell["method"]), str(cell["topology"]), str(cell["traffic"]), _load_key(cell["load"]),
                str(cell["scenario"]), int(cell["seed"]),
            )  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise RlteError(f"{result_path}: not a valid cell result ({type(err).__name__}: {err})") from None
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
        The run, with its methods (label -> name, oracle, learned) in spec order.

    Raises:
        RlteError: naming the path, for a missing folder, a missing or malformed ``results.csv``,
            an unreadable ``spec.yaml`` or a malformed ``result.json``.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise RlteError(f"{path}: no such run folder")
    results = _read_results(path)
    spec = _read_spec(path)
    run = Run(path=path, spec=spec, results=results)
    flags = _read_cells(run)
    names: dict[str, str] = {}
    for entry in spec.get("methods") or []:
        if isinstance(entry, str):
            names[entry] = entry
        elif isinstance(entry, dict) and entry.get("name"):
            names[str(entry.get("label") or entry["name"])] = str(entry["name"])
    labels = [label for label in names if label in set(results["method"])]
    labels += [label for label in dict.fromkeys(results["method"]) if label not in names]
    learned_by_rows = set(results.loc[results["metric"] == "train_s", "method"])
    for label in labels:
        name = names.get(label, label)
        found = flags.get(label)
        if found is None:  # no result.json: fall back on what the name and the rows say
            found = {"oracle": name in ORACLE_NAMES, "learned": label in learned_by_rows}
        run.methods[label] = {"name": name, **found}
    return run


# ---------------------------------------------------------------------------------- formatting
def _unit(metric: str) -> tuple[float, str]:
    """Scale and unit of a metric as reported (architecture: Mbit/s, ms and %)."""
    base = metric.removesuffix("_p95")
    if base in ("mlu", "mean_util", "loss_rate"):
        return 100.0, " %"
    if base in ("mean_delay_ms", "decision_ms"):
        return 1.0, " ms"
    if base == "throughput":
        return 1e-6, " Mbit/s"
    if base == "train_s":
        return 1.0, " s"
    return 1.0, ""


def metric_name(metric: str) -> str:
    """A metric's name in prose: ``mlu`` -> ``MLU``, ``loss_rate_p95`` -> ``loss (p95)``."""
    base = metric.removesuffix("_p95")
    name = _NAMES.get(base, base)
    return f"{name} (p95)" if metric.endswith("_p95") else name


def format_summary(summary: Summary, metric: str, *, seeds: int | None = None) -> str:
    """A table cell: ``mean ± half-width unit``, or ``mean unit (n=1)``; ``(n=k)`` is added when
    fewer values than ``seeds`` were found."""
    if summary.n == 0:
        return "—"
    scale, unit = _unit(metric)
    if summary.n == 1:
        return f"{summary.mean * scale:.2f}{unit} (n=1)"
    text = f"{summary.mean * scale:.2f} ± {summary.half_width * scale:.2f}{unit}"
    return text + (f" (n={summary.n})" if seeds is not None and summary.n < seeds else "")


def format_value(metric: str, value: float) -> str:
    """A single value in prose, e.g. ``MLU 72.0 %`` (one decimal; small values to 3 digits)."""
    scale, unit = _unit(metric)
    scaled = value * scale
    number = f"{scaled:.1f}" if abs(scaled) >= 1 or scaled == 0 else f"{scaled:.3g}"
    return f"{number}{unit}"


def _paper_number(metric: str, value: float) -> str:
    """A published value with the digits it was published with (at least one decimal)."""
    scale, unit = _unit(metric)
    scaled = value * scale
    number = f"{scaled:.1f}" if abs(round(scaled, 1) - scaled) < 1e-9 else f"{scaled:.6g}"
    return f"{number}{unit}"


def _paper_entry(metric: str, value: float) -> str:
    """A published value in the paper column, e.g. ``MLU 89.4 %``."""
    name = metric_name(metric)
    return f"{name[0].upper()}{name[1:]} {_paper_number(metric, value)}"


def band_of(load: float) -> str | None:
    """The paper's band whose load level is ``load`` (``0.7`` -> ``"60-80"``), else None."""
    for band, level in LOAD_BANDS.items():
        if math.isclose(load, level, abs_tol=1e-9):
            return band
    return None


def _load_heading(load: float) -> str:
    if load == UNSCALED:
        return "Unscaled traffic"
    band = band_of(load)
    return f"Load {load:g}" + (f" ({band} % band)" if band else "")


def _load_phrase(load: float, band: str | None = None) -> str:
    band = band or (band_of(load) if load != UNSCALED else None)
    if band:
        return f"at {band} % load"
    return "on unscaled traffic" if load == UNSCALED else f"at load {load:g}"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _slug(*parts) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9._]+", "_", str(part)).strip("_") or "x" for part in parts)


def _load_slug(load: float) -> str:
    return "unscaled" if load == UNSCALED else f"load{load:g}"


# ---------------------------------------------------------------------------------- analysis
class Group(NamedTuple):
    """A (topology, traffic, scenario) group of the grid."""

    topology: str
    traffic: str
    scenario: str

    @property
    def title(self) -> str:
        return f"{self.topology} · {self.traffic} · {self.scenario}"


def _ordered(values, preferred) -> list:
    preferred = [p for p in (preferred or []) if p in set(values)]
    return preferred + sorted(set(values) - set(preferred))


def _groups(run: Run) -> list[Group]:
    spec = run.spec
    results = run.results
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


def _group_rows(run: Run, group: Group) -> pd.DataFrame:
    results = run.results
    mask = (
        (results["topology"] == group.topology)
        & (results["traffic"] == group.traffic)
        & (results["scenario"] == group.scenario)
    )
    return results[mask]


def _per_seed(rows: pd.DataFrame, method: str, metric: str) -> pd.Series:
    """One value per seed (the mean if a cell wrote a metric twice), indexed by seed."""
    chosen = rows[(rows["method"] == method) & (rows["metric"] == metric)]
    return chosen.groupby("seed")["value"].mean()


def _mlu_ratio_minus_one(rows: pd.DataFrame, method: str, reference: str) -> np.ndarray:
    """Per seed shared by both methods: ``mlu_method / mlu_reference - 1``."""
    own = _per_seed(rows, method, "mlu")
    ref = _per_seed(rows, reference, "mlu")
    seeds = own.index.intersection(ref.index)
    ref_values = ref[seeds].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = own[seeds].to_numpy() / ref_values - 1.0
    return gaps[np.isfinite(gaps)]


def _paper_values(run: Run) -> list[dict]:
    paper = run.spec.get("paper")
    if not isinstance(paper, dict):
        return []
    return [v for v in paper.get("values") or [] if isinstance(v, dict) and "metric" in v and "value" in v]


def _paper_matches(value: dict, run: Run, method: str, load: float, scenario: str) -> bool:
    if str(value.get("method")) not in (method, run.methods[method]["name"]):
        return False
    if value.get("scenario") is not None and str(value["scenario"]) != scenario:
        return False
    if value.get("band") is not None:
        level = LOAD_BANDS.get(str(value["band"]))
        return level is not None and load != UNSCALED and math.isclose(load, level, abs_tol=1e-9)
    if value.get("load") is None:
        return load == UNSCALED
    try:
        return load != UNSCALED and math.isclose(float(value["load"]), load, abs_tol=1e-9)
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------- figures
def _figure_load(run: Run, group: Group, rows: pd.DataFrame, methods: list[str], folder: Path) -> Path | None:
    loads = sorted(load for load in rows["load"].unique() if load != UNSCALED)
    if len(loads) < 2:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(LOAD_FIGURE_METRICS), figsize=(5 * len(LOAD_FIGURE_METRICS), 4))
    for ax, metric in zip(axes, LOAD_FIGURE_METRICS):
        scale, unit = _unit(metric)
        for method in methods:
            points = []
            for load in loads:
                summary = summarise(_per_seed(rows[rows["load"] == load], method, metric))
                if summary.n:
                    points.append((load, summary.mean * scale, np.nan_to_num(summary.half_width) * scale))
            if points:
                x, y, err = np.array(points).T
                ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=_legend(run, method))
        ax.set_xlabel("load level")
        ax.set_ylabel(f"{metric_name(metric)} ({unit.strip()})")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{group.title}: mean over seeds, bars: {_percent(CONFIDENCE)} confidence interval")
    return save_figure(fig, folder / f"load-{_slug(*group)}.png")


def _legend(run: Run, method: str) -> str:
    info = run.methods[method]
    return method + (" (oracle)" if info["oracle"] else " (learned)" if info["learned"] else "")


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame | None:
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
    return frame


def _mean_curve(
    curves: list[pd.DataFrame], column: str = "episode_reward_mean"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and confidence half-width of ``column`` over seeds on the timesteps every seed covers."""
    start = max(float(c["timesteps"].min()) for c in curves)
    stop = min(float(c["timesteps"].max()) for c in curves)
    grid = np.unique(np.concatenate([c["timesteps"].to_numpy(dtype=float) for c in curves]))
    grid = grid[(grid >= start) & (grid <= stop)]
    values = np.stack([
        np.interp(grid, c["timesteps"].to_numpy(dtype=float), c[column].to_numpy(dtype=float))
        for c in curves
    ])  # fmt: skip
    summaries = [summarise(values[:, i]) for i in range(grid.size)]
    mean = np.array([s.mean for s in summaries])
    half = np.array([s.half_width for s in summaries])
    return grid, mean, half


#: Learning-log columns drawn over training: (column, y label, file stem, title). A method whose log
#: lacks a column (only TRPO logs its KL bound ``delta``) is left out of that figure.
CURVES = (
    ("episode_reward_mean", "mean episode reward", "learning", "learning curves"),
    ("delta", "KL bound delta", "trust-region", "the trust region's KL bound during training"),
)


def _cell_frames(run: Run, group: Group, rows: pd.DataFrame, method: str, load: float, name: str, columns):
    """``(seed, frame)`` for each seed (ascending) of ``method`` at ``load`` in ``rows`` whose cell
    left a non-empty ``name`` CSV with ``columns``."""
    at_load = rows[(rows["method"] == method) & (rows["load"] == load)]
    for seed in sorted(at_load["seed"].unique()):
        cell_dir = run.cell_dirs.get((method, *group[:2], load, group.scenario, int(seed)))
        frame = None if cell_dir is None else _read_csv(cell_dir / name, columns)
        if frame is not None and len(frame):
            yield int(seed), frame


def _figure_learning(
    run: Run, group: Group, rows: pd.DataFrame, methods: list[str], folder: Path,
    column: str = "episode_reward_mean", ylabel: str = "mean episode reward", stem: str = "learning",
    title: str = "learning curves",
) -> Path | None:  # fmt: skip
    learned = [m for m in methods if run.methods[m]["learned"]]
    loads = sorted(rows["load"].unique())
    panels: list[tuple[float, list[tuple[str, list[pd.DataFrame]]]]] = []
    for load in loads:
        lines = []
        for method in learned:
            curves = []
            columns = ("timesteps", "episode_reward_mean")
            for _, curve in _cell_frames(run, group, rows, method, load, "learning.csv", columns):
                if column in curve.columns and len(curve.dropna(subset=[column])):
                    curves.append(curve.dropna(subset=[column]).sort_values("timesteps"))
            if curves:
                lines.append((method, curves))
        if lines:
            panels.append((load, lines))
    if not panels:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(max(6.5, 5 * len(panels)), 4.3), squeeze=False)
    fig.subplots_adjust(top=0.8)
    for ax, (load, lines) in zip(axes[0], panels):
        for method, curves in lines:
            grid, mean, half = _mean_curve(curves, column)
            (line,) = ax.plot(grid, mean, label=f"{method} ({len(curves)} seeds)")
            if len(curves) > 1:
                ax.fill_between(grid, mean - half, mean + half, color=line.get_color(), alpha=0.2)
        ax.set_title(_load_heading(load))
        ax.set_xlabel("timesteps")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{group.title}: {title}\nmean over seeds, band: {_percent(CONFIDENCE)} confidence interval")
    return save_figure(fig, folder / f"{stem}-{_slug(*group)}.png")


def _figure_time(
    run: Run, group: Group, rows: pd.DataFrame, methods: list[str], load: float, folder: Path
) -> Path | None:
    series = []
    for method in methods:
        columns = ("interval", *TIME_FIGURE_METRICS)
        for seed, frame in _cell_frames(run, group, rows, method, load, "series.csv", columns):
            series.append((method, seed, frame.sort_values("interval")))
            break  # the lowest seed that left a series
    if not series:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(
        len(TIME_FIGURE_METRICS), 1, figsize=(10, 3 * len(TIME_FIGURE_METRICS)), sharex=True
    )
    for ax, metric in zip(axes, TIME_FIGURE_METRICS):
        scale, unit = _unit(metric)
        for method, seed, frame in series:
            ax.plot(
                frame["interval"], frame[metric] * scale, lw=1, label=f"{_legend(run, method)}, seed {seed}"
            )
        ax.set_ylabel(f"{metric_name(metric)} ({unit.strip()})")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("evaluated interval")
    fig.suptitle(f"{group.title}, {_load_heading(load).lower()}: per interval")
    return save_figure(fig, folder / f"time-{_slug(*group, _load_slug(load))}.png")


# ---------------------------------------------------------------------------------- the report
def _header(run: Run) -> list[str]:
    spec, results = run.spec, run.results
    cells = results[["method", "topology", "traffic", "load", "scenario", "seed"]].drop_duplicates()
    seeds = sorted(results["seed"].unique())
    grid = 1
    for key in ("methods", "topologies", "traffic", "loads", "scenarios", "seeds"):
        grid = grid * len(spec[key]) if isinstance(spec.get(key), list) else 0
    lines = [f"# rlte report: {spec.get('name', run.path.name)}", ""]
    if spec.get("description"):
        lines += [str(spec["description"]).strip(), ""]
    cell_text = f"{len(cells)}" + (
        f" of the grid's {grid} (the others have no results)" if grid > len(cells) else ""
    )
    lines += [
        f"- Run: `{run.path}`",
        f"- Cells: {cell_text}",
        f"- Seeds: {', '.join(str(s) for s in seeds)} ({len(seeds)})",
    ]
    timesteps = (spec.get("training") or {}).get("timesteps")
    if timesteps and any(info["learned"] for info in run.methods.values()):
        lines.append(f"- Training: {int(timesteps):,} environment steps per learned cell")
    paper = spec.get("paper")
    if isinstance(paper, dict) and paper.get("source"):
        notes = f" ({str(paper['notes']).strip()})" if paper.get("notes") else ""
        lines.append(f"- Paper: {paper['source']}{notes}")
    lines += [
        "",
        f"Each entry is the mean over seeds ± the half-width of its {_percent(CONFIDENCE)} confidence interval "
        "(Student t, n − 1 degrees of freedom); utilisations and loss in %, delay in ms. "
        "Gap to lp_opt: the mean over seeds of MLU / MLU(lp_opt) − 1, paired by seed. "
        "Learned methods are marked (learned); oracles, which see the interval they route, (oracle).",
        "",
    ]
    return lines


def _table(
    run: Run, group: Group, rows: pd.DataFrame, load: float, methods: list[str], seeds: int
) -> list[str]:
    at_load = rows[rows["load"] == load]
    lp_label = run.label_of("lp_opt")
    has_lp = lp_label is not None and (at_load["method"] == lp_label).any()
    paper = {
        method: [v for v in _paper_values(run) if _paper_matches(v, run, method, load, group.scenario)]
        for method in methods
    }
    show_paper = any(paper.values())
    header = ["method", *(metric_name(m) for m in TABLE_METRICS), "gap to lp_opt"] + (
        ["paper"] if show_paper else []
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for method in methods:
        if not (at_load["method"] == method).any():
            continue
        row = [_cell(_legend(run, method))]
        for metric in TABLE_METRICS:
            row.append(format_summary(summarise(_per_seed(at_load, method, metric)), metric, seeds=seeds))
        if has_lp:
            gaps = summarise(_mlu_ratio_minus_one(at_load, method, lp_label))
            row.append(format_summary(gaps, "mlu", seeds=seeds))
        else:
            row.append("—")
        if show_paper:
            published = [_paper_entry(str(v["metric"]), float(v["value"])) for v in paper[method]]
            row.append(_cell("; ".join(published) or "—"))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _over_time_table(
    run: Run, group: Group, rows: pd.DataFrame, load: float, methods: list[str]
) -> list[str]:
    """Loss over the evaluated intervals: per seed its mean, standard deviation over intervals, 95th
    percentile and maximum, and the share of intervals that lose anything; each averaged over the
    seeds that left a series. Empty when no cell left one."""
    lines = []
    for method in methods:
        stats_per_seed = []
        for _, frame in _cell_frames(run, group, rows, method, load, "series.csv", ("interval", "loss_rate")):
            loss = frame["loss_rate"].to_numpy(dtype=float)
            stats_per_seed.append(
                (loss.mean(), loss.std(), np.quantile(loss, 0.95), loss.max(), float(np.mean(loss > 0)))
            )
        if stats_per_seed:
            mean, std, p95, peak, share = np.mean(stats_per_seed, axis=0)
            cells = [f"{100 * v:.2f} %" for v in (mean, std, p95, peak)]
            lines.append(
                f"| {_cell(_legend(run, method))} | " + " | ".join(cells) + f" | {100 * share:.1f} % |"
            )
    if not lines:
        return []
    return [
        f"Loss over time, {_load_heading(load).lower()}: statistics over the evaluated intervals, per "
        f"seed, then averaged over seeds.",
        "",
        "| method | mean | std over time | 95th percentile | maximum | intervals with loss |",
        "|---|---:|---:|---:|---:|---:|",
        *lines,
    ]


def _paper_findings(run: Run, groups: list[Group]) -> list[str]:
    """One sentence per paper value: a disagreement beyond the tolerance, an agreement, or no cell."""
    several = len(groups) > 1
    disagree, agree, unmatched = [], [], []
    for value in _paper_values(run):
        metric, published = str(value["metric"]), float(value["value"])
        matched = False
        for group in groups:
            rows = _group_rows(run, group)
            for method in run.method_order():
                for load in sorted(rows.loc[rows["method"] == method, "load"].unique()):
                    if not _paper_matches(value, run, method, load, group.scenario):
                        continue
                    measured = summarise(_per_seed(rows[rows["load"] == load], method, metric))
                    if measured.n == 0:
                        continue
                    matched = True
                    where = f" ({group.title})" if several else ""
                    phrase = _load_phrase(load, value.get("band"))
                    name = "MLU" if metric == "mlu" else metric_name(metric)
                    relative = abs(measured.mean - published) / abs(published) if published else (
                        math.inf if measured.mean else 0.0)  # fmt: skip
                    if relative > PAPER_TOLERANCE:
                        disagree.append(
                            f"- rlte measures {name} {format_value(metric, measured.mean)} for {method} {phrase}"
                            f"{where}; the paper reports {_paper_number(metric, published)}."
                        )
                    else:
                        agree.append(
                            f"- rlte agrees with the paper within {_percent(PAPER_TOLERANCE)} on {name} for {method} "
                            f"{phrase}{where}: {format_value(metric, measured.mean)} against "
                            f"{_paper_number(metric, published)}."
                        )
        if not matched:
            band = value.get("band")
            load = value.get("load")
            phrase = (
                f"at {band} % load"
                if band
                else (f"at load {load}" if load is not None else "on unscaled traffic")
            )
            scenario = f" under {value['scenario']}" if value.get("scenario") else ""
            unmatched.append(
                f"- The paper's {metric_name(metric)} {_paper_number(metric, published)} for {value.get('method')} "
                f"{phrase}{scenario} has no rlte result to compare with."
            )
    return disagree + agree + unmatched


def _best_classical(run: Run, rows: pd.DataFrame) -> str | None:
    """The classical routing (neither learned, nor an oracle, nor an LP) with the lowest mean MLU
    in ``rows``, or None when there is none."""
    means = {
        label: float(np.mean(_per_seed(rows, label, "mlu")))
        for label, info in run.methods.items()
        if not (info["learned"] or info["oracle"] or info["name"].startswith("lp_"))
        and (rows["method"] == label).any()
    }
    return min(means, key=means.get) if means else None


def _learned_findings(run: Run, groups: list[Group]) -> list[str]:
    """For every learned method, group and load: did it beat ECMP, the best classical routing when
    that is not ECMP (shortest path on the operator's IGP weights, say) and ``lp_last`` (the LP
    optimum of the previous interval, the simplest predictive optimiser) on mean MLU, and its gap
    to lp_opt."""
    ecmp, lp, last = run.label_of("ecmp"), run.label_of("lp_opt"), run.label_of("lp_last")
    several = len(groups) > 1
    lines = []
    for method in (m for m in run.method_order() if run.methods[m]["learned"]):
        for group in groups:
            rows = _group_rows(run, group)
            for load in sorted(rows.loc[rows["method"] == method, "load"].unique()):
                at_load = rows[rows["load"] == load]
                own = summarise(_per_seed(at_load, method, "mlu"))
                if own.n == 0:
                    continue
                where = f" ({group.title})" if several else ""
                parts = []
                if ecmp is not None and (at_load["method"] == ecmp).any():
                    other = summarise(_per_seed(at_load, ecmp, "mlu"))
                    beats = own.mean < other.mean
                    verdict = "beats" if beats else "does not beat"
                    text = (f"{method} {verdict} ECMP on mean MLU {_load_phrase(load)}{where}: "
                            f"{format_value('mlu', own.mean)} against {format_value('mlu', other.mean)}")  # fmt: skip
                    paired = summarise(np.asarray(
                        _per_seed(at_load, method, "mlu") - _per_seed(at_load, ecmp, "mlu"), dtype=float))  # fmt: skip
                    if paired.n >= 2 and abs(paired.mean) <= paired.half_width:
                        text += f" (the paired difference is within its {_percent(CONFIDENCE)} confidence interval)"
                    parts.append(text)
                best = _best_classical(run, at_load)
                rivals = [(best, f"the best classical routing, {best}")] if best not in (None, ecmp) else []
                if last is not None and (at_load["method"] == last).any():
                    rivals.append((last, "lp_last"))
                for rival, phrase in rivals:
                    other = summarise(_per_seed(at_load, rival, "mlu"))
                    verdict = "beats" if own.mean < other.mean else "does not beat"
                    text = f"{verdict} {phrase} ({format_value('mlu', other.mean)})"
                    parts.append(text if parts else f"{method} {text} {_load_phrase(load)}{where}")
                if lp is not None and (at_load["method"] == lp).any():
                    gap = summarise(_mlu_ratio_minus_one(at_load, method, lp))
                    if gap.n:
                        text = f"its gap to lp_opt is {format_value('mlu', gap.mean)}"
                        if ecmp is not None and (at_load["method"] == ecmp).any():
                            ecmp_gap = summarise(_mlu_ratio_minus_one(at_load, ecmp, lp))
                            if ecmp_gap.n:
                                text += f" (ECMP's: {format_value('mlu', ecmp_gap.mean)})"
                        if not parts:
                            text = f"{method} {_load_phrase(load)}{where}: " + text
                        parts.append(text)
                if parts:
                    lines.append("- " + "; ".join(parts) + ".")
    return lines


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.md`` and its PNG figures in ``run_dir/figures/``.

    Every file is written atomically (a temporary file in the same folder, then ``os.replace``).

    Args:
        run_dir: a run folder with ``spec.yaml``, ``results.csv`` and ``cells/``.

    Returns:
        The path of ``report.md``.

    Raises:
        RlteError: one line naming the path, for a missing or malformed run (no ``results.csv``,
            a missing column, an unreadable ``spec.yaml`` or a malformed cell file).
    """
    run = read_run(run_dir)
    groups = _groups(run)
    methods = run.method_order()
    seeds = int(run.results["seed"].nunique())
    figures = run.path / "figures"
    figures.mkdir(exist_ok=True)

    lines = _header(run)
    figure_lines: list[str] = []
    lines += ["## Results", ""]
    for group in groups:
        rows = _group_rows(run, group)
        present = [m for m in methods if (rows["method"] == m).any()]
        lines += [f"### {group.title}", ""]
        for load in sorted(rows["load"].unique()):
            lines += [f"#### {_load_heading(load)}", ""]
            lines += _table(run, group, rows, load, present, seeds) + [""]
            if group.scenario != "plain":
                over_time = _over_time_table(run, group, rows, load, present)
                lines += over_time + ([""] if over_time else [])
        made = []
        path = _figure_load(run, group, rows, present, figures)
        if path is not None:
            made.append((f"MLU, mean delay and loss versus load, {group.title}", path))
        for column, ylabel, stem, title in CURVES:
            path = _figure_learning(run, group, rows, present, figures, column, ylabel, stem, title)
            if path is not None:
                made.append((f"{title[0].upper()}{title[1:]}, {group.title}", path))
        if group.scenario != "plain":
            for load in sorted(rows["load"].unique()):
                path = _figure_time(run, group, rows, present, load, figures)
                if path is not None:
                    made.append(
                        (f"Loss and MLU over time, {group.title}, {_load_heading(load).lower()}", path)
                    )
        if made:
            figure_lines += [f"### {group.title}", ""]
            figure_lines += [f"![{caption}](figures/{path.name})\n" for caption, path in made]

    paper_lines, learned_lines = _paper_findings(run, groups), _learned_findings(run, groups)
    if paper_lines or learned_lines:
        lines += ["## Findings", ""]
        if paper_lines:
            lines += ["### Against the paper", "", *paper_lines, ""]
        if learned_lines:
            lines += [
                "### Learned methods against the classical routings, lp_last and lp_opt",
                "",
                *learned_lines,
                "",
            ]
    if figure_lines:
        lines += ["## Figures", "", *figure_lines]

    report = run.path / "report.md"
    atomic_write_text(report, "\n".join(lines).rstrip() + "\n")
    return report
