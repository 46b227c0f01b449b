"""Fine-tuning protocols: probing freezes the encoder (weights and BatchNorm statistics) for its
epochs and then trains it; the encoder-lr ratio reaches the optimizer's parameter groups; the
default is today's fine-tuning; a study with a protocol resumes and skips finished units; the
selection runs on validation only; errors name the field."""
import json

import numpy as np
import pytest
import torch

import simmtm.forecasting.training as forecasting
import simmtm.training.finetune as finetune_loop
from simmtm.build import build_forecaster
from simmtm.training.checkpoint import read_checkpoint
from simmtm.config import get_preset
from simmtm.data import synthetic_multivariate
from simmtm.data.forecasting import from_array, load_forecasting
from simmtm.training.engine import make_optimizer
from simmtm.experiments.forecasting import run_folder, strip_timing, study
from simmtm.training.recipes import StudyBudget
from simmtm.experiments.protocol_selection import protocol_table, select_protocols
from simmtm.experiments.records import RecordStore
from simmtm.training.protocols import PROTOCOLS, FinetuneProtocol, get_protocol, parameter_groups, training_view
from simmtm.training.resume import ResumeState, load_resume_state, previous_path, resume_path

from conftest import hourly_csv, interrupt_on_call, tiny_patch_cfg

QUIET = dict(device="cpu", progress=False, log=lambda *a: None)
TINY = PROTOCOLS["tiny"]  # one head epoch, encoder lr = 0.5 x the head's


def _encoder_state(state: dict) -> dict:
    return {k: v for k, v in state.items() if k.startswith("encoder.")}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _tiny():
    data = from_array("syn", synthetic_multivariate(400, 2, seed=0), seq_len=32)
    cfg = get_preset("tiny", seq_len=32, n_channels=2, batch_size=8)  # dropout 0.1
    return cfg, data


# --- the protocol itself ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, field", [
    ({"kind": "partial"}, "kind"),
    ({"kind": "probe-then-full", "head_epochs": -1}, "head_epochs"),
    ({"kind": "probe-then-full", "head_epochs": 1.5}, "head_epochs"),
    ({"kind": "probe-then-full", "head_epochs": 0}, "head_epochs"),
    ({"kind": "full", "head_epochs": 2}, "head_epochs"),
    ({"encoder_lr_ratio": 0.0}, "encoder_lr_ratio"),
    ({"encoder_lr_ratio": -0.1}, "encoder_lr_ratio"),
    ({"encoder_lr_ratio": float("nan")}, "encoder_lr_ratio"),
])
def test_validation_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        FinetuneProtocol(**kwargs)


def test_specs_presets_names_and_phases():
    p = get_protocol("probe-then-full,head_epochs=3,encoder_lr_ratio=0.3")
    assert p == FinetuneProtocol("probe-then-full", 3, 0.3) and p.name == "probe3-full-enc0.3"
    assert get_protocol("probe1") == FinetuneProtocol("probe-then-full", 1) and get_protocol(None).is_default
    assert get_protocol("full,encoder_lr_ratio=0.1") == PROTOCOLS["enc0.1"] and PROTOCOLS["enc0.1"].name == "full-enc0.1"
    assert [p.probing(e) for e in range(5)] == [True, True, True, False, False]
    assert p.total_epochs(10) == 13 and p.min_epochs(3) == 6 and FinetuneProtocol().min_epochs(3) == 0
    assert FinetuneProtocol.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="unknown protocol 'nope'"):
        get_protocol("nope")
    with pytest.raises(ValueError, match="head_epochs must be a number"):
        get_protocol("probe-then-full,head_epochs=x")
    with pytest.raises(ValueError, match="expected head_epochs=N or encoder_lr_ratio=R"):
        get_protocol("full,lr=3")


def test_the_encoder_lr_ratio_reaches_the_optimizer_parameter_groups():
    cfg, _ = _tiny()
    model = build_forecaster(cfg, 8)
    assert parameter_groups(model, 1e-3, FinetuneProtocol()) is None  # today's single group
    assert len(make_optimizer(model, 1e-3, groups=None).param_groups) == 1
    opt = make_optimizer(model, 1e-3, groups=parameter_groups(model, 1e-3, FinetuneProtocol(encoder_lr_ratio=0.1)))
    enc, head = opt.param_groups
    assert enc["name"] == "encoder" and enc["lr"] == pytest.approx(1e-4) and head["lr"] == 1e-3
    assert {id(p) for p in enc["params"]} == {id(p) for p in model.encoder.parameters()}
    assert {id(p) for p in head["params"]} == {id(p) for p in model.head.parameters()}


def test_a_probing_epoch_leaves_the_encoder_alone_and_a_full_epoch_trains_it():
    """One step of each phase by hand, dropout included: the probing view keeps the encoder in
    eval mode and without gradients; the next epoch's view trains it again."""
    cfg, _ = _tiny()
    model = build_forecaster(cfg, 8)
    opt = make_optimizer(model, 1e-2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(4, 32, 2), torch.randn(4, 8, 2)
    for epoch in (0, 1):
        view = training_view(model, TINY, epoch)
        view.train()
        assert model.encoder.training is (epoch == 1) and model.head.training
        opt.zero_grad()
        torch.nn.functional.mse_loss(view(x), y).backward()
        opt.step()
        after = model.state_dict()
        encoder_moved = not _same(_encoder_state(after), _encoder_state(before))
        assert encoder_moved is (epoch == 1)
        head = lambda state: {k: v for k, v in state.items() if k.startswith("head.")}  # noqa: E731
        assert head(after) and not _same(head(after), head(before))  # the head trains in both phases
        before = {k: v.clone() for k, v in after.items()}


# --- fine-tuning with a protocol ----------------------------------------------------------------------

def test_forecasting_probe_then_full_freezes_the_encoder_then_trains_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ResumeState, "finish", lambda self: None)  # keep the resume states to read the probe epoch
    """End to end: after the probing epoch (the resume state of epoch 0) the encoder is the
    pre-trained one bit for bit; after the full epoch it has moved. Both phases are recorded."""
    cfg, data = _tiny()
    pretrained = build_forecaster(cfg, 8).encoder  # stands for a pre-trained encoder
    start = {f"encoder.{k}": v.clone() for k, v in pretrained.state_dict().items()}
    out = finetune_tiny(cfg, data, pretrained, tmp_path / "ft.pt", protocol=FinetuneProtocol("probe-then-full", 1),
                        epochs=1, patience=5)
    assert len(out["history"]) == 2  # one head epoch on top of the one fine-tuning epoch
    after_probe = load_resume_state(previous_path(resume_path(tmp_path / "ft.pt")))
    after_full = load_resume_state(resume_path(tmp_path / "ft.pt"))
    assert after_probe["loop"]["epoch"] == 0 and after_full["loop"]["epoch"] == 1
    assert _same(_encoder_state(after_probe["model"]), start)
    assert not _same(_encoder_state(after_full["model"]), start)
    assert after_full["protocol"] == {"kind": "probe-then-full", "head_epochs": 1, "encoder_lr_ratio": 1.0}
    assert read_checkpoint(tmp_path / "ft.pt")["extra"]["protocol"]["head_epochs"] == 1


def finetune_tiny(cfg, data, encoder, checkpoint, **kw):
    return forecasting.finetune(cfg, data, 8, encoder=encoder, lr=1e-3, batch_size=16, max_windows=64,
                                checkpoint=checkpoint, **{**QUIET, **kw})


def test_forecasting_encoder_lr_ratio_is_in_the_saved_optimizer(tmp_path):
    cfg, data = _tiny()
    finetune_tiny(cfg, data, None, tmp_path / "ft.pt", protocol=FinetuneProtocol(encoder_lr_ratio=0.25), epochs=1)
    groups = read_checkpoint(tmp_path / "ft.pt")["optimizer"]["param_groups"]
    assert [(g["name"], g["lr"]) for g in groups] == [("encoder", 0.25e-3), ("head", 1e-3)]


def test_the_default_protocol_is_todays_fine_tuning(tmp_path):
    cfg, data = _tiny()
    default = finetune_tiny(cfg, data, None, None, epochs=2)
    explicit = finetune_tiny(cfg, data, None, None, epochs=2, protocol=get_protocol("full"))
    ratio_one = finetune_tiny(cfg, data, None, None, epochs=2, protocol=FinetuneProtocol(encoder_lr_ratio=0.5))
    assert default["history"] == explicit["history"] and default["test"] == explicit["test"]
    assert ratio_one["history"] != default["history"]  # the ratio changes training


def test_early_stopping_waits_for_the_full_phase(tmp_path, monkeypatch):
    """With patience 1 and a validation MSE that never improves after epoch 0, today's loop stops
    after epoch 1; with 3 head epochs it runs until the full phase has had its one epoch."""
    cfg, data = _tiny()
    scores = iter([1.0] + [2.0] * 20)
    monkeypatch.setattr(forecasting, "evaluate_forecaster", lambda *a, **k: {"mse": next(scores), "mae": 0.0})
    out = finetune_tiny(cfg, data, None, None, epochs=5, patience=1, evaluate_test=False,
                        protocol=FinetuneProtocol("probe-then-full", 3))
    assert len(out["history"]) == 4 and out["best_epoch"] == 0


def test_interrupted_probe_then_full_resumes_bit_for_bit_in_its_phase(tmp_path, monkeypatch):
    """Killed during the probing phase (epoch 1 of 2 head epochs): the re-run knows from the
    epoch that it is still probing and ends with the weights of an unbroken run."""
    cfg, data = _tiny()
    protocol = FinetuneProtocol("probe-then-full", 2, 0.5)
    encoder = build_forecaster(cfg, 8).encoder
    kw = dict(protocol=protocol, epochs=2, patience=5)
    whole = finetune_tiny(cfg, data, encoder, tmp_path / "whole.pt", **kw)
    real, _ = interrupt_on_call(monkeypatch, finetune_loop, "train_one_epoch", 2)
    with pytest.raises(KeyboardInterrupt):
        finetune_tiny(cfg, data, encoder, tmp_path / "part.pt", **kw)
    monkeypatch.setattr(finetune_loop, "train_one_epoch", real)
    resumed = finetune_tiny(cfg, data, encoder, tmp_path / "part.pt", resume=True, **kw)
    assert resumed["history"] == whole["history"] and resumed["test"] == whole["test"]
    assert _same(resumed["model"].state_dict(), whole["model"].state_dict())


def test_classification_probing_keeps_batchnorm_statistics_then_trains(tmp_path, monkeypatch):
    monkeypatch.setattr(ResumeState, "finish", lambda self: None)  # keep the resume states to read the probe epoch
    from simmtm.build import build_classifier
    from simmtm.classification.training import finetune

    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 178, 1)).astype(np.float32)
    y = (x[:, :20, 0].mean(1) > 0).astype(np.int64)
    splits = {"train": (x[:40], y[:40]), "val": (x[40:50], y[40:50]), "test": (x[50:], y[50:])}
    cfg = get_preset("Epilepsy")  # CNN with BatchNorm and dropout
    encoder = build_classifier(cfg, 2).encoder
    start = {f"encoder.{k}": v.clone() for k, v in encoder.state_dict().items()}
    assert any("running_mean" in k for k in start)
    finetune(cfg, splits, encoder=encoder, epochs=1, lr=1e-3, device="cpu", checkpoint=tmp_path / "c.pt",
             protocol=FinetuneProtocol("probe-then-full", 1, 0.5))
    after_probe = load_resume_state(previous_path(resume_path(tmp_path / "c.pt")))["model"]
    after_full = load_resume_state(resume_path(tmp_path / "c.pt"))["model"]
    assert _same(_encoder_state(after_probe), start)  # weights AND running statistics
    assert not _same(_encoder_state(after_full), start)
    with pytest.raises(ValueError, match="linear_probe"):
        finetune(cfg, splits, encoder=encoder, linear_probe=True, epochs=1, device="cpu", protocol=TINY)


# --- studies and the selection -----------------------------------------------------------------------

BUDGET = StudyBudget(pretrain_epochs=1, pretrain_windows=32, finetune_epochs=2, finetune_windows=48, lr=1e-3,
                     batch_size=16, patience=2)


@pytest.fixture
def setup(tmp_path):
    hourly_csv(tmp_path / "src.csv", 600, 2, columns=["a", "b"])
    return tiny_patch_cfg(), load_forecasting(tmp_path / "src.csv", seq_len=32)


def _study(cfg, data, root, **kw):
    return study(cfg, data, data, [8], [0, 1], out=root / "t.md", budget=BUDGET, checkpoints=root / "ck",
                 protocol=TINY, **QUIET, **kw)


def test_a_study_with_a_protocol_resumes_and_skips_finished_units(setup, tmp_path, monkeypatch):
    cfg, data = setup
    unbroken = _study(cfg, data, tmp_path / "a")
    def uses_the_protocol(*a, **k):
        assert k["protocol"] == TINY

    real, calls = interrupt_on_call(monkeypatch, forecasting, "finetune", 3, check=uses_the_protocol)
    with pytest.raises(KeyboardInterrupt):
        _study(cfg, data, tmp_path / "b")
    assert len(RecordStore(run_folder(tmp_path / "b" / "t.md")).records(unit="finetune")) == 2
    calls.clear()
    monkeypatch.setattr(forecasting, "finetune", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    resumed = _study(cfg, data, tmp_path / "b")
    assert len(calls) == 2  # only the two unfinished units ran
    strip = lambda rs: [{k: v for k, v in r.items() if k != "checkpoint"} for r in strip_timing(rs)]  # noqa: E731
    assert strip(resumed) == strip(unbroken)
    calls.clear()
    _study(cfg, data, tmp_path / "b")
    assert calls == []  # everything finished: nothing runs
    settings = json.loads((run_folder(tmp_path / "b" / "t.md") / "settings.json").read_text())
    assert settings["protocol"] == TINY.to_dict()
    assert "linear probing (1 head-only epoch(s)" in (tmp_path / "b" / "t.md").read_text()
    with pytest.raises(ValueError, match="protocol differ"):
        study(cfg, data, data, [8], [0], out=tmp_path / "b" / "t.md", budget=BUDGET, checkpoints=tmp_path / "b" / "ck",
              **QUIET)  # the default protocol into a folder made with another one


def test_a_default_study_keeps_the_settings_of_earlier_run_folders(setup, tmp_path):
    cfg, data = setup
    study(cfg, data, data, [8], [0], out=tmp_path / "t.md", budget=BUDGET, inits=("random init",),
          checkpoints=tmp_path / "ck", **QUIET)
    settings = json.loads((run_folder(tmp_path / "t.md") / "settings.json").read_text())
    assert "protocol" not in settings and "full fine-tuning, lr" in (tmp_path / "t.md").read_text()


def test_selection_runs_on_validation_shares_one_pretraining_and_resumes(setup, tmp_path, monkeypatch):
    import simmtm.training.pretraining as pretraining

    cfg, data = setup
    real, seen = forecasting.finetune, []
    monkeypatch.setattr(forecasting, "finetune",
                        lambda *a, **k: (seen.append((k["evaluate_test"], k["protocol"].name)), real(*a, **k))[1])
    protocols = {"full": PROTOCOLS["full"], "tiny": TINY}
    kw = dict(horizon=8, seeds=[0], out=tmp_path / "sel.md", budget=BUDGET, checkpoints=tmp_path / "ck", **QUIET)
    summary = select_protocols(cfg, data, data, protocols, **kw)
    assert {e for e, _ in seen} == {False} and len(seen) == 4  # 2 protocols x 2 inits, never the test split
    assert len(RecordStore(run_folder(protocol_table(tmp_path / "sel.md", "full"))).records(unit="pretrain")) == 1
    assert not RecordStore(run_folder(protocol_table(tmp_path / "sel.md", "tiny"))).records(unit="pretrain")
    for init in ("SimMTM", "random init"):
        rows = [r for r in summary["rows"] if r["init"] == init]
        assert summary["selected"][init] == min(rows, key=lambda r: r["mean"])["protocol"]
    text = (tmp_path / "sel.md").read_text()
    assert "test split is not evaluated" in text and "test MSE" not in text and "to run" not in text
    saved = json.loads((tmp_path / "sel.md").with_suffix(".json").read_text())
    assert saved["selected"] == summary["selected"] and saved["complete"]

    # A second seed: the finished units are skipped, seed 1 pre-trains once and serves both protocols.
    seen.clear()
    monkeypatch.setattr(pretraining, "fit", (lambda real_fit: (lambda *a, **k: (seen.append("pretrain"),
                                                                                real_fit(*a, **k))[1]))(pretraining.fit))
    select_protocols(cfg, data, data, protocols, **{**kw, "seeds": [0, 1]})
    assert seen.count("pretrain") == 1 and len(seen) == 5


def test_a_selection_copies_random_init_units_of_a_tested_study_without_their_test(setup, tmp_path, monkeypatch):
    cfg, data = setup
    kw = dict(budget=BUDGET, checkpoints=tmp_path / "ck", inits=("random init",), **QUIET)
    tested = study(cfg, data, data, [8], [0], out=tmp_path / "t.md", **kw)[-1]
    assert tested["test"] is not None
    real, seen = forecasting.finetune, []
    monkeypatch.setattr(forecasting, "finetune", lambda *a, **k: (seen.append(k["protocol"].name), real(*a, **k))[1])
    summary = select_protocols(cfg, data, data, {"full": PROTOCOLS["full"], "tiny": TINY}, horizon=8, seeds=[0],
                               out=tmp_path / "sel.md", units_from=[tmp_path / "t.md"], **kw)
    assert seen == [TINY.name]  # full's unit was copied, tiny's (another protocol) trained
    copied = RecordStore(run_folder(protocol_table(tmp_path / "sel.md", "full"))).records(unit="finetune")[0]
    assert copied["test"] is None and copied["copied_from"] == str(tmp_path / "t.md")
    assert copied["val_mse"] == tested["val_mse"] and copied["history"] == tested["history"]
    assert next(r["mean"] for r in summary["rows"] if r["protocol"] == "full") == pytest.approx(tested["val_mse"])
    assert "test MSE" not in (tmp_path / "sel.md").read_text()
    # the other way round: a study that tests does not take a unit that was never tested
    study(cfg, data, data, [8], [0], out=tmp_path / "t2.md", units_from=[protocol_table(tmp_path / "sel.md", "full")], **kw)
    assert seen == [TINY.name, "full"]


def test_an_unfinished_selection_marks_what_is_still_to_run(setup, tmp_path, monkeypatch):
    cfg, data = setup
    real = forecasting.finetune

    def dying(*a, **k):
        if k["protocol"].name != "full":
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(forecasting, "finetune", dying)
    with pytest.raises(KeyboardInterrupt):
        select_protocols(cfg, data, data, {"full": PROTOCOLS["full"], "tiny": TINY}, horizon=8, seeds=[0],
                         out=tmp_path / "sel.md", budget=BUDGET, inits=("random init",), checkpoints=tmp_path / "ck",
                         **QUIET)
    text = (tmp_path / "sel.md").read_text()
    assert "| tiny |" in text and "to run" in text and "selected **full**" in text


def test_cli_protocols_and_study_protocol(setup, tmp_path, capsys):
    from simmtm.cli import main

    common = ["--preset", "tiny", "--data", str(tmp_path / "src.csv"), "--seq-len", "32", "--epochs", "1",
              "--pretrain-windows", "32", "--finetune-windows", "32", "--finetune-epochs", "1", "--device", "cpu",
              "--no-progress", "--checkpoints", str(tmp_path / "ck")]
    assert main(["protocols", *common, "--pred-len", "8", "--protocols", "full", "p2=probe-then-full,head_epochs=2",
                 "--out", str(tmp_path / "sel.md")]) == 0
    assert "selected on validation" in capsys.readouterr().out
    saved = json.loads((tmp_path / "sel.json").read_text())
    assert [r["protocol"] for r in saved["rows"]] == ["full", "full", "p2", "p2"] and saved["complete"]
    assert all(r["epochs_run"]["0"] == 3 for r in saved["rows"] if r["protocol"] == "p2")  # 2 head + 1 full epoch
    before = (tmp_path / "sel.md").read_text()
    assert main(["protocols", *common, "--pred-len", "8", "--protocols", "full", "p2=probe-then-full,head_epochs=2",
                 "later=enc0.1", "--out", str(tmp_path / "sel.md"), "--report-only"]) == 0  # runs nothing
    after = (tmp_path / "sel.md").read_text()
    assert "| later |" in after and "to run" in after and before.split("| full |")[1][:40] in after
    assert not run_folder(protocol_table(tmp_path / "sel.md", "later")).exists()
    assert main(["study", *common, "--pred-len", "8", "--seeds", "0", "--inits", "random", "--protocol", "enc0.3",
                 "--out", str(tmp_path / "st.md")]) == 0
    records = RecordStore(run_folder(tmp_path / "st.md")).records(unit="finetune")
    assert [r["key"]["init"] for r in records] == ["random init"]
    assert main(["protocols", *common, "--pred-len", "8", "--seeds", "0", "--inits", "random", "--protocols", "enc0.3",
                 "--units-from", str(tmp_path / "st.md"), "--out", str(tmp_path / "sel2.md")]) == 0
    copied = RecordStore(run_folder(protocol_table(tmp_path / "sel2.md", "enc0.3"))).records(unit="finetune")
    assert [r["copied_from"] for r in copied] == [str(tmp_path / "st.md")] and copied[0]["test"] is None
    assert main(["study", *common, "--protocol", "probe-then-full,head_epochs=0", "--out", str(tmp_path / "x.md")]) == 2
    assert "head_epochs must be >= 1" in capsys.readouterr().err
    assert main(["protocols", *common, "--protocols", "bogus", "--out", str(tmp_path / "y.md")]) == 2
    assert "unknown protocol preset 'bogus'" in capsys.readouterr().err


def test_while_a_seed_runs_the_selection_uses_the_seeds_every_protocol_finished(tmp_path):
    from simmtm.experiments.protocol_selection import read_studies, summarise
    from simmtm.experiments.records import RecordStore

    protocols = {"full": PROTOCOLS["full"], "probe1": PROTOCOLS["probe1"]}
    done = {("full", 0): 0.30, ("full", 1): 0.40, ("probe1", 0): 0.32, ("probe1", 1): 0.36, ("full", 2): 0.10}
    for (name, seed), val in done.items():
        RecordStore(run_folder(protocol_table(tmp_path / "sel.md", name))).put(
            {"unit": "finetune", "seed": seed, "horizon": 8, "init": "random init"},
            {"val_mse": val, "best_epoch": 1, "epochs_run": 2, "seconds": 1.0})
    studies = read_studies(tmp_path / "sel.md", protocols, ["random init"])[2]
    s = summarise(studies, protocols, seeds=[0, 1, 2], inits=["random init"])
    # seed 2 is finished by full only: the choice is made over seeds 0 and 1 (full 0.35, probe1 0.34)
    assert s["selected"] == {"random init": "probe1"} and s["selected_over_seeds"] == {"random init": [0, 1]}
    assert not s["complete"]
    # a protocol with no finished seed yet is left out of the provisional choice; nothing finished: no choice
    assert summarise(studies, protocols, seeds=[2], inits=["random init"])["selected"] == {"random init": "full"}
    assert summarise(studies, protocols, seeds=[3], inits=["random init"])["selected"] == {"random init": None}


def test_the_selected_table_takes_each_init_from_the_study_of_its_selected_protocol(setup, tmp_path):
    from dataclasses import replace

    from simmtm.experiments.protocol_selection import selected_table

    cfg, data = setup
    run = lambda name, **kw: study(cfg, data, data, [8], [0], out=tmp_path / f"{name}.md",  # noqa: E731
                                   checkpoints=tmp_path / "ck", **QUIET, **{"budget": BUDGET, **kw})
    full = run("full")  # both inits, full fine-tuning
    tiny = run("tiny", inits=("random init",), protocol=TINY)
    rows = [{"protocol": "full", "init": "SimMTM", "spec": PROTOCOLS["full"].to_dict()},
            {"protocol": "tiny", "init": "random init", "spec": TINY.to_dict()}]
    (tmp_path / "sel.json").write_text(json.dumps({"selected": {"SimMTM": "full", "random init": "tiny"},
                                                   "rows": rows, "complete": True}))
    saved = selected_table(tmp_path / "both.md", tmp_path / "sel.md", [tmp_path / "full.md", tmp_path / "tiny.md"])
    ft = lambda rs, init: [r["val_mse"] for r in rs if r["key"]["unit"] == "finetune" and r["key"]["init"] == init]  # noqa: E731
    assert ft(saved["records"], "SimMTM") == ft(full, "SimMTM")
    assert ft(saved["records"], "random init") == ft(tiny, "random init") != ft(full, "random init")
    text = (tmp_path / "both.md").read_text()
    assert "(selected protocols)" in text and "random init: linear probing (1 head-only epoch(s)" in text
    with pytest.raises(ValueError, match="none of the tables fine-tuned random init"):
        selected_table(tmp_path / "x.md", tmp_path / "sel.md", [tmp_path / "full.md"])
    run("tiny_lr", inits=("random init",), protocol=TINY, budget=replace(BUDGET, lr=BUDGET.lr / 2))
    with pytest.raises(ValueError, match="other data, model or budget"):
        selected_table(tmp_path / "x.md", tmp_path / "sel.md", [tmp_path / "full.md", tmp_path / "tiny_lr.md"])


def test_a_run_over_part_of_the_grid_keeps_what_earlier_runs_recorded_in_the_table(setup, tmp_path):
    cfg, data = setup
    kw = dict(horizon=8, seeds=[0], out=tmp_path / "sel.md", budget=BUDGET, checkpoints=tmp_path / "ck", **QUIET)
    first = select_protocols(cfg, data, data, {"full": PROTOCOLS["full"], "tiny": TINY}, inits=("random init",), **kw)
    s = select_protocols(cfg, data, data, {"full": PROTOCOLS["full"]}, inits=("SimMTM",), **kw)  # part of the grid
    assert [(r["protocol"], r["init"]) for r in s["rows"]] == [
        ("full", "SimMTM"), ("full", "random init"), ("tiny", "SimMTM"), ("tiny", "random init")]
    assert s["selected"]["random init"] == first["selected"]["random init"] and s["selected"]["SimMTM"] == "full"
    tiny = next(r for r in first["rows"] if r["protocol"] == "tiny")["val_mse"][0]
    text = (tmp_path / "sel.md").read_text()
    assert f"| tiny | {TINY.describe()} | to run | {tiny:.4f} |" in text and "random init val MSE" in text
    assert json.loads((tmp_path / "sel.json").read_text())["inits"] == ["SimMTM", "random init"]
