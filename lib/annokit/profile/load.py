"""Run profiles: a dataset, a split rule and the typed settings of every stage, read strictly from TOML.

A profile may start from another with ``extends = "<name>"``: the other's tables are read first and
this file's keys replace single values, so a variant states only what differs.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomllib

from annokit import paths
from annokit.profile.sections import (
    DATASETS,
    OPTIONAL_SECTIONS,
    SECTIONS,
    SPLIT_RULES,
    AnnotationSettings,
    BaselinesSettings,
    ClassifierSettings,
    CNNSettings,
    DemoSettings,
    EvaluationSettings,
    ImageCacheSettings,
    LoaderSettings,
    LQPSettings,
    MSCNNSettings,
    PartialSettings,
    PrecisionSettings,
    RNNSettings,
    StandinSettings,
    TagsMLPSettings,
    Training,
)
from annokit.profile.strict import ProfileError, as_toml_dict, build, check_value, convert, unknown_key_message

PROFILES_DIR = Path(__file__).resolve().parents[1] / "profiles"
TOP_LEVEL = {  # key -> (type, constraints); all required but data_root
    "description": (str, {}),
    "dataset": (str, {"choices": DATASETS}),
    "split_rule": (str, {"choices": SPLIT_RULES}),
    "manifest": (str, {}),
    "image_size": (int, {"min": 16}),
    "tag_vocab_size": (int, {"min": 1}),
    "seed": (int, {"min": 0}),
    "data_root": (str, {}),
}
MAX_EXTENDS = 8


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One run configuration; ``demo`` is set for profiles that generate their own data."""

    name: str
    description: str
    dataset: str
    split_rule: str
    manifest: str
    image_size: int
    tag_vocab_size: int
    seed: int
    data_root: Path | None = None
    cnn: CNNSettings
    mscnn: MSCNNSettings
    tags_mlp: TagsMLPSettings
    classifier: ClassifierSettings
    lqp: LQPSettings
    annotation: AnnotationSettings = AnnotationSettings()
    rnn: RNNSettings
    partial: PartialSettings
    loader: LoaderSettings = LoaderSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    baselines: BaselinesSettings = BaselinesSettings()
    cache: ImageCacheSettings = ImageCacheSettings()
    precision: PrecisionSettings = PrecisionSettings()
    demo: DemoSettings | None = None
    standin: StandinSettings | None = None  # the demo's stand-in for ImageNet weights

    @property
    def is_demo(self) -> bool:
        return self.demo is not None

    def stage(self, name: str) -> Training:
        """The settings of a trained stage by its section name (``"cnn"``, ``"lqp"``, ...)."""
        settings = getattr(self, name, None)
        if not isinstance(settings, Training):
            raise KeyError(f"{name!r} is not a trained stage of a profile: {', '.join(trained_sections())}")
        return settings

    def seeds(self, stage: str) -> list[int]:
        """The seeds a stage is trained with: its ``seeds`` list, or the profile's seed alone."""
        return list(self.stage(stage).seeds) or [self.seed]

    def resolved_data_root(self) -> Path:
        """The dataset root: the demo's generated layout, or the user's copy of the real data."""
        if self.data_root is not None:
            return self.data_root
        if self.demo is not None:
            layout = "coco" if self.dataset == "coco2014" else "nuswide"
            return paths.demo_data_dir(self.demo.seed) / layout
        raise ValueError(
            f"profile {self.name!r} needs the dataset root: pass data_root (papermill parameter "
            f"or --data-root) pointing at your {self.dataset} copy, or set data_root in "
            f"{PROFILES_DIR / (self.name + '.toml')}"
        )

    def run_dir(self, work_dir: Path | None = None) -> Path:
        """This profile's artifacts folder inside the work folder."""
        return (work_dir or paths.work_dir()) / "runs" / self.name

    def to_dict(self) -> dict[str, Any]:
        """Every resolved setting, defaults included, keyed as in the TOML (sections as nested dicts)."""
        out = as_toml_dict(self)
        del out["name"]  # the file's name, not a key in it
        for optional in ("demo", "standin"):
            if out[optional] == "":
                del out[optional]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def trained_sections() -> list[str]:
    return [name for name, cls in SECTIONS.items() if issubclass(cls, Training)]


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the kit."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def profile_path(name_or_path: str | Path) -> Path:
    """A shipped profile's file by name, or the TOML file given by path."""
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ProfileError(f"{path}: no such profile file")
        return path
    path = PROFILES_DIR / f"{text}.toml"
    if not path.is_file():
        raise ProfileError(f"no profile {text!r} ({path} is missing); available: {', '.join(available_profiles())}")
    return path


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path}: not valid TOML ({error})") from None
    except UnicodeDecodeError as error:
        raise ProfileError(f"{path}: not a UTF-8 text file ({error})") from None


def merged_tables(path: Path, depth: int = 0) -> dict[str, Any]:
    """The file's tables over those of the profile it ``extends`` (single keys replaced, tables merged)."""
    raw = read_toml(path)
    base_name = raw.pop("extends", None)
    if base_name is None:
        return raw
    if not isinstance(base_name, str) or depth >= MAX_EXTENDS:
        raise ProfileError(f"{path}: extends must name one profile (chains of at most {MAX_EXTENDS}), got {base_name!r}")
    base_path = profile_path(base_name) if "/" in base_name else path.parent / f"{base_name}.toml"
    if not base_path.is_file():
        raise ProfileError(f"{path}: extends {base_name!r}, but {base_path} does not exist")
    merged = merged_tables(base_path, depth + 1)
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def parse_profile(name: str, path: Path, raw: dict[str, Any]) -> Profile:
    """The typed profile from its merged tables; every unknown, missing or ill-typed value is a ProfileError."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECTIONS:
            values[key] = build(SECTIONS[key], value, path, key)
        elif key in TOP_LEVEL:
            kind, constraints = TOP_LEVEL[key]
            values[key] = convert(value, kind, f"{path} {key}")
            check_value(values[key], constraints, f"{path} {key}")
        else:
            kind = "section" if isinstance(value, dict) else "top-level key"
            raise ProfileError(unknown_key_message(str(path), key, list(TOP_LEVEL) + list(SECTIONS), kind=kind))
    for key in list(TOP_LEVEL) + list(SECTIONS):
        if key not in values and key != "data_root" and key not in OPTIONAL_SECTIONS:
            what = f"the section [{key}]" if key in SECTIONS else f"the key {key!r}"
            raise ProfileError(f"{path}: {what} is required and missing")
    root = values.pop("data_root", "")
    return Profile(name=name, data_root=Path(root).expanduser() if root else None, **values)


def load_profile(name_or_path: str | Path, **overrides: Any) -> Profile:
    """Read a shipped profile by name (or a TOML file by path); keyword overrides (``data_root``, ``seed``) replace single values."""
    path = profile_path(name_or_path)
    profile = parse_profile(path.stem, path, merged_tables(path))
    overrides = {k: v for k, v in overrides.items() if v is not None and v != ""}
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Profile)}
    if unknown:
        raise ProfileError(f"{path}: cannot override {', '.join(sorted(unknown))}: not a top-level setting")
    if "data_root" in overrides:
        overrides["data_root"] = Path(overrides["data_root"]).expanduser()
    if "seed" in overrides:
        overrides["seed"] = int(overrides["seed"])
    return replace(profile, **overrides)


def stage_settings_dict(settings: Any) -> dict[str, Any]:
    """One section's resolved settings, keyed as in the TOML (for checkpoints and the run record)."""
    return as_toml_dict(settings)


__all__ = [
    "PROFILES_DIR", "Profile", "ProfileError", "available_profiles", "load_profile", "profile_path",
    "stage_settings_dict", "trained_sections",
]
