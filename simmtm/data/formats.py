"""A user's labelled series from files: the UCR/UEA ``.ts`` format, NumPy ``.npz`` and a CSV with
one series a row; their labels mapped to classes; and the fixed recipe that turns raw series of
any length into model inputs ``[N, L, C]``.

Reading and preparing are two steps. A reader returns a :class:`SeriesSet`: each series as it
is in the file, ``[L_i, C]`` float64 with NaN where a value is missing, and its labels as given.
:class:`SeriesFormat` then brings every series to one length and scale, the same way for the
training file and for any later file (it is stored in the classifier's checkpoint):

1. missing values are filled by linear interpolation between the nearest observed values of
   the same channel of the same series (before the first / after the last observed value: that
   value is repeated);
2. every series is brought to ``length`` steps: ``resample`` (default) interpolates linearly over
   the series' own span, so a short series is stretched and nothing is cut; ``pad`` repeats the
   last value after the end (series longer than ``length`` are refused);
3. each channel is standardised with the mean and std of the training series.

``length`` defaults to the longest training series, so no series loses points.

Labels of any type (numbers, strings) map to classes ``0..K-1`` in sorted order
(:class:`LabelMap`: numerically when every label reads as a number, else as text), so a model's
class ``k`` reads back as the user's own label.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

LengthPolicy = Literal["resample", "pad"]
SUFFIXES = (".ts", ".npz", ".csv")


# --------------------------------------------------------------------------- what a reader returns
@dataclass
class SeriesSet:
    """Series as read from a file. ``series``: N arrays ``[L_i, C]`` (float64, NaN = missing);
    ``labels``: ``[N]`` as given (None when the file has none); ``source``: where they came from;
    ``name``: the problem name if the file gives one."""

    series: list[np.ndarray]
    labels: np.ndarray | None
    source: str
    name: str = ""

    def __post_init__(self):
        if not self.series:
            raise ValueError(f"{self.source}: no series")
        channels = {s.shape[1] for s in self.series}
        if len(channels) != 1:
            raise ValueError(f"{self.source}: series have different channel counts {sorted(channels)}")
        if self.labels is not None and len(self.labels) != len(self.series):
            raise ValueError(f"{self.source}: {len(self.series)} series but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.series)

    @property
    def n_channels(self) -> int:
        return self.series[0].shape[1]

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.series])

    @property
    def n_missing(self) -> int:
        return int(sum(np.isnan(s).sum() for s in self.series))

    def describe(self) -> str:
        """One line: how many series, channels, lengths, missing values and classes."""
        lo, hi = self.lengths.min(), self.lengths.max()
        length = f"length {lo}" if lo == hi else f"lengths {lo}-{hi} (median {int(np.median(self.lengths))})"
        classes = "" if self.labels is None else f", {len(np.unique(self.labels.astype(str)))} classes"
        return (f"{self.source}: {len(self)} series, {self.n_channels} channel(s), {length}, "
                f"{self.n_missing} missing values{classes}")


# --------------------------------------------------------------------------- .ts (UCR/UEA archive)
_TRUE = {"true": True, "false": False}
_TIMESTAMPED = re.compile(r"\(([^(),]*),([^(),]*)\)")


def _flag(value: str, tag: str, where: str) -> bool:
    if value.lower() not in _TRUE:
        raise ValueError(f"{where}: @{tag} must be true or false, got {value!r}")
    return _TRUE[value.lower()]


def _number(token: str, where: str) -> float:
    token = token.strip()
    if token in ("?", "NaN", "nan"):
        return np.nan
    try:
        return float(token)
    except ValueError:
        raise ValueError(f"{where}: {token!r} is not a number") from None


def _ts_dimension(text: str, timestamps: bool, where: str) -> list[float]:
    text = text.strip()
    if not text:
        raise ValueError(f"{where}: empty (no values)")
    if timestamps:  # (time,value),(time,value),...: the values in file order; times not used
        pairs = _TIMESTAMPED.findall(text)
        if not pairs or _TIMESTAMPED.sub("", text).replace(",", "").strip():
            raise ValueError(f"{where}: expected (timestamp,value) pairs with @timeStamps true")
        return [_number(v, where) for _, v in pairs]
    return [_number(v, where) for v in text.split(",")]


def read_ts(path: str | Path) -> SeriesSet:
    """Read a UCR/UEA ``.ts`` file.

    Header tags (case-insensitive) before ``@data``: ``@problemName``, ``@timeStamps``,
    ``@missing``, ``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``,
    ``@classLabel true <labels...>`` or ``false``; ``#`` lines are comments. After ``@data``,
    one series a line: channels separated by ``:``, values by ``,``, ``?`` for a missing value,
    the class label last when ``@classLabel true``. With ``@timeStamps true`` values are written
    ``(t,v)``; the values are kept in file order and the times are not used.

    Raises ``ValueError`` naming the file and line for a malformed line, an undeclared label, a
    channel count or length that contradicts the header, and ``@targetLabel`` (regression).
    """
    path = Path(path)
    header: dict[str, Any] = {}
    series, labels, in_data = [], [], False
    with open(path, encoding="utf-8-sig", errors="replace") as fh:  # -sig: a byte-order mark is not a data line
        for n, raw in enumerate(fh, start=1):
            line = raw.strip()
            where = f"{path}, line {n}"
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise ValueError(f"{where}: a data line before @data")
                tag, _, value = line[1:].partition(" ")
                tag, value = tag.lower(), value.strip()
                if tag == "data":
                    in_data = True
                elif tag == "problemname":
                    header["name"] = value
                elif tag in ("timestamps", "missing", "univariate", "equallength"):
                    header[tag] = _flag(value, tag, where)
                elif tag in ("dimensions", "serieslength"):
                    if not value.isdigit() or int(value) < 1:
                        raise ValueError(f"{where}: @{tag} must be a positive integer, got {value!r}")
                    header[tag] = int(value)
                elif tag == "classlabel":
                    flag, *declared = value.split()
                    header["classlabel"] = _flag(flag, tag, where)
                    header["classes"] = declared
                elif tag == "targetlabel":
                    raise ValueError(f"{where}: @targetLabel marks a regression problem; only classification "
                                     f"(@classLabel) files are supported")
                continue  # other tags carry nothing the series need
            if line.startswith("@"):
                raise ValueError(f"{where}: a header tag after @data")
            fields = line.split(":")
            if header.get("classlabel"):
                if len(fields) < 2:
                    raise ValueError(f"{where}: expected channel values then ':' and a class label")
                *fields, label = fields
                label = label.strip()
                declared = header.get("classes")
                if declared and label not in declared:
                    raise ValueError(f"{where}: class label {label!r} is not among those @classLabel declares "
                                     f"({' '.join(declared)})")
                labels.append(label)
            dims = [_ts_dimension(f, header.get("timestamps", False), f"{where}, channel {c + 1}")
                    for c, f in enumerate(fields)]
            expected = header.get("dimensions", 1 if header.get("univariate") else None)
            if expected is not None and len(dims) != expected:
                raise ValueError(f"{where}: {len(dims)} channel(s), but the header says {expected}")
            if series and len(dims) != series[0].shape[1]:
                raise ValueError(f"{where}: {len(dims)} channel(s), but earlier series have {series[0].shape[1]}")
            if len({len(d) for d in dims}) != 1:
                raise ValueError(f"{where}: the channels have different lengths {[len(d) for d in dims]}")
            if header.get("equallength") and "serieslength" in header and len(dims[0]) != header["serieslength"]:
                raise ValueError(f"{where}: {len(dims[0])} values, but @seriesLength is {header['serieslength']}")
            series.append(np.array(dims, dtype=np.float64).T)  # [L, C]
    if not in_data:
        raise ValueError(f"{path}: no @data line (not a .ts file?)")
    if not series:
        raise ValueError(f"{path}: no series after @data")
    return SeriesSet(series, np.array(labels, dtype=object) if header.get("classlabel") else None, str(path),
                     header.get("name", ""))


# --------------------------------------------------------------------------- .npz and .csv
def _trim(row: np.ndarray) -> np.ndarray:
    """``[L, C]`` without its trailing all-missing steps (padding that marks a shorter series)."""
    observed = np.flatnonzero(~np.isnan(row).all(axis=1))
    return row[:observed[-1] + 1] if len(observed) else row[:0]


def _from_rows(x: np.ndarray, labels: np.ndarray | None, source: str) -> SeriesSet:
    series = [_trim(row) for row in x]
    empty = [i for i, s in enumerate(series) if len(s) == 0]
    if empty:
        raise ValueError(f"{source}: series {empty[0]} has no observed value ({len(empty)} such series)")
    return SeriesSet(series, labels, source)


def read_npz(path: str | Path, *, x_key: str = "X", y_key: str = "y") -> SeriesSet:
    """Read ``X`` (``[N, L]`` univariate or ``[N, C, L]``, the channels-first layout of the UEA
    and TF-C arrays) and, if present, ``y`` (``[N]``) from a NumPy ``.npz``. NaN marks a missing
    value; trailing NaN in every channel marks a shorter series. Nothing is unpickled."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, EOFError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable .npz of plain arrays ({err})") from None
    if x_key not in arrays:
        raise ValueError(f"{path}: no array {x_key!r} (found {sorted(arrays)})")
    x = arrays[x_key]
    if x.dtype.kind not in "iuf":
        raise ValueError(f"{path}: {x_key} must hold numbers, got dtype {x.dtype}")
    if x.ndim == 2:
        x = x[:, :, None]  # [N, L, 1]
    elif x.ndim == 3:
        x = x.transpose(0, 2, 1)  # [N, C, L] -> [N, L, C]
    else:
        raise ValueError(f"{path}: {x_key} must be [N, L] or [N, C, L], got shape {x.shape}")
    y = arrays.get(y_key)
    if y is not None and y.shape != (len(x),):
        raise ValueError(f"{path}: {y_key} must be [N] with N = {len(x)}, got shape {y.shape}")
    return _from_rows(x.astype(np.float64), None if y is None else y.astype(object), str(path))


def read_csv(path: str | Path, *, label_column: str | None = "label") -> SeriesSet:
    """Read a CSV with a header row and one univariate series a row: the ``label_column`` (if
    the file has it) holds the labels, every other column is a value, in time order. Empty cells
    are missing values; empty cells at the end of a row mark a shorter series."""
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({' '.join(str(err).split())})") from None
    columns = [str(c).strip() for c in df.columns]
    df.columns = columns
    if sum(_is_number(c) and not c.lstrip("-").isdigit() for c in columns) > len(columns) // 2:
        raise ValueError(f"{path}: the first row looks like data; the CSV needs a header row "
                         f"(value columns and a {label_column or 'label'!r} column)")
    labels = None
    if label_column is not None and label_column in columns:
        labels = df.pop(label_column).str.strip().to_numpy(dtype=object)
    if df.shape[1] == 0:
        raise ValueError(f"{path}: no value columns")
    cells = df.apply(lambda col: col.str.strip())
    values = cells.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)  # [N, L]
    bad = np.isnan(values) & ~cells.isin(("", "?", "NaN", "nan", "NA")).to_numpy()
    if bad.any():
        i, j = np.argwhere(bad)[0]
        column = df.columns[j]
        hint = "" if label_column in columns else " (is it the label column? pass its name as the label column)"
        raise ValueError(f"{path}, line {i + 2}: column {column!r} holds {cells.iat[i, j]!r}, not a number{hint}")
    if labels is not None:
        labels = np.array([_as_number(v) for v in labels], dtype=object)
    return _from_rows(values[:, :, None], labels, str(path))


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _as_number(text: str):
    """``"3"`` -> 3, ``"2.5"`` -> 2.5, anything else unchanged (CSV labels keep the type they read as)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def read_series(path: str | Path, *, label_column: str | None = "label") -> SeriesSet:
    """Read a ``.ts``, ``.npz`` or ``.csv`` file by its suffix (see :func:`read_ts`,
    :func:`read_npz`, :func:`read_csv`)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a series file")
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}")
    suffix = path.suffix.lower()
    if suffix == ".ts":
        return read_ts(path)
    if suffix == ".npz":
        return read_npz(path)
    if suffix == ".csv":
        return read_csv(path, label_column=label_column)
    raise ValueError(f"{path}: unknown format {suffix!r}; series files are {', '.join(SUFFIXES)}")


def load_labelled(path: str | Path, *, label_column: str | None = "label", length: int | None = None,
                  lengths: LengthPolicy = "resample") -> tuple[np.ndarray, np.ndarray | None, str]:
    """One call from a file to arrays: ``X`` ``[N, L, C]`` float32 (missing values filled, every
    series brought to ``length`` steps, default the longest; NOT standardised), the labels as
    given (None if the file has none), and one line saying what was done."""
    data = read_series(path, label_column=label_column)
    fmt = SeriesFormat(int(length or data.lengths.max()), data.n_channels, lengths)
    return fmt.apply(data), data.labels, f"{data.describe()}; {fmt.describe(data)}"


# --------------------------------------------------------------------------- labels
def _label_key(value) -> str:
    """Labels compare by their text, so 3 in an .npz and "3" in a .ts are one class."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


@dataclass(frozen=True)
class LabelMap:
    """The classes ``0..K-1`` and the user's labels they stand for (``labels[k]``).

    ``LabelMap.fit(y)`` sorts the distinct labels: numerically when every one reads as a
    number (so 1..10 give 10 classes in order 1, 2, ..., 10), else as text."""

    labels: tuple

    @classmethod
    def fit(cls, y: Sequence) -> "LabelMap":
        seen: dict[str, Any] = {}
        for v in y:
            seen.setdefault(_label_key(v), v.item() if isinstance(v, np.generic) else v)
        if len(seen) < 2:
            raise ValueError(f"classification needs two or more classes; the labels hold {len(seen)} ({list(seen)})")
        keys = sorted(seen, key=lambda k: (0, float(k), k) if all(_is_number(s) for s in seen) else (1, 0.0, k))
        return cls(tuple(seen[k] for k in keys))

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, y: Sequence, source: str = "labels") -> np.ndarray:
        """``[N]`` labels -> ``[N]`` int64 classes; a label the map does not hold is an error."""
        index = {_label_key(v): k for k, v in enumerate(self.labels)}
        unknown = sorted({_label_key(v) for v in y} - set(index))
        if unknown:
            raise ValueError(f"{source}: labels {unknown[:5]} do not occur in the training labels "
                             f"({', '.join(map(_label_key, self.labels))})")
        return np.array([index[_label_key(v)] for v in y], dtype=np.int64)

    def decode(self, classes: np.ndarray) -> np.ndarray:
        """``[N]`` class indices -> ``[N]`` user labels."""
        out = np.empty(len(classes), dtype=object)
        out[:] = [self.labels[int(k)] for k in classes]
        return out

    @property
    def names(self) -> list[str]:
        """The labels as text (column names such as ``prob_<name>``)."""
        return [_label_key(v) for v in self.labels]


# --------------------------------------------------------------------------- one length, one scale
def fill_missing(x: np.ndarray) -> np.ndarray:
    """``[L, C]`` with each channel's NaN replaced by linear interpolation between its nearest
    observed values (the first / last observed value repeated at the ends). A channel with no
    observed value is an error."""
    x = np.array(x, dtype=np.float64)
    t = np.arange(len(x))
    for c in range(x.shape[1]):
        missing = np.isnan(x[:, c])
        if missing.all():
            raise ValueError(f"channel {c + 1} of a series has no observed value")
        if missing.any():
            x[missing, c] = np.interp(t[missing], t[~missing], x[~missing, c])
    return x


def resample(x: np.ndarray, length: int) -> np.ndarray:
    """``[L, C] -> [length, C]`` by linear interpolation over the series' span (first and last
    points kept; a one-point series becomes constant)."""
    if len(x) == length:
        return x
    if len(x) == 1:
        return np.repeat(x, length, axis=0)
    old, new = np.linspace(0.0, 1.0, len(x)), np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(new, old, x[:, c]) for c in range(x.shape[1])], axis=1)


def pad(x: np.ndarray, length: int) -> np.ndarray:
    """``[L, C] -> [length, C]`` with the last value repeated after the end (``L <= length``)."""
    if len(x) > length:
        raise ValueError(f"a series of {len(x)} steps is longer than the model's {length}; "
                         f"use the 'resample' length policy or a longer length")
    return np.concatenate([x, np.repeat(x[-1:], length - len(x), axis=0)]) if len(x) < length else x


@dataclass(frozen=True)
class SeriesFormat:
    """The recipe that makes model inputs ``[N, L, C]`` float32 from raw series (module
    docstring): fill missing values, bring each series to ``length`` steps (``lengths``:
    ``resample`` or ``pad``), standardise channel ``c`` with ``(x - mean[c]) / std[c]``.
    Fit it on the training series with :meth:`fit`; store it with :meth:`to_dict`."""

    length: int
    n_channels: int
    lengths: str = "resample"
    mean: tuple[float, ...] = field(default=())
    std: tuple[float, ...] = field(default=())

    def __post_init__(self):
        if self.length < 1 or self.n_channels < 1:
            raise ValueError(f"length and n_channels must be >= 1, got {self.length}, {self.n_channels}")
        if self.lengths not in ("resample", "pad"):
            raise ValueError(f"lengths must be 'resample' or 'pad', got {self.lengths!r}")
        for name in ("mean", "std"):
            if len(getattr(self, name)) not in (0, self.n_channels):
                raise ValueError(f"{name} needs one value per channel ({self.n_channels})")
        if any(not s > 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std}")

    @classmethod
    def fit(cls, data: SeriesSet, *, length: int | None = None, lengths: LengthPolicy = "resample") -> "SeriesFormat":
        """The format of ``data``: ``length`` (default: its longest series) and the per-channel
        mean and std of its series once filled and brought to that length."""
        length = int(length or data.lengths.max())
        shaped = cls(length, data.n_channels, lengths)._shape(data.series)
        mean = shaped.mean(axis=(0, 1))
        std = shaped.std(axis=(0, 1))
        std = np.where(std > 1e-8, std, 1.0)  # a constant channel is centred, not divided by 0
        return cls(length, data.n_channels, lengths, tuple(map(float, mean)), tuple(map(float, std)))

    def _shape(self, series: Sequence[np.ndarray]) -> np.ndarray:
        to_length = resample if self.lengths == "resample" else pad
        out = np.empty((len(series), self.length, self.n_channels))
        for i, s in enumerate(series):
            try:
                out[i] = to_length(fill_missing(s), self.length)
            except ValueError as err:
                raise ValueError(f"series {i}: {err}") from None
        return out  # [N, L, C]

    def apply(self, data: SeriesSet | np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Model inputs ``[N, length, C]`` float32 from a :class:`SeriesSet`, an array ``[N, L]``
        or ``[N, L, C]`` (NaN = missing) or a list of ``[L_i, C]`` arrays."""
        series = data.series if isinstance(data, SeriesSet) else _as_series_list(data)
        channels = {s.shape[1] for s in series}
        if channels != {self.n_channels}:
            raise ValueError(f"the model takes {self.n_channels} channel(s); the series have {sorted(channels)}")
        x = self._shape(series)
        if self.mean:
            x = (x - np.array(self.mean)) / np.array(self.std)
        return x.astype(np.float32)

    def describe(self, data: SeriesSet | None = None) -> str:
        """What :meth:`apply` does, in one line (with ``data``: what it does to that data)."""
        how = ("resampled by linear interpolation" if self.lengths == "resample"
               else "padded by repeating the last value")
        parts = [f"inputs of {self.length} steps x {self.n_channels} channel(s)"]
        if data is not None:
            changed = int((data.lengths != self.length).sum())
            if changed:
                parts.append(f"{changed} of {len(data)} series {how} to {self.length} steps")
            if data.n_missing:
                parts.append(f"{data.n_missing} missing values filled by linear interpolation within their series")
        if self.mean:
            parts.append("each channel standardised with the training mean and std")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"length": self.length, "n_channels": self.n_channels, "lengths": self.lengths,
                "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SeriesFormat":
        return cls(int(d["length"]), int(d["n_channels"]), d["lengths"], tuple(d["mean"]), tuple(d["std"]))


def _as_series_list(x) -> list[np.ndarray]:
    if isinstance(x, np.ndarray) or hasattr(x, "numpy"):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 2:
            x = x[:, :, None]  # [N, L] -> [N, L, 1]
        if x.ndim != 3:
            raise ValueError(f"series must be [N, L] or [N, L, C], got shape {x.shape}")
        return [_trim(row) for row in x]
    series = [np.asarray(s, dtype=np.float64) for s in x]
    series = [s[:, None] if s.ndim == 1 else s for s in series]
    if not series or any(s.ndim != 2 or len(s) == 0 for s in series):
        raise ValueError("series must be a non-empty list of [L] or [L, C] arrays")
    return series
