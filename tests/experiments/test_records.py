"""The run folder of per-unit records: atomic writes, skip-if-done, settings guard."""
import json

import pytest

from simmtm.experiments.records import RecordStore, key_name, mean_std


def test_put_get_and_skip_if_done(tmp_path):
    store = RecordStore(tmp_path / "run")
    key = {"unit": "finetune", "seed": 0, "horizon": 96, "init": "random init"}
    assert store.get(key) is None and not store.done(key)
    calls = []

    def compute():
        calls.append(1)
        return {"mse": 0.5, "pair": (1, 2)}

    first = store.run(key, compute)
    second = store.run(key, compute)
    assert calls == [1]  # the second run read the record instead of computing
    assert first == second == {"key": key, "mse": 0.5, "pair": [1, 2]}
    assert store.path(key).name == "unit=finetune,seed=0,horizon=96,init=random_init.json"
    assert not list((tmp_path / "run").glob("*.tmp"))
    assert [r["key"] for r in store.records(unit="finetune")] == [key] and store.records(unit="pretrain") == []


def test_a_record_under_another_key_or_damaged_is_reported_and_redone(tmp_path):
    logs = []
    store = RecordStore(tmp_path, log=logs.append)
    key = {"unit": "pretrain", "seed": 1}
    path = store.path(key)
    path.write_text(json.dumps({"key": {"unit": "pretrain", "seed": 2}}))
    assert store.get(key) is None and "holds the record of" in logs[-1] and str(path) in logs[-1]
    path.write_text("{not json")
    assert not store.done(key) and f"corrupt record {path}" in logs[-1]
    assert path.with_name(path.name + ".corrupt").read_text() == "{not json"  # kept aside, not lost
    assert store.run(key, lambda: {"mse": 1.0})["mse"] == 1.0 and store.get(key)["mse"] == 1.0


def test_settings_guard(tmp_path):
    store = RecordStore(tmp_path)
    store.check_settings({"a": 1, "b": (2, 3)})
    store.check_settings({"a": 1, "b": [2, 3]})  # the same once read back from JSON
    with pytest.raises(ValueError, match="other settings \\(b differ\\)"):
        store.check_settings({"a": 1, "b": [2, 4]})
    assert store.settings() == {"a": 1, "b": [2, 3]}


def test_keys_and_summaries():
    with pytest.raises(ValueError, match="at least one field"):
        key_name({})
    with pytest.raises(TypeError, match="plain value"):
        key_name({"seed": [0]})
    assert mean_std([1.0, 3.0]) == "2.0000 ± 1.0000" and mean_std([]) == "-"
    assert mean_std([0.25]) == "0.2500" and mean_std([0.25], 2) == "0.25"  # one seed: no "± 0" spread


def test_committed_anomaly_tables_regenerate_byte_equal_from_their_json():
    from pathlib import Path

    from simmtm.experiments.anomaly_synthetic import results_markdown

    results = Path(__file__).resolve().parents[2] / "results" / "anomaly"
    for name in ("anomaly_synthetic_1ch", "anomaly_synthetic_3ch"):
        saved = json.loads((results / f"{name}.json").read_text())
        md = results_markdown(saved["runs"], command=saved["command"], setting=saved["setting"], budget=saved["budget"])
        assert md == (results / f"{name}.md").read_text()


def test_in_memory_store_behaves_like_a_folder():
    store = RecordStore(None)
    store.check_settings({"a": 1})
    assert store.run({"seed": 0}, lambda: {"x": (1, 2)}) == {"key": {"seed": 0}, "x": [1, 2]}
    assert store.done({"seed": 0}) and store.records() == [{"key": {"seed": 0}, "x": [1, 2]}]


def test_canonical_command_reads_retired_spellings_as_today():
    from simmtm.experiments.records import canonical_command

    old = "python -m simmtm curve labels --pred-lens 96 336 --out results/payoff/x.md"
    assert canonical_command(old) == "python -m simmtm curve labels --pred-len 96 336 --out results/payoff/x.md"
    assert canonical_command("python -m simmtm ablate --horizons 96 --horizon-note x") == \
        "python -m simmtm ablate --pred-len 96 --horizon-note x"
