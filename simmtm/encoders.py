"""Encoders: series ``[N, L, C]`` -> point-wise representations ``[N, K, T, D]``.

K is the number of representation rows per series: ``K = C`` for the channel-independent
Transformer (each channel is encoded on its own, so one encoder serves any channel count) and
``K = 1`` for the CNN / ResNet, which mix channels. T is the number of representation steps
(``T = L`` for the Transformer, fewer after pooling in the CNNs) and D the feature width.
Sizes always come from arguments.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from simmtm.dropout import Dropout


# --------------------------------------------------------------------------- Transformer
def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    """Fixed sinusoidal position table ``[length, d_model]`` (Vaswani et al., 2017)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]  # [L, 1]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: d_model // 2])
    return table


class TokenEmbedding(nn.Module):
    """Circular Conv1d (kernel 3, no bias) from ``in_features`` values per step to ``d_model``."""

    def __init__(self, in_features: int, d_model: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(in_features, d_model, kernel_size, padding=kernel_size // 2,
                              padding_mode="circular", bias=False)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="leaky_relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, L, F] -> [N, L, D]
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


class PatchEmbedding(nn.Module):
    """Non-overlapping patches of ``patch_len`` steps, each projected to ``d_model`` (PatchTST-style
    tokens): ``[N, L, 1] -> [N, L / patch_len, D]``. Masks still act on single time steps."""

    def __init__(self, patch_len: int, d_model: int):
        super().__init__()
        self.patch_len = patch_len
        self.proj = nn.Linear(patch_len, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, L, F_ = x.shape
        if L % self.patch_len:
            raise ValueError(f"series length {L} is not a multiple of patch_len {self.patch_len}")
        return self.proj(x.reshape(N, L // self.patch_len, self.patch_len * F_))  # [N, L/P, D]


class MultiHeadSelfAttention(nn.Module):
    """Self-attention through ``F.scaled_dot_product_attention`` (fused kernels).

    ``attn_dropout`` drops attention weights as the official model does; it forces the
    slower unfused path on CPU, so it defaults to 0 in our presets. ``kernel`` computes
    ``[N, h, L, d]`` attention from q, k, v (swap it with :func:`simmtm.reference.attention_kernel`).
    """

    kernel = staticmethod(F.scaled_dot_product_attention)

    def __init__(self, d_model: int, n_heads: int, attn_dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.attn_dropout = attn_dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, L, D = x.shape
        # One projection per q / k / v (slices of the fused weight): each is a dense [N, L, h, d]
        # tensor seen as [N, h, L, d], so the attention gradients land in place, with no strided
        # copy into a stacked [N, L, 3, h, d] buffer in the backward pass.
        q, k, v = (F.linear(x, w, b).view(N, L, self.n_heads, D // self.n_heads).transpose(1, 2)  # [N, h, L, D/h]
                   for w, b in zip(self.qkv.weight.chunk(3), self.qkv.bias.chunk(3)))
        p = self.attn_dropout if self.training else 0.0
        if q.device.type == "cpu" and q.dtype in (torch.bfloat16, torch.float16):
            # Under CPU autocast (or a half model): the CPU attention kernels are no faster in bf16 than in fp32 at
            # any head size we measured (d = 4..64, L = 336), so attend in fp32 (also more exact).
            with torch.autocast("cpu", enabled=False):
                y = self.kernel(q.float(), k.float(), v.float(), dropout_p=p).to(q.dtype)
        else:
            y = self.kernel(q, k, v, dropout_p=p)  # [N, h, L, D/h]
        return self.out(y.transpose(1, 2).reshape(N, L, D))  # [N, L, D]


class TransformerLayer(nn.Module):
    """Post-LN encoder layer: ``x = LN(x + attn(x)); x = LN(x + FFN(x))`` with a GELU FFN."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, attn_dropout: float = 0.0):
        super().__init__()
        self.attention = MultiHeadSelfAttention(d_model, n_heads, attn_dropout)
        self.ffn = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), Dropout(dropout), nn.Linear(d_ff, d_model))
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.attention(x)))
        return self.norm2(x + self.dropout(self.ffn(x)))


class ChannelIndependentTransformer(nn.Module):
    """The official SimMTM forecasting encoder, shared by all channels.

    ``[N, L, C] -> [N*C, L, 1]`` (channels folded into the batch) -> token embedding +
    sinusoidal positions -> ``n_layers`` post-LN layers -> final LayerNorm -> ``[N, C, T, D]``.
    With ``patch_len = 1`` (official) every time step is a token (T = L, circular Conv1d
    embedding); with ``patch_len = P > 1`` tokens are patches of P steps (T = L / P), which
    cuts attention cost by P^2. Input normalisation is not done here: see
    :mod:`simmtm.normalization`.
    """

    channel_independent = True

    def __init__(self, d_model: int = 32, n_heads: int = 8, n_layers: int = 2, d_ff: int = 64,
                 dropout: float = 0.1, attn_dropout: float = 0.0, max_len: int = 5000, patch_len: int = 1):
        super().__init__()
        if patch_len < 1:
            raise ValueError(f"patch_len must be >= 1, got {patch_len}")
        self.d_model, self.patch_len = d_model, patch_len
        self.embedding = TokenEmbedding(1, d_model) if patch_len == 1 else PatchEmbedding(patch_len, d_model)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        self.dropout = Dropout(dropout)
        self.layers = nn.ModuleList(
            TransformerLayer(d_model, n_heads, d_ff, dropout, attn_dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, L, C = x.shape
        h = self.embedding(x.transpose(1, 2).reshape(N * C, L, 1))  # [N*C, T, D]
        T = h.shape[1]
        if T > self.positions.shape[0]:
            raise ValueError(f"{T} tokens exceed max_len {self.positions.shape[0]}")
        h = self.dropout(h + self.positions[:T])  # [N*C, T, D]
        for layer in self.layers:
            h = layer(h)
        return self.norm(h).view(N, C, T, self.d_model)  # [N, C, T, D]


# --------------------------------------------------------------------------- CNNs
class TFCEncoder(nn.Module):
    """TF-C-style CNN (the official SimMTM classification encoder).

    Each block: Conv1d (no bias) -> BatchNorm -> ReLU -> MaxPool(2, 2, padding 1) -> Dropout.
    Defaults match the SleepEEG/Epilepsy configuration (kernels 25/8/8, strides 3/1/1,
    32 -> 64 -> 128 channels, dropout 0.35 after the first block): a 178-point series gives
    T = 10 steps of D = 128 features (the 1280 flattened features of the official code).
    ``[N, L, C] -> [N, 1, T, D]``.
    """

    channel_independent = False

    def __init__(self, in_channels: int, channels: Sequence[int] = (32, 64, 128),
                 kernel_sizes: Sequence[int] = (25, 8, 8), strides: Sequence[int] = (3, 1, 1),
                 dropouts: Sequence[float] = (0.35, 0.0, 0.0)):
        super().__init__()
        if not len(channels) == len(kernel_sizes) == len(strides) == len(dropouts):
            raise ValueError("channels, kernel_sizes, strides and dropouts must have the same length")
        self.in_channels = in_channels
        blocks, c_in = [], in_channels
        for c_out, k, s, p in zip(channels, kernel_sizes, strides, dropouts):
            blocks.append(nn.Sequential(
                nn.Conv1d(c_in, c_out, k, stride=s, padding=k // 2, bias=False), nn.BatchNorm1d(c_out),
                nn.ReLU(), nn.MaxPool1d(2, 2, padding=1), nn.Dropout(p)))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x.transpose(1, 2))  # [N, D, T]
        return h.transpose(1, 2).unsqueeze(1)  # [N, 1, T, D]


class ResidualBlock1D(nn.Module):
    """Conv-BN-ReLU stack with an identity (or 1x1-conv) skip connection, ReLU after the sum.
    The first conv carries the stride."""

    def __init__(self, c_in: int, c_out: int, kernel_sizes: Sequence[int] = (7, 5, 3), stride: int = 1):
        super().__init__()
        layers, c = [], c_in
        for i, k in enumerate(kernel_sizes):
            layers += [nn.Conv1d(c, c_out, k, stride=stride if i == 0 else 1, padding=k // 2, bias=False),
                       nn.BatchNorm1d(c_out)]
            if i < len(kernel_sizes) - 1:
                layers.append(nn.ReLU())
            c = c_out
        self.body = nn.Sequential(*layers)
        self.skip = (nn.Identity() if c_in == c_out and stride == 1 else
                     nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, c_in, L] -> [N, c_out, ceil(L/stride)]
        return F.relu(self.body(x) + self.skip(x))


class ResNet1D(nn.Module):
    """1D ResNet (Wang et al., 2017, with strided blocks): residual blocks of
    ``channels[i]`` filters, each downsampling time by ``strides[i]``.
    ``[N, L, C] -> [N, 1, T, D]`` with ``D = channels[-1]`` and ``T = L / prod(strides)`` (rounded up)."""

    channel_independent = False

    def __init__(self, in_channels: int, channels: Sequence[int] = (32, 64, 128),
                 strides: Sequence[int] = (2, 2, 2), kernel_sizes: Sequence[int] = (7, 5, 3)):
        super().__init__()
        if len(channels) != len(strides):
            raise ValueError("channels and strides must have the same length")
        self.in_channels = in_channels
        blocks, c_in = [], in_channels
        for c_out, s in zip(channels, strides):
            blocks.append(ResidualBlock1D(c_in, c_out, kernel_sizes, s))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x.transpose(1, 2))  # [N, D, T]
        return h.transpose(1, 2).unsqueeze(1)  # [N, 1, T, D]


@torch.no_grad()
def output_shape(encoder: nn.Module, seq_len: int, n_channels: int) -> tuple[int, int, int]:
    """``(K, T, D)`` of ``encoder`` on ``[*, seq_len, n_channels]`` input, by a dry run."""
    was_training = encoder.training
    encoder.eval()
    try:
        device = next((p.device for p in encoder.parameters()), torch.device("cpu"))
        z = encoder(torch.zeros(1, seq_len, n_channels, device=device))
    finally:
        encoder.train(was_training)
    return tuple(z.shape[1:])  # type: ignore[return-value]
