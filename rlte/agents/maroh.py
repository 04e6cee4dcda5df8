"""MAROH and SAMAROH (seed 002), with or without the two-layer control plane (MAROH-2L,
SAMAROH-2L), on ``rlte/MAROH-MA-v0``: one agent per directed link, message passing between them,
PPO with a centralised message-passing critic. The defaults are the authors' (``dte_stand``).

**The actor.** Agent i's hidden state (size 16) starts as its observation (utilisation and
weight / 3, normalised over the episode by the environment, as the authors') padded with zeros. K
rounds of `rlte.agents.common.graph.LinkMessagePassing` follow, one set of weights for all rounds:
every agent sends ``m_ij = MLP_msg([h_i, h_j])`` (64 -> 16) to each agent whose link starts where
its own ends, and updates ``h_i' = MLP_upd([h_i, min_j m_ij, max_j m_ij])`` (128 -> 64 -> 16);
tanh everywhere, orthogonal initial weights (gain sqrt 2), zero biases. A readout (128 -> 64 ->
2, dropout 0.15 while training, last layer's gain 0.01) maps each final state to the logits of
the two actions, ``+0`` and ``*1.25``. K is 2 on rhombus, 3 on Abilene, 5 on symm16 and
GEANT2009 (`AUTHORS_SETTINGS`). ``message_passing="dense"`` evaluates the same layer by gathers
over the exchange graph's edges (faster on these small graphs); ``"pyg"`` runs torch_geometric's
propagate; both give the same numbers (a test checks).

**SAMAROH** (``mode="simultaneous"``): every agent samples its own action from the softmax of its
readout. **MAROH** (``mode="sequential"``): one softmax over all agents' readouts chooses one
(link, action) per horizon (the agents share their readouts for it, counted as
``readout_messages``: E - 1 per agent and horizon).

**Exploration** (the authors' ``greedy_epsilon``): at each horizon of each episode, with
probability ``sample_probability`` = 0.9 the actions are sampled, else the argmax is taken; the
log-probabilities are the softmax's. `act` always takes the argmax.

**Training** (PPO as the authors run it): ``update_every`` = 75 episodes of ``horizons`` steps,
then ``epochs`` = 3 passes in minibatches of 25 steps over them; one loss ``L = L_clip - 0.001 H +
0.5 L_V`` with the clipped surrogate (clip 0.25) averaged over every (step, agent) decision,
global gradient norm clipped at 1.0 over actor and critic, Adam with step sizes 1.5e-4 (actor) and
8.5e-4 (critic), epsilon 1e-5. GAE (gamma 0.9, lambda 0.95) per episode, bootstrapped from the
critic's value of the final state and normalised per episode. The critic runs its own K rounds of
message passing and a readout (128 -> 64 -> 1, dropout 0.1) over the mean, max, min and standard
deviation of the final link states. The ``parallel_episodes`` episodes of a block run in lockstep:
one batched actor call per horizon for all of them, one batched `FlowRouter` routing of all their
weight vectors (`rlte.envs.maroh.MarohParallelEnv.advance`), no Python per agent.

**The two-layer control plane** (``memory=True``; `rlte.agents.common.memory`): before each
exchange round l + 1 the agents look their states up in level l's memory (level 0: the inputs);
when every agent is familiar (synchronous switching) they take their stored final states, the
readout turns them into logits, and no more messages are sent. Unfamiliar decisions store their
states with the final states used. In the PPO update a decision the memory took is re-evaluated
from the stored final state it used (so only the readout gets its gradient), one the agents
exchanged for through the message passing. The authors instead re-run as many rounds as were
exchanged and look the memory up again; in lockstep the memory sees a block's episodes horizon by
horizon (set ``parallel_episodes=1`` for the authors' episode-by-episode order).

**Messages.** Every round every edge of the exchange graph carries one hidden state: a horizon
the agents exchange for costs ``rounds x M`` messages (`count_messages`). ``exchange_share`` is
the fraction of the single-layer method's rounds that took place (the paper's "number of
exchanges", in the authors' code ``message_iterations_done / possible`` at acting time).

Checkpoints are exact (`rlte.agents.common.training.CheckpointedLearner`): networks, both
optimisers, the torch and numpy generators, every memory level, the per-episode history; a run
killed and resumed ends identical to an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from rlte.agents.common.advantages import gae
from rlte.agents.common.configs import AgentConfig
from rlte.agents.common.graph import LinkMessagePassing, MessagePassingEncoder, count_messages
from rlte.agents.common.layers import orthogonal_linear, seeded_dropout
from rlte.agents.common.memory import TwoLayerMemory
from rlte.agents.common.training import CheckpointedLearner, EpisodeReturns
from rlte.envs.contract import unwrapped
from rlte.errors import RlteError
from rlte.options import fail, option

LOG_COLUMNS = (
    "timesteps", "episode_reward_mean", "episodes", "phi", "phi_best", "messages", "exchange_share",
    "readout_messages", "memory_size", "policy_loss", "critic_loss", "entropy", "clip_fraction", "approx_kl",
)  # fmt: skip


class NetworkSettings(NamedTuple):
    """The authors' settings of one network (their ``config.yaml`` and the paper)."""

    horizons: int
    """Horizons per SAMAROH episode (MAROH's are `MAROH_HORIZON_FACTOR` times as many)."""
    rounds: int
    """K, message-passing rounds."""
    episodes: int
    """Training episodes."""
    memory_size: int
    """Representatives per memory level."""


#: The authors' settings per MAROH network (the key is the topology's name without ``maroh-``).
AUTHORS_SETTINGS = {
    "rhombus": NetworkSettings(20, 2, 10_000, 512),
    "abilene": NetworkSettings(50, 3, 15_000, 1024),
    "symm16": NetworkSettings(100, 5, 15_000, 1024),
    "geant2009": NetworkSettings(150, 5, 15_000, 1024),
}
#: Settings for any other network.
DEFAULT_SETTINGS = NetworkSettings(50, 3, 15_000, 1024)
#: MAROH runs this many times SAMAROH's horizons (the paper: 100 vs 20, 250 vs 50).
MAROH_HORIZON_FACTOR = 5


def network_key(name: str) -> str:
    """A topology's key in `AUTHORS_SETTINGS`: ``maroh/abilene`` and ``maroh-abilene`` are ``abilene``."""
    return str(name).removeprefix("maroh/").removeprefix("maroh-")


def authors_settings(name: str) -> NetworkSettings:
    """The authors' settings of a network (`DEFAULT_SETTINGS` for one they did not run)."""
    return AUTHORS_SETTINGS.get(network_key(name), DEFAULT_SETTINGS)


@dataclass
class MarohConfig(AgentConfig):
    """Hyperparameters of MAROH / SAMAROH and their two-layer control plane (defaults: the authors')."""

    mode: Literal["simultaneous", "sequential"] = "simultaneous"
    """SAMAROH (every agent acts each horizon) or MAROH (one (link, action) per horizon)."""
    horizons: int | None = option(None, ge=1)
    """Horizons per episode, which the domain builds the environment with (None: the authors' for
    the network, 5 x as many for MAROH; the agent checks the environment's against it)."""
    episodes: int | None = option(None, ge=1)
    """Training episodes, which the domain trains for (None: the authors' for the network)."""
    rounds: int | None = option(None, ge=1)
    """K, message-passing rounds (None: the authors' for the network: rhombus 2, Abilene 3, else 5)."""
    hidden_size: int = option(16, ge=2)
    """Size of an agent's hidden state (and of a message)."""
    message_sizes: tuple[int, ...] = option((64,), ge=1)
    """Hidden widths of the message network."""
    update_sizes: tuple[int, ...] = option((128, 64), ge=1)
    """Hidden widths of the update network."""
    readout_sizes: tuple[int, ...] = option((128, 64), ge=1)
    """Hidden widths of the actor's and the critic's readouts."""
    actor_dropout: float = option(0.15, ge=0.0, lt=1.0)
    """Dropout after the actor readout's hidden layers while training."""
    critic_dropout: float = option(0.1, ge=0.0, lt=1.0)
    """Dropout after the critic readout's hidden layers while training."""
    message_passing: Literal["dense", "pyg"] = "dense"
    """How `LinkMessagePassing` is evaluated: gathers over the edges, or torch_geometric's propagate."""
    clip_range: float = option(0.25, gt=0.0)
    """PPO clips the probability ratio to [1 - clip_range, 1 + clip_range]."""
    entropy_coef: float = option(0.001, ge=0.0)
    """Weight of the entropy bonus."""
    value_coef: float = option(0.5, ge=0.0)
    """Weight of the critic's loss in the one loss."""
    max_grad_norm: float = option(1.0, gt=0.0)
    """The gradient of actor and critic together is rescaled to at most this norm."""
    epochs: int = option(3, ge=1)
    """Passes over each block of episodes."""
    minibatch_size: int = option(25, ge=1)
    """Steps per minibatch."""
    gamma: float = option(0.9, ge=0.0, le=1.0)
    """Discount factor."""
    lam: float = option(0.95, ge=0.0, le=1.0)
    """GAE parameter."""
    learning_rate: float = option(1.5e-4, gt=0.0)
    """Adam step size of the actor."""
    critic_learning_rate: float = option(8.5e-4, gt=0.0)
    """Adam step size of the critic."""
    adam_eps: float = option(1e-5, gt=0.0)
    """Adam's epsilon (the authors' 1e-5)."""
    normalize_advantages: bool = True
    """Standardise the advantages of each episode."""
    update_every: int = option(75, ge=1)
    """Episodes per update (the authors' n_without_update)."""
    parallel_episodes: int | None = option(None, ge=1)
    """Episodes run in lockstep (None: all of a block)."""
    sample_probability: float = option(0.9, ge=0.0, le=1.0)
    """Probability that a horizon's actions are sampled rather than the argmax (the authors' 0.9)."""
    memory: bool = False
    """The two-layer control plane (MAROH-2L, SAMAROH-2L)."""
    memory_size: int | None = option(None, ge=1)
    """Representatives per level (None: the authors' for the network: 512 on rhombus, else 1,024)."""
    representatives: Literal["clustering", "delta_net"] = "clustering"
    """How representatives are chosen: clustering (the authors') or the paper's Delta-net."""
    metric: Literal["l2", "l1", "cosine"] = "l2"
    """Distance between states."""
    clustering: Literal["auto", "minibatch_kmeans", "agglomerative"] = "auto"
    """The clustering algorithm (auto: MiniBatchKMeans for L2, AgglomerativeClustering otherwise)."""
    threshold: float = option(0.035, gt=0.0)
    """Delta: a state within it of a representative is familiar."""
    bypass: float = option(0.0, ge=0.0, le=1.0)
    """Probability that a familiar state still goes to the decision-making layer (gamma)."""
    switching: Literal["synchronous"] = "synchronous"
    """How agents switch layers: synchronously (one unfamiliar agent sends all to exchange)."""

    def check(self, where: str) -> None:
        if self.clustering == "minibatch_kmeans" and self.metric != "l2":
            fail(where, "clustering", self.clustering, f"agglomerative or auto for metric {self.metric!r}")

    def clustering_algorithm(self) -> str:
        """The clustering algorithm ``auto`` stands for."""
        if self.clustering != "auto":
            return self.clustering
        return "minibatch_kmeans" if self.metric == "l2" else "agglomerative"


# ---------------------------------------------------------------------- networks
class _Tanh(torch.autograd.Function):
    """tanh as ``1 - 2 / (exp(2x) + 1)``: the same function, faster than torch's CPU kernel."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        y = torch.exp(x * 2.0)
        y.add_(1.0).reciprocal_().mul_(-2.0).add_(1.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


def tanh(x: Tensor) -> Tensor:
    """``tanh(x)`` (`_Tanh`)."""
    return _Tanh.apply(x)


def _run_mlp(network: nn.Sequential, x: Tensor) -> Tensor:
    """An MLP of Linear and Tanh modules, its tanh evaluated by `tanh`."""
    for module in network:
        x = tanh(x) if isinstance(module, nn.Tanh) else module(x)
    return x


def _orthogonal(linear: nn.Linear, gain: float, generator: torch.Generator) -> None:
    nn.init.orthogonal_(linear.weight, gain=gain, generator=generator)
    nn.init.zeros_(linear.bias)


class Readout(nn.Module):
    """A tanh MLP with a linear last layer and dropout after each hidden layer while training.

    Args:
        sizes: widths, input first.
        output_gain: the last layer's orthogonal gain (hidden layers: sqrt 2).
        dropout: the dropout probability.
        generator: draws the initial weights.
    """

    def __init__(
        self, sizes: list[int], output_gain: float, dropout: float, generator: torch.Generator
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for i, (inputs, outputs) in enumerate(zip(sizes[:-1], sizes[1:])):
            gain = output_gain if i == len(sizes) - 2 else math.sqrt(2.0)
            self.layers.append(orthogonal_linear(inputs, outputs, gain, generator))
        self.dropout = float(dropout)

    def forward(self, x: Tensor, dropout_generator: torch.Generator | None = None) -> Tensor:
        """Shapes [..., sizes[0]] -> [..., sizes[-1]]; dropout only with a generator (training)."""
        for linear in self.layers[:-1]:
            x = tanh(linear(x))
            if dropout_generator is not None:
                x = seeded_dropout(x, self.dropout, dropout_generator)
        return self.layers[-1](x)


class ExchangeGraph:
    """The agents' exchange graph in the forms message passing needs.

    Args:
        edge_index: row 0 senders, row 1 receivers. Shape [2, M].
        num_agents: E.
    """

    def __init__(self, edge_index: np.ndarray, num_agents: int) -> None:
        edge_index = np.asarray(edge_index, dtype=np.int64)
        order = np.lexsort((edge_index[0], edge_index[1]))  # by receiver
        self.edge_index = torch.from_numpy(edge_index.copy())
        self.senders = torch.from_numpy(edge_index[0, order].copy())
        self.receivers = torch.from_numpy(edge_index[1, order].copy())
        counts = np.bincount(edge_index[1], minlength=num_agents)
        width = max(int(counts.max()), 1) if len(counts) else 1
        slots = np.zeros((num_agents, width), dtype=np.int64)
        start = 0
        for agent in range(num_agents):
            own = np.arange(start, start + counts[agent])
            if len(own):
                slots[agent] = np.resize(own, width)  # repeats do not change a min or a max
            start += counts[agent]
        self.slots = torch.from_numpy(slots)
        self.silent = torch.from_numpy(counts == 0)
        self.any_silent = bool((counts == 0).any())
        self.num_edges = int(edge_index.shape[1])


def dense_round(layer: LinkMessagePassing, hidden: Tensor, graph: ExchangeGraph) -> Tensor:
    """One round of `LinkMessagePassing` by gathers: the first message layer is applied to the
    receiver's and the sender's halves separately (per agent, then gathered per edge), each
    agent's messages are gathered into a padded table (repeats do not change a min or a max).

    Shapes: hidden [..., E, H] -> [..., E, H].
    """
    size = layer.hidden_size
    first, *rest = list(layer.message_network)
    receiver_part = torch.nn.functional.linear(hidden, first.weight[:, :size], first.bias)
    sender_part = torch.nn.functional.linear(hidden, first.weight[:, size:])
    # index_select, not indexing: its backward is an index_add, where indexing's is a slow
    # accumulating index_put on the CPU (the same sums)
    agents = hidden.dim() - 2
    messages = receiver_part.index_select(agents, graph.receivers) + sender_part.index_select(
        agents, graph.senders
    )
    messages = _run_mlp(nn.Sequential(*rest), messages)
    if graph.num_edges == 0:  # nobody hears anybody: every minimum and maximum is the silent 0
        smallest = largest = messages.new_zeros((*hidden.shape[:-1], messages.shape[-1]))
    else:
        table = messages.index_select(agents, graph.slots.reshape(-1)).unflatten(
            agents, graph.slots.shape
        )  # [..., E, D, H]
        smallest, largest = table.amin(dim=-2), table.amax(dim=-2)
        if graph.any_silent:
            quiet = graph.silent.unsqueeze(-1)
            smallest = torch.where(quiet, torch.zeros_like(smallest), smallest)
            largest = torch.where(quiet, torch.zeros_like(largest), largest)
    return _run_mlp(layer.update_network, torch.cat([hidden, smallest, largest], dim=-1))


class LinkAgentsNetwork(nn.Module):
    """K rounds of message passing between the link agents (one set of weights) and a readout.

    Args:
        config: the agent's config.
        rounds: K.
        inputs: F, features per agent.
        readout_inputs: size of the readout's input (H for the actor, 4 H for the critic).
        outputs: the readout's outputs.
        output_gain: the readout's last layer's gain.
        dropout: the readout's dropout.
        generator: draws the initial weights.
    """

    def __init__(self, config: MarohConfig, rounds: int, inputs: int, readout_inputs: int, outputs: int,
                 output_gain: float, dropout: float, generator: torch.Generator) -> None:  # fmt: skip
        super().__init__()
        self.hidden_size, self.rounds, self.inputs = config.hidden_size, int(rounds), int(inputs)
        if inputs > config.hidden_size:
            raise RlteError(
                f"maroh: {inputs} input features do not fit a hidden state of {config.hidden_size}"
            )
        self.encoder = MessagePassingEncoder(
            config.hidden_size, rounds, generator, shared_weights=True,
            message_sizes=config.message_sizes, update_sizes=config.update_sizes,
        )  # fmt: skip
        for module in self.encoder.modules():
            if isinstance(module, nn.Linear):
                _orthogonal(module, math.sqrt(2.0), generator)
        self.readout = Readout(
            [readout_inputs, *config.readout_sizes, outputs], output_gain, dropout, generator
        )
        self.dense = config.message_passing == "dense"

    def levels(self, inputs: Tensor, graph: ExchangeGraph) -> list[Tensor]:
        """The hidden states before round 1 (the padded inputs) and after every round.

        Shapes: inputs [..., E, F] -> K + 1 tensors [..., E, H].
        """
        padding = inputs.new_zeros((*inputs.shape[:-1], self.hidden_size - self.inputs))
        states = [torch.cat([inputs, padding], dim=-1)]
        layer = self.encoder.layers[0]
        for _ in range(self.rounds):
            if self.dense:
                states.append(dense_round(layer, states[-1], graph))
            else:
                states.append(layer(states[-1], graph.edge_index))
        return states


def pooled(states: Tensor) -> Tensor:
    """The critic's readout input: mean, max, min and (population) standard deviation over the
    agents. Shapes [..., E, H] -> [..., 4 H]."""
    return torch.cat(
        [states.mean(-2), states.amax(-2), states.amin(-2), states.std(-2, correction=0)], dim=-1
    )


# ---------------------------------------------------------------------- rollouts
class Decisions(NamedTuple):
    """The joint decisions of B episodes at one horizon."""

    env_actions: np.ndarray
    """Each agent's action for the environment (0 keep, 1 multiply). Shape [B, E]."""
    taken: np.ndarray
    """What the policy chose: per agent (SAMAROH) Shape [B, E], or the flat (link, action) index
    (MAROH) Shape [B]."""
    log_prob: np.ndarray
    """Its log-probability. Shape of ``taken``."""
    readout_inputs: np.ndarray
    """The final hidden states the readout read. Shape [B, E, H]."""
    hit: np.ndarray
    """Whether the memory decided. Shape [B]."""
    rounds: np.ndarray
    """Exchange rounds done. Shape [B]."""


class Block(NamedTuple):
    """The episodes of one update, episode-major (C episodes of T horizons)."""

    observations: np.ndarray
    """Shape [C, T, E, F]."""
    final_observations: np.ndarray
    """The observation after the last horizon. Shape [C, E, F]."""
    taken: np.ndarray
    """Shape [C, T, E] or [C, T]."""
    log_prob: np.ndarray
    """Shape of ``taken``."""
    rewards: np.ndarray
    """Shape [C, T]."""
    readout_inputs: np.ndarray
    """Shape [C, T, E, H]."""
    hit: np.ndarray
    """Shape [C, T]."""
    rounds: np.ndarray
    """Shape [C, T]."""
    final_phi: np.ndarray
    """Phi after each episode's last horizon. Shape [C]."""
    final_mlu: np.ndarray
    """MLU then. Shape [C]."""


class MarohAgent(CheckpointedLearner):
    """MAROH / SAMAROH (and their two-layer variants) on ``rlte/MAROH-MA-v0`` (module docstring).

    Args:
        params: `MarohConfig` fields.
        seed: seeds the agent's torch generator (weights, dropout) and numpy generator (sampling,
            minibatches, memory).

    Attributes:
        episode_phi: Phi after the last horizon of every training episode, in order.
        episode_mlu: the MLU then.
        episode_messages: hidden-state messages sent in each training episode.
        episode_exchange_share: the fraction of the single-layer rounds each episode exchanged.
        last_messages: messages sent by the latest `act` call.
        train_seconds: wall time of `train` calls in this process.
    """

    NAME = "maroh"
    LOG_COLUMNS = LOG_COLUMNS
    COUNTERS = {"timesteps": "num_timesteps", "episodes": "num_episodes", "updates": "updates",
                "messages": "total_messages"}  # fmt: skip
    CONFIG = MarohConfig

    def __init__(self, params: dict | None = None, seed: int = 0) -> None:
        self.seed = int(seed)
        self.config = self.CONFIG.parse(params or {}, self.NAME)
        self.actor: LinkAgentsNetwork | None = None
        self.last_messages = 0
        self.train_seconds = 0.0

    # ------------------------------------------------------------------ construction
    def _build(self, env) -> None:
        torch.set_num_threads(1)
        base = unwrapped(env)
        for name in ("initial_state", "advance", "edge_index", "horizons", "network"):
            if not hasattr(base, name):
                raise RlteError(
                    f"{self.NAME}: needs rlte/MAROH-MA-v0 (its batched dynamics), not {type(base).__name__}"
                )
        config = self.config
        settings = authors_settings(base.network)
        if config.horizons is not None and config.horizons != base.horizons:
            raise RlteError(
                f"{self.NAME}: horizons {config.horizons} but the environment's episodes have {base.horizons}"
            )
        self.horizons = int(base.horizons)
        self.rounds = int(config.rounds or settings.rounds)
        self.agent_names = list(base.possible_agents)
        self.num_agents = len(self.agent_names)
        self.num_actions = 2
        self.sequential = config.mode == "sequential"
        self.graph = ExchangeGraph(base.edge_index, self.num_agents)
        self.torch_rng = torch.Generator().manual_seed(self.seed)
        self.numpy_rng = np.random.default_rng(self.seed)
        hidden = config.hidden_size
        self.actor = LinkAgentsNetwork(config, self.rounds, 2, hidden, self.num_actions, 0.01, config.actor_dropout,
                                       self.torch_rng)  # fmt: skip
        self.critic = LinkAgentsNetwork(config, self.rounds, 2, 4 * hidden, 1, 1.0, config.critic_dropout,
                                        self.torch_rng)  # fmt: skip
        # fused: one kernel per step instead of a dozen per parameter (the same update)
        self.actor_optimizer = torch.optim.Adam(
            self.actor.parameters(), lr=config.learning_rate, eps=config.adam_eps, fused=True
        )
        self.critic_optimizer = torch.optim.Adam(
            self.critic.parameters(), lr=config.critic_learning_rate, eps=config.adam_eps, fused=True
        )
        self.memory: TwoLayerMemory | None = None
        if config.memory:
            self.memory = TwoLayerMemory(
                self.num_agents, [2] + [hidden] * (self.rounds - 1), hidden,
                int(config.memory_size or settings.memory_size), config.threshold, config.metric,
                config.representatives, config.clustering_algorithm(), config.bypass, self.numpy_rng,
            )  # fmt: skip
        self.messages_per_round = count_messages(self.graph.edge_index, 1)
        self.num_timesteps = self.num_episodes = self.updates = self.total_messages = 0
        self.episodes = EpisodeReturns()
        self.episode_phi: list[float] = []
        self.episode_mlu: list[float] = []
        self.episode_messages: list[int] = []
        self.episode_exchange_share: list[float] = []

    def _stateful(self) -> dict:
        return {"actor": self.actor, "critic": self.critic, "actor_optimizer": self.actor_optimizer,
                "critic_optimizer": self.critic_optimizer}  # fmt: skip

    def _identity_extra(self) -> dict:
        return {"agents": list(self.agent_names), "horizons": self.horizons, "rounds": self.rounds}

    def _extra_state(self, env) -> dict:
        return {
            "episode_phi": np.asarray(self.episode_phi), "episode_mlu": np.asarray(self.episode_mlu),
            "episode_messages": np.asarray(self.episode_messages, dtype=np.int64),
            "episode_exchange_share": np.asarray(self.episode_exchange_share),
            "memory": self.memory.state_dict() if self.memory is not None else {},
        }  # fmt: skip

    def _load_extra_state(self, state: dict, env) -> None:
        self.episode_phi = [float(x) for x in np.asarray(state["episode_phi"]).ravel()]
        self.episode_mlu = [float(x) for x in np.asarray(state["episode_mlu"]).ravel()]
        self.episode_messages = [int(x) for x in np.asarray(state["episode_messages"]).ravel()]
        self.episode_exchange_share = [float(x) for x in np.asarray(state["episode_exchange_share"]).ravel()]
        if self.memory is not None:
            self.memory.load_state_dict(state["memory"])

    def _first_reset(self, env) -> None:
        env.reset(seed=self.seed)

    # ------------------------------------------------------------------ deciding
    def _decide(self, observations: np.ndarray, explore: bool) -> Decisions:
        """The joint decisions of B episodes (``observations`` [B, E, F]) at one horizon: message
        passing (the experience layer first, with memory), readout, then sampling (``explore``,
        with probability ``sample_probability`` per episode) or the argmax."""
        count = observations.shape[0]
        with torch.no_grad():
            levels = self.actor.levels(torch.as_tensor(observations, dtype=torch.float32), self.graph)
            final = levels[-1].numpy()
            rounds = np.full(count, self.rounds, dtype=np.int64)
            hit = np.zeros(count, dtype=bool)
            if self.memory is not None:
                final = final.copy()
                states = [np.asarray(observations, dtype=np.float64)] + [
                    levels[level].numpy().astype(np.float64) for level in range(1, self.rounds)
                ]
                for b in range(count):
                    own = [level[b] for level in states]
                    if explore:
                        decision = self.memory.decide(own, final[b])
                        rounds[b], final[b], hit[b] = decision.rounds, decision.values, decision.hit
                    else:
                        found = self.memory.lookup(own)
                        if found is not None:
                            rounds[b], final[b], hit[b] = found[0], found[1], True
            logits = self.actor.readout(torch.from_numpy(final)).double()
        if self.sequential:
            flat = torch.log_softmax(logits.reshape(count, -1), dim=-1).numpy()  # [B, E * A]
            choice = flat.argmax(-1)
            if explore:
                sampled = _sample(np.exp(flat), self.numpy_rng)
                choice = np.where(
                    self.numpy_rng.random(count) < self.config.sample_probability, sampled, choice
                )
            log_prob = flat[np.arange(count), choice]
            env_actions = np.zeros((count, self.num_agents), dtype=np.int64)
            env_actions[np.arange(count), choice // self.num_actions] = choice % self.num_actions
            taken = choice
        else:
            table = torch.log_softmax(logits, dim=-1).numpy()  # [B, E, A]
            taken = table.argmax(-1)
            if explore:
                sampled = _sample(np.exp(table), self.numpy_rng)
                sampling = self.numpy_rng.random(count) < self.config.sample_probability
                taken = np.where(sampling[:, None], sampled, taken)
            log_prob = np.take_along_axis(table, taken[..., None], -1)[..., 0]
            env_actions = taken
        return Decisions(
            env_actions, taken, log_prob.astype(np.float32), final.astype(np.float32), hit, rounds
        )

    def act(self, observations: dict) -> dict:
        """The deterministic joint action (argmax; MAROH: the one best (link, action)); with the
        two-layer control plane, a familiar state takes its stored values (nothing is stored).

        Args:
            observations: agent name -> observation (every agent).

        Returns:
            agent name -> action (0 keep, 1 multiply).
        """
        if self.actor is None:
            raise RlteError(f"{self.NAME}: train() it first")
        missing = [agent for agent in self.agent_names if agent not in observations]
        if missing:
            raise RlteError(
                f"{self.NAME}: no observation of agent {missing[0]!r} (every agent decides together)"
            )
        stacked = np.stack([np.asarray(observations[a], dtype=np.float32).ravel() for a in self.agent_names])
        decision = self._decide(stacked[None], explore=False)
        self.last_messages = int(decision.rounds[0]) * self.messages_per_round
        return {agent: int(decision.env_actions[0, i]) for i, agent in enumerate(self.agent_names)}

    def readout_messages(self) -> int:
        """Readouts the agents share per horizon: MAROH's joint softmax needs every agent's from
        every other (E (E - 1)); SAMAROH none."""
        return self.num_agents * (self.num_agents - 1) if self.sequential else 0

    # ------------------------------------------------------------------ rollouts
    def _collect(self, env, count: int) -> Block:
        """``count`` episodes, ``parallel_episodes`` at a time in lockstep."""
        horizons, agents, hidden = self.horizons, self.num_agents, self.config.hidden_size
        shape = (count, horizons, agents) if not self.sequential else (count, horizons)
        observations = np.zeros((count, horizons, agents, 2), dtype=np.float32)
        final_observations = np.zeros((count, agents, 2), dtype=np.float32)
        taken, log_prob = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.float32)
        rewards = np.zeros((count, horizons))
        readout_inputs = np.zeros((count, horizons, agents, hidden), dtype=np.float32)
        hit = np.zeros((count, horizons), dtype=bool)
        rounds = np.zeros((count, horizons), dtype=np.int64)
        final_phi, final_mlu = np.zeros(count), np.zeros(count)
        lockstep = self.config.parallel_episodes or self.config.update_every
        for first in range(0, count, lockstep):
            chunk = slice(first, min(first + lockstep, count))
            state, obs = env.initial_state(chunk.stop - chunk.start)
            for t in range(horizons):
                decision = self._decide(obs, explore=True)
                observations[chunk, t] = obs
                taken[chunk, t], log_prob[chunk, t] = decision.taken, decision.log_prob
                readout_inputs[chunk, t], hit[chunk, t], rounds[chunk, t] = (
                    decision.readout_inputs, decision.hit, decision.rounds)  # fmt: skip
                state, obs, reward = env.advance(state, decision.env_actions)
                rewards[chunk, t] = reward
            final_observations[chunk] = obs
            final_phi[chunk], final_mlu[chunk] = state.phi, state.utilisation.max(axis=-1)
        return Block(observations, final_observations, taken, log_prob, rewards, readout_inputs, hit, rounds,
                     final_phi, final_mlu)  # fmt: skip

    def _values(self, observations: np.ndarray) -> np.ndarray:
        """The critic's values of many observations [N, E, F], batched, without dropout. Shape [N]."""
        values = []
        with torch.no_grad():
            for start in range(0, len(observations), 1024):
                batch = torch.from_numpy(observations[start : start + 1024])
                final = self.critic.levels(batch, self.graph)[-1]
                values.append(self.critic.readout(pooled(final)).squeeze(-1).double().numpy())
        return np.concatenate(values) if values else np.zeros(0)

    def _advantages(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        """GAE per episode (bootstrapped from the final state's value), normalised per episode.
        Returns advantages and returns, Shape [C, T] each."""
        count, horizons = block.rewards.shape
        values = self._values(block.observations.reshape(count * horizons, *block.observations.shape[2:]))
        values = values.reshape(count, horizons)
        last = self._values(block.final_observations)
        advantages, returns = gae(block.rewards.T, values.T, np.zeros((horizons, count)), last, self.config.gamma,
                                  self.config.lam)  # fmt: skip
        advantages, returns = advantages.T, returns.T
        if self.config.normalize_advantages and horizons > 1:
            advantages = (advantages - advantages.mean(1, keepdims=True)) / (
                advantages.std(1, keepdims=True) + 1e-8
            )
        return advantages, returns

    # ------------------------------------------------------------------ the update
    def _update(self, block: Block) -> dict:
        config = self.config
        advantages, returns = self._advantages(block)
        steps = block.rewards.size
        observations = torch.from_numpy(block.observations.reshape(steps, self.num_agents, -1))
        taken = torch.from_numpy(block.taken.reshape(steps, *block.taken.shape[2:]))
        old_log_prob = torch.from_numpy(block.log_prob.reshape(steps, *block.log_prob.shape[2:]))
        stored = torch.from_numpy(block.readout_inputs.reshape(steps, self.num_agents, -1))
        hit = torch.from_numpy(block.hit.reshape(steps))
        step_advantages = torch.as_tensor(advantages.reshape(steps), dtype=torch.float32)
        targets = torch.as_tensor(returns.reshape(steps), dtype=torch.float32)
        parameters = [*self.actor.parameters(), *self.critic.parameters()]
        use_stored = bool(hit.any())
        totals = {
            "policy_loss": 0.0,
            "critic_loss": 0.0,
            "entropy": 0.0,
            "clip_fraction": 0.0,
            "approx_kl": 0.0,
        }
        batches = 0
        for _ in range(config.epochs):
            order = torch.from_numpy(self.numpy_rng.permutation(steps))
            for begin in range(0, steps, config.minibatch_size):
                index = order[begin : begin + config.minibatch_size]
                inputs = observations[index]
                final = self.actor.levels(inputs, self.graph)[-1]
                if use_stored:
                    final = torch.where(hit[index].view(-1, 1, 1), stored[index], final)
                logits = self.actor.readout(final, self.torch_rng)
                if self.sequential:
                    table = torch.log_softmax(logits.reshape(len(index), -1), dim=-1)
                    advantage = step_advantages[index]
                else:
                    table = torch.log_softmax(logits, dim=-1)
                    advantage = step_advantages[index].unsqueeze(-1)
                log_prob = table.gather(-1, taken[index].unsqueeze(-1)).squeeze(-1)
                entropy = -(table.exp() * table).sum(-1)
                log_ratio = log_prob - old_log_prob[index]
                ratio = torch.exp(log_ratio)
                clipped = torch.clamp(ratio, 1.0 - config.clip_range, 1.0 + config.clip_range)
                policy_loss = torch.max(-advantage * ratio, -advantage * clipped).mean()
                values = self.critic.readout(
                    pooled(self.critic.levels(inputs, self.graph)[-1]), self.torch_rng
                )
                critic_loss = ((targets[index] - values.squeeze(-1)) ** 2).mean()
                loss = policy_loss - config.entropy_coef * entropy.mean() + config.value_coef * critic_loss
                self.actor_optimizer.zero_grad()
                self.critic_optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
                self.actor_optimizer.step()
                self.critic_optimizer.step()
                with torch.no_grad():
                    totals["policy_loss"] += float(policy_loss)
                    totals["critic_loss"] += float(critic_loss)
                    totals["entropy"] += float(entropy.mean())
                    totals["clip_fraction"] += float(((ratio - 1.0).abs() > config.clip_range).float().mean())
                    totals["approx_kl"] += float(((ratio - 1.0) - log_ratio).mean())
                batches += 1
        return {name: value / max(batches, 1) for name, value in totals.items()}

    def _block(self, env, timesteps: int) -> tuple[dict, dict]:
        """One update's episodes (fewer at the end of training) and the update."""
        started = time.perf_counter()
        base = unwrapped(env)
        remaining = max(math.ceil((int(timesteps) - self.num_timesteps) / self.horizons), 1)
        count = min(self.config.update_every, remaining)
        block = self._collect(base, count)
        stats = self._update(block)
        possible = self.rounds * self.horizons
        messages = block.rounds.sum(axis=1) * self.messages_per_round
        share = block.rounds.sum(axis=1) / possible
        for c in range(count):
            self.episodes.add(float(block.rewards[c].sum()), True)
        self.episode_phi += [float(x) for x in block.final_phi]
        self.episode_mlu += [float(x) for x in block.final_mlu]
        self.episode_messages += [int(x) for x in messages]
        self.episode_exchange_share += [float(x) for x in share]
        self.num_timesteps += count * self.horizons
        self.num_episodes += count
        self.updates += 1
        self.total_messages += int(messages.sum())
        self.train_seconds += time.perf_counter() - started
        row = {
            "episodes": self.num_episodes, "phi": float(block.final_phi.mean()), "phi_best": float(block.final_phi.min()),
            "messages": float(messages.mean()), "exchange_share": float(share.mean()),
            "readout_messages": self.readout_messages() * self.horizons,
            "memory_size": self.memory.sizes()[0] if self.memory is not None else 0, **stats,
        }  # fmt: skip
        return row, None

    def describe(self) -> dict:
        """The algorithm's name, the seed and every hyperparameter."""
        name = ("MAROH" if self.config.mode == "sequential" else "SAMAROH") + (
            "-2L" if self.config.memory else ""
        )
        return {"algorithm": name, "seed": self.seed, **asdict(self.config)}


def _sample(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of ``probabilities`` [..., K] by inverse transform. Shape [...]."""
    cumulative = np.cumsum(probabilities, axis=-1)
    draws = rng.random(probabilities.shape[:-1])[..., None] * cumulative[..., -1:]
    return np.minimum((cumulative < draws).sum(-1), probabilities.shape[-1] - 1)
