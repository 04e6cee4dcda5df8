"""The disk cache of path sets (`rlte.net.path_cache`): a cached path set equals the computed one,
a second call reads the file instead of searching, another k or metric is another entry (the key covers the links and costs too), a torn
file is replaced, and ``RLTE_CACHE=off`` writes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from rlte.net import path_cache, paths
from rlte.net.paths import k_shortest_paths
from tests.conftest import make_topology

#: A 3 x 4 grid with its diagonals: pairs with several shortest paths.
GRID = [(r * 4 + c, r * 4 + c + 1) for r in range(3) for c in range(3)] + \
       [(r * 4 + c, (r + 1) * 4 + c) for r in range(2) for c in range(4)] + [(0, 5), (6, 11)]  # fmt: skip


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RLTE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(path_cache, "CACHE_MIN_NODES", 0)
    return tmp_path / "cache" / "paths"


def same(first, second) -> None:
    assert first.paths == second.paths and first.label == second.label
    np.testing.assert_array_equal(first.path_index, second.path_index)


def test_cached_equals_computed_and_is_read_back(cache, monkeypatch):
    topology = make_topology(GRID)
    first = k_shortest_paths(topology, 3)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1 and files[0].name.startswith("ksp3-hops-")

    def no_search(*args, **kwargs):
        raise AssertionError("searched again")

    monkeypatch.setattr(paths._Searcher, "yen", no_search)
    same(k_shortest_paths(topology, 3), first)
    monkeypatch.undo()
    monkeypatch.setenv("RLTE_CACHE", "off")
    same(k_shortest_paths(topology, 3), first)  # the same as computing it afresh


def test_another_k_or_metric_is_another_entry(cache):
    topology = make_topology(GRID)
    k_shortest_paths(topology, 3)
    k_shortest_paths(topology, 2)
    k_shortest_paths(topology, 3, metric="delay")
    assert len(list(cache.glob("*.npz"))) == 3


def test_a_torn_file_is_replaced(cache):
    topology = make_topology(GRID)
    first = k_shortest_paths(topology, 3)
    (entry,) = cache.glob("*.npz")
    entry.write_bytes(b"not an npz")
    same(k_shortest_paths(topology, 3), first)
    with np.load(entry) as data:
        assert set(data.files) == {"links", "hops", "counts"}


def test_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RLTE_CACHE", "off")
    monkeypatch.setattr(path_cache, "CACHE_MIN_NODES", 0)
    assert path_cache.cache_dir() is None
    k_shortest_paths(make_topology(GRID), 3)
    assert not any(tmp_path.iterdir())


def test_small_networks_are_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("RLTE_CACHE", str(tmp_path))
    k_shortest_paths(make_topology(GRID), 3)  # 12 nodes < CACHE_MIN_NODES
    assert not any(tmp_path.iterdir())


def test_the_key_covers_every_input():
    base = dict(kind="ksp3-hops", num_nodes=4, src=[0, 1], dst=[1, 2], costs=[1, 1])
    key = path_cache.cache_key(**base)
    for change in (
        {"num_nodes": 5},
        {"src": [0, 2]},
        {"dst": [1, 3]},
        {"costs": [1, 2]},
        {"kind": "ksp2-hops"},
    ):
        assert path_cache.cache_key(**{**base, **change}) != key
