"""Run a spec's cells on a local process pool or a Ray cluster, into a run store that resumes.

The run store::

    runs/<spec name>/<run id>/
      spec.yaml          the resolved spec
      results.csv        method,topology,traffic,load,scenario,seed,metric,value,runtime_s
      cells/<cell id>/   result.json, series.csv, log.txt, learning.csv, tb/, checkpoint.pt, error.txt
      figures/, report.md (from `rlte report`)

A cell is done when its ``result.json`` exists (written atomically, last). ``--resume`` skips done
cells and restarts the others, whose training continues from its last checkpoint. The same cell
gives the same numbers on either executor (timings aside): each runs in its own process with one
BLAS thread and its own seeds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import yaml

from rlte.errors import RlteError
from rlte.experiments.cell import run_cell
from rlte.experiments.spec import Cell, Spec
from rlte.fileio import atomic_write_text

RESULT_COLUMNS = ("method", "topology", "traffic", "load", "scenario", "seed", "metric", "value", "runtime_s")
EXECUTORS = ("local", "ray")


@dataclass
class RunSummary:
    run_dir: Path
    done: int
    failed: int
    skipped: int
    errors: dict[str, str]


def cell_payload(cell: Cell) -> dict:
    return {
        "method": cell.method.name, "label": cell.method.display, "params": cell.method.params_dict(),
        "topology": cell.topology, "traffic": cell.traffic, "load": cell.load, "scenario": cell.scenario,
        "seed": cell.seed, "cell_id": cell.cell_id,
    }  # fmt: skip


def made_from(spec: Spec, run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` was started from this spec (as resolved: quick mode applied)."""
    previous = yaml.safe_load((run_dir / "spec.yaml").read_text())
    return previous == yaml.safe_load(yaml.safe_dump(spec.resolved(), sort_keys=False))


def prepare_run_dir(spec: Spec, runs_dir: str | os.PathLike, run_id: str | None, resume: str | None) -> Path:
    """The run folder: a new one (``run_id`` or a timestamp), or an existing one to resume
    (``resume``: a run id or ``latest``), whose spec must be the same."""
    base = Path(runs_dir) / spec.name
    resolved = yaml.safe_dump(spec.resolved(), sort_keys=False)
    if resume is not None:
        if resume == "latest":
            candidates = (
                sorted(p for p in base.glob("*") if (p / "spec.yaml").exists()) if base.exists() else []
            )
            if not candidates:
                raise RlteError(f"--resume latest: no run of {spec.name!r} under {base}")
            run_dir = candidates[-1]
        else:
            run_dir = base / resume
            if not (run_dir / "spec.yaml").exists():
                raise RlteError(f"--resume {resume!r}: no run at {run_dir}")
        if not made_from(spec, run_dir):
            raise RlteError(
                f"--resume: {run_dir} was started with a different spec (start a new run instead)"
            )
        return run_dir
    run_id = run_id or time.strftime("%Y%m%d-%H%M%S")
    run_dir = base / run_id
    if (run_dir / "spec.yaml").exists():
        raise RlteError(f"run {run_dir} exists already: pass --resume {run_id} to continue it")
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "spec.yaml", resolved)
    return run_dir


def write_results(spec: Spec, run_dir: Path) -> int:
    """Collect every done cell's rows into ``results.csv`` (cells in grid order). Returns the number
    of rows."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for cell in spec.cells():
        path = run_dir / "cells" / cell.cell_id / "result.json"
        if not path.exists():
            continue
        for row in json.loads(path.read_text())["rows"]:
            row = {
                **row,
                "load": "" if row["load"] is None else repr(float(row["load"])),
                "value": repr(float(row["value"])),
            }
            writer.writerow({key: row[key] for key in RESULT_COLUMNS})
            count += 1
    atomic_write_text(run_dir / "results.csv", out.getvalue())
    return count


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("left"), TimeRemainingColumn())  # fmt: skip
    progress.start()
    progress.add_task("cells", total=total)
    return progress


def run_spec(
    spec: Spec,
    *,
    executor: str = "local",
    workers: int = 2,
    address: str | None = None,
    runs_dir: str | os.PathLike = "runs",
    run_id: str | None = None,
    resume: str | None = None,
    data_dir: str | None = None,
    progress: bool = True,
    retries: int = 1,
    on_cell: Callable[[str, str], None] | None = None,
) -> RunSummary:
    """Run every cell not yet done and write ``results.csv``.

    Args:
        spec: the validated spec.
        executor: ``local`` (a process pool of ``workers``) or ``ray`` (each cell a Ray task;
            a local Ray instance when ``address`` is None).
        workers: parallel cells.
        runs_dir: the root of the run store.
        run_id / resume: name a new run, or continue one (``latest`` for the newest).
        data_dir: the data directory, passed to every cell.
        progress: show a progress bar (cells done, running, failed, time left).
        retries: how many times a failed cell is tried again.
        on_cell: called with (cell id, "done" | "failed") as cells finish.
    """
    if executor not in EXECUTORS:
        raise RlteError(f"--executor {executor!r}: unknown (choose from {', '.join(EXECUTORS)})")
    if workers < 1:
        raise RlteError(f"--workers {workers}: must be >= 1")
    run_dir = prepare_run_dir(spec, runs_dir, run_id, resume)
    cells = spec.cells()
    pending = [cell for cell in cells if not (run_dir / "cells" / cell.cell_id / "result.json").exists()]
    skipped = len(cells) - len(pending)
    resolved = spec.resolved()
    bar = _progress_bar(len(cells), progress)
    counts = {"done": skipped, "failed": 0, "running": 0}
    errors: dict[str, str] = {}

    def update() -> None:
        if bar is not None:
            bar.update(bar.task_ids[0], completed=counts["done"] + counts["failed"],
                       description=f"cells: {counts['done']} done, {counts['running']} running, {counts['failed']} failed")  # fmt: skip

    def finished(cell: Cell, error: BaseException | None) -> None:
        counts["running"] -= 1
        if error is None:
            counts["done"] += 1
        else:
            counts["failed"] += 1
            errors[cell.cell_id] = f"{type(error).__name__}: {error}"
            atomic_write_text(run_dir / "cells" / cell.cell_id / "error.txt", errors[cell.cell_id] + "\n")
        if on_cell is not None:
            on_cell(cell.cell_id, "done" if error is None else "failed")
        update()

    update()
    try:
        if pending:
            if executor == "local":
                _run_local(pending, resolved, run_dir, data_dir, workers, retries, counts, update, finished)
            else:
                _run_ray(
                    pending, resolved, run_dir, data_dir, workers, address, retries, counts, update, finished
                )
    finally:
        write_results(spec, run_dir)
        if bar is not None:
            bar.stop()
    return RunSummary(run_dir, counts["done"] - skipped, counts["failed"], skipped, errors)


def _run_local(pending, resolved, run_dir, data_dir, workers, retries, counts, update, finished) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    attempts = {cell.cell_id: 0 for cell in pending}
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {}

        def submit(cell: Cell) -> None:
            attempts[cell.cell_id] += 1
            future = pool.submit(
                run_cell, resolved, cell_payload(cell), str(run_dir / "cells" / cell.cell_id), data_dir
            )
            futures[future] = cell

        for cell in pending:
            submit(cell)
            counts["running"] += 1
        update()
        while futures:
            done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for future in done:
                cell = futures.pop(future)
                error = future.exception()
                if (
                    error is not None
                    and not isinstance(error, RlteError)
                    and attempts[cell.cell_id] <= retries
                ):
                    submit(cell)  # try again; a user error would fail the same way
                    continue
                finished(cell, error)


def _run_ray(
    pending, resolved, run_dir, data_dir, workers, address, retries, counts, update, finished
) -> None:
    try:
        import ray
    except ImportError:
        raise RlteError("--executor ray: Ray is not installed (pip install 'rlte[ray]')") from None
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     object_store_memory=100 * 1024 * 1024, _temp_dir=os.environ.get("RLTE_RAY_TMP", "/tmp/rlte-ray"))  # fmt: skip
    try:
        task = ray.remote(max_retries=retries, retry_exceptions=True, num_cpus=1)(run_cell)
        refs = {}
        for cell in pending:
            refs[
                task.remote(
                    resolved,
                    cell_payload(cell),
                    str(Path(run_dir).resolve() / "cells" / cell.cell_id),
                    data_dir,
                )
            ] = cell
            counts["running"] += 1
        update()
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                cell = refs.pop(ref)
                try:
                    ray.get(ref)
                    finished(cell, None)
                except Exception as err:  # the task's own error, after its retries
                    cause = getattr(err, "cause", None) or err
                    finished(cell, cause)
    finally:
        if started_here:
            ray.shutdown()
