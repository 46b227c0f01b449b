import numpy as np
import pytest
import torch

from simmtm.data import LabelledSeries, SlidingWindows, channels_last, synthetic_classification, synthetic_multivariate


def test_synthetic_multivariate_is_seeded_and_realistic():
    a = synthetic_multivariate(3000, 4, seed=1)
    assert a.shape == (3000, 4) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, synthetic_multivariate(3000, 4, seed=1))
    assert not np.array_equal(a, synthetic_multivariate(3000, 4, seed=2))
    # Seasonality: the autocorrelation at the daily period beats the one at half of it.
    x = a[:, 0] - a[:, 0].mean()
    ac = lambda k: np.dot(x[:-k], x[k:]) / np.dot(x, x)  # noqa: E731
    assert ac(24) > ac(12)
    # Channels share latent factors.
    assert np.abs(np.corrcoef(a.T)[np.triu_indices(4, 1)]).max() > 0.3


def test_synthetic_classification_balanced_and_seeded():
    X, y = synthetic_classification(90, 50, 2, 3, seed=0)
    assert X.shape == (90, 50, 2) and y.shape == (90,)
    assert np.bincount(y).tolist() == [30, 30, 30]
    X2, y2 = synthetic_classification(90, 50, 2, 3, seed=0)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    with pytest.raises(ValueError):
        synthetic_classification(5, 50, 1, 1)


def test_sliding_windows_count_and_no_aliasing():
    series = np.arange(20 * 2, dtype=np.float32).reshape(20, 2)
    ds = SlidingWindows(series, seq_len=5, pred_len=3)
    assert len(ds) == 20 - 5 - 3 + 1
    for i in range(len(ds)):  # window i starts at row i (the official loader aliased odd windows)
        x, y = ds[i]
        assert x[0, 0].item() == 2 * i and y[0, 0].item() == 2 * (i + 5)
        assert x.shape == (5, 2) and y.shape == (3, 2)
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert SlidingWindows(series, 20)[0][1].shape == (0, 2)


def test_window_errors():
    with pytest.raises(ValueError, match="fewer"):
        SlidingWindows(np.zeros((5, 1)), 4, 2)
    with pytest.raises(ValueError, match=r"\[T, C\]"):
        SlidingWindows(np.zeros(5), 2)
    bad = np.zeros((10, 1))
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SlidingWindows(bad, 2)
    with pytest.raises(ValueError, match=r"\[N\]"):
        LabelledSeries(np.zeros((4, 5, 1)), np.zeros(3))


def test_channels_last():
    assert channels_last(torch.zeros(2, 3, 7)).shape == (2, 7, 3)
    assert channels_last(np.zeros((2, 7))).shape == (2, 7, 1)
    with pytest.raises(ValueError):
        channels_last(torch.zeros(2))
