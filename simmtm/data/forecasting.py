"""Forecasting data: ETT (hourly and 15-minute), Weather and any CSV with a date column.

Splits follow the standard benchmark protocol (Informer / Time-Series-Library):

- ETT hourly: train rows [0, 8640), val [8640 - L, 11520), test [11520 - L, 14400)
  (12 / 4 / 4 months of 30 days); 15-minute data uses 4x those borders.
- Weather and custom CSVs: 70 / 10 / 20 % of the rows in time order; val and test start L
  rows early so that their first window has a full input.

The scaler is fit on the training rows only. Windows start at every row (no aliasing).

Time stamps (:mod:`simmtm.data.dates`): a user's CSV with rows out of time order or repeated
stamps is refused (or, with ``dates="repair"``, sorted and de-duplicated); gaps are reported.
The named benchmarks load exactly as published, saying what they tolerate (Weather: one
repeated stamp and one gap upstream). A CSV without a ``date`` column is read in file order.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from simmtm.data.dates import checked_frame, infer_frequency, parse_dates
from simmtm.data.textfile import check_text_file
from simmtm.data.windows import SlidingWindows
from simmtm.data.roots import CANDIDATES, data_root

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DatasetSpec:
    """Where a benchmark lives under a data root and how it is split."""

    path: str  # relative to the data root
    split: Literal["ett_hour", "ett_minute", "ratio"]
    target: str = "OT"


DATASETS: dict[str, DatasetSpec] = {
    "ETTh1": DatasetSpec("ETT-small/ETTh1.csv", "ett_hour"),
    "ETTh2": DatasetSpec("ETT-small/ETTh2.csv", "ett_hour"),
    "ETTm1": DatasetSpec("ETT-small/ETTm1.csv", "ett_minute"),
    "ETTm2": DatasetSpec("ETT-small/ETTm2.csv", "ett_minute"),
    "Weather": DatasetSpec("weather/weather.csv", "ratio"),
}


def split_borders(n_rows: int, scheme: str, seq_len: int, ratios: tuple[float, float, float] = (0.7, 0.1, 0.2)
                  ) -> dict[str, tuple[int, int]]:
    """Row ranges ``[start, end)`` of train / val / test (val and test include the ``seq_len``
    rows before their first target, as inputs)."""
    if scheme in ("ett_hour", "ett_minute"):
        unit = 30 * 24 * (4 if scheme == "ett_minute" else 1)
        a, b, c = 12 * unit, 16 * unit, 20 * unit
        if n_rows < c:
            raise ValueError(f"an ETT file needs at least {c} rows for the standard split, got {n_rows}")
        borders = {"train": (0, a), "val": (a - seq_len, b), "test": (b - seq_len, c)}
    elif scheme == "ratio":
        if abs(sum(ratios) - 1) > 1e-9 or min(ratios) <= 0:
            raise ValueError(f"ratios must be positive and sum to 1, got {ratios}")
        n_train, n_test = int(n_rows * ratios[0]), int(n_rows * ratios[2])
        n_val = n_rows - n_train - n_test
        borders = {"train": (0, n_train), "val": (n_train - seq_len, n_train + n_val),
                   "test": (n_rows - n_test - seq_len, n_rows)}
    else:
        raise ValueError(f"unknown split scheme {scheme!r}; use 'ett_hour', 'ett_minute' or 'ratio'")
    if borders["val"][0] < 0:
        raise ValueError(f"seq_len={seq_len} is longer than the training split ({borders['train'][1]} rows)")
    return borders


def read_series_csv(path: str | Path, date_column: str = "date", *, required: bool = True) -> pd.DataFrame:
    """Read a CSV with a date column and numeric value columns, with clear errors
    (``required=False``: a file without ``date_column`` is read as values only)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a CSV file")
    if not path.is_file():
        raise FileNotFoundError(f"no CSV at {path}; download it (python -m simmtm download NAME) or pass the right path")
    check_text_file(path)
    try:
        frame = pd.read_csv(path, encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: no rows (the file is empty)") from None
    except pd.errors.ParserError as err:
        raise ValueError(f"{path} is not a readable CSV ({str(err).splitlines()[0]})") from None
    if frame.empty:
        raise ValueError(f"{path}: no rows (a header only)")
    if date_column not in frame.columns and required:
        raise ValueError(f"{path} has no {date_column!r} column (columns: {list(frame.columns)[:5]}...)")
    values = frame.drop(columns=[date_column], errors="ignore")
    non_numeric = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if non_numeric:
        hint = "" if date_column in frame.columns else f"; if {non_numeric[0]!r} holds the dates, say --date-column {non_numeric[0]}"
        raise ValueError(f"{path}: non-numeric value columns {non_numeric}{hint}")
    return frame


@dataclass
class ForecastingData:
    """A scaled multichannel series and its split borders.

    ``values`` is ``[T, C]`` (scaled with the training rows' mean and std); ``windows(split,
    seq_len, pred_len)`` gives the dataset of that split. ``inverse_transform`` undoes the
    scaling on ``[..., C]`` arrays. ``date_column`` and ``freq`` (a pandas alias, None when the
    file has no dates or irregular ones) and ``features`` are what a fine-tuned forecaster
    records for inference (:mod:`simmtm.inference`).
    """

    name: str
    values: np.ndarray
    columns: list[str]
    borders: dict[str, tuple[int, int]]
    mean: np.ndarray
    std: np.ndarray
    seq_len: int
    date_column: str | None = None
    freq: str | None = None
    features: str = "M"

    @property
    def n_channels(self) -> int:
        return self.values.shape[1]

    def split(self, split: str) -> np.ndarray:
        """Scaled rows ``[rows, C]`` of one split (inputs included)."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        start, end = self.borders[split]
        return self.values[start:end]

    def windows(self, split: str, pred_len: int = 0, seq_len: int | None = None) -> SlidingWindows:
        """All ``(x [seq_len, C], y [pred_len, C])`` windows of a split."""
        seq_len = self.seq_len if seq_len is None else seq_len
        if seq_len > self.seq_len and split != "train":
            raise ValueError(f"the split borders were made for seq_len <= {self.seq_len}, got {seq_len}")
        return SlidingWindows(self.split(split), seq_len, pred_len)

    def inverse_transform(self, scaled: np.ndarray) -> np.ndarray:
        return np.asarray(scaled) * self.std + self.mean


def load_forecasting(name_or_path: str | Path, root: str | Path | None = None, *, seq_len: int = 336,
                     features: Literal["M", "S"] = "M", target: str | None = None,
                     split: str | None = None, scale: bool = True, dates: str = "check",
                     date_column: str | None = None, log=print) -> ForecastingData:
    """Load a benchmark by name (``ETTh1``, ``ETTm1``, ``Weather``, ...) from ``root``, or any
    CSV by path (70/10/20 split unless ``split`` names another scheme).

    Args:
        name_or_path: a name in :data:`DATASETS` or a path to a CSV with a ``date`` column.
        root: data folder for names (default ``data/``).
        seq_len: input length L (val/test start L rows early).
        features: ``M`` all columns (multivariate), ``S`` the target column only.
        target: target column (default ``OT`` for the benchmarks, the last column otherwise).
        split: override the split scheme (``ett_hour``, ``ett_minute``, ``ratio``).
        scale: standardise with the training rows' mean and std.
        dates: a CSV's time stamps out of order or repeated are refused (``check``) or sorted
            and de-duplicated (``repair``); the named benchmarks are always loaded as published
            (:func:`simmtm.data.dates.checked_frame`). ``log`` receives what was found.
        date_column: the CSV's date column (default ``date``; a CSV without one is read as
            values only, numbered by row).
    """
    name = str(name_or_path)
    if name in DATASETS:
        spec = DATASETS[name]
        path = Path(root if root is not None else "data") / spec.path
        scheme, default_target = spec.split, spec.target
    elif name.endswith(".csv") or Path(name).is_file():
        path, scheme, default_target = Path(name), "ratio", None
        name = Path(name).stem
    else:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)} (or pass a CSV path)")
    frame = read_series_csv(path, date_column or "date", required=date_column is not None or name in DATASETS)
    date_column = date_column or "date"
    if dates not in ("check", "repair"):
        raise ValueError(f"dates must be 'check' or 'repair', got {dates!r}")
    frame = checked_frame(frame, date_column, source=str(path), policy="tolerate" if name in DATASETS else dates,
                          log=log)
    dated = date_column in frame.columns
    columns = [c for c in frame.columns if c != date_column]
    target = target or default_target or columns[-1]
    if target not in columns:
        raise ValueError(f"target column {target!r} not in {path} (columns: {columns})")
    if features == "S":
        columns = [target]
    elif features != "M":
        raise ValueError(f"features must be 'M' or 'S', got {features!r}")
    values = frame[columns].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).any(axis=1).sum())
        raise ValueError(f"{path} has {bad} rows with NaN or infinite values; impute them first")
    data = from_array(name, values, columns, seq_len=seq_len, split=split or scheme, scale=scale)
    data.features, data.date_column = features, date_column if dated else None
    if dated:
        try:
            data.freq = infer_frequency(parse_dates(frame[date_column], name=date_column), date_column)
        except ValueError:  # training does not need regular dates; forecasting past the end will say why
            data.freq = None
    return data


def from_array(name: str, values: np.ndarray, columns: list[str] | None = None, *, seq_len: int = 336,
               split: str = "ratio", scale: bool = True) -> ForecastingData:
    """Split and scale an in-memory series ``[T, C]`` (e.g. synthetic data) like a CSV."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be [T, C], got shape {values.shape}")
    columns = columns or [f"c{i}" for i in range(values.shape[1])]
    borders = split_borders(len(values), split, seq_len)
    train = values[borders["train"][0]:borders["train"][1]]
    mean = train.mean(0) if scale else np.zeros(len(columns))
    std = train.std(0) if scale else np.ones(len(columns))
    std = np.where(std > 0, std, 1.0)  # a constant training channel is left unscaled
    scaled = ((values - mean) / std).astype(np.float32)
    return ForecastingData(name, scaled, columns, borders, mean, std, seq_len)


def find_root(name: str, candidates: tuple[str | Path, ...] = CANDIDATES) -> Path | None:
    """The first folder among ``candidates`` (relative to the working directory) that holds
    dataset ``name``, or None. Lets notebooks use data/ and fall back to a shared copy
    (ignored while ``SIMMTM_HIDE_SHARED_DATA=1``)."""
    spec = DATASETS.get(name)
    if spec is None:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return data_root(spec.path, candidates)
