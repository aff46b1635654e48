"""The typed sections of a profile: one frozen dataclass per TOML table, each default beside its
field.

What a value may be is declared once, beside its field: a ``Literal`` type for a choice, field
metadata that pydantic reads for a range (``ge``, ``gt``, ``lt``, ``min_length``). pydantic checks
the TOML against these dataclasses (``annokit.profile.strict``), so a typo or a wrong type stops
the run before any stage starts. The paper values and their sources are in ``docs/deviations.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field

from annokit.profile.compile_modes import CompileSetting

# "csv": the folder + CSV layout of a user's own images (images/ + labels.csv, data/csv_layout.py);
# "cocojson": a COCO export without captions (images/ + instances_*.json, data/coco_json_layout.py).
Dataset = Literal["coco2014", "nuswide", "voc2007", "csv", "cocojson"]
# "official": the dataset's published split as it is (PASCAL VOC 2007: trainval / test; csv: its
# split column). "ratio": a data set without split, the manifest's test share drawn with the seed.
SplitRule = Literal["m3", "multi_order", "official", "ratio"]
# "rmsprop": torch.optim.RMSprop; "rmsprop_tf": TensorFlow 1's RMSProp (annokit.training.optimizers)
Optimizer = Literal["sgd", "rmsprop", "rmsprop_tf", "adam"]
Backbone = Literal["resnet18", "resnet34", "resnet50", "resnet101"]
LossReduction = Literal["sum", "mean"]
RNNVariant = Literal["paper-text", "released-code"]
Finetune = Literal["all", "last_block"]
Amp = Literal["auto", "bf16", "fp16", "off"]
DATASETS: tuple[str, ...] = get_args(Dataset)
SPLIT_RULES: tuple[str, ...] = get_args(SplitRule)
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
BACKBONES: tuple[str, ...] = get_args(Backbone)
LOSS_REDUCTIONS: tuple[str, ...] = get_args(LossReduction)
AMP_SETTINGS: tuple[str, ...] = get_args(Amp)

INT_LIMIT = 2**31  # every integer setting is below it: a 20-digit batch size is a typo, not a plan


def at_least(minimum: int) -> dict[str, Any]:
    """Field metadata of an integer setting: at least ``minimum`` and below ``INT_LIMIT``."""
    return {"ge": minimum, "lt": INT_LIMIT}


POSITIVE = {"gt": 0.0}  # a float setting greater than 0
NON_NEGATIVE = {"ge": 0.0}  # a float setting of at least 0
NON_EMPTY = {"min_length": 1}  # a list with one item or more

# Items of list settings.
Seed = Annotated[int, Field(ge=0, lt=INT_LIMIT)]
Count = Annotated[int, Field(ge=1, lt=INT_LIMIT)]
Scale = Annotated[float, Field(ge=0.0)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Proportion = Annotated[float, Field(gt=0.0, le=1.0)]


class Strict:
    """Base of a profile's dataclasses: pydantic reads them strictly, every key known, every float
    finite."""

    __pydantic_config__ = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True, kw_only=True)
class Training(Strict):
    """What every trained stage needs: epochs, global batch size and the optimiser's settings."""

    epochs: int = field(metadata=at_least(1))
    batch_size: int = field(metadata=at_least(1))
    lr: float = field(metadata=POSITIVE)
    momentum: float = field(default=0.9, metadata=NON_NEGATIVE)  # SGD's and RMSProp's momentum
    weight_decay: float = field(default=0.0, metadata=NON_NEGATIVE)
    optimizer: Optimizer = "sgd"
    # RMSProp's squared-gradient decay (TF: decay) and epsilon (both RMSProps); PyTorch's defaults
    rmsprop_alpha: float = field(default=0.99, metadata=NON_NEGATIVE)
    rmsprop_eps: float = field(default=1e-8, metadata=POSITIVE)
    # extra training runs for the spread over seeds; empty: the profile seed alone
    seeds: tuple[Seed, ...] = ()

    def with_epochs(self, epochs: int | None) -> Training:
        """These settings with another number of epochs (a notebook's ``epochs`` parameter); None
        keeps them."""
        return self if epochs is None else replace(self, epochs=int(epochs))


@dataclass(frozen=True, kw_only=True)
class Eq4Training(Training):
    """A stage trained with M3's Eq. 4: ``loss_reduction`` says how its C per-label terms are
    combined."""

    # "sum": summed over the labels, averaged over the batch; "mean": averaged over labels and
    # batch (TensorFlow's tf.losses.sigmoid_cross_entropy). Why each profile has its value:
    # docs/deviations.md.
    loss_reduction: LossReduction = "sum"


@dataclass(frozen=True, kw_only=True)
class CNNSettings(Eq4Training):
    """[cnn]: M3 Algorithm 1 step 1, the ResNet fine-tuned with Eq. 4."""

    backbone: Backbone
    pretrained: bool
    weights_path: str = ""  # a local torchvision state dict; empty: the torch hub cache
    bn_momentum: float = field(default=0.1, metadata=NON_NEGATIVE)  # PyTorch's = 1 - TF decay


@dataclass(frozen=True, kw_only=True)
class MSCNNSettings(Eq4Training):
    """[mscnn]: M3 Algorithm 1 steps 2-3, the fusion blocks and head over the frozen CNN."""

    # of the fusion blocks' BN: 1 - TF decay
    bn_momentum: float = field(default=0.1, metadata=NON_NEGATIVE)


@dataclass(frozen=True, kw_only=True)
class TagsMLPSettings(Eq4Training):
    """[tags_mlp]: M3 Algorithm 1 step 4, the MLP on noisy tags (hidden width, then f_t as wide as
    f_v)."""

    hidden: int = field(default=2048, metadata=at_least(1))


@dataclass(frozen=True, kw_only=True)
class ClassifierSettings(Eq4Training):
    """[classifier]: M3 Algorithm 1 step 5, fc + sigmoid on the fixed f_v or [f_v, f_t]."""


@dataclass(frozen=True, kw_only=True)
class LQPSettings(Training):
    """[lqp]: M3 Algorithm 1 step 5, the label quantity regressor (Eq. 5)."""


@dataclass(frozen=True, kw_only=True)
class AnnotationSettings(Strict):
    """[annotation]: the top-k rule of the rows without label quantity prediction."""

    top_k: int = field(default=3, metadata=at_least(1))


@dataclass(frozen=True, kw_only=True)
class RNNSettings(Training):
    """[rnn]: the Multi-order RNN and the fixed-order CNN-RNN decoders (Dutta et al. Sec. 4.3)."""

    optimizer: Optimizer = "rmsprop"
    # "paper-text": Sec. 3 as printed; "released-code": the authors' model/lstm/sem_multi_order.py
    # (docs/deviations.md). Its choices are field metadata too, for code that lists them.
    variant: RNNVariant = field(default="paper-text", metadata={"choices": get_args(RNNVariant)})
    hidden: int = field(default=512, metadata=at_least(1))  # LSTM cells
    embedding: int = field(default=256, metadata=at_least(1))  # label embedding E
    steps: int = field(default=5, metadata=at_least(1))  # T
    beam_size: int = field(default=1, metadata=at_least(1))  # CNN-RNN decoding
    max_length: int = field(default=6, metadata=at_least(1))  # CNN-RNN decoding
    # early stopping (notebook 05): a decoder stops once this many epochs pass without a lower
    # validation loss and keeps its lowest epoch; 0 trains every epoch, still keeping the lowest
    patience: int = field(default=0, metadata=at_least(0))


@dataclass(frozen=True, kw_only=True)
class PartialSettings(Training):
    """[partial]: the partial-label sweep (Durand et al. 2019): proportions of known labels, and
    what is fine-tuned.

    Every model starts from the pretrained weights of ``[cnn]`` (never from notebook 01's CNN,
    which saw every label): ``"all"`` fine-tunes the whole network on the images as the paper does;
    ``"last_block"`` the last residual block and the fc on cached maps of the frozen layers below
    it (the demo, on 2 CPU cores).
    """

    proportions: tuple[Proportion, ...] = field(metadata=NON_EMPTY)
    finetune: Finetune = "all"
    # dropout before the classifier (Monte-Carlo dropout of the Bayesian curriculum reads it)
    dropout: float = field(default=0.0, metadata={"ge": 0.0, "lt": 1.0})
    gnn_hidden: int = field(default=512, metadata=at_least(1))  # the label GNN's hidden state
    gnn_steps: int = field(default=3, metadata=at_least(1))  # its message-passing steps T


CNNRNNRecurrent = Literal["paper", "lstm"]
CNNRNNActivation = Literal["relu", "tanh"]
CNNRNNFinetune = Literal["all", "last_block", "last_conv", "none"]


@dataclass(frozen=True, kw_only=True)
class CNNRNNSettings(Training):
    """[cnn_rnn]: Wang et al. 2016's CNN-RNN (notebook 07), its defaults the paper's readings.

    Phase 1 trains the RNN on notebook 01's cached image features, the CNN unchanged (Sec. 3.4),
    for ``epochs`` with ``lr``; phase 2 fine-tunes end to end for ``finetune_epochs`` with
    ``finetune_lr``: ``"all"`` the whole CNN on the images, ``"last_block"`` its last residual block
    on cached maps, ``"last_conv"`` only that block's last convolution and BN (the demo), ``"none"``
    no phase 2. Each phase keeps its best validation epoch.
    """

    epochs: int = field(default=20, metadata=at_least(1))
    batch_size: int = field(default=64, metadata=at_least(1))
    lr: float = field(default=1e-3, metadata=POSITIVE)
    optimizer: Optimizer = "rmsprop"  # Sec. 3.4: "we apply the rmsprop optimization algorithm"
    momentum: float = field(default=0.0, metadata=NON_NEGATIVE)  # plain RMSProp
    embed_dim: int = field(default=64, metadata=at_least(1))  # U_l's rows and x_t
    hidden_dim: int = field(default=512, metadata=at_least(1))  # the recurrent layer
    recurrent: CNNRNNRecurrent = "paper"  # Eq. 1 with ReLU, no biases; "lstm": a standard LSTM
    activation: CNNRNNActivation = "relu"  # h of Eq. 4
    dropout: float = field(default=0.0, metadata={"ge": 0.0, "lt": 1.0})  # inputs of Eq. 4
    beam_size: int = field(default=3, metadata=at_least(1))  # N of Sec. 3.3 (1: greedy)
    # labels on a path at most; 0: the most labels of a training image
    max_labels: int = field(default=0, metadata=at_least(0))
    finetune: CNNRNNFinetune = "all"
    finetune_epochs: int = field(default=5, metadata=at_least(1))
    finetune_lr: float = field(default=1e-5, metadata=POSITIVE)


@dataclass(frozen=True, kw_only=True)
class LoaderSettings(Strict):
    """[loader]: how image batches reach the model, for training and feature extraction alike.

    Settings of the machine, not of the experiment: a run may resume with other values.
    """

    # decoding processes; -1: automatic (``worker_count``)
    workers: int = field(default=-1, metadata=at_least(-1))
    prefetch: int = field(default=2, metadata=at_least(1))  # batches each worker prepares ahead
    # page-locked host memory, for faster copies to a GPU (ignored on the CPU)
    pin_memory: bool = True

    def worker_count(self, device_type: str, cpus: int | None = None) -> int:
        """The workers to start: the setting, or automatically 0 on the CPU (decoding would
        compete with training for the same cores) and one per spare core, at most 16, on a GPU."""
        if self.workers >= 0:
            return self.workers
        if device_type != "cuda":
            return 0
        return max(0, min(16, (cpus or os.cpu_count() or 1) - 1))


@dataclass(frozen=True, kw_only=True)
class EvaluationSettings(Strict):
    """[evaluation]: the validation split that every choice is made on, and how often training
    curves are scored.

    The validation images are carved from the training split with a fixed seed and never trained
    on; the test split is scored once, by the final predictions of each stage.
    """

    # share of the training split held out
    validation_fraction: float = field(default=0.1, metadata={"ge": 0.0, "lt": 1.0})
    # the carve-out's own seed: the same images for every stage
    validation_seed: int = field(default=0, metadata=at_least(0))
    # epochs between validation scores of a training curve; 0: never
    every: int = field(default=1, metadata=at_least(0))
    # at most this many validation images per curve point
    limit: int = field(default=5000, metadata=at_least(1))


@dataclass(frozen=True, kw_only=True)
class StandinSettings(Training):
    """[standin]: the demo's stand-in for ImageNet pretraining (``annokit.demo.standin``), built
    once per work folder.

    A ResNet of the profile's ``[cnn] backbone`` trained on ``images`` generated pretraining
    images of a single-label task that is not the annotation task, saved as ``[cnn] weights_path``.
    """

    # pretraining images, 500 per class on the default
    images: int = field(default=6000, metadata=at_least(12))
    image_size: int = field(default=64, metadata=at_least(16))
    seed: int = field(default=0, metadata=at_least(0))


@dataclass(frozen=True, kw_only=True)
class DemoSettings(Strict):
    """[demo]: size and seed of the generated demo dataset (profiles without it use real data)."""

    n_train: int = field(default=2000, metadata=at_least(1))
    n_test: int = field(default=1000, metadata=at_least(1))
    image_size: int = field(default=64, metadata=at_least(16))
    seed: int = field(default=0, metadata=at_least(0))


@dataclass(frozen=True, kw_only=True)
class BaselinesSettings(Training):
    """[baselines]: notebook 08's reproduced baselines, on the fine-tuned CNN's cached features and
    scores.

    The Training fields train the linear heads on f_v (CNN+logistic, CNN+softmax, CNN+WARP, LSEP)
    and LSEP's label-count estimator; an empty ``seeds`` takes the [classifier] seeds. Each trained
    model keeps its best epoch on the validation split ([evaluation]); the neighbour methods pick
    their counts, scale and tag weight there, from the lists below. The Order-free RNN takes the
    [rnn] decoder sizes and optimiser.
    """

    epochs: int = field(default=30, metadata=at_least(1))
    batch_size: int = field(default=64, metadata=at_least(1))
    lr: float = field(default=1e-3, metadata=POSITIVE)
    optimizer: Optimizer = "adam"  # one lr for four losses of other scales
    # K of TagProp and of the tag kNN
    neighbours: tuple[Count, ...] = field(default=(10, 20, 50, 100, 200), metadata=NON_EMPTY)
    # K1 of 2PKNN: images per label in its first pass
    pass1_neighbours: tuple[Count, ...] = field(default=(1, 2, 3, 5, 10), metadata=NON_EMPTY)
    # w of 2PKNN's exp(-w d), d in [0, 4]
    distance_scales: tuple[Scale, ...] = field(default=(1.0, 4.0, 16.0, 64.0), metadata=NON_EMPTY)
    # tag kNN: share of tag similarity (1: tags only)
    tag_weights: tuple[Share, ...] = field(default=(0.0, 0.25, 0.5, 0.75, 1.0), metadata=NON_EMPTY)
    # LSEP's label-count classes 1 … n (Li et al.: 4)
    max_label_count: int = field(default=4, metadata=at_least(1))
    # 0: the [rnn] fixed-order baselines' epochs
    order_free_epochs: int = field(default=0, metadata=at_least(0))
    # the Order-free RNN's test-time beam search (Chen et al. 2018; 1: greedy); docs/deviations.md
    order_free_beam_size: int = field(default=3, metadata=at_least(1))


@dataclass(frozen=True, kw_only=True)
class ImageCacheSettings(Strict):
    """[cache]: decode each split's images once, resized to ``image_size``, into a uint8
    memory-mapped file.

    Every image stage then reads the cache instead of the JPEGs (``annokit.data.image_cache``).
    """

    enabled: bool = False
    # where the cache files go; empty: ``<work>/cache``; a relative path is taken inside the work
    # folder
    folder: str = ""


@dataclass(frozen=True, kw_only=True)
class PrecisionSettings(Strict):
    """[precision]: autocast and kernels of the image stages on CUDA, torch.compile of them and of
    notebook 05's decoders (``annokit.training.precision``); the CPU runs float32."""

    # auto: bfloat16 where the GPU has it, else float16 with a GradScaler; off: float32
    amp: Amp = "auto"
    channels_last: bool = True  # NHWC memory for 4-D inputs and the model
    # deterministic kernels only (an op without one raises, naming itself): two runs on one card
    # give the same weights bit for bit; false lets cuDNN and the other libraries pick faster ones
    deterministic: bool = True
    # let cuDNN time its algorithms once per input shape; only with deterministic = false
    cudnn_benchmark: bool = False
    # torch.compile the model being trained: "off", "default", "reduce-overhead" (CUDA graphs, CUDA
    # only) or "max-autotune"; false and true still mean "off" and "default"
    compile: CompileSetting = "off"
