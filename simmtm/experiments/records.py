"""A run folder of one JSON record per finished unit of a study, so that a study too long for
one sitting finishes over several runs of the same command.

A unit is named by its key, a flat dict of plain values (``{"unit": "finetune", "seed": 0,
"horizon": 96, "init": "SimMTM"}``); its record is written atomically (temp file + rename)
once the unit has finished, and a re-run skips every unit whose record exists. The folder's
``settings.json`` holds what every unit depends on (data, config, budgets): a re-run with other
settings is refused instead of mixing records made two ways. Tables are rebuilt from the
records alone, so they never hold a number no record backs.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

SETTINGS = "settings.json"


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"a record holds plain values only, got {type(value).__name__}")


def _dump(payload: Any) -> str:
    return json.dumps(payload, indent=1, default=_json_default, sort_keys=False) + "\n"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file and a rename (a kill leaves the old file or none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value, default=_json_default))


def key_name(key: dict[str, Any]) -> str:
    """A file name for ``key``: its items in order, ``unit=finetune,seed=0,...``."""
    if not key:
        raise ValueError("a record key needs at least one field")
    parts = []
    for k, v in key.items():
        if not isinstance(v, (str, int, float, bool)):
            raise TypeError(f"key field {k!r} must be a plain value, got {type(v).__name__}")
        parts.append(f"{k}={v}")
    return re.sub(r"[^A-Za-z0-9=,._+-]", "_", ",".join(parts)) + ".json"


class RecordStore:
    """One JSON record per finished unit in ``folder`` (see the module docstring)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, key: dict[str, Any]) -> Path:
        return self.folder / key_name(key)

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The record of ``key``, or None if that unit has not finished."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not a valid record ({err}); delete it to redo that unit") from err
        if _plain(record.get("key")) != _plain(key):
            raise ValueError(f"{path} holds the record of {record.get('key')}, not of {key}")
        return record

    def done(self, key: dict[str, Any]) -> bool:
        return self.path(key).is_file()

    def put(self, key: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """Write the record of a finished unit (atomically); returns it."""
        record = {"key": dict(key), **values}
        atomic_write_text(self.path(key), _dump(record))
        return _plain(record)

    def run(self, key: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The record of ``key``: read if the unit finished before, else ``compute()`` and written."""
        record = self.get(key)
        return record if record is not None else self.put(key, compute())

    def records(self, **match: Any) -> list[dict[str, Any]]:
        """Every record (sorted by file name) whose key has the ``match`` values."""
        if not self.folder.is_dir():
            return []
        out = []
        for path in sorted(self.folder.glob("*.json")):
            if path.name == SETTINGS:
                continue
            record = json.loads(path.read_text())
            if all(record.get("key", {}).get(k) == v for k, v in match.items()):
                out.append(record)
        return out

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Write ``settings.json`` on the first run; refuse a later run whose settings differ."""
        path = self.folder / SETTINGS
        new = _plain(settings)
        if path.is_file():
            old = json.loads(path.read_text())
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if diff:
                raise ValueError(f"{self.folder} holds records made with other settings ({', '.join(diff)} differ); "
                                 "use another output path or delete that folder")
        else:
            atomic_write_text(path, _dump(new))

    def settings(self) -> dict[str, Any]:
        path = self.folder / SETTINGS
        return json.loads(path.read_text()) if path.is_file() else {}


def mean_std(values: Iterable[float], digits: int = 4) -> str:
    """``"mean ± std"`` (population std over seeds, as every table here); ``"-"`` if empty."""
    v = np.asarray(list(values), dtype=float)
    if not len(v):
        return "-"
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def finite_mean(values: Iterable[float]) -> float:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan
