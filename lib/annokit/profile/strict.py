"""Strict reading of TOML tables into the settings dataclasses: pydantic checks them, the kit words
the errors.

pydantic validates a table against its dataclass and finds every problem at once; each becomes one
line naming the file, the section and the key, and an unknown key also names the closest valid one
(``lerning_rate`` -> ``lr``), so a typo never falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

T = TypeVar("T")
Loc = tuple[str | int, ...]

WORDING = {  # pydantic's error type -> what the kit says of the value at fault
    "int_type": "must be an integer, got {got}",
    "float_type": "must be a number, got {got}",
    "bool_type": "must be true or false, got {got}",
    "string_type": "must be a string, got {got}",
    "tuple_type": "must be a list, got {got}",
    "literal_error": "= {value!r} is not allowed: use one of {choices}",
    "finite_number": "= {value!r} must be a finite number",
    "too_short": "= {value!r} must be a non-empty list",
    "greater_than": "= {value!r} must be greater than {gt!r}",
    "greater_than_equal": "= {value!r} must be at least {ge!r}",
    "less_than": "= {value!r} must be less than {lt!r}",
    "less_than_equal": "= {value!r} must be at most {le!r}",
}
UNKNOWN = ("unexpected_keyword_argument", "extra_forbidden")


class ProfileError(ValueError):
    """A profile that cannot be used as written; each line names the file, the section and the
    key."""


def initials(key: str) -> str:
    """``lerning_rate`` -> ``lr``: the first letter of each word, as settings are abbreviated."""
    return "".join(word[0] for word in key.split("_") if word)


def closest(key: str, valid: Iterable[str]) -> str | None:
    """The valid key a misspelt ``key`` most likely meant: an abbreviation first, else the closest
    spelling."""
    valid = sorted(valid)
    if not valid:
        return None
    abbreviated = [v for v in valid if v == initials(key) or initials(v) == key]
    if abbreviated:
        return abbreviated[0]
    return max(valid, key=lambda v: difflib.SequenceMatcher(None, key.lower(), v.lower()).ratio())


def unknown_key_message(where: str, key: str, valid: Iterable[str], kind: str = "key") -> str:
    """``<file> [section]: unknown key 'x'; the closest valid key is 'y' (valid: ...)``."""
    valid = sorted(valid)
    guess = closest(key, valid)
    hint = f"; the closest valid {kind} is {guess!r}" if guess else ""
    return f"{where}: unknown {kind} {key!r}{hint} (valid: {', '.join(valid)})"


def describe(value: Any) -> str:
    """A value and its type, as a wrong value is shown: ``'six' (str)``."""
    return f"{value!r} ({type(value).__name__})"


def report(file: Path | str, lines: Sequence[str]) -> ProfileError:
    """One error for every problem of a profile: its one line, or a count and a line each."""
    if len(lines) == 1:
        return ProfileError(lines[0])
    return ProfileError(f"{file}: {len(lines)} errors\n" + "\n".join(f"  {line}" for line in lines))


@functools.cache
def adapter(cls: type) -> TypeAdapter:
    """pydantic's validator and schema of a dataclass, built once per class."""
    return TypeAdapter(cls)


def validated(cls: type[T], data: Mapping[str, Any]) -> T:
    """TOML ``data`` as ``cls``, validated as the JSON it is: pydantic's strict JSON mode takes a
    table for a dataclass, a list for a tuple, an int for a float, no bool or text for a number."""
    return adapter(cls).validate_json(json.dumps(data, default=str))


def bare(kind: Any) -> Any:
    """A declared type without ``Annotated`` constraints and without ``| None``."""
    while True:
        origin = typing.get_origin(kind)
        if origin is typing.Annotated:
            kind = typing.get_args(kind)[0]
        elif origin in (typing.Union, types.UnionType):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        else:
            return kind


def declared(root: type, loc: Loc) -> Any:
    """The type declared at ``loc`` (field names, list positions) below the dataclass ``root``."""
    kind: Any = root
    for part in loc:
        if isinstance(part, str) and dataclasses.is_dataclass(kind):
            kind = bare(typing.get_type_hints(kind, include_extras=True).get(part))
        elif isinstance(part, int) and typing.get_origin(kind) is tuple:
            kind = bare(typing.get_args(kind)[0])
        else:
            return None
    return kind


def table_depth(root: type, loc: Loc) -> int:
    """How many leading parts of ``loc`` name the tables (sections) that its key is in."""
    depth = 0
    while depth < len(loc) - 1 and dataclasses.is_dataclass(declared(root, loc[: depth + 1])):
        depth += 1
    return depth


def error_lines(
    error: ValidationError,
    root: type,
    file_of: Callable[[Loc], object],
    section: str = "",
    top_keys: Sequence[str] | None = None,
) -> list[str]:
    """A line per pydantic error below ``root`` (a ``section``, or a profile of ``top_keys``), in
    ``file_of(loc)``; a required key that an unknown key beside it meant is not also "missing"."""
    errors = error.errors()
    meant = set()
    for details in errors:
        if details["type"] in UNKNOWN:
            table = tuple(details["loc"][:-1])
            meant.add((*table, closest(str(details["loc"][-1]), valid_keys(root, table, top_keys))))
    return [
        error_line(details, root, file_of, section, top_keys)
        for details in errors
        if not (details["type"] == "missing" and tuple(details["loc"]) in meant)
    ]


def valid_keys(root: type, table: Loc, top_keys: Sequence[str] | None) -> Sequence[str]:
    """The keys of the table at ``table``: a profile's ``top_keys`` at its top, else the fields."""
    if top_keys is not None and not table:
        return top_keys
    return [spec.name for spec in dataclasses.fields(declared(root, table))]


def error_line(
    details: ErrorDetails,
    root: type,
    file_of: Callable[[Loc], object],
    section: str,
    top_keys: Sequence[str] | None,
) -> str:
    """One of pydantic's errors as the kit's line: file, section, key, and what is wrong."""
    loc = tuple(details["loc"])
    not_a_table = details["type"] == "dataclass_type"
    depth = len(loc) if not_a_table else table_depth(root, loc)
    table = ".".join(str(part) for part in (section, *loc[:depth]) if part)
    where = f"{file_of(loc)} [{table}]" if table else str(file_of(loc))
    if not_a_table:
        got = describe(details["input"])
        return f"{where} must be a table ([{table}] with key = value lines), got {got}"
    if details["type"] in UNKNOWN:
        top = top_keys is not None and depth == 0
        kind = (
            ("section" if isinstance(details["input"], dict) else "top-level key") if top else "key"
        )
        valid = valid_keys(root, loc[:depth], top_keys)
        return unknown_key_message(where, str(loc[-1]), valid, kind)
    return value_problem(details, where, loc[depth:], declared(root, loc))


def value_problem(details: ErrorDetails, where: str, key: Loc, kind: Any) -> str:
    """``<file> [section] key = value must be ...``: what is wrong with one value, and what it
    must be."""
    name = str(key[0]) + "".join(f"[{part}]" for part in key[1:])
    value, context = details.get("input"), details.get("ctx") or {}
    if details["type"] == "missing":
        what = f"the section [{name}]" if dataclasses.is_dataclass(kind) else f"the key {name!r}"
        return f"{where}: {what} is required and missing"
    if details["type"] not in WORDING:
        return f"{where} {name}: {details['msg']}"
    if type(value) is int and any(isinstance(bound, float) for bound in context.values()):
        value = float(value)  # as the float setting reads it
    choices = ", ".join(typing.get_args(kind)) if typing.get_origin(kind) is Literal else ""
    words = WORDING[details["type"]].format(
        value=value, got=describe(value), choices=choices, **context
    )
    return f"{where} {name} {words}"


def build(cls: type[T], table: Mapping[str, Any], file: Path | str, section: str) -> T:
    """An instance of the dataclass ``cls`` from one TOML table, every key known, typed and in
    range."""
    try:
        return validated(cls, table)
    except ValidationError as error:
        raise report(file, error_lines(error, cls, lambda loc: file, section)) from None


def stage_settings_dict(settings: Any) -> dict[str, Any]:
    """One section's resolved settings, keyed as in the TOML (for checkpoints and the run
    record)."""
    return as_toml_dict(settings)


def as_toml_dict(settings: Any) -> dict[str, Any]:
    """A settings dataclass as a plain dict with the TOML's keys: tuples as lists, paths as
    strings, None as ""."""
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
