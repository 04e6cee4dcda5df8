"""Figures for the command line: a topology with its link capacities, traffic over time.

Matplotlib runs headless (Agg). Every figure is written atomically: to a temporary file in the
target folder, then renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rlte.errors import RlteError
from rlte.fileio import atomic_write


def pyplot():
    """matplotlib.pyplot, headless (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` to ``path`` atomically (format from the extension) and close it."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise RlteError(f"{path}: folder {str(path.parent)!r} does not exist")
    fmt = path.suffix[1:] or "png"
    try:
        atomic_write(
            path, lambda handle: fig.savefig(handle, format=fmt, dpi=120, bbox_inches="tight"), binary=True
        )
    finally:
        pyplot().close(fig)
    return path


def plot_topology(topology, path: str | os.PathLike) -> Path:
    """Draw the nodes (at their coordinates, else a spring layout) and links, line width and colour
    by capacity, labelled in Gbit/s."""
    import networkx as nx

    plt = pyplot()
    graph = topology.to_networkx()
    if topology.coords is not None:
        pos = {i: tuple(topology.coords[i]) for i in range(topology.num_nodes)}
    else:
        pos = nx.spring_layout(graph.to_undirected(), seed=0)
    fig, ax = plt.subplots(figsize=(9, 6))
    caps = topology.capacity / 1e9
    cmap = plt.get_cmap("viridis")
    span = max(caps.max() - caps.min(), 1e-12)
    drawn: set[tuple[int, int]] = set()
    for e in range(topology.num_links):
        u, v = int(topology.src[e]), int(topology.dst[e])
        key = (min(u, v), max(u, v))
        reverse = topology.link_index.get((v, u))
        if key in drawn:
            continue
        drawn.add(key)
        cap = caps[e] if reverse is None else max(caps[e], caps[reverse])
        (x0, y0), (x1, y1) = pos[u], pos[v]
        width = 1 + 3 * (cap - caps.min()) / span
        ax.plot([x0, x1], [y0, y1], color=cmap((cap - caps.min()) / span), lw=width, zorder=1)
        label = (
            f"{caps[e]:g}"
            if reverse is None or caps[reverse] == caps[e]
            else f"{caps[e]:g}/{caps[reverse]:g}"
        )
        ax.text(
            (x0 + x1) / 2,
            (y0 + y1) / 2,
            label,
            fontsize=7,
            ha="center",
            va="center",
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
            zorder=2,
        )
    xs = np.array([pos[i][0] for i in range(topology.num_nodes)])
    ys = np.array([pos[i][1] for i in range(topology.num_nodes)])
    ax.scatter(xs, ys, s=120, c="tab:red", zorder=3)
    for i, name in enumerate(topology.nodes):
        ax.annotate(name, (xs[i], ys[i]), textcoords="offset points", xytext=(5, 6), fontsize=8, zorder=4)
    ax.set_title(
        f"{topology.name}: {topology.num_nodes} nodes, {topology.num_links} directed links "
        "(labels: capacity, Gbit/s)"
    )
    ax.set_axis_off()
    return save_figure(fig, path)


def plot_traffic_total(series, path: str | os.PathLike) -> Path:
    """Total offered traffic over time (Gbit/s)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4))
    total = series.total() / 1e9
    times = series.timestamps.astype("datetime64[s]").astype(object)
    ax.plot(times, total, lw=1)
    ax.set_ylabel("total demand (Gbit/s)")
    ax.set_title(f"{series.name}: {len(series)} matrices, {series.interval_s:g} s apart")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return save_figure(fig, path)
