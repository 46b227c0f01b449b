"""The CPU dropout: rate, scaling, gradient, eval mode and seeding, against nn.Dropout's contract."""
import pytest
import torch

from simmtm.dropout import Dropout, dropout, keep_mask


def test_keep_rate_and_independence():
    keep = keep_mask((400, 500), 0.1, generator=torch.Generator().manual_seed(0))
    assert keep.dtype == torch.bool and keep.shape == (400, 500)
    assert 1 - keep.float().mean().item() == pytest.approx(0.1, abs=0.003)
    # neighbouring elements (which share one 32-bit draw) are independent
    a, b = keep.flatten()[0::2].float(), keep.flatten()[1::2].float()
    assert (a * b).mean().item() == pytest.approx(0.81, abs=0.005)
    odd = keep_mask((3, 7), 0.5)  # an odd element count
    assert odd.shape == (3, 7)


def test_values_are_zero_or_scaled_and_mean_is_kept():
    torch.manual_seed(0)
    x = torch.randn(200, 300)
    y = dropout(x, 0.2)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / 0.8)
    assert 1 - kept.float().mean().item() == pytest.approx(0.2, abs=0.005)
    assert dropout(torch.ones(1000, 1000), 0.3).mean().item() == pytest.approx(1.0, abs=0.005)


def test_gradient_is_the_same_mask_and_scale():
    torch.manual_seed(1)
    x = torch.randn(50, 60, requires_grad=True)
    y = dropout(x, 0.25)
    g = torch.randn_like(y)
    y.backward(g)
    mask = (y != 0).float()
    assert torch.allclose(x.grad, g * mask / 0.75)


def test_eval_edge_probabilities_and_seeding():
    x = torch.randn(10, 10)
    layer = Dropout(0.5).eval()
    assert layer(x) is x
    assert dropout(x, 0.0) is x and torch.equal(dropout(x, 1.0), torch.zeros_like(x))
    torch.manual_seed(3)
    a = Dropout(0.5)(x)
    torch.manual_seed(3)
    assert torch.equal(a, Dropout(0.5)(x))
    with pytest.raises(ValueError):
        Dropout(1.5)
    assert Dropout(0.1).state_dict() == {} and "p=0.1" in repr(Dropout(0.1))
