"""Fine-tuning protocol selection on VALIDATION MSE (the test split is never evaluated).

One forecasting study (:func:`simmtm.experiments.forecasting.study`) per protocol, at one
horizon, over the given seeds and inits, each with ``evaluate_test=False``. Every study after the
first fine-tunes from the first one's pre-training units (``pretrained_from``), or all of them
from another study's (e.g. ``results/forecasting/forecasting_ETTm1.md``), so one pre-training serves the
whole grid. Each study is its own resumable run folder under ``run_folder(out)``; re-running the
same command skips every finished unit. The table ``out`` and ``out.json`` are rebuilt from the
records after every study and mark what is still to run.

Random init gets the same grid as SimMTM: probing then trains the head on fixed random features
before the full phase (a head warm-up), and the encoder-lr ratio slows a randomly initialised
encoder. Neither is the identity for random init, both are ordinary choices for a model trained
from scratch, and selecting over the same grid for both inits keeps the comparison fair.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from simmtm.config import SimMTMConfig
from simmtm.data.forecasting import ForecastingData
from simmtm.experiments.forecasting import INITS, _describe, read_study, render_table, serving_pretraining, study
from simmtm.training.recipes import StudyBudget
from simmtm.experiments.records import RecordStore, dump_json, mean_std, run_folder
from simmtm.utils.atomic import atomic_write_text
from simmtm.training.protocols import FinetuneProtocol


Protocols = dict[str, tuple[str, FinetuneProtocol]]  # init -> (protocol name, protocol)


def selected_protocols(selection: str | Path) -> tuple[Protocols, bool]:
    """Each init's validation-selected protocol from a selection's JSON (``python -m simmtm
    protocols``), and whether that selection is complete (every unit of every seed finished)."""
    path = Path(selection).with_suffix(".json")
    if not path.is_file():
        raise ValueError(f"{path} not found: run `python -m simmtm protocols ... --out {Path(selection)}` first")
    saved = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for init, name in saved["selected"].items():
        if name is None:
            raise ValueError(f"{path}: no seed is finished by every protocol for {init} yet")
        spec = next(r["spec"] for r in saved["rows"] if r["protocol"] == name and r["init"] == init)
        out[init] = (name, FinetuneProtocol.from_dict(spec))
    return out, bool(saved["complete"])


def protocol_table(out: str | Path, name: str) -> Path:
    """The table of the study of protocol ``name`` inside the selection ``out``'s folder (its
    stem is unique, so its checkpoints get their own folder too)."""
    out = Path(out)
    return run_folder(out) / f"{out.stem}-{name}.md"


def select_protocols(cfg: SimMTMConfig, source: ForecastingData, target: ForecastingData,
                     protocols: dict[str, FinetuneProtocol], *, horizon: int, seeds: Iterable[int], out: str | Path,
                     budget: StudyBudget, inits: Iterable[str] = INITS, pretrained_from: str | Path | None = None,
                     device: str = "auto", checkpoints: str | Path = "checkpoints/studies", progress: bool = False,
                     command: str = "", log: Callable[..., None] = print,
                     units_from: Iterable[str | Path] = ()) -> dict:
    """Fine-tune with each named protocol at ``horizon`` for every seed and init, on validation
    only (module docstring); writes ``out`` and ``out.json``. Returns the summary
    (:func:`summarise`): validation MSE per protocol and init, and each init's selection.
    ``units_from``: studies whose finished random-init units a protocol's study copies where their
    fine-tuning is the same (their test numbers left out)."""
    seeds, inits = list(seeds), list(inits)
    if not protocols:
        raise ValueError("give at least one protocol to select from")
    bad = [n for n in protocols if not n or any(c in n for c in "/\\ ,:")]
    if bad:
        raise ValueError(f"protocol names must be plain words (no '/', '\\', ' ', ',' or ':'), got {bad}")
    out = Path(out)
    shared = Path(pretrained_from) if pretrained_from is not None else None
    write_selection(out, protocols, horizon=horizon, seeds=seeds, inits=inits, command=command)
    for name, protocol in protocols.items():
        log(f"[protocols] {name}: {protocol.describe()}")
        study(cfg, source, target, [horizon], seeds, out=protocol_table(out, name), budget=budget, device=device,
              checkpoints=checkpoints, inits=inits, evaluate_test=False, pretrained_from=shared, progress=progress,
              command=command, log=log, protocol=protocol, units_from=units_from)
        shared = serving_pretraining(shared, protocol_table(out, name), inits)
        write_selection(out, protocols, horizon=horizon, seeds=seeds, inits=inits, command=command)
    return write_selection(out, protocols, horizon=horizon, seeds=seeds, inits=inits, command=command)


def read_studies(out: str | Path, protocols: dict[str, FinetuneProtocol], inits: Iterable[str]
                 ) -> tuple[dict[str, FinetuneProtocol], list[str], dict[str, dict]]:
    """Every protocol study in ``out``'s folder, each read once: the protocols and inits the
    selection shows (those asked for, then every other protocol and init with finished records,
    so that a run over part of the grid -- one init, one protocol -- keeps what earlier runs
    measured in the table) and per protocol ``{"settings", "finetunes", "pretrains"}``."""
    out = Path(out)
    folder = run_folder(out)
    studies = {}
    for sub in sorted(folder.glob(f"{out.stem}-*")) if folder.is_dir() else []:
        name = sub.name[len(out.stem) + 1:]  # the folder of protocol_table(out, name)
        if sub.is_dir() and name:
            studies[name] = read_study(sub)
    empty = {"settings": {}, "finetunes": [], "pretrains": []}
    grid, found_inits = dict(protocols), set(inits)
    for name, found in studies.items():
        if found["finetunes"]:
            grid.setdefault(name, FinetuneProtocol.from_dict(found["settings"].get("protocol", {})))
            found_inits |= {r["key"]["init"] for r in found["finetunes"]}
    read = {name: studies.get(name, empty) for name in grid}
    return grid, [i for i in INITS if i in found_inits], read  # study() records no other init


def summarise(studies: dict[str, dict], protocols: dict[str, FinetuneProtocol], *, seeds: list[int],
              inits: list[str]) -> dict:
    """Validation MSE per protocol and init from the studies' records (:func:`read_studies`): ``{"rows": [one per
    (protocol, init) with per-seed values, mean, std, best epochs, wall time, missing seeds],
    "selected": {init: protocol name or None}, "selected_over_seeds": {init: seeds}, "complete":
    bool}``. An init's selection is the lowest mean validation MSE over the seeds that every
    started protocol has finished for it (all of them once complete; a provisional choice while a
    seed or a protocol is still running, None before that)."""
    rows, commands = [], []
    for name, protocol in protocols.items():
        finetunes = studies[name]["finetunes"]
        commands += [r["command"] for r in finetunes if r.get("command")]
        for init in inits:
            found = {r["key"]["seed"]: r for r in finetunes if r["key"]["init"] == init}
            done = [s for s in seeds if s in found]
            val = [found[s]["val_mse"] for s in done]
            rows.append({"protocol": name, "spec": protocol.to_dict(), "init": init,
                         "val_mse": {s: found[s]["val_mse"] for s in done},
                         "mean": float(np.mean(val)) if val else None, "std": float(np.std(val)) if val else None,
                         "best_epoch": {s: found[s]["best_epoch"] for s in done},
                         "epochs_run": {s: found[s]["epochs_run"] for s in done},
                         "seconds": float(sum(found[s].get("seconds", 0.0) for s in done)),
                         "missing_seeds": [s for s in seeds if s not in found]})
    selected, over = {}, {}
    for init in inits:
        mine = [r for r in rows if r["init"] == init and r["val_mse"]]  # protocols with a finished seed
        # the seeds every such protocol has finished: the whole list once complete, fewer while a seed is running
        common = [s for s in seeds if all(s in r["val_mse"] for r in mine)]
        over[init] = common
        score = lambda r: float(np.mean([r["val_mse"][s] for s in common]))  # noqa: E731
        selected[init] = min(mine, key=score)["protocol"] if common and mine else None
    return {"rows": rows, "selected": selected, "selected_over_seeds": over,
            "complete": all(not r["missing_seeds"] for r in rows), "commands": list(dict.fromkeys(commands))}


def write_selection(out: str | Path, protocols: dict[str, FinetuneProtocol], *, horizon: int, seeds: list[int],
                    inits: list[str], command: str = "") -> dict:
    """``out`` (markdown) and ``out.json`` from the records of every protocol's study: the
    protocols and inits asked for and any others an earlier run recorded (:func:`read_studies`)."""
    out = Path(out)
    protocols, inits, studies = read_studies(out, protocols, inits)
    summary = summarise(studies, protocols, seeds=seeds, inits=inits)
    settings = next((s["settings"] for s in studies.values() if s["settings"]), {})  # the first study with settings
    atomic_write_text(out.with_suffix(".json"), dump_json({"horizon": horizon, "seeds": seeds,
                                                           "inits": inits, "settings": settings, **summary}))
    atomic_write_text(out, render_selection(summary, settings, horizon=horizon, seeds=seeds, inits=inits,
                                            command=command, protocols=protocols,
                                            pretraining=_pretraining_line(out, studies)))
    return summary


def _pretraining_line(out: Path, studies: dict[str, dict]) -> str:
    """Where the selection's pre-training units are and what they took ("" if it borrowed another study's)."""
    for name, found in studies.items():
        pre = found["pretrains"]
        if found["settings"].get("pretrained_from") and not pre:
            continue
        if pre:
            minutes = ", ".join(f"seed {r['key']['seed']}: {r['seconds'] / 60:.1f} min" for r in pre)
            return f"Pre-training units (in `{protocol_table(out, name)}`'s folder): {minutes}."
    return ""


def render_selection(summary: dict, settings: dict, *, horizon: int, seeds: list[int], inits: list[str],
                     command: str, protocols: dict[str, FinetuneProtocol], pretraining: str = "") -> str:
    """The selection table: validation MSE mean ± std over seeds (the value, for one seed) per protocol and init, the
    paired SimMTM − random difference, best epochs, wall time; what is still to run; the
    selection per init."""
    source, target = settings.get("source", "?"), settings.get("target", "?")
    data = target if source == target else f"{source} -> {target}"
    lines = [f"### Fine-tuning protocol selection: {data}, H = {horizon}, seeds {', '.join(map(str, seeds))} "
             "(validation MSE only; the test split is not evaluated)", ""]
    if settings:
        lines += [*_describe(settings, varies=["protocol"]), ""]
    if pretraining:
        lines += [pretraining, ""]
    lines += ["Random init gets the same grid as SimMTM (probing = a head warm-up on fixed random features; "
              "the ratio slows the random encoder). Head epochs come on top of the fine-tuning epochs.", "",
              "Commands that made the records (each run skips the units an earlier one finished):", "",
              *[f"- `{c}`" for c in summary["commands"] or [command]], ""]
    by = {(r["protocol"], r["init"]): r for r in summary["rows"]}
    head = ["protocol", "what"] + [f"{i} val MSE" for i in inits]
    if len(inits) == 2:
        head.append("Δ val MSE (SimMTM − random, paired by seed)")
    head += [f"{i} best epoch (per seed)" for i in inits] + ["wall time (min)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(r):
        if not r["val_mse"]:
            return "to run"
        text = mean_std(r["val_mse"].values())
        return text + (f" ({len(r['val_mse'])} of {len(seeds)} seeds; to run: {r['missing_seeds']})"
                       if r["missing_seeds"] else "")

    for name, protocol in protocols.items():
        rows = [by[(name, i)] for i in inits]
        cells = [name, protocol.describe()] + [cell(r) for r in rows]
        if len(inits) == 2:
            a, b = rows[0]["val_mse"], rows[1]["val_mse"]
            paired = [a[s] - b[s] for s in sorted(set(a) & set(b))]
            cells.append(mean_std(paired))
        cells += [", ".join(str(e) for e in r["best_epoch"].values()) or "-" for r in rows]
        cells.append(f"{sum(r['seconds'] for r in rows) / 60:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for init in inits:
        choice = summary["selected"][init]
        if choice is None:
            lines.append(f"- {init}: no seed is finished by every protocol yet.")
        else:
            r = by[(choice, init)]
            common = summary["selected_over_seeds"][init]
            mean = float(np.mean([r["val_mse"][s] for s in common]))
            lines.append(f"- {init}: selected **{choice}** (val MSE {mean:.4f} over seed(s) {', '.join(map(str, common))})"
                         + ("" if summary["complete"] else "; provisional, units still to run"))
    return "\n".join(lines) + "\n"


def selected_table(out: str | Path, selection: str | Path, tables: Iterable[str | Path]) -> dict:
    """The four-horizon table with each init at its validation-selected protocol: each init's
    records come from the study among ``tables`` fine-tuned with that protocol (they must agree on
    everything else: data, model, budget). Writes ``out`` and ``out.json``; returns the JSON."""
    protocols, complete = selected_protocols(selection)
    studies = []  # (table, its records, its settings), each settings file read once
    for table in map(Path, tables):
        store = RecordStore(run_folder(table))
        if not store.settings():
            raise ValueError(f"{run_folder(table)} holds no study records")
        studies.append((table, store, store.settings()))
    chosen, records = {}, []
    for init, (name, protocol) in protocols.items():
        found = [(t, st, se) for t, st, se in studies
                 if FinetuneProtocol.from_dict(se.get("protocol", {})) == protocol
                 and st.records(unit="finetune", init=init)]
        if not found:
            raise ValueError(f"none of the tables fine-tuned {init} with its selected protocol {name} "
                             f"({protocol.describe()}); run that study first")
        chosen[init] = found[0]
        records += found[0][1].records(unit="finetune", init=init)
        if init == "SimMTM":
            records += found[0][1].records(unit="pretrain")
    # every setting but the protocol (and where pre-training came from) must agree
    shared = lambda se: {k: v for k, v in se.items() if k not in ("protocol", "pretrained_from")}  # noqa: E731
    (first, _, base_settings), *_ = chosen.values()
    base = shared(base_settings)
    for init, (table, _, se) in chosen.items():
        if dump_json(shared(se)) != dump_json(base):
            raise ValueError(f"{table} ({init}) was run with other data, model or budget than "
                             f"{first}; their rows cannot share a table")
    settings = {**base, "protocol_by_init": {i: p.to_dict() for i, (_, p) in protocols.items()},
                "selection": str(selection), "tables": {i: str(t) for i, (t, _, _) in chosen.items()}}
    text = render_table(settings, records)
    source = ", ".join(f"{i}: `{t}`" for i, (t, _, _) in chosen.items())
    note = (f"Each init at its protocol selected on VALIDATION MSE in `{selection}`"
            f"{'' if complete else ' (provisional: that selection is not complete)'}; rows from {source}.")
    title, rest = text.split("\n", 1)
    out = Path(out)
    atomic_write_text(out, f"{title} (selected protocols)\n\n{note}\n{rest}")
    saved = {"settings": settings, "selection_complete": complete, "records": records}
    atomic_write_text(out.with_suffix(".json"), dump_json(saved))
    return saved
