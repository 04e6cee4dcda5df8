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
        match=r"benchmark 'speed': unknown \(choose from all, flow, env, agents, lp, packet, cluster, maroh\)",
    ):
        run("speed")
    assert main(["bench", "--only", "speed"]) == 2  # the CLI's choices reject it first, in one line
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlte: error: ") and "invalid choice: 'speed'" in err[0]
