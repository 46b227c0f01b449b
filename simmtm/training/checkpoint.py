"""Self-describing checkpoints: weights, the config as a dict, optimizer state, epoch and
metrics, so that a loader rebuilds the model from the file alone.

A checkpoint holds tensors and plain values only and is read with ``weights_only=True``
(:mod:`simmtm.utils.serialization`): loading one never runs code from it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from simmtm.utils.atomic import atomic_torch_save
from simmtm.build import build_encoder, build_pretrainer
from simmtm.config import SimMTMConfig
from simmtm.utils.serialization import load_pt

FORMAT_VERSION = 1


def save_checkpoint(path: str | Path, model: nn.Module, config: SimMTMConfig, *,
                    optimizer: torch.optim.Optimizer | None = None, epoch: int | None = None,
                    metrics: dict[str, Any] | None = None, kind: str = "simmtm", **extra: Any) -> Path:
    """Write a checkpoint atomically (:mod:`simmtm.utils.atomic`: a kill or a full disk mid-write keeps
    the old one). Weights that are not all finite are refused (ValueError), so a diverged run
    never replaces a good checkpoint.

    ``kind`` says what the weights are (``simmtm`` for a pre-training model, ``forecaster``
    or ``classifier`` for fine-tuned ones); ``extra`` holds task arguments such as the horizon.
    """
    path = Path(path)
    state = model.state_dict()
    bad = [name for name, t in state.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise ValueError(f"refused to write {path}: weights {bad[0]!r}{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''} "
                         "are not finite (the run diverged)")
    payload = {
        "format_version": FORMAT_VERSION, "kind": kind, "config": config.to_dict(),
        "model": state, "optimizer": optimizer.state_dict() if optimizer else None,
        "epoch": epoch, "metrics": metrics or {}, "extra": extra,
    }
    return atomic_torch_save(payload, path)


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", *,
                    kind: str | tuple[str, ...] | None = None) -> dict[str, Any]:
    """Load a checkpoint dict safely, with one clear error if the file is missing, corrupt, not
    ours, of another format version or (with ``kind``) of another kind."""
    path = Path(path)
    ckpt = load_pt(path, what="simmtm checkpoint", map_location=map_location)
    if not isinstance(ckpt, dict) or "config" not in ckpt or "model" not in ckpt:
        raise ValueError(f"corrupt or not a simmtm checkpoint: {path} (no 'config'/'model' entries)")
    version = ckpt.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path} is a checkpoint of format version {version}; this simmtm reads version "
                         f"{FORMAT_VERSION}")
    kinds = (kind,) if isinstance(kind, str) else kind
    if kinds is not None and ckpt.get("kind") not in kinds:
        raise ValueError(f"{path} holds a {ckpt.get('kind')!r} model; this needs a {' or '.join(map(repr, kinds))} checkpoint")
    return ckpt


def checkpoint_config(ckpt: dict[str, Any], path: str | Path) -> SimMTMConfig:
    """The config a checkpoint read from ``path`` holds, validated; a bad one is a ValueError
    naming the file (an unknown field, a negative size, ...)."""
    try:
        return SimMTMConfig.from_dict(ckpt["config"])
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise ValueError(f"{path}: invalid config ({' '.join(str(err).split())})") from None


def load_weights(module: nn.Module, state: dict[str, Any], path: str | Path) -> None:
    """``module.load_state_dict(state)`` (strict), with a mismatch as a one-line ValueError naming
    ``path`` instead of torch's list of every differing tensor."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(err).__name__)
        raise ValueError(f"{path}: its weights do not match its config ({detail.rstrip('.')}"
                         f"{'; ...' if len(lines) > 2 else ''})") from None


def load_simmtm(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, SimMTMConfig, dict]:
    """Rebuild a pre-training model (SimMTM or the baseline its config's ``method`` names) from
    its checkpoint: ``(model, config, checkpoint)``."""
    ckpt = read_checkpoint(path, map_location, kind="simmtm")
    cfg = checkpoint_config(ckpt, path)
    model = build_pretrainer(cfg)
    load_weights(model, ckpt["model"], path)
    return model, cfg, ckpt


def load_pretrained_encoder(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, SimMTMConfig]:
    """The encoder of a SimMTM checkpoint (projector, decoder and loss weights dropped) or of an
    encoder-only file (:mod:`simmtm.training.pretrained`), ready to be fine-tuned: ``(encoder, config)``.
    A forecaster is refused (fine-tune from the pre-training it came from; the general forecaster has
    its own path, :func:`simmtm.forecasting.general.finetune_general`)."""
    ckpt = read_checkpoint(path, map_location, kind=("simmtm", "encoder"))
    cfg = checkpoint_config(ckpt, path)
    encoder = build_encoder(cfg)
    prefix = "encoder." if ckpt["kind"] == "simmtm" else ""
    state = {k[len(prefix):]: v for k, v in ckpt["model"].items() if k.startswith(prefix)}
    if not state:
        raise ValueError(f"{path} has no encoder weights")
    load_weights(encoder, state, path)  # strict: every encoder weight must be there
    return encoder, cfg
