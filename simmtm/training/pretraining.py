"""The pre-training run shared by forecasting and classification: loaders, optimizer, the
epoch loop with validation-based selection, the final checkpoint, and exact resume.

With ``checkpoint`` set, the run also keeps ``<checkpoint>.resume.pt`` (:mod:`simmtm.training.resume`),
written atomically after every epoch, with the mask and shuffling generators among its random
states. ``resume=True`` continues from it, ending with the same weights as an unbroken run (bit
for bit on the CPU), if it was made with the same settings (else refused, naming each
difference); a finished run removes it. There is no learning-rate scheduler to save: pre-training uses a constant
rate, as the official code does. So a run is the first epochs of any longer run of the same settings:
``keep_final_state`` keeps a finished run's last state and ``extend_from`` continues it to more epochs.

Under ``torchrun`` (``torchrun --nproc_per_node=N -m simmtm pretrain ...``) the same function
runs data-parallel: DistributedDataParallel, a DistributedSampler re-shuffled every epoch,
per-process seeds derived from ``seed`` (:func:`simmtm.utils.distributed.rank_seed`), validation split
across processes, metrics reduced as sums, and logs, progress bars, checkpoints and resume
states from process 0 only (the resume state holds every process's random states).
``cfg.global_similarity`` makes SimMTM compare series across the whole global batch.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from simmtm.build import build_pretrainer
from simmtm.training.checkpoint import save_checkpoint
from simmtm.config import SimMTMConfig
from simmtm.utils.distributed import data_parallel, rank, rank_seed, setup, shard, train_sampler, world_size
from simmtm.training.engine import (evaluate_pretrain, fit, grad_scaler, make_loader, make_optimizer, maybe_compile,
                           pretrain_one_epoch)
from simmtm.training.resume import ResumeState


def pretrain_batching(n: int, batch_size: int) -> tuple[int, bool]:
    """``(batch size, drop_last)`` for ``n`` training series: the batch is capped at ``n``. A small
    set (fewer than 10 full batches) keeps its last incomplete batch, unless it would hold a single
    series (contrastive and BatchNorm statistics need two): 50 series at batch 32 make 2 steps an
    epoch, not 1. A larger set drops it, as the official code and every committed benchmark run did
    (at most a tenth of an epoch's series, a different part each epoch)."""
    if n < 1:
        raise ValueError("no training series to pre-train on")
    batch_size = min(batch_size, n)
    return batch_size, n // batch_size >= 10 or (n % batch_size == 1 and n > 1)


def run_pretraining(cfg: SimMTMConfig, train: Dataset, val: Dataset | None = None, *, device: str = "auto",
                    epochs: int | None = None, amp_dtype: torch.dtype | None = None, seed: int = 0,
                    checkpoint: str | Path | None = None, resume: bool = False, val_batch_size: int | None = None,
                    compile: bool = False, progress: bool = True, log=print, tag: str = "pretrain",
                    extend_from: str | Path | None = None, keep_final_state: bool = False,
                    **checkpoint_extra: Any) -> tuple[nn.Module, dict]:
    """Pre-train ``cfg.method`` on ``train`` (batches of ``x`` or ``(x, y)``); with ``val``, keep the
    epoch with the lowest validation loss. Writes ``checkpoint`` (best weights) at the end and,
    along the way, the resume state (module docstring). Batches: :func:`pretrain_batching`; the
    run logs how many optimizer steps it took (``result["steps"]``). ``keep_final_state`` keeps
    the last state (:func:`simmtm.training.resume.final_state_path`); ``extend_from`` (such a state of a
    shorter run, same settings) starts from it unless this run has its own state to resume.
    Returns ``(model, fit result)``."""
    if (resume or extend_from is not None or keep_final_state) and checkpoint is None:
        raise ValueError("resume, extend_from and keep_final_state need the checkpoint path of the run")
    dev = setup(device)  # joins torchrun's process group when launched by it
    W, r = world_size(), rank()
    main = r == 0
    log = log if main else (lambda *_: None)
    progress = progress and main
    torch.manual_seed(seed)  # the same initial weights in every process
    model = build_pretrainer(cfg).to(dev)
    step_model, sampler = model, None
    if W > 1:
        has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
        if cfg.global_similarity and has_bn and dev.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        elif cfg.global_similarity and has_bn:
            log(f"[{tag}] note: BatchNorm statistics stay per process on the CPU (SyncBatchNorm needs CUDA)")
        torch.manual_seed(rank_seed(seed))  # each process its own dropout stream
        step_model = data_parallel(model, dev)
        sampler = train_sampler(train, seed, drop_last=True)
        val = None if val is None else shard(val)
    batch_size, drop_last = pretrain_batching(len(train) // W, cfg.batch_size)
    train_loader = make_loader(train, batch_size, shuffle=True, device=dev, drop_last=drop_last, seed=seed,
                               sampler=sampler)
    val_loader = None if val is None else make_loader(val, val_batch_size or 2 * cfg.batch_size, shuffle=False, device=dev)
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay)
    scaler = grad_scaler(dev, amp_dtype)
    step_model = maybe_compile(step_model, compile)  # same parameters
    generators = {"masks": torch.Generator(device=dev).manual_seed(rank_seed(seed)), "shuffle": train_loader.generator}
    epochs = epochs if epochs is not None else cfg.epochs
    settings = {"config": cfg.to_dict(), "seed": seed, "epochs": epochs, "amp": str(amp_dtype),
                "train_windows": len(train), "val_windows": None if val is None else len(val),
                **{k: v for k, v in checkpoint_extra.items() if isinstance(v, (str, int, float, bool))}}
    resumable = None if checkpoint is None else ResumeState(
        checkpoint, {"model": model, "optimizer": optimizer, "scaler": scaler}, generators, {"config": cfg.to_dict()},
        settings=settings)
    start = resumable.restore(log, tag) if resume else None
    if start is None and extend_from is not None:
        start = resumable.extend(extend_from, log, tag)
    t0 = time.perf_counter()

    def report(epoch, row):
        values = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch")
        log(f"[{tag}] epoch {epoch}: {values} ({time.perf_counter() - t0:.0f}s)")

    estimated = []  # the first epoch this process runs reports its estimated duration

    def run_epoch(epoch: int) -> dict[str, float]:
        if sampler is not None:
            sampler.set_epoch(epoch)
        eta_log = None if estimated else log
        estimated.append(epoch)
        return pretrain_one_epoch(step_model, train_loader, optimizer, dev, amp_dtype=amp_dtype,
                                  generator=generators["masks"], scaler=scaler, progress=progress, desc=tag,
                                  log=eta_log)

    result = fit(model, run_epoch,
                 (lambda: evaluate_pretrain(model, val_loader, dev, amp_dtype=amp_dtype)) if val_loader else None,
                 epochs, progress=progress, on_epoch_end=report, start=start,
                 on_state=resumable.save if resumable is not None else None)
    result["seconds"] = time.perf_counter() - t0
    result["steps"] = len(train_loader) * len(result["history"])  # every epoch, resumed ones included
    dropped = len(train) // W - len(train_loader) * batch_size if drop_last and sampler is None else 0
    log(f"[{tag}] {result['steps']} optimizer steps: {len(result['history'])} epoch(s) x {len(train_loader)} "
        f"batch(es) of up to {batch_size} series" + (f" ({dropped} series left out of each epoch)" if dropped else ""))
    if checkpoint is not None and main:
        save_checkpoint(checkpoint, model, cfg, optimizer=optimizer, epoch=result["best_epoch"],
                        metrics=result["history"][result["best_epoch"]], kind="simmtm", **checkpoint_extra)
    if resumable is not None:
        resumable.finish(keep=keep_final_state)  # a finished run leaves no state to "resume"
    return model, result
