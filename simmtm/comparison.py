"""Every pre-training method on the same footing: same encoder, data, budget, seeds and
protocol (selection on validation, test evaluated once), written to a table and a bar plot.

Methods: ``simmtm``, the baselines of :mod:`simmtm.objectives` and ``none`` (random init).
Tasks: ``epilepsy`` (in-domain classification, :func:`simmtm.classification.benchmark_data`)
and a forecasting dataset name such as ``ETTh1`` (in-domain, one horizon).
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from simmtm.config import SimMTMConfig
from simmtm.objectives import METHODS

ALL_METHODS = (*METHODS, "none")


def _check_methods(methods: list[str]) -> None:
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {ALL_METHODS}")


def compare_classification(root: str | Path, cfg: SimMTMConfig, methods: list[str], seeds: list[int], *,
                           pretrain_epochs: int, finetune_epochs: int, lr: float = 1e-4, device: str = "auto",
                           log=print) -> tuple[list[dict], str]:
    """Epilepsy in-domain (:func:`simmtm.classification.benchmark_data`): see :func:`compare_on_arrays`."""
    from simmtm.classification import benchmark_data

    _check_methods(methods)
    pre_x, pre_val, splits, desc = benchmark_data("epilepsy", root)
    runs = compare_on_arrays(pre_x, pre_val, splits, cfg, methods, seeds, pretrain_epochs=pretrain_epochs,
                             finetune_epochs=finetune_epochs, lr=lr, device=device, log=log, task="epilepsy")
    return runs, desc


def compare_on_arrays(pre_x: np.ndarray, pre_val: np.ndarray | None, splits: dict, cfg: SimMTMConfig,
                      methods: list[str], seeds: list[int], *, pretrain_epochs: int, finetune_epochs: int,
                      lr: float = 1e-4, device: str = "auto", log=print, task: str = "classification") -> list[dict]:
    """Pre-train each method on the unlabelled windows ``pre_x: [N, L, C]`` (``pre_val`` for
    pre-training model selection), then fine-tune and linear-probe on ``splits`` (train / val /
    test ``(x, y)``; selection on val, test once). One row per (seed, method, protocol)."""
    from simmtm.classification import finetune, pretrain

    _check_methods(methods)
    runs = []
    for seed in seeds:
        for method in methods:
            encoder, pre_seconds = None, 0.0
            if method != "none":
                model, pre = pretrain(replace(cfg, method=method), pre_x, pre_val, device=device, epochs=pretrain_epochs,
                                      seed=seed, progress=False, log=lambda *a: None)
                encoder, pre_seconds = model.encoder, pre["seconds"]
            protocols = (("fine-tune", False), ("linear probe", True)) if encoder is not None else (("fine-tune", False),)
            for protocol, probe in protocols:
                r = finetune(cfg, splits, encoder=encoder, linear_probe=probe, lr=lr, epochs=finetune_epochs,
                             device=device, seed=seed)
                runs.append({"seed": seed, "method": method, "protocol": protocol, **r["test"],
                             "val_accuracy": r["val_accuracy"], "best_epoch": r["best_epoch"],
                             "pretrain_seconds": pre_seconds})
                log(f"{task} seed {seed} {method} {protocol}: acc {r['test']['accuracy']:.4f} "
                    f"f1 {r['test']['f1']:.4f} (val acc {r['val_accuracy']:.3f}, pre-training {pre_seconds:.0f}s)")
    return runs


def compare_forecasting(dataset: str, root: str | Path | None, cfg: SimMTMConfig, methods: list[str],
                        seeds: list[int], *, horizon: int = 96, pretrain_epochs: int, finetune_epochs: int,
                        lr: float = 1e-4, batch_size: int = 32, max_windows: int | None = None, device: str = "auto",
                        log=print) -> tuple[list[dict], str]:
    """In-domain forecasting at one horizon: pre-train each method on the training windows,
    fine-tune with early stopping on validation MSE, test once."""
    from simmtm.data.forecasting import load_forecasting
    from simmtm.forecasting import finetune, pretrain

    _check_methods(methods)
    data = load_forecasting(dataset, root, seq_len=cfg.seq_len)
    cfg = replace(cfg, n_channels=data.n_channels)
    runs = []
    for seed in seeds:
        for method in methods:
            encoder, pre_seconds = None, 0.0
            if method != "none":
                model, pre = pretrain(replace(cfg, method=method), data, device=device, epochs=pretrain_epochs,
                                      max_windows=max_windows, seed=seed, progress=False, log=lambda *a: None)
                encoder, pre_seconds = copy.deepcopy(model.encoder), pre["seconds"]
            r = finetune(cfg, data, horizon, encoder=encoder, device=device, lr=lr, batch_size=batch_size,
                         epochs=finetune_epochs, max_windows=max_windows, seed=seed, progress=False, log=lambda *a: None)
            runs.append({"seed": seed, "method": method, "protocol": "fine-tune", **r["test"],
                         "best_epoch": r["best_epoch"], "pretrain_seconds": pre_seconds,
                         "finetune_seconds": r["seconds"]})
            log(f"{dataset} H={horizon} seed {seed} {method}: test MSE {r['test']['mse']:.4f} "
                f"MAE {r['test']['mae']:.4f} (pre-training {pre_seconds:.0f}s)")
    desc = (f"{dataset} in-domain, H = {horizon}, {len(data.windows('train', seq_len=cfg.seq_len))} training windows"
            + (f" (an evenly spaced {max_windows} of them, and of the validation windows, are used; "
               f"the test split is whole)" if max_windows else ""))
    return runs, desc


def summarize(runs: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Mean and std (over seeds) of ``keys`` per (method, protocol), in first-seen order."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["method"], r["protocol"]), []).append(r)
    return [{"method": m, "protocol": p, "seeds": len(rows),
             **{k: (float(np.mean([r[k] for r in rows])), float(np.std([r[k] for r in rows]))) for k in keys}}
            for (m, p), rows in groups.items()]


def plot_comparison(rows: list[dict], metric: str, title: str = ""):
    """Bar chart of ``metric`` (mean ± std over seeds) per (method, protocol) from :func:`summarize`;
    SimMTM in red, random init in grey. Returns the figure."""
    import matplotlib.pyplot as plt

    scale = 100.0 if metric in ("accuracy", "precision", "recall", "f1", "auroc") else 1.0
    means = [scale * r[metric][0] for r in rows]
    stds = [scale * r[metric][1] for r in rows]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(rows), 3.4))
    colors = ["tab:red" if r["method"] == "simmtm" else "tab:gray" if r["method"] == "none" else "tab:blue" for r in rows]
    ax.bar(range(len(rows)), means, yerr=stds, capsize=3, color=colors)
    ax.set_xticks(range(len(rows)), [f"{r['method']}\n{r['protocol']}" for r in rows], fontsize=7)
    lo, hi = min(m - s for m, s in zip(means, stds)), max(m + s for m, s in zip(means, stds))
    pad = 0.15 * (hi - lo) + 1e-9
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_ylabel(f"test {metric}" + (" (%)" if scale == 100 else " (lower is better)"))
    ax.set_title(f"{title}: mean ± std over {rows[0]['seeds']} seed(s)", fontsize=9)
    fig.tight_layout()
    return fig


def write_results(runs: list[dict], *, task: str, desc: str, command: str, out: str | Path,
                  budget: str) -> Path:
    """Write ``out`` (markdown table), ``out.json`` (every run) and ``out.png`` (bar plot)."""
    import matplotlib.pyplot as plt

    classification = "accuracy" in runs[0]
    keys = ("accuracy", "precision", "recall", "f1", "auroc") if classification else ("mse", "mae")
    scale = 100.0 if classification else 1.0
    rows = summarize(runs, keys)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"command": command, "task": task, "setting": desc,
                                                    "budget": budget, "runs": runs}, indent=1))
    fmt = "{:.2f} ± {:.2f}" if classification else "{:.4f} ± {:.4f}"
    lines = [f"### Pre-training methods compared: {task}", "", f"Data: {desc}.", "", f"Budget: {budget}.", "",
             f"Command: `{command}`", "", "| method | protocol | " + " | ".join(keys) + " | seeds |",
             "|---|---|" + "---|" * (len(keys) + 1)]
    for r in rows:
        cells = [fmt.format(scale * r[k][0], scale * r[k][1]) for k in keys]
        lines.append(f"| {r['method']} | {r['protocol']} | " + " | ".join(cells) + f" | {r['seeds']} |")
    out.write_text("\n".join(lines) + "\n")

    fig = plot_comparison(rows, "accuracy" if classification else "mse", title=task)
    fig.savefig(out.with_suffix(".png"), dpi=120)
    plt.close(fig)
    return out


def run(task: str, root: str | Path, cfg: SimMTMConfig, methods: list[str], seeds: list[int], *,
        pretrain_epochs: int, finetune_epochs: int, out: str | Path, horizon: int = 96,
        max_windows: int | None = None, lr: float = 1e-4, device: str = "auto", command: str = "") -> list[dict]:
    """Run the comparison for ``task`` and write its results; returns every run."""
    t0 = time.perf_counter()
    if task == "epilepsy":
        runs, desc = compare_classification(root, cfg, methods, seeds, pretrain_epochs=pretrain_epochs,
                                            finetune_epochs=finetune_epochs, lr=lr, device=device)
    else:
        runs, desc = compare_forecasting(task, root, cfg, methods, seeds, horizon=horizon,
                                         pretrain_epochs=pretrain_epochs, finetune_epochs=finetune_epochs, lr=lr,
                                         max_windows=max_windows, device=device)
    enc = cfg.encoder
    budget = (f"{enc.kind} encoder" + (f" (patch_len {enc.patch_len})" if enc.kind == "transformer" else "")
              + f", {pretrain_epochs} pre-training epochs, {finetune_epochs} fine-tuning epochs, "
              f"seeds {seeds}, {time.perf_counter() - t0:.0f} s in total on this machine")
    write_results(runs, task=task, desc=desc, command=command, out=out, budget=budget)
    return runs
