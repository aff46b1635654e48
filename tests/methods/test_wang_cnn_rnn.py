"""Tests for annokit.methods.wang_cnn_rnn and wang_cnn_rnn_jobs: Wang et al.'s CNN-RNN as a stage
(frequent-first sequences, teacher-forced training, the two phases, beam-search predictions)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.models.resnet import BasicBlock

from annokit.evaluation.metrics import annotation_scores
from annokit.methods.baselines.selection import best_epoch
from annokit.methods.wang_cnn_rnn import (
    END_TO_END,
    FROZEN,
    NAME,
    EndToEnd,
    LastBlock,
    PhaseData,
    SeedRun,
    Split,
    build_cnn_rnn,
    chosen_max_labels,
    predict,
    prediction_file,
    train_end_to_end,
    train_frozen,
    training_sequences,
    validation_f1,
)
from annokit.methods.wang_cnn_rnn_jobs import CNNRNNInputs, CNNRNNJob, train_seed
from annokit.models.cnn_rnn import IGNORE, sequence_loss
from annokit.profile import CNNRNNSettings

C, DIM = 4, 6


def settings(**changes) -> CNNRNNSettings:
    values = dict(epochs=3, batch_size=8, lr=0.01, embed_dim=8, hidden_dim=16, beam_size=2)
    return CNNRNNSettings(**{**values, **changes})


def tiny_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features that carry the labels (a linear code plus noise), and the labels."""
    rng = np.random.default_rng(seed)
    y = rng.random((n, C)) < [0.7, 0.5, 0.3, 0.15]
    y[~y.any(axis=1), 0] = True
    code = rng.normal(size=(C, DIM))
    x = (y @ code + 0.1 * rng.normal(size=(n, DIM))).astype(np.float32)
    return x, y


def phase_data(n_fit: int = 48, n_val: int = 16) -> PhaseData:
    x, y = tiny_data(n_fit + n_val, seed=0)
    return PhaseData(Split(x[:n_fit], y[:n_fit]), Split(x[n_fit:], y[n_fit:]))


def test_sequences_are_frequent_first_then_end_then_padding():
    # label frequencies over the images: 2 -> 3, 0 -> 2, 1 -> 2 (tie: lower index first), 3 -> 0
    y = np.array([[1, 0, 1, 0], [0, 1, 1, 0], [1, 1, 1, 0]], dtype=bool)
    assert training_sequences(y).tolist() == [
        [2, 0, C, IGNORE],
        [2, 1, C, IGNORE],
        [2, 0, 1, C],
    ]
    assert chosen_max_labels(settings(), y) == 3
    assert chosen_max_labels(settings(max_labels=5), y) == 5


def test_a_training_step_lowers_the_loss():
    data = phase_data()
    torch.manual_seed(0)
    model = build_cnn_rnn(settings(), C, DIM)
    x = torch.as_tensor(data.fit.inputs)
    sequences = torch.as_tensor(training_sequences(data.fit.y))
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)
    before = float(sequence_loss(model(x, sequences), sequences).detach())
    for _ in range(5):
        optimizer.zero_grad()
        sequence_loss(model(x, sequences), sequences).backward()
        optimizer.step()
    after = float(sequence_loss(model(x, sequences), sequences).detach())
    assert after < before - 0.1


def test_validation_f1_is_the_mean_of_c_f1_and_o_f1():
    data = phase_data()
    torch.manual_seed(0)
    model = build_cnn_rnn(settings(), C, DIM)
    result = predict(model, torch.as_tensor(data.validation.inputs), settings(), max_labels=3)
    scores = annotation_scores(data.validation.y, result.annotation)
    expected = (scores["C-F1"] + scores["O-F1"]) / 2
    assert validation_f1(result, data.validation.y) == pytest.approx(expected)


def test_phase_1_keeps_its_best_validation_epoch_and_predicts_by_beam_search(tmp_path):
    data, how = phase_data(), SeedRun(settings(), seed=0, folder=tmp_path)
    chosen = train_frozen(how, data)
    assert len(chosen.scores) == 3 and chosen.epoch == best_epoch(chosen.scores)
    assert (tmp_path / NAME / FROZEN / "final.pt").exists()
    # the chosen model scores its epoch's validation F1 again
    features = torch.as_tensor(data.validation.inputs)
    again = validation_f1(predict(chosen.model, features, how.settings, 3), data.validation.y)
    assert again == pytest.approx(chosen.scores[chosen.epoch - 1])
    test_x, test_y = tiny_data(10, seed=1)
    rows = np.arange(10)
    p = prediction_file(chosen.model, test_x, rows, how, max_labels=3, meta={})
    beam = predict(chosen.model, torch.as_tensor(test_x), how.settings, 3)
    assert np.array_equal(p.annotation, beam.annotation) and np.array_equal(p.sequences, beam.paths)
    # the annotation is the path's label set, at most max_labels labels
    for i in range(10):
        path = {int(j) for j in p.sequences[i] if j >= 0}
        assert path == set(np.flatnonzero(p.annotation[i])) and len(path) <= 3
    # a second call reloads the finished fit: the same model
    again = train_frozen(how, data)
    assert again.epoch == chosen.epoch
    for a, b in zip(again.model.parameters(), chosen.model.parameters()):
        assert torch.equal(a, b)


def test_phase_2_fine_tunes_the_last_block_and_the_rnn_from_phase_1(tmp_path):
    data = phase_data()
    torch.manual_seed(0)
    block = BasicBlock(3, 3)
    rng = np.random.default_rng(2)
    maps = rng.normal(size=(64, 3, 2, 2)).astype(np.float32)
    with torch.no_grad():  # features of the maps through the block: what phase 1 reads
        features = LastBlock(block).eval()(torch.as_tensor(maps)).numpy()
    y = np.concatenate([data.fit.y, data.validation.y])
    frozen = PhaseData(Split(features[:48], y[:48]), Split(features[48:], y[48:]))
    how = SeedRun(settings(finetune="last_block", finetune_epochs=2, finetune_lr=0.01), 0, tmp_path)
    phase1 = train_frozen(how, frozen)
    maps_data = PhaseData(Split(maps[:48], y[:48]), Split(maps[48:], y[48:]))
    phase2 = train_end_to_end(how, LastBlock(block), phase1.model, maps_data)
    assert isinstance(phase2.model, EndToEnd) and len(phase2.scores) == 2
    assert (tmp_path / NAME / END_TO_END / "final.pt").exists()
    trained = dict(phase2.model.trunk.named_parameters())
    moved = [not torch.equal(trained[k], v) for k, v in LastBlock(block).named_parameters()]
    assert any(moved)  # the CNN's block was trained, not only the RNN


def test_a_seed_writes_the_final_and_the_phase_1_files(tmp_path):
    data = phase_data()
    test_x, _ = tiny_data(8, seed=3)
    inputs = CNNRNNInputs(data, test_x, np.arange(8))
    how = SeedRun(settings(epochs=1, finetune="none"), seed=2, folder=tmp_path)
    result = train_seed(CNNRNNJob(how, profile_seed=0, meta={"profile": "tiny"}), inputs)
    assert result.predictions.model == f"{NAME}@seed2"
    assert result.frozen.model == f"{NAME}_{FROZEN}@seed2"
    assert result.chosen == {FROZEN: 1} and result.predictions.meta["seed"] == 2
    assert result.predictions.annotation.shape == (8, C)
