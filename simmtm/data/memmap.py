"""Corpora larger than memory: arrays on disk, read through numpy memory maps.

A converted corpus is a folder holding ``values.npy`` (float32), ``labels.npy`` (int64, for
labelled samples) and ``meta.json``. Two kinds:

    series   values ``[T, C]`` (from a CSV): :class:`MemmapWindows` serves sliding windows
    samples  values ``[N, L, C]``, labels ``[N]`` (from a TF-C ``.pt``): :class:`MemmapSamples`

Only the rows a batch asks for are read from disk, so a DataLoader over either uses memory for
its batches, not for the corpus. Values are checked for NaN/inf once, at conversion.

Conversion writes each array to a temp file and renames it into place, ``meta.json`` last: a
failed or interrupted conversion leaves no partial ``values.npy`` (and removes a folder it made).
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from simmtm.utils.atomic import atomic_write, atomic_write_text, temp_path, write_failed
from simmtm.data.textfile import check_text_file
from simmtm.utils.serialization import load_pt

META = "meta.json"


def _write_meta(out: Path, **meta) -> None:
    atomic_write_text(out / META, json.dumps(meta, indent=1))


@contextmanager
def _output_folder(out: Path):
    """Yield ``out`` (created if missing); if the block fails, remove what it left: the folder
    if this call made it, else nothing (the arrays are only renamed in at the end)."""
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield out
    except BaseException:
        if made:
            shutil.rmtree(out, ignore_errors=True)
        raise


def _save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, array))


def read_meta(folder: str | Path) -> dict:
    """The ``meta.json`` of a converted corpus, with a clear error if the folder is not one."""
    path = Path(folder) / META
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: convert the data first (python -m simmtm convert SRC {folder})")
    return json.loads(path.read_text())


def convert_csv(path: str | Path, out: str | Path, *, date_column: str = "date", chunk_rows: int = 100_000) -> Path:
    """Write the numeric columns of a CSV (all but ``date_column``) as ``values.npy`` ``[T, C]``,
    reading ``chunk_rows`` rows at a time (memory does not grow with the file)."""
    path, out = Path(path), Path(out)
    check_text_file(path)
    try:
        header = pd.read_csv(path, nrows=0, encoding_errors="replace").columns.tolist()
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        raise ValueError(f"{path} is not a readable CSV ({str(err).splitlines()[0]})") from None
    columns = [c for c in header if c != date_column]
    if not columns:
        raise ValueError(f"{path} has no value columns besides {date_column!r}")
    with open(path, "rb") as f:
        n_rows = sum(1 for _ in f) - 1
    if n_rows < 1:
        raise ValueError(f"{path} holds no rows")
    with _output_folder(out):
        tmp = temp_path(out / "values.npy")
        try:
            values = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n_rows, len(columns)))
            row = 0
            for chunk in pd.read_csv(path, usecols=columns, chunksize=chunk_rows, encoding_errors="replace"):
                block = chunk[columns].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)
                if not np.isfinite(block).all():
                    bad = row + int(np.flatnonzero(~np.isfinite(block).all(1))[0])
                    raise ValueError(f"{path}: missing or non-numeric value at data row {bad}; impute or drop it first")
                if row + len(block) > n_rows:
                    raise ValueError(f"{path}: more rows than lines counted ({n_rows}); check its quoting")
                values[row:row + len(block)] = block
                row += len(block)
            if row != n_rows:  # blank lines or quoted newlines made the line count wrong
                raise ValueError(f"{path}: read {row} rows but counted {n_rows} lines")
            values.flush()
            del values
            os.replace(tmp, out / "values.npy")
        except BaseException as err:
            tmp.unlink(missing_ok=True)
            if isinstance(err, OSError) and not isinstance(err, (FileNotFoundError, IsADirectoryError)):
                raise write_failed(out / "values.npy", err) from None
            raise
        _write_meta(out, kind="series", columns=columns, rows=n_rows, source=str(path))
    return out


def convert_tfc(path: str | Path, out: str | Path) -> Path:
    """Write a TF-C ``.pt`` split (``{'samples': [N, C, L], 'labels': [N]}``) as channels-last
    ``values.npy`` ``[N, L, C]`` and ``labels.npy``."""
    from simmtm.data.classification import check_labelled
    from simmtm.data.windows import channels_last

    path, out = Path(path), Path(out)
    data = load_pt(path, what="TF-C split")
    if not isinstance(data, dict) or "samples" not in data or "labels" not in data:
        raise ValueError(f"{path} is not a TF-C split (a dict with 'samples' and 'labels')")
    x = channels_last(data["samples"]).numpy()
    y = torch.as_tensor(data["labels"]).long().numpy()
    check_labelled(x, y, str(path))
    with _output_folder(out):
        _save_npy(out / "values.npy", x.astype(np.float32))
        _save_npy(out / "labels.npy", y.astype(np.int64))
        _write_meta(out, kind="samples", shape=list(x.shape), source=str(path))
    return out


def convert(source: str | Path, out: str | Path) -> Path:
    """:func:`convert_csv` or :func:`convert_tfc` by the source's suffix."""
    suffix = Path(source).suffix.lower()
    if suffix == ".csv":
        return convert_csv(source, out)
    if suffix == ".pt":
        return convert_tfc(source, out)
    raise ValueError(f"cannot convert {source}: expected a .csv series or a TF-C .pt split")


class MemmapWindows(Dataset):
    """Sliding windows over a converted series, read from disk: item ``i`` is ``(x, y)`` with
    ``x`` rows ``[start + i, start + i + seq_len)`` ``[L, C]`` and ``y`` the next ``pred_len``
    rows (empty for pre-training), as :class:`simmtm.data.windows.SlidingWindows`.

    ``rows = (start, stop)`` restricts the windows to a row range (e.g. a training split).
    """

    def __init__(self, folder: str | Path, seq_len: int, pred_len: int = 0, rows: tuple[int, int] | None = None):
        meta = read_meta(folder)
        if meta["kind"] != "series":
            raise ValueError(f"{folder} holds {meta['kind']}, not a series: use MemmapSamples")
        self.values = np.load(Path(folder) / "values.npy", mmap_mode="r")  # [T, C], not read yet
        start, stop = rows if rows is not None else (0, len(self.values))
        if not 0 <= start < stop <= len(self.values):
            raise ValueError(f"rows {rows} outside the series' {len(self.values)} rows")
        if seq_len < 1 or pred_len < 0:
            raise ValueError(f"need seq_len >= 1 and pred_len >= 0, got {seq_len}, {pred_len}")
        if stop - start < seq_len + pred_len:
            raise ValueError(f"{stop - start} rows are fewer than seq_len + pred_len = {seq_len + pred_len}")
        self.start, self.stop, self.seq_len, self.pred_len = start, stop, seq_len, pred_len
        self.columns = meta["columns"]

    def __len__(self) -> int:
        return self.stop - self.start - self.seq_len - self.pred_len + 1

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        a = self.start + i % len(self)
        window = torch.from_numpy(np.array(self.values[a:a + self.seq_len + self.pred_len]))  # a copy of L+H rows
        return window[:self.seq_len], window[self.seq_len:]


class MemmapSamples(Dataset):
    """Labelled samples of a converted TF-C split, read from disk: item ``i`` is ``(x [L, C], y)``."""

    def __init__(self, folder: str | Path):
        meta = read_meta(folder)
        if meta["kind"] != "samples":
            raise ValueError(f"{folder} holds a {meta['kind']}, not samples: use MemmapWindows")
        self.values = np.load(Path(folder) / "values.npy", mmap_mode="r")  # [N, L, C]
        self.labels = np.load(Path(folder) / "labels.npy", mmap_mode="r")  # [N]

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(np.array(self.values[i])), torch.tensor(int(self.labels[i]))
