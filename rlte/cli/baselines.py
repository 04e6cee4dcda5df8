"""``rlte baselines``: every classical baseline and the LP optimum on one scenario, one table."""

from __future__ import annotations

import argparse
import json

from rlte.cli.common import console, data_dir_given, data_dir_option, positive, seed, table
from rlte.errors import RlteError


def _methods(text: str | None) -> list[str]:
    from rlte.domains import get_method
    from rlte.domains.flow_te import FLOW_TE

    if text is None:
        return list(FLOW_TE.baseline_names())
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise RlteError(f"--methods {text!r}: no method named")
    for name in names:  # fails early, naming the bad method
        if get_method(name) is not None:
            raise RlteError(f"--methods: {name!r} is a learned method; rlte baselines runs baselines (train it "
                            "with rlte run)")  # fmt: skip
        try:
            FLOW_TE.check_baseline(name, "--methods")
        except RlteError as err:
            raise RlteError(f"--methods: {err}") from None
    return names


def cmd_baselines(args: argparse.Namespace) -> int:
    from rlte.domains.flow_te import FLOW_TE, compare_baselines
    from rlte.envs.scenario import build, config_from_options

    methods = _methods(args.methods)
    positive(args.load, "--load")
    positive(args.capacity, "--capacity")
    if not 0.0 <= args.train_fraction < 1.0:
        raise RlteError(f"--train-fraction {args.train_fraction!r}: must be >= 0 and < 1")
    seed(args.seed)
    data_dir_given(args.data_dir)
    config = config_from_options(topology=args.topology, traffic=args.traffic, load=args.load,
                                 train_fraction=args.train_fraction, capacity=args.capacity,
                                 data_dir=args.data_dir, traffic_seed=args.seed, where="rlte baselines")  # fmt: skip
    scenario = build(config)
    topology = scenario.topology
    status = None if args.json else console().status("")

    def progress(name: str) -> None:
        if status is not None:
            status.update(f"routing {len(scenario.test)} interval(s) with {name} ...")

    if status is not None:
        status.start()
    try:
        rows = compare_baselines(scenario, methods, progress=progress)
    finally:
        if status is not None:
            status.stop()
    is_series = len(scenario.test) > 1
    keys = [metric.name for metric in FLOW_TE.metrics]
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
            out["load_factor"] = scenario.load_factor
            out["intervals"] = len(scenario.test)
            if args.links:
                out["links"] = [
                    {"src": u, "dst": v, "load_bps": float(x), "util": float(y)}
                    for (u, v), x, y in zip(topology.link_names(), row["link_load_bps"], row["link_util"])
                ]
            print(json.dumps(out))
        return 0
    out = console()
    level = f"at {100 * args.load:g} % load (x{scenario.load_factor:.4g})" if args.load else "unscaled"
    what = f"{len(scenario.test)} intervals" + (
        f" after {len(scenario.train)} of history" if len(scenario.train) else ""
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
    columns = [
        "method",
        "MLU %",
        "mean util %",
        "phi x1e4",
        "delay ms",
        "loss %",
        "throughput Gbit/s",
        "time ms",
    ]
    out.print(table(title, columns, table_rows))
    for row in rows:
        for note in row["notes"]:
            out.print(f"note: {note}")
    if args.links:
        for row in rows:
            link_rows = [
                (f"{u} -> {v}", f"{x / 1e6:.1f}", f"{100 * y:.1f}")
                for (u, v), x, y in zip(topology.link_names(), row["link_load_bps"], row["link_util"])
            ]
            out.print(table(f"{row['method']}: links (mean over intervals)", ["link", "load Mbit/s", "util %"],
                            link_rows))  # fmt: skip
    return 0


def add_commands(commands) -> None:
    p = commands.add_parser("baselines", help="every classical baseline and the LP optimum, one table")
    p.add_argument(
        "--topology", required=True, metavar="ID", help="built-in, data-dir name, file, or topohub id"
    )
    p.add_argument(
        "--traffic",
        required=True,
        metavar="SOURCE",
        help="topohub, uniform:R, gravity:TOTAL, abilene, geant, maroh/NET/flows40, diurnal:BASE, or a file",
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
