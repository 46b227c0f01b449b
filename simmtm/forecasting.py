"""Forecasting experiments: pre-train SimMTM on one dataset, fine-tune on another (or the same)
for each horizon, evaluate on the test split once with the best-validation weights.

Metrics are MSE / MAE on the standardized scale, over every predicted value (the usual
benchmark protocol). :mod:`simmtm.experiments.forecasting` runs resumable studies on top.
"""
from __future__ import annotations

import copy
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Subset

from simmtm.build import build_forecaster
from simmtm.checkpoint import save_checkpoint
from simmtm.config import SimMTMConfig
from simmtm.data.forecasting import ForecastingData
from simmtm.distributed import data_parallel, rank, rank_seed, setup, shard, train_sampler, world_size
from simmtm.forecaster import ForecastSpec
from simmtm.engine import (evaluate_forecaster, fit, grad_scaler, make_loader, make_optimizer,
                           train_one_epoch)
from simmtm.pretraining import run_pretraining
from simmtm.protocols import FinetuneProtocol, parameter_groups, training_view
from simmtm.resume import ResumeState


def _subsample(ds, max_windows: int | None, seed: int):
    """At most ``max_windows`` windows, evenly spaced (a CPU budget knob; None keeps all)."""
    if max_windows is None or len(ds) <= max_windows:
        return ds
    return Subset(ds, np.linspace(0, len(ds) - 1, max_windows).round().astype(int).tolist())


def subset_size(fraction: float, n: int) -> int:
    """How many of ``n`` windows a share ``fraction`` in (0, 1] keeps: rounded, at least one."""
    return max(1, int(round(fraction * n)))


def nested_subset(n: int, k: int) -> list[int]:
    """``k`` of ``n`` positions, sorted: the first ``k`` of one fixed permutation (seed 0), so the
    subsets for growing ``k`` are nested and every seed and init sees the same ones."""
    if not 1 <= k <= n:
        raise ValueError(f"a subset of {k} windows out of {n}: need 1 <= k <= n")
    return sorted(np.random.default_rng(0).permutation(n)[:k].tolist())


def pretrain(cfg: SimMTMConfig, data: ForecastingData, *, device: str = "auto", epochs: int | None = None,
             amp_dtype: torch.dtype | None = None, max_windows: int | None = None, seed: int = 0,
             checkpoint: str | Path | None = None, resume: bool = False, progress: bool = True, log=print,
             compile: bool = False, extend_from: str | Path | None = None,
             keep_final_state: bool = False) -> tuple[nn.Module, dict]:
    """Pre-train SimMTM on the training windows of ``data``; keep the epoch with the lowest
    validation loss (masks on validation are drawn from a fixed seed). ``resume`` continues an
    interrupted run writing the same ``checkpoint``; ``keep_final_state`` / ``extend_from`` let a
    longer run start where a finished shorter one ended (:mod:`simmtm.pretraining`). Returns
    ``(model, fit result)``."""
    if cfg.n_channels != data.n_channels:
        cfg = replace(cfg, n_channels=data.n_channels)
    train = _subsample(data.windows("train", seq_len=cfg.seq_len), max_windows, seed)
    val = _subsample(data.windows("val", seq_len=cfg.seq_len), max_windows and max(max_windows // 4, 1), seed)
    return run_pretraining(cfg, train, val, device=device, epochs=epochs, amp_dtype=amp_dtype, seed=seed,
                           checkpoint=checkpoint, resume=resume, val_batch_size=2 * cfg.batch_size, compile=compile,
                           progress=progress, log=log, tag=f"pretrain {cfg.method} {data.name}", dataset=data.name,
                           extend_from=extend_from, keep_final_state=keep_final_state)


def finetune(cfg: SimMTMConfig, data: ForecastingData, horizon: int, *, encoder: nn.Module | None = None,
             device: str = "auto", lr: float = 1e-4, batch_size: int = 32, epochs: int = 10, patience: int = 3,
             head_dropout: float = 0.0, amp_dtype: torch.dtype | None = None, max_windows: int | None = None,
             seed: int = 0, checkpoint: str | Path | None = None, resume: bool = False, evaluate_test: bool = True,
             progress: bool = True, log=print, protocol: FinetuneProtocol | None = None,
             train_fraction: float = 1.0) -> dict:
    """Fine-tune a forecaster (from ``encoder`` if given, deep-copied so that the caller's model is
    untouched and can serve the next fine-tune; else random init) on ``data`` for ``horizon``
    steps: full fine-tuning, MSE loss, early stopping on validation MSE, then the test split once
    with the best-validation weights (``evaluate_test=False`` skips it, e.g. in a sweep that
    selects on validation; ``test`` is then None). ``max_windows`` subsamples the training and
    validation windows evenly; the test split is always whole. Returns the test
    metrics, the fitted ``model``, the history and timing. With ``checkpoint``, the run keeps a
    resume state after every epoch (:mod:`simmtm.resume`); ``resume=True`` continues an
    interrupted run exactly. The checkpoint carries what forecasting a user's file needs (scaler,
    columns, dates: :class:`simmtm.forecaster.ForecastSpec`). Under torchrun it runs data-parallel (every process a
    shard of each split, sums reduced, logs and the checkpoint from process 0). ``protocol``
    (:mod:`simmtm.protocols`; default full fine-tuning at one lr) can train the head alone
    first and give the encoder a smaller lr; ``epochs`` counts the full phase. ``train_fraction``
    (label scarcity) trains on a nested subset (:func:`nested_subset`) of that share of the
    training windows; validation keeps its ``max_windows``."""
    protocol = protocol or FinetuneProtocol()
    if resume and checkpoint is None:
        raise ValueError("resume=True needs the checkpoint path of the run to resume")
    dev = setup(device)  # joins torchrun's process group when launched by it
    W, r = world_size(), rank()
    if W > 1 and protocol.head_epochs:
        raise ValueError("probe-then-full fine-tuning is not supported under torchrun yet; run it in one process")
    log = log if r == 0 else (lambda *_: None)
    progress = progress and r == 0
    torch.manual_seed(seed)
    cfg = replace(cfg, n_channels=data.n_channels)
    encoder = copy.deepcopy(encoder) if encoder is not None else None
    model = build_forecaster(cfg, horizon, encoder=encoder, head_dropout=head_dropout).to(dev)
    splits = {"train": _subsample(data.windows("train", horizon, cfg.seq_len), max_windows, seed),
              "val": _subsample(data.windows("val", horizon, cfg.seq_len), max_windows, seed),
              "test": data.windows("test", horizon, cfg.seq_len)}
    if train_fraction < 1.0:
        n = len(splits["train"])
        splits["train"] = Subset(splits["train"], nested_subset(n, subset_size(train_fraction, n)))
    step_model, sampler = model, None
    if W > 1:  # data-parallel: each process a shard; val/test sums are reduced across processes
        torch.manual_seed(rank_seed(seed))
        step_model, sampler = data_parallel(model, dev), train_sampler(splits["train"], seed)
        splits.update({k: shard(splits[k]) for k in ("val", "test")})
    loaders = {
        "train": make_loader(splits["train"], batch_size, shuffle=True, device=dev, seed=seed, sampler=sampler),
        "val": make_loader(splits["val"], 4 * batch_size, shuffle=False, device=dev),
        "test": make_loader(splits["test"], 4 * batch_size, shuffle=False, device=dev),
    }
    optimizer = make_optimizer(model, lr, groups=parameter_groups(model, lr, protocol))
    scaler = grad_scaler(dev, amp_dtype)
    tag = f"finetune {data.name} H={horizon}" + ("" if protocol.is_default else f" {protocol.name}")
    settings = {"config": cfg.to_dict(), "horizon": horizon, "dataset": data.name, "init": "pretrained" if encoder else "random",
                "lr": lr, "batch_size": batch_size, "epochs": epochs, "patience": patience, "head_dropout": head_dropout,
                "seed": seed, "amp": str(amp_dtype), "train_windows": len(splits["train"]), "val_windows": len(splits["val"]),
                **({} if protocol.is_default else {"protocol": protocol.to_dict()})}
    resumable = None if checkpoint is None else ResumeState(
        checkpoint, {"model": model, "optimizer": optimizer, "scaler": scaler}, {"shuffle": loaders["train"].generator},
        {"config": cfg.to_dict(), "horizon": horizon, "protocol": protocol.to_dict()}, settings=settings)
    start = resumable.restore(log, tag) if resume else None
    t0 = time.perf_counter()

    estimated = []  # the first epoch this process runs reports its estimated duration

    def run_epoch(epoch: int) -> dict[str, float]:
        if sampler is not None:
            sampler.set_epoch(epoch)
        eta_log = None if estimated else log
        estimated.append(epoch)
        return train_one_epoch(training_view(step_model, protocol, epoch), loaders["train"], F.mse_loss, optimizer,
                               dev, amp_dtype=amp_dtype, scaler=scaler, progress=progress, desc=tag, log=eta_log)

    result = fit(model, run_epoch, lambda: evaluate_forecaster(model, loaders["val"], dev, amp_dtype=amp_dtype),
                 protocol.total_epochs(epochs), monitor="mse", patience=patience, progress=progress, start=start,
                 min_epochs=protocol.min_epochs(patience),
                 on_state=resumable.save if resumable is not None else None,
                 on_epoch_end=lambda e, r_: log(f"[{tag}] epoch {e}: train "
                                                f"{r_['train_loss']:.4f} val mse {r_['val_mse']:.4f} "
                                                f"{time.perf_counter() - t0:.0f}s"))
    test = evaluate_forecaster(model, loaders["test"], dev, amp_dtype=amp_dtype) if evaluate_test else None  # once
    if checkpoint is not None and r == 0:
        save_checkpoint(checkpoint, model, cfg, optimizer=optimizer, epoch=result["best_epoch"], metrics=test or {},
                        kind="forecaster", horizon=horizon, dataset=data.name, protocol=protocol.to_dict(),
                        inference=ForecastSpec.from_data(data, cfg.seq_len, horizon).to_dict())
    if resumable is not None:
        resumable.finish()
    return {"test": test, "best_epoch": result["best_epoch"], "val_mse": result["best"],
            "history": result["history"], "seconds": time.perf_counter() - t0, "model": model,
            "train_windows": len(splits["train"])}
