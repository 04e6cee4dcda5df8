"""Published results: one Markdown page per paper reproduction (``docs/results/<paper>.md``) with
its figures beside it, written by ``rlte reproduce`` itself from the runs' reports, with the
commit, the date, the machine and the time it took, so a reader sees rlte's numbers without
running anything."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import time
from pathlib import Path

from rlte.errors import RlteError
from rlte.fileio import atomic_write_text


def _commit(checkout: Path) -> str:
    """The checkout's commit (with ``+changes`` when the work tree differs), or ``unknown``."""
    try:
        head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" (+ uncommitted changes)" if dirty else "")


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in ("numpy", "torch", "stable-baselines3", "gymnasium", "highspy", "numba"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    return ", ".join(parts)


def machine() -> str:
    """The machine in one line: OS, processor, cores, Python, the main packages."""
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{_versions()}"
    )


def _cell_seconds(run_dir: Path) -> float:
    """Sum of the cells' run times (from ``results.csv``)."""
    import pandas as pd

    results = pd.read_csv(run_dir / "results.csv")
    per_cell = results.groupby(["method", "topology", "traffic", "load", "scenario", "seed"], dropna=False)
    return float(per_cell["runtime_s"].first().sum())


def publish(paper: str, run_dirs: list[Path], out_dir: Path, *, started: float, elapsed_s: float, workers: int,
            quick: bool, checkout: Path) -> Path:  # fmt: skip
    """Write ``out_dir/<paper>.md`` from the runs' ``report.md`` files, and copy their figures to
    ``out_dir/<paper>/<spec>/``.

    Args:
        paper: the reproduction's name (``seed000``).
        run_dirs: its runs, in order, each with a written ``report.md``.
        out_dir: where to publish (``docs/results`` of the checkout).
        started: when the reproduction command started (seconds since the epoch).
        elapsed_s: how long it ran (wall clock, this invocation).
        workers: cells in parallel.
        quick: whether the specs ran in quick mode.
        checkout: the repository, for its commit.

    Returns:
        The page's path.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RlteError(f"--publish {str(out_dir)!r}: not a directory")
    figures_root = out_dir / paper
    cell_s = sum(_cell_seconds(run_dir) for run_dir in run_dirs)
    lines = [
        f"# {paper}: rlte's reproduction" + (" (quick mode)" if quick else ""),
        "",
        f"Written by `rlte reproduce {paper}{' --quick' if quick else ''}` from its runs; do not edit by hand.",
        "",
        f"- Commit: `{_commit(checkout)}`",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(started))}",
        f"- Machine: {machine()}",
        f"- Time: {elapsed_s / 60:.1f} minutes of this invocation with {workers} worker(s) "
        f"({cell_s / 60:.1f} minutes of cell time in all, summed over cells; a resumed reproduction "
        "counts only what this invocation ran in the first figure)",
        f"- Runs: {', '.join(f'`{run_dir}`' for run_dir in run_dirs)}",
        "",
    ]
    for run_dir in run_dirs:
        report = (run_dir / "report.md").read_text()
        spec_name = run_dir.parent.name
        target = figures_root / spec_name
        if target.exists():
            shutil.rmtree(target)
        figures = run_dir / "figures"
        if figures.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            for figure in sorted(figures.glob("*.png")):
                shutil.copyfile(figure, target / figure.name)
        report = re.sub(r"\]\(figures/", f"]({paper}/{spec_name}/", report)
        report = re.sub(r"^(#+) ", r"#\1 ", report, flags=re.MULTILINE)  # every heading one level down
        lines += [report.rstrip(), ""]
    page = out_dir / f"{paper}.md"
    atomic_write_text(page, "\n".join(lines).rstrip() + "\n")
    return page
