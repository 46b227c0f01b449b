"""The own-data classification measurement: UCR/UEA train/test file pairs through the user path
(:func:`simmtm.classification.own_data.classify_files`, what ``python -m simmtm classify --train X_TRAIN.ts
--test X_TEST.ts --seed S`` runs), SimMTM pre-trained vs random init vs 1-NN Euclidean over seeds.

Resumable: one record per (set, seed, init) in the folder beside ``out``; re-running the same
command skips finished units. The table and JSON are rebuilt from the records alone.
"""
from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path

import numpy as np

from simmtm.experiments.records import RecordStore, run_folder
from simmtm.utils.atomic import atomic_write_text
from simmtm.classification.own_data import classify_files
from simmtm.training.recipes import ClassifyBudget

SETS = ("GunPoint", "ItalyPowerDemand", "OSULeaf", "BasicMotions", "JapaneseVowels")
METHODS = ("simmtm", "random init", "1-NN")


def pair(folder: str | Path, name: str) -> tuple[Path, Path]:
    """``(<name>_TRAIN.ts, <name>_TEST.ts)`` in ``folder``, or a clear error."""
    train, test = (Path(folder) / f"{name}_{part}.ts" for part in ("TRAIN", "TEST"))
    for path in (train, test):
        if not path.is_file():
            raise FileNotFoundError(f"no {path} (the UCR/UEA archive's {name} train/test pair)")
    return train, test


def run(folder: str | Path, sets: list[str], seeds: list[int], *, budget: ClassifyBudget, out: str | Path,
        device: str = "cpu", command: str = "", log=print) -> dict:
    """Every (set, seed) through :func:`classify_files`; writes ``out`` (markdown) and ``out.json``."""
    out = Path(out)
    store = RecordStore(run_folder(out))
    store.check_settings({"budget": asdict(budget), "device": device})
    notes = {}
    for name in sets:
        train, test = pair(folder, name)
        for seed in seeds:
            def record(method, compute, name=name, seed=seed):
                key = {"set": name, "seed": seed, "init": method}
                if not store.done(key):
                    log(f"--- {name} seed {seed}: {method}")
                return store.run(key, compute)

            report = classify_files(train, test, budget=budget, seed=seed, device=device, record=record,
                                    log=lambda *a: None)
            notes[name] = {"notes": report["notes"], "n_train": report["n_train"], "n_val": report["n_val"],
                           "classes": len(report["labels"])}
            log(f"{name} seed {seed}: " + ", ".join(f"{m} {report['methods'][m]['accuracy']:.4f}" for m in METHODS))
    saved = {"command": command, "budget": budget.describe(), "budget_fields": asdict(budget), "device": device,
             "machine": f"{platform.processor() or platform.machine()}, torch threads 1", "sets": notes,
             "records": [r for r in store.records() if r["key"]["set"] in sets and r["key"]["seed"] in seeds]}
    atomic_write_text(out.with_suffix(".json"), json.dumps(saved, indent=1))
    atomic_write_text(out, markdown(saved))
    return saved


def markdown(saved: dict) -> str:
    """The results from the saved JSON: what ran, then test accuracy (%) mean ± std over seeds per set."""
    by = {}
    for r in saved["records"]:
        by.setdefault((r["key"]["set"], r["key"]["init"]), []).append(r)

    def cell(rows, key="accuracy"):
        v = 100 * np.array([r[key] for r in rows])
        return f"{v.mean():.2f} ± {v.std():.2f}" if len(v) > 1 else f"{v.mean():.2f}"

    total = sum(r.get("seconds", 0.0) for r in saved["records"])
    lines = ["## Your own data: classification of five UCR/UEA sets through `classify --train --test`", "",
             f"Command: `{saved['command']}` (each (set, seed) is what `python -m simmtm classify --train "
             f"<set>_TRAIN.ts --test <set>_TEST.ts --seed <seed>` runs; one record per set x seed x init).", "",
             f"Budget: {saved['budget']}. Device: {saved['device']}, {saved['machine']}; "
             f"{total / 60:.0f} min of training in total (wall time, shared machine, niced).", "",
             "Test accuracy (%), mean ± std over seeds (population std); the test file is scored once per run. "
             "Every method sees the same split: the deep models train on the train part and pick their epoch "
             "on the validation part; 1-NN is shown on the train part and on the whole training file (it needs "
             "no validation). Wall time: pre-training + both fine-tunings, summed over seeds.", "",
             "| set | train / val / classes | SimMTM pre-trained | random init | 1-NN (train part) | "
             "1-NN (whole train file) | seeds | wall time (s) |", "|---|---|---|---|---|---|---|---|"]
    for name, info in saved["sets"].items():
        rows = {m: by.get((name, m), []) for m in METHODS}
        if not all(rows.values()):
            continue
        seconds = sum(r.get("seconds", 0.0) for m in ("simmtm", "random init") for r in rows[m])
        lines.append(f"| {name} | {info['n_train']} / {info['n_val']} / {info['classes']} | {cell(rows['simmtm'])} | "
                     f"{cell(rows['random init'])} | {cell(rows['1-NN'])} | "
                     f"{cell(rows['1-NN'], 'accuracy_whole_train')} | {len(rows['simmtm'])} | {seconds:.0f} |")
    lines += ["", "Data, as `classify` reported it:", ""]
    for name, info in saved["sets"].items():
        lines += [f"- {name}: " + "; ".join(n.split("UCR_UEA/")[-1] for n in info["notes"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m simmtm.experiments.own_classification --data FOLDER [--sets ...] [--seeds ...]``."""
    import argparse
    import shlex
    import sys

    p = argparse.ArgumentParser(prog="python -m simmtm.experiments.own_classification", description=__doc__)
    p.add_argument("--data", required=True, help="folder holding <Name>_TRAIN.ts and <Name>_TEST.ts")
    p.add_argument("--sets", nargs="+", default=list(SETS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pretrain-steps", type=int, default=ClassifyBudget.pretrain_steps)
    p.add_argument("--finetune-epochs", type=int, default=ClassifyBudget.finetune_epochs)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="results/own_data/own_data_classification.md")
    args = p.parse_args(argv)
    budget = ClassifyBudget(pretrain_steps=args.pretrain_steps, finetune_epochs=args.finetune_epochs)
    argv = sys.argv[1:] if argv is None else argv
    try:
        run(args.data, args.sets, args.seeds, budget=budget, out=args.out, device=args.device,
            command="python -m simmtm.experiments.own_classification " + shlex.join(argv))
    except (ValueError, OSError) as err:
        sys.stderr.write(f"simmtm: error: {err}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
