"""Published results: one Markdown page per paper reproduction (``docs/results/<paper>.md``) with
its figures beside it, written by ``rlte reproduce`` itself from the runs' reports, with the
commit, the date, the machine and the time it took, so a reader sees rlte's numbers without
running anything."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import time
from pathlib import Path

from rlte.errors import RlteError
from rlte.fileio import atomic_write_text


def code_checkout() -> Path:
    """The checkout rlte runs from (the folder above the ``rlte`` package)."""
    return Path(__file__).resolve().parents[2]


def checkout_commit(checkout: Path) -> str:
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


def processor() -> str:
    """The processor's model and the vector instructions torch's kernels use on it (``AVX512``,
    ``AVX2``, ...). Learned methods' numbers depend on them: the same seed trains to other numbers
    where torch dispatches other kernels (rounding differs, and training amplifies it), while on one
    kind of processor a seed's numbers repeat exactly."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    try:
        import torch

        return f"{model}, torch kernels {torch.backends.cpu.get_cpu_capability()}"
    except (ImportError, AttributeError):
        return model


def machine() -> str:
    """The machine in one line: OS, processor, cores, Python, the main packages."""
    return (
        f"{platform.system()} {platform.machine()} ({processor()}), {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {_versions()}"
    )


def _cell_seconds(run_dir: Path) -> float:
    """Sum of the cells' run times (from ``results.csv``)."""
    import pandas as pd

    results = pd.read_csv(run_dir / "results.csv")
    per_cell = results.groupby(["method", "topology", "traffic", "load", "scenario", "seed"], dropna=False)
    return float(per_cell["runtime_s"].first().sum())


#: Files of a run folder that are published with it (the figures go beside the page).
PUBLISHED_RUN_FILES = ("spec.yaml", "run.json", "results.csv", "report.md")
#: The provenance of a published run (commit, date, machine, time), beside its files.
PROVENANCE_FILE = "published.json"


def published_run(out_dir: Path, spec_name: str, run_id: str) -> Path:
    """Where a spec's run is published: ``<out_dir>/runs/<spec>/<run id>/`` (a run store of its own,
    which `rlte leaderboard --runs-dir docs/results/runs` reads)."""
    return Path(out_dir) / "runs" / spec_name / run_id


_RUN_LINE = re.compile(r"^- Run: `[^`\n]*`", flags=re.MULTILINE)


def _with_run_line(report: str, where: str) -> str:
    """A report whose ``- Run:`` line names ``where`` (the published folder) rather than the folder
    it was written in, which is on the machine that ran it and means nothing to a reader."""
    return _RUN_LINE.sub(lambda _: f"- Run: `{where}`", report, count=1)


def _publish_run(run_dir: Path, target: Path, provenance: dict, where: str) -> None:
    """Copy a run's small files (`PUBLISHED_RUN_FILES`, never its cells or checkpoints) to ``target``
    with its provenance (the report's run line naming ``where``); a file of an earlier publication
    that the run lacks is removed."""
    target.mkdir(parents=True, exist_ok=True)
    for name in PUBLISHED_RUN_FILES:
        source = run_dir / name
        if source.is_file():
            text = source.read_text(encoding="utf-8")
            atomic_write_text(target / name, _with_run_line(text, where) if name == "report.md" else text)
        elif (target / name).exists():
            (target / name).unlink()
    atomic_write_text(target / PROVENANCE_FILE, json.dumps(provenance, indent=1) + "\n")


def _run_record(run_dir: Path) -> dict:
    """``run_commit`` and ``run_processor``: the commit the run's cells ran at and the processor
    they ran on, as its ``run.json`` records them (runs made before it recorded a processor lack it)."""
    try:
        record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    record = record if isinstance(record, dict) else {}
    found = {"run_commit": record.get("commit"), "run_processor": record.get("processor")}
    return {key: value for key, value in found.items() if isinstance(value, str) and value}


def _provenance_lines(provenance: dict) -> list[str]:
    ran = provenance.get("run_commit")
    if ran is None:
        commit = (
            f"- Commit: `{provenance['commit']}` (the publishing checkout's; the run did not record its own)"
        )
    elif ran == provenance["commit"]:
        commit = f"- Commit: `{ran}`"
    else:
        commit = f"- Commit: `{ran}` (the cells'; published from `{provenance['commit']}`)"
    ran_on = provenance.get("run_processor")
    return [
        commit,
        f"- Date: {provenance['date']}",
        f"- Machine: {provenance['machine']}"
        + (f"; the cells ran on {ran_on}" if ran_on and ran_on not in provenance["machine"] else ""),
        f"- Time: {provenance['cell_minutes']:.1f} minutes of cell time (summed over cells) with "
        f"{provenance['workers']} worker(s); the invocation that finished it ran {provenance['elapsed_minutes']:.1f} "
        "minutes (a resumed run counts only what it ran)",
    ]


def publish(paper: str, run_dirs: list[Path], out_dir: Path, *, started: float, elapsed_s: float, workers: int,
            quick: bool, checkout: Path, specs: list[str] | None = None) -> Path:  # fmt: skip
    """Publish the runs and (re)write ``out_dir/<paper>.md`` from every published spec of the paper.

    Each run goes to `published_run` (its spec, ``run.json``, ``results.csv``, ``report.md`` and a
    ``published.json`` with the commit, date, machine and times) and its figures to
    ``out_dir/<paper>/<spec>/``. The page then has one section per spec of the paper, in order:
    the published report of that spec (this run's or an earlier invocation's, say one that ran
    ``--only`` that spec), or a line saying it has not been published in this mode yet. So a
    reproduction too long for one sitting can be run and published a spec at a time.

    Args:
        paper: the reproduction's name (``seed000``).
        run_dirs: the runs of this invocation, each with a written ``report.md``.
        out_dir: where to publish (``docs/results`` of the checkout).
        started: when the reproduction command started (seconds since the epoch).
        elapsed_s: how long it ran (wall clock, this invocation).
        workers: cells in parallel.
        quick: whether the specs ran in quick mode.
        checkout: the repository, for its commit.
        specs: every spec of the paper, in order (default: those of ``run_dirs``).

    Returns:
        The page's path.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RlteError(f"--publish {str(out_dir)!r}: not a directory")
    run_dirs = [Path(run_dir) for run_dir in run_dirs]
    specs = list(specs) if specs is not None else [run_dir.parent.name for run_dir in run_dirs]
    run_ids = {run_dir.name for run_dir in run_dirs}
    if len(run_ids) != 1:
        raise RlteError(f"publish {paper}: runs of one run id expected, got {', '.join(sorted(run_ids))}")
    run_id = run_ids.pop()
    figures_root = out_dir / paper
    base = {
        "commit": checkout_commit(checkout), "date": time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(started)),
        "machine": machine(), "workers": int(workers), "elapsed_minutes": elapsed_s / 60, "quick": bool(quick),
        "command": f"rlte reproduce {paper}{' --quick' if quick else ''}",
    }  # fmt: skip
    for run_dir in run_dirs:
        spec_name = run_dir.parent.name
        target = figures_root / spec_name
        if target.exists():
            shutil.rmtree(target)
        figures = run_dir / "figures"
        if figures.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            for figure in sorted(figures.glob("*.png")):
                shutil.copyfile(figure, target / figure.name)
        provenance = {**base, "cell_minutes": _cell_seconds(run_dir) / 60, **_run_record(run_dir)}
        published = published_run(out_dir, spec_name, run_id)
        _publish_run(run_dir, published, provenance, run_dir_text(published, out_dir))
    lines = [
        f"# {paper}: rlte's reproduction" + (" (quick mode)" if quick else ""),
        "",
        f"Written by `rlte reproduce {paper}{' --quick' if quick else ''}` from its runs; do not edit by hand. "
        f"Each spec's run is published with its results beside this page (`runs/<spec>/{run_id}/results.csv`, "
        "every seed's numbers) and its provenance below.",
        "",
    ]
    page = out_dir / f"{paper}.md"
    earlier = _earlier_sections(page)
    missing = []
    for spec_name in specs:
        published = published_run(out_dir, spec_name, run_id)
        if not (published / "report.md").is_file():
            if spec_name in earlier:  # published before runs were (kept as it was, with its provenance)
                lines += [*earlier[spec_name], ""]
            else:
                missing.append(spec_name)
            continue
        try:
            provenance = json.loads((published / PROVENANCE_FILE).read_text(encoding="utf-8"))
            provenance_lines = _provenance_lines(provenance)
        except (OSError, ValueError, KeyError, TypeError):
            provenance_lines = ["- Provenance: not recorded"]
        report = (published / "report.md").read_text(encoding="utf-8")
        report = re.sub(r"\]\(figures/", f"]({paper}/{spec_name}/", report)
        report = re.sub(r"^(#+) ", r"#\1 ", report, flags=re.MULTILINE)  # every heading one level down
        heading, _, rest = report.partition("\n")
        lines += [
            heading,
            "",
            *provenance_lines,
            f"- Results: [{run_dir_text(published, out_dir)}/results.csv]({run_dir_text(published, out_dir)}/results.csv)",
            rest.rstrip(),
            "",
        ]
    if missing:
        lines += ["## Not yet published", "",
                  f"Not run to the end in this mode yet (`rlte reproduce {paper} --only SPEC` runs one): "
                  + ", ".join(f"`{name}`" for name in missing) + ".", ""]  # fmt: skip
    atomic_write_text(page, "\n".join(lines).rstrip() + "\n")
    return page


_SECTION = re.compile(r"^## rlte report: (\S+)\s*$")
_PROVENANCE = ("- Commit: ", "- Date: ", "- Machine: ", "- Time: ")


def _earlier_sections(page: Path) -> dict[str, list[str]]:
    """The spec sections of an existing page (``## rlte report: <spec>`` up to the next ``## ``
    heading), each with provenance lines: its own, or the page header's for a page written before
    sections had their own (whose runs were not published)."""
    if not page.is_file():
        return {}
    text = page.read_text(encoding="utf-8").splitlines()
    first = next((i for i, line in enumerate(text) if line.startswith("## ")), len(text))
    header = [line for line in text[:first] if line.startswith(_PROVENANCE)]
    sections: dict[str, list[str]] = {}
    current = None
    for line in text:
        match = _SECTION.match(line)
        if match:
            current = sections.setdefault(match.group(1), [line])
        elif line.startswith("## "):
            current = None
        elif current is not None:
            current.append(line)
    for lines in sections.values():
        if not any(line.startswith(_PROVENANCE) for line in lines):
            lines[1:1] = ["", *header]
        while lines and not lines[-1].strip():
            lines.pop()
    return sections


def run_dir_text(published: Path, out_dir: Path) -> str:
    """A published run's folder relative to the page (``runs/<spec>/<run id>``)."""
    try:
        return published.relative_to(out_dir).as_posix()
    except ValueError:
        return str(published)
