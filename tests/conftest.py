"""Shared fixtures: seeds, a tiny batch, the tiny preset and the path to ../shared/data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from simmtm.config import get_preset

from simmtm.data.roots import HIDE_SHARED_ENV, shared_hidden

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_file(relative: str) -> Path:
    """Path of a file under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / relative
    if shared_hidden():
        pytest.skip(f"real data hidden ({HIDE_SHARED_ENV}=1: the run a fresh clone without ../shared sees)")
    if not path.is_file():
        pytest.skip(f"real data file {path} not present (../shared/data is optional)")
    return path


def hourly_csv(path: Path, rows: int, channels: int, *, seed: int = 0, columns: list[str] | None = None,
               dates=None, nan_at: tuple[int, int] | None = None):
    """Write a synthetic hourly series (a ``date`` column, then ``columns``, default ``c0, c1, ...``)
    as a CSV at ``path``; returns the frame. ``dates``: the date column's values (default hourly
    from 2021-01-01; False: no date column). ``nan_at``: (row, channel) left empty."""
    import pandas as pd

    from simmtm.data import synthetic_multivariate

    values = synthetic_multivariate(rows, channels, periods=(12.0, 48.0), seed=seed)
    if nan_at is not None:
        values[nan_at] = float("nan")
    frame = pd.DataFrame(values, columns=columns or [f"c{i}" for i in range(channels)])
    if dates is not False:
        frame.insert(0, "date", pd.date_range("2021-01-01", periods=rows, freq="h").astype(str)
                     if dates is None else dates)
    frame.to_csv(path, index=False)
    return frame


def tiny_patch_cfg():
    """The tiny preset on 32-step inputs, batch 16, patch tokens of 8 steps (the studies' test model)."""
    from dataclasses import replace

    cfg = get_preset("tiny", seq_len=32, batch_size=16)
    return replace(cfg, encoder=replace(cfg.encoder, patch_len=8))


def interrupt_on_call(monkeypatch, owner, name: str, n: int, check=None) -> tuple:
    """Patch ``owner.name`` so that its ``n``-th call raises KeyboardInterrupt (a Ctrl-C) and every
    other call runs the real one (after ``check(*args, **kwargs)``, if given). Returns ``(real,
    calls)``: the real function, to restore it, and the list that counts the calls."""
    real, calls = getattr(owner, name), []

    def wrapped(*args, **kwargs):
        if check is not None:
            check(*args, **kwargs)
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)
    return real, calls


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def tiny_cfg():
    return get_preset("tiny", seq_len=32, n_channels=2)


@pytest.fixture
def tiny_batch(tiny_cfg) -> torch.Tensor:
    return torch.randn(4, tiny_cfg.seq_len, tiny_cfg.n_channels)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SIMMTM_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: set SIMMTM_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def csv(path, n_channels, seed):
    """A 900-row hourly CSV of ``n_channels`` synthetic channels (the last named OT), written to ``path``."""
    import pandas as pd

    from simmtm.data import synthetic_multivariate

    values = synthetic_multivariate(900, n_channels, periods=(12.0, 48.0), seed=seed)
    frame = pd.DataFrame(values, columns=[f"c{i}" for i in range(n_channels - 1)] + ["OT"])
    frame.insert(0, "date", pd.date_range("2021-01-01", periods=len(frame), freq="h").astype(str))
    frame.to_csv(path, index=False)
    return path
