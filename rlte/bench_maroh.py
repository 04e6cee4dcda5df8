"""Speed of seed 002's (MAROH / SAMAROH) routing and of its genetic benchmark, on one core.

- ``maroh_routing``: milliseconds per routing of each MAROH flow set (``flows40.json`` of
  rhombus, abilene, symm16, geant2009) by `rlte.sim.hash_routing.FlowRouter`: the hash rule for
  one weight vector (what an environment does after each step, checks included), per vector in a
  batch of 256 (what the genetic algorithm does), and the proportional split rule for one vector;
  also the router's set-up (stretch DAG, next-hop tables, every flow's hash keys). The same for
  the hash over the authors' next hops (``dag="authors"``: set-up, one vector, per vector in a
  batch; the set-up builds their calculator's table once per process, replay included). Weights
  are random integers 1..64, a new vector each call.
- ``maroh_genetic``: generations per second of `rlte.baselines.genetic.genetic_weights` with the
  authors' parameters on Abilene's ``flows40.json`` (about 290 fitness evaluations a generation).

- ``maroh_training``: SAMAROH's and MAROH's training speed on rhombus and Abilene with the authors'
  settings (horizons, rounds, networks, PPO): milliseconds per training episode over whole update
  blocks (rollouts and the PPO update), and the hours the authors' number of episodes would take
  at that speed; the deterministic decision (`MarohAgent.act`, one horizon of every agent) in ms.
- ``maroh_memory``: microseconds per look-up of the Delta-net memory (`DeltaNetMemory.nearest`,
  every agent's nearest representative among |M| = 1,024 of d = 16) and of the clustered memory;
  for the clustered memory also the milliseconds of its first clustering (MiniBatchKMeans fitted
  for every agent) and of a later one (one ``partial_fit`` step per agent, the authors' rule).

Times are wall-clock, the best of a few repeats, BLAS held to one thread. The authors' Python
routing takes seconds per episode; their GEANT2009 runs took over a week.
"""

from __future__ import annotations

import time

import numpy as np

#: The MAROH networks, smallest first.
MAROH_NETS = ("rhombus", "abilene", "symm16", "geant2009")
#: The flow set routed.
FLOW_SET = "flows40"


def _best_ms(run, calls: int, repeats: int) -> float:
    """The least mean wall time of one call, over ``repeats`` blocks of ``calls`` calls, in ms."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(calls):
            run(i)
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e3


def _routing_row(
    net, topology, flows, calls: int, repeats: int, batch: int, rng: np.random.Generator
) -> dict:
    """The ``maroh_routing`` row of one network."""
    from rlte.sim.hash_routing import FlowRouter

    start = time.perf_counter()
    router = FlowRouter(topology, flows)
    setup_ms = (time.perf_counter() - start) * 1e3
    split = FlowRouter(topology, flows, "split")
    start = time.perf_counter()
    authors = FlowRouter(topology, flows, dag="authors")
    authors_setup_ms = (time.perf_counter() - start) * 1e3
    weights = rng.integers(1, 65, size=(calls, topology.num_links)).astype(np.float64)
    batched = rng.integers(1, 65, size=(batch, topology.num_links)).astype(np.float64)
    router.link_loads(weights[0])  # compile (or load the cache) outside the timing
    authors.link_loads(weights[0])
    return {
        "benchmark": "maroh_routing",
        "topology": net,
        "traffic": FLOW_SET,
        "flows": router.num_flows,
        "links": topology.num_links,
        "rule": "hash",
        "setup_ms": setup_ms,
        "routing_ms": _best_ms(lambda i: router.link_loads(weights[i]), calls, repeats),
        "batched_routing_ms": _best_ms(lambda i: router.link_loads(batched), 3, repeats) / batch,
        "split_routing_ms": _best_ms(lambda i: split.link_loads(weights[i]), calls, repeats),
        "authors_setup_ms": authors_setup_ms,
        "authors_routing_ms": _best_ms(lambda i: authors.link_loads(weights[i]), calls, repeats),
        "authors_batched_routing_ms": _best_ms(lambda i: authors.link_loads(batched), 3, repeats) / batch,
    }


def bench_maroh_routing(quick: bool = False) -> list[dict]:
    """Milliseconds per routing of each MAROH flow set, and GA generations per second on Abilene.

    Args:
        quick: fewer calls, repeats and generations (for smoke tests).

    Returns:
        One ``maroh_routing`` row per network (topology, flows, links, setup_ms, routing_ms,
        batched_routing_ms, split_routing_ms, authors_setup_ms, authors_routing_ms,
        authors_batched_routing_ms) and one ``maroh_genetic`` row (topology,
        generations, seconds, generations_per_s, evaluations_per_s, phi); a single row with an
        ``error`` when there is no data directory.
    """
    from threadpoolctl import threadpool_limits

    from rlte.baselines.genetic import GeneticConfig, genetic_weights
    from rlte.datadir import data_dir
    from rlte.net.flows import read_maroh_flows
    from rlte.net.topology import load_topology_file
    from rlte.sim.hash_routing import FlowRouter

    root = data_dir(required=False)
    if root is None:
        return [{"benchmark": "maroh_routing", "error": "no data directory (set RLTE_DATA)"}]
    calls, repeats, batch = (20, 2, 64) if quick else (200, 5, 256)
    rng = np.random.default_rng(0)
    rows = []
    with threadpool_limits(limits=1):
        for net in MAROH_NETS:
            folder = root / "maroh" / net
            topology = load_topology_file(folder / "topology.gml")
            flows = read_maroh_flows(folder / f"{FLOW_SET}.json", topology)
            rows.append(_routing_row(net, topology, flows, calls, repeats, batch, rng))
        folder = root / "maroh" / "abilene"
        topology = load_topology_file(folder / "topology.gml")
        router = FlowRouter(topology, read_maroh_flows(folder / f"{FLOW_SET}.json", topology))
        generations = 10 if quick else 100
        config = GeneticConfig(generations=generations)
        genetic_weights(topology, router.phi, GeneticConfig(generations=1), rng=np.random.default_rng(0))
        best = None
        for seed in range(1 if quick else 3):
            result = genetic_weights(topology, router.phi, config, rng=np.random.default_rng(seed))
            if best is None or result.runtime_s < best.runtime_s:
                best = result
        rows.append(
            {
                "benchmark": "maroh_genetic",
                "topology": "abilene",
                "traffic": FLOW_SET,
                "generations": generations,
                "seconds": best.runtime_s,
                "generations_per_s": generations / best.runtime_s,
                "evaluations_per_s": best.evaluations / best.runtime_s,
                "phi": best.phi,
            }
        )
    return rows


#: The networks and modes whose training speed is measured.
TRAINING_CASES = (("rhombus", "simultaneous"), ("rhombus", "sequential"), ("abilene", "simultaneous"),
                  ("abilene", "sequential"))  # fmt: skip


def _training_row(root, net: str, mode: str, blocks: int, episodes_per_block: int) -> dict:
    """The ``maroh_training`` row of one network and mode."""
    import torch

    from rlte.agents.maroh import MAROH_HORIZON_FACTOR, MarohAgent, authors_settings
    from rlte.envs import make

    settings = authors_settings(net)
    horizons = settings.horizons * (MAROH_HORIZON_FACTOR if mode == "sequential" else 1)
    options = {"topology": f"maroh/{net}", "flows": FLOW_SET, "data_dir": str(root), "horizons": horizons}
    torch.set_num_threads(1)
    agent = MarohAgent({"mode": mode, "horizons": horizons, "update_every": episodes_per_block}, seed=0)
    make_env = lambda: make("rlte/MAROH-MA-v0", **options)  # noqa: E731
    agent.train(make_env, episodes_per_block * horizons)  # a first block: set-up and compilation
    start = time.perf_counter()
    agent.train(make_env, (1 + blocks) * episodes_per_block * horizons)
    per_episode = (time.perf_counter() - start) / (blocks * episodes_per_block)
    env = make("rlte/MAROH-MA-v0", **options)
    observations, _ = env.reset(seed=0)
    decision = _best_ms(lambda i: agent.act(observations), 20, 3)
    return {
        "benchmark": "maroh_training",
        "topology": net,
        "method": "samaroh" if mode == "simultaneous" else "maroh",
        "agents": agent.num_agents,
        "horizons": horizons,
        "episodes": blocks * episodes_per_block,
        "ms_per_episode": per_episode * 1e3,
        "authors_episodes": settings.episodes,
        "authors_training_h": per_episode * settings.episodes / 3600,
        "decision_ms": decision,
    }


def _memory_rows(quick: bool) -> list[dict]:
    """Look-up time of the Delta-net and clustered memories, full of random states."""
    from rlte.agents.common.memory import ClusteredMemory, DeltaNetMemory

    agents, size, capacity = 20, 16, 1024
    rng = np.random.default_rng(0)
    rows = []
    for name, memory in (
        ("delta_net", DeltaNetMemory(agents, size, 2, capacity, 0.035, "l2")),
        (
            "clustered",
            ClusteredMemory(
                agents, size, 2, capacity, 0.035, "l2", "minibatch_kmeans", rng=np.random.default_rng(0)
            ),
        ),
    ):
        for _ in range(capacity + capacity // 4):
            memory.insert(rng.normal(size=(agents, size)), rng.normal(size=(agents, 2)))
        queries = rng.normal(size=(64, agents, size))
        memory.nearest(queries[0])
        look_up = memory.nearest
        microseconds = 1e3 * _best_ms(lambda i, f=look_up, q=queries: f(q[i % 64]), 200 if quick else 2000, 3)
        row = {"benchmark": "maroh_memory", "memory": name, "agents": agents, "state_size": size,
               "representatives": memory.size(), "lookup_us": microseconds}  # fmt: skip
        if name == "clustered":  # the insertion that finds the candidate buffer full clusters
            row["first_clustering_ms"], row["clustering_ms"] = (
                _clustering_ms(memory, rng, agents, size) for _ in range(2)
            )
        rows.append(row)
    return rows


def _clustering_ms(memory, rng: np.random.Generator, agents: int, size: int) -> float:
    """The time of the insertion into a full candidate buffer (it clusters every agent's memory),
    leaving the buffer full again for the next call."""
    start = time.perf_counter()
    memory.insert(rng.normal(size=(agents, size)), rng.normal(size=(agents, 2)))
    elapsed = 1e3 * (time.perf_counter() - start)
    while memory.candidate_count < memory.candidate_capacity:
        memory.insert(rng.normal(size=(agents, size)), rng.normal(size=(agents, 2)))
    return elapsed


def bench_maroh_training(quick: bool = False) -> list[dict]:
    """SAMAROH's and MAROH's training speed (`TRAINING_CASES`) and the memories' look-up time.

    Args:
        quick: one block of 5 episodes per case (else two of the authors' 75), timed after a
            first block of as many.

    Returns:
        One ``maroh_training`` row per case (topology, method, agents, horizons, episodes,
        ms_per_episode, authors_episodes, authors_training_h, decision_ms) and one ``maroh_memory``
        row per memory (memory, agents, state_size, representatives, lookup_us; the clustered one
        also first_clustering_ms and clustering_ms); the training rows
        are a single row with an ``error`` when there is no data directory.
    """
    from threadpoolctl import threadpool_limits

    from rlte.datadir import data_dir

    root = data_dir(required=False)
    with threadpool_limits(limits=1):
        if root is None:
            rows = [{"benchmark": "maroh_training", "error": "no data directory (set RLTE_DATA)"}]
        else:
            blocks, episodes = (1, 5) if quick else (2, 75)
            rows = [_training_row(root, net, mode, blocks, episodes) for net, mode in TRAINING_CASES]
        return rows + _memory_rows(quick)
