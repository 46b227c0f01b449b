"""Every input check in one place: each raises a ValueError (or an OSError for paths) naming
the argument, so a bad value ends in one line before any work. Tensors (:func:`check_series`),
numbers and choices (the configs' ``__post_init__``), forecasting horizons against a dataset's
splits and output paths for writability (checked before a run starts, never after hours)."""
from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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


def check_int(name: str, value: Any, low: int = 1) -> None:
    """``value`` is an integer >= ``low`` (ValueError naming ``name`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_real(name: str, value: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False,
          high_open: bool = True) -> None:
    """``value`` is a finite number within the bounds (open or closed; ValueError naming ``name``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        rule = " and ".join(r for r in ((f"{'>' if low_open else '>='} {low:g}" if low is not None else ""),
                                        (f"{'<' if high_open else '<='} {high:g}" if high is not None else "")) if r)
        raise ValueError(f"{name} must be a finite number{' ' + rule if rule else ''}, got {value!r}")


def check_choice(name: str, value: Any, choices: tuple) -> None:
    """``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_sizes(name: str, values: Any, length: int | None = None, low: int = 1) -> None:
    """``values`` is a non-empty tuple (of ``length``) of integers >= ``low``."""
    if not isinstance(values, (tuple, list)) or not values or (length is not None and len(values) != length):
        size = f"{length} " if length is not None else ""
        raise ValueError(f"{name} must be a non-empty tuple of {size}integers, got {values!r}")
    for v in values:
        check_int(f"every {name} entry", v, low)


def largest_horizon(data, seq_len: int) -> int:
    """The longest horizon whose windows fit every split of ``data`` at input length ``seq_len``."""
    return min(end - start for start, end in data.borders.values()) - seq_len


def check_horizons(data, horizons: Iterable[int], seq_len: int) -> list[int]:
    """Refuse (ValueError) the first horizon that is not a positive integer or does not fit every
    split of ``data`` (each needs ``seq_len + horizon`` rows); returns the horizons as a list."""
    horizons = list(horizons)
    if not horizons:
        raise ValueError("give at least one horizon")
    fits = largest_horizon(data, seq_len)
    for h in horizons:
        if isinstance(h, bool) or not isinstance(h, int) or h < 1:
            raise ValueError(f"horizons must be positive integers, got {h!r}")
        if h > fits:
            short = min(data.borders, key=lambda s: data.borders[s][1] - data.borders[s][0])
            rows = data.borders[short][1] - data.borders[short][0]
            raise ValueError(f"horizon {h} does not fit {data.name}: its {short} split has {rows} rows, fewer than "
                             f"seq_len {seq_len} + {h}; the longest horizon that fits is {max(fits, 0)}")
    return horizons


def check_writable(path: str | Path, *, folder: bool = False) -> Path:
    """Fail before any work if ``path`` (a file, or with ``folder`` a directory) cannot be
    written; creates nothing (the writer makes missing folders when it writes)."""
    path = Path(path)
    if path.is_dir() and not folder:
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    if folder and path.exists() and not path.is_dir():
        raise NotADirectoryError(f"cannot write into {path}: it is a file")
    probe = path if folder else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: {probe} is not writable")
    return path


# --- values typed on the command line (text in, the value out, or a ValueError saying what is wrong) ---

def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"must be {'an integer' if kind is int else 'a number'}, got {text}") from None


def parse_positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise ValueError(f"must be a positive integer, got {text}")
    return value


def parse_positive_float(text: str) -> float:
    value = _number(text, float)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"must be a finite number > 0, got {text}")
    return value


def parse_dropout(text: str) -> float:
    value = _number(text, float)
    if not 0 <= value < 1:
        raise ValueError(f"must be in [0, 1), got {text}")
    return value


def parse_ratio(text: str) -> float:
    value = _number(text, float)
    if not 0 < value < 1:
        raise ValueError(f"must be strictly between 0 and 1, got {text}")
    return value


def parse_fraction(text: str) -> float:
    value = _number(text, float)
    if not 0 < value <= 1:
        raise ValueError(f"must be in (0, 1], got {text}")
    return value


def parse_scale_point(text: str) -> tuple[int, int | None]:
    """``EPOCHS:WINDOWS`` (``WINDOWS`` a count or ``all``) -> ``(epochs, windows or None)``."""
    epochs, _, windows = text.partition(":")
    try:
        point = (int(epochs), None if windows in ("", "all") else int(windows))
    except ValueError:
        raise ValueError(f"expected EPOCHS:WINDOWS (e.g. 10:8192 or 30:all), got {text!r}") from None
    if point[0] < 1 or (point[1] is not None and point[1] < 1):
        raise ValueError(f"epochs and windows must be >= 1, got {text!r}")
    return point
