"""Images/s of the image models on random inputs (no loader): CNN and MS-CNN training, inference.

Each runs as the fit loop runs it: Eq. 4 averaged over the labels, SGD with momentum, deterministic
algorithms, and on CUDA the profile's autocast dtype, loss scaling, channels_last and cuDNN setting.
The MS-CNN trains its fusion blocks and head over the frozen ResNet, as notebook 02 does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from annokit.bench.timing import Budget, Rate, measure
from annokit.models import MultiScaleCNN, ResNetBackbone, build_backbone
from annokit.models.losses import sigmoid_cross_entropy
from annokit.profile import PrecisionSettings
from annokit.training import precision
from annokit.training.fit import seed_everything

LABELS = 81  # NUS-WIDE's concepts: the width of the head


@dataclass(frozen=True)
class ModelBench:
    """What the model rates are measured with."""

    backbone: str
    image_size: int
    batch_size: int  # training steps
    inference_batch: int
    device: torch.device
    precision: PrecisionSettings
    # the fit loop's torch.use_deterministic_algorithms (``fit.seed_everything``)
    deterministic: bool = True

    @property
    def dtype(self) -> torch.dtype | None:
        return precision.autocast_dtype(self.device.type, self.precision.amp)

    @property
    def memory_format(self) -> torch.memory_format:
        return (
            torch.channels_last
            if precision.uses_channels_last(self.device.type, self.precision.channels_last)
            else torch.contiguous_format
        )


def random_batch(bench: ModelBench, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised-image-like inputs and multi-hot targets on the device."""
    shape = (size, 3, bench.image_size, bench.image_size)
    images = torch.randn(shape, device=bench.device).to(memory_format=bench.memory_format)
    return images, (torch.rand(size, LABELS, device=bench.device) < 0.05).float()


def prepare(model: nn.Module, bench: ModelBench) -> nn.Module:
    """The model on the device in the stage's memory format, compiled when the settings say so."""
    model = model.to(bench.device).to(memory_format=bench.memory_format)
    return precision.maybe_compile(model, bench.precision.compile)


def train_rate(
    model: nn.Module, params: list[nn.Parameter], bench: ModelBench, budget: Budget
) -> Rate:
    """Training images/s: forward, Eq. 4, backward and an SGD step per batch, as ``train_one_epoch``
    runs them."""
    optimizer = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-4)
    scaler = precision.grad_scaler(bench.dtype)
    images, labels = random_batch(bench, bench.batch_size)
    compiled = prepare(model, bench)
    compiled.train()

    def step() -> int:
        with precision.autocast(bench.device.type, bench.dtype):
            loss = sigmoid_cross_entropy(compiled(images), labels, "mean")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return len(images)

    return measure(step, budget, bench.device)


class Extraction(nn.Module):
    """What feature extraction computes per batch: f_v and the sigmoid scores (as
    ``training.extraction.features_and_scores``)."""

    def __init__(self, model: MultiScaleCNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.features(images)
        return features, torch.sigmoid(self.model.fc(features))


@torch.no_grad()
def inference_rate(model: MultiScaleCNN, bench: ModelBench, budget: Budget) -> Rate:
    """Inference images/s of feature extraction, at the extraction batch size, in the precision
    the kit extracts in: float32 (TF32 where the card allows it), no autocast, since the cached
    features feed every later stage."""
    images, _ = random_batch(bench, bench.inference_batch)
    extraction = prepare(Extraction(model), bench).eval()

    def step() -> int:
        extraction(images)
        return len(images)

    return measure(step, budget, bench.device)


def model_rates(bench: ModelBench, budget: Budget) -> dict[str, Rate]:
    """The CNN's training step (3), the MS-CNN branch's training step (4), MS-CNN inference (5)."""
    seed_everything(0)  # the fit loop's deterministic algorithms; then the profile's cuDNN choice
    kernels = replace(bench.precision, deterministic=bench.deterministic)
    precision.apply_kernel_settings(bench.device.type, kernels)
    cnn: ResNetBackbone = build_backbone(bench.backbone, num_classes=LABELS)
    rates = {"cnn_train_step": train_rate(cnn, list(cnn.parameters()), bench, budget)}
    mscnn = MultiScaleCNN.from_finetuned_cnn(cnn.cpu()).freeze_backbone()
    del cnn
    trained = [p for p in mscnn.parameters() if p.requires_grad]
    rates["mscnn_train_step"] = train_rate(mscnn, trained, bench, budget)
    rates["inference"] = inference_rate(mscnn, bench, budget)
    return rates
