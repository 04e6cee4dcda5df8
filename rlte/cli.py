"""The ``rlte`` command.

A user error (bad file, unknown id, mismatched nodes, negative or NaN demand, ...) raises
`rlte.errors.RlteError`; `main` prints its one-line message and exits with status 2. Anything else
is a bug in rlte and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from rlte.errors import RlteError


def _console():
    from rich.console import Console

    # tables are wide: do not squeeze them to 80 columns when writing to a pipe or a file
    return Console() if sys.stdout.isatty() else Console(width=200)


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[str(x) for x in row])
    return table


# ---------------------------------------------------------------------- topo
def cmd_topo_list(args: argparse.Namespace) -> int:
    from rlte.net.topology import BUILTINS, DATA_TOPOLOGIES, topohub_ids

    ids = topohub_ids()
    if args.group:
        ids = [i for i in ids if i.startswith(args.group.rstrip("/") + "/")]
        if not ids:
            raise RlteError(f"--group {args.group!r}: no topohub topology in that group")
    if args.json:
        print(json.dumps({"builtin": list(BUILTINS), "data_dir": list(DATA_TOPOLOGIES), "topohub": ids}))
        return 0
    console = _console()
    console.print("[bold]built-in[/]: " + ", ".join(BUILTINS))
    console.print("[bold]from the data directory[/] (--data-dir / RLTE_DATA): " + ", ".join(DATA_TOPOLOGIES))
    groups: dict[str, list[str]] = {}
    for topology_id in ids:
        groups.setdefault(topology_id.split("/")[0], []).append(topology_id)
    for group, members in groups.items():
        shown = (
            members if args.group or len(members) <= 12 else members[:12] + [f"... ({len(members)} in all)"]
        )
        console.print(f"[bold]topohub {group}[/] ({len(members)}): " + ", ".join(shown))
    return 0


def cmd_topo_show(args: argparse.Namespace) -> int:
    from rlte.net.topology import load_topology

    topology = load_topology(args.topology, data_dir=args.data_dir)
    summary = topology.summary()
    if args.json:
        summary["links_list"] = [
            {"src": u, "dst": v, "capacity_bps": float(c), "delay_s": float(d), "weight": float(w)}
            for (u, v), c, d, w in zip(
                topology.link_names(), topology.capacity, topology.delay, topology.weight
            )
        ]
        print(json.dumps(summary))
    else:
        console = _console()
        console.print(
            f"[bold]{topology.name}[/]: {topology.num_nodes} nodes, {topology.num_links} directed links, "
            f"hop diameter {summary['hop_diameter']}"
        )
        console.print(
            f"capacity {summary['capacity_min_bps'] / 1e9:g}-{summary['capacity_max_bps'] / 1e9:g} Gbit/s "
            f"(total {summary['total_capacity_bps'] / 1e9:g}), propagation delay "
            f"{summary['delay_min_s'] * 1e3:.2f}-{summary['delay_max_s'] * 1e3:.2f} ms, "
            f"static demands: {'yes' if topology.demands is not None else 'no'}"
        )
        console.print("nodes: " + ", ".join(topology.nodes))
        if args.links:
            rows = [
                (f"{u} -> {v}", f"{c / 1e9:g}", f"{d * 1e3:.2f}", f"{w:g}")
                for (u, v), c, d, w in zip(
                    topology.link_names(), topology.capacity, topology.delay, topology.weight
                )
            ]
            console.print(_table("links", ["link", "capacity (Gbit/s)", "delay (ms)", "IGP weight"], rows))
    if args.plot:
        from rlte.plotting import plot_topology

        path = plot_topology(topology, args.plot)
        print(f"wrote {path}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- traffic
def cmd_traffic_show(args: argparse.Namespace) -> int:
    import numpy as np

    from rlte.net.topology import load_topology
    from rlte.net.traffic import load_traffic

    topology = load_topology(args.topology, data_dir=args.data_dir) if args.topology else None
    series = load_traffic(args.source, topology, data_dir=args.data_dir, rng=np.random.default_rng(args.seed))
    summary = series.summary()
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        console = _console()
        console.print(
            f"[bold]{series.name}[/]: {summary['steps']} matrices of {summary['nodes']} x {summary['nodes']}, "
            f"{series.interval_s:g} s apart, {summary['start']} to {summary['end']}"
        )
        console.print(
            f"total demand: mean {summary['total_mean_bps'] / 1e9:.3f} Gbit/s, "
            f"min {summary['total_min_bps'] / 1e9:.3f}, max {summary['total_max_bps'] / 1e9:.3f} "
            "(traffic between distinct nodes)"
        )
        ratios = summary.get("daily_peak_trough")
        if ratios:
            console.print("daily peak / trough: " + ", ".join(f"{day} {r:.2f}" for day, r in ratios.items()))
        console.print(f"top 10 % of pairs carry {100 * summary['top10pct_pairs_share']:.1f} % of the traffic")
        rows = [
            (
                f"{pair['src']} -> {pair['dst']}",
                f"{pair['share'] * summary['total_mean_bps'] / 1e6:.1f}",
                f"{100 * pair['share']:.1f}",
            )
            for pair in summary["heaviest_pairs"]
        ]
        console.print(_table("heaviest pairs", ["pair", "mean (Mbit/s)", "share (%)"], rows))
    if args.plot:
        from rlte.plotting import plot_traffic_total

        path = plot_traffic_total(series, args.plot)
        print(f"wrote {path}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- baselines
def _methods(text: str | None) -> list[str]:
    from rlte.baselines import BASELINES, make_baseline

    if not text:
        return list(BASELINES)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise RlteError(f"--methods {text!r}: no method named")
    for name in names:
        make_baseline(name)  # fails early, naming the bad method
    return names


def _positive(value: float | None, option: str) -> float | None:
    import math

    if value is not None and (not math.isfinite(value) or value <= 0):
        raise RlteError(f"{option} {value!r}: must be a positive number")
    return value


def cmd_baselines(args: argparse.Namespace) -> int:
    import numpy as np

    from rlte.baselines.compare import compare_baselines, prepare_traffic
    from rlte.net.topology import load_topology
    from rlte.net.traffic import load_traffic

    methods = _methods(args.methods)
    _positive(args.load, "--load")
    _positive(args.capacity, "--capacity")
    topology = load_topology(args.topology, data_dir=args.data_dir)
    if args.capacity is not None:
        topology = topology.with_uniform_capacity(args.capacity)
    series = load_traffic(
        args.traffic, topology, data_dir=args.data_dir, rng=np.random.default_rng(args.seed)
    )
    prepared = prepare_traffic(topology, series, load=args.load, train_fraction=args.train_fraction)
    status = None if args.json else _console().status("")

    def progress(name: str) -> None:
        if status is not None:
            status.update(f"routing {len(prepared.evaluated)} interval(s) with {name} ...")

    if status is not None:
        status.start()
    try:
        rows = compare_baselines(topology, prepared, methods, progress=progress)
    finally:
        if status is not None:
            status.stop()
    is_series = len(prepared.evaluated) > 1
    keys = ["mlu", "mean_util", "phi", "mean_delay_ms", "loss_rate", "throughput"]
    if args.json:
        for row in rows:
            out = {
                "method": row["method"],
                "topology": topology.name,
                "traffic": args.traffic,
                "oracle": row["oracle"],
            }
            out.update({k: row[k] for k in keys})
            if is_series:
                out.update({f"{k}_p95": row[f"{k}_p95"] for k in keys})
            out["runtime_s"] = row["runtime_s"]
            out["load_factor"] = prepared.factor
            out["intervals"] = len(prepared.evaluated)
            if args.links:
                out["links"] = [
                    {"src": u, "dst": v, "load_bps": float(x), "util": float(y)}
                    for (u, v), x, y in zip(topology.link_names(), row["link_load_bps"], row["link_util"])
                ]
            print(json.dumps(out))
        return 0
    console = _console()
    level = f"at {100 * args.load:g} % load (x{prepared.factor:.4g})" if args.load else "unscaled"
    what = f"{len(prepared.evaluated)} intervals" + (
        f" after {len(prepared.history)} of history" if len(prepared.history) else ""
    )
    title = f"{topology.name}, traffic {args.traffic} {level}, {what}" + (
        "; mean / 95th percentile" if is_series else ""
    )

    def cell(row: dict, key: str, scale: float, fmt: str) -> str:
        text = format(row[key] * scale, fmt)
        return f"{text} / {format(row[key + '_p95'] * scale, fmt)}" if is_series else text

    table_rows = [
        (
            row["method"] + (" (oracle)" if row["oracle"] else ""),
            cell(row, "mlu", 100, ".1f"),
            cell(row, "mean_util", 100, ".1f"),
            cell(row, "phi", 1e4, ".2f"),
            cell(row, "mean_delay_ms", 1, ".2f"),
            cell(row, "loss_rate", 100, ".3f"),
            cell(row, "throughput", 1e-9, ".3f"),
            f"{row['runtime_s'] * 1e3:.1f}",
        )
        for row in rows
    ]
    console.print(
        _table(
            title,
            [
                "method",
                "MLU %",
                "mean util %",
                "phi x1e4",
                "delay ms",
                "loss %",
                "throughput Gbit/s",
                "time ms",
            ],
            table_rows,
        )
    )
    for row in rows:
        for note in row["notes"]:
            console.print(f"note: {note}")
    if args.links:
        for row in rows:
            link_rows = [
                (f"{u} -> {v}", f"{x / 1e6:.1f}", f"{100 * y:.1f}")
                for (u, v), x, y in zip(topology.link_names(), row["link_load_bps"], row["link_util"])
            ]
            console.print(
                _table(
                    f"{row['method']}: links (mean over intervals)",
                    ["link", "load Mbit/s", "util %"],
                    link_rows,
                )
            )
    return 0


# ---------------------------------------------------------------------- bench
def cmd_bench(args: argparse.Namespace) -> int:
    from rlte.bench import run

    console = None if args.json else _console()
    if console:
        console.print(
            f"running {args.only} benchmark(s){' (quick)' if args.quick else ''}; this takes a while ..."
        )
    rows = run(args.only, quick=args.quick)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    for row in rows:
        if row["benchmark"] == "flow":
            console.print(
                f"flow, {row['topology']} k={row['k']} ({row['paths']} paths), one core: "
                f"{row['batched_evals_per_s']:,.0f} routings/s batched ({row['batched_evals_per_s_batched_traffic']:,.0f} "
                f"with a matrix each, {row['full_metrics_evals_per_s']:,.0f} with every metric), "
                f"{row['loop_evals_per_s']:,.0f}/s by a pure Python loop ({row['speedup']:,.0f}x), "
                f"{row['numpy_loop_evals_per_s']:,.0f}/s by a per-demand numpy loop ({row['speedup_vs_numpy_loop']:,.0f}x); next-hop routings "
                f"{row['next_hop_evals_per_s']:,.0f}/s; peak memory {row['peak_rss_mb']:.0f} MB"
            )
        if row["benchmark"] == "env":
            console.print(f"env {row['id']} {row['options']}: {row['steps_per_s']:,.0f} steps/s (one core)")
        if row["benchmark"] == "agent":
            console.print(
                f"agent {row['method']} on rlte/TE-MA-v0 ({row['agents']} node agents), one core: "
                f"{row['train_steps_per_s']:,.0f} training steps/s, decision {row['decision_ms']:.3f} ms per interval"
            )
    lp_rows = [row for row in rows if row["benchmark"] == "lp_opt"]
    if lp_rows:
        table = [
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
        console.print(
            _table(
                "lp_opt (edge LP, HiGHS)",
                ["topology", "traffic", "nodes", "links", "median ms", "peak MB"],
                table,
            )
        )
    return 0


# ---------------------------------------------------------------------- experiments
def cmd_run(args: argparse.Namespace) -> int:
    from rlte.datadir import data_dir as resolve_data_dir
    from rlte.experiments.runner import run_spec
    from rlte.experiments.spec import load_spec

    found = resolve_data_dir(args.data_dir, required=False)
    data_dir = str(found) if found else None
    spec = load_spec(args.spec, quick=args.quick, data_dir=data_dir)
    cells = spec.cells()
    if args.dry_run:
        console = _console()
        rows = [
            (
                c.method.display,
                c.topology,
                c.traffic,
                "" if c.load is None else f"{c.load:g}",
                c.scenario,
                c.seed,
                c.cell_id,
            )
            for c in cells
        ]
        console.print(
            _table(
                f"{spec.name}: {len(cells)} cells" + (" (quick)" if args.quick else ""),
                ["method", "topology", "traffic", "load", "scenario", "seed", "cell"],
                rows,
            )
        )
        return 0
    summary = run_spec(
        spec, executor=args.executor, workers=args.workers, address=args.address, runs_dir=args.runs_dir,
        run_id=args.run_id, resume=args.resume, data_dir=data_dir, progress=not args.no_progress and sys.stderr.isatty(),
    )  # fmt: skip
    print(
        f"{summary.run_dir}: {summary.done} cells run, {summary.skipped} already done, {summary.failed} failed"
    )
    for cell_id, error in summary.errors.items():
        print(f"  failed: {cell_id}: {error}", file=sys.stderr)
    if args.report:
        from rlte.experiments.report import write_report

        print(f"wrote {write_report(summary.run_dir)}")
    return 1 if summary.failed else 0


#: Paper reproductions: the specs of each, in order (experiments/ in the checkout).
REPRODUCTIONS = {
    "seed000": ("seed000_table1", "seed000_table2", "seed000_fig2", "seed000_atra"),
}


def cmd_reproduce(args: argparse.Namespace) -> int:
    from pathlib import Path

    import rlte
    from rlte.datadir import data_dir as resolve_data_dir
    from rlte.experiments.report import write_report
    from rlte.experiments.runner import made_from, run_spec
    from rlte.experiments.spec import load_spec

    folder = (
        Path(args.specs_dir)
        if args.specs_dir
        else Path(rlte.__file__).resolve().parent.parent / "experiments"
    )
    names = REPRODUCTIONS[args.paper]
    missing = [name for name in names if not (folder / f"{name}.yaml").exists()]
    if missing:
        raise RlteError(
            f"{folder}: missing spec {missing[0]}.yaml (run from a checkout, or pass --specs-dir)"
        )
    found = resolve_data_dir(args.data_dir, required=False)
    data_dir = str(found) if found else None
    specs = [load_spec(folder / f"{name}.yaml", quick=args.quick, data_dir=data_dir) for name in names]
    run_id = args.run_id or ("quick" if args.quick else "full")
    for spec in specs:  # refuse before anything runs, not after the first spec's hour of training
        run_dir = Path(args.runs_dir) / spec.name / run_id
        if (run_dir / "spec.yaml").exists() and not made_from(spec, run_dir):
            raise RlteError(
                f"{run_dir}: made from another version of {spec.name}.yaml; pass --run-id NAME for a new "
                f"run (or move that folder away)"
            )
    failed = 0
    for spec in specs:
        resume = run_id if (Path(args.runs_dir) / spec.name / run_id / "spec.yaml").exists() else None
        print(f"{spec.name}: {len(spec.cells())} cells" + (" (resuming)" if resume else ""), flush=True)
        summary = run_spec(spec, executor=args.executor, workers=args.workers, runs_dir=args.runs_dir,
                           run_id=None if resume else run_id, resume=resume, data_dir=data_dir,
                           progress=not args.no_progress and sys.stderr.isatty())  # fmt: skip
        failed += summary.failed
        for cell_id, error in summary.errors.items():
            print(f"  failed: {cell_id}: {error}", file=sys.stderr)
        print(f"  wrote {write_report(summary.run_dir)}", flush=True)
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rlte.experiments.report import write_report

    run_dir = Path(args.run)
    if not run_dir.is_dir():
        raise RlteError(f"{run_dir}: no such run folder")
    print(f"wrote {write_report(run_dir)}")
    return 0


# ---------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on embedded defaults: every baseline on Abilene at 60 % load."""
    from rlte.datadir import data_dir

    found = data_dir(args.data_dir, required=False)
    if found:
        print(
            "rlte demo: the Abilene backbone with its real week of traffic at 60 % load; the first five "
            "days are history, the last two are evaluated"
        )
        argv = [
            "baselines",
            "--topology",
            "abilene",
            "--traffic",
            "abilene",
            "--load",
            "0.6",
            "--train-fraction",
            str(5 / 7),
            "--data-dir",
            str(found),
        ]
    else:
        print(
            "rlte demo: no data directory (set RLTE_DATA), so sndlib/abilene with its static topohub "
            "demands at 60 % load"
        )
        argv = ["baselines", "--topology", "sndlib/abilene", "--traffic", "topohub", "--load", "0.6"]
    return main(argv)


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from rlte import __version__

    parser = argparse.ArgumentParser(
        prog="rlte",
        description="Reinforcement learning for traffic engineering, beside the baselines and the LP optimum.",
    )
    parser.add_argument("--version", action="version", version=f"rlte {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_dir_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data-dir", metavar="DIR", help="real data folder (default: $RLTE_DATA, or ../shared/data)"
        )

    topo = commands.add_parser("topo", help="topologies: list and show")
    topo_commands = topo.add_subparsers(dest="topo_command", required=True, metavar="ACTION")
    p = topo_commands.add_parser("list", help="the topologies rlte can load")
    p.add_argument("--group", help="only this topohub group (sndlib, topozoo, gabriel, ...)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_topo_list)
    p = topo_commands.add_parser("show", help="nodes, links, capacities, diameter of one topology")
    p.add_argument("topology", metavar="ID", help="built-in, data-dir name, file, or topohub id")
    p.add_argument("--links", action="store_true", help="list every link")
    p.add_argument("--plot", metavar="PNG", help="draw the topology with link capacities")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    data_dir_option(p)
    p.set_defaults(func=cmd_topo_show)

    traffic = commands.add_parser("traffic", help="traffic matrices: show")
    traffic_commands = traffic.add_subparsers(dest="traffic_command", required=True, metavar="ACTION")
    p = traffic_commands.add_parser("show", help="shape, totals, daily peak/trough, heaviest pairs")
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="abilene, geant, topohub, maroh/NET/flows40, uniform:R, gravity:TOTAL, or a file",
    )
    p.add_argument(
        "--topology", metavar="ID", help="align nodes to this topology (needed by topohub, uniform, gravity)"
    )
    p.add_argument("--plot", metavar="PNG", help="draw the total demand over time")
    p.add_argument("--seed", type=int, default=0, help="seed of generated traffic (default 0)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    data_dir_option(p)
    p.set_defaults(func=cmd_traffic_show)

    p = commands.add_parser("baselines", help="every classical baseline and the LP optimum, one table")
    p.add_argument(
        "--topology", required=True, metavar="ID", help="built-in, data-dir name, file, or topohub id"
    )
    p.add_argument(
        "--traffic",
        required=True,
        metavar="SOURCE",
        help="topohub, uniform:R, gravity:TOTAL, abilene, geant, maroh/NET/flows40, or a file",
    )
    p.add_argument(
        "--load", type=float, metavar="L", help="scale traffic so the optimal MLU is L (0.6 = 60 %%)"
    )
    p.add_argument("--methods", metavar="A,B", help="comma-separated baselines (default: all)")
    p.add_argument("--capacity", type=float, metavar="C", help="set every link's capacity to C bit/s")
    p.add_argument(
        "--train-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="leading fraction of a series used as history only (load factor, predictive LPs)",
    )
    p.add_argument("--links", action="store_true", help="per-link loads and utilisations")
    p.add_argument("--json", action="store_true", help="one JSON object per method per line")
    p.add_argument("--seed", type=int, default=0, help="seed of generated traffic (default 0)")
    data_dir_option(p)
    p.set_defaults(func=cmd_baselines)

    p = commands.add_parser("run", help="run an experiment spec (a grid of cells) into the run store")
    p.add_argument("spec", metavar="SPEC", help="a YAML spec (experiments/*.yaml)")
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local process pool (default) or Ray tasks",
    )
    p.add_argument("--address", metavar="ADDR", help="an existing Ray cluster (with --executor ray)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="cells in parallel (default 2)")
    p.add_argument(
        "--quick", action="store_true", help="the spec's quick overrides (fewer cells, shorter training)"
    )
    p.add_argument("--dry-run", action="store_true", help="list the cells and stop")
    p.add_argument("--run-id", metavar="ID", help="name of a new run (default: a timestamp)")
    p.add_argument(
        "--resume", nargs="?", const="latest", metavar="ID", help="continue a run (default: the latest)"
    )
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="root of the run store (default runs/)")
    p.add_argument("--report", action="store_true", help="write report.md when the run ends")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    data_dir_option(p)
    p.set_defaults(func=cmd_run)

    p = commands.add_parser("reproduce", help="run every spec of a seed paper and write the reports")
    p.add_argument("paper", choices=sorted(REPRODUCTIONS), help="which paper")
    p.add_argument(
        "--quick", action="store_true", help="the specs' quick mode (seed000: under 20 minutes on 2 cores)"
    )
    p.add_argument("--workers", type=int, default=2, metavar="N", help="cells in parallel (default 2)")
    p.add_argument(
        "--executor", choices=["local", "ray"], default="local", help="local process pool (default) or Ray"
    )
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="root of the run store (default runs/)")
    p.add_argument(
        "--run-id",
        metavar="NAME",
        help="the runs' folder name under runs/<spec>/ (default: full, or quick with --quick); an existing "
        "run of that name is resumed",
    )
    p.add_argument(
        "--specs-dir", metavar="DIR", help="where the specs are (default: experiments/ of the checkout)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    data_dir_option(p)
    p.set_defaults(func=cmd_reproduce)

    p = commands.add_parser("report", help="write report.md and figures for a run")
    p.add_argument("run", metavar="RUN", help="a run folder (runs/<spec>/<run-id>)")
    p.set_defaults(func=cmd_report)

    p = commands.add_parser(
        "bench", help="speed and memory benchmarks (flow model, environments, agents, LP)"
    )
    p.add_argument(
        "--only",
        choices=["all", "flow", "env", "agents", "lp"],
        default="all",
        help="which benchmark (default all)",
    )
    p.add_argument("--quick", action="store_true", help="shorter runs; LP up to 100 nodes")
    p.add_argument("--json", action="store_true", help="one JSON object per result per line")
    p.set_defaults(func=cmd_bench)

    p = commands.add_parser("demo", help="the main job on embedded defaults")
    data_dir_option(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RlteError as err:
        print(f"rlte: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlte: interrupted", file=sys.stderr)
        return 130


def entry() -> None:  # pragma: no cover - thin wrapper for the console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
