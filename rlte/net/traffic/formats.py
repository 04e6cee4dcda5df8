"""Readers of traffic files: each parses one format into a validated `TrafficSeries`.

- `load_abilene_tm`: Yin Zhang's Abilene traffic matrices (the "X" format of ``AbileneTM``);
- `load_sndlib_csv`: a wide CSV ``time,a->b,...`` (the GEANT matrices of the data directory);
- `load_sndlib_xml`: SNDlib native XML demand files, one matrix a file;
- `load_traffic_csv`: a long CSV ``time,src,dst,rate_bps``, one row a demand.

MAROH flow sets are read by `rlte.net.flows`. Every reader names the file, and the line, in its
errors, and refuses a series larger than `rlte.net.inputs.MAX_TRAFFIC_VALUES` before allocating it.
Units: bit/s for rates, seconds for times.
"""

from __future__ import annotations

import csv
import math
import os
import re
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rlte.errors import RlteError
from rlte.net.inputs import brief, check_node_count, check_traffic_size, read_bytes, read_text, shown
from rlte.net.topology import ABILENE_NODES, Topology
from rlte.net.traffic.series import (
    DEFAULT_INTERVAL_S,
    DEFAULT_START,
    TrafficSeries,
    _build,
    _first_bad_value,
    _node_names,
    _timestamps,
    _zero_diagonal,
)

#: The Abilene TM unit: one count is 100 bytes in a 5-minute bin (the data was sampled 1 in 100).
ABILENE_UNIT_BYTES = 100.0
#: The first bin of the Abilene week shipped in the data directory.
ABILENE_START = np.datetime64("2004-03-01T00:00:00", "s")
#: SNDlib XML ``<meta><unit>`` values, in bit/s.
SNDLIB_UNITS_BPS = {"BITPERSEC": 1.0, "KBITPERSEC": 1e3, "MBITPERSEC": 1e6, "GBITPERSEC": 1e9}


# ---------------------------------------------------------------------- helpers
def _check_values(values: np.ndarray, nodes: Sequence[str], where_of_step) -> None:
    """Raise on the first negative, NaN or infinite value, naming where it came from."""
    problem = _first_bad_value(values)
    if problem is not None:
        t, s, d, kind = problem
        raise RlteError(
            f"{where_of_step(t)}: {kind} value {float(values[t, s, d])!r} for {nodes[s]} -> {nodes[d]}"
        )


def _parse_time(text: str, where: str) -> np.datetime64:
    """``YYYYMMDD-HHMM`` (SNDlib), or ISO 8601 (a space may separate date and time), in years
    1 to 9999."""
    text = text.strip()
    try:
        return np.datetime64(datetime.strptime(text, "%Y%m%d-%H%M"), "s")
    except ValueError:
        pass
    try:
        with warnings.catch_warnings():  # numpy warns on a time zone suffix and applies it
            warnings.simplefilter("ignore", UserWarning)
            moment = np.datetime64(text.replace(" ", "T"), "s")
    except (ValueError, OverflowError):
        moment = np.datetime64("NaT")
    if np.isnat(moment) or not (1 <= moment.astype("datetime64[Y]").astype(np.int64) + 1970 <= 9999):
        raise RlteError(f"{where}: time {shown(text)} is not a time (use YYYYMMDD-HHMM or ISO 8601)")
    return moment


def _interval_from(timestamps: np.ndarray, default: float) -> float:
    if len(timestamps) < 2:
        return default
    return float(np.median(np.diff(timestamps).astype(np.int64)))


def _numbers(fields: Sequence[str]) -> np.ndarray | int:
    """The fields as float64, or the position of the first one that is not a number."""
    try:
        return np.array(fields, dtype=np.float64)
    except ValueError:
        pass
    for k, text in enumerate(fields):
        try:
            np.float64(text)
        except ValueError:
            return k
    raise AssertionError("numpy refused the fields together but accepted each")  # pragma: no cover


def _csv_rows(text: str, path: Path) -> list[list[str]]:
    try:
        return list(csv.reader(text.splitlines()))
    except csv.Error as err:
        raise RlteError(f"{path}: not a valid CSV file ({brief(err)})") from None


# ---------------------------------------------------------------------- Abilene TM
def load_abilene_tm(
    path: str | os.PathLike,
    *,
    nodes: Sequence[str] = ABILENE_NODES,
    start: str | np.datetime64 = ABILENE_START,
    interval_s: float = 300.0,
    name: str = "abilene",
) -> TrafficSeries:
    """Yin Zhang's Abilene traffic matrices in the ``AbileneTM`` ("X") format.

    One matrix per line: N*N whitespace-separated numbers, row-major (source row, destination
    column). A value counts units of 100 bytes in one bin (the data was sampled 1 in 100), so
    ``bit/s = x * 100 * 8 / interval_s``. Self-traffic (the diagonal) is dropped. Blank lines are
    skipped.

    Args:
        path: the file (``abilene/AbileneTM`` in the data directory).
        nodes: node names in the file's order (default: `ABILENE_NODES`).
        start: the first bin's start (default 2004-03-01 00:00, the week in the data directory).
        interval_s: bin length in seconds.
        name: the series' label.

    Returns:
        The series. Shape [T, N, N].

    Raises:
        RlteError: a line without N*N numbers, a negative or non-finite value, or more matrices
            than `MAX_TRAFFIC_VALUES` allows.
    """
    path = Path(path)
    nodes = tuple(nodes)
    n = len(nodes)
    check_node_count(n, str(path))
    rows: list[np.ndarray] = []
    line_of_step: list[int] = []
    for line_number, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != n * n:
            raise RlteError(f"{path}:{line_number}: expected {n * n} numbers, found {len(fields)}")
        check_traffic_size(len(rows) + 1, n, str(path))
        values = _numbers(fields)
        if isinstance(values, int):
            raise RlteError(f"{path}:{line_number}: {shown(fields[values])} is not a number")
        rows.append(values)
        line_of_step.append(line_number)
    if not rows:
        raise RlteError(f"{path}: no traffic matrices")
    values = np.stack(rows).reshape(len(rows), n, n)
    _check_values(values, nodes, lambda t: f"{path}:{line_of_step[t]}")
    with np.errstate(over="ignore"):  # a value near the float maximum becomes inf: validation names it
        demands = _zero_diagonal(values * (ABILENE_UNIT_BYTES * 8.0 / interval_s))
    return _build(
        str(path),
        nodes=nodes,
        demands=demands,
        timestamps=_timestamps(start, len(rows), interval_s, str(path)),
        interval_s=interval_s,
        name=name,
    )


# ---------------------------------------------------------------------- SNDlib CSV (wide)
def load_sndlib_csv(
    path: str | os.PathLike,
    *,
    unit_bps: float = 1e6,
    interval_s: float | None = None,
    name: str | None = None,
) -> TrafficSeries:
    """A wide CSV of traffic matrices, as the GEANT data in the data directory.

    Header ``time,a->b,a->c,...``; one row per interval; ``time`` as ``YYYYMMDD-HHMM`` or ISO
    8601; values in Mbit/s (``unit_bps``). Nodes are numbered in order of first appearance in the
    header; pairs without a column are 0; self-traffic columns (``a->a``) are dropped.

    Args:
        path: the file.
        unit_bps: bit/s per unit of the values (1e6: Mbit/s).
        interval_s: interval length; default: the median gap between timestamps (300 s for a
            single row).
        name: the series' label; default: the file's stem.

    Returns:
        The series. Shape [T, N, N].

    Raises:
        RlteError: no ``time`` column, a column not named ``src->dst``, a duplicate column, a row
            with the wrong number of fields, a value that is not a finite number >= 0,
            timestamps out of order, or a series larger than `MAX_TRAFFIC_VALUES`.
    """
    path = Path(path)
    rows = _csv_rows(read_text(path), path)
    if not rows or not rows[0]:
        raise RlteError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    if header[0] != "time":
        raise RlteError(f"{path}:1: the first column must be 'time', found {shown(header[0])}")
    nodes: list[str] = []
    position: dict[str, int] = {}
    pairs: list[tuple[int, int]] = []
    seen: set[str] = set()
    for column in header[1:]:
        parts = column.split("->")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise RlteError(f"{path}:1: column {shown(column)} is not 'src->dst'")
        if column in seen:
            raise RlteError(f"{path}:1: duplicate column {shown(column)}")
        seen.add(column)
        ends = []
        for node in (parts[0].strip(), parts[1].strip()):
            if node not in position:
                position[node] = len(nodes)
                nodes.append(node)
            ends.append(position[node])
        pairs.append((ends[0], ends[1]))
    if not pairs:
        raise RlteError(f"{path}:1: no 'src->dst' columns")
    data = [(i, row) for i, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not data:
        raise RlteError(f"{path}: no rows after the header")
    n = len(nodes)
    check_traffic_size(len(data), n, str(path))
    times = []
    values = np.zeros((len(data), len(pairs)))
    for t, (line, row) in enumerate(data):
        if len(row) != len(header):
            raise RlteError(f"{path}:{line}: expected {len(header)} fields, found {len(row)}")
        times.append(_parse_time(row[0], f"{path}:{line}"))
        numbers = _numbers(row[1:])
        if isinstance(numbers, int):
            raise RlteError(
                f"{path}:{line}: column {shown(header[numbers + 1])} value {shown(row[numbers + 1])} "
                "is not a number"
            )
        values[t] = numbers
    src = np.array([s for s, _ in pairs])
    dst = np.array([d for _, d in pairs])
    matrices = np.zeros((len(data), n, n))
    matrices[:, src, dst] = values
    _check_values(matrices, nodes, lambda t: f"{path}:{data[t][0]}")
    timestamps = np.array(times, dtype="datetime64[s]")
    interval = interval_s if interval_s is not None else _interval_from(timestamps, DEFAULT_INTERVAL_S)
    with np.errstate(over="ignore"):  # a value near the float maximum becomes inf: validation names it
        demands = _zero_diagonal(matrices * unit_bps)
    return _build(
        str(path),
        nodes=nodes,
        demands=demands,
        timestamps=timestamps,
        interval_s=interval,
        name=name or path.stem,
    )


# ---------------------------------------------------------------------- SNDlib XML
class _XmlMatrix(NamedTuple):
    nodes: list[str] | None
    demands: list[tuple[str, str, float]]
    time: np.datetime64 | None
    interval_s: float | None
    unit_bps: float | None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element, name: str):
    return next((c for c in element if _local(c.tag) == name), None)


def _granularity_s(text: str) -> float | None:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|min|h|hour|d|day)s?\s*", text or "", re.IGNORECASE)
    if not match:
        return None
    scale = {"s": 1, "sec": 1, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
    return float(match.group(1)) * scale[match.group(2).lower()]


def _read_sndlib_xml(path: Path) -> _XmlMatrix:
    data = read_bytes(path)
    try:
        document: str | bytes = data.decode("utf-8")
    except UnicodeDecodeError:  # then the XML declaration names the encoding (SNDlib's: ISO-8859-1)
        document = data
    try:
        root = ElementTree.fromstring(document)
    except (ElementTree.ParseError, ValueError, LookupError) as err:  # LookupError: unknown encoding
        raise RlteError(f"{path}: not valid XML ({brief(err)})") from None
    if _local(root.tag) != "network":
        raise RlteError(
            f"{path}: not an SNDlib network file (root element <{shown(_local(root.tag))[1:-1]}>)"
        )
    time = interval = unit = None
    meta = _child(root, "meta")
    if meta is not None:
        for item in meta:
            key, value = _local(item.tag), (item.text or "").strip()
            if key == "time" and value:
                time = _parse_time(value, f"{path}: <meta><time>")
            elif key == "granularity":
                interval = _granularity_s(value)
            elif key == "unit" and value:
                if value.upper() not in SNDLIB_UNITS_BPS:
                    raise RlteError(
                        f"{path}: unknown unit {shown(value)} (known: {', '.join(SNDLIB_UNITS_BPS)})"
                    )
                unit = SNDLIB_UNITS_BPS[value.upper()]
    nodes = None
    structure = _child(root, "networkStructure")
    node_list = _child(structure, "nodes") if structure is not None else None
    if node_list is not None:
        nodes = []
        for node in node_list:
            if _local(node.tag) == "node":
                if not node.get("id"):
                    raise RlteError(f"{path}: a <node> without an id")
                nodes.append(node.get("id"))
        check_node_count(len(nodes), str(path))
    demands_element = _child(root, "demands")
    if demands_element is None:
        raise RlteError(f"{path}: no <demands> element")
    known = None if nodes is None else set(nodes)
    demands = []
    for k, demand in enumerate(d for d in demands_element if _local(d.tag) == "demand"):
        label = demand.get("id") or f"#{k + 1}"
        parts = {}
        for key in ("source", "target", "demandValue"):
            element = _child(demand, key)
            if element is None or not (element.text or "").strip():
                raise RlteError(f"{path}: demand {shown(label)} has no <{key}>")
            parts[key] = element.text.strip()
        try:
            value = float(parts["demandValue"])
        except ValueError:
            raise RlteError(
                f"{path}: demand {shown(label)} has demandValue {shown(parts['demandValue'])}, not a number"
            ) from None
        if not (value >= 0) or math.isinf(value):
            raise RlteError(
                f"{path}: demand {shown(label)} has demandValue {value!r}; it must be a finite number >= 0"
            )
        if known is not None:
            for key in ("source", "target"):
                if parts[key] not in known:
                    raise RlteError(
                        f"{path}: demand {shown(label)} has {key} {shown(parts[key])}, which is not a node"
                    )
        demands.append((parts["source"], parts["target"], value))
    return _XmlMatrix(nodes, demands, time, interval, unit)


def load_sndlib_xml(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    unit_bps: float | None = None,
    interval_s: float | None = None,
    start: str | np.datetime64 | None = None,
    name: str | None = None,
) -> TrafficSeries:
    """SNDlib native XML demand files: one file is one matrix, a list of files a series.

    Reads ``<network>`` (namespace ``http://sndlib.zib.de/network`` or none) with optional
    ``<meta>`` (``time``, ``granularity`` such as ``15min``, ``unit`` such as ``MBITPERSEC``),
    optional ``<networkStructure><nodes><node id=...>`` and ``<demands><demand>`` elements with
    ``<source>``, ``<target>`` and ``<demandValue>``. Several demands of one pair add up;
    self-demands are dropped. Nodes come from the first file that lists them, else in order of
    first appearance in the demands. A file that is not UTF-8 is read in the encoding its XML
    declaration names (SNDlib's files declare ISO-8859-1).

    Timestamps: each file's ``<meta><time>``, else a ``YYYYMMDD-HHMM`` in its file name (as in
    SNDlib's ``demandMatrix-geant-uhlig-15min-20050504-1500.xml``); files are then sorted by
    time. When some file has neither, the files keep their order and get ``start`` +
    k * ``interval_s``.

    Args:
        paths: one file or a sequence of files.
        unit_bps: bit/s per unit of demandValue; default: the files' ``<meta><unit>``, else Mbit/s.
        interval_s: default: the files' granularity, else the median gap between their times,
            else `DEFAULT_INTERVAL_S`.
        start: first timestamp when the files carry no times (default `DEFAULT_START`).
        name: the series' label; default: the (first) file's stem.

    Returns:
        The series. Shape [number of files, N, N].

    Raises:
        RlteError: invalid XML, a demand without source, target or value, a value that is not a
            finite number >= 0, a demand naming an unlisted node, two files with one time, or a
            series larger than `MAX_TRAFFIC_VALUES`.
    """
    path_list = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not path_list:
        raise RlteError("load_sndlib_xml: no files given")
    matrices = [_read_sndlib_xml(p) for p in path_list]
    times: list[np.datetime64 | None] = []
    for p, matrix in zip(path_list, matrices, strict=True):
        found = matrix.time
        if found is None:
            match = re.search(r"(\d{8}-\d{4})", p.name)
            found = _parse_time(match.group(1), str(p)) if match else None
        times.append(found)
    order = list(range(len(path_list)))
    if all(t is not None for t in times):
        order.sort(key=lambda k: times[k])
        for a, b in pairwise(order):
            if times[a] == times[b]:
                raise RlteError(f"{path_list[b]}: same time {times[b]} as {path_list[a]}")
    nodes: list[str] | None = next((m.nodes for m in matrices if m.nodes is not None), None)
    if nodes is None:
        nodes = []
        seen: set[str] = set()
        for matrix in matrices:
            for s, t, _ in matrix.demands:
                for node in (s, t):
                    if node not in seen:
                        seen.add(node)
                        nodes.append(node)
    position = {node: i for i, node in enumerate(nodes)}
    n = len(nodes)
    check_traffic_size(len(order), n, str(path_list[0]))
    demands = np.zeros((len(order), n, n))
    for step, k in enumerate(order):
        matrix = matrices[k]
        scale = unit_bps if unit_bps is not None else matrix.unit_bps if matrix.unit_bps is not None else 1e6
        for s, t, value in matrix.demands:
            if s not in position or t not in position:
                missing = s if s not in position else t
                raise RlteError(
                    f"{path_list[k]}: demand names node {shown(missing)}, which {path_list[0]} does not list"
                )
            with np.errstate(over="ignore"):  # too large becomes inf: validation names it
                demands[step, position[s], position[t]] += value * scale
    granularity = next((m.interval_s for m in matrices if m.interval_s is not None), None)
    if all(t is not None for t in times):
        timestamps = np.array([times[k] for k in order], dtype="datetime64[s]")
        interval = interval_s or granularity or _interval_from(timestamps, DEFAULT_INTERVAL_S)
    else:
        interval = interval_s or granularity or DEFAULT_INTERVAL_S
        first = start if start is not None else DEFAULT_START
        timestamps = _timestamps(first, len(order), interval, str(path_list[0]))
    return _build(
        str(path_list[0]),
        nodes=nodes,
        demands=_zero_diagonal(demands),
        timestamps=timestamps,
        interval_s=interval,
        name=name or path_list[0].stem,
    )


# ---------------------------------------------------------------------- long CSV
def load_traffic_csv(
    path: str | os.PathLike,
    nodes: Sequence[str] | Topology | None = None,
    *,
    interval_s: float | None = None,
    name: str | None = None,
) -> TrafficSeries:
    """A long-format CSV: header ``time,src,dst,rate_bps`` (``time`` optional), one row per
    demand.

    Without a ``time`` column the file is one matrix. With one, each distinct time (``YYYYMMDD-HHMM``
    or ISO 8601) is a step, in time order. Pairs without a row are 0; rows of one pair and time
    add up (so a list of flows works too). Nodes are numbered in order of first appearance unless
    ``nodes`` is given. Other columns are ignored.

    Args:
        path: the file.
        nodes: node names (or a topology) rows must use; default: from the file.
        interval_s: default: the median gap between times, else `DEFAULT_INTERVAL_S`.
        name: the series' label; default: the file's stem.

    Returns:
        The series. Shape [number of times, N, N].

    Raises:
        RlteError: a missing or duplicate column, a row with more fields than the header, an
            unknown node (with ``nodes``), ``src`` equal to ``dst``, a rate that is not a finite
            number >= 0, a bad time, or a series larger than `MAX_TRAFFIC_VALUES`.
    """
    path = Path(path)
    rows = _csv_rows(read_text(path), path)
    header = rows[0] if rows else []
    columns = [c.strip() for c in header]
    missing = [c for c in ("src", "dst", "rate_bps") if c not in columns]
    if missing:
        raise RlteError(
            f"{path}:1: missing column {missing[0]!r} (header must be time,src,dst,rate_bps; time optional)"
        )
    duplicate = next((c for i, c in enumerate(columns) if c in columns[:i]), None)
    if duplicate is not None:
        raise RlteError(f"{path}:1: duplicate column {shown(duplicate)}")
    has_time = "time" in columns
    fixed = nodes is not None
    names = list(_node_names(nodes)) if fixed else []
    where_is = {n: i for i, n in enumerate(names)}
    label = f"topology {nodes.name!r}" if isinstance(nodes, Topology) else "the given nodes"
    records = []
    for line, fields in enumerate(rows[1:], start=2):
        if len(fields) > len(columns):
            raise RlteError(f"{path}:{line}: expected {len(columns)} fields, found {len(fields)}")
        row = dict(zip(columns, (v.strip() for v in fields)))
        if not any(row.values()):
            continue
        row = {c: row.get(c, "") for c in columns}
        ends = []
        for key in ("src", "dst"):
            node = row[key]
            if not node:
                raise RlteError(f"{path}:{line}: empty {key}")
            if node not in where_is:
                if fixed:
                    raise RlteError(f"{path}:{line}: {key} {shown(node)} is not a node of {label}")
                where_is[node] = len(names)
                names.append(node)
                check_node_count(len(names), str(path))
            ends.append(where_is[node])
        if ends[0] == ends[1]:
            raise RlteError(f"{path}:{line}: src and dst are both {shown(row['src'])}")
        try:
            rate = float(row["rate_bps"])
        except ValueError:
            raise RlteError(f"{path}:{line}: rate_bps {shown(row['rate_bps'])} is not a number") from None
        if not (rate >= 0) or math.isinf(rate):
            raise RlteError(f"{path}:{line}: rate_bps {rate!r} must be a finite number >= 0")
        moment = _parse_time(row["time"], f"{path}:{line}") if has_time else DEFAULT_START
        records.append((moment, ends[0], ends[1], rate))
    if not records:
        raise RlteError(f"{path}: no rows after the header")
    timestamps = np.unique(np.array([r[0] for r in records], dtype="datetime64[s]"))
    check_traffic_size(len(timestamps), len(names), str(path))
    step = {t: k for k, t in enumerate(timestamps.tolist())}
    demands = np.zeros((len(timestamps), len(names), len(names)))
    with np.errstate(over="ignore"):  # rows adding up past the float maximum give inf: validation names it
        for moment, s, d, rate in records:
            demands[step[moment.tolist()], s, d] += rate
    interval = interval_s if interval_s is not None else _interval_from(timestamps, DEFAULT_INTERVAL_S)
    return _build(
        str(path),
        nodes=names,
        demands=demands,
        timestamps=timestamps,
        interval_s=interval,
        name=name or path.stem,
    )
