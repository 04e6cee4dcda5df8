"""The DOTE-style learner (`rlte.agents.dote`) and its differentiable flow model
(`rlte.agents.common.torch_flow`): the torch link loads equal the fluid model's, the training
inputs equal what the environment observes, a two-path instance reaches its known optimum, runs are
deterministic and resume exactly, and bad set-ups get one line."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlte.agents.common.torch_flow import TorchPathFlow, masked_softmax
from rlte.agents.dote import DOTEAgent, history_examples
from rlte.errors import RlteError
from rlte.net.paths import k_shortest_paths
from rlte.net.topology import load_topology
from rlte.sim.flow import FlowModel, PathRouting
from tests.agents.instances import DIAMOND, KITE, write_topology

#: The DOTE environment options its registration fixes.
DOTE_ENV = {"observe": "traffic", "action_type": "splits", "logit_scale": 10.0}


@pytest.fixture(scope="module")
def diamond(tmp_path_factory):
    return write_topology(tmp_path_factory, "diamond", DIAMOND)


@pytest.fixture(scope="module")
def kite(tmp_path_factory):
    return write_topology(tmp_path_factory, "kite", KITE)


def diamond_env(diamond: str, **options):
    """A synthetic week of diurnal traffic on the diamond, observed as traffic."""
    values = dict(topology=diamond, traffic="diurnal:uniform:1e9", load=None, window=2, k=2, with_optimal=False,
                  episode_length=10, **DOTE_ENV)  # fmt: skip
    values.update(options)
    return gym.make("rlte/TE-v0", **values)


# ---------------------------------------------------------------------- the torch flow model
@pytest.mark.parametrize("dense_limit", [2_000_000, 0], ids=["dense", "entries"])
def test_torch_link_loads_equal_the_fluid_models(kite, dense_limit):
    topology = load_topology(kite)
    pathset = k_shortest_paths(topology, 4)
    flow = TorchPathFlow(topology, pathset, dtype=torch.float64, dense_limit=dense_limit)
    assert (flow.incidence is None) == (dense_limit == 0)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, *pathset.mask.shape)) * 3
    splits = masked_softmax(torch.from_numpy(logits), flow.mask).numpy()
    traffic = rng.uniform(0, 2e9, size=(5, topology.num_nodes, topology.num_nodes))
    expected = FlowModel(topology).link_loads(PathRouting(pathset, splits), traffic)
    got = flow.link_loads(torch.from_numpy(splits), torch.from_numpy(flow.demands(traffic))).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-3)  # bit/s of order 1e9
    utilisation = flow.utilisation(torch.from_numpy(splits), torch.from_numpy(flow.demands(traffic))).numpy()
    np.testing.assert_allclose(utilisation.max(-1), (expected / topology.capacity).max(-1), rtol=1e-12)


def test_sparse_link_loads_and_their_gradient_equal_the_dense_ones(kite):
    topology = load_topology(kite)
    pathset = k_shortest_paths(topology, 4)
    dense = TorchPathFlow(topology, pathset, dtype=torch.float64)
    sparse = TorchPathFlow(topology, pathset, dtype=torch.float64, dense_limit=0)
    assert dense.incidence is not None and sparse.by_link is not None
    rng = np.random.default_rng(1)
    demands = torch.from_numpy(rng.uniform(0, 3, size=(3, dense.num_demands)))
    weights = torch.from_numpy(rng.uniform(0, 1, size=dense.num_links))
    values = rng.normal(size=(3, *pathset.mask.shape))
    grads = []
    for flow in (dense, sparse):
        logits = torch.from_numpy(values.copy()).requires_grad_()
        (flow.link_loads(masked_softmax(logits, flow.mask), demands) @ weights).sum().backward()
        grads.append(logits.grad.numpy())
    assert np.abs(grads[0]).max() > 1e-3  # a gradient worth comparing
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)
    # one matrix, no batch axis
    splits = masked_softmax(torch.zeros(pathset.mask.shape, dtype=torch.float64), dense.mask)
    np.testing.assert_allclose(
        sparse.link_loads(splits, demands[0]), dense.link_loads(splits, demands[0]), rtol=1e-12
    )


def test_worst_sensitivity_by_brute_force(kite):
    topology = load_topology(kite)
    pathset = k_shortest_paths(topology, 4)
    flow = TorchPathFlow(topology, pathset, dtype=torch.float64)
    splits = masked_softmax(
        torch.from_numpy(np.random.default_rng(1).normal(size=pathset.mask.shape)), flow.mask
    )
    worst = flow.worst_sensitivity(splits).numpy()
    model = FlowModel(topology)
    for demand in range(len(pathset.pairs)):  # one unit of demand d alone: its link loads / capacity
        traffic = np.zeros((topology.num_nodes, topology.num_nodes))
        s, t = pathset.pairs[demand]
        traffic[s, t] = 1.0
        loads = model.link_loads(PathRouting(pathset, splits.numpy()), traffic)
        assert worst[demand] == pytest.approx((loads / topology.capacity).max(), rel=1e-12)


def test_masked_softmax_puts_nothing_on_padding(kite):
    pathset = k_shortest_paths(load_topology(kite), 4)
    splits = masked_softmax(torch.zeros(pathset.mask.shape), torch.from_numpy(pathset.mask.copy())).numpy()
    assert np.all(splits[~pathset.mask] == 0)
    np.testing.assert_allclose(splits.sum(-1), 1.0, rtol=1e-6)


# ---------------------------------------------------------------------- inputs and protocol
def test_history_examples_rows_are_the_preceding_intervals():
    features = torch.arange(12.0).reshape(6, 2)  # 6 intervals, 2 demands
    rows = history_examples(features, 3, torch.tensor([0, 2]))
    assert rows.shape == (2, 6)
    np.testing.assert_array_equal(rows[0], features[0:3].ravel())
    np.testing.assert_array_equal(rows[1], features[2:5].ravel())  # example t = 5 reads 2, 3, 4


def test_training_inputs_are_what_the_environment_observes(diamond):
    agent = DOTEAgent({"batch_size": 4, "log_interval": 1}, seed=0)
    agent.train(lambda: diamond_env(diamond), 4)
    env = diamond_env(diamond)
    base = env.unwrapped
    observation, _ = env.reset(seed=3)
    for _ in range(3):
        # the observation before interval t is example t's input (t counted within the training part)
        t = base.core.t
        np.testing.assert_allclose(
            observation, agent.inputs(torch.tensor([t - agent.history]))[0].numpy(), rtol=1e-6
        )
        observation, *_ = env.step(env.action_space.sample())


# ---------------------------------------------------------------------- learning
def test_reaches_the_two_path_optimum(diamond):
    """On the diamond every demand has two paths; the traffic's shape is the same every interval (a
    diurnal volume times small noise), so the LP optimum is a near-constant split the network can
    learn: the test part's mean MLU within 3 % of the mean LP optimum (an even split is 2x it)."""
    agent = DOTEAgent({"learning_rate": 3e-3}, seed=0)
    agent.train(lambda: diamond_env(diamond), 40_000)
    env = diamond_env(diamond, part="test", episode_length=None, with_optimal=True)
    observation, _ = env.reset(seed=0)
    ratios, done = [], False
    while not done:
        observation, _, terminated, truncated, info = env.step(agent.act(observation))
        ratios.append(info["mlu"] / info["optimal_mlu"])
        done = terminated or truncated
    assert 1.0 - 1e-6 <= np.mean(ratios) < 1.03


# ---------------------------------------------------------------------- determinism and checkpoints
def test_same_seed_same_actions_and_exact_resume(diamond, tmp_path):
    observation = np.random.default_rng(0).uniform(0, 1, size=diamond_env(diamond).observation_space.shape)
    straight = DOTEAgent({"log_interval": 10}, seed=4)
    straight.train(lambda: diamond_env(diamond), 1_280)
    again = DOTEAgent({"log_interval": 10}, seed=4)
    again.train(lambda: diamond_env(diamond), 640, checkpoint_path=tmp_path / "c.pt", checkpoint_every=320)
    resumed = DOTEAgent({"log_interval": 10}, seed=4)
    resumed.train(
        lambda: diamond_env(diamond), 1_280, checkpoint_path=tmp_path / "c.pt", checkpoint_every=320
    )
    assert resumed.updates == straight.updates == 40
    np.testing.assert_array_equal(resumed.act(observation), straight.act(observation))
    for name, value in straight.network.state_dict().items():
        assert torch.equal(value, resumed.network.state_dict()[name]), name
    other = DOTEAgent({"log_interval": 10}, seed=5)
    other.train(lambda: diamond_env(diamond), 1_280)
    assert not np.array_equal(other.act(observation), straight.act(observation))


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("extra", [{}, {"dropout": 0.3, "weight_decay": 0.05}], ids=["adam", "dropout-adamw"])
def test_annealed_step_size_reaches_zero_and_resumes_exactly(diamond, tmp_path, extra):
    """``anneal_lr`` decays the step size linearly over the whole budget: the last step's size is
    lr x (1 - (T - B) / T), and a run killed after a checkpoint resumes onto the same weights, also
    with dropout (its masks drawn from the agent's generator, whatever the global seed) and AdamW."""
    params = {"log_interval": 10, "anneal_lr": True, "learning_rate": 1e-3, **extra}
    torch.manual_seed(123)
    straight = DOTEAgent(params, seed=4)
    straight.train(lambda: diamond_env(diamond), 1_280)
    assert straight.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * 32 / 1_280)

    def kill(steps: int) -> None:
        if steps >= 960:
            raise _Interrupted

    killed = DOTEAgent(params, seed=4)
    with pytest.raises(_Interrupted):
        killed.train(lambda: diamond_env(diamond), 1_280, checkpoint_path=tmp_path / "c.pt", checkpoint_every=320,
                     on_progress=kill)  # fmt: skip
    torch.manual_seed(7)
    resumed = DOTEAgent(params, seed=4)
    resumed.train(
        lambda: diamond_env(diamond), 1_280, checkpoint_path=tmp_path / "c.pt", checkpoint_every=320
    )
    for name, value in straight.network.state_dict().items():
        assert torch.equal(value, resumed.network.state_dict()[name]), name
    observation = np.random.default_rng(0).uniform(0, 1, size=diamond_env(diamond).observation_space.shape)
    first = straight.act(observation)
    np.testing.assert_array_equal(first, straight.act(observation))  # no dropout when deciding
    constant = DOTEAgent({"log_interval": 10, "learning_rate": 1e-3}, seed=4)
    constant.train(lambda: diamond_env(diamond), 1_280)
    assert not torch.equal(constant.network.body[0].weight, straight.network.body[0].weight)


def test_robust_variant_spreads_a_bursty_pair(diamond):
    """The burst penalty pays for routings whose pairs cross one bottleneck: with a heavy weight the
    trained routing's mean worst sensitivity is lower than DOTE's on the same data."""

    def worst(agent):
        with torch.no_grad():
            splits = agent.splits(agent.network(agent.inputs(torch.arange(50))))
            return float((agent.flow.worst_sensitivity(splits) * agent.burstiness).mean())

    plain, robust = DOTEAgent({}, seed=0), DOTEAgent({"robustness": 5.0}, seed=0)
    plain.train(lambda: diamond_env(diamond), 10_000)
    robust.train(lambda: diamond_env(diamond), 10_000)
    assert worst(robust) < worst(plain)


# ---------------------------------------------------------------------- bad set-ups
def test_needs_the_traffic_observation(diamond):
    with pytest.raises(
        RlteError, match=r"^dote: needs rlte/TE-v0 with observe='traffic' and action_type='splits'"
    ):
        DOTEAgent({}, seed=0).train(lambda: diamond_env(diamond, observe="utilisation"), 10)


def test_history_longer_than_the_window(diamond):
    with pytest.raises(
        RlteError, match=r"^dote: history 3 exceeds the environment's window 2 \(set env: window\)$"
    ):
        DOTEAgent({"history": 3}, seed=0).train(lambda: diamond_env(diamond), 10)


def test_act_before_training():
    with pytest.raises(RlteError, match=r"^dote: train\(\) it before act\(\)$"):
        DOTEAgent({}, seed=0).act(np.zeros(4))


def test_bad_parameter_is_one_line():
    with pytest.raises(RlteError, match="robustness"):
        DOTEAgent({"robustness": -1.0}, seed=0)


# ---------------------------------------------------------------------- through the pipeline
def test_a_spec_runs_dote_beside_the_lp(tmp_path, diamond):
    """A grid cell of each DOTE method on the diamond's synthetic week: the domain sets its
    environment (the traffic observation), the LP optimum lies below it (LP <= every routing), and it
    lands within 5 % of it (measured: about 1 %) while an even split over the same two paths is twice it."""
    from rlte.experiments.runner import run_spec
    from rlte.experiments.spec import parse_spec
    from rlte.experiments.store import per_seed, read_run

    raw = {
        "name": "dote_tiny", "description": "DOTE beside the LP on a synthetic week",
        "methods": ["kpath_uniform", "lp_opt", "dote", {"name": "dote_robust", "params": {"robustness": 0.5}}],
        "topologies": [diamond], "traffic": ["diurnal:uniform:1e9"], "loads": [0.6], "seeds": [0],
        "scenario": {"train_fraction": 0.9}, "training": {"timesteps": 20_000, "checkpoint_every": 10_000},
        "env": {"window": 2, "k": 2},
    }  # fmt: skip
    summary = run_spec(parse_spec(raw), runs_dir=tmp_path, run_id="one", progress=False)
    assert summary.failed == 0, summary.errors
    run = read_run(summary.run_dir)
    rows = run.results
    lp, even = per_seed(rows, "lp_opt", "mlu"), per_seed(rows, "kpath_uniform", "mlu")
    assert len(lp) == len(even) == 1
    for method in ("dote", "dote_robust"):
        mlu = per_seed(rows, method, "mlu")
        assert len(mlu) == 1
        assert (mlu >= lp - 1e-9).all()
        assert (mlu < 1.05 * lp).all() and (mlu < even).all()
        assert run.methods[method]["learned"]
