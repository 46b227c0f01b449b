"""The label and pre-training-scale curves: nested training subsets (validation untouched), one
pre-training shared by every fraction, random init run once for the scale curve, a re-run that
skips finished units, the selected protocols read from a selection, and the table's paired
difference computed from the records."""
import json

import numpy as np
import pytest

import simmtm.forecasting.training as forecasting
from simmtm.data.forecasting import load_forecasting
from simmtm.experiments.curves import (_parse_point, fraction_name, label_curve, labels_meta, point_table, scale_curve,
                                       scale_meta, scale_name, write_curve)
from simmtm.experiments.forecasting import run_folder, serving_pretraining
from simmtm.training.recipes import StudyBudget
from simmtm.experiments.protocol_selection import selected_protocols
from simmtm.experiments.records import RecordStore
from simmtm.forecasting.training import nested_subset, subset_size
from simmtm.training.protocols import PROTOCOLS

from conftest import hourly_csv, tiny_patch_cfg

QUIET = dict(device="cpu", progress=False, log=lambda *a: None)
BUDGET = StudyBudget(pretrain_epochs=1, pretrain_windows=32, finetune_epochs=1, finetune_windows=40, lr=1e-3,
                     batch_size=16, patience=2)
FULL = {"SimMTM": ("full", PROTOCOLS["full"]), "random init": ("full", PROTOCOLS["full"])}


@pytest.fixture
def setup(tmp_path):
    hourly_csv(tmp_path / "src.csv", 500, 2, columns=["a", "b"])
    return tiny_patch_cfg(), load_forecasting(tmp_path / "src.csv", seq_len=32)


def test_nested_subsets_are_nested_sorted_and_the_same_every_call():
    small, large = nested_subset(10, 3), nested_subset(10, 6)
    assert set(small) <= set(large) and small == sorted(small) and len(set(large)) == 6
    assert nested_subset(10, 3) == small and nested_subset(10, 10) == list(range(10))
    with pytest.raises(ValueError, match="1 <= k <= n"):
        nested_subset(5, 0)


def test_budget_train_fraction_validates_and_stays_out_of_old_settings():
    assert "train_fraction" not in StudyBudget().settings()
    assert StudyBudget(train_fraction=0.25).settings()["train_fraction"] == 0.25
    assert subset_size(0.01, 400) == 4 and subset_size(0.5, 31) == 16 and subset_size(0.001, 31) == 1
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="train_fraction"):
            StudyBudget(train_fraction=bad)


def test_serving_pretraining_is_the_given_table_else_the_first_study_with_simmtm(tmp_path):
    given, first = tmp_path / "given.md", tmp_path / "first.md"
    assert serving_pretraining(given, first, ["SimMTM"]) == given
    assert serving_pretraining(None, first, ["random init"]) is None  # random init pre-trains nothing
    assert serving_pretraining(None, first, ["SimMTM", "random init"]) == first


def test_label_curve_trains_on_nested_subsets_shares_one_pretraining_and_resumes(setup, tmp_path, monkeypatch):
    cfg, data = setup
    real, seen = forecasting.finetune, []

    def spy(*a, **k):
        r = real(*a, **k)
        seen.append((k["train_fraction"], r["train_windows"]))
        return r

    monkeypatch.setattr(forecasting, "finetune", spy)
    kw = dict(horizons=[8], seeds=[0], out=tmp_path / "lab.md", budget=BUDGET, protocols=FULL,
              checkpoints=tmp_path / "ck", **QUIET)
    summary = label_curve(cfg, data, data, [0.25, 1.0], **kw)
    assert seen == [(0.25, 10), (0.25, 10), (1.0, 40), (1.0, 40)]  # 25 % of 40 windows, then all 40
    pre = [RecordStore(run_folder(point_table(tmp_path / "lab.md", p, "full"))).records(unit="pretrain")
           for p in ("labels25pct", "labels100pct")]
    assert [len(p) for p in pre] == [1, 0]  # the first point's pre-training serves the second
    row = summary["rows"][0]
    assert row["SimMTM"]["train_windows"] == [10] and summary["complete"]
    assert row["paired_test_diff"][0] == pytest.approx(row["SimMTM"]["test_mse"][0] - row["random init"]["test_mse"][0])
    text = (tmp_path / "lab.md").read_text()
    assert "| labels25pct | 8 | 10 |" in text and "the point's nested share (column 'train windows') of 40" in text
    assert "nested 25%" not in text  # the settings lines describe every point, not the first one's share
    seen.clear()
    label_curve(cfg, data, data, [0.25, 1.0], **kw)
    assert seen == []  # every unit finished: nothing runs


def test_scale_curve_runs_random_init_once_and_each_pretraining_budget(setup, tmp_path, monkeypatch):
    import simmtm.training.pretraining as pretraining

    cfg, data = setup
    real_fit, epochs = pretraining.fit, []
    monkeypatch.setattr(pretraining, "fit", lambda *a, **k: (epochs.append(k.get("epochs")), real_fit(*a, **k))[1])
    summary = scale_curve(cfg, data, [(1, 32), (2, None)], horizons=[8], seeds=[0], out=tmp_path / "sc.md",
                          budget=BUDGET, protocols=FULL, checkpoints=tmp_path / "ck", **QUIET)
    assert len(epochs) == 2
    assert len(RecordStore(run_folder(point_table(tmp_path / "sc.md", "random", "full"))).records(unit="finetune")) == 1
    rows = {r["point"]: r for r in summary["rows"]}
    assert set(rows) == {"pre1ep-32w", "pre2ep-allw"}
    assert rows["pre1ep-32w"]["random init"]["test_mse"] == rows["pre2ep-allw"]["random init"]["test_mse"]
    assert rows["pre1ep-32w"]["SimMTM"]["test_mse"] != rows["pre2ep-allw"]["SimMTM"]["test_mse"]
    saved = json.loads((tmp_path / "sc.json").read_text())
    assert saved["kind"] == "scale" and saved["complete"]
    # the table of a command over one point keeps the other (every window last), not the random reference
    again = write_curve(tmp_path / "sc.md", scale_meta([(2, None)]), FULL, inits=["SimMTM", "random init"],
                        horizons=[8], seeds=[0])
    assert [r["point"] for r in again["rows"]] == ["pre1ep-32w", "pre2ep-allw"] and again["complete"]
    assert json.loads((tmp_path / "sc.json").read_text()) == saved
    assert "Pre-training on src: the point's epochs (kept on validation loss) over the point's windows," in \
        (tmp_path / "sc.md").read_text()
    import matplotlib
    matplotlib.use("Agg")
    from simmtm.experiments.curves import plot_curve

    left, right = plot_curve(saved, horizon=8).axes  # one SimMTM line per window count, random init once
    assert sorted(left.get_legend_handles_labels()[1]) == ["SimMTM (32 pre-training windows)",
                                                           "SimMTM (every pre-training window)",
                                                           "random init (no pre-training: one reference)"]
    assert [t.get_text() for t in left.get_xticklabels()] == ["1", "2"]
    assert len(right.get_yticklabels()) == 2 and "1 seed)" in left.figure._suptitle.get_text()


def test_scale_curve_extends_the_shorter_pretraining_of_a_seed_to_the_same_weights(setup, tmp_path, monkeypatch):
    import simmtm.training.pretraining as pretraining

    cfg, data = setup
    real_fit, first_epochs = pretraining.fit, []
    monkeypatch.setattr(pretraining, "fit", lambda *a, **k: (first_epochs.append(k["start"]["epoch"] + 1 if k["start"]
                                                                                   else 0), real_fit(*a, **k))[1])
    # given out of order: the 1-epoch point runs first and the 3-epoch point goes on from it
    scale_curve(cfg, data, [(3, 32), (1, 32)], horizons=[8], seeds=[0], out=tmp_path / "sc.md", budget=BUDGET,
                protocols=FULL, checkpoints=tmp_path / "ck", **QUIET)
    assert first_epochs == [0, 1]
    pre = lambda out, point: RecordStore(run_folder(point_table(out, point, "full"))).get({"unit": "pretrain", "seed": 0})
    extended = pre(tmp_path / "sc.md", "pre3ep-32w")
    assert extended["extended_from"].endswith("pre1ep-32w-full/pretrain_seed0.final.pt") and len(extended["history"]) == 3
    # the same point alone, from scratch: the same history and weights
    scale_curve(cfg, data, [(3, 32)], horizons=[8], seeds=[0], out=tmp_path / "alone.md", budget=BUDGET,
                protocols=FULL, checkpoints=tmp_path / "ck", **QUIET)
    alone = pre(tmp_path / "alone.md", "pre3ep-32w")
    assert first_epochs == [0, 1, 0] and "extended_from" not in alone
    assert alone["history"] == extended["history"] and alone["weights_sha256"] == extended["weights_sha256"]


def test_point_names_parse_back_to_their_values_in_order():
    # the table lists points recorded by earlier runs by parsing their folder names back
    fractions = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0]
    for name, values in labels_meta(fractions)["points"].items():
        assert _parse_point("labels", name)[1] == values
    assert _parse_point("labels", fraction_name(1 / 3))[1]["train_fraction"] == pytest.approx(1 / 3, rel=1e-5)
    scales = [(1, 8192), (30, 8192), (1, None), (3, None), (30, None)]
    for name, values in scale_meta(scales)["points"].items():
        assert _parse_point("scale", name)[1] == values
    shuffled = [scale_name(*s) for s in (scales[3], scales[1], scales[4], scales[0], scales[2])]
    assert sorted(shuffled, key=lambda n: _parse_point("scale", n)[0]) == [scale_name(*s) for s in scales]
    assert sorted(map(fraction_name, [0.25, 1.0, 0.05]), key=lambda n: _parse_point("labels", n)[0]) == \
        ["labels5pct", "labels25pct", "labels100pct"]
    for other in ("random-probe1", "pre3ep-allw-full", "labels5", "pre3ep-12xw"):
        assert _parse_point("scale", other) is None and _parse_point("labels", other) is None


def test_selected_protocols_are_read_from_a_selection(tmp_path):
    rows = [{"protocol": "probe1", "init": "SimMTM", "spec": PROTOCOLS["probe1"].to_dict()},
            {"protocol": "enc0.3", "init": "random init", "spec": PROTOCOLS["enc0.3"].to_dict()}]
    (tmp_path / "sel.json").write_text(json.dumps({"selected": {"SimMTM": "probe1", "random init": "enc0.3"},
                                                   "rows": rows, "complete": False}))
    protocols, complete = selected_protocols(tmp_path / "sel.md")
    assert protocols == {"SimMTM": ("probe1", PROTOCOLS["probe1"]), "random init": ("enc0.3", PROTOCOLS["enc0.3"])}
    assert not complete
    with pytest.raises(ValueError, match="not found"):
        selected_protocols(tmp_path / "none.md")


def test_cli_curve(setup, tmp_path, capsys):
    from simmtm.cli import main

    common = ["--preset", "tiny", "--data", str(tmp_path / "src.csv"), "--seq-len", "32", "--epochs", "1",
              "--pretrain-windows", "32", "--finetune-windows", "32", "--finetune-epochs", "1", "--device", "cpu",
              "--no-progress", "--checkpoints", str(tmp_path / "ck"), "--pred-len", "8"]
    assert main(["curve", "labels", *common, "--fractions", "0.5", "1", "--out", str(tmp_path / "c.md")]) == 0
    assert "complete" in capsys.readouterr().out
    assert np.isfinite(json.loads((tmp_path / "c.json").read_text())["rows"][0]["paired_test_diff"]["0"])
    written = (tmp_path / "c.md").read_text()
    (tmp_path / "c.md").unlink()
    labels = ["curve", "labels", *common, "--fractions", "0.5", "1", "--out", str(tmp_path / "c.md")]
    assert main([*labels, "--report-only"]) == 0  # rebuilt from the records, nothing trained
    assert "complete" in capsys.readouterr().out and (tmp_path / "c.md").read_text() == written
    # a command over part of the grid keeps the other recorded points in the table, in their order
    assert main(["curve", "labels", *common, "--fractions", "1", "--out", str(tmp_path / "c.md"), "--report-only"]) == 0
    assert "complete" in capsys.readouterr().out and (tmp_path / "c.md").read_text() == written
    assert main([*labels, "--report-only", "--seeds", "0", "1"]) == 0
    assert "units still to run" in capsys.readouterr().out
    assert "labels50pct H=8 SimMTM seeds [1]" in (tmp_path / "c.md").read_text()
    for bad in (["scale", "--scales", "1:x"], ["labels", "--fractions", "0"]):
        with pytest.raises(SystemExit):
            main(["curve", bad[0], *common, *bad[1:], "--out", str(tmp_path / "d.md")])
        assert ("EPOCHS:WINDOWS" if bad[0] == "scale" else "must be in (0, 1]") in capsys.readouterr().err
    assert main(["curve", "labels", *common, "--protocol", "full", "--protocols-from", "x.md"]) == 2
    assert "not both" in capsys.readouterr().err


def test_plot_curve_draws_both_panels_from_the_json(setup, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from simmtm.experiments.curves import plot_curve

    cfg, data = setup
    label_curve(cfg, data, data, [0.5, 1.0], horizons=[8], seeds=[0], out=tmp_path / "lab.md", budget=BUDGET,
                protocols=FULL, checkpoints=tmp_path / "ck", **QUIET)
    saved = json.loads((tmp_path / "lab.json").read_text())
    fig = plot_curve(saved, horizon=8)
    left, right = fig.axes
    assert "H = 8" in fig._suptitle.get_text() and "1 seed" in fig._suptitle.get_text()
    assert "zoomed" in left.get_ylabel() and "SimMTM − random" in right.get_xlabel()
    assert [t.get_text() for t in right.get_yticklabels()] == ["100 %", "50 %"]
    with pytest.raises(ValueError, match="no rows at H = 96"):
        plot_curve(saved, horizon=96)
