"""Multi-order RNN (Dutta et al. 2020, Sec. 3.2-3.3) and the Table 1 comparison with fixed-order CNN-RNNs.

The LSTM decoder of ``annokit.models.rnn_decoder`` starts from the CNN scores ŝ and runs T = 5
steps, each fed the label it was most confident about at the previous step. Training asks
it, at every step, for all true labels except that one::

    l_t = argmax_c ŷ_t^c                                   (Eq. 4; the model's own prediction)
    ã_t = ¬ onehot(l_{t-1}),  ã_1 = 1                       (Eq. 5)
    y_t = ã_t ⊙ y                                           (Eq. 6)
    L = Σ_t Σ_c BCE(σ(ŷ_t^c), y_t^c)                        (Eq. 7, summed over steps and labels)

so the label picked at t-1 is a negative at t and may come back as a positive at t+1 (Fig. 2's
sky → cloud → sky). The loss is averaged over the images of a batch. At test time the logits
are max-pooled label-wise over the T steps, passed through σ and thresholded at 0.5.

The stage functions below train the Multi-order RNN and the three fixed-order baselines on the
cached CNN scores with ``annokit.train.fit`` and write their prediction files; notebook 05 calls them.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from annokit.annotate import threshold
from annokit.data.label_orders import ORDERS, label_sequences
from annokit.evaluation import score_against
from annokit.metrics import top1_accuracy
from annokit.models.rnn_decoder import LabelDecoder, decode, sequence_loss, teacher_forcing
from annokit.predictions import Predictions
from annokit.train import SMALL_MODEL_THREADS, FitConfig, History, fit

# Prediction file names and the rows of Table 1, in the paper's order. The CNN row thresholds ŝ at
# 0.5; "cnn" is notebook 01's file with M3's top-3 rule, so this one is "cnn_threshold".
CNN = "cnn_threshold"
MORDER = "morder_rnn"
FIXED_ORDER = {order: f"cnn_rnn_{order}" for order in ORDERS}
TABLE1_ROWS = {
    CNN: "CNN (BCE)",
    FIXED_ORDER["frequent_first"]: "CNN-RNN (frequent-first)",
    FIXED_ORDER["rare_first"]: "CNN-RNN (rare-first)",
    FIXED_ORDER["lexicographic"]: "CNN-RNN (lexicographic)",
    MORDER: "Multi-order RNN",
}
TABLE1_COLUMNS = ("C-P", "C-R", "C-F1", "S-P", "S-R", "S-F1", "mAP")
THRESHOLD = 0.5


# The model.


class MultiOrderRNN(nn.Module):
    """LSTM decoder fed back its own most confident label for ``steps`` steps (Sec. 3.2)."""

    def __init__(self, num_labels: int, hidden: int = 512, embedding: int = 256, steps: int = 5) -> None:
        super().__init__()
        self.steps = steps
        self.decoder = LabelDecoder(num_labels, hidden, embedding, end_token=False)

    def forward(self, s_hat: Tensor) -> tuple[Tensor, Tensor]:
        """CNN scores ŝ (N, C) -> step logits ŷ_t (N, T, C) and picked labels l_t (N, T)."""
        state = self.decoder.initial_state(s_hat)
        previous = self.decoder.start_tokens(s_hat.shape[0], s_hat.device)
        logits, picks = [], []
        for _ in range(self.steps):
            step_logits, state = self.decoder.step(previous, state)
            previous = step_logits.detach().argmax(dim=1)  # Eq. 4: first index wins a tie
            logits.append(step_logits)
            picks.append(previous)
        return torch.stack(logits, dim=1), torch.stack(picks, dim=1)


def masked_targets(y: Tensor, picks: Tensor) -> Tensor:
    """y_t = ¬onehot(l_{t-1}) ⊙ y (Eq. 5-6): (N, C) labels, (N, T) picks -> (N, T, C); y_1 = y."""
    y = y.float()
    masks = torch.ones(picks.shape[0], picks.shape[1], y.shape[1], device=y.device)
    masks[:, 1:] -= F.one_hot(picks[:, :-1], y.shape[1]).float()
    return masks * y[:, None]


def multi_order_loss(step_logits: Tensor, y: Tensor, picks: Tensor) -> Tensor:
    """Eq. 7: sigmoid cross-entropy against the masked targets, summed over steps and labels, mean over images."""
    bce = F.binary_cross_entropy_with_logits(step_logits, masked_targets(y, picks), reduction="none")
    return bce.sum(dim=(1, 2)).mean()


@dataclass
class MultiOrderOutput:
    """Test-time output: σ(max_t ŷ_t) (N, C), σ(ŷ_t) per step (N, T, C), picked labels (N, T)."""

    scores: np.ndarray
    step_scores: np.ndarray
    sequences: np.ndarray

    @property
    def annotation(self) -> np.ndarray:
        return threshold(self.scores, THRESHOLD)


@torch.no_grad()
def predict_multi_order(model: MultiOrderRNN, s_hat: np.ndarray | Tensor, device: str | torch.device = "cpu",
                        batch_size: int = 1024) -> MultiOrderOutput:
    """Run T steps feeding back the argmax; max-pool the logits label-wise over steps, then σ (Sec. 3.2)."""
    model.eval().to(device)
    parts = []
    for chunk in torch.as_tensor(np.asarray(s_hat), dtype=torch.float32).split(batch_size):
        logits, picks = model(chunk.to(device))
        parts.append((torch.sigmoid(logits.max(dim=1).values), torch.sigmoid(logits), picks))
    scores, step_scores, picks = (torch.cat(p).cpu().numpy() for p in zip(*parts))
    return MultiOrderOutput(scores, step_scores, picks)


# Settings and training stages.


@dataclass(frozen=True)
class RNNSettings:
    """The profile's [rnn] section (paper values: 512 cells, 256-d E, T = 5, RMSProp 1e-4, batch 32)."""

    hidden: int = 512
    embedding: int = 256
    steps: int = 5
    optimizer: str = "rmsprop"
    lr: float = 1e-4
    momentum: float = 0.9
    batch_size: int = 32
    epochs: int = 50
    beam_size: int = 1
    max_length: int = 6
    seed: int = 0
    baseline_epochs: int = 0  # fixed-order CNN-RNN epochs; 0: the same as ``epochs`` (never more)

    @classmethod
    def from_profile(cls, profile: Any, epochs: int | None = None, seed: int | None = None) -> "RNNSettings":
        """Read ``profile.stages["rnn"]``; ``epochs``/``seed`` override when not None."""
        known = {k: v for k, v in profile.stages["rnn"].items() if k in cls.__dataclass_fields__}
        settings = cls(**{**known, "seed": profile.seed})
        overrides = {k: v for k, v in {"epochs": epochs, "seed": seed}.items() if v is not None}
        return cls(**{**asdict(settings), **overrides})

    @property
    def fixed_order_epochs(self) -> int:
        """Epochs of the fixed-order baselines: ``baseline_epochs`` when set, capped at ``epochs``."""
        return min(self.baseline_epochs or self.epochs, self.epochs)

    def fit_config(self, epochs: int | None = None) -> FitConfig:
        return FitConfig(epochs=epochs or self.epochs, batch_size=self.batch_size, lr=self.lr, momentum=self.momentum,
                         optimizer=self.optimizer, seed=self.seed)


def _digest(*arrays: np.ndarray) -> str:
    """Short fingerprint of the training inputs, so a finished run is not reused on other scores."""
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()[:16]


def _floats(a: np.ndarray) -> Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def _eval_subset(n: int, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` images for the per-epoch monitoring loss (fixed across epochs)."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:limit]) if n > limit else np.arange(n)


def train_multi_order(s_train: np.ndarray, y_train: np.ndarray, settings: RNNSettings, run_dir: Path, *,
                      device: str | torch.device = "cpu", s_eval: np.ndarray | None = None,
                      y_eval: np.ndarray | None = None, eval_limit: int = 2000) -> tuple[MultiOrderRNN, History]:
    """Train the Multi-order RNN on cached CNN scores in ``<run>/rnn/morder`` (resumes; reuses final.pt).

    With ``s_eval``/``y_eval`` the Eq. 7 loss on (at most ``eval_limit`` of) those images is
    recorded each epoch as ``eval_loss``, for the training curve only.
    """
    num_labels = y_train.shape[1]
    torch.manual_seed(settings.seed)
    model = MultiOrderRNN(num_labels, settings.hidden, settings.embedding, settings.steps)
    data = TensorDataset(_floats(s_train), _floats(y_train))

    def loss_fn(m: nn.Module, batch) -> Tensor:
        s_hat, y = batch
        logits, picks = m(s_hat)
        return multi_order_loss(logits, y, picks)

    eval_fn = None
    if s_eval is not None and y_eval is not None:
        keep = _eval_subset(len(s_eval), eval_limit, settings.seed)
        eval_s, eval_y = _floats(s_eval[keep]).to(device), _floats(y_eval[keep]).to(device)
        eval_fn = lambda m: {"eval_loss": loss_fn(m, (eval_s, eval_y))}  # noqa: E731
    stage = {"model": MORDER, **asdict(settings), "num_labels": num_labels, "inputs": _digest(s_train, y_train)}
    history = fit(model, data, loss_fn, settings.fit_config(), Path(run_dir) / "rnn" / "morder",
                  stage_config=stage, device=device, eval_fn=eval_fn, threads=SMALL_MODEL_THREADS)
    return model, history


def train_fixed_order(order: str, s_train: np.ndarray, y_train: np.ndarray, label_names: Sequence[str],
                      settings: RNNSettings, run_dir: Path, *, device: str | torch.device = "cpu",
                      s_eval: np.ndarray | None = None, y_eval: np.ndarray | None = None,
                      eval_limit: int = 2000) -> tuple[LabelDecoder, History]:
    """Train a CNN-RNN baseline on label sequences in ``order`` (teacher forcing) in ``<run>/rnn/cnn_rnn_<order>``.

    Frequencies for the frequent/rare-first orders come from ``y_train``.
    """
    num_labels = y_train.shape[1]
    torch.manual_seed(settings.seed)
    decoder = LabelDecoder(num_labels, settings.hidden, settings.embedding, end_token=True)

    def tensors(labels: np.ndarray) -> tuple[Tensor, Tensor]:
        inputs, targets = teacher_forcing(label_sequences(order, y_train, labels, label_names), num_labels)
        return torch.as_tensor(inputs), torch.as_tensor(targets)

    data = TensorDataset(_floats(s_train), *tensors(y_train))

    def loss_fn(m: nn.Module, batch) -> Tensor:
        s_hat, inputs, targets = batch
        return sequence_loss(m(s_hat, inputs), targets)

    eval_fn = None
    if s_eval is not None and y_eval is not None:
        keep = _eval_subset(len(s_eval), eval_limit, settings.seed)
        eval_batch = tuple(t.to(device) for t in (_floats(s_eval[keep]), *tensors(np.asarray(y_eval)[keep])))
        eval_fn = lambda m: {"eval_loss": loss_fn(m, eval_batch)}  # noqa: E731
    stage = {"model": FIXED_ORDER[order], "order": order, **asdict(settings), "num_labels": num_labels,
             "label_names": list(label_names), "inputs": _digest(s_train, y_train)}
    history = fit(decoder, data, loss_fn, settings.fit_config(settings.fixed_order_epochs), Path(run_dir) / "rnn" / FIXED_ORDER[order],
                  stage_config=stage, device=device, eval_fn=eval_fn, threads=SMALL_MODEL_THREADS)
    return decoder, history


# Prediction files.


def cnn_predictions(s_test: np.ndarray, rows: np.ndarray, meta: dict | None = None) -> Predictions:
    """Table 1's "CNN (BCE)" row: the fine-tuned CNN's scores ŝ thresholded at 0.5."""
    return Predictions(CNN, rows, np.asarray(s_test, dtype=np.float32), threshold(s_test, THRESHOLD),
                       rule="threshold 0.5 on the CNN sigmoid scores", meta=meta or {})


def multi_order_predictions(model: MultiOrderRNN, s_test: np.ndarray, rows: np.ndarray, *,
                            device: str | torch.device = "cpu", meta: dict | None = None) -> Predictions:
    """Prediction file of the Multi-order RNN: pooled scores, annotation, per-step scores, picked labels."""
    out = predict_multi_order(model, s_test, device)
    return Predictions(MORDER, rows, out.scores, out.annotation,
                       rule=f"max-pool over {model.steps} steps, sigmoid, threshold 0.5",
                       step_scores=out.step_scores, sequences=out.sequences, meta=meta or {})


def fixed_order_predictions(order: str, decoder: LabelDecoder, s_test: np.ndarray, rows: np.ndarray,
                            settings: RNNSettings, *, device: str | torch.device = "cpu",
                            meta: dict | None = None) -> Predictions:
    """Prediction file of a CNN-RNN baseline: the decoded label set; scores = max over steps of the softmax."""
    decoder.to(device)
    decoded = decode(decoder, _floats(s_test).to(device), settings.max_length, settings.beam_size)
    search = "greedy decoding" if settings.beam_size == 1 else f"beam search (beam {settings.beam_size})"
    rule = (f"{search} until END or {settings.max_length} labels, no label twice; "
            "scores: per-label max over steps of the softmax probabilities")
    return Predictions(FIXED_ORDER[order], rows, decoded.scores, decoded.annotation, rule=rule,
                       step_scores=decoded.step_scores, sequences=decoded.sequences,
                       meta={"order": order, **(meta or {})})


# Tables and figures.


def first_labels(predictions: Predictions) -> np.ndarray:
    """First predicted label per image: step-1 argmax (Multi-order) or first decoded label (CNN-RNN)."""
    if predictions.sequences is None:
        raise ValueError(f"{predictions.model} has no label sequences, so no first label")
    return np.asarray(predictions.sequences)[:, 0].astype(np.int64)


def table1(predictions: Sequence[Predictions], y_true: np.ndarray) -> pd.DataFrame:
    """Per-label (C-*) and per-image (S-*) precision, recall, F1 and mAP, in percent (Table 1)."""
    rows = {TABLE1_ROWS.get(p.model, p.model): score_against(y_true, p) for p in predictions}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE1_COLUMNS))
    frame.index.name = "method"
    return frame


def table4(predictions: Sequence[Predictions], y_true: np.ndarray) -> pd.DataFrame:
    """Top-1 accuracy in percent: share of images whose first predicted label is true (Table 4)."""
    frame = pd.DataFrame({"top-1": [100 * top1_accuracy(y_true, first_labels(p)) for p in predictions]},
                         index=pd.Index([TABLE1_ROWS.get(p.model, p.model) for p in predictions], name="method"))
    return frame


def example_images(predictions: Predictions, y_true: np.ndarray, count: int = 3) -> np.ndarray:
    """Test images (positions) worth showing in Fig. 3: several true labels and several distinct picks."""
    truth = np.asarray(y_true, dtype=bool)
    distinct = np.array([len(set(seq[seq >= 0].tolist())) for seq in np.asarray(predictions.sequences)])
    ranked = np.lexsort((np.arange(len(truth)), -np.minimum(distinct, 3), -np.minimum(truth.sum(axis=1), 3)))
    return ranked[:count]


def plot_step_scores(predictions: Predictions, y_true: np.ndarray, label_names: Sequence[str],
                     images: Sequence[int], top: int = 5):
    """Fig. 3: the ``top`` labels with their probabilities at every step, one row of panels per test image.

    Bars of true labels are green, others grey; the label fed to the next step is outlined; the
    dashed line is the 0.5 threshold.
    """
    import matplotlib.pyplot as plt

    steps = np.asarray(predictions.step_scores)
    truth = np.asarray(y_true, dtype=bool)
    t_count = steps.shape[1]
    fig = plt.figure(figsize=(2.7 * t_count, 2.3 * len(images)), layout="constrained")
    for sub, i in zip(np.atleast_1d(fig.subfigures(len(images), 1)), images):
        true_names = ", ".join(label_names[j] for j in np.flatnonzero(truth[i])) or "none"
        pooled = ", ".join(label_names[j] for j in np.flatnonzero(predictions.annotation[i])) or "none"
        sub.suptitle(f"test image {i}    truth: {true_names}    assigned (max-pooled > 0.5): {pooled}",
                     fontsize=9, x=0.01, ha="left")
        for t, ax in enumerate(np.atleast_1d(sub.subplots(1, t_count))):
            best = np.argsort(-steps[i, t], kind="stable")[:top][::-1]
            bars = ax.barh(range(len(best)), steps[i, t, best],
                           color=["tab:green" if truth[i, j] else "0.65" for j in best])
            if predictions.sequences is not None and predictions.sequences[i, t] in best:
                picked = bars[list(best).index(predictions.sequences[i, t])]
                picked.set_edgecolor("black")
                picked.set_linewidth(1.5)
            ax.set_yticks(range(len(best)), [label_names[j] for j in best], fontsize=8)
            ax.axvline(THRESHOLD, color="k", linestyle="--", linewidth=0.8)
            ax.set_xlim(0, 1)
            ax.set_title(f"t = {t + 1}", fontsize=9)
            ax.set_xlabel("probability", fontsize=8)
            ax.tick_params(axis="x", labelsize=7)
    return fig


def multi_order_extra_seed(seed: int, settings: RNNSettings, s_train: np.ndarray, y_train: np.ndarray,
                           s_test: np.ndarray, test_rows: np.ndarray, run_dir: Path, *,
                           device: str | torch.device = "cpu", meta: dict | None = None) -> Predictions:
    """The Multi-order RNN trained again with another seed, for the spread over seeds in the tables.

    Runs go to ``<run>/seeds/seed<k>/rnn/morder``; the prediction file is ``morder_rnn@seed<k>``.
    """
    seeded = replace(settings, seed=seed)
    model, _ = train_multi_order(s_train, y_train, seeded, Path(run_dir) / "seeds" / f"seed{seed}", device=device)
    predictions = multi_order_predictions(model, s_test, test_rows, device=device, meta={**(meta or {}), "seed": seed})
    return replace(predictions, model=f"{predictions.model}@seed{seed}")
