"""Annotation metrics of M3 (Niu et al. 2019) and the Multi-order RNN (Dutta et al. 2020).

All functions take numpy arrays of shape (N images, C classes): truth and predictions
as bool or 0/1 numbers, scores as floats. Results are fractions in [0, 1], not percents.

Three families of precision/recall, named by our keys:

* ``C-*`` per class: P and R of each class, averaged over all C classes
  (M3 Eq. 6 C-P/C-R; Dutta's P_L/R_L).
* ``O-*`` overall: counts summed over all images before dividing
  (M3 Eq. 6 I-P/I-R, which M3 calls "per-image").
* ``S-*`` per sample: P and R of each image, averaged over all N images
  (Dutta's P_I/R_I, which Dutta calls "per-image").

By default every F1 is the harmonic mean of the averaged P and R (as both papers define
it), not the average of per-class or per-image F1; ``annotation_scores(..., f1=...)`` offers
the latter (ASL's F_C, scikit-learn's macro/samples F1) for comparison. ``H-F1`` is the
harmonic mean of C-F1 and O-F1 (M3 Eq. 7). ``mean_average_precision(..., interpolation=...)``
offers Query2Label's VOC-style all-point interpolated AP and VOC 2007's 11-point AP beside the
default non-interpolated one, and ``ignore=`` leaves (image, class) entries out of a class's
ranking (VOC 2007's difficult-only labels);
``annokit.evaluation.conventions`` tabulates how far each convention moves the numbers.

Zero-division convention (the same as scikit-learn's ``zero_division=0``): a class never
predicted has precision 0 and a class with no ground truth has recall 0, and both still
count in the mean over all C classes; an image with no predicted label has precision 0
and an image with no true label has recall 0, and both still count in the mean over all
N images; O-P (O-R) is 0 when nothing is predicted (nothing is true); any harmonic mean
whose two inputs sum to 0 is 0.
"""

from __future__ import annotations

import numpy as np

from annokit.evaluation.decision import predicted_quantity

ANNOTATION_KEYS = ("C-P", "C-R", "C-F1", "O-P", "O-R", "O-F1", "S-P", "S-R", "S-F1", "H-F1")

# How C-F1/S-F1 are formed: the papers' F1 of the averaged P and R (default), or the mean of
# each class's (image's) own F1 (ASL validate.py's F_C, scikit-learn's macro/samples F1).
F1_CONVENTIONS = ("of-means", "mean-of-per-class")
# How AP integrates the precision-recall curve: non-interpolated (default; scikit-learn, ML-GCN,
# ASL, the Multi-order RNN code), VOC all-point interpolated (Query2Label's voc_mAP; VOC 2010's
# devkit) or VOC 2007's 11-point interpolated (the VOC 2007 devkit's VOCevalcls.m).
AP_INTERPOLATIONS = ("none", "voc", "voc11")
VOC11_RECALLS = np.linspace(0.0, 1.0, 11)  # 0, 0.1, ..., 1.0

# Column names as printed in each paper's tables -> our keys. M3's "I-" metrics pool all
# images (our O-), Dutta's "_I" metrics average per image (our S-): same word, two meanings.
PAPER_COLUMNS: dict[str, dict[str, str]] = {
    "m3": {
        "C-P": "C-P",
        "C-R": "C-R",
        "C-F1": "C-F1",
        "I-P": "O-P",
        "I-R": "O-R",
        "I-F1": "O-F1",
        "H-F1": "H-F1",
    },
    "multi_order": {
        "P_L": "C-P",
        "R_L": "C-R",
        "F1_L": "C-F1",
        "P_I": "S-P",
        "R_I": "S-R",
        "F1_I": "S-F1",
    },
}


def _binary_matrix(a: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N images, C classes), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"{name} must have at least one image and one class, got shape {arr.shape}"
        )
    if arr.dtype != bool:
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise ValueError(f"{name} must be bool or numeric 0/1, got dtype {arr.dtype}")
        if not np.isin(arr, (0, 1)).all():
            bad = np.unique(arr[~np.isin(arr, (0, 1))])[:5]
            raise ValueError(f"{name} must hold only 0/1 values, found {bad.tolist()}")
    return arr.astype(bool)


def _binary_pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = _binary_matrix(y_true, "y_true")
    p = _binary_matrix(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    return t, p


def _check_choice(value: str, choices: tuple[str, ...], name: str) -> None:
    """Reject an unknown convention name, listing the known ones."""
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}"
        )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _harmonic(p: float | np.ndarray, r: float | np.ndarray) -> float | np.ndarray:
    """Harmonic mean 2pr/(p+r), 0 where p+r == 0 (the F1 of both papers)."""
    p_arr, r_arr = np.asarray(p, dtype=float), np.asarray(r, dtype=float)
    out = _ratio(2.0 * p_arr * r_arr, p_arr + r_arr)
    return float(out) if out.ndim == 0 else out


def per_class_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall and F1 of each class (length-C arrays), e.g. for per-class bar charts."""
    t, p = _binary_pair(y_true, y_pred)
    correct = (t & p).sum(axis=0)  # NIc_j in M3 Eq. 6
    precision = _ratio(correct, p.sum(axis=0))  # / NIp_j
    recall = _ratio(correct, t.sum(axis=0))  # / NIg_j
    return {"precision": precision, "recall": recall, "f1": _harmonic(precision, recall)}


def annotation_scores(
    y_true: np.ndarray, y_pred: np.ndarray, f1: str = "of-means"
) -> dict[str, float]:
    """C-/O-/S- precision, recall, F1 and H-F1 of binary predictions (M3 Eq. 6-7, Dutta Sec. 4).

    ``f1="of-means"`` (default, both papers' definition and the Multi-order RNN's
    eval/multilabel_metrics.py, ML-GCN's util.py): C-F1 = harmonic mean of C-P and C-R, S-F1
    = harmonic mean of S-P and S-R. ``f1="mean-of-per-class"``: C-F1 = mean over all C classes
    of each class's F1, S-F1 = mean over all N images of each image's F1 (ASL validate.py's
    F_C; scikit-learn's ``f1_score(average="macro"/"samples", zero_division=0)``). Either way
    O-F1 is the harmonic mean of O-P and O-R and H-F1 that of the returned C-F1 and O-F1.

    Zero division, the same under both: a class (image) with no prediction has P = 0, one with
    no truth R = 0, its own F1 is 0 when P + R = 0, and it still counts in the mean over all
    classes (images); O-P (O-R) is 0 when nothing is predicted (true).
    """
    _check_choice(f1, F1_CONVENTIONS, "f1")
    t, p = _binary_pair(y_true, y_pred)
    per_class = per_class_scores(t, p)
    correct = t & p
    image_correct = correct.sum(axis=1)  # NLc_i in M3 Eq. 6
    image_precision = _ratio(image_correct, p.sum(axis=1))
    image_recall = _ratio(image_correct, t.sum(axis=1))

    scores = {
        "C-P": float(per_class["precision"].mean()),
        "C-R": float(per_class["recall"].mean()),
        "O-P": float(_ratio(image_correct.sum(), p.sum())),
        "O-R": float(_ratio(image_correct.sum(), t.sum())),
        "S-P": float(image_precision.mean()),
        "S-R": float(image_recall.mean()),
    }
    for family in ("C", "O", "S"):
        scores[f"{family}-F1"] = _harmonic(scores[f"{family}-P"], scores[f"{family}-R"])
    if f1 == "mean-of-per-class":
        scores["C-F1"] = float(per_class["f1"].mean())
        scores["S-F1"] = float(_harmonic(image_precision, image_recall).mean())
    scores["H-F1"] = _harmonic(scores["C-F1"], scores["O-F1"])
    return {key: scores[key] for key in ANNOTATION_KEYS}


def _score_pair(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = _binary_matrix(y_true, "y_true")
    s = np.asarray(scores, dtype=float)
    if s.shape != t.shape:
        raise ValueError(f"y_true has shape {t.shape} but scores has shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite (no NaN or inf)")
    return t, s


def _operating_points(truth: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at each distinct score used as threshold, highest score first."""
    order = np.argsort(-score, kind="mergesort")
    score, truth = score[order], truth[order]
    # One threshold per distinct score: tied images enter the prediction set together.
    last_of_run = np.r_[np.flatnonzero(np.diff(score)), score.size - 1]
    tp = np.cumsum(truth)[last_of_run]
    predicted = last_of_run + 1
    return tp / predicted, tp / tp[-1]


def _average_precision(truth: np.ndarray, score: np.ndarray, interpolation: str = "none") -> float:
    """AP of one class with a positive: sum over thresholds of (R_n - R_{n-1}) * P_n.

    ``"none"``: P_n as measured (scikit-learn's average_precision_score). ``"voc"``: P_n
    replaced by its envelope max_{m >= n} P_m, the highest precision at any recall >= R_n
    (the all-point interpolation of Query2Label's lib/utils/metric.py ``voc_ap``). ``"voc11"``:
    the mean over recall levels r = 0, 0.1, ..., 1.0 of the highest precision at any recall >= r
    (0 where none reaches r), VOC 2007's VOCevalcls.m.
    """
    precision, recall = _operating_points(truth, score)
    if interpolation == "voc11":
        reached = recall[None, :] >= VOC11_RECALLS[:, None] - 1e-12
        return float(np.where(reached, precision[None, :], 0.0).max(axis=1).mean())
    if interpolation == "voc":
        precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _ignore_mask(ignore: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """The (N, C) boolean mask of entries left out of their class's ranking (none when None)."""
    if ignore is None:
        return np.zeros(shape, dtype=bool)
    mask = _binary_matrix(ignore, "ignore")
    if mask.shape != shape:
        raise ValueError(f"ignore has shape {mask.shape} but y_true has shape {shape}")
    return mask


def average_precision_per_class(
    y_true: np.ndarray,
    scores: np.ndarray,
    interpolation: str = "none",
    ignore: np.ndarray | None = None,
) -> np.ndarray:
    """Average precision of each class (length C); NaN for a class with no positive image.

    ``interpolation`` and ``ignore`` as in ``mean_average_precision``.
    """
    _check_choice(interpolation, AP_INTERPOLATIONS, "interpolation")
    t, s = _score_pair(y_true, scores)
    kept = ~_ignore_mask(ignore, t.shape)
    ap = np.full(t.shape[1], np.nan)
    for j in np.flatnonzero((t & kept).any(axis=0)):
        rows = kept[:, j]
        ap[j] = _average_precision(t[rows, j], s[rows, j], interpolation)
    return ap


def mean_average_precision(
    y_true: np.ndarray,
    scores: np.ndarray,
    interpolation: str = "none",
    ignore: np.ndarray | None = None,
) -> float:
    """Mean of per-class AP over the classes with at least one positive (AP is undefined otherwise).

    ``interpolation="none"`` (default): non-interpolated AP, one operating point per distinct
    score so tied images enter together (scikit-learn's ``average_precision_score``; ML-GCN's
    util.py, ASL's helper_functions.py and the Multi-order RNN's eval code compute the same
    without merging ties). ``interpolation="voc"``: all-point interpolated AP, precision
    replaced by the best precision at any recall >= it (Query2Label's lib/utils/metric.py,
    which ranks tied images one by one in argsort order instead of merging them).
    ``interpolation="voc11"``: VOC 2007's 11-point AP, the envelope sampled at recall 0, 0.1,
    ..., 1.0 and averaged (ties merged as above).

    ``ignore`` (N, C, optional): entries left out of their class's ranking, neither positive nor
    negative; VOC 2007's own convention passes ``VocAnnotations.difficult_only`` here. Without it
    every entry counts (VOC's other convention: difficult labels are positives).

    Zero division, under all: a class with no positive image is left out of the mean
    (ASL and the Multi-order RNN count it as AP 0, Query2Label's mAP becomes NaN, ML-GCN's
    AveragePrecisionMeter divides 0 by 0); a ValueError is raised when no class has a positive.
    """
    ap = average_precision_per_class(y_true, scores, interpolation, ignore)
    if np.isnan(ap).all():
        raise ValueError("mAP is undefined: no class has a positive image in y_true")
    return float(np.nanmean(ap))


def _count_pair(
    true_counts: np.ndarray, predicted_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(true_counts, dtype=float)
    p = np.asarray(predicted_counts, dtype=float)
    if t.ndim != 1 or p.ndim != 1:
        raise ValueError(
            f"label counts must be 1-D (one per image), got shapes {t.shape} and {p.shape}"
        )
    if t.shape != p.shape:
        raise ValueError(f"true_counts has {t.size} images but predicted_counts has {p.size}")
    if t.size == 0:
        raise ValueError("label counts are empty")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("label counts must be finite (no NaN or inf)")
    return t, p


def label_quantity_accuracy(
    true_counts: np.ndarray, predicted_counts: np.ndarray, num_labels: int
) -> float:
    """Share of images whose m̂ is right (M3 Sec. IV-D1), m̂ exactly as Algorithm 2 annotates with
    it: the raw prediction rounded half up and clamped to [1, C]
    (``annotate.predicted_quantity``)."""
    t, p = _count_pair(true_counts, predicted_counts)
    return float(np.mean(predicted_quantity(p, num_labels) == t))


def label_quantity_mse(true_counts: np.ndarray, predicted_counts: np.ndarray) -> float:
    """Mean squared error of the raw predicted label counts (M3 Eq. 5, Tables V-VI)."""
    t, p = _count_pair(true_counts, predicted_counts)
    return float(np.mean((p - t) ** 2))


def top1_accuracy(y_true: np.ndarray, first_labels: np.ndarray) -> float:
    """Share of images whose first predicted label is a true label; -1 (no
    label) is wrong (Dutta Table 4)."""
    t = _binary_matrix(y_true, "y_true")
    first = np.asarray(first_labels)
    if first.shape != (t.shape[0],):
        raise ValueError(f"first_labels must have shape ({t.shape[0]},), got {first.shape}")
    if not np.issubdtype(first.dtype, np.integer):
        raise ValueError(f"first_labels must be integer class indices, got dtype {first.dtype}")
    if ((first < -1) | (first >= t.shape[1])).any():
        raise ValueError(f"first_labels must lie in [-1, {t.shape[1] - 1}]")
    has_label = first >= 0
    hit = np.zeros(t.shape[0], dtype=bool)
    hit[has_label] = t[np.flatnonzero(has_label), first[has_label]]
    return float(hit.mean())
