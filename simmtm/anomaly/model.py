"""Masked autoencoders for anomaly detection on the package's channel-independent Transformer.

    x [B, L, C] --mask--> encoder --> tokens [B, C, T, D] --> teacher decoder (deep)   --> [B, L, C]
                                                          \\-> student decoder (shallow) --> [B, L, C]

:class:`SelfDistilledMAE` is the detector (score = teacher-student discrepancy on masked
positions); :class:`MaskedAutoencoder` (one decoder, score = reconstruction error) is the baseline.
Masked values are set to 0 before encoding, as in SimMTM, so a SimMTM-pre-trained encoder fits.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from simmtm.encoders import TransformerLayer
from simmtm.utils.checks import check_series


class TokenDecoder(nn.Module):
    """``n_layers`` Transformer layers over each channel's tokens, then ``Linear(D -> P)`` per token.
    ``[B, C, T, D] -> [B, T*P, C]`` (P = steps per token)."""

    def __init__(self, d_model: int, n_heads: int, n_layers: int, d_ff: int, dropout: float = 0.1,
                 steps_per_token: int = 1):
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))
        self.out = nn.Linear(d_model, steps_per_token)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        B, C, T, D = z.shape
        h = z.reshape(B * C, T, D)
        for layer in self.layers:
            h = layer(h)  # [B*C, T, D]
        return self.out(h).view(B, C, -1).transpose(1, 2)  # [B, L, C]


def _encode(encoder: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    check_series("x", x)
    if mask.shape != x.shape:
        raise ValueError(f"mask must have the shape of x {tuple(x.shape)}, got {tuple(mask.shape)}")
    return encoder(x * mask)  # [B, C, T, D]


class MaskedAutoencoder(nn.Module):
    """Encoder + one decoder reconstructing the input from its observed part."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``[B, L, C]`` of ``x`` from ``x * mask``."""
        return self.decoder(_encode(self.encoder, x, mask))


class SelfDistilledMAE(nn.Module):
    """Shared encoder feeding a deep teacher and a shallow student decoder."""

    def __init__(self, encoder: nn.Module, teacher: nn.Module, student: nn.Module):
        super().__init__()
        self.encoder, self.teacher, self.student = encoder, teacher, student

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(teacher, student)`` reconstructions, each ``[B, L, C]``."""
        z = _encode(self.encoder, x, mask)  # [B, C, T, D]
        return self.teacher(z), self.student(z)
