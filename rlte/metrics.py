"""Every metric rlte reports, each defined once, with its formula.

Notation: links e = 1..E with capacity C_e (bit/s) and propagation delay p_e (s); the offered load
x_e (bit/s) is what the routing puts on link e when nothing is dropped; the utilisation is
u_e = x_e / C_e. All functions accept a leading batch shape ``[...]`` and reduce over the last axis.
"""

from __future__ import annotations

import numpy as np

#: Mean packet size of the M/M/1 queueing delay, bytes.
DEFAULT_PACKET_BYTES = 1500.0
#: Queueing delay of a full buffer (a link at u >= 1): 100 ms at line rate.
DEFAULT_BUFFER_S = 0.1


def mlu(utilisation: np.ndarray) -> np.ndarray:
    """Maximum link utilisation: ``max_e u_e``.

    Shapes: utilisation [..., E] -> [...].
    """
    return np.max(utilisation, axis=-1)


def mean_util(utilisation: np.ndarray) -> np.ndarray:
    """Mean link utilisation: ``(1/E) sum_e u_e``.

    Shapes: utilisation [..., E] -> [...].
    """
    return np.mean(utilisation, axis=-1)


def phi(utilisation: np.ndarray) -> np.ndarray:
    """Population variance of link utilisation (MAROH's objective):
    ``(1/E) sum_e (u_e - mean_util)^2``.

    Shapes: utilisation [..., E] -> [...].
    """
    return np.var(utilisation, axis=-1)


def link_delay_s(
    utilisation: np.ndarray,
    capacity: np.ndarray,
    propagation_s: np.ndarray,
    *,
    packet_bytes: float = DEFAULT_PACKET_BYTES,
    buffer_s: float = DEFAULT_BUFFER_S,
) -> np.ndarray:
    """Per-link delay of one packet: propagation plus M/M/1 sojourn time,
    ``d_e = p_e + min(L / (C_e (1 - u_e)), B)`` for u_e < 1 and ``d_e = p_e + B`` for u_e >= 1,
    with L the mean packet size in bits and B the buffer's delay at line rate (a full queue).

    Shapes: utilisation [..., E], capacity [E], propagation_s [E] -> [..., E].
    """
    service = packet_bytes * 8.0 / capacity
    with np.errstate(divide="ignore", invalid="ignore"):
        queueing = np.where(utilisation < 1.0, service / (1.0 - utilisation), np.inf)
    return propagation_s + np.minimum(queueing, buffer_s)


def mean_delay_ms(link_load: np.ndarray, link_delay: np.ndarray, offered_total: np.ndarray) -> np.ndarray:
    """Traffic-weighted mean end-to-end delay in ms: ``1000 * sum_e x_e d_e / sum_sd D_sd``.

    Every bit/s of demand crossing link e spends d_e there, so the sum over links of load times
    delay, divided by the total demand, is the demand-weighted mean over paths of the path delay.
    Zero demand gives 0.

    Shapes: link_load [..., E], link_delay [..., E], offered_total [...] -> [...].
    """
    weighted = np.sum(link_load * link_delay, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(offered_total > 0, 1e3 * weighted / offered_total, 0.0)


def forwarded_fraction(utilisation: np.ndarray) -> np.ndarray:
    """Fluid overload model: a link at utilisation u > 1 forwards ``r_e = min(1, 1/u_e)`` of what
    arrives; the rest is lost.

    Shapes: utilisation [..., E] -> [..., E].
    """
    with np.errstate(divide="ignore"):
        return np.minimum(1.0, 1.0 / np.maximum(utilisation, 1e-300))


def loss_rate(delivered_total: np.ndarray, offered_total: np.ndarray) -> np.ndarray:
    """Fraction of the offered traffic lost: ``1 - delivered / offered`` (0 when nothing is offered).

    Shapes: [...] and [...] -> [...].
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(offered_total > 0, 1.0 - delivered_total / offered_total, 0.0)


def throughput(delivered_total: np.ndarray) -> np.ndarray:
    """Traffic delivered to its destinations, bit/s: ``sum_sd D_sd * prod_{e on the route} r_e``
    (averaged over the route's splits).

    Shapes: [...] -> [...].
    """
    return np.asarray(delivered_total, dtype=np.float64)


#: The metrics every evaluation reports, in table order.
FLOW_METRICS = ("mlu", "mean_util", "phi", "mean_delay_ms", "loss_rate", "throughput")


# ---------------------------------------------------------------------- compute clusters
# Notation: tasks i with arrival a_i and end e_i (completion or failure); D the tasks completed in the
# period measured; nodes n with capacity cap[n, r] of resource r and reserved amount used_n,r(t).


def mean_latency(latency_sum: float, completed: int) -> float:
    """Mean task latency: ``(1/|D|) sum_(i in D) (e_i - a_i)``, given the sum of the latencies of the
    |D| completed tasks (nan when none completed). Failed tasks have no latency.

    Args:
        latency_sum: ``sum_(i in D) (e_i - a_i)``.
        completed: |D|.
    """
    return float(latency_sum / completed) if completed else float("nan")


def resource_utilisation(reserved: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Utilisation of a resource: ``sum_n int used_n,r dt / sum_n cap[n, r] U_n``, U_n the time node n
    was up: the share of the capacity that was available and reserved (nan where nothing was
    available). The caller sums over nodes and integrates over the period.

    Shapes: reserved [...], available [...] -> [...].
    """
    reserved, available = np.asarray(reserved, dtype=np.float64), np.asarray(available, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(available > 0, reserved / available, np.nan)


def task_success_rate(completed: int, arrived: int) -> float:
    """Share of the tasks that arrived and completed (hence started before their deadline):
    ``|D| / arrived`` (nan when none arrived)."""
    return float(completed / arrived) if arrived else float("nan")


def migrations_per_task(migrated: int, arrived: int) -> float:
    """Migration cost as rlte's cluster tables report it: migrations per task arrived,
    ``M / max(A, 1)`` (a task moved twice counts twice; each migration holds the task in transfer
    for ``migration_delay * s_i``, whose sum `rlte.sim.cluster.ClusterMetrics.migration_cost` gives)."""
    return float(migrated / max(arrived, 1))


def coefficient_of_variation(values: np.ndarray) -> float:
    """Imbalance over nodes: ``std(x) / mean(x)`` (population std) over the finite values; 0 when
    the mean is 0, nan when no value is finite.

    Shapes: values [N] -> scalar.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan")
    mean = float(values.mean())
    return 0.0 if mean == 0 else float(values.std() / mean)


#: The metrics rlte's cluster environment reports per decision epoch, in table order.
CLUSTER_METRICS = ("latency_ms", "cpu_utilisation", "success_rate", "migration_cost")
