"""Download benchmark files from their public upstream locations, with a progress bar and a
SHA-256 check. Nothing here runs on import; ``python -m simmtm download NAME`` calls it."""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from simmtm.utils.atomic import temp_path, write_failed

LOCAL_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES)


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

_TSLIB = ("ships only inside the Autoformer / Time-Series-Library dataset bundle (a cloud-drive archive with no "
          "stable direct link): download the bundle, copy {} into the data folder as {}, then run this command "
          "again to verify it")
# The general forecaster's corpus (simmtm.data.corpus): ETTh1, ETTm1, Weather and three more domains.
SOURCES["corpus"] = [
    *SOURCES["ETTh1"], *SOURCES["ETTm1"], *SOURCES["Weather"],
    RemoteFile(None, "forecasting_corpus/exchange_rate.csv",
               "48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc89842",
               "exchange_rate.csv " + _TSLIB.format("exchange_rate/exchange_rate.csv", "forecasting_corpus/exchange_rate.csv")),
    RemoteFile(None, "forecasting_corpus/national_illness.csv",
               "93601f64d2566dc796ca4305adad8b8560c2db1a1ff04543c3bd813a7263570a",
               "national_illness.csv " + _TSLIB.format("illness/national_illness.csv",
                                                       "forecasting_corpus/national_illness.csv")),
    RemoteFile("https://archive.ics.uci.edu/ml/machine-learning-databases/00381/PRSA_data_2010.1.1-2014.12.31.csv",
               "forecasting_corpus/beijing_pm2.5.csv",
               "4127f868775e31b3956522adc0ec75af8937dde6a3896e8beed3a376c6d27f1c",
               "UCI 'Beijing PM2.5' (CC BY 4.0), unmodified"),
]


@dataclass(frozen=True)
class RemoteArchive:
    """A zip whose members are extracted into ``folder``; members with a known sha256 are
    verified, the others are reported as unverified (their upstream publishes no checksum)."""

    url: str
    folder: str
    members: dict[str, str | None]


_FIGSHARE = "https://figshare.com/ndownloader/articles/"

# The TF-C datasets (mims-harvard/TFC-pretraining), as listed in its download script.
TFC_SOURCES: dict[str, RemoteArchive] = {
    "SleepEEG": RemoteArchive(_FIGSHARE + "19930178/versions/1", "SleepEEG", {"train.pt": None, "val.pt": None, "test.pt": None}),
    "Epilepsy": RemoteArchive(_FIGSHARE + "19930199/versions/2", "Epilepsy", {
        "train.pt": "8fa3a8838148a0c4bcd068a08347e8b21dda076b9d0d73b107ffb0e237c89a13",
        "val.pt": "8074a0b89f798e6bae07306ea0cf6d5b1b2387f5f0c62d28f861c99c2bea9845", "test.pt": None}),
    "FD-B": RemoteArchive(_FIGSHARE + "19930226/versions/1", "FD-B", {"train.pt": None, "val.pt": None, "test.pt": None}),
    "Gesture": RemoteArchive(_FIGSHARE + "19930247/versions/1", "Gesture", {"train.pt": None, "val.pt": None, "test.pt": None}),
    "EMG": RemoteArchive(_FIGSHARE + "19930250/versions/1", "EMG", {"train.pt": None, "val.pt": None, "test.pt": None}),
}


def download_archive(archive: RemoteArchive, root: str | Path = "data", *, progress: bool = True) -> list[Path]:
    """Fetch a zip, extract the listed members into ``root/folder`` and verify them."""
    import tempfile
    import warnings
    import zipfile

    folder = Path(root) / archive.folder
    with tempfile.TemporaryDirectory() as tmp:
        zpath = fetch(archive.url, Path(tmp) / "archive.zip", None, progress=progress)
        with zipfile.ZipFile(zpath) as zf:
            names = {Path(n).name: n for n in zf.namelist() if not n.endswith("/")}
            missing = [m for m in archive.members if m not in names]
            if missing:
                raise ValueError(f"{archive.url} lacks {missing}; it holds {sorted(names)}")
            folder.mkdir(parents=True, exist_ok=True)
            paths = []
            for member, digest in archive.members.items():
                dest = folder / member
                tmp = temp_path(dest)  # unique: two downloads into one folder never share a temp file
                try:
                    with zf.open(names[member]) as src, open(tmp, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                    got = sha256sum(tmp)
                    if digest is not None and got != digest:
                        raise ValueError(f"checksum mismatch for {member} of {archive.url}: expected {digest}, "
                                         f"got {got}")
                    os.replace(tmp, dest)
                finally:
                    tmp.unlink(missing_ok=True)
                if digest is None:
                    warnings.warn(f"{dest}: no published checksum to verify against (sha256 {got})")
                paths.append(dest)
    return paths


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
    tmp = temp_path(dest)  # unique: two downloads of one file never write the same temp file
    try:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                    for block in iter(lambda: response.read(1 << 16), b""):
                        out.write(block)
                        bar.update(len(block))
        except OSError as exc:  # URLError, timeouts and resets are OSErrors too
            if not isinstance(exc, urllib.error.URLError) and exc.errno in LOCAL_WRITE_ERRORS:
                raise write_failed(dest, exc) from exc  # our disk, not the network
            raise ConnectionError(f"could not download {url}: {exc}. Are you offline? "
                                  f"Place the file at {dest} by hand.") from exc
        if sha256 is not None:
            got = sha256sum(tmp)
            if got != sha256:
                raise ValueError(f"checksum mismatch for {url}: expected sha256 {sha256}, got {got}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # a failed or interrupted download leaves nothing behind
    return dest


def download(name: str, root: str | Path = "data", *, progress: bool = True, force: bool = False) -> list[Path]:
    """Fetch (or verify, if already there) every file of dataset ``name`` into ``root``."""
    if name in TFC_SOURCES:
        folder = Path(root) / TFC_SOURCES[name].folder
        if not force and all((folder / m).is_file() for m in TFC_SOURCES[name].members):
            return [folder / m for m in TFC_SOURCES[name].members]
        return download_archive(TFC_SOURCES[name], root, progress=progress)
    if name not in SOURCES:
        raise ValueError(f"no download source for {name!r}; available: {', '.join([*SOURCES, *TFC_SOURCES])}")
    paths, missing = [], []
    for remote in SOURCES[name]:
        dest = Path(root) / remote.path
        if dest.is_file() and not force:
            got = sha256sum(dest)
            if got != remote.sha256:
                raise ValueError(f"{dest} exists but its sha256 is {got}, expected {remote.sha256}; "
                                 "delete it or pass force=True to download again")
        elif remote.url is None:
            missing.append(f"{dest} is missing. {remote.note}")
            continue
        else:
            fetch(remote.url, dest, remote.sha256, progress=progress)
        paths.append(dest)
    if missing:  # every file that can be fetched was; the ones a user must place by hand are listed together
        raise FileNotFoundError(" / ".join(missing))
    return paths
