"""STRL, spatial-temporal reinforcement learning for packet routing (seed 001): a DDPG agent whose
actor reads a window of per-node delays with a GRU and a temporal attention over its hidden
states, then mixes the nodes over the topology with a graph attention layer, and scores every node.

The observation is ``S`` [W, N, F]: W hours (oldest first), N nodes, F features per node (the
paper's 24 x 14 x 5: a node delay and up to four outgoing-link delays). The action is one
efficiency score per node in [-1, 1]; the environment turns the scores into paths.

The actor (`STRLActor`, ``variant="strl"``), per node i and with one set of weights for every
node, so the network is equivariant to renumbering the nodes:

1. ``H_i = ReLU(GRU(S[:, i, :]))``, the hidden states of the node's own sequence, [W, d]
   (d = ``latent_size``, the paper's 70);
2. ``H^A_i = TemporalAttention(H_i)`` (the paper's equations 2-7, see `TemporalAttention`), and
   its last step ``z_i = H^A_i[W]``, [d];
3. ``h_i = ELU(GAT(z)_i)``: one graph attention layer over the topology's directed links
   (`rlte.agents.common.graph.GraphAttention`; every node also attends to itself);
4. ``a_i = tanh(MLP(h_i))``, the node's score.

The paper's two ablations: ``"trl"`` (temporal only) feeds ``ReLU(h^W_i)``, the GRU's last hidden
state, to the MLP (no attention, no GAT); ``"srl"`` (spatial only) feeds the GAT of the latest
hour's features ``S[W, :, :]`` (no GRU).

Learning is DDPG's (`rlte.agents.ddpg`): the critic is the default MLP critic on the flattened
state and action, exploration, the replay buffer and the checkpoints are the off-policy base's.
The paper's batch of 32 is the default. Both networks see the observations multiplied by
``observation_scale`` (0.1: delays of order 10 to order 1; rlte's choice, the paper does not say
how it scales its inputs): the default critic's first tanh layer sums all W N F of them, and on
values of order 10 it saturates and its gradient in the action vanishes (on the tests' 4-node
ring, DDPG with unscaled features of order 10 does not learn at all; scaled, it does). The graph is not a parameter: the agent reads it from the
environment's ``graph()`` (`rlte.envs.contract.GraphObservation`) when it builds its networks, so
a resumed run rebuilds it from its environment, and `STRLAgent.bind` moves a trained actor to
another topology over the same nodes (the paper's evaluation with two links added) without
retraining.

rlte's choices where the paper says nothing: attention scores scaled by ``1 / sqrt(d_k)``; no
biases in the attention's projections (the paper writes none); ELU after the GAT layer (the GAT
paper's); GRU weights and the attention's projections drawn uniformly in ``+-1 / sqrt(fan_in)``
(torch's own scheme), the MLP orthogonal with a last-layer gain of 0.01 so the first scores are
near 0, all from the caller's generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional

from rlte.agents.common.actor_critic import mlp
from rlte.agents.common.graph import GraphAttention
from rlte.agents.common.off_policy import CriticFactory, OffPolicyConfig
from rlte.agents.ddpg import DDPGAgent
from rlte.envs.contract import unwrapped
from rlte.errors import RlteError
from rlte.options import option

VARIANTS = ("strl", "trl", "srl")
"""The actor's variants: the paper's STRL and its two ablations, TRL (temporal) and SRL (spatial)."""


def _uniform_(parameter: Tensor, fan_in: int, generator: torch.Generator) -> None:
    """Fill ``parameter`` uniformly in ``[-1 / sqrt(fan_in), 1 / sqrt(fan_in)]`` from ``generator``."""
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        parameter.uniform_(-bound, bound, generator=generator)


def _linear(inputs: int, outputs: int, generator: torch.Generator) -> nn.Linear:
    """A bias-free linear layer, weights uniform in ``+-1 / sqrt(inputs)`` from ``generator``."""
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own initialisation draws globally
        linear = nn.Linear(int(inputs), int(outputs), bias=False)
    _uniform_(linear.weight, int(inputs), generator)
    return linear


# ---------------------------------------------------------------------- temporal attention
class TemporalAttention(nn.Module):
    """Causal self-attention over a sequence of hidden states (the paper's equations 2-7).

    With the hidden states ``H`` [T, d] of one sequence (rows ``h_1 ... h_T``)::

        Q = H W_Q,   K = H W_K,   V = H W_V                       (no biases)
        alpha_ij = exp(k_j . q_i / sqrt(d_k)) / sum_{j' <= i} exp(k_j' . q_i / sqrt(d_k))   j <= i
        alpha_ij = 0                                                                         j > i
        h^a_i = sum_{j <= i} alpha_ij v_j
        H^A = (H * H^a) W_A                                       (* element-wise)

    so step i sees only steps 1 ... i. The paper's scores are ``k_j . q_i``; the scale
    ``1 / sqrt(d_k)`` is rlte's choice (Vaswani et al.'s), which keeps the softmax from saturating
    at initialisation. ``d_v = d``, so that the Hadamard product ``H * H^a`` is defined.

    Args:
        size: d, the size of a hidden state.
        generator: draws the initial weights (W_Q, W_K, W_V, W_A in that order), uniform in
            ``+-1 / sqrt(fan_in)``; torch's global random state is left as it was.
        key_size: d_q = d_k (default d).
        output_size: d', the size of an output step (default d).
    """

    def __init__(
        self,
        size: int,
        generator: torch.Generator,
        *,
        key_size: int | None = None,
        output_size: int | None = None,
    ) -> None:
        super().__init__()
        self.size = int(size)
        self.key_size = int(key_size) if key_size is not None else self.size
        self.output_size = int(output_size) if output_size is not None else self.size
        if min(self.size, self.key_size, self.output_size) < 1:
            raise ValueError(
                f"attention sizes must be positive, got size {size}, key_size {key_size}, output_size {output_size}"
            )
        self.query = _linear(self.size, self.key_size, generator)
        self.key = _linear(self.size, self.key_size, generator)
        self.value = _linear(self.size, self.size, generator)
        self.output = _linear(self.size, self.output_size, generator)

    def weights(self, hidden: Tensor) -> Tensor:
        """The attention weights ``alpha``.

        Args:
            hidden: H. Shape [..., T, d].

        Returns:
            ``alpha[..., i, j]``: rows sum to 1, zeros above the diagonal. Shape [..., T, T].
        """
        if hidden.dim() < 2 or hidden.shape[-1] != self.size:
            raise ValueError(f"hidden states of shape {tuple(hidden.shape)}, expected [..., T, {self.size}]")
        scores = self.query(hidden) @ self.key(hidden).transpose(-1, -2) / math.sqrt(self.key_size)
        steps = hidden.shape[-2]
        future = torch.ones(steps, steps, dtype=torch.bool, device=hidden.device).triu(1)
        # the diagonal is never masked, so no row is all -inf
        return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)

    def forward(self, hidden: Tensor, *, return_weights: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """``H^A = W_A (H * H^a)``.

        Args:
            hidden: H, the (ReLU'd) GRU states. Shape [..., T, d].
            return_weights: also return ``alpha`` (see `weights`).

        Returns:
            H^A, Shape [..., T, d']; with ``return_weights`` also alpha, Shape [..., T, T].
        """
        alpha = self.weights(hidden)
        context = alpha @ self.value(hidden)
        attended = self.output(hidden * context)
        return (attended, alpha) if return_weights else attended

    def last(self, hidden: Tensor) -> Tensor:
        """The last step of `forward`'s output, ``H^A[..., T - 1, :]``, computed without the other
        steps' queries and outputs: with ``q = h_T W_Q``, the scores are ``k_j . q = h_j . (W_K q)``
        and the context ``sum_j alpha_Tj h_j W_V = (sum_j alpha_Tj h_j) W_V``, so every linear map
        acts on one vector per sequence instead of T (the same numbers, to rounding, for a fraction
        of the cost: the actor needs only the last step).

        Args:
            hidden: H. Shape [..., T, d].

        Returns:
            Shape [..., d'].
        """
        if hidden.dim() < 2 or hidden.shape[-1] != self.size:
            raise ValueError(f"hidden states of shape {tuple(hidden.shape)}, expected [..., T, {self.size}]")
        final = hidden[..., -1, :]
        query = self.query(final)  # [..., d_k]
        probe = query @ self.key.weight  # W_K q, in the hidden space: [..., d]
        scores = (hidden @ probe.unsqueeze(-1)).squeeze(-1) / math.sqrt(self.key_size)  # [..., T]
        alpha = torch.softmax(scores, dim=-1)  # the last step attends to every step
        pooled = (alpha.unsqueeze(-2) @ hidden).squeeze(-2)  # sum_j alpha_Tj h_j: [..., d]
        return self.output(final * self.value(pooled))


# ---------------------------------------------------------------------- the actor
class STRLActor(nn.Module):
    """STRL's actor, or one of its ablations (see the module docstring): observations
    [B, W, N, F] to node scores in [-1, 1], [B, N].

    Every node runs through the same GRU, attention and MLP, and the GAT's weights do not depend
    on the edges, so renumbering the nodes (the observation's node axis and ``edge_index`` alike)
    renumbers the scores, and `set_graph` moves the actor to another edge set over the same nodes.

    Matches `rlte.agents.common.off_policy.ActorFactory` through ``functools.partial`` over the
    keyword arguments.

    Args:
        observation_shape: ``(W, N, F)``.
        action_size: A, must be N (one score per node).
        generator: draws every initial weight (GRU, attention, GAT, MLP in that order); torch's
            global random state is left as it was.
        edge_index: the topology's directed links, row 0 sources, row 1 targets (a node attends
            to the sources of its in-links). Shape [2, E], int64, values in [0, N).
        variant: ``"strl"``, ``"trl"`` (GRU only) or ``"srl"`` (GAT only).
        latent_size: d, the GRU's hidden size (the paper's 70).
        gat_size: features per head of the GAT layer.
        gat_heads: attention heads of the GAT layer (concatenated).
        hidden_sizes: hidden layer sizes of the per-node MLP.
        observation_scale: observations are multiplied by this first (see `STRLConfig`).

    Raises:
        ValueError: an unknown variant, a shape that is not [W, N, F], A != N, or a bad edge_index.
    """

    def __init__(
        self,
        observation_shape: Sequence[int],
        action_size: int,
        generator: torch.Generator,
        edge_index: Tensor | np.ndarray,
        *,
        variant: str = "strl",
        latent_size: int = 70,
        gat_size: int = 32,
        gat_heads: int = 1,
        hidden_sizes: Sequence[int] = (64,),
        observation_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown STRL variant {variant!r} (known: {', '.join(VARIANTS)})")
        shape = tuple(int(size) for size in observation_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"STRL needs observations of shape [W, N, F], got {list(observation_shape)}")
        self.window, self.num_nodes, self.num_features = shape
        if int(action_size) != self.num_nodes:
            raise ValueError(
                f"STRL scores every node: the action size must be N = {self.num_nodes}, got {action_size}"
            )
        if min(int(latent_size), int(gat_size), int(gat_heads), *(int(size) for size in hidden_sizes)) < 1:
            raise ValueError(
                f"STRL sizes must be positive, got latent_size {latent_size}, gat_size {gat_size}, "
                f"gat_heads {gat_heads}, hidden_sizes {list(hidden_sizes)}"
            )
        if not (math.isfinite(float(observation_scale)) and float(observation_scale) > 0):
            raise ValueError(f"observation_scale must be a positive number, got {observation_scale}")
        self.variant, self.latent_size = variant, int(latent_size)
        self.observation_scale = float(observation_scale)
        self.edge_index = self._checked_edges(edge_index)

        self.gru = self.attention = self.gat = None
        features = self.num_features
        if variant in ("strl", "trl"):
            with torch.random.fork_rng(devices=[]):  # nn.GRU's own initialisation draws globally
                self.gru = nn.GRU(self.num_features, self.latent_size, batch_first=True)
            for parameter in self.gru.parameters():  # torch's scheme, from the generator
                _uniform_(parameter, self.latent_size, generator)
            features = self.latent_size
        if variant == "strl":
            self.attention = TemporalAttention(self.latent_size, generator)
        if variant in ("strl", "srl"):
            self.gat = GraphAttention(features, int(gat_size), generator, heads=int(gat_heads))
            features = self.gat.out_size
        with torch.random.fork_rng(devices=[]):  # mlp's nn.Linear layers draw globally first
            self.head = mlp([features, *(int(size) for size in hidden_sizes), 1], generator, output_gain=0.01)

    def _checked_edges(self, edge_index: Tensor | np.ndarray) -> Tensor:
        edges = torch.as_tensor(np.asarray(edge_index))
        if edges.dim() != 2 or edges.shape[0] != 2:
            raise ValueError(f"edge_index must have shape [2, E], got {list(edges.shape)}")
        if edges.dtype.is_floating_point or edges.dtype == torch.bool:
            raise ValueError(f"edge_index must hold integer node indices, got {edges.dtype}")
        edges = edges.to(torch.int64)
        if edges.numel() and (edges.min() < 0 or edges.max() >= self.num_nodes):
            raise ValueError(
                f"edge_index holds node {int(edges.min()) if edges.min() < 0 else int(edges.max())}, "
                f"outside the {self.num_nodes} nodes [0, {self.num_nodes})"
            )
        return edges.contiguous()

    def set_graph(self, edge_index: Tensor | np.ndarray) -> None:
        """Run on another set of directed links over the same N nodes (the weights stay).

        Args:
            edge_index: row 0 sources, row 1 targets. Shape [2, E'], int64, values in [0, N).

        Raises:
            ValueError: a bad shape or a node outside [0, N).
        """
        self.edge_index = self._checked_edges(edge_index)

    def _check(self, observations: Tensor) -> None:
        wanted = (self.window, self.num_nodes, self.num_features)
        if observations.dim() != 4 or tuple(observations.shape[1:]) != wanted:
            raise ValueError(
                f"observations of shape {tuple(observations.shape)}, expected [B, {', '.join(map(str, wanted))}]"
            )

    def _states(self, observations: Tensor) -> Tensor:
        """ReLU'd GRU states of each node's own sequence (observations already scaled).
        Shapes: [B, W, N, F] -> [B, N, W, d]."""
        batch = observations.shape[0]
        sequences = observations.transpose(1, 2).reshape(
            batch * self.num_nodes, self.window, self.num_features
        )
        states, _ = self.gru(sequences)
        return torch.relu(states).reshape(batch, self.num_nodes, self.window, self.latent_size)

    def hidden_states(self, observations: Tensor) -> Tensor:
        """The GRU's hidden states after the ReLU, per node and hour (the paper's Figure 4).

        Args:
            observations: Shape [B, W, N, F].

        Returns:
            ``H``. Shape [B, N, W, latent_size].

        Raises:
            ValueError: for the ``"srl"`` variant, which has no GRU.
        """
        if self.gru is None:
            raise ValueError("the 'srl' STRL actor has no GRU, hence no hidden states")
        self._check(observations)
        return self._states(observations * self.observation_scale)

    def forward(self, observations: Tensor) -> Tensor:
        """Score every node.

        Args:
            observations: Shape [B, W, N, F].

        Returns:
            Scores in [-1, 1]. Shape [B, N].
        """
        self._check(observations)
        observations = observations * self.observation_scale
        if self.variant == "srl":
            nodes = observations[:, -1]
        else:
            states = self._states(observations)
            nodes = self.attention.last(states) if self.attention is not None else states[..., -1, :]
        if self.gat is not None:
            nodes = functional.elu(self.gat(nodes, self.edge_index))
        return torch.tanh(self.head(nodes).squeeze(-1))


# ---------------------------------------------------------------------- the agent
@dataclass
class STRLConfig(OffPolicyConfig):
    """Hyperparameters of STRL: DDPG's (`OffPolicyConfig`), the paper's batch, and the actor's.
    The base's ``hidden_sizes`` (its default MLP actor's) is unused: ``actor_hidden_sizes`` sizes
    STRL's scoring MLP."""

    batch_size: int = option(32, ge=1)
    """Transitions per gradient step (the paper's 32; drawn uniformly, with replacement)."""
    variant: Literal["strl", "trl", "srl"] = "strl"
    """The actor: STRL (GRU, attention, GAT), TRL (GRU only) or SRL (GAT only)."""
    latent_size: int = option(70, ge=1)
    """Hidden size of the actor's GRU (the paper's 70)."""
    gat_size: int = option(32, ge=1)
    """Features per head of the actor's graph attention layer."""
    gat_heads: int = option(1, ge=1)
    """Attention heads of the actor's graph attention layer (concatenated)."""
    actor_hidden_sizes: tuple[int, ...] = option((64,), ge=1)
    """Hidden layer sizes of the actor's per-node scoring MLP."""
    observation_scale: float = option(0.1, gt=0.0)
    """Factor on the observations before the actor and the critic see them (delays near [0, 10] to [0, 1])."""


class ScaledCritic(nn.Module):
    """``Q(scale * o, a)``: a critic that sees rescaled observations (the buffer keeps them as
    the environment gave them).

    Args:
        critic: maps observations [B, ...] and actions [B, A] to Q-values [B].
        scale: the factor on the observations.
    """

    def __init__(self, critic: nn.Module, scale: float) -> None:
        super().__init__()
        self.critic, self.scale = critic, float(scale)

    def forward(self, observations: Tensor, actions: Tensor) -> Tensor:
        """Shapes: [B, *observation_shape] and [B, A] -> [B]."""
        return self.critic(observations * self.scale, actions)


def _scaled_critic(critic_factory, scale: float, observation_shape, action_size, generator) -> ScaledCritic:
    return ScaledCritic(critic_factory(observation_shape, action_size, generator), scale)


class STRLAgent(DDPGAgent):
    """DDPG with STRL's actor (or TRL's, SRL's); see the module docstring.

    The environment must be a Gymnasium env with observations [W, N, F], actions of shape [N] and
    ``graph()`` (`rlte.envs.contract.GraphObservation`, callable before the first reset) whose
    ``edge_index`` holds the topology's directed links.

    Args:
        params: `STRLConfig` fields.
        seed: seeds the learner's torch generator (weights) and numpy generator (warm-up actions,
            exploration noise, minibatches, the environment's first reset).
        critic_factory: builds the critic (`rlte.agents.common.off_policy.CriticFactory`; default
            MLP on the flattened state and the action); it sees the observations times
            ``observation_scale`` (`ScaledCritic`).
    """

    NAME, ALGORITHM = "strl", "STRL"
    CONFIG = STRLConfig

    def __init__(
        self, params: dict | None = None, seed: int = 0, *, critic_factory: CriticFactory | None = None
    ) -> None:
        super().__init__(params, seed, critic_factory=critic_factory)
        # the base made the default critic when none was given; both see scaled observations
        self.critic_factory = partial(_scaled_critic, self.critic_factory, self.config.observation_scale)

    def _graph(self, env, where: str):
        base = unwrapped(env)
        if not callable(getattr(base, "graph", None)):
            raise RlteError(f"{self.NAME}: {where} needs an environment with graph() (the rlte env contract)")
        return base.graph()

    def _build(self, env) -> None:
        config = self.config
        graph = self._graph(env, "training")
        self.actor_factory = partial(
            STRLActor,
            edge_index=graph.edge_index,
            variant=config.variant,
            latent_size=config.latent_size,
            gat_size=config.gat_size,
            gat_heads=config.gat_heads,
            hidden_sizes=config.actor_hidden_sizes,
            observation_scale=config.observation_scale,
        )
        try:
            super()._build(env)
        except ValueError as err:  # the actor's shape checks, as one line naming the agent
            raise RlteError(f"{self.NAME}: {err}") from None

    def bind(self, env) -> None:
        """Switch the trained actor (and its target) to ``env``'s topology, for evaluation on
        another edge set over the same nodes (the paper's topology with links added); the weights
        stay as trained.

        Args:
            env: an environment with the training environment's observation shape and
                ``graph()``.

        Raises:
            RlteError: before training, or when ``env``'s observations or node count differ from
                the training environment's, or its graph names a node that does not exist.
        """
        if self.actor is None:
            raise RlteError(f"{self.NAME}: train() it before binding it to an environment")
        graph = self._graph(env, "bind")
        shape = tuple(int(size) for size in getattr(env.observation_space, "shape", ()) or ())
        nodes = int(np.shape(graph.node_features)[-2]) if np.ndim(graph.node_features) >= 2 else None
        if shape != self.observation_shape or nodes != self.actor.num_nodes:
            raise RlteError(
                f"{self.NAME}: cannot bind to an environment with observations {list(shape)} and "
                f"{nodes} nodes: the actor was trained on {list(self.observation_shape)} and "
                f"{self.actor.num_nodes} nodes"
            )
        try:
            self.actor.set_graph(graph.edge_index)
            self.actor_target.set_graph(graph.edge_index)
        except ValueError as err:
            raise RlteError(f"{self.NAME}: bind: {err}") from None

    def describe(self) -> dict:
        """The variant's name (STRL, TRL or SRL) as the algorithm, the learner (DDPG), the seed
        and every hyperparameter."""
        return {**super().describe(), "algorithm": self.config.variant.upper(), "learner": "DDPG"}


__all__ = ["VARIANTS", "STRLActor", "STRLAgent", "STRLConfig", "ScaledCritic", "TemporalAttention"]
