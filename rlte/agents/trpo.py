"""Multi-agent TRPO with an adaptive trust region (seed 000) on ``rlte/TE-MA-v0``.

Centralised training, decentralised execution. Every node agent acts with ONE shared actor
(parameter sharing): a small MLP reads the agent's local observation concatenated with a learned
embedding of its node (so agents can still behave differently) and outputs the mean of a diagonal
Gaussian over the agent's path logits, with a state-independent learned log standard deviation.
A centralised critic ``V(state())`` reads the global state and is regressed on returns. Every agent
receives the shared network reward; advantages come from GAE on it and are normalised per rollout.

The policy step (Schulman et al. 2015) maximises the importance-weighted surrogate
``L(theta) = mean_{t,i} [pi_theta(a_ti | o_ti, i) / pi_old(a_ti | o_ti, i) * A_t]`` over every
agent's decision in the rollout, subject to ``mean_{t,i} KL(pi_old || pi_theta) <= delta``: the
direction solves ``F x = grad L`` by conjugate gradient on Fisher-vector products, is scaled to the
KL bound, and a backtracking line search accepts the first fraction 1, 1/2, 1/4, ... within the
bound that improves ``L`` (else the policy is left unchanged and the step counted as rejected).

ATRA (adaptive trust region adjustment) sets ``delta`` from how much the traffic moved during the
rollout. The traffic change of a rollout is ``c = mean_t |d_t - d_{t-1}|_1 / |d_{t-1}|_1`` over
consecutive steps of one episode, ``d_t`` the latest demand vector in ``state()`` at step t. With
``r`` the bias-corrected exponential moving average (decay ``atra_beta``) of the changes of the
previous rollouts,

    ``delta = clip(delta_0 * ((c + eps) / (r + eps)) ** eta, delta_min, delta_max)``

(``delta_0`` = ``TRPOConfig.delta``, ``eps`` = ``atra_epsilon``, ``eta`` = ``atra_eta``; the first
rollout uses ``delta_0``), then ``c`` enters the average. Traffic moving more than it usually does
relaxes the bound, traffic steadier than usual tightens it, traffic at its usual pace gives
``delta_0``. ``atra=False`` keeps ``delta = delta_0`` (the ablation).

Training checkpoints are exact, as in `rlte.agents.sb3`: the networks, the critic's optimiser, the
trust region's state, the agent's torch and numpy generators, the environment's generator and
episode state and the current observations, saved atomically at the start of a rollout; they hold
tensors and plain values only and load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import csv
import math
import os
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from rlte.agents.common import (
    atomic_torch_save,
    conjugate_gradient,
    fisher_vector_product,
    flat_gradient,
    flat_parameters,
    gae,
    gaussian_kl,
    gaussian_log_prob,
    line_search,
    set_flat_parameters,
)
from rlte.agents.common.training import cut_log, load_checkpoint, plain_config
from rlte.errors import RlteError

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
class TRPOConfig:
    """Hyperparameters of multi-agent TRPO with ATRA."""

    rollout_steps: int = 512
    """Environment steps per rollout (and per policy update); each step is one decision per agent."""
    gamma: float = 0.9
    """Discount factor (routing rewards are nearly myopic)."""
    lam: float = 0.95
    """GAE parameter."""
    delta: float = 0.01
    """KL bound of a policy step; with ATRA, its value when traffic changes at its usual pace."""
    delta_min: float = 0.002
    """Smallest KL bound ATRA may set."""
    delta_max: float = 0.05
    """Largest KL bound ATRA may set."""
    atra: bool = True
    """Adapt the KL bound to the traffic change (False: fixed ``delta``, the ablation)."""
    atra_eta: float = 1.0
    """Exponent of ATRA's rule: how strongly delta follows the change ratio."""
    atra_beta: float = 0.9
    """Decay of the moving average of past traffic changes (ATRA's reference)."""
    atra_epsilon: float = 1e-3
    """Added to the change and its reference: relative changes far below it count as none."""
    cg_iterations: int = 10
    """Conjugate-gradient steps per policy update."""
    cg_residual_tol: float = 1e-10
    """Conjugate gradient stops when the squared residual norm is below this."""
    damping: float = 0.1
    """Multiple of the identity added to the Fisher matrix."""
    line_search_steps: int = 10
    """Step fractions (1, 1/2, 1/4, ...) the line search tries."""
    critic_learning_rate: float = 1e-3
    """Adam step size of the critic."""
    critic_epochs: int = 5
    """Passes over each rollout when fitting the critic."""
    critic_minibatch_size: int = 64
    """Steps per critic minibatch."""
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


def _config(params: dict, where: str) -> TRPOConfig:
    known = {f.name for f in fields(TRPOConfig)}
    for key in params:
        if key not in known:
            raise RlteError(f"{where}: unknown parameter {key!r} (known: {', '.join(sorted(known))})")
    values = dict(params)
    for key in ("hidden_sizes", "critic_hidden_sizes"):
        if key in values:
            values[key] = tuple(int(x) for x in values[key])
    config = TRPOConfig(**values)
    if not 0 < config.delta_min <= config.delta <= config.delta_max:
        raise RlteError(f"{where}: need 0 < delta_min <= delta <= delta_max")
    if config.rollout_steps < 1 or config.critic_minibatch_size < 1 or config.line_search_steps < 1:
        raise RlteError(f"{where}: rollout_steps, critic_minibatch_size and line_search_steps must be >= 1")
    return config


def check_params(params: dict, where: str) -> None:
    """Validate parameters before a run starts."""
    _config(params, where)


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


# ---------------------------------------------------------------------- networks
def _mlp(sizes: list[int], generator: torch.Generator, output_gain: float) -> nn.Sequential:
    """Tanh MLP with orthogonal initialisation drawn from ``generator``."""
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
        self.body = _mlp(
            [observation_size + embedding_size, *hidden_sizes, action_size], generator, output_gain=0.01
        )
        self.log_std = nn.Parameter(torch.full((action_size,), float(log_std_init)))

    def forward(self, observations: Tensor, agent_ids: Tensor) -> tuple[Tensor, Tensor]:
        """The Gaussian of each decision.

        Args:
            observations: Shape [B, O].
            agent_ids: node index of each row. Shape [B].

        Returns:
            ``(mean, log_std)``. Shapes [B, A] and [B, A].
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


class UpdateStats(NamedTuple):
    """What one policy update did."""

    delta: float
    """The KL bound used."""
    traffic_change: float
    """The rollout's traffic change (`traffic_change`)."""
    accepted: bool
    """Whether the line search accepted a step."""
    kl: float
    """Mean KL of the new policy from the old (0 when rejected)."""
    improvement: float
    """Surrogate gain (0 when rejected)."""
    critic_loss: float
    """Mean squared error of the critic over its minibatches."""


# ---------------------------------------------------------------------- the agent
class TRPOAgent:
    """Multi-agent TRPO (shared actor with node embeddings, centralised critic, ATRA) on
    ``rlte/TE-MA-v0``.

    The reward learned from is the mean of the agents' rewards: the network's reward with
    ``reward_sharing="shared"``. Actions are sampled from the Gaussian and clipped to the action
    space before they reach the environment; the log-probabilities are those of the unclipped
    samples. Each agent's observation is its own (decentralised execution); only the critic reads
    ``state()``.

    Args:
        params: `TRPOConfig` fields.
        seed: seeds the agent's torch and numpy generators (weights, action noise, critic
            minibatches) and, through them, the environment.
    """

    def __init__(self, params: dict | None = None, seed: int = 0) -> None:
        self.seed = int(seed)
        self.config = _config(params or {}, "trpo")
        self.actor: SharedGaussianActor | None = None
        self.agent_names: list[str] = []

    # ------------------------------------------------------------------ construction
    def _build(self, env) -> None:
        torch.set_num_threads(1)
        config = self.config
        if not hasattr(env, "state") or not hasattr(env, "possible_agents"):
            raise RlteError("trpo: needs a PettingZoo ParallelEnv with state() (rlte/TE-MA-v0)")
        self.agent_names = list(env.possible_agents)
        first = self.agent_names[0]
        observation_shape, action_space = env.observation_space(first).shape, env.action_space(first)
        for agent in self.agent_names:
            if (
                env.observation_space(agent).shape != observation_shape
                or env.action_space(agent).shape != action_space.shape
            ):
                raise RlteError(
                    "trpo: parameter sharing needs every agent to have the same observation and action shapes"
                )
        self.action_low = torch.as_tensor(action_space.low, dtype=torch.float32)
        self.action_high = torch.as_tensor(action_space.high, dtype=torch.float32)
        num_agents = len(self.agent_names)
        state_size = (
            int(np.prod(env.state_space.shape)) if hasattr(env, "state_space") else int(np.size(env.state()))
        )
        core = getattr(env, "core", None)
        self.num_demands = int(core.num_demands) if core is not None else num_agents * (num_agents - 1)
        self.torch_rng = torch.Generator().manual_seed(self.seed)
        self.numpy_rng = np.random.default_rng(self.seed)
        self.actor = SharedGaussianActor(int(np.prod(observation_shape)), int(np.prod(action_space.shape)), num_agents,
                                         config.hidden_sizes, config.node_embedding_size, config.log_std_init,
                                         self.torch_rng)  # fmt: skip
        self.critic = _mlp([state_size, *config.critic_hidden_sizes, 1], self.torch_rng, output_gain=1.0)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_learning_rate)
        self.trust_region = AdaptiveTrustRegion(config)
        self.num_timesteps = self.updates = self.accepted_steps = self.rejected_steps = 0
        self.episode_return = 0.0
        self.episode_returns: deque[float] = deque(maxlen=100)
        self.observations: dict[str, np.ndarray] = {}
        self.episode_start = True

    # ------------------------------------------------------------------ acting
    def _stack(self, observations: dict) -> Tensor:
        return torch.as_tensor(
            np.stack([np.asarray(observations[a], dtype=np.float32).ravel() for a in self.agent_names])
        )

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
            raise RlteError(f"trpo: unknown agents {sorted(unknown)}")
        ids = torch.tensor([self.agent_names.index(a) for a in names], dtype=torch.long)
        batch = torch.as_tensor(
            np.stack([np.asarray(observations[a], dtype=np.float32).ravel() for a in names])
        )
        with torch.no_grad():
            mean, _ = self.actor(batch, ids)
        action = torch.clamp(mean, self.action_low, self.action_high).numpy()
        return {agent: action[i] for i, agent in enumerate(names)}

    # ------------------------------------------------------------------ rollouts
    def _collect(self, env) -> Rollout:
        steps, names = self.config.rollout_steps, self.agent_names
        ids = torch.arange(len(names))
        observations, actions, states, rewards, dones, starts = [], [], [], [], [], []
        truncated_states, truncated_steps = [], []
        for t in range(steps):
            obs = self._stack(self.observations)
            state = np.asarray(env.state(), dtype=np.float32).ravel()
            with torch.no_grad():
                mean, log_std = self.actor(obs, ids)
                noise = torch.randn(mean.shape, generator=self.torch_rng)
                action = mean + torch.exp(log_std) * noise
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
            starts.append(self.episode_start)
            self.episode_return += reward
            self.num_timesteps += 1
            if terminated or truncated:
                if truncated and not terminated:
                    truncated_states.append(np.asarray(env.state(), dtype=np.float32).ravel())
                    truncated_steps.append(t)
                self.episode_returns.append(self.episode_return)
                self.episode_return = 0.0
                next_obs, _ = env.reset()
                self.episode_start = True
            else:
                self.episode_start = False
            self.observations = {a: np.asarray(next_obs[a], dtype=np.float32) for a in names}
        state_size = len(states[0])
        return Rollout(
            np.stack(observations), np.stack(actions), np.stack(states), np.asarray(rewards), np.asarray(dones),
            np.asarray(truncated_states, dtype=np.float32).reshape(-1, state_size), np.asarray(truncated_steps, dtype=np.int64),
            np.asarray(starts, dtype=bool), np.asarray(env.state(), dtype=np.float32).ravel(),
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

        change = traffic_change(rollout.states[:, -self.num_demands :], rollout.episode_starts)
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
        self.updates += 1
        return UpdateStats(
            delta, change, accepted, kl, improvement, float(np.mean(losses)) if losses else 0.0
        )

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint(self, env) -> dict:
        return {
            "config": plain_config(asdict(self.config)),
            "seed": self.seed,
            "agents": list(self.agent_names),
            "counters": {
                "timesteps": self.num_timesteps,
                "updates": self.updates,
                "accepted": self.accepted_steps,
                "rejected": self.rejected_steps,
            },  # fmt: skip
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "trust_region": self.trust_region.state_dict(),
            "torch_rng": self.torch_rng.get_state(),
            "numpy_rng": self.numpy_rng.bit_generator.state,
            "env_rng": env._rng.bit_generator.state,
            "env_state": {
                key: (torch.from_numpy(value) if isinstance(value, np.ndarray) else value)
                for key, value in env.core.get_state().items()
            },  # fmt: skip
            "observations": {agent: torch.from_numpy(value) for agent, value in self.observations.items()},
            "episode": {
                "return": self.episode_return,
                "start": self.episode_start,
                "returns": list(self.episode_returns),
            },
        }

    def _restore(self, state: dict, env, where: Path) -> None:
        same_run = (state.get("config"), state.get("seed"), state.get("agents")) == (
            plain_config(asdict(self.config)),
            self.seed,
            self.agent_names,
        )
        if not same_run:
            raise RlteError(
                f"{where}: checkpoint of another configuration, seed or environment; remove it to start afresh"
            )
        counters = state["counters"]
        self.num_timesteps, self.updates = int(counters["timesteps"]), int(counters["updates"])
        self.accepted_steps, self.rejected_steps = int(counters["accepted"]), int(counters["rejected"])
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.trust_region.load_state_dict(state["trust_region"])
        self.torch_rng.set_state(state["torch_rng"])
        self.numpy_rng.bit_generator.state = state["numpy_rng"]
        env.core.set_state({key: (value.numpy() if isinstance(value, torch.Tensor) else value)
                            for key, value in state["env_state"].items()})  # fmt: skip
        env._rng.bit_generator.state = state["env_rng"]
        self.observations = {agent: value.numpy().copy() for agent, value in state["observations"].items()}
        episode = state["episode"]
        self.episode_return, self.episode_start = float(episode["return"]), bool(episode["start"])
        self.episode_returns = deque((float(r) for r in episode["returns"]), maxlen=100)

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
            tensorboard_dir: write the same scalars for TensorBoard there.
            on_progress: called with the step count after every update.

        Returns:
            The number of steps trained in this call.
        """
        env = make_env()
        self._build(env)
        checkpoint = Path(checkpoint_path) if checkpoint_path else None
        state = load_checkpoint(checkpoint)
        if state is not None:
            env.reset(seed=0)  # fill the env's agent list, then overwrite its state
            self._restore(state, env, checkpoint)
        else:
            observations, _ = env.reset(seed=int(self.numpy_rng.integers(2**31 - 1)))
            self.observations = {a: np.asarray(observations[a], dtype=np.float32) for a in self.agent_names}
        already = self.num_timesteps
        log_path = Path(learning_log) if learning_log else None
        if log_path is not None:
            cut_log(log_path, already)
        writer = None
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(tensorboard_dir))
        last_saved = already
        try:
            while self.num_timesteps < int(timesteps):
                if checkpoint is not None and self.num_timesteps - last_saved >= checkpoint_every:
                    atomic_torch_save(self._checkpoint(env), checkpoint)
                    last_saved = self.num_timesteps
                stats = self._update(self._collect(env))
                self._log(stats, log_path, writer)
                if on_progress is not None:
                    on_progress(self.num_timesteps)
            if checkpoint is not None and self.num_timesteps != last_saved:
                atomic_torch_save(self._checkpoint(env), checkpoint)
        finally:
            if writer is not None:
                writer.close()
        return self.num_timesteps - already

    def _log(self, stats: UpdateStats, log_path: Path | None, writer) -> None:
        reward_mean = float(np.mean(self.episode_returns)) if self.episode_returns else None
        row = [self.num_timesteps, reward_mean, stats.delta, self.accepted_steps, self.rejected_steps,
               stats.traffic_change, stats.kl]  # fmt: skip
        if log_path is not None and reward_mean is not None:
            new = not log_path.exists()
            with open(log_path, "a", newline="") as handle:
                csv_writer = csv.writer(handle, lineterminator="\n")
                if new:
                    csv_writer.writerow(LOG_COLUMNS)
                csv_writer.writerow(row)
        if writer is not None:
            scalars = dict(
                zip(LOG_COLUMNS[1:], row[1:]), critic_loss=stats.critic_loss, improvement=stats.improvement
            )
            for name, value in scalars.items():
                if value is not None:
                    writer.add_scalar(f"trpo/{name}", value, self.num_timesteps)

    def describe(self) -> dict:
        return {
            "algorithm": "TRPO-ATRA" if self.config.atra else "TRPO",
            "seed": self.seed,
            **asdict(self.config),
        }


# ---------------------------------------------------------------------- files
