"""Every epoch of a trained baseline is chosen on the validation split: the best epoch's weights,
reloaded or replayed exactly; and the jobs and file names of the eight methods."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from annokit.methods.baselines.registry import METHODS, BaselineJob, baseline_seeds, file_name
from annokit.methods.baselines.selection import CHOSEN, Trainable, best_epoch, fit_best_epoch
from annokit.methods.baselines.stages import baseline_jobs
from annokit.profile import Training, load_profile
from annokit.training.fit import FitConfig


def test_best_epoch_is_the_earliest_of_the_best():
    assert best_epoch([0.1, 0.5, 0.5, 0.2]) == 2
    assert best_epoch([float("nan"), 0.3, 0.1]) == 2
    with pytest.raises(ValueError):
        best_epoch([])


def problem():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(64, 5)), dtype=torch.float32)
    y = (x @ torch.tensor(rng.normal(size=(5, 3)), dtype=torch.float32) > 0).float()
    return TensorDataset(x, y), lambda m, batch: nn.functional.binary_cross_entropy_with_logits(
        m(batch[0]), batch[1]
    )


def scripted(scores: list[float]):
    """A validation score that follows a script, one value per call: epoch 2 of 4 is the best."""
    calls = iter(scores)
    return lambda model: next(calls)


def test_the_chosen_epoch_is_that_epochs_weights_reloaded_or_replayed(tmp_path):
    data, loss = problem()
    config = FitConfig(Training(epochs=4, batch_size=16, lr=0.1), seed=3)

    def trainable(scores: list[float]) -> Trainable:
        return Trainable(lambda: nn.Linear(5, 3), data, loss, scripted(scores))

    chosen = fit_best_epoch(trainable([0.2, 0.9, 0.4, 0.3]), config, tmp_path / "run")
    assert chosen.epoch == 2 and chosen.scores == [0.2, 0.9, 0.4, 0.3]
    two_epochs = fit_best_epoch(trainable([0.0, 1.0]), config.with_epochs(2), tmp_path / "two")
    assert two_epochs.epoch == 2
    # the epoch-2 weights of the 4-epoch run, exactly
    assert torch.equal(chosen.model.weight, two_epochs.model.weight)
    # a finished run reloads the chosen weights without calling the validation again
    again = fit_best_epoch(trainable([]), config, tmp_path / "run")
    assert again.epoch == 2 and torch.equal(again.model.weight, chosen.model.weight)
    # without chosen.pt the two epochs are replayed, to the same weights
    (tmp_path / "run" / CHOSEN).unlink()
    replayed = fit_best_epoch(trainable([]), config, tmp_path / "run")
    assert (tmp_path / "run" / "replay_epoch002" / "final.pt").exists()
    assert torch.equal(replayed.model.weight, chosen.model.weight)
    # the last epoch best: the final weights themselves
    last = fit_best_epoch(trainable([0.1, 0.2, 0.3, 0.4]), config, tmp_path / "last")
    assert last.epoch == 4 and not (tmp_path / "last" / "replay_epoch004").exists()


def test_jobs_files_and_seeds_of_the_demo(tmp_path):
    profile = load_profile("demo")
    # no [baselines] seeds: the [classifier] seeds, as the other heads
    assert baseline_seeds(profile) == [0, 1, 2]
    jobs = baseline_jobs(profile)
    assert len(jobs) == 5 * 3 + 3 and jobs[0] == ("order_free_rnn", 0)  # the longest jobs first
    assert {key for key, seed in jobs if seed is None} == {"tagprop", "2pknn", "tag_knn"}
    assert file_name("warp", 0, profile) == "baseline_warp"
    assert file_name("warp", 2, profile) == "baseline_warp@seed2"
    assert [m.name for m in METHODS.values()] == [
        "CNN+logistic",
        "CNN+softmax",
        "CNN+WARP",
        "LSEP",
        "TagProp",
        "2PKNN",
        "TagNeighbors-style multi-modal kNN",
        "Order-free RNN",
    ]
    job = BaselineJob("lsep", 2, profile, tmp_path)
    assert job.file == "baseline_lsep@seed2"
    assert job.folder == tmp_path / "baselines" / "baseline_lsep@seed2"
    assert BaselineJob("tagprop", None, profile, tmp_path).file == "baseline_tagprop"
