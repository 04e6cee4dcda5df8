"""Speed of seed 002's (MAROH / SAMAROH) routing and of its genetic benchmark, on one core.

- ``maroh_routing``: milliseconds per routing of each MAROH flow set (``flows40.json`` of
  rhombus, abilene, symm16, geant2009) by `rlte.sim.hash_routing.FlowRouter`: the hash rule for
  one weight vector (what an environment does after each step, checks included), per vector in a
  batch of 256 (what the genetic algorithm does), and the proportional split rule for one vector;
  also the router's set-up (stretch DAG, next-hop tables, every flow's hash keys). Weights are
  random integers 1..64, a new vector each call.
- ``maroh_genetic``: generations per second of `rlte.baselines.genetic.genetic_weights` with the
  authors' parameters on Abilene's ``flows40.json`` (about 290 fitness evaluations a generation).

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
    weights = rng.integers(1, 65, size=(calls, topology.num_links)).astype(np.float64)
    batched = rng.integers(1, 65, size=(batch, topology.num_links)).astype(np.float64)
    router.link_loads(weights[0])  # compile (or load the cache) outside the timing
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
    }


def bench_maroh_routing(quick: bool = False) -> list[dict]:
    """Milliseconds per routing of each MAROH flow set, and GA generations per second on Abilene.

    Args:
        quick: fewer calls, repeats and generations (for smoke tests).

    Returns:
        One ``maroh_routing`` row per network (topology, flows, links, setup_ms, routing_ms,
        batched_routing_ms, split_routing_ms) and one ``maroh_genetic`` row (topology,
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
