"""Specs, the runner on both executors, the run store's resume, and spec errors through the CLI."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rlte.cli import main
from rlte.errors import RlteError
from rlte.experiments.cell import FAIL_ONCE_ENV
from rlte.experiments.runner import run_spec
from rlte.experiments.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "experiments" / "tiny.yaml"
TIMING_METRICS = {"decision_ms", "train_s"}


def results(run_dir: Path) -> list[tuple]:
    """results.csv without the timings (which differ run to run)."""
    with open(run_dir / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    return [
        tuple(
            row[k] for k in ("method", "topology", "traffic", "load", "scenario", "seed", "metric", "value")
        )
        for row in rows
        if row["metric"] not in TIMING_METRICS
    ]


def small_spec(**changes) -> dict:
    spec = yaml.safe_load(TINY.read_text())
    spec.update(changes)
    return spec


# ---------------------------------------------------------------------- specs
def test_tiny_spec_cells_and_dry_run(capsys):
    spec = load_spec(TINY)
    cells = spec.cells()
    assert len(cells) == 3 * 2
    assert len({cell.cell_id for cell in cells}) == 6
    assert main(["run", str(TINY), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "tiny: 6 cells" in out and "sb3_ppo" in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"methods": ["ecmp", "ospf"]}, "spec: methods[1]: unknown method 'ospf'"),
        (
            {"methods": ["ecmp", "lp_opt2"]},
            "spec: methods[1]: unknown method 'lp_opt2' (did you mean 'lp_opt'?)",
        ),
        ({"method": ["ecmp"]}, "spec: unknown key 'method' (did you mean 'methods'?)"),
        ({"training": {"timestep": 5}}, "spec: training: unknown key 'timestep' (did you mean 'timesteps'?)"),
        (
            {"methods": [{"name": "sb3_ppo", "params": {"lr": 1}}]},
            "spec: methods[0] (sb3_ppo): unknown parameter 'lr'",
        ),
        ({"loads": [0.5, -1]}, "spec: loads: -1 must be a number > 0"),
        (
            {"scenario": {"bursts": [0.1, 2, 2], "nois": 0.1}},
            "spec: scenario: unknown key 'nois' (did you mean 'noise'?)",
        ),
        (
            {"topologies": ["sndlib/abilen"]},
            "spec: topology 'sndlib/abilen': unknown topohub id (did you mean 'sndlib/abilene'",
        ),
        ({"name": ""}, "spec: 'name' must be a non-empty string without '/'"),
        ({"methods": []}, "spec: methods: empty"),
        ({"env": {"neighbors": True}}, "spec: env: unknown key 'neighbors' (did you mean 'neighbours'?)"),
    ],
)
def test_malformed_specs(change, message):
    with pytest.raises(RlteError) as error:
        parse_spec(small_spec(**change), "spec")
    assert str(error.value).startswith(message)


def test_missing_data_file_is_named(tmp_path):
    with pytest.raises(RlteError, match=r"abilene/Abilene: missing from the data directory"):
        parse_spec(small_spec(topologies=["abilene"], traffic=["abilene"]), "spec", data_dir=str(tmp_path))


def test_spec_errors_through_the_cli(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmethods: [ecmp\n")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rlte: error: {bad}:") and "not valid YAML" in err[0]
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump(small_spec(seed=[1])))
    assert main(["run", str(typo)]) == 2
    assert (
        capsys.readouterr().err.strip() == f"rlte: error: {typo}: unknown key 'seed' (did you mean 'seeds'?)"
    )
    assert main(["run", str(tmp_path / "none.yaml")]) == 2
    assert "no such spec file" in capsys.readouterr().err


# ---------------------------------------------------------------------- running
def test_local_run_writes_the_store_and_resume_skips_done_cells(tmp_path):
    spec = load_spec(TINY)
    summary = run_spec(spec, runs_dir=tmp_path, run_id="one", progress=False)
    run_dir = tmp_path / "tiny" / "one"
    assert summary.done == 6 and summary.failed == 0
    with open(run_dir / "results.csv") as handle:
        header = handle.readline().strip()
    assert header == "method,topology,traffic,load,scenario,seed,metric,value,runtime_s"
    rows = results(run_dir)
    mlu = {(r[0], r[5]): float(r[7]) for r in rows if r[6] == "mlu"}
    for seed in ("0", "1"):
        assert (
            mlu[("lp_opt", seed)] <= mlu[("ecmp", seed)] and mlu[("lp_opt", seed)] <= mlu[("sb3_ppo", seed)]
        )
    ppo_cell = next(p for p in (run_dir / "cells").iterdir() if p.name.startswith("sb3_ppo"))
    assert (ppo_cell / "checkpoint.pt").exists() and (ppo_cell / "learning.csv").exists()
    log = (ppo_cell / "log.txt").read_text()
    assert "training and" in log and "evaluated" in log and log.rstrip().endswith("done")
    assert any((ppo_cell / "tb").rglob("events.out.tfevents*"))
    again = run_spec(spec, runs_dir=tmp_path, resume="one", progress=False)
    assert again.skipped == 6 and again.done == 0
    assert results(run_dir) == rows
    with pytest.raises(RlteError, match=r"exists already: pass --resume one"):
        run_spec(spec, runs_dir=tmp_path, run_id="one", progress=False)
    changed = parse_spec(small_spec(seeds=[0]), "spec")
    with pytest.raises(RlteError, match=r"was started with a different spec"):
        run_spec(changed, runs_dir=tmp_path, resume="one", progress=False)


def test_local_pool_retries_a_failed_cell(tmp_path, monkeypatch):
    monkeypatch.setenv(FAIL_ONCE_ENV, str(tmp_path / "markers"))
    spec = parse_spec(small_spec(methods=["ecmp"], seeds=[0]), "spec")
    summary = run_spec(spec, runs_dir=tmp_path, run_id="r", progress=False, retries=1)
    assert summary.done == 1 and summary.failed == 0
    assert len(list((tmp_path / "markers").iterdir())) == 1  # it did fail once
    monkeypatch.setenv(FAIL_ONCE_ENV, str(tmp_path / "markers2"))
    summary = run_spec(spec, runs_dir=tmp_path, run_id="s", progress=False, retries=0)
    assert summary.failed == 1 and "injected failure" in next(iter(summary.errors.values()))


@pytest.mark.slow
def test_ray_gives_the_local_results_and_retries(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    import tempfile

    ray_tmp = tempfile.mkdtemp(prefix="rlte-ray-", dir="/tmp")  # Ray's socket paths must stay short
    monkeypatch.setenv("RLTE_RAY_TMP", ray_tmp)
    spec = load_spec(TINY)
    run_spec(spec, runs_dir=tmp_path, run_id="local", progress=False)
    monkeypatch.setenv(FAIL_ONCE_ENV, str(tmp_path / "markers"))  # every Ray task fails once
    summary = run_spec(spec, executor="ray", runs_dir=tmp_path, run_id="ray", progress=False, retries=2)
    assert summary.failed == 0 and summary.done == 6
    assert len(list((tmp_path / "markers").iterdir())) == 6
    assert results(tmp_path / "tiny" / "ray") == results(tmp_path / "tiny" / "local")


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_results(tmp_path):
    """kill -9 the whole run while PPO trains; --resume ends with an uninterrupted run's results."""
    spec_dict = small_spec(
        methods=["ecmp", {"name": "sb3_ppo", "params": {"n_steps": 64, "batch_size": 32, "n_epochs": 2}}],
        seeds=[0],
        training={"timesteps": 1536, "checkpoint_every": 64},
    )
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec_dict))
    spec = load_spec(spec_path)
    run_spec(spec, runs_dir=tmp_path / "clean", run_id="x", progress=False, workers=1)
    command = [
        sys.executable,
        "-m",
        "rlte",
        "run",
        str(spec_path),
        "--runs-dir",
        str(tmp_path / "killed"),
        "--run-id",
        "x",
        "--workers",
        "1",
        "--no-progress",
    ]
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    run_dir = tmp_path / "killed" / "tiny" / "x"
    deadline = time.time() + 120
    checkpoint = None
    while time.time() < deadline and checkpoint is None:
        found = list(run_dir.glob("cells/sb3_ppo*/checkpoint.pt"))
        checkpoint = found[0] if found else None
        time.sleep(0.05)
    assert checkpoint is not None, "training never checkpointed"
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    ppo_dir = checkpoint.parent
    assert not (ppo_dir / "result.json").exists(), "the run finished before it was killed"
    resumed = subprocess.run([*command, "--resume", "x"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert results(run_dir) == results(tmp_path / "clean" / "tiny" / "x")
