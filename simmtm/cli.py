"""Command line: ``python -m simmtm <command>``."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simmtm", description="SimMTM masked time-series pre-training")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="offline demo: pre-train + fine-tune on synthetic data (~1 min on CPU)")
    demo.add_argument("--out", default="results/demo", help="folder for the plot and checkpoint")
    demo.add_argument("--device", default="auto", help="auto, cpu or cuda")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--pretrain-epochs", type=int, default=2)
    demo.add_argument("--finetune-epochs", type=int, default=3)
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    sub.add_parser("presets", help="list the named configuration presets")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from simmtm.demo import run_demo

        run_demo(args.out, pretrain_epochs=args.pretrain_epochs, finetune_epochs=args.finetune_epochs,
                 seed=args.seed, device=args.device, progress=not args.no_progress)
    elif args.command == "presets":
        from simmtm.config import PRESETS

        for name, cfg in PRESETS.items():
            print(f"{name:<16} L={cfg.seq_len:<4} C={cfg.n_channels:<3} encoder={cfg.encoder.kind:<12} "
                  f"views={cfg.n_views} lr={cfg.lr:g} batch={cfg.batch_size} epochs={cfg.epochs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
