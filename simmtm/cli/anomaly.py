"""Anomaly detection: score a user's CSV (``--data``), the real-data study (``--real``) or the
synthetic benchmark."""
from __future__ import annotations

from simmtm.cli import common


def anomaly_args(p):
    p.add_argument("--preset", default="synthetic", help="anomaly preset: synthetic or quick")
    p.add_argument("--channels", type=common.positive, default=1, help="channels per window (1 = univariate)")
    p.add_argument("--length", type=common.positive, default=96, help="window length")
    p.add_argument("--sizes", type=common.positive, nargs=3, default=[2000, 400, 1000], metavar=("TRAIN", "VAL", "TEST"),
                   help="windows per split")
    p.add_argument("--strategy", default=None, choices=["patch", "token", "temporal", "feature"],
                   help="training mask strategy (default: the preset's, patch)")
    p.add_argument("--methods", nargs="+", default=["sdmae", "mae", "simmtm-mae"], choices=["sdmae", "mae", "simmtm-mae"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=common.positive, default=None, help="training epochs (default: the preset's)")
    p.add_argument("--pretrain-epochs", type=common.positive, default=10, help="SimMTM pre-training epochs (simmtm-mae)")
    p.add_argument("--device", type=common.device, default="auto")
    p.add_argument("--out", default=None, help="default results/anomaly/anomaly_synthetic_<C>ch.md; with --data: the scores CSV")
    own = p.add_argument_group("score your own file (instead of the synthetic benchmark)")
    own.add_argument("--data", default=None, help="CSV: a time column (timestamp/date) + numeric value column(s)")
    split = own.add_mutually_exclusive_group()
    split.add_argument("--train-until", default=None, help="train on rows up to this timestamp (inclusive)")
    split.add_argument("--train-fraction", type=float, default=None, help="train on this leading fraction (default 0.5)")
    own.add_argument("--labels", default=None, help="known anomalies in the training part: JSON [[start, end], ...] "
                     "or CSV with a 0/1 is_anomaly column (switches to the self-distilled semi-supervised detector)")
    own.add_argument("--plot", default=None, help="write a figure of the series, score, threshold and flags")
    own.add_argument("--real", default=None, metavar="ROOT", help="instead: the real-data study over ROOT/NAB_dev and "
                     "ROOT/UCR_Anomaly (every method x series x seed, resumable) -> results/anomaly/anomaly_real.md")
    own.add_argument("--scorer", default=None, choices=["reconstruction", "discrepancy", "teacher", "sum"],
                     help="override the detector's scorer")


def anomaly(args):
    from simmtm.experiments.anomaly_synthetic import run

    if args.data is not None:
        from simmtm.anomaly.score_file import score_file

        if args.out is None:
            raise ValueError("--data needs --out (the scores CSV)")
        score_file(args.data, common.writable(args.out), plot=common.writable(args.plot) if args.plot else None,
                   train_until=args.train_until, train_fraction=args.train_fraction, labels=args.labels,
                   scorer=args.scorer, seed=args.seeds[0], device="cpu" if args.device == "auto" else args.device)
        return
    if args.real is not None:
        from simmtm.experiments.anomaly_real import run as run_real

        run_real(args.real, seeds=args.seeds, out=common.writable(args.out or "results/anomaly/anomaly_real.md"),
                 command=common.command_line(args))
        return
    from simmtm.anomaly.training import get_anomaly_preset

    cfg = get_anomaly_preset(args.preset, **({"strategy": args.strategy} if args.strategy else {}))
    run(cfg, args.methods, args.seeds, n_channels=args.channels, length=args.length, sizes=tuple(args.sizes),
        epochs=args.epochs, pretrain_epochs=args.pretrain_epochs, device=args.device,
        out=common.writable(args.out or f"results/anomaly/anomaly_synthetic_{args.channels}ch.md"), command=common.command_line(args))


COMMANDS = {  # name: (help, arguments, action)
    "anomaly": ("anomaly detection: score your own CSV (--data) or run the synthetic benchmark", anomaly_args, anomaly),
}
