"""The general forecaster: its loss and evaluation against hand-computed references, the zero-shot
user path (any columns, original units, continuing dates, short series) and few-shot fine-tuning."""
import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import hourly_csv

from simmtm.cli import main
from simmtm.data.windows import SlidingWindows
from simmtm.forecasting.forecaster import Forecaster, GeneralForecaster
from simmtm.forecasting.general import (CONTEXT, HEAD_STEPS, FutureWindows, build_general, evaluate_horizons,
                                        general_config, horizon_loss, horizon_weights, is_general)
from simmtm.training.checkpoint import save_checkpoint
from simmtm.training.engine import make_loader
from simmtm.training.pretrained import ship_forecaster


def test_horizon_weights_by_hand():
    # horizons 2 and 4 over 4 steps: steps 0-1 are in both prefixes (1/(2*2) + 1/(4*2)), steps 2-3 in one
    assert horizon_weights((2, 4), 4).tolist() == pytest.approx([0.375, 0.375, 0.125, 0.125])
    with pytest.raises(ValueError):
        horizon_weights((5,), 4)


def test_horizon_loss_is_the_mean_of_prefix_mses_and_ignores_missing_targets():
    pred = torch.tensor([[[1.0], [2.0], [3.0], [4.0]]])  # [1, 4, 1]
    target = torch.zeros(1, 4, 1)
    w = horizon_weights((2, 4), 4)
    mse2, mse4 = (1 + 4) / 2, (1 + 4 + 9 + 16) / 4
    assert horizon_loss(pred, target, w).item() == pytest.approx((mse2 + mse4) / 2)
    target[0, 3, 0] = float("nan")  # the last step has no target: (0.375*1 + 0.375*4 + 0.125*9) / 0.875
    assert horizon_loss(pred, target, w).item() == pytest.approx((0.375 + 1.5 + 1.125) / 0.875)
    pred.requires_grad_(True)
    horizon_loss(pred, target, w).backward()
    assert pred.grad[0, 3, 0] == 0 and torch.isfinite(pred.grad).all()


def test_future_windows_pad_with_nan_past_the_end():
    values = np.arange(20, dtype=np.float32)[:, None]
    ds = FutureWindows(values, 4, 6, min_future=2, start=0, end=12)
    assert len(ds) == 12 - 4 - 2 + 1
    x, y = ds[len(ds) - 1]  # origin 6: inputs rows 6..9, targets rows 10, 11 then nothing
    assert x[:, 0].tolist() == [6, 7, 8, 9] and y[:2, 0].tolist() == [10, 11] and torch.isnan(y[2:]).all()
    with pytest.raises(ValueError, match="no window"):
        FutureWindows(values, 4, 6, min_future=10, start=0, end=12)


def test_evaluate_horizons_equals_the_standard_per_horizon_protocol():
    torch.manual_seed(0)
    values = np.random.default_rng(0).normal(size=(60, 2)).astype(np.float32)

    class Linear(torch.nn.Module):
        def forward(self, x):  # [B, 8, C] -> [B, 6, C]: a fixed function of the window
            return x[:, -1:].expand(-1, 6, -1) * torch.linspace(0.5, 1, 6)[None, :, None]

    model = Linear()
    got = evaluate_horizons(model, make_loader(FutureWindows(values, 8, 6, min_future=2), 7, shuffle=False),
                            torch.device("cpu"), horizons=(2, 6))
    for h in (2, 6):
        se, n = 0.0, 0
        for x, y in SlidingWindows(values, 8, h):
            d = model(x[None])[0, :h] - y
            se, n = se + float((d ** 2).sum()), n + d.numel()
        assert got[f"mse_{h}"] == pytest.approx(se / n, rel=1e-6)
    assert got["mse"] == pytest.approx((got["mse_2"] + got["mse_6"]) / 2)


@pytest.fixture
def general_name(tmp_path, monkeypatch):
    """A randomly initialised general forecaster shipped as 'general' in a temporary checkpoints folder."""
    monkeypatch.setenv("SIMMTM_CHECKPOINTS", str(tmp_path / "shipped"))
    cfg = general_config()
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "g.pt", build_general(cfg), cfg, kind="forecaster", general=True, head_steps=HEAD_STEPS)
    path = ship_forecaster(tmp_path / "g.pt", "general", "# general (test)")
    assert "sha256: `" in path.with_suffix(".md").read_text()
    return "general"


def test_zero_shot_forecast_past_the_end_in_original_units_with_continuing_dates(tmp_path, general_name):
    frame = hourly_csv(tmp_path / "s.csv", 700, 3, columns=["a", "b", "c"])
    g = Forecaster.load(general_name)
    assert isinstance(g, GeneralForecaster) and is_general(general_name)
    future = g.predict(frame)
    assert list(future.columns) == ["a", "b", "c"] and len(future) == 96
    assert future.index[0] == pd.Timestamp("2021-01-01") + pd.Timedelta(hours=700)
    assert (np.diff(future.index.values) == np.timedelta64(1, "h")).all()
    # instance-normalised: the same file in other units gives the forecast in those units
    scaled = frame.assign(**{c: frame[c] * 1000 + 5 for c in "abc"})
    assert np.allclose(g.predict(scaled).to_numpy(), future.to_numpy() * 1000 + 5, rtol=1e-3, atol=1e-2)
    assert len(Forecaster.load(general_name, horizon=720).predict(frame)) == 720
    with pytest.raises(ValueError, match="1 to 720"):
        Forecaster.load(general_name, horizon=721)


def test_cli_forecast_from_general_any_columns_and_a_short_file(tmp_path, general_name, capsys):
    hourly_csv(tmp_path / "short.csv", 200, 2)
    assert main(["forecast", "--from", "general", "--data", str(tmp_path / "short.csv"), "--out",
                 str(tmp_path / "f.csv"), "--pred-len", "24"]) == 0
    out = capsys.readouterr().out
    assert "zero-shot" in out and "200 rows, fewer than the general model's context of 512" in out
    f = pd.read_csv(tmp_path / "f.csv")
    assert list(f.columns) == ["date", "c0", "c1"] and len(f) == 24 and np.isfinite(f[["c0", "c1"]].to_numpy()).all()


def test_finetune_from_general_on_a_fraction_then_forecast_a_prefix(tmp_path, general_name, capsys):
    hourly_csv(tmp_path / "s.csv", 6200, 2)  # 70/10/20: val and test hold 512 + 96 rows
    assert main(["finetune", "--from", "general", "--data", str(tmp_path / "s.csv"), "--fraction", "0.05",
                 "--pred-len", "24", "96", "--epochs", "1", "--out", str(tmp_path / "ft"), "--no-progress",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    start, end = 4340 - (int(0.05 * (4340 - CONTEXT)) + CONTEXT), 4340
    assert f"training rows [{start}, {end})" in out and "H=24" in out and "H=96" in out
    model = Forecaster.load(tmp_path / "ft" / "s_general.pt")
    assert model.spec.horizon == 96 and len(model.predict(pd.read_csv(tmp_path / "s.csv"))) == 96
    assert len(Forecaster.load(tmp_path / "ft" / "s_general.pt", horizon=300).predict(pd.read_csv(tmp_path / "s.csv"))) == 300
    assert main(["finetune", "--data", str(tmp_path / "s.csv"), "--fraction", "0.05"]) == 2
    assert "use it with --from general" in capsys.readouterr().err


def test_the_general_study_end_to_end_on_a_smoke_budget(tmp_path, capsys, monkeypatch):
    """Corpus stage, ETTh2 stage, report and ship, with seconds of training; a rerun redoes nothing."""
    from tests.conftest import shared_file

    root = shared_file("ETT-small/ETTh2.csv").parents[1]
    shared_file("forecasting_corpus/beijing_pm2.5.csv")
    monkeypatch.setenv("SIMMTM_CHECKPOINTS", str(tmp_path / "shipped"))
    argv = ["general", "--root", str(root), "--budget", "smoke", "--seeds", "0", "--fractions", "0.05",
            "--out", str(tmp_path / "general.md"), "--checkpoints", str(tmp_path / "ck"),
            "--ship-to", str(tmp_path / "shipped"), "--device", "cpu", "--no-progress"]
    assert main(argv) == 0
    report = (tmp_path / "general.md").read_text()
    assert "| zero-shot | general |" in report and "| 5% | random, lr 0.001 | 1 |" in report and "TTM-R2" in report
    import json

    payload = json.loads((tmp_path / "general.json").read_text())
    assert set(payload["ETTh2"]["5%"]) >= {"avg_mse", "general", "random", "SimMTM ETTh2"}
    assert payload["ETTh2"]["zero_shot"]["avg_mse"] > 0
    card = (tmp_path / "shipped" / "general.md").read_text()
    assert "never saw: ETT station 2" in card and "sha256: `" in card
    assert isinstance(Forecaster.load("general"), GeneralForecaster)
    capsys.readouterr()
    assert main(argv) == 0 and "] epoch" not in capsys.readouterr().out  # every unit was recorded: nothing retrains


def test_the_shipped_general_forecaster_loads_by_name_with_weights_only(monkeypatch):
    from pathlib import Path

    monkeypatch.delenv("SIMMTM_CHECKPOINTS", raising=False)
    path = Path(__file__).resolve().parents[2] / "checkpoints" / "general.pt"
    assert path.is_file(), "checkpoints/general.pt is committed (python -m simmtm general --stages ship)"
    assert path.stat().st_size < 5_000_000
    payload = torch.load(path, weights_only=True)  # plain tensors and values: nothing to run
    assert payload["kind"] == "forecaster" and payload["extra"]["general"] and payload["optimizer"] is None
    g = Forecaster.load("general", horizon=720)
    assert isinstance(g, GeneralForecaster) and g.source == str(path)
    x = np.random.default_rng(0).normal(size=(600, 3)).cumsum(0)
    assert g.predict(x).shape == (720, 3)
