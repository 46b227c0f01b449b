"""Moved: the pre-training methods comparison is a study and lives in
:mod:`simmtm.experiments.comparison`; this module re-exports it so old imports keep working."""
from simmtm.experiments.comparison import (ALL_METHODS, compare_classification, compare_forecasting,  # noqa: F401
                                           compare_on_arrays, comparison_markdown, plot_comparison, run, summarize,
                                           write_results)
