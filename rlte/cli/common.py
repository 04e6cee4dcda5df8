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


def found_data_dir(explicit: str | None) -> str | None:
    """The data directory if one is found (an explicit one must exist)."""
    from rlte.datadir import data_dir

    found = data_dir(explicit, required=False)
    return str(found) if found else None
