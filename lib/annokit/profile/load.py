"""Run profiles: a dataset, a split rule and the typed settings of every stage, read strictly from
TOML.

A profile may start from another with ``extends = "<name>"`` (a file beside it, else a shipped
profile): the other's tables are read first and this file's keys replace single values, so a variant
states only what differs. ``Profile`` declares the top-level keys and sections; pydantic checks a
file against it and every problem of the file, in whichever file of the chain, is reported at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomllib
from pydantic import ValidationError

from annokit import paths
from annokit.profile.sections import (
    AnnotationSettings,
    BaselinesSettings,
    ClassifierSettings,
    CNNRNNSettings,
    CNNSettings,
    Dataset,
    DemoSettings,
    EvaluationSettings,
    ImageCacheSettings,
    LoaderSettings,
    LQPSettings,
    MSCNNSettings,
    PartialSettings,
    PrecisionSettings,
    RNNSettings,
    SplitRule,
    StandinSettings,
    Strict,
    TagsMLPSettings,
    Training,
    at_least,
)
from annokit.profile.strict import (
    Loc,
    ProfileError,
    as_toml_dict,
    declared,
    describe,
    error_lines,
    report,
    unknown_key_message,
    validated,
)

PROFILES_DIR = Path(__file__).resolve().parents[1] / "profiles"
# The folder of each dataset's layout inside a generated demo (demo/generate.py writes them all):
# coco/ for COCO 2014, every other layout in the folder of its dataset's name.
DEMO_LAYOUTS = {"coco2014": "coco"} | {d: d for d in ("nuswide", "voc2007", "csv", "cocojson")}
MAX_EXTENDS = 8


@dataclass(frozen=True, kw_only=True)
class Profile(Strict):
    """One run configuration; ``demo`` is set for profiles that generate their own data."""

    name: str  # the file's name, not a key in it
    description: str
    dataset: Dataset
    split_rule: SplitRule
    manifest: str
    image_size: int = field(metadata=at_least(16))
    tag_vocab_size: int = field(metadata=at_least(1))
    seed: int = field(metadata=at_least(0))
    data_root: Path | None = None  # empty in the file: none
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
    cnn_rnn: CNNRNNSettings = CNNRNNSettings()
    cache: ImageCacheSettings = ImageCacheSettings()
    precision: PrecisionSettings = PrecisionSettings()
    demo: DemoSettings | None = None
    standin: StandinSettings | None = None  # the demo's stand-in for ImageNet weights

    @property
    def is_demo(self) -> bool:
        """Whether the profile generates its own data."""
        return self.demo is not None

    def stage(self, name: str) -> Training:
        """The settings of a trained stage by its section name (``"cnn"``, ``"lqp"``, ...)."""
        settings = getattr(self, name, None)
        if not isinstance(settings, Training):
            raise KeyError(
                f"{name!r} is not a trained stage of a profile: {', '.join(trained_sections())}"
            )
        return settings

    def seeds(self, stage: str) -> list[int]:
        """The seeds a stage is trained with: its ``seeds`` list, or the profile's seed alone."""
        return list(self.stage(stage).seeds) or [self.seed]

    def resolved_data_root(self) -> Path:
        """The dataset root: the demo's generated layout, or the user's copy of the real data."""
        if self.data_root is not None:
            return self.data_root
        if self.demo is not None:
            return paths.demo_data_dir(self.demo.seed) / DEMO_LAYOUTS[self.dataset]
        raise ValueError(
            f"profile {self.name!r} needs the dataset root: pass data_root (papermill parameter "
            f"or --data-root) pointing at your {self.dataset} copy, or set data_root in its "
            f"profile file ({self.name}.toml)"
        )

    def run_dir(self, work_dir: Path | None = None) -> Path:
        """This profile's artifacts folder inside the work folder."""
        return (work_dir or paths.work_dir()) / "runs" / self.name

    def to_dict(self) -> dict[str, Any]:
        """Every resolved setting, defaults included, keyed as in the TOML (sections as nested
        dicts)."""
        out = as_toml_dict(self)
        del out["name"]  # the file's name, not a key in it
        for optional in ("demo", "standin"):
            if out[optional] == "":
                del out[optional]
        return out

    def to_json(self) -> str:
        """``to_dict`` as indented JSON (``show --json``)."""
        return json.dumps(self.to_dict(), indent=2)


SECTIONS: dict[str, type] = {  # section name in the TOML -> its settings class
    spec.name: declared(Profile, (spec.name,))
    for spec in dataclasses.fields(Profile)
    if dataclasses.is_dataclass(declared(Profile, (spec.name,)))
}
FILE_KEYS = [spec.name for spec in dataclasses.fields(Profile) if spec.name != "name"] + ["extends"]


def trained_sections() -> list[str]:
    """The sections of the stages that are trained, in the order of ``Profile``."""
    return [name for name, cls in SECTIONS.items() if issubclass(cls, Training)]


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the kit."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def is_profile_file(name_or_path: str | Path) -> bool:
    """Whether a profile is given as a file (a path, or a name ending in .toml), not by name."""
    text = str(name_or_path)
    return text.endswith(".toml") or "/" in text or "\\" in text


def profile_path(name_or_path: str | Path) -> Path:
    """A shipped profile's file by name, or the TOML file given by path."""
    text = str(name_or_path)
    if is_profile_file(text):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ProfileError(f"{path}: no such profile file")
        return path
    path = PROFILES_DIR / f"{text}.toml"
    if not path.is_file():
        raise ProfileError(
            f"no profile {text!r} ({path} is missing); available: {', '.join(available_profiles())}"
            ", or the path of your own profile file (mine.toml)"
        )
    return path


def profile_argument(text: str) -> str:
    """``--profile`` of prepare and reproduce: a shipped profile's name as it is, or a profile
    file's path made absolute (the notebooks run in notebooks/); else one line with the fix."""
    try:
        path = profile_path(text)
    except ProfileError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    shipped = PROFILES_DIR / path.name
    if shipped.resolve() == path.resolve():
        return path.stem  # a shipped profile, by its name or by its path
    if shipped.is_file():
        raise argparse.ArgumentTypeError(
            f"{path} has the name of the shipped profile {path.stem!r}, whose run and results "
            f"folders it would share: rename it (e.g. my-{path.name})"
        )
    return str(path.resolve())


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file's tables; a file that is not TOML is a ProfileError naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path}: not valid TOML ({error})") from None
    except UnicodeDecodeError as error:
        raise ProfileError(f"{path}: not a UTF-8 text file ({error})") from None


def base_file(path: Path, base: Any, chain: tuple[Path, ...]) -> Path:
    """The file that ``extends = base`` in ``path`` names: beside ``path`` first (never ``path``
    itself), then a shipped profile; a loop or a chain over ``MAX_EXTENDS`` is a ProfileError."""
    if not isinstance(base, str) or not base:
        raise ProfileError(f"{path}: extends must name one profile, got {describe(base)}")
    is_path = "/" in base or "\\" in base
    given = Path(base if is_path or base.endswith(".toml") else f"{base}.toml").expanduser()
    candidates = (
        [path.parent / given, given] if is_path else [path.parent / given, PROFILES_DIR / given]
    )
    found = next((c for c in candidates if c.is_file() and c.resolve() != path.resolve()), None)
    if found is None:
        tried = list(dict.fromkeys(str(c) for c in candidates))
        missing = (
            f"neither {' nor '.join(tried)} exists" if tried[1:] else f"{tried[0]} does not exist"
        )
        raise ProfileError(f"{path}: extends {base!r}, but {missing}")
    if found.resolve() in {p.resolve() for p in chain}:
        loop = " -> ".join(str(p) for p in (*chain, found))
        raise ProfileError(f"{path}: extends {base!r}, a loop: {loop}")
    if len(chain) > MAX_EXTENDS:
        raise ProfileError(
            f"{path}: extends chains of at most {MAX_EXTENDS} files: {chain[0]} -> ..."
        )
    return found


def merged_tables(
    path: Path, chain: tuple[Path, ...] = ()
) -> tuple[dict[str, Any], dict[tuple[str, ...], Path]]:
    """The file's tables over those of the profile it ``extends`` (single keys replaced, tables
    merged), and the file each top-level key, section and section key comes from."""
    raw = read_toml(path)
    chain = (*chain, path)
    base = raw.pop("extends", None)
    merged, origins = (
        ({}, {}) if base is None else merged_tables(base_file(path, base, chain), chain)
    )
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
        origins[(key,)] = path
        if isinstance(value, dict):
            origins.update({(key, inner): path for inner in value})
    return merged, origins


def parse_profile(path: Path, raw: dict[str, Any], origins: dict[tuple[str, ...], Path]) -> Profile:
    """The typed profile from its merged tables; a ProfileError lists every unknown, missing,
    ill-typed or out-of-range value, each in the file it comes from."""
    values = {key: value for key, value in raw.items() if key != "name"}
    if values.get("data_root") == "":
        del values["data_root"]
    lines = []
    if "name" in raw:  # Profile.name is the file's name
        lines.append(
            unknown_key_message(str(origins[("name",)]), "name", FILE_KEYS, "top-level key")
        )

    def file_of(loc: Loc) -> Path:
        """The file of the chain that sets the key at ``loc``, else its section, else ``path``."""
        return origins.get(tuple(map(str, loc[:2]))) or origins.get((str(loc[0]),)) or path

    try:
        profile = validated(Profile, {**values, "name": path.stem})
    except ValidationError as error:
        lines += error_lines(error, Profile, file_of, top_keys=FILE_KEYS)
    if lines:
        raise report(path, lines)
    return with_paths_from_files(profile, path, origins)


def with_paths_from_files(
    profile: Profile, path: Path, origins: dict[tuple[str, ...], Path]
) -> Profile:
    """``data_root`` and a manifest given by path, a relative one read from the folder of the file
    that sets it, so the profile means the same wherever the kit runs (a notebook's folder too)."""

    def from_file(key: str, value: Path) -> Path:
        value = value.expanduser()
        if value.is_absolute():
            return value
        return (origins.get((key,), path).resolve().parent / value).resolve()

    if paths.names_manifest_file(profile.manifest):
        profile = replace(profile, manifest=str(from_file("manifest", Path(profile.manifest))))
    if profile.data_root is None:
        return profile
    return replace(profile, data_root=from_file("data_root", profile.data_root))


def load_profile(name_or_path: str | Path, **overrides: Any) -> Profile:
    """Read a shipped profile by name (or a TOML file by path); keyword overrides (``data_root``,
    ``seed``) replace single values."""
    path = profile_path(name_or_path)
    profile = parse_profile(path, *merged_tables(path))
    overrides = {k: v for k, v in overrides.items() if v is not None and v != ""}
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Profile)}
    if unknown:
        raise ProfileError(
            f"{path}: cannot override {', '.join(sorted(unknown))}: not a top-level setting"
        )
    if "data_root" in overrides:
        overrides["data_root"] = Path(overrides["data_root"]).expanduser()
    if "seed" in overrides:
        overrides["seed"] = int(overrides["seed"])
    return replace(profile, **overrides)


__all__ = [
    "PROFILES_DIR",
    "Profile",
    "ProfileError",
    "available_profiles",
    "load_profile",
    "profile_path",
    "trained_sections",
]
