"""Where pre-training pays: the label curve and the pre-training-scale curve as resumable studies.

Both are sequences of forecasting studies (:func:`simmtm.experiments.forecasting.study`), one per
point and protocol, each its own run folder inside ``run_folder(out)``, so a re-run skips every
finished unit and a curve may grow over several sessions. Each init fine-tunes with its own
protocol (``protocols``: init -> (name, protocol), e.g. the validation selection of
:mod:`simmtm.experiments.protocol_selection`, read by :func:`selected_protocols`).

- label curve: fine-tuning on a nested ``fraction`` of the training windows (validation keeps the
  budget's windows), for each fraction; one pre-training per seed serves every fraction
  (``pretrained_from`` or the first point's units).
- scale curve: pre-training budgets ``(epochs, windows or None = all)``, SimMTM fine-tuned from
  each; random init does not depend on the pre-training, so it runs once (its own study) and is
  the reference of every point. A point whose budget equals ``pretrained_from``'s pre-training
  reuses its units. Points run shortest first, each keeping its pre-trainings' final states, and
  a longer point on the same windows continues the longest shorter one of its seed (pre-training
  has no lr schedule, so that is the same run): epochs 1, 3, 10 and 30 cost 30 epochs, not 44.

The table ``out`` and ``out.json`` hold, per point and horizon, validation and test MSE (mean ±
std over seeds) for each init and the paired SimMTM − random difference of test MSE, over the
points and seeds a command gives and every other one recorded in the curve's folder: a run over
one seed or point does not drop the others from the table.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from simmtm.config import SimMTMConfig
from simmtm.data.forecasting import ForecastingData
from simmtm.experiments.forecasting import INITS, _describe, copied_lines, own_commands, read_study, serving_pretraining, study
from simmtm.training.recipes import StudyBudget
from simmtm.experiments.protocol_selection import Protocols
from simmtm.experiments.records import canonical_command, RecordStore, dump_json, mean_std, run_folder
from simmtm.utils.atomic import atomic_write_text
from simmtm.training.protocols import FinetuneProtocol


def _groups(protocols: Protocols, inits: Iterable[str]) -> dict[str, tuple[FinetuneProtocol, list[str]]]:
    """``{protocol name: (protocol, the inits that use it)}``: one study per group and point."""
    groups: dict[str, tuple[FinetuneProtocol, list[str]]] = {}
    for init in inits:
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose from {INITS}")
        if init not in protocols:
            raise ValueError(f"no protocol given for {init}")
        name, protocol = protocols[init]
        groups.setdefault(name, (protocol, []))[1].append(init)
    return groups


def point_table(out: str | Path, point: str, protocol: str) -> Path:
    """The table of one (point, protocol) study inside the curve ``out``'s folder."""
    out = Path(out)
    return run_folder(out) / f"{out.stem}-{point}-{protocol}.md"


def fraction_name(fraction: float) -> str:
    return f"labels{fraction * 100:g}pct"


def scale_name(epochs: int, windows: int | None) -> str:
    return f"pre{epochs}ep-{windows or 'all'}w"


def labels_meta(fractions: Iterable[float]) -> dict:
    """The label curve's points (name -> training share), as its table and JSON record them."""
    return {"kind": "labels", "points": {fraction_name(f): {"train_fraction": float(f)} for f in fractions}}


def scale_meta(scales: Iterable[tuple[int, int | None]]) -> dict:
    """The scale curve's points (name -> pre-training epochs and windows, None = every window)."""
    return {"kind": "scale", "points": {scale_name(e, w): {"pretrain_epochs": e, "pretrain_windows": w}
                                        for e, w in scales}}


def label_curve(cfg: SimMTMConfig, source: ForecastingData, target: ForecastingData, fractions: Iterable[float], *,
                horizons: Iterable[int], seeds: Iterable[int], out: str | Path, budget: StudyBudget,
                protocols: Protocols, inits: Iterable[str] = INITS, pretrained_from: str | Path | None = None,
                device: str = "auto", checkpoints: str | Path = "checkpoints/studies", progress: bool = False,
                command: str = "", log: Callable[..., None] = print, units_from: Iterable[str | Path] = ()) -> dict:
    """Fine-tune on each nested ``fraction`` of the training windows (module docstring); writes
    ``out`` and ``out.json``; returns the curve (:func:`curve_summary`)."""
    fractions, horizons, seeds, inits = list(fractions), list(horizons), list(seeds), list(inits)
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must be in (0, 1], got {fractions}")
    groups = _groups(protocols, inits)
    points = {fraction_name(f): replace(budget, train_fraction=float(f)) for f in fractions}
    shared = Path(pretrained_from) if pretrained_from is not None else None
    meta = labels_meta(fractions)
    for point, bud in points.items():
        for name, (protocol, members) in groups.items():
            log(f"[curve] {point}: {', '.join(members)} with {name}")
            table = point_table(out, point, name)
            study(cfg, source, target, horizons, seeds, out=table, budget=bud, device=device, checkpoints=checkpoints,
                  inits=members, pretrained_from=shared, progress=progress, command=command, log=log,
                  protocol=protocol, units_from=units_from)
            shared = serving_pretraining(shared, table, members)
        write_curve(out, meta, protocols, inits=inits, horizons=horizons, seeds=seeds, command=command)
    return write_curve(out, meta, protocols, inits=inits, horizons=horizons, seeds=seeds, command=command)


def scale_curve(cfg: SimMTMConfig, data: ForecastingData, scales: Iterable[tuple[int, int | None]], *,
                horizons: Iterable[int], seeds: Iterable[int], out: str | Path, budget: StudyBudget,
                protocols: Protocols, pretrained_from: str | Path | None = None, device: str = "auto",
                checkpoints: str | Path = "checkpoints/studies", progress: bool = False, command: str = "",
                log: Callable[..., None] = print, units_from: Iterable[str | Path] = ()) -> dict:
    """Pre-train with each ``(epochs, windows)`` budget and fine-tune SimMTM from it; random init
    once as the reference (module docstring). ``pretrained_from`` serves the point whose
    pre-training budget it matches. Writes ``out`` and ``out.json``."""
    scales, horizons, seeds = [(int(e), w) for e, w in scales], list(horizons), list(seeds)
    if not scales:
        raise ValueError("give at least one pre-training budget")
    for init in INITS:
        if init not in protocols:
            raise ValueError(f"no protocol given for {init}")
    reuse = None
    if pretrained_from is not None:
        theirs = RecordStore(run_folder(Path(pretrained_from))).settings().get("budget", {})
        reuse = (theirs.get("pretrain_epochs"), theirs.get("pretrain_windows"))
    meta = scale_meta(scales)
    name, protocol = protocols["random init"]
    log(f"[curve] random init (the reference of every point) with {name}")
    study(cfg, data, data, horizons, seeds, out=point_table(out, "random", name), budget=budget, device=device,
          checkpoints=checkpoints, inits=["random init"], progress=progress, command=command, log=log,
          protocol=protocol, units_from=units_from)
    name, protocol = protocols["SimMTM"]
    ckpt_dir = lambda e, w: Path(checkpoints) / point_table(out, scale_name(e, w), name).stem  # noqa: E731
    for epochs, windows in sorted(set(scales), key=lambda s: (s[1] is None, s[1] or 0, s[0])):
        point = scale_name(epochs, windows)
        log(f"[curve] {point}: SimMTM with {name}")
        bud = replace(budget, pretrain_epochs=epochs, pretrain_windows=windows)
        shorter = [ckpt_dir(e, windows) for e in sorted({e for e, w in scales if w == windows and e < epochs}, reverse=True)]
        study(cfg, data, data, horizons, seeds, out=point_table(out, point, name), budget=bud, device=device,
              checkpoints=checkpoints, inits=["SimMTM"], progress=progress, command=command, log=log,
              protocol=protocol, pretrained_from=pretrained_from if reuse == (epochs, windows) else None,
              extend_from=shorter, keep_final_state=True)
        write_curve(out, meta, protocols, inits=list(INITS), horizons=horizons, seeds=seeds, command=command)
    return write_curve(out, meta, protocols, inits=list(INITS), horizons=horizons, seeds=seeds, command=command)


_POINT = {"labels": re.compile(r"labels(?P<pct>[0-9.e+-]+)pct"),
          "scale": re.compile(r"pre(?P<epochs>[0-9]+)ep-(?P<windows>[0-9]+|all)w")}


def _parse_point(kind: str, name: str) -> tuple[tuple, dict] | None:
    """A point's name -> (its sort key, its values as :func:`labels_meta` / :func:`scale_meta` give
    them), None if ``name`` is not a point of a ``kind`` curve. Sort: share; or window count with
    every window last, then epochs."""
    m = _POINT[kind].fullmatch(name)
    if m is None:
        return None
    if kind == "labels":
        return (float(m["pct"]),), {"train_fraction": round(float(m["pct"]) / 100, 12)}
    windows = None if m["windows"] == "all" else int(m["windows"])
    return (windows is None, windows or 0, int(m["epochs"])), {"pretrain_epochs": int(m["epochs"]),
                                                              "pretrain_windows": windows}


def recorded_points(out: str | Path, meta: dict, protocols: Protocols, inits: Iterable[str]) -> dict:
    """``meta`` with the points asked for and any others that runs of this curve (same table, same
    protocols) made a study folder for, so a run over part of the grid leaves the rest in the table.
    Points are ordered by their value (share; or window count, every window last, then epochs)."""
    out, kind = Path(out), meta["kind"]
    # the protocols whose studies have one folder a point (not the scale curve's random reference)
    names = {protocols[i][0] for i in inits if _folder_of(meta, "?", i) == "?"}
    points = dict(meta["points"])
    folders = sorted(f.name for f in run_folder(out).iterdir() if f.is_dir()) if run_folder(out).is_dir() else []
    for folder in folders:
        for name in names:
            point = folder.removeprefix(f"{out.stem}-").removesuffix(f"-{name}")
            if folder == f"{out.stem}-{point}-{name}" and point not in points and _parse_point(kind, point):
                points[point] = _parse_point(kind, point)[1]
    points = dict(sorted(points.items(), key=lambda kv: _parse_point(kind, kv[0])[0]))
    return {**meta, "points": points}


def _folder_of(meta: dict, point: str, init: str) -> str:
    """The point whose run folder holds ``init``'s units: random init's reference for a scale curve."""
    return "random" if meta["kind"] == "scale" and init == "random init" else point


def read_points(out: str | Path, meta: dict, protocols: Protocols, inits: list[str]) -> dict[tuple[str, str], dict]:
    """``{(point, protocol name): read_study(its folder)}`` for every run folder the curve's rows
    need, each folder read once."""
    out, found = Path(out), {}
    for point in meta["points"]:
        for init in inits:
            where = (_folder_of(meta, point, init), protocols[init][0])
            if where not in found:
                found[where] = read_study(run_folder(point_table(out, *where)))
    return found


def curve_summary(out: str | Path, meta: dict, protocols: Protocols, *, inits: list[str], horizons: list[int],
                  seeds: list[int], folders: dict | None = None) -> dict:
    """One row per (point, horizon) from the records alone (``folders``: :func:`read_points`, read
    here if not given): per init the validation and test MSE per seed, mean and std, the pairwise
    SimMTM − random test difference, and the seeds still to run."""
    folders = read_points(out, meta, protocols, inits) if folders is None else folders
    rows = []
    for point, values in meta["points"].items():
        for h in horizons:
            row = {"point": point, **values, "horizon": h, "missing": {}}
            for init in inits:
                name = protocols[init][0]
                found = {(r["key"]["horizon"], r["key"]["seed"]): r
                         for r in folders[(_folder_of(meta, point, init), name)]["finetunes"]
                         if r["key"]["init"] == init}
                done = {s: found[(h, s)] for s in seeds if (h, s) in found}
                row[init] = {"protocol": name, "val_mse": {s: r["val_mse"] for s, r in done.items()},
                             "test_mse": {s: r["test"]["mse"] for s, r in done.items()},
                             "train_windows": sorted({r.get("train_windows") for r in done.values()} - {None}),
                             "best_epoch": {s: r["best_epoch"] for s, r in done.items()}}
                row["missing"][init] = [s for s in seeds if s not in done]
            if len(inits) == 2:
                a, b = row["SimMTM"]["test_mse"], row["random init"]["test_mse"]
                row["paired_test_diff"] = {s: a[s] - b[s] for s in sorted(set(a) & set(b))}
            rows.append(row)
    complete = all(not m for r in rows for m in r["missing"].values())
    return {"kind": meta["kind"], "rows": rows, "complete": complete,
            "protocols": {i: protocols[i][0] for i in inits}}


def _stats(values: dict) -> str:
    v = list(values.values())
    if not v:
        return "to run"
    return mean_std(v) + (" (1 seed)" if len(v) == 1 else "")


def write_curve(out: str | Path, meta: dict, protocols: Protocols, *, inits: list[str], horizons: list[int],
                seeds: list[int], command: str = "") -> dict:
    """``out`` (markdown) and ``out.json`` from the records of every point's studies: the points,
    horizons and seeds given and any others recorded (:func:`recorded_points`)."""
    out = Path(out)
    meta = recorded_points(out, meta, protocols, inits)
    folders = read_points(out, meta, protocols, inits)  # each folder read once, for the grid and the rows
    finetunes = [r for f in folders.values() for r in f["finetunes"]]
    horizons = sorted({*horizons, *(r["key"]["horizon"] for r in finetunes)})
    seeds = sorted({*seeds, *(r["key"]["seed"] for r in finetunes)})
    summary = curve_summary(out, meta, protocols, inits=inits, horizons=horizons, seeds=seeds, folders=folders)
    settings = next((f["settings"] for f in folders.values() if f["settings"]), {})
    recorded = own_commands(finetunes)
    rerun = canonical_command(command) in {canonical_command(c) for c in recorded}  # a re-run adds no line
    commands = sorted({*recorded, *([command] if command and not rerun else [])})
    copied = sorted({r["copied_from"] for r in finetunes if r.get("copied_from")})
    atomic_write_text(out.with_suffix(".json"), dump_json({"seeds": seeds, "horizons": horizons, "settings": settings,
                                                           "commands": commands, "copied_from": copied, **summary}))
    what = "label curve (share of the training windows fine-tuning trains on)" if meta["kind"] == "labels" else \
        "pre-training scale curve (SimMTM pre-training epochs and windows; random init is the same reference at every point)"
    lines = [f"### {what}: {settings.get('source', '?')} -> {settings.get('target', '?')}, seeds "
             f"{', '.join(map(str, seeds))}", ""]
    if settings:
        # one point's settings; what differs between points and inits is said as such
        described = {**settings, "protocol_by_init": {i: protocols[i][1].to_dict() for i in inits}}
        lines += [*_describe(described, varies=["train_fraction" if meta["kind"] == "labels" else "pretraining"]), ""]
    lines += ["Protocols: " + "; ".join(f"{i}: {protocols[i][0]} ({protocols[i][1].describe()})" for i in inits), "",
              "Commands: " + "; ".join(f"`{c}`" for c in commands), "",
              *copied_lines(finetunes),
              "| point | H | train windows | " + " | ".join(f"{i} val MSE | {i} test MSE" for i in inits)
              + (" | Δ test MSE (SimMTM − random, paired) | SimMTM ahead (seeds)" if len(inits) == 2 else "") + " |",
              "|" + "---|" * (3 + 2 * len(inits) + (2 if len(inits) == 2 else 0))]
    for r in summary["rows"]:
        windows = sorted({w for i in inits for w in r[i]["train_windows"]})
        cells = [r["point"], str(r["horizon"]), ", ".join(map(str, windows)) or "-"]
        for i in inits:
            cells += [_stats(r[i]["val_mse"]), _stats(r[i]["test_mse"])]
        if len(inits) == 2:
            d = r["paired_test_diff"]
            cells += [_stats(d) if d else "-", f"{sum(v < 0 for v in d.values())} of {len(d)}" if d else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    if not summary["complete"]:
        lines += ["", "Unfinished: " + "; ".join(f"{r['point']} H={r['horizon']} {i} seeds {m}"
                                                 for r in summary["rows"] for i, m in r["missing"].items() if m)]
    atomic_write_text(out, "\n".join(lines) + "\n")
    return summary


def _curve_lines(x: list, rows: list[dict], labels: bool) -> list[tuple[str, str, list, dict]]:
    """The left panel's lines: ``(init, legend label, [(x, row)], line style)``. A label curve has
    one line per init; a scale curve one SimMTM line per pre-training window count (the epochs are
    its x) and random init once, flat: the same reference at every point."""
    if labels:
        return [(init, init, list(zip(x, rows)), {"marker": "o", "ls": "-"}) for init in ("SimMTM", "random init")]
    groups: dict = {}
    for xi, r in zip(x, rows):
        groups.setdefault(r["pretrain_windows"], []).append((xi, r))
    looks = [{"marker": "o", "ls": "-"}, {"marker": "s", "ls": ":"}, {"marker": "^", "ls": "-."}]
    lines = [("SimMTM", f"SimMTM ({w} pre-training windows)" if w else "SimMTM (every pre-training window)", pts,
              looks[i % len(looks)]) for i, (w, pts) in enumerate(groups.items())]
    reference = sorted({xi: r for xi, r in zip(x, rows)}.items(), key=lambda p: p[0])
    return lines + [("random init", "random init (no pre-training: one reference)", reference,
                     {"marker": "", "ls": "--"})]


def plot_curve(saved: dict, *, horizon: int, title: str = ""):
    """Two panels from a curve's JSON (``out.json``) at ``horizon``: test MSE of each init against
    the point (mean ± std over seeds, dots for one seed; zoomed axis, said under its label) and
    the per-seed paired SimMTM − random difference around a zero line. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from simmtm.plotting import arm_color, draw_paired_dots, legend_outside, mean_spread, seed_note, zoom_axis

    rows = [r for r in saved["rows"] if r["horizon"] == horizon]
    if not rows:
        raise ValueError(f"no rows at H = {horizon}; horizons: {sorted({r['horizon'] for r in saved['rows']})}")
    labels = saved["kind"] == "labels"
    x = [r["train_fraction"] * 100 if labels else r["pretrain_epochs"] for r in rows]
    names = [f"{v:g} %" if labels else f"{v} ep, {r['pretrain_windows'] or 'all'} w" for v, r in zip(x, rows)]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    values, seeds = [], set()
    for init, label, points, style in _curve_lines(x, rows, labels):
        pts = [(xi, list(r[init]["test_mse"].values())) for xi, r in points if r[init]["test_mse"]]
        if not pts:
            continue
        seeds |= {len(v) for _, v in pts}
        ms = [mean_spread(v) for _, v in pts]
        values += [v for _, vs in pts for v in vs]
        ax.errorbar([p for p, _ in pts], [m for m, _ in ms], yerr=[s or 0.0 for _, s in ms], capsize=3,
                    color=arm_color(init), label=label, **style)
        for p, vs in pts:
            ax.scatter([p] * len(vs), vs, s=10, color=arm_color(init), alpha=0.4, lw=0)
    ax.set_xscale("log")
    ax.set_xticks(sorted(set(x)), [f"{v:g}" for v in sorted(set(x))])
    ax.minorticks_off()
    ax.set_xlabel("training windows fine-tuned on (% of the budget's, log scale)" if labels
                  else "SimMTM pre-training epochs (log scale)")
    ax.set_ylabel("test MSE (standardized)")
    if values:
        zoom_axis(ax, values)
    legend_outside(ax, where="below", ncol=2)
    n = max(seeds) if seeds else 0
    note = seed_note(n) if len(seeds) <= 1 else f"{min(seeds)}-{n} seeds a point"  # points still running
    names = [name if r.get("paired_test_diff") else f"{name} (to run)" for name, r in zip(names, rows)]
    diffs = {name: {int(s): d for s, d in r.get("paired_test_diff", {}).items()} for name, r in zip(names, rows)}
    draw_paired_dots(ax2, diffs, labels=names, colors={name: arm_color("SimMTM") for name in names})
    ax2.xaxis.set_major_locator(MaxNLocator(nbins=5))  # MSE differences have long tick labels
    ax2.set_xlabel("test MSE: SimMTM − random init\n(< 0: pre-training helps; dots = seeds)")
    fig.suptitle((title or f"{saved.get('settings', {}).get('source', '?')} -> "
                  f"{saved.get('settings', {}).get('target', '?')}") + f", test split, H = {horizon} ({note})")
    fig.tight_layout()
    return fig
