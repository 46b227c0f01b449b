"""Anomaly-detection metrics on scikit-learn's curves, with input checks and the protocol below.

Higher scores mean more anomalous; labels are 1 for anomalies. The decision threshold is
chosen on VALIDATION data (:func:`best_f1_threshold` there, then applied to test); the
best-F1 threshold found on the test set itself is reported only as a labelled oracle, and
point-adjusted F1 (:func:`point_adjust`) only as a labelled extra, because it inflates scores.
"""
from __future__ import annotations

import numpy as np
import sklearn.metrics as skm


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
    one half. NaN when one class is absent."""
    labels, scores = _check(labels, scores)
    if labels.all() or not labels.any():
        return float("nan")
    return float(skm.roc_auc_score(labels, scores))


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates ``(fpr, tpr)`` at every distinct score, from (0, 0) to (1, 1)."""
    labels, scores = _check(labels, scores)
    if labels.all() or not labels.any():
        raise ValueError("roc_curve needs both normal and anomalous labels")
    fpr, tpr, _ = skm.roc_curve(labels, scores, drop_intermediate=False)
    return fpr, tpr


def average_precision(labels, scores) -> float:
    """Area under the precision-recall curve, ``sum_n (R_n - R_{n-1}) P_n``. NaN without anomalies."""
    labels, scores = _check(labels, scores)
    if labels.sum() == 0:
        return float("nan")
    return float(skm.average_precision_score(labels, scores))


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
    """``(threshold, f1)`` maximising F1 of ``scores >= threshold`` over the distinct scores
    (the highest such threshold when several tie)."""
    labels, scores = _check(labels, scores)
    if labels.sum() == 0:
        raise ValueError("best_f1_threshold needs at least one anomaly among the labels")
    precision, recall, thresholds = skm.precision_recall_curve(labels, scores)
    p, r = precision[:-1], recall[:-1]  # the last point (recall 0) has no threshold
    f1 = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=p + r > 0)
    best = len(f1) - 1 - int(np.argmax(f1[::-1]))  # thresholds ascend: the last maximum is the highest
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


def threshold_report(labels, scores, threshold: float) -> dict[str, float]:
    """Point metrics of ``scores`` ``[T]`` against ``labels`` ``[T]`` at a threshold fixed beforehand
    (from training data): ROC-AUC, PR-AUC, precision / recall / F1 of ``scores > threshold``
    WITHOUT point adjustment, and the point-adjusted F1 (``pa_f1``, inflated, shown beside only)."""
    labels, scores = _check(labels, scores)
    flags = scores > threshold
    report = {"roc_auc": roc_auc(labels, scores), "pr_auc": average_precision(labels, scores),
              **precision_recall_f1(labels, flags), "flagged": float(flags.mean()), "base_rate": float(labels.mean())}
    report["pa_f1"] = precision_recall_f1(labels, point_adjust(flags, labels))["f1"]
    return report
