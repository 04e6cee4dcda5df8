"""Where a topology or traffic named by one string comes from: the one resolver of source names.

The command line, experiment specs and scenarios name their inputs with strings (``abilene``,
``maroh/rhombus``, ``sndlib/geant``, ``gravity:1e9``, ``my/file.gml``). `resolve_topology` and
`resolve_traffic` turn such a name into a description of its source (a built-in, a file in the
data directory with its resolved path, a topohub id, a file and its format, a generator and its
parameters) without parsing anything; `rlte.net.topology.load_topology` and
`rlte.net.traffic.load_traffic` then hand the description to the right parser. This module is
the only one of `rlte.net` that asks `rlte.datadir` where the data directory is.

Unknown names raise `RlteError` with the closest known names.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from rlte.datadir import data_file
from rlte.errors import RlteError
from rlte.net.builtin_topologies import BUILTINS
from rlte.net.inputs import read_text, shown, suggest
from rlte.net.topology_formats import is_topohub_id, topohub_ids

#: Topology names resolved inside the data directory -> their file there.
DATA_TOPOLOGIES = {
    "abilene": "abilene/Abilene",
    "maroh/rhombus": "maroh/rhombus/topology.gml",
    "maroh/abilene": "maroh/abilene/topology.gml",
    "maroh/symm16": "maroh/symm16/topology.gml",
    "maroh/geant2009": "maroh/geant2009/topology.gml",
}
#: Traffic names resolved inside the data directory -> their file there.
DATA_TRAFFIC = {
    "abilene": "abilene/AbileneTM",
    "geant": "geant_sndlib/geant_sndlib_20050504-20050507_15min_mbps.csv",
}
#: The format of each file of `DATA_TRAFFIC`.
DATA_TRAFFIC_FORMATS = {"abilene": "abilene-tm", "geant": "sndlib-csv"}
#: A MAROH flow set in the data directory: ``maroh/<net>/flows<N>`` (``.json`` optional).
MAROH_FLOWS_PATTERN = re.compile(r"maroh/[^/]+/flows\d+(\.json)?")
#: Traffic generators a spec can name (``uniform:RATE``, ``gravity:TOTAL``) -> their parameter.
GENERATORS = {"uniform": "rate_bps", "gravity": "total_bps"}

#: Topology file extension -> format (see `topology_file_format`).
TOPOLOGY_SUFFIXES = {".gml": "gml", ".graphml": "graphml", ".json": "node-link-json", ".csv": "edge-csv"}
#: Every topology format, as `TopologySource.format` names it.
TOPOLOGY_FORMATS = (*TOPOLOGY_SUFFIXES.values(), "abilene-table")
#: Every traffic format, as `TrafficSource.format` names it.
TRAFFIC_FORMATS = ("abilene-tm", "sndlib-csv", "sndlib-xml", "long-csv", "maroh-flows")

TRAFFIC_SPECS_HELP = (
    "abilene, geant, topohub, maroh/<net>/flows40 or flows60, uniform:RATE, gravity:TOTAL, "
    "or a traffic file (.csv, .xml, .json, Abilene TM)"
)


@dataclass(frozen=True)
class TopologySource:
    """Where a topology comes from.

    Attributes:
        kind: ``"builtin"`` (`rlte.net.builtin_topologies.BUILTINS`), ``"data"`` (a file in the
            data directory), ``"file"`` (a file named by its path) or ``"topohub"`` (an id).
        spec: the name it was resolved from (the id, for topohub; the built-in's name).
        path: the file, for ``"data"`` and ``"file"``.
        format: the file's format, one of `TOPOLOGY_FORMATS`, for ``"data"`` and ``"file"``.
        name: the label the loaded topology gets, when not the one its file gives it.
    """

    kind: str
    spec: str
    path: Path | None = None
    format: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class TrafficSource:
    """Where traffic comes from.

    Attributes:
        kind: ``"data"`` (a file in the data directory), ``"file"`` (a file or a folder of SNDlib
            XML files named by its path), ``"topohub"`` (the topology's own static matrix) or
            ``"generator"``.
        spec: the name it was resolved from.
        path: the file or folder, for ``"data"`` and ``"file"``.
        format: one of `TRAFFIC_FORMATS`, for ``"data"`` and ``"file"``.
        files: the XML files of a folder, in name order (else just ``path``).
        name: the label the loaded series gets, when not the one its reader gives it.
        nodes_path: for a MAROH flow set, the ``topology.gml`` beside it that orders the nodes
            when no topology is given (None when there is none).
        generator: the generator's name (a key of `GENERATORS`), for ``"generator"``.
        parameters: the generator's parameters (``rate_bps`` or ``total_bps``, bit/s).
        needs_topology: the source only makes sense over a given topology's nodes.
    """

    kind: str
    spec: str
    path: Path | None = None
    format: str | None = None
    files: tuple[Path, ...] = ()
    name: str | None = None
    nodes_path: Path | None = None
    generator: str | None = None
    parameters: dict[str, float] = field(default_factory=dict)
    needs_topology: bool = False


# ---------------------------------------------------------------------- names and files
def _check_name(spec: str, what: str) -> str:
    """``spec``, unless it cannot name anything: empty, or holding a NUL (which no file name has)."""
    if not spec.strip():
        raise RlteError(f"{what} {spec!r}: empty name")
    if "\0" in spec:
        raise RlteError(f"{what} {shown(spec)}: a name cannot hold a NUL character")
    return spec


def _exists(path: Path) -> bool:
    """Whether ``path`` exists; a name the system refuses to look up (one too long, say) is an error."""
    try:
        return path.exists()
    except OSError as err:
        raise RlteError(f"{shown(str(path))}: not a usable file name ({err.strerror or err})") from None


# ---------------------------------------------------------------------- file formats
def topology_file_format(path: Path) -> str:
    """The format of a topology file: by extension (`TOPOLOGY_SUFFIXES`), else an Abilene link
    table when the text starts with ``Node_num``.

    Raises:
        RlteError: the file is missing or of no known format.
    """
    if not _exists(path):
        raise RlteError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in TOPOLOGY_SUFFIXES:
        return TOPOLOGY_SUFFIXES[suffix]
    if read_text(path)[:64].startswith("Node_num"):
        return "abilene-table"
    raise RlteError(f"{path}: unknown topology format (use .gml, .graphml, .json, .csv or an Abilene table)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def traffic_file_format(path: Path) -> str:
    """The format of a traffic file, by extension and content.

    ``.json``: ``maroh-flows``; ``.xml`` (or text starting with ``<``): ``sndlib-xml``; ``.csv``
    or other text whose header has ``src,dst,rate_bps``: ``long-csv``, whose header starts
    ``time,`` with ``src->dst`` columns: ``sndlib-csv``; other text of numbers: ``abilene-tm``.

    Raises:
        RlteError: the file is missing or of no known format.
    """
    if not _exists(path):
        raise RlteError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "maroh-flows"
    if suffix == ".xml":
        return "sndlib-xml"
    head = read_text(path)[:4096]
    if head.lstrip().startswith("<"):
        return "sndlib-xml"
    first_line = head.splitlines()[0] if head.strip() else ""
    header = [h.strip() for h in first_line.split(",")]
    if {"src", "dst", "rate_bps"} <= set(header):
        return "long-csv"
    if header and header[0] == "time" and any("->" in h for h in header[1:]):
        return "sndlib-csv"
    if suffix == ".csv":
        raise RlteError(f"{path}: unknown CSV layout (want 'time,src->dst,...' or 'time,src,dst,rate_bps')")
    if first_line.split() and all(_is_number(x) for x in first_line.split()):
        return "abilene-tm"
    raise RlteError(f"{path}: unknown traffic format (use .csv, .xml, .json or an Abilene TM file)")


def traffic_file_source(path: str | os.PathLike, spec: str | None = None) -> TrafficSource:
    """The source of a traffic file, or of a folder of SNDlib XML files (one matrix each).

    Raises:
        RlteError: the file is missing, of no known format, or the folder holds no ``.xml`` file.
    """
    path = Path(path)
    spec = str(path) if spec is None else spec
    if _exists(path) and path.is_dir():
        files = tuple(sorted(path.glob("*.xml")))
        if not files:
            raise RlteError(f"{path}: a folder without .xml demand files")
        return TrafficSource("file", spec, path=path, format="sndlib-xml", files=files)
    return TrafficSource("file", spec, path=path, format=traffic_file_format(path), files=(path,))


# ---------------------------------------------------------------------- resolvers
def resolve_topology(spec: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> TopologySource:
    """Where the topology named ``spec`` comes from.

    ``spec`` is, in order of precedence: a built-in (``nsfnet14``, ``grid6x6``); a data-directory
    name (`DATA_TOPOLOGIES`: ``abilene``, ``maroh/rhombus``, ...); an existing file, or a name
    ending ``.gml``, ``.graphml``, ``.json``, ``.csv`` or ``.txt``; a topohub id.

    Args:
        spec: the name (a path may be given as a `pathlib.Path`).
        data_dir: the data directory (see `rlte.datadir.data_dir`); only read for data names.

    Returns:
        The source, with the resolved path and format of a file.

    Raises:
        RlteError: nothing matches (close names are suggested), or a named file is missing.
    """
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        raise RlteError(f"topology {shown(spec)}: a topology is named by a string")
    _check_name(spec, "topology")
    if spec in BUILTINS:
        return TopologySource("builtin", spec)
    if spec in DATA_TOPOLOGIES:
        path = data_file(DATA_TOPOLOGIES[spec], data_dir)
        return TopologySource(
            "data", spec, path=path, format=topology_file_format(path), name=spec.replace("/", "-")
        )
    path = Path(spec)
    if _exists(path) or path.suffix.lower() in {*TOPOLOGY_SUFFIXES, ".txt"}:
        return TopologySource("file", spec, path=path, format=topology_file_format(path))
    if "/" in spec:
        if not is_topohub_id(spec):
            raise RlteError(f"topology {spec!r}: unknown topohub id{suggest(spec, topohub_ids())}")
        return TopologySource("topohub", spec)
    known = list(BUILTINS) + list(DATA_TOPOLOGIES) + topohub_ids()
    raise RlteError(f"topology {spec!r}: not a built-in, a file or a topohub id{suggest(spec, known)}")


def resolve_traffic(spec: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> TrafficSource:
    """Where the traffic named ``spec`` comes from.

    ``spec`` is one of (surrounding spaces ignored):

    - a data-directory name (`DATA_TRAFFIC`): ``abilene`` (the Abilene week), ``geant``;
    - ``topohub``: the topology's own static demand matrix;
    - ``maroh/<net>/flows40`` or ``maroh/<net>/flows60``: a MAROH flow set in the data directory;
    - ``uniform:RATE`` or ``gravity:TOTAL``: a generator over the topology's nodes, RATE or TOTAL
      in bit/s (``1e9``, ``500M``, see `parse_rate`);
    - an existing traffic file or folder, or a name ending ``.csv``, ``.xml``, ``.json`` or ``.txt``.

    Args:
        spec: the name.
        data_dir: the data directory (see `rlte.datadir.data_dir`); only read for data names.

    Returns:
        The source.

    Raises:
        RlteError: an unknown name (close names are suggested and the accepted ones listed), a
            bad generator parameter, or a named file that is missing.
    """
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        raise RlteError(f"traffic {shown(spec)}: traffic is named by a string")
    spec = _check_name(spec, "traffic").strip()
    kind, _, argument = spec.partition(":")
    if spec in DATA_TRAFFIC:
        path = data_file(DATA_TRAFFIC[spec], data_dir)
        return TrafficSource(
            "data", spec, path=path, format=DATA_TRAFFIC_FORMATS[spec], files=(path,), name=spec
        )
    if spec == "topohub":
        return TrafficSource("topohub", spec, needs_topology=True)
    if argument and kind in GENERATORS:
        value = parse_rate(argument, f"traffic {spec!r}")
        return TrafficSource(
            "generator", spec, generator=kind, parameters={GENERATORS[kind]: value}, needs_topology=True
        )
    if MAROH_FLOWS_PATTERN.fullmatch(spec):
        path = data_file(spec if spec.endswith(".json") else f"{spec}.json", data_dir)
        beside = path.parent / "topology.gml"
        return TrafficSource(
            "data",
            spec,
            path=path,
            format="maroh-flows",
            files=(path,),
            nodes_path=beside if beside.exists() else None,
        )
    if _exists(Path(spec)) or Path(spec).suffix.lower() in (".csv", ".xml", ".json", ".txt"):
        return traffic_file_source(spec, spec)
    known = [
        *DATA_TRAFFIC,
        "topohub",
        *(
            f"{net}/{flows}"
            for net in DATA_TOPOLOGIES
            if net.startswith("maroh/")
            for flows in ("flows40", "flows60")
        ),
        *(f"{name}:" for name in GENERATORS),
    ]
    raise RlteError(f"traffic {spec!r}: unknown{suggest(spec, known)}; use {TRAFFIC_SPECS_HELP}")


# ---------------------------------------------------------------------- parameters
_RATE_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def parse_rate(text: str, where: str = "rate") -> float:
    """A rate in bit/s from ``1e9``, ``500M``, ``2.5G``, ``100k`` (suffixes are powers of 1000)."""
    match = re.fullmatch(r"\s*([0-9.eE+-]+?)\s*([kKmMgGtT]?)(?:bps|bit/s)?\s*", text)
    try:
        value = float(match.group(1)) * _RATE_SUFFIX[match.group(2).lower()] if match else math.nan
    except ValueError:
        value = math.nan
    if not (value >= 0) or math.isinf(value):
        raise RlteError(f"{where}: {text!r} is not a rate (a number of bit/s >= 0, e.g. 1e9 or 500M)")
    return value
