"""Scenarios: what an environment runs on. A topology, a traffic series split in time into a training
and a test part, a load level, and the events of an episode (bursts, link failures, a changed
topology at test time).

A `ScenarioConfig` is plain data (it can come from keyword options or a preset name); `build` turns
it into a `Scenario` with numpy arrays, once, and every environment built from the same config
shares nothing mutable with another.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from rlte.baselines import lp
from rlte.baselines.classical import LpCache
from rlte.errors import RlteError
from rlte.net.topology import Topology, load_topology
from rlte.net.traffic import TrafficSeries, diurnal, inject_bursts, load_traffic
from rlte.options import Options, fail, option


@dataclass(frozen=True)
class ScenarioConfig(Options):
    """Everything that defines a scenario. Every field has a default, so the bare config runs
    without a data directory: Abilene (topohub) with a synthetic week around its demands."""

    WHAT: ClassVar[str] = "scenario option"

    topology: str = "sndlib/abilene"
    """Topology spec (`rlte.net.topology.load_topology`)."""
    traffic: str = "diurnal:topohub"
    """Traffic spec (`rlte.net.traffic.load_traffic`), or ``diurnal:BASE`` for a synthetic week of
    5-minute matrices around the mean of BASE (seeded by ``traffic_seed``)."""
    train_fraction: float = option(5 / 7, ge=0.0, lt=1.0)
    """Leading fraction of the series used for training; the rest is the test part."""
    load: float | None = option(0.6, gt=0.0)
    """Load level: one factor makes the mean optimal MLU of the training part equal this. None
    keeps the traffic as loaded."""
    test_load: float | None = option(None, gt=0.0)
    """The test part's load level, if not ``load``'s: after the load factor, the test part is
    multiplied by ``test_load / load`` (a method trained at one load band is evaluated at another).
    Needs ``load``."""
    test_intervals: int | None = option(None, ge=1)
    """If set, only the test part's first this many intervals (the environments' observation window
    among them): for large topologies, where the LP costs minutes per interval. The training part
    and the load factor are unchanged."""
    capacity: float | None = option(None, gt=0.0)
    """If set, every link's capacity in bit/s."""
    bursts: tuple[float, float, int] | None = None
    """Flash crowds injected into the test part: (rate per pair and interval, factor, duration)."""
    failures: tuple[tuple[int, tuple[tuple[str | int, str | int], ...]], ...] = ()
    """Link failures: (episode step, links (u, v) removed in both directions from that step on)."""
    test_topology_change: tuple[tuple[str | int, str | int], ...] = ()
    """Links (u, v) removed from the topology in the test part (a changed topology at test time)."""
    data_dir: str | None = None
    """Data directory for data-dir topologies and traffic."""
    traffic_seed: int = option(0, ge=0)
    """Seed of generated traffic, noise and bursts (the scenario, not the agent)."""
    noise: float = option(0.0, ge=0.0)
    """Multiplicative log-normal noise on every demand of every interval, standard deviation of
    its logarithm (mean factor 1), drawn from ``traffic_seed``: the "seeds of traffic noise" of a
    multi-seed experiment. Applied before the load scaling."""
    validation: float = option(0.0, ge=0.0, lt=1.0)
    """If > 0, hold out this trailing fraction of the training part and use it as the test part;
    the real test part is then never loaded into the scenario. For choosing hyperparameters
    without seeing the test days. The load factor is still set on the whole training part, so a
    validation scenario has the same traffic scale as the real one."""

    def check(self, where: str) -> None:
        if self.bursts is not None:
            rate, factor, duration = self.bursts
            if not 0.0 < rate <= 1.0:
                fail(where, "bursts", self.bursts, "[rate, factor, duration] with a rate in (0, 1]")
            if not factor > 0.0:
                fail(where, "bursts", self.bursts, "[rate, factor, duration] with a factor > 0")
            if not duration >= 1:
                fail(where, "bursts", self.bursts, "[rate, factor, duration] with a duration >= 1 interval")
        if self.test_load is not None and self.load is None:
            fail(where, "test_load", self.test_load, "set together with load (the training part's level)")
        for step, _ in self.failures:
            if step < 0:
                fail(where, "failures", self.failures, "[step, links] pairs with steps >= 0")


#: Named set-ups of the seed papers. Each maps to ScenarioConfig fields.
PRESETS: dict[str, dict] = {
    "abilene-synthetic": {},
    "abilene-week": {"topology": "abilene", "traffic": "abilene", "train_fraction": 5 / 7, "load": 0.6},
    "abilene-week-low": {"topology": "abilene", "traffic": "abilene", "load": 0.2},
    "abilene-week-medium": {"topology": "abilene", "traffic": "abilene", "load": 0.45},
    "abilene-week-high": {"topology": "abilene", "traffic": "abilene", "load": 0.7},
    "abilene-week-ultra": {"topology": "abilene", "traffic": "abilene", "load": 0.875},
    "abilene-week-extreme": {"topology": "abilene", "traffic": "abilene", "load": 0.975},
    "abilene-week-bursts": {
        "topology": "abilene",
        "traffic": "abilene",
        "load": 0.7,
        "bursts": (0.002, 5.0, 3),
    },
    "geant": {"topology": "sndlib/geant", "traffic": "geant", "train_fraction": 0.7, "load": 0.6},
    "nsfnet14": {"topology": "nsfnet14", "traffic": "diurnal:gravity:1e9", "load": 0.6},
    "maroh-rhombus-40": {
        "topology": "maroh/rhombus",
        "traffic": "maroh/rhombus/flows40",
        "load": None,
        "train_fraction": 0.0,
    },
    "maroh-rhombus-60": {
        "topology": "maroh/rhombus",
        "traffic": "maroh/rhombus/flows60",
        "load": None,
        "train_fraction": 0.0,
    },
    "maroh-abilene-40": {
        "topology": "maroh/abilene",
        "traffic": "maroh/abilene/flows40",
        "load": None,
        "train_fraction": 0.0,
    },
    "maroh-abilene-60": {
        "topology": "maroh/abilene",
        "traffic": "maroh/abilene/flows60",
        "load": None,
        "train_fraction": 0.0,
    },
}


def config_from_options(
    preset: str | None = None, *, defaults: dict | None = None, where: str = "scenario", **options
) -> ScenarioConfig:
    """A config from ``defaults`` (an environment's own, if any), then a preset's fields, then
    ``options`` (checked: an unknown key, a wrong type or a value out of range is an `RlteError`)."""
    fields = dict(defaults or {})
    if preset is not None:
        if preset not in PRESETS:
            import difflib

            close = difflib.get_close_matches(str(preset), list(PRESETS), n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise RlteError(f"scenario preset {preset!r}: unknown{hint}; presets: {', '.join(PRESETS)}")
        fields.update(PRESETS[preset])
    return ScenarioConfig.parse(options, where, **fields)


@dataclass(eq=False)
class Scenario:
    """A built scenario.

    Attributes:
        config: what it was built from.
        topology: the training topology.
        test_topology: the topology of the test part (differs with ``test_topology_change``).
        train: training matrices [T1, N, N] (bit/s, scaled to the load level; read-only).
        test: test matrices [T2, N, N] (bursts injected when configured; read-only).
        load_factor: the scaling applied to the loaded traffic.
        interval_s: seconds per interval.
        bursts: the bursts injected into the test part.
        lp: the LP results of its matrices (one cache for environments and baselines).
    """

    config: ScenarioConfig
    topology: Topology
    test_topology: Topology
    train: np.ndarray
    test: np.ndarray
    load_factor: float
    interval_s: float
    bursts: list = field(default_factory=list)
    lp: LpCache = field(default_factory=LpCache, repr=False)
    _topologies: dict = field(default_factory=dict, repr=False)

    def matrices(self, part: str) -> np.ndarray:
        """``"train"`` or ``"test"`` matrices (a static scenario uses its one matrix for both)."""
        if part not in ("train", "test"):
            raise RlteError(f"scenario part {part!r}: must be 'train' or 'test'")
        matrices = self.train if part == "train" else self.test
        return matrices if len(matrices) else (self.test if part == "train" else self.train)

    def topology_for(self, part: str) -> Topology:
        return self.test_topology if part == "test" else self.topology

    # ------------------------------------------------------------------ the failure time line
    def failure_state(self, step: int) -> int:
        """How many of the configured failure events have happened by episode step ``step``."""
        return sum(1 for at, _ in self.config.failures if at <= step)

    def topology_at(self, part: str, step: int) -> Topology:
        """The topology in force at an episode step (after the failures scheduled up to it); one
        object per part and failure state."""
        key = (part, self.failure_state(step))
        if key not in self._topologies:
            failed = [link for at, links in self.config.failures if at <= step for link in links]
            base = self.topology_for(part)
            self._topologies[key] = base.without_links(failed) if failed else base
        return self._topologies[key]

    def segments(self, part: str, steps: int) -> list[tuple[int, int, Topology]]:
        """The stretches of an episode of ``steps`` steps that share one topology, as
        ``(begin, end, topology)``: a new stretch starts at every failure step."""
        begins = sorted({0} | {at for at, _ in self.config.failures if 0 < at < steps})
        ends = [*begins[1:], steps]
        return [(begin, end, self.topology_at(part, begin)) for begin, end in zip(begins, ends)]

    def optimal_mlu(self, part: str, index: int, topology: Topology | None = None) -> float:
        """The LP-optimal MLU of one matrix, cached (each matrix is solved at most once)."""
        return self.lp.optimal_mlu(topology or self.topology_for(part), self.matrices(part)[index])


#: Intervals of a ``diurnal:`` series: a week of 5-minute matrices.
DIURNAL_STEPS = 7 * 288


def series_length(config: ScenarioConfig, topology: Topology) -> int:
    """The number of intervals `load_series` gives, with the source parsed (its base only, for a
    ``diurnal:`` week, which is not generated)."""
    spec = config.traffic
    if spec.startswith("diurnal:"):
        load_traffic(
            spec[len("diurnal:") :], topology, data_dir=config.data_dir, rng=np.random.default_rng(0)
        )
        return DIURNAL_STEPS
    return len(load_series(config, topology))


def load_series(config: ScenarioConfig, topology: Topology) -> TrafficSeries:
    """The traffic a config names, aligned to the topology (a ``diurnal:`` week generated around its base)."""
    spec = config.traffic
    if spec.startswith("diurnal:"):
        base_spec = spec[len("diurnal:") :]
        base = load_traffic(
            base_spec, topology, data_dir=config.data_dir, rng=np.random.default_rng(config.traffic_seed)
        )
        return diurnal(
            base,
            steps=DIURNAL_STEPS,
            interval_s=300.0,
            rng=np.random.default_rng(config.traffic_seed + 1),
            name=f"diurnal({base_spec})",
        )
    return load_traffic(
        spec, topology, data_dir=config.data_dir, rng=np.random.default_rng(config.traffic_seed)
    )


def _split(series: TrafficSeries, train_fraction: float) -> tuple[TrafficSeries | None, TrafficSeries]:
    """(training part or None, test part); a one-matrix series is static: its matrix serves both."""
    if len(series) == 1:
        return None, series
    cut = int(round(train_fraction * len(series)))
    if cut >= len(series):
        raise RlteError(f"train fraction {train_fraction!r}: leaves no test interval")
    return (None, series) if cut == 0 else tuple(series.split(at=cut))


def _demands(part: TrafficSeries | None, num_nodes: int) -> np.ndarray:
    return part.demands if part is not None else np.zeros((0, num_nodes, num_nodes))


@functools.lru_cache(maxsize=16)
def build(config: ScenarioConfig) -> Scenario:
    """Load the topology and the traffic from their sources, then `assemble` the scenario. Cached
    by config: environments built from one config share its read-only arrays and its LP cache, so
    each matrix's LP is solved once per process."""
    topology = load_topology(config.topology, data_dir=config.data_dir)
    return assemble(config, topology, load_series(config, topology))


def assemble(config: ScenarioConfig, topology: Topology, series: TrafficSeries) -> Scenario:
    """A scenario from a topology and a traffic series in hand (``config.topology`` and
    ``config.traffic`` are not read).

    The pipeline: the uniform capacity if set, noise on the whole series, the split in time
    (`TrafficSeries.split`), the load factor from the training part, the held-out validation part,
    the test part's first ``test_intervals``, the scaling of both parts (the test part's again to ``test_load``), bursts into the test part, then a check that the failures and the
    test-time topology change leave the network connected."""
    if config.capacity is not None:
        topology = topology.with_uniform_capacity(config.capacity)
    if series.nodes != topology.nodes:
        series = series.aligned_to(topology)
    if config.noise:
        rng = np.random.default_rng([config.traffic_seed, 3])
        demands = series.demands
        noisy = demands * np.exp(config.noise * rng.standard_normal(demands.shape) - config.noise**2 / 2)
        series = series.replace(demands=noisy)
    train, test = _split(series, config.train_fraction)
    factor = 1.0
    if config.load is not None:
        reference = (train if train is not None else test).demands
        factor = lp.scale_to_load(
            reference, topology, config.load, sample_every=max(1, len(reference) // 120)
        ).factor
    if config.validation:
        steps = 0 if train is None else len(train)
        held_out = int(round(config.validation * steps))
        if held_out < 1 or held_out >= steps:
            raise RlteError(
                f"validation {config.validation!r}: must leave at least one training and one held-out "
                f"interval of the {steps} training intervals"
            )
        train, test = train.split(at=steps - held_out)
    if config.test_intervals is not None:
        if config.test_intervals > len(test):
            raise RlteError(
                f"test_intervals {config.test_intervals}: the test part has only {len(test)} intervals"
            )
        if config.test_intervals < len(test):
            test, _ = test.split(at=config.test_intervals)
    if factor != 1.0:
        train = train.scaled(factor) if train is not None else None
        test = test.scaled(factor)
    if config.test_load is not None:
        test = test.scaled(config.test_load / config.load)
    bursts: list = []
    if config.bursts is not None:
        rate, size, duration = config.bursts
        injected = inject_bursts(
            test, np.random.default_rng(config.traffic_seed + 2), rate, size, int(duration)
        )
        test, bursts = injected.series, list(injected.bursts)
    test_topology = (
        topology.without_links(config.test_topology_change) if config.test_topology_change else topology
    )
    failed = [link for _, links in config.failures for link in links]
    if failed:
        for base in {id(topology): topology, id(test_topology): test_topology}.values():
            base.without_links(failed)  # a clear error now if the failures disconnect the graph
    n = topology.num_nodes
    return Scenario(
        config, topology, test_topology, _demands(train, n), _demands(test, n), factor,
        float(series.interval_s), bursts,
    )  # fmt: skip
