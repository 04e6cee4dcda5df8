"""The graph layers: hand-computed aggregation, line graphs listed by hand, permutation
equivariance, batched against looped evaluation, message counts and seeded weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rlte.agents.common.graph import (
    ADJACENCIES,
    GraphAttention,
    LinkMessagePassing,
    MessagePassingEncoder,
    batch_edge_index,
    batch_vector,
    count_messages,
    line_graph,
    tanh_mlp,
    topology_edge_index,
)

# small tensors: one thread is much faster than contending for the shared cores
torch.set_num_threads(1)

HIDDEN = 6


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_graph(num_nodes: int, num_edges: int, seed: int) -> torch.Tensor:
    """Distinct directed edges without self-loops; node num_nodes - 1 receives nothing."""
    rng = np.random.default_rng(seed)
    pairs = [(u, v) for u in range(num_nodes) for v in range(num_nodes - 1) if u != v]
    chosen = rng.choice(len(pairs), size=num_edges, replace=False)
    return torch.tensor([pairs[i] for i in sorted(chosen)], dtype=torch.long).T


def renumber(edge_index: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """The same graph with new node k being old node permutation[k]."""
    inverse = torch.empty_like(permutation)
    inverse[permutation] = torch.arange(len(permutation))
    return inverse[edge_index]


def edges(edge_index: torch.Tensor) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in edge_index.T]


# ---------------------------------------------------------------------- aggregation by hand
class SenderMinusTwiceReceiver(nn.Module):
    """A message network with a result known by hand: m_ij = h_j - 2 h_i."""

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        receiver, sender = pair.chunk(2, dim=-1)
        return sender - 2 * receiver


def test_min_max_aggregation_equals_hand_computation():
    layer = LinkMessagePassing(2, generator())
    layer.message_network = SenderMinusTwiceReceiver()
    layer.update_network = nn.Identity()  # the output is then [h, min, max]
    hidden = torch.tensor([[1.0, 5.0], [3.0, -1.0], [0.0, 2.0]])
    edge_index = torch.tensor([[0, 1, 0], [2, 2, 1]])  # 0 -> 2, 1 -> 2, 0 -> 1; node 0 receives nothing
    out = layer(hidden, edge_index)
    # node 2: m_20 = h0 - 2 h2 = [1, 1], m_21 = h1 - 2 h2 = [3, -5]; node 1: m_10 = h0 - 2 h1 = [-5, 7]
    expected = torch.tensor(
        [
            [1.0, 5.0, 0.0, 0.0, 0.0, 0.0],
            [3.0, -1.0, -5.0, 7.0, -5.0, 7.0],
            [0.0, 2.0, 1.0, -5.0, 3.0, 1.0],
        ]
    )
    torch.testing.assert_close(out, expected)


def test_layer_equals_its_formula_with_its_own_networks():
    layer = LinkMessagePassing(HIDDEN, generator(3), message_sizes=(5,), update_sizes=(7, 4))
    hidden = torch.randn(3, HIDDEN, generator=generator(4))
    edge_index = torch.tensor([[0, 1, 0], [2, 2, 1]])
    message = {(i, j): layer.message_network(torch.cat([hidden[i], hidden[j]])) for j, i in edges(edge_index)}
    rows = []
    for i in range(3):
        incoming = torch.stack(
            [m for (receiver, _), m in message.items() if receiver == i] or [torch.zeros(HIDDEN)]
        )
        rows.append(torch.cat([hidden[i], incoming.min(0).values, incoming.max(0).values]))
    torch.testing.assert_close(layer(hidden, edge_index), layer.update_network(torch.stack(rows)))
    assert [m.out_features for m in layer.message_network if isinstance(m, nn.Linear)] == [5, HIDDEN]
    assert [m.out_features for m in layer.update_network if isinstance(m, nn.Linear)] == [7, 4, HIDDEN]


def test_isolated_agents_aggregate_zeros_not_inf():
    layer = LinkMessagePassing(HIDDEN, generator())
    layer.update_network = nn.Identity()
    out = layer(torch.randn(4, HIDDEN, generator=generator(1)), torch.tensor([[0], [1]]))
    assert torch.isfinite(out).all()
    assert (out[[0, 2, 3], HIDDEN:] == 0).all()
    assert (out[1, HIDDEN:] != 0).any()
    # no edges at all
    out = layer(torch.randn(2, 3, HIDDEN), torch.zeros((2, 0), dtype=torch.long))
    assert (out[..., HIDDEN:] == 0).all()


# ---------------------------------------------------------------------- line graphs
def ring_links() -> tuple[list[int], list[int]]:
    """4-node ring 0-1-2-3-0, both directions: links (0,1) (1,0) (1,2) (2,1) (2,3) (3,2) (3,0) (0,3)."""
    pairs = [(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (3, 0), (0, 3)]
    return [u for u, _ in pairs], [v for _, v in pairs]


def test_line_graph_of_a_ring_head_to_tail():
    src, dst = ring_links()
    expected = [(0, 1), (0, 2), (1, 0), (1, 7), (2, 3), (2, 4), (3, 1), (3, 2),
                (4, 5), (4, 6), (5, 3), (5, 4), (6, 0), (6, 7), (7, 5), (7, 6)]  # fmt: skip
    assert edges(line_graph(src, dst, "head_to_tail")) == expected


def test_line_graph_of_a_ring_shared_node():
    src, dst = ring_links()
    graph = line_graph(src, dst)  # shared_node is the default
    assert graph.dtype == torch.long and graph.shape == (2, 8 * 5)
    # link 0 = (0,1) touches nodes 0 and 1: links (1,0) (1,2) (2,1) (3,0) (0,3)
    assert [b for a, b in edges(graph) if a == 0] == [1, 2, 3, 6, 7]
    # link 4 = (2,3): links (1,2) (2,1) (3,2) (3,0) (0,3)
    assert [b for a, b in edges(graph) if a == 4] == [2, 3, 5, 6, 7]
    assert set(edges(graph)) == {(b, a) for a, b in edges(graph)}


def test_line_graph_of_a_small_directed_graph():
    # links 0:(0,1) 1:(1,2) 2:(2,0) 3:(0,2)
    src, dst = np.array([0, 1, 2, 0]), np.array([1, 2, 0, 2])
    assert edges(line_graph(src, dst, "head_to_tail")) == [(0, 1), (1, 2), (2, 0), (2, 3), (3, 2)]
    assert edges(line_graph(src, dst, "consecutive")) == [
        (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 3), (3, 2)
    ]  # fmt: skip
    # shared_node adds (0,1)-(0,2) sharing tail 0 and (1,2)-(0,2) sharing head 2
    assert edges(line_graph(src, dst, "shared_node")) == [
        (a, b) for a in range(4) for b in range(4) if a != b
    ]


def test_line_graph_rejects_bad_input():
    with pytest.raises(ValueError, match="adjacency"):
        line_graph([0, 1], [1, 0], "both")
    with pytest.raises(ValueError, match="one length"):
        line_graph([0, 1], [1])
    with pytest.raises(ValueError, match=">= 0"):
        line_graph([0, -1], [1, 0])
    assert set(ADJACENCIES) == {"shared_node", "consecutive", "head_to_tail"}


def test_topology_edge_index_and_batching_helpers():
    assert edges(topology_edge_index([0, 1, 2], [1, 2, 0])) == [(0, 1), (1, 2), (2, 0)]
    edge_index = torch.tensor([[0, 1], [1, 2]])
    assert edges(batch_edge_index(edge_index, 3, 3)) == [(0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8)]
    assert batch_vector(2, 3).tolist() == [0, 0, 1, 1, 2, 2]


# ---------------------------------------------------------------------- equivariance
@pytest.mark.parametrize("shared_weights", [True, False])
def test_message_passing_is_permutation_equivariant(shared_weights):
    num_nodes = 9
    edge_index = random_graph(num_nodes, 20, seed=1)
    hidden = torch.rand(num_nodes, HIDDEN, generator=generator(2)) * 2 - 1
    permutation = torch.randperm(num_nodes, generator=generator(3))
    layer = LinkMessagePassing(HIDDEN, generator())
    torch.testing.assert_close(
        layer(hidden[permutation], renumber(edge_index, permutation)), layer(hidden, edge_index)[permutation]
    )
    encoder = MessagePassingEncoder(HIDDEN, 3, generator(), shared_weights=shared_weights)
    torch.testing.assert_close(
        encoder(hidden[permutation], renumber(edge_index, permutation)),
        encoder(hidden, edge_index)[permutation],
    )


@pytest.mark.parametrize("heads,concat", [(1, True), (3, True), (3, False)])
def test_graph_attention_is_permutation_equivariant(heads, concat):
    num_nodes = 8
    edge_index = random_graph(num_nodes, 18, seed=5)
    x = torch.randn(num_nodes, 4, generator=generator(6))
    permutation = torch.randperm(num_nodes, generator=generator(7))
    attention = GraphAttention(4, 5, generator(), heads=heads, concat=concat)
    out = attention(x, edge_index)
    assert out.shape == (num_nodes, attention.out_size) and attention.out_size == (5 * heads if concat else 5)
    torch.testing.assert_close(attention(x[permutation], renumber(edge_index, permutation)), out[permutation])


# ---------------------------------------------------------------------- rounds and messages
def test_encoder_rounds_and_message_counts():
    src, dst = ring_links()
    agents_graph = line_graph(src, dst)
    encoder = MessagePassingEncoder(HIDDEN, 4, generator())
    hidden = torch.randn(8, HIDDEN, generator=generator(1))
    states = encoder(hidden, agents_graph, return_all_rounds=True)
    assert states.shape == (5, 8, HIDDEN)
    torch.testing.assert_close(states[0], hidden)
    layer = encoder.layers[0]
    torch.testing.assert_close(states[2], layer(layer(hidden, agents_graph), agents_graph))
    assert encoder.last_messages == encoder.messages == 4 * 40
    encoder(torch.randn(3, 8, HIDDEN), agents_graph)  # three states at once: three times the messages
    assert encoder.last_messages == 3 * 4 * 40 and encoder.messages == 4 * 4 * 40
    assert count_messages(agents_graph, 4, 3) == encoder.last_messages
    encoder.reset_message_count()
    assert encoder.messages == encoder.last_messages == 0
    per_round = MessagePassingEncoder(HIDDEN, 2, generator(), shared_weights=False)
    assert len(per_round.layers) == 2 and len(encoder.layers) == 1
    per_round(hidden, agents_graph)
    assert per_round.last_messages == 2 * 40


def test_encoder_is_differentiable_and_bounded():
    edge_index = random_graph(6, 12, seed=0)
    encoder = MessagePassingEncoder(HIDDEN, 8, generator(), shared_weights=False)
    out = encoder(torch.randn(6, HIDDEN, generator=generator(1)) * 10, edge_index)
    assert out.abs().max() < 1
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in encoder.parameters())


# ---------------------------------------------------------------------- batching
def test_batched_evaluation_equals_a_loop():
    num_nodes = 7
    edge_index = random_graph(num_nodes, 15, seed=2)
    encoder = MessagePassingEncoder(HIDDEN, 3, generator(), shared_weights=False)
    hidden = torch.randn(4, num_nodes, HIDDEN, generator=generator(1))
    torch.testing.assert_close(
        encoder(hidden, edge_index), torch.stack([encoder(h, edge_index) for h in hidden])
    )
    all_rounds = encoder(hidden, edge_index, return_all_rounds=True)
    assert all_rounds.shape == (4, 4, num_nodes, HIDDEN)
    torch.testing.assert_close(all_rounds[:, 2], encoder(hidden[2], edge_index, return_all_rounds=True))

    attention = GraphAttention(3, 4, generator(), heads=2)
    x = torch.randn(2, 5, num_nodes, 3, generator=generator(2))  # [B, T, N, F]
    looped = torch.stack([torch.stack([attention(x_t, edge_index) for x_t in x_b]) for x_b in x])
    torch.testing.assert_close(attention(x, edge_index), looped)
    torch.testing.assert_close(attention(x[0], edge_index), looped[0])


def test_graph_attention_runs_on_a_topology_with_extra_links():
    # a 5-node ring, then the same weights on the ring plus the chords 0 -> 2 and 3 -> 1
    ring_src, ring_dst = [0, 1, 2, 3, 4, 1, 2, 3, 4, 0], [1, 2, 3, 4, 0, 0, 1, 2, 3, 4]
    attention = GraphAttention(4, 3, generator(), heads=2)
    x = torch.randn(3, 5, 4, generator=generator(1))
    on_ring = attention(x, topology_edge_index(ring_src, ring_dst))
    with_chords = attention(x, topology_edge_index(ring_src + [0, 3], ring_dst + [2, 1]))
    assert with_chords.shape == on_ring.shape == (3, 5, 6)
    # a node attends to the sources of its in-links: only the chords' heads (2 and 1) change
    torch.testing.assert_close(with_chords[:, [0, 3, 4]], on_ring[:, [0, 3, 4]])
    assert not torch.allclose(with_chords[:, [1, 2]], on_ring[:, [1, 2]])


def test_graph_attention_rejects_wrong_features():
    attention = GraphAttention(4, 3, generator())
    with pytest.raises(ValueError, match="expected"):
        attention(torch.randn(5, 3), torch.tensor([[0], [1]]))


# ---------------------------------------------------------------------- seeds
def parameters_of(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize(
    "build",
    [
        lambda g: LinkMessagePassing(HIDDEN, g),
        lambda g: MessagePassingEncoder(HIDDEN, 3, g, shared_weights=False),
        lambda g: GraphAttention(5, 4, g, heads=2),
        lambda g: tanh_mlp([3, 8, 2], g),
    ],
)
def test_same_seed_gives_identical_weights(build):
    first, second, other = (parameters_of(build(generator(seed))) for seed in (11, 11, 12))
    assert len(first) == len(second) > 0
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_building_leaves_global_random_state_alone():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    MessagePassingEncoder(HIDDEN, 2, generator(), shared_weights=False)
    GraphAttention(3, 4, generator(), heads=2)
    assert torch.equal(torch.get_rng_state(), before)


def test_per_round_layers_differ():
    encoder = MessagePassingEncoder(HIDDEN, 2, generator(), shared_weights=False)
    first, second = (parameters_of(layer) for layer in encoder.layers)
    assert not all(torch.equal(a, b) for a, b in zip(first, second))


def test_tanh_mlp_rejects_bad_sizes():
    with pytest.raises(ValueError, match="MLP sizes"):
        tanh_mlp([3], generator())
    with pytest.raises(ValueError, match="MLP sizes"):
        tanh_mlp([3, 0, 2], generator())
