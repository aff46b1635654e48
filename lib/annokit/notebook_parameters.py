"""``reproduce -p NAME VALUE``: each value checked against the type of the default in the
``parameters`` cell of every notebook that declares it, before any notebook runs.

Types: int, float, bool (true/false/1/0 only), str, list of str (``a,b`` or a JSON list); a
default of ``None`` takes a whole number or ``none``.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import papermill as pm

BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


class ParameterError(ValueError):
    """A ``-p`` value that does not fit the notebook's parameter."""


def _default(text: str) -> object:
    """The Python value of a default as written in the parameters cell (its text if not literal)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _expected(default: object) -> str:
    """The name of the type a default asks for."""
    if isinstance(default, bool):
        return "true or false (also 1 or 0)"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, list):
        return "a list of names (a,b,c or a JSON list)"
    if default is None:
        return "a whole number or none"
    return "text"


def convert(text: str, default: object) -> object:
    """``text`` as a value of the default's type; ValueError when it is not one."""
    if isinstance(default, bool):
        return BOOLEANS[text.strip().lower()]  # KeyError: not a boolean
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, list):
        if text.strip().startswith("["):
            value = json.loads(text)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(text)
            return value
        return [part.strip() for part in text.split(",") if part.strip()]
    if default is None:
        return None if text.strip().lower() in ("none", "") else int(text)
    return text


def typed_parameters(notebooks: list[Path], raw: dict[str, str]) -> dict[Path, dict]:
    """Each notebook's ``-p`` values converted to its parameters' types; a value that fits no
    declared type, or a name no notebook declares, is a ``ParameterError`` naming it."""
    out: dict[Path, dict] = {}
    declared_somewhere: set[str] = set()
    for notebook in notebooks:
        declared = pm.inspect_notebook(str(notebook))
        out[notebook] = {}
        for name, text in raw.items():
            if name not in declared:
                continue
            declared_somewhere.add(name)
            default = _default(str(declared[name]["default"]))
            try:
                out[notebook][name] = convert(text, default)
            except (ValueError, KeyError, TypeError):
                raise ParameterError(
                    f"-p {name} {text!r}: {notebook.name} expects {_expected(default)} for "
                    f"{name} (its default is {declared[name]['default']})"
                ) from None
    unknown = sorted(set(raw) - declared_somewhere)
    if unknown:
        raise ParameterError(
            f"-p {unknown[0]}: no notebook of the chain declares this parameter; see the "
            "parameters cell at the top of each notebook"
        )
    return out
