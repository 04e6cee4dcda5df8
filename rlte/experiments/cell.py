"""One cell of an experiment grid: the domain's protocol runs the method (a baseline, or a learned
method trained with checkpoints and then evaluated), and the cell writes what it measured. Runs in
a worker process (local pool or Ray task); everything it needs comes in its arguments, and
everything it produces is written atomically in its cell folder.

Nothing here knows a domain: `rlte.domains` says which metrics a cell reports, which methods are
oracles, and how a method is run (`rlte.domains.Domain.evaluate_baseline`,
`rlte.domains.Domain.evaluate_learned`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

import numpy as np

from rlte.fileio import atomic_write_text

#: Test hook: a folder. When set, each cell fails on its first attempt (a marker file remembers
#: it), to test that executors retry failed tasks.
FAIL_ONCE_ENV = "RLTE_TEST_FAIL_ONCE"


def _series_csv(series: dict[str, np.ndarray]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    names = list(series)
    writer.writerow(["interval", *names])
    for i in range(len(series[names[0]])):
        writer.writerow([i, *[repr(float(series[name][i])) for name in names]])
    return out.getvalue()


def run_cell(spec: dict, cell: dict, cell_dir: str, data_dir: str | None = None) -> dict:
    """Run one cell and write ``result.json``, ``series.csv`` and ``log.txt`` in ``cell_dir``.

    Args:
        spec: the resolved spec (`Spec.resolved`).
        cell: ``method`` (name), ``label``, ``params``, ``topology``, ``traffic``, ``load``,
            ``scenario``, ``seed``, ``cell_id``.
        cell_dir: the cell's folder (created if needed).
        data_dir: the data directory.

    Returns:
        The result: ``cell``, ``rows`` (one per metric), ``oracle``, ``learned``, ``intervals``.
    """
    from threadpoolctl import threadpool_limits

    from rlte.domains import CellContext, get_domain, get_method
    from rlte.experiments.spec import DEFAULT_DOMAIN

    folder = Path(cell_dir)
    folder.mkdir(parents=True, exist_ok=True)
    marker_dir = os.environ.get(FAIL_ONCE_ENV)
    if marker_dir:
        marker = Path(marker_dir) / f"{cell['cell_id']}.failed"
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("failed once\n")
            raise RuntimeError(f"injected failure of cell {cell['cell_id']} ({FAIL_ONCE_ENV})")
    started = time.perf_counter()
    described = {k: cell[k] for k in ("method", "params", "topology", "traffic", "load", "scenario", "seed")}
    log_lines = [
        f"{time.strftime('%Y-%m-%d %H:%M:%S')} cell {cell['cell_id']}: {json.dumps(described, default=str)}"
    ]
    domain = get_domain(spec.get("domain", DEFAULT_DOMAIN))
    method = get_method(cell["method"])
    context = CellContext(spec, cell, folder, data_dir, log_lines.append)
    with threadpool_limits(limits=1):  # one thread per cell: the same numbers on any executor
        if method is None:
            evaluation = domain.evaluate_baseline(cell["method"], context)
        else:
            evaluation = domain.evaluate_learned(method, context)
    series, decide_s, train_s = evaluation.series, evaluation.decision_s, evaluation.train_s
    learned = method is not None
    oracle = False if learned else bool(domain.is_oracle(cell["method"]))
    intervals = len(next(iter(series.values())))
    decisions = evaluation.decisions if evaluation.decisions is not None else intervals
    runtime = time.perf_counter() - started
    base = {key: cell[key] for key in ("topology", "traffic", "load", "scenario", "seed")}
    base["method"] = cell["label"]
    rows = []

    def row(metric: str, value: float, **changes) -> None:
        rows.append({**base, **changes, "metric": metric, "value": float(value), "runtime_s": runtime})

    for metric in domain.metrics:
        values = np.asarray(series[metric.name], dtype=np.float64)
        finite = values[np.isfinite(values)]
        mean = evaluation.summary.get(metric.name, np.mean(finite) if finite.size else np.nan)
        row(metric.name, mean)
        row(f"{metric.name}_p95", np.percentile(finite, 95) if finite.size else np.nan)
    row("decision_ms", 1e3 * decide_s / max(decisions, 1))
    if train_s is not None:
        row("train_s", train_s)
    for name, value in evaluation.scalars.items():
        row(name, value)
    for load, values in evaluation.by_load.items():
        for name, value in values.items():
            row(name, value, load=float(load))
    result = {"cell": {**base}, "rows": rows, "oracle": oracle, "learned": learned, "intervals": intervals}
    primary = domain.metric(domain.primary)
    headline = next(r["value"] for r in rows if r["metric"] == primary.name)
    log_lines.append(f"evaluated {intervals} intervals: mean {primary.label} {headline:.6g}, "
                     f"decision {1e3 * decide_s / max(decisions, 1):.4g} ms per decision"
                     + (f", trained {train_s:.1f} s" if train_s is not None else "") + f", {runtime:.1f} s in all")  # fmt: skip
    log_lines.append(f"{time.strftime('%Y-%m-%d %H:%M:%S')} done")
    atomic_write_text(folder / "log.txt", "\n".join(log_lines) + "\n")
    atomic_write_text(folder / "series.csv", _series_csv(series))
    atomic_write_text(folder / "result.json", json.dumps(result, indent=1))
    return result
