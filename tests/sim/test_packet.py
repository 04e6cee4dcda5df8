"""The packet simulator: answers known by hand at zero load, the compiled simulator against the
plain-Python reference, conservation and limits under any load, schedules, determinism, checkpoints
and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_topology

from rlte.errors import RlteError
from rlte.net.topology import load_topology
from rlte.sim.packet import (
    BLOCKED,
    SENT,
    LoadSchedule,
    PacketNetwork,
    PacketSimOptions,
    PacketSimulator,
    seed004_high,
    seed004_low_to_high,
    seed_streams,
    shortest_path_policy,
    table_policy,
)
from rlte.sim.packet_reference import ReferencePacketSimulator, ReferenceTablePolicy


@pytest.fixture(scope="module")
def grid() -> PacketNetwork:
    return PacketNetwork.from_topology(load_topology("grid6x6"))


def _compiled(network, load, options, seed, policy):
    sim = PacketSimulator(network, load, options)
    traffic, policy_rng = seed_streams(seed)
    sim.reset(traffic)
    sim.run(policy, policy_rng)
    return sim


def _reference(network, load, options, seed, policy):
    sim = ReferencePacketSimulator(network, load, options)
    traffic, policy_rng = seed_streams(seed)
    sim.reset(traffic)
    sim.run(ReferenceTablePolicy(network, policy, policy_rng))
    return sim


def _same_results(a, b) -> bool:
    tuples = [(a.packets(), b.packets()), (a.windows(), b.windows())]
    return a.counts() == b.counts() and all(
        np.array_equal(x, y) for first, second in tuples for x, y in zip(first, second)
    )


# ---------------------------------------------------------------------- answers known by hand
@pytest.mark.parametrize(("delivery", "offset"), [("boyan_littman", 0), ("handoff", -1)])
def test_without_queueing_delivery_time_is_the_hop_count(grid, delivery, offset):
    """One packet in the network at a time (network_limit=1): nothing ever waits, so under unit
    timing a shortest-path packet's delivery time is its hop count (minus the last hop's unit under
    seed 004's convention), and it takes a shortest path."""
    options = PacketSimOptions(network_limit=1, record_packets=5000, delivery=delivery)
    sim = _compiled(grid, LoadSchedule.fixed(0.5, 4000.0), options, 0, shortest_path_policy(grid))
    records = sim.packets()
    assert len(records.delay) > 200
    hops = grid.hop_counts()[records.source, records.destination]
    assert np.array_equal(records.hops, hops)
    np.testing.assert_allclose(records.delay, hops + offset, rtol=0, atol=1e-9)  # times are sums of floats
    assert sim.counts().refused > 0  # the limit of one packet was reached


def test_at_very_low_load_delivery_time_is_the_hop_count(grid):
    """Load 0.01 with the usual limits: packets almost never meet, so all but a few take exactly
    their hop count, none less."""
    options = PacketSimOptions(record_packets=5000)
    sim = _compiled(grid, LoadSchedule.fixed(0.01, 40_000.0), options, 3, shortest_path_policy(grid))
    records = sim.packets()
    hops = grid.hop_counts()[records.source, records.destination]
    assert len(records.delay) > 300 and np.array_equal(records.hops, hops)
    exact = np.isclose(records.delay, hops, rtol=0, atol=1e-9)
    assert exact.mean() > 0.98 and (records.delay >= hops - 1e-9).all()


def _shortest_path_records(network, load, duration, seed):
    options = PacketSimOptions(record_packets=1_000_000)
    return _compiled(
        network, LoadSchedule.fixed(load, duration), options, seed, shortest_path_policy(network)
    ).packets()


def test_queueing_vanishes_with_the_load(grid):
    """Mean delivery time = mean hop count (4.83 on the grid over uniform distinct pairs) + the
    time spent waiting, which falls to 0 with the load: 0.003 at 0.01, 0.03 at 0.1, 0.17 at 0.5."""
    assert grid.hop_counts()[~np.eye(36, dtype=bool)].mean() == pytest.approx(4.8349, abs=1e-4)
    waits = []
    for load, duration in ((0.01, 200_000.0), (0.1, 40_000.0), (0.5, 20_000.0)):
        records = _shortest_path_records(grid, load, duration, 1)
        waits.append(float(np.mean(records.delay - records.hops)))
    assert 0 <= waits[0] < 0.01 < waits[1] < 0.05 and 0.13 < waits[2] < 0.22


def _independent_shortest_path_wait(network, load, duration, seed) -> float:
    """The mean wait under the rules as written, by a different construction: handling times are
    fixed at send time (next handling = max(the node's last scheduled handling + 1, arrival))
    and only handlings are events, as in Boyan and Littman's simulator; injections bypass queues."""
    import heapq

    rng = np.random.default_rng(seed)
    n = network.num_nodes
    dist = network.hop_counts()
    toward = [[[int(y) for y in network.neighbours(v) if dist[y, d] == dist[v, d] - 1] for d in range(n)]
              for v in range(n)]  # fmt: skip
    last = np.full(n, -np.inf)
    handlings, order, waits = [], 0, []
    now = rng.exponential(1 / load)

    def handle(time, node, dest, arrival_here, wait):
        nonlocal order
        nexts = toward[node][dest]
        nxt = nexts[int(rng.random() * len(nexts))]
        wait += time - arrival_here
        if nxt == dest:
            waits.append(wait)
            return
        arrival = time + 1.0
        last[nxt] = max(last[nxt] + 1.0, arrival)
        heapq.heappush(handlings, (last[nxt], order, nxt, dest, arrival, wait))
        order += 1

    while now < duration:
        while handlings and handlings[0][0] <= now:
            time, _, node, dest, arrival, wait = heapq.heappop(handlings)
            handle(time, node, dest, arrival, wait)
        source = int(rng.random() * n)
        dest = int(rng.random() * (n - 1))
        handle(now, source, dest + (dest >= source), now, 0.0)
        now += rng.exponential(1 / load)
    return float(np.mean(waits))


def test_the_queueing_is_what_the_rules_give_built_independently(grid):
    """At load 0.5 a shortest-path packet waits 0.17 on average, by the compiled simulator and
    by a separate implementation of the rules: the excess over the hop count is real queueing."""
    records = _shortest_path_records(grid, 0.5, 40_000.0, 2)
    compiled = float(np.mean(records.delay - records.hops))
    independent = _independent_shortest_path_wait(grid, 0.5, 40_000.0, 3)
    assert abs(compiled - independent) < 0.025 and 0.13 < compiled < 0.22


@pytest.mark.parametrize(("load", "paper"), [(0.5, 3.88), (1.0, 4.05)])
def test_seed004_counts_shortest_path_delivery_in_whole_time_units(grid, load, paper):
    """Seed 004's shortest-path row (3.88 at 0.5, 4.05 at 1.0) is the mean of delivery times
    truncated to whole time units, one unit off: Boyan and Littman's simulator sums them into an
    integer. Untruncated, the same packets take 0.13-0.22 longer (the queueing above)."""
    delay = np.concatenate([_shortest_path_records(grid, load, 100_000.0, seed).delay for seed in range(3)])
    assert np.mean(np.floor(delay + 1e-9)) - 1 == pytest.approx(paper, abs=0.03)  # times are sums of floats
    assert np.mean(delay) - 1 > paper + 0.1


def test_general_timing_adds_service_transmission_and_propagation():
    """A line 0 - 1 - 2 with node service 0.5, transmission 0.25 and propagation 2 per hop: a packet
    from 0 to 2 takes 2 * 2.75 alone in the network."""
    network = PacketNetwork.from_links(3, [0, 1, 1, 2], [1, 0, 2, 1], node_service=0.5, transmission=0.25,
                                       propagation=2.0)  # fmt: skip
    options = PacketSimOptions(network_limit=1, record_packets=1000)
    sim = _compiled(network, LoadSchedule.fixed(0.2, 2000.0), options, 1, shortest_path_policy(network))
    records = sim.packets()
    assert len(records.delay) > 50
    np.testing.assert_allclose(records.delay, 2.75 * records.hops)
    assert set(records.hops.tolist()) == {1, 2}


def test_topology_timing_reads_capacity_and_delay():
    topology = make_topology([(0, 1, 8e6), (1, 2, 4e6)])  # 1 ms delay per link (conftest)
    network = PacketNetwork.from_topology(topology, "topology", packet_bytes=1000.0)
    slot = network.slot(1, 2)
    assert network.transmission[slot] == pytest.approx(8000.0 / 4e6)
    assert network.hop_latency[slot] == pytest.approx(8000.0 / 4e6 + 1e-3)
    assert network.neighbours(1).tolist() == [0, 2]


def test_a_queue_serves_one_packet_per_time_unit_in_arrival_order():
    """Star around hub 0: packets meeting at the hub leave it one time unit apart, so some wait."""
    network = PacketNetwork.from_links(4, [1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3])
    options = PacketSimOptions(record_packets=100_000)
    sim = _compiled(network, LoadSchedule.fixed(0.8, 5000.0), options, 2, shortest_path_policy(network))
    records = sim.packets()
    assert (records.hops <= 2).all()
    waited = records.delay - records.hops
    assert (waited >= -1e-9).all() and waited.max() > 0.5


# ---------------------------------------------------------------------- two implementations agree
CASES = {
    "default": {},
    "small limits": {"queue_limit": 4, "network_limit": 300},
    "source queue, handoff": {"source_queue": True, "queue_limit": 3, "delivery": "handoff"},
}


@pytest.mark.parametrize("tie_break", ["random", "fixed"])
@pytest.mark.parametrize("case", list(CASES))
def test_compiled_and_reference_give_identical_results(grid, tie_break, case):
    options = PacketSimOptions(record_packets=100_000, window=50.0, **CASES[case])
    load = LoadSchedule.steps(1.0, 3.0, 1.0, 300.0)
    policy = shortest_path_policy(grid, tie_break)
    compiled = _compiled(grid, load, options, 7, policy)
    reference = _reference(grid, load, options, 7, policy)
    assert compiled.counts().delivered > 300  # tiny queues gridlock: few deliveries, many drops
    assert _same_results(compiled, reference)


def test_compiled_and_reference_agree_under_general_timing():
    rng = np.random.default_rng(0)
    edges = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (1, 4), (4, 3)]
    src = [u for u, v in edges] + [v for u, v in edges]
    dst = [v for u, v in edges] + [u for u, v in edges]
    network = PacketNetwork.from_links(5, src, dst, node_service=rng.uniform(0.2, 1.0, 5),
                                       transmission=rng.uniform(0.0, 0.5, 14), propagation=rng.uniform(0, 2, 14))  # fmt: skip
    weights = rng.uniform(0.1, 1.0, (5, 14)) * (network.link_src[None, :] != np.arange(5)[:, None])
    policy = table_policy(network, weights, order="slot")  # a stochastic, loop-prone routing
    options = PacketSimOptions(record_packets=100_000, queue_limit=6, network_limit=40)
    load = LoadSchedule(np.array([0.0, 100.0, 200.0]), np.array([0.5, 0.0, 2.0]), 400.0)
    compiled = _compiled(network, load, options, 3, policy)
    reference = _reference(network, load, options, 3, policy)
    assert compiled.counts().delivered > 100
    assert _same_results(compiled, reference)


def test_stepping_from_python_equals_the_compiled_loop(grid):
    """next_decision / forward with the reference table policy's choices give the run() results."""
    options = PacketSimOptions(record_packets=10_000)
    load = LoadSchedule.fixed(2.0, 400.0)
    policy = shortest_path_policy(grid)
    compiled = _compiled(grid, load, options, 5, policy)
    stepped = PacketSimulator(grid, load, options)
    traffic, policy_rng = seed_streams(5)
    stepped.reset(traffic)
    chooser = ReferenceTablePolicy(grid, policy, policy_rng)
    while (decision := stepped.next_decision()) is not None:
        slot = chooser.choose(decision.node, decision.packet, decision.destination)
        assert stepped.forward(slot - int(grid.out_ptr[decision.node])).status == SENT
    assert _same_results(compiled, stepped)


# ---------------------------------------------------------------------- invariants
@pytest.mark.parametrize("load", [0.5, 2.0, 4.0, 8.0])
def test_packets_are_conserved_at_every_load(grid, load):
    sim = PacketSimulator(grid, LoadSchedule.fixed(load, 2000.0), PacketSimOptions(queue_limit=50))
    traffic, policy_rng = seed_streams(11)
    sim.reset(traffic)
    policy = shortest_path_policy(grid)
    for until in np.linspace(100.0, 2000.0, 20):
        sim.run(policy, policy_rng, until)
        c = sim.counts()
        assert c.injected == c.delivered + c.refused + c.dropped + c.in_flight
        assert 0 <= c.queued <= c.in_flight <= 1000
        assert sim.occupancy().sum() <= c.in_flight
    assert (sim.max_occupancy() <= 50).all()
    windows = sim.windows()
    assert windows.injected.sum() == c.injected and windows.delivered.sum() == c.delivered
    assert windows.refused.sum() == c.refused and windows.dropped.sum() == c.dropped
    assert windows.delay_sum.sum() == pytest.approx(c.delay_sum)


def test_queues_never_exceed_their_limit_and_full_hops_block(grid):
    options = PacketSimOptions(queue_limit=3, network_limit=1000)
    sim = _compiled(grid, LoadSchedule.fixed(6.0, 1500.0), options, 4, shortest_path_policy(grid, "fixed"))
    c = sim.counts()
    assert (sim.max_occupancy() <= 3).all() and sim.max_occupancy().max() == 3
    assert c.blocked > 0 and c.dropped > 0
    assert c.injected == c.delivered + c.refused + c.dropped + c.in_flight


def test_a_blocked_decision_waits_at_its_node(grid):
    """Fill node 1's queue by hand, then forward a packet to it: blocked, nothing sent."""
    network = PacketNetwork.from_links(3, [0, 1, 1, 2], [1, 0, 2, 1])
    sim = PacketSimulator(network, LoadSchedule.fixed(1.0, 100.0), PacketSimOptions(queue_limit=1))
    sim.reset(np.random.default_rng(0))
    sim.arrays.occupancy[:] = 1
    decision = sim.next_decision()
    outcome = sim.forward(0)
    if network.neighbours(decision.node)[0] == decision.destination:
        assert outcome.status == SENT  # a destination is never full
    else:
        assert outcome.status == BLOCKED and np.isnan(outcome.arrival)
        assert sim.counts().blocked == 1 and sim.counts().hops == 0


# ---------------------------------------------------------------------- load schedules
def test_seed004_schedules():
    low, high = seed004_low_to_high(), seed004_high()
    assert low.rate.tolist() == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    assert low.start.tolist() == [10_000.0 * i for i in range(9)] and low.end == 90_000.0
    assert high.rate.tolist() == [3.5, 3.6, 3.7, 3.8, 3.9, 4.0, 4.1, 4.2, 4.3, 4.4] and high.end == 100_000.0
    assert low.rate_at(25_000.0) == 1.5


def test_injections_follow_the_schedule(grid):
    """Rates 1, 0, 3 for 2,000 units each: counts within 5 standard deviations, none while 0."""
    load = LoadSchedule(np.array([0.0, 2000.0, 4000.0]), np.array([1.0, 0.0, 3.0]), 6000.0)
    sim = _compiled(grid, load, PacketSimOptions(window=2000.0), 0, shortest_path_policy(grid))
    injected = sim.windows().injected
    assert abs(injected[0] - 2000) < 5 * np.sqrt(2000) and injected[1] == 0
    assert abs(injected[2] - 6000) < 5 * np.sqrt(6000)


# ---------------------------------------------------------------------- determinism and checkpoints
def test_same_seed_same_results_other_seed_differs(grid):
    options = PacketSimOptions(record_packets=10_000)
    load = LoadSchedule.fixed(2.0, 500.0)
    first = _compiled(grid, load, options, 9, shortest_path_policy(grid))
    second = _compiled(grid, load, options, 9, shortest_path_policy(grid))
    other = _compiled(grid, load, options, 10, shortest_path_policy(grid))
    assert _same_results(first, second)
    assert not np.array_equal(first.packets().delay, other.packets().delay[: len(first.packets().delay)])


def test_get_state_then_set_state_resumes_exactly(grid):
    options = PacketSimOptions(record_packets=10_000)
    load = LoadSchedule.fixed(3.0, 600.0)
    policy = shortest_path_policy(grid)
    whole = _compiled(grid, load, options, 12, policy)
    sim = PacketSimulator(grid, load, options)
    traffic, policy_rng = seed_streams(12)
    sim.reset(traffic)
    sim.run(policy, policy_rng, 250.0)
    state, policy_state = sim.get_state(), policy_rng.bit_generator.state
    sim.run(policy, policy_rng, 400.0)  # wander off, then restore into a fresh simulator
    fresh = PacketSimulator(grid, load, options)
    fresh.set_state(state)
    policy_rng.bit_generator.state = policy_state
    fresh.run(policy, policy_rng)
    assert _same_results(whole, fresh)


# ---------------------------------------------------------------------- errors
def test_bad_input_raises_one_line_errors():
    with pytest.raises(RlteError, match=r"^load schedule: load -0\.5 must be a finite number >= 0$"):
        LoadSchedule.fixed(-0.5, 100.0)
    with pytest.raises(RlteError, match=r"^packet network 'links': node 3 has no links \(isolated\)$"):
        PacketNetwork.from_links(4, [0, 1, 1, 2], [1, 0, 2, 1])
    with pytest.raises(
        RlteError, match=r"^packet network 'links': not strongly connected \(no path from node 1 to node 0\)$"
    ):
        PacketNetwork.from_links(3, [0, 1, 2], [1, 2, 1])
    with pytest.raises(
        RlteError, match=r"^packet network 'links': handling a packet on link 0 -> 1 takes no time"
    ):
        PacketNetwork.from_links(2, [0, 1], [1, 0], node_service=0.0)
    with pytest.raises(RlteError, match=r"^timing 'fast': unknown \(choose from unit, topology\)$"):
        PacketNetwork.from_topology(load_topology("grid6x6"), "fast")
    network = PacketNetwork.from_links(3, [0, 1, 1, 2], [1, 0, 2, 1])
    with pytest.raises(
        RlteError, match=r"^packet simulator: delivery 'late' must be one of boyan_littman, handoff$"
    ):
        PacketSimulator(network, LoadSchedule.fixed(1.0, 10.0), PacketSimOptions(delivery="late"))
    with pytest.raises(RlteError, match=r"^next-hop weights: node 0 has no next hop toward 1$"):
        table_policy(network, np.zeros((3, 4)))
    sim = PacketSimulator(network, LoadSchedule.fixed(1.0, 10.0))
    with pytest.raises(RlteError, match=r"^packet simulator: call reset\(traffic_rng\) first$"):
        sim.counts()
    sim.reset(np.random.default_rng(0))
    with pytest.raises(
        RlteError, match=r"^packet simulator: no decision is due \(call next_decision first\)$"
    ):
        sim.forward(0)
    decision = sim.next_decision()
    with pytest.raises(
        RlteError, match=rf"^packet simulator: action 5 at node {decision.node}: must be in \[0, "
    ):
        sim.forward(5)


def test_an_isolated_topology_node_is_refused():
    with pytest.raises(
        RlteError, match=r"^topology 'tiny': not strongly connected \(no path from '0' to '3'\)$"
    ):
        make_topology([(0, 1), (1, 2)], nodes=4)
