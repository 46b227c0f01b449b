"""The experiment layer: run folders of per-unit records, shared by the study runners."""
from simmtm.experiments.records import RecordStore, mean_std, run_folder

__all__ = ["RecordStore", "mean_std", "run_folder"]
