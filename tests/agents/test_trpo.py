"""Multi-agent TRPO with ATRA: the numerical pieces against hand and numpy answers, the line search's
KL guarantee as a property, ATRA's direction and bounds, learning a diamond to its LP optimum,
determinism and exact resume."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from instances import DIAMOND, static_diamond, write_topology
from torch import nn

from rlte.agents.common import (
    conjugate_gradient,
    fisher_vector_product,
    flat_parameters,
    gae,
    gaussian_kl,
    line_search,
    set_flat_parameters,
)
from rlte.agents.common.actor_critic import SharedGaussianActor
from rlte.agents.trpo import (
    LOG_COLUMNS,
    AdaptiveTrustRegion,
    TRPOAgent,
    TRPOConfig,
    traffic_change,
)
from rlte.envs import make_parallel
from rlte.errors import RlteError

torch.set_num_threads(1)


# ---------------------------------------------------------------------- instances
@pytest.fixture(scope="module")
def diamond(tmp_path_factory) -> str:
    return write_topology(tmp_path_factory, "diamond", DIAMOND)


SMALL = {
    "rollout_steps": 64,
    "hidden_sizes": (16,),
    "critic_hidden_sizes": (16,),
    "critic_minibatch_size": 32,
}


# ---------------------------------------------------------------------- conjugate gradient
def test_conjugate_gradient_solves_spd_system():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((12, 12))
    matrix = m @ m.T + 0.5 * np.eye(12)
    b = rng.standard_normal(12)
    a = torch.from_numpy(matrix)
    x = conjugate_gradient(lambda v: a @ v, torch.from_numpy(b), iterations=50, residual_tol=1e-20)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(matrix, b), rtol=1e-7, atol=1e-9)


def test_conjugate_gradient_is_exact_on_a_2x2_system_in_two_steps():
    a = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    b = torch.tensor([1.0, 2.0], dtype=torch.float64)
    x = conjugate_gradient(lambda v: a @ v, b, iterations=2)
    np.testing.assert_allclose(x.numpy(), [1 / 11, 7 / 11], rtol=1e-12)
    # stops at once when the residual is already below the tolerance
    assert torch.equal(
        conjugate_gradient(lambda v: a @ v, b, iterations=5, residual_tol=100.0),
        torch.zeros(2, dtype=torch.float64),
    )


# ---------------------------------------------------------------------- Fisher-vector product
def _explicit_fisher(actor: SharedGaussianActor, observations, ids) -> torch.Tensor:
    """``mean_b [J_mu^T diag(1/sigma^2) J_mu + 2 J_s^T J_s]``, the Fisher matrix of a diagonal
    Gaussian, from the Jacobians of the mean and log-std (rows one output at a time)."""
    parameters = list(actor.parameters())
    size = sum(p.numel() for p in parameters)
    fisher = torch.zeros(size, size, dtype=torch.float64)
    for b in range(len(observations)):
        mean, log_std = actor(observations[b : b + 1], ids[b : b + 1])
        precision = torch.exp(-2 * log_std).detach()
        for j in range(mean.shape[1]):
            for output, weight in ((mean[0, j], precision[0, j]), (log_std[0, j], 2.0)):
                grads = torch.autograd.grad(output, parameters, retain_graph=True, allow_unused=True)
                row = torch.cat(
                    [(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, parameters)]
                )
                fisher += weight * torch.outer(row, row)
    return fisher / len(observations)


def test_fisher_vector_product_matches_explicit_fisher():
    generator = torch.Generator().manual_seed(0)
    actor = SharedGaussianActor(3, 2, num_agents=2, hidden_sizes=(4,), embedding_size=2, log_std_init=-0.3,
                                generator=generator).double()  # fmt: skip
    with torch.no_grad():  # a non-trivial point: larger output weights and unequal stds
        actor.body[-1].weight.mul_(100.0)
        actor.log_std.copy_(torch.tensor([-0.5, 0.2]))
    observations = torch.randn(6, 3, generator=generator, dtype=torch.float64)
    ids = torch.tensor([0, 1, 0, 1, 1, 0])
    parameters = list(actor.parameters())
    damping = 0.1
    fvp = fisher_vector_product(lambda: actor(observations, ids), parameters, damping)
    fisher = _explicit_fisher(actor, observations, ids)
    for _ in range(3):
        v = torch.randn(fisher.shape[0], generator=generator, dtype=torch.float64)
        np.testing.assert_allclose(fvp(v).numpy(), (fisher @ v + damping * v).numpy(), rtol=1e-8, atol=1e-10)


def test_flat_parameters_round_trip():
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    vector = flat_parameters(net.parameters())
    assert vector.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    set_flat_parameters(net.parameters(), vector + 1.0)
    assert torch.allclose(flat_parameters(net.parameters()), vector + 1.0)
    with pytest.raises(ValueError):
        set_flat_parameters(net.parameters(), torch.zeros(3))


# ---------------------------------------------------------------------- line search
@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    size=st.integers(1, 6),
    max_kl=st.floats(1e-4, 1.0),
    scale=st.floats(1e-3, 1e3),
    cubic=st.floats(0.0, 10.0),
)
def test_line_search_never_breaks_the_kl_bound(seed, size, max_kl, scale, cubic):
    """Random concave-ish surrogates and convex KLs (quadratic plus a cubic term the quadratic
    model misses), random step directions of any length: an accepted step is within the bound and
    improves; a rejected one keeps the old parameters."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((size, size))
    fisher = m @ m.T + 0.1 * np.eye(size)
    gradient = rng.standard_normal(size)
    old = rng.standard_normal(size)

    def surrogate(theta):
        step = theta - old
        return float(gradient @ step - 0.5 * step @ step)

    def kl(theta):
        step = theta - old
        return float(0.5 * step @ fisher @ step + cubic * np.abs(step).sum() ** 3)

    def evaluate(theta: torch.Tensor):
        theta = theta.numpy()
        return surrogate(theta), kl(theta)

    full_step = torch.from_numpy(scale * rng.standard_normal(size))
    result = line_search(evaluate, torch.from_numpy(old), full_step, max_kl, max_backtracks=10)
    kept = result.parameters.numpy()
    if result.accepted:
        assert kl(kept) <= max_kl
        assert surrogate(kept) > surrogate(old)
        assert result.step_fraction in [0.5**i for i in range(10)]
    else:
        np.testing.assert_array_equal(kept, old)
        assert result.tries == 10


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), max_kl=st.floats(1e-4, 0.1), scale=st.floats(1e-2, 1e2))
def test_line_search_on_tiny_policies_keeps_the_exact_kl_bound(seed, max_kl, scale):
    generator = torch.Generator().manual_seed(seed)
    actor = SharedGaussianActor(2, 2, num_agents=2, hidden_sizes=(3,), embedding_size=1, log_std_init=-0.5,
                                generator=generator).double()  # fmt: skip
    observations = torch.randn(8, 2, generator=generator, dtype=torch.float64)
    ids = torch.arange(8) % 2
    actions = torch.randn(8, 2, generator=generator, dtype=torch.float64)
    advantages = torch.randn(8, generator=generator, dtype=torch.float64)
    parameters = list(actor.parameters())
    with torch.no_grad():
        old_mean, old_log_std = actor(observations, ids)

    def log_prob(mean, log_std):
        return (-0.5 * ((actions - mean) / log_std.exp()) ** 2 - log_std).sum(-1)

    def evaluate(candidate):
        set_flat_parameters(parameters, candidate)
        with torch.no_grad():
            mean, log_std = actor(observations, ids)
            ratio = torch.exp(log_prob(mean, log_std) - log_prob(old_mean, old_log_std))
            return float((ratio * advantages).mean()), float(
                gaussian_kl(old_mean, old_log_std, mean, log_std).mean()
            )

    old = flat_parameters(parameters)
    step = scale * torch.randn(old.shape, generator=generator, dtype=torch.float64)
    result = line_search(evaluate, old, step, max_kl)
    _, kept_kl = evaluate(result.parameters)
    assert kept_kl <= max_kl
    if not result.accepted:
        assert torch.equal(result.parameters, old)


def test_line_search_backtracks_to_the_first_qualifying_fraction_and_rejects_a_bad_direction():
    def evaluate(theta):
        x = float(theta[0])
        return x - x**2, x**2  # surrogate peaks at x = 0.5; KL = x^2

    result = line_search(evaluate, torch.zeros(1), torch.ones(1) * 4.0, max_kl=1.0)
    # fractions 1, 1/2 give x = 4, 2 (KL 16, 4), then x = 1: KL 1 but no improvement; x = 0.5 qualifies
    assert result.accepted and result.step_fraction == 0.125 and result.tries == 4
    assert result.kl == pytest.approx(0.25) and result.improvement == pytest.approx(0.25)
    result = line_search(evaluate, torch.zeros(1), -torch.ones(1), max_kl=1.0, max_backtracks=5)
    assert not result.accepted and result.tries == 5 and torch.equal(result.parameters, torch.zeros(1))


# ---------------------------------------------------------------------- GAE
def test_gae_matches_hand_computation():
    rewards, values, dones = [1.0, 2.0, 3.0], [0.5, 1.0, 1.5], [0, 1, 0]
    out = gae(rewards, values, dones, last_value=2.0, gamma=0.9, lam=0.8)
    # t=2: 3 + 0.9 * 2 - 1.5 = 3.3; t=1 ends an episode: 2 - 1 = 1; t=0: (1 + 0.9 - 0.5) + 0.72 * 1 = 2.12
    np.testing.assert_allclose(out.advantages, [2.12, 1.0, 3.3])
    np.testing.assert_allclose(out.returns, [2.62, 2.0, 4.8])


def test_gae_limits_are_td_error_and_monte_carlo():
    rng = np.random.default_rng(1)
    rewards, values = rng.standard_normal(6), rng.standard_normal(6)
    dones = np.zeros(6)
    td = gae(rewards, values, dones, 0.7, gamma=0.9, lam=0.0).advantages
    np.testing.assert_allclose(td, rewards + 0.9 * np.append(values[1:], 0.7) - values)
    mc = gae(rewards, values, dones, 0.7, gamma=0.9, lam=1.0).returns
    discounted = [sum(0.9**k * r for k, r in enumerate(rewards[t:])) + 0.9 ** (6 - t) * 0.7 for t in range(6)]
    np.testing.assert_allclose(mc, discounted)
    batched = gae(
        np.stack([rewards, rewards], 1), np.stack([values, values], 1), np.zeros((6, 2)), [0.7, 0.7], 0.9, 1.0
    )
    np.testing.assert_allclose(batched.returns[:, 1], discounted)


# ---------------------------------------------------------------------- ATRA
def test_traffic_change_is_the_mean_relative_l1_change_within_episodes():
    demands = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [9.0, 9.0], [9.0, 9.0]])
    starts = np.array([True, False, False, True, False])
    # pairs (0,1): 0, (1,2): 1, (2,3) crosses an episode start, (3,4): 0
    assert traffic_change(demands, starts) == pytest.approx(1 / 3)
    assert traffic_change(np.ones((4, 3)), np.zeros(4, bool)) == 0.0
    assert traffic_change(np.ones((1, 3)), np.ones(1, bool)) == 0.0


def test_atra_relaxes_on_a_traffic_jump_and_tightens_on_stable_traffic():
    config = TRPOConfig(delta=0.01, delta_min=0.002, delta_max=0.05)
    region = AdaptiveTrustRegion(config)
    assert region.update(0.05) == 0.01  # the first rollout has no reference yet
    for _ in range(5):
        region.update(0.05)
    assert region.delta == pytest.approx(0.01)  # usual pace: delta_0
    jump = region.update(0.2)
    assert 0.01 < jump <= 0.05
    assert region.update(5.0) == 0.05  # clipped at delta_max
    stable = AdaptiveTrustRegion(config)
    for _ in range(5):
        stable.update(0.05)
    assert 0.002 <= stable.update(0.01) < 0.01
    assert stable.update(0.0) == 0.002  # clipped at delta_min
    fixed = AdaptiveTrustRegion(TRPOConfig(atra=False))
    assert [fixed.update(c) for c in (0.05, 5.0, 0.0)] == [0.01, 0.01, 0.01]


@settings(max_examples=100, deadline=None)
@given(
    changes=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=20),
    last=st.floats(0.0, 10.0),
    more=st.floats(0.0, 10.0),
)
def test_atra_stays_within_bounds_and_is_monotone_in_the_change(changes, last, more):
    config = TRPOConfig()
    first, second = AdaptiveTrustRegion(config), AdaptiveTrustRegion(config)
    for change in changes:
        assert config.delta_min <= first.update(change) <= config.delta_max
        second.update(change)
    low, high = sorted((last, more))
    assert first.update(low) <= second.update(high)


# ---------------------------------------------------------------------- the agent
def test_unknown_parameter_is_an_error():
    with pytest.raises(RlteError, match="unknown parameter"):
        TRPOAgent({"learning_rate": 1e-3})
    with pytest.raises(RlteError, match="delta_min"):
        TRPOAgent({"delta": 0.1, "delta_max": 0.05})


def test_smoke_on_the_default_environment(tmp_path):
    """Two rollouts on the default ``rlte/TE-MA-v0`` (Abilene, synthetic week): the log has its
    columns, ATRA moved delta with the traffic, and every agent gets a valid action."""
    log = tmp_path / "log.csv"
    agent = TRPOAgent({"rollout_steps": 160, "critic_epochs": 1}, seed=0)
    make_env = lambda: make_parallel("rlte/TE-MA-v0", with_optimal=False, episode_length=64)  # noqa: E731
    assert agent.train(make_env, 480, learning_log=log) == 480
    rows = list(csv.DictReader(log.open()))
    assert tuple(rows[0]) == LOG_COLUMNS and len(rows) == 3
    assert rows[0]["delta"] == "0.01" and len({row["delta"] for row in rows}) > 1
    assert all(float(row["traffic_change"]) > 0 for row in rows)
    assert int(rows[-1]["accepted_steps"]) + int(rows[-1]["rejected_steps"]) == 3
    env = make_env()
    observations, _ = env.reset(seed=3)
    actions = agent.act(observations)
    assert set(actions) == set(env.possible_agents)
    assert all(env.action_space(a).contains(action) for a, action in actions.items())
    again = agent.act(observations)
    assert all(np.array_equal(actions[a], again[a]) for a in actions)  # deterministic


@pytest.mark.slow
def test_learns_the_diamond_to_its_lp_optimum(diamond):
    """The deterministic policy's MLU is within 4 % of the LP optimum (0.3), the even split's is 0.6."""
    agent = TRPOAgent({"rollout_steps": 256, "delta": 0.1, "delta_max": 0.2, "gamma": 0.5}, seed=0)
    agent.train(lambda: static_diamond(diamond), 12_288)
    env = static_diamond(diamond)
    observations, _ = env.reset(seed=0)
    first = env.possible_agents[0]
    _, _, _, _, infos = env.step({a: np.zeros(env.action_space(a).shape) for a in env.possible_agents})
    even, optimal = infos[first]["mlu"], infos[first]["optimal_mlu"]
    assert even == pytest.approx(0.6) and optimal == pytest.approx(0.3)
    observations, _ = env.reset(seed=0)
    for _ in range(3):  # the observation carries the last utilisation: check the policy's steady state
        observations, _, _, _, infos = env.step(agent.act(observations))
        assert infos[first]["mlu"] <= 1.04 * optimal
