"""Forecasting a user's own series with a fine-tuned checkpoint: past the end of the file, in its
original units, with dates that continue its frequency, and backtests from an earlier row.

    from simmtm import Forecaster
    f = Forecaster.load("checkpoints/my_H96_pretrained.pt")   # a Forecaster
    future = f.predict(frame)             # DataFrame [H, C], indexed by the next H dates
    future = f.predict(values)            # ndarray [L', C] (L' >= seq_len) -> ndarray [H, C]
    bt = f.backtest(frame, at="2018-01-01 00:00")   # forecast after that row, actuals beside it

A fine-tuned forecaster's checkpoint (:func:`simmtm.forecasting.training.finetune`) carries a
:class:`ForecastSpec` under ``extra["inference"]``: the per-channel scaler fit on the training rows,
the column names and their order, the feature mode, seq_len, the horizon, the date column and its
frequency. The model sees ``(x - mean) / std`` of the last ``seq_len`` rows, as in training; its
output ``[H, C]`` is turned back with ``y * std + mean``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from simmtm.build import build_forecaster
from simmtm.training.checkpoint import read_checkpoint
from simmtm.config import SimMTMConfig
from simmtm.data.dates import future_dates, infer_frequency, parse_dates, same_frequency
from simmtm.utils.device import resolve_device

STEP_INDEX = "step"  # the index name of forecasts for data without dates
GENERAL_DEFAULT_HORIZON = 96  # what the general model forecasts unless told (its head has 720 steps)


class Prefix(torch.nn.Module):
    """The first ``horizon`` steps of a longer head: ``[B, L, C] -> [B, horizon, C]``."""

    def __init__(self, model: torch.nn.Module, horizon: int):
        super().__init__()
        self.model, self.horizon = model, horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[:, :self.horizon]


class PadContext(torch.nn.Module):
    """Feeds a shorter context to a model of context ``seq_len``: the first row is repeated in
    front. ``[B, L', C] -> model([B, seq_len, C])`` for ``L' <= seq_len``."""

    def __init__(self, model: torch.nn.Module, seq_len: int):
        super().__init__()
        self.model, self.seq_len = model, seq_len

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        short = self.seq_len - x.shape[1]
        if short > 0:
            x = torch.cat([x[:, :1].expand(-1, short, -1), x], dim=1)
        return self.model(x)


@dataclass(frozen=True)
class ForecastSpec:
    """What inference needs beside the weights (stored in a forecaster checkpoint as a plain dict).

    columns: the channels in the model's order; mean, std: their scaler, fit on the training rows;
    features: ``M`` (every column) or ``S`` (the target only); seq_len L and horizon H;
    date_column and freq (a pandas alias such as ``h`` or ``15min``): None for data without dates
    (freq also None for irregular dates).
    """

    columns: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    features: str
    seq_len: int
    horizon: int
    date_column: str | None = None
    freq: str | None = None

    def __post_init__(self):
        n = len(self.columns)
        if n == 0 or len(self.mean) != n or len(self.std) != n:
            raise ValueError(f"a forecast spec needs one mean and one std per column, got {n} columns, "
                             f"{len(self.mean)} means, {len(self.std)} stds")
        if not all(s > 0 for s in self.std):
            raise ValueError(f"every scaler std must be > 0, got {self.std}")
        if self.features not in ("M", "S"):
            raise ValueError(f"features must be 'M' or 'S', got {self.features!r}")
        if self.seq_len < 1 or self.horizon < 1:
            raise ValueError(f"seq_len and horizon must be >= 1, got {self.seq_len}, {self.horizon}")

    @classmethod
    def from_data(cls, data, seq_len: int, horizon: int) -> "ForecastSpec":
        """The spec of a model fine-tuned on ``data`` (a :class:`~simmtm.data.forecasting.ForecastingData`)."""
        return cls(tuple(map(str, data.columns)), tuple(map(float, data.mean)), tuple(map(float, data.std)),
                   data.features, int(seq_len), int(horizon), data.date_column, data.freq)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "the checkpoint") -> "ForecastSpec":
        missing = [k for k in cls.__dataclass_fields__ if k not in d]
        if missing:
            raise ValueError(f"{source} lacks {', '.join(missing)}, which forecasting in original units needs; "
                             "fine-tune it again with this simmtm")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Backtest:
    """A forecast from an earlier row beside what happened.

    frame: ``[H, 2C]``, columns ``<ch>`` (forecast) and ``<ch>_actual``, indexed by the forecast dates;
    metrics: ``mse`` / ``mae`` over every value in original units, the same for the last-value
    baseline (``last_value_mse`` / ``last_value_mae``: the last input row repeated), on the
    standardized scale of the training rows (``mse_scaled`` / ``mae_scaled``, as benchmark tables
    report) and per channel (``per_channel``: ``{ch: {"mse", "mae"}}``).
    """

    frame: pd.DataFrame
    metrics: dict[str, Any]
    at: Any


def _errors(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    diff = pred - true
    return float(np.mean(diff ** 2)), float(np.mean(np.abs(diff)))


class Forecaster:
    """A fine-tuned forecaster with its :class:`ForecastSpec`: reads a user's series, answers in
    its units. ``model`` maps ``[B, L, C] -> [B, H, C]`` on the standardized scale."""

    def __init__(self, model: torch.nn.Module, spec: ForecastSpec, *, device: str | torch.device = "cpu",
                 source: str = ""):
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.spec, self.source = spec, source
        self._mean = np.asarray(spec.mean, dtype=np.float64)
        self._std = np.asarray(spec.std, dtype=np.float64)

    def __repr__(self) -> str:
        s = self.spec
        dates = f"{s.date_column!r} every {s.freq}" if s.date_column else "none (step numbers)"
        return (f"Forecaster(H={s.horizon}, L={s.seq_len}, features={s.features}, columns={list(s.columns)}, "
                f"dates={dates}, source={self.source!r})")

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu", *, horizon: int | None = None):
        """Rebuild from a forecaster checkpoint (written by ``python -m simmtm finetune``), or a
        shipped model by name: ``Forecaster.load("general")`` is the general forecaster
        (:class:`GeneralForecaster`, any columns and frequency, ``horizon`` steps, 96 unless told).
        ``horizon`` takes the first steps of a longer head (a model fine-tuned from the general one
        forecasts up to its head's 720 steps); other forecasters answer their own horizon only.

        Raises:
            ValueError: not a forecaster checkpoint, or one saved before checkpoints carried the
                scaler, columns and dates (the message says what is missing).
        """
        from simmtm.training.pretrained import resolve

        path = resolve(path)
        ckpt = read_checkpoint(path, kind="forecaster")
        extra = ckpt.get("extra") or {}
        head_steps = extra.get("head_steps")
        if extra.get("general") and "inference" not in extra:
            return GeneralForecaster.from_checkpoint(ckpt, path, device=device, horizon=horizon)
        if "inference" not in extra:
            raise ValueError(f"{path} was saved by an older simmtm: it lacks the scaler, column names, feature mode, "
                             "seq_len/horizon record and date frequency that forecasting in original units needs; "
                             "fine-tune again with this version (python -m simmtm finetune ...)")
        spec = ForecastSpec.from_dict(extra["inference"], source=str(path))
        cfg = SimMTMConfig.from_dict(ckpt["config"])
        model = build_forecaster(cfg, head_steps or spec.horizon)
        model.load_state_dict(ckpt["model"])
        if horizon is not None and horizon != spec.horizon:
            if not head_steps or horizon > head_steps:
                raise ValueError(f"{path} forecasts " + (f"up to {head_steps}" if head_steps else f"{spec.horizon}")
                                 + f" steps, not {horizon}; fine-tune a forecaster for that horizon")
            spec = replace(spec, horizon=int(horizon))
        if head_steps and spec.horizon < head_steps:
            model = Prefix(model, spec.horizon)
        return cls(model, spec, device=device, source=str(path))

    # --- reading a user's series ----------------------------------------------------------------

    def read(self, data: pd.DataFrame, date_column: str | None = None) -> tuple[np.ndarray, pd.Index]:
        """The model's channels of ``data`` as ``[T, C]`` float64 (original units) and its index:
        a DatetimeIndex (from ``date_column``, else the spec's date column, else ``data``'s own
        DatetimeIndex) whose dates are checked sorted and regular, or a RangeIndex of steps."""
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(data).__name__}")
        if len(data) == 0:
            raise ValueError("the data has no rows")
        name = date_column or self.spec.date_column or "date"
        if name in data.columns:
            index = parse_dates(data[name], name=name)
        elif date_column is not None:
            raise ValueError(f"no date column {date_column!r} in the data (columns: {list(map(str, data.columns))})")
        elif isinstance(data.index, pd.DatetimeIndex):
            index = pd.DatetimeIndex(data.index, name=data.index.name or name)
        else:
            index = pd.RangeIndex(len(data), name=STEP_INDEX)
        missing = [c for c in self.spec.columns if c not in data.columns]
        if missing:
            raise ValueError(f"the data lacks column(s) {missing} that the model was trained on "
                             f"(it needs {list(self.spec.columns)})")
        frame = data[list(self.spec.columns)]
        non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if non_numeric:
            raise ValueError(f"column(s) {non_numeric} are not numeric")
        if isinstance(index, pd.DatetimeIndex) and len(index) > 1:
            freq = infer_frequency(index, index.name)
            if self.spec.freq is not None and not same_frequency(freq, self.spec.freq):
                raise ValueError(f"the data's dates are {freq} apart but the model was trained on dates "
                                 f"{self.spec.freq} apart")
            index = pd.DatetimeIndex(index, freq=freq)
        return frame.to_numpy(dtype=np.float64), index

    def _window(self, values: np.ndarray, end: int, index: pd.Index | None = None) -> np.ndarray:
        """The input rows ``[end - L, end)``, checked: enough rows, every value finite."""
        L = self.spec.seq_len
        if end < L:
            raise ValueError(f"the model needs {L} rows of input (seq_len), the data has {end}"
                             + ("" if end == len(values) else " up to that point"))
        window = values[end - L:end]
        bad = np.flatnonzero(~np.isfinite(window).all(axis=1))
        if len(bad):
            row = end - L + int(bad[0])
            where = f" ({index[row]})" if isinstance(index, pd.DatetimeIndex) else ""
            raise ValueError(f"the input window holds NaN or infinite values, first at row {row} (line {row + 2}){where} "
                             f"({len(bad)} rows); impute them first")
        return window

    @torch.no_grad()
    def forecast_window(self, window: np.ndarray) -> np.ndarray:
        """``[L, C]`` in original units -> ``[H, C]`` in original units (the model on the
        standardized window, then de-standardized)."""
        scaled = (np.asarray(window, dtype=np.float64) - self._mean) / self._std
        x = torch.as_tensor(scaled, dtype=torch.float32, device=self.device).unsqueeze(0)  # [1, L, C]
        y = self.model(x)[0].double().cpu().numpy()  # [H, C]
        return y * self._std + self._mean

    # --- public answers -------------------------------------------------------------------------

    def predict(self, data: pd.DataFrame | np.ndarray, *, date_column: str | None = None):
        """Forecast the ``H`` steps after the last row.

        Args:
            data: a DataFrame with the model's columns (and a date column or a DatetimeIndex;
                without dates the forecast is indexed by step numbers continuing the rows), or an
                array ``[T, C]`` in the model's column order, ``T >= seq_len``.
            date_column: the name of the date column when it is not the one the model was trained with.

        Returns:
            DataFrame ``[H, C]`` (the channels under their names, original units) indexed by the
            next ``H`` dates; for an array input, an array ``[H, C]``.
        """
        if isinstance(data, np.ndarray):
            values = np.asarray(data, dtype=np.float64)
            if values.ndim != 2 or values.shape[1] != len(self.spec.columns):
                raise ValueError(f"expected an array [T, {len(self.spec.columns)}] (columns {list(self.spec.columns)}), "
                                 f"got shape {values.shape}")
            return self.forecast_window(self._window(values, len(values)))
        values, index = self.read(data, date_column)
        forecast = self.forecast_window(self._window(values, len(values), index))
        return pd.DataFrame(forecast, columns=list(self.spec.columns), index=self._future(index, len(values)))

    def _future(self, index: pd.Index, end: int) -> pd.Index:
        """The ``H`` index labels after row ``end - 1``."""
        H = self.spec.horizon
        if isinstance(index, pd.DatetimeIndex):
            freq = index.freq.freqstr if index.freq is not None else self.spec.freq
            if freq is None:
                raise ValueError("one date is not enough to infer the frequency, and the model does not record one")
            return pd.DatetimeIndex(future_dates(index[end - 1:end], H, freq), name=index.name)
        return pd.RangeIndex(index[end - 1] + 1, index[end - 1] + 1 + H, name=index.name)

    def locate(self, index: pd.Index, at) -> int:
        """Row position of ``at`` (a date, or a step number for data without dates)."""
        if isinstance(index, pd.DatetimeIndex):
            try:
                stamp = pd.Timestamp(at)
            except (ValueError, TypeError):
                raise ValueError(f"--at {at!r} is not a date") from None
            if stamp not in index:
                raise ValueError(f"--at {at}: no row has that date (the data runs from {index[0]} to {index[-1]}, "
                                 f"every {index.freq.freqstr if index.freq is not None else '?'})")
            return int(index.get_loc(stamp))
        try:
            step = int(at)
        except (ValueError, TypeError):
            raise ValueError(f"--at {at!r}: the data has no dates, so --at is a row's step number") from None
        if not 0 <= step < len(index):
            raise ValueError(f"--at {step}: the data's steps run from 0 to {len(index) - 1}")
        return step

    def backtest(self, data: pd.DataFrame, at, *, date_column: str | None = None) -> Backtest:
        """Forecast the ``H`` rows after row ``at`` from the ``seq_len`` rows up to it (included)
        and put the actual values beside the forecast, with MSE/MAE in original units and the
        last-value baseline's (see :class:`Backtest`)."""
        values, index = self.read(data, date_column)
        L, H = self.spec.seq_len, self.spec.horizon
        row = self.locate(index, at)
        end = row + 1
        if end < L:
            raise ValueError(f"--at {at}: only {end} rows up to it, the model needs seq_len={L}; the earliest "
                             f"possible is {index[L - 1]}")
        if end + H > len(values):
            latest = f"; the latest possible is {index[len(values) - H - 1]}" if len(values) - H - 1 >= L - 1 else ""
            raise ValueError(f"--at {at}: only {len(values) - end} rows after it, a backtest of H={H} needs {H}{latest}")
        window = self._window(values, end, index)
        actual = values[end:end + H]
        bad = np.flatnonzero(~np.isfinite(actual).all(axis=1))
        if len(bad):
            raise ValueError(f"the actual values after --at hold NaN or infinite values, first at row {end + int(bad[0])} (line {end + int(bad[0]) + 2})")
        forecast = self.forecast_window(window)
        last = np.repeat(window[-1:], H, axis=0)
        cols = list(self.spec.columns)
        frame = pd.DataFrame(index=index[end:end + H])
        for j, c in enumerate(cols):
            frame[c], frame[f"{c}_actual"] = forecast[:, j], actual[:, j]
        mse, mae = _errors(forecast, actual)
        base_mse, base_mae = _errors(last, actual)
        mse_s, mae_s = _errors(forecast / self._std, actual / self._std)
        per_channel = _per_channel(cols, forecast, actual)
        metrics = {"mse": mse, "mae": mae, "last_value_mse": base_mse, "last_value_mae": base_mae,
                   "mse_scaled": mse_s, "mae_scaled": mae_s, "per_channel": per_channel}
        return Backtest(frame, metrics, index[row])

    @torch.no_grad()
    def evaluate(self, data: pd.DataFrame, start, end=None, *, stride: int = 1, date_column: str | None = None,
                 batch_size: int = 256) -> dict[str, Any]:
        """Backtests from every ``stride``-th row between ``start`` and ``end`` (dates, or step
        numbers without dates; ``end`` defaults to the last row with ``H`` rows after it), averaged
        over every forecast value: the :class:`Backtest` metrics (original units, last-value
        baseline, standardized scale, per channel) plus ``windows`` and the first and last origin.
        Over a test split's rows this is the benchmark protocol, reported in original units."""
        values, index = self.read(data, date_column)
        L, H = self.spec.seq_len, self.spec.horizon
        first = self.locate(index, start)
        last = len(values) - H - 1 if end is None else self.locate(index, end)
        if first + 1 < L or last + H >= len(values) or last < first:
            raise ValueError(f"origins must run from row {L} (seq_len) to row {len(values) - H} (H rows before the end), "
                             f"got {first + 1} to {last + 1}")
        if not np.isfinite(values[first + 1 - L:last + 1 + H]).all():
            raise ValueError("the rows of the evaluated period hold NaN or infinite values; impute them first")
        origins = np.arange(first, last + 1, stride)
        se = ae = se_s = ae_s = se_b = ae_b = 0.0
        ch = np.zeros((2, len(self.spec.columns)))  # per-channel sums: se, ae
        count = 0
        for chunk in np.array_split(origins, max(1, int(np.ceil(len(origins) / batch_size)))):
            rows = chunk[:, None] + 1  # [N, 1]: first row after the input
            x = values[rows + np.arange(-L, 0)]  # [N, L, C]
            y = values[rows + np.arange(H)]  # [N, H, C]
            scaled = torch.as_tensor((x - self._mean) / self._std, dtype=torch.float32, device=self.device)
            pred = self.model(scaled).double().cpu().numpy() * self._std + self._mean  # [N, H, C]
            last_value = np.repeat(x[:, -1:], H, axis=1)
            diff, base = pred - y, last_value - y
            se, ae = se + (diff ** 2).sum(), ae + np.abs(diff).sum()
            se_s, ae_s = se_s + ((diff / self._std) ** 2).sum(), ae_s + np.abs(diff / self._std).sum()
            se_b, ae_b = se_b + (base ** 2).sum(), ae_b + np.abs(base).sum()
            ch[0] += (diff ** 2).sum((0, 1))
            ch[1] += np.abs(diff).sum((0, 1))
            count += diff.size
        per = count / len(self.spec.columns)
        return {"mse": float(se / count), "mae": float(ae / count), "last_value_mse": float(se_b / count),
                "last_value_mae": float(ae_b / count), "mse_scaled": float(se_s / count), "mae_scaled": float(ae_s / count),
                "per_channel": {c: {"mse": float(ch[0, j] / per), "mae": float(ch[1, j] / per)}
                                for j, c in enumerate(self.spec.columns)},
                "windows": len(origins), "first_origin": str(index[origins[0]]), "last_origin": str(index[origins[-1]])}


def _per_channel(columns, forecast: np.ndarray, truth: np.ndarray) -> dict[str, dict[str, float]]:
    return {c: dict(zip(("mse", "mae"), _errors(forecast[..., j], truth[..., j]))) for j, c in enumerate(columns)}


def plot_forecast_frame(history: pd.DataFrame, forecast: pd.DataFrame, *, actual: pd.DataFrame | None = None,
                        title: str = ""):
    """Recent history and the forecast of every channel, one panel each, the channel's name (its
    unit) on the y axis and the dates (or steps) on the x axis; ``actual`` (a backtest's truth)
    dashed. ``history`` and ``forecast`` are ``[rows, C]`` frames with the same columns."""
    import matplotlib.pyplot as plt

    columns = list(forecast.columns)
    fig, axes = plt.subplots(len(columns), 1, figsize=(10, 1.9 * len(columns) + 0.8), sharex=True, squeeze=False)
    for ax, c in zip(axes[:, 0], columns):
        ax.plot(history.index, history[c], color="black", lw=1, label="history")
        if actual is not None:
            ax.plot(actual.index, actual[c], color="black", ls="--", lw=1, label="actual")
        ax.plot(forecast.index, forecast[c], color="tab:red", lw=1.3, label="forecast")
        ax.axvline(history.index[-1], color="grey", lw=0.8)
        ax.set_ylabel(str(c))
    name = history.index.name or STEP_INDEX
    axes[-1, 0].set_xlabel(name if name != STEP_INDEX else "step (row number)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(title, x=0.01, ha="left", fontsize=10)
    fig.autofmt_xdate()
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


class GeneralForecaster:
    """The general forecaster (``Forecaster.load("general")``): one model for any file, any number
    of channels and any frequency, with no training on it. It reads every numeric column of a
    frame (all but the date column), forecasts each channel on its own from its last 512 rows
    (instance-normalised, so no scaler is needed: the spec's mean and std, the file's own, only
    put the "standardized" metrics of a backtest on a scale) and answers in the file's units. A series
    shorter than the context has its first row repeated in front (:class:`PadContext`).

    ``bind(frame)`` gives the :class:`Forecaster` for that frame's columns (``predict``,
    ``backtest`` and ``evaluate`` as for any forecaster); ``predict(frame)`` is ``bind(frame).predict(frame)``.
    """

    def __init__(self, model: torch.nn.Module, *, seq_len: int, head_steps: int, horizon: int | None = None,
                 device: str | torch.device = "cpu", source: str = ""):
        horizon = GENERAL_DEFAULT_HORIZON if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= head_steps:
            raise ValueError(f"the general forecaster forecasts 1 to {head_steps} steps, got {horizon!r}")
        self.model = PadContext(Prefix(model, horizon) if horizon < head_steps else model, seq_len)
        self.seq_len, self.head_steps, self.horizon = seq_len, head_steps, horizon
        self.device, self.source = device, source
        self.notes: list[str] = []

    def __repr__(self) -> str:
        return (f"GeneralForecaster(H={self.horizon} of {self.head_steps}, context {self.seq_len}, "
                f"source={Path(self.source).name!r})")

    @classmethod
    def from_checkpoint(cls, ckpt: dict, path, *, device="cpu", horizon: int | None = None) -> "GeneralForecaster":
        cfg = SimMTMConfig.from_dict(ckpt["config"])
        head_steps = int(ckpt["extra"].get("head_steps") or 0)
        model = build_forecaster(cfg, head_steps)
        model.load_state_dict(ckpt["model"])
        return cls(model, seq_len=cfg.seq_len, head_steps=head_steps, horizon=horizon, device=device, source=str(path))

    def bind(self, data: pd.DataFrame, date_column: str | None = None) -> Forecaster:
        """The forecaster of ``data``'s numeric columns (every column but the date column)."""
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"expected a pandas DataFrame, got {type(data).__name__}")
        name = date_column or "date"
        if date_column is not None and date_column not in data.columns:
            raise ValueError(f"no date column {date_column!r} in the data (columns: {list(map(str, data.columns))})")
        columns = [str(c) for c in data.columns if c != name]
        non_numeric = [c for c in columns if not pd.api.types.is_numeric_dtype(data[c])]
        if non_numeric:
            raise ValueError(f"column(s) {non_numeric} are not numeric" + ("" if name in data.columns else
                             f"; if {non_numeric[0]!r} holds the dates, name it as the date column"))
        if not columns:
            raise ValueError("the data has no numeric column to forecast")
        freq = None
        if name in data.columns and len(data) > 1:
            freq = infer_frequency(parse_dates(data[name], name=name), name)
        rows = len(data)
        self.notes = [] if rows >= self.seq_len else [
            f"note: {rows} rows, fewer than the general model's context of {self.seq_len}: its first row is repeated "
            f"in front to fill it (forecasts from short series are less reliable)"]
        values = data[columns].to_numpy(dtype=np.float64)
        mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)  # the model is scale-free: these only
        mean, std = np.nan_to_num(mean), np.where(np.isfinite(std) & (std > 0), std, 1.0)  # give metrics a scale
        spec = ForecastSpec(tuple(columns), tuple(map(float, mean)), tuple(map(float, std)), "M", min(rows, self.seq_len),
                            self.horizon, name if name in data.columns else None, freq)
        return Forecaster(self.model, spec, device=self.device, source=self.source)

    def predict(self, data: pd.DataFrame | np.ndarray, *, date_column: str | None = None):
        """The next ``horizon`` steps of every channel (see :meth:`Forecaster.predict`); an array
        ``[T, C]`` gives an array ``[H, C]``."""
        if isinstance(data, np.ndarray):
            values = np.asarray(data, dtype=np.float64)
            if values.ndim != 2 or len(values) < 1:
                raise ValueError(f"expected an array [T, C], got shape {values.shape}")
            frame = pd.DataFrame(values, columns=[f"c{j}" for j in range(values.shape[1])])
            return self.bind(frame).predict(values)
        return self.bind(data, date_column).predict(data, date_column=date_column)
