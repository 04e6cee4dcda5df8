"""One cell of an experiment grid: build its scenario, train (learned methods, with checkpoints),
route the evaluated intervals and measure them. Runs in a worker process (local pool or Ray task);
everything it needs comes in its arguments, and everything it produces is written atomically in
its cell folder.

Every method of a grid is evaluated on the same intervals: the test part after its first
``window`` intervals (which a learned agent observes before its first decision; the predictive
baselines see them, and the training part, as history).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

import numpy as np

from rlte.errors import RlteError
from rlte.experiments.spec import TE_ENV_KEYS, TE_MA_ENV_KEYS
from rlte.fileio import atomic_write_text
from rlte.metrics import FLOW_METRICS

#: Test hook: a folder. When set, each cell fails on its first attempt (a marker file remembers
#: it), to test that executors retry failed tasks.
FAIL_ONCE_ENV = "RLTE_TEST_FAIL_ONCE"


def _freeze(value):
    """YAML lists -> tuples, so scenario options are hashable (scenarios are cached by config)."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    return value


def scenario_options(spec: dict, cell: dict, data_dir: str | None) -> dict:
    """ScenarioConfig fields of a cell."""
    options = {key: _freeze(value) for key, value in (spec.get("scenario") or {}).items()}
    for entry in spec.get("scenarios") or []:
        if entry["name"] == cell["scenario"]:
            options.update({key: _freeze(value) for key, value in (entry.get("options") or {}).items()})
    options.update(topology=cell["topology"], traffic=cell["traffic"], load=cell["load"],
                   traffic_seed=int(cell["seed"]), data_dir=data_dir)  # fmt: skip
    return options


def _series_csv(series: dict[str, np.ndarray]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    names = list(series)
    writer.writerow(["interval", *names])
    for i in range(len(series[names[0]])):
        writer.writerow([i, *[repr(float(series[name][i])) for name in names]])
    return out.getvalue()


def _evaluate_baseline(name: str, scenario, part: str, window: int) -> tuple[dict[str, np.ndarray], float]:
    from rlte.baselines import make_baseline
    from rlte.sim.flow import FlowModel

    matrices = scenario.matrices(part)
    history = np.concatenate([scenario.train, matrices[:window]]) if part == "test" else matrices[:window]
    evaluated = matrices[window:]
    baseline = make_baseline(name)
    # segments between link failures: each routed and evaluated on the topology in force
    steps = sorted({0} | {at for at, _ in scenario.config.failures if 0 < at < len(evaluated)})
    series: dict[str, list] = {metric: [] for metric in FLOW_METRICS}
    elapsed = 0.0
    for i, begin in enumerate(steps):
        end = steps[i + 1] if i + 1 < len(steps) else len(evaluated)
        topology = scenario.topology_at(part, begin)
        past = np.concatenate([history, evaluated[:begin]])
        start = time.perf_counter()
        routing = baseline.route_series(topology, evaluated[begin:end], past)
        elapsed += time.perf_counter() - start
        stats = FlowModel(topology).evaluate(routing, evaluated[begin:end], check=False)
        for metric in FLOW_METRICS:
            series[metric].extend(np.atleast_1d(getattr(stats, metric)).tolist())
    return {metric: np.asarray(values) for metric, values in series.items()}, elapsed


def _train_and_evaluate(
    name: str, params: dict, spec: dict, cell: dict, options: dict, part: str, cell_dir: Path
) -> tuple[dict, float, float]:
    """Train a learned method (resuming from its checkpoint) and run it over the evaluated part.

    Single-agent methods act on ``rlte/TE-v0``, multi-agent ones on ``rlte/TE-MA-v0``; both see
    the same scenario, and their evaluation episode covers the test part after its first
    ``window`` intervals."""
    import gymnasium as gym

    import rlte.envs  # noqa: F401
    from rlte.envs import make_parallel
    from rlte.experiments.methods import MULTI_AGENT, make_learned

    multi_agent = name in MULTI_AGENT
    keys = TE_MA_ENV_KEYS if multi_agent else TE_ENV_KEYS
    env_options = {key: value for key, value in (spec.get("env") or {}).items() if key in keys}

    def make(env_part: str, **extra):
        kwargs = {**env_options, **extra, **options, "part": env_part, "with_optimal": False}
        return make_parallel("rlte/TE-MA-v0", **kwargs) if multi_agent else gym.make("rlte/TE-v0", **kwargs)

    training = spec["training"]
    agent = make_learned(name, params, seed=int(cell["seed"]))
    start = time.perf_counter()
    agent.train(lambda: make("train"), int(training["timesteps"]), checkpoint_path=cell_dir / "checkpoint.pt",
                checkpoint_every=int(training["checkpoint_every"]), learning_log=cell_dir / "learning.csv",
                tensorboard_dir=cell_dir / "tb")  # fmt: skip
    train_s = time.perf_counter() - start
    env = make(part, episode_length=None)
    observation, _ = env.reset(seed=int(cell["seed"]))
    series: dict[str, list] = {metric: [] for metric in FLOW_METRICS}
    decide = 0.0
    while True:
        start = time.perf_counter()
        action = agent.act_all(observation) if multi_agent else agent.act(observation)
        decide += time.perf_counter() - start
        if multi_agent:
            observation, _, _, truncations, infos = env.step(action)
            info, truncated = next(iter(infos.values())), all(truncations.values())
        else:
            observation, _, _, truncated, info = env.step(action)
        for metric in FLOW_METRICS:
            series[metric].append(info[metric])
        if truncated:
            break
    return {metric: np.asarray(values) for metric, values in series.items()}, decide, train_s


def run_cell(spec: dict, cell: dict, cell_dir: str, data_dir: str | None = None) -> dict:
    """Run one cell and write ``result.json`` and ``series.csv`` in ``cell_dir``.

    Args:
        spec: the resolved spec (`Spec.resolved`).
        cell: ``method`` (name), ``label``, ``params``, ``topology``, ``traffic``, ``load``,
            ``scenario``, ``seed``, ``cell_id``.
        cell_dir: the cell's folder (created if needed).
        data_dir: the data directory.

    Returns:
        The result: ``cell``, ``rows`` (one per metric), ``oracle``, ``learned``.
    """
    from threadpoolctl import threadpool_limits

    from rlte.envs.scenario import build, config_from_options
    from rlte.experiments.methods import is_learned

    folder = Path(cell_dir)
    folder.mkdir(parents=True, exist_ok=True)
    marker_dir = os.environ.get(FAIL_ONCE_ENV)
    if marker_dir:
        marker = Path(marker_dir) / f"{cell['cell_id']}.failed"
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("failed once\n")
            raise RuntimeError(f"injected failure of cell {cell['cell_id']} ({FAIL_ONCE_ENV})")
    started = time.perf_counter()
    log_lines = [
        f"{time.strftime('%Y-%m-%d %H:%M:%S')} cell {cell['cell_id']}: {json.dumps({k: cell[k] for k in ('method', 'params', 'topology', 'traffic', 'load', 'scenario', 'seed')}, default=str)}"
    ]
    with threadpool_limits(limits=1):  # one thread per cell: the same numbers on any executor
        options = scenario_options(spec, cell, data_dir)
        scenario = build(config_from_options(**options))
        log_lines.append(f"scenario: {len(scenario.train)} training and {len(scenario.test)} test intervals, "
                         f"load factor {scenario.load_factor:.6g}, {len(scenario.bursts)} bursts")  # fmt: skip
        part = spec["evaluation"]["part"]
        window = int((spec.get("env") or {}).get("window", 4))
        if len(scenario.matrices(part)) <= window:
            raise RlteError(
                f"cell {cell['cell_id']}: the {part} part has {len(scenario.matrices(part))} intervals, not more than window={window}"
            )
        learned = is_learned(cell["method"])
        train_s = None
        if learned:
            series, decide_s, train_s = _train_and_evaluate(
                cell["method"], cell["params"], spec, cell, options, part, folder
            )
        else:
            series, decide_s = _evaluate_baseline(cell["method"], scenario, part, window)
    from rlte.baselines import make_baseline

    oracle = False if learned else bool(make_baseline(cell["method"]).oracle)
    intervals = len(series["mlu"])
    runtime = time.perf_counter() - started
    base = {key: cell[key] for key in ("topology", "traffic", "load", "scenario", "seed")}
    base["method"] = cell["label"]
    rows = []
    for metric in FLOW_METRICS:
        rows.append({**base, "metric": metric, "value": float(np.mean(series[metric])), "runtime_s": runtime})
        rows.append(
            {
                **base,
                "metric": f"{metric}_p95",
                "value": float(np.percentile(series[metric], 95)),
                "runtime_s": runtime,
            }
        )
    rows.append(
        {**base, "metric": "decision_ms", "value": 1e3 * decide_s / max(intervals, 1), "runtime_s": runtime}
    )
    if train_s is not None:
        rows.append({**base, "metric": "train_s", "value": train_s, "runtime_s": runtime})
    result = {"cell": {**base}, "rows": rows, "oracle": oracle, "learned": learned, "intervals": intervals}
    log_lines.append(f"evaluated {intervals} intervals: mean MLU {np.mean(series['mlu']):.6g}, "
                     f"decision {1e3 * decide_s / max(intervals, 1):.3f} ms per interval"
                     + (f", trained {train_s:.1f} s" if train_s is not None else "") + f", {runtime:.1f} s in all")  # fmt: skip
    log_lines.append(f"{time.strftime('%Y-%m-%d %H:%M:%S')} done")
    atomic_write_text(folder / "log.txt", "\n".join(log_lines) + "\n")
    atomic_write_text(folder / "series.csv", _series_csv(series))
    atomic_write_text(folder / "result.json", json.dumps(result, indent=1))
    return result
