"""Files rlte writes and reads itself: atomic text writes, YAML with one-line errors.

Atomic: a temporary file in the target folder, flushed, then renamed over the target, so a reader
(or a run killed mid-write) sees the old content or the new one, never a torn file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from rlte.errors import RlteError


def atomic_write(path: str | os.PathLike, write: Callable[[IO], None], *, binary: bool = False) -> None:
    """Call ``write(handle)`` on a temporary file in ``path``'s folder (created if needed), flush
    it to disk, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(text))


def read_yaml(path: str | os.PathLike, *, missing: str = "no such file"):
    """``yaml.safe_load`` a file (no code runs from it); errors name the file and the line."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RlteError(f"{path}: {missing}") from None
    except OSError as err:
        raise RlteError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise RlteError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
