"""Where rlte finds real data (the Abilene week, GEANT matrices, MAROH inputs, ...).

rlte never ships these files. It reads them from a data directory chosen, in order, by an
explicit argument (the CLI's ``--data-dir``), the ``RLTE_DATA`` environment variable, or, in a
developer checkout, ``../shared/data`` beside the repository.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from rlte.errors import RlteError

_CHECKOUT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def data_dir(explicit: str | os.PathLike | None = None, *, required: bool = True) -> Path | None:
    """Resolve the data directory.

    Args:
        explicit: a directory given by the caller; wins over everything else.
        required: raise `RlteError` when no directory is found (else return None).

    Returns:
        The directory, or None when ``required`` is false and none was found.
    """
    for candidate, origin in (
        (explicit, "--data-dir"),
        (os.environ.get("RLTE_DATA") or None, "RLTE_DATA"),
    ):
        if candidate is not None:
            path = Path(candidate).expanduser()
            if not path.is_dir():
                raise RlteError(f"{origin} {str(path)!r}: not a directory")
            return path
    if _CHECKOUT_DATA.is_dir():
        return _CHECKOUT_DATA
    if required:
        raise RlteError(
            "no data directory: pass --data-dir DIR or set RLTE_DATA to the folder that holds "
            "abilene/, geant_sndlib/, maroh/ ..."
        )
    return None


def data_file(relative: str, explicit: str | os.PathLike | None = None) -> Path:
    """A file inside the data directory, with a clear error when it is missing.

    Args:
        relative: the file's path inside the data directory (``abilene/AbileneTM``).
        explicit: the data directory given by the caller (see `data_dir`).

    Returns:
        The file's path.

    Raises:
        RlteError: no data directory, or the file is missing from it (files of close names in
            its folder are suggested).
    """
    path = data_dir(explicit) / relative
    if not path.exists():
        siblings = sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []
        close = difflib.get_close_matches(path.name, siblings, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise RlteError(f"{path}: missing from the data directory{hint}")
    return path
