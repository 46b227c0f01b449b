import numpy as np
import pytest
import torch

from simmtm.masking import _spans_needed, geometric_mask, head_mask, make_masks, mask_views, random_mask, tail_mask


def run_lengths(row: np.ndarray, value: int) -> list[int]:
    """Lengths of the runs of ``value`` that neither start nor end at the row's edges."""
    edges = np.flatnonzero(np.diff(np.concatenate([[-1], row, [-1]])) != 0)
    runs = []
    for start, end in zip(edges[:-1], edges[1:]):
        if row[start] == value and start > 0 and end < len(row):
            runs.append(end - start)
    return runs


def official_chain(length: int, lm: float, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """The official per-element loop (geom_noise_mask_single), as the statistical reference."""
    keep = np.ones(length, dtype=bool)
    p = [1 / lm, 1 / lm * ratio / (1 - ratio)]
    state = int(rng.random() > ratio)
    for i in range(length):
        keep[i] = state
        if rng.random() < p[state]:
            state = 1 - state
    return keep


@pytest.mark.parametrize("ratio,lm", [(0.5, 3.0), (0.3, 3.0), (0.7, 5.0), (0.1, 3.0)])
def test_geometric_ratio_and_span_lengths(generator, ratio, lm):
    m = geometric_mask(400, 2000, ratio, lm, generator=generator).numpy()
    assert set(np.unique(m)) <= {0.0, 1.0}
    assert abs((1 - m.mean()) - ratio) < 0.01
    masked = [r for row in m for r in run_lengths(row, 0)]
    kept = [r for row in m for r in run_lengths(row, 1)]
    assert np.mean(masked) == pytest.approx(lm, rel=0.03)
    assert np.mean(kept) == pytest.approx(lm * (1 - ratio) / ratio, rel=0.03)
    # Geometric law: P(span = 1) = 1 / lm.
    assert np.mean(np.array(masked) == 1) == pytest.approx(1 / lm, abs=0.01)


def test_geometric_matches_official_loop_statistics(generator):
    rng = np.random.default_rng(0)
    ref = np.stack([official_chain(336, 3.0, 0.5, rng) for _ in range(300)]).astype(float)
    ours = geometric_mask(300, 336, 0.5, 3.0, generator=generator).numpy()
    for value in (0, 1):
        a = np.mean([r for row in ref for r in run_lengths(row, value)])
        b = np.mean([r for row in ours for r in run_lengths(row, value)])
        assert a == pytest.approx(b, rel=0.05)
    assert abs(ref.mean() - ours.mean()) < 0.02


def test_first_step_follows_stationary_law(generator):
    m = geometric_mask(20000, 8, 0.3, 3.0, generator=generator)
    assert (1 - m[:, 0].mean().item()) == pytest.approx(0.3, abs=0.015)


def test_spans_never_cross_series_boundaries(generator):
    # With enormous spans every series is one span: constant rows, both states present.
    m = geometric_mask(2000, 50, 0.5, 1e7, generator=generator)
    assert torch.all(m.min(dim=1).values == m.max(dim=1).values)
    assert 0.4 < m[:, 0].mean().item() < 0.6
    # With the official cross-boundary chain the next series would start in the previous
    # series' final state 2/3 of the time; per-series chains make the two independent.
    m = geometric_mask(40000, 20, 0.5, 3.0, generator=generator)
    same = (m[:-1, -1] == m[1:, 0]).float().mean().item()
    assert same == pytest.approx(0.5, abs=0.015)


def test_random_tail_head_masks(generator):
    m = random_mask(1000, 100, 0.25, generator=generator)
    assert (1 - m.mean().item()) == pytest.approx(0.25, abs=0.01)
    t = tail_mask(2, 10, 0.3)
    h = head_mask(2, 10, 0.3)
    assert t[0].tolist() == [1] * 7 + [0] * 3
    assert h[1].tolist() == [0] * 3 + [1] * 7


def test_make_masks_shape_order_and_reproducibility():
    x = torch.randn(5, 40, 3)
    a = make_masks(x, 3, generator=torch.Generator().manual_seed(7))
    b = make_masks(x, 3, generator=torch.Generator().manual_seed(7))
    assert a.shape == (15, 40, 3) and a.dtype == x.dtype
    assert torch.equal(a, b)
    # Channels get independent masks.
    assert not torch.equal(a[..., 0], a[..., 1])


def test_mask_views_stacks_originals_then_views_view_major(generator):
    B, M = 4, 3
    x = torch.randn(B, 30, 2)
    xv, mask = mask_views(x, M, generator=generator)
    assert xv.shape == mask.shape == (B * (M + 1), 30, 2)
    assert torch.equal(mask[:B], torch.ones_like(x))
    assert torch.equal(xv[:B], x)
    for v in range(1, M + 1):
        for b in range(B):
            r = v * B + b
            assert torch.equal(xv[r], x[b] * mask[r])
    assert (mask[B:] == 0).any()


def test_masks_on_input_device_and_dtype():
    x = torch.randn(2, 16, 1, dtype=torch.float64)
    xv, mask = mask_views(x, 2)
    assert mask.dtype == torch.float64 and mask.device == x.device


@pytest.mark.parametrize("kwargs,name", [
    (dict(ratio=0.0), "ratio"), (dict(ratio=1.0), "ratio"), (dict(ratio=1.5), "ratio"),
    (dict(n_views=0), "n_views"), (dict(mean_span=0.5), "mean_span"), (dict(kind="blocks"), "kind"),
    (dict(ratio=0.9, mean_span=3.0), "mean_span"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    args = dict(n_views=2, ratio=0.5, mean_span=3.0, kind="geometric") | kwargs
    with pytest.raises(ValueError, match=name):
        make_masks(torch.randn(2, 10, 1), **args)


@pytest.mark.parametrize("x,match", [
    (torch.randn(10, 3), r"\[B, L, C\]"),
    (torch.ones(2, 10, 1).index_put_((torch.tensor([1]), torch.tensor([3]), torch.tensor([0])), torch.tensor(float("nan"))), "NaN"),
    (torch.ones(2, 10, 1, dtype=torch.long), "floating"),
])
def test_bad_series_raise(x, match):
    with pytest.raises(ValueError, match=match):
        make_masks(x, 2)


@pytest.mark.parametrize("length,ratio,lm", [(336, 0.5, 3.0), (336, 0.1, 3.0), (96, 0.7, 5.0), (5000, 0.5, 3.0), (12, 0.5, 1.0)])
def test_enough_spans_are_drawn_to_cover_every_series(length, ratio, lm):
    lk = lm * (1 - ratio) / ratio
    k = _spans_needed(length, lm, lk)
    assert k <= length
    rng = np.random.default_rng(0)
    n = 5000
    masked_first = rng.random(n) < ratio
    means = np.where((np.arange(k)[None, :] % 2 == 0) == masked_first[:, None], lm, lk)
    total = rng.geometric(1 / means).sum(1)
    assert total.min() >= length
