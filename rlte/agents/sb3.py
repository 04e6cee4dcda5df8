"""Stable-Baselines3 (and sb3-contrib) algorithms as rlte agents: PPO, A2C and TRPO on ``rlte/TE-v0``
(and PPO on ``rlte/Cluster-v0``), as reference points for the seed papers' own methods, and DQN
(`SB3DQN`, seed 003's comparison on the cluster env's discrete variant).

They train in rlte's checkpointed loop (`rlte.agents.common.training.CheckpointedLearner`): a
block is one SB3 rollout and its update (``learn`` for ``n_steps``, continuing the count; the
result equals one long ``learn``). Checkpoints are exact: at the start of a block (every
``checkpoint_every`` steps) the agent saves the policy and optimiser, every random state involved
(torch's, numpy's global state that SB3's minibatch sampler uses, Python's), the environment's
state through the rlte contract, the Monitor's episode in progress and the episode-reward buffer,
so a run killed and resumed ends with the same policy and the same learning log as an
uninterrupted one. Checkpoints hold tensors and plain values only and load with
``torch.load(weights_only=True)``: loading never executes code from the file.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from rlte.agents.common.configs import AgentConfig
from rlte.agents.common.training import CheckpointedLearner
from rlte.errors import RlteError
from rlte.options import option

ALGORITHMS = ("PPO", "A2C", "TRPO")


@dataclass
class SB3Config(AgentConfig):
    """Hyperparameters passed to the Stable-Baselines3 algorithm."""

    learning_rate: float = option(3e-4, gt=0.0)
    """Adam step size (1e-3 diverged to NaN on Abilene's real week within 20k steps)."""
    n_steps: int = option(256, ge=1)
    """Environment steps per rollout (and per update)."""
    batch_size: int = option(64, ge=1)
    """Minibatch size (PPO only)."""
    n_epochs: int = option(10, ge=1)
    """Passes over each rollout (PPO only)."""
    gamma: float = option(0.9, ge=0.0, le=1.0)
    """Discount factor (routing rewards are nearly myopic)."""
    gae_lambda: float = option(0.95, ge=0.0, le=1.0)
    """GAE parameter."""
    log_std_init: float = -1.0
    """Initial log standard deviation of the Gaussian policy."""
    net_arch: tuple[int, ...] = option((128, 128), ge=1)
    """Hidden layer sizes of the actor and the critic."""
    target_kl: float = option(0.01, gt=0.0)
    """KL bound of a TRPO step (TRPO only)."""


class _Episodes:
    """SB3's episode bookkeeping seen as rlte's `EpisodeReturns`: the mean return of the model's
    episode-info buffer, and a state holding that buffer and the Monitor's episode in progress."""

    def __init__(self, agent: SB3Agent) -> None:
        self.agent = agent

    def mean(self) -> float | None:
        buffer = self.agent.model.ep_info_buffer
        return float(np.mean([e["r"] for e in buffer])) if buffer else None

    def state_dict(self) -> dict:
        model = self.agent.model
        monitor = model.get_env().envs[0]
        return {
            # the Monitor's wall-clock "t" is not part of the run: a resumed buffer has t = 0
            "buffer": [[float(e["r"]), int(e["l"])] for e in model.ep_info_buffer or []],
            "buffer_size": int(model._stats_window_size),
            "episode_num": int(model._episode_num),
            "rewards": [float(r) for r in monitor.rewards],
            "total_steps": int(monitor.total_steps),
            "episode_returns": [float(r) for r in monitor.episode_returns],
            "episode_lengths": [int(n) for n in monitor.episode_lengths],
        }

    def load_state_dict(self, state: dict) -> None:
        model = self.agent.model
        monitor = model.get_env().envs[0]
        model.ep_info_buffer = deque(({"r": r, "l": n, "t": 0.0} for r, n in state["buffer"]),
                                     maxlen=int(state["buffer_size"]))  # fmt: skip
        if model.ep_success_buffer is None:  # unused here (no "is_success" infos), but SB3 wants one
            model.ep_success_buffer = deque(maxlen=int(state["buffer_size"]))
        model._episode_num = int(state["episode_num"])
        monitor.rewards = list(state["rewards"])
        monitor.total_steps = int(state["total_steps"])
        monitor.episode_returns = list(state["episode_returns"])
        monitor.episode_lengths = list(state["episode_lengths"])
        monitor.needs_reset = False


class SB3Agent(CheckpointedLearner):
    """An SB3 on-policy algorithm on a single ``rlte/TE-v0`` environment (`SB3PPO`, `SB3A2C`,
    `SB3TRPO` name the algorithm).

    Args:
        params: `SB3Config` fields.
        seed: seeds the algorithm (torch, numpy, Python) and the environment.
        algorithm: ``PPO``, ``A2C`` or ``TRPO`` (sb3-contrib); the subclass's by default.
    """

    ALGORITHM = "PPO"
    COUNTERS = {"timesteps": "num_timesteps", "updates": "n_updates"}

    def __init__(self, params: dict | None = None, seed: int = 0, algorithm: str | None = None) -> None:
        self.algorithm = algorithm or self.ALGORITHM
        if self.algorithm not in ALGORITHMS:
            raise RlteError(f"algorithm {self.algorithm!r}: unknown (choose from {', '.join(ALGORITHMS)})")
        self.NAME = f"sb3_{self.algorithm.lower()}"
        self.seed = int(seed)
        self.config = SB3Config.parse(params or {}, self.NAME)
        self.model = None

    # SB3 keeps the step and update counts on the model
    @property
    def num_timesteps(self) -> int:
        return int(self.model.num_timesteps) if self.model is not None else 0

    @num_timesteps.setter
    def num_timesteps(self, value: int) -> None:
        self.model.num_timesteps = int(value)

    @property
    def n_updates(self) -> int:
        return int(getattr(self.model, "_n_updates", 0))

    @n_updates.setter
    def n_updates(self, value: int) -> None:
        self.model._n_updates = int(value)

    def _build(self, env) -> None:
        import torch

        if self.algorithm == "TRPO":
            from sb3_contrib import TRPO as algorithm_class
        else:
            import stable_baselines3

            algorithm_class = getattr(stable_baselines3, self.algorithm)
        config = self.config
        kwargs = dict(learning_rate=config.learning_rate, n_steps=config.n_steps, gamma=config.gamma,
                      gae_lambda=config.gae_lambda, seed=self.seed, verbose=0, device="cpu",
                      policy_kwargs={"log_std_init": config.log_std_init, "net_arch": list(config.net_arch)})  # fmt: skip
        if self.algorithm == "PPO":
            kwargs.update(batch_size=config.batch_size, n_epochs=config.n_epochs)
        if self.algorithm == "TRPO":
            kwargs.update(batch_size=config.n_steps, target_kl=config.target_kl)
        torch.set_num_threads(1)
        self.model = algorithm_class("MlpPolicy", env, **kwargs)
        self.episodes = _Episodes(self)

    def _on_start(self, env, tensorboard_dir) -> None:
        if tensorboard_dir is not None:
            from stable_baselines3.common.logger import configure

            self.model.set_logger(configure(str(tensorboard_dir), ["tensorboard"]))

    def _first_reset(self, env) -> None:
        """SB3 resets (and seeds) the environment at the start of its first ``learn``."""

    def _prepare_restore(self, env) -> None:
        self.model.get_env().reset()  # fill the vector env's buffers; the restored state overrides them

    def _block(self, env, timesteps: int) -> tuple[dict, None]:
        """One rollout of ``n_steps`` and its update."""
        self.model.learn(total_timesteps=self.config.n_steps, reset_num_timesteps=self.num_timesteps == 0,
                         log_interval=1)  # fmt: skip
        return {}, None

    def _stateful(self) -> dict:
        return {"policy": self.model.policy, "optimizer": self.model.policy.optimizer}

    def _extra_state(self, env) -> dict:
        import torch

        name, keys, position, has_gauss, cached = np.random.get_state()
        model = self.model
        return {
            "torch_rng": torch.get_rng_state().numpy(),
            "numpy_rng": [name, keys.astype(np.int64), int(position), int(has_gauss), float(cached)],
            "python_rng": random.getstate(),
            "last_obs": np.asarray(model._last_obs),
            "last_episode_starts": np.asarray(model._last_episode_starts),
        }

    def _load_extra_state(self, state: dict, env) -> None:
        import torch

        torch.set_rng_state(torch.from_numpy(np.asarray(state["torch_rng"], dtype=np.uint8)))
        name, keys, position, has_gauss, cached = state["numpy_rng"]
        np.random.set_state((name, np.asarray(keys).astype(np.uint32), position, has_gauss, cached))
        random.setstate(_as_tuples(state["python_rng"]))
        self.model._last_obs = np.asarray(state["last_obs"])
        self.model._last_episode_starts = np.asarray(state["last_episode_starts"])

    def _identity_extra(self) -> dict:
        return {"algorithm": self.algorithm}

    def act(self, observation: np.ndarray) -> np.ndarray:
        """The deterministic action (the policy's mean) for one observation."""
        if self.model is None:
            raise RlteError("agent: train() it first")
        action, _ = self.model.predict(observation, deterministic=True)
        return action

    def describe(self) -> dict:
        return {"algorithm": self.algorithm, "seed": self.seed, **asdict(self.config)}


def _as_tuples(value):
    """Lists back to tuples (Python's random state is nested tuples; checkpoints store lists)."""
    return tuple(_as_tuples(x) for x in value) if isinstance(value, list | tuple) else value


@dataclass
class SB3DQNConfig(AgentConfig):
    """Hyperparameters passed to Stable-Baselines3's DQN."""

    learning_rate: float = option(5e-4, gt=0.0)
    """Adam step size."""
    buffer_size: int = option(50_000, ge=1)
    """Transitions the replay buffer keeps."""
    learning_starts: int = option(1_000, ge=0)
    """Steps of uniformly random actions before the first gradient step."""
    batch_size: int = option(64, ge=1)
    """Transitions per gradient step."""
    gamma: float = option(0.99, ge=0.0, le=1.0)
    """Discount factor."""
    train_freq: int = option(1, ge=1)
    """Environment steps between gradient phases."""
    gradient_steps: int = option(1, ge=1)
    """Gradient steps per phase."""
    target_update_interval: int = option(1_000, ge=1)
    """Environment steps between copies of the Q-network into the target network."""
    exploration_fraction: float = option(0.3, gt=0.0, le=1.0)
    """Share of the training steps over which epsilon falls (of the whole run, not of one block)."""
    exploration_initial_eps: float = option(1.0, ge=0.0, le=1.0)
    """Epsilon at the first step."""
    exploration_final_eps: float = option(0.05, ge=0.0, le=1.0)
    """Epsilon after the schedule."""
    max_grad_norm: float = option(10.0, gt=0.0)
    """Gradient norm clip."""
    net_arch: tuple[int, ...] = option((128, 128), ge=1)
    """Hidden layer sizes of the Q-network."""
    log_interval: int = option(1_000, ge=1)
    """Environment steps per block (a learning-log row, a point where checkpoints may be written)."""


class _ReplayState:
    """An SB3 replay buffer's arrays and position as a state dict (its filled part only)."""

    ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")

    def __init__(self, agent: SB3DQN) -> None:
        self.agent = agent

    def state_dict(self) -> dict:
        import torch

        buffer = self.agent.model.replay_buffer
        filled = buffer.buffer_size if buffer.full else buffer.pos
        state = {name: torch.from_numpy(getattr(buffer, name)[:filled].copy()) for name in self.ARRAYS}
        return {**state, "pos": int(buffer.pos), "full": bool(buffer.full)}

    def load_state_dict(self, state: dict) -> None:
        buffer = self.agent.model.replay_buffer
        for name in self.ARRAYS:
            values = state[name].numpy()
            getattr(buffer, name)[: len(values)] = values
        buffer.pos, buffer.full = int(state["pos"]), bool(state["full"])


class SB3DQN(SB3Agent):
    """Stable-Baselines3 DQN on a ``Discrete`` action space, in rlte's checkpointed loop.

    A block is ``log_interval`` steps (a multiple of ``train_freq``: a run of several blocks collects
    and trains exactly as one ``learn`` would, since SB3 alternates ``train_freq`` steps and a
    gradient phase). Two things SB3 computes per ``learn`` call are made the run's: the exploration
    schedule follows the run's step count over the ``timesteps`` ``train`` is given (SB3's follows
    the progress of each call, so it would restart every block), and the checkpoint holds the replay
    buffer, the step counter of the target-network copies, epsilon, the action space's generator
    (SB3 samples random actions from it) and every global generator SB3 draws from.

    Args:
        params: `SB3DQNConfig` fields.
        seed: seeds the algorithm (torch, numpy, Python, the action space) and the environment.
    """

    ALGORITHM = "DQN"
    LOG_COLUMNS = ("timesteps", "episode_reward_mean", "loss", "exploration_rate", "updates")

    def __init__(self, params: dict | None = None, seed: int = 0) -> None:
        self.algorithm = self.ALGORITHM
        self.NAME = "sb3_dqn"
        self.seed = int(seed)
        self.config = SB3DQNConfig.parse(params or {}, self.NAME)
        self.model = None
        self.planned = 1

    def _build(self, env) -> None:
        import torch

        config = self.config
        torch.set_num_threads(1)
        self.model = _dqn_class()(
            "MlpPolicy", env, learning_rate=config.learning_rate, buffer_size=config.buffer_size,
            learning_starts=config.learning_starts, batch_size=config.batch_size, gamma=config.gamma,
            train_freq=config.train_freq, gradient_steps=config.gradient_steps,
            target_update_interval=config.target_update_interval, exploration_fraction=config.exploration_fraction,
            exploration_initial_eps=config.exploration_initial_eps, exploration_final_eps=config.exploration_final_eps,
            max_grad_norm=config.max_grad_norm, policy_kwargs={"net_arch": list(config.net_arch)}, seed=self.seed,
            verbose=0, device="cpu",
        )  # fmt: skip
        self.model.exploration_schedule = self._exploration
        self.model.rlte_losses = []
        self.episodes = _Episodes(self)

    def _exploration(self, _progress_remaining: float) -> float:
        """Epsilon at the run's step count: linear from the initial to the final value over the first
        ``exploration_fraction`` of the run's planned steps, then constant."""
        config = self.config
        progress = min(self.model.num_timesteps / max(config.exploration_fraction * self.planned, 1.0), 1.0)
        return config.exploration_initial_eps + progress * (
            config.exploration_final_eps - config.exploration_initial_eps
        )

    def _block(self, env, timesteps: int) -> tuple[dict, None]:
        """``log_interval`` steps (fewer at the end, rounded up to ``train_freq``) of SB3's loop."""
        self.planned = int(timesteps)
        steps = min(self.config.log_interval, int(timesteps) - self.num_timesteps)
        steps = -(-steps // self.config.train_freq) * self.config.train_freq
        self.model.rlte_losses = []
        self.model.learn(
            total_timesteps=steps, reset_num_timesteps=self.num_timesteps == 0, log_interval=None
        )
        losses = self.model.rlte_losses
        return {"loss": float(np.mean(losses)) if losses else None,
                "exploration_rate": float(self.model.exploration_rate), "updates": self.n_updates}, None  # fmt: skip

    def _stateful(self) -> dict:
        return {
            "policy": self.model.policy,
            "optimizer": self.model.policy.optimizer,
            "replay": _ReplayState(self),
        }

    def _extra_state(self, env) -> dict:
        model = self.model
        return {**super()._extra_state(env), "n_calls": int(model._n_calls),
                "exploration_rate": float(model.exploration_rate),
                "action_space_rng": model.action_space.np_random.bit_generator.state}  # fmt: skip

    def _load_extra_state(self, state: dict, env) -> None:
        super()._load_extra_state(state, env)
        model = self.model
        model._n_calls = int(state["n_calls"])
        model.exploration_rate = float(state["exploration_rate"])
        rng_state = state["action_space_rng"]
        bit_generator = getattr(np.random, rng_state["bit_generator"])()
        bit_generator.state = rng_state
        model.action_space._np_random = np.random.Generator(bit_generator)


def _dqn_class():
    """SB3's DQN, keeping each gradient phase's mean loss for rlte's learning log."""
    global _DQN_CLASS
    if _DQN_CLASS is None:
        from stable_baselines3 import DQN

        class LoggedDQN(DQN):
            def train(self, gradient_steps: int, batch_size: int = 100) -> None:
                super().train(gradient_steps, batch_size)
                self.rlte_losses.append(float(self.logger.name_to_value["train/loss"]))

        _DQN_CLASS = LoggedDQN
    return _DQN_CLASS


_DQN_CLASS = None


class SB3PPO(SB3Agent):
    """Stable-Baselines3 PPO."""

    ALGORITHM = "PPO"


class SB3A2C(SB3Agent):
    """Stable-Baselines3 A2C."""

    ALGORITHM = "A2C"


class SB3TRPO(SB3Agent):
    """sb3-contrib TRPO."""

    ALGORITHM = "TRPO"
