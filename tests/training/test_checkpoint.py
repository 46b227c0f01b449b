import pytest
import torch

from simmtm.build import build_simmtm
from simmtm.training.checkpoint import load_pretrained_encoder, load_simmtm, read_checkpoint, save_checkpoint


def test_round_trip_rebuilds_the_model_from_the_file_alone(tmp_path, tiny_cfg, tiny_batch):
    model = build_simmtm(tiny_cfg)
    opt = torch.optim.Adam(model.parameters())
    model(tiny_batch).loss.backward()
    opt.step()
    path = save_checkpoint(tmp_path / "sub" / "m.pt", model, tiny_cfg, optimizer=opt, epoch=3, metrics={"loss": 1.5})
    loaded, cfg, ckpt = load_simmtm(path)
    assert cfg == tiny_cfg and ckpt["epoch"] == 3 and ckpt["metrics"] == {"loss": 1.5}
    assert ckpt["optimizer"] is not None
    model.eval(), loaded.eval()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.allclose(model(tiny_batch, generator=g()).loss, loaded(tiny_batch, generator=g()).loss)
    encoder, _ = load_pretrained_encoder(path)
    x = torch.randn(2, tiny_cfg.seq_len, 1)
    assert torch.allclose(encoder.eval()(x), model.encoder(x))
    assert not list(tmp_path.glob("sub/*.tmp"))


def test_clear_errors(tmp_path, tiny_cfg):
    with pytest.raises(FileNotFoundError, match="no simmtm checkpoint"):
        read_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a simmtm checkpoint"):
        read_checkpoint(tmp_path / "foreign.pt")
    save_checkpoint(tmp_path / "f.pt", build_simmtm(tiny_cfg), tiny_cfg, kind="forecaster")
    with pytest.raises(ValueError, match="forecaster"):
        load_simmtm(tmp_path / "f.pt")
