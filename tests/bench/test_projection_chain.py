"""The benchmark's projection covers every notebook of every paper profile's chain, and counts
the partial-label grid's fine-tunings and the decoders from the profile's settings."""

import re

import pytest
import torch

from annokit import paths
from annokit.bench.chain import NOTEBOOKS, notebook_parameters
from annokit.bench.projection import PAPER_PROFILES, project_profile
from annokit.bench.timing import Budget
from annokit.bench.vector_rates import VECTOR_RATE_NAMES, vector_rates
from annokit.profile import PROFILES_DIR, load_profile

RATES = {
    "jpeg_loader": 50.0,
    "cached_loader": 1000.0,
    "cnn_train_step": 100.0,
    "mscnn_train_step": 400.0,
    "inference": 2000.0,
    **dict.fromkeys(VECTOR_RATE_NAMES, 10_000.0),
}


def numbered_notebooks() -> set[str]:
    """The chain's notebooks as the notebooks/ folder holds them: ``NN_name``."""
    folder = paths.repo_root() / "notebooks"
    return {p.stem for p in folder.glob("*.ipynb") if re.match(r"\d\d_", p.name)}


def test_the_chain_names_every_numbered_notebook():
    assert set(NOTEBOOKS) == numbered_notebooks() and len(NOTEBOOKS) == 11


@pytest.mark.parametrize("name", PAPER_PROFILES)
def test_no_notebook_of_a_paper_profile_is_missing_from_the_projection(name):
    projected = project_profile(name, RATES)
    assert set(projected["notebooks"]) == numbered_notebooks()
    for stem, notebook in projected["notebooks"].items():
        assert notebook["stages"], f"{stem} has no stage in the projection"
        assert notebook["hours"] == pytest.approx(
            sum(projected["stages"][s]["hours"] for s in notebook["stages"])
        )
    assert projected["hours"] == pytest.approx(
        sum(n["hours"] for n in projected["notebooks"].values())
    )
    # the costly stages are timed, not left at 0 h
    for stem in NOTEBOOKS[:8]:
        if stem != "00_data_prep" or projected["cache"]:
            assert projected["notebooks"][stem]["hours"] > 0, stem


@pytest.mark.parametrize("name", PAPER_PROFILES)
def test_the_partial_grid_counts_proportions_losses_and_seeds(name):
    profile, projected = load_profile(name), project_profile(name, RATES)
    losses = notebook_parameters("06_partial_labels")["losses"]
    rounds = notebook_parameters("06_partial_labels")["curriculum_rounds"]
    fits = len(profile.partial.proportions) * len(losses) * len(profile.seeds("partial"))
    grid, stages = projected["partial_grid"], projected["stages"]
    assert grid["fits"] == fits == 30 and grid["curriculum_fits"] == rounds + 1
    train = projected["split"]["train"]
    fit_images = train - round(profile.evaluation.validation_fraction * train)
    assert stages["grid fine-tuning"]["fits"] == fits
    assert stages["grid fine-tuning"]["images"] == fits * fit_images * profile.partial.epochs
    assert stages["grid fine-tuning"]["bound_by"] == "cnn_train_step"  # the whole ResNet per point
    assert stages["curriculum fine-tuning"]["fits"] == rounds + 1


def test_seeds_multiply_the_grid_and_the_decoders(tmp_path):
    path = tmp_path / "seeded.toml"
    path.write_text(
        f'extends = "{PROFILES_DIR / "nuswide-m3.toml"}"\n'
        "[partial]\nproportions = [0.1, 0.5]\nseeds = [0, 1, 2]\n"
        "[rnn]\nseeds = [0, 1]\n[classifier]\nseeds = [0, 1, 2, 3]\n"
    )
    projected = project_profile(str(path), RATES)
    stages = projected["stages"]
    assert projected["partial_grid"]["fits"] == 2 * 3 * 3
    decoders = [s for s in stages.values() if s["notebook"] == "05_multi_order_rnn"]
    assert len(decoders) == 5 and all(s["fits"] == 2 for s in decoders)
    assert stages["Order-free RNN"]["fits"] == 4  # the baselines take the [classifier] seeds
    assert stages["classifier heads"]["fits"] == stages["LQP heads"]["fits"] == 2 * 4


def test_every_vector_model_is_measured_on_the_cpu():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        budget = Budget(warmup=1, steps=1, seconds=0.0)
        rates = vector_rates(load_profile("nuswide-m3"), torch.device("cpu"), budget)
    finally:
        torch.set_num_threads(before)
    assert set(rates) == set(VECTOR_RATE_NAMES)
    assert all(rate.images_per_s > 0 and rate.steps == 1 for rate in rates.values())


def test_the_fallback_defaults_are_notebook_06s_own():
    """Without the notebooks' sources (an installed package) the projection counts with these."""
    from annokit.bench.chain import PARTIAL_DEFAULTS

    cell = notebook_parameters("06_partial_labels")
    assert {key: cell[key] for key in PARTIAL_DEFAULTS} == PARTIAL_DEFAULTS
