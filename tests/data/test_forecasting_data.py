import numpy as np
import pandas as pd
import pytest

from conftest import shared_file
from simmtm.data.forecasting import load_forecasting, split_borders


def write_csv(path, n_rows=400, n_cols=3, seed=0, target="OT"):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n_rows, n_cols)).cumsum(0) + np.arange(n_cols) * 10
    cols = [f"v{i}" for i in range(n_cols - 1)] + [target]
    frame = pd.DataFrame(values, columns=cols)
    frame.insert(0, "date", pd.date_range("2020-01-01", periods=n_rows, freq="h").astype(str))
    frame.to_csv(path, index=False)
    return frame


@pytest.mark.parametrize("scheme,n_rows,borders,counts", [
    ("ett_hour", 17420, {"train": (0, 8640), "val": (8304, 11520), "test": (11184, 14400)}, (8209, 2785, 2785)),
    ("ett_minute", 69680, {"train": (0, 34560), "val": (34224, 46080), "test": (45744, 57600)}, (34129, 11425, 11425)),
    ("ratio", 52696, {"train": (0, 36887), "val": (36551, 42157), "test": (41821, 52696)}, (36456, 5175, 10444)),
])
def test_standard_borders_and_window_counts_at_L336_H96(scheme, n_rows, borders, counts):
    got = split_borders(n_rows, scheme, 336)
    assert got == borders
    windows = tuple(end - start - 336 - 96 + 1 for start, end in got.values())
    assert windows == counts


def test_scaler_fit_on_train_rows_only_and_inverse(tmp_path):
    frame = write_csv(tmp_path / "a.csv")
    data = load_forecasting(tmp_path / "a.csv", seq_len=24)
    train = data.split("train")
    assert np.allclose(train.mean(0), 0, atol=1e-5) and np.allclose(train.std(0), 1, atol=1e-4)
    # Changing test rows changes nothing about the scaling.
    frame.loc[len(frame) - 10:, "OT"] = 1e6
    frame.to_csv(tmp_path / "b.csv", index=False)
    other = load_forecasting(tmp_path / "b.csv", seq_len=24)
    assert np.allclose(other.mean, data.mean) and np.allclose(other.std, data.std)
    raw = frame.drop(columns="date").to_numpy()
    assert np.allclose(data.inverse_transform(data.values)[:100], raw[:100], rtol=1e-5, atol=1e-4)


def test_windows_are_aligned_with_csv_rows(tmp_path):
    frame = write_csv(tmp_path / "a.csv", n_rows=300)
    data = load_forecasting(tmp_path / "a.csv", seq_len=20)
    raw = frame.drop(columns="date").to_numpy()
    scaled = (raw - data.mean) / data.std
    start, _ = data.borders["val"]  # 0.7 * 300 - 20
    assert start == 210 - 20
    x, y = data.windows("val", pred_len=5)[3]
    assert np.allclose(x.numpy(), scaled[start + 3:start + 23], atol=1e-5)
    assert np.allclose(y.numpy(), scaled[start + 23:start + 28], atol=1e-5)
    assert len(data.windows("test", pred_len=5)) == 60 + 20 - 20 - 5 + 1


def test_univariate_mode_and_custom_target(tmp_path):
    write_csv(tmp_path / "a.csv", target="load")
    data = load_forecasting(tmp_path / "a.csv", seq_len=24, features="S", target="load")
    assert data.columns == ["load"] and data.n_channels == 1
    assert load_forecasting(tmp_path / "a.csv", seq_len=24).columns[-1] == "load"  # default: last column


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="download"):
        load_forecasting("ETTh1", root=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset 'ETTx'"):
        load_forecasting("ETTx")
    write_csv(tmp_path / "a.csv")
    with pytest.raises(ValueError, match="target column 'price'"):
        load_forecasting(tmp_path / "a.csv", target="price")
    with pytest.raises(ValueError, match="features"):
        load_forecasting(tmp_path / "a.csv", features="MS")
    with pytest.raises(ValueError, match="longer than the training split"):
        load_forecasting(tmp_path / "a.csv", seq_len=300)
    frame = write_csv(tmp_path / "nan.csv")
    frame.loc[7, "v0"] = np.nan
    frame.to_csv(tmp_path / "nan.csv", index=False)
    with pytest.raises(ValueError, match="NaN"):
        load_forecasting(tmp_path / "nan.csv")
    pd.DataFrame({"time": ["a", "b"], "x": [1.0, 2.0]}).to_csv(tmp_path / "nodate.csv", index=False)
    with pytest.raises(ValueError, match=r"non-numeric value columns \['time'\]; if 'time' holds the dates, say --date-column time"):
        load_forecasting(tmp_path / "nodate.csv")
    pd.DataFrame({"time": [1, 2], "x": [1.0, 2.0]}).to_csv(tmp_path / "nodate2.csv", index=False)
    with pytest.raises(ValueError, match="'date' column"):  # named but absent; unnamed, a file without dates is read by row
        load_forecasting(tmp_path / "nodate2.csv", date_column="date")
    with pytest.raises(ValueError, match="at least 14400 rows"):
        split_borders(14000, "ett_hour", 336)
    with pytest.raises(ValueError, match="split scheme"):
        split_borders(14000, "weekly", 336)


def test_real_benchmarks_load_when_present():
    root = shared_file("ETT-small/ETTh1.csv").parents[1]
    etth1 = load_forecasting("ETTh1", root, seq_len=336)
    assert etth1.n_channels == 7 and etth1.columns[-1] == "OT"
    assert len(etth1.windows("test", 96)) == 2785
    shared_file("weather/weather.csv")
    weather = load_forecasting("Weather", root, seq_len=336)  # mangled headers, a duplicate stamp, a gap
    assert weather.n_channels == 21 and len(weather.windows("test", 96)) == 10444
