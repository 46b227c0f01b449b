"""What every command group shares: the one-line error parser, argument types, the option groups
(model and data, study budget, protocol, horizons) and the readers that turn them into configs.
Parsing only: the work is in the task packages."""
from __future__ import annotations

import argparse
import ast
import shlex
import sys
from pathlib import Path

import torch

from simmtm.experiments.records import RETIRED_OPTIONS
from simmtm.utils import checks

AMP = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# What a user's input can cause: a bad value or name, a missing, corrupt or unwritable file. These end
# in one line on stderr and exit code 2; anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, OSError)


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one line, ``simmtm: error: ...`` (exit code 2)."""

    def error(self, message):
        for old, new in RETIRED_OPTIONS.items():  # spellings retired in 0.2: name the one to use
            if f" {old}" in f" {message}".replace(",", " ") and "unrecognized" in message:
                message += f" ({old} is now {new}, which takes one or more values)"
                break
        sys.stderr.write(f"simmtm: error: {self.prog.removeprefix('python -m simmtm').strip() or 'simmtm'}: {message}\n")
        sys.exit(2)


def _argument(parse):
    """An argparse type from a parser of :mod:`simmtm.utils.checks` (its message becomes the error)."""
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


positive = _argument(checks.parse_positive_int)
positive_float = _argument(checks.parse_positive_float)
dropout = _argument(checks.parse_dropout)
ratio = _argument(checks.parse_ratio)
fraction = _argument(checks.parse_fraction)
scale_point = _argument(checks.parse_scale_point)


def _device(text: str) -> str:
    from simmtm.utils.device import check_device

    return check_device(text)


device = _argument(_device)  # checked up front: --device tpu7 fails before any work


def literal(text: str):
    """A number, tuple, ... written on the command line, else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def writable(path: str | Path, *, folder: bool = False) -> Path:
    return checks.check_writable(path, folder=folder)


def command_line(args) -> str:
    return "python -m simmtm " + shlex.join(args.argv)


def one(values: list[int], name: str = "--pred-len") -> int:
    """The single value of an option that this command takes once."""
    if len(values) != 1:
        raise ValueError(f"this command takes one {name} value, got {len(values)}: {' '.join(map(str, values))}")
    return values[0]


# --- option groups -------------------------------------------------------------------------------

def pred_len_arg(p, default: list[int], help_text: str = "forecast horizon(s): one or more values") -> None:
    p.add_argument("--pred-len", type=positive, nargs="+", default=default, metavar="H", help=help_text)


def model_args(p, *, preset_default=None):
    """The model, data and run options of the forecasting commands."""
    p.add_argument("--preset", default=preset_default,
                   help="configuration preset (python -m simmtm presets); default: <data>-cpu (or ETTm1-cpu for a "
                        "CSV of yours) on a CPU, the paper's <data> (or ETTm1) on a GPU")
    p.add_argument("--data", default=None, help="dataset name (ETTh1, ETTm1, Weather, ...) or CSV path; default: the preset's")
    p.add_argument("--date-column", default=None,
                   help="your CSV's date column (default 'date'; a CSV without dates is numbered by row)")
    p.add_argument("--root", default="data", help="data folder for dataset names")
    p.add_argument("--features", default="M", choices=["M", "S"], help="M: all channels, S: the target only")
    p.add_argument("--repair-dates", action="store_true",
                   help="a CSV whose rows are out of time order or repeat a time stamp: sort it and drop the repeats "
                        "(default: refuse it, naming the first such row)")
    p.add_argument("--seq-len", type=positive, default=None)
    p.add_argument("--patch-len", type=positive, default=None, help="patch tokens of P steps (1 = a token per step)")
    p.add_argument("--mask-ratio", type=ratio, default=None, help="share of time points each view hides")
    p.add_argument("--batch-size", type=positive, default=None)
    p.add_argument("--lr", type=positive_float, default=None)
    p.add_argument("--epochs", type=positive, default=None)
    p.add_argument("--max-windows", type=positive, default=None,
                   help="at most this many evenly spaced windows per split (default: the preset's budget)")
    p.add_argument("--device", type=device, default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--amp", default="none", choices=list(AMP),
                   help="autocast dtype: bf16 (CPU or recent GPUs) or fp16 (CUDA, with loss scaling)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def budget_args(p):
    p.add_argument("--budget", default="cpu", help="named study budget: cpu (this project's CPU recipe) or paper")
    p.add_argument("--pretrain-windows", type=positive, default=None, help="pre-train on this many evenly spaced windows")
    p.add_argument("--finetune-windows", type=positive, default=None, help="fine-tune on this many evenly spaced windows")
    p.add_argument("--finetune-epochs", type=positive, default=None)
    p.add_argument("--finetune-lr", type=positive_float, default=None)
    p.add_argument("--patience", type=positive, default=None)
    p.add_argument("--pretrain-once", action="store_true", help="one pre-training (the first seed) for every seed")
    p.add_argument("--checkpoints", default="checkpoints/studies", help="folder for the pre-trained checkpoints")


def protocol_arg(p, default: str | None = "full"):
    p.add_argument("--protocol", default=default, metavar="NAME|SPEC",
                   help="fine-tuning protocol: a preset (full, probe1, probe3, enc0.1, enc0.3, ...) or "
                        "KIND[,head_epochs=N][,encoder_lr_ratio=R], KIND full or probe-then-full (default full)")


def units_from_arg(p):
    p.add_argument("--units-from", nargs="+", default=[], metavar="TABLE",
                   help="copy the finished random-init units of these studies where their fine-tuning is the same "
                        "(target, model, fine-tuning budget, protocol) instead of training them again")


# --- readers of those options ----------------------------------------------------------------------

def preset_name(args) -> str:
    """``--preset``, else the device's default (the CPU recipe on a CPU), said in one line."""
    if args.preset is None:
        from simmtm.training.recipes import default_preset

        args.preset, reason = default_preset(args.data, args.device)
        print(reason)
    return args.preset


def data_name(args) -> str:
    """``--data``, else the dataset the preset is named after."""
    if args.data is None and args.preset is None:
        raise ValueError("--data is needed: a dataset name (ETTh1, ETTm1, Weather, ...) or the path of your CSV")
    return args.data or args.preset.removesuffix("-cpu")


def config(args):
    from simmtm.training.recipes import configure

    return configure(preset_name(args), patch_len=getattr(args, "patch_len", None), seq_len=args.seq_len,
                     batch_size=args.batch_size, lr=args.lr, n_views=getattr(args, "n_views", None),
                     mask_ratio=getattr(args, "mask_ratio", None), method=getattr(args, "method", None))


def data(args, *, seq_len: int, name: str | None = None):
    from simmtm.data.forecasting import load_forecasting

    return load_forecasting(name or data_name(args), args.root, seq_len=seq_len, features=args.features,
                            date_column=args.date_column, dates="repair" if args.repair_dates else "check")


def source_and_target(args, cfg):
    """``(source, target, out-name suffix)``: ``--data`` and, for cross-domain runs, ``--target``."""
    source = data(args, seq_len=cfg.seq_len)
    target = data(args, seq_len=cfg.seq_len, name=args.target) if args.target else source
    return source, target, "" if target.name == source.name else f"_to_{target.name}"


def budget(args):
    from simmtm.training.recipes import study_budget

    return study_budget(args.budget, pretrain_epochs=args.epochs,
                        pretrain_windows=args.pretrain_windows or args.max_windows,
                        finetune_windows=args.finetune_windows, finetune_epochs=args.finetune_epochs,
                        lr=args.finetune_lr, patience=args.patience, pretrain_once=args.pretrain_once or None)


def inits(args) -> list[str]:
    return ["random init" if i == "random" else i for i in args.inits]
