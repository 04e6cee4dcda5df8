"""Reading what users give rlte: text files with one-line errors, size limits, did-you-mean hints.

Every loader of `rlte.net` reads its file through `read_text` (or `read_bytes` for XML, whose
encoding the file declares), so a missing, unreadable, binary or oversized file fails the same way
everywhere, before anything is parsed. The limits below refuse sizes that cannot be meant before
memory is allocated for them; each error message names the limit.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from pathlib import Path

from rlte.errors import RlteError

#: The largest network a loader accepts: nodes of a topology file, or of a traffic or flow file.
#: (topohub's largest topology has 3,815 nodes; one 10,000-node traffic matrix is 800 MB.)
MAX_NODES = 10_000
#: The largest traffic series a loader builds: steps x nodes x nodes values (800 MB of float64).
MAX_TRAFFIC_VALUES = 100_000_000
#: The largest input file rlte reads: 1 GiB.
MAX_FILE_BYTES = 1 << 30
#: Longest shown part of a value quoted in an error message.
_SHOWN_CHARS = 60


def shown(value) -> str:
    """``repr(value)``, cut to a readable length for an error message (junk can be megabytes)."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def brief(error: BaseException) -> str:
    """A parser's complaint on one short line, for ``"<file>: not valid XML (<brief>)"``."""
    text = " ".join(str(error).split())
    return text if len(text) <= 2 * _SHOWN_CHARS else text[: 2 * _SHOWN_CHARS - 3] + "..."


def read_bytes(path: Path) -> bytes:
    """The bytes of a file, with one-line errors for a missing, unreadable or oversized file."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RlteError(
                f"{path}: {size:,} bytes; rlte reads input files of at most {MAX_FILE_BYTES:,} bytes "
                "(MAX_FILE_BYTES)"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise RlteError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RlteError(f"{path}: a folder, not a file") from None
    except OSError as err:
        raise RlteError(f"{path}: cannot read ({err.strerror or err})") from None
    except ValueError:  # a NUL in the name
        raise RlteError(f"{shown(str(path))}: not a usable file name (it holds a NUL character)") from None


def read_text(path: Path) -> str:
    """The text of a UTF-8 file (without the byte order mark some editors start it with).

    Raises:
        RlteError: the file is missing, unreadable, larger than `MAX_FILE_BYTES`, not UTF-8 or
            holds a NUL byte (a binary file).
    """
    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RlteError(
            f"{path}: not a text file (byte 0x{data[err.start]:02x} at offset {err.start} is not UTF-8)"
        ) from None
    nul = data.find(b"\0")
    if nul >= 0:
        raise RlteError(f"{path}: not a text file (NUL byte at offset {nul})")
    return text.removeprefix("\ufeff")  # the byte order mark spreadsheet programs put first


def read_json(path: Path):
    """The JSON value of a file, with one-line errors (also for numbers too long to convert and
    nesting too deep to parse)."""
    text = read_text(path)
    try:
        return json.loads(text)
    except ValueError as err:  # a JSONDecodeError, or an integer of more digits than Python converts
        raise RlteError(f"{path}: not valid JSON ({brief(err)})") from None
    except RecursionError:
        raise RlteError(f"{path}: not valid JSON (nested too deeply)") from None


def suggest(key: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'a', 'b'?)`` for the candidates close to ``key``, else ``""``."""
    close = difflib.get_close_matches(key, list(candidates), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def check_node_count(count: int, where: str) -> None:
    """Refuse a network of more than `MAX_NODES` nodes before anything is allocated for it."""
    if count > MAX_NODES:
        raise RlteError(f"{where}: {count:,} nodes; rlte reads networks of at most {MAX_NODES:,} (MAX_NODES)")


def check_traffic_size(steps: int, nodes: int, where: str) -> None:
    """Refuse a traffic series of more than `MAX_TRAFFIC_VALUES` values before allocating it."""
    check_node_count(nodes, where)
    if steps * nodes * nodes > MAX_TRAFFIC_VALUES:
        raise RlteError(
            f"{where}: {steps:,} matrices of {nodes:,} x {nodes:,} are {steps * nodes * nodes:,} values; "
            f"rlte reads at most {MAX_TRAFFIC_VALUES:,} (MAX_TRAFFIC_VALUES)"
        )
