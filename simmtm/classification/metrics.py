"""Classification metrics over a whole evaluation set (never averaged per batch)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, average_precision_score, precision_recall_fscore_support, roc_auc_score


def classification_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Accuracy, macro precision / recall / F1, macro one-vs-rest AUROC and AUPRC.

    Args:
        y_true: labels ``[N]`` in ``0..K-1``.
        probs: class probabilities (or any scores monotone in them) ``[N, K]``.

    AUROC / AUPRC are NaN when the set holds a single class (undefined).
    """
    y_true = np.asarray(y_true)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(y_true):
        raise ValueError(f"probs must be [N, K] with N = {len(y_true)}, got {probs.shape}")
    n_classes = probs.shape[1]
    pred = probs.argmax(1)
    p, r, f1, _ = precision_recall_fscore_support(y_true, pred, labels=np.arange(n_classes), average="macro",
                                                  zero_division=0)
    out = {"accuracy": accuracy_score(y_true, pred), "precision": p, "recall": r, "f1": f1}
    onehot = np.eye(n_classes)[y_true]
    present = onehot.sum(0) > 0
    if present.sum() < 2:
        out["auroc"] = out["auprc"] = float("nan")
    else:  # classes absent from y_true have no ROC curve: average over the present ones
        out["auroc"] = roc_auc_score(onehot[:, present], probs[:, present], average="macro")
        out["auprc"] = average_precision_score(onehot[:, present], probs[:, present], average="macro")
    return {k: float(v) for k, v in out.items()}
