"""Speed and memory benchmarks (``rlte bench``; scripts in ``benchmarks/``). Not tests: numbers
depend on the machine, so they are measured and reported, never asserted.

- ``flow``: routings evaluated per second by the batched fluid model on Abilene with k = 4 paths,
  on one core, against two straightforward loops timed in the same run: pure Python over demands,
  paths and links (`rlte.sim.flow.reference_link_loads`), and a per-demand loop adding each
  path's flow to its links with numpy indexing.
- ``env``: steps per second of every registered environment on Abilene, one core.
- ``agents``: seed 000's multi-agent learners (TRPO with ATRA, PPO, DQN) on ``rlte/TE-MA-v0``,
  Abilene: training steps per second (environment and updates together) and decision time per
  interval (every node agent's action, deterministic), one core.
- ``lp``: `rlte.baselines.lp.solve_min_mlu` on SNDlib networks (their topohub demands) and
  Gabriel graphs (gravity traffic), each case in a fresh process so its peak memory is its own.
"""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable

import numpy as np

from rlte.errors import RlteError

#: LP cases: (topology id, traffic). Gabriel graphs carry no demands: gravity traffic.
LP_CASES = (
    ("sndlib/abilene", "topohub"),
    ("sndlib/geant", "topohub"),
    ("sndlib/germany50", "topohub"),
    ("gabriel/100/0", "gravity"),
    ("gabriel/200/0", "gravity"),
    ("gabriel/500/0", "gravity"),
)


def _best_rate(run: Callable[[], None], items: int, min_time: float = 0.5, repeats: int = 5) -> float:
    """Items per second of the fastest of ``repeats`` timed blocks, each at least ``min_time`` long."""
    run()  # warm up
    best = 0.0
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            run()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = max(best, calls * items / elapsed)
    return best


def bench_flow(
    topology_id: str = "sndlib/abilene", k: int = 4, batch: int = 1024, seed: int = 0, quick: bool = False
) -> dict:
    """Evaluations per second of path-split routings, batched versus a Python loop, on one core."""
    from threadpoolctl import threadpool_limits

    from rlte.baselines.classical import Ecmp
    from rlte.net.paths import k_shortest_paths
    from rlte.net.topology import load_topology
    from rlte.sim.flow import FlowModel, NextHopRouting, PathRouting, reference_link_loads

    topology = load_topology(topology_id)
    traffic = topology.demands if topology.demands is not None else np.full((topology.num_nodes,) * 2, 1e6)
    pathset = k_shortest_paths(topology, k)
    rng = np.random.default_rng(seed)
    splits = rng.random((batch, *pathset.mask.shape)) * pathset.mask
    splits /= splits.sum(axis=-1, keepdims=True)
    model = FlowModel(topology)
    evaluator = model.paths(pathset)
    min_time = 0.2 if quick else 0.5
    traffic_batch = np.broadcast_to(traffic, (batch, *traffic.shape)).copy()
    next_hop = Ecmp().solve(topology, traffic).splits
    next_hop_batch = np.broadcast_to(next_hop, (64, *next_hop.shape)).copy()
    with threadpool_limits(limits=1):
        batched = _best_rate(lambda: evaluator.link_loads(splits, traffic), batch, min_time)
        batched_traffic = _best_rate(lambda: evaluator.link_loads(splits, traffic_batch), batch, min_time)
        full_metrics = _best_rate(
            lambda: model.evaluate(PathRouting(pathset, splits), traffic), batch, min_time
        )
        next_hops = _best_rate(
            lambda: model.link_loads(NextHopRouting(next_hop_batch), traffic), 64, min_time
        )
        loop_items = 20 if quick else 100
        looped = _best_rate(
            lambda: [
                reference_link_loads(pathset, splits[i], traffic, topology.num_links)
                for i in range(loop_items)
            ],
            loop_items,
            min_time,
            repeats=3,
        )
        path_links = [[np.asarray(path, dtype=np.int64) for path in paths] for paths in pathset.paths]
        pairs = pathset.pairs.tolist()

        def numpy_loop(routing: np.ndarray) -> np.ndarray:
            load = np.zeros(topology.num_links)
            for d, (s, t) in enumerate(pairs):
                for j, links in enumerate(path_links[d]):
                    load[links] += traffic[s, t] * routing[d, j]
            return load

        numpy_looped = _best_rate(
            lambda: [numpy_loop(splits[i]) for i in range(loop_items)], loop_items, min_time, repeats=3
        )
    check = evaluator.link_loads(splits[:3], traffic)
    for i in range(3):
        np.testing.assert_allclose(
            check[i], reference_link_loads(pathset, splits[i], traffic, topology.num_links), rtol=1e-9
        )
    return {
        "benchmark": "flow",
        "topology": topology.name,
        "k": k,
        "paths": int(pathset.mask.sum()),
        "batch": batch,
        "threads": 1,
        "batched_evals_per_s": batched,
        "batched_evals_per_s_batched_traffic": batched_traffic,
        "full_metrics_evals_per_s": full_metrics,
        "next_hop_evals_per_s": next_hops,
        "loop_evals_per_s": looped,
        "speedup": batched / looped,
        "numpy_loop_evals_per_s": numpy_looped,
        "speedup_vs_numpy_loop": batched / numpy_looped,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _lp_case(topology_id: str, traffic: str, repeats: int, seed: int, queue) -> None:
    try:
        from rlte.baselines.lp import solve_min_mlu
        from rlte.net.topology import load_topology
        from rlte.net.traffic import gravity

        topology = load_topology(topology_id)
        if traffic == "topohub":
            matrix = topology.demands
        else:
            matrix = gravity(topology.nodes, 1e9, np.random.default_rng(seed)).demands[0]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        times, mlu = [], None
        for _ in range(repeats):
            result = solve_min_mlu(topology, matrix)
            times.append(result.runtime_s)
            mlu = result.mlu
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        queue.put(
            {
                "benchmark": "lp_opt",
                "topology": topology_id,
                "traffic": traffic,
                "nodes": topology.num_nodes,
                "links": topology.num_links,
                "variables": topology.num_nodes * topology.num_links,
                "median_s": statistics.median(times),
                "min_s": min(times),
                "repeats": repeats,
                "mlu": mlu,
                "peak_rss_mb": after / 1024,
                "solve_rss_growth_mb": (after - before) / 1024,
            }
        )
    except Exception as err:  # reported as a row, never a crash of the whole benchmark
        queue.put({"benchmark": "lp_opt", "topology": topology_id, "error": f"{type(err).__name__}: {err}"})


def bench_lp(cases=LP_CASES, repeats: int = 5, seed: int = 0, timeout_s: float = 900.0) -> list[dict]:
    """Median solve time and peak memory of the edge LP per case, one fresh process each."""
    context = multiprocessing.get_context("spawn")
    rows = []
    for topology_id, traffic in cases:
        queue = context.Queue()
        process = context.Process(target=_lp_case, args=(topology_id, traffic, repeats, seed, queue))
        process.start()
        try:
            # read before joining: a child blocks on exit until its queued result is consumed
            rows.append(queue.get(timeout=timeout_s))
        except Exception:  # queue.Empty: timed out or died without a result
            alive = process.is_alive()
            rows.append({"benchmark": "lp_opt", "topology": topology_id,
                         "error": f"timed out after {timeout_s:g} s" if alive else f"exit code {process.exitcode}"})  # fmt: skip
        finally:
            if process.is_alive():
                process.kill()
            process.join()
    return rows


def _steps_per_second(env, steps: int, multi_agent: bool) -> float:
    if multi_agent:
        env.reset(seed=0)
        actions = [
            {agent: env.action_space(agent).sample() for agent in env.possible_agents} for _ in range(16)
        ]
        start = time.perf_counter()
        for i in range(steps):
            if not env.agents:
                env.reset()
            env.step(actions[i % 16])
        return steps / (time.perf_counter() - start)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(16)]
    start = time.perf_counter()
    for i in range(steps):
        _, _, _, truncated, _ = env.step(actions[i % 16])
        if truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def bench_envs(quick: bool = False) -> list[dict]:
    """Environment steps per second of every id on Abilene (sndlib/abilene, a synthetic week at
    60 % load), one core. ``rlte/TE-v0`` is measured without the LP optimum in ``info`` and with it
    (each matrix's LP solved once and cached: the first pass over the data is LP-bound)."""
    import gymnasium as gym
    from threadpoolctl import threadpool_limits

    import rlte.envs  # noqa: F401
    from rlte.envs import make_parallel

    steps = 1000 if quick else 5000
    scenario = {"topology": "sndlib/abilene", "traffic": "diurnal:topohub", "load": 0.6}
    rows = []
    with threadpool_limits(limits=1):
        cases = [
            ("rlte/TE-v0", {"with_optimal": False}, False),
            ("rlte/TE-v0", {"with_optimal": False, "action_type": "path"}, False),
            ("rlte/TE-v0", {"with_optimal": True}, False),
            ("rlte/TE-MA-v0", {"with_optimal": False}, True),
            ("rlte/LinkWeight-MA-v0", {"train_fraction": 0.0, "traffic": "topohub"}, True),
        ]
        for env_id, options, multi_agent in cases:
            kwargs = {**scenario, **options}
            env = make_parallel(env_id, **kwargs) if multi_agent else gym.make(env_id, **kwargs).unwrapped
            rate = _steps_per_second(env, steps, multi_agent)
            rows.append(
                {"benchmark": "env", "id": env_id, "options": options, "steps": steps, "steps_per_s": rate}
            )
    return rows


def bench_agents(quick: bool = False, steps: int | None = None, decisions: int | None = None) -> list[dict]:
    """Training steps per second and decision time per interval of the multi-agent learners on
    ``rlte/TE-MA-v0`` (sndlib/abilene, a synthetic week at 70 % load, k = 4), one core. The
    decision time is the median over ``decisions`` calls of ``act`` on one interval's
    observations (every node agent's action)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise RlteError("the agents benchmark needs torch: pip install 'rlte[rl]'") from None
    from threadpoolctl import threadpool_limits

    from rlte.domains import get_method
    from rlte.envs import make_parallel

    steps = steps or (1024 if quick else 4096)
    decisions = decisions or (100 if quick else 500)
    options = {"topology": "sndlib/abilene", "traffic": "diurnal:topohub", "load": 0.7, "with_optimal": False}
    rows = []
    with threadpool_limits(limits=1):
        for name, params in (
            ("ma_trpo", {}),
            ("ma_ppo", {}),
            ("ma_dqn", {"learning_starts": min(1000, steps // 2)}),
        ):
            agent = get_method(name).make(params, seed=0)
            start = time.perf_counter()
            trained = agent.train(lambda: make_parallel("rlte/TE-MA-v0", **options), steps)  # whole rollouts
            train_s = time.perf_counter() - start
            env = make_parallel("rlte/TE-MA-v0", **options)
            observations, _ = env.reset(seed=0)
            times = []
            for _ in range(decisions):
                begin = time.perf_counter()
                agent.act(observations)
                times.append(time.perf_counter() - begin)
            rows.append({"benchmark": "agent", "method": name, "agents": len(env.possible_agents),
                         "steps": trained, "train_steps_per_s": trained / train_s,
                         "decision_ms": 1e3 * statistics.median(times)})  # fmt: skip
    return rows


def _lp_rows(quick: bool) -> list[dict]:
    cases = [c for c in LP_CASES if not (quick and c[0] in ("gabriel/200/0", "gabriel/500/0"))]
    return bench_lp(cases, repeats=3 if quick else 5)


#: The benchmarks by name: ``module:function`` taking ``quick`` and returning a row or rows, in the
#: order ``all`` runs them.
BENCHMARKS = {
    "flow": "rlte.bench:bench_flow",
    "env": "rlte.bench:bench_envs",
    "agents": "rlte.bench:bench_agents",
    "lp": "rlte.bench:_lp_rows",
    "packet": "rlte.bench_packet:bench_packet",
    "cluster": "rlte.bench_cluster:bench_cluster",
    "maroh": "rlte.bench_maroh:bench_maroh_routing",
    "maroh_training": "rlte.bench_maroh:bench_maroh_training",
    "strl": "rlte.bench_strl:bench_strl",
    "dote_scale": "rlte.bench_dote:bench_dote_scale",
}


def run(which: str = "all", quick: bool = False) -> list[dict]:
    """The benchmarks by name (`BENCHMARKS`) or ``all``. ``quick`` shrinks them (fewer repeats and
    steps, LP cases up to 100 nodes)."""
    import importlib

    if which != "all" and which not in BENCHMARKS:
        raise RlteError(f"benchmark {which!r}: unknown (choose from all, {', '.join(BENCHMARKS)})")
    rows: list[dict] = []
    for name, path in BENCHMARKS.items():
        if which in ("all", name):
            module, _, function = path.partition(":")
            result = getattr(importlib.import_module(module), function)(quick=quick)
            rows.extend(result if isinstance(result, list) else [result])
    return rows
