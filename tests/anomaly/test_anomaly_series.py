"""Anomaly detection on one real series: point scores, thresholds, baselines, loaders, detector, CLI."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from simmtm.anomaly import AnomalyDetector, SeriesConfig, get_anomaly_preset, load_nab, load_ucr_anomaly, nab_names
from simmtm.anomaly.baselines import BASELINES, abs_diff, baseline_scores, rolling_zscore
from simmtm.anomaly.frame import read_frame, read_labels, train_rows
from simmtm.anomaly.metrics import threshold_report
from simmtm.anomaly.series import (aggregate_points, partition_masks, score_series, smooth_scores, window_point_scores,
                                   window_starts)
from simmtm.anomaly.synthetic import inject_series
from simmtm.anomaly.threshold import flag, train_threshold
from simmtm.cli import main
from tests.conftest import shared_file


def tiny_config(**overrides) -> SeriesConfig:
    model = get_anomaly_preset("series", d_model=8, n_heads=2, d_ff=16, epochs=1, warmup_epochs=0, patch_len=4)
    return SeriesConfig(model=model, **{"length": 16, "stride": 4, "max_train_windows": 40, **overrides})


# --------------------------------------------------------------------------- point scores of a series
def test_window_starts_cover_the_end():
    np.testing.assert_array_equal(window_starts(6, 3, 2), [0, 2, 3])
    np.testing.assert_array_equal(window_starts(7, 3, 2), [0, 2, 4])
    np.testing.assert_array_equal(window_starts(3, 3, 5), [0])
    with pytest.raises(ValueError, match="fewer than one window"):
        window_starts(2, 3, 1)


def test_aggregate_points_equals_a_hand_computation():
    # T = 6, L = 3, stride 2 -> windows at 0, 2 and 3 (the last one ends at T)
    scores = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=float)
    np.testing.assert_allclose(aggregate_points(scores, window_starts(6, 3, 2), 6), [1, 2, 3.5, 6, 7, 9])
    with_nan = scores.copy()
    with_nan[1, 0] = np.nan  # a point a window did not score is skipped
    np.testing.assert_allclose(aggregate_points(with_nan, [0, 2, 3], 6), [1, 2, 3, 6, 7, 9])
    with pytest.raises(ValueError, match="covered by no scored window"):
        aggregate_points(scores[:1], [0], 6)
    np.testing.assert_allclose(window_point_scores(np.array([1.0, 2.0, 4.0]), [0, 2, 3], 3, 6),
                               [1, 1, 1.5, 3, 3, 4])  # step 3: windows at 2 and 3


def test_partition_masks_hide_every_cell_once():
    masks = partition_masks(8, 2, 2, patch_len=2)  # [k, L, C]
    np.testing.assert_array_equal(1 - masks[0, :, 0], [1, 1, 0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal((1 - masks).sum(0), torch.ones(8, 2))


def test_score_series_covers_every_step_and_matches_hand_computation():
    values = np.arange(37 * 2, dtype=np.float32).reshape(37, 2) / 10  # [T, C]
    seen = []

    def squares(model, x, mask):  # a "model" whose cell score is x^2, recording the masks it got
        seen.append(mask)
        return x ** 2

    scores = score_series(torch.nn.Identity(), values, squares, length=16, stride=5, k=4, patch_len=4, progress=False)
    assert scores.shape == (37,)
    np.testing.assert_allclose(scores, (values.astype(np.float64) ** 2).mean(1), rtol=1e-5)
    assert len(seen) == 4  # one batch, k = 4 masks that together hide every cell once
    np.testing.assert_array_equal(sum(1 - m for m in seen), torch.ones_like(seen[0]))


def test_smooth_scores_is_a_centred_mean():
    np.testing.assert_allclose(smooth_scores(np.array([0.0, 3.0, 0.0, 0.0]), 3), [1.5, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(smooth_scores(np.array([1.0, 2.0]), 0), [1.0, 2.0])


# --------------------------------------------------------------------------- thresholds and metrics
def test_train_threshold_is_a_training_quantile():
    assert train_threshold(np.arange(1, 101), 0.01) == pytest.approx(99.01)
    np.testing.assert_array_equal(flag([1.0, 2.0, 3.0], 2.0), [False, False, True])
    with pytest.raises(ValueError, match="false_alarm_rate"):
        train_threshold(np.ones(3), 0.0)


def test_threshold_report_f1_without_point_adjustment():
    labels = np.array([0, 1, 1, 1, 0])
    report = threshold_report(labels, np.array([0, 0.9, 0, 0, 0.1]), 0.5)
    assert report["precision"] == 1 and report["recall"] == pytest.approx(1 / 3) and report["f1"] == pytest.approx(0.5)
    assert report["pa_f1"] == pytest.approx(1.0)  # point adjustment credits the whole segment
    assert report["roc_auc"] == pytest.approx(3 / 6)  # 2 wins + 2 ties of the 6 pairs


# --------------------------------------------------------------------------- baselines
def test_baselines_match_hand_computations():
    values = np.array([0.0, 2.0, 4.0, 0.0])
    np.testing.assert_allclose(rolling_zscore(values, 4, window=2), [0, 0, 3, 3])  # past two steps, ddof 0
    std = np.std(values)
    np.testing.assert_allclose(abs_diff(values, 4), np.array([0, 2, 2, 4]) / std)
    series = np.sin(np.arange(300) / 5)[:, None] + np.random.default_rng(0).normal(0, 0.1, (300, 1))
    for name in BASELINES:
        scores = baseline_scores(name, series, 150, length=16)
        assert scores.shape == (300,) and np.isfinite(scores).all(), name


# --------------------------------------------------------------------------- the detector
def _frame(T=300, C=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    data = {"timestamp": pd.date_range("2024-01-01", periods=T, freq="h")}
    for c in range(C):
        data[f"x{c}"] = np.sin(2 * np.pi * t / 24 + c) + rng.normal(0, 0.1, T)
    return pd.DataFrame(data)


def test_detector_scores_every_row_of_any_width():
    df = _frame(T=203, C=2)
    det = AnomalyDetector(tiny_config(), progress=False).fit(df.iloc[:100])
    out = det.score(df)
    assert list(out.columns) == ["timestamp", "x0", "x1", "score", "flag"] and len(out) == 203
    assert np.isfinite(out["score"]).all() and det.scorer_ == "reconstruction"
    assert out["flag"].iloc[:100].mean() <= 0.02  # 1% false alarms on the training part, up to ties
    labels = np.zeros(100, dtype=bool)
    labels[40:48] = True
    assert AnomalyDetector(tiny_config(), progress=False).fit(df.iloc[:100], labels).scorer_ == "discrepancy"


def test_threshold_unchanged_when_the_test_part_changes():
    df = _frame(T=300)
    other = df.copy()
    other.loc[150:, "x0"] = np.random.default_rng(5).normal(3, 2, 150)  # a different test part
    thresholds = []
    for frame in (df, other):
        n = train_rows(read_frame(frame), train_fraction=0.5)
        det = AnomalyDetector(tiny_config(), progress=False, seed=1).fit(frame.iloc[:n])
        thresholds.append(det.threshold_)
        det.score(frame)
    assert thresholds[0] == thresholds[1]


def test_inject_series_labels_its_changes():
    x = np.sin(np.arange(1000) / 7)[:, None]
    out, labels = inject_series(x, n_anomalies=5, seed=0)
    changed = (out != x).any(1)
    assert not changed[~labels].any() and labels.sum() >= 5
    assert changed[labels].mean() > 0.9  # the frozen ("flat") region may keep a few equal values


# --------------------------------------------------------------------------- user tables and the CLI
def test_read_frame_rejects_bad_tables():
    with pytest.raises(ValueError, match="no numeric value column"):
        read_frame(pd.DataFrame({"timestamp": ["2024-01-01"], "name": ["a"]}))
    with pytest.raises(ValueError, match="missing or infinite value.*column 'v' at row 1"):
        read_frame(pd.DataFrame({"v": [1.0, np.nan]}))
    frame = read_frame(pd.DataFrame({"timestamp": [0, 1], "v": [1.0, 2.0], "is_anomaly": [0, 1]}))
    assert frame.columns == ("v",)  # the label column is set aside


def test_read_labels_json_windows_and_csv(tmp_path):
    frame = read_frame(_frame(T=10))
    (tmp_path / "w.json").write_text(json.dumps([["2024-01-01 02:00", "2024-01-01 04:00"]]))
    np.testing.assert_array_equal(np.flatnonzero(read_labels(tmp_path / "w.json", frame)), [2, 3, 4])
    pd.DataFrame({"is_anomaly": [0] * 9 + [1]}).to_csv(tmp_path / "l.csv", index=False)
    np.testing.assert_array_equal(np.flatnonzero(read_labels(tmp_path / "l.csv", frame)), [9])


@pytest.mark.parametrize("table, message", [
    (pd.DataFrame({"timestamp": pd.date_range("2024", periods=300, freq="h").astype(str), "name": ["a"] * 300}),
     "no numeric value column"),
    (pd.DataFrame({"value": [1.0, np.nan] * 150}), "missing or infinite value"),
    (pd.DataFrame({"value": np.arange(50.0)}), "training part has 25 rows"),
])
def test_cli_data_bad_input_is_one_line_exit_2(tmp_path, capsys, table, message):
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    code = main(["anomaly", "--data", str(path), "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("simmtm: error:") and message in err and err.count("\n") == 1


def test_cli_data_writes_one_row_per_step(tmp_path):
    df = _frame(T=300, C=2)
    df.loc[250:255, "x0"] += 5
    df.to_csv(tmp_path / "my.csv", index=False)
    code = main(["anomaly", "--data", str(tmp_path / "my.csv"), "--train-until", "2024-01-07 12:00",
                 "--out", str(tmp_path / "scores.csv"), "--plot", str(tmp_path / "scores.png")])
    out = pd.read_csv(tmp_path / "scores.csv")
    assert code == 0 and len(out) == 300 and {"timestamp", "x0", "x1", "score", "flag", "train"} <= set(out.columns)
    assert out["train"].sum() == 157 and (tmp_path / "scores.png").stat().st_size > 0
    assert out["score"].iloc[250:256].mean() > out["score"].iloc[157:245].mean()


# --------------------------------------------------------------------------- real files (skip without them)
def test_nab_window_loader_matches_the_labels_file():
    label_file = shared_file("NAB_dev/labels/combined_windows.json")
    root = label_file.parents[1]
    windows = json.loads(label_file.read_text())
    names = nab_names(root)
    assert len(names) == 13 and len(nab_names(root, with_anomalies=False)) == 18
    for name in names:
        series = load_nab(root, name)
        raw = pd.read_csv(root / "data" / f"{name}.csv")
        times = pd.to_datetime(raw["timestamp"]).to_numpy()
        expected = np.zeros(len(raw), dtype=bool)
        for start, end in windows[f"{name}.csv"]:
            inside = (times >= np.datetime64(pd.Timestamp(start))) & (times <= np.datetime64(pd.Timestamp(end)))
            assert inside.any(), f"{name}: window {start}..{end} holds no row"
            expected |= inside
        np.testing.assert_array_equal(series.labels, expected, err_msg=name)
        np.testing.assert_array_equal(series.values, raw["value"].to_numpy(np.float32))


def test_ucr_anomaly_loader():
    path = shared_file("UCR_Anomaly/135_UCR_Anomaly_InternalBleeding16_TEST.csv")
    series, n_train = load_ucr_anomaly(path)
    assert n_train == 1200 and len(series.values) == 7501
    np.testing.assert_array_equal(np.flatnonzero(series.labels), np.arange(4187, 4199))
    assert not series.labels[:n_train].any()


def test_cli_anomaly_without_data_still_runs_the_synthetic_benchmark(tmp_path):
    out = tmp_path / "syn.md"
    code = main(["anomaly", "--preset", "quick", "--sizes", "60", "20", "40", "--seeds", "0", "--methods", "mae",
                 "--epochs", "1", "--out", str(out)])
    assert code == 0 and "synthetic benchmark" in out.read_text()


def test_real_study_units_and_report_on_a_synthetic_series(tmp_path):
    from simmtm.experiments.anomaly_real import RealSeries, report_markdown, run_unit, summarize

    rng = np.random.default_rng(0)
    values = np.sin(np.arange(400) / 4)[:, None] + rng.normal(0, 0.1, (400, 1))
    labels = np.zeros(400, dtype=bool)
    labels[300:310] = True
    values[300:310] += 3
    series = RealSeries("toy", values, labels, 200)
    cfg = tiny_config()
    records = [{"key": {"series": "toy", "method": m, "seed": 0}, **run_unit(series, m, 0, cfg)}
               for m in ("mae", *BASELINES)]
    assert set(records[0]["variants"]) == {"reconstruction", "reconstruction+smooth"}
    result = summarize(records, ["toy"])
    assert result["default"] in ("mae: reconstruction", "mae: reconstruction+smooth")
    assert result["summary"]["iforest"]["roc_auc"] > 0.8  # windows holding a +3 shift are far from training ones
    assert result["summary"]["mae: reconstruction"]["roc_auc"] > 0.8  # masked points inside the shift
    text = report_markdown(result, [series], setting="toy", budget="none", command="test")
    assert "| toy |" in text and "Target" in text


def test_committed_real_table_regenerates_from_its_records():
    from pathlib import Path

    from simmtm.experiments.anomaly_real import load_series, report_markdown, summarize
    from simmtm.experiments.records import RecordStore, run_folder

    root = shared_file("NAB_dev/labels/combined_windows.json").parents[2]
    md = Path(__file__).resolve().parents[2] / "results" / "anomaly" / "anomaly_real.md"
    if not md.is_file():
        pytest.skip("results/anomaly/anomaly_real.md not committed")
    payload = json.loads(md.with_suffix(".json").read_text())
    series = load_series(root)
    result = summarize(RecordStore(run_folder(md)).records(), [s.name for s in series])
    assert result["default"] == payload["default"]
    reading = md.with_name("anomaly_real_reading.md").read_text()
    text = report_markdown(result, series, setting=payload["setting"], budget=payload["budget"],
                           command=payload["command"], reading=reading)
    assert text == md.read_text()
    # the package's default detector is the one the study picked on validation
    assert payload["default"] == "mae: reconstruction+smooth" and SeriesConfig().smooth == SeriesConfig().length
    assert AnomalyDetector().scorer is None  # -> reconstruction without labels (tested above)
