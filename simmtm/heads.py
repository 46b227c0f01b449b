"""Heads on point-wise representations ``z: [N, K, T, D]`` (see :mod:`simmtm.encoders`).

- projectors map each representation row ``[R, T, D]`` to a series-wise vector ``[R, P]``;
- decoders / task heads map ``[N, K, T, D]`` back to series ``[N, H, C]`` (H = L to
  reconstruct, H = horizon to forecast) or to class logits ``[N, n_classes]``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn


def mlp(sizes: Sequence[int], *, batch_norm: bool = False, activation: type[nn.Module] = nn.ReLU,
        dropout: float = 0.0) -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]``; (BN,) activation (, dropout) between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += ([nn.BatchNorm1d(b)] if batch_norm else []) + [activation()]
            layers += [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(*layers)


def rows_to_series(y: torch.Tensor) -> torch.Tensor:
    """``[N, K, H, c] -> [N, H, K*c]``: per-row outputs back to series with channels last."""
    N, K, H, c = y.shape
    return y.permute(0, 2, 1, 3).reshape(N, H, K * c)


class FlattenProjector(nn.Module):
    """The official projector: flatten ``[R, T*D]`` -> Linear(T*D, hidden) -> BN -> ReLU ->
    Linear(hidden, out_dim). ``hidden`` defaults to ``T*D // 2`` as in the official code."""

    def __init__(self, in_steps: int, in_dim: int, out_dim: int = 128, hidden: int | None = None):
        super().__init__()
        n_in = in_steps * in_dim
        self.net = mlp([n_in, hidden or max(n_in // 2, 1), out_dim], batch_norm=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # [R, T, D] -> [R, P]
        return self.net(z.flatten(1))


class PooledProjector(nn.Module):
    """A light projector: mean over time ``[R, D]`` -> Linear -> BN -> ReLU -> Linear.
    Its size does not grow with the series length (the flatten projector's first layer alone
    has 57.8M weights at L=336, D=32)."""

    def __init__(self, in_dim: int, out_dim: int = 128, hidden: int | None = None):
        super().__init__()
        self.net = mlp([in_dim, hidden or 2 * in_dim, out_dim], batch_norm=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # [R, T, D] -> [R, P]
        return self.net(z.mean(dim=1))


class PointwiseDecoder(nn.Module):
    """Decode every token on its own with an MLP ``D -> ... -> steps_per_token * out_channels``
    (ours, not the official decoder, which is :class:`FlattenHead` over the whole row; a few
    dozen weights instead of millions; patch tokens of P steps use ``steps_per_token = P``).
    ``[N, K, T, D] -> [N, T * steps_per_token, K*out]``."""

    def __init__(self, in_dim: int, out_channels: int = 1, hidden: Sequence[int] = (), steps_per_token: int = 1):
        super().__init__()
        self.steps, self.out_channels = steps_per_token, out_channels
        self.net = mlp([in_dim, *hidden, steps_per_token * out_channels], activation=nn.GELU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        N, K, T, _ = z.shape
        y = self.net(z).view(N, K, T * self.steps, self.out_channels)  # [N, K, L, c]
        return rows_to_series(y)  # [N, L, K*c]


class FlattenHead(nn.Module):
    """Flatten each row ``[N, K, T*D]`` -> MLP -> ``out_steps * out_channels`` -> ``[N, out_steps, K*out_channels]``.

    The official reconstruction decoder in both tasks (forecasting pre-training: ``Flatten_Head``,
    ``Linear(L*D, L)`` per channel; classification: ``T*D = 1280, out_steps = 178``) and the
    forecasting head (``Linear(L*D, horizon)`` per channel, then dropout).
    """

    def __init__(self, in_steps: int, in_dim: int, out_steps: int, out_channels: int = 1,
                 hidden: Sequence[int] = (), dropout: float = 0.0):
        super().__init__()
        self.out_steps, self.out_channels = out_steps, out_channels
        self.net = mlp([in_steps * in_dim, *hidden, out_steps * out_channels], activation=nn.GELU)
        self.dropout = nn.Dropout(dropout)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        N, K = z.shape[:2]
        y = self.dropout(self.net(z.flatten(2)))  # [N, K, H*c]
        return rows_to_series(y.view(N, K, self.out_steps, self.out_channels))  # [N, H, K*c]


class ClassificationHead(nn.Module):
    """Flatten all rows ``[N, K*T*D]`` -> Linear(hidden) -> activation -> Linear(n_classes).
    The official head uses ``hidden = 64`` with a sigmoid in between."""

    def __init__(self, in_features: int, n_classes: int, hidden: int = 64,
                 activation: type[nn.Module] = nn.Sigmoid, dropout: float = 0.0):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        self.net = mlp([in_features, hidden, n_classes], activation=activation, dropout=dropout)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # [N, K, T, D] -> [N, n_classes]
        return self.net(z.flatten(1))
