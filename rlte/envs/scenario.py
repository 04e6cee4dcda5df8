"""Scenarios: what an environment runs on. A topology, a traffic series split in time into a training
and a test part, a load level, and the events of an episode (bursts, link failures, a changed
topology at test time).

A `ScenarioConfig` is plain data (it can come from keyword options or a preset name); `build` turns
it into a `Scenario` with numpy arrays, once, and every environment built from the same config
shares nothing mutable with another.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

import numpy as np

from rlte.baselines import lp
from rlte.errors import RlteError
from rlte.net.topology import Topology, load_topology
from rlte.net.traffic import TrafficSeries, diurnal, inject_bursts, load_traffic


@dataclass(frozen=True)
class ScenarioConfig:
    """Everything that defines a scenario. Every field has a default, so the bare config runs
    without a data directory: Abilene (topohub) with a synthetic week around its demands."""

    topology: str = "sndlib/abilene"
    """Topology spec (`rlte.net.topology.load_topology`)."""
    traffic: str = "diurnal:topohub"
    """Traffic spec (`rlte.net.traffic.load_traffic`), or ``diurnal:BASE`` for a synthetic week of
    5-minute matrices around the mean of BASE (seeded by ``traffic_seed``)."""
    train_fraction: float = 5 / 7
    """Leading fraction of the series used for training; the rest is the test part."""
    load: float | None = 0.6
    """Load level: one factor makes the mean optimal MLU of the training part equal this. None
    keeps the traffic as loaded."""
    capacity: float | None = None
    """If set, every link's capacity in bit/s."""
    bursts: tuple[float, float, int] | None = None
    """Flash crowds injected into the test part: (rate per pair and interval, factor, duration)."""
    failures: tuple[tuple[int, tuple[tuple[str, str], ...]], ...] = ()
    """Link failures: (episode step, links (u, v) removed in both directions from that step on)."""
    test_topology_change: tuple[tuple[str, str], ...] = ()
    """Links (u, v) removed from the topology in the test part (a changed topology at test time)."""
    data_dir: str | None = None
    """Data directory for data-dir topologies and traffic."""
    traffic_seed: int = 0
    """Seed of generated traffic, noise and bursts (the scenario, not the agent)."""
    noise: float = 0.0
    """Multiplicative log-normal noise on every demand of every interval, standard deviation of
    its logarithm (mean factor 1), drawn from ``traffic_seed``: the "seeds of traffic noise" of a
    multi-seed experiment. Applied before the load scaling."""
    validation: float = 0.0
    """If > 0, hold out this trailing fraction of the training part and use it as the test part;
    the real test part is then never loaded into the scenario. For choosing hyperparameters
    without seeing the test days. The load factor is still set on the whole training part, so a
    validation scenario has the same traffic scale as the real one."""


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

#: Load bands of seed 000's tables and the level rlte uses for each (the middle of the band).
LOAD_BANDS = {"10-30": 0.2, "30-60": 0.45, "60-80": 0.7, "80-95": 0.875, "95-100": 0.975}


def config_from_options(preset: str | None = None, **options) -> ScenarioConfig:
    """A config from a preset name and field overrides (unknown fields and presets are errors)."""
    fields = dict(PRESETS.get(preset, {})) if preset is not None else {}
    if preset is not None and preset not in PRESETS:
        import difflib

        close = difflib.get_close_matches(preset, list(PRESETS), n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise RlteError(f"scenario preset {preset!r}: unknown{hint}; presets: {', '.join(PRESETS)}")
    known = set(ScenarioConfig.__dataclass_fields__)
    for key, value in options.items():
        if key not in known:
            raise RlteError(f"scenario option {key!r}: unknown (options: {', '.join(sorted(known))})")
        fields[key] = value
    config = ScenarioConfig(**fields)
    if config.load is not None and not (config.load > 0 and math.isfinite(config.load)):
        raise RlteError(f"load level {config.load!r}: must be > 0")
    if not 0.0 <= config.train_fraction < 1.0:
        raise RlteError(f"train fraction {config.train_fraction!r}: must be in [0, 1)")
    if not 0.0 <= config.validation < 1.0:
        raise RlteError(f"validation {config.validation!r}: must be in [0, 1)")
    return config


@dataclass(eq=False)
class Scenario:
    """A built scenario.

    Attributes:
        config: what it was built from.
        topology: the training topology.
        test_topology: the topology of the test part (differs with ``test_topology_change``).
        train: training matrices [T1, N, N] (bit/s, scaled to the load level).
        test: test matrices [T2, N, N] (bursts injected when configured).
        load_factor: the scaling applied to the loaded traffic.
        interval_s: seconds per interval.
        bursts: the bursts injected into the test part.
    """

    config: ScenarioConfig
    topology: Topology
    test_topology: Topology
    train: np.ndarray
    test: np.ndarray
    load_factor: float
    interval_s: float
    bursts: list = field(default_factory=list)
    _optimal: dict = field(default_factory=dict, repr=False)

    def matrices(self, part: str) -> np.ndarray:
        """``"train"`` or ``"test"`` matrices (a static scenario uses its one matrix for both)."""
        if part not in ("train", "test"):
            raise RlteError(f"scenario part {part!r}: must be 'train' or 'test'")
        matrices = self.train if part == "train" else self.test
        return matrices if len(matrices) else (self.test if part == "train" else self.train)

    def topology_for(self, part: str) -> Topology:
        return self.test_topology if part == "test" else self.topology

    def topology_at(self, part: str, step: int) -> Topology:
        """The topology in force at an episode step (after the failures scheduled up to it)."""
        topology = self.topology_for(part)
        failed = [link for at, links in self.config.failures if at <= step for link in links]
        return topology.without_links(failed) if failed else topology

    def optimal_mlu(self, part: str, index: int, topology: Topology | None = None) -> float:
        """The LP-optimal MLU of one matrix, cached (each matrix is solved at most once)."""
        topology = topology or self.topology_for(part)
        key = (part, index, id(topology))
        if key not in self._optimal:
            self._optimal[key] = (topology, float(lp.optimal_mlu(topology, self.matrices(part)[index])[0]))
        return self._optimal[key][1]


def _load_series(config: ScenarioConfig, topology: Topology) -> TrafficSeries:
    spec = config.traffic
    if spec.startswith("diurnal:"):
        base_spec = spec[len("diurnal:") :]
        base = load_traffic(
            base_spec, topology, data_dir=config.data_dir, rng=np.random.default_rng(config.traffic_seed)
        )
        return diurnal(
            base,
            steps=7 * 288,
            interval_s=300.0,
            rng=np.random.default_rng(config.traffic_seed + 1),
            name=f"diurnal({base_spec})",
        )
    return load_traffic(
        spec, topology, data_dir=config.data_dir, rng=np.random.default_rng(config.traffic_seed)
    )


@functools.lru_cache(maxsize=16)
def build(config: ScenarioConfig) -> Scenario:
    """Load, split and scale (see `ScenarioConfig`). Cached by config: environments built from one
    config share its read-only arrays and its cache of optimal MLUs, so each matrix's LP is solved
    once per process."""
    topology = load_topology(config.topology, data_dir=config.data_dir)
    if config.capacity is not None:
        topology = topology.with_uniform_capacity(config.capacity)
    series = _load_series(config, topology)
    demands = np.asarray(series.demands, dtype=np.float64)
    if config.noise:
        if not (config.noise > 0 and math.isfinite(config.noise)):
            raise RlteError(f"noise {config.noise!r}: must be a finite number >= 0")
        rng = np.random.default_rng([config.traffic_seed, 3])
        demands = demands * np.exp(config.noise * rng.standard_normal(demands.shape) - config.noise**2 / 2)
    cut = int(round(config.train_fraction * len(demands)))
    if len(demands) > 1 and cut >= len(demands):
        raise RlteError(f"train fraction {config.train_fraction!r}: leaves no test interval")
    train, test = demands[:cut], demands[cut:]
    factor = 1.0
    if config.load is not None:
        reference = train if len(train) else test
        factor = lp.scale_to_load(
            reference, topology, config.load, sample_every=max(1, len(reference) // 120)
        ).factor
    if config.validation:
        held_out = int(round(config.validation * len(train)))
        if held_out < 1 or held_out >= len(train):
            raise RlteError(
                f"validation {config.validation!r}: must leave at least one training and one held-out "
                f"interval of the {len(train)} training intervals"
            )
        train, test = train[:-held_out], train[-held_out:]
        cut -= held_out
    train, test = train * factor, test * factor
    bursts: list = []
    if config.bursts is not None and len(test):
        rate, size, duration = config.bursts
        test_series = TrafficSeries(
            nodes=topology.nodes,
            demands=test,
            timestamps=np.asarray(series.timestamps)[cut : cut + len(test)],
            interval_s=series.interval_s,
            name="test",
        )
        injected = inject_bursts(
            test_series, np.random.default_rng(config.traffic_seed + 2), rate, size, int(duration)
        )
        test, bursts = np.asarray(injected.series.demands), list(injected.bursts)
    test_topology = (
        topology.without_links(config.test_topology_change) if config.test_topology_change else topology
    )
    for step, _ in config.failures:
        if step < 0:
            raise RlteError(f"failure step {step}: must be >= 0")
    failed = [link for _, links in config.failures for link in links]
    if failed:
        for base in {id(topology): topology, id(test_topology): test_topology}.values():
            base.without_links(failed)  # a clear error now if the failures disconnect the graph
    return Scenario(config, topology, test_topology, train, test, factor, float(series.interval_s), bursts)


def with_options(config: ScenarioConfig, **changes) -> ScenarioConfig:
    """A copy of a config with some fields changed."""
    return replace(config, **changes)
