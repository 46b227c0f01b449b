"""A benchmark CSV treated as a user's file, end to end through the command line: pre-train,
fine-tune, forecast past the end, backtest. :func:`report` scores the fine-tuned forecasters
over the test rows in ORIGINAL units (every origin, the benchmark protocol) beside the last-value
baseline, and writes a markdown table and a JSON record with the commands and wall times read
from the run's log (lines ``### NAME: python -m simmtm ...`` and ``### NAME: rc=R wall=Ss``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from simmtm.training.checkpoint import read_checkpoint
from simmtm.data.forecasting import load_forecasting
from simmtm.experiments.records import dump_json, mean_std
from simmtm.utils.atomic import atomic_write_text
from simmtm.forecasting.forecaster import Forecaster


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The commands of a run log with their exit codes and wall times, in order."""
    units: dict[str, dict[str, Any]] = {}
    for line in Path(path).read_text().splitlines():
        started = re.match(r"### (\S+): (python -m simmtm .*)$", line)
        ended = re.match(r"### (\S+): rc=(\d+) wall=(\d+)s$", line)
        if started:
            units[started.group(1)] = {"name": started.group(1), "command": started.group(2)}
        elif ended and ended.group(1) in units:
            units[ended.group(1)].update(rc=int(ended.group(2)), wall_seconds=int(ended.group(3)))
    return list(units.values())


def report(csv: str | Path, forecasters: dict[str, dict[int, str | Path]], *, at: str, log: str | Path | list,
           out: str | Path, extra_commands: list[str] = (), notes: list[str] = ()) -> dict[str, Any]:
    """Score each fine-tuned forecaster (``{init name: {seed: checkpoint}}``) on ``csv``'s test rows
    in original units and by a backtest from ``at``; write ``out`` (.md) and the .json beside it.
    ``log``: the run log(s) whose commands and wall times the report lists."""
    out = Path(out)
    frame = pd.read_csv(csv)
    results: dict[str, Any] = {}
    for name, seeds in forecasters.items():
        results[name] = {}
        for seed, path in seeds.items():
            model = Forecaster.load(path)
            spec = model.spec
            data = load_forecasting(csv, seq_len=spec.seq_len, features=spec.features)
            first_target = data.borders["test"][0] + spec.seq_len
            start = frame[spec.date_column][first_target - 1] if spec.date_column else first_target - 1
            ckpt = read_checkpoint(path)
            results[name][seed] = {"checkpoint": str(path), "finetune_test_standardized": ckpt["metrics"],
                                   "best_epoch": ckpt["epoch"], "test_period": model.evaluate(frame, start),
                                   "backtest": model.backtest(frame, at).metrics}
    first = next(iter(next(iter(results.values())).values()))
    results["last value"] = {0: {"test_period": {k: first["test_period"][f"last_value_{k}"] for k in ("mse", "mae")},
                                 "backtest": {k: first["backtest"][f"last_value_{k}"] for k in ("mse", "mae")}}}
    logs = [log] if isinstance(log, (str, Path)) else list(log)
    payload = {"data": {"csv": str(csv), "rows": len(frame), "columns": list(spec.columns), "freq": spec.freq,
                        "seq_len": spec.seq_len, "horizon": spec.horizon, "split": data.borders,
                        "test_origins": [first["test_period"]["first_origin"], first["test_period"]["last_origin"]],
                        "test_windows": first["test_period"]["windows"], "backtest_at": at},
               "commands": [c for path in logs for c in read_log(path)], "extra_commands": list(extra_commands),
               "results": results}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.with_suffix(".json"), dump_json(payload))
    atomic_write_text(out, "\n".join(_markdown(payload, notes)) + "\n")
    return payload


def _cell(runs: dict, *path: str, digits: int = 3) -> str:
    """Mean ± std over seeds of ``run[path[0]][path[1]]...`` (just the value for one seed)."""
    values = []
    for run in runs.values():
        for key in path:
            run = run[key]
        values.append(run)
    return mean_std(values, digits)


def _markdown(p: dict[str, Any], notes) -> list[str]:
    d, res = p["data"], p["results"]
    models = [k for k in res if k != "last value"]
    seeds = sorted({s for k in models for s in res[k]})
    lines = [f"# Your own data, forecasting: {Path(d['csv']).name} as a user's CSV", "",
             f"{Path(d['csv']).name} passed by path, as a user's file ({d['rows']} rows every {d['freq']}, columns "
             f"{', '.join(d['columns'])}): split 70/10/20 by rows (train rows {d['split']['train']}, test rows "
             f"{d['split']['test']} including the {d['seq_len']} input rows), scaler fit on the training rows. "
             f"L = {d['seq_len']}, H = {d['horizon']}. Fine-tuning seeds {seeds} (mean ± std over them); "
             "one pre-training (seed 0).", "",
             "## Commands, in order (wall time on this shared 2-core machine, niced, OMP_NUM_THREADS=1)", "", "```"]
    for c in p["commands"]:
        lines.append(f"{c['command']}    # {c['name']}: {c.get('wall_seconds', '?')} s, exit {c.get('rc', '?')}")
    lines += [*p["extra_commands"], "```", "",
              f"## Test rows, every origin ({d['test_windows']} forecasts from {d['test_origins'][0]} to "
              f"{d['test_origins'][1]}), all channels", "",
              "| model | MSE (original units) | MAE (original units) | MSE (standardized) | MAE (standardized) |",
              "|---|---|---|---|---|"]
    for name in models:
        r = res[name]
        lines.append(f"| {name} | {_cell(r, 'test_period', 'mse')} | {_cell(r, 'test_period', 'mae')} | "
                     f"{_cell(r, 'test_period', 'mse_scaled', digits=4)} | {_cell(r, 'test_period', 'mae_scaled', digits=4)} |")
    t = res["last value"][0]["test_period"]
    lines += [f"| last value (repeated) | {t['mse']:.3f} | {t['mae']:.3f} | | |", "",
              "The standardized columns equal what `finetune` printed for its test split (the same windows).", "",
              "Per channel, test rows, MAE in each column's own unit:", "",
              "| model | " + " | ".join(d["columns"]) + " |", "|---|" + "---|" * len(d["columns"])]
    for name in models:
        lines.append(f"| {name} | " + " | ".join(_cell(res[name], "test_period", "per_channel", c, "mae")
                                                 for c in d["columns"]) + " |")
    lines += ["", f"## Backtest from {d['backtest_at']} (the {d['horizon']} rows after it), original units", "",
              "| model | MSE | MAE |", "|---|---|---|"]
    for name in [*models, "last value"]:
        lines.append(f"| {name} | {_cell(res[name], 'backtest', 'mse')} | {_cell(res[name], 'backtest', 'mae')} |")
    if notes:
        lines += ["", "## Reading", "", *notes]
    return lines
