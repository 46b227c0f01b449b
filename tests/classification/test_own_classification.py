"""A user's own classification files: the .ts / .npz / .csv readers, labels and input recipe,
the head size, small-set pre-training batches, and the classify -> predict commands."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from simmtm import Classifier
from simmtm.classification.training import finetune, stratified_split
from simmtm.cli import main
from simmtm.config import get_preset
from simmtm.data.formats import (LabelMap, SeriesFormat, SeriesSet, fill_missing, load_labelled, read_csv, read_npz,
                                 read_series, read_ts, resample)
from simmtm.classification.own_data import classify_files, nearest_neighbour, pretrain_epochs
from simmtm.training.recipes import ClassifyBudget
from simmtm.training.pretraining import pretrain_batching

from conftest import shared_file

UNIVARIATE = """# a comment line
#another comment
@problemName Toy
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 4
@classLabel true b a c
@data
1,2,3,4:b
0.5,0.25,-1,2e1:a

4,3,2,1:c
"""

MULTIVARIATE = """@problemName Multi
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
1,2,?:10,20,30:up
5,6:7,8:down
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ .ts
def test_ts_univariate_reads_values_labels_and_name(tmp_path):
    data = read_ts(write(tmp_path, "toy.ts", UNIVARIATE))
    assert data.name == "Toy" and len(data) == 3 and data.n_channels == 1
    np.testing.assert_array_equal(data.series[1][:, 0], [0.5, 0.25, -1.0, 20.0])
    assert list(data.labels) == ["b", "a", "c"]


def test_ts_multivariate_missing_and_unequal_lengths(tmp_path):
    data = read_ts(write(tmp_path, "multi.ts", MULTIVARIATE))
    assert data.n_channels == 2 and list(data.lengths) == [3, 2] and data.n_missing == 1
    assert np.isnan(data.series[0][2, 0]) and data.series[0][2, 1] == 30.0
    np.testing.assert_array_equal(data.series[1], [[5, 7], [6, 8]])
    assert list(data.labels) == ["up", "down"]


def test_load_labelled_gives_channels_last_float32_unscaled(tmp_path):
    x, y, note = load_labelled(write(tmp_path, "multi.ts", "\ufeff" + MULTIVARIATE))  # a byte-order mark is fine
    assert x.shape == (2, 3, 2) and x.dtype == np.float32 and list(y) == ["up", "down"]
    np.testing.assert_allclose(x[0], [[1, 10], [2, 20], [2, 30]])  # the missing last value repeats the one before
    np.testing.assert_allclose(x[1], [[5, 7], [5.5, 7.5], [6, 8]])  # 2 steps resampled to 3
    assert "1 of 2 series resampled" in note and "1 missing values filled" in note


def test_ts_timestamped_values_keep_file_order(tmp_path):
    text = "@timeStamps true\n@univariate true\n@classLabel true x y\n@data\n(0,1.5),(1,2.5):x\n(0,3),(2,?):y\n"
    data = read_ts(write(tmp_path, "ts.ts", text))
    np.testing.assert_array_equal(data.series[0][:, 0], [1.5, 2.5])
    assert np.isnan(data.series[1][1, 0])


@pytest.mark.parametrize("line, message", [
    ("1,2,x,4:b", "line 7, channel 1: 'x' is not a number"),
    ("1,2,3,4:z", "line 7: class label 'z' is not among"),
    ("1,2,3:b", "line 7: 3 values, but @seriesLength is 4"),
    ("1,2,3,4:5,6,7,8:b", "line 7: 2 channel(s), but the header says 1"),
    (",:b", "line 7, channel 1: '' is not a number"),
    ("@dimensions 2", "line 7: a header tag after @data"),
])
def test_ts_malformed_line_is_reported_by_number(tmp_path, line, message):
    text = "@univariate true\n@equalLength true\n@seriesLength 4\n@classLabel true a b\n@data\n1,2,3,4:a\n" + line + "\n"
    path = write(tmp_path, "bad.ts", text)  # the bad line is line 7
    with pytest.raises(ValueError) as err:
        read_ts(path)
    assert message in str(err.value) and str(err.value).startswith(str(path))


def test_ts_without_data_section_or_with_regression_target(tmp_path):
    with pytest.raises(ValueError, match="no @data line"):
        read_ts(write(tmp_path, "a.ts", "@problemName x\n"))
    with pytest.raises(ValueError, match="line 1: @targetLabel marks a regression"):
        read_ts(write(tmp_path, "b.ts", "@targetLabel true\n@data\n1,2:3\n"))


# ------------------------------------------------------------------ .npz and .csv
def test_npz_univariate_and_channels_first(tmp_path):
    np.savez(tmp_path / "u.npz", X=np.arange(6.0).reshape(2, 3), y=np.array([3, 7]))
    u = read_npz(tmp_path / "u.npz")
    assert u.n_channels == 1 and list(u.labels) == [3, 7]
    np.testing.assert_array_equal(u.series[1][:, 0], [3, 4, 5])
    x = np.arange(12.0).reshape(2, 2, 3)  # [N, C, L]
    x[1, :, 2] = np.nan  # trailing NaN in every channel: a shorter series
    np.savez(tmp_path / "m.npz", X=x)
    m = read_npz(tmp_path / "m.npz")
    assert m.labels is None and m.n_channels == 2 and list(m.lengths) == [3, 2]
    np.testing.assert_array_equal(m.series[0], x[0].T)
    np.savez(tmp_path / "bad.npz", X=np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"\[N, L\] or \[N, C, L\]"):
        read_npz(tmp_path / "bad.npz")


def test_csv_rows_with_label_column_and_missing_cells(tmp_path):
    path = write(tmp_path, "s.csv", "t0,t1,t2,kind\n1,2,3,cat\n4,,6,dog\n7,8,,cat\n")
    data = read_csv(path, label_column="kind")
    assert list(data.labels) == ["cat", "dog", "cat"] and list(data.lengths) == [3, 3, 2]
    assert np.isnan(data.series[1][1, 0])
    with pytest.raises(ValueError, match=r"line 2: column 'kind' holds 'cat'"):
        read_csv(path)  # default label column 'label' is absent: 'kind' is read as values
    with pytest.raises(ValueError, match="needs a header row"):
        read_csv(write(tmp_path, "h.csv", "0.5,1.5,2.5\n1,2,3\n"))
    with pytest.raises(ValueError, match="unknown format"):
        read_series(write(tmp_path, "x.txt", "1"))


# ------------------------------------------------------------------ labels, lengths, missing values
def test_label_map_sorts_numbers_numerically_and_round_trips():
    labels = LabelMap.fit(np.array([str(k) for k in (10, 2, 1, 3, 4, 5, 6, 7, 8, 9)], dtype=object))
    assert len(labels) == 10 and labels.names == [str(k) for k in range(1, 11)]
    lm = LabelMap.fit(["b", "a", "c", "a"])
    assert lm.labels == ("a", "b", "c")
    np.testing.assert_array_equal(lm.encode(["c", "a", "b"]), [2, 0, 1])
    assert list(lm.decode(np.array([1, 2]))) == ["b", "c"]
    assert list(LabelMap.fit([3, 1]).encode(["1", "3"])) == [0, 1]  # 1 in an .npz and "1" in a .ts: one class
    with pytest.raises(ValueError, match=r"labels \['z'\] do not occur"):
        lm.encode(["z"])
    with pytest.raises(ValueError, match="two or more classes"):
        LabelMap.fit(["a", "a"])


def test_fill_missing_interpolates_within_the_series():
    x = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, 5.0], [6.0, np.nan]])
    np.testing.assert_allclose(fill_missing(x), [[2, 1], [2, 3], [4, 5], [6, 5]])
    with pytest.raises(ValueError, match="no observed value"):
        fill_missing(np.full((3, 1), np.nan))


def test_resample_is_linear_over_the_span():
    np.testing.assert_allclose(resample(np.array([[0.0], [2.0]]), 5)[:, 0], [0, 0.5, 1, 1.5, 2])
    np.testing.assert_allclose(resample(np.array([[0.0], [1.0], [4.0]]), 5)[:, 0], [0, 0.5, 1, 2.5, 4])


def test_series_format_fits_longest_length_and_training_scale():
    data = SeriesSet([np.array([[0.0], [2.0]]), np.array([[1.0], [np.nan], [3.0]])], np.array(["a", "b"]), "toy")
    fmt = SeriesFormat.fit(data)
    assert fmt.length == 3 and fmt.lengths == "resample"
    raw = np.array([[0, 1, 2], [1, 2, 3]], dtype=float)  # resampled and filled
    assert fmt.mean == pytest.approx((raw.mean(),)) and fmt.std == pytest.approx((raw.std(),))
    np.testing.assert_allclose(fmt.apply(data)[..., 0], (raw - raw.mean()) / raw.std(), rtol=1e-6)
    assert "1 of 2 series resampled" in fmt.describe(data) and "1 missing values" in fmt.describe(data)
    assert SeriesFormat.from_dict(fmt.to_dict()) == fmt
    padded = SeriesFormat.fit(data, lengths="pad")
    np.testing.assert_allclose(padded._shape(data.series)[0, :, 0], [0, 2, 2])
    with pytest.raises(ValueError, match="1 channel"):
        fmt.apply(np.zeros((2, 3, 2)))


def test_nearest_neighbour_by_hand():
    x_tr = np.array([[[0.0]], [[10.0]]])
    assert list(nearest_neighbour(x_tr, np.array([4, 7]), np.array([[[1.0]], [[6.0]], [[9.0]]]))) == [4, 7, 7]


def test_stratified_split_keeps_every_class_in_training():
    y = np.array([0] * 10 + [1] * 5 + [2])
    kept, held = stratified_split(y, 0.2, seed=0)
    assert sorted(np.bincount(y[held], minlength=3)) == [0, 1, 2]
    assert set(y[kept]) == {0, 1, 2} and len(set(kept) | set(held)) == len(y)


# ------------------------------------------------------------------ head size and small-set batching
def test_finetune_head_has_exactly_the_mapped_classes():
    cfg = get_preset("Epilepsy", seq_len=24, n_channels=1)
    rng = np.random.default_rng(0)
    y_user = np.arange(1, 11).repeat(2)  # labels 1..10
    y = LabelMap.fit(y_user).encode(y_user)
    x = rng.normal(size=(len(y), 24, 1)).astype(np.float32)
    r = finetune(cfg, {"train": (x, y), "val": (x, y)}, epochs=1, device="cpu", n_classes=10)
    assert r["model"].head(r["model"].encoder(torch.from_numpy(x))).shape == (20, 10) and r["test"] is None
    with pytest.raises(ValueError, match=r"class indices \[0\] never occur"):
        finetune(cfg, {"train": (x, y_user), "val": (x, y_user)}, epochs=1, device="cpu")


def test_pretrain_batching_keeps_the_last_incomplete_batch():
    assert pretrain_batching(50, 32) == (32, False)  # 2 steps an epoch, none dropped
    assert pretrain_batching(20, 32) == (20, False)  # capped at the data size
    assert pretrain_batching(33, 32) == (32, True)  # a last batch of one series is dropped
    assert pretrain_batching(330, 32) == (32, True)  # 10 full batches: the last incomplete one is dropped, as before
    assert pretrain_batching(319, 32) == (32, False)  # 9 full batches: kept
    assert pretrain_epochs(50, 32, 500) == 250 and pretrain_epochs(33, 32, 10) == 10


# ------------------------------------------------------------------ end to end
def toy_files(tmp_path, labels=("b", "a", "c")):
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 24)
    lines, test = ["@problemName Waves", "@univariate true", "@classLabel true " + " ".join(labels), "@data"], []
    for k, label in enumerate(labels):
        for i in range(8):
            n = 20 + i % 5  # unequal lengths 20..24
            v = np.sin(2 * np.pi * (k + 1) * t[:n]) + 0.1 * rng.normal(size=n)
            row = ",".join("?" if j == 3 and i == 0 else f"{x:.4f}" for j, x in enumerate(v)) + f":{label}"
            (test if i >= 6 else lines).append(row)
    header = lines[:4]
    return write(tmp_path, "train.ts", "\n".join(lines) + "\n"), write(tmp_path, "test.ts", "\n".join(header + test) + "\n")


TINY = ["--pretrain-steps", "2", "--finetune-epochs", "2", "--device", "cpu", "--no-progress"]


def test_classify_then_predict_round_trip(tmp_path, capsys):
    train, test = toy_files(tmp_path)
    out = tmp_path / "clf.pt"
    assert main(["classify", "--train", str(train), "--test", str(test), "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "resampled by linear interpolation to 24 steps" in printed and "1-NN Euclidean" in printed
    assert "random init, fine-tuned (same budget)" in printed and "optimizer steps" in printed
    preds = tmp_path / "p.csv"
    assert main(["predict", "--from", str(out), "--data", str(test), "--out", str(preds)]) == 0
    table = pd.read_csv(preds, dtype={"label": str, "predicted": str})
    assert list(table.columns) == ["series", "label", "predicted", "prob_a", "prob_b", "prob_c"]
    np.testing.assert_allclose(table[["prob_a", "prob_b", "prob_c"]].sum(axis=1), 1.0, rtol=1e-6)
    assert set(table["predicted"]) <= {"a", "b", "c"} and len(table) == 6
    clf = Classifier.load(out)
    assert clf.labels == ("a", "b", "c")
    probs = clf.predict_proba(test)
    assert probs.shape == (6, 3)
    np.testing.assert_allclose(probs, table[["prob_a", "prob_b", "prob_c"]].to_numpy(), rtol=1e-5)
    raw = read_ts(test)
    arrays = np.stack([resample(fill_missing(s), 24) for s in raw.series])  # [N, L, 1]
    assert list(clf.predict(arrays[:, :, 0])) == list(clf.predict(arrays)) == list(table["predicted"])


def test_numeric_labels_one_to_ten_give_ten_outputs(tmp_path):
    rng = np.random.default_rng(1)
    y = np.arange(1, 11).repeat(3)
    x = rng.normal(size=(30, 16)) + y[:, None]
    np.savez(tmp_path / "tr.npz", X=x, y=y)
    report = classify_files(tmp_path / "tr.npz", budget=ClassifyBudget(pretrain_steps=1, finetune_epochs=1), seed=0,
                            out=tmp_path / "c.pt", device="cpu", baselines=False, log=lambda *a: None)
    clf = Classifier.load(tmp_path / "c.pt")
    assert report["labels"] == list(range(1, 11)) and clf.labels == tuple(range(1, 11))
    probs = clf.predict_proba(x)
    assert probs.shape == (30, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(x)) <= set(range(1, 11))


def test_csv_training_file_with_its_own_label_column(tmp_path, capsys):
    rng = np.random.default_rng(2)
    rows = [[*(rng.normal(size=12) + 3 * (k % 2)), "hi" if k % 2 else "lo"] for k in range(16)]
    pd.DataFrame(rows, columns=[*(f"t{i}" for i in range(12)), "class"]).to_csv(tmp_path / "s.csv", index=False)
    assert main(["classify", "--train", str(tmp_path / "s.csv"), "--label-column", "class", "--no-baselines",
                 "--out", str(tmp_path / "c.pt"), *TINY]) == 0
    assert "no test file" in capsys.readouterr().out
    clf = Classifier.load(tmp_path / "c.pt")
    assert clf.labels == ("hi", "lo")
    assert len(clf.predict(tmp_path / "s.csv")) == 16  # its 'class' column is known from training, not read as values
    assert main(["predict", "--from", str(tmp_path / "c.pt"), "--data", str(tmp_path / "s.csv"),
                 "--out", str(tmp_path / "p.csv")]) == 0
    assert "accuracy against the file's labels" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["classify"], "give either --train"),
    (["classify", "--train", "missing.ts"], "no file missing.ts"),
    (["classify", "--train", "{bad}", "--setting", "epilepsy"], "give either --train"),
    (["classify", "--setting", "epilepsy", "--test", "x.ts"], "--test go(es) with --train, not --setting"),
    (["classify", "--train", "{train}", "--pretrain-once"], "--pretrain-once go(es) with --setting, not --train"),
    (["predict", "--from", "{bad}", "--data", "{train}"], "corrupt or not a simmtm checkpoint"),
    (["predict", "--from", "missing.pt", "--data", "{train}"], "no simmtm checkpoint at missing.pt"),
    (["classify", "--train", "{bad}"], "line 2, channel 1: 'x' is not a number"),
    (["classify", "--train", "{train}", "--test", "{other}"], "do not occur in the training labels"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    train, _ = toy_files(tmp_path)
    bad = write(tmp_path, "bad.ts", "@data\n1,x:a\n")
    other = write(tmp_path, "other.ts", "@classLabel true q\n@data\n1,2,3:q\n")
    argv = [a.format(bad=bad, train=train, other=other) for a in argv]
    assert main([*argv, *(TINY if argv[0] == "classify" and "--setting" not in argv else [])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("simmtm: error:") and message in err and "\n" not in err


def test_predict_refuses_a_benchmark_checkpoint(tmp_path, capsys):
    from simmtm.build import build_classifier
    from simmtm.training.checkpoint import save_checkpoint

    cfg = get_preset("Epilepsy", seq_len=24, n_channels=1)
    save_checkpoint(tmp_path / "b.pt", build_classifier(cfg, 2), cfg, kind="classifier", n_classes=2)
    train, _ = toy_files(tmp_path)
    assert main(["predict", "--from", str(tmp_path / "b.pt"), "--data", str(train)]) == 2
    assert "carries no label map" in capsys.readouterr().err
    clf = Classifier.load(tmp_path / "b.pt")  # still usable on prepared arrays, classes 0..K-1
    assert clf.predict(np.zeros((3, 24, 1), dtype=np.float32)).shape == (3,)


# ------------------------------------------------------------------ the real archive files
@pytest.mark.parametrize("name, n, channels, lengths, classes", [
    ("GunPoint_TRAIN.ts", 50, 1, (150, 150), ["1", "2"]),
    ("ItalyPowerDemand_TRAIN.ts", 67, 1, (24, 24), ["1", "2"]),
    ("OSULeaf_TRAIN.ts", 200, 1, (427, 427), ["1", "2", "3", "4", "5", "6"]),
    ("BasicMotions_TRAIN.ts", 40, 6, (100, 100), ["Badminton", "Running", "Standing", "Walking"]),
    ("JapaneseVowels_TRAIN.ts", 270, 12, (7, 26), [str(k) for k in range(1, 10)]),
])
def test_real_ucr_uea_files(name, n, channels, lengths, classes):
    data = read_ts(shared_file(f"UCR_UEA/{name}"))
    assert len(data) == n and data.n_channels == channels and data.n_missing == 0
    assert (data.lengths.min(), data.lengths.max()) == lengths
    assert list(LabelMap.fit(data.labels).labels) == classes
    x = SeriesFormat.fit(data).apply(data)
    assert x.shape == (n, lengths[1], channels) and x.dtype == np.float32 and np.isfinite(x).all()


def test_small_set_pretraining_counts_every_series_and_reports_steps(capsys):
    from simmtm.classification.training import pretrain

    cfg = get_preset("Epilepsy", seq_len=24, n_channels=1, batch_size=32)
    x = np.random.default_rng(0).normal(size=(50, 24, 1)).astype(np.float32)
    _, result = pretrain(cfg, x, device="cpu", epochs=2, progress=False)
    assert result["steps"] == 4  # 2 epochs x 2 batches (32 + 18): the last batch is not dropped
    assert "[pretrain] 4 optimizer steps: 2 epoch(s) x 2 batch(es) of up to 32 series" in capsys.readouterr().out


def test_encoder_used_at_another_length_says_so(capsys):
    from simmtm.build import build_encoder

    cfg = get_preset("Epilepsy", seq_len=178, n_channels=1)
    x = np.random.default_rng(0).normal(size=(8, 40, 1)).astype(np.float32)
    y = np.array([0, 1] * 4)
    finetune(cfg, {"train": (x, y), "val": (x, y)}, encoder=build_encoder(cfg), epochs=1, device="cpu")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert lines == ["note: the encoder was trained on series of 178 steps and is fine-tuned here on 40 steps"]


def test_classify_own_files_with_a_protocol_trains_both_inits_with_it(tmp_path, capsys, monkeypatch):
    import simmtm.classification.own_data as own

    seen = []
    real = own.finetune
    monkeypatch.setattr(own, "finetune", lambda *a, **k: (seen.append((k["encoder"] is None, k["protocol"].name)),
                                                          real(*a, **k))[1])
    train, test = toy_files(tmp_path)
    assert main(["classify", "--train", str(train), "--out", str(tmp_path / "c.pt"), "--protocol", "probe1",
                 *TINY]) == 0
    assert seen == [(False, "probe1-full"), (True, "probe1-full")]  # SimMTM, then random init, both probed
    assert "fine-tuning protocol: linear probing (1 head-only epoch(s)" in capsys.readouterr().out
