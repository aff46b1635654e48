"""Partial-label models whose representation never saw a hidden label (Durand et al. 2019, Sec. 4).

The paper fine-tunes an ImageNet ResNet on the partial labels of each proportion. A classifier on
the features of notebook 01's CNN would not do: that CNN was fine-tuned on every training label, so
the labels hidden at p = 10 % already shaped the features. Here every model starts from the
pretrained weights the profile names (ImageNet, or the demo's stand-in) and trains on the partial
labels only:

- ``"all"`` (the paper profiles): the whole network, end to end, on the images;
- ``"last_block"`` (the demo): the last residual block and a new fc. The frozen layers below it are
  the pretrained ones, so their output (the maps entering the last block) is computed once per image
  and cached; only the block and the fc train, per loss, proportion and seed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from annokit.artifacts.run import Run
from annokit.atomic import atomic_savez
from annokit.data.annotation_table import TEST, TRAIN
from annokit.data.dataset import AnnotationDataset
from annokit.data.manifest import sha256_of
from annokit.methods.m3_files import image_splits
from annokit.methods.partial_labels import PartialData, take_images
from annokit.models import ResNetBackbone, build_backbone
from annokit.profile import PartialSettings, Profile
from annokit.training.config import FitConfig, fit_config
from annokit.training.weights import read_entry, resolve_weights_path, verify_weights

FINETUNE_PARTS = ("last_block", "all")
EXTRACT_BATCH = 256


def pretrained_backbone(profile: Profile, num_classes: int | None = None) -> ResNetBackbone:
    """The profile's ResNet with the pretrained weights it names (``[cnn] weights_path``, else
    ImageNet), a new fc."""
    weights = resolve_weights_path(profile.cnn.weights_path)
    return build_backbone(
        profile.cnn.backbone,
        num_classes=num_classes,
        pretrained=profile.cnn.pretrained,
        weights_path=verify_weights(weights) if weights is not None else None,
    )


class LastBlockClassifier(nn.Module):
    """The pretrained ResNet's last residual block, global average pooling, dropout (the paper's,
    before the classifier; Monte-Carlo dropout reads it) and a new fc (logits)."""

    def __init__(
        self, backbone: ResNetBackbone, num_classes: int, seed: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.block = copy.deepcopy(backbone.layer4[-1])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.fc = nn.Linear(backbone.feature_dim, num_classes)

    def forward(self, maps: Tensor) -> Tensor:
        return self.fc(self.dropout(self.pool(self.block(maps)).flatten(1)))


def below_last_block(backbone: ResNetBackbone, images: Tensor) -> Tensor:
    """The maps that enter the last residual block: every pretrained layer before it, frozen."""
    x = backbone.maxpool(backbone.relu(backbone.bn1(backbone.conv1(images))))
    return backbone.layer4[:-1](backbone.layer3(backbone.layer2(backbone.layer1(x))))


@torch.no_grad()
def maps_before_last_block(
    backbone: ResNetBackbone,
    dataset: Dataset,
    device: torch.device | str,
    desc: str = "frozen layers",
) -> np.ndarray:
    """``below_last_block`` of every image of ``dataset`` (items: image first), as float32
    (N, C, H, W)."""
    backbone.eval().to(device)
    out = [
        below_last_block(backbone, batch[0].to(device)).float().cpu()
        for batch in tqdm(DataLoader(dataset, batch_size=EXTRACT_BATCH), desc=desc, leave=False)
    ]
    return torch.cat(out).numpy()


class WholeNetwork(nn.Module):
    """The whole pretrained ResNet with dropout and a new fc, trained end to end on images (the
    paper's setting)."""

    def __init__(
        self, backbone: ResNetBackbone, num_classes: int, seed: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.backbone = copy.deepcopy(backbone)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            fc = nn.Linear(backbone.feature_dim, num_classes)
        # dropout before the classifier: an empty Sequential keeps the fc's state-dict names apart
        self.backbone.fc = nn.Sequential(nn.Dropout(dropout), fc) if dropout > 0 else fc

    def forward(self, images: Tensor) -> Tensor:
        return self.backbone(images)


class ImagesOnly(Dataset):
    """The images of an ``AnnotationDataset`` without their labels: the partial targets come
    separately."""

    def __init__(self, images: AnnotationDataset) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tensor:
        return self.images[i][0]


def model_factory(part: str, backbone: ResNetBackbone, num_classes: int, dropout: float = 0.0):
    """``make(seed)`` building the model that fine-tunes ``part`` from ``backbone`` with dropout
    and a seeded new fc."""
    if part == "last_block":
        return lambda seed: LastBlockClassifier(backbone, num_classes, seed, dropout)
    if part == "all":
        return lambda seed: WholeNetwork(backbone, num_classes, seed, dropout)
    raise ValueError(f"[partial] finetune = {part!r}: use one of {', '.join(FINETUNE_PARTS)}")


def inputs_of(
    part: str,
    backbone: ResNetBackbone,
    images: dict[str, AnnotationDataset],
    device: torch.device | str,
    cache: Path | None = None,
    source: str = "",
) -> dict[str, np.ndarray | Dataset]:
    """What the models of ``part`` read per split: cached maps below the last block, or the images
    themselves.

    ``cache``: a ``.npz`` file for the maps, reused when it was made from the same ``source`` (the
    weights' checksum and the index fingerprint) and holds every image; else computed again and
    rewritten.
    """
    if part == "all":
        return {split: ImagesOnly(data) for split, data in images.items()}
    if cache is not None and Path(cache).exists():
        with np.load(cache, allow_pickle=False) as stored:
            if str(stored.get("source", "")) == source and all(
                split in stored and len(stored[split]) == len(images[split]) for split in images
            ):
                return {split: stored[split] for split in images}
    maps = {
        split: maps_before_last_block(backbone, data, device, desc=f"frozen layers on {split}")
        for split, data in images.items()
    }
    if cache is not None:
        atomic_savez(Path(cache), source=np.array(source), **maps)
    return maps


def weights_source(profile: Profile, fingerprint: str) -> str:
    """What cached maps below the last block depend on: the pretrained file's checksum and the
    index."""
    weights = resolve_weights_path(profile.cnn.weights_path)
    entry = read_entry(weights) if weights is not None else None
    if entry:
        checksum = entry["sha256"]
    elif weights is not None:
        checksum = sha256_of(weights)
    else:
        checksum = f"imagenet-{profile.cnn.backbone}"
    return f"{checksum}:{fingerprint}"


def partial_fit_config(run: Run, settings: PartialSettings) -> FitConfig:
    """``[partial]``'s ``FitConfig`` with the profile seed: an image stage (``"all"``) takes the
    profile's ``[loader]`` and ``[precision]``, the part on cached maps (``"last_block"``) float32
    and no loader processes, as every model on cached inputs."""
    seed = run.profile.seed
    if settings.finetune == "all":
        profile = run.profile
        return fit_config(settings, seed, loader=profile.loader, precision=profile.precision)
    return fit_config(settings, seed)


@dataclass(frozen=True)
class FineTuning:
    """What notebook 06 fine-tunes: the ``part`` of the pretrained network, what its models read
    (``data``: the training images minus the validation ones, the test images and the validation
    images), ``make_model(seed)``, a fresh copy of that part with a seeded new fc, and
    ``model_settings``, what it builds beyond the part (its dropout), recorded with every fit."""

    part: str
    data: PartialData
    make_model: Callable[[int], nn.Module]
    model_settings: dict


def fine_tuning(run: Run, part: str) -> FineTuning:
    """The pretrained weights of the run's profile, and the inputs of ``part`` on its images
    (the maps below the last block cached in ``<run>/features/partial_inputs.npz``)."""
    fit_positions, validation_positions = run.validation
    labels = run.index.label_matrix()
    test_rows = run.index.rows(TEST)
    training_labels = labels[run.index.rows(TRAIN)]
    train_labels, test_labels = training_labels[fit_positions], labels[test_rows]
    backbone = pretrained_backbone(run.profile)
    inputs = inputs_of(
        part,
        backbone,
        image_splits(run),
        run.device,
        cache=run.run_dir / "features" / "partial_inputs.npz",
        source=weights_source(run.profile, run.index.meta["fingerprint"]),
    )
    data = PartialData(
        take_images(inputs[TRAIN], fit_positions),
        train_labels,
        inputs[TEST],
        test_labels,
        test_rows,
        validation=take_images(inputs[TRAIN], validation_positions),
        validation_labels=training_labels[validation_positions],
    )
    dropout = run.profile.partial.dropout
    make_model = model_factory(part, backbone, labels.shape[1], dropout)
    return FineTuning(part, data, make_model, {"dropout": dropout} if dropout > 0 else {})
