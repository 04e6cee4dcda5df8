"""The link-weight domain (seed 002) with ``dag: authors``: ECMP, the genetic algorithm and the
Phi bound all go through the authors' next hops, and the split rule with them is refused."""

from __future__ import annotations

import re

import pytest

from rlte.domains import CellContext, get_domain
from rlte.errors import RlteError


def _context(tmp_path, data_dir, method: str, scenario: dict) -> CellContext:
    spec = {"methods": [], "training": {"timesteps": 1, "checkpoint_every": 1}, "scenario": scenario}
    cell = {"method": method, "label": method, "params": {}, "topology": "maroh/abilene", "traffic": "maroh",
            "load": 0.4, "scenario": "plain", "seed": 0, "cell_id": f"{method}-cell"}  # fmt: skip
    return CellContext(spec, cell, tmp_path, str(data_dir), lambda line: None)


@pytest.mark.parametrize(
    "dag, ecmp, bound",
    [("authors", 0.038215, 0.016428), ("stretch", 0.043496, 0.019351)],
)
def test_baselines_follow_the_scenarios_dag(tmp_path, data_dir, dag, ecmp, bound):
    domain = get_domain("link_weights")
    scenario = {"dag": dag, "genetic_generations": 3, "genetic_population": 20}
    phi = {
        name: domain.evaluate_baseline(name, _context(tmp_path, data_dir, name, scenario)).summary["phi"]
        for name in ("ecmp", "phi_bound", "genetic")
    }
    assert phi["ecmp"] == pytest.approx(ecmp, abs=1e-6)
    assert phi["phi_bound"] == pytest.approx(bound, abs=1e-5)
    assert phi["phi_bound"] <= phi["genetic"] < phi["ecmp"]


def test_split_rule_with_the_authors_dag_is_refused():
    domain = get_domain("link_weights")
    domain.check_scenario({"dag": "authors"}, "spec: scenarios[0] (plain)")
    message = (
        "spec: scenarios[0] (plain): routing 'split' needs dag 'stretch' (the authors' next hops depend "
        "on the previous node)"
    )
    with pytest.raises(RlteError, match=f"^{re.escape(message)}$"):
        domain.check_scenario({"dag": "authors", "routing": "split"}, "spec: scenarios[0] (plain)")
