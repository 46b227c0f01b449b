"""Dates of a user's series: parse a date column, check it is sorted and regular, infer its
frequency (15-minute, hourly, daily, monthly, ...) and continue it past the end.

Rows are numbered from 1 for the first data row (the header is not a row), as a spreadsheet
shows them below the header. Every check raises one ``ValueError`` naming the first offending row.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def parse_dates(values, column: str = "date") -> pd.DatetimeIndex:
    """The date column as a DatetimeIndex; ``ValueError`` naming the first value that is not a date."""
    raw = pd.Series(values).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": the bad row is reported below
        dates = pd.to_datetime(raw, errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"date column {column!r}: row {i + 1} ({raw[i]!r}) is not a date "
                         f"({len(bad)} such rows; --date-column names another column)")
    return pd.DatetimeIndex(dates, name=column)


def infer_frequency(dates: pd.DatetimeIndex, column: str = "date") -> str:
    """The pandas frequency alias of sorted, regular dates (``15min``, ``h``, ``D``, ``MS``, ...).

    Raises:
        ValueError: fewer than 2 dates; a date not after the one before (unsorted or repeated);
            a step that differs from the file's (a gap or an extra row), naming the first such row.
    """
    dates = pd.DatetimeIndex(dates)
    if len(dates) < 2:
        raise ValueError(f"date column {column!r}: at least 2 dates are needed to infer a frequency, got {len(dates)}")
    steps = dates[1:] - dates[:-1]
    back = np.flatnonzero(steps <= pd.Timedelta(0))
    if len(back):
        i = int(back[0]) + 1  # 0-based index of the offending date
        how = "repeats" if steps[i - 1] == pd.Timedelta(0) else "is earlier than"
        raise ValueError(f"dates in {column!r} are not in increasing order: row {i + 1} ({dates[i]}) {how} "
                         f"row {i} ({dates[i - 1]}); sort the file by date and drop repeated rows")
    if len(dates) == 2:
        return pd.tseries.frequencies.to_offset(steps[0]).freqstr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces infer_freq's future return type
        freq = pd.infer_freq(dates)  # also calendar steps: days, months, business days
    if freq is not None:
        return getattr(freq, "freqstr", freq)
    if (steps == steps[0]).all():
        return pd.tseries.frequencies.to_offset(steps[0]).freqstr
    values, counts = np.unique(steps, return_counts=True)
    usual = pd.Timedelta(values[counts.argmax()])
    i = int(np.flatnonzero(steps != usual)[0]) + 1
    raise ValueError(f"dates in {column!r} are irregular: row {i + 1} ({dates[i]}) comes {steps[i - 1]} after "
                     f"row {i}, the file's step is {usual}; fill the gap or drop the extra row first")


def same_frequency(a: str, b: str) -> bool:
    """Whether two pandas aliases step by the same amount (``D`` and ``24h`` do; ``MS`` only equals itself)."""
    off_a, off_b = pd.tseries.frequencies.to_offset(a), pd.tseries.frequencies.to_offset(b)
    if off_a == off_b:
        return True
    try:
        return pd.Timedelta(off_a) == pd.Timedelta(off_b)
    except (ValueError, TypeError):
        return False


def future_dates(last: pd.Timestamp, freq: str, n: int) -> pd.DatetimeIndex:
    """The ``n`` dates after ``last`` at frequency ``freq``."""
    return pd.date_range(pd.Timestamp(last), periods=n + 1, freq=freq)[1:]
