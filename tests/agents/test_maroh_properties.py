"""Properties of MAROH / SAMAROH's link agents (seed 002): renumbering the agents permutes the
message-passing states and leaves the critic's value alone (gathers and torch_geometric), a
horizon on the rhombus costs the messages counted by hand, and SAMAROH learns the rhombus below
ECMP's Phi in a short run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlte.agents.common.graph import count_messages
from rlte.agents.maroh import (
    ExchangeGraph,
    LinkAgentsNetwork,
    MarohAgent,
    MarohConfig,
    authors_settings,
    pooled,
)
from rlte.envs import make
from rlte.envs.contract import unwrapped
from rlte.envs.maroh import head_to_tail_graph

torch.set_num_threads(1)

#: The rhombus's directed links in the environment's order, as (source, destination) node indices
#: of nodes "1" .. "4": the 4-cycle 1 - 2 - 4 - 3 - 1, both directions.
RHOMBUS_LINKS = [(0, 1), (0, 2), (1, 3), (1, 0), (2, 3), (2, 0), (3, 1), (3, 2)]
SMALL = {"hidden_size": 8, "message_sizes": (8,), "update_sizes": (8,), "readout_sizes": (8,)}


# ---------------------------------------------------------------------- renumbering the agents
def rhombus_graph() -> np.ndarray:
    src, dst = zip(*RHOMBUS_LINKS)
    return head_to_tail_graph(np.array(src), np.array(dst))


def random_graph(rng: np.random.Generator, agents: int = 7) -> np.ndarray:
    """A random directed exchange graph with unequal in-degrees and two agents that receive
    nothing (the silent ones take zeros for min and max)."""
    pairs = {(a, b) for a in range(agents) for b in range(agents - 2) if a != b and rng.random() < 0.5}
    pairs |= {(b + 1, b) for b in range(agents - 2)}  # every agent but the last two hears someone
    return np.array(sorted(pairs)).T


def networks(message_passing: str) -> tuple[LinkAgentsNetwork, LinkAgentsNetwork]:
    """An actor and a critic as `MarohAgent` builds them, small, weights drawn from seed 0."""
    config = MarohConfig.parse({**SMALL, "message_passing": message_passing})
    generator = torch.Generator().manual_seed(0)
    actor = LinkAgentsNetwork(config, 3, 2, config.hidden_size, 2, 0.01, 0.0, generator)
    critic = LinkAgentsNetwork(config, 3, 2, 4 * config.hidden_size, 1, 1.0, 0.0, generator)
    return actor.eval(), critic.eval()


def critic_value(critic: LinkAgentsNetwork, inputs: torch.Tensor, graph: ExchangeGraph) -> torch.Tensor:
    return critic.readout(pooled(critic.levels(inputs, graph)[-1])).squeeze(-1)


@pytest.mark.parametrize("message_passing", ["dense", "pyg"])
@pytest.mark.parametrize("which", ["rhombus", "random"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_renumbering_the_agents_permutes_the_states(message_passing, which, seed):
    """Agent i of the renumbered system is agent ``order[i]`` of the original: its inputs are
    ``inputs[order]`` and an edge a -> b becomes ``new[a] -> new[b]`` (``new = order``'s inverse).
    Every level of hidden states, and the actor's logits, come out as the original's ``[order]``;
    the critic's pooled value is the same. Permuting the inputs alone (the graph left as it was)
    does change the states, so the check has teeth."""
    rng = np.random.default_rng(seed)
    edge_index = rhombus_graph() if which == "rhombus" else random_graph(rng)
    agents = int(edge_index.max()) + 1
    order = rng.permutation(agents)
    while (order == np.arange(agents)).all():
        order = rng.permutation(agents)
    new = np.argsort(order)
    graph = ExchangeGraph(edge_index, agents)
    renumbered = ExchangeGraph(new[edge_index], agents)
    actor, critic = networks(message_passing)
    inputs = torch.from_numpy(rng.normal(size=(5, agents, 2)).astype(np.float32))
    index = torch.from_numpy(order)
    with torch.no_grad():
        levels = actor.levels(inputs, graph)
        moved = actor.levels(inputs[:, index], renumbered)
        for level, level_moved in zip(levels, moved):
            torch.testing.assert_close(level_moved, level[:, index], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(actor.readout(moved[-1]), actor.readout(levels[-1])[:, index])
        torch.testing.assert_close(
            critic_value(critic, inputs[:, index], renumbered), critic_value(critic, inputs, graph),
            rtol=1e-5, atol=1e-6,
        )  # fmt: skip
        unrelabelled = actor.levels(inputs[:, index], graph)[-1]
        assert not torch.allclose(unrelabelled, levels[-1][:, index], atol=1e-3)


def test_gathers_and_torch_geometric_agree_with_silent_agents():
    """On a graph where two agents receive nothing (the rhombus has none) the dense evaluation
    still equals torch_geometric's propagate, at every level."""
    rng = np.random.default_rng(7)
    edge_index = random_graph(rng)
    agents = int(edge_index.max()) + 1
    graph = ExchangeGraph(edge_index, agents)
    assert int(graph.silent.sum()) == 2
    dense, _ = networks("dense")
    pyg, _ = networks("pyg")
    inputs = torch.from_numpy(rng.normal(size=(4, agents, 2)).astype(np.float32))
    with torch.no_grad():
        for a, b in zip(dense.levels(inputs, graph), pyg.levels(inputs, graph)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_graph_without_edges_is_silent_in_both_evaluations():
    """No agent hears another: both evaluations agree, every minimum and maximum being 0."""
    graph = ExchangeGraph(np.zeros((2, 0), dtype=np.int64), 5)
    dense, _ = networks("dense")
    pyg, _ = networks("pyg")
    inputs = torch.from_numpy(np.random.default_rng(3).normal(size=(4, 5, 2)).astype(np.float32))
    with torch.no_grad():
        for a, b in zip(dense.levels(inputs, graph), pyg.levels(inputs, graph)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- messages, by hand
def rhombus(data_dir, horizons: int = 4, **options):
    return make("rlte/MAROH-MA-v0", horizons=horizons, data_dir=str(data_dir), **options)


def test_one_horizon_on_the_rhombus_costs_the_messages_counted_by_hand(data_dir):
    """The rhombus is the 4-cycle 1 - 2 - 4 - 3 - 1: 8 directed links, every node has 2 links
    out and 2 in. Agent u -> v sends its hidden state to every agent whose link starts where its
    own ends (v -> w for both neighbours w of v, its reverse included), so each agent sends 2 and
    receives 2: one round carries 8 x 2 = 16 messages. K = 2 rounds on the rhombus (the authors'),
    so one SAMAROH horizon costs 2 x 16 = 32 messages."""
    env = rhombus(data_dir)
    base = unwrapped(env)
    names = base.topology.nodes
    assert [(int(u), int(v)) for u, v in zip(base.topology.src, base.topology.dst)] == RHOMBUS_LINKS
    neighbours = {"1": ("2", "3"), "2": ("1", "4"), "3": ("1", "4"), "4": ("2", "3")}
    by_hand = {
        (f"link_{u}_{v}", f"link_{v}_{w}")
        for u, others in neighbours.items()
        for v in others
        for w in neighbours[v]
    }
    assert len(by_hand) == 16  # 4 nodes x 2 links in x 2 links out
    agents = base.possible_agents
    edges = {(agents[a], agents[b]) for a, b in base.edge_index.T}
    assert edges == by_hand
    assert {(names[u], names[v]) for u, v in RHOMBUS_LINKS} == {
        (u, v) for u in neighbours for v in neighbours[u]
    }
    assert count_messages(torch.from_numpy(base.edge_index), 1) == 16  # 8 agents x 2 receivers
    assert authors_settings(base.network).rounds == 2
    assert count_messages(torch.from_numpy(base.edge_index), 2) == 32  # 2 rounds x 16
    agent = MarohAgent({**SMALL, "horizons": 4}, seed=0)
    agent.train(lambda: rhombus(data_dir), 0)  # builds the networks, trains nothing
    assert agent.rounds == 2
    observations, _ = env.reset(seed=0)
    agent.act(observations)
    assert agent.last_messages == 32
    assert agent.readout_messages() == 0  # SAMAROH shares no readouts


# ---------------------------------------------------------------------- learning
#: Small networks and short blocks: 5 episodes per update, 4 passes in minibatches of 10 steps,
#: step sizes 3e-3 and an entropy bonus of 0.05 (with the authors' 0.001 2 of 6 seeds, with 0.01
#: 3 of 18, collapse to keeping every weight before they find anything better: ECMP's Phi).
LEARNING = {"update_every": 5, "epochs": 4, "minibatch_size": 10, "learning_rate": 3e-3,
            "critic_learning_rate": 3e-3, "entropy_coef": 0.05, "hidden_size": 8, "message_sizes": (16,),
            "update_sizes": (16,), "readout_sizes": (16,)}  # fmt: skip
LEARNING_HORIZONS = 8
LEARNING_EPISODES = 300
#: The rhombus at the authors' 60 % load, with raw observations (see the test's docstring).
LEARNING_ENV = {"flows": "flows60", "normalize": False}


def final_phi(agent: MarohAgent, env) -> float:
    """Phi after every horizon of one episode from a reset, acting by `MarohAgent.act`."""
    observations, _ = env.reset(seed=0)
    for _ in range(LEARNING_HORIZONS):
        observations, _, _, _, infos = env.step(agent.act(observations))
    return float(next(iter(infos.values()))["phi"])


@pytest.mark.slow
def test_samaroh_learns_the_rhombus_below_ecmp(data_dir):
    """SAMAROH trained for 300 episodes of 8 horizons (2,400 steps) on the rhombus at 60 % load,
    then one deterministic episode (`act`, the argmax) from a reset: the mean over seeds 0, 1
    and 2 of the final Phi is below 0.9 x ECMP's Phi (every weight 1, 0.4354).

    Measured (this machine) after 150 episodes: seeds 0, 1, 2 end at 0.024, 0.038 and 0.041 x
    ECMP's Phi; over 18 seeds every one ends below 0.8 x (median 0.14 x, worst 0.77 x), some only
    after 90 - 135 episodes. The test trains twice that long, so a seed that learns late on
    another machine still has time, and the bound fails only if two of the three learn nothing.

    Why not the authors' set-up (40 % load, observations normalised over the episode): at 40 %
    a weight moves no flow under the hash until it is several multiplications away from its
    sibling's, the few helpful links are not those of lowest utilisation, and the normalised
    observations shrink towards 0 over an episode, so the links look alike; no setting tried
    left ECMP's Phi within a budget like this one (the authors train 10,000 episodes)."""
    env = rhombus(data_dir, LEARNING_HORIZONS, **LEARNING_ENV)
    _, infos = env.reset(seed=0)
    ecmp = float(next(iter(infos.values()))["phi"])
    router = unwrapped(env).router
    assert ecmp == pytest.approx(float(router.phi(np.ones((1, 8)))[0]))
    finals = []
    for seed in (0, 1, 2):
        agent = MarohAgent({**LEARNING, "horizons": LEARNING_HORIZONS}, seed=seed)
        agent.train(
            lambda: rhombus(data_dir, LEARNING_HORIZONS, **LEARNING_ENV),
            LEARNING_EPISODES * LEARNING_HORIZONS,
        )
        finals.append(final_phi(agent, env) / ecmp)
    assert np.mean(finals) < 0.9, f"final Phi / ECMP's: {np.round(finals, 3).tolist()}"
