"""M3 (Niu et al. 2019) stage by stage: Algorithm 1 (training) and Algorithm 2 (annotation).

1. ``train_cnn``: fine-tune the ResNet with sigmoid cross-entropy (Eq. 4).
2. ``train_mscnn``: MS-CNN initialised from it, backbone frozen, fusion blocks and head trained.
3. ``train_tags_mlp``: the MLP on noisy tags (independent of 1–2).
4. ``train_classifier`` / ``train_quantity_regressor``: on cached f_v or [f_v, f_t], with the
   visual and textual models fixed (Algorithm 1 step 5).
``annotate_m3`` then keeps the top m̂ labels (Algorithm 2). Every stage trains with the one
fit loop, so each resumes after an interruption and is skipped when already finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from annokit import annotate, metrics
from annokit.data.dataset import AnnotationDataset
from annokit.data.index import PreparedIndex
from annokit.data.table import TEST, TRAIN
from annokit.features import CachedArrays
from annokit.predictions import Predictions
from annokit.losses import sigmoid_cross_entropy
from annokit.models import (JointClassifier, LabelQuantityRegressor, MultiScaleCNN, ResNetBackbone, TagsMLP,
                            build_backbone)
from annokit.models.lqp import label_quantity_loss
from annokit.profile import Profile
from annokit.train import SMALL_MODEL_THREADS, FitConfig, History, fit, resolve_device  # noqa: F401 (notebooks import it here)

EVAL_BATCH = 128


def fit_config(profile: Profile, stage: str, epochs: int | None = None, optimizer: str = "sgd",
               seed: int | None = None) -> FitConfig:
    """The stage's training settings from the profile; ``epochs`` and ``seed`` override the profile's."""
    settings = profile.stages[stage]
    return FitConfig(
        epochs=int(epochs or settings["epochs"]),
        batch_size=int(settings["batch_size"]),
        lr=float(settings["lr"]),
        momentum=float(settings.get("momentum", 0.9)),
        weight_decay=float(settings.get("weight_decay", profile.stages["cnn"].get("weight_decay", 0.0))),
        optimizer=optimizer,
        seed=profile.seed if seed is None else seed,
    )


def stage_seeds(profile: Profile, stage: str) -> list[int]:
    """The seeds a cheap stage is trained with (its ``seeds`` list; the profile's seed alone by default)."""
    return [int(s) for s in profile.stages[stage].get("seeds", [profile.seed])]


def seed_suffix(profile: Profile, seed: int) -> str:
    """File-name suffix of an extra seed's run and predictions (empty for the profile's own seed)."""
    return "" if seed == profile.seed else f"@seed{seed}"


def stage_record(profile: Profile, index: PreparedIndex, stage: str, **extra) -> dict:
    """What a stage's checkpoints must agree with: profile, split and the stage's settings."""
    settings = {k: v for k, v in profile.stages[stage].items() if k != "seeds"}  # the seed in use is in FitConfig
    return {"stage": stage, "profile": profile.name, "index": index.meta["fingerprint"], **settings, **extra}


def image_split(index: PreparedIndex, data_root: Path, split: str, image_size: int) -> AnnotationDataset:
    """Images of one split with their tag and label vectors."""
    return AnnotationDataset(index, data_root, split=split, image_size=image_size)


def tag_split(index: PreparedIndex, split: str) -> TensorDataset:
    """(tag vector, label vector) pairs of one split: the tags MLP never looks at pixels."""
    return TensorDataset(torch.from_numpy(index.tag_matrix(split).astype(np.float32)),
                         torch.from_numpy(index.label_matrix(split).astype(np.float32)))


def image_loss(model: nn.Module, batch) -> Tensor:
    """Eq. 4 on image batches (image, tags, labels, row)."""
    images, _, labels, _ = batch
    return sigmoid_cross_entropy(model(images), labels)


def vector_loss(model: nn.Module, batch) -> Tensor:
    """Eq. 4 on (input vector, labels) batches: tags MLP and classifiers on cached features."""
    inputs, labels = batch
    return sigmoid_cross_entropy(model(inputs), labels)


def quantity_loss(model: nn.Module, batch) -> Tensor:
    """Eq. 5 on (feature, label count) batches."""
    inputs, counts = batch
    return label_quantity_loss(model(inputs), counts)


def set_batchnorm_momentum(model: nn.Module, momentum: float) -> None:
    """TF's batch-norm decay d is PyTorch's momentum 1 − d (M3: decay 0.9997)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = momentum


@torch.no_grad()
def features_and_scores(model: nn.Module, dataset: Dataset, device: torch.device, input_index: int = 0,
                        desc: str = "extracting") -> tuple[np.ndarray, np.ndarray]:
    """The model's feature vector (``model.features``) and sigmoid scores (``model.fc``) for every item."""
    model.eval().to(device)
    features, scores = [], []
    for batch in tqdm(DataLoader(dataset, batch_size=EVAL_BATCH), desc=desc, leave=False):
        f = model.features(batch[input_index].to(device))
        features.append(f.float().cpu())
        scores.append(torch.sigmoid(model.fc(f)).float().cpu())
    return torch.cat(features).numpy(), torch.cat(scores).numpy()


def score_monitor(dataset: Dataset, y_true: np.ndarray, device: torch.device, input_index: int = 0) -> Callable[[nn.Module], dict]:
    """An ``eval_fn`` for ``fit``: test mAP after every epoch, for the training curves."""
    def evaluate(model: nn.Module) -> dict:
        _, scores = features_and_scores(model, dataset, device, input_index, desc="test mAP")
        return {"test mAP": metrics.mean_average_precision(y_true, scores)}
    return evaluate


def fit_on_images(model: nn.Module, stage: str, profile: Profile, index: PreparedIndex, data_root: Path, run_dir: Path,
                  device: torch.device, epochs: int | None, monitor: bool) -> History:
    """Train an image model with Eq. 4 in ``<run>/<stage>``, with test mAP after each epoch when ``monitor``."""
    test = image_split(index, data_root, TEST, profile.image_size)
    return fit(model, image_split(index, data_root, TRAIN, profile.image_size), image_loss,
               fit_config(profile, stage, epochs), Path(run_dir) / stage, stage_config=stage_record(profile, index, stage),
               device=device, eval_fn=score_monitor(test, index.label_matrix(TEST), device) if monitor else None)


def train_cnn(profile: Profile, index: PreparedIndex, data_root: Path, run_dir: Path, device: torch.device,
              epochs: int | None = None, monitor: bool = True) -> tuple[ResNetBackbone, History]:
    """Algorithm 1 step 1: fine-tune the ResNet on the training images with Eq. 4."""
    settings = profile.stages["cnn"]
    model = build_backbone(settings["backbone"], num_classes=len(index.label_names), pretrained=settings["pretrained"],
                           weights_path=settings.get("weights_path") or None)
    set_batchnorm_momentum(model, float(settings["bn_momentum"]))
    return model, fit_on_images(model, "cnn", profile, index, data_root, run_dir, device, epochs, monitor)


def train_mscnn(profile: Profile, index: PreparedIndex, data_root: Path, run_dir: Path, cnn: ResNetBackbone,
                device: torch.device, epochs: int | None = None, monitor: bool = True) -> tuple[MultiScaleCNN, History]:
    """Algorithm 1 steps 2–3: MS-CNN from the fine-tuned CNN, backbone frozen, fusion and head trained."""
    model = MultiScaleCNN.from_finetuned_cnn(cnn, len(index.label_names)).freeze_backbone()
    return model, fit_on_images(model, "mscnn", profile, index, data_root, run_dir, device, epochs, monitor)


def train_tags_mlp(profile: Profile, index: PreparedIndex, run_dir: Path, feature_dim: int, device: torch.device,
                   epochs: int | None = None) -> tuple[TagsMLP, History]:
    """Algorithm 1 step 4: the MLP on noisy tags, f_t of the same size as f_v (Sec. III-B)."""
    model = TagsMLP(len(index.tag_names), len(index.label_names), hidden=int(profile.stages["tags_mlp"].get("hidden", 2048)),
                    feature_dim=feature_dim)
    test = tag_split(index, TEST)
    history = fit(model, tag_split(index, TRAIN), vector_loss, fit_config(profile, "tags_mlp", epochs),
                  Path(run_dir) / "tags_mlp", stage_config=stage_record(profile, index, "tags_mlp", feature_dim=feature_dim),
                  device=device, eval_fn=score_monitor(test, index.label_matrix(TEST), device), threads=SMALL_MODEL_THREADS)
    return model, history


def joint_features(visual: CachedArrays, textual: CachedArrays | None, split: str) -> np.ndarray:
    """f = [f_v, f_t] (Sec. III-B), or f_v alone for the rows without tags."""
    f_v = getattr(visual, split)
    return f_v if textual is None else np.concatenate([f_v, getattr(textual, split)], axis=1)


def train_classifier(profile: Profile, index: PreparedIndex, run_dir: Path, name: str, train_features: np.ndarray,
                     test_features: np.ndarray, device: torch.device, epochs: int | None = None,
                     seed: int | None = None) -> tuple[JointClassifier, History, np.ndarray]:
    """Algorithm 1 step 5: the fc + sigmoid classifier on fixed features; returns the test scores too."""
    model = JointClassifier(train_features.shape[1], len(index.label_names))
    train = TensorDataset(torch.from_numpy(train_features), torch.from_numpy(index.label_matrix(TRAIN).astype(np.float32)))
    test_inputs = torch.from_numpy(test_features)
    history = fit(model, train, vector_loss, fit_config(profile, "classifier", epochs, seed=seed), Path(run_dir) / name,
                  stage_config=stage_record(profile, index, "classifier", features=name, dim=train_features.shape[1]),
                  device=device, threads=SMALL_MODEL_THREADS, progress=False)
    model.eval().to(device)
    with torch.no_grad():
        scores = torch.sigmoid(model(test_inputs.to(device))).cpu().numpy()
    return model, history, scores


def train_quantity_regressor(profile: Profile, index: PreparedIndex, run_dir: Path, name: str, train_features: np.ndarray,
                             test_features: np.ndarray, device: torch.device, epochs: int | None = None,
                             seed: int | None = None) -> tuple[LabelQuantityRegressor, History, np.ndarray]:
    """Algorithm 1 step 5: the LQP regressor (512-256-1, dropout 0.5, Eq. 5); returns the test predictions too."""
    model = LabelQuantityRegressor(train_features.shape[1])
    counts = torch.from_numpy(index.label_matrix(TRAIN).sum(axis=1).astype(np.float32))
    history = fit(model, TensorDataset(torch.from_numpy(train_features), counts), quantity_loss,
                  fit_config(profile, "lqp", epochs, seed=seed), Path(run_dir) / name,
                  stage_config=stage_record(profile, index, "lqp", features=name, dim=train_features.shape[1]), device=device,
                  threads=SMALL_MODEL_THREADS, progress=False)
    model.eval().to(device)
    with torch.no_grad():
        predicted = model(torch.from_numpy(test_features).to(device)).cpu().numpy()
    return model, history, predicted


def annotate_m3(scores: np.ndarray, predicted_counts: np.ndarray) -> np.ndarray:
    """Algorithm 2: the top m̂ labels by probability, m̂ the rounded LQP prediction."""
    return annotate.top_m_hat(scores, predicted_counts)


def step5_predictions(profile: Profile, index: PreparedIndex, run_dir: Path, visual: CachedArrays, textual: CachedArrays,
                      device: torch.device, epochs: int | None = None, seed: int | None = None) -> list[Predictions]:
    """Train classifier and LQP on f_v and on [f_v, f_t] with one seed; every Table I/II row they give.

    MS-CNN+LQP (f_v), MS-CNN+Tags (top-k), MS-CNN+Tags+LQP (the full M3) and the upper bound.
    An extra seed's runs and files carry the suffix ``@seed<k>``.
    """
    seed = profile.seed if seed is None else seed
    suffix = seed_suffix(profile, seed)
    if not (np.array_equal(visual.test_rows, textual.test_rows) and np.array_equal(visual.train_rows, textual.train_rows)):
        raise ValueError("mscnn_features and tags_features cover different images: rerun notebooks 02 and 03 on the same index")
    scores, counts = {}, {}
    for name, tags in (("visual", None), ("joint", textual)):
        train, test = joint_features(visual, tags, TRAIN), joint_features(visual, tags, TEST)
        _, _, scores[name] = train_classifier(profile, index, run_dir, f"classifier_{name}{suffix}", train, test, device, epochs, seed)
        _, _, counts[name] = train_quantity_regressor(profile, index, run_dir, f"lqp_{name}{suffix}", train, test, device, epochs, seed)
    rows, k = visual.test_rows, int(profile.stages["annotation"]["top_k"])
    meta = {"profile": profile.name, "seed": seed}
    truth = index.label_matrix()[rows]
    return [
        Predictions(f"mscnn_lqp{suffix}", rows, scores["visual"], annotate_m3(scores["visual"], counts["visual"]),
                    "top-m̂ (LQP on f_v)", counts=counts["visual"], meta=meta),
        Predictions(f"mscnn_tags{suffix}", rows, scores["joint"], annotate.top_k(scores["joint"], k), f"top-{k}", meta=meta),
        Predictions(f"mscnn_tags_lqp{suffix}", rows, scores["joint"], annotate_m3(scores["joint"], counts["joint"]),
                    "top-m̂ (LQP on [f_v, f_t])", counts=counts["joint"], meta=meta),
        Predictions(f"upper_bound{suffix}", rows, scores["joint"], annotate.upper_bound(scores["joint"], truth),
                    "top-m, m the true count", meta=meta),
    ]
