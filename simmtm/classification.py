"""Classification experiments: pre-train SimMTM on unlabelled windows, fine-tune (or linearly
probe) a classifier on a few labelled ones, select on the VALIDATION split, test once.

Metrics come from :func:`simmtm.metrics.classification_metrics` over the whole test split.
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

from simmtm.build import build_classifier, build_simmtm
from simmtm.checkpoint import save_checkpoint
from simmtm.config import SimMTMConfig
from simmtm.data.windows import LabelledSeries
from simmtm.engine import (evaluate_pretrain, fit, grad_scaler, make_loader, make_optimizer, pretrain_one_epoch,
                           resolve_device, train_one_epoch)
from simmtm.metrics import classification_metrics

Split = tuple[np.ndarray, np.ndarray]  # (X [N, L, C], y [N])


class FrozenEncoder(nn.Module):
    """An encoder used as a fixed feature extractor (linear probing): no gradients, and
    BatchNorm / dropout stay in eval mode whatever ``train()`` is called with."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder.requires_grad_(False).eval()
        self.channel_independent = getattr(encoder, "channel_independent", False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.encoder(x)


@torch.no_grad()
def predict(model: nn.Module, loader, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities ``[N, K]`` and labels ``[N]`` over a whole loader."""
    model.eval()
    probs, labels = [], []
    for x, y in loader:
        probs.append(torch.softmax(model(x.to(device, non_blocking=True)).float(), dim=1).cpu())
        labels.append(y)
    return torch.cat(probs).numpy(), torch.cat(labels).numpy()


def evaluate(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    """Metrics plus cross-entropy and the selection score (accuracy, ties broken by lower loss)."""
    probs, y = predict(model, loader, device)
    m = classification_metrics(y, probs)
    m["loss"] = float(F.nll_loss(torch.log(torch.as_tensor(probs).clamp_min(1e-12)), torch.as_tensor(y)))
    m["select"] = m["accuracy"] - 1e-3 * min(m["loss"], 10.0)
    return m


def pretrain(cfg: SimMTMConfig, x_train: np.ndarray, x_val: np.ndarray | None = None, *, device: str = "auto",
             epochs: int | None = None, amp_dtype: torch.dtype | None = None, seed: int = 0,
             checkpoint: str | Path | None = None, progress: bool = True, log=print) -> tuple[nn.Module, dict]:
    """Pre-train SimMTM on unlabelled windows ``[N, L, C]``; with ``x_val``, keep the epoch with
    the lowest validation loss."""
    cfg = replace(cfg, seq_len=x_train.shape[1], n_channels=x_train.shape[2])
    dev = resolve_device(device)
    torch.manual_seed(seed)
    model = build_simmtm(cfg).to(dev)
    zeros = lambda x: np.zeros(len(x), dtype=np.int64)  # noqa: E731  (labels unused)
    train_loader = make_loader(LabelledSeries(x_train, zeros(x_train)), cfg.batch_size, shuffle=True, device=dev,
                               drop_last=len(x_train) > cfg.batch_size, seed=seed)
    val_loader = None if x_val is None else make_loader(LabelledSeries(x_val, zeros(x_val)), 4 * cfg.batch_size,
                                                        shuffle=False, device=dev)
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay)
    masks, scaler = torch.Generator(device=dev).manual_seed(seed), grad_scaler(dev, amp_dtype)
    t0 = time.perf_counter()
    result = fit(model,
                 lambda e: pretrain_one_epoch(model, train_loader, optimizer, dev, amp_dtype=amp_dtype, generator=masks,
                                              scaler=scaler, progress=progress),
                 (lambda: evaluate_pretrain(model, val_loader, dev, amp_dtype=amp_dtype)) if val_loader else None,
                 epochs if epochs is not None else cfg.epochs, progress=progress,
                 on_epoch_end=lambda e, r: log(f"[pretrain] epoch {e}: " + ", ".join(
                     f"{k} {v:.4f}" for k, v in r.items() if k != "epoch") + f" ({time.perf_counter() - t0:.0f}s)"))
    result["seconds"] = time.perf_counter() - t0
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, cfg, optimizer=optimizer, epoch=result["best_epoch"],
                        metrics=result["history"][result["best_epoch"]])
    return model, result


def finetune(cfg: SimMTMConfig, splits: dict[str, Split], *, encoder: nn.Module | None = None,
             linear_probe: bool = False, lr: float = 1e-4, batch_size: int = 32, epochs: int = 100,
             patience: int | None = None, device: str = "auto", seed: int = 0, checkpoint: str | Path | None = None,
             progress: bool = False, log=None) -> dict:
    """Fine-tune a classifier on ``splits["train"]``, select the epoch on ``splits["val"]``
    (accuracy, ties broken by loss), then evaluate ``splits["test"]`` once.

    ``encoder``: pre-trained weights (deep-copied, so the caller's model is untouched); None
    trains from a random initialisation. ``linear_probe`` freezes the encoder.
    """
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = splits["train"], splits["val"], splits["test"]
    n_classes = int(max(y_tr.max(), y_va.max(), y_te.max()) + 1)
    if len(np.unique(y_tr)) < 2:
        raise ValueError(f"the training split holds a single class ({np.unique(y_tr)}); fine-tuning needs two or more")
    cfg = replace(cfg, seq_len=x_tr.shape[1], n_channels=x_tr.shape[2])
    dev = resolve_device(device)
    torch.manual_seed(seed)
    enc = copy.deepcopy(encoder) if encoder is not None else None
    if linear_probe:
        if enc is None:
            raise ValueError("linear_probe needs a pre-trained encoder")
        enc = FrozenEncoder(enc)
    model = build_classifier(cfg, n_classes, encoder=enc).to(dev)
    loaders = {name: make_loader(LabelledSeries(x, y), batch_size if name == "train" else 256, shuffle=name == "train",
                                 device=dev, seed=seed) for name, (x, y) in splits.items() if name in ("train", "val", "test")}
    optimizer = make_optimizer(model, lr)
    t0 = time.perf_counter()
    result = fit(model, lambda e: train_one_epoch(model, loaders["train"], F.cross_entropy, optimizer, dev, progress=False),
                 lambda: evaluate(model, loaders["val"], dev), epochs, monitor="select", mode="max",
                 patience=patience, progress=progress,
                 on_epoch_end=(lambda e, r: log(f"[finetune] epoch {e}: train loss {r['train_loss']:.4f} "
                                                f"val acc {r['val_accuracy']:.4f}")) if log else None)
    test = evaluate(model, loaders["test"], dev)  # once, with the best-validation weights
    test.pop("select")
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, cfg, optimizer=optimizer, epoch=result["best_epoch"], metrics=test,
                        kind="classifier", n_classes=n_classes)
    best_val = result["history"][result["best_epoch"]]
    return {"test": test, "val_accuracy": best_val["val_accuracy"], "best_epoch": result["best_epoch"],
            "history": result["history"], "seconds": time.perf_counter() - t0, "model": model}
