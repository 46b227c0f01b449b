import numpy as np
import pytest
import torch

from simmtm.classification.training import FrozenEncoder, finetune, pretrain
from simmtm.config import get_preset
from simmtm.data import synthetic_classification


@pytest.fixture(scope="module")
def data():
    x, y = synthetic_classification(360, 64, 1, 3, noise=0.4, seed=0)
    return {"pool": x[:240], "train": (x[240:300], y[240:300]), "val": (x[300:330], y[300:330]),
            "test": (x[330:], y[330:])}


@pytest.fixture(scope="module")
def cfg():
    return get_preset("Epilepsy", seq_len=64, lr=1e-3,
                      encoder=get_preset("Epilepsy").encoder.__class__(kernel_sizes=(8, 8, 8), strides=(1, 1, 1)))


def test_pretrain_finetune_and_linear_probe_beat_chance(data, cfg):
    model, result = pretrain(cfg, data["pool"], data["val"][0], device="cpu", epochs=2, progress=False, log=lambda *_: None)
    assert result["history"][-1]["train_loss"] < result["history"][0]["train_loss"] + 1.0
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    splits = {k: data[k] for k in ("train", "val", "test")}
    full = finetune(cfg, splits, encoder=model.encoder, lr=1e-3, epochs=15, device="cpu")
    probe = finetune(cfg, splits, encoder=model.encoder, linear_probe=True, lr=1e-3, epochs=15, device="cpu")
    assert set(full["test"]) >= {"accuracy", "precision", "recall", "f1", "auroc", "auprc"}
    assert full["test"]["accuracy"] > 0.5 and probe["test"]["accuracy"] > 0.45  # chance = 1/3
    # The caller's encoder is untouched (deep copy), and probing did not move the frozen weights.
    assert all(torch.equal(before[k], v) for k, v in model.encoder.state_dict().items())
    frozen = probe["model"].encoder
    assert isinstance(frozen, FrozenEncoder)
    assert all(torch.equal(before[k], v) for k, v in frozen.encoder.state_dict().items())


def test_bad_inputs(data, cfg):
    x, y = data["train"]
    one_class = {"train": (x, np.zeros_like(y)), "val": data["val"], "test": data["test"]}
    with pytest.raises(ValueError, match="single class"):
        finetune(cfg, one_class, epochs=1, device="cpu")
    with pytest.raises(ValueError, match="linear_probe needs"):
        finetune(cfg, {k: data[k] for k in ("train", "val", "test")}, linear_probe=True, epochs=1, device="cpu")
    model, _ = pretrain(cfg, data["pool"][:64], device="cpu", epochs=1, progress=False, log=lambda *_: None)
    three = {k: (np.repeat(data[k][0], 3, axis=2), data[k][1]) for k in ("train", "val", "test")}
    with pytest.raises(ValueError, match="channels"):  # a 1-channel encoder on 3-channel data
        finetune(cfg, three, encoder=model.encoder, epochs=1, device="cpu")


@pytest.mark.parametrize("setting", ["epilepsy", "sleepeeg-gesture"])
def test_classify_cli_on_real_data(tmp_path, setting, monkeypatch):
    from conftest import shared_file
    from simmtm.cli import main

    monkeypatch.chdir(tmp_path)  # the pre-training checkpoint goes to checkpoints/studies/ under it
    root = shared_file("Epilepsy_UCI/epileptic_seizure_recognition.csv").parents[1]
    shared_file("SleepEEG_subset/train.pt")
    out = tmp_path / "r.md"
    assert main(["classify", "--setting", setting, "--root", str(root), "--seeds", "0", "--pretrain-epochs", "1",
                 "--finetune-epochs", "2", "--max-pretrain", "256", "--device", "cpu", "--out", str(out)]) == 0
    table = out.read_text()
    assert "| SimMTM fine-tune |" in table and "| random init |" in table and "of which a random 256" in table
