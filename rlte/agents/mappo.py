"""Multi-agent PPO (MAPPO) on ``rlte/TE-MA-v0``: seed 000's PPO baseline.

The networks are multi-agent TRPO's (`rlte.agents.trpo`), imported from there so the comparison
differs only in the policy step: ONE actor shared by every node agent (parameter sharing), an MLP
over the agent's local observation and a learned embedding of its node that outputs the mean of a
diagonal Gaussian over the agent's path logits, with a state-independent learned log standard
deviation; a centralised critic ``V(state())``. Every agent receives the shared network reward;
advantages come from GAE on it (a time-limit end bootstraps from the state it reached) and are
normalised per rollout, exactly as in TRPO.

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

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from rlte.agents.common import atomic_torch_save, gae, gaussian_log_prob
from rlte.agents.common.training import (
    EpisodeReturns,
    LearningLog,
    MultiAgentCheckpointing,
    parse_config,
    require,
    shared_shapes,
    stack_observations,
)
from rlte.agents.trpo import Rollout, SharedGaussianActor, _mlp
from rlte.errors import RlteError

LOG_COLUMNS = ("timesteps", "episode_reward_mean", "kl", "clip_fraction", "epochs", "critic_loss")


@dataclass
class PPOConfig:
    """Hyperparameters of multi-agent PPO (defaults shared with `rlte.agents.trpo.TRPOConfig` where
    the two have the same field)."""

    rollout_steps: int = 512
    """Environment steps per rollout (and per policy update); each step is one decision per agent."""
    gamma: float = 0.9
    """Discount factor (routing rewards are nearly myopic)."""
    lam: float = 0.95
    """GAE parameter."""
    clip_range: float = 0.2
    """The surrogate clips the probability ratio to [1 - clip_range, 1 + clip_range]."""
    epochs: int = 10
    """Passes over each rollout."""
    minibatch_size: int = 64
    """Steps per minibatch (each step holds every agent's decision)."""
    learning_rate: float = 3e-4
    """Adam step size of the actor."""
    entropy_coef: float = 0.0
    """Weight of the policy's entropy bonus."""
    max_grad_norm: float = 0.5
    """The actor's gradient is rescaled to at most this norm."""
    target_kl: float | None = None
    """Stop a rollout's epochs once a minibatch's approximate KL exceeds this (None: never)."""
    critic_learning_rate: float = 1e-3
    """Adam step size of the critic."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the shared actor."""
    critic_hidden_sizes: tuple[int, ...] = (128, 128)
    """Hidden layer sizes of the centralised critic."""
    node_embedding_size: int = 8
    """Size of the learned node embedding appended to each agent's observation."""
    log_std_init: float = -1.0
    """Initial log standard deviation of the Gaussian policy."""
    normalize_advantages: bool = True
    """Standardise advantages over each rollout."""


def _config(params: dict, where: str) -> PPOConfig:
    config = parse_config(PPOConfig, params, where)
    for name in ("rollout_steps", "epochs", "minibatch_size", "node_embedding_size"):
        require(getattr(config, name) >= 1, where, name, ">= 1")
    require(0.0 <= config.gamma <= 1.0, where, "gamma", "in [0, 1]")
    require(0.0 <= config.lam <= 1.0, where, "lam", "in [0, 1]")
    require(config.clip_range > 0, where, "clip_range", "> 0")
    require(config.learning_rate > 0, where, "learning_rate", "> 0")
    require(config.critic_learning_rate > 0, where, "critic_learning_rate", "> 0")
    require(config.entropy_coef >= 0, where, "entropy_coef", ">= 0")
    require(config.max_grad_norm > 0, where, "max_grad_norm", "> 0")
    require(config.target_kl is None or config.target_kl > 0, where, "target_kl", "> 0 or None")
    for name in ("hidden_sizes", "critic_hidden_sizes"):
        require(all(size >= 1 for size in getattr(config, name)), where, name, "positive sizes")
    return config


def check_params(params: dict, where: str) -> None:
    """Validate parameters before a run starts.

    Args:
        params: `PPOConfig` fields.
        where: names the run in error messages.

    Raises:
        RlteError: naming the first bad parameter.
    """
    _config(params, where)


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


class UpdateStats(NamedTuple):
    """What one policy update did."""

    kl: float
    """Mean approximate KL ``mean (rho - 1) - log rho`` of the last minibatch."""
    clip_fraction: float
    """Share of the decisions whose ratio was clipped, over all minibatches."""
    epochs: int
    """Epochs run (fewer than ``epochs`` when ``target_kl`` stopped them)."""
    policy_loss: float
    """Mean clipped-surrogate loss over the minibatches."""
    critic_loss: float
    """Mean squared error of the critic over the minibatches."""


class PPOAgent(MultiAgentCheckpointing):
    """Multi-agent PPO (TRPO's shared actor with node embeddings and centralised critic, clipped
    surrogate) on ``rlte/TE-MA-v0``.

    The reward learned from is the mean of the agents' rewards: the network's reward with
    ``reward_sharing="shared"``. Actions are sampled from the Gaussian and clipped to the action
    space before they reach the environment; the log-probabilities are those of the unclipped
    samples. Each agent's observation is its own (decentralised execution); only the critic reads
    ``state()``.

    Args:
        params: `PPOConfig` fields.
        seed: seeds the agent's torch and numpy generators (weights, action noise, minibatches)
            and, through them, the environment.
    """

    def __init__(self, params: dict | None = None, seed: int = 0) -> None:
        self.seed = int(seed)
        self.config = _config(params or {}, "ppo")
        self.actor: SharedGaussianActor | None = None
        self.agent_names: list[str] = []

    # ------------------------------------------------------------------ construction
    def _build(self, env) -> None:
        torch.set_num_threads(1)
        config = self.config
        shapes = shared_shapes(env, "ppo")
        self.agent_names = shapes.agent_names
        self.action_low = torch.as_tensor(shapes.action_space.low, dtype=torch.float32)
        self.action_high = torch.as_tensor(shapes.action_space.high, dtype=torch.float32)
        self.torch_rng = torch.Generator().manual_seed(self.seed)
        self.numpy_rng = np.random.default_rng(self.seed)
        self.actor = SharedGaussianActor(shapes.observation_size, int(np.prod(shapes.action_space.shape)),
                                         len(self.agent_names), config.hidden_sizes, config.node_embedding_size,
                                         config.log_std_init, self.torch_rng)  # fmt: skip
        self.critic = _mlp(
            [shapes.state_size, *config.critic_hidden_sizes, 1], self.torch_rng, output_gain=1.0
        )
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.learning_rate)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_learning_rate)
        self.num_timesteps = self.updates = 0
        self.episodes = EpisodeReturns()
        self.observations: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ acting
    def act_all(self, observations: dict) -> dict:
        """The deterministic joint action: each agent's Gaussian mean, clipped to its action space.

        Args:
            observations: agent name -> observation (any subset of the agents).

        Returns:
            agent name -> action (float32). Shapes [A].
        """
        if self.actor is None:
            raise RlteError("agent: train() it first")
        names = [a for a in observations if a in self.agent_names]
        unknown = set(observations) - set(names)
        if unknown:
            raise RlteError(f"ppo: unknown agents {sorted(unknown)}")
        ids = torch.tensor([self.agent_names.index(a) for a in names], dtype=torch.long)
        with torch.no_grad():
            mean, _ = self.actor(torch.as_tensor(stack_observations(observations, names)), ids)
        action = torch.clamp(mean, self.action_low, self.action_high).numpy()
        return {agent: action[i] for i, agent in enumerate(names)}

    # ------------------------------------------------------------------ rollouts
    def _collect(self, env) -> Rollout:
        names = self.agent_names
        ids = torch.arange(len(names))
        observations, actions, states, rewards, dones, starts = [], [], [], [], [], []
        truncated_states, truncated_steps = [], []
        for t in range(self.config.rollout_steps):
            obs = torch.as_tensor(stack_observations(self.observations, names))
            state = np.asarray(env.state(), dtype=np.float32).ravel()
            with torch.no_grad():
                mean, log_std = self.actor(obs, ids)
                action = mean + torch.exp(log_std) * torch.randn(mean.shape, generator=self.torch_rng)
            clipped = torch.clamp(action, self.action_low, self.action_high).numpy()
            next_obs, step_rewards, terminations, truncations, _ = env.step(
                {a: clipped[i] for i, a in enumerate(names)}
            )
            reward = float(np.mean([step_rewards[a] for a in names]))
            terminated, truncated = any(terminations.values()), any(truncations.values())
            observations.append(obs.numpy())
            actions.append(action.numpy())
            states.append(state)
            rewards.append(reward)
            dones.append(float(terminated or truncated))
            starts.append(self.episodes.start)
            self.episodes.add(reward, terminated or truncated)
            self.num_timesteps += 1
            if terminated or truncated:
                if truncated and not terminated:
                    truncated_states.append(np.asarray(env.state(), dtype=np.float32).ravel())
                    truncated_steps.append(t)
                next_obs, _ = env.reset()
            self.observations = {a: np.asarray(next_obs[a], dtype=np.float32) for a in names}
        state_size = len(states[0])
        return Rollout(
            np.stack(observations), np.stack(actions), np.stack(states), np.asarray(rewards), np.asarray(dones),
            np.asarray(truncated_states, dtype=np.float32).reshape(-1, state_size),
            np.asarray(truncated_steps, dtype=np.int64), np.asarray(starts, dtype=bool),
            np.asarray(env.state(), dtype=np.float32).ravel(),
        )  # fmt: skip

    # ------------------------------------------------------------------ update
    def _update(self, rollout: Rollout) -> UpdateStats:
        config = self.config
        steps, num_agents = rollout.actions.shape[:2]
        states = torch.as_tensor(rollout.states)
        with torch.no_grad():
            values = self.critic(states).squeeze(-1).double().numpy()
            last_value = float(self.critic(torch.as_tensor(rollout.last_state)).item())
            rewards = rollout.rewards.copy()
            if len(rollout.truncated_steps):
                # a time-limit end is not a terminal state: bootstrap from the state it reached
                final_values = (
                    self.critic(torch.as_tensor(rollout.truncated_states)).squeeze(-1).double().numpy()
                )
                rewards[rollout.truncated_steps] += config.gamma * final_values
        advantages, returns = gae(rewards, values, rollout.dones, last_value, config.gamma, config.lam)
        if config.normalize_advantages and steps > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

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
        self.updates += 1
        return UpdateStats(kl, clipped / max(decisions, 1), epochs_run, float(np.mean(policy_losses)),
                           float(np.mean(critic_losses)))  # fmt: skip

    # ------------------------------------------------------------------ checkpoints
    COUNTERS = {"timesteps": "num_timesteps", "updates": "updates"}

    def _stateful(self) -> dict:
        return {
            "actor": self.actor,
            "critic": self.critic,
            "actor_optimizer": self.actor_optimizer,
            "critic_optimizer": self.critic_optimizer,
        }

    # ------------------------------------------------------------------ training
    def train(
        self,
        make_env: Callable[[], object],
        timesteps: int,
        *,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int = 2_000,
        learning_log: str | os.PathLike | None = None,
        tensorboard_dir: str | os.PathLike | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> int:
        """Train for ``timesteps`` environment steps in all (one step = one joint action of all
        agents), resuming from ``checkpoint_path`` when it exists. Rollouts are whole, so training
        stops at the first multiple of ``rollout_steps`` at or past ``timesteps``.

        Args:
            make_env: builds the `rlte.envs.te_ma.NodeRoutingParallelEnv` to train on.
            timesteps: total environment steps.
            checkpoint_path: exact checkpoint, written at the start of a rollout once
                ``checkpoint_every`` steps have passed since the last, and at the end.
            checkpoint_every: steps between checkpoints.
            learning_log: CSV with columns `LOG_COLUMNS`, a row per update once an episode has
                ended; on (re)start, rows past the step training starts from are dropped.
            tensorboard_dir: write the same scalars (and the policy loss) for TensorBoard there.
            on_progress: called with the step count after every update.

        Returns:
            The number of steps trained in this call.
        """
        env, checkpoint = self._start(make_env, checkpoint_path)
        already = last_saved = self.num_timesteps
        log = LearningLog(learning_log, LOG_COLUMNS, tensorboard_dir, "ppo", already)
        try:
            while self.num_timesteps < int(timesteps):
                if checkpoint is not None and self.num_timesteps - last_saved >= checkpoint_every:
                    atomic_torch_save(self._checkpoint(env), checkpoint)
                    last_saved = self.num_timesteps
                stats = self._update(self._collect(env))
                row = {"timesteps": self.num_timesteps, "episode_reward_mean": self.episodes.mean(), "kl": stats.kl,
                       "clip_fraction": stats.clip_fraction, "epochs": stats.epochs,
                       "critic_loss": stats.critic_loss}  # fmt: skip
                log.write(row, {"policy_loss": stats.policy_loss})
                if on_progress is not None:
                    on_progress(self.num_timesteps)
            if checkpoint is not None and self.num_timesteps != last_saved:
                atomic_torch_save(self._checkpoint(env), checkpoint)
        finally:
            log.close()
        return self.num_timesteps - already

    def describe(self) -> dict:
        """The algorithm's name, the seed and every hyperparameter."""
        return {"algorithm": "MAPPO", "seed": self.seed, **asdict(self.config)}
