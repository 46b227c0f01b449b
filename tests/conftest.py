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
