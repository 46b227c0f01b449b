"""Study commands: every measurement that writes a table from resumable records (``study``,
``sweep``, ``protocols``, ``selected``, ``curve``, ``compare``, ``ablate``). Parsing and printing
only; the studies live in :mod:`simmtm.experiments`."""
from __future__ import annotations

from simmtm.baselines.objectives import METHODS
from simmtm.cli import common


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, body = text.partition(":")
    if not name:
        raise ValueError(f"a variant needs a name: NAME:KEY=VALUE,..., got {text!r}")
    overrides = {}
    for item in filter(None, body.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"variant {name!r}: expected KEY=VALUE, got {item!r}")
        overrides[key.strip()] = common.literal(value.strip())
    return name, overrides


def study_args(p):
    common.model_args(p)
    common.budget_args(p)
    p.add_argument("--target", default=None, help="fine-tuning dataset (default: --data, i.e. in-domain)")
    common.pred_len_arg(p, [96, 192, 336, 720])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default=None, help="table path (default results/forecasting/forecasting_<data>[_to_<target>].md); "
                                              "records go to the folder of the same name")
    p.add_argument("--pretrained-from", default=None, metavar="TABLE",
                   help="fine-tune from the finished pre-training units of that study (same source, model and "
                        "pre-training budget) instead of pre-training again, e.g. to try another fine-tuning lr")
    p.add_argument("--inits", nargs="+", default=["SimMTM", "random"], choices=["SimMTM", "random"],
                   help="which initialisations to fine-tune (default both)")
    common.units_from_arg(p)
    common.protocol_arg(p)


def study(args):
    from simmtm.experiments.forecasting import study
    from simmtm.training.protocols import get_protocol

    cfg = common.config(args)
    source, target, suffix = common.source_and_target(args, cfg)
    out = common.writable(args.out or f"results/forecasting/forecasting_{source.name}{suffix}.md")
    common.writable(args.checkpoints, folder=True)
    study(cfg, source, target, args.pred_len, args.seeds, out=out, budget=common.budget(args), device=args.device,
          checkpoints=args.checkpoints, pretrained_from=args.pretrained_from, progress=not args.no_progress,
          command=common.command_line(args), protocol=get_protocol(args.protocol), units_from=args.units_from,
          inits=common.inits(args))


def sweep_args(p):
    common.model_args(p)
    common.budget_args(p)
    p.add_argument("--variant", action="append", required=True, metavar="NAME:KEY=VALUE,...",
                   help="a named variant, e.g. p8:patch_len=8 or wide:d_model=64,d_ff=128 (base: no overrides)")
    common.pred_len_arg(p, [96], "the horizon of the sweep (one value)")
    p.add_argument("--out", default=None, help="default results/forecasting/forecasting_sweep_<data>.md")


def sweep(args):
    from simmtm.experiments.forecasting import sweep

    horizon = common.one(args.pred_len)  # before any work
    cfg = common.config(args)
    data = common.data(args, seq_len=cfg.seq_len)
    variants = dict(parse_variant(v) for v in args.variant)
    common.writable(args.checkpoints, folder=True)
    rows = sweep(cfg, data, variants, horizon=horizon, seed=args.seed, budget=common.budget(args),
                 out=common.writable(args.out or f"results/forecasting/forecasting_sweep_{data.name}.md"), device=args.device,
                 checkpoints=args.checkpoints, progress=not args.no_progress, command=common.command_line(args))
    print(f"best on validation: {rows[0]['variant']} (val MSE {rows[0]['val_mse']:.4f})")


def protocols_args(p):
    from simmtm.training.protocols import PROTOCOLS, SELECTION_GRID

    common.model_args(p)
    common.budget_args(p)
    p.add_argument("--protocols", nargs="+", default=None, metavar="NAME[=SPEC]",
                   help=f"protocols to select from: presets ({', '.join(PROTOCOLS)}) or "
                        f"NAME=KIND[,head_epochs=N][,encoder_lr_ratio=R]; default {' '.join(SELECTION_GRID)}")
    p.add_argument("--target", default=None, help="fine-tuning dataset (default: --data, i.e. in-domain)")
    common.pred_len_arg(p, [96], "the horizon the protocols are selected at (one value)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--inits", nargs="+", default=["SimMTM", "random"], choices=["SimMTM", "random"])
    p.add_argument("--pretrained-from", default=None, metavar="TABLE",
                   help="fine-tune every protocol from that study's finished pre-training units")
    common.units_from_arg(p)
    p.add_argument("--out", default=None, help="default results/payoff/protocols_<data>[_to_<target>]_H<pred-len>.md")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild the table from the finished records without running anything")


def protocols(args):
    from simmtm.experiments.protocol_selection import select_protocols, write_selection
    from simmtm.training.protocols import PROTOCOLS, SELECTION_GRID, get_protocol

    horizon = common.one(args.pred_len)  # before any work
    protocols = {}
    for item in args.protocols or SELECTION_GRID:
        name, eq, spec = item.partition("=")
        if not eq and name not in PROTOCOLS:
            raise ValueError(f"unknown protocol preset {name!r}; presets: {', '.join(PROTOCOLS)} (or NAME=SPEC)")
        protocols[name] = get_protocol(spec if eq else name)
    cfg = common.config(args)
    source, target, suffix = common.source_and_target(args, cfg)
    out = common.writable(args.out or f"results/payoff/protocols_{source.name}{suffix}_H{horizon}.md")
    inits = common.inits(args)
    if args.report_only:
        summary = write_selection(out, protocols, horizon=horizon, seeds=args.seeds, inits=inits,
                                  command=common.command_line(args))
    else:
        summary = select_protocols(cfg, source, target, protocols, horizon=horizon, seeds=args.seeds, out=out,
                                   budget=common.budget(args), inits=inits, pretrained_from=args.pretrained_from,
                                   device=args.device, checkpoints=args.checkpoints, progress=not args.no_progress,
                                   command=common.command_line(args), units_from=args.units_from)
    for init, name in summary["selected"].items():
        print(f"{init}: selected on validation: {name or 'none finished'}")


def curve_args(p):
    common.model_args(p)
    common.budget_args(p)
    p.add_argument("kind", choices=["labels", "scale"], help="labels: share of training windows; scale: pre-training budget")
    p.add_argument("--fractions", type=common.fraction, nargs="+", default=[0.01, 0.05, 0.25, 1.0],
                   help="labels: shares of the fine-tuning windows that train (nested subsets)")
    p.add_argument("--scales", type=common.scale_point, nargs="+", default=[(1, 8192), (3, 8192), (10, 8192), (30, 8192)],
                   metavar="EPOCHS:WINDOWS", help="scale: pre-training budgets (WINDOWS a count or 'all')")
    p.add_argument("--target", default=None, help="labels: fine-tuning dataset (default: --data, i.e. in-domain)")
    common.pred_len_arg(p, [96])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--protocols-from", default=None, metavar="SELECTION",
                   help="each init's validation-selected protocol from a `protocols` table (default: --protocol for both)")
    p.add_argument("--protocol", default=None, help="one protocol for both inits (preset or spec; default full)")
    p.add_argument("--pretrained-from", default=None, metavar="TABLE",
                   help="labels: fine-tune from that study's pre-training units; scale: serve the matching point")
    p.add_argument("--out", default=None, help="default results/payoff/curve_<kind>_<data>[_to_<target>].md")
    common.units_from_arg(p)
    p.add_argument("--report-only", action="store_true",
                   help="rebuild the table from the finished records without running anything (a table always shows "
                        "the given points and seeds and every other point and seed recorded for it)")


def curve(args):
    from simmtm.experiments.curves import INITS, label_curve, labels_meta, scale_curve, scale_meta, write_curve
    from simmtm.experiments.protocol_selection import selected_protocols
    from simmtm.training.protocols import get_protocol

    if args.protocols_from and args.protocol:
        raise ValueError("give --protocols-from or --protocol, not both")
    if args.protocols_from:
        protocols, complete = selected_protocols(args.protocols_from)
        if not complete:
            print(f"[curve] note: {args.protocols_from} is not complete yet; its provisional selection is used: "
                  + ", ".join(f"{i} {n}" for i, (n, _) in protocols.items()))
    else:
        protocol = get_protocol(args.protocol)
        protocols = {i: (protocol.name, protocol) for i in ("SimMTM", "random init")}
    cfg = common.config(args)
    source, target, suffix = common.source_and_target(args, cfg)
    if args.kind == "scale" and suffix:
        raise ValueError("the scale curve is in-domain: drop --target")
    out = common.writable(args.out or f"results/payoff/curve_{args.kind}_{source.name}{suffix}.md")
    if args.report_only:
        meta = labels_meta(args.fractions) if args.kind == "labels" else scale_meta(args.scales)
        summary = write_curve(out, meta, protocols, inits=list(INITS), horizons=args.pred_len, seeds=args.seeds)
    else:
        kwargs = dict(horizons=args.pred_len, seeds=args.seeds, out=out, budget=common.budget(args), protocols=protocols,
                      pretrained_from=args.pretrained_from, device=args.device, checkpoints=args.checkpoints,
                      progress=not args.no_progress, command=common.command_line(args), units_from=args.units_from)
        if args.kind == "labels":
            summary = label_curve(cfg, source, target, args.fractions, **kwargs)
        else:
            summary = scale_curve(cfg, source, args.scales, **kwargs)
    print(f"{out} ({'complete' if summary['complete'] else 'units still to run'})")


def selected_args(p):
    p.add_argument("--selection", required=True, metavar="SELECTION",
                   help="a `protocols` table (e.g. results/payoff/payoff_protocols_ETTm1_H96.md): each init's choice")
    p.add_argument("--tables", nargs="+", required=True, metavar="TABLE",
                   help="studies of the same data, model and budget, among them one per selected protocol")
    p.add_argument("--out", required=True, help="the assembled table (+ .json)")


def selected(args):
    from simmtm.experiments.protocol_selection import selected_table

    out = common.writable(args.out)
    saved = selected_table(out, args.selection, args.tables)
    print(f"{out} ({', '.join(f'{i} from {t}' for i, t in saved['settings']['tables'].items())})")


def compare_args(p):
    p.add_argument("--task", required=True, help="epilepsy, or a forecasting dataset (ETTh1, ETTm1, ...)")
    p.add_argument("--methods", nargs="+", default=[*METHODS, "none"], choices=[*METHODS, "none"])
    p.add_argument("--encoder", default="cnn", choices=["cnn", "resnet"], help="classification encoder")
    p.add_argument("--preset", default=None, help="forecasting preset (default: the dataset's, else ETTm1)")
    p.add_argument("--patch-len", type=common.positive, default=None, help="forecasting: patch tokens of P steps")
    p.add_argument("--root", default="data")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--pretrain-epochs", type=common.positive, default=10)
    p.add_argument("--finetune-epochs", type=common.positive, default=None, help="default 100 (classification), 10 (forecasting)")
    common.pred_len_arg(p, [96], "forecasting: the horizon (one value)")
    p.add_argument("--max-windows", type=common.positive, default=None, help="forecasting CPU budget: windows per split")
    p.add_argument("--device", type=common.device, default="auto")
    p.add_argument("--out", default=None, help="default results/analyses/comparison_<task>.md")


def compare(args):
    from simmtm.config import PRESETS
    from simmtm.experiments.comparison import run as compare
    from simmtm.training.recipes import configure

    horizon = common.one(args.pred_len)  # before any work
    if args.task == "epilepsy":
        cfg = configure("Epilepsy-ResNet" if args.encoder == "resnet" else "Epilepsy")
    else:
        cfg = configure(args.preset or (args.task if args.task in PRESETS else "ETTm1"), patch_len=args.patch_len)
    compare(args.task, args.root, cfg, args.methods, args.seeds, pretrain_epochs=args.pretrain_epochs,
            finetune_epochs=args.finetune_epochs or (100 if args.task == "epilepsy" else 10),
            out=common.writable(args.out or f"results/analyses/comparison_{args.task}.md"), horizon=horizon,
            max_windows=args.max_windows, device=args.device, command=common.command_line(args))


def ablate_args(p):
    p.add_argument("--task", required=True, help="epilepsy, sleepeeg-epilepsy, or a forecasting dataset (ETTh1, ...)")
    p.add_argument("--analysis", required=True, choices=["mask-ratio", "views", "labels", "ablation"])
    p.add_argument("--values", nargs="+", default=None, help="the swept values (default: the paper's)")
    p.add_argument("--preset", default=None, help="default: Epilepsy (classification) or <task>-cpu (forecasting)")
    p.add_argument("--root", default="data")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pretrain-epochs", type=common.positive, default=10)
    p.add_argument("--finetune-epochs", type=common.positive, default=None, help="default 100 (classification), 10 (forecasting)")
    p.add_argument("--lr", type=common.positive_float, default=None, help="fine-tuning lr (default 1e-4; forecasting 5e-4)")
    common.pred_len_arg(p, [96], "forecasting: the horizons (one pre-training serves them all)")
    p.add_argument("--pretrain-windows", type=common.positive, default=None,
                   help="evenly spaced pre-training windows (default: all for classification, 8192 for forecasting)")
    p.add_argument("--finetune-windows", type=common.positive, default=8192, help="forecasting: evenly spaced windows")
    p.add_argument("--device", type=common.device, default="auto")
    p.add_argument("--out", default=None, help="default results/analyses/ablation_<task>_<analysis>.md")


def ablate(args):
    from simmtm.config import get_preset
    from simmtm.experiments.analyses import CLASSIFICATION_TASKS, analyse

    classification = args.task in CLASSIFICATION_TASKS
    cfg = get_preset(args.preset or ("Epilepsy" if classification else f"{args.task}-cpu"))
    values = None if args.values is None else [common.literal(v) for v in args.values]
    analyse(args.task, args.analysis, cfg, args.seeds, root=args.root, values=values,
            out=common.writable(args.out or f"results/analyses/ablation_{args.task}_{args.analysis}.md"),
            pretrain_epochs=args.pretrain_epochs, finetune_epochs=args.finetune_epochs or (100 if classification else 10),
            lr=args.lr or (1e-4 if classification else 5e-4), horizons=tuple(args.pred_len),
            pretrain_windows=args.pretrain_windows or (None if classification else 8192),
            finetune_windows=args.finetune_windows, device=args.device, command=common.command_line(args))


COMMANDS = {  # name: (help, arguments, action)
    "study": ("pre-trained vs random init over seeds and horizons; resumable; writes a table", study_args, study),
    "sweep": ("variants of a forecasting recipe on one horizon, ranked by validation MSE", sweep_args, sweep),
    "protocols": ("fine-tuning protocols (probe-then-full, encoder lr ratio) selected on validation MSE",
                  protocols_args, protocols),
    "selected": ("a four-horizon table with each init at its validation-selected protocol (one study per protocol)",
                 selected_args, selected),
    "curve": ("where pre-training pays: label curve or pre-training-scale curve, SimMTM vs random init; resumable",
              curve_args, curve),
    "compare": ("every pre-training method on the same encoder, data, budget and seeds", compare_args, compare),
    "ablate": ("the paper's analyses: masking ratio, views, limited labels, ablations", ablate_args, ablate),
}
