"""Input checks shared by the public functions: each raises a ValueError naming the argument."""
from __future__ import annotations

import math

import torch


def check_series(name: str, x: torch.Tensor, *, channels: int | None = None, length: int | None = None) -> None:
    """Check that ``x`` is a float tensor ``[B, L, C]`` (optionally with given C / L) and, when it
    is on the CPU, that it is finite. On an accelerator the finiteness check would force a
    host-device sync every step, so it is left to the datasets (which check once, at loading)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape [B, L, C], got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"{name} must have shape [B, L, C] (3 dims), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {tuple(x.shape)}")
    if length is not None and x.shape[1] != length:
        raise ValueError(f"{name} has length L={x.shape[1]} but the model expects L={length}")
    if channels is not None and x.shape[2] != channels:
        raise ValueError(f"{name} has C={x.shape[2]} channels but the model expects C={channels}")
    if x.device.type == "cpu" and not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values; impute or drop them first")


def check_probability(name: str, value: float) -> None:
    """Check ``0 < value < 1``."""
    if not (isinstance(value, (int, float)) and 0 < value < 1):
        raise ValueError(f"{name} must be in the open interval (0, 1), got {value!r}")


def check_positive(name: str, value: float) -> None:
    """Check ``value > 0``."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
