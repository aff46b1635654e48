"""M3 (Niu et al. 2019) stage by stage: Algorithm 1 (training) and Algorithm 2 (annotation).

- Step 1, ``train_cnn``: fine-tune the ResNet with sigmoid cross-entropy (Eq. 4).
- Steps 2–3, ``train_mscnn``: the MS-CNN from it, backbone frozen, fusion blocks and head trained.
- Step 4, ``train_tags_mlp``: the MLP on noisy tags (independent of steps 1–3).
- Step 5, ``step5_predictions`` (one seed) and ``train_step5`` (every seed): the classifier and
  LQP heads on the cached f_v or [f_v, f_t], with the visual and textual models fixed.

``decision.top_m_hat`` then keeps the top m̂ labels (Algorithm 2). Every stage takes the ``Run``
that ``open_stage`` returns and trains with the one fit loop, so each resumes after an
interruption and is skipped when already finished. This module holds the image stages (1–3);
``m3_heads`` the stages on vectors (4–5) and ``m3_files`` what the stages read and write."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch
from torch import Tensor, nn

from annokit.artifacts.predictions import Predictions
from annokit.artifacts.run import Run
from annokit.data.annotation_table import TRAIN
from annokit.methods.launch import train_on_gpus
from annokit.methods.m3_files import (
    annotate_test,
    run_images,
    seed_folder,
    stage_record,
)
from annokit.models import MultiScaleCNN, ResNetBackbone, build_backbone
from annokit.models.losses import sigmoid_cross_entropy
from annokit.training.checkpoints import load_weights
from annokit.training.config import fit_config
from annokit.training.fit import FitOptions, History, fit, seed_everything
from annokit.training.validation import fit_subset, monitor_every, validation_monitor
from annokit.training.weights import resolve_weights_path, verify_weights


def image_loss(reduction: str) -> Callable[[nn.Module, tuple], Tensor]:
    """Eq. 4 on image batches (image, tags, labels, row), its labels combined by ``reduction``."""

    def loss(model: nn.Module, batch) -> Tensor:
        images, _, labels, _ = batch
        return sigmoid_cross_entropy(model(images), labels, reduction)

    return loss


def set_batchnorm_momentum(model: nn.Module, momentum: float) -> None:
    """TF's batch-norm decay d is PyTorch's momentum 1 − d (M3: decay 0.9997)."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = momentum


def fit_on_images(
    run: Run,
    model: nn.Module,
    stage: str,
    *,
    epochs: int | None = None,
    monitor: bool = True,
    seed: int | None = None,
) -> History:
    """Train an image model with Eq. 4 in ``<run>/<stage>`` on the fit images, with validation mAP
    when ``monitor``.

    The test split is not read here: it is scored once, by ``cache_and_annotate`` or
    ``annotate_test``. ``seed`` (None: the profile's) trains in ``seed_folder``.
    """
    profile = run.profile
    train = run_images(run, TRAIN)
    seed = profile.seed if seed is None else seed
    settings = profile.stage(stage)
    config = fit_config(settings, seed, epochs, loader=profile.loader, precision=profile.precision)
    options = FitOptions(
        stage=stage_record(run, stage),
        device=run.device,
        record=profile.to_dict(),
        eval_fn=validation_monitor(run, train),
        eval_every=monitor_every(run, monitor),
    )
    folder = seed_folder(run, seed) / stage
    loss = image_loss(settings.loss_reduction)
    return fit(model, fit_subset(run, train), loss, config, folder, options)


def launch_if_several(
    run: Run, stage: str, *, gpus: int, seed: int | None, epochs: int | None, monitor: bool
) -> None:
    """Train ``stage`` under torchrun when ``gpus > 1``; the call in this process then loads it.

    Extra seeds train in this process: the launch trains the profile's seed.
    """
    if int(gpus) <= 1:
        return
    if seed is not None and seed != run.profile.seed:
        raise ValueError(
            f"seed {seed}: an extra seed trains in this process, give gpus=1 (gpus={gpus} trains "
            f"the profile's seed {run.profile.seed})"
        )
    train_on_gpus(run, stage, gpus, epochs=epochs, monitor=monitor)


def train_cnn(
    run: Run,
    *,
    epochs: int | None = None,
    monitor: bool = True,
    seed: int | None = None,
    gpus: int = 1,
) -> tuple[ResNetBackbone, History]:
    """Algorithm 1 step 1: fine-tune the ResNet on the training images with Eq. 4.

    ``seed`` None: the profile's. ``gpus > 1`` trains it on that many GPUs under torchrun first
    (``launch.train_on_gpus``); this call then loads what the processes wrote.
    """
    launch_if_several(run, "cnn", gpus=gpus, seed=seed, epochs=epochs, monitor=monitor)
    settings = run.profile.cnn
    seed = run.profile.seed if seed is None else seed
    seed_everything(seed)  # the new fc layer's initial weights
    weights = resolve_weights_path(settings.weights_path)
    model = build_backbone(
        settings.backbone,
        num_classes=len(run.index.label_names),
        pretrained=settings.pretrained,
        weights_path=verify_weights(weights) if weights is not None else None,
    )
    set_batchnorm_momentum(model, settings.bn_momentum)
    history = fit_on_images(run, model, "cnn", epochs=epochs, monitor=monitor, seed=seed)
    return model, history


def load_finetuned_cnn(run: Run, seed: int | None = None) -> ResNetBackbone:
    """The stage-1 CNN of notebook 01 (``<run>/cnn/final.pt``, or that of another seed), the
    MS-CNN's starting point."""
    cnn = build_backbone(run.profile.cnn.backbone, num_classes=len(run.index.label_names))
    load_weights(seed_folder(run, seed) / "cnn" / "final.pt", cnn)
    return cnn


def train_mscnn(
    run: Run,
    cnn: ResNetBackbone,
    *,
    epochs: int | None = None,
    monitor: bool = True,
    seed: int | None = None,
    gpus: int = 1,
) -> tuple[MultiScaleCNN, History]:
    """Algorithm 1 steps 2–3: MS-CNN from the fine-tuned CNN (of the same seed), backbone frozen,
    fusion blocks and head trained; ``gpus`` as for ``train_cnn``."""
    launch_if_several(run, "mscnn", gpus=gpus, seed=seed, epochs=epochs, monitor=monitor)
    seed = run.profile.seed if seed is None else seed
    seed_everything(seed)  # the fusion blocks' initial weights
    labels = len(run.index.label_names)
    model = MultiScaleCNN.from_finetuned_cnn(cnn, labels).freeze_backbone()
    # the frozen backbone keeps its statistics
    set_batchnorm_momentum(model.fusion, run.profile.mscnn.bn_momentum)
    history = fit_on_images(run, model, "mscnn", epochs=epochs, monitor=monitor, seed=seed)
    return model, history


def train_extra_seeds(run: Run, stage: str, *, epochs: int | None = None) -> dict[int, Predictions]:
    """The other seeds the profile lists for ``stage`` ("cnn" or "mscnn"), by seed.

    Each is trained in ``<run>/seeds/seed<k>`` without a validation curve (the MS-CNN over the CNN
    of the same seed) and annotates the test split as ``<stage>@seed<k>``, so the tables can show
    the spread over seeds.
    """
    if stage not in ("cnn", "mscnn"):
        raise ValueError(f"extra seeds are trained for 'cnn' or 'mscnn', not {stage!r}")
    annotated = {}
    for seed in run.profile.seeds(stage):
        if seed == run.profile.seed:
            continue
        if stage == "cnn":
            model, _ = train_cnn(run, epochs=epochs, monitor=False, seed=seed)
        else:
            cnn = load_finetuned_cnn(run, seed)
            model, _ = train_mscnn(run, cnn, epochs=epochs, monitor=False, seed=seed)
        annotated[seed] = annotate_test(run, model, stage, seed)
    return annotated


@torch.no_grad()
def scale_maps_of(model: MultiScaleCNN, image: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """The maps M1..M5 of the ResNet and the fused maps M~1..M~5 (Eq. 2) for one image (C, H, W)."""
    model.eval()
    batch = image[None].to(next(model.parameters()).device)
    maps = [m[0].cpu() for m in model.backbone.scale_maps(batch)]
    return maps, [m[0].cpu() for m in model.fused_maps(batch)]


def scale_map_shapes(maps: list[Tensor], fused: list[Tensor]) -> pd.DataFrame:
    """Channels and spatial size of M_l and M~l at each scale l (they match: Eq. 2 adds them)."""
    shape = lambda m: " x ".join(map(str, m.shape))
    rows = [
        {"scale": f"l = {level}", "M_l (C x H x W)": shape(m), "M~_l (C x H x W)": shape(f)}
        for level, (m, f) in enumerate(zip(maps, fused), start=1)
    ]
    return pd.DataFrame(rows).set_index("scale")
