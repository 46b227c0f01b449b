"""Anomaly detection on real series: NAB_dev (every series with anomaly windows) and the UCR anomaly series.

Per series: train on the first part (NAB: the first ``train_fraction`` of the rows; UCR: the
archive's anomaly-free TRAIN file), score every step, evaluate on the rest. Methods (one record
per series x method x seed, resumable):

    sdmae        self-distilled MAE trained WITHOUT labels; read as discrepancy / teacher / sum
    sdmae-semi   the same with the training part's labelled anomaly windows (margin loss); discrepancy
    mae          plain masked autoencoder; reconstruction error
    random, rolling-zscore, abs-diff, iforest   the trivial baselines

Every scorer is also reported smoothed (centred moving average over one window, ``+smooth``).
Thresholds: the 0.99 quantile of the training part's own scores (1% false alarms there). Metrics on
the test part's points: ROC-AUC, PR-AUC, F1 WITHOUT point adjustment (point-adjusted F1 beside).
Validation without real labels: synthetic anomalies injected into a copy of the training part
(:func:`~simmtm.anomaly.synthetic.inject_series`), scored by the trained model (baselines: fit on
that copy); its ROC-AUC (``val_roc_auc``) is what picks the default detector, never test labels.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from simmtm.anomaly.baselines import BASELINES, baseline_scores
from simmtm.anomaly.data import load_nab, load_ucr_anomaly, nab_names
from simmtm.anomaly.detector import SeriesConfig, fit_model, score_values_many
from simmtm.anomaly.metrics import roc_auc, threshold_report
from simmtm.anomaly.series import smooth_scores
from simmtm.anomaly.synthetic import inject_series
from simmtm.anomaly.threshold import train_threshold
from simmtm.experiments.records import RecordStore, dump_json, run_folder
from simmtm.utils.atomic import atomic_write_text

TRAINED = {"sdmae": ("discrepancy", "teacher", "sum"), "sdmae-semi": ("discrepancy",), "mae": ("reconstruction",)}
METHODS = (*TRAINED, *BASELINES)
UCR_FILE = "UCR_Anomaly/135_UCR_Anomaly_InternalBleeding16_TEST.csv"
NAB_DIR = "NAB_dev"


@dataclass(frozen=True)
class RealSeries:
    """One benchmark series: ``values`` ``[T, 1]``, point ``labels`` ``[T]``, training rows ``n_train``."""

    name: str
    values: np.ndarray
    labels: np.ndarray
    n_train: int


def load_series(root: str | Path, train_fraction: float = 0.5) -> list[RealSeries]:
    """Every NAB_dev series with anomaly windows and the UCR anomaly series found under ``root``."""
    root = Path(root)
    out = []
    if (root / NAB_DIR / "labels" / "combined_windows.json").is_file():
        for name in nab_names(root / NAB_DIR):
            s = load_nab(root / NAB_DIR, name)
            out.append(RealSeries(name.split("/")[-1], s.values[:, None].astype(np.float64), s.labels,
                                  int(len(s.values) * train_fraction)))
    if (root / UCR_FILE).is_file():
        s, n_train = load_ucr_anomaly(root / UCR_FILE)
        out.append(RealSeries(s.name, s.values[:, None].astype(np.float64), s.labels, n_train))
    if not out:
        raise FileNotFoundError(f"neither {root / NAB_DIR} nor {root / UCR_FILE} found")
    return out


def _scale(series: RealSeries) -> np.ndarray:
    train = series.values[:series.n_train]
    std = train.std(0)
    return ((series.values - train.mean(0)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def _validation_set(series: RealSeries, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training part (standardised) with injected anomalies, and their labels."""
    train = _scale(series)[:series.n_train]
    return inject_series(train, n_anomalies=max(3, series.n_train // 500), seed=10_000 + seed)


def _variant_metrics(full: np.ndarray, train: np.ndarray, val: np.ndarray, val_labels: np.ndarray,
                     series: RealSeries, cfg: SeriesConfig, smooth: int) -> dict[str, float]:
    full, train, val = (smooth_scores(s, smooth) for s in (full, train, val))
    threshold = train_threshold(train, cfg.false_alarm_rate)
    report = threshold_report(series.labels[series.n_train:], full[series.n_train:], threshold)
    return {**{k: float(v) for k, v in report.items()}, "threshold": threshold,
            "val_roc_auc": roc_auc(val_labels, val)}


def run_unit(series: RealSeries, method: str, seed: int, cfg: SeriesConfig) -> dict:
    """Scores of ``method`` on ``series`` and their metrics, raw and ``+smooth`` (one record)."""
    t0 = time.perf_counter()
    x = _scale(series)  # [T, 1]
    val, val_labels = _validation_set(series, seed)
    scores: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    extra = {}
    if method in TRAINED:
        labels = series.labels[:series.n_train] if method == "sdmae-semi" else None
        extra["train_anomalous_points"] = int(labels.sum()) if labels is not None else 0
        model = fit_model("reconstruction" if method == "mae" else "discrepancy", cfg, x[:series.n_train], labels,
                          seed=seed)
        sets = [score_values_many(model, TRAINED[method], cfg, v) for v in (x, x[:series.n_train], val)]
        for scorer in TRAINED[method]:
            scores[scorer] = tuple(s[scorer] for s in sets)
    elif method in BASELINES:
        length = cfg.length
        scores[method] = (baseline_scores(method, series.values, series.n_train, length=length, seed=seed),
                          baseline_scores(method, series.values[:series.n_train], series.n_train, length=length,
                                          seed=seed),
                          baseline_scores(method, val, len(val), length=length, seed=seed))
    else:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    variants = {}
    for scorer, (full, train, v) in scores.items():
        variants[scorer] = _variant_metrics(full, train, v, val_labels, series, cfg, 0)
        variants[f"{scorer}+smooth"] = _variant_metrics(full, train, v, val_labels, series, cfg, cfg.length)
    return {"variants": variants, "n_steps": len(series.values), "n_train": series.n_train,
            "test_anomalous_points": int(series.labels[series.n_train:].sum()), **extra,
            "seconds": time.perf_counter() - t0}


def run(root: str | Path, *, seeds: list[int], methods: list[str] | None = None, train_fraction: float = 0.5,
        cfg: SeriesConfig | None = None, out: str | Path = "results/anomaly/anomaly_real.md", command: str = "",
        log=print, report: bool = True) -> list[dict]:
    """Every method x series x seed (resumable records in ``results/anomaly/anomaly_real/``), then the tables
    (``out`` and its ``.json``) when ``report``. Smoothing is applied by the study itself (raw and
    ``+smooth`` variants), so ``cfg.smooth`` is set to 0."""
    from tqdm.auto import tqdm

    cfg = replace(cfg or SeriesConfig(), smooth=0)
    methods = list(methods or METHODS)
    series = load_series(root, train_fraction)
    store = RecordStore(run_folder(out))
    store.check_settings({"config": cfg.to_dict(), "train_fraction": train_fraction,
                          "series": [s.name for s in series]})
    units = [(s, m, seed) for seed in seeds for m in methods for s in series]
    units.sort(key=lambda u: (u[1] in TRAINED, u[2]))  # the fast baselines first
    for s, method, seed in tqdm(units, desc="anomaly_real units"):
        key = {"series": s.name, "method": method, "seed": seed}
        if store.done(key):
            continue
        unlabelled = {"series": s.name, "method": "sdmae", "seed": seed}
        if method == "sdmae-semi" and not s.labels[:s.n_train].any() and store.done(unlabelled):
            # no labelled anomaly in the training part: the margin term is zero and training is the
            # unlabelled run itself (same seed), so its discrepancy scores are reused
            same = store.get(unlabelled)
            record = store.put(key, {**{k: v for k, v in same.items() if k != "key"}, "same_as": "sdmae",
                                     "variants": {k: v for k, v in same["variants"].items()
                                                  if k.startswith("discrepancy")}})
        else:
            record = store.put(key, run_unit(s, method, seed, cfg))
        if log:
            v = record["variants"]
            first = next(iter(v))
            log(f"[anomaly_real] {s.name} {method} seed {seed}: {first} ROC-AUC {v[first]['roc_auc']:.3f} "
                f"PR-AUC {v[first]['pr_auc']:.3f} val {v[first]['val_roc_auc']:.3f} ({record['seconds']:.0f} s)")
    records = [r for r in store.records() if r["key"]["method"] in methods and r["key"]["seed"] in seeds]
    if report:
        write_report(records, series, cfg, train_fraction, seeds, out, command)
    return records


def _rows(records: list[dict]) -> dict[str, dict[str, list[dict]]]:
    """``{row label: {series: [variant metrics per seed]}}``, rows labelled ``method: variant``."""
    rows: dict[str, dict[str, list[dict]]] = {}
    for r in records:
        method, name = r["key"]["method"], r["key"]["series"]
        for variant, metrics in r["variants"].items():
            label = variant if method in BASELINES else f"{method}: {variant}"
            rows.setdefault(label, {}).setdefault(name, []).append(metrics)
    return rows


def _mean(values) -> float:
    v = [x for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


UNLABELLED = ("sdmae: discrepancy", "sdmae: teacher", "sdmae: sum", "mae: reconstruction")
MAIN = ("sdmae: discrepancy", "sdmae-semi: discrepancy", "mae: reconstruction", *BASELINES)


def summarize(records: list[dict], series_names: list[str]) -> dict:
    """Per row and series the seed means; per row the series means, the series where it beats the
    best trivial baseline's PR-AUC, the series below chance ROC-AUC; the default picked on
    validation (injected anomalies in the training part) among the unlabelled model rows."""
    rows = _rows(records)
    metrics = ("roc_auc", "pr_auc", "f1", "pa_f1", "val_roc_auc")
    per = {label: {s: {m: _mean(x[m] for x in runs) for m in metrics} | {"seeds": len(runs)}
                   for s, runs in by_series.items()} for label, by_series in rows.items()}
    best_trivial = {s: max(per[b][s]["pr_auc"] for b in BASELINES if b in per and s in per[b]) for s in series_names}
    summary = {}
    for label, by_series in per.items():
        names = [s for s in series_names if s in by_series]
        summary[label] = {**{m: _mean(by_series[s][m] for s in names) for m in metrics}, "series": len(names),
                          "seeds": max(v["seeds"] for v in by_series.values()),
                          "beats_best_trivial": sum(by_series[s]["pr_auc"] > best_trivial[s] for s in names),
                          "below_chance": sum(by_series[s]["roc_auc"] < 0.5 for s in names)}
    candidates = [c for base in UNLABELLED for c in (base, f"{base}+smooth") if c in summary]
    default = max(candidates, key=lambda c: summary[c]["val_roc_auc"]) if candidates else None
    return {"per_series": per, "summary": summary, "best_trivial_pr_auc": best_trivial, "default": default}


def _fmt(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.3f}"


def report_markdown(result: dict, series: list[RealSeries], *, setting: str, budget: str, command: str,
                    reading: str = "") -> str:
    """The tables of :func:`summarize` with the setting, budget and the reading."""
    summary, per, default = result["summary"], result["per_series"], result["default"]
    lines = ["### Anomaly detection on real series (NAB_dev + UCR anomaly archive)", "", f"Setting: {setting}", "",
             f"Budget: {budget}", "", f"Command: `{command}`", "",
             "#### Every method and scorer: means over the series (each series: mean over seeds)", "",
             "ROC-AUC and PR-AUC on the test part's points; F1 at the threshold from the TRAINING part's scores "
             "(their 0.99 quantile), without point adjustment; point-adjusted F1 only beside it (it inflates: "
             "look at `random`); val ROC-AUC = ROC-AUC on synthetic anomalies injected into the training part "
             "(no real labels); beats = series where the row's PR-AUC exceeds the best of the four trivial "
             "baselines' (raw) PR-AUC on that series; below chance = series with ROC-AUC < 0.5.", "",
             "| method: scorer | ROC-AUC | PR-AUC | F1 @ train threshold | point-adjusted F1 (inflated) | "
             "val ROC-AUC (injected) | beats best trivial (of N) | below chance | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, s in summary.items():
        mark = " **(default)**" if label == default else ""
        lines.append(f"| {label}{mark} | {_fmt(s['roc_auc'])} | {_fmt(s['pr_auc'])} | {_fmt(s['f1'])} | "
                     f"{_fmt(s['pa_f1'])} | {_fmt(s['val_roc_auc'])} | {s['beats_best_trivial']} / {s['series']} | "
                     f"{s['below_chance']} | {s['seeds']} |")
    main = [m for m in (*MAIN, *([default] if default and default not in MAIN else [])) if m in per]
    for metric, title in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("f1", "F1 at the training threshold")):
        lines += ["", f"#### Per series: {title} (test part, mean over seeds)", "",
                  "| series | test anomalous / test points | " + " | ".join(main) + " |",
                  "|---|---|" + "---|" * len(main)]
        for s in series:
            n_test = len(s.labels) - s.n_train
            cells = [_fmt(per[m][s.name][metric]) if s.name in per[m] else "-" for m in main]
            lines.append(f"| {s.name} | {int(s.labels[s.n_train:].sum())} / {n_test} | " + " | ".join(cells) + " |")
        lines.append("| **mean** | | " + " | ".join(_fmt(summary[m][metric]) for m in main) + " |")
    if default:
        d = summary[default]
        trivial = {b: summary[b]["pr_auc"] for b in summary if b.split("+")[0] in BASELINES}
        beaten = [b for b, v in trivial.items() if d["pr_auc"] > v]
        lines += ["", "#### Default detector and target", "",
                  f"Picked on validation only (highest mean val ROC-AUC among the unlabelled model scorers): "
                  f"**{default}** (val ROC-AUC {_fmt(d['val_roc_auc'])}). Its mean test PR-AUC {_fmt(d['pr_auc'])} "
                  f"beats {len(beaten)} of the {len(trivial)} trivial baseline rows (raw and smoothed) "
                  f"({', '.join(f'{b} {_fmt(v)}' for b, v in trivial.items())}); it is below chance ROC-AUC on "
                  f"{d['below_chance']} of {d['series']} series. Target (beat every trivial baseline on mean "
                  f"PR-AUC, never below chance): **{'reached' if len(beaten) == len(trivial) and d['below_chance'] == 0 else 'NOT reached'}**."]
    if reading:
        lines += ["", "#### Reading", "", reading.strip()]
    return "\n".join(lines) + "\n"


def write_report(records: list[dict], series: list[RealSeries], cfg: SeriesConfig, train_fraction: float,
                 seeds: list[int], out: str | Path, command: str) -> dict:
    """Write ``out`` (markdown) and ``out.json`` from the records; the reading paragraph, if any, is
    read from ``<out stem>_reading.md`` beside it."""
    out = Path(out)
    result = summarize(records, [s.name for s in series])
    setting = (f"{len(series)} series: every NAB_dev series with anomaly windows (trained on the first "
               f"{train_fraction:.0%} of its rows, tested on the rest) and the UCR anomaly series (trained on its "
               f"anomaly-free TRAIN part, 1,200 of 7,501 rows); values standardised by the training part; windows of "
               f"{cfg.length} steps, scoring stride {cfg.stride}, {cfg.k} complementary patch masks; model "
               f"{cfg.model.to_dict()}; at most {cfg.max_train_windows} training windows; '+smooth' = centred moving "
               f"average of the point scores over {cfg.length} steps; threshold = training-score quantile "
               f"{1 - cfg.false_alarm_rate:.2f}.")
    seconds = sum(r["seconds"] for r in records)
    budget = (f"seeds {seeds} for every method (trained: {cfg.model.epochs} epochs, no epoch selection); "
              f"{seconds / 60:.0f} CPU-minutes in total on one niced thread (OMP_NUM_THREADS=1) of this machine")
    reading_file = out.with_name(out.stem + "_reading.md")
    reading = reading_file.read_text() if reading_file.is_file() else ""
    atomic_write_text(out, report_markdown(result, series, setting=setting, budget=budget, command=command,
                                           reading=reading))
    atomic_write_text(out.with_suffix(".json"), dump_json({"command": command, "setting": setting, "budget": budget,
                                                           **result}))
    return result


def recorded_series(settings: dict, records: list[dict]) -> list[RealSeries]:
    """The series of a run folder (its ``settings.json`` and records) as far as the report reads
    them, without the data files: name, length, training rows and the number of anomalous test
    points, in the folder's order. ``values`` are zeros and the test part's labels only count
    right (its first ``test_anomalous_points`` steps are marked): a stand-in for
    :func:`report_markdown`, not for scoring."""
    shape: dict[str, tuple[int, int, int]] = {}
    for r in records:
        found = (r["n_steps"], r["n_train"], r["test_anomalous_points"])
        if shape.setdefault(r["key"]["series"], found) != found:
            raise ValueError(f"the records of series {r['key']['series']} disagree on its length, training rows "
                             f"or anomalous test points: {shape[r['key']['series']]} vs {found}")
    missing = [name for name in settings["series"] if name not in shape]
    if missing:
        raise ValueError(f"no record of series {missing}")
    out = []
    for name in settings["series"]:
        n_steps, n_train, anomalous = shape[name]
        labels = np.zeros(n_steps, dtype=bool)
        labels[n_train:n_train + anomalous] = True
        out.append(RealSeries(name, np.zeros((n_steps, 1)), labels, n_train))
    return out


def rebuild_report(out: str | Path, command: str) -> dict:
    """Write ``out`` and its JSON again from its run folder alone (every recorded method and seed;
    the series from :func:`recorded_series`, so without the data files), as :func:`run` writes
    them at its end; nothing trains. Returns :func:`summarize`'s result."""
    from simmtm.anomaly.training import get_anomaly_preset

    store = RecordStore(run_folder(out))
    settings, records = store.settings(), store.records()
    saved = settings["config"]
    cfg = SeriesConfig(model=get_anomaly_preset("series", **saved["model"]),
                       **{k: v for k, v in saved.items() if k != "model"})
    if cfg.to_dict() != saved:
        raise ValueError(f"{run_folder(out)}: its config does not read back as a SeriesConfig")
    seeds = sorted({r["key"]["seed"] for r in records})
    return write_report(records, recorded_series(settings, records), cfg, settings["train_fraction"], seeds, out,
                        command)
