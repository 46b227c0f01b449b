"""Faults a hostile or unlucky user causes, one test (or case) per kind of issue #28:

1. run folders held by one process (lock naming the holder's pid), unique temp names;
2. resume states that store their settings (a changed one refused), removed when a run finishes;
3. the first non-finite loss stops training (exit 2, nothing saved), non-finite arguments refused;
4. dates checked (out of order / repeated refused or repaired on request, gaps reported),
   benchmarks loaded exactly as before;
5. every user-caused failure one line with exit 2 (Ctrl-C: one line, exit 130);
6. early, named messages (corrupt records redone, convert names the file, horizons and output
   folders checked before training);
7. configs validate themselves (the Python API refuses what the CLI refuses, naming the field);
8. nothing half-written (no partial values.npy, no .tmp after a failed save).
"""
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import hourly_csv, interrupt_on_call, shared_file
from simmtm.utils import folderlock
from simmtm.utils.atomic import atomic_write_text, temp_path
from simmtm.build import build_forecaster, build_simmtm
from simmtm.training.checkpoint import save_checkpoint
from simmtm.cli import main
from simmtm.config import CNNConfig, SimMTMConfig, TransformerConfig, get_preset
from simmtm.data.dates import check_dates, future_dates, infer_step, repair_dates
from simmtm.data.forecasting import load_forecasting
from simmtm.training.resume import resume_path

ROOT = Path(__file__).resolve().parents[1]
Q = ["--device", "cpu", "--no-progress"]
TINY = ["--preset", "tiny", "--data", "ok.csv", "--seq-len", "32", *Q]
STUDY = ["study", *TINY, "--epochs", "1", "--finetune-epochs", "1", "--pred-len", "8", "--seeds", "0",
         "--pretrain-windows", "16", "--finetune-windows", "16", "--out", "res/t.md", "--checkpoints", "cks"]


def _csv(path, rows=400, channels=3, dates=None):
    return hourly_csv(path, rows, channels, dates=dates)


def _run(argv, capsys):
    """``main(argv)`` -> (exit code, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse
        code = stop.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
            "SIMMTM_DEBUG": "0"}


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIMMTM_DEBUG", raising=False)
    _csv(tmp_path / "ok.csv")
    return tmp_path


# --- 1. run folders: one process at a time, unique temp names ---------------------------------------

def test_a_second_study_on_a_held_folder_is_refused_and_the_records_stay_intact(work, capsys):
    code, _, err = _run(STUDY, capsys)
    assert code == 0, err
    before = _files(work / "res")
    assert any(name.startswith("t/unit=finetune") for name in before) and not (work / "res/t/.lock").exists()
    folderlock.acquire(work / "res" / "t")  # this process is "the first study", still running
    try:
        proc = subprocess.run([sys.executable, "-m", "simmtm", *STUDY], cwd=work, env=_env(), capture_output=True,
                              text=True, timeout=600)
    finally:
        folderlock.release(work / "res" / "t")
    assert proc.returncode == 2, proc.stderr
    line = _one_line(proc.stderr)
    assert f"res/t is in use by another simmtm run (pid {os.getpid()})" in line
    after = _files(work / "res")
    after.pop("t/.lock", None)
    assert after == before  # nothing redone, rewritten or half-written
    assert not (work / "res/t/.lock").exists()  # released


def test_the_lock_is_reentrant_in_a_process_and_freed_when_its_holder_dies(tmp_path):
    folder = tmp_path / "run"
    with folderlock.hold(folder):
        with folderlock.hold(folder):  # a sweep's study, a notebook re-running a study
            assert folderlock.holder_pid(folder) == os.getpid()
        assert (folder / ".lock").exists()
    assert not (folder / ".lock").exists()
    code = "import sys, os; from simmtm.utils import folderlock; folderlock.acquire(sys.argv[1]); os._exit(9)"
    subprocess.run([sys.executable, "-c", code, str(folder)], env=_env(), check=False, timeout=120)
    assert (folder / ".lock").exists()  # left by a killed process, but not locked any more
    with folderlock.hold(folder):
        assert folderlock.holder_pid(folder) == os.getpid()


def test_on_windows_the_lock_is_one_byte_past_the_pid_and_refuses_a_second_process(tmp_path, monkeypatch):
    locked = {}  # (file, offset) -> fd: a stand-in for Windows' byte-range locks

    class Msvcrt:
        LK_UNLCK, LK_NBLCK = 0, 2

        @staticmethod
        def locking(fd, mode, nbytes):
            where = (os.fstat(fd).st_ino, os.lseek(fd, 0, os.SEEK_CUR))
            if mode == Msvcrt.LK_UNLCK:
                del locked[where]
            elif where in locked:
                raise PermissionError(errno.EACCES, "Permission denied")
            else:
                locked[where] = fd

    monkeypatch.setattr(folderlock, "fcntl", None)
    monkeypatch.setattr(folderlock, "msvcrt", Msvcrt)
    folder = tmp_path / "run"
    folderlock.acquire(folder)
    assert [offset for _, offset in locked] == [folderlock.LOCK_BYTE]
    assert folderlock.holder_pid(folder) == os.getpid()  # the pid is outside the locked byte
    mine = folderlock._HELD.copy()
    folderlock._HELD.clear()  # now as another process would: holding nothing itself
    with pytest.raises(folderlock.FolderLockedError, match=f"pid {os.getpid()}"):
        folderlock.acquire(folder)
    folderlock._HELD.update(mine)
    folderlock.release(folder)
    assert not locked and not (folder / ".lock").exists()


def test_temp_names_are_unique_and_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "a.json"
    names = {temp_path(target).name for _ in range(50)}
    assert len(names) == 50 and all(n.startswith(f"a.json.{os.getpid()}.") and n.endswith(".tmp") for n in names)
    atomic_write_text(target, "old")

    def fail(f):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    from simmtm.utils.atomic import atomic_write

    with pytest.raises(OSError, match=r"cannot write .*a\.json: no space left on device; nothing was written"):
        atomic_write(target, fail)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


# --- 2. resume: settings stored and compared; a finished run leaves no state -------------------------

PRETRAIN = ["pretrain", *TINY, "--epochs", "3", "--out", "ck/p.pt"]


def _interrupt_after_first_epoch(monkeypatch):
    import simmtm.training.pretraining as pretraining

    real, _ = interrupt_on_call(monkeypatch, pretraining, "pretrain_one_epoch", 2)  # Ctrl-C during epoch 1
    return lambda: monkeypatch.setattr(pretraining, "pretrain_one_epoch", real)


def test_resume_with_other_settings_is_refused_naming_each_difference(work, capsys, monkeypatch):
    undo = _interrupt_after_first_epoch(monkeypatch)
    code, _, err = _run(PRETRAIN, capsys)
    undo()
    assert code == 130
    assert _one_line(err) == ("simmtm: interrupted; rerun the same command with --resume to continue after the last "
                              "finished epoch")
    state = resume_path(work / "ck/p.pt")
    assert state.is_file() and not (work / "ck/p.pt").exists()
    saved = state.read_bytes()
    for extra, expected in [(["--lr", "0.1", "--mask-ratio", "0.3"], ["lr: 0.001 saved, 0.1 now",
                                                                       "mask_ratio: 0.5 saved, 0.3 now"]),
                            (["--patch-len", "2"], ["patch_len: 1 saved, 2 now"]),
                            (["--features", "S"], ["n_channels: 3 saved, 1 now"])]:
        code, _, err = _run([*PRETRAIN, "--resume", *extra], capsys)
        line = _one_line(err)
        assert code == 2 and "belongs to a run with other settings" in line
        assert all(e in line for e in expected), line
        assert state.read_bytes() == saved and not (work / "ck/p.pt").exists()  # nothing touched
    code, out, err = _run([*PRETRAIN, "--resume"], capsys)
    assert code == 0 and "resuming after epoch 0" in out, err
    assert (work / "ck/p.pt").is_file() and not state.exists() and not list((work / "ck").glob("*.prev.pt"))
    code, _, err = _run([*PRETRAIN, "--resume"], capsys)  # nothing left to resume
    assert code == 2 and "is a finished run (no resume state is left): nothing to resume" in _one_line(err)


def test_finetune_resume_reports_finished_horizons_from_their_checkpoints(work, capsys):
    argv = ["finetune", *TINY, "--epochs", "1", "--pred-len", "8", "--out", "ft"]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    first = next(line for line in out.splitlines() if line.startswith("ok H=8 (random): test MSE"))
    assert not resume_path(work / "ft/ok_H8_random.pt").exists()
    code, out, err = _run([*argv, "--resume"], capsys)
    assert code == 0, err
    mse = first.split("test MSE ")[1].split(" ")[0]
    assert f"ok H=8 (random): finished before: test MSE {mse}" in out


# --- 3. non-finite training stops at once; non-finite arguments refused ------------------------------

def test_a_diverging_run_stops_with_exit_2_and_keeps_the_good_checkpoint(work, capsys):
    code, _, err = _run(["pretrain", *TINY, "--epochs", "1", "--out", "ck/p.pt"], capsys)
    assert code == 0, err
    good = (work / "ck/p.pt").read_bytes()
    code, _, err = _run(["pretrain", *TINY, "--epochs", "2", "--lr", "1e38", "--out", "ck/p.pt"], capsys)
    line = _one_line(err)
    assert code == 2 and "non-finite loss (nan) at epoch 0, step 1 (lr 1e+38)" in line and "nothing was saved" in line
    assert (work / "ck/p.pt").read_bytes() == good  # never overwritten with NaN weights
    assert not resume_path(work / "ck/p.pt").exists() and not list(work.rglob("*.tmp"))
    code, _, err = _run(["pretrain", *TINY, "--lr", "inf"], capsys)
    assert code == 2 and "argument --lr: must be a finite number > 0, got inf" in _one_line(err)


def test_the_deferred_guard_reports_the_first_bad_step():
    from simmtm.training.engine import FiniteGuard, NonFiniteLossError

    guard = FiniteGuard(torch.device("cpu"))
    guard.immediate = False  # the accelerator path: no host sync per step
    for step, loss in enumerate([1.0, 2.0, float("inf"), float("nan"), 3.0]):
        guard.check(step, torch.tensor(loss))
    with pytest.raises(NonFiniteLossError, match="non-finite loss at step 2"):
        guard.flush()
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(inf\) at step 0"):
        FiniteGuard(torch.device("cpu")).check(0, torch.tensor(float("inf")))


def test_nan_weights_are_never_written(tmp_path):
    cfg = get_preset("tiny", seq_len=32, n_channels=2)
    model = build_simmtm(cfg)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="refused to write .*are not finite"):
        save_checkpoint(tmp_path / "nan.pt", model, cfg)
    assert not list(tmp_path.iterdir())


# --- 4. dates --------------------------------------------------------------------------------------

def test_check_dates_against_a_hand_computed_reference():
    stamps = ["2021-01-01 00:00", "2021-01-01 01:00", "2021-01-01 03:00", "2021-01-01 02:00", "2021-01-01 02:00",
              "2021-01-01 06:00"]
    r = check_dates(stamps)
    # differences 1h, 2h, -1h, 0, 4h: row 3 goes back in time, row 4 repeats row 3; in time order the
    # distinct stamps are 0, 1, 2, 3, 6 h: step 1 h, one gap of 3 h before row 5.
    assert (r.first_unsorted, r.n_unsorted, r.first_duplicate, r.duplicate_of, r.n_duplicates) == (3, 1, 4, 3, 1)
    assert r.step == pd.Timedelta("1h") and r.frequency == "h"
    assert (r.n_gaps, r.largest_gap, r.largest_gap_at) == (1, pd.Timedelta("3h"), 5)
    assert r.problem(stamps).startswith("1 row(s) out of time order, the first row 3 (2021-01-01 02:00:00) (line 5)")
    fixed, _ = repair_dates(pd.DataFrame({"date": stamps, "v": range(6)}))
    assert fixed["v"].tolist() == [0, 1, 3, 2, 5] and check_dates(fixed["date"]).in_order
    assert infer_step(["2021-01-01", "2021-01-02", "2021-01-04"]) == pd.Timedelta("1D")
    assert list(future_dates(stamps[:2], 2).astype(str)) == ["2021-01-01 02:00:00", "2021-01-01 03:00:00"]
    with pytest.raises(ValueError, match=r"row 1 \(line 3\) is not a time stamp: 'soon'"):
        check_dates(["2021-01-01", "soon"])


def test_a_user_csv_with_shuffled_or_repeated_dates_is_refused_or_repaired_on_request(work, capsys):
    dates = pd.date_range("2021-01-01", periods=400, freq="h").astype(str).tolist()
    shuffled = dates[:]
    shuffled[100], shuffled[101] = shuffled[101], shuffled[100]
    frame = _csv(work / "shuffled.csv", dates=shuffled)
    repeated = dates[:]
    repeated[50] = repeated[49]
    _csv(work / "repeated.csv", dates=repeated)
    argv = ["pretrain", "--preset", "tiny", "--seq-len", "32", "--epochs", "1", *Q]
    code, _, err = _run([*argv, "--data", "shuffled.csv"], capsys)
    line = _one_line(err)
    assert code == 2 and "the first row 101 (2021-01-05 04:00:00) (line 103) is earlier than the row before it" in line
    assert "--repair-dates" in line
    code, _, err = _run([*argv, "--data", "repeated.csv"], capsys)
    assert code == 2 and "the first row 50 (2021-01-03 01:00:00) (line 52) repeats row 49" in _one_line(err)
    assert not (work / "checkpoints").exists()
    logs = []
    data = load_forecasting(work / "shuffled.csv", seq_len=32, dates="repair", log=logs.append)
    expected = frame.sort_values("date", kind="stable").drop(columns="date").to_numpy()
    assert np.allclose(data.inverse_transform(data.values), expected, atol=1e-4)
    assert "repaired: sorted by time, 0 repeated row(s) dropped" in logs[0]
    code, out, err = _run([*argv, "--data", "repeated.csv", "--repair-dates", "--out", "ck/r.pt"], capsys)
    assert code == 0 and "1 repeated row(s) dropped" in out, err


def test_gaps_are_reported_not_refused_and_a_csv_without_dates_is_allowed(work):
    dates = pd.date_range("2021-01-01", periods=420, freq="h").astype(str).tolist()
    gappy = dates[:200] + dates[205:210] + dates[230:]  # gaps of 6 h and 21 h
    _csv(work / "gaps.csv", rows=len(gappy), dates=gappy)
    logs = []
    load_forecasting(work / "gaps.csv", seq_len=32, log=logs.append)
    assert logs == ["[data] " + str(work / "gaps.csv") + ": 2 gap(s) in the h time stamps, the largest 21:00:00 "
                    "before row 205 (line 207) (kept)"]
    frame = _csv(work / "nodates.csv", dates=False)
    data = load_forecasting(work / "nodates.csv", seq_len=32, log=logs.append)
    assert np.allclose(data.inverse_transform(data.values), frame.to_numpy(), atol=1e-4)
    assert "no 'date' column: rows taken in file order" in logs[-1]


# sha256 (first 16 hex digits) of the scaled values and of mean+std, as loaded BEFORE the date checks
# existed (commit 1230785): the named benchmarks must load exactly as they did.
BENCHMARKS = {"ETTm1": ("ETT-small/ETTm1.csv", "d066aee573ae9c20", "8d5c13f8beded19c"),
              "Weather": ("weather/weather.csv", "1c429b4fa7a25985", "9c315d4cfdf93c9a")}


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_named_benchmarks_load_exactly_as_before_and_say_what_they_tolerate(name):
    relative, values_sha, scaler_sha = BENCHMARKS[name]
    root = shared_file(relative).parents[1]
    logs = []
    data = load_forecasting(name, root, seq_len=336, log=logs.append)
    assert hashlib.sha256(np.ascontiguousarray(data.values).tobytes()).hexdigest()[:16] == values_sha
    assert hashlib.sha256(np.concatenate([data.mean, data.std]).tobytes()).hexdigest()[:16] == scaler_sha
    if name == "Weather":  # one repeated stamp and one gap upstream: said, tolerated
        assert len(logs) == 1 and "1 repeated time stamp(s), the first row 19044 (2020-05-12 06:00:00)" in logs[0]
        assert "kept as published" in logs[0] and "1 gap(s) in the 10min time stamps, the largest 01:40:00" in logs[0]
    else:
        assert logs == []


# --- 5, 6, 8. one line, exit 2, early, nothing written ------------------------------------------------

@pytest.fixture
def bad_inputs(work):
    cfg = get_preset("tiny", seq_len=32, n_channels=3)
    save_checkpoint(work / "sim.pt", build_simmtm(cfg), cfg)
    blob = torch.load(work / "sim.pt", weights_only=True)

    def variant(name, **config):
        torch.save({**blob, "config": {**blob["config"], **config}}, work / name)

    variant("mismatch.pt", encoder={**blob["config"]["encoder"], "d_ff": 48})
    variant("negative.pt", encoder={**blob["config"]["encoder"], "d_model": -4})
    variant("field.pt", colour="red")
    (work / "empty.csv").write_bytes(b"")
    (work / "u16.csv").write_bytes("date,a\n2021-01-01,1\n".encode("utf-16"))
    (work / "bad.csv").write_text("date,a\n2021-01-01,1\n2021-01-02,x\n")
    (work / "afile").write_text("x")
    return work


CASES = {
    "weights not matching the config": (["finetune", *TINY, "--from", "mismatch.pt", "--pred-len", "8"],
                                        "mismatch.pt: its weights do not match its config (size mismatch for"),
    "negative size in a checkpoint": (["finetune", *TINY, "--from", "negative.pt", "--pred-len", "8"],
                                      "negative.pt: invalid config (d_model must be an integer >= 1, got -4)"),
    "unknown config field": (["finetune", *TINY, "--from", "field.pt", "--pred-len", "8"],
                             "field.pt: invalid config (unknown SimMTMConfig fields: ['colour'])"),
    "--device tpu7": (["pretrain", *TINY[:-3], "--device", "tpu7"], "unknown device 'tpu7'"),
    "--head-dropout 2": (["finetune", *TINY, "--head-dropout", "2"], "must be in [0, 1), got 2"),
    "negative size in a sweep variant": (["sweep", *TINY, "--pred-len", "8", "--variant", "base:", "--variant", "neg:d_model=-4"],
                                         "variant 'neg': d_model must be an integer >= 1, got -4"),
    "a horizon that does not fit": (["finetune", *TINY, "--pred-len", "8", "500"],
                                    "horizon 500 does not fit ok: its val split has 72 rows"),
    "a study horizon that does not fit": ([*STUDY[:-6], "--pred-len", "8", "500"], "horizon 500 does not fit"),
    "--checkpoints is a file": ([*STUDY, "--checkpoints", "afile"], "cannot write into afile: it is a file"),
    "convert an empty file": (["convert", "empty.csv", "out"], "empty.csv: no rows (the file is empty)"),
    "convert a UTF-16 file": (["convert", "u16.csv", "out"], "u16.csv is UTF-16 text; save it as UTF-8"),
    "convert a bad value": (["convert", "bad.csv", "out"], "bad.csv: missing or non-numeric value at data row 1"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_user_failures_are_one_line_exit_2_before_any_work_and_leave_nothing(case, bad_inputs, capsys):
    argv, expected = CASES[case]
    before = _files(bad_inputs)
    code, _, err = _run(argv, capsys)
    line = _one_line(err)
    assert code == 2 and line.startswith("simmtm: error: ") and expected in line, line
    assert _files(bad_inputs) == before  # nothing written, half or whole (no values.npy, no folder)


def test_a_full_disk_during_save_is_one_line_and_leaves_no_temp_file(work, capsys, monkeypatch):
    real = torch.save

    def full_disk(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    code, _, err = _run(["pretrain", *TINY, "--epochs", "1", "--out", "ck/p.pt"], capsys)
    monkeypatch.setattr(torch, "save", real)
    line = _one_line(err)
    assert code == 2 and "p.resume.pt: no space left on device; nothing was written" in line
    assert not list(work.rglob("*.tmp")) and not (work / "ck/p.pt").exists()


def test_ctrl_c_is_one_line_and_exit_130(work):
    argv = [sys.executable, "-m", "simmtm", "pretrain", *TINY, "--epochs", "1000", "--out", "ck/p.pt"]
    proc = subprocess.Popen(argv, cwd=work, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stdout:  # wait until epoch 0's resume state is surely written
            if "epoch 1:" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert _one_line(err) == ("simmtm: interrupted; rerun the same command with --resume to continue after the last "
                              "finished epoch")
    assert resume_path(work / "ck/p.pt").is_file() and not list(work.rglob("*.tmp"))


def test_a_corrupt_study_record_is_named_and_redone(work, capsys):
    code, _, err = _run(STUDY, capsys)
    assert code == 0, err
    record = work / "res/t/unit=finetune,seed=0,horizon=8,init=random_init.json"
    first = json.loads(record.read_text())
    record.write_text(record.read_text()[:100])  # a kill mid-copy, a bad sync...
    code, out, err = _run(STUDY, capsys)
    assert code == 0, err
    assert f"corrupt record {record.relative_to(work)} (" in err and "its unit is redone" in err
    redone = json.loads(record.read_text())
    assert redone["key"] == first["key"] and redone["test"] == first["test"]  # the same unit, run again
    assert record.with_name(record.name + ".corrupt").is_file()
    assert "seed 0 H=8 random init" in out and "seed 0 H=8 SimMTM" not in out  # only that unit redone


def test_a_corrupt_pretrained_checkpoint_in_a_study_is_named_and_its_pretraining_redone(work, capsys):
    code, _, err = _run(STUDY, capsys)
    assert code == 0, err
    checkpoint = work / "cks/t/pretrain_seed0.pt"
    record = json.loads((work / "res/t/unit=pretrain,seed=0.json").read_text())
    (work / "res/t/unit=finetune,seed=0,horizon=8,init=SimMTM.json").unlink()  # a unit that needs the encoder
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    code, out, err = _run(STUDY, capsys)
    assert code == 0, err
    assert f"[study] {checkpoint.relative_to(work)} is unreadable (corrupt or not a simmtm checkpoint" in out
    assert "that pre-training is redone" in out
    redone = json.loads((work / "res/t/unit=pretrain,seed=0.json").read_text())
    assert redone["weights_sha256"] == record["weights_sha256"]  # the same pre-training, made again


def test_ctrl_c_in_a_study_says_finished_units_are_kept(work, capsys, monkeypatch):
    import simmtm.forecasting.training as forecasting

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(forecasting, "finetune", interrupted)
    code, _, err = _run(STUDY, capsys)
    assert code == 130
    assert _one_line(err) == "simmtm: interrupted; rerun the same command to resume (finished units are kept)"
    assert (work / "res/t/unit=pretrain,seed=0.json").is_file() and not (work / "res/t/.lock").exists()


# --- 7. configs validate themselves ------------------------------------------------------------------

@pytest.mark.parametrize("make,message", [
    (lambda: TransformerConfig(d_model=-4), "d_model must be an integer >= 1, got -4"),
    (lambda: get_preset("tiny", seq_len=0), "seq_len must be an integer >= 1, got 0"),
    (lambda: get_preset("tiny", n_channels=0), "n_channels must be an integer >= 1, got 0"),
    (lambda: TransformerConfig(dropout=2.0), "dropout must be a finite number >= 0 and < 1, got 2.0"),
    (lambda: get_preset("tiny", lr=float("inf")), "lr must be a finite number > 0, got inf"),
    (lambda: get_preset("tiny", mask_ratio=1.0), "mask_ratio must be a finite number > 0 and < 1, got 1.0"),
    (lambda: TransformerConfig(d_model=30, n_heads=8), "d_model (30) must be a multiple of n_heads (8)"),
    (lambda: get_preset("ETTm1-cpu", seq_len=100), "seq_len (100) must be a multiple of patch_len (16)"),
    (lambda: CNNConfig(strides=(1, 1)), "strides must be a non-empty tuple of 3 integers"),
    (lambda: get_preset("tiny", method="bert"), "method must be one of"),
    (lambda: build_forecaster(get_preset("tiny", seq_len=32, n_channels=2), 0), "horizon must be an integer >= 1, got 0"),
    (lambda: SimMTMConfig.from_dict({**get_preset("tiny").to_dict(), "encoder": {"kind": "transformer", "width": 3}}),
     "unknown TransformerConfig fields: ['width']"),
])
def test_configs_refuse_bad_values_naming_the_field(make, message):
    with pytest.raises(ValueError) as err:
        make()
    assert message in str(err.value)


def test_every_preset_is_valid_and_round_trips():
    from simmtm.config import PRESETS

    for cfg in PRESETS.values():
        assert SimMTMConfig.from_dict(cfg.to_dict()) == cfg
        assert replace(cfg, epochs=1).epochs == 1
