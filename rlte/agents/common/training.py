"""Plumbing of checkpointed training on ``rlte/TE-MA-v0`` shared by the multi-agent learners
(`rlte.agents.trpo`, `rlte.agents.mappo`, `rlte.agents.dqn`): hyperparameters from a dict with
errors that name the parameter, the shapes a shared (parameter-sharing) network needs, exact
snapshots of the environment, episode returns, checkpoint loading, the learning log and the
checkpointed training loop (`MultiAgentCheckpointing`).

Everything a checkpoint holds is tensors and plain values, so it loads with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import csv
import os
from collections import deque
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import torch
from gymnasium import spaces

from rlte.agents.common.checkpoints import atomic_torch_save
from rlte.errors import RlteError
from rlte.fileio import atomic_write_text

Config = TypeVar("Config")


# ---------------------------------------------------------------------- hyperparameters
def parse_config(cls: type[Config], params: dict, where: str) -> Config:
    """Build the dataclass ``cls`` from ``params``, checking names and types.

    Fields are typed ``int``, ``float``, ``bool``, ``tuple[int, ...]`` or ``float | None``: ints are
    taken for floats, lists for tuples, nothing else is converted.

    Args:
        cls: the config dataclass.
        params: field name -> value (a subset of the fields).
        where: names the run in error messages.

    Returns:
        The config.

    Raises:
        RlteError: for an unknown parameter or a value of the wrong type, naming the parameter.
    """
    known = {f.name: str(f.type) for f in fields(cls)}
    values = {}
    for name, value in params.items():
        if name not in known:
            raise RlteError(f"{where}: unknown parameter {name!r} (known: {', '.join(sorted(known))})")
        kind = known[name]
        optional = kind.endswith("| None")
        kind = kind.removesuffix("| None").strip()
        if value is None and optional:
            values[name] = None
        elif kind == "bool" and isinstance(value, bool | np.bool_):
            values[name] = bool(value)
        elif kind == "int" and isinstance(value, int | np.integer) and not isinstance(value, bool):
            values[name] = int(value)
        elif kind == "float" and isinstance(value, int | float | np.number) and not isinstance(value, bool):
            values[name] = float(value)
        elif (
            kind.startswith("tuple")
            and isinstance(value, list | tuple)
            and all(isinstance(x, int | np.integer) and not isinstance(x, bool) for x in value)
        ):
            values[name] = tuple(int(x) for x in value)
        else:
            raise RlteError(f"{where}: parameter {name!r} must be {known[name]}, got {value!r}")
    return cls(**values)


def require(condition: bool, where: str, name: str, what: str) -> None:
    """Raise `RlteError` ``"<where>: parameter <name> must be <what>"`` unless ``condition``."""
    if not condition:
        raise RlteError(f"{where}: parameter {name!r} must be {what}")


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
    num_demands: int
    """Demands of the network (the last ``num_demands`` entries of ``state()`` are the latest)."""


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
    core = getattr(env, "core", None)
    num_demands = int(core.num_demands) if core is not None else len(names) * (len(names) - 1)
    return SharedShapes(names, int(np.prod(observation_shape)), action_space, state_size, num_demands)


def stack_observations(observations: dict, names: list[str]) -> np.ndarray:
    """The observations of ``names``, in that order, flattened. Shape [N, O], float32."""
    return np.stack([np.asarray(observations[a], dtype=np.float32).ravel() for a in names])


def environment_snapshot(env) -> dict:
    """The environment's generator and episode state, as tensors and plain values."""
    return {
        "rng": env._rng.bit_generator.state,
        "core": {
            key: (torch.from_numpy(value) if isinstance(value, np.ndarray) else value)
            for key, value in env.core.get_state().items()
        },
    }


def restore_environment(env, snapshot: dict) -> None:
    """Put ``env`` (reset once, so its agent list is filled) back where `environment_snapshot` was."""
    env.core.set_state(
        {
            key: (value.numpy() if isinstance(value, torch.Tensor) else value)
            for key, value in snapshot["core"].items()
        }
    )
    env._rng.bit_generator.state = snapshot["rng"]


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
        RlteError: for a file that is not a checkpoint (torn or foreign).
    """
    if path is None or not path.exists():
        return None
    try:
        return torch.load(path, weights_only=True)
    except Exception as err:
        raise RlteError(f"{path}: unreadable checkpoint ({type(err).__name__}: {err})") from None


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


class MultiAgentCheckpointing:
    """What every multi-agent learner on ``rlte/TE-MA-v0`` shares: exact checkpoints (the run's
    identity, random states, environment snapshot, current observations and episode returns, plus
    the learner's own state-dict objects and counters) and the checkpointed, logged training loop.

    A learner sets ``config``, ``seed``, ``agent_names``, ``torch_rng``, ``numpy_rng``,
    ``observations``, ``episodes`` and ``num_timesteps``, names its counters in ``COUNTERS``
    (checkpoint key -> attribute), returns its networks, optimisers and buffers from `_stateful`,
    and trains one block (a rollout and its update, or a number of steps) in `_block`. ``NAME``
    prefixes its TensorBoard scalars; ``LOG_COLUMNS`` are its learning log's columns, first
    ``timesteps`` and ``episode_reward_mean``.
    """

    NAME = "learner"
    LOG_COLUMNS: tuple[str, ...] = ("timesteps", "episode_reward_mean")
    COUNTERS: dict[str, str] = {"timesteps": "num_timesteps"}

    def _known_agents(self, observations: dict) -> list[str]:
        """The agents of ``observations``, in its order; an unknown name is an error."""
        names = [a for a in observations if a in self.agent_names]
        unknown = set(observations) - set(names)
        if unknown:
            raise RlteError(f"{self.NAME}: unknown agents {sorted(unknown)}")
        return names

    def _block(self, env, timesteps: int) -> tuple[dict, dict | None]:
        """Train one block without passing ``timesteps`` steps in all. Returns the learning-log
        row (``LOG_COLUMNS`` but the first two) and extra TensorBoard scalars (or None)."""
        raise NotImplementedError

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
        agents), block by block, resuming from ``checkpoint_path`` when it exists.

        Args:
            make_env: builds the `rlte.envs.te_ma.NodeRoutingParallelEnv` to train on.
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

    def _stateful(self) -> dict:
        raise NotImplementedError

    def _identity(self) -> dict:
        from dataclasses import asdict

        return {
            "config": plain_config(asdict(self.config)),
            "seed": self.seed,
            "agents": list(self.agent_names),
        }

    def _checkpoint(self, env) -> dict:
        return {
            **self._identity(),
            "counters": {key: getattr(self, attribute) for key, attribute in self.COUNTERS.items()},
            **{name: item.state_dict() for name, item in self._stateful().items()},
            "torch_rng": self.torch_rng.get_state(),
            "numpy_rng": self.numpy_rng.bit_generator.state,
            "env": environment_snapshot(env),
            "observations": {agent: torch.from_numpy(value) for agent, value in self.observations.items()},
            "episodes": self.episodes.state_dict(),
        }

    def _restore(self, state: dict, env, where: Path) -> None:
        check_same_run(state, self._identity(), where)
        for key, attribute in self.COUNTERS.items():
            setattr(self, attribute, int(state["counters"][key]))
        for name, item in self._stateful().items():
            item.load_state_dict(state[name])
        self.torch_rng.set_state(state["torch_rng"])
        self.numpy_rng.bit_generator.state = state["numpy_rng"]
        restore_environment(env, state["env"])
        self.observations = {agent: value.numpy().copy() for agent, value in state["observations"].items()}
        self.episodes.load_state_dict(state["episodes"])

    def _start(self, make_env, checkpoint_path) -> tuple[object, Path | None]:
        """Build the learner on a new environment and resume from the checkpoint, if there is one,
        else start an episode. Returns the environment and the checkpoint path."""
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
        return env, checkpoint
