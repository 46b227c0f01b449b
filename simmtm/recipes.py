"""Which preset and fine-tuning budget a forecasting run gets when the command line does not say.

On a CPU the default is this project's CPU recipe (the ``<name>-cpu`` presets: patch tokens of 16
steps) with its budget (:data:`simmtm.experiments.forecasting.BUDGETS` ``["cpu"]``); on a GPU it is
the paper's point-token preset and budget. A CSV of the user's gets the ETTm1 model (the one the
CPU recipe was tuned on, results/forecasting_sweep_ETTm1.md).
"""
from __future__ import annotations

from simmtm.config import PRESETS, SimMTMConfig
from simmtm.device import resolve_device

DEFAULT_BASE = "ETTm1"


def default_preset(data: str | None, device: str = "auto") -> tuple[str, str]:
    """``(preset name, one-line reason)`` for a run on ``data`` (a dataset name or a CSV path)
    with no ``--preset``: ``<base>-cpu`` on a CPU, ``<base>`` on a GPU, where ``base`` is the
    dataset's own preset when there is one, else ETTm1."""
    base = data if data is not None and f"{data}-cpu" in PRESETS else DEFAULT_BASE
    kind = resolve_device(device).type
    if kind == "cpu":
        return f"{base}-cpu", (f"preset {base}-cpu: the CPU recipe (no --preset given and the device is a CPU; "
                               f"a GPU gets the paper's {base}; --preset {base} forces it)")
    return base, f"preset {base}: the paper's (no --preset given, device {kind}; --preset {base}-cpu for the CPU recipe)"


def budget_name(preset: str | None, device: str = "auto") -> str:
    """The study budget that goes with a preset: ``cpu`` for the CPU recipe (``*-cpu``) and the
    test preset ``tiny``, ``paper`` for the paper's presets; with no preset, by device."""
    if preset is None:
        return "cpu" if resolve_device(device).type == "cpu" else "paper"
    return "cpu" if preset.endswith("-cpu") or preset == "tiny" else "paper"


def describe_model(cfg: SimMTMConfig) -> str:
    """A short summary of what decides a forecaster's shape: ``L=336 d_model=32 layers=2 patch=16``."""
    enc = cfg.encoder
    parts = [f"L={cfg.seq_len}"] + [f"{k}={getattr(enc, k)}" for k in ("d_model", "n_heads", "n_layers", "d_ff", "patch_len")
                                   if hasattr(enc, k)]
    return " ".join(parts)


def model_differences(a: SimMTMConfig, b: SimMTMConfig) -> list[str]:
    """The encoder settings (and seq_len) on which two configs disagree, as ``name a->b``."""
    diffs = [f"seq_len {a.seq_len}->{b.seq_len}"] if a.seq_len != b.seq_len else []
    if a.encoder.kind != b.encoder.kind:
        return diffs + [f"encoder {a.encoder.kind}->{b.encoder.kind}"]
    for name in vars(a.encoder):
        if name != "kind" and getattr(a.encoder, name) != getattr(b.encoder, name):
            diffs.append(f"{name} {getattr(a.encoder, name)}->{getattr(b.encoder, name)}")
    return diffs
