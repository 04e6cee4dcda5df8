"""Routing decisions in the forms every rlte simulator understands (docs/ARCHITECTURE.md,
"Routing"), and the rules that turn link weights into next-hop splits.

- `PathRouting`: split ratios ``[..., D, K]`` over the candidate paths of a `PathSet`;
- `NextHopRouting`: per-destination next-hop split ratios ``[..., N, E]`` (hop-by-hop forwarding);
- link weights ``[..., E]``, turned into next-hop splits by `weights_to_splits` with a named rule
  (ECMP over shortest paths, or weighted next-hop splitting: a fluid stand-in for MAROH's weighted
  hash, which `rlte.sim.hash_routing` implements exactly and which does not split 2 : 1 for weights
  1 : 0.5 but 3 : 1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rlte.errors import RlteError
from rlte.net.paths import PathSet, ecmp_dag
from rlte.net.topology import Topology


class PathRouting(NamedTuple):
    """Split ratios over candidate paths. ``splits`` [..., D, K]: rows sum to 1 over valid paths."""

    pathset: PathSet
    splits: np.ndarray


class NextHopRouting(NamedTuple):
    """Per-destination next-hop splits. ``splits`` [..., N, E]: row t gives, for traffic toward t,
    the fraction of what node src[e] forwards that goes on link e."""

    splits: np.ndarray


Routing = PathRouting | NextHopRouting


# ---------------------------------------------------------------------- link weights
WEIGHT_RULES = ("ecmp", "weighted")


def weights_to_splits(
    topology: Topology,
    weights: np.ndarray,
    rule: str = "ecmp",
    *,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """Turn link weights into next-hop splits.

    Args:
        topology: the network.
        weights: link weights [..., E], > 0.
        rule: ``"ecmp"``: shortest paths under ``weights`` as IGP costs, traffic split evenly over
            equal-cost next hops (what an OSPF router does). ``"weighted"``: each node splits its
            traffic toward t over the eligible next hops in proportion to their weights (MAROH's
            weighted hash is `rlte.sim.hash_routing`, unsplittable, 3 : 1 for weights 1 : 0.5); eligible
            defaults to the hop-count ECMP DAG.
        eligible: [N, E] bool mask of allowed next hops per destination (``"weighted"`` only).

    Returns:
        Next-hop splits [..., N, E].
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape[-1] != topology.num_links:
        raise RlteError(
            f"link weights of shape {weights.shape}: topology {topology.name!r} has {topology.num_links} links"
        )
    if not np.isfinite(weights).all() or (weights <= 0).any():
        raise RlteError("link weights: must be finite and > 0")
    if rule == "ecmp":
        if weights.ndim > 1:
            return np.stack(
                [weights_to_splits(topology, w, "ecmp") for w in weights.reshape(-1, weights.shape[-1])]
            ).reshape(*weights.shape[:-1], topology.num_nodes, topology.num_links)
        dag = ecmp_dag(topology.with_weights(weights), metric="weight")
        return even_splits(topology, dag.on_dag)
    if rule == "weighted":
        mask = ecmp_dag(topology, metric="hops").on_dag if eligible is None else np.asarray(eligible, bool)
        return proportional_splits(topology, np.where(mask, weights[..., None, :], 0.0))
    raise RlteError(f"link weight rule {rule!r}: unknown (choose from {', '.join(WEIGHT_RULES)})")


def proportional_splits(topology: Topology, shares: np.ndarray) -> np.ndarray:
    """Normalise non-negative shares [..., N, E] per (destination, node) into next-hop splits.

    A node whose shares toward t are all zero (and is not t) is an error: its traffic has nowhere
    to go.
    """
    n = topology.num_nodes
    out_sum = shares @ _out_matrix(topology).T  # [..., t, u]: total share of u's next hops toward t
    denominator = out_sum[..., topology.src]
    with np.errstate(invalid="ignore", divide="ignore"):
        splits = np.where(denominator > 0, shares / denominator, 0.0)
    splits[..., np.arange(n)[:, None] == topology.src[None, :]] = 0.0  # t forwards nothing toward t
    empty = (out_sum <= 0) & ~np.eye(n, dtype=bool)
    if empty.any():
        t, u = np.argwhere(empty.reshape(-1, n, n))[0][1:]
        raise RlteError(f"routing: node {topology.nodes[u]!r} has no next hop toward {topology.nodes[t]!r}")
    return splits


def even_splits(topology: Topology, on_dag: np.ndarray) -> np.ndarray:
    """Even split over the allowed next hops [N, E] (ECMP)."""
    return proportional_splits(topology, np.asarray(on_dag, dtype=np.float64))


def _out_matrix(topology: Topology) -> np.ndarray:
    """[N, E]: 1 where link e leaves node u."""
    out = np.zeros((topology.num_nodes, topology.num_links))
    out[topology.src, np.arange(topology.num_links)] = 1.0
    return out
