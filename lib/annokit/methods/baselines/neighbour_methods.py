"""The nearest-neighbour baselines on the unit-normalised f_v (and the tags): TagProp, 2PKNN and
the tag-and-image kNN. Each chooses its neighbour counts (and scale or tag weight) by validation
mAP; none has a random part, so each writes one file, without a seed."""

from __future__ import annotations

import numpy as np

from annokit.artifacts.predictions import Predictions
from annokit.evaluation.decision import top_k
from annokit.evaluation.metrics import mean_average_precision
from annokit.methods.baselines.inputs import BaselineData
from annokit.methods.baselines.neighbours import chunks, nearest, squared_distances, unit_rows
from annokit.methods.baselines.registry import METHODS, method_meta
from annokit.methods.baselines.tag_knn import similarity, tag_knn_predict, vote
from annokit.methods.baselines.tagprop import fit_tagprop, tagprop_probabilities
from annokit.methods.baselines.two_pass import neighbourhood, two_pass_predict, weighted_vote
from annokit.profile import Profile

# at most this many fit images fit TagProp's 2C + 1 parameters (their neighbours: all fit images)
TAGPROP_FIT_IMAGES = 5000


def _best(candidates: dict, labels: np.ndarray) -> tuple:
    """The candidate whose validation scores have the highest mAP (the first of equal ones), and
    every mAP."""
    maps = {c: mean_average_precision(labels, scores) for c, scores in candidates.items()}
    return max(maps, key=lambda c: (maps[c], -list(maps).index(c))), maps


def tagprop_baseline(data: BaselineData, profile: Profile) -> Predictions:
    """TagProp (σML, distance-based weights): θ, α, β fitted on the fit images for each K; K
    chosen by validation mAP."""
    base, val, test = (unit_rows(x) for x in data.features)
    y = np.asarray(data.labels.fit, dtype=bool)
    ks = sorted({min(k, len(base) - 1) for k in profile.baselines.neighbours})
    rng = np.random.default_rng(profile.seed)
    learn = np.sort(rng.permutation(len(base))[:TAGPROP_FIT_IMAGES])
    # leave-one-out: a fit image is not its own neighbour
    fit_index, fit_distance = nearest(base[learn], base, max(ks), exclude=learn)
    val_index, val_distance = nearest(val, base, max(ks))
    models, candidates = {}, {}
    for k in ks:
        models[k] = fit_tagprop(fit_distance[:, :k], y[fit_index[:, :k]], y[learn])
        candidates[k] = tagprop_probabilities(models[k], val_distance[:, :k], y[val_index[:, :k]])
    k, maps = _best(candidates, data.labels.validation)
    test_neighbours = (nearest(test[part], base, k) for part in chunks(len(test)))
    scores = np.concatenate([tagprop_probabilities(models[k], d, y[i]) for i, d in test_neighbours])
    chosen = {
        "K": k,
        "theta": round(float(models[k].theta.detach()), 3),
        "validation mAP": {str(c): round(100 * m, 2) for c, m in maps.items()},
    }
    return _neighbour_predictions("tagprop", data, profile, scores, chosen)


def two_pass_baseline(data: BaselineData, profile: Profile) -> Predictions:
    """2PKNN: K1 and the distance scale w chosen by validation mAP; the neighbourhoods come from
    the fit images."""
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
    validation_maps = {f"K1={a}, w={b:g}": round(100 * m, 2) for (a, b), m in maps.items()}
    chosen = {"K1": k1, "w": scale, "validation mAP": validation_maps}
    return _neighbour_predictions("2pknn", data, profile, scores, chosen)


def tag_knn_baseline(data: BaselineData, profile: Profile) -> Predictions:
    """The tag-and-image kNN: the tag weight λ and K chosen by validation mAP; neighbours among
    the fit images."""
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
    validation_maps = {f"λ={a:g}, K={b}": round(100 * m, 2) for (a, b), m in maps.items()}
    chosen = {"tag weight": weight, "K": k, "validation mAP": validation_maps}
    return _neighbour_predictions("tag_knn", data, profile, scores, chosen)


def _neighbour_predictions(
    key: str, data: BaselineData, profile: Profile, scores: np.ndarray, chosen: dict
) -> Predictions:
    """A neighbour method's file: deterministic, so one file (no seed), top-k as the papers' kNN
    rows."""
    k = profile.annotation.top_k
    meta = method_meta(profile, key, None, chosen)
    return Predictions(
        METHODS[key].file, data.test_rows, scores, top_k(scores, k), f"top-{k}", meta=meta
    )
