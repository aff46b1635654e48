"""The neighbour baselines on five hand-placed points (TagProp's vote, 2PKNN's two passes, the tag
kNN's vote), and the neighbour search against scikit-learn's NearestNeighbors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from annokit.methods.baselines import tagprop as tagprop_module
from annokit.methods.baselines.neighbours import (
    jaccard,
    nearest,
    smallest,
    squared_distances,
    unit_rows,
)
from annokit.methods.baselines.tag_knn import similarity, tag_knn_predict, vote
from annokit.methods.baselines.tagprop import (
    EPSILON,
    MAX_LOG_THETA,
    TagProp,
    entry_weights,
    fit_tagprop,
    presence,
    tagprop_loss,
    tagprop_probabilities,
)
from annokit.methods.baselines.two_pass import (
    neighbourhood,
    two_pass_predict,
    two_pass_scores,
    weighted_vote,
)

# Five training images on the unit circle at these angles (radians), with three labels, and one
# query at angle 0.
ANGLES = np.array([0.1, 0.3, 0.6, 1.2, 2.0])
BASE = np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1).astype(np.float32)
QUERY = np.array([[1.0, 0.0]], dtype=np.float32)
LABELS = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 1, 1]], dtype=bool)
D = 2 - 2 * np.cos(ANGLES)  # squared distances of the query to the five images, by hand


def test_squared_distances_and_nearest_by_hand():
    assert squared_distances(QUERY, BASE)[0] == pytest.approx(D, abs=1e-6)
    index, distance = nearest(QUERY, BASE, 3)
    assert index.tolist() == [[0, 1, 2]] and distance[0] == pytest.approx(D[:3], abs=1e-6)


def test_nearest_matches_scikit_learn():
    rng = np.random.default_rng(0)
    base, query = unit_rows(rng.normal(size=(300, 16))), unit_rows(rng.normal(size=(40, 16)))
    ours, ours_d = nearest(query, base, 12)
    reference = NearestNeighbors(n_neighbors=12).fit(base)
    ref_d, ref = reference.kneighbors(query)
    assert (ours == ref).all() and ours_d == pytest.approx(ref_d**2, abs=1e-5)
    # leave-one-out on the base itself: scikit-learn's kneighbors() without X leaves each point out
    loo, _ = nearest(base, base, 5, exclude=np.arange(300))
    assert (loo == reference.kneighbors(n_neighbors=5)[1]).all()


def test_ties_go_to_the_lower_index():
    values = np.array([[3.0, 1.0, 1.0, 0.5, 1.0, 1.0]])
    assert smallest(values, 3)[0].tolist() == [[3, 1, 2]]


def test_jaccard_by_hand():
    a = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=bool)
    b = np.array([[1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=bool)
    np.testing.assert_allclose(jaccard(a, b), [[1 / 3, 1.0, 0.0], [0.0, 0.0, 0.0]], rtol=1e-6)


def test_tagprop_vote_on_five_points():
    theta = 4.0
    model = TagProp(3, theta=theta)
    d = torch.tensor(D[None], dtype=torch.float32)
    vote_ = model.vote(d, presence(LABELS[None]))[0]
    pi = np.exp(-theta * D) / np.exp(-theta * D).sum()  # π_ij by hand
    expected = [
        sum(pi[j] * ((1 - EPSILON) if LABELS[j, w] else EPSILON) for j in range(5))
        for w in range(3)
    ]
    assert vote_.tolist() == pytest.approx(expected, rel=1e-5)
    assert tagprop_probabilities(model, D[None], LABELS[None])[0] == pytest.approx(
        1 / (1 + np.exp(-np.array(expected))), rel=1e-5
    )


def test_tagprop_weights_and_fit():
    y = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    c = entry_weights(y)
    assert float(c[y.bool()].sum()) == pytest.approx(1.0) and float(
        c[~y.bool()].sum()
    ) == pytest.approx(1.0)
    rng = np.random.default_rng(1)  # two clusters, each with its own label
    labels = np.repeat(np.eye(2, dtype=bool), 40, axis=0)
    features = unit_rows(
        np.where(labels[:, :1], [3.0, 0.5], [0.5, 3.0]) + rng.normal(0, 0.6, size=(80, 2))
    )
    index, distance = nearest(features, features, 10, exclude=np.arange(80))
    model = fit_tagprop(distance, labels[index], labels)
    start = TagProp(2, theta=1.0 / float(distance.mean()))
    # noqa: E731
    loss = lambda m: float(
        tagprop_loss(
            m,
            torch.tensor(distance),
            presence(labels[index]),
            torch.tensor(labels, dtype=torch.float32),
        ).detach()
    )
    assert loss(model) < loss(start)  # the fit raises the weighted likelihood
    assert (
        tagprop_probabilities(model, distance, labels[index]).argmax(axis=1)
        == labels.argmax(axis=1)
    ).mean() > 0.9


def test_two_pass_on_five_points():
    # Pass 1 with K1 = 1: label 0's nearest carrier is image 0, label 1's is image 1, label 2's is
    # image 3.
    member = neighbourhood(D[None], LABELS, 1)
    assert np.flatnonzero(member[0]).tolist() == [0, 1, 3]
    # Pass 2: θ = exp(−w d) over {0, 1, 3}; P(y_k) = Σ θ [y_k ∈ Y_I] / Σ θ.
    w = 2.0
    theta = {j: math.exp(-w * D[j]) for j in (0, 1, 3)}
    total = sum(theta.values())
    expected = [(theta[0] + theta[1]) / total, theta[1] / total, theta[3] / total]
    assert two_pass_scores(D[None], LABELS, 1, w)[0] == pytest.approx(expected, rel=1e-5)
    assert weighted_vote(D[None], member, LABELS, w)[0] == pytest.approx(expected, rel=1e-5)
    assert two_pass_predict(QUERY, BASE, LABELS, 1, w)[0] == pytest.approx(expected, rel=1e-4)
    # K1 = 2: two carriers per label: {0, 1} for label 0, {1, 2} for label 1, {3, 4} for label 2
    assert np.flatnonzero(neighbourhood(D[None], LABELS, 2)[0]).tolist() == [0, 1, 2, 3, 4]


def test_tag_knn_on_five_points():
    tags_base = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], dtype=bool)
    tags_query = np.array([[0, 0, 1]], dtype=bool)
    weight = 0.75
    s = similarity(QUERY, BASE, tags_query, tags_base, weight)[0]
    by_hand = weight * np.array([0, 0, 0, 1, 1]) + (1 - weight) * np.cos(ANGLES)
    assert s == pytest.approx(by_hand, abs=1e-6)
    # K = 3: the three most similar are images 3, 4 (shared tag) and 0 (nearest image)
    top = np.argsort(-by_hand)[:3]
    assert sorted(top.tolist()) == [0, 3, 4]
    expected = (by_hand[top, None] * LABELS[top]).sum(axis=0) / by_hand[top].sum()
    assert vote(s[None], LABELS, 3)[0] == pytest.approx(expected, rel=1e-5)
    assert tag_knn_predict(QUERY, BASE, tags_query, tags_base, LABELS, weight, 3)[
        0
    ] == pytest.approx(expected, rel=1e-5)
    only_tags = tag_knn_predict(QUERY, BASE, tags_query, tags_base, LABELS, 1.0, 2)[0]
    assert only_tags == pytest.approx([0.0, 0.5, 1.0])  # λ = 1: images 3 and 4, equal weight
    with pytest.raises(ValueError, match="tag weight"):
        similarity(QUERY, BASE, tags_query, tags_base, 1.5)


def test_tagprop_weights_stay_finite_when_the_fit_sends_theta_past_floats_range(monkeypatch):
    # where every image's nearest neighbour alone explains it, the likelihood rises with θ without
    # end; on a 48-image run L-BFGS took log θ to 5.8e14, and exp(log θ) · 0 made the weights NaN
    model = TagProp(3)
    with torch.no_grad():
        model.log_theta.fill_(5.8e14)
    d = torch.tensor(np.vstack([D, D - D.min()]), dtype=torch.float32)  # a zero distance too
    labels = np.stack([LABELS, LABELS])
    assert float(model.theta.detach()) == pytest.approx(np.exp(MAX_LOG_THETA), rel=1e-5)
    scores = tagprop_probabilities(model, d.numpy(), labels)
    nearest_labels = LABELS[np.argmin(D)]  # one-hot weights: the nearest neighbour's labels
    expected = np.where(nearest_labels, 1 - EPSILON, EPSILON)
    votes = model.vote(d, presence(labels)).detach().numpy()
    np.testing.assert_allclose(votes, [expected] * 2, rtol=1e-6)
    assert np.isfinite(scores).all()
    monkeypatch.setattr(tagprop_module, "MAX_LOG_THETA", float("inf"))  # the bound is what holds
    assert not np.isfinite(tagprop_probabilities(model, d.numpy(), labels)).all()
