"""One job per baseline and seed: train (or fit), choose on the validation split, predict the test split.

``baseline_jobs`` lists the jobs of a profile (a trained method once per seed, a neighbour method once) and
``run_baseline`` runs one and returns its ``Predictions``, what was chosen on the validation split in
``meta["chosen"]``. The jobs are independent and seed themselves, so ``run_all`` runs them side by side with
``annokit.training.parallel.run_jobs``, one per CPU core; notebook 07 saves the files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from annokit.artifacts.digest import array_digest
from annokit.artifacts.predictions import Predictions
from annokit.evaluation.decision import top_k, top_m
from annokit.evaluation.metrics import mean_average_precision
from annokit.methods.baselines.inputs import BaselineData
from annokit.methods.baselines.linear_heads import (
    estimated_counts,
    head_probabilities,
    outputs,
    standardize,
    train_count_estimator,
    train_head,
)
from annokit.methods.baselines.neighbours import chunks, nearest, squared_distances, unit_rows
from annokit.methods.baselines.order_free import OrderFreeRNN, order_free_loss
from annokit.methods.baselines.registry import HEADS, METHODS, NEIGHBOURS, baseline_seeds, file_name
from annokit.methods.baselines.selection import fit_best_epoch
from annokit.methods.baselines.tag_knn import similarity, tag_knn_predict, vote
from annokit.methods.baselines.tagprop import fit_tagprop, tagprop_probabilities
from annokit.methods.baselines.two_pass import neighbourhood, two_pass_predict, weighted_vote
from annokit.methods.multi_order import variant_settings
from annokit.models.multi_order_rnn import PAPER_TEXT
from annokit.models.rnn_decoder import decode
from annokit.profile import Profile
from annokit.training.config import fit_config
from annokit.training.fit import SMALL_MODEL_THREADS
from annokit.training.parallel import cpu_workers, run_jobs

TAGPROP_FIT_IMAGES = 5000  # at most this many fit images fit TagProp's 2C + 1 parameters (their neighbours: all fit images)


def baseline_jobs(profile: Profile, keys: tuple[str, ...] | list[str] | None = None) -> list[tuple[str, int | None]]:
    """(method, seed) of every job, the longest first so that the cores finish together; seed None: deterministic."""
    keys = list(keys) if keys is not None else list(METHODS)
    seeds = sorted(baseline_seeds(profile), key=lambda s: s != profile.seed)  # the profile's seed first
    order = ["order_free_rnn", "lsep", "warp", "tagprop", "softmax", "logistic", "tag_knn", "2pknn"]
    return [(key, seed) for key in sorted(keys, key=order.index)
            for seed in (seeds if METHODS[key].trained else [None])]


def run_all(data: BaselineData, profile: Profile, run_dir: Path, *, device: str | torch.device = "cpu",
            retrain: bool = False, keys: tuple[str, ...] | list[str] | None = None) -> list[Predictions]:
    """Every job of ``baseline_jobs``: side by side on the CPU cores, one thread each, or one after another on a GPU."""
    workers = cpu_workers(device)
    threads = SMALL_MODEL_THREADS if workers > 1 else None
    jobs = [(key, seed, data, profile, Path(run_dir), str(device), retrain, threads) for key, seed in baseline_jobs(profile, keys)]
    return run_jobs(run_baseline, jobs, workers)


def run_baseline(key: str, seed: int | None, data: BaselineData, profile: Profile, run_dir: Path,
                 device: str = "cpu", retrain: bool = False, threads: int | None = None) -> Predictions:
    """Run one job of ``baseline_jobs``; module-level, so ``parallel.run_jobs`` can run it in another process.

    ``threads``: torch and BLAS threads for the job (None: as they are), one when jobs share the cores.
    """
    with threadpool_limits(threads), _torch_threads(threads):
        return _run(key, seed, data, profile, run_dir, device, retrain)


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _run(key: str, seed: int | None, data: BaselineData, profile: Profile, run_dir: Path, device: str,
         retrain: bool) -> Predictions:
    if key in HEADS:
        return head_baseline(key, seed, data, profile, run_dir, device=device, retrain=retrain)
    if key == "order_free_rnn":
        return order_free_baseline(seed, data, profile, run_dir, device=device, retrain=retrain)
    if key in NEIGHBOURS:
        return {"tagprop": tagprop_baseline, "2pknn": two_pass_baseline, "tag_knn": tag_knn_baseline}[key](data, profile)
    raise KeyError(f"no baseline {key!r}: choose from {', '.join(METHODS)}")


def _meta(profile: Profile, key: str, seed: int | None, chosen: dict, **extra) -> dict:
    return {"profile": profile.name, "method": METHODS[key].name, "paper": METHODS[key].paper, "seed": seed,
            "chosen": chosen, **extra}


# Linear heads on f_v.


def head_baseline(key: str, seed: int, data: BaselineData, profile: Profile, run_dir: Path, *,
                  device: str | torch.device = "cpu", retrain: bool = False) -> Predictions:
    """CNN+logistic, CNN+softmax, CNN+WARP (top-k) or LSEP (top-k̂ from its label-count estimator) with one seed."""
    settings, k = profile.baselines, profile.annotation.top_k
    fit_x, val_x, test_x = standardize(*data.features)
    name, config = file_name(key, seed, profile), fit_config(settings, seed)
    folder = Path(run_dir) / "baselines" / name
    head = train_head(key, fit_x, data.labels.fit, val_x, data.labels.validation, config, folder, device=device,
                      retrain=retrain)
    scores = head_probabilities(key, outputs(head.model, test_x))
    chosen = {"epoch": head.epoch, "validation mAP": round(100 * max(head.scores), 2)}
    counts = None
    if key == "lsep":
        estimator = train_count_estimator(fit_x, data.labels.fit, val_x, data.labels.validation, settings.max_label_count,
                                          config, folder / "label_count", device=device, retrain=retrain)
        counts = estimated_counts(estimator.model, test_x).astype(np.float32)
        annotation = top_m(scores, np.minimum(counts, scores.shape[1]).astype(np.int64))
        chosen |= {"count epoch": estimator.epoch, "validation count accuracy": round(100 * max(estimator.scores), 2)}
        rule = f"top-k̂, k̂ from the label-count estimator (1 … {settings.max_label_count})"
    else:
        annotation, rule = top_k(scores, k), f"top-{k}"
    return Predictions(name, data.test_rows, scores, annotation, rule, counts=counts,
                       meta=_meta(profile, key, seed, chosen, fit=vars(config)))


# Neighbour methods on the unit-normalised f_v (and the tags).


def _best(candidates: dict, labels: np.ndarray) -> tuple:
    """The candidate whose validation scores have the highest mAP (the first of equal ones), and every mAP."""
    maps = {c: mean_average_precision(labels, scores) for c, scores in candidates.items()}
    return max(maps, key=lambda c: (maps[c], -list(maps).index(c))), maps


def tagprop_baseline(data: BaselineData, profile: Profile) -> Predictions:
    """TagProp (σML, distance-based weights): θ, α, β fitted on the fit images for each K; K chosen by validation mAP."""
    base, val, test = (unit_rows(x) for x in data.features)
    y = np.asarray(data.labels.fit, dtype=bool)
    ks = sorted({min(k, len(base) - 1) for k in profile.baselines.neighbours})
    learn = np.sort(np.random.default_rng(profile.seed).permutation(len(base))[:TAGPROP_FIT_IMAGES])
    fit_index, fit_distance = nearest(base[learn], base, max(ks), exclude=learn)  # leave-one-out
    val_index, val_distance = nearest(val, base, max(ks))
    models, candidates = {}, {}
    for k in ks:
        models[k] = fit_tagprop(fit_distance[:, :k], y[fit_index[:, :k]], y[learn])
        candidates[k] = tagprop_probabilities(models[k], val_distance[:, :k], y[val_index[:, :k]])
    k, maps = _best(candidates, data.labels.validation)
    scores = np.concatenate([tagprop_probabilities(models[k], d, y[i]) for i, d in
                             (nearest(test[part], base, k) for part in chunks(len(test)))])
    chosen = {"K": k, "theta": round(float(models[k].log_theta.detach().exp()), 3),
              "validation mAP": {str(c): round(100 * m, 2) for c, m in maps.items()}}
    return _neighbour_predictions("tagprop", data, profile, scores, chosen)


def two_pass_baseline(data: BaselineData, profile: Profile) -> Predictions:
    """2PKNN: K1 and the distance scale w chosen by validation mAP; the neighbourhoods come from the fit images."""
    base, val, test = (unit_rows(x) for x in data.features)
    y = data.labels.fit
    distances = squared_distances(val, base)
    candidates = {}
    for k1 in profile.baselines.pass1_neighbours:
        member = neighbourhood(distances, y, k1)
        for scale in profile.baselines.distance_scales:
            candidates[(k1, scale)] = weighted_vote(distances, member, y, scale)
    (k1, scale), maps = _best(candidates, data.labels.validation)
    scores = two_pass_predict(test, base, y, k1, scale)
    chosen = {"K1": k1, "w": scale, "validation mAP": {f"K1={a}, w={b:g}": round(100 * m, 2) for (a, b), m in maps.items()}}
    return _neighbour_predictions("2pknn", data, profile, scores, chosen)


def tag_knn_baseline(data: BaselineData, profile: Profile) -> Predictions:
    """The tag-and-image kNN: the tag weight λ and K chosen by validation mAP; neighbours among the fit images."""
    base, val, test = (unit_rows(x) for x in data.features)
    y = data.labels.fit
    ks = sorted({min(k, len(base)) for k in profile.baselines.neighbours})
    candidates = {}
    for weight in profile.baselines.tag_weights:
        s = similarity(val, base, data.tags.validation, data.tags.fit, weight)
        for k in ks:
            candidates[(weight, k)] = vote(s, y, k)
    (weight, k), maps = _best(candidates, data.labels.validation)
    scores = tag_knn_predict(test, base, data.tags.test, data.tags.fit, y, weight, k)
    chosen = {"tag weight": weight, "K": k,
              "validation mAP": {f"λ={a:g}, K={b}": round(100 * m, 2) for (a, b), m in maps.items()}}
    return _neighbour_predictions("tag_knn", data, profile, scores, chosen)


def _neighbour_predictions(key: str, data: BaselineData, profile: Profile, scores: np.ndarray, chosen: dict) -> Predictions:
    """A neighbour method's file: deterministic, so one file (no seed), top-k as the papers' kNN rows."""
    k = profile.annotation.top_k
    return Predictions(METHODS[key].file, data.test_rows, scores, top_k(scores, k), f"top-{k}",
                       meta=_meta(profile, key, None, chosen))


# The Order-free RNN on ŝ.


def order_free_baseline(seed: int, data: BaselineData, profile: Profile, run_dir: Path, *,
                        device: str | torch.device = "cpu", retrain: bool = False) -> Predictions:
    """The candidate-pool decoder on the CNN scores with one seed, its epoch chosen by validation mAP.

    It trains as the fixed-order CNN-RNNs of notebook 05 do: the paper text's decoder and optimiser ([rnn] through
    ``variant_settings``) for ``[baselines] order_free_epochs`` epochs (0: the [rnn] epochs).
    """
    rnn = variant_settings(profile.rnn, PAPER_TEXT)
    epochs = profile.baselines.order_free_epochs or rnn.epochs
    num_labels = data.labels.fit.shape[1]
    train_set = torch.utils.data.TensorDataset(torch.as_tensor(data.scores.fit, dtype=torch.float32),
                                               torch.as_tensor(data.labels.fit, dtype=torch.float32))
    val_s = torch.as_tensor(data.scores.validation, dtype=torch.float32).to(device)
    stage = {"baseline": "order_free_rnn", "hidden": rnn.hidden, "embedding": rnn.embedding, "max_length": rnn.max_length,
             "beam_size": rnn.beam_size,
             "inputs": array_digest(data.scores.fit, data.labels.fit),
             "validation": array_digest(data.scores.validation, data.labels.validation)}
    name, config = file_name("order_free_rnn", seed, profile), fit_config(rnn, seed, epochs)
    chosen = fit_best_epoch(lambda: OrderFreeRNN(num_labels, rnn.hidden, rnn.embedding), train_set,
                            lambda m, batch: order_free_loss(m, batch[0], batch[1]), config, Path(run_dir) / "baselines" / name,
                            lambda m: mean_average_precision(data.labels.validation,
                                                             decode(m, val_s, rnn.max_length, rnn.beam_size).scores),
                            stage_config=stage, device=device, retrain=retrain)
    decoded = decode(chosen.model.to(device), torch.as_tensor(data.scores.test, dtype=torch.float32).to(device), rnn.max_length,
                     rnn.beam_size)
    search = "greedy decoding" if rnn.beam_size == 1 else f"beam search (beam {rnn.beam_size})"
    meta = _meta(profile, "order_free_rnn", seed, {"epoch": chosen.epoch, "validation mAP": round(100 * max(chosen.scores), 2)},
                 fit=vars(config))
    return Predictions(name, data.test_rows, decoded.scores, decoded.annotation,
                       f"{search} until END or {rnn.max_length} labels, no label twice",
                       step_scores=decoded.step_scores, sequences=decoded.sequences, meta=meta)
