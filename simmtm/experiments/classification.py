"""The classification studies: the benchmark settings (UCI Epilepsy, SleepEEG -> Epilepsy,
SleepEEG -> Gesture), their data, and pre-trained vs random init over seeds written to a table.

The task itself (pre-train, fine-tune, evaluate, predict) is :mod:`simmtm.classification.training`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch.nn as nn

from simmtm.classification.training import Split, finetune, pretrain, stratified_split
from simmtm.config import SimMTMConfig
from simmtm.experiments.records import RecordStore, run_folder, summary_table
from simmtm.utils.atomic import atomic_write_text
from simmtm.training.protocols import FinetuneProtocol

SETTINGS = ("epilepsy", "sleepeeg-epilepsy", "sleepeeg-gesture")


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
            tr, va = stratified_split(np.zeros(len(pool), dtype=int), 0.1, split_seed)
            pre_x, pre_val = x[pool[tr]], x[pool[va]]
            desc += f"; pre-training pool {len(pool)} rows of the other 250 recordings"
        else:
            desc += f"; pre-training on SleepEEG_subset train ({len(pre_x)} windows, first 178 points)"
    elif setting == "sleepeeg-gesture":
        g = load_tfc(root / "Gesture_TFC", length=178, channels=[0])
        (gx, gy), (tx, ty) = g["train"], g["test"]
        gx, tx = standardize(gx, gx, tx)
        tr, va = stratified_split(gy, 0.2, split_seed)
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
    :func:`simmtm.training.pretrained.load_pretrained`, named ``encoder_name`` in the table) replaces
    pre-training for every seed; the first pre-training's checkpoint is written to
    ``save_pretrained`` (default ``<checkpoints>/<out name>/pretrain_seed<first>.pt``), from which
    ``pretrain_once`` studies resume the later seeds. ``protocol`` (:mod:`simmtm.training.protocols`)
    fine-tunes the "SimMTM fine-tune" and "random init" rows; the default (full fine-tuning at
    one lr) leaves the settings, and so every earlier run folder, as they were."""
    from simmtm.training.checkpoint import load_pretrained_encoder

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
