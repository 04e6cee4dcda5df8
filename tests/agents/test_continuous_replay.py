"""The continuous-action replay buffer: ring order, seeded sampling, exact resume through a
weights-only checkpoint, shape checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlte.agents.common.continuous_replay import ContinuousBatch, ContinuousReplayBuffer

AGENTS, OBSERVATION, ACTION = 3, 4, 2


def multi_agent_buffer(capacity: int = 10) -> ContinuousReplayBuffer:
    return ContinuousReplayBuffer(capacity, (AGENTS, OBSERVATION), (AGENTS, ACTION), reward_shape=(AGENTS,))


def fill(buffer: ContinuousReplayBuffer, count: int, start: int = 0) -> None:
    """Transition i holds the value i everywhere (terminated on every third)."""
    for i in range(start, start + count):
        buffer.add(
            np.full(buffer.observation_shape, i, dtype=np.float32),
            np.full(buffer.action_shape, i + 0.5),
            np.full(buffer.reward_shape, -i, dtype=np.float32),
            np.full(buffer.observation_shape, i + 1, dtype=np.float32),
            i % 3 == 0,
        )


def assert_same(a: ContinuousBatch, b: ContinuousBatch) -> None:
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_ring_overwrites_the_oldest_first():
    buffer = ContinuousReplayBuffer(3, (1,), (1,))
    fill(buffer, 2)
    assert len(buffer) == 2 and buffer.position == 2 and not buffer.full
    fill(buffer, 3, start=2)  # transitions 2, 3, 4: 3 and 4 overwrite 0 and 1
    assert len(buffer) == 3 and buffer.full and buffer.position == 2
    assert buffer.observations[:, 0].tolist() == [3, 4, 2]
    assert buffer.next_observations[:, 0].tolist() == [4, 5, 3]
    assert buffer.actions[:, 0].tolist() == [3.5, 4.5, 2.5]
    assert buffer.rewards.tolist() == [-3, -4, -2]
    assert buffer.terminated.tolist() == [1, 0, 0]
    batch = buffer.sample(200, np.random.default_rng(0))
    assert set(batch.observations[:, 0].tolist()) == {2.0, 3.0, 4.0}
    # every field of a sampled row comes from the same transition
    torch.testing.assert_close(batch.next_observations, batch.observations + 1)
    torch.testing.assert_close(batch.rewards, -batch.observations[:, 0])


def test_sampling_shapes_types_and_reproducibility():
    buffer = multi_agent_buffer()
    fill(buffer, 7)
    batch = buffer.sample(5, np.random.default_rng(42))
    assert isinstance(batch, ContinuousBatch)
    assert batch.observations.shape == batch.next_observations.shape == (5, AGENTS, OBSERVATION)
    assert batch.actions.shape == (5, AGENTS, ACTION)
    assert batch.rewards.shape == (5, AGENTS) and batch.terminated.shape == (5,)
    assert all(x.dtype == torch.float32 for x in batch)
    assert_same(batch, buffer.sample(5, np.random.default_rng(42)))
    assert not torch.equal(batch.observations, buffer.sample(5, np.random.default_rng(43)).observations)
    # a batch is a copy: later writes do not change it
    before = batch.observations.clone()
    fill(buffer, 10, start=100)
    assert torch.equal(batch.observations, before)


def test_single_agent_with_a_scalar_reward():
    buffer = ContinuousReplayBuffer(4, (OBSERVATION,), (ACTION,))
    buffer.add(np.zeros(OBSERVATION), np.ones(ACTION), 1.5, np.ones(OBSERVATION), True)
    batch = buffer.sample(2, np.random.default_rng(0))
    assert batch.observations.shape == (2, OBSERVATION) and batch.actions.shape == (2, ACTION)
    assert batch.rewards.tolist() == [1.5, 1.5] and batch.terminated.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("stored", [6, 25])  # part filled, and wrapped round the ring
def test_round_trip_through_a_weights_only_checkpoint_samples_identically(tmp_path, stored):
    original = multi_agent_buffer(capacity=10)
    fill(original, stored)
    rng = np.random.default_rng(7)
    original.sample(3, rng)  # the generator has moved on before the checkpoint
    path = tmp_path / "replay.pt"
    torch.save({"replay": original.state_dict(), "rng": rng.bit_generator.state}, path)

    state = torch.load(path, weights_only=True)
    restored = multi_agent_buffer(capacity=10)
    restored.load_state_dict(state["replay"])
    restored_rng = np.random.default_rng(0)
    restored_rng.bit_generator.state = state["rng"]
    assert (len(restored), restored.position) == (len(original), original.position)
    for _ in range(3):
        assert_same(original.sample(8, rng), restored.sample(8, restored_rng))
        # both go on the same way after more transitions
        fill(original, 4, start=1000)
        fill(restored, 4, start=1000)
    for name in ("observations", "actions", "rewards", "next_observations", "terminated"):
        assert np.array_equal(getattr(original, name), getattr(restored, name))


def test_bad_shapes_and_values_raise():
    buffer = multi_agent_buffer()
    good = {
        "observation": np.zeros((AGENTS, OBSERVATION)),
        "action": np.zeros((AGENTS, ACTION)),
        "reward": np.zeros(AGENTS),
        "next_observation": np.zeros((AGENTS, OBSERVATION)),
        "terminated": False,
    }
    for name, bad in [
        ("observation", np.zeros(AGENTS * OBSERVATION)),
        ("action", np.zeros((AGENTS, ACTION + 1))),
        ("reward", 0.0),
        ("next_observation", np.zeros((AGENTS + 1, OBSERVATION))),
    ]:
        with pytest.raises(ValueError, match="shape"):
            buffer.add(**{**good, name: bad})
    with pytest.raises(ValueError, match="not finite"):
        buffer.add(**{**good, "action": np.full((AGENTS, ACTION), np.nan)})
    assert len(buffer) == 0 and buffer.position == 0  # nothing half-stored
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(1, np.random.default_rng(0))
    buffer.add(**good)
    with pytest.raises(ValueError, match="batch size"):
        buffer.sample(0, np.random.default_rng(0))

    with pytest.raises(ValueError, match="capacity"):
        ContinuousReplayBuffer(0, (2,), (1,))
    with pytest.raises(ValueError, match="observation_shape"):
        ContinuousReplayBuffer(5, (), (1,))
    with pytest.raises(ValueError, match="action_shape"):
        ContinuousReplayBuffer(5, (2,), (0,))
    with pytest.raises(ValueError, match="reward_shape"):
        ContinuousReplayBuffer(5, (2,), (1,), reward_shape=(-1,))
    with pytest.raises(ValueError, match="observation_shape"):
        ContinuousReplayBuffer(5, 3, (1,))


def test_state_of_another_buffer_is_refused():
    buffer = multi_agent_buffer(capacity=10)
    fill(buffer, 3)
    state = buffer.state_dict()
    with pytest.raises(ValueError, match="capacity"):
        multi_agent_buffer(capacity=11).load_state_dict(state)
    with pytest.raises(ValueError, match="action_shape"):
        ContinuousReplayBuffer(10, (AGENTS, OBSERVATION), (AGENTS, ACTION + 1), (AGENTS,)).load_state_dict(
            state
        )
    with pytest.raises(ValueError, match="reward_shape"):
        ContinuousReplayBuffer(10, (AGENTS, OBSERVATION), (AGENTS, ACTION)).load_state_dict(state)
