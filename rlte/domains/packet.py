"""The packet-routing domain (seed 004, the Q-routing literature): routers choose next hops packet by
packet in a discrete-event simulator (`rlte.sim.packet`, Boyan and Littman's timing), and the
learners learn online, inside the simulation, while they route.

Grid axes: ``topologies`` (`rlte.net.topology.load_topology` names; Boyan and Littman's
``grid6x6`` by default), ``traffic`` (the load schedule: ``fixed``, at the ``loads`` axis's rate for
the scenario's ``duration``; ``seed004_low_to_high`` (0.5 .. 4.5 by 0.5 every 10,000 time units);
``seed004_high`` (3.5 .. 4.4 by 0.1); or ``steps:FIRST:LAST:STEP:EVERY``), ``loads`` (packets
injected per time unit for ``fixed``; null for the stepped schedules), ``scenarios``
(`PacketScenario` overrides: delivery-time convention, limits, windows, warm-up).

Protocol: every method routes the same packets (the traffic stream of `rlte.sim.packet.seed_streams`
for the cell's seed) from an empty network over the whole schedule; a learner starts from its
initial table and learns as it routes (there are no separate training and test episodes). The
series of a cell is one row per time window (``window`` time units): the mean delivery time of the
packets delivered in it, throughput and loss. A cell reports each metric over the whole run (after
``warmup``), the mean delivery time of each load step of a stepped schedule (rows at that step's
load), and, for a fixed load, the convergence time (`rlte.agents.qrouting.convergence_time`).

Reference: ``zero_load_bound``, the mean over uniform source-destination pairs of the shortest
path's delivery time (the hop count under Boyan and Littman's convention, one less under seed
004's ``handoff``): no routing delivers faster at any load, since every hop takes at least its
time unit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from rlte.domains import CellContext, Domain, Evaluation, MethodInfo, Metric, register_domain, register_method
from rlte.errors import RlteError
from rlte.options import Options, option

#: Named load schedules (the ``traffic`` axis); ``steps:FIRST:LAST:STEP:EVERY`` is also accepted.
SCHEDULES = ("fixed", "seed004_low_to_high", "seed004_high")
#: The baselines: shortest-path routing with a random tie-break at each hop (the paper's) and with
#: one fixed next hop, and the bound no routing beats.
BASELINES = ("shortest_path", "shortest_path_fixed", "zero_load_bound")


@dataclass(frozen=True)
class PacketScenario(Options):
    """Options of a packet-routing scenario (a spec's ``scenario:`` and ``scenarios:`` keys)."""

    WHAT: ClassVar[str] = "scenario option"

    delivery: Literal["boyan_littman", "handoff"] = "boyan_littman"
    """Delivery-time convention: arrival at the destination minus injection (Boyan and Littman,
    the hop count at zero load), or up to the last router's hand-off (seed 004's: one time unit
    less for every packet under unit timing; the dynamics are the same)."""
    timing: Literal["unit", "topology"] = "unit"
    """``unit`` (one time unit per handling and per hop) or ``topology`` (service and transmission
    from capacities and ``packet_bytes``, propagation from delays)."""
    packet_bytes: float = option(1500.0, gt=0.0)
    """Packet size for ``timing="topology"``."""
    queue_limit: int = option(1000, ge=1)
    """Packets a router holds."""
    network_limit: int = option(1000, ge=1)
    """Packets in the network at once (an injection beyond it is refused)."""
    duration: float = option(10_000.0, gt=0.0)
    """Time units a ``fixed`` schedule lasts."""
    window: float = option(100.0, gt=0.0)
    """Time units per evaluated window (the delay-over-time curve's resolution)."""
    warmup: float = option(0.0, ge=0.0)
    """Time units at the start excluded from the whole-run metrics (the per-step means and the
    curve keep them)."""
    traffic_seed: int = 0
    """Seed of the traffic and policy streams (set by the grid's seeds)."""
    topology: str = "grid6x6"
    """The network (set by the grid's topologies)."""
    schedule: str = "fixed"
    """The load schedule (set by the grid's traffic axis)."""
    load: float | None = option(None, ge=0.0)
    """Packets per time unit of a ``fixed`` schedule (set by the grid's loads)."""

    def check(self, where: str) -> None:
        schedule(self.schedule, self.load, self.duration, where)


def schedule(name: str, load: float | None, duration: float, where: str = "schedule"):
    """The `rlte.sim.packet.LoadSchedule` a schedule name stands for.

    Raises:
        RlteError: an unknown name, a ``fixed`` schedule without a load, a stepped one with one.
    """
    from rlte.sim.packet import LoadSchedule, seed004_high, seed004_low_to_high

    if name not in SCHEDULES and not name.startswith("steps:"):
        import difflib

        close = difflib.get_close_matches(str(name), list(SCHEDULES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RlteError(
            f"{where}: unknown schedule {name!r}{hint}; schedules: {', '.join(SCHEDULES)}, steps:FIRST:LAST:STEP:EVERY"
        )
    if name == "fixed":
        if load is None:
            raise RlteError(f"{where}: the fixed schedule needs a load (packets per time unit)")
        if not math.isfinite(load):
            raise RlteError(f"{where}: load {load!r}: must be a finite number of packets per time unit")
        return _named(where, name, lambda: LoadSchedule.fixed(float(load), float(duration)))
    if load is not None:
        raise RlteError(f"{where}: schedule {name!r} sets its own loads: give loads [null]")
    if name == "seed004_low_to_high":
        return seed004_low_to_high()
    if name == "seed004_high":
        return seed004_high()
    parts = name.split(":")[1:]
    try:
        first, last, step, every = (float(part) for part in parts)
    except ValueError:
        raise RlteError(f"{where}: schedule {name!r}: want steps:FIRST:LAST:STEP:EVERY (numbers)") from None
    return _named(where, name, lambda: LoadSchedule.steps(first, last, step, every))


def _named(where: str, name: str, make):
    """``make()``, its errors naming ``where`` and the schedule."""
    try:
        return make()
    except RlteError as err:
        raise RlteError(f"{where}: schedule {name!r}: {err}") from None


class PacketRouting(Domain):
    """Packet routing (see the module docstring)."""

    name = "packet"
    description = "packet routing: next hops chosen packet by packet, learners learning online, delivery time"
    metrics = (
        Metric("e2e_delay", "delivery time"),
        Metric("throughput", "throughput", lower_is_better=False),
        Metric("loss", "loss", "%", 100.0),
        Metric("queued", "packets queued"),
    )
    scalar_metrics = (
        Metric("convergence_time", "convergence time"),
        Metric("reach_time", "time to reach the final level"),
        Metric("e2e_delay_converged", "delivery time after convergence"),
    )
    primary = "e2e_delay"
    table_metrics = (
        "e2e_delay",
        "throughput",
        "loss",
        "convergence_time",
        "reach_time",
        "e2e_delay_converged",
    )
    load_figure_metrics = ("e2e_delay", "loss")
    time_metrics = ("e2e_delay",)
    time_figures = True
    report_note = (
        "Times (delivery, convergence) are in the simulator's time units and throughput in packets per time "
        "unit; delivery times follow the scenario's convention (boyan_littman: arrival minus injection; "
        "handoff, seed 004's: one unit less for every packet under unit timing)."
    )
    reference = "zero_load_bound"
    baselines, oracles = BASELINES, ("zero_load_bound",)
    rivals = ("shortest_path",)
    env_ids = ("rlte/PacketRouting-v0",)
    axes = {
        "topologies": "topology names (grid6x6: Boyan and Littman's irregular 6x6 grid)",
        "traffic": "load schedules: fixed, seed004_low_to_high, seed004_high, steps:FIRST:LAST:STEP:EVERY",
        "loads": "packets injected per time unit (fixed schedule); null for the stepped schedules",
    }

    def scenario_options(self) -> type:
        return PacketScenario

    def axis_fields(self) -> tuple[str, ...]:
        return ("topology", "schedule", "load", "traffic_seed")

    def check_axes(self, spec, data_dir: str | None) -> None:
        from rlte.net.topology import load_topology
        from rlte.sim.packet import PacketNetwork

        timing = spec.scenario.get("timing", PacketScenario.timing)
        for topology in spec.topologies:
            try:  # parsed now, so a malformed file is refused before any cell runs
                PacketNetwork.from_topology(load_topology(topology, data_dir=data_dir), timing)
            except RlteError as err:
                raise RlteError(f"{spec.source}: {err}") from None
        options = {**spec.scenario}
        self.check_loads(spec, "or null")
        for name in spec.traffic:
            for load in spec.loads:
                schedule(
                    name, load, options.get("duration", PacketScenario.duration), f"{spec.source}: traffic"
                )

    def check_scenario(self, options: dict, where: str) -> None:
        PacketScenario.parse(options, where, load=1.0)  # the axes' schedules are checked in check_axes

    def scenario(self, context: CellContext) -> PacketScenario:
        """The cell's scenario options."""
        cell = context.cell
        options = self.scenario_values(context)
        options.update(topology=cell["topology"], schedule=cell["traffic"], load=cell["load"],
                       traffic_seed=int(cell["seed"]))  # fmt: skip
        return PacketScenario.parse(options, f"cell {cell['cell_id']}")

    # ------------------------------------------------------------------ baselines
    def evaluate_baseline(self, name: str, context: CellContext) -> Evaluation:
        scenario = self.scenario(context)
        if name == "zero_load_bound":
            return _zero_load_bound(scenario, context)
        return _run(name, scenario, context)

    # ------------------------------------------------------------------ reports
    def load_heading(self, load: float | None) -> str:
        return "Whole schedule" if load is None else f"Load {load:g} packets per time unit"

    def load_phrase(self, load: float | None, band: str | None = None) -> str:
        return "over the whole schedule" if load is None else f"at load {load:g}"


# ---------------------------------------------------------------------- running a cell
def _network(scenario: PacketScenario, context: CellContext):
    from rlte.net.topology import load_topology
    from rlte.sim.packet import PacketNetwork

    topology = load_topology(scenario.topology, data_dir=context.data_dir)
    return PacketNetwork.from_topology(topology, scenario.timing, packet_bytes=scenario.packet_bytes)


def _sim_options(scenario: PacketScenario):
    from rlte.sim.packet import PacketSimOptions

    return PacketSimOptions(queue_limit=scenario.queue_limit, network_limit=scenario.network_limit,
                            delivery=scenario.delivery, window=scenario.window)  # fmt: skip


def _evaluation(routing_run, scenario: PacketScenario, runtime_s: float) -> Evaluation:
    """Per-window series, whole-run metrics after the warm-up, per-step means and the convergence
    time of one `rlte.agents.qrouting.RoutingRun`."""
    windows = routing_run.windows
    start = np.asarray(windows.start, dtype=np.float64)
    width = scenario.window
    injected = windows.injected.astype(np.float64)
    lost = (windows.refused + windows.dropped).astype(np.float64)
    which = np.searchsorted(routing_run.step_start, start, side="right") - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        series = {
            "time": start,
            "load": routing_run.step_rate[np.clip(which, 0, len(routing_run.step_rate) - 1)],
            "e2e_delay": windows.mean_delay,
            "throughput": windows.delivered / width,
            "loss": np.where(injected > 0, lost / np.maximum(injected, 1.0), 0.0),
            "queued": windows.mean_queued,
        }
    kept = start >= scenario.warmup
    delivered = windows.delivered[kept].sum()
    summary = {
        "e2e_delay": float(windows.delay_sum[kept].sum() / delivered) if delivered else math.nan,
        "throughput": float(delivered / max(kept.sum() * width, width)),
        "loss": float(lost[kept].sum() / max(injected[kept].sum(), 1.0)),
        "queued": float(np.mean(windows.mean_queued[kept])) if kept.any() else math.nan,
    }
    by_load = {}
    if len(routing_run.step_rate) > 1:
        for step, rate in enumerate(routing_run.step_rate):
            inside = which == step
            step_delivered = windows.delivered[inside].sum()
            by_load[float(rate)] = {
                "e2e_delay": float(routing_run.step_mean_delay[step]),
                "throughput": float(step_delivered / max(inside.sum() * width, width)),
                "loss": float(lost[inside].sum() / max(injected[inside].sum(), 1.0)),
            }
    scalars = {}
    if len(routing_run.step_rate) == 1:
        converged = float(routing_run.convergence_time)
        scalars["convergence_time"] = converged
        from rlte.agents.qrouting import reach_time

        scalars["reach_time"] = reach_time(windows)
        after = start >= converged if math.isfinite(converged) else np.zeros_like(kept)
        count = windows.delivered[after].sum()
        scalars["e2e_delay_converged"] = float(windows.delay_sum[after].sum() / count) if count else math.nan
    return Evaluation(series, runtime_s, None, summary=summary, by_load=by_load, scalars=scalars,
                      decisions=int(routing_run.counts.hops))  # fmt: skip


def _run(method, scenario: PacketScenario, context: CellContext) -> Evaluation:
    from rlte.agents.qrouting import run_experiment

    network = _network(scenario, context)
    plan = schedule(scenario.schedule, scenario.load, scenario.duration, f"cell {context.cell['cell_id']}")
    started = time.perf_counter()
    routing_run = run_experiment(method, network, plan, scenario.traffic_seed, options=_sim_options(scenario))
    context.log(f"routed {routing_run.counts.injected} packets ({routing_run.counts.hops} hops) in "
                f"{routing_run.runtime_s:.2f} s: {routing_run.counts.delivered} delivered, "
                f"{routing_run.counts.refused} refused, {routing_run.counts.dropped} dropped")  # fmt: skip
    return _evaluation(routing_run, scenario, time.perf_counter() - started)


def _zero_load_bound(scenario: PacketScenario, context: CellContext) -> Evaluation:
    """The bound as a flat series over the same windows as the methods'."""
    network = _network(scenario, context)
    plan = schedule(scenario.schedule, scenario.load, scenario.duration)
    metric = "hops" if scenario.timing == "unit" else "latency"
    distance = network.distances(metric)
    off_diagonal = ~np.eye(network.num_nodes, dtype=bool)
    bound = float(distance[off_diagonal].mean()) - (1.0 if scenario.delivery == "handoff" else 0.0)
    end = float(plan.step_end()[-1])
    start = np.arange(0.0, end, scenario.window)
    which = np.searchsorted(plan.start, start, side="right") - 1
    load = plan.rate[which]
    series = {"time": start, "load": load, "e2e_delay": np.full(len(start), bound),
              "throughput": load.astype(np.float64), "loss": np.zeros(len(start)), "queued": np.zeros(len(start))}  # fmt: skip
    by_load = {
        float(rate): {"e2e_delay": bound, "throughput": float(rate), "loss": 0.0} for rate in plan.rate
    }
    summary = {"e2e_delay": bound, "throughput": float(np.mean(load[start >= scenario.warmup])) if len(start) else 0.0,
               "loss": 0.0, "queued": 0.0}  # fmt: skip
    return Evaluation(
        series, 0.0, None, summary=summary, by_load=by_load if len(plan.rate) > 1 else {}, decisions=1
    )


def run_online(method: MethodInfo, context: CellContext) -> Evaluation:
    """A Q-routing method's cell: the learner routes (and learns) over the whole schedule."""
    config = method.check_params(context.cell["params"], f"cell {context.cell['cell_id']} ({method.name})")
    evaluation = _run(config, PACKET.scenario(context), context)
    return evaluation._replace(train_s=None)


PACKET = register_domain(PacketRouting())


def _register_methods() -> None:
    from rlte.agents.qrouting import PAPER_COMBINATIONS, combination

    for name, label in PAPER_COMBINATIONS.items():
        config = combination(name)
        modules = {
            key: getattr(config, key) for key in ("execution", "improvement", "evaluation", "double", "hops")
        }
        defaults = {"learning_rate": config.learning_rate} if config.learning_rate != 0.9 else {}
        register_method(MethodInfo(
            name, "packet", "rlte/PacketRouting-v0", None, "rlte.agents.qrouting:QRoutingConfig",
            f"seed 004: {label} (Q-routing family, learning online in the compiled packet loop)",
            fixed=modules, defaults=defaults, runner="rlte.domains.packet:run_online", online=True,
        ))  # fmt: skip


_register_methods()
