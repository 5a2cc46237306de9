"""Fetching files over HTTP safely: mirrors in order, temporary file, verify, then rename.

A file is streamed into a temporary file beside its destination, checked
(decompressed and hashed), and only then moved to its final name
(``tinygrad_mnist.atomic.atomic_write``), so an interrupted or corrupt download never sits under the
final name. When a mirror fails (HTTP error, time-out, bad data) the next one
is tried; when all fail, one [`MNISTError`][tinygrad_mnist.datasets.MNISTError] lists what each did.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from ..atomic import atomic_write
from .errors import MNISTError
from .idx import decompress

DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
"""The base addresses tried in turn by a download of the MNIST files (the library itself never downloads
unless asked: the package ships its own copy)."""
MIRRORS_ENV = "TINYGRAD_MNIST_MIRRORS"  # comma-separated URL prefixes, tried in order
_CHUNK = 1 << 16


def mirrors_from_env() -> tuple[str, ...]:
    """The mirror list: ``$TINYGRAD_MNIST_MIRRORS`` (comma-separated) or the defaults."""
    value = os.environ.get(MIRRORS_ENV, "").strip()
    return tuple(m.strip() for m in value.split(",") if m.strip()) or DEFAULT_MIRRORS


def sha256_of(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def check_digest(payload: bytes, expected: str, source: str) -> None:
    actual = sha256_of(payload)
    if actual != expected:
        raise MNISTError(f"{source}: checksum mismatch: expected SHA-256 {expected}, got {actual}")


def _fetch_once(url: str, destination: Path, sha256: str, timeout: float, progress: bool) -> None:
    with atomic_write(destination) as out, urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=destination.name,
                  disable=not progress, leave=False) as bar:
            received = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if total is not None and received != total:
            raise MNISTError(f"{url}: truncated download: expected {total} bytes, got {received}")
        out.flush()
        check_digest(decompress(Path(out.name).read_bytes(), url), sha256, url)


def download_file(
    filename: str,
    directory: str | Path,
    sha256: str,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Download ``filename`` into ``directory`` from the first mirror that serves it intact.

    Args:
        filename: the name to append to each mirror prefix (also the local name).
        directory: where the file goes; created if missing.
        sha256: the expected digest of the decompressed payload.
        mirrors: URL prefixes tried in order (default: ``mirrors_from_env``).
        timeout: seconds to wait for each connection and read.
        progress: show a progress bar.

    Raises:
        MNISTError: every mirror failed; the message has one line per mirror.
    """
    target_dir = Path(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    destination = target_dir / filename
    failures = []
    for prefix in mirrors if mirrors is not None else mirrors_from_env():
        url = prefix.rstrip("/") + "/" + filename
        try:
            _fetch_once(url, destination, sha256, timeout, progress)
            return destination
        except urllib.error.HTTPError as exc:
            failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
        except TimeoutError:
            failures.append(f"{url}: timed out after {timeout:g} s")
        except urllib.error.URLError as exc:
            reason = exc.reason
            timed_out = isinstance(reason, (socket.timeout, TimeoutError))
            failures.append(f"{url}: {'timed out after ' + format(timeout, 'g') + ' s' if timed_out else reason}")
        except MNISTError as exc:
            failures.append(str(exc))
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, not HTTP, cut off
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
    listing = "\n  ".join(failures) or "no mirrors were given"
    raise MNISTError(f"could not download {filename} into {target_dir}; each mirror failed:\n  {listing}")
