"""Downloads against a real HTTP server on 127.0.0.1 (never the network).

One server answers under several mirror prefixes, each misbehaving in its own
way (``/m404/``, ``/trunc/``, ``/short/``, ``/wrong/``, ``/slow/``, ...), so a
test builds its mirror list from those prefixes and checks what
``download_file`` and ``load_mnist(download=True)`` make of it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist.datasets import MNISTError, download_file, load_mnist, write_idx
from tinygrad_mnist.datasets import mnist as mnist_module

TIMEOUT = 0.3  # the client's time-out in seconds
SLOW = 1.0  # how long the slow handlers hold back, at most (the fixture releases them at teardown)
NAME = "tiny-images-idx3-ubyte.gz"
# Random pixels compress badly, so the file spans several of the downloader's 64 KiB chunks.
GOOD_FILE = write_idx(np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8), compress=True)
GOOD_DIGEST = hashlib.sha256(gzip.decompress(GOOD_FILE)).hexdigest()
MNIST_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def with_other_payload(data: bytes) -> bytes:
    """A gzip file whose payload differs from that of ``data`` in its last byte (still valid IDX)."""
    payload = bytearray(gzip.decompress(data))
    payload[-1] ^= 0xFF
    return gzip.compress(bytes(payload))


class MirrorServer(ThreadingHTTPServer):
    """Serves ``files`` under every mirror prefix; handler threads are joined on close."""

    daemon_threads = False
    block_on_close = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), MirrorHandler)
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # split -> the arrays behind the files
        self.release = threading.Event()  # wakes the slow handlers

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{prefix}/"


class MirrorHandler(BaseHTTPRequestHandler):
    """``GET /<prefix>/<name>``: the file ``name``, delivered as ``<prefix>`` says."""

    server: MirrorServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        _, prefix, name = self.path.split("/", 2)
        behaviour = getattr(self, f"serve_{prefix}", None)
        try:
            if behaviour is None or name not in self.server.files:
                self.send_error(404)
            else:
                behaviour(self.server.files[name])
        except OSError:
            pass  # the client gave up first (time-out cases)

    def send_body(self, body: bytes, length: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def serve_good(self, data: bytes) -> None:
        self.send_body(data)

    def serve_m404(self, data: bytes) -> None:
        self.send_error(404)

    def serve_trunc(self, data: bytes) -> None:
        """A complete HTTP response carrying a gzip file cut in half."""
        self.send_body(data[: len(data) // 2])

    def serve_short(self, data: bytes) -> None:
        """Promises the whole file, sends half, closes."""
        self.send_body(data[: len(data) // 2], length=len(data))

    def serve_wrong(self, data: bytes) -> None:
        self.send_body(with_other_payload(data))

    def serve_slow(self, data: bytes) -> None:
        """Says nothing for longer than the client waits."""
        self.server.release.wait(SLOW)
        self.send_body(data)

    def serve_stall(self, data: bytes) -> None:
        """Sends the headers and half the body, then stalls."""
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.server.release.wait(SLOW)
        self.wfile.write(data[len(data) // 2:])

    def serve_garbage(self, data: bytes) -> None:
        """Not HTTP at all (some other service listening on the mirror's port)."""
        self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")

    def serve_chunked(self, data: bytes) -> None:
        """A chunked response whose connection closes after the first chunk."""
        self.protocol_version = "HTTP/1.1"
        self.close_connection = True
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = data[:100]
        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


@pytest.fixture
def server():
    srv = MirrorServer()
    srv.files[NAME] = GOOD_FILE
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()  # joins the handler threads
        thread.join()


@pytest.fixture
def refused_url() -> str:
    """A mirror on a port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/refused/"


def mirror_url(server: MirrorServer, refused_url: str, prefix: str) -> str:
    return refused_url if prefix == "refused" else server.url(prefix)


def fetch(directory: Path, mirrors: list[str]) -> Path:
    return download_file(NAME, directory, sha256=GOOD_DIGEST, mirrors=mirrors, progress=False, timeout=TIMEOUT)


WRONG_DIGEST = hashlib.sha256(gzip.decompress(with_other_payload(GOOD_FILE))).hexdigest()
# prefix -> what the failure report must say about it (a regular expression)
FAILURES = {
    "m404": r"HTTP 404",
    "trunc": r"gzip stream is truncated",
    "short": rf"truncated download: expected {len(GOOD_FILE)} bytes, got {len(GOOD_FILE) // 2}\b",
    "wrong": rf"checksum mismatch: expected SHA-256 {GOOD_DIGEST}, got {WRONG_DIGEST}",
    "slow": rf"timed out after {TIMEOUT:g} s",
    "stall": rf"timed out after {TIMEOUT:g} s",
    "refused": r"(?i)refused",
}
@pytest.mark.parametrize(
    "bad",
    [*FAILURES, "garbage", "chunked"],
)
def test_a_bad_mirror_is_skipped_and_leaves_nothing_behind(server, refused_url, tmp_path, bad):
    directory = tmp_path / "new" / "dir"
    path = fetch(directory, [mirror_url(server, refused_url, bad), server.url("good")])
    assert path == directory / NAME
    assert path.read_bytes() == GOOD_FILE
    assert os.listdir(directory) == [NAME]  # no temporary or partial file


def test_mirrors_are_tried_in_order_until_one_serves_the_file(server, tmp_path):
    order = ["m404", "trunc", "short", "wrong", "good", "m404"]
    fetch(tmp_path, [server.url(prefix) for prefix in order])
    assert server.requests == [f"/{prefix}/{NAME}" for prefix in order[:5]]  # nothing after the good one
    assert sorted(os.listdir(tmp_path)) == [NAME]


@pytest.mark.parametrize("prefix", ["good", "good/"])
def test_a_mirror_prefix_may_omit_the_trailing_slash(server, tmp_path, prefix):
    base = f"http://127.0.0.1:{server.server_address[1]}/{prefix}"
    download_file(NAME, tmp_path, GOOD_DIGEST, mirrors=[base], progress=False, timeout=TIMEOUT)
    assert server.requests == [f"/good/{NAME}"]


@pytest.mark.parametrize("existing", [None, b"an older file"])
def test_when_every_mirror_fails_the_error_lists_each_and_the_directory_is_unchanged(
    server, refused_url, tmp_path, existing
):
    if existing is not None:
        (tmp_path / NAME).write_bytes(existing)
    before = sorted(os.listdir(tmp_path))
    mirrors = {prefix: mirror_url(server, refused_url, prefix) for prefix in FAILURES}
    with pytest.raises(MNISTError) as info:
        fetch(tmp_path, list(mirrors.values()))
    message = str(info.value)
    assert NAME in message.splitlines()[0]
    for prefix, pattern in FAILURES.items():
        url = mirrors[prefix] + NAME
        lines = [line for line in message.splitlines() if url in line]
        assert len(lines) == 1, f"{url} is not reported exactly once in:\n{message}"
        assert re.search(pattern, lines[0]), lines[0]
    assert sorted(os.listdir(tmp_path)) == before
    if existing is not None:
        assert (tmp_path / NAME).read_bytes() == existing


def test_no_mirrors_is_an_error(tmp_path):
    with pytest.raises(MNISTError, match="no mirrors"):
        fetch(tmp_path, [])
    assert os.listdir(tmp_path) == []


# --- load_mnist(download=True) -------------------------------------------------------------------


@pytest.fixture
def mnist_server(server, monkeypatch):
    """The server holding synthetic MNIST files (train: 7 samples, test: 3) with their digests registered."""
    rng = np.random.default_rng(1)
    for split, n in (("train", 7), ("test", 3)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        for name, array in zip(MNIST_NAMES[split], (images, labels)):
            data = write_idx(array, compress=True)
            server.files[f"{name}.gz"] = data
            monkeypatch.setitem(mnist_module.DIGESTS, name, hashlib.sha256(gzip.decompress(data)).hexdigest())
        server.arrays[split] = images, labels
    monkeypatch.setenv("TINYGRAD_MNIST_MIRRORS", f" {server.url('m404')} ,, {server.url('good')}")
    return server


@pytest.mark.parametrize("split", ["train", "test"])
def test_load_mnist_downloads_missing_files_into_root(mnist_server, tmp_path, split):
    root = tmp_path / "data"
    images, labels = load_mnist(split, root=root, download=True)
    expected_images, expected_labels = mnist_server.arrays[split]
    assert images.dtype == labels.dtype == np.uint8
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    assert sorted(os.listdir(root)) == sorted(f"{name}.gz" for name in MNIST_NAMES[split])
    assert [path for path in mnist_server.requests if path.startswith("/good/")] == [
        f"/good/{name}.gz" for name in MNIST_NAMES[split]
    ]
    requests = len(mnist_server.requests)
    load_mnist(split, root=root, download=True)
    assert len(mnist_server.requests) == requests  # present files are not fetched again


def test_load_mnist_downloads_only_the_missing_file(mnist_server, tmp_path):
    images_name, labels_name = MNIST_NAMES["test"]
    (tmp_path / f"{images_name}.gz").write_bytes(mnist_server.files[f"{images_name}.gz"])
    images, labels = load_mnist("test", root=tmp_path, download=True)
    assert images.shape == (3, 28, 28) and labels.shape == (3,)
    assert mnist_server.requests == [f"/m404/{labels_name}.gz", f"/good/{labels_name}.gz"]


def test_without_a_bundled_copy_load_mnist_downloads_into_the_data_directory(mnist_server, tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "BUNDLED_DIR", tmp_path / "not-bundled")
    monkeypatch.setenv("TINYGRAD_MNIST_DATA", str(tmp_path / "cache"))
    images, labels = load_mnist("test", download=True)
    assert images.shape == (3, 28, 28) and labels.shape == (3,)
    assert sorted(os.listdir(tmp_path / "cache")) == sorted(f"{name}.gz" for name in MNIST_NAMES["test"])


def test_without_download_a_missing_file_is_not_fetched(mnist_server, tmp_path):
    with pytest.raises(MNISTError, match="download=True"):
        load_mnist("test", root=tmp_path)
    assert mnist_server.requests == []
