"""Command line: ``python -m simmtm <command>``, one module per command group; each command is an
``(arguments, action)`` pair that parses and prints while the work happens in the task packages.

- :mod:`~simmtm.cli.forecasting`: pretrain, finetune, forecast
- :mod:`~simmtm.cli.classification`: classify, predict
- :mod:`~simmtm.cli.anomaly`: anomaly
- :mod:`~simmtm.cli.studies`: study, sweep, protocols, selected, curve, compare, ablate
- :mod:`~simmtm.cli.general`: general (the general forecaster's study)
- :mod:`~simmtm.cli.admin`: demo, presets, download, convert, checkpoints, ship
"""
from __future__ import annotations

import os
import sys

from simmtm.cli import admin, anomaly, classification, common, forecasting, general, studies

COMMANDS = {**admin.COMMANDS, **forecasting.COMMANDS, **studies.COMMANDS, **classification.COMMANDS,
            **anomaly.COMMANDS, **general.COMMANDS}  # name: (help, arguments, action)
RESUMABLE = ("study", "sweep", "classify", "compare", "ablate", "anomaly", "general")  # one record per finished unit


def build_parser() -> common.Parser:
    parser = common.Parser(prog="python -m simmtm", description="SimMTM masked time-series pre-training")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (or SIMMTM_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=common.Parser)
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error ends in one line on stderr and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    debug = args.debug or os.environ.get("SIMMTM_DEBUG") == "1"
    try:
        COMMANDS[args.command][2](args)
    except common.USER_ERRORS as err:
        if debug:
            raise
        sys.stderr.write(f"simmtm: error: {' '.join(str(err).split()) or type(err).__name__}\n")
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        sys.stderr.write(f"\nsimmtm: {interrupted(args)}\n")
        return 130
    return 0


def interrupted(args) -> str:
    """The one line after Ctrl-C: what a rerun does, where that is known to be true."""
    if args.command in RESUMABLE:
        return "interrupted; rerun the same command to resume (finished units are kept)"
    if args.command in ("pretrain", "finetune"):
        if args.resume:
            return "interrupted; rerun the same command to resume"
        return "interrupted; rerun the same command with --resume to continue after the last finished epoch"
    return "interrupted"


if __name__ == "__main__":
    sys.exit(main())
