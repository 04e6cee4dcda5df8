"""Run a spec's cells on a local process pool or a Ray cluster, into a run store that resumes.

The run store::

    runs/<spec name>/<run id>/
      spec.yaml          the resolved spec (written last when the run is created)
      run.json           when and where the run was created (``--resume`` picks the newest)
      run.lock           locked (flock) by the one process writing in the run, for the whole run
      run.lock.json      that process: pid, host, since when (emptied when it ends)
      results.csv        method,topology,traffic,load,scenario,seed,metric,value,runtime_s
      cells/<cell id>/   result.json, series.csv, log.txt, learning.csv, tb/, checkpoint.pt, error.txt
      figures/, report.md (from `rlte report`)

A cell is done when its ``result.json`` holds a result (written atomically, last; a file that does
not parse is set aside as ``result.json.invalid`` and the cell runs again). ``--resume`` skips
done cells and restarts the others, whose training continues from its last checkpoint. The same
cell gives the same numbers on either executor (timings aside): each runs in its own process with
one BLAS thread and its own seeds.

One writer per run: a run folder is created atomically (``mkdir``, which fails if it exists; a new
run id is a timestamp, with ``-2``, ``-3``, ... when runs start in the same second) and locked
before anything is written in it; a second process starting or resuming that run is refused with
one line naming the holder. Local workers end with the process that started them, even after
``kill -9`` (``PR_SET_PDEATHSIG`` on Linux, and a thread watching the parent's pid everywhere), so
the lock is never released while a cell still writes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from rlte.errors import RlteError
from rlte.experiments.cell import run_cell
from rlte.experiments.spec import Cell, Spec
from rlte.experiments.store import RESULT_COLUMNS
from rlte.fileio import atomic_write_text, read_yaml

EXECUTORS = ("local", "ray")
#: Files of a run folder besides spec.yaml, results.csv and cells/.
CREATED_FILE = "run.json"
LOCK_FILE = "run.lock"
HOLDER_FILE = "run.lock.json"
#: A result.json that is not a result (a truncated file, say) is renamed to this before its cell reruns.
INVALID_RESULT_FILE = "result.json.invalid"
#: prctl(2) option: the signal this process gets when its parent thread ends (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def code_commit() -> str:
    """The commit of the checkout rlte runs from (``+ uncommitted changes`` when its tracked files
    differ), or ``unknown`` (an installed copy, no git)."""
    from rlte.experiments.publish import checkout_commit, code_checkout

    return checkout_commit(code_checkout())


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


def _why(err: OSError) -> str:
    return err.strerror or str(err)


def _one_line(error: BaseException) -> str:
    """``Type: first line of the message`` (`` ...`` when it has more lines)."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return f"{type(error).__name__}: {lines[0]}" + (" ..." if len(lines) > 1 else "")


def _now() -> tuple[str, int]:
    """The time as ISO 8601 with the local offset, and as nanoseconds since the epoch."""
    ns = time.time_ns()
    return datetime.fromtimestamp(ns / 1e9).astimezone().isoformat(timespec="seconds"), ns


def _timestamp() -> str:
    """The stem of a new run id."""
    return time.strftime("%Y%m%d-%H%M%S")


def _read_json(path: Path):
    """A small JSON file's content, or None when it is missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


# ---------------------------------------------------------------------- the lock of a run
def _file_lock(path: Path, timeout: float):
    """A ``filelock`` lock on ``path`` (flock on Unix), never a soft lock (a lock file left by a
    killed run would refuse every later resume) and never unlinked on release."""
    from filelock import FileLock

    try:
        return FileLock(str(path), timeout=timeout, thread_local=False, fallback_to_soft=False,
                        preserve_lock_file=True)  # fmt: skip
    except TypeError:  # filelock 3: flock only, and the file stays on Unix
        return FileLock(str(path), timeout=timeout, thread_local=False)


class RunLock:
    """The exclusive lock of a run folder, held by the one process that writes in it.

    ``run.lock`` is locked with ``flock`` (through ``filelock``): the kernel releases it when the
    holder ends, however it ends, so a killed run leaves no stale lock. The holder writes its pid,
    host and start time in ``run.lock.json`` (emptied on release) so that a refused process can
    say who holds the run. That file is itself locked while a process takes the run lock and
    names itself, or reads who holds it: a refused process never reads it before the holder has
    written it. (So it is written in place, not renamed over: its lock stays on one file.)
    """

    #: How long to wait for another process to finish naming itself (it takes microseconds;
    #: only a process stopped in between, by Ctrl-Z say, holds it longer).
    NAMING_TIMEOUT_S = 10.0

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.lock_path = self.run_dir / LOCK_FILE
        self.holder_path = self.run_dir / HOLDER_FILE
        self._lock = None

    def _naming(self):
        """Take the lock of ``run.lock.json``; None when it cannot be had in time."""
        from filelock import Timeout

        naming = _file_lock(self.holder_path, self.NAMING_TIMEOUT_S)
        try:
            naming.acquire()
        except Timeout:
            return None  # the run lock alone still keeps writers apart; only a message may lag
        except OSError as err:
            raise RlteError(f"{self.holder_path}: cannot lock the run folder ({_why(err)})") from None
        return naming

    def acquire(self) -> RunLock:
        """Take the lock, or raise `RlteError` naming its holder; does not wait for the holder."""
        from filelock import Timeout

        naming = self._naming()
        try:
            lock = _file_lock(self.lock_path, 0)
            try:
                lock.acquire()
            except Timeout:
                raise RlteError(self.refusal()) from None
            except OSError as err:
                raise RlteError(f"{self.lock_path}: cannot lock the run folder ({_why(err)})") from None
            since, _ = _now()
            holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": since, "command": sys.argv}
            with contextlib.suppress(OSError):  # unnamed, the lock still keeps writers apart
                self._write_holder(json.dumps(holder) + "\n")
            self._lock = lock
        finally:
            if naming is not None:
                naming.release()
        return self

    def _write_holder(self, text: str) -> None:
        fd = os.open(self.holder_path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)

    def refusal(self) -> str:
        """The one-line message of a process refused the run."""
        holder = _read_json(self.holder_path)
        if isinstance(holder, dict) and {"pid", "host", "since"} <= set(holder):
            who = f"pid {holder['pid']} on {holder['host']} since {holder['since']}"
        else:  # it could not write the file, or was too long naming itself
            who = f"another process (not named in {self.holder_path.name})"
        return f"run {self.run_dir} is in use by {who}: wait for it to end, or start a new run"

    def release(self) -> None:
        """Let the run go (never raises: it runs while another error may be on its way out)."""
        if self._lock is None:
            return
        try:
            naming = self._naming()
        except RlteError:
            naming = None
        try:
            with contextlib.suppress(OSError):
                self._write_holder("")
        finally:
            self._lock.release()
            self._lock = None
            if naming is not None:
                naming.release()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# ---------------------------------------------------------------------- the run folder
def made_from(spec: Spec, run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` was started from this spec (as resolved: quick mode applied).

    Raises:
        RlteError: naming the file, when its ``spec.yaml`` is missing, not YAML or not a mapping.
    """
    path = Path(run_dir) / "spec.yaml"
    previous = read_yaml(path)
    if not isinstance(previous, dict):
        raise RlteError(f"{path}: not a run's spec (not a YAML mapping)")
    return previous == yaml.safe_load(yaml.safe_dump(spec.resolved(), sort_keys=False))


def check_run_id(value: str, option: str) -> str:
    """``value``, a run id: one folder name (not empty, no '/', no NUL, not '.' or '..')."""
    if not value or "/" in value or os.sep in value or "\0" in value or value in (".", ".."):
        raise RlteError(f"{option} {value!r}: a run id is a folder name (not empty, no '/')")
    return value


def _created_ns(run_dir: Path) -> int:
    """When a run was created: from its ``run.json``, else (runs made before it existed) the time
    its spec.yaml was written, which nothing rewrites."""
    created = _read_json(run_dir / CREATED_FILE)
    if isinstance(created, dict) and isinstance(created.get("created_ns"), int):
        return created["created_ns"]
    try:
        return (run_dir / "spec.yaml").stat().st_mtime_ns
    except OSError:
        return 0


def _newest_run(base: Path, spec_name: str) -> Path:
    try:
        candidates = [p for p in base.iterdir() if (p / "spec.yaml").is_file()] if base.is_dir() else []
    except OSError as err:
        raise RlteError(f"--resume: cannot list {base} ({_why(err)})") from None
    if not candidates:
        raise RlteError(f"--resume latest: no run of {spec_name!r} under {base}")
    return max(candidates, key=lambda p: (_created_ns(p), p.name))


def _new_run_folder(base: Path, run_id: str | None) -> Path:
    """Create the folder of a new run: ``run_id``, or the first free of ``<timestamp>``,
    ``<timestamp>-2``, ... (``mkdir`` fails if the folder exists, so two runs never share one)."""
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RlteError(f"{base}: cannot create the run store folder ({_why(err)})") from None
    if run_id is not None:
        run_dir = base / run_id
        try:
            run_dir.mkdir()
        except FileExistsError:
            if not run_dir.is_dir():
                raise RlteError(f"--run-id {run_id!r}: {run_dir} exists and is not a folder") from None
        except OSError as err:
            raise RlteError(f"{run_dir}: cannot create the run folder ({_why(err)})") from None
        return run_dir  # an existing folder: taken below only if it is not locked and holds no run
    stamp = _timestamp()
    for n in itertools.count(1):
        run_dir = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            continue
        except OSError as err:
            raise RlteError(f"{run_dir}: cannot create the run folder ({_why(err)})") from None
    raise AssertionError("itertools.count never ends")


@contextlib.contextmanager
def open_run(
    spec: Spec, runs_dir: str | os.PathLike, run_id: str | None = None, resume: str | None = None
) -> Iterator[Path]:
    """The run folder, locked for the duration of the ``with`` block: a new one (``run_id`` or a
    timestamp), or an existing one to resume (``resume``: a run id or ``latest``, the newest
    created), whose spec must be the same.

    Raises:
        RlteError: the run is held by another process (named), exists already, cannot be created,
            does not exist, or was made from another spec; ``runs_dir`` is not a folder.
    """
    root = Path(runs_dir)
    if root.exists() and not root.is_dir():
        raise RlteError(f"--runs-dir {root}: not a folder")
    base = root / spec.name
    if resume is not None:
        if resume == "latest":
            run_dir = _newest_run(base, spec.name)
        else:
            run_dir = base / check_run_id(resume, "--resume")
            if not (run_dir / "spec.yaml").is_file():
                raise RlteError(f"--resume {resume!r}: no run at {run_dir}")
        lock = RunLock(run_dir).acquire()
        try:
            if not made_from(spec, run_dir):
                raise RlteError(
                    f"--resume: {run_dir} was started with a different spec (start a new run instead)"
                )
        except BaseException:
            lock.release()
            raise
    else:
        run_dir = _new_run_folder(base, None if run_id is None else check_run_id(run_id, "--run-id"))
        lock = RunLock(run_dir).acquire()
        try:
            if (run_dir / "spec.yaml").exists():
                raise RlteError(f"run {run_dir} exists already: pass --resume {run_dir.name} to continue it")
            from rlte.experiments.publish import processor

            created, created_ns = _now()
            record = {"run_id": run_dir.name, "spec": spec.name, "created": created, "created_ns": created_ns,
                      "host": socket.gethostname(), "pid": os.getpid(), "commit": code_commit(),
                      "processor": processor()}  # fmt: skip
            atomic_write_text(run_dir / CREATED_FILE, json.dumps(record, indent=1) + "\n")
            atomic_write_text(run_dir / "spec.yaml", yaml.safe_dump(spec.resolved(), sort_keys=False))
        except OSError as err:
            lock.release()
            raise RlteError(f"{run_dir}: cannot write the run's files ({_why(err)})") from None
        except BaseException:
            lock.release()
            raise
    try:
        yield run_dir
    finally:
        lock.release()


# ---------------------------------------------------------------------- results
def read_result(path: str | os.PathLike) -> dict | None:
    """A cell's ``result.json``, or None when there is none: missing, unreadable, not JSON (a
    truncated file) or without the keys of a result."""
    result = _read_json(Path(path))
    if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
        return None
    for row in result["rows"]:
        if not isinstance(row, dict) or any(key not in row for key in RESULT_COLUMNS):
            return None
        try:
            float(row["value"])
            if row["load"] is not None:
                float(row["load"])
        except (TypeError, ValueError):
            return None
    return result


def write_results(spec: Spec, run_dir: Path) -> int:
    """Collect every done cell's rows into ``results.csv`` (cells in grid order). Returns the number
    of rows."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for cell in spec.cells():
        result = read_result(run_dir / "cells" / cell.cell_id / "result.json")
        if result is None:
            continue
        for row in result["rows"]:
            row = {
                **row,
                "load": "" if row["load"] is None else repr(float(row["load"])),
                "value": repr(float(row["value"])),
            }
            writer.writerow({key: row[key] for key in RESULT_COLUMNS})
            count += 1
    path = run_dir / "results.csv"
    try:
        atomic_write_text(path, out.getvalue())
    except OSError as err:
        raise RlteError(f"{path}: cannot write ({_why(err)})") from None
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


def _pending_cells(cells: list[Cell], run_dir: Path) -> list[Cell]:
    """The cells without a result; a ``result.json`` that is not one is set aside."""
    pending = []
    for cell in cells:
        path = run_dir / "cells" / cell.cell_id / "result.json"
        if read_result(path) is not None:
            continue
        if os.path.lexists(path):
            with contextlib.suppress(OSError):
                os.replace(path, path.with_name(INVALID_RESULT_FILE))
        pending.append(cell)
    return pending


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
        run_id / resume: name a new run, or continue one (``latest`` for the newest created).
        data_dir: the data directory, passed to every cell.
        progress: show a progress bar (cells done, running, failed, time left).
        retries: how many times a failed cell is tried again.
        on_cell: called with (cell id, "done" | "failed") as cells finish.

    Raises:
        RlteError: in one line, for anything that stops the whole run: another process holds
            it, its folder cannot be created or locked, its spec.yaml is unreadable, Ray does not
            start. A cell's own failure is not raised: it is counted, and written in the cell's
            ``error.txt`` (with its traceback).
    """
    if executor not in EXECUTORS:
        raise RlteError(f"--executor {executor!r}: unknown (choose from {', '.join(EXECUTORS)})")
    if workers < 1:
        raise RlteError(f"--workers {workers}: must be >= 1")
    with open_run(spec, runs_dir, run_id, resume) as run_dir:
        return _run_cells(spec, run_dir, executor, workers, address, data_dir, progress, retries, on_cell)


def _run_cells(spec, run_dir, executor, workers, address, data_dir, progress, retries, on_cell) -> RunSummary:
    cells = spec.cells()
    pending = _pending_cells(cells, run_dir)
    skipped = len(cells) - len(pending)
    resolved = spec.resolved()
    counts = {"done": skipped, "failed": 0, "running": len(pending)}
    errors: dict[str, str] = {}
    bar = _progress_bar(len(cells), progress)

    def update() -> None:
        if bar is not None:
            bar.update(bar.task_ids[0], completed=counts["done"] + counts["failed"],
                       description=f"cells: {counts['done']} done, {counts['running']} running, {counts['failed']} failed")  # fmt: skip

    def finished(cell: Cell, error: BaseException | None) -> None:
        counts["running"] -= 1
        error_file = run_dir / "cells" / cell.cell_id / "error.txt"
        if error is None:
            counts["done"] += 1
            with contextlib.suppress(OSError):  # what an earlier attempt left is no longer true
                error_file.unlink(missing_ok=True)
        else:
            counts["failed"] += 1
            message = _one_line(error)
            details = (
                "".join(traceback.format_exception(error)) if error.__traceback__ or error.__cause__ else ""
            )
            try:
                atomic_write_text(error_file, message + "\n" + (f"\n{details}" if details else ""))
            except OSError as err:
                message += f" (and {error_file} cannot be written: {_why(err)})"
            errors[cell.cell_id] = message
        if on_cell is not None:
            on_cell(cell.cell_id, "done" if error is None else "failed")
        update()

    update()
    try:
        try:
            (run_dir / "cells").mkdir(exist_ok=True)
        except OSError as err:
            raise RlteError(f"{run_dir / 'cells'}: cannot create ({_why(err)})") from None
        ready = []
        for cell in pending:
            cell_dir = run_dir / "cells" / cell.cell_id
            try:
                cell_dir.mkdir(exist_ok=True)
            except OSError as err:
                finished(cell, RlteError(f"cannot create the cell's folder {cell_dir} ({_why(err)})"))
            else:
                ready.append(cell)
        if ready:
            if executor == "local":
                _run_local(ready, resolved, run_dir, data_dir, workers, retries, finished)
            else:
                _run_ray(ready, resolved, run_dir, data_dir, workers, address, retries, finished)
    finally:
        try:
            write_results(spec, run_dir)
        finally:
            if bar is not None:
                bar.stop()
    return RunSummary(run_dir, counts["done"] - skipped, counts["failed"], skipped, errors)


# ---------------------------------------------------------------------- local pool
def _die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker when the process that started it ends, even by kill -9
    (a worker left running would write into a run that is no longer locked, and keep the
    multiprocessing resource tracker alive with it).

    On Linux the kernel sends SIGKILL when the parent ends (``prctl(PR_SET_PDEATHSIG)``); a daemon
    thread also ends the worker once its parent pid changes (the parent ended and the worker was
    given to another), wherever prctl is missing or fails."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watching thread below still ends the worker
    if os.getppid() != parent_pid:  # the parent ended before the signal was set
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="rlte-watch-parent", daemon=True).start()


def _watch_parent(parent_pid: int, interval_s: float = 1.0) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval_s)
    os._exit(1)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's workers now (their cells are abandoned; training resumes from checkpoints)."""
    kill = getattr(pool, "kill_workers", None)  # Python >= 3.14
    if kill is not None:
        kill()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.kill()


def _run_local(pending, resolved, run_dir, data_dir, workers, retries, finished) -> None:
    """Run the cells on a pool of spawned processes. A cell that fails with anything but an
    `RlteError` is tried again, up to ``retries`` times; a worker that dies (out of memory, say)
    breaks the pool, which is replaced, and its cells are tried again the same way."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    attempts = {cell.cell_id: 0 for cell in pending}
    queue = deque(pending)
    futures: dict = {}
    pool = None
    broken = False
    try:
        while queue or futures:
            if pool is not None and broken and not futures:
                pool.shutdown(wait=True)
                pool, broken = None, False
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                           initializer=_die_with_parent, initargs=(os.getpid(),))  # fmt: skip
            while queue and not broken:
                cell = queue[0]
                try:
                    future = pool.submit(
                        run_cell,
                        resolved,
                        cell_payload(cell),
                        str(run_dir / "cells" / cell.cell_id),
                        data_dir,
                    )
                except BrokenProcessPool:
                    broken = True
                    break
                queue.popleft()
                attempts[cell.cell_id] += 1
                futures[future] = cell
            if not futures:
                continue
            done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for future in done:
                cell = futures.pop(future)
                error = future.exception()
                broken = broken or isinstance(error, BrokenProcessPool)
                if (
                    error is not None
                    and not isinstance(error, RlteError)
                    and attempts[cell.cell_id] <= retries
                ):
                    queue.append(cell)  # try again; a user error would fail the same way
                    continue
                finished(cell, error)
    finally:
        if pool is not None:
            if queue or futures:  # interrupted (Ctrl-C) or failed: do not wait for cells in flight
                _stop_workers(pool)  # (cancelling futures too would race with the pool's own cleanup)
            pool.shutdown(wait=True)


# ---------------------------------------------------------------------- Ray
def _run_ray(pending, resolved, run_dir, data_dir, workers, address, retries, finished) -> None:
    try:
        import ray
    except ImportError:
        raise RlteError("--executor ray: Ray is not installed (pip install 'rlte[ray]')") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                         object_store_memory=100 * 1024 * 1024, _temp_dir=os.environ.get("RLTE_RAY_TMP", "/tmp/rlte-ray"))  # fmt: skip
        except Exception as err:  # a bad address, no cluster there, no room for the object store, ...
            where = f"connect to the Ray cluster at {address}" if address else "start a local Ray instance"
            raise RlteError(f"--executor ray: cannot {where} ({_one_line(err)})") from None
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
