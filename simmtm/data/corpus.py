"""The multi-domain pre-training corpus of the general forecaster (:mod:`simmtm.forecasting.general`).

Real sources (each read from a data root, each split 70/10/20 by rows or by its standard borders):
ETTh1, ETTm1 and Weather (the benchmark files) and ``forecasting_corpus/``: daily exchange rates,
weekly US influenza-like illness, hourly Beijing PM2.5 and weather. Only their TRAINING rows feed
training windows and only their VALIDATION rows feed validation windows: no test row of any source
is ever read. ETT station 2 (ETTh2, ETTm2) is the held-out judge and is refused by construction
(:data:`HELD_OUT`). Synthetic series (:func:`simmtm.data.synthetic.synthetic_corpus_series`) are made
on the fly, one per window, from the window's index.

Windows are univariate (channel-independent model): ``x [L, 1]`` and, for forecasting, ``y [H, 1]``
with NaN where the series ends before ``H`` steps (the loss ignores those steps). Each window is
normalised by its context's mean and std (instance normalisation), so sources in any unit weigh alike.

    corpus = load_corpus("../shared/data")                  # {name: CorpusSeries}
    train = CorpusWindows(corpus, "train", 512, n_windows=20_000, synthetic_share=0.25, seed=0)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from simmtm.data.synthetic import synthetic_corpus_series

HELD_OUT = ("ETTh2", "ETTm2")  # ETT station 2: the general forecaster is judged on it, never trained on it
SYNTHETIC = "synthetic"
CLIP = 20.0  # normalised values beyond +-20 context stds (a jump after a calm context) are clipped
MIXES = ("sqrt", "equal", "size")  # how likely each real source is: sqrt of its window count, alike, or its count


@dataclass(frozen=True)
class CorpusSource:
    """One real source: its file under a data root and how its rows split."""

    path: str
    split: str  # "ett_hour", "ett_minute" (12/4/4 months) or "ratio" (70/10/20 by rows)
    note: str = ""


SOURCES: dict[str, CorpusSource] = {
    "ETTh1": CorpusSource("ETT-small/ETTh1.csv", "ett_hour", "electricity transformer 1, hourly, 7 channels"),
    "ETTm1": CorpusSource("ETT-small/ETTm1.csv", "ett_minute", "the same transformer, 15-minute, 7 channels"),
    "Weather": CorpusSource("weather/weather.csv", "ratio", "weather station, 10-minute, 21 channels"),
    "exchange": CorpusSource("forecasting_corpus/exchange_rate.csv", "ratio", "8 exchange rates, daily"),
    "illness": CorpusSource("forecasting_corpus/national_illness.csv", "ratio", "US influenza-like illness, weekly, 7 channels"),
    "pm25": CorpusSource("forecasting_corpus/beijing_pm2.5.csv", "ratio",
                         "Beijing PM2.5, dew point, temperature, pressure, wind speed; hourly"),
}


@dataclass(frozen=True)
class CorpusSeries:
    """A source's channels ``values [T, C]`` (float32, original units) and its train/val row ranges."""

    name: str
    values: np.ndarray
    borders: dict[str, tuple[int, int]]  # split -> [start, end) of the rows it owns (no context rows)

    def rows(self, split: str) -> np.ndarray:
        start, end = self.borders[split]
        return self.values[start:end]


def row_borders(n_rows: int, scheme: str) -> dict[str, tuple[int, int]]:
    """Disjoint train / val / test row ranges: the ETT 12/4/4-month borders or 70/10/20 by rows."""
    if scheme in ("ett_hour", "ett_minute"):
        unit = 30 * 24 * (4 if scheme == "ett_minute" else 1)
        a, b, c = 12 * unit, 16 * unit, 20 * unit
    elif scheme == "ratio":
        a, c = int(n_rows * 0.7), n_rows
        b = n_rows - int(n_rows * 0.2)
    else:
        raise ValueError(f"unknown split scheme {scheme!r}")
    if n_rows < c:
        raise ValueError(f"{n_rows} rows, fewer than the split needs ({c})")
    return {"train": (0, a), "val": (a, b), "test": (b, c)}


def _read_pm25(path: Path) -> np.ndarray:
    """PM2.5 and the continuous weather columns; the wind-direction text and the cumulated snow /
    rain hours (zero almost everywhere) are dropped; missing PM2.5 values (4.6 %) are
    interpolated linearly in time (the leading ones take the first observed value)."""
    frame = pd.read_csv(path)
    values = frame[["pm2.5", "DEWP", "TEMP", "PRES", "Iws"]].astype(float)
    return values.interpolate(limit_direction="both").to_numpy()


def read_source(name: str, root: str | Path) -> CorpusSeries:
    """One source's numeric channels from ``root`` (a data folder), with its row borders."""
    if name in HELD_OUT:
        raise ValueError(f"{name} is ETT station 2, the held-out set of the general forecaster: never in a corpus")
    if name not in SOURCES:
        raise ValueError(f"unknown corpus source {name!r}; known: {', '.join(SOURCES)}")
    spec = SOURCES[name]
    path = Path(root) / spec.path
    if not path.is_file():
        raise FileNotFoundError(f"no {name} file at {path}; fetch the corpus with: python -m simmtm download corpus")
    if name == "pm25":
        values = _read_pm25(path)
    else:
        frame = pd.read_csv(path)
        values = frame.drop(columns=["date"]).astype(float).to_numpy()
    if not np.isfinite(values).all():
        raise ValueError(f"{path} holds NaN or infinite values")
    return CorpusSeries(name, values.astype(np.float32), row_borders(len(values), spec.split))


def load_corpus(root: str | Path, names: Sequence[str] = tuple(SOURCES)) -> dict[str, CorpusSeries]:
    """Every named real source under ``root`` (ETT station 2 refused)."""
    return {name: read_source(name, root) for name in names}


def window_starts(n_rows: int, seq_len: int, min_future: int) -> int:
    """How many windows of ``seq_len`` inputs and at least ``min_future`` targets fit in ``n_rows``."""
    return max(0, n_rows - seq_len - min_future + 1)


class CorpusWindows(Dataset):
    """``n_windows`` univariate windows of one split, drawn once from ``seed``: a share
    ``synthetic_share`` synthetic, the rest real: a source with probability by ``mix`` (``sqrt``: the
    square root of its number of windows, so a short source is neither drowned nor repeated
    hundreds of times; ``equal``; ``size``), then a channel and a start uniformly (a start whose
    context is flat is redrawn). Item ``i``: ``x [L, 1]`` when
    ``horizon == 0`` (pre-training), else ``(x [L, 1], y [H, 1])`` with ``y`` NaN past the end of
    the split's rows; both normalised by the context's mean and std and clipped to +-:data:`CLIP`. A real window needs
    ``min_future`` target rows inside the split (sources too short for one are left out)."""

    def __init__(self, corpus: dict[str, CorpusSeries], split: str, seq_len: int, *, n_windows: int,
                 horizon: int = 0, min_future: int | None = None, synthetic_share: float = 0.0,
                 mix: str = "sqrt", seed: int = 0):
        if split not in ("train", "val"):
            raise ValueError(f"corpus windows come from 'train' or 'val' rows only, got {split!r}")
        if any(name in HELD_OUT for name in corpus):
            raise ValueError("ETT station 2 is held out: never in a corpus")
        if not 0 <= synthetic_share <= 1:
            raise ValueError(f"synthetic_share must be in [0, 1], got {synthetic_share}")
        self.seq_len, self.horizon, self.seed = seq_len, horizon, seed
        min_future = (1 if horizon else 0) if min_future is None else min_future
        self.series: list[np.ndarray] = []  # one univariate float32 array per (source, channel)
        usable: dict[str, list[int]] = {}
        for name, src in corpus.items():
            start, end = src.borders[split]
            if split == "val":
                start = max(0, start - seq_len)  # a validation window's context may reach back into train rows
            rows = src.values[start:end]
            if window_starts(len(rows), seq_len, min_future) == 0:
                continue
            usable[name] = [len(self.series) + c for c in range(rows.shape[1])]
            self.series += [np.ascontiguousarray(rows[:, c]) for c in range(rows.shape[1])]
        self.scale = [max(float(s.std()), 1e-12) for s in self.series]
        self.sources = sorted(usable)
        if not usable and synthetic_share < 1:
            raise ValueError(f"no source has a window of {seq_len} + {min_future} rows in its {split} part")
        if mix not in MIXES:
            raise ValueError(f"mix must be one of {MIXES}, got {mix!r}")
        sizes = np.array([sum(window_starts(len(self.series[i]), seq_len, min_future) for i in usable[n])
                          for n in self.sources], dtype=float)
        w = np.ones(len(sizes)) if mix == "equal" else np.sqrt(sizes) if mix == "sqrt" else sizes
        rng = np.random.default_rng([seed, 0 if split == "train" else 1])
        synthetic = rng.random(n_windows) < synthetic_share
        real = np.flatnonzero(~synthetic)
        self.index = np.full((n_windows, 2), -1, dtype=np.int64)  # (series id, start); series -1 = synthetic
        if len(real):
            picks = rng.choice(len(self.sources), size=len(real), p=w / w.sum())
            for k, pick in zip(real, picks):
                for _ in range(100):  # a context without variation (a dry spell of rain) teaches nothing: redraw
                    sid = int(rng.choice(usable[self.sources[pick]]))
                    start = int(rng.integers(window_starts(len(self.series[sid]), seq_len, min_future)))
                    if self.series[sid][start:start + seq_len].std() > 0.02 * self.scale[sid]:
                        break
                self.index[k] = (sid, start)
        self.counts = {name: int((picks == i).sum()) if len(real) else 0 for i, name in enumerate(self.sources)}
        self.counts[SYNTHETIC] = int(synthetic.sum())

    def __len__(self) -> int:
        return len(self.index)

    def raw(self, i: int) -> np.ndarray:
        """Window ``i`` in original units, ``[L + H]`` (NaN past the series' end)."""
        sid, start = self.index[i]
        L, H = self.seq_len, self.horizon
        if sid < 0:
            return synthetic_corpus_series(L + H, seed=(self.seed, int(i), 7 if self.horizon else 3))
        s = self.series[sid][start:start + L + H].astype(np.float64)
        return np.pad(s, (0, L + H - len(s)), constant_values=np.nan)

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        w = self.raw(i)
        context = w[:self.seq_len]
        w = np.clip((w - context.mean()) / max(context.std(), 1e-5), -CLIP, CLIP)  # NaN stays NaN
        x = torch.as_tensor(w[:self.seq_len, None], dtype=torch.float32)  # [L, 1]
        if not self.horizon:
            return x
        return x, torch.as_tensor(w[self.seq_len:, None], dtype=torch.float32)  # [H, 1], NaN = no target


def fewshot_rows(n_train: int, seq_len: int, fraction: float, location: str = "last") -> tuple[int, int]:
    """The training rows ``[start, end)`` a few-shot run keeps, taken as granite-tsfm's benchmark
    takes them (``select_by_fixed_fraction`` with ``minimum_size = context length``):
    ``int(fraction * (n_train - seq_len)) + seq_len`` rows at the end (``last``) or start
    (``first``) of the training split; the scaler stays fit on the whole training split."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if n_train < seq_len:
        raise ValueError(f"{n_train} training rows, fewer than the context of {seq_len}")
    size = int(fraction * (n_train - seq_len)) + seq_len
    if location == "last":
        return n_train - size, n_train
    if location == "first":
        return 0, size
    raise ValueError(f"location must be 'last' or 'first', got {location!r}")
