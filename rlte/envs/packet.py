"""``rlte/PacketRouting-v0``: one agent per router picks the next hop of each packet it handles
(Boyan and Littman's packet routing, over `rlte.sim.packet`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rlte.envs.contract import EnvOptions, GraphObservation
from rlte.errors import RlteError
from rlte.options import option
from rlte.sim.packet import (
    SENT,
    LoadSchedule,
    PacketNetwork,
    PacketSimOptions,
    PacketSimulator,
    seed004_high,
    seed004_low_to_high,
    seed_streams,
)

#: Load schedules by name (``fixed``: ``load`` for ``duration`` time units).
SCHEDULES = ("fixed", "seed004_low_to_high", "seed004_high")
#: The metrics in every step's info.
METRICS = ("e2e_delay", "delivered", "refused", "dropped")


@dataclass(frozen=True)
class PacketRoutingOptions(EnvOptions):
    """The options of ``rlte/PacketRouting-v0`` (every constructor option, with its default)."""

    topology: str = "grid6x6"
    """The network, as `rlte.net.topology.load_topology` reads it (default: Boyan and Littman's 6x6 grid)."""
    load: float = option(1.0, ge=0.0)
    """Packets injected per time unit (``schedule="fixed"``)."""
    schedule: Literal["fixed", "seed004_low_to_high", "seed004_high"] = "fixed"
    """``fixed`` (``load`` for ``duration``), ``seed004_low_to_high`` (0.5 .. 4.5) or ``seed004_high`` (3.5 .. 4.4)."""
    duration: float = option(10_000.0, gt=0.0)
    """Time units in an episode with ``schedule="fixed"`` (the others last 90,000 and 100,000)."""
    timing: Literal["unit", "topology"] = "unit"
    """``unit`` (Boyan and Littman: one time unit per handling and per hop) or ``topology`` (capacities, delays)."""
    packet_bytes: float = option(1500.0, gt=0.0)
    """Packet size for ``timing="topology"``."""
    queue_limit: int = option(1000, ge=1)
    """Packets a router holds."""
    network_limit: int = option(1000, ge=1)
    """Packets in the network at once (an injection beyond is refused)."""
    delivery: Literal["boyan_littman", "handoff"] = "boyan_littman"
    """Delivery time convention of ``e2e_delay``: ``boyan_littman`` or ``handoff`` (seed 004's)."""
    record_packets: int = option(0, ge=0)
    """Delivered packets whose delivery times the simulator keeps (``env.sim.packets()``)."""

    def load_schedule(self) -> LoadSchedule:
        if self.schedule == "seed004_low_to_high":
            return seed004_low_to_high()
        if self.schedule == "seed004_high":
            return seed004_high()
        return LoadSchedule.fixed(self.load, self.duration)


class PacketRoutingParallelEnv(ParallelEnv):
    """Packet routing: every router chooses the next hop of each packet it handles.

    ## Description
    A packet-level network (`rlte.sim.packet`, Boyan and Littman's rules by default): packets are
    injected by one network-wide Poisson process at rate ``load`` per time unit between uniform
    distinct endpoints; a router handles the packets that reach it one per time unit in arrival
    order (an injected packet is handled at its source at once) and each hop takes one time unit.
    Agent ``router_<name>`` decides where the packets it handles go next. Each step resolves
    exactly one decision, the next in simulated time (in continuous time two decisions almost
    never fall at one instant): the acting router is the one whose observation starts with 1 and
    whose info has ``acting=True``. Every live agent gets an observation and may pass an action,
    as PettingZoo's parallel API does; only the acting router's is required and used.

    ## Action space (per agent)
    ``Discrete(D)``, D the largest out-degree: the index of the out-link (neighbours in increasing
    node order). An index at or beyond the router's own out-degree k is wrapped (taken modulo k),
    so every action is valid; ``info["action_mask"]`` marks the router's k real choices.

    ## Observation space (per agent)
    ``Box(0, 1, (2 + N + D,), float32)``: whether the router acts now (1) or not (0); its own queue
    length divided by ``queue_limit``; the acting packet's destination, one-hot over the N nodes
    (zeros when not acting); each neighbour's queue length divided by ``queue_limit``, one per
    out-link, zero-padded to D. Queue lengths count the packets sent to a router and not yet
    handled by it (on the link included).

    ## Global state
    `state()`: every router's queue length divided by ``queue_limit``, ``Box(0, 1, (N,))``.

    ## Rewards
    The acting router gets minus the time its hop took, as Q-routing counts it: from the packet's
    arrival at the router (its injection at the source) to its arrival at the next hop, so a
    packet's rewards sum to minus its delivery time. A decision that cannot be carried out (the
    chosen neighbour is full; the packet waits and is offered again later) earns 0: its waiting
    time is in the reward of the hop finally taken. Other agents get 0.

    ## Episode end
    Never terminated; truncated for every agent when simulated time reaches the end of the load
    schedule (``duration`` for a fixed load).

    ## Info
    Every agent: ``acting``, ``action_mask`` (int8, [D]) and the metrics ``e2e_delay`` (mean
    delivery time of the packets delivered so far this episode, 0 before the first), ``delivered``,
    ``refused``, ``dropped``. The acting router also: ``packet`` (its id among packets in flight),
    ``destination``. The router that acted this step also: ``acted_packet``,
    ``acted_destination``, ``sent``, ``slot`` (the link it chose, `PacketNetwork` slot order),
    ``next_node``, ``hop_start``, ``arrival`` (nan unless sent), ``hops`` (taken so far, None
    unless sent).

    ## Arguments
    The fields of `PacketRoutingOptions`, plus ``render_mode`` (None only). ``reset(seed=s)`` draws
    traffic from ``rlte.sim.packet.seed_streams(s)[0]``, as `rlte.agents.qrouting.run_experiment`
    does, so an agent driving this env with the policy stream ``seed_streams(s)[1]`` reproduces the
    compiled learners exactly.

    ## Version history
    - v0: first version.
    """

    metadata = {"name": "rlte_packet_routing_v0", "render_modes": [], "is_parallelizable": True}
    Options = PacketRoutingOptions
    METRICS = METRICS

    def __init__(self, topology: str = "grid6x6", *, render_mode: str | None = None, **options) -> None:
        from rlte.net.topology import load_topology

        self.options = PacketRoutingOptions.parse({"topology": topology, **options}, "rlte/PacketRouting-v0")
        opts = self.options
        timing, packet_bytes = opts.timing, opts.packet_bytes
        queue_limit, network_limit, delivery = opts.queue_limit, opts.network_limit, opts.delivery
        record_packets = opts.record_packets
        if render_mode is not None:
            raise RlteError(f"rlte/PacketRouting-v0: render_mode {render_mode!r} must be None (no rendering)")
        self.render_mode = render_mode
        self.topology = load_topology(opts.topology)
        self.network = PacketNetwork.from_topology(self.topology, timing, packet_bytes=packet_bytes)
        sim_options = PacketSimOptions(queue_limit=queue_limit, network_limit=network_limit, delivery=delivery,
                                       record_packets=record_packets)  # fmt: skip
        self.sim = PacketSimulator(self.network, self.options.load_schedule(), sim_options)
        n = self.network.num_nodes
        self.degree = self.network.degree.astype(np.int64)
        self.max_degree = int(self.degree.max())
        self.possible_agents = [f"router_{name}" for name in self.topology.nodes]
        self.agents: list[str] = []
        size = 2 + n + self.max_degree
        self._observation_spaces = {
            a: spaces.Box(0.0, 1.0, (size,), np.float32) for a in self.possible_agents
        }
        self._action_spaces = {a: spaces.Discrete(self.max_degree) for a in self.possible_agents}
        self.state_space = spaces.Box(0.0, 1.0, (n,), np.float32)
        self._masks = np.zeros((n, self.max_degree), dtype=np.int8)
        self._neighbours = np.zeros((n, self.max_degree), dtype=np.int64)
        for v in range(n):
            self._masks[v, : self.degree[v]] = 1
            self._neighbours[v, : self.degree[v]] = self.network.neighbours(v)
        self._read_only_masks = [row.copy() for row in self._masks]
        for row in self._read_only_masks:
            row.setflags(write=False)
        self._traffic_rng: np.random.Generator | None = None
        self._decision = None
        self._steps = 0

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_spaces[agent]

    # ------------------------------------------------------------------ API
    def reset(self, seed: int | None = None, options: dict | None = None):
        """Empty the network and run to the first decision. ``options`` is accepted and unused."""
        if seed is not None:
            self._traffic_rng = seed_streams(seed)[0]
            for i, agent in enumerate(self.possible_agents):
                self._action_spaces[agent].seed(seed + i)
        elif self._traffic_rng is None:
            self._traffic_rng = np.random.default_rng()
        self.sim.reset(self._traffic_rng)
        self.agents = list(self.possible_agents)
        self._steps = 0
        self._decision = self.sim.next_decision()
        return self._observations(), self._infos()

    def step(self, actions: dict):
        if not self.agents:
            raise RlteError("rlte/PacketRouting-v0: step() called on a finished episode: call reset() first")
        decision = self._decision
        rewards = {agent: 0.0 for agent in self.agents}
        acted: dict = {}
        acting_agent = None
        if decision is not None:
            node = decision.node
            acting_agent = self.possible_agents[node]
            if acting_agent not in actions:
                raise RlteError(
                    f"rlte/PacketRouting-v0: actions: missing the action of acting agent {acting_agent!r}"
                )
            action = int(actions[acting_agent]) % int(self.degree[node])
            outcome = self.sim.forward(action)
            sent = outcome.status == SENT
            if sent:
                rewards[acting_agent] = -(outcome.arrival - outcome.hop_start)
            acted = {
                "sent": sent, "slot": int(self.network.out_ptr[node]) + action, "next_node": outcome.next_node,
                "hop_start": outcome.hop_start, "arrival": outcome.arrival,
                "hops": int(self.sim.arrays.pkt_hops[decision.packet]) if sent else None,
                "acted_packet": decision.packet, "acted_destination": decision.destination,
            }  # fmt: skip
        self._steps += 1
        self._decision = self.sim.next_decision()
        truncated = self._decision is None
        observations = self._observations()
        infos = self._infos()
        if acting_agent is not None:
            infos[acting_agent].update(acted)
        terminations = {agent: False for agent in self.agents}
        truncations = {agent: truncated for agent in self.agents}
        if truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return np.minimum(self.sim.arrays.occupancy / self.options.queue_limit, 1.0).astype(np.float32)

    def graph(self) -> GraphObservation:
        """The routers as a graph over the topology's links: node features [N, 1] (queue length
        divided by ``queue_limit``), no edge features."""
        return GraphObservation(self.state()[:, None], np.stack([self.network.link_src, self.network.link_dst]).astype(np.int64),
                                None, ("queue",), ())  # fmt: skip

    def render(self) -> None:
        return None

    def close(self) -> None:
        return None

    # ------------------------------------------------------------------ the rlte contract
    def get_state(self) -> dict:
        """The simulator's arrays and traffic generator, the episode's agents and step count, and the
        action spaces' generators (numpy arrays and plain values)."""
        return {
            "sim": self.sim.get_state(),
            "agents": list(self.agents),
            "steps": int(self._steps),
            "action_spaces": {
                a: space.np_random.bit_generator.state for a, space in self._action_spaces.items()
            },
        }

    def set_state(self, state: dict) -> None:
        """Restore what `get_state` returned (on an env built with the same options)."""
        self.sim.set_state(state["sim"])
        self._traffic_rng = self.sim.traffic_rng
        self._decision = self.sim.pending_decision()
        self.agents = list(state["agents"])
        self._steps = int(state["steps"])
        for agent, rng_state in state["action_spaces"].items():
            bit_generator = getattr(np.random, rng_state["bit_generator"])()
            bit_generator.state = rng_state
            self._action_spaces[agent]._np_random = np.random.Generator(bit_generator)

    # ------------------------------------------------------------------ helpers
    def metrics(self) -> dict:
        """The episode's metrics so far (`METRICS`)."""
        counts = self.sim.counts()
        delay = counts.delay_sum / counts.delivered if counts.delivered else 0.0
        return {"e2e_delay": float(delay), "delivered": counts.delivered, "refused": counts.refused,
                "dropped": counts.dropped}  # fmt: skip

    def _observations(self) -> dict[str, np.ndarray]:
        n = self.network.num_nodes
        fill = self.sim.arrays.occupancy * (1.0 / self.options.queue_limit)  # occupancy <= queue_limit
        rows = np.zeros((n, 2 + n + self.max_degree), dtype=np.float32)
        rows[:, 1] = fill
        rows[:, 2 + n :] = fill[self._neighbours] * self._masks
        decision = self._decision
        if decision is not None:
            rows[decision.node, 0] = 1.0
            rows[decision.node, 2 + decision.destination] = 1.0
        return dict(zip(self.possible_agents, rows))

    def _infos(self) -> dict[str, dict]:
        metrics = self.metrics()
        infos = {
            agent: {"acting": False, "action_mask": mask, **metrics}
            for agent, mask in zip(self.possible_agents, self._read_only_masks)
        }
        decision = self._decision
        if decision is not None:
            infos[self.possible_agents[decision.node]].update(
                acting=True, packet=decision.packet, destination=decision.destination
            )
        return infos


__all__ = ["METRICS", "SCHEDULES", "PacketRoutingOptions", "PacketRoutingParallelEnv"]
