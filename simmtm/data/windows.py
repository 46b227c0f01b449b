"""Sliding windows over a series and layout conversion; the datasets the engine iterates."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


def channels_last(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``[N, C, L]`` (TF-C ``.pt`` layout) or ``[N, L]`` -> float32 ``[N, L, C]``, the layout
    every simmtm model takes."""
    x = torch.as_tensor(x)
    if x.dim() == 2:
        return x.float().unsqueeze(-1)  # [N, L, 1]
    if x.dim() != 3:
        raise ValueError(f"expected [N, C, L] or [N, L], got shape {tuple(x.shape)}")
    return x.float().transpose(1, 2).contiguous()  # [N, L, C]


class SlidingWindows(Dataset):
    """Every window of a series ``[T, C]``: input ``[seq_len, C]`` and target ``[pred_len, C]``.

    Window ``i`` starts at row ``i`` (no aliasing of neighbouring windows); there are
    ``T - seq_len - pred_len + 1`` of them. ``pred_len = 0`` gives input-only windows (for
    pre-training) and an empty target.
    """

    def __init__(self, series: np.ndarray | torch.Tensor, seq_len: int, pred_len: int = 0):
        data = torch.as_tensor(series, dtype=torch.float32)
        if data.dim() != 2:
            raise ValueError(f"series must be [T, C], got shape {tuple(data.shape)}")
        if seq_len < 1 or pred_len < 0:
            raise ValueError(f"need seq_len >= 1 and pred_len >= 0, got {seq_len}, {pred_len}")
        if len(data) < seq_len + pred_len:
            raise ValueError(f"series has {len(data)} rows, fewer than seq_len + pred_len = {seq_len + pred_len}")
        if not torch.isfinite(data).all():
            raise ValueError("series contains NaN or infinite values; impute or drop them first")
        self.data, self.seq_len, self.pred_len = data, seq_len, pred_len

    def __len__(self) -> int:
        return len(self.data) - self.seq_len - self.pred_len + 1

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        split = i + self.seq_len
        return self.data[i:split], self.data[split:split + self.pred_len]  # [L, C], [H, C]


class LabelledSeries(Dataset):
    """Labelled windows ``X: [N, L, C]``, ``y: [N]`` (integer classes)."""

    def __init__(self, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor):
        self.x = torch.as_tensor(x, dtype=torch.float32)
        self.y = torch.as_tensor(y, dtype=torch.long)
        if self.x.dim() != 3:
            raise ValueError(f"x must be [N, L, C], got shape {tuple(self.x.shape)}")
        if self.y.shape != (len(self.x),):
            raise ValueError(f"y must be [N] with N = {len(self.x)}, got shape {tuple(self.y.shape)}")
        if not torch.isfinite(self.x).all():
            raise ValueError("x contains NaN or infinite values")

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]
