"""1 vs N processes (torchrun, gloo on the CPU) on the same pre-training job: throughput and
whether the loss curves agree.

Every run sees the same data and the same GLOBAL batch (``--global-batch``, split evenly across
processes), with global similarity so that N processes learn what one process learns; the
machine's cores are shared evenly (``torch.set_num_threads(cores // N)``).

    python benchmarks/ddp_throughput.py --procs 1 2 --epochs 3
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(args) -> None:
    """(Under torchrun.) One pre-training run; process 0 prints a JSON line with the history."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    sys.path.insert(0, str(ROOT))
    from simmtm import get_preset
    from simmtm.data import synthetic_multivariate
    from simmtm.data.windows import SlidingWindows
    from simmtm.training.pretraining import run_pretraining

    series = synthetic_multivariate(args.steps, 7, seed=0)
    series = (series - series[:int(0.8 * len(series))].mean(0)) / series[:int(0.8 * len(series))].std(0)
    cut = int(0.8 * len(series))
    cfg = get_preset("tiny", seq_len=args.seq_len, n_channels=7, batch_size=args.global_batch // world,
                     global_similarity=True)
    t0 = time.perf_counter()
    _, fit = run_pretraining(cfg, SlidingWindows(series[:cut], args.seq_len), SlidingWindows(series[cut:], args.seq_len),
                             epochs=args.epochs, device="cpu", seed=0, progress=False, log=lambda *_: None)
    if int(os.environ.get("RANK", "0")) == 0:
        print("RESULT " + json.dumps({"procs": world, "seconds": time.perf_counter() - t0, "history": fit["history"],
                                      "windows": cut - args.seq_len + 1}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--global-batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=96)
    p.add_argument("--steps", type=int, default=6000, help="length of the synthetic series")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    torchrun = Path(sys.executable).with_name("torchrun")
    results = []
    for n in args.procs:
        cmd = [str(torchrun), "--standalone", f"--nproc_per_node={n}", __file__, "--worker", "--epochs", str(args.epochs),
               "--global-batch", str(args.global_batch), "--seq-len", str(args.seq_len), "--steps", str(args.steps)]
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{n} process(es) failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
        results.append(json.loads(line[len("RESULT "):]))
    print(f"tiny preset (d16, 2 layers, 2 views), L = {args.seq_len}, 7 channels, global batch {args.global_batch}, "
          f"global similarity, {args.epochs} epochs, gloo on {os.cpu_count()} CPU cores")
    print(f"{'procs':>5} {'seconds':>8} {'windows/s':>10}  train loss per epoch  /  val loss per epoch")
    for r in results:
        h = r["history"]
        rate = r["windows"] * len(h) / r["seconds"]
        print(f"{r['procs']:>5} {r['seconds']:>8.1f} {rate:>10.1f}  "
              + " ".join(f"{row['train_loss']:.4f}" for row in h) + "  /  " + " ".join(f"{row['val_loss']:.4f}" for row in h))


if __name__ == "__main__":
    main()
