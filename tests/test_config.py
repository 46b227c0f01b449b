from dataclasses import FrozenInstanceError, replace

import pytest

from simmtm.config import PRESETS, CNNConfig, SimMTMConfig, get_preset


def test_presets_mirror_the_official_scripts():
    ettm1 = get_preset("ETTm1")
    assert (ettm1.seq_len, ettm1.encoder.n_layers, ettm1.encoder.n_heads, ettm1.encoder.d_model,
            ettm1.encoder.d_ff, ettm1.n_views, ettm1.mask_ratio, ettm1.lr, ettm1.batch_size) == (
        336, 2, 8, 32, 64, 3, 0.5, 1e-3, 16)
    assert get_preset("ETTh1").encoder.n_layers == 3 and get_preset("ETTh1").encoder.n_heads == 16
    assert get_preset("Weather").encoder.d_model == 64 and get_preset("Weather").n_views == 2
    sleep = get_preset("SleepEEG")
    assert isinstance(sleep.encoder, CNNConfig) and (sleep.seq_len, sleep.lr, sleep.batch_size) == (178, 1e-4, 32)
    assert all(cfg.temperature == 0.2 for cfg in PRESETS.values())


def test_configs_are_frozen_and_overridable():
    cfg = get_preset("tiny", epochs=7)
    assert cfg.epochs == 7
    with pytest.raises(FrozenInstanceError):
        cfg.epochs = 1  # type: ignore[misc]
    assert replace(cfg, lr=0.5).lr == 0.5


@pytest.mark.parametrize("name", list(PRESETS))
def test_dict_round_trip(name):
    cfg = PRESETS[name]
    assert SimMTMConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown preset 'ETTx9'"):
        get_preset("ETTx9")
    d = PRESETS["tiny"].to_dict()
    with pytest.raises(ValueError, match="unknown SimMTMConfig fields"):
        SimMTMConfig.from_dict({**d, "colour": "red"})
    with pytest.raises(ValueError, match="encoder kind"):
        SimMTMConfig.from_dict({**d, "encoder": {"kind": "lstm"}})
