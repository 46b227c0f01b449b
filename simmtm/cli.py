"""Command line: ``python -m simmtm <command>`` (demo, presets, download, pretrain, finetune, study,
sweep, classify, compare, anomaly, convert)."""
from __future__ import annotations

import argparse
import copy
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
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {text}")
    return value


def _writable(path: str | Path, *, folder: bool = False) -> Path:
    """Fail before any work if ``path`` (a file, or with ``folder`` a directory) cannot be
    written; creates nothing (the writer makes missing folders when it writes)."""
    path = Path(path)
    if path.is_dir() and not folder:
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    if folder and path.exists() and not path.is_dir():
        raise NotADirectoryError(f"cannot write into {path}: it is a file")
    probe = path if folder else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: {probe} is not writable")
    return path


def _config(args):
    from simmtm.config import get_preset

    cfg = get_preset(args.preset)
    enc = cfg.encoder
    if getattr(args, "patch_len", None) is not None:
        enc = replace(enc, patch_len=args.patch_len)
    overrides = {k: v for k, v in (("seq_len", args.seq_len), ("batch_size", args.batch_size), ("lr", args.lr),
                                   ("n_views", getattr(args, "n_views", None)),
                                   ("mask_ratio", getattr(args, "mask_ratio", None)),
                                   ("method", getattr(args, "method", None))) if v is not None}
    return replace(cfg, encoder=enc, **overrides)


def _data(name, root, seq_len, features="M"):
    from simmtm.data.forecasting import load_forecasting

    return load_forecasting(name, root, seq_len=seq_len, features=features)


def _common(p, *, preset_default="ETTm1"):
    p.add_argument("--preset", default=preset_default, help="configuration preset (python -m simmtm presets)")
    p.add_argument("--data", default=None, help="dataset name (ETTh1, ETTm1, Weather, ...) or CSV path; default: the preset's")
    p.add_argument("--root", default="data", help="data folder for dataset names")
    p.add_argument("--features", default="M", choices=["M", "S"], help="M: all channels, S: the target only")
    p.add_argument("--seq-len", type=_positive, default=None)
    p.add_argument("--patch-len", type=_positive, default=None, help="patch tokens of P steps (1 = a token per step)")
    p.add_argument("--mask-ratio", type=_ratio, default=None, help="share of time points each view hides")
    p.add_argument("--batch-size", type=_positive, default=None)
    p.add_argument("--lr", type=_positive_float, default=None)
    p.add_argument("--epochs", type=_positive, default=None)
    p.add_argument("--max-windows", type=_positive, default=None, help="CPU budget: at most this many windows per split")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--amp", default="none", choices=list(AMP), help="autocast dtype: bf16 (CPU or recent GPUs) or fp16 (CUDA, with loss scaling)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def _study_args(p):
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


def _parse_variant(text: str) -> tuple[str, dict]:
    import ast

    name, _, body = text.partition(":")
    if not name:
        raise ValueError(f"a variant needs a name: NAME:KEY=VALUE,..., got {text!r}")
    overrides = {}
    for item in filter(None, body.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"variant {name!r}: expected KEY=VALUE, got {item!r}")
        try:
            overrides[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            overrides[key.strip()] = value.strip()
    return name, overrides


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m simmtm", description="SimMTM masked time-series pre-training")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (or SIMMTM_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="offline demo: pre-train + fine-tune on synthetic data (~1 min on CPU)")
    demo.add_argument("--out", default="results/demo", help="folder for the plot and checkpoint")
    demo.add_argument("--device", default="auto", help="auto, cpu or cuda")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--pretrain-epochs", type=_positive, default=2)
    demo.add_argument("--finetune-epochs", type=_positive, default=3)
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")

    sub.add_parser("presets", help="list the named configuration presets")

    dl = sub.add_parser("download", help="fetch benchmark files into data/ with checksums")
    dl.add_argument("names", nargs="+", help="dataset names (ETTh1, ETTh2, ETTm1, Weather)")
    dl.add_argument("--root", default="data")
    dl.add_argument("--force", action="store_true")

    pre = sub.add_parser("pretrain", help="pre-train SimMTM on a forecasting dataset")
    _common(pre)
    pre.add_argument("--out", default=None, help="checkpoint path (default checkpoints/<data>_<preset>_pretrained.pt)")
    pre.add_argument("--compile", action="store_true", help="torch.compile the model (pays off on long GPU runs)")
    pre.add_argument("--method", default=None, choices=list(METHODS),
                     help="pre-training objective (default: the preset's, simmtm)")
    pre.add_argument("--resume", action="store_true",
                     help="continue an interrupted run that wrote the same --out (exact: same weights as unbroken)")
    pre.add_argument("--global-similarity", action="store_true",
                     help="under torchrun: similarity over the global batch (default: per process, as the official code)")
    pre.add_argument("--similarity-chunk", type=int, default=None,
                     help="rows per block of the similarity softmaxes (memory chunk*R instead of R^2; same result)")

    ft = sub.add_parser("finetune", help="fine-tune a forecaster from a checkpoint (or random init)")
    _common(ft)
    ft.add_argument("--from", dest="source", default=None, help="pre-trained SimMTM checkpoint (omit for random init)")
    ft.add_argument("--pred-len", type=_positive, nargs="+", default=[96, 192, 336, 720])
    ft.add_argument("--patience", type=_positive, default=3)
    ft.add_argument("--head-dropout", type=float, default=0.0)
    ft.add_argument("--resume", action="store_true", help="continue interrupted fine-tuning runs writing the same --out")
    ft.add_argument("--out", default=None, help="folder for fine-tuned checkpoints (default checkpoints/)")

    st = sub.add_parser("study", help="pre-trained vs random init over seeds and horizons; resumable; writes a table")
    _common(st)
    _study_args(st)
    st.add_argument("--target", default=None, help="fine-tuning dataset (default: --data, i.e. in-domain)")
    st.add_argument("--pred-len", type=_positive, nargs="+", default=[96, 192, 336, 720])
    st.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    st.add_argument("--out", default=None, help="table path (default results/forecasting_<data>[_to_<target>].md); "
                                                "records go to the folder of the same name")

    sw = sub.add_parser("sweep", help="variants of a forecasting recipe on one horizon, ranked by validation MSE")
    _common(sw)
    _study_args(sw)
    sw.add_argument("--variant", action="append", required=True, metavar="NAME:KEY=VALUE,...",
                    help="a named variant, e.g. p8:patch_len=8 or wide:d_model=64,n_heads=8 (base: no overrides)")
    sw.add_argument("--pred-len", type=_positive, default=96)
    sw.add_argument("--out", default=None, help="default results/forecasting_sweep_<data>.md")

    cmp = sub.add_parser("compare", help="every pre-training method on the same encoder, data, budget and seeds")
    cmp.add_argument("--task", required=True, help="epilepsy, or a forecasting dataset (ETTh1, ETTm1, ...)")
    cmp.add_argument("--methods", nargs="+", default=[*METHODS, "none"], choices=[*METHODS, "none"])
    cmp.add_argument("--encoder", default="cnn", choices=["cnn", "resnet"], help="classification encoder")
    cmp.add_argument("--preset", default=None, help="forecasting preset (default: the dataset's, else ETTm1)")
    cmp.add_argument("--patch-len", type=int, default=None, help="forecasting: patch tokens of P steps")
    cmp.add_argument("--root", default="data")
    cmp.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    cmp.add_argument("--pretrain-epochs", type=_positive, default=10)
    cmp.add_argument("--finetune-epochs", type=_positive, default=None, help="default 100 (classification), 10 (forecasting)")
    cmp.add_argument("--horizon", type=_positive, default=96)
    cmp.add_argument("--max-windows", type=_positive, default=None, help="forecasting CPU budget: windows per split")
    cmp.add_argument("--device", default="auto")
    cmp.add_argument("--out", default=None, help="default results/comparison_<task>.md")

    cl = sub.add_parser("classify", help="classification study: pre-trained vs random init over seeds")
    cl.add_argument("--setting", required=True, choices=["epilepsy", "sleepeeg-epilepsy", "sleepeeg-gesture"])
    cl.add_argument("--encoder", default="cnn", choices=["cnn", "resnet"])
    cl.add_argument("--root", default="data", help="folder holding Epilepsy_UCI/, SleepEEG_subset/, Gesture_TFC/")
    cl.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    cl.add_argument("--pretrain-epochs", type=_positive, default=10)
    cl.add_argument("--finetune-epochs", type=_positive, default=100)
    cl.add_argument("--lr", type=_positive_float, default=1e-4, help="fine-tuning learning rate")
    cl.add_argument("--pretrain-once", action="store_true", help="pre-train with the first seed only")
    cl.add_argument("--max-pretrain", type=_positive, default=None, help="CPU budget: at most this many pre-training windows")
    cl.add_argument("--device", default="auto")
    cl.add_argument("--out", default=None)

    an = sub.add_parser("anomaly", help="anomaly benchmark: self-distilled MAE vs reconstruction baselines (synthetic)")
    an.add_argument("--preset", default="synthetic", help="anomaly preset: synthetic or quick")
    an.add_argument("--channels", type=_positive, default=1, help="channels per window (1 = univariate)")
    an.add_argument("--length", type=_positive, default=96, help="window length")
    an.add_argument("--sizes", type=_positive, nargs=3, default=[2000, 400, 1000], metavar=("TRAIN", "VAL", "TEST"),
                    help="windows per split")
    an.add_argument("--strategy", default=None, choices=["patch", "token", "temporal", "feature"],
                    help="training mask strategy (default: the preset's, patch)")
    an.add_argument("--methods", nargs="+", default=["sdmae", "mae", "simmtm-mae"], choices=["sdmae", "mae", "simmtm-mae"])
    an.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    an.add_argument("--epochs", type=_positive, default=None, help="training epochs (default: the preset's)")
    an.add_argument("--pretrain-epochs", type=_positive, default=10, help="SimMTM pre-training epochs (simmtm-mae)")
    an.add_argument("--device", default="auto")
    an.add_argument("--out", default=None, help="default results/anomaly_synthetic_<C>ch.md")

    cv = sub.add_parser("convert", help="convert a CSV series or a TF-C .pt split to a memory-mapped corpus folder")
    cv.add_argument("source", help="a .csv (date column + value columns) or a TF-C .pt split")
    cv.add_argument("out", help="output folder (values.npy, labels.npy, meta.json)")

    args = parser.parse_args(argv)
    try:
        return _run(args, argv)
    except USER_ERRORS as err:
        if args.debug or os.environ.get("SIMMTM_DEBUG") == "1":
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        sys.stderr.write(f"simmtm: error: {message}\n")
        return 2


def _run(args, argv) -> int:
    if args.command == "demo":
        from simmtm.demo import run_demo

        _writable(args.out, folder=True)
        run_demo(args.out, pretrain_epochs=args.pretrain_epochs, finetune_epochs=args.finetune_epochs,
                 seed=args.seed, device=args.device, progress=not args.no_progress)
    elif args.command == "presets":
        from simmtm.config import PRESETS

        for name, cfg in PRESETS.items():
            print(f"{name:<16} L={cfg.seq_len:<4} C={cfg.n_channels:<3} encoder={cfg.encoder.kind:<12} "
                  f"views={cfg.n_views} lr={cfg.lr:g} batch={cfg.batch_size} epochs={cfg.epochs}")
    elif args.command == "download":
        from simmtm.data.download import download

        for name in args.names:
            for path in download(name, args.root, force=args.force):
                print(f"{name}: {path} (sha256 verified)")
    elif args.command == "pretrain":
        from simmtm.forecasting import pretrain

        cfg = _config(args)
        data_name = args.data or args.preset
        data = _data(data_name, args.root, cfg.seq_len, args.features)
        out = _writable(args.out or f"checkpoints/{data.name}_{args.preset}_pretrained.pt")
        cfg = replace(cfg, global_similarity=args.global_similarity,
                      **({"similarity_chunk": args.similarity_chunk} if args.similarity_chunk is not None else {}))
        pretrain(cfg, data, device=args.device, epochs=args.epochs, amp_dtype=AMP[args.amp], compile=args.compile,
                 max_windows=args.max_windows, seed=args.seed, checkpoint=out, resume=args.resume,
                 progress=not args.no_progress)
        from simmtm.distributed import rank

        if rank() == 0:
            print(f"checkpoint: {out}")
    elif args.command == "finetune":
        from simmtm.checkpoint import load_pretrained_encoder
        from simmtm.forecasting import finetune

        _writable(args.out or "checkpoints", folder=True)
        if args.source:
            encoder, cfg = load_pretrained_encoder(args.source)
            if args.seq_len is not None and args.seq_len != cfg.seq_len:
                cfg = replace(cfg, seq_len=args.seq_len)
        else:
            encoder, cfg = None, _config(args)
        data = _data(args.data or args.preset, args.root, cfg.seq_len, args.features)
        tag = "pretrained" if args.source else "random"
        for horizon in args.pred_len:
            result = finetune(cfg, data, horizon, encoder=copy.deepcopy(encoder) if encoder is not None else None,
                              device=args.device, lr=args.lr or 1e-4, batch_size=args.batch_size or 32,
                              epochs=args.epochs or 10, patience=args.patience, head_dropout=args.head_dropout,
                              amp_dtype=AMP[args.amp], max_windows=args.max_windows, seed=args.seed,
                              checkpoint=f"{args.out or 'checkpoints'}/{data.name}_H{horizon}_{tag}.pt",
                              resume=args.resume, progress=not args.no_progress)
            from simmtm.distributed import rank

            if rank() == 0:
                print(f"{data.name} H={horizon} ({tag}): test MSE {result['test']['mse']:.4f} MAE {result['test']['mae']:.4f} "
                      f"(best epoch {result['best_epoch']}, {result['seconds']:.0f}s)")
    elif args.command == "classify":
        from simmtm.classification import study as classification_study
        from simmtm.config import get_preset

        cfg = get_preset("Epilepsy-ResNet" if args.encoder == "resnet" else "Epilepsy")
        classification_study(args.setting, args.root, cfg, args.seeds,
                             out=_writable(args.out or f"results/classification_{args.setting}_{args.encoder}.md"),
                             pretrain_epochs=args.pretrain_epochs, finetune_epochs=args.finetune_epochs, lr=args.lr,
                             pretrain_once=args.pretrain_once, max_pretrain=args.max_pretrain, device=args.device,
                             command="python -m simmtm " + shlex.join(argv if argv is not None else sys.argv[1:]))
    elif args.command == "compare":
        from simmtm.comparison import run as compare
        from simmtm.config import PRESETS, get_preset

        if args.task == "epilepsy":
            cfg = get_preset("Epilepsy-ResNet" if args.encoder == "resnet" else "Epilepsy")
        else:
            cfg = get_preset(args.preset or (args.task if args.task in PRESETS else "ETTm1"))
            if args.patch_len is not None:
                cfg = replace(cfg, encoder=replace(cfg.encoder, patch_len=args.patch_len))
        finetune_epochs = args.finetune_epochs or (100 if args.task == "epilepsy" else 10)
        compare(args.task, args.root, cfg, args.methods, args.seeds, pretrain_epochs=args.pretrain_epochs,
                finetune_epochs=finetune_epochs, out=_writable(args.out or f"results/comparison_{args.task}.md"),
                horizon=args.horizon, max_windows=args.max_windows, device=args.device,
                command="python -m simmtm " + shlex.join(argv if argv is not None else sys.argv[1:]))
    elif args.command == "convert":
        from simmtm.data.memmap import convert, read_meta

        folder = convert(args.source, _writable(args.out, folder=True))
        print(f"{folder}: {read_meta(folder)}")
    elif args.command == "anomaly":
        from simmtm.anomaly.experiment import run as run_anomaly
        from simmtm.anomaly.training import get_anomaly_preset

        cfg = get_anomaly_preset(args.preset, **({"strategy": args.strategy} if args.strategy else {}))
        run_anomaly(cfg, args.methods, args.seeds, n_channels=args.channels, length=args.length, sizes=tuple(args.sizes),
                    epochs=args.epochs, pretrain_epochs=args.pretrain_epochs, device=args.device,
                    out=_writable(args.out or f"results/anomaly_synthetic_{args.channels}ch.md"),
                    command="python -m simmtm " + shlex.join(argv if argv is not None else sys.argv[1:]))
    elif args.command == "study":
        from simmtm.experiments.forecasting import study

        cfg = _config(args)
        source = _data(args.data or args.preset, args.root, cfg.seq_len, args.features)
        target = _data(args.target, args.root, cfg.seq_len, args.features) if args.target else source
        suffix = "" if target.name == source.name else f"_to_{target.name}"
        out = _writable(args.out or f"results/forecasting_{source.name}{suffix}.md")
        study(cfg, source, target, args.pred_len, args.seeds, out=out,
              budget=_budget(args), device=args.device, checkpoints=args.checkpoints, progress=not args.no_progress,
              command="python -m simmtm " + shlex.join(argv if argv is not None else sys.argv[1:]))
    elif args.command == "sweep":
        from simmtm.experiments.forecasting import sweep

        cfg = _config(args)
        data = _data(args.data or args.preset, args.root, cfg.seq_len, args.features)
        variants = dict(_parse_variant(v) for v in args.variant)
        rows = sweep(cfg, data, variants, horizon=args.pred_len, seed=args.seed, budget=_budget(args),
                     out=_writable(args.out or f"results/forecasting_sweep_{data.name}.md"), device=args.device,
                     checkpoints=args.checkpoints, progress=not args.no_progress,
                     command="python -m simmtm " + shlex.join(argv if argv is not None else sys.argv[1:]))
        print(f"best on validation: {rows[0]['variant']} (val MSE {rows[0]['val_mse']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
