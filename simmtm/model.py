"""SimMTM (Dong et al., NeurIPS 2023) and the fine-tuning models that reuse its encoder.

Legend: B batch, L length, C channels, M views, K representation rows per series
(C for channel-independent encoders, 1 otherwise), T representation steps, D width,
R = (M+1)*B*K rows entering the series-wise similarity, P projector width.

Every public ``forward`` takes series ``[B, L, C]`` (time first, channels last). Data in the
``[B, C, L]`` layout of TF-C ``.pt`` files is converted once, at loading, with
:func:`simmtm.data.channels_last`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from simmtm.utils.distributed import gather_rows, is_distributed, local_rows
from simmtm.losses import AutomaticWeightedLoss, constraint_loss, constraint_loss_chunked, reconstruction_loss
from simmtm.masking import MASK_KINDS, mask_views
from simmtm.normalization import InstanceNorm
from simmtm.similarity import aggregate, aggregate_chunked, cosine_similarity_matrix
from simmtm.utils.checks import check_positive, check_probability, check_series


@dataclass
class SimMTMOutput:
    """What one pre-training forward returns.

    loss: the total objective; loss_rec / loss_con: its two parts (Eq. 5, 6);
    reconstruction: rebuilt originals ``[B, L, C]``; mask: ``[(M+1)*B, L, C]`` (1 = observed).
    With ``return_matrices=True``: similarity ``[R, R]`` and the aggregation weights of the
    original rows ``[B*K, R]``.
    """

    loss: torch.Tensor
    loss_rec: torch.Tensor
    loss_con: torch.Tensor
    reconstruction: torch.Tensor
    mask: torch.Tensor
    similarity: torch.Tensor | None = None
    weights: torch.Tensor | None = None

    @property
    def terms(self) -> dict[str, torch.Tensor]:
        """The loss's named parts (as :class:`simmtm.baselines.objectives.PretrainOutput` has them)."""
        return {"loss_rec": self.loss_rec, "loss_con": self.loss_con}


class SimMTM(nn.Module):
    """Masked pre-training by series-wise similarity and point-wise aggregation.

    ``forward(x)``: mask ``n_views`` copies of every series, encode originals and views,
    project to series-wise vectors, rebuild each ORIGINAL's point-wise representation from
    all other rows weighted by softmax(similarity / tau), decode, and score the rebuilt
    originals against the originals (reconstruction) plus the constraint loss that pulls
    the views of one series together.

    Args:
        encoder: ``[N, L, C] -> [N, K, T, D]`` (see :mod:`simmtm.encoders`).
        projector: ``[R, T, D] -> [R, P]``.
        decoder: ``[B, K, T, D] -> [B, L, C]``.
        n_views: masked views per series (M; 3 in the paper).
        mask_ratio, mean_span, mask_kind: see :func:`simmtm.masking.make_masks`.
        temperature: tau for both similarity softmaxes (0.2 in the paper).
        weighting: combines ``(loss_rec, loss_con)``; default the official learned weighting.
        norm: optional :class:`~simmtm.normalization.InstanceNorm` (the forecasting setup:
            statistics over observed points, reconstruction de-normalised before the loss).
        seq_len, n_channels: if given, inputs are checked against them (clear errors instead
            of a shape mismatch deep inside a layer).
        similarity_chunk: if given, the similarity softmaxes, aggregation and constraint loss are
            computed that many rows at a time and recomputed in backward (memory ``chunk * R``
            instead of ``R^2``; same values and gradients), unless ``return_matrices`` asks for them.
        global_similarity: under torch.distributed, compare and aggregate over the GLOBAL batch
            (every process's rows, gathered differentiably) so that W processes x batch b learn
            what one process with batch W*b learns; False (the official behaviour) keeps each
            process's batch on its own. Training only (evaluation stays per process, so uneven
            validation shards need no collective); no effect in a single process.
    """

    def __init__(self, encoder: nn.Module, projector: nn.Module, decoder: nn.Module, *,
                 n_views: int = 3, mask_ratio: float = 0.5, mean_span: float = 3.0,
                 mask_kind: str = "geometric", temperature: float = 0.2,
                 weighting: nn.Module | None = None, norm: InstanceNorm | None = None,
                 seq_len: int | None = None, n_channels: int | None = None, similarity_chunk: int | None = None,
                 global_similarity: bool = False):
        super().__init__()
        if similarity_chunk is not None and similarity_chunk < 1:
            raise ValueError(f"similarity_chunk must be >= 1 or None, got {similarity_chunk}")
        if not isinstance(n_views, int) or n_views < 1:
            raise ValueError(f"n_views must be an integer >= 1, got {n_views!r}")
        check_positive("temperature", temperature)
        check_probability("mask_ratio", mask_ratio)
        if mask_kind not in MASK_KINDS:
            raise ValueError(f"mask_kind must be one of {MASK_KINDS}, got {mask_kind!r}")
        self.encoder, self.projector, self.decoder = encoder, projector, decoder
        self.weighting = weighting if weighting is not None else AutomaticWeightedLoss(2)
        self.norm = norm
        self.n_views, self.mask_ratio, self.mean_span, self.mask_kind = n_views, mask_ratio, mean_span, mask_kind
        self.temperature = temperature
        self.seq_len, self.n_channels = seq_len, n_channels
        self.similarity_chunk = similarity_chunk
        self.global_similarity = global_similarity

    def forward(self, x: torch.Tensor, *, mask: torch.Tensor | None = None,
                generator: torch.Generator | None = None, return_matrices: bool = False) -> SimMTMOutput:
        """Pre-training objective on a batch ``x: [B, L, C]``.

        ``mask`` (``[(M+1)*B, L, C]``, originals first) replaces the random masks, e.g. for
        tests; otherwise masks are drawn with ``generator``.
        """
        check_series("x", x, channels=self.n_channels, length=self.seq_len)
        B = x.shape[0]
        if mask is None:
            x_all, mask = mask_views(x, self.n_views, self.mask_ratio, self.mean_span, self.mask_kind,
                                     generator=generator)  # [(M+1)*B, L, C]
        else:
            if mask.shape != (B * (self.n_views + 1), *x.shape[1:]):
                raise ValueError(f"mask must be [(M+1)*B, L, C] = {[B * (self.n_views + 1), *x.shape[1:]]}, "
                                 f"got {list(mask.shape)}")
            x_all = x.repeat(self.n_views + 1, 1, 1) * mask
        stats = None
        if self.norm is not None:
            x_all, stats = self.norm.normalize(x_all, mask)

        z = self.encoder(x_all)  # [(M+1)*B, K, T, D]
        _, K, T, D = z.shape
        rows = z.reshape(-1, T, D)  # [R, T, D], row = view*B*K + b*K + k
        s = self.projector(rows)  # [R, P]
        V, tau, chunk = self.n_views + 1, self.temperature, self.similarity_chunk
        if self.global_similarity and self.training and is_distributed():  # every process's rows as candidates
            s_all, rows_all = gather_rows(s, V), gather_rows(rows, V)  # [W*R, P], [W*R, T, D]
            mine = local_rows(B * K, V).to(s.device)  # [R] this process's rows in the gathered order
        else:
            s_all, rows_all, mine = s, rows, None  # rows i of the loss = row i of the matrix
        n_series, originals = s_all.shape[0] // V, None if mine is None else mine[:B * K]
        if chunk is not None and not return_matrices:  # never materialise [R, R_all]
            similarity = weights = None
            loss_con = constraint_loss_chunked(s_all, n_series, tau, chunk, mine)
            z_hat = aggregate_chunked(s_all, rows_all, tau, rows=B * K, chunk=chunk, self_index=originals)
        else:
            if mine is None:
                similarity = cosine_similarity_matrix(s_all)  # [R, R]
            else:
                s_all = F.normalize(s_all, dim=1)
                similarity = s_all[mine] @ s_all.T  # [R, W*R]
            loss_con = constraint_loss(similarity, n_series, tau, self_index=mine)
            z_hat, weights = aggregate(similarity, rows_all, tau, rows=B * K, self_index=originals)  # [B*K, T, D]
        reconstruction = self.decoder(z_hat.view(B, K, T, D))  # [B, L, C]
        if reconstruction.shape != x.shape:
            raise ValueError(f"decoder output {tuple(reconstruction.shape)} does not match input {tuple(x.shape)}")
        if stats is not None:
            reconstruction = self.norm.denormalize(reconstruction, (stats[0][:B], stats[1][:B]))
        loss_rec = reconstruction_loss(reconstruction, x)
        loss = self.weighting(loss_rec, loss_con)
        return SimMTMOutput(loss, loss_rec.detach(), loss_con.detach(), reconstruction, mask,
                            similarity.detach() if return_matrices and similarity is not None else None,
                            weights.detach() if return_matrices and weights is not None else None)


class ForecastingModel(nn.Module):
    """Fine-tuning model for forecasting: (normalise) -> encoder -> head -> (de-normalise).

    ``forward(x: [B, L, C]) -> [B, H, C]``; ``head`` maps ``[B, K, T, D] -> [B, H, C]``
    (e.g. :class:`simmtm.heads.FlattenHead` with ``out_steps = H``). Reading a user's file and
    writing dated forecasts is :class:`simmtm.forecasting.forecaster.Forecaster`'s job.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, norm: InstanceNorm | None = None, *,
                 seq_len: int | None = None, n_channels: int | None = None):
        super().__init__()
        self.encoder, self.head, self.norm = encoder, head, norm
        self.seq_len, self.n_channels = seq_len, n_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_series("x", x, channels=self.n_channels, length=self.seq_len)
        stats = None
        if self.norm is not None:
            x, stats = self.norm.normalize(x)
        y = self.head(self.encoder(x))  # [B, H, C]
        return self.norm.denormalize(y, stats) if stats is not None else y


class ClassificationModel(nn.Module):
    """Fine-tuning model for classification: encoder -> head. ``[B, L, C] -> [B, n_classes]``.

    Labels, input preparation and ``predict`` on files belong to
    :class:`simmtm.classification.classifier.Classifier`, which wraps one of these.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, *, seq_len: int | None = None,
                 n_channels: int | None = None):
        super().__init__()
        self.encoder, self.head = encoder, head
        self.seq_len, self.n_channels = seq_len, n_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_series("x", x, channels=self.n_channels, length=self.seq_len)
        return self.head(self.encoder(x))
