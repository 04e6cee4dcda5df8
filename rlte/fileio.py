"""Files rlte writes and reads itself: atomic writes, YAML with one-line errors.

Atomic: a temporary file in the target folder, flushed, then renamed over the target, so a reader
(or a run killed mid-write) sees the old content or the new one, never a torn file. The file gets
the permissions of any file a tool creates (0666 less the umask), not ``tempfile.mkstemp``'s 0600.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO

from rlte.errors import RlteError

#: Flags of a new temporary file: created, never an existing one (nor a symbolic link's target).
_CREATE_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)


def _create_temporary(path: Path) -> tuple[int, Path]:
    """Open a new, empty file beside ``path``; returns its descriptor and name.

    It is opened with mode 0666 so that the kernel applies the umask (and a folder's default ACL)
    as for any file a program creates: results, reports and checkpoints are as readable as the
    user's other files. Reading the umask instead (``os.umask`` sets it to read it) would race with
    other threads creating files."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}-{secrets.token_hex(4)}.partial"
        try:
            return os.open(tmp, _CREATE_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no unused temporary name after 100 tries")


def atomic_write(path: str | os.PathLike, write: Callable[[IO], None], *, binary: bool = False) -> None:
    """Call ``write(handle)`` on a temporary file in ``path``'s folder (created if needed), flush
    it to disk, then rename it over ``path``. The file's mode is 0666 less the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(text))


#: The most values a YAML file may stand for once its aliases are expanded: far more than any spec
#: holds, far fewer than an alias bomb (nine levels of ten aliases are a billion values).
MAX_YAML_VALUES = 100_000


def _yaml_loader():
    """``yaml.SafeLoader`` refusing a key given twice in one mapping (PyYAML keeps the last one
    silently: ``loads`` written twice would run only the second list)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *base" may be overridden
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                        seen.add(key)
                    except TypeError:  # an unhashable key: the constructor below refuses it
                        continue
                    if duplicate:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"the key {key!r} appears twice", key_node.start_mark
                        )
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def _yaml_values(value, memo: dict, open_ids: set) -> int:
    """How many values ``value`` stands for with aliases expanded (each shared one counted each time
    it is used); raises ValueError for a value that holds itself."""
    if not isinstance(value, dict | list):
        return 1
    key = id(value)
    if key in memo:
        return memo[key]
    if key in open_ids:
        raise ValueError("an alias refers to a value that holds it")
    open_ids.add(key)
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    total = 1
    for item in items:
        total += _yaml_values(item, memo, open_ids)
        if total > MAX_YAML_VALUES:
            break
    open_ids.discard(key)
    memo[key] = total
    return total


def read_yaml(path: str | os.PathLike, *, missing: str = "no such file"):
    """``yaml.safe_load`` a file (no code runs from it); errors name the file and the line.

    Raises:
        RlteError: the file is missing, unreadable or not UTF-8; not YAML; a mapping has a key twice;
            its aliases stand for more than `MAX_YAML_VALUES` values, or for a value holding itself.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RlteError(f"{path}: {missing}") from None
    except UnicodeDecodeError:
        raise RlteError(f"{path}: not a text file (not UTF-8)") from None
    except OSError as err:
        raise RlteError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        value = yaml.load(text, Loader=_yaml_loader())  # a SafeLoader: no code runs from the file
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        detail = getattr(err, "problem", None) or (str(err).splitlines() or [type(err).__name__])[0]
        raise RlteError(f"{path}{where}: not valid YAML ({detail})") from None
    except ValueError as err:  # a scalar YAML accepts but cannot convert, e.g. the date 2020-02-30
        raise RlteError(f"{path}: not valid YAML ({err})") from None
    except RecursionError:
        raise RlteError(f"{path}: not valid YAML (nested too deeply)") from None
    try:
        count = _yaml_values(value, {}, set())
    except ValueError as err:
        raise RlteError(f"{path}: not a usable YAML file ({err})") from None
    if count > MAX_YAML_VALUES:
        raise RlteError(
            f"{path}: its aliases stand for more than {MAX_YAML_VALUES:,} values (MAX_YAML_VALUES); "
            "an alias bomb, not a spec"
        )
    return value
