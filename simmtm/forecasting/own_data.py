"""Forecasting a user's own file end to end: fine-tune one forecaster per horizon, then write
dated forecasts (or a backtest) in the file's units as a CSV and, if asked, a plot.

What ``python -m simmtm finetune`` and ``python -m simmtm forecast`` run; the command line only
parses arguments and prints these functions' lines.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import torch.nn as nn

from simmtm.config import SimMTMConfig
from simmtm.data.forecasting import ForecastingData, read_series_csv
from simmtm.forecasting.forecaster import Forecaster, GeneralForecaster, plot_forecast_frame
from simmtm.forecasting.training import finetune
from simmtm.training.checkpoint import read_checkpoint
from simmtm.training.protocols import FinetuneProtocol
from simmtm.training.recipes import StudyBudget
from simmtm.training.resume import finished
from simmtm.utils.atomic import atomic_write_text
from simmtm.utils.checks import check_horizons
from simmtm.utils.distributed import rank


def finetune_horizons(cfg: SimMTMConfig, data: ForecastingData, horizons: Iterable[int], out: Path, *,
                      encoder: nn.Module | None, budget: StudyBudget, protocol: FinetuneProtocol,
                      device: str = "auto", amp_dtype=None, seed: int = 0, resume: bool = False,
                      progress: bool = True, log: Callable[[str], None] = print) -> dict[int, Path]:
    """One forecaster per horizon in ``out`` (``<data>_H<h>_<pretrained|random>.pt``), every
    horizon checked against the data before any training; with ``resume`` a finished one is
    reported from its checkpoint and skipped. Returns ``{horizon: checkpoint}``."""
    horizons = check_horizons(data, horizons, cfg.seq_len)
    tag = "pretrained" if encoder is not None else "random"
    paths = {}
    for horizon in horizons:
        path = paths[horizon] = out / f"{data.name}_H{horizon}_{tag}.pt"
        if resume and finished(path):
            metrics = read_checkpoint(path)["metrics"]
            log(f"{data.name} H={horizon} ({tag}): finished before: test MSE {metrics['mse']:.4f} MAE "
                f"{metrics['mae']:.4f} (from {path})")
            continue
        result = finetune(cfg, data, horizon, encoder=encoder, device=device, lr=budget.lr,
                          batch_size=budget.batch_size, epochs=budget.finetune_epochs, patience=budget.patience,
                          head_dropout=budget.head_dropout, amp_dtype=amp_dtype, max_windows=budget.finetune_windows,
                          seed=seed, checkpoint=path, resume=resume, progress=progress, protocol=protocol)
        if rank() == 0:
            log(f"{data.name} H={horizon} ({tag}): test MSE {result['test']['mse']:.4f} MAE {result['test']['mae']:.4f} "
                f"on the standardized scale (best epoch {result['best_epoch']}, {result['seconds']:.0f}s); "
                f"forecaster: {path}")
    return paths


def forecast_file(source: str | Path, data: str | Path, out: Path, *, plot: Path | None = None, at=None,
                  date_column: str | None = None, history: int | None = None, device: str = "cpu",
                  horizon: int | None = None, log: Callable[[str], None] = print) -> Path:
    """Forecast the ``H`` rows after the end of the CSV ``data`` (or, with ``at``, after that
    row: a backtest with ``<ch>_actual`` columns and its errors beside the last-value baseline's)
    with the forecaster ``source``; write them to ``out`` (the date column, then each channel) and
    the recent history with the forecast to ``plot``. ``horizon``: the first steps of a longer head
    (the general model: 96 unless told, up to 720)."""
    model, frame = Forecaster.load(source, device, horizon=horizon), None
    if isinstance(model, GeneralForecaster):  # any columns: it adapts to this file
        frame = read_series_csv(data, date_column or "date", required=date_column is not None)
        general, model = model, model.bind(frame, date_column)
        log(f"general forecaster, zero-shot (no training on this file): {len(model.spec.columns)} channel(s), "
            f"H = {model.spec.horizon}" + (f", dates every {model.spec.freq}" if model.spec.freq else ""))
        for note in general.notes:
            log(note)
    spec = model.spec
    column = date_column or spec.date_column or "date"
    if frame is None:
        frame = read_series_csv(data, column, required=date_column is not None)
    ignored = [c for c in frame.columns if c not in (*spec.columns, column)]
    if ignored:
        log(f"note: columns {ignored} are not the model's and are left out (it forecasts {list(spec.columns)})")
    values, index = model.read(frame, date_column)
    if at is None:
        result, actual, origin, end = model.predict(frame, date_column=date_column), None, index[-1], len(values)
    else:
        backtest = model.backtest(frame, at, date_column=date_column)
        result, origin = backtest.frame, backtest.at
        actual = backtest.frame[[f"{c}_actual" for c in spec.columns]].set_axis(list(spec.columns), axis=1)
        end = index.get_loc(origin) + 1
    atomic_write_text(out, result.reset_index().to_csv(index=False))
    what = f"{spec.horizon} steps after {origin}" + (f" (every {index.freq.freqstr})"
                                                      if getattr(index, "freq", None) is not None else "")
    log(f"forecast of the {what} in original units: {out}")
    if at is not None:
        m = backtest.metrics
        log(f"backtest from {origin}: MSE {m['mse']:.4g} MAE {m['mae']:.4g} in original units "
            f"(last-value baseline MSE {m['last_value_mse']:.4g} MAE {m['last_value_mae']:.4g}; "
            f"standardized MSE {m['mse_scaled']:.4f} MAE {m['mae_scaled']:.4f})")
    if plot is not None:
        import matplotlib.pyplot as plt

        start = max(0, end - (history or spec.seq_len))
        past = frame.iloc[start:end][list(spec.columns)].set_axis(index[start:end])
        kind = "backtest" if at is not None else "forecast"
        fig = plot_forecast_frame(past, result[list(spec.columns)], actual=actual,
                                  title=f"{Path(data).name}: {kind} of the {what}, H = {spec.horizon}, original units")
        plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot, dpi=120)
        plt.close(fig)
        log(f"plot: {plot}")
    return out
