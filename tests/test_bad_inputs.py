"""Bad inputs through every command, as a new user would try them: each one gives exit status 2 and
exactly one line on stderr, ``rlte: error: ...``, naming the input and the problem, and no traceback.

One row of `CASES` is one input: the command line (``{tmp}`` is the test's folder, ``{data}`` the
real data folder, for the few rows that need it), the tiny files the row writes there first, and
the fragments its one line must contain (the input it names, and the problem). Every input is
refused before any work starts (nothing is printed on stdout), so the module runs in well under a
minute: no cell runs, no LP is solved, no figure is drawn.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field

import pytest
import yaml

from rlte.cli import main

#: Warning categories Python shows a user by default (a shown warning is a second line on stderr).
_HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


@dataclass(frozen=True)
class Case:
    """One bad input: ``argv`` after writing ``files`` (path relative to ``{tmp}`` -> text or bytes)."""

    argv: tuple[str, ...]
    names: tuple[str, ...]
    """Fragments the one error line must contain (after ``{tmp}`` / ``{data}`` are filled in)."""
    files: dict = field(default_factory=dict)
    data: bool = False
    """Needs the real data folder (skipped without it)."""
    env: dict = field(default_factory=dict)
    """Environment variables set for the command (``{tmp}`` filled in)."""


CASES: list = []


def owned_elsewhere(module: str, change: str):
    """An input whose fix belongs in a module another engineer owns: a strict xfail, so that the row
    starts failing (and its mark is removed) once the change is made."""
    return pytest.mark.xfail(strict=True, reason=f"to fix in {module}: {change}")


def case(case_id: str, argv, names, files=None, *, data: bool = False, env=None, marks=()) -> None:
    """Add a row: ``argv`` (a string is split on spaces), the fragments ``names`` (one string or
    several) its error line must hold, the ``files`` to write first."""
    argv = tuple(argv.split()) if isinstance(argv, str) else tuple(argv)
    names = (names,) if isinstance(names, str) else tuple(names)
    CASES.append(pytest.param(Case(argv, names, files or {}, data, env or {}), id=case_id, marks=marks))


# ---------------------------------------------------------------------- tiny valid pieces
GML_TRIANGLE = 'graph [ node [ id 0 label "a" ] node [ id 1 label "b" ] node [ id 2 label "c" ]\n'
GML_EDGES = "edge [ source 0 target 1 ] edge [ source 1 target 2 ] edge [ source 2 target 0 ]\n"


def gml(edges: str = GML_EDGES, nodes: str = GML_TRIANGLE) -> str:
    return nodes + edges + "]\n"


def gml_first_edge(attributes: str) -> str:
    """The triangle with ``attributes`` on its first edge."""
    return gml(
        f"edge [ source 0 target 1 {attributes} ] edge [ source 1 target 2 ] edge [ source 2 target 0 ]\n"
    )


def graphml(edge_data: str = "", keys: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
        f"{keys}"
        '<graph edgedefault="undirected"><node id="a"/><node id="b"/><node id="c"/>\n'
        f'<edge source="a" target="b">{edge_data}</edge><edge source="b" target="c"/>'
        '<edge source="c" target="a"/>\n'
        "</graph></graphml>\n"
    )


def node_link(**changes) -> str:
    data = {
        "directed": False,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
        "links": [
            {"source": "a", "target": "b"},
            {"source": "b", "target": "c"},
            {"source": "c", "target": "a"},
        ],
    }
    data.update(changes)
    return json.dumps(data)


ABILENE_HEADER = "Node_num: 2 Edge_num: 2\nindex src dst weight capacity\n"
LONG = "src,dst,rate_bps\n"


def sndlib_xml(demands: str, meta: str = "", nodes: str = "") -> str:
    structure = f"<networkStructure><nodes>{nodes}</nodes></networkStructure>" if nodes else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<network xmlns="http://sndlib.zib.de/network">{meta}{structure}'
        f"<demands>{demands}</demands></network>\n"
    )


def demand(source="a", target="b", value="1.0", ident="d1") -> str:
    parts = "".join(
        f"<{key}>{text}</{key}>"
        for key, text in (("source", source), ("target", target), ("demandValue", value))
        if text is not None
    )
    return f'<demand id="{ident}">{parts}</demand>'


def flows(*entries) -> str:
    return json.dumps(list(entries))


def flow(start="0", end="1", bandwidth=1e6, **extra) -> dict:
    entry = {"start": start, "end": end, "all_bandwidth": {"0": bandwidth}}
    entry.update(extra)
    return {key: value for key, value in entry.items() if value is not None}


DROP = object()


def spec(base: dict | None = None, **changes) -> str:
    """A flow-TE spec that is valid but for ``changes`` (`DROP` removes a key)."""
    raw = dict(base or {"name": "bad", "methods": ["ecmp"], "topologies": ["nsfnet14"],
                        "traffic": ["diurnal:uniform:1e6"], "loads": [0.5]})  # fmt: skip
    for key, value in changes.items():
        if value is DROP:
            raw.pop(key, None)
        else:
            raw[key] = value
    return yaml.safe_dump(raw, sort_keys=False)


def scenario_spec(**options) -> str:
    """A flow-TE spec whose one named scenario has ``options``."""
    return spec(scenarios=[{"name": "a", "options": options}])


def paper_spec(**changes) -> str:
    """A flow-TE spec with one published value, valid but for ``changes``."""
    return spec(paper={"values": [{"method": "ecmp", "load": 0.5, "metric": "mlu", "value": 0.9, **changes}]})


def packet_spec(**changes) -> str:
    """A packet-domain spec that is valid but for ``changes``."""
    base = {"name": "pk", "domain": "packet", "methods": ["shortest_path"], "topologies": ["grid6x6"],
            "traffic": ["fixed"], "loads": [1.0]}  # fmt: skip
    return spec(base, **changes)


SPEC = "{tmp}/s.yaml"
RUN = ("run", SPEC, "--dry-run", "--runs-dir", "{tmp}/runs")


def run_case(case_id: str, text, names, *extra, files=None, dry_run: bool = True, marks=()) -> None:
    """``rlte run {tmp}/s.yaml`` on a spec of ``text`` (``--dry-run`` unless told): refused before
    any cell is listed or run; the line names the spec file and ``names``."""
    names = (names,) if isinstance(names, str) else tuple(names)
    argv = RUN if dry_run else ("run", SPEC, "--runs-dir", "{tmp}/runs")
    case(case_id, [*argv, *extra], (SPEC, *names), {"s.yaml": text, **(files or {})}, marks=marks)


# ====================================================================== rlte topo show
def topo(case_id: str, filename: str, content, names=(), *, marks=()) -> None:
    """``rlte topo show`` on a file: the line names the file and ``names``."""
    names = (names,) if isinstance(names, str) else tuple(names)
    path = "{tmp}/" + filename
    case(case_id, ["topo", "show", path], (path, *names), {filename: content}, marks=marks)


case("topo-unknown-name", "topo show nosuch", ("'nosuch'", "not a built-in"))
case("topo-topohub-typo", "topo show sndlib/abilen", ("'sndlib/abilen'", "did you mean 'sndlib/abilene'"))
case("topo-topohub-traversal", "topo show sndlib/../../etc/passwd", ("sndlib/../../etc/passwd", "unknown"))
case("topo-empty-name", ["topo", "show", ""], ("topology ''", "empty name"))
case("topo-blank-name", ["topo", "show", "  "], ("topology '  '", "empty name"))
case("topo-name-too-long", ["topo", "show", "n" * 5000], ("nnnn", "not a usable file name"))
case("topo-missing-gml", "topo show {tmp}/missing.gml", ("{tmp}/missing.gml", "no such file"))
case("topo-missing-txt", "topo show {tmp}/missing.txt", ("{tmp}/missing.txt", "no such file"))
case("topo-folder", "topo show {tmp}/folder", ("{tmp}/folder", "folder"), {"folder/x": ""})
case("topo-folder-named-gml", "topo show {tmp}/d.gml", ("{tmp}/d.gml", "folder"), {"d.gml/x": ""})
topo("gml-syntax", "bad.gml", "graph [ node [ id 0 ", "not valid GML")
topo("gml-empty", "empty.gml", "", "GML")
topo("gml-binary", "bin.gml", b"\x00\x01\x02graph", "not a text file")
topo("gml-latin1", "latin.gml", 'graph [ node [ id 0 label "Zürich" ] ]'.encode("latin-1"), "not a text")
topo("gml-no-nodes", "none.gml", "graph [ ]", ())
topo("gml-one-node", "one.gml", "graph [ node [ id 0 ] ]", ())
topo("gml-edge-to-unknown-node", "unk.gml", gml("edge [ source 0 target 9 ]"), ())
topo("gml-self-loop", "loop.gml", gml(GML_EDGES + "edge [ source 1 target 1 ]"), "self-loop")
topo("gml-duplicate-edge", "dup.gml", gml(GML_EDGES + "edge [ source 0 target 1 ]"), "duplicate")
topo("gml-negative-capacity", "neg.gml", gml_first_edge("capacity -5"), "capacity")
topo("gml-zero-capacity", "zero.gml", gml_first_edge("bandwidth 0"), "capacity")
topo("gml-text-capacity", "txt.gml", gml_first_edge('capacity "fast"'),
     ("capacity", "'fast'"))  # fmt: skip
topo("gml-nan-capacity", "nan.gml", gml_first_edge('capacity "nan"'), "capacity")
topo("gml-inf-capacity", "inf.gml", gml_first_edge('capacity "inf"'), "capacity")
topo("gml-negative-weight", "negw.gml", gml_first_edge("weight -1"), "weight")
topo("gml-nan-delay", "nand.gml", gml_first_edge('delay "nan"'), "delay")
topo("gml-negative-length", "negl.gml", gml_first_edge("dist -100"), "dist")
topo("gml-disconnected", "disc.gml", gml("edge [ source 0 target 1 ]"), "connected")
topo("gml-bad-coordinate", "coord.gml",
     'graph [ node [ id 0 Longitude "east" Latitude 1 ] node [ id 1 Longitude 2 Latitude 3 ]'
     " edge [ source 0 target 1 ] ]", "Longitude")  # fmt: skip
topo("graphml-not-xml", "bad.graphml", "<graphml><graph>", "not valid GraphML")
topo("graphml-other-root", "other.graphml", '<?xml version="1.0"?><html/>', "GraphML")
topo(
    "graphml-unknown-encoding", "enc.graphml", '<?xml version="1.0" encoding="klingon"?><graphml/>', "GraphML"
)
topo("graphml-negative-capacity", "neg.graphml",
     graphml('<data key="c">-5</data>', '<key id="c" for="edge" attr.name="capacity" attr.type="double"/>'),
     "capacity")  # fmt: skip
topo("graphml-text-in-double", "txt.graphml",
     graphml('<data key="c">fast</data>', '<key id="c" for="edge" attr.name="capacity" attr.type="double"/>'),
     "GraphML")  # fmt: skip
topo("graphml-edge-to-unknown-node", "unk.graphml",
     graphml().replace('target="c"/>', 'target="zz"/>'), ("'zz'", "not a declared <node>"))  # fmt: skip
topo("json-not-json", "bad.json", "{nodes: [", "not valid JSON")
topo("json-a-list", "list.json", "[1, 2, 3]", "not a node-link JSON object")
topo("json-nodes-not-list", "nodes.json", node_link(nodes="abc"), "'nodes'")
topo("json-no-links", "nolinks.json", json.dumps({"nodes": [{"id": "a"}]}), "'links'")
topo("json-link-to-unknown-node", "unk.json", node_link(links=[{"source": "a", "target": "zz"}]), "'zz'")
topo("json-directed-not-bool", "dir.json", node_link(directed="yes"), "'directed'")
topo("json-node-id-null", "idnull.json", node_link(nodes=[{"id": None}, {"id": "b"}]), "id")
topo("json-duplicate-node", "dupn.json", node_link(nodes=[{"id": "a"}, {"id": "a"}, {"id": "c"}]), "twice")
topo("json-capacity-bool", "capb.json",
     node_link(links=[{"source": "a", "target": "b", "capacity": True}, {"source": "b", "target": "c"},
                      {"source": "c", "target": "a"}]), "capacity")  # fmt: skip
topo("json-capacity-overflow", "capo.json",
     node_link(links=[{"source": "a", "target": "b", "capacity": 10**400}, {"source": "b", "target": "c"},
                      {"source": "c", "target": "a"}]), "capacity")  # fmt: skip
topo("json-nested-deep", "deep.json", "[" * 100_000 + "]" * 100_000, "JSON")
topo("json-too-many-nodes", "many.json", node_link(nodes=[{"id": i} for i in range(10_001)], links=[]),
     "MAX_NODES")  # fmt: skip
topo("csv-no-header", "nohead.csv", "a,b\nb,c\n", "header")
topo("csv-capacity-text", "capt.csv", "u,v,capacity\na,b,fast\nb,c,1e9\n", ("capacity", "'fast'"))
topo("csv-capacity-negative", "capn.csv", "u,v,capacity\na,b,-1e9\nb,c,1e9\nc,a,1e9\n", "capacity")
topo("csv-capacity-zero", "cap0.csv", "u,v,capacity\na,b,0\nb,c,1e9\nc,a,1e9\n", "capacity")
topo("csv-capacity-nan", "capnan.csv", "u,v,capacity\na,b,nan\nb,c,1e9\nc,a,1e9\n", "capacity")
topo("csv-weight-negative", "wneg.csv", "u,v,weight\na,b,-2\nb,c,1\nc,a,1\n", "weight")
topo("csv-weight-zero", "w0.csv", "u,v,weight\na,b,0\nb,c,1\nc,a,1\n", "weight")
topo("csv-weight-inf", "winf.csv", "u,v,weight\na,b,inf\nb,c,1\nc,a,1\n", "weight")
topo("csv-delay-negative", "dneg.csv", "u,v,delay\na,b,-0.001\nb,c,0.001\nc,a,0.001\n", "delay")
topo("csv-extra-field", "extra.csv", "u,v\na,b,9\n", ":2")
topo("csv-missing-v", "missv.csv", "u,v\na,\n", ":2")
topo("csv-header-only", "head.csv", "u,v,capacity\n", "no links")
topo("csv-self-loop", "loop.csv", "u,v\na,a\na,b\n", "self-loop")
topo("csv-duplicate-link", "dup.csv", "u,v\na,b\nb,a\n", "duplicate")
topo("csv-disconnected", "disc.csv", "u,v\na,b\nc,d\n", "connected")
topo("csv-duplicate-column", "dupc.csv", "u,v,u\na,b,c\n", "duplicate column")
topo("csv-binary", "bin.csv", bytes(range(256)), "not a text file")
topo("abilene-no-header", "table.txt", "Node_num 3\n", "Abilene")
topo("abilene-node-count-text", "count.txt", "Node_num: three Edge_num: 2\nh\n0 0 1 1 1000\n", "'three'")
topo("abilene-short-row", "short.txt", ABILENE_HEADER + "0 0 1 1\n1 1 0 1 1000\n", ":3")
topo("abilene-unknown-node", "unknown.txt", ABILENE_HEADER + "0 0 7 1 1000\n1 7 0 1 1000\n", "unknown node")
topo("abilene-edge-count", "edges.txt", ABILENE_HEADER + "0 0 1 1 1000\n", "Edge_num")
topo("abilene-capacity-text", "capt.txt", ABILENE_HEADER + "0 0 1 1 fast\n1 1 0 1 1000\n", "'fast'")
topo("abilene-capacity-negative", "capn.txt", ABILENE_HEADER + "0 0 1 1 -1000\n1 1 0 1 1000\n", "capacity")
topo("abilene-too-many-nodes", "many.txt", "Node_num: 99999999 Edge_num: 1\nh\n0 0 1 1 1\n", "MAX_NODES")
topo("topology-unknown-format", "what.txt", "hello\n", "unknown topology format")
case("topo-data-dir-missing", "topo show abilene --data-dir {tmp}/nodir", ("--data-dir", "{tmp}/nodir"))
case("topo-data-dir-a-file", "topo show abilene --data-dir {tmp}/f", ("--data-dir", "{tmp}/f"), {"f": "x"})
case("topo-data-dir-empty", "topo show abilene --data-dir {tmp}/dd", ("{tmp}/dd/abilene/Abilene", "missing"),
     {"dd/README": ""})  # fmt: skip
case("topo-maroh-missing", "topo show maroh/rhombus --data-dir {tmp}/dd",
     ("{tmp}/dd/maroh/rhombus", "missing"), {"dd/README": ""})  # fmt: skip
case(
    "topo-rlte-data-env-missing",
    "topo show abilene",
    ("RLTE_DATA", "{tmp}/gone"),
    env={"RLTE_DATA": "{tmp}/gone"},
)
case("topo-plot-into-a-file", "topo show nsfnet14 --plot {tmp}/f/t.png",
     ("--plot", "{tmp}/f/t.png", "is a file"), {"f": "x"})  # fmt: skip
case(
    "topo-plot-a-folder", "topo show nsfnet14 --plot {tmp}/d", ("--plot", "{tmp}/d", "a folder"), {"d/x": ""}
)
case(
    "topo-plot-no-folder",
    "topo show nsfnet14 --plot {tmp}/no/t.png",
    ("--plot", "{tmp}/no/t.png", "does not exist"),
)
case("topo-plot-unknown-format", "topo show nsfnet14 --plot {tmp}/t.txt", ("--plot", "{tmp}/t.txt", ".txt"))
case(
    "topo-data-dir-missing-for-builtin",
    "topo show nsfnet14 --data-dir {tmp}/nodir",
    ("--data-dir", "{tmp}/nodir"),
)
topo("topo-traffic-csv-as-topology", "t.csv", LONG + "0,1,5\n", "u,v")

# ====================================================================== rlte topo list
case("topo-list-unknown-group", "topo list --group nosuch", ("--group", "'nosuch'"))
case("topo-list-empty-group", ["topo", "list", "--group", ""], ("--group", "''"))
case("topo-list-group-is-an-id", "topo list --group sndlib/abilene", ("--group", "'sndlib/abilene'"))


# ====================================================================== rlte traffic show
def traffic(case_id: str, filename: str, content, names=(), *, topology="nsfnet14", marks=()) -> None:
    """``rlte traffic show`` on a file (over ``topology``): the line names the file and ``names``."""
    names = (names,) if isinstance(names, str) else tuple(names)
    path = "{tmp}/" + filename
    argv = ["traffic", "show", path] + (["--topology", topology] if topology else [])
    case(case_id, argv, (path, *names), {filename: content} if content is not None else {}, marks=marks)


case("traffic-unknown-name", "traffic show nosuch", ("'nosuch'", "unknown"))
case("traffic-typo", "traffic show abilen", ("'abilen'", "did you mean 'abilene'"))
case("traffic-uniform-text", "traffic show uniform:fast --topology nsfnet14", ("uniform:fast", "not a rate"))
case("traffic-uniform-negative", "traffic show uniform:-1 --topology nsfnet14", ("uniform:-1", "not a rate"))
case("traffic-uniform-nan", "traffic show uniform:nan --topology nsfnet14", ("uniform:nan", "not a rate"))
case("traffic-uniform-inf", "traffic show uniform:inf --topology nsfnet14", ("uniform:inf", "not a rate"))
case("traffic-gravity-empty", "traffic show gravity: --topology nsfnet14", ("'gravity:'",))
case("traffic-gravity-suffix", "traffic show gravity:1X --topology nsfnet14", ("gravity:1X", "not a rate"))
case("traffic-uniform-no-topology", "traffic show uniform:1e6", ("uniform:1e6", "needs a topology"))
case("traffic-topohub-no-topology", "traffic show topohub", ("'topohub'", "needs a topology"))
case(
    "traffic-topohub-without-matrix",
    "traffic show topohub --topology nsfnet14",
    ("nsfnet14", "no static demand"),
)
case("traffic-unknown-topology", "traffic show uniform:1e6 --topology nosuch", ("'nosuch'",))
case("traffic-seed-negative", "traffic show gravity:1e9 --topology nsfnet14 --seed -1", ("--seed", "-1"))
case("traffic-missing-csv", "traffic show {tmp}/missing.csv", ("{tmp}/missing.csv", "no such file"))
case("traffic-empty-folder", "traffic show {tmp}/xmls", ("{tmp}/xmls", ".xml"), {"xmls/readme": "x"})
case("traffic-data-dir-missing", "traffic show abilene --data-dir {tmp}/nodir", ("--data-dir", "{tmp}/nodir"))
case("traffic-maroh-missing", "traffic show maroh/rhombus/flows99 --data-dir {data}",
     ("flows99.json", "missing"), data=True)  # fmt: skip
case("traffic-plot-into-a-file", "traffic show uniform:1e6 --topology nsfnet14 --plot {tmp}/f/t.png",
     ("--plot", "{tmp}/f/t.png"), {"f": "x"})  # fmt: skip
case("traffic-plot-unknown-format", "traffic show uniform:1e6 --topology nsfnet14 --plot {tmp}/t.docx",
     ("--plot", "{tmp}/t.docx", ".docx"))  # fmt: skip
case(
    "traffic-empty-topology",
    ["traffic", "show", "uniform:1e6", "--topology", ""],
    ("topology ''", "empty name"),
)
case("traffic-name-too-long", ["traffic", "show", "t" * 5000], ("tttt", "not a usable file name"))
traffic("traffic-gml-as-traffic", "topo.gml", gml(), "unknown traffic format", topology=None)
traffic("long-negative", "neg.csv", LONG + "0,1,-5\n", (":2", "-5.0"))
traffic("long-nan", "nan.csv", LONG + "0,1,nan\n", (":2", "nan"))
traffic("long-inf", "inf.csv", LONG + "0,1,inf\n", (":2", "inf"))
traffic("long-text-rate", "txt.csv", LONG + "0,1,lots\n", (":2", "'lots'"))
traffic("long-node-not-in-topology", "node.csv", LONG + "0,99,5\n", (":2", "'99'", "nsfnet14"))
traffic("long-src-is-dst", "same.csv", LONG + "3,3,5\n", (":2", "'3'"))
traffic("long-empty-src", "empty.csv", LONG + ",1,5\n", (":2", "src"))
traffic("long-header-only", "head.csv", LONG, "no rows")
traffic(
    "long-missing-column",
    "col.csv",
    "time,src,dst,rate\n0,1,5\n",
    ("unknown CSV layout", "rate_bps"),
    topology=None,
)
traffic("long-duplicate-column", "dup.csv", "src,dst,rate_bps,dst\n0,1,5,2\n", "duplicate column")
traffic("long-extra-field", "extra.csv", LONG + "0,1,5,6\n", ":2")
traffic("long-bad-time", "time.csv", "time,src,dst,rate_bps\nyesterday,0,1,5\n", (":2", "'yesterday'"))
traffic("long-bad-date", "date.csv", "time,src,dst,rate_bps\n2020-02-30T00:00,0,1,5\n", (":2", "time"))
traffic("long-binary", "bin.csv", b"src,dst,rate_bps\n\x00\xff\xfe", "not a text file")
traffic("long-unknown-layout", "layout.csv", "a,b,c\n1,2,3\n", "unknown CSV layout")
traffic("long-too-many-nodes", "many.csv", LONG + "".join(f"n{i},m{i},1\n" for i in range(5_001)),
        "MAX_NODES", topology=None)  # fmt: skip
WIDE = "time,a->b,b->a\n"
traffic(
    "sndlib-csv-bad-column",
    "col.csv",
    "time,a->b,b-a\n20050504-0000,1,2\n",
    ("'b-a'", "src->dst"),
    topology=None,
)
traffic("sndlib-csv-text-value", "txt.csv", WIDE + "20050504-0000,1,much\n", (":2", "'much'"), topology=None)
traffic("sndlib-csv-negative", "neg.csv", WIDE + "20050504-0000,1,-2\n", (":2", "-2"), topology=None)
traffic("sndlib-csv-nan", "nan.csv", WIDE + "20050504-0000,1,nan\n", (":2", "nan"), topology=None)
traffic("sndlib-csv-short-row", "short.csv", WIDE + "20050504-0000,1\n", (":2", "fields"), topology=None)
traffic("sndlib-csv-bad-time", "time.csv", WIDE + "noon,1,2\n", (":2", "'noon'"), topology=None)
traffic("sndlib-csv-header-only", "head.csv", WIDE, "no rows", topology=None)
traffic(
    "sndlib-csv-duplicate-column",
    "dup.csv",
    "time,a->b,a->b\n20050504-0000,1,2\n",
    "duplicate",
    topology=None,
)
traffic("sndlib-csv-duplicate-time", "dupt.csv", WIDE + "20050504-0000,1,2\n20050504-0000,1,2\n",
        "not strictly increasing", topology=None)  # fmt: skip
traffic("sndlib-csv-time-backwards", "back.csv", WIDE + "20050504-0015,1,2\n20050504-0000,1,2\n", "time",
        topology=None)  # fmt: skip
traffic("sndlib-csv-not-in-topology", "topo.csv", WIDE + "20050504-0000,1,2\n", ("'a'", "nsfnet14"))
traffic("sndlib-xml-not-xml", "bad.xml", "<network><demands>", "not valid XML", topology=None)
traffic("sndlib-xml-other-root", "root.xml", "<html/>", "not an SNDlib network file", topology=None)
traffic("sndlib-xml-no-demands", "nod.xml", '<network xmlns="http://sndlib.zib.de/network"/>', "<demands>",
        topology=None)  # fmt: skip
traffic(
    "sndlib-xml-no-target", "tgt.xml", sndlib_xml(demand(target=None)), ("'d1'", "<target>"), topology=None
)
traffic(
    "sndlib-xml-text-value", "txt.xml", sndlib_xml(demand(value="heavy")), ("'d1'", "'heavy'"), topology=None
)
traffic("sndlib-xml-negative", "neg.xml", sndlib_xml(demand(value="-3")), ("'d1'", "-3"), topology=None)
traffic("sndlib-xml-inf", "inf.xml", sndlib_xml(demand(value="1e400")), ("'d1'", "inf"), topology=None)
LISTED = '<node id="a"/><node id="b"/>'
traffic("sndlib-xml-unlisted-node", "unl.xml", sndlib_xml(demand(target="zz"), nodes=LISTED),
        ("'d1'", "'zz'"), topology=None)  # fmt: skip
traffic(
    "sndlib-xml-node-without-id",
    "nid.xml",
    sndlib_xml(demand(), nodes="<node/>"),
    "without an id",
    topology=None,
)
traffic("sndlib-xml-unknown-unit", "unit.xml", sndlib_xml(demand(), meta="<meta><unit>PIGEONS</unit></meta>"),
        "'PIGEONS'", topology=None)  # fmt: skip
traffic("sndlib-xml-bad-time", "mtime.xml", sndlib_xml(demand(), meta="<meta><time>soon</time></meta>"),
        ("<time>", "'soon'"), topology=None)  # fmt: skip
traffic("sndlib-xml-entity-bomb", "bomb.xml",
        '<?xml version="1.0"?><!DOCTYPE n [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + k)} "{("&" + chr(97 + k) + ";") * 10}">' for k in range(8))
        + "]><network><demands><demand><source>&i;</source></demand></demands></network>",
        "XML", topology=None)  # fmt: skip
traffic("sndlib-xml-not-in-topology", "topo.xml", sndlib_xml(demand()), ("'a'", "nsfnet14"))
case("sndlib-xml-folder-same-time", "traffic show {tmp}/x",
     ("{tmp}/x/", "same time"),
     {"x/m1.xml": sndlib_xml(demand(), meta="<meta><time>2005-05-04T00:00</time></meta>"),
      "x/m2.xml": sndlib_xml(demand(), meta="<meta><time>2005-05-04T00:00</time></meta>")})  # fmt: skip
case("sndlib-xml-folder-broken-file", "traffic show {tmp}/x", ("{tmp}/x/m2.xml", "not valid XML"),
     {"x/m1.xml": sndlib_xml(demand()), "x/m2.xml": "<network>"})  # fmt: skip
ABILENE_LINE = " ".join(["1"] * 144) + "\n"
traffic("abilene-tm-short-line", "tm", ABILENE_LINE + "1 2 3\n", (":2", "144"), topology=None)
traffic("abilene-tm-negative", "tmneg", ABILENE_LINE.replace("1", "-1", 1), (":1", "-1"), topology=None)
traffic(
    "abilene-tm-nan",
    "tmnan",
    ABILENE_LINE + ABILENE_LINE.replace("1", "nan", 1),
    (":2", "nan"),
    topology=None,
)
traffic(
    "abilene-tm-word",
    "tmword",
    ABILENE_LINE + ABILENE_LINE.replace("1", "x", 1),
    (":2", "'x'"),
    topology=None,
)
traffic("abilene-tm-empty", "tmempty", "", "unknown traffic format", topology=None)
traffic("abilene-tm-not-numbers", "tmtext", "hello world\n", "unknown traffic format", topology=None)
traffic("abilene-tm-wrong-topology", "tmtopo", ABILENE_LINE, ("nsfnet14",))
traffic("maroh-not-json", "bad.json", "[{", "not valid JSON", topology=None)
traffic("maroh-not-a-list", "obj.json", '{"start": 0}', "JSON list", topology=None)
traffic("maroh-no-end", "noend.json", flows(flow(end=None)), ("flow 0", "'end'"), topology=None)
traffic("maroh-negative", "neg.json", flows(flow(bandwidth=-1)), ("flow 0", "-1"), topology=None)
traffic(
    "maroh-text-bandwidth", "txt.json", flows(flow(bandwidth="lots")), ("flow 0", "'lots'"), topology=None
)
traffic("maroh-nan-bandwidth", "nan.json", flows(flow(bandwidth="nan")), ("flow 0", "nan"), topology=None)
traffic("maroh-self-flow", "self.json", flows(flow(end="0")), ("flow 0", "'0'"), topology=None)
traffic("maroh-no-time-0", "time.json", flows({"start": "0", "end": "1", "all_bandwidth": {"5": 1}}),
        ("flow 0", "time '0'"), topology=None)  # fmt: skip
traffic("maroh-empty", "empty.json", "[]", "no flows", topology=None)
traffic("maroh-start-a-list", "list.json", flows(flow(start=[0])), ("flow 0", "start"), topology=None)
traffic(
    "maroh-flow-id-object", "fid.json", flows(flow(flow_id={"a": 1})), ("flow 0", "flow_id"), topology=None
)
traffic("maroh-node-not-in-topology", "node.json", flows(flow(end="99")), ("flow 0", "'99'", "nsfnet14"))

# ====================================================================== rlte baselines
BASE = ("baselines", "--topology", "nsfnet14", "--traffic", "uniform:1e6")
case("baselines-unknown-topology", "baselines --topology nosuch --traffic uniform:1e6", ("'nosuch'",))
case("baselines-unknown-traffic", "baselines --topology nsfnet14 --traffic nosuch", ("'nosuch'",))
case(
    "baselines-empty-topology", ["baselines", "--topology", "", "--traffic", "uniform:1e6"], ("topology ''",)
)
case("baselines-empty-traffic", ["baselines", "--topology", "nsfnet14", "--traffic", ""], ("traffic ''",))
case("baselines-diurnal-unknown", "baselines --topology nsfnet14 --traffic diurnal:nosuch", ("nosuch",))
case(
    "baselines-diurnal-empty",
    "baselines --topology nsfnet14 --traffic diurnal:",
    ("traffic ''", "empty name"),
)
case(
    "baselines-topohub-without-matrix",
    "baselines --topology nsfnet14 --traffic topohub",
    ("nsfnet14", "static"),
)
case("baselines-traffic-file-bad", "baselines --topology nsfnet14 --traffic {tmp}/neg.csv",
     ("{tmp}/neg.csv:2",), {"neg.csv": LONG + "0,1,-5\n"})  # fmt: skip
case("baselines-topology-file-bad", "baselines --topology {tmp}/bad.gml --traffic uniform:1e6",
     ("{tmp}/bad.gml", "GML"), {"bad.gml": "graph ["})  # fmt: skip
for value in ("0", "-0.5", "nan", "inf", "-inf"):
    case(f"baselines-load-{value}", [*BASE, "--load", value], ("--load",))
case("baselines-load-text", [*BASE, "--load", "high"], ("--load", "'high'"))
for value in ("0", "-1e9", "nan", "inf"):
    case(f"baselines-capacity-{value}", [*BASE, "--capacity", value], ("--capacity",))
case("baselines-capacity-text", [*BASE, "--capacity", "10G"], ("--capacity", "'10G'"))
for value in ("1", "1.5", "-0.1", "nan"):
    case(f"baselines-train-fraction-{value}", [*BASE, "--train-fraction", value], ("--train-fraction",))
case("baselines-train-fraction-text", [*BASE, "--train-fraction", "most"], ("--train-fraction", "'most'"))
case("baselines-methods-unknown", [*BASE, "--methods", "ospf"], ("--methods", "'ospf'"))
case("baselines-methods-one-unknown", [*BASE, "--methods", "ecmp,,ospf"], ("--methods", "'ospf'"))
case("baselines-methods-commas", [*BASE, "--methods", ","], ("--methods", "','"))
case("baselines-methods-empty", [*BASE, "--methods", ""], ("--methods", "''"))
case("baselines-methods-learned", [*BASE, "--methods", "ma_trpo"], ("--methods", "'ma_trpo'"))
case("baselines-methods-packet", [*BASE, "--methods", "shortest_path"], ("--methods", "'shortest_path'"))
case("baselines-seed-negative", [*BASE, "--seed", "-1"], ("--seed", "-1"))
case("baselines-seed-text", [*BASE, "--seed", "one"], ("--seed", "'one'"))
case("baselines-data-dir-missing", [*BASE, "--data-dir", "{tmp}/nodir"], ("--data-dir", "{tmp}/nodir"))
case("baselines-data-dir-a-file", "baselines --topology abilene --traffic abilene --data-dir {tmp}/f",
     ("--data-dir", "{tmp}/f"), {"f": "x"})  # fmt: skip
case("baselines-zero-traffic-at-a-load", "baselines --topology nsfnet14 --traffic uniform:0 --load 0.5",
     ("load level 0.5", "all zero"))  # fmt: skip
case("baselines-zero-file-at-a-load", "baselines --topology {tmp}/t.csv --traffic {tmp}/z.csv --load 0.5",
     ("load level 0.5", "all zero"),
     {"t.csv": "u,v\na,b\nb,c\nc,a\n", "z.csv": LONG + "a,b,0\n"})  # fmt: skip

# ====================================================================== rlte run: the spec file
case("run-missing-spec", "run {tmp}/nope.yaml", ("{tmp}/nope.yaml", "no such spec file"))
case("run-spec-a-folder", "run {tmp}/d", ("{tmp}/d",), {"d/x": ""})
run_case("run-not-yaml", "name: [unclosed\n", "not valid YAML")
run_case("run-not-yaml-tab", "name: x\n\tmethods: [ecmp]\n", "YAML")
run_case("run-binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a text file")
run_case("run-latin1", "name: caf\xe9\n".encode("latin-1"), "not a text file")
run_case("run-empty", "", "mapping")
run_case("run-a-list", "- ecmp\n- lp_opt\n", "mapping")
run_case("run-a-scalar", "42\n", "mapping")
run_case("run-bad-date", "name: x\ndescription: 2020-02-30\n", "YAML")
run_case("run-duplicate-key", spec() + "loads: [0.9]\n", (":", "'loads' appears twice"))
run_case(
    "run-duplicate-nested-key",
    spec() + "scenario: {noise: 0.1, noise: 0.2}\n",
    (":", "'noise' appears twice"),
)
run_case("run-nested-deep", "name: " + "[" * 5_000 + "]" * 5_000 + "\n", "nested too deeply")
run_case("run-recursive-alias", spec() + "description: &d [*d]\n", "holds it")
# nine levels of ten aliases: a description of a billion values, which str() would build
BOMB = (
    "[&a [x, x, x, x, x, x, x, x, x, x], "
    + ", ".join(f"&{level} [{', '.join(['*' + below] * 10)}]" for below, level in zip("abcdefgh", "bcdefghi"))
    + "]"
)
run_case("run-alias-bomb", spec() + f"description: {BOMB}\n", "MAX_YAML_VALUES")
run_case("run-unknown-key", spec(method=["ecmp"]), ("'method'", "did you mean 'methods'"))
run_case("run-name-missing", spec(name=DROP), "'name'")
run_case("run-name-slash", spec(name="a/b"), "'name'")
run_case("run-name-dotdot", spec(name=".."), "'name'")
run_case("run-name-number", spec(name=5), "'name'")
run_case("run-name-nul", spec(name="a\0b"), "'name'")
run_case("run-domain-unknown", spec(domain="flowte"), ("'flowte'", "flow_te"))
run_case("run-domain-number", spec(domain=3), "domain")
# methods and their params
run_case("run-methods-missing", spec(methods=DROP), "methods")
run_case("run-methods-empty", spec(methods=[]), "methods")
run_case("run-methods-number", spec(methods=[5]), "methods[0]")
run_case("run-methods-unknown", spec(methods=["ospf"]), ("methods[0]", "'ospf'"))
run_case("run-methods-other-domain", spec(methods=["off_greedy"]), ("'off_greedy'", "packet"))
run_case("run-methods-no-name", spec(methods=[{"params": {}}]), ("methods[0]", "'name'"))
run_case("run-methods-name-number", spec(methods=[{"name": 7}]), ("methods[0]", "'name'"))
run_case(
    "run-methods-unknown-key",
    spec(methods=[{"name": "ecmp", "parameters": {}}]),
    ("methods[0]", "'parameters'"),
)
run_case(
    "run-methods-baseline-params", spec(methods=[{"name": "ecmp", "params": {"k": 2}}]), ("'ecmp'", "params")
)
run_case(
    "run-methods-params-list", spec(methods=[{"name": "sb3_ppo", "params": [1, 2]}]), ("sb3_ppo", "params")
)
run_case("run-methods-param-unknown", spec(methods=[{"name": "sb3_ppo", "params": {"learning_rat": 0.1}}]),
         ("sb3_ppo", "'learning_rat'"))  # fmt: skip
run_case("run-methods-param-string", spec(methods=[{"name": "sb3_ppo", "params": {"learning_rate": "1e-3"}}]),
         ("sb3_ppo", "learning_rate"))  # fmt: skip
run_case("run-methods-param-range", spec(methods=[{"name": "sb3_ppo", "params": {"n_steps": 0}}]),
         ("sb3_ppo", "n_steps"))  # fmt: skip
run_case("run-methods-param-nan", spec(methods=[{"name": "ma_trpo", "params": {"gamma": float("nan")}}]),
         ("ma_trpo", "gamma"))  # fmt: skip
run_case("run-methods-duplicate", spec(methods=["ecmp", "ecmp"]), ("'ecmp'", "twice"))
run_case("run-methods-label-number", spec(methods=[{"name": "ecmp", "label": 5}]), ("methods[0]", "label"))
run_case("run-methods-label-nul", spec(methods=[{"name": "ecmp", "label": "e\0"}]), ("methods[0]", "label"))
# topologies and traffic
run_case("run-topologies-missing", spec(topologies=DROP), "topologies")
run_case("run-topologies-empty", spec(topologies=[]), "topologies")
run_case("run-topologies-number", spec(topologies=[14]), "topologies")
run_case("run-topologies-unknown", spec(topologies=["nsfnet15"]), ("'nsfnet15'", "did you mean 'nsfnet14'"))
run_case("run-topologies-duplicate", spec(topologies=["nsfnet14", "nsfnet14"]), ("topologies", "twice"))
run_case("run-topologies-nul", spec(topologies=["a\0.gml"]), ("topology", "NUL"))
run_case("run-topologies-empty-name", spec(topologies=[""]), ("topology ''", "empty name"))
run_case(
    "run-topologies-missing-file", spec(topologies=["{tmp}/gone.gml"]), ("{tmp}/gone.gml", "no such file")
)
run_case("run-topologies-malformed-file", spec(topologies=["{tmp}/bad.gml"]), ("{tmp}/bad.gml", "GML"),
         files={"bad.gml": "graph [ node [ id 0 "})  # fmt: skip
run_case("run-traffic-missing", spec(traffic=DROP), "traffic")
run_case("run-traffic-mapping", spec(traffic=[{"uniform": 1}]), "traffic")
run_case("run-traffic-unknown", spec(traffic=["unifrom:1e6"]), ("'unifrom:1e6'",))
run_case("run-traffic-duplicate", spec(traffic=["uniform:1e6", "uniform:1e6"]), ("traffic", "twice"))
run_case("run-traffic-nul", spec(traffic=["t\0.csv"]), ("traffic", "NUL"))
run_case("run-traffic-bad-rate", spec(traffic=["uniform:lots"]), ("uniform:lots", "not a rate"))
run_case("run-traffic-diurnal-unknown", spec(traffic=["diurnal:nosuch"]), ("nosuch",))
run_case("run-traffic-missing-file", spec(traffic=["{tmp}/gone.csv"]), ("{tmp}/gone.csv", "no such file"))
run_case("run-traffic-malformed-file", spec(traffic=["{tmp}/neg.csv"]), ("{tmp}/neg.csv:2", "-5"),
         files={"neg.csv": LONG + "0,1,-5\n"})  # fmt: skip
run_case("run-traffic-shorter-than-window", spec(traffic=["uniform:1e6"]), ("uniform:1e6", "window"))
case("run-traffic-data-dir-missing", [*RUN, "--data-dir", "{tmp}/no"], ("--data-dir", "{tmp}/no"),
     {"s.yaml": spec(topologies=["abilene"], traffic=["abilene"])})  # fmt: skip
# loads, seeds, scenarios
BAD_LOADS = {"zero": 0, "negative": -0.5, "text": "high", "nan": float("nan"), "inf": float("inf"),
             "bool": True, "list": [0.5]}  # fmt: skip
for label, value in BAD_LOADS.items():
    run_case(f"run-loads-{label}", spec(loads=[value]), "loads")
run_case("run-loads-empty", spec(loads=[]), "loads")
run_case("run-loads-duplicate", spec(loads=[0.5, 0.5]), ("loads", "twice"))
run_case("run-seeds-text", spec(seeds=["zero"]), ("seeds", "'zero'"))
run_case("run-seeds-float", spec(seeds=[1.5]), ("seeds", "1.5"))
run_case("run-seeds-bool", spec(seeds=[True]), ("seeds", "True"))
run_case("run-seeds-negative", spec(seeds=[-1]), ("seeds", "-1"))
run_case("run-seeds-empty", spec(seeds=[]), "seeds")
run_case("run-seeds-duplicate", spec(seeds=[0, 0]), ("seeds", "twice"))
run_case("run-scenarios-number", spec(scenarios=[5]), "scenarios")
run_case("run-scenarios-no-name", spec(scenarios=[{"options": {}}]), ("scenarios[0]", "'name'"))
run_case("run-scenarios-duplicate", spec(scenarios=[{"name": "a"}, {"name": "a"}]), ("scenarios[1]", "'a'"))
run_case("run-scenarios-name-nul", spec(scenarios=[{"name": "a\0"}]), ("scenarios[0]", "name"))
run_case(
    "run-scenarios-unknown-key", spec(scenarios=[{"name": "a", "option": {}}]), ("scenarios[0]", "'option'")
)
run_case(
    "run-scenarios-options-list", spec(scenarios=[{"name": "a", "options": [1]}]), ("scenarios[0]", "mapping")
)
run_case("run-scenarios-option-unknown", scenario_spec(nosie=0.1),
         ("scenarios[0]", "'nosie'"))  # fmt: skip
run_case("run-scenarios-option-negative", scenario_spec(noise=-1),
         ("scenarios[0]", "noise"))  # fmt: skip
run_case("run-scenarios-bursts-short", scenario_spec(bursts=[0.1, 2]),
         ("scenarios[0]", "bursts"))  # fmt: skip
run_case("run-scenarios-bursts-rate", scenario_spec(bursts=[5.0, 2.0, 3]),
         ("scenarios[0]", "burst"))  # fmt: skip
run_case("run-scenarios-failure-step", scenario_spec(failures=[[-1, [[0, 1]]]]),
         ("scenarios[0]", "fail"))  # fmt: skip
run_case("run-scenarios-failure-unknown-link", scenario_spec(failures=[[1, [["x", "y"]]]]),
         ("scenarios[0]", "'x'"))  # fmt: skip
run_case("run-scenarios-axis-key", scenario_spec(load=0.3),
         ("scenarios[0]", "'load'"))  # fmt: skip
run_case("run-scenario-not-mapping", spec(scenario=[1, 2]), ("scenario", "mapping"))
run_case("run-scenario-unknown-key", spec(scenario={"train_fractoin": 0.5}), ("scenario", "'train_fractoin'"))
run_case(
    "run-scenario-train-fraction", spec(scenario={"train_fraction": 1.5}), ("scenario", "train_fraction")
)
run_case("run-scenario-capacity", spec(scenario={"capacity": 0}), ("scenario", "capacity"))
run_case("run-scenario-string-number", spec(scenario={"noise": "5e-2"}), ("scenario", "noise"))
run_case("run-scenario-topology-key", spec(scenario={"topology": "nsfnet14"}), ("scenario", "'topology'"))
# training, evaluation, env, paper, quick
run_case("run-training-not-mapping", spec(training=5), "training")
run_case("run-training-list", spec(training=[1000]), "training")
run_case("run-training-unknown-key", spec(training={"steps": 100}), ("training", "'steps'"))
run_case("run-training-zero", spec(training={"timesteps": 0}), ("training.timesteps", "0"))
run_case("run-training-text", spec(training={"timesteps": "1e4"}), ("training.timesteps", "'1e4'"))
run_case(
    "run-training-float", spec(training={"checkpoint_every": 100.5}), ("training.checkpoint_every", "100.5")
)
run_case("run-evaluation-not-mapping", spec(evaluation="test"), "evaluation")
run_case("run-evaluation-part", spec(evaluation={"part": "validation"}), ("evaluation.part",))
run_case("run-evaluation-length", spec(evaluation={"episode_length": 0}), ("evaluation.episode_length", "0"))
run_case("run-evaluation-unknown-key", spec(evaluation={"parts": "test"}), ("evaluation", "'parts'"))
run_case("run-env-not-mapping", spec(env=[4]), "env")
run_case("run-env-unknown-key", spec(env={"windw": 4}), ("env", "'windw'"))
run_case("run-env-range", spec(env={"window": 0}), ("env", "window"))
run_case("run-env-type", spec(env={"window": "four"}), ("env", "window"))
run_case("run-paper-not-mapping", spec(paper="Table 1"), "paper")
run_case("run-paper-unknown-key", spec(paper={"sources": "x"}), ("paper", "'sources'"))
run_case("run-paper-values-not-list", spec(paper={"values": {"a": 1}}), "paper.values")
run_case("run-paper-value-not-mapping", spec(paper={"values": [5]}), "paper.values[0]")
run_case("run-paper-value-text", paper_spec(value="0.9"),
         ("paper.values[0]", "'0.9'"))  # fmt: skip
run_case("run-paper-value-unknown-key", spec(paper={"values": [{"methd": "ecmp", "value": 1}]}),
         ("paper.values[0]", "'methd'"))  # fmt: skip
run_case("run-paper-load-text", paper_spec(load="high"),
         ("paper.values[0]", "'high'"))  # fmt: skip
run_case("run-paper-unknown-metric", paper_spec(metric="mlu_"),
         ("paper.values[0]", "'mlu_'", "did you mean 'mlu'"))  # fmt: skip
run_case("run-quick-not-mapping", spec(quick=5), "quick", "--quick")
run_case("run-quick-not-mapping-without-flag", spec(quick=[1]), "quick")
run_case("run-quick-unknown-key", spec(quick={"lods": [0.5]}), ("quick", "'lods'"), "--quick")
run_case("run-quick-name", spec(quick={"name": "other"}), ("quick", "'name'"), "--quick")
run_case("run-quick-bad-load", spec(quick={"loads": [0]}), "loads", "--quick")
run_case(
    "run-quick-bad-training", spec(quick={"training": {"timesteps": -5}}), "training.timesteps", "--quick"
)


# the run store and the other options of rlte run
def store_case(case_id: str, options, names, files=None) -> None:
    """``rlte run {tmp}/s.yaml --runs-dir {tmp}/runs OPTIONS`` on a valid spec, after writing ``files``
    (a run of it: ``runs/bad/<id>/``)."""
    options = options.split() if isinstance(options, str) else list(options)
    case(
        case_id,
        ["run", SPEC, "--runs-dir", "{tmp}/runs", *options],
        names,
        {"s.yaml": spec(), **(files or {})},
    )


RUN_R1 = "runs/bad/r1/spec.yaml"
store_case("run-workers-zero", "--workers 0", ("--workers", "0"))
store_case("run-workers-negative", "--workers -3", ("--workers", "-3"))
store_case("run-workers-text", "--workers two", ("--workers", "'two'"))
store_case("run-executor-unknown", "--executor slurm", ("--executor", "'slurm'"))
store_case("run-run-id-with-resume", "--run-id r2 --resume r1", ("--run-id", "--resume"))
store_case("run-run-id-with-resume-latest", "--run-id r2 --resume", ("--run-id", "--resume", "newest"))
store_case("run-address-without-ray", "--address 10.0.0.1:6379", ("--address", "--executor ray"))
case("run-runs-dir-a-file", ["run", SPEC, "--runs-dir", "{tmp}/f"], ("--runs-dir", "{tmp}/f"),
     {"s.yaml": spec(), "f": "x"})  # fmt: skip
case("run-runs-dir-under-a-file", ["run", SPEC, "--runs-dir", "{tmp}/f/runs"], ("{tmp}/f",),
     {"s.yaml": spec(), "f": "x"})  # fmt: skip
store_case("run-run-id-slash", "--run-id a/b", ("--run-id", "'a/b'"))
store_case("run-run-id-dotdot", "--run-id ..", ("--run-id", "'..'"))
store_case("run-run-id-empty", ["--run-id", ""], ("--run-id", "''"))
store_case("run-run-id-a-file", "--run-id r1", ("--run-id", "'r1'"), {"runs/bad/r1": "x"})
store_case("run-run-id-exists", "--run-id r1", ("{tmp}/runs/bad/r1", "--resume"), {RUN_R1: spec()})
store_case("run-resume-missing", "--resume r9", ("--resume", "'r9'"))
store_case("run-resume-latest-none", "--resume", ("--resume", "'bad'"))
store_case("run-resume-empty", ["--resume", ""], ("--resume", "''"))
store_case("run-resume-slash", "--resume ../x", ("--resume", "'../x'"))
store_case("run-resume-corrupt-spec", "--resume r1", ("{tmp}/" + RUN_R1, "YAML"), {RUN_R1: "name: [\n"})
store_case(
    "run-resume-binary-spec", "--resume r1", ("{tmp}/" + RUN_R1, "not a text file"), {RUN_R1: b"\xff\xfe\x00"}
)
store_case("run-resume-list-spec", "--resume r1", ("{tmp}/" + RUN_R1, "mapping"), {RUN_R1: "- 1\n"})
store_case("run-resume-other-spec", "--resume r1", ("--resume", "{tmp}/runs/bad/r1", "different spec"),
           {RUN_R1: spec(loads=[0.9])})  # fmt: skip
case(
    "run-data-dir-missing",
    [*RUN, "--data-dir", "{tmp}/nodir"],
    ("--data-dir", "{tmp}/nodir"),
    {"s.yaml": spec()},
)
run_case("run-refused-without-dry-run", spec(loads=[0]), "loads", dry_run=False)
# the packet domain
run_case("packet-unknown-schedule", packet_spec(traffic=["fixd"]), ("'fixd'", "did you mean 'fixed'"))
run_case("packet-fixed-without-load", packet_spec(loads=[None]), ("fixed", "load"))
run_case(
    "packet-stepped-with-load", packet_spec(traffic=["seed004_high"]), ("'seed004_high'", "loads [null]")
)
run_case("packet-steps-text", packet_spec(traffic=["steps:1:2:x:100"], loads=[None]), ("steps:1:2:x:100",))
run_case("packet-steps-too-few", packet_spec(traffic=["steps:1:2"], loads=[None]), ("steps:1:2",))
run_case("packet-steps-zero-step", packet_spec(traffic=["steps:1:2:0:100"], loads=[None]), "step > 0")
run_case("packet-steps-zero-every", packet_spec(traffic=["steps:1:2:0.5:0"], loads=[None]), "every > 0")
run_case(
    "packet-steps-negative",
    packet_spec(traffic=["steps:-1:2:0.5:100"], loads=[None]),
    "load -1.0",
)
run_case("packet-steps-backwards", packet_spec(traffic=["steps:3:1:0.5:100"], loads=[None]), "last >= first")
run_case("packet-steps-nan", packet_spec(traffic=["steps:nan:2:0.5:100"], loads=[None]), "nan")
run_case("packet-load-zero", packet_spec(loads=[0]), "loads")
run_case("packet-load-inf", packet_spec(loads=[float("inf")]), "inf")
run_case("packet-load-text", packet_spec(loads=["busy"]), "loads")
run_case("packet-unknown-topology", packet_spec(topologies=["grid7x7"]), ("'grid7x7'",))
run_case("packet-topology-malformed-file", packet_spec(topologies=["{tmp}/bad.gml"]),
         ("{tmp}/bad.gml", "GML"), files={"bad.gml": "graph ["})  # fmt: skip
run_case("packet-flow-method", packet_spec(methods=["ecmp"]), ("'ecmp'",))
run_case("packet-learned-flow-method", packet_spec(methods=["ma_trpo"]), ("'ma_trpo'", "flow_te"))
run_case("packet-scenario-unknown-key", packet_spec(scenario={"noise": 0.1}), ("scenario", "'noise'"))
run_case("packet-scenario-queue-limit", packet_spec(scenario={"queue_limit": 0}), ("scenario", "queue_limit"))
run_case("packet-scenario-delivery", packet_spec(scenario={"delivery": "express"}), ("scenario", "delivery"))
run_case("packet-scenario-timing", packet_spec(scenario={"timing": "fast"}), ("scenario", "timing"))
run_case("packet-scenario-duration", packet_spec(scenario={"duration": -10}), ("scenario", "duration"))
run_case("packet-scenario-window", packet_spec(scenarios=[{"name": "w", "options": {"window": 0}}]),
         ("scenarios[0]", "window"))  # fmt: skip
run_case("packet-scenario-warmup-text", packet_spec(scenario={"warmup": "1e3"}), ("scenario", "warmup"))
run_case("packet-method-param",
         packet_spec(methods=[{"name": "off_greedy", "params": {"learning_rate": -1}}]),
         ("off_greedy", "learning_rate"))  # fmt: skip
run_case("packet-env-unknown-key", packet_spec(env={"window": 4}), ("env", "'window'"))


# ====================================================================== rlte reproduce
def reproduction_specs(broken: str | None = None, drop: str | None = None) -> dict:
    """The four seed000 specs as tiny valid specs in ``specs/`` (``broken`` replaces the first one's
    text; ``drop`` leaves one out)."""
    names = ("seed000_table1", "seed000_table2", "seed000_fig2", "seed000_atra")
    files = {f"specs/{name}.yaml": spec(name=name, loads=[None]) for name in names if name != drop}
    if broken is not None:
        files[f"specs/{names[0]}.yaml"] = broken
    return files


REPRODUCE = (
    "reproduce",
    "seed000",
    "--specs-dir",
    "{tmp}/specs",
    "--runs-dir",
    "{tmp}/runs",
    "--no-progress",
)
case("reproduce-workers-zero", [*REPRODUCE, "--workers", "0"], ("--workers", "0"), reproduction_specs())
case("reproduce-unknown-paper", "reproduce seed999", ("'seed999'",))
case("reproduce-specs-dir-missing", "reproduce seed000 --specs-dir {tmp}/nowhere", ("{tmp}/nowhere",))
case("reproduce-specs-dir-a-file", "reproduce seed000 --specs-dir {tmp}/f", ("{tmp}/f",), {"f": "x"})
case("reproduce-specs-dir-incomplete", "reproduce seed000 --specs-dir {tmp}/specs",
     ("{tmp}/specs", "seed000_atra"), reproduction_specs(drop="seed000_atra"))  # fmt: skip
case("reproduce-broken-spec", REPRODUCE, ("{tmp}/specs/seed000_table1.yaml", "YAML"),
     reproduction_specs(broken="name: [\n"))  # fmt: skip
case("reproduce-invalid-spec", REPRODUCE, ("{tmp}/specs/seed000_table1.yaml", "loads"),
     reproduction_specs(broken=spec(name="seed000_table1", loads=[-1])))  # fmt: skip
case("reproduce-spec-a-folder", REPRODUCE, ("{tmp}/specs/seed000_table1.yaml",),
     {**reproduction_specs(drop="seed000_table1"), "specs/seed000_table1.yaml/x": ""})  # fmt: skip
case("reproduce-runs-dir-a-file", [*REPRODUCE[:5], "{tmp}/f"], ("--runs-dir", "{tmp}/f"),
     {**reproduction_specs(), "f": "x"})  # fmt: skip
case("reproduce-publish-a-file", [*REPRODUCE, "--publish", "{tmp}/f"], ("--publish", "{tmp}/f"),
     {**reproduction_specs(), "f": "x"})  # fmt: skip
case("reproduce-publish-under-a-file", [*REPRODUCE, "--publish", "{tmp}/f/out"], ("--publish", "{tmp}/f/out"),
     {**reproduction_specs(), "f": "x"})  # fmt: skip
case("reproduce-run-id-empty", [*REPRODUCE, "--run-id", ""], ("--run-id", "''"), reproduction_specs())
case("reproduce-run-id-slash", [*REPRODUCE, "--run-id", "a/b"], ("--run-id", "'a/b'"), reproduction_specs())
case("reproduce-run-id-corrupt", [*REPRODUCE, "--run-id", "r1"],
     ("{tmp}/runs/seed000_table1/r1/spec.yaml", "YAML"),
     {**reproduction_specs(), "runs/seed000_table1/r1/spec.yaml": "name: [\n"})  # fmt: skip
case("reproduce-data-dir-missing", [*REPRODUCE, "--data-dir", "{tmp}/nodir"], ("--data-dir", "{tmp}/nodir"),
     reproduction_specs())  # fmt: skip

# ====================================================================== rlte report
METRICS = {
    "mlu": 0.9,
    "mean_util": 0.2,
    "phi": 0.05,
    "mean_delay_ms": 3.0,
    "loss_rate": 0.0,
    "throughput": 1e9,
}
RESULTS_HEADER = "method,topology,traffic,load,scenario,seed,metric,value,runtime_s\n"
RESULTS = RESULTS_HEADER + "".join(
    f"{method},nsfnet14,uniform:1e6,0.5,b,0,{metric},{value},0.1\n"
    for method in ("ecmp", "lp_opt", "sb3_ppo")
    for metric, value in METRICS.items()
)
CELL = "cells/ecmp-1"
CELL_KEYS = {
    "method": "ecmp",
    "topology": "nsfnet14",
    "traffic": "uniform:1e6",
    "load": 0.5,
    "scenario": "b",
    "seed": 0,
}
RESULT_JSON = json.dumps({"cell": CELL_KEYS, "rows": []})
LEARNED = "cells/ppo-1"
LEARNED_JSON = json.dumps({"cell": {**CELL_KEYS, "method": "sb3_ppo"}, "rows": [], "learned": True})
LEARNING = "timesteps,episode_reward_mean\n0,-1.0\n100,-0.5\n"
SERIES = (
    "interval,"
    + ",".join(METRICS)
    + "\n"
    + "".join(f"{t}," + ",".join(str(v) for v in METRICS.values()) + "\n" for t in range(3))
)
RUN_SPEC = spec(methods=["ecmp", "lp_opt", "sb3_ppo"], scenarios=[{"name": "b", "options": {"noise": 0.1}}])


def run_folder(replace: dict) -> dict:
    """A small finished run folder under ``{tmp}/r`` (``replace``: file -> new content, None to drop)."""
    files = {"spec.yaml": RUN_SPEC, "results.csv": RESULTS, f"{CELL}/result.json": RESULT_JSON,
             f"{CELL}/series.csv": SERIES, f"{LEARNED}/result.json": LEARNED_JSON,
             f"{LEARNED}/learning.csv": LEARNING, **replace}  # fmt: skip
    return {f"r/{name}": content for name, content in files.items() if content is not None}


def report(case_id: str, names, replace: dict, *, marks=()) -> None:
    """``rlte report {tmp}/r`` on the small run folder with ``replace`` applied."""
    case(case_id, "report {tmp}/r", names, run_folder(replace), marks=marks)


case("report-missing-folder", "report {tmp}/nowhere", ("{tmp}/nowhere", "no such run folder"))
case("report-a-file", "report {tmp}/f", ("{tmp}/f",), {"f": "x"})
report("report-no-results", ("{tmp}/r/results.csv", "no such file"), {"results.csv": None})
report("report-results-empty", ("{tmp}/r/results.csv", "empty"), {"results.csv": ""})
report("report-results-missing-column", ("{tmp}/r/results.csv", "value"),
       {"results.csv": RESULTS.replace(",value", "")})  # fmt: skip
report("report-results-text-value", ("{tmp}/r/results.csv:2", "value", "'high'"),
       {"results.csv": RESULTS.replace("0.9,", "high,", 1)})  # fmt: skip
report("report-results-text-load", ("{tmp}/r/results.csv:3", "load", "'half'"),
       {"results.csv": RESULTS.replace(",0.5,b,0,mean_util,", ",half,b,0,mean_util,", 1)})  # fmt: skip
report("report-results-text-seed", ("{tmp}/r/results.csv:2", "seed", "'first'"),
       {"results.csv": RESULTS.replace(",b,0,", ",b,first,", 1)})  # fmt: skip
report("report-results-empty-seed", ("{tmp}/r/results.csv:2", "seed"),
       {"results.csv": RESULTS.replace(",b,0,", ",b,,", 1)})  # fmt: skip
report("report-results-binary", ("{tmp}/r/results.csv",), {"results.csv": b"\x89PNG\x00\xff\xfe\x00"})
report(
    "report-results-ragged", ("{tmp}/r/results.csv",), {"results.csv": RESULTS + "a,b,c,d,e,f,g,h,i,j,k,l\n"}
)
report("report-no-spec", ("{tmp}/r/spec.yaml", "no such file"), {"spec.yaml": None})
report("report-spec-corrupt", ("{tmp}/r/spec.yaml", "YAML"), {"spec.yaml": "name: [\n"})
report("report-spec-binary", ("{tmp}/r/spec.yaml", "not a text file"), {"spec.yaml": b"\xff\xfe\x00\x01"})
report("report-spec-a-list", ("{tmp}/r/spec.yaml", "mapping"), {"spec.yaml": "- 1\n"})
report("report-spec-unknown-domain", ("{tmp}/r/spec.yaml", "'flowte'"), {"spec.yaml": spec(domain="flowte")})
report("report-spec-methods-number", ("{tmp}/r/spec.yaml", "methods"), {"spec.yaml": spec(methods=5)})
report("report-spec-scenarios-number", ("{tmp}/r/spec.yaml", "scenarios"), {"spec.yaml": spec(scenarios=5)})
report(
    "report-spec-topologies-number", ("{tmp}/r/spec.yaml", "topologies"), {"spec.yaml": spec(topologies=5)}
)
report("report-spec-training-list", ("{tmp}/r/spec.yaml", "training"), {"spec.yaml": spec(training=[5])})
report("report-spec-paper-text", ("{tmp}/r/spec.yaml", "paper"), {"spec.yaml": spec(paper={"values": "x"})})
report("report-spec-paper-value-text", ("{tmp}/r/spec.yaml", "paper.values[0]", "'x'"),
       {"spec.yaml": paper_spec(value="x")})  # fmt: skip
report("report-result-json-corrupt", ("{tmp}/r/cells/ecmp-1/result.json", "not a valid cell result"),
       {f"{CELL}/result.json": '{"cell": '})  # fmt: skip
report(
    "report-result-json-binary", ("{tmp}/r/cells/ecmp-1/result.json",), {f"{CELL}/result.json": b"\xff\x00"}
)
report(
    "report-result-json-no-cell", ("{tmp}/r/cells/ecmp-1/result.json", "cell"), {f"{CELL}/result.json": "{}"}
)
report("report-result-json-list", ("{tmp}/r/cells/ecmp-1/result.json",), {f"{CELL}/result.json": "[1]"})
report("report-result-json-bad-seed", ("{tmp}/r/cells/ecmp-1/result.json", "seed"),
       {f"{CELL}/result.json": RESULT_JSON.replace('"seed": 0', '"seed": "x"')})  # fmt: skip
report("report-series-not-csv", ("{tmp}/r/cells/ecmp-1/series.csv", "CSV"),
       {f"{CELL}/series.csv": 'interval,mlu\n"0,0.9\n1,2,3,4,5\n'})  # fmt: skip
report(
    "report-series-binary", ("{tmp}/r/cells/ecmp-1/series.csv",), {f"{CELL}/series.csv": b"\xff\xfe\x00\x01"}
)
report("report-series-missing-column", ("{tmp}/r/cells/ecmp-1/series.csv", "mlu"),
       {f"{CELL}/series.csv": SERIES.replace("interval,mlu,", "interval,util,")})  # fmt: skip
report("report-series-text-value", ("{tmp}/r/cells/ecmp-1/series.csv:3", "mlu", "'high'"),
       {f"{CELL}/series.csv": SERIES.replace("\n1,0.9,", "\n1,high,")})  # fmt: skip
report("report-series-empty", ("{tmp}/r/cells/ecmp-1/series.csv",), {f"{CELL}/series.csv": ""})
report("report-learning-not-csv", ("{tmp}/r/cells/ppo-1/learning.csv", "CSV"),
       {f"{LEARNED}/learning.csv": 'timesteps,episode_reward_mean\n"0,1\n1,2,3,4\n'})  # fmt: skip
report("report-learning-missing-column", ("{tmp}/r/cells/ppo-1/learning.csv", "episode_reward_mean"),
       {f"{LEARNED}/learning.csv": "timesteps,reward\n0,1\n"})  # fmt: skip
report("report-learning-text-value", ("{tmp}/r/cells/ppo-1/learning.csv:3", "timesteps", "'later'"),
       {f"{LEARNED}/learning.csv": LEARNING.replace("100,", "later,")})  # fmt: skip
report("report-md-a-folder", ("{tmp}/r/report.md", "cannot write"), {"report.md/x": ""})
report("report-figures-a-file", ("{tmp}/r/figures", "cannot write"), {"figures": "x"})
report("report-series-a-folder", ("{tmp}/r/cells/ecmp-1/series.csv",),
       {f"{CELL}/series.csv": None, f"{CELL}/series.csv/x": ""})  # fmt: skip

# ====================================================================== rlte bench and the parser
case("bench-only-unknown", "bench --only x", ("--only", "'x'"))
case("bench-only-empty", ["bench", "--only", ""], ("--only", "''"))
case("demo-data-dir-missing", "demo --data-dir {tmp}/nodir", ("--data-dir", "{tmp}/nodir"))
case("unknown-command", "frobnicate", ("'frobnicate'",))
case("topo-show-no-id", "topo show", ("ID",))
case("baselines-no-traffic", "baselines --topology nsfnet14", ("--traffic",))
case("unknown-option", "topo show nsfnet14 --colour", ("--colour",))


# ---------------------------------------------------------------------- the test
def _fill(text: str, tmp: str, data: str) -> str:
    return text.replace("{tmp}", tmp).replace("{data}", data)


def _write(root, files: dict, tmp: str, data: str) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(_fill(content, tmp, data), encoding="utf-8")


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_gives_one_line_and_exit_2(bad: Case, tmp_path, capsys, monkeypatch, request):
    tmp = str(tmp_path)
    data = str(request.getfixturevalue("data_dir")) if bad.data else ""
    _write(tmp_path, bad.files, tmp, data)
    for key, value in bad.env.items():
        monkeypatch.setenv(key, _fill(value, tmp, data))
    monkeypatch.chdir(tmp_path)  # anything written by mistake lands here, not in the checkout
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = main([_fill(arg, tmp, data) for arg in bad.argv])
        except SystemExit as stop:  # the parser's own errors
            code = stop.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    assert out == "", f"printed before refusing: {out[:300]!r}"
    lines = err.splitlines()
    assert len(lines) == 1, f"stderr has {len(lines)} lines:\n{err}"
    assert lines[0].startswith("rlte: error: "), lines[0]
    for fragment in bad.names:
        assert _fill(fragment, tmp, data) in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert code == 2, f"exit status {code}: {lines[0]}"
    shown = [w for w in caught if not issubclass(w.category, _HIDDEN_WARNINGS)]
    assert not shown, f"a warning would be a second line: {shown[0].category.__name__}: {shown[0].message}"


VALID_FILES = [
    pytest.param(["topo", "show"], "t.gml", gml(), id="gml"),
    pytest.param(["topo", "show"], "t.graphml", graphml(), id="graphml"),
    pytest.param(["topo", "show"], "t.json", node_link(), id="node-link-json"),
    pytest.param(
        ["topo", "show"],
        "t.csv",
        "u,v,capacity,weight,delay\na,b,1e9,1,0.001\nb,c,1e9,1,0.001\nc,a,1e9,1,0.001\n",
        id="edge-csv",
    ),  # fmt: skip
    pytest.param(["topo", "show"], "bom.csv", "\ufeffu,v\na,b\nb,c\nc,a\n", id="edge-csv-with-bom"),
    pytest.param(
        ["topo", "show"], "t.txt", ABILENE_HEADER + "0 0 1 1 1000\n1 1 0 1 1000\n", id="abilene-table"
    ),
    pytest.param(["traffic", "show", "--topology", "nsfnet14"], "t.csv", LONG + "0,1,5\n", id="long-csv"),
    pytest.param(
        ["traffic", "show"], "t.csv", WIDE + "20050504-0000,1,2\n20050504-0015,1,2\n", id="sndlib-csv"
    ),
    pytest.param(["traffic", "show"], "bom.csv", "\ufeff" + LONG + "0,1,5\n", id="long-csv-with-bom"),
    pytest.param(["traffic", "show"], "t.xml", sndlib_xml(demand()), id="sndlib-xml"),
    pytest.param(["traffic", "show"], "tm", ABILENE_LINE * 2, id="abilene-tm"),
    pytest.param(["traffic", "show"], "t.json", flows(flow(), flow(start="1", end="0")), id="maroh-flows"),
    pytest.param(["run", "--dry-run"], "s.yaml", spec(), id="flow-spec"),
    pytest.param(["run", "--dry-run"], "s.yaml", packet_spec(), id="packet-spec"),
    pytest.param(["run", "--dry-run"], "s.yaml", RUN_SPEC, id="report-spec"),
]


@pytest.mark.parametrize(("command", "filename", "content"), VALID_FILES)
def test_the_valid_pieces_the_table_breaks_are_valid(command, filename, content, tmp_path, capsys):
    """Each bad file of the table is one of these, broken in one place: so it is that place the
    command refuses."""
    path = tmp_path / filename
    path.write_text(content, encoding="utf-8")
    argv = [*command[:2], str(path), *command[2:]]
    assert main(argv) == 0, capsys.readouterr().err
    assert capsys.readouterr().err == ""


def test_the_run_folder_the_table_breaks_reports(tmp_path, capsys):
    _write(tmp_path, run_folder({}), str(tmp_path), "")
    assert main(["report", str(tmp_path / "r")]) == 0, capsys.readouterr().err
    assert (tmp_path / "r" / "report.md").stat().st_size > 0


def test_a_long_topology_path_makes_a_short_cell_folder(tmp_path):
    """A topology named by a long path still gives a cell folder name the system accepts."""
    from rlte.experiments.spec import Cell, Method

    cell = Cell(
        Method("ecmp"), "/" + "/".join(["folder" * 20] * 4) + "/t.gml", "uniform:1e6", 0.5, "plain", 0
    )
    assert len(cell.cell_id.encode()) <= 200
    (tmp_path / cell.cell_id).mkdir()


def test_the_table_is_large_and_its_ids_unique():
    ids = [param.id for param in CASES]
    assert len(ids) >= 130
    assert len(set(ids)) == len(ids)


def test_console_script_prints_one_line(tmp_path):
    """Through the installed entry point, in a fresh process: warnings and all."""
    import subprocess
    import sys

    bad = tmp_path / "neg.csv"
    bad.write_text(LONG + "0,1,-5\n")
    result = subprocess.run(
        [sys.executable, "-m", "rlte", "traffic", "show", str(bad), "--topology", "nsfnet14"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"rlte: error: {bad}:2: rate_bps -5.0 must be a finite number >= 0"]
