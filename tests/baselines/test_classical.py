"""Classical baselines: hand-computed routings, LP <= every heuristic, the time-series protocol."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_topology
from hypothesis import given, settings
from hypothesis import strategies as st

from rlte.baselines import BASELINES, LpCache, LpPeak, make_baseline
from rlte.domains.flow_te import compare_baselines
from rlte.envs.scenario import ScenarioConfig, assemble
from rlte.errors import RlteError
from rlte.net.topology import load_topology
from rlte.net.traffic import TrafficSeries
from rlte.sim.flow import FlowModel


def _demand(n: int, s: int, t: int, value: float) -> np.ndarray:
    matrix = np.zeros((n, n))
    matrix[s, t] = value
    return matrix


def _mlu(topology, baseline_name, matrix):
    baseline = make_baseline(baseline_name)
    return float(FlowModel(topology).evaluate(baseline.solve(topology, matrix), matrix).mlu)


def test_diamond_by_hand(diamond):
    """s=0 -> t=3 over a capacity-10 branch and a capacity-30 branch, 20 offered."""
    matrix = _demand(4, 0, 3, 20.0)
    assert _mlu(diamond, "lp_opt", matrix) == pytest.approx(0.5, rel=1e-5)  # 5 + 15 of 10 and 30
    assert _mlu(diamond, "lp_paths", matrix) == pytest.approx(0.5, rel=1e-5)
    assert _mlu(diamond, "ecmp", matrix) == pytest.approx(1.0)  # 10 on each branch
    assert _mlu(diamond, "kpath_uniform_k2", matrix) == pytest.approx(1.0)
    assert _mlu(diamond, "ucmp_k2", matrix) == pytest.approx(0.5)  # split by bottleneck 10:30
    assert _mlu(diamond, "sp", matrix) == pytest.approx(2.0)  # all on the first branch (lowest link index)
    assert _mlu(diamond, "sp_inv_capacity", matrix) == pytest.approx(20.0 / 30.0)  # the wide branch


def test_triangle_by_hand():
    """Unit capacities, demand 0 -> 1 of 1.5: direct link plus the detour via 2; optimum 0.75."""
    triangle = make_topology([(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0)])
    matrix = _demand(3, 0, 1, 1.5)
    assert _mlu(triangle, "lp_opt", matrix) == pytest.approx(0.75, rel=1e-5)
    assert _mlu(triangle, "ecmp", matrix) == pytest.approx(1.5)
    assert _mlu(triangle, "kpath_uniform_k2", matrix) == pytest.approx(0.75)


def test_ecmp_splits_evenly_on_a_symmetric_ring():
    ring = make_topology([(0, 1), (1, 2), (2, 3), (3, 0)], capacity=1.0)
    routing = make_baseline("ecmp").solve(ring, np.zeros((4, 4)))
    stats = FlowModel(ring).evaluate(routing, _demand(4, 0, 2, 1.0))
    load = dict(zip(ring.link_names(), stats.link_load))
    assert load[("0", "1")] == load[("0", "3")] == load[("1", "2")] == load[("3", "2")] == pytest.approx(0.5)


@st.composite
def _instances(draw):
    n = draw(st.integers(3, 6))
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=6))
    edges = {(min(i, (i + 1) % n), max(i, (i + 1) % n)) for i in range(n)}
    edges |= {(min(u, v), max(u, v)) for u, v in extra if u != v}
    capacities = draw(st.lists(st.floats(1.0, 10.0), min_size=len(edges), max_size=len(edges)))
    topology = make_topology([(u, v, c) for (u, v), c in zip(sorted(edges), capacities)])
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    matrix = rng.random((n, n)) * draw(st.floats(0.1, 5.0))
    np.fill_diagonal(matrix, 0.0)
    return topology, matrix


@settings(max_examples=20, deadline=None)
@given(_instances())
def test_lp_opt_is_at_most_every_baseline(instance):
    topology, matrix = instance
    optimum = _mlu(topology, "lp_opt", matrix)
    for name in ("sp", "sp_inv_capacity", "ecmp", "kpath_uniform_k3", "ucmp_k3", "lp_paths_k3"):
        assert optimum <= _mlu(topology, name, matrix) * (1 + 1e-6) + 1e-12, name


def test_predictive_lps_use_only_the_past():
    topology = load_topology("nsfnet14")
    rng = np.random.default_rng(0)
    matrices = rng.random((4, 14, 14)) * 1e9
    history = rng.random((3, 14, 14)) * 1e9
    cache = LpCache()
    last = LpPeak(window=1, cache=cache).route_series(topology, matrices, history)
    # interval t is routed with the optimum of interval t-1 (interval 0: the end of history)
    expected_inputs = [history[-1], matrices[0], matrices[1], matrices[2]]
    for t, source in enumerate(expected_inputs):
        np.testing.assert_array_equal(last.splits[t], cache.solve(topology, source).next_hop_splits)
    peak = LpPeak(window=2, cache=cache).route_series(topology, matrices, history)
    np.testing.assert_array_equal(
        peak.splits[0], cache.solve(topology, np.maximum(history[-2], history[-1])).next_hop_splits
    )
    np.testing.assert_array_equal(
        peak.splits[3], cache.solve(topology, np.maximum(matrices[1], matrices[2])).next_hop_splits
    )
    # without history the first interval falls back to its own matrix, and says so
    fallback = LpPeak(window=1)
    routing = fallback.route_series(topology, matrices)
    assert fallback.notes == ["lp_last: no history, interval 0 routed with its own matrix"]
    assert routing.splits.shape[0] == 4


def test_oracles_are_labelled():
    oracles = {name for name in BASELINES if make_baseline(name).oracle}
    assert oracles == {"lp_opt", "lp_paths"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ospf", r"baseline 'ospf': unknown \(choose from sp, sp_weight, ecmp"),
        ("sp_latency", r"shortest path metric 'latency': unknown \(choose from hops, weight, inv_capacity\)"),
        ("kpath_uniform_kx", r"baseline 'kpath_uniform_kx': k must be a positive integer"),
        ("lp_peak_wx", r"baseline 'lp_peak_wx': window must be a positive integer"),
        ("lp_peak_w0", r"lp_peak window 0: must be >= 1"),
    ],
)
def test_unknown_baselines(name, message):
    with pytest.raises(RlteError, match=message):
        make_baseline(name)


def test_compare_on_a_series_scales_to_the_load_on_history():
    topology = load_topology("sndlib/abilene")
    rng = np.random.default_rng(0)
    base = topology.demands
    demands = np.stack([base * f for f in rng.uniform(0.5, 1.5, 10)])
    series = TrafficSeries(
        nodes=topology.nodes, demands=demands,
        timestamps=(np.arange(10) * 300).astype("datetime64[s]"), interval_s=300.0, name="test",
    )  # fmt: skip
    scenario = assemble(ScenarioConfig(load=0.6, train_fraction=0.5), topology, series)
    assert scenario.train.shape == (5, 12, 12) and scenario.test.shape == (5, 12, 12)
    rows = compare_baselines(scenario, ["ecmp", "lp_last", "lp_opt"])
    by_method = {row["method"]: row for row in rows}
    # the factor makes the mean optimal MLU of the history 0.6; the evaluated part follows its own traffic
    history_scale = demands[:5].sum(axis=(1, 2)).mean()
    evaluated_scale = demands[5:].sum(axis=(1, 2)).mean()
    assert by_method["lp_opt"]["mlu"] == pytest.approx(0.6 * evaluated_scale / history_scale, rel=1e-3)
    assert by_method["lp_opt"]["mlu"] <= by_method["lp_last"]["mlu"] <= by_method["ecmp"]["mlu"] + 1e-9
    for row in rows:
        assert row["runtime_s"] >= 0
    with pytest.raises(RlteError, match=r"^scenario: train_fraction 1.0: must be >= 0 and < 1$"):
        ScenarioConfig.parse({"train_fraction": 1.0}, "scenario")
