"""Figures for anomaly detection: score distributions, ROC curves, a window with its anomaly shaded."""
from __future__ import annotations

import numpy as np

from simmtm.anomaly.metrics import roc_auc, roc_curve


def plot_score_distributions(scores: dict[str, np.ndarray], labels: np.ndarray, *, bins: int = 40, title: str = ""):
    """One panel per method: histograms of normal vs anomalous window scores on a log10 axis, one
    legend for all panels beside the last. Name the data and split in ``title``. Returns the figure."""
    import matplotlib.pyplot as plt

    from simmtm.plotting import legend_outside

    labels = np.asarray(labels).astype(bool)
    fig, axes = plt.subplots(1, len(scores), figsize=(3.4 * len(scores) + 1.6, 3.0), squeeze=False)
    for ax, (name, s) in zip(axes[0], scores.items()):
        s = np.log10(np.maximum(np.asarray(s, dtype=np.float64), 1e-12))
        edges = np.linspace(s.min(), s.max(), bins + 1)
        ax.hist(s[~labels], edges, alpha=0.6, density=True, label=f"normal ({int((~labels).sum())} windows)",
                color="tab:blue")
        ax.hist(s[labels], edges, alpha=0.6, density=True, label=f"anomalous ({int(labels.sum())} windows)",
                color="tab:red")
        ax.set_title(f"{name} (ROC-AUC {roc_auc(labels, 10 ** s):.3f})", fontsize=9)
        ax.set_xlabel("log10 window score (score units)", fontsize=8)
    axes[0][0].set_ylabel("density (per log10 unit)", fontsize=8)
    legend_outside(axes[0][-1])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_roc_curves(scores: dict[str, np.ndarray], labels: np.ndarray, *, title: str = "test windows"):
    """ROC curves of several methods on the same labels, the chance diagonal labelled, the legend
    beside the axes. Returns the figure."""
    import matplotlib.pyplot as plt

    from simmtm.plotting import legend_outside

    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    for name, s in scores.items():
        fpr, tpr = roc_curve(labels, s)
        ax.plot(fpr, tpr, label=f"{name} (ROC-AUC {roc_auc(labels, s):.3f})")
    ax.plot([0, 1], [0, 1], ":", color="gray", label="chance (ROC-AUC 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("false-positive rate (share of normal windows flagged)", fontsize=8)
    ax.set_ylabel("true-positive rate\n(share of anomalous windows flagged)", fontsize=8)
    ax.set_title(title, fontsize=9)
    legend_outside(ax)
    fig.tight_layout()
    return fig


def plot_detection(x: np.ndarray, point_labels: np.ndarray, curves: dict[str, np.ndarray],
                   point_scores: np.ndarray | None = None, *, channel: int = 0, title: str = "", dots: bool = False,
                   unit: str = "standardized", score_label: str = "point score"):
    """A window's channel with its labelled anomaly shaded, model curves (e.g. teacher and student
    reconstructions) on top, drawn as dots with ``dots`` (e.g. only hidden points), and,
    optionally, the point scores below. The legend sits beside the axes and shows what is drawn.
    Returns the figure."""
    import matplotlib.pyplot as plt

    from simmtm.plotting import integer_ticks, legend_outside

    rows = 2 if point_scores is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(8.6, 2.3 * rows + 0.4), sharex=True, squeeze=False)
    t = np.arange(len(x))
    edges = np.diff(np.r_[0, np.asarray(point_labels, dtype=np.int8), 0])
    for ax in axes[:, 0]:
        for k, (start, end) in enumerate(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))):
            ax.axvspan(start - 0.5, end - 0.5, color="tab:red", alpha=0.15, lw=0,
                       label="labelled anomaly" if k == 0 and ax is axes[0, 0] else None)
    ax = axes[0, 0]
    ax.plot(t, x[:, channel], color="black", lw=1, label="series")
    for name, y in curves.items():
        if dots:
            ax.plot(t, y[:, channel], ls="none", marker=".", ms=6, label=name)
        else:
            ax.plot(t, y[:, channel], lw=1, label=name)
    ax.set_ylabel(f"value ({unit})", fontsize=8)
    legend_outside(ax)
    ax.set_title(title or "labelled anomaly shaded", fontsize=9)
    if point_scores is not None:
        axes[1, 0].plot(t, point_scores, color="tab:purple", lw=1)
        axes[1, 0].set_ylabel(score_label, fontsize=8)
    axes[-1, 0].set_xlabel("time step in the window")
    integer_ticks(axes[-1, 0])
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
