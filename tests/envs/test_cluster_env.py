"""``rlte/Cluster-v0``: task conservation and capacities at every step, a migration ratio of 0 is no
migration at all, the per-epoch sums against the simulator's own metrics and the reward against
Little's law, the action decoders on inputs known by hand, disjoint trace spans, exact
checkpoints, gymnasium's checker and one-line errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlte.domains.cluster import whole_run
from rlte.envs import make
from rlte.envs.cluster import (
    METRICS,
    ClusterEnv,
    balancing_matrix,
    continuous_matrix,
    parse_cluster,
    parse_workload,
)
from rlte.errors import RlteError
from rlte.sim.cluster import (
    C_ARRIVED,
    C_COMPLETED,
    C_EXPIRED,
    C_LOST,
    C_MIGRATING,
    C_PENDING,
    C_QUEUED,
    C_REJECTED,
    C_RUNNING,
)
from rlte.sim.cluster_traces import trace_profile

#: A small cluster and a short workload: 6 heterogeneous nodes, 12 one-second bins of mixed tasks.
SMALL = {"cluster": "heterogeneous:6", "workload": "mixed", "bins": 12, "load": 0.85, "max_drain": 20}
#: Two failures in the evaluated part (epochs 5-15 and 20-30 of its 40).
FAILURES = ((1, 5, 15), (4, 20, 30))


def _episode(env, policy, seed=0):
    """Run one episode; every step's info, and the unwrapped env at its end."""
    observation, _ = env.reset(seed=seed)
    infos = []
    while True:
        observation, reward, terminated, truncated, info = env.step(policy(env, observation))
        infos.append({**info, "reward": reward})
        if terminated or truncated:
            return infos, env.unwrapped


def _random(env, observation):
    return env.action_space.sample()


def _series(infos) -> dict:
    return {name: np.array([info[name] for info in infos], dtype=float) for name in METRICS}


@pytest.mark.parametrize("action_type", ["continuous", "discrete"])
@pytest.mark.parametrize("on_failure", ["redispatch", "lose"])
def test_tasks_are_conserved_and_no_node_exceeds_its_capacities_at_every_step(action_type, on_failure):
    env = make("rlte/Cluster-v0", **SMALL, part="evaluate", failures=FAILURES, on_failure=on_failure,
               action_type=action_type, dispatcher="random")  # fmt: skip
    env.reset(seed=3)
    env.action_space.seed(3)
    arrived = 0
    while True:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        arrays = env.unwrapped.sim.arrays
        c = arrays.counts
        inside = c[C_QUEUED] + c[C_RUNNING] + c[C_MIGRATING] + c[C_PENDING]
        assert c[C_ARRIVED] == c[C_COMPLETED] + c[C_EXPIRED] + c[C_LOST] + c[C_REJECTED] + inside
        assert (arrays.used <= arrays.cap).all() and (arrays.used >= 0).all()
        arrived += info["arrived"]
        assert arrived == c[C_ARRIVED]
        if terminated or truncated:
            break
    assert env.unwrapped.sim.counts().displaced > 0  # the failures took tasks off their nodes


def test_a_migration_ratio_of_zero_is_no_migration_exactly():
    """Random actions with ``max_ratio=0``, the continuous action -1, discrete level 0 and the simulator
    run epoch by epoch without a controller give the same tasks the same latencies."""
    runs = []
    for options, policy in [
        ({"max_ratio": 0.0}, _random),
        ({}, lambda env, _: -np.ones(env.action_space.shape, np.float32)),
        ({"action_type": "discrete"}, lambda env, _: 0),
        ({"action_type": "discrete", "max_ratio": 0.0}, _random),
    ]:
        env = make("rlte/Cluster-v0", **SMALL, part="evaluate", failures=FAILURES, **options)
        env.action_space.seed(0)
        infos, base = _episode(env, policy, seed=5)
        assert sum(info["migrated"] for info in infos) == 0
        runs.append(
            (base.sim.task_latencies(), [{k: v for k, v in i.items() if k != "reward"} for i in infos])
        )
    plain = ClusterEnv(**SMALL, part="evaluate", failures=FAILURES)
    plain.reset(seed=5)
    sim = plain.sim
    while sim.run_epoch("round_robin") and sim.epoch < plain._span_epochs + SMALL["max_drain"]:
        pass
    for latencies, infos in runs:
        np.testing.assert_array_equal(latencies, runs[0][0])
        np.testing.assert_array_equal(latencies, sim.task_latencies())
        assert infos == runs[0][1]


def test_the_epoch_sums_give_the_simulators_metrics_and_the_rewards_littles_law():
    """Over a drained episode: the whole-run latency, cpu utilisation and success rate from the
    per-epoch infos equal `ClusterMetrics`'s (one definition, `rlte.metrics`), and with alpha = 1,
    beta = delta = 0 the return is minus the tasks' total time in the system over the arrivals per
    epoch, in units of ``latency_scale``."""
    env = ClusterEnv(**{**SMALL, "max_drain": 200}, part="evaluate", failures=FAILURES, beta=0.0, delta=0.0,
                     action_type="discrete")  # fmt: skip
    infos, base = _episode(env, lambda env, _: 3, seed=2)
    assert base.sim.finished
    _, summary = whole_run(_series(infos))
    measured = base.sim.metrics()
    assert summary["latency_ms"] == pytest.approx(measured.mean_latency, rel=1e-12)
    assert summary["cpu_utilisation"] == pytest.approx(measured.cpu_utilisation, rel=1e-9)
    assert summary["success_rate"] == measured.success_rate
    assert summary["migration_cost"] == measured.migrated / measured.arrived > 0
    ret = sum(info["reward"] for info in infos)
    per_epoch = base.workload.num_tasks / base._span_epochs
    assert -ret * env.options.latency_scale * per_epoch == pytest.approx(measured.tasks_integral, rel=1e-9)
    latency = base.sim.task_latencies()
    assert measured.tasks_integral >= np.nansum(latency)  # failed tasks add the time they waited


def test_the_action_decoders_on_inputs_known_by_hand():
    up = np.array([1, 1, 1, 0])
    # continuous: node 0 sends half its queue (a = 0 with max_ratio 1), split by softmax over nodes 1, 2
    action = np.array([0.0, -1.0, -1.0, 1.0, 0.0, 0.0, 0.0, np.log(3.0) / 2.0, 1.0, 0.0])
    matrix = continuous_matrix(action, 4, 5, up, max_ratio=1.0, logit_scale=2.0)
    expected = np.zeros((4, 4))
    expected[0, 1], expected[0, 2] = 0.5 * 0.25, 0.5 * 0.75  # exp(0) : exp(log 3); node 3 is down
    np.testing.assert_allclose(matrix, expected)
    assert not continuous_matrix(-np.ones(10), 4, 5, up, 1.0, 2.0).any()
    # balancing: backlogs 30, 10, 20 (mean 20): node 0 sends 0.4 of its queue, all to node 1
    matrix = balancing_matrix(np.array([30.0, 10.0, 20.0, 99.0]), up, 0.4)
    expected = np.zeros((4, 4))
    expected[0, 1] = 0.4
    np.testing.assert_allclose(matrix, expected)
    matrix = balancing_matrix(np.array([40.0, 0.0, 20.0, 10.0]), np.ones(4), 0.5)  # mean 17.5
    np.testing.assert_allclose(matrix[0], [0.0, 0.5 * 17.5 / 25.0, 0.0, 0.5 * 7.5 / 25.0])
    np.testing.assert_allclose(matrix[2], matrix[0])
    assert not matrix[[1, 3]].any()


def test_training_and_evaluated_parts_are_disjoint_spans_of_the_trace():
    train = ClusterEnv(**{**SMALL, "workload": "google2019:100:30"})
    evaluated = ClusterEnv(**{**SMALL, "workload": "google2019:100:30"}, part="evaluate")
    np.testing.assert_array_equal(train.profile.cpu, trace_profile("google2019", start=100, bins=20).cpu)
    np.testing.assert_array_equal(evaluated.profile.cpu, trace_profile("google2019", start=120, bins=10).cpu)
    train.reset(seed=0)
    evaluated.reset(seed=0)
    assert train.workload.horizon == 20 * 1000.0 and evaluated.workload.horizon == 10 * 1000.0


def test_every_method_reset_with_one_seed_sees_the_same_tasks():
    first = ClusterEnv(**SMALL, part="evaluate")
    second = ClusterEnv(**SMALL, part="evaluate", dispatcher="jsq", action_type="discrete", observe="summary")
    first.reset(seed=7)
    second.reset(seed=7)
    for name in ("arrival", "size", "demand", "deadline"):
        np.testing.assert_array_equal(getattr(first.workload, name), getattr(second.workload, name))
    other = ClusterEnv(**SMALL, part="evaluate")
    other.reset(seed=8)
    assert not np.array_equal(other.workload.size, first.workload.size)


@pytest.mark.parametrize(
    "options",
    [{}, {"action_type": "discrete"}, {"action_type": "discrete", "observe": "summary"}, {"max_nodes": 9},
     {"workload": "park", "cluster": "park", "load": None, "park_jobs": 200, "interval": 2000.0}],
)  # fmt: skip
def test_get_state_then_set_state_resumes_exactly_and_gymnasiums_checker_passes(options):
    env = ClusterEnv(**SMALL | options, failures=((0, 3, 6),))
    check_env(env, skip_render_check=True)
    env.reset(seed=1)
    env.action_space.seed(1)
    for _ in range(9):
        env.step(env.action_space.sample())
    state = copy.deepcopy(env.get_state())
    actions = [env.action_space.sample() for _ in range(12)]
    expected = [env.step(action) for action in actions]
    fresh = ClusterEnv(**SMALL | options, failures=((0, 3, 6),))
    fresh.set_state(copy.deepcopy(state))  # no reset needed
    for action, (observation, reward, terminated, truncated, info) in zip(actions, expected):
        again = fresh.step(action)
        np.testing.assert_array_equal(again[0], observation)
        assert again[1:] == (reward, terminated, truncated, info)


def test_the_observation_is_padded_to_the_node_slots():
    env = ClusterEnv(**SMALL, max_nodes=10)
    observation, _ = env.reset(seed=0)
    assert env.observation_space.shape == (70,) and env.action_space.shape == (20,)
    observation, *_ = env.step(np.zeros(20, np.float32))
    rows = observation.reshape(10, 7)
    assert (rows[:6, 0] == 1).all() and not rows[6:].any()
    graph = env.graph()
    assert graph.node_features.shape == (6, 7) and graph.edge_index.shape == (2, 30)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cluster": "heterogeneous:0"}, r"^rlte/Cluster-v0: cluster 'heterogeneous:0': node count 0 must be >= 1$"),
        ({"cluster": "nodes:1/1/-1/1"}, r"^rlte/Cluster-v0: cluster 'nodes:1/1/-1/1': node 0 memory capacity -1.0 must be"),
        ({"cluster": "speeds:1,0"}, r"speed 0.0 must be a finite number > 0$"),
        ({"cluster": "ring:4"}, r"^rlte/Cluster-v0: cluster 'ring:4': unknown; clusters: heterogeneous:N"),
        ({"workload": "google2020:0:10"}, r"^rlte/Cluster-v0: workload 'google2020:0:10': unknown"),
        ({"workload": "cpu_bond"}, r"unknown \(did you mean 'cpu_bound'\?\)"),
        ({"workload": "google2019:8060:10"}, r"window of bins \[8060, 8070\) is empty or outside its 8064 bins"),
        ({"workload": "mixed", "mix": "io_heavy"}, r"mix 'io_heavy': must be unset for the mixed workload"),
        ({"workload": "park"}, r"load 0.85: must be null for park"),
        ({"failures": ((6, 1, 2),)}, r"failures \[6, 1.0, 2.0\]: must be a node of the cluster \(0 to 5\)"),
        ({"failures": ((1, 3, 2),)}, r"failures \[1, 3.0, 2.0\]: must be \[node >= 0"),
        ({"max_nodes": 3}, r"max_nodes 3: must be >= the cluster's 6 nodes"),
        ({"cluster": "nodes:1/1/1/0"}, r"has no io capacity for the tasks"),
    ],
)  # fmt: skip
def test_bad_options_are_refused_in_one_line(options, message):
    with pytest.raises(RlteError, match=message) as caught:
        ClusterEnv(**SMALL | options)
    assert "\n" not in str(caught.value)


def test_cluster_and_workload_names():
    assert parse_cluster("heterogeneous:5").num_nodes == 5
    assert parse_cluster("speeds:1,0.5").speed.tolist() == [1.0, 0.5]
    cluster = parse_cluster("nodes:2/1/0.5/0.25")
    assert cluster.speed.tolist() == [2.0] and cluster.capacity.tolist() == [[1.0, 0.5, 0.25]]
    assert parse_cluster("park").num_nodes == 10
    assert parse_workload("google2019:10:20") == ("trace", None, "google2019", 10, 20)
    assert parse_workload("io_heavy").mix == "io_heavy"
