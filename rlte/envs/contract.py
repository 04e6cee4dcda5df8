"""The rlte environment contract: what every rlte environment promises beyond the Gymnasium or
PettingZoo API, and all that agents may use of it.

An rlte environment

- follows the Gymnasium (`gymnasium.Env`) or PettingZoo (`pettingzoo.ParallelEnv`) API exactly;
- has an options dataclass (an `EnvOptions` subclass, ``Options`` attribute of the class) that is
  the one source of its valid constructor keys and checks every value's type and range, and keeps
  the parsed options in ``self.options``;
- puts its domain's metrics in every step's ``info`` (``METRICS``: their names);
- implements ``get_state() -> dict`` and ``set_state(state)``: everything random and everything
  about the episode in progress (generators, position, history, the agents still alive), as numpy
  arrays and plain Python values, so that a learner's checkpoint resumes the environment exactly;
  ``set_state`` works on an environment built with the same options (reset it once first when
  Gymnasium's wrappers, which refuse a step before a reset, are around it);
- optionally implements ``graph() -> GraphObservation`` for graph agents.

Agents reach the environment under any Gymnasium wrappers through `unwrapped`; `env_state` and
`restore_env_state` are the two calls a checkpoint needs.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple, Protocol, runtime_checkable

import numpy as np

from rlte.options import Options


class EnvOptions(Options):
    """Base of every environment's options dataclass."""

    WHAT: ClassVar[str] = "environment option"


class GraphObservation(NamedTuple):
    """A graph view of the current observation, for graph agents (GAT, message passing).

    The graph's nodes are the environment's entities (the topology's nodes, or its links for link
    agents); edge m goes from node ``edge_index[0, m]`` to node ``edge_index[1, m]``. Feature arrays
    may carry a leading time window W (oldest first).
    """

    node_features: np.ndarray
    """Per-node features. Shape [N, F] or [W, N, F], float32."""
    edge_index: np.ndarray
    """Source and target node of each edge. Shape [2, M], int64."""
    edge_features: np.ndarray | None
    """Per-edge features, or None. Shape [M, G] or [W, M, G], float32."""
    node_feature_names: tuple[str, ...]
    """What the F node features are."""
    edge_feature_names: tuple[str, ...]
    """What the G edge features are (empty without edge features)."""


@runtime_checkable
class StatefulEnv(Protocol):
    """The contract's required methods (see the module docstring)."""

    def get_state(self) -> dict: ...

    def set_state(self, state: dict) -> None: ...


def unwrapped(env):
    """The rlte environment under any Gymnasium wrappers."""
    return getattr(env, "unwrapped", env)


def env_state(env) -> dict:
    """``get_state()`` of the rlte environment under ``env``'s wrappers.

    Raises:
        TypeError: the environment does not implement the contract.
    """
    base = unwrapped(env)
    if not isinstance(base, StatefulEnv):
        raise TypeError(
            f"{type(base).__name__} does not implement get_state/set_state (the rlte env contract)"
        )
    return base.get_state()


def restore_env_state(env, state: dict) -> None:
    """``set_state(state)`` on the rlte environment under ``env``'s wrappers."""
    unwrapped(env).set_state(state)


# ---------------------------------------------------------------------- helpers for implementations
def generator_state(generator: np.random.Generator) -> dict:
    """A numpy generator's complete state (plain values)."""
    return generator.bit_generator.state


def generator_from_state(state: dict) -> np.random.Generator:
    """A new generator in the state `generator_state` returned."""
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def spaces_state(spaces: dict) -> dict:
    """The generator states of a dict of Gymnasium spaces (agent -> space)."""
    return {agent: generator_state(space.np_random) for agent, space in spaces.items()}


def restore_spaces_state(spaces: dict, state: dict) -> None:
    """Restore what `spaces_state` returned."""
    for agent, space_state in state.items():
        spaces[agent]._np_random = generator_from_state(space_state)


__all__ = [
    "EnvOptions",
    "GraphObservation",
    "StatefulEnv",
    "env_state",
    "generator_from_state",
    "generator_state",
    "restore_env_state",
    "restore_spaces_state",
    "spaces_state",
    "unwrapped",
]
