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


@pytest.mark.parametrize("chunk", [1, 4, 7, 100])
def test_chunked_aggregation_and_constraint_equal_dense(chunk):
    from simmtm.losses import constraint_loss, constraint_loss_chunked
    from simmtm.similarity import aggregate_chunked

    torch.manual_seed(0)
    R, N = 24, 6  # 3 views + originals of 6 rows
    s = torch.randn(R, 5, dtype=torch.float64, requires_grad=True)
    z = torch.randn(R, 3, 2, dtype=torch.float64, requires_grad=True)
    sim = cosine_similarity_matrix(s)
    dense_z, _ = aggregate(sim, z, 0.2, rows=N)
    dense = dense_z.square().sum() + constraint_loss(sim, N, 0.2)
    grads = torch.autograd.grad(dense, (s, z))
    chunked_z = aggregate_chunked(s, z, 0.2, rows=N, chunk=chunk)
    torch.testing.assert_close(chunked_z, dense_z)
    chunked = chunked_z.square().sum() + constraint_loss_chunked(s, N, 0.2, chunk=chunk)
    torch.testing.assert_close(chunked, dense, atol=1e-6, rtol=1e-6)  # the constraint loss runs in fp32
    for a, b in zip(torch.autograd.grad(chunked, (s, z)), grads):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_simmtm_with_similarity_chunks_matches_dense():
    from dataclasses import replace

    from simmtm import build_simmtm, get_preset

    cfg = replace(get_preset("tiny"), seq_len=32, n_channels=2)
    torch.manual_seed(0)
    dense = build_simmtm(cfg)
    chunked = build_simmtm(replace(cfg, similarity_chunk=5))
    chunked.load_state_dict(dense.state_dict())
    x = torch.randn(4, 32, 2)
    mask = (torch.rand(12, 32, 2, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    mask[:4] = 1
    outs = []
    for model in (dense, chunked):
        torch.manual_seed(3)  # same dropout draws
        out = model(x, mask=mask)
        out.loss.backward()
        outs.append((out, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (a, ga), (b, gb) = outs
    torch.testing.assert_close(a.loss, b.loss)
    assert ga.keys() == gb.keys()
    for name in ga:
        torch.testing.assert_close(ga[name], gb[name], atol=1e-5, rtol=1e-4, msg=name)
    with pytest.raises(ValueError, match="similarity_chunk"):
        build_simmtm(replace(cfg, similarity_chunk=0))


def test_chunked_functions_on_selected_rows_equal_dense():
    from simmtm.losses import constraint_loss, constraint_loss_chunked
    from simmtm.similarity import aggregate_chunked

    torch.manual_seed(1)
    R, N = 18, 6
    s = torch.randn(R, 4, dtype=torch.float64)
    z = torch.randn(R, 5, dtype=torch.float64)
    rows = torch.tensor([7, 1, 13, 2, 8])  # e.g. one process's rows within a gathered batch
    sim = cosine_similarity_matrix(s)
    dense_z, _ = aggregate(sim[rows], z, 0.2, self_index=rows)
    torch.testing.assert_close(aggregate_chunked(s, z, 0.2, chunk=2, self_index=rows), dense_z)
    dense_con = constraint_loss(sim[rows], N, 0.2, self_index=rows)
    torch.testing.assert_close(constraint_loss_chunked(s, N, 0.2, chunk=2, self_index=rows), dense_con,
                               atol=1e-6, rtol=1e-6)
    full = constraint_loss(sim, N, 0.2)  # the mean over all rows = the mean of per-row losses
    per_row = torch.stack([constraint_loss(sim[[i]], N, 0.2, self_index=torch.tensor([i])) for i in range(R)])
    torch.testing.assert_close(per_row.mean(), full)
