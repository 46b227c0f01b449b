"""Mask generation speed at the ETTm1 pre-training batch shape (16 series x 3 views x 336 x 7).

Compares, in one process, our vectorized per-series masks with the official formulation (one
Python loop over every element of the flattened batch, ``geom_noise_mask_single``).

    python benchmarks/masking.py [--repeats 200] [--device cpu]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from simmtm.masking import make_masks
from simmtm.reference import official_loop_mask


def median_ms(fn, repeats: int, sync=lambda: None) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--reference-repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    B, M, L, C = 16, 3, 336, 7
    x = torch.randn(B, L, C, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    for _ in range(10):  # warm-up
        make_masks(x, M, generator=g)
    ours = median_ms(lambda: make_masks(x, M, generator=g), args.repeats, sync)
    ref = median_ms(lambda: official_loop_mask((B * M, C, L)), args.reference_repeats)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    print(f"batch {B} x {M} views x L={L} x C={C} = {B * M * L * C:,} mask elements")
    print(f"{'official per-element loop':<28}{ref:>10.2f} ms  (median of {args.reference_repeats})")
    print(f"{'simmtm make_masks':<28}{ours:>10.3f} ms  (median of {args.repeats})")
    print(f"speedup: {ref / ours:.0f}x")


if __name__ == "__main__":
    main()
