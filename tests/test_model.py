import pytest
import torch

from simmtm.build import build_classifier, build_forecaster, build_simmtm
from simmtm.config import get_preset
from simmtm.data import channels_last
from simmtm.masking import mask_views
from simmtm.reference import reference_forward

PRESET_CASES = [
    ("tiny", dict(seq_len=32, n_channels=2)),
    ("tiny", dict(seq_len=32, n_channels=2, projector="pooled", loss_weighting=0.5)),
    ("Epilepsy", dict()),
    ("Epilepsy-ResNet", dict(n_channels=2)),
]


@pytest.mark.parametrize("name,overrides", PRESET_CASES)
def test_gradients_reach_every_trainable_parameter(name, overrides):
    cfg = get_preset(name, **overrides)
    model = build_simmtm(cfg)
    out = model(torch.randn(6, cfg.seq_len, cfg.n_channels))
    out.loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert not missing, f"no gradient reaches {missing}"
    assert out.reconstruction.shape == (6, cfg.seq_len, cfg.n_channels)


@pytest.mark.parametrize("name,overrides", PRESET_CASES[:1] + PRESET_CASES[2:3])
def test_forward_equals_the_reference_computation(name, overrides):
    cfg = get_preset(name, **overrides)
    model = build_simmtm(cfg).eval()  # eval: dropout off, BatchNorm deterministic
    x = torch.randn(5, cfg.seq_len, cfg.n_channels)
    _, mask = mask_views(x, cfg.n_views, generator=torch.Generator().manual_seed(3))
    out = model(x, mask=mask)
    grads = torch.autograd.grad(out.loss, list(model.parameters()))
    ref = reference_forward(model, x, mask)
    ref_grads = torch.autograd.grad(ref.loss, list(model.parameters()))
    assert torch.allclose(out.loss, ref.loss, atol=1e-5)
    assert torch.allclose(out.loss_rec, ref.loss_rec, atol=1e-6)
    assert torch.allclose(out.loss_con, ref.loss_con, atol=1e-5)
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r, atol=1e-5, rtol=1e-4)


def test_forward_is_reproducible_with_a_generator(tiny_cfg, tiny_batch):
    model = build_simmtm(tiny_cfg).eval()
    a = model(tiny_batch, generator=torch.Generator().manual_seed(5))
    b = model(tiny_batch, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.mask, b.mask) and torch.allclose(a.loss, b.loss)


def test_return_matrices_shapes(tiny_cfg, tiny_batch):
    model = build_simmtm(tiny_cfg)
    out = model(tiny_batch, return_matrices=True)
    B, C, M = tiny_batch.shape[0], tiny_cfg.n_channels, tiny_cfg.n_views
    R = (M + 1) * B * C  # channel-independent encoder: one row per (view, series, channel)
    assert out.similarity.shape == (R, R)
    assert out.weights.shape == (B * C, R)
    assert torch.allclose(out.weights.sum(1), torch.ones(B * C))
    assert out.mask.shape == ((M + 1) * B, tiny_cfg.seq_len, C)
    assert model(tiny_batch).similarity is None


def test_classification_layout_convention():
    cfg = get_preset("Epilepsy")
    tfc = torch.randn(4, 1, 178)  # TF-C files store [N, C, L]
    x = channels_last(tfc)
    assert x.shape == (4, 178, 1)
    assert build_simmtm(cfg)(x).reconstruction.shape == (4, 178, 1)
    with pytest.raises(ValueError, match="length L=1 "):
        build_simmtm(cfg)(tfc)  # the un-converted layout is caught with a clear message


def test_finetuning_models(tiny_cfg, tiny_batch):
    model = build_simmtm(tiny_cfg)
    f = build_forecaster(tiny_cfg, horizon=12, encoder=model.encoder)
    assert f.encoder is model.encoder
    assert f(tiny_batch).shape == (4, 12, tiny_cfg.n_channels)
    # Channel independence: the same forecaster serves another channel count.
    assert f(torch.randn(2, tiny_cfg.seq_len, 5)).shape == (2, 12, 5)
    cfg = get_preset("Epilepsy")
    c = build_classifier(cfg, n_classes=3)
    assert c(torch.randn(4, 178, 1)).shape == (4, 3)


@pytest.mark.parametrize("x,match", [
    (torch.randn(4, 32), r"\[B, L, C\]"),
    (torch.randn(4, 30, 2), "length"),
    (torch.full((4, 32, 2), float("nan")), "NaN"),
])
def test_bad_inputs(tiny_cfg, x, match):
    with pytest.raises(ValueError, match=match):
        build_simmtm(tiny_cfg)(x)


def test_bad_arguments(tiny_cfg, tiny_batch):
    from dataclasses import replace

    with pytest.raises(ValueError, match="n_views"):
        build_simmtm(replace(tiny_cfg, n_views=0))
    with pytest.raises(ValueError, match="mask"):
        build_simmtm(tiny_cfg)(tiny_batch, mask=torch.ones(4, 32, 2))
    with pytest.raises(ValueError, match="channels"):
        build_simmtm(get_preset("Epilepsy"))(torch.randn(2, 178, 3))
    with pytest.raises(ValueError, match="mask_ratio"):
        build_simmtm(replace(tiny_cfg, mask_ratio=1.2))
    with pytest.raises(ValueError, match="mask_kind"):
        build_simmtm(replace(tiny_cfg, mask_kind="blocks"))
