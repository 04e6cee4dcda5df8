"""DDPG, deep deterministic policy gradient (Lillicrap et al. 2016), on a single-agent Gymnasium
environment with a bounded ``Box`` action space.

Acting, the replay buffer, the action scaling, the networks and the checkpoints are the off-policy
base's (`rlte.agents.common.off_policy`). Per gradient step, on a minibatch of transitions
``(s, a, r, s', term)``, one critic and one actor learn from

    ``y = r + gamma (1 - term) Q'(s', mu'(s'))``

    ``L_critic = mean (Q(s, a) - y)^2``,    ``L_actor = -mean Q(s, mu(s))``,

followed, every step, by the Polyak updates ``theta' <- (1 - tau) theta' + tau theta`` of both
target networks. A time-limit end is stored with ``term = 0`` and bootstraps; a terminal step does
not.

That is TD3's update (`rlte.agents.td3`) without its three additions: one critic instead of the
minimum of two, no target policy smoothing, no policy delay. So DDPG here *is* `TD3Agent` with
those settings (`DDPGAgent.settings`), and the same seed trains the same networks as a TD3 run
with ``n_critics=1, policy_delay=1, target_policy_noise=0`` (tests/agents/test_off_policy.py checks
it). As in Fujimoto et al.'s re-tuned DDPG and Stable-Baselines3, exploration is Gaussian rather
than Ornstein-Uhlenbeck, there is no critic weight decay, and the step sizes, ``tau`` and batch
size are TD3's.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlte.agents.common.off_policy import OffPolicyConfig
from rlte.agents.td3 import TD3Agent, TD3Settings


@dataclass
class DDPGConfig(OffPolicyConfig):
    """Hyperparameters of DDPG: the shared off-policy fields only (`OffPolicyConfig`)."""


class DDPGAgent(TD3Agent):
    """DDPG: TD3's update with one critic, no target smoothing and no delay (see the module
    docstring).

    Args:
        params: `DDPGConfig` fields.
        seed: seeds the learner's torch generator (weights) and numpy generator (warm-up actions,
            exploration noise, minibatches, the environment's first reset).
        actor_factory: builds the actor (`rlte.agents.common.off_policy.ActorFactory`; default MLP).
        critic_factory: builds the critic (`rlte.agents.common.off_policy.CriticFactory`; default MLP).
    """

    NAME, ALGORITHM = "ddpg", "DDPG"
    CONFIG = DDPGConfig

    def settings(self) -> TD3Settings:
        """One critic, an actor step (and target update) after every critic step, no smoothing."""
        return TD3Settings(n_critics=1, policy_delay=1, target_policy_noise=0.0, target_noise_clip=0.0)
