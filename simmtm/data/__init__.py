"""Datasets: sliding windows, labelled series, layout conversion, a user's series files and synthetic generators."""
from simmtm.data.formats import LabelMap, SeriesFormat, SeriesSet, load_labelled, read_series
from simmtm.data.roots import data_root, shared_hidden
from simmtm.data.synthetic import synthetic_classification, synthetic_multivariate
from simmtm.data.windows import LabelledSeries, SlidingWindows, channels_last

__all__ = ["LabelMap", "LabelledSeries", "SeriesFormat", "SeriesSet", "SlidingWindows", "channels_last", "data_root",
           "load_labelled", "read_series", "shared_hidden", "synthetic_classification", "synthetic_multivariate"]
