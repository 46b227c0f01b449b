"""End to end: pre-training lowers the loss, fine-tuning beats chance on real EEG, the demo runs."""
import numpy as np
import pytest
import torch

from conftest import shared_file
from simmtm.build import build_classifier, build_simmtm
from simmtm.config import get_preset
from simmtm.data import LabelledSeries, SlidingWindows, synthetic_multivariate
from simmtm.training.engine import evaluate_pretrain, fit, make_loader, pretrain_one_epoch, train_one_epoch


def test_pretraining_lowers_the_loss_on_synthetic_series(tiny_cfg):
    series = synthetic_multivariate(1200, tiny_cfg.n_channels, periods=(12.0, 48.0), seed=0)
    series = (series - series.mean(0)) / series.std(0)
    train = SlidingWindows(series[:1000], tiny_cfg.seq_len)
    held_out = SlidingWindows(series[1000:], tiny_cfg.seq_len)
    model = build_simmtm(tiny_cfg)
    device = torch.device("cpu")
    loader = make_loader(train, 32, shuffle=True, seed=0)
    val_loader = make_loader(held_out, 64, shuffle=False)
    before = evaluate_pretrain(model, val_loader, device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):
        pretrain_one_epoch(model, loader, opt, device, progress=False)
    after = evaluate_pretrain(model, val_loader, device)
    assert after["loss_rec"] < 0.7 * before["loss_rec"]
    assert after["loss_con"] < before["loss_con"]


def _uci_epilepsy():
    """UCI Epileptic Seizure table -> per-window z-scored [N, 178, 1], seizure labels and
    recording ids (rows are 23 consecutive chunks of one recording)."""
    import pandas as pd

    table = pd.read_csv(shared_file("Epilepsy_UCI/epileptic_seizure_recognition.csv"))
    x = table[[f"X{i}" for i in range(1, 179)]].to_numpy(np.float32)
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)
    y = (table["y"].to_numpy() == 1).astype(np.int64)
    recording = table["id"].str.split("_").str[0].to_numpy()
    return x[:, :, None], y, recording


def test_pretrain_then_finetune_beats_chance_on_real_eeg():
    x, y, recording = _uci_epilepsy()
    rng = np.random.default_rng(0)
    recs = np.unique(recording)
    test_recs = set(rng.choice(recs, size=len(recs) // 5, replace=False))
    is_test = np.array([r in test_recs for r in recording])
    train_idx, test_idx = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    # Pre-train (labels unused) on 2,000 training-recording windows.
    cfg = get_preset("Epilepsy")
    model = build_simmtm(cfg)
    pool = LabelledSeries(x[rng.choice(train_idx, 2000, replace=False)], np.zeros(2000))
    loader = make_loader(pool, 32, shuffle=True, seed=0, drop_last=True)
    probe = make_loader(LabelledSeries(x[test_idx[:256]], y[test_idx[:256]]), 128, shuffle=False)
    device = torch.device("cpu")
    before = evaluate_pretrain(model, probe, device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    pretrain_one_epoch(model, loader, opt, device, progress=False)
    after = evaluate_pretrain(model, probe, device)
    print(f"pre-training loss on held-out windows: {before['loss']:.3f} -> {after['loss']:.3f}")
    assert after["loss"] < before["loss"]
    # Fine-tune on 600 balanced labelled windows, select on 200 validation windows, test once.
    def balanced(idx, n):
        pos, neg = idx[y[idx] == 1], idx[y[idx] == 0]
        return np.concatenate([rng.choice(pos, n // 2, replace=False), rng.choice(neg, n // 2, replace=False)])
    ft = rng.permutation(balanced(train_idx, 800))
    ft_train, ft_val = ft[:600], ft[600:]
    test = balanced(test_idx, 400)
    clf = build_classifier(cfg, 2, encoder=model.encoder)
    opt = torch.optim.Adam(clf.parameters(), lr=1e-3)
    tr = make_loader(LabelledSeries(x[ft_train], y[ft_train]), 32, shuffle=True, seed=0)
    from simmtm.training.engine import evaluate_classifier

    va = make_loader(LabelledSeries(x[ft_val], y[ft_val]), 128, shuffle=False)
    te = make_loader(LabelledSeries(x[test], y[test]), 128, shuffle=False)
    ce = torch.nn.functional.cross_entropy
    fit(clf, lambda e: train_one_epoch(clf, tr, ce, opt, device, progress=False),
        lambda: evaluate_classifier(clf, va, device), 10, monitor="accuracy", mode="max", progress=False)
    accuracy = evaluate_classifier(clf, te, device)["accuracy"]  # balanced test set: chance = 0.5
    print(f"balanced test accuracy {accuracy:.3f}")
    assert accuracy > 0.7, accuracy


def test_demo_runs_offline(tmp_path, capsys):
    from simmtm.experiments.demo import run_demo

    result = run_demo(tmp_path, pretrain_epochs=1, finetune_epochs=1, labelled=0.1, labelled_epochs=2, stride=16,
                      progress=False)
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last.startswith("demo finished in ") and " s on " in last  # its own wall time and device, last
    assert (tmp_path / "reconstruction.png").stat().st_size > 10_000
    assert (tmp_path / "pretrained.pt").is_file()
    test = result["test"]
    assert np.isfinite([m["mse"] for m in test.values()]).all()
    n = next(k for k in test if k.startswith("all ")).split(":")[0].split()[1]  # every training window
    few = max(1, round(0.1 * int(n)))
    assert set(test) == {f"all {n}: SimMTM pre-trained", f"all {n}: random init", f"{few} (10%): SimMTM pre-trained",
                         f"{few} (10%): random init", "last value"}
    assert test[f"all {n}: SimMTM pre-trained"]["mse"] < test["last value"]["mse"]
    assert f"fine-tune [random init, {few} (10%) training windows, 2 epochs]" in out
    with pytest.raises(ValueError, match="labelled must be a share"):
        run_demo(tmp_path, labelled=0.0)
