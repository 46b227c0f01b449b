import torch

from simmtm.heads import (ClassificationHead, FlattenHead, FlattenProjector, PointwiseDecoder, PooledProjector,
                          rows_to_series, mlp)


def test_rows_to_series_mapping():
    y = torch.arange(2 * 3 * 4 * 1).float().view(2, 3, 4, 1)  # [N, K=C, H, 1]
    s = rows_to_series(y)
    assert s.shape == (2, 4, 3)
    assert s[1, 2, 0] == y[1, 0, 2, 0] and s[0, 3, 2] == y[0, 2, 3, 0]


def test_projectors():
    z = torch.randn(6, 10, 4)
    fp = FlattenProjector(10, 4, out_dim=5)
    assert fp(z).shape == (6, 5)
    assert fp.net[0].in_features == 40 and fp.net[0].out_features == 20  # official T*D -> T*D/2
    assert PooledProjector(4, out_dim=5)(z).shape == (6, 5)


def test_decoders_and_heads_shapes():
    z = torch.randn(2, 3, 10, 4)  # [N, K, T, D]
    assert PointwiseDecoder(4, 1)(z).shape == (2, 10, 3)
    assert FlattenHead(10, 4, out_steps=7, out_channels=1)(z).shape == (2, 7, 3)
    z1 = torch.randn(2, 1, 10, 4)  # channel-mixing encoder: one row per series
    assert FlattenHead(10, 4, out_steps=178, out_channels=3)(z1).shape == (2, 178, 3)
    assert ClassificationHead(40, 5)(z1).shape == (2, 5)


def test_mlp_layout():
    net = mlp([8, 4, 2], batch_norm=True)
    assert [type(m).__name__ for m in net] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
