"""``rlte topo``: list and show topologies."""

from __future__ import annotations

import argparse
import json
import sys

from rlte.cli.common import console, data_dir_given, data_dir_option, figure_file, table
from rlte.errors import RlteError


def cmd_topo_list(args: argparse.Namespace) -> int:
    from rlte.net.topology import BUILTINS, DATA_TOPOLOGIES, topohub_ids

    ids = topohub_ids()
    if args.group is not None:  # "" names no group: refused below, not taken for "every group"
        ids = [i for i in ids if i.startswith(args.group.rstrip("/") + "/")]
        if not ids:
            raise RlteError(f"--group {args.group!r}: no topohub topology in that group")
    if args.json:
        print(json.dumps({"builtin": list(BUILTINS), "data_dir": list(DATA_TOPOLOGIES), "topohub": ids}))
        return 0
    out = console()
    out.print("[bold]built-in[/]: " + ", ".join(BUILTINS))
    out.print("[bold]from the data directory[/] (--data-dir / RLTE_DATA): " + ", ".join(DATA_TOPOLOGIES))
    groups: dict[str, list[str]] = {}
    for topology_id in ids:
        groups.setdefault(topology_id.split("/")[0], []).append(topology_id)
    for group, members in groups.items():
        shown = (
            members if args.group or len(members) <= 12 else members[:12] + [f"... ({len(members)} in all)"]
        )
        out.print(f"[bold]topohub {group}[/] ({len(members)}): " + ", ".join(shown))
    return 0


def cmd_topo_show(args: argparse.Namespace) -> int:
    from rlte.net.topology import load_topology

    data_dir_given(args.data_dir)
    figure_file(args.plot)
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
        out = console()
        out.print(
            f"[bold]{topology.name}[/]: {topology.num_nodes} nodes, {topology.num_links} directed links, "
            f"hop diameter {summary['hop_diameter']}"
        )
        out.print(
            f"capacity {summary['capacity_min_bps'] / 1e9:g}-{summary['capacity_max_bps'] / 1e9:g} Gbit/s "
            f"(total {summary['total_capacity_bps'] / 1e9:g}), propagation delay "
            f"{summary['delay_min_s'] * 1e3:.2f}-{summary['delay_max_s'] * 1e3:.2f} ms, "
            f"static demands: {'yes' if topology.demands is not None else 'no'}"
        )
        out.print("nodes: " + ", ".join(topology.nodes))
        if args.links:
            rows = [
                (f"{u} -> {v}", f"{c / 1e9:g}", f"{d * 1e3:.2f}", f"{w:g}")
                for (u, v), c, d, w in zip(
                    topology.link_names(), topology.capacity, topology.delay, topology.weight
                )
            ]
            out.print(table("links", ["link", "capacity (Gbit/s)", "delay (ms)", "IGP weight"], rows))
    if args.plot:
        from rlte.plotting import plot_topology

        path = plot_topology(topology, args.plot)
        print(f"wrote {path}", file=sys.stderr)
    return 0


def add_commands(commands) -> None:
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
