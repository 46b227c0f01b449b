"""Forecasting: pre-training and fine-tuning on forecasting windows, and the own-data :class:`Forecaster`."""
