"""Pre-train on one CSV, fine-tune on another with a different channel count, via the CLI too."""
import json

import numpy as np
import pytest
import torch

from simmtm.training.checkpoint import load_pretrained_encoder, read_checkpoint
from simmtm.cli import main
from simmtm.config import get_preset
from simmtm.data.forecasting import load_forecasting
from simmtm.forecasting.training import finetune, pretrain

from conftest import csv


@pytest.fixture
def cfg():
    return get_preset("tiny", seq_len=48, batch_size=16)


def test_cross_domain_pretrain_and_finetune_with_checkpoint_round_trip(tmp_path, cfg):
    source = load_forecasting(csv(tmp_path / "src.csv", 5, 0), seq_len=cfg.seq_len)
    target = load_forecasting(csv(tmp_path / "dst.csv", 2, 1), seq_len=cfg.seq_len)
    model, result = pretrain(cfg, source, device="cpu", epochs=2, max_windows=128, checkpoint=tmp_path / "pre.pt",
                             progress=False, log=lambda *_: None)
    assert len(result["history"]) == 2
    encoder, saved_cfg = load_pretrained_encoder(tmp_path / "pre.pt")
    assert saved_cfg.n_channels == 5  # the source's channels; the encoder is channel-independent
    x = torch.randn(3, cfg.seq_len, 1)
    assert torch.allclose(encoder.eval()(x), model.encoder.eval()(x))
    out = finetune(saved_cfg, target, horizon=12, encoder=encoder, device="cpu", epochs=2, lr=1e-3,
                   max_windows=128, checkpoint=tmp_path / "ft.pt", progress=False, log=lambda *_: None)
    assert np.isfinite(out["test"]["mse"]) and out["test"]["mse"] > 0
    assert torch.allclose(encoder.eval()(x), model.encoder.eval()(x))  # fine-tuned a copy: the next fine-tune starts clean
    ckpt = read_checkpoint(tmp_path / "ft.pt")
    assert ckpt["kind"] == "forecaster" and ckpt["extra"]["horizon"] == 12 and ckpt["config"]["n_channels"] == 2
    assert ckpt["metrics"] == out["test"]


def test_cli_pretrain_finetune_and_study(tmp_path, capsys):
    path = csv(tmp_path / "d.csv", 3, 2)
    common = ["--preset", "tiny", "--data", str(path), "--seq-len", "48", "--max-windows", "64", "--device", "cpu",
              "--no-progress", "--epochs", "1"]
    assert main(["pretrain", *common, "--out", str(tmp_path / "p.pt"), "--patch-len", "8"]) == 0
    assert main(["finetune", *common, "--from", str(tmp_path / "p.pt"), "--pred-len", "12", "--out", str(tmp_path)]) == 0
    assert "d H=12 (pretrained): test MSE" in capsys.readouterr().out
    assert (tmp_path / "d_H12_pretrained.pt").is_file()
    assert main(["study", *common, "--pred-len", "12", "--seeds", "0", "1", "--finetune-epochs", "1",
                 "--checkpoints", str(tmp_path / "ck"), "--out", str(tmp_path / "r.md")]) == 0
    table = (tmp_path / "r.md").read_text()
    assert "| 12 | " in table and "SimMTM MSE" in table and "random init MSE" in table and "python -m simmtm study" in table
    records = json.loads((tmp_path / "r.json").read_text())["records"]
    finetunes = [r for r in records if r["key"]["unit"] == "finetune"]
    assert len(finetunes) == 4 and {r["key"]["seed"] for r in finetunes} == {0, 1}
    assert sorted(p.name for p in (tmp_path / "ck" / "r").glob("pretrain_seed?.pt")) == ["pretrain_seed0.pt", "pretrain_seed1.pt"]


def test_patch_tokens_reconstruct_every_step(cfg):
    from dataclasses import replace

    from simmtm.build import build_simmtm

    patched = replace(cfg, encoder=replace(cfg.encoder, patch_len=8))
    model = build_simmtm(patched)
    out = model(torch.randn(4, cfg.seq_len, 2))
    assert out.reconstruction.shape == (4, cfg.seq_len, 2)
    assert model.encoder(torch.randn(2, cfg.seq_len, 2)).shape[2] == cfg.seq_len // 8
    with pytest.raises(ValueError, match="multiple of patch_len"):
        model.encoder(torch.randn(2, 50, 1))
