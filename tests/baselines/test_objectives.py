"""Baseline objectives: each loss against a hand-computed value, collapse/invariance sanity,
and the modules on every encoder kind."""
import math
from dataclasses import replace

import pytest
import torch

from simmtm.build import build_pretrainer
from simmtm.training.checkpoint import load_pretrained_encoder, load_simmtm, save_checkpoint
from simmtm.config import get_preset
from simmtm.baselines.objectives import (METHODS, MaskedReconstruction, PretrainOutput, TwoViewObjective, barlow_twins_loss,
                               nt_xent, vicreg_loss, vicreg_terms)


def test_nt_xent_two_pairs_by_hand():
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # Every row: its positive has similarity 1, the two others 0 -> -log(e / (e + 2)).
    assert nt_xent(z, z.clone(), temperature=1.0).item() == pytest.approx(math.log((math.e + 2) / math.e), rel=1e-6)
    # Swapped positives (each row's partner is orthogonal, a negative is identical):
    z2 = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert nt_xent(z, z2, temperature=1.0).item() == pytest.approx(math.log((math.e + 2) / 1.0), rel=1e-6)


def test_nt_xent_prefers_matching_views():
    z = torch.randn(16, 8)
    assert nt_xent(z, z + 0.01 * torch.randn(16, 8)) < nt_xent(z, torch.randn(16, 8))


def test_vicreg_terms_by_hand():
    z = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    inv, var, cov = vicreg_terms(z, z.clone())
    assert inv.item() == 0.0  # identical views: no invariance penalty
    assert var.item() == 0.0  # std sqrt(2) > 1 in every feature
    # cov = [[2, 2], [2, 2]]: off-diagonal squares 8, / P = 4, per view, two views -> 8
    assert cov.item() == pytest.approx(8.0)
    assert vicreg_loss(z, z.clone()).item() == pytest.approx(8.0)
    inv, _, _ = vicreg_terms(z, torch.zeros(2, 2))
    assert inv.item() == pytest.approx(1.0)  # mean of squared differences


def test_vicreg_collapse_gets_the_maximal_variance_penalty():
    collapsed = torch.ones(8, 4)
    _, var, cov = vicreg_terms(collapsed, collapsed.clone())
    assert var.item() == pytest.approx(1 - math.sqrt(1e-4), rel=1e-5)  # the largest it can be
    assert cov.item() == 0.0
    _, spread, _ = vicreg_terms(torch.randn(256, 4) * 2, torch.randn(256, 4) * 2)
    assert spread.item() < 0.01


def test_barlow_twins_two_by_two_by_hand():
    a = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    # c = [[1, 1], [1, 1]]: diagonal perfect, off-diagonal squares 2
    assert barlow_twins_loss(a, a.clone(), off_diagonal_weight=0.005).item() == pytest.approx(0.01, rel=1e-4)
    b = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    # c = [[1, -1], [1, -1]]: (1-1)^2 + (1+1)^2 = 4 on the diagonal, off-diagonal squares 2
    assert barlow_twins_loss(a, b, off_diagonal_weight=0.005).item() == pytest.approx(4.01, rel=1e-4)


def test_losses_reject_bad_shapes():
    for f in (nt_xent, vicreg_loss, barlow_twins_loss):
        with pytest.raises(ValueError):
            f(torch.randn(4, 3), torch.randn(5, 3))
        with pytest.raises(ValueError):
            f(torch.randn(1, 3), torch.randn(1, 3))


@pytest.mark.parametrize("method", [m for m in METHODS if m != "simmtm"])
@pytest.mark.parametrize("preset,overrides", [("tiny", dict(seq_len=32, n_channels=2)), ("Epilepsy", {}),
                                              ("Epilepsy-ResNet", {})])
def test_objectives_train_every_encoder(method, preset, overrides):
    cfg = get_preset(preset, method=method, **overrides)
    model = build_pretrainer(cfg)
    assert isinstance(model, MaskedReconstruction if method == "masked" else TwoViewObjective)
    out = model(torch.randn(6, cfg.seq_len, cfg.n_channels), generator=torch.Generator().manual_seed(0))
    assert isinstance(out, PretrainOutput) and torch.isfinite(out.loss) and out.terms
    out.loss.backward()
    missing = [n for n, p in model.named_parameters() if n.startswith("encoder.") and p.grad is None]
    assert not missing


def test_masked_reconstruction_learns_a_sine():
    cfg = get_preset("tiny", seq_len=32, n_channels=1, method="masked")
    torch.manual_seed(0)
    model = build_pretrainer(cfg)
    t = torch.arange(32.0)
    x = torch.sin(2 * math.pi * (t / 8 + torch.rand(32, 1))).unsqueeze(-1)  # [32, 32, 1]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(60):
        loss = model(x, generator=g).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:5]) / 5


def test_unknown_method_and_checkpoint_round_trip(tmp_path):
    with pytest.raises(ValueError, match="method"):
        build_pretrainer(replace(get_preset("tiny"), method="byol"))
    cfg = get_preset("tiny", seq_len=32, n_channels=2, method="vicreg")
    model = build_pretrainer(cfg)
    save_checkpoint(tmp_path / "v.pt", model, cfg)
    again, cfg2, _ = load_simmtm(tmp_path / "v.pt")
    assert cfg2.method == "vicreg" and isinstance(again, TwoViewObjective)
    encoder, _ = load_pretrained_encoder(tmp_path / "v.pt")
    assert torch.equal(next(encoder.parameters()), next(model.encoder.parameters()))
