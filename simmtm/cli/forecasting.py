"""Forecasting commands on a dataset or a user's CSV: ``pretrain``, ``finetune``, ``forecast``."""
from __future__ import annotations

from dataclasses import replace

from simmtm.baselines.objectives import METHODS
from simmtm.cli import common


def pretrain_args(p):
    common.model_args(p)
    p.add_argument("--out", default=None, help="checkpoint path (default checkpoints/<data>_<preset>_pretrained.pt)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (pays off on long GPU runs)")
    p.add_argument("--method", default=None, choices=list(METHODS), help="pre-training objective (default: simmtm)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run that wrote the same --out (exact: same weights as unbroken)")
    p.add_argument("--global-similarity", action="store_true",
                   help="under torchrun: similarity over the global batch (default: per process, as the official code)")
    p.add_argument("--similarity-chunk", type=common.positive, default=None,
                   help="rows per block of the similarity softmaxes (memory chunk*R instead of R^2; same result)")


def pretrain(args):
    from simmtm.forecasting.training import pretrain
    from simmtm.training.recipes import BUDGETS, budget_name
    from simmtm.training.resume import check_resumable
    from simmtm.utils.distributed import rank

    cfg = common.config(args)
    data = common.data(args, seq_len=cfg.seq_len)
    out = common.writable(args.out or f"checkpoints/{data.name}_{args.preset}_pretrained.pt")
    if args.resume:
        check_resumable(out)
    cfg = replace(cfg, global_similarity=args.global_similarity,
                  **({"similarity_chunk": args.similarity_chunk} if args.similarity_chunk is not None else {}))
    max_windows = args.max_windows or BUDGETS[budget_name(args.preset, args.device)].pretrain_windows
    print(f"pre-training {args.preset} on {data.name}: {args.epochs or cfg.epochs} epochs over "
          f"{max_windows or 'all'} training windows, batch {cfg.batch_size}, lr {cfg.lr:g}")
    pretrain(cfg, data, device=args.device, epochs=args.epochs, amp_dtype=common.AMP[args.amp], compile=args.compile,
             max_windows=max_windows, seed=args.seed, checkpoint=out, resume=args.resume,
             progress=not args.no_progress)
    if rank() == 0:
        print(f"checkpoint: {out}")


def finetune_args(p):
    common.model_args(p)
    p.add_argument("--from", dest="source", default=None,
                   help="a shipped encoder's name (python -m simmtm checkpoints) or a SimMTM checkpoint path; "
                        "'general' fine-tunes the general forecaster (one model for every --pred-len, up to 720); "
                        "omit for random init")
    common.pred_len_arg(p, [96, 192, 336, 720])
    p.add_argument("--fraction", type=common.fraction, default=None,
                   help="with --from general: fine-tune on this share of the training rows, the last ones, as "
                        "granite-tsfm's few-shot benchmark takes them (int(f*(rows-512))+512 rows; default 1)")
    p.add_argument("--patience", type=common.positive, default=None, help="default: the preset's budget")
    p.add_argument("--head-dropout", type=common.dropout, default=None, help="default: the preset's budget")
    p.add_argument("--resume", action="store_true", help="continue interrupted fine-tuning runs writing the same --out")
    p.add_argument("--out", default=None, help="folder for fine-tuned checkpoints (default checkpoints/)")
    common.protocol_arg(p)


def finetune(args):
    from simmtm.config import get_preset
    from simmtm.forecasting.own_data import finetune_horizons
    from simmtm.training.pretrained import load_pretrained
    from simmtm.training.protocols import get_protocol
    from simmtm.training.recipes import finetune_budget, model_differences

    from simmtm.forecasting.general import is_general

    protocol = get_protocol(args.protocol)
    out = common.writable(args.out or "checkpoints", folder=True)
    if args.source and is_general(args.source):
        return finetune_general(args, out)
    if args.fraction is not None:
        raise ValueError("--fraction takes the few-shot rows of a fine-tuning from the general forecaster: "
                         "use it with --from general")
    encoder, cfg = load_pretrained(args.source) if args.source else (None, common.config(args))
    if args.source and args.seq_len is not None:
        cfg = replace(cfg, seq_len=args.seq_len)
    if args.source and args.preset is not None:
        differences = model_differences(get_preset(args.preset), cfg)
        if differences:
            print(f"--from {args.source} wins for the model ({', '.join(differences)} against --preset {args.preset}); "
                  f"--preset {args.preset} sets only the fine-tuning budget")
    data = common.data(args, seq_len=cfg.seq_len)
    budget, line = finetune_budget(args.preset, args.device, lr=args.lr, batch_size=args.batch_size,
                                   finetune_epochs=args.epochs, finetune_windows=args.max_windows,
                                   patience=args.patience, head_dropout=args.head_dropout)
    print(line)
    finetune_horizons(cfg, data, args.pred_len, out, encoder=encoder, budget=budget, protocol=protocol,
                      device=args.device, amp_dtype=common.AMP[args.amp], seed=args.seed, resume=args.resume,
                      progress=not args.no_progress)


def finetune_general(args, out):
    from simmtm.forecasting.general import CONTEXT, finetune_general

    if args.preset is not None or args.seq_len not in (None, CONTEXT):
        raise ValueError(f"--from {args.source} is the general forecaster: its model and context ({CONTEXT}) are fixed; "
                         "drop --preset / --seq-len")
    data = common.data(args, seq_len=CONTEXT)
    result = finetune_general(args.source, data, out, fraction=args.fraction or 1.0, horizons=args.pred_len,
                              lr=args.lr or 1e-4, batch_size=args.batch_size or 32, epochs=args.epochs or 20,
                              patience=args.patience or 3, seed=args.seed, device=args.device, resume=args.resume,
                              progress=not args.no_progress)
    test = result["test"]
    print(f"{data.name}: test MSE " + ", ".join(f"H={h} {test[f'mse_{h}']:.4f}" for h in sorted(set(args.pred_len)))
          + f" (average {test['mse']:.4f}) on the standardized scale; best epoch {result['best_epoch']}")
    print(f"forecaster (forecasts up to {max(args.pred_len)} steps): {result['checkpoint']}")


def forecast_args(p):
    p.add_argument("--from", dest="source", required=True,
                   help="a fine-tuned forecaster (python -m simmtm finetune ...), or 'general': the general forecaster, "
                        "zero-shot on any CSV (every numeric column, any frequency)")
    p.add_argument("--pred-len", type=common.positive, default=None, metavar="H",
                   help="steps to forecast: a forecaster fine-tuned from the general one, or the general one itself, "
                        "answers any H up to 720 (default: the forecaster's own horizon; 96 for 'general')")
    p.add_argument("--data", required=True, help="your CSV: the model's columns and, unless it has none, a date column")
    p.add_argument("--out", required=True, help="CSV to write: the date column, then each channel's forecast")
    p.add_argument("--plot", default=None, help="PNG: recent history and the forecast of each channel")
    p.add_argument("--at", default=None, metavar="DATE",
                   help="backtest: forecast the H rows after this row's date (its step number for a file without "
                        "dates), write the actual values beside (<ch>_actual) and print MSE/MAE in original units")
    p.add_argument("--date-column", default=None,
                   help="the date column (default: the one the model was trained with, else 'date'; "
                        "a file without dates forecasts step numbers)")
    p.add_argument("--history", type=common.positive, default=None, help="rows of history in the plot (default: seq_len)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")


def forecast(args):
    from simmtm.forecasting.own_data import forecast_file

    out = common.writable(args.out)
    plot = common.writable(args.plot) if args.plot else None
    forecast_file(args.source, args.data, out, plot=plot, at=args.at, date_column=args.date_column,
                  history=args.history, device=args.device, horizon=args.pred_len)


COMMANDS = {  # name: (help, arguments, action)
    "pretrain": ("pre-train SimMTM on a forecasting dataset", pretrain_args, pretrain),
    "finetune": ("fine-tune a forecaster from a checkpoint (or random init)", finetune_args, finetune),
    "forecast": ("forecast your CSV past its end (or backtest --at DATE) in original units", forecast_args, forecast),
}
