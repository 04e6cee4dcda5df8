"""Graph layers on torch_geometric for rlte's graph agents: MAROH's message passing between link
agents (seed 002) and STRL's graph attention over the topology's nodes (seed 001), with the graphs
they run on and the helpers that batch many states of one graph.

`LinkMessagePassing` is one round of MAROH's exchange: every agent (a node of the agents' graph)
sends ``m_ij = MLP_msg([h_i, h_j])`` along each edge ``j -> i``, the receiver reduces what arrives
by element-wise min and max and updates ``h_i' = MLP_upd([h_i, min_j m_ij, max_j m_ij])``.
`MessagePassingEncoder` applies K rounds and counts the messages sent. `line_graph` builds the
agents' graph of one agent per directed link; `GraphAttention` wraps ``GATConv`` for inputs with any
leading batch dimensions.

Every layer draws its initial weights from a caller's ``torch.Generator``, so one seed gives one
network. Node features are ``[..., N, F]``: leading dimensions are independent copies of the same
graph (a batch of states, a window of time steps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv, MessagePassing

from rlte.agents.common.layers import orthogonal_linear

ADJACENCIES = ("shared_node", "consecutive", "head_to_tail")
"""The link adjacencies `line_graph` knows (see there)."""


# ---------------------------------------------------------------------- networks
def tanh_mlp(sizes: Sequence[int], generator: torch.Generator) -> nn.Sequential:
    """An MLP with tanh after every layer (the last included, so outputs lie in (-1, 1)),
    orthogonal weights drawn from ``generator`` (gain 5/3, tanh's) and zero biases. Torch's global
    random state is left as it was.

    Args:
        sizes: layer widths, input first: ``[in, hidden..., out]``.
        generator: draws the initial weights.

    Returns:
        The network, mapping Shape [..., sizes[0]] to [..., sizes[-1]].
    """
    if len(sizes) < 2 or any(int(size) <= 0 for size in sizes):
        raise ValueError(f"MLP sizes must be at least two positive widths, got {list(sizes)}")
    gain = nn.init.calculate_gain("tanh")
    layers: list[nn.Module] = []
    for inputs, outputs in zip(sizes[:-1], sizes[1:]):
        layers += [orthogonal_linear(inputs, outputs, gain, generator), nn.Tanh()]
    return nn.Sequential(*layers)


class LinkMessagePassing(MessagePassing):
    """One round of MAROH's message passing between agents.

    For every edge ``j -> i`` of ``edge_index`` (row 0 the sender j, row 1 the receiver i) the
    message is ``m_ij = MLP_msg([h_i, h_j])``; receiver i reduces its incoming messages element-wise
    to ``min_j m_ij`` and ``max_j m_ij`` (zeros for an agent that receives nothing) and updates
    ``h_i' = MLP_upd([h_i, min_j m_ij, max_j m_ij])``. Both networks are `tanh_mlp`s, so hidden
    states stay in (-1, 1) however many rounds run.

    Args:
        hidden_size: H, the size of an agent's hidden state (and of a message).
        generator: draws the initial weights (message network first).
        message_sizes: hidden widths of the message network ``2H -> ... -> H``.
        update_sizes: hidden widths of the update network ``3H -> ... -> H``.
    """

    def __init__(
        self,
        hidden_size: int,
        generator: torch.Generator,
        message_sizes: Sequence[int] = (64,),
        update_sizes: Sequence[int] = (128, 64),
    ) -> None:
        # MultiAggregation concatenates [min, max] along the features; node_dim -2 lets
        # [..., N, H] inputs share one edge_index.
        super().__init__(aggr=["min", "max"], node_dim=-2)
        self.hidden_size = int(hidden_size)
        self.message_network = tanh_mlp([2 * self.hidden_size, *message_sizes, self.hidden_size], generator)
        self.update_network = tanh_mlp([3 * self.hidden_size, *update_sizes, self.hidden_size], generator)

    def forward(self, hidden: Tensor, edge_index: Tensor) -> Tensor:
        """One exchange and update.

        Args:
            hidden: every agent's hidden state ``h``. Shape [..., N, H].
            edge_index: who sends to whom, row 0 senders, row 1 receivers. Shape [2, M], int64.

        Returns:
            The new hidden states ``h'``. Shape [..., N, H].
        """
        if hidden.shape[-1] != self.hidden_size:
            raise ValueError(f"hidden states of size {hidden.shape[-1]}, the layer's is {self.hidden_size}")
        aggregated = self.propagate(edge_index, h=hidden)
        # PyG's scatter min/max already fill empty rows with 0; make that a guarantee rather than an
        # implementation detail (an agent without neighbours must not see inf).
        receives = torch.zeros(hidden.shape[-2], dtype=torch.bool, device=hidden.device)
        receives[edge_index[1]] = True
        aggregated = torch.where(receives.unsqueeze(-1), aggregated, torch.zeros_like(aggregated))
        return self.update_network(torch.cat([hidden, aggregated], dim=-1))

    def message(self, h_i: Tensor, h_j: Tensor) -> Tensor:
        """``m_ij = MLP_msg([h_i, h_j])`` for every edge. Shapes [..., M, H] each, returns [..., M, H]."""
        return self.message_network(torch.cat([h_i, h_j], dim=-1))


class MessagePassingEncoder(nn.Module):
    """K rounds of `LinkMessagePassing`, with one set of weights for all rounds or one per round,
    counting the messages the agents send.

    Every round every edge carries one message per graph, so a call on hidden states
    ``[..., N, H]`` sends ``rounds * M * prod(...)`` messages. `last_messages` holds the count of
    the latest call and `messages` the total since construction or `reset_message_count`; the
    counts include calls made only to train (re-evaluating stored states), so a caller that
    reports the messages of acting reads `last_messages` after acting calls.

    Args:
        hidden_size: H.
        rounds: K, the exchange rounds (how far information travels).
        generator: draws the initial weights, round 1 first.
        shared_weights: one `LinkMessagePassing` applied K times (MAROH), else K of their own.
        message_sizes: hidden widths of the message network.
        update_sizes: hidden widths of the update network.
    """

    def __init__(
        self,
        hidden_size: int,
        rounds: int,
        generator: torch.Generator,
        *,
        shared_weights: bool = True,
        message_sizes: Sequence[int] = (64,),
        update_sizes: Sequence[int] = (128, 64),
    ) -> None:
        super().__init__()
        if int(rounds) < 1:
            raise ValueError(f"message passing needs at least one round, got {rounds}")
        self.hidden_size = int(hidden_size)
        self.rounds = int(rounds)
        self.shared_weights = bool(shared_weights)
        self.layers = nn.ModuleList(
            LinkMessagePassing(hidden_size, generator, message_sizes, update_sizes)
            for _ in range(1 if shared_weights else self.rounds)
        )
        self.messages = 0
        self.last_messages = 0

    def forward(self, hidden: Tensor, edge_index: Tensor, *, return_all_rounds: bool = False) -> Tensor:
        """Run the K rounds.

        Args:
            hidden: the initial hidden states. Shape [..., N, H].
            edge_index: the agents' graph, row 0 senders, row 1 receivers. Shape [2, M], int64.
            return_all_rounds: return the states before round 1 and after every round (MAROH's
                memory layer compares those).

        Returns:
            The states after round K, Shape [..., N, H]; with ``return_all_rounds`` the stack of
            the K + 1 states, Shape [K + 1, ..., N, H].
        """
        states = [hidden]
        for k in range(self.rounds):
            layer = self.layers[0 if self.shared_weights else k]
            states.append(layer(states[-1], edge_index))
        self.last_messages = count_messages(edge_index, self.rounds, math.prod(hidden.shape[:-2]))
        self.messages += self.last_messages
        return torch.stack(states) if return_all_rounds else states[-1]

    def reset_message_count(self) -> None:
        """Set `messages` and `last_messages` to 0."""
        self.messages = self.last_messages = 0


def count_messages(edge_index: Tensor, rounds: int, graphs: int = 1) -> int:
    """Messages sent by ``rounds`` rounds of message passing: one per edge, round and graph.

    Args:
        edge_index: the agents' graph. Shape [2, M].
        rounds: K.
        graphs: independent copies of the graph evaluated (a batch of states).

    Returns:
        ``rounds * M * graphs``.
    """
    return int(rounds) * int(edge_index.shape[1]) * int(graphs)


class GraphAttention(nn.Module):
    """A graph attention layer (``torch_geometric.nn.GATConv``) over node features with any
    leading dimensions: ``[N, F]`` for one graph, ``[B, N, F]`` for a batch of states, ``[B, T, N,
    F]`` for a window of time steps. The copies run as one disjoint union of graphs.

    The layer's weights do not depend on the graph, so one layer runs on any edge set over the same
    nodes' features (a topology with a link added or removed). Weights are glorot-uniform and
    biases zero, as GATConv's own initialisation, but drawn from ``generator``; torch's global
    random state is left as it was.

    Args:
        in_channels: F, features per node.
        out_channels: features per head.
        generator: draws the initial weights.
        heads: attention heads.
        concat: concatenate the heads (output ``heads * out_channels``), else average them
            (output ``out_channels``).
        dropout: dropout of the attention coefficients in training mode (drawn from torch's global
            generator, hence 0 by default).
        add_self_loops: every node also attends to itself.
        negative_slope: LeakyReLU slope of the attention scores.
        bias: add a learned bias.

    Attributes:
        out_size: features per node of the output.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        generator: torch.Generator,
        *,
        heads: int = 1,
        concat: bool = True,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        negative_slope: float = 0.2,
        bias: bool = True,
    ) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):  # GATConv's own initialisation draws globally
            self.conv = GATConv(
                int(in_channels),
                int(out_channels),
                heads=int(heads),
                concat=concat,
                dropout=dropout,
                add_self_loops=add_self_loops,
                negative_slope=negative_slope,
                bias=bias,
            )
        self.in_channels = int(in_channels)
        self.out_size = int(out_channels) * (int(heads) if concat else 1)
        with torch.no_grad():
            for name, parameter in self.conv.named_parameters():
                if name.split(".")[-1] == "bias":
                    parameter.zero_()
                else:
                    fan_in, fan_out = parameter.shape[-1], parameter.shape[-2]
                    bound = math.sqrt(6.0 / (fan_in + fan_out))
                    parameter.uniform_(-bound, bound, generator=generator)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Attend over each node's in-neighbours.

        Args:
            x: node features. Shape [..., N, F].
            edge_index: the graph, row 0 sources, row 1 targets (a node attends to the sources of
                its in-edges). Shape [2, M], int64.

        Returns:
            The new node features. Shape [..., N, out_size].
        """
        if x.dim() < 2 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"node features of shape {tuple(x.shape)}, expected [..., N, {self.in_channels}]"
            )
        if x.dim() == 2:
            return self.conv(x, edge_index)
        leading, num_nodes = x.shape[:-2], x.shape[-2]
        copies = math.prod(leading)
        out = self.conv(
            x.reshape(copies * num_nodes, self.in_channels), batch_edge_index(edge_index, num_nodes, copies)
        )
        return out.reshape(*leading, num_nodes, self.out_size)


# ---------------------------------------------------------------------- graphs
def _link_arrays(
    src: np.ndarray | Tensor | Sequence[int], dst: np.ndarray | Tensor | Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    if src.ndim != 1 or src.shape != dst.shape:
        raise ValueError(
            f"link arrays src and dst must be 1-D of one length, got {src.shape} and {dst.shape}"
        )
    if src.size and min(src.min(), dst.min()) < 0:
        raise ValueError("link arrays src and dst must hold node indices >= 0")
    return src, dst


def topology_edge_index(
    src: np.ndarray | Tensor | Sequence[int], dst: np.ndarray | Tensor | Sequence[int]
) -> Tensor:
    """The topology itself as an ``edge_index`` (nodes are nodes, link e is edge e), for layers
    over the nodes such as STRL's `GraphAttention`.

    Args:
        src: each link's source node (``Topology.src``). Shape [E].
        dst: each link's destination node. Shape [E].

    Returns:
        ``[src; dst]``. Shape [2, E], int64.
    """
    src, dst = _link_arrays(src, dst)
    return torch.from_numpy(np.stack([src, dst]))


def line_graph(
    src: np.ndarray | Tensor | Sequence[int],
    dst: np.ndarray | Tensor | Sequence[int],
    adjacency: str = "shared_node",
) -> Tensor:
    """The agents' graph for one agent per directed link: node a is link a, and edge ``a -> b``
    means agent a sends its hidden state to agent b.

    Adjacencies (never a link to itself):

    - ``"shared_node"`` (default): a and b share an endpoint, ``{src[a], dst[a]} & {src[b], dst[b]}``
      is not empty, so a link exchanges with its reverse, with the links leaving or entering the
      same node (the ones its weight competes with for a node's traffic) and with those that
      continue or feed it. Symmetric. Our reading of MAROH's "neighbours are agents on adjacent
      nodes": every agent talks to every link touching its own two nodes.
    - ``"consecutive"``: a's head is b's tail or b's head is a's tail (``dst[a] == src[b]`` or
      ``dst[b] == src[a]``): the links traffic can pass on to or come from, both directions.
      Symmetric.
    - ``"head_to_tail"``: ``dst[a] == src[b]`` only, the directed line graph (a tells the links its
      traffic can continue on).

    Args:
        src: each link's source node (``Topology.src``). Shape [E].
        dst: each link's destination node. Shape [E].
        adjacency: one of ``ADJACENCIES``.

    Returns:
        ``edge_index``, row 0 senders, row 1 receivers, sorted by sender then receiver.
        Shape [2, M], int64.
    """
    if adjacency not in ADJACENCIES:
        raise ValueError(f"unknown adjacency {adjacency!r} (known: {', '.join(ADJACENCIES)})")
    src, dst = _link_arrays(src, dst)
    head_to_tail = dst[:, None] == src[None, :]
    if adjacency == "head_to_tail":
        adjacent = head_to_tail
    elif adjacency == "consecutive":
        adjacent = head_to_tail | head_to_tail.T
    else:
        adjacent = (
            head_to_tail | head_to_tail.T | (src[:, None] == src[None, :]) | (dst[:, None] == dst[None, :])
        )
    np.fill_diagonal(adjacent, False)
    senders, receivers = np.nonzero(adjacent)
    return torch.from_numpy(np.stack([senders, receivers]).astype(np.int64))


# ---------------------------------------------------------------------- batching
def batch_edge_index(edge_index: Tensor, num_nodes: int, batch_size: int) -> Tensor:
    """The ``edge_index`` of ``batch_size`` disjoint copies of one graph: copy b's nodes are
    ``b * num_nodes ... (b + 1) * num_nodes - 1``, its edges those of ``edge_index`` shifted so.

    Args:
        edge_index: one graph. Shape [2, M], int64.
        num_nodes: N, nodes of one graph.
        batch_size: B, the copies.

    Returns:
        The union, copy 0's edges first. Shape [2, B * M], int64.
    """
    offsets = torch.arange(int(batch_size), device=edge_index.device, dtype=edge_index.dtype) * int(num_nodes)
    return (edge_index.unsqueeze(1) + offsets.view(1, -1, 1)).reshape(2, -1)


def batch_vector(num_nodes: int, batch_size: int) -> Tensor:
    """Which copy each node of `batch_edge_index`'s union belongs to (PyG's ``batch``, for pooling).

    Args:
        num_nodes: N.
        batch_size: B.

    Returns:
        ``[0] * N + [1] * N + ...``. Shape [B * N], int64.
    """
    return torch.arange(int(batch_size)).repeat_interleave(int(num_nodes))
