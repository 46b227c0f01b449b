"""Decision thresholds from the TRAINING part's scores only (never from test labels or test scores).

A threshold for a target false-alarm rate ``r`` is the ``1 - r`` quantile of the training part's
point scores: at most a fraction ``r`` of training points score above it, and a point is flagged
when its score is strictly above the threshold.
"""
from __future__ import annotations

import numpy as np


def train_threshold(train_scores: np.ndarray, false_alarm_rate: float = 0.01) -> float:
    """The ``1 - false_alarm_rate`` quantile (linear interpolation) of ``train_scores`` ``[T_train]``."""
    scores = np.asarray(train_scores, dtype=np.float64).ravel()
    if not 0 < false_alarm_rate < 1:
        raise ValueError(f"false_alarm_rate must be in (0, 1), got {false_alarm_rate}")
    if scores.size == 0 or not np.isfinite(scores).all():
        raise ValueError("training scores must be a non-empty array of finite values")
    return float(np.quantile(scores, 1.0 - false_alarm_rate))


def flag(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean flags ``scores > threshold`` (same shape as ``scores``)."""
    return np.asarray(scores, dtype=np.float64) > threshold
