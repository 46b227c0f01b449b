"""The general forecaster's corpus: never ETT station 2, never a test row, reproducible windows."""
import numpy as np
import pytest

from tests.conftest import shared_file

from simmtm.data.corpus import (CLIP, HELD_OUT, SOURCES, CorpusSeries, CorpusWindows, fewshot_rows, load_corpus,
                                read_source, row_borders)
from simmtm.data.synthetic import synthetic_corpus_series


def _toy(name="a", rows=2000, channels=2, seed=0):
    values = np.random.default_rng(seed).normal(size=(rows, channels)).cumsum(0).astype(np.float32)
    return CorpusSeries(name, values, row_borders(rows, "ratio"))


def test_ett_station_2_is_refused_everywhere():
    assert not set(HELD_OUT) & set(SOURCES)
    for name in HELD_OUT:
        with pytest.raises(ValueError, match="held-out"):
            read_source(name, "anywhere")
    with pytest.raises(ValueError, match="held out"):
        CorpusWindows({"ETTh2": _toy("ETTh2")}, "train", 64, n_windows=4)


def test_windows_come_from_their_split_rows_only_and_are_context_normalised():
    src = _toy(rows=2000)
    ds = CorpusWindows({"a": src}, "train", 64, n_windows=200, horizon=32, min_future=8, seed=3)
    train_end = src.borders["train"][1]  # 1400
    for i in range(len(ds)):
        sid, start = ds.index[i]
        assert 0 <= start and start + 64 + 8 <= train_end  # inputs and the required targets inside the train rows
        raw = ds.raw(i)
        n_real = min(64 + 32, train_end - start)
        assert np.allclose(raw[:n_real], src.values[start:start + n_real, sid]) and np.isnan(raw[n_real:]).all()
        x, y = ds[i]
        assert x.shape == (64, 1) and y.shape == (32, 1)
        assert abs(float(x.mean())) < 1e-4 and float(x.std(unbiased=False)) == pytest.approx(1, abs=1e-3)
        assert np.nanmax(np.abs(y.numpy())) <= CLIP
    val = CorpusWindows({"a": src}, "val", 64, n_windows=50, horizon=8, min_future=8, seed=3)
    lo, hi = src.borders["val"]
    # starts count from row lo - 64 (a validation context may reach back into the training rows); targets never leave val
    assert all(0 <= s and (lo - 64 + s) + 64 + 8 <= hi for _, s in val.index)
    assert len(val.series[0]) == hi - (lo - 64)
    with pytest.raises(ValueError, match="'train' or 'val'"):
        CorpusWindows({"a": src}, "test", 64, n_windows=4)


def test_windows_are_reproducible_and_the_synthetic_share_holds():
    corpus = {"a": _toy("a"), "b": _toy("b", rows=500, seed=1)}
    one = CorpusWindows(corpus, "train", 64, n_windows=400, synthetic_share=0.25, seed=5)
    two = CorpusWindows(corpus, "train", 64, n_windows=400, synthetic_share=0.25, seed=5)
    assert np.array_equal(one.index, two.index) and all(np.array_equal(one[i], two[i]) for i in (0, 7, 399))
    assert 70 <= one.counts["synthetic"] <= 130 and sum(one.counts.values()) == 400
    eq = CorpusWindows(corpus, "train", 64, n_windows=4000, mix="equal", seed=5).counts
    sq = CorpusWindows(corpus, "train", 64, n_windows=4000, mix="sqrt", seed=5).counts
    assert abs(eq["a"] - eq["b"]) < 300 and sq["a"] > 1.3 * sq["b"]  # the shorter source weighs less under sqrt


def test_synthetic_series_are_seeded_and_finite():
    a, b = synthetic_corpus_series(700, seed=(1, 2, 3)), synthetic_corpus_series(700, seed=(1, 2, 3))
    assert a.shape == (700,) and np.array_equal(a, b) and np.isfinite(a).all()
    assert not np.array_equal(a, synthetic_corpus_series(700, seed=(1, 3, 3)))


def test_fewshot_rows_are_granite_tsfms():
    # int(0.05 * (8640 - 512)) + 512 = 918 rows, the last ones of the training split (or the first)
    assert fewshot_rows(8640, 512, 0.05) == (8640 - 918, 8640)
    assert fewshot_rows(8640, 512, 0.05, "first") == (0, 918)
    assert fewshot_rows(8640, 512, 1.0) == (0, 8640)
    with pytest.raises(ValueError):
        fewshot_rows(8640, 512, 0.0)


def test_the_real_corpus_never_yields_an_etth2_window():
    """Every real window of the shipped corpus recipe is found in the source it names, and none of
    them (nor any channel of the corpus) holds a 32-step run of ETTh2's values (runs with 8 distinct
    values or more: a flat stretch of zeros is in many files)."""
    etth2 = shared_file("ETT-small/ETTh2.csv")
    import pandas as pd

    root = etth2.parents[1]
    corpus = load_corpus(root)
    assert set(corpus) == set(SOURCES)
    station2 = pd.read_csv(etth2).drop(columns=["date"]).to_numpy(np.float32)
    runs = {r.tobytes() for c in range(station2.shape[1]) for i in range(0, len(station2) - 32)
            for r in [station2[i:i + 32, c]] if len(np.unique(r)) >= 8}  # flat runs (zeros) prove nothing
    ds = CorpusWindows(corpus, "train", 512, n_windows=3000, synthetic_share=0.25, seed=0)
    for i in np.flatnonzero(ds.index[:, 0] >= 0):
        sid, start = ds.index[i]
        window = ds.series[sid][start:start + 512]
        assert window[:32].tobytes() not in runs and window[-32:].tobytes() not in runs
    for src in corpus.values():
        for c in range(src.values.shape[1]):
            col = src.values[:, c]
            assert col[:32].tobytes() not in runs and col[len(col) // 2:len(col) // 2 + 32].tobytes() not in runs


def test_the_corpus_download_lists_every_source_and_never_station_2():
    from simmtm.data.download import SOURCES as DOWNLOADS

    paths = {remote.path for remote in DOWNLOADS["corpus"]}
    assert {spec.path for spec in SOURCES.values()} == paths
    assert not any("ETTh2" in p or "ETTm2" in p for p in paths)
