import pytest
import torch
import torch.nn as nn

from simmtm.data import LabelledSeries, SlidingWindows
from simmtm.training.engine import evaluate_classifier, evaluate_forecaster, fit, make_loader
from simmtm.utils.device import resolve_device


class Last(nn.Module):
    """Forecasts the last value for ``horizon`` steps."""

    def __init__(self, horizon):
        super().__init__()
        self.horizon = horizon
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.w * x[:, -1:, :].expand(-1, self.horizon, -1)


def test_forecast_metrics_are_over_every_value_not_batch_means():
    series = torch.randn(53, 2)
    ds = SlidingWindows(series, 5, 3)
    loader = make_loader(ds, batch_size=7, shuffle=False)  # last batch is short
    metrics = evaluate_forecaster(Last(3), loader, torch.device("cpu"))
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.stack([ds[i][1] for i in range(len(ds))])
    err = x[:, -1:, :] - y
    assert metrics["mse"] == pytest.approx(err.pow(2).mean().item(), rel=1e-6)
    assert metrics["mae"] == pytest.approx(err.abs().mean().item(), rel=1e-6)


def test_classifier_metrics():
    x = torch.zeros(5, 4, 1)
    y = torch.tensor([0, 1, 1, 1, 0])
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.zero_(), model[1].bias.copy_(torch.tensor([0.0, 1.0]))
    m = evaluate_classifier(model, make_loader(LabelledSeries(x, y), 2, shuffle=False), torch.device("cpu"))
    assert m["accuracy"] == pytest.approx(0.6)


def test_fit_restores_best_validation_weights_and_stops_early():
    model = nn.Linear(1, 1)
    val_scores = iter([3.0, 1.0, 2.0, 2.5, 0.5])
    weights = []

    def run_epoch(epoch):
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        weights.append(epoch)
        return {"loss": 0.0}

    result = fit(model, run_epoch, lambda: {"loss": next(val_scores)}, epochs=5, patience=2, progress=False)
    assert result["best_epoch"] == 1 and result["best"] == 1.0
    assert len(result["history"]) == 4  # epochs 2 and 3 did not improve: stop
    assert model.weight.item() == 1.0  # best-validation weights restored
    with pytest.raises(ValueError, match="mode"):
        fit(model, run_epoch, None, 1, mode="up")


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            resolve_device("cuda")


def test_mixed_precision_steps_train(tmp_path):
    """bf16 autocast on CPU (and the fp16 loss-scaling path, disabled on CPU) run and learn."""
    from simmtm.training.engine import grad_scaler, train_one_epoch

    torch.manual_seed(0)
    x = torch.randn(64, 8, 1)
    ds = LabelledSeries(x, (x[:, -1, 0] > 0).long())
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    device = torch.device("cpu")
    loader = make_loader(ds, 16, shuffle=True, seed=0)
    scaler = grad_scaler(device, torch.bfloat16)
    assert not scaler.is_enabled()
    first = train_one_epoch(model, loader, torch.nn.functional.cross_entropy, opt, device,
                            amp_dtype=torch.bfloat16, scaler=scaler, grad_clip=1.0, progress=False)["loss"]
    for _ in range(5):
        last = train_one_epoch(model, loader, torch.nn.functional.cross_entropy, opt, device,
                               amp_dtype=torch.bfloat16, scaler=scaler, progress=False)["loss"]
    assert last < first
