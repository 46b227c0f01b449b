"""Anomaly-detection metrics in numpy (checked against scikit-learn in the tests).

Higher scores mean more anomalous; labels are 1 for anomalies. The decision threshold is
chosen on VALIDATION data (:func:`best_f1_threshold` there, then applied to test); the
best-F1 threshold found on the test set itself is reported only as a labelled oracle, and
point-adjusted F1 (:func:`point_adjust`) only as a labelled extra, because it inflates scores.
"""
from __future__ import annotations

import numpy as np


def _check(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels and scores differ in size: {labels.size} vs {scores.size}")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    return labels, scores


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve = P(score of an anomaly > score of a normal point), ties counting
    one half (Mann-Whitney U with average ranks). NaN when one class is absent."""
    labels, scores = _check(labels, scores)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    # average 1-based rank within each run of equal scores
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True / false positive counts and thresholds at each distinct score, highest first."""
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    return tp.astype(np.float64), fp.astype(np.float64), s[last]


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates ``(fpr, tpr)`` at every distinct score, from (0, 0) to (1, 1)."""
    labels, scores = _check(labels, scores)
    if labels.all() or not labels.any():
        raise ValueError("roc_curve needs both normal and anomalous labels")
    tp, fp, _ = _curve(labels, scores)
    return np.r_[0.0, fp / (~labels).sum()], np.r_[0.0, tp / labels.sum()]


def average_precision(labels, scores) -> float:
    """Area under the precision-recall curve as sum over thresholds of ``(R_n - R_{n-1}) P_n``
    (scikit-learn's ``average_precision_score``). NaN without anomalies."""
    labels, scores = _check(labels, scores)
    if labels.sum() == 0:
        return float("nan")
    tp, fp, _ = _curve(labels, scores)
    precision, recall = tp / (tp + fp), tp / labels.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_recall_f1(labels, predictions) -> dict[str, float]:
    """Precision, recall and F1 of boolean ``predictions`` (0 where undefined)."""
    labels = np.asarray(labels).astype(bool).ravel()
    predictions = np.asarray(predictions).astype(bool).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions differ in size: {labels.size} vs {predictions.size}")
    tp = float(np.sum(labels & predictions))
    precision = tp / max(predictions.sum(), 1)
    recall = tp / max(labels.sum(), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def best_f1_threshold(labels, scores) -> tuple[float, float]:
    """``(threshold, f1)`` maximising F1 of ``scores >= threshold`` over the distinct scores."""
    labels, scores = _check(labels, scores)
    if labels.sum() == 0:
        raise ValueError("best_f1_threshold needs at least one anomaly among the labels")
    tp, fp, thresholds = _curve(labels, scores)
    f1 = 2 * tp / (tp + fp + labels.sum())
    best = int(np.argmax(f1))
    return float(thresholds[best]), float(f1[best])


def point_adjust(predictions, labels) -> np.ndarray:
    """Point-adjusted predictions: a labelled segment counts as wholly detected when any of its
    points is predicted. Works on ``[T]`` or row-wise on ``[N, L]`` (segments never cross rows)."""
    predictions = np.asarray(predictions).astype(bool)
    labels = np.asarray(labels).astype(bool)
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions {predictions.shape} and labels {labels.shape} differ in shape")
    rows_p, rows_l = np.atleast_2d(predictions), np.atleast_2d(labels)
    out = rows_p.copy()
    for p, y, o in zip(rows_p, rows_l, out):
        edges = np.diff(np.r_[0, y.astype(np.int8), 0])
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if p[start:end].any():
                o[start:end] = True
    return out.reshape(predictions.shape)


def detection_report(val_labels, val_scores, test_labels, test_scores) -> dict[str, float]:
    """ROC-AUC and PR-AUC on test, precision / recall / F1 at the threshold that maximises F1 on
    VALIDATION, and the test's own best F1 (``best_f1_oracle``, for reference only)."""
    threshold, _ = best_f1_threshold(val_labels, val_scores)
    test_labels, test_scores = _check(test_labels, test_scores)
    report = {"roc_auc": roc_auc(test_labels, test_scores), "pr_auc": average_precision(test_labels, test_scores),
              "threshold": threshold, **precision_recall_f1(test_labels, test_scores >= threshold)}
    report["best_f1_oracle"] = best_f1_threshold(test_labels, test_scores)[1] if test_labels.any() else float("nan")
    return report
