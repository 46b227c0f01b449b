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


def test_ettm1_preset_builds_the_official_architecture():
    """Weights per module of the official ETTm1 pre-training model (thuml/SimMTM, 62,137,394
    trainable weights): the flatten decoder ``Linear(L*D, L)`` is the default, not ours."""
    from simmtm.build import build_simmtm

    model = build_simmtm(get_preset("ETTm1"))
    count = {name: sum(p.numel() for p in module.parameters()) for name, module in model.named_children()}
    enc = {name: sum(p.numel() for p in module.parameters()) for name, module in model.encoder.named_children()}
    assert enc["embedding"] == 96  # Conv1d(1, 32, kernel 3, circular, no bias)
    assert enc["layers"] + enc["norm"] == 17_152
    assert count["projector"] == 58_507_136  # Linear(336*32, 5376) + BN + Linear(5376, 128)
    assert count["decoder"] == 3_613_008  # Linear(336*32, 336)
    assert count["weighting"] == 2
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 62_137_394
    for name in ("ETTh1", "ETTm1", "Weather", "tiny"):
        assert get_preset(name).decoder == "flatten"
