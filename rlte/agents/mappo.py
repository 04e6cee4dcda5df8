"""Multi-agent PPO (MAPPO) on ``rlte/TE-MA-v0``: seed 000's PPO baseline.

The networks, rollouts, advantages and training loop are multi-agent TRPO's
(`rlte.agents.common.actor_critic`), so the comparison differs only in the policy step: ONE actor
shared by every node agent (parameter sharing) with a learned node embedding, a diagonal Gaussian
over the agent's path logits, a centralised critic ``V(state())``, the shared network reward, GAE
advantages normalised per rollout.

The policy step (Schulman et al. 2017) runs ``epochs`` passes over each rollout in minibatches of
``minibatch_size`` steps (each holding every agent's decision at those steps) and takes one Adam
step per minibatch on the clipped surrogate

    ``L(theta) = -mean_{t,i} min(rho_ti A_t, clip(rho_ti, 1 - eps, 1 + eps) A_t) - c_H H(pi_theta)``

with ``rho_ti = pi_theta(a_ti | o_ti, i) / pi_old(a_ti | o_ti, i)`` (``eps`` = ``clip_range``,
``c_H`` = ``entropy_coef``, 0 by default), the gradient's norm clipped at ``max_grad_norm``. In
the same minibatch the critic takes one Adam step on ``mean_t (V(s_t) - R_t)^2``, ``R_t`` the GAE
returns. With ``target_kl`` set, the epochs stop early once the approximate KL
``mean (rho - 1) - log rho`` of a minibatch exceeds it.

Training checkpoints are exact, as TRPO's: networks, both optimisers, the agent's torch and numpy
generators, the environment's generator and episode state and the current observations, saved
atomically at the start of a rollout; a run killed and resumed ends identical to an uninterrupted
one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rlte.agents.common import gaussian_log_prob
from rlte.agents.common.actor_critic import ActorCriticLearner, Rollout
from rlte.agents.common.configs import ActorCriticConfig
from rlte.options import option

LOG_COLUMNS = ("timesteps", "episode_reward_mean", "kl", "clip_fraction", "epochs", "critic_loss")


@dataclass
class PPOConfig(ActorCriticConfig):
    """Hyperparameters of multi-agent PPO (the fields shared with `rlte.agents.trpo.TRPOConfig`
    in `ActorCriticConfig`)."""

    clip_range: float = option(0.2, gt=0.0)
    """The surrogate clips the probability ratio to [1 - clip_range, 1 + clip_range]."""
    epochs: int = option(10, ge=1)
    """Passes over each rollout."""
    minibatch_size: int = option(64, ge=1)
    """Steps per minibatch (each step holds every agent's decision)."""
    learning_rate: float = option(3e-4, gt=0.0)
    """Adam step size of the actor."""
    entropy_coef: float = option(0.0, ge=0.0)
    """Weight of the policy's entropy bonus."""
    max_grad_norm: float = option(0.5, gt=0.0)
    """The actor's gradient is rescaled to at most this norm."""
    target_kl: float | None = option(None, gt=0.0)
    """Stop a rollout's epochs once a minibatch's approximate KL exceeds this (None: never)."""


def clipped_surrogate_loss(ratio: Tensor, advantages: Tensor, clip_range: float) -> Tensor:
    """PPO's loss ``-mean min(rho A, clip(rho, 1 - eps, 1 + eps) A)``.

    Args:
        ratio: ``rho = pi_theta(a | o) / pi_old(a | o)`` of each decision. Shape [...].
        advantages: ``A`` of each decision (broadcast against ``ratio``). Shape [...].
        clip_range: ``eps``.

    Returns:
        The loss (a scalar); no gradient flows through a decision whose clipped term is the smaller.
    """
    clipped = torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    return -torch.min(ratio * advantages, clipped * advantages).mean()


class PPOAgent(ActorCriticLearner):
    """Multi-agent PPO (TRPO's shared actor with node embeddings and centralised critic, clipped
    surrogate) on ``rlte/TE-MA-v0``; everything but the policy step is
    `rlte.agents.common.actor_critic.ActorCriticLearner`'s.

    Args:
        params: `PPOConfig` fields.
        seed: seeds the agent's torch and numpy generators (weights, action noise, minibatches)
            and, through them, the environment.
    """

    NAME, ALGORITHM, LOG_COLUMNS = "ppo", "MAPPO", LOG_COLUMNS
    COUNTERS = {"timesteps": "num_timesteps", "updates": "updates"}
    CONFIG = PPOConfig

    def _build_learner(self) -> None:
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=self.config.learning_rate)
        self.critic_optimizer = torch.optim.Adam(
            self.critic.parameters(), lr=self.config.critic_learning_rate
        )

    def _stateful(self) -> dict:
        return {
            "actor": self.actor,
            "critic": self.critic,
            "actor_optimizer": self.actor_optimizer,
            "critic_optimizer": self.critic_optimizer,
        }

    # ------------------------------------------------------------------ the policy step
    def _update(self, rollout: Rollout) -> tuple[dict, dict]:
        config = self.config
        steps, num_agents = rollout.actions.shape[:2]
        states = torch.as_tensor(rollout.states)
        advantages, returns = self._advantages(rollout)

        observations = torch.as_tensor(rollout.observations)  # [T, N, O]
        actions = torch.as_tensor(rollout.actions)  # [T, N, A]
        agent_ids = torch.arange(num_agents)
        step_advantages = torch.as_tensor(advantages, dtype=torch.float32)
        targets = torch.as_tensor(returns, dtype=torch.float32)
        with torch.no_grad():
            old_log_prob = gaussian_log_prob(actions, *self.actor(observations, agent_ids.expand(steps, -1)))

        kl, clipped, decisions, epochs_run = 0.0, 0, 0, 0
        policy_losses, critic_losses = [], []
        stop = False
        for _ in range(config.epochs):
            epochs_run += 1
            order = torch.randperm(steps, generator=self.torch_rng)
            for begin in range(0, steps, config.minibatch_size):
                index = order[begin : begin + config.minibatch_size]
                batch = len(index)
                mean, log_std = self.actor(observations[index], agent_ids.expand(batch, -1))
                log_ratio = gaussian_log_prob(actions[index], mean, log_std) - old_log_prob[index]  # [b, N]
                ratio = torch.exp(log_ratio)
                advantage = step_advantages[index].unsqueeze(-1)  # every agent shares its step's advantage
                loss = clipped_surrogate_loss(ratio, advantage, config.clip_range)
                if config.entropy_coef:
                    entropy = (log_std + 0.5 * np.log(2 * np.pi * np.e)).sum(-1).mean()
                    loss = loss - config.entropy_coef * entropy
                self.actor_optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.actor.parameters(), config.max_grad_norm)
                self.actor_optimizer.step()

                critic_loss = ((self.critic(states[index]).squeeze(-1) - targets[index]) ** 2).mean()
                self.critic_optimizer.zero_grad()
                critic_loss.backward()
                self.critic_optimizer.step()

                with torch.no_grad():
                    kl = float(((ratio - 1.0) - log_ratio).mean())
                    clipped += int(((ratio - 1.0).abs() > config.clip_range).sum())
                decisions += ratio.numel()
                policy_losses.append(loss.item())
                critic_losses.append(critic_loss.item())
                if config.target_kl is not None and kl > config.target_kl:
                    stop = True
                    break
            if stop:
                break
        row = {"kl": kl, "clip_fraction": clipped / max(decisions, 1), "epochs": epochs_run,
               "critic_loss": float(np.mean(critic_losses))}  # fmt: skip
        return row, {"policy_loss": float(np.mean(policy_losses))}
