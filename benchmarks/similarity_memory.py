"""Peak memory and time of SimMTM's similarity step, dense [R, R] vs chunked, at growing R.

The step is what the model computes after the projector: cosine similarities of R rows,
the constraint loss over all R rows, and the aggregation rebuilding the N = R / (M+1)
originals from all rows, forward and backward. Each (R, path) runs in a fresh process and
reports its peak RSS growth (Linux VmHWM). Dense runs are skipped when the memory they
would need, extrapolated as c * R^2 from the largest dense run done, exceeds ``--max-gb``.

    python benchmarks/similarity_memory.py                 # R = 4k .. 64k rows, P = 128, T*D = 64
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from peak_rss import peak_growth_mb, reset_peak  # benchmarks/peak_rss.py, beside this script


def measure(rows: int, path: str, views: int, proj_dim: int, width: int, chunk: int) -> None:
    """(In a fresh process.) Print {"mb": peak RSS growth, "s": seconds} of one forward + backward."""
    import torch

    from simmtm.losses import constraint_loss, constraint_loss_chunked
    from simmtm.similarity import aggregate, aggregate_chunked, cosine_similarity_matrix

    def step(s, z, n):
        if path == "dense":
            sim = cosine_similarity_matrix(s)  # [R, R]
            return constraint_loss(sim, n, 0.2) + aggregate(sim, z, 0.2, rows=n)[0].square().mean()
        return (constraint_loss_chunked(s, n, 0.2, chunk)
                + aggregate_chunked(s, z, 0.2, rows=n, chunk=chunk).square().mean())

    torch.manual_seed(0)
    small = views + 1  # warm-up on one series: lazy imports and kernels are not counted
    step(torch.randn(4 * small, proj_dim, requires_grad=True), torch.randn(4 * small, width), 4).backward()
    n = rows // (views + 1)
    s = torch.randn(rows, proj_dim, requires_grad=True)
    z = torch.randn(rows, width, requires_grad=True)
    base = reset_peak()
    t0 = time.perf_counter()
    step(s, z, n).backward()
    print(json.dumps({"mb": peak_growth_mb(base), "s": time.perf_counter() - t0}))


def run(rows: int, path: str, args) -> dict:
    cmd = [sys.executable, __file__, "--measure", str(rows), path, "--views", str(args.views), "--proj-dim",
           str(args.proj_dim), "--width", str(args.width), "--chunk", str(args.chunk)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        return {"mb": float("nan"), "s": float("nan"), "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, nargs="+", default=[4096, 8192, 16384, 32768, 65536])
    p.add_argument("--views", type=int, default=3)
    p.add_argument("--proj-dim", type=int, default=128)
    p.add_argument("--width", type=int, default=64, help="T*D of the point-wise representation")
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--max-gb", type=float, default=16.0, help="skip dense runs predicted to need more")
    p.add_argument("--measure", nargs=2, metavar=("ROWS", "PATH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        measure(int(args.measure[0]), args.measure[1], args.views, args.proj_dim, args.width, args.chunk)
        return
    print(f"similarity step, forward + backward: P = {args.proj_dim}, T*D = {args.width}, {args.views} views, "
          f"chunk {args.chunk} rows; peak = RSS growth of a fresh process")
    print(f"{'R rows':>8} {'dense MB':>10} {'dense s':>8} {'chunked MB':>11} {'chunked s':>10} {'memory ratio':>13}")
    per_row2 = None  # dense bytes per R^2, from the largest dense run done
    for rows in args.rows:
        dense = None
        predicted_gb = per_row2 * rows ** 2 / 1024 if per_row2 else 0.0
        if predicted_gb <= args.max_gb:
            dense = run(rows, "dense", args)
            if dense["mb"] == dense["mb"]:
                per_row2 = dense["mb"] / rows ** 2
        chunked = run(rows, "chunked", args)
        if dense is None:
            dense_cells = f"{'~%.0f GB' % predicted_gb:>10} {'skipped':>8}"
            ratio = f"~{predicted_gb * 1024 / chunked['mb']:.0f}x (pred.)"
        else:
            dense_cells = f"{dense['mb']:>10.0f} {dense['s']:>8.2f}"
            ratio = f"{dense['mb'] / chunked['mb']:.1f}x"
        print(f"{rows:>8} {dense_cells} {chunked['mb']:>11.0f} {chunked['s']:>10.2f} {ratio:>13}", flush=True)


if __name__ == "__main__":
    main()
