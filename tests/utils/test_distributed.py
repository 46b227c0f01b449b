"""torch.distributed on the CPU (gloo, 2 processes on the loopback address).

Global similarity: 2 processes x batch b give the loss and gradients of 1 process x batch 2b on
the same data and masks. Local similarity (the official behaviour): each process computes what it
would alone, and DDP averages the gradients. The whole pre-training run under a torchrun-like
environment keeps the processes in step and writes one checkpoint.
"""
import os
import socket
import sys
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from simmtm.encoders import ChannelIndependentTransformer
from simmtm.heads import PointwiseDecoder
from simmtm.model import SimMTM
from simmtm.normalization import InstanceNorm

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")

B, L, C, M, WORLD = 3, 16, 2, 2, 2  # per-process batch, length, channels, views, processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _leave_group() -> None:
    """Leave the process group together: a barrier first (unless an error is on its way out), so
    that no process tears gloo down while the other still talks to it; that race once aborted a
    process with SIGABRT ("terminate called without an active exception") after its work was done."""
    if sys.exc_info()[0] is None:
        dist.monitored_barrier(timeout=timedelta(seconds=60))
    dist.destroy_process_group()


def _model(global_similarity: bool, chunk: int | None = None) -> SimMTM:
    torch.manual_seed(0)
    encoder = ChannelIndependentTransformer(d_model=8, n_heads=2, n_layers=1, d_ff=16, dropout=0.0)
    projector = nn.Sequential(nn.Flatten(), nn.Linear(L * 8, 16))  # no BatchNorm: SyncBatchNorm needs CUDA
    return SimMTM(encoder, projector, PointwiseDecoder(8, 1), n_views=M, norm=InstanceNorm(),
                  global_similarity=global_similarity, similarity_chunk=chunk)


def _data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(WORLD * B, L, C, generator=g)
    mask = (torch.rand((M + 1) * WORLD * B, L, C, generator=g) > 0.4).float()
    mask[:WORLD * B] = 1.0  # originals
    return x, mask


def _shard(x, mask, rank):
    """Process ``rank``'s series and, view by view, their masks (rows stay view-major)."""
    rows = torch.cat([torch.arange(v * WORLD * B + rank * B, v * WORLD * B + (rank + 1) * B) for v in range(M + 1)])
    return x[rank * B:(rank + 1) * B], mask[rows]


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters()}


def _worker(rank, port, mode, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        model = _model(mode.startswith("global"), chunk=5 if mode.endswith("chunked") else None)
        ddp = nn.parallel.DistributedDataParallel(model)
        x, mask = _shard(*_data(), rank)
        loss = ddp(x, mask=mask).loss
        loss.backward()  # DDP averages the gradients over processes
        mean_loss = loss.detach().clone()
        dist.all_reduce(mean_loss)
        torch.save({"loss": mean_loss / WORLD, "local_loss": loss.detach(), "grads": _grads(model)},
                   os.path.join(out, f"rank{rank}.pt"))
    finally:
        _leave_group()


def _spawn(mode, tmp_path):
    mp.spawn(_worker, args=(_free_port(), mode, str(tmp_path)), nprocs=WORLD, join=True)
    return [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]


@pytest.mark.parametrize("mode", ["global", "global-chunked"])
def test_global_similarity_equals_one_process_with_the_global_batch(tmp_path, mode):
    ranks = _spawn(mode, tmp_path)
    single = _model(global_similarity=True)  # in one process the flag changes nothing
    x, mask = _data()
    loss = single(x, mask=mask).loss
    loss.backward()
    for r in ranks:
        torch.testing.assert_close(r["loss"], loss.detach(), atol=1e-6, rtol=1e-5)
        for name, g in _grads(single).items():
            torch.testing.assert_close(r["grads"][name], g, atol=1e-6, rtol=1e-4, msg=name)


def test_local_similarity_is_each_process_on_its_own(tmp_path):
    ranks = _spawn("local", tmp_path)
    x, mask = _data()
    losses, grads = [], []
    for rank in range(WORLD):
        model = _model(global_similarity=False)
        loss = model(*_shard(x, mask, rank)[:1], mask=_shard(x, mask, rank)[1]).loss
        loss.backward()
        losses.append(loss.detach())
        grads.append(_grads(model))
        torch.testing.assert_close(ranks[rank]["local_loss"], loss.detach(), atol=1e-6, rtol=1e-5)
    whole = _model(global_similarity=False)
    whole(x, mask=mask).loss.backward()
    name = "projector.1.weight"
    assert not torch.allclose(ranks[0]["grads"][name], _grads(whole)[name], atol=1e-4)  # not the global batch
    for name in grads[0]:
        mean = sum(g[name] for g in grads) / WORLD
        torch.testing.assert_close(ranks[0]["grads"][name], mean, atol=1e-6, rtol=1e-4, msg=name)


def _torchrun_env(rank, port):
    """The environment torchrun gives process ``rank`` (simmtm joins the group from it)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(WORLD))


class _Killed(Exception):
    """Stands for a kill of every process right after the resume state of an epoch was saved."""


def _run_worker(rank, port, out, global_similarity, epochs=2, resume=False, name="run", killed_after=None):
    _torchrun_env(rank, port)
    import shutil

    from simmtm import get_preset
    from simmtm.classification.training import pretrain
    from simmtm.training.resume import ResumeState

    real_save = ResumeState.save

    def save(self, loop):  # keep a copy of each state (a finished run removes its own) and "kill" on request
        real_save(self, loop)
        if rank == 0:
            shutil.copy(self.path, os.path.join(out, f"{name}.state{loop['epoch']}.pt"))
        if loop["epoch"] == killed_after:
            raise _Killed

    ResumeState.save = save
    cfg = get_preset("tiny", batch_size=4, global_similarity=global_similarity)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 24, 2)).astype(np.float32)
    try:
        model, fit = pretrain(cfg, x[:34], x[34:], epochs=epochs, seed=5, checkpoint=os.path.join(out, f"{name}.pt"),
                              resume=resume, device="cpu", progress=False, log=lambda *_: None)
        torch.save({"state": model.state_dict(), "history": fit["history"]}, os.path.join(out, f"{name}{rank}.pt"))
    except _Killed:
        pass
    finally:
        ResumeState.save = real_save
        _leave_group()


@pytest.mark.parametrize("global_similarity", [False, True])
def test_pretraining_run_under_torchrun_environment(tmp_path, global_similarity):
    mp.spawn(_run_worker, args=(_free_port(), str(tmp_path), global_similarity), nprocs=WORLD, join=True)
    a, b = (torch.load(tmp_path / f"run{r}.pt") for r in range(WORLD))
    assert a["history"] == b["history"]  # metrics reduced across processes, identical everywhere
    weights = [k for k in a["state"] if "running_" not in k and "num_batches" not in k]  # BN statistics are per process
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in weights)  # DDP kept the weights in step
    assert np.isfinite([row["train_loss"] for row in a["history"]]).all()
    assert not (tmp_path / "run.resume.pt").exists()  # a finished run leaves no state to resume
    state = torch.load(tmp_path / "run.state1.pt", weights_only=True)  # the resume state holds tensors and plain values only
    assert state["world_size"] == WORLD and len(state["random"]) == WORLD
    assert not torch.equal(state["random"][0]["masks"], state["random"][1]["masks"])  # per-process streams
    assert (tmp_path / "run.pt").is_file()


def test_two_process_run_resumes_bit_for_bit(tmp_path):
    mp.spawn(_run_worker, args=(_free_port(), str(tmp_path), True, 3, False, "whole"), nprocs=WORLD, join=True)
    mp.spawn(_run_worker, args=(_free_port(), str(tmp_path), True, 3, False, "part", 0), nprocs=WORLD, join=True)
    assert (tmp_path / "part.resume.pt").is_file() and not (tmp_path / "part.pt").exists()  # killed after epoch 0
    (tmp_path / "part.state0.pt").unlink()
    mp.spawn(_run_worker, args=(_free_port(), str(tmp_path), True, 3, True, "part"), nprocs=WORLD, join=True)
    assert not (tmp_path / "part.state0.pt").exists() and (tmp_path / "part.state2.pt").is_file()  # resumed, not redone
    for r in range(WORLD):
        whole, part = torch.load(tmp_path / f"whole{r}.pt"), torch.load(tmp_path / f"part{r}.pt")
        assert part["history"] == whole["history"]
        assert all(torch.equal(part["state"][k], whole["state"][k]) for k in whole["state"])


def _classify_worker(rank, port, out):
    _torchrun_env(rank, port)
    from simmtm import get_preset
    from simmtm.classification.training import finetune
    from simmtm.data import synthetic_classification

    x, y = synthetic_classification(150, 128, 1, 2, seed=0)
    splits = {"train": (x[:60], y[:60]), "val": (x[60:80], y[60:80]), "test": (x[80:], y[80:])}
    try:
        result = finetune(get_preset("Epilepsy"), splits, epochs=3, batch_size=16, device="cpu")
        model = result["model"].eval()
        with torch.no_grad():
            accuracy = float((model(torch.as_tensor(x[80:])).argmax(1).numpy() == y[80:]).mean())
        torch.save({"test": result["test"], "accuracy": accuracy, "history": result["history"]},
                   os.path.join(out, f"cls{rank}.pt"))
    finally:
        _leave_group()


def test_classification_finetune_under_torchrun_environment(tmp_path):
    mp.spawn(_classify_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    a, b = (torch.load(tmp_path / f"cls{r}.pt") for r in range(WORLD))
    assert a["history"] == b["history"] and a["test"] == b["test"]
    assert a["test"]["accuracy"] == pytest.approx(a["accuracy"])  # over the whole test split, not one shard


def _finetune_worker(rank, port, out):
    _torchrun_env(rank, port)
    from simmtm import get_preset
    from simmtm.data.forecasting import from_array
    from simmtm.forecasting.training import finetune

    rng = np.random.default_rng(0)
    t = np.arange(700)[:, None]
    data = from_array("toy", (np.sin(t / 7 + np.arange(3)) + 0.1 * rng.normal(size=(700, 3))).astype(np.float32),
                      seq_len=24)
    cfg = get_preset("tiny", seq_len=24, n_channels=3)
    try:
        result = finetune(cfg, data, 8, epochs=2, batch_size=16, device="cpu", progress=False, log=lambda *_: None)
        model = result["model"].eval()
        se, count = 0.0, 0
        test = data.windows("test", 8, 24)
        with torch.no_grad():  # the whole test split in this process: what the sharded, reduced figure must equal
            for x, y in test:
                se += float(((model(x[None]) - y[None]) ** 2).sum())
                count += y.numel()
        torch.save({"test": result["test"], "full_mse": se / count, "history": result["history"]},
                   os.path.join(out, f"ft{rank}.pt"))
    finally:
        _leave_group()


def test_forecasting_finetune_under_torchrun_environment(tmp_path):
    mp.spawn(_finetune_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    a, b = (torch.load(tmp_path / f"ft{r}.pt") for r in range(WORLD))
    assert a["history"] == b["history"] and a["test"] == b["test"]
    assert a["test"]["mse"] == pytest.approx(a["full_mse"], rel=1e-5)  # sums over shards, not a mean of means


def test_torchrun_command_line_pretrain_and_finetune(tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    if not Path(torchrun).exists():
        pytest.skip("torchrun is not installed")
    rng = np.random.default_rng(0)
    t = np.arange(600)[:, None]
    values = np.sin(t / 9 + np.arange(3)) + 0.1 * rng.normal(size=(600, 3))
    csv = tmp_path / "toy.csv"
    lines = ["date,a,b,c"] + [f"2020-01-01 {i // 60:02d}:{i % 60:02d},{v[0]},{v[1]},{v[2]}" for i, v in enumerate(values)]
    csv.write_text("\n".join(lines) + "\n")
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    common = ["--preset", "tiny", "--data", str(csv), "--seq-len", "24", "--epochs", "1", "--max-windows", "96",
              "--device", "cpu", "--no-progress"]
    base = [torchrun, "--standalone", "--nproc_per_node=2", "-m", "simmtm"]
    pre = subprocess.run(base + ["pretrain", *common, "--global-similarity", "--out", str(tmp_path / "pre.pt")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert pre.returncode == 0, pre.stdout[-2000:] + pre.stderr[-3000:]
    assert pre.stdout.count("checkpoint:") == 1  # printed by process 0 only
    ft = subprocess.run(base + ["finetune", *common, "--from", str(tmp_path / "pre.pt"), "--pred-len", "8",
                                "--out", str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert ft.returncode == 0, ft.stdout[-2000:] + ft.stderr[-3000:]
    assert ft.stdout.count("test MSE") == 1 and (tmp_path / "toy_H8_pretrained.pt").is_file()
