"""Topologies rlte ships in code: NSFNET (14 nodes) and Boyan and Littman's irregular 6x6 grid.

Both are undirected graphs on nodes named ``"0"``, ``"1"``, ...; every link gets the defaults of
`rlte.net.topology.build_topology` (10 Gbit/s, 1 ms, IGP weight 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlte.net.topology import Topology

#: NSFNET, 14 nodes and 21 undirected links, as used by most DRL routing papers (BNN-UPC's DRL-GNN).
NSFNET14_EDGES = (
    (0, 1), (0, 2), (0, 3), (1, 2), (1, 7), (2, 5), (3, 8), (3, 4), (4, 5), (4, 6), (5, 12),
    (5, 13), (6, 7), (7, 10), (8, 9), (8, 11), (9, 10), (9, 12), (10, 11), (10, 13), (11, 12),
)  # fmt: skip

#: Boyan and Littman's irregular 6x6 grid (node = 6*row + col), 36 nodes and 50 undirected links.
GRID6X6_EDGES = (
    (1, 0), (2, 1), (4, 3), (5, 4), (6, 0), (7, 6), (7, 1), (8, 7), (8, 2), (9, 3), (10, 9),
    (10, 4), (11, 10), (11, 5), (12, 6), (13, 12), (13, 7), (14, 13), (14, 8), (15, 9), (16, 15),
    (16, 10), (17, 16), (17, 11), (18, 12), (19, 18), (19, 13), (20, 19), (20, 14), (21, 20),
    (21, 15), (22, 21), (22, 16), (23, 22), (23, 17), (24, 18), (25, 19), (26, 25), (26, 20),
    (27, 21), (28, 27), (28, 22), (29, 23), (30, 24), (31, 30), (32, 31), (33, 32), (34, 33),
    (35, 34), (35, 29),
)  # fmt: skip


def _builtin(name: str, num_nodes: int, edges: Sequence[tuple[int, int]]) -> Topology:
    # imported here: rlte.net.topology imports this module (it re-exports BUILTINS)
    from rlte.net.topology import build_topology

    return build_topology(
        name, [str(i) for i in range(num_nodes)], [(u, v, {}) for u, v in edges], source=name
    )


#: Built-in name -> a function building that topology.
BUILTINS: dict[str, Callable[[], Topology]] = {
    "nsfnet14": lambda: _builtin("nsfnet14", 14, NSFNET14_EDGES),
    "grid6x6": lambda: _builtin("grid6x6", 36, GRID6X6_EDGES),
}
