"""``rlte bench``: speed and memory benchmarks."""

from __future__ import annotations

import argparse
import json

from rlte.cli.common import console, table


def _line(row: dict) -> str | None:
    """One benchmark row in words (None for rows shown in a table)."""
    kind = row["benchmark"]
    if kind == "flow":
        return (
            f"flow, {row['topology']} k={row['k']} ({row['paths']} paths), one core: "
            f"{row['batched_evals_per_s']:,.0f} routings/s batched ({row['batched_evals_per_s_batched_traffic']:,.0f} "
            f"with a matrix each, {row['full_metrics_evals_per_s']:,.0f} with every metric), "
            f"{row['loop_evals_per_s']:,.0f}/s by a pure Python loop ({row['speedup']:,.0f}x), "
            f"{row['numpy_loop_evals_per_s']:,.0f}/s by a per-demand numpy loop ({row['speedup_vs_numpy_loop']:,.0f}x); "
            f"next-hop routings {row['next_hop_evals_per_s']:,.0f}/s; peak memory {row['peak_rss_mb']:.0f} MB"
        )
    if kind == "env":
        return f"env {row['id']} {row['options']}: {row['steps_per_s']:,.0f} steps/s (one core)"
    if kind == "agent":
        return (
            f"agent {row['method']} on rlte/TE-MA-v0 ({row['agents']} node agents), one core: "
            f"{row['train_steps_per_s']:,.0f} training steps/s, decision {row['decision_ms']:.3f} ms per interval"
        )
    if kind == "packet":
        return (
            f"packet simulator, {row['topology']} at load {row['load']:g}, {row['method']}, one core: "
            f"{row['compiled_hops_per_s']:,.0f} packet-hops/s compiled ({row['long_compiled_hops_per_s']:,.0f} over "
            f"{row['long_horizon']:,.0f} time units), {row['python_hops_per_s']:,.0f}/s by the plain-Python reference "
            f"({row['ratio']:.0f}x); mean delivery time {row['mean_delay']:.2f}"
        )
    if kind == "cluster":
        return (
            f"cluster simulator, {row.get('scenario', '')} {row['method']}, one core: {row['compiled_events_per_s']:,.0f} "
            f"task events/s compiled, {row['python_events_per_s']:,.0f}/s by the plain-Python reference "
            f"({row['ratio']:.0f}x)"
        )
    if kind == "maroh_routing":
        if "error" in row:
            return f"MAROH routing: skipped ({row['error']})"
        return (
            f"MAROH weighted-hash routing, {row['topology']} {row['traffic']} ({row['flows']} flows), one core: "
            f"{row['routing_ms']:.3f} ms per routing ({row['batched_routing_ms']:.4f} ms each in a batch), "
            f"{row['split_routing_ms']:.3f} ms by the proportional split"
        )
    if kind == "maroh_genetic":
        return f"MAROH genetic benchmark, {row['topology']}: {row['generations_per_s']:,.0f} generations/s"
    if kind == "maroh_training":
        if "error" in row:
            return f"MAROH training: skipped ({row['error']})"
        return (
            f"{row['method']} training, {row['topology']} ({row['agents']} agents, {row['horizons']} horizons), one core: "
            f"{row['ms_per_episode']:,.0f} ms per episode over {row['episodes']} episodes, so the authors' "
            f"{row['authors_episodes']:,} episodes in {row['authors_training_h']:.2f} h; decision {row['decision_ms']:.2f} ms"
        )
    if kind == "maroh_memory":
        return (
            f"MAROH memory look-up, {row['memory']} ({row['agents']} agents, {row['representatives']} representatives "
            f"of {row['state_size']} values each): {row['lookup_us']:,.1f} us"
            + (
                f"; clustering every agent's memory {row['first_clustering_ms']:,.0f} ms the first time, "
                f"{row['clustering_ms']:,.0f} ms later"
                if "clustering_ms" in row
                else ""
            )
        )
    if kind == "strl_hour":
        return (
            f"STRL queueing network, one hour ({row['classes']} classes, {row['queues']} queues, {row['substeps']} "
            f"substeps), one core: {row['compiled_ms']:.2f} ms compiled, {row['reference_ms']:,.0f} ms by the "
            f"plain-Python reference ({row['speedup']:.0f}x)"
        )
    if kind == "strl_env":
        return f"env rlte/STRL-v0: {row['step_ms']:.2f} ms per step (one core; warm-up {row['warmup_hours']} hours)"
    if kind == "strl_training":
        return (
            f"{row['method'].upper()} DDPG training on rlte/STRL-v0, one core: {row['ms_per_step']:,.1f} ms per step, "
            f"so the paper's 50,000 steps in {row['paper_budget_h']:.2f} h per seed"
        )
    if kind == "dote_paths":
        return (
            f"paths, {row['topology']} ({row['nodes']} nodes, {row['pairs']:,} pairs), Yen k=4: "
            f"{row['computed_s']:.1f} s computed, {row['cached_s']:.2f} s from the path cache"
        )
    if kind == "dote_scale":
        return (
            f"dote, {row['topology']} ({row['nodes']} nodes, {row['demands']:,} demands), one core: "
            f"{row['train_ms_per_step']:,.0f} ms per training step over {row['examples']:,} examples, decision "
            f"{row['decision_ms']:.1f} ms against the LP's {row['lp_solve_s']:.2f} s; MLU {100 * row['dote_gap']:.1f} % "
            f"above the LP over {row['intervals']} test intervals (ECMP {100 * row['ecmp_gap']:.1f} %)"
        )
    if kind == "lp_opt":
        return None  # shown as a table
    # a benchmark without its own sentence is still shown, as its fields
    fields = ", ".join(
        f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
        for key, value in row.items()
        if key != "benchmark"
    )
    return f"{kind}: {fields}"


def cmd_bench(args: argparse.Namespace) -> int:
    from rlte.bench import BENCHMARKS, run

    out = None if args.json else console()
    if out:
        names = ", ".join(BENCHMARKS) if args.only == "all" else args.only
        out.print(f"running {names} benchmark(s){' (quick)' if args.quick else ''}; this takes a while ...")
    rows = run(args.only, quick=args.quick)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    for row in rows:
        line = _line(row)
        if line:
            out.print(line)
    lp_rows = [row for row in rows if row["benchmark"] == "lp_opt"]
    if lp_rows:
        cells = [
            (
                row["topology"],
                row.get("traffic", ""),
                row.get("nodes", ""),
                row.get("links", ""),
                f"{row['median_s'] * 1e3:.1f}" if "median_s" in row else row["error"],
                f"{row['peak_rss_mb']:.0f}" if "peak_rss_mb" in row else "",
            )
            for row in lp_rows
        ]
        out.print(table("lp_opt (edge LP, HiGHS)", ["topology", "traffic", "nodes", "links", "median ms", "peak MB"],
                        cells))  # fmt: skip
    return 0


def add_commands(commands) -> None:
    from rlte.bench import BENCHMARKS

    p = commands.add_parser("bench", help="speed and memory benchmarks (" + ", ".join(BENCHMARKS) + ")")
    p.add_argument(
        "--only", choices=["all", *BENCHMARKS], default="all", help="which benchmark (default all)"
    )
    p.add_argument("--quick", action="store_true", help="shorter runs; LP up to 100 nodes")
    p.add_argument("--json", action="store_true", help="one JSON object per result per line")
    p.set_defaults(func=cmd_bench)
