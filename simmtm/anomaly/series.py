"""Point scores for a whole series: sliding windows, each point scored in every window covering it.

    values [T, C] --windows (stride)--> [N, L, C] --k partition masks--> cell scores [N, L, C]
                  --mean over C--> [N, L] --mean over the windows covering each step--> [T]

Scoring masks are deterministic: the window's patches of ``patch_len`` steps are dealt to ``k``
groups (patch ``j`` to group ``j mod k``) and the window is passed ``k`` times, each time with one
group hidden, so every cell of every window is hidden, and scored, exactly once. Windows start
every ``stride`` steps, plus one ending at the last step, so every point (the first ones too) is
covered on a series of any length >= ``L``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from tqdm.auto import tqdm

from simmtm.anomaly.data import window_starts
from simmtm.anomaly.scoring import CellScores


def sliding_windows(values: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Windows ``[N, L, C]`` of ``values`` ``[T, C]`` starting at ``starts`` ``[N]``."""
    return values[np.asarray(starts)[:, None] + np.arange(length)]


def aggregate_points(window_scores: np.ndarray, starts: np.ndarray, n_steps: int) -> np.ndarray:
    """Per-step scores ``[T]``: the mean of ``window_scores`` ``[N, L]`` over every window covering
    the step (NaN entries, i.e. points a window did not score, are skipped).

    Raises:
        ValueError: a step no window scored.
    """
    window_scores = np.asarray(window_scores, dtype=np.float64)
    N, L = window_scores.shape
    if len(starts) != N:
        raise ValueError(f"need one start per window: {len(starts)} starts for {N} windows")
    index = (np.asarray(starts)[:, None] + np.arange(L)).ravel()  # [N*L]
    flat = window_scores.ravel()
    scored = np.isfinite(flat)
    total = np.bincount(index[scored], weights=flat[scored], minlength=n_steps)
    count = np.bincount(index[scored], minlength=n_steps)
    if len(total) != n_steps or (count == 0).any():
        raise ValueError(f"{int((count == 0).sum())} of {n_steps} steps are covered by no scored window")
    return total / count


def partition_masks(length: int, n_channels: int, k: int, patch_len: int) -> torch.Tensor:
    """``k`` masks ``[k, L, C]`` (1 = observed): mask ``g`` hides the patches ``j`` with ``j mod k == g``,
    all channels; together they hide every cell exactly once."""
    if k < 2:
        raise ValueError(f"need k >= 2 scoring masks (k = 1 would hide the whole window), got {k}")
    if patch_len < 1:
        raise ValueError(f"patch_len must be >= 1, got {patch_len}")
    group = (torch.arange(length) // patch_len) % k  # [L]
    hidden = group[None, :] == torch.arange(k)[:, None]  # [k, L]
    return (~hidden).float()[:, :, None].expand(k, length, n_channels).contiguous()


@torch.no_grad()
def series_cell_scores(model: nn.Module, windows: np.ndarray, cells: CellScores, *, k: int, patch_len: int,
                       batch_size: int = 256, device: str | torch.device = "cpu", progress: bool = True,
                       desc: str = "scoring windows") -> np.ndarray:
    """Point scores ``[..., N, L]`` of ``windows`` ``[N, L, C]``: each cell scored by ``cells`` under the
    one partition mask hiding it, then averaged over channels. ``cells`` returns ``[B, L, C]``, or
    ``[S, B, L, C]`` for ``S`` scores read off the same forward pass (the output is then ``[S, N, L]``)."""
    device = torch.device(device)
    x = torch.as_tensor(np.ascontiguousarray(windows, dtype=np.float32))
    N, L, C = x.shape
    masks = partition_masks(L, C, k, patch_len).to(device)  # [k, L, C]
    model.eval()
    out = []
    for batch in tqdm(x.split(batch_size), desc=desc, disable=not progress, leave=False):
        batch = batch.to(device)  # [B, L, C]
        total = 0.0
        for mask in masks:
            mask_b = mask.expand_as(batch)
            total = total + cells(model, batch, mask_b) * (1.0 - mask_b)  # [..., B, L, C]
        out.append(total.mean(-1).cpu())  # [..., B, L]
    return torch.cat(out, dim=-2).numpy()


def score_series(model: nn.Module, values: np.ndarray, cells: CellScores, *, length: int, stride: int, k: int,
                 patch_len: int, batch_size: int = 256, device: str | torch.device = "cpu",
                 progress: bool = True) -> np.ndarray:
    """Scores ``[T]`` (``[S, T]`` for a ``cells`` giving ``S`` scores) of every step of ``values``
    ``[T]`` or ``[T, C]`` (already scaled as in training)."""
    values = np.asarray(values, dtype=np.float32)
    values = values[:, None] if values.ndim == 1 else values
    starts = window_starts(len(values), length, stride)
    cell = series_cell_scores(model, sliding_windows(values, starts, length), cells, k=k, patch_len=patch_len,
                              batch_size=batch_size, device=device, progress=progress)
    if cell.ndim == 3:
        return np.stack([aggregate_points(c, starts, len(values)) for c in cell])
    return aggregate_points(cell, starts, len(values))


def window_point_scores(window_scores: np.ndarray, starts: np.ndarray, length: int, n_steps: int) -> np.ndarray:
    """Per-step scores ``[T]`` from one score per window ``[N]``: each step gets the mean score of the
    windows covering it (for window-level scorers such as an IsolationForest)."""
    window_scores = np.asarray(window_scores, dtype=np.float64)
    return aggregate_points(np.repeat(window_scores[:, None], length, axis=1), starts, n_steps)


def smooth_scores(scores: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average ``[T]`` of ``scores`` ``[T]`` over ``width`` steps (fewer at both ends);
    ``width <= 1`` returns the scores unchanged. Any scorer's point scores can be smoothed alike."""
    scores = np.asarray(scores, dtype=np.float64)
    if width <= 1:
        return scores
    return pd.Series(scores).rolling(width, center=True, min_periods=1).mean().to_numpy()
