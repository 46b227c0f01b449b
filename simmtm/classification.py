"""Classification experiments: pre-train SimMTM on unlabelled windows, fine-tune (or linearly
probe) a classifier on a few labelled ones, select on the VALIDATION split, test once.

Metrics come from :func:`simmtm.metrics.classification_metrics` over the whole test split.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from simmtm.build import build_classifier
from simmtm.checkpoint import save_checkpoint
from simmtm.config import SimMTMConfig
from simmtm.data.windows import LabelledSeries
from simmtm.distributed import (data_parallel, gather_objects, is_distributed, rank, rank_seed, setup, shard,
                                train_sampler, world_size)
from simmtm.engine import fit, make_loader, make_optimizer, train_one_epoch
from simmtm.experiments.records import RecordStore, atomic_write_text, run_folder, summary_table
from simmtm.metrics import classification_metrics
from simmtm.pretraining import run_pretraining
from simmtm.protocols import FinetuneProtocol, parameter_groups, training_view
from simmtm.resume import ResumeState

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
    ``checkpoint`` (:mod:`simmtm.pretraining`)."""
    cfg = replace(cfg, seq_len=x_train.shape[1], n_channels=x_train.shape[2])
    zeros = lambda x: np.zeros(len(x), dtype=np.int64)  # noqa: E731  (labels unused)
    train = LabelledSeries(x_train, zeros(x_train))
    val = None if x_val is None else LabelledSeries(x_val, zeros(x_val))
    return run_pretraining(cfg, train, val, device=device, epochs=epochs, amp_dtype=amp_dtype, seed=seed,
                           checkpoint=checkpoint, resume=resume, val_batch_size=4 * cfg.batch_size, compile=compile,
                           progress=progress, log=log, tag="pretrain")


def finetune(cfg: SimMTMConfig, splits: dict[str, Split], *, encoder: nn.Module | None = None,
             linear_probe: bool = False, lr: float = 1e-4, batch_size: int = 32, epochs: int = 100,
             patience: int | None = None, device: str = "auto", seed: int = 0, checkpoint: str | Path | None = None,
             resume: bool = False, progress: bool = False, log=None, protocol: FinetuneProtocol | None = None) -> dict:
    """Fine-tune a classifier on ``splits["train"]``, select the epoch on ``splits["val"]``
    (accuracy, ties broken by loss), then evaluate ``splits["test"]`` once.

    ``encoder``: pre-trained weights (deep-copied, so the caller's model is untouched); None
    trains from a random initialisation. ``linear_probe`` freezes the encoder. With ``checkpoint``
    the run keeps a resume state after every epoch; ``resume=True`` continues an interrupted run
    exactly (:mod:`simmtm.resume`). Under torchrun it
    runs data-parallel (metrics over the whole splits, logs and checkpoint from process 0).
    ``protocol`` (:mod:`simmtm.protocols`; default full fine-tuning at one lr) can train the head
    alone first and give the encoder a smaller lr; ``epochs`` counts the full phase.
    """
    protocol = protocol or FinetuneProtocol()
    if linear_probe and not protocol.is_default:
        raise ValueError(f"linear_probe trains the head only; it does not combine with protocol {protocol.name!r}")
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = splits["train"], splits["val"], splits["test"]
    n_classes = int(max(y_tr.max(), y_va.max(), y_te.max()) + 1)
    if len(np.unique(y_tr)) < 2:
        raise ValueError(f"the training split holds a single class ({np.unique(y_tr)}); fine-tuning needs two or more")
    cfg = replace(cfg, seq_len=x_tr.shape[1], n_channels=x_tr.shape[2])
    dev = setup(device)  # joins torchrun's process group when launched by it
    W, r = world_size(), rank()
    if W > 1 and protocol.head_epochs:
        raise ValueError("probe-then-full fine-tuning is not supported under torchrun yet; run it in one process")
    log = log if r == 0 else None
    torch.manual_seed(seed)
    enc = copy.deepcopy(encoder) if encoder is not None else None
    if linear_probe:
        if enc is None:
            raise ValueError("linear_probe needs a pre-trained encoder")
        enc = FrozenEncoder(enc)
    model = build_classifier(cfg, n_classes, encoder=enc).to(dev)
    data = {name: LabelledSeries(*splits[name]) for name in ("train", "val", "test")}
    step_model, sampler = model, None
    if W > 1:  # data-parallel: each process a shard; predictions are gathered for the metrics
        torch.manual_seed(rank_seed(seed))
        step_model, sampler = data_parallel(model, dev), train_sampler(data["train"], seed)
        data.update({k: shard(data[k]) for k in ("val", "test")})
    loaders = {name: make_loader(ds, batch_size if name == "train" else 256, shuffle=name == "train", device=dev,
                                 seed=seed, sampler=sampler if name == "train" else None) for name, ds in data.items()}
    optimizer = make_optimizer(model, lr, groups=parameter_groups(model, lr, protocol))
    if resume and checkpoint is None:
        raise ValueError("resume=True needs the checkpoint path of the run to resume")
    resumable = None if checkpoint is None else ResumeState(
        checkpoint, {"model": model, "optimizer": optimizer}, {"shuffle": loaders["train"].generator},
        {"config": cfg.to_dict(), "protocol": protocol.to_dict()})
    start = resumable.restore(log or (lambda *_: None), "finetune") if resume else None
    t0 = time.perf_counter()

    def run_epoch(epoch: int) -> dict[str, float]:
        if sampler is not None:
            sampler.set_epoch(epoch)
        return train_one_epoch(training_view(step_model, protocol, epoch), loaders["train"], F.cross_entropy,
                               optimizer, dev, progress=False)

    result = fit(model, run_epoch, lambda: evaluate(model, loaders["val"], dev), protocol.total_epochs(epochs),
                 monitor="select", mode="max", patience=patience, progress=progress and r == 0, start=start,
                 min_epochs=protocol.min_epochs(patience),
                 on_state=resumable.save if resumable is not None else None,
                 on_epoch_end=(lambda e, r_: log(f"[finetune] epoch {e}: train loss {r_['train_loss']:.4f} "
                                                 f"val acc {r_['val_accuracy']:.4f}")) if log else None)
    test = evaluate(model, loaders["test"], dev)  # once, with the best-validation weights
    test.pop("select")
    if checkpoint is not None and r == 0:
        save_checkpoint(checkpoint, model, cfg, optimizer=optimizer, epoch=result["best_epoch"], metrics=test,
                        kind="classifier", n_classes=n_classes, protocol=protocol.to_dict())
    best_val = result["history"][result["best_epoch"]]
    return {"test": test, "val_accuracy": best_val["val_accuracy"], "best_epoch": result["best_epoch"],
            "history": result["history"], "seconds": time.perf_counter() - t0, "model": model}


# --------------------------------------------------------------------------- benchmark settings
SETTINGS = ("epilepsy", "sleepeeg-epilepsy", "sleepeeg-gesture")


def _stratified_holdout(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    held = np.concatenate([rng.choice(np.flatnonzero(y == c), max(1, int(round(fraction * (y == c).sum()))),
                                      replace=False) for c in np.unique(y)])
    return np.setdiff1d(np.arange(len(y)), held), np.sort(held)


def label_fractions(y: np.ndarray, fractions: list[float], seed: int = 0) -> dict[float, np.ndarray]:
    """Nested, stratified subsets of the labelled windows ``y`` for limited-label fine-tuning:
    ``{fraction: sorted indices}``. Each class is shuffled once and every fraction takes the first
    ``max(1, round(fraction * n_class))`` of it, so each subset keeps the class shares (and at
    least one window per class) and a smaller fraction's subset lies inside every larger one's."""
    y = np.asarray(y)
    if not fractions or min(fractions) <= 0 or max(fractions) > 1:
        raise ValueError(f"fractions must lie in (0, 1], got {fractions}")
    rng = np.random.default_rng(seed)
    orders = {c: rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)}
    return {f: np.sort(np.concatenate([o[:max(1, int(round(f * len(o))))] for o in orders.values()]))
            for f in fractions}


def standardize(reference: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Scale ``arrays`` ``[N, L, C]`` with the per-channel mean and std of ``reference``."""
    mean = reference.mean(axis=(0, 1), keepdims=True)
    std = reference.std(axis=(0, 1), keepdims=True) + 1e-8
    return tuple(((a - mean) / std).astype(np.float32) for a in arrays)


def benchmark_data(setting: str, root: str | Path, *, split_seed: int = 0, max_pretrain: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, Split], str]:
    """``(pretrain_x, pretrain_val_x, finetune_splits, description)`` for a named setting.

    Scaling: each dataset is standardised with the mean and std of ITS OWN training windows
    (one scalar pair per dataset and channel). Unlike per-window z-scoring this keeps amplitude,
    which separates seizure from non-seizure EEG, and it puts raw-microvolt SleepEEG and the
    Epilepsy EEG on a common scale for transfer.

    - ``epilepsy``: UCI Epileptic Seizure table, seizure vs not; test = every row of half of
      the 500 recordings; 60 train / 20 val balanced rows from the other half, which is also the
      unlabelled pre-training pool (10 % of it held out for pre-training validation).
    - ``sleepeeg-epilepsy``: pre-train on SleepEEG_subset train (cropped to its first 178 points,
      the Epilepsy length, as the official code does), validate on its val split; fine-tune and
      test exactly as ``epilepsy``.
    - ``sleepeeg-gesture``: same pre-training; Gesture channel 0 cropped to 178 points (the
      official code's choice, stated here); validation = 20 % of Gesture train (in our copy
      val.pt and test.pt hold the same samples, so selecting on val.pt would be selecting on test).
    """
    from simmtm.data.classification import load_tfc, load_tfc_split, load_uci_epilepsy, uci_splits

    root = Path(root)
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; choose from {SETTINGS}")
    rng = np.random.default_rng(split_seed)
    if setting.startswith("sleepeeg"):
        pre_x, _ = load_tfc_split(root / "SleepEEG_subset", "train", length=178)
        pre_val, _ = load_tfc_split(root / "SleepEEG_subset", "val", length=178)
        pre_x, pre_val = standardize(pre_x, pre_x, pre_val)
        pre_val = pre_val[rng.choice(len(pre_val), min(len(pre_val), 4096), replace=False)]
    if setting in ("epilepsy", "sleepeeg-epilepsy"):
        x, y, recording = load_uci_epilepsy(root / "Epilepsy_UCI" / "epileptic_seizure_recognition.csv", "none")
        idx = uci_splits(y, recording, n_train=60, n_val=20, test_fraction=0.5, seed=split_seed)
        (x,) = standardize(x[idx["pretrain"]], x)  # statistics of the non-test recordings only
        splits = {k: (x[idx[k]], y[idx[k]]) for k in ("train", "val", "test")}
        desc = (f"UCI Epileptic Seizure (seizure vs rest), split by recording: 60 train / 20 val balanced, "
                f"test {len(idx['test'])} rows of 250 held-out recordings")
        if setting == "epilepsy":
            pool = idx["pretrain"]
            tr, va = _stratified_holdout(np.zeros(len(pool), dtype=int), 0.1, split_seed)
            pre_x, pre_val = x[pool[tr]], x[pool[va]]
            desc += f"; pre-training pool {len(pool)} rows of the other 250 recordings"
        else:
            desc += f"; pre-training on SleepEEG_subset train ({len(pre_x)} windows, first 178 points)"
    elif setting == "sleepeeg-gesture":
        g = load_tfc(root / "Gesture_TFC", length=178, channels=[0])
        (gx, gy), (tx, ty) = g["train"], g["test"]
        gx, tx = standardize(gx, gx, tx)
        tr, va = _stratified_holdout(gy, 0.2, split_seed)
        splits = {"train": (gx[tr], gy[tr]), "val": (gx[va], gy[va]), "test": (tx, ty)}
        desc = (f"Gesture channel 0, first 178 points: {len(tr)} train / {len(va)} val (from train.pt) / "
                f"{len(g['test'][1])} test; pre-training on SleepEEG_subset train ({len(pre_x)} windows)")
    if max_pretrain is not None and len(pre_x) > max_pretrain:  # a CPU budget knob, stated in the results
        pre_x = pre_x[rng.choice(len(pre_x), max_pretrain, replace=False)]
        desc += f", of which a random {max_pretrain} are used"
    return pre_x, pre_val, splits, desc


def study(setting: str, root: str | Path, cfg: SimMTMConfig, seeds: list[int], *, out: str | Path,
          pretrain_epochs: int, finetune_epochs: int, lr: float = 1e-4, pretrain_once: bool = False,
          max_pretrain: int | None = None, device: str = "auto", command: str = "",
          encoder: nn.Module | None = None, encoder_name: str | None = None,
          save_pretrained: str | Path | None = None, checkpoints: str | Path = "checkpoints/studies",
          protocol: FinetuneProtocol | None = None) -> list[dict]:
    """Pre-trained vs random init (and linear probe) over seeds; writes a markdown table and JSON.

    Each seed is a unit recorded in the folder beside ``out`` (``results/x.md`` -> ``results/x/``):
    re-running the same command skips finished seeds. ``encoder`` (e.g. a shipped one,
    :func:`simmtm.pretrained.load_pretrained`, named ``encoder_name`` in the table) replaces
    pre-training for every seed; the first pre-training's checkpoint is written to
    ``save_pretrained`` (default ``<checkpoints>/<out name>/pretrain_seed<first>.pt``), from which
    ``pretrain_once`` studies resume the later seeds. ``protocol`` (:mod:`simmtm.protocols`)
    fine-tunes the "SimMTM fine-tune" and "random init" rows; the default (full fine-tuning at
    one lr) leaves the settings, and so every earlier run folder, as they were."""
    from simmtm.checkpoint import load_pretrained_encoder

    pre_x, pre_val, splits, desc = benchmark_data(setting, root, max_pretrain=max_pretrain)
    protocol = protocol or FinetuneProtocol()
    if not protocol.is_default:
        desc += f"; fine-tuning protocol: {protocol.describe()}"
    given = encoder is not None
    if given:
        desc += f"; no pre-training: every seed starts from the given encoder {encoder_name or ''}".rstrip()
    out = Path(out)
    store = RecordStore(run_folder(out))
    store.check_settings({"setting": setting, "config": cfg.to_dict(), "pretrain_epochs": pretrain_epochs,
                          "finetune_epochs": finetune_epochs, "lr": lr, "pretrain_once": pretrain_once,
                          "max_pretrain": max_pretrain, "encoder": encoder_name if given else None,
                          **({} if protocol.is_default else {"protocol": protocol.to_dict()})})
    first = Path(save_pretrained or Path(checkpoints) / out.stem / f"pretrain_seed{seeds[0]}.pt")

    def unit(seed: int) -> dict:
        t0, enc, pre_seconds = time.perf_counter(), encoder, 0.0
        if not given and pretrain_once and seed != seeds[0]:
            enc, _ = load_pretrained_encoder(first)  # the first seed's pre-training, from its checkpoint
        elif not given:
            model, pre = pretrain(cfg, pre_x, pre_val, device=device, epochs=pretrain_epochs, seed=seed, progress=False,
                                  log=lambda *a: None, checkpoint=first if seed == seeds[0] else None)
            enc, pre_seconds = model.encoder, pre["seconds"]
        rows = []
        for init, e, probe in (("SimMTM fine-tune", enc, False), ("SimMTM linear probe", enc, True),
                               ("random init", None, False)):
            r = finetune(cfg, splits, encoder=e, linear_probe=probe, lr=lr, epochs=finetune_epochs, device=device,
                         seed=seed, protocol=None if probe else protocol)
            rows.append({"seed": seed, "init": init, **r["test"], "val_accuracy": r["val_accuracy"],
                         "best_epoch": r["best_epoch"], "pretrain_seconds": pre_seconds})
            print(f"{setting} seed {seed} {init}: acc {r['test']['accuracy']:.4f} f1 {r['test']['f1']:.4f} "
                  f"(val acc {r['val_accuracy']:.3f}, epoch {r['best_epoch']})", flush=True)
        return {"runs": rows, "seconds": time.perf_counter() - t0}

    runs = [row for seed in seeds for row in store.run({"seed": seed}, lambda seed=seed: unit(seed))["runs"]]
    saved = {"command": command, "title": f"{setting} ({cfg.encoder.kind})", "setting": desc, "runs": runs}
    atomic_write_text(out.with_suffix(".json"), json.dumps(saved, indent=1))
    atomic_write_text(out, classification_markdown(saved))
    return runs


def classification_markdown(saved: dict) -> str:
    """The study's table from its saved JSON (``title``, ``setting``, ``command``, ``runs``)."""
    return summary_table(saved["title"], [f"Data: {saved['setting']}.", f"Command: `{saved['command']}`"],
                         saved["runs"], ("init",), ("accuracy", "precision", "recall", "f1", "auroc", "auprc"),
                         scale=100.0, digits=2)
