"""Pieces shared by rlte's own agents: advantage estimation, the trust-region step, checkpoints."""

from rlte.agents.common.advantages import Advantages, gae
from rlte.agents.common.checkpoints import atomic_torch_save
from rlte.agents.common.trust_region import (
    LineSearchResult,
    conjugate_gradient,
    fisher_vector_product,
    flat_gradient,
    flat_parameters,
    gaussian_kl,
    gaussian_log_prob,
    line_search,
    set_flat_parameters,
)

__all__ = [
    "Advantages",
    "LineSearchResult",
    "atomic_torch_save",
    "conjugate_gradient",
    "fisher_vector_product",
    "flat_gradient",
    "flat_parameters",
    "gae",
    "gaussian_kl",
    "gaussian_log_prob",
    "line_search",
    "set_flat_parameters",
]
