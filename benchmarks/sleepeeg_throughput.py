"""SimMTM pre-training throughput on SleepEEG_subset (the cross-domain pre-training set):
windows per second and the implied time per epoch, for the CNN and the ResNet encoder.

    python benchmarks/sleepeeg_throughput.py [--root ../shared/data] [--steps 30]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from simmtm import build_simmtm, get_preset
from simmtm.experiments.classification import standardize
from simmtm.data.classification import load_tfc_split
from simmtm.training.engine import make_optimizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/data")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    x, _ = load_tfc_split(Path(args.root) / "SleepEEG_subset", "train", length=178)
    (x,) = standardize(x, x)
    n = len(x)
    print(f"SleepEEG_subset train: {n:,} windows of 178 points; torch {torch.__version__}, {torch.get_num_threads()} threads")
    for preset in ("SleepEEG", "Epilepsy-ResNet"):
        cfg = get_preset(preset)
        torch.manual_seed(0)
        model = build_simmtm(cfg)
        opt = make_optimizer(model, cfg.lr)
        batches = torch.as_tensor(x[: cfg.batch_size * (args.steps + args.warmup)]).split(cfg.batch_size)
        for i, xb in enumerate(batches):
            if i == args.warmup:
                t0 = time.perf_counter()
            out = model(xb)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        rate = args.steps * cfg.batch_size / seconds
        print(f"{cfg.encoder.kind:<8} batch {cfg.batch_size} x {cfg.n_views + 1} rows: {rate:,.0f} windows/s, "
              f"{seconds / args.steps * 1e3:.0f} ms/step, one epoch over {n:,} windows = {n / rate / 60:.1f} min")


if __name__ == "__main__":
    main()
