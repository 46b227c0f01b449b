"""The paper's analyses as resumable sweeps: masking-ratio robustness, the number of masked
views, limited labels and ablations of SimMTM's pieces (Dong et al., Sec. 4.3).

Each point is a unit ``(analysis, value, variant, seed)``: pre-train the variant (or nothing, for
random init), fine-tune with the same budget, select on validation, test once. Units are
records in the folder beside the table (:mod:`simmtm.experiments.records`), so a re-run skips
what finished. Tasks: ``epilepsy`` and ``sleepeeg-epilepsy`` (classification, accuracy) and a
forecasting dataset such as ``ETTh1`` (MSE at each horizon; one pre-training serves every horizon).

Variants are overrides of the pre-training config (None = random init):

- ``mask-ratio``: SimMTM, masked reconstruction (no aggregation) and SimCLR with masked views,
  each at ratio r (masked spans of mean 3, longer where r is so high that the kept spans would
  average under one step: :func:`mask_span_for`);
- ``views``: SimMTM with M masked views;
- ``labels``: SimMTM and random init fine-tuned on a nested, stratified fraction of the labelled
  training windows (:func:`simmtm.experiments.classification.label_fractions`; forecasting: that fraction
  of the training windows, evenly spaced);
- ``ablation``: ``full``; ``no-constraint`` (lambda = 0: the constraint loss contributes no
  gradient, the similarity still weighs the aggregation); ``no-aggregation`` (masked
  reconstruction from each row's own representation); ``fixed-lambda`` (the paper's
  ``L_rec + 0.1 L_con`` instead of the learned weights); ``pointwise-decoder`` (forecasting only);
  ``random init`` (no pre-training: the reference every variant should beat).
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from simmtm.config import SimMTMConfig
from simmtm.experiments.records import RecordStore, atomic_write_text, dump_json, run_folder, table_lines

ANALYSES: dict[str, tuple] = {
    "mask-ratio": (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875),
    "views": (1, 2, 3, 4, 5),
    "labels": (0.01, 0.05, 0.1, 0.25, 1.0),
    "ablation": ("full", "no-constraint", "no-aggregation", "fixed-lambda", "pointwise-decoder", "random init"),
}
ABLATIONS: dict[str, dict[str, Any]] = {
    "full": {}, "no-constraint": {"loss_weighting": 0.0}, "no-aggregation": {"method": "masked"},
    "fixed-lambda": {"loss_weighting": 0.1}, "pointwise-decoder": {"decoder": "pointwise"},
    "random init": None,  # the reference: no pre-training, the same fine-tuning
}
CLASSIFICATION_TASKS = ("epilepsy", "sleepeeg-epilepsy")


def mask_span_for(ratio: float, mean_span: float = 3.0) -> dict[str, float]:
    """``{}`` when the default masked-span mean works at ``ratio``, else the smallest mean that
    keeps the kept spans at least one step long (``mean_span * (1 - r) / r >= 1``): at r = 0.875
    the default 3 would need kept spans of 0.43 steps, so masked spans average 7 steps there."""
    return {} if mean_span * (1 - ratio) / ratio >= 1 else {"mean_span": ratio / (1 - ratio)}


def variants(analysis: str, value) -> dict[str, dict[str, Any] | None]:
    """``{variant name: pre-training config overrides, or None for random init}`` at one point."""
    if analysis == "mask-ratio":
        ratio = {"mask_ratio": value, **mask_span_for(value)}
        return {"SimMTM": ratio, "masked reconstruction": {"method": "masked", **ratio},
                "SimCLR (masked views)": {"method": "simclr-mask", **ratio}}
    if analysis == "views":
        return {"SimMTM": {"n_views": int(value)}}
    if analysis == "labels":
        return {"SimMTM": {}, "random init": None}
    if analysis == "ablation":
        if value not in ABLATIONS:
            raise ValueError(f"unknown ablation {value!r}; choose from {list(ABLATIONS)}")
        return {value: ABLATIONS[value]}
    raise ValueError(f"unknown analysis {analysis!r}; choose from {list(ANALYSES)}")


def _classification_unit(task_data, cfg, analysis, value, overrides, seed, *, pretrain_epochs, finetune_epochs, lr,
                         device, cache):
    from simmtm.classification import finetune, pretrain
    from simmtm.experiments.classification import label_fractions

    pre_x, pre_val, splits = task_data
    encoder = None
    if overrides is not None:
        key = (json.dumps(overrides, sort_keys=True), seed)
        if key not in cache:  # one pre-training serves every label fraction of a seed
            model, _ = pretrain(replace(cfg, **overrides), pre_x, pre_val, device=device, epochs=pretrain_epochs,
                                seed=seed, progress=False, log=lambda *a: None)
            cache[key] = model.encoder
        encoder = cache[key]
    if analysis == "labels":
        x, y = splits["train"]
        keep = label_fractions(y, [value], seed=0)[value]  # the same subsets for every seed and variant
        splits = {**splits, "train": (x[keep], y[keep])}
    r = finetune(cfg, splits, encoder=encoder, lr=lr, epochs=finetune_epochs, device=device, seed=seed)
    return {"test": r["test"], "val_accuracy": r["val_accuracy"], "best_epoch": r["best_epoch"],
            "train_windows": len(splits["train"][1])}


def _forecasting_unit(data, cfg, analysis, value, overrides, seed, *, horizon, pretrain_epochs, finetune_epochs, lr,
                      device, cache, pretrain_windows, finetune_windows):
    from simmtm.forecasting import finetune, pretrain

    encoder = None
    if overrides is not None:
        key = (json.dumps(overrides, sort_keys=True), seed)
        if key not in cache:  # one pre-training serves every horizon and label fraction of a seed
            model, _ = pretrain(replace(cfg, **overrides), data, device=device, epochs=pretrain_epochs, seed=seed,
                                max_windows=pretrain_windows, progress=False, log=lambda *a: None)
            cache[key] = model.encoder
        encoder = cache[key]
    n_train = len(data.windows("train", horizon, cfg.seq_len))
    windows = finetune_windows or n_train
    if analysis == "labels":
        windows = max(1, int(round(value * min(windows, n_train))))
    r = finetune(cfg, data, horizon, encoder=encoder, device=device, lr=lr, epochs=finetune_epochs, seed=seed,
                 max_windows=windows, progress=False, log=lambda *a: None)
    return {"test": r["test"], "val_mse": r["val_mse"], "best_epoch": r["best_epoch"], "train_windows": windows}


def analyse(task: str, analysis: str, cfg: SimMTMConfig, seeds: list[int], *, root: str | Path, out: str | Path,
            values: list | None = None, pretrain_epochs: int, finetune_epochs: int, lr: float = 1e-4,
            horizons: tuple[int, ...] = (96,), pretrain_windows: int | None = None, finetune_windows: int | None = None,
            device: str = "auto", command: str = "", log=print) -> list[dict]:
    """Run one analysis on ``task`` over ``values`` (default :data:`ANALYSES`) and ``seeds``
    (forecasting: fine-tuned at each of ``horizons``, a horizon per record, so that horizons can
    be added later); writes ``out`` (markdown) and ``out.json``; returns every record."""
    values = list(values if values is not None else ANALYSES.get(analysis, ()))
    if analysis not in ANALYSES:
        raise ValueError(f"unknown analysis {analysis!r}; choose from {list(ANALYSES)}")
    classification = task in CLASSIFICATION_TASKS
    if classification and "pointwise-decoder" in values:
        values.remove("pointwise-decoder")
        log("[ablate] pointwise-decoder is a forecasting ablation (the CNN changes the time axis): skipped")
    out = Path(out)
    store = RecordStore(run_folder(out))
    store.check_settings({"task": task, "analysis": analysis, "config": cfg.to_dict(), "pretrain_epochs": pretrain_epochs,
                          "finetune_epochs": finetune_epochs, "lr": lr, "pretrain_windows": pretrain_windows,
                          **({} if classification else {"finetune_windows": finetune_windows})})
    if classification:
        from simmtm.experiments.classification import benchmark_data

        pre_x, pre_val, splits, _ = benchmark_data(task, root)
        if pretrain_windows and pretrain_windows < len(pre_x):  # evenly spaced, as for forecasting
            pre_x = pre_x[np.linspace(0, len(pre_x) - 1, pretrain_windows).round().astype(int)]
        run_unit = lambda *a: _classification_unit((pre_x, pre_val, splits), cfg, *a, pretrain_epochs=pretrain_epochs,  # noqa: E731
                                                   finetune_epochs=finetune_epochs, lr=lr, device=device, cache=cache)
    else:
        from simmtm.data.forecasting import load_forecasting

        data = load_forecasting(task, root, seq_len=cfg.seq_len)
        cfg = replace(cfg, n_channels=data.n_channels)
        run_unit = lambda *a, **k: _forecasting_unit(data, cfg, *a, **k, pretrain_epochs=pretrain_epochs, lr=lr,  # noqa: E731
                                                finetune_epochs=finetune_epochs, device=device, cache=cache,
                                                pretrain_windows=pretrain_windows, finetune_windows=finetune_windows)
    cache: dict = {}
    points = [{}] if classification else [{"horizon": int(h)} for h in horizons]
    for seed in seeds:
        for value in values:
            for name, overrides in variants(analysis, value).items():
                for point in points:
                    key = {"analysis": analysis, "value": value, "variant": name, "seed": seed, **point}
                    if store.done(key):
                        continue
                    t0 = time.perf_counter()
                    result = run_unit(analysis, value, overrides, seed, **point)
                    store.put(key, {**result, "overrides": overrides, "seconds": time.perf_counter() - t0,
                                    "command": command})
                    metric = result["test"]["accuracy"] if classification else result["test"]["mse"]
                    where = f" H={point['horizon']}" if point else ""
                    log(f"[ablate] {task} {analysis}={value} {name}{where} seed {seed}: test "
                        f"{'accuracy' if classification else 'MSE'} {metric:.4f} ({time.perf_counter() - t0:.0f} s)")
        if not classification:
            cache.clear()  # a seed's encoders are not needed by the next seed
    records = store.records(analysis=analysis)
    atomic_write_text(out.with_suffix(".json"), dump_json({"settings": store.settings(), "records": records}))
    atomic_write_text(out, analysis_markdown(store.settings(), records))
    return records


def flat_rows(records: list[dict]) -> list[dict]:
    """One row per record: (horizon,) value, variant, seed and its test metrics (for tables and plots)."""
    return [{**({"horizon": r["key"]["horizon"]} if "horizon" in r["key"] else {}), "value": r["key"]["value"],
             "variant": r["key"]["variant"], "seed": r["key"]["seed"], **r["test"]} for r in records]


def analysis_markdown(settings: dict, records: list[dict]) -> str:
    """The analysis table: one row per (value, variant), test metrics mean ± std over seeds."""
    if not records:
        return "(no records yet)\n"
    classification = settings["task"] in CLASSIFICATION_TASKS
    order = {v: i for i, v in enumerate(ANALYSES.get(settings["analysis"], ()))}  # the paper's order, then the rest
    rows = sorted(flat_rows(records), key=lambda r: (r.get("horizon", 0), order.get(r["value"], len(order)),
                                                     str(r["value"]), r["variant"], r["seed"]))
    metrics = ("accuracy", "f1") if classification else ("mse", "mae")
    commands = list(dict.fromkeys(r["command"] for r in records if r.get("command")))
    lines = [f"### {settings['analysis']} on {settings['task']}", "",
             f"Budget: {settings['pretrain_epochs']} pre-training epochs, {settings['finetune_epochs']} fine-tuning "
             f"epochs at lr {settings['lr']:g}, selected on validation, test once; mean ± std over seeds.", "",
             f"Pre-training windows: {settings.get('pretrain_windows') or 'all'}"
             + ("" if classification else f"; fine-tuning windows: {settings.get('finetune_windows') or 'all'}"),
             "", f"Wall time: {len(records)} units, {sum(r['seconds'] for r in records) / 3600:.2f} h in all, "
             f"{np.mean([r['seconds'] for r in records]):.0f} s a unit on average "
             "(a unit = pre-training, unless shared, + fine-tuning + test).", "",
             *[f"Command: `{c}`" for c in commands], ""]
    lines += table_lines(rows, ("value", "variant") if classification else ("horizon", "value", "variant"), metrics, scale=100.0 if classification else 1.0,
                         digits=2 if classification else 4)
    return "\n".join(lines) + "\n"


def plot_analysis(records: list[dict], metric: str, *, title: str = "", xlabel: str = "", horizon: int | None = None):
    """Test ``metric`` against the swept value, one line per variant, mean ± std over seeds as
    error bars; the y-axis starts at 0 so that seed noise does not read as a ranking. Categorical
    values (ablations) are drawn as bars. Forecasting records are drawn at one ``horizon``
    (default: the first recorded)."""
    import matplotlib.pyplot as plt

    rows = flat_rows(records)
    if any("horizon" in r for r in rows):
        horizon = rows[0]["horizon"] if horizon is None else horizon
        rows = [r for r in rows if r.get("horizon") == horizon]
        if not rows:
            raise ValueError(f"no records at horizon {horizon}")
    scale = 100.0 if metric in ("accuracy", "f1", "precision", "recall", "auroc") else 1.0
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    numeric = all(isinstance(r["value"], (int, float)) for r in rows)
    variants_ = list(dict.fromkeys(r["variant"] for r in rows))
    values = sorted({r["value"] for r in rows}) if numeric else list(dict.fromkeys(r["value"] for r in rows))
    for i, v in enumerate(variants_):
        stats = [[scale * r[metric] for r in rows if r["variant"] == v and r["value"] == x] for x in values]
        xs = [x for x, s in zip(values, stats) if s]
        means, stds = [np.mean(s) for s in stats if s], [np.std(s) for s in stats if s]
        if numeric:
            ax.errorbar(xs, means, yerr=stds, marker="o", capsize=4, label=v)
        else:
            ax.bar([values.index(x) + 0.8 * i / len(variants_) for x in xs], means, yerr=stds, capsize=3,
                   width=0.8 / len(variants_), label=v)
    if not numeric:
        ax.set_xticks(range(len(values)), values, fontsize=8)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"test {metric}" + (" (%)" if scale == 100 else " (standardized scale)"))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
