"""Classification data: TF-C-format folders (SleepEEG, Epilepsy, FD-B, Gesture, EMG) and the UCI
Epileptic Seizure Recognition table, returned as ``X: [N, L, C]`` float32 and ``y: [N]`` int64.

Nothing is cropped, resampled or rescaled silently: the official code keeps channel 0 and the
first 178 points of every set without saying so; here each of those is an explicit argument
and is logged when it changes the data.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from simmtm.data.windows import channels_last
from simmtm.utils.serialization import load_pt

log = logging.getLogger(__name__)

Scaling = Literal["none", "zscore", "minmax"]


def check_labelled(x: np.ndarray, y: np.ndarray, name: str = "data") -> None:
    """Clear errors for the usual problems of a labelled set."""
    if x.ndim != 3:
        raise ValueError(f"{name}: samples must be [N, L, C], got shape {x.shape}")
    if len(x) != len(y):
        raise ValueError(f"{name}: {len(x)} samples but {len(y)} labels")
    if len(x) == 0:
        raise ValueError(f"{name}: no samples")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: samples contain NaN or infinite values")
    if y.dtype.kind not in "iu" or (y < 0).any():
        raise ValueError(f"{name}: labels must be non-negative integers, got dtype {y.dtype} (min {y.min()})")


def scale_windows(x: np.ndarray, method: Scaling, eps: float = 1e-8) -> np.ndarray:
    """Per-window, per-channel scaling of ``[N, L, C]``: ``zscore`` (mean 0, std 1) or
    ``minmax`` (to [0, 1]); ``none`` returns ``x``. Per-window scaling is what lets a model
    pre-trained on raw microvolts (SleepEEG) transfer to min-max scaled data (TF-C Epilepsy)."""
    if method == "none":
        return x
    if method == "zscore":
        return ((x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + eps)).astype(np.float32)
    if method == "minmax":
        lo, hi = x.min(1, keepdims=True), x.max(1, keepdims=True)
        return ((x - lo) / (hi - lo + eps)).astype(np.float32)
    raise ValueError(f"scaling must be 'none', 'zscore' or 'minmax', got {method!r}")


def crop(x: np.ndarray, length: int | None = None, channels: list[int] | None = None, name: str = "data") -> np.ndarray:
    """Keep the first ``length`` points and the listed ``channels``, logging what is dropped."""
    if channels is not None:
        if max(channels) >= x.shape[2]:
            raise ValueError(f"{name}: channel {max(channels)} requested but the data has {x.shape[2]}")
        if len(channels) != x.shape[2]:
            log.warning("%s: keeping channels %s of %d", name, channels, x.shape[2])
        x = x[:, :, channels]
    if length is not None:
        if length > x.shape[1]:
            raise ValueError(f"{name}: cannot crop to {length} points, windows have {x.shape[1]}")
        if length < x.shape[1]:
            log.warning("%s: cropping windows from %d to their first %d points", name, x.shape[1], length)
        x = x[:, :length]
    return x


def load_tfc_split(folder: str | Path, split: str, *, length: int | None = None, channels: list[int] | None = None,
                   scaling: Scaling = "none") -> tuple[np.ndarray, np.ndarray]:
    """One split (``train``, ``val`` or ``test``) of a TF-C folder as ``(X [N, L, C], y [N])``."""
    path = Path(folder) / f"{split}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no {split}.pt in {folder}; download the set (python -m simmtm download NAME) "
                                "or pass the folder that holds train.pt / val.pt / test.pt")
    blob = load_pt(path, what="TF-C split")
    if not isinstance(blob, dict) or "samples" not in blob or "labels" not in blob:
        raise ValueError(f"{path} is not in TF-C format (a dict with 'samples' and 'labels')")
    x = channels_last(torch.as_tensor(np.asarray(blob["samples"]))).numpy()  # [N, L, C]
    y = torch.as_tensor(blob["labels"]).numpy() if isinstance(blob["labels"], torch.Tensor) else np.asarray(blob["labels"])
    if y.dtype.kind == "f":  # some TF-C sets store labels as floats: accept whole numbers only
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"{path}: labels must be non-negative integers, got non-integer values")
        y = y.astype(np.int64)
    check_labelled(x, y, str(path))
    x = crop(x, length, channels, str(path))
    return scale_windows(x, scaling), y


def load_tfc(folder: str | Path, **kwargs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every split present in a TF-C folder: ``{"train": (X, y), "val": ..., "test": ...}``."""
    splits = {s: load_tfc_split(folder, s, **kwargs) for s in ("train", "val", "test") if (Path(folder) / f"{s}.pt").is_file()}
    if "train" not in splits:
        raise FileNotFoundError(f"no train.pt in {folder}")
    shapes = {x.shape[1:] for x, _ in splits.values()}
    if len(shapes) > 1:
        raise ValueError(f"splits of {folder} disagree on [L, C]: {shapes}")
    return splits


def load_uci_epilepsy(path: str | Path, scaling: Scaling = "zscore") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The UCI Epileptic Seizure Recognition table as ``(X [11500, 178, 1], y, recording)``:
    ``y = 1`` for seizure (the table's class 1), 0 otherwise; ``recording`` is the source
    recording of each row (the ``id`` before ``_``), 23 rows per recording."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no UCI epilepsy CSV at {path}")
    table = pd.read_csv(path)
    cols = [f"X{i}" for i in range(1, 179)]
    missing = [c for c in ["id", "y", *cols] if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing[:5]} (expected id, X1..X178, y)")
    x = table[cols].to_numpy(np.float32)[:, :, None]
    y = (table["y"].to_numpy() == 1).astype(np.int64)
    recording = table["id"].astype(str).str.split("_").str[0].to_numpy()
    check_labelled(x, y, str(path))
    return scale_windows(x, scaling), y, recording


def uci_splits(y: np.ndarray, recording: np.ndarray, *, n_train: int = 60, n_val: int = 20,
               test_fraction: float = 0.5, seed: int = 0) -> dict[str, np.ndarray]:
    """Row indices of a TF-C-like few-label protocol on the UCI table, split BY RECORDING.

    ``test``: every row of a random ``test_fraction`` of the recordings (stratified by whether a
    recording is a seizure recording); ``train`` / ``val``: ``n_train`` / ``n_val`` class-balanced
    rows from the other recordings; ``pretrain``: every row of the other recordings (unlabelled
    use), so no chunk of a test recording is ever seen before testing.
    """
    rng = np.random.default_rng(seed)
    recs = np.unique(recording)
    seizure_rec = {r for r in recs if y[recording == r].any()}
    test_recs: set = set()
    for group in (sorted(seizure_rec), sorted(set(recs) - seizure_rec)):
        test_recs |= set(rng.choice(group, int(round(test_fraction * len(group))), replace=False))
    is_test = np.isin(recording, list(test_recs))
    pool = np.flatnonzero(~is_test)
    picked = []
    for n in (n_train, n_val):
        take = []
        for cls in np.unique(y):
            avail = np.setdiff1d(pool[y[pool] == cls], np.concatenate(picked) if picked else [])
            k = n // len(np.unique(y))
            if len(avail) < k:
                raise ValueError(f"only {len(avail)} rows of class {cls} available, {k} requested")
            take.append(rng.choice(avail, k, replace=False))
        picked.append(rng.permutation(np.concatenate(take)))
    return {"train": picked[0], "val": picked[1], "test": np.flatnonzero(is_test), "pretrain": pool}
