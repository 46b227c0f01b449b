"""SimMTM's objective: reconstruction, constraint, and how the two are combined (Sec. 3.4).

The loss terms are pure functions; the combinations are small modules (one of them learns
its weights). Legend: R rows (originals and views), N series rows per view.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from simmtm.similarity import exclude_self_logits


def wide(x: torch.Tensor) -> torch.Tensor:
    """``x`` in at least float32: half-precision (autocast) values are widened, float64 stays
    float64, so a float64 run agrees with a float64 reference to float64 rounding."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def reconstruction_loss(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the rebuilt originals and the ORIGINAL (unmasked) series
    (Eq. 5). Both ``[B, L, C]``; the target is not differentiated."""
    if reconstruction.shape != target.shape:
        raise ValueError(f"reconstruction {tuple(reconstruction.shape)} and target {tuple(target.shape)} differ")
    return F.mse_loss(wide(reconstruction), wide(target.detach()))


def constraint_loss(similarity: torch.Tensor, n_series: int, temperature: float,
                    self_index: torch.Tensor | None = None) -> torch.Tensor:
    """Series-wise constraint with multiple positives (Eq. 6).

    For every row i, with ``p_ij = softmax_{j != i}(sim_ij / tau)``, the loss is
    ``mean_i [ -sum_{j in pos(i)} log p_ij ]`` where pos(i) are the other views of the same
    series. This equals the official ``KLDivLoss(reduction='batchmean')`` between
    ``log_softmax(logits / tau)`` and the 0/1 positive target.

    Args:
        similarity: cosine similarities ``[R, R]``, or ``[n, R]`` rows of it with ``self_index``.
        n_series: N, the number of rows per view (``R = (M+1) * N``).
        temperature: tau.
        self_index: ``[n]`` index of each row within the R (default: row i is row i of a square
            matrix); the loss is then the mean over these n rows.
    """
    n, R = similarity.shape
    if n_series < 1 or R % n_series:
        raise ValueError(f"similarity has {R} columns, not a positive multiple of n_series ({n_series})")
    r = torch.arange(n, device=similarity.device) if self_index is None else self_index
    if len(r) != n:
        raise ValueError(f"self_index has {len(r)} entries for {n} rows")
    log_p = torch.log_softmax(exclude_self_logits(wide(similarity), temperature, self_index=self_index), dim=1)
    # Row r's positives sit at column r mod N of every view block: gather them, [n, M+1],
    # instead of building an [n, R] positive mask.
    per_view = log_p.view(n, R // n_series, n_series)[torch.arange(n, device=r.device), :, r % n_series]  # [n, M+1]
    is_self = F.one_hot(r // n_series, R // n_series).bool()  # the -inf entry of row r itself
    return -per_view.masked_fill(is_self, 0.0).sum(dim=1).mean()


class FixedWeightedLoss(nn.Module):
    """The paper's combination ``L_rec + lambda * L_con`` (Eq. 7)."""

    def __init__(self, constraint_weight: float = 0.1):
        super().__init__()
        self.constraint_weight = float(constraint_weight)

    def forward(self, loss_rec: torch.Tensor, loss_con: torch.Tensor) -> torch.Tensor:
        return loss_rec + self.constraint_weight * loss_con


class AutomaticWeightedLoss(nn.Module):
    """The official code's learned weighting (Liebel & Koerner, 2018):
    ``sum_i 0.5 / sigma_i^2 * L_i + log(1 + sigma_i^2)``, with ``sigma_i`` initialised to 1.

    This is what thuml/SimMTM trains with, so it is the default here; ``FixedWeightedLoss``
    gives the paper's written form.
    """

    def __init__(self, n_losses: int = 2):
        super().__init__()
        self.sigma = nn.Parameter(torch.ones(n_losses))

    def forward(self, *losses: torch.Tensor) -> torch.Tensor:
        if len(losses) != self.sigma.numel():
            raise ValueError(f"expected {self.sigma.numel()} losses, got {len(losses)}")
        stacked = torch.stack([wide(loss) for loss in losses])  # [n_losses]
        var = wide(self.sigma) ** 2
        dtype = torch.promote_types(stacked.dtype, var.dtype)
        stacked, var = stacked.to(dtype), var.to(dtype)
        return (0.5 / var * stacked + torch.log1p(var)).sum()


def _constraint_block(s_all: torch.Tensor, index: torch.Tensor, n_series: int, temperature: float) -> torch.Tensor:
    """Sum over rows ``index`` of each row's ``-sum log p`` over its positives (normalised ``s_all``)."""
    R = s_all.shape[0]
    logits = (s_all[index] @ s_all.T) / temperature  # [c, R]
    i = torch.arange(len(index), device=logits.device)
    logits = logits.index_put((i, index), torch.tensor(float("-inf"), device=logits.device, dtype=logits.dtype))
    log_p = torch.log_softmax(logits, dim=1)  # [c, R]
    per_view = log_p.view(len(index), R // n_series, n_series)[i, :, index % n_series]  # [c, M+1]
    is_self = F.one_hot(index // n_series, R // n_series).bool()
    return -per_view.masked_fill(is_self, 0.0).sum()


def constraint_loss_chunked(s: torch.Tensor, n_series: int, temperature: float, chunk: int = 1024,
                            self_index: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`constraint_loss` from the projections ``s`` ``[R, P]`` without the ``[R, R]``
    matrix: ``chunk`` rows at a time, recomputed in backward, memory ``chunk * R``. With
    ``self_index``, the mean over those rows only (e.g. one process's rows in a global batch)."""
    from torch.utils.checkpoint import checkpoint

    R = s.shape[0]
    if n_series < 1 or R % n_series:
        raise ValueError(f"s has {R} rows, not a positive multiple of n_series ({n_series})")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    index = torch.arange(R, device=s.device) if self_index is None else self_index
    s = F.normalize(wide(s), dim=1)  # [R, P]
    total = sum(checkpoint(_constraint_block, s, index[a:a + chunk], n_series, temperature, use_reentrant=False)
                for a in range(0, len(index), chunk))
    return total / len(index)
