"""What the command groups share: the console, tables, option checks."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from rlte.errors import RlteError


def console():
    from rich.console import Console

    # tables are wide: do not squeeze them to 80 columns when writing to a pipe or a file
    return Console() if sys.stdout.isatty() else Console(width=200)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]):
    from rich.table import Table

    result = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        result.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        result.add_row(*[str(x) for x in row])
    return result


def data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", metavar="DIR", help="real data folder (default: $RLTE_DATA, or ../shared/data)"
    )


def positive(value: float | None, option: str) -> float | None:
    """``value`` unless it is not a positive finite number (then a one-line error naming ``option``)."""
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise RlteError(f"{option} {value!r}: must be a positive number")
    return value


def at_least_one(value: int, option: str) -> int:
    if value < 1:
        raise RlteError(f"{option} {value}: must be >= 1")
    return value


def seed(value: int, option: str = "--seed") -> int:
    """``value`` unless it is negative (numpy's generators take seeds >= 0)."""
    if value < 0:
        raise RlteError(f"{option} {value}: must be >= 0")
    return value


def output_file(value: str | None, option: str) -> str | None:
    """``value``, a file the command is to write, unless it cannot be: an existing folder, a name in a
    folder that does not exist (or is a file), or (for a figure) a format matplotlib cannot write.
    Checked before any work starts, not after it."""
    if value is None:
        return None
    from pathlib import Path

    path = Path(value)
    try:
        if path.is_dir():
            raise RlteError(f"{option} {value!r}: a folder, not a file")
        if not path.parent.is_dir():
            problem = "is a file, not a folder" if path.parent.exists() else "does not exist"
            raise RlteError(f"{option} {value!r}: folder {str(path.parent)!r} {problem}")
    except (OSError, ValueError) as err:
        raise RlteError(f"{option} {value!r}: not a usable file name ({err})") from None
    return value


def output_folder(value: str | None, option: str) -> str | None:
    """``value``, a folder the command is to write into (made if missing), unless it cannot be: it,
    or the nearest of its parents that exists, is not a folder."""
    if value is None:
        return None
    from pathlib import Path

    path = Path(value)
    try:
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir():
            where = "" if existing == path else f" ({str(existing)!r} is a file)"
            raise RlteError(f"{option} {value!r}: not a folder{where}")
    except (OSError, ValueError) as err:
        raise RlteError(f"{option} {value!r}: not a usable folder name ({err})") from None
    return value


def figure_file(value: str | None, option: str = "--plot") -> str | None:
    """`output_file` for a figure, whose extension names a format matplotlib writes (none: PNG)."""
    if output_file(value, option) is None:
        return None
    from pathlib import Path

    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(value).suffix[1:].lower()
    if suffix and suffix not in formats:
        raise RlteError(
            f"{option} {value!r}: cannot draw a .{suffix} file (formats: {', '.join(sorted(formats))})"
        )
    return value


def data_dir_given(explicit: str | None) -> None:
    """Refuse a ``--data-dir`` that is not a folder, even when the command needs no data from it."""
    if explicit is not None:
        found_data_dir(explicit)


def found_data_dir(explicit: str | None) -> str | None:
    """The data directory if one is found (an explicit one must exist)."""
    from rlte.datadir import data_dir

    found = data_dir(explicit, required=False)
    return str(found) if found else None
