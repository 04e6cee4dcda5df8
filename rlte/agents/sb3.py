"""Stable-Baselines3 (and sb3-contrib) on-policy algorithms as rlte agents: PPO, A2C and TRPO on
``rlte/TE-v0``, as reference points for the seed papers' own methods.

Training checkpoints are exact: at the start of every rollout (every ``checkpoint_every`` steps) the
agent saves the policy and optimiser, every random state involved (torch, numpy's global state
that SB3's minibatch sampler uses, Python's, the environment's generator) and the environment's
episode state, so a run killed and resumed ends with the same policy as an uninterrupted one.
Checkpoints hold tensors and plain values only and load with ``torch.load(weights_only=True)``:
loading never executes code from the file.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from rlte.errors import RlteError

ALGORITHMS = ("PPO", "A2C", "TRPO")


@dataclass
class SB3Config:
    """Hyperparameters passed to the Stable-Baselines3 algorithm."""

    learning_rate: float = 3e-4
    """Adam step size (1e-3 diverged to NaN on Abilene's real week within 20k steps)."""
    n_steps: int = 256
    """Environment steps per rollout (and per update)."""
    batch_size: int = 64
    """Minibatch size (PPO only)."""
    n_epochs: int = 10
    """Passes over each rollout (PPO only)."""
    gamma: float = 0.9
    """Discount factor (routing rewards are nearly myopic)."""
    gae_lambda: float = 0.95
    """GAE parameter."""
    log_std_init: float = -1.0
    """Initial log standard deviation of the Gaussian policy."""
    net_arch: tuple[int, ...] = (128, 128)
    """Hidden layer sizes of the actor and the critic."""
    target_kl: float = 0.01
    """KL bound of a TRPO step (TRPO only)."""


def _config(params: dict, where: str) -> SB3Config:
    known = {f.name for f in fields(SB3Config)}
    for key in params:
        if key not in known:
            raise RlteError(f"{where}: unknown parameter {key!r} (known: {', '.join(sorted(known))})")
    values = dict(params)
    if "net_arch" in values:
        values["net_arch"] = tuple(int(x) for x in values["net_arch"])
    return SB3Config(**values)


def check_params(params: dict, where: str) -> None:
    """Validate parameters before a run starts."""
    _config(params, where)


class SB3Agent:
    """An SB3 on-policy algorithm on a single ``rlte/TE-v0`` environment.

    Args:
        algorithm: ``PPO``, ``A2C`` or ``TRPO`` (sb3-contrib).
        params: `SB3Config` fields.
        seed: seeds the algorithm (torch, numpy, Python) and the environment.
    """

    def __init__(self, algorithm: str, params: dict | None = None, seed: int = 0) -> None:
        if algorithm not in ALGORITHMS:
            raise RlteError(f"algorithm {algorithm!r}: unknown (choose from {', '.join(ALGORITHMS)})")
        self.algorithm, self.seed = algorithm, int(seed)
        self.config = _config(params or {}, f"sb3_{algorithm.lower()}")
        self.model = None

    def _build(self, env):
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
        return algorithm_class("MlpPolicy", env, **kwargs)

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint(self) -> dict:
        import torch

        model = self.model
        vec = model.get_env()
        monitor = vec.envs[0]
        env = monitor.unwrapped
        name, keys, position, has_gauss, cached = np.random.get_state()
        return {
            "num_timesteps": int(model.num_timesteps),
            "n_updates": int(getattr(model, "_n_updates", 0)),
            "policy": model.policy.state_dict(),
            "optimizer": model.policy.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": [
                name,
                torch.from_numpy(keys.astype(np.int64)),
                int(position),
                int(has_gauss),
                float(cached),
            ],
            "python_rng": random.getstate(),
            "env_rng": env.np_random.bit_generator.state,
            "env_state": {
                key: (torch.from_numpy(value) if isinstance(value, np.ndarray) else value)
                for key, value in env.core.get_state().items()
            },  # fmt: skip
            "monitor": {
                "rewards": [float(r) for r in monitor.rewards],
                "total_steps": int(monitor.total_steps),
            },
            "last_obs": torch.from_numpy(np.asarray(model._last_obs)),
            "last_episode_starts": torch.from_numpy(np.asarray(model._last_episode_starts)),
        }

    def _restore(self, state: dict) -> None:
        import torch

        model = self.model
        model.policy.load_state_dict(state["policy"])
        model.policy.optimizer.load_state_dict(state["optimizer"])
        model.num_timesteps = state["num_timesteps"]
        model._n_updates = state["n_updates"]
        torch.set_rng_state(state["torch_rng"])
        name, keys, position, has_gauss, cached = state["numpy_rng"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
        random.setstate(tuple(x if not isinstance(x, list) else tuple(x) for x in state["python_rng"]))
        vec = model.get_env()
        monitor = vec.envs[0]
        env = monitor.unwrapped
        env.core.set_state({key: (value.numpy() if isinstance(value, torch.Tensor) else value)
                            for key, value in state["env_state"].items()})  # fmt: skip
        env.np_random.bit_generator.state = state["env_rng"]
        monitor.rewards = list(state["monitor"]["rewards"])
        monitor.total_steps = state["monitor"]["total_steps"]
        monitor.needs_reset = False
        model._last_obs = state["last_obs"].numpy()
        model._last_episode_starts = state["last_episode_starts"].numpy()

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
        """Train for ``timesteps`` environment steps in all, resuming from ``checkpoint_path`` when
        it exists. Returns the number of steps trained in this call."""
        from stable_baselines3.common.callbacks import BaseCallback

        from rlte.agents.common.checkpoints import atomic_torch_save
        from rlte.agents.common.training import load_checkpoint

        env = make_env()
        self.model = self._build(env)
        checkpoint = Path(checkpoint_path) if checkpoint_path else None
        if tensorboard_dir is not None:
            from stable_baselines3.common.logger import configure

            self.model.set_logger(configure(str(tensorboard_dir), ["tensorboard"]))
        state = load_checkpoint(checkpoint)
        if state is not None:
            self.model.env.reset()  # initialise the vector env's buffers, then overwrite its state
            self._restore(state)
        already = int(self.model.num_timesteps)
        log_path = Path(learning_log) if learning_log else None
        agent = self

        class Checkpoints(BaseCallback):
            def __init__(self) -> None:
                super().__init__()
                self.last_saved = already

            def _on_rollout_start(self) -> None:
                steps = int(self.model.num_timesteps)
                if checkpoint is not None and steps - self.last_saved >= checkpoint_every:
                    atomic_torch_save(agent._checkpoint(), checkpoint)
                    self.last_saved = steps

            def _on_rollout_end(self) -> None:
                buffer = self.model.ep_info_buffer
                if log_path is not None and buffer:
                    new = not log_path.exists()
                    with open(log_path, "a", newline="") as handle:
                        writer = csv.writer(handle)
                        if new:
                            writer.writerow(["timesteps", "episode_reward_mean"])
                        writer.writerow(
                            [int(self.model.num_timesteps), float(np.mean([e["r"] for e in buffer]))]
                        )
                if on_progress is not None:
                    on_progress(int(self.model.num_timesteps))

            def _on_step(self) -> bool:
                return True

        remaining = max(0, int(timesteps) - already)
        if remaining:
            self.model.learn(
                total_timesteps=remaining, callback=Checkpoints(), reset_num_timesteps=already == 0
            )
        return remaining

    def act(self, observation: np.ndarray) -> np.ndarray:
        """The deterministic action (the policy's mean) for one observation."""
        if self.model is None:
            raise RlteError("agent: train() it first")
        action, _ = self.model.predict(observation, deterministic=True)
        return action

    def describe(self) -> dict:
        return {"algorithm": self.algorithm, "seed": self.seed, **asdict(self.config)}
