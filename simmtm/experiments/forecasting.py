"""Forecasting studies: SimMTM pre-trained vs random init over seeds and horizons, in-domain or
across domains, as resumable units of a run folder (:mod:`simmtm.experiments.records`).

Units: one pre-training per seed (or one for all seeds with ``pretrain_once``) and one
fine-tuning per (seed, horizon, init); their checkpoints and resume states live under
``checkpoints/studies/<name>/``. Re-running the same command skips finished units and resumes
an interrupted one exactly (from its last finished epoch), so a study too long for one sitting finishes over several
runs. The markdown table and JSON beside it are rebuilt from the records after every unit.

:func:`sweep` runs variants of a recipe on one horizon and selects on VALIDATION MSE only
(the test split is not evaluated).
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simmtm.config import SimMTMConfig
from simmtm.data.forecasting import ForecastingData
from simmtm.experiments.paper import paper_numbers
from simmtm.experiments.records import RecordStore, dump_json, mean_std, run_folder
from simmtm.utils.atomic import atomic_write_text
from simmtm.utils.folderlock import hold
from simmtm.utils.checks import check_horizons
from simmtm.training.protocols import FinetuneProtocol
from simmtm.training.recipes import StudyBudget, apply_overrides

INITS = ("SimMTM", "random init")
TIMING = ("seconds",)  # record fields that differ between an unbroken and a resumed study


def weights_digest(path: Path) -> str:
    """sha256 of a checkpoint's weights (names, dtypes, shapes, values in order): equal for equal
    weights, unlike the file's own hash, which depends on how the pickle was written."""
    from simmtm.training.checkpoint import read_checkpoint

    h = hashlib.sha256()
    for name, tensor in read_checkpoint(path)["model"].items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _readable_digest(checkpoint: Path, log) -> str | None:
    """:func:`weights_digest` of ``checkpoint``, or None if it is missing or unreadable (said)."""
    if not checkpoint.is_file():
        return None
    try:
        return weights_digest(checkpoint)
    except ValueError as err:
        log(f"[study] {checkpoint} is unreadable ({' '.join(str(err).split())}); that pre-training is redone")
        return None


def _pretrained_encoder(store: RecordStore, cfg: SimMTMConfig, data: ForecastingData, seed: int,
                        budget: StudyBudget, checkpoint: Path, *, device: str, progress: bool, command: str, log,
                        extend_from: Iterable[Path] = (), keep_final_state: bool = False):
    """The encoder of pre-training unit ``seed``: from its checkpoint if that unit finished (and
    the file is the one its record names), else pre-trained now, resuming an interrupted run or
    else extending the first of ``extend_from`` (checkpoint folders of studies with a shorter
    pre-training of the same settings) that kept this seed's final state."""
    from simmtm.training.checkpoint import load_pretrained_encoder
    from simmtm.forecasting.training import pretrain
    from simmtm.training.resume import final_state_path

    key = {"unit": "pretrain", "seed": seed}
    record = store.get(key)
    if record is None or _readable_digest(checkpoint, log) != record["weights_sha256"]:
        log(f"[study] pre-training seed {seed} on {data.name} ({budget.pretrain_epochs} epochs)")
        t0 = time.perf_counter()
        shorter = next((f for f in (final_state_path(Path(d) / checkpoint.name) for d in extend_from) if f.is_file()),
                       None)
        _, result = pretrain(cfg, data, device=device, epochs=budget.pretrain_epochs, seed=seed,
                             max_windows=budget.pretrain_windows, checkpoint=checkpoint, resume=True,
                             progress=progress, log=log, extend_from=shorter, keep_final_state=keep_final_state)
        digest = weights_digest(checkpoint)
        remade = {}
        if record is not None and record["weights_sha256"] != digest:  # e.g. the checkpoint was lost, remade elsewhere
            log(f"[study] warning: pre-training seed {seed} was made again and its weights differ from the first "
                f"one's; fine-tuning units of seed {seed} finished before used the first")
            remade = {"previous_weights_sha256": [*record.get("previous_weights_sha256", []), record["weights_sha256"]]}
        store.put(key, {"dataset": data.name, "history": result["history"], "best_epoch": result["best_epoch"],
                        "checkpoint": str(checkpoint), "weights_sha256": digest, **remade,
                        **({"extended_from": str(shorter)} if shorter is not None else {}),
                        "seconds": time.perf_counter() - t0, "command": command})
    encoder, _ = load_pretrained_encoder(checkpoint)
    return encoder


def _shared_pretraining(other: Path, cfg: SimMTMConfig, data: ForecastingData, budget: StudyBudget,
                        checkpoints: str | Path) -> tuple[RecordStore, Path]:
    """The record store and checkpoint folder of study ``other``, refused unless its pre-training
    matches this one's (source, model, pre-training budget)."""
    store = RecordStore(run_folder(other))
    settings = store.settings()
    if not settings:
        raise ValueError(f"{run_folder(other)} holds no study records to pre-train from")
    mine = dump_json({"source": data.name, "config": cfg.to_dict(),
                      **{k: asdict(budget)[k] for k in ("pretrain_epochs", "pretrain_windows", "pretrain_once")}})
    theirs = dump_json({"source": settings.get("source"), "config": settings.get("config"),
                        **{k: settings.get("budget", {}).get(k) for k in ("pretrain_epochs", "pretrain_windows",
                                                                           "pretrain_once")}})
    if mine != theirs:
        raise ValueError(f"{other} was pre-trained with other settings (source, model or pre-training budget); "
                         "its encoders cannot be shared")
    return store, Path(checkpoints) / other.stem


PRETRAINING_BUDGET = ("pretrain_epochs", "pretrain_windows", "pretrain_once")


def random_init_settings(settings: dict) -> dict:
    """What decides a study's random-init fine-tuning units: target, model (its channels aside:
    fine-tuning builds it for the target), fine-tuning budget, protocol and whether test is
    evaluated -- not the pre-training (source, its budget, ``pretrained_from``)."""
    config = {k: v for k, v in settings.get("config", {}).items() if k != "n_channels"}
    budget = {k: v for k, v in settings.get("budget", {}).items() if k not in PRETRAINING_BUDGET}
    return {"target": settings.get("target"), "config": config, "budget": budget,
            "evaluate_test": settings.get("evaluate_test"), "protocol": settings.get("protocol")}


def _unit_donors(tables: Iterable[str | Path], settings: dict, log) -> list[tuple[Path, RecordStore]]:
    """The studies among ``tables`` whose random-init units this study may copy (the same
    :func:`random_init_settings`); the others are named in the log and left out. A study that
    evaluates on validation only may also copy from one that evaluated test (testing comes after
    training; :func:`_copy_unit` drops the test numbers)."""
    val_only = settings.get("evaluate_test") is False

    def same(s: dict) -> str:
        s = random_init_settings(s)
        return dump_json({k: v for k, v in s.items() if k != "evaluate_test"} if val_only else s)

    donors, mine = [], same(settings)
    for table in map(Path, tables):
        donor = RecordStore(run_folder(table))
        theirs = donor.settings()
        if not theirs:
            raise ValueError(f"{run_folder(table)} holds no study records to copy units from")
        if same(theirs) == mine:
            donors.append((table, donor))
        else:
            log(f"[study] {table}: its random-init units were fine-tuned with other settings; not copied here")
    return donors


def _copy_unit(store: RecordStore, donors: list[tuple[Path, RecordStore]], key: dict, log,
               evaluate_test: bool = True) -> bool:
    """Copy the finished random-init unit ``key`` from the first donor that has it (marked
    ``copied_from``; its test numbers dropped unless this study evaluates test); False if none has it."""
    if key["init"] != "random init":
        return False
    for table, donor in donors:
        record = donor.get(key)
        if record is not None:
            record = {**{k: v for k, v in record.items() if k != "key"}, "copied_from": str(table)}
            store.put(key, record if evaluate_test else {**record, "test": None})
            log(f"[study] seed {key['seed']} H={key['horizon']} random init: copied from {table}")
            return True
    return False


def serving_pretraining(shared: str | Path | None, table: str | Path, inits: Iterable[str]) -> Path | None:
    """The study whose pre-training units serve the next studies of a sequence (a protocol grid,
    a curve's points): ``shared`` if given, else ``table`` once it has fine-tuned SimMTM (and so
    pre-trained), else still None."""
    if shared is not None:
        return Path(shared)
    return Path(table) if "SimMTM" in inits else None


def study(pre_cfg: SimMTMConfig, pre_data: ForecastingData, target: ForecastingData, horizons: Iterable[int],
          seeds: Iterable[int], *, out: str | Path, budget: StudyBudget, device: str = "auto",
          checkpoints: str | Path = "checkpoints/studies", inits: Iterable[str] = INITS, evaluate_test: bool = True,
          pretrained_from: str | Path | None = None, progress: bool = False, command: str = "",
          log=print, protocol: FinetuneProtocol | None = None, units_from: Iterable[str | Path] = (),
          extend_from: Iterable[str | Path] = (), keep_final_state: bool = False) -> list[dict]:
    """Pre-train on ``pre_data``, fine-tune on ``target`` for each horizon from the pre-trained
    encoder and from a random initialisation with the same budget, for each seed.

    ``keep_final_state`` keeps each finished pre-training's last state beside its checkpoint;
    ``extend_from``: checkpoint folders of studies with a shorter pre-training of otherwise the
    same settings (longest first), whose kept state of a seed this study's pre-training of that
    seed continues instead of starting over (:meth:`simmtm.training.resume.ResumeState.extend`; the same
    weights, as pre-training has no lr schedule). The record says ``extended_from``.

    ``pretrained_from``: the table of another study whose finished pre-training units (same
    source, model and pre-training budget) this one fine-tunes from instead of pre-training
    again, e.g. to try another fine-tuning recipe.

    ``units_from``: tables of other studies whose finished random-init units this one copies
    instead of training them again, where their fine-tuning is the same
    (:func:`random_init_settings`: same target, model, fine-tuning budget and protocol; the
    pre-training does not matter to random init). Copies say ``copied_from`` in their record.

    ``protocol``: how every fine-tuning unit trains (:mod:`simmtm.training.protocols`), for both inits.
    It is part of the study's settings (a run folder holds one protocol); the default, full
    fine-tuning at one lr, leaves the settings as they were before protocols existed, so
    earlier run folders resume unchanged.

    Writes one record per unit into ``run_folder(out)``, then the table ``out`` and
    ``out.json`` (every record) rebuilt from the records. A re-run skips finished units; a
    run folder made with other settings (data, config, budget) is refused. Returns the records.
    """
    from simmtm.forecasting.training import finetune

    horizons, seeds, inits = list(horizons), list(seeds), list(inits)
    unknown = [i for i in inits if i not in INITS]
    if unknown or not inits:
        raise ValueError(f"inits must be a non-empty subset of {INITS}, got {inits}")
    check_horizons(target, horizons, pre_cfg.seq_len)  # every horizon, before any training
    if not seeds:
        raise ValueError("give at least one seed")
    protocol = protocol or FinetuneProtocol()
    out = Path(out)
    store = RecordStore(run_folder(out))
    settings = {"source": pre_data.name, "target": target.name, "config": pre_cfg.to_dict(),
                "budget": budget.settings(), "evaluate_test": evaluate_test,
                **({"pretrained_from": str(pretrained_from)} if pretrained_from else {}),
                **({} if protocol.is_default else {"protocol": protocol.to_dict()})}
    store.check_settings(settings)
    donors = _unit_donors(units_from, settings, log)
    ckpt_dir = Path(checkpoints) / out.stem
    ckpt_lock = RecordStore(ckpt_dir)  # its checkpoints are this process's too (another --out may share the stem)
    ckpt_lock.lock()
    pre_store, pre_ckpt_dir = store, ckpt_dir
    if pretrained_from is not None:
        pre_store, pre_ckpt_dir = _shared_pretraining(Path(pretrained_from), pre_cfg, pre_data, budget, checkpoints)
    ft_cfg = replace(pre_cfg, n_channels=target.n_channels)
    for seed in seeds:
        keys = [{"unit": "finetune", "seed": seed, "horizon": h, "init": i} for h in horizons for i in inits]
        pending = [k for k in keys if not store.done(k) and not _copy_unit(store, donors, k, log, evaluate_test)]
        if not pending:
            log(f"[study] seed {seed}: every unit finished, skipped")
            continue
        encoder = None
        if any(k["init"] == "SimMTM" for k in pending):
            pre_seed = seeds[0] if budget.pretrain_once else seed
            checkpoint = pre_ckpt_dir / f"pretrain_seed{pre_seed}.pt"
            if pretrained_from is not None:
                record = pre_store.get({"unit": "pretrain", "seed": pre_seed})
                if record is None or not checkpoint.is_file() or weights_digest(checkpoint) != record["weights_sha256"]:
                    raise ValueError(f"{pretrained_from} has no finished pre-training of seed {pre_seed} with its "
                                     f"checkpoint {checkpoint}: run that study first")
            encoder = _pretrained_encoder(pre_store, pre_cfg, pre_data, pre_seed, budget, checkpoint, device=device,
                                          progress=progress, command=command, log=log,
                                          extend_from=map(Path, extend_from), keep_final_state=keep_final_state)
        for key in pending:
            t0 = time.perf_counter()
            enc = encoder if key["init"] == "SimMTM" else None  # finetune copies it
            r = finetune(ft_cfg, target, key["horizon"], encoder=enc, device=device, lr=budget.lr,
                         batch_size=budget.batch_size, epochs=budget.finetune_epochs, patience=budget.patience,
                         head_dropout=budget.head_dropout, max_windows=budget.finetune_windows, seed=seed,
                         checkpoint=ckpt_dir / f"finetune_seed{seed}_H{key['horizon']}_{key['init'].replace(' ', '_')}.pt",
                         resume=True, evaluate_test=evaluate_test, progress=progress, log=log, protocol=protocol,
                         train_fraction=budget.train_fraction)
            record = store.put(key, {"test": r["test"], "val_mse": r["val_mse"], "best_epoch": r["best_epoch"],
                                     "train_windows": r["train_windows"],
                                     "epochs_run": len(r["history"]), "history": r["history"],
                                     "pretrain_seed": (seeds[0] if budget.pretrain_once else seed)
                                     if key["init"] == "SimMTM" else None,
                                     "seconds": time.perf_counter() - t0, "command": command})
            test = record["test"]
            log(f"[study] seed {seed} H={key['horizon']} {key['init']}: val MSE {record['val_mse']:.4f}"
                + (f", test MSE {test['mse']:.4f} MAE {test['mae']:.4f}" if test else "")
                + f" ({record['seconds']:.0f}s)")
            write_tables(out, store)
    write_tables(out, store)
    return store.records()


# --- tables, rebuilt from the records alone -------------------------------------------------------

def write_tables(out: str | Path, store: RecordStore) -> None:
    """``out`` (markdown) and ``out.json`` (settings + every record) from ``store``."""
    out = Path(out)
    records = store.records()
    atomic_write_text(out.with_suffix(".json"), dump_json({"settings": store.settings(), "records": records}))
    atomic_write_text(out, render_table(store.settings(), records))


def _paired(a: dict[int, float], b: dict[int, float]) -> list[float]:
    return [a[s] - b[s] for s in sorted(set(a) & set(b))]


def _describe(settings: dict, varies: Iterable[str] = ()) -> list[str]:
    """The settings lines of a table (model, pre-training, fine-tuning). ``varies``: what differs
    between the rows of a table assembled from several studies, said as such instead of one
    study's value: ``protocol`` (one per row), ``train_fraction`` (a nested share per point),
    ``pretraining`` (epochs and windows per point)."""
    varies = set(varies)
    cfg, budget = settings["config"], settings["budget"]
    tested = ("the test split (every window) evaluated once with the best-validation weights"
              if settings.get("evaluate_test", True) else "the test split NOT evaluated (selection on validation)")
    enc = cfg["encoder"]
    windows = (f"{budget['pretrain_windows']} evenly spaced training windows" if budget["pretrain_windows"]
               else "every training window")
    once = "one pre-training for every seed" if budget["pretrain_once"] else "one pre-training per seed"
    ft_windows = (f"{budget['finetune_windows']} evenly spaced training windows" if budget["finetune_windows"]
                  else "every training window")
    if "train_fraction" in varies:
        ft_windows = f"the point's nested share (column 'train windows') of {ft_windows}"
    elif budget.get("train_fraction", 1.0) != 1.0:
        ft_windows = (f"a nested {budget['train_fraction']:.0%} of {ft_windows} (validation keeps "
                      f"{budget['finetune_windows'] or 'all'})")
    pre_budget = (f"{budget['pretrain_epochs']} epochs (kept on validation loss) over {windows}"
                  if "pretraining" not in varies else
                  "the point's epochs (kept on validation loss) over the point's windows")
    protocol = FinetuneProtocol.from_dict(settings.get("protocol", {})).describe()
    if "protocol" in varies:
        protocol = "the protocol of each row"
    elif settings.get("protocol_by_init"):  # a table assembled from one study per init (each its own protocol)
        protocol = "each init with its own protocol (" + "; ".join(
            f"{i}: {FinetuneProtocol.from_dict(d).describe()}" for i, d in settings["protocol_by_init"].items()) + ")"
    return [
        f"Model: L = {cfg['seq_len']}, patch tokens of {enc['patch_len']} step(s), d_model {enc['d_model']}, "
        f"{enc['n_layers']} layers, {enc['n_heads']} heads, d_ff {enc['d_ff']}, dropout {enc['dropout']}; "
        f"{cfg['n_views']} masked views, mask ratio {cfg['mask_ratio']}, {cfg['decoder']} decoder, "
        f"{cfg['projector']} projector, temperature {cfg['temperature']}, loss weighting {cfg['loss_weighting']}.",
        f"Pre-training on {settings['source']}: {pre_budget}, lr {cfg['lr']:g}, batch {cfg['batch_size']}; {once}"
        + (f" (the pre-training units of `{settings['pretrained_from']}`, shared: not run again here)."
           if settings.get("pretrained_from") else "."),
        f"Fine-tuning on {settings['target']}: {protocol}, "
        f"lr {budget['lr']:g}, batch {budget['batch_size']}, "
        f"up to {budget['finetune_epochs']} epochs over {ft_windows}, early stopping after {budget['patience']} "
        f"epochs without a better validation MSE; {tested}. MSE / MAE on the standardized scale.",
    ]


def read_study(folder: str | Path) -> dict[str, Any]:
    """A study's run folder, its records read once: ``{"settings", "finetunes", "pretrains"}``
    (empty for a folder not made yet)."""
    store = RecordStore(Path(folder))
    records = store.records()
    return {"settings": store.settings(), "finetunes": [r for r in records if r["key"].get("unit") == "finetune"],
            "pretrains": [r for r in records if r["key"].get("unit") == "pretrain"]}


def own_commands(records: list[dict]) -> list[str]:
    """The commands that trained these records, first seen first: a copied unit's command made
    another study, which :func:`copied_lines` names instead."""
    return list(dict.fromkeys(r["command"] for r in records if r.get("command") and not r.get("copied_from")))


def copied_lines(finetunes: list[dict]) -> list[str]:
    """The table lines naming the studies some fine-tuning records were copied from (none if none)."""
    copied = sorted({r["copied_from"] for r in finetunes if r.get("copied_from")})
    if not copied:
        return []
    return [f"Random-init units copied from studies with the same fine-tuning ({sum(bool(r.get('copied_from')) for r in finetunes)}"
            " of them, see `copied_from` in the records): " + ", ".join(f"`{c}`" for c in copied) + ".", ""]


def render_table(settings: dict, records: list[dict]) -> str:
    """The study's markdown: settings, commands, per-horizon MSE / MAE mean ± std over seeds for
    each init, the paired difference, the paper's numbers and wall times."""
    source, target = settings.get("source", "?"), settings.get("target", "?")
    title = f"### {target} in-domain" if source == target else f"### {source} -> {target}"
    lines = [title, ""]
    if settings:
        lines += [*_describe(settings), ""]
    commands = own_commands(records)
    if commands:
        lines += ["Commands (each run skips the units an earlier one finished):", ""]
        lines += [f"- `{c}`" for c in commands] + [""]
    ft = [r for r in records if r["key"]["unit"] == "finetune"]
    lines += copied_lines(ft)
    has_test = any(r["test"] for r in ft)
    metric = (lambda r, k: r["test"][k]) if has_test else (lambda r, k: r["val_mse"] if k == "mse" else np.nan)
    horizons = sorted({r["key"]["horizon"] for r in ft})
    inits = [i for i in INITS if any(r["key"]["init"] == i for r in ft)]
    paper = paper_numbers(source, target)

    def by_seed(horizon, init, k) -> dict[int, float]:
        return {r["key"]["seed"]: metric(r, k) for r in ft if r["key"]["horizon"] == horizon and r["key"]["init"] == init}

    split = "test" if has_test else "validation"
    head = ["horizon"] + [f"{i} {m}" for i in inits for m in (("MSE", "MAE") if has_test else ("val MSE",))]
    if len(inits) == 2:
        head.append("Δ MSE (SimMTM − random, paired by seed)")
    head += ["seeds", "paper SimMTM MSE / MAE"]
    lines += [f"Metrics on the {split} split, mean ± std over seeds:", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    averages: dict[str, dict[str, dict[int, float]]] = {i: {"mse": {}, "mae": {}} for i in inits}
    for h in horizons:
        cells, seeds = [str(h)], set()
        for i in inits:
            for k in (("mse", "mae") if has_test else ("mse",)):
                values = by_seed(h, i, k)
                seeds |= set(values)
                cells.append(mean_std(values.values()))
        if len(inits) == 2:
            cells.append(mean_std(_paired(by_seed(h, "SimMTM", "mse"), by_seed(h, "random init", "mse"))))
        p = paper.get(h)
        cells += [str(len(seeds)), f"{p[0]:.3f} / {p[1]:.3f}" if p else "not checked"]
        lines.append("| " + " | ".join(cells) + " |")
    # The four-horizon average: per seed over the horizons that seed has for every init.
    full = {96, 192, 336, 720}
    if full <= set(horizons):
        cells, n_seeds = ["avg (96-720)"], set()
        for i in inits:
            for k in (("mse", "mae") if has_test else ("mse",)):
                per_h = [by_seed(h, i, k) for h in sorted(full)]
                common = set.intersection(*(set(v) for v in per_h))
                averages[i][k] = {s: float(np.mean([v[s] for v in per_h])) for s in common}
                n_seeds |= common
                cells.append(mean_std(averages[i][k].values()))
        if len(inits) == 2:
            cells.append(mean_std(_paired(averages["SimMTM"]["mse"], averages["random init"]["mse"])))
        p = paper.get("avg")
        cells += [str(len(n_seeds)), f"{p[0]:.3f} / {p[1]:.3f}" if p else "not reported"]
        lines.append("| " + " | ".join(cells) + " |")
    elif paper.get("avg"):
        p = paper["avg"]
        lines += ["", f"(The paper reports a four-horizon average of {p[0]:.3f} / {p[1]:.3f}; the average row "
                      f"appears once all four horizons have records.)"]
    pre = [r for r in records if r["key"]["unit"] == "pretrain"]
    total = sum(r.get("seconds", 0.0) for r in records)
    lines += ["", "Wall time on the machine that ran it: "
              + (f"pre-training {np.mean([r['seconds'] for r in pre]) / 60:.1f} min per unit ({len(pre)} units); "
                 if pre else "")
              + (f"fine-tuning {np.mean([r['seconds'] for r in ft]) / 60:.1f} min per unit ({len(ft)} units); "
                 if ft else "")
              + f"{total / 3600:.2f} h in all."]
    return "\n".join(lines) + "\n"


def summary_frame(path: str | Path):
    """A study's JSON (``results/forecasting/forecasting_*.json``) as a DataFrame: one row per (horizon, init)
    with MSE / MAE mean and std over seeds, the seed count and the paper's SimMTM numbers on the
    SimMTM rows (NaN on the others, and where the paper's per-horizon figure is not checked)."""
    import json

    import pandas as pd

    saved = json.loads(Path(path).read_text())
    settings = saved["settings"]
    paper = paper_numbers(settings["source"], settings["target"])
    rows = []
    ft = [r for r in saved["records"] if r["key"]["unit"] == "finetune" and r["test"]]
    for h in sorted({r["key"]["horizon"] for r in ft}):
        for init in INITS:
            sel = [r["test"] for r in ft if r["key"]["horizon"] == h and r["key"]["init"] == init]
            if sel:
                mse, mae = np.array([t["mse"] for t in sel]), np.array([t["mae"] for t in sel])
                p = paper.get(h, (np.nan, np.nan)) if init == "SimMTM" else (np.nan, np.nan)
                rows.append({"horizon": h, "init": init, "mse_mean": mse.mean(), "mse_std": mse.std(),
                             "mae_mean": mae.mean(), "mae_std": mae.std(), "seeds": len(sel),
                             "paper_mse": p[0], "paper_mae": p[1]})
    return pd.DataFrame(rows)


def study_rows(path: str | Path) -> list[dict]:
    """A study's JSON as one flat row per finished fine-tuning unit: ``horizon``, ``init``,
    ``seed``, ``mse``, ``mae`` (for per-seed plots such as paired differences)."""
    import json

    saved = json.loads(Path(path).read_text())
    return [{"horizon": r["key"]["horizon"], "init": r["key"]["init"], "seed": r["key"]["seed"], **r["test"]}
            for r in saved["records"] if r["key"]["unit"] == "finetune" and r["test"]]


def strip_timing(records: list[dict]) -> list[dict]:
    """Records without their wall times (an unbroken and a resumed study agree on the rest)."""
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


# --- recipe sweep, selected on validation ------------------------------------------------------------

def sweep(base_cfg: SimMTMConfig, data: ForecastingData, variants: dict[str, dict[str, Any]], *, horizon: int,
          seed: int, out: str | Path, budget: StudyBudget, device: str = "auto",
          checkpoints: str | Path = "checkpoints/studies", progress: bool = False, command: str = "",
          log: Callable[..., None] = print) -> list[dict]:
    """Each named variant (overrides of :func:`apply_overrides`) pre-trained and fine-tuned on
    ``data`` at one horizon and seed; the test split is NOT evaluated. Writes ``out`` with the
    variants ranked by validation MSE; returns one row per variant. Every variant and the
    horizon are checked before the first one trains; the sweep's folder is held (locked) by
    this process until it ends."""
    resolved = {}
    for name, overrides in variants.items():
        try:
            resolved[name] = apply_overrides(base_cfg, budget, overrides)
        except (ValueError, TypeError) as err:
            raise ValueError(f"variant {name!r}: {' '.join(str(err).split())}") from None
        check_horizons(data, [horizon], resolved[name][0].seq_len)
    with hold(run_folder(out)):
        return _sweep(base_cfg, data, variants, resolved, horizon=horizon, seed=seed, out=Path(out), budget=budget,
                      device=device, checkpoints=checkpoints, progress=progress, command=command, log=log)


def _sweep(base_cfg, data, variants, resolved, *, horizon, seed, out, budget, device, checkpoints, progress, command,
           log) -> list[dict]:
    rows = []
    for name, overrides in variants.items():
        cfg, bud = resolved[name]
        sub = run_folder(out) / f"{name}.md"
        records = study(cfg, data, data, [horizon], [seed], out=sub, budget=bud, device=device,
                        checkpoints=Path(checkpoints) / out.stem, inits=("SimMTM",), evaluate_test=False,
                        progress=progress, command=command, log=log)
        rows.append(sweep_row(name, overrides, records))
    base = {"source": data.name, "target": data.name, "config": base_cfg.to_dict(), "budget": budget.settings(),
            "evaluate_test": False}
    return write_sweep(out, base, horizon=horizon, seed=seed, command=command, rows=rows)


def write_sweep(out: Path, base: dict, *, horizon: int, seed: int, command: str, rows: list[dict]) -> list[dict]:
    """Rank ``rows`` by validation MSE and write the sweep table (:func:`sweep_markdown`) and its
    JSON; returns the ranked rows."""
    rows = sorted(rows, key=lambda r: r["val_mse"])
    atomic_write_text(out, sweep_markdown(base, horizon=horizon, seed=seed, command=command, rows=rows))
    atomic_write_text(out.with_suffix(".json"), dump_json({"command": command, "rows": rows}))
    return rows


def sweep_row(name: str, overrides: dict[str, Any], records: list[dict]) -> dict:
    """A variant's row of the sweep table from the records of its study (one fine-tuning unit,
    and its pre-training unit unless that was shared)."""
    ft = next(r for r in records if r["key"]["unit"] == "finetune")
    pre = next((r for r in records if r["key"]["unit"] == "pretrain"), None)
    return {"variant": name, "overrides": overrides, "val_mse": ft["val_mse"], "best_epoch": ft["best_epoch"],
            "pretrain_val_loss": pre["history"][pre["best_epoch"]].get("val_loss") if pre else None,
            "seconds": ft["seconds"] + (pre["seconds"] if pre else 0.0)}


def sweep_markdown(base: dict, *, horizon: int, seed: int, command: str, rows: list[dict]) -> str:
    """The sweep table: the base recipe (``base``: a study's settings, source = target), the
    command and the variants' ``rows`` (:func:`sweep_row`) in the order given (ranked by val MSE)."""
    lines = [f"### Recipe sweep on {base['source']}, H = {horizon}, seed {seed} "
             "(validation MSE only; test not evaluated)", "", *_describe(base), "",
             "Each variant changes the settings above as listed.", "",
             f"Command: `{command}`", "", "| rank | variant | overrides | fine-tune val MSE | best epoch | "
             "pre-training val loss | wall time (min) |", "|---|---|---|---|---|---|---|"]
    for rank, r in enumerate(rows, 1):
        ov = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "(base)"
        pv = f"{r['pretrain_val_loss']:.4f}" if r["pretrain_val_loss"] is not None else "-"
        lines.append(f"| {rank} | {r['variant']} | {ov} | {r['val_mse']:.4f} | {r['best_epoch']} | {pv} | "
                     f"{r['seconds'] / 60:.1f} |")
    return "\n".join(lines) + "\n"


def rebuild_sweep(out: str | Path, variants: dict[str, dict[str, Any]], command: str) -> list[dict]:
    """Write the sweep table ``out`` and its JSON again from the records of its variants' studies
    alone (nothing trains): ``variants`` as :func:`sweep` was given them, one of them the base
    (no overrides), whose study's settings are the recipe the table describes. Returns the rows."""
    out = Path(out)
    stores = {name: RecordStore(run_folder(run_folder(out) / f"{name}.md")) for name in variants}
    missing = [name for name, store in stores.items() if not store.records(unit="finetune")]
    if missing:
        raise ValueError(f"{run_folder(out)} holds no finished study of variant(s) {missing}")
    base = next((name for name, overrides in variants.items() if not overrides), None)
    if base is None:
        raise ValueError("no variant without overrides: the base recipe is not recorded")
    rows = [sweep_row(name, overrides, stores[name].records()) for name, overrides in variants.items()]
    (key,) = {(r["key"]["horizon"], r["key"]["seed"]) for s in stores.values() for r in s.records(unit="finetune")}
    return write_sweep(out, stores[base].settings(), horizon=key[0], seed=key[1], command=command, rows=rows)


def legacy_table(saved: dict) -> str:
    """The table of a study JSON from before run folders (``{"command", "runs"}``: one run per
    seed, horizon and init, no settings; ``results/forecasting/forecasting_cpu_*.json``), as that
    study wrote it, with one seed's value alone (no "± 0"). Source and target are the command's
    ``--data`` and ``--target`` (default: the source)."""
    import shlex

    words = shlex.split(saved["command"])
    source = words[words.index("--data") + 1]
    target = words[words.index("--target") + 1] if "--target" in words else source
    runs = saved["runs"]
    lines = [f"### {source} -> {target}" if source != target else f"### {target} in-domain", "",
             f"Command: `{saved['command']}`", "",
             "| horizon | init | MSE (mean ± std) | MAE (mean ± std) | seeds |", "|---|---|---|---|---|"]
    for horizon in sorted({r["horizon"] for r in runs}):
        for init in INITS:
            rows = [r for r in runs if r["horizon"] == horizon and r["init"] == init]
            if rows:
                lines.append(f"| {horizon} | {init} | {mean_std(r['mse'] for r in rows)} | "
                             f"{mean_std(r['mae'] for r in rows)} | {len(rows)} |")
    return "\n".join(lines) + "\n"
