"""The general forecaster: one channel-independent patch Transformer at context 512 with a 720-step
head, SimMTM-pre-trained and then trained to forecast on a multi-domain corpus
(:mod:`simmtm.data.corpus`), so that it forecasts a series it has never seen with no training at all.

Shorter horizons are the first ``H`` steps of the one head. Why one head: one model serves every
horizon of a user's file (one file to ship and fine-tune instead of four), and its loss,
:func:`horizon_loss`, is the mean of the MSEs over the prefixes 96 / 192 / 336 / 720 -- the
benchmark's four-horizon average itself -- so every horizon is trained for, the early steps most.
Targets past the end of the data are NaN and carry no loss, which lets a window near the end of a
split (or a short series) teach the horizons it has.

Legend: B windows, L context (512), Hm head steps (720), C channels.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from simmtm.build import build_forecaster
from simmtm.config import SimMTMConfig, TransformerConfig
from simmtm.data.forecasting import ForecastingData
from simmtm.training.checkpoint import checkpoint_config, load_weights, read_checkpoint
from simmtm.training.engine import autocast
from simmtm.training.finetune import run_finetuning
from simmtm.training.protocols import FinetuneProtocol

HORIZONS = (96, 192, 336, 720)
CONTEXT = 512
HEAD_STEPS = 720


def general_config(**overrides) -> SimMTMConfig:
    """The general model: the ETTm1 CPU recipe's encoder (d_model 32, 8 heads, 2 layers, d_ff 64,
    patches of 16) at L = 512 on univariate windows; SimMTM's 3 views, mask ratio 0.5."""
    base = SimMTMConfig(seq_len=CONTEXT, n_channels=1, encoder=TransformerConfig(32, 8, 2, 64, 0.1, patch_len=16),
                        batch_size=16, lr=1e-3, epochs=10)
    return replace(base, **overrides)


def horizon_weights(horizons: Sequence[int], steps: int) -> torch.Tensor:
    """Per-step weights ``[steps]`` that make a weighted mean of squared errors equal to the mean,
    over ``horizons``, of each horizon's MSE: step ``s`` gets ``sum over h > s of 1 / (h * n)``."""
    if not horizons or max(horizons) > steps or min(horizons) < 1:
        raise ValueError(f"horizons must be in [1, {steps}], got {list(horizons)}")
    w = torch.zeros(steps, dtype=torch.float64)
    for h in horizons:
        w[:h] += 1.0 / (h * len(horizons))
    return w.float()


def horizon_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted MSE of ``pred`` ``[B, Hm, C]`` against ``target`` (same shape, NaN = no target):
    ``sum(w_s * m * e) / sum(w_s * m)`` over windows, steps and channels (``m`` = has a target).
    With every target present it is the mean of the per-horizon MSEs (:func:`horizon_weights`)."""
    present = torch.isfinite(target)
    err = (pred - torch.where(present, target, pred.detach())) ** 2  # [B, Hm, C]; no target: 0 error, no gradient
    w = weights.to(pred.device)[None, :, None] * present  # [B, Hm, C]
    return (err * w).sum() / w.sum().clamp_min(1e-12)


class FutureWindows(Dataset):
    """Windows of a scaled series ``[T, C]`` with origins such that at least ``min_future`` target
    rows exist before ``end``: ``x [L, C]`` and ``y [Hm, C]`` with NaN past ``end`` (the rows after
    ``end`` belong to another split, or do not exist)."""

    def __init__(self, values: np.ndarray, seq_len: int, steps: int, *, min_future: int, start: int = 0,
                 end: int | None = None):
        self.values = torch.as_tensor(np.asarray(values), dtype=torch.float32)
        self.seq_len, self.steps = seq_len, steps
        self.start, self.end = start, len(values) if end is None else end
        self.n = self.end - self.start - seq_len - min_future + 1
        if self.n < 1:
            raise ValueError(f"rows [{self.start}, {self.end}) hold no window of {seq_len} inputs and "
                             f"{min_future} targets")

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(i)
        a = self.start + i
        b = a + self.seq_len
        y = self.values[b:min(b + self.steps, self.end)]
        if len(y) < self.steps:
            y = torch.cat([y, torch.full((self.steps - len(y), y.shape[1]), float("nan"))])
        return self.values[a:b], y  # [L, C], [Hm, C]


@torch.no_grad()
def evaluate_horizons(model: nn.Module, loader: DataLoader, device: torch.device, *,
                      horizons: Sequence[int] = HORIZONS, amp_dtype=None) -> dict[str, float]:
    """MSE and MAE per horizon over every window with ``h`` targets (exactly the standard
    per-horizon protocol, from one forward pass per window), and ``mse`` / ``mae`` their means."""
    model.eval()
    sums = {h: torch.zeros(3, dtype=torch.float64) for h in horizons}  # se, ae, count
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        with autocast(device, amp_dtype):
            pred = model(x).float()
        for h in horizons:
            rows = torch.isfinite(y[:, h - 1]).all(-1)  # [B] windows with h targets
            if rows.any():
                d = pred[rows, :h] - y[rows, :h]
                sums[h] += torch.stack([(d ** 2).sum(dtype=torch.float64), d.abs().sum(dtype=torch.float64),
                                        torch.tensor(float(d.numel()), dtype=torch.float64)]).cpu()
    out = {}
    for h, (se, ae, n) in sums.items():
        if n == 0:
            raise ValueError(f"no window has {h} targets")
        out[f"mse_{h}"], out[f"mae_{h}"] = (se / n).item(), (ae / n).item()
    out["mse"] = float(np.mean([out[f"mse_{h}"] for h in horizons]))
    out["mae"] = float(np.mean([out[f"mae_{h}"] for h in horizons]))
    return out


def build_general(cfg: SimMTMConfig, encoder: nn.Module | None = None, head_dropout: float = 0.0) -> nn.Module:
    """The forecaster ``[B, L, C] -> [B, 720, C]`` (any C: channel-independent)."""
    return build_forecaster(cfg, HEAD_STEPS, encoder=encoder, head_dropout=head_dropout)


def train_forecaster(model: nn.Module, cfg: SimMTMConfig, train: Dataset, val: Dataset, *, device: torch.device,
                     lr: float, batch_size: int, epochs: int, patience: int | None, seed: int,
                     horizons: Sequence[int] = HORIZONS, protocol: FinetuneProtocol | None = None,
                     test: Dataset | None = None, checkpoint: str | Path | None = None, resume: bool = False,
                     settings: dict | None = None, extra: dict | None = None, tag: str = "general",
                     progress: bool = True, log=print) -> dict:
    """Train ``model`` (a :func:`build_general` forecaster) with :func:`horizon_loss` on ``train``
    ``(x, y)`` windows, keep the epoch with the lowest validation four-horizon MSE, evaluate
    ``test`` once; resumable through ``checkpoint`` (:func:`simmtm.training.finetune.run_finetuning`)."""
    weights = horizon_weights(horizons, HEAD_STEPS)
    splits = {"train": train, "val": val, **({"test": test} if test is not None else {})}
    protocol = protocol or FinetuneProtocol()
    settings = {"config": cfg.to_dict(), "lr": lr, "batch_size": batch_size, "epochs": epochs, "patience": patience,
                "seed": seed, "horizons": list(horizons), "train_windows": len(train), "val_windows": len(val),
                **(settings or {})}
    result = run_finetuning(
        model, cfg, splits, device=device, loss_fn=lambda p, y: horizon_loss(p, y, weights),
        evaluate=lambda m, loader, d: evaluate_horizons(m, loader, d, horizons=horizons), monitor="mse",
        lr=lr, batch_size=batch_size, eval_batch_size=4 * batch_size, epochs=epochs, patience=patience,
        protocol=protocol, seed=seed, checkpoint=checkpoint, resume=resume, kind="forecaster", settings=settings,
        resume_extra={"config": cfg.to_dict(), "horizons": list(horizons)},
        checkpoint_extra={"head_steps": HEAD_STEPS, **(extra or {})}, tag=tag, progress=progress, log=log,
        epoch_line=lambda e, row, s: f"[{tag}] epoch {e}: train {row['train_loss']:.4f} val mse {row['val_mse']:.4f} "
                                     + " ".join(f"{h}:{row[f'val_mse_{h}']:.3f}" for h in horizons) + f" {s:.0f}s")
    return {**result, "model": model}


def is_general(source: str | Path) -> bool:
    """Whether ``source`` (a shipped name or a path) is a general forecaster (not a fine-tuned one)."""
    from simmtm.training.pretrained import resolve

    try:
        ckpt = read_checkpoint(resolve(source))
    except (ValueError, FileNotFoundError, OSError):
        return False
    extra = ckpt.get("extra") or {}
    return ckpt.get("kind") == "forecaster" and bool(extra.get("general")) and "inference" not in extra


def load_general(source: str | Path) -> tuple[nn.Module, SimMTMConfig, Path]:
    """The general forecaster's ``[B, 512, C] -> [B, 720, C]`` model, its config and its file."""
    from simmtm.training.pretrained import resolve

    path = resolve(source)
    ckpt = read_checkpoint(path, kind="forecaster")
    cfg = checkpoint_config(ckpt, path)
    model = build_general(cfg)
    load_weights(model, ckpt["model"], path)
    return model, cfg, path


def finetune_general(source: str | Path, data: ForecastingData, out: str | Path, *, fraction: float = 1.0,
                     horizons: Sequence[int] = HORIZONS, lr: float = 1e-4, batch_size: int = 32, epochs: int = 20,
                     patience: int = 3, seed: int = 0, device: str = "cpu", resume: bool = False,
                     progress: bool = True, log=print) -> dict:
    """Fine-tune the general forecaster on ``data`` (loaded with ``seq_len = 512``): the last
    ``fraction`` of its training rows as granite-tsfm's few-shot benchmark takes them
    (:func:`simmtm.data.corpus.fewshot_rows`; the scaler stays fit on every training row), the
    four-horizon loss over ``horizons``, early stopping on validation, the test split once.
    Writes ``<out>/<data>_general.pt``, a forecaster of up to 720 steps answering ``max(horizons)``."""
    from simmtm.data.corpus import fewshot_rows
    from simmtm.forecasting.forecaster import ForecastSpec
    from simmtm.utils.device import resolve_device

    horizons = sorted({int(h) for h in horizons})
    if horizons[0] < 1 or horizons[-1] > HEAD_STEPS:
        raise ValueError(f"the general forecaster forecasts 1 to {HEAD_STEPS} steps, got --pred-len {horizons}")
    if data.seq_len < CONTEXT:
        raise ValueError(f"load the data with seq_len >= {CONTEXT} (got {data.seq_len})")
    for split in ("val", "test"):
        start, end = data.borders[split]
        if end - start - CONTEXT < horizons[-1]:
            raise ValueError(f"the {split} part of {data.name} has {end - start - CONTEXT} rows after a context of "
                             f"{CONTEXT}, fewer than the horizon {horizons[-1]}; ask for a shorter --pred-len")
    model, cfg, path = load_general(source)
    dev = resolve_device(device)
    start, end = fewshot_rows(data.borders["train"][1], CONTEXT, fraction)
    windows = lambda a, b: FutureWindows(data.values, CONTEXT, HEAD_STEPS, min_future=horizons[0], start=a, end=b)  # noqa: E731
    train = windows(start, end)
    val, test = windows(*data.borders["val"]), windows(*data.borders["test"])
    log(f"fine-tuning the general forecaster on {data.name}: training rows [{start}, {end}) "
        f"({fraction:.0%} of the training rows after the first context, taken at the end), {len(train)} windows "
        f"x {data.n_channels} channels; horizons {horizons}")
    checkpoint = Path(out) / f"{data.name}_general.pt"
    torch.manual_seed(seed)
    spec = ForecastSpec.from_data(data, CONTEXT, horizons[-1])
    result = train_forecaster(model.to(dev), cfg, train, val, test=test, device=dev, lr=lr, batch_size=batch_size,
                              epochs=epochs, patience=patience, seed=seed, horizons=horizons, checkpoint=checkpoint,
                              resume=resume, settings={"source": str(path), "fraction": fraction, "rows": [start, end]},
                              extra={"inference": spec.to_dict(), "dataset": data.name, "fraction": fraction,
                                     "general_source": str(path)},
                              tag=f"finetune general {data.name} {fraction:.0%}", progress=progress, log=log)
    return {**result, "checkpoint": checkpoint, "rows": (start, end)}
