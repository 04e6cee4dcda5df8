"""The DOTE-style method on large topologies (`rlte bench --only dote_scale`): on Gabriel graphs of
100 and 200 nodes (topohub) with a synthetic week of diurnal gravity traffic, the candidate paths'
enumeration (computed, then read from the path cache), DOTE's training speed, its decision time per
interval against the LP's solve time, and its MLU against the LP optimum's and ECMP's on the same
test intervals.

Times are wall-clock seconds on one thread. The LP solves only ``lp_intervals`` test intervals (a
200-node edge LP takes tens of seconds each), and DOTE trains on ``examples`` examples: a speed
probe, not a tuned run, so its gap says how far a short training gets, no more.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

#: (topohub id, examples of DOTE's training) of the full benchmark; quick keeps the first.
SCALE_CASES = (("gabriel/100/0", 20_000), ("gabriel/200/0", 10_000))


def _case(topology_id: str, examples: int, lp_intervals: int) -> list[dict]:
    import torch

    from rlte.agents.dote import DOTEAgent
    from rlte.baselines import make_baseline
    from rlte.envs import make
    from rlte.net import path_cache
    from rlte.net.paths import k_shortest_paths
    from rlte.net.topology import load_topology
    from rlte.sim.flow import FlowModel

    torch.set_num_threads(1)
    topology = load_topology(topology_id)
    rows = []
    with tempfile.TemporaryDirectory() as cache:  # a cold cache, then a warm one, never the user's
        previous = os.environ.get("RLTE_CACHE")
        os.environ["RLTE_CACHE"] = cache
        try:
            times = []
            for _ in range(2):
                start = time.perf_counter()
                pathset = k_shortest_paths(topology, 4)
                times.append(time.perf_counter() - start)
            rows.append({"benchmark": "dote_paths", "topology": topology_id, "nodes": topology.num_nodes,
                         "links": topology.num_links, "pairs": len(pathset.pairs), "computed_s": times[0],
                         "cached_s": times[1], "cache_min_nodes": path_cache.CACHE_MIN_NODES})  # fmt: skip
            options = dict(topology=topology_id, traffic="diurnal:gravity:1e11", load=None, train_fraction=0.9,
                           window=4, k=4, observe="traffic", action_type="splits", logit_scale=10.0,
                           with_optimal=False)  # fmt: skip
            agent = DOTEAgent({"log_interval": 10}, seed=0)
            start = time.perf_counter()
            agent.train(lambda: make("rlte/TE-v0", **options), 320)  # set-up and the first steps
            setup = time.perf_counter() - start
            start = time.perf_counter()
            agent.train(lambda: make("rlte/TE-v0", **options), examples)
            per_step = (time.perf_counter() - start - setup) / max((examples - 320) // 32, 1)
            env = make("rlte/TE-v0", **{**options, "part": "test", "episode_length": None})
            observation, _ = env.reset(seed=0)
            core = env.unwrapped.core
            decide, dote_mlu, lp_mlu, ecmp_mlu, solve = [], [], [], [], []
            lp, ecmp = make_baseline("lp_opt"), make_baseline("ecmp")
            model = FlowModel(topology)
            for _ in range(lp_intervals):
                matrix = core.current_matrix()
                start = time.perf_counter()
                action = agent.act(observation)
                decide.append(time.perf_counter() - start)
                observation, _, _, _, info = env.step(action)
                dote_mlu.append(info["mlu"])
                start = time.perf_counter()
                routing = lp.route_series(topology, matrix[None], np.zeros((0, *matrix.shape)))
                solve.append(time.perf_counter() - start)
                lp_mlu.append(float(np.max(model.evaluate(routing, matrix[None]).mlu)))
                routed = ecmp.route_series(topology, matrix[None], np.zeros((0, *matrix.shape)))
                ecmp_mlu.append(float(np.max(model.evaluate(routed, matrix[None]).mlu)))
            rows.append({
                "benchmark": "dote_scale", "topology": topology_id, "nodes": topology.num_nodes,
                "demands": len(pathset.pairs), "examples": examples, "setup_s": setup,
                "train_ms_per_step": per_step * 1e3, "decision_ms": 1e3 * float(np.median(decide)),
                "lp_solve_s": float(np.median(solve)), "intervals": lp_intervals,
                "dote_gap": float(np.mean(np.array(dote_mlu) / np.array(lp_mlu)) - 1.0),
                "ecmp_gap": float(np.mean(np.array(ecmp_mlu) / np.array(lp_mlu)) - 1.0),
            })  # fmt: skip
        finally:
            if previous is None:
                os.environ.pop("RLTE_CACHE", None)
            else:
                os.environ["RLTE_CACHE"] = previous
    return rows


def bench_dote_scale(quick: bool = False) -> list[dict]:
    """Paths, training, decisions and the gap to the LP on the large topologies (module docstring).

    Args:
        quick: the 100-node graph only, 2,000 examples and 2 LP intervals.

    Returns:
        A ``dote_paths`` row (path enumeration computed and cached, seconds) and a ``dote_scale`` row
        (training ms per step of 32 examples, decision ms, LP solve s, DOTE's and ECMP's mean MLU gap to
        the LP over the intervals) per topology.
    """
    cases = SCALE_CASES[:1] if quick else SCALE_CASES
    rows = []
    for topology_id, examples in cases:
        rows += _case(topology_id, 2_000 if quick else examples, 2 if quick else 6)
    return rows
