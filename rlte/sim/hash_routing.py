"""Per-flow routing under link weights (seed 002, MAROH / SAMAROH): each flow of a flow set follows
one path, chosen hop by hop by the authors' weighted hash, or the flow set is split in proportion
to the weights. Link loads come out for one weight vector or a batch of them.

Two rules, by name (`FLOW_RULES`):

- ``"hash"``: MAROH's weighted consistent hash (``dte_stand.hash_function.WeightedDxHashFunction``
  in the authors' release). Flows are unsplittable. At every node u on its way to t a flow takes
  one of u's eligible next hops toward t, the candidates, with weights w and ``w_max`` their
  largest. The candidates come from one of two rules (``dag``): ``"stretch"`` (the default),
  `rlte.net.paths.stretch_dag` with stretch 1.5, listed by ascending link index, a function of
  (u, t); or ``"authors"``, the authors' path calculator (`rlte.net.maroh_dag.authors_dag`), in
  its order, a function of the flow's state (source, t, previous node, u). Then:

  1. ``candidates`` = the eligible next hops, in order; ``j`` = 0;
  2. draw the flow's key ``k_j`` (an integer in 0..10000), ``j += 1``;
  3. ``b = k_j mod len(candidates)``; accept ``candidates[b]`` if
     ``crc32(bytes(k_j)) / 2**32 < w[candidates[b]] / w_max`` (``bytes(k)`` is k zero bytes,
     CRC-32 as zlib computes it);
  4. otherwise delete ``candidates[b]`` (the others keep their order) and go to 2.

  The next hop of largest weight is always accepted, so at most ``len(candidates)`` keys are
  drawn. A flow's keys ``k_0, k_1, ...`` are the draws ``randint(0, 10000)`` of Python's
  ``random.Random(flow_id + seed)`` (seed ``""`` by default, or ``str(hash_seed)``; a string
  seed is hashed with SHA-512, so the keys do not depend on ``PYTHONHASHSEED``), and the
  generator is re-seeded at every node: every node of a flow's path reads the same keys from
  the start. These are the authors' random numbers exactly (their code re-seeds per node and
  uses CPython's ``random`` and ``libscrc.crc32``, which is zlib's CRC-32), so with the same
  candidate lists a flow takes the same next hops as in their code: with ``dag="authors"`` rlte
  gives their code's Phi (Abilene's flows40 under weights 1: 0.038215; the stretch DAG gives
  0.0435). Because every node reads the same keys, a flow's choices along its path are
  correlated (with equal weights it takes candidate ``k_0 mod m`` at every node with m
  candidates).

  In distribution (keys uniform, coins independent of the bucket), the rule visits the
  candidates in a uniformly random order and takes the first that accepts, candidate i accepting
  with probability ``w_i / w_max``. Weights 1 : 0.5 give 3 : 1 (1/2 + 1/2 * 1/2 against
  1/2 * 1/2), not 2 : 1; `hash_choice_probabilities` gives the exact probabilities of the rule
  with its finite key range and CRC coins (0.7529 : 0.2471 for 1 : 0.5).

- ``"split"`` (``dag="stretch"`` only): every node splits its traffic toward t over the same
  eligible next hops in proportion to their weights (`rlte.sim.routing.weights_to_splits` with
  rule ``"weighted"``), evaluated by the fluid model on the flow set's traffic matrix
  (splittable; not the hash rule's expectation: its shares per node are the probabilities above,
  and its hops are correlated).

Build a `FlowRouter` once per (topology, flow set, rule; a few ms, mostly drawing the keys) and
call `FlowRouter.link_loads` after every weight change: the hash rule is compiled with numba and
routes GEANT2009's 1766 flows in about 0.2 ms, so an environment recomputes all loads each step
(the authors' Python routing costs seconds per episode). Over the authors' next hops it walks a
table of flow states (`rlte.net.maroh_dag.AuthorsDag`) as fast; building that table costs a few
ms on Abilene, 2 s on GEANT2009, once per process.
"""

from __future__ import annotations

import random
import zlib
from functools import cache

import numba
import numpy as np

from rlte import metrics
from rlte.errors import RlteError
from rlte.net.flows import Flows
from rlte.net.maroh_dag import AuthorsDag, authors_dag
from rlte.net.paths import stretch_dag
from rlte.net.topology import Topology
from rlte.sim.flow import NextHopEvaluator
from rlte.sim.routing import weights_to_splits

#: The flow routing rules.
FLOW_RULES = ("hash", "split")
#: Where the eligible next hops come from: rlte's stretch DAG, or the authors' path calculator.
NEXT_HOP_DAGS = ("stretch", "authors")
#: The largest key of the authors' hash (``randint(0, KEY_MAX)``).
KEY_MAX = 10_000


@cache
def hash_coins() -> np.ndarray:
    """The acceptance threshold of each key: ``crc32(bytes(k)) / 2**32`` for k = 0..`KEY_MAX`.

    Returns:
        Read-only values in [0, 1). Shape [KEY_MAX + 1].
    """
    coins = np.array([zlib.crc32(bytes(k)) for k in range(KEY_MAX + 1)], dtype=np.float64) / 2.0**32
    coins.setflags(write=False)
    return coins


def flow_keys(ids, count: int, hash_seed: int | str | None = None) -> np.ndarray:
    """The first ``count`` hash keys of each flow.

    Key j of flow f is the j-th ``randint(0, KEY_MAX)`` of ``random.Random(ids[f] + seed)``,
    with seed ``""`` when ``hash_seed`` is None, else ``str(hash_seed)`` (the authors' seeding).
    It is drawn as CPython's ``randint`` draws it, ``getrandbits(14)`` until below 10001, so that
    it does not depend on that function's implementation.

    Args:
        ids: the flows' ids (strings).
        count: keys per flow, >= 1.
        hash_seed: the hash function's seed.

    Returns:
        Keys in 0..KEY_MAX. Shape [F, count].
    """
    suffix = "" if hash_seed is None else str(hash_seed)
    bits = (KEY_MAX + 1).bit_length()
    keys = np.empty((len(ids), count), dtype=np.int64)
    for f, flow_id in enumerate(ids):
        stream = random.Random(str(flow_id) + suffix)
        for j in range(count):
            key = stream.getrandbits(bits)
            while key > KEY_MAX:
                key = stream.getrandbits(bits)
            keys[f, j] = key
    return keys


def hash_choice_probabilities(weights: np.ndarray) -> np.ndarray:
    """Probability that the hash rule picks each candidate, keys uniform on 0..`KEY_MAX`.

    Exact for the rule with its CRC coins and finite key range, by dynamic programming over the
    ordered sets of candidates left. (Idealised, with uniform buckets and independent coins:
    ``P(i) = r_i * sum_{S not containing i} |S|! (m - 1 - |S|)! / m! * prod_{j in S} (1 - r_j)``
    with ``r = w / w_max``; 3/4 : 1/4 for weights 1 : 0.5.)

    Args:
        weights: the candidates' weights, in candidate order, > 0. Shape [m], m <= 16.

    Returns:
        The probabilities, summing to 1. Shape [m].
    """
    weights = np.asarray(weights, dtype=np.float64)
    m = len(weights)
    if m == 0 or m > 16 or not np.isfinite(weights).all() or (weights <= 0).any():
        raise RlteError("hash choice: needs 1 to 16 weights, finite and > 0")
    ratio = weights / weights.max()
    coins = hash_coins()
    keys = np.arange(KEY_MAX + 1)
    result = np.zeros(m)
    states = {tuple(range(m)): 1.0}
    while states:
        following: dict[tuple[int, ...], float] = {}
        for left, mass in states.items():
            bucket = keys % len(left)
            for b, candidate in enumerate(left):
                drawn = bucket == b
                accept = float(np.count_nonzero(drawn & (coins < ratio[candidate]))) / len(keys)
                reject = float(np.count_nonzero(drawn)) / len(keys) - accept
                result[candidate] += mass * accept
                if reject > 0:
                    rest = left[:b] + left[b + 1 :]
                    following[rest] = following.get(rest, 0.0) + mass * reject
        states = following
    return result


# ---------------------------------------------------------------------- the compiled rule
@numba.njit(cache=True)
def _hash_pick(w, hop_link, start, m, flow_keys, coins, scratch):
    """The authors' weighted hash among the ``m`` candidates ``hop_link[start:start + m]``: the
    flow's keys, in order, pick one of the candidates left (``key % left``); it is accepted when the
    key's coin is below its weight over the largest candidate weight, else dropped from the draw.
    Returns the chosen candidate's index into ``hop_link``."""
    if m == 1:
        return start
    w_max = 0.0
    for i in range(start, start + m):
        if w[hop_link[i]] > w_max:
            w_max = w[hop_link[i]]
    for i in range(m):
        scratch[i] = i
    left = m
    j = 0
    while True:
        key = flow_keys[j]
        j += 1
        pick = key % left
        chosen = start + scratch[pick]
        if coins[key] < w[hop_link[chosen]] / w_max:
            return chosen
        for i in range(pick, left - 1):
            scratch[i] = scratch[i + 1]
        left -= 1


@numba.njit(cache=True)
def _route_hash(
    weights,
    flow_src,
    flow_dst,
    rate,
    keys,
    coins,
    hop_start,
    hop_link,
    link_dst,
    num_nodes,
    loads,
    paths,
    record,
):
    """Route every flow under every weight vector; add rates to ``loads`` [B, E].

    Returns (0, 0, 0) on success; (1, f, u) when flow f reaches a node u with no next hop;
    (2, f, u) when it is still not at its destination after N - 1 hops (a forwarding loop).
    """
    num_flows = len(flow_src)
    scratch = np.empty(keys.shape[1], dtype=np.int64)
    for b in range(weights.shape[0]):
        w = weights[b]
        for f in range(num_flows):
            u = flow_src[f]
            t = flow_dst[f]
            hops = 0
            while u != t:
                if hops >= num_nodes - 1:
                    return 2, f, u
                start = hop_start[t * num_nodes + u]
                end = hop_start[t * num_nodes + u + 1]
                m = end - start
                if m == 0:
                    return 1, f, u
                link = hop_link[_hash_pick(w, hop_link, start, m, keys[f], coins, scratch)]
                loads[b, link] += rate[f]
                if record:
                    paths[f, hops] = link
                hops += 1
                u = link_dst[link]
    return 0, 0, 0


@numba.njit(cache=True)
def _route_hash_states(
    weights,
    first_state,
    rate,
    keys,
    coins,
    hop_start,
    hop_link,
    hop_next,
    max_hops,
    loads,
    paths,
    record,
):
    """The same rule over the authors' state table (`rlte.net.maroh_dag.AuthorsDag`): a flow
    starts in state ``first_state[f]``, takes one of the state's candidate links by the hash and
    moves to the state that candidate leads to, until -1 (its destination). Adds rates to
    ``loads`` [B, E].

    Returns (0, 0, 0) on success; (1, f, state) when flow f reaches a state with no candidate;
    (2, f, state) when it has taken ``max_hops`` links and is not at its destination.
    """
    num_flows = len(first_state)
    scratch = np.empty(keys.shape[1], dtype=np.int64)
    for b in range(weights.shape[0]):
        w = weights[b]
        for f in range(num_flows):
            state = first_state[f]
            hops = 0
            while state >= 0:
                if hops >= max_hops:
                    return 2, f, state
                start = hop_start[state]
                m = hop_start[state + 1] - start
                if m == 0:
                    return 1, f, state
                chosen = _hash_pick(w, hop_link, start, m, keys[f], coins, scratch)
                link = hop_link[chosen]
                loads[b, link] += rate[f]
                if record:
                    paths[f, hops] = link
                hops += 1
                state = hop_next[chosen]
    return 0, 0, 0


# ---------------------------------------------------------------------- the router
class FlowRouter:
    """Routes one flow set on one topology under link weights, by a named rule. Build once,
    call often: `link_loads` takes one weight vector [E] or a batch [B, E].

    Args:
        topology: the network.
        flows: the flows (`rlte.net.flows.Flows`); their nodes are matched to the topology's by
            name.
        rule: ``"hash"`` (MAROH's weighted hash, unsplittable) or ``"split"`` (proportional
            next-hop splits); see the module docstring.
        dag: ``"stretch"``: eligible next hops are those of ``stretch_dag(topology, stretch)``
            (or ``eligible``); ``"authors"``: those of the authors' path calculator
            (`rlte.net.maroh_dag.authors_dag` with cutoff ``stretch``), which depend on the
            flow's source, previous node and current node (hash rule only).
        stretch: the length cutoff of either DAG.
        eligible: with ``dag="stretch"``, a mask of eligible next hops instead, row t for
            destination t. Shape [N, E].
        hash_seed: the hash's seed (appended to each flow id, as the authors' ``seed``).

    Attributes:
        src, dst: each flow's end nodes as topology indices. Shape [F].
        rate: each flow's rate, bit/s. Shape [F].
        dag: ``"stretch"`` or ``"authors"``.
        eligible: the eligible next hops, row t for destination t; with ``dag="authors"`` the
            links some state toward t may take (their union, not a DAG). Shape [N, E].
        authors: with ``dag="authors"``, the authors' next hops per state (`AuthorsDag`); else None.

    Raises:
        RlteError: an unknown rule or dag, the split rule or an eligible mask with the authors'
            dag, a flow whose end is not a node of the topology, a flow from a node to itself, a
            negative or non-finite rate, an eligible mask of the wrong shape.
    """

    def __init__(
        self,
        topology: Topology,
        flows: Flows,
        rule: str = "hash",
        *,
        dag: str = "stretch",
        stretch: float = 1.5,
        eligible: np.ndarray | None = None,
        hash_seed: int | str | None = None,
    ) -> None:
        if rule not in FLOW_RULES:
            raise RlteError(f"flow routing rule {rule!r}: unknown (choose from {', '.join(FLOW_RULES)})")
        if dag not in NEXT_HOP_DAGS:
            raise RlteError(f"next-hop dag {dag!r}: unknown (choose from {', '.join(NEXT_HOP_DAGS)})")
        self.topology, self.rule, self.dag, self.hash_seed = topology, rule, dag, hash_seed
        self.src, self.dst, self.rate = _flow_ends(topology, flows)
        self.ids = tuple(str(i) for i in flows.ids)
        self.authors: AuthorsDag | None = None
        if dag == "authors":
            if rule != "hash":
                raise RlteError(
                    "flow routing rule 'split': needs per-destination next hops, not dag 'authors' "
                    "(whose next hops depend on the previous node)"
                )
            if eligible is not None:
                raise RlteError("eligible next hops: a mask replaces the stretch DAG, not dag 'authors'")
            self.authors = authors_dag(topology, stretch)
            self.eligible = self.authors.eligible()
            self._first_state = self.authors.first_state[self.src, self.dst]
            self._keys = flow_keys(self.ids, max(self.authors.max_candidates, 1), hash_seed)
            self._coins = np.array(hash_coins())
            return
        n, num_links = topology.num_nodes, topology.num_links
        if eligible is None:
            mask = stretch_dag(topology, stretch)
        else:
            mask = np.asarray(eligible, dtype=bool)
            if mask.shape != (n, num_links):
                raise RlteError(f"eligible next hops of shape {mask.shape}: want ({n}, {num_links})")
        self.eligible = mask
        # CSR over (destination, node): the eligible out-links of u toward t, by link index
        t, link = np.nonzero(mask & (topology.src[None, :] != np.arange(n)[:, None]))
        row = t * n + topology.src[link]
        order = np.argsort(row, kind="stable")
        self._hop_link = link[order].astype(np.int64)
        self._link_dst = np.asarray(topology.dst, dtype=np.int64)
        self._hop_start = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n * n))]).astype(np.int64)
        if rule == "hash":
            most = int(np.diff(self._hop_start).max()) if len(self._hop_link) else 1
            self._keys = flow_keys(self.ids, max(most, 1), hash_seed)
            self._coins = np.array(hash_coins())
        else:
            matrix = np.zeros((n, n))
            np.add.at(matrix, (self.src, self.dst), self.rate)
            self.matrix = matrix
            self._evaluator = NextHopEvaluator(topology)

    @property
    def num_flows(self) -> int:
        """F, the number of flows."""
        return len(self.src)

    def _weights(self, weights: np.ndarray) -> np.ndarray:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim == 0 or weights.shape[-1] != self.topology.num_links:
            raise RlteError(
                f"link weights of shape {weights.shape}: topology {self.topology.name!r} has "
                f"{self.topology.num_links} links"
            )
        if not np.isfinite(weights).all() or (weights <= 0).any():
            raise RlteError("link weights: must be finite and > 0")
        return weights

    def _run(self, weights: np.ndarray, record: bool) -> tuple[np.ndarray, np.ndarray]:
        batch = weights.reshape(-1, weights.shape[-1])
        loads = np.zeros(batch.shape)
        n = self.topology.num_nodes
        if self.authors is not None:
            table = self.authors
            width = max(table.max_hops, n - 1)
            paths = np.full((self.num_flows, width) if record else (1, 1), -1, dtype=np.int64)
            status, f, state = _route_hash_states(
                np.ascontiguousarray(batch), self._first_state, self.rate, self._keys, self._coins,
                table.hop_start, table.hop_link, table.hop_next, width, loads, paths, record,
            )  # fmt: skip
            u, limit = (int(table.state_node[state]) if status else 0), width
        else:
            paths = np.full((self.num_flows, n - 1) if record else (1, 1), -1, dtype=np.int64)
            status, f, u = _route_hash(
                np.ascontiguousarray(batch), self.src, self.dst, self.rate, self._keys, self._coins,
                self._hop_start, self._hop_link, self._link_dst, n, loads, paths, record,
            )  # fmt: skip
            limit = n - 1
        if status:
            names = self.topology.nodes
            where = f"flow {self.ids[f]!r} ({names[self.src[f]]} -> {names[self.dst[f]]})"
            if status == 1:
                raise RlteError(f"hash routing: {where} has no next hop at node {names[u]!r}")
            raise RlteError(f"hash routing: {where} loops (no destination after {limit} hops)")
        return loads.reshape(weights.shape), paths

    def link_loads(self, weights: np.ndarray) -> np.ndarray:
        """Offered load of every link, bit/s.

        Args:
            weights: link weights, finite and > 0.

        Returns:
            Link loads.

        Shapes:
            weights [..., E] -> [..., E].
        """
        weights = self._weights(weights)
        if self.rule == "hash":
            return self._run(weights, record=False)[0]
        splits = weights_to_splits(self.topology, weights, "weighted", eligible=self.eligible)
        return self._evaluator.link_loads(splits, self.matrix)

    def utilisation(self, weights: np.ndarray) -> np.ndarray:
        """Link utilisation (load / capacity; above 1 when overloaded). Shapes [..., E] -> [..., E]."""
        return self.link_loads(weights) / self.topology.capacity

    def phi(self, weights: np.ndarray) -> np.ndarray:
        """MAROH's objective `rlte.metrics.phi`, the population variance of link utilisation.
        Shapes [..., E] -> [...]."""
        return metrics.phi(self.utilisation(weights))

    def flow_paths(self, weights: np.ndarray) -> np.ndarray:
        """The links each flow follows under the hash rule, in order, padded with -1.

        Args:
            weights: one weight vector. Shape [E].

        Returns:
            Link indices. Shape [F, N - 1] (``dag="authors"``: [F, max(N - 1, H)], H the most
            links of any of its routes).
        """
        if self.rule != "hash":
            raise RlteError(f"flow paths: only the hash rule routes flows one by one (rule is {self.rule!r})")
        weights = self._weights(weights)
        if weights.ndim != 1:
            raise RlteError(f"flow paths: one weight vector [E], not shape {weights.shape}")
        return self._run(weights, record=True)[1]


def flow_link_loads(
    topology: Topology,
    flows: Flows,
    weights: np.ndarray,
    rule: str = "hash",
    stretch: float = 1.5,
    *,
    dag: str = "stretch",
    hash_seed: int | str | None = None,
) -> np.ndarray:
    """Link loads of a flow set under link weights (builds a `FlowRouter`; keep one to call often).

    Args:
        topology: the network.
        flows: the flows.
        weights: link weights, finite and > 0.
        rule: ``"hash"`` or ``"split"`` (see the module docstring).
        stretch: eligible next hops lie on routes within ``stretch`` x the shortest hop count.
        dag: ``"stretch"`` or ``"authors"`` (see `FlowRouter`).
        hash_seed: the hash's seed.

    Returns:
        Offered load of every link, bit/s.

    Shapes:
        weights [..., E] -> [..., E].
    """
    return FlowRouter(topology, flows, rule, dag=dag, stretch=stretch, hash_seed=hash_seed).link_loads(
        weights
    )


def _flow_ends(topology: Topology, flows: Flows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flows' sources, destinations (topology node indices) and rates, checked."""
    src = np.asarray(flows.src, dtype=np.int64)
    dst = np.asarray(flows.dst, dtype=np.int64)
    rate = np.asarray(flows.rate_bps, dtype=np.float64)
    ids = [str(i) for i in flows.ids]
    if not (len(src) == len(dst) == len(rate) == len(ids)):
        raise RlteError(
            f"flows: {len(src)} sources, {len(dst)} destinations, {len(rate)} rates and {len(ids)} ids differ"
        )
    where_is = {name: i for i, name in enumerate(topology.nodes)}
    names = list(flows.nodes)
    index = np.array([where_is.get(name, -1) for name in names], dtype=np.int64)
    ends = []
    for label, nodes in (("source", src), ("destination", dst)):
        outside = np.flatnonzero((nodes < 0) | (nodes >= len(names)))
        if len(outside):
            f = int(outside[0])
            raise RlteError(
                f"flow {ids[f]!r}: {label} index {int(nodes[f])} is not one of its {len(names)} nodes"
            )
        mapped = index[nodes] if len(nodes) else nodes
        unknown = np.flatnonzero(mapped < 0)
        if len(unknown):
            f = int(unknown[0])
            raise RlteError(
                f"flow {ids[f]!r}: {label} {names[nodes[f]]!r} is not a node of topology {topology.name!r}"
            )
        ends.append(mapped)
    loop = np.flatnonzero(ends[0] == ends[1])
    if len(loop):
        f = int(loop[0])
        raise RlteError(f"flow {ids[f]!r}: starts and ends at {topology.nodes[ends[0][f]]!r}")
    bad = np.flatnonzero(~np.isfinite(rate) | (rate < 0))
    if len(bad):
        f = int(bad[0])
        raise RlteError(f"flow {ids[f]!r}: rate {float(rate[f])!r} must be finite and >= 0")
    return ends[0], ends[1], rate
