"""Trivial point-score baselines for a series ``[T, C]`` (higher = more anomalous), each fit on the
training part ``values[:train_end]`` only and scoring every step. Multichannel scores are the
mean over channels of per-channel scores on the training part's scale.

    random           uniform noise (the chance level of every metric)
    rolling-zscore   |x_t - mean| / std over the previous ``window`` steps (a windowed Gaussian)
    abs-diff         |x_t - x_{t-1}|
    iforest          scikit-learn's IsolationForest on sliding windows, fit on training windows
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simmtm.anomaly.series import sliding_windows, window_point_scores, window_starts

BASELINES = ("random", "rolling-zscore", "abs-diff", "iforest")


def _scaled(values: np.ndarray, train_end: int) -> np.ndarray:
    """``values`` ``[T, C]`` float64 standardised per channel by the training part's mean and std."""
    values = np.asarray(values, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    if not 1 <= train_end <= len(values):
        raise ValueError(f"train_end must be in [1, {len(values)}], got {train_end}")
    train = values[:train_end]
    std = train.std(0)
    return (values - train.mean(0)) / np.where(std > 0, std, 1.0)


def random_scores(values: np.ndarray, train_end: int, *, seed: int = 0) -> np.ndarray:
    """Uniform random scores ``[T]`` (seeded)."""
    return np.random.default_rng(seed).random(len(_scaled(values, train_end)))


def rolling_zscore(values: np.ndarray, train_end: int, *, window: int = 64, min_std: float = 1e-3) -> np.ndarray:
    """``|x_t - m_t| / max(s_t, min_std)`` with ``m_t, s_t`` the mean and std of the previous ``window``
    steps (fewer at the start; 0 for the first two steps), averaged over channels ``-> [T]``."""
    x = pd.DataFrame(_scaled(values, train_end))
    past = x.shift(1).rolling(window, min_periods=2)
    z = (x - past.mean()).abs() / past.std(ddof=0).clip(lower=min_std)
    return z.fillna(0.0).to_numpy().mean(1)


def abs_diff(values: np.ndarray, train_end: int) -> np.ndarray:
    """``|x_t - x_{t-1}|`` (0 at the first step), averaged over channels ``-> [T]``."""
    x = _scaled(values, train_end)
    return np.abs(np.diff(x, axis=0, prepend=x[:1])).mean(1)


def isolation_forest(values: np.ndarray, train_end: int, *, length: int = 64, stride: int = 1, seed: int = 0,
                     max_train_windows: int = 2000) -> np.ndarray:
    """IsolationForest (100 trees) fit on the training part's windows of ``length`` (at most
    ``max_train_windows``, evenly spaced), scoring windows every ``stride`` steps; a step's score is
    the mean anomaly score (``-score_samples``) of the windows covering it ``-> [T]``."""
    from sklearn.ensemble import IsolationForest

    x = _scaled(values, train_end)
    flat = lambda w: w.reshape(len(w), -1)  # noqa: E731  [N, L*C]
    train_starts = window_starts(train_end, length, 1)
    train_starts = train_starts[np.unique(np.linspace(0, len(train_starts) - 1, max_train_windows).astype(int))]
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(flat(sliding_windows(x, train_starts, length)))
    starts = window_starts(len(x), length, stride)
    return window_point_scores(-forest.score_samples(flat(sliding_windows(x, starts, length))), starts, length, len(x))


def baseline_scores(name: str, values: np.ndarray, train_end: int, *, length: int = 64, seed: int = 0) -> np.ndarray:
    """Scores ``[T]`` of the baseline ``name`` (one of ``BASELINES``)."""
    if name == "random":
        return random_scores(values, train_end, seed=seed)
    if name == "rolling-zscore":
        return rolling_zscore(values, train_end, window=length)
    if name == "abs-diff":
        return abs_diff(values, train_end)
    if name == "iforest":
        return isolation_forest(values, train_end, length=length, seed=seed)
    raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")
