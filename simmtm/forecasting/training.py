"""Forecasting experiments: pre-train SimMTM on one dataset, fine-tune on another (or the same)
for each horizon, evaluate on the test split once with the best-validation weights.

Metrics are MSE / MAE on the standardized scale, over every predicted value (the usual
benchmark protocol). :mod:`simmtm.experiments.forecasting` runs resumable studies on top.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Subset

from simmtm.build import build_forecaster
from simmtm.config import SimMTMConfig
from simmtm.data.forecasting import ForecastingData
from simmtm.utils.distributed import setup
from simmtm.forecasting.forecaster import ForecastSpec
from simmtm.training.engine import evaluate_forecaster
from simmtm.training.finetune import run_finetuning
from simmtm.training.pretraining import run_pretraining
from simmtm.training.protocols import FinetuneProtocol


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
    longer run start where a finished shorter one ended (:mod:`simmtm.training.pretraining`). Returns
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
    resume state after every epoch (:mod:`simmtm.training.resume`); ``resume=True`` continues an
    interrupted run exactly. The checkpoint carries what forecasting a user's file needs (scaler,
    columns, dates: :class:`simmtm.forecasting.forecaster.ForecastSpec`). Under torchrun it runs data-parallel (every process a
    shard of each split, sums reduced, logs and the checkpoint from process 0). ``protocol``
    (:mod:`simmtm.training.protocols`; default full fine-tuning at one lr) can train the head alone
    first and give the encoder a smaller lr; ``epochs`` counts the full phase. ``train_fraction``
    (label scarcity) trains on a nested subset (:func:`nested_subset`) of that share of the
    training windows; validation keeps its ``max_windows``."""
    protocol = protocol or FinetuneProtocol()
    dev = setup(device)  # joins torchrun's process group when launched by it
    torch.manual_seed(seed)
    cfg = replace(cfg, n_channels=data.n_channels)
    encoder = copy.deepcopy(encoder) if encoder is not None else None
    model = build_forecaster(cfg, horizon, encoder=encoder, head_dropout=head_dropout).to(dev)
    splits = {"train": _subsample(data.windows("train", horizon, cfg.seq_len), max_windows, seed),
              "val": _subsample(data.windows("val", horizon, cfg.seq_len), max_windows, seed)}
    if evaluate_test:
        splits["test"] = data.windows("test", horizon, cfg.seq_len)
    if train_fraction < 1.0:
        n = len(splits["train"])
        splits["train"] = Subset(splits["train"], nested_subset(n, subset_size(train_fraction, n)))
    tag = f"finetune {data.name} H={horizon}" + ("" if protocol.is_default else f" {protocol.name}")
    settings = {"config": cfg.to_dict(), "horizon": horizon, "dataset": data.name, "init": "pretrained" if encoder else "random",
                "lr": lr, "batch_size": batch_size, "epochs": epochs, "patience": patience, "head_dropout": head_dropout,
                "seed": seed, "amp": str(amp_dtype), "train_windows": len(splits["train"]), "val_windows": len(splits["val"]),
                **({} if protocol.is_default else {"protocol": protocol.to_dict()})}
    result = run_finetuning(
        model, cfg, splits, device=dev, loss_fn=F.mse_loss,
        evaluate=lambda m, loader, d: evaluate_forecaster(m, loader, d, amp_dtype=amp_dtype), monitor="mse",
        lr=lr, batch_size=batch_size, eval_batch_size=4 * batch_size, epochs=epochs, patience=patience,
        protocol=protocol, seed=seed, amp_dtype=amp_dtype, checkpoint=checkpoint, resume=resume, kind="forecaster",
        settings=settings, resume_extra={"config": cfg.to_dict(), "horizon": horizon, "protocol": protocol.to_dict()},
        checkpoint_extra={"horizon": horizon, "dataset": data.name,
                          "inference": ForecastSpec.from_data(data, cfg.seq_len, horizon).to_dict()},
        tag=tag, progress=progress, log=log,
        epoch_line=lambda e, row, s: f"[{tag}] epoch {e}: train {row['train_loss']:.4f} val mse {row['val_mse']:.4f} {s:.0f}s")
    return {"test": result["test"], "best_epoch": result["best_epoch"], "val_mse": result["best"],
            "history": result["history"], "seconds": result["seconds"], "model": model,
            "train_windows": len(splits["train"])}
