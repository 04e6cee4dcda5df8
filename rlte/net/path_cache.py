"""A disk cache of computed path sets: Yen's k shortest paths of every pair of a 200-node network
take about half a minute in Python, and every cell, benchmark and process would pay it again.

A path set is stored under a key that is the SHA-256 of everything it is computed from (the
constructor's name and arguments, the node count, every link's ends and integer cost, and
`CACHE_VERSION`), so an edited topology or cost never meets a stale entry. Entries are ``.npz``
files written atomically in ``$RLTE_CACHE/paths/`` (default ``~/.cache/rlte/paths/``); a torn or
foreign file is ignored and replaced. ``RLTE_CACHE=off`` turns the cache off. Networks under
`CACHE_MIN_NODES` nodes are computed in milliseconds and never cached.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Bumped when a constructor's output changes for the same inputs (old entries are then unused).
CACHE_VERSION = 1
#: Smaller networks are not cached.
CACHE_MIN_NODES = 50


def cache_dir() -> Path | None:
    """The cache folder (``$RLTE_CACHE/paths``, default ``~/.cache/rlte/paths``), None when off."""
    root = os.environ.get("RLTE_CACHE")
    if root is not None and root.strip().lower() in ("off", "0", "no", "none", ""):
        return None
    return (Path(root) if root else Path.home() / ".cache" / "rlte") / "paths"


def cache_key(kind: str, num_nodes: int, src, dst, costs, **arguments) -> str:
    """The hex SHA-256 of a path set's inputs."""
    digest = hashlib.sha256()
    digest.update(f"v{CACHE_VERSION}|{kind}|{num_nodes}|{sorted(arguments.items())}|".encode())
    for values in (src, dst, costs):
        digest.update(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _load(path: Path, num_demands: int):
    try:
        with np.load(path, allow_pickle=False) as data:
            links, hops, counts = data["links"], data["hops"], data["counts"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    if len(counts) != num_demands or counts.sum() != len(hops) or hops.sum() != len(links):
        return None
    ends = np.cumsum(hops)
    flat = [tuple(int(x) for x in path) for path in np.split(links, ends[:-1])] if len(hops) else []
    starts = np.concatenate([[0], np.cumsum(counts)])
    return tuple(tuple(flat[starts[d] : starts[d + 1]]) for d in range(num_demands))


def _save(path: Path, paths) -> None:
    from rlte.fileio import atomic_write

    flat = [p for demand in paths for p in demand]
    arrays = {
        "links": np.fromiter((x for p in flat for x in p), dtype=np.int64),
        "hops": np.array([len(p) for p in flat], dtype=np.int64),
        "counts": np.array([len(demand) for demand in paths], dtype=np.int64),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: np.savez(handle, **arrays), binary=True)


def cached_paths(kind: str, topology, costs, build: Callable[[], tuple], **arguments) -> tuple:
    """The per-demand paths ``build()`` returns, from the cache when an entry exists.

    Args:
        kind: the constructor's name.
        topology: the network (its node count and links are part of the key).
        costs: the integer link costs the search used. Shape [E].
        build: computes the paths: per demand, a tuple of link-index tuples.
        arguments: the constructor's other arguments (k, metric), part of the key.

    Returns:
        The paths, per demand.
    """
    folder = cache_dir()
    if folder is None or topology.num_nodes < CACHE_MIN_NODES:
        return build()
    key = cache_key(kind, topology.num_nodes, topology.src, topology.dst, costs, **arguments)
    path = folder / f"{kind}-{key[:32]}.npz"
    num_demands = topology.num_nodes * (topology.num_nodes - 1)
    if path.is_file():
        found = _load(path, num_demands)
        if found is not None:
            return found
    paths = build()
    try:
        _save(path, paths)
    except OSError:  # a read-only home or a full disk: the paths are still right, only not kept
        pass
    return paths


__all__ = ["CACHE_MIN_NODES", "CACHE_VERSION", "cache_dir", "cache_key", "cached_paths"]
