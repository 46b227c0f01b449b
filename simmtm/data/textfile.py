"""Early, named errors for text files that are not what a CSV reader expects."""
from __future__ import annotations

import codecs
from pathlib import Path

_BOMS = {codecs.BOM_UTF32_LE: "UTF-32", codecs.BOM_UTF32_BE: "UTF-32", codecs.BOM_UTF16_LE: "UTF-16",
         codecs.BOM_UTF16_BE: "UTF-16"}


def check_text_file(path: str | Path, what: str = "CSV") -> Path:
    """Raise a one-line error naming ``path`` when it is missing, a directory, empty, or a
    UTF-16 / UTF-32 export or binary file (NUL bytes); return the path otherwise. Stray
    non-UTF-8 bytes (a Latin-1 degree sign in a header) are left to the reader to replace."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a {what} file")
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}")
    with open(path, "rb") as f:
        head = f.read(65536)
    if not head.strip():
        raise ValueError(f"{path}: no rows (the file is empty)")
    for bom, name in _BOMS.items():  # UTF-32 first: its little-endian mark starts like UTF-16's
        if head.startswith(bom):
            raise ValueError(f"{path} is {name} text; save it as UTF-8 (or ASCII) {what}")
    if b"\x00" in head:
        raise ValueError(f"{path} is not UTF-8 text (it holds NUL bytes: UTF-16 without a mark, or a binary file); "
                         f"save it as UTF-8 {what}")
    return path
