"""simmtm: SimMTM masked time-series pre-training (Dong et al., NeurIPS 2023).

    from simmtm import get_preset, build_simmtm
    model = build_simmtm(get_preset("ETTm1"))
    out = model(x)            # x: [B, L, C]; out.loss, out.loss_rec, out.loss_con, out.reconstruction

    f = Forecaster.load("checkpoints/my_H96_pretrained.pt")   # a fine-tuned forecaster (simmtm.forecasting)
    future = f.predict(frame)  # your series in, the next H rows out, in its units and dates
    clf = Classifier.load("checkpoints/gunpoint.pt")           # a fine-tuned classifier (simmtm.classification)
    clf.predict("new.ts")      # the labels of your training file

The package is laid out by concern (docs/architecture.md): the paper's pieces at the top level,
then training/, baselines/, forecasting/, classification/, anomaly/, data/, experiments/, cli/.
"""
from simmtm.build import build_classifier, build_encoder, build_forecaster, build_pretrainer, build_simmtm
from simmtm.training.checkpoint import load_pretrained_encoder, load_simmtm, save_checkpoint
from simmtm.config import PRESETS, CNNConfig, ResNetConfig, SimMTMConfig, TransformerConfig, get_preset
from simmtm.classification.classifier import Classifier
from simmtm.forecasting.forecaster import Backtest, Forecaster, ForecastSpec
from simmtm.losses import AutomaticWeightedLoss, FixedWeightedLoss, constraint_loss, reconstruction_loss
from simmtm.masking import make_masks, mask_views
from simmtm.model import ClassificationModel, ForecastingModel, SimMTM, SimMTMOutput
from simmtm.training.pretrained import load_pretrained
from simmtm.similarity import aggregate, aggregation_weights, cosine_similarity_matrix

FittedForecaster = Forecaster  # its name before 0.2 (release notes)

__version__ = "0.2.0"

__all__ = [
    "PRESETS", "AutomaticWeightedLoss", "Backtest", "FittedForecaster", "ForecastSpec", "CNNConfig", "Classifier", "ClassificationModel", "FixedWeightedLoss", "Forecaster", "ForecastingModel",
    "ResNetConfig", "SimMTM", "SimMTMConfig", "SimMTMOutput", "TransformerConfig", "aggregate",
    "aggregation_weights", "build_classifier", "build_encoder", "build_forecaster", "build_pretrainer",
    "build_simmtm",
    "constraint_loss", "cosine_similarity_matrix", "get_preset", "load_pretrained", "load_pretrained_encoder", "load_simmtm",
    "make_masks", "mask_views", "reconstruction_loss", "save_checkpoint",
]
