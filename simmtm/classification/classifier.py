"""A fine-tuned classifier for a user's own series: the network plus the user's labels and the
recipe that turns raw series into its inputs.

    from simmtm import Classifier
    clf = Classifier.load("checkpoints/gunpoint.pt")
    clf.predict("new.ts")          # [N] labels as written in the training file
    clf.predict_proba(x)           # [N, K] probabilities, columns in clf.labels order

Written by ``python -m simmtm classify`` (:func:`simmtm.classification.own_data.classify_files`).
Benchmark checkpoints carry no labels or input recipe: their classes read as 0..K-1 and their
inputs must be prepared ``[N, L, C]`` arrays.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from simmtm.build import build_classifier
from simmtm.classification.metrics import classification_metrics
from simmtm.config import SimMTMConfig
from simmtm.data.formats import LabelMap, SeriesFormat, SeriesSet, read_series
from simmtm.model import ClassificationModel
from simmtm.training.checkpoint import read_checkpoint, save_checkpoint


class Classifier:
    """``model`` (:class:`~simmtm.model.ClassificationModel`, ``[B, L, C] -> [B, K]``) with
    ``labels`` (``labels[k]`` is class k's label; None: classes are 0..K-1), ``input_format``
    (a :class:`~simmtm.data.formats.SeriesFormat`; None: inputs already ``[N, L, C]``) and
    ``info`` (what made it: training file, seed, budget, validation accuracy)."""

    def __init__(self, model: ClassificationModel, *, labels: tuple | None = None,
                 input_format: SeriesFormat | None = None, info: dict | None = None):
        self.model = model.eval()
        self.labels = tuple(labels) if labels is not None else None
        self.input_format, self.info = input_format, dict(info or {})

    def __repr__(self) -> str:
        classes = list(self.labels) if self.labels is not None else "0..K-1"
        return f"Classifier(classes={classes}, input_format={'yes' if self.input_format else 'none'})"

    def save(self, path: str | Path, cfg: SimMTMConfig, *, metrics: dict | None = None) -> Path:
        """A classifier checkpoint that :meth:`load` turns back into this object (labels required)."""
        if self.labels is None or self.input_format is None:
            raise ValueError("only a classifier with its labels and input recipe can be saved for own-data use")
        return save_checkpoint(path, self.model, cfg, metrics=metrics, kind="classifier", n_classes=len(self.labels),
                               labels=list(self.labels), input_format=self.input_format.to_dict(), info=self.info)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> "Classifier":
        """A fine-tuned classifier in eval mode, from a checkpoint of kind ``classifier``."""
        ckpt = read_checkpoint(path, map_location, kind="classifier")
        cfg = SimMTMConfig.from_dict(ckpt["config"])
        extra = ckpt.get("extra", {})
        if "n_classes" not in extra:
            raise ValueError(f"{path}: the classifier checkpoint does not say its number of classes")
        model = build_classifier(cfg, int(extra["n_classes"]))
        model.load_state_dict(ckpt["model"])
        fmt = SeriesFormat.from_dict(extra["input_format"]) if extra.get("input_format") else None
        return cls(model.to(map_location), labels=extra.get("labels"), input_format=fmt, info=extra.get("info", {}))

    def inputs(self, x) -> np.ndarray:
        """``x`` (a path, a :class:`SeriesSet`, ``[N, L]`` / ``[N, L, C]`` arrays) prepared as the
        training series were -> ``[N, L, C]`` float32."""
        if isinstance(x, (str, Path)):
            x = read_series(x, label_column=self.info.get("label_column", "label"))
        if self.input_format is not None:
            return self.input_format.apply(x)
        if isinstance(x, SeriesSet):
            raise ValueError("this classifier carries no input recipe (a benchmark checkpoint); pass prepared "
                             "arrays [N, L, C]")
        x = np.asarray(x, dtype=np.float32)
        return x[:, :, None] if x.ndim == 2 else x

    @torch.no_grad()
    def predict_proba(self, x, batch_size: int = 256) -> np.ndarray:
        """Class probabilities ``[N, K]`` (float64), columns in :attr:`labels` order."""
        x = self.inputs(x)
        if x.ndim != 3 or not np.isfinite(x).all():
            raise ValueError(f"inputs must be finite [N, L, C], got shape {x.shape}")
        self.model.eval()
        device = next(self.model.parameters()).device
        out = [torch.softmax(self.model(torch.from_numpy(x[i:i + batch_size]).to(device)).float(), dim=1).cpu()
               for i in range(0, len(x), batch_size)]
        return torch.cat(out).numpy().astype(np.float64)

    def decode(self, classes: np.ndarray) -> np.ndarray:
        """Class indices ``[N]`` -> the user's labels (the indices themselves when there are none)."""
        return LabelMap(self.labels).decode(classes) if self.labels is not None else np.asarray(classes)

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """The most probable label per series ``[N]``."""
        return self.decode(self.predict_proba(x, batch_size).argmax(axis=1))

    def table(self, data: SeriesSet, probs: np.ndarray):
        """A pandas table, one row per series: ``series`` (0-based position in the file),
        ``label`` (as given, if the file has labels), ``predicted``, then ``prob_<label>`` per class."""
        import pandas as pd

        names = LabelMap(self.labels).names if self.labels is not None else [str(k) for k in range(probs.shape[1])]
        table = pd.DataFrame({"series": np.arange(len(probs))})
        if data.labels is not None:
            table["label"] = data.labels
        table["predicted"] = self.decode(probs.argmax(axis=1))
        for k, name in enumerate(names):
            table[f"prob_{name}"] = probs[:, k]
        return table

    def evaluate(self, data: SeriesSet) -> dict[str, float] | None:
        """Metrics on a labelled :class:`SeriesSet` (None when it or the classifier has no labels)."""
        if data.labels is None or self.labels is None:
            return None
        probs = self.predict_proba(data)
        return classification_metrics(LabelMap(self.labels).encode(data.labels, data.source), probs)
