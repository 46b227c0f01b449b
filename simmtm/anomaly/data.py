"""Anomaly-detection data: labelled windows, sliding windows over a series, and the Numenta
Anomaly Benchmark (NAB) format.

NAB layout (github.com/numenta/NAB): ``<root>/data/<category>/<name>.csv`` with columns
``timestamp,value`` and ``<root>/labels/combined_windows.json`` mapping ``"<category>/<name>.csv"``
to a list of ``[start, end]`` timestamp windows (inclusive) that hold an anomaly.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


def window_starts(n_steps: int, length: int, stride: int) -> np.ndarray:
    """Start indices ``[N]`` of windows of ``length`` every ``stride`` steps, plus one ending at ``n_steps``."""
    if length < 1 or stride < 1:
        raise ValueError(f"length and stride must be >= 1, got {length}, {stride}")
    if n_steps < length:
        raise ValueError(f"the series has {n_steps} points, fewer than one window of {length}")
    starts = list(range(0, n_steps - length + 1, stride))
    if starts[-1] != n_steps - length:
        starts.append(n_steps - length)
    return np.asarray(starts, dtype=np.int64)


@dataclass(frozen=True)
class AnomalyWindows:
    """Windows and their labels.

    Attributes:
        x: ``[N, L, C]`` float32 values.
        point_labels: ``[N, L]`` bool, True where any channel is anomalous.
        labels: ``[N]`` int64, 1 for a window holding an anomalous point.
        kinds: ``[N]`` object array naming each window's anomaly type ('' for normal windows).
    """

    x: np.ndarray
    point_labels: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray

    def __post_init__(self):
        if self.x.ndim != 3:
            raise ValueError(f"x must be [N, L, C], got shape {self.x.shape}")
        if self.point_labels.shape != self.x.shape[:2]:
            raise ValueError(f"point_labels must be [N, L] = {self.x.shape[:2]}, got {self.point_labels.shape}")
        if len(self.labels) != len(self.x) or len(self.kinds) != len(self.x):
            raise ValueError("labels and kinds must have one entry per window")
        if not np.isfinite(self.x).all():
            raise ValueError("windows contain NaN or infinite values; impute or drop them first")

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, index) -> "AnomalyWindows":
        """The windows at ``index`` (an index array or boolean mask)."""
        return AnomalyWindows(self.x[index], self.point_labels[index], self.labels[index], self.kinds[index])

    def standardized(self, mean: np.ndarray, std: np.ndarray) -> "AnomalyWindows":
        """Values scaled per channel as ``(x - mean) / std`` (fit ``mean``/``std`` on training windows)."""
        x = ((self.x - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
        return AnomalyWindows(x, self.point_labels, self.labels, self.kinds)


def channel_stats(windows: AnomalyWindows) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std ``[C]`` over every value of ``windows`` (the training split)."""
    flat = windows.x.reshape(-1, windows.x.shape[-1]).astype(np.float64)
    return flat.mean(0), flat.std(0)


def to_windows(values: np.ndarray, labels: np.ndarray, length: int, stride: int = 1, kind: str = "anomaly") -> AnomalyWindows:
    """Sliding windows over a series ``[T]`` or ``[T, C]`` with point labels ``[T]``.

    Windows start every ``stride`` steps; when the last one does not end at ``T``, one more window
    ending at ``T`` is added so that no point is left out. Windows holding a labelled point get
    label 1 and kind ``kind``.
    """
    values = np.asarray(values, dtype=np.float32)
    values = values[:, None] if values.ndim == 1 else values
    labels = np.asarray(labels, dtype=bool)
    T = len(values)
    if values.ndim != 2 or T == 0:
        raise ValueError(f"values must be a non-empty [T] or [T, C] array, got shape {values.shape}")
    if labels.shape != (T,):
        raise ValueError(f"labels must have shape [T] = ({T},), got {labels.shape}")
    if not np.isfinite(values).all():
        raise ValueError("the series contains NaN or infinite values; impute or drop them first")
    index = window_starts(T, length, stride)[:, None] + np.arange(length)  # [N, L]
    point_labels = labels[index]
    window_labels = point_labels.any(1).astype(np.int64)
    kinds = np.where(window_labels == 1, kind, "").astype(object)
    return AnomalyWindows(values[index], point_labels, window_labels, kinds)


@dataclass(frozen=True)
class NABSeries:
    """One NAB series: ``timestamps`` [T], ``values`` [T] float32, point ``labels`` [T] bool."""

    name: str
    timestamps: pd.DatetimeIndex
    values: np.ndarray
    labels: np.ndarray


def load_nab(root: str | Path, name: str) -> NABSeries:
    """Load ``<root>/data/<name>.csv`` and label every row inside one of its windows in
    ``<root>/labels/combined_windows.json`` (bounds inclusive).

    Args:
        root: the NAB folder (holding ``data/`` and ``labels/``).
        name: ``"<category>/<series>"``, with or without ``.csv``.

    Raises:
        FileNotFoundError: the CSV or the labels file is missing.
        ValueError: missing columns, an empty series, NaN values or timestamps, a series absent from
            the labels file, a window with start after end or outside the series' time range.
    """
    root = Path(root)
    key = name if name.endswith(".csv") else f"{name}.csv"
    csv, label_file = root / "data" / key, root / "labels" / "combined_windows.json"
    for path in (csv, label_file):
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found; NAB files come from https://github.com/numenta/NAB "
                                    "(data/ and labels/combined_windows.json)")
    frame = pd.read_csv(csv)
    missing = {"timestamp", "value"} - set(frame.columns)
    if missing:
        raise ValueError(f"{csv} lacks column(s) {sorted(missing)}; NAB files have 'timestamp,value'")
    if frame.empty:
        raise ValueError(f"{csv} holds no rows")
    timestamps = pd.to_datetime(frame["timestamp"], errors="coerce")
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(np.float64)
    if timestamps.isna().any():
        raise ValueError(f"{csv} has {int(timestamps.isna().sum())} unparseable timestamp(s)")
    if not np.isfinite(values).all():
        raise ValueError(f"{csv} has {int((~np.isfinite(values)).sum())} missing or non-numeric value(s)")
    windows = json.loads(label_file.read_text())
    if key not in windows:
        raise ValueError(f"{label_file} has no entry for {key!r}")
    timestamps = pd.DatetimeIndex(timestamps)
    labels = np.zeros(len(frame), dtype=bool)
    first, last = timestamps.min(), timestamps.max()
    for window in windows[key]:
        if len(window) != 2:
            raise ValueError(f"label windows must be [start, end] pairs, got {window!r} for {key}")
        start, end = pd.Timestamp(window[0]), pd.Timestamp(window[1])
        if start > end:
            raise ValueError(f"label window {window} of {key} starts after it ends")
        if end < first or start > last:
            raise ValueError(f"label window {window} of {key} lies outside the series ({first} .. {last})")
        labels |= np.asarray((timestamps >= start) & (timestamps <= end))
    return NABSeries(key[:-4], timestamps, values.astype(np.float32), labels)


def load_ucr_anomaly(test_csv: str | Path, train_csv: str | Path | None = None) -> tuple[NABSeries, int]:
    """A UCR anomaly-archive series (``timestamp,value,is_anomaly``) and its training length.

    ``test_csv`` holds the whole series; ``train_csv`` (default: the ``_TEST`` name with ``_TRAIN``)
    its anomaly-free first part, whose length is returned (the archive's train/test border). The
    train file must equal the series' first rows.
    """
    test_csv = Path(test_csv)
    train_csv = Path(train_csv) if train_csv is not None else test_csv.with_name(test_csv.name.replace("_TEST", "_TRAIN"))
    frames = []
    for path in (test_csv, train_csv):
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found")
        frame = pd.read_csv(path)
        missing = {"timestamp", "value", "is_anomaly"} - set(frame.columns)
        if missing:
            raise ValueError(f"{path} lacks column(s) {sorted(missing)}; UCR anomaly files have 'timestamp,value,is_anomaly'")
        if not np.isfinite(frame["value"].to_numpy(np.float64)).all():
            raise ValueError(f"{path} has missing or non-finite values")
        frames.append(frame)
    full, train = frames
    n_train = len(train)
    if n_train >= len(full) or not np.array_equal(full["value"].to_numpy()[:n_train], train["value"].to_numpy()):
        raise ValueError(f"{train_csv} is not the first part of {test_csv}")
    name = test_csv.stem.replace("_TEST", "")
    return NABSeries(name, pd.Index(full["timestamp"].to_numpy()), full["value"].to_numpy(np.float32),
                     full["is_anomaly"].to_numpy().astype(bool)), n_train


def nab_names(root: str | Path, *, with_anomalies: bool = True) -> list[str]:
    """Series names ``"<category>/<name>"`` in ``<root>/labels/combined_windows.json`` whose CSV is
    present (only those with at least one anomaly window when ``with_anomalies``), sorted."""
    label_file = Path(root) / "labels" / "combined_windows.json"
    if not label_file.is_file():
        raise FileNotFoundError(f"{label_file} not found")
    windows = json.loads(label_file.read_text())
    return sorted(k[:-4] for k, v in windows.items()
                  if (v or not with_anomalies) and (Path(root) / "data" / k).is_file())
