"""TD3, twin delayed deep deterministic policy gradient (Fujimoto et al. 2018), on a single-agent
Gymnasium environment with a bounded ``Box`` action space.

Acting, the replay buffer, the action scaling, the networks and the checkpoints are the off-policy
base's (`rlte.agents.common.off_policy`). TD3 adds three things to DDPG's update:

1. **Clipped double Q.** ``n_critics`` critics (two) learn side by side; the target takes the
   smallest of their target networks' values, which counters the overestimation a single critic
   accumulates.
2. **Target policy smoothing.** The target action is the target actor's plus clipped Gaussian
   noise, ``a' = clip(mu'(s') + clip(eps, -c, c), -1, 1)``, ``eps ~ N(0, sigma^2)`` (``sigma`` =
   ``target_policy_noise``, ``c`` = ``target_noise_clip``, in the network's action range), so the
   critic cannot exploit a narrow peak of its own estimate.
3. **Delayed policy updates.** The actor and every target network move once per ``policy_delay``
   critic steps.

Per gradient step, on a minibatch of transitions ``(s, a, r, s', term)``:

    ``y = r + gamma (1 - term) min_i Q'_i(s', a')``                   (`TD3Agent.critic_target`)

    ``L_critic = sum_i mean (Q_i(s, a) - y)^2``

and, on every ``policy_delay``-th step, ``L_actor = -mean Q_1(s, mu(s))``, then the Polyak updates
``theta' <- (1 - tau) theta' + tau theta`` of the actor's and the critics' targets. A time-limit
end is stored with ``term = 0`` and bootstraps; a terminal step does not. The smoothing noise is
drawn from the learner's torch generator, so a run is reproducible and resumes exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional

from rlte.agents.common.continuous_replay import ContinuousBatch
from rlte.agents.common.off_policy import OffPolicyConfig, OffPolicyLearner, bootstrapped_target, soft_update
from rlte.options import option


@dataclass
class TD3Config(OffPolicyConfig):
    """Hyperparameters of TD3 (the fields shared with DDPG in `OffPolicyConfig`)."""

    policy_delay: int = option(2, ge=1)
    """Critic steps per actor step (and per target-network update)."""
    target_policy_noise: float = option(0.2, ge=0.0)
    """Standard deviation of the target action's smoothing noise (fraction of half the action range)."""
    target_noise_clip: float = option(0.5, ge=0.0)
    """The smoothing noise is clipped to [-target_noise_clip, target_noise_clip]."""
    n_critics: int = option(2, ge=1)
    """Critics whose smallest target value is the target (2: clipped double Q)."""


class TD3Settings(NamedTuple):
    """What TD3's update adds to DDPG's (DDPG: one critic, no delay, no smoothing)."""

    n_critics: int
    """Critics trained side by side; the target takes the minimum of their targets."""
    policy_delay: int
    """Critic steps per actor step and target update."""
    target_policy_noise: float
    """Standard deviation of the smoothing noise (0: none)."""
    target_noise_clip: float
    """Bound of the smoothing noise."""


class TD3Agent(OffPolicyLearner):
    """TD3 (clipped double Q, target policy smoothing, delayed policy updates); see the module
    docstring for the update.

    Args:
        params: `TD3Config` fields.
        seed: seeds the learner's torch generator (weights, smoothing noise) and numpy generator
            (warm-up actions, exploration noise, minibatches, the environment's first reset).
        actor_factory: builds the actor (`rlte.agents.common.off_policy.ActorFactory`; default MLP).
        critic_factory: builds each critic (`rlte.agents.common.off_policy.CriticFactory`; default MLP).
    """

    NAME, ALGORITHM = "td3", "TD3"
    CONFIG = TD3Config

    def settings(self) -> TD3Settings:
        """The three additions to DDPG, from the config."""
        config = self.config
        return TD3Settings(config.n_critics, config.policy_delay, config.target_policy_noise,
                           config.target_noise_clip)  # fmt: skip

    @property
    def n_critics(self) -> int:
        return self.settings().n_critics

    def critic_target(self, batch: ContinuousBatch) -> Tensor:
        """``y = r + gamma (1 - term) min_i Q'_i(s', a')`` with the smoothed target action
        ``a' = clip(mu'(s') + clip(eps, -c, c), -1, 1)``.

        Args:
            batch: B transitions.

        Returns:
            Shape [B] (no gradient).
        """
        settings = self.settings()
        with torch.no_grad():
            next_actions = self.actor_target(batch.next_observations)
            if settings.target_policy_noise > 0:
                noise = (
                    torch.randn(next_actions.shape, generator=self.torch_rng) * settings.target_policy_noise
                )
                noise = noise.clamp(-settings.target_noise_clip, settings.target_noise_clip)
                next_actions = (next_actions + noise).clamp(-1.0, 1.0)
            next_values = torch.stack(
                [critic(batch.next_observations, next_actions) for critic in self.critic_targets]
            ).amin(0)
            return bootstrapped_target(batch.rewards, batch.terminated, next_values, self.config.gamma)

    def _learn(self, batch: ContinuousBatch) -> dict:
        """A critic step; on every ``policy_delay``-th gradient step also an actor step and the
        target networks' Polyak updates."""
        settings, tau = self.settings(), self.config.tau
        target = self.critic_target(batch)
        q_values = [critic(batch.observations, batch.actions) for critic in self.critics]
        critic_loss = sum(functional.mse_loss(q, target) for q in q_values)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()

        actor_loss = None
        if self.gradient_steps % settings.policy_delay == 0:
            actor_loss = -self.critics[0](batch.observations, self.actor(batch.observations)).mean()
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            self.actor_optimizer.step()
            soft_update(self.critic_targets, self.critics, tau)
            soft_update(self.actor_target, self.actor, tau)
        return {
            "critic_loss": critic_loss.item(),
            "actor_loss": None if actor_loss is None else actor_loss.item(),
            "q_mean": q_values[0].detach().mean().item(),
        }
