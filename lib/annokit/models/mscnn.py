"""Multi-scale CNN of M3 (Niu et al. 2019, Sec. III-A, Eq. 2-3, Figs. 3-4).

A side branch of four fusion blocks runs beside the unchanged ResNet: fused maps
M~1 = M1 and M~l = Ml + F_l(M~l-1) for l = 2..5; f_v = avgpool(M~5); an fc gives logits.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor, nn

from annokit.models.pooling import GlobalAvgPool

from .backbone import ResNetBackbone


def conv_bn_relu(c_in: int, c_out: int, kernel_size: int, stride: int) -> nn.Sequential:
    """Conv -> BN -> ReLU, the composite function psi of Eq. 3."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class FusionBlock(nn.Module):
    """One fusion block of M3 (Eq. 2-3, Fig. 3): M~l = Ml + F_l(M~l-1), F_l = psi_l2(psi_l1(.)).

    psi_l1, a 3x3 stride-2 conv, brings the previous fused map to Ml's height and width; psi_l2, a
    1x1 conv, to Ml's channels, so that it can be added to Ml.
    """

    def __init__(self, c_prev: int, c_next: int) -> None:
        super().__init__()
        self.psi1 = conv_bn_relu(c_prev, c_prev, kernel_size=3, stride=2)  # halves height and width
        self.psi2 = conv_bn_relu(c_prev, c_next, kernel_size=1, stride=1)  # matches Ml's channels

    def forward(self, fused_prev: Tensor, scale_map: Tensor) -> Tensor:
        """M~l from the previous fused map M~l-1 and the ResNet's map Ml."""
        return scale_map + self.psi2(self.psi1(fused_prev))  # Eq. 2, F_l of Eq. 3


def fusion_parameter_count(channels: Sequence[int]) -> int:
    """Fusion-block parameters for scale channels c1..cK: per block
    9c_prev^2 + c_prev*c_next + 2c_prev + 2c_next."""
    # conv weights, then the BN affine parameters (gamma, beta) of both convs
    return sum(
        9 * c_prev**2 + c_prev * c_next + 2 * c_prev + 2 * c_next
        for c_prev, c_next in zip(channels[:-1], channels[1:])
    )


class MultiScaleCNN(nn.Module):
    """MS-CNN (Fig. 4): ResNet maps M1..M5 fused by Eq. 2, average-pooled to f_v, fc to logits."""

    def __init__(self, backbone: ResNetBackbone, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone  # its own fc, if any, is not used here
        c = backbone.channels
        # F_2..F_5
        self.fusion = nn.ModuleList(
            FusionBlock(c[level - 1], c[level]) for level in range(1, len(c))
        )
        self.avgpool = GlobalAvgPool()
        self.feature_dim = backbone.feature_dim
        self.fc = nn.Linear(self.feature_dim, num_classes)
        self.backbone_frozen = False

    @classmethod
    def from_finetuned_cnn(
        cls, cnn: ResNetBackbone, num_classes: int | None = None
    ) -> MultiScaleCNN:
        """MS-CNN initialised from the stage-1 CNN (Algorithm 1, step 2):
        a copy of its ResNet and of its fc.

        The fc is copied too (the paper only says "initialize ... with the finetuned CNN"), so
        training starts from the CNN's classifier; the fusion blocks start from PyTorch's default
        init. The CNN itself is deep-copied and left untouched.
        """
        if cnn.fc is None:
            raise ValueError("the fine-tuned CNN has no fc head to initialise from")
        num_classes = cnn.fc.out_features if num_classes is None else num_classes
        if num_classes != cnn.fc.out_features:
            raise ValueError(
                f"CNN has {cnn.fc.out_features} classes, MS-CNN asked for {num_classes}"
            )
        backbone = copy.deepcopy(cnn)
        fc_state = backbone.fc.state_dict()
        backbone.fc = None  # MS-CNN classifies f_v with its own fc
        model = cls(backbone, num_classes)
        model.fc.load_state_dict(fc_state)
        return model

    def fused_maps(self, images: Tensor) -> list[Tensor]:
        """M~1..M~5: M~1 = M1, M~l = Ml + F_l(M~l-1) (Eq. 2)."""
        maps = self.backbone.scale_maps(images)
        fused = [maps[0]]
        for scale_map, block in zip(maps[1:], self.fusion):
            fused.append(block(fused[-1], scale_map))
        return fused

    def features(self, images: Tensor) -> Tensor:
        """f_v = global average pool of M~5, shape (N, feature_dim)."""
        return self.avgpool(self.fused_maps(images)[-1]).flatten(1)

    def forward(self, images: Tensor) -> Tensor:
        """Logits (N, C); the sigmoid of Fig. 4 lives in the loss (Eq. 4) or at inference."""
        return self.fc(self.features(images))

    def freeze_backbone(self) -> MultiScaleCNN:
        """Fix the ResNet (Sec. III-D: "fix the parameters of ResNet
        and train the multi-scale blocks")."""
        self.backbone.requires_grad_(False)
        self.backbone_frozen = True
        self.backbone.eval()
        return self

    def train(self, mode: bool = True) -> MultiScaleCNN:
        """Like nn.Module.train, but a frozen backbone stays in eval mode.

        requires_grad=False does not stop BatchNorm from updating its running mean/var in
        train mode; keeping the frozen ResNet in eval mode keeps its BN statistics (part of the
        fine-tuned CNN) fixed, so the maps M1..M5 are exactly the stage-1 CNN's.
        """
        super().train(mode)
        if self.backbone_frozen:
            self.backbone.eval()
        return self


def build_mscnn(
    depth: str | int,
    num_classes: int,
    pretrained: bool = False,
    weights_path: str | Path | None = None,
) -> MultiScaleCNN:
    """MS-CNN on a fresh ResNet of `depth` (for stage 3 use
    MultiScaleCNN.from_finetuned_cnn instead)."""
    backbone = ResNetBackbone(
        depth, num_classes=None, pretrained=pretrained, weights_path=weights_path
    )
    return MultiScaleCNN(backbone, num_classes)
