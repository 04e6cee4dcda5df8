"""The resolver of source names (rlte.net.sources) on a tiny data directory written here, and the
shape of the layer: only the resolver asks rlte.datadir, and every module imports on its own."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rlte.errors import RlteError
from rlte.net.sources import (
    DATA_TOPOLOGIES,
    TOPOLOGY_FORMATS,
    TRAFFIC_FORMATS,
    TRAFFIC_SPECS_HELP,
    TopologySource,
    TrafficSource,
    resolve_topology,
    resolve_traffic,
    topology_file_format,
    traffic_file_format,
)
from rlte.net.topology import load_topology, read_topology
from rlte.net.topology_formats import TOPOLOGY_READERS
from rlte.net.traffic import load_traffic, read_traffic

NET = Path(__file__).resolve().parents[2] / "rlte" / "net"

GML = """graph [
  directed 1
  node [ id 0 label "x" ]
  node [ id 1 label "y" ]
  edge [ source 0 target 1 bandwidth 10 ]
  edge [ source 1 target 0 bandwidth 10 ]
]
"""


@pytest.fixture
def data(tmp_path) -> Path:
    """A data directory with a tiny Abilene table and week, and a MAROH net with a flow set."""
    (tmp_path / "abilene").mkdir()
    (tmp_path / "abilene" / "Abilene").write_text(
        "Node_num: 2\tEdge_num: 2\nLink_index\tSource\tDestination\tOSPF\tCapacity(kbps)\n"
        "0\t0\t1\t3\t1000\n1\t1\t0\t4\t1000\n"
    )
    (tmp_path / "abilene" / "AbileneTM").write_text(" ".join(["30"] * 144) + "\n")
    (tmp_path / "maroh" / "rhombus").mkdir(parents=True)
    (tmp_path / "maroh" / "rhombus" / "topology.gml").write_text(GML)
    (tmp_path / "maroh" / "rhombus" / "flows40.json").write_text(
        json.dumps([{"start": "y", "end": "x", "all_bandwidth": {"0": 4.0}, "flow_id": "f"}])
    )
    return tmp_path


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(RlteError) as err:
        call(*args, **kwargs)
    return str(err.value)


# ---------------------------------------------------------------------- topologies
def test_topology_kinds(data, tmp_path):
    assert resolve_topology("nsfnet14") == TopologySource("builtin", "nsfnet14")
    assert resolve_topology("sndlib/geant") == TopologySource("topohub", "sndlib/geant")
    assert resolve_topology("abilene", data) == TopologySource(
        "data", "abilene", path=data / "abilene" / "Abilene", format="abilene-table", name="abilene"
    )
    assert resolve_topology("maroh/rhombus", data) == TopologySource(
        "data",
        "maroh/rhombus",
        path=data / "maroh" / "rhombus" / "topology.gml",
        format="gml",
        name="maroh-rhombus",
    )
    own = tmp_path / "mine.gml"
    own.write_text(GML)
    assert resolve_topology(str(own)) == TopologySource("file", str(own), path=own, format="gml")
    table = data / "abilene" / "Abilene"
    assert resolve_topology(str(table)).format == "abilene-table"


def test_topology_loading_is_resolve_then_read(data):
    for spec in ("nsfnet14", "abilene", "maroh/rhombus", "sndlib/abilene"):
        loaded = load_topology(spec, data_dir=data)
        again = read_topology(resolve_topology(spec, data))
        assert loaded.name == again.name and loaded.nodes == again.nodes
        assert np.array_equal(loaded.capacity, again.capacity) and np.array_equal(loaded.weight, again.weight)
    assert load_topology("maroh/rhombus", data_dir=data).name == "maroh-rhombus"
    assert load_topology("abilene", data_dir=data).weight.tolist() == [3.0, 4.0]


def test_topology_errors(data, tmp_path):
    assert error_of(resolve_topology, "nsfnet15") == (
        "topology 'nsfnet15': not a built-in, a file or a topohub id (did you mean 'nsfnet14'?)"
    )
    assert error_of(resolve_topology, "sndlib/geantt").startswith(
        "topology 'sndlib/geantt': unknown topohub id (did you mean 'sndlib/geant'"
    )
    assert error_of(resolve_topology, "maroh/abilene", data) == (
        f"{data / 'maroh' / 'abilene' / 'topology.gml'}: missing from the data directory"
    )
    assert (
        error_of(resolve_topology, str(tmp_path / "nope.graphml"))
        == f"{tmp_path / 'nope.graphml'}: no such file"
    )
    odd = tmp_path / "odd.txt"
    odd.write_text("hello\n")
    assert error_of(resolve_topology, str(odd)) == (
        f"{odd}: unknown topology format (use .gml, .graphml, .json, .csv or an Abilene table)"
    )
    assert error_of(resolve_topology, 7) == "topology 7: a topology is named by a string"


def test_every_topology_format_has_a_reader():
    assert set(TOPOLOGY_READERS) == set(TOPOLOGY_FORMATS)
    assert set(DATA_TOPOLOGIES) >= {"abilene", "maroh/rhombus"}


# ---------------------------------------------------------------------- traffic
def test_traffic_kinds(data, tmp_path):
    week = resolve_traffic("abilene", data)
    assert week == TrafficSource(
        "data", "abilene", path=data / "abilene" / "AbileneTM", format="abilene-tm",
        files=(data / "abilene" / "AbileneTM",), name="abilene",
    )  # fmt: skip
    flows = resolve_traffic(" maroh/rhombus/flows40 ", data)
    assert flows.kind == "data" and flows.format == "maroh-flows" and flows.spec == "maroh/rhombus/flows40"
    assert flows.path == data / "maroh" / "rhombus" / "flows40.json"
    assert flows.nodes_path == data / "maroh" / "rhombus" / "topology.gml"
    assert resolve_traffic("topohub") == TrafficSource("topohub", "topohub", needs_topology=True)
    assert resolve_traffic("uniform:5M") == TrafficSource(
        "generator", "uniform:5M", generator="uniform", parameters={"rate_bps": 5e6}, needs_topology=True
    )
    assert resolve_traffic("gravity:2.5G").parameters == {"total_bps": 2.5e9}
    folder = tmp_path / "xml"
    folder.mkdir()
    for name in ("b.xml", "a.xml"):
        (folder / name).write_text("<network><demands/></network>")
    assert resolve_traffic(str(folder)).files == (folder / "a.xml", folder / "b.xml")


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("long.csv", "time,src,dst,rate_bps\n", "long-csv"),
        ("wide.csv", "time,a->b\n", "sndlib-csv"),
        ("one.xml", "<network/>", "sndlib-xml"),
        ("one.txt", "  <network/>", "sndlib-xml"),
        ("flows.json", "[]", "maroh-flows"),
        ("TM", "1 2 3 4\n", "abilene-tm"),
    ],
)
def test_traffic_file_formats(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    assert traffic_file_format(path) == expected
    assert expected in TRAFFIC_FORMATS


def test_traffic_loading_is_resolve_then_read(data):
    for spec in ("abilene", "maroh/rhombus/flows40"):
        loaded = load_traffic(spec, data_dir=data)
        again = read_traffic(resolve_traffic(spec, data))
        assert loaded.nodes == again.nodes and np.array_equal(loaded.demands, again.demands)
    assert load_traffic("maroh/rhombus/flows40", data_dir=data).nodes == ("x", "y")  # topology.gml's order


def test_traffic_errors(data, tmp_path):
    assert error_of(resolve_traffic, "nonsense") == f"traffic 'nonsense': unknown; use {TRAFFIC_SPECS_HELP}"
    assert error_of(resolve_traffic, "toophub") == (
        f"traffic 'toophub': unknown (did you mean 'topohub'?); use {TRAFFIC_SPECS_HELP}"
    )
    assert error_of(resolve_traffic, "maroh/rhombus/flows4", data).endswith(
        "flows4.json: missing from the data directory (did you mean 'flows40.json'?)"
    )
    assert error_of(resolve_traffic, "uniform:fast").startswith(
        "traffic 'uniform:fast': 'fast' is not a rate"
    )
    assert error_of(read_traffic, resolve_traffic("uniform:1e9")) == "traffic 'uniform:1e9': needs a topology"
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n")
    assert error_of(resolve_traffic, str(bad)) == (
        f"{bad}: unknown CSV layout (want 'time,src->dst,...' or 'time,src,dst,rate_bps')"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert error_of(resolve_traffic, str(empty)) == f"{empty}: a folder without .xml demand files"


def test_file_formats_need_the_file(tmp_path):
    assert error_of(topology_file_format, tmp_path / "x.gml") == f"{tmp_path / 'x.gml'}: no such file"
    assert error_of(traffic_file_format, tmp_path / "x.csv") == f"{tmp_path / 'x.csv'}: no such file"


# ---------------------------------------------------------------------- the layer's shape
def test_only_the_resolver_asks_the_data_directory():
    imports = re.compile(
        r"^\s*(from rlte\.datadir import|import rlte\.datadir|from rlte import datadir)", re.M
    )
    askers = sorted(
        str(path.relative_to(NET)) for path in NET.rglob("*.py") if imports.search(path.read_text())
    )
    assert askers == ["sources.py"]


def test_every_module_imports_first():
    """No import cycle bites whichever module of rlte.net a program imports first."""
    modules = sorted(
        "rlte.net." + ".".join(path.relative_to(NET).with_suffix("").parts).removesuffix(".__init__")
        for path in NET.rglob("*.py")
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'rlte.net' or m.startswith('rlte.net.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
