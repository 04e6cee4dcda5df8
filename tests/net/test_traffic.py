"""Tests of rlte.net.traffic: the series, every loader (tiny files written here, and the real data
when a data directory exists) and the generators' determinism and promised statistics."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from rlte.datadir import data_dir as resolve_data_dir
from rlte.errors import RlteError
from rlte.net import traffic
from rlte.net.topology import ABILENE_NODES, Topology, load_topology
from rlte.net.traffic import (
    Burst,
    Flows,
    GravityMasses,
    TrafficSeries,
    bimodal,
    daily_profile,
    diurnal,
    from_topology,
    gravity,
    gravity_masses,
    inject_bursts,
    load_abilene_tm,
    load_maroh_flows,
    load_sndlib_csv,
    load_sndlib_xml,
    load_traffic,
    load_traffic_csv,
    load_traffic_file,
    parse_rate,
    poisson_sample,
    read_maroh_flows,
    uniform,
)

REAL_DATA = resolve_data_dir(required=False)
needs_data = pytest.mark.skipif(REAL_DATA is None, reason="no data directory (set RLTE_DATA)")


def exact(message: str) -> str:
    """A regex matching exactly this error message."""
    return "^" + re.escape(message) + "$"


def ring(nodes, *, demands=None, name="ring") -> Topology:
    """A bidirectional ring over the named nodes."""
    n = len(nodes)
    src = [i for i in range(n)] + [(i + 1) % n for i in range(n)]
    dst = [(i + 1) % n for i in range(n)] + [i for i in range(n)]
    return Topology(
        name=name, nodes=nodes, src=src, dst=dst, capacity=np.full(2 * n, 1e9),
        delay=np.full(2 * n, 1e-3), weight=np.ones(2 * n), demands=demands,
    )  # fmt: skip


def series_of(matrices, nodes=("a", "b", "c"), **kwargs) -> TrafficSeries:
    return TrafficSeries.from_matrices(list(nodes), np.asarray(matrices, dtype=float), **kwargs)


def hourly_acf(series: TrafficSeries, max_lag: int) -> np.ndarray:
    """Autocorrelation of the hourly mean total at lags 0..max_lag hours."""
    per_hour = int(round(3600 / series.interval_s))
    total = series.total()
    hourly = total[: len(total) // per_hour * per_hour].reshape(-1, per_hour).mean(axis=1)
    x = hourly - hourly.mean()
    return np.array([1.0] + [float(np.dot(x[:-k], x[k:]) / np.dot(x, x)) for k in range(1, max_lag + 1)])


# ====================================================================== the series
class TestTrafficSeries:
    def test_fields_are_read_only_arrays(self):
        s = series_of(np.ones((2, 3, 3)) - np.eye(3))
        assert s.demands.dtype == np.float64 and s.demands.shape == (2, 3, 3)
        assert s.timestamps.dtype == np.dtype("datetime64[s]")
        with pytest.raises(ValueError):
            s.demands[0, 0, 1] = 5.0
        assert len(s) == 2 and s.num_nodes == 3

    def test_constructor_copies_writeable_input(self):
        values = np.zeros((1, 2, 2))
        values[0, 0, 1] = 1.0
        s = TrafficSeries(("a", "b"), values, np.array(["2020-01-01"], dtype="datetime64[s]"), 60.0, "x")
        values[0, 0, 1] = 99.0
        assert s.demands[0, 0, 1] == 1.0

    @pytest.mark.parametrize("value, kind", [(-1.0, "negative"), (np.nan, "NaN"), (np.inf, "infinite")])
    def test_bad_demand_names_time_and_pair(self, value, kind):
        values = np.zeros((3, 3, 3))
        values[2, 1, 0] = value
        with pytest.raises(
            RlteError, match=exact(f"traffic 'x': {kind} demand {value!r} at time index 2, b -> a")
        ):
            series_of(values, name="x")

    def test_nonzero_diagonal_raises_or_is_zeroed_on_request(self):
        values = np.zeros((2, 3, 3))
        values[1, 2, 2] = 4.0
        with pytest.raises(RlteError, match=r"^traffic 'x': self-demand 4.0 at time index 1, c -> c; "):
            series_of(values, name="x")
        assert series_of(values, zero_diagonal=True).demands.sum() == 0.0

    def test_wrong_shape_duplicate_nodes_and_timestamps(self):
        stamps = np.array(["2020-01-01T00:00", "2020-01-01T00:05"], dtype="datetime64[s]")
        with pytest.raises(
            RlteError, match=exact("traffic 'x': demands have shape (2, 3, 2), want (T, 3, 3)")
        ):
            TrafficSeries(("a", "b", "c"), np.zeros((2, 3, 2)), stamps, 300.0, "x")
        with pytest.raises(RlteError, match=exact("traffic 'x': duplicate node name 'a'")):
            TrafficSeries(("a", "b", "a"), np.zeros((2, 3, 3)), stamps, 300.0, "x")
        with pytest.raises(RlteError, match=exact("traffic 'x': timestamps have shape (2,), want (3,)")):
            TrafficSeries(("a", "b"), np.zeros((3, 2, 2)), stamps, 300.0, "x")
        with pytest.raises(
            RlteError, match=r"^traffic 'x': timestamps not strictly increasing at time index 1"
        ):
            TrafficSeries(("a", "b"), np.zeros((2, 2, 2)), stamps[::-1], 300.0, "x")
        with pytest.raises(RlteError, match=exact("traffic 'x': no time steps")):
            TrafficSeries(("a", "b"), np.zeros((0, 2, 2)), stamps[:0], 300.0, "x")
        with pytest.raises(
            RlteError, match=exact("traffic 'x': interval_s -5.0 must be a positive number of seconds")
        ):
            TrafficSeries(("a", "b"), np.zeros((2, 2, 2)), stamps, -5.0, "x")

    def test_slicing(self):
        s = series_of(np.arange(10)[:, None, None] * (1 - np.eye(3)), interval_s=60.0)
        part = s[2:5]
        assert isinstance(part, TrafficSeries) and len(part) == 3
        assert part.demands[0, 0, 1] == 2.0
        assert part.timestamps[0] == s.timestamps[2]
        every_other = s[::2]
        assert len(every_other) == 5 and every_other.interval_s == 120.0
        assert s[3].shape == (3, 3) and s[3][0, 1] == 3.0
        with pytest.raises(RlteError, match="must go forward in time"):
            s[::-1]

    def test_split_is_disjoint_and_covers(self):
        s = series_of(np.ones((10, 3, 3)) - np.eye(3))
        for train, test in (s.split(0.7), s.split(at=7), s.split(at=-3), s.split(at=str(s.timestamps[7]))):
            assert (len(train), len(test)) == (7, 3)
            assert train.timestamps[-1] < test.timestamps[0]
            assert np.array_equal(np.concatenate([train.timestamps, test.timestamps]), s.timestamps)
        with pytest.raises(
            RlteError, match=exact("traffic 'traffic': splitting 10 steps at index 0 leaves an empty part")
        ):
            s.split(at=0)
        with pytest.raises(RlteError, match="needs one of train_fraction and at"):
            s.split(0.5, at=3)

    def test_split_days_first_five_train_last_two_test(self):
        week = uniform(3, 1.0, steps=7 * 288, interval_s=300.0)
        train, test = week.split_days(5)
        assert (len(train), len(test)) == (5 * 288, 2 * 288)
        assert str(test.start) == "2000-01-06T00:00:00"
        _, one_day = week.split_days(5, test_days=1)
        assert len(one_day) == 288
        with pytest.raises(RlteError, match="leaves an empty part"):
            week.split_days(7)

    def test_scaled_total_mean_peak(self):
        s = series_of([[[0, 1, 2], [3, 0, 0], [0, 0, 0]], [[0, 3, 0], [1, 0, 0], [0, 4, 0]]])
        assert np.array_equal(s.total(), [6.0, 8.0])
        assert np.array_equal(s.mean_matrix(), [[0, 2, 1], [2, 0, 0], [0, 2, 0]])
        assert np.array_equal(s.peak_matrix(), [[0, 3, 2], [3, 0, 0], [0, 4, 0]])
        assert np.array_equal(s.scaled(2.5).total(), [15.0, 20.0])
        with pytest.raises(RlteError, match="scale factor -1"):
            s.scaled(-1)

    def test_aligned_to_reorders_and_names_missing_nodes(self):
        s = series_of([[[0, 1, 2], [3, 0, 4], [5, 6, 0]]], name="x")
        topo = ring(["c", "a", "b"], name="bar")
        aligned = s.aligned_to(topo)
        assert aligned.nodes == ("c", "a", "b")
        for i, u in enumerate(aligned.nodes):
            for j, v in enumerate(aligned.nodes):
                assert aligned.demands[0, i, j] == s.demands[0, s.index_of(u), s.index_of(v)]
        assert aligned.aligned_to(topo) is aligned
        with pytest.raises(RlteError, match=exact("traffic 'x': node 'c' is not in topology 'bar'")):
            s.aligned_to(ring(["a", "b", "d"], name="bar"))
        with pytest.raises(RlteError, match=exact("traffic 'x': has no node 'd' of topology 'bar'")):
            s.aligned_to(ring(["a", "b", "c", "d"], name="bar"))
        filled = s.aligned_to(ring(["d", "a", "b", "c"]), fill_missing=True)
        assert filled.demands[0, 0].sum() == 0 and filled.demands.sum() == s.demands.sum()

    def test_summary_by_hand(self):
        # 4 nodes, 12 pairs; pair a->b carries 60 % of the bytes, so the top 10 % (2 pairs) carry 60+10.
        values = np.zeros((4, 4, 4))
        values[:, 0, 1] = [6, 6, 6, 6]
        values[:, 1, 0] = [1, 1, 1, 1]
        values[:, 2, 3] = [0, 2, 2, 0]
        values[:, 3, 2] = [1, 1, 1, 1]
        values[:, 3, 1] = [0, 0, 1, 0]
        values[:, 0, 2] = [2, 0, 0, 1]
        s = TrafficSeries.from_matrices(
            list("abcd"), values, interval_s=3600 * 6, start="2020-01-01", name="tiny"
        )
        summary = s.summary(heaviest=2)
        assert summary["steps"] == 4 and summary["nodes"] == 4
        assert summary["start"] == "2020-01-01T00:00:00" and summary["end"] == "2020-01-02T00:00:00"
        assert summary["total_mean_bps"] == 10.0
        assert summary["total_max_bps"] == 11.0 and summary["total_min_bps"] == 9.0
        assert summary["daily_peak_trough"] == {"2020-01-01": 11.0 / 9.0}
        assert summary["heaviest_pairs"][0] == {"src": "a", "dst": "b", "share": 0.6}
        assert summary["top10pct_pairs_share"] == pytest.approx(0.7)
        assert summary["bytes"] == pytest.approx(40 * 6 * 3600 / 8)


# ====================================================================== loaders on tiny files
class TestAbileneLoader:
    def test_unit_and_diagonal(self, tmp_path):
        path = tmp_path / "tm"
        path.write_text("10 300 600 0\n\n1 2 3 4\n")
        s = load_abilene_tm(path, nodes=("x", "y"), start="2004-03-01", interval_s=300.0)
        assert s.demands.shape == (2, 2, 2)
        # 300 units of 100 bytes in 300 s = 800 bit/s; the diagonal (10, 0; 1, 4) is dropped
        assert s.demands[0, 0, 1] == pytest.approx(300 * 100 * 8 / 300)
        assert s.demands[0, 1, 0] == pytest.approx(600 * 100 * 8 / 300)
        assert np.einsum("tii->", s.demands) == 0
        assert str(s.timestamps[1]) == "2004-03-01T00:05:00"

    def test_default_is_twelve_nodes(self, tmp_path):
        path = tmp_path / "AbileneTM"
        path.write_text("\n".join(" ".join(["1.0e+03"] * 144) for _ in range(3)) + "\n")
        s = load_abilene_tm(path)
        assert s.nodes == ABILENE_NODES and s.demands.shape == (3, 12, 12)
        assert str(s.start) == "2004-03-01T00:00:00" and s.interval_s == 300.0

    def test_malformed(self, tmp_path):
        path = tmp_path / "AbileneTM"
        path.write_text(" ".join(["1"] * 144) + "\n" + " ".join(["1"] * 12) + "\n")
        with pytest.raises(RlteError, match=exact(f"{path}:2: expected 144 numbers, found 12")):
            load_abilene_tm(path)
        path.write_text("1 2 x 4\n")
        with pytest.raises(RlteError, match=exact(f"{path}:1: 'x' is not a number")):
            load_abilene_tm(path, nodes=("a", "b"))
        path.write_text("0 1 1 0\n0 -7 1 0\n")
        with pytest.raises(RlteError, match=exact(f"{path}:2: negative value -7.0 for a -> b")):
            load_abilene_tm(path, nodes=("a", "b"))
        path.write_text("0 nan 1 0\n")
        with pytest.raises(RlteError, match=exact(f"{path}:1: NaN value nan for a -> b")):
            load_abilene_tm(path, nodes=("a", "b"))
        path.write_text("\n")
        with pytest.raises(RlteError, match=exact(f"{path}: no traffic matrices")):
            load_abilene_tm(path)
        with pytest.raises(RlteError, match="no such file"):
            load_abilene_tm(tmp_path / "missing")


GEANT_TINY = """time,a.x->a.x,a.x->b.y,b.y->a.x,b.y->c.z,c.z->a.x
20050504-1500,9,1.5,0,2,0.25
20050504-1515,9,0,3,0,1
20050504-1530,9,4,0,0,0
"""


class TestSndlibCsv:
    def test_tiny(self, tmp_path):
        path = tmp_path / "geant_tiny.csv"
        path.write_text(GEANT_TINY)
        s = load_sndlib_csv(path)
        assert s.nodes == ("a.x", "b.y", "c.z") and s.demands.shape == (3, 3, 3)
        assert s.interval_s == 900.0 and str(s.start) == "2005-05-04T15:00:00"
        assert s.demands[0, 0, 1] == 1.5e6 and s.demands[0, 2, 0] == 0.25e6
        assert s.demands[:, 0, 2].sum() == 0  # absent column
        assert np.einsum("tii->", s.demands) == 0  # a.x->a.x dropped
        assert s.name == "geant_tiny"

    @pytest.mark.parametrize(
        "text, message",
        [
            ("when,a->b\n20050504-1500,1\n", ":1: the first column must be 'time', found 'when'"),
            ("time,a-b\n20050504-1500,1\n", ":1: column 'a-b' is not 'src->dst'"),
            ("time,a->b,a->b\n20050504-1500,1,1\n", ":1: duplicate column 'a->b'"),
            ("time,a->b,b->a\n20050504-1500,1\n", ":2: expected 3 fields, found 2"),
            (
                "time,a->b,b->a\n20050504-1500,1,2\n20050504-1515,1,oops\n",
                ":3: column 'b->a' value 'oops' is not a number",
            ),
            ("time,a->b,b->a\n20050504-1500,1,2\n20050504-1515,1,-2\n", ":3: negative value -2.0 for b -> a"),
            (
                "time,a->b\nyesterday,1\n",
                ":2: time 'yesterday' is not a time (use YYYYMMDD-HHMM or ISO 8601)",
            ),
            ("time,a->b\n", ": no rows after the header"),
        ],
    )
    def test_malformed(self, tmp_path, text, message):
        path = tmp_path / "bad.csv"
        path.write_text(text)
        with pytest.raises(RlteError, match=exact(f"{path}{message}")):
            load_sndlib_csv(path)

    def test_times_out_of_order(self, tmp_path):
        path = tmp_path / "bad.csv"
        path.write_text("time,a->b\n20050504-1515,1\n20050504-1500,1\n")
        with pytest.raises(RlteError, match=rf"^{re.escape(str(path))}: timestamps not strictly increasing"):
            load_sndlib_csv(path)


def sndlib_xml(demands, *, nodes=("n1", "n2", "n3"), meta="", namespace=True) -> str:
    ns = ' xmlns="http://sndlib.zib.de/network" version="1.0"' if namespace else ""
    node_xml = "".join(f'<node id="{n}"><coordinates><x>0</x><y>0</y></coordinates></node>' for n in nodes)
    structure = f"<networkStructure><nodes>{node_xml}</nodes><links/></networkStructure>" if nodes else ""
    demand_xml = "".join(
        f'<demand id="{s}_{t}"><source>{s}</source><target>{t}</target><demandValue> {v} </demandValue></demand>'
        for s, t, v in demands
    )
    return f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<network{ns}>{meta}{structure}<demands>{demand_xml}</demands></network>\n'


class TestSndlibXml:
    def test_one_matrix_with_namespace(self, tmp_path):
        path = tmp_path / "net.xml"
        path.write_text(sndlib_xml([("n1", "n2", 1.5), ("n2", "n3", 2), ("n1", "n2", 0.5), ("n3", "n3", 7)]))
        s = load_sndlib_xml(path)
        assert s.nodes == ("n1", "n2", "n3") and s.demands.shape == (1, 3, 3)
        assert s.demands[0, 0, 1] == 2e6  # two demands of one pair add up, Mbit/s
        assert s.demands[0, 1, 2] == 2e6 and s.demands[0, 2, 2] == 0
        assert s.total()[0] == 4e6

    def test_no_namespace_no_structure_meta_unit(self, tmp_path):
        path = tmp_path / "m.xml"
        meta = "<meta><granularity>15min</granularity><time>2005-05-04 15:00</time><unit>KBITPERSEC</unit></meta>"
        path.write_text(sndlib_xml([("p", "q", 3)], nodes=(), meta=meta, namespace=False))
        s = load_sndlib_xml(path)
        assert s.nodes == ("p", "q") and s.demands[0, 0, 1] == 3e3
        assert str(s.start) == "2005-05-04T15:00:00" and s.interval_s == 900.0

    def test_files_as_series_sorted_by_time_in_name(self, tmp_path):
        late = tmp_path / "demandMatrix-tiny-15min-20050504-1515.xml"
        early = tmp_path / "demandMatrix-tiny-15min-20050504-1500.xml"
        late.write_text(sndlib_xml([("n1", "n2", 2)]))
        early.write_text(sndlib_xml([("n1", "n2", 1)]))
        s = load_sndlib_xml([late, early])
        assert s.demands[:, 0, 1].tolist() == [1e6, 2e6]
        assert s.interval_s == 900.0 and str(s.start) == "2005-05-04T15:00:00"
        assert np.array_equal(load_traffic_file(tmp_path).demands, s.demands)

    @pytest.mark.parametrize(
        "text, message",
        [
            ("<network><demands>", ": not valid XML (no element found: line 1, column 18)"),
            ("<graph/>", ": not an SNDlib network file (root element <graph>)"),
            (sndlib_xml([("n1", "n9", 1)]), ": demand 'n1_n9' has target 'n9', which is not a node"),
            (sndlib_xml([("n1", "n2", "lots")]), ": demand 'n1_n2' has demandValue 'lots', not a number"),
            (sndlib_xml([("n1", "n2", -1)]), ": demand 'n1_n2' has demandValue -1.0; it must be a finite number >= 0"),
            (sndlib_xml([("n1", "n2", "")]), ": demand 'n1_n2' has no <demandValue>"),
            ("<network><meta><unit>FURLONGS</unit></meta><demands/></network>",
             ": unknown unit 'FURLONGS' (known: BITPERSEC, KBITPERSEC, MBITPERSEC, GBITPERSEC)"),
        ],
    )  # fmt: skip
    def test_malformed(self, tmp_path, text, message):
        path = tmp_path / "bad.xml"
        path.write_text(text)
        with pytest.raises(RlteError, match=exact(f"{path}{message}")):
            load_sndlib_xml(path)


def write_flows(path, flows) -> None:
    path.write_text(
        json.dumps(
            [
                {"start": s, "end": t, "all_bandwidth": {"0": r}, "bandwidth": None, "flow_id": f"f{k}"}
                for k, (s, t, r) in enumerate(flows)
            ]
        )
    )


class TestMarohFlows:
    def test_flows_and_matrix(self, tmp_path):
        path = tmp_path / "tiny" / "flows40.json"
        path.parent.mkdir()
        write_flows(path, [("1", "2", 100.0), ("3", "1", 50.0), ("1", "2", 25.0)])
        flows = read_maroh_flows(path)
        assert isinstance(flows, Flows) and flows.nodes == ("1", "2", "3")
        assert flows.src.tolist() == [0, 2, 0] and flows.dst.tolist() == [1, 0, 1]
        assert flows.rate_bps.tolist() == [100.0, 50.0, 25.0] and flows.ids == ("f0", "f1", "f2")
        s = load_maroh_flows(path)
        assert s.name == "tiny-flows40" and s.demands.shape == (1, 3, 3)
        assert s.demands[0, 0, 1] == 125.0 and s.demands[0, 2, 0] == 50.0
        topo = ring(["3", "2", "1", "4"], name="t")
        aligned = load_maroh_flows(path, topo)
        assert aligned.nodes == topo.nodes and aligned.demands[0, 2, 1] == 125.0
        assert read_maroh_flows(path, topo).src.tolist() == [2, 0, 2]

    def test_malformed(self, tmp_path):
        path = tmp_path / "flows.json"
        write_flows(path, [("1", "2", 1.0), ("9", "2", 1.0)])
        with pytest.raises(
            RlteError, match=exact(f"{path}: flow 1: start '9' is not a node of topology 't'")
        ):
            read_maroh_flows(path, ring(["1", "2", "3"], name="t"))
        write_flows(path, [("1", "1", 1.0)])
        with pytest.raises(RlteError, match=exact(f"{path}: flow 0: starts and ends at '1'")):
            read_maroh_flows(path)
        write_flows(path, [("1", "2", -3)])
        with pytest.raises(
            RlteError, match=exact(f"{path}: flow 0: bandwidth -3.0 must be a finite number >= 0")
        ):
            read_maroh_flows(path)
        write_flows(path, [("1", "2", 1.0)])
        with pytest.raises(RlteError, match=exact(f"{path}: flow 0: no bandwidth at time '5' (has '0')")):
            read_maroh_flows(path, time="5")
        path.write_text('{"start": "1"}')
        with pytest.raises(RlteError, match=exact(f"{path}: expected a JSON list of flows, found dict")):
            read_maroh_flows(path)
        path.write_text("[")
        with pytest.raises(RlteError, match=rf"^{re.escape(str(path))}: not valid JSON"):
            read_maroh_flows(path)


class TestLongCsv:
    def test_with_and_without_time(self, tmp_path):
        path = tmp_path / "long.csv"
        path.write_text("src,dst,rate_bps\na,b,10\nb,c,5\na,b,2.5\n")
        s = load_traffic_csv(path)
        assert s.nodes == ("a", "b", "c") and s.demands.shape == (1, 3, 3)
        assert s.demands[0, 0, 1] == 12.5 and s.demands[0, 1, 2] == 5
        path.write_text(
            "time,src,dst,rate_bps\n2020-01-01T00:05,a,b,3\n2020-01-01T00:00,b,a,1\n2020-01-01T00:10,a,b,4\n"
        )
        s = load_traffic_csv(path)
        assert s.demands.shape == (3, 2, 2) and s.interval_s == 300.0
        assert s.demands[:, 0, 1].tolist() == [0, 3, 4] and s.demands[:, 1, 0].tolist() == [1, 0, 0]

    @pytest.mark.parametrize(
        "text, message",
        [
            (
                "src,dst,rate\na,b,1\n",
                ":1: missing column 'rate_bps' (header must be time,src,dst,rate_bps; time optional)",
            ),
            ("src,dst,rate_bps\na,b,1\nb,b,2\n", ":3: src and dst are both 'b'"),
            ("src,dst,rate_bps\na,b,fast\n", ":2: rate_bps 'fast' is not a number"),
            ("src,dst,rate_bps\na,b,-1\n", ":2: rate_bps -1.0 must be a finite number >= 0"),
            ("src,dst,rate_bps\na,b,nan\n", ":2: rate_bps nan must be a finite number >= 0"),
            ("src,dst,rate_bps\na,z,1\n", ":2: dst 'z' is not a node of topology 't'"),
        ],
    )
    def test_malformed(self, tmp_path, text, message):
        path = tmp_path / "long.csv"
        path.write_text(text)
        with pytest.raises(RlteError, match=exact(f"{path}{message}")):
            load_traffic_csv(path, ring(["a", "b", "c"], name="t"))


class TestFromTopology:
    def test_static_matrix(self):
        demands = np.array([[0, 1, 2], [3, 0, 4], [5, 6, 0]], dtype=float)
        s = from_topology(ring(["a", "b", "c"], demands=demands, name="t"))
        assert s.demands.shape == (1, 3, 3) and np.array_equal(s.demands[0], demands)
        assert s.name == "t-demands"

    def test_without_matrix(self):
        with pytest.raises(RlteError, match=r"^topology 't': has no static demand matrix"):
            from_topology(ring(["a", "b", "c"], name="t"))

    def test_topohub_abilene(self):
        s = load_traffic("topohub", load_topology("sndlib/abilene"))
        assert s.nodes == ABILENE_NODES and s.demands.shape == (1, 12, 12)


class TestLoadTraffic:
    def test_generated_specs(self):
        topo = ring(["a", "b", "c", "d"], name="t")
        flat = load_traffic("uniform:5M", topo)
        assert flat.nodes == topo.nodes and flat.total()[0] == 12 * 5e6
        first = load_traffic("gravity:1e9", topo)
        assert first.total()[0] == pytest.approx(1e9)
        assert np.array_equal(first.demands, load_traffic("gravity:1G", topo).demands)  # fixed seed 0
        other = load_traffic("gravity:1e9", topo, rng=np.random.default_rng(1))
        assert not np.array_equal(first.demands, other.demands)
        assert parse_rate("2.5G") == 2.5e9 and parse_rate("100k") == 1e5

    def test_unknown_and_missing_topology(self):
        with pytest.raises(RlteError, match=exact(f"traffic 'nonsense': unknown; use {traffic._SPECS_HELP}")):
            load_traffic("nonsense")
        with pytest.raises(RlteError, match=exact("traffic 'uniform:1e9': needs a topology")):
            load_traffic("uniform:1e9")
        with pytest.raises(RlteError, match=r"^traffic 'uniform:fast': 'fast' is not a rate"):
            load_traffic("uniform:fast", ring(["a", "b", "c"]))

    def test_files_by_extension_and_content(self, tmp_path):
        topo = ring(["b.y", "c.z", "a.x"], name="t")
        wide = tmp_path / "wide.csv"
        wide.write_text(GEANT_TINY)
        assert load_traffic(str(wide), topo).nodes == topo.nodes
        long = tmp_path / "long.csv"
        long.write_text("src,dst,rate_bps\na.x,b.y,1\n")
        assert load_traffic(str(long), topo).demands[0, 2, 0] == 1.0  # absent nodes are simply 0
        xml = tmp_path / "one.xml"
        xml.write_text(sndlib_xml([("n1", "n2", 1)]))
        assert load_traffic(str(xml)).total()[0] == 1e6
        flows = tmp_path / "flows40.json"
        write_flows(flows, [("a.x", "c.z", 7.0)])
        assert load_traffic(str(flows), topo).demands[0, 2, 1] == 7.0
        tm = tmp_path / "TM"
        tm.write_text(" ".join(["3"] * 144) + "\n")
        assert load_traffic(str(tm)).nodes == ABILENE_NODES
        with pytest.raises(
            RlteError, match=exact("traffic 'x': node 'a.x' is not in topology 'other' (and 1 more)")
        ):
            load_traffic_csv(long, name="x").aligned_to(ring(["p", "q", "r"], name="other"))

    def test_data_dir_specs_on_a_tiny_data_dir(self, tmp_path):
        (tmp_path / "abilene").mkdir()
        (tmp_path / "abilene" / "AbileneTM").write_text(" ".join(["30"] * 144) + "\n")
        (tmp_path / "maroh" / "tiny").mkdir(parents=True)
        (tmp_path / "maroh" / "tiny" / "topology.gml").write_text(
            'graph [\n directed 1\n node [ id 0 label "x" ]\n node [ id 1 label "y" ]\n'
            " edge [ source 0 target 1 bandwidth 10 ]\n edge [ source 1 target 0 bandwidth 10 ]\n]\n"
        )
        write_flows(tmp_path / "maroh" / "tiny" / "flows40.json", [("y", "x", 4.0)])
        abilene = load_traffic("abilene", data_dir=tmp_path)
        assert abilene.demands.shape == (1, 12, 12) and abilene.demands[0, 0, 1] == 30 * 100 * 8 / 300
        flows = load_traffic("maroh/tiny/flows40", data_dir=tmp_path)
        assert flows.nodes == ("x", "y") and flows.demands[0, 1, 0] == 4.0  # order of topology.gml
        with pytest.raises(RlteError, match="missing from the data directory"):
            load_traffic("geant", data_dir=tmp_path)


# ====================================================================== real data
@pytest.fixture(scope="module")
def real_data():
    if REAL_DATA is None:
        pytest.skip("no data directory (set RLTE_DATA)")
    return REAL_DATA


@needs_data
class TestRealData:
    def test_abilene_week(self, real_data):
        s = load_traffic("abilene", data_dir=real_data)
        assert s.demands.shape == (2016, 12, 12) and s.nodes == ABILENE_NODES
        assert str(s.start) == "2004-03-01T00:00:00" and str(s.timestamps[-1]) == "2004-03-07T23:55:00"
        # line 11, value 3*12 + 7 (DNVRng -> LOSAng), by hand from the raw file
        line = (real_data / "abilene" / "AbileneTM").read_text().splitlines()[10].split()
        assert s.demands[10, 3, 7] == pytest.approx(float(line[3 * 12 + 7]) * 100 * 8 / 300)
        assert s.aligned_to(load_topology("abilene", data_dir=real_data)) is s
        summary = s.summary()
        assert 2.5e9 < summary["total_mean_bps"] < 3.5e9  # 3.6 Gbit/s with the dropped self-traffic
        assert all(1.3 < r < 3.0 for r in summary["daily_peak_trough"].values())
        assert 0.38 < summary["top10pct_pairs_share"] < 0.48
        train, test = s.split_days(5)
        assert (len(train), len(test)) == (1440, 576)

    def test_geant(self, real_data):
        topo = load_topology("sndlib/geant")
        s = load_traffic("geant", data_dir=real_data)
        assert s.demands.shape == (324, 22, 22) and s.interval_s == 900.0
        assert s.nodes == topo.nodes and s.aligned_to(topo) is s
        assert str(s.start) == "2005-05-04T15:00:00" and str(s.timestamps[-1]) == "2005-05-07T23:45:00"

    @pytest.mark.parametrize("net", ["rhombus", "abilene"])
    @pytest.mark.parametrize("flow_set", ["flows40", "flows60"])
    def test_maroh(self, real_data, net, flow_set):
        topo = load_topology(f"maroh/{net}", data_dir=real_data)
        s = load_traffic(f"maroh/{net}/{flow_set}", topo, data_dir=real_data)
        assert s.nodes == topo.nodes and len(s) == 1
        flows = read_maroh_flows(real_data / "maroh" / net / f"{flow_set}.json", topo)
        raw = json.loads((real_data / "maroh" / net / f"{flow_set}.json").read_text())
        assert len(flows.rate_bps) == len(raw)
        assert s.total()[0] == pytest.approx(sum(f["all_bandwidth"]["0"] for f in raw))
        assert np.allclose(flows.matrix(), s.demands[0])
        assert np.array_equal(load_traffic(f"maroh/{net}/{flow_set}", data_dir=real_data).demands, s.demands)


# ====================================================================== generators
NODES = tuple(f"n{i}" for i in range(10))

GENERATORS = {
    "gravity": lambda rng: gravity(NODES, 1e9, rng, steps=3, noise=0.2),
    "bimodal": lambda rng: bimodal(NODES, rng, 1e6, 1e8, 0.2, steps=3),
    "diurnal": lambda rng: diurnal(np.ones((10, 10)), 50, 300.0, rng, nodes=NODES),
    "bursts": lambda rng: inject_bursts(uniform(NODES, 1e6, steps=20), rng, 0.05).series,
    "poisson": lambda rng: poisson_sample(uniform(NODES, 1e6, steps=3), rng),
}


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_generators_deterministic_for_a_seed(kind):
    make = GENERATORS[kind]
    first, again, other = (make(np.random.default_rng(seed)) for seed in (7, 7, 8))
    assert np.array_equal(first.demands, again.demands)
    assert not np.array_equal(first.demands, other.demands)
    assert first.nodes == NODES and np.einsum("tii->", first.demands) == 0


def test_uniform():
    s = uniform(ring(["a", "b", "c"]), 2e6, steps=4, interval_s=60.0)
    assert s.demands.shape == (4, 3, 3) and np.allclose(s.total(), 6 * 2e6)
    assert s.interval_s == 60.0 and str(s.timestamps[1]) == "2000-01-01T00:01:00"


def test_gravity_marginals_follow_masses():
    masses = gravity_masses(8, np.random.default_rng(3))
    assert isinstance(masses, GravityMasses)
    s = gravity(8, 5e9, np.random.default_rng(4), masses=masses)
    matrix = s.demands[0]
    assert matrix.sum() == pytest.approx(5e9)
    out_mass, in_mass = masses
    # with self-traffic removed, row i is proportional to out_i * (S_in - in_i), column j likewise
    rows = matrix.sum(axis=1) / (out_mass * (in_mass.sum() - in_mass))
    cols = matrix.sum(axis=0) / (in_mass * (out_mass.sum() - out_mass))
    assert np.allclose(rows, rows[0]) and np.allclose(cols, cols[0])
    assert np.allclose(matrix[0, 1] * matrix[2, 3], matrix[0, 3] * matrix[2, 1])  # rank one off the diagonal
    # masses drawn from the generator when not given: same as drawing them first
    assert np.array_equal(
        gravity(8, 5e9, np.random.default_rng(3)).demands, gravity(8, 5e9, None, masses=masses).demands
    )


def test_bimodal_levels_and_fraction():
    s = bimodal(40, np.random.default_rng(0), 1e6, 1e8, 0.25, steps=2, spread=0.05)
    off = s.demands[0][~np.eye(40, dtype=bool)]
    high = off > 1e7
    assert abs(high.mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / len(off))
    assert np.allclose(off[high].mean(), 1e8, rtol=0.02) and np.allclose(off[~high].mean(), 1e6, rtol=0.02)
    assert np.array_equal(s.demands[0] > 1e7, s.demands[1] > 1e7)  # large pairs stay large


@pytest.mark.parametrize("profile", ["sine", "alibaba2018"])
def test_daily_profile_has_mean_one_and_peaks_at_peak_hour(profile):
    seconds = np.arange(0, 86400, 60)
    shape = daily_profile(seconds, profile=profile, peak_hour=9.0)
    assert shape.mean() == pytest.approx(1.0, abs=1e-3)
    assert abs(seconds[np.argmax(shape)] / 3600 - 9.0) < 0.5
    assert 1.3 < shape.max() / shape.min() < 2.5


@pytest.mark.parametrize("profile", ["sine", "alibaba2018"])
@pytest.mark.parametrize("seed", [0, 1])
def test_diurnal_hourly_autocorrelation(profile, seed):
    base = gravity(12, 3e9, np.random.default_rng(seed))
    week = diurnal(base, 7 * 288, 300.0, np.random.default_rng(seed), profile=profile)
    assert week.nodes == base.nodes and len(week) == 2016
    assert week.total().mean() == pytest.approx(3e9, rel=0.1)
    acf = hourly_acf(week, 30)
    assert (acf[1:4] > 0.45).all()
    assert acf[24] > acf[12] + 0.5
    assert 23 <= 18 + int(np.argmax(acf[18:31])) <= 25
    ratios = list(week.daily_peak_trough().values())
    assert len(ratios) == 7 and min(ratios) > 1.3


def test_diurnal_rejects_unknown_profile():
    with pytest.raises(
        RlteError, match=exact("diurnal profile 'weekly': unknown (use 'sine' or 'alibaba2018')")
    ):
        diurnal(np.ones((3, 3)), 10, 300.0, np.random.default_rng(0), profile="weekly")


def test_bursts_count_and_record():
    base = uniform(NODES, 1e6, steps=400)
    pairs, rate = 90, 0.01
    result = inject_bursts(base, np.random.default_rng(5), rate, size=(2.0, 4.0), duration=(1, 5))
    expected = rate * pairs * len(base)
    assert abs(len(result.bursts) - expected) < 4 * np.sqrt(expected * (1 - rate))
    assert all(isinstance(b, Burst) and b.src != b.dst for b in result.bursts)
    assert all(
        1 <= b.duration <= 5 and b.start + b.duration <= len(base) and 2 <= b.factor <= 4
        for b in result.bursts
    )
    # rebuild the multiplier from the record: the largest active factor applies
    multiplier = np.ones(base.demands.shape)
    for b in result.bursts:
        window = multiplier[b.start : b.start + b.duration, b.src, b.dst]
        multiplier[b.start : b.start + b.duration, b.src, b.dst] = np.maximum(window, b.factor)
    assert np.allclose(result.series.demands, base.demands * multiplier)
    assert result.series.name == "uniform-bursts"


def test_bursts_fixed_size_and_none():
    base = uniform(3, 10.0, steps=5)
    one = inject_bursts(base, np.random.default_rng(0), 1.0, size=3.0, duration=2)
    assert len(one.bursts) == 5 * 6 and np.allclose(one.series.demands, 30.0 * (1 - np.eye(3)))
    assert inject_bursts(base, np.random.default_rng(0), 0.0).bursts == []
    with pytest.raises(RlteError, match="rate 1.5 must be a probability"):
        inject_bursts(base, np.random.default_rng(0), 1.5)


def test_poisson_sample_mean_and_variance():
    mean = gravity(NODES, 1e9, np.random.default_rng(0), steps=200)
    unit = 1e6
    sampled = poisson_sample(mean, np.random.default_rng(1), unit_bits=unit)
    assert sampled.name == "gravity-poisson"
    ratio = sampled.demands.sum() / mean.demands.sum()
    expected_counts = mean.demands.sum() * mean.interval_s / unit
    assert abs(ratio - 1) < 5 / np.sqrt(expected_counts)
    # per pair, the count summed over time is Poisson around the expected count
    off = ~np.eye(10, dtype=bool)
    expected = mean.demands.sum(axis=0)[off] * mean.interval_s / unit
    observed = sampled.demands.sum(axis=0)[off] * mean.interval_s / unit
    assert (np.abs(observed - expected) < 5 * np.sqrt(expected) + 1).all()
    counts = sampled.demands * mean.interval_s / unit
    assert np.allclose(counts, np.round(counts))
    variance = sampled.demands[:, 0, 1].var() / (mean.demands[0, 0, 1] * unit / mean.interval_s)
    assert 0.6 < variance < 1.5


# ====================================================================== bad inputs: one line each
def error_of(call, *args, **kwargs) -> str:
    """The message of the RlteError that ``call`` raises (any other exception fails the test)."""
    with pytest.raises(RlteError) as err:
        call(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message
    return message


class TestBadInputs:
    @pytest.mark.parametrize(
        "text, message",
        [
            ("src,dst,rate_bps\na,b,1,5\n", ":2: expected 3 fields, found 4"),
            (
                "time,src,dst,rate_bps\n2020-01-01,a,b,1\n2020-01-01,b,a,1,,\n",
                ":3: expected 4 fields, found 6",
            ),
            ("src,dst,rate_bps,dst\na,b,1,c\n", ":1: duplicate column 'dst'"),
            (
                "time,src,dst,rate_bps\n-5,a,b,1\n",
                ":2: time '-5' is not a time (use YYYYMMDD-HHMM or ISO 8601)",
            ),
            (
                "time,src,dst,rate_bps\n99999999999999999999-01-01,a,b,1\n",
                ":2: time '99999999999999999999-01-01' is not a time (use YYYYMMDD-HHMM or ISO 8601)",
            ),
        ],
    )
    def test_long_csv(self, tmp_path, text, message):
        path = tmp_path / "long.csv"
        path.write_text(text)
        assert error_of(load_traffic_csv, path) == f"{path}{message}"

    def test_long_csv_extra_columns_and_short_rows_still_load(self, tmp_path):
        path = tmp_path / "long.csv"
        path.write_text("src,dst,rate_bps,flow_id\na,b,1,f1\n\nb,a,2\n")
        s = load_traffic_csv(path)
        assert s.demands[0, 0, 1] == 1 and s.demands[0, 1, 0] == 2

    @pytest.mark.parametrize(
        "loader",
        [
            load_abilene_tm,
            load_sndlib_csv,
            load_traffic_csv,
            read_maroh_flows,
            load_maroh_flows,
            load_traffic_file,
        ],
        ids=lambda f: f.__name__,
    )
    def test_binary_files(self, tmp_path, loader):
        path = tmp_path / "binary.csv"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
        assert error_of(loader, path) == f"{path}: not a text file (byte 0x89 at offset 0 is not UTF-8)"
        path.write_bytes(b"time,a->b\n\x00")
        assert error_of(loader, path) == f"{path}: not a text file (NUL byte at offset 10)"

    def test_binary_xml(self, tmp_path):
        path = tmp_path / "binary.xml"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
        assert (
            error_of(load_sndlib_xml, path)
            == f"{path}: not valid XML (not well-formed (invalid token): line 1, column 0)"
        )
        path.write_bytes(b'<?xml version="1.0" encoding="utf-nan"?><network>\xff</network>')
        assert error_of(load_sndlib_xml, path) == f"{path}: not valid XML (unknown encoding: utf-nan)"

    def test_latin1_xml_is_read_in_its_declared_encoding(self, tmp_path):
        path = tmp_path / "latin1.xml"
        path.write_bytes(
            sndlib_xml([("M\u00fcnchen", "K\u00f6ln", 2)], nodes=("M\u00fcnchen", "K\u00f6ln")).encode(
                "latin-1"
            )
        )
        s = load_sndlib_xml(path)
        assert s.nodes == ("M\u00fcnchen", "K\u00f6ln") and s.demands[0, 0, 1] == 2e6

    def test_huge_declared_sizes_are_refused_before_allocating(self, tmp_path):
        nodes = [f"n{i}" for i in range(10_001)]
        xml = tmp_path / "many.xml"
        xml.write_text(sndlib_xml([("n0", "n1", 1)], nodes=nodes))
        assert (
            error_of(load_sndlib_xml, xml)
            == f"{xml}: 10,001 nodes; rlte reads networks of at most 10,000 (MAX_NODES)"
        )
        long = tmp_path / "long.csv"
        long.write_text("src,dst,rate_bps\n" + "".join(f"n{i},n{i + 1},1\n" for i in range(10_000)))
        assert (
            error_of(load_traffic_csv, long)
            == f"{long}: 10,001 nodes; rlte reads networks of at most 10,000 (MAX_NODES)"
        )
        long.write_text(
            "time,src,dst,rate_bps\n2020-01-01T00:00,n0,n1,1\n"
            + "".join(f"2020-01-01T00:05,n{i},n{i + 1},1\n" for i in range(1, 7_100))
        )
        assert error_of(load_traffic_csv, long) == (
            f"{long}: 2 matrices of 7,101 x 7,101 are 100,848,402 values; rlte reads at most 100,000,000 "
            "(MAX_TRAFFIC_VALUES)"
        )
        wide = tmp_path / "wide.csv"
        header = "time," + ",".join(f"a{i}->b{i}" for i in range(3_600))
        wide.write_text(
            header + "\n" + "\n".join(f"2020-01-0{d}," + ",".join(["1"] * 3_600) for d in (1, 2)) + "\n"
        )
        assert error_of(load_sndlib_csv, wide) == (
            f"{wide}: 2 matrices of 7,200 x 7,200 are 103,680,000 values; rlte reads at most 100,000,000 "
            "(MAX_TRAFFIC_VALUES)"
        )
        tm = tmp_path / "TM"
        tm.write_text("1 2 3 4\n")
        assert "MAX_NODES" in error_of(load_abilene_tm, tm, nodes=[str(i) for i in range(20_000)])

    def test_numbers_numpy_and_python_read_alike(self, tmp_path):
        tm = tmp_path / "TM"
        tm.write_text("0 1_0 \u0663 0\n")  # an underscore and an Arabic-Indic three are numbers to both
        assert load_abilene_tm(tm, nodes=("a", "b")).demands[0, 0, 1] == pytest.approx(10 * 100 * 8 / 300)
        tm.write_text("0 1e400 2 0\n")
        assert error_of(load_abilene_tm, tm, nodes=("a", "b")) == f"{tm}:1: infinite value inf for a -> b"

    def test_xml_interval_and_times(self, tmp_path):
        path = tmp_path / "m.xml"
        meta = "<meta><granularity>99999999999 d</granularity></meta>"
        path.write_text(sndlib_xml([("p", "q", 3)], nodes=(), meta=meta, namespace=False))
        assert error_of(load_sndlib_xml, path) == (
            f"{path}: interval_s 8639999999913600.0 is more than 1e+09 s (MAX_INTERVAL_S)"
        )

    @pytest.mark.parametrize(
        "flow, message",
        [
            ({"start": ["1"], "end": "2", "bandwidth": 1}, "flow 0: start ['1'] is not a node name"),
            ({"start": True, "end": "2", "bandwidth": 1}, "flow 0: start True is not a node name"),
            ({"start": "1", "end": "2", "bandwidth": True}, "flow 0: bandwidth True is not a number"),
            ({"start": "1", "end": "2", "bandwidth": [5]}, "flow 0: bandwidth [5] is not a number"),
            ({"start": "1", "end": "2", "bandwidth": "lots"}, "flow 0: bandwidth 'lots' is not a number"),
            ({"start": "1", "end": "2", "bandwidth": 1e400}, "flow 0: bandwidth inf must be a finite number >= 0"),
            ({"start": "1", "end": "2", "bandwidth": 1, "flow_id": {"x": 1}}, "flow 0: flow_id {'x': 1} is not a string or a number"),
        ],
    )  # fmt: skip
    def test_flows(self, tmp_path, flow, message):
        path = tmp_path / "flows.json"
        path.write_text(json.dumps([flow]).replace("Infinity", "1e400"))
        assert error_of(read_maroh_flows, path) == f"{path}: {message}"

    def test_flow_ids_are_kept(self, tmp_path):
        path = tmp_path / "flows.json"
        path.write_text(json.dumps([
            {"start": 1, "end": "2", "bandwidth": "5", "flow_id": 17},
            {"start": "2", "end": "1", "all_bandwidth": {"0": 3}, "flow_id": None},
            {"start": "2", "end": "1", "all_bandwidth": {"0": 4}, "flow_id": "x"},
        ]))  # fmt: skip
        flows = read_maroh_flows(path)
        assert flows.ids == ("17", "1", "x") and flows.rate_bps.tolist() == [5.0, 3.0, 4.0]
        assert flows.nodes == ("1", "2")

    def test_unknown_specs_suggest_close_names(self):
        assert error_of(load_traffic, "abilen") == (
            f"traffic 'abilen': unknown (did you mean 'abilene'?); use {traffic.TRAFFIC_SPECS_HELP}"
        )
        assert error_of(load_traffic, "gravity") == (
            f"traffic 'gravity': unknown (did you mean 'gravity:', 'geant'?); use {traffic.TRAFFIC_SPECS_HELP}"
        )

    def test_missing_data_file_suggests_its_neighbours(self, tmp_path):
        (tmp_path / "maroh" / "tiny").mkdir(parents=True)
        write_flows(tmp_path / "maroh" / "tiny" / "flows40.json", [("y", "x", 4.0)])
        assert error_of(load_traffic, "maroh/tiny/flows41", data_dir=tmp_path) == (
            f"{tmp_path / 'maroh' / 'tiny' / 'flows41.json'}: missing from the data directory "
            "(did you mean 'flows40.json'?)"
        )


def test_names_importable_as_before():
    for name in (
        "ABILENE_START", "ABILENE_UNIT_BYTES", "DATA_TRAFFIC", "DEFAULT_INTERVAL_S", "DEFAULT_START",
        "GRAVITY_DEFAULT_SEED", "SNDLIB_UNITS_BPS", "Burst", "BurstInjection", "Flows", "GravityMasses",
        "TrafficSeries", "TrainTest", "bimodal", "daily_profile", "diurnal", "from_topology", "gravity",
        "gravity_masses", "gravity_matrix", "inject_bursts", "load_abilene_tm", "load_maroh_flows",
        "load_sndlib_csv", "load_sndlib_xml", "load_traffic", "load_traffic_csv", "load_traffic_file",
        "parse_rate", "poisson_sample", "read_maroh_flows", "uniform",
    ):  # fmt: skip
        assert hasattr(traffic, name), name
    from rlte.net import flows

    assert traffic.Flows is flows.Flows and traffic.read_maroh_flows is flows.read_maroh_flows
