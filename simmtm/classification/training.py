"""The classification task: pre-train SimMTM on unlabelled series, fine-tune (or linearly probe)
a classifier on labelled ones, select the epoch on the VALIDATION split, test once, predict.

Metrics come from :func:`simmtm.classification.metrics.classification_metrics` over the whole test split. The
studies built on these (benchmark settings, tables over seeds) live in
:mod:`simmtm.experiments.classification`; a user's own files go through
:mod:`simmtm.classification.own_data`.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from simmtm.build import build_classifier
from simmtm.config import SimMTMConfig
from simmtm.data.windows import LabelledSeries
from simmtm.utils.distributed import gather_objects, is_distributed, setup
from simmtm.training.finetune import run_finetuning
from simmtm.classification.metrics import classification_metrics
from simmtm.training.pretraining import run_pretraining
from simmtm.training.protocols import FinetuneProtocol

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
    """Class probabilities ``[N, K]`` and labels ``[N]`` over a whole loader (under
    torch.distributed: over every process's loader)."""
    model.eval()
    probs, labels = [], []
    for x, y in loader:
        probs.append(torch.softmax(model(x.to(device, non_blocking=True)).float(), dim=1).cpu())
        labels.append(y)
    probs, labels = torch.cat(probs).numpy(), torch.cat(labels).numpy()
    if is_distributed():  # every process's shard, so metrics cover the whole split
        parts = gather_objects((probs, labels))
        probs, labels = np.concatenate([p for p, _ in parts]), np.concatenate([y for _, y in parts])
    return probs, labels


def evaluate(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    """Metrics plus cross-entropy and the selection score (accuracy, ties broken by lower loss)."""
    probs, y = predict(model, loader, device)
    m = classification_metrics(y, probs)
    m["loss"] = float(F.nll_loss(torch.log(torch.as_tensor(probs).clamp_min(1e-12)), torch.as_tensor(y)))
    m["select"] = m["accuracy"] - 1e-3 * min(m["loss"], 10.0)
    return m


def pretrain(cfg: SimMTMConfig, x_train: np.ndarray, x_val: np.ndarray | None = None, *, device: str = "auto",
             epochs: int | None = None, amp_dtype: torch.dtype | None = None, seed: int = 0,
             checkpoint: str | Path | None = None, resume: bool = False, progress: bool = True, log=print,
             compile: bool = False) -> tuple[nn.Module, dict]:
    """Pre-train SimMTM on unlabelled windows ``[N, L, C]``; with ``x_val``, keep the epoch with
    the lowest validation loss. ``resume`` continues an interrupted run writing the same
    ``checkpoint`` (:mod:`simmtm.training.pretraining`)."""
    cfg = replace(cfg, seq_len=x_train.shape[1], n_channels=x_train.shape[2])
    zeros = lambda x: np.zeros(len(x), dtype=np.int64)  # noqa: E731  (labels unused)
    train = LabelledSeries(x_train, zeros(x_train))
    val = None if x_val is None else LabelledSeries(x_val, zeros(x_val))
    return run_pretraining(cfg, train, val, device=device, epochs=epochs, amp_dtype=amp_dtype, seed=seed,
                           checkpoint=checkpoint, resume=resume, val_batch_size=4 * cfg.batch_size, compile=compile,
                           progress=progress, log=log, tag="pretrain")


def check_classes(labels: dict[str, np.ndarray], n_classes: int | None = None) -> int:
    """The number of classes K for labelled splits ``{name: y [N]}`` of class indices, with
    clear errors: labels outside ``0..K-1``, a training split of one class, or (``n_classes``
    not given) a class index below the largest that the training split never shows."""
    y_tr = labels["train"]
    for name, y in labels.items():
        if len(y) and (y.dtype.kind not in "iu" or y.min() < 0):
            raise ValueError(f"{name} labels must be class indices 0..K-1 (map other labels with "
                             f"simmtm.data.formats.LabelMap), got dtype {y.dtype}, min {y.min()}")
    if len(np.unique(y_tr)) < 2:
        raise ValueError(f"the training split holds a single class ({np.unique(y_tr)}); fine-tuning needs two or more")
    top = int(max(y.max() for y in labels.values() if len(y)))
    if n_classes is None:
        absent = sorted(set(range(top + 1)) - set(np.unique(y_tr).tolist()))
        if absent:
            raise ValueError(f"class indices {absent[:5]} never occur in the training labels (0..{top}); map the "
                             f"labels to 0..K-1 (simmtm.data.formats.LabelMap) or pass n_classes")
        return top + 1
    if top >= n_classes:
        raise ValueError(f"label {top} is outside the {n_classes} classes 0..{n_classes - 1}")
    return int(n_classes)


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(kept, held)`` sorted indices: from each class of ``y`` a seeded random
    ``max(1, round(fraction * n_class))`` are held out (a validation split), but never a class's
    last example (a class seen once stays in the kept part)."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        k = min(max(1, int(round(fraction * len(members)))), len(members) - 1)
        held.append(rng.choice(members, k, replace=False) if k > 0 else members[:0])
    held = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(y)), held), held


def finetune(cfg: SimMTMConfig, splits: dict[str, Split], *, encoder: nn.Module | None = None,
             linear_probe: bool = False, lr: float = 1e-4, batch_size: int = 32, epochs: int = 100,
             patience: int | None = None, device: str = "auto", seed: int = 0, checkpoint: str | Path | None = None,
             resume: bool = False, progress: bool = False, log=None, n_classes: int | None = None,
             protocol: FinetuneProtocol | None = None) -> dict:
    """Fine-tune a classifier on ``splits["train"]``, select the epoch on ``splits["val"]``
    (accuracy, ties broken by loss), then evaluate ``splits["test"]`` once (if given; else
    ``result["test"]`` is None).

    Labels are class indices ``0..K-1``; ``n_classes`` is K (the head's size), e.g.
    ``len(LabelMap)`` (:mod:`simmtm.data.formats`). Without it K is the largest label + 1 and
    every class below it must occur in the training split (labels 1..10 are refused instead of
    silently giving 11 outputs).

    ``encoder``: pre-trained weights (deep-copied, so the caller's model is untouched); None
    trains from a random initialisation. ``linear_probe`` freezes the encoder. With ``checkpoint``
    the run keeps a resume state after every epoch; ``resume=True`` continues an interrupted run
    exactly (:mod:`simmtm.training.resume`). Under torchrun it
    runs data-parallel (metrics over the whole splits, logs and checkpoint from process 0).
    ``protocol`` (:mod:`simmtm.training.protocols`; default full fine-tuning at one lr) can train the head
    alone first and give the encoder a smaller lr; ``epochs`` counts the full phase.
    """
    protocol = protocol or FinetuneProtocol()
    if linear_probe and not protocol.is_default:
        raise ValueError(f"linear_probe trains the head only; it does not combine with protocol {protocol.name!r}")
    names = [k for k in ("train", "val", "test") if splits.get(k) is not None]
    x_tr, x_va = splits["train"][0], splits["val"][0]
    n_classes = check_classes({k: splits[k][1] for k in names}, n_classes)
    if encoder is not None and cfg.seq_len != x_tr.shape[1]:
        (log or print)(f"note: the encoder was trained on series of {cfg.seq_len} steps and is fine-tuned here on "
                       f"{x_tr.shape[1]} steps")
    cfg = replace(cfg, seq_len=x_tr.shape[1], n_channels=x_tr.shape[2])
    dev = setup(device)  # joins torchrun's process group when launched by it
    torch.manual_seed(seed)
    enc = copy.deepcopy(encoder) if encoder is not None else None
    if linear_probe:
        if enc is None:
            raise ValueError("linear_probe needs a pre-trained encoder")
        enc = FrozenEncoder(enc)
    model = build_classifier(cfg, n_classes, encoder=enc).to(dev)
    settings = {"config": cfg.to_dict(), "n_classes": n_classes, "init": "pretrained" if encoder is not None else "random",
                "linear_probe": linear_probe, "lr": lr, "batch_size": batch_size, "epochs": epochs,
                "patience": patience, "seed": seed, "train_samples": len(x_tr), "val_samples": len(x_va),
                **({} if protocol.is_default else {"protocol": protocol.to_dict()})}
    result = run_finetuning(
        model, cfg, {name: LabelledSeries(*splits[name]) for name in names}, device=dev, loss_fn=F.cross_entropy,
        evaluate=evaluate, monitor="select", mode="max", lr=lr, batch_size=batch_size, eval_batch_size=256,
        epochs=epochs, patience=patience, protocol=protocol, seed=seed, checkpoint=checkpoint, resume=resume,
        kind="classifier", settings=settings, resume_extra={"config": cfg.to_dict(), "protocol": protocol.to_dict()},
        checkpoint_extra={"n_classes": n_classes}, tag="finetune", progress=progress, log=log,
        epoch_line=lambda e, row, s: f"[finetune] epoch {e}: train loss {row['train_loss']:.4f} "
                                     f"val acc {row['val_accuracy']:.4f}")
    test = result["test"]
    if test is not None:
        test.pop("select")
    best_val = result["history"][result["best_epoch"]]
    return {"test": test, "val_accuracy": best_val["val_accuracy"], "best_epoch": result["best_epoch"],
            "history": result["history"], "seconds": result["seconds"], "model": model}
