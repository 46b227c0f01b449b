import pytest
import torch

from simmtm.encoders import (ChannelIndependentTransformer, ResidualBlock1D, ResNet1D, TFCEncoder,
                             output_shape, sinusoidal_positions)


def test_transformer_shape_and_channel_independence():
    enc = ChannelIndependentTransformer(d_model=16, n_heads=4, n_layers=2, d_ff=32, dropout=0.0).eval()
    x = torch.randn(3, 24, 5)
    z = enc(x)
    assert z.shape == (3, 5, 24, 16)
    # Each channel is encoded on its own: channel 2 alone gives the same representation.
    assert torch.allclose(enc(x[:, :, 2:3])[:, 0], z[:, 2], atol=1e-5)


def test_transformer_is_post_ln_with_final_norm():
    enc = ChannelIndependentTransformer(d_model=8, n_heads=2, n_layers=1, d_ff=16, dropout=0.0).eval()
    z = enc(torch.randn(2, 10, 1))
    assert torch.allclose(z.mean(-1), torch.zeros(2, 1, 10), atol=1e-5)  # LayerNorm output


def test_sinusoidal_positions():
    p = sinusoidal_positions(5, 4)
    assert torch.allclose(p[:, 0], torch.sin(torch.arange(5.0)))
    assert torch.allclose(p[:, 1], torch.cos(torch.arange(5.0)))


def test_tfc_cnn_gives_1280_features_for_178_points():
    enc = TFCEncoder(in_channels=1)
    assert output_shape(enc, 178, 1) == (1, 10, 128)
    assert output_shape(TFCEncoder(3, kernel_sizes=(8, 8, 8), strides=(1, 1, 1)), 206, 3)[0] == 1


def test_resnet_shapes_and_working_skip_connection():
    enc = ResNet1D(in_channels=2, channels=(8, 16), strides=(2, 2))
    assert output_shape(enc, 50, 2) == (1, 13, 16)
    block = ResidualBlock1D(4, 4, (3, 3), stride=1).eval()
    for p in block.body.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 4, 9)
    assert torch.allclose(block(x), torch.relu(x))  # zero body: output = ReLU(identity skip)
    down = ResidualBlock1D(4, 6, (3,), stride=2).eval()
    assert down(x).shape == (2, 6, 5)


def test_gradients_reach_every_encoder_parameter():
    for enc in (ChannelIndependentTransformer(8, 2, 2, 16), TFCEncoder(1), ResNet1D(1)):
        enc(torch.randn(4, 178, 1)).square().mean().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())


def test_bad_sizes():
    with pytest.raises(ValueError, match="divisible"):
        ChannelIndependentTransformer(d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="same length"):
        TFCEncoder(1, channels=(8, 16), kernel_sizes=(3,), strides=(1,), dropouts=(0.0,))
    with pytest.raises(ValueError, match="max_len"):
        ChannelIndependentTransformer(8, 2, 1, 8, max_len=10)(torch.randn(1, 11, 1))
