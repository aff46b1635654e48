"""The basic CNN of M3 (Niu et al. 2019, Sec. III-A, Eq. 1): a
torchvision ResNet giving five scale maps.

M1..M5 are the outputs of conv1 (after bn1 + ReLU, before max pooling), layer1 (conv2_x),
layer2, layer3 and layer4; for ResNet-101 at 224x224 they are 64x112x112, 256x56x56,
512x28x28, 1024x14x14 and 2048x7x7. Global average pooling of M5 and an fc layer give the
"CNN" baseline's logits (trained with the sigmoid cross-entropy of Eq. 4).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from annokit.models.pooling import GlobalAvgPool

if TYPE_CHECKING:
    import torchvision.models as tvm

# depth -> (torchvision constructor, ImageNet weights this kit uses), by name: torchvision is
# imported when a ResNet is built, as its import (torch._dynamo with it) costs every notebook
# that only reads cached features a second or more
RESNETS: dict[int, tuple[str, str]] = {
    18: ("resnet18", "ResNet18_Weights"),
    34: ("resnet34", "ResNet34_Weights"),
    50: ("resnet50", "ResNet50_Weights"),
    101: ("resnet101", "ResNet101_Weights"),
}


def torchvision_resnet(depth: int) -> tuple[Callable[..., tvm.ResNet], tvm.WeightsEnum]:
    """The torchvision constructor of a ResNet-``depth`` and the ImageNet weights this kit uses."""
    import torchvision.models as tvm

    constructor, weights = RESNETS[depth]
    return getattr(tvm, constructor), getattr(tvm, weights).IMAGENET1K_V1


def parse_depth(depth: str | int) -> int:
    """18, "18", "resnet18" or "ResNet-18" -> 18."""
    text = str(depth).lower().replace("resnet", "").strip("-_ ")
    if not text.isdigit() or int(text) not in RESNETS:
        raise ValueError(f"unknown ResNet depth {depth!r}; choose one of {sorted(RESNETS)}")
    return int(text)


def feature_dim_of(depth: str | int) -> int:
    """Size of the pooled M5 feature f_v: 512 with basic blocks
    (18/34), 2048 with bottlenecks (50/101)."""
    return 512 if parse_depth(depth) in (18, 34) else 2048


def imagenet_cache_path(depth: str | int) -> Path:
    """Where torchvision keeps the ImageNet weights of this depth (torch
    hub cache, never downloaded here)."""
    url = torchvision_resnet(parse_depth(depth))[1].url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def load_imagenet_weights(
    depth: str | int, weights_path: str | Path | None = None
) -> dict[str, Tensor]:
    """ImageNet ResNet state_dict without its fc, from `weights_path` or the local
    torch hub cache; never downloads."""
    depth = parse_depth(depth)
    if weights_path is None:
        path = imagenet_cache_path(depth)
        if not path.is_file():
            raise FileNotFoundError(
                f"ImageNet weights for ResNet-{depth} not found at {path} (nothing is downloaded). "
                f"Either copy {path.name} (from {torchvision_resnet(depth)[1].url}) to {path}, "
                f"or pass weights_path= pointing to a local torchvision ResNet-{depth} state_dict."
            )
    else:
        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (
        Exception
    ) as err:  # unpickling, zip and EOF errors all mean the same here; details stay chained
        raise ValueError(
            f"cannot read {path} as a torch state_dict ({type(err).__name__}): "
            "the file is corrupt, truncated, or not saved by torch.save"
        ) from err
    if isinstance(state, dict) and isinstance(state.get("model", state.get("state_dict")), dict):
        # a training checkpoint wrapping the weights
        state = state.get("model", state.get("state_dict"))
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state_dict (a dict of tensors)")
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}  # class count differs
    _check_matches(state, depth, path)
    return state


def _check_matches(state: dict[str, Tensor], depth: int, path: Path) -> None:
    """Raise ValueError naming `path` unless `state` has exactly the keys and
    shapes of a ResNet-`depth` trunk."""
    with torch.device("meta"):  # shapes only, no memory or init cost
        expected = {
            k: v.shape
            for k, v in torchvision_resnet(depth)[0]().state_dict().items()
            if not k.startswith("fc.")
        }
    # BN step counters are bookkeeping, absent from old checkpoints;
    # load_state_dict(strict=False) keeps ours.
    missing = sorted(
        k for k in expected.keys() - state.keys() if not k.endswith("num_batches_tracked")
    )
    unexpected = sorted(state.keys() - expected.keys())
    wrong = sorted(k for k in expected.keys() & state.keys() if state[k].shape != expected[k])
    if missing or unexpected or wrong:
        raise ValueError(
            f"{path} does not match a torchvision ResNet-{depth}: {len(missing)} missing keys "
            f"{missing[:3]}, {len(unexpected)} unexpected keys {unexpected[:3]}, {len(wrong)} "
            f"shape mismatches {wrong[:3]}"
        )


class ResNetBackbone(nn.Module):
    """ResNet whose scales S1..S5 give maps M1..M5 (Eq. 1), with
    the CNN baseline's pool + fc head."""

    def __init__(
        self,
        depth: str | int = 101,
        num_classes: int | None = None,
        pretrained: bool = False,
        weights_path: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.depth = parse_depth(depth)
        resnet = torchvision_resnet(self.depth)[0](weights=None)
        # Same attribute names as torchvision, so ImageNet state_dicts load key for key.
        self.conv1, self.bn1, self.relu, self.maxpool = (
            resnet.conv1,
            resnet.bn1,
            resnet.relu,
            resnet.maxpool,
        )
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            resnet.layer1,
            resnet.layer2,
            resnet.layer3,
            resnet.layer4,
        )
        expansion = type(resnet.layer1[0]).expansion
        self.channels: tuple[int, ...] = (
            64,
            64 * expansion,
            128 * expansion,
            256 * expansion,
            512 * expansion,
        )
        self.feature_dim = self.channels[-1]
        self.avgpool = GlobalAvgPool()
        # None when only the maps are wanted (e.g. inside MultiScaleCNN, which has its own fc).
        self.fc = nn.Linear(self.feature_dim, num_classes) if num_classes else None
        if pretrained or weights_path is not None:
            self.load_state_dict(load_imagenet_weights(self.depth, weights_path), strict=False)

    def scale_maps(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """M1..M5 = S5(...S1(I)) (Eq. 1); the ResNet forward path is unchanged."""
        m1 = self.relu(self.bn1(self.conv1(images)))  # conv1, before max pooling
        m2 = self.layer1(self.maxpool(m1))  # conv2_x
        m3 = self.layer2(m2)  # conv3_x
        m4 = self.layer3(m3)  # conv4_x
        m5 = self.layer4(m4)  # conv5_x
        return m1, m2, m3, m4, m5

    def features(self, images: Tensor) -> Tensor:
        """Global average pool of M5: the CNN baseline's visual feature, shape (N, feature_dim)."""
        return self.avgpool(self.scale_maps(images)[-1]).flatten(1)

    def forward(self, images: Tensor) -> Tensor:
        """CNN baseline logits (N, C); the sigmoid lives in the loss (Eq. 4) or at inference."""
        if self.fc is None:
            raise RuntimeError(
                "this backbone was built without a classification head (num_classes=None)"
            )
        return self.fc(self.features(images))


def build_backbone(
    depth: str | int,
    num_classes: int | None,
    pretrained: bool = False,
    weights_path: str | Path | None = None,
) -> ResNetBackbone:
    """The CNN baseline / basic CNN of M3: a ResNet of `depth`
    with an fc to `num_classes` logits."""
    return ResNetBackbone(depth, num_classes, pretrained=pretrained, weights_path=weights_path)
