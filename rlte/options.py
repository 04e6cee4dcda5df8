"""Typed options: the one source of an environment's, a scenario's or an agent's valid keys, and of
the type and range of every value.

An options class is a dataclass deriving from `Options`. Each field has a type annotation, a
default, a one-line docstring under it and, where numbers have a range, bounds given with
`option`::

    @dataclass(frozen=True)
    class TEOptions(Options):
        window: int = option(4, ge=1)
        \"\"\"Past intervals in an observation.\"\"\"
        reward: Literal["-mlu", "-phi"] = "-mlu"
        \"\"\"What the agent is rewarded for.\"\"\"

`Options.parse` turns a mapping (keyword options, a spec's YAML) into an instance, refusing an
unknown key (with the closest valid one), a value of the wrong type (``"1e-3"``, which YAML reads
as a string, for a float; ``[1, 2]`` for an int) or out of range, in one line that names the key,
the value and what is allowed. YAML lists become tuples; ints are taken for floats; nothing else is
converted. A class adds checks across fields in `Options.check`.

Supported annotations: ``bool``, ``int``, ``float``, ``str``, ``Literal[...]``, ``X | None``,
``tuple[X, ...]``, fixed tuples ``tuple[X, Y]``, ``dict[str, X]`` and unions of those.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

import numpy as np

from rlte.errors import RlteError

T = TypeVar("T", bound="Options")

_BOUNDS = ("ge", "gt", "le", "lt")


def option(default: Any = dataclasses.MISSING, *, ge: float | None = None, gt: float | None = None,
           le: float | None = None, lt: float | None = None, **field_kwargs) -> Any:  # fmt: skip
    """A dataclass field with bounds on its numbers (``ge``: >=, ``gt``: >, ``le``: <=, ``lt``: <),
    applied to the value or, for a tuple, to each of its numbers."""
    bounds = {name: value for name, value in zip(_BOUNDS, (ge, gt, le, lt)) if value is not None}
    metadata = {**field_kwargs.pop("metadata", {}), "bounds": bounds}
    return dataclasses.field(default=default, metadata=metadata, **field_kwargs)


class OptionError(RlteError):
    """A bad option value (an `RlteError`: one line, exit 2 on the command line)."""


def _describe(kind) -> str:
    """The allowed values of an annotation, in words."""
    origin = get_origin(kind)
    if kind is type(None):
        return "null"
    if kind in (bool, int, float, str):
        return {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string"}[
            kind.__name__
        ]
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in get_args(kind))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in get_args(kind))
    if origin is tuple:
        args = get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return "a list [" + ", ".join(_describe(arg) for arg in args) + "]"
    if origin in (dict, Mapping):
        return f"a mapping of names to {_plural(get_args(kind)[1])}"
    return str(kind)


def _plural(kind) -> str:
    text = _describe(kind)
    for article in ("an ", "a "):
        if text.startswith(article):
            word = text[len(article) :]
            return word + ("es" if word.endswith("s") else "s")
    return text


def _bound_text(bounds: dict) -> str:
    symbols = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return " and ".join(f"{symbols[name]} {value:g}" for name, value in bounds.items())


class _Mismatch(Exception):
    """A value that does not have the annotation's type (internal: becomes an `OptionError`)."""


def _coerce(value, kind):
    """``value`` as the annotation ``kind`` wants it, or `_Mismatch`."""
    origin = get_origin(kind)
    if kind is Any:
        return value
    if kind is type(None):
        if value is None:
            return None
        raise _Mismatch
    if kind is bool:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        raise _Mismatch
    if kind is int:
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            return int(value)
        raise _Mismatch
    if kind is float:
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        ):
            if not math.isfinite(float(value)):
                raise _Mismatch
            return float(value)
        raise _Mismatch
    if kind is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if origin is Literal:
        for choice in get_args(kind):
            if type(value) is type(choice) and value == choice:
                return choice
        raise _Mismatch
    if origin in (Union, types.UnionType):
        for arg in get_args(kind):
            try:
                return _coerce(value, arg)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _Mismatch
        args = get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(item, args[0]) for item in value)
        if len(value) != len(args):
            raise _Mismatch
        return tuple(_coerce(item, arg) for item, arg in zip(value, args))
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _Mismatch
        key_kind, value_kind = get_args(kind)
        return {_coerce(key, key_kind): _coerce(item, value_kind) for key, item in value.items()}
    raise TypeError(f"options: unsupported annotation {kind!r}")


def _numbers(value):
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _numbers(item)


def _show(value) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return repr(value)


class Options:
    """Base of rlte's options dataclasses (see the module docstring)."""

    #: What the options are of, in error messages when no ``where`` is given.
    WHAT: ClassVar[str] = "option"

    @classmethod
    def fields(cls) -> dict[str, dataclasses.Field]:
        """Field name -> dataclass field, in declaration order."""
        return {f.name: f for f in dataclasses.fields(cls)}

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The valid keys, in declaration order."""
        return tuple(cls.fields())

    @classmethod
    def _hints(cls) -> dict:
        cache = cls.__dict__.get("_hint_cache")
        if cache is None:
            cache = typing.get_type_hints(cls)
            cls._hint_cache = cache
        return cache

    @classmethod
    def convert(cls, name: str, value, where: str):
        """One value checked and converted for field ``name``.

        Raises:
            OptionError: ``"<where>: <name> <value>: must be <what is allowed>"``.
        """
        if name not in cls.fields():
            cls._unknown(name, where)
        kind = cls._hints()[name]
        if isinstance(value, str) and float in _leaf_types(kind) and _looks_numeric(value):
            raise OptionError(
                f"{where}: {name} {value!r}: must be {_describe(kind)}, not a string (YAML reads a number "
                f"like 1e-3 as text: write 1.0e-3)"
            )
        try:
            converted = _coerce(value, kind)
        except _Mismatch:
            raise OptionError(f"{where}: {name} {_show(value)}: must be {_describe(kind)}") from None
        bounds = cls.fields()[name].metadata.get("bounds") or {}
        for number in _numbers(converted):
            if (
                ("ge" in bounds and not number >= bounds["ge"])
                or ("gt" in bounds and not number > bounds["gt"])
                or ("le" in bounds and not number <= bounds["le"])
                or ("lt" in bounds and not number < bounds["lt"])
            ):
                subject = f"{name} {_show(converted)}" + (
                    f" (item {number!r})" if converted != number else ""
                )
                raise OptionError(f"{where}: {subject}: must be {_bound_text(bounds)}")
        return converted

    @classmethod
    def _unknown(cls, name, where: str):
        close = difflib.get_close_matches(str(name), list(cls.keys()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise OptionError(f"{where}: unknown {cls.WHAT} {name!r}{hint}; known: {', '.join(cls.keys())}")

    @classmethod
    def parse(cls: type[T], values: Mapping | None = None, where: str | None = None, **base) -> T:
        """An instance from ``values`` (checked and converted) over the defaults, or over ``base``
        (already valid values, e.g. a preset's).

        Raises:
            OptionError: for an unknown key, a wrong type, a value out of range or a failed `check`.
        """
        where = where or cls.__name__
        if values is not None and not isinstance(values, Mapping):
            raise OptionError(f"{where}: must be a mapping of {cls.WHAT}s, got {_show(values)}")
        merged = dict(base)
        for name, value in (values or {}).items():
            merged[name] = cls.convert(name, value, where)
        instance = cls(**merged)
        instance.check(where)
        return instance

    def check(self, where: str) -> None:
        """Checks across fields (override; raise `OptionError` naming ``where``)."""

    def replace(self: T, **changes) -> T:
        """A copy with some fields changed (checked and converted)."""
        where = type(self).__name__
        converted = {name: type(self).convert(name, value, where) for name, value in changes.items()}
        instance = dataclasses.replace(self, **converted)
        instance.check(where)
        return instance

    def to_dict(self) -> dict:
        """The options as plain values (tuples as lists), for YAML and JSON."""
        return {name: _plain(getattr(self, name)) for name in self.keys()}


def _plain(value):
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _leaf_types(kind) -> set:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType, tuple):
        return {leaf for arg in get_args(kind) if arg is not Ellipsis for leaf in _leaf_types(arg)}
    return {kind}


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def fail(where: str, name: str, value, what: str) -> None:
    """Raise ``OptionError("<where>: <name> <value>: must be <what>")``."""
    raise OptionError(f"{where}: {name} {_show(value)}: must be {what}")


__all__ = ["OptionError", "Options", "fail", "option"]
