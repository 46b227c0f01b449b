"""Anomaly detection: data, masks, losses, metrics (against scikit-learn), NAB loader, model, training."""
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, precision_recall_curve, precision_recall_fscore_support, roc_auc_score

from simmtm.anomaly import (ANOMALY_TYPES, STRATEGIES, AnomalyWindows, anomaly_mask, build_detector,
                            get_anomaly_preset, inject, last_steps_mask, load_nab, make_anomaly_windows, score,
                            to_windows, train_detector)
from simmtm.anomaly.losses import discrepancy, distillation_loss, margin_loss, masked_mean, warmup_weight
from simmtm.anomaly.metrics import (average_precision, best_f1_threshold, detection_report, point_adjust,
                                    precision_recall_f1, roc_auc, roc_curve)
from simmtm.anomaly.scoring import reconstruction_cells, score_windows


# --------------------------------------------------------------------------- synthetic anomalies
def _clean(L=64, C=3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(L)[:, None]
    seasonal = np.sin(2 * np.pi * t / rng.uniform(12, 30, C)) + rng.normal(0, 0.5, C)
    return seasonal + rng.normal(0, 0.1, (L, C)), seasonal


@pytest.mark.parametrize("kind", ANOMALY_TYPES)
def test_each_anomaly_changes_exactly_its_region(kind):
    x, seasonal = _clean()
    start, end, channels = 20, 32, np.array([0, 2])
    out = inject(x, seasonal, kind, start, end, channels, np.random.default_rng(1))
    changed = out != x  # [L, C]
    assert not changed[:start].any() and not changed[end:].any(), "rows outside the region changed"
    assert not changed[:, 1].any(), "a channel outside `channels` changed"
    if kind == "spike":  # isolated points, including both ends of the region
        assert changed[start, 0] and changed[end - 1, 0] and changed[start:end, 0].sum() < end - start
        assert np.abs(out - x)[changed].min() > 3 * seasonal.std(0).min()
    else:
        assert changed[start:end][:, channels].all(), "every cell of the region must change"
    np.testing.assert_array_equal(x, _clean()[0])  # the input is not modified in place


def test_inject_rejects_bad_input():
    x, seasonal = _clean()
    with pytest.raises(ValueError, match="unknown anomaly type"):
        inject(x, seasonal, "glitch", 0, 4, np.array([0]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="not inside"):
        inject(x, seasonal, "drift", 60, 70, np.array([0]), np.random.default_rng(0))


def test_synthetic_windows_labels_types_and_ratio():
    w = make_anomaly_windows(200, 64, 2, anomaly_ratio=0.25, seed=3)
    assert w.x.shape == (200, 64, 2) and w.x.dtype == np.float32
    assert w.labels.sum() == 50 and set(w.kinds[w.labels == 0]) == {""}
    counts = {k: int((w.kinds == k).sum()) for k in ANOMALY_TYPES}
    assert counts == {k: 10 for k in ANOMALY_TYPES}
    np.testing.assert_array_equal(w.point_labels.any(1), w.labels == 1)  # labels only in anomalous windows
    for i in np.flatnonzero((w.labels == 1) & (w.kinds != "spike")):  # one contiguous region
        edges = np.diff(np.r_[0, w.point_labels[i].astype(int), 0])
        assert (edges == 1).sum() == 1 and 4 <= w.point_labels[i].sum() <= 16
    again = make_anomaly_windows(200, 64, 2, anomaly_ratio=0.25, seed=3)
    np.testing.assert_array_equal(w.x, again.x)
    assert not np.array_equal(w.x, make_anomaly_windows(200, 64, 2, anomaly_ratio=0.25, seed=4).x)
    with pytest.raises(ValueError, match="types"):
        make_anomaly_windows(10, types=("glitch",))


# --------------------------------------------------------------------------- masks
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_mask_strategies_patterns_and_exact_ratios(strategy):
    B, L, C, r, P = 6, 40, 3, 0.6, 8
    g = torch.Generator().manual_seed(0)
    mask = anomaly_mask((B, L, C), r, strategy, patch_len=P, generator=g)
    assert mask.shape == (B, L, C) and set(mask.unique().tolist()) <= {0.0, 1.0}
    hidden = mask == 0
    if strategy == "patch":
        assert (hidden == hidden[:, :, :1]).all()  # all channels alike
        blocks = hidden[:, :, 0].view(B, L // P, P)
        assert (blocks.all(2) | ~blocks.any(2)).all()  # whole aligned blocks
        assert (blocks.all(2).sum(1) == round(r * L / P)).all()
    elif strategy == "token":
        assert (hidden.sum((1, 2)) == round(r * L * C)).all()
        assert not (hidden == hidden[:, :, :1]).all()
    elif strategy == "temporal":
        assert (hidden == hidden[:, :, :1]).all() and (hidden[:, :, 0].sum(1) == round(r * L)).all()
    else:
        assert (hidden.sum(1) == round(r * L)).all()  # per window and channel
        assert not (hidden == hidden[:, :, :1]).all()  # channels drawn independently
    again = anomaly_mask((B, L, C), r, strategy, patch_len=P, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mask, again)


def test_mask_rejects_bad_arguments_and_last_steps():
    with pytest.raises(ValueError, match="strategy"):
        anomaly_mask((2, 10, 1), 0.5, "stripes")
    with pytest.raises(ValueError, match="ratio"):
        anomaly_mask((2, 10, 1), 1.5)
    m = last_steps_mask((2, 10, 3), 4)
    assert (m[:, :6] == 1).all() and (m[:, 6:] == 0).all()
    with pytest.raises(ValueError, match="n_last"):
        last_steps_mask((2, 10, 3), 10)


# --------------------------------------------------------------------------- losses
def test_margin_loss_is_zero_beyond_the_margin():
    d = torch.tensor([0.0, 0.5, 1.0, 1.5, 10.0])
    assert torch.equal(margin_loss(d, 1.0), torch.tensor([1.0, 0.5, 0.0, 0.0, 0.0]))
    assert [warmup_weight(e, 4) for e in (0, 2, 4, 9)] == [0.0, 0.5, 1.0, 1.0]


def test_distillation_loss_by_hand():
    # two windows of 2 steps x 1 channel; step 1 masked in both
    x = torch.tensor([[[1.0], [2.0]], [[0.0], [4.0]]])
    mask = torch.tensor([[[1.0], [0.0]], [[1.0], [0.0]]])
    teacher = torch.tensor([[[9.0], [3.0]], [[9.0], [4.5]]])  # step 0 is observed: ignored
    student = torch.tensor([[[0.0], [2.0]], [[0.0], [4.0]]])
    labels = torch.tensor([0, 1])
    assert torch.allclose(masked_mean((teacher - x) ** 2, mask), torch.tensor([1.0, 0.25]))
    assert torch.allclose(discrepancy(teacher, student, mask), torch.tensor([1.0, 0.25]))
    out = distillation_loss(teacher, student, x, mask, labels, lam=2.0, margin=1.0, anomaly_weight=0.5)
    # rec: normal window only = 1; normal d = 1; anomaly term = max(0, 1 - 0.25) = 0.75
    assert out.rec.item() == pytest.approx(1.0) and out.normal.item() == pytest.approx(1.0)
    assert out.anomaly.item() == pytest.approx(0.75)
    assert out.loss.item() == pytest.approx(1.0 + 2.0 * (1.0 + 0.5 * 0.75))


def test_discrepancy_term_does_not_train_the_teacher():
    cfg = get_anomaly_preset("quick")
    model = build_detector(cfg, "sdmae")
    x = torch.randn(4, 32, 2)
    mask = anomaly_mask(tuple(x.shape), 0.5, generator=torch.Generator().manual_seed(0))
    teacher, student = model(x, mask)
    out = distillation_loss(teacher, student, x, mask, torch.tensor([0, 0, 1, 1]), lam=1.0)
    (out.normal + out.anomaly).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.student.parameters())


# --------------------------------------------------------------------------- metrics vs scikit-learn
def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.normal(size=300) + labels, 1)  # rounded: many ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    pred = scores > 0.5
    p, r, f, _ = precision_recall_fscore_support(labels, pred, average="binary")
    assert precision_recall_f1(labels, pred) == pytest.approx({"precision": p, "recall": r, "f1": f})
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    threshold, best = best_f1_threshold(labels, scores)
    assert best == pytest.approx(f1[:-1].max()) and threshold == pytest.approx(thresholds[f1[:-1].argmax()])
    fpr, tpr = roc_curve(labels, scores)
    assert np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2) == pytest.approx(roc_auc_score(labels, scores))
    assert np.isnan(roc_auc(np.zeros(5), np.arange(5.0)))


def test_point_adjust_and_report():
    labels = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0])
    pred = np.array([0, 0, 1, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(point_adjust(pred, labels), [0, 1, 1, 1, 0, 1, 0, 0, 0])
    rows = point_adjust(np.array([[1, 0, 0], [0, 0, 1]]), np.array([[0, 1, 1], [1, 1, 1]]))
    np.testing.assert_array_equal(rows, [[1, 0, 0], [1, 1, 1]])  # segments never cross rows
    val_labels, val_scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])
    report = detection_report(val_labels, val_scores, np.array([0, 1, 0, 1]), np.array([0.85, 0.9, 0.1, 0.7]))
    assert report["threshold"] == pytest.approx(0.8)  # chosen on validation
    assert report["recall"] == pytest.approx(0.5) and report["precision"] == pytest.approx(0.5)
    assert report["best_f1_oracle"] == pytest.approx(0.8)  # threshold 0.7 on test itself


# --------------------------------------------------------------------------- windows and NAB
def test_to_windows_covers_every_point():
    values, labels = np.arange(10.0), np.zeros(10, dtype=bool)
    labels[8] = True
    w = to_windows(values, labels, length=4, stride=3)
    assert w.x[:, :, 0].tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]  # last window ends at T
    assert w.labels.tolist() == [0, 0, 1] and w.point_labels[2].tolist() == [False, False, True, False]
    w = to_windows(values, labels, length=4, stride=4)
    assert w.x[-1, :, 0].tolist() == [6, 7, 8, 9] and len(w) == 3
    with pytest.raises(ValueError, match="fewer than one window"):
        to_windows(values, labels, length=11)
    with pytest.raises(ValueError, match="NaN"):
        to_windows(np.r_[values[:9], np.nan], labels, length=4)


def _nab(tmp_path, rows="", windows=None, name="realTest/series.csv"):
    (tmp_path / "data" / "realTest").mkdir(parents=True, exist_ok=True)
    (tmp_path / "labels").mkdir(exist_ok=True)
    stamps = [f"2020-01-01 00:{m:02d}:00" for m in range(0, 50, 5)]  # 10 rows, 5-minute steps
    body = rows if rows else "".join(f"{s},{i * 1.5}\n" for i, s in enumerate(stamps))
    (tmp_path / "data" / name).write_text("timestamp,value\n" + body)
    windows = windows if windows is not None else {name: [["2020-01-01 00:10:00.000000", "2020-01-01 00:20:00.000000"],
                                                         ["2020-01-01 00:45:00", "2020-01-01 00:45:00"]]}
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return tmp_path


def test_nab_loader_maps_windows_to_rows(tmp_path):
    s = load_nab(_nab(tmp_path), "realTest/series")
    assert s.name == "realTest/series" and len(s.values) == 10 and s.values[3] == pytest.approx(4.5)
    assert np.flatnonzero(s.labels).tolist() == [2, 3, 4, 9]  # bounds inclusive
    w = to_windows(s.values, s.labels, length=4, stride=2)
    assert w.x.shape == (4, 4, 1) and w.labels.tolist() == [1, 1, 1, 1]


def test_nab_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_nab(tmp_path, "realTest/missing")
    name = "realTest/series.csv"
    with pytest.raises(ValueError, match="outside the series"):
        load_nab(_nab(tmp_path / "a", windows={name: [["2021-01-01 00:00:00", "2021-01-02 00:00:00"]]}), name)
    with pytest.raises(ValueError, match="starts after it ends"):
        load_nab(_nab(tmp_path / "b", windows={name: [["2020-01-01 00:20:00", "2020-01-01 00:10:00"]]}), name)
    with pytest.raises(ValueError, match="no rows"):
        load_nab(_nab(tmp_path / "c", rows=" ", windows={name: []}), name)
    with pytest.raises(ValueError, match="missing or non-numeric"):
        load_nab(_nab(tmp_path / "d", rows="2020-01-01 00:00:00,1\n2020-01-01 00:05:00,\n", windows={name: []}), name)
    with pytest.raises(ValueError, match="no entry"):
        load_nab(_nab(tmp_path / "e", windows={}), name)


# --------------------------------------------------------------------------- model, scoring, training
def test_detectors_shapes_and_scores():
    cfg = get_anomaly_preset("quick")
    x = torch.randn(5, 32, 3)
    mask = anomaly_mask(tuple(x.shape), 0.6, "patch", generator=torch.Generator().manual_seed(0))
    teacher, student = build_detector(cfg, "sdmae")(x, mask)
    assert teacher.shape == student.shape == x.shape
    mae = build_detector(cfg, "mae")
    assert mae(x, mask).shape == x.shape
    with pytest.raises(ValueError, match="mask must have the shape"):
        mae(x, mask[:, :10])
    w, p = score_windows(mae, x, reconstruction_cells, n_last=8)
    assert w.shape == (5,) and p.shape == (5, 32)
    assert np.isnan(p[:, :24]).all() and np.isfinite(p[:, 24:]).all()
    w2, p2 = score_windows(mae, x, reconstruction_cells, n_masks=3, ratio=0.5, strategy="token")
    assert np.isfinite(p2).all() and (w2 > 0).all()
    with pytest.raises(ValueError, match="unknown detector"):
        build_detector(cfg, "isolation-forest")


def test_self_distilled_detector_learns_on_synthetic_data():
    cfg = get_anomaly_preset("quick", epochs=6)
    train = make_anomaly_windows(600, 48, 1, anomaly_ratio=0.05, seed=1)
    val = make_anomaly_windows(120, 48, 1, anomaly_ratio=0.25, seed=2)
    test = make_anomaly_windows(200, 48, 1, anomaly_ratio=0.25, seed=3)
    model = build_detector(cfg, "sdmae")
    result = train_detector(model, cfg, train, val, device="cpu", seed=0, progress=False, log=None)
    history = result["history"]
    assert history[-1]["train_rec"] < history[0]["train_rec"]  # the teacher learns to reconstruct
    window_scores, _ = score(model, cfg, test, device="cpu")
    assert roc_auc(test.labels, window_scores) > 0.6  # above chance (0.5; the null std here is ~0.05)
    with pytest.raises(ValueError, match="both normal and anomalous"):
        train_detector(model, cfg, train, test.subset(test.labels == 0), epochs=1, progress=False, log=None)


def test_benchmark_runner_writes_tables(tmp_path):
    from simmtm.experiments.anomaly_synthetic import run

    cfg = get_anomaly_preset("quick")
    out = tmp_path / "anomaly.md"
    runs = run(cfg, ["sdmae", "mae", "simmtm-mae"], [0], length=32, sizes=(200, 80, 100), epochs=1,
               pretrain_epochs=1, device="cpu", out=out, command="test", log=None)
    assert [r["method"] for r in runs] == ["sdmae", "mae", "simmtm-mae"]
    text = out.read_text()
    for name in ("sdmae", "simmtm-mae", "frequency", "point-adjusted F1 (inflated)", "best F1 (oracle)"):
        assert name in text
    saved = json.loads(out.with_suffix(".json").read_text())
    assert set(saved["runs"][0]["random"]["type_auc"]) == set(ANOMALY_TYPES)
    # one record per (seed, method) beside the table; a re-run reads them instead of training again
    assert len(list((tmp_path / "anomaly").glob("seed=0,method=*.json"))) == 3
    import simmtm.experiments.anomaly_synthetic as experiment

    experiment_run_method, experiment.run_method = experiment.run_method, None  # would fail if called
    try:
        again = run(cfg, ["sdmae", "mae", "simmtm-mae"], [0], length=32, sizes=(200, 80, 100), epochs=1,
                    pretrain_epochs=1, device="cpu", out=out, command="test", log=None)
    finally:
        experiment.run_method = experiment_run_method
    assert again == saved["runs"] and out.read_text() == text


def test_windows_reject_nans():
    with pytest.raises(ValueError, match="NaN"):
        AnomalyWindows(np.full((1, 4, 1), np.nan, np.float32), np.zeros((1, 4), bool), np.zeros(1, np.int64),
                       np.array([""], dtype=object))
