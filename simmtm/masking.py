"""Masks for masked time-series modelling (SimMTM, Sec. 3.1).

Legend: B batch, L length (time), C channels, M views (``n_views``).
Convention: masks have the shape of the series they mask and use 1 = observed, 0 = masked.
Every mask is drawn per series and per channel, along time only, so no span ever crosses
from one series (or channel) into the next. All functions are vectorized in torch, run on
the input's device and take an optional ``torch.Generator`` for reproducibility.
"""
from __future__ import annotations

import math

import torch

from simmtm.utils.checks import check_probability, check_series

MASK_KINDS = ("geometric", "random", "tail", "head")


def geometric_mask(
    n_series: int,
    length: int,
    ratio: float,
    mean_span: float = 3.0,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Span masks from a two-state Markov chain, one independent chain per series.

    Masked spans have geometric lengths with mean ``mean_span`` and kept spans geometric
    lengths with mean ``mean_span * (1 - ratio) / ratio``, so the expected masked fraction is
    ``ratio``. The chain starts in the masked state with probability ``ratio`` (its stationary
    law), exactly as the official ``geom_noise_mask_single`` but restarted for every series.

    Vectorized by sampling span lengths instead of stepping the chain (no Python loop, no
    host sync): see :func:`_spans_needed` for how many spans are drawn per series.

    Args:
        n_series: number of independent series (rows of the result).
        length: number of time steps L.
        ratio: expected masked fraction r, in (0, 1).
        mean_span: mean masked span length ``lm`` (>= 1).
        generator: optional torch.Generator (on ``device``) for reproducible draws.
        device: where to build the mask.

    Returns:
        Float mask of shape ``[n_series, length]``, 1 = observed, 0 = masked.

    Raises:
        ValueError: if ``ratio`` is outside (0, 1), ``mean_span < 1`` or the implied mean
            kept span ``mean_span * (1 - ratio) / ratio`` is below 1 (not a valid geometric law).
    """
    check_probability("ratio", ratio)
    if not mean_span >= 1:
        raise ValueError(f"mean_span must be >= 1 (a span has at least one step), got {mean_span}")
    mean_kept = mean_span * (1 - ratio) / ratio
    if mean_kept < 1:
        raise ValueError(
            f"ratio={ratio} with mean_span={mean_span} implies a mean kept span of {mean_kept:.3g} < 1; "
            f"use mean_span >= {ratio / (1 - ratio):.3g} for this ratio"
        )
    if n_series < 0 or length < 1:
        raise ValueError(f"need n_series >= 0 and length >= 1, got {n_series} and {length}")
    device = torch.device(device) if device is not None else (generator.device if generator else None)
    n_spans = _spans_needed(length, mean_span, mean_kept)
    u = torch.rand(n_series, n_spans + 1, generator=generator, device=device)  # [S, K+1]
    starts_masked = u[:, :1] < ratio  # [S, 1] stationary start
    span_masked = starts_masked ^ (torch.arange(n_spans, device=u.device) % 2 == 1)  # [S, K] states alternate
    # Geometric on {1, 2, ...} with success p by inversion: floor(log(U) / log(1 - p)) + 1.
    log_q_masked = math.log1p(-1.0 / mean_span) if mean_span > 1 else -math.inf
    log_q_kept = math.log1p(-1.0 / mean_kept) if mean_kept > 1 else -math.inf
    log_q = torch.where(span_masked, log_q_masked, log_q_kept)  # [S, K]
    log_u = torch.log1p(-u[:, 1:])  # log of a uniform in (0, 1]
    spans = (log_u / log_q).clamp_max(length).int() + 1  # [S, K]; trunc = floor (>= 0); q = 0 -> 1
    ends = spans.cumsum(dim=1, dtype=torch.int32)  # [S, K] exclusive end of each span
    # The state flips at every span end inside the series: the parity of the number of
    # ends at positions <= t tells whether step t is in the start state or the other one.
    switches = torch.zeros(n_series, length + 1, dtype=torch.int32, device=u.device)
    switches.scatter_add_(1, ends.clamp_max(length).long(), torch.ones_like(ends))
    parity = (switches[:, :length].cumsum(dim=1, dtype=torch.int32) & 1).bool()  # [S, L]
    masked = starts_masked ^ parity
    return (~masked).float()


def _spans_needed(length: int, mean_span: float, mean_kept: float, n_sigma: float = 8.0) -> int:
    """How many alternating spans to draw so that their total exceeds ``length``.

    ``length`` spans always suffice (every span is >= 1 step) but cost up to 3x more than
    needed. By the renewal CLT, a (masked, kept) pair has mean ``mu = lm + lk`` and variance
    ``v = lm(lm-1) + lk(lk-1)`` and ``length`` steps hold about ``length / mu`` pairs with
    standard deviation ``sqrt(length * v / mu^3)``; we draw that mean plus ``n_sigma`` standard
    deviations (plus 16 spans). A series is left uncovered with probability below 1e-12, and
    then its last span simply runs to the end of the series.
    """
    mu = mean_span + mean_kept
    var = mean_span * (mean_span - 1) + mean_kept * (mean_kept - 1)
    pairs = length / mu + n_sigma * math.sqrt(length * var / mu**3)
    return int(min(length, math.ceil(2 * pairs) + 16))


def random_mask(
    n_series: int,
    length: int,
    ratio: float,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Independent Bernoulli mask (the official ``bernoulli`` option): each step is masked
    with probability ``ratio``. Returns ``[n_series, length]``, 1 = observed."""
    check_probability("ratio", ratio)
    device = torch.device(device) if device is not None else (generator.device if generator else None)
    u = torch.rand(n_series, length, generator=generator, device=device)
    return (u >= ratio).float()


def tail_mask(n_series: int, length: int, ratio: float, *, device=None, generator=None) -> torch.Tensor:
    """Mask the last ``round(ratio * length)`` steps of every series (``masked_tail``)."""
    check_probability("ratio", ratio)
    n_masked = int(round(ratio * length))
    keep = torch.arange(length, device=device) < length - n_masked
    return keep.float().expand(n_series, length).clone()


def head_mask(n_series: int, length: int, ratio: float, *, device=None, generator=None) -> torch.Tensor:
    """Mask the first ``round(ratio * length)`` steps of every series (``masked_head``)."""
    check_probability("ratio", ratio)
    n_masked = int(round(ratio * length))
    keep = torch.arange(length, device=device) >= n_masked
    return keep.float().expand(n_series, length).clone()


def make_masks(x: torch.Tensor, n_views: int, ratio: float = 0.5, mean_span: float = 3.0, kind: str = "geometric", *,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``n_views`` masks for every series and channel of ``x``.

    Args:
        x: series ``[B, L, C]`` (only its shape and device are used).
        n_views: number of masked views M per series (>= 1).
        ratio: masked fraction r in (0, 1).
        mean_span: mean masked span for ``kind="geometric"``.
        kind: one of ``geometric`` (default, the paper's), ``random``, ``tail``, ``head``.
        generator: optional torch.Generator on ``x.device``.

    Returns:
        Float mask ``[M*B, L, C]`` ordered view-major (all series of view 1, then view 2, ...).
    """
    check_series("x", x)
    if not isinstance(n_views, int) or n_views < 1:
        raise ValueError(f"n_views must be an integer >= 1, got {n_views!r}")
    if kind not in MASK_KINDS:
        raise ValueError(f"kind must be one of {MASK_KINDS}, got {kind!r}")
    B, L, C = x.shape
    n_series = n_views * B * C
    if kind == "geometric":
        flat = geometric_mask(n_series, L, ratio, mean_span, generator=generator, device=x.device)
    elif kind == "random":
        flat = random_mask(n_series, L, ratio, generator=generator, device=x.device)
    elif kind == "tail":
        flat = tail_mask(n_series, L, ratio, device=x.device)
    else:
        flat = head_mask(n_series, L, ratio, device=x.device)
    # [M*B*C, L] -> [M*B, C, L] -> [M*B, L, C]
    return flat.view(n_views * B, C, L).transpose(1, 2).to(x.dtype)


def mask_views(x: torch.Tensor, n_views: int, ratio: float = 0.5, mean_span: float = 3.0, kind: str = "geometric", *,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack the originals and their masked views for SimMTM pre-training.

    Rows are ``[x_0..x_{B-1}, view1(x_0..x_{B-1}), ..., viewM(...)]``: row ``r`` and row
    ``r + k*B`` are views of the same series. Masked points are set to 0.

    Args:
        x: series ``[B, L, C]``.
        n_views, ratio, mean_span, kind, generator: as in :func:`make_masks`.

    Returns:
        ``(x_views, mask)``, both ``[(M+1)*B, L, C]``; the first B rows of ``mask`` are ones.
    """
    masks = make_masks(x, n_views, ratio, mean_span, kind, generator=generator)  # [M*B, L, C]
    mask = torch.cat([torch.ones_like(x), masks], dim=0)  # [(M+1)*B, L, C]
    x_views = x.repeat(n_views + 1, 1, 1) * mask  # [(M+1)*B, L, C]
    return x_views, mask
