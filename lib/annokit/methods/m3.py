"""M3 (Niu et al. 2019) stage by stage: Algorithm 1 (training) and Algorithm 2 (annotation).

1. ``train_cnn``: fine-tune the ResNet with sigmoid cross-entropy (Eq. 4).
2. ``train_mscnn``: MS-CNN initialised from it, backbone frozen, fusion blocks and head trained.
3. ``train_tags_mlp``: the MLP on noisy tags (independent of 1–2).
4. ``train_classifier`` / ``train_quantity_regressor``: on cached f_v or [f_v, f_t], with the
   visual and textual models fixed (Algorithm 1 step 5).
``decision.top_m_hat`` then keeps the top m̂ labels (Algorithm 2). Every stage trains with the one
fit loop, so each resumes after an interruption and is skipped when already finished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, TensorDataset

from annokit.artifacts.features import CachedArrays, save_cached
from annokit.artifacts.predictions import Predictions, save_predictions
from annokit.artifacts.run import Run
from annokit.artifacts.stamps import FINGERPRINT, RunFileError, check_matches_index
from annokit.data.annotation_table import TEST, TRAIN
from annokit.data.dataset import AnnotationDataset
from annokit.data.image_cache import image_dataset
from annokit.data.index import PreparedIndex
from annokit.data.manifest import sha256_of
from annokit.evaluation import decision, metrics
from annokit.models import (
    JointClassifier,
    LabelQuantityRegressor,
    MultiScaleCNN,
    ResNetBackbone,
    TagsMLP,
    build_backbone,
)
from annokit.models.losses import label_quantity_loss, sigmoid_cross_entropy
from annokit.profile import ImageCacheSettings, Profile, stage_settings_dict
from annokit.training.checkpoints import load_weights
from annokit.training.config import fit_config
from annokit.training.extraction import features_and_scores
from annokit.training.fit import SMALL_MODEL_THREADS, FitOptions, History, fit, seed_everything
from annokit.training.validation import fit_subset, monitor_every, validation_monitor
from annokit.training.weights import resolve_weights_path, verify_weights


def seed_suffix(profile: Profile, seed: int) -> str:
    """File-name suffix of an extra seed's run and predictions (empty for the profile's own seed)."""
    return "" if seed == profile.seed else f"@seed{seed}"


def seed_folder(profile: Profile, run_dir: Path, seed: int | None) -> Path:
    """Where a stage trained with ``seed`` lives: the run folder for the profile's seed, else ``<run>/seeds/seed<k>``."""
    return Path(run_dir) if seed is None or seed == profile.seed else Path(run_dir) / "seeds" / f"seed{seed}"


def stage_record(profile: Profile, index: PreparedIndex, stage: str, **extra) -> dict:
    """What a stage's checkpoints must agree with: profile, split and the stage's settings."""
    settings = stage_settings_dict(profile.stage(stage))
    del settings["seeds"]  # the seed in use is in FitConfig
    return {"stage": stage, "profile": profile.name, "index": index.meta["fingerprint"], **settings, **extra}


def image_split(index: PreparedIndex, data_root: Path, split: str, image_size: int, cache: ImageCacheSettings | None = None,
                work_dir: Path | None = None) -> AnnotationDataset:
    """Images of one split with their tag and label vectors: from the decoded-image cache when ``cache.enabled``."""
    return image_dataset(index, data_root, split, image_size, cache, work_dir)


def image_splits(run: Run) -> dict[str, AnnotationDataset]:
    """The train and test images of a run, at the profile's input size (from its image cache when enabled)."""
    return {split: image_split(run.index, run.data_root, split, run.profile.image_size, run.profile.cache, run.run_dir.parents[1])
            for split in (TRAIN, TEST)}


def tag_splits(run: Run) -> dict[str, TensorDataset]:
    """The train and test (tag vector, label vector) pairs of a run."""
    return {split: tag_split(run.index, split) for split in (TRAIN, TEST)}


def tag_split(index: PreparedIndex, split: str) -> TensorDataset:
    """(tag vector, label vector) pairs of one split: the tags MLP never looks at pixels."""
    return TensorDataset(torch.from_numpy(index.tag_matrix(split).astype(np.float32)),
                         torch.from_numpy(index.label_matrix(split).astype(np.float32)))


def image_loss(reduction: str) -> Callable[[nn.Module, tuple], Tensor]:
    """Eq. 4 on image batches (image, tags, labels, row), its labels combined by ``reduction``."""
    def loss(model: nn.Module, batch) -> Tensor:
        images, _, labels, _ = batch
        return sigmoid_cross_entropy(model(images), labels, reduction)
    return loss


def vector_loss(reduction: str) -> Callable[[nn.Module, tuple], Tensor]:
    """Eq. 4 on (input vector, labels) batches: tags MLP and classifiers on cached features."""
    def loss(model: nn.Module, batch) -> Tensor:
        inputs, labels = batch
        return sigmoid_cross_entropy(model(inputs), labels, reduction)
    return loss


def quantity_loss(model: nn.Module, batch) -> Tensor:
    """Eq. 5 on (feature, label count) batches."""
    inputs, counts = batch
    return label_quantity_loss(model(inputs), counts)


def set_batchnorm_momentum(model: nn.Module, momentum: float) -> None:
    """TF's batch-norm decay d is PyTorch's momentum 1 − d (M3: decay 0.9997)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = momentum


def current_outputs(run: Run, cached: list[str], name: str, digest: str) -> Predictions | None:
    """The prediction file ``name`` when it and the ``cached`` arrays were made by the checkpoint of ``digest``
    on this run's index; None when one is missing, damaged, stale or made by another checkpoint."""
    try:
        if any(run.cached(array).meta.get("checkpoint_sha256") != digest for array in cached):
            return None
        predictions = run.predictions(name)
    except (FileNotFoundError, RunFileError):
        return None
    return predictions if predictions.meta.get("checkpoint_sha256") == digest else None


def cache_and_annotate(run: Run, model: nn.Module, name: str, inputs: dict[str, Dataset], device: torch.device, *,
                       cache: str, with_scores: bool = False, meta: dict | None = None,
                       checkpoint: Path | None = None) -> Predictions:
    """Cache a trained model's features (``<cache>_features``, and ``<cache>_scores`` when asked) for both
    splits, then save its top-k annotation of the test split as the prediction file ``name``.

    The later stages train on these arrays and never decode an image again. With ``checkpoint`` (the
    ``final.pt`` the model was loaded from or saved to) the files record its SHA-256, and a rerun whose
    files came from the same checkpoint on the same index reuses them instead of extracting again.
    """
    kinds = (("features", 0), ("scores", 1)) if with_scores else (("features", 0),)
    digest = sha256_of(checkpoint) if checkpoint is not None else None
    if digest is not None:
        reused = current_outputs(run, [f"{cache}_{kind}" for kind, _ in kinds], name, digest)
        if reused is not None:
            print(f"{name}: features, scores and predictions of {checkpoint} are cached and current: reused")
            return reused
    outputs = {split: features_and_scores(model, data, device, desc=f"{name} on {split}", loader=run.profile.loader)
               for split, data in inputs.items()}
    rows = {split: run.index.rows(split) for split in (TRAIN, TEST)}
    meta = {"profile": run.profile.name, "model": name, **(meta or {}), **({"checkpoint_sha256": digest} if digest else {})}
    for kind, position in kinds:
        save_cached(CachedArrays(f"{cache}_{kind}", outputs[TRAIN][position], outputs[TEST][position],
                                 rows[TRAIN], rows[TEST], meta), run.run_dir)
    k, scores = run.profile.annotation.top_k, outputs[TEST][1]
    predictions = Predictions(name, rows[TEST], scores, decision.top_k(scores, k), rule=f"top-{k}", meta=meta)
    save_predictions(predictions, run.run_dir)
    return predictions


def fit_on_images(model: nn.Module, stage: str, profile: Profile, index: PreparedIndex, data_root: Path, run_dir: Path,
                  device: torch.device, epochs: int | None, monitor: bool, seed: int | None = None) -> History:
    """Train an image model with Eq. 4 in ``<run>/<stage>`` on the fit images, with validation mAP when ``monitor``.

    The test split is not read here: it is scored once, by ``cache_and_annotate`` or ``annotate_test``.
    ``seed`` (None: the profile's) trains in ``seed_folder``.
    """
    train = image_split(index, data_root, TRAIN, profile.image_size, profile.cache, Path(run_dir).parents[1])
    seed = profile.seed if seed is None else seed
    return fit(model, fit_subset(train, profile, index), image_loss(profile.stage(stage).loss_reduction), fit_config(profile.stage(stage), seed, epochs, loader=profile.loader, precision=profile.precision), seed_folder(profile, run_dir, seed) / stage, FitOptions(stage=stage_record(profile, index, stage), device=device, record=profile.to_dict(), eval_fn=validation_monitor(profile, index, train, device), eval_every=monitor_every(profile, monitor)))


def train_cnn(profile: Profile, index: PreparedIndex, data_root: Path, run_dir: Path, device: torch.device,
              epochs: int | None = None, monitor: bool = True, seed: int | None = None) -> tuple[ResNetBackbone, History]:
    """Algorithm 1 step 1: fine-tune the ResNet on the training images with Eq. 4 (``seed`` None: the profile's)."""
    settings = profile.cnn
    seed = profile.seed if seed is None else seed
    seed_everything(seed)  # the new fc layer's initial weights
    weights = resolve_weights_path(settings.weights_path)
    model = build_backbone(settings.backbone, num_classes=len(index.label_names), pretrained=settings.pretrained,
                           weights_path=verify_weights(weights) if weights is not None else None)
    set_batchnorm_momentum(model, settings.bn_momentum)
    return model, fit_on_images(model, "cnn", profile, index, data_root, run_dir, device, epochs, monitor, seed)


def load_finetuned_cnn(run: Run, seed: int | None = None) -> ResNetBackbone:
    """The stage-1 CNN of notebook 01 (``<run>/cnn/final.pt``, or that of another seed), the MS-CNN's starting point."""
    cnn = build_backbone(run.profile.cnn.backbone, num_classes=len(run.index.label_names))
    load_weights(seed_folder(run.profile, run.run_dir, seed) / "cnn" / "final.pt", cnn)
    return cnn


def annotate_test(run: Run, model: nn.Module, name: str, device: torch.device, seed: int) -> Predictions:
    """An extra seed's top-k annotation of the test split, saved as ``<name>@seed<k>`` (no features cached)."""
    test = image_split(run.index, run.data_root, TEST, run.profile.image_size, run.profile.cache, run.run_dir.parents[1])
    _, scores = features_and_scores(model, test, device, desc=f"{name} seed {seed} on test", loader=run.profile.loader)
    k, rows = run.profile.annotation.top_k, run.index.rows(TEST)
    predictions = Predictions(f"{name}{seed_suffix(run.profile, seed)}", rows, scores, decision.top_k(scores, k), rule=f"top-{k}",
                              meta={"profile": run.profile.name, "model": name, "seed": seed})
    save_predictions(predictions, run.run_dir)
    return predictions


@torch.no_grad()
def scale_maps_of(model: MultiScaleCNN, image: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """The maps M1..M5 of the ResNet and the fused maps M~1..M~5 (Eq. 2) for one image (C, H, W)."""
    model.eval()
    batch = image[None].to(next(model.parameters()).device)
    return [m[0].cpu() for m in model.backbone.scale_maps(batch)], [m[0].cpu() for m in model.fused_maps(batch)]


def scale_map_shapes(maps: list[Tensor], fused: list[Tensor]) -> pd.DataFrame:
    """Channels and spatial size of M_l and M~l at each scale l (they match: Eq. 2 adds them)."""
    return pd.DataFrame([{"scale": f"l = {level}", "M_l (C x H x W)": " x ".join(map(str, m.shape)),
                          "M~_l (C x H x W)": " x ".join(map(str, f.shape))}
                         for level, (m, f) in enumerate(zip(maps, fused), start=1)]).set_index("scale")


def train_mscnn(profile: Profile, index: PreparedIndex, data_root: Path, run_dir: Path, cnn: ResNetBackbone,
                device: torch.device, epochs: int | None = None, monitor: bool = True,
                seed: int | None = None) -> tuple[MultiScaleCNN, History]:
    """Algorithm 1 steps 2–3: MS-CNN from the fine-tuned CNN (of the same seed), backbone frozen, fusion and head trained."""
    seed = profile.seed if seed is None else seed
    seed_everything(seed)  # the fusion blocks' initial weights
    model = MultiScaleCNN.from_finetuned_cnn(cnn, len(index.label_names)).freeze_backbone()
    set_batchnorm_momentum(model.fusion, profile.mscnn.bn_momentum)  # the frozen backbone keeps its statistics
    return model, fit_on_images(model, "mscnn", profile, index, data_root, run_dir, device, epochs, monitor, seed)


def train_tags_mlp(profile: Profile, index: PreparedIndex, run_dir: Path, feature_dim: int, device: torch.device,
                   epochs: int | None = None) -> tuple[TagsMLP, History]:
    """Algorithm 1 step 4: the MLP on noisy tags, f_t of the same size as f_v (Sec. III-B)."""
    seed_everything(profile.seed)
    model = TagsMLP(len(index.tag_names), len(index.label_names), hidden=profile.tags_mlp.hidden, feature_dim=feature_dim)
    train = tag_split(index, TRAIN)
    history = fit(model, fit_subset(train, profile, index), vector_loss(profile.tags_mlp.loss_reduction), fit_config(profile.tags_mlp, profile.seed, epochs), Path(run_dir) / "tags_mlp", FitOptions(stage=stage_record(profile, index, "tags_mlp", feature_dim=feature_dim), device=device, record=profile.to_dict(), eval_fn=validation_monitor(profile, index, train, device), eval_every=profile.evaluation.every, threads=SMALL_MODEL_THREADS))
    return model, history


def joint_features(visual: CachedArrays, textual: CachedArrays | None, split: str) -> np.ndarray:
    """f = [f_v, f_t] (Sec. III-B), or f_v alone for the rows without tags."""
    f_v = getattr(visual, split)
    return f_v if textual is None else np.concatenate([f_v, getattr(textual, split)], axis=1)


def train_classifier(profile: Profile, index: PreparedIndex, run_dir: Path, name: str, train_features: np.ndarray,
                     test_features: np.ndarray, device: torch.device, epochs: int | None = None,
                     seed: int | None = None) -> tuple[JointClassifier, History, np.ndarray]:
    """Algorithm 1 step 5: the fc + sigmoid classifier on fixed features; returns the test scores too."""
    seed = profile.seed if seed is None else seed
    seed_everything(seed)
    model = JointClassifier(train_features.shape[1], len(index.label_names))
    train = fit_subset(TensorDataset(torch.from_numpy(train_features), torch.from_numpy(index.label_matrix(TRAIN).astype(np.float32))),
                       profile, index)
    test_inputs = torch.from_numpy(test_features)
    history = fit(model, train, vector_loss(profile.classifier.loss_reduction), fit_config(profile.classifier, seed, epochs), Path(run_dir) / name, FitOptions(stage=stage_record(profile, index, "classifier", features=name, dim=train_features.shape[1]), device=device, threads=SMALL_MODEL_THREADS, progress=False, record=profile.to_dict()))
    model.eval().to(device)
    with torch.no_grad():
        scores = torch.sigmoid(model(test_inputs.to(device))).cpu().numpy()
    return model, history, scores


def train_quantity_regressor(profile: Profile, index: PreparedIndex, run_dir: Path, name: str, train_features: np.ndarray,
                             test_features: np.ndarray, device: torch.device, epochs: int | None = None,
                             seed: int | None = None) -> tuple[LabelQuantityRegressor, History, np.ndarray]:
    """Algorithm 1 step 5: the LQP regressor (512-256-1, dropout 0.5, Eq. 5); returns the test predictions too."""
    seed = profile.seed if seed is None else seed
    seed_everything(seed)
    model = LabelQuantityRegressor(train_features.shape[1])
    counts = torch.from_numpy(index.label_matrix(TRAIN).sum(axis=1).astype(np.float32))
    history = fit(model, fit_subset(TensorDataset(torch.from_numpy(train_features), counts), profile, index), quantity_loss, fit_config(profile.lqp, seed, epochs), Path(run_dir) / name, FitOptions(stage=stage_record(profile, index, "lqp", features=name, dim=train_features.shape[1]), device=device, threads=SMALL_MODEL_THREADS, progress=False, record=profile.to_dict()))
    model.eval().to(device)
    with torch.no_grad():
        predicted = model(torch.from_numpy(test_features).to(device)).cpu().numpy()
    return model, history, predicted


def step5_predictions(profile: Profile, index: PreparedIndex, run_dir: Path, visual: CachedArrays, textual: CachedArrays,
                      device: torch.device, epochs: int | None = None, seed: int | None = None) -> list[Predictions]:
    """Train classifier and LQP on f_v and on [f_v, f_t] with one seed; every Table I/II row they give.

    MS-CNN+LQP (f_v), MS-CNN+Tags (top-k), MS-CNN+Tags+LQP (the full M3) and the upper bound.
    An extra seed's runs and files carry the suffix ``@seed<k>``.
    """
    seed = profile.seed if seed is None else seed
    suffix = seed_suffix(profile, seed)
    for cached in (visual, textual):
        check_matches_index(cached, index)
    if visual.meta.get(FINGERPRINT) != textual.meta.get(FINGERPRINT):
        raise ValueError("mscnn_features and tags_features were made on different prepared indices: rerun notebooks 02 and 03 on the same index")
    if not (np.array_equal(visual.test_rows, textual.test_rows) and np.array_equal(visual.train_rows, textual.train_rows)):
        raise ValueError("mscnn_features and tags_features cover different images: rerun notebooks 02 and 03 on the same index")
    scores, counts = {}, {}
    for name, tags in (("visual", None), ("joint", textual)):
        train, test = joint_features(visual, tags, TRAIN), joint_features(visual, tags, TEST)
        _, _, scores[name] = train_classifier(profile, index, run_dir, f"classifier_{name}{suffix}", train, test, device, epochs, seed)
        _, _, counts[name] = train_quantity_regressor(profile, index, run_dir, f"lqp_{name}{suffix}", train, test, device, epochs, seed)
    rows, k = visual.test_rows, profile.annotation.top_k
    meta = {"profile": profile.name, "seed": seed}
    truth = index.label_matrix()[rows]
    return [
        Predictions(f"mscnn_lqp{suffix}", rows, scores["visual"], decision.top_m_hat(scores["visual"], counts["visual"]),
                    "top-m̂ (LQP on f_v)", counts=counts["visual"], meta=meta),
        Predictions(f"mscnn_tags{suffix}", rows, scores["joint"], decision.top_k(scores["joint"], k), f"top-{k}", meta=meta),
        Predictions(f"mscnn_tags_lqp{suffix}", rows, scores["joint"], decision.top_m_hat(scores["joint"], counts["joint"]),
                    "top-m̂ (LQP on [f_v, f_t])", counts=counts["joint"], meta=meta),
        Predictions(f"upper_bound{suffix}", rows, scores["joint"], decision.upper_bound(scores["joint"], truth),
                    "top-m, m the true count", meta=meta),
    ]


def top_m_hat_examples(predictions: Predictions, index: PreparedIndex, count: int = 6) -> pd.DataFrame:
    """Algorithm 2 on a few test images: raw LQP output, rounded, clamped to [1, C] (m̂), and the top-m̂ labels."""
    names, truth = index.label_names, index.label_matrix()[predictions.rows]
    raw = np.asarray(predictions.counts, dtype=np.float64)
    m_hat = decision.predicted_quantity(raw, len(names))
    shown = np.unique(np.concatenate([np.argsort(raw, kind="stable")[:2], np.argsort(-raw, kind="stable")[:2],
                                      np.arange(min(count, len(raw)))]))[:max(count, 4)]
    return pd.DataFrame({
        "LQP output": raw[shown].round(2),
        "rounded": decision.round_half_up(raw[shown]),
        "m̂ (clamped to [1, C])": m_hat[shown],
        "true m": truth[shown].sum(axis=1),
        "top-m̂ labels": [", ".join(names[j] for j in np.argsort(-predictions.scores[i], kind="stable")[:m_hat[i]])
                         for i in shown],
        "true labels": [", ".join(names[j] for j in np.flatnonzero(truth[i])) or "none" for i in shown],
    }, index=pd.Index(predictions.rows[shown], name="index row"))


def reduction_effect(profile: Profile, index: PreparedIndex, run_dir: Path, visual: CachedArrays, textual: CachedArrays,
                     device: torch.device, epochs: int | None = None) -> pd.DataFrame:
    """The joint classifier (top-k on [f_v, f_t]) trained with Eq. 4 summed and averaged over the labels, same rate.

    Averaging divides every gradient by C, as if the learning rate were C times smaller: the table
    shows what the profile's ``loss_reduction`` choice does at its own learning rate.
    """
    train, test = joint_features(visual, textual, TRAIN), joint_features(visual, textual, TEST)
    truth, k, rows = index.label_matrix()[visual.test_rows], profile.annotation.top_k, {}
    for reduction in ("sum", "mean"):
        settings = replace(profile.classifier, loss_reduction=reduction)
        name = "classifier_joint" if reduction == profile.classifier.loss_reduction else f"classifier_joint_{reduction}"
        _, history, scores = train_classifier(replace(profile, classifier=settings), index, run_dir, name, train, test, device,
                                              epochs)
        rows[f"{reduction} over labels" + (" (profile)" if reduction == profile.classifier.loss_reduction else "")] = {
            "final train loss": history.train_loss[-1],
            **{key: 100 * value for key, value in metrics.annotation_scores(truth, decision.top_k(scores, k)).items()
               if key in ("C-F1", "O-F1")},
            "mAP": 100 * metrics.mean_average_precision(truth, scores)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(f"Eq. 4, lr {profile.classifier.lr:g}")
