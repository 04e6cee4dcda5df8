"""One leaderboard of every method across runs of the store (`rlte leaderboard`): a table per
domain, a row per (run, setting, method), read back from each run's ``results.csv`` alone.

A setting is a (topology, traffic, scenario, load) of a run's grid. Each row gives the domain's
primary metric (its mean over seeds and the half-width of its 95 % Student-t interval), the gap
to the domain's reference (`rlte.domains.Domain.reference`: the mean over the seeds both share of
``value / reference - 1``, with its interval; a higher-is-better metric's gap is
``1 - value / reference``, so a positive gap is always worse than the reference), the mean
decision time per step, the training budget of a learned method (the spec's timesteps; "online"
for a method that learns as it acts, with no separate training) and its mean training time, and the method's kind (classical, learned or oracle: an oracle sees what it
routes and is a bound, not a rival). Nothing is recomputed from the cells: the numbers are the
runs' own.

By default every run folder under a store's root (``runs/<spec>/<run-id>/`` with a
``results.csv``) counts, the newest of each spec only (by its ``run.json``'s creation time);
``every_run`` keeps them all. Written as Markdown and CSV, atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from rlte.domains import DECISION_TIME, TRAINING_TIME, get_method
from rlte.errors import RlteError
from rlte.experiments.formatting import format_summary, table_cell
from rlte.experiments.statistics import Summary, relative_gaps, summarise
from rlte.experiments.store import UNSCALED, Run, per_seed, read_run
from rlte.fileio import atomic_write_text

#: The CSV's columns, in order.
COLUMNS = ("domain", "spec", "run", "topology", "traffic", "scenario", "load", "method", "kind", "seeds",
           "metric", "mean", "ci95", "reference", "gap", "gap_ci95", "decision_ms", "train_timesteps",
           "train_s", "online")  # fmt: skip


def run_folders(root: str | Path, *, every_run: bool = False) -> list[Path]:
    """The run folders under a store's root (``<root>/<spec>/<run-id>/results.csv``): the newest
    of each spec, or every one.

    Raises:
        RlteError: when ``root`` is not a folder or holds no run.
    """
    root = Path(root)
    if not root.is_dir():
        raise RlteError(f"{root}: no such run store (pass --runs-dir, or run folders)")
    found: dict[str, list[tuple[float, Path]]] = {}
    for results in sorted(root.glob("*/*/results.csv")):
        folder = results.parent
        found.setdefault(folder.parent.name, []).append((_created(folder), folder))
    if not found:
        raise RlteError(f"{root}: no run folder with a results.csv under it")
    chosen = []
    for spec in sorted(found):
        runs = sorted(found[spec], key=lambda item: (item[0], item[1].name))
        chosen += [folder for _, folder in runs] if every_run else [runs[-1][1]]
    return chosen


def _created(folder: Path) -> float:
    """A run's creation time: its ``run.json``'s ``created_ns``, else the folder's modification time."""
    try:
        return float(json.loads((folder / "run.json").read_text(encoding="utf-8"))["created_ns"]) / 1e9
    except (OSError, ValueError, KeyError, TypeError):
        return folder.stat().st_mtime


def _kind(info: dict) -> str:
    return "oracle" if info["oracle"] else "learned" if info["learned"] else "classical"


def run_rows(run: Run) -> list[dict]:
    """The leaderboard rows of one run (`COLUMNS`), in the run's group, load and method order."""
    domain = run.domain
    metric = domain.metric(domain.primary)
    reference = run.label_of(domain.reference) if domain.reference else None
    training = (run.spec.get("training") or {}).get("timesteps")
    rows = []
    for group in run.groups():
        group_rows = run.group_rows(group)
        for load in sorted(group_rows["load"].unique()):
            at_load = group_rows[group_rows["load"] == load]
            reference_values = per_seed(at_load, reference, metric.name) if reference else None
            for label in run.method_order():
                values = per_seed(at_load, label, metric.name)
                if values.empty:
                    continue
                summary = summarise(values.to_numpy())
                gap = None
                if reference_values is not None and not reference_values.empty and label != reference:
                    ratios = relative_gaps(values, reference_values)
                    gap = summarise(ratios if metric.lower_is_better else -ratios)
                decide = per_seed(at_load, label, DECISION_TIME.name)
                trained = per_seed(at_load, label, TRAINING_TIME.name)
                learned = run.methods[label]["learned"]
                method = get_method(run.methods[label]["name"])
                online = bool(method is not None and method.online)
                rows.append({
                    "domain": domain.name, "spec": str(run.spec.get("name", run.path.parent.name)),
                    "run": run.path.name, "topology": group.topology, "traffic": group.traffic,
                    "scenario": group.scenario, "load": None if load == UNSCALED else float(load),
                    "method": label, "kind": _kind(run.methods[label]), "seeds": summary.n,
                    "metric": metric.name, "mean": summary.mean, "ci95": summary.half_width,
                    "reference": reference if gap is not None else None,
                    "gap": None if gap is None else gap.mean, "gap_ci95": None if gap is None else gap.half_width,
                    "decision_ms": float(decide.mean()) if not decide.empty else None,
                    "train_timesteps": int(training) if learned and not online and training is not None else None,
                    "online": online,
                    "train_s": float(trained.mean()) if learned and not trained.empty else None,
                })  # fmt: skip
    return rows


def collect(folders) -> tuple[list[dict], list[Run]]:
    """The rows of every run folder given, and the runs (each read with `read_run`).

    Raises:
        RlteError: naming the folder, for one that is not a readable run.
    """
    rows, runs = [], []
    for folder in folders:
        run = read_run(folder)
        runs.append(run)
        rows += run_rows(run)
    if not rows:
        raise RlteError("no results in the runs given: nothing to rank")
    return rows, runs


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}"


def _gap_text(row: dict) -> str:
    if row["gap"] is None:
        return "—"
    half = row["gap_ci95"]
    text = f"{100 * row['gap']:+.1f} %"
    return text + (f" ± {100 * half:.1f}" if half is not None and math.isfinite(half) else " (n=1)")


def markdown(rows: list[dict], runs: list[Run]) -> str:
    """The leaderboard as Markdown: a table per domain, rows by setting, then by gap (best first)."""
    from rlte.domains import get_domain

    lines = [
        "# rlte leaderboard",
        "",
        "Every method of every run below, as the runs' own `results.csv` give it (regenerate with "
        "`rlte leaderboard`). Each value is the mean over seeds ± the half-width of its 95 % Student-t "
        "interval; the gap is to the domain's reference, per seed on the seeds both share (positive: "
        "worse than the reference). Oracles see what they decide and are bounds, not rivals. The "
        "training budget is the spec's timesteps (environment steps; MAROH: training episodes; DOTE: training "
        "examples). Decision "
        "times are per evaluated step; runs made before rlte counted a cached LP solution at its solve time "
        "show an LP that reused another method's solutions (lp_opt after lp_last) near 0 ms.",
        "",
        "Runs:",
        "",
    ]
    for run in runs:
        lines.append(f"- `{run.spec.get('name', run.path.parent.name)}/{run.path.name}` "
                     f"({run.domain.name}, {len(run.results['seed'].unique())} seed(s))")  # fmt: skip
    by_domain: dict[str, list[dict]] = {}
    for row in rows:
        by_domain.setdefault(row["domain"], []).append(row)
    for name, domain_rows in by_domain.items():
        domain = get_domain(name, "leaderboard")
        metric = domain.metric(domain.primary)
        direction = "lower" if metric.lower_is_better else "higher"
        lines += ["", f"## {name}", "", f"{domain.description}. Ranked on {metric.label} ({direction} is better); "
                  f"reference: {domain.reference or 'none'}.", ""]  # fmt: skip
        lines.append(f"| spec | setting | method | kind | {metric.label} | gap to {domain.reference or '—'} "
                     "| decision ms | training |")  # fmt: skip
        lines.append("|---|---|---|---|---:|---:|---:|---:|")

        def order(row: dict):
            gap = (
                row["gap"] if row["gap"] is not None else (-math.inf if row["kind"] == "oracle" else math.inf)
            )
            return (row["spec"], row["run"], row["topology"], row["traffic"], row["scenario"],
                    -1.0 if row["load"] is None else row["load"], gap)  # fmt: skip

        for row in sorted(domain_rows, key=order):
            setting = f"{row['topology']} · {row['traffic']} · {row['scenario']}"
            setting += "" if row["load"] is None else f" · load {row['load']:g}"
            value = format_summary(Summary(row["mean"], row["ci95"], row["seeds"]), metric)
            training = "online (learns as it routes)" if row["online"] else "—"
            if row["train_timesteps"] is not None:
                training = f"{row['train_timesteps']:,} {domain.timesteps_unit.split()[-1]}"
                if row["train_s"] is not None:
                    training += f", {row['train_s'] / 60:.1f} min"
            gap = "(reference)" if row["method"] == domain.reference else _gap_text(row)
            lines.append("| " + " | ".join(table_cell(text) for text in (
                row["spec"], setting, row["method"], row["kind"], value, gap, _number(row["decision_ms"]), training,
            )) + " |")  # fmt: skip
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict]) -> str:
    """The rows as CSV (`COLUMNS`; empty cells for missing values)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row[key] is None or (isinstance(row[key], float) and np.isnan(row[key]))
                         else row[key] for key in COLUMNS})  # fmt: skip
    return buffer.getvalue()


def write_leaderboard(
    folders, markdown_path: str | Path, csv_path: str | Path | None = None
) -> tuple[Path, Path]:
    """Write the leaderboard of ``folders`` as Markdown and CSV (default: beside it, ``.csv``).

    Returns:
        The two paths written.
    """
    rows, runs = collect(folders)
    markdown_path = Path(markdown_path)
    csv_path = Path(csv_path) if csv_path is not None else markdown_path.with_suffix(".csv")
    atomic_write_text(markdown_path, markdown(rows, runs))
    atomic_write_text(csv_path, to_csv(rows))
    return markdown_path, csv_path


__all__ = ["COLUMNS", "collect", "markdown", "run_folders", "run_rows", "to_csv", "write_leaderboard"]
