"""Augmentations: shape/dtype/device kept, reproducible under a seed, and each does what its name says."""
import pytest
import torch

from simmtm.baselines.augmentations import (AUGMENTATIONS, RandomAugment, blockout, channel_noise, crop_resize, jitter,
                                  magnitude_warp, random_smoothing, resample, scaling, sign_flip, smooth_curves,
                                  time_flip, time_warp)


@pytest.fixture
def x():
    return torch.randn(8, 64, 3)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_and_seed(name, dtype, x):
    f = AUGMENTATIONS[name]
    x = x.to(dtype)
    a, b = f(x, generator=gen(1)), f(x, generator=gen(1))
    assert a.shape == x.shape and a.dtype == dtype and a.device == x.device
    assert torch.equal(a, b)
    assert torch.isfinite(a).all()


@pytest.mark.parametrize("name", ["jitter", "scaling", "magnitude_warp", "time_warp", "crop_resize", "blockout",
                                  "random_smoothing", "channel_noise"])
def test_random_ones_differ_across_seeds(name, x):
    f = AUGMENTATIONS[name]
    assert not torch.equal(f(x, generator=gen(1)), f(x, generator=gen(2)))


def test_time_flip_reverses_time_and_sign_flip_negates(x):
    assert torch.equal(time_flip(x)[:, 0], x[:, -1]) and torch.equal(time_flip(time_flip(x)), x)
    assert torch.equal(sign_flip(x), -x)


def test_blockout_zeros_exactly_one_window_per_series():
    x = torch.ones(50, 40, 2)
    y = blockout(x, ratio=0.25, generator=gen())
    zero = (y == 0).all(dim=2)  # [B, L]; all channels together
    assert torch.equal((y == 0).any(dim=2), zero)
    assert torch.all(zero.sum(1) == 10)
    # one contiguous run: exactly one rising edge
    edges = torch.diff(zero.int(), dim=1, prepend=torch.zeros(50, 1, dtype=torch.int)) == 1
    assert torch.all(edges.sum(1) == 1)
    assert torch.equal(y[~zero], x[~zero])  # the rest untouched
    starts = zero.int().argmax(1)
    assert starts.min() == 0 or starts.max() == 30 or len(set(starts.tolist())) > 5  # positions vary


def test_jitter_and_scaling_statistics():
    x = torch.zeros(200, 100, 2)
    assert jitter(x, 0.5, generator=gen()).std().item() == pytest.approx(0.5, rel=0.03)
    y = scaling(torch.ones(4000, 10, 2), 0.1, generator=gen())
    assert torch.all(y == y[:, :1])  # one factor per series and channel
    assert y[:, 0].std().item() == pytest.approx(0.1, rel=0.05) and y.mean().item() == pytest.approx(1, abs=0.01)


def test_channel_noise_scales_with_each_channels_std():
    x = torch.randn(500, 200, 2) * torch.tensor([1.0, 10.0])
    noise = channel_noise(x, 0.1, generator=gen()) - x
    ratio = noise[..., 1].std() / noise[..., 0].std()
    assert ratio.item() == pytest.approx(10, rel=0.05)


def test_smooth_curves_hit_knots_and_are_continuous():
    ref = torch.zeros(1)
    c = smooth_curves(3, 101, knots=4, sigma=0.3, x=ref, generator=gen())
    assert c.shape == (3, 101)
    assert torch.diff(c, dim=1).abs().max() < 0.1  # no jumps
    assert magnitude_warp(torch.ones(2, 101, 1), 0.3, generator=gen()).std() > 0


def test_time_warp_and_crop_keep_endpoints_monotone_series():
    ramp = torch.arange(64.0).view(1, 64, 1).repeat(16, 1, 2)
    y = time_warp(ramp, sigma=0.3, generator=gen())
    assert torch.all(torch.diff(y, dim=1) >= -1e-5)  # a monotone map of time keeps a ramp increasing
    assert torch.allclose(y[:, 0], ramp[:, 0]) and torch.allclose(y[:, -1], ramp[:, -1], atol=1e-4)
    c = crop_resize(ramp, 0.5, generator=gen())
    span = c[:, -1, 0] - c[:, 0, 0]
    assert torch.allclose(span, torch.full_like(span, 0.5 * 63), atol=1e-4)  # a window of half the series
    assert torch.all(c[:, 0, 0] >= 0) and torch.all(c[:, -1, 0] <= 63)


def test_resample_identity_and_midpoints():
    x = torch.randn(2, 10, 3)
    assert torch.allclose(resample(x, torch.arange(10.0).repeat(2, 1)), x)
    mid = resample(x, torch.full((2, 1), 2.5))
    assert torch.allclose(mid[:, 0], (x[:, 2] + x[:, 3]) / 2)


def test_random_smoothing_is_a_moving_average():
    x = torch.randn(40, 30, 2)
    y = random_smoothing(x, max_width=5, generator=gen())
    assert torch.allclose(y.mean(), x.mean(), atol=0.05)
    assert y.std() < x.std()  # smoothing reduces variance on white noise
    const = torch.full((4, 30, 1), 3.0)
    assert torch.allclose(random_smoothing(const, generator=gen()), const)
    assert torch.allclose(random_smoothing(x, max_width=1, generator=gen()), x)  # width 1 = identity


def test_random_augment_pipeline():
    x = torch.randn(1000, 16, 1)
    aug = RandomAugment(["sign_flip"], p=0.3)
    y = aug(x, generator=gen())
    flipped = torch.isclose(y, -x).all(dim=(1, 2)) & ~torch.isclose(y, x).all(dim=(1, 2))
    assert flipped.float().mean().item() == pytest.approx(0.3, abs=0.05)
    assert torch.equal(RandomAugment(["sign_flip"], p=0.0)(x), x)
    assert torch.equal(RandomAugment()(x, generator=gen(3)), RandomAugment()(x, generator=gen(3)))
    with pytest.raises(ValueError, match="unknown augmentation"):
        RandomAugment(["nope"])
    with pytest.raises(ValueError, match="probabilities"):
        RandomAugment(["jitter", "scaling"], p=[0.5])
    with pytest.raises(ValueError):
        RandomAugment()(torch.randn(4, 16))
