"""Builders: the only place that reads configs. Each returns plain modules."""
from __future__ import annotations

import numbers

import torch.nn as nn

from simmtm.baselines.augmentations import MaskAugment
from simmtm.config import CNNConfig, ResNetConfig, SimMTMConfig, TransformerConfig
from simmtm.encoders import ChannelIndependentTransformer, ResNet1D, TFCEncoder, output_shape
from simmtm.heads import ClassificationHead, FlattenHead, FlattenProjector, PointwiseDecoder, PooledProjector
from simmtm.losses import AutomaticWeightedLoss, FixedWeightedLoss
from simmtm.model import ClassificationModel, ForecastingModel, SimMTM
from simmtm.normalization import InstanceNorm
from simmtm.baselines.objectives import METHODS, MaskedReconstruction, TwoViewObjective


def build_encoder(cfg: SimMTMConfig) -> nn.Module:
    """The encoder named by ``cfg.encoder`` for ``cfg.n_channels`` input channels."""
    enc = cfg.encoder
    if isinstance(enc, TransformerConfig):
        return ChannelIndependentTransformer(enc.d_model, enc.n_heads, enc.n_layers, enc.d_ff, enc.dropout,
                                             enc.attn_dropout, max_len=max(cfg.seq_len, 5000), patch_len=enc.patch_len)
    if isinstance(enc, CNNConfig):
        return TFCEncoder(cfg.n_channels, enc.channels, enc.kernel_sizes, enc.strides, enc.dropouts)
    if isinstance(enc, ResNetConfig):
        return ResNet1D(cfg.n_channels, enc.channels, enc.strides, enc.kernel_sizes)
    raise ValueError(f"unknown encoder config {enc!r}")


def _rows(encoder: nn.Module, cfg: SimMTMConfig) -> tuple[int, int, int, int]:
    """``(K, T, D, out_channels_per_row)`` for this encoder and config."""
    expected = getattr(encoder, "in_channels", None)
    if expected is not None and expected != cfg.n_channels:
        raise ValueError(f"the encoder takes {expected} input channels but the data has {cfg.n_channels} channels")
    K, T, D = output_shape(encoder, cfg.seq_len, cfg.n_channels)
    return K, T, D, cfg.n_channels // K


def _expected_channels(encoder: nn.Module, cfg: SimMTMConfig) -> int | None:
    """Channel count inputs must have: any (None) for channel-independent encoders, which
    serve every channel count (what makes cross-domain transfer work)."""
    return None if getattr(encoder, "channel_independent", False) else cfg.n_channels


def _projector(cfg: SimMTMConfig, T: int, D: int) -> nn.Module:
    if cfg.projector == "flatten":
        return FlattenProjector(T, D, cfg.proj_dim, cfg.proj_hidden)
    if cfg.projector == "pooled":
        return PooledProjector(D, cfg.proj_dim, cfg.proj_hidden)
    raise ValueError(f"projector must be 'flatten' or 'pooled', got {cfg.projector!r}")


def _decoder(cfg: SimMTMConfig, T: int, D: int, out_ch: int) -> nn.Module:
    if cfg.decoder == "pointwise":
        if cfg.seq_len % T:
            raise ValueError(f"decoder='pointwise' needs tokens of whole steps (T={T}, L={cfg.seq_len}); "
                             "use decoder='flatten' with this encoder")
        return PointwiseDecoder(D, out_ch, steps_per_token=cfg.seq_len // T)
    if cfg.decoder == "flatten":
        return FlattenHead(T, D, cfg.seq_len, out_ch)
    raise ValueError(f"decoder must be 'pointwise' or 'flatten', got {cfg.decoder!r}")


def build_simmtm(cfg: SimMTMConfig) -> SimMTM:
    """A SimMTM pre-training model from a config (``cfg.method`` is not read: see
    :func:`build_pretrainer` for the baselines)."""
    encoder = build_encoder(cfg)
    K, T, D, out_ch = _rows(encoder, cfg)
    if cfg.loss_weighting == "auto":
        weighting = AutomaticWeightedLoss(2)
    elif isinstance(cfg.loss_weighting, (int, float)):
        weighting = FixedWeightedLoss(cfg.loss_weighting)
    else:
        raise ValueError(f"loss_weighting must be 'auto' or a number, got {cfg.loss_weighting!r}")
    return SimMTM(encoder, _projector(cfg, T, D), _decoder(cfg, T, D, out_ch), n_views=cfg.n_views,
                  mask_ratio=cfg.mask_ratio, mean_span=cfg.mean_span, mask_kind=cfg.mask_kind,
                  temperature=cfg.temperature, weighting=weighting,
                  norm=InstanceNorm() if cfg.instance_norm else None,
                  seq_len=cfg.seq_len, n_channels=_expected_channels(encoder, cfg),
                  similarity_chunk=cfg.similarity_chunk, global_similarity=cfg.global_similarity)


def build_pretrainer(cfg: SimMTMConfig) -> nn.Module:
    """The pre-training model for ``cfg.method``: SimMTM or a baseline objective on the same
    encoder, projector and decoder (:mod:`simmtm.baselines.objectives`)."""
    if cfg.method == "simmtm":
        return build_simmtm(cfg)
    encoder = build_encoder(cfg)
    K, T, D, out_ch = _rows(encoder, cfg)
    n_channels = _expected_channels(encoder, cfg)
    if cfg.method in ("simclr", "simclr-mask", "vicreg", "barlow"):
        augment = MaskAugment(cfg.mask_ratio, cfg.mean_span) if cfg.method == "simclr-mask" else None
        return TwoViewObjective(encoder, _projector(cfg, T, D), cfg.method.removesuffix("-mask"), augment=augment,
                                temperature=cfg.temperature, seq_len=cfg.seq_len, n_channels=n_channels)
    if cfg.method == "masked":
        return MaskedReconstruction(encoder, _decoder(cfg, T, D, out_ch), mask_ratio=cfg.mask_ratio,
                                    mean_span=cfg.mean_span, mask_kind=cfg.mask_kind,
                                    norm=InstanceNorm() if cfg.instance_norm else None,
                                    seq_len=cfg.seq_len, n_channels=n_channels)
    raise ValueError(f"unknown method {cfg.method!r}; choose from {(*METHODS, 'simclr-mask')}")


def build_forecaster(cfg: SimMTMConfig, horizon: int, encoder: nn.Module | None = None,
                     head_dropout: float = 0.0) -> ForecastingModel:
    """A forecaster for ``horizon`` steps; pass a pre-trained ``encoder`` to fine-tune it."""
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    if not (isinstance(head_dropout, (int, float)) and 0 <= head_dropout < 1):
        raise ValueError(f"head_dropout must be in [0, 1), got {head_dropout!r}")
    encoder = encoder if encoder is not None else build_encoder(cfg)
    K, T, D, out_ch = _rows(encoder, cfg)
    head = FlattenHead(T, D, horizon, out_ch, dropout=head_dropout)
    n_channels = _expected_channels(encoder, cfg)
    return ForecastingModel(encoder, head, InstanceNorm() if cfg.instance_norm else None,
                      seq_len=cfg.seq_len, n_channels=n_channels)


def build_classifier(cfg: SimMTMConfig, n_classes: int, encoder: nn.Module | None = None,
                     hidden: int = 64) -> ClassificationModel:
    """A classifier; pass a pre-trained ``encoder`` to fine-tune it."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    encoder = encoder if encoder is not None else build_encoder(cfg)
    K, T, D, _ = _rows(encoder, cfg)
    return ClassificationModel(encoder, ClassificationHead(K * T * D, n_classes, hidden),
                      seq_len=cfg.seq_len, n_channels=cfg.n_channels)
