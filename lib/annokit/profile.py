"""Run profiles: a dataset, a split rule and the hyperparameters of every stage, kept as TOML data."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from annokit import paths

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
DATASETS = ("coco2014", "nuswide")
SPLIT_RULES = ("m3", "morder")


@dataclass(frozen=True)
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
    demo: dict[str, int] | None = None
    stages: dict[str, Any] = field(default_factory=dict)

    @property
    def is_demo(self) -> bool:
        return self.demo is not None

    def resolved_data_root(self) -> Path:
        """The dataset root: the demo's generated layout, or the user's copy of the real data."""
        if self.data_root is not None:
            return self.data_root
        if self.is_demo:
            layout = "coco" if self.dataset == "coco2014" else "nuswide"
            return paths.demo_data_dir(self.demo["seed"]) / layout
        raise ValueError(
            f"profile {self.name!r} needs the dataset root: pass data_root (papermill parameter "
            f"or --data-root) pointing at your {self.dataset} copy, or set data_root in "
            f"{PROFILES_DIR / (self.name + '.toml')}"
        )

    def run_dir(self, work_dir: Path | None = None) -> Path:
        """This profile's artifacts folder inside the work folder."""
        return (work_dir or paths.work_dir()) / "runs" / self.name


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the kit."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def load_profile(name: str, **overrides: Any) -> Profile:
    """Read ``profiles/<name>.toml``; keyword overrides (e.g. ``data_root``, ``seed``) replace single values."""
    path = PROFILES_DIR / f"{name}.toml"
    if not path.exists():
        raise FileNotFoundError(f"no profile {name!r} ({path} is missing); available: {', '.join(available_profiles())}")
    raw = tomllib.loads(path.read_text())
    known = {"description", "dataset", "split_rule", "manifest", "image_size", "tag_vocab_size", "seed", "data_root", "demo"}
    stages = {k: v for k, v in raw.items() if k not in known}
    profile = Profile(
        name=name,
        description=raw["description"],
        dataset=raw["dataset"],
        split_rule=raw["split_rule"],
        manifest=raw["manifest"],
        image_size=int(raw["image_size"]),
        tag_vocab_size=int(raw["tag_vocab_size"]),
        seed=int(raw["seed"]),
        data_root=Path(raw["data_root"]).expanduser() if raw.get("data_root") else None,
        demo=dict(raw["demo"]) if "demo" in raw else None,
        stages=stages,
    )
    overrides = {k: v for k, v in overrides.items() if v is not None and v != ""}
    if "data_root" in overrides:
        overrides["data_root"] = Path(overrides["data_root"]).expanduser()
    profile = replace(profile, **overrides)
    _validate(profile, path)
    return profile


def _validate(profile: Profile, path: Path) -> None:
    if profile.dataset not in DATASETS:
        raise ValueError(f"{path}: dataset must be one of {DATASETS}, not {profile.dataset!r}")
    if profile.split_rule not in SPLIT_RULES:
        raise ValueError(f"{path}: split_rule must be one of {SPLIT_RULES}, not {profile.split_rule!r}")
