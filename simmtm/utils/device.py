"""Which device a run uses (shared by the training loops and the torch.distributed plumbing)."""
from __future__ import annotations

import torch


KNOWN = ("cpu", "cuda", "mps")


def check_device(device: str | torch.device) -> str:
    """Validate a device string up front (before any data is read or model built): ``auto``,
    ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, and available on this machine. Returns it;
    raises ValueError with one clear line otherwise (``--device tpu7``)."""
    text = str(device)
    if text == "auto":
        return text
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"unknown device {text!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type not in KNOWN:
        raise ValueError(f"unsupported device {text!r}: use auto, cpu, cuda, cuda:N or mps")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {text!r} was requested but CUDA is not available here (use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {text!r} was requested but MPS is not available here")
    return text


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; otherwise ``torch.device(device)``, checked by
    :func:`check_device` (ValueError for an unknown or unavailable device)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(check_device(device))
