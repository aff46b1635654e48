"""Shared fixtures: a tiny demo dataset, a tiny stand-in backbone, and the default
demo prepared once per test session."""

import os
from dataclasses import replace
from pathlib import Path

import pytest

from annokit.demo import DemoConfig, generate_demo

TINY = DemoConfig(n_train=48, n_test=24, image_size=32, seed=0)


@pytest.fixture(scope="session", autouse=True)
def tiny_standin(tmp_path_factory) -> Path:
    """The demo profiles' ``resnet18-standin.pth``, built on 48 pretraining images for
    one epoch, in ``$ANNOKIT_WEIGHTS``.

    Every demo stage loads it as the real demo loads the stand-in notebook 00
    builds; subprocesses inherit the variable.
    """
    from annokit.demo.standin import ensure_standin
    from annokit.profile import load_profile

    folder = tmp_path_factory.mktemp("weights")
    profile = load_profile("demo")
    settings = replace(profile.standin, images=48, image_size=32, epochs=1, batch_size=16)
    previous = os.environ.get("ANNOKIT_WEIGHTS")
    os.environ["ANNOKIT_WEIGHTS"] = str(folder)
    weights = ensure_standin(
        settings, profile.cnn.backbone, folder / profile.cnn.weights_path, folder / "pretraining"
    )
    yield weights
    if previous is None:
        os.environ.pop("ANNOKIT_WEIGHTS", None)
    else:
        os.environ["ANNOKIT_WEIGHTS"] = previous


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory) -> tuple[Path, object]:
    """A small demo dataset in both layouts and what the generator intended."""
    root = tmp_path_factory.mktemp("tiny-demo")
    return root, generate_demo(root, TINY)


@pytest.fixture(scope="session")
def demo_env(tmp_path_factory) -> dict[str, str]:
    """A work and a results folder outside the repository, for runs of the default demo profiles."""
    base = tmp_path_factory.mktemp("annokit-env")
    return {"ANNOKIT_WORK": str(base / "work"), "ANNOKIT_RESULTS": str(base / "results")}


@pytest.fixture(scope="session")
def prepared_demo(demo_env):
    """The four default demo profiles prepared (data generated once, checked
    against the committed manifests)."""
    from annokit.prepare import DEMO_PROFILES, prepare
    from annokit.profile import load_profile

    mp = pytest.MonkeyPatch()
    for key, value in demo_env.items():
        mp.setenv(key, value)
    try:
        yield {name: prepare(load_profile(name)) for name in DEMO_PROFILES}
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def make_tiny_run(tiny_demo):
    """A factory: ``make_tiny_run(work)`` writes the tiny demo's prepared index
    as ``<work>/runs/<profile>/index``.

    Notebooks read a run from there when given ``work_dir=work``;
    returns the run folder and the index.
    """
    from annokit.data.index import build_index
    from annokit.data.manifest import record_manifest

    root, _ = tiny_demo
    manifest = record_manifest(
        root / "nuswide", "nuswide", "m3", name="tiny_nuswide_m3", source="tiny demo"
    )

    def make(work: Path, profile: str = "demo"):
        run_dir = Path(work) / "runs" / profile
        index, _ = build_index(run_dir / "index", root / "nuswide", manifest, profile=profile)
        return run_dir, index

    return make
