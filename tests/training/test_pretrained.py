"""Shipped encoders: made by ship(), loadable by name, guarded by their sha256 and embeddings."""
import os
import re
from pathlib import Path

import pytest
import torch

from simmtm.build import build_encoder, build_simmtm
from simmtm.training.checkpoint import save_checkpoint
from simmtm.cli import main
from simmtm.config import SimMTMConfig, get_preset
from simmtm.training.pretrained import checkpoints_dir, load_pretrained, sha256, ship, shipped

# Embeddings of a fixed seeded input by every shipped file: (sum, sum of squares, max) of all values.
EXPECTED: dict[str, tuple[float, float, float]] = {
    "sleepeeg-cnn": (1304.6583, 1737.8502, 3.3999),
    "sleepeeg-resnet": (3125.6064, 5971.9868, 9.6463),
    "ettm1-cpu": (-0.1913, 674.8502, 4.1682),
    "weather-cpu": (-161.9823, 4296.1885, 8.8875),
    "general": (8.302, 42.7238, 0.4495),  # the general forecaster's encoder
}


def _fixed_input(cfg: SimMTMConfig) -> torch.Tensor:
    return torch.randn(2, cfg.seq_len, 1 if cfg.encoder.kind == "transformer" else cfg.n_channels,
                       generator=torch.Generator().manual_seed(0))


def test_ship_load_by_name_and_list(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMMTM_CHECKPOINTS", str(tmp_path / "shipped"))
    cfg = get_preset("tiny", seq_len=32, n_channels=2)
    torch.manual_seed(0)
    model = build_simmtm(cfg)
    save_checkpoint(tmp_path / "pre.pt", model, cfg, epoch=1, metrics={"val_loss": 1.25})
    path = ship(tmp_path / "pre.pt", "tiny-test", data="synthetic", command="python -m simmtm pretrain ...",
                budget="1 epoch", seed=0, wall_time="1 s", results="| a | b |")
    assert path == tmp_path / "shipped" / "tiny-test.pt" and shipped() == {"tiny-test": path}
    card = path.with_suffix(".md").read_text()
    assert sha256(path) in card and "val_loss 1.2500" in card and "| a | b |" in card
    encoder, loaded_cfg = load_pretrained("tiny-test")
    assert loaded_cfg == cfg and "projector" not in str(torch.load(path, weights_only=True)["model"].keys())
    x = torch.randn(3, 32, 1)
    assert torch.equal(encoder.eval()(x), model.encoder.eval()(x))
    with pytest.raises(ValueError, match="no shipped encoder named 'nope'; shipped: tiny-test"):
        load_pretrained("nope")
    assert main(["checkpoints"]) == 0 and "tiny-test" in capsys.readouterr().out
    # finetune --from NAME resolves the shipped name
    assert main(["finetune", "--from", "nope", "--data", "x.csv"]) == 2
    assert "no shipped encoder named 'nope'" in capsys.readouterr().err


SHIPPED = shipped() if checkpoints_dir().is_dir() else {}


def test_the_registry_finds_the_repository_encoders():
    """The checks below run over what the registry finds; an empty find would skip them silently."""
    repo = Path(__file__).resolve().parents[2] / "checkpoints"
    cards = {p.stem for p in repo.glob("*.pt") if p.with_suffix(".md").is_file()}
    if "SIMMTM_CHECKPOINTS" not in os.environ:
        assert set(SHIPPED) == cards and cards, f"shipped() found {sorted(SHIPPED)} in {checkpoints_dir()}"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_file_matches_its_card_and_its_embeddings(name):
    path = SHIPPED[name]
    card = path.with_suffix(".md").read_text()
    assert re.search(r"sha256: `([0-9a-f]{64})`", card).group(1) == sha256(path)
    assert path.stat().st_size < 5_000_000
    if torch.load(path, weights_only=True)["kind"] == "forecaster":  # the general forecaster: its encoder
        from simmtm.forecasting.general import load_general

        model, cfg, _ = load_general(name)
        encoder = model.encoder
    else:
        encoder, cfg = load_pretrained(name)
    fresh = build_encoder(cfg)  # the preset it names builds the same modules
    fresh.load_state_dict(encoder.state_dict())
    with torch.no_grad():
        z = encoder.eval()(_fixed_input(cfg))
    found = (z.sum().item(), (z ** 2).sum().item(), z.max().item())
    assert name in EXPECTED, f"record the embeddings of {name}: {found}"
    assert found == pytest.approx(EXPECTED[name], rel=1e-4, abs=1e-3)
