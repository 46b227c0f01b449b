"""Score a user's CSV file: ``python -m simmtm anomaly --data my.csv --out scores.csv --plot scores.png``.

Reads the table (:func:`~simmtm.anomaly.frame.read_csv`), trains an :class:`AnomalyDetector` on the
training part (``--train-until`` / ``--train-fraction``, optional ``--labels``: a few known anomalies
switch to the self-distilled semi-supervised detector), scores every row and writes one row per
time step (timestamp, value(s), score, flag) and, optionally, a figure.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from simmtm.anomaly.detector import AnomalyDetector, SeriesConfig
from simmtm.anomaly.frame import read_csv, read_labels, train_rows


def score_file(data: str | Path, out: str | Path, *, plot: str | Path | None = None, train_until: str | None = None,
               train_fraction: float | None = None, labels: str | Path | None = None, scorer: str | None = None,
               config: SeriesConfig | None = None, seed: int = 0, device: str = "cpu", progress: bool = True,
               log=print) -> AnomalyDetector:
    """Fit on the training rows of ``data``, write the scores to ``out`` (CSV) and the figure to ``plot``."""
    frame = read_csv(data)
    config = config or SeriesConfig()
    n_train = train_rows(frame, train_until=train_until, train_fraction=train_fraction)
    if n_train < config.min_train_steps:
        raise ValueError(f"{data}: the training part has {n_train} rows; need at least {config.min_train_steps} "
                         f"(two windows of {config.length}); give a longer file or a later --train-until")
    point_labels = read_labels(labels, frame) if labels is not None else None
    train_labels = point_labels[:n_train] if point_labels is not None else None
    detector = AnomalyDetector(config, scorer=scorer, seed=seed, device=device, progress=progress)
    detector.fit(frame.rows(slice(0, n_train)), train_labels)
    scores = detector.score(frame)
    scores["train"] = np.arange(len(frame)) < n_train
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out, index=False)
    if log:
        test = scores["flag"].to_numpy()[n_train:]
        log(f"[anomaly] {data}: trained on {n_train} of {len(frame)} rows ({detector.scorer_} scorer), threshold "
            f"{detector.threshold_:.4g} (training-score quantile {1 - config.false_alarm_rate:.2f}); "
            f"{int(test.sum())} of {len(test)} later rows flagged; wrote {out}")
    if plot is not None:
        from simmtm.anomaly.plotting import plot_series_scores

        fig = plot_series_scores(scores, list(frame.columns), detector.threshold_, n_train=n_train, labels=point_labels,
                                 title=f"{Path(data).name}: {detector.scorer_} scores")
        plot = Path(plot)
        plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot, dpi=120)
        if log:
            log(f"[anomaly] wrote {plot}")
    return detector
