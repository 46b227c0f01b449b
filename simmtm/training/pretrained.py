"""Pre-trained encoders shipped in the repository's ``checkpoints/`` folder, loadable by name.

A shipped encoder is ``checkpoints/<name>.pt`` (encoder weights only, no projector or decoder:
the official flatten projector alone has 58.5M weights and fine-tuning does not use it) with
its model card ``checkpoints/<name>.md`` beside it. Both are made by :func:`ship` from a
pre-training checkpoint; the card states the data, every hyper-parameter, the budget, seed,
wall time, the command and the file's sha256. Files load with ``weights_only=True``.

    encoder, cfg = load_pretrained("sleepeeg-cnn")     # or: python -m simmtm finetune --from NAME
"""
from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from simmtm.utils.atomic import atomic_torch_save, atomic_write_text
from simmtm.training.checkpoint import FORMAT_VERSION, load_pretrained_encoder, read_checkpoint
from simmtm.config import SimMTMConfig

ENCODER_KIND = "encoder"


def checkpoints_dir() -> Path:
    """Where shipped encoders live: ``$SIMMTM_CHECKPOINTS``, else the repository's ``checkpoints/``."""
    env = os.environ.get("SIMMTM_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "checkpoints"


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def shipped() -> dict[str, Path]:
    """``{name: path}`` of every shipped encoder (a ``<name>.pt`` with its ``<name>.md`` card)."""
    folder = checkpoints_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.pt")) if p.with_suffix(".md").is_file()}


def resolve(name_or_path: str | Path) -> Path:
    """The file of a shipped encoder's name, or ``name_or_path`` itself when it is a file."""
    path = Path(name_or_path)
    if path.exists() or path.suffix == ".pt" or len(path.parts) > 1:
        return path  # a path: its own errors (missing, corrupt) come from the loader
    names = shipped()
    if str(name_or_path) not in names:
        raise ValueError(f"no shipped encoder named {str(name_or_path)!r}; shipped: {', '.join(names) or 'none'} "
                         "(python -m simmtm checkpoints), or pass a checkpoint path")
    return names[str(name_or_path)]


def load_pretrained(name_or_path: str | Path) -> tuple[nn.Module, SimMTMConfig]:
    """A shipped encoder by name (or any SimMTM / encoder checkpoint by path): ``(encoder, config)``."""
    return load_pretrained_encoder(resolve(name_or_path))


def describe(name: str) -> dict[str, Any]:
    """What a shipped file says about itself (its ``extra`` entries) plus size and sha256;
    ``what`` is ``<encoder kind> encoder`` or ``forecaster`` (the general forecaster)."""
    path = resolve(name)
    ckpt = read_checkpoint(path, kind=(ENCODER_KIND, "forecaster"))
    what = "forecaster" if ckpt["kind"] == "forecaster" else f"{ckpt['config']['encoder']['kind']} encoder"
    return {"name": name, "path": str(path), "bytes": path.stat().st_size, "sha256": sha256(path),
            "encoder": ckpt["config"]["encoder"]["kind"], "what": what, **ckpt["extra"]}


def ship_forecaster(source: str | Path, name: str, card: str, *, folder: str | Path | None = None,
                    **extra: Any) -> Path:
    """Write ``<folder>/<name>.pt``, the forecaster of checkpoint ``source`` without its optimizer
    state (plus ``extra`` entries), and its model card ``<name>.md``: ``card`` (markdown) followed
    by the file's size and sha256."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"a shipped name is letters, digits, '-' and '_' only, got {name!r}")
    ckpt = read_checkpoint(source, kind="forecaster")
    folder = Path(folder) if folder is not None else checkpoints_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.pt"
    atomic_torch_save({**ckpt, "optimizer": None, "extra": {**ckpt["extra"], **extra}}, path)
    n_weights = sum(t.numel() for t in ckpt["model"].values())
    atomic_write_text(path.with_suffix(".md"), card.rstrip() + "\n\n" + f"- file: `{path.name}`, {n_weights:,} weights, "
                      f"{path.stat().st_size / 1e6:.2f} MB; loads with `weights_only=True`\n"
                      f"- sha256: `{sha256(path)}`\n")
    return path


def ship(source: str | Path, name: str, *, data: str, command: str, budget: str, seed: int, wall_time: str,
         results: str = "", folder: str | Path | None = None) -> Path:
    """Write ``<folder>/<name>.pt`` (the encoder of the pre-training checkpoint ``source``) and its
    model card ``<name>.md``. ``data`` says what it was pre-trained on (and the split),
    ``command`` what made ``source`` (with ``budget``, ``seed`` and ``wall_time``), ``results``
    what fine-tuning from it gives (markdown)."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"a shipped name is letters, digits, '-' and '_' only, got {name!r}")
    ckpt = read_checkpoint(source, kind="simmtm")
    prefix = "encoder."
    state = {k[len(prefix):]: v.detach().clone() for k, v in ckpt["model"].items() if k.startswith(prefix)}
    if not state:
        raise ValueError(f"{source} has no encoder weights")
    history = ckpt.get("metrics") or {}
    extra = {"data": data, "command": command, "budget": budget, "seed": int(seed), "wall_time": wall_time,
             "machine": f"{platform.machine()} {os.cpu_count()} cores", "source_epoch": ckpt.get("epoch"),
             "source_metrics": {k: float(v) for k, v in history.items() if isinstance(v, (int, float)) and k != "epoch"},
             **{k: v for k, v in ckpt["extra"].items() if isinstance(v, (str, int, float, bool))}}
    folder = Path(folder) if folder is not None else checkpoints_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.pt"
    atomic_torch_save({"format_version": FORMAT_VERSION, "kind": ENCODER_KIND, "config": ckpt["config"],
                       "model": state, "optimizer": None, "epoch": ckpt.get("epoch"), "metrics": {}, "extra": extra},
                      path)
    write_card(path, results=results)
    return path


def write_card(path: str | Path, *, results: str = "", machine: str | None = None) -> Path:
    """(Re)write the model card beside a shipped file from what the file says about itself."""
    path = Path(path)
    ckpt = read_checkpoint(path, kind=ENCODER_KIND)
    cfg, extra = ckpt["config"], ckpt["extra"]
    n_weights = sum(t.numel() for t in ckpt["model"].values())
    enc = ", ".join(f"{k}={v}" for k, v in cfg["encoder"].items())
    top = ", ".join(f"{k}={v}" for k, v in cfg.items() if k not in ("encoder", "epochs"))
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in extra.get("source_metrics", {}).items() if k != "epoch")
    lines = [f"# {path.stem}", "",
             f"SimMTM-pre-trained **{cfg['encoder']['kind']} encoder** (encoder weights only: {n_weights:,} weights, "
             f"{path.stat().st_size / 1e6:.2f} MB). Load it with `simmtm.load_pretrained(\"{path.stem}\")` or "
             f"`--from {path.stem}`.", "",
             f"- sha256: `{sha256(path)}`",
             f"- data: {extra.get('data', '?')}",
             f"- encoder: {enc}",
             f"- pre-training config (the epochs run are in the budget): {top}",
             f"- budget: {extra.get('budget', '?')}; seed {extra.get('seed', '?')}; wall time {extra.get('wall_time', '?')}",
             f"- epoch kept (lowest validation loss): {ckpt.get('epoch')}" + (f"; its metrics: {metrics}" if metrics else ""),
             f"- command: `{extra.get('command', '?')}`",
             f"- machine: {machine or extra.get('machine', '?')}, torch {torch.__version__}", ""]
    if results:
        lines += ["## Fine-tuning from this file", "", results.strip(), ""]
    card = path.with_suffix(".md")
    atomic_write_text(card, "\n".join(lines))
    return card
