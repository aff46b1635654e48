"""The JSON schema of a profile file, from ``Profile`` and its sections, for editors and validators.

Every section and key with its type, default, choices and range, as pydantic states them. A file
with ``extends`` states only what differs from its base, so the keys a whole profile needs are
required only in a file without it.
"""

from __future__ import annotations

from typing import Any

from annokit.profile.load import Profile
from annokit.profile.strict import adapter

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXTENDS = {
    "type": "string",
    "description": "the profile this file starts from: a file beside it (name without .toml, or a "
    "path), else a shipped profile; this file then states only what differs",
}


def profile_schema() -> dict[str, Any]:
    """The JSON schema of a profile TOML file: its top-level keys, ``extends`` and every section."""
    schema = adapter(Profile).json_schema()
    schema["properties"].pop("name")  # the file's name, not a key in it
    schema["required"].remove("name")
    schema["properties"]["extends"] = EXTENDS
    for key, value in schema["properties"].items():
        schema["properties"][key] = without_null(value)
    required_unless_extends(schema)
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "annokit profile"}


def without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional key as TOML has it: its value's schema alone (a file leaves it out, it has no
    null)."""
    options = [option for option in prop.get("anyOf", []) if option != {"type": "null"}]
    if len(options) != 1 or len(prop["anyOf"]) != 2:
        return prop
    rest = {k: v for k, v in prop.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**options[0], **rest}


def required_unless_extends(schema: dict[str, Any]) -> None:
    """Move the required keys, top-level and of each section, under ``if`` the file has no
    ``extends``."""
    definitions = schema.get("$defs", {})
    then: dict[str, Any] = {"required": schema.pop("required"), "properties": {}}
    for key, prop in schema["properties"].items():
        name = prop.get("$ref", "").rsplit("/", 1)[-1]
        if "required" in definitions.get(name, {}):
            then["properties"][key] = {"required": definitions[name]["required"]}
    for definition in definitions.values():
        definition.pop("required", None)
    schema["if"] = {"not": {"required": ["extends"]}}
    schema["then"] = then
