"""Pre-training step time and peak memory as batch, views, length and channels grow, one at a time
from a base configuration (channel-independent Transformer, d_model 32, 2 layers, 8 heads).

Each configuration runs in a fresh process: one warm-up step, then the median of ``--steps``
timed steps (forward, backward, Adam) and the peak RSS growth over them. Rows R = (M+1)*B*C of
the similarity matrix are printed alongside, since the similarity costs O(R^2).

    python benchmarks/scaling_sweep.py
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from peak_rss import peak_growth_mb, reset_peak  # benchmarks/peak_rss.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
BASE = {"batch": 16, "views": 3, "length": 96, "channels": 7}
SWEEP = {"batch": [8, 16, 32, 64], "views": [1, 2, 3, 4], "length": [48, 96, 192, 336], "channels": [1, 7, 21, 42]}


def measure(conf: dict, steps: int, chunk: int | None) -> None:
    """(In a fresh process.) Print {"s": median step seconds, "mb": peak RSS growth}."""
    sys.path.insert(0, str(ROOT))
    import torch

    from simmtm import SimMTMConfig, TransformerConfig, build_simmtm
    from simmtm.training.engine import make_optimizer

    torch.manual_seed(0)
    cfg = SimMTMConfig(seq_len=conf["length"], n_channels=conf["channels"], n_views=conf["views"],
                       batch_size=conf["batch"], encoder=TransformerConfig(32, 8, 2, 64, 0.1), projector="pooled",
                       similarity_chunk=chunk)
    model = build_simmtm(cfg)
    opt = make_optimizer(model, 1e-3)
    x = torch.randn(conf["batch"], conf["length"], conf["channels"])

    def step():
        loss = model(x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    base = reset_peak()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"s": statistics.median(times), "mb": peak_growth_mb(base)}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--chunk", type=int, default=None, help="similarity_chunk (default: dense)")
    p.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        measure(json.loads(args.measure), args.steps, args.chunk)
        return
    print(f"base {BASE}, pooled projector, d_model 32 x 2 layers, {args.steps} timed steps per row, "
          f"similarity {'chunked ' + str(args.chunk) if args.chunk else 'dense'}")
    print(f"{'varied':>9} {'value':>6} {'R rows':>7} {'step s':>8} {'peak MB':>8}")
    for key, values in SWEEP.items():
        for value in values:
            conf = {**BASE, key: value}
            cmd = [sys.executable, __file__, "--measure", json.dumps(conf), "--steps", str(args.steps)]
            cmd += ["--chunk", str(args.chunk)] if args.chunk else []
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows = (conf["views"] + 1) * conf["batch"] * conf["channels"]
            print(f"{key:>9} {value:>6} {rows:>7} {r['s']:>8.3f} {r['mb']:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
