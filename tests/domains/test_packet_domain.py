"""The packet-routing domain end to end: specs, cells through the runner, rows per load step, the
zero-load bound below every method, convergence times, and bad specs refused before any work."""

from __future__ import annotations

import csv
import math

import pytest

from rlte.errors import RlteError
from rlte.experiments.report import write_report
from rlte.experiments.runner import run_spec
from rlte.experiments.spec import parse_spec

STEPPED = {
    "name": "packet_small",
    "domain": "packet",
    "methods": ["shortest_path", "zero_load_bound", "off_greedy", "on_dbl_softmax"],
    "topologies": ["grid6x6"],
    "traffic": ["steps:0.5:1.5:0.5:1000"],
    "loads": [None],
    "seeds": [0, 1],
    "scenario": {"delivery": "handoff", "window": 100.0},
}


def _rows(run_dir) -> list[dict]:
    with open(run_dir / "results.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def stepped_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("packet")
    summary = run_spec(parse_spec(STEPPED, "spec"), runs_dir=folder, run_id="r", progress=False, workers=1)
    assert summary.failed == 0
    return summary.run_dir


def test_a_stepped_schedule_writes_each_step_at_its_load(stepped_run):
    rows = _rows(stepped_run)
    loads = {row["load"] for row in rows if row["metric"] == "e2e_delay"}
    assert loads == {"", "0.5", "1.0", "1.5"}  # the whole schedule, then each step


def test_the_zero_load_bound_is_below_every_method_at_every_step(stepped_run):
    delay = {
        (r["method"], r["load"], r["seed"]): float(r["value"])
        for r in _rows(stepped_run)
        if r["metric"] == "e2e_delay"
    }
    bound = {key[1:]: value for key, value in delay.items() if key[0] == "zero_load_bound"}
    # the mean hop count over uniform distinct pairs (networkx), one less in seed 004's convention
    import networkx as nx

    from rlte.net.topology import load_topology

    hops = nx.average_shortest_path_length(load_topology("grid6x6").to_networkx())
    assert all(value == pytest.approx(hops - 1.0, rel=1e-12) for value in bound.values())
    for (method, load, seed), value in delay.items():
        assert value >= bound[(load, seed)] - 1e-9, (method, load, seed)


def test_a_cell_run_again_gives_the_same_rows(stepped_run, tmp_path):
    spec = parse_spec(dict(STEPPED, methods=["off_greedy"], seeds=[1]), "spec")
    again = run_spec(spec, runs_dir=tmp_path, run_id="r", progress=False, workers=1)
    first = {(r["load"], r["metric"]): r["value"] for r in _rows(stepped_run)
             if r["method"] == "off_greedy" and r["seed"] == "1" and r["metric"] != "decision_ms"}  # fmt: skip
    second = {
        (r["load"], r["metric"]): r["value"] for r in _rows(again.run_dir) if r["metric"] != "decision_ms"
    }
    assert first == second


def test_the_report_has_the_by_load_table_and_the_time_figure(stepped_run):
    text = write_report(stepped_run).read_text()
    assert "Delivery time at each load level" in text
    assert "| method | 0.5 | 1 | 1.5 |" in text
    assert "Learning: online, inside the simulation" in text and "Training:" not in text
    assert (stepped_run / "figures").glob("time-*.png")


def test_a_fixed_load_reports_a_convergence_time(tmp_path):
    spec = dict(STEPPED, name="packet_fixed", methods=["off_greedy"], traffic=["fixed"], loads=[1.0], seeds=[0],
                scenario={"duration": 3000.0, "warmup": 1000.0})  # fmt: skip
    summary = run_spec(parse_spec(spec, "spec"), runs_dir=tmp_path, run_id="r", progress=False, workers=1)
    rows = {r["metric"]: float(r["value"]) for r in _rows(summary.run_dir)}
    assert 0 < rows["convergence_time"] <= 3000 or math.isnan(rows["convergence_time"])
    assert rows["e2e_delay"] >= 4.8333 - 1e-6  # Boyan and Littman's convention by default


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"traffic": ["ramp"]}, "spec: traffic: unknown schedule 'ramp'"),
        ({"traffic": ["fixed"], "loads": [None]}, "spec: traffic: the fixed schedule needs a load"),
        (
            {"loads": [2.0]},
            "spec: traffic: schedule 'steps:0.5:1.5:0.5:1000' sets its own loads: give loads [null]",
        ),
        (
            {"traffic": ["steps:a:b:c:d"]},
            "spec: traffic: schedule 'steps:a:b:c:d': want steps:FIRST:LAST:STEP:EVERY",
        ),
        ({"scenario": {"window": 0}}, "spec: scenario: window 0.0: must be > 0"),
        (
            {"scenario": {"delivery": "late"}},
            "spec: scenario: delivery 'late': must be one of 'boyan_littman', 'handoff'",
        ),
        ({"scenario": {"schedule": "fixed"}}, "spec: scenario: unknown key 'schedule'"),
        ({"methods": ["ecmp"]}, "spec: methods[0]: unknown method 'ecmp'"),
        (
            {"methods": ["ma_trpo"]},
            "spec: methods[0]: method 'ma_trpo' belongs to the flow_te domain, not packet",
        ),
        (
            {"topologies": ["grid7x7"]},
            "spec: topology 'grid7x7': not a built-in, a file or a topohub id (did you mean 'grid6x6'",
        ),
    ],
)
def test_bad_packet_specs_are_refused_with_one_line(change, message):
    with pytest.raises(RlteError) as error:
        parse_spec({**STEPPED, **change}, "spec")
    assert str(error.value).startswith(message), str(error.value)
