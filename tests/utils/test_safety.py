"""Safe loading (nothing in a file runs) and one-line CLI errors for what users get wrong."""
import os
import pickle

import numpy as np
import pytest
import torch

from simmtm.build import build_forecaster, build_simmtm
from simmtm.training.checkpoint import FORMAT_VERSION, load_pretrained_encoder, read_checkpoint, save_checkpoint
from simmtm.cli import main
from simmtm.config import get_preset
from simmtm.data.classification import load_tfc_split
from simmtm.data.memmap import convert_tfc
from simmtm.training.resume import load_resume_state
from simmtm.utils.serialization import UnsafeFileError

from conftest import hourly_csv, shared_file


class _Payload:
    """Unpickling this calls os.system: a file holding it must be refused before it runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _malicious(path, marker, layout):
    torch.save(layout(_Payload(marker)), path)
    return path


@pytest.mark.parametrize("loader,layout", [
    (read_checkpoint, lambda p: {"format_version": 1, "kind": "simmtm", "config": {}, "model": p}),
    (load_pretrained_encoder, lambda p: {"format_version": 1, "kind": "simmtm", "config": p, "model": {}}),
    (load_resume_state, lambda p: {"loop": p}),
    (lambda path: load_tfc_split(path.parent, "train"), lambda p: {"samples": p, "labels": torch.zeros(2)}),
    (lambda path: convert_tfc(path, path.parent / "out"), lambda p: {"samples": p, "labels": torch.zeros(2)}),
], ids=["checkpoint", "encoder", "resume state", "TF-C split", "memmap source"])
def test_malicious_files_are_refused_and_nothing_runs(tmp_path, loader, layout):
    marker = tmp_path / "MARKER"
    path = _malicious(tmp_path / "train.pt", marker, layout)
    with pytest.raises(UnsafeFileError, match="refused to load .*train.pt.*ran nothing"):
        loader(path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_legacy_pickle_is_refused_too(tmp_path):
    marker = tmp_path / "MARKER"
    with open(tmp_path / "old.pt", "wb") as f:
        pickle.dump({"model": _Payload(marker)}, f)
    with pytest.raises(ValueError, match="corrupt or not a simmtm checkpoint"):
        read_checkpoint(tmp_path / "old.pt")
    assert not marker.exists()


def test_checkpoints_and_resume_states_round_trip_with_weights_only(tmp_path):
    cfg = get_preset("tiny", seq_len=32, n_channels=2)
    model = build_simmtm(cfg)
    save_checkpoint(tmp_path / "c.pt", model, cfg, optimizer=torch.optim.Adam(model.parameters()), epoch=1,
                    metrics={"loss": 1.0}, dataset="x")
    assert torch.load(tmp_path / "c.pt", weights_only=True)["extra"] == {"dataset": "x"}
    encoder, saved = load_pretrained_encoder(tmp_path / "c.pt")
    assert saved == cfg


def test_real_tfc_files_load_safely():
    for relative in ("Epilepsy_TFC/train.pt", "Gesture_TFC/train.pt", "SleepEEG_subset/val.pt"):
        path = shared_file(relative)
        x, y = load_tfc_split(path.parent, path.stem)
        assert x.ndim == 3 and len(x) == len(y) and np.isfinite(x).all()


def test_format_version_and_kind_are_checked(tmp_path):
    cfg = get_preset("tiny", seq_len=32, n_channels=2)
    save_checkpoint(tmp_path / "f.pt", build_forecaster(cfg, 8), cfg, kind="forecaster")
    with pytest.raises(ValueError, match="holds a 'forecaster' model; this needs a 'simmtm' or 'encoder' checkpoint"):
        load_pretrained_encoder(tmp_path / "f.pt")
    blob = torch.load(tmp_path / "f.pt", weights_only=True)
    torch.save({**blob, "format_version": FORMAT_VERSION + 1}, tmp_path / "v.pt")
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}; this simmtm reads version {FORMAT_VERSION}"):
        read_checkpoint(tmp_path / "v.pt")


# --- the command line -----------------------------------------------------------------------------

def _csv(path, rows=400, channels=3, nan=False):
    hourly_csv(path, rows, channels, nan_at=(10, 1) if nan else None)
    return str(path)


@pytest.fixture
def inputs(tmp_path):
    cfg = get_preset("tiny", seq_len=32, n_channels=3)
    paths = {"csv": _csv(tmp_path / "ok.csv"), "nan": _csv(tmp_path / "nan.csv", nan=True)}
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("date,a,b\n")
    save_checkpoint(tmp_path / "sim.pt", build_simmtm(cfg), cfg)
    good = (tmp_path / "sim.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(good[: len(good) // 2])
    (tmp_path / "garbage.pt").write_text("garbage\n")
    save_checkpoint(tmp_path / "fc.pt", build_forecaster(cfg, 8), cfg, kind="forecaster")
    cnn = get_preset("Epilepsy")
    save_checkpoint(tmp_path / "cnn.pt", build_simmtm(cnn), cnn)
    _malicious(tmp_path / "evil.pt", tmp_path / "MARKER",
               lambda p: {"format_version": 1, "kind": "simmtm", "config": p, "model": {}})
    blob = torch.load(tmp_path / "sim.pt", weights_only=True)
    torch.save({**blob, "format_version": 99}, tmp_path / "v99.pt")
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    return paths


Q = ["--device", "cpu", "--no-progress", "--epochs", "1"]
CASES = {
    "missing checkpoint": (["finetune", "--preset", "tiny", "--from", "nope.pt", "--data", "ok.csv", *Q], "no simmtm checkpoint at nope.pt"),
    "directory as checkpoint": (["finetune", "--from", "adir", "--data", "ok.csv", *Q], "adir is a directory"),
    "truncated checkpoint": (["finetune", "--from", "trunc.pt", "--data", "ok.csv", *Q], "corrupt or not a simmtm checkpoint: trunc.pt"),
    "garbage checkpoint": (["finetune", "--from", "garbage.pt", "--data", "ok.csv", *Q], "corrupt or not a simmtm checkpoint: garbage.pt"),
    "wrong-kind checkpoint": (["finetune", "--from", "fc.pt", "--data", "ok.csv", *Q], "holds a 'forecaster' model"),
    "other format version": (["finetune", "--from", "v99.pt", "--data", "ok.csv", *Q], "format version 99"),
    "malicious checkpoint": (["finetune", "--from", "evil.pt", "--data", "ok.csv", *Q], "refused to load evil.pt"),
    "wrong channel count": (["finetune", "--from", "cnn.pt", "--data", "ok.csv", "--pred-len", "8", *Q],
                            "takes 1 input channels but the data has 3"),
    "empty CSV": (["pretrain", "--preset", "tiny", "--data", "empty.csv", *Q], "empty.csv: no rows"),
    "header-only CSV": (["pretrain", "--preset", "tiny", "--data", "header.csv", *Q], "header.csv: no rows"),
    "NaN CSV": (["pretrain", "--preset", "tiny", "--data", "nan.csv", *Q], "1 rows with NaN"),
    "missing CSV": (["pretrain", "--preset", "tiny", "--data", "gone.csv", *Q], "no CSV at gone.csv"),
    "unknown dataset": (["pretrain", "--preset", "tiny", "--data", "ETTx9", *Q], "unknown dataset 'ETTx9'"),
    "unknown preset": (["pretrain", "--preset", "nope", "--data", "ok.csv", *Q], "unknown preset 'nope'"),
    "unknown setting": (["classify", "--setting", "nope"], "invalid choice: 'nope'"),
    "unknown budget": (["study", "--preset", "tiny", "--data", "ok.csv", "--budget", "huge", *Q], "unknown budget 'huge'"),
    "negative epochs": (["pretrain", "--preset", "tiny", "--data", "ok.csv", "--epochs", "-1"], "must be a positive integer, got -1"),
    "mask ratio 1.5": (["pretrain", "--preset", "tiny", "--data", "ok.csv", "--mask-ratio", "1.5", *Q], "strictly between 0 and 1"),
    "horizon 0": (["finetune", "--preset", "tiny", "--data", "ok.csv", "--pred-len", "0", *Q], "must be a positive integer, got 0"),
    "seq_len longer than the data": (["pretrain", "--preset", "tiny", "--data", "ok.csv", "--seq-len", "2000", *Q],
                                     "seq_len=2000 is longer than the training split"),
    "unwritable --out": (["pretrain", "--preset", "tiny", "--data", "ok.csv", "--seq-len", "32", "--out", "afile/x.pt", *Q],
                         "cannot write afile/x.pt"),
    "directory as --out": (["study", "--preset", "tiny", "--data", "ok.csv", "--seq-len", "32", "--out", "adir", *Q],
                           "cannot write adir: it is a directory"),
    "unnamed sweep variant": (["sweep", "--preset", "tiny", "--data", "ok.csv", "--seq-len", "32", "--variant", ":x=1", *Q],
                              "a variant needs a name"),
    "missing convert source": (["convert", "gone.pt", "out"], "gone.pt"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_exit_code_2(case, inputs, tmp_path, monkeypatch, capsys):
    argv, expected = CASES[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIMMTM_DEBUG", raising=False)
    before = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simmtm: error: "), err
    assert expected in lines[0] and "Traceback" not in err
    assert {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} == before  # nothing written, half or whole
    assert not (tmp_path / "MARKER").exists()


def test_debug_shows_the_traceback(inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no simmtm checkpoint"):
        main(["--debug", "finetune", "--from", "nope.pt", "--data", "ok.csv", *Q])
    monkeypatch.setenv("SIMMTM_DEBUG", "1")
    with pytest.raises(ValueError, match="unknown preset"):
        main(["pretrain", "--preset", "nope", "--data", "ok.csv", *Q])
