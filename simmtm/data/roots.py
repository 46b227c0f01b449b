"""Where local copies of the real datasets are looked for (``data/`` first, then a shared copy).

Setting ``SIMMTM_HIDE_SHARED_DATA=1`` makes every lookup ignore folders named ``shared``, so a
machine that has ``../shared/data`` can still run exactly what a fresh clone without it runs
(CI's second pass does this).
"""
from __future__ import annotations

import os
from pathlib import Path

HIDE_SHARED_ENV = "SIMMTM_HIDE_SHARED_DATA"
CANDIDATES: tuple[str, ...] = ("data", "../data", "../shared/data", "../../shared/data")


def shared_hidden() -> bool:
    """True when ``SIMMTM_HIDE_SHARED_DATA`` asks every lookup to ignore shared copies."""
    return os.environ.get(HIDE_SHARED_ENV, "").strip().lower() in {"1", "true", "yes"}


def visible(root: str | Path) -> bool:
    """False for a folder inside a ``shared`` folder while shared copies are hidden."""
    return not (shared_hidden() and "shared" in Path(root).resolve().parts)


def data_root(relative: str | Path, candidates: tuple[str | Path, ...] = CANDIDATES) -> Path | None:
    """The first folder among ``candidates`` (relative to the working directory) holding the
    file ``relative``, skipping shared copies when they are hidden; None if there is none."""
    for root in candidates:
        if visible(root) and (Path(root) / relative).is_file():
            return Path(root)
    return None
