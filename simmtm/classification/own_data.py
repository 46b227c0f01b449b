"""Classification of a user's own files: ``.ts`` (UCR/UEA), ``.npz`` or a CSV of one series a row.

What ``python -m simmtm classify --train TRAIN [--test TEST]`` runs (:func:`classify_files`):

1. read the training file, map its labels to classes 0..K-1 (:class:`~simmtm.data.formats.LabelMap`)
   and fit the input recipe (:class:`~simmtm.data.formats.SeriesFormat`: fill missing values,
   one length, per-channel standardisation with the training statistics);
2. draw a stratified, seeded validation split from the training file;
3. pre-train SimMTM on the training part's series (labels unused), or start from a given encoder;
4. fine-tune a classifier from it, keep the epoch with the best validation accuracy, and test
   once on TEST; beside it, with the same split and budget, a classifier fine-tuned from a
   random initialisation and a 1-nearest-neighbour (Euclidean) baseline;
5. save the SimMTM classifier with its labels and input recipe, so that
   :meth:`simmtm.Classifier.load <simmtm.classification.classifier.Classifier.load>` and ``python -m simmtm predict`` return the user's labels.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch.nn as nn

from simmtm.classification.training import finetune, pretrain, stratified_split
from simmtm.config import SimMTMConfig, get_preset
from simmtm.data.formats import LabelMap, SeriesFormat, SeriesSet, read_series
from simmtm.classification.classifier import Classifier
from simmtm.training.protocols import FinetuneProtocol
from simmtm.training.recipes import ENCODERS, ClassifyBudget
from simmtm.utils.atomic import atomic_write_text

@dataclass
class PreparedData:
    """Model-ready arrays of a training file (and a test file): ``x_*`` ``[N, L, C]`` float32,
    ``y_*`` ``[N]`` classes, with the label map and input recipe fitted on the training file."""

    x_train: np.ndarray
    y_train: np.ndarray
    labels: LabelMap
    input_format: SeriesFormat
    notes: list[str]
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


def prepare(train: SeriesSet, test: SeriesSet | None = None, *, length: int | None = None,
            lengths: str = "resample") -> PreparedData:
    """Label map and input recipe from ``train``; both files turned into model inputs. The
    ``notes`` say what was done to the data (resampling, missing values, scaling)."""
    if train.labels is None:
        raise ValueError(f"{train.source}: the training file has no labels")
    labels = LabelMap.fit(train.labels)
    fmt = SeriesFormat.fit(train, length=length, lengths=lengths)
    notes = [train.describe(), f"training inputs: {fmt.describe(train)}"]
    data = PreparedData(fmt.apply(train), labels.encode(train.labels, train.source), labels, fmt, notes)
    if test is not None:
        if test.labels is None:
            raise ValueError(f"{test.source}: the test file has no labels to score against")
        if test.n_channels != fmt.n_channels:
            raise ValueError(f"{test.source}: {test.n_channels} channel(s), the training file has {fmt.n_channels}")
        data.x_test, data.y_test = fmt.apply(test), labels.encode(test.labels, test.source)
        notes += [test.describe(), f"test inputs: {fmt.describe(test)}"]
    return data


def nearest_neighbour(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """1-nearest-neighbour predictions ``[M]``: each test series ``[M, L, C]`` takes the class of
    the training series ``[N, L, C]`` at the smallest Euclidean distance (ties: the first)."""
    a = x_train.reshape(len(x_train), -1).astype(np.float64)
    b = x_test.reshape(len(x_test), -1).astype(np.float64)
    d2 = (b ** 2).sum(1)[:, None] - 2.0 * b @ a.T + (a ** 2).sum(1)[None, :]  # [M, N]
    return y_train[d2.argmin(axis=1)]


def model_config(budget: ClassifyBudget, length: int, n_channels: int) -> SimMTMConfig:
    """The classification preset of ``budget.encoder`` sized for the data, with the budget's
    pre-training lr and batch."""
    return replace(get_preset(ENCODERS[budget.encoder]), seq_len=length, n_channels=n_channels,
                   lr=budget.pretrain_lr, batch_size=budget.batch_size)


def pretrain_epochs(n_series: int, batch_size: int, steps: int) -> int:
    """Epochs that give at least ``steps`` optimizer steps on ``n_series`` (the batching of
    :func:`simmtm.training.pretraining.pretrain_batching`)."""
    from simmtm.training.pretraining import pretrain_batching

    b, drop_last = pretrain_batching(n_series, batch_size)
    per_epoch = n_series // b if drop_last else math.ceil(n_series / b)
    return math.ceil(steps / per_epoch)


def split(data: PreparedData, fraction: float, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train / validation (stratified, seeded, from the training file) and test arrays."""
    kept, held = stratified_split(data.y_train, fraction, seed)
    if len(held) == 0:
        raise ValueError("the training file is too small for a validation split (every class has one series)")
    splits = {"train": (data.x_train[kept], data.y_train[kept]), "val": (data.x_train[held], data.y_train[held])}
    if data.x_test is not None:
        splits["test"] = (data.x_test, data.y_test)
    return splits


def train_pretrained(cfg: SimMTMConfig, budget: ClassifyBudget, splits: dict, n_classes: int, *, seed: int,
                     device: str = "auto", encoder: nn.Module | None = None, log=print, progress: bool = False,
                     protocol: FinetuneProtocol | None = None) -> dict:
    """Pre-train SimMTM on the training part (unless ``encoder`` is given), then fine-tune
    (:func:`simmtm.classification.training.finetune`, with ``protocol``: :mod:`simmtm.training.protocols`). Returns
    its result plus ``pretrain_steps`` / ``pretrain_seconds``."""
    pre_steps, pre_seconds = 0, 0.0
    if encoder is None:
        x = splits["train"][0]
        epochs = pretrain_epochs(len(x), cfg.batch_size, budget.pretrain_steps)
        log(f"pre-training SimMTM on {len(x)} series: {epochs} epochs (at least {budget.pretrain_steps} steps)")
        quiet = lambda m: None if m.startswith("[pretrain] epoch") else log(m)  # noqa: E731  (one line per epoch is noise)
        model, pre = pretrain(cfg, x, device=device, epochs=epochs, seed=seed, progress=progress, log=quiet)
        encoder, pre_steps, pre_seconds = model.encoder, pre["steps"], pre["seconds"]
    r = finetune(cfg, splits, encoder=encoder, lr=budget.finetune_lr, batch_size=budget.batch_size,
                 epochs=budget.finetune_epochs, device=device, seed=seed, n_classes=n_classes, log=None,
                 protocol=protocol)
    return {**r, "pretrain_steps": pre_steps, "pretrain_seconds": pre_seconds}


def train_random(cfg: SimMTMConfig, budget: ClassifyBudget, splits: dict, n_classes: int, *, seed: int,
                 device: str = "auto", protocol: FinetuneProtocol | None = None) -> dict:
    """The same fine-tuning (and ``protocol``) from a random initialisation."""
    return finetune(cfg, splits, encoder=None, lr=budget.finetune_lr, batch_size=budget.batch_size,
                    epochs=budget.finetune_epochs, device=device, seed=seed, n_classes=n_classes, log=None,
                    protocol=protocol)


def baseline_1nn(splits: dict, data: PreparedData) -> dict:
    """1-NN Euclidean test accuracy from the training part (the deep models' split) and from the
    whole training file (1-NN needs no validation)."""
    out = {}
    if "test" in splits:
        x_te, y_te = splits["test"]
        out["accuracy"] = float((nearest_neighbour(*splits["train"], x_te) == y_te).mean())
        out["accuracy_whole_train"] = float((nearest_neighbour(data.x_train, data.y_train, x_te) == y_te).mean())
    x_va, y_va = splits["val"]
    out["val_accuracy"] = float((nearest_neighbour(*splits["train"], x_va) == y_va).mean())
    return out


# --------------------------------------------------------------------------- the whole run
def classify_files(train_path: str | Path, test_path: str | Path | None = None, *,
                   budget: ClassifyBudget = ClassifyBudget(), seed: int = 0, out: str | Path | None = None,
                   label_column: str = "label", length: int | None = None, lengths: str = "resample",
                   encoder: nn.Module | None = None, encoder_cfg: SimMTMConfig | None = None,
                   encoder_name: str | None = None, baselines: bool = True, device: str = "auto",
                   log: Callable[[str], None] = print, progress: bool = False,
                   record: Callable[[str, Callable[[], dict]], dict] | None = None,
                   protocol: FinetuneProtocol | None = None) -> dict[str, Any]:
    """The ``classify`` command (module docstring). Returns a report: data notes, split sizes,
    and per method (``simmtm``, ``random init``, ``1-NN``) its validation and test accuracy.

    ``encoder`` (with its ``encoder_cfg``, e.g. from :func:`simmtm.training.pretrained.load_pretrained`)
    replaces pre-training. ``record(name, compute)`` lets a caller store or reuse each method's
    result (the resumable measurement); by default each is computed. ``out`` receives the SimMTM
    classifier (computed, never read from a record). ``protocol`` (:mod:`simmtm.training.protocols`;
    default full fine-tuning) trains SimMTM and random init alike."""
    protocol = protocol or FinetuneProtocol()
    train = read_series(train_path, label_column=label_column)
    test = read_series(test_path, label_column=label_column) if test_path is not None else None
    data = prepare(train, test, length=length, lengths=lengths)
    fmt, K = data.input_format, len(data.labels)
    for note in data.notes:
        log(note)
    splits = split(data, budget.val_fraction, seed)
    log(f"split: {len(splits['train'][1])} train / {len(splits['val'][1])} validation series (stratified, seed {seed}) "
        f"from {Path(train_path).name}" + (f"; test: {len(data.y_test)} series of {Path(test_path).name}" if test else
                                            "; no test file"))
    cfg = model_config(budget, fmt.length, fmt.n_channels)
    if encoder is not None:
        enc_cfg = encoder_cfg or cfg
        if getattr(encoder, "in_channels", fmt.n_channels) != fmt.n_channels:
            raise ValueError(f"{encoder_name or 'the encoder'} takes {encoder.in_channels} channel(s); the data has "
                             f"{fmt.n_channels}")
        cfg = replace(enc_cfg, n_channels=fmt.n_channels)  # its seq_len stays: finetune notes a length change
    record = record or (lambda name, compute: compute())
    report: dict[str, Any] = {"train": str(train_path), "test": None if test_path is None else str(test_path),
                              "notes": data.notes, "labels": list(data.labels.labels), "seed": seed,
                              "budget": asdict(budget), "n_train": len(splits["train"][1]),
                              **({} if protocol.is_default else {"protocol": protocol.to_dict()}),
                              "n_val": len(splits["val"][1]), "input_format": fmt.to_dict(), "methods": {}}

    def simmtm() -> dict:
        t0 = time.perf_counter()
        result = train_pretrained(cfg, budget, splits, K, seed=seed, device=device, encoder=encoder, log=log,
                                  progress=progress, protocol=protocol)
        summary = _summary(result, time.perf_counter() - t0)
        if encoder_name:
            summary["encoder"] = encoder_name
        if out is not None:
            info = {"train": str(train_path), "label_column": label_column, "seed": seed,
                    "budget": budget.describe(pretraining=encoder is None), "protocol": protocol.describe(),
                    "val_accuracy": result["val_accuracy"], "notes": data.notes}
            clf = Classifier(result["model"].cpu(), labels=data.labels.labels, input_format=fmt, info=info)
            path = clf.save(out, replace(cfg, seq_len=fmt.length), metrics=result["test"] or {})
            report["classifier"] = str(path)
            log(f"classifier: {path} ({K} classes: {', '.join(data.labels.names)})")
        return summary

    report["methods"]["simmtm"] = record("simmtm", simmtm)
    log(_line("SimMTM pre-trained, fine-tuned" if encoder is None else f"{encoder_name}, fine-tuned",
              report["methods"]["simmtm"]))
    if baselines:
        def random_init() -> dict:
            t = time.perf_counter()
            return _summary(train_random(replace(cfg, seq_len=fmt.length), budget, splits, K, seed=seed,
                                         device=device, protocol=protocol), time.perf_counter() - t)

        report["methods"]["random init"] = record("random init", random_init)
        log(_line("random init, fine-tuned (same budget)", report["methods"]["random init"]))
        report["methods"]["1-NN"] = record("1-NN", lambda: baseline_1nn(splits, data))
        log(_line("1-NN Euclidean (train part)", report["methods"]["1-NN"]))
    return report


def _summary(result: dict, seconds: float) -> dict:
    test = result["test"] or {}
    out = {"val_accuracy": result["val_accuracy"], "best_epoch": result["best_epoch"], "seconds": seconds,
           **{k: test[k] for k in ("accuracy", "f1") if k in test}}
    if "pretrain_steps" in result:
        out.update(pretrain_steps=result["pretrain_steps"], pretrain_seconds=result["pretrain_seconds"])
    return out


def _line(name: str, m: dict) -> str:
    test = f"test accuracy {m['accuracy']:.4f}" if "accuracy" in m else "no test file"
    extra = f", whole training file {m['accuracy_whole_train']:.4f}" if "accuracy_whole_train" in m else ""
    return f"{name}: {test}{extra} (validation accuracy {m['val_accuracy']:.4f})"


def predict_file(source: str | Path, data: str | Path, out: Path, *, label_column: str | None = None,
                 log: Callable[[str], None] = print) -> Path:
    """What ``python -m simmtm predict`` runs: label the series of ``data`` with the classifier
    ``source`` and write one row per series to ``out`` (:meth:`Classifier.table`); when the file
    has labels, say the accuracy against them."""
    clf = Classifier.load(source)
    if clf.input_format is None:
        raise ValueError(f"{source} carries no label map or input recipe (a benchmark checkpoint); "
                         f"predict needs a classifier saved by `classify --train`")
    series = read_series(data, label_column=label_column or clf.info.get("label_column", "label"))
    log(series.describe())
    log(f"inputs: {clf.input_format.describe(series)}")
    table = clf.table(series, clf.predict_proba(series))
    atomic_write_text(out, table.to_csv(index=False))
    scores = clf.evaluate(series)
    if scores is not None:
        log(f"accuracy against the file's labels: {scores['accuracy']:.4f} (macro F1 {scores['f1']:.4f})")
    log(f"predictions: {out} ({len(table)} series)")
    return out
