"""Fine-tuning protocols: how an encoder (pre-trained or random) and its new head are trained.

- ``full``: every parameter from the first step (the paper's recipe and this package's default).
- ``probe-then-full``: ``head_epochs`` epochs of the head alone on the frozen encoder (linear
  probing: the encoder gets no gradients and stays in eval mode, so neither its weights nor its
  BatchNorm statistics move), then every parameter. The head epochs come on top of the
  fine-tuning epochs, and early stopping never ends a run before the full phase has had
  ``patience`` epochs of its own.
- ``encoder_lr_ratio``: the encoder trains at ``ratio x`` the head's lr (two optimizer
  parameter groups); it combines with either kind.

The phase is a pure function of the epoch (:meth:`FinetuneProtocol.probing`), so a run resumed
after a kill (:mod:`simmtm.training.resume`) knows its phase from the epoch it resumes after. The default
``FinetuneProtocol()`` builds exactly the optimizer and loop fine-tuning had before protocols
existed, so results made without one are unchanged.

Example::

    finetune(cfg, data, 96, encoder=enc, protocol=get_protocol("probe3"))
    finetune(cfg, data, 96, encoder=enc, protocol=FinetuneProtocol(encoder_lr_ratio=0.3))
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch.nn as nn

KINDS = ("full", "probe-then-full")


@dataclass(frozen=True)
class FinetuneProtocol:
    """A fine-tuning protocol (module docstring). Validates itself; errors name the field."""

    kind: str = "full"
    head_epochs: int = 0
    encoder_lr_ratio: float = 1.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.head_epochs, bool) or not isinstance(self.head_epochs, int) or self.head_epochs < 0:
            raise ValueError(f"head_epochs must be an integer >= 0, got {self.head_epochs!r}")
        if self.kind == "full" and self.head_epochs:
            raise ValueError(f"head_epochs must be 0 for kind 'full' (got {self.head_epochs}); "
                             "use kind 'probe-then-full' to train the head alone first")
        if self.kind == "probe-then-full" and self.head_epochs < 1:
            raise ValueError("head_epochs must be >= 1 for kind 'probe-then-full', got 0")
        ratio = self.encoder_lr_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not math.isfinite(ratio) or ratio <= 0:
            raise ValueError(f"encoder_lr_ratio must be a finite number > 0, got {ratio!r}")

    @property
    def name(self) -> str:
        """A short label: ``full``, ``full-enc0.3``, ``probe3-full``, ``probe1-full-enc0.1``."""
        base = "full" if self.kind == "full" else f"probe{self.head_epochs}-full"
        return base if self.encoder_lr_ratio == 1 else f"{base}-enc{self.encoder_lr_ratio:g}"

    @property
    def is_default(self) -> bool:
        """True for today's full fine-tuning at one lr."""
        return self == FinetuneProtocol()

    def probing(self, epoch: int) -> bool:
        """Whether ``epoch`` (0-based, counted over the whole run) trains the head alone."""
        return epoch < self.head_epochs

    def total_epochs(self, epochs: int) -> int:
        """Epochs of the whole run: the head epochs, then ``epochs`` of the full phase."""
        return self.head_epochs + epochs

    def min_epochs(self, patience: int | None) -> int:
        """Early stopping may end the run only once the full phase has had ``patience`` epochs."""
        return self.head_epochs + (patience or 0) if self.head_epochs else 0

    def describe(self) -> str:
        """One phrase for tables and logs."""
        parts = ["full fine-tuning" if self.kind == "full" else
                 f"linear probing ({self.head_epochs} head-only epoch(s) on the frozen encoder, on top of the "
                 f"fine-tuning epochs), then full fine-tuning"]
        if self.encoder_lr_ratio != 1:
            parts.append(f"encoder lr = {self.encoder_lr_ratio:g} x the head's")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FinetuneProtocol":
        unknown = set(d) - {"kind", "head_epochs", "encoder_lr_ratio"}
        if unknown:
            raise ValueError(f"unknown FinetuneProtocol fields: {sorted(unknown)}")
        return cls(**d)


PROTOCOLS: dict[str, FinetuneProtocol] = {
    "full": FinetuneProtocol(),
    "probe1": FinetuneProtocol("probe-then-full", head_epochs=1),
    "probe3": FinetuneProtocol("probe-then-full", head_epochs=3),
    "enc0.1": FinetuneProtocol(encoder_lr_ratio=0.1),
    "enc0.3": FinetuneProtocol(encoder_lr_ratio=0.3),
    "probe1-enc0.3": FinetuneProtocol("probe-then-full", head_epochs=1, encoder_lr_ratio=0.3),
    # For tests: one head epoch and a halved encoder lr.
    "tiny": FinetuneProtocol("probe-then-full", head_epochs=1, encoder_lr_ratio=0.5),
}
# The grid the payoff study selects from on validation (results/payoff/payoff.md).
SELECTION_GRID = ("full", "probe1", "probe3", "enc0.1", "enc0.3")


def get_protocol(spec: "str | FinetuneProtocol | None") -> FinetuneProtocol:
    """A protocol from a preset name (:data:`PROTOCOLS`), a spec ``KIND[,KEY=VALUE...]``
    (``probe-then-full,head_epochs=2,encoder_lr_ratio=0.5``), a protocol, or None (full)."""
    if spec is None:
        return FinetuneProtocol()
    if isinstance(spec, FinetuneProtocol):
        return spec
    spec = spec.strip()
    if spec in PROTOCOLS:
        return PROTOCOLS[spec]
    kind, *items = [s.strip() for s in spec.split(",")]
    if kind not in KINDS:
        raise ValueError(f"unknown protocol {spec!r}: give a preset ({', '.join(PROTOCOLS)}) or "
                         f"KIND[,head_epochs=N][,encoder_lr_ratio=R] with KIND in {KINDS}")
    values: dict[str, Any] = {"kind": kind}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in ("head_epochs", "encoder_lr_ratio"):
            raise ValueError(f"protocol {spec!r}: expected head_epochs=N or encoder_lr_ratio=R, got {item!r}")
        try:
            values[key] = int(value) if key == "head_epochs" else float(value)
        except ValueError:
            raise ValueError(f"protocol {spec!r}: {key} must be a number, got {value!r}") from None
    return FinetuneProtocol(**values)


def encoder_and_head_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(encoder parameters, every other parameter)`` of a model with an ``encoder`` attribute
    (:class:`simmtm.model.ForecastingModel`, :class:`simmtm.model.ClassificationModel`)."""
    if not isinstance(getattr(model, "encoder", None), nn.Module):
        raise ValueError(f"{type(model).__name__} has no encoder module to give its own lr or to freeze")
    encoder = list(model.encoder.parameters())
    ids = {id(p) for p in encoder}
    return encoder, [p for p in model.parameters() if id(p) not in ids]


def parameter_groups(model: nn.Module, lr: float, protocol: FinetuneProtocol) -> list[dict] | None:
    """Optimizer parameter groups for ``protocol``: None for one lr everywhere (the optimizer
    then takes every trainable parameter, as before protocols existed), else an ``encoder``
    group at ``ratio * lr`` and a ``head`` group (everything else) at ``lr``."""
    if protocol.encoder_lr_ratio == 1:
        return None
    encoder, head = encoder_and_head_parameters(model)
    return [{"params": encoder, "lr": lr * protocol.encoder_lr_ratio, "name": "encoder"},
            {"params": head, "lr": lr, "name": "head"}]


class _HeadOnly(nn.Module):
    """A view of ``model`` for a probing epoch: ``train()`` leaves the encoder in eval mode
    (dropout off, BatchNorm statistics fixed); the encoder's parameters are frozen by
    :func:`training_view`. Shares every parameter with ``model``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.encoder.eval()
        return self

    def forward(self, x):
        return self.model(x)


def training_view(model: nn.Module, protocol: FinetuneProtocol, epoch: int) -> nn.Module:
    """The module to train at ``epoch``: in a probing epoch, ``model`` with its encoder frozen
    (no gradients, eval mode); otherwise ``model`` itself with every parameter trainable. The
    phase depends on the epoch alone, so a resumed run picks it up."""
    if not protocol.head_epochs:
        return model
    probing = protocol.probing(epoch)
    encoder, _ = encoder_and_head_parameters(model)
    for p in encoder:
        p.requires_grad_(not probing)
    return _HeadOnly(model) if probing else model
