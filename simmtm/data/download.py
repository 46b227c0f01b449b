"""Download benchmark files from their public upstream locations, with a progress bar and a
SHA-256 check. Nothing here runs on import; ``python -m simmtm download NAME`` calls it."""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm


@dataclass(frozen=True)
class RemoteFile:
    url: str | None  # None: no direct public URL, the user places the file by hand
    path: str  # relative to the data root
    sha256: str
    note: str = ""


_ETT = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/"

SOURCES: dict[str, list[RemoteFile]] = {
    "ETTh1": [RemoteFile(_ETT + "ETTh1.csv", "ETT-small/ETTh1.csv",
                         "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066")],
    "ETTh2": [RemoteFile(_ETT + "ETTh2.csv", "ETT-small/ETTh2.csv",
                         "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b")],
    "ETTm1": [RemoteFile(_ETT + "ETTm1.csv", "ETT-small/ETTm1.csv",
                         "6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e")],
    "Weather": [RemoteFile(None, "weather/weather.csv",
                           "34ee981d07313e51da2a50bb600072c8ae4a69cb4b0651f4cb93a069d7a2ba63",
                           "weather.csv ships only inside the Autoformer / Time-Series-Library dataset bundle "
                           "(a cloud-drive archive with no stable direct link): download the bundle, copy "
                           "weather/weather.csv into the data folder, then run this command again to verify it")],
}


def sha256sum(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, dest: str | Path, sha256: str | None = None, *, progress: bool = True, timeout: float = 60) -> Path:
    """Download ``url`` to ``dest`` (via a temp file, so a failed download leaves nothing
    half-written), then check its SHA-256. Raises ConnectionError offline, ValueError on a
    checksum mismatch."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise ConnectionError(f"could not download {url}: {exc}. Are you offline? Place the file at {dest} by hand.") from exc
    if sha256 is not None:
        got = sha256sum(tmp)
        if got != sha256:
            tmp.unlink(missing_ok=True)
            raise ValueError(f"checksum mismatch for {url}: expected sha256 {sha256}, got {got}")
    os.replace(tmp, dest)
    return dest


def download(name: str, root: str | Path = "data", *, progress: bool = True, force: bool = False) -> list[Path]:
    """Fetch (or verify, if already there) every file of dataset ``name`` into ``root``."""
    if name not in SOURCES:
        raise ValueError(f"no download source for {name!r}; available: {', '.join(SOURCES)}")
    paths = []
    for remote in SOURCES[name]:
        dest = Path(root) / remote.path
        if dest.is_file() and not force:
            got = sha256sum(dest)
            if got != remote.sha256:
                raise ValueError(f"{dest} exists but its sha256 is {got}, expected {remote.sha256}; "
                                 "delete it or pass force=True to download again")
        elif remote.url is None:
            raise FileNotFoundError(f"{dest} is missing. {remote.note}")
        else:
            fetch(remote.url, dest, remote.sha256, progress=progress)
        paths.append(dest)
    return paths
