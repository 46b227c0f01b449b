"""Execute every notebook end to end in QUICK mode, on a copy (the committed file is untouched).

What is asserted holds with and without ../shared/data: no error, at least two plots, and, when
the real data is not there (a fresh clone, or SIMMTM_HIDE_SHARED_DATA=1), the notebook says so in
its output instead of silently using something else.
"""
from pathlib import Path

import pytest

from simmtm.data import data_root

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# Notebooks whose real-data cells fall back (synthetic data, or a skipped cell) without the data.
NEEDS = {"analyses": "Epilepsy_UCI/epileptic_seizure_recognition.csv",
         "baselines_comparison": "Epilepsy_UCI/epileptic_seizure_recognition.csv",
         "classification_experiment": "Epilepsy_UCI/epileptic_seizure_recognition.csv",
         "forecasting_experiment": "ETT-small/ETTm1.csv",
         "general_forecaster": "ETT-small/ETTh2.csv",
         "your_own_data": "ETT-small/ETTh2.csv"}


def _text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            parts.append(out.get("text", "") if out.output_type == "stream" else "")
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_in_quick_mode(path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("SIMMTM_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONWARNINGS", "default")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=1500, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert images >= 2, "the notebook should show its plots"
    needed = NEEDS.get(path.stem)
    with monkeypatch.context() as m:
        m.chdir(path.parent)
        present = needed is None or data_root(needed) is not None
    if not present:
        assert "not found" in _text(nb), "without the real data the notebook must say it fell back"
