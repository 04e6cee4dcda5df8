"""The report of a finished run: ``run_dir/report.md`` and its figures in ``run_dir/figures/``.

The run folder is read back by `rlte.experiments.store`; what the report measures and how it names
things is the run's domain's (`rlte.domains.Domain`, from the spec's ``domain``): its metrics with
their labels, units and direction, its table metrics, its primary metric, its reference and the
rivals of its learned methods, its load headings and its paper bands.

The report has, in order: a header (spec, cells, seeds, training budget, paper source); per
(topology, traffic, scenario) group and load level, a table of every method with each table
metric's mean over seeds and the half-width of its 95 % Student-t confidence interval, the gap to
the domain's reference and the paper's values, and under a non-plain scenario (bursts, failures)
the first time metric over time (mean, spread, 95th percentile, maximum); findings in plain
sentences (every disagreement with the paper beyond 10 %, and for each learned method a verdict
against the domain's rivals and the best classical routing, each from the paired 95 % interval over
the seeds both share, see `rlte.experiments.statistics`); and figures (`rlte.experiments.figures`).
Everything is written atomically: to a temporary file in the target folder, then renamed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from rlte.domains import get_method
from rlte.experiments.figures import (
    CURVES,
    learning_figure,
    legend,
    load_figure,
    load_figure_metrics,
    sweep_figure,
    time_figure,
    time_metrics,
)
from rlte.experiments.formatting import (
    GAP,
    capitalised,
    format_interval,
    format_summary,
    format_value,
    join_words,
    paper_entry,
    paper_number,
    percent,
    table_cell,
    unit_suffix,
)
from rlte.experiments.statistics import (
    CONFIDENCE,
    Summary,
    Verdict,
    paired_difference,
    relative_gaps,
    summarise,
    verdict,
)
from rlte.experiments.store import (
    RESULT_COLUMNS,
    UNSCALED,
    Group,
    Run,
    SweepSeries,
    load_value,
    per_seed,
    read_run,
)
from rlte.fileio import atomic_write_text

#: Relative difference to a paper value above which the report states a disagreement.
PAPER_TOLERANCE = 0.10
#: The spec's default scenario: no events, so no over-time table or figure.
PLAIN_SCENARIO = "plain"

#: What a verdict (`rlte.experiments.statistics.Verdict`) reads as before the other method's name.
VERDICT_WORDS = {
    Verdict.BETTER: "beats",
    Verdict.WORSE: "is worse than",
    Verdict.WITHIN: f"is within the {percent(CONFIDENCE)} interval of",
    Verdict.UNTESTED: "cannot be tested against",
}


# ---------------------------------------------------------------------------------- the header
def _units(run: Run) -> str:
    """``MLU, mean utilisation and loss in %, mean delay in ms``: the table metrics by unit."""
    by_unit: dict[str, list[str]] = {}
    for name in run.domain.table_metrics:
        metric = run.domain.metric(name)
        if metric.unit:
            by_unit.setdefault(metric.unit, []).append(metric.label)
    return ", ".join(f"{join_words(labels)} in {unit}" for unit, labels in by_unit.items())


def _header(run: Run) -> list[str]:
    spec, results, domain = run.spec, run.results, run.domain
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
    learned = [info["name"] for info in run.methods.values() if info["learned"]]
    online = [name for name in learned if (get_method(name) is not None and get_method(name).online)]
    if timesteps and len(online) < len(learned):
        lines.append(f"- Training: {int(timesteps):,} {run.domain.timesteps_unit} per learned cell")
    if online:
        lines.append(
            "- Learning: online, inside the simulation, over the whole evaluated run (no separate training)"
        )
    lines += [f"- {line}" for line in domain.report_protocol(run)]
    if domain.report_note:
        lines.append(f"- {domain.report_note}")
    paper = spec.get("paper")
    if isinstance(paper, dict) and paper.get("source"):
        notes = f" ({str(paper['notes']).strip()})" if paper.get("notes") else ""
        lines.append(f"- Paper: {paper['source']}{notes}")
    units = _units(run)
    text = (
        f"Each entry is the mean over seeds ± the half-width of its {percent(CONFIDENCE)} confidence interval "
        "(Student t, n − 1 degrees of freedom)" + (f"; {units}. " if units else ". ")
    )
    if domain.reference is not None:
        label = domain.metric(domain.primary).label
        text += (
            f"Gap to {domain.reference}: the mean over seeds of {label} / {label}({domain.reference}) − 1, "
            "paired by seed. "
        )
    text += "Learned methods are marked (learned); oracles, which see the interval they route, (oracle)."
    return lines + ["", text, ""]


# ---------------------------------------------------------------------------------- tables
def _gaps(run: Run, rows: pd.DataFrame, method: str, reference: str) -> Summary:
    """The gap of ``method`` to ``reference`` on the primary metric, paired by seed."""
    primary = run.domain.primary
    return summarise(relative_gaps(per_seed(rows, method, primary), per_seed(rows, reference, primary)))


def _paper_values(run: Run) -> list[dict]:
    paper = run.spec.get("paper")
    if not isinstance(paper, dict):
        return []
    return [v for v in paper.get("values") or [] if isinstance(v, dict) and "metric" in v and "value" in v]


def _paper_level(run: Run, value: dict) -> float | None:
    """The load level a published value refers to (the domain's `paper_load`; None: unscaled).

    Raises:
        TypeError, ValueError: for a level that is not a number.
    """
    level = run.domain.paper_load(value)
    return None if level is None else float(level)


def _paper_matches(value: dict, run: Run, method: str, load: float, scenario: str) -> bool:
    """Whether a published value is of ``method`` at ``load`` under ``scenario`` (its ``band`` or
    ``load`` read by the domain's `paper_load`)."""
    if str(value.get("method")) not in (method, run.methods[method]["name"]):
        return False
    if value.get("scenario") is not None and str(value["scenario"]) != scenario:
        return False
    try:
        level = _paper_level(run, value)
    except (TypeError, ValueError):
        return False
    if level is None:  # unscaled traffic, unless a band was given that the domain does not know
        return value.get("band") is None and load == UNSCALED
    return load != UNSCALED and math.isclose(level, load, abs_tol=1e-9)


def _table(
    run: Run, group: Group, rows: pd.DataFrame, load: float, methods: list[str], seeds: int
) -> list[str]:
    domain = run.domain
    at_load = rows[rows["load"] == load]
    reference = run.label_of(domain.reference)
    has_reference = reference is not None and (at_load["method"] == reference).any()
    paper = {
        method: [v for v in _paper_values(run) if _paper_matches(v, run, method, load, group.scenario)]
        for method in methods
    }
    show_paper = any(paper.values())
    header = ["method", *(domain.metric(m).label for m in domain.table_metrics)]
    header += [f"gap to {domain.reference}"] if domain.reference is not None else []
    header += ["paper"] if show_paper else []
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for method in methods:
        if not (at_load["method"] == method).any():
            continue
        row = [table_cell(legend(run, method))]
        for metric in domain.table_metrics:
            summary = summarise(per_seed(at_load, method, metric))
            row.append(format_summary(summary, domain.metric(metric), seeds=seeds))
        if domain.reference is not None:
            gaps = _gaps(run, at_load, method, reference) if has_reference else None
            row.append("—" if gaps is None else format_summary(gaps, GAP, seeds=seeds))
        if show_paper:
            published = [
                paper_entry(domain.metric(str(v["metric"])), float(v["value"])) for v in paper[method]
            ]
            row.append(table_cell("; ".join(published) or "—"))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _by_load_table(run: Run, group: Group, rows: pd.DataFrame, methods: list[str], seeds: int) -> list[str]:
    """The primary metric of every method at every load level of the group (columns), with the
    paper's value beside rlte's where it gives one; empty with fewer than two load levels."""
    domain = run.domain
    loads = sorted(load for load in rows["load"].unique() if load != UNSCALED)
    if len(loads) < 2:
        return []
    metric = domain.metric(domain.primary)
    header = ["method", *(f"{load:g}" for load in loads)]
    lines = [
        f"{capitalised(metric.label)} at each load level (mean over seeds ± 95 % half-width; the paper's value in "
        "brackets where it gives one):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(loads)) + "|",
    ]
    for method in methods:
        cells = []
        for load in loads:
            at_load = rows[rows["load"] == load]
            summary = summarise(per_seed(at_load, method, domain.primary))
            text = format_summary(summary, metric, seeds=seeds)
            published = [
                v for v in _paper_values(run)
                if str(v["metric"]) == domain.primary and _paper_matches(v, run, method, load, group.scenario)
            ]  # fmt: skip
            if published:
                text += f" ({paper_number(metric, float(published[0]['value']))})"
            cells.append(text)
        if any(cell != "—" for cell in cells):
            lines.append(f"| {table_cell(legend(run, method))} | " + " | ".join(cells) + " |")
    return lines


def _sweep_paper(run: Run, series: list[SweepSeries], load: float) -> dict[tuple[str, str, str], float]:
    """The paper's values at one load level for the sweep's points: (method, scenario, metric) -> value."""
    found = {}
    for line in series:
        for _, scenario in line.points:
            for value in _paper_values(run):
                if _paper_matches(value, run, line.method, load, scenario):
                    found.setdefault((line.method, scenario, str(value["metric"])), float(value["value"]))
    return found


def _sweep_table(
    run: Run, series: list[SweepSeries], rows: pd.DataFrame, paper: dict, seeds: int
) -> list[str]:
    """The primary metric of every sweep line (`Run.sweep_series`) at each value of the swept option
    (columns, each cell from the scenario that sets it), the paper's value (`_sweep_paper`) in
    brackets where it gives one."""
    domain = run.domain
    metric = domain.metric(domain.primary)
    sweep = str(run.spec["sweep"])
    values = list(dict.fromkeys(x for line in series for x, _ in line.points))
    lines = [
        f"{capitalised(metric.label)} against {sweep.replace('_', ' ')} (mean over seeds ± 95 % half-width; the "
        "paper's value in brackets where it gives one; a line per method and setting of the other options that "
        "differ between scenarios):",
        "",
        "| " + " | ".join(["method", *(table_cell(str(x)) for x in values)]) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(values)) + "|",
    ]
    for line in series:
        at = dict(line.points)
        cells = []
        for x in values:
            if x not in at:
                cells.append("—")
                continue
            summary = summarise(per_seed(rows[rows["scenario"] == at[x]], line.method, domain.primary))
            text = format_summary(summary, metric, seeds=seeds)
            published = paper.get((line.method, at[x], domain.primary))
            if published is not None:
                text += f" ({paper_number(metric, published)})"
            cells.append(text)
        if any(cell != "—" for cell in cells):
            label = line.label.replace(line.method, legend(run, line.method), 1)
            lines.append(f"| {table_cell(label)} | " + " | ".join(cells) + " |")
    return lines


def _over_time_table(
    run: Run, group: Group, rows: pd.DataFrame, load: float, methods: list[str]
) -> list[str]:
    """The first time metric over the evaluated intervals: per seed its mean, standard deviation over
    intervals, 95th percentile and maximum, and the share of intervals where it is not 0, over the
    intervals that have a value (an epoch in which no task completed has no latency); each averaged
    over the seeds that left a series. Empty when no cell left one."""
    name = time_metrics(run.domain)[0]
    metric = run.domain.metric(name)
    unit = unit_suffix(metric)
    lines = []
    for method in methods:
        stats_per_seed = []
        for _, frame in run.cell_frames(group, rows, method, load, "series.csv", ("interval", name)):
            values = frame[name].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if not len(values):
                continue
            stats_per_seed.append(
                (
                    values.mean(),
                    values.std(),
                    np.quantile(values, 0.95),
                    values.max(),
                    float(np.mean(values != 0)),
                )
            )
        if stats_per_seed:
            mean, std, p95, peak, share = np.mean(stats_per_seed, axis=0)
            cells = [f"{metric.scale * v:.2f}{unit}" for v in (mean, std, p95, peak)]
            lines.append(
                f"| {table_cell(legend(run, method))} | " + " | ".join(cells) + f" | {100 * share:.1f} % |"
            )
    if not lines:
        return []
    return [
        f"{capitalised(metric.label)} over time, {run.domain.load_heading(load_value(load)).lower()}: statistics "
        "over the evaluated intervals, per seed, then averaged over seeds.",
        "",
        f"| method | mean | std over time | 95th percentile | maximum | intervals with {metric.label} |",
        "|---|---:|---:|---:|---:|---:|",
        *lines,
    ]


# ---------------------------------------------------------------------------------- findings
def _absolute_tolerance(metric) -> str:
    """A metric's absolute agreement tolerance in words: ``±1 percentage point``, ``±5 ms``."""
    amount = metric.agreement * metric.scale
    if metric.unit == "%":
        return f"±{amount:g} percentage point" + ("" if amount == 1 else "s")
    return f"±{amount:g}" + (f" {metric.unit}" if metric.unit else "")


def _paper_findings(run: Run, groups: list[Group]) -> list[str]:
    """One sentence per paper value: a disagreement beyond the tolerance, an agreement, or no cell."""
    domain = run.domain
    several = len(groups) > 1
    disagree, agree, unmatched = [], [], []
    for value in _paper_values(run):
        name, published = str(value["metric"]), float(value["value"])
        metric = domain.metric(name)
        matched = False
        for group in groups:
            rows = run.group_rows(group)
            for method in run.method_order():
                for load in sorted(rows.loc[rows["method"] == method, "load"].unique()):
                    if not _paper_matches(value, run, method, load, group.scenario):
                        continue
                    measured = summarise(per_seed(rows[rows["load"] == load], method, name))
                    if measured.n == 0:
                        continue
                    matched = True
                    where = f" ({group.title})" if several else ""
                    phrase = domain.load_phrase(load_value(load), value.get("band"))
                    if metric.agreement is not None:
                        close = abs(measured.mean - published) <= metric.agreement
                        within = _absolute_tolerance(metric)
                    else:
                        relative = abs(measured.mean - published) / abs(published) if published else (
                            math.inf if measured.mean else 0.0)  # fmt: skip
                        close, within = relative <= PAPER_TOLERANCE, percent(PAPER_TOLERANCE)
                    if not close:
                        disagree.append(
                            f"- rlte measures {metric.label} {format_value(metric, measured.mean)} for {method} "
                            f"{phrase}{where}; the paper reports {paper_number(metric, published)}."
                        )
                    else:
                        agree.append(
                            f"- rlte agrees with the paper within {within} on {metric.label} for "
                            f"{method} {phrase}{where}: {format_value(metric, measured.mean)} against "
                            f"{paper_number(metric, published)}."
                        )
        if not matched:
            try:
                phrase = domain.load_phrase(_paper_level(run, value), value.get("band"))
            except (TypeError, ValueError):
                phrase = f"at load {value.get('load')}"
            scenario = f" under {value['scenario']}" if value.get("scenario") else ""
            unmatched.append(
                f"- The paper's {metric.label} {paper_number(metric, published)} for {value.get('method')} "
                f"{phrase}{scenario} has no rlte result to compare with."
            )
    return disagree + agree + unmatched


def _best_classical(run: Run, rows: pd.DataFrame) -> str | None:
    """The classical routing (neither learned nor an oracle, and classical to the domain) with the
    best mean of the primary metric in ``rows`` (in the metric's direction), or None."""
    domain = run.domain
    means = {}
    for label, info in run.methods.items():
        if info["learned"] or info["oracle"] or not domain.is_classical(info["name"]):
            continue
        values = per_seed(rows, label, domain.primary)
        if len(values):
            means[label] = float(values.mean())
    if not means:
        return None
    best = min if domain.metric(domain.primary).lower_is_better else max
    return best(means, key=means.get)


def _compare(run: Run, own: pd.Series, other: pd.Series) -> tuple[str, str]:
    """The verdict of a method (``own``: its primary metric per seed) against another (``other``):
    the words before the other's name and the paired interval they rest on."""
    primary = run.domain.metric(run.domain.primary)
    difference = paired_difference(own, other)
    found = verdict(difference, lower_is_better=primary.lower_is_better)
    if found is Verdict.UNTESTED:
        basis = "one seed" if difference.n == 1 else "no seed in common"
    else:
        basis = f"paired difference {format_interval(primary, difference)}, {percent(CONFIDENCE)} CI"
    return VERDICT_WORDS[found], basis


def _learned_heading(run: Run) -> str:
    """``Learned methods against the classical routings, lp_last and lp_opt`` (from the domain)."""
    domain = run.domain
    others = [rival for rival in domain.rivals if not domain.is_classical(rival)]
    others += [domain.reference] if domain.reference is not None else []
    return "Learned methods against " + join_words(["the classical routings", *others])


def _learned_intro(run: Run) -> str:
    """How the verdicts are reached, in the primary metric's direction."""
    primary = run.domain.metric(run.domain.primary)
    better, worse, direction = (
        ("below", "above", "lower") if primary.lower_is_better else ("above", "below", "higher")
    )
    return (
        f"Each verdict rests on the paired difference of {primary.label} over the seeds both methods share (the "
        f"learned method's minus the other's) and its {percent(CONFIDENCE)} Student-t interval: a learned method "
        f"beats the other only when the whole interval lies {better} 0 (a {direction} {primary.label} is better), "
        f"is worse than it when the interval lies {worse} 0, and is within its interval otherwise; with one seed "
        "the difference cannot be tested."
    )


def _values(rows: pd.DataFrame, label: str | None, metric: str) -> pd.Series:
    """``label``'s values per seed (empty for a method the run does not have)."""
    return per_seed(rows, label, metric) if label is not None else pd.Series(dtype=float)


def _learned_findings(run: Run, groups: list[Group]) -> list[str]:
    """For every learned method, group and load: its verdict against the domain's first rival on the
    primary metric, against the best classical routing when that is not a rival (shortest path on
    the operator's IGP weights, say) and against the other rivals (``lp_last``, the LP optimum of
    the previous interval, in flow TE), and its gap to the reference."""
    domain = run.domain
    primary = domain.metric(domain.primary)
    rivals = [label for label in (run.label_of(name) for name in domain.rivals) if label is not None]
    lead = run.label_of(domain.rivals[0]) if domain.rivals else None
    reference = run.label_of(domain.reference)
    several = len(groups) > 1
    lines = []
    for method in (m for m in run.method_order() if run.methods[m]["learned"]):
        for group in groups:
            rows = run.group_rows(group)
            for load in sorted(rows.loc[rows["method"] == method, "load"].unique()):
                at_load = rows[rows["load"] == load]
                own_values = per_seed(at_load, method, primary.name)
                own = summarise(own_values)
                if own.n == 0:
                    continue
                where = f" ({group.title})" if several else ""
                phrase = f"{domain.load_phrase(load_value(load))}{where}"
                parts = []
                lead_values = _values(at_load, lead, primary.name)
                if len(lead_values):
                    words, interval = _compare(run, own_values, lead_values)
                    parts.append(
                        f"{method} {words} {lead} on {'' if primary.label.startswith('mean ') else 'mean '}{primary.label} {phrase}: {format_value(primary, own.mean)} "
                        f"against {format_value(primary, float(lead_values.mean()))} ({interval})"
                    )
                best = _best_classical(run, at_load)
                others = (
                    [(best, f"the best classical routing, {best}")] if best not in (None, *rivals) else []
                )
                others += [(label, label) for label in rivals if label != lead]
                for label, name in others:
                    other_values = _values(at_load, label, primary.name)
                    if not len(other_values):
                        continue
                    words, interval = _compare(run, own_values, other_values)
                    text = f"{words} {name} ({format_value(primary, float(other_values.mean()))}; {interval})"
                    parts.append(text if parts else f"{method} {text} {phrase}")
                if reference is not None and len(_values(at_load, reference, primary.name)):
                    gap = _gaps(run, at_load, method, reference)
                    if gap.n:
                        text = f"its gap to {domain.reference} is {format_value(GAP, gap.mean)}"
                        if len(lead_values):
                            lead_gap = _gaps(run, at_load, lead, reference)
                            if lead_gap.n:
                                text += f" ({lead}'s: {format_value(GAP, lead_gap.mean)})"
                        parts.append(text if parts else f"{method} {phrase}: {text}")
                if parts:
                    lines.append("- " + "; ".join(parts) + ".")
    return lines


# ---------------------------------------------------------------------------------- the report
def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.md`` and its PNG figures in ``run_dir/figures/``.

    Every file is written atomically (a temporary file in the same folder, then ``os.replace``).

    Args:
        run_dir: a run folder with ``spec.yaml``, ``results.csv`` and ``cells/``.

    Returns:
        The path of ``report.md``.

    Raises:
        RlteError: one line naming the path, for a missing or malformed run (no ``results.csv``,
            a missing column, an unreadable ``spec.yaml``, an unknown domain or a malformed cell file).
    """
    run = read_run(run_dir)
    domain = run.domain
    groups = run.groups()
    methods = run.method_order()
    seeds = int(run.results["seed"].nunique())
    figures = run.path / "figures"
    figures.mkdir(exist_ok=True)
    load_labels = join_words(domain.metric(m).label for m in load_figure_metrics(domain))
    time_labels = join_words(domain.metric(m).label for m in time_metrics(domain))

    lines = _header(run)
    figure_lines: list[str] = []
    lines += ["## Results", ""]
    series = run.sweep_series()
    if series:
        sweep = str(run.spec["sweep"]).replace("_", " ")
        made = []
        for topology, traffic in dict.fromkeys((group.topology, group.traffic) for group in groups):
            at = run.results[(run.results["topology"] == topology) & (run.results["traffic"] == traffic)]
            for load in sorted(at["load"].unique()):
                heading = domain.load_heading(load_value(load))
                lines += [f"### Against {sweep}: {topology} · {traffic}, {heading.lower()}", ""]
                paper = _sweep_paper(run, series, load)
                lines += _sweep_table(run, series, at[at["load"] == load], paper, seeds) + [""]
                path = sweep_figure(run, series, topology, traffic, load, figures, paper)
                if path is not None:
                    made.append((f"{capitalised(load_labels)} against {sweep}, {topology} · {traffic}, "
                                 f"{heading.lower()}", path))  # fmt: skip
        if made:
            figure_lines += [f"### Against {sweep}", ""]
            figure_lines += [f"![{caption}](figures/{path.name})\n" for caption, path in made]
    for group in groups:
        rows = run.group_rows(group)
        present = [m for m in methods if (rows["method"] == m).any()]
        lines += [f"### {group.title}", ""]
        by_load = _by_load_table(run, group, rows, present, seeds)
        lines += by_load + ([""] if by_load else [])
        for load in sorted(rows["load"].unique()):
            lines += [f"#### {domain.load_heading(load_value(load))}", ""]
            lines += _table(run, group, rows, load, present, seeds) + [""]
            if group.scenario != PLAIN_SCENARIO:
                over_time = _over_time_table(run, group, rows, load, present)
                lines += over_time + ([""] if over_time else [])
        made = []
        path = load_figure(run, group, rows, present, figures)
        if path is not None:
            made.append((f"{capitalised(load_labels)} versus load, {group.title}", path))
        for column, ylabel, stem, title in CURVES:
            path = learning_figure(run, group, rows, present, figures, column, ylabel, stem, title)
            if path is not None:
                made.append((f"{capitalised(title)}, {group.title}", path))
        if group.scenario != PLAIN_SCENARIO or domain.time_figures:
            for load in sorted(rows["load"].unique()):
                path = time_figure(run, group, rows, present, load, figures)
                if path is not None:
                    heading = domain.load_heading(load_value(load)).lower()
                    made.append((f"{capitalised(time_labels)} over time, {group.title}, {heading}", path))
        if made:
            figure_lines += [f"### {group.title}", ""]
            figure_lines += [f"![{caption}](figures/{path.name})\n" for caption, path in made]

    own = domain.report_figures(run, figures)
    if own:
        figure_lines += [f"### {capitalised(domain.description) or 'The domain'}", ""]
        figure_lines += [f"![{caption}](figures/{path.name})\n" for caption, path in own]

    paper_lines, learned_lines = _paper_findings(run, groups), _learned_findings(run, groups)
    own_lines = domain.report_findings(run, groups)
    if paper_lines or learned_lines or own_lines:
        lines += ["## Findings", ""]
        if own_lines:
            lines += [*own_lines, ""]
        if paper_lines:
            lines += ["### Against the paper", "", *paper_lines, ""]
        if learned_lines:
            lines += [f"### {_learned_heading(run)}", "", _learned_intro(run), "", *learned_lines, ""]
    if figure_lines:
        lines += ["## Figures", "", *figure_lines]

    report = run.path / "report.md"
    atomic_write_text(report, "\n".join(lines).rstrip() + "\n")
    return report


__all__ = ["RESULT_COLUMNS", "Run", "Summary", "read_run", "summarise", "write_report"]
