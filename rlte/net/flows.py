"""Flow sets: individual flows with a source, a destination and a rate (MAROH's inputs).

MAROH routes each flow on its own, by a hash over next hops, so its experiments ship flow sets
(``flows40.json``, ``flows60.json``) rather than traffic matrices. `read_maroh_flows` reads one
into `Flows`, keeping every flow and its ``flow_id``; `load_maroh_flows` adds the flows of each
pair up into a one-step `rlte.net.traffic.TrafficSeries`. Rates are in bit/s.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from rlte.errors import RlteError
from rlte.net.inputs import check_node_count, read_json, shown
from rlte.net.topology import Topology

if TYPE_CHECKING:
    from rlte.net.traffic.series import TrafficSeries


class Flows(NamedTuple):
    """Individual flows (MAROH routes each flow separately, by a hash over next hops).

    Attributes:
        nodes: node names that ``src`` and ``dst`` index.
        src: source node index of each flow. Shape [F].
        dst: destination node index of each flow. Shape [F].
        rate_bps: rate of each flow, bit/s. Shape [F].
        ids: each flow's ``flow_id`` (or its position when it has none).
    """

    nodes: tuple[str, ...]
    src: np.ndarray
    dst: np.ndarray
    rate_bps: np.ndarray
    ids: tuple[str, ...]

    def matrix(self) -> np.ndarray:
        """The flows of each pair added up, bit/s. Shape [N, N]."""
        n = len(self.nodes)
        result = np.zeros((n, n))
        with np.errstate(over="ignore"):  # rates adding up past the float maximum give inf
            np.add.at(result, (self.src, self.dst), self.rate_bps)
        return result


def _node_label(value) -> str | None:
    """A flow end as a node name: a string, or an integer written as one; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def read_maroh_flows(
    path: str | os.PathLike, nodes: Sequence[str] | Topology | None = None, *, time: str = "0"
) -> Flows:
    """The flows of a MAROH ``flows40.json`` / ``flows60.json`` file.

    The file is a JSON list of flows with ``start`` and ``end`` (node labels, as `from_gml`
    names the nodes of MAROH's ``topology.gml``) and ``all_bandwidth``, a map from a time to the
    flow's rate in bit/s (the shipped sets only have time ``"0"``); a flow without
    ``all_bandwidth`` may give a number in ``bandwidth``. A flow's ``flow_id`` (a string or a
    number) is kept; a flow without one is known by its position.

    Args:
        path: the file.
        nodes: node names (or a topology) that flows must use; default: in order of first
            appearance in the file.
        time: the key of ``all_bandwidth`` to read.

    Returns:
        The flows, in file order.

    Raises:
        RlteError: invalid JSON, a flow without endpoints or rate, an endpoint that is not a
            node name, an unknown node, a flow from a node to itself, a rate that is not a finite
            number >= 0, more than `MAX_NODES` nodes.
    """
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, list):
        raise RlteError(f"{path}: expected a JSON list of flows, found {type(data).__name__}")
    fixed = nodes is not None
    if isinstance(nodes, Topology):
        names = list(nodes.nodes)
    elif isinstance(nodes, (int, np.integer)) and not isinstance(nodes, bool):
        names = [str(i) for i in range(int(nodes))]
    else:
        names = [str(n) for n in nodes] if fixed else []
    where_is = {name: i for i, name in enumerate(names)}
    label = f"topology {nodes.name!r}" if isinstance(nodes, Topology) else "the given nodes"
    src, dst, rate, ids = [], [], [], []
    for k, flow in enumerate(data):
        where = f"{path}: flow {k}"
        if not isinstance(flow, dict) or flow.get("start") is None or flow.get("end") is None:
            raise RlteError(f"{where}: needs 'start' and 'end'")
        ends = []
        for key in ("start", "end"):
            node = _node_label(flow[key])
            if node is None:
                raise RlteError(f"{where}: {key} {shown(flow[key])} is not a node name")
            if node not in where_is:
                if fixed:
                    raise RlteError(f"{where}: {key} {shown(node)} is not a node of {label}")
                where_is[node] = len(names)
                names.append(node)
                check_node_count(len(names), str(path))
            ends.append(where_is[node])
        if ends[0] == ends[1]:
            raise RlteError(f"{where}: starts and ends at {shown(names[ends[0]])}")
        bandwidth = flow.get("all_bandwidth")
        if isinstance(bandwidth, dict):
            if time not in bandwidth:
                have = ", ".join(shown(t) for t in list(bandwidth)[:5]) or "none"
                more = f" and {len(bandwidth) - 5} more" if len(bandwidth) > 5 else ""
                raise RlteError(f"{where}: no bandwidth at time {time!r} (has {have}{more})")
            value = bandwidth[time]
        elif flow.get("bandwidth") is not None:
            value = flow["bandwidth"]
        else:
            raise RlteError(f"{where}: needs 'all_bandwidth' or 'bandwidth'")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise RlteError(f"{where}: bandwidth {shown(value)} is not a number")
        try:
            value = float(value)
        except ValueError:
            raise RlteError(f"{where}: bandwidth {shown(value)} is not a number") from None
        except OverflowError:
            value = math.inf
        if not (value >= 0) or math.isinf(value):
            raise RlteError(f"{where}: bandwidth {value!r} must be a finite number >= 0")
        flow_id = flow.get("flow_id")
        if flow_id is None:
            flow_id = k
        elif isinstance(flow_id, bool) or not isinstance(flow_id, (str, int, float)):
            raise RlteError(f"{where}: flow_id {shown(flow_id)} is not a string or a number")
        src.append(ends[0])
        dst.append(ends[1])
        rate.append(value)
        ids.append(str(flow_id))
    if not rate:
        raise RlteError(f"{path}: no flows")
    return Flows(
        nodes=tuple(names),
        src=np.array(src, dtype=np.int64),
        dst=np.array(dst, dtype=np.int64),
        rate_bps=np.array(rate, dtype=np.float64),
        ids=tuple(ids),
    )


def load_maroh_flows(
    path: str | os.PathLike,
    topology: Topology | None = None,
    *,
    time: str = "0",
    name: str | None = None,
) -> TrafficSeries:
    """A MAROH flow set as one traffic matrix: the rates of all flows of a pair added up.

    Args:
        path: ``flows40.json`` or ``flows60.json`` (see `read_maroh_flows`).
        topology: gives the node order and the nodes flows may use; default: nodes in order of
            first appearance in the file.
        time: the key of ``all_bandwidth`` to read.
        name: the series' label; default ``<folder>-<stem>``, e.g. ``rhombus-flows40``.

    Returns:
        A one-step series at `DEFAULT_START`, `DEFAULT_INTERVAL_S`. Shape [1, N, N].
    """
    # the traffic package re-exports this module, so its series module is imported when needed
    from rlte.net.traffic.series import DEFAULT_INTERVAL_S, DEFAULT_START, _build, _timestamps

    path = Path(path)
    flows = read_maroh_flows(path, topology, time=time)
    return _build(
        str(path),
        nodes=flows.nodes,
        demands=flows.matrix()[None],
        timestamps=_timestamps(DEFAULT_START, 1, DEFAULT_INTERVAL_S, str(path)),
        interval_s=DEFAULT_INTERVAL_S,
        name=name or f"{path.parent.name}-{path.stem}",
    )
