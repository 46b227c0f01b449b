"""Training loops: one epoch of pre-training, one epoch of supervised fine-tuning, evaluation,
and ``fit`` with early stopping on validation data only.

Loops keep running sums on the device and synchronise once per epoch (plus a progress-bar
refresh every ``log_every`` steps), so a CUDA run is not throttled by host syncs.

Every training step's loss is checked before the update: the first non-finite one stops the run
with :class:`NonFiniteLossError` (epoch, step and learning rate in its one line), before the
weights take it in, so no checkpoint or resume state is ever written from a diverged model. On
the CPU the check is immediate; on an accelerator the first bad step is recorded on the device
and reported at the next sync (a progress refresh or the end of the epoch). Under torchrun the
check is collective, at the end of the epoch (every process stops together, none waits forever
for another; the epoch's updates are then discarded with the run, as nothing is saved from it).
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from contextlib import nullcontext

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from simmtm.utils.distributed import is_distributed, sum_across_ranks


class NonFiniteLossError(ValueError):
    """Training stopped at the first non-finite loss (a user-caused failure: lr, data, precision)."""

    def __init__(self, step: int, loss: float | None, lr: float | None, epoch: int | None = None):
        self.step, self.loss, self.lr, self.epoch = step, loss, lr, epoch
        where = (f"epoch {epoch}, " if epoch is not None else "") + f"step {step}"
        super().__init__(f"training stopped: non-finite loss{f' ({loss})' if loss is not None else ''} at {where}"
                         + (f" (lr {lr:g})" if lr is not None else "")
                         + "; nothing was saved from it (lower the learning rate, or check the data for extreme values)")

    def at_epoch(self, epoch: int) -> "NonFiniteLossError":
        return NonFiniteLossError(self.step, self.loss, self.lr, epoch)


class FiniteGuard:
    """Checks each step's loss (see the module docstring); ``check`` before the update, ``flush``
    at each sync point."""

    _NONE = 2**62

    def __init__(self, device: torch.device, optimizer: torch.optim.Optimizer | None = None):
        self.device = torch.device(device)
        self.collective = is_distributed()
        self.immediate = self.device.type == "cpu" and not self.collective
        self.lr = optimizer.param_groups[0]["lr"] if optimizer is not None and optimizer.param_groups else None
        self.first: torch.Tensor | None = None

    def check(self, step: int, loss: torch.Tensor) -> None:
        loss = loss.detach()
        if self.immediate:
            if not torch.isfinite(loss).all():
                raise NonFiniteLossError(step, float(loss.float().reshape(-1)[0]), self.lr)
            return
        step_or_none = torch.where(torch.isfinite(loss).all(), self._NONE, step)
        self.first = step_or_none if self.first is None else torch.minimum(self.first, step_or_none)

    def flush(self, final: bool = True) -> None:
        """Raise if a step so far had a non-finite loss; under torchrun only at the epoch's end
        (``final``), with the first such step over every process (so that all stop together)."""
        if self.collective and not final:
            return
        first = self.first
        if self.collective:
            import torch.distributed as dist

            first = (first if first is not None else torch.tensor(self._NONE, device=self.device)).reshape(1).long()
            dist.all_reduce(first, op=dist.ReduceOp.MIN)
        if first is not None and (step := int(first.reshape(-1)[0])) != self._NONE:
            raise NonFiniteLossError(step, None, self.lr)


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, device: torch.device | str = "cpu",
                drop_last: bool = False, seed: int | None = None, num_workers: int = 0,
                sampler=None) -> DataLoader:
    """A DataLoader with pinned memory on CUDA and a seeded shuffle (or ``sampler``'s order)."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                      drop_last=drop_last, pin_memory=torch.device(device).type == "cuda", generator=generator,
                      num_workers=num_workers)


def make_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.0,
                   groups: list[dict] | None = None) -> torch.optim.Optimizer:
    """Adam over the trainable parameters (or over parameter ``groups``, each a dict with
    ``params`` and its own ``lr``: :func:`simmtm.training.protocols.parameter_groups`), with the fused
    kernel where this torch supports it for the parameters' device (about 5x faster per step
    than the default on CPU; the update is the same Adam)."""
    params = groups if groups is not None else [p for p in model.parameters() if p.requires_grad]
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Mixed-precision context for ``device`` (no-op when ``dtype`` is None)."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def maybe_compile(model: nn.Module, enabled: bool) -> nn.Module:
    """``torch.compile(model)`` when ``enabled`` (it shares the parameters; train, evaluate and
    save ``model`` as usual), else ``model`` itself."""
    return torch.compile(model) if enabled else model


def grad_scaler(device: torch.device, amp_dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """Loss scaling for fp16 autocast (a no-op pass-through for fp32 and bf16)."""
    return torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)


def _step(loss: torch.Tensor, model: nn.Module, optimizer: torch.optim.Optimizer,
          scaler: torch.amp.GradScaler | None, grad_clip: float | None) -> None:
    optimizer.zero_grad(set_to_none=True)
    if scaler is None or not scaler.is_enabled():
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        return
    scaler.scale(loss).backward()
    if grad_clip is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()


class EpochTimer:
    """Estimates an epoch's duration from its first ``steps`` steps and reports it once through
    ``log`` (``None``: silent): ``[desc] about 7.3 min per epoch (512 steps at 0.86 s a step)``."""

    def __init__(self, n_steps: int, log: Callable[[str], None] | None, desc: str, device: torch.device,
                 steps: int = 5):
        self.n_steps, self.log, self.desc, self.device = n_steps, log, desc, torch.device(device)
        self.at = min(steps, n_steps)
        self.t0 = time.perf_counter()

    def step(self, done: int) -> None:
        """Call after each step with the number of steps done so far."""
        if self.log is None or done != self.at:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        per_step = (time.perf_counter() - self.t0) / done
        total = per_step * self.n_steps
        when = f"{total / 60:.1f} min" if total >= 60 else f"{total:.1f} s"
        self.log(f"[{self.desc}] estimated {when} per epoch ({self.n_steps} steps at {per_step:.2f} s a step, "
                 f"from the first {done})")


def _inputs(batch) -> torch.Tensor:
    return batch[0] if isinstance(batch, (list, tuple)) else batch


def pretrain_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                       device: torch.device, *, amp_dtype: torch.dtype | None = None,
                       grad_clip: float | None = None, generator: torch.Generator | None = None,
                       scaler: torch.amp.GradScaler | None = None, progress: bool = True, log_every: int = 10,
                       desc: str = "pretrain", log: Callable[[str], None] | None = None) -> dict[str, float]:
    """One pass of pre-training (SimMTM or any objective returning ``.loss`` and ``.terms``).
    Returns the sample-weighted mean of ``loss`` and of each term over the epoch. Pass
    ``scaler`` (:func:`grad_scaler`) with fp16 autocast; ``log`` receives the estimated time
    per epoch after the first steps (:class:`EpochTimer`)."""
    model.train()
    sums: dict[str, torch.Tensor] = {}
    n = 0
    guard = FiniteGuard(device, optimizer)
    timer = EpochTimer(len(loader), log, desc, device)
    bar = tqdm(loader, desc=desc, disable=not progress, leave=False)
    for step, batch in enumerate(bar):
        x = _inputs(batch).to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            out = model(x, generator=generator)
        guard.check(step, out.loss)
        _step(out.loss, model, optimizer, scaler, grad_clip)
        _accumulate(sums, out, len(x))
        n += len(x)
        timer.step(step + 1)
        if progress and step % log_every == 0:
            guard.flush(final=False)
            bar.set_postfix(loss=f"{out.loss.item():.4f}")
    guard.flush()
    return _means(sums, n)


def _accumulate(sums: dict[str, torch.Tensor], out, weight: int) -> None:
    """Add ``weight *`` the loss and each term to the on-device running sums (no host sync)."""
    for k, v in {"loss": out.loss.detach(), **out.terms}.items():
        sums[k] = sums.get(k, 0) + v.float() * weight


def _means(sums: dict[str, torch.Tensor], n: int) -> dict[str, float]:
    """Sample-weighted means; under torch.distributed the sums and counts of every process are
    added first (never a mean of per-process means)."""

    if not sums:
        return {}
    device = next(iter(sums.values())).device
    total = sum_across_ranks(torch.stack([*(v.float() for v in sums.values()), torch.tensor(float(n), device=device)]))
    *values, count = total.tolist()
    return {k: v / max(count, 1) for k, v in zip(sums, values)}


@torch.no_grad()
def evaluate_pretrain(model: nn.Module, loader: DataLoader, device: torch.device, *,
                      amp_dtype: torch.dtype | None = None, seed: int = 0) -> dict[str, float]:
    """Pre-training losses on held-out data, with masks drawn from a fixed seed so that
    epochs are compared on the same masks."""
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    sums: dict[str, torch.Tensor] = {}
    n = 0
    for batch in loader:
        x = _inputs(batch).to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            out = model(x, generator=generator)
        _accumulate(sums, out, len(x))
        n += len(x)
    return _means(sums, n)


def train_one_epoch(model: nn.Module, loader: DataLoader, loss_fn: Callable, optimizer: torch.optim.Optimizer,
                    device: torch.device, *, amp_dtype: torch.dtype | None = None, grad_clip: float | None = None,
                    scaler: torch.amp.GradScaler | None = None, progress: bool = True, desc: str = "train",
                    log: Callable[[str], None] | None = None) -> dict[str, float]:
    """One supervised epoch over ``(x, y)`` batches; returns the sample-weighted mean loss.
    ``log`` receives the estimated time per epoch after the first steps (:class:`EpochTimer`)."""
    model.train()
    total, n = torch.zeros((), device=device), 0
    guard = FiniteGuard(device, optimizer)
    timer = EpochTimer(len(loader), log, desc, device)
    for step, (x, y) in enumerate(tqdm(loader, desc=desc, disable=not progress, leave=False)):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            loss = loss_fn(model(x).float(), y)
        guard.check(step, loss)
        _step(loss, model, optimizer, scaler, grad_clip)
        total += loss.detach() * len(x)
        n += len(x)
        timer.step(step + 1)
    guard.flush()
    return _means({"loss": total}, n)


@torch.no_grad()
def evaluate_forecaster(model: nn.Module, loader: DataLoader, device: torch.device, *,
                        amp_dtype: torch.dtype | None = None) -> dict[str, float]:
    """MSE and MAE over every predicted value of the loader (sums, not a mean of batch means;
    under torch.distributed, summed over every process's shard)."""
    model.eval()
    se, ae, count = torch.zeros((), device=device, dtype=torch.float64), torch.zeros((), device=device, dtype=torch.float64), 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            pred = model(x).float()
        se += ((pred - y) ** 2).sum(dtype=torch.float64)
        ae += (pred - y).abs().sum(dtype=torch.float64)
        count += y.numel()

    se, ae, count = sum_across_ranks(torch.stack([se, ae, torch.tensor(float(count), device=device, dtype=torch.float64)]))
    return {"mse": (se / count).item(), "mae": (ae / count).item()}


@torch.no_grad()
def evaluate_classifier(model: nn.Module, loader: DataLoader, device: torch.device, *,
                        amp_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Cross-entropy and accuracy over the whole loader."""
    model.eval()
    loss, correct, count = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            logits = model(x).float()
        loss += F.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
        count += len(y)
    return {"loss": (loss / count).item(), "accuracy": (correct / count).item()}


def fit(model: nn.Module, run_epoch: Callable[[int], dict[str, float]],
        validate: Callable[[], dict[str, float]] | None, epochs: int, *, monitor: str = "loss",
        mode: str = "min", patience: int | None = None, progress: bool = True,
        on_epoch_end: Callable[[int, dict], None] | None = None, start: dict | None = None,
        on_state: Callable[[dict], None] | None = None, min_epochs: int = 0) -> dict:
    """Run ``epochs`` epochs, keep the weights with the best VALIDATION ``monitor`` and restore
    them at the end; stop early after ``patience`` epochs without improvement.

    Args:
        run_epoch: ``epoch -> train metrics``.
        validate: ``() -> validation metrics`` (None: keep the last weights, no early stopping).
        mode: ``"min"`` or ``"max"`` for ``monitor``.
        start: the loop state from an interrupted run (what ``on_state`` received last) to
            continue from the epoch after it.
        on_state: called after every epoch with the loop state ``{"epoch", "history", "best",
            "best_epoch", "best_state", "stale"}`` (save it to resume later).
        min_epochs: early stopping never ends the run before this many epochs have run
            (e.g. a probing phase, :mod:`simmtm.training.protocols`).

    Returns:
        ``{"history": [per-epoch dict], "best_epoch": int, "best": float}``.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    sign = 1.0 if mode == "min" else -1.0
    history, best, best_epoch, best_state, stale = [], math.inf, -1, None, 0
    first = 0
    if start is not None:
        history, best, best_epoch = list(start["history"]), start["best"], start["best_epoch"]
        best_state, stale, first = start["best_state"], start["stale"], start["epoch"] + 1
    if patience is not None and stale >= patience and first >= min_epochs:  # the interrupted run had stopped early
        first = epochs
    for epoch in tqdm(range(first, epochs), desc="epochs", disable=not progress, initial=first, total=epochs):
        try:
            train_metrics = run_epoch(epoch)
        except NonFiniteLossError as err:
            raise err.at_epoch(epoch) from None
        row = {"epoch": epoch, **{f"train_{k}": v for k, v in train_metrics.items()}}
        if validate is not None:
            row.update({f"val_{k}": v for k, v in validate().items()})
            score = sign * row[f"val_{monitor}"]
            if score < best:
                best, best_epoch, stale = score, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
        history.append(row)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if on_state is not None:
            on_state({"epoch": epoch, "history": history, "best": best, "best_epoch": best_epoch,
                      "best_state": best_state, "stale": stale})
        if patience is not None and stale >= patience and epoch + 1 >= min_epochs:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = len(history) - 1
    return {"history": history, "best_epoch": best_epoch, "best": sign * best if best_state is not None else None}
