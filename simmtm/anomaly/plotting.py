"""Figures for anomaly detection: score distributions, ROC curves, a window with its anomaly shaded."""
from __future__ import annotations

import numpy as np

from simmtm.anomaly.metrics import roc_auc, roc_curve


def plot_score_distributions(scores: dict[str, np.ndarray], labels: np.ndarray, *, bins: int = 40):
    """One panel per method: histograms of normal vs anomalous window scores (log scale). Returns the figure."""
    import matplotlib.pyplot as plt

    labels = np.asarray(labels).astype(bool)
    fig, axes = plt.subplots(1, len(scores), figsize=(3.6 * len(scores), 2.8), squeeze=False)
    for ax, (name, s) in zip(axes[0], scores.items()):
        s = np.log10(np.maximum(np.asarray(s, dtype=np.float64), 1e-12))
        edges = np.linspace(s.min(), s.max(), bins + 1)
        ax.hist(s[~labels], edges, alpha=0.6, density=True, label="normal", color="tab:blue")
        ax.hist(s[labels], edges, alpha=0.6, density=True, label="anomalous", color="tab:red")
        ax.set_title(f"{name} (ROC-AUC {roc_auc(labels, 10 ** s):.3f})", fontsize=9)
        ax.set_xlabel("log10 window score")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_roc_curves(scores: dict[str, np.ndarray], labels: np.ndarray, *, title: str = "test windows"):
    """ROC curves of several methods on the same labels. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.8, 3.6))
    for name, s in scores.items():
        fpr, tpr = roc_curve(labels, s)
        ax.plot(fpr, tpr, label=f"{name} ({roc_auc(labels, s):.3f})")
    ax.plot([0, 1], [0, 1], ":", color="gray")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_detection(x: np.ndarray, point_labels: np.ndarray, curves: dict[str, np.ndarray],
                   point_scores: np.ndarray | None = None, *, channel: int = 0, title: str = ""):
    """A window's channel with its labelled anomaly shaded, model curves (e.g. teacher and student
    reconstructions) on top and, optionally, the point scores below. Returns the figure."""
    import matplotlib.pyplot as plt

    rows = 2 if point_scores is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(7, 2.2 * rows), sharex=True, squeeze=False)
    t = np.arange(len(x))
    for ax in axes[:, 0]:
        edges = np.diff(np.r_[0, np.asarray(point_labels, dtype=np.int8), 0])
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            ax.axvspan(start - 0.5, end - 0.5, color="tab:red", alpha=0.15, lw=0)
    ax = axes[0, 0]
    ax.plot(t, x[:, channel], color="black", lw=1, label="series")
    for name, y in curves.items():
        ax.plot(t, y[:, channel], lw=1, label=name)
    ax.legend(fontsize=7, ncol=3)
    ax.set_title(title or "labelled anomaly shaded", fontsize=9)
    if point_scores is not None:
        axes[1, 0].plot(t, point_scores, color="tab:purple", lw=1)
        axes[1, 0].set_ylabel("point score")
    axes[-1, 0].set_xlabel("time step")
    fig.tight_layout()
    return fig


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.r_[0, np.asarray(mask, dtype=np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def plot_series_scores(scores, columns: list[str], threshold: float, *, n_train: int | None = None,
                       labels: np.ndarray | None = None, title: str = "", value_unit: str = "value (units of the file)"):
    """A scored series (the table :meth:`AnomalyDetector.score` returns): the value column(s) on top
    with flagged steps shaded red (and labelled anomalies, if given, shaded grey), the score below
    with the threshold; the training part is marked. Dates on the x axis when there is a timestamp.
    Returns the figure."""
    import matplotlib.pyplot as plt

    t = scores["timestamp"].to_numpy() if "timestamp" in scores else np.arange(len(scores))
    flags = scores["flag"].to_numpy(bool)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 4.6), sharex=True, height_ratios=(3, 2))

    def shade(ax, mask, color, alpha, label):
        for i, (start, end) in enumerate(_spans(mask)):
            ax.axvspan(t[start], t[min(end, len(t) - 1)], color=color, alpha=alpha, lw=0, label=label if i == 0 else None)

    for ax in (top, bottom):
        if labels is not None:
            shade(ax, labels, "0.5", 0.3, "labelled anomaly")
        shade(ax, flags, "tab:red", 0.25, "flagged (score > threshold)")
        if n_train is not None and 0 < n_train < len(t):
            ax.axvline(t[n_train], color="black", ls="--", lw=1, label="end of training part")
    for column in columns:
        top.plot(t, scores[column].to_numpy(), lw=0.8, label=column)
    top.set_ylabel(value_unit)
    top.set_title(title or "series, anomaly score and flagged steps", fontsize=10)
    top.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    bottom.plot(t, scores["score"].to_numpy(), color="tab:purple", lw=0.8, label="score")
    bottom.axhline(threshold, color="tab:red", lw=1, ls=":", label="threshold (from training part)")
    bottom.set_yscale("log" if (scores["score"] > 0).all() else "linear")
    bottom.set_ylabel("anomaly score")
    bottom.set_xlabel("time" if "timestamp" in scores else "time step")
    bottom.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
