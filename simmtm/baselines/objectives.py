"""The self-supervised objectives SimMTM is compared with, on the same encoders and projectors.

Loss functions are pure; the modules wrap an encoder, a head and a loss, and return a
:class:`PretrainOutput` like :class:`simmtm.model.SimMTM` does, so the same training loop
pre-trains any of them. Legend: B batch, L length, C channels, R representation rows, P width.

- SimCLR (Chen et al., 2020): NT-Xent between two augmented views.
- VICReg (Bardes et al., 2022): invariance + variance + covariance terms, weights 25 / 25 / 1.
- Barlow Twins (Zbontar et al., 2021): cross-correlation of the two views' standardised
  embeddings pushed to the identity, off-diagonal weight 5e-3.
- Masked reconstruction (TST / Ti-MAE style): rebuild each series from ITS OWN masked view,
  i.e. SimMTM without the series-wise similarity and aggregation (the paper's ablation).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from simmtm.baselines.augmentations import RandomAugment
from simmtm.losses import reconstruction_loss
from simmtm.masking import MASK_KINDS, mask_views
from simmtm.normalization import InstanceNorm
from simmtm.utils.checks import check_positive, check_probability, check_series

METHODS = ("simmtm", "simclr", "vicreg", "barlow", "masked")


# --------------------------------------------------------------------------- losses
def _pair(z1: torch.Tensor, z2: torch.Tensor) -> None:
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError(f"expected two [N, P] embeddings of the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if z1.shape[0] < 2:
        raise ValueError("need at least 2 embeddings per view")


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross-entropy.

    ``z1, z2: [N, P]``, row i of both is a positive pair. For each of the 2N embeddings the
    positive competes with the 2N - 2 others (itself excluded); the loss is the mean over all 2N.
    """
    _pair(z1, z2)
    check_positive("temperature", temperature)
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)  # [2N, P]
    logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))  # [2N, 2N]
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)  # the other view
    return F.cross_entropy(logits, target)


def vicreg_terms(z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """VICReg's three terms ``(invariance, variance, covariance)`` for ``z1, z2: [N, P]``.

    invariance: mean squared distance between paired rows (averaged over rows and features);
    variance: ``mean_j relu(1 - sqrt(var_j + eps))`` per view, averaged over the two views;
    covariance: sum of squared off-diagonal covariances / P per view, summed over the views.
    """
    _pair(z1, z2)
    z1, z2 = z1.float(), z2.float()
    n, p = z1.shape
    invariance = F.mse_loss(z1, z2)
    variance, covariance = z1.new_zeros(()), z1.new_zeros(())
    for z in (z1, z2):
        z = z - z.mean(dim=0)
        variance = variance + F.relu(1 - torch.sqrt(z.var(dim=0) + eps)).mean() / 2
        cov = z.T @ z / (n - 1)  # [P, P]
        off = cov - torch.diag(torch.diagonal(cov))
        covariance = covariance + off.pow(2).sum() / p
    return invariance, variance, covariance


def vicreg_loss(z1: torch.Tensor, z2: torch.Tensor, invariance_weight: float = 25.0, variance_weight: float = 25.0,
                covariance_weight: float = 1.0) -> torch.Tensor:
    """``25 * invariance + 25 * variance + 1 * covariance`` (the paper's weights)."""
    inv, var, cov = vicreg_terms(z1, z2)
    return invariance_weight * inv + variance_weight * var + covariance_weight * cov


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, off_diagonal_weight: float = 5e-3,
                      eps: float = 1e-5) -> torch.Tensor:
    """``sum_i (1 - c_ii)^2 + lambda * sum_{i != j} c_ij^2`` with ``c`` the ``[P, P]``
    cross-correlation of the two views' embeddings, each standardised over the batch."""
    _pair(z1, z2)
    z1, z2 = z1.float(), z2.float()
    n = z1.shape[0]
    a = (z1 - z1.mean(0)) / (z1.std(0, unbiased=False) + eps)
    b = (z2 - z2.mean(0)) / (z2.std(0, unbiased=False) + eps)
    c = a.T @ b / n  # [P, P]
    diag = torch.diagonal(c)
    return (1 - diag).pow(2).sum() + off_diagonal_weight * (c.pow(2).sum() - diag.pow(2).sum())


# --------------------------------------------------------------------------- modules
@dataclass
class PretrainOutput:
    """``loss`` to minimise and its named parts (detached, for logs)."""

    loss: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)


class TwoViewObjective(nn.Module):
    """Encode two augmented views of each series, project every representation row
    (``[R, T, D] -> [R, P]``) and score the pair with ``loss(z1, z2)`` (NT-Xent, VICReg, ...).

    ``forward(x: [B, L, C], generator=None) -> PretrainOutput``.
    """

    def __init__(self, encoder: nn.Module, projector: nn.Module, loss: str = "simclr", *,
                 augment: RandomAugment | None = None, temperature: float = 0.5,
                 seq_len: int | None = None, n_channels: int | None = None):
        super().__init__()
        losses = {"simclr": lambda a, b: nt_xent(a, b, temperature), "vicreg": vicreg_loss,
                  "barlow": barlow_twins_loss}
        if loss not in losses:
            raise ValueError(f"loss must be one of {sorted(losses)}, got {loss!r}")
        self.encoder, self.projector, self.loss_name, self.loss_fn = encoder, projector, loss, losses[loss]
        self.augment = augment if augment is not None else RandomAugment()
        self.seq_len, self.n_channels = seq_len, n_channels

    def forward(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> PretrainOutput:
        check_series("x", x, channels=self.n_channels, length=self.seq_len)
        views = torch.cat([self.augment(x, generator=generator), self.augment(x, generator=generator)])  # [2B, L, C]
        z = self.encoder(views)  # [2B, K, T, D]
        s = self.projector(z.reshape(-1, *z.shape[2:]))  # [2B*K, P]
        z1, z2 = s.chunk(2)  # row r of each: the same (series, channel)
        loss = self.loss_fn(z1, z2)
        return PretrainOutput(loss, {self.loss_name: loss.detach()})


class MaskedReconstruction(nn.Module):
    """Mask each series once, encode the masked view, decode it and score the reconstruction
    against the ORIGINAL series (MSE over all points, as SimMTM's reconstruction term) --
    SimMTM without series-wise similarity and aggregation.

    ``forward(x: [B, L, C], generator=None) -> PretrainOutput``.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, mask_ratio: float = 0.5, mean_span: float = 3.0,
                 mask_kind: str = "geometric", norm: InstanceNorm | None = None,
                 seq_len: int | None = None, n_channels: int | None = None):
        super().__init__()
        check_probability("mask_ratio", mask_ratio)
        if mask_kind not in MASK_KINDS:
            raise ValueError(f"mask_kind must be one of {MASK_KINDS}, got {mask_kind!r}")
        self.encoder, self.decoder, self.norm = encoder, decoder, norm
        self.mask_ratio, self.mean_span, self.mask_kind = mask_ratio, mean_span, mask_kind
        self.seq_len, self.n_channels = seq_len, n_channels

    def forward(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> PretrainOutput:
        check_series("x", x, channels=self.n_channels, length=self.seq_len)
        B = x.shape[0]
        x_all, mask = mask_views(x, 1, self.mask_ratio, self.mean_span, self.mask_kind, generator=generator)
        masked, mask = x_all[B:], mask[B:]  # [B, L, C]: the view only
        stats = None
        if self.norm is not None:
            masked, stats = self.norm.normalize(masked, mask)
        reconstruction = self.decoder(self.encoder(masked))  # [B, L, C]
        if stats is not None:
            reconstruction = self.norm.denormalize(reconstruction, stats)
        loss = reconstruction_loss(reconstruction, x)
        return PretrainOutput(loss, {"loss_rec": loss.detach()})
