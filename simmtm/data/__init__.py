"""Datasets: sliding windows, labelled series, layout conversion and synthetic generators."""
from simmtm.data.synthetic import synthetic_classification, synthetic_multivariate
from simmtm.data.windows import LabelledSeries, SlidingWindows, channels_last

__all__ = ["LabelledSeries", "SlidingWindows", "channels_last", "synthetic_classification", "synthetic_multivariate"]
