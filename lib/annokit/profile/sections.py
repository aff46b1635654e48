"""The typed sections of a profile: one frozen dataclass per TOML table, each default beside its field.

Field metadata states what a value may be (``choices``, ``min``, ``positive``); ``annokit.profile.strict``
checks it when the TOML is read, so a typo or a wrong type stops the run before any stage starts.
The paper values and where they come from are in ``docs/deviations.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from annokit.profile.strict import ProfileError

DATASETS = ("coco2014", "nuswide")
SPLIT_RULES = ("m3", "multi_order")
OPTIMIZERS = ("sgd", "rmsprop", "adam")
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")


def at_least(minimum: int | float) -> dict[str, Any]:
    """Field metadata: the value must be >= ``minimum``."""
    return {"min": minimum}


POSITIVE = {"positive": True}


@dataclass(frozen=True, kw_only=True)
class Training:
    """What every trained stage needs: epochs, global batch size and the optimiser's settings."""

    epochs: int = field(metadata=at_least(1))
    batch_size: int = field(metadata=at_least(1))
    lr: float = field(metadata=POSITIVE)
    momentum: float = field(default=0.9, metadata=at_least(0.0))  # SGD's and RMSProp's momentum
    weight_decay: float = field(default=0.0, metadata=at_least(0.0))
    optimizer: str = field(default="sgd", metadata={"choices": OPTIMIZERS})
    rmsprop_alpha: float = field(default=0.99, metadata=at_least(0.0))  # RMSProp's squared-gradient decay (TF: decay); PyTorch's default
    rmsprop_eps: float = field(default=1e-8, metadata=POSITIVE)  # RMSProp's epsilon; PyTorch's default
    seeds: tuple[int, ...] = ()  # extra training runs for the spread over seeds; empty: the profile seed alone

    def with_epochs(self, epochs: int | None) -> Training:
        """These settings with another number of epochs (a notebook's ``epochs`` parameter); None keeps them."""
        return self if epochs is None else replace(self, epochs=int(epochs))


LOSS_REDUCTIONS = ("sum", "mean")


@dataclass(frozen=True, kw_only=True)
class Eq4Training(Training):
    """A stage trained with M3's Eq. 4: ``loss_reduction`` says how its C per-label terms are combined."""

    # "sum": summed over the labels, averaged over the batch; "mean": averaged over labels and batch
    # (TensorFlow's tf.losses.sigmoid_cross_entropy). Why each profile has its value: docs/deviations.md.
    loss_reduction: str = field(default="sum", metadata={"choices": LOSS_REDUCTIONS})


@dataclass(frozen=True, kw_only=True)
class CNNSettings(Eq4Training):
    """[cnn]: M3 Algorithm 1 step 1, the ResNet fine-tuned with Eq. 4."""

    backbone: str = field(metadata={"choices": BACKBONES})
    pretrained: bool
    weights_path: str = ""  # a local torchvision state dict; empty: the torch hub cache
    bn_momentum: float = field(default=0.1, metadata=at_least(0.0))  # PyTorch momentum = 1 - TF decay


@dataclass(frozen=True, kw_only=True)
class MSCNNSettings(Eq4Training):
    """[mscnn]: M3 Algorithm 1 steps 2-3, the fusion blocks and head over the frozen CNN."""

    bn_momentum: float = field(default=0.1, metadata=at_least(0.0))  # of the fusion blocks' BN: 1 - TF decay


@dataclass(frozen=True, kw_only=True)
class TagsMLPSettings(Eq4Training):
    """[tags_mlp]: M3 Algorithm 1 step 4, the MLP on noisy tags (hidden width, then f_t as wide as f_v)."""

    hidden: int = field(default=2048, metadata=at_least(1))


@dataclass(frozen=True, kw_only=True)
class ClassifierSettings(Eq4Training):
    """[classifier]: M3 Algorithm 1 step 5, fc + sigmoid on the fixed f_v or [f_v, f_t]."""


@dataclass(frozen=True, kw_only=True)
class LQPSettings(Training):
    """[lqp]: M3 Algorithm 1 step 5, the label quantity regressor (Eq. 5)."""


@dataclass(frozen=True, kw_only=True)
class AnnotationSettings:
    """[annotation]: the top-k rule of the rows without label quantity prediction."""

    top_k: int = field(default=3, metadata=at_least(1))


@dataclass(frozen=True, kw_only=True)
class RNNSettings(Training):
    """[rnn]: the Multi-order RNN and the fixed-order CNN-RNN decoders (Dutta et al. Sec. 4.3)."""

    optimizer: str = field(default="rmsprop", metadata={"choices": OPTIMIZERS})
    # "paper-text": Sec. 3 as printed; "released-code": the authors' model/lstm/sem_multi_order.py (docs/deviations.md)
    variant: str = field(default="paper-text", metadata={"choices": ("paper-text", "released-code")})
    hidden: int = field(default=512, metadata=at_least(1))  # LSTM cells
    embedding: int = field(default=256, metadata=at_least(1))  # label embedding E
    steps: int = field(default=5, metadata=at_least(1))  # T
    beam_size: int = field(default=1, metadata=at_least(1))  # CNN-RNN decoding
    max_length: int = field(default=6, metadata=at_least(1))  # CNN-RNN decoding


@dataclass(frozen=True, kw_only=True)
class PartialSettings(Training):
    """[partial]: the partial-label sweep (Durand et al. 2019): proportions of known labels, and what is fine-tuned.

    Every model starts from the pretrained weights of ``[cnn]`` (never from notebook 01's CNN, which saw every
    label): ``"all"`` fine-tunes the whole network on the images as the paper does; ``"last_block"`` the last
    residual block and the fc on cached maps of the frozen layers below it (the demo, on 2 CPU cores).
    """

    proportions: tuple[float, ...] = field(metadata={"unit_interval": True})
    finetune: str = field(default="all", metadata={"choices": ("all", "last_block")})


@dataclass(frozen=True, kw_only=True)
class LoaderSettings:
    """[loader]: how image batches reach the model, for training and feature extraction alike.

    Settings of the machine, not of the experiment: a run may resume with other values.
    """

    workers: int = field(default=-1, metadata=at_least(-1))  # decoding processes; -1: automatic (``worker_count``)
    prefetch: int = field(default=2, metadata=at_least(1))  # batches each worker prepares ahead
    pin_memory: bool = True  # page-locked host memory, for faster copies to a GPU (ignored on the CPU)

    def worker_count(self, device_type: str, cpus: int | None = None) -> int:
        """The workers to start: the setting, or automatically 0 on the CPU (decoding would compete with
        training for the same cores) and one per spare core, at most 16, on a GPU."""
        if self.workers >= 0:
            return self.workers
        if device_type != "cuda":
            return 0
        return max(0, min(16, (cpus or os.cpu_count() or 1) - 1))


@dataclass(frozen=True, kw_only=True)
class EvaluationSettings:
    """[evaluation]: the validation split that every choice is made on, and how often training curves are scored.

    The validation images are carved from the training split with a fixed seed and never trained on;
    the test split is scored once, by the final predictions of each stage.
    """

    validation_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 1.0})  # share of the training split held out
    validation_seed: int = field(default=0, metadata=at_least(0))  # the carve-out's own seed: the same images for every stage
    every: int = field(default=1, metadata=at_least(0))  # epochs between validation scores of a training curve; 0: never
    limit: int = field(default=5000, metadata=at_least(1))  # at most this many validation images per curve point


@dataclass(frozen=True, kw_only=True)
class StandinSettings(Training):
    """[standin]: the demo's stand-in for ImageNet pretraining (``annokit.demo.standin``), built once per work folder.

    A ResNet of the profile's ``[cnn] backbone`` trained on ``images`` generated pretraining images of a
    single-label task that is not the annotation task, saved as ``[cnn] weights_path``.
    """

    images: int = field(default=6000, metadata=at_least(12))  # pretraining images, 500 per class on the default
    image_size: int = field(default=64, metadata=at_least(16))
    seed: int = field(default=0, metadata=at_least(0))


@dataclass(frozen=True, kw_only=True)
class DemoSettings:
    """[demo]: size and seed of the generated demo dataset (profiles without it use real data)."""

    n_train: int = field(default=2000, metadata=at_least(1))
    n_test: int = field(default=1000, metadata=at_least(1))
    image_size: int = field(default=64, metadata=at_least(16))
    seed: int = field(default=0, metadata=at_least(0))


def _check_candidates(name: str, values: tuple, low: float, high: float | None = None) -> None:
    """A list of candidate values must be non-empty and every value within [low, high]."""
    if not values or any(v < low or (high is not None and v > high) for v in values):
        bound = f"in [{low:g}, {high:g}]" if high is not None else f"at least {low:g}"
        raise ProfileError(f"[baselines] {name} = {list(values)!r} must be a non-empty list of values {bound}")


@dataclass(frozen=True, kw_only=True)
class BaselinesSettings(Training):
    """[baselines]: notebook 07's reproduced baselines, on the fine-tuned CNN's cached features and scores.

    The Training fields train the linear heads on f_v (CNN+logistic, CNN+softmax, CNN+WARP, LSEP) and LSEP's
    label-count estimator; an empty ``seeds`` takes the [classifier] seeds. Each trained model keeps its best
    epoch on the validation split ([evaluation]); the neighbour methods pick their counts, scale and tag weight
    there, from the lists below. The Order-free RNN takes the [rnn] decoder sizes and optimiser.
    """

    epochs: int = field(default=30, metadata=at_least(1))
    batch_size: int = field(default=64, metadata=at_least(1))
    lr: float = field(default=1e-3, metadata=POSITIVE)
    optimizer: str = field(default="adam", metadata={"choices": OPTIMIZERS})  # one lr for four losses of other scales
    neighbours: tuple[int, ...] = (10, 20, 50, 100, 200)  # K of TagProp and of the tag kNN
    pass1_neighbours: tuple[int, ...] = (1, 2, 3, 5, 10)  # K1 of 2PKNN: images per label in its first pass
    distance_scales: tuple[float, ...] = (1.0, 4.0, 16.0, 64.0)  # w of 2PKNN's exp(-w d), d in [0, 4]
    tag_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # tag kNN: share of tag similarity (1: tags only)
    max_label_count: int = field(default=4, metadata=at_least(1))  # LSEP's label-count classes 1 … n (Li et al.: 4)
    order_free_epochs: int = field(default=0, metadata=at_least(0))  # 0: the [rnn] fixed-order baselines' epochs

    def __post_init__(self) -> None:
        _check_candidates("neighbours", self.neighbours, 1)
        _check_candidates("pass1_neighbours", self.pass1_neighbours, 1)
        _check_candidates("distance_scales", self.distance_scales, 0.0)
        _check_candidates("tag_weights", self.tag_weights, 0.0, 1.0)


@dataclass(frozen=True, kw_only=True)
class ImageCacheSettings:
    """[cache]: decode each split's images once, resized to ``image_size``, into a uint8 memory-mapped file.

    Every image stage then reads the cache instead of the JPEGs (``annokit.data.image_cache``).
    """

    enabled: bool = False
    folder: str = ""  # where the cache files go; empty: ``<work>/cache``; a relative path is taken inside the work folder


AMP_SETTINGS = ("auto", "bf16", "fp16", "off")


@dataclass(frozen=True, kw_only=True)
class PrecisionSettings:
    """[precision]: autocast and kernel choices of the image stages on CUDA (``annokit.training.precision``); the CPU runs float32."""

    # auto: bfloat16 where the GPU has it, else float16 with a GradScaler; off: float32
    amp: str = field(default="auto", metadata={"choices": AMP_SETTINGS})
    channels_last: bool = True  # NHWC memory for 4-D inputs and the model
    cudnn_benchmark: bool = False  # let cuDNN time its (deterministic) algorithms once per input shape
    compile: bool = False  # torch.compile the model being trained


# Section name in the TOML -> its settings class. Sections with only defaulted fields may be left out.
SECTIONS: dict[str, type] = {
    "cnn": CNNSettings,
    "mscnn": MSCNNSettings,
    "tags_mlp": TagsMLPSettings,
    "classifier": ClassifierSettings,
    "lqp": LQPSettings,
    "annotation": AnnotationSettings,
    "rnn": RNNSettings,
    "partial": PartialSettings,
    "loader": LoaderSettings,
    "evaluation": EvaluationSettings,
    "baselines": BaselinesSettings,
    "demo": DemoSettings,
    "standin": StandinSettings,
    "cache": ImageCacheSettings,
    "precision": PrecisionSettings,
}
OPTIONAL_SECTIONS = ("annotation", "loader", "evaluation", "baselines", "demo", "standin", "cache", "precision")
