"""`rlte reproduce`: the real seed-000 specs validate, and the command runs a tiny budget end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rlte.cli import main
from rlte.cli.experiments import REPRODUCTIONS
from rlte.experiments.publish import processor
from rlte.experiments.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", REPRODUCTIONS["seed000"])
def test_seed000_specs_validate(name, data_dir):
    for quick in (False, True):
        spec = load_spec(ROOT / "experiments" / f"{name}.yaml", quick=quick, data_dir=str(data_dir))
        assert len(spec.seeds) >= (2 if quick else 5)
        assert {"ecmp", "lp_opt"} <= {m.name for m in spec.methods}
        if name != "seed000_atra":  # every table and figure: the five baselines, OSPF weights, lp_paths
            assert {"sp", "sp_weight", "ecmp", "kpath_uniform", "lp_last", "lp_paths", "lp_opt"} <= {
                m.name for m in spec.methods
            }


@pytest.mark.parametrize("path", sorted((ROOT / "experiments").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_validates(path, data_dir):
    """Specs outside `rlte reproduce` (tuning, budget, tiny) must not rot either."""
    for quick in (False, True):
        spec = load_spec(path, quick=quick, data_dir=str(data_dir))
        assert spec.name == path.stem


@pytest.mark.parametrize("name", [name for names in REPRODUCTIONS.values() for name in names])
def test_paper_values_name_methods_and_scenarios_of_their_spec(name):
    """A published value whose method label or scenario the spec lacks would never meet an rlte number."""
    raw = yaml.safe_load((ROOT / "experiments" / f"{name}.yaml").read_text())
    methods = {m if isinstance(m, str) else m.get("label", m["name"]) for m in raw["methods"]}
    scenarios = {s["name"] for s in raw.get("scenarios") or [{"name": "plain"}]}
    for value in (raw.get("paper") or {}).get("values", []):
        assert value["method"] in methods, value
        assert "scenario" not in value or value["scenario"] in scenarios, value


@pytest.mark.slow
def test_reproduce_runs_every_spec_on_a_tiny_budget(tmp_path, capsys, monkeypatch):
    """The same command as `rlte reproduce seed000 --quick`, on tiny stand-ins for three of its specs."""
    monkeypatch.setitem(REPRODUCTIONS, "seed000", REPRODUCTIONS["seed000"][:3])
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in REPRODUCTIONS["seed000"]:
        tiny = {
            "name": name,
            "methods": ["ecmp", "lp_opt", {"name": "ma_trpo", "params": {"rollout_steps": 32}}],
            "topologies": ["nsfnet14"],
            "traffic": ["diurnal:gravity:1e9"],
            "loads": [0.6],
            "seeds": [0],
            "scenario": {"train_fraction": 0.95, "test_intervals": 6},
            "training": {"timesteps": 64, "checkpoint_every": 32},
            "env": {"episode_length": 16},
            "quick": {"training": {"timesteps": 32}},
        }
        (specs / f"{name}.yaml").write_text(yaml.safe_dump(tiny))
    code = main(
        [
            "reproduce",
            "seed000",
            "--quick",
            "--specs-dir",
            str(specs),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    for name in REPRODUCTIONS["seed000"]:
        report = tmp_path / "runs" / name / "quick" / "report.md"
        assert report.exists() and "ma_trpo (learned)" in report.read_text()
    # a second call resumes: nothing is run again
    assert not (tmp_path / "docs").exists()  # quick mode publishes only when asked
    # a second call resumes: nothing is run again; --publish writes the page from the runs
    published = tmp_path / "published"
    again = ["reproduce", "seed000", "--quick", "--specs-dir", str(specs), "--runs-dir", str(tmp_path / "runs"),
             "--no-progress", "--publish", str(published)]  # fmt: skip
    assert main(again) == 0
    out = capsys.readouterr().out
    assert "(resuming)" in out and f"published {published / 'seed000.md'}" in out
    page = (published / "seed000.md").read_text()
    assert page.startswith("# seed000: rlte's reproduction (quick mode)")
    for field in ("- Commit: `", "- Date: ", "- Machine: ", "- Time: ", "cores, Python"):
        assert field in page
    # the run line names the published folder, not the one on the machine that ran it
    assert str(tmp_path) not in page
    for name in REPRODUCTIONS["seed000"]:
        assert f"## rlte report: {name}" in page
        assert f"- Run: `runs/{name}/quick`" in page
        assert (
            f"- Run: `runs/{name}/quick`\n" in (published / "runs" / name / "quick" / "report.md").read_text()
        )
        for figure in (tmp_path / "runs" / name / "quick" / "figures").glob("*.png"):
            assert (published / "seed000" / name / figure.name).read_bytes() == figure.read_bytes()
            assert f"](seed000/{name}/{figure.name})" in page
    # a spec edited since: refused before anything runs, naming the folder; --run-id starts afresh
    last = REPRODUCTIONS["seed000"][-1]
    edited = yaml.safe_load((specs / f"{last}.yaml").read_text())
    edited["quick"]["training"]["timesteps"] = 64
    (specs / f"{last}.yaml").write_text(yaml.safe_dump(edited))
    command = ["reproduce", "seed000", "--quick", "--specs-dir", str(specs), "--runs-dir", str(tmp_path / "runs"),
               "--no-progress"]  # fmt: skip
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (
        f"rlte: error: {tmp_path / 'runs' / last / 'quick'}: made from another version of {last}.yaml; "
        "pass --run-id NAME for a new run (or move that folder away)\n"
    )
    assert main([*command, "--run-id", "again"]) == 0
    assert (tmp_path / "runs" / last / "again" / "report.md").exists()
    # every published run is a run store of its own: its results, spec and provenance, no cells
    for name in REPRODUCTIONS["seed000"]:
        run = published / "runs" / name / "quick"
        assert (run / "results.csv").read_text() == (
            tmp_path / "runs" / name / "quick" / "results.csv"
        ).read_text()
        assert sorted(p.name for p in run.iterdir()) == [
            "published.json",
            "report.md",
            "results.csv",
            "run.json",
            "spec.yaml",
        ]
        provenance = yaml.safe_load((run / "published.json").read_text())
        assert provenance["quick"] is True and provenance["workers"] == 2 and provenance["cell_minutes"] > 0
        # the commit the cells ran at (run.json records it) is the one this checkout published from
        assert provenance["run_commit"] == provenance["commit"] != "unknown"
        assert f"- Commit: `{provenance['commit']}`\n" in page
        # the processor the cells ran on (run.json records it; learned numbers depend on its kernels)
        assert provenance["run_processor"] == processor() and processor() in provenance["machine"]
    assert f"({processor()})" in page
    board = tmp_path / "board.md"
    assert main(["leaderboard", "--runs-dir", str(published / "runs"), "--out", str(board)]) == 0
    assert "ma_trpo" in board.read_text()
    # --only: one spec runs and is published; the page keeps the sections published before
    alone = REPRODUCTIONS["seed000"][0]
    capsys.readouterr()
    assert main([*again[:-2], "--publish", str(published), "--only", alone]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{alone}: ") and "1 specs in" in out
    assert [
        line for line in (published / "seed000.md").read_text().splitlines() if line.startswith("## ")
    ] == [f"## rlte report: {name}" for name in REPRODUCTIONS["seed000"]]
    # a page written before runs were published keeps its sections, with its header's provenance
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    kept = REPRODUCTIONS["seed000"][1]
    (legacy / "seed000.md").write_text(
        "# seed000: rlte's reproduction\n\n- Commit: `abc`\n- Date: 2026-01-01\n\n"
        f"## rlte report: {kept}\n\nthe old numbers\n\n### a table\n\n| x |\n"
    )
    assert main([*again[:-2], "--publish", str(legacy), "--only", alone]) == 0
    page = (legacy / "seed000.md").read_text()
    assert (
        f"## rlte report: {kept}\n\n- Commit: `abc`\n- Date: 2026-01-01\n\nthe old numbers\n\n### a table\n\n| x |\n"
        in page
    )
    assert page.index(f"## rlte report: {alone}") < page.index(f"## rlte report: {kept}")
    assert ", ".join(f"`{name}`" for name in REPRODUCTIONS["seed000"][2:]) + "." in page
    assert main([*again, "--only", "seed000_table9"]) == 2
    assert capsys.readouterr().err == (
        "rlte: error: --only 'seed000_table9': 'seed000_table9' is not a spec of seed000 (its specs: "
        + ", ".join(REPRODUCTIONS["seed000"])
        + ")\n"
    )


def test_published_runs_are_not_ignored_by_git():
    """What `rlte reproduce` publishes under docs/results/ is committed with the page: no .gitignore
    pattern (the run store's runs/, the figures' *.png) may hide it."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    published = [
        "docs/results/runs/seed002_table1/full/results.csv",
        "docs/results/runs/seed002_table1/full/run.json",
        "docs/results/seed002/seed002_table1/time-maroh_rhombus-maroh-plain-load0.4.png",
        "docs/results/seed002.md",
    ]
    ignored = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "--no-index", *published], capture_output=True, text=True
    )
    assert ignored.stdout == "", f"ignored by git: {ignored.stdout}"
    # and the run store's own folder is still ignored
    assert (
        subprocess.run(
            ["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index", "runs/x/results.csv"]
        ).returncode
        == 0
    )
