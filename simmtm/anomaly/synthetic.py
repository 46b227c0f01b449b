"""Synthetic anomaly benchmark: seasonal windows with five labelled anomaly types.

Each window is a sum of two sinusoids per channel plus Gaussian noise (seeded numpy, float32,
time before channels). An anomalous window gets ONE anomaly of one type over a contiguous
region ``[start, end)`` in a random non-empty subset of channels; only that region of those
channels changes, and the changed time steps are the window's point labels (the whole region, or
for spikes their points).

Types (``ANOMALY_TYPES``):
    spike            a few isolated points offset by 4-8 noise-free standard deviations
    noise            a burst of strong extra Gaussian noise
    drift            the mean shifted by a constant over the region
    trend            a linear ramp added over the region
    frequency        the region's seasonal swing replaced by one of equal size and a 3-6 step period
"""
from __future__ import annotations

import numpy as np

from simmtm.anomaly.data import AnomalyWindows

ANOMALY_TYPES = ("spike", "noise", "drift", "trend", "frequency")


def _region(length: int, rng: np.random.Generator, min_len: int, max_len: int) -> tuple[int, int]:
    n = int(rng.integers(min_len, max_len + 1))
    start = int(rng.integers(0, length - n + 1))
    return start, start + n


def inject(x: np.ndarray, seasonal: np.ndarray, kind: str, start: int, end: int, channels: np.ndarray,
           rng: np.random.Generator, noise_std: float = 0.1) -> np.ndarray:
    """A copy of ``x`` ``[L, C]`` with an anomaly of ``kind`` on rows ``[start, end)`` of ``channels``.

    ``seasonal`` ``[L, C]`` is the noise-free part of ``x`` (used by ``spike`` for its scale and
    by ``frequency``). Rows outside the region and the other channels are left unchanged.
    """
    if kind not in ANOMALY_TYPES:
        raise ValueError(f"unknown anomaly type {kind!r}; choose from {ANOMALY_TYPES}")
    L = len(x)
    if not 0 <= start < end <= L:
        raise ValueError(f"region [{start}, {end}) is not inside a window of length {L}")
    out = x.copy()
    n = end - start
    scale = seasonal.std(0) + 1e-6  # [C]
    for c in channels:
        if kind == "spike":  # isolated points, always including the first and last of the region
            n_points = max(1, min(n, 1 + n // 8))
            rows = np.unique(np.concatenate([[start, end - 1], rng.integers(start, end, n_points)]))
            sign = rng.choice([-1.0, 1.0], size=len(rows))
            out[rows, c] += sign * rng.uniform(4, 8, size=len(rows)) * scale[c]
        elif kind == "noise":
            out[start:end, c] += rng.normal(0, 1.5 * scale[c] + 5 * noise_std, n)
        elif kind == "drift":
            out[start:end, c] += rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 3.0) * scale[c]
        elif kind == "trend":
            slope = rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 4.0) * scale[c] / max(n, 1)
            out[start:end, c] += slope * np.arange(1, n + 1)
        else:  # frequency: the seasonal swing replaced by one of the same size and a 3-6 step period
            level = seasonal[:, c].mean()
            fast = np.sqrt(2) * scale[c] * np.sin(2 * np.pi * np.arange(n) / rng.uniform(3, 6) + rng.uniform(0, 2 * np.pi))
            out[start:end, c] += level + fast - seasonal[start:end, c]
    return out


def make_anomaly_windows(
    n_windows: int,
    length: int = 96,
    n_channels: int = 1,
    *,
    anomaly_ratio: float = 0.25,
    types: tuple[str, ...] = ANOMALY_TYPES,
    noise_std: float = 0.1,
    region: tuple[int, int] | None = None,
    seed: int = 0,
) -> AnomalyWindows:
    """``n_windows`` seasonal windows ``[L, C]``, a fraction ``anomaly_ratio`` of them anomalous.

    Anomaly types cycle through ``types`` (equal counts up to one); the region length is drawn
    in ``region`` (default ``[L/16, L/4]``). Window order is shuffled. Deterministic given ``seed``.
    """
    if n_windows < 1 or length < 8 or n_channels < 1:
        raise ValueError(f"need n_windows >= 1, length >= 8 and n_channels >= 1, got {n_windows}, {length}, {n_channels}")
    if not 0 <= anomaly_ratio <= 1:
        raise ValueError(f"anomaly_ratio must be in [0, 1], got {anomaly_ratio}")
    unknown = set(types) - set(ANOMALY_TYPES)
    if unknown or not types:
        raise ValueError(f"types must be a non-empty subset of {ANOMALY_TYPES}, got {types}")
    lo, hi = region if region is not None else (max(2, length // 16), max(3, length // 4))
    if not 1 <= lo <= hi <= length:
        raise ValueError(f"region lengths must satisfy 1 <= min <= max <= length, got {(lo, hi)}")
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)[:, None]  # [L, 1]
    periods = rng.uniform(12, 48, size=(n_windows, 1, n_channels))
    seasonal = (np.sin(2 * np.pi * t / periods + rng.uniform(0, 2 * np.pi, (n_windows, 1, n_channels)))
                + 0.5 * np.sin(4 * np.pi * t / periods + rng.uniform(0, 2 * np.pi, (n_windows, 1, n_channels)))
                + rng.normal(0, 0.5, (n_windows, 1, n_channels)))  # [N, L, C]
    x = seasonal + rng.normal(0, noise_std, seasonal.shape)
    n_anomalous = int(round(anomaly_ratio * n_windows))
    kinds = np.array([""] * n_windows, dtype=object)
    kinds[:n_anomalous] = [types[i % len(types)] for i in range(n_anomalous)]
    point_labels = np.zeros((n_windows, length), dtype=bool)
    for i in range(n_anomalous):
        start, end = _region(length, rng, lo, hi)
        channels = np.flatnonzero(rng.random(n_channels) < 0.5) if n_channels > 1 else np.array([0])
        if len(channels) == 0:
            channels = np.array([rng.integers(n_channels)])
        before = x[i].copy()
        x[i] = inject(before, seasonal[i], kinds[i], start, end, channels, rng, noise_std)
        point_labels[i] = np.any(x[i] != before, axis=1)  # the region (spikes: their points only)
    order = rng.permutation(n_windows)
    labels = (np.arange(n_windows) < n_anomalous).astype(np.int64)
    return AnomalyWindows(x[order].astype(np.float32), point_labels[order], labels[order], kinds[order])


SERIES_ANOMALIES = ("spike", "level", "noise", "trend", "flat")


def inject_series(values: np.ndarray, *, n_anomalies: int, region: tuple[int, int] = (8, 32),
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``values`` ``[T, C]`` with ``n_anomalies`` non-overlapping synthetic anomalies, and
    their point labels ``[T]`` (for validation on a training part that holds no labels).

    Types cycle through ``SERIES_ANOMALIES``, on all channels, sized by each channel's std over the
    whole of ``values`` (σ): ``spike`` 1-3 points offset by ±4-8σ; ``level`` a ±2-3σ shift; ``noise``
    added N(0, 1.5σ); ``trend`` a ramp reaching ±2-4σ; ``flat`` the value frozen (a stuck sensor).
    Region lengths are drawn in ``region``; deterministic given ``seed``.
    """
    x = np.array(values, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    T, C = x.shape
    lo, hi = region
    if not 1 <= lo <= hi or n_anomalies < 1 or T < n_anomalies * 2 * hi:
        raise ValueError(f"cannot place {n_anomalies} anomalies of {lo}-{hi} steps in {T} steps")
    rng = np.random.default_rng(seed)
    sigma = np.where(x.std(0) > 0, x.std(0), 1.0)  # [C]
    labels = np.zeros(T, dtype=bool)
    slot = T // n_anomalies  # one anomaly per slot, so they never overlap
    for i in range(n_anomalies):
        kind = SERIES_ANOMALIES[i % len(SERIES_ANOMALIES)]
        n = int(rng.integers(lo, hi + 1))
        start = i * slot + int(rng.integers(0, slot - n + 1))
        rows = slice(start, start + n)
        sign = rng.choice([-1.0, 1.0], size=C)
        if kind == "spike":
            points = start + rng.choice(n, size=min(n, int(rng.integers(1, 4))), replace=False)
            x[points] += sign * rng.uniform(4, 8, size=(len(points), C)) * sigma
            labels[points] = True
            continue
        if kind == "level":
            x[rows] += sign * rng.uniform(2, 3, size=C) * sigma
        elif kind == "noise":
            x[rows] += rng.normal(0, 1.5, size=(n, C)) * sigma
        elif kind == "trend":
            x[rows] += sign * rng.uniform(2, 4, size=C) * sigma * np.arange(1, n + 1)[:, None] / n
        else:
            x[rows] = x[start]
        labels[rows] = True
    return x, labels
