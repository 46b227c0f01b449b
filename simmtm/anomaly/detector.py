"""Detect anomalies in one series of your own: train on its first part, score every step.

    from simmtm.anomaly import AnomalyDetector
    det = AnomalyDetector().fit(df.iloc[:2000])          # unlabelled: masked reconstruction error
    out = det.score(df)                                    # timestamp, value(s), score, flag per row
    det = AnomalyDetector().fit(train_df, labels=y_train)  # a few labelled anomalies: self-distilled

Scorers (``SCORERS``), each a trained model + the per-cell score it is read with:
    reconstruction   plain masked autoencoder; score = squared error of masked points (the default
                     without labels)
    discrepancy      self-distilled MAE; score = teacher-student discrepancy of masked points
                     (trained with the margin loss when labelled anomalies are given)
    teacher          the self-distilled MAE's teacher reconstruction error
    sum              teacher reconstruction error + discrepancy

Values are standardised per channel with the training part's mean and std; point scores are
smoothed by a centred moving average over ``smooth`` steps (default one window); the threshold is
the ``1 - false_alarm_rate`` quantile of the training part's own scores (windows inside the
training part only, so it does not depend on later data).

Default without labels (``reconstruction``, smoothed): picked among the unlabelled scorers by
ROC-AUC on synthetic anomalies injected into the training parts of 14 real series; on their test
parts it beats random, rolling z-score and absolute difference on mean PR-AUC but NOT an
IsolationForest on windows (``results/anomaly/anomaly_real.md``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from simmtm.anomaly.data import to_windows
from simmtm.anomaly.frame import SeriesFrame, read_frame
from simmtm.anomaly.model import SelfDistilledMAE
from simmtm.anomaly.series import score_series, smooth_scores
from simmtm.anomaly.threshold import flag, train_threshold
from simmtm.anomaly.training import AnomalyConfig, build_detector, get_anomaly_preset, train_detector

SCORERS = ("reconstruction", "discrepancy", "teacher", "sum")


def _cells(scorers: tuple[str, ...]):
    """A cell score function returning ``[S, B, L, C]``: the ``scorers``' cell scores from one forward pass."""
    def cells(model, x, mask):
        out = model(x, mask)
        teacher, student = (out[0].float(), out[1].float()) if isinstance(out, tuple) else (out.float(), None)
        parts = {"reconstruction": lambda: (teacher - x) ** 2, "teacher": lambda: (teacher - x) ** 2,
                 "discrepancy": lambda: (teacher - student) ** 2,
                 "sum": lambda: (teacher - x) ** 2 + (teacher - student) ** 2}
        return torch.stack([parts[name]() for name in scorers])

    return cells


def model_kind(scorer: str) -> str:
    """``mae`` for the reconstruction scorer, ``sdmae`` for the others."""
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; choose from {SCORERS}")
    return "mae" if scorer == "reconstruction" else "sdmae"


@dataclass(frozen=True)
class SeriesConfig:
    """How a series is windowed, trained on and thresholded (model sizes: ``model``)."""

    model: AnomalyConfig = field(default_factory=lambda: get_anomaly_preset("series"))
    length: int = 64  # window length L
    stride: int = 8  # scoring windows start every `stride` steps (each step covered by ~L/stride windows)
    max_train_windows: int = 1000  # training windows, evenly spaced over the training part
    k: int = 4  # scoring masks: each hides every k-th patch, together every cell once
    false_alarm_rate: float = 0.01  # threshold = this upper quantile of training scores
    # centred moving average of the point scores over this many steps (0: none); 64 = one window was picked
    # on validation (anomalies injected into the training parts, results/anomaly/anomaly_real.md), tied with 0 there
    smooth: int = 64

    def __post_init__(self):
        if self.length < 2 * self.model.patch_len:
            raise ValueError(f"length must be at least two patches (2 x {self.model.patch_len}), got {self.length}")
        if self.stride < 1 or self.max_train_windows < 1 or self.k < 2:
            raise ValueError(f"need stride >= 1, max_train_windows >= 1 and k >= 2, got {self.stride}, "
                             f"{self.max_train_windows}, {self.k}")
        if self.smooth < 0:
            raise ValueError(f"smooth must be >= 0 steps, got {self.smooth}")
        if not 0 < self.false_alarm_rate < 1:
            raise ValueError(f"false_alarm_rate must be in (0, 1), got {self.false_alarm_rate}")

    @property
    def min_train_steps(self) -> int:
        return 2 * self.length

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), **{k: v for k, v in asdict(self).items() if k != "model"}}


def fit_model(scorer: str, cfg: SeriesConfig, train_values: np.ndarray, labels: np.ndarray | None = None, *,
              seed: int = 0, device: str = "cpu", progress: bool = False) -> nn.Module:
    """Train the model of ``scorer`` on standardised ``train_values`` ``[T, C]`` (point ``labels``
    ``[T]``, 1 = known anomaly, used by the self-distilled margin loss only)."""
    T = len(train_values)
    labels = np.zeros(T, dtype=bool) if labels is None else np.asarray(labels, dtype=bool)
    stride = max(1, -(-(T - cfg.length + 1) // cfg.max_train_windows))
    windows = to_windows(train_values, labels, cfg.length, stride)
    torch.manual_seed(seed)
    model = build_detector(cfg.model, model_kind(scorer))
    train_detector(model, cfg.model, windows, None, device=device, seed=seed, progress=progress, log=None)
    return model.eval()


def score_values_many(model: nn.Module, scorers: tuple[str, ...], cfg: SeriesConfig, values: np.ndarray, *,
                      device: str = "cpu", progress: bool = False) -> dict[str, np.ndarray]:
    """Point scores ``{scorer: [T]}`` of standardised ``values`` ``[T, C]``, all from the same forward passes."""
    for scorer in scorers:
        if (scorer == "reconstruction") == isinstance(model, SelfDistilledMAE):
            raise ValueError(f"scorer {scorer!r} does not match a {type(model).__name__}")
    scores = score_series(model, values, _cells(tuple(scorers)), length=cfg.length, stride=cfg.stride, k=cfg.k,
                          patch_len=cfg.model.patch_len, device=device, progress=progress)  # [S, T]
    return {name: smooth_scores(s, cfg.smooth) for name, s in zip(scorers, scores)}


def score_values(model: nn.Module, scorer: str, cfg: SeriesConfig, values: np.ndarray, *, device: str = "cpu",
                 progress: bool = False) -> np.ndarray:
    """Point scores ``[T]`` of standardised ``values`` ``[T, C]`` by ``scorer``."""
    return score_values_many(model, (scorer,), cfg, values, device=device, progress=progress)[scorer]


class AnomalyDetector:
    """Train on a series' first part, then score every step (see the module docstring).

    Args:
        config: windowing, model and threshold settings (default :class:`SeriesConfig`).
        scorer: one of ``SCORERS``, or None: ``reconstruction`` without labelled anomalies,
            ``discrepancy`` (self-distilled, margin loss) when ``fit`` gets some.
        seed, device, progress: training seed, torch device, tqdm bars.
    """

    def __init__(self, config: SeriesConfig | None = None, *, scorer: str | None = None, seed: int = 0,
                 device: str = "cpu", progress: bool = True):
        if scorer is not None:
            model_kind(scorer)
        self.config = config or SeriesConfig()
        self.scorer, self.seed, self.device, self.progress = scorer, seed, device, progress
        self.model: nn.Module | None = None

    def fit(self, df: pd.DataFrame | SeriesFrame, labels: np.ndarray | None = None) -> "AnomalyDetector":
        """Train on every row of ``df`` (its numeric columns; see :func:`read_frame`) with optional
        point ``labels`` ``[T]`` (1 = anomaly), then set the threshold from these rows' scores."""
        frame = df if isinstance(df, SeriesFrame) else read_frame(df)
        if len(frame) < self.config.min_train_steps:
            raise ValueError(f"the training part has {len(frame)} rows; need at least {self.config.min_train_steps} "
                             f"(two windows of {self.config.length})")
        if labels is not None:
            labels = np.asarray(labels, dtype=bool)
            if labels.shape != (len(frame),):
                raise ValueError(f"labels must have one entry per training row ({len(frame)}), got {labels.shape}")
        self.columns = frame.columns
        x = frame.values.astype(np.float64)
        self.mean, std = x.mean(0), x.std(0)
        self.std = np.where(std > 0, std, 1.0)
        labelled = labels is not None and labels.any()
        self.scorer_ = self.scorer or ("discrepancy" if labelled else "reconstruction")
        train = self._scale(frame.values)
        self.model = fit_model(self.scorer_, self.config, train, labels if labelled else None, seed=self.seed,
                               device=self.device, progress=self.progress)
        self.train_scores_ = score_values(self.model, self.scorer_, self.config, train, device=self.device,
                                          progress=self.progress)
        self.threshold_ = train_threshold(self.train_scores_, self.config.false_alarm_rate)
        return self

    def _scale(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)

    def score(self, df: pd.DataFrame | SeriesFrame) -> pd.DataFrame:
        """One row per row of ``df``: ``timestamp`` (if ``df`` has one), the value column(s), ``score``
        and ``flag`` (score above the training threshold)."""
        if self.model is None:
            raise ValueError("call fit() before score()")
        frame = df if isinstance(df, SeriesFrame) else read_frame(df)
        if frame.columns != self.columns:
            raise ValueError(f"the detector was fit on columns {self.columns}, got {frame.columns}")
        if len(frame) < self.config.length:
            raise ValueError(f"need at least {self.config.length} rows (one window) to score, got {len(frame)}")
        scores = score_values(self.model, self.scorer_, self.config, self._scale(frame.values), device=self.device,
                              progress=self.progress)
        out = pd.DataFrame(frame.values, columns=list(frame.columns))
        if frame.timestamps is not None:
            out.insert(0, "timestamp", frame.timestamps)
        out["score"] = scores
        out["flag"] = flag(scores, self.threshold_)
        return out
