"""Config, builders and the training loop of the anomaly detectors.

Detectors (``DETECTORS``):
    sdmae   self-distilled masked autoencoder: deep teacher + shallow student, score = discrepancy
    mae     plain masked autoencoder (the teacher alone), score = reconstruction error
Either can start from a pre-trained encoder (e.g. SimMTM's: :func:`pretrain_encoder`).

Training masks each batch with the configured strategy, clips gradients, ramps the anomaly term
in over ``warmup_epochs`` and keeps the epoch with the best VALIDATION window ROC-AUC.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np
import torch
import torch.nn as nn

from simmtm.anomaly.data import AnomalyWindows
from simmtm.anomaly.losses import distillation_loss, reconstruction_loss, warmup_weight
from simmtm.anomaly.masking import STRATEGIES, anomaly_mask
from simmtm.anomaly.metrics import roc_auc
from simmtm.anomaly.model import MaskedAutoencoder, SelfDistilledMAE, TokenDecoder
from simmtm.anomaly.scoring import discrepancy_cells, reconstruction_cells, score_windows
from simmtm.config import TransformerConfig
from simmtm.encoders import ChannelIndependentTransformer
from simmtm.utils.checks import check_int, check_real
from simmtm.training.engine import FiniteGuard, fit, make_optimizer
from simmtm.utils.device import resolve_device

DETECTORS = ("sdmae", "mae")


# AnomalyConfig's flat names for its encoder's fields (as records and overrides spell them)
ENCODER_FIELDS = {"d_model": "d_model", "n_heads": "n_heads", "encoder_layers": "n_layers", "d_ff": "d_ff",
                  "dropout": "dropout"}


@dataclass(frozen=True)
class AnomalyConfig:
    """Model, masking, loss and training settings (defaults: the ``synthetic`` preset).

    ``encoder`` is the package's point-token Transformer config; the teacher and student
    decoders share its width, heads, feed-forward size and dropout. ``patch_len`` is the
    masking patch (:mod:`simmtm.anomaly.masking`), not a token size."""

    encoder: TransformerConfig = TransformerConfig(d_model=32, n_heads=4, n_layers=2, d_ff=64, dropout=0.1)
    teacher_layers: int = 4
    student_layers: int = 1
    mask_ratio: float = 0.6
    strategy: Literal["patch", "token", "temporal", "feature"] = "patch"
    patch_len: int = 8
    lam: float = 1.0
    margin: float = 1.0
    warmup_epochs: int = 5
    grad_clip: float = 1.0
    lr: float = 1e-3
    batch_size: int = 64
    epochs: int = 30
    patience: int | None = 10
    n_last: int = 16  # streaming scoring: the last steps masked
    n_masks: int = 8  # random-mask scoring: masks averaged
    val_masks: int = 4  # masks per window when validating each epoch

    def __post_init__(self):
        if not isinstance(self.encoder, TransformerConfig) or self.encoder.patch_len != 1:
            raise ValueError(f"encoder must be a point-token TransformerConfig (patch_len 1), got {self.encoder!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        for name in ("teacher_layers", "student_layers", "patch_len", "batch_size", "epochs", "n_last", "n_masks",
                     "val_masks"):
            check_int(name, getattr(self, name))
        check_int("warmup_epochs", self.warmup_epochs, low=0)
        if self.patience is not None:
            check_int("patience", self.patience)
        check_real("mask_ratio", self.mask_ratio, low=0, high=1, low_open=True)
        for name in ("lam", "margin"):
            check_real(name, getattr(self, name), low=0, high=None)
        check_real("grad_clip", self.grad_clip, low=0, low_open=True, high=None)
        check_real("lr", self.lr, low=0, low_open=True, high=None)

    def to_dict(self) -> dict[str, Any]:
        """The flat settings records hold (the encoder's fields under their names in :data:`ENCODER_FIELDS`)."""
        rest = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "encoder"}
        enc = {flat: getattr(self.encoder, name) for flat, name in ENCODER_FIELDS.items()}
        return {**{k: enc[k] for k in ("d_model", "n_heads", "encoder_layers")},
                **{k: rest.pop(k) for k in ("teacher_layers", "student_layers")},
                **{k: enc[k] for k in ("d_ff", "dropout")}, **rest}


ANOMALY_PRESETS: dict[str, AnomalyConfig] = {
    "synthetic": AnomalyConfig(),
    # CPU minutes for tests, CI and the notebook's QUICK mode.
    "quick": AnomalyConfig(TransformerConfig(d_model=16, n_heads=2, n_layers=2, d_ff=32, dropout=0.1), teacher_layers=2,
                           epochs=4, warmup_epochs=2, patience=None, n_masks=4, val_masks=2),
    # one real series of a few thousand steps on one CPU thread (simmtm.anomaly.detector): ~1000 windows, 8 epochs
    "series": AnomalyConfig(TransformerConfig(d_model=16, n_heads=2, n_layers=2, d_ff=32, dropout=0.1), teacher_layers=2,
                            student_layers=1, mask_ratio=0.25, epochs=8, warmup_epochs=2, patience=None),
}


def get_anomaly_preset(name: str, **overrides: Any) -> AnomalyConfig:
    """The named anomaly preset with optional field overrides; the encoder's are given by their
    flat names (``d_model``, ``n_heads``, ``encoder_layers``, ``d_ff``, ``dropout``)."""
    if name not in ANOMALY_PRESETS:
        raise ValueError(f"unknown anomaly preset {name!r}; available: {', '.join(ANOMALY_PRESETS)}")
    cfg = ANOMALY_PRESETS[name]
    enc = {ENCODER_FIELDS[k]: overrides.pop(k) for k in list(overrides) if k in ENCODER_FIELDS}
    return replace(cfg, **overrides, **({"encoder": replace(cfg.encoder, **enc)} if enc else {}))


def build_encoder(cfg: AnomalyConfig) -> nn.Module:
    """The package's channel-independent Transformer with this config's sizes."""
    e = cfg.encoder
    return ChannelIndependentTransformer(e.d_model, e.n_heads, e.n_layers, e.d_ff, e.dropout)


def build_detector(cfg: AnomalyConfig, kind: str = "sdmae", encoder: nn.Module | None = None) -> nn.Module:
    """A ``sdmae`` or ``mae`` detector; pass ``encoder`` to start from pre-trained weights."""
    if kind not in DETECTORS:
        raise ValueError(f"unknown detector {kind!r}; choose from {DETECTORS}")
    encoder = encoder if encoder is not None else build_encoder(cfg)
    e = cfg.encoder
    d_model = getattr(encoder, "d_model", e.d_model)
    decoder = lambda n_layers: TokenDecoder(d_model, e.n_heads, n_layers, e.d_ff, e.dropout)  # noqa: E731
    if kind == "mae":
        return MaskedAutoencoder(encoder, decoder(cfg.teacher_layers))
    return SelfDistilledMAE(encoder, decoder(cfg.teacher_layers), decoder(cfg.student_layers))


def cell_scores(model: nn.Module):
    """The cell score function matching ``model``'s kind."""
    return discrepancy_cells if isinstance(model, SelfDistilledMAE) else reconstruction_cells


def score(model: nn.Module, cfg: AnomalyConfig, windows: AnomalyWindows, *, mode: str = "random",
          device: str | torch.device = "cpu", seed: int = 0, n_masks: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Window ``[N]`` and point ``[N, L]`` scores by ``mode``: ``random`` (``n_masks`` masks of the
    training strategy) or ``last`` (the last ``cfg.n_last`` steps masked)."""
    if mode not in ("random", "last"):
        raise ValueError(f"mode must be 'random' or 'last', got {mode!r}")
    return score_windows(model, windows.x, cell_scores(model), n_last=cfg.n_last if mode == "last" else None,
                         n_masks=n_masks or cfg.n_masks, ratio=cfg.mask_ratio, strategy=cfg.strategy,
                         patch_len=cfg.patch_len, device=device, seed=seed)


def _epoch(model: nn.Module, cfg: AnomalyConfig, x: torch.Tensor, labels: torch.Tensor, optimizer, epoch: int,
           generator: torch.Generator) -> dict[str, float]:
    model.train()
    order = torch.randperm(len(x), generator=generator, device=x.device)
    weight = warmup_weight(epoch, cfg.warmup_epochs)
    sums: dict[str, torch.Tensor] = {}
    guard = FiniteGuard(x.device, optimizer)  # the first non-finite loss stops the run
    for step, index in enumerate(order.split(cfg.batch_size)):
        xb, yb = x[index], labels[index]
        mask = anomaly_mask(tuple(xb.shape), cfg.mask_ratio, cfg.strategy, patch_len=cfg.patch_len, generator=generator)
        if isinstance(model, SelfDistilledMAE):
            teacher, student = model(xb, mask)
            out = distillation_loss(teacher, student, xb, mask, yb, lam=cfg.lam, margin=cfg.margin, anomaly_weight=weight)
            loss, terms = out.loss, out.terms
        else:
            loss = reconstruction_loss(model(xb, mask), xb, mask, yb)
            terms = {}
        guard.check(step, loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        for k, v in {"loss": loss.detach(), **terms}.items():
            sums[k] = sums.get(k, 0) + v * len(index)
    guard.flush()
    return {k: v.item() / len(x) for k, v in sums.items()}


def train_detector(model: nn.Module, cfg: AnomalyConfig, train: AnomalyWindows, val: AnomalyWindows | None = None, *,
                   epochs: int | None = None, device: str = "auto", seed: int = 0, progress: bool = True,
                   log=print) -> dict:
    """Train ``model`` on ``train`` (window labels: 1 = labelled anomaly, used by ``sdmae`` only;
    ``mae`` reconstructs normal windows only). With ``val`` (which must hold both classes), keep
    the epoch with the best validation window ROC-AUC (random-mask scoring with ``cfg.val_masks``).

    Returns ``{"history", "best_epoch", "best", "seconds"}`` as :func:`simmtm.training.engine.fit`.
    """
    dev = resolve_device(device)
    torch.manual_seed(seed)
    model.to(dev)
    x = torch.as_tensor(train.x, device=dev)
    labels = torch.as_tensor(train.labels, device=dev)
    if (labels == 0).sum() == 0:
        raise ValueError("the training windows hold no normal window")
    if val is not None and len(np.unique(val.labels)) < 2:
        raise ValueError("validation windows must hold both normal and anomalous windows to select an epoch")
    optimizer = make_optimizer(model, cfg.lr)
    generator = torch.Generator(device=dev).manual_seed(seed)
    t0 = time.perf_counter()

    def validate() -> dict[str, float]:
        window_scores, _ = score(model, cfg, val, device=dev, seed=seed, n_masks=cfg.val_masks)
        return {"roc_auc": roc_auc(val.labels, window_scores)}

    result = fit(model, lambda e: _epoch(model, cfg, x, labels, optimizer, e, generator),
                 validate if val is not None else None, epochs if epochs is not None else cfg.epochs,
                 monitor="roc_auc", mode="max", patience=cfg.patience if val is not None else None, progress=progress,
                 on_epoch_end=lambda e, r: log and log(f"[anomaly] epoch {e}: " + ", ".join(
                     f"{k} {v:.4f}" for k, v in r.items() if k != "epoch") + f" ({time.perf_counter() - t0:.0f}s)"))
    result["seconds"] = time.perf_counter() - t0
    return result
