"""SimMTM's pre-training step written the straightforward way, as the official code computes it.

This is the yardstick for :class:`simmtm.model.SimMTM`: the benchmark times it against the
fast path in one process, and the tests check that both give the same loss and gradients.
It shares the model's modules and weights; only the computation differs:

- attention materialises the ``[L, L]`` weights and applies dropout to them (:func:`math_attention`)
  instead of the fused kernel;
- every row (originals AND masked views) is aggregated and decoded, and only then are the
  originals' reconstructions kept for the loss (the fast path rebuilds the originals only);
- masks come from the official element-by-element loop over the flattened batch, in numpy on
  the host (:func:`official_loop_mask`), when no mask is given.

With the same masks, dropout off and fp32, loss and gradients equal the fast path's.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from simmtm.encoders import MultiHeadSelfAttention
from simmtm.losses import constraint_loss, reconstruction_loss
from simmtm.model import SimMTM, SimMTMOutput
from simmtm.similarity import aggregation_weights, cosine_similarity_matrix


def official_loop_mask(shape: tuple[int, ...], ratio: float = 0.5, mean_span: float = 3.0,
                       rng: np.random.Generator | None = None) -> np.ndarray:
    """The official ``geom_noise_mask_single``: ONE two-state chain stepped element by element
    over the whole flattened ``shape`` (so spans run from one series into the next).
    Returns a boolean array of ``shape``, True = observed."""
    rng = rng if rng is not None else np.random.default_rng()
    n = int(np.prod(shape))
    keep = np.ones(n, dtype=bool)
    p = [1 / mean_span, 1 / mean_span * ratio / (1 - ratio)]  # leave masked / leave kept
    state = int(rng.random() > ratio)
    for i in range(n):
        keep[i] = state
        if rng.random() < p[state]:
            state = 1 - state
    return keep.reshape(shape)


def math_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
    """``dropout(softmax(q k^T / sqrt(d))) v`` with the weights materialised, as the official
    ``FullAttention``. ``q, k, v: [N, h, L, d] -> [N, h, L, d]``; builds ``[N, h, L, L]``."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # [N, h, L, L]
    weights = F.dropout(torch.softmax(scores, dim=-1), dropout_p, training=dropout_p > 0)
    return weights @ v


@contextmanager
def attention_kernel(model: nn.Module, kernel: Callable[..., torch.Tensor]) -> Iterator[None]:
    """Run every :class:`~simmtm.encoders.MultiHeadSelfAttention` in ``model`` with ``kernel``
    (same signature as ``F.scaled_dot_product_attention(q, k, v, dropout_p=...)``) inside the block."""
    layers = [m for m in model.modules() if isinstance(m, MultiHeadSelfAttention)]
    saved = [m.__dict__.get("kernel") for m in layers]  # None: the class default
    for m in layers:
        m.kernel = kernel
    try:
        yield
    finally:
        for m, kern in zip(layers, saved):
            if kern is None:
                del m.kernel
            else:
                m.kernel = kern


def reference_forward(model: SimMTM, x: torch.Tensor, mask: torch.Tensor | None = None,
                      rng: np.random.Generator | None = None) -> SimMTMOutput:
    """The official computation of ``model``'s objective on ``x: [B, L, C]``.

    ``mask``: ``[(M+1)*B, L, C]`` with the originals (all ones) first, as in
    :func:`simmtm.masking.mask_views`; drawn with :func:`official_loop_mask` if omitted.
    """
    B, L, C = x.shape
    M = model.n_views
    if mask is None:
        views = official_loop_mask((M * B, C, L), model.mask_ratio, model.mean_span, rng)  # host, numpy
        views = torch.from_numpy(views).to(x.device, x.dtype).transpose(1, 2)  # [M*B, L, C]
        mask = torch.cat([torch.ones_like(x), views])  # [(M+1)*B, L, C]
    x_all = x.repeat(M + 1, 1, 1) * mask  # [(M+1)*B, L, C]
    x_in, stats = model.norm.normalize(x_all, mask) if model.norm is not None else (x_all, None)
    with attention_kernel(model, math_attention):
        z = model.encoder(x_in)  # [(M+1)*B, K, T, D]
    _, K, T, D = z.shape
    rows = z.reshape(-1, T, D)  # [R, T, D]
    similarity = cosine_similarity_matrix(model.projector(rows))  # [R, R]
    loss_con = constraint_loss(similarity, B * K, model.temperature)
    weights = aggregation_weights(similarity, model.temperature)  # [R, R]: every row rebuilt
    z_hat = (weights @ rows.reshape(rows.shape[0], -1)).view(-1, K, T, D)  # [(M+1)*B, K, T, D]
    rebuilt = model.decoder(z_hat)  # [(M+1)*B, L, C]
    if stats is not None:
        rebuilt = model.norm.denormalize(rebuilt, stats)
    reconstruction = rebuilt[:B]  # only the originals enter the loss
    loss_rec = reconstruction_loss(reconstruction, x)
    loss = model.weighting(loss_rec, loss_con)
    return SimMTMOutput(loss, loss_rec.detach(), loss_con.detach(), reconstruction, mask)
