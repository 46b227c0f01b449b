"""Writing files whole or not at all.

Every file simmtm writes (checkpoints, resume states, records, tables, converted corpora) goes
through :func:`atomic_write`: the content is written to a temp file with a unique name in the
same folder (``<name>.<pid>.<random>.tmp``, so two processes never share one), flushed to disk,
then renamed over the target. A kill, Ctrl-C or a full disk leaves the previous file (or none),
never half of one, and a failed write removes its temp file and says why in one line.
"""
from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def temp_path(path: str | Path) -> Path:
    """A unique temp name beside ``path``: ``<name>.<pid>.<8 hex>.tmp``."""
    path = Path(path)
    return path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_failed(path: Path, err: OSError) -> OSError:
    """The one-line error of a failed write of ``path`` (its temp file already removed)."""
    why = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
           errno.EFBIG: "file too large for this file system or limit", errno.EROFS: "read-only file system",
           errno.EACCES: "permission denied"}.get(err.errno, err.strerror or type(err).__name__)
    failed = type(err)(f"cannot write {path}: {why}; nothing was written (any previous file is intact)")
    failed.errno = err.errno
    return failed


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any], *,
                 before_replace: Callable[[], Any] | None = None) -> Path:
    """Write ``path`` whole or not at all: ``write(f)`` fills a binary temp file, which then
    replaces ``path`` (``before_replace()`` runs once the temp file is safely on disk, e.g. to
    keep the old file under another name). On any failure (including Ctrl-C) the temp file is
    removed and ``path`` is left as it was; an ``OSError`` (full disk, ...) is re-raised as one
    line naming ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise write_failed(path, err) from None
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """:func:`atomic_write` of ``data``."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` of ``text`` (UTF-8)."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_torch_save(payload: Any, path: str | Path) -> Path:
    """``torch.save(payload, path)`` through :func:`atomic_write`."""
    import torch

    return atomic_write(path, lambda f: torch.save(payload, f))
