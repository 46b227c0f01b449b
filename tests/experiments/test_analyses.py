"""The analyses: each ablation switch changes exactly what it names; the sweep runner skips
finished records; limited-label subsets are stratified and nested."""
import numpy as np
import pytest
import torch

from simmtm.build import build_pretrainer, build_simmtm
from simmtm.experiments.classification import label_fractions
from simmtm.config import get_preset
from simmtm.experiments.analyses import ABLATIONS, analyse, plot_analysis, variants
from simmtm.losses import reconstruction_loss
from simmtm.masking import mask_views

from conftest import hourly_csv

CFG = get_preset("tiny", seq_len=32, n_channels=2)


def _no_dropout(cfg):
    from dataclasses import replace

    return replace(cfg, encoder=replace(cfg.encoder, dropout=0.0))


def test_no_constraint_leaves_only_the_reconstruction_gradient():
    from dataclasses import replace

    cfg = _no_dropout(replace(CFG, **ABLATIONS["no-constraint"]))
    torch.manual_seed(0)
    model = build_simmtm(cfg)
    x = torch.randn(4, 32, 2)
    _, mask = mask_views(x, cfg.n_views, generator=torch.Generator().manual_seed(0))
    out = model(x, mask=mask)
    params = [p for p in model.parameters() if p.requires_grad]
    total = torch.autograd.grad(out.loss, params, allow_unused=True)
    out = model(x, mask=mask)
    rec = torch.autograd.grad(reconstruction_loss(out.reconstruction, x), params, allow_unused=True)
    for a, b in zip(total, rec):
        if a is None or b is None:
            assert a is None and b is None or (a if a is not None else b).abs().max() == 0
        else:
            assert torch.allclose(a, b, atol=1e-7)
    assert out.loss_con > 0  # it is still computed (and logged), it just weighs nothing


def test_no_aggregation_rebuilds_each_series_from_itself():
    from dataclasses import replace

    cfg = _no_dropout(replace(CFG, **ABLATIONS["no-aggregation"]))
    model = build_pretrainer(cfg).eval()
    x = torch.randn(3, 32, 2)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    captured = []
    hook = model.decoder.register_forward_hook(lambda m, i, o: captured.append(o.detach()))
    model(x, generator=g())
    y = x.clone()
    y[1:] = torch.randn(2, 32, 2)  # other series change
    model(y, generator=g())
    hook.remove()
    assert torch.allclose(captured[0][0], captured[1][0], atol=1e-6)  # series 0's reconstruction did not move
    assert not torch.allclose(captured[0][1], captured[1][1])


def test_simclr_with_masked_views_masks_at_the_ratio():
    from dataclasses import replace

    model = build_pretrainer(replace(CFG, method="simclr-mask", mask_ratio=0.25))
    x = torch.randn(64, 32, 2) + 5  # no value is 0 unless masked
    view = model.augment(x, generator=torch.Generator().manual_seed(0))
    assert abs((view == 0).float().mean().item() - 0.25) < 0.03
    assert torch.equal(view[view != 0], x[view != 0])


def test_label_fractions_are_stratified_and_nested():
    y = np.array([0] * 300 + [1] * 100)
    subsets = label_fractions(y, [0.01, 0.05, 0.1, 0.25, 1.0], seed=3)
    sizes = {f: (np.sum(y[i] == 0), np.sum(y[i] == 1)) for f, i in subsets.items()}
    assert sizes == {0.01: (3, 1), 0.05: (15, 5), 0.1: (30, 10), 0.25: (75, 25), 1.0: (300, 100)}
    fractions = sorted(subsets)
    for small, large in zip(fractions, fractions[1:]):
        assert set(subsets[small]) <= set(subsets[large])
    assert np.array_equal(subsets[1.0], np.arange(400))
    with pytest.raises(ValueError, match="fractions"):
        label_fractions(y, [0.0])


def test_variants_name_what_they_change():
    assert variants("mask-ratio", 0.75)["masked reconstruction"] == {"method": "masked", "mask_ratio": 0.75}
    assert variants("labels", 0.1) == {"SimMTM": {}, "random init": None}
    assert variants("ablation", "random init") == {"random init": None}  # the reference row
    with pytest.raises(ValueError, match="unknown analysis"):
        variants("nope", 1)


def test_runner_skips_finished_records(tmp_path, monkeypatch):
    import simmtm.forecasting.training as forecasting

    hourly_csv(tmp_path / "d.csv", 600, 2, columns=["a", "b"])
    kw = dict(root=None, out=tmp_path / "a.md", pretrain_epochs=1, finetune_epochs=1, lr=1e-3, horizons=(8,),
              pretrain_windows=32, finetune_windows=32, device="cpu", log=lambda *a: None)
    first = analyse(str(tmp_path / "d.csv"), "views", CFG, [0], values=[1, 2], **kw)
    assert [(r["key"]["value"], r["key"]["variant"]) for r in first] == [(1, "SimMTM"), (2, "SimMTM")]
    table = (tmp_path / "a.md").read_text()
    assert "| 8 | 1 | SimMTM |" in table and "| 8 | 2 | SimMTM |" in table
    monkeypatch.setattr(forecasting, "pretrain", lambda *a, **k: pytest.fail("a finished unit ran again"))
    assert analyse(str(tmp_path / "d.csv"), "views", CFG, [0], values=[1, 2], **kw) == first
    fig = plot_analysis(first, "mse", title="views", xlabel="M")
    ax = fig.axes[0]  # one variant, one seed: a zoomed axis around the points, no error bars
    lo, hi = ax.get_ylim()
    mses = [r["test"]["mse"] for r in first]
    assert lo < min(mses) and max(mses) < hi and lo > 0
    assert "zoomed" in ax.get_ylabel() and ax.get_title() == "test MSE, 1 seed: no error bars"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]


def test_forecasting_horizons_share_one_pretraining_and_can_be_added_later(tmp_path, monkeypatch):
    import simmtm.forecasting.training as forecasting

    hourly_csv(tmp_path / "d.csv", 600, 2, columns=["a", "b"])
    calls = {"pretrain": 0, "finetune": []}
    real_pretrain, real_finetune = forecasting.pretrain, forecasting.finetune

    def counted_pretrain(*a, **k):
        calls["pretrain"] += 1
        return real_pretrain(*a, **k)

    def counted_finetune(cfg, data, horizon, **k):
        calls["finetune"].append(horizon)
        return real_finetune(cfg, data, horizon, **k)

    monkeypatch.setattr(forecasting, "pretrain", counted_pretrain)
    monkeypatch.setattr(forecasting, "finetune", counted_finetune)
    kw = dict(root=None, out=tmp_path / "a.md", pretrain_epochs=1, finetune_epochs=1, lr=1e-3, pretrain_windows=32,
              finetune_windows=32, device="cpu", log=lambda *a: None)
    first = analyse(str(tmp_path / "d.csv"), "ablation", CFG, [0], values=["full"], horizons=(8, 4), **kw)
    assert calls == {"pretrain": 1, "finetune": [8, 4]}
    assert sorted(r["key"]["horizon"] for r in first) == [4, 8]
    both = analyse(str(tmp_path / "d.csv"), "ablation", CFG, [0], values=["full"], horizons=(8, 4, 6), **kw)
    assert calls == {"pretrain": 2, "finetune": [8, 4, 6]}  # only the new horizon ran
    assert len(both) == 3 and "| 4 | full | full |" in (tmp_path / "a.md").read_text()
    fig = plot_analysis(both, "mse", horizon=6)
    assert len(fig.axes) == 1  # no random init recorded: nothing to pair with
    with pytest.raises(ValueError, match="no records at horizon 5"):
        plot_analysis(both, "mse", horizon=5)
    # each horizon fine-tunes the pre-trained encoder itself, not the previous horizon's fine-tuned one
    alone = analyse(str(tmp_path / "d.csv"), "ablation", CFG, [0], values=["full"], horizons=(4,),
                    **{**kw, "out": tmp_path / "alone.md"})
    assert alone[0]["test"] == next(r for r in first if r["key"]["horizon"] == 4)["test"]


def test_ablate_command_writes_the_table_and_its_records(tmp_path):
    from simmtm.cli import main

    hourly_csv(tmp_path / "d.csv", 900, 3, columns=["a", "b", "c"])
    out = tmp_path / "abl.md"
    argv = ["ablate", "--task", str(tmp_path / "d.csv"), "--analysis", "ablation", "--values", "full", "no-constraint",
            "--preset", "tiny", "--seeds", "0", "--pretrain-epochs", "1", "--finetune-epochs", "1", "--pred-len", "8",
            "--pretrain-windows", "32", "--finetune-windows", "32", "--device", "cpu", "--out", str(out)]
    assert main(argv) == 0
    table = out.read_text()
    assert "| 8 | full | full |" in table and "| 8 | no-constraint | no-constraint |" in table
    assert "Pre-training windows: 32" in table and "Command: `python -m simmtm ablate" in table
    records = __import__("json").loads(out.with_suffix(".json").read_text())["records"]
    assert [r["overrides"] for r in records] == [{}, {"loss_weighting": 0.0}]


def test_high_mask_ratios_lengthen_the_masked_spans_so_that_kept_spans_last_a_step():
    from simmtm.experiments.analyses import mask_span_for

    assert mask_span_for(0.5) == {} and mask_span_for(0.75) == {}  # 3 * 0.25 / 0.75 = 1 step kept on average
    assert mask_span_for(0.875) == {"mean_span": 7.0}
    assert variants("mask-ratio", 0.875)["SimCLR (masked views)"] == {"method": "simclr-mask", "mask_ratio": 0.875,
                                                                      "mean_span": 7.0}
    _, mask = mask_views(torch.randn(256, 178, 1), 3, ratio=0.875, mean_span=7.0,
                         generator=torch.Generator().manual_seed(0))
    assert abs((1 - mask[256:].float().mean().item()) - 0.875) < 0.01
