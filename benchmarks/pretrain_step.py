"""One SimMTM pre-training step (forward, backward, Adam): our fast path against the reference
path -- the official computation written plainly (:mod:`simmtm.reference`) -- in one process.

Presets: ETTm1 (batch 16, 3 views, L = 336, 7 channels, d_model 32, 2 layers, 8 heads: 448 token
sequences of 336 points) and Epilepsy (TF-C CNN, batch 32, L = 178). Paths:

- ``reference``: math attention with the official attention dropout (0.1) materialised, every
  row aggregated and decoded, masks from the official per-element loop on the host;
- ``reference-noattndrop``: the same with attention dropout 0 (our default), to separate the
  speed of the computation from that modelling choice;
- ``fast-fp32``, ``fast-bf16`` (CPU/CUDA autocast; attention stays fp32 on CPU, see
  :class:`simmtm.encoders.MultiHeadSelfAttention`), ``fast-compile`` (``--compile``, torch.compile);
- ``patch16-fp32``: patch tokens of 16 steps (our CPU option; a different model, so not a speedup
  of the same computation, shown for scale).

For the Transformer it also times the fused attention alone (forward + backward of every layer at
the step's shape): the floor of a point-token step on this machine, and so the largest speedup
any path computing that attention can reach.

For each: median step time (steps interleaved round-robin so that machine noise hits every path
alike), series per second, GFLOP per step (``torch.utils.flop_counter``; the CPU flash-attention
op is counted with PyTorch's SDPA formula), achieved GFLOP/s and its fraction of a plain large
matmul timed in the same process (fp32 and bf16), peak memory (peak RSS of a fresh process
running two steps of that path, minus its RSS before the first step; Linux), and the speedup over the
reference.

    python benchmarks/pretrain_step.py [--presets ETTm1 Epilepsy] [--steps 3] [--no-memory] [--compile]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from simmtm import build_simmtm, get_preset
from simmtm.training.engine import make_optimizer
from simmtm.reference import reference_forward
from peak_rss import peak_growth_mb, reset_peak  # benchmarks/peak_rss.py, beside this script

PATHS = ("reference", "reference-noattndrop", "fast-fp32", "fast-bf16", "fast-compile", "patch16-fp32")


def official_config(name: str):
    """The preset with the official attention dropout (= dropout) for the reference paths."""
    cfg = get_preset(name)
    if cfg.encoder.kind == "transformer":
        return replace(cfg, encoder=replace(cfg.encoder, attn_dropout=cfg.encoder.dropout))
    return cfg


class Path:
    """Model, optimizer and a step function for one path of one preset (weights seeded alike)."""

    def __init__(self, preset: str, path: str):
        cfg = official_config(preset) if path == "reference" else get_preset(preset)
        if path.startswith("patch"):
            cfg = replace(cfg, encoder=replace(cfg.encoder, patch_len=int(path[5:].split("-")[0])))
        torch.manual_seed(0)
        self.cfg, self.name = cfg, path
        self.model = build_simmtm(cfg)
        self.optimizer = make_optimizer(self.model, cfg.lr)
        self.x = torch.randn(cfg.batch_size, cfg.seq_len, cfg.n_channels)
        self.rng = np.random.default_rng(0)
        self.forward = torch.compile(self.model) if path == "fast-compile" else self.model
        self.amp = torch.bfloat16 if path == "fast-bf16" else None

    def loss(self) -> torch.Tensor:
        if self.name.startswith("reference"):
            return reference_forward(self.model, self.x, rng=self.rng).loss
        with torch.autocast("cpu", dtype=self.amp, enabled=self.amp is not None):
            return self.forward(self.x).loss

    def step(self) -> None:
        loss = self.loss()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


def count_flops(path: Path) -> float:
    """FLOPs of one forward + backward (no optimizer), counted by torch.utils.flop_counter."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

    aten = torch.ops.aten
    custom = {  # the CPU flash-attention ops are not in PyTorch's registry; same formula as CUDA's
        aten._scaled_dot_product_flash_attention_for_cpu:
            lambda q, k, v, *a, out_val=None, **kw: sdpa_flop_count(q, k, v),
        aten._scaled_dot_product_flash_attention_for_cpu_backward:
            lambda g, q, k, v, *a, out_val=None, **kw: sdpa_backward_flop_count(g, q, k, v),
    }
    counter = FlopCounterMode(display=False, custom_mapping=custom)
    with counter:
        path.loss().backward()
    path.optimizer.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def matmul_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def attention_seconds(cfg, steps: int) -> float:
    """Median time of the fused attention alone, forward + backward, summed over the layers,
    at the shape of one point-token step: [(M+1)*B*C sequences, heads, L, d_model / heads]."""
    enc = cfg.encoder
    shape = ((cfg.n_views + 1) * cfg.batch_size * cfg.n_channels, enc.n_heads, cfg.seq_len, enc.d_model // enc.n_heads)
    q, k, v = (torch.randn(shape, requires_grad=True) for _ in range(3))
    grad = torch.randn(shape)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        torch.nn.functional.scaled_dot_product_attention(q, k, v).backward(grad)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]) * enc.n_layers


def measure_memory(preset: str, path: str) -> None:
    """(In a fresh process.) Print the peak RSS growth in MB over two steps of ``path``."""
    p = Path(preset, path)
    base = reset_peak()
    p.step()
    p.step()
    print(json.dumps(peak_growth_mb(base)))


def peak_memory_mb(preset: str, path: str) -> float:
    """Peak RSS growth (MB) over two steps of ``path``, measured in a fresh process."""
    cmd = [sys.executable, __file__, "--measure-memory", preset, path]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_preset(preset: str, paths: list[str], steps: int, warmup: int, memory: bool, peaks: dict) -> None:
    if get_preset(preset).encoder.kind != "transformer":  # no attention, no patches: skip those paths
        paths = [p for p in paths if p != "reference-noattndrop" and not p.startswith("patch")]
    runs = {p: Path(preset, p) for p in paths}
    cfg = runs[paths[0]].cfg
    flops = {p: count_flops(r) for p, r in runs.items()}
    for r in runs.values():
        for _ in range(warmup):
            r.step()
    times = {p: [] for p in paths}
    for _ in range(steps):  # round-robin: machine noise hits every path alike
        for p, r in runs.items():
            t0 = time.perf_counter()
            r.step()
            times[p].append(time.perf_counter() - t0)
    enc = cfg.encoder
    shape = (f"batch {cfg.batch_size}, {cfg.n_views} views, L {cfg.seq_len}, {cfg.n_channels} ch, {enc.kind}"
             + (f" d{enc.d_model} x{enc.n_layers} layers, {enc.n_heads} heads" if enc.kind == "transformer" else ""))
    print(f"\n## {preset}: {shape}, {sum(p.numel() for p in runs[paths[0]].model.parameters()):,} parameters")
    print(f"{'path':<22}{'step s':>9}{'series/s':>10}{'GFLOP':>8}{'GFLOP/s':>9}{'%fp32 mm':>9}{'%bf16 mm':>9}"
          f"{'peak MB':>9}{'speedup':>9}")
    ref = statistics.median(times["reference"]) if "reference" in times else None
    for p in paths:
        t = statistics.median(times[p])
        rate = flops[p] / t / 1e9
        mem = peak_memory_mb(preset, p) if memory else float("nan")
        print(f"{p:<22}{t:>9.3f}{cfg.batch_size / t:>10.1f}{flops[p] / 1e9:>8.1f}{rate:>9.1f}"
              f"{100 * rate / peaks['fp32']:>8.0f}%{100 * rate / peaks['bf16']:>8.0f}%{mem:>9.0f}"
              f"{(ref / t if ref else float('nan')):>8.1f}x", flush=True)
    if cfg.encoder.kind == "transformer":
        floor = attention_seconds(cfg, steps)
        print(f"fused attention alone (fwd + bwd, {cfg.encoder.n_layers} layers): {floor:.3f} s = the floor of a "
              f"point-token step here; largest possible speedup over the reference: "
              f"{(ref / floor if ref else float('nan')):.1f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["ETTm1", "Epilepsy"])
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=[p for p in PATHS if p != "fast-compile"])
    parser.add_argument("--compile", action="store_true", help="add the torch.compile path (slow to compile)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--measure-memory", nargs=2, metavar=("PRESET", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_memory:
        measure_memory(*args.measure_memory)
        return
    paths = list(dict.fromkeys(args.paths + (["fast-compile"] if args.compile else [])))
    peaks = {"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; 2048^3 matmul: {peaks['fp32']:.0f} GFLOP/s fp32, "
          f"{peaks['bf16']:.0f} GFLOP/s bf16")
    print(f"median of {args.steps} interleaved steps after {args.warmup} warm-up; GFLOP = forward + backward of "
          f"the path's own computation; speedup = reference step time / path step time")
    for preset in args.presets:
        run_preset(preset, paths, args.steps, args.warmup, not args.no_memory, peaks)


if __name__ == "__main__":
    main()
