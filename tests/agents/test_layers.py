"""Seeded layers: the weights and dropout masks come from the caller's generator only."""

from __future__ import annotations

import pytest
import torch

from rlte.agents.common.layers import orthogonal_linear, seeded_dropout


def test_orthogonal_linear_is_orthogonal_seeded_and_leaves_the_global_state():
    before = torch.random.get_rng_state()
    a = orthogonal_linear(6, 4, 2.0, torch.Generator().manual_seed(5))
    b = orthogonal_linear(6, 4, 2.0, torch.Generator().manual_seed(5))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, torch.zeros(4))
    # rows of a wide orthogonal matrix are orthonormal, scaled by the gain
    assert torch.allclose(a.weight @ a.weight.T, 4.0 * torch.eye(4), atol=1e-5)


def test_seeded_dropout_keeps_with_probability_one_minus_p_and_rescales():
    x = torch.ones(200_000)
    out = seeded_dropout(x, 0.25, torch.Generator().manual_seed(0))
    kept = out != 0
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1.0 / 0.75))
    assert abs(kept.float().mean().item() - 0.75) < 0.01  # 5 sigma is 0.005
    again = seeded_dropout(x, 0.25, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert seeded_dropout(x, 0.0, torch.Generator()) is x


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_seeded_dropout_rejects_a_probability_outside_0_1(p):
    with pytest.raises(ValueError, match=rf"dropout probability must be in \[0, 1\), got {p}"):
        seeded_dropout(torch.ones(3), p, torch.Generator())
