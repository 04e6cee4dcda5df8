"""What rlte's on-policy multi-agent learners (`rlte.agents.trpo`, `rlte.agents.mappo`) share, so
their comparison differs only in the policy step.

ONE actor for every node agent of ``rlte/TE-MA-v0`` (parameter sharing): an MLP reads the agent's
local observation concatenated with a learned embedding of its node (so agents can still behave
differently) and outputs the mean of a diagonal Gaussian over the agent's path logits, with a
state-independent learned log standard deviation. A centralised critic ``V(state())`` reads the
global state. Every agent receives the shared network reward (the mean of the agents' rewards);
advantages come from GAE on it, a time-limit end bootstrapping from the state it reached, and are
normalised per rollout. Actions are sampled from the Gaussian and clipped to the action space before
they reach the environment; the log-probabilities are those of the unclipped samples.

`ActorCriticLearner` holds the networks, the rollout collection, the advantages and the checkpointed
training loop; a learner adds its policy step (`ActorCriticLearner._update`).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from rlte.agents.common.advantages import gae
from rlte.agents.common.configs import ActorCriticConfig
from rlte.agents.common.training import EpisodeReturns, MultiAgentLearner, shared_shapes, stack_observations
from rlte.errors import RlteError


def mlp(sizes: list[int], generator: torch.Generator, output_gain: float) -> nn.Sequential:
    """Tanh MLP with orthogonal initialisation drawn from ``generator`` (zero biases; the last
    layer's gain is ``output_gain``, the others' sqrt(2))."""
    layers: list[nn.Module] = []
    for i, (inputs, outputs) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(inputs, outputs)
        last = i == len(sizes) - 2
        nn.init.orthogonal_(linear.weight, gain=output_gain if last else math.sqrt(2), generator=generator)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if not last:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class SharedGaussianActor(nn.Module):
    """One policy for every node agent: ``mean = MLP([observation, embedding[node]])``, a learned
    state-independent ``log_std``.

    Args:
        observation_size: size of one agent's observation.
        action_size: size of one agent's action.
        num_agents: node agents (rows of the embedding).
        hidden_sizes: hidden layer sizes.
        embedding_size: size of the node embedding.
        log_std_init: initial log standard deviation.
        generator: draws the initial weights.
    """

    def __init__(self, observation_size: int, action_size: int, num_agents: int, hidden_sizes: tuple[int, ...],
                 embedding_size: int, log_std_init: float, generator: torch.Generator) -> None:  # fmt: skip
        super().__init__()
        self.embedding = nn.Embedding(num_agents, embedding_size)
        nn.init.normal_(self.embedding.weight, 0.0, 1.0, generator=generator)
        self.body = mlp(
            [observation_size + embedding_size, *hidden_sizes, action_size], generator, output_gain=0.01
        )
        self.log_std = nn.Parameter(torch.full((action_size,), float(log_std_init)))

    def forward(self, observations: Tensor, agent_ids: Tensor) -> tuple[Tensor, Tensor]:
        """The Gaussian of each decision.

        Args:
            observations: Shape [..., O].
            agent_ids: node index of each row. Shape [...].

        Returns:
            ``(mean, log_std)``. Shapes [..., A] and [..., A].
        """
        mean = self.body(torch.cat([observations, self.embedding(agent_ids)], dim=-1))
        return mean, self.log_std.expand_as(mean)


class Rollout(NamedTuple):
    """One rollout of T environment steps with N agents."""

    observations: np.ndarray
    """Each agent's observation. Shape [T, N, O]."""
    actions: np.ndarray
    """The sampled (unclipped) actions. Shape [T, N, A]."""
    states: np.ndarray
    """The global state before each step. Shape [T, S]."""
    rewards: np.ndarray
    """The shared reward (mean over agents). Shape [T]."""
    dones: np.ndarray
    """1 where the episode ended with step t. Shape [T]."""
    truncated_states: np.ndarray
    """The final state of each episode that ended by truncation in the rollout. Shape [M, S]."""
    truncated_steps: np.ndarray
    """The step index of each of those ends. Shape [M]."""
    episode_starts: np.ndarray
    """True where step t starts an episode. Shape [T]."""
    last_state: np.ndarray
    """The state after the rollout. Shape [S]."""
    signals: np.ndarray
    """What the learner's `ActorCriticLearner._signal` read before each step (TRPO: the latest
    demand vector, for ATRA). Shape [T, ...] (empty columns when unused)."""


class ActorCriticLearner(MultiAgentLearner):
    """A shared Gaussian actor and a centralised critic trained on ``rlte/TE-MA-v0`` from rollouts
    of ``config.rollout_steps`` steps.

    A subclass sets ``NAME`` (error messages, TensorBoard prefix), ``ALGORITHM`` (`describe`),
    ``LOG_COLUMNS`` (the learning log, first ``timesteps`` then ``episode_reward_mean``),
    ``COUNTERS`` and ``CONFIG`` (its config class, derived from
    `rlte.agents.common.configs.ActorCriticConfig`), adds its own optimisers or state in
    `_build_learner` and `_stateful`, and implements `_update`, one policy and critic update from a
    rollout that returns the log row and extra TensorBoard scalars.

    Args:
        params: config fields.
        seed: seeds the learner's torch and numpy generators (weights, action noise, minibatches)
            and, through them, the environment.
    """

    NAME = ALGORITHM = "actor-critic"
    CONFIG: type[ActorCriticConfig] = ActorCriticConfig

    def __init__(self, params: dict | None = None, seed: int = 0) -> None:
        self.seed = int(seed)
        self.config = self.CONFIG.parse(params or {}, self.NAME)
        self.actor: SharedGaussianActor | None = None
        self.agent_names: list[str] = []

    # ------------------------------------------------------------------ construction
    def _build(self, env) -> None:
        torch.set_num_threads(1)
        config = self.config
        shapes = shared_shapes(env, self.NAME)
        self.agent_names = shapes.agent_names
        self.action_low = torch.as_tensor(shapes.action_space.low, dtype=torch.float32)
        self.action_high = torch.as_tensor(shapes.action_space.high, dtype=torch.float32)
        self.torch_rng = torch.Generator().manual_seed(self.seed)
        self.numpy_rng = np.random.default_rng(self.seed)
        self.actor = SharedGaussianActor(shapes.observation_size, int(np.prod(shapes.action_space.shape)),
                                         len(self.agent_names), config.hidden_sizes, config.node_embedding_size,
                                         config.log_std_init, self.torch_rng)  # fmt: skip
        self.critic = mlp(
            [shapes.state_size, *config.critic_hidden_sizes, 1], self.torch_rng, output_gain=1.0
        )
        self.num_timesteps = self.updates = 0
        self.episodes = EpisodeReturns()
        self.observations: dict[str, np.ndarray] = {}
        self._build_learner()

    def _build_learner(self) -> None:
        """Create the learner's own optimisers and state (after the networks exist)."""

    # ------------------------------------------------------------------ acting
    def act(self, observations: dict) -> dict:
        """The deterministic joint action: each agent's Gaussian mean, clipped to its action space.

        Args:
            observations: agent name -> observation (any subset of the agents).

        Returns:
            agent name -> action (float32). Shapes [A].
        """
        if self.actor is None:
            raise RlteError("agent: train() it first")
        names = self._known_agents(observations)
        ids = torch.tensor([self.agent_names.index(a) for a in names], dtype=torch.long)
        with torch.no_grad():
            mean, _ = self.actor(torch.as_tensor(stack_observations(observations, names)), ids)
        action = torch.clamp(mean, self.action_low, self.action_high).numpy()
        return {agent: action[i] for i, agent in enumerate(names)}

    # ------------------------------------------------------------------ rollouts
    def _signal(self, env) -> np.ndarray:
        """What the learner records from the environment before each step (nothing by default)."""
        return np.zeros(0, dtype=np.float32)

    def _collect(self, env) -> Rollout:
        names = self.agent_names
        ids = torch.arange(len(names))
        observations, actions, states, rewards, dones, starts = [], [], [], [], [], []
        truncated_states, truncated_steps, signals = [], [], []
        for t in range(self.config.rollout_steps):
            obs = torch.as_tensor(stack_observations(self.observations, names))
            state = np.asarray(env.state(), dtype=np.float32).ravel()
            signals.append(self._signal(env))
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
            np.asarray(env.state(), dtype=np.float32).ravel(), np.stack(signals),
        )  # fmt: skip

    def _advantages(self, rollout: Rollout) -> tuple[np.ndarray, np.ndarray]:
        """GAE advantages (normalised when ``normalize_advantages``) and returns of a rollout, with
        the critic as it is. Shapes [T] and [T]."""
        config = self.config
        with torch.no_grad():
            values = self.critic(torch.as_tensor(rollout.states)).squeeze(-1).double().numpy()
            last_value = float(self.critic(torch.as_tensor(rollout.last_state)).item())
            rewards = rollout.rewards.copy()
            if len(rollout.truncated_steps):
                # a time-limit end is not a terminal state: bootstrap from the state it reached
                final_values = (
                    self.critic(torch.as_tensor(rollout.truncated_states)).squeeze(-1).double().numpy()
                )
                rewards[rollout.truncated_steps] += config.gamma * final_values
        advantages, returns = gae(rewards, values, rollout.dones, last_value, config.gamma, config.lam)
        if config.normalize_advantages and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        return advantages, returns

    def _update(self, rollout: Rollout) -> tuple[dict, dict]:
        """One update from a rollout. Returns the learning-log row (``LOG_COLUMNS`` but the first
        two) and extra TensorBoard scalars."""
        raise NotImplementedError

    def _block(self, env, timesteps: int) -> tuple[dict, dict]:
        """One rollout and its update (rollouts are whole: training stops at the first multiple of
        ``rollout_steps`` at or past ``timesteps``)."""
        row, extra = self._update(self._collect(env))
        self.updates += 1
        return row, extra

    def describe(self) -> dict:
        """The algorithm's name, the seed and every hyperparameter."""
        return {"algorithm": self.ALGORITHM, "seed": self.seed, **asdict(self.config)}
