"""The general forecaster's study: train it on the corpus, judge it on held-out ETTh2.

Stage ``corpus`` (one record per unit in ``<out>/corpus/``): SimMTM pre-training on corpus windows,
then the forecasting stage (encoder + 720-step head trained on corpus windows, epoch kept on corpus
validation windows), from the SimMTM encoder and, as the sceptic's control, from random init; each
forecasting unit ends with ETTh2's VALIDATION split zero-shot, which chooses the synthetic share.
Stage ``etth2`` (``<out>/etth2/``): the chosen model zero-shot on ETTh2's test split once, and
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
from simmtm.data.forecasting import load_forecasting
from simmtm.experiments.records import RecordStore
from simmtm.forecasting.general import (CONTEXT, HEAD_STEPS, HORIZONS, FutureWindows, build_general,
                                        evaluate_horizons, general_config, train_forecaster)
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


def etth2_windows(root, split: str, *, start_row: int | None = None, end_row: int | None = None) -> FutureWindows:
    """ETTh2 (scaled by its training rows) windows of ``split`` with at least 96 targets inside it."""
    data = load_forecasting("ETTh2", root, seq_len=CONTEXT, log=lambda *_: None)
    start, end = data.borders[split]
    start = start if start_row is None else start_row
    end = end if end_row is None else end_row
    return FutureWindows(data.values, CONTEXT, HEAD_STEPS, min_future=min(HORIZONS), start=start, end=end)


def zero_shot(model, root, split: str, device) -> dict[str, float]:
    loader = make_loader(etth2_windows(root, split), 256, shuffle=False, device=device)
    return evaluate_horizons(model, loader, device)


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
                "corpus_val": result["best"], "etth2_val": zero_shot(model, root, "val", dev), "windows": train.counts,
                "checkpoint": str(ckpt / f"{name}.pt")}

    units = [(s, "simmtm") for s in shares] + [(b.pretrain_share, "random")]
    for share, init in units:
        rec = store.run({"unit": "head", "init": init, "share": share}, lambda: head_unit(share, init))
        log(f"general head ({init}, synthetic share {share:g}): ETTh2 validation zero-shot avg MSE "
            f"{rec['etth2_val']['mse']:.4f} (" + ", ".join(f"{h}: {rec['etth2_val'][f'mse_{h}']:.4f}" for h in HORIZONS) + ")")
    store.close()
    return {"pretrain": pre, "heads": store.records(unit="head")}
