"""Housekeeping commands: the offline ``demo``, ``presets``, ``download``, ``convert`` (a corpus
on disk), ``checkpoints`` (the shipped encoders) and ``ship`` (add one)."""
from __future__ import annotations

from pathlib import Path

from simmtm.cli import common


def demo_args(p):
    p.add_argument("--out", default="results/demo", help="folder for the plot and checkpoint")
    p.add_argument("--device", type=common.device, default="auto", help="auto, cpu or cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pretrain-epochs", type=common.positive, default=2)
    p.add_argument("--finetune-epochs", type=common.positive, default=3)
    p.add_argument("--labelled", type=common.fraction, default=0.02,
                   help="share of the training windows of the few-labels fine-tuning (default 0.02)")
    p.add_argument("--labelled-epochs", type=common.positive, default=10, help="its epochs (default 10)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def demo(args):
    from simmtm.experiments.demo import run_demo

    run_demo(common.writable(args.out, folder=True), pretrain_epochs=args.pretrain_epochs, finetune_epochs=args.finetune_epochs,
             labelled=args.labelled, labelled_epochs=args.labelled_epochs, seed=args.seed, device=args.device, progress=not args.no_progress)


def presets_args(p):
    pass


def presets(args):
    from simmtm.config import PRESETS

    for name, cfg in PRESETS.items():
        print(f"{name:<16} L={cfg.seq_len:<4} C={cfg.n_channels:<3} encoder={cfg.encoder.kind:<12} "
              f"patch={getattr(cfg.encoder, 'patch_len', '-'):<3} views={cfg.n_views} lr={cfg.lr:g} "
              f"batch={cfg.batch_size} epochs={cfg.epochs}")


def download_args(p):
    p.add_argument("names", nargs="+", help="dataset names (ETTh1, ETTh2, ETTm1, Weather, SleepEEG, Epilepsy, Gesture)")
    p.add_argument("--root", default="data")
    p.add_argument("--force", action="store_true")


def download(args):
    from simmtm.data.download import download

    for name in args.names:
        for path in download(name, args.root, force=args.force):
            print(f"{name}: {path} (sha256 verified)")


def convert_args(p):
    p.add_argument("source", help="a .csv (date column + value columns) or a TF-C .pt split")
    p.add_argument("out", help="output folder (values.npy, labels.npy, meta.json)")


def convert(args):
    from simmtm.data.memmap import convert, read_meta

    folder = convert(args.source, common.writable(args.out, folder=True))
    print(f"{folder}: {read_meta(folder)}")


def checkpoints_args(p):
    pass


def checkpoints(args):
    from simmtm.training.pretrained import describe, shipped

    names = shipped()
    if not names:
        print("no shipped encoders found")
    for name in names:
        d = describe(name)
        print(f"{name:<20} {d['what']:<20} {d['bytes'] / 1e6:5.2f} MB  sha256 {d['sha256'][:12]}  {d.get('data', '')}")


def ship_args(p):
    p.add_argument("source", help="a SimMTM pre-training checkpoint")
    p.add_argument("name", help="the shipped name (checkpoints/<name>.pt and its card <name>.md)")
    p.add_argument("--data", required=True, help="what it was pre-trained on, and the split")
    p.add_argument("--made-by", required=True, help="the command that made SOURCE")
    p.add_argument("--budget", required=True, help="epochs, windows, batch")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--wall-time", required=True, help="how long pre-training took, and where")
    p.add_argument("--results", default="", help="a markdown file with what fine-tuning from it gives")
    p.add_argument("--folder", default=None, help="default: the repository's checkpoints/")


def ship(args):
    from simmtm.training.pretrained import ship

    results = Path(args.results).read_text() if args.results else ""
    path = ship(args.source, args.name, data=args.data, command=args.made_by, budget=args.budget, seed=args.seed,
                wall_time=args.wall_time, results=results, folder=args.folder)
    print(f"{path} and {path.with_suffix('.md')}")


COMMANDS = {  # name: (help, arguments, action)
    "demo": ("offline demo: pre-train, then fine-tune on all and on 2 %% of the windows (about 2 min on a 2-core CPU)",
             demo_args, demo),
    "presets": ("list the named configuration presets", presets_args, presets),
    "download": ("fetch benchmark files into data/ with checksums", download_args, download),
    "convert": ("convert a CSV series or a TF-C .pt split to a memory-mapped corpus folder", convert_args, convert),
    "checkpoints": ("list the shipped pre-trained encoders and the general forecaster", checkpoints_args, checkpoints),
    "ship": ("write a pre-training checkpoint's encoder and its model card into checkpoints/", ship_args, ship),
}
