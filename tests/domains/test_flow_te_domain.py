"""The flow-TE domain's baseline protocol: an LP baseline's decision time counts the LP solutions it
takes from the scenario's cache at their solve time (lp_opt after lp_last reuses most of them)."""

from __future__ import annotations

from rlte.domains import CellContext, get_domain
from tests.agents.instances import DIAMOND


def _context(tmp_path, topology: str, method: str) -> CellContext:
    spec = {"methods": [], "training": {"timesteps": 1, "checkpoint_every": 1}, "evaluation": {"part": "test"},
            "env": {"window": 2}, "scenario": {"train_fraction": 0.9}}  # fmt: skip
    cell = {"method": method, "label": method, "params": {}, "topology": topology, "traffic": "diurnal:uniform:1e9",
            "load": 0.6, "scenario": "plain", "seed": 0, "cell_id": f"{method}-cell"}  # fmt: skip
    return CellContext(spec, cell, tmp_path, None, lambda line: None)


def test_reused_lp_solutions_count_at_their_solve_time(tmp_path):
    topology = tmp_path / "diamond.csv"
    topology.write_text(DIAMOND)
    domain = get_domain("flow_te")
    last = domain.evaluate_baseline("lp_last", _context(tmp_path, str(topology), "lp_last"))
    scenario = domain.scenario(_context(tmp_path, str(topology), "lp_opt"))
    solved_before = scenario.lp.solves
    optimal = domain.evaluate_baseline("lp_opt", _context(tmp_path, str(topology), "lp_opt"))
    new_solves = scenario.lp.solves - solved_before
    steps = len(optimal.series["mlu"])
    assert new_solves < steps  # most of lp_opt's matrices were lp_last's history: served from the cache
    # every evaluated interval costs a solve's time, reused or not: the mean is that of a real solve
    per_step = optimal.decision_s / steps
    assert per_step > 0.3 * last.decision_s / len(last.series["mlu"])
