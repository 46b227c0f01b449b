"""Every committed results table rebuilds byte-identical from its committed records.

A generated table ``results/<task>/<name>.md`` is backed by the JSON beside it and/or the record
folder of the same name (``results/<task>/<name>/``: ``settings.json`` and one JSON per unit).
For each such table the test copies what its rebuild reads into ``tmp_path`` under the same
relative paths, runs the package's own rebuild there with the working directory at ``tmp_path``
(so the paths a table prints -- a selection, a shared study -- read as in the repository), and
compares the bytes with the committed table. Nothing trains and no data file (``../shared``) is
read; nothing under ``results/`` is written.

What kind of table a ``.md`` is follows from what backs it (:func:`kind_of`: a record folder of a
forecasting study, or the shape of the JSON beside it), so a new table of a known kind is checked
without being listed here. :func:`test_every_results_markdown_is_accounted_for` makes every other
``.md`` under ``results/`` appear in :data:`PROSE` or :data:`NOT_REBUILDABLE` with its reason, so
a new table of a new kind cannot escape silently.
"""
from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"

# Hand-written prose: no code generates these files (they quote and read the tables).
PROSE = {
    "results/README.md": "the folder's guide",
    "results/analyses/ablation.md": "reading of the analysis tables (ablation_*)",
    "results/anomaly/anomaly_real_reading.md": "the reading paragraph that anomaly_real.md includes (an input of "
                                               "that table, written by hand)",
    "results/classification/classification.md": "reading of the classification tables",
    "results/forecasting/forecasting.md": "reading of the forecasting tables",
    "results/own_data/own_data.md": "reading of the own-data measurements",
    "results/own_data/own_data_classification_reading.md": "wall time and reading of own_data_classification.md",
    "results/own_data/own_data_forecasting/HOW.md": "how own_data_forecasting.md was made (the report() call)",
    "results/payoff/payoff.md": "reading of the payoff studies",
}

# Generated tables whose inputs are not committed: rel path -> why. (None at present: every generated
# table's inputs are committed, and the few that need more than its JSON or records are rebuilt by the
# helpers named in REBUILDS.)
NOT_REBUILDABLE: dict[str, str] = {}

# --- what backs a table ---------------------------------------------------------------------------

def _json(rel: str | Path) -> dict:
    return json.loads((ROOT / rel).with_suffix(".json").read_text(encoding="utf-8"))


def kind_of(md: Path) -> str | None:
    """The rebuild kind of ``md`` (a path under ROOT), or None if nothing generated it that we know."""
    if (md.with_suffix("") / "corpus" / "settings.json").is_file():
        return "general"  # simmtm.experiments.general's run folder (corpus/ and etth2/ stages)
    settings = md.with_suffix("") / "settings.json"
    if settings.is_file():
        found = json.loads(settings.read_text(encoding="utf-8"))
        if {"source", "target", "config", "budget"} <= set(found):
            return "study"  # simmtm.experiments.forecasting.study's run folder
    beside = md.with_suffix(".json")
    if not beside.is_file():
        return None
    saved = json.loads(beside.read_text(encoding="utf-8"))
    if not isinstance(saved, dict):
        return None
    keys = set(saved)
    if keys == {"settings", "selection_complete", "records"}:
        return "selected"
    if {"horizon", "seeds", "inits", "rows", "selected", "complete"} <= keys:
        return "protocols"
    if {"kind", "rows", "protocols", "complete"} <= keys and saved["kind"] in ("labels", "scale"):
        return "curve"
    if keys == {"command", "rows"}:
        return "sweep"
    if keys == {"command", "runs"}:
        return "legacy_study"
    if keys == {"settings", "records"} and "analysis" in saved["settings"]:
        return "ablation"
    if keys == {"command", "task", "setting", "budget", "runs"}:
        return "comparison"
    if keys in ({"command", "setting", "runs"}, {"command", "title", "setting", "runs"}):
        return "classification"
    if keys == {"command", "setting", "budget", "runs"}:
        return "anomaly_synthetic"
    if {"command", "setting", "budget", "per_series", "summary", "default"} <= keys:
        return "anomaly_real"
    if {"command", "budget", "budget_fields", "sets", "records"} <= keys:
        return "own_classification"
    if keys == {"data", "commands", "extra_commands", "results"}:
        return "own_forecasting"
    return None


def _tables() -> dict[str, str]:
    out = {}
    for md in sorted(RESULTS.rglob("*.md")):
        rel = md.relative_to(ROOT).as_posix()
        kind = None if rel in PROSE or rel in NOT_REBUILDABLE else kind_of(md)
        if kind is not None:
            out[rel] = kind
    return out


TABLES = _tables()


# --- rebuilds: each runs with the working directory at a fresh tmp_path and returns the table's bytes ----

def _copy(*rels: str | Path) -> None:
    """Copy files or folders from the repository to the same relative paths under the working directory."""
    here = Path.cwd().resolve()
    assert here != ROOT and RESULTS not in (here, *here.parents), "a rebuild must run outside the repository"
    for rel in rels:
        src, dst = ROOT / rel, here / rel
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)


def _written(rel: str) -> bytes:
    path = Path.cwd() / rel
    assert path.is_file(), f"the rebuild of {rel} wrote no table"
    return path.read_bytes()


def _options(command: str, flag: str) -> list[str]:
    """Every value of ``flag`` in a recorded command line."""
    words = shlex.split(command)
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w == flag]


def rebuild_study(rel: str) -> bytes:
    """A forecasting study's table from its run folder (what ``study`` writes after every unit)."""
    from simmtm.experiments.forecasting import write_tables
    from simmtm.experiments.records import RecordStore, run_folder

    _copy(run_folder(rel))
    write_tables(rel, RecordStore(run_folder(rel)))
    return _written(rel)


def rebuild_selected(rel: str) -> bytes:
    """``python -m simmtm selected``: each init's rows from the study fine-tuned with its selected protocol;
    the selection and the tables as the table's JSON names them."""
    from simmtm.experiments.protocol_selection import selected_table
    from simmtm.experiments.records import run_folder

    settings = _json(rel)["settings"]
    tables = list(dict.fromkeys(settings["tables"].values()))
    _copy(Path(settings["selection"]).with_suffix(".json"), *(run_folder(t) for t in tables))
    selected_table(rel, settings["selection"], tables)
    return _written(rel)


def rebuild_protocols(rel: str) -> bytes:
    """``python -m simmtm protocols ... --report-only``: the protocols (in the table's order), horizon, seeds
    and inits from the JSON beside it; the numbers from the protocol studies' run folders."""
    from simmtm.experiments.protocol_selection import write_selection
    from simmtm.experiments.records import run_folder
    from simmtm.training.protocols import FinetuneProtocol

    saved = _json(rel)
    protocols = {r["protocol"]: FinetuneProtocol.from_dict(r["spec"]) for r in saved["rows"]}
    _copy(run_folder(rel))
    write_selection(rel, protocols, horizon=saved["horizon"], seeds=saved["seeds"], inits=saved["inits"])
    return _written(rel)


def rebuild_curve(rel: str) -> bytes:
    """``python -m simmtm curve labels|scale ... --report-only`` over the recorded points, horizons and
    seeds: each init's protocol by the name the JSON gives, its spec from the settings of a study that
    fine-tuned with it (what the selection gave the run)."""
    from simmtm.experiments.curves import INITS, write_curve
    from simmtm.experiments.records import RecordStore, run_folder
    from simmtm.training.protocols import FinetuneProtocol

    saved = _json(rel)
    stem, points = Path(rel).stem, [*dict.fromkeys(r["point"] for r in saved["rows"]), "random"]
    protocols = {}
    for init, name in saved["protocols"].items():  # a study of the curve is <stem>-<point>-<protocol name>
        study = next(f for p in points if (f := run_folder(ROOT / rel) / f"{stem}-{p}-{name}").is_dir())
        protocols[init] = (name, FinetuneProtocol.from_dict(RecordStore(study).settings().get("protocol", {})))
    _copy(run_folder(rel))
    write_curve(rel, {"kind": saved["kind"], "points": {}}, protocols, inits=list(INITS), horizons=[], seeds=[])
    return _written(rel)


def rebuild_sweep(rel: str) -> bytes:
    """``python -m simmtm sweep``'s table from its variants' run folders (the variants as its command gave them)."""
    from simmtm.cli.studies import parse_variant
    from simmtm.experiments.forecasting import rebuild_sweep as rebuild
    from simmtm.experiments.records import run_folder

    command = _json(rel)["command"]
    _copy(run_folder(rel))
    rebuild(rel, dict(parse_variant(v) for v in _options(command, "--variant")), command)
    return _written(rel)


def rebuild_legacy_study(rel: str) -> bytes:
    """A forecasting study from before run folders: its JSON holds the command and every run."""
    from simmtm.experiments.forecasting import legacy_table

    return legacy_table(_json(rel)).encode("utf-8")


def rebuild_ablation(rel: str) -> bytes:
    """``python -m simmtm ablate``'s table from its run folder (what ``analyse`` writes at its end)."""
    from simmtm.experiments.analyses import analysis_markdown
    from simmtm.experiments.records import RecordStore, run_folder

    _copy(run_folder(rel))
    store = RecordStore(run_folder(rel))
    settings = store.settings()
    return analysis_markdown(settings, store.records(analysis=settings["analysis"])).encode("utf-8")


def rebuild_comparison(rel: str) -> bytes:
    from simmtm.experiments.comparison import comparison_markdown

    return comparison_markdown(_json(rel)).encode("utf-8")


def rebuild_classification(rel: str) -> bytes:
    """A classification study from its JSON. JSONs written before the title was saved lack it; it is
    ``<setting> (<encoder>)`` as ``classify`` named it, read from the recorded command."""
    from simmtm.experiments.classification import classification_markdown

    saved = _json(rel)
    if "title" not in saved:
        setting = _options(saved["command"], "--setting")[0]
        encoder = (_options(saved["command"], "--encoder") or ["cnn"])[0]  # classify's default encoder
        saved = {**saved, "title": f"{setting} ({encoder})"}
    return classification_markdown(saved).encode("utf-8")


def rebuild_anomaly_synthetic(rel: str) -> bytes:
    from simmtm.experiments.anomaly_synthetic import results_markdown

    saved = _json(rel)
    return results_markdown(saved["runs"], command=saved["command"], setting=saved["setting"],
                            budget=saved["budget"]).encode("utf-8")


def rebuild_anomaly_real(rel: str) -> bytes:
    """The real-series anomaly table from its run folder (setting and budget recomputed from the folder's
    settings and records; the series' shapes from the records, so no data file), and the hand-written
    reading beside it if there is one; the command from the JSON."""
    from simmtm.experiments.anomaly_real import rebuild_report
    from simmtm.experiments.records import run_folder

    reading = Path(rel).with_name(Path(rel).stem + "_reading.md")
    _copy(run_folder(rel), *([reading] if (ROOT / reading).is_file() else []))
    rebuild_report(rel, _json(rel)["command"])
    return _written(rel)


def rebuild_own_classification(rel: str) -> bytes:
    from simmtm.experiments.own_classification import markdown

    return markdown(_json(rel)).encode("utf-8")


def rebuild_own_forecasting(rel: str) -> bytes:
    """The own-data forecasting report from its JSON; its "Reading" notes are prose that the report()
    call was given (results/own_data/own_data_forecasting/HOW.md), taken from the table itself."""
    from simmtm.experiments.own_forecasting import _markdown

    payload = _json(rel)
    # back to the payload the report was written from: JSON made its seeds (int keys) strings and its
    # split borders (tuples) lists
    payload["results"] = {name: {int(seed): run for seed, run in runs.items()}
                          for name, runs in payload["results"].items()}
    payload["data"]["split"] = {part: tuple(rows) for part, rows in payload["data"]["split"].items()}
    committed = (ROOT / rel).read_text(encoding="utf-8")
    _, found, reading = committed.partition("\n## Reading\n\n")
    notes = reading.rstrip("\n").split("\n") if found else []
    return ("\n".join(_markdown(payload, notes)) + "\n").encode("utf-8")


def rebuild_general(rel: str) -> bytes:
    """``python -m simmtm general --stages report``: the general forecaster's table and JSON from its records."""
    from simmtm.experiments.general import write_report
    from simmtm.experiments.records import run_folder

    _copy(run_folder(rel))
    write_report(rel)
    assert (Path.cwd() / rel).with_suffix(".json").read_bytes() == (ROOT / rel).with_suffix(".json").read_bytes()
    return _written(rel)


REBUILDS = {name.removeprefix("rebuild_"): fn for name, fn in globals().items() if name.startswith("rebuild_")}


# --- the tests -----------------------------------------------------------------------------------

def _first_difference(rel: str, kind: str, rebuilt: bytes, committed: bytes) -> str:
    new, old = rebuilt.decode("utf-8", "replace").split("\n"), committed.decode("utf-8", "replace").split("\n")
    for i, (a, b) in enumerate(zip(old, new), 1):
        if a != b:
            return (f"{rel} ({kind}) does not rebuild from its records: first difference at line {i}\n"
                    f"  committed: {a!r}\n  rebuilt:   {b!r}")
    return (f"{rel} ({kind}) does not rebuild from its records: the same first {min(len(old), len(new))} lines, "
            f"then committed {len(old)} lines vs rebuilt {len(new)}")


def _params():
    return [pytest.param(rel, kind, id=rel.removeprefix("results/")) for rel, kind in TABLES.items()]


@pytest.mark.parametrize("rel, kind", _params())
def test_committed_table_rebuilds_byte_identical(rel, kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rebuilt = REBUILDS[kind](rel)
    committed = (ROOT / rel).read_bytes()
    assert rebuilt == committed, _first_difference(rel, kind, rebuilt, committed)
    data = Path(rel).with_suffix(".json")  # the JSON beside it, where the rebuild writes (or reads) one
    if (tmp_path / data).is_file() and (ROOT / data).is_file():
        assert (tmp_path / data).read_bytes() == (ROOT / data).read_bytes(), f"{data} does not rebuild from its records"


def test_every_results_markdown_is_accounted_for():
    """Every .md under results/ is a rebuilt table, prose, or a table whose inputs are not committed."""
    found = {p.relative_to(ROOT).as_posix() for p in RESULTS.rglob("*.md")}
    listed = {**PROSE, **NOT_REBUILDABLE}
    unaccounted = sorted(found - set(TABLES) - set(listed))
    assert not unaccounted, ("results/ holds markdown that is neither rebuilt from records nor listed as prose "
                             f"or not rebuildable (give it a rebuild here, or list it with the reason): {unaccounted}")
    stale = sorted(set(listed) - found)
    assert not stale, f"listed here but no longer under results/: {stale}"
    assert not set(PROSE) & set(NOT_REBUILDABLE)
    assert set(TABLES.values()) <= set(REBUILDS)
