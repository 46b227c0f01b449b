"""The data lookup: data/ first, then a shared copy, and SIMMTM_HIDE_SHARED_DATA hides the shared one."""
from pathlib import Path

from simmtm.data import data_root
from simmtm.data.forecasting import find_root


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x\n")


def test_data_root_prefers_the_first_candidate_and_hides_shared(tmp_path, monkeypatch):
    local, shared = tmp_path / "data", tmp_path / "shared" / "data"
    _touch(shared / "set" / "file.csv")
    monkeypatch.delenv("SIMMTM_HIDE_SHARED_DATA", raising=False)
    assert data_root("set/file.csv", (local, shared)) == shared
    _touch(local / "set" / "file.csv")
    assert data_root("set/file.csv", (local, shared)) == local
    (local / "set" / "file.csv").unlink()
    monkeypatch.setenv("SIMMTM_HIDE_SHARED_DATA", "1")
    assert data_root("set/file.csv", (local, shared)) is None
    assert data_root("set/missing.csv", (local, shared)) is None


def test_find_root_honours_the_hiding_variable(tmp_path, monkeypatch):
    shared = tmp_path / "shared" / "data"
    _touch(shared / "ETT-small" / "ETTh1.csv")
    monkeypatch.delenv("SIMMTM_HIDE_SHARED_DATA", raising=False)
    assert find_root("ETTh1", (shared,)) == shared
    monkeypatch.setenv("SIMMTM_HIDE_SHARED_DATA", "1")
    assert find_root("ETTh1", (shared,)) is None
