"""Datasets: sliding windows, labelled series, layout conversion and synthetic generators."""
from simmtm.data.roots import data_root, shared_hidden
from simmtm.data.synthetic import synthetic_classification, synthetic_multivariate
from simmtm.data.windows import LabelledSeries, SlidingWindows, channels_last

__all__ = ["LabelledSeries", "SlidingWindows", "channels_last", "data_root", "shared_hidden", "synthetic_classification", "synthetic_multivariate"]
