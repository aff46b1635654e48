"""M3's models on vectors, not pixels: the tags MLP and the step-5 heads (Algorithm 1 steps 4–5).

The classifier and the label-quantity regressor train on the cached f_v and [f_v, f_t], with the
visual and textual models fixed. ``step5_predictions`` trains both heads on f_v and on [f_v, f_t]
with one seed and gives every Table I/II row they make; ``train_step5`` does so for each seed the
profile lists and saves them. A dataset without tags (a labels.csv without tags column, a COCO
export without "tags") trains the heads on f_v alone: the rows that need tags are not run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from annokit.artifacts.features import CachedArrays
from annokit.artifacts.predictions import Predictions, save_predictions
from annokit.artifacts.run import Run
from annokit.artifacts.stamps import FINGERPRINT, check_matches_index
from annokit.data.annotation_table import TEST, TRAIN
from annokit.data.index import PreparedIndex
from annokit.evaluation import decision, metrics
from annokit.methods.m3_files import seed_suffix, stage_record, tag_split
from annokit.methods.side_by_side import run_side_by_side
from annokit.models import JointClassifier, LabelQuantityRegressor, TagsMLP
from annokit.models.losses import label_quantity_loss, sigmoid_cross_entropy
from annokit.training.config import fit_config
from annokit.training.fit import SMALL_MODEL_THREADS, FitOptions, History, fit, seed_everything
from annokit.training.parallel import cpu_workers
from annokit.training.validation import fit_subset, monitor_every, validation_monitor

# The models that read the noisy tags: not run on a dataset without tags, and the tables say why.
TAG_MODELS = ("tags_mlp", "mscnn_tags", "mscnn_tags_lqp")
NO_TAGS = "not run: the dataset has no tags"


def has_tags(index: PreparedIndex) -> bool:
    """Whether the dataset has noisy tags for M3's textual branch (a tag vocabulary at all)."""
    return len(index.tag_names) > 0


def textual_features(run: Run) -> CachedArrays | None:
    """The cached f_t of notebook 03, or None on a dataset without tags (notebook 03 ran no MLP)."""
    return run.cached("tags_features") if has_tags(run.index) else None


def vector_loss(reduction: str) -> Callable[[nn.Module, tuple], Tensor]:
    """Eq. 4 on (input vector, labels) batches: tags MLP and classifiers on cached features."""

    def loss(model: nn.Module, batch) -> Tensor:
        inputs, labels = batch
        return sigmoid_cross_entropy(model(inputs), labels, reduction)

    return loss


def quantity_loss(model: nn.Module, batch) -> Tensor:
    """Eq. 5 on (feature, label count) batches."""
    inputs, counts = batch
    return label_quantity_loss(model(inputs), counts)


def train_tags_mlp(
    run: Run, feature_dim: int, *, epochs: int | None = None
) -> tuple[TagsMLP, History]:
    """Algorithm 1 step 4: the MLP on noisy tags, f_t of the same size as f_v (Sec. III-B)."""
    profile, index = run.profile, run.index
    if not has_tags(index):
        raise ValueError(f"tags MLP {NO_TAGS}: give each image its tags to train it (docs/data.md)")
    seed_everything(profile.seed)
    model = TagsMLP(
        len(index.tag_names),
        len(index.label_names),
        hidden=profile.tags_mlp.hidden,
        feature_dim=feature_dim,
    )
    train = tag_split(index, TRAIN)
    options = FitOptions(
        stage=stage_record(run, "tags_mlp", feature_dim=feature_dim),
        device=run.device,
        record=profile.to_dict(),
        eval_fn=validation_monitor(run, train),
        eval_every=monitor_every(run),
        threads=SMALL_MODEL_THREADS,
    )
    loss = vector_loss(profile.tags_mlp.loss_reduction)
    config = fit_config(profile.tags_mlp, profile.seed, epochs)
    history = fit(model, fit_subset(run, train), loss, config, run.run_dir / "tags_mlp", options)
    return model, history


def joint_features(visual: CachedArrays, textual: CachedArrays | None, split: str) -> np.ndarray:
    """f = [f_v, f_t] (Sec. III-B), or f_v alone for the rows without tags."""
    f_v = getattr(visual, split)
    return f_v if textual is None else np.concatenate([f_v, getattr(textual, split)], axis=1)


def head_options(run: Run, stage: str, name: str, dim: int) -> FitOptions:
    """How a head on cached features trains: one thread, no progress bars, no curve."""
    return FitOptions(
        stage=stage_record(run, stage, features=name, dim=dim),
        device=run.device,
        threads=SMALL_MODEL_THREADS,
        progress=False,
        record=run.profile.to_dict(),
    )


@torch.no_grad()
def head_outputs(
    model: nn.Module, features: np.ndarray, device: torch.device, sigmoid: bool = False
) -> np.ndarray:
    """The trained head's outputs on ``features``, through a sigmoid when asked (on ``device``)."""
    model.eval().to(device)
    outputs = model(torch.from_numpy(features).to(device))
    return (torch.sigmoid(outputs) if sigmoid else outputs).cpu().numpy()


def train_classifier(
    run: Run,
    name: str,
    train_features: np.ndarray,
    test_features: np.ndarray,
    *,
    epochs: int | None = None,
    seed: int | None = None,
) -> tuple[JointClassifier, History, np.ndarray]:
    """Algorithm 1 step 5: the fc + sigmoid classifier on fixed features, in ``<run>/<name>``;
    returns the test scores too."""
    profile = run.profile
    seed = profile.seed if seed is None else seed
    seed_everything(seed)
    model = JointClassifier(train_features.shape[1], len(run.index.label_names))
    labels = torch.from_numpy(run.index.label_matrix(TRAIN).astype(np.float32))
    train = fit_subset(run, TensorDataset(torch.from_numpy(train_features), labels))
    loss = vector_loss(profile.classifier.loss_reduction)
    config = fit_config(profile.classifier, seed, epochs)
    options = head_options(run, "classifier", name, train_features.shape[1])
    history = fit(model, train, loss, config, run.run_dir / name, options)
    return model, history, head_outputs(model, test_features, run.device, sigmoid=True)


def train_quantity_regressor(
    run: Run,
    name: str,
    train_features: np.ndarray,
    test_features: np.ndarray,
    *,
    epochs: int | None = None,
    seed: int | None = None,
) -> tuple[LabelQuantityRegressor, History, np.ndarray]:
    """Algorithm 1 step 5: the LQP regressor (512-256-1, dropout 0.5, Eq. 5) in ``<run>/<name>``;
    returns the test predictions too."""
    profile = run.profile
    seed = profile.seed if seed is None else seed
    seed_everything(seed)
    model = LabelQuantityRegressor(train_features.shape[1])
    counts = torch.from_numpy(run.index.label_matrix(TRAIN).sum(axis=1).astype(np.float32))
    train = fit_subset(run, TensorDataset(torch.from_numpy(train_features), counts))
    config = fit_config(profile.lqp, seed, epochs)
    options = head_options(run, "lqp", name, train_features.shape[1])
    history = fit(model, train, quantity_loss, config, run.run_dir / name, options)
    return model, history, head_outputs(model, test_features, run.device)


def check_same_images(run: Run, visual: CachedArrays, textual: CachedArrays | None) -> None:
    """f_v and f_t made on this run's index, for the same images in the same order (f_v alone on
    a dataset without tags)."""
    for cached in (visual, textual) if textual is not None else (visual,):
        check_matches_index(cached, run.index)
    if textual is None:
        return
    fix = "rerun notebooks 02 and 03 on the same index"
    if visual.meta.get(FINGERPRINT) != textual.meta.get(FINGERPRINT):
        raise ValueError(
            f"mscnn_features and tags_features were made on different prepared indices: {fix}"
        )
    same_test = np.array_equal(visual.test_rows, textual.test_rows)
    if not (same_test and np.array_equal(visual.train_rows, textual.train_rows)):
        raise ValueError(f"mscnn_features and tags_features cover different images: {fix}")


def step5_predictions(
    run: Run,
    visual: CachedArrays,
    textual: CachedArrays | None,
    *,
    epochs: int | None = None,
    seed: int | None = None,
) -> list[Predictions]:
    """Train classifier and LQP on f_v and on [f_v, f_t] with one seed: the Table I/II rows.

    MS-CNN+LQP (f_v), MS-CNN+Tags (top-k), MS-CNN+Tags+LQP (the full M3) and the upper bound.
    An extra seed's runs and files carry the suffix ``@seed<k>``. Without tags (``textual`` None)
    the heads train on f_v alone: MS-CNN+LQP and the upper bound of its scores.
    """
    seed = run.profile.seed if seed is None else seed
    suffix = seed_suffix(run.profile, seed)
    check_same_images(run, visual, textual)
    scores, counts = {}, {}
    inputs = {"visual": None} if textual is None else {"visual": None, "joint": textual}
    for name, tags in inputs.items():
        train, test = joint_features(visual, tags, TRAIN), joint_features(visual, tags, TEST)
        heads = (f"classifier_{name}{suffix}", f"lqp_{name}{suffix}")
        _, _, scores[name] = train_classifier(run, heads[0], train, test, epochs=epochs, seed=seed)
        _, _, counts[name] = train_quantity_regressor(
            run, heads[1], train, test, epochs=epochs, seed=seed
        )
    rows, k = visual.test_rows, run.profile.annotation.top_k
    meta = {"profile": run.profile.name, "seed": seed}
    truth = run.index.label_matrix()[rows]
    visual_scores, joint = scores["visual"], scores.get("joint")
    lqp_on_fv = Predictions(
        f"mscnn_lqp{suffix}",
        rows,
        visual_scores,
        decision.top_m_hat(visual_scores, counts["visual"]),
        "top-m̂ (LQP on f_v)",
        counts=counts["visual"],
        meta=meta,
    )
    best = visual_scores if joint is None else joint  # the full model's scores
    upper_bound = Predictions(
        f"upper_bound{suffix}",
        rows,
        best,
        decision.upper_bound(best, truth),
        "top-m, m the true count" + (" (on f_v: no tags)" if joint is None else ""),
        meta=meta,
    )
    if joint is None:
        return [lqp_on_fv, upper_bound]
    return [
        lqp_on_fv,
        Predictions(
            f"mscnn_tags{suffix}", rows, joint, decision.top_k(joint, k), f"top-{k}", meta=meta
        ),
        Predictions(
            f"mscnn_tags_lqp{suffix}",
            rows,
            joint,
            decision.top_m_hat(joint, counts["joint"]),
            "top-m̂ (LQP on [f_v, f_t])",
            counts=counts["joint"],
            meta=meta,
        ),
        upper_bound,
    ]


def seed_step5(
    run: Run, visual: CachedArrays, textual: CachedArrays | None, epochs: int | None, seed: int
) -> list[Predictions]:
    """``step5_predictions`` of one seed with its prediction files saved: one job of
    ``train_step5``."""
    predictions = step5_predictions(run, visual, textual, epochs=epochs, seed=seed)
    for one in predictions:
        save_predictions(one, run.run_dir)
    return predictions


def train_step5(
    run: Run, visual: CachedArrays, textual: CachedArrays | None, *, epochs: int | None = None
) -> dict[int, list[Predictions]]:
    """``step5_predictions`` for each seed the profile lists in ``[classifier]``, each seed's
    prediction files saved; by seed (``textual`` None: a dataset without tags, f_v alone).

    The seeds are independent jobs: one process per CPU core (each head trains on one thread and
    seeds itself, so its files are those of a run in turn), one after another on a GPU.
    """
    seeds = run.profile.seeds("classifier")
    jobs = [(run, visual, textual, epochs, seed) for seed in seeds]
    done = run_side_by_side(
        seed_step5, jobs, cpu_workers(run.device), desc="step-5 heads", device=run.device
    )
    return dict(zip(seeds, done, strict=True))


def top_m_hat_examples(
    predictions: Predictions, index: PreparedIndex, count: int = 6
) -> pd.DataFrame:
    """Algorithm 2 on a few test images: raw LQP output, rounded, clamped to [1, C] (m̂), and the
    top-m̂ labels."""
    names, truth = index.label_names, index.label_matrix()[predictions.rows]
    raw = np.asarray(predictions.counts, dtype=np.float64)
    m_hat = decision.predicted_quantity(raw, len(names))
    lowest, highest = np.argsort(raw, kind="stable")[:2], np.argsort(-raw, kind="stable")[:2]
    first = np.arange(min(count, len(raw)))
    shown = np.unique(np.concatenate([lowest, highest, first]))[: max(count, 4)]
    best = lambda i: np.argsort(-predictions.scores[i], kind="stable")[: m_hat[i]]
    frame = {
        "LQP output": raw[shown].round(2),
        "rounded": decision.round_half_up(raw[shown]),
        "m̂ (clamped to [1, C])": m_hat[shown],
        "true m": truth[shown].sum(axis=1),
        "top-m̂ labels": [", ".join(names[j] for j in best(i)) for i in shown],
        "true labels": [
            ", ".join(names[j] for j in np.flatnonzero(truth[i])) or "none" for i in shown
        ],
    }
    return pd.DataFrame(frame, index=pd.Index(predictions.rows[shown], name="index row"))


def reduction_effect(
    run: Run, visual: CachedArrays, textual: CachedArrays | None, *, epochs: int | None = None
) -> pd.DataFrame:
    """The joint classifier (top-k on [f_v, f_t]; on f_v without tags) trained with Eq. 4 summed
    and averaged over the labels, at the same rate.

    Averaging divides every gradient by C, as if the learning rate were C times smaller: the table
    shows what the profile's ``loss_reduction`` choice does at its own learning rate.
    """
    profile = run.profile
    train, test = joint_features(visual, textual, TRAIN), joint_features(visual, textual, TEST)
    truth, k, rows = run.index.label_matrix()[visual.test_rows], profile.annotation.top_k, {}
    for reduction in ("sum", "mean"):
        own = reduction == profile.classifier.loss_reduction
        settings = replace(profile.classifier, loss_reduction=reduction)
        variant = replace(run, profile=replace(profile, classifier=settings))
        name = "classifier_joint" if own else f"classifier_joint_{reduction}"
        _, history, scores = train_classifier(variant, name, train, test, epochs=epochs)
        scored = metrics.annotation_scores(truth, decision.top_k(scores, k))
        rows[f"{reduction} over labels" + (" (profile)" if own else "")] = {
            "final train loss": history.train_loss[-1],
            **{key: 100 * value for key, value in scored.items() if key in ("C-F1", "O-F1")},
            "mAP": 100 * metrics.mean_average_precision(truth, scores),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.rename_axis(f"Eq. 4, lr {profile.classifier.lr:g}")
