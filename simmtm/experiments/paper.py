"""The paper's forecasting numbers (Dong et al., NeurIPS 2023), to print beside ours.

Keys are ``(pre-training set, fine-tuning set)``; values map a horizon (or ``"avg"``, the
mean over the four horizons) to ``(MSE, MAE)``. A horizon missing here is one whose number we
have not checked against the paper, and is shown as missing rather than guessed.
"""
from __future__ import annotations

PAPER_FORECASTING: dict[tuple[str, str], dict[int | str, tuple[float, float]]] = {
    ("ETTm1", "ETTm1"): {96: (0.288, 0.348), 192: (0.327, 0.373), 336: (0.363, 0.395), 720: (0.412, 0.424),
                         "avg": (0.348, 0.385)},
    ("Weather", "ETTm1"): {"avg": (0.350, 0.383)},
    ("ETTh1", "ETTh1"): {"avg": (0.409, 0.428)},
    ("ETTh2", "ETTh2"): {"avg": (0.353, 0.390)},
    ("Weather", "Weather"): {"avg": (0.230, 0.271)},
}


def paper_numbers(source: str, target: str) -> dict[int | str, tuple[float, float]]:
    """The paper's ``{horizon or "avg": (MSE, MAE)}`` for this transfer ({} if not reported)."""
    return PAPER_FORECASTING.get((source, target), {})
