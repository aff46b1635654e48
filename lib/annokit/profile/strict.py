"""Strict construction of settings dataclasses from TOML tables: unknown keys, wrong types, bad values.

Every problem is a ``ProfileError`` naming the file, the section and the key; an unknown key also
names the closest valid one (``lerning_rate`` -> ``lr``), so a typo never falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ProfileError(ValueError):
    """A profile that cannot be used as written; the message names the file, the section and the key."""


def initials(key: str) -> str:
    """``lerning_rate`` -> ``lr``: the first letter of each word, how settings are usually abbreviated."""
    return "".join(word[0] for word in key.split("_") if word)


def closest(key: str, valid: typing.Iterable[str]) -> str | None:
    """The valid key a misspelt ``key`` most likely meant: an abbreviation first, else the most similar spelling."""
    valid = sorted(valid)
    if not valid:
        return None
    abbreviated = [v for v in valid if v == initials(key) or initials(v) == key]
    if abbreviated:
        return abbreviated[0]
    return max(valid, key=lambda v: difflib.SequenceMatcher(None, key.lower(), v.lower()).ratio())


def unknown_key_message(where: str, key: str, valid: typing.Iterable[str], kind: str = "key") -> str:
    """``<file> [section]: unknown key 'x'; the closest valid key is 'y' (valid: ...)``."""
    valid = sorted(valid)
    guess = closest(key, valid)
    hint = f"; the closest valid {kind} is {guess!r}" if guess else ""
    return f"{where}: unknown {kind} {key!r}{hint} (valid: {', '.join(valid)})"


def describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def convert(value: Any, annotation: Any, where: str) -> Any:
    """``value`` as the field's type: int, float (an int is accepted), bool, str, or a tuple of those."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        if not isinstance(value, list):
            raise ProfileError(f"{where} must be a list, got {describe(value)}")
        return tuple(convert(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return convert(value, options[0], where)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ProfileError(f"{where} must be true or false, got {describe(value)}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProfileError(f"{where} must be an integer, got {describe(value)}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProfileError(f"{where} must be a number, got {describe(value)}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ProfileError(f"{where} must be a string, got {describe(value)}")
        return value
    raise TypeError(f"{where}: no conversion for the type {annotation!r}")


def check_value(value: Any, metadata: typing.Mapping[str, Any], where: str) -> None:
    """The field's constraints: ``choices``, ``min``, ``below`` (strictly less), ``positive``, ``unit_interval``
    (every item in (0, 1])."""
    if "choices" in metadata and value not in metadata["choices"]:
        raise ProfileError(f"{where} = {value!r} is not allowed: use one of {', '.join(metadata['choices'])}")
    if "min" in metadata and value < metadata["min"]:
        raise ProfileError(f"{where} = {value!r} must be at least {metadata['min']}")
    if "below" in metadata and not value < metadata["below"]:
        raise ProfileError(f"{where} = {value!r} must be less than {metadata['below']}")
    if metadata.get("positive") and not value > 0:
        raise ProfileError(f"{where} = {value!r} must be greater than 0")
    if metadata.get("unit_interval") and (not value or any(not 0 < v <= 1 for v in value)):
        raise ProfileError(f"{where} = {list(value)!r} must be a non-empty list of proportions in (0, 1]")


def build(cls: type[T], table: typing.Mapping[str, Any], file: Path | str, section: str) -> T:
    """An instance of the dataclass ``cls`` from a TOML table, every key known, typed and in range."""
    where = f"{file} [{section}]" if section else str(file)
    if not isinstance(table, dict):
        raise ProfileError(f"{where} must be a table ([{section}] with key = value lines), got {describe(table)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            raise ProfileError(unknown_key_message(where, key, fields))
    hints = typing.get_type_hints(cls)
    values = {}
    for name, spec in fields.items():
        if name not in table:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ProfileError(f"{where}: the key {name!r} is required and missing")
            continue
        values[name] = convert(table[name], hints[name], f"{where} {name}")
        check_value(values[name], spec.metadata, f"{where} {name}")
    return cls(**values)


def as_toml_dict(settings: Any) -> dict[str, Any]:
    """A settings dataclass as a plain dict with the TOML's keys: tuples as lists, paths as strings, None as ""."""
    out = {}
    for spec in dataclasses.fields(settings):
        value = getattr(settings, spec.name)
        if dataclasses.is_dataclass(value):
            value = as_toml_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Path):
            value = str(value)
        elif value is None:
            value = ""
        out[spec.name] = value
    return out
