"""The input checks every layer shares: command-line values parsed with one-line reasons."""
import math

import pytest

from simmtm.utils import checks


@pytest.mark.parametrize("parse, text, value", [
    (checks.parse_positive_int, "3", 3), (checks.parse_positive_float, "1e-3", 1e-3), (checks.parse_dropout, "0", 0.0),
    (checks.parse_ratio, "0.5", 0.5), (checks.parse_fraction, "1", 1.0), (checks.parse_scale_point, "30:all", (30, None)),
    (checks.parse_scale_point, "10:8192", (10, 8192)), (checks.parse_scale_point, "3", (3, None))])
def test_parsers_return_the_value(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize("parse, text, reason", [
    (checks.parse_positive_int, "0", "must be a positive integer, got 0"),
    (checks.parse_positive_int, "2.5", "must be an integer, got 2.5"),
    (checks.parse_positive_float, "inf", "must be a finite number > 0, got inf"),
    (checks.parse_positive_float, "nan", "must be a finite number > 0, got nan"),
    (checks.parse_dropout, "1", "must be in [0, 1), got 1"),
    (checks.parse_ratio, "1", "must be strictly between 0 and 1, got 1"),
    (checks.parse_fraction, "0", "must be in (0, 1], got 0"),
    (checks.parse_scale_point, "x:1", "expected EPOCHS:WINDOWS"),
    (checks.parse_scale_point, "0:all", "epochs and windows must be >= 1")])
def test_parsers_refuse_with_the_reason(parse, text, reason):
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parse(text)


def test_number_checks_name_the_argument():
    with pytest.raises(ValueError, match="d_model must be an integer >= 1, got -4"):
        checks.check_int("d_model", -4)
    with pytest.raises(ValueError, match="lr must be a finite number > 0 and < 1, got"):
        checks.check_real("lr", math.inf, low=0, high=1, low_open=True)
    checks.check_real("lr", 0.5, low=0, high=1, low_open=True)  # inside: no error
