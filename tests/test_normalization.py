import pytest
import torch

from simmtm.normalization import InstanceNorm, masked_instance_norm


def test_statistics_use_observed_points_only():
    x = torch.tensor([[[1.0], [3.0], [1000.0], [5.0]]])  # [1, 4, 1]
    mask = torch.tensor([[[1.0], [1.0], [0.0], [1.0]]])
    x_norm, mean, std = masked_instance_norm(x, mask, eps=0.0)
    assert mean.item() == pytest.approx(3.0)  # (1 + 3 + 5) / 3, the 1000 is masked
    assert std.item() == pytest.approx((8 / 3) ** 0.5)
    assert x_norm[0, 2, 0].item() == 0.0  # masked point stays 0
    assert x_norm[0, 0, 0].item() == pytest.approx(-2 / (8 / 3) ** 0.5)
    # Changing a masked value changes nothing.
    x2 = x.clone()
    x2[0, 2, 0] = -5.0
    assert torch.equal(masked_instance_norm(x2, mask, eps=0.0)[0], x_norm)


def test_per_channel_statistics_and_inverse():
    x = torch.randn(3, 20, 4) * torch.tensor([1.0, 10.0, 0.1, 5.0]) + 7
    norm = InstanceNorm()
    x_norm, stats = norm.normalize(x)
    assert torch.allclose(x_norm.mean(1), torch.zeros(3, 4), atol=1e-5)
    assert torch.allclose(x_norm.std(1, unbiased=False), torch.ones(3, 4), atol=1e-3)
    assert torch.allclose(norm.denormalize(x_norm, stats), x, atol=1e-4)


def test_mask_shape_mismatch():
    with pytest.raises(ValueError, match="mask"):
        masked_instance_norm(torch.zeros(2, 5, 1), torch.ones(2, 4, 1))
