"""The one fine-tuning loop, shared by forecasting and classification.

A task builds its model and its datasets; :func:`run_finetuning` does the rest the same way for
both: data-parallel sharding under torchrun, seeded loaders, the optimizer with the protocol's
parameter groups (:mod:`simmtm.training.protocols`), exact resume (:mod:`simmtm.training.resume`),
the epoch loop with selection on VALIDATION (:func:`simmtm.training.engine.fit`), the test split
evaluated once with the best-validation weights, and the checkpoint. What differs between tasks
is passed in: the loss, the evaluation, what to monitor and how an epoch is reported.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from simmtm.config import SimMTMConfig
from simmtm.training.checkpoint import save_checkpoint
from simmtm.training.engine import fit, grad_scaler, make_loader, make_optimizer, train_one_epoch
from simmtm.training.protocols import FinetuneProtocol, parameter_groups, training_view
from simmtm.training.resume import ResumeState
from simmtm.utils.distributed import data_parallel, rank, rank_seed, shard, train_sampler, world_size

Evaluate = Callable[[nn.Module, DataLoader, torch.device], dict[str, float]]


def run_finetuning(model: nn.Module, cfg: SimMTMConfig, datasets: dict[str, Dataset], *, device: torch.device,
                   loss_fn: Callable, evaluate: Evaluate, monitor: str, mode: str = "min", lr: float,
                   batch_size: int, eval_batch_size: int, epochs: int, patience: int | None,
                   protocol: FinetuneProtocol, seed: int, amp_dtype: torch.dtype | None = None,
                   checkpoint: str | Path | None = None, resume: bool = False, kind: str,
                   settings: dict[str, Any], resume_extra: dict[str, Any], checkpoint_extra: dict[str, Any],
                   tag: str, progress: bool = True, log: Callable[[str], None] | None = print,
                   epoch_line: Callable[[int, dict, float], str] | None = None) -> dict:
    """Fine-tune ``model`` (already on ``device``) on ``datasets["train"]``, keep the epoch with
    the best ``val_<monitor>`` on ``datasets["val"]``, then evaluate ``datasets["test"]`` once if
    given (``test`` is None otherwise). ``epochs`` counts the full phase of ``protocol``.

    With ``checkpoint`` the run keeps a resume state after every epoch (``settings`` define the run:
    a resume with others is refused) and writes the checkpoint of kind ``kind`` at the end with
    ``checkpoint_extra``; ``resume=True`` continues an interrupted run exactly. Under torchrun each
    process trains on a shard, evaluation sums are reduced, and logs and files come from process 0.

    Returns ``{"history", "best_epoch", "best", "test", "seconds"}``.
    """
    if resume and checkpoint is None:
        raise ValueError("resume=True needs the checkpoint path of the run to resume")
    W, r = world_size(), rank()
    if W > 1 and protocol.head_epochs:
        raise ValueError("probe-then-full fine-tuning is not supported under torchrun yet; run it in one process")
    say = log if (log is not None and r == 0) else None
    step_model, sampler = model, None
    if W > 1:  # data-parallel: each process a shard of every split
        torch.manual_seed(rank_seed(seed))
        step_model, sampler = data_parallel(model, device), train_sampler(datasets["train"], seed)
        datasets = {k: (ds if k == "train" else shard(ds)) for k, ds in datasets.items()}
    loaders = {k: make_loader(ds, batch_size if k == "train" else eval_batch_size, shuffle=k == "train", device=device,
                              seed=seed if k == "train" else None, sampler=sampler if k == "train" else None)
               for k, ds in datasets.items()}
    optimizer = make_optimizer(model, lr, groups=parameter_groups(model, lr, protocol))
    scaler = grad_scaler(device, amp_dtype)
    modules = {"model": model, "optimizer": optimizer, **({"scaler": scaler} if scaler.is_enabled() else {})}
    resumable = None if checkpoint is None else ResumeState(
        checkpoint, modules, {"shuffle": loaders["train"].generator}, resume_extra, settings=settings)
    start = resumable.restore(say or (lambda *_: None), tag) if resume else None
    t0 = time.perf_counter()
    estimated: list[int] = []  # only the first epoch run here reports its estimated duration

    def run_epoch(epoch: int) -> dict[str, float]:
        if sampler is not None:
            sampler.set_epoch(epoch)
        eta_log = None if estimated else say
        estimated.append(epoch)
        return train_one_epoch(training_view(step_model, protocol, epoch), loaders["train"], loss_fn, optimizer,
                               device, amp_dtype=amp_dtype, scaler=scaler, progress=progress and r == 0, desc=tag,
                               log=eta_log)

    report = None
    if say is not None and epoch_line is not None:
        report = lambda e, row: say(epoch_line(e, row, time.perf_counter() - t0))  # noqa: E731
    result = fit(model, run_epoch, lambda: evaluate(model, loaders["val"], device), protocol.total_epochs(epochs),
                 monitor=monitor, mode=mode, patience=patience, progress=progress and r == 0, start=start,
                 min_epochs=protocol.min_epochs(patience), on_epoch_end=report,
                 on_state=resumable.save if resumable is not None else None)
    test = evaluate(model, loaders["test"], device) if "test" in loaders else None  # once, best-validation weights
    if checkpoint is not None and r == 0:
        save_checkpoint(checkpoint, model, cfg, optimizer=optimizer, epoch=result["best_epoch"], metrics=test or {},
                        kind=kind, protocol=protocol.to_dict(), **checkpoint_extra)
    if resumable is not None:
        resumable.finish()
    return {**result, "test": test, "seconds": time.perf_counter() - t0}
