"""The cluster domain end to end: a grid through the runner (baselines, the pooled reference below
them, learned methods), no_migration and a zero ratio against the plain dispatcher, the training
set-up that differs from the evaluated one, the learned agents moving work to the fast node of a
two-node cluster, TD3 through the CLI, and bad specs refused in one line with exit 2."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml

from rlte.cli import main
from rlte.domains import get_domain, get_method
from rlte.domains.cluster import ClusterScenario
from rlte.envs import make
from rlte.errors import RlteError
from rlte.experiments.report import write_report
from rlte.experiments.runner import run_spec
from rlte.experiments.spec import parse_spec
from rlte.sim.cluster import S_DONE

#: 4 heterogeneous nodes, 6 half-second bins (4 to train on, 2 evaluated): about a second per cell.
SCENARIO = {"bins": 6, "bin_duration": 500.0}
TINY_TD3 = {"hidden_sizes": [16], "critic_hidden_sizes": [16], "batch_size": 16, "learning_starts": 20,
            "log_interval": 50}  # fmt: skip
GRID = {
    "name": "cluster_small",
    "domain": "cluster",
    "methods": ["round_robin", "jsq", "no_migration", "fixed_ratio", "pooled", {"name": "td3", "params": TINY_TD3},
                {"name": "qlearning", "params": {"log_interval": 50}}],
    "topologies": ["heterogeneous:4"],
    "traffic": ["mixed"],
    "loads": [0.8],
    "seeds": [0, 1],
    "scenarios": [{"name": "plain"}, {"name": "zero", "options": {"migration_ratio": 0.0}}],
    "scenario": SCENARIO,
    "training": {"timesteps": 100, "checkpoint_every": 50},
    "env": {"max_drain": 30},
    "paper": {"source": "test", "values": [{"method": "td3", "load": 0.8, "metric": "latency_ms", "value": 91.6}]},
}  # fmt: skip


def _rows(run_dir) -> dict:
    with open(run_dir / "results.csv") as handle:
        return {
            (r["method"], r["scenario"], r["seed"], r["metric"]): float(r["value"])
            for r in csv.DictReader(handle)
        }


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    summary = run_spec(parse_spec(GRID, "spec"), runs_dir=tmp_path_factory.mktemp("cluster"), run_id="r",
                       progress=False, workers=1)  # fmt: skip
    assert summary.failed == 0, summary.errors
    return summary.run_dir


def test_every_cell_reports_the_table_metrics_and_the_learners_their_losses(grid_run):
    rows = _rows(grid_run)
    for method in ("round_robin", "jsq", "no_migration", "fixed_ratio", "pooled", "td3", "qlearning"):
        for metric in ("latency_ms", "success_rate", "migration_cost", "decision_ms"):
            assert np.isfinite(rows[(method, "plain", "0", metric)]), (method, metric)
    for method in ("td3", "qlearning"):
        assert rows[(method, "plain", "0", "loss_last")] >= 0 and rows[(method, "plain", "0", "train_s")] > 0
    assert rows[("fixed_ratio", "plain", "0", "migration_cost")] > 0
    assert rows[("jsq", "plain", "0", "migration_cost")] == 0


def test_the_pooled_reference_is_below_every_method(grid_run):
    rows = _rows(grid_run)
    for (method, scenario, seed, metric), value in rows.items():
        if metric == "latency_ms" and rows[(method, scenario, seed, "success_rate")] == 1.0:
            assert value >= rows[("pooled", scenario, seed, "latency_ms")], (method, scenario, seed)


def test_no_migration_and_a_zero_ratio_are_the_plain_dispatcher_exactly(grid_run):
    rows = _rows(grid_run)
    for seed in ("0", "1"):
        for metric in ("latency_ms", "cpu_utilisation", "success_rate", "migration_cost", "completed"):
            plain = rows[("round_robin", "plain", seed, metric)]
            assert rows[("no_migration", "plain", seed, metric)] == plain
            assert rows[("fixed_ratio", "zero", seed, metric)] == plain
            assert rows[("td3", "zero", seed, metric)] == plain  # its actions move nothing


def test_the_report_has_the_gap_to_the_pooled_system_and_the_paper(grid_run):
    text = write_report(grid_run).read_text()
    assert "| method | mean latency | CPU utilisation | task success rate | migration cost |" in text
    assert "gap to pooled" in text and "| pooled (oracle) |" in text and "Mean latency 91.6 ms" in text
    assert "td3 (learned)" in text and "the paper reports 91.6 ms" in text or "agrees with the paper" in text


def test_learned_methods_train_on_their_own_set_up_and_are_evaluated_on_the_cells():
    domain, td3 = get_domain("cluster"), get_method("td3")
    scenario = ClusterScenario.parse({"topology": "heterogeneous:10", "workload": "google2019:0:30", "load": 0.8,
                                      "nodes": 20, "train_nodes": 10, "train_mix": "cpu_bound",
                                      "failures": [[1, 5, 9]], "migration_ratio": 0.3}, "s")  # fmt: skip
    train = domain._env_options(scenario, {"episode_length": 40}, {"action_type": "continuous"}, "train")
    evaluated = domain._env_options(
        scenario, {"episode_length": 40}, {"action_type": "continuous"}, "evaluate"
    )
    assert (train["cluster"], train["mix"], train["failures"], train["part"]) == (
        "heterogeneous:10",
        "cpu_bound",
        (),
        "train",
    )
    assert (evaluated["cluster"], evaluated["mix"], evaluated["part"]) == (
        "heterogeneous:20",
        None,
        "evaluate",
    )
    assert evaluated["failures"] == ((1, 5.0, 9.0),) and evaluated["episode_length"] is None
    assert train["max_nodes"] == evaluated["max_nodes"] == 20 and train["max_ratio"] == 0.3
    spaces = [make(td3.env_id, **options).observation_space.shape for options in (train, evaluated)]
    assert spaces[0] == spaces[1] == (140,)
    mixed = ClusterScenario.parse({"workload": "mixed", "train_mix": "io_heavy"}, "s")
    assert domain._env_options(mixed, {}, {}, "train")["workload"] == "io_heavy"


# ---------------------------------------------------------------------- learning on two nodes
TWO_NODES = {"cluster": "speeds:1,0.25", "workload": "cpu_bound", "load": 0.6, "bins": 12}
TD3_PARAMS = {"hidden_sizes": (32, 32), "critic_hidden_sizes": (32, 32), "batch_size": 64, "learning_starts": 200,
              "gamma": 0.9, "log_interval": 200}  # fmt: skip


def _on_the_fast_node(method: str, policy, seed: int) -> tuple[float, float]:
    """Mean latency and the share of completed tasks that ran on the fast node 0 over the evaluated
    part, with ``policy`` (None: no migration)."""
    options = {"action_type": "discrete", "observe": "summary"} if method == "qlearning" else {}
    env = make("rlte/Cluster-v0", **TWO_NODES, **options, part="evaluate")
    observation, _ = env.reset(seed=100 + seed)
    while True:
        action = 0 if policy is None and method == "qlearning" else policy(observation)
        observation, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    sim = env.unwrapped.sim
    done = sim.task_status() == S_DONE
    return sim.metrics().mean_latency, float((sim.arrays.node[done] == 0).mean())


@pytest.mark.slow
@pytest.mark.parametrize("method", ["td3", "qlearning"])
def test_learned_agents_move_work_to_the_fast_node_of_two(method):
    """Round robin gives the slow node (a quarter of the fast one's speed) half the tasks: it is
    overloaded (load 1.5) and its queue sets the latency. After a short training the learners send
    more of the work to the fast node and, over three seeds, cut the mean latency to under 60 % of
    round robin's (runs measure 35-43 %, with 64-67 % of the tasks on the fast node against 55-56 %)."""
    base = {"qlearning": lambda _: 0, "td3": lambda _: -np.ones(4, np.float32)}[method]
    learned, idle = [], []
    options = {"action_type": "discrete", "observe": "summary"} if method == "qlearning" else {}
    for seed in range(3):
        agent = get_method(method).make(TD3_PARAMS if method == "td3" else {}, seed=seed)
        agent.train(
            lambda: make("rlte/Cluster-v0", **TWO_NODES, **options), 1200 if method == "td3" else 2000
        )
        learned.append(_on_the_fast_node(method, agent.act, seed))
        idle.append(_on_the_fast_node(method, base, seed))
    (latency, share), (idle_latency, idle_share) = np.mean(learned, axis=0), np.mean(idle, axis=0)
    assert latency < 0.6 * idle_latency, (learned, idle)
    assert share > idle_share, (learned, idle)


# ---------------------------------------------------------------------- the command line
def _write(tmp_path, spec: dict) -> str:
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_td3_runs_through_the_cli(tmp_path, capsys):
    spec = {**GRID, "name": "td3_smoke", "methods": [{"name": "td3", "params": TINY_TD3}], "seeds": [0],
            "scenarios": [{"name": "plain"}], "training": {"timesteps": 200, "checkpoint_every": 100}}  # fmt: skip
    code = main(["run", _write(tmp_path, spec), "--runs-dir", str(tmp_path / "runs"), "--run-id", "r", "--workers",
                 "1", "--no-progress"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = _rows(tmp_path / "runs" / "td3_smoke" / "r")
    assert np.isfinite(rows[("td3", "plain", "0", "latency_ms")])
    log = (tmp_path / "runs" / "td3_smoke" / "r" / "cells").glob("*/learning.csv")
    assert next(log).read_text().startswith("timesteps,episode_reward_mean,critic_loss")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"topologies": ["heterogeneous:0"]}, "cluster 'heterogeneous:0': node count 0 must be >= 1"),
        ({"topologies": ["nodes:1/-0.5/1/1"]}, "cluster 'nodes:1/-0.5/1/1': node 0 cpu capacity -0.5 must be a finite number >= 0"),
        ({"traffic": ["google2020:0:30"]}, "workload 'google2020:0:30': unknown (did you mean 'google2019'?)"),
        ({"traffic": ["cpu_heavy"]}, "workload 'cpu_heavy': unknown"),
        ({"traffic": ["google2019:8000:100"]}, "window of bins [8000, 8100) is empty or outside its 8064 bins"),
        ({"scenarios": [{"name": "x", "options": {"no_such": 1}}]}, "unknown key 'no_such'"),
        ({"scenarios": [{"name": "x", "options": {"failures": [[9, 1, 2]]}}]}, "must be a node of the cluster (0 to 3)"),
        ({"loads": [-1.0]}, "loads: -1.0 must be a number > 0 (null for park)"),
        ({"scenario": {"nodes": 4}, "topologies": ["speeds:1,2"]}, "nodes 4: must be unset for cluster 'speeds:1,2'"),
    ],
)  # fmt: skip
def test_bad_specs_are_one_line_and_exit_2(tmp_path, capsys, changes, message):
    spec = {**GRID, **changes, "name": "bad"}
    with pytest.raises(RlteError):
        parse_spec(spec, "spec")
    code = main(["run", _write(tmp_path, spec), "--runs-dir", str(tmp_path / "runs"), "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("rlte: error: "), err
    assert message in err[0], err[0]
    assert not (tmp_path / "runs").exists()
