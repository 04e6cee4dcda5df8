"""Shared fixtures: the real data directory (skipped when absent) and tiny topologies."""

from __future__ import annotations

import os

import numpy as np
import pytest

from rlte.datadir import data_dir as resolve_data_dir
from rlte.net.topology import Topology

# Plots are written headless in tests.
os.environ.setdefault("MPLBACKEND", "Agg")
# No path set is cached in the user's home by a test (tests/net/test_path_cache.py sets its own folder).
os.environ["RLTE_CACHE"] = "off"


@pytest.fixture(scope="session")
def data_dir():
    """The real data folder (../shared/data or $RLTE_DATA); tests using it skip without it."""
    found = resolve_data_dir(required=False)
    if found is None:
        pytest.skip("no data directory (set RLTE_DATA)")
    return found


def make_topology(edges, capacity=10.0, *, directed=False, name="tiny", nodes=None) -> Topology:
    """A small topology from (u, v) or (u, v, capacity) tuples on integer-named nodes."""
    src, dst, cap = [], [], []
    for edge in edges:
        u, v = edge[0], edge[1]
        c = edge[2] if len(edge) > 2 else capacity
        for a, b in [(u, v)] if directed else [(u, v), (v, u)]:
            src.append(a)
            dst.append(b)
            cap.append(c)
    n = nodes if nodes is not None else max(max(src), max(dst)) + 1
    return Topology(
        name=name,
        nodes=[str(i) for i in range(n)] if isinstance(n, int) else n,
        src=src,
        dst=dst,
        capacity=cap,
        delay=np.full(len(src), 1e-3),
        weight=np.ones(len(src)),
    )


@pytest.fixture
def diamond() -> Topology:
    """s=0 -> a=1 -> t=3 at capacity 10, s -> b=2 -> t at capacity 30, both directions."""
    return make_topology([(0, 1, 10.0), (1, 3, 10.0), (0, 2, 30.0), (2, 3, 30.0)], name="diamond")
