import hashlib
import http.server
import threading
from functools import partial

import pytest

from simmtm.data import download as dl


@pytest.fixture
def server(tmp_path):
    (tmp_path / "www").mkdir()
    payload = b"date,OT\n2020-01-01,1.0\n" * 1000
    (tmp_path / "www" / "f.csv").write_bytes(payload)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/f.csv", hashlib.sha256(payload).hexdigest()
    httpd.shutdown()


def test_fetch_verifies_checksum(tmp_path, server):
    url, digest = server
    path = dl.fetch(url, tmp_path / "out" / "f.csv", digest, progress=False)
    assert dl.sha256sum(path) == digest
    with pytest.raises(ValueError, match="checksum mismatch"):
        dl.fetch(url, tmp_path / "bad.csv", "0" * 64, progress=False)
    assert not list(tmp_path.glob("bad.csv*"))  # neither the file nor its temp file


def test_a_full_disk_is_named_as_such_and_leaves_no_temp_file(tmp_path, server, monkeypatch):
    import errno

    class FullDisk:
        def __init__(self, path, mode):
            self.file = open(path, mode)

        def write(self, block):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    url, digest = server
    monkeypatch.setattr(dl, "open", FullDisk, raising=False)  # the module's open, not the test's
    with pytest.raises(OSError, match="no space left on device") as info:
        dl.fetch(url, tmp_path / "out" / "f.csv", digest, progress=False)
    assert not isinstance(info.value, ConnectionError) and "f.csv" in str(info.value)
    assert not list((tmp_path / "out").iterdir())


def test_offline_error_is_clear(tmp_path):
    with pytest.raises(ConnectionError, match="offline"):
        dl.fetch("http://127.0.0.1:9/none.csv", tmp_path / "x.csv", progress=False, timeout=5)


def test_download_registry(tmp_path, monkeypatch, server):
    url, digest = server
    monkeypatch.setitem(dl.SOURCES, "Toy", [dl.RemoteFile(url, "toy/f.csv", digest)])
    [path] = dl.download("Toy", tmp_path, progress=False)
    assert path == tmp_path / "toy" / "f.csv"
    path.write_text("tampered")
    with pytest.raises(ValueError, match="sha256"):
        dl.download("Toy", tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="Autoformer"):
        dl.download("Weather", tmp_path, progress=False)
    with pytest.raises(ValueError, match="no download source"):
        dl.download("Traffic9", tmp_path)


def test_archive_extraction_and_verification(tmp_path, monkeypatch):
    import zipfile

    www = tmp_path / "www"
    www.mkdir()
    with zipfile.ZipFile(www / "set.zip", "w") as zf:
        zf.writestr("train.pt", b"train-bytes")
        zf.writestr("test.pt", b"test-bytes")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/set.zip"
    good = dl.RemoteArchive(url, "Toy", {"train.pt": hashlib.sha256(b"train-bytes").hexdigest(), "test.pt": None})
    monkeypatch.setitem(dl.TFC_SOURCES, "Toy", good)
    with pytest.warns(UserWarning, match="no published checksum"):
        paths = dl.download("Toy", tmp_path / "data", progress=False)
    assert [p.read_bytes() for p in paths] == [b"train-bytes", b"test-bytes"]
    bad = dl.RemoteArchive(url, "Bad", {"train.pt": "0" * 64})
    with pytest.raises(ValueError, match="checksum mismatch for train.pt"):
        dl.download_archive(bad, tmp_path / "data", progress=False)
    assert not list((tmp_path / "data" / "Bad").iterdir())  # nor a temp file
    with pytest.raises(ValueError, match="lacks"):
        dl.download_archive(dl.RemoteArchive(url, "X", {"val.pt": None}), tmp_path / "data", progress=False)
    httpd.shutdown()
