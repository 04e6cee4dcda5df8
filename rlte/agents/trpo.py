"""Multi-agent TRPO with an adaptive trust region (seed 000) on ``rlte/TE-MA-v0``.

Centralised training, decentralised execution. The networks, rollouts, advantages, checkpoints
and training loop are `rlte.agents.common.actor_critic`'s (shared with `rlte.agents.mappo`): ONE
actor shared by every node agent (parameter sharing) reading the agent's local observation and a
learned embedding of its node, a diagonal Gaussian over the agent's path logits, a centralised
critic ``V(state())`` regressed on the GAE returns of the shared network reward.

The policy step (Schulman et al. 2015) maximises the importance-weighted surrogate
``L(theta) = mean_{t,i} [pi_theta(a_ti | o_ti, i) / pi_old(a_ti | o_ti, i) * A_t]`` over every
agent's decision in the rollout, subject to ``mean_{t,i} KL(pi_old || pi_theta) <= delta``: the
direction solves ``F x = grad L`` by conjugate gradient on Fisher-vector products, is scaled to the
KL bound, and a backtracking line search accepts the first fraction 1, 1/2, 1/4, ... within the
bound that improves ``L`` (else the policy is left unchanged and the step counted as rejected).

ATRA (adaptive trust region adjustment) sets ``delta`` from how much the traffic moved during the
rollout. The traffic change of a rollout is ``c = mean_t |d_t - d_{t-1}|_1 / |d_{t-1}|_1`` over
consecutive steps of one episode, ``d_t`` the latest demand vector observed before step t
(``latest_demands()`` of ``rlte/TE-MA-v0``). With
``r`` the bias-corrected exponential moving average (decay ``atra_beta``) of the changes of the
previous rollouts,

    ``delta = clip(delta_0 * ((c + eps) / (r + eps)) ** eta, delta_min, delta_max)``

(``delta_0`` = ``TRPOConfig.delta``, ``eps`` = ``atra_epsilon``, ``eta`` = ``atra_eta``; the first
rollout uses ``delta_0``), then ``c`` enters the average. Traffic moving more than it usually does
relaxes the bound, traffic steadier than usual tightens it, traffic at its usual pace gives
``delta_0``. ``atra=False`` keeps ``delta = delta_0`` (the ablation).

Training checkpoints are exact: the networks, the critic's optimiser, the trust region's state, the
agent's torch and numpy generators, the environment's generator and episode state and the current
observations, saved atomically at the start of a rollout; they hold tensors and plain values only
and load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rlte.agents.common import (
    conjugate_gradient,
    fisher_vector_product,
    flat_gradient,
    flat_parameters,
    gaussian_kl,
    gaussian_log_prob,
    line_search,
    set_flat_parameters,
)
from rlte.agents.common.actor_critic import ActorCriticLearner, Rollout
from rlte.agents.common.configs import ActorCriticConfig
from rlte.options import OptionError, option

LOG_COLUMNS = (
    "timesteps",
    "episode_reward_mean",
    "delta",
    "accepted_steps",
    "rejected_steps",
    "traffic_change",
    "kl",
)


@dataclass
class TRPOConfig(ActorCriticConfig):
    """Hyperparameters of multi-agent TRPO with ATRA (the shared ones in `ActorCriticConfig`)."""

    delta: float = option(0.01, gt=0.0)
    """KL bound of a policy step; with ATRA, its value when traffic changes at its usual pace."""
    delta_min: float = option(0.002, gt=0.0)
    """Smallest KL bound ATRA may set."""
    delta_max: float = option(0.05, gt=0.0)
    """Largest KL bound ATRA may set."""
    atra: bool = True
    """Adapt the KL bound to the traffic change (False: fixed ``delta``, the ablation)."""
    atra_eta: float = 1.0
    """Exponent of ATRA's rule: how strongly delta follows the change ratio."""
    atra_beta: float = option(0.9, ge=0.0, lt=1.0)
    """Decay of the moving average of past traffic changes (ATRA's reference)."""
    atra_epsilon: float = option(1e-3, gt=0.0)
    """Added to the change and its reference: relative changes far below it count as none."""
    cg_iterations: int = option(10, ge=1)
    """Conjugate-gradient steps per policy update."""
    cg_residual_tol: float = option(1e-10, gt=0.0)
    """Conjugate gradient stops when the squared residual norm is below this."""
    damping: float = option(0.1, ge=0.0)
    """Multiple of the identity added to the Fisher matrix."""
    line_search_steps: int = option(10, ge=1)
    """Step fractions (1, 1/2, 1/4, ...) the line search tries."""
    critic_epochs: int = option(5, ge=1)
    """Passes over each rollout when fitting the critic."""
    critic_minibatch_size: int = option(64, ge=1)
    """Steps per critic minibatch."""

    def check(self, where: str) -> None:
        if not self.delta_min <= self.delta <= self.delta_max:
            raise OptionError(
                f"{where}: delta {self.delta!r}: must lie within [delta_min, delta_max] = "
                f"[{self.delta_min!r}, {self.delta_max!r}]"
            )


# ---------------------------------------------------------------------- ATRA
def traffic_change(demands: np.ndarray, episode_starts: np.ndarray) -> float:
    """Mean relative L1 change of the demand vector between consecutive steps of one episode.

    ``c = mean_t |d_t - d_{t-1}|_1 / |d_{t-1}|_1`` over the steps t that do not start an episode
    (0 when there are none; a zero ``d_{t-1}`` counts as a change of 0, or 1 if ``d_t`` is not zero).

    Args:
        demands: the demand vector seen at each step. Shape [T, D].
        episode_starts: True where step t is the first of an episode. Shape [T].

    Returns:
        The mean relative change.
    """
    demands = np.asarray(demands, dtype=np.float64)
    if len(demands) < 2:
        return 0.0
    valid = ~np.asarray(episode_starts, dtype=bool)[1:]
    if not valid.any():
        return 0.0
    moved = np.abs(demands[1:] - demands[:-1]).sum(axis=1)
    before = np.abs(demands[:-1]).sum(axis=1)
    relative = np.where(before > 0, moved / np.where(before > 0, before, 1.0), (moved > 0).astype(np.float64))
    return float(relative[valid].mean())


class AdaptiveTrustRegion:
    """ATRA: the KL bound from the traffic change (rule in the module docstring).

    Args:
        config: ``delta``, ``delta_min``, ``delta_max``, ``atra`` and the ``atra_*`` fields.
    """

    def __init__(self, config: TRPOConfig) -> None:
        self.base, self.minimum, self.maximum = config.delta, config.delta_min, config.delta_max
        self.enabled, self.eta, self.beta, self.epsilon = (
            config.atra,
            config.atra_eta,
            config.atra_beta,
            config.atra_epsilon,
        )
        self.delta = float(config.delta)
        self.average = 0.0
        self.count = 0

    @property
    def reference(self) -> float | None:
        """The bias-corrected moving average of past changes (None before the first)."""
        return self.average / (1.0 - self.beta**self.count) if self.count else None

    def update(self, change: float) -> float:
        """Set delta for a rollout whose traffic change is ``change``, then fold it into the reference.

        Returns:
            The new delta.
        """
        reference = self.reference
        if self.enabled and reference is not None:
            ratio = (change + self.epsilon) / (reference + self.epsilon)
            self.delta = float(np.clip(self.base * ratio**self.eta, self.minimum, self.maximum))
        else:
            self.delta = float(self.base)
        self.average = self.beta * self.average + (1.0 - self.beta) * float(change)
        self.count += 1
        return self.delta

    def state_dict(self) -> dict:
        return {"delta": self.delta, "average": self.average, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.delta, self.average, self.count = (
            float(state["delta"]),
            float(state["average"]),
            int(state["count"]),
        )


# ---------------------------------------------------------------------- the agent
class TRPOAgent(ActorCriticLearner):
    """Multi-agent TRPO (shared actor with node embeddings, centralised critic, ATRA) on
    ``rlte/TE-MA-v0``; everything but the policy step (and ATRA) is
    `rlte.agents.common.actor_critic.ActorCriticLearner`'s.

    Args:
        params: `TRPOConfig` fields.
        seed: seeds the agent's torch and numpy generators (weights, action noise, critic
            minibatches) and, through them, the environment.
    """

    NAME, LOG_COLUMNS = "trpo", LOG_COLUMNS
    COUNTERS = {
        "timesteps": "num_timesteps",
        "updates": "updates",
        "accepted": "accepted_steps",
        "rejected": "rejected_steps",
    }
    CONFIG = TRPOConfig

    def _signal(self, env) -> np.ndarray:
        """ATRA's input: the latest demand vector ``rlte/TE-MA-v0`` observed (`latest_demands`)."""
        return np.asarray(env.latest_demands(), dtype=np.float32)

    def _build_learner(self) -> None:
        self.critic_optimizer = torch.optim.Adam(
            self.critic.parameters(), lr=self.config.critic_learning_rate
        )
        self.trust_region = AdaptiveTrustRegion(self.config)
        self.accepted_steps = self.rejected_steps = 0

    def _stateful(self) -> dict:
        return {
            "actor": self.actor,
            "critic": self.critic,
            "critic_optimizer": self.critic_optimizer,
            "trust_region": self.trust_region,
        }

    def describe(self) -> dict:
        return {**super().describe(), "algorithm": "TRPO-ATRA" if self.config.atra else "TRPO"}

    # ------------------------------------------------------------------ the policy step
    def _update(self, rollout: Rollout) -> tuple[dict, dict]:
        config = self.config
        steps, num_agents = rollout.actions.shape[:2]
        states = torch.as_tensor(rollout.states)
        advantages, returns = self._advantages(rollout)

        change = traffic_change(rollout.signals, rollout.episode_starts)
        delta = self.trust_region.update(change)

        # every agent's decision is one sample; they all share the step's advantage
        observations = torch.as_tensor(rollout.observations.reshape(steps * num_agents, -1))
        actions = torch.as_tensor(rollout.actions.reshape(steps * num_agents, -1))
        agent_ids = torch.arange(num_agents).repeat(steps)
        weights = torch.as_tensor(np.repeat(advantages, num_agents), dtype=torch.float32)
        actor = self.actor
        parameters = list(actor.parameters())
        with torch.no_grad():
            old_mean, old_log_std = actor(observations, agent_ids)
            old_log_prob = gaussian_log_prob(actions, old_mean, old_log_std)

        def surrogate(mean: Tensor, log_std: Tensor) -> Tensor:
            return (torch.exp(gaussian_log_prob(actions, mean, log_std) - old_log_prob) * weights).mean()

        objective = surrogate(*actor(observations, agent_ids))
        gradient = flat_gradient(objective, parameters)
        fvp = fisher_vector_product(lambda: actor(observations, agent_ids), parameters, config.damping)
        direction = conjugate_gradient(fvp, gradient, config.cg_iterations, config.cg_residual_tol)
        curvature = float(direction @ fvp(direction))
        old_parameters = flat_parameters(parameters)
        if curvature > 0 and math.isfinite(curvature):
            full_step = math.sqrt(2.0 * delta / curvature) * direction

            def evaluate(candidate: Tensor) -> tuple[float, float]:
                set_flat_parameters(parameters, candidate)
                with torch.no_grad():
                    mean, log_std = actor(observations, agent_ids)
                    kl = gaussian_kl(old_mean, old_log_std, mean, log_std).mean()
                    return float(surrogate(mean, log_std)), float(kl)

            result = line_search(evaluate, old_parameters, full_step, delta, max_backtracks=config.line_search_steps,
                                 old_surrogate=objective.item())  # fmt: skip
            set_flat_parameters(parameters, result.parameters)
            accepted, kl, improvement = result.accepted, result.kl, result.improvement
        else:
            accepted, kl, improvement = False, 0.0, 0.0
        self.accepted_steps += int(accepted)
        self.rejected_steps += int(not accepted)

        targets = torch.as_tensor(returns, dtype=torch.float32)
        losses = []
        for _ in range(config.critic_epochs):
            order = torch.randperm(steps, generator=self.torch_rng)
            for begin in range(0, steps, config.critic_minibatch_size):
                index = order[begin : begin + config.critic_minibatch_size]
                loss = ((self.critic(states[index]).squeeze(-1) - targets[index]) ** 2).mean()
                self.critic_optimizer.zero_grad()
                loss.backward()
                self.critic_optimizer.step()
                losses.append(loss.item())
        row = {"delta": delta, "accepted_steps": self.accepted_steps, "rejected_steps": self.rejected_steps,
               "traffic_change": change, "kl": kl}  # fmt: skip
        return row, {"critic_loss": float(np.mean(losses)) if losses else 0.0, "improvement": improvement}
