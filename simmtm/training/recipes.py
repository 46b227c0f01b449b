"""Run settings beside the model config: what a run spends (the forecasting :class:`StudyBudget`
and its named :data:`BUDGETS`, the own-data :class:`ClassifyBudget`), and which preset and
budget a forecasting run gets when the command line does not say.

On a CPU the default is this project's CPU recipe (the ``<name>-cpu`` presets: patch tokens of 16
steps) with its budget (:data:`BUDGETS` ``["cpu"]``); on a GPU it is
the paper's point-token preset and budget. A CSV of the user's gets the ETTm1 model (the one the
CPU recipe was tuned on, results/forecasting/forecasting_sweep_ETTm1.md).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from simmtm.config import PRESETS, SimMTMConfig, TransformerConfig
from simmtm.utils.checks import check_int, check_real
from simmtm.utils.device import resolve_device

DEFAULT_BASE = "ETTm1"


@dataclass(frozen=True)
class StudyBudget:
    """What a study spends: pre-training epochs and windows (evenly spaced; None = all), the
    fine-tuning schedule (Adam at ``lr``, early stopping on validation MSE after ``patience``
    stale epochs), whether one pre-training serves every seed, and ``train_fraction``: the share of
    the fine-tuning windows that train (a nested subset; validation keeps them all), for label
    scarcity."""

    pretrain_epochs: int = 50
    pretrain_windows: int | None = None
    finetune_epochs: int = 10
    lr: float = 1e-4
    batch_size: int = 32
    patience: int = 3
    head_dropout: float = 0.0
    finetune_windows: int | None = None
    pretrain_once: bool = False
    train_fraction: float = 1.0

    def __post_init__(self):
        for name in ("pretrain_epochs", "finetune_epochs", "batch_size", "patience"):
            check_int(name, getattr(self, name))
        for name in ("pretrain_windows", "finetune_windows"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name))
        check_real("lr", self.lr, low=0, low_open=True, high=None)
        check_real("head_dropout", self.head_dropout, low=0, high=1)
        check_real("train_fraction", self.train_fraction, low=0, low_open=True, high=1, high_open=False)

    def settings(self) -> dict[str, Any]:
        """The budget as a study records it (``train_fraction`` only when it is not 1, so run
        folders made before it existed resume)."""
        out = asdict(self)
        if self.train_fraction == 1.0:
            del out["train_fraction"]
        return out


BUDGETS: dict[str, StudyBudget] = {
    # The official scripts: 50 pre-training epochs on every window, fine-tuning lr 1e-4, batch 32.
    "paper": StudyBudget(pretrain_epochs=50),
    # This project's CPU recipe: pre-training on 8,192 evenly spaced windows, fine-tuning at lr 5e-4 (the
    # sweep in results/forecasting_sweep_ETTm1.md, on validation MSE) on 8,192 evenly spaced windows.
    "cpu": StudyBudget(pretrain_epochs=10, pretrain_windows=8192, finetune_epochs=10, lr=5e-4, patience=3,
                       finetune_windows=8192),
}


def apply_overrides(cfg: SimMTMConfig, budget: StudyBudget, overrides: dict[str, Any]
                    ) -> tuple[SimMTMConfig, StudyBudget]:
    """Set each ``name=value`` on the Transformer config, the SimMTM config or the budget,
    whichever has that field (e.g. ``{"patch_len": 8, "n_views": 2, "lr": 5e-4}``; ``lr``
    names the fine-tuning rate, ``pretrain_lr`` the pre-training one)."""
    enc_fields = {f.name for f in fields(TransformerConfig)} - {"kind"}
    cfg_fields = {f.name for f in fields(SimMTMConfig)} - {"encoder", "lr"}
    budget_fields = {f.name for f in fields(StudyBudget)}
    enc, top, bud = {}, {}, {}
    for name, value in overrides.items():
        if name == "pretrain_lr":
            top["lr"] = value
        elif name in budget_fields:
            bud[name] = value
        elif name in enc_fields:
            enc[name] = value
        elif name in cfg_fields:
            top[name] = value
        else:
            raise ValueError(f"unknown setting {name!r}; known: {sorted(enc_fields | cfg_fields | budget_fields)}")
    if enc and not isinstance(cfg.encoder, TransformerConfig):
        raise ValueError(f"{sorted(enc)} are Transformer settings; this config's encoder is {cfg.encoder.kind}")
    cfg = replace(cfg, **top, **({"encoder": replace(cfg.encoder, **enc)} if enc else {}))
    return cfg, replace(budget, **bud)


ENCODERS = {"cnn": "Epilepsy", "resnet": "Epilepsy-ResNet"}  # the classification presets the encoders come from


@dataclass(frozen=True)
class ClassifyBudget:
    """What one ``classify`` run spends. Pre-training is counted in optimizer steps (so a set
    of 40 series gets as many as one of 4,000); ``batch_size`` is capped at the data size."""

    encoder: str = "cnn"
    pretrain_steps: int = 500
    pretrain_lr: float = 1e-3
    finetune_epochs: int = 100
    finetune_lr: float = 3e-4
    batch_size: int = 32
    val_fraction: float = 0.2

    def __post_init__(self):
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, got {self.encoder!r}")
        for name in ("pretrain_steps", "finetune_epochs", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not (self.pretrain_lr > 0 and self.finetune_lr > 0):
            raise ValueError("learning rates must be > 0")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")

    def describe(self, pretraining: bool = True) -> str:
        pre = (f"pre-training {self.pretrain_steps} optimizer steps at lr {self.pretrain_lr:g}" if pretraining
               else "no pre-training (a given encoder)")
        return (f"{self.encoder} encoder; {pre}; fine-tuning {self.finetune_epochs} epochs at lr {self.finetune_lr:g}; "
                f"batch {self.batch_size} (capped at the data size); validation {self.val_fraction:.0%} of each "
                f"class of the training file")


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


def configure(preset: str, *, patch_len: int | None = None, **overrides: Any) -> SimMTMConfig:
    """The preset with the given overrides (None values ignored): ``patch_len`` on the encoder,
    the rest (``seq_len``, ``batch_size``, ``lr``, ``n_views``, ``mask_ratio``, ``method``) on the config."""
    from simmtm.config import get_preset

    cfg = get_preset(preset)
    enc = replace(cfg.encoder, patch_len=patch_len) if patch_len is not None else cfg.encoder
    return replace(cfg, encoder=enc, **{k: v for k, v in overrides.items() if v is not None})


def study_budget(name: str, **overrides: Any) -> StudyBudget:
    """The named budget (:data:`BUDGETS`) with the given overrides (None values ignored)."""
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}; available: {', '.join(BUDGETS)}")
    return replace(BUDGETS[name], **{k: v for k, v in overrides.items() if v is not None})


def finetune_budget(preset: str | None, device: str = "auto", **overrides: Any) -> tuple[StudyBudget, str]:
    """The fine-tuning budget that goes with ``preset`` on ``device`` (:func:`budget_name`) with
    the overrides, and one line that says it."""
    name = budget_name(preset, device)
    given = {k: v for k, v in overrides.items() if v is not None}
    budget = study_budget(name, **given)
    return budget, (f"fine-tuning budget {name!r}{' with overrides' if given else ''}: lr {budget.lr:g}, up to "
                    f"{budget.finetune_epochs} epochs (patience {budget.patience}), batch {budget.batch_size}, "
                    f"{budget.finetune_windows or 'all'} training windows")
