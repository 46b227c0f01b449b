"""Synthetic series for the offline demo, tests and the fallback when real data is missing.

Both generators are seeded numpy code (``numpy.random.default_rng``) so that the same seed
gives the same data on every machine, and return float32 arrays with time before channels.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter  # scipy comes with scikit-learn: the AR recursion in C, not a Python loop


def synthetic_multivariate(
    n_steps: int = 8000,
    n_channels: int = 7,
    *,
    periods: tuple[float, ...] = (24.0, 168.0),
    n_factors: int = 3,
    n_regimes: int = 4,
    noise: float = 0.3,
    seed: int = 0,
) -> np.ndarray:
    """A multichannel series ``[n_steps, n_channels]`` that looks like sensor/load data.

    Channels are mixtures of ``n_factors`` shared latent factors (so channels correlate), each
    factor being a sum of seasonalities with the given ``periods`` (random amplitudes and
    phases, plus harmonics) on a slow random-walk trend. ``n_regimes`` change points switch
    levels and seasonal amplitudes; AR(1) noise of scale ``noise`` is added per channel.
    """
    if n_steps < 2 or n_channels < 1:
        raise ValueError(f"need n_steps >= 2 and n_channels >= 1, got {n_steps}, {n_channels}")
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps, dtype=np.float64)
    # Regimes: piecewise-constant level shifts and amplitude multipliers.
    bounds = np.sort(rng.choice(np.arange(1, n_steps), size=min(n_regimes - 1, n_steps - 1), replace=False))
    regime = np.searchsorted(bounds, t, side="right")  # [T] regime index
    factors = np.empty((n_steps, n_factors))
    for f in range(n_factors):
        amp = rng.uniform(0.5, 1.5, size=regime.max() + 1)[regime]
        level = rng.normal(0.0, 1.0, size=regime.max() + 1)[regime]
        season = np.zeros(n_steps)
        for p in periods:
            for harmonic in (1, 2):
                season += rng.uniform(0.2, 1.0) / harmonic * np.sin(2 * np.pi * harmonic * t / p + rng.uniform(0, 2 * np.pi))
        trend = np.cumsum(rng.normal(0, 0.02, n_steps))
        factors[:, f] = amp * season + level + trend
    loadings = rng.normal(0, 1, size=(n_factors, n_channels))  # [F, C]
    series = factors @ loadings + rng.normal(0, 1, n_channels)  # [T, C]
    eps = rng.normal(0, noise, size=(n_steps, n_channels))
    for i in range(1, n_steps):  # AR(1) noise, phi = 0.5
        eps[i] += 0.5 * eps[i - 1]
    return (series + eps).astype(np.float32)


def synthetic_classification(
    n_samples: int = 600,
    seq_len: int = 178,
    n_channels: int = 1,
    n_classes: int = 3,
    *,
    noise: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Labelled series ``X: [N, L, C]`` and ``y: [N]`` (balanced classes ``0..n_classes-1``).

    Class k has a dominant frequency ``(k + 2)`` cycles per window with random phase and
    amplitude, plus a class-specific transient (a burst at a random position whose width grows
    with k) and coloured noise, so classes differ in spectrum and shape but overlap.
    """
    if n_classes < 2 or n_samples < n_classes:
        raise ValueError(f"need n_classes >= 2 and n_samples >= n_classes, got {n_classes}, {n_samples}")
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    rng.shuffle(y)
    t = np.linspace(0, 1, seq_len, endpoint=False)
    X = np.empty((n_samples, seq_len, n_channels), dtype=np.float32)
    for i, k in enumerate(y):
        freq = (k + 2) * rng.uniform(0.9, 1.1)
        centre, width = rng.uniform(0.2, 0.8), 0.02 * (k + 1)
        burst = rng.uniform(1.0, 2.0) * np.exp(-0.5 * ((t - centre) / width) ** 2)
        for c in range(n_channels):
            wave = rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
            red = np.cumsum(rng.normal(0, noise / np.sqrt(seq_len), seq_len))
            X[i, :, c] = wave + burst + red + rng.normal(0, noise, seq_len)
    return X, y.astype(np.int64)


def synthetic_corpus_series(n_steps: int, *, seed=0) -> np.ndarray:
    """One univariate series ``[n_steps]`` (float64) for the general forecaster's corpus: a random
    composition of a trend (linear, damped or random walk), one to three seasonalities (periods
    log-uniform in [4, 512], with harmonics, some with drifting amplitude), AR(2) noise, level
    shifts and rare spikes. ``seed`` is anything ``numpy.random.default_rng`` takes (the corpus
    passes ``(seed, window index, purpose)`` so every window is reproducible on its own)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps, dtype=np.float64)
    u = t / max(n_steps - 1, 1)
    kind = rng.integers(3)
    if kind == 0:
        trend = rng.normal(0, 1.5) * u
    elif kind == 1:
        trend = rng.normal(0, 1.5) * (1 - np.exp(-u * rng.uniform(1, 6)))
    else:
        trend = np.cumsum(rng.normal(0, rng.uniform(0.005, 0.05), n_steps))
    season = np.zeros(n_steps)
    for _ in range(rng.integers(1, 4)):
        period = float(np.exp(rng.uniform(np.log(4), np.log(512))))
        amp = rng.uniform(0.2, 1.5) * (1 + rng.uniform(-0.8, 0.8) * u if rng.random() < 0.3 else 1)
        for harmonic in range(1, rng.integers(1, 4) + 1):
            season += amp / harmonic * np.sin(2 * np.pi * harmonic * t / period + rng.uniform(0, 2 * np.pi))
    phi1, phi2 = rng.uniform(-0.2, 0.9), rng.uniform(-0.3, 0.3)
    if abs(phi1) + abs(phi2) >= 0.98:  # keep the AR(2) noise stationary
        phi2 = np.sign(phi2) * (0.97 - abs(phi1))
    eps = rng.normal(0, rng.uniform(0.05, 0.6), n_steps)
    noise = lfilter([1.0], [1.0, -phi1, -phi2], eps)  # noise[i] = eps[i] + phi1 noise[i-1] + phi2 noise[i-2]
    series = trend + season + noise
    for _ in range(rng.poisson(0.7)):  # level shifts
        series[rng.integers(n_steps):] += rng.normal(0, 1.0)
    spikes = rng.random(n_steps) < rng.choice([0.0, 0.002, 0.01])
    series[spikes] += rng.normal(0, 3.0, spikes.sum())
    return series * np.exp(rng.normal(0, 1)) + rng.normal(0, 5)
