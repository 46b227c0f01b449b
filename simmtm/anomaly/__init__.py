"""Anomaly detection on the package's encoders: a self-distilled masked autoencoder.

    from simmtm.anomaly import make_anomaly_windows, get_anomaly_preset, build_detector, train_detector, score
    cfg = get_anomaly_preset("synthetic")
    train = make_anomaly_windows(2000, anomaly_ratio=0.03, seed=1)
    model = build_detector(cfg, "sdmae")
    train_detector(model, cfg, train, val)
    window_scores, point_scores = score(model, cfg, test)

Modules: ``synthetic`` (five labelled anomaly types), ``data`` (windows, NAB loader), ``masking``
(patch / token / temporal / feature), ``model`` (teacher-student MAE), ``losses``, ``scoring``,
``metrics``, ``training``, ``experiment`` (the benchmark), ``plotting``; for one real series:
``frame`` (a user's table), ``series`` (point scores of a whole series), ``threshold``,
``baselines`` and ``detector`` (:class:`AnomalyDetector`: ``fit(df)`` then ``score(df)``).
"""
from simmtm.anomaly.data import (AnomalyWindows, NABSeries, channel_stats, load_nab, load_ucr_anomaly, nab_names,
                                 to_windows)
from simmtm.anomaly.detector import SCORERS, AnomalyDetector, SeriesConfig
from simmtm.anomaly.masking import STRATEGIES, anomaly_mask, last_steps_mask
from simmtm.anomaly.model import MaskedAutoencoder, SelfDistilledMAE, TokenDecoder
from simmtm.anomaly.synthetic import ANOMALY_TYPES, inject, make_anomaly_windows
from simmtm.anomaly.training import (ANOMALY_PRESETS, DETECTORS, AnomalyConfig, build_detector, get_anomaly_preset,
                                     score, train_detector)

__all__ = [
    "ANOMALY_PRESETS", "ANOMALY_TYPES", "DETECTORS", "STRATEGIES", "AnomalyConfig", "AnomalyWindows",
    "MaskedAutoencoder", "NABSeries", "SelfDistilledMAE", "TokenDecoder", "anomaly_mask", "build_detector",
    "channel_stats", "get_anomaly_preset", "inject", "last_steps_mask", "load_nab", "make_anomaly_windows", "score",
    "to_windows", "train_detector", "AnomalyDetector", "SCORERS", "SeriesConfig", "load_ucr_anomaly", "nab_names",
]
