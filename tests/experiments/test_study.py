"""Resumable forecasting studies: records per unit, a killed study re-run skips what finished
and ends with the records of an unbroken one; the recipe sweep never evaluates the test split."""
import json
from dataclasses import replace

import pytest

import simmtm.forecasting.training as forecasting
from simmtm.config import get_preset
from simmtm.data.forecasting import load_forecasting
from simmtm.experiments.forecasting import render_table, run_folder, strip_timing, study, sweep
from simmtm.training.recipes import StudyBudget, apply_overrides
from simmtm.experiments.records import RecordStore

from conftest import hourly_csv, interrupt_on_call, tiny_patch_cfg

BUDGET = StudyBudget(pretrain_epochs=2, pretrain_windows=48, finetune_epochs=2, finetune_windows=48, lr=1e-3,
                     batch_size=16, patience=2)
QUIET = dict(device="cpu", progress=False, log=lambda *a: None)


def same(records):
    """Records without wall times and without the checkpoint path (each run writes its own folder)."""
    return [{k: v for k, v in r.items() if k != "checkpoint"} for r in strip_timing(records)]


def _data(tmp_path, name, n_channels, seed):
    hourly_csv(tmp_path / f"{name}.csv", 700, n_channels, seed=seed)
    return load_forecasting(tmp_path / f"{name}.csv", seq_len=32)


@pytest.fixture
def setup(tmp_path):
    return tiny_patch_cfg(), _data(tmp_path, "src", 3, 0), _data(tmp_path, "dst", 2, 1)


def _run(cfg, src, dst, root, **kw):
    return study(cfg, src, dst, [8, 12], [0, 1], out=root / "t.md", budget=BUDGET, checkpoints=root / "ck", **QUIET, **kw)


def test_killed_study_resumes_to_the_unbroken_records(setup, tmp_path, monkeypatch):
    cfg, src, dst = setup
    unbroken = _run(cfg, src, dst, tmp_path / "a")
    assert len([r for r in unbroken if r["key"]["unit"] == "finetune"]) == 8
    assert len([r for r in unbroken if r["key"]["unit"] == "pretrain"]) == 2

    # Kill the second run during its fifth fine-tuning unit (seed 1's first), after seed 1's pre-training.
    real, calls = interrupt_on_call(monkeypatch, forecasting, "finetune", 5)
    with pytest.raises(KeyboardInterrupt):
        _run(cfg, src, dst, tmp_path / "b")
    store = RecordStore(run_folder(tmp_path / "b" / "t.md"))
    assert len(store.records(unit="finetune")) == 4 and len(store.records(unit="pretrain")) == 2

    # The re-run skips the four finished units and both pre-trainings, and ends where the unbroken run did.
    calls.clear()
    monkeypatch.setattr(forecasting, "finetune", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    monkeypatch.setattr(forecasting, "pretrain", lambda *a, **k: pytest.fail("a finished pre-training ran again"))
    resumed = _run(cfg, src, dst, tmp_path / "b")
    assert len(calls) == 4
    assert same(resumed) == same(unbroken)
    table = (tmp_path / "b" / "t.md").read_text()
    assert "### src -> dst" in table and "| 8 | " in table and "| 12 | " in table
    saved = json.loads((tmp_path / "b" / "t.json").read_text())
    assert render_table(saved["settings"], saved["records"]) == table  # the table is rebuilt from records alone


def test_interrupted_pretraining_resumes_exactly(setup, tmp_path, monkeypatch):
    cfg, src, dst = setup
    unbroken = study(cfg, src, dst, [8], [0], out=tmp_path / "a" / "t.md", budget=BUDGET, checkpoints=tmp_path / "a" / "ck",
                     inits=("SimMTM",), **QUIET)
    # Stop pre-training after its first epoch: the resume state is on disk, no record yet.
    import simmtm.training.pretraining as pretraining

    real_fit = pretraining.fit

    def one_epoch_then_die(*args, on_state=None, **kwargs):
        def save_then_die(state):
            on_state(state)
            raise KeyboardInterrupt
        return real_fit(*args, on_state=save_then_die, **kwargs)

    monkeypatch.setattr(pretraining, "fit", one_epoch_then_die)
    with pytest.raises(KeyboardInterrupt):
        study(cfg, src, dst, [8], [0], out=tmp_path / "b" / "t.md", budget=BUDGET, checkpoints=tmp_path / "b" / "ck",
              inits=("SimMTM",), **QUIET)
    assert (tmp_path / "b" / "ck" / "t" / "pretrain_seed0.resume.pt").is_file()
    assert not RecordStore(tmp_path / "b" / "t").records()
    monkeypatch.setattr(pretraining, "fit", real_fit)
    resumed = study(cfg, src, dst, [8], [0], out=tmp_path / "b" / "t.md", budget=BUDGET, checkpoints=tmp_path / "b" / "ck",
                    inits=("SimMTM",), **QUIET)
    assert same(resumed) == same(unbroken)  # same history, same weights, same fine-tuning result


def test_other_settings_in_the_same_folder_are_refused(setup, tmp_path):
    cfg, src, dst = setup
    study(cfg, src, dst, [8], [0], out=tmp_path / "t.md", budget=BUDGET, checkpoints=tmp_path / "ck",
          inits=("random init",), **QUIET)
    with pytest.raises(ValueError, match="other settings \\(budget differ\\)"):
        study(cfg, src, dst, [8], [0], out=tmp_path / "t.md", budget=replace(BUDGET, lr=1e-2),
              checkpoints=tmp_path / "ck", inits=("random init",), **QUIET)
    with pytest.raises(ValueError, match="inits must be"):
        study(cfg, src, dst, [8], [0], out=tmp_path / "t.md", budget=BUDGET, inits=("nope",), **QUIET)


def test_a_fine_tuning_variant_reuses_the_pretraining_of_another_study(setup, tmp_path, monkeypatch):
    import simmtm.training.pretraining as pretraining

    cfg, src, dst = setup
    first = study(cfg, src, dst, [8], [0], out=tmp_path / "t.md", budget=BUDGET, checkpoints=tmp_path / "ck",
                  inits=("SimMTM",), **QUIET)
    monkeypatch.setattr(pretraining, "fit", lambda *a, **k: pytest.fail("the shared pre-training ran again"))
    other = study(cfg, src, dst, [8], [0], out=tmp_path / "lr.md", budget=replace(BUDGET, lr=BUDGET.lr / 2),
                  checkpoints=tmp_path / "ck", inits=("SimMTM",), pretrained_from=tmp_path / "t.md", **QUIET)
    assert [r["key"]["unit"] for r in other] == ["finetune"]  # no pre-training record of its own
    ft = lambda rs: next(r for r in rs if r["key"]["unit"] == "finetune")  # noqa: E731
    assert ft(other)["val_mse"] != ft(first)["val_mse"]  # another fine-tuning from the same encoder
    assert "(the pre-training units of" in (tmp_path / "lr.md").read_text()
    with pytest.raises(ValueError, match="no finished pre-training of seed 1"):
        study(cfg, src, dst, [8], [1], out=tmp_path / "lr.md", budget=replace(BUDGET, lr=BUDGET.lr / 2),
              checkpoints=tmp_path / "ck", inits=("SimMTM",), pretrained_from=tmp_path / "t.md", **QUIET)
    with pytest.raises(ValueError, match="pre-trained with other settings"):
        study(cfg, src, dst, [8], [0], out=tmp_path / "e.md", budget=replace(BUDGET, pretrain_epochs=BUDGET.pretrain_epochs + 1),
              checkpoints=tmp_path / "ck", inits=("SimMTM",), pretrained_from=tmp_path / "t.md", **QUIET)


def test_random_init_units_are_copied_only_from_a_study_with_the_same_fine_tuning(setup, tmp_path, monkeypatch):
    cfg, src, dst = setup
    first = study(cfg, src, dst, [8], [0], out=tmp_path / "a.md", budget=BUDGET, checkpoints=tmp_path / "ck",
                  inits=("random init",), command="make-a", **QUIET)
    real, calls = forecasting.finetune, []
    monkeypatch.setattr(forecasting, "finetune", lambda *a, **k: (calls.append(k["encoder"] is None), real(*a, **k))[1])
    # another pre-training budget: the random-init unit is the same, so it is copied; SimMTM's is trained
    longer = replace(BUDGET, pretrain_epochs=BUDGET.pretrain_epochs + 1)
    got = study(cfg, src, dst, [8], [0], out=tmp_path / "b.md", budget=longer, checkpoints=tmp_path / "ck",
                units_from=[tmp_path / "a.md"], command="make-b", **QUIET)
    assert calls == [False]  # only SimMTM fine-tuned
    copied = next(r for r in got if r["key"]["unit"] == "finetune" and r["key"]["init"] == "random init")
    assert copied["copied_from"] == str(tmp_path / "a.md")
    assert strip_timing([{k: v for k, v in copied.items() if k != "copied_from"}]) == strip_timing(first)
    table = (tmp_path / "b.md").read_text()
    assert "Random-init units copied from studies with the same fine-tuning (1 of them" in table
    assert "`make-b`" in table and "make-a" not in table  # the copy is named by its study, not its command
    assert first[-1]["command"] == "make-a"
    # another fine-tuning lr: not copied, said in the log, trained
    said = []
    study(cfg, src, dst, [8], [0], out=tmp_path / "c.md", budget=replace(BUDGET, lr=BUDGET.lr / 2),
          checkpoints=tmp_path / "ck", inits=("random init",), units_from=[tmp_path / "a.md"], device="cpu",
          progress=False, log=said.append)
    assert calls == [False, True] and any("other settings; not copied" in line for line in said)
    with pytest.raises(ValueError, match="no study records"):
        study(cfg, src, dst, [8], [0], out=tmp_path / "d.md", budget=BUDGET, checkpoints=tmp_path / "ck",
              inits=("random init",), units_from=[tmp_path / "none.md"], **QUIET)


def test_sweep_selects_on_validation_and_never_tests(setup, tmp_path, monkeypatch):
    cfg, src, _ = setup
    real, seen = forecasting.finetune, []
    monkeypatch.setattr(forecasting, "finetune", lambda *a, **k: (seen.append(k["evaluate_test"]), real(*a, **k))[1])
    rows = sweep(cfg, src, {"base": {}, "p4": {"patch_len": 4}}, horizon=8, seed=0, out=tmp_path / "s.md",
                 budget=BUDGET, checkpoints=tmp_path / "ck", **QUIET)
    assert seen == [False, False]
    assert [r["val_mse"] for r in rows] == sorted(r["val_mse"] for r in rows)
    text = (tmp_path / "s.md").read_text()
    assert "test not evaluated" in text and "patch_len=4" in text and "test MSE" not in text


def test_apply_overrides_routes_each_name():
    cfg, budget = apply_overrides(get_preset("ETTm1"), StudyBudget(),
                                  {"patch_len": 8, "n_views": 2, "lr": 5e-4, "pretrain_lr": 2e-3})
    assert cfg.encoder.patch_len == 8 and cfg.n_views == 2 and cfg.lr == 2e-3 and budget.lr == 5e-4
    with pytest.raises(ValueError, match="unknown setting 'bogus'"):
        apply_overrides(get_preset("ETTm1"), StudyBudget(), {"bogus": 1})
    with pytest.raises(ValueError, match="Transformer settings"):
        apply_overrides(get_preset("Epilepsy"), StudyBudget(), {"patch_len": 8})
    with pytest.raises(ValueError, match="finetune_epochs must be an integer >= 1"):
        StudyBudget(finetune_epochs=0)
