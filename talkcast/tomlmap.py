"""Parsed TOML into frozen dataclasses, by their type hints, naming the key on any error.

The machinery behind event.toml (``talkcast.config`` holds the dataclasses themselves).
Unknown keys are errors with a "did you mean" hint, so that a typo never silently falls
back to a default. Supported field types: ``str``, ``int``, ``float``, ``bool``,
``Path`` (relative to the file's folder), ``Literal[...]``, ``X | None`` and unions,
``tuple[X, ...]``, ``dict[str, X]`` (a table of tables) and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from talkcast.errors import ConfigError

T = TypeVar("T")

# Field names that are Python keywords are spelled with a trailing underscore.
TOML_NAME = {"break_": "break"}
# Fields that are filled by talkcast, never written in event.toml.
DERIVED = {"password", "key", "token", "token_from_env"}


def read_toml(file: Path) -> dict[str, Any]:
    """A TOML file's tables; ``ConfigError`` naming the file if it cannot be read or parsed."""
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(file, None, f"not valid TOML: {err}") from err
    except RecursionError as err:
        raise ConfigError(file, None, "not valid TOML: nested too deeply") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(file, None, f"cannot be read: {err}") from err


def printable(text: str) -> str:
    """``text`` with control characters escaped, so that an error stays one readable line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def kind(value: Any) -> str:
    """How a TOML value is called in an error message: "a string", "a table"..."""
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def did_you_mean(word: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ""."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Loader:
    """Converts a parsed TOML tree into dataclasses, naming the dotted key on error."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.base = file.parent

    def fail(self, key: str, message: str) -> typing.NoReturn:
        """Raise ``ConfigError`` for ``key`` of this file."""
        raise ConfigError(self.file, printable(key), printable(message))

    def build(self, cls: type[T], data: Any, key: str) -> T:
        """An instance of the dataclass ``cls`` from the table ``data`` at ``key``."""
        if not isinstance(data, Mapping):
            self.fail(key, f"expected a table, got {kind(data)}")
        hints = typing.get_type_hints(cls)
        fields = {TOML_NAME.get(f.name, f.name): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        settable = [n for n, f in fields.items() if f.name not in DERIVED]
        values: dict[str, Any] = {}
        for name, value in data.items():
            sub = f"{key}.{name}" if key else name
            if name not in settable:
                self.fail(sub, "unknown key" + did_you_mean(name, settable))
            f = fields[name]
            values[f.name] = self.convert(hints[f.name], value, sub)
        for name, f in fields.items():
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required and f.name not in values:
                self.fail(f"{key}.{name}" if key else name, "missing required key")
        return cls(**values)

    def convert(self, tp: Any, value: Any, key: str) -> Any:
        """``value`` as the type ``tp``, or ``ConfigError`` naming ``key``."""
        origin = typing.get_origin(tp)
        if origin in (types.UnionType, typing.Union):
            return self._union(typing.get_args(tp), value, key)
        if origin is Literal:
            return self._literal(typing.get_args(tp), value, key)
        if origin is tuple:
            if not isinstance(value, list):
                self.fail(key, f"expected a list, got {kind(value)}")
            return tuple(self.convert(typing.get_args(tp)[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        if origin is dict:
            if not isinstance(value, Mapping):
                self.fail(key, f"expected a table, got {kind(value)}")
            inner = typing.get_args(tp)[1]
            return {str(k): self.convert(inner, v, f"{key}.{k}") for k, v in value.items()}
        if dataclasses.is_dataclass(tp):
            return self.build(tp, value, key)  # type: ignore[arg-type]
        scalar = _SCALARS.get(tp)
        if scalar is None:
            raise TypeError(f"config type {tp!r} is not supported")  # a bug in the config dataclasses
        return scalar(self, value, key)

    def _union(self, args: tuple[Any, ...], value: Any, key: str) -> Any:
        inner = [a for a in args if a is not type(None)]
        for alternative in inner[1:]:
            # Several accepted types (e.g. `str | float`): the first that fits wins.
            try:
                return self.convert(alternative, value, key)
            except ConfigError:
                continue
        return self.convert(inner[0], value, key)

    def _literal(self, args: tuple[Any, ...], value: Any, key: str) -> Any:
        if isinstance(value, str | int | float | bool) and value in args:
            return value
        choices = ", ".join(repr(a) for a in args)
        self.fail(key, f"must be one of {choices}, got {value!r}" + did_you_mean(str(value), [str(a) for a in args]))

    def path(self, value: Any, key: str) -> Path:
        """A path string, made absolute against the file's folder."""
        if not isinstance(value, str) or not value or "\0" in value:
            self.fail(key, f"expected a path string, got {kind(value)}")
        try:
            return (self.base / Path(value).expanduser()).resolve()
        except (OSError, RuntimeError, ValueError) as err:  # "~nobody" unknown, symlink loops
            self.fail(key, f"bad path {value!r} ({err})")


def _bool(loader: Loader, value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        loader.fail(key, f"expected true or false, got {kind(value)}")
    return value


def _int(loader: Loader, value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        loader.fail(key, f"expected a whole number, got {kind(value)}")
    return value


def _float(loader: Loader, value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        loader.fail(key, f"expected a number, got {kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        loader.fail(key, f"{value} is too large")
    if not math.isfinite(number):
        loader.fail(key, f"expected a finite number, got {value}")
    return number


def _str(loader: Loader, value: Any, key: str) -> str:
    if not isinstance(value, str):
        loader.fail(key, f"expected a string, got {kind(value)}")
    return value


_SCALARS: dict[Any, typing.Callable[[Loader, Any, str], Any]] = {
    Path: Loader.path,
    bool: _bool,
    int: _int,
    float: _float,
    str: _str,
}
