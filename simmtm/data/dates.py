"""The time stamps of a series: parsed, checked, their sampling step inferred (pure functions).

A forecasting model reads rows in order and assumes one step between them. Rows out of time
order or repeated time stamps silently scramble that series; gaps (missing steps) only bend it.
:func:`check_dates` says which of these a date column has; loaders refuse the first two (or
repair them, :func:`repair_dates`, when asked) and report the third.

Row numbers are 0-based data rows with the file's line beside them (the first row after a
CSV's header is row 0, on line 2 of the file). Used by
:func:`simmtm.data.forecasting.load_forecasting`; :func:`infer_frequency`, :func:`infer_step` and
:func:`future_dates` serve forecasting on a user's data (time stamps of the predicted steps).
"""
from __future__ import annotations

import warnings

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DateReport:
    """What :func:`check_dates` found in a date column of ``n_rows`` rows.

    ``step``: the sampling step (most common positive difference; None with fewer than two
    distinct stamps). ``first_unsorted``: the first row earlier than the row before it;
    ``first_duplicate``: the first row repeating an earlier stamp (``duplicate_of`` the row it
    repeats). Gaps are differences larger than ``step`` between consecutive distinct stamps in
    time order: ``n_gaps`` of them, the largest ``largest_gap`` ending at row ``largest_gap_at``.
    """

    n_rows: int
    step: pd.Timedelta | None
    n_unsorted: int
    first_unsorted: int | None
    n_duplicates: int
    first_duplicate: int | None
    duplicate_of: int | None
    n_gaps: int
    largest_gap: pd.Timedelta | None
    largest_gap_at: int | None
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None

    @property
    def in_order(self) -> bool:
        """Sorted and without repeated stamps (gaps allowed): safe to window as it is."""
        return self.first_unsorted is None and self.first_duplicate is None

    @property
    def frequency(self) -> str | None:
        """``step`` as a pandas frequency alias (``"10min"``, ``"h"``, ``"D"``), or None."""
        return frequency_alias(self.step)

    def problem(self, dates: Any | None = None) -> str | None:
        """One line naming the first out-of-order or repeated row (with its stamp if ``dates``
        is given), or None when the stamps are in order."""
        show = (lambda i: f" ({pd.Timestamp(_as_index(dates)[i])})") if dates is not None else (lambda i: "")
        parts = []
        if self.first_unsorted is not None:
            parts.append(f"{self.n_unsorted} row(s) out of time order, the first row {self.first_unsorted}"
                         f"{show(self.first_unsorted)} (line {self.first_unsorted + 2}) is earlier than the row before it")
        if self.first_duplicate is not None:
            parts.append(f"{self.n_duplicates} repeated time stamp(s), the first row {self.first_duplicate}"
                         f"{show(self.first_duplicate)} (line {self.first_duplicate + 2}) repeats row {self.duplicate_of}")
        return "; ".join(parts) or None

    def gaps(self) -> str | None:
        """One line on the gaps (count, largest, where), or None without gaps."""
        if not self.n_gaps:
            return None
        return (f"{self.n_gaps} gap(s) in the {self.frequency or self.step} time stamps, the largest "
                f"{_span(self.largest_gap)} before row {self.largest_gap_at} (line {self.largest_gap_at + 2})")


def _span(delta: pd.Timedelta | None) -> str:
    return "?" if delta is None else str(delta).replace("0 days ", "")


def _as_index(dates: Any) -> pd.DatetimeIndex:
    return dates if isinstance(dates, pd.DatetimeIndex) else parse_dates(dates)


def _ns(index: pd.DatetimeIndex) -> np.ndarray:
    """Stamps as int64 nanoseconds (pandas may store seconds or microseconds)."""
    return index.as_unit("ns").asi8 if hasattr(index, "as_unit") else index.asi8


def parse_dates(values: Any, *, name: str = "date") -> pd.DatetimeIndex:
    """Parse a column of time stamps (strings, numbers of a known format, datetimes) into a
    DatetimeIndex named ``name``; ValueError naming the first row that does not parse."""
    if isinstance(values, pd.DatetimeIndex):
        return values
    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(series):
        return pd.DatetimeIndex(series, name=name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "could not infer format": the bad row is reported below
            try:
                parsed = pd.to_datetime(series, errors="coerce")
            except ValueError:  # stamps with different UTC offsets: compare them in UTC
                parsed = pd.to_datetime(series, errors="coerce", utc=True)
    except (ValueError, TypeError, OverflowError) as err:
        raise ValueError(f"the {name} column does not hold time stamps ({' '.join(str(err).split())})") from None
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise ValueError(f"the {name} column: row {row} (line {row + 2}) is not a time stamp: {series.iloc[row]!r} "
                         f"({len(bad)} such row(s); --date-column names another column)")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.DatetimeIndex(parsed, name=name)


def infer_step(dates: Any) -> pd.Timedelta | None:
    """The sampling step of ``dates``: the most common positive difference between consecutive
    distinct stamps in time order (ties: the smallest). None with fewer than two distinct stamps."""
    ordered = np.unique(_ns(_as_index(dates)))  # sorted, distinct (int64 ns)
    if len(ordered) < 2:
        return None
    values, counts = np.unique(np.diff(ordered), return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def frequency_alias(step: pd.Timedelta | None) -> str | None:
    """A step as a pandas frequency alias (``pd.Timedelta("10min")`` -> ``"10min"``), or None."""
    if step is None:
        return None
    try:
        return pd.tseries.frequencies.to_offset(step).freqstr
    except ValueError:
        return None


def check_dates(dates: Any) -> DateReport:
    """Order, repeats, gaps and sampling step of a date column (parsed with :func:`parse_dates`
    if it is not yet); see :class:`DateReport`. Pure: nothing is changed or refused here."""
    index = parse_dates(dates)
    ns = _ns(index)
    n = len(ns)
    down = np.flatnonzero(np.diff(ns) < 0) + 1 if n > 1 else np.array([], dtype=int)
    repeated = np.flatnonzero(index.duplicated(keep="first"))
    duplicate_of = None
    if len(repeated):
        duplicate_of = int(np.flatnonzero(ns == ns[repeated[0]])[0])
    step = infer_step(index)
    n_gaps, largest, largest_at = 0, None, None
    if step is not None:
        order = np.argsort(ns, kind="stable")
        keep = np.concatenate([[True], np.diff(ns[order]) != 0])
        distinct, rows = ns[order][keep], order[keep]
        diffs = np.diff(distinct)
        over = np.flatnonzero(diffs > step.value)
        n_gaps = len(over)
        if n_gaps:
            k = over[np.argmax(diffs[over])]
            largest, largest_at = pd.Timedelta(int(diffs[k]), unit="ns"), int(rows[k + 1])
    return DateReport(n_rows=n, step=step, n_unsorted=len(down), first_unsorted=int(down[0]) if len(down) else None,
                      n_duplicates=len(repeated), first_duplicate=int(repeated[0]) if len(repeated) else None,
                      duplicate_of=duplicate_of, n_gaps=n_gaps, largest_gap=largest, largest_gap_at=largest_at,
                      first=index.min() if n else None, last=index.max() if n else None)


def repair_dates(frame: pd.DataFrame, column: str = "date") -> tuple[pd.DataFrame, DateReport]:
    """``frame`` sorted by ``column`` (stable) with rows repeating an earlier stamp dropped (the
    first kept), and the report of the dates BEFORE the repair. Gaps are left as they are."""
    index = parse_dates(frame[column], name=column)
    report = check_dates(index)
    if report.in_order:
        return frame, report
    keep = ~index.duplicated(keep="first")
    kept = frame.loc[keep]
    order = np.argsort(_ns(index[keep]), kind="stable")
    return kept.iloc[order].reset_index(drop=True), report


def infer_frequency(dates: Any, name: str = "date") -> str:
    """The pandas frequency alias of sorted, regular dates (``15min``, ``h``, ``D``, ``MS``, ...),
    calendar steps included (months, business days), which :func:`infer_step` cannot express.

    Raises:
        ValueError: fewer than 2 dates; a date not after the one before (unsorted or repeated);
            a step that differs from the file's (a gap or an extra row), naming the first such row.
    """
    dates = parse_dates(dates, name=name)
    if len(dates) < 2:
        raise ValueError(f"the {name} column: at least 2 dates are needed to infer a frequency, got {len(dates)}")
    steps = dates[1:] - dates[:-1]
    back = np.flatnonzero(steps <= pd.Timedelta(0))
    if len(back):
        i = int(back[0]) + 1  # the offending row
        how = "repeats" if steps[i - 1] == pd.Timedelta(0) else "is earlier than"
        raise ValueError(f"the {name} column is not in increasing order: row {i} (line {i + 2}, {dates[i]}) {how} "
                         f"row {i - 1} ({dates[i - 1]}); sort the file by date and drop repeated rows")
    if len(dates) == 2:
        return pd.tseries.frequencies.to_offset(steps[0]).freqstr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces infer_freq's future return type
        freq = pd.infer_freq(dates)
    if freq is not None:
        return getattr(freq, "freqstr", freq)
    if (steps == steps[0]).all():
        return pd.tseries.frequencies.to_offset(steps[0]).freqstr
    usual = infer_step(dates)
    i = int(np.flatnonzero(steps != usual)[0]) + 1
    raise ValueError(f"the {name} column is irregular: row {i} (line {i + 2}, {dates[i]}) comes {steps[i - 1]} after "
                     f"row {i - 1}, the file's step is {usual}; fill the gap or drop the extra row first")


def same_frequency(a: str, b: str) -> bool:
    """Whether two pandas aliases step by the same amount (``D`` and ``24h`` do; ``MS`` only equals itself)."""
    off_a, off_b = pd.tseries.frequencies.to_offset(a), pd.tseries.frequencies.to_offset(b)
    if off_a == off_b:
        return True
    try:
        return pd.Timedelta(off_a) == pd.Timedelta(off_b)
    except (ValueError, TypeError):
        return False


def future_dates(dates: Any, n: int, freq: str | None = None) -> pd.DatetimeIndex:
    """The ``n`` stamps after the last of ``dates``: at ``freq`` (a pandas alias, calendar steps
    included) if given, else at the inferred step (ValueError if there is none)."""
    index = parse_dates(dates)
    if freq is not None:
        return pd.date_range(index.max(), periods=n + 1, freq=freq)[1:]
    step = infer_step(index)
    if step is None:
        raise ValueError("cannot infer a sampling step from fewer than two distinct time stamps")
    return pd.DatetimeIndex([index.max() + step * (i + 1) for i in range(n)])


DATE_POLICIES = ("check", "repair", "tolerate")


def checked_frame(frame: pd.DataFrame, column: str, *, source: str, policy: str = "check",
                  log=print) -> pd.DataFrame:
    """Apply a loader's date policy to ``frame`` (a CSV read as is) and say what it found.

    ``check`` (a user's file): rows out of time order or repeated stamps are refused with the
    first offending row; ``repair``: they are sorted and the repeats dropped (the first kept),
    and the loader says so; ``tolerate`` (a named benchmark, loaded exactly as published):
    nothing changes, what is tolerated is said. Gaps are reported, never refused. A frame
    without ``column`` is taken in file order, unchecked.
    """
    if policy not in DATE_POLICIES:
        raise ValueError(f"dates must be one of {DATE_POLICIES}, got {policy!r}")
    if column not in frame.columns:
        log(f"[data] {source}: no {column!r} column: rows taken in file order, time stamps unchecked")
        return frame
    index = parse_dates(frame[column], name=f"{source}: {column!r}")
    report = check_dates(index)
    problem, gaps = report.problem(index), report.gaps()
    if problem and policy == "check":
        raise ValueError(f"{source}: {problem}; the rows must be in time order without repeats: fix the file, or "
                         "pass --repair-dates (Python: dates='repair') to sort it and drop the repeats")
    if problem and policy == "repair":
        frame, _ = repair_dates(frame, column)
        problem += f"; repaired: sorted by time, {report.n_duplicates} repeated row(s) dropped (the first of each kept)"
    elif problem:
        problem += "; kept as published (the benchmark protocol)"
    notes = [n for n in (problem, gaps and f"{gaps} (kept{', as published' if policy == 'tolerate' else ''})") if n]
    if notes:
        log(f"[data] {source}: {'; '.join(notes)}")
    return frame
