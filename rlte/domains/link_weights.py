"""The link-weight domain (seed 002): flow-level traffic engineering by link weights on static flow
sets. Agents on the directed links set weights; every flow of a MAROH flow set (``flows40.json``,
``flows60.json``, each flow with its id) follows one path, chosen at each node by the authors'
weighted hash over the eligible next hops (`rlte.sim.hash_routing`), and the objective is Phi, the
population variance of load / capacity over the links.

Grid axes: ``topologies`` (``maroh/rhombus``, ``maroh/abilene``, ``maroh/symm16``,
``maroh/geant2009`` or any topology name), ``traffic`` (``maroh``: the flow set shipped beside the
topology for the load, ``flows40.json`` at load 0.4; or a flow set named outright,
``maroh/abilene/flows60`` or a JSON file, with ``loads: [null]``), ``loads`` (0.4, 0.6: which
shipped flow set), ``scenarios`` (`LinkWeightsScenario` overrides).

Protocol: a learned method trains for its ``episodes`` (a method's params; else the spec's
``training.timesteps``, which in this domain counts *episodes*) on ``rlte/MAROH-MA-v0``, every
episode starting from weights 1 on the same flows; then one deterministic episode is evaluated
and its Phi after the last horizon is the cell's ``phi``. The per-episode Phi of training (the
paper's learning curves, in blocks of ``curve_block`` episodes) is the cell's series, and the
paper's statistics of it are scalars: ``phi_min2000``, the least mean over ``statistics_window``
consecutive episodes (how the paper states Phi), and ``phi_last2000``, the mean of the last
``statistics_window`` (how the authors' processing script computes it). ``messages`` is the
hidden-state messages per training episode and ``exchange_share`` the fraction of the
single-layer method's exchange rounds that took place (the paper's "number of exchanges").

Baselines: ``ecmp`` (uniform weights under the same hash: ECMP over the DAG), ``genetic`` (the
authors' genetic algorithm, `rlte.baselines.genetic`, seeded by the cell's seed), ``lp_routing``
(the Phi of the LP's MLU-optimal splittable routing: an oracle) and ``phi_bound`` (the reference:
the least Phi of any splittable routing over the same eligible next hops, by QP,
`rlte.baselines.phi.router_phi_bound`: over the stretch DAG's next hops, or with ``dag: authors``
over the routes the authors' path calculator allows; no unsplittable routing on them, hence no
weights, beats it).

The scenario's ``dag`` chooses the eligible next hops of every method alike (ECMP, the genetic
algorithm, the learned methods and the bound): ``stretch`` (rlte's stretch DAG, the default) or
``authors`` (the authors' path calculator, `rlte.net.maroh_dag`, with which rlte's hash routing
gives the Phi of their code; on Abilene at 40 % it allows 73 routes where the stretch DAG allows
67, and its bound is 0.0164 where the stretch DAG's is 0.0194).
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

#: The baselines, in table order.
BASELINES = ("ecmp", "genetic", "lp_routing", "phi_bound")
#: The traffic axis value for the flow sets shipped beside the topology, one per load.
SHIPPED = "maroh"
ENV_ID = "rlte/MAROH-MA-v0"


@dataclass(frozen=True)
class LinkWeightsScenario(Options):
    """Options of a link-weight scenario (a spec's ``scenario:`` and ``scenarios:`` keys)."""

    WHAT: ClassVar[str] = "scenario option"

    routing: Literal["hash", "split"] = "hash"
    """The authors' per-flow weighted hash, or proportional splitting."""
    dag: Literal["stretch", "authors"] = "stretch"
    """Eligible next hops: rlte's stretch DAG (`rlte.net.paths.stretch_dag`) or the authors' path
    calculator (`rlte.net.maroh_dag`; hash routing only)."""
    stretch: float = option(1.5, ge=1.0)
    """Eligible routes are at most this many times the shortest hop count."""
    hash_seed: int | None = None
    """The hash's seed (the authors': none)."""
    genetic_generations: int = option(100, ge=0)
    """Generations of the genetic benchmark (the authors': 100)."""
    genetic_population: int = option(100, ge=1)
    """Its population (the authors': 100)."""
    statistics_window: int = option(2000, ge=1)
    """Episodes of the paper's moving averages (``phi_min2000``, ``phi_last2000``)."""
    curve_block: int = option(100, ge=1)
    """Episodes per point of the Phi curve (the paper's figures: 100)."""
    topology: str = "maroh/rhombus"
    """The network (set by the grid's topologies)."""
    flows: str = "flows40"
    """The flow set (set by the grid's traffic and loads)."""
    data_dir: str | None = None
    """The data directory (set by the run)."""


def flow_set(traffic: str, load, where: str = "traffic") -> str:
    """The flow set a grid's (traffic, load) names: ``maroh`` at 0.4 is ``flows40``.

    Raises:
        RlteError: ``maroh`` without a load, or a named flow set with one.
    """
    if traffic == SHIPPED:
        if load is None or isinstance(load, bool) or not isinstance(load, int | float) or not 0 < load < 10:
            raise RlteError(
                f"{where}: {SHIPPED!r} needs loads such as 0.4 or 0.6 (the shipped flowsNN.json), not {load!r}"
            )
        return f"flows{round(100 * float(load))}"
    if load is not None:
        raise RlteError(f"{where}: the flow set {traffic!r} is named outright: give loads [null]")
    return traffic


class LinkWeights(Domain):
    """Link weights on static flow sets (see the module docstring)."""

    name = "link_weights"
    description = "flow-level TE by link weights on static flow sets, per-flow weighted hash, Phi (seed 002)"
    metrics = (
        Metric("phi", "Phi (x1000)", "", 1000.0),
        Metric("mlu", "MLU", "%", 100.0),
        Metric("messages", "messages per episode"),
        Metric("exchange_share", "exchanges", "%", 100.0),
    )
    scalar_metrics = (
        Metric("phi_min2000", "Phi, least window mean (x1000)", "", 1000.0),
        Metric("phi_last2000", "Phi, last window (x1000)", "", 1000.0),
        Metric("messages_eval", "messages in the evaluated episode"),
        Metric("episodes_per_s", "training episodes per second", lower_is_better=False),
    )
    primary = "phi"
    table_metrics = ("phi", "phi_min2000", "phi_last2000", "exchange_share", "messages")
    load_figure_metrics = ("phi",)
    time_metrics = ("phi",)
    time_figures = True
    timesteps_unit = "training episodes"
    time_axis = "training episode"
    reference = "phi_bound"
    baselines, oracles = BASELINES, ("lp_routing", "phi_bound")
    rivals = ("ecmp", "genetic")
    env_ids = (ENV_ID,)
    reserved_env_keys = (
        "topology",
        "flows",
        "data_dir",
        "horizons",
        "routing",
        "dag",
        "stretch",
        "hash_seed",
    )
    axes = {
        "topologies": "topology names (maroh/rhombus, maroh/abilene, maroh/symm16, maroh/geant2009, ...)",
        "traffic": "maroh (the flowsNN.json beside the topology for each load) or a flow set (maroh/<net>/flowsNN, a file)",
        "loads": "0.4, 0.6 with traffic maroh (which shipped flow set); null for a flow set named outright",
    }
    report_note = (
        "Phi is shown x1000. In this domain training.timesteps counts training episodes (a method's episodes "
        "parameter overrides it); phi is the deterministic evaluation episode's Phi after its last horizon, "
        "phi_min2000 (least window mean) the least mean of Phi over statistics_window consecutive training "
        "episodes (the paper's; the window is 2,000 episodes unless the spec's scenario says otherwise), "
        "phi_last2000 (last window) the mean of the last statistics_window; exchanges are the share of the single-layer "
        "method's exchange rounds that took place (the paper's 'number of exchanges'), messages the hidden "
        "states sent per training episode. The time figures are the per-episode Phi of training in blocks of "
        "curve_block episodes, the baselines as flat lines."
    )

    # ------------------------------------------------------------------ the grid
    def scenario_options(self) -> type:
        return LinkWeightsScenario

    def axis_fields(self) -> tuple[str, ...]:
        return ("topology", "flows", "data_dir")

    def check_scenario(self, options: dict, where: str) -> None:
        """Refuse the split rule over the authors' next hops (they depend on the previous node)."""
        scenario = LinkWeightsScenario.parse(options, where)
        if scenario.routing == "split" and scenario.dag == "authors":
            raise RlteError(
                f"{where}: routing 'split' needs dag 'stretch' "
                "(the authors' next hops depend on the previous node)"
            )

    def check_axes(self, spec, data_dir: str | None) -> None:
        """Every (topology, traffic, load) names a flow set that parses over the topology's nodes."""
        from rlte.envs.maroh import load_flow_set
        from rlte.net.topology import load_topology

        for topology_name in spec.topologies:
            topology = load_topology(topology_name, data_dir=data_dir)
            for traffic in spec.traffic:
                for load in spec.loads:
                    flows = flow_set(traffic, load, f"{spec.source}: traffic {traffic!r}")
                    load_flow_set(topology_name, flows, data_dir, topology)

    def scenario(self, context: CellContext) -> LinkWeightsScenario:
        """The cell's scenario options, with its axes."""
        cell = context.cell
        options = self.scenario_values(context)
        options.update(topology=cell["topology"], flows=flow_set(cell["traffic"], cell["load"]),
                       data_dir=context.data_dir)  # fmt: skip
        return LinkWeightsScenario.parse(options, f"cell {cell['cell_id']}")

    def _problem(self, scenario: LinkWeightsScenario):
        """The topology, the flows and their router."""
        from rlte.envs.maroh import load_flow_set
        from rlte.net.topology import load_topology
        from rlte.sim.hash_routing import FlowRouter

        topology = load_topology(scenario.topology, data_dir=scenario.data_dir)
        flows = load_flow_set(scenario.topology, scenario.flows, scenario.data_dir, topology)
        router = FlowRouter(topology, flows, scenario.routing, dag=scenario.dag, stretch=scenario.stretch,
                            hash_seed=scenario.hash_seed)  # fmt: skip
        return topology, flows, router

    def _curve(self, context: CellContext, scenario: LinkWeightsScenario) -> np.ndarray:
        """The episode numbers of the Phi curve's points: blocks of ``curve_block`` up to the most
        episodes any learned method of the spec trains."""
        from rlte.domains import get_method

        most = 0
        for entry in context.spec.get("methods") or []:
            method = get_method(entry["name"])
            if method is not None and method.domain == self.name:
                most = max(most, self.episodes(method, dict(entry.get("params") or {}), context))
        return _curve_points(max(most, 1), scenario.curve_block)

    # ------------------------------------------------------------------ baselines
    def is_classical(self, name: str) -> bool:
        return name == "ecmp"

    def evaluate_baseline(self, name: str, context: CellContext) -> Evaluation:
        from rlte.baselines.genetic import GeneticConfig, genetic_weights
        from rlte.baselines.lp import solve_min_mlu
        from rlte.baselines.phi import router_phi_bound

        scenario = self.scenario(context)
        topology, flows, router = self._problem(scenario)
        start = time.perf_counter()
        if name == "ecmp":
            utilisation = router.utilisation(np.ones(topology.num_links))
        elif name == "genetic":
            config = GeneticConfig(
                population=scenario.genetic_population, generations=scenario.genetic_generations
            )
            found = genetic_weights(
                topology, router.phi, config, rng=np.random.default_rng(int(context.cell["seed"]))
            )
            utilisation = router.utilisation(found.weights)
            context.log(f"genetic: Phi {found.phi:.6g} after {found.evaluations} evaluations")
        elif name == "lp_routing":
            utilisation = solve_min_mlu(topology, flows.matrix()).link_load / topology.capacity
        else:
            bound = router_phi_bound(router, flows.matrix())
            utilisation = bound.utilisation
            context.log(
                f"phi_bound: {bound.phi:.6g} over {bound.label} (certified lower bound {bound.lower:.6g})"
            )
        elapsed = time.perf_counter() - start
        phi, mlu = float(np.var(utilisation)), float(np.max(utilisation))
        grid = self._curve(context, scenario)
        flat = np.ones(len(grid))
        series = {"time": grid.astype(np.float64), "phi": phi * flat, "mlu": mlu * flat,
                  "messages": np.full(len(grid), np.nan), "exchange_share": np.full(len(grid), np.nan)}  # fmt: skip
        return Evaluation(series, elapsed, None, summary={"phi": phi, "mlu": mlu},
                          scalars={"phi_min2000": phi, "phi_last2000": phi}, decisions=1)  # fmt: skip

    # ------------------------------------------------------------------ learned methods
    def episodes(self, method: MethodInfo, params: dict, context: CellContext) -> int:
        """A learned method's training episodes: its ``episodes`` parameter, else the spec's
        ``training.timesteps``."""
        config = method.check_params(params, method.name)
        return int(config.episodes or context.spec["training"]["timesteps"])

    def horizons(self, config, topology: str) -> int:
        """A learned method's horizons per episode: its ``horizons``, else the authors' for the
        network (MAROH: five times SAMAROH's)."""
        from rlte.agents.maroh import MAROH_HORIZON_FACTOR, authors_settings

        if config.horizons is not None:
            return int(config.horizons)
        factor = MAROH_HORIZON_FACTOR if config.mode == "sequential" else 1
        return authors_settings(topology).horizons * factor

    def env_options(
        self, method: MethodInfo, context: CellContext, part: str, horizons: int | None = None
    ) -> dict:
        """The environment's options: the spec's ``env:`` keys, the scenario's routing, the axes."""
        from rlte.envs import options_class

        known = options_class(ENV_ID).keys()
        options = {key: value for key, value in (context.spec.get("env") or {}).items() if key in known}
        scenario = self.scenario(context)
        options.update(topology=scenario.topology, flows=scenario.flows, data_dir=scenario.data_dir,
                       routing=scenario.routing, dag=scenario.dag, stretch=scenario.stretch,
                       hash_seed=scenario.hash_seed)  # fmt: skip
        if horizons is not None:
            options["horizons"] = int(horizons)
        return options

    def evaluate_learned(self, method: MethodInfo, context: CellContext) -> Evaluation:
        """Train for the method's episodes (resuming from the cell's checkpoint), then evaluate one
        deterministic episode; the training's per-episode Phi is the series."""
        from rlte.envs import make

        cell = context.cell
        scenario = self.scenario(context)
        params = dict(cell["params"])
        config = method.check_params(params, f"cell {cell['cell_id']} ({method.name})")
        horizons = self.horizons(config, scenario.topology)
        episodes = self.episodes(method, params, context)
        options = self.env_options(method, context, "train", horizons)
        agent = method.make(params, seed=int(cell["seed"]))
        context.log(
            f"training {episodes} episodes of {horizons} horizons on {scenario.topology} / {scenario.flows}"
        )
        started = time.perf_counter()
        agent.train(lambda: make(ENV_ID, **options), episodes * horizons,
                    checkpoint_path=context.folder / "checkpoint.pt",
                    checkpoint_every=int(context.spec["training"]["checkpoint_every"]),
                    learning_log=context.folder / "learning.csv")  # fmt: skip
        train_s = time.perf_counter() - started
        phi_curve = np.asarray(agent.episode_phi)
        _write_episodes(context.folder / "episodes.csv", agent)

        env = make(ENV_ID, **options)
        observations, _ = env.reset(seed=int(cell["seed"]))
        decide, messages, info = 0.0, 0, {}
        while True:
            start = time.perf_counter()
            action = agent.act(observations)
            decide += time.perf_counter() - start
            messages += agent.last_messages
            observations, _, _, truncations, infos = env.step(action)
            info = next(iter(infos.values()))
            if all(truncations.values()):
                break
        grid = _curve_points(len(phi_curve), scenario.curve_block)
        series = {
            "time": grid.astype(np.float64),
            "phi": _block_means(phi_curve, grid),
            "mlu": _block_means(np.asarray(agent.episode_mlu), grid),
            "messages": _block_means(np.asarray(agent.episode_messages, dtype=np.float64), grid),
            "exchange_share": _block_means(np.asarray(agent.episode_exchange_share), grid),
        }
        window = min(scenario.statistics_window, len(phi_curve))
        summary = {"phi": float(info["phi"]), "mlu": float(info["mlu"]),
                   "messages": float(np.mean(agent.episode_messages)),
                   "exchange_share": float(np.mean(agent.episode_exchange_share))}  # fmt: skip
        scalars = {
            "phi_min2000": float(moving_average(phi_curve, window).min()),
            "phi_last2000": float(phi_curve[-window:].mean()),
            "messages_eval": float(messages),
            "episodes_per_s": len(phi_curve) / agent.train_seconds if agent.train_seconds > 0 else math.nan,
        }
        context.log(f"trained {len(phi_curve)} episodes ({agent.train_seconds:.1f} s in this process); "
                    f"evaluated Phi {info['phi']:.6g}, {messages} messages")  # fmt: skip
        return Evaluation(series, decide, train_s, summary=summary, scalars=scalars, decisions=horizons)

    # ------------------------------------------------------------------ reports
    def load_heading(self, load: float | None) -> str:
        if load is None or (isinstance(load, float) and math.isnan(load)):
            return "Named flow set"
        return f"Load {100 * load:g} %"

    def load_phrase(self, load: float | None, band: str | None = None) -> str:
        return "on the named flow set" if load is None else f"at {100 * load:g} % load"


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Means of every ``window`` consecutive values. Shapes [N] -> [N - window + 1]."""
    values = np.asarray(values, dtype=np.float64)
    window = max(1, min(int(window), len(values)))
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    return (cumulative[window:] - cumulative[:-window]) / window


def _curve_points(episodes: int, block: int) -> np.ndarray:
    """The last episode of each block of ``block`` episodes (the last block may be shorter)."""
    ends = np.arange(block, episodes + 1, block)
    if not len(ends) or ends[-1] != episodes:
        ends = np.append(ends, episodes)
    return ends.astype(np.int64)


def _block_means(values: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Means of ``values`` over the blocks ending at ``ends`` (NaN past the values' end)."""
    starts = np.concatenate([[0], ends[:-1]])
    out = np.full(len(ends), np.nan)
    for i, (begin, end) in enumerate(zip(starts, ends)):
        if end <= len(values) and end > begin:
            out[i] = float(np.mean(values[begin:end]))
    return out


def _write_episodes(path, agent) -> None:
    """Every training episode's Phi, MLU, messages and exchange share (``episodes.csv``)."""
    from rlte.fileio import atomic_write_text

    lines = ["episode,phi,mlu,messages,exchange_share"]
    for i, row in enumerate(zip(agent.episode_phi, agent.episode_mlu, agent.episode_messages,
                                agent.episode_exchange_share)):  # fmt: skip
        lines.append(f"{i + 1},{row[0]!r},{row[1]!r},{row[2]},{row[3]!r}")
    atomic_write_text(path, "\n".join(lines) + "\n")


LINK_WEIGHTS = register_domain(LinkWeights())

_AGENT, _CONFIG = "rlte.agents.maroh:MarohAgent", "rlte.agents.maroh:MarohConfig"
for _method in (
    MethodInfo("maroh", "link_weights", ENV_ID, _AGENT, _CONFIG,
               "seed 002: MAROH, one (link, action) per horizon by a softmax over every link's readout",
               fixed={"mode": "sequential", "memory": False}),
    MethodInfo("samaroh", "link_weights", ENV_ID, _AGENT, _CONFIG,
               "seed 002: SAMAROH, every link agent acts each horizon", fixed={"mode": "simultaneous", "memory": False}),
    MethodInfo("maroh_2l", "link_weights", ENV_ID, _AGENT, _CONFIG,
               "seed 002: MAROH-2L, MAROH with the two-layer control plane (memory of representatives)",
               fixed={"mode": "sequential", "memory": True}),
    MethodInfo("samaroh_2l", "link_weights", ENV_ID, _AGENT, _CONFIG,
               "seed 002: SAMAROH-2L, SAMAROH with the two-layer control plane (memory of representatives)",
               fixed={"mode": "simultaneous", "memory": True}),
):  # fmt: skip
    register_method(_method)
