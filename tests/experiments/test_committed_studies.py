"""Every committed study still resumes: its own command, as its table records it, run again on a
copy of results/ skips every unit (a unit that would run fails the test) and writes the same table.

Needs the datasets the studies read (../shared/data); skipped without them.
"""
import re
import shlex
import shutil
from pathlib import Path

import pytest

from simmtm.cli import main
from simmtm.experiments.records import RETIRED_OPTIONS, RecordStore

from conftest import SHARED_DATA

RESULTS = Path(__file__).resolve().parents[2] / "results"


def recorded_command(table: Path) -> list[str] | None:
    """The last command the table names for itself (``--out`` this table), as argv words."""
    rel = f"results/{table.relative_to(RESULTS)}"
    found = [c for c in re.findall(r"`(python -m simmtm[ .][^`]+)`", table.read_text())
             if "<" not in c and (f"--out {rel}" in c or "--out" not in c)]
    return shlex.split(found[-1])[2:] if found else None


STUDIES = sorted(str(t.relative_to(RESULTS)) for t in RESULTS.glob("*/*.md")
                 if t.with_suffix("").is_dir() and recorded_command(t))


def test_the_committed_studies_are_found():
    assert len(STUDIES) >= 30, STUDIES  # ablations, forecasting studies, curves, protocols, classification, anomaly


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the studies read {SHARED_DATA}, which is not present")
    base = tmp_path_factory.mktemp("committed")
    (base / "shared").symlink_to(SHARED_DATA.parent, target_is_directory=True)  # ../shared/data as recorded
    shutil.copytree(RESULTS, base / "work" / "results")
    return base / "work"


@pytest.mark.parametrize("name", STUDIES)
def test_a_committed_study_skips_every_unit_and_writes_the_same_table(name, copy, monkeypatch):
    from simmtm.data.roots import shared_hidden

    if shared_hidden():
        pytest.skip("real data hidden (the run a fresh clone without ../shared sees)")
    monkeypatch.chdir(copy)
    real_run = RecordStore.run

    def finished_only(store, key, compute):
        assert store.done(key), f"unit {key} of {store.folder} would run again"
        return real_run(store, key, compute)

    monkeypatch.setattr(RecordStore, "run", finished_only)
    words = recorded_command(RESULTS / name)
    entry, argv = main, words[1:]
    if words[0] == "simmtm.experiments.own_classification":
        from simmtm.experiments.own_classification import main as entry
    argv = [RETIRED_OPTIONS.get(a, a) for a in argv]
    assert entry(argv) == 0
    assert (copy / "results" / name).read_text() == (RESULTS / name).read_text()
