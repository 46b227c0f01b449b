"""The general forecaster's study: train it on the corpus, judge it on held-out ETTh2.

Stage ``corpus`` (one record per unit in ``<out>/corpus/``): SimMTM pre-training on corpus windows,
then the forecasting stage (encoder + 720-step head trained on corpus windows, epoch kept on corpus
validation windows), from the SimMTM encoder and, as the sceptic's control, from random init; each
forecasting unit ends with ETTh2's VALIDATION split zero-shot, which chooses the synthetic share.
Stage ``etth2`` (``<out>/etth2/<init>/``, one folder and lock per init): the chosen model zero-shot on ETTh2's test split once, and
fine-tuned on 5 / 10 / 100 % of ETTh2's training rows (granite-tsfm's few-shot rows,
:func:`simmtm.data.corpus.fewshot_rows`) from the general model, from random init and from SimMTM
pre-trained on ETTh2 alone, 3 seeds, beside last value and seasonal naive.

Every unit is resumable (its own record; its checkpoints keep a per-epoch resume state).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from simmtm.data.corpus import CorpusWindows, load_corpus
from simmtm.data.forecasting import ForecastingData, load_forecasting
from simmtm.experiments.records import RecordStore
from simmtm.forecasting.general import (CONTEXT, HEAD_STEPS, HORIZONS, FutureWindows, build_general,
                                        evaluate_horizons, general_config, load_general, train_forecaster)
from simmtm.training.engine import make_loader
from simmtm.training.pretraining import run_pretraining
from simmtm.utils.device import resolve_device


@dataclass(frozen=True)
class GeneralBudget:
    """What the corpus stage spends. ``cpu``: about 2 h on one thread of a laptop-class CPU for
    pre-training plus one forecasting run; ``gpu``: the same command at 10x the windows."""

    pretrain_epochs: int = 10
    pretrain_windows: int = 100_000  # corpus windows per pre-training epoch (fresh draws are fixed per run)
    head_epochs: int = 10
    head_windows: int = 200_000
    val_windows: int = 4_000
    head_lr: float = 1e-3
    head_batch: int = 64
    pretrain_share: float = 0.25  # synthetic share of the pre-training windows
    mix: str = "sqrt"

    def __post_init__(self):
        for name in ("pretrain_epochs", "pretrain_windows", "head_epochs", "head_windows", "val_windows", "head_batch"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")


GENERAL_BUDGETS = {
    "cpu": GeneralBudget(),
    "gpu": GeneralBudget(pretrain_epochs=20, pretrain_windows=1_000_000, head_epochs=20, head_windows=2_000_000,
                         val_windows=20_000, head_batch=256),
    "smoke": GeneralBudget(pretrain_epochs=1, pretrain_windows=64, head_epochs=1, head_windows=64, val_windows=16),
}
SHARES = (0.0, 0.25, 0.5)  # synthetic shares of the forecasting stage, chosen on ETTh2 validation


def load_etth2(root) -> ForecastingData:
    """ETTh2 at context 512, scaled by its training rows (its standard 12/4/4-month borders)."""
    return load_forecasting("ETTh2", root, seq_len=CONTEXT, log=lambda *_: None)


def split_windows(data: ForecastingData, split: str) -> FutureWindows:
    """The windows of ``split`` with at least 96 targets inside it (every standard window of each horizon)."""
    return FutureWindows(data.values, CONTEXT, HEAD_STEPS, min_future=min(HORIZONS), start=data.borders[split][0],
                         end=data.borders[split][1])


def zero_shot(model, windows: FutureWindows, device) -> dict[str, float]:
    return evaluate_horizons(model, make_loader(windows, 256, shuffle=False, device=device), device)


def corpus_stage(root, out: str | Path, *, budget: GeneralBudget, checkpoints: str | Path = "checkpoints/general",
                 seed: int = 0, shares=SHARES, device: str = "cpu", progress: bool = True, log=print) -> dict:
    """Pre-train on the corpus, then one forecasting unit per synthetic share (and random init at
    the pre-training share); returns the records."""
    dev = resolve_device(device)
    store = RecordStore(Path(out) / "corpus", log=log)
    store.lock()
    cfg = general_config()
    store.check_settings({"config": cfg.to_dict(), "budget": asdict(budget), "seed": seed, "shares": list(shares)})
    ckpt = Path(checkpoints)
    ckpt.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(root)
    b = budget

    def pretrain_unit():
        train = CorpusWindows(corpus, "train", CONTEXT, n_windows=b.pretrain_windows, synthetic_share=b.pretrain_share,
                              mix=b.mix, seed=seed)
        val = CorpusWindows(corpus, "val", CONTEXT, n_windows=b.val_windows, synthetic_share=b.pretrain_share,
                            mix=b.mix, seed=seed)
        _, result = run_pretraining(cfg, train, val, device=dev, epochs=b.pretrain_epochs, seed=seed,
                                    checkpoint=ckpt / "pretrain.pt", resume=True, progress=progress, log=log,
                                    tag="general pretrain", dataset="corpus")
        return {"history": result["history"], "best_epoch": result["best_epoch"], "seconds": result["seconds"],
                "steps": result["steps"], "windows": train.counts}

    pre = store.run({"unit": "pretrain"}, pretrain_unit)
    log(f"general pre-training: best epoch {pre['best_epoch']} of {len(pre['history'])}, {pre['seconds'] / 60:.0f} min")

    def head_unit(share: float, init: str):
        from simmtm.training.checkpoint import load_pretrained_encoder

        encoder = load_pretrained_encoder(ckpt / "pretrain.pt")[0] if init == "simmtm" else None
        torch.manual_seed(seed)
        model = build_general(cfg, encoder).to(dev)
        kw = dict(horizon=HEAD_STEPS, min_future=min(HORIZONS), synthetic_share=share, mix=b.mix, seed=seed + 1)
        train = CorpusWindows(corpus, "train", CONTEXT, n_windows=b.head_windows, **kw)
        val = CorpusWindows(corpus, "val", CONTEXT, n_windows=b.val_windows, **kw)
        name = f"head_{init}_share{share:g}"
        result = train_forecaster(model, cfg, train, val, device=dev, lr=b.head_lr, batch_size=b.head_batch,
                                  epochs=b.head_epochs, patience=None, seed=seed, checkpoint=ckpt / f"{name}.pt",
                                  resume=True, settings={"init": init, "share": share}, tag=f"general {name}",
                                  extra={"general": True, "data": "corpus"}, progress=progress, log=log)
        return {"history": result["history"], "best_epoch": result["best_epoch"], "seconds": result["seconds"],
                "corpus_val": result["best"], "etth2_val": zero_shot(model, etth2_val, dev), "windows": train.counts,
                "checkpoint": str(ckpt / f"{name}.pt")}

    etth2_val = split_windows(load_etth2(root), "val")
    units = [(s, "simmtm") for s in shares] + [(b.pretrain_share, "random")]
    for share, init in units:
        rec = store.run({"unit": "head", "init": init, "share": share}, lambda: head_unit(share, init))
        log(f"general head ({init}, synthetic share {share:g}): ETTh2 validation zero-shot avg MSE "
            f"{rec['etth2_val']['mse']:.4f} (" + ", ".join(f"{h}: {rec['etth2_val'][f'mse_{h}']:.4f}" for h in HORIZONS) + ")")
    store.close()
    return {"pretrain": pre, "heads": store.records(unit="head")}


@dataclass(frozen=True)
class FewShotBudget:
    """Fine-tuning on ETTh2 (every init alike): up to ``epochs`` epochs with early stopping on
    validation (``patience``), batches of ``batch`` windows (x 7 channels); the learning rate is
    chosen per (fraction, init) on VALIDATION among ``lrs`` with seed 0, then kept for every seed.
    For the general model "no fine-tuning" (lr 0: the zero-shot model) is one more candidate.
    The in-domain SimMTM encoder: the general config pre-trained on ``pretrain_windows`` evenly
    spaced ETTh2 training windows for ``pretrain_epochs`` epochs."""

    epochs: int = 20
    patience: int = 3
    batch: int = 32
    lrs: tuple[float, ...] = (1e-4, 1e-3)
    pretrain_epochs: int = 10
    pretrain_windows: int = 4096


FEWSHOT_BUDGETS = {"cpu": FewShotBudget(), "smoke": FewShotBudget(epochs=1, patience=1, lrs=(1e-3,), pretrain_epochs=1,
                                                                    pretrain_windows=32)}
FRACTIONS = (0.05, 0.1, 1.0)
INITS = ("general", "random", "SimMTM ETTh2")
NAIVE = ("last value", "seasonal naive", "context mean")
SEASON = 24  # ETTh2 is hourly: seasonal naive repeats the last day


def naive_forecasts(windows: FutureWindows, season: int = SEASON) -> dict[str, dict[str, float]]:
    """Last value, seasonal naive (the last ``season`` steps repeated) and the context's mean on
    ``windows`` (a split of ETTh2), per horizon. (The context mean is what an instance-normalised model that
    outputs zeros forecasts: the floor any general model must clear.)"""

    class Naive(torch.nn.Module):
        def __init__(self, kind: str):
            super().__init__()
            self.kind = kind

        def forward(self, x):  # [B, L, C] -> [B, 720, C]
            if self.kind == "seasonal naive":
                reps = -(-HEAD_STEPS // season)
                return x[:, -season:].repeat(1, reps, 1)[:, :HEAD_STEPS]
            if self.kind == "context mean":
                return x.mean(1, keepdim=True).expand(-1, HEAD_STEPS, -1)
            return x[:, -1:].expand(-1, HEAD_STEPS, -1)

    loader = make_loader(windows, 256, shuffle=False, device="cpu")
    return {name: evaluate_horizons(Naive(name), loader, torch.device("cpu")) for name in NAIVE}


def chosen_share(store_records: list[dict]) -> float:
    """The synthetic share whose SimMTM-initialised forecasting unit is best on ETTh2 VALIDATION."""
    simmtm = [r for r in store_records if r["key"]["init"] == "simmtm"]
    if not simmtm:
        raise ValueError("no forecasting unit of the corpus stage has finished; run the corpus stage first")
    return min(simmtm, key=lambda r: r["etth2_val"]["mse"])["key"]["share"]


def etth2_stage(root, out: str | Path, *, budget: FewShotBudget, checkpoints: str | Path = "checkpoints/general",
                seeds=(0, 1, 2), fractions=FRACTIONS, inits=INITS, device: str = "cpu", progress: bool = True,
                log=print) -> RecordStore:
    """Zero-shot on ETTh2's test split (the model chosen in the corpus stage) and the fine-tuning grid."""
    from simmtm.data.corpus import fewshot_rows
    from simmtm.forecasting.training import pretrain as pretrain_on
    dev = resolve_device(device)
    corpus = RecordStore(Path(out) / "corpus", log=log)
    heads = [h for h in corpus.records(unit="head") if h["key"]["init"] == "simmtm"]
    expected = len(corpus.settings().get("shares", SHARES))  # the random-init control does not take part in the choice
    share = chosen_share(heads) if len(heads) >= expected else None
    if share is None:
        log(f"the corpus stage has {len(heads)} of its {expected} SimMTM forecasting units: the units that need the "
            "general model wait for it (rerun this command when it has finished)")
        inits = [i for i in inits if i != "general"]
    general_ckpt = Path(checkpoints) / f"head_simmtm_share{share:g}.pt" if share is not None else None
    cfg = general_config()
    stores = {init: RecordStore(Path(out) / "etth2" / slug(init), log=log) for init in inits}  # one folder per init:
    for store in stores.values():  # two processes can run two inits at once
        store.check_settings({"config": cfg.to_dict(), "budget": asdict(budget)})
    ck = Path(checkpoints) / "etth2"
    ck.mkdir(parents=True, exist_ok=True)
    data = load_etth2(root)
    val, test = split_windows(data, "val"), split_windows(data, "test")

    def general_model():
        return load_general(general_ckpt)[0]

    if "random" in stores:
        stores["random"].run({"unit": "baselines"}, lambda: {
            **naive_forecasts(test), **{f"{k} (val)": v for k, v in naive_forecasts(val).items()}})
    if "general" in stores:
        stores["general"].run({"unit": "zero_shot"}, lambda: {"share": share, "checkpoint": str(general_ckpt),
                                                  "test": zero_shot(general_model().to(dev), test, dev),
                                                  "val": zero_shot(general_model().to(dev), val, dev)})

    def indomain(seed: int) -> Path:
        path = ck / f"pretrain_etth2_seed{seed}.pt"

        def unit():
            _, result = pretrain_on(replace(cfg, n_channels=data.n_channels), data, device=dev,
                                    epochs=budget.pretrain_epochs, max_windows=budget.pretrain_windows, seed=seed,
                                    checkpoint=path, resume=True, progress=progress, log=log)
            return {"best_epoch": result["best_epoch"], "seconds": result["seconds"], "history": result["history"]}

        stores["SimMTM ETTh2"].run({"unit": "pretrain_etth2", "seed": seed}, unit)
        return path

    def init_model(init: str, seed: int):
        from simmtm.training.checkpoint import load_pretrained_encoder

        torch.manual_seed(seed)
        if init == "general":
            return general_model()
        if init == "random":
            return build_general(cfg)
        return build_general(cfg, load_pretrained_encoder(indomain(seed))[0])

    train_end = data.borders["train"][1]

    def finetune_unit(fraction: float, init: str, seed: int, lr: float):
        start, end = fewshot_rows(train_end, CONTEXT, fraction, "last")
        train = FutureWindows(data.values, CONTEXT, HEAD_STEPS, min_future=min(HORIZONS), start=start, end=end)
        model = init_model(init, seed).to(dev)
        name = f"ft_{init.replace(' ', '_')}_f{fraction:g}_lr{lr:g}_seed{seed}"
        result = train_forecaster(model, cfg, train, val, test=test, device=dev, lr=lr, batch_size=budget.batch,
                                  epochs=budget.epochs, patience=budget.patience, seed=seed, checkpoint=ck / f"{name}.pt",
                                  resume=True, settings={"init": init, "fraction": fraction}, tag=name,
                                  extra={"data": "ETTh2", "fraction": fraction}, progress=progress, log=log)
        return {"rows": [start, end], "train_windows": len(train), "val": result["history"][result["best_epoch"]],
                "best_epoch": result["best_epoch"], "test": result["test"], "seconds": result["seconds"]}

    def unchanged_unit(fraction: float):
        """The general model NOT fine-tuned: a candidate like any lr (validation may prefer it)."""
        zs = stores["general"].get({"unit": "zero_shot"})
        start, end = fewshot_rows(train_end, CONTEXT, fraction, "last")
        return {"rows": [start, end], "train_windows": 0, "val": {"val_mse": zs["val"]["mse"], **{
            f"val_{k}": v for k, v in zs["val"].items()}}, "best_epoch": -1, "test": zs["test"], "seconds": 0.0}

    for fraction in fractions:
        for init, store in stores.items():
            lr_records = {lr: store.run({"unit": "finetune", "fraction": fraction, "init": init, "seed": seeds[0], "lr": lr},
                                        lambda lr=lr: finetune_unit(fraction, init, seeds[0], lr))
                          for lr in budget.lrs}
            if init == "general":  # lr 0: keep the zero-shot model (no fine-tuning), if validation says so
                lr_records[0.0] = store.run({"unit": "finetune", "fraction": fraction, "init": init, "seed": seeds[0],
                                             "lr": 0.0}, lambda: unchanged_unit(fraction))
            lr = min(lr_records, key=lambda k: lr_records[k]["val"]["val_mse"])
            for seed in seeds[1:]:
                store.run({"unit": "finetune", "fraction": fraction, "init": init, "seed": seed, "lr": lr},
                          (lambda: unchanged_unit(fraction)) if lr == 0 else (lambda seed=seed: finetune_unit(fraction, init, seed, lr)))
            log(f"ETTh2 {fraction:.0%} {init}: lr {lr:g} chosen on validation")
    for store in stores.values():
        store.close()
    return etth2_records(out)


def slug(init: str) -> str:
    return init.replace(" ", "_")


def etth2_records(out: str | Path, **match) -> list[dict]:
    """Every record of the ETTh2 stage (all inits' folders) whose key has the ``match`` values."""
    folder = Path(out) / "etth2"
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    return [r for sub in subfolders for r in RecordStore(sub).records(**match)]


# Published average MSE over horizons 96-720 on ETTh2 (same split, standard scaler, context 512 for TTM):
# TTM-R2, granite-tsfm notebooks/hfdemo/tinytimemixer/full_benchmarking/combined_avg_results-granite-r2.csv;
# PatchTST/64 (Nie et al. 2023, Table 3, context 512), supervised on every training window.
PUBLISHED = {"zero-shot": ("TTM-R2 (published)", 0.356), "5%": ("TTM-R2 (published)", 0.334),
             "100%": ("PatchTST/64 (published)", 0.330)}


def _seeds(records: list[dict], split: str = "test") -> dict[str, list[float]]:
    """``{"mse" | "mse_<h>": [value per seed]}`` of fine-tuning records (seed order)."""
    records = sorted(records, key=lambda r: r["key"]["seed"])
    keys = ["mse", *[f"mse_{h}" for h in HORIZONS]]
    return {k: [r[split][k] for r in records] for k in keys}


def _chosen(folder: Path, fraction: float, init: str) -> list[dict]:
    """The records of (fraction, init) at the lr chosen on validation (seed 0's best), every seed."""
    recs = etth2_records(folder, unit="finetune", fraction=fraction, init=init)
    first = min(r["key"]["seed"] for r in recs) if recs else None
    pick = [r for r in recs if r["key"]["seed"] == first]
    if not pick:
        return []
    lr = min(pick, key=lambda r: r["val"]["val_mse"])["key"]["lr"]
    return [r for r in recs if r["key"]["lr"] == lr]


def report(out: str | Path) -> tuple[str, dict]:
    """``results/general.md`` and the JSON beside it, from the records of both stages alone."""
    from simmtm.experiments.records import mean_std

    folder = Path(out).with_suffix("")
    corpus = RecordStore(folder / "corpus")
    lines = ["# The general forecaster on held-out ETTh2", "",
             "Test MSE on ETTh2's standard test split (standardized with its training rows' mean and std, context 512, "
             "every window), per horizon and averaged over the four; mean ± std over seeds where training happens. "
             "Fine-tuning uses granite-tsfm's few-shot rows (the last int(f·(8640−512))+512 training rows) with the "
             "learning rate chosen on validation (for the general model, not fine-tuning at all is one more candidate); "
             "every choice on ETTh2's validation split, the test split once.", "",
             "| setting | init | seeds | " + " | ".join(f"H={h}" for h in HORIZONS) + " | avg |",
             "|---|---|---|" + "---|" * (len(HORIZONS) + 1)]
    payload: dict = {"ETTh2": {}}
    row = lambda name, init, n, vals: lines.append(  # noqa: E731
        f"| {name} | {init} | {n} | " + " | ".join(vals) + " |")
    base = etth2_records(folder, unit="baselines")
    zs = etth2_records(folder, unit="zero_shot")
    if zs:
        t = zs[0]["test"]
        row("zero-shot", "general", "-", [f"{t[f'mse_{h}']:.4f}" for h in HORIZONS] + [f"**{t['mse']:.4f}**"])
        payload["ETTh2"]["zero_shot"] = {"avg_mse": t["mse"], **{f"mse_{h}": t[f"mse_{h}"] for h in HORIZONS},
                                         "val_avg_mse": zs[0]["val"]["mse"]}
    if base:
        for name in NAIVE:
            t = base[0][name]
            row(name, "-", "-", [f"{t[f'mse_{h}']:.4f}" for h in HORIZONS] + [f"{t['mse']:.4f}"])
            payload["ETTh2"][name] = {"avg_mse": t["mse"]}
    for label, value in [PUBLISHED["zero-shot"]]:
        row("zero-shot", label, "-", ["-"] * len(HORIZONS) + [f"{value:.3f}"])
    for fraction in FRACTIONS:
        tag = f"{fraction:.0%}"
        entry = {}
        for init in INITS:
            recs = _chosen(folder, fraction, init)
            if not recs:
                continue
            v = _seeds(recs)
            lr = recs[0]["key"]["lr"]
            label = f"{init}, lr {lr:g}" if lr else f"{init}, not fine-tuned (chosen on val)"
            cell = mean_std if lr else (lambda values: f"{values[0]:.4f}")  # not fine-tuned: one model, no seeds
            row(tag, label, str(len(recs)) if lr else "-", [cell(v[f"mse_{h}"]) for h in HORIZONS] + [cell(v["mse"])])
            entry[init] = {"avg_mse": float(sum(v["mse"]) / len(v["mse"])), "per_seed": v["mse"],
                           "lr": recs[0]["key"]["lr"], **{f"mse_{h}": v[f"mse_{h}"] for h in HORIZONS}}
        if tag in PUBLISHED:
            label, value = PUBLISHED[tag]
            row(tag, label, "-", ["-"] * len(HORIZONS) + [f"{value:.3f}"])
        if entry:
            payload["ETTh2"][tag] = {"avg_mse": entry.get("general", {}).get("avg_mse"), **entry}
    lines += ["", "## General vs random init, paired by seed (test MSE difference, negative = general better)", "",
              "| fraction | seed | " + " | ".join(f"H={h}" for h in HORIZONS) + " | avg |", "|---|---|" + "---|" * 5]
    for fraction in FRACTIONS:
        g, r = _chosen(folder, fraction, "general"), _chosen(folder, fraction, "random")
        by_seed = {x["key"]["seed"]: x for x in r}
        for rec in sorted(g, key=lambda x: x["key"]["seed"]):
            other = by_seed.get(rec["key"]["seed"])
            if other is not None:
                lines.append(f"| {fraction:.0%} | {rec['key']['seed']} | " + " | ".join(
                    f"{rec['test'][k] - other['test'][k]:+.4f}" for k in [*[f'mse_{h}' for h in HORIZONS], 'mse']) + " |")
    cands = sorted(etth2_records(folder, unit="finetune", init="general", seed=0),
                   key=lambda r: (r["key"]["fraction"], r["key"]["lr"]))
    if cands:
        lines += ["", "## The general model's candidates (seed 0): validation chooses, test shown for the record", "",
                  "| fraction | lr | val avg MSE | test avg MSE | best epoch |", "|---|---|---|---|---|"]
        for r in cands:
            lr = r["key"]["lr"]
            lines.append(f"| {r['key']['fraction']:.0%} | {lr:g}{' (not fine-tuned)' if not lr else ''} | "
                         f"{r['val']['val_mse']:.4f} | {r['test']['mse']:.4f} | {r['best_epoch'] if lr else '-'} |")
    lines += ["", "## Corpus stage: the choices, on ETTh2's validation split (zero-shot)", "",
              "| unit | init | synthetic share | corpus val (4-horizon MSE) | ETTh2 val avg MSE | best epoch | minutes |",
              "|---|---|---|---|---|---|---|"]
    pre = corpus.records(unit="pretrain")
    if pre:
        p = pre[0]
        lines.append(f"| SimMTM pre-training | - | {corpus.settings().get('budget', {}).get('pretrain_share', '-')} | "
                     f"val loss {p['history'][p['best_epoch']]['val_loss']:.4f} | - | {p['best_epoch']} | "
                     f"{p['seconds'] / 60:.0f} |")
    heads = corpus.records(unit="head")
    for h in sorted(heads, key=lambda r: (r["key"]["init"], r["key"]["share"])):
        lines.append(f"| forecasting | {h['key']['init']} | {h['key']['share']:g} | {h['corpus_val']:.4f} | "
                     f"{h['etth2_val']['mse']:.4f} | {h['best_epoch']} | {h['seconds'] / 60:.0f} |")
    if heads and any(h["key"]["init"] == "simmtm" for h in heads):
        share = chosen_share(heads)
        lines += ["", f"Chosen on ETTh2 validation: synthetic share {share:g} (SimMTM-initialised)."]
        payload["corpus"] = {"chosen_share": share, **{f"{h['key']['init']}_share{h['key']['share']:g}":
                                                         h["etth2_val"]["mse"] for h in heads}}
    return "\n".join(lines) + "\n", payload


def write_report(out: str | Path) -> Path:
    from simmtm.experiments.records import dump_json
    from simmtm.utils.atomic import atomic_write_text

    text, payload = report(out)
    out = Path(out)
    atomic_write_text(out, text)
    atomic_write_text(out.with_suffix(".json"), dump_json(payload))
    return out


def model_card(out: str | Path, command: str) -> str:
    """The general forecaster's card, from the records: corpus, steps, wall time, commands, what it
    never saw and what it does on held-out ETTh2."""
    from simmtm.data.corpus import SOURCES as CORPUS

    folder = Path(out).with_suffix("")
    corpus = RecordStore(folder / "corpus")
    settings = corpus.settings()
    b = settings.get("budget", {})
    pre = corpus.records(unit="pretrain")[0]
    heads = corpus.records(unit="head")
    share = chosen_share(heads)
    head = next(h for h in heads if h["key"]["init"] == "simmtm" and h["key"]["share"] == share)
    enc = ", ".join(f"{k}={v}" for k, v in settings["config"]["encoder"].items() if k != "kind")
    sources = "; ".join(f"{name} ({spec.note})" for name, spec in CORPUS.items())
    table = report(out)[0].split("\n## ")[0].split("\n", 2)[2]
    pre_steps, pre_min = pre["steps"], pre["seconds"] / 60
    head_epochs = len(head["history"])
    return "\n".join([
        "# general", "",
        "A **general forecaster**: SimMTM-pre-trained, then trained to forecast, on a multi-domain corpus; it forecasts "
        "a series it has never seen with no training at all (`python -m simmtm forecast --from general --data my.csv "
        "--out f.csv`, `Forecaster.load(\"general\").predict(frame)`), or is fine-tuned on a few rows "
        "(`python -m simmtm finetune --from general --data my.csv --fraction 0.05`).", "",
        f"- model: channel-independent patch Transformer ({enc}), context {CONTEXT}, one flatten head of "
        f"{HEAD_STEPS} steps (shorter horizons are its first steps); instance-normalised inputs (scale-free: any units)",
        f"- corpus (training rows of each source only, every window normalised by its context): {sources}; plus "
        f"synthetic series (trends, 1-3 seasonalities with periods 4-512, AR(2) noise, level shifts, spikes) "
        f"made on the fly; sources weighted by the square root of their window counts ({b.get('mix', 'sqrt')})",
        f"- pre-training: SimMTM (3 views, mask ratio 0.5), {b.get('pretrain_epochs')} epochs x "
        f"{b.get('pretrain_windows'):,} windows ({b.get('pretrain_share')} synthetic), batch 16, lr 1e-3: {pre_steps:,} "
        f"steps, {pre_min:.0f} min; epoch {pre['best_epoch']} kept on corpus validation windows",
        f"- forecasting stage: encoder + head trained with the four-horizon loss (mean of the MSEs over the first "
        f"96/192/336/720 steps), {head_epochs} epochs x {b.get('head_windows'):,} windows (synthetic share "
        f"{share:g}, chosen on ETTh2 VALIDATION among {settings.get('shares')}), batch {b.get('head_batch')}, "
        f"lr {b.get('head_lr')}: {head['seconds'] / 60:.0f} min; epoch {head['best_epoch']} kept on corpus validation",
        f"- wall time: {(pre['seconds'] + head['seconds']) / 60:.0f} min on one thread of a 2-core x86_64 CPU "
        f"(torch {torch.__version__}), beside another job",
        "- never saw: ETT station 2 (ETTh2, ETTm2), any test row of any source, and the judged sets kept back",
        f"- made by: `{command}` (its corpus stage made this file: `--stages corpus`, one thread, "
        f"`OMP_NUM_THREADS=1`; `--budget gpu --device cuda` is the same command at 10x the windows)",
        *control_line(heads, b.get("pretrain_share")), "",
        "## On held-out ETTh2 (test split, standardized MSE)", "", table.strip(), "",
        f"Full report, records and the fine-tuning grid: `{Path(out).as_posix()}`.", ""])


def control_line(heads: list[dict], share) -> list[str]:
    """The card's line on what SimMTM pre-training bought: the random-encoder control against the
    SimMTM encoder at the same synthetic share (no line before the control has run)."""
    val = {h["key"]["init"]: h["etth2_val"]["mse"] for h in heads if h["key"]["share"] == share}
    if not {"random", "simmtm"} <= set(val):
        return []
    verdict = "helped" if val["simmtm"] < val["random"] else "did not help"
    return [f"- SimMTM's share: the same forecasting stage from a random encoder scored {val['random']:.4f} ETTh2 "
            f"validation MSE zero-shot against {val['simmtm']:.4f} from the SimMTM encoder at the same synthetic share "
            f"({share}): pre-training {verdict} the zero-shot model here"]


def ship(out: str | Path, *, checkpoints: str | Path = "checkpoints/general", folder: str | Path | None = None,
         command: str = "python -m simmtm general") -> Path:
    """``checkpoints/general.pt`` (the chosen forecasting unit) and its card."""
    from simmtm.training.pretrained import ship_forecaster

    heads = RecordStore(Path(out).with_suffix("") / "corpus").records(unit="head")
    source = Path(checkpoints) / f"head_simmtm_share{chosen_share(heads):g}.pt"
    return ship_forecaster(source, "general", model_card(out, command), folder=folder, general=True,
                           head_steps=HEAD_STEPS, data="multi-domain corpus (see the card)")
