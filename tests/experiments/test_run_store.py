"""The run store under concurrency and damage, and a run's processes ending with it.

Some helpers below run inside pool workers: the workers import this module by name (it is on
their ``sys.path``, which spawned processes inherit).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from rlte.cli import main
from rlte.errors import RlteError
from rlte.experiments import runner
from rlte.experiments.cell import run_cell
from rlte.experiments.runner import RunLock, open_run, read_result, run_spec, write_results
from rlte.experiments.spec import parse_spec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TINY = ROOT / "experiments" / "tiny.yaml"
#: Test hooks read by the cell stand-ins below (in worker processes).
STARTED_ENV = "RLTE_TEST_STARTED_DIR"
CRASHED_ENV = "RLTE_TEST_CRASHED_DIR"
#: Generous: how long processes may take to start or to end on a loaded machine.
DEADLINE_S = 120.0


def spec_dict(**changes) -> dict:
    """tiny.yaml with baselines only (cells of a second or so)."""
    spec = yaml.safe_load(TINY.read_text())
    spec.update({"methods": ["ecmp"], "seeds": [0, 1], **changes})
    return spec


def make_spec(**changes):
    return parse_spec(spec_dict(**changes), "spec")


def rows_without_timings(run_dir: Path) -> list[tuple]:
    with open(run_dir / "results.csv") as handle:
        return [
            tuple(
                row[k]
                for k in ("method", "topology", "traffic", "load", "scenario", "seed", "metric", "value")
            )
            for row in csv.DictReader(handle)
            if row["metric"] not in {"decision_ms", "train_s"}
        ]


def refused_by_this_process(message: str, run_dir: Path) -> bool:
    return message.startswith(
        f"run {run_dir} is in use by pid {os.getpid()} on {socket.gethostname()} since "
    ) and message.endswith(": wait for it to end, or start a new run")


# ---------------------------------------------------------------------- cell stand-ins (in workers)
def blocking_cell(spec, cell, cell_dir, data_dir=None):
    """Says it started (a file named after its pid), then blocks until its process is killed."""
    (Path(os.environ[STARTED_ENV]) / f"{os.getpid()}").write_text(cell["cell_id"])
    threading.Event().wait()


def crashing_cell(spec, cell, cell_dir, data_dir=None):
    """Kills its worker process the first time (as the out-of-memory killer would), then runs."""
    marker = Path(os.environ[CRASHED_ENV]) / cell["cell_id"]
    if not marker.exists():
        marker.write_text("crashed\n")
        os._exit(1)
    return run_cell(spec, cell, cell_dir, data_dir)


def watchdog_only(parent_pid: int) -> None:
    """The pool initializer without prctl: only the thread watching the parent's pid."""
    threading.Thread(target=runner._watch_parent, args=(parent_pid,), daemon=True).start()


# ---------------------------------------------------------------------- one writer per run
def test_runs_started_in_the_same_second_get_distinct_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_timestamp", lambda: "20260101-000000")
    spec = make_spec()
    barrier = threading.Barrier(4, timeout=DEADLINE_S)
    opened: list[Path] = []
    failures: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            with open_run(spec, tmp_path) as run_dir:
                opened.append(run_dir)
                barrier.wait()  # every run is held at once
        except BaseException as err:  # reported below
            failures.append(err)
            barrier.abort()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert sorted(p.name for p in opened) == [
        "20260101-000000", "20260101-000000-2", "20260101-000000-3", "20260101-000000-4"
    ]  # fmt: skip
    for run_dir in opened:
        assert (run_dir / "spec.yaml").is_file()
        assert json.loads((run_dir / "run.json").read_text())["run_id"] == run_dir.name


def _start_twice_at_once(spec, runs_dir: Path, run_id: str) -> list[str]:
    """Two threads open one new run at once, each holding what it opened until both have tried;
    returns "opened" or the refusal of each."""
    barrier = threading.Barrier(2, timeout=DEADLINE_S)
    outcomes: list[str] = []

    def start() -> None:
        barrier.wait()
        try:
            with open_run(spec, runs_dir, run_id=run_id):
                outcomes.append("opened")
                barrier.wait()
        except RlteError as err:
            outcomes.append(str(err))
            barrier.wait()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_one_run_id_started_twice_at_once_runs_once(tmp_path):
    spec = make_spec()
    for attempt in range(10):
        outcomes = _start_twice_at_once(spec, tmp_path, f"x{attempt}")
        assert outcomes.count("opened") == 1, outcomes
        (refusal,) = [o for o in outcomes if o != "opened"]
        assert refused_by_this_process(refusal, tmp_path / "tiny" / f"x{attempt}"), refusal


def test_a_held_run_is_refused_in_one_line_naming_its_holder(tmp_path, capsys):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec_dict(name="held")))
    spec = parse_spec(spec_dict(name="held"), "held")
    runs = tmp_path / "runs"
    with open_run(spec, runs, run_id="x") as run_dir:
        holder = json.loads((run_dir / "run.lock.json").read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        for kwargs in ({"resume": "x"}, {"resume": "latest"}, {"run_id": "x"}):
            with pytest.raises(RlteError) as refused:
                run_spec(spec, runs_dir=runs, progress=False, **kwargs)
            assert refused_by_this_process(str(refused.value), run_dir), refused.value
        # a second `rlte run --resume` of the run: exit 2, one line, no cell run
        resumed = subprocess.run(
            [sys.executable, "-m", "rlte", "run", str(spec_path), "--runs-dir", str(runs), "--resume", "x",
             "--no-progress"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert resumed.returncode == 2, resumed.stderr
        lines = resumed.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            f"rlte: error: run {run_dir} is in use by pid {os.getpid()}"
        )
        assert not (run_dir / "cells").exists()
    assert (run_dir / "run.lock.json").read_text() == ""  # no holder
    # between mkdir and spec.yaml (a run being created): the folder is locked already
    (runs / "held" / "y").mkdir()
    with RunLock(runs / "held" / "y"):
        with pytest.raises(RlteError, match="is in use by pid"):
            run_spec(spec, runs_dir=runs, run_id="y", progress=False)
    assert main(["run", str(spec_path), "--runs-dir", str(runs), "--run-id", "x", "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"rlte: error: run {run_dir} exists already: pass --resume x to continue it"
    )


def test_resume_latest_is_the_newest_created_whatever_the_names_and_mtimes(tmp_path):
    spec = make_spec()
    for run_id in ("zzz", "aaa"):
        with open_run(spec, tmp_path, run_id=run_id):
            pass
    later = time.time() + 3600
    for path in (tmp_path / "tiny" / "zzz", tmp_path / "tiny" / "zzz" / "spec.yaml"):
        os.utime(path, (later, later))  # copied, touched: mtimes say nothing of creation
    with open_run(spec, tmp_path, resume="latest") as run_dir:
        assert run_dir.name == "aaa"
    # a run without a (valid) record, made before records existed: the time its spec.yaml was written
    (tmp_path / "tiny" / "zzz" / "run.json").write_text("{trunc")
    with open_run(spec, tmp_path, resume="latest") as run_dir:
        assert run_dir.name == "zzz"


# ---------------------------------------------------------------------- damaged stores
def test_runs_dir_naming_a_file_is_one_line(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.write_text("not a folder\n")
    for extra in ([], ["--resume"], ["--run-id", "x"]):
        assert main(["run", str(TINY), "--runs-dir", str(runs), "--no-progress", *extra]) == 2
        assert capsys.readouterr().err.strip() == f"rlte: error: --runs-dir {runs}: not a folder"
    nested = runs / "below"
    assert main(["run", str(TINY), "--runs-dir", str(nested), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rlte: error: {nested / 'tiny'}: cannot create")


@pytest.mark.parametrize(
    "content",
    [b"name: [tiny\n", b"- just\n- a list\n", b"\x00\x9f\x92\x96 binary \xff", b"name: 2020-02-30\n"],
    ids=["not-yaml", "not-a-mapping", "binary", "bad-date"],
)
def test_resume_over_a_corrupt_run_spec_is_one_line_naming_it(tmp_path, capsys, content):
    spec = parse_spec(yaml.safe_load(TINY.read_text()), "tiny")
    with open_run(spec, tmp_path, run_id="x") as run_dir:
        pass
    (run_dir / "spec.yaml").write_bytes(content)
    for resume in ("x", "latest"):
        with pytest.raises(RlteError) as error:
            run_spec(spec, runs_dir=tmp_path, resume=resume, progress=False)
        assert str(error.value).startswith(f"{run_dir / 'spec.yaml'}") and "\n" not in str(error.value)
    assert main(["run", str(TINY), "--runs-dir", str(tmp_path), "--resume", "x", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rlte: error: {run_dir / 'spec.yaml'}")


def test_a_result_that_is_not_one_is_no_result(tmp_path):
    row = {"method": "ecmp", "topology": "t", "traffic": "f", "load": 0.6, "scenario": "plain", "seed": 0,
           "metric": "mlu", "value": 0.5, "runtime_s": 1.0}  # fmt: skip
    path = tmp_path / "result.json"
    good = {"cell": {}, "rows": [row]}
    path.write_text(json.dumps(good))
    assert read_result(path) == good
    damaged = [
        json.dumps(good)[:40],  # truncated
        "",
        "[]",
        json.dumps({"cell": {}}),
        json.dumps({"rows": [{k: v for k, v in row.items() if k != "value"}]}),
        json.dumps({"rows": [{**row, "value": "high"}]}),
        json.dumps({"rows": [{**row, "load": [1]}]}),
    ]
    for text in damaged:
        path.write_text(text)
        assert read_result(path) is None, text
    path.write_bytes(b"\xff\xfe\x00")
    assert read_result(path) is None
    assert read_result(tmp_path / "missing.json") is None


def test_resume_reruns_a_cell_whose_result_is_truncated(tmp_path):
    spec = make_spec()
    first = run_spec(spec, runs_dir=tmp_path, run_id="r", progress=False)
    assert first.done == 2
    run_dir = first.run_dir
    expected = rows_without_timings(run_dir)
    damaged_cell = spec.cells()[1].cell_id
    result = run_dir / "cells" / damaged_cell / "result.json"
    result.write_text(result.read_text()[: len(result.read_text()) // 2])  # a disk that filled up, say
    assert write_results(spec, run_dir) == len(expected) // 2 + 1  # the other cell's rows only
    again = run_spec(spec, runs_dir=tmp_path, resume="r", progress=False)
    assert (again.done, again.skipped, again.failed) == (1, 1, 0)
    assert rows_without_timings(run_dir) == expected
    assert (run_dir / "cells" / damaged_cell / "result.json.invalid").exists()


def test_a_cell_whose_folder_cannot_be_created_fails_alone_in_one_line(tmp_path):
    spec = make_spec()
    with open_run(spec, tmp_path, run_id="r") as run_dir:
        pass
    blocked = spec.cells()[0].cell_id
    (run_dir / "cells").mkdir()
    (run_dir / "cells" / blocked).write_text("a file where the cell's folder goes\n")
    summary = run_spec(spec, runs_dir=tmp_path, resume="r", progress=False)
    assert (summary.done, summary.failed) == (1, 1)
    message = summary.errors[blocked]
    assert "\n" not in message and f"cannot create the cell's folder {run_dir / 'cells' / blocked}" in message
    (run_dir / "cells" / blocked).unlink()
    summary = run_spec(spec, runs_dir=tmp_path, resume="r", progress=False)
    assert (summary.done, summary.failed, summary.skipped) == (1, 0, 1)


def test_a_worker_that_dies_is_replaced_and_its_cells_retried(tmp_path, monkeypatch):
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    monkeypatch.setenv(CRASHED_ENV, str(crashed))
    monkeypatch.setattr(runner, "run_cell", crashing_cell)
    spec = make_spec()
    # each cell kills its worker once, and may be cut short once by the other's crash
    summary = run_spec(spec, runs_dir=tmp_path, run_id="r", progress=False, retries=2)
    assert (summary.done, summary.failed) == (2, 0), summary.errors
    assert sorted(p.name for p in crashed.iterdir()) == sorted(c.cell_id for c in spec.cells())


def test_ray_that_does_not_start_is_one_line(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")

    def refuse(*args, **kwargs):
        raise ConnectionError("could not reach the GCS\n(a second line of detail)")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    spec = make_spec()
    with pytest.raises(RlteError) as error:
        run_spec(spec, executor="ray", runs_dir=tmp_path, run_id="local", progress=False)
    assert str(error.value) == (
        "--executor ray: cannot start a local Ray instance (ConnectionError: could not reach the GCS ...)"
    )
    with pytest.raises(
        RlteError, match=r"^--executor ray: cannot connect to the Ray cluster at nowhere:1 \("
    ):
        run_spec(
            spec, executor="ray", address="nowhere:1", runs_dir=tmp_path, run_id="remote", progress=False
        )


# ---------------------------------------------------------------------- processes end with the run
def _stat(pid: int) -> list[str] | None:
    """Fields 3... of /proc/<pid>/stat (state, ppid, ...), or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _children(pid: int) -> dict[int, str]:
    """pid -> start time of the live children of ``pid``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid and fields[0] not in "ZX":
                found[int(entry.name)] = fields[19]
    return found


def _alive(pid: int, start: str) -> bool:
    fields = _stat(
        pid
    )  # a zombie is dead (in a container nobody may reap it); a new start is another process
    return fields is not None and fields[0] not in "ZX" and fields[19] == start


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _as_from_a_terminal() -> None:
    """In the child before exec: SIGINT handled by default and no signal blocked, as a command started
    from a shell gets them. Ignored and blocked signals survive exec, and the test process may have
    inherited or set either (an earlier test in the same worker, a runner started in the background)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _start_blocking_run(
    tmp_path: Path, *, watchdog_only: bool
) -> tuple[subprocess.Popen, Path, dict[int, str]]:
    """`rlte run` in a subprocess whose two cells block; returns it once both cells run, with its
    children (pid -> start time): the two workers and the multiprocessing resource tracker."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec_dict()))
    started = tmp_path / "started"
    started.mkdir()
    script = (
        f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
        "import test_run_store\n"
        "from rlte.experiments import runner\n"
        "runner.run_cell = test_run_store.blocking_cell\n"
        + ("runner._die_with_parent = test_run_store.watchdog_only\n" if watchdog_only else "")
        + "from rlte.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    command = [sys.executable, "-c", script, "run", str(spec_path), "--runs-dir", str(tmp_path / "runs"),
               "--run-id", "x", "--workers", "2", "--no-progress"]  # fmt: skip
    stderr = open(tmp_path / "stderr.txt", "w")  # the child keeps its own copy of the descriptor
    process = subprocess.Popen(
        command, env={**os.environ, STARTED_ENV: str(started)}, stdout=subprocess.DEVNULL, stderr=stderr,
        preexec_fn=_as_from_a_terminal,
    )  # fmt: skip
    stderr.close()
    deadline = time.monotonic() + DEADLINE_S
    while len(list(started.iterdir())) < 2:
        assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
        assert time.monotonic() < deadline, "the cells never started"
        time.sleep(0.05)
    workers = {int(p.name) for p in started.iterdir()}
    children = _children(process.pid)
    assert workers <= set(children), (workers, children)
    trackers = [pid for pid in children if "resource_tracker" in _cmdline(pid)]
    assert len(trackers) == 1, {pid: _cmdline(pid) for pid in children}
    return process, tmp_path / "runs" / "tiny" / "x", children


def _assert_all_end(processes: dict[int, str]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    try:
        while any(_alive(pid, start) for pid, start in processes.items()):
            assert time.monotonic() < deadline, {
                pid: _cmdline(pid) for pid, start in processes.items() if _alive(pid, start)
            }
            time.sleep(0.05)
    finally:  # never leave them behind, even when the test fails
        for pid, start in processes.items():
            if _alive(pid, start):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("watchdog_only", [False, True], ids=["pdeathsig", "watchdog-thread"])
def test_kill_9_of_the_run_takes_its_workers_and_resource_tracker(tmp_path, watchdog_only):
    process, run_dir, children = _start_blocking_run(tmp_path, watchdog_only=watchdog_only)
    try:
        os.kill(process.pid, signal.SIGKILL)  # the run's process alone, not its process group
        process.wait()
    finally:
        _assert_all_end(children)
    with RunLock(run_dir):  # the kernel released the lock: the run can be resumed
        pass


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_of_the_run_ends_its_cells_at_once(tmp_path):
    """SIGINT to the run's process alone: it stops its workers (not waiting for their cells) and
    exits 130 with one line."""
    process, run_dir, children = _start_blocking_run(tmp_path, watchdog_only=False)
    try:
        os.kill(process.pid, signal.SIGINT)
        assert process.wait(timeout=DEADLINE_S) == 130
    finally:
        if process.poll() is None:
            process.kill()
        _assert_all_end(children)
    assert (tmp_path / "stderr.txt").read_text().strip().splitlines()[-1] == "rlte: interrupted"
    assert (run_dir / "results.csv").exists() and (run_dir / "run.lock.json").read_text() == ""


# ---------------------------------------------------------------------- solver output
@pytest.mark.slow
def test_no_highs_banner_in_the_output(tmp_path):
    """HiGHS prints its banner from the first solver a process builds: not in `rlte baselines`,
    nor in `rlte run` (from its workers)."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec_dict(methods=["lp_opt"], seeds=[0])))
    commands = [
        ["baselines", "--topology", "sndlib/abilene", "--traffic", "topohub", "--methods", "lp_opt"],
        ["run", str(spec_path), "--runs-dir", str(tmp_path / "runs"), "--no-progress"],
    ]
    for command in commands:
        done = subprocess.run([sys.executable, "-m", "rlte", *command], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        output = done.stdout + done.stderr
        assert "HiGHS" not in output and "Copyright" not in output, output
        assert "lp_opt" in done.stdout or "1 cells run" in done.stdout
