"""Figures a person would rather see than read: reconstructions, similarity matrices,
learning curves, forecasts and comparisons. Each plotting function returns a matplotlib Figure.

One style for every comparison (the notebooks, :mod:`simmtm.comparison`,
:mod:`simmtm.experiments.analyses`): where methods are close, show what differs — the paired
difference to a reference (random init) per seed, with its mean and spread around a zero line —
or a zoomed axis whose range is written on the figure and marked "zoomed"; never a 0-100 axis
that hides the effect. Error bars only from 2 or more seeds (else the figure says "1 seed" and
draws none); integer ticks for epochs and counts; every axis labelled with its unit; legends off
the data; colourbars labelled. The small pure helpers below (:func:`paired_difference`,
:func:`mean_spread`, :func:`zoomed_limits`, :func:`seed_note`) carry the arithmetic and are tested.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

SIMMTM_RED, REFERENCE_GREY, OTHER_BLUE = "tab:red", "0.45", "tab:blue"


def _np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


# --- pure helpers ---------------------------------------------------------------------------------

def seed_note(n: int) -> str:
    """``"1 seed"`` or ``"n seeds"``."""
    return f"{n} seed" if n == 1 else f"{n} seeds"


def mean_spread(values: Iterable[float]) -> tuple[float, float | None]:
    """Mean and standard deviation (ddof 0, as in the result tables) of ``values``; the spread is
    None for fewer than 2 values: one seed has no error bar."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError("mean_spread needs at least one value")
    return float(v.mean()), (float(v.std()) if v.size >= 2 else None)


def paired_difference(rows: Iterable[Mapping], metric: str, reference: Mapping, *, arm: tuple[str, ...] = ("variant",),
                      by: tuple[str, ...] = (), pair: str = "seed") -> dict[tuple, dict]:
    """Per-seed differences to a reference arm: for every arm (the values of the ``arm`` fields)
    within every group (the ``by`` fields), ``{seed: row[metric] - reference_row[metric]}``, where
    the reference row is the one matching ``reference`` (e.g. ``{"variant": "random init"}``) in
    the same group with the same ``pair`` value. Keys are ``(*group, *arm)``, in first-seen order;
    the reference arm itself and seeds without a reference row are left out.

    >>> rows = [{"variant": "a", "seed": 0, "acc": 0.75}, {"variant": "ref", "seed": 0, "acc": 0.5}]
    >>> paired_difference(rows, "acc", {"variant": "ref"})
    {('a',): {0: 0.25}}
    """
    rows = list(rows)
    is_ref = lambda r: all(r.get(k) == v for k, v in reference.items())  # noqa: E731
    refs = {(tuple(r[k] for k in by), r[pair]): r[metric] for r in rows if is_ref(r)}
    out: dict[tuple, dict] = {}
    for r in rows:
        group = tuple(r[k] for k in by)
        if is_ref(r) or (group, r[pair]) not in refs:
            continue
        out.setdefault((*group, *(r[k] for k in arm)), {})[r[pair]] = r[metric] - refs[(group, r[pair])]
    return out


def zoomed_limits(values: Iterable[float], *, pad: float = 0.12, include: Iterable[float] = ()) -> tuple[float, float]:
    """Axis limits around ``values`` (and every point in ``include``, e.g. 0 for a difference
    axis) with ``pad`` of the range added on each side; a range of zero widens to +-5 % of the
    value (or +-1 at 0) so that a flat line still sits inside the axis."""
    v = np.asarray([*values, *include], dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("zoomed_limits needs at least one finite value")
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo
    if span == 0:
        half = abs(lo) * 0.05 or 1.0
        return lo - half, hi + half
    return lo - pad * span, hi + pad * span


def zoom_note(lo: float, hi: float, unit: str = "", digits: int = 3) -> str:
    """The text written on a zoomed axis: ``"zoomed: 0.280 to 0.430"`` (+ unit)."""
    return f"zoomed: {lo:.{digits}f} to {hi:.{digits}f}" + (f" {unit}" if unit else "")


# --- small drawing helpers ------------------------------------------------------------------------

def integer_ticks(ax, axis: str = "x") -> None:
    """Integer-only ticks on ``axis`` ("x", "y" or "both"): epochs and counts have no 0.5."""
    for name in ("x", "y") if axis == "both" else (axis,):
        getattr(ax, f"{name}axis").set_major_locator(MaxNLocator(integer=True))


def legend_outside(ax, *, where: str = "right", **kw):
    """A legend beside (``"right"``) or below (``"below"``) the axes, never on the data."""
    kw.setdefault("fontsize", 8)
    if where == "below":
        return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=kw.pop("ncol", 3),
                         frameon=False, **kw)
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False, **kw)


def zoom_axis(ax, values: Iterable[float], *, axis: str = "y", unit: str = "", digits: int = 3,
              include: Iterable[float] = ()) -> str:
    """Set a zoomed range on ``axis`` around ``values`` and return its note ("zoomed: a to b");
    on the y-axis the note is added under the axis label (set the label first), off the data. For
    the x-axis the caller puts the note in its label."""
    lo, hi = zoomed_limits(values, include=include)
    getattr(ax, f"set_{axis}lim")(lo, hi)
    note = zoom_note(lo, hi, unit, digits)
    if axis == "y":
        ax.set_ylabel(f"{ax.get_ylabel()}\n[{note}]" if ax.get_ylabel() else f"[{note}]")
    return note


def draw_paired_dots(ax, diffs: Mapping[str, Mapping], *, labels: list[str] | None = None,
                     colors: Mapping[str, str] | None = None, zero: bool = True) -> None:
    """Horizontal dot plot of per-seed values ``{label: {seed: value}}``, one row per label of
    ``labels`` (default: the keys; top to bottom; a label without values leaves its row empty):
    small dots per seed, a diamond at the mean, a bar of ±1 std only when there are 2+ seeds, and
    (``zero``) a line at 0 for differences. The caller labels the x-axis (metric, unit, sign)."""
    labels = list(diffs) if labels is None else list(labels)
    for i, label in enumerate(labels):
        v = np.asarray(list(diffs.get(label, {}).values()), dtype=np.float64)
        if v.size == 0:
            continue
        y = len(labels) - 1 - i
        c = (colors or {}).get(label, OTHER_BLUE)
        ax.scatter(v, np.full(len(v), y) + np.linspace(-0.12, 0.12, len(v)) * (len(v) > 1), s=14, color=c,
                   alpha=0.55, lw=0, clip_on=False, zorder=3)
        m, s = mean_spread(v)
        ax.errorbar([m], [y], xerr=None if s is None else [[s], [s]], fmt="D", ms=7, color=c, mec="black",
                    mew=0.6, capsize=4, clip_on=False, zorder=4)
    if zero:
        ax.axvline(0, color="black", lw=0.9, zorder=2.5)
    ax.set_yticks(range(len(labels)), labels[::-1], fontsize=8)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    values = [d for v in diffs.values() for d in v.values()]
    if values:
        ax.set_xlim(*zoomed_limits(values, include=[0.0] if zero else [], pad=0.15))
    ax.grid(axis="x", color="0.9", lw=0.6)


def arm_color(name: str) -> str:
    """SimMTM red, random init / no pre-training grey, every other method blue."""
    low = name.lower()
    if low.startswith("simmtm") or low.startswith("full"):
        return SIMMTM_RED
    if low.startswith("none") or low.startswith("random init"):
        return REFERENCE_GREY
    return OTHER_BLUE


# --- figures --------------------------------------------------------------------------------------

def plot_reconstruction(x: torch.Tensor, reconstruction: torch.Tensor, mask: torch.Tensor | None = None,
                        *, n_series: int = 3, channel: int = 0, n_views: int | None = None, title: str = "",
                        unit: str = "standardized", time_unit: str = ""):
    """Originals ``[B, L, C]`` against SimMTM's rebuilt originals; with ``mask``
    (``[(M+1)*B, L, C]``) the first masked view's hidden points are shaded. Name the dataset and
    split in ``title``; ``unit`` is the y unit, ``time_unit`` the length of a step (e.g. "15 min")."""
    x, rec = _np(x), _np(reconstruction)
    n = min(n_series, len(x))
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.9 * n + 0.8), sharex=True, squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(x[i, :, channel], color="black", lw=1.2, label="original")
        ax.plot(rec[i, :, channel], color="tab:red", lw=1.2, label="reconstruction")
        if mask is not None:
            hidden = _np(mask)[len(x) + i, :, channel] == 0  # first masked view of series i
            edges = np.flatnonzero(np.diff(np.concatenate([[False], hidden, [False]]).astype(int)))
            for start, end in zip(edges[::2], edges[1::2]):  # one shaded band per masked span
                ax.axvspan(start - 0.5, end - 0.5, color="tab:blue", alpha=0.12, lw=0,
                           label="masked in view 1" if start == edges[0] else None)
        ax.set_ylabel(f"window {i}\n({unit})", fontsize=8)
    legend_outside(axes[0, 0])
    axes[-1, 0].set_xlabel("time step" + (f" (1 step = {time_unit})" if time_unit else ""))
    integer_ticks(axes[-1, 0])
    fig.suptitle(title or f"SimMTM reconstruction, channel {channel}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_similarity(similarity: torch.Tensor, n_series: int | None = None, *, title: str = "series-wise similarity",
                    colorbar: str = "cosine similarity", xlabel: str = "row (originals, then view 1, view 2, ...)",
                    ylabel: str = "row"):
    """Heat map of an ``[R, R]`` similarity (or ``[rows, R]`` weight) matrix with square cells and
    a labelled colourbar; lines separate the original block from the views when ``n_series``
    (rows per view) is given."""
    s = _np(similarity)
    rows, cols = s.shape
    cell = min(0.3, 6.0 / max(rows, cols))  # inches per cell: square cells, at most 6 inches of matrix
    fig, ax = plt.subplots(figsize=(cols * cell + 2.4, rows * cell + 1.3))
    im = ax.imshow(s, cmap="viridis", aspect="equal", interpolation="nearest")
    if n_series:
        for k in range(n_series, cols, n_series):
            ax.axvline(k - 0.5, color="white", lw=0.6)
            if k < rows:
                ax.axhline(k - 0.5, color="white", lw=0.6)
    integer_ticks(ax, "both")
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, shrink=0.9 if rows > 12 else 1.0).set_label(colorbar, fontsize=8)
    fig.tight_layout()
    return fig


CURVE_LABELS = {"train_loss": "training windows", "val_loss": "validation windows",
                "train_loss_rec": "training: reconstruction", "val_loss_rec": "validation: reconstruction",
                "train_loss_con": "training: constraint", "val_loss_con": "validation: constraint",
                "val_mse": "validation MSE", "val_accuracy": "validation accuracy"}


def plot_learning_curves(history: list[dict], keys: tuple[str, ...] = ("train_loss", "val_loss"), *, title: str = "",
                         ylabel: str = "loss (SimMTM objective, a.u.)", best_epoch: int | None = None):
    """Per-epoch curves of the given history keys (missing keys are skipped), named in words, on
    integer epoch ticks; ``best_epoch`` (the kept one) is marked."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    epochs = [row["epoch"] for row in history]
    for key in keys:
        if all(key in row for row in history):
            ax.plot(epochs, [row[key] for row in history], marker="o", label=CURVE_LABELS.get(key, key))
    if best_epoch is not None:
        ax.axvline(best_epoch, color="0.5", ls=":", lw=1, label=f"kept (epoch {best_epoch})")
    integer_ticks(ax)
    if len(epochs) == 1:
        ax.set_xlim(epochs[0] - 0.5, epochs[0] + 0.5)
    ax.set_xlabel("epoch (0 = first)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    legend_outside(ax)
    fig.tight_layout()
    return fig


def plot_forecast(x: torch.Tensor, y: torch.Tensor, predictions: dict[str, torch.Tensor], *, channel: int = -1,
                  title: str = "", ylabel: str = "standardized value", time_unit: str = "",
                  scale: tuple[float, float] | None = None, unit: str = ""):
    """One input window ``[L, C]``, its future ``[H, C]`` and named forecasts ``[H, C]``. Name the
    dataset, split, channel and horizon in ``title``; ``time_unit`` (e.g. "15 min") labels the
    steps. With ``scale = (mean, std)`` of the channel, a right-hand axis shows original units
    (``unit``, e.g. "°C"). The legend sits below the axes."""
    x, y = _np(x), _np(y)
    L = len(x)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    t_in, t_out = np.arange(-L, 0), np.arange(0, len(y))
    ax.plot(t_in, x[:, channel], color="black", lw=1, label="input")
    ax.plot(t_out, y[:, channel], color="black", ls="--", lw=1, label="truth")
    for name, p in predictions.items():
        ax.plot(t_out, _np(p)[:, channel], lw=1.3, label=name)
    ax.axvline(-0.5, color="grey", lw=0.8)
    ax.set_xlabel("time step relative to the forecast start" + (f" (1 step = {time_unit})" if time_unit else ""))
    integer_ticks(ax)
    ax.set_ylabel(ylabel)
    if scale is not None:
        mean, std = float(scale[0]), float(scale[1])
        sec = ax.secondary_yaxis("right", functions=(lambda v: v * std + mean, lambda v: (v - mean) / std))
        sec.set_ylabel(f"original units{f' ({unit})' if unit else ''}")
    ax.set_title(title or f"forecast of {len(y)} steps, channel {channel}", fontsize=9)
    legend_outside(ax, where="below", ncol=min(5, 2 + len(predictions)))
    fig.tight_layout()
    return fig


def plot_horizons(frame, *, metric: str = "mse", title: str = "", rows: list[dict] | None = None,
                  paper_average: float | None = None):
    """Test ``metric`` per horizon for each init (a frame from
    :func:`simmtm.experiments.forecasting.summary_frame`) on a zoomed axis, with the paper's
    SimMTM numbers as crosses (or its four-horizon average as a dashed line); and, given the
    per-seed ``rows`` (:func:`simmtm.experiments.forecasting.study_rows`), a second panel with
    the paired difference SimMTM - random init per seed and horizon around a zero line."""
    horizons = sorted(frame["horizon"].unique())
    panels = 2 if rows else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.2 * panels, 4.4), squeeze=False)
    ax = axes[0, 0]
    shown = []
    for k, (init, part) in enumerate(frame.groupby("init", sort=False)):
        part = part.sort_values("horizon")  # an init may not have every horizon yet (a study in progress)
        n = int(part["seeds"].min())
        spread = part[f"{metric}_std"] if n >= 2 else None
        ax.errorbar(part["horizon"] + (k - 0.5) * 8, part[f"{metric}_mean"], yerr=spread, marker="o", capsize=3,
                    color=arm_color(init), label=f"{init} (mean of {seed_note(n)}" + (", ± std)" if n >= 2 else ")"),
                    clip_on=False)
        shown += list(part[f"{metric}_mean"])
    paper = frame.drop_duplicates("horizon").set_index("horizon").loc[horizons, f"paper_{metric}"]
    if paper.notna().any():
        ax.plot(horizons, paper, "kx", ms=9, mew=2, ls="none", label="paper SimMTM", clip_on=False)
        shown += list(paper.dropna())
    if paper_average is not None and not paper.notna().any():
        ours = frame[frame["init"] == "SimMTM"][f"{metric}_mean"]
        note = f" (ours: {ours.mean():.3f})" if len(ours) == 4 else ""
        ax.axhline(paper_average, color="black", ls="--", lw=1,
                   label=f"paper SimMTM, 4-horizon average {paper_average:.3f}{note}")
        shown.append(paper_average)
    ax.set_xticks(horizons)
    ax.set_xlabel("horizon (steps)")
    ax.set_ylabel(f"test {metric.upper()} (standardized scale)")
    zoom_axis(ax, shown)
    ax.set_title("test " + metric.upper() + " by horizon", fontsize=9)
    legend_outside(ax, where="below", ncol=2)
    if rows:
        ax2 = axes[0, 1]
        diffs = paired_difference(rows, metric, {"init": "random init"}, arm=("init",), by=("horizon",))
        for (h, init), per_seed in diffs.items():
            v = np.asarray(list(per_seed.values()))
            ax2.scatter(np.full(len(v), h) + np.linspace(-10, 10, len(v)) * (len(v) > 1), v, s=16, color=SIMMTM_RED,
                        alpha=0.5, lw=0, clip_on=False)
            m, s = mean_spread(v)
            ax2.errorbar([h], [m], yerr=None if s is None else [[s], [s]], fmt="D", ms=7, color=SIMMTM_RED,
                         mec="black", mew=0.6, capsize=4, clip_on=False)
        seeds = {len(v) for v in diffs.values()}
        ax2.axhline(0, color="black", lw=0.9, zorder=2.5)
        ax2.set_xticks(horizons)
        ax2.set_xlim(horizons[0] - 60, horizons[-1] + 60)
        vals = [d for v in diffs.values() for d in v.values()]
        if vals:
            ax2.set_ylim(*zoomed_limits(vals, include=[0.0], pad=0.15))
        ax2.set_xlabel("horizon (steps)")
        ax2.set_ylabel(f"Δ test {metric.upper()}, SimMTM − random init\n(standardized; < 0: pre-training helps)",
                       fontsize=8)
        ax2.set_title("paired by seed: dots = seeds, diamond = mean"
                      + (" ± std" if min(seeds, default=1) >= 2 else f" ({seed_note(min(seeds, default=1))})"),
                      fontsize=9)
        ax2.grid(axis="y", color="0.9", lw=0.6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
