"""Every stage follows the precision contract of ``fit_config``: the image stages train with the
profile's ``[precision]``, the models on cached vectors (heads, decoders) with ``FLOAT32``.

Each stage module's ``fit`` is replaced by a recorder that keeps the ``FitConfig`` it is handed and
stops the stage there, so nothing trains; the profile asks for ``amp = "bf16"``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from annokit.artifacts.run import open_run
from annokit.data.annotation_table import TRAIN
from annokit.methods import m3, m3_heads, multi_order, partial_finetune, partial_labels
from annokit.methods.baselines import selection, trained_methods
from annokit.methods.baselines.inputs import BaselineData, Parts
from annokit.methods.baselines.registry import BaselineJob
from annokit.models import build_backbone
from annokit.training.config import FLOAT32, FitConfig

FIT_CALLERS = (m3, m3_heads, multi_order, partial_labels, selection)


class _Stop(Exception):
    """Raised by the recorder once it has the stage's FitConfig."""


@pytest.fixture
def recorded(monkeypatch) -> list[FitConfig]:
    """The FitConfigs handed to ``fit`` by any stage module, the stage stopped at its first."""
    configs: list[FitConfig] = []

    def recorder(model, train_set, loss_fn, config, run_dir, options=None):
        configs.append(config)
        raise _Stop

    for module in FIT_CALLERS:
        assert hasattr(module, "fit"), module.__name__
        monkeypatch.setattr(module, "fit", recorder)
    return configs


@pytest.fixture
def bf16_run(make_tiny_run, tmp_path):
    """A tiny demo run whose profile asks for bfloat16 autocast."""
    make_tiny_run(tmp_path)
    run = open_run("demo", work_dir=str(tmp_path))
    precision = replace(run.profile.precision, amp="bf16")
    return replace(run, profile=replace(run.profile, image_size=32, precision=precision))


def amp_of(configs: list[FitConfig], stage, *args, **kwargs) -> str:
    """Run ``stage(*args, **kwargs)`` to the recorder; the amp setting of the FitConfig it got."""
    before = len(configs)
    with pytest.raises(_Stop):
        stage(*args, **kwargs)
    assert len(configs) == before + 1
    return configs[-1].precision.amp


def test_image_stages_take_the_profiles_precision(bf16_run, recorded):
    run = bf16_run
    assert amp_of(recorded, lambda: m3.train_cnn(run, epochs=1)) == "bf16"
    assert recorded[-1].precision == run.profile.precision
    assert recorded[-1].loader == run.profile.loader
    cnn = build_backbone(run.profile.cnn.backbone, num_classes=len(run.index.label_names))
    assert amp_of(recorded, lambda: m3.train_mscnn(run, cnn, epochs=1)) == "bf16"


def test_heads_on_cached_vectors_train_in_float32(bf16_run, recorded):
    run = bf16_run
    n = len(run.index.label_matrix(TRAIN))
    train, test = np.zeros((n, 8), np.float32), np.zeros((3, 8), np.float32)
    assert amp_of(recorded, lambda: m3_heads.train_tags_mlp(run, 8, epochs=1)) == "off"
    assert amp_of(recorded, lambda: m3_heads.train_classifier(run, "c", train, test)) == "off"
    regressor = lambda: m3_heads.train_quantity_regressor(run, "q", train, test)
    assert amp_of(recorded, regressor) == "off"
    assert recorded[-1].precision == FLOAT32


def test_decoders_train_in_float32(bf16_run, recorded, tmp_path):
    run = bf16_run
    rng = np.random.default_rng(0)
    scores = multi_order.LabelledScores(
        rng.random((20, 4)).astype(np.float32), rng.random((20, 4)) < 0.4
    )
    for variant in ("released-code", "paper-text"):
        settings = multi_order.variant_settings(run.profile.rnn, variant)
        how = multi_order.DecoderTraining(settings, 0, tmp_path / variant, progress=False)
        assert amp_of(recorded, multi_order.train_multi_order, how, scores) == "off"
    names = [f"l{j}" for j in range(4)]
    fixed = multi_order.train_fixed_order
    assert amp_of(recorded, fixed, how, "rare_first", scores, names) == "off"


def test_partial_labels_fine_tune_on_images_with_the_profiles_precision(bf16_run, recorded):
    run = bf16_run
    expected = {"all": "bf16", "last_block": "off"}
    features, targets = np.zeros((6, 4), np.float32), np.zeros((6, 3), np.float32)
    for finetune, amp in expected.items():
        settings = replace(run.profile.partial, finetune=finetune)
        training = partial_labels.ClassifierTraining(
            config=partial_finetune.partial_fit_config(run, settings)
        )
        folder = run.run_dir / "partial" / finetune
        stage = partial_labels.train_classifier
        assert amp_of(recorded, stage, features, targets, "partial_bce", folder, training) == amp


def test_baselines_on_cached_vectors_train_in_float32(bf16_run, recorded, tmp_path):
    run = bf16_run
    rng = np.random.default_rng(1)

    def parts(width: int, binary: bool = False) -> Parts:
        arrays = [rng.random((n, width)).astype(np.float32) for n in (12, 4, 5)]
        return Parts(*[(a < 0.4).astype(np.float32) if binary else a for a in arrays])

    data = BaselineData(
        features=parts(8),
        scores=parts(4),
        tags=parts(6, binary=True),
        labels=parts(4, binary=True),
        test_rows=np.arange(5),
        fit_positions=np.arange(12),
        validation_positions=np.arange(12, 16),
    )
    for key, stage in (
        ("logistic", trained_methods.head_baseline),
        ("order_free_rnn", trained_methods.order_free_baseline),
    ):
        job = BaselineJob(key, 0, run.profile, tmp_path / "baselines")
        assert amp_of(recorded, stage, job, data) == "off", key
