"""The cluster simulator: answers known by hand, the compiled simulator against the plain-Python
reference, conservation, capacities, migration, failures, the pooled bound, Park's set-up, traces,
determinism, checkpoints and one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rlte.errors import RlteError
from rlte.sim.cluster import (
    C_SEQ,
    ON_FAILURE,
    PARK_SERVICE_RATES,
    POLICIES,
    S_DONE,
    S_LOST,
    S_PENDING,
    S_QUEUED,
    S_RUNNING,
    UNITS,
    Cluster,
    ClusterSimOptions,
    ClusterSimulator,
    FailureSchedule,
    Workload,
    dispatch_policy,
    migration_matrix,
    park_scenario,
    pooled_reference,
    scenario,
    srpt_completions,
)
from rlte.sim.cluster_reference import ReferenceClusterSimulator, reference_srpt_completions
from rlte.sim.cluster_traces import load_trace, trace_profile, trace_scenario, trace_workload


def _workload(arrival, size, demand=(1.0, 0.0, 0.0), deadline=np.inf, horizon=None) -> Workload:
    arrival = np.asarray(arrival, dtype=np.float64)
    demand = np.broadcast_to(np.asarray(demand, dtype=np.float64), (len(arrival), 3))
    horizon = float(arrival[-1]) if horizon is None else horizon
    return Workload(arrival, size, demand, np.broadcast_to(deadline, arrival.shape) + 0.0 * arrival, horizon)


def _run(cluster, workload, policy, seed=0, options=None, failures=None, until=None) -> ClusterSimulator:
    sim = ClusterSimulator(cluster, workload, options, failures)
    sim.reset(np.random.default_rng(seed))
    sim.run(policy, until)
    return sim


def _same(a, b) -> bool:
    """Identical counts, task latencies and every recorded integral."""
    same = a.counts() == b.counts() and np.array_equal(a.task_latencies(), b.task_latencies(), equal_nan=True)
    return same and all(
        np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True) for x, y in zip(a.record(), b.record())
    )


@pytest.fixture(scope="module")
def mixed():
    """A busy mixed workload on 8 heterogeneous nodes with deadlines."""
    return scenario("mixed", np.random.default_rng(3), num_tasks=2500, load=0.85, num_nodes=8, deadline=150.0)


FAILURES = FailureSchedule([1, 3, 1], [500.0, 800.0, 2000.0], [1500.0, np.inf, 2600.0])


# ---------------------------------------------------------------------- answers known by hand
def test_two_tasks_on_one_node_and_a_missed_deadline():
    """Node 0 (speed 1) gets A (size 4, t=0), B (size 2, t=1) and C (t=2, must start by 3): A runs
    0-4, B 4-6, C expires at 3; node 1 (speed 2) idles."""
    cluster = Cluster(np.array([1.0, 2.0]), np.ones((2, 3)))
    workload = _workload([0.0, 1.0, 2.0], [4.0, 2.0, 1.0], deadline=np.array([np.inf, np.inf, 3.0]))
    sim = _run(cluster, workload, dispatch_policy("given", np.array([0, 0, 0])))
    latency = sim.task_latencies()
    assert latency[:2].tolist() == [4.0, 5.0] and np.isnan(latency[2])
    m = sim.metrics()
    assert (m.time, m.completed, m.failed, m.arrived) == (6.0, 2, 1, 3)
    assert m.mean_latency == 4.5 and m.p95_latency == pytest.approx(4.95)
    assert m.tasks_integral == 4.0 + 5.0 + 1.0  # C was in the system from 2 to 3
    assert m.node_utilisation.tolist() == [1.0, 0.0] and m.cpu_utilisation == 0.5 and m.imbalance == 1.0
    assert m.success_rate == pytest.approx(2 / 3)
    assert sim.counts().expired == 1 and sim.counts().events == 3 + 2 + 1


def test_a_node_runs_what_fits_at_once_in_queue_order():
    """Capacity 1 cpu: tasks of 0.5, 0.75, 0.25 arrive together. The first and the third start at
    once (0.75 does not fit beside 0.5: the third backfills past it); with lookahead 1 (strict FIFO)
    only the first starts, and the others follow in order."""
    cluster = Cluster(np.array([1.0]), np.ones((1, 3)))
    workload = _workload(
        [0.0, 0.0, 0.0], [2.0, 2.0, 2.0], demand=np.array([[0.5, 0, 0], [0.75, 0, 0], [0.25, 0, 0]])
    )
    backfill = _run(cluster, workload, "jsq")
    assert backfill.task_latencies().tolist() == [2.0, 4.0, 2.0]
    fifo = _run(cluster, workload, "jsq", options=ClusterSimOptions(lookahead=1))
    assert fifo.task_latencies().tolist() == [2.0, 4.0, 4.0]


def test_integer_durations_round_service_down():
    cluster = Cluster(np.array([0.15]), np.ones((1, 3)))
    workload = _workload([0.0], [100.0])
    assert _run(cluster, workload, "jsq").task_latencies()[0] == pytest.approx(100 / 0.15)
    options = ClusterSimOptions(integer_durations=True)
    assert _run(cluster, workload, "jsq", options=options).task_latencies()[0] == 666.0  # int(100 / 0.15)


def test_migration_moves_queue_tails_with_a_transfer_delay():
    """Node 0 holds one running and four queued tasks (size 10, speed 1); half its queue goes to
    node 1: the last two, each 10 * 0.3 = 3 time units in transfer."""
    cluster = Cluster.homogeneous(2)
    workload = _workload([0.0] * 5, [10.0] * 5)
    sim = ClusterSimulator(cluster, workload, ClusterSimOptions(migration_delay=0.3))
    sim.reset(np.random.default_rng(0))
    sim.run(dispatch_policy("given", np.zeros(5, dtype=np.int64)), 1.0)
    outcome = sim.migrate_ratios(np.array([0.5, 0.0]), np.array([1, 0]))
    assert outcome.moved == 2 and outcome.work == 20.0 and outcome.cost == pytest.approx(6.0)
    assert sim.counts().migrating == 2 and sim.node_view().queued.tolist() == [2, 0]
    sim.run("jsq")
    latency = sim.task_latencies()
    assert latency.tolist() == [10.0, 20.0, 30.0, 14.0, 24.0]  # tasks 3 and 4 reach node 1 at 4
    assert sim.metrics().migration_cost == pytest.approx(6.0)


def test_srpt_known_by_hand_and_against_the_reference():
    """Speed 2: A (work 8) at 0, B (2) at 1 preempts it: B ends at 2, A at 5; C (0) ends at once."""
    completion = srpt_completions(np.array([0.0, 1.0, 3.0]), np.array([8.0, 2.0, 0.0]), 2.0)
    assert completion.tolist() == [5.0, 2.0, 3.0]
    rng = np.random.default_rng(0)
    arrival, work = np.cumsum(rng.exponential(1.0, 3000)), rng.pareto(1.5, 3000) + 0.1
    assert np.array_equal(
        srpt_completions(arrival, work, 1.3), reference_srpt_completions(arrival, work, 1.3)
    )


# ---------------------------------------------------------------------- two implementations agree
class _Chooser:
    """An external dispatcher: usually the least loaded up node, sometimes a random one (which may
    be down: the task is then rejected). Draws from its own generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def pick(self, loads, up) -> int:
        if self.rng.random() < 0.2:
            return int(self.rng.integers(len(loads)))
        return int(np.argmin(np.where(up, loads, np.inf)))

    def choose(self, sim, task) -> int:  # the reference simulator's interface
        loads = np.array([len(q) + len(r) for q, r in zip(sim.queues, sim.running)])
        return self.pick(loads, np.array(sim.up, dtype=bool))


def _epochs(sim, policy, migrations: np.random.Generator | None) -> None:
    """Run epoch by epoch; every third epoch, migrate random ratios to random targets."""
    n = sim.cluster.num_nodes
    epoch = 0
    while sim.run_epoch(policy):
        epoch += 1
        if migrations is not None and epoch % 3 == 0:
            targets = (np.arange(n) + 1 + migrations.integers(n - 1, size=n)) % n
            sim.migrate(migration_matrix(n, 0.5 * migrations.random(n), targets))


@pytest.mark.parametrize("on_failure", ON_FAILURE)
@pytest.mark.parametrize("policy", POLICIES)
def test_compiled_and_reference_give_identical_latencies(mixed, policy, on_failure):
    """Deadlines, failures, recoveries and migration every third epoch: identical task latencies,
    counts and integrals for one seed."""
    options = ClusterSimOptions(interval=50.0, migration_delay=0.2, on_failure=on_failure)
    given = np.random.default_rng(9).integers(mixed.cluster.num_nodes, size=mixed.workload.num_tasks)
    chosen = dispatch_policy(policy, given if policy == "given" else None)
    runs = []
    for simulator in (ClusterSimulator, ReferenceClusterSimulator):
        sim = simulator(mixed.cluster, mixed.workload, options, FAILURES)
        sim.reset(np.random.default_rng(5))
        _epochs(sim, chosen, np.random.default_rng(11))
        runs.append(sim)
    compiled, reference = runs
    c = compiled.counts()
    assert c.completed > 2000 and c.migrated > 0 and c.displaced > 0 and c.expired > 0
    assert _same(compiled, reference)


@pytest.mark.parametrize("lookahead", [1, 16])
def test_the_external_slow_path_equals_the_reference(mixed, lookahead):
    options = ClusterSimOptions(lookahead=lookahead)
    compiled = ClusterSimulator(mixed.cluster, mixed.workload, options, FAILURES)
    compiled.reset(np.random.default_rng(0))
    chooser = _Chooser(2)
    redispatched = 0
    while (decision := compiled.next_decision()) is not None:
        view = compiled.node_view()
        redispatched += decision.redispatch
        compiled.dispatch(chooser.pick(view.queued + view.running, view.up))
    reference = ReferenceClusterSimulator(mixed.cluster, mixed.workload, options, FAILURES)
    reference.reset(np.random.default_rng(0))
    reference.run(_Chooser(2))
    c = compiled.counts()
    assert c.completed > 1500 and c.rejected > 0 and redispatched == c.redispatched > 0
    assert _same(compiled, reference)


def test_stepping_from_python_equals_the_compiled_policy(mixed):
    """The slow path fed the compiled JSQ's choices (computed in Python) gives the compiled run."""
    compiled = _run(mixed.cluster, mixed.workload, "jsq")
    stepped = ClusterSimulator(mixed.cluster, mixed.workload)
    stepped.reset(np.random.default_rng(0))
    demand_units = mixed.workload.demand_units
    capacity = mixed.cluster.capacity_units
    while (decision := stepped.next_decision()) is not None:
        view = stepped.node_view()
        fits = view.up & (demand_units[decision.task] <= capacity).all(axis=1)
        stepped.dispatch(int(np.argmin(np.where(fits, view.queued + view.running, np.inf))))
    assert _same(compiled, stepped)


# ---------------------------------------------------------------------- invariants
def test_tasks_are_conserved_at_every_decision_epoch(mixed):
    options = ClusterSimOptions(interval=25.0, migration_delay=0.5, on_failure="redispatch")
    sim = ClusterSimulator(mixed.cluster, mixed.workload, options, FAILURES)
    sim.reset(np.random.default_rng(1))
    migrations = np.random.default_rng(2)
    epochs = 0
    n = mixed.cluster.num_nodes
    while True:
        more = sim.run_epoch("power_of_two")
        epochs += 1
        c = sim.counts()
        assert c.arrived == c.completed + c.failed + c.queued + c.running + c.migrating + c.pending
        view = sim.node_view()
        assert view.queued.sum() == c.queued and view.running.sum() == c.running
        assert c.arrived == int((mixed.workload.arrival < sim.now).sum())
        if not more:
            break
        targets = (np.arange(n) + 1) % n
        sim.migrate(migration_matrix(n, 0.3 * migrations.random(n), targets))
    assert epochs > 50 and c.migrated > 0 and c.in_system == 0 and c.completed + c.failed == c.arrived


def _peak_usage(sim) -> np.ndarray:
    """Largest total demand running on each node at any time, from the tasks' runs. Shape [N, 3]."""
    arrays = sim.arrays
    ran = arrays.first_start >= 0
    peak = np.zeros((sim.cluster.num_nodes, 3), dtype=np.int64)
    for n in range(sim.cluster.num_nodes):
        tasks = np.flatnonzero(ran & (arrays.node == n))
        times = np.concatenate([arrays.finish[tasks], arrays.start[tasks]])
        change = np.concatenate([-arrays.demand[tasks], arrays.demand[tasks]])
        order = np.lexsort((np.r_[np.zeros(len(tasks)), np.ones(len(tasks))], times))  # ends first at ties
        peak[n] = np.cumsum(change[order], axis=0).max(axis=0)
    return peak


def test_no_node_ever_runs_above_its_capacities(mixed):
    """Every run, swept over time (an end before a start at the same time), stays within the node's
    capacities, and comes close to them; with failures and migration too, at every decision."""
    busy = scenario("mixed", np.random.default_rng(4), num_tasks=4000, load=1.2, num_nodes=8, deadline=None)
    sim = _run(busy.cluster, busy.workload, "jsq")
    assert sim.counts().completed == 4000
    peak, capacity = _peak_usage(sim), busy.cluster.capacity_units
    assert (peak <= capacity).all() and (peak[:, 0] >= 0.9 * capacity[:, 0]).all()
    stepped = ClusterSimulator(
        mixed.cluster, mixed.workload, ClusterSimOptions(migration_delay=0.1), FAILURES
    )
    stepped.reset(np.random.default_rng(0))
    chooser = _Chooser(3)
    while (stepped.next_decision()) is not None:
        assert (stepped.arrays.used <= mixed.cluster.capacity_units).all()
        view = stepped.node_view()
        stepped.dispatch(chooser.pick(view.queued + view.running, view.up))
        if stepped.counts().arrived % 200 == 0:
            stepped.migrate(migration_matrix(8, np.full(8, 0.25), (np.arange(8) + 3) % 8))
    assert stepped.counts().migrated > 0


def test_a_migration_ratio_of_zero_is_no_migration_at_all(mixed):
    options = ClusterSimOptions(interval=40.0)
    plain = ClusterSimulator(mixed.cluster, mixed.workload, options, FAILURES)
    zero = ClusterSimulator(mixed.cluster, mixed.workload, options, FAILURES)
    for sim in (plain, zero):
        sim.reset(np.random.default_rng(6))
    n = mixed.cluster.num_nodes
    while plain.run_epoch("random"):
        zero.run_epoch("random")
        assert zero.migrate(np.zeros((n, n))).moved == 0
        assert zero.migrate_ratios(np.zeros(n), (np.arange(n) + 1) % n).moved == 0
        assert zero.counts().queued > 0 or zero.counts().arrived == mixed.workload.num_tasks
    zero.run_epoch("random")
    assert _same(plain, zero)
    first, second = plain.get_state(), zero.get_state()
    assert all(np.array_equal(first[k], second[k], equal_nan=True) for k in first if k != "rng")
    assert first["rng"] == second["rng"] and zero.arrays.counts[C_SEQ] == plain.arrays.counts[C_SEQ]


@pytest.mark.parametrize("on_failure", ON_FAILURE)
def test_a_failure_takes_the_node_out_and_accounts_for_all_its_tasks(on_failure):
    """At the failure time every running and queued task of the node is redispatched elsewhere (or
    lost, each ending then); the node takes nothing while down and work again after it recovers."""
    busy = scenario(
        "cpu_bound", np.random.default_rng(7), num_tasks=3000, load=0.95, num_nodes=6, deadline=None
    )
    node, down, back = 2, 400.0, 900.0
    failures = FailureSchedule([node], [down], [back])
    sim = ClusterSimulator(busy.cluster, busy.workload, ClusterSimOptions(on_failure=on_failure), failures)
    sim.reset(np.random.default_rng(0))
    sim.run("round_robin", down)  # round robin keeps queues on every node
    arrays = sim.arrays
    on_node = np.flatnonzero(
        ((arrays.status == S_QUEUED) | (arrays.status == S_RUNNING)) & (arrays.node == node)
    )
    assert len(on_node) >= 3 and (arrays.status[on_node] == S_RUNNING).any()
    before = sim.counts()
    sim.run("round_robin", math.nextafter(down, math.inf))
    after = sim.counts()
    assert after.displaced - before.displaced == len(on_node)
    assert (
        arrays.up[node] == 0
        and arrays.qlen[node] == 0
        and arrays.nrun[node] == 0
        and (arrays.used[node] == 0).all()
    )
    if on_failure == "lose":
        assert after.lost - before.lost == len(on_node) and after.redispatched == 0
        assert (arrays.status[on_node] == S_LOST).all() and (arrays.end[on_node] == down).all()
    else:
        assert after.redispatched - before.redispatched == len(on_node) and after.lost == 0
        assert np.isin(arrays.status[on_node], (S_QUEUED, S_RUNNING, S_DONE)).all()
        assert (arrays.node[on_node] != node).all() and (arrays.dispatches[on_node] == 2).all()
    c = after
    assert c.arrived == c.completed + c.failed + c.queued + c.running + c.migrating + c.pending
    sim.run("round_robin", back)
    assert sim.node_view().queued[node] == 0 and sim.node_view().running[node] == 0
    sim.run("round_robin")
    assert sim.counts().completed + sim.counts().lost == 3000 and sim.counts().rejected == 0
    assert ((arrays.node == node) & (arrays.first_start > back)).any()  # busy again after recovery
    ran_while_down = (arrays.node == node) & (arrays.start >= down) & (arrays.start < back)
    assert not ran_while_down.any()


def test_a_task_whose_migration_ends_at_a_failed_node_is_redispatched():
    cluster = Cluster.homogeneous(3)
    workload = _workload([0.0] * 4, [10.0] * 4)
    sim = ClusterSimulator(
        cluster, workload, ClusterSimOptions(migration_delay=1.0), FailureSchedule([1], [5.0], [50.0])
    )
    sim.reset(np.random.default_rng(0))
    sim.run(dispatch_policy("given", np.zeros(4, dtype=np.int64)), 1.0)
    assert sim.migrate_ratios(np.array([1.0, 0, 0]), np.array([1, 0, 0])).moved == 3  # in transfer until 11
    sim.run("jsq", 12.0)
    assert sim.counts().redispatched == 3 and sim.counts().displaced == 3
    assert (sim.arrays.node[1:] != 1).all() and (sim.arrays.status[1:] != S_PENDING).all()


# ---------------------------------------------------------------------- balancers and the pooled bound
def _balanced(seed: int, load: float = 0.8) -> tuple[Cluster, Workload]:
    """10 identical servers, one task at a time each, Poisson arrivals, exponential sizes (mean 10)."""
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(10.0 / (10 * load), 20_000))
    return Cluster.homogeneous(10), _workload(arrival, rng.exponential(10.0, 20_000))


def test_join_shortest_queue_beats_random_on_a_balanced_workload():
    """Random splitting makes ten M/M/1 queues at 0.8 (mean latency 10 / 0.2 = 50); JSQ is near the
    pooled M/M/10 (about 12)."""
    jsq, rand = [], []
    for seed in range(3):
        cluster, workload = _balanced(seed)
        jsq.append(_run(cluster, workload, "jsq", seed).metrics().mean_latency)
        rand.append(_run(cluster, workload, "random", seed).metrics().mean_latency)
    assert 35 < np.mean(rand) < 70 and np.mean(jsq) < 16
    assert np.mean(jsq) < 0.4 * np.mean(rand)


@pytest.mark.parametrize("load", [0.5, 0.8, 0.95])
def test_no_balancer_beats_the_pooled_reference(load):
    """Over seeds, every compiled policy, with and without migration, with failures: the tasks in
    the system integrate to at least the pooled bound's at every epoch, and the mean latency is at
    least the bound's."""
    options = ClusterSimOptions(interval=50.0, migration_delay=0.05)
    for seed in range(3):
        case = scenario(
            "mixed", np.random.default_rng(seed), num_tasks=1500, load=load, num_nodes=6, deadline=None
        )
        bound = pooled_reference(case.cluster, case.workload, options)
        failures = FailureSchedule([seed % 6], [300.0], [700.0])
        for policy in ("round_robin", "random", "jsq", "least_work", "power_of_two"):
            for migrating in (False, True):
                sim = ClusterSimulator(case.cluster, case.workload, options, failures)
                sim.reset(np.random.default_rng(seed))
                migrations = np.random.default_rng(seed) if migrating else None
                while sim.run_epoch(policy):
                    assert sim.metrics().tasks_integral >= bound.tasks_integral(sim.now) * (1 - 1e-12)
                    if migrations is not None:
                        sim.migrate(migration_matrix(6, 0.5 * migrations.random(6), (np.arange(6) + 1) % 6))
                m = sim.metrics()
                assert m.completed == 1500 and m.mean_latency >= bound.mean_latency * (1 - 1e-12)


def test_the_park_balancers_respect_the_bound_that_a_fifo_pooled_server_is_not():
    """On Park's set-up the pooled SRPT bound holds for every policy, while least-work dispatch
    beats one FIFO server of the summed speed 6.0 (heavy tails: a huge job blocks the FIFO server)."""
    beaten = 0
    for seed in range(3):
        case = park_scenario(np.random.default_rng(seed))
        bound = pooled_reference(case.cluster, case.workload, case.options)
        for policy in ("jsq", "least_work", "power_of_two", "random"):
            m = _run(case.cluster, case.workload, policy, seed, case.options).metrics()
            assert m.tasks_integral >= bound.tasks_integral() and m.mean_latency >= bound.mean_latency
        fifo = Cluster(np.array([sum(PARK_SERVICE_RATES)]), np.ones((1, 3)), "pooled fifo")
        pooled = _run(fifo, case.workload, "jsq", options=case.options).metrics().mean_latency
        best = _run(case.cluster, case.workload, "least_work", options=case.options).metrics().mean_latency
        beaten += best < pooled
    assert beaten >= 1


# ---------------------------------------------------------------------- Park
def test_park_scenario_matches_parks_set_up():
    case = park_scenario(np.random.default_rng(0))
    assert case.cluster.speed.tolist() == list(
        PARK_SERVICE_RATES
    ) and case.cluster.speed.sum() == pytest.approx(6.0)
    w = case.workload
    assert w.num_tasks == 1000 and np.isinf(w.deadline).all() and case.options.integer_durations
    assert (w.demand_units == [UNITS, 0, 0]).all() and (case.cluster.capacity_units[:, 0] == UNITS).all()
    assert (
        (w.size >= 100).all()
        and (w.size == np.floor(w.size)).all()
        and (w.arrival == np.floor(w.arrival)).all()
    )
    assert w.expected_load == pytest.approx(300 / 55 / 6.0) and round(w.expected_load, 2) == 0.91
    sizes, gaps = [], []
    for seed in range(40):
        episode = park_scenario(np.random.default_rng(seed)).workload
        sizes.append(episode.size)
        gaps.append(np.diff(np.r_[0.0, episode.arrival]))
    sizes, gaps = np.concatenate(sizes), np.concatenate(gaps)
    # E[int(100 X)] = 299.5 for X Pareto(1.5, 1); the sample mean of an infinite-variance size is
    # loose, its median and tail are tight
    assert 270 < sizes.mean() < 345
    assert np.median(sizes) == pytest.approx(100 * 2 ** (1 / 1.5), abs=3)
    assert (sizes > 400).mean() == pytest.approx(0.25**1.5, abs=0.01)
    assert gaps.mean() == pytest.approx(1 / (math.exp(1 / 55) - 1), abs=4 * 55 / math.sqrt(len(gaps)))
    assert sizes.sum() / gaps.sum() / 6.0 == pytest.approx(0.91, abs=0.06)
    sim = _run(case.cluster, w, "least_work", options=case.options)
    m = sim.metrics()
    assert m.completed == 1000 and m.tasks_integral == pytest.approx(np.nansum(sim.task_latencies()))


# ---------------------------------------------------------------------- scenarios and traces
@pytest.mark.parametrize("name", ["cpu_bound", "memory_bound", "io_heavy", "mixed"])
def test_named_scenarios_hit_their_load_and_stress_their_resource(name):
    case = scenario(name, np.random.default_rng(0), num_tasks=20_000, load=0.7)
    realised = case.workload.offered_load(case.cluster)
    assert case.workload.expected_load == 0.7 and realised.max() == pytest.approx(0.7, rel=0.05)
    if name != "mixed":
        main = {"cpu_bound": 0, "memory_bound": 1, "io_heavy": 2}[name]
        assert realised.argmax() == main and realised[main] > 2 * np.delete(realised, main).max()
    assert case.workload.deadline - case.workload.arrival == pytest.approx(np.full(20_000, 500.0))


def _tiny_trace() -> pd.DataFrame:
    return pd.DataFrame({
        "cpu_util_percent": [10.0, 20.0, 30.0, 40.0],
        "mem_util_percent": [50.0, 50.0, 50.0, 50.0],
        "disk_io_percent": [4.0, 4.0, 8.0, 8.0],
        "net_in": [1.0, 2.0, 3.0, 4.0],
    })  # fmt: skip


def test_a_trace_modulates_the_rate_and_the_mix_and_scales_to_the_load():
    profile = trace_profile(_tiny_trace())
    assert profile.cpu.tolist() == [0.4, 0.8, 1.2, 1.6] and profile.memory.tolist() == [1.0] * 4
    multipliers = profile.multipliers()
    assert multipliers[:, 0].tolist() == [1.0] * 4 and multipliers[:, 1] == pytest.approx(
        [1, 0.5, 1 / 3, 0.25]
    )
    cluster = Cluster.homogeneous(8)
    workload = trace_workload(profile, cluster, np.random.default_rng(0), load=0.6, bin_duration=20_000.0,
                              base="cpu_bound", size_shape=4.0)  # fmt: skip
    assert workload.expected_load == 0.6 and workload.load(cluster) == pytest.approx(0.6, rel=0.03)
    per_bin = np.bincount((workload.arrival // 20_000.0).astype(int), minlength=4)
    assert per_bin / per_bin.sum() == pytest.approx([0.1, 0.2, 0.3, 0.4], abs=0.01)
    early = workload.arrival < 20_000.0
    assert workload.demand[early, 1].mean() == pytest.approx(
        4 * workload.demand[~early, 1][-500:].mean(), rel=0.15
    )
    sim = _run(cluster, workload, "jsq")
    assert sim.metrics().cpu_utilisation == pytest.approx(
        0.6, rel=0.05
    )  # identical nodes: load = utilisation


@pytest.mark.parametrize(
    ("trace", "stride"), [("google2019", 300), ("alibaba2018", 300), ("alibaba2018", 10)]
)
def test_the_real_traces_load_and_scale_to_the_asked_utilisation(trace, stride):
    frame = load_trace(trace, stride)
    assert {"cpu_util_percent", "mem_util_percent"} <= set(frame.columns)
    assert (
        len(frame)
        == {("google2019", 300): 8064, ("alibaba2018", 300): 2243, ("alibaba2018", 10): 67242}[
            (trace, stride)
        ]
    )
    case = trace_scenario(
        trace, np.random.default_rng(1), load=0.75, bins=100, stride_seconds=stride, bin_duration=500.0
    )
    assert case.workload.expected_load == 0.75
    assert case.workload.load(case.cluster) == pytest.approx(0.75, rel=0.05)
    profile = trace_profile(trace, stride_seconds=stride, bins=100)
    per_bin = np.bincount((case.workload.arrival // 500.0).astype(int), minlength=100)
    assert np.corrcoef(per_bin, profile.cpu)[0, 1] > 0.6 or profile.cpu.std() < 0.05


def test_same_seed_same_results_other_seed_differs(mixed):
    first = scenario("mixed", np.random.default_rng(4), num_tasks=2000)
    second = scenario("mixed", np.random.default_rng(4), num_tasks=2000)
    assert np.array_equal(first.workload.arrival, second.workload.arrival)
    assert np.array_equal(first.workload.demand, second.workload.demand)
    runs = [
        _run(first.cluster, first.workload, "power_of_two", 8),
        _run(second.cluster, second.workload, "power_of_two", 8),
    ]
    assert _same(*runs)
    other = _run(first.cluster, first.workload, "power_of_two", 9)
    assert not np.array_equal(runs[0].task_latencies(), other.task_latencies(), equal_nan=True)
    traces = [trace_scenario(_tiny_trace(), np.random.default_rng(2), bins=4).workload for _ in range(2)]
    assert np.array_equal(traces[0].arrival, traces[1].arrival) and np.array_equal(
        traces[0].size, traces[1].size
    )


def test_get_state_then_set_state_resumes_exactly(mixed):
    options = ClusterSimOptions(interval=60.0)

    def migrate_some(sim):
        sim.migrate(migration_matrix(8, np.full(8, 0.4), (np.arange(8) + 2) % 8))

    whole = ClusterSimulator(mixed.cluster, mixed.workload, options, FAILURES)
    whole.reset(np.random.default_rng(12))
    for _ in range(10):
        whole.run_epoch("random")
    migrate_some(whole)
    state = whole.get_state()
    while whole.run_epoch("random"):
        migrate_some(whole)
    fresh = ClusterSimulator(mixed.cluster, mixed.workload, options, FAILURES)
    fresh.set_state(state)
    while fresh.run_epoch("random"):
        migrate_some(fresh)
    assert fresh.counts().migrated > 0 and _same(whole, fresh)


# ---------------------------------------------------------------------- errors
def test_bad_input_raises_one_line_errors():
    with pytest.raises(RlteError, match=r"^cluster 'empty': needs at least 1 node, has 0$"):
        Cluster(np.zeros(0), np.zeros((0, 3)), "empty")
    with pytest.raises(
        RlteError, match=r"^cluster 'c': node 1 memory capacity -0\.5 must be a finite number >= 0$"
    ):
        Cluster(np.ones(2), np.array([[1, 1, 1], [1, -0.5, 1]]), "c")
    with pytest.raises(RlteError, match=r"^cluster 'c': node 0 speed 0\.0 must be a finite number > 0$"):
        Cluster(np.zeros(1), np.ones((1, 3)), "c")
    with pytest.raises(RlteError, match=r"^trace 'azure': unknown \(choose from alibaba2018, google2019\)$"):
        trace_scenario("azure", np.random.default_rng(0))
    with pytest.raises(RlteError, match=r"^trace 'google2019': no 10 s bins \(choose from 300\)$"):
        load_trace("google2019", 10)
    with pytest.raises(
        RlteError, match=r"^trace 'dataframe': no column 'mem_util_percent' \(has cpu_util_percent\)$"
    ):
        trace_profile(pd.DataFrame({"cpu_util_percent": [1.0, 2.0]}))
    with pytest.raises(
        RlteError,
        match=r"^scenario 'gpu_bound': unknown \(choose from cpu_bound, memory_bound, io_heavy, mixed, park\)$",
    ):
        scenario("gpu_bound", np.random.default_rng(0))
    with pytest.raises(
        RlteError, match=r"^failure schedule: failure time -1\.0 of node 0 must be a finite number >= 0$"
    ):
        FailureSchedule([0], [-1.0], [5.0])
    with pytest.raises(RlteError, match=r"^failure schedule: node 0 fails at 3\.0 while down since 1\.0$"):
        FailureSchedule([0, 0], [1.0, 3.0], [4.0, 6.0])
    with pytest.raises(
        RlteError, match=r"^dispatch policy 'fastest': unknown \(choose from round_robin, random, "
    ):
        dispatch_policy("fastest")
    with pytest.raises(
        RlteError, match=r"^workload 'workload': task 1 arrives before task 0 \(arrivals must be in order\)$"
    ):
        _workload([2.0, 1.0], [1.0, 1.0])
    cluster = Cluster.homogeneous(2)
    with pytest.raises(RlteError, match=r"^failure schedule: node 5 is not a node of cluster 'homogeneous'$"):
        ClusterSimulator(cluster, _workload([0.0], [1.0]), failures=FailureSchedule([5], [1.0], [2.0]))
    with pytest.raises(RlteError, match=r"^cluster simulator: lookahead 0 must be an integer >= 1$"):
        ClusterSimulator(cluster, _workload([0.0], [1.0]), ClusterSimOptions(lookahead=0))
    sim = ClusterSimulator(cluster, _workload([0.0, 1.0], [1.0, 1.0]))
    with pytest.raises(RlteError, match=r"^cluster simulator: call reset\(rng\) first$"):
        sim.counts()
    sim.reset(np.random.default_rng(0))
    with pytest.raises(
        RlteError, match=r"^cluster simulator: no decision is due \(call next_decision first\)$"
    ):
        sim.dispatch(0)
    sim.next_decision()
    with pytest.raises(RlteError, match=r"^cluster simulator: node 2 must be an integer in \[0, 1\]$"):
        sim.dispatch(2)
    with pytest.raises(RlteError, match=r"^migration matrix: row 0 sums to 1\.5 \(must be <= 1\)$"):
        sim.migrate(np.array([[0.0, 1.5], [0.0, 0.0]]))
    with pytest.raises(RlteError, match=r"^migration targets: node 1 targets itself$"):
        migration_matrix(2, [0.0, 0.5], [0, 1])


@pytest.mark.slow
def test_bench_cluster_rows():
    """The benchmark checks both implementations agree and reports both rates (CPU time)."""
    from rlte.bench_cluster import POLICIES as BENCHED
    from rlte.bench_cluster import bench_cluster, format_rows

    rows = bench_cluster(quick=True)
    assert [row["method"] for row in rows] == list(BENCHED)
    assert all(row["benchmark"] == "cluster" and row["ratio"] > 10 for row in rows)
    assert "power_of_two" in format_rows(rows)
