"""A run folder of one JSON record per finished unit of a study, so that a study too long for
one sitting finishes over several runs of the same command.

A unit is named by its key, a flat dict of plain values (``{"unit": "finetune", "seed": 0,
"horizon": 96, "init": "SimMTM"}``); its record is written atomically (temp file + rename)
once the unit has finished, and a re-run skips every unit whose record exists and reads back
whole (a corrupt record is reported with its path, kept aside as ``<name>.corrupt`` and its
unit redone). The folder's ``settings.json`` holds what every unit depends on (data, config,
budgets): a re-run with other settings is refused instead of mixing records made two ways.
A store that writes holds the folder's lock (:mod:`simmtm.utils.folderlock`): a second process
writing into the same folder is refused, naming the holder's pid. Tables are rebuilt from the
records alone, so they never hold a number no record backs.
"""
from __future__ import annotations

import json
import math
import re
import sys
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from simmtm.utils import folderlock
from simmtm.utils.atomic import atomic_write_text

SETTINGS = "settings.json"
# Command-line spellings retired in 0.2 (one spelling per concept): records keep the commands as they
# were run; :func:`canonical_command` reads them in today's spelling, to tell a re-run from a new command.
RETIRED_OPTIONS = {"--pred-lens": "--pred-len", "--horizons": "--pred-len", "--horizon": "--pred-len"}


def canonical_command(command: str) -> str:
    """``command`` with every retired option spelled as today (:data:`RETIRED_OPTIONS`)."""
    return " ".join(RETIRED_OPTIONS.get(word, word) for word in command.split(" "))


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"a record holds plain values only, got {type(value).__name__}")


def dump_json(payload: Any) -> str:
    return json.dumps(payload, indent=1, default=_json_default, sort_keys=False) + "\n"


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


def run_folder(out: str | Path) -> Path:
    """The record folder of a study writing the table ``out`` (``results/x.md`` -> ``results/x/``)."""
    return Path(out).with_suffix("")


class RecordStore:
    """One JSON record per finished unit in ``folder`` (see the module docstring); with
    ``folder=None`` the records live in memory only (a study that need not resume)."""

    def __init__(self, folder: str | Path | None, *, log: Callable[[str], None] | None = None):
        self.folder = Path(folder) if folder is not None else None
        self._memory: dict[str, dict] = {}
        self._locked: weakref.finalize | None = None
        self.log = log or (lambda message: print(message, file=sys.stderr))

    def lock(self) -> None:
        """Hold the folder's lock until :meth:`close` (or until this store is garbage-collected,
        or the process ends); raises :class:`simmtm.utils.folderlock.FolderLockedError` if another
        process holds it. Writing methods call this first."""
        if self.folder is not None and self._locked is None:
            folderlock.acquire(self.folder)
            self._locked = weakref.finalize(self, folderlock.release, self.folder)

    def close(self) -> None:
        """Release the folder's lock (if this store took it)."""
        if self._locked is not None:
            self._locked()
            self._locked = None

    def _read(self, path: Path, key: dict[str, Any] | None) -> dict[str, Any] | None:
        """The record in ``path``, or None (reported, file kept aside as ``.corrupt``) when it
        does not read back whole or is not the record of ``key``."""
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or not isinstance(record.get("key"), dict):
                raise ValueError("not a record (no 'key' entry)")
            if key is not None and _plain(record["key"]) != _plain(key):
                raise ValueError(f"it holds the record of {record['key']}")
        except (ValueError, UnicodeDecodeError) as err:
            aside = path.with_name(path.name + ".corrupt")
            try:
                path.replace(aside)
                kept = f"kept as {aside.name}"
            except OSError:
                kept = "left in place"
            self.log(f"[records] corrupt record {path} ({' '.join(str(err).split())}); {kept}, its unit is redone")
            return None
        return record

    def path(self, key: dict[str, Any]) -> Path:
        if self.folder is None:
            raise ValueError("an in-memory record store has no files")
        return self.folder / key_name(key)

    def get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The record of ``key``, or None if that unit has not finished."""
        if self.folder is None:
            return self._memory.get(key_name(key))
        path = self.path(key)
        if not path.is_file():
            return None
        return self._read(path, key)

    def done(self, key: dict[str, Any]) -> bool:
        """Whether the unit of ``key`` finished (its record exists and reads back whole)."""
        return self.get(key) is not None

    def put(self, key: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """Write the record of a finished unit (atomically); returns it."""
        record = _plain({"key": dict(key), **values})
        if self.folder is None:
            self._memory[key_name(key)] = record
        else:
            self.lock()
            atomic_write_text(self.path(key), dump_json(record))
        return record

    def run(self, key: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The record of ``key``: read if the unit finished before, else ``compute()`` and written."""
        record = self.get(key)
        return record if record is not None else self.put(key, compute())

    def records(self, **match: Any) -> list[dict[str, Any]]:
        """Every record (sorted by file name) whose key has the ``match`` values."""
        if self.folder is None:
            found = [self._memory[k] for k in sorted(self._memory)]
        elif not self.folder.is_dir():
            return []
        else:
            found = [r for p in sorted(self.folder.glob("*.json")) if p.name != SETTINGS
                     for r in [self._read(p, None)] if r is not None]
        return [r for r in found if all(r.get("key", {}).get(k) == v for k, v in match.items())]

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Write ``settings.json`` on the first run; refuse a later run whose settings differ."""
        if self.folder is None:
            return
        self.lock()
        path = self.folder / SETTINGS
        new = _plain(settings)
        if path.is_file():
            old = self.settings()
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if diff:
                raise ValueError(f"{self.folder} holds records made with other settings ({', '.join(diff)} differ); "
                                 "use another output path or delete that folder")
        else:
            atomic_write_text(path, dump_json(new))

    def settings(self) -> dict[str, Any]:
        if self.folder is None:
            return {}
        path = self.folder / SETTINGS
        if not path.is_file():
            return {}
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is corrupt ({' '.join(str(err).split())}): restore it or delete the folder "
                             "to start over") from None
        if not isinstance(settings, dict):
            raise ValueError(f"{path} is not a settings file (a JSON object)")
        return settings


def mean_std(values: Iterable[float], digits: int = 4) -> str:
    """``"mean ± std"`` (population std over seeds, as every table here); the value alone for one
    seed (a ``± 0`` would read as a measured spread); ``"-"`` if empty."""
    v = np.asarray(list(values), dtype=float)
    if not len(v):
        return "-"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def finite_mean(values: Iterable[float]) -> float:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan


def summary_rows(runs: list[dict], group_by: tuple[str, ...], metrics: tuple[str, ...]) -> list[dict]:
    """Mean and std over seeds of ``metrics`` per group of ``group_by`` values, in first-seen order:
    ``[{**group, "seeds": n, metric: (mean, std), ...}]``."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(tuple(r[k] for k in group_by), []).append(r)
    return [{**dict(zip(group_by, g)), "seeds": len(rows),
             **{m: (float(np.mean([r[m] for r in rows])), float(np.std([r[m] for r in rows]))) for m in metrics}}
            for g, rows in groups.items()]


def table_lines(runs: list[dict], group_by: tuple[str, ...], metrics: tuple[str, ...], *, scale: float = 1.0,
                digits: int = 4, names: dict[str, str] | None = None, seeds: bool = True) -> list[str]:
    """A markdown table: one row per group of ``group_by`` values with ``mean ± std`` over seeds
    of each metric (times ``scale``); ``names`` renames column headers."""
    names = names or {}
    head = [*group_by, *(names.get(m, m) for m in metrics), *(["seeds"] if seeds else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in summary_rows(runs, group_by, metrics):
        cells = [f"{scale * row[m][0]:.{digits}f} ± {scale * row[m][1]:.{digits}f}" for m in metrics]
        lines.append("| " + " | ".join([*(str(row[k]) for k in group_by), *cells, *([str(row["seeds"])] if seeds else [])])
                     + " |")
    return lines


def summary_table(title: str, preamble: list[str], runs: list[dict], group_by: tuple[str, ...],
                  metrics: tuple[str, ...], *, scale: float = 1.0, digits: int = 4) -> str:
    """The one markdown layout of a study: a title, preamble paragraphs (data, budget, command),
    then :func:`table_lines`."""
    lines = [f"### {title}", ""]
    for paragraph in preamble:
        lines += [paragraph, ""]
    return "\n".join(lines + table_lines(runs, group_by, metrics, scale=scale, digits=digits)) + "\n"
