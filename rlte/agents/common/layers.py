"""Seeded building blocks for rlte's torch networks: a linear layer whose initial weights come from
a caller's generator, and dropout whose masks do.

Torch's own layers initialise themselves from the global random state and ``nn.Dropout`` draws its
masks from it too, so a network built or trained with them would depend on whatever else drew
before. Everything here draws from an explicit ``torch.Generator`` (an agent's, checkpointed with
it) and leaves the global state as it was.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def orthogonal_linear(inputs: int, outputs: int, gain: float, generator: torch.Generator) -> nn.Linear:
    """``nn.Linear(inputs, outputs)`` with orthogonal weights of ``gain`` drawn from ``generator``
    and zero biases; torch's global random state is untouched."""
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own initialisation draws globally
        linear = nn.Linear(int(inputs), int(outputs))
    nn.init.orthogonal_(linear.weight, gain=float(gain), generator=generator)
    nn.init.zeros_(linear.bias)
    return linear


def seeded_dropout(x: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """Inverted dropout: each element is kept when a uniform draw from ``generator`` is at least
    ``p`` and the kept ones are scaled by ``1 / (1 - p)``, so the expectation is ``x``. Shape as
    ``x``; ``p`` in [0, 1)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if p == 0.0:
        return x
    keep = torch.rand(x.shape, generator=generator) >= p
    return x * keep / (1.0 - p)
