"""A link-weight spec (seed 002) end to end: `rlte run` on the rhombus, its report and its leaderboard row."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from rlte.cli import main
from rlte.experiments import figures


@pytest.mark.slow
def test_a_rhombus_spec_runs_reports_and_ranks(tmp_path, data_dir, capsys, monkeypatch):
    labels = {}  # figure file stem -> its x axes' labels, read before the figure is saved and closed
    original = figures.save_figure

    def capture(fig, path):
        labels[Path(path).stem.split("-")[0]] = {ax.get_xlabel() for ax in fig.axes} - {""}
        return original(fig, path)

    monkeypatch.setattr(figures, "save_figure", capture)
    spec = {
        "name": "tiny_maroh",
        "domain": "link_weights",
        "methods": ["ecmp", "phi_bound", "samaroh"],
        "topologies": ["maroh/rhombus"],
        "traffic": ["maroh"],
        "loads": [0.4],
        "seeds": [0],
        "training": {"timesteps": 4, "checkpoint_every": 1000},
        "scenario": {"statistics_window": 2, "curve_block": 2},
    }
    path = tmp_path / "tiny_maroh.yaml"
    path.write_text(yaml.safe_dump(spec))
    runs = tmp_path / "runs"
    command = ["run", str(path), "--runs-dir", str(runs), "--run-id", "r", "--workers", "1", "--report",
               "--no-progress", "--data-dir", str(data_dir)]  # fmt: skip
    assert main(command) == 0, capsys.readouterr()
    with open(runs / "tiny_maroh" / "r" / "results.csv") as handle:
        phi = {row["method"]: float(row["value"]) for row in csv.DictReader(handle) if row["metric"] == "phi"}
    # the bound is a splittable optimum: no unsplittable routing, learned or not, goes below it
    assert set(phi) == {"ecmp", "phi_bound", "samaroh"}
    assert phi["phi_bound"] <= min(phi["ecmp"], phi["samaroh"])
    report = (runs / "tiny_maroh" / "r" / "report.md").read_text()
    assert "- Training: 4 training episodes per learned cell\n" in report
    assert "| samaroh (learned) |" in report and "Phi, least window mean (x1000)" in report
    # the curves count training episodes, not environment steps or time
    assert labels["time"] == {"training episode"} and labels["learning"] == {"training episodes"}
    board = tmp_path / "board.md"
    assert main(["leaderboard", "--runs-dir", str(runs), "--out", str(board)]) == 0
    row = next(line for line in board.read_text().splitlines() if "| samaroh |" in line)
    assert "| learned |" in row and "| 4 episodes, " in row
