import math

import pytest
import torch

from simmtm.similarity import aggregate, aggregation_weights, cosine_similarity_matrix, positive_mask


def test_cosine_similarity_hand_computed():
    s = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]])
    expected = torch.tensor([
        [1.0, 1 / math.sqrt(2), 0.0],
        [1 / math.sqrt(2), 1.0, -1 / math.sqrt(2)],
        [0.0, -1 / math.sqrt(2), 1.0],
    ])
    assert torch.allclose(cosine_similarity_matrix(s), expected, atol=1e-6)


def test_weights_exclude_self_and_rows_sum_to_one():
    sim = cosine_similarity_matrix(torch.randn(6, 4))
    w = aggregation_weights(sim, 0.2)
    assert torch.all(w.diagonal() == 0)
    assert torch.allclose(w.sum(1), torch.ones(6))


def test_weights_hand_computed_three_rows():
    sim = torch.tensor([[1.0, 0.5, -0.5], [0.5, 1.0, 0.0], [-0.5, 0.0, 1.0]])
    tau = 0.5
    w = aggregation_weights(sim, tau)
    e = math.exp
    row0 = [0.0, e(1.0) / (e(1.0) + e(-1.0)), e(-1.0) / (e(1.0) + e(-1.0))]
    row1 = [e(1.0) / (e(1.0) + e(0.0)), 0.0, e(0.0) / (e(1.0) + e(0.0))]
    assert torch.allclose(w[0], torch.tensor(row0), atol=1e-6)
    assert torch.allclose(w[1], torch.tensor(row1), atol=1e-6)


def test_uniform_similarity_aggregates_to_mean_of_the_others():
    R = 5
    z = torch.randn(R, 7, 3)
    z_hat, w = aggregate(torch.zeros(R, R), z, temperature=0.2)
    for i in range(R):
        others = torch.cat([z[:i], z[i + 1:]]).mean(0)
        assert torch.allclose(z_hat[i], others, atol=1e-6)
    assert torch.allclose(w, (1 - torch.eye(R)) / (R - 1))


def test_aggregating_only_the_first_rows_is_exact_in_value_and_gradient():
    s = torch.randn(12, 8, requires_grad=True)
    z = torch.randn(12, 5, 2, requires_grad=True)
    target = torch.randn(4, 5, 2)
    grads = []
    for rows in (None, 4):
        sim = cosine_similarity_matrix(s)
        z_hat, w = aggregate(sim, z, 0.2, rows=rows)
        loss = ((z_hat[:4] - target) ** 2).sum()
        grads.append((loss.detach(), *torch.autograd.grad(loss, (s, z))))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-6)


def test_positive_mask_pairs_rows_modulo_series():
    pos = positive_mask(6, 2)  # 3 views of 2 series: rows {0, 2, 4} and {1, 3, 5}
    expected = torch.zeros(6, 6, dtype=torch.bool)
    for group in ((0, 2, 4), (1, 3, 5)):
        for i in group:
            for j in group:
                expected[i, j] = i != j
    assert torch.equal(pos, expected)
    with pytest.raises(ValueError, match="multiple"):
        positive_mask(7, 2)


def test_bad_temperature_and_shapes():
    with pytest.raises(ValueError, match="temperature"):
        aggregation_weights(torch.zeros(3, 3), 0.0)
    with pytest.raises(ValueError, match="rows"):
        aggregate(torch.zeros(3, 3), torch.zeros(4, 2), 0.2)
    with pytest.raises(ValueError, match=r"\[R, P\]"):
        cosine_similarity_matrix(torch.zeros(3, 2, 2))
