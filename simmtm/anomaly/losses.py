"""Losses of the self-distilled masked autoencoder (pure functions on ``[B, L, C]`` tensors;
``mask``: 1 = observed, 0 = masked).

    L = rec + lambda * (mean_normal d + w * mean_anomalous max(0, margin - d))

``rec`` is the teacher's MSE on masked positions of normal windows; ``d`` a window's
teacher-student discrepancy on masked positions with the teacher detached (the student distils
the teacher on normal data and is pushed away from it on labelled anomalies); ``w`` ramps the
anomaly term in (:func:`warmup_weight`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` ``[B, L, C]`` over each window's masked cells -> ``[B]``."""
    hidden = 1.0 - mask
    return (values * hidden).sum((1, 2)) / hidden.sum((1, 2)).clamp_min(1.0)


def discrepancy(teacher: torch.Tensor, student: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-window mean of ``(teacher - student)^2`` over masked cells -> ``[B]``."""
    return masked_mean((teacher - student) ** 2, mask)


def margin_loss(d: torch.Tensor, margin: float) -> torch.Tensor:
    """``max(0, margin - d)`` elementwise: zero once a discrepancy clears the margin."""
    return torch.relu(margin - d)


def warmup_weight(epoch: int, warmup_epochs: int) -> float:
    """Weight of the anomaly term: ``0`` at epoch 0 rising linearly to ``1`` at ``warmup_epochs``."""
    return 1.0 if warmup_epochs <= 0 else min(1.0, epoch / warmup_epochs)


@dataclass
class DistillationLoss:
    """The loss and its parts (scalars)."""

    loss: torch.Tensor
    rec: torch.Tensor
    normal: torch.Tensor
    anomaly: torch.Tensor

    @property
    def terms(self) -> dict[str, torch.Tensor]:
        return {"rec": self.rec.detach(), "normal": self.normal.detach(), "anomaly": self.anomaly.detach()}


def _mean_over(values: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    """Mean of ``values[select]`` (0 when nothing is selected, keeping the graph)."""
    w = select.to(values.dtype)
    return (values * w).sum() / w.sum().clamp_min(1.0)


def distillation_loss(teacher: torch.Tensor, student: torch.Tensor, x: torch.Tensor, mask: torch.Tensor,
                      labels: torch.Tensor, *, lam: float = 1.0, margin: float = 1.0,
                      anomaly_weight: float = 1.0) -> DistillationLoss:
    """The self-distillation objective for a batch with window ``labels`` ``[B]`` (1 = labelled anomaly)."""
    normal = labels == 0
    rec = _mean_over(masked_mean((teacher - x) ** 2, mask), normal)
    d = discrepancy(teacher.detach(), student, mask)  # [B]
    d_normal = _mean_over(d, normal)
    d_anomaly = _mean_over(margin_loss(d, margin), ~normal)
    return DistillationLoss(rec + lam * (d_normal + anomaly_weight * d_anomaly), rec, d_normal, d_anomaly)


def reconstruction_loss(reconstruction: torch.Tensor, x: torch.Tensor, mask: torch.Tensor,
                        labels: torch.Tensor) -> torch.Tensor:
    """MSE on masked positions of normal windows (the plain masked autoencoder's loss)."""
    return _mean_over(masked_mean((reconstruction - x) ** 2, mask), labels == 0)
