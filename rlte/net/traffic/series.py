"""The traffic series: T traffic matrices over N named nodes, and its train / test splits.

A `TrafficSeries` holds ``demands[t, s, d]``, the mean rate in bit/s from node s to node d during
interval t. It is immutable; slicing, splitting, scaling and re-ordering return new series. The
diagonal is always 0: a constructor given self-traffic raises, and the loaders drop the
self-traffic that real data sets record (it never crosses a link).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import numpy as np

from rlte.errors import RlteError
from rlte.net.topology import Topology

#: Interval given to series whose source states none (static matrices, generators): 5 minutes.
DEFAULT_INTERVAL_S = 300.0
#: First timestamp of series whose source states none (generators, static matrices).
DEFAULT_START = np.datetime64("2000-01-01T00:00:00", "s")
#: The longest interval a series may have: 10^9 s, about 32 years (longer ones cannot be meant,
#: and timestamp arithmetic on them would overflow).
MAX_INTERVAL_S = 1e9
_SECONDS_PER_DAY = 86400.0
#: Timestamps stay this far (in seconds) from the ends of datetime64[s], so arithmetic on them
#: cannot wrap around.
_LAST_SECOND = 2**62


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
        if self.interval_s > MAX_INTERVAL_S:
            raise RlteError(
                f"{where}: interval_s {self.interval_s!r} is more than {MAX_INTERVAL_S:g} s (MAX_INTERVAL_S)"
            )
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

    def aligned_to(
        self, topology: Topology, *, fill_missing: bool = False, where: str | None = None
    ) -> TrafficSeries:
        """The same traffic with the topology's node order.

        Args:
            topology: gives the node names and their order.
            fill_missing: give topology nodes that the traffic lacks zero demand instead of raising.
            where: names the traffic in error messages (default: ``traffic '<its name>'``).

        Returns:
            A series whose ``nodes`` equal ``topology.nodes`` (``self`` when they already do).

        Raises:
            RlteError: a traffic node is not in the topology, or (unless ``fill_missing``) a
                topology node is not in the traffic.
        """
        if self.nodes == topology.nodes:
            return self
        where = where or f"traffic {self.name!r}"
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
    """``steps`` timestamps ``interval_s`` apart from ``start``. Shape [steps], datetime64[s]."""
    if not (interval_s > 0) or not math.isfinite(interval_s):
        raise RlteError(f"{where}: interval_s {interval_s!r} must be a positive number of seconds")
    if interval_s > MAX_INTERVAL_S:
        raise RlteError(
            f"{where}: interval_s {interval_s!r} is more than {MAX_INTERVAL_S:g} s (MAX_INTERVAL_S)"
        )
    first = _as_time(start, where)
    span = round(max(steps - 1, 0) * float(interval_s))
    if abs(int(first.astype(np.int64))) + span >= _LAST_SECOND:
        raise RlteError(
            f"{where}: {steps} steps of {interval_s:g} s from {first} run past the last representable time"
        )
    offsets = np.round(np.arange(steps) * float(interval_s)).astype("timedelta64[s]")
    return first + offsets


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


def _zero_diagonal(values: np.ndarray) -> np.ndarray:
    n = values.shape[-1]
    values[..., np.arange(n), np.arange(n)] = 0.0
    return values
