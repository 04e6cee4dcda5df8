"""Q-routing: the compiled learners against their plain-Python twins on the reference simulator,
convergence to shortest paths at low load, the modules composing as documented, seed 004's rows,
experiments, checkpoints and one-line errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rlte.agents.qrouting import (
    IMPROVEMENTS,
    PAPER_COMBINATIONS,
    QRouter,
    QRoutingConfig,
    behaviour_slot,
    combination,
    convergence_time,
    learn_after_send,
    reach_time,
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


# ---------------------------------------------------------------------- each module, by hand
# 0 - 1, 1 - 2, 1 - 3, 2 - 3; slots in (source, destination) order:
#   0: 0->1 | 1: 1->0, 2: 1->2, 3: 1->3 | 4: 2->1, 5: 2->3 | 6: 3->1, 7: 3->2
# Packets head for router 3. Q estimates delivery times (lower is better), so every target below
# takes the least (or a policy's mean of) the next router's estimates, never the largest.
DEST = 3


@pytest.fixture(scope="module")
def tiny() -> PacketNetwork:
    edges = [(0, 1), (1, 2), (1, 3), (2, 3)]
    return PacketNetwork.from_links(4, [u for u, v in edges] + [v for u, v in edges],
                                    [v for u, v in edges] + [u for u, v in edges], name="tiny")  # fmt: skip


def _router(network, config, seed=0) -> QRouter:
    """Router 2's estimates toward 3: 7 via router 1 (slot 4), 4 direct (slot 5); router 1's
    estimate via router 2 (slot 2) is 3, the entry most tests update."""
    router = QRouter(network, config, np.random.default_rng(seed))
    router.q[:, DEST, 4], router.q[:, DEST, 5], router.q[:, DEST, 2] = 7.0, 4.0, 3.0
    return router


def _learn_hops(router, compiled, hops, packet=0):
    """Learn from the hops ``(slot, reached its router at, reaches the next at)`` of one packet
    toward DEST, through the compiled path or the plain-Python one."""
    network, config = router.network, router.config
    on_policy = config.execution == "on"
    greedy_target = not on_policy or config.improvement == "greedy"
    sampled = on_policy and config.evaluation == "sample" and config.improvement != "greedy"
    hist_slot, hist_start = np.zeros((1, 8), dtype=np.int64), np.zeros((1, 8))
    for hop, (slot, hop_start, arrival) in enumerate(hops):
        if compiled:
            learn_after_send(network.out_ptr, router.q, router.params, router.rng, hist_slot, hist_start, packet, DEST,
                             hop, slot, int(network.link_dst[slot]), hop_start, arrival, config.hops,
                             IMPROVEMENTS.index(config.improvement), config.double, config.tie_break == "first",
                             greedy_target, sampled)  # fmt: skip
        else:
            router.sent(packet, int(network.link_src[slot]), slot, DEST, hop_start, arrival, hop + 1)


def _softmax(values, tau=1.0):
    weights = np.exp(-np.asarray(values) / tau)
    return weights / weights.sum()


@pytest.fixture(params=["compiled", "python"])
def compiled(request) -> bool:
    return request.param == "compiled"


def test_one_hop_target_is_the_reward_plus_the_next_routers_least_estimate(tiny, compiled):
    """Router 1 forwards to 2 a packet that reached it at 10 (it waited 1.5): r = 12.5 - 10, and
    router 2 bootstraps with its least estimate, min(7, 4): Q <- 3 + 0.9 (2.5 + 4 - 3)."""
    router = _router(tiny, "off_greedy")
    before = router.q.copy()
    _learn_hops(router, compiled, [(2, 10.0, 12.5)])
    assert router.q[0, DEST, 2] == pytest.approx(3 + 0.9 * (2.5 + 4 - 3))
    before[0, DEST, 2] = router.q[0, DEST, 2]
    assert np.array_equal(router.q, before)  # nothing else moved


def test_a_hop_into_the_destination_bootstraps_nothing(tiny, compiled):
    router = _router(tiny, "off_greedy")
    _learn_hops(router, compiled, [(5, 20.0, 21.0)])
    assert router.q[0, DEST, 5] == pytest.approx(4 + 0.9 * (1.0 - 4))


@pytest.mark.parametrize(
    ("config", "value"),
    [
        ("on_expected_softmax", float(_softmax([7.0, 4.0]) @ [7.0, 4.0])),
        # epsilon-greedy: the greedy action with 1 - epsilon, the other one with epsilon
        (QRoutingConfig(execution="on", improvement="egreedy", evaluation="expected"), 0.9 * 4 + 0.1 * 7),
        # off-policy the target policy is greedy whatever the behaviour
        ("off_softmax", 4.0),
        ("off_egreedy", 4.0),
    ],
)
def test_expected_targets_average_the_next_routers_estimates_under_the_target_policy(
    tiny, compiled, config, value
):
    router = _router(tiny, config)
    _learn_hops(router, compiled, [(2, 10.0, 12.5)])
    assert router.q[0, DEST, 2] == pytest.approx(3 + 0.9 * (2.5 + value - 3))


def test_epsilon_greedy_expectation_spreads_epsilon_over_the_other_actions(tiny, compiled):
    """Router 1 (three actions, estimates 6, 5, 2 toward 3) as the next router: the target is
    0.9 * 2 + 0.05 * 6 + 0.05 * 5."""
    router = _router(tiny, QRoutingConfig(execution="on", improvement="egreedy", evaluation="expected"))
    router.q[0, DEST, 1:4] = [6.0, 5.0, 2.0]
    _learn_hops(router, compiled, [(0, 0.0, 1.0)])
    assert router.q[0, DEST, 0] == pytest.approx(0.9 * (1.0 + 0.9 * 2 + 0.05 * 6 + 0.05 * 5))


def test_double_learning_updates_one_table_with_the_other_valuing_its_choice(tiny, compiled):
    """Router 2's tables toward 3: q1 = (1, 5), q2 = (8, 2). The coin picks the table updated (A);
    A picks router 2's action, the other table (B) values it: A = q1 picks slot 4, valued 8 by q2;
    A = q2 picks slot 5, valued 5 by q1."""
    outcomes = set()
    for seed in range(6):
        router = _router(tiny, "off_dbl_greedy", seed)
        router.q[0, DEST, 4:6], router.q[1, DEST, 4:6] = [1.0, 5.0], [8.0, 2.0]
        a = 1 if np.random.default_rng(seed).random() >= 0.5 else 0  # the coin, drawn first
        _learn_hops(router, compiled, [(2, 10.0, 12.5)])
        value = 8.0 if a == 0 else 5.0
        assert router.q[a, DEST, 2] == pytest.approx(3 + 0.9 * (2.5 + value - 3))
        assert router.q[1 - a, DEST, 2] == 3.0
        outcomes.add(a)
    assert outcomes == {0, 1}


def test_double_expected_softmax_weighs_one_table_by_the_others_policy(tiny, compiled):
    seed = next(s for s in range(10) if np.random.default_rng(s).random() < 0.5)  # the coin picks q1
    router = _router(tiny, "on_dbl_expected_softmax", seed)
    router.q[0, DEST, 4:6], router.q[1, DEST, 4:6] = [1.0, 5.0], [8.0, 2.0]
    _learn_hops(router, compiled, [(2, 10.0, 12.5)])
    value = float(_softmax([1.0, 5.0]) @ [8.0, 2.0])  # seed 004's Psi: P from q1, values from q2
    assert router.q[0, DEST, 2] == pytest.approx(3 + 0.9 * (2.5 + value - 3))


def test_two_hop_returns_add_two_rewards_then_bootstrap_two_routers_on(tiny, compiled):
    """0 -> 1 -> 2 -> 3, waiting 0.5 at router 1: hop 0's target (known once hop 1 is sent) is
    2.5 - 0 plus router 2's least estimate; the last two hops end at the destination."""
    router = _router(tiny, QRoutingConfig(hops=2, learning_rate=0.5))
    _learn_hops(router, compiled, [(0, 0.0, 1.0)])
    assert router.q[0, DEST, 0] == 0.0  # its return is not complete yet
    _learn_hops(router, compiled, [(0, 0.0, 1.0), (2, 1.5, 2.5)])
    assert router.q[0, DEST, 0] == pytest.approx(0.5 * (2.5 + 4.0))
    assert router.q[0, DEST, 2] == 3.0
    router = _router(tiny, QRoutingConfig(hops=2, learning_rate=0.5))
    _learn_hops(router, compiled, [(0, 0.0, 1.0), (2, 1.5, 2.5), (5, 2.5, 3.5)])
    assert router.q[0, DEST, 2] == pytest.approx(3 + 0.5 * (3.5 - 1.5 - 3))
    assert router.q[0, DEST, 5] == pytest.approx(4 + 0.5 * (3.5 - 2.5 - 4))


def test_on_policy_sample_target_uses_the_action_the_next_router_takes(tiny, compiled):
    """SARSA: router 1's hop is learned when router 2 forwards the packet, from the value of what
    router 2 did (back to 1, estimate 7), not of its best action (4)."""
    router = _router(tiny, "on_egreedy")
    _learn_hops(router, compiled, [(2, 10.0, 12.5)])
    assert router.q[0, DEST, 2] == 3.0  # waits for router 2's action
    _learn_hops(router, compiled, [(2, 10.0, 12.5), (4, 12.5, 13.5)])
    assert router.q[0, DEST, 2] == pytest.approx(3 + 0.9 * (2.5 + 7 - 3))
    assert router.q[0, DEST, 4] == 7.0


def _choices(network, config, q_router_1, count, compiled, seed=3):
    """``count`` slots router 1 picks toward 3 with estimates ``q_router_1`` (slots 1, 2, 3)."""
    router = QRouter(network, config, np.random.default_rng(seed))
    router.q[:, DEST, 1:4] = q_router_1
    c = router.config
    scratch = np.empty(3)
    if compiled:
        improvement = IMPROVEMENTS.index(c.improvement)
        return np.array([behaviour_slot(network.out_ptr, router.q, 1, DEST, improvement, c.double, c.tie_break == "first",
                                        c.epsilon, c.temperature, router.rng, scratch) for _ in range(count)])  # fmt: skip
    return np.array([router.choose(1, 0, DEST) for _ in range(count)])


def _frequencies(slots) -> np.ndarray:
    return np.bincount(slots - 1, minlength=3) / len(slots)


def test_behaviour_policies_favour_the_least_estimate(tiny, compiled):
    """Estimates 6, 5, 2 at router 1 (slots 1, 2, 3): greedy always takes slot 3; epsilon-greedy
    takes it with 1 - epsilon and each of the two others with epsilon / 2 (the paper's "with
    probability epsilon, other actions are selected"); softmax weighs exp(-Q / tau)."""
    estimates = [6.0, 5.0, 2.0]
    assert (_choices(tiny, "off_greedy", estimates, 200, compiled) == 3).all()
    np.testing.assert_allclose(_frequencies(_choices(tiny, "off_egreedy", estimates, 20_000, compiled)),
                               [0.05, 0.05, 0.9], atol=0.01)  # fmt: skip
    explore = _choices(tiny, QRoutingConfig(improvement="egreedy", epsilon=1.0), estimates, 4_000, compiled)
    assert (explore != 3).all() and abs(_frequencies(explore)[0] - 0.5) < 0.03
    for tau in (1.0, 3.0):
        config = QRoutingConfig(improvement="softmax", temperature=tau)
        np.testing.assert_allclose(_frequencies(_choices(tiny, config, estimates, 20_000, compiled)),
                                   _softmax(estimates, tau), atol=0.01)  # fmt: skip


def test_greedy_ties_are_broken_uniformly_or_by_the_first(tiny, compiled):
    ties = _frequencies(_choices(tiny, "off_greedy", [2.0, 2.0, 6.0], 4_000, compiled))
    assert abs(ties[0] - 0.5) < 0.03 and ties[2] == 0
    first = _choices(tiny, QRoutingConfig(tie_break="first"), [2.0, 2.0, 6.0], 100, compiled)
    assert (first == 1).all()


def test_double_learning_acts_on_the_mean_of_its_tables(tiny, compiled):
    router_tables = np.array([[6.0, 1.0, 4.0], [0.0, 9.0, 4.0]])  # means 3, 5, 4: slot 1
    router = QRouter(tiny, "off_dbl_greedy", np.random.default_rng(0))
    router.q[0, DEST, 1:4], router.q[1, DEST, 1:4] = router_tables
    if compiled:
        slot = behaviour_slot(
            tiny.out_ptr, router.q, 1, DEST, 0, True, False, 0.1, 1.0, router.rng, np.empty(3)
        )
    else:
        slot = router.choose(1, 0, DEST)
    assert slot == 1


def test_both_paths_draw_the_same_behaviour(tiny):
    for config in ("off_egreedy", "on_softmax", "off_dbl_egreedy"):
        estimates = [2.0, 2.0, 2.5]
        assert np.array_equal(
            _choices(tiny, config, estimates, 500, True), _choices(tiny, config, estimates, 500, False)
        )


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


def test_reach_time_is_the_first_passage_after_the_peak():
    """Low at the empty start (5), a congestion peak (40), down to 10 by window 50, then one late
    burst: the strict criterion moves to after the burst, the first passage does not."""
    delay = np.r_[np.full(5, 5.0), np.full(20, 40.0), np.linspace(40.0, 10.0, 25), np.full(50, 10.0)]
    delay[60:63] = 30.0  # the late burst
    windows = WindowSeries(100.0 * np.arange(100), *(np.zeros(100, int),) * 3, np.full(100, 5),
                           5 * delay, np.zeros(100))  # fmt: skip
    smoothed = np.convolve(delay, np.ones(10), "valid") / 10
    final = delay[75:].mean()  # 10
    peak = int(np.argmax(smoothed))
    first = peak + int(np.flatnonzero(smoothed[peak:] <= 1.1 * final)[0])
    assert reach_time(windows) == 100.0 * (first + 10)
    assert reach_time(windows) < 6000 < convergence_time(windows)
    assert math.isnan(reach_time(windows._replace(delivered=np.zeros(100, int))))  # nothing delivered


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
