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


@pytest.mark.parametrize("command, old", [(["curve", "labels", "--pred-lens", "96"], "--pred-lens"),
                                          (["ablate", "--task", "ETTh1", "--analysis", "views", "--horizons", "96"],
                                           "--horizons"),
                                          (["compare", "--task", "ETTh1", "--horizon", "96"], "--horizon")])
def test_a_retired_spelling_names_the_one_to_use(command, old, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(command)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert f"{old} is now --pred-len" in err


def test_every_command_help_prints(capsys):
    from simmtm.cli import COMMANDS

    for name in COMMANDS:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0, name
    assert "usage" in capsys.readouterr().out


def test_a_single_horizon_command_refuses_two(tmp_path, capsys):
    assert main(["sweep", "--preset", "tiny", "--data", str(tmp_path / "x.csv"), "--variant", "base",
                 "--pred-len", "24", "48"]) == 2
    assert "takes one --pred-len value, got 2: 24 48" in capsys.readouterr().err
