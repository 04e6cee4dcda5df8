"""The MAROH authors' eligible next hops (`rlte.net.maroh_dag`): candidates derived by hand on a
four-node ring, the replayed link order, the table against the per-state rule, the routes on the
MAROH networks (known counts, simple paths, against the stretch DAG's) and bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import make_topology

from rlte.errors import RlteError
from rlte.net.maroh_dag import (
    FORWARD,
    NO_PREVIOUS,
    REVERSE,
    AuthorsCalculator,
    authors_dag,
)
from rlte.net.paths import _demand_pairs, stretch_dag
from rlte.net.topology import load_topology


@pytest.fixture
def ring():
    """Nodes 0-1-2-3-0; links 0: 0->1, 1: 1->0, 2: 1->2, 3: 2->1, 4: 2->3, 5: 3->2, 6: 3->0, 7: 0->3."""
    return make_topology([(0, 1), (1, 2), (2, 3), (3, 0)], name="ring")


def _links(topology, *pairs):
    return [topology.link_index[pair] for pair in pairs]


# ---------------------------------------------------------------------- derived by hand
def test_ring_numbering_and_graphs(ring):
    # neighbours by first appearance: 0: [1, 3], 1: [0, 2], 2: [1, 3], 3: [0, 2]; every node's DFS
    # tree is a path of 4 nodes, so node 0 (the first) is the root: 0, 1, 2, 3 get 1, 2, 3, 4
    calculator = AuthorsCalculator(ring)
    assert calculator.root == 0 and calculator.dfs_number.tolist() == [1, 2, 3, 4]
    # F = 0->1, 1->2, 2->3, 0->3 (lower number to higher); R the other direction of each pair
    built = AuthorsCalculator(ring, replay=False).out_links
    assert built[FORWARD] == [_links(ring, (0, 1), (0, 3)), _links(ring, (1, 2)), _links(ring, (2, 3)), []]
    assert built[REVERSE] == [[], _links(ring, (1, 0)), _links(ring, (2, 1)), _links(ring, (3, 0), (3, 2))]
    # the tabulation of pair (0, 2) in F finds the path 0-1-2, hides node 1 and adds it back, which
    # moves 0 -> 1 behind 0 -> 3 for good; nothing later moves F's or R's lists of two links
    assert calculator.out_links[FORWARD][0] == _links(ring, (0, 3), (0, 1))
    assert calculator.out_links[REVERSE][3] == _links(ring, (3, 0), (3, 2))


@pytest.mark.parametrize(
    "state, expected",
    [
        # at 0 toward 2: F's 0 -> 1 (h_F(1, 2) + 1 = 2 <= int(1.5 * 2)); 0 -> 3 changes to R
        # (h_R(3, 2 | {0}) + 1 = 2 <= 3); R has no link out of 0
        ((0, 2, NO_PREVIOUS, 0), [(0, 1), (0, 3)]),
        ((0, 2, 0, 1), [(1, 2)]),  # came forward, F reaches 2 without 0
        ((0, 2, 0, 3), [(3, 2)]),  # came forward, F cannot leave 3: R's 3 -> 2 (3 -> 0 is the source)
        # at 3 toward 1: R's 3 -> 2 first; then R's 3 -> 0 changing to F (h_F(0, 1 | {3}) + 1 = 2)
        ((3, 1, NO_PREVIOUS, 3), [(3, 2), (3, 0)]),
        ((1, 3, NO_PREVIOUS, 1), [(1, 2), (1, 0)]),  # F's 1 -> 2, then R's 1 -> 0 changing to F
        ((1, 3, 1, 0), [(0, 3)]),  # came down R, R cannot reach 3: F's 0 -> 3 (0 -> 1 is the source)
        ((0, 1, NO_PREVIOUS, 0), [(0, 1)]),  # the change-direction 0 -> 1 again is a duplicate
    ],
)
def test_ring_candidates_by_hand(ring, state, expected):
    table = authors_dag(ring)
    assert table.next_hops(*state).tolist() == _links(ring, *expected)
    assert AuthorsCalculator(ring).next_hops(*state) == _links(ring, *expected)


def test_ring_candidates_follow_the_replayed_order(ring):
    # with cutoff 3 both F links of 0 stay within the limit toward 3 (h_F(1, 3) + 1 = 3 <= 3): they
    # come in F's replayed order, 0 -> 3 first
    assert authors_dag(ring, 3.0).next_hops(0, 3, NO_PREVIOUS, 0).tolist() == _links(ring, (0, 3), (0, 1))
    assert authors_dag(ring).next_hops(0, 3, NO_PREVIOUS, 0).tolist() == _links(ring, (0, 3))


def test_ring_routes(ring):
    routes = dict(zip(map(tuple, _demand_pairs(4).tolist()), authors_dag(ring).routes(ring)))
    assert routes[(0, 2)] == ((0, 1, 2), (0, 3, 2))
    assert routes[(1, 3)] == ((1, 2, 3), (1, 0, 3))
    assert routes[(3, 1)] == ((3, 2, 1), (3, 0, 1))
    assert routes[(0, 1)] == ((0, 1),) and routes[(1, 0)] == ((1, 0),)
    assert sum(len(found) for found in routes.values()) == 16


# ---------------------------------------------------------------------- the table
GRID3X4 = [(r * 4 + c, r * 4 + c + 1) for r in range(3) for c in range(3)] + [
    (r * 4 + c, (r + 1) * 4 + c) for r in range(2) for c in range(4)
]


@pytest.mark.parametrize("name", ["nsfnet14", "grid3x4"])
def test_table_follows_the_rule_and_its_routes_are_simple(name):
    topology = load_topology(name) if name == "nsfnet14" else make_topology(GRID3X4, name=name)
    table, calculator = authors_dag(topology), AuthorsCalculator(topology)
    for i in range(table.num_states):
        state = (int(table.state_source[i]), int(table.state_target[i]), int(table.state_previous[i]),
                 int(table.state_node[i]))  # fmt: skip
        links = table.hop_link[table.hop_start[i] : table.hop_start[i + 1]]
        assert links.tolist() == calculator.next_hops(*state)
        assert (topology.src[links] == state[3]).all() and len(set(links.tolist())) == len(links)
        for link, following in zip(links, table.hop_next[table.hop_start[i] : table.hop_start[i + 1]]):
            if following < 0:
                assert topology.dst[link] == state[1]
            else:  # the next state: same flow, one hop on
                assert (table.state_source[following], table.state_target[following]) == state[:2]
                assert (table.state_previous[following], table.state_node[following]) == (
                    state[3], topology.dst[link],
                )  # fmt: skip
    pathset = table.path_set(topology)  # a PathSet holds simple paths only
    assert pathset.path_hops.max() == table.max_hops
    for d, (s, t) in enumerate(_demand_pairs(topology.num_nodes)):
        assert table.first_state[s, t] >= 0 and pathset.num_paths[d] >= 1


# ---------------------------------------------------------------------- the MAROH networks
def _stretch_routes(topology):
    """Every walk through the stretch DAG's next hops, per demand, as node tuples."""
    mask = stretch_dag(topology, 1.5)
    found = []
    for s, t in _demand_pairs(topology.num_nodes).tolist():
        walks, stack = set(), [(s,)]
        while stack:
            path = stack.pop()
            if path[-1] == t:
                walks.add(path)
                continue
            for link in np.flatnonzero(mask[t] & (topology.src == path[-1])):
                stack.append((*path, int(topology.dst[link])))
        found.append(walks)
    return found


# Route counts of the authors' calculator (``DAGCalculator`` of github.com/estepanov-lvk/maroh at
# commit 190999ce746509216f2f6f142185dca5ef6f8f8b, every walk through its candidates), against
# the stretch DAG's.
@pytest.mark.parametrize(
    "net, routes, stretch_routes, shared",
    [("rhombus", 16, 16, 16), ("abilene", 73, 67, 62), ("symm16", 1003, None, None)],
)
def test_maroh_routes(data_dir, net, routes, stretch_routes, shared):
    topology = load_topology(f"maroh/{net}", data_dir=data_dir)
    table = authors_dag(topology)
    found = [set(demand) for demand in table.routes(topology)]
    assert sum(map(len, found)) == routes
    assert all(len(set(path)) == len(path) for demand in found for path in demand)  # simple
    if stretch_routes is not None:
        theirs = _stretch_routes(topology)
        assert sum(map(len, theirs)) == stretch_routes
        assert sum(len(a & b) for a, b in zip(found, theirs)) == shared


def test_abilene_numbering(data_dir):
    topology = load_topology("maroh/abilene", data_dir=data_dir)
    table = authors_dag(topology)
    assert topology.nodes[table.root] == "New York" and table.num_states == 126 and table.max_candidates == 3


# ---------------------------------------------------------------------- bad input
def test_bad_input_is_a_one_line_error(ring):
    with pytest.raises(RlteError, match=r"^stretch 0\.5: must be a finite number >= 1$"):
        authors_dag(ring, 0.5)
    with pytest.raises(RlteError, match=r"^stretch True: must be a finite number >= 1$"):
        AuthorsCalculator(ring, True)
    message = "authors' next hops: no flow from 0 to 2 reaches 2 from 1"
    with pytest.raises(RlteError, match=f"^{re.escape(message)}$"):
        authors_dag(ring).next_hops(0, 2, 1, 2)
    other = make_topology([(0, 1), (1, 2)], name="path")
    with pytest.raises(
        RlteError, match=r"^authors' next hops: built for 4 nodes and 8 links, topology 'path' has 3 and 4$"
    ):
        authors_dag(ring).routes(other)
