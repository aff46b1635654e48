"""The manifest file: what a dataset root and split must contain, read, checked and written.

A manifest (``data_manifests/<name>.json``) lists the annotation files (with sha256 and line counts
where known), the expected image counts before and after the split rule, and the vocabulary sizes.
``annokit.data.manifest`` compares a root with one and records new ones.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from annokit import paths
from annokit.data.readers import LAYOUT_NAMES

SPLIT_RULES = ("m3", "multi_order", "official", "ratio")
RECORD = "python -m annokit.data.manifest record"


class ManifestExistsError(FileExistsError, ValueError):
    """Recording a manifest would overwrite an existing file."""


@dataclass(frozen=True)
class Manifest:
    """Expected content of one dataset under one split rule."""

    name: str
    dataset: str
    split_rule: str
    source: str
    files: dict[str, dict]  # relative path -> {"sha256": str | None, "lines": int | None}
    counts: dict[str, int]  # checked exactly: images, official_train, official_test, train, test
    vocabulary: dict[str, int]  # labels, tags
    # reported by the paper: differences warn
    paper_counts: dict[str, int] = field(default_factory=dict)


def manifest_path(name: str) -> Path:
    """``data_manifests/<name>.json``."""
    return paths.manifests_dir() / f"{name}.json"


def resolve_manifest(name_or_path: str | Path) -> Path:
    """A committed manifest by name, or the JSON file given by path."""
    text = str(name_or_path)
    if paths.names_manifest_file(text):
        return Path(text).expanduser()
    return manifest_path(text)


def load_manifest(name_or_path: str | Path) -> Manifest:
    """Read ``data_manifests/<name>.json`` (or a manifest file by path),
    refusing a malformed or empty one."""
    path = resolve_manifest(name_or_path)
    if not path.is_file():
        available = sorted(p.stem for p in paths.manifests_dir().glob("*.json"))
        raise FileNotFoundError(
            f"manifest {path} is missing: name one of {', '.join(available)}, or record one with "
            f"`{RECORD}`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = (
            f"{error.msg}: line {error.lineno} column {error.colno}"
            if isinstance(error, json.JSONDecodeError)
            else str(error)
        )
        raise ValueError(
            f"manifest {path} is not valid JSON ({where}): {restore_advice(path)}"
        ) from None
    return manifest_from_dict(data, str(path))


def restore_advice(path: Path) -> str:
    """How to get a manifest back: from git when it is a committed
    one, else by recording it again."""
    if path.parent.resolve() == paths.manifests_dir().resolve():
        return (
            f"restore the committed file (git checkout -- data_manifests/{path.name}) or record "
            f"it again with `{RECORD}`"
        )
    return f"fix the file, or record it again with `{RECORD}`"


def manifest_from_dict(data: object, source: str) -> Manifest:
    """A Manifest from parsed JSON, with the fields, their types and a non-empty content checked."""
    if not isinstance(data, dict):
        raise ValueError(
            f"manifest {source} holds a JSON {type(data).__name__}, not an object: restore it or "
            f"record it again with `{RECORD}`"
        )
    known = {f.name: f for f in fields(Manifest)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(
            f"manifest {source} has unknown field(s) {', '.join(unknown)}: remove or rename them "
            f"(known fields: {', '.join(known)})"
        )
    missing = [
        name
        for name, f in known.items()
        if f.default is MISSING and f.default_factory is MISSING and name not in data
    ]
    if missing:
        raise ValueError(
            f"manifest {source} lacks the field(s) {', '.join(missing)}: restore it or record it "
            f"again with `{RECORD}`"
        )
    problems = field_problems(data)
    if problems:
        raise ValueError(
            f"manifest {source}: {'; '.join(problems)}; restore it or record it again with "
            f"`{RECORD}`"
        )
    manifest = Manifest(**data)
    check_not_empty(manifest, source)
    return manifest


def field_problems(data: dict) -> list[str]:
    """What is wrong with the values of a manifest's fields (empty when nothing)."""
    problems = [
        f"{key} must be a string" for key in ("name", "source") if not isinstance(data[key], str)
    ]
    for key, choices in (("dataset", tuple(LAYOUT_NAMES)), ("split_rule", SPLIT_RULES)):
        if data[key] not in choices:
            problems.append(f"{key} {data[key]!r} must be one of {', '.join(choices)}")
    if not isinstance(data["files"], dict) or not all(
        isinstance(v, dict) for v in data["files"].values()
    ):
        problems.append('files must map each relative path to {"sha256": ..., "lines": ...}')
    for key in ("counts", "vocabulary", "paper_counts"):
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, int) for v in value.values()):
            problems.append(f"{key} must map names to whole numbers")
    return problems


def check_not_empty(manifest: Manifest, source: str) -> None:
    """Refuse a manifest that lists no annotation file and no count: it would accept any folder."""
    if not manifest.files and not manifest.counts:
        raise ValueError(
            f"manifest {source} lists no annotation files and no image counts, so it cannot check "
            f"anything: restore it, or record one from your copy with `{RECORD} <root> --name "
            f"{manifest.name} ...`"
        )


def save_manifest(manifest: Manifest, path: Path | None = None, force: bool = False) -> Path:
    """Write a manifest as indented JSON (``data_manifests/<name>.json`` by default),
    never over a file unless forced."""
    path = Path(path or manifest_path(manifest.name))
    refuse_overwrite(path, force)
    path.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return path


def refuse_overwrite(path: Path, force: bool) -> None:
    """Raise when ``path`` exists and overwriting it was not asked for."""
    if path.exists() and not force:
        raise ManifestExistsError(
            f"manifest {path} exists already: pass --force (force=True) to overwrite it, "
            f"or choose another --name or --out"
        )
