"""One SimMTM pre-training step (forward, backward, optimizer) at the ETTm1 preset: batch 16,
3 views, L = 336, 7 channels, d_model 32, 2 layers, 8 heads.

Configurations: point tokens (official) and patch tokens (16 steps), fp32 and bf16 autocast,
plus the official attention (dropout on the attention weights, which rules out the fused
kernel) as the in-run baseline. Each configuration runs in its own process so that its peak
memory (max RSS) is its own.

    python benchmarks/pretrain_step.py [--steps 3] [--only point-fp32 ...]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

CONFIGS = {  # name: (patch_len, amp, attn_dropout)
    "official-attention": (1, "none", 0.1),
    "point-fp32": (1, "none", 0.0),
    "point-bf16": (1, "bf16", 0.0),
    "patch16-fp32": (16, "none", 0.0),
    "patch16-bf16": (16, "bf16", 0.0),
}


def worker(patch_len: int, amp: str, attn_dropout: float, steps: int, warmup: int) -> dict:
    from dataclasses import replace

    import torch

    from simmtm import build_simmtm, get_preset
    from simmtm.engine import make_optimizer

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cfg = get_preset("ETTm1")
    cfg = replace(cfg, encoder=replace(cfg.encoder, patch_len=patch_len, attn_dropout=attn_dropout))
    torch.manual_seed(0)
    model = build_simmtm(cfg)
    optimizer = make_optimizer(model, cfg.lr)
    x = torch.randn(cfg.batch_size, cfg.seq_len, cfg.n_channels)
    dtype = {"none": None, "bf16": torch.bfloat16}[amp]
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            out = model(x)
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"step_s": statistics.median(times), "peak_rss_mb": peak / 1024, "model_mb": (peak - base_rss) / 1024,
            "params": sum(p.numel() for p in model.parameters()), "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--worker", nargs=3, metavar=("PATCH", "AMP", "ATTN_DROPOUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        p, amp, drop = args.worker
        print(json.dumps(worker(int(p), amp, float(drop), args.steps, args.warmup)))
        return
    results = {}
    for name in args.only:
        p, amp, drop = CONFIGS[name]
        cmd = [sys.executable, __file__, "--worker", str(p), amp, str(drop), "--steps", str(args.steps),
               "--warmup", str(args.warmup)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        results[name] = json.loads(out)
        r = results[name]
        print(f"{name:<20} {r['step_s']:>8.3f} s/step  peak RSS {r['peak_rss_mb']:>7.0f} MB  params {r['params']:>11,}",
              flush=True)
    base = results.get("official-attention")
    if base:
        print("\nspeedup over the official attention path (same machine, same run):")
        for name, r in results.items():
            print(f"  {name:<20} {base['step_s'] / r['step_s']:>6.1f}x")
    print("(the official thuml/SimMTM code measured ~32 s a step on this kind of 2-core CPU; see DESIGN.md)")


if __name__ == "__main__":
    main()
