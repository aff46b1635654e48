"""Every choice is made on a validation split carved from the training split; the test split is read
once, at the end."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from annokit.artifacts.run import open_run
from annokit.data.annotation_table import TEST, TRAIN
from annokit.data.dataset import AnnotationDataset
from annokit.methods.m3 import train_cnn
from annokit.methods.m3_files import cache_and_annotate, image_splits
from annokit.methods.m3_heads import train_tags_mlp
from annokit.profile import PROFILES_DIR, ProfileError, load_profile
from annokit.training.validation import validation_positions, validation_split


def test_the_validation_split_is_a_fixed_disjoint_share_of_the_training_split():
    fit, validation = validation_split(200, 0.1, seed=3)
    assert len(validation) == 20 and len(fit) == 180 and not set(fit) & set(validation)
    assert sorted([*fit, *validation]) == list(range(200)) and list(validation) == sorted(
        validation
    )
    again, other = validation_split(200, 0.1, seed=3), validation_split(200, 0.1, seed=4)
    assert np.array_equal(again[1], validation) and not np.array_equal(other[1], validation)
    assert len(validation_split(200, 0.0, seed=3)[1]) == 0
    with pytest.raises(ValueError, match="leaves none to train on"):
        validation_split(1, 0.6, seed=0)


def test_a_validation_fraction_of_one_is_refused_by_the_profile(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        (PROFILES_DIR / "demo.toml").read_text() + "\n[evaluation]\nvalidation_fraction = 1.0\n"
    )
    with pytest.raises(
        ProfileError, match=r"\[evaluation\] validation_fraction = 1.0 must be less than 1.0"
    ):
        load_profile(str(path))


def test_training_reads_fit_and_validation_images_only_and_the_test_split_once(
    make_tiny_run, tmp_path, monkeypatch
):
    run_dir, index = make_tiny_run(tmp_path)
    profile = replace(load_profile("demo"), image_size=32)
    profile = replace(profile, evaluation=replace(profile.evaluation, validation_fraction=0.25))
    reads: Counter = Counter()
    original = AnnotationDataset.__getitem__

    def counting(self, i):
        reads[int(self.rows[i])] += 1
        return original(self, i)

    monkeypatch.setattr(AnnotationDataset, "__getitem__", counting)
    run = replace(open_run("demo", work_dir=str(tmp_path)), profile=profile)
    fit, validation = run.validation
    assert all(
        np.array_equal(a, b) for a, b in zip(run.validation, validation_positions(profile, index))
    )
    train_rows, test_rows = index.rows(TRAIN), index.rows(TEST)
    train_cnn(run, epochs=2, monitor=True)
    # no test image while training
    assert set(reads) <= set(train_rows) and not set(reads) & set(test_rows)
    assert {row for row in train_rows[fit]} <= set(reads)
    # validation: scored after each of 2 epochs, never trained on
    assert all(reads[row] == 2 for row in train_rows[validation])
    assert all(reads[row] == 2 for row in train_rows[fit])  # fit images: one read per epoch

    reads.clear()
    model, _ = train_cnn(run, epochs=2)  # final.pt reused
    assert not reads
    cache_and_annotate(run, model, "cnn", image_splits(run), cache=("cnn_features", "cnn_scores"))
    assert all(reads[row] == 1 for row in test_rows)  # the test split, scored once


def test_the_tags_mlp_curve_is_scored_on_validation_rows(make_tiny_run, tmp_path):
    make_tiny_run(tmp_path)
    _, history = train_tags_mlp(open_run("demo", work_dir=str(tmp_path)), 16, epochs=2)
    assert list(history.metrics[-1]) == ["val mAP"] and len(history.metrics) == 2


def test_features_are_extracted_once_per_checkpoint_and_again_when_it_changes(
    make_tiny_run, tmp_path, monkeypatch
):
    run_dir, index = make_tiny_run(tmp_path)
    profile = replace(load_profile("demo"), image_size=32)
    run = replace(open_run("demo", work_dir=str(tmp_path)), profile=profile)
    model, _ = train_cnn(run, epochs=1, monitor=False)
    checkpoint = run_dir / "cnn" / "final.pt"
    cache = ("cnn_features", "cnn_scores")
    first = cache_and_annotate(
        run, model, "cnn", image_splits(run), cache=cache, checkpoint=checkpoint
    )
    reads: Counter = Counter()
    original = AnnotationDataset.__getitem__
    monkeypatch.setattr(
        AnnotationDataset,
        "__getitem__",
        lambda self, i: reads.update([int(self.rows[i])]) or original(self, i),
    )
    again = cache_and_annotate(
        run, model, "cnn", image_splits(run), cache=cache, checkpoint=checkpoint
    )
    # same checkpoint, same index: nothing decoded
    assert not reads and np.array_equal(again.scores, first.scores)

    # another checkpoint (retrained): extracted again
    checkpoint.write_bytes(checkpoint.read_bytes() + b"\0")
    cache_and_annotate(run, model, "cnn", image_splits(run), cache=cache, checkpoint=checkpoint)
    assert set(reads) == set(index.rows(TRAIN)) | set(index.rows(TEST))


def test_the_validation_monitor_builds_one_loader_and_keeps_its_workers(monkeypatch):
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    import annokit.training.extraction as extraction
    from annokit.profile import LoaderSettings
    from annokit.training.validation import score_monitor

    built = []

    class Counting(extraction.DataLoader):
        def __init__(self, *args, **kwargs):
            built.append(kwargs)
            super().__init__(*args, **kwargs)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.fc = nn.Linear(4, 3), nn.Linear(3, 2)

        def features(self, x):
            return self.body(x)

    monkeypatch.setattr(extraction, "DataLoader", Counting)
    data = TensorDataset(torch.randn(12, 4), torch.zeros(12))
    truth = np.tile(np.array([[1, 0], [0, 1]], dtype=bool), (6, 1))
    monitor = score_monitor(data, truth, torch.device("cpu"), loader=LoaderSettings(workers=1))
    curve = [monitor(Tiny())["val mAP"] for _ in range(3)]
    assert len(built) == 1 and built[0]["persistent_workers"] and built[0]["num_workers"] == 1
    assert all(0 < value <= 1 for value in curve)
