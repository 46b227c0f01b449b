import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from simmtm.losses import AutomaticWeightedLoss, FixedWeightedLoss, constraint_loss, reconstruction_loss
from simmtm.similarity import cosine_similarity_matrix


def official_constraint_loss(emb: torch.Tensor, n_views_plus_one: int, tau: float) -> torch.Tensor:
    """thuml/SimMTM ContrastiveWeight, re-expressed: 0/1 target over [positives, negatives],
    KLDivLoss(batchmean) against log_softmax(logits / tau)."""
    R = emb.shape[0]
    sim = F.normalize(emb, dim=1) @ F.normalize(emb, dim=1).T
    eye = torch.eye(R, dtype=torch.bool)
    n = R // n_views_plus_one
    pos = np.zeros((R, R))
    for i in range(n_views_plus_one):
        pos += np.eye(R, R, k=n * i) + np.eye(R, R, k=-n * i)
    pos = torch.from_numpy(pos).bool() & ~eye
    neg = ~pos & ~eye
    positives = sim[pos].view(R, -1)
    negatives = sim[neg].view(R, -1)
    logits = torch.cat([positives, negatives], dim=-1)
    target = torch.cat([torch.ones_like(positives), torch.zeros_like(negatives)], dim=-1)
    return torch.nn.KLDivLoss(reduction="batchmean")(torch.log_softmax(logits / tau, dim=-1), target)


@pytest.mark.parametrize("n_series,views", [(2, 2), (3, 4), (5, 3)])
def test_constraint_loss_equals_official_kl_form(n_series, views):
    emb = torch.randn(n_series * views, 8)
    ours = constraint_loss(cosine_similarity_matrix(emb), n_series, 0.2)
    assert torch.allclose(ours, official_constraint_loss(emb, views, 0.2), atol=1e-5)


def test_constraint_loss_hand_computed():
    # 2 series x 2 views, 2-D unit embeddings: rows 0 and 2 are views of series 0, 1 and 3 of series 1.
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 1.0]])
    sim = cosine_similarity_matrix(emb)
    tau = 0.5
    expected = 0.0
    for i, pos in ((0, 2), (1, 3), (2, 0), (3, 1)):
        others = [j for j in range(4) if j != i]
        log_z = math.log(sum(math.exp(sim[i, j].item() / tau) for j in others))
        expected += -(sim[i, pos].item() / tau - log_z)
    expected /= 4
    assert constraint_loss(sim, 2, tau).item() == pytest.approx(expected, rel=1e-5)


def test_constraint_loss_closed_form_identical_embeddings():
    # All similarities equal: p = 1 / (R - 1) for every other row, M positives per row.
    n_series, views = 3, 4
    R = n_series * views
    emb = torch.ones(R, 5)
    loss = constraint_loss(cosine_similarity_matrix(emb), n_series, 0.2)
    assert loss.item() == pytest.approx((views - 1) * math.log(R - 1), rel=1e-5)


def test_constraint_loss_lower_when_views_agree():
    base = torch.randn(4, 16)
    agree = torch.cat([base, base + 0.01 * torch.randn(4, 16)])
    disagree = torch.randn(8, 16)
    s = cosine_similarity_matrix
    assert constraint_loss(s(agree), 4, 0.2) < constraint_loss(s(disagree), 4, 0.2)


def test_reconstruction_loss_is_mse_and_checks_shapes():
    a, b = torch.tensor([[[1.0], [2.0]]]), torch.tensor([[[0.0], [4.0]]])
    assert reconstruction_loss(a, b).item() == pytest.approx((1 + 4) / 2)
    with pytest.raises(ValueError):
        reconstruction_loss(a, b[:, :1])


def test_automatic_weighting_formula():
    awl = AutomaticWeightedLoss(2)
    l1, l2 = torch.tensor(0.7), torch.tensor(2.0)
    assert awl(l1, l2).item() == pytest.approx(0.5 * 0.7 + 0.5 * 2.0 + 2 * math.log(2), rel=1e-6)
    with torch.no_grad():
        awl.sigma.copy_(torch.tensor([2.0, 0.5]))
    expected = 0.5 / 4 * 0.7 + math.log(5) + 0.5 / 0.25 * 2.0 + math.log(1.25)
    assert awl(l1, l2).item() == pytest.approx(expected, rel=1e-6)
    total = awl(l1, l2)
    total.backward()
    assert awl.sigma.grad is not None and torch.all(awl.sigma.grad != 0)
    with pytest.raises(ValueError, match="expected 2"):
        awl(l1)


def test_fixed_weighting():
    assert FixedWeightedLoss(0.3)(torch.tensor(1.0), torch.tensor(2.0)).item() == pytest.approx(1.6)


def test_constraint_loss_gather_equals_dense_mask_form():
    """The gathered positives give the loss and gradient of the dense [R, R] mask formulation."""
    from simmtm.similarity import exclude_self_logits, positive_mask

    for views, n in ((2, 1), (4, 5), (3, 7)):
        s = torch.randn(views * n, 6)
        sim = torch.nn.functional.normalize(s, dim=1) @ torch.nn.functional.normalize(s, dim=1).T
        sim.requires_grad_(True)
        log_p = torch.log_softmax(exclude_self_logits(sim, 0.2), dim=1)
        dense = -torch.where(positive_mask(views * n, n), log_p, torch.zeros_like(log_p)).sum(1).mean()
        ours = constraint_loss(sim, n, 0.2)
        assert torch.allclose(ours, dense, atol=1e-6)
        assert torch.allclose(torch.autograd.grad(ours, sim)[0], torch.autograd.grad(dense, sim)[0], atol=1e-6)


def test_constraint_loss_rejects_rows_not_multiple_of_series():
    with pytest.raises(ValueError, match="multiple"):
        constraint_loss(torch.zeros(7, 7), 3, 0.2)
