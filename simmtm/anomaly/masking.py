"""Masks for the anomaly detector: float ``[B, L, C]``, 1 = observed, 0 = masked (the package's
convention, :mod:`simmtm.masking`). Every strategy masks an exact count, so the ratio holds per
window, not only on average.

Strategies (``STRATEGIES``):
    patch      contiguous blocks of ``patch_len`` steps, all channels: ``round(ratio * ceil(L/P))`` blocks
    token      single cells (time step, channel) anywhere in the window: ``round(ratio * L * C)`` cells
    temporal   whole time steps (all channels at once): ``round(ratio * L)`` steps
    feature    each channel on its own: ``round(ratio * L)`` steps per channel, drawn independently
"""
from __future__ import annotations

import math

import torch

from simmtm.utils.checks import check_probability

STRATEGIES = ("patch", "token", "temporal", "feature")


def _choose(rows: int, n: int, k: int, generator: torch.Generator | None, device) -> torch.Tensor:
    """Bool ``[rows, n]`` with exactly ``k`` True per row at random places."""
    scores = torch.rand(rows, n, generator=generator, device=device)
    chosen = torch.zeros(rows, n, dtype=torch.bool, device=device)
    if k > 0:
        chosen.scatter_(1, scores.topk(k, dim=1).indices, True)
    return chosen


def anomaly_mask(shape: tuple[int, int, int], ratio: float = 0.6, strategy: str = "patch", *, patch_len: int = 8,
                 generator: torch.Generator | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """A mask ``[B, L, C]`` (1 = observed) hiding a fraction ``ratio`` of each window by ``strategy``."""
    check_probability("ratio", ratio)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown masking strategy {strategy!r}; choose from {STRATEGIES}")
    B, L, C = shape
    device = device if device is not None else (generator.device if generator is not None else None)
    if strategy == "patch":
        if patch_len < 1:
            raise ValueError(f"patch_len must be >= 1, got {patch_len}")
        n_blocks = math.ceil(L / patch_len)
        blocks = _choose(B, n_blocks, round(ratio * n_blocks), generator, device)  # [B, n_blocks]
        masked = blocks.repeat_interleave(patch_len, dim=1)[:, :L, None].expand(B, L, C)
    elif strategy == "token":
        masked = _choose(B, L * C, round(ratio * L * C), generator, device).view(B, L, C)
    elif strategy == "temporal":
        masked = _choose(B, L, round(ratio * L), generator, device)[:, :, None].expand(B, L, C)
    else:  # feature: [B*C, L] -> [B, C, L] -> [B, L, C]
        masked = _choose(B * C, L, round(ratio * L), generator, device).view(B, C, L).transpose(1, 2)
    return (~masked).float().contiguous()


def last_steps_mask(shape: tuple[int, int, int], n_last: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """A mask ``[B, L, C]`` hiding the last ``n_last`` steps of every channel (streaming inference)."""
    B, L, C = shape
    if not 1 <= n_last < L:
        raise ValueError(f"n_last must be in [1, L) = [1, {L}), got {n_last}")
    keep = torch.arange(L, device=device) < L - n_last
    return keep[None, :, None].expand(B, L, C).float().contiguous()
