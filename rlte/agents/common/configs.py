"""Typed configs of rlte's agents: `rlte.options.Options` dataclasses whose fields are checked for
type and range when a spec is checked, with a base for the fields every actor-critic shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlte.options import Options, option


@dataclass
class AgentConfig(Options):
    """Base of every agent config (its fields are a spec's ``params`` of the method)."""

    WHAT: ClassVar[str] = "parameter"


@dataclass
class ActorCriticConfig(AgentConfig):
    """What rlte's on-policy multi-agent learners share (`rlte.agents.common.actor_critic`)."""

    rollout_steps: int = option(512, ge=1)
    """Environment steps per rollout (and per policy update); each step is one decision per agent."""
    gamma: float = option(0.9, ge=0.0, le=1.0)
    """Discount factor (routing rewards are nearly myopic)."""
    lam: float = option(0.95, ge=0.0, le=1.0)
    """GAE parameter."""
    critic_learning_rate: float = option(1e-3, gt=0.0)
    """Adam step size of the critic."""
    hidden_sizes: tuple[int, ...] = option((64, 64), ge=1)
    """Hidden layer sizes of the shared actor."""
    critic_hidden_sizes: tuple[int, ...] = option((128, 128), ge=1)
    """Hidden layer sizes of the centralised critic."""
    node_embedding_size: int = option(8, ge=1)
    """Size of the learned node embedding appended to each agent's observation."""
    log_std_init: float = -1.0
    """Initial log standard deviation of the Gaussian policy."""
    normalize_advantages: bool = True
    """Standardise advantages over each rollout."""
