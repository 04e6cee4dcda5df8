"""The checkpointing core of every rlte learner, single- or multi-agent, the Stable-Baselines3
wrapper included: exact snapshots of the environment through the rlte contract
(`rlte.envs.contract`), episode returns, checkpoint loading with one-line errors, the learning log
that a resumed run continues without repeating a row, and the checkpointed training loop
(`CheckpointedLearner`). Also the shapes a network shared by every agent needs.

Everything a checkpoint holds is tensors and plain values, so it loads with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import csv
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from gymnasium import spaces

from rlte.agents.common.checkpoints import atomic_torch_save
from rlte.envs.contract import env_state, restore_env_state
from rlte.errors import RlteError
from rlte.fileio import atomic_write_text


# ---------------------------------------------------------------------- the environment
class SharedShapes(NamedTuple):
    """What a network shared by every node agent of a ``ParallelEnv`` needs to know."""

    agent_names: list[str]
    """``possible_agents``, in order (row i of a batch is agent i; node embedding i)."""
    observation_size: int
    """Size of one agent's (flattened) observation."""
    action_space: spaces.Box
    """One agent's action space (all agents have the same shape)."""
    state_size: int
    """Size of the global ``state()``."""


def shared_shapes(env, where: str) -> SharedShapes:
    """Check that ``env`` is a ``ParallelEnv`` with ``state()`` whose agents all have the same
    observation and action shapes, and return those shapes.

    Args:
        env: the environment (``rlte/TE-MA-v0``).
        where: names the learner in error messages.

    Returns:
        `SharedShapes`.
    """
    if not hasattr(env, "state") or not hasattr(env, "possible_agents"):
        raise RlteError(f"{where}: needs a PettingZoo ParallelEnv with state() (rlte/TE-MA-v0)")
    names = list(env.possible_agents)
    observation_shape, action_space = env.observation_space(names[0]).shape, env.action_space(names[0])
    for agent in names:
        if (
            env.observation_space(agent).shape != observation_shape
            or env.action_space(agent).shape != action_space.shape
        ):
            raise RlteError(
                f"{where}: parameter sharing needs every agent to have the same observation and action shapes"
            )
    state_size = (
        int(np.prod(env.state_space.shape)) if hasattr(env, "state_space") else int(np.size(env.state()))
    )
    return SharedShapes(names, int(np.prod(observation_shape)), action_space, state_size)


def stack_observations(observations: dict, names: list[str]) -> np.ndarray:
    """The observations of ``names``, in that order, flattened. Shape [N, O], float32."""
    return np.stack([np.asarray(observations[a], dtype=np.float32).ravel() for a in names])


def to_checkpoint(value):
    """numpy arrays (at any depth of dicts, lists and tuples) as tensors, for ``torch.save``."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {key: to_checkpoint(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_checkpoint(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_checkpoint(value):
    """The inverse of `to_checkpoint`: tensors back to numpy arrays."""
    if isinstance(value, torch.Tensor):
        return value.numpy().copy()
    if isinstance(value, dict):
        return {key: from_checkpoint(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_checkpoint(item) for item in value]
    return value


def environment_snapshot(env) -> dict:
    """The environment's complete state through the rlte contract (`rlte.envs.contract`), as
    tensors and plain values."""
    return to_checkpoint(env_state(env))


def restore_environment(env, snapshot: dict) -> None:
    """Put ``env`` back where `environment_snapshot` was."""
    restore_env_state(env, from_checkpoint(snapshot))


class EpisodeReturns:
    """The running episode's return and the returns of the last 100 episodes."""

    def __init__(self) -> None:
        self.current = 0.0
        self.start = True
        self.finished: deque[float] = deque(maxlen=100)

    def add(self, reward: float, episode_over: bool) -> None:
        """Count a step's reward; ``episode_over`` closes the episode."""
        self.current += reward
        if episode_over:
            self.finished.append(self.current)
            self.current = 0.0
        self.start = episode_over

    def mean(self) -> float | None:
        """Mean return of the last 100 finished episodes (None before the first ends)."""
        return float(np.mean(self.finished)) if self.finished else None

    def state_dict(self) -> dict:
        return {"return": self.current, "start": self.start, "returns": list(self.finished)}

    def load_state_dict(self, state: dict) -> None:
        self.current, self.start = float(state["return"]), bool(state["start"])
        self.finished = deque((float(r) for r in state["returns"]), maxlen=100)


# ---------------------------------------------------------------------- files
def load_checkpoint(path: Path | None) -> dict | None:
    """The checkpoint at ``path`` (None when there is none).

    Raises:
        RlteError: one line, for a file that is not a checkpoint (torn, foreign, or holding
            objects other than tensors and plain values).
    """
    if path is None or not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
    except Exception as err:
        reason = "it holds objects other than tensors and plain values" if "weights_only" in str(err) else (
            f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else 'cannot be read'}")  # fmt: skip
        raise RlteError(f"{path}: unreadable checkpoint ({reason}); remove it to start afresh") from None
    if not isinstance(state, dict):
        raise RlteError(f"{path}: unreadable checkpoint (not a mapping); remove it to start afresh")
    return state


def check_same_run(state: dict, identity: dict, where: Path) -> None:
    """Refuse a checkpoint whose configuration, seed or agents differ from ``identity``."""
    if {key: state.get(key) for key in identity} != identity:
        raise RlteError(
            f"{where}: checkpoint of another configuration, seed or environment; remove it to start afresh"
        )


class LearningLog:
    """A CSV learning log with fixed columns and, optionally, the same scalars for TensorBoard.

    On (re)start, rows past the step training starts from (written by a run that was then killed)
    are dropped, so a resumed run's log equals an uninterrupted run's.

    Args:
        path: the CSV (None: no CSV).
        columns: its columns; the first is the step count.
        tensorboard_dir: where to write TensorBoard scalars (None: nowhere).
        prefix: TensorBoard tag prefix (the algorithm's name).
        timesteps: the step count training starts from.
    """

    def __init__(self, path: str | os.PathLike | None, columns: tuple[str, ...],
                 tensorboard_dir: str | os.PathLike | None, prefix: str, timesteps: int) -> None:  # fmt: skip
        self.path = Path(path) if path else None
        self.columns, self.prefix = columns, prefix
        if self.path is not None:
            cut_log(self.path, timesteps)
        self.writer = None
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(tensorboard_dir))

    def write(self, row: dict, extra: dict | None = None) -> None:
        """Append ``row`` (column -> value) to the CSV once its ``episode_reward_mean`` is known,
        and every value of ``row`` and ``extra`` that is not None to TensorBoard."""
        timesteps = row[self.columns[0]]
        if self.path is not None and row.get("episode_reward_mean") is not None:
            new = not self.path.exists()
            with open(self.path, "a", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                if new:
                    writer.writerow(self.columns)
                writer.writerow([row[column] for column in self.columns])
        if self.writer is not None:
            for name, value in {**row, **(extra or {})}.items():
                if name != self.columns[0] and value is not None:
                    self.writer.add_scalar(f"{self.prefix}/{name}", value, timesteps)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def plain_config(value):
    """Tuples as lists, so a config compares equal after a checkpoint round trip."""
    if isinstance(value, dict):
        return {key: plain_config(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_config(item) for item in value]
    return value


def cut_log(path: Path, timesteps: int) -> None:
    """Drop the learning-log rows past ``timesteps`` (written by a run that was then killed)."""
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    if not lines:
        return
    kept = [lines[0]] + [line for line in lines[1:] if line and int(line.split(",", 1)[0]) <= timesteps]
    if len(kept) < len(lines):
        atomic_write_text(path, "\n".join(kept) + "\n")


class CheckpointedLearner:
    """What every rlte learner shares: exact checkpoints (the run's identity, the learner's
    generators, the environment's state through the rlte contract, episode returns, the learner's
    own state-dict objects, counters and extra state) and the checkpointed, logged training loop.

    A learner sets ``config``, ``seed``, ``torch_rng``, ``numpy_rng`` (None when the learner keeps
    its generators elsewhere), ``episodes`` and ``num_timesteps`` in `_build`; names its counters
    in ``COUNTERS`` (checkpoint key -> attribute); returns its networks, optimisers and buffers
    from `_stateful`; adds anything else in `_extra_state` / `_load_extra_state`; and trains one
    block (a rollout and its update, or a number of steps) in `_block`. ``NAME`` prefixes its
    TensorBoard scalars; ``LOG_COLUMNS`` are its learning log's columns, first ``timesteps`` and
    ``episode_reward_mean``. `_start` builds the learner on a fresh environment, then resumes
    from the checkpoint or starts the first episode (`_first_reset`).
    """

    NAME = "learner"
    LOG_COLUMNS: tuple[str, ...] = ("timesteps", "episode_reward_mean")
    COUNTERS: dict[str, str] = {"timesteps": "num_timesteps"}
    torch_rng: torch.Generator | None = None
    numpy_rng: np.random.Generator | None = None

    def _build(self, env) -> None:
        raise NotImplementedError

    def _block(self, env, timesteps: int) -> tuple[dict, dict | None]:
        """Train one block without passing ``timesteps`` steps in all. Returns the learning-log
        row (``LOG_COLUMNS`` but the first two) and extra TensorBoard scalars (or None)."""
        raise NotImplementedError

    def _stateful(self) -> dict:
        """The learner's objects with ``state_dict`` / ``load_state_dict``."""
        raise NotImplementedError

    def _extra_state(self, env) -> dict:
        """Anything else a checkpoint must hold (tensors and plain values)."""
        return {}

    def _load_extra_state(self, state: dict, env) -> None:
        """Restore what `_extra_state` returned."""

    def _first_reset(self, env) -> None:
        """Start the first episode of a run that has no checkpoint."""
        raise NotImplementedError

    def _prepare_restore(self, env) -> None:
        """Before a checkpoint is restored: Gymnasium's wrappers want a reset before any step; the
        restored state overrides what it did."""
        env.reset(seed=0)

    def _on_start(self, env, tensorboard_dir) -> None:
        """Called once the learner is built and restored, before the first block."""

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
        """Train for ``timesteps`` environment steps in all (a step is one joint action of all
        agents), block by block, resuming from ``checkpoint_path`` when it exists.

        Args:
            make_env: builds the environment to train on.
            timesteps: total environment steps.
            checkpoint_path: exact checkpoint, written at the start of a block once
                ``checkpoint_every`` steps have passed since the last, and at the end.
            checkpoint_every: steps between checkpoints.
            learning_log: CSV with columns ``LOG_COLUMNS``, a row per block once an episode has
                ended; on (re)start, rows past the step training starts from are dropped.
            tensorboard_dir: write the same scalars (and a few more) for TensorBoard there.
            on_progress: called with the step count after every block.

        Returns:
            The number of steps trained in this call.
        """
        env, checkpoint = self._start(make_env, checkpoint_path)
        self._on_start(env, tensorboard_dir)
        already = last_saved = self.num_timesteps
        log = LearningLog(learning_log, self.LOG_COLUMNS, tensorboard_dir, self.NAME, already)
        try:
            while self.num_timesteps < int(timesteps):
                if checkpoint is not None and self.num_timesteps - last_saved >= checkpoint_every:
                    atomic_torch_save(self._checkpoint(env), checkpoint)
                    last_saved = self.num_timesteps
                row, extra = self._block(env, int(timesteps))
                log.write({"timesteps": self.num_timesteps, "episode_reward_mean": self.episodes.mean(), **row},
                          extra)  # fmt: skip
                if on_progress is not None:
                    on_progress(self.num_timesteps)
            if checkpoint is not None and self.num_timesteps != last_saved:
                atomic_torch_save(self._checkpoint(env), checkpoint)
        finally:
            log.close()
        return self.num_timesteps - already

    def _identity(self) -> dict:
        from dataclasses import asdict

        return {"config": plain_config(asdict(self.config)), "seed": self.seed, **self._identity_extra()}

    def _identity_extra(self) -> dict:
        """More of what makes a checkpoint this run's (the agents' names, the algorithm)."""
        return {}

    def _checkpoint(self, env) -> dict:
        state = {
            **self._identity(),
            "counters": {key: int(getattr(self, attribute)) for key, attribute in self.COUNTERS.items()},
            **{name: item.state_dict() for name, item in self._stateful().items()},
            "env": environment_snapshot(env),
            "episodes": self.episodes.state_dict(),
            "extra": to_checkpoint(self._extra_state(env)),
        }
        if self.torch_rng is not None:
            state["torch_rng"] = self.torch_rng.get_state()
        if self.numpy_rng is not None:
            state["numpy_rng"] = self.numpy_rng.bit_generator.state
        return state

    def _restore(self, state: dict, env, where: Path) -> None:
        check_same_run(state, self._identity(), where)
        try:
            for key, attribute in self.COUNTERS.items():
                setattr(self, attribute, int(state["counters"][key]))
            for name, item in self._stateful().items():
                item.load_state_dict(state[name])
            if self.torch_rng is not None:
                self.torch_rng.set_state(state["torch_rng"])
            if self.numpy_rng is not None:
                self.numpy_rng.bit_generator.state = state["numpy_rng"]
            restore_environment(env, state["env"])
            self.episodes.load_state_dict(state["episodes"])
            self._load_extra_state(from_checkpoint(state["extra"]), env)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise RlteError(
                f"{where}: unreadable checkpoint ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                "remove it to start afresh"
            ) from None

    def _start(self, make_env, checkpoint_path) -> tuple[object, Path | None]:
        """Build the learner on a new environment and resume from the checkpoint, if there is one,
        else start an episode. Returns the environment and the checkpoint path."""
        env = make_env()
        self._build(env)
        checkpoint = Path(checkpoint_path) if checkpoint_path else None
        state = load_checkpoint(checkpoint)
        if state is not None:
            self._prepare_restore(env)
            self._restore(state, env, checkpoint)
        else:
            self._first_reset(env)
        return env, checkpoint


class MultiAgentLearner(CheckpointedLearner):
    """A `CheckpointedLearner` over a PettingZoo ``ParallelEnv`` whose agents share one network:
    it also keeps ``agent_names`` (checked against a checkpoint's) and the current observations
    (saved in checkpoints), and starts its first episode from a seed drawn from ``numpy_rng``."""

    agent_names: list[str]

    def _identity_extra(self) -> dict:
        return {"agents": list(self.agent_names)}

    def _extra_state(self, env) -> dict:
        return {"observations": dict(self.observations)}

    def _load_extra_state(self, state: dict, env) -> None:
        self.observations = {agent: np.asarray(value) for agent, value in state["observations"].items()}

    def _first_reset(self, env) -> None:
        observations, _ = env.reset(seed=int(self.numpy_rng.integers(2**31 - 1)))
        self.observations = {a: np.asarray(observations[a], dtype=np.float32) for a in self.agent_names}

    def _known_agents(self, observations: dict) -> list[str]:
        """The agents of ``observations``, in its order; an unknown name is an error."""
        names = [a for a in observations if a in self.agent_names]
        unknown = set(observations) - set(names)
        if unknown:
            raise RlteError(f"{self.NAME}: unknown agents {sorted(unknown)}")
        return names
