"""How a traffic spec becomes a series: `load_traffic` resolves the name, then reads or generates.

`rlte.net.sources.resolve_traffic` says where the traffic comes from (a data-directory file, a
file, the topology's static matrix, a generator); `read_traffic` hands that source to its reader
(`rlte.net.traffic.formats`, `rlte.net.flows`) or generator (`rlte.net.traffic.generators`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from rlte.errors import RlteError
from rlte.net.flows import load_maroh_flows
from rlte.net.sources import TrafficSource, resolve_traffic, traffic_file_source
from rlte.net.topology import Topology, from_gml
from rlte.net.traffic.formats import load_abilene_tm, load_sndlib_csv, load_sndlib_xml, load_traffic_csv
from rlte.net.traffic.generators import gravity, uniform
from rlte.net.traffic.series import DEFAULT_INTERVAL_S, DEFAULT_START, TrafficSeries

#: Seed of the gravity masses when `load_traffic` gets ``gravity:TOTAL`` and no generator.
GRAVITY_DEFAULT_SEED = 0


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


def read_traffic(
    source: TrafficSource,
    nodes: Sequence[str] | Topology | None = None,
    *,
    rng: np.random.Generator | None = None,
) -> TrafficSeries:
    """The traffic a resolved source describes (`rlte.net.sources.resolve_traffic` found it).

    Args:
        source: what to read or generate.
        nodes: the topology (or node names, for a long CSV) the traffic belongs to; a topohub
            matrix and the generators need a topology, a flow set uses its node order.
        rng: random source of ``gravity``; default: a generator seeded `GRAVITY_DEFAULT_SEED`.

    Returns:
        The series, in the node order of its source (not yet aligned to ``nodes``).

    Raises:
        RlteError: the source needs a topology and has none, or what its reader raises.
    """
    topology = nodes if isinstance(nodes, Topology) else None
    if source.needs_topology and topology is None:
        raise RlteError(f"traffic {source.spec!r}: needs a topology")
    if source.kind == "topohub":
        return from_topology(topology)
    if source.kind == "generator":
        if source.generator == "uniform":
            return uniform(topology, source.parameters["rate_bps"])
        generator = rng if rng is not None else np.random.default_rng(GRAVITY_DEFAULT_SEED)
        return gravity(topology, source.parameters["total_bps"], generator)
    path = source.path
    named = {} if source.name is None else {"name": source.name}
    if source.format == "abilene-tm":
        return load_abilene_tm(path, **named)
    if source.format == "sndlib-csv":
        return load_sndlib_csv(path, **named)
    if source.format == "sndlib-xml":
        return load_sndlib_xml(list(source.files) if path.is_dir() else path, **named)
    if source.format == "long-csv":
        return load_traffic_csv(path, nodes, **named)
    if source.format == "maroh-flows":
        order = topology
        if order is None and source.nodes_path is not None:
            order = from_gml(source.nodes_path)
        return load_maroh_flows(path, order, **named)
    raise RlteError(f"traffic {source.spec!r}: no reader for format {source.format!r}")  # pragma: no cover


def load_traffic_file(
    path: str | os.PathLike, nodes: Sequence[str] | Topology | None = None
) -> TrafficSeries:
    """A traffic file or a folder of SNDlib XML files, the reader chosen by extension and content.

    ``.csv``: a header starting ``time,`` with ``src->dst`` columns is `load_sndlib_csv`, one with
    ``src,dst,rate_bps`` `load_traffic_csv`; ``.xml`` (or text starting with ``<``): `load_sndlib_xml`;
    ``.json``: `load_maroh_flows`; a folder: its ``*.xml`` files as one series; anything else
    made of numbers: `load_abilene_tm` (see `rlte.net.sources.traffic_file_format`).
    """
    return read_traffic(traffic_file_source(path), nodes)


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
        spec: what to load (resolved by `rlte.net.sources.resolve_traffic`).
        topology: when given, the result is `TrafficSeries.aligned_to` it.
        data_dir: the data directory (see `rlte.datadir.data_dir`).
        rng: random source of ``gravity:``.

    Returns:
        The series.

    Raises:
        RlteError: an unknown spec (the message suggests close names and lists the accepted
            ones), a spec that needs a topology without one, or what the loader raises.
    """
    source = resolve_traffic(spec, data_dir)
    series = read_traffic(source, topology, rng=rng)
    if topology is None:
        return series
    # named as the user named it: a file's stem or a data name alone could be any file's
    return series.aligned_to(topology, where=f"traffic {source.spec!r}")
