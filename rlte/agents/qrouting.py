"""Multi-agent Q-routing and its family (seed 004): per-router Q tables composed from three modules.

Every router i keeps ``Q_i(d, a)``: its estimate of the time a packet bound for d that it sends to
neighbour a takes to reach d, counted from the packet's arrival at i (its wait in i's queue
included), as Boyan and Littman define it. Seed 004 maximises returns of negative one-hop delays
with Q initialised to 0; keeping positive times and minimising is the same algorithm
(``Q_seed004 = -Q``; the softmax below is over ``-Q / tau``). Tables are stored ``[N(d), E]``
over `rlte.sim.packet.PacketNetwork` slots, so router i's actions are its out-link slots.

The reward of hop k, from router x to y, is ``r = (arrival at y) - (arrival at x)``: queueing,
handling, transmission and propagation, so the rewards of a packet sum to its delivery time.

The three modules (seed 004, section III) and their options in `QRoutingConfig`:

1. **Policy evaluation** (the critic): ``Q_x(d, a) <- Q_x(d, a) + alpha (R + V - Q_x(d, a))`` with
   ``R`` the n-hop return (the sum of the next ``hops`` rewards: arrival n hops on minus arrival at
   x) and ``V`` the value of the router n hops on, y_n, toward d (0 if y_n = d; a packet that
   reaches d in fewer hops ends its return there):

   - ``evaluation="sample"``: ``V = Q_{y_n}(d, a')`` for one action a': the target policy's greedy
     action off-policy (``min_a' Q``), the action y_n actually takes on-policy (SARSA);
   - ``evaluation="expected"``: ``V = sum_a' pi(a' | d) Q_{y_n}(d, a')`` under the target policy
     (expected SARSA; off-policy the target is greedy and this is ``min`` again);
   - ``hops``: n of the n-hop return (1: one-hop; seed 004's n-hop row uses 2). Off-policy n-hop
     returns are not importance-corrected (as in the paper).

2. **Policy improvement** (the actor): the policy derived from the Q values of a router toward d:
   ``greedy`` (argmin, ties broken uniformly at random or by the first), ``egreedy`` (the greedy
   action with probability 1 - epsilon, else uniformly one of the others, as the paper words it:
   "with probability epsilon, other actions are selected"; Sutton and Barto's draw among all
   actions would explore epsilon / degree less),
   ``softmax`` (``P(a) ~ exp(-Q(d, a) / tau)``). **Double learning** (``double=True``) keeps two
   tables per router; each update picks one table A at random (a fair coin from the policy stream),
   lets A choose the target's action(s) and the other table B value them (``V = Q_B(y, argmin_a
   Q_A(y, a))``; expected: ``sum_a pi_A(a) Q_B(y, a)``, seed 004's Psi), and updates A. Routers act
   on the mean of the two tables.

3. **Policy execution** (the executor): ``off``: the target policy is greedy whatever the behaviour
   (Q-learning); ``on``: the target policy is the behaviour policy (SARSA, expected SARSA). With
   greedy improvement the two coincide, and ``on`` is run as ``off``.

When updates happen: as soon as their target is known. The update of hop j (from router x_j) is
applied when hop j + n - 1 is taken (for one-hop returns: as x_j sends the packet), since arrival
times are known once a hop is taken; the estimate of y_n, the router the packet is then headed
to, is read at that moment, as in Boyan and Littman's "y immediately sends back its estimate".
On-policy sample targets need the action y_n takes, so they wait until y_n sends the packet on
(hop j + n). Updates due at one send are applied in order of j. ``off_greedy`` is Boyan and
Littman's Q-routing exactly.

Seed 004's 13 learning rows (Tables II-IV) are `PAPER_COMBINATIONS`, each a choice of modules
(`combination` builds its config); Table I's hyperparameters are the defaults (Q init 0, alpha 0.9,
epsilon 0.1, tau 1; the 2-hop row uses n = 2 and alpha 0.5). Shortest-path routing, the baseline,
is `rlte.sim.packet.shortest_path_policy`.

Learning costs no Python call per packet: `simulate_and_learn` runs a compiled loop (one per
module choice) that calls the simulator's compiled primitives (`rlte.sim.packet.advance`,
`forward`); the simulator knows nothing of rewards or tables. `QRouter` also implements the same rules in plain Python
(``choose`` / ``sent``) for `rlte.sim.packet_reference` and for stepping through
``rlte/PacketRouting-v0``; both paths draw the same numbers in the same order from the policy
generator and give identical results.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numba
import numpy as np

from rlte.agents.common.configs import AgentConfig
from rlte.errors import RlteError
from rlte.net.topology import Topology
from rlte.options import option
from rlte.sim.packet import (
    ADVANCE_DECISION,
    C_DEC_NODE,
    C_DEC_PACKET,
    F_HOP_START,
    SENT,
    LoadSchedule,
    PacketCounts,
    PacketNetwork,
    PacketSimOptions,
    PacketSimulator,
    WindowSeries,
    advance,
    forward,
    seed_streams,
    shortest_path_policy,
)

EXECUTIONS = ("off", "on")
IMPROVEMENTS = ("greedy", "egreedy", "softmax")
EVALUATIONS = ("sample", "expected")
TIE_BREAKS = ("random", "first")  # the order of each tuple is the compiled code's numbering
#: Longest n-hop return supported.
MAX_HOPS = 7
#: Per-packet hop history length (a power of two above MAX_HOPS: ring index by bit mask).
HISTORY = 8

#: Seed 004's Table I.
TABLE_I = {"initial_q": 0.0, "learning_rate": 0.9, "epsilon": 0.1, "temperature": 1.0, "hops": 2}
#: The learning rate seed 004 uses for its 2-hop row.
TWO_HOP_LEARNING_RATE = 0.5


@dataclass
class QRoutingConfig(AgentConfig):
    """Modules and hyperparameters of a Q-routing learner (defaults: seed 004's Table I, ``off_greedy``)."""

    execution: Literal["off", "on"] = "off"
    """Policy execution: ``off`` (the target policy is greedy) or ``on`` (it is the behaviour policy)."""
    improvement: Literal["greedy", "egreedy", "softmax"] = "greedy"
    """Policy improvement, the behaviour policy: ``greedy``, ``egreedy`` or ``softmax``."""
    evaluation: Literal["sample", "expected"] = "sample"
    """Policy evaluation: ``sample`` (one next action's value) or ``expected`` (the target policy's mean)."""
    double: bool = False
    """Double learning: two tables, one picks the target's action, the other values it."""
    hops: int = option(1, ge=1, le=MAX_HOPS)
    """n of the n-hop return (seed 004's n-hop row uses 2)."""
    learning_rate: float = option(0.9, gt=0.0, le=1.0)
    """alpha, in (0, 1] (Table I: 0.9; 0.5 for the 2-hop row)."""
    epsilon: float = option(0.1, ge=0.0, le=1.0)
    """Probability that ``egreedy`` takes a non-greedy action, in [0, 1]."""
    temperature: float = option(1.0, gt=0.0)
    """tau of ``softmax``, > 0, in time units."""
    initial_q: float = option(0.0, ge=0.0)
    """Initial estimate of every delivery time, >= 0 (0: optimistic, every untried link looks best)."""
    tie_break: Literal["random", "first"] = "random"
    """How greedy choices break exact ties: ``random`` (uniform) or ``first`` (lowest neighbour index)."""

    def validate(self, where: str = "q-routing") -> None:
        """Raise `RlteError` naming the first bad field and its allowed values, in one line."""
        type(self).parse({name: getattr(self, name) for name in self.keys()}, where)

    def codes(self) -> np.ndarray:
        """The module choices as the compiled code takes them. Shape [NUM_CODES], int64."""
        codes = np.zeros(NUM_CODES, dtype=np.int64)
        codes[K_EXECUTION] = EXECUTIONS.index(self.execution)
        codes[K_IMPROVEMENT] = IMPROVEMENTS.index(self.improvement)
        codes[K_EVALUATION] = EVALUATIONS.index(self.evaluation)
        codes[K_DOUBLE] = int(bool(self.double))
        codes[K_HOPS] = int(self.hops)
        codes[K_TIE_FIRST] = int(self.tie_break == "first")
        codes[K_LEARN] = 1
        return codes

    def params(self) -> np.ndarray:
        """learning rate, epsilon, temperature. Shape [3], float64."""
        return np.array([self.learning_rate, self.epsilon, self.temperature], dtype=np.float64)


# indices into the codes and params arrays of the compiled code
K_EXECUTION, K_IMPROVEMENT, K_EVALUATION, K_DOUBLE, K_HOPS, K_TIE_FIRST, K_LEARN = range(7)
NUM_CODES = 7
P_ALPHA, P_EPSILON, P_TAU = range(3)
ON, GREEDY, EGREEDY, SOFTMAX, EXPECTED = 1, 0, 1, 2, 1


# ---------------------------------------------------------------------- seed 004's rows
#: Seed 004's learning rows (Tables II-IV), name -> the row's label in the paper.
PAPER_COMBINATIONS = {
    "off_greedy": "Off policy greedy (baseline)",
    "off_egreedy": "Off policy ε-greedy",
    "off_softmax": "Off policy Softmax",
    "on_egreedy": "On policy ε-greedy",
    "on_softmax": "On policy Softmax",
    "on_expected_softmax": "On policy Expected Softmax",
    "off_dbl_greedy": "Off policy DBL greedy",
    "off_dbl_egreedy": "Off policy DBL ε-greedy",
    "off_dbl_softmax": "Off policy DBL Softmax",
    "on_dbl_egreedy": "On policy DBL ε-greedy",
    "on_dbl_softmax": "On policy DBL Softmax",
    "on_dbl_expected_softmax": "On policy DBL Expected Softmax",
    "on_dbl_expected_softmax_2hop": "On policy DBL Expected Softmax 2hops",
}
#: The baselines `run_experiment` also runs.
BASELINES = ("shortest_path", "shortest_path_fixed")


def combination(name: str, **overrides) -> QRoutingConfig:
    """The config of one of seed 004's rows: its modules read off its name, Table I's values.

    ``{off,on}_[dbl_][expected_]{greedy,egreedy,softmax}[_2hop]``: execution, double learning,
    expected evaluation, improvement, and the 2-hop return (with Table I's n = 2 and the paper's
    learning rate 0.5 for it).

    Args:
        name: a key of `PAPER_COMBINATIONS`.
        overrides: `QRoutingConfig` fields to change (e.g. ``learning_rate=0.1`` for Table IV).

    Raises:
        RlteError: an unknown name (with the closest ones) or a bad override.
    """
    if name not in PAPER_COMBINATIONS:
        close = difflib.get_close_matches(str(name), list(PAPER_COMBINATIONS), n=2)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise RlteError(
            f"q-routing combination {name!r}: unknown{hint}; known: {', '.join(PAPER_COMBINATIONS)}"
        )
    tokens = name.split("_")
    modules = {"execution": tokens[0], "improvement": next(t for t in tokens if t in IMPROVEMENTS)}
    modules["double"] = "dbl" in tokens
    if "expected" in tokens:
        modules["evaluation"] = "expected"
    if tokens[-1].endswith("hop"):
        modules["hops"] = TABLE_I["hops"]
        modules["learning_rate"] = TWO_HOP_LEARNING_RATE
    table_i = {key: value for key, value in TABLE_I.items() if key != "hops"}
    unknown = sorted(set(overrides) - set(QRoutingConfig.__dataclass_fields__))
    if unknown:
        raise RlteError(f"q-routing combination {name!r}: unknown field {unknown[0]!r}")
    config = QRoutingConfig(**{**table_i, **modules, **overrides})
    config.validate(f"q-routing combination {name!r}")
    return config


def resolve_config(config: QRoutingConfig | str) -> QRoutingConfig:
    """A config, or the config of a combination name (validated)."""
    if isinstance(config, str):
        return combination(config)
    config.validate()
    return config


# ---------------------------------------------------------------------- compiled modules
# The tables are one array q[2, N, E] (q[1] unused without double learning) and functions pick a
# table by number: choosing between two array variables would cost reference counting per call.
# The helpers are inlined into the loop, and the module choices reach them as constants of the
# loop (`_learning_loop`), so the compiler keeps only the chosen modules' code.
#
# Reference counting: numba holds a reference to each array argument of a helper from its start to
# its last use, and when that last use differs between branches the increment and decrement (both
# atomic) survive, once per array per call; in this loop they took most of the time (measured). So
# every helper that takes arrays ends each of its paths with `_keep_alive` of them: used at every
# exit, the pair is provably redundant and the compiler removes it. Nothing else changes.
@numba.njit(cache=True)
def _keep_alive(*arrays):
    """A no-op use of its arguments (see above)."""
    return None


@numba.njit(cache=True, inline="always")
def _acting_value(q, double, dest, slot):
    value = 0.5 * (q[0, dest, slot] + q[1, dest, slot]) if double else q[0, dest, slot]
    _keep_alive(q)
    return value


@numba.njit(cache=True, inline="always")
def _greedy_slot(q, double, dest, lo, hi, tie_first, rng):
    """argmin of the acting values over slots lo..hi-1; exact ties broken at random unless tie_first."""
    best = np.inf
    first = lo
    count = 0
    for k in range(lo, hi):
        value = _acting_value(q, double, dest, k)
        if value < best:
            best = value
            first = k
            count = 1
        elif value == best:
            count += 1
    chosen = first
    if count > 1 and not tie_first:
        r = int(rng.random() * count)
        if r >= count:
            r = count - 1
        for k in range(lo, hi):
            if _acting_value(q, double, dest, k) == best:
                if r == 0:
                    chosen = k
                    break
                r -= 1
    _keep_alive(q, rng)
    return chosen


@numba.njit(cache=True, inline="always")
def _softmax_slot(q, double, dest, lo, hi, tau, rng, scratch):
    smallest = np.inf
    for k in range(lo, hi):
        smallest = min(smallest, _acting_value(q, double, dest, k))
    total = 0.0
    for k in range(lo, hi):
        weight = math.exp(-(_acting_value(q, double, dest, k) - smallest) / tau)
        scratch[k - lo] = weight
        total += weight
    x = rng.random() * total
    running = 0.0
    chosen = hi - 1
    for k in range(lo, hi):
        running += scratch[k - lo]
        if x < running:
            chosen = k
            break
    _keep_alive(q, rng, scratch)
    return chosen


@numba.njit(cache=True, inline="always")
def behaviour_slot(out_ptr, q, node, dest, improvement, double, tie_first, epsilon, tau, rng, scratch):
    """Policy improvement: the slot the behaviour policy picks at ``node`` for a packet to ``dest``
    (``scratch``: room for the largest out-degree's softmax weights)."""
    lo = out_ptr[node]
    hi = out_ptr[node + 1]
    if improvement == SOFTMAX:
        slot = _softmax_slot(q, double, dest, lo, hi, tau, rng, scratch)
    else:
        slot = _greedy_slot(q, double, dest, lo, hi, tie_first, rng)
        degree = hi - lo
        if improvement == EGREEDY and degree > 1 and rng.random() < epsilon:
            j = int(rng.random() * (degree - 1))
            if j > degree - 2:
                j = degree - 2
            # one of the other degree - 1 slots, uniformly: skip the greedy one
            slot = lo + j + 1 if lo + j >= slot else lo + j
    _keep_alive(out_ptr, q, rng, scratch)
    return slot


@numba.njit(cache=True, inline="always")
def _greedy_value(q, a, b, dest, lo, hi, double, tie_first):
    """The greedy target's value: min of table a (single), or table b at a's argmin (double; the
    mean over a's exact ties unless tie_first)."""
    best = np.inf
    first = lo
    count = 0
    for k in range(lo, hi):
        value = q[a, dest, k]
        if value < best:
            best = value
            first = k
            count = 1
        elif value == best:
            count += 1
    if not double:
        value = best
    elif count == 1 or tie_first:
        value = q[b, dest, first]
    else:
        total = 0.0
        for k in range(lo, hi):
            if q[a, dest, k] == best:
                total += q[b, dest, k]
        value = total / count
    _keep_alive(q)
    return value


@numba.njit(cache=True, inline="always")
def _expected_value(q, a, b, dest, lo, hi, improvement, tie_first, epsilon, tau):
    """The mean of table b under the epsilon-greedy or softmax policy of table a."""
    degree = hi - lo
    expected = 0.0
    if improvement == EGREEDY and degree == 1:
        expected = q[b, dest, lo]
    elif improvement == EGREEDY:
        best = np.inf
        first = lo
        count = 0
        for k in range(lo, hi):
            value = q[a, dest, k]
            if value < best:
                best = value
                first = k
                count = 1
            elif value == best:
                count += 1
        if tie_first:
            count = 1
        # greedy (uniform over the ties) with 1 - epsilon, one of the other actions with epsilon
        for k in range(lo, hi):
            tied = (k == first) if count == 1 else (q[a, dest, k] == best)
            share = 1.0 / count if tied else 0.0
            probability = (1.0 - epsilon) * share + epsilon * (1.0 - share) / (degree - 1)
            expected += probability * q[b, dest, k]
    else:
        smallest = np.inf
        for k in range(lo, hi):
            smallest = min(smallest, q[a, dest, k])
        weights = 0.0
        for k in range(lo, hi):
            weight = math.exp(-(q[a, dest, k] - smallest) / tau)
            weights += weight
            expected += weight * q[b, dest, k]
        expected /= weights
    _keep_alive(q)
    return expected


# what an update bootstraps from
BOOT_NONE, BOOT_ACTION, BOOT_TARGET = 0, 1, 2


@numba.njit(cache=True, inline="always")
def _update(out_ptr, q, rng, dest, slot, ret, boot, node, action, greedy_target, improvement, double,
            tie_first, alpha, epsilon, tau):  # fmt: skip
    """Policy evaluation, one step on ``Q(dest, slot)`` toward ``ret`` plus, by ``boot``: nothing
    (the packet arrived), the value of ``action`` (the one taken, on-policy) or the target policy's
    value at ``node``. With double learning a fair coin picks the table updated (a); the other (b)
    values the target's actions."""
    a = 0
    b = 0
    if double:
        if rng.random() >= 0.5:
            a = 1
        else:
            b = 1
    target = ret
    if boot == BOOT_ACTION:
        target += q[b, dest, action]
    elif boot == BOOT_TARGET:
        lo = out_ptr[node]
        hi = out_ptr[node + 1]
        if greedy_target:
            target += _greedy_value(q, a, b, dest, lo, hi, double, tie_first)
        else:
            target += _expected_value(q, a, b, dest, lo, hi, improvement, tie_first, epsilon, tau)
    old = q[a, dest, slot]
    q[a, dest, slot] = old + alpha * (target - old)
    _keep_alive(out_ptr, q, rng)


@numba.njit(cache=True, inline="always")
def learn_after_send(out_ptr, q, params, rng, hist_slot, hist_start, packet, dest, hop, slot, next_node, hop_start,
                     arrival, hops, improvement, double, tie_first, greedy_target, sampled):  # fmt: skip
    """Record hop ``hop`` (0-based) of ``packet`` (sent on ``slot`` to ``next_node``, having reached
    its node at ``hop_start`` and reaching the next at ``arrival``) and apply the updates it completes.

    ``hops`` is n of the n-hop return; ``greedy_target``: the target policy is greedy; ``sampled``:
    the target bootstraps from the action the router n hops on takes (on-policy, sample evaluation).
    Hop j's n-hop return ends when hop j + n - 1 is sent (its target is then known), or, for an
    on-policy sample target, when hop j + n is (the action its bootstrap router took); it ends early
    when the packet reaches its destination. Updates are applied in order of j.
    """
    n = hops
    alpha, epsilon, tau = params[P_ALPHA], params[P_EPSILON], params[P_TAU]
    m = HISTORY - 1
    hist_slot[packet, hop & m] = slot
    hist_start[packet, hop & m] = hop_start
    if sampled and hop - n >= 0:
        j = (hop - n) & m
        _update(out_ptr, q, rng, dest, hist_slot[packet, j], hop_start - hist_start[packet, j], BOOT_ACTION, -1,
                slot, greedy_target, improvement, double, tie_first, alpha, epsilon, tau)  # fmt: skip
    if next_node == dest:
        first = hop - n + 1 if hop - n + 1 > 0 else 0
        for j in range(first, hop + 1):
            _update(out_ptr, q, rng, dest, hist_slot[packet, j & m], arrival - hist_start[packet, j & m], BOOT_NONE,
                    -1, -1, greedy_target, improvement, double, tie_first, alpha, epsilon, tau)  # fmt: skip
    elif not sampled and hop - n + 1 >= 0:
        j = (hop - n + 1) & m
        _update(out_ptr, q, rng, dest, hist_slot[packet, j], arrival - hist_start[packet, j], BOOT_TARGET,
                next_node, -1, greedy_target, improvement, double, tie_first, alpha, epsilon, tau)  # fmt: skip
    _keep_alive(out_ptr, q, params, rng, hist_slot, hist_start)


#: A digest of the simulator's source. Numba's disk cache checks only a function's own file, and the
#: learning loops hold compiled copies of the simulator's primitives: capturing this makes an edited
#: simulator recompile them instead of running its old code.
_SIMULATOR_SOURCE = hashlib.sha256(Path(advance.py_func.__code__.co_filename).read_bytes()).hexdigest()


@functools.cache
def _learning_loop(execution: int, improvement: int, evaluation: int, double: bool, hops: int, tie_first: bool,
                   learn: bool):  # fmt: skip
    """The compiled loop of one module choice. The choice reaches it as constants of the closure, so
    the compiler drops the other modules' code, and with it the reference counting their branches
    would keep (with the choice read from an array at run time the loop ran at half the speed).
    Each choice compiles once and is cached on disk (numba keys the cache on the closure's values)."""
    greedy_target = execution != ON or improvement == GREEDY
    sampled = execution == ON and evaluation != EXPECTED and improvement != GREEDY
    simulator_source = _SIMULATOR_SOURCE

    @numba.njit(cache=True)
    def loop(net, sim, traffic_rng, policy_rng, q, params, hist_slot, hist_start, until):
        compiled_against = simulator_source  # noqa: F841 (part of the cache key, see _SIMULATOR_SOURCE)
        epsilon, tau = params[P_EPSILON], params[P_TAU]
        out_ptr = net.out_ptr
        link_dst = net.link_dst
        degree = 1
        for node in range(len(out_ptr) - 1):
            degree = max(degree, out_ptr[node + 1] - out_ptr[node])
        scratch = np.empty(degree)
        counts, clock, pkt_dst, pkt_hops, pkt_arrival = (
            sim.counts,
            sim.clock,
            sim.pkt_dst,
            sim.pkt_hops,
            sim.pkt_arrival,
        )
        while advance(net, sim, traffic_rng, until) == ADVANCE_DECISION:
            packet = counts[C_DEC_PACKET]
            node = counts[C_DEC_NODE]
            dest = pkt_dst[packet]
            slot = behaviour_slot(out_ptr, q, node, dest, improvement, double, tie_first, epsilon, tau, policy_rng,
                                  scratch)  # fmt: skip
            if forward(net, sim, slot) == SENT and learn:
                learn_after_send(out_ptr, q, params, policy_rng, hist_slot, hist_start, packet, dest, pkt_hops[packet] - 1,
                                 slot, link_dst[slot], clock[F_HOP_START], pkt_arrival[packet], hops, improvement,
                                 double, tie_first, greedy_target, sampled)  # fmt: skip

    return loop


def simulate_and_learn(
    net, sim, traffic_rng, policy_rng, q, codes, params, hist_slot, hist_start, until
) -> None:
    """Simulate until ``until``, every router acting on and learning its Q tables ``q[2, N, E]``
    (``codes``: `QRoutingConfig.codes`, ``params``: `QRoutingConfig.params`; in compiled code)."""
    loop = _learning_loop(int(codes[K_EXECUTION]), int(codes[K_IMPROVEMENT]), int(codes[K_EVALUATION]),
                          bool(codes[K_DOUBLE]), int(codes[K_HOPS]), bool(codes[K_TIE_FIRST]), bool(codes[K_LEARN]))  # fmt: skip
    loop(net, sim, traffic_rng, policy_rng, q, params, hist_slot, hist_start, until)


# ---------------------------------------------------------------------- the learner
class QRouter:
    """Every router's Q tables and the policy generator; learns inside the compiled simulator.

    Args:
        network: the routers and links (actions are out-link slots).
        config: a `QRoutingConfig` or a name of `PAPER_COMBINATIONS`.
        rng: the policy stream (exploration, tie-breaks, double learning's coin).

    Attributes:
        q: both tables, ``q[table, d, slot]`` (the second is used with double learning). Shape [2, N, E].
        q1: ``q[0]``. Shape [N, E].
        q2: ``q[1]``. Shape [N, E].
    """

    def __init__(
        self, network: PacketNetwork, config: QRoutingConfig | str, rng: np.random.Generator
    ) -> None:
        self.network = network
        self.config = resolve_config(config)
        self.rng = rng
        self.codes = self.config.codes()
        self.params = self.config.params()
        self.q = np.full((2, network.num_nodes, network.num_links), float(self.config.initial_q))
        self.q1, self.q2 = self.q[0], self.q[1]
        self._hist_slot = np.zeros((0, HISTORY), dtype=np.int64)
        self._hist_start = np.zeros((0, HISTORY))
        self._history: dict[int, list[tuple[int, float]]] = {}
        self._out_ptr = network.out_ptr.tolist()
        self._link_dst = network.link_dst.tolist()

    # ------------------------------------------------------------------ compiled path
    def run(self, sim: PacketSimulator, until: float | None = None, *, learn: bool = True) -> None:
        """Simulate ``sim`` until ``until`` (default: its horizon), routing and (by default) learning."""
        pool = int(sim.options.network_limit)
        if self._hist_slot.shape[0] != pool:
            self._hist_slot = np.zeros((pool, HISTORY), dtype=np.int64)
            self._hist_start = np.zeros((pool, HISTORY))
        if sim.arrays is None:
            raise RlteError("q-routing: reset the simulator first")
        if sim.arrays.counts[C_DEC_PACKET] >= 0:
            raise RlteError("q-routing: the simulator has a decision due (forward it first)")
        codes = self.codes.copy()
        codes[K_LEARN] = int(learn)
        horizon = sim.horizon if until is None else min(float(until), sim.horizon)
        simulate_and_learn(sim.network_state, sim.state, sim.traffic_rng, self.rng, self.q, codes, self.params,
                           self._hist_slot, self._hist_start, horizon)  # fmt: skip

    # ------------------------------------------------------------------ plain-Python path
    def _acting(self, dest: int, slot: int) -> float:
        if self.config.double:
            return 0.5 * (float(self.q1[dest, slot]) + float(self.q2[dest, slot]))
        return float(self.q1[dest, slot])

    def choose(self, node: int, packet: int, destination: int) -> int:
        """The slot the behaviour policy picks (plain Python; the same draws as the compiled path)."""
        lo, hi = self._out_ptr[node], self._out_ptr[node + 1]
        values = [self._acting(destination, k) for k in range(lo, hi)]
        config = self.config
        if config.improvement == "softmax":
            smallest = min(values)
            weights = [math.exp(-(value - smallest) / config.temperature) for value in values]
            total = 0.0
            for weight in weights:
                total += weight
            x = self.rng.random() * total
            running = 0.0
            for i, weight in enumerate(weights):
                running += weight
                if x < running:
                    return lo + i
            return hi - 1
        best = min(values)
        ties = [lo + i for i, value in enumerate(values) if value == best]
        greedy = ties[0]
        if len(ties) > 1 and config.tie_break == "random":
            greedy = ties[min(int(self.rng.random() * len(ties)), len(ties) - 1)]
        degree = hi - lo
        if config.improvement == "egreedy" and degree > 1 and self.rng.random() < config.epsilon:
            slot = lo + min(int(self.rng.random() * (degree - 1)), degree - 2)
            return slot + 1 if slot >= greedy else slot
        return greedy

    def act(self, node: int, destination: int) -> int:
        """The action index (out-link number of ``node``) the behaviour policy picks."""
        return self.choose(node, -1, destination) - self._out_ptr[node]

    def _target_value(self, table_a: np.ndarray, table_b: np.ndarray, node: int, dest: int) -> float:
        config = self.config
        lo, hi = self._out_ptr[node], self._out_ptr[node + 1]
        a = [float(table_a[dest, k]) for k in range(lo, hi)]
        b = [float(table_b[dest, k]) for k in range(lo, hi)]
        greedy_target = config.execution == "off" or config.improvement == "greedy"
        if greedy_target or config.improvement == "egreedy":
            best = min(a)
            tied = [value == best for value in a]
            count = sum(tied)
            if count > 1 and config.tie_break == "first":
                count = 1
                first = tied.index(True)
                tied = [i == first for i in range(len(a))]
            if greedy_target:
                if not config.double:
                    return best
                if count == 1:
                    return b[tied.index(True)]
                total = 0.0
                for is_tied, value in zip(tied, b):
                    if is_tied:
                        total += value
                return total / count
            degree = hi - lo
            if degree == 1:
                return b[0]
            expected = 0.0
            for is_tied, value in zip(tied, b):
                share = 1.0 / count if is_tied else 0.0
                probability = (1.0 - config.epsilon) * share + config.epsilon * (1.0 - share) / (degree - 1)
                expected += probability * value
            return expected
        smallest = min(a)
        weights = expected = 0.0
        for value_a, value_b in zip(a, b):
            weight = math.exp(-(value_a - smallest) / config.temperature)
            weights += weight
            expected += weight * value_b
        return expected / weights

    def _update(self, dest: int, slot: int, ret: float, boot: int, node: int, action: int) -> None:
        table_a, table_b = self.q1, self.q1
        if self.config.double:
            if self.rng.random() >= 0.5:
                table_a, table_b = self.q2, self.q1
            else:
                table_b = self.q2
        target = ret
        if boot == BOOT_ACTION:
            target += float(table_b[dest, action])
        elif boot == BOOT_TARGET:
            target += self._target_value(table_a, table_b, node, dest)
        old = float(table_a[dest, slot])
        table_a[dest, slot] = old + self.config.learning_rate * (target - old)

    def sent(self, packet: int, node: int, slot: int, destination: int, hop_start: float, arrival: float,
             hops: int) -> None:  # fmt: skip
        """Learn from a hop: ``packet`` left ``node`` on ``slot`` (having reached it at ``hop_start``)
        and reaches the next node at ``arrival``; ``hops`` counts the hops taken, this one included."""
        config = self.config
        n = config.hops
        hop = hops - 1
        if hop == 0:
            self._history[packet] = []
        history = self._history[packet]
        history.append((slot, hop_start))
        if len(history) > n + 1:
            del history[0]
        start_of = {hop - back: entry for back, entry in enumerate(reversed(history))}
        next_node = self._link_dst[slot]
        sampled = (
            config.execution == "on" and config.evaluation != "expected" and config.improvement != "greedy"
        )
        if sampled and hop - n >= 0:
            old_slot, old_start = start_of[hop - n]
            self._update(destination, old_slot, hop_start - old_start, BOOT_ACTION, -1, slot)
        if next_node == destination:
            for j in range(max(hop - n + 1, 0), hop + 1):
                old_slot, old_start = start_of[j]
                self._update(destination, old_slot, arrival - old_start, BOOT_NONE, -1, -1)
            del self._history[packet]
        elif not sampled and hop - n + 1 >= 0:
            old_slot, old_start = start_of[hop - n + 1]
            self._update(destination, old_slot, arrival - old_start, BOOT_TARGET, next_node, -1)

    # ------------------------------------------------------------------ reading the tables
    def values(self) -> np.ndarray:
        """The values the routers act on (the mean of the two tables with double learning). Shape [N, E]."""
        return 0.5 * (self.q1 + self.q2) if self.config.double else self.q1.copy()

    def greedy_next_hops(self) -> np.ndarray:
        """Each router's greedy next hop toward each destination (the first of exact ties; -1 on
        the diagonal). Shape [N(destination), N(router)]."""
        values = self.values()
        n = self.network.num_nodes
        hops = np.full((n, n), -1, dtype=np.int64)
        for v in range(n):
            lo, hi = self._out_ptr[v], self._out_ptr[v + 1]
            best = lo + values[:, lo:hi].argmin(axis=1)
            hops[:, v] = self.network.link_dst[best]
            hops[v, v] = -1
        return hops

    def get_state(self) -> dict:
        """Tables, per-packet histories and the policy generator's state (arrays, plain values)."""
        return {
            "q": self.q.copy(), "hist_slot": self._hist_slot.copy(),
            "hist_start": self._hist_start.copy(), "rng": self.rng.bit_generator.state,
            "history": {int(k): [(int(s), float(t)) for s, t in v] for k, v in self._history.items()},
        }  # fmt: skip

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned."""
        self.q[...] = state["q"]
        self._hist_slot = np.array(state["hist_slot"], dtype=np.int64)
        self._hist_start = np.array(state["hist_start"], dtype=np.float64)
        self._history = {int(k): [(int(s), float(t)) for s, t in v] for k, v in state["history"].items()}
        self.rng.bit_generator.state = state["rng"]


# ---------------------------------------------------------------------- experiments
class RoutingRun(NamedTuple):
    """One method on one network under one load schedule for one seed."""

    method: str
    seed: int
    windows: WindowSeries
    """Per-window sums (the delay-over-time curve is ``windows.mean_delay``)."""
    step_start: np.ndarray
    """Start of each load step. Shape [S]."""
    step_rate: np.ndarray
    """Load of each step. Shape [S]."""
    step_mean_delay: np.ndarray
    """Mean delivery time of the packets delivered during each step. Shape [S]."""
    counts: PacketCounts
    convergence_time: float
    """See `convergence_time` (single-step schedules only; nan otherwise)."""
    runtime_s: float


def _smoothed_delay(
    windows: WindowSeries, smoothing: int, tail: float
) -> tuple[np.ndarray, float, float] | None:
    """The mean delivery time over each run of ``smoothing`` windows, the mean over the run's last
    ``tail`` fraction and the window width; None with fewer windows or nothing delivered."""
    delay, delivered = windows.delay_sum, windows.delivered.astype(np.float64)
    count = len(delay)
    if count < smoothing or delivered.sum() == 0:
        return None
    tail_from = int(count * (1.0 - tail))
    final = delay[tail_from:].sum() / max(delivered[tail_from:].sum(), 1.0)
    kernel = np.ones(smoothing)
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = np.convolve(delay, kernel, "valid") / np.convolve(delivered, kernel, "valid")
    width = windows.start[1] - windows.start[0] if count > 1 else 0.0
    return smoothed, float(final), float(width)


def convergence_time(windows: WindowSeries, *, smoothing: int = 10, tolerance: float = 0.1,
                     tail: float = 0.25) -> float:  # fmt: skip
    """When the delivery time settles: the end of the first window from which on the mean delivery
    time over the last ``smoothing`` windows stays within ``tolerance`` (relative) of the mean over
    the run's last ``tail`` fraction; nan if it never does.

    With seed 004's windows of 100 time units, ``smoothing=10`` judges 1,000-unit averages.
    """
    found = _smoothed_delay(windows, smoothing, tail)
    if found is None:
        return math.nan
    smoothed, final, width = found
    outside = ~(np.abs(smoothed - final) <= tolerance * final)
    if not outside.any():
        index = 0
    elif outside[-1]:
        return math.nan
    else:
        index = int(np.flatnonzero(outside)[-1]) + 1
    return float(windows.start[index + smoothing - 1] + width)


def reach_time(
    windows: WindowSeries, *, smoothing: int = 10, tolerance: float = 0.1, tail: float = 0.25
) -> float:
    """When the delivery time first comes down to its final level: the end of the first window,
    after the peak of the mean delivery time over ``smoothing`` windows, where that mean is at most
    ``1 + tolerance`` times the mean over the run's last ``tail`` fraction; nan if it never is.

    Unlike `convergence_time` (which must hold until the end, so one late congestion burst moves it
    there), this is the first passage: the time the learners take to recover from the initial
    congestion, what a delay-over-time figure shows.
    """
    found = _smoothed_delay(windows, smoothing, tail)
    if found is None:
        return math.nan
    smoothed, final, width = found
    peak = int(np.nanargmax(smoothed)) if np.isfinite(smoothed).any() else 0
    reached = np.flatnonzero(smoothed[peak:] <= (1.0 + tolerance) * final)
    if len(reached) == 0:
        return math.nan
    return float(windows.start[peak + int(reached[0]) + smoothing - 1] + width)


def step_means(windows: WindowSeries, schedule: LoadSchedule) -> np.ndarray:
    """Mean delivery time over the windows that start inside each load step (exact when the window
    length divides the step lengths). Shape [S]."""
    which = np.searchsorted(schedule.start, windows.start, side="right") - 1
    sums = np.bincount(which, windows.delay_sum, minlength=schedule.num_steps)
    counts = np.bincount(which, windows.delivered, minlength=schedule.num_steps)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def run_experiment(
    method: str | QRoutingConfig,
    network: PacketNetwork | Topology,
    schedule: LoadSchedule,
    seed: int,
    *,
    options: PacketSimOptions | None = None,
) -> RoutingRun:
    """Route packets with one method from an empty network, learning as they go.

    Args:
        method: a name of `PAPER_COMBINATIONS`, ``shortest_path`` (random tie-break),
            ``shortest_path_fixed``, or a `QRoutingConfig`.
        network: a packet network, or a topology (Boyan and Littman's unit timing).
        schedule: the load over time (e.g. `rlte.sim.packet.seed004_low_to_high`).
        seed: seeds the traffic and the policy streams (`rlte.sim.packet.seed_streams`).
        options: simulator options (default: Boyan and Littman's limits, 100-unit windows).

    Returns:
        The delay-over-time series, means per load step and, for one fixed load, the convergence time.

    Raises:
        RlteError: an unknown method or bad options.
    """
    if isinstance(network, Topology):
        network = PacketNetwork.from_topology(network)
    sim = PacketSimulator(network, schedule, options)
    traffic_rng, policy_rng = seed_streams(seed)
    sim.reset(traffic_rng)
    began = time.perf_counter()
    if isinstance(method, str) and method in BASELINES:
        sim.run(shortest_path_policy(network, "random" if method == "shortest_path" else "fixed"), policy_rng)
        name = method
    else:
        if isinstance(method, str) and method not in PAPER_COMBINATIONS:
            known = list(BASELINES) + list(PAPER_COMBINATIONS)
            close = difflib.get_close_matches(method, known, n=2)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise RlteError(f"routing method {method!r}: unknown{hint}; known: {', '.join(known)}")
        router = QRouter(network, method, policy_rng)
        router.run(sim)
        name = method if isinstance(method, str) else "q_routing"
    runtime = time.perf_counter() - began
    windows = sim.windows()
    converged = convergence_time(windows) if schedule.num_steps == 1 else math.nan
    return RoutingRun(name, int(seed), windows, schedule.start.copy(), schedule.rate.copy(),
                      step_means(windows, schedule), sim.counts(), converged, runtime)  # fmt: skip


__all__ = [
    "BASELINES",
    "PAPER_COMBINATIONS",
    "TABLE_I",
    "QRouter",
    "QRoutingConfig",
    "RoutingRun",
    "behaviour_slot",
    "combination",
    "convergence_time",
    "learn_after_send",
    "resolve_config",
    "run_experiment",
    "simulate_and_learn",
    "step_means",
]
