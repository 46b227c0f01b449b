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
from simmtm.experiments.records import RecordStore, dump_json, run_folder, table_lines
from simmtm.utils.atomic import atomic_write_text

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
    from simmtm.classification.training import finetune, pretrain
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
    from simmtm.forecasting.training import finetune, pretrain

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


def plot_analysis(records: list[dict], metric: str, *, title: str = "", xlabel: str = "", horizon: int | None = None,
                  logx: bool = False):
    """Test ``metric`` against the swept value in the comparison style of :mod:`simmtm.plotting`:
    left, each variant's mean (± std only from 2+ seeds) on a zoomed axis whose range is written
    on it, the variants side by side so that none hides another; right, the paired difference to
    the reference (random init when it was run, else the first variant) per seed, around a zero
    line. Categorical values (ablations) are rows of dots instead of lines. Forecasting records
    are drawn at one ``horizon`` (default: the first recorded)."""
    import matplotlib.pyplot as plt

    from simmtm.plotting import (arm_color, draw_paired_dots, legend_outside, mean_spread,
                                 paired_difference, seed_note, zoom_axis, zoomed_limits)

    rows = flat_rows(records)
    if any("horizon" in r for r in rows):
        horizon = rows[0]["horizon"] if horizon is None else horizon
        rows = [r for r in rows if r.get("horizon") == horizon]
        if not rows:
            raise ValueError(f"no records at horizon {horizon}")
    percent = metric in ("accuracy", "f1", "precision", "recall", "auroc")
    unit = "%" if percent else "standardized"
    rows = [{**r, metric: (100.0 if percent else 1.0) * r[metric]} for r in rows]
    mname = metric if percent else metric.upper()  # "accuracy", "MSE"
    numeric = all(isinstance(r["value"], (int, float)) for r in rows)
    order = {v: i for i, v in enumerate(ANALYSES["ablation"])}  # full first, random init last
    names = sorted(dict.fromkeys(r["variant"] for r in rows), key=lambda n: (not n.startswith("SimMTM"),
                                                                               order.get(n, len(order) - 1)))
    n_seeds = len({r["seed"] for r in rows})
    reference = "random init" if "random init" in names else (names[0] if len(names) > 1 else None)
    palette = iter(("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:olive"))
    colors = {n: arm_color(n) if n.startswith(("SimMTM", "full", "random init")) or not numeric else next(palette)
              for n in names}
    better = "higher" if percent else "lower"
    diff_unit = "percentage points" if percent else "standardized"
    if numeric:
        diffs = paired_difference(rows, metric, {"variant": reference}, by=("value",)) if reference else {}
    else:
        diffs = ({k[0]: v for k, v in paired_difference(rows, metric, {"variant": reference}).items()}
                 if reference else {})
    panels = 2 if diffs else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.0 * panels, 4.2 if numeric else 0.45 * len(names) + 2.2),
                             squeeze=False, sharey=not numeric)
    ax = axes[0, 0]
    seeds_text = (f"{seed_note(n_seeds)}: mean ± std" if n_seeds >= 2 else "1 seed: no error bars")
    if numeric:
        values = sorted({r["value"] for r in rows})
        span = (np.log(values[-1]) - np.log(values[0])) if logx and len(values) > 1 else (values[-1] - values[0] or 1)
        shown = []  # every drawn y value, for the zoomed range
        for i, name in enumerate(names):
            pts = [(x, mean_spread([r[metric] for r in rows if r["variant"] == name and r["value"] == x]))
                   for x in values if any(r["variant"] == name and r["value"] == x for r in rows)]
            offset = (i - (len(names) - 1) / 2) * 0.015 * span  # side by side: no variant hides another
            xs = [x * np.exp(offset) if logx else x + offset for x, _ in pts]
            means = [m for _, (m, _) in pts]
            errs = [s for _, (_, s) in pts]
            ax.errorbar(xs, means, yerr=errs if all(e is not None for e in errs) else None, marker="o", ms=5,
                        capsize=3, lw=1.3, color=colors[name], label=name, clip_on=False)
            shown += means + [m + e for m, e in zip(means, errs) if e is not None] + [m - e for m, e in zip(means, errs)
                                                                                      if e is not None]
        if logx:
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(values, [f"{v:g}" for v in values])  # ticks at the swept values only (views: 1, 2, ...)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"test {mname} ({unit}; {better} is better)", fontsize=8)
        zoom_axis(ax, shown, digits=2 if percent else 4)
        ax.set_title(f"test {mname}, {seeds_text}", fontsize=8)
        legend_outside(ax, where="below", ncol=3)
        if diffs:
            ax2 = axes[0, 1]
            others = [n for n in names if n != reference]
            for i, name in enumerate(others):
                offset = (i - (len(others) - 1) / 2) * 0.015 * span
                for x in values:
                    per_seed = diffs.get((x, name))
                    if not per_seed:
                        continue
                    v = np.asarray(list(per_seed.values()))
                    xx = x * np.exp(offset) if logx else x + offset
                    ax2.scatter(np.full(len(v), xx), v, s=12, alpha=0.45, lw=0, color=colors[name], clip_on=False)
                    m, sd = mean_spread(v)
                    ax2.errorbar([xx], [m], yerr=None if sd is None else [[sd], [sd]], fmt="D", ms=6, capsize=3,
                                 mec="black", mew=0.5, color=colors[name], clip_on=False,
                                 label=name if x == values[0] else None)
            ax2.axhline(0, color="black", lw=0.9, zorder=2.5)
            vals = [d for v in diffs.values() for d in v.values()]
            ax2.set_ylim(*zoomed_limits(vals, include=[0.0], pad=0.15))
            if logx:
                ax2.set_xscale("log")
                ax2.minorticks_off()
            ax2.set_xticks(values, [f"{v:g}" for v in values])
            ax2.set_xlim(ax.get_xlim())
            ax2.set_xlabel(xlabel)
            sign = ">" if percent else "<"
            ax2.set_ylabel(f"Δ test {mname} vs {reference}, same seed\n({diff_unit}; {sign} 0: variant better)",
                           fontsize=8)
            ax2.set_title(f"paired difference to {reference}: dots = seeds, diamond = mean"
                          + (" ± std" if n_seeds >= 2 else ""), fontsize=8)
            ax2.grid(axis="y", color="0.9", lw=0.6)
            if len(others) > 1:
                legend_outside(ax2, where="below", ncol=3)
    else:
        values = {name: {r["seed"]: r[metric] for r in rows if r["variant"] == name} for name in names}
        draw_paired_dots(ax, values, colors=colors, zero=False)
        note = zoom_axis(ax, [v for d in values.values() for v in d.values()], axis="x", digits=2 if percent else 4,
                         unit="%" if percent else "")
        ax.set_xlabel(f"test {mname} ({unit}; {better} is better)\n[{note}]", fontsize=8)
        ax.set_title(f"{seed_note(n_seeds)}: dots = seeds, diamond = mean" + (" ± std" if n_seeds >= 2 else
                                                                              " (no error bar)"), fontsize=8)
        if diffs:
            ax2 = axes[0, 1]
            draw_paired_dots(ax2, diffs, labels=names, colors=colors)
            ax2.text(0, len(names) - 1 - names.index(reference), "  reference", va="center", fontsize=7, color="0.35")
            sign = ">" if percent else "<"
            ax2.set_xlabel(f"Δ test {mname} vs {reference}, same seed\n({diff_unit}; {sign} 0: variant better)",
                           fontsize=8)
            ax2.set_title(f"paired difference to {reference}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
