"""Checks made before any training, so that a run never fails after hours on something it could
have seen at the start: every horizon against the data's splits, every output folder for
writability (the device string is checked by :func:`simmtm.device.check_device`)."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from simmtm.data.forecasting import SPLITS, ForecastingData


def largest_horizon(data: ForecastingData, seq_len: int) -> int:
    """The longest horizon whose windows fit every split of ``data`` at input length ``seq_len``."""
    return min(end - start for start, end in data.borders.values()) - seq_len


def check_horizons(data: ForecastingData, horizons: Iterable[int], seq_len: int) -> list[int]:
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
            short = min(SPLITS, key=lambda s: data.borders[s][1] - data.borders[s][0])
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
