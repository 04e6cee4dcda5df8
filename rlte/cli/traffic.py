"""``rlte traffic``: show a traffic series."""

from __future__ import annotations

import argparse
import json
import sys

from rlte.cli.common import console, data_dir_given, data_dir_option, figure_file, seed, table


def cmd_traffic_show(args: argparse.Namespace) -> int:
    import numpy as np

    from rlte.net.topology import load_topology
    from rlte.net.traffic import load_traffic

    data_dir_given(args.data_dir)
    figure_file(args.plot)
    rng = np.random.default_rng(seed(args.seed))
    topology = load_topology(args.topology, data_dir=args.data_dir) if args.topology is not None else None
    series = load_traffic(args.source, topology, data_dir=args.data_dir, rng=rng)
    summary = series.summary()
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        out = console()
        out.print(
            f"[bold]{series.name}[/]: {summary['steps']} matrices of {summary['nodes']} x {summary['nodes']}, "
            f"{series.interval_s:g} s apart, {summary['start']} to {summary['end']}"
        )
        out.print(
            f"total demand: mean {summary['total_mean_bps'] / 1e9:.3f} Gbit/s, "
            f"min {summary['total_min_bps'] / 1e9:.3f}, max {summary['total_max_bps'] / 1e9:.3f} "
            "(traffic between distinct nodes)"
        )
        ratios = summary.get("daily_peak_trough")
        if ratios:
            out.print("daily peak / trough: " + ", ".join(f"{day} {r:.2f}" for day, r in ratios.items()))
        out.print(f"top 10 % of pairs carry {100 * summary['top10pct_pairs_share']:.1f} % of the traffic")
        rows = [
            (
                f"{pair['src']} -> {pair['dst']}",
                f"{pair['share'] * summary['total_mean_bps'] / 1e6:.1f}",
                f"{100 * pair['share']:.1f}",
            )
            for pair in summary["heaviest_pairs"]
        ]
        out.print(table("heaviest pairs", ["pair", "mean (Mbit/s)", "share (%)"], rows))
    if args.plot:
        from rlte.plotting import plot_traffic_total

        path = plot_traffic_total(series, args.plot)
        print(f"wrote {path}", file=sys.stderr)
    return 0


def add_commands(commands) -> None:
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
