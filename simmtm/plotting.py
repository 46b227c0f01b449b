"""Figures a person would rather see than read: reconstructions, similarity matrices,
learning curves and forecasts. Each function returns a matplotlib Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def _np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def plot_reconstruction(x: torch.Tensor, reconstruction: torch.Tensor, mask: torch.Tensor | None = None,
                        *, n_series: int = 3, channel: int = 0, n_views: int | None = None):
    """Originals ``[B, L, C]`` against SimMTM's rebuilt originals; with ``mask``
    (``[(M+1)*B, L, C]``) the first masked view's hidden points are shaded."""
    x, rec = _np(x), _np(reconstruction)
    n = min(n_series, len(x))
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.2 * n), sharex=True, squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(x[i, :, channel], color="black", lw=1.2, label="original")
        ax.plot(rec[i, :, channel], color="tab:red", lw=1.2, label="reconstruction")
        if mask is not None:
            hidden = _np(mask)[len(x) + i, :, channel] == 0  # first masked view of series i
            edges = np.flatnonzero(np.diff(np.concatenate([[False], hidden, [False]]).astype(int)))
            for start, end in zip(edges[::2], edges[1::2]):  # one shaded band per masked span
                ax.axvspan(start - 0.5, end - 0.5, color="tab:blue", alpha=0.12, lw=0)
        ax.set_ylabel(f"series {i}")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time step" + ("  (shaded: masked in view 1)" if mask is not None else ""))
    fig.suptitle(f"SimMTM reconstruction, channel {channel}")
    fig.tight_layout()
    return fig


def plot_similarity(similarity: torch.Tensor, n_series: int | None = None, *, title: str = "series-wise similarity"):
    """Heat map of an ``[R, R]`` similarity (or ``[rows, R]`` weight) matrix; lines separate
    the original block from the views when ``n_series`` (rows per view) is given."""
    s = _np(similarity)
    fig, ax = plt.subplots(figsize=(5, 5 * s.shape[0] / s.shape[1] + 0.5))
    im = ax.imshow(s, cmap="viridis", aspect="auto", interpolation="nearest")
    if n_series:
        for k in range(n_series, s.shape[1], n_series):
            ax.axvline(k - 0.5, color="white", lw=0.6)
            if k < s.shape[0]:
                ax.axhline(k - 0.5, color="white", lw=0.6)
    ax.set_xlabel("row (originals, then view 1, view 2, ...)")
    ax.set_ylabel("row")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def plot_learning_curves(history: list[dict], keys: tuple[str, ...] = ("train_loss", "val_loss"), *, title: str = ""):
    """Per-epoch curves of the given history keys (missing keys are skipped)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [row["epoch"] for row in history]
    for key in keys:
        if all(key in row for row in history):
            ax.plot(epochs, [row[key] for row in history], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_forecast(x: torch.Tensor, y: torch.Tensor, predictions: dict[str, torch.Tensor], *, channel: int = -1,
                  title: str = "", ylabel: str = "standardized value"):
    """One input window ``[L, C]``, its future ``[H, C]`` and named forecasts ``[H, C]``; name
    the dataset, channel and horizon in ``title`` and the unit in ``ylabel``."""
    x, y = _np(x), _np(y)
    L = len(x)
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.plot(np.arange(L), x[:, channel], color="black", lw=1, label="input")
    ax.plot(np.arange(L, L + len(y)), y[:, channel], color="black", ls="--", lw=1, label="truth")
    for name, p in predictions.items():
        ax.plot(np.arange(L, L + len(y)), _np(p)[:, channel], lw=1.3, label=name)
    ax.axvline(L - 0.5, color="grey", lw=0.8)
    ax.legend(fontsize=8)
    ax.set_xlabel("time step")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"forecast of {len(y)} steps, channel {channel}")
    fig.tight_layout()
    return fig


def plot_horizons(frame, *, metric: str = "mse", title: str = ""):
    """Test ``metric`` per horizon, mean ± std over seeds, one line per init (a frame from
    :func:`simmtm.experiments.forecasting.summary_frame`), with the paper's SimMTM numbers as
    crosses. The y-axis starts at 0 so that seed noise does not read as a ranking."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    horizons = sorted(frame["horizon"].unique())
    for init, rows in frame.groupby("init", sort=False):
        rows = rows.sort_values("horizon")  # an init may not have every horizon yet (a study in progress)
        ax.errorbar(rows["horizon"], rows[f"{metric}_mean"], yerr=rows[f"{metric}_std"], marker="o", capsize=4,
                    label=f"{init} ({rows['seeds'].min()}-{rows['seeds'].max()} seeds)"
                    if rows["seeds"].nunique() > 1 else f"{init} ({rows['seeds'].iloc[0]} seed(s))")
    paper = frame.drop_duplicates("horizon").set_index("horizon").loc[horizons, f"paper_{metric}"]
    if paper.notna().any():
        ax.plot(horizons, paper, "kx", ms=9, mew=2, ls="none", label="paper SimMTM")
    ax.set_xticks(horizons)
    ax.set_xlabel("horizon (steps)")
    ax.set_ylabel(f"test {metric.upper()} (standardized scale)")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
