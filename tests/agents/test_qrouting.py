"""Q-routing: the compiled learners against their plain-Python twins on the reference simulator,
convergence to shortest paths at low load, the modules composing as documented, seed 004's rows,
experiments, checkpoints and one-line errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rlte.agents.qrouting import (
    PAPER_COMBINATIONS,
    QRouter,
    QRoutingConfig,
    combination,
    convergence_time,
    run_experiment,
)
from rlte.errors import RlteError
from rlte.net.topology import load_topology
from rlte.sim.packet import (
    LoadSchedule,
    PacketNetwork,
    PacketSimOptions,
    PacketSimulator,
    WindowSeries,
    seed_streams,
)
from rlte.sim.packet_reference import ReferencePacketSimulator


@pytest.fixture(scope="module")
def grid() -> PacketNetwork:
    return PacketNetwork.from_topology(load_topology("grid6x6"))


@pytest.fixture(scope="module")
def grid3() -> PacketNetwork:
    """A 3 x 3 grid, both directions of every link."""
    edges = [(v, v + 1) for v in range(9) if v % 3 < 2] + [(v, v + 3) for v in range(6)]
    src = [u for u, v in edges] + [v for u, v in edges]
    dst = [v for u, v in edges] + [u for u, v in edges]
    return PacketNetwork.from_links(9, src, dst, name="grid3x3")


def _learn(network, config, load, seed, options=None, until=None):
    sim = PacketSimulator(network, load, options or PacketSimOptions(record_packets=100_000))
    traffic, policy = seed_streams(seed)
    sim.reset(traffic)
    router = QRouter(network, config, policy)
    router.run(sim, until)
    return sim, router


# ---------------------------------------------------------------------- two implementations agree
@pytest.mark.parametrize("name", list(PAPER_COMBINATIONS))
def test_compiled_learner_equals_the_plain_python_one_on_the_reference_simulator(grid, name):
    load = LoadSchedule.fixed(1.5, 300.0)
    options = PacketSimOptions(record_packets=100_000)
    compiled, compiled_router = _learn(grid, name, load, 21, options)
    reference = ReferencePacketSimulator(grid, load, options)
    traffic, policy = seed_streams(21)
    reference.reset(traffic)
    router = QRouter(grid, name, policy)
    reference.run(router)
    assert compiled.counts() == reference.counts()
    assert all(np.array_equal(a, b) for a, b in zip(compiled.packets(), reference.packets()))
    assert np.array_equal(compiled_router.q, router.q)
    assert compiled_router.rng.bit_generator.state == router.rng.bit_generator.state


# ---------------------------------------------------------------------- answers known by hand
def test_greedy_q_routing_learns_shortest_paths_at_low_load(grid3):
    """Q starts at 0 (every link looks best); at load 0.3 on a 3 x 3 grid off_greedy ends with every
    greedy next hop on a shortest path and the delivery time of shortest-path routing."""
    dist = grid3.hop_counts()
    sim, router = _learn(
        grid3, "off_greedy", LoadSchedule.fixed(0.3, 10_000.0), 0, PacketSimOptions(window=1000.0)
    )
    next_hops = router.greedy_next_hops()
    pairs = [(d, v) for d in range(9) for v in range(9) if d != v]
    on_shortest = sum(dist[next_hops[d, v], d] == dist[v, d] - 1 for d, v in pairs)
    assert on_shortest == len(pairs)
    late = sim.windows()
    late_delay = late.delay_sum[5:].sum() / late.delivered[5:].sum()
    assert late_delay < 1.1 * dist[~np.eye(9, dtype=bool)].mean()  # 2.0 hops on average; queueing is slight
    assert late.delay_sum[0] / late.delivered[0] > late_delay  # it started worse


def test_without_queueing_greedy_values_become_the_hop_distances(grid3):
    """One packet at a time: rewards are exactly one per hop, so Q of the greedy action converges
    to the hop distance (optimistic estimates only rise toward it)."""
    _, router = _learn(grid3, "off_greedy", LoadSchedule.fixed(1.0, 10_000.0), 1,
                       PacketSimOptions(network_limit=1))  # fmt: skip
    dist = grid3.hop_counts()
    for v in range(9):
        lo, hi = grid3.out_ptr[v], grid3.out_ptr[v + 1]
        best = router.q1[:, lo:hi].min(axis=1)
        others = np.arange(9) != v
        np.testing.assert_allclose(best[others], dist[v, others], atol=1e-3)


# ---------------------------------------------------------------------- modules and combinations
def test_the_thirteen_rows_compose_their_modules():
    assert len(PAPER_COMBINATIONS) == 13
    assert combination("off_greedy") == QRoutingConfig()
    row = combination("on_dbl_expected_softmax_2hop")
    assert (row.execution, row.improvement, row.evaluation, row.double, row.hops) == (
        "on",
        "softmax",
        "expected",
        True,
        2,
    )
    assert row.learning_rate == 0.5 and combination("on_dbl_expected_softmax").learning_rate == 0.9
    assert combination("off_dbl_egreedy") == QRoutingConfig(improvement="egreedy", double=True)
    assert combination("on_egreedy", learning_rate=0.1).learning_rate == 0.1


def test_every_row_runs_and_rows_differ_where_their_modules_differ(grid):
    delays = {}
    for name in PAPER_COMBINATIONS:
        sim, router = _learn(grid, name, LoadSchedule.fixed(2.0, 400.0), 3)
        counts = sim.counts()
        assert (
            counts.delivered > 100 and counts.injected == counts.delivered + counts.in_flight + counts.refused
        )
        assert np.isfinite(router.q).all() and (router.q >= 0).all()
        assert router.q[1].any() == combination(name).double  # the second table is used only when double
        delays[name] = sim.packets().delay
    for first, second in itertools.combinations(delays, 2):
        size = min(len(delays[first]), len(delays[second]))
        assert not np.array_equal(delays[first][:size], delays[second][:size]), (first, second)


@pytest.mark.parametrize(
    "variant",
    [
        {"improvement": "egreedy", "epsilon": 0.0},  # epsilon-greedy without exploration is greedy
        {"execution": "on", "evaluation": "expected"},  # expected SARSA under a greedy policy is Q-learning
        {"execution": "on", "evaluation": "sample", "improvement": "greedy"},  # so is greedy SARSA here
    ],
)
def test_modules_reduce_to_q_routing_where_they_should(grid, variant):
    """With deterministic tie-breaks, these compositions make the very same decisions as off_greedy."""
    base, _ = _learn(grid, QRoutingConfig(tie_break="first"), LoadSchedule.fixed(2.0, 400.0), 4)
    other, _ = _learn(grid, QRoutingConfig(tie_break="first", **variant), LoadSchedule.fixed(2.0, 400.0), 4)
    assert np.array_equal(base.packets().delay, other.packets().delay)


def test_learning_can_be_frozen(grid):
    sim = PacketSimulator(grid, LoadSchedule.fixed(1.0, 200.0))
    traffic, policy = seed_streams(0)
    sim.reset(traffic)
    router = QRouter(grid, "off_softmax", policy)
    router.run(sim, learn=False)
    assert (router.q == 0).all() and sim.counts().delivered > 0


# ---------------------------------------------------------------------- experiments
def test_run_experiment_reports_steps_windows_and_is_deterministic(grid):
    schedule = LoadSchedule.steps(0.5, 1.5, 0.5, 200.0)
    first = run_experiment("off_greedy", grid, schedule, 5)
    again = run_experiment("off_greedy", grid, schedule, 5)
    other = run_experiment("off_greedy", grid, schedule, 6)
    assert first.step_rate.tolist() == [0.5, 1.0, 1.5] and len(first.step_mean_delay) == 3
    assert len(first.windows.start) == 6 and first.windows.start[1] == 100.0
    per_step = first.windows.delay_sum.reshape(3, 2).sum(1) / first.windows.delivered.reshape(3, 2).sum(1)
    np.testing.assert_allclose(first.step_mean_delay, per_step)
    assert math.isnan(first.convergence_time)  # defined for one fixed load only
    assert np.array_equal(first.windows.delay_sum, again.windows.delay_sum) and first.counts == again.counts
    assert first.counts != other.counts
    baseline = run_experiment("shortest_path", load_topology("grid6x6"), schedule, 5)
    assert baseline.method == "shortest_path" and baseline.step_mean_delay[0] < first.step_mean_delay[0]


def test_convergence_time_on_a_known_curve():
    """Delay 20 for 30 windows, then 10: settled once the 10-window mean is within 10 % of 10."""
    delay = np.r_[np.full(30, 20.0), np.full(70, 10.0)]
    windows = WindowSeries(100.0 * np.arange(100), *(np.zeros(100, int),) * 3, np.full(100, 5),
                           5 * delay, np.zeros(100))  # fmt: skip
    # the 10-window means stay within 11 from the block of windows 29..38 on (one window at 20),
    # which ends at 3,900
    assert convergence_time(windows) == 3900.0
    assert math.isnan(convergence_time(windows._replace(delay_sum=5 * np.r_[delay[:-1], 50.0])))


def test_fixed_load_run_reports_a_convergence_time(grid3):
    run = run_experiment("off_greedy", grid3, LoadSchedule.fixed(0.5, 5000.0), 0)
    assert 0 < run.convergence_time < 5000


# ---------------------------------------------------------------------- checkpoints
def test_router_and_simulator_state_resume_exactly(grid):
    load = LoadSchedule.fixed(2.5, 500.0)
    whole, whole_router = _learn(grid, "on_dbl_expected_softmax_2hop", load, 8)
    sim, router = _learn(grid, "on_dbl_expected_softmax_2hop", load, 8, until=200.0)
    sim_state, router_state = sim.get_state(), router.get_state()
    router.run(sim, 350.0)  # wander off
    fresh = PacketSimulator(grid, load, sim.options)
    fresh.set_state(sim_state)
    resumed = QRouter(grid, "on_dbl_expected_softmax_2hop", np.random.default_rng(99))
    resumed.set_state(router_state)
    resumed.run(fresh)
    assert fresh.counts() == whole.counts() and np.array_equal(resumed.q, whole_router.q)


# ---------------------------------------------------------------------- errors
def test_bad_input_raises_one_line_errors(grid):
    known = ", ".join(PAPER_COMBINATIONS)
    with pytest.raises(
        RlteError,
        match=rf"^q-routing combination 'off_gredy': unknown \(did you mean 'off_greedy'.*\?\); known: {known}$",
    ):
        combination("off_gredy")
    with pytest.raises(RlteError, match=r"^q-routing: learning_rate 1\.5: must be > 0 and <= 1$"):
        QRoutingConfig(learning_rate=1.5).validate()
    with pytest.raises(
        RlteError, match=r"^here: improvement 'boltzmann': must be one of 'greedy', 'egreedy', 'softmax'$"
    ):
        QRoutingConfig(improvement="boltzmann").validate("here")
    with pytest.raises(RlteError, match=r"^q-routing: hops 0: must be >= 1 and <= 7$"):
        QRoutingConfig(hops=0).validate()
    with pytest.raises(RlteError, match=r"^q-routing combination 'off_greedy': unknown field 'alpha'$"):
        combination("off_greedy", alpha=0.5)
    with pytest.raises(
        RlteError, match=r"^routing method 'shortest': unknown \(did you mean 'shortest_path'"
    ):
        run_experiment("shortest", grid, LoadSchedule.fixed(1.0, 10.0), 0)
    with pytest.raises(RlteError, match=r"^load schedule: load -1\.0 must be a finite number >= 0$"):
        run_experiment("off_greedy", grid, LoadSchedule.fixed(-1.0, 10.0), 0)
