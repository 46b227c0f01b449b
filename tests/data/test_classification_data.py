import logging

import numpy as np
import pytest
import torch

from conftest import shared_file
from simmtm.data.classification import load_tfc, load_tfc_split, load_uci_epilepsy, scale_windows, uci_splits


def write_tfc(folder, n=12, c=2, length=30, splits=("train", "val", "test"), **override):
    folder.mkdir(parents=True, exist_ok=True)
    for i, split in enumerate(splits):
        blob = {"samples": torch.randn(n, c, length, dtype=torch.float64), "labels": torch.arange(n) % 3}
        blob.update(override)
        torch.save(blob, folder / f"{split}.pt")
    return folder


def test_tfc_keeps_all_channels_and_length(tmp_path):
    data = load_tfc(write_tfc(tmp_path / "set"))
    x, y = data["train"]
    assert x.shape == (12, 30, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert set(data) == {"train", "val", "test"}


def test_cropping_is_explicit_and_logged(tmp_path, caplog):
    folder = write_tfc(tmp_path / "set")
    with caplog.at_level(logging.WARNING):
        x, _ = load_tfc_split(folder, "train", length=20, channels=[1])
    assert x.shape == (12, 20, 1)
    assert "cropping windows from 30 to their first 20" in caplog.text and "keeping channels [1]" in caplog.text
    with pytest.raises(ValueError, match="cannot crop"):
        load_tfc_split(folder, "train", length=40)


def test_two_dimensional_samples_and_scaling(tmp_path):
    folder = write_tfc(tmp_path / "set", samples=torch.rand(12, 30) * 100)
    x, _ = load_tfc_split(folder, "train", scaling="zscore")
    assert x.shape == (12, 30, 1)
    assert np.allclose(x.mean(1), 0, atol=1e-5) and np.allclose(x.std(1), 1, atol=1e-3)
    mm = scale_windows(np.random.rand(3, 10, 2).astype(np.float32) * 7, "minmax")
    assert np.allclose(mm.min(1), 0) and np.allclose(mm.max(1), 1, atol=1e-6)
    with pytest.raises(ValueError, match="scaling"):
        scale_windows(mm, "robust")


@pytest.mark.parametrize("override,match", [
    (dict(labels=torch.arange(11)), "12 samples but 11 labels"),
    (dict(samples=torch.full((12, 1, 30), float("nan"))), "NaN"),
    (dict(labels=torch.linspace(0, 1, 12)), "integers"),
])
def test_bad_tfc_files(tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        load_tfc(write_tfc(tmp_path / "set", **override))


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.pt"):
        load_tfc(tmp_path)
    torch.save({"x": 1}, tmp_path / "train.pt")
    with pytest.raises(ValueError, match="TF-C format"):
        load_tfc(tmp_path)


def test_uci_splits_never_share_a_recording_with_test():
    rng = np.random.default_rng(0)
    recording = np.repeat([f"r{i}" for i in range(40)], 23)
    y = np.repeat((np.arange(40) < 8).astype(np.int64), 23)  # 8 seizure recordings
    s = uci_splits(y, recording, n_train=10, n_val=4, test_fraction=0.5, seed=1)
    test_recs = set(recording[s["test"]])
    for name in ("train", "val", "pretrain"):
        assert not test_recs & set(recording[s[name]])
    assert not set(s["train"]) & set(s["val"])
    assert np.bincount(y[s["train"]]).tolist() == [5, 5] and np.bincount(y[s["val"]]).tolist() == [2, 2]
    assert len(test_recs) == 20 and len(set(recording[s["test"]]) & set(recording[y == 1])) == 4
    del rng


def test_real_files_when_present():
    folder = shared_file("Epilepsy_TFC/train.pt").parent
    data = load_tfc(folder)
    assert data["train"][0].shape == (60, 178, 1) and set(np.unique(data["train"][1])) == {0, 1}
    gesture = load_tfc(shared_file("Gesture_TFC/train.pt").parent)
    assert gesture["train"][0].shape == (320, 206, 3) and gesture["train"][1].max() == 7
    x, y, recording = load_uci_epilepsy(shared_file("Epilepsy_UCI/epileptic_seizure_recognition.csv"))
    assert x.shape == (11500, 178, 1) and y.sum() == 2300 and len(np.unique(recording)) == 500
    sleep = load_tfc_split(shared_file("SleepEEG_subset/val.pt").parent, "val", length=178)
    assert sleep[0].shape == (13634, 178, 1) and set(np.unique(sleep[1])) <= set(range(5))
