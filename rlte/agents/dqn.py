"""Multi-agent DQN over the discrete path choice on ``rlte/TE-MA-v0``: seed 000's DQN baseline.

Each node agent picks ONE of the k candidate paths for each of its N - 1 demands. One Q-network is
shared by every agent (parameter sharing): an MLP over the agent's local observation and a learned
embedding of its node, as TRPO's actor (`rlte.agents.trpo.SharedGaussianActor`), with a factored
("branching") head of one Q-value per demand and path slot, ``Q(o_i, i)[j, k]``, shape [N - 1, K].
The value of an agent's joint choice ``a_i = (a_i1, ..., a_i,N-1)`` is the mean over its demands,
``Q_i(o_i, a_i) = mean_j Q(o_i, i)[j, a_ij]``, so the greedy joint choice is the per-demand argmax
over the demand's valid slots (``env.path_mask(agent)``; an invalid slot is never chosen, greedily or at
random).

The target is per demand (Double DQN, Huber loss, every agent learns from the shared reward
``r_t``, the mean of the agents' rewards):

    ``y_tij = r_t + gamma (1 - term_t) Q_target(o'_ti, i)[j, argmax_{k valid} Q(o'_ti, i)[j, k]]``

    ``L = mean_{t,i,j} huber(Q(o_ti, i)[j, a_tij] - y_tij)``

over a minibatch of transitions t from the replay buffer, agents i and their demands j (with
``double_q=False`` the target network also picks the slot: ``max_k Q_target``). The mean of an
agent's per-demand targets is the agent-level Double-DQN target
``r_t + gamma Q_target,i(o'_ti, greedy joint choice)``, so the factored values stay consistent
with ``Q_i``. A time-limit end is not terminal (``term_t = 0``): the
target bootstraps from the episode's last observation. The target network is copied from the
online one every ``target_update_interval`` environment steps.

Exploration is epsilon-greedy per demand: each demand of each agent takes a uniformly random valid
slot with probability ``epsilon``, which falls linearly from ``epsilon_start`` to ``epsilon_end``
over the first ``exploration_steps`` steps.

A choice reaches the environment as logits: the action space's upper bound (+1) in the chosen slot,
its lower bound (-1) in the others. The environment multiplies logits by ``logit_scale`` and takes a
softmax over the demand's valid slots, so the chosen path carries
``1 / (1 + (V - 1) exp(-2 logit_scale))`` of the demand, V its valid slots: with the default
``logit_scale`` 3, 99.75 % for V = 2 and 99.26 % for V = 4 (`chosen_share`). The action stays in
the action space, so DQN's actions are a subset of those TRPO and PPO can take on the same
environment; 99.9 % with V = 4 would need logits of +-1.33, outside it.

Training checkpoints are exact: networks, optimiser, the replay buffer (its filled part: with N
agents and O-sized observations, ``2 * buffer_size * N * O * 4`` bytes, 115 MB at the default size on
Abilene), the agent's generators, the environment's generator and episode state and the current
observations, saved atomically every ``log_interval`` steps once ``checkpoint_every`` have passed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from rlte.agents.common.actor_critic import mlp as _mlp
from rlte.agents.common.configs import AgentConfig
from rlte.agents.common.replay import ReplayBatch, ReplayBuffer
from rlte.agents.common.training import EpisodeReturns, MultiAgentLearner, shared_shapes, stack_observations
from rlte.errors import RlteError
from rlte.options import option

LOG_COLUMNS = ("timesteps", "episode_reward_mean", "epsilon", "loss", "q_mean", "gradient_steps")


@dataclass
class DQNConfig(AgentConfig):
    """Hyperparameters of multi-agent DQN with a factored (per-demand) head."""

    buffer_size: int = option(20_000, ge=1)
    """Transitions (joint steps of every agent) the replay buffer keeps."""
    learning_starts: int = option(1_000, ge=0)
    """Environment steps before the first gradient step."""
    batch_size: int = option(64, ge=1)
    """Transitions per gradient step (each holds every agent's decision)."""
    learning_rate: float = option(5e-4, gt=0.0)
    """Adam step size."""
    gamma: float = option(0.9, ge=0.0, le=1.0)
    """Discount factor (routing rewards are nearly myopic)."""
    train_frequency: int = option(4, ge=1)
    """Environment steps between gradient phases (4, as in Mnih et al. 2015)."""
    gradient_steps: int = option(1, ge=1)
    """Gradient steps per phase."""
    target_update_interval: int = option(500, ge=1)
    """Environment steps between copies of the online network into the target network."""
    double_q: bool = True
    """Double DQN: the online network picks the next slot, the target network values it."""
    exploration_steps: int = option(10_000, ge=1)
    """Environment steps over which epsilon falls linearly from its start to its end."""
    epsilon_start: float = option(1.0, ge=0.0, le=1.0)
    """Initial probability that a demand takes a random valid slot."""
    epsilon_end: float = option(0.05, ge=0.0, le=1.0)
    """Final probability that a demand takes a random valid slot."""
    max_grad_norm: float = option(10.0, gt=0.0)
    """The gradient is rescaled to at most this norm."""
    hidden_sizes: tuple[int, ...] = option((64, 64), ge=1)
    """Hidden layer sizes of the shared Q-network."""
    node_embedding_size: int = option(8, ge=1)
    """Size of the learned node embedding appended to each agent's observation."""
    log_interval: int = option(512, ge=1)
    """Environment steps between learning-log rows (and the points where checkpoints may be written)."""


# ---------------------------------------------------------------------- choices
def linear_epsilon(step: int, start: float, end: float, steps: int) -> float:
    """``start + (end - start) * min(step / steps, 1)``."""
    return start + (end - start) * min(step / steps, 1.0)


def greedy_slots(q_values: Tensor, mask: Tensor) -> Tensor:
    """The best valid slot of each demand.

    Args:
        q_values: Shape [..., M, K].
        mask: valid slots. Shape broadcastable to [..., M, K]; every demand has one.

    Returns:
        Slot indices. Shape [..., M], int64.
    """
    return q_values.masked_fill(~mask, -torch.inf).argmax(-1)


def random_slots(mask: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """A uniformly random valid slot per demand: the ``floor(u * V)``-th valid slot, V the demand's
    valid slots and ``u`` in [0, 1) its uniform draw.

    Args:
        mask: valid slots. Shape [..., K].
        uniforms: one draw in [0, 1) per demand. Shape [...].

    Returns:
        Slot indices. Shape [...], int64.
    """
    valid = mask.sum(-1)
    rank = np.minimum(np.floor(uniforms * valid), valid - 1).astype(np.int64)
    return np.argmax(np.cumsum(mask, axis=-1) > rank[..., None], axis=-1)


def encode_choices(slots: np.ndarray, k_slots: int, low: float, high: float) -> np.ndarray:
    """The logits that select ``slots``: ``high`` in the chosen slot, ``low`` elsewhere.

    Args:
        slots: chosen slot per demand. Shape [..., M].
        k_slots: K.
        low, high: the action space's bounds.

    Returns:
        Flattened logits per agent. Shape [..., M * K], float32.
    """
    logits = np.full((*slots.shape, k_slots), low, dtype=np.float32)
    np.put_along_axis(logits, slots[..., None], np.float32(high), axis=-1)
    return logits.reshape(*slots.shape[:-1], -1)


def chosen_share(logit_scale: float, valid_slots: int, low: float = -1.0, high: float = 1.0) -> float:
    """The share of a demand the chosen path carries under `encode_choices`:
    ``1 / (1 + (V - 1) exp(-(high - low) logit_scale))``."""
    return 1.0 / (1.0 + (valid_slots - 1) * math.exp(-(high - low) * logit_scale))


# ---------------------------------------------------------------------- the network
class SharedQNetwork(nn.Module):
    """One Q-network for every node agent: ``Q = MLP([observation, embedding[node]])`` reshaped to
    one value per demand and path slot.

    Args:
        observation_size: size of one agent's observation.
        num_demands: demands per agent (M = N - 1).
        k_slots: path slots per demand (K).
        num_agents: node agents (rows of the embedding).
        hidden_sizes: hidden layer sizes.
        embedding_size: size of the node embedding.
        generator: draws the initial weights.
    """

    def __init__(self, observation_size: int, num_demands: int, k_slots: int, num_agents: int,
                 hidden_sizes: tuple[int, ...], embedding_size: int, generator: torch.Generator) -> None:  # fmt: skip
        super().__init__()
        self.num_demands, self.k_slots = num_demands, k_slots
        self.embedding = nn.Embedding(num_agents, embedding_size)
        nn.init.normal_(self.embedding.weight, 0.0, 1.0, generator=generator)
        self.body = _mlp([observation_size + embedding_size, *hidden_sizes, num_demands * k_slots], generator,
                         output_gain=1.0)  # fmt: skip

    def forward(self, observations: Tensor, agent_ids: Tensor) -> Tensor:
        """The Q-values of each decision.

        Args:
            observations: Shape [..., O].
            agent_ids: node index of each row. Shape [...].

        Returns:
            Shape [..., M, K].
        """
        out = self.body(torch.cat([observations, self.embedding(agent_ids)], dim=-1))
        return out.reshape(*out.shape[:-1], self.num_demands, self.k_slots)


class TrainStats(NamedTuple):
    """What one gradient step did."""

    loss: float
    """Huber loss of the minibatch."""
    q_mean: float
    """Mean Q-value of the chosen slots."""


# ---------------------------------------------------------------------- the agent
class DQNAgent(MultiAgentLearner):
    """Multi-agent DQN (shared Q-network with node embeddings, per-demand Double-DQN targets) on
    ``rlte/TE-MA-v0``; see the module docstring for the target and the action encoding.

    Once trained, ``chosen_share`` is the smallest share of a demand its chosen path carries on the
    training environment (`chosen_share`).

    Args:
        params: `DQNConfig` fields.
        seed: seeds the agent's torch generator (weights) and numpy generator (exploration, replay
            sampling and, through it, the environment).
    """

    NAME, LOG_COLUMNS = "dqn", LOG_COLUMNS

    def __init__(self, params: dict | None = None, seed: int = 0) -> None:
        self.seed = int(seed)
        self.config = DQNConfig.parse(params or {}, "dqn")
        self.q_network: SharedQNetwork | None = None
        self.agent_names: list[str] = []

    # ------------------------------------------------------------------ construction
    def _build(self, env) -> None:
        torch.set_num_threads(1)
        config = self.config
        shapes = shared_shapes(env, "dqn")
        self.agent_names = names = shapes.agent_names
        if not hasattr(env, "path_mask"):
            raise RlteError("dqn: needs rlte/TE-MA-v0 (each agent's valid path slots, path_mask)")
        # row u: the valid slots of agent u's own demands
        self.mask = np.stack([env.path_mask(agent) for agent in names]).astype(bool)
        self.k_slots = int(self.mask.shape[-1])
        self.demands_per_agent = int(self.mask.shape[1])
        self.mask_tensor = torch.as_tensor(self.mask)
        self.action_low = float(np.min(shapes.action_space.low))
        self.action_high = float(np.max(shapes.action_space.high))
        self.chosen_share = chosen_share(float(env.options.logit_scale), int(self.mask.sum(-1).max()),
                                         self.action_low, self.action_high)  # fmt: skip
        self.torch_rng = torch.Generator().manual_seed(self.seed)
        self.numpy_rng = np.random.default_rng(self.seed)
        self.q_network = SharedQNetwork(shapes.observation_size, self.demands_per_agent, self.k_slots, len(names),
                                        config.hidden_sizes, config.node_embedding_size, self.torch_rng)  # fmt: skip
        self.target_network = SharedQNetwork(shapes.observation_size, self.demands_per_agent, self.k_slots,
                                             len(names), config.hidden_sizes, config.node_embedding_size,
                                             self.torch_rng)  # fmt: skip
        self.target_network.load_state_dict(self.q_network.state_dict())
        self.optimizer = torch.optim.Adam(self.q_network.parameters(), lr=config.learning_rate, foreach=True)
        self.buffer = ReplayBuffer(config.buffer_size, (len(names), shapes.observation_size),
                                   (len(names), self.demands_per_agent))  # fmt: skip
        self.num_timesteps = self.gradient_steps = 0
        self.episodes = EpisodeReturns()
        self.observations: dict[str, np.ndarray] = {}
        self.recent: list[TrainStats] = []

    # ------------------------------------------------------------------ acting
    def act(self, observations: dict) -> dict:
        """The greedy joint action: each demand's best valid slot, encoded as logits
        (`encode_choices`).

        Args:
            observations: agent name -> observation (any subset of the agents).

        Returns:
            agent name -> action (float32, in the action space). Shapes [(N - 1) * K].
        """
        if self.q_network is None:
            raise RlteError("agent: train() it first")
        names = self._known_agents(observations)
        index = [self.agent_names.index(a) for a in names]
        slots = self._greedy(stack_observations(observations, names), index)
        actions = encode_choices(slots, self.k_slots, self.action_low, self.action_high)
        return {agent: actions[i] for i, agent in enumerate(names)}

    def _greedy(self, observations: np.ndarray, index: list[int]) -> np.ndarray:
        ids = torch.as_tensor(index, dtype=torch.long)
        with torch.no_grad():
            q_values = self.q_network(torch.as_tensor(observations), ids)
        return greedy_slots(q_values, self.mask_tensor[ids]).numpy()

    def epsilon(self) -> float:
        """The exploration rate at the current step."""
        config = self.config
        return linear_epsilon(
            self.num_timesteps, config.epsilon_start, config.epsilon_end, config.exploration_steps
        )

    def _explore(self, observations: np.ndarray) -> np.ndarray:
        """Epsilon-greedy slots of every agent; the generator is drawn from the same way at every
        epsilon, so runs stay in step whatever the schedule."""
        greedy = self._greedy(observations, list(range(len(self.agent_names))))
        explore = self.numpy_rng.random(greedy.shape) < self.epsilon()
        random = random_slots(self.mask, self.numpy_rng.random(greedy.shape))
        return np.where(explore, random, greedy)

    # ------------------------------------------------------------------ learning
    def _learn(self, batch: ReplayBatch) -> TrainStats:
        config = self.config
        size, num_agents = batch.observations.shape[:2]
        ids = torch.arange(num_agents).expand(size, -1)
        if config.double_q:  # one pass of the online network over both halves (tiny nets: calls cost)
            both = self.q_network(torch.cat([batch.observations, batch.next_observations]), ids.repeat(2, 1))
            q_values, picker = both[:size], both[size:].detach()  # [B, N, M, K]
        else:
            q_values = self.q_network(batch.observations, ids)
        chosen = q_values.gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)  # [B, N, M]
        with torch.no_grad():
            next_target = self.target_network(batch.next_observations, ids)
            best = greedy_slots(picker if config.double_q else next_target, self.mask_tensor)
            next_value = next_target.gather(-1, best.unsqueeze(-1)).squeeze(-1)
            not_terminal = (1.0 - batch.terminated).view(size, 1, 1)
            targets = batch.rewards.view(size, 1, 1) + config.gamma * not_terminal * next_value
        loss = nn.functional.smooth_l1_loss(chosen, targets)
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.q_network.parameters(), config.max_grad_norm)
        self.optimizer.step()
        self.gradient_steps += 1
        return TrainStats(loss.item(), chosen.detach().mean().item())

    def _step(self, env) -> None:
        """One environment step: act, store, learn when due, refresh the target network."""
        config, names = self.config, self.agent_names
        observations = stack_observations(self.observations, names)
        slots = self._explore(observations)
        actions = encode_choices(slots, self.k_slots, self.action_low, self.action_high)
        next_obs, step_rewards, terminations, truncations, _ = env.step(
            {a: actions[i] for i, a in enumerate(names)}
        )
        reward = float(np.mean([step_rewards[a] for a in names]))
        terminated, truncated = any(terminations.values()), any(truncations.values())
        self.buffer.add(observations, slots, reward, stack_observations(next_obs, names), terminated)
        self.episodes.add(reward, terminated or truncated)
        if terminated or truncated:
            next_obs, _ = env.reset()
        self.observations = {a: np.asarray(next_obs[a], dtype=np.float32) for a in names}
        self.num_timesteps += 1
        if self.num_timesteps > config.learning_starts and self.num_timesteps % config.train_frequency == 0:
            for _ in range(config.gradient_steps):
                self.recent.append(self._learn(self.buffer.sample(config.batch_size, self.numpy_rng)))
        if self.num_timesteps % config.target_update_interval == 0:
            self.target_network.load_state_dict(self.q_network.state_dict())

    # ------------------------------------------------------------------ checkpoints
    COUNTERS = {"timesteps": "num_timesteps", "gradient_steps": "gradient_steps"}

    def _stateful(self) -> dict:
        return {
            "q_network": self.q_network,
            "target_network": self.target_network,
            "optimizer": self.optimizer,
            "buffer": self.buffer,
        }

    # ------------------------------------------------------------------ training
    def _block(self, env, timesteps: int) -> tuple[dict, None]:
        """``log_interval`` steps (fewer if ``timesteps`` comes first); the row has the loss and
        mean Q over the block's gradient steps (empty before the first)."""
        self.recent = []
        block_end = min(timesteps, self.num_timesteps + self.config.log_interval)
        while self.num_timesteps < block_end:
            self._step(env)
        learned = bool(self.recent)
        return {
            "epsilon": self.epsilon(),
            "loss": float(np.mean([s.loss for s in self.recent])) if learned else None,
            "q_mean": float(np.mean([s.q_mean for s in self.recent])) if learned else None,
            "gradient_steps": self.gradient_steps,
        }, None

    def describe(self) -> dict:
        """The algorithm's name, the seed and every hyperparameter."""
        return {"algorithm": "DQN", "seed": self.seed, **asdict(self.config)}
