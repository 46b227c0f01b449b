"""The general forecaster's study: ``python -m simmtm general`` (corpus stage, ETTh2 stage, report, ship)."""
from __future__ import annotations

from simmtm.cli import common

STAGES = ("corpus", "etth2", "report", "ship")


def general_args(p):
    p.add_argument("--root", default="data", help="the data folder holding the corpus and ETTh2 "
                                                 "(python -m simmtm download corpus ETTh2)")
    p.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES,
                   help="corpus: pre-train and train on the corpus; etth2: zero-shot and fine-tuning on held-out "
                        "ETTh2; report: results/general.md; ship: checkpoints/general.pt and its card (default all)")
    p.add_argument("--budget", default="cpu", choices=["cpu", "gpu", "smoke"],
                   help="cpu: about 2 h of corpus training on one thread, then about 3 h of ETTh2 runs; gpu: 10x the "
                        "corpus windows; smoke: seconds, for a test")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="fine-tuning seeds on ETTh2")
    p.add_argument("--fractions", type=common.fraction, nargs="+", default=[0.05, 0.1, 1.0],
                   help="shares of ETTh2's training rows to fine-tune on (granite-tsfm's few-shot rows)")
    p.add_argument("--inits", nargs="+", default=["general", "random", "SimMTM ETTh2"],
                   choices=["general", "random", "SimMTM ETTh2"],
                   help="which initialisations the etth2 stage fine-tunes (each has its own record folder and lock, so "
                        "two processes can run two of them at once)")
    p.add_argument("--out", default="results/general.md", help="the report; records go to the folder of the same name")
    p.add_argument("--checkpoints", default="checkpoints/general", help="the runs' checkpoints (resume states)")
    p.add_argument("--ship-to", default=None, help="folder of the shipped file (default: the repository's checkpoints/)")
    p.add_argument("--device", type=common.device, default="auto")
    p.add_argument("--no-progress", action="store_true")


def general(args):
    from simmtm.experiments import general as g

    out = common.writable(args.out)
    common.writable(args.checkpoints, folder=True)
    progress = not args.no_progress
    if "corpus" in args.stages:
        g.corpus_stage(args.root, out.with_suffix(""), budget=g.GENERAL_BUDGETS[args.budget],
                       checkpoints=args.checkpoints, device=args.device, progress=progress)
    if "etth2" in args.stages:
        g.etth2_stage(args.root, out.with_suffix(""), budget=g.FEWSHOT_BUDGETS["smoke" if args.budget == "smoke" else "cpu"],
                      checkpoints=args.checkpoints, seeds=tuple(args.seeds), fractions=tuple(args.fractions), inits=tuple(args.inits),
                      device=args.device, progress=progress)
    if "report" in args.stages:
        print(f"report: {g.write_report(out)} (and {out.with_suffix('.json')})")
    if "ship" in args.stages:
        made_by = f"python -m simmtm general --root {args.root} --budget {args.budget}"  # the study, whichever stages ran now
        path = g.ship(out, checkpoints=args.checkpoints, folder=args.ship_to, command=made_by)
        print(f"shipped: {path} and {path.with_suffix('.md')}")


COMMANDS = {"general": ("train the general forecaster on a multi-domain corpus and judge it on held-out ETTh2 "
                        "(resumable; one record per finished unit)", general_args, general)}
