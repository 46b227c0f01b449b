"""Inference: anomaly scores of windows and of their points.

A cell score function maps ``(model, x, mask)`` to per-cell scores ``[B, L, C]``, of which only the
masked cells are used: :func:`discrepancy_cells` (the self-distilled detector) or
:func:`reconstruction_cells` (a plain masked autoencoder). :func:`score_windows` masks either
the last ``n_last`` steps (streaming use: the newest points are scored) or ``n_masks`` random
masks of the training strategy whose scores are averaged per cell.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn

from simmtm.anomaly.masking import anomaly_mask, last_steps_mask

CellScores = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def discrepancy_cells(model: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(teacher - student)^2`` per cell for a :class:`~simmtm.anomaly.model.SelfDistilledMAE`."""
    teacher, student = model(x, mask)
    return (teacher.float() - student.float()) ** 2


def reconstruction_cells(model: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(reconstruction - x)^2`` per cell for a :class:`~simmtm.anomaly.model.MaskedAutoencoder`."""
    return (model(x, mask).float() - x) ** 2


@torch.no_grad()
def score_windows(model: nn.Module, x: np.ndarray | torch.Tensor, cells: CellScores, *, n_last: int | None = None,
                  n_masks: int = 8, ratio: float = 0.6, strategy: str = "patch", patch_len: int = 8,
                  batch_size: int = 256, device: str | torch.device = "cpu", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Window scores ``[N]`` and point scores ``[N, L]`` of windows ``x`` ``[N, L, C]``.

    With ``n_last``, the last ``n_last`` steps are masked and scored (earlier points get NaN point
    scores). Otherwise ``n_masks`` random masks (``ratio``, ``strategy``, ``patch_len``; seeded by
    ``seed``) are averaged: a cell's score is its mean over the masks that hid it, a point's the
    mean over its hidden channels, and a window's the mean over all hidden cells; points no mask
    hid get the window's score.
    """
    device = torch.device(device)
    x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x).float()
    if n_last is None and n_masks < 1:
        raise ValueError(f"n_masks must be >= 1, got {n_masks}")
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    windows, points = [], []
    for batch in x.split(batch_size):
        batch = batch.to(device)
        shape = tuple(batch.shape)
        masks = ([last_steps_mask(shape, n_last, device=device)] if n_last is not None else
                 [anomaly_mask(shape, ratio, strategy, patch_len=patch_len, generator=generator) for _ in range(n_masks)])
        total = torch.zeros(shape, device=device)  # [B, L, C] summed scores of hidden cells
        count = torch.zeros(shape, device=device)  # [B, L, C] times each cell was hidden
        for mask in masks:
            hidden = 1.0 - mask
            total += cells(model, batch, mask) * hidden
            count += hidden
        windows.append(total.sum((1, 2)) / count.sum((1, 2)).clamp_min(1.0))  # [B]
        per_point = total.sum(2) / count.sum(2)  # [B, L]; NaN where never hidden
        if n_last is None:
            per_point = torch.where(count.sum(2) > 0, per_point, windows[-1][:, None].expand_as(per_point))
        points.append(per_point)
    return torch.cat(windows).cpu().numpy(), torch.cat(points).cpu().numpy()
