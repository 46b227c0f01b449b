"""The synthetic anomaly benchmark: three detectors, the same data, budget and seeds.

Methods (``METHODS``):
    sdmae        self-distilled masked autoencoder (teacher-student discrepancy)
    mae          plain masked autoencoder from random init (reconstruction error)
    simmtm-mae   the same masked autoencoder with a SimMTM-pre-trained encoder (reconstruction error)

Data per seed s: ``make_anomaly_windows`` with seeds 1000+s (train: 3% anomalous windows, their
labels known), 2000+s (validation: 25%) and 3000+s (test: 25%); values standardised with the
training split's per-channel statistics. Epochs are selected on validation ROC-AUC; the test set
is scored once.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from simmtm.anomaly.data import AnomalyWindows, channel_stats
from simmtm.anomaly.metrics import detection_report, point_adjust, precision_recall_f1, roc_auc
from simmtm.anomaly.synthetic import ANOMALY_TYPES, make_anomaly_windows
from simmtm.anomaly.training import AnomalyConfig, build_detector, score, train_detector
from simmtm.experiments.records import RecordStore, dump_json, run_folder, summary_rows, table_lines
from simmtm.utils.atomic import atomic_write_text

METHODS = ("sdmae", "mae", "simmtm-mae")
SCORING = ("random", "last")


def synthetic_splits(length: int = 96, n_channels: int = 1, *, seed: int = 0, sizes: tuple[int, int, int] = (2000, 400, 1000),
                     train_ratio: float = 0.03, test_ratio: float = 0.25) -> dict[str, AnomalyWindows]:
    """Train / val / test windows of the synthetic benchmark, standardised by the train split."""
    raw = {name: make_anomaly_windows(n, length, n_channels, anomaly_ratio=ratio, seed=offset + seed)
           for name, n, ratio, offset in zip(("train", "val", "test"), sizes, (train_ratio, test_ratio, test_ratio),
                                             (1000, 2000, 3000))}
    mean, std = channel_stats(raw["train"])
    return {name: w.standardized(mean, std) for name, w in raw.items()}


def pretrain_encoder(cfg: AnomalyConfig, windows: AnomalyWindows, *, epochs: int, device: str = "auto", seed: int = 0,
                     progress: bool = False, log=None):
    """Pre-train SimMTM (same encoder sizes, no instance norm: the data is already standardised) on
    the NORMAL windows of ``windows``; returns the encoder."""
    from simmtm.classification.training import pretrain
    from simmtm.config import SimMTMConfig

    normal = windows.x[windows.labels == 0]
    sim_cfg = SimMTMConfig(seq_len=normal.shape[1], n_channels=normal.shape[2], instance_norm=False,
                           encoder=cfg.encoder,
                           batch_size=cfg.batch_size // 2, lr=cfg.lr, epochs=epochs)
    model, _ = pretrain(sim_cfg, normal, device=device, seed=seed, progress=progress, log=log or (lambda *_: None))
    return model.encoder


def per_type_auc(labels: np.ndarray, kinds: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Window ROC-AUC of each anomaly type against all normal windows."""
    normal = labels == 0
    return {k: roc_auc(np.r_[np.zeros(normal.sum()), np.ones((kinds == k).sum())],
                       np.r_[scores[normal], scores[kinds == k]]) for k in ANOMALY_TYPES if (kinds == k).any()}


def evaluate(model, cfg: AnomalyConfig, val: AnomalyWindows, test: AnomalyWindows, *, mode: str, device="cpu",
             seed: int = 0) -> dict:
    """Window- and point-level metrics on ``test`` with thresholds chosen on ``val``."""
    val_w, val_p = score(model, cfg, val, mode=mode, device=device, seed=seed)
    test_w, test_p = score(model, cfg, test, mode=mode, device=device, seed=seed + 1)
    out = {f"window_{k}": v for k, v in detection_report(val.labels, val_w, test.labels, test_w).items()}
    scored = ~np.isnan(test_p)  # "last" scoring scores only the last steps
    val_scored = ~np.isnan(val_p)
    if test.point_labels[scored].any() and val.point_labels[val_scored].any():
        point = detection_report(val.point_labels[val_scored], val_p[val_scored],
                                 test.point_labels[scored], test_p[scored])
        out.update({f"point_{k}": v for k, v in point.items()})
        adjusted = point_adjust(np.nan_to_num(test_p, nan=-np.inf) >= point["threshold"], test.point_labels & scored)
        out["point_adjusted_f1"] = precision_recall_f1(test.point_labels & scored, adjusted)["f1"]
    out["type_auc"] = per_type_auc(test.labels, test.kinds, test_w)
    out["_scores"] = {"window": test_w, "point": test_p}
    return out


def run_method(method: str, cfg: AnomalyConfig, splits: dict[str, AnomalyWindows], *, seed: int, epochs: int,
               pretrain_epochs: int, device: str = "auto", progress: bool = False, log=None) -> tuple[object, dict]:
    """Train one method on ``splits`` and evaluate it under every scoring mode."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    t0 = time.perf_counter()
    encoder = None
    if method == "simmtm-mae":
        encoder = pretrain_encoder(cfg, splits["train"], epochs=pretrain_epochs, device=device, seed=seed, log=log)
    torch.manual_seed(seed)
    model = build_detector(cfg, "sdmae" if method == "sdmae" else "mae", encoder=encoder)
    fit = train_detector(model, cfg, splits["train"], splits["val"], epochs=epochs, device=device, seed=seed,
                         progress=progress, log=log)
    dev = next(model.parameters()).device
    result = {"method": method, "seed": seed, "best_epoch": fit["best_epoch"], "val_roc_auc": fit["best"],
              "history": fit["history"], "seconds": time.perf_counter() - t0}
    for mode in SCORING:
        result[mode] = evaluate(model, cfg, splits["val"], splits["test"], mode=mode, device=dev, seed=seed)
    return model, result


def _strip(result: dict) -> dict:
    """``result`` without the score arrays (kept in memory for plots, not written to JSON)."""
    return {k: ({kk: vv for kk, vv in v.items() if kk != "_scores"} if k in SCORING else v) for k, v in result.items()}


def _flat(runs: list[dict], mode: str) -> list[dict]:
    """One flat row per run under scoring ``mode``: method, seed, its metrics and ``auc_<type>``."""
    return [{"method": r["method"], "seed": r["seed"],
             **{k: v for k, v in r[mode].items() if isinstance(v, float)},
             **{f"auc_{t}": v for t, v in r[mode]["type_auc"].items()}} for r in runs]


def summarize(runs: list[dict], mode: str = "random") -> list[dict]:
    """Mean and std over seeds per method of the per-type and overall metrics under ``mode``."""
    flat = _flat(runs, mode)
    keys = tuple(k for k in flat[0] if k not in ("method", "seed"))
    return summary_rows(flat, ("method",), keys)


def results_markdown(runs: list[dict], *, command: str, setting: str, budget: str) -> str:
    """The results tables (per-type window ROC-AUC, then overall metrics) for both scoring modes."""
    lines = ["### Anomaly detection on the synthetic benchmark", "", f"Setting: {setting}", "",
             f"Budget: {budget}", "", f"Command: `{command}`", ""]
    for mode, title in (("random", "random masks averaged (anomalies may lie anywhere in a window)"),
                        ("last", "the last steps masked (streaming use)")):
        flat = _flat(runs, mode)
        types = tuple(k for k in flat[0] if k.startswith("auc_"))
        lines += [f"#### Scoring: {title}", "", "Window ROC-AUC per anomaly type (each type against all normal "
                  "test windows), mean ± std over seeds:", ""]
        lines += table_lines(flat, ("method",), (*types, "window_roc_auc"), digits=3,
                             names={**{t: t[4:] for t in types}, "window_roc_auc": "all"})
        keys = {"window_pr_auc": "window PR-AUC", "window_f1": "window F1 @ val threshold",
                "window_best_f1_oracle": "window best F1 (oracle)", "point_roc_auc": "point ROC-AUC",
                "point_f1": "point F1 @ val threshold", "point_adjusted_f1": "point-adjusted F1 (inflated)"}
        present = tuple(k for k in keys if k in flat[0])
        lines += [""] + table_lines(flat, ("method",), present, digits=3, names=keys, seeds=False) + [""]
    return "\n".join(lines)


def run(cfg: AnomalyConfig, methods: list[str], seeds: list[int], *, n_channels: int = 1, length: int = 96,
        sizes: tuple[int, int, int] = (2000, 400, 1000), epochs: int | None = None, pretrain_epochs: int = 10,
        device: str = "auto", out: str | Path | None = None, command: str = "", progress: bool = False,
        log=print) -> list[dict]:
    """Every method on every seed; writes ``out`` (markdown) and ``out.json`` when given."""
    epochs = epochs if epochs is not None else cfg.epochs
    store = RecordStore(run_folder(out) if out is not None else None)
    store.check_settings({"config": cfg.to_dict(), "n_channels": n_channels, "length": length, "sizes": list(sizes),
                          "epochs": epochs, "pretrain_epochs": pretrain_epochs})
    runs = []
    for seed in seeds:
        splits = None
        for method in methods:
            key = {"seed": seed, "method": method}
            if not store.done(key):
                splits = splits or synthetic_splits(length, n_channels, seed=seed, sizes=sizes)
                _, result = run_method(method, cfg, splits, seed=seed, epochs=epochs, pretrain_epochs=pretrain_epochs,
                                       device=device, progress=progress)
                store.put(key, _strip(result))
                if log:
                    log(f"[anomaly] seed {seed} {method}: val ROC-AUC {result['val_roc_auc']:.3f} (epoch "
                        f"{result['best_epoch']}), test ROC-AUC {result['random']['window_roc_auc']:.3f} random masks / "
                        f"{result['last']['window_roc_auc']:.3f} last steps ({result['seconds']:.0f} s)")
            record = store.get(key)
            runs.append({k: v for k, v in record.items() if k != "key"})
    if out is not None:
        out = Path(out)
        setting = (f"{n_channels}-channel windows of {length} steps; train/val/test = {sizes[0]}/{sizes[1]}/{sizes[2]} "
                   f"windows with 3%/25%/25% anomalous (types {', '.join(ANOMALY_TYPES)} in equal numbers); "
                   f"config {cfg.to_dict()}")
        budget = (f"{epochs} training epochs (best validation ROC-AUC kept), SimMTM pre-training {pretrain_epochs} "
                  f"epochs for simmtm-mae, seeds {seeds}, {sum(r['seconds'] for r in runs):.0f} s in total on this machine")
        atomic_write_text(out.with_suffix(".json"), dump_json({"command": command, "setting": setting, "budget": budget,
                                                           "runs": runs}))
        atomic_write_text(out, results_markdown(runs, command=command, setting=setting, budget=budget))
    return runs
