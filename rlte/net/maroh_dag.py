"""The MAROH authors' eligible next hops (seed 002): the rule of the path calculator of their
release (``DAGCalculator`` in ``dte_stand/paths/dag_calculator.py``, github.com/estepanov-lvk/maroh
at commit 190999c), written anew from what it does. Unlike `rlte.net.paths.stretch_dag`, a flow's
eligible next hops depend on its *state*: its source s, its destination t, the node it came from
p (none at the source) and the node c it is at.

**Two oriented graphs.** A depth-first search numbers the nodes: it starts at the first node (in
the topology's order) whose DFS tree has the longest root-to-leaf path, and visits neighbours in
the order networkx lists them in ``nx.Graph`` of the topology read as a directed graph (each
node's neighbours in the order its links first appear when the links are listed by source node,
then by link index: for a topology read from GML, the file's order). Every link u -> v then lies
in the *forward* graph F when ``number[u] < number[v]``, else in the *reverse* graph R; both are
acyclic. ``h_G(a, b | X)`` is the hop count of the shortest path from a to b inside G with the
nodes X removed (none when X holds a or b or no path is left), and ``limit(L) = int(L * stretch)``
(the authors' cutoff 1.5).

**At the source** (p none, c = s) the candidates are, in this order, duplicates dropped:

1. F's links c -> v with ``h_F(v, t) + 1 <= limit(h_F(c, t))`` (none if t is not reachable in F);
2. R's links likewise with h_R;
3. F's links c -> v that change direction once: with ``L = min(h_F(c, t), h_R(c, t))`` (N + 1
   for a missing one), v is taken if ``h_R(v, t | {c}) + 1 <= limit(L)``; if R has no such path
   at all, v is taken if some node x != t reachable from v in F has
   ``h_F(v, x) + h_R(x, t | {c}) + 1 <= limit(L)``;
4. R's links c -> v that change direction once, as 3. with F and R exchanged.

**After the first hop** the direction G is that of the link the flow came by (F if
``number[c] > number[p]``, else R), H the other, and X = {p, s}:

1. if t is reachable from c in G without X: G's links c -> v, v not in X, with
   ``h_G(v, t | X) + 1 <= limit(h_G(c, t | X))``;
2. else if it is reachable in H: the same in H;
3. else the direction changes: G's links c -> v, v not in X + {c}, taken as in 3. above with
   X + {c} removed from H, X from G, and ``L = N + 1`` (in effect no length limit).

**Order.** The candidates' order is the hash's bucket order (`rlte.sim.hash_routing`), so it
decides which next hop a flow takes. Each list above follows c's links in F or R in the order the
authors' networkx graphs hold them: built node by node (each pair oriented in the order
``nx.Graph.edges`` lists the pairs), then reshuffled by their tabulation of the hop counts, which
removes nodes and adds them back with their links (moving those links to the end of their ends'
lists). `AuthorsCalculator` replays that tabulation's moves (`_replay_reordering`: milliseconds
on Abilene, 0.1 s on symm16, 2 s on GEANT2009, where their calculator takes 42 s; the work grows
about as N^4 times the path length, 10 s on a 36-node grid). Checked state by state against
their calculator on MAROH's four networks: the same candidates in the same order everywhere, and
rlte's hash routing gives their code's Phi (uniform weights on flows40: rhombus 0.033131, Abilene
0.038215, symm16 0.031939, GEANT2009 0.120075). Without the replay (``replay=False``) the sets
are the same but 217 of symm16's 1,395 states and 754 of GEANT2009's 9,920 list them in another
order (none on rhombus and Abilene).

The previous node and
the source are removed from both graphs, so no flow goes back to them, but a flow that changes
direction could in principle come back to an earlier node; `authors_dag` refuses a topology on
which the rule allows a forwarding loop or leaves a flow without a next hop.

`authors_dag` tabulates the rule over every state a flow can reach (`AuthorsDag`: a state index,
each state's candidate links and the state each leads to, arrays a compiled loop reads), and the
routes it allows (every walk from s to t through the candidates: the paths a flow can take under
some weights) as node paths or a `PathSet`. `AuthorsCalculator` evaluates the rule at any state
(the plain reference the table is built from). On MAROH's Abilene the rule allows 73 routes over
the 42 pairs (the stretch DAG 67, 62 shared), on the rhombus the same 16 as the stretch DAG.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from rlte.errors import RlteError
from rlte.net.paths import PathSet, _demand_pairs
from rlte.net.topology import Topology

#: The previous node of a flow at its source.
NO_PREVIOUS = -1
#: The oriented graphs: links from a lower DFS number to a higher one, and the others.
FORWARD, REVERSE = 0, 1
#: At most this many routes per pair are enumerated (`AuthorsDag.link_routes`).
MAX_ROUTES_PER_PAIR = 10_000


def _replay_reordering(
    successors: list[list[int]], predecessors: list[list[int]], names: list[str]
) -> list[list[int]]:
    """Each node's successors in one oriented graph in the order the authors' calculator ends up
    with, after its precomputation of hop counts has hidden and restored nodes.

    The calculator tabulates ``h_G(a, b | X)`` for every ordered pair and every set X of up to 3
    other nodes (pairs and nodes in the order of their names, X grown by ever later names, the
    latest first), recomputing a shortest path with networkx's bidirectional BFS whenever X's
    last node lies on the pair's current one. Each recomputation removes X's nodes from the
    networkx graph and adds them back with their links, which moves those links to the end of
    their ends' successor and predecessor lists; later BFS runs and the final next-hop order see
    the moved lists. This replays those moves (and the BFS runs whose paths decide them).

    Args:
        successors, predecessors: each node's successors (predecessors) as built. Length N.
        names: the node names (the order of the enumeration).

    Returns:
        Each node's successors in the final order. Length N.
    """
    n = len(successors)
    succ = [dict.fromkeys(row) for row in successors]
    pred = [dict.fromkeys(row) for row in predecessors]
    by_name = sorted(range(n), key=lambda i: names[i])
    rank = [0] * n
    for position, node in enumerate(by_name):
        rank[node] = position
    descending = by_name[::-1]

    def hidden(removed: tuple[int, ...]) -> list[tuple[int, int]]:
        """Remove ``removed``'s nodes as networkx's remove_node does, one by one; return their
        links in the order the authors' code takes them (each node's out-links, then in-links)."""
        links = []
        for x in removed:
            links.extend((x, v) for v in succ[x])
            links.extend((u, x) for u in pred[x])
            for v in succ[x]:
                del pred[v][x]
            for u in pred[x]:
                del succ[u][x]
            succ[x] = pred[x] = {}
        return links

    def restored(removed: tuple[int, ...], links: list) -> None:
        """add_node for each, then add_edges_from in the order the links were taken."""
        for x in removed:
            succ[x], pred[x] = {}, {}
        for u, v in links:
            succ[u][v] = None
            pred[v][u] = None

    def moved(a: int, b: int, c: int) -> None:
        """Hiding and restoring a, b, c without a search, in effect: each goes to the end of its
        other neighbours' lists, in that order; b's lists start with a, c's with a then b (when
        they are neighbours), then keep their order."""
        for x in (a, b, c):
            for u in pred[x]:
                if u != a and u != b and u != c:
                    row = succ[u]
                    del row[x]
                    row[x] = None
            for v in succ[x]:
                if v != a and v != b and v != c:
                    row = pred[v]
                    del row[x]
                    row[x] = None
        for lists in (succ, pred):
            for x, before in ((b, (a,)), (c, (a, b))):
                row = lists[x]
                first = [y for y in before if y in row]
                if first:
                    lists[x] = dict.fromkeys(first) | {y: None for y in row if y not in before}

    def searched(removed: tuple[int, ...], source: int, target: int) -> set | None:
        if not removed:
            return _bidirectional_path(succ, pred, source, target)
        links = hidden(removed)
        found = _bidirectional_path(succ, pred, source, target)
        restored(removed, links)
        return found

    def on_path(path: set, ends: tuple[int, int]) -> list[int]:
        """The path's nodes other than its ends, latest name first."""
        return sorted((x for x in path if x not in ends), key=rank.__getitem__, reverse=True)

    for source in by_name:
        for target in by_name:
            if source == target:
                continue  # the path is the node itself: nothing is ever hidden
            ends = (source, target)
            path0 = searched((), source, target)
            if path0 is None:
                continue
            inner0 = on_path(path0, ends)
            for a in descending:  # sets grow by later names, the latest first (depth first)
                if a in ends:
                    continue
                if a in path0:
                    path1 = searched((a,), source, target)
                    if path1 is None:
                        continue
                    inner1 = on_path(path1, ends)
                else:
                    path1, inner1 = path0, inner0
                for b in descending:
                    if rank[b] <= rank[a]:
                        break
                    if b in ends:
                        continue
                    if b in path1:
                        path2 = searched((a, b), source, target)
                        if path2 is None:
                            continue
                        inner2 = on_path(path2, ends)
                    else:
                        path2, inner2 = path1, inner1
                    for c in inner2:  # a third node off the path changes nothing
                        if rank[c] <= rank[b]:
                            break
                        moved(a, b, c)
    return [list(row) for row in succ]


def _bidirectional_path(succ: list, pred: list, source: int, target: int) -> set | None:
    """The nodes of the shortest path networkx's ``bidirectional_shortest_path`` finds (fringes
    grown level by level, the smaller first, neighbours in list order); None if there is none."""
    before, after = {source: None}, {target: None}
    forward, backward = [source], [target]
    meet = None
    while forward and backward and meet is None:
        if len(forward) <= len(backward):
            level, forward = forward, []
            for v in level:
                for w in succ[v]:
                    if w not in before:
                        forward.append(w)
                        before[w] = v
                    if w in after:
                        meet = w
                        break
                if meet is not None:
                    break
        else:
            level, backward = backward, []
            for v in level:
                for w in pred[v]:
                    if w not in after:
                        after[w] = v
                        backward.append(w)
                    if w in before:
                        meet = w
                        break
                if meet is not None:
                    break
    if meet is None:
        return None
    nodes, w = set(), meet
    while w is not None:
        nodes.add(w)
        w = before[w]
    w = after[meet]
    while w is not None:
        nodes.add(w)
        w = after[w]
    return nodes


def _checked_stretch(stretch) -> float:
    if (
        isinstance(stretch, bool)
        or not isinstance(stretch, (int, float, np.integer, np.floating))
        or not (1 <= stretch < float("inf"))
    ):
        raise RlteError(f"stretch {stretch!r}: must be a finite number >= 1")
    return float(stretch)


def _undirected_neighbours(topology: Topology) -> list[list[int]]:
    """Each node's neighbours in the order ``nx.Graph(G)`` lists them, G the topology as a
    networkx directed graph with its links added in index order: the links are taken by source
    node, then index, and a neighbour is appended to both ends when their pair first appears."""
    neighbours: list[list[int]] = [[] for _ in range(topology.num_nodes)]
    seen: set[tuple[int, int]] = set()
    for link in np.argsort(topology.src, kind="stable"):
        u, v = int(topology.src[link]), int(topology.dst[link])
        pair = (min(u, v), max(u, v))
        if pair not in seen:
            seen.add(pair)
            neighbours[u].append(v)
            neighbours[v].append(u)
    return neighbours


def _preorder(neighbours: list[list[int]], root: int) -> tuple[list[int], int]:
    """The DFS preorder from ``root`` (neighbours in list order) and its tree's depth in nodes."""
    order, depth = [root], {root: 1}
    stack = [(root, iter(neighbours[root]))]
    while stack:
        parent, children = stack[-1]
        for child in children:
            if child not in depth:
                depth[child] = depth[parent] + 1
                order.append(child)
                stack.append((child, iter(neighbours[child])))
                break
        else:
            stack.pop()
    return order, max(depth.values())


class AuthorsCalculator:
    """The authors' next-hop rule on one topology, evaluated state by state (see the module
    docstring). Shortest hop counts inside F and R with nodes removed are computed on demand and
    kept.

    Args:
        topology: the network (strongly connected, as every `Topology`).
        stretch: the authors' ``length_cutoff_fraction``, a finite number >= 1.
        replay: order each node's links as the authors' graphs end up holding them (the
            default), or as they are built (see the module docstring's Order).

    Attributes:
        root: the node the numbering starts from.
        dfs_number: each node's DFS number, 1..N. Shape [N].
        out_links: ``out_links[FORWARD][u]`` (``[REVERSE][u]``): u's links in F (R), in the order
            the authors' graphs list them.

    Raises:
        RlteError: a stretch below 1 or not finite.
    """

    def __init__(self, topology: Topology, stretch: float = 1.5, *, replay: bool = True) -> None:
        self.topology, self.stretch = topology, _checked_stretch(stretch)
        n = self.num_nodes = topology.num_nodes
        self._dst = [int(v) for v in topology.dst]
        neighbours = _undirected_neighbours(topology)
        best_depth, order = 0, []
        for node in range(n):
            visit, depth = _preorder(neighbours, node)
            if depth > best_depth:
                best_depth, order = depth, visit
        self.root = order[0]
        number = np.zeros(n, dtype=np.int64)
        number[order] = np.arange(1, n + 1)
        self.dfs_number = number
        # each undirected pair, oriented from the lower number, in the order nx.Graph.edges lists
        # the pairs: by the first node of the pair in node order, then that node's neighbours
        higher: list[list[int]] = [[] for _ in range(n)]
        for u in range(n):
            for v in neighbours[u]:
                if v < u:  # listed already, from v
                    continue
                low, high = (u, v) if number[u] < number[v] else (v, u)
                higher[low].append(high)
        # the two graphs as the authors build them, node by node in node order: each pair's link
        # low -> high into F, high -> low into R (successor and predecessor lists in that order)
        successors: tuple[list[list[int]], ...] = ([[] for _ in range(n)], [[] for _ in range(n)])
        predecessors: tuple[list[list[int]], ...] = ([[] for _ in range(n)], [[] for _ in range(n)])
        link_index = topology.link_index
        for low in range(n):
            for high in higher[low]:
                for direction, (a, b) in ((FORWARD, (low, high)), (REVERSE, (high, low))):
                    if (a, b) in link_index:
                        successors[direction][a].append(b)
                        predecessors[direction][b].append(a)
        if replay:
            names = [str(name) for name in topology.nodes]
            successors = tuple(
                _replay_reordering(successors[d], predecessors[d], names) for d in (FORWARD, REVERSE)
            )
        forward = [[link_index[(u, v)] for v in successors[FORWARD][u]] for u in range(n)]
        reverse = [[link_index[(u, v)] for v in successors[REVERSE][u]] for u in range(n)]
        self.out_links = (forward, reverse)
        self._successors = tuple(
            [[self._dst[link] for link in links] for links in out] for out in self.out_links
        )
        self._predecessors: tuple[list[list[int]], ...] = ([[] for _ in range(n)], [[] for _ in range(n)])
        for direction in (FORWARD, REVERSE):
            for u in range(n):
                for v in self._successors[direction][u]:
                    self._predecessors[direction][v].append(u)
        self._reach: dict[tuple[int, int, frozenset], list[int]] = {}
        self._from: dict[tuple[int, int, frozenset], list[int]] = {}

    # ------------------------------------------------------------------ hop counts
    def hops_to(self, direction: int, target: int, removed: frozenset) -> list[int]:
        """``h_G(a, target | removed)`` for every node a, -1 where there is none (G = F or R).

        Returns:
            Hop counts. Length N.
        """
        key = (direction, target, removed)
        found = self._reach.get(key)
        if found is None:
            found = self._bfs(self._predecessors[direction], target, removed)
            self._reach[key] = found
        return found

    def hops_from(self, direction: int, source: int, removed: frozenset) -> list[int]:
        """``h_G(source, b | removed)`` for every node b, -1 where there is none."""
        key = (direction, source, removed)
        found = self._from.get(key)
        if found is None:
            found = self._bfs(self._successors[direction], source, removed)
            self._from[key] = found
        return found

    def _bfs(self, adjacency: list[list[int]], start: int, removed: frozenset) -> list[int]:
        hops = [-1] * self.num_nodes
        if start in removed:
            return hops
        hops[start] = 0
        queue = deque([start])
        while queue:
            u = queue.popleft()
            for v in adjacency[u]:
                if hops[v] < 0 and v not in removed:
                    hops[v] = hops[u] + 1
                    queue.append(v)
        return hops

    def _limit(self, length: int) -> int:
        return int(length * self.stretch)

    # ------------------------------------------------------------------ the rule
    def _within(self, direction: int, node: int, target: int, removed: frozenset, length: int) -> list[int]:
        """Links of ``node`` in one graph that keep a route within the limit of ``length``."""
        hops = self.hops_to(direction, target, removed)
        limit = self._limit(length)
        return [
            link
            for link in self.out_links[direction][node]
            if self._dst[link] not in removed
            and 0 <= hops[self._dst[link]]
            and hops[self._dst[link]] + 1 <= limit
        ]

    def _changing(self, direction: int, node: int, target: int, removed: frozenset, length: int) -> list[int]:
        """Links of ``node`` in one graph after which the route changes to the other graph once."""
        other_removed = removed | {node}
        other = self.hops_to(1 - direction, target, other_removed)
        limit = self._limit(length)
        taken = []
        for link in self.out_links[direction][node]:
            v = self._dst[link]
            if v in other_removed:
                continue
            if other[v] >= 0:  # the other graph reaches t from v: the limit decides
                if other[v] + 1 <= limit:
                    taken.append(link)
                continue
            depth = self.hops_from(direction, v, removed)
            if any(
                x != target
                and x != v
                and depth[x] >= 0
                and other[x] >= 0
                and depth[x] + other[x] + 1 <= limit
                for x in range(self.num_nodes)
            ):
                taken.append(link)
        return taken

    def next_hops(self, source: int, target: int, previous: int, node: int) -> list[int]:
        """The eligible next hops of a flow from ``source`` to ``target`` at ``node``, having come
        from ``previous`` (`NO_PREVIOUS` at the source), in the authors' order.

        Returns:
            Link indices out of ``node``, no duplicates (empty: the authors' calculator finds no
            path).
        """
        n = self.num_nodes
        if previous == NO_PREVIOUS:
            none: frozenset = frozenset()
            forward = self.hops_to(FORWARD, target, none)[node]
            reverse = self.hops_to(REVERSE, target, none)[node]
            hops = []
            if forward >= 0:
                hops += self._within(FORWARD, node, target, none, forward)
            if reverse >= 0:
                hops += self._within(REVERSE, node, target, none, reverse)
            length = min(forward if forward >= 0 else n + 1, reverse if reverse >= 0 else n + 1)
            hops += self._changing(FORWARD, node, target, none, length)
            hops += self._changing(REVERSE, node, target, none, length)
            return list(dict.fromkeys(hops))
        direction = FORWARD if self.dfs_number[node] > self.dfs_number[previous] else REVERSE
        removed = frozenset((previous, source))
        for graph in (direction, 1 - direction):
            length = self.hops_to(graph, target, removed)[node]
            if length >= 0:
                return self._within(graph, node, target, removed, length)
        return self._changing(direction, node, target, removed, n + 1)


# ---------------------------------------------------------------------- the rule as a table
@dataclass(frozen=True, eq=False)
class AuthorsDag:
    """The authors' next-hop rule tabulated over every state a flow can reach (`authors_dag`).

    A state is (source s, destination t, previous node p or `NO_PREVIOUS`, current node c).
    States are numbered pair by pair (s-major), each pair's in the order a breadth-first walk of
    the rule from its source state finds them; state i's candidates are the links
    ``hop_link[hop_start[i]:hop_start[i + 1]]`` in the authors' order, and taking candidate k
    leads to state ``hop_next[k]`` (-1 when the link reaches t). The state graph is acyclic.

    Attributes:
        num_nodes: N.
        num_links: E.
        stretch: the length cutoff it was built with.
        root: the node the DFS numbering starts from.
        dfs_number: each node's DFS number, 1..N. Shape [N].
        first_state: the state of a flow from s to t at s; -1 on the diagonal. Shape [N, N].
        state_source, state_target, state_previous, state_node: each state's s, t, p, c. Shape [S].
        hop_start: where each state's candidates start. Shape [S + 1].
        hop_link: the candidates' links. Shape [K].
        hop_next: the state each candidate leads to, -1 at the destination. Shape [K].
        max_hops: the most links of any route.
    """

    num_nodes: int
    num_links: int
    stretch: float
    root: int
    dfs_number: np.ndarray = field(repr=False)
    first_state: np.ndarray = field(repr=False)
    state_source: np.ndarray = field(repr=False)
    state_target: np.ndarray = field(repr=False)
    state_previous: np.ndarray = field(repr=False)
    state_node: np.ndarray = field(repr=False)
    hop_start: np.ndarray = field(repr=False)
    hop_link: np.ndarray = field(repr=False)
    hop_next: np.ndarray = field(repr=False)
    max_hops: int = 0

    def __post_init__(self) -> None:
        for name in ("dfs_number", "first_state", "state_source", "state_target", "state_previous",
                     "state_node", "hop_start", "hop_link", "hop_next"):  # fmt: skip
            array = np.array(getattr(self, name), dtype=np.int64, copy=True)
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @property
    def num_states(self) -> int:
        """S, the number of states a flow can reach."""
        return len(self.state_node)

    @property
    def max_candidates(self) -> int:
        """The most candidates of any state."""
        return int(np.diff(self.hop_start).max()) if self.num_states else 0

    def state_index(self, source: int, target: int, previous: int, node: int) -> int:
        """The number of a state.

        Raises:
            RlteError: no flow reaches that state.
        """
        index = getattr(self, "_index", None)
        if index is None:
            rows = zip(self.state_source.tolist(), self.state_target.tolist(), self.state_previous.tolist(),
                       self.state_node.tolist())  # fmt: skip
            index = {row: i for i, row in enumerate(rows)}
            object.__setattr__(self, "_index", index)
        key = (int(source), int(target), int(previous), int(node))
        if key not in index:
            raise RlteError(
                f"authors' next hops: no flow from {source} to {target} reaches {node} from {previous}"
            )
        return index[key]

    def next_hops(self, source: int, target: int, previous: int, node: int) -> np.ndarray:
        """The candidates of a state, in the authors' order.

        Returns:
            Link indices. Shape [candidates].
        """
        i = self.state_index(source, target, previous, node)
        return np.array(self.hop_link[self.hop_start[i] : self.hop_start[i + 1]])

    def link_routes(self) -> tuple[tuple[tuple[int, ...], ...], ...]:
        """Every route the rule allows, per demand (s-major): every walk from s to t through the
        candidates, as link indices, in candidate order.

        Raises:
            RlteError: a pair with more than `MAX_ROUTES_PER_PAIR` routes.
        """
        found: dict[int, list[tuple[int, ...]]] = {}

        def walks(state: int) -> list[tuple[int, ...]]:
            if state in found:
                return found[state]
            out: list[tuple[int, ...]] = []
            for k in range(self.hop_start[state], self.hop_start[state + 1]):
                link, following = int(self.hop_link[k]), int(self.hop_next[k])
                if following < 0:
                    out.append((link,))
                else:
                    out.extend((link, *rest) for rest in walks(following))
                if len(out) > MAX_ROUTES_PER_PAIR:
                    s, t = int(self.state_source[state]), int(self.state_target[state])
                    raise RlteError(
                        f"authors' routes: more than {MAX_ROUTES_PER_PAIR} from node {s} to node {t}"
                    )
            found[state] = out
            return out

        pairs = _demand_pairs(self.num_nodes)
        return tuple(tuple(walks(int(self.first_state[s, t]))) for s, t in pairs)

    def routes(self, topology: Topology) -> tuple[tuple[tuple[int, ...], ...], ...]:
        """`link_routes` as node sequences from s to t (what `PathSet.from_node_paths` takes)."""
        self._check(topology)
        return tuple(
            tuple((int(topology.src[links[0]]), *(int(topology.dst[e]) for e in links)) for links in demand)
            for demand in self.link_routes()
        )

    def path_set(self, topology: Topology, label: str = "authors") -> PathSet:
        """The routes as a `PathSet` (for `rlte.baselines.phi.min_phi_paths`).

        Raises:
            RlteError: a route that visits a node twice (`PathSet` holds simple paths only).
        """
        return PathSet.from_node_paths(topology, self.routes(topology), label)

    def eligible(self) -> np.ndarray:
        """The links some state toward t may take, row t: the union over sources and previous
        nodes (not a DAG in general). Shape [N, E]."""
        mask = np.zeros((self.num_nodes, self.num_links), dtype=bool)
        counts = np.diff(self.hop_start)
        mask[np.repeat(self.state_target, counts), self.hop_link] = True
        return mask

    def _check(self, topology: Topology) -> None:
        if topology.num_nodes != self.num_nodes or topology.num_links != self.num_links:
            raise RlteError(
                f"authors' next hops: built for {self.num_nodes} nodes and {self.num_links} links, "
                f"topology {topology.name!r} has {topology.num_nodes} and {topology.num_links}"
            )


#: Tables already built in this process, by topology and cutoff (an `AuthorsDag` is read-only).
_TABLES: dict[tuple, AuthorsDag] = {}
_TABLES_KEPT = 8


def authors_dag(topology: Topology, stretch: float = 1.5) -> AuthorsDag:
    """The authors' next-hop rule over every state a flow can reach (see the module docstring).

    Args:
        topology: the network.
        stretch: the authors' length cutoff (``length_cutoff_fraction``, 1.5).

    Returns:
        An `AuthorsDag`.

    Raises:
        RlteError: a bad stretch, a state with no next hop, or a forwarding loop (a state a flow
            can come back to).
    """
    key = (tuple(topology.nodes), topology.src.tobytes(), topology.dst.tobytes(), _checked_stretch(stretch))
    if key not in _TABLES:
        if len(_TABLES) >= _TABLES_KEPT:
            del _TABLES[next(iter(_TABLES))]
        _TABLES[key] = _tabulate(topology, AuthorsCalculator(topology, stretch))
    return _TABLES[key]


def _tabulate(topology: Topology, calculator: AuthorsCalculator) -> AuthorsDag:
    """The rule of ``calculator`` over every state a flow can reach (see `authors_dag`)."""
    n, names, dst = topology.num_nodes, topology.nodes, topology.dst
    states: list[tuple[int, int, int, int]] = []
    hop_link: list[int] = []
    hop_next: list[int] = []
    hop_start = [0]
    first_state = np.full((n, n), -1, dtype=np.int64)
    longest: dict[int, int] = {}  # the most hops from each state to the destination
    for s, t in _demand_pairs(n).tolist():
        first = len(states)
        first_state[s, t] = first
        index = {(NO_PREVIOUS, s): first}
        states.append((s, t, NO_PREVIOUS, s))
        i = first
        while i < len(states):
            _, _, previous, node = states[i]
            links = calculator.next_hops(s, t, previous, node)
            if not links:
                after = "" if previous == NO_PREVIOUS else f" after {names[previous]!r}"
                raise RlteError(
                    f"authors' next hops on topology {topology.name!r}: a flow from {names[s]!r} to "
                    f"{names[t]!r} has no next hop at {names[node]!r}{after}"
                )
            for link in links:
                v = int(dst[link])
                if v == t:
                    hop_next.append(-1)
                else:
                    if (node, v) not in index:
                        index[(node, v)] = len(states)
                        states.append((s, t, node, v))
                    hop_next.append(index[(node, v)])
                hop_link.append(link)
            hop_start.append(len(hop_link))
            i += 1
        order = _topological_order(topology, states, hop_start, hop_next, first, len(states))
        for i in reversed(order):  # a state after every state it leads to
            following = hop_next[hop_start[i] : hop_start[i + 1]]
            longest[i] = 1 + max(longest[k] if k >= 0 else 0 for k in following)
    columns = np.array(states, dtype=np.int64).reshape(-1, 4)
    return AuthorsDag(
        num_nodes=n, num_links=topology.num_links, stretch=calculator.stretch, root=calculator.root,
        dfs_number=calculator.dfs_number, first_state=first_state, state_source=columns[:, 0],
        state_target=columns[:, 1], state_previous=columns[:, 2], state_node=columns[:, 3],
        hop_start=hop_start, hop_link=hop_link, hop_next=hop_next,
        max_hops=max(longest.values(), default=0),
    )  # fmt: skip


def _topological_order(topology: Topology, states, hop_start, hop_next, begin: int, end: int) -> list[int]:
    """The states [begin, end) of one pair, each before those it leads to (Kahn's algorithm).

    Raises:
        RlteError: a flow can come back to a state (a forwarding loop).
    """
    waiting = dict.fromkeys(range(begin, end), 0)
    for k in range(hop_start[begin], hop_start[end]):
        if hop_next[k] >= 0:
            waiting[hop_next[k]] += 1
    ready = [i for i in range(begin, end) if waiting[i] == 0]
    order = []
    while ready:
        i = ready.pop()
        order.append(i)
        for k in range(hop_start[i], hop_start[i + 1]):
            following = hop_next[k]
            if following >= 0:
                waiting[following] -= 1
                if waiting[following] == 0:
                    ready.append(following)
    if len(order) < end - begin:
        s, t = states[begin][0], states[begin][1]
        names = topology.nodes
        raise RlteError(
            f"authors' next hops on topology {topology.name!r}: a flow from {names[s]!r} to "
            f"{names[t]!r} can loop"
        )
    return order
