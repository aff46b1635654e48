"""The [loader] section reaches every loader: training, the per-epoch monitor and feature
extraction."""

import torch
from torch import nn
from torch.utils.data import TensorDataset

from annokit.profile import LoaderSettings, Training, load_profile
from annokit.training import extraction, fit
from annokit.training.config import FitConfig
from annokit.training.fit import FitOptions


def test_worker_count_is_automatic_from_the_cpu_count_or_as_set():
    auto = LoaderSettings()
    # decoding would compete with training for the same cores
    assert auto.worker_count("cpu", cpus=16) == 0
    assert auto.worker_count("cuda", cpus=16) == 15 and auto.worker_count("cuda", cpus=64) == 16
    assert LoaderSettings(workers=3).worker_count("cpu") == 3
    assert (
        load_profile("demo").loader.workers == 0
        and load_profile("coco-multi-order").loader.workers == -1
    )


def test_fit_builds_its_loader_with_the_configured_workers(tmp_path, monkeypatch):
    seen = []
    real = fit.DataLoader
    monkeypatch.setattr(
        fit, "DataLoader", lambda *args, **kwargs: seen.append(kwargs) or real(*args, **kwargs)
    )
    data = TensorDataset(torch.randn(16, 3), torch.randn(16, 1))
    config = FitConfig(
        Training(epochs=1, batch_size=8, lr=0.1), loader=LoaderSettings(workers=2, prefetch=3)
    )
    fit.fit(
        nn.Linear(3, 1),
        data,
        lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        config,
        tmp_path,
        FitOptions(progress=False),
    )
    assert (
        seen[0]["num_workers"] == 2
        and seen[0]["prefetch_factor"] == 3
        and seen[0]["persistent_workers"]
    )
    assert seen[0]["pin_memory"] is False  # pinned memory only helps a GPU


def test_a_finished_stage_is_reused_with_other_loader_settings(tmp_path):
    data = TensorDataset(torch.randn(16, 3), torch.randn(16, 1))
    loss = lambda m, b: nn.functional.mse_loss(m(b[0]), b[1])  # noqa: E731
    first = nn.Linear(3, 1)
    fit.fit(
        first,
        data,
        loss,
        FitConfig(Training(epochs=1, batch_size=8, lr=0.1)),
        tmp_path,
        FitOptions(progress=False),
    )
    again = nn.Linear(3, 1)
    fit.fit(
        again,
        data,
        loss,
        FitConfig(
            Training(epochs=1, batch_size=8, lr=0.1), loader=LoaderSettings(workers=2, prefetch=4)
        ),
        tmp_path,
    )
    assert torch.equal(first.weight, again.weight)  # the machine's settings may change between runs


def test_feature_extraction_uses_the_profiles_loader():
    data = TensorDataset(torch.randn(10, 3))
    assert (
        extraction.extraction_loader(data, "cpu", LoaderSettings(workers=2, prefetch=5)).num_workers
        == 2
    )
    assert (
        extraction.extraction_loader(
            data, "cpu", LoaderSettings(workers=2, prefetch=5)
        ).prefetch_factor
        == 5
    )
    assert extraction.extraction_loader(data, "cpu").num_workers == 0


def test_open_stage_overrides_the_workers(make_tiny_run, tmp_path):
    from annokit.artifacts.run import open_stage

    make_tiny_run(tmp_path)
    run = open_stage("demo", work_dir=str(tmp_path), device="cpu", workers=3)
    assert run.profile.loader.workers == 3 and run.profile.loader.prefetch == 2
