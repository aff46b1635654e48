"""The demo's pretrained backbone: a ResNet trained once on the generated pretraining set, saved
like torchvision's.

Both papers start from ImageNet weights; the demo starts from these. ``ensure_standin`` writes the
pretraining set (``annokit.demo.pretraining``), trains the profile's ResNet on its single-label task
with softmax cross-entropy through the kit's resumable ``fit`` loop, and saves a torchvision-format
state dict (``conv1.weight`` … ``fc.bias``) with its manifest entry
(``annokit.training.weights``). A file whose
entry records the same recipe is reused: a rerun never trains it again.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from annokit.atomic import atomic_torch_save
from annokit.data.dataset import IMAGENET_MEAN, IMAGENET_STD
from annokit.demo.pretraining import CLASSES, read_pretraining_set, write_pretraining_set
from annokit.models import build_backbone
from annokit.profile import StandinSettings
from annokit.training.config import fit_config
from annokit.training.fit import FitOptions, fit, seed_everything
from annokit.training.weights import WeightsError, read_entry, verify_weights, write_entry

# extra pretraining images, 40 per class, kept out of training to check the stand-in learnt its task
HELD_OUT = 480


def recipe(settings: StandinSettings, backbone: str) -> dict:
    """Everything that decides the stand-in's weights, recorded in its manifest entry."""
    return {
        "backbone": backbone,
        "classes": list(CLASSES),
        **dataclasses.asdict(settings),
        "task": "single-label classification of the generated pretraining set, "
        "softmax cross-entropy",
    }


def is_built(weights: Path, settings: StandinSettings, backbone: str) -> bool:
    """The stand-in exists, matches its checksum and was built with this recipe."""
    try:
        verify_weights(weights)
        entry = read_entry(weights)
    except WeightsError:
        return False
    return entry is not None and entry.get("recipe") == _comparable(recipe(settings, backbone))


def _comparable(value: dict) -> dict:
    """The recipe as its JSON entry reads back (tuples become lists)."""
    return json.loads(json.dumps(value))


def normalised(images: Tensor) -> Tensor:
    """uint8 (N, H, W, 3) to float (N, 3, H, W) with ImageNet's normalisation, as
    ``AnnotationDataset`` feeds the CNN."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images.permute(0, 3, 1, 2).float() / 255.0 - mean) / std


def classification_loss(model: nn.Module, batch) -> Tensor:
    """Softmax cross-entropy on a batch of (uint8 images, class), each image flipped left-right
    with probability 1/2."""
    images, classes = batch
    inputs = normalised(images).to(images.device)
    flip = torch.rand(len(inputs), device=inputs.device) < 0.5
    inputs = torch.where(flip.view(-1, 1, 1, 1), inputs.flip(3), inputs)
    return functional.cross_entropy(model(inputs), classes)


def ensure_standin(
    settings: StandinSettings,
    backbone: str,
    weights: Path,
    work: Path,
    device: str | torch.device = "cpu",
) -> Path:
    """Build the stand-in at ``weights`` unless it is there with this recipe; returns ``weights``.

    ``work`` holds the pretraining set (``<work>/train``, ImageNet's layout) and the training run
    (``<work>/standin_run``),
    so an interrupted build resumes where it stopped.
    """
    weights, work = Path(weights), Path(work)
    if is_built(weights, settings, backbone):
        print(f"{weights} was built with this recipe: reused, not trained again")
        return weights
    data_root, total = work, settings.images + HELD_OUT
    with tqdm(total=total, desc="pretraining images", leave=False) as bar:
        write_pretraining_set(
            data_root, total, settings.image_size, settings.seed, progress=lambda _: bar.update()
        )
    images, classes = read_pretraining_set(data_root, total, settings.seed)
    held_out = slice(
        settings.images, total
    )  # never trained on: the entry records the accuracy on them
    images, classes, check_images, check_classes = (
        images[: settings.images],
        classes[: settings.images],
        images[held_out],
        classes[held_out],
    )
    seed_everything(settings.seed)
    model = build_backbone(backbone, num_classes=len(CLASSES))
    run_dir = work / "standin_run"
    fit(
        model,
        TensorDataset(torch.from_numpy(images), torch.from_numpy(classes)),
        classification_loss,
        fit_config(settings, settings.seed),
        run_dir,
        FitOptions(
            stage={"stage": "standin", **_comparable(recipe(settings, backbone))}, device=device
        ),
    )
    weights.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save({k: v.detach().cpu() for k, v in model.state_dict().items()}, weights)
    write_entry(
        weights,
        _comparable(recipe(settings, backbone)),
        held_out_accuracy=accuracy(model, check_images, check_classes),
        held_out_images=HELD_OUT,
        chance=1 / len(CLASSES),
    )
    shutil.rmtree(run_dir, ignore_errors=True)  # the weights file is what later stages read
    return weights


@torch.no_grad()
def accuracy(model: nn.Module, images: np.ndarray, classes: np.ndarray, batch: int = 512) -> float:
    """Share of ``images`` the model classifies right (recorded in the manifest entry, a check
    that pretraining worked)."""
    model.eval().cpu()
    right = 0
    for start in range(0, len(images), batch):
        logits = model(normalised(torch.from_numpy(images[start : start + batch])))
        right += int((logits.argmax(1).numpy() == classes[start : start + batch]).sum())
    return right / max(1, len(images))
