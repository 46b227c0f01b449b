"""Per-series instance normalisation over observed points only (the forecasting model's
input normalisation, as in the official code; RevIN without affine parameters).

Legend: B batch (any number of rows), L length, C channels. Statistics are per row and channel.
"""
from __future__ import annotations

import torch
import torch.nn as nn


def masked_instance_norm(
    x: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalise every series and channel by the mean and std of its OBSERVED points.

    Args:
        x: series ``[B, L, C]`` (masked points may hold anything; they are ignored).
        mask: ``[B, L, C]``, 1 = observed, 0 = masked; ``None`` means all observed.
        eps: added to the variance.

    Returns:
        ``(x_norm, mean, std)``: ``x_norm`` is ``[B, L, C]`` with masked points set to 0;
        ``mean`` and ``std`` are ``[B, 1, C]`` and detached (as in the official code).
    """
    if mask is None:
        mask = torch.ones_like(x)
    if mask.shape != x.shape:
        raise ValueError(f"mask {tuple(mask.shape)} must match x {tuple(x.shape)}")
    mask = mask.to(x.dtype)
    count = mask.sum(dim=1, keepdim=True).clamp_min(1.0)  # [B, 1, C]
    mean = ((x * mask).sum(dim=1, keepdim=True) / count).detach()  # [B, 1, C]
    centred = (x - mean) * mask  # [B, L, C]
    std = torch.sqrt((centred**2).sum(dim=1, keepdim=True) / count + eps).detach()  # [B, 1, C]
    return centred / std, mean, std


class InstanceNorm(nn.Module):
    """Module form: ``normalize(x, mask) -> (x_norm, stats)`` and ``denormalize(y, stats)``."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def normalize(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        x_norm, mean, std = masked_instance_norm(x, mask, self.eps)
        return x_norm, (mean, std)

    @staticmethod
    def denormalize(y: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Undo the normalisation on ``y`` ``[B, H, C]`` (any length H) with ``[B, 1, C]`` stats."""
        mean, std = stats
        return y * std + mean
