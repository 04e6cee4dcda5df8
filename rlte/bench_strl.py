"""Speed of seed 001's pieces (`rlte bench --only strl`): one simulated hour of the queueing network
(`rlte.sim.strl`, compiled, against the plain-Python reference `rlte.sim.strl_reference` on the same
hour), an environment step, and a DDPG training step of STRL, TRL and SRL on ``rlte/STRL-v0``
(NSFNET, the paper's sizes: window 24, latent 70, batch 32), with the time per learner of the
paper's 50,000 steps that follows from it.

Times are the process's CPU time (other load on the machine does not count), the best of a few
repeats, on one thread.
"""

from __future__ import annotations

import time

import numpy as np

#: Training steps of a learner in the paper's budget (500 episodes of 100 hours); rlte's full mode runs a
#: tenth of it (experiments/seed001_fig3.yaml).
PAPER_STEPS = 50_000


def _best_seconds(run, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def bench_strl(quick: bool = False) -> list[dict]:
    """The hour, the env step and the learners' training steps (see the module docstring).

    Args:
        quick: fewer repeats and training steps (for smoke tests).

    Returns:
        A row for the hour (compiled and reference ms, their ratio), one for the env step, and one per
        learner (ms per training step, the full mode's hours).
    """
    import torch

    from rlte.agents.strl import STRLAgent
    from rlte.envs.strl import STRLEnv
    from rlte.sim import strl, strl_reference

    torch.set_num_threads(1)
    env = STRLEnv()
    env.reset(seed=0)
    arrivals = env.arrivals(
        int(np.argmax(env.cpu[: env.train_hours])), env.random_weights
    )  # the busiest hour
    repeats = 2 if quick else 5
    backlog = env.backlog.copy()
    compiled = _best_seconds(
        lambda: strl.simulate_hour(env.network, env.classes, arrivals, backlog.copy()), repeats
    )
    plain = _best_seconds(
        lambda: strl_reference.simulate_hour(env.network, env.classes, arrivals, backlog.copy()), 1
    )
    rows = [{"benchmark": "strl_hour", "classes": int(len(env.classes.length)), "queues": int(env.network.num_queues),
             "substeps": int(env.options.substeps), "compiled_ms": compiled * 1e3, "reference_ms": plain * 1e3,
             "speedup": plain / compiled}]  # fmt: skip
    steps = 20 if quick else 100

    def env_steps() -> None:
        for _ in range(steps):
            env.step(np.zeros(env.num_nodes, dtype=np.float32))

    env.reset(seed=0)
    rows.append({"benchmark": "strl_env", "step_ms": _best_seconds(env_steps, 1) * 1e3 / steps,
                 "warmup_hours": int(env.options.warmup_hours)})  # fmt: skip
    learn = 10 if quick else 60
    for variant in ("strl", "trl", "srl"):
        params = {"variant": variant, "learning_starts": 40, "log_interval": 1_000_000}
        warm = STRLAgent(params, seed=0)
        start = time.process_time()
        warm.train(lambda: STRLEnv(), 40)  # the random warm-up: env steps only
        warmup = time.process_time() - start
        agent = STRLAgent(params, seed=0)
        start = time.process_time()
        agent.train(lambda: STRLEnv(), 40 + learn)
        per_step = (time.process_time() - start - warmup) / learn
        rows.append({"benchmark": "strl_training", "method": variant, "ms_per_step": per_step * 1e3,
                     "paper_budget_h": per_step * PAPER_STEPS / 3600.0})  # fmt: skip
    return rows
