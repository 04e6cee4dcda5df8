"""The report's figures, one PNG each in ``run_dir/figures/``: metrics against the load, learning
curves, the trust region's KL bound over training, metrics over time. Each function returns the
figure's path, or None when the run has nothing to draw; every file is written atomically.

Which metrics are drawn is the domain's (`rlte.domains.Domain`): its ``load_figure_metrics`` and
``time_metrics`` when it declares them, else its table metrics.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from rlte.domains import Domain
from rlte.experiments.formatting import percent, slug
from rlte.experiments.statistics import CONFIDENCE, summarise
from rlte.experiments.store import UNSCALED, Group, Run, SweepSeries, load_value, per_seed
from rlte.plotting import pyplot, save_figure

#: Learning-log columns drawn over training: (column, y label, file stem, title). A method whose log
#: lacks a column (only TRPO logs its KL bound ``delta``) is left out of that figure.
CURVES = (
    ("episode_reward_mean", "mean episode reward", "learning", "learning curves"),
    ("delta", "KL bound delta", "trust-region", "the trust region's KL bound during training"),
    ("critic_loss", "critic loss", "critic-loss", "the critics' training loss"),
    ("loss", "Q-network loss", "q-loss", "the Q-network's training loss"),
    ("td_error", "mean absolute TD error", "td-error", "the Q-table's TD error during training"),
)


def load_figure_metrics(domain: Domain) -> tuple[str, ...]:
    """The metrics plotted against the load: the domain's ``load_figure_metrics``, else its table's."""
    return tuple(domain.load_figure_metrics or domain.table_metrics)


def time_metrics(domain: Domain) -> tuple[str, ...]:
    """The metrics followed over time under scenarios other than the plain one (the first also gets
    the report's over-time table): the domain's ``time_metrics``, else its table's."""
    return tuple(domain.time_metrics or domain.table_metrics)


#: Beyond ten methods the colours repeat, each time with the next line style.
LINE_STYLES = ("-", "--", "-.", ":")
#: A legend of more entries than this goes beside the axes, not over the lines.
LEGEND_INSIDE = 6
#: A positive metric whose values span more than this factor over a time figure is drawn on a log axis.
LOG_SPAN = 50.0


def line_style(index: int) -> dict:
    """Colour and line style of the ``index``-th method of a figure: distinct up to 40 methods."""
    return {"color": f"C{index % 10}", "ls": LINE_STYLES[(index // 10) % len(LINE_STYLES)]}


def place_legend(ax, entries: int, fontsize: int = 8) -> None:
    """Inside the axes for a few entries, beside them (outside, right) for more."""
    if entries > LEGEND_INSIDE:
        ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    else:
        ax.legend(fontsize=fontsize)


def legend(run: Run, method: str) -> str:
    """A method's label marked ``(oracle)`` or ``(learned)``, as in the tables."""
    info = run.methods[method]
    return method + (" (oracle)" if info["oracle"] else " (learned)" if info["learned"] else "")


def load_slug(load: float) -> str:
    return "unscaled" if load == UNSCALED else f"load{load:g}"


def _axis_label(run: Run, metric: str) -> str:
    info = run.domain.metric(metric)
    return f"{info.label} ({info.unit})" if info.unit else info.label


def _mean_point(rows: pd.DataFrame, method: str, metric: str, x: float, scale: float) -> tuple | None:
    """``(x, mean, half-width)`` of a method's metric over the seeds in ``rows``, in display units;
    None without a value."""
    summary = summarise(per_seed(rows, method, metric))
    if not summary.n:
        return None
    return x, summary.mean * scale, np.nan_to_num(summary.half_width) * scale


def load_figure(run: Run, group: Group, rows: pd.DataFrame, methods: list[str], folder: Path) -> Path | None:
    """Each of `load_figure_metrics` against the load level: mean over seeds with its interval as
    error bars, one line per method. None with fewer than two load levels."""
    loads = sorted(load for load in rows["load"].unique() if load != UNSCALED)
    if len(loads) < 2:
        return None
    metrics = load_figure_metrics(run.domain)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        scale = run.domain.metric(metric).scale
        for index, method in enumerate(methods):
            points = [
                p
                for load in loads
                if (p := _mean_point(rows[rows["load"] == load], method, metric, load, scale))
            ]
            if points:
                x, y, err = np.array(points).T
                ax.errorbar(
                    x, y, yerr=err, marker="o", capsize=3, label=legend(run, method), **line_style(index)
                )
        ax.set_xlabel("load level")
        ax.set_ylabel(_axis_label(run, metric))
        ax.grid(alpha=0.3)
    place_legend(axes[0][-1], len(methods))
    fig.suptitle(f"{group.title}: mean over seeds, bars: {percent(CONFIDENCE)} confidence interval")
    return save_figure(fig, folder / f"load-{slug(*group)}.png")


def sweep_figure(run: Run, series: list[SweepSeries], topology: str, traffic: str, load: float, folder: Path,
                 paper: dict[tuple[str, str, str], float]) -> Path | None:  # fmt: skip
    """Each of `load_figure_metrics` against the spec's ``sweep`` option at one load level: mean over
    seeds with its interval as error bars, one line per `Run.sweep_series` entry, the paper's values
    (``paper[(method, scenario, metric)]``) as crosses. Categorical values (a task mix) are spaced
    evenly in order of appearance. None without sweep lines or rows."""
    results = run.results
    rows = results[
        (results["topology"] == topology) & (results["traffic"] == traffic) & (results["load"] == load)
    ]
    if not series or not len(rows):
        return None
    values = list(dict.fromkeys(x for line in series for x, _ in line.points))
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in values)
    position = {x: (float(x) if numeric else float(i)) for i, x in enumerate(values)}
    metrics = load_figure_metrics(run.domain)
    sweep = str(run.spec["sweep"])
    marked = False
    plt = pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4.3), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        scale = run.domain.metric(metric).scale
        for index, line in enumerate(series):
            points = []
            for x, scenario in line.points:
                point = _mean_point(
                    rows[rows["scenario"] == scenario], line.method, metric, position[x], scale
                )
                if point is not None:
                    points.append(point)
                published = paper.get((line.method, scenario, metric))
                if published is not None:
                    ax.plot(position[x], published * scale, "kx", ms=8, mew=2)
                    marked = True
            if points:
                x, y, err = np.array(points).T
                ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=line.label, **line_style(index))
        if not numeric:
            ax.set_xticks([position[x] for x in values], [str(x) for x in values])
        ax.set_xlabel(sweep.replace("_", " "))
        ax.set_ylabel(_axis_label(run, metric))
        ax.grid(alpha=0.3)
    place_legend(axes[0][-1], len(series))
    heading = run.domain.load_heading(load_value(load)).lower()
    crosses = "; crosses: the paper's values" if marked else ""
    fig.suptitle(f"{topology} · {traffic}, {heading}: against {sweep.replace('_', ' ')}\n"
                 f"mean over seeds, bars: {percent(CONFIDENCE)} confidence interval{crosses}")  # fmt: skip
    return save_figure(fig, folder / f"sweep-{slug(topology, traffic, sweep, load_slug(load))}.png")


def mean_curve(
    curves: list[pd.DataFrame], column: str = "episode_reward_mean"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and confidence half-width of ``column`` over seeds on the timesteps every seed covers.

    Shapes:
        Returns three arrays [G]: the timesteps, the mean, the half-width (NaN with one seed).
    """
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


def learning_figure(
    run: Run, group: Group, rows: pd.DataFrame, methods: list[str], folder: Path,
    column: str = "episode_reward_mean", ylabel: str = "mean episode reward", stem: str = "learning",
    title: str = "learning curves",
) -> Path | None:  # fmt: skip
    """A learning-log column over training, one panel per load level, one line per learned method
    (mean over seeds, band: the interval). None when no learned cell logged ``column``."""
    learned = [m for m in methods if run.methods[m]["learned"]]
    panels: list[tuple[float, list[tuple[str, list[pd.DataFrame]]]]] = []
    for load in sorted(rows["load"].unique()):
        lines = []
        for method in learned:
            curves = []
            columns = ("timesteps", "episode_reward_mean")
            for _, curve in run.cell_frames(group, rows, method, load, "learning.csv", columns):
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
        drawn = []
        for method, curves in lines:
            grid, mean, half = mean_curve(curves, column)
            (line,) = ax.plot(grid, mean, label=f"{method} ({len(curves)} seeds)")
            if len(curves) > 1:
                ax.fill_between(grid, mean - half, mean + half, color=line.get_color(), alpha=0.2)
            drawn.append(mean)
        values = np.concatenate(drawn)
        values = values[np.isfinite(values)]
        logarithmic = len(values) > 0 and values.min() > 0 and values.max() / values.min() > LOG_SPAN
        if logarithmic:  # a loss falling by orders of magnitude
            ax.set_yscale("log")
        ax.set_title(run.domain.load_heading(load_value(load)))
        ax.set_xlabel(run.domain.timesteps_unit)
        ax.set_ylabel(ylabel + (" (log scale)" if logarithmic else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{group.title}: {title}\nmean over seeds, band: {percent(CONFIDENCE)} confidence interval")
    return save_figure(fig, folder / f"{stem}-{slug(*group)}.png")


def time_figure(
    run: Run, group: Group, rows: pd.DataFrame, methods: list[str], load: float, folder: Path
) -> Path | None:
    """Each of `time_metrics` over the evaluated steps at one load level: for the lowest seed of each
    method that left a ``series.csv``, or, for a domain with ``time_figures``, the mean over its
    seeds, against the series' ``time`` column when it has one, with dotted lines where its ``load``
    column changes. None when no cell left a series."""
    domain = run.domain
    metrics = time_metrics(domain)
    over_seeds = domain.time_figures
    series = []
    for method in methods:
        frames = [frame.sort_values("interval") for _, frame in
                  run.cell_frames(group, rows, method, load, "series.csv", ("interval", *metrics))]  # fmt: skip
        if not frames:
            continue
        if over_seeds:
            length = min(len(frame) for frame in frames)
            mean = frames[0].iloc[:length].copy()
            for metric in metrics:
                stacked = np.stack([frame[metric].to_numpy(dtype=float)[:length] for frame in frames])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # a window where no seed delivered
                    mean[metric] = np.nanmean(stacked, axis=0)
            series.append((method, f"mean of {len(frames)} seeds", mean))
        else:
            seed = next(run.cell_frames(group, rows, method, load, "series.csv", ("interval", *metrics)))[0]
            series.append((method, f"seed {seed}", frames[0]))
    if not series:
        return None
    x_column = "time" if "time" in series[0][2].columns else "interval"
    plt = pyplot()
    fig, axes = plt.subplots(len(metrics), 1, figsize=(10, 3 * len(metrics)), sharex=True, squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics):
        scale = domain.metric(metric).scale
        for index, (method, what, frame) in enumerate(series):
            ax.plot(frame[x_column], frame[metric] * scale, lw=1, label=f"{legend(run, method)}, {what}",
                    **line_style(index))  # fmt: skip
        values = np.concatenate([frame[metric].to_numpy(dtype=float) * scale for _, _, frame in series])
        values = values[np.isfinite(values)]
        logarithmic = len(values) > 0 and values.min() > 0 and values.max() / values.min() > LOG_SPAN
        if logarithmic:
            ax.set_yscale("log")
        ax.set_ylabel(_axis_label(run, metric) + (" (log scale)" if logarithmic else ""))
        ax.grid(alpha=0.3)
        if "load" in series[0][2].columns:
            frame = series[0][2]
            changes = np.flatnonzero(np.diff(frame["load"].to_numpy(dtype=float)) != 0) + 1
            for index in changes:
                ax.axvline(frame[x_column].iloc[index], color="grey", lw=0.8, ls=":")
    place_legend(axes[0, 0], len(series), fontsize=7)
    axes[-1, 0].set_xlabel(domain.time_axis if x_column == "time" else "evaluated interval")
    marked = " (dotted: load changes)" if "load" in series[0][2].columns else ""
    over = "over time" if domain.time_axis == "time" else f"by {domain.time_axis}"
    fig.suptitle(f"{group.title}, {domain.load_heading(load_value(load)).lower()}: {over}{marked}")
    return save_figure(fig, folder / f"time-{slug(*group, load_slug(load))}.png")
