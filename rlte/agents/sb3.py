"""Stable-Baselines3 (and sb3-contrib) on-policy algorithms as rlte agents: PPO, A2C and TRPO on
``rlte/TE-v0``, as reference points for the seed papers' own methods.

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


class SB3PPO(SB3Agent):
    """Stable-Baselines3 PPO."""

    ALGORITHM = "PPO"


class SB3A2C(SB3Agent):
    """Stable-Baselines3 A2C."""

    ALGORITHM = "A2C"


class SB3TRPO(SB3Agent):
    """sb3-contrib TRPO."""

    ALGORITHM = "TRPO"
