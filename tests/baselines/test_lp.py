"""The LP optimum: optima known by hand, edge LP against path LP and against an independent
per-pair formulation solved by ``scipy.optimize.linprog``, and the routing it returns evaluated by
a reference evaluator written here."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from rlte.baselines.lp import (
    EdgeLpResult,
    optimal_mlu,
    scale_to_load,
    solve_min_mlu,
    solve_min_mlu_paths,
)
from rlte.errors import RlteError
from rlte.net.paths import all_simple_paths, k_shortest_paths
from rlte.net.topology import Topology, load_topology


# ---------------------------------------------------------------------- helpers
def build(links, n, *, directed=False, name="tiny") -> Topology:
    """A topology on nodes "0".."n-1" from (u, v, capacity) links."""
    src, dst, cap = [], [], []
    for u, v, c in links:
        for a, b in [(u, v)] if directed else [(u, v), (v, u)]:
            src.append(a)
            dst.append(b)
            cap.append(c)
    return Topology(
        name=name,
        nodes=[str(i) for i in range(n)],
        src=src,
        dst=dst,
        capacity=cap,
        delay=np.full(len(src), 1e-3),
        weight=np.ones(len(src)),
    )


def diamond() -> Topology:
    """s=0 -> a=1 -> t=3 at capacity 10, s -> b=2 -> t at capacity 30, both directions."""
    return build([(0, 1, 10.0), (1, 3, 10.0), (0, 2, 30.0), (2, 3, 30.0)], 4, name="diamond")


def link(topology: Topology, u: int, v: int) -> int:
    return topology.link_index[(u, v)]


def evaluate_next_hop(topology: Topology, splits: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Reference evaluator: per destination t, node throughput x solves (I - P_t^T) x = d_t."""
    n = topology.num_nodes
    load = np.zeros(topology.num_links)
    for t in range(n):
        forward = np.zeros((n, n))
        forward[topology.src, topology.dst] = splits[t]
        demand = matrix[:, t].copy()
        demand[t] = 0.0
        throughput = np.linalg.solve(np.eye(n) - forward.T, demand)
        load += throughput[topology.src] * splits[t]
    return load


def per_pair_linprog_mlu(topology: Topology, matrix: np.ndarray) -> float:
    """The minimum MLU by a differently built LP: one commodity per (s, t) pair, alpha only.

    Capacities and demands are divided by the largest capacity first: in raw bit/s, HiGHS's
    absolute tolerances end this LP at values up to 50 % above the optimum."""
    n, num_links = topology.num_nodes, topology.num_links
    unit = topology.capacity.max()
    matrix = matrix / unit
    pairs = [(s, t) for s, t in itertools.product(range(n), repeat=2) if s != t and matrix[s, t] > 0]
    if not pairs:
        return 0.0
    num_vars = len(pairs) * num_links + 1
    equality_rows, equality_rhs = [], []
    for d, (s, t) in enumerate(pairs):
        for u in range(n):
            row = np.zeros(num_vars)
            for e in range(num_links):
                if topology.src[e] == u:
                    row[d * num_links + e] += 1.0
                if topology.dst[e] == u:
                    row[d * num_links + e] -= 1.0
            equality_rows.append(row)
            equality_rhs.append(matrix[s, t] if u == s else -matrix[s, t] if u == t else 0.0)
    capacity_rows = np.zeros((num_links, num_vars))
    for d in range(len(pairs)):
        for e in range(num_links):
            capacity_rows[e, d * num_links + e] = 1.0
    capacity_rows[:, -1] = -topology.capacity / unit
    cost = np.zeros(num_vars)
    cost[-1] = 1.0
    result = linprog(
        cost,
        A_ub=capacity_rows,
        b_ub=np.zeros(num_links),
        A_eq=np.array(equality_rows),
        b_eq=np.array(equality_rhs),
        bounds=(0, None),
        method="highs",
    )
    assert result.status == 0, result.message
    return float(result.x[-1])


def stand_in_pathset(topology: Topology, paths: list[list[tuple[int, ...]]]) -> SimpleNamespace:
    """An object with PathSet's fields, for a path list PathSet itself would refuse."""
    n = topology.num_nodes
    pairs = np.array([(s, t) for s in range(n) for t in range(n) if s != t])
    num_paths = np.array([len(p) for p in paths])
    k = max(1, int(num_paths.max()))
    path_index = np.full((len(paths), k), -1)
    path_demand, rows, cols = [], [], []
    for d, demand_paths in enumerate(paths):
        for j, path in enumerate(demand_paths):
            p = len(path_demand)
            path_index[d, j] = p
            path_demand.append(d)
            rows += [p] * len(path)
            cols += list(path)
    demand_index = np.full((n, n), -1)
    demand_index[pairs[:, 0], pairs[:, 1]] = np.arange(len(pairs))
    return SimpleNamespace(
        pairs=pairs,
        paths=paths,
        k=k,
        path_index=path_index,
        mask=path_index >= 0,
        path_demand=np.array(path_demand),
        incidence=sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(path_demand), topology.num_links)
        ),
        demand_index=demand_index,
        num_paths=num_paths,
    )


@st.composite
def instances(draw, max_nodes: int = 5):
    """A random strongly connected directed topology (a Hamiltonian cycle plus extra links) and a
    traffic matrix with some zero entries, in small numbers or in Gbit/s."""
    unit = draw(st.sampled_from([1.0, 1e9]))
    n = draw(st.integers(3, max_nodes))
    order = draw(st.permutations(range(n)))
    links = {(order[i], order[(i + 1) % n]) for i in range(n)}
    candidates = [(u, v) for u in range(n) for v in range(n) if u != v and (u, v) not in links]
    links |= set(draw(st.lists(st.sampled_from(candidates), max_size=2 * n, unique=True)))
    links = sorted(links)
    capacities = draw(
        st.lists(st.sampled_from([1.0, 2.0, 5.0, 10.0]), min_size=len(links), max_size=len(links))
    )
    topology = build([(u, v, c * unit) for (u, v), c in zip(links, capacities)], n, directed=True)
    values = draw(st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0, 7.5]), min_size=n * n, max_size=n * n))
    matrix = np.array(values).reshape(n, n) * unit
    np.fill_diagonal(matrix, 0.0)
    return topology, matrix


# ---------------------------------------------------------------------- optima known by hand
def test_diamond_edge_lp_splits_one_quarter_three_quarters():
    topology = diamond()
    matrix = np.zeros((4, 4))
    matrix[0, 3] = 20.0
    result = solve_min_mlu(topology, matrix)
    assert isinstance(result, EdgeLpResult)
    assert result.status == "optimal"
    assert result.mlu == pytest.approx(0.5, rel=1e-9)
    splits = result.next_hop_splits[3]
    assert splits[link(topology, 0, 1)] == pytest.approx(0.25, rel=1e-9)
    assert splits[link(topology, 0, 2)] == pytest.approx(0.75, rel=1e-9)
    assert result.link_load[link(topology, 0, 1)] == pytest.approx(5.0)
    assert result.link_load[link(topology, 2, 3)] == pytest.approx(15.0)
    # no flow goes back towards s, and t forwards nothing
    assert result.link_load[link(topology, 1, 0)] == 0.0
    assert result.link_load[link(topology, 3, 1)] == 0.0
    assert np.all(result.next_hop_splits[3][topology.src == 3] == 0.0)


def test_diamond_path_lp_over_all_paths_and_over_the_shortest_only():
    topology = diamond()
    matrix = np.zeros((4, 4))
    matrix[0, 3] = 20.0
    every = all_simple_paths(topology)
    result = solve_min_mlu_paths(topology, every, matrix)
    assert result.mlu == pytest.approx(0.5, rel=1e-9)
    d = every.demand_index[0, 3]
    via = {every.paths[d][j]: result.splits[d, j] for j in range(every.num_paths[d])}
    assert via[(link(topology, 0, 1), link(topology, 1, 3))] == pytest.approx(0.25, rel=1e-9)
    assert via[(link(topology, 0, 2), link(topology, 2, 3))] == pytest.approx(0.75, rel=1e-9)
    # (c) one shortest path per pair: both routes have 2 hops, the tie goes to a, all 20 on capacity 10
    single = solve_min_mlu_paths(topology, k_shortest_paths(topology, 1, "hops"), matrix)
    assert single.mlu == pytest.approx(2.0, rel=1e-9)
    assert single.mlu > solve_min_mlu(topology, matrix).mlu


def test_triangle_with_unit_capacities():
    # demands 0->1, 1->2, 2->0 of 1 each: x goes direct (clockwise), 1 - x over two hops
    # counter-clockwise, where each link carries two detours: max(x, 2 - 2x) is least at x = 2/3
    topology = build([(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0)], 3, name="triangle")
    matrix = np.zeros((3, 3))
    matrix[0, 1] = matrix[1, 2] = matrix[2, 0] = 1.0
    result = solve_min_mlu(topology, matrix)
    assert result.mlu == pytest.approx(2 / 3, rel=1e-9)
    assert result.next_hop_splits[1][link(topology, 0, 1)] == pytest.approx(2 / 3, rel=1e-9)
    assert result.next_hop_splits[1][link(topology, 0, 2)] == pytest.approx(1 / 3, rel=1e-9)
    for u, v in [(0, 1), (1, 2), (2, 0)]:
        assert result.link_load[link(topology, u, v)] == pytest.approx(2 / 3, rel=1e-9)
        assert result.link_load[link(topology, v, u)] == pytest.approx(2 / 3, rel=1e-9)
    assert optimal_mlu(topology, matrix)[0] == pytest.approx(2 / 3, rel=1e-12)
    # one demand alone: half direct, half around
    single = np.zeros((3, 3))
    single[0, 1] = 1.0
    assert solve_min_mlu(topology, single).mlu == pytest.approx(0.5, rel=1e-9)


def test_zero_matrix_gives_zero_and_shortest_path_splits():
    topology = diamond()
    result = solve_min_mlu(topology, np.zeros((4, 4)))
    assert result.mlu == 0.0
    assert not result.dest_link_flow.any() and not result.link_load.any()
    splits = result.next_hop_splits
    # towards t=3: s splits evenly over a and b, a and b go straight to t
    assert splits[3][link(topology, 0, 1)] == 0.5 and splits[3][link(topology, 0, 2)] == 0.5
    assert splits[3][link(topology, 1, 3)] == 1.0 and splits[3][link(topology, 1, 0)] == 0.0
    assert optimal_mlu(topology, np.zeros((2, 4, 4))).tolist() == [0.0, 0.0]
    paths = solve_min_mlu_paths(topology, k_shortest_paths(topology, 3), np.zeros((4, 4)))
    assert paths.mlu == 0.0
    np.testing.assert_allclose(paths.splits.sum(axis=1), 1.0)


def test_tie_break_prefers_the_short_route_without_raising_the_mlu():
    # a chain 0-1-2 with a long detour 0-3-4-2 of the same capacity: a light demand 0->2 fits
    # on the short route, so the tie-break keeps all of it there
    topology = build([(0, 1, 10.0), (1, 2, 10.0), (0, 3, 10.0), (3, 4, 10.0), (4, 2, 10.0), (1, 4, 1.0)], 5)
    matrix = np.zeros((5, 5))
    matrix[0, 2] = 1.0
    matrix[1, 2] = 9.0
    result = solve_min_mlu(topology, matrix)
    pure = optimal_mlu(topology, matrix)[0]
    assert result.mlu == pytest.approx(pure, rel=1e-6)
    assert result.mlu >= pure * (1 - 1e-9)
    assert result.link_load[link(topology, 3, 0)] == 0.0  # never backwards through a detour
    assert np.all(result.dest_link_flow[:, topology.src == 2] == 0.0)  # 2 is the only sink


# ---------------------------------------------------------------------- random instances
@settings(max_examples=20, deadline=None)
@given(instances())
def test_edge_lp_flows_splits_and_optimum_are_consistent(instance):
    topology, matrix = instance
    n = topology.num_nodes
    result = solve_min_mlu(topology, matrix)
    flow = result.dest_link_flow
    scale = max(matrix.max(), topology.capacity.min())
    # conservation at every node for every destination: out - in = demand (t absorbs all)
    out_flow = np.zeros((n, n))
    in_flow = np.zeros((n, n))
    np.add.at(out_flow, (slice(None), topology.src), flow)
    np.add.at(in_flow, (slice(None), topology.dst), flow)
    expected = matrix.T.copy()  # expected[t, u] = matrix[u, t] for u != t
    expected[np.arange(n), np.arange(n)] = -matrix.sum(axis=0)
    np.testing.assert_allclose(out_flow - in_flow, expected, atol=1e-9 * scale)
    assert np.all(flow >= 0)
    np.testing.assert_allclose(result.link_load, flow.sum(axis=0), rtol=1e-12)
    assert result.mlu == pytest.approx(np.max(result.link_load / topology.capacity), rel=1e-12)
    # the splits are a complete routing ...
    splits = result.next_hop_splits
    assert np.all(splits >= 0)
    for t in range(n):
        per_node = np.bincount(topology.src, weights=splits[t], minlength=n)
        np.testing.assert_allclose(np.delete(per_node, t), 1.0, rtol=1e-12)
        assert per_node[t] == 0.0
    # ... and the reference evaluator reproduces the loads from them
    np.testing.assert_allclose(
        evaluate_next_hop(topology, splits, matrix), result.link_load, rtol=1e-6, atol=1e-9 * scale
    )
    # the optimum: the tie-break costs at most 1e-6 relative; an independent LP agrees
    pure = optimal_mlu(topology, matrix)[0]
    reference = per_pair_linprog_mlu(topology, matrix)
    assert pure == pytest.approx(reference, rel=1e-7, abs=1e-12)
    assert result.mlu == pytest.approx(pure, rel=1e-6, abs=1e-12)
    assert result.mlu >= pure * (1 - 1e-9)


@settings(max_examples=15, deadline=None)
@given(instances(max_nodes=5), st.integers(1, 3))
def test_path_lp_is_bounded_by_the_edge_lp_and_meets_it_over_all_paths(instance, k):
    topology, matrix = instance
    edge = solve_min_mlu(topology, matrix).mlu
    restricted = k_shortest_paths(topology, k, "hops")
    result = solve_min_mlu_paths(topology, restricted, matrix)
    assert result.mlu >= edge * (1 - 1e-6) - 1e-12
    # splits are a valid routing and give the reported loads
    assert np.all(result.splits >= 0) and np.all(result.splits[~restricted.mask] == 0)
    np.testing.assert_allclose(result.splits.sum(axis=1), 1.0, rtol=1e-12)
    demand = matrix[restricted.pairs[:, 0], restricted.pairs[:, 1]]
    per_path = np.zeros(len(restricted.path_demand))
    per_path[restricted.path_index[restricted.mask]] = result.splits[restricted.mask]
    load = restricted.incidence.T @ (per_path * demand[restricted.path_demand])
    np.testing.assert_allclose(result.link_load, load, rtol=1e-12)
    every = solve_min_mlu_paths(topology, all_simple_paths(topology), matrix)
    assert every.mlu == pytest.approx(edge, rel=1e-6, abs=1e-12)


@settings(max_examples=10, deadline=None)
@given(instances(max_nodes=4), st.sampled_from(["mean", "max", "median"]), st.sampled_from([0.3, 0.8, 1.5]))
def test_scale_to_load_reaches_the_level(instance, statistic, level):
    topology, matrix = instance
    if not matrix.any():
        matrix[0, 1] = 1.0
    series = np.stack([matrix, 2.0 * matrix, np.roll(matrix, 1, axis=1) * (1 - np.eye(len(matrix)))])
    scaled, factor = scale_to_load(series, topology, level, statistic=statistic)
    assert scaled.shape == series.shape
    np.testing.assert_allclose(scaled, series * factor)
    value = {"mean": np.mean, "max": np.max, "median": np.median}[statistic](optimal_mlu(topology, scaled))
    assert value == pytest.approx(level, rel=1e-7)


# ---------------------------------------------------------------------- series and scaling
def test_optimal_mlu_reuses_one_model_across_a_series():
    rng = np.random.default_rng(7)
    topology = load_topology("nsfnet14")
    n = topology.num_nodes
    series = rng.exponential(1e8, size=(6, n, n)) * (rng.random((6, n, n)) < 0.6)
    series[2] = 0.0
    series[4] = 3.0 * series[1]
    values = optimal_mlu(topology, series)
    assert values.shape == (6,)
    assert values[2] == 0.0
    assert values[4] == pytest.approx(3.0 * values[1], rel=1e-9)
    fresh = [solve_min_mlu(topology, m, tie_break=0.0).mlu for m in series]
    np.testing.assert_allclose(values, fresh, rtol=1e-9)
    assert optimal_mlu(topology, series[0]).shape == (1,)


def test_scale_to_load_single_matrix_and_subsampling():
    topology = diamond()
    matrix = np.zeros((4, 4))
    matrix[0, 3] = 20.0
    scaled, factor = scale_to_load(matrix, topology, 0.8)
    assert factor == pytest.approx(1.6)
    assert solve_min_mlu(topology, scaled).mlu == pytest.approx(0.8, rel=1e-6)
    series = np.stack([matrix, 100 * matrix, matrix])  # the middle one is skipped
    _, factor = scale_to_load(series, topology, 0.5, sample_every=2)
    assert factor == pytest.approx(1.0)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.zeros((3, 3)), "traffic matrix: shape (3, 3), want (4, 4) for topology 'diamond'"),
        (
            np.where(np.eye(4, k=3) > 0, np.nan, 0.0),
            "traffic matrix: demand 0 -> 3 is nan; demands must be finite and >= 0",
        ),
        (
            np.where(np.eye(4, k=1) > 0, -1.0, 0.0),
            "traffic matrix: demand 0 -> 1 is -1.0; demands must be finite and >= 0",
        ),
        (
            np.where(np.eye(4, k=-1) > 0, np.inf, 0.0),
            "traffic matrix: demand 1 -> 0 is inf; demands must be finite and >= 0",
        ),
    ],
)
def test_bad_matrices_are_named(matrix, message):
    topology = diamond()
    for call in (
        lambda: solve_min_mlu(topology, matrix),
        lambda: solve_min_mlu_paths(topology, k_shortest_paths(topology, 2), matrix),
    ):
        with pytest.raises(RlteError) as error:
            call()
        assert str(error.value) == message
    if matrix.shape == (4, 4):
        with pytest.raises(RlteError) as error:
            optimal_mlu(topology, np.stack([np.zeros((4, 4)), matrix]))
        assert str(error.value) == message.replace("traffic matrix:", "traffic matrix 1:")


@pytest.mark.parametrize(
    ("level", "message"),
    [
        (0.0, "load level 0.0: must be > 0"),
        (-0.5, "load level -0.5: must be > 0"),
        (float("nan"), "load level nan: must be > 0"),
        (float("inf"), "load level inf: must be finite"),
    ],
)
def test_bad_load_levels(level, message):
    topology = diamond()
    with pytest.raises(RlteError) as error:
        scale_to_load(np.ones((4, 4)), topology, level)
    assert str(error.value) == message


def test_other_scale_to_load_errors():
    topology = diamond()
    cases = [
        (dict(statistic="p95"), "load statistic 'p95': must be one of mean, max, median"),
        (dict(sample_every=0), "sample_every 0: must be an integer >= 1"),
    ]
    for kwargs, message in cases:
        with pytest.raises(RlteError) as error:
            scale_to_load(np.ones((4, 4)), topology, 0.5, **kwargs)
        assert str(error.value) == message
    with pytest.raises(RlteError) as error:
        scale_to_load(np.zeros((2, 4, 4)), topology, 0.5)
    assert str(error.value) == "load level 0.5: cannot scale traffic that is all zero"
    with pytest.raises(RlteError) as error:
        scale_to_load(np.ones((2, 3, 3)), topology, 0.5)
    assert str(error.value) == (
        "traffic matrices: shape (2, 3, 3), want (4, 4) or (T, 4, 4) for topology 'diamond'"
    )


def test_demand_without_candidate_path_is_named():
    # PathSet refuses a pair without paths, so a stand-in with PathSet's fields drops them
    topology = build([(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0)], 3, directed=True)
    cycle = {(0, 1): (0,), (1, 2): (1,), (2, 0): (2,), (0, 2): (0, 1), (1, 0): (1, 2), (2, 1): (2, 0)}
    pairs = [(s, t) for s in range(3) for t in range(3) if s != t]
    paths = [[] if (s, t) == (1, 0) else [cycle[(s, t)]] for s, t in pairs]
    pathset = stand_in_pathset(topology, paths)
    matrix = np.ones((3, 3))
    with pytest.raises(RlteError) as error:
        solve_min_mlu_paths(topology, pathset, matrix)
    assert str(error.value) == "demand 1 -> 0: no candidate path in the path set"
    matrix[1, 0] = 0.0  # no demand there: nothing to route, and the rest still solves
    result = solve_min_mlu_paths(topology, pathset, matrix)
    assert result.mlu == pytest.approx(3.0)  # each link carries its own demand and two transits
    assert result.splits[pairs.index((1, 0))].tolist() == [0.0]


def test_path_set_of_another_topology():
    topology = diamond()
    other = k_shortest_paths(build([(0, 1, 1.0), (1, 2, 1.0)], 3), 1)
    with pytest.raises(RlteError) as error:
        solve_min_mlu_paths(topology, other, np.ones((4, 4)))
    assert str(error.value) == "path set: has 6 demands and 4 links, topology 'diamond' has 12 and 8"


# ---------------------------------------------------------------------- real topology
def test_abilene_with_its_topohub_demands():
    topology = load_topology("sndlib/abilene")
    result = solve_min_mlu(topology, topology.demands)
    assert result.status == "optimal"
    assert result.mlu > 0
    assert result.mlu == pytest.approx(optimal_mlu(topology, topology.demands)[0], rel=1e-6)
    np.testing.assert_allclose(
        evaluate_next_hop(topology, result.next_hop_splits, topology.demands),
        result.link_load,
        rtol=1e-6,
        atol=1e-6 * result.link_load.max(),
    )
    paths = solve_min_mlu_paths(topology, k_shortest_paths(topology, 4), topology.demands)
    assert paths.mlu >= result.mlu * (1 - 1e-6)
