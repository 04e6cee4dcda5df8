"""``rlte/MAROH-MA-v0`` with the authors' next hops (``dag="authors"``): their code's Phi on
Abilene at the first observation, the PettingZoo API, and the split rule refused with them."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from rlte.envs import make_parallel
from rlte.errors import RlteError

ENV_ID = "rlte/MAROH-MA-v0"


def test_abilene_starts_at_the_authors_ecmp_phi(data_dir):
    env = make_parallel(ENV_ID, topology="maroh/abilene", data_dir=str(data_dir), dag="authors", horizons=3)
    _, infos = env.reset(seed=0)
    # weights 1 under the authors' calculator and hash: 0.038215 in their code (0.0435 on the stretch DAG)
    assert next(iter(infos.values()))["phi"] == pytest.approx(0.038215, abs=1e-6)
    assert env.router.dag == "authors" and env.router.authors is not None
    keep = {agent: 0 for agent in env.agents}
    _, rewards, _, _, infos = env.step(keep)
    assert next(iter(infos.values()))["phi"] == pytest.approx(0.038215, abs=1e-6)
    assert all(reward == 0.0 for reward in rewards.values())
    # the batched dynamics route through the same rule
    state, _ = env.initial_state(2)
    moved, _, reward = env.advance(state, np.ones((2, env.num_links), dtype=np.int64))
    np.testing.assert_allclose(moved.phi, env.router.phi(np.full((2, env.num_links), 1.25)))
    np.testing.assert_allclose(reward, state.phi - moved.phi)


def test_api_with_the_authors_dag(data_dir):
    env = make_parallel(ENV_ID, topology="maroh/rhombus", data_dir=str(data_dir), dag="authors", horizons=4)
    parallel_api_test(env, num_cycles=6)


def test_split_rule_with_the_authors_dag_is_a_one_line_error(data_dir):
    message = (
        "flow routing rule 'split': needs per-destination next hops, not dag 'authors' "
        "(whose next hops depend on the previous node)"
    )
    with pytest.raises(RlteError, match=f"^{re.escape(message)}$"):
        make_parallel(
            ENV_ID, topology="maroh/rhombus", data_dir=str(data_dir), dag="authors", routing="split"
        )
    with pytest.raises(RlteError, match=r"dag"):
        make_parallel(ENV_ID, topology="maroh/rhombus", data_dir=str(data_dir), dag="author")
