"""Every pre-training method on the same footing: same encoder, data, budget, seeds and
protocol (selection on validation, test evaluated once), written to a table and a bar plot.

Methods: ``simmtm``, the baselines of :mod:`simmtm.objectives` and ``none`` (random init).
Tasks: ``epilepsy`` (in-domain classification, :func:`simmtm.experiments.classification.benchmark_data`)
and a forecasting dataset name such as ``ETTh1`` (in-domain, one horizon).
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from simmtm.config import SimMTMConfig
from simmtm.experiments.records import RecordStore, atomic_write_text, run_folder, summary_rows, summary_table
from simmtm.objectives import METHODS

ALL_METHODS = (*METHODS, "none")


def _check_methods(methods: list[str]) -> None:
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {ALL_METHODS}")


def _run_units(store: RecordStore | None, seeds: list[int], methods: list[str], unit) -> list[dict]:
    """The rows of every (seed, method) unit: read from ``store`` if it finished before, else
    ``unit(seed, method)`` computed and recorded."""
    store = store or RecordStore(None)
    return [row for seed in seeds for method in methods
            for row in store.run({"seed": seed, "method": method}, lambda s=seed, m=method: unit(s, m))["runs"]]


def compare_classification(root: str | Path, cfg: SimMTMConfig, methods: list[str], seeds: list[int], *,
                           pretrain_epochs: int, finetune_epochs: int, lr: float = 1e-4, device: str = "auto",
                           log=print, store: RecordStore | None = None) -> tuple[list[dict], str]:
    """Epilepsy in-domain (:func:`simmtm.experiments.classification.benchmark_data`): see :func:`compare_on_arrays`."""
    from simmtm.experiments.classification import benchmark_data

    _check_methods(methods)
    pre_x, pre_val, splits, desc = benchmark_data("epilepsy", root)
    runs = compare_on_arrays(pre_x, pre_val, splits, cfg, methods, seeds, pretrain_epochs=pretrain_epochs,
                             finetune_epochs=finetune_epochs, lr=lr, device=device, log=log, task="epilepsy",
                             store=store)
    return runs, desc


def compare_on_arrays(pre_x: np.ndarray, pre_val: np.ndarray | None, splits: dict, cfg: SimMTMConfig,
                      methods: list[str], seeds: list[int], *, pretrain_epochs: int, finetune_epochs: int,
                      lr: float = 1e-4, device: str = "auto", log=print, task: str = "classification",
                      store: RecordStore | None = None) -> list[dict]:
    """Pre-train each method on the unlabelled windows ``pre_x: [N, L, C]`` (``pre_val`` for
    pre-training model selection), then fine-tune and linear-probe on ``splits`` (train / val /
    test ``(x, y)``; selection on val, test once). One row per (seed, method, protocol); with a
    ``store``, each (seed, method) is a unit that a re-run skips once it has finished."""
    from simmtm.classification import finetune, pretrain

    _check_methods(methods)

    def unit(seed: int, method: str) -> dict:
        t0, encoder, pre_seconds = time.perf_counter(), None, 0.0
        if method != "none":
            model, pre = pretrain(replace(cfg, method=method), pre_x, pre_val, device=device,
                                  epochs=pretrain_epochs, seed=seed, progress=False, log=lambda *a: None)
            encoder, pre_seconds = model.encoder, pre["seconds"]
        protocols = (("fine-tune", False), ("linear probe", True)) if encoder is not None else (("fine-tune", False),)
        rows = []
        for protocol, probe in protocols:
            r = finetune(cfg, splits, encoder=encoder, linear_probe=probe, lr=lr, epochs=finetune_epochs,
                         device=device, seed=seed)
            rows.append({"seed": seed, "method": method, "protocol": protocol, **r["test"],
                         "val_accuracy": r["val_accuracy"], "best_epoch": r["best_epoch"],
                         "pretrain_seconds": pre_seconds})
            log(f"{task} seed {seed} {method} {protocol}: acc {r['test']['accuracy']:.4f} "
                f"f1 {r['test']['f1']:.4f} (val acc {r['val_accuracy']:.3f}, pre-training {pre_seconds:.0f}s)")
        return {"runs": rows, "seconds": time.perf_counter() - t0}

    return _run_units(store, seeds, methods, unit)


def compare_forecasting(dataset: str, root: str | Path | None, cfg: SimMTMConfig, methods: list[str],
                        seeds: list[int], *, horizon: int = 96, pretrain_epochs: int, finetune_epochs: int,
                        lr: float = 1e-4, batch_size: int = 32, max_windows: int | None = None, device: str = "auto",
                        log=print, store: RecordStore | None = None) -> tuple[list[dict], str]:
    """In-domain forecasting at one horizon: pre-train each method on the training windows,
    fine-tune with early stopping on validation MSE, test once."""
    from simmtm.data.forecasting import load_forecasting
    from simmtm.forecasting import finetune, pretrain

    _check_methods(methods)
    data = load_forecasting(dataset, root, seq_len=cfg.seq_len)
    cfg = replace(cfg, n_channels=data.n_channels)

    def unit(seed: int, method: str) -> dict:
        t0, encoder, pre_seconds = time.perf_counter(), None, 0.0
        if method != "none":
            model, pre = pretrain(replace(cfg, method=method), data, device=device, epochs=pretrain_epochs,
                                  max_windows=max_windows, seed=seed, progress=False, log=lambda *a: None)
            encoder, pre_seconds = model.encoder, pre["seconds"]  # finetune copies it
        r = finetune(cfg, data, horizon, encoder=encoder, device=device, lr=lr, batch_size=batch_size,
                     epochs=finetune_epochs, max_windows=max_windows, seed=seed, progress=False,
                     log=lambda *a: None)
        log(f"{dataset} H={horizon} seed {seed} {method}: test MSE {r['test']['mse']:.4f} "
            f"MAE {r['test']['mae']:.4f} (pre-training {pre_seconds:.0f}s)")
        return {"runs": [{"seed": seed, "method": method, "protocol": "fine-tune", **r["test"],
                          "best_epoch": r["best_epoch"], "pretrain_seconds": pre_seconds,
                          "finetune_seconds": r["seconds"]}], "seconds": time.perf_counter() - t0}

    runs = _run_units(store, seeds, methods, unit)
    desc = (f"{dataset} in-domain, H = {horizon}, {len(data.windows('train', seq_len=cfg.seq_len))} training windows"
            + (f" (an evenly spaced {max_windows} of them, and of the validation windows, are used; "
               f"the test split is whole)" if max_windows else ""))
    return runs, desc


def summarize(runs: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Mean and std (over seeds) of ``keys`` per (method, protocol), in first-seen order."""
    return summary_rows(runs, ("method", "protocol"), keys)


def plot_comparison(rows: list[dict], metric: str, title: str = ""):
    """Bar chart of ``metric`` (mean ± std over seeds as error bars, the mean written on each bar)
    per (method, protocol) from :func:`summarize`; SimMTM in red, random init in grey. The y-axis
    starts at 0. Returns the figure."""
    import matplotlib.pyplot as plt

    scale = 100.0 if metric in ("accuracy", "precision", "recall", "f1", "auroc") else 1.0
    means = [scale * r[metric][0] for r in rows]
    stds = [scale * r[metric][1] for r in rows]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(rows), 3.4))
    colors = ["tab:red" if r["method"] == "simmtm" else "tab:gray" if r["method"] == "none" else "tab:blue" for r in rows]
    ax.bar(range(len(rows)), means, yerr=stds, capsize=3, color=colors)
    ax.set_xticks(range(len(rows)), [f"{r['method']}\n{r['protocol']}" for r in rows], fontsize=7)
    ax.set_ylim(0, 1.08 * max(m + s for m, s in zip(means, stds)))  # from 0: seed noise must not read as a ranking
    for i, (m, s) in enumerate(zip(means, stds)):
        ax.text(i, m + s, f"{m:.2f}" if scale == 100 else f"{m:.3f}", ha="center", va="bottom", fontsize=6)
    ax.set_ylabel(f"test {metric}" + (" (%)" if scale == 100 else " (lower is better)"))
    ax.set_title(f"{title}: mean ± std over {rows[0]['seeds']} seed(s)", fontsize=9)
    fig.tight_layout()
    return fig


def _keys(runs: list[dict]) -> tuple[tuple[str, ...], float, int]:
    if "accuracy" in runs[0]:
        return ("accuracy", "precision", "recall", "f1", "auroc"), 100.0, 2
    return ("mse", "mae"), 1.0, 4


def comparison_markdown(saved: dict) -> str:
    """The comparison table from its saved JSON (``command``, ``task``, ``setting``, ``budget``, ``runs``)."""
    keys, scale, digits = _keys(saved["runs"])
    return summary_table(f"Pre-training methods compared: {saved['task']}",
                         [f"Data: {saved['setting']}.", f"Budget: {saved['budget']}.", f"Command: `{saved['command']}`"],
                         saved["runs"], ("method", "protocol"), keys, scale=scale, digits=digits)


def write_results(runs: list[dict], *, task: str, desc: str, command: str, out: str | Path,
                  budget: str) -> Path:
    """Write ``out`` (markdown table), ``out.json`` (every run) and ``out.png`` (bar plot)."""
    import matplotlib.pyplot as plt

    saved = {"command": command, "task": task, "setting": desc, "budget": budget, "runs": runs}
    out = Path(out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(saved, indent=1))
    atomic_write_text(out, comparison_markdown(saved))
    keys, _, _ = _keys(runs)
    fig = plot_comparison(summarize(runs, keys), keys[0] if keys[0] == "mse" else "accuracy", title=task)
    fig.savefig(out.with_suffix(".png"), dpi=120)
    plt.close(fig)
    return out


def run(task: str, root: str | Path, cfg: SimMTMConfig, methods: list[str], seeds: list[int], *,
        pretrain_epochs: int, finetune_epochs: int, out: str | Path, horizon: int = 96,
        max_windows: int | None = None, lr: float = 1e-4, device: str = "auto", command: str = "") -> list[dict]:
    """Run the comparison for ``task`` and write its results; returns every run. Each (seed,
    method) is a unit recorded in the folder beside ``out`` (``results/x.md`` -> ``results/x/``):
    re-running the same command skips finished units."""
    store = RecordStore(run_folder(out))
    store.check_settings({"task": task, "config": cfg.to_dict(), "pretrain_epochs": pretrain_epochs,
                          "finetune_epochs": finetune_epochs, "lr": lr, "horizon": horizon if task != "epilepsy" else None,
                          "max_windows": max_windows})
    if task == "epilepsy":
        runs, desc = compare_classification(root, cfg, methods, seeds, pretrain_epochs=pretrain_epochs,
                                            finetune_epochs=finetune_epochs, lr=lr, device=device, store=store)
    else:
        runs, desc = compare_forecasting(task, root, cfg, methods, seeds, horizon=horizon,
                                         pretrain_epochs=pretrain_epochs, finetune_epochs=finetune_epochs, lr=lr,
                                         max_windows=max_windows, device=device, store=store)
    seconds = sum(store.get({"seed": s, "method": m})["seconds"] for s in seeds for m in methods)
    enc = cfg.encoder
    budget = (f"{enc.kind} encoder" + (f" (patch_len {enc.patch_len})" if enc.kind == "transformer" else "")
              + f", {pretrain_epochs} pre-training epochs, {finetune_epochs} fine-tuning epochs, "
              f"seeds {seeds}, {seconds:.0f} s in total on this machine")
    write_results(runs, task=task, desc=desc, command=command, out=out, budget=budget)
    return runs
