"""`rlte leaderboard`: its numbers equal the runs' own ``results.csv`` (means, Student-t intervals,
paired gaps to the reference), the newest run of each spec is chosen, and a bad run folder gets one
line and exit code 2."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy import stats

from rlte.cli import main
from rlte.experiments.leaderboard import COLUMNS, collect, run_folders, write_leaderboard
from tests.experiments.test_report import LOADS, SEEDS, make_run, mlu_of


def hand_summary(values):
    values = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean(), half


def test_rows_equal_the_results_by_hand(tmp_path):
    run = make_run(tmp_path)
    rows, _ = collect([run])
    assert {(row["method"], row["load"]) for row in rows} == {(m, load) for m in ("ecmp", "trpo", "lp_opt")
                                                              for load in LOADS}  # fmt: skip
    for row in rows:
        values = [mlu_of(row["method"], row["load"], seed) for seed in SEEDS]
        mean, half = hand_summary(values)
        assert row["mean"] == pytest.approx(mean, rel=1e-12)
        assert row["seeds"] == len(SEEDS) and row["metric"] == "mlu"
        if row["method"] == "lp_opt":
            assert row["gap"] is None and row["kind"] == "oracle"
            continue
        assert row["ci95"] == pytest.approx(half, rel=1e-9)
        gaps = [mlu_of(row["method"], row["load"], s) / mlu_of("lp_opt", row["load"], s) - 1 for s in SEEDS]
        gap_mean, gap_half = hand_summary(gaps)
        assert row["gap"] == pytest.approx(gap_mean, rel=1e-12)
        assert row["gap_ci95"] == pytest.approx(gap_half, rel=1e-9)
        learned = row["method"] == "trpo"
        assert row["kind"] == ("learned" if learned else "classical")
        assert row["train_timesteps"] == (100 if learned else None)
        assert row["train_s"] == (3.0 if learned else None)


def test_markdown_and_csv(tmp_path):
    run = make_run(tmp_path)
    markdown, table = write_leaderboard([run], tmp_path / "out" / "leaderboard.md")
    text = markdown.read_text()
    assert text.startswith("# rlte leaderboard") and "## flow_te" in text
    # trpo at load 0.7: 0.72 + (0, 0.01, 0.04) over 0.70: its gap, in percent with one decimal
    gaps = [(0.72 + 0.01 * s**2) / 0.70 - 1 for s in SEEDS]
    mean, half = hand_summary(gaps)
    assert "| fake_run | toy · gravity · bursts · load 0.7 | trpo | learned | " in text
    assert f"+{100 * mean:.1f} % ± {100 * half:.1f}" in text
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 3 * len(LOADS)


def test_the_newest_run_of_each_spec(tmp_path):
    for name, created in (("old", 1), ("new", 2)):
        folder = tmp_path / "store" / "fake_run" / name
        folder.parent.mkdir(parents=True, exist_ok=True)
        made = make_run(_fresh(tmp_path, name))
        made.rename(folder)
        (folder / "run.json").write_text(json.dumps({"created_ns": created * 10**18}))
    assert run_folders(tmp_path / "store") == [tmp_path / "store" / "fake_run" / "new"]
    assert run_folders(tmp_path / "store", every_run=True) == [
        tmp_path / "store" / "fake_run" / "old",
        tmp_path / "store" / "fake_run" / "new",
    ]


def _fresh(tmp_path, name):
    folder = tmp_path / f"made-{name}"
    folder.mkdir()
    return folder


def test_cli_writes_both(tmp_path, capsys):
    run = make_run(tmp_path)
    assert main(["leaderboard", str(run), "--out", str(tmp_path / "lb.md")]) == 0
    assert (tmp_path / "lb.md").exists() and (tmp_path / "lb.csv").exists()
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("setup, message", [
    ("missing", "no such run folder"),
    ("no_results", "results.csv: no such file"),
    ("empty_store", "no run folder with a results.csv under it"),
])  # fmt: skip
def test_a_bad_run_folder_is_one_line_and_exit_2(tmp_path, capsys, setup, message):
    out = str(tmp_path / "lb.md")
    if setup == "missing":
        argv = ["leaderboard", str(tmp_path / "nowhere"), "--out", out]
    elif setup == "no_results":
        (tmp_path / "run").mkdir()
        argv = ["leaderboard", str(tmp_path / "run"), "--out", out]
    else:
        (tmp_path / "store").mkdir()
        argv = ["leaderboard", "--runs-dir", str(tmp_path / "store"), "--out", out]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlte: error: ") and message in lines[0], lines
    assert not (tmp_path / "lb.md").exists()
