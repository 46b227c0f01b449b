"""The comparison runner: every method through the same pipeline, table + JSON + plot."""
import json

import numpy as np
import pytest

from simmtm.cli import main
from simmtm.experiments.comparison import ALL_METHODS, compare_forecasting, summarize, write_results
from simmtm.config import get_preset
from conftest import csv  # noqa: E402


def test_summarize_means_and_stds():
    runs = [{"method": "a", "protocol": "fine-tune", "mse": v, "mae": 0.0} for v in (1.0, 3.0)]
    (row,) = summarize(runs, ("mse", "mae"))
    assert row["mse"] == (2.0, 1.0) and row["seeds"] == 2


def test_write_results_table_json_and_plot(tmp_path):
    runs = [{"seed": s, "method": m, "protocol": "fine-tune", "accuracy": a, "precision": a, "recall": a, "f1": a,
             "auroc": a} for s in (0, 1) for m, a in (("simmtm", 0.9), ("none", 0.8))]
    out = write_results(runs, task="toy", desc="toy data", command="cmd", out=tmp_path / "c.md", budget="tiny")
    table = out.read_text()
    assert "| simmtm | fine-tune | 90.00 ± 0.00 |" in table and "| none | fine-tune | 80.00 ± 0.00 |" in table
    assert json.loads((tmp_path / "c.json").read_text())["runs"] == runs
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_every_method_through_forecasting_pipeline(tmp_path):
    path = csv(tmp_path / "d.csv", 2, 0)
    cfg = get_preset("tiny", seq_len=48, batch_size=16)
    runs, desc = compare_forecasting(str(path), None, cfg, list(ALL_METHODS), [0], horizon=12, pretrain_epochs=1,
                                     finetune_epochs=1, max_windows=32, device="cpu", log=lambda *a: None)
    assert [r["method"] for r in runs] == list(ALL_METHODS)
    assert all(np.isfinite(r["mse"]) for r in runs)
    assert all(r["pretrain_seconds"] > 0 for r in runs if r["method"] != "none")


def test_unknown_method_and_cli(tmp_path):
    with pytest.raises(ValueError, match="unknown methods"):
        compare_forecasting("x", None, get_preset("tiny"), ["byol"], [0], pretrain_epochs=1, finetune_epochs=1)
    path = csv(tmp_path / "d.csv", 2, 1)
    assert main(["compare", "--task", str(path), "--preset", "tiny", "--methods", "vicreg", "none", "--seeds", "0",
                 "--pretrain-epochs", "1", "--finetune-epochs", "1", "--max-windows", "32", "--device", "cpu", "--pred-len", "12",
                 "--out", str(tmp_path / "r.md")]) == 0
    assert "| vicreg | fine-tune |" in (tmp_path / "r.md").read_text()


def test_a_rerun_skips_finished_units_and_rebuilds_the_same_table(tmp_path, monkeypatch):
    import simmtm.forecasting.training as forecasting
    from simmtm.experiments.comparison import run

    path = csv(tmp_path / "d.csv", 2, 2)
    cfg = get_preset("tiny", seq_len=48, batch_size=16)
    kw = dict(pretrain_epochs=1, finetune_epochs=1, horizon=12, max_windows=32, device="cpu", command="cmd",
              out=tmp_path / "c.md")
    first = run(str(path), None, cfg, ["masked", "none"], [0], **kw)
    table = (tmp_path / "c.md").read_text()
    assert sorted(p.name for p in (tmp_path / "c").glob("seed=*.json")) == ["seed=0,method=masked.json",
                                                                             "seed=0,method=none.json"]
    monkeypatch.setattr(forecasting, "pretrain", lambda *a, **k: pytest.fail("a finished unit ran again"))
    monkeypatch.setattr(forecasting, "finetune", lambda *a, **k: pytest.fail("a finished unit ran again"))
    assert run(str(path), None, cfg, ["masked", "none"], [0], **kw) == first
    assert (tmp_path / "c.md").read_text() == table
    with pytest.raises(ValueError, match="other settings"):
        run(str(path), None, cfg, ["masked"], [0], **{**kw, "finetune_epochs": 2})


def test_committed_results_regenerate_byte_equal_from_their_json():
    from pathlib import Path

    from simmtm.experiments.comparison import comparison_markdown

    results = Path(__file__).resolve().parents[2] / "results" / "analyses"
    for name in ("comparison_epilepsy", "comparison_ETTh1"):
        saved = json.loads((results / f"{name}.json").read_text())
        assert comparison_markdown(saved) == (results / f"{name}.md").read_text()
