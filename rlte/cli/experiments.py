"""``rlte run``, ``rlte reproduce``, ``rlte report`` and ``rlte list``: experiment specs, paper
reproductions, reports, and what the registry holds."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rlte.cli.common import at_least_one, console, data_dir_option, found_data_dir, output_folder, table
from rlte.errors import RlteError

#: Paper reproductions: the specs of each, in order (experiments/ in the checkout).
REPRODUCTIONS = {
    "seed001": ("seed001_fig3",),
    "seed000": ("seed000_table1", "seed000_table2", "seed000_fig2", "seed000_atra"),
    "seed002": (
        "seed002_table1",
        "seed002_table1_maroh2l",
        "seed002_table2",
        "seed002_table2_l1_cosine",
        "seed002_table3",
        "seed002_table3_l1_cosine",
        "seed002_fig5_6",
        "seed002_fig7",
    ),
    "seed003": ("seed003_table1", "seed003_fig2", "seed003_fig3", "seed003_fig4", "seed003_fig6"),
    "seed004": ("seed004_table2", "seed004_table3", "seed004_table4", "seed004_sweep"),
    # beyond the seeds: DOTE-style TE (Perry et al., NSDI'23), a FIGRET-style variant, the generalisation protocol
    "dote": (
        "dote_validation",
        "dote_abilene",
        "dote_fit",
        "dote_generalisation",
        "dote_geant",
        "dote_scale",
    ),
}


def cmd_run(args: argparse.Namespace) -> int:
    from rlte.experiments.runner import check_run_id, run_spec
    from rlte.experiments.spec import load_spec

    at_least_one(args.workers, "--workers")
    if args.run_id is not None and args.resume is not None and args.resume != args.run_id:
        resumed = "the newest run" if args.resume == "latest" else f"run {args.resume!r}"
        raise RlteError(
            f"--run-id {args.run_id!r} with --resume: which run, {args.run_id!r} or {resumed}? "
            "(continue one with --resume ID)"
        )
    if args.run_id is not None:
        check_run_id(args.run_id, "--run-id")
    if args.address is not None and args.executor != "ray":
        raise RlteError(f"--address {args.address!r}: a Ray cluster's address, for --executor ray only")
    data_dir = found_data_dir(args.data_dir)
    spec = load_spec(args.spec, quick=args.quick, data_dir=data_dir)
    cells = spec.cells()
    if args.dry_run:
        rows = [
            (c.method.display, c.topology, c.traffic, "" if c.load is None else f"{c.load:g}", c.scenario, c.seed,
             c.cell_id)
            for c in cells
        ]  # fmt: skip
        console().print(table(f"{spec.name}: {len(cells)} cells" + (" (quick)" if args.quick else ""),
                              ["method", "topology", "traffic", "load", "scenario", "seed", "cell"], rows))  # fmt: skip
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


def _specs_folder(args: argparse.Namespace) -> Path:
    from rlte.experiments.publish import code_checkout

    return Path(args.specs_dir) if args.specs_dir else code_checkout() / "experiments"


def cmd_reproduce(args: argparse.Namespace) -> int:
    from rlte.experiments.publish import code_checkout, publish
    from rlte.experiments.report import write_report
    from rlte.experiments.runner import check_run_id, made_from, run_spec
    from rlte.experiments.spec import load_spec

    at_least_one(args.workers, "--workers")
    if args.run_id is not None:
        check_run_id(args.run_id, "--run-id")
    output_folder(args.publish, "--publish")  # now, not after the hours of training it publishes
    folder = _specs_folder(args)
    every = REPRODUCTIONS[args.paper]
    names = every
    if args.only is not None:
        names = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in names if name not in every]
        if not names or unknown:
            problem = f"{unknown[0]!r} is not a spec of {args.paper}" if unknown else "no spec named"
            raise RlteError(f"--only {args.only!r}: {problem} (its specs: {', '.join(every)})")
        names = [name for name in every if name in names]  # the paper's order
    missing = [name for name in names if not (folder / f"{name}.yaml").exists()]
    if missing:
        raise RlteError(
            f"{folder}: missing spec {missing[0]}.yaml (run from a checkout, or pass --specs-dir)"
        )
    data_dir = found_data_dir(args.data_dir)
    specs = [load_spec(folder / f"{name}.yaml", quick=args.quick, data_dir=data_dir) for name in names]
    run_id = args.run_id or ("quick" if args.quick else "full")
    runs_dir = Path(args.runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise RlteError(f"--runs-dir {str(runs_dir)!r}: not a directory")
    for spec in specs:  # refuse before anything runs, not after the first spec's hour of training
        run_dir = runs_dir / spec.name / run_id
        if (run_dir / "spec.yaml").exists() and not made_from(spec, run_dir):
            raise RlteError(
                f"{run_dir}: made from another version of {spec.name}.yaml; pass --run-id NAME for a new "
                f"run (or move that folder away)"
            )
    started, began = time.time(), time.perf_counter()
    failed, run_dirs = 0, []
    for spec in specs:
        resume = run_id if (runs_dir / spec.name / run_id / "spec.yaml").exists() else None
        print(f"{spec.name}: {len(spec.cells())} cells" + (" (resuming)" if resume else ""), flush=True)
        summary = run_spec(spec, executor=args.executor, workers=args.workers, runs_dir=runs_dir,
                           run_id=None if resume else run_id, resume=resume, data_dir=data_dir,
                           progress=not args.no_progress and sys.stderr.isatty())  # fmt: skip
        failed += summary.failed
        run_dirs.append(summary.run_dir)
        for cell_id, error in summary.errors.items():
            print(f"  failed: {cell_id}: {error}", file=sys.stderr)
        print(f"  wrote {write_report(summary.run_dir)}", flush=True)
    print(f"{args.paper}: {len(specs)} specs in {(time.perf_counter() - began) / 60:.1f} minutes"
          + (f", {failed} cell(s) failed" if failed else ""), flush=True)  # fmt: skip
    publish_dir = args.publish or (None if args.quick else str(folder.parent / "docs" / "results"))
    if publish_dir and not args.no_publish:
        if failed:
            print(f"not publishing to {publish_dir}: {failed} cell(s) failed", file=sys.stderr)
        else:
            path = publish(args.paper, run_dirs, Path(publish_dir), started=started,
                           elapsed_s=time.perf_counter() - began, workers=args.workers, quick=args.quick,
                           checkout=code_checkout(), specs=list(every))  # fmt: skip
            print(f"published {path}", flush=True)
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from rlte.experiments.report import write_report

    run_dir = Path(args.run)
    if not run_dir.is_dir():
        raise RlteError(f"{run_dir}: no such run folder")
    try:
        report = write_report(run_dir)
    except OSError as err:  # the report or a figure cannot be written: a folder in its way, no room, ...
        where = err.filename2 or err.filename or run_dir  # a rename names its target second
        raise RlteError(f"{where}: cannot write the report ({err.strerror or err})") from None
    print(f"wrote {report}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from rlte.experiments.leaderboard import run_folders, write_leaderboard

    if args.runs and args.all_runs:
        raise RlteError("--all-runs picks runs under --runs-dir: pass either run folders or --all-runs")
    folders = (
        [Path(run) for run in args.runs] if args.runs else run_folders(args.runs_dir, every_run=args.all_runs)
    )
    out = Path(args.out) if args.out else _specs_folder(args).parent / "docs" / "results" / "leaderboard.md"
    output_folder(str(out.parent), "--out")
    markdown_path, csv_path = write_leaderboard(folders, out, args.csv)
    print(f"wrote {markdown_path} and {csv_path} ({len(folders)} run(s))")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Domains, with their metrics, reference, environments, baselines and learned methods."""
    from rlte.domains import domains, methods

    out = console()
    for domain in domains().values():
        out.print(f"[bold]{domain.name}[/]: {domain.description}")
        metrics = ", ".join(
            f"{m.name} ({'lower' if m.lower_is_better else 'higher'} is better)" for m in domain.metrics
        )
        out.print(f"  metrics: {metrics}")
        out.print(
            f"  reference: {domain.reference or '(none)'}; environments: {', '.join(domain.env_ids) or '(none)'}"
        )
        out.print(f"  baselines: {', '.join(domain.baseline_names())}")
        rows = [
            (m.name, m.env_id or "(its own simulation)", m.description) for m in methods(domain.name).values()
        ]
        if rows:
            out.print(table(f"{domain.name}: learned methods", ["method", "environment", "what"], rows))
    return 0


def add_commands(commands) -> None:
    p = commands.add_parser("run", help="run an experiment spec (a grid of cells) into the run store")
    p.add_argument("spec", metavar="SPEC", help="a YAML spec (experiments/*.yaml)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local process pool (default) or Ray tasks")  # fmt: skip
    p.add_argument("--address", metavar="ADDR", help="an existing Ray cluster (with --executor ray)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="cells in parallel (default 2)")
    p.add_argument(
        "--quick", action="store_true", help="the spec's quick overrides (fewer cells, shorter training)"
    )
    p.add_argument("--dry-run", action="store_true", help="list the cells and stop")
    p.add_argument("--run-id", metavar="ID", help="name of a new run (default: a timestamp)")
    p.add_argument(
        "--resume", nargs="?", const="latest", metavar="ID", help="continue a run (default: the newest)"
    )
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="root of the run store (default runs/)")
    p.add_argument("--report", action="store_true", help="write report.md when the run ends")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    data_dir_option(p)
    p.set_defaults(func=cmd_run)

    p = commands.add_parser("reproduce", help="run every spec of a seed paper and write the reports")
    p.add_argument("paper", choices=sorted(REPRODUCTIONS), help="which paper")
    p.add_argument("--quick", action="store_true", help="the specs' quick mode (under 20 minutes on 2 cores)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="cells in parallel (default 2)")
    p.add_argument(
        "--executor", choices=["local", "ray"], default="local", help="local process pool (default) or Ray"
    )
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="root of the run store (default runs/)")
    p.add_argument(
        "--run-id", metavar="NAME",
        help="the runs' folder name under runs/<spec>/ (default: full, or quick with --quick); an existing run of "
        "that name is resumed",
    )  # fmt: skip
    p.add_argument(
        "--specs-dir", metavar="DIR", help="where the specs are (default: experiments/ of the checkout)"
    )
    p.add_argument(
        "--publish", metavar="DIR",
        help="write <paper>.md and its figures there when every cell is done (default without --quick: docs/results/ "
        "of the checkout)",
    )  # fmt: skip
    p.add_argument("--no-publish", action="store_true", help="do not write the published results")
    p.add_argument(
        "--only", metavar="SPEC[,SPEC]",
        help="run (and publish) only these specs of the paper; the page keeps the others' published sections",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    data_dir_option(p)
    p.set_defaults(func=cmd_reproduce)

    p = commands.add_parser("report", help="write report.md and figures for a run")
    p.add_argument("run", metavar="RUN", help="a run folder (runs/<spec>/<run-id>)")
    p.set_defaults(func=cmd_report)

    p = commands.add_parser(
        "leaderboard", help="one table per domain of every method across runs (Markdown, CSV)"
    )
    p.add_argument(
        "runs",
        nargs="*",
        metavar="RUN",
        help="run folders (default: the newest run of each spec under --runs-dir)",
    )
    p.add_argument("--runs-dir", default="runs", metavar="DIR", help="root of the run store (default runs/)")
    p.add_argument(
        "--all-runs", action="store_true", help="every run under --runs-dir, not only each spec's newest"
    )
    p.add_argument(
        "--out", metavar="FILE", help="the Markdown (default: docs/results/leaderboard.md of the checkout)"
    )
    p.add_argument("--csv", metavar="FILE", help="the CSV (default: beside the Markdown, .csv)")
    p.set_defaults(func=cmd_leaderboard, specs_dir=None)

    p = commands.add_parser("list", help="domains, their metrics and baselines, and every learned method")
    p.set_defaults(func=cmd_list)
