"""The fast path (SimMTM.forward) against the plain official formulation (simmtm.reference)."""
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from simmtm.build import build_simmtm
from simmtm.config import get_preset
from simmtm.encoders import MultiHeadSelfAttention
from simmtm.masking import mask_views
from simmtm.reference import attention_kernel, math_attention, official_loop_mask, reference_forward


def no_dropout(name: str, **overrides):
    cfg = get_preset(name, **overrides)
    enc = cfg.encoder
    if enc.kind == "transformer":
        return replace(cfg, encoder=replace(enc, dropout=0.0, attn_dropout=0.0))
    if enc.kind == "cnn":
        return replace(cfg, encoder=replace(enc, dropouts=(0.0,) * len(enc.dropouts)))
    return cfg


CASES = [
    ("tiny", dict(seq_len=48, n_channels=3)),  # point tokens, instance norm, auto weighting
    ("tiny", dict(seq_len=48, n_channels=2, projector="pooled", loss_weighting=0.1)),
    ("ETTm1", dict(seq_len=64, n_channels=2)),  # the ETTm1 architecture on a short series
    ("Epilepsy", dict()),  # CNN, flatten decoder, no instance norm
    ("Epilepsy-ResNet", dict()),
]


@pytest.mark.parametrize("name,overrides", CASES)
def test_fast_path_equals_reference_in_training_mode(name, overrides):
    """Same masks, fp32, dropout off, BatchNorm on batch statistics: equal loss and gradients."""
    cfg = no_dropout(name, **overrides)
    torch.manual_seed(0)
    model = build_simmtm(cfg).train()
    x = torch.randn(6, cfg.seq_len, cfg.n_channels)
    _, mask = mask_views(x, cfg.n_views, generator=torch.Generator().manual_seed(7))
    params = [p for p in model.parameters() if p.requires_grad]
    fast = model(x, mask=mask)
    g_fast = torch.autograd.grad(fast.loss, params)
    ref = reference_forward(model, x, mask)
    g_ref = torch.autograd.grad(ref.loss, params)
    assert fast.loss.item() == pytest.approx(ref.loss.item(), rel=1e-5, abs=1e-6)
    assert fast.loss_rec.item() == pytest.approx(ref.loss_rec.item(), rel=1e-5, abs=1e-7)
    assert fast.loss_con.item() == pytest.approx(ref.loss_con.item(), rel=1e-5, abs=1e-6)
    assert torch.allclose(fast.reconstruction, ref.reconstruction, atol=1e-5, rtol=1e-4)
    for (n, _), a, b in zip([(n, p) for n, p in model.named_parameters() if p.requires_grad], g_fast, g_ref):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-3), f"gradient of {n} differs: {(a - b).abs().max():.3g}"


def test_math_attention_equals_fused_kernel():
    q, k, v = torch.randn(3, 2, 4, 17, 8).unbind(0)
    assert torch.allclose(math_attention(q, k, v), F.scaled_dot_product_attention(q, k, v), atol=1e-6)


def test_math_attention_dropout_zeroes_weights_not_outputs():
    torch.manual_seed(0)
    q = k = torch.zeros(1, 1, 200, 4)  # uniform weights 1/200
    v = torch.ones(1, 1, 200, 4)
    y = math_attention(q, k, v, dropout_p=0.5)
    # Each output is (kept weights) / (1 - p): mean 1, but not all exactly 1.
    assert y.mean().item() == pytest.approx(1.0, abs=0.05) and y.std() > 0.01


def test_attention_kernel_swaps_and_restores():
    model = build_simmtm(get_preset("tiny", seq_len=16, n_channels=1))
    layers = [m for m in model.modules() if isinstance(m, MultiHeadSelfAttention)]
    calls = []

    def spy(q, k, v, dropout_p=0.0):
        calls.append(q.shape)
        return math_attention(q, k, v, dropout_p)

    with pytest.raises(RuntimeError):
        with attention_kernel(model, spy):
            model.encoder(torch.randn(2, 16, 1))
            raise RuntimeError("boom")
    assert len(calls) == len(layers)
    assert all(m.kernel is F.scaled_dot_product_attention and "kernel" not in m.__dict__ for m in layers)


def test_official_loop_mask_ratio_and_boundary_crossing():
    m = official_loop_mask((400, 50), ratio=0.5, mean_span=3.0, rng=np.random.default_rng(0))
    assert m.shape == (400, 50) and m.dtype == bool
    assert 1 - m.mean() == pytest.approx(0.5, abs=0.03)
    # One chain over the flattened batch: a row usually starts in the previous row's last state
    # (probability 2/3 with these settings), unlike the per-series chains of simmtm.masking.
    same = (m[:-1, -1] == m[1:, 0]).mean()
    assert same == pytest.approx(2 / 3, abs=0.06)


def test_reference_draws_official_masks_when_none_given():
    cfg = get_preset("tiny", seq_len=40, n_channels=2)
    model = build_simmtm(cfg)
    x = torch.randn(8, 40, 2)
    out = reference_forward(model, x, rng=np.random.default_rng(0))
    B = x.shape[0]
    assert out.mask.shape == ((cfg.n_views + 1) * B, 40, 2)
    assert torch.all(out.mask[:B] == 1)
    assert 1 - out.mask[B:].mean().item() == pytest.approx(cfg.mask_ratio, abs=0.1)
    assert torch.isfinite(out.loss)


def test_cpu_autocast_attends_in_fp32():
    model = build_simmtm(get_preset("tiny", seq_len=16, n_channels=1))
    seen = []

    def spy(q, k, v, dropout_p=0.0):
        seen.append(q.dtype)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)

    with attention_kernel(model, spy), torch.autocast("cpu", dtype=torch.bfloat16):
        model.encoder(torch.randn(2, 16, 1))
    assert seen and all(d == torch.float32 for d in seen)


def test_step_has_no_host_sync():
    """Forward and backward on the meta device: any .item(), bool() or data-dependent shape
    (a host-device sync on CUDA) would raise here."""
    for name in ("tiny", "Epilepsy", "Epilepsy-ResNet"):
        cfg = get_preset(name)
        with torch.device("meta"):
            model = build_simmtm(cfg)
        out = model(torch.randn(4, cfg.seq_len, cfg.n_channels, device="meta"))
        out.loss.backward()
        assert out.loss.device.type == "meta"


def test_maybe_compile_shares_parameters():
    from simmtm.training.engine import maybe_compile

    model = build_simmtm(get_preset("tiny", seq_len=16, n_channels=1))
    assert maybe_compile(model, False) is model
    compiled = maybe_compile(model, True)  # compiles lazily, at the first call
    assert compiled is not model
    assert {id(p) for p in compiled.parameters()} == {id(p) for p in model.parameters()}


def test_ettm1_objective_equals_reference_in_float64_at_the_official_size():
    """The ETTm1 preset as built (L = 336, flatten decoder, 62.1M weights) against the plain
    reference in float64: the losses compute in the input's dtype, so they agree to float64
    rounding, not float32's."""
    cfg = no_dropout("ETTm1")
    torch.manual_seed(0)
    model = build_simmtm(cfg).double().train()
    x = torch.randn(2, cfg.seq_len, 2, dtype=torch.float64)
    _, mask = mask_views(x, cfg.n_views, generator=torch.Generator().manual_seed(1))
    params = [p for p in model.parameters() if p.requires_grad]
    fast = model(x, mask=mask)
    assert fast.loss.dtype == torch.float64
    g_fast = torch.autograd.grad(fast.loss, params)
    ref = reference_forward(model, x, mask)
    g_ref = torch.autograd.grad(ref.loss, params)
    for a, b in ((fast.loss, ref.loss), (fast.loss_rec, ref.loss_rec), (fast.loss_con, ref.loss_con)):
        assert abs(a.item() - b.item()) <= 1e-10 * max(1.0, abs(b.item()))
    assert torch.allclose(fast.reconstruction, ref.reconstruction, atol=1e-10, rtol=1e-9)
    for (n, _), a, b in zip([(n, p) for n, p in model.named_parameters() if p.requires_grad], g_fast, g_ref):
        assert torch.allclose(a, b, atol=1e-11, rtol=1e-8), f"gradient of {n} differs: {(a - b).abs().max():.3g}"
