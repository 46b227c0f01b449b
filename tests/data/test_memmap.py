"""Memory-mapped corpora: conversion round trips, windows equal the in-memory ones, clear errors."""
import numpy as np
import pandas as pd
import pytest
import torch

from simmtm import get_preset
from simmtm.data.memmap import MemmapSamples, MemmapWindows, convert, read_meta
from simmtm.data.windows import SlidingWindows
from simmtm.training.pretraining import run_pretraining


def _csv(tmp_path, n=300, nan_at=None):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n, 3)).astype(np.float32)
    frame = pd.DataFrame(values, columns=["a", "b", "OT"])
    frame.insert(0, "date", pd.date_range("2020-01-01", periods=n, freq="h").astype(str))
    if nan_at is not None:
        frame.loc[nan_at, "b"] = np.nan
    path = tmp_path / "series.csv"
    frame.to_csv(path, index=False)
    return path, values


def test_csv_to_memmap_windows_equal_in_memory_windows(tmp_path):
    path, values = _csv(tmp_path)
    folder = convert(path, tmp_path / "corpus")
    assert read_meta(folder)["columns"] == ["a", "b", "OT"]
    ds = MemmapWindows(folder, seq_len=24, pred_len=8)
    assert isinstance(ds.values, np.memmap)  # read from disk on demand
    ref = SlidingWindows(values, 24, 8)
    assert len(ds) == len(ref) == 300 - 32 + 1
    for i in (0, 17, len(ds) - 1, -1):
        for a, b in zip(ds[i], ref[i]):
            torch.testing.assert_close(a, b)
    part = MemmapWindows(folder, seq_len=24, rows=(100, 200))
    torch.testing.assert_close(part[0][0], torch.from_numpy(values[100:124]))
    assert len(part) == 100 - 24 + 1


def test_conversion_errors(tmp_path):
    path, _ = _csv(tmp_path, nan_at=40)
    with pytest.raises(ValueError, match="data row 40"):
        convert(path, tmp_path / "bad")
    with pytest.raises(FileNotFoundError, match="convert the data first"):
        MemmapWindows(tmp_path / "nothing", 8)
    with pytest.raises(ValueError, match="expected a .csv"):
        convert(tmp_path / "x.parquet", tmp_path / "out")
    with pytest.raises(FileNotFoundError):
        convert(tmp_path / "missing.csv", tmp_path / "out")


def test_tfc_to_memmap_samples(tmp_path):
    x = torch.randn(10, 2, 30)  # TF-C layout [N, C, L]
    y = torch.arange(10) % 3
    torch.save({"samples": x, "labels": y}, tmp_path / "train.pt")
    ds = MemmapSamples(convert(tmp_path / "train.pt", tmp_path / "corpus"))
    xi, yi = ds[4]
    torch.testing.assert_close(xi, x[4].T)
    assert yi.item() == 1 and len(ds) == 10
    with pytest.raises(ValueError, match="not a series"):
        MemmapWindows(tmp_path / "corpus", 8)


def test_pretraining_reads_a_memmap_corpus(tmp_path):
    path, _ = _csv(tmp_path)
    folder = convert(path, tmp_path / "corpus")
    cfg = get_preset("tiny", seq_len=24, n_channels=3, batch_size=16)
    model, fit = run_pretraining(cfg, MemmapWindows(folder, 24, rows=(0, 240)), MemmapWindows(folder, 24, rows=(240, 300)),
                                 epochs=1, device="cpu", progress=False, log=lambda *_: None)
    assert np.isfinite(fit["history"][0]["train_loss"]) and np.isfinite(fit["history"][0]["val_loss"])
