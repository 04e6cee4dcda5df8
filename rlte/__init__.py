"""rlte: reinforcement learning for traffic engineering and load balancing."""

from rlte.errors import RlteError

__version__ = "0.1.0"

__all__ = ["RlteError", "__version__"]
