"""The pieces of a trust-region policy step (TRPO, Schulman et al. 2015): flat parameter vectors,
conjugate gradient, the Fisher-vector product of a diagonal Gaussian policy and the backtracking
line search that enforces the KL bound.

The step solves ``max_theta g . (theta - theta_old)`` subject to ``1/2 (theta - theta_old)^T F
(theta - theta_old) <= delta``: the direction ``x = F^-1 g`` comes from `conjugate_gradient` on
Fisher-vector products (never forming ``F``), the length ``sqrt(2 delta / x^T F x)``, and
`line_search` shrinks the step until the exact mean KL is within ``delta`` and the surrogate
improves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn


# ---------------------------------------------------------------------- flat parameters
def flat_parameters(parameters: Iterable[nn.Parameter]) -> Tensor:
    """The parameters concatenated into one vector (a detached copy).

    Args:
        parameters: the tensors, in a fixed order.

    Returns:
        The vector. Shape [P], P the total number of elements.
    """
    return torch.cat([p.detach().reshape(-1) for p in parameters]).clone()


def set_flat_parameters(parameters: Iterable[nn.Parameter], vector: Tensor) -> None:
    """Write a flat vector back into the parameters (in place, outside autograd).

    Args:
        parameters: the tensors, in the order `flat_parameters` used.
        vector: the values. Shape [P].

    Raises:
        ValueError: the vector's size is not the parameters' total.
    """
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vector.numel() != total:
        raise ValueError(f"flat vector has {vector.numel()} elements, the parameters {total}")
    offset = 0
    with torch.no_grad():
        for p in parameters:
            count = p.numel()
            p.copy_(vector[offset : offset + count].view_as(p))
            offset += count


def flat_gradient(
    output: Tensor, parameters: Sequence[nn.Parameter], *, create_graph: bool = False
) -> Tensor:
    """The gradient of a scalar with respect to the parameters, as one vector (zeros for unused ones).

    Args:
        output: a scalar tensor.
        parameters: the tensors to differentiate with respect to.
        create_graph: keep the graph of the gradient (for second derivatives).

    Returns:
        The gradient. Shape [P].
    """
    grads = torch.autograd.grad(output, list(parameters), create_graph=create_graph, allow_unused=True)
    return torch.cat(
        [(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, parameters)]
    )


# ---------------------------------------------------------------------- conjugate gradient
def conjugate_gradient(
    fvp: Callable[[Tensor], Tensor], b: Tensor, iterations: int = 10, residual_tol: float = 1e-10
) -> Tensor:
    """Solve ``A x = b`` for a symmetric positive-definite ``A`` known only through products ``A v``.

    Starts from ``x = 0`` and stops after ``iterations`` steps or once the squared residual norm
    ``|b - A x|^2`` falls below ``residual_tol``. Exact after P steps in exact arithmetic.

    Args:
        fvp: ``v -> A v`` (in TRPO the damped Fisher-vector product).
        b: the right-hand side. Shape [P].
        iterations: the most steps (matrix-vector products).
        residual_tol: stop when the squared residual norm is below this.

    Returns:
        The approximate solution ``x``. Shape [P].
    """
    x = torch.zeros_like(b)
    residual = b.clone()
    direction = b.clone()
    residual_sq = residual @ residual
    for _ in range(iterations):
        if residual_sq < residual_tol:
            break
        product = fvp(direction)
        alpha = residual_sq / (direction @ product)
        x += alpha * direction
        residual -= alpha * product
        new_residual_sq = residual @ residual
        direction = residual + (new_residual_sq / residual_sq) * direction
        residual_sq = new_residual_sq
    return x


# ---------------------------------------------------------------------- Gaussian KL and Fisher
def gaussian_kl(mean_p: Tensor, log_std_p: Tensor, mean_q: Tensor, log_std_q: Tensor) -> Tensor:
    """KL(p || q) of two diagonal Gaussians, summed over the action dimensions.

    ``KL = sum_j [log s_q - log s_p + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2]``.

    Args:
        mean_p, log_std_p: the first distribution. Shapes [..., A] (log_std broadcastable).
        mean_q, log_std_q: the second. Shapes [..., A].

    Returns:
        The divergence per distribution. Shape [...].
    """
    var_p, var_q = torch.exp(2 * log_std_p), torch.exp(2 * log_std_q)
    kl = log_std_q - log_std_p + (var_p + (mean_p - mean_q) ** 2) / (2 * var_q) - 0.5
    return kl.sum(-1)


def gaussian_log_prob(actions: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """Log density of actions under a diagonal Gaussian, summed over the action dimensions.

    Args:
        actions: Shape [..., A].
        mean: Shape [..., A].
        log_std: Shape [..., A] or [A].

    Returns:
        Shape [...].
    """
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z**2 - log_std - 0.5 * torch.log(torch.tensor(2 * torch.pi, dtype=mean.dtype))).sum(-1)


def fisher_vector_product(
    distribution: Callable[[], tuple[Tensor, Tensor]],
    parameters: Sequence[nn.Parameter],
    damping: float = 0.1,
) -> Callable[[Tensor], Tensor]:
    """The damped Fisher-vector product ``v -> (F + damping I) v`` of a diagonal Gaussian policy.

    ``F`` is the Hessian at ``theta_old`` of the mean ``KL(pi_old || pi_theta)`` over a batch of
    inputs (equal to the average Fisher information there). The KL's gradient graph is built once;
    each product is one more backward pass (Pearlmutter's trick), never the P x P matrix.

    Args:
        distribution: computes the policy's ``(mean [B, A], log_std [B, A] or [A])`` on the batch
            with the current parameters.
        parameters: the policy parameters, in flat order.
        damping: added multiple of the identity (keeps conjugate gradient well conditioned).

    Returns:
        ``v -> (F + damping I) v``, both Shape [P].
    """
    mean, log_std = distribution()
    kl = gaussian_kl(mean.detach(), log_std.detach(), mean, log_std).mean()
    kl_gradient = flat_gradient(kl, parameters, create_graph=True)
    parameters = list(parameters)

    def product(vector: Tensor) -> Tensor:
        # retain_graph: every product differentiates the same KL gradient again
        grads = torch.autograd.grad(kl_gradient @ vector, parameters, retain_graph=True, allow_unused=True)
        flat = torch.cat(
            [(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, parameters)]
        )
        return flat.detach() + damping * vector

    return product


# ---------------------------------------------------------------------- line search
class LineSearchResult(NamedTuple):
    """What `line_search` decided."""

    parameters: Tensor
    """The parameters to keep: the accepted ones, or the old ones when no step qualified. Shape [P]."""
    accepted: bool
    """Whether a step was accepted."""
    step_fraction: float
    """Fraction of the full step taken (0 when rejected)."""
    improvement: float
    """Surrogate gain of the kept parameters over the old ones (0 when rejected)."""
    kl: float
    """Mean KL of the kept parameters from the old policy (0 when rejected)."""
    tries: int
    """Step fractions evaluated."""


def line_search(
    evaluate: Callable[[Tensor], tuple[float, float]],
    old_parameters: Tensor,
    full_step: Tensor,
    max_kl: float,
    *,
    max_backtracks: int = 10,
    old_surrogate: float | None = None,
) -> LineSearchResult:
    """Backtracking search along ``full_step``: accept the first fraction 1, 1/2, 1/4, ... whose
    mean KL is at most ``max_kl`` AND whose surrogate is strictly above the old one.

    Up to ``max_backtracks`` fractions are tried; if none qualifies the old parameters are kept and
    ``accepted`` is False. A non-finite surrogate or KL never qualifies.

    Args:
        evaluate: ``parameters -> (surrogate, mean_kl)``, the surrogate objective (to maximise)
            and the mean KL from the old policy at those parameters. It may set them in a model;
            the caller then sets ``result.parameters`` afterwards.
        old_parameters: where the step starts. Shape [P].
        full_step: the largest step (the natural-gradient step scaled to the KL bound). Shape [P].
        max_kl: the trust region ``delta``.
        max_backtracks: fractions to try.
        old_surrogate: the surrogate at ``old_parameters`` if known (else evaluated).

    Returns:
        The `LineSearchResult`.
    """
    if old_surrogate is None:
        old_surrogate, _ = evaluate(old_parameters)
    fraction = 1.0
    for attempt in range(1, max_backtracks + 1):
        candidate = old_parameters + fraction * full_step
        surrogate, kl = evaluate(candidate)
        improvement = surrogate - old_surrogate
        if _finite(surrogate) and _finite(kl) and kl <= max_kl and improvement > 0:
            return LineSearchResult(candidate, True, fraction, float(improvement), float(kl), attempt)
        fraction *= 0.5
    return LineSearchResult(old_parameters.clone(), False, 0.0, 0.0, 0.0, max_backtracks)


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
