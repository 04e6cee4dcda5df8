"""What rlte's off-policy continuous-control learners (`rlte.agents.td3`, `rlte.agents.ddpg`) share:
a deterministic actor and Q-critics trained from a replay buffer on a single-agent Gymnasium
environment with a bounded ``Box`` action space.

Acting. The actor maps an observation to an action ``a`` in [-1, 1]^A (a tanh output); the
environment receives it scaled to its bounds,

    ``env_action = low + (a + 1) (high - low) / 2``.

For the first ``learning_starts`` steps the learner acts uniformly at random in [-1, 1]^A (warm-up);
afterwards it adds Gaussian noise of standard deviation ``exploration_noise`` to the actor's action
(in the network's range, so the noise is that fraction of half the action range in the
environment's units) and clips to [-1, 1]. Both draws come from the learner's numpy generator, and
the replay buffer keeps the action in the network's range.

Learning. Every ``train_frequency`` steps once more than ``learning_starts`` have passed, the
learner takes ``gradient_steps`` updates (`OffPolicyLearner._learn`, the algorithm's update rule),
each on ``batch_size`` transitions drawn uniformly from the last ``buffer_size``. Critic targets
bootstrap through `bootstrapped_target`; a time-limit end (``truncated``) is not a terminal state,
so its target bootstraps from the episode's last observation, while a terminal step's does not.
Target networks follow the online ones by Polyak averaging (`soft_update`, rate ``tau``).

Networks. An actor factory and a critic factory build the networks (``(observation_shape,
action_size, generator) -> nn.Module``), so an agent can bring its own (a recurrent or graph actor);
the defaults are tanh MLPs (`MLPActor`, `MLPCritic`, built with
`rlte.agents.common.actor_critic.mlp`). The learner checks the shapes they return once, on build.

Checkpoints are exact (`rlte.agents.common.training.CheckpointedLearner`): the networks and their
targets, both optimisers, the replay buffer (its filled part), the learner's torch and numpy
generators, the environment's state through the rlte contract, the episode returns and the current
observation, saved atomically at the start of a block (every ``log_interval`` steps) once
``checkpoint_every`` steps have passed. A run killed and resumed ends identical to an uninterrupted
one.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor, nn

from rlte.agents.common.actor_critic import mlp
from rlte.agents.common.configs import AgentConfig
from rlte.agents.common.continuous_replay import ContinuousBatch, ContinuousReplayBuffer
from rlte.agents.common.training import CheckpointedLearner, EpisodeReturns
from rlte.errors import RlteError
from rlte.options import option

ActorFactory = Callable[[tuple[int, ...], int, torch.Generator], nn.Module]
"""``(observation_shape, action_size, generator) -> actor``: the actor maps observations of shape
[B, *observation_shape] to actions in [-1, 1], shape [B, A]; its initial weights come from
``generator``."""
CriticFactory = Callable[[tuple[int, ...], int, torch.Generator], nn.Module]
"""``(observation_shape, action_size, generator) -> critic``: the critic maps observations
[B, *observation_shape] and actions in [-1, 1], [B, A], to Q-values, shape [B]."""


@dataclass
class OffPolicyConfig(AgentConfig):
    """What rlte's off-policy continuous-control learners share (TD3, DDPG)."""

    buffer_size: int = option(100_000, ge=1)
    """Transitions the replay buffer keeps (the oldest is overwritten first)."""
    learning_starts: int = option(1_000, ge=0)
    """Environment steps of uniformly random actions before the first gradient step."""
    batch_size: int = option(256, ge=1)
    """Transitions per gradient step (drawn uniformly, with replacement)."""
    gamma: float = option(0.99, ge=0.0, le=1.0)
    """Discount factor."""
    tau: float = option(0.005, gt=0.0, le=1.0)
    """Polyak rate of the target networks (1: copy the online networks)."""
    actor_learning_rate: float = option(1e-3, gt=0.0)
    """Adam step size of the actor."""
    critic_learning_rate: float = option(1e-3, gt=0.0)
    """Adam step size of the critics."""
    train_frequency: int = option(1, ge=1)
    """Environment steps between update phases."""
    gradient_steps: int = option(1, ge=1)
    """Gradient steps per update phase."""
    exploration_noise: float = option(0.1, ge=0.0)
    """Standard deviation of the Gaussian action noise, as a fraction of half the action range."""
    hidden_sizes: tuple[int, ...] = option((256, 256), ge=1)
    """Hidden layer sizes of the default (MLP) actor."""
    critic_hidden_sizes: tuple[int, ...] = option((256, 256), ge=1)
    """Hidden layer sizes of each default (MLP) critic."""
    log_interval: int = option(1_000, ge=1)
    """Environment steps between learning-log rows (and the points where checkpoints may be written)."""


# ---------------------------------------------------------------------- the default networks
class MLPActor(nn.Module):
    """``a = tanh(MLP(flatten(observation)))``, in [-1, 1]^A.

    Args:
        observation_shape: the shape of one observation.
        action_size: A.
        generator: draws the initial weights.
        hidden_sizes: hidden layer sizes.
    """

    def __init__(self, observation_shape: tuple[int, ...], action_size: int, generator: torch.Generator,
                 hidden_sizes: tuple[int, ...] = (256, 256)) -> None:  # fmt: skip
        super().__init__()
        self.body = mlp(
            [math.prod(observation_shape), *hidden_sizes, action_size], generator, output_gain=0.01
        )

    def forward(self, observations: Tensor) -> Tensor:
        """Shapes: [B, *observation_shape] -> [B, A]."""
        return torch.tanh(self.body(observations.flatten(1)))


class MLPCritic(nn.Module):
    """``Q(o, a) = MLP([flatten(o), a])``.

    Args:
        observation_shape: the shape of one observation.
        action_size: A.
        generator: draws the initial weights.
        hidden_sizes: hidden layer sizes.
    """

    def __init__(self, observation_shape: tuple[int, ...], action_size: int, generator: torch.Generator,
                 hidden_sizes: tuple[int, ...] = (256, 256)) -> None:  # fmt: skip
        super().__init__()
        self.body = mlp(
            [math.prod(observation_shape) + action_size, *hidden_sizes, 1], generator, output_gain=1.0
        )

    def forward(self, observations: Tensor, actions: Tensor) -> Tensor:
        """Shapes: [B, *observation_shape] and [B, A] -> [B]."""
        return self.body(torch.cat([observations.flatten(1), actions], dim=-1)).squeeze(-1)


# ---------------------------------------------------------------------- update pieces
def bootstrapped_target(rewards: Tensor, terminated: Tensor, next_values: Tensor, gamma: float) -> Tensor:
    """The one-step critic target ``y = r + gamma (1 - terminated) Q'(s', a')``: a terminal step
    does not bootstrap, a time-limit end (stored with ``terminated = 0``) does.

    Args:
        rewards: Shape [B].
        terminated: 1 for a terminal step, else 0. Shape [B].
        next_values: the target critic's value of the next observation. Shape [B].
        gamma: the discount factor.

    Returns:
        Shape [B].
    """
    return rewards + gamma * (1.0 - terminated) * next_values


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging ``theta' <- (1 - tau) theta' + tau theta`` of every parameter; buffers
    (running statistics, if any) are copied."""
    for target_parameter, parameter in zip(target.parameters(), source.parameters()):
        target_parameter.lerp_(parameter, tau)
    for target_buffer, buffer in zip(target.buffers(), source.buffers()):
        target_buffer.copy_(buffer)


def frozen_copy(network: nn.Module) -> nn.Module:
    """A copy of ``network`` that takes no gradients (a target network)."""
    target = copy.deepcopy(network)
    target.requires_grad_(False)
    return target


# ---------------------------------------------------------------------- the learner
class OffPolicyLearner(CheckpointedLearner):
    """A deterministic actor and ``n_critics`` Q-critics trained off-policy from a replay buffer on
    a single-agent Gymnasium environment with a bounded ``Box`` action space (see the module
    docstring for acting, scaling and exploration).

    A subclass sets ``NAME`` (error messages, TensorBoard prefix), ``ALGORITHM`` (`describe`,
    checkpoint identity) and ``CONFIG`` (its config class, derived from `OffPolicyConfig`), says
    how many critics it trains (`n_critics`), and implements `_learn`, one gradient step on a
    minibatch that returns the ``LOSS_COLUMNS`` of the learning log. The base holds the networks
    (``actor``, ``actor_target``, ``critics``, ``critic_targets``), their optimisers
    (``actor_optimizer``, one ``critic_optimizer`` over every critic), the buffer, the generators
    and the step and gradient-step counters.

    Args:
        params: config fields.
        seed: seeds the learner's torch generator (initial weights, the algorithm's own noise) and
            numpy generator (warm-up actions, exploration noise, minibatches and, through them, the
            environment's first reset).
        actor_factory: builds the actor (`ActorFactory`; default: `MLPActor` with ``hidden_sizes``).
        critic_factory: builds each critic (`CriticFactory`; default: `MLPCritic` with
            ``critic_hidden_sizes``).
    """

    NAME = ALGORITHM = "off-policy"
    CONFIG: type[OffPolicyConfig] = OffPolicyConfig
    LOSS_COLUMNS: tuple[str, ...] = ("critic_loss", "actor_loss", "q_mean")
    LOG_COLUMNS = ("timesteps", "episode_reward_mean", *LOSS_COLUMNS, "gradient_steps")
    COUNTERS = {"timesteps": "num_timesteps", "gradient_steps": "gradient_steps"}

    def __init__(
        self,
        params: dict | None = None,
        seed: int = 0,
        *,
        actor_factory: ActorFactory | None = None,
        critic_factory: CriticFactory | None = None,
    ) -> None:
        self.seed = int(seed)
        self.config = self.CONFIG.parse(params or {}, self.NAME)
        self.actor_factory = actor_factory or partial(MLPActor, hidden_sizes=self.config.hidden_sizes)
        self.critic_factory = critic_factory or partial(
            MLPCritic, hidden_sizes=self.config.critic_hidden_sizes
        )
        self.actor: nn.Module | None = None

    @property
    def n_critics(self) -> int:
        """Critics trained side by side (the algorithm's choice)."""
        return 1

    # ------------------------------------------------------------------ construction
    def _build(self, env) -> None:
        torch.set_num_threads(1)
        config = self.config
        action_space, observation_space = env.action_space, env.observation_space
        if not isinstance(action_space, spaces.Box) or not (
            np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()
        ):
            raise RlteError(f"{self.NAME}: needs a Box action space with finite bounds, got {action_space}")
        if getattr(observation_space, "shape", None) is None:
            raise RlteError(
                f"{self.NAME}: needs an observation space with a fixed shape, got {observation_space}"
            )
        self.observation_shape = tuple(int(size) for size in observation_space.shape)
        self.action_shape, self.action_dtype = action_space.shape, action_space.dtype
        self.action_low = action_space.low.astype(np.float64).ravel()
        self.action_high = action_space.high.astype(np.float64).ravel()
        action_size = len(self.action_low)
        self.torch_rng = torch.Generator().manual_seed(self.seed)
        self.numpy_rng = np.random.default_rng(self.seed)
        self.actor = self.actor_factory(self.observation_shape, action_size, self.torch_rng)
        self.critics = nn.ModuleList(
            [
                self.critic_factory(self.observation_shape, action_size, self.torch_rng)
                for _ in range(self.n_critics)
            ]
        )
        self._check_networks(action_size)
        self.actor_target = frozen_copy(self.actor)
        self.critic_targets = frozen_copy(self.critics)
        self.actor_optimizer = torch.optim.Adam(
            self.actor.parameters(), lr=config.actor_learning_rate, foreach=True
        )
        self.critic_optimizer = torch.optim.Adam(
            self.critics.parameters(), lr=config.critic_learning_rate, foreach=True
        )
        self.buffer = ContinuousReplayBuffer(config.buffer_size, self.observation_shape, (action_size,))
        self.num_timesteps = self.gradient_steps = 0
        self.episodes = EpisodeReturns()
        self.observation = np.zeros(self.observation_shape, dtype=np.float32)
        self.recent: list[dict] = []

    def _check_networks(self, action_size: int) -> None:
        """One forward pass of a batch of two zero observations through each network, to refuse a
        factory's network of the wrong output shape in one line."""
        observations = torch.zeros((2, *self.observation_shape))
        with torch.no_grad():
            actions = tuple(self.actor(observations).shape)
            values = tuple(self.critics[0](observations, torch.zeros(2, action_size)).shape)
        for network, shape, wanted in (("actor", actions, (2, action_size)), ("critic", values, (2,))):
            if shape != wanted:
                raise RlteError(
                    f"{self.NAME}: the {network} returns shape {shape} for a batch of 2, not {wanted}"
                )

    # ------------------------------------------------------------------ acting
    def _to_env(self, action: np.ndarray) -> np.ndarray:
        """An action in [-1, 1]^A scaled to the environment's bounds (and shape and dtype)."""
        low, high = self.action_low, self.action_high
        scaled = np.clip(low + (np.asarray(action, dtype=np.float64) + 1.0) * (high - low) / 2, low, high)
        return scaled.reshape(self.action_shape).astype(self.action_dtype)

    def _policy(self, observation: np.ndarray) -> np.ndarray:
        """The actor's action for one observation, in [-1, 1]^A."""
        with torch.no_grad():
            action = self.actor(torch.as_tensor(observation, dtype=torch.float32).unsqueeze(0))[0]
        return np.clip(action.numpy(), -1.0, 1.0)

    def act(self, observation: np.ndarray) -> np.ndarray:
        """The deterministic action (the actor's, no noise) for one observation, in the
        environment's bounds.

        Args:
            observation: Shape the observation space's.

        Returns:
            Shape and dtype the action space's.
        """
        if self.actor is None:
            raise RlteError("agent: train() it first")
        return self._to_env(self._policy(np.asarray(observation, dtype=np.float32)))

    def _explore(self) -> np.ndarray:
        """The action to take now, in [-1, 1]^A: uniform during the warm-up, else the actor's plus
        Gaussian noise, clipped."""
        config, size = self.config, len(self.action_low)
        if self.num_timesteps < config.learning_starts:
            action = self.numpy_rng.uniform(-1.0, 1.0, size)
        else:
            action = self._policy(self.observation) + self.numpy_rng.normal(
                0.0, config.exploration_noise, size
            )
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    # ------------------------------------------------------------------ learning
    def _learn(self, batch: ContinuousBatch) -> dict:
        """One gradient step on a minibatch (``gradient_steps`` already counts it). Returns the
        ``LOSS_COLUMNS`` values of the step (None for a loss it did not compute)."""
        raise NotImplementedError

    def _step(self, env) -> None:
        """One environment step: act, store the transition, update when due."""
        config = self.config
        action = self._explore()
        next_observation, reward, terminated, truncated, _ = env.step(self._to_env(action))
        next_observation = np.asarray(next_observation, dtype=np.float32)
        # only a terminal state stops the bootstrap; a time limit's last observation is kept for it
        self.buffer.add(self.observation, action, float(reward), next_observation, bool(terminated))
        self.episodes.add(float(reward), bool(terminated or truncated))
        if terminated or truncated:
            next_observation, _ = env.reset()
        self.observation = np.asarray(next_observation, dtype=np.float32)
        self.num_timesteps += 1
        if self.num_timesteps > config.learning_starts and self.num_timesteps % config.train_frequency == 0:
            for _ in range(config.gradient_steps):
                self.gradient_steps += 1
                self.recent.append(self._learn(self.buffer.sample(config.batch_size, self.numpy_rng)))

    def _block(self, env, timesteps: int) -> tuple[dict, None]:
        """``log_interval`` steps (fewer if ``timesteps`` comes first); the row has the mean of
        each loss over the block's gradient steps (empty where there were none)."""
        self.recent = []
        block_end = min(timesteps, self.num_timesteps + self.config.log_interval)
        while self.num_timesteps < block_end:
            self._step(env)
        row: dict = {}
        for column in self.LOSS_COLUMNS:
            values = [stats[column] for stats in self.recent if stats.get(column) is not None]
            row[column] = float(np.mean(values)) if values else None
        return {**row, "gradient_steps": self.gradient_steps}, None

    # ------------------------------------------------------------------ checkpoints
    def _first_reset(self, env) -> None:
        observation, _ = env.reset(seed=int(self.numpy_rng.integers(2**31 - 1)))
        self.observation = np.asarray(observation, dtype=np.float32)

    def _stateful(self) -> dict:
        return {
            "actor": self.actor,
            "actor_target": self.actor_target,
            "critics": self.critics,
            "critic_targets": self.critic_targets,
            "actor_optimizer": self.actor_optimizer,
            "critic_optimizer": self.critic_optimizer,
            "buffer": self.buffer,
        }

    def _extra_state(self, env) -> dict:
        return {"observation": self.observation}

    def _load_extra_state(self, state: dict, env) -> None:
        self.observation = np.asarray(state["observation"], dtype=np.float32)

    def _identity_extra(self) -> dict:
        # a checkpoint of another algorithm or other networks is another run's, not a torn file
        return {"algorithm": self.ALGORITHM,
                "networks": [type(self.actor).__name__, type(self.critics[0]).__name__]}  # fmt: skip

    def describe(self) -> dict:
        """The algorithm's name, the seed and every hyperparameter."""
        return {"algorithm": self.ALGORITHM, "seed": self.seed, **asdict(self.config)}
