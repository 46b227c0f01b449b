"""Exact resume of pre-training: an interrupted run continued with resume=True ends with the same
weights as an unbroken one; damaged state files give clear errors; torchrun restarts a killed worker."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from simmtm import get_preset
from simmtm.classification.training import pretrain
from simmtm.training.resume import load_resume_state, resume_path

CFG = get_preset("tiny", batch_size=8)  # transformer with dropout: exercises every random state
QUIET = dict(device="cpu", progress=False, log=lambda *_: None)


def _data():
    rng = np.random.default_rng(0)
    t = np.arange(32)[None, :, None]
    x = np.sin(2 * np.pi * t / rng.uniform(6, 16, (48, 1, 2))) + 0.1 * rng.normal(size=(48, 32, 2))
    return x[:40].astype(np.float32), x[40:].astype(np.float32)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class _Killed(Exception):
    """Stands for a kill: raised from the epoch log, after that epoch ran but before its state was saved."""


def _killed_at(epoch):
    def log(line):
        if f"epoch {epoch}:" in line:
            raise _Killed(line)
    return log


def test_interrupted_run_resumes_bit_for_bit(tmp_path):
    train, val = _data()
    whole, whole_fit = pretrain(CFG, train, val, epochs=3, checkpoint=tmp_path / "whole.pt", **QUIET)
    assert not resume_path(tmp_path / "whole.pt").exists()  # a finished run leaves no state to resume
    with pytest.raises(_Killed):  # killed during epoch 1
        pretrain(CFG, train, val, epochs=3, checkpoint=tmp_path / "part.pt", **{**QUIET, "log": _killed_at(1)})
    state = load_resume_state(resume_path(tmp_path / "part.pt"))
    assert state["loop"]["epoch"] == 0 and state["world_size"] == 1
    assert set(state["random"][0]) >= {"torch", "numpy", "python", "masks", "shuffle"}
    logs = []
    resumed, resumed_fit = pretrain(CFG, train, val, epochs=3, checkpoint=tmp_path / "part.pt", resume=True,
                                    device="cpu", progress=False, log=logs.append)
    assert any("resuming after epoch 0" in line for line in logs)
    assert [r["epoch"] for r in resumed_fit["history"]] == [0, 1, 2]
    assert resumed_fit["history"] == whole_fit["history"]
    assert resumed_fit["best_epoch"] == whole_fit["best_epoch"]
    assert _same_weights(resumed, whole)
    assert not resume_path(tmp_path / "part.pt").exists()


def test_a_finished_run_kept_as_final_state_extends_to_a_longer_run_bit_for_bit(tmp_path):
    from simmtm.classification.training import LabelledSeries
    from simmtm.training.pretraining import run_pretraining
    from simmtm.training.resume import final_state_path

    train, val = (LabelledSeries(x, np.zeros(len(x), dtype=np.int64)) for x in _data())
    cfg = get_preset("tiny", batch_size=8, seq_len=32, n_channels=2)
    run = lambda epochs, name, **kw: run_pretraining(cfg, train, val, epochs=epochs, checkpoint=tmp_path / name,
                                                     **{**QUIET, **kw})
    whole, whole_fit = run(3, "whole.pt")
    assert not final_state_path(tmp_path / "whole.pt").exists()  # kept only when asked
    run(1, "short.pt", keep_final_state=True)
    short = final_state_path(tmp_path / "short.pt")
    assert short.is_file() and not resume_path(tmp_path / "short.pt").exists()
    logs = []
    longer, longer_fit = run(3, "long.pt", extend_from=short, keep_final_state=True, log=logs.append)
    assert any("extending the finished 1-epoch run" in line for line in logs)
    assert longer_fit["history"] == whole_fit["history"] and longer_fit["best_epoch"] == whole_fit["best_epoch"]
    assert _same_weights(longer, whole)
    with pytest.raises(ValueError, match="only a longer run"):  # a 3-epoch state cannot make a 2-epoch run
        run(2, "x.pt", extend_from=final_state_path(tmp_path / "long.pt"))
    with pytest.raises(ValueError, match="other settings.*seed"):
        run(3, "y.pt", extend_from=short, seed=1)
    with pytest.raises(ValueError, match="checkpoint path"):
        run_pretraining(cfg, train, val, epochs=2, extend_from=short, **QUIET)
    run(1, "short.pt")  # the same run again without keeping: no stale final state stays beside it
    assert not short.exists()


def test_resume_without_state_starts_fresh_and_needs_a_checkpoint(tmp_path):
    train, val = _data()
    fresh, _ = pretrain(CFG, train, val, epochs=1, **QUIET)
    resumed, _ = pretrain(CFG, train, val, epochs=1, checkpoint=tmp_path / "new.pt", resume=True, **QUIET)
    assert _same_weights(fresh, resumed)
    with pytest.raises(ValueError, match="checkpoint path"):
        pretrain(CFG, train, val, epochs=1, resume=True, **QUIET)


def test_truncated_state_gives_a_clear_error_and_the_previous_one_loads(tmp_path):
    train, val = _data()
    with pytest.raises(_Killed):
        pretrain(CFG, train, val, epochs=3, checkpoint=tmp_path / "run.pt", **{**QUIET, "log": _killed_at(2)})
    path = resume_path(tmp_path / "run.pt")
    previous = path.with_name(path.stem + ".prev.pt")
    assert previous.is_file() and load_resume_state(previous)["loop"]["epoch"] == 0
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a kill mid-copy, a full disk...
    with pytest.raises(ValueError, match=r"truncated or corrupt.*previous state .*run\.resume\.prev\.pt"):
        load_resume_state(path)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        pretrain(CFG, train, val, epochs=3, checkpoint=tmp_path / "run.pt", resume=True, **QUIET)
    os.replace(previous, path)  # what the error message advises
    _, fit = pretrain(CFG, train, val, epochs=3, checkpoint=tmp_path / "run.pt", resume=True, **QUIET)
    assert [r["epoch"] for r in fit["history"]] == [0, 1, 2]


SCRIPT = """
import os, sys
import numpy as np
sys.path.insert(0, {root!r})
from simmtm import get_preset
from simmtm.classification.training import pretrain

data = np.load({data!r})
attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))

def log(line):
    print(line, flush=True)
    if attempt == 0 and line.startswith("[pretrain] epoch 1:"):
        os._exit(17)  # the worker dies after epoch 1 (before its state is saved)

pretrain(get_preset("tiny", batch_size=8), data["train"], data["val"], epochs=3, checkpoint={ckpt!r}, resume=True,
         device="cpu", progress=False, log=log)
print("attempt", attempt, "finished", flush=True)
"""


@pytest.mark.skipif(shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
                    reason="torchrun is not installed")
def test_torchrun_restarts_a_killed_worker_from_the_last_state(tmp_path):
    train, val = _data()
    np.savez(tmp_path / "data.npz", train=train, val=val)
    script = tmp_path / "job.py"
    root = str(Path(__file__).resolve().parents[2])
    script.write_text(textwrap.dedent(SCRIPT.format(root=root, data=str(tmp_path / "data.npz"),
                                                    ckpt=str(tmp_path / "job.pt"))))
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    proc = subprocess.run([torchrun, "--standalone", "--nproc_per_node=1", "--max-restarts=1", str(script)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "resuming after epoch 0" in proc.stdout and "attempt 1 finished" in proc.stdout
    whole, _ = pretrain(CFG, train, val, epochs=3, checkpoint=tmp_path / "whole.pt", **QUIET)
    from simmtm.training.checkpoint import load_simmtm

    restarted, _, _ = load_simmtm(tmp_path / "job.pt")
    assert _same_weights(restarted, whole)


def test_interrupted_forecasting_finetune_resumes_bit_for_bit(tmp_path):
    from simmtm.data import synthetic_multivariate
    from simmtm.data.forecasting import from_array
    from simmtm.forecasting.training import finetune

    data = from_array("syn", synthetic_multivariate(400, 2, seed=0), seq_len=32)
    cfg = get_preset("tiny", seq_len=32, n_channels=2, batch_size=8)  # dropout 0.1
    kw = dict(epochs=3, patience=5, lr=1e-3, batch_size=16, max_windows=64, **QUIET)
    whole = finetune(cfg, data, 8, checkpoint=tmp_path / "whole.pt", **kw)
    with pytest.raises(_Killed):
        finetune(cfg, data, 8, checkpoint=tmp_path / "part.pt", **{**kw, "log": _killed_at(1)})
    resumed = finetune(cfg, data, 8, checkpoint=tmp_path / "part.pt", resume=True, **kw)
    assert resumed["history"] == whole["history"] and resumed["test"] == whole["test"]
    assert _same_weights(resumed["model"], whole["model"])


def test_interrupted_classification_finetune_resumes_bit_for_bit(tmp_path):
    from simmtm.classification.training import finetune

    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 178, 1)).astype(np.float32)
    y = (x[:, :20, 0].mean(1) > 0).astype(np.int64)
    splits = {"train": (x[:40], y[:40]), "val": (x[40:50], y[40:50]), "test": (x[50:], y[50:])}
    cfg = get_preset("Epilepsy")  # CNN with dropout
    kw = dict(epochs=3, lr=1e-3, device="cpu", seed=3)
    whole = finetune(cfg, splits, checkpoint=tmp_path / "whole.pt", **kw)
    with pytest.raises(_Killed):
        finetune(cfg, splits, checkpoint=tmp_path / "part.pt", **{**kw, "log": _killed_at(1)})
    resumed = finetune(cfg, splits, checkpoint=tmp_path / "part.pt", resume=True, **kw)
    assert resumed["history"] == whole["history"] and resumed["test"] == whole["test"]
    assert _same_weights(resumed["model"], whole["model"])
