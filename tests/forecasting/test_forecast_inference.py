"""Forecasting a user's own file: dates that continue the file, original units, backtests, the
checkpoint's inference record, the ``forecast`` command and its errors, and the CPU defaults."""
import numpy as np
import pandas as pd
import pytest
import torch

from simmtm import Forecaster
from simmtm.build import build_forecaster
from simmtm.training.checkpoint import read_checkpoint, save_checkpoint
from simmtm.cli import main
from simmtm.config import get_preset
from simmtm.data import synthetic_multivariate
from simmtm.data.forecasting import load_forecasting
from simmtm.data.dates import future_dates, infer_frequency, parse_dates
from simmtm.forecasting.forecaster import ForecastSpec
from simmtm.forecasting.training import finetune
from simmtm.training.recipes import budget_name, default_preset

L, H = 32, 8
COLUMNS = ["load", "temp", "OT"]


def series_frame(rows=300, freq="h", start="2021-01-01", dates=True, seed=0) -> pd.DataFrame:
    values = synthetic_multivariate(rows, len(COLUMNS), periods=(12.0, 48.0), seed=seed) * [1.0, 5.0, 0.5] + [10, 200, -3]
    frame = pd.DataFrame(values, columns=COLUMNS)
    if dates:
        frame.insert(0, "date", pd.date_range(start, periods=rows, freq=freq))
    return frame


def untrained(freq="h", date_column="date", seed=0) -> Forecaster:
    """A forecaster with random weights and a hand-made scaler (what inference does is the same)."""
    torch.manual_seed(seed)
    cfg = get_preset("tiny", seq_len=L, n_channels=len(COLUMNS))
    spec = ForecastSpec(tuple(COLUMNS), (10.0, 200.0, -3.0), (1.0, 5.0, 0.5), "M", L, H, date_column, freq)
    return Forecaster(build_forecaster(cfg, H), spec)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint written by the fine-tuning the CLI runs (1 epoch on an hourly CSV)."""
    folder = tmp_path_factory.mktemp("fc")
    series_frame(400).to_csv(folder / "my.csv", index=False)
    data = load_forecasting(folder / "my.csv", seq_len=L)
    torch.manual_seed(0)
    finetune(get_preset("tiny", seq_len=L), data, H, device="cpu", epochs=1, max_windows=32,
             checkpoint=folder / "fc.pt", progress=False, log=lambda *_: None)
    return folder, data


# --- dates ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("freq", ["15min", "h", "D", "MS"])
def test_forecast_dates_continue_the_file(freq):
    f = untrained(freq)
    frame = series_frame(60, freq=freq)
    out = f.predict(frame)
    expected = pd.date_range(frame["date"].iloc[-1], periods=H + 1, freq=freq)[1:]
    assert list(out.columns) == COLUMNS and out.shape == (H, len(COLUMNS))
    assert isinstance(out.index, pd.DatetimeIndex) and out.index.equals(expected) and out.index.name == "date"
    assert infer_frequency(frame["date"]) == freq


def test_frequency_of_a_dated_index_and_the_next_dates():
    dates = pd.DatetimeIndex(["2020-01-31 23:45", "2020-02-01 00:00", "2020-02-01 00:15"])
    assert infer_frequency(dates) == "15min"
    assert list(future_dates(dates, 2, "15min")) == [pd.Timestamp("2020-02-01 00:30"), pd.Timestamp("2020-02-01 00:45")]
    frame = series_frame(60).set_index("date")  # a DatetimeIndex instead of a date column
    assert untrained().predict(frame).index[0] == frame.index[-1] + pd.Timedelta("1h")


@pytest.mark.parametrize("fault, row, words", [("swap", 11, "not in increasing order"), ("repeat", 11, "repeats"),
                                               ("gap", 11, "irregular")])
def test_unsorted_repeated_or_irregular_dates_are_refused_with_the_row(fault, row, words):
    frame = series_frame(60)
    dates = frame["date"].copy()
    if fault == "swap":
        dates.iloc[[9, 10]] = dates.iloc[[10, 9]].to_numpy()  # row 10 (1-based) ends up before row 11's predecessor
    elif fault == "repeat":
        dates.iloc[10] = dates.iloc[9]
    else:
        dates.iloc[10:] = dates.iloc[10:] + pd.Timedelta("1h")  # a missing hour before row 11
    frame["date"] = dates
    with pytest.raises(ValueError) as refused:
        untrained().predict(frame)
    assert words in str(refused.value) and f"row {row - 1} (line {row + 1}," in str(refused.value)


def test_a_value_that_is_not_a_date_is_named():
    frame = series_frame(60).astype({"date": str})
    frame.loc[4, "date"] = "yesterday"
    with pytest.raises(ValueError, match="row 4 \\(line 6\\) is not a time stamp: 'yesterday'"):
        parse_dates(frame["date"])


def test_a_file_without_dates_forecasts_step_numbers():
    frame = series_frame(50, dates=False)
    out = untrained(freq=None, date_column=None).predict(frame)
    assert isinstance(out.index, pd.RangeIndex) and list(out.index) == list(range(50, 50 + H))
    assert out.index.name == "step"


def test_training_data_records_its_date_column_and_frequency(tmp_path):
    series_frame(300, freq="15min").rename(columns={"date": "when"}).to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(ValueError, match="non-numeric value columns \\['when'\\]; if 'when' holds the dates, say --date-column when"):
        load_forecasting(tmp_path / "a.csv", seq_len=L)
    data = load_forecasting(tmp_path / "a.csv", seq_len=L, date_column="when")
    assert (data.date_column, data.freq, data.columns) == ("when", "15min", COLUMNS)
    series_frame(300, dates=False).to_csv(tmp_path / "b.csv", index=False)
    data = load_forecasting(tmp_path / "b.csv", seq_len=L)
    assert (data.date_column, data.freq, data.n_channels) == (None, None, 3)
    irregular = series_frame(300).drop(index=[50])
    irregular.to_csv(tmp_path / "c.csv", index=False)
    assert load_forecasting(tmp_path / "c.csv", seq_len=L).freq is None  # training does not need regular dates


# --- units ------------------------------------------------------------------------------------------

def test_forecast_is_the_model_on_the_last_window_destandardized():
    f = untrained()
    frame = series_frame(80)
    values = frame[COLUMNS].to_numpy()
    mean, std = np.array(f.spec.mean), np.array(f.spec.std)
    x = torch.tensor((values[-L:] - mean) / std, dtype=torch.float32)[None]  # [1, L, C]
    with torch.no_grad():
        expected = f.model(x)[0].double().numpy() * std + mean
    np.testing.assert_allclose(f.predict(frame).to_numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(f.predict(values), expected, rtol=1e-6, atol=1e-6)  # the array path: [T, C] -> [H, C]
    assert f.predict(values[-L:]).shape == (H, len(COLUMNS))


def test_a_series_shifted_by_100_gives_a_forecast_shifted_by_100(trained):
    folder, _ = trained
    f = Forecaster.load(folder / "fc.pt")
    frame = pd.read_csv(folder / "my.csv")
    shifted = frame.assign(**{c: frame[c] + 100 for c in COLUMNS})
    base, moved = f.predict(frame), f.predict(shifted)
    np.testing.assert_allclose(moved.to_numpy(), base.to_numpy() + 100, atol=2e-3)
    assert not np.allclose(base.to_numpy(), base.to_numpy().mean(0))  # a forecast that varies, not a constant


def test_the_checkpoint_carries_what_inference_needs(trained):
    folder, data = trained
    f = Forecaster.load(folder / "fc.pt")
    assert isinstance(f, Forecaster)
    s = f.spec
    assert s.columns == tuple(COLUMNS) and s.features == "M" and (s.seq_len, s.horizon) == (L, H)
    assert s.date_column == "date" and s.freq == "h"
    train = pd.read_csv(folder / "my.csv")[COLUMNS].to_numpy()[: data.borders["train"][1]]
    np.testing.assert_allclose(s.mean, train.mean(0))  # the scaler of the training rows only
    np.testing.assert_allclose(s.std, train.std(0))


def test_backtest_puts_the_actual_values_beside_the_forecast(trained):
    folder, _ = trained
    f = Forecaster.load(folder / "fc.pt")
    frame = pd.read_csv(folder / "my.csv")
    at = "2021-01-08 00:00"
    row = int(np.flatnonzero(pd.to_datetime(frame["date"]) == pd.Timestamp(at))[0])
    bt = f.backtest(frame, at)
    values = frame[COLUMNS].to_numpy()
    truth, forecast = values[row + 1:row + 1 + H], f.predict(values[: row + 1])
    assert list(bt.frame.columns) == ["load", "load_actual", "temp", "temp_actual", "OT", "OT_actual"]
    np.testing.assert_allclose(bt.frame[[f"{c}_actual" for c in COLUMNS]].to_numpy(), truth)
    np.testing.assert_allclose(bt.frame[COLUMNS].to_numpy(), forecast)
    assert bt.frame.index[0] == pd.Timestamp(at) + pd.Timedelta("1h")
    assert bt.metrics["mse"] == pytest.approx(np.mean((forecast - truth) ** 2))
    assert bt.metrics["mae"] == pytest.approx(np.mean(np.abs(forecast - truth)))
    assert bt.metrics["last_value_mse"] == pytest.approx(np.mean((values[row] - truth) ** 2))
    std = np.array(f.spec.std)
    assert bt.metrics["mse_scaled"] == pytest.approx(np.mean(((forecast - truth) / std) ** 2))


def test_evaluate_averages_the_backtests_of_a_period(trained):
    folder, _ = trained
    f = Forecaster.load(folder / "fc.pt")
    frame = pd.read_csv(folder / "my.csv")
    dates = pd.to_datetime(frame["date"])
    result = f.evaluate(frame, dates[100], dates[140], stride=10)
    singles = [f.backtest(frame, dates[r]).metrics for r in range(100, 141, 10)]
    assert result["windows"] == 5 and result["last_origin"] == str(dates[140])
    for key in ("mse", "mae", "last_value_mse", "mse_scaled"):
        assert result[key] == pytest.approx(np.mean([m[key] for m in singles]), rel=1e-6)
    assert result["per_channel"]["OT"]["mae"] == pytest.approx(np.mean([m["per_channel"]["OT"]["mae"] for m in singles]))
    with pytest.raises(ValueError, match="origins must run from row 32"):
        f.evaluate(frame, dates[5])


def test_evaluate_over_the_test_rows_is_the_fine_tuning_test_mse(tmp_path):
    series_frame(400).to_csv(tmp_path / "my.csv", index=False)
    data = load_forecasting(tmp_path / "my.csv", seq_len=L)
    result = finetune(get_preset("tiny", seq_len=L), data, H, device="cpu", epochs=1, max_windows=32,
                      checkpoint=tmp_path / "fc.pt", progress=False, log=lambda *_: None)
    frame = pd.read_csv(tmp_path / "my.csv")
    first_target = data.borders["test"][0] + L  # the test split's first forecast row
    scores = Forecaster.load(tmp_path / "fc.pt").evaluate(frame, frame["date"][first_target - 1])
    assert scores["windows"] == len(data.windows("test", H))
    assert scores["mse_scaled"] == pytest.approx(result["test"]["mse"], rel=1e-4)
    assert scores["mae_scaled"] == pytest.approx(result["test"]["mae"], rel=1e-4)


def test_an_old_checkpoint_without_the_scaler_is_refused_clearly(tmp_path, trained):
    folder, _ = trained
    cfg = get_preset("tiny", seq_len=L, n_channels=3)
    save_checkpoint(tmp_path / "old.pt", build_forecaster(cfg, H), cfg, kind="forecaster", horizon=H, dataset="x")
    with pytest.raises(ValueError, match="older simmtm: it lacks the scaler, column names"):
        Forecaster.load(tmp_path / "old.pt")
    ckpt = read_checkpoint(folder / "fc.pt")
    partial = {k: v for k, v in ckpt["extra"]["inference"].items() if k not in ("mean", "freq")}
    torch.save({**ckpt, "extra": {**ckpt["extra"], "inference": partial}}, tmp_path / "partial.pt")
    with pytest.raises(ValueError, match="lacks mean, freq"):
        Forecaster.load(tmp_path / "partial.pt")


def test_single_channel_mode_records_the_target_only(tmp_path):
    series_frame(300).to_csv(tmp_path / "s.csv", index=False)
    data = load_forecasting(tmp_path / "s.csv", seq_len=L, features="S")
    finetune(get_preset("tiny", seq_len=L), data, H, device="cpu", epochs=1, max_windows=16,
             checkpoint=tmp_path / "s.pt", progress=False, log=lambda *_: None)
    f = Forecaster.load(tmp_path / "s.pt")
    assert f.spec.columns == ("OT",) and f.spec.features == "S"
    assert list(f.predict(pd.read_csv(tmp_path / "s.csv")).columns) == ["OT"]


# --- the command line -------------------------------------------------------------------------------

def test_forecast_command_writes_the_input_layout_and_a_plot(trained, tmp_path, capsys):
    folder, _ = trained
    frame = pd.read_csv(folder / "my.csv")
    assert main(["forecast", "--from", str(folder / "fc.pt"), "--data", str(folder / "my.csv"),
                 "--out", str(tmp_path / "f.csv"), "--plot", str(tmp_path / "f.png")]) == 0
    out = pd.read_csv(tmp_path / "f.csv")
    assert list(out.columns) == ["date", *COLUMNS] and len(out) == H
    assert pd.Timestamp(out["date"].iloc[0]) == pd.Timestamp(frame["date"].iloc[-1]) + pd.Timedelta("1h")
    assert (tmp_path / "f.png").stat().st_size > 0
    at = frame["date"].iloc[200]
    assert main(["forecast", "--from", str(folder / "fc.pt"), "--data", str(folder / "my.csv"), "--at", at,
                 "--out", str(tmp_path / "b.csv")]) == 0
    text = capsys.readouterr().out
    assert "MSE" in text and "original units" in text and "last-value baseline" in text
    back = pd.read_csv(tmp_path / "b.csv")
    assert list(back.columns)[:3] == ["date", "load", "load_actual"]
    np.testing.assert_allclose(back["OT_actual"], frame["OT"].iloc[201:201 + H])


def test_forecast_command_with_another_date_column_and_without_dates(trained, tmp_path):
    folder, _ = trained
    frame = pd.read_csv(folder / "my.csv")
    frame.rename(columns={"date": "when"}).to_csv(tmp_path / "renamed.csv", index=False)
    assert main(["forecast", "--from", str(folder / "fc.pt"), "--data", str(tmp_path / "renamed.csv"),
                 "--date-column", "when", "--out", str(tmp_path / "f.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "f.csv").columns) == ["when", *COLUMNS]
    frame.drop(columns="date").to_csv(tmp_path / "nodates.csv", index=False)
    assert main(["forecast", "--from", str(folder / "fc.pt"), "--data", str(tmp_path / "nodates.csv"),
                 "--out", str(tmp_path / "g.csv")]) == 0
    steps = pd.read_csv(tmp_path / "g.csv")
    assert list(steps.columns) == ["step", *COLUMNS] and list(steps["step"]) == list(range(len(frame), len(frame) + H))


@pytest.fixture
def bad_inputs(trained, tmp_path):
    folder, _ = trained
    frame = pd.read_csv(folder / "my.csv")
    (tmp_path / "fc.pt").write_bytes((folder / "fc.pt").read_bytes())
    frame.to_csv(tmp_path / "ok.csv", index=False)
    frame.drop(columns="temp").to_csv(tmp_path / "nocol.csv", index=False)
    frame.iloc[:L - 1].to_csv(tmp_path / "short.csv", index=False)
    frame.assign(load=frame["load"].where(frame.index != len(frame) - 3)).to_csv(tmp_path / "nan.csv", index=False)
    frame.iloc[::-1].to_csv(tmp_path / "unsorted.csv", index=False)
    cfg = get_preset("tiny", seq_len=L, n_channels=3)
    save_checkpoint(tmp_path / "old.pt", build_forecaster(cfg, H), cfg, kind="forecaster", horizon=H)
    return frame


BAD = {
    "missing data file": (["--data", "gone.csv"], "no CSV at gone.csv"),
    "missing checkpoint": (["--from", "nope.pt"], "no simmtm checkpoint at nope.pt"),
    "old checkpoint": (["--from", "old.pt"], "older simmtm"),
    "missing column": (["--data", "nocol.csv"], "lacks column(s) ['temp']"),
    "too few rows": (["--data", "short.csv"], f"needs {L} rows of input"),
    "NaN in the window": (["--data", "nan.csv"], "NaN or infinite values, first at row 397 (line 399)"),
    "unsorted dates": (["--data", "unsorted.csv"], "not in increasing order: row 1 (line 3,"),
    "unknown date column": (["--date-column", "when"], "has no 'when' column"),
    "--at not a date of the file": (["--at", "1999-01-01"], "no row has that date"),
    "--at too late": (["--at", "2021-01-17 14:00"], "rows after it, a backtest of H=8 needs 8"),
    "--at too early": (["--at", "2021-01-01 03:00"], "only 4 rows up to it"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_forecast_bad_input_is_one_line_and_exit_code_2(case, bad_inputs, tmp_path, monkeypatch, capsys):
    extra, expected = BAD[case]
    argv = {"--from": "fc.pt", "--data": "ok.csv", "--out": "f.csv"}
    for flag, value in zip(extra[::2], extra[1::2]):
        argv[flag] = value
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIMMTM_DEBUG", raising=False)
    before = set(tmp_path.iterdir())
    code = main(["forecast", *[x for kv in argv.items() for x in kv]])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("simmtm: error: "), err
    assert expected in lines[0], lines[0]
    assert set(tmp_path.iterdir()) == before  # nothing written


# --- defaults on a CPU ------------------------------------------------------------------------------

def test_a_cpu_gets_the_cpu_recipe_and_its_budget():
    assert default_preset("my.csv", "cpu")[0] == "ETTm1-cpu"
    assert default_preset("ETTh1", "cpu")[0] == "ETTh1-cpu"
    assert budget_name("ETTm1-cpu") == "cpu" and budget_name("ETTm1") == "paper" and budget_name(None, "cpu") == "cpu"


def test_cli_defaults_say_what_they_chose(tmp_path, capsys):
    series_frame(900).to_csv(tmp_path / "my.csv", index=False)
    q = ["--data", str(tmp_path / "my.csv"), "--device", "cpu", "--no-progress", "--epochs", "1", "--max-windows", "16"]
    assert main(["pretrain", *q, "--out", str(tmp_path / "p.pt")]) == 0  # no --preset on a CPU: the CPU recipe
    out = capsys.readouterr().out
    assert "preset ETTm1-cpu: the CPU recipe" in out and "estimated" in out and "per epoch" in out
    assert read_checkpoint(tmp_path / "p.pt")["config"]["encoder"]["patch_len"] == 16
    assert main(["finetune", *q[:-2], "--from", str(tmp_path / "p.pt"), "--preset", "ETTm1", "--pred-len", "8",
                 "--max-windows", "16", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    which = [line for line in out.splitlines() if "wins" in line]
    assert len(which) == 1 and "patch_len 1->16" in which[0] and "--preset ETTm1 sets only the fine-tuning budget" in which[0]
    assert "fine-tuning budget 'paper'" in out and "lr 0.0001" in out
    assert main(["finetune", *q[:-2], "--pred-len", "8", "--out", str(tmp_path)]) == 0  # random init, no preset
    out = capsys.readouterr().out
    assert "preset ETTm1-cpu" in out and "fine-tuning budget 'cpu' with overrides: lr 0.0005" in out
    assert "batch 32, 8192 training windows" in out


def test_the_own_data_report_lists_commands_and_scores_in_original_units(trained, tmp_path):
    from simmtm.experiments.own_forecasting import read_log, report

    folder, data = trained
    (tmp_path / "run.log").write_text("### pretrain: python -m simmtm pretrain --data my.csv\nnoise\n"
                                      "### pretrain: rc=0 wall=12s\n")
    assert read_log(tmp_path / "run.log") == [{"name": "pretrain", "command": "python -m simmtm pretrain --data my.csv",
                                               "rc": 0, "wall_seconds": 12}]
    payload = report(folder / "my.csv", {"SimMTM": {0: folder / "fc.pt", 1: folder / "fc.pt"}}, at="2021-01-10 00:00",
                     log=tmp_path / "run.log", out=tmp_path / "r.md")
    frame = pd.read_csv(folder / "my.csv")
    first_target = data.borders["test"][0] + L
    expected = Forecaster.load(folder / "fc.pt").evaluate(frame, frame["date"][first_target - 1])
    assert payload["results"]["SimMTM"][1]["test_period"] == expected
    assert payload["results"]["last value"][0]["test_period"]["mse"] == expected["last_value_mse"]
    text = (tmp_path / "r.md").read_text()
    assert "python -m simmtm pretrain --data my.csv    # pretrain: 12 s, exit 0" in text
    assert f"| SimMTM | {expected['mse']:.3f} ± 0.000 |" in text and "| last value (repeated) |" in text
