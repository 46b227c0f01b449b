"""Series-wise similarity and point-wise aggregation (SimMTM, Sec. 3.2-3.3, Eq. 3-4).

Legend: R rows (originals and masked views, ``R = (M+1) * N``), N series rows per view,
P projector width, T time steps of the point-wise representation, D its width.
Row ordering follows :func:`simmtm.masking.mask_views`: rows ``r`` and ``r + k*N`` are views
of the same series, so positives are the other rows with the same index modulo ``N``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from simmtm.utils.checks import check_positive


def cosine_similarity_matrix(s: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between all rows of ``s`` (Eq. 3).

    Args:
        s: series-wise representations ``[R, P]``.

    Returns:
        ``[R, R]`` matrix with ``out[i, j] = <s_i, s_j> / (|s_i| |s_j|)``.
    """
    if s.dim() != 2:
        raise ValueError(f"s must have shape [R, P], got {tuple(s.shape)}")
    s = F.normalize(s, dim=1)  # [R, P]
    return s @ s.T  # [R, R]


def positive_mask(n_rows: int, n_series: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``[R, R]`` matrix marking each row's positives: the rows with the same index
    modulo ``n_series`` (its original and other views), the row itself excluded."""
    if n_series < 1 or n_rows % n_series:
        raise ValueError(f"n_rows ({n_rows}) must be a positive multiple of n_series ({n_series})")
    idx = torch.arange(n_rows, device=device) % n_series
    same = idx[:, None] == idx[None, :]  # [R, R]
    return same & ~torch.eye(n_rows, dtype=torch.bool, device=device)


def exclude_self_logits(similarity: torch.Tensor, temperature: float, rows: int | None = None,
                        self_index: torch.Tensor | None = None) -> torch.Tensor:
    """``similarity / temperature`` with each row's own entry set to -inf.

    Args:
        similarity: ``[R, R]``, or ``[n, R]`` rows of a larger matrix with ``self_index``.
        temperature: tau > 0.
        rows: keep only the first ``rows`` rows (default: all), giving ``[rows, R]``.
        self_index: ``[n]`` column of each row's own entry (default: row i is column i), e.g.
            this process's rows within a batch gathered from several processes.
    """
    check_positive("temperature", temperature)
    rows = similarity.shape[0] if rows is None else rows
    logits = similarity[:rows] / temperature  # [rows, R]
    row = torch.arange(rows, device=similarity.device)
    col = row if self_index is None else self_index[:rows]
    return logits.index_put((row, col), torch.tensor(float("-inf"), device=logits.device, dtype=logits.dtype))


def aggregation_weights(similarity: torch.Tensor, temperature: float, rows: int | None = None,
                        self_index: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax of ``similarity / temperature`` over the other rows (Eq. 4): the weights with
    which each series is rebuilt from the others. Each row sums to 1 and has a 0 diagonal.

    Returns ``[rows, R]`` (``rows`` defaults to R); ``self_index`` as in :func:`exclude_self_logits`."""
    return torch.softmax(exclude_self_logits(similarity, temperature, rows, self_index), dim=1)


def aggregate(
    similarity: torch.Tensor, z: torch.Tensor, temperature: float, rows: int | None = None,
    self_index: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Point-wise aggregation: rebuild each row's point-wise representation as the
    similarity-weighted sum of the other rows' (Eq. 4), ``z_hat_i = sum_{j != i} w_ij z_j``.

    Args:
        similarity: series-wise similarity ``[R, R]``.
        z: point-wise representations ``[R, ...]`` (e.g. ``[R, T, D]``).
        temperature: tau (0.2 in the paper).
        rows: rebuild only the first ``rows`` rows (the originals, whose reconstruction is the
            loss). The result and its gradients for those rows are identical to the full
            computation, at ``rows / R`` of the cost.
        self_index: each row's own column when ``similarity`` is ``[n, R]`` rows of a larger
            matrix (:func:`exclude_self_logits`); ``z`` then holds all R rows.

    Returns:
        ``(z_hat, weights)``: ``z_hat`` is ``[rows, ...]`` like ``z``, ``weights`` ``[rows, R]``.
    """
    if z.shape[0] != similarity.shape[1]:
        raise ValueError(f"z has {z.shape[0]} rows but similarity is {tuple(similarity.shape)}")
    weights = aggregation_weights(similarity, temperature, rows, self_index)  # [rows, R]
    z_hat = weights @ z.reshape(z.shape[0], -1)  # [rows, T*D]
    return z_hat.view(weights.shape[0], *z.shape[1:]), weights  # [rows, T, D]


def _aggregate_block(s_all: torch.Tensor, z_flat: torch.Tensor, index: torch.Tensor, temperature: float) -> torch.Tensor:
    """Rows ``index`` of :func:`aggregate` from normalised projections ``s_all`` ``[R, P]``."""
    logits = (s_all[index] @ s_all.T) / temperature  # [c, R]
    i = torch.arange(len(index), device=logits.device)
    logits = logits.index_put((i, index), torch.tensor(float("-inf"), device=logits.device, dtype=logits.dtype))
    return torch.softmax(logits, dim=1) @ z_flat  # [c, T*D]


def aggregate_chunked(s: torch.Tensor, z: torch.Tensor, temperature: float, rows: int | None = None,
                      chunk: int = 1024, self_index: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`aggregate` from the projections ``s`` ``[R, P]`` without the ``[R, R]`` matrix.

    Rows are rebuilt ``chunk`` at a time and each block's similarities and weights are
    recomputed in the backward pass (activation checkpointing), so memory grows as
    ``chunk * R`` instead of ``R^2``; values and gradients equal the dense path's.

    Rebuilds rows ``0 .. rows - 1`` (default all R), or the rows ``self_index`` (e.g. one
    process's originals within a gathered global batch). Returns ``z_hat`` ``[rows, ...]``.
    """
    from torch.utils.checkpoint import checkpoint

    check_positive("temperature", temperature)
    if s.dim() != 2 or z.shape[0] != s.shape[0]:
        raise ValueError(f"s must be [R, P] and z [R, ...] with the same R, got {tuple(s.shape)}, {tuple(z.shape)}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    index = torch.arange(s.shape[0] if rows is None else rows, device=s.device) if self_index is None else self_index
    s = F.normalize(s, dim=1)  # [R, P]
    z_flat = z.reshape(z.shape[0], -1)  # [R, T*D]
    blocks = [checkpoint(_aggregate_block, s, z_flat, index[a:a + chunk], temperature, use_reentrant=False)
              for a in range(0, len(index), chunk)]
    return torch.cat(blocks).view(len(index), *z.shape[1:])  # [rows, T, D]
