"""A user's table as a series: timestamps, numeric value columns ``[T, C]``, optional point labels.

Rules (one clear ``ValueError`` otherwise):
- the time column is a ``DatetimeIndex`` or a column named timestamp / date / time / datetime
  (any case); it must parse as dates or numbers; without one, rows are numbered;
- every other numeric column is a value channel, except a label column (``is_anomaly``, ``label``,
  ``anomaly``), which is set aside (it is never used for training unless passed as labels);
- values must be finite (no NaN: fill or drop them first).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simmtm.data.dates import parse_dates

TIME_COLUMNS = ("timestamp", "date", "time", "datetime")
LABEL_COLUMNS = ("is_anomaly", "label", "anomaly")


@dataclass(frozen=True)
class SeriesFrame:
    """``values`` ``[T, C]`` float64 of the ``columns``, with ``timestamps`` ``[T]`` (or None)."""

    timestamps: pd.Index | None
    columns: tuple[str, ...]
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    def rows(self, index) -> "SeriesFrame":
        """The rows at ``index`` (a slice or boolean mask)."""
        ts = self.timestamps[index] if self.timestamps is not None else None
        return SeriesFrame(ts, self.columns, self.values[index])


def _time_column(df: pd.DataFrame) -> str | None:
    for col in df.columns:
        if str(col).strip().lower() in TIME_COLUMNS:
            return col
    return None


def _parse_times(column: pd.Series, name: str) -> pd.Index:
    if pd.api.types.is_numeric_dtype(column):
        return pd.Index(column.to_numpy())
    return parse_dates(column, name=name)


def read_frame(df: pd.DataFrame) -> SeriesFrame:
    """The series in ``df`` (see the module rules)."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame, got {type(df).__name__}")
    time_col = _time_column(df)
    if time_col is not None:
        timestamps = _parse_times(df[time_col], str(time_col))
    elif isinstance(df.index, pd.DatetimeIndex):
        timestamps = df.index
    else:
        timestamps = None
    skip = {time_col} | {c for c in df.columns if str(c).strip().lower() in LABEL_COLUMNS}
    columns = [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])
               and not pd.api.types.is_bool_dtype(df[c])]
    if not columns:
        raise ValueError(f"no numeric value column among {[str(c) for c in df.columns]}")
    values = df[columns].to_numpy(np.float64)  # [T, C]
    if len(values) == 0:
        raise ValueError("the table holds no rows")
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{int(bad.sum())} missing or infinite value(s), first in column {str(columns[col])!r} at row "
                         f"{int(row)}; fill or drop them first")
    return SeriesFrame(timestamps, tuple(str(c) for c in columns), values)


def read_csv(path: str | Path) -> SeriesFrame:
    """:func:`read_frame` of a CSV file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a readable CSV table ({str(err).splitlines()[0]})") from err
    try:
        return read_frame(df)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err


def train_rows(frame: SeriesFrame, *, train_until: str | None = None, train_fraction: float | None = None) -> int:
    """How many leading rows form the training part: those up to ``train_until`` (inclusive; needs
    timestamps) or the first ``train_fraction`` of the rows (default 0.5)."""
    if train_until is not None and train_fraction is not None:
        raise ValueError("give either train_until or train_fraction, not both")
    if train_until is not None:
        if frame.timestamps is None:
            raise ValueError("train_until needs a time column (timestamp/date/time/datetime)")
        if isinstance(frame.timestamps, pd.DatetimeIndex):
            try:
                bound = pd.Timestamp(train_until)
            except ValueError as err:
                raise ValueError(f"train_until {train_until!r} is not a date") from err
        else:
            bound = float(train_until)
        n = int(np.sum(np.asarray(frame.timestamps <= bound)))
    else:
        fraction = 0.5 if train_fraction is None else train_fraction
        if not 0 < fraction < 1:
            raise ValueError(f"train_fraction must be in (0, 1), got {fraction}")
        n = int(len(frame) * fraction)
    if n == 0 or n == len(frame):
        raise ValueError(f"the training part holds {n} of {len(frame)} rows; it must leave rows on both sides")
    return n


def read_labels(path: str | Path, frame: SeriesFrame) -> np.ndarray:
    """Point labels ``[T]`` (True = anomaly) for ``frame`` from ``path``:

    - ``.json``: a list of ``[start, end]`` windows (inclusive), or a dict holding exactly one such
      list (NAB's ``combined_windows.json`` entry format); bounds compare with the timestamps;
    - ``.csv``: a 0/1 column (``is_anomaly``/``label``/``anomaly``, or the only column), with a time
      column matched to ``frame``'s timestamps, or else one row per row of ``frame``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labels file {path} not found")
    T = len(frame)
    if path.suffix.lower() == ".json":
        windows = json.loads(path.read_text())
        if isinstance(windows, dict):
            if len(windows) != 1:
                raise ValueError(f"{path} holds {len(windows)} entries; give a list of [start, end] windows")
            windows = next(iter(windows.values()))
        if frame.timestamps is None:
            raise ValueError("window labels need a time column in the data")
        times = frame.timestamps
        labels = np.zeros(T, dtype=bool)
        for w in windows:
            if not isinstance(w, (list, tuple)) or len(w) != 2:
                raise ValueError(f"{path}: label windows must be [start, end] pairs, got {w!r}")
            cast = pd.Timestamp if isinstance(times, pd.DatetimeIndex) else float
            labels |= np.asarray((times >= cast(w[0])) & (times <= cast(w[1])))
        return labels
    df = pd.read_csv(path)
    label_col = next((c for c in df.columns if str(c).strip().lower() in LABEL_COLUMNS), None)
    if label_col is None:
        if df.shape[1] != 1:
            raise ValueError(f"{path} needs a label column named one of {LABEL_COLUMNS}")
        label_col = df.columns[0]
    values = pd.to_numeric(df[label_col], errors="coerce")
    if values.isna().any() or not values.isin([0, 1]).all():
        raise ValueError(f"{path}: labels must be 0 or 1")
    time_col = _time_column(df)
    if time_col is not None and frame.timestamps is not None:
        times = _parse_times(df[time_col], str(time_col))
        positive = set(times[values.to_numpy() == 1])
        return np.asarray([t in positive for t in frame.timestamps], dtype=bool)
    if len(values) != T:
        raise ValueError(f"{path} has {len(values)} labels for {T} rows")
    return values.to_numpy().astype(bool)
