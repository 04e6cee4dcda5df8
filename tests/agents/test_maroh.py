"""MAROH / SAMAROH link agents (seed 002) and their two-layer memory: the message passing by
gathers equals torch_geometric's, decisions follow the mode, the memory decides familiar states
without messages, training is deterministic per seed and resumes exactly after a kill."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlte.agents.common.memory import TwoLayerMemory
from rlte.agents.maroh import MarohAgent
from rlte.envs import make

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _rhombus_data(data_dir):
    """The rhombus and its flows come from the data directory: without it these tests skip."""


HORIZONS = 4
SMALL = {"update_every": 3, "parallel_episodes": 3, "epochs": 1, "minibatch_size": 4, "horizons": HORIZONS,
         "hidden_size": 8, "message_sizes": (8,), "update_sizes": (8,), "readout_sizes": (8,)}  # fmt: skip
BLOCK = 3 * HORIZONS  # timesteps of one update


def rhombus():
    return make("rlte/MAROH-MA-v0", horizons=HORIZONS)


def _trained(params: dict, seed: int = 0, blocks: int = 1, **train) -> MarohAgent:
    agent = MarohAgent({**SMALL, **params}, seed=seed)
    agent.train(rhombus, blocks * BLOCK, **train)
    return agent


def _weights(agent: MarohAgent) -> dict:
    return {
        **{f"actor.{k}": v for k, v in agent.actor.state_dict().items()},
        **{f"critic.{k}": v for k, v in agent.critic.state_dict().items()},
    }


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_gathers_and_torch_geometric_give_the_same_states():
    """One set of weights, the two evaluations of `LinkMessagePassing`: every level agrees."""
    dense = _trained({"message_passing": "dense"})
    pyg = MarohAgent({**SMALL, "message_passing": "pyg"}, seed=0)
    pyg.train(rhombus, BLOCK)
    pyg.actor.load_state_dict(dense.actor.state_dict())
    inputs = torch.rand((5, dense.num_agents, 2), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for a, b in zip(dense.actor.levels(inputs, dense.graph), pyg.actor.levels(inputs, pyg.graph)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_samaroh_lets_every_link_act_and_maroh_picks_one():
    observations = rhombus().reset(seed=0)[0]
    stacked = np.stack([observations[a] for a in sorted(observations)])[None].repeat(6, 0)
    for mode, most in (("simultaneous", None), ("sequential", 1)):
        agent = _trained({"mode": mode})
        decision = agent._decide(stacked.astype(np.float32), explore=True)
        assert decision.env_actions.shape == (6, agent.num_agents)
        assert set(np.unique(decision.env_actions)) <= {0, 1}
        if most is not None:
            assert (decision.env_actions.sum(axis=1) <= most).all()
        assert set(agent.act(observations)) == set(agent.agent_names)


def test_a_familiar_state_is_decided_by_the_memory_without_messages():
    """Level 0 holds the inputs: the same joint state met again is decided after 0 rounds with the
    stored final states; a state far from every entry goes through all K rounds and is stored."""
    rng = np.random.default_rng(0)
    memory = TwoLayerMemory(3, [2, 4], 4, 8, 0.05, "l2", "clustering", "minibatch_kmeans", 0.0, rng)
    states = [rng.random((3, 2)), rng.random((3, 4))]
    final = rng.random((3, 4)).astype(np.float32)
    first = memory.decide(states, final)
    assert (first.rounds, first.hit) == (2, False) and memory.sizes() == [1, 1]
    again = memory.decide(states, np.zeros((3, 4), np.float32))
    assert (again.rounds, again.hit) == (0, True)
    np.testing.assert_allclose(again.values, final)
    far = memory.decide([states[0] + 1.0, states[1] + 1.0], final)
    assert (far.rounds, far.hit) == (2, False)


def test_two_layer_training_exchanges_less_than_all_rounds():
    """MAROH-2L on the rhombus's one static flow set meets its own states again: the share of the
    single-layer rounds it exchanges falls below 1, SAMAROH's stays 1."""
    plain = _trained({}, blocks=2)
    assert set(plain.episode_exchange_share) == {1.0}
    layered = _trained({"memory": True, "threshold": 10.0}, blocks=2)
    assert min(layered.episode_exchange_share) < 1.0


def test_same_seed_same_networks():
    runs = [_weights(_trained({}, seed=seed, blocks=2)) for seed in (0, 0, 1)]
    assert _same(runs[0], runs[1]) and not _same(runs[0], runs[2])


class Killed(Exception):
    pass


@pytest.mark.parametrize("memory", [False, True])
def test_killed_and_resumed_training_ends_identical(tmp_path, memory):
    """Killed after its second update, resumed from the checkpoint: networks, optimisers, memory,
    per-episode history and learning log equal an uninterrupted run's."""
    params = {"memory": memory, "threshold": 0.5}
    straight = _trained(params, seed=3, blocks=4, learning_log=tmp_path / "straight.csv")
    checkpoint, log = tmp_path / "run" / "checkpoint.pt", tmp_path / "resumed.csv"

    def kill_after_second(steps: int) -> None:
        if steps == 2 * BLOCK:
            raise Killed

    with pytest.raises(Killed):
        _trained(params, seed=3, blocks=4, checkpoint_path=checkpoint, checkpoint_every=BLOCK, learning_log=log,
                 on_progress=kill_after_second)  # fmt: skip
    resumed = MarohAgent({**SMALL, **params}, seed=3)
    resumed.train(rhombus, 4 * BLOCK, checkpoint_path=checkpoint, checkpoint_every=BLOCK, learning_log=log)
    assert _same(_weights(straight), _weights(resumed))
    assert straight.episode_phi == resumed.episode_phi
    assert straight.episode_exchange_share == resumed.episode_exchange_share
    if memory:
        assert straight.memory.sizes() == resumed.memory.sizes()
    assert log.read_text() == (tmp_path / "straight.csv").read_text()
