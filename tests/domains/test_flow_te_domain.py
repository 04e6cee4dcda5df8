"""The flow-TE domain's baseline protocol: an LP baseline's decision time counts the LP solutions it
takes from the scenario's cache at their solve time (lp_opt after lp_last reuses most of them)."""

from __future__ import annotations

import numpy as np

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


def _size_run(tmp_path, topologies):
    """A run folder over ``topologies`` (builtins): ecmp at 1.5x and dote at (1.1 + 0.01 seed)x
    lp_opt's MLU, dote deciding in 2 ms per interval."""
    import yaml

    run = tmp_path / "run"
    run.mkdir()
    spec = {"name": "sizes", "domain": "flow_te", "methods": ["ecmp", "dote", "lp_opt"], "topologies": topologies,
            "traffic": ["diurnal:gravity:1e9"], "loads": [None], "seeds": [0, 1, 2], "scenario": {},
            "training": {"timesteps": 10, "checkpoint_every": 10}}  # fmt: skip
    (run / "spec.yaml").write_text(yaml.safe_dump(spec))
    lines = ["method,topology,traffic,load,scenario,seed,metric,value,runtime_s"]
    for topology in topologies:
        for seed in (0, 1, 2):
            optimum = 0.5 + 0.1 * seed
            for method, factor in (("ecmp", 1.5), ("dote", 1.1 + 0.01 * seed), ("lp_opt", 1.0)):
                lines.append(
                    f"{method},{topology},diurnal:gravity:1e9,,plain,{seed},mlu,{optimum * factor},1"
                )
            lines.append(f"dote,{topology},diurnal:gravity:1e9,,plain,{seed},decision_ms,2.0,1")
    (run / "results.csv").write_text("\n".join(lines) + "\n")
    return run


def test_a_run_over_topologies_of_several_sizes_gets_the_size_curve(tmp_path):
    from rlte.domains.flow_te import size_curves
    from rlte.experiments.store import read_run

    run = read_run(_size_run(tmp_path, ["grid6x6", "nsfnet14"]))
    curves = size_curves(run, run.results, {"nsfnet14": 14, "grid6x6": 36}, "lp_opt")
    assert curves["dote"]["nodes"] == [14, 36] and curves["ecmp"]["nodes"] == [14, 36]
    np.testing.assert_allclose(curves["dote"]["gap"], [11.0, 11.0])  # mean of 10, 11, 12 %
    np.testing.assert_allclose(curves["ecmp"]["gap"], [50.0, 50.0])
    np.testing.assert_allclose(curves["ecmp"]["gap_ci95"], [0.0, 0.0], atol=1e-9)
    assert curves["dote"]["decision_ms"] == [2.0, 2.0] and np.isnan(curves["lp_opt"]["gap"]).all()
    (figure_path,) = [path for _, path in get_domain("flow_te").report_figures(run, tmp_path)]
    assert figure_path.name == "size_0.png" and figure_path.stat().st_size > 1000
    # one topology, or two of one size: no size axis, no figure
    (tmp_path / "one").mkdir()
    single = read_run(_size_run(tmp_path / "one", ["nsfnet14"]))
    assert get_domain("flow_te").report_figures(single, tmp_path) == []
