"""Every pre-training method on the same footing: same encoder, data, budget, seeds and
protocol (selection on validation, test evaluated once), written to a table and a bar plot.

Methods: ``simmtm``, the baselines of :mod:`simmtm.baselines.objectives` and ``none`` (random init).
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
from simmtm.experiments.records import RecordStore, run_folder, summary_rows, summary_table
from simmtm.utils.atomic import atomic_write_text
from simmtm.baselines.objectives import METHODS

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
    from simmtm.classification.training import finetune, pretrain

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
    from simmtm.forecasting.training import finetune, pretrain

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


def plot_comparison(runs: list[dict], metric: str, title: str = ""):
    """Every (method, protocol) of ``runs`` (one row per seed, method and protocol, as returned by
    :func:`compare_on_arrays`) in two panels that share their rows: left, test ``metric`` per
    seed (dots) and its mean (diamond; ± std only from 2+ seeds) on a zoomed axis whose range is
    written on it; right, the paired difference to random init (``none``, fine-tuned) per seed
    around a zero line. Name the dataset, split and horizon in ``title``. Returns the figure."""
    import matplotlib.pyplot as plt

    from simmtm.plotting import arm_color, draw_paired_dots, paired_difference, seed_note, zoom_axis

    percent = metric in ("accuracy", "precision", "recall", "f1", "auroc")
    scale, unit = (100.0, "%") if percent else (1.0, "standardized")
    rows = [{**r, metric: scale * r[metric]} for r in runs]
    shown = metric if percent else metric.upper()  # "accuracy", "MSE"
    arms = list(dict.fromkeys((r["method"], r["protocol"]) for r in rows))
    label = {a: f"{'random init' if a[0] == 'none' else a[0]} ({a[1]})" for a in arms}
    values = {label[a]: {r["seed"]: r[metric] for r in rows if (r["method"], r["protocol"]) == a} for a in arms}
    n_seeds = len({r["seed"] for r in rows})
    reference = {"method": "none", "protocol": "fine-tune"}  # random init, fine-tuned
    diffs = {label[arm]: v for arm, v in paired_difference(rows, metric, reference, arm=("method", "protocol")).items()}
    panels = 2 if diffs else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels + 1.2, 0.42 * len(arms) + 1.9), sharey=True,
                             squeeze=False)
    colors = {label[a]: arm_color(a[0]) for a in arms}
    ax = axes[0, 0]
    draw_paired_dots(ax, values, colors=colors, zero=False)
    note = zoom_axis(ax, [v for d in values.values() for v in d.values()], axis="x", unit=unit if percent else "",
                     digits=2 if percent else 4)
    ax.set_xlabel(f"test {shown} ({unit}; {'higher' if percent else 'lower'} is better)\n[{note}]", fontsize=8)
    ax.set_title(f"{seed_note(n_seeds)}: dots = seeds, diamond = mean ± std" if n_seeds >= 2 else
                 "1 seed: diamond = its value (no error bar from one seed)", fontsize=8)
    if diffs:
        ax = axes[0, 1]
        draw_paired_dots(ax, diffs, labels=list(values), colors=colors)
        ref_label = label.get(("none", "fine-tune"))
        if ref_label in values:
            ax.text(0, len(values) - 1 - list(values).index(ref_label), "  reference", va="center", fontsize=7,
                    color="0.35")
        ax.set_xlabel(f"Δ test {shown} vs random init, same seed\n"
                      f"({'percentage points' if percent else 'standardized'}; "
                      f"{'> 0' if percent else '< 0'}: pre-training helps)", fontsize=8)
        ax.set_title("paired difference to random init (fine-tuned)", fontsize=8)
    fig.suptitle(title, fontsize=10)
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
    where = next((part for part in desc.split(", ") if part.startswith("H = ")), None)
    fig = plot_comparison(runs, keys[0] if keys[0] == "mse" else "accuracy",
                          title=f"{task} in-domain{f', {where}' if where else ''}, test split")
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
