"""Time-series augmentations for the contrastive baselines (SimCLR, VICReg, Barlow Twins).

Every function maps series ``x: [B, L, C]`` to a tensor of the same shape, dtype and device,
draws its randomness per series from an optional ``torch.Generator`` (on ``x.device``), and
has no Python loop over the batch. :class:`RandomAugment` composes them, applying each to a
random subset of the series.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from simmtm.utils.checks import check_probability, check_series

Augmentation = Callable[..., torch.Tensor]


def _randn(shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device=x.device, dtype=torch.float32).to(x.dtype)


def _rand(shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=x.device, dtype=torch.float32)


def jitter(x: torch.Tensor, sigma: float = 0.03, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add Gaussian noise of standard deviation ``sigma`` to every point."""
    return x + sigma * _randn(x.shape, x, generator)


def scaling(x: torch.Tensor, sigma: float = 0.1, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Multiply each series and channel by one factor drawn from N(1, sigma^2)."""
    B, _, C = x.shape
    return x * (1 + sigma * _randn((B, 1, C), x, generator))


def smooth_curves(n: int, length: int, knots: int, sigma: float, x: torch.Tensor,
                  generator: torch.Generator | None) -> torch.Tensor:
    """``[n, length]`` random smooth curves around 1: values N(1, sigma^2) at ``knots + 2`` evenly
    spaced points, joined by cosine interpolation (continuous with a continuous slope)."""
    values = 1 + sigma * _randn((n, knots + 2), x, generator).float()  # [n, K+2]
    pos = torch.linspace(0, knots + 1, length, device=x.device)  # [L] in knot units
    left = pos.floor().long().clamp_max(knots)  # [L]
    w = (1 - torch.cos(math.pi * (pos - left))) / 2  # [L] smooth 0 -> 1 between knots
    return values[:, left] * (1 - w) + values[:, left + 1] * w  # [n, L]


def magnitude_warp(x: torch.Tensor, sigma: float = 0.2, knots: int = 4, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Multiply each series and channel by a smooth random curve around 1 (:func:`smooth_curves`)."""
    B, L, C = x.shape
    curves = smooth_curves(B * C, L, knots, sigma, x, generator)  # [B*C, L]
    return x * curves.view(B, C, L).transpose(1, 2).to(x.dtype)


def resample(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of ``x: [B, L, C]`` at fractional time ``positions: [B, L']``
    (in steps, clamped to ``[0, L-1]``) -> ``[B, L', C]``; channels share the positions."""
    L = x.shape[1]
    positions = positions.clamp(0, L - 1)
    left = positions.floor().long().clamp_max(L - 2) if L > 1 else positions.long()
    frac = (positions - left).unsqueeze(-1).to(x.dtype)  # [B, L', 1]
    right = (left + 1).clamp_max(L - 1)
    idx = lambda i: i.unsqueeze(-1).expand(-1, -1, x.shape[2])  # noqa: E731  [B, L', C]
    return torch.gather(x, 1, idx(left)) * (1 - frac) + torch.gather(x, 1, idx(right)) * frac


def time_warp(x: torch.Tensor, sigma: float = 0.2, knots: int = 4, *,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Stretch and squeeze time smoothly: a random monotone map of ``[0, L-1]`` onto itself
    (cumulative smooth positive speeds), the same for all channels of a series."""
    B, L, _ = x.shape
    speed = smooth_curves(B, L, knots, sigma, x, generator).clamp_min(0.1)  # [B, L] > 0
    t = torch.cumsum(speed, dim=1) - speed[:, :1]  # [B, L] increasing, starts at 0
    t = t / t[:, -1:].clamp_min(1e-12) * (L - 1)  # ends at L - 1
    return resample(x, t)


def crop_resize(x: torch.Tensor, ratio: float = 0.8, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Take a random window of ``ratio * L`` steps from each series and stretch it back to L."""
    check_probability("ratio", ratio)
    B, L, _ = x.shape
    width = ratio * (L - 1)
    start = _rand((B, 1), x, generator) * (L - 1 - width)  # [B, 1]
    return resample(x, start + torch.linspace(0, width, L, device=x.device))


def blockout(x: torch.Tensor, ratio: float = 0.1, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Set one random window of ``round(ratio * L)`` steps (all channels) to zero in each series."""
    check_probability("ratio", ratio)
    B, L, _ = x.shape
    width = max(1, round(ratio * L))
    start = (_rand((B, 1), x, generator) * (L - width + 1)).long().clamp_max(L - width)  # [B, 1]
    t = torch.arange(L, device=x.device)
    inside = (t >= start) & (t < start + width)  # [B, L]
    return x.masked_fill(inside.unsqueeze(-1), 0.0)


def time_flip(x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Reverse time (left-right flip)."""
    return x.flip(1)


def sign_flip(x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Negate every value."""
    return -x


def random_smoothing(x: torch.Tensor, max_width: int = 5, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Centred moving average over a random odd width in ``1, 3, ..., max_width`` per series
    (edges averaged over the available points)."""
    B, L, C = x.shape
    half = (_rand((B, 1, 1), x, generator) * (max_width // 2 + 1)).long().clamp_max(max_width // 2)  # [B, 1, 1]
    wide = x.float() if x.device.type == "mps" else x.double()  # fp64 keeps differences of sums exact (no fp64 on MPS)
    csum = F.pad(wide.cumsum(dim=1), (0, 0, 1, 0))  # [B, L+1, C], csum[t] = sum of x[:t]
    t = torch.arange(L, device=x.device).view(1, L, 1)
    lo, hi = (t - half).clamp_min(0), (t + half + 1).clamp_max(L)  # [B, L, 1]
    total = torch.gather(csum, 1, hi.expand(B, L, C)) - torch.gather(csum, 1, lo.expand(B, L, C))
    return (total / (hi - lo)).to(x.dtype)


def channel_noise(x: torch.Tensor, sigma: float = 0.1, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gaussian noise scaled by each series' own per-channel standard deviation (over time)."""
    std = x.float().std(dim=1, keepdim=True, unbiased=False).to(x.dtype)  # [B, 1, C]
    return x + sigma * std * _randn(x.shape, x, generator)


AUGMENTATIONS: dict[str, Augmentation] = {
    "jitter": jitter, "scaling": scaling, "magnitude_warp": magnitude_warp, "time_warp": time_warp,
    "crop_resize": crop_resize, "blockout": blockout, "time_flip": time_flip, "sign_flip": sign_flip,
    "random_smoothing": random_smoothing, "channel_noise": channel_noise,
}


class RandomAugment:
    """Apply each augmentation in turn, each to a random subset of the series.

    Args:
        augmentations: names from :data:`AUGMENTATIONS` (with default strengths) or callables
            ``f(x, generator=...)``.
        p: probability that a series receives each augmentation (one value or one per entry).

    ``RandomAugment(["jitter", "scaling"], p=1.0)(x, generator=g)`` is the TS2Vec / TS-TCC-style
    weak view. The default mix is the one used by our baselines.
    """

    DEFAULT = ("crop_resize", "magnitude_warp", "jitter", "scaling", "blockout")

    def __init__(self, augmentations: Sequence[str | Augmentation] = DEFAULT, p: float | Sequence[float] = 0.5):
        self.augmentations = []
        for a in augmentations:
            if isinstance(a, str):
                if a not in AUGMENTATIONS:
                    raise ValueError(f"unknown augmentation {a!r}; choose from {sorted(AUGMENTATIONS)}")
                a = AUGMENTATIONS[a]
            self.augmentations.append(a)
        probs = [p] * len(self.augmentations) if isinstance(p, (int, float)) else list(p)
        if len(probs) != len(self.augmentations):
            raise ValueError(f"got {len(probs)} probabilities for {len(self.augmentations)} augmentations")
        for q in probs:
            if not 0 <= q <= 1:
                raise ValueError(f"probabilities must be in [0, 1], got {q}")
        self.p = probs

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        check_series("x", x)
        for augment, p in zip(self.augmentations, self.p):
            if p == 0:
                continue
            y = augment(x, generator=generator)
            chosen = _rand((x.shape[0], 1, 1), x, generator) < p  # [B, 1, 1]
            x = torch.where(chosen, y, x)
        return x

    def __repr__(self) -> str:
        names = [getattr(a, "__name__", repr(a)) for a in self.augmentations]
        return f"RandomAugment({names}, p={self.p})"


class MaskAugment:
    """SimMTM's masking as a contrastive augmentation: each call hides ``ratio`` of the time
    points of every series and channel in geometric spans (mean ``mean_span``), setting them to 0,
    as SimMTM's masked views do. ``MaskAugment(0.5)(x, generator=g)`` -> ``[B, L, C]``."""

    def __init__(self, ratio: float = 0.5, mean_span: float = 3.0):
        if not 0 < ratio < 1:
            raise ValueError(f"ratio must be in (0, 1), got {ratio}")
        self.ratio, self.mean_span = ratio, mean_span

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        from simmtm.masking import make_masks

        return x * make_masks(x, 1, self.ratio, self.mean_span, generator=generator).to(x.dtype)  # [B, L, C]

    def __repr__(self) -> str:
        return f"MaskAugment(ratio={self.ratio}, mean_span={self.mean_span})"


__all__ = ["AUGMENTATIONS", "MaskAugment", "RandomAugment", "blockout", "channel_noise", "crop_resize", "jitter",
           "magnitude_warp", "random_smoothing", "resample", "scaling", "sign_flip", "smooth_curves",
           "time_flip", "time_warp"]
