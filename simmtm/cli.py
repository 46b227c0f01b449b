"""Command line: ``python -m simmtm <command>`` (demo, presets, download, pretrain, finetune, forecast, study,
sweep, protocols, classify, predict, compare, anomaly, convert, ablate, checkpoints, ship)."""
from __future__ import annotations

import argparse
import ast
import math
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import torch

from simmtm.objectives import METHODS

AMP = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# What a user's input can cause: a bad value or name, a missing, corrupt or unwritable file. These end
# in one line on stderr and exit code 2; anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, OSError)


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line, ``simmtm: error: ...`` (exit code 2)."""

    def error(self, message):
        sys.stderr.write(f"simmtm: error: {self.prog.removeprefix('python -m simmtm').strip() or 'simmtm'}: {message}\n")
        sys.exit(2)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _dropout(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _device(text: str) -> str:
    """A device string checked up front (``--device tpu7`` fails before any work)."""
    from simmtm.device import check_device

    try:
        return check_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _writable(path: str | Path, *, folder: bool = False) -> Path:
    from simmtm.preflight import check_writable

    return check_writable(path, folder=folder)


def _preset_name(args) -> str:
    """``--preset``, else the device's default (the CPU recipe on a CPU), said in one line."""
    if args.preset is None:
        from simmtm.recipes import default_preset

        args.preset, reason = default_preset(args.data, args.device)
        print(reason)
    return args.preset


def _data_name(args) -> str:
    """``--data``, else the dataset the preset is named after."""
    if args.data is None and args.preset is None:
        raise ValueError("--data is needed: a dataset name (ETTh1, ETTm1, Weather, ...) or the path of your CSV")
    return args.data or args.preset.removesuffix("-cpu")


def _config(args):
    from simmtm.config import get_preset

    cfg = get_preset(_preset_name(args))
    enc = cfg.encoder
    if getattr(args, "patch_len", None) is not None:
        enc = replace(enc, patch_len=args.patch_len)
    overrides = {k: v for k, v in (("seq_len", args.seq_len), ("batch_size", args.batch_size), ("lr", args.lr),
                                   ("n_views", getattr(args, "n_views", None)),
                                   ("mask_ratio", getattr(args, "mask_ratio", None)),
                                   ("method", getattr(args, "method", None))) if v is not None}
    return replace(cfg, encoder=enc, **overrides)


def _data(name, root, seq_len, features="M", repair_dates=False, date_column=None):
    from simmtm.data.forecasting import load_forecasting

    return load_forecasting(name, root, seq_len=seq_len, features=features, date_column=date_column,
                            dates="repair" if repair_dates else "check")


def _source_and_target(args, cfg):
    """``(source, target, out-name suffix)``: ``--data`` and, for cross-domain runs, ``--target``."""
    source = _data(_data_name(args), args.root, cfg.seq_len, args.features, args.repair_dates, args.date_column)
    target = (_data(args.target, args.root, cfg.seq_len, args.features, args.repair_dates, args.date_column)
              if args.target else source)
    return source, target, "" if target.name == source.name else f"_to_{target.name}"


def _common(p, *, preset_default=None):
    p.add_argument("--preset", default=preset_default,
                   help="configuration preset (python -m simmtm presets); default: <data>-cpu (or ETTm1-cpu for a "
                        "CSV of yours) on a CPU, the paper's <data> (or ETTm1) on a GPU")
    p.add_argument("--data", default=None, help="dataset name (ETTh1, ETTm1, Weather, ...) or CSV path; default: the preset's")
    p.add_argument("--date-column", default=None,
                   help="your CSV's date column (default 'date'; a CSV without dates is numbered by row)")
    p.add_argument("--root", default="data", help="data folder for dataset names")
    p.add_argument("--features", default="M", choices=["M", "S"], help="M: all channels, S: the target only")
    p.add_argument("--repair-dates", action="store_true",
                   help="a CSV whose rows are out of time order or repeat a time stamp: sort it and drop the repeats "
                        "(default: refuse it, naming the first such row)")
    p.add_argument("--seq-len", type=_positive, default=None)
    p.add_argument("--patch-len", type=_positive, default=None, help="patch tokens of P steps (1 = a token per step)")
    p.add_argument("--mask-ratio", type=_ratio, default=None, help="share of time points each view hides")
    p.add_argument("--batch-size", type=_positive, default=None)
    p.add_argument("--lr", type=_positive_float, default=None)
    p.add_argument("--epochs", type=_positive, default=None)
    p.add_argument("--max-windows", type=_positive, default=None,
                   help="at most this many evenly spaced windows per split (default: the preset's budget)")
    p.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--amp", default="none", choices=list(AMP), help="autocast dtype: bf16 (CPU or recent GPUs) or fp16 (CUDA, with loss scaling)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def _budget_args(p):
    p.add_argument("--budget", default="cpu", help="named study budget: cpu (this project's CPU recipe) or paper")
    p.add_argument("--pretrain-windows", type=_positive, default=None, help="pre-train on this many evenly spaced windows")
    p.add_argument("--finetune-windows", type=_positive, default=None, help="fine-tune on this many evenly spaced windows")
    p.add_argument("--finetune-epochs", type=_positive, default=None)
    p.add_argument("--finetune-lr", type=_positive_float, default=None)
    p.add_argument("--patience", type=_positive, default=None)
    p.add_argument("--pretrain-once", action="store_true", help="one pre-training (the first seed) for every seed")
    p.add_argument("--checkpoints", default="checkpoints/studies", help="folder for the pre-trained checkpoints")


def _budget(args):
    from simmtm.experiments.forecasting import BUDGETS

    if args.budget not in BUDGETS:
        raise ValueError(f"unknown budget {args.budget!r}; available: {', '.join(BUDGETS)}")
    overrides = {k: v for k, v in (("pretrain_epochs", args.epochs), ("pretrain_windows", args.pretrain_windows or args.max_windows),
                                   ("finetune_windows", args.finetune_windows), ("finetune_epochs", args.finetune_epochs),
                                   ("lr", args.finetune_lr), ("patience", args.patience))
                 if v is not None}
    if args.pretrain_once:
        overrides["pretrain_once"] = True
    return replace(BUDGETS[args.budget], **overrides)


def _finished(checkpoint: Path) -> bool:
    """A run writing ``checkpoint`` finished: the checkpoint exists and no resume state is left."""
    from simmtm.resume import resume_path

    return checkpoint.is_file() and not resume_path(checkpoint).is_file()


def _check_resumable(checkpoint: Path) -> None:
    """``--resume`` of a finished run is refused (there is nothing to continue)."""
    if _finished(checkpoint):
        raise ValueError(f"{checkpoint} is a finished run (no resume state is left): nothing to resume; run without "
                         "--resume to train again (it replaces that checkpoint)")


def _literal(text: str):
    """A number, tuple, ... written on the command line, else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse_variant(text: str) -> tuple[str, dict]:
    name, _, body = text.partition(":")
    if not name:
        raise ValueError(f"a variant needs a name: NAME:KEY=VALUE,..., got {text!r}")
    overrides = {}
    for item in filter(None, body.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"variant {name!r}: expected KEY=VALUE, got {item!r}")
        overrides[key.strip()] = _literal(value.strip())
    return name, overrides


def _protocol_arg(p):
    p.add_argument("--protocol", default="full", metavar="NAME|SPEC",
                   help="fine-tuning protocol: a preset (full, probe1, probe3, enc0.1, enc0.3, ...) or "
                        "KIND[,head_epochs=N][,encoder_lr_ratio=R], KIND full or probe-then-full (default full)")


def _command_line(args) -> str:
    return "python -m simmtm " + shlex.join(args.argv)


# --- one function pair per command: its arguments, then its action ---------------------------------

def _demo_args(p):
    p.add_argument("--out", default="results/demo", help="folder for the plot and checkpoint")
    p.add_argument("--device", type=_device, default="auto", help="auto, cpu or cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pretrain-epochs", type=_positive, default=2)
    p.add_argument("--finetune-epochs", type=_positive, default=3)
    p.add_argument("--labelled", type=_fraction, default=0.02,
                   help="share of the training windows of the few-labels fine-tuning (default 0.02)")
    p.add_argument("--labelled-epochs", type=_positive, default=10, help="its epochs (default 10)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _demo(args):
    from simmtm.demo import run_demo

    run_demo(_writable(args.out, folder=True), pretrain_epochs=args.pretrain_epochs, finetune_epochs=args.finetune_epochs,
             labelled=args.labelled, labelled_epochs=args.labelled_epochs, seed=args.seed, device=args.device, progress=not args.no_progress)


def _presets_args(p):
    pass


def _presets(args):
    from simmtm.config import PRESETS

    for name, cfg in PRESETS.items():
        print(f"{name:<16} L={cfg.seq_len:<4} C={cfg.n_channels:<3} encoder={cfg.encoder.kind:<12} "
              f"patch={getattr(cfg.encoder, 'patch_len', '-'):<3} views={cfg.n_views} lr={cfg.lr:g} "
              f"batch={cfg.batch_size} epochs={cfg.epochs}")


def _download_args(p):
    p.add_argument("names", nargs="+", help="dataset names (ETTh1, ETTh2, ETTm1, Weather, SleepEEG, Epilepsy, Gesture)")
    p.add_argument("--root", default="data")
    p.add_argument("--force", action="store_true")


def _download(args):
    from simmtm.data.download import download

    for name in args.names:
        for path in download(name, args.root, force=args.force):
            print(f"{name}: {path} (sha256 verified)")


def _pretrain_args(p):
    _common(p)
    p.add_argument("--out", default=None, help="checkpoint path (default checkpoints/<data>_<preset>_pretrained.pt)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (pays off on long GPU runs)")
    p.add_argument("--method", default=None, choices=list(METHODS), help="pre-training objective (default: simmtm)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run that wrote the same --out (exact: same weights as unbroken)")
    p.add_argument("--global-similarity", action="store_true",
                   help="under torchrun: similarity over the global batch (default: per process, as the official code)")
    p.add_argument("--similarity-chunk", type=_positive, default=None,
                   help="rows per block of the similarity softmaxes (memory chunk*R instead of R^2; same result)")


def _pretrain(args):
    from simmtm.distributed import rank
    from simmtm.forecasting import pretrain

    cfg = _config(args)
    data = _data(_data_name(args), args.root, cfg.seq_len, args.features, args.repair_dates, args.date_column)
    out = _writable(args.out or f"checkpoints/{data.name}_{args.preset}_pretrained.pt")
    if args.resume:
        _check_resumable(out)
    cfg = replace(cfg, global_similarity=args.global_similarity,
                  **({"similarity_chunk": args.similarity_chunk} if args.similarity_chunk is not None else {}))
    max_windows = args.max_windows or _pretrain_windows(args)
    print(f"pre-training {args.preset} on {data.name}: {args.epochs or cfg.epochs} epochs over "
          f"{max_windows or 'all'} training windows, batch {cfg.batch_size}, lr {cfg.lr:g}")
    pretrain(cfg, data, device=args.device, epochs=args.epochs, amp_dtype=AMP[args.amp], compile=args.compile,
             max_windows=max_windows, seed=args.seed, checkpoint=out, resume=args.resume,
             progress=not args.no_progress)
    if rank() == 0:
        print(f"checkpoint: {out}")


def _pretrain_windows(args) -> int | None:
    """Pre-training windows of the preset's budget (8,192 for the CPU recipe, all for the paper's)."""
    from simmtm.experiments.forecasting import BUDGETS
    from simmtm.recipes import budget_name

    return BUDGETS[budget_name(args.preset, args.device)].pretrain_windows


def _finetune_args(p):
    _common(p)
    p.add_argument("--from", dest="source", default=None,
                   help="a shipped encoder's name (python -m simmtm checkpoints) or a SimMTM checkpoint path; "
                        "omit for random init")
    p.add_argument("--pred-len", type=_positive, nargs="+", default=[96, 192, 336, 720])
    p.add_argument("--patience", type=_positive, default=None, help="default: the preset's budget")
    p.add_argument("--head-dropout", type=_dropout, default=None, help="default: the preset's budget")
    p.add_argument("--resume", action="store_true", help="continue interrupted fine-tuning runs writing the same --out")
    p.add_argument("--out", default=None, help="folder for fine-tuned checkpoints (default checkpoints/)")
    _protocol_arg(p)


def _finetune(args):
    from simmtm.checkpoint import read_checkpoint
    from simmtm.distributed import rank
    from simmtm.forecasting import finetune
    from simmtm.preflight import check_horizons
    from simmtm.pretrained import load_pretrained
    from simmtm.protocols import get_protocol

    protocol = get_protocol(args.protocol)
    out = _writable(args.out or "checkpoints", folder=True)
    encoder, cfg = load_pretrained(args.source) if args.source else (None, _config(args))
    if args.source and args.seq_len is not None:
        cfg = replace(cfg, seq_len=args.seq_len)
    if args.source and args.preset is not None:
        _say_which_wins(args.source, cfg, args.preset)
    data = _data(_data_name(args), args.root, cfg.seq_len, args.features, args.repair_dates, args.date_column)
    check_horizons(data, args.pred_len, cfg.seq_len)  # every horizon, before any training
    budget = _finetune_budget(args)
    tag = "pretrained" if args.source else "random"
    for horizon in args.pred_len:
        path = out / f"{data.name}_H{horizon}_{tag}.pt"
        if args.resume and _finished(path):
            metrics = read_checkpoint(path)["metrics"]
            print(f"{data.name} H={horizon} ({tag}): finished before: test MSE {metrics['mse']:.4f} MAE "
                  f"{metrics['mae']:.4f} (from {path})")
            continue
        result = finetune(cfg, data, horizon, encoder=encoder, device=args.device, lr=budget.lr,
                          batch_size=budget.batch_size, epochs=budget.finetune_epochs, patience=budget.patience,
                          head_dropout=budget.head_dropout, amp_dtype=AMP[args.amp], max_windows=budget.finetune_windows,
                          seed=args.seed, checkpoint=path, resume=args.resume, progress=not args.no_progress,
                          protocol=protocol)
        if rank() == 0:
            print(f"{data.name} H={horizon} ({tag}): test MSE {result['test']['mse']:.4f} MAE {result['test']['mae']:.4f} "
                  f"on the standardized scale (best epoch {result['best_epoch']}, {result['seconds']:.0f}s); "
                  f"forecaster: {path}")


def _say_which_wins(source, cfg, preset: str) -> None:
    """One line when the encoder of ``--from`` disagrees with ``--preset``: the file's model wins."""
    from simmtm.config import get_preset
    from simmtm.recipes import model_differences

    differences = model_differences(get_preset(preset), cfg)
    if differences:
        print(f"--from {source} wins for the model ({', '.join(differences)} against --preset {preset}); "
              f"--preset {preset} sets only the fine-tuning budget")


def _finetune_budget(args):
    """The fine-tuning budget of the preset (the CPU recipe's on a CPU without one), with the
    command line's overrides; printed in one line."""
    from simmtm.experiments.forecasting import BUDGETS
    from simmtm.recipes import budget_name

    name = budget_name(args.preset, args.device)
    overrides = {k: v for k, v in (("lr", args.lr), ("batch_size", args.batch_size), ("finetune_epochs", args.epochs),
                                   ("finetune_windows", args.max_windows), ("patience", args.patience),
                                   ("head_dropout", args.head_dropout)) if v is not None}
    budget = replace(BUDGETS[name], **overrides)
    print(f"fine-tuning budget {name!r}{' with overrides' if overrides else ''}: lr {budget.lr:g}, up to "
          f"{budget.finetune_epochs} epochs (patience {budget.patience}), batch {budget.batch_size}, "
          f"{budget.finetune_windows or 'all'} training windows")
    return budget


def _forecast_args(p):
    p.add_argument("--from", dest="source", required=True, help="a fine-tuned forecaster (python -m simmtm finetune ...)")
    p.add_argument("--data", required=True, help="your CSV: the model's columns and, unless it has none, a date column")
    p.add_argument("--out", required=True, help="CSV to write: the date column, then each channel's forecast")
    p.add_argument("--plot", default=None, help="PNG: recent history and the forecast of each channel")
    p.add_argument("--at", default=None, metavar="DATE",
                   help="backtest: forecast the H rows after this row's date (its step number for a file without "
                        "dates), write the actual values beside (<ch>_actual) and print MSE/MAE in original units")
    p.add_argument("--date-column", default=None,
                   help="the date column (default: the one the model was trained with, else 'date'; "
                        "a file without dates forecasts step numbers)")
    p.add_argument("--history", type=_positive, default=None, help="rows of history in the plot (default: seq_len)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")


def _forecast(args):
    from simmtm.data.forecasting import read_series_csv
    from simmtm.forecaster import FittedForecaster, plot_forecast_frame

    out = _writable(args.out)
    plot = _writable(args.plot) if args.plot else None
    model = FittedForecaster.load(args.source, args.device)
    spec = model.spec
    frame = read_series_csv(args.data, args.date_column or spec.date_column or "date", required=args.date_column is not None)
    date_column = args.date_column or spec.date_column or "date"
    ignored = [c for c in frame.columns if c not in (*spec.columns, date_column)]
    if ignored:
        print(f"note: columns {ignored} are not the model's and are left out (it forecasts {list(spec.columns)})")
    values, index = model.read(frame, args.date_column)
    H = spec.horizon
    if args.at is None:
        result, actual, origin = model.predict(frame, date_column=args.date_column), None, index[-1]
        end = len(values)
    else:
        backtest = model.backtest(frame, args.at, date_column=args.date_column)
        result, origin = backtest.frame, backtest.at
        actual = backtest.frame[[f"{c}_actual" for c in spec.columns]].set_axis(list(spec.columns), axis=1)
        end = index.get_loc(origin) + 1
    out.parent.mkdir(parents=True, exist_ok=True)
    result.reset_index().to_csv(out, index=False)
    what = f"{H} steps after {origin}" + (f" (every {index.freq.freqstr})" if getattr(index, "freq", None) is not None else "")
    print(f"forecast of the {what} in original units: {out}")
    if args.at is not None:
        m = backtest.metrics
        print(f"backtest from {origin}: MSE {m['mse']:.4g} MAE {m['mae']:.4g} in original units "
              f"(last-value baseline MSE {m['last_value_mse']:.4g} MAE {m['last_value_mae']:.4g}; "
              f"standardized MSE {m['mse_scaled']:.4f} MAE {m['mae_scaled']:.4f})")
    if plot is not None:
        import matplotlib.pyplot as plt

        start = max(0, end - (args.history or spec.seq_len))
        history = frame.iloc[start:end][list(spec.columns)].set_axis(index[start:end])
        forecast = result[list(spec.columns)]
        kind = "backtest" if args.at is not None else "forecast"
        fig = plot_forecast_frame(history, forecast, actual=actual,
                                  title=f"{Path(args.data).name}: {kind} of the {what}, H = {H}, original units")
        plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot, dpi=120)
        plt.close(fig)
        print(f"plot: {plot}")


def _study_args(p):
    _common(p)
    _budget_args(p)
    p.add_argument("--target", default=None, help="fine-tuning dataset (default: --data, i.e. in-domain)")
    p.add_argument("--pred-len", type=_positive, nargs="+", default=[96, 192, 336, 720])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default=None, help="table path (default results/forecasting_<data>[_to_<target>].md); "
                                              "records go to the folder of the same name")
    p.add_argument("--pretrained-from", default=None, metavar="TABLE",
                   help="fine-tune from the finished pre-training units of that study (same source, model and "
                        "pre-training budget) instead of pre-training again, e.g. to try another fine-tuning lr")
    p.add_argument("--inits", nargs="+", default=["SimMTM", "random"], choices=["SimMTM", "random"],
                   help="which initialisations to fine-tune (default both)")
    _units_from_arg(p)
    _protocol_arg(p)


def _units_from_arg(p):
    p.add_argument("--units-from", nargs="+", default=[], metavar="TABLE",
                   help="copy the finished random-init units of these studies where their fine-tuning is the same "
                        "(target, model, fine-tuning budget, protocol) instead of training them again")


def _study(args):
    from simmtm.experiments.forecasting import study
    from simmtm.protocols import get_protocol

    cfg = _config(args)
    source, target, suffix = _source_and_target(args, cfg)
    out = _writable(args.out or f"results/forecasting_{source.name}{suffix}.md")
    _writable(args.checkpoints, folder=True)
    study(cfg, source, target, args.pred_len, args.seeds, out=out, budget=_budget(args), device=args.device,
          checkpoints=args.checkpoints, pretrained_from=args.pretrained_from, progress=not args.no_progress,
          command=_command_line(args), protocol=get_protocol(args.protocol), units_from=args.units_from,
          inits=["random init" if i == "random" else i for i in args.inits])


def _sweep_args(p):
    _common(p)
    _budget_args(p)
    p.add_argument("--variant", action="append", required=True, metavar="NAME:KEY=VALUE,...",
                   help="a named variant, e.g. p8:patch_len=8 or wide:d_model=64,d_ff=128 (base: no overrides)")
    p.add_argument("--pred-len", type=_positive, default=96)
    p.add_argument("--out", default=None, help="default results/forecasting_sweep_<data>.md")


def _sweep(args):
    from simmtm.experiments.forecasting import sweep

    cfg = _config(args)
    data = _data(_data_name(args), args.root, cfg.seq_len, args.features, args.repair_dates, args.date_column)
    variants = dict(_parse_variant(v) for v in args.variant)
    _writable(args.checkpoints, folder=True)
    rows = sweep(cfg, data, variants, horizon=args.pred_len, seed=args.seed, budget=_budget(args),
                 out=_writable(args.out or f"results/forecasting_sweep_{data.name}.md"), device=args.device,
                 checkpoints=args.checkpoints, progress=not args.no_progress, command=_command_line(args))
    print(f"best on validation: {rows[0]['variant']} (val MSE {rows[0]['val_mse']:.4f})")


def _protocols_args(p):
    from simmtm.protocols import PROTOCOLS, SELECTION_GRID

    _common(p)
    _budget_args(p)
    p.add_argument("--protocols", nargs="+", default=None, metavar="NAME[=SPEC]",
                   help=f"protocols to select from: presets ({', '.join(PROTOCOLS)}) or "
                        f"NAME=KIND[,head_epochs=N][,encoder_lr_ratio=R]; default {' '.join(SELECTION_GRID)}")
    p.add_argument("--target", default=None, help="fine-tuning dataset (default: --data, i.e. in-domain)")
    p.add_argument("--pred-len", type=_positive, default=96)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--inits", nargs="+", default=["SimMTM", "random"], choices=["SimMTM", "random"])
    p.add_argument("--pretrained-from", default=None, metavar="TABLE",
                   help="fine-tune every protocol from that study's finished pre-training units")
    _units_from_arg(p)
    p.add_argument("--out", default=None, help="default results/protocols_<data>[_to_<target>]_H<pred-len>.md")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild the table from the finished records without running anything")


def _protocols(args):
    from simmtm.experiments.protocols import select_protocols, write_selection
    from simmtm.protocols import PROTOCOLS, SELECTION_GRID, get_protocol

    protocols = {}
    for item in args.protocols or SELECTION_GRID:
        name, eq, spec = item.partition("=")
        if not eq and name not in PROTOCOLS:
            raise ValueError(f"unknown protocol preset {name!r}; presets: {', '.join(PROTOCOLS)} (or NAME=SPEC)")
        protocols[name] = get_protocol(spec if eq else name)
    cfg = _config(args)
    source, target, suffix = _source_and_target(args, cfg)
    out = _writable(args.out or f"results/protocols_{source.name}{suffix}_H{args.pred_len}.md")
    inits = ["random init" if i == "random" else i for i in args.inits]
    if args.report_only:
        summary = write_selection(out, protocols, horizon=args.pred_len, seeds=args.seeds, inits=inits,
                                  command=_command_line(args))
    else:
        summary = select_protocols(cfg, source, target, protocols, horizon=args.pred_len, seeds=args.seeds, out=out,
                                   budget=_budget(args), inits=inits, pretrained_from=args.pretrained_from,
                                   device=args.device, checkpoints=args.checkpoints, progress=not args.no_progress,
                                   command=_command_line(args), units_from=args.units_from)
    for init, name in summary["selected"].items():
        print(f"{init}: selected on validation: {name or 'none finished'}")


def _scale_point(text: str) -> tuple[int, int | None]:
    """``EPOCHS:WINDOWS`` (``WINDOWS`` a count or ``all``) -> ``(epochs, windows or None)``."""
    epochs, colon, windows = text.partition(":")
    try:
        point = (int(epochs), None if windows in ("", "all") else int(windows))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected EPOCHS:WINDOWS (e.g. 10:8192 or 30:all), got {text!r}") from None
    if point[0] < 1 or (point[1] is not None and point[1] < 1):
        raise argparse.ArgumentTypeError(f"epochs and windows must be >= 1, got {text!r}")
    return point


def _curve_args(p):
    _common(p)
    _budget_args(p)
    p.add_argument("kind", choices=["labels", "scale"], help="labels: share of training windows; scale: pre-training budget")
    p.add_argument("--fractions", type=_fraction, nargs="+", default=[0.01, 0.05, 0.25, 1.0],
                   help="labels: shares of the fine-tuning windows that train (nested subsets)")
    p.add_argument("--scales", type=_scale_point, nargs="+", default=[(1, 8192), (3, 8192), (10, 8192), (30, 8192)],
                   metavar="EPOCHS:WINDOWS", help="scale: pre-training budgets (WINDOWS a count or 'all')")
    p.add_argument("--target", default=None, help="labels: fine-tuning dataset (default: --data, i.e. in-domain)")
    p.add_argument("--pred-lens", type=_positive, nargs="+", default=[96])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--protocols-from", default=None, metavar="SELECTION",
                   help="each init's validation-selected protocol from a `protocols` table (default: --protocol for both)")
    p.add_argument("--protocol", default=None, help="one protocol for both inits (preset or spec; default full)")
    p.add_argument("--pretrained-from", default=None, metavar="TABLE",
                   help="labels: fine-tune from that study's pre-training units; scale: serve the matching point")
    p.add_argument("--out", default=None, help="default results/curve_<kind>_<data>[_to_<target>].md")
    _units_from_arg(p)
    p.add_argument("--report-only", action="store_true",
                   help="rebuild the table from the finished records without running anything (a table always shows "
                        "the given points and seeds and every other point and seed recorded for it)")


def _curve(args):
    from simmtm.experiments.curves import INITS, label_curve, labels_meta, scale_curve, scale_meta, write_curve
    from simmtm.experiments.protocols import selected_protocols
    from simmtm.protocols import get_protocol

    if args.protocols_from and args.protocol:
        raise ValueError("give --protocols-from or --protocol, not both")
    if args.protocols_from:
        protocols, complete = selected_protocols(args.protocols_from)
        if not complete:
            print(f"[curve] note: {args.protocols_from} is not complete yet; its provisional selection is used: "
                  + ", ".join(f"{i} {n}" for i, (n, _) in protocols.items()))
    else:
        protocol = get_protocol(args.protocol)
        protocols = {i: (protocol.name, protocol) for i in ("SimMTM", "random init")}
    cfg = _config(args)
    source, target, suffix = _source_and_target(args, cfg)
    if args.kind == "scale" and suffix:
        raise ValueError("the scale curve is in-domain: drop --target")
    out = _writable(args.out or f"results/curve_{args.kind}_{source.name}{suffix}.md")
    if args.report_only:
        meta = labels_meta(args.fractions) if args.kind == "labels" else scale_meta(args.scales)
        summary = write_curve(out, meta, protocols, inits=list(INITS), horizons=args.pred_lens, seeds=args.seeds)
    else:
        common = dict(horizons=args.pred_lens, seeds=args.seeds, out=out, budget=_budget(args), protocols=protocols,
                      pretrained_from=args.pretrained_from, device=args.device, checkpoints=args.checkpoints,
                      progress=not args.no_progress, command=_command_line(args), units_from=args.units_from)
        if args.kind == "labels":
            summary = label_curve(cfg, source, target, args.fractions, **common)
        else:
            summary = scale_curve(cfg, source, args.scales, **common)
    print(f"{out} ({'complete' if summary['complete'] else 'units still to run'})")


def _selected_args(p):
    p.add_argument("--selection", required=True, metavar="SELECTION",
                   help="a `protocols` table (e.g. results/payoff_protocols_ETTm1_H96.md): each init's choice")
    p.add_argument("--tables", nargs="+", required=True, metavar="TABLE",
                   help="studies of the same data, model and budget, among them one per selected protocol")
    p.add_argument("--out", required=True, help="the assembled table (+ .json)")


def _selected(args):
    from simmtm.experiments.protocols import selected_table

    out = _writable(args.out)
    saved = selected_table(out, args.selection, args.tables)
    print(f"{out} ({', '.join(f'{i} from {t}' for i, t in saved['settings']['tables'].items())})")


def _compare_args(p):
    p.add_argument("--task", required=True, help="epilepsy, or a forecasting dataset (ETTh1, ETTm1, ...)")
    p.add_argument("--methods", nargs="+", default=[*METHODS, "none"], choices=[*METHODS, "none"])
    p.add_argument("--encoder", default="cnn", choices=["cnn", "resnet"], help="classification encoder")
    p.add_argument("--preset", default=None, help="forecasting preset (default: the dataset's, else ETTm1)")
    p.add_argument("--patch-len", type=_positive, default=None, help="forecasting: patch tokens of P steps")
    p.add_argument("--root", default="data")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--pretrain-epochs", type=_positive, default=10)
    p.add_argument("--finetune-epochs", type=_positive, default=None, help="default 100 (classification), 10 (forecasting)")
    p.add_argument("--horizon", type=_positive, default=96, help="forecasting horizon")
    p.add_argument("--max-windows", type=_positive, default=None, help="forecasting CPU budget: windows per split")
    p.add_argument("--device", type=_device, default="auto")
    p.add_argument("--out", default=None, help="default results/comparison_<task>.md")


def _compare(args):
    from simmtm.experiments.comparison import run as compare
    from simmtm.config import PRESETS, get_preset

    if args.task == "epilepsy":
        cfg = get_preset("Epilepsy-ResNet" if args.encoder == "resnet" else "Epilepsy")
    else:
        cfg = get_preset(args.preset or (args.task if args.task in PRESETS else "ETTm1"))
        if args.patch_len is not None:
            cfg = replace(cfg, encoder=replace(cfg.encoder, patch_len=args.patch_len))
    compare(args.task, args.root, cfg, args.methods, args.seeds, pretrain_epochs=args.pretrain_epochs,
            finetune_epochs=args.finetune_epochs or (100 if args.task == "epilepsy" else 10),
            out=_writable(args.out or f"results/comparison_{args.task}.md"), horizon=args.horizon,
            max_windows=args.max_windows, device=args.device, command=_command_line(args))


def _classify_args(p):
    p.add_argument("--train", default=None, metavar="TRAIN_FILE",
                   help="your labelled training series (.ts, .npz or .csv): pre-train, fine-tune, save a classifier")
    p.add_argument("--test", default=None, metavar="TEST_FILE", help="with --train: labelled series tested once")
    p.add_argument("--setting", default=None, choices=["epilepsy", "sleepeeg-epilepsy", "sleepeeg-gesture"],
                   help="instead of --train: a benchmark study (pre-trained vs random init over --seeds)")
    p.add_argument("--encoder", default="cnn", choices=["cnn", "resnet"])
    p.add_argument("--root", default="data", help="folder holding Epilepsy_UCI/, SleepEEG_subset/, Gesture_TFC/")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="--setting: the seeds")
    p.add_argument("--seed", type=int, default=0, help="--train: seed of the validation split and the training")
    p.add_argument("--pretrain-epochs", type=_positive, default=None, help="--setting: pre-training epochs (default 10)")
    p.add_argument("--pretrain-steps", type=_positive, default=None,
                   help="--train: pre-training optimizer steps (default 500)")
    p.add_argument("--finetune-epochs", type=_positive, default=None, help="default 100")
    p.add_argument("--lr", type=_positive_float, default=None, help="fine-tuning learning rate (default 1e-4 "
                                                                     "with --setting, 3e-4 with --train)")
    p.add_argument("--batch-size", type=_positive, default=None, help="--train: batch (default 32, capped at the data size)")
    p.add_argument("--label-column", default="label", help="--train with a CSV: the label column's name")
    p.add_argument("--length", type=_positive, default=None,
                   help="--train: series length of the model (default: the longest training series)")
    p.add_argument("--pad", action="store_true",
                   help="--train: pad shorter series with their last value instead of resampling them")
    p.add_argument("--no-baselines", action="store_true", help="--train: skip random init and 1-NN")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--pretrain-once", action="store_true", help="pre-train with the first seed only")
    p.add_argument("--max-pretrain", type=_positive, default=None, help="CPU budget: at most this many pre-training windows")
    p.add_argument("--from", dest="source", default=None,
                   help="start from this shipped encoder (name or path) instead of pre-training")
    p.add_argument("--save-pretrained", default=None, help="write the (first) pre-training checkpoint here")
    _protocol_arg(p)
    p.add_argument("--device", type=_device, default="auto")
    p.add_argument("--out", default=None, help="--train: the classifier file (default checkpoints/<train name>_"
                                               "classifier.pt); --setting: the table")


def _classify(args):
    if (args.train is None) == (args.setting is None):
        raise ValueError("give either --train TRAIN_FILE (your own data) or --setting NAME (a benchmark study)")
    own = {"--test": args.test, "--pretrain-steps": args.pretrain_steps, "--batch-size": args.batch_size,
           "--length": args.length, "--pad": args.pad or None, "--no-baselines": args.no_baselines or None}
    study_only = {"--pretrain-epochs": args.pretrain_epochs, "--pretrain-once": args.pretrain_once or None,
                  "--max-pretrain": args.max_pretrain, "--save-pretrained": args.save_pretrained}
    wrong = [k for k, v in (study_only if args.train is not None else own).items() if v is not None]
    if wrong:
        raise ValueError(f"{', '.join(wrong)} go(es) with {'--setting' if args.train is not None else '--train'}, "
                         f"not {'--train' if args.train is not None else '--setting'}")
    if args.train is not None:
        return _classify_files(args)
    from simmtm.config import get_preset
    from simmtm.experiments.classification import study
    from simmtm.pretrained import load_pretrained
    from simmtm.protocols import get_protocol

    protocol = get_protocol(args.protocol)
    cfg = get_preset("Epilepsy-ResNet" if args.encoder == "resnet" else "Epilepsy")
    encoder = None
    if args.source:
        encoder, cfg = load_pretrained(args.source)
        if cfg.encoder.kind != args.encoder:
            raise ValueError(f"{args.source} holds a {cfg.encoder.kind} encoder, not --encoder {args.encoder}")
    study(args.setting, args.root, cfg, args.seeds, encoder=encoder, encoder_name=args.source,
          save_pretrained=_writable(args.save_pretrained) if args.save_pretrained else None,
          out=_writable(args.out or f"results/classification_{args.setting}_{args.encoder}.md"),
          pretrain_epochs=args.pretrain_epochs or 10, finetune_epochs=args.finetune_epochs or 100, lr=args.lr or 1e-4,
          pretrain_once=args.pretrain_once, max_pretrain=args.max_pretrain, device=args.device,
          command=_command_line(args), protocol=protocol)


def _classify_files(args):
    from simmtm.own_classification import ClassifyBudget, classify_files
    from simmtm.pretrained import load_pretrained
    from simmtm.protocols import get_protocol

    budget = ClassifyBudget(encoder=args.encoder, **{k: v for k, v in (
        ("pretrain_steps", args.pretrain_steps), ("finetune_epochs", args.finetune_epochs),
        ("finetune_lr", args.lr), ("batch_size", args.batch_size)) if v is not None})
    out = _writable(args.out or f"checkpoints/{Path(args.train).stem}_classifier.pt")
    encoder, enc_cfg = load_pretrained(args.source) if args.source else (None, None)
    if encoder is not None and enc_cfg.encoder.kind != args.encoder:
        raise ValueError(f"{args.source} holds a {enc_cfg.encoder.kind} encoder, not --encoder {args.encoder}")
    protocol = get_protocol(args.protocol)
    print(f"budget: {budget.describe(pretraining=encoder is None)}; fine-tuning protocol: {protocol.describe()}")
    classify_files(args.train, args.test, budget=budget, seed=args.seed, out=out, label_column=args.label_column,
                   length=args.length, lengths="pad" if args.pad else "resample", encoder=encoder,
                   encoder_cfg=enc_cfg, encoder_name=args.source, baselines=not args.no_baselines,
                   device=args.device, progress=not args.no_progress, protocol=protocol)


def _predict_args(p):
    p.add_argument("--from", dest="source", required=True, metavar="CLASSIFIER.pt",
                   help="a classifier saved by `classify --train`")
    p.add_argument("--data", required=True, help="series to classify (.ts, .npz or .csv; labels optional)")
    p.add_argument("--out", default="predictions.csv", help="CSV: series, [label,] predicted, prob_<label>...")
    p.add_argument("--label-column", default=None,
                   help="CSV input: the label column's name, if it has one (default: the training file's)")


def _predict(args):
    from simmtm.data.formats import read_series
    from simmtm.own_classification import evaluate_labels, load_classifier, prediction_table, predict_proba

    out = _writable(args.out)
    model = load_classifier(args.source)
    if model.input_format is None:
        raise ValueError(f"{args.source} carries no label map or input recipe (a benchmark checkpoint); "
                         f"predict needs a classifier saved by `classify --train`")
    data = read_series(args.data, label_column=args.label_column or model.info.get("label_column", "label"))
    print(data.describe())
    print(f"inputs: {model.input_format.describe(data)}")
    table = prediction_table(model, data, predict_proba(model, data))
    from simmtm.atomic import atomic_write_text

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, table.to_csv(index=False))
    scores = evaluate_labels(model, data)
    if scores is not None:
        print(f"accuracy against the file's labels: {scores['accuracy']:.4f} (macro F1 {scores['f1']:.4f})")
    print(f"predictions: {out} ({len(table)} series)")


def _anomaly_args(p):
    p.add_argument("--preset", default="synthetic", help="anomaly preset: synthetic or quick")
    p.add_argument("--channels", type=_positive, default=1, help="channels per window (1 = univariate)")
    p.add_argument("--length", type=_positive, default=96, help="window length")
    p.add_argument("--sizes", type=_positive, nargs=3, default=[2000, 400, 1000], metavar=("TRAIN", "VAL", "TEST"),
                   help="windows per split")
    p.add_argument("--strategy", default=None, choices=["patch", "token", "temporal", "feature"],
                   help="training mask strategy (default: the preset's, patch)")
    p.add_argument("--methods", nargs="+", default=["sdmae", "mae", "simmtm-mae"], choices=["sdmae", "mae", "simmtm-mae"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=_positive, default=None, help="training epochs (default: the preset's)")
    p.add_argument("--pretrain-epochs", type=_positive, default=10, help="SimMTM pre-training epochs (simmtm-mae)")
    p.add_argument("--device", type=_device, default="auto")
    p.add_argument("--out", default=None, help="default results/anomaly_synthetic_<C>ch.md; with --data: the scores CSV")
    own = p.add_argument_group("score your own file (instead of the synthetic benchmark)")
    own.add_argument("--data", default=None, help="CSV: a time column (timestamp/date) + numeric value column(s)")
    split = own.add_mutually_exclusive_group()
    split.add_argument("--train-until", default=None, help="train on rows up to this timestamp (inclusive)")
    split.add_argument("--train-fraction", type=float, default=None, help="train on this leading fraction (default 0.5)")
    own.add_argument("--labels", default=None, help="known anomalies in the training part: JSON [[start, end], ...] "
                     "or CSV with a 0/1 is_anomaly column (switches to the self-distilled semi-supervised detector)")
    own.add_argument("--plot", default=None, help="write a figure of the series, score, threshold and flags")
    own.add_argument("--real", default=None, metavar="ROOT", help="instead: the real-data study over ROOT/NAB_dev and "
                     "ROOT/UCR_Anomaly (every method x series x seed, resumable) -> results/anomaly_real.md")
    own.add_argument("--scorer", default=None, choices=["reconstruction", "discrepancy", "teacher", "sum"],
                     help="override the detector's scorer")


def _anomaly(args):
    from simmtm.anomaly.experiment import run

    if args.data is not None:
        from simmtm.anomaly.score_file import score_file

        if args.out is None:
            raise ValueError("--data needs --out (the scores CSV)")
        score_file(args.data, _writable(args.out), plot=_writable(args.plot) if args.plot else None,
                   train_until=args.train_until, train_fraction=args.train_fraction, labels=args.labels,
                   scorer=args.scorer, seed=args.seeds[0], device="cpu" if args.device == "auto" else args.device)
        return
    if args.real is not None:
        from simmtm.experiments.anomaly_real import run as run_real

        run_real(args.real, seeds=args.seeds, out=_writable(args.out or "results/anomaly_real.md"),
                 command=_command_line(args))
        return
    from simmtm.anomaly.training import get_anomaly_preset

    cfg = get_anomaly_preset(args.preset, **({"strategy": args.strategy} if args.strategy else {}))
    run(cfg, args.methods, args.seeds, n_channels=args.channels, length=args.length, sizes=tuple(args.sizes),
        epochs=args.epochs, pretrain_epochs=args.pretrain_epochs, device=args.device,
        out=_writable(args.out or f"results/anomaly_synthetic_{args.channels}ch.md"), command=_command_line(args))


def _convert_args(p):
    p.add_argument("source", help="a .csv (date column + value columns) or a TF-C .pt split")
    p.add_argument("out", help="output folder (values.npy, labels.npy, meta.json)")


def _convert(args):
    from simmtm.data.memmap import convert, read_meta

    folder = convert(args.source, _writable(args.out, folder=True))
    print(f"{folder}: {read_meta(folder)}")


def _ablate_args(p):
    p.add_argument("--task", required=True, help="epilepsy, sleepeeg-epilepsy, or a forecasting dataset (ETTh1, ...)")
    p.add_argument("--analysis", required=True, choices=["mask-ratio", "views", "labels", "ablation"])
    p.add_argument("--values", nargs="+", default=None, help="the swept values (default: the paper's)")
    p.add_argument("--preset", default=None, help="default: Epilepsy (classification) or <task>-cpu (forecasting)")
    p.add_argument("--root", default="data")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pretrain-epochs", type=_positive, default=10)
    p.add_argument("--finetune-epochs", type=_positive, default=None, help="default 100 (classification), 10 (forecasting)")
    p.add_argument("--lr", type=_positive_float, default=None, help="fine-tuning lr (default 1e-4; forecasting 5e-4)")
    p.add_argument("--horizons", "--horizon", type=_positive, nargs="+", default=[96],
                   help="forecasting: the horizons (one pre-training serves them all)")
    p.add_argument("--pretrain-windows", type=_positive, default=None,
                   help="evenly spaced pre-training windows (default: all for classification, 8192 for forecasting)")
    p.add_argument("--finetune-windows", type=_positive, default=8192, help="forecasting: evenly spaced windows")
    p.add_argument("--device", type=_device, default="auto")
    p.add_argument("--out", default=None, help="default results/ablation_<task>_<analysis>.md")


def _ablate(args):
    from simmtm.config import get_preset
    from simmtm.experiments.analyses import CLASSIFICATION_TASKS, analyse

    classification = args.task in CLASSIFICATION_TASKS
    cfg = get_preset(args.preset or ("Epilepsy" if classification else f"{args.task}-cpu"))
    values = None if args.values is None else [_literal(v) for v in args.values]
    analyse(args.task, args.analysis, cfg, args.seeds, root=args.root, values=values,
            out=_writable(args.out or f"results/ablation_{args.task}_{args.analysis}.md"),
            pretrain_epochs=args.pretrain_epochs, finetune_epochs=args.finetune_epochs or (100 if classification else 10),
            lr=args.lr or (1e-4 if classification else 5e-4), horizons=tuple(args.horizons),
            pretrain_windows=args.pretrain_windows or (None if classification else 8192),
            finetune_windows=args.finetune_windows, device=args.device, command=_command_line(args))


def _checkpoints_args(p):
    pass


def _checkpoints(args):
    from simmtm.pretrained import describe, shipped

    names = shipped()
    if not names:
        print("no shipped encoders found")
    for name in names:
        d = describe(name)
        print(f"{name:<20} {d['encoder']:<12} {d['bytes'] / 1e6:5.2f} MB  sha256 {d['sha256'][:12]}  {d.get('data', '')}")


def _ship_args(p):
    p.add_argument("source", help="a SimMTM pre-training checkpoint")
    p.add_argument("name", help="the shipped name (checkpoints/<name>.pt and its card <name>.md)")
    p.add_argument("--data", required=True, help="what it was pre-trained on, and the split")
    p.add_argument("--made-by", required=True, help="the command that made SOURCE")
    p.add_argument("--budget", required=True, help="epochs, windows, batch")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--wall-time", required=True, help="how long pre-training took, and where")
    p.add_argument("--results", default="", help="a markdown file with what fine-tuning from it gives")
    p.add_argument("--folder", default=None, help="default: the repository's checkpoints/")


def _ship(args):
    from simmtm.pretrained import ship

    results = Path(args.results).read_text() if args.results else ""
    path = ship(args.source, args.name, data=args.data, command=args.made_by, budget=args.budget, seed=args.seed,
                wall_time=args.wall_time, results=results, folder=args.folder)
    print(f"{path} and {path.with_suffix('.md')}")


COMMANDS = {  # name: (help, arguments, action)
    "demo": ("offline demo: pre-train, then fine-tune on all and on 2 % of the windows (about 2 min on a 2-core CPU)", _demo_args, _demo),
    "presets": ("list the named configuration presets", _presets_args, _presets),
    "download": ("fetch benchmark files into data/ with checksums", _download_args, _download),
    "pretrain": ("pre-train SimMTM on a forecasting dataset", _pretrain_args, _pretrain),
    "finetune": ("fine-tune a forecaster from a checkpoint (or random init)", _finetune_args, _finetune),
    "forecast": ("forecast your CSV past its end (or backtest --at DATE) in original units", _forecast_args, _forecast),
    "study": ("pre-trained vs random init over seeds and horizons; resumable; writes a table", _study_args, _study),
    "sweep": ("variants of a forecasting recipe on one horizon, ranked by validation MSE", _sweep_args, _sweep),
    "protocols": ("fine-tuning protocols (probe-then-full, encoder lr ratio) selected on validation MSE",
                  _protocols_args, _protocols),
    "selected": ("a four-horizon table with each init at its validation-selected protocol (one study per protocol)",
                 _selected_args, _selected),
    "curve": ("where pre-training pays: label curve or pre-training-scale curve, SimMTM vs random init; resumable",
              _curve_args, _curve),
    "classify": ("classify your own files (--train [--test]) or run a benchmark study (--setting)", _classify_args,
                 _classify),
    "predict": ("predicted labels and class probabilities of new series from a saved classifier", _predict_args,
                _predict),
    "compare": ("every pre-training method on the same encoder, data, budget and seeds", _compare_args, _compare),
    "anomaly": ("anomaly detection: score your own CSV (--data) or run the synthetic benchmark", _anomaly_args, _anomaly),
    "convert": ("convert a CSV series or a TF-C .pt split to a memory-mapped corpus folder", _convert_args, _convert),
    "ablate": ("the paper's analyses: masking ratio, views, limited labels, ablations", _ablate_args, _ablate),
    "checkpoints": ("list the shipped pre-trained encoders", _checkpoints_args, _checkpoints),
    "ship": ("write a pre-training checkpoint's encoder and its model card into checkpoints/", _ship_args, _ship),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m simmtm", description="SimMTM masked time-series pre-training")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (or SIMMTM_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error ends in one line on stderr and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        COMMANDS[args.command][2](args)
    except USER_ERRORS as err:
        if args.debug or os.environ.get("SIMMTM_DEBUG") == "1":
            raise
        sys.stderr.write(f"simmtm: error: {' '.join(str(err).split()) or type(err).__name__}\n")
        return 2
    except KeyboardInterrupt:
        if args.debug or os.environ.get("SIMMTM_DEBUG") == "1":
            raise
        sys.stderr.write(f"\nsimmtm: {_interrupted(args)}\n")
        return 130
    return 0


RESUMABLE = ("study", "sweep", "classify", "compare", "ablate", "anomaly")  # one record per finished unit


def _interrupted(args) -> str:
    """The one line after Ctrl-C: what a rerun does, where that is known to be true."""
    if args.command in RESUMABLE:
        return "interrupted; rerun the same command to resume (finished units are kept)"
    if args.command in ("pretrain", "finetune"):
        if args.resume:
            return "interrupted; rerun the same command to resume"
        return "interrupted; rerun the same command with --resume to continue after the last finished epoch"
    return "interrupted"


if __name__ == "__main__":
    sys.exit(main())
