import pytest

from simmtm.cli import main


def test_presets_command_lists_every_preset(capsys):
    from simmtm.config import PRESETS

    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PRESETS)


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
