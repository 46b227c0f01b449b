"""Classification commands: ``classify`` (a user's labelled files, or a benchmark study with
``--setting``) and ``predict`` (labels of new series from a saved classifier)."""
from __future__ import annotations

from pathlib import Path

from simmtm.cli import common


def classify_args(p):
    p.add_argument("--train", default=None, metavar="TRAIN_FILE",
                   help="your labelled training series (.ts, .npz or .csv): pre-train, fine-tune, save a classifier")
    p.add_argument("--test", default=None, metavar="TEST_FILE", help="with --train: labelled series tested once")
    p.add_argument("--setting", default=None, choices=["epilepsy", "sleepeeg-epilepsy", "sleepeeg-gesture"],
                   help="instead of --train: a benchmark study (pre-trained vs random init over --seeds)")
    p.add_argument("--encoder", default="cnn", choices=["cnn", "resnet"])
    p.add_argument("--root", default="data", help="folder holding Epilepsy_UCI/, SleepEEG_subset/, Gesture_TFC/")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="--setting: the seeds")
    p.add_argument("--seed", type=int, default=0, help="--train: seed of the validation split and the training")
    p.add_argument("--pretrain-epochs", type=common.positive, default=None, help="--setting: pre-training epochs (default 10)")
    p.add_argument("--pretrain-steps", type=common.positive, default=None,
                   help="--train: pre-training optimizer steps (default 500)")
    p.add_argument("--finetune-epochs", type=common.positive, default=None, help="default 100")
    p.add_argument("--lr", type=common.positive_float, default=None, help="fine-tuning learning rate (default 1e-4 "
                                                                     "with --setting, 3e-4 with --train)")
    p.add_argument("--batch-size", type=common.positive, default=None, help="--train: batch (default 32, capped at the data size)")
    p.add_argument("--label-column", default="label", help="--train with a CSV: the label column's name")
    p.add_argument("--length", type=common.positive, default=None,
                   help="--train: series length of the model (default: the longest training series)")
    p.add_argument("--pad", action="store_true",
                   help="--train: pad shorter series with their last value instead of resampling them")
    p.add_argument("--no-baselines", action="store_true", help="--train: skip random init and 1-NN")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--pretrain-once", action="store_true", help="pre-train with the first seed only")
    p.add_argument("--max-pretrain", type=common.positive, default=None, help="CPU budget: at most this many pre-training windows")
    p.add_argument("--from", dest="source", default=None,
                   help="start from this shipped encoder (name or path) instead of pre-training")
    p.add_argument("--save-pretrained", default=None, help="write the (first) pre-training checkpoint here")
    common.protocol_arg(p)
    p.add_argument("--device", type=common.device, default="auto")
    p.add_argument("--out", default=None, help="--train: the classifier file (default checkpoints/<train name>_"
                                               "classifier.pt); --setting: the table")


def classify(args):
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
        return _own_files(args)
    from simmtm.config import get_preset
    from simmtm.experiments.classification import study
    from simmtm.training.pretrained import load_pretrained
    from simmtm.training.protocols import get_protocol

    protocol = get_protocol(args.protocol)
    cfg = get_preset("Epilepsy-ResNet" if args.encoder == "resnet" else "Epilepsy")
    encoder = None
    if args.source:
        encoder, cfg = load_pretrained(args.source)
        if cfg.encoder.kind != args.encoder:
            raise ValueError(f"{args.source} holds a {cfg.encoder.kind} encoder, not --encoder {args.encoder}")
    study(args.setting, args.root, cfg, args.seeds, encoder=encoder, encoder_name=args.source,
          save_pretrained=common.writable(args.save_pretrained) if args.save_pretrained else None,
          out=common.writable(args.out or f"results/classification/classification_{args.setting}_{args.encoder}.md"),
          pretrain_epochs=args.pretrain_epochs or 10, finetune_epochs=args.finetune_epochs or 100, lr=args.lr or 1e-4,
          pretrain_once=args.pretrain_once, max_pretrain=args.max_pretrain, device=args.device,
          command=common.command_line(args), protocol=protocol)


def _own_files(args):
    from simmtm.classification.own_data import classify_files
    from simmtm.training.recipes import ClassifyBudget
    from simmtm.training.pretrained import load_pretrained
    from simmtm.training.protocols import get_protocol

    budget = ClassifyBudget(encoder=args.encoder, **{k: v for k, v in (
        ("pretrain_steps", args.pretrain_steps), ("finetune_epochs", args.finetune_epochs),
        ("finetune_lr", args.lr), ("batch_size", args.batch_size)) if v is not None})
    out = common.writable(args.out or f"checkpoints/{Path(args.train).stem}_classifier.pt")
    encoder, enc_cfg = load_pretrained(args.source) if args.source else (None, None)
    if encoder is not None and enc_cfg.encoder.kind != args.encoder:
        raise ValueError(f"{args.source} holds a {enc_cfg.encoder.kind} encoder, not --encoder {args.encoder}")
    protocol = get_protocol(args.protocol)
    print(f"budget: {budget.describe(pretraining=encoder is None)}; fine-tuning protocol: {protocol.describe()}")
    classify_files(args.train, args.test, budget=budget, seed=args.seed, out=out, label_column=args.label_column,
                   length=args.length, lengths="pad" if args.pad else "resample", encoder=encoder,
                   encoder_cfg=enc_cfg, encoder_name=args.source, baselines=not args.no_baselines,
                   device=args.device, progress=not args.no_progress, protocol=protocol)


def predict_args(p):
    p.add_argument("--from", dest="source", required=True, metavar="CLASSIFIER.pt",
                   help="a classifier saved by `classify --train`")
    p.add_argument("--data", required=True, help="series to classify (.ts, .npz or .csv; labels optional)")
    p.add_argument("--out", default="predictions.csv", help="CSV: series, [label,] predicted, prob_<label>...")
    p.add_argument("--label-column", default=None,
                   help="CSV input: the label column's name, if it has one (default: the training file's)")


def predict(args):
    from simmtm.classification.own_data import predict_file

    predict_file(args.source, args.data, common.writable(args.out), label_column=args.label_column)


COMMANDS = {  # name: (help, arguments, action)
    "classify": ("classify your own files (--train [--test]) or run a benchmark study (--setting)", classify_args,
                 classify),
    "predict": ("predicted labels and class probabilities of new series from a saved classifier", predict_args,
                predict),
}
