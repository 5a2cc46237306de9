"""``load_mnist``: the MNIST images and labels, verified, from the bundled copy or a directory.

The package ships the four canonical files (gzip) in ``datasets/mnist/``, so
nothing needs the network. Every load checks the SHA-256 of each decompressed
file against the canonical digest (once per file per process) and the IDX
structure, and that images and labels agree in number.

The MNIST database is by Yann LeCun, Corinna Cortes and Christopher J.C.
Burges, distributed under the Creative Commons Attribution-Share Alike 3.0
licence.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from .download import check_digest, download_file, sha256_of
from .errors import MNISTError
from .idx import IMAGES_MAGIC, LABELS_MAGIC, parse_idx, read_payload

BUNDLED_DIR = Path(__file__).resolve().parent / "mnist"
ROOT_ENV = "TINYGRAD_MNIST_DATA"  # overrides the download cache directory

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""The canonical IDX file names (without ``.gz``) of each split: ``(images, labels)``."""
DIGESTS = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
"""The SHA-256 digest of each canonical MNIST file (decompressed), against which the files are verified."""
_verified: set[tuple[str, int, int, str]] = set()  # (path, size, mtime_ns, digest) already checked


def cache_dir() -> Path:
    """Where downloads go: ``$TINYGRAD_MNIST_DATA``, else ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinygrad_mnist" / "mnist"


def locate(name: str, directory: Path) -> Path:
    """The file for ``name`` in ``directory``: ``name.gz`` or the uncompressed ``name``."""
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return directory / f"{name}.gz"


def _copy_bundled(name: str, directory: Path) -> Path | None:
    """Put the bundled copy of ``name`` into ``directory`` when it is the canonical file: the same bytes
    a download would bring, without the network. None when there is no such copy."""
    source = locate(name, BUNDLED_DIR)
    if not source.is_file() or directory.resolve() == BUNDLED_DIR:
        return None
    packed = source.read_bytes()
    if sha256_of(read_payload(source)) != DIGESTS[name]:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_write(directory / source.name) as out:
        out.write(packed)
    return directory / source.name


def fetch_missing(split: str, directory: Path) -> list[Path]:
    """The image and label files of ``split`` in ``directory``, each one that is missing copied from the
    bundled copy or, failing that, downloaded (digests checked either way)."""
    paths = []
    for name in FILES[split]:
        path = locate(name, directory)
        if not path.is_file():
            path = _copy_bundled(name, directory) or download_file(f"{name}.gz", directory, DIGESTS[name])
        paths.append(path)
    return paths


def load_verified(path: Path, name: str, magic: int, verify_digest: bool = True) -> np.ndarray:
    """Read, parse and checksum (once per process per unchanged file) one MNIST file."""
    stat = path.stat() if path.is_file() else None  # before reading: a file replaced meanwhile is re-checked
    payload = read_payload(path)  # raises the missing-file error
    array = parse_idx(payload, str(path), magic)  # structure first: its errors say more
    if not verify_digest:
        return array
    if stat is None:  # appeared after the stat: check it, but cache nothing
        check_digest(payload, DIGESTS[name], str(path))
        return array
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, DIGESTS[name])
    if key not in _verified:
        check_digest(payload, DIGESTS[name], str(path))
        _verified.add(key)
    return array


def load_mnist(
    split: str = "train", root: str | Path | None = None, download: bool = False, verify_digests: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The images (uint8, N x 28 x 28) and labels (uint8, N) of one split.

    Args:
        split: ``"train"`` (60,000 samples) or ``"test"`` (10,000).
        root: a directory with the four files (gzip or raw); None uses the
            bundled copy (or, if it is missing, the download cache).
        download: put missing files into ``root`` (or the cache directory): copied
            from the bundled copy (the same canonical bytes) or else downloaded.
        verify_digests: check the canonical MNIST SHA-256 digests; turn off only
            for other data in MNIST's layout (e.g. Fashion-MNIST), whose
            structure is still checked.

    Raises:
        ValueError: an unknown split.
        MNISTError: a file is missing, malformed or fails its checksum.

    Examples:
        >>> images, labels = load_mnist("test")
        >>> images.shape, images.dtype, labels.shape, int(labels.max())
        ((10000, 28, 28), dtype('uint8'), (10000,), 9)
    """
    if split not in FILES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    if root is not None:
        directory = Path(root)
    elif all(locate(n, BUNDLED_DIR).is_file() for n in FILES[split]):
        directory = BUNDLED_DIR
    else:
        directory = cache_dir()
    images_name, labels_name = FILES[split]
    paths = fetch_missing(split, directory) if download else [locate(n, directory) for n in FILES[split]]
    images = load_verified(paths[0], images_name, IMAGES_MAGIC, verify_digests)
    labels = load_verified(paths[1], labels_name, LABELS_MAGIC, verify_digests)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise MNISTError(f"{paths[0]}: images have dimensions {images.shape}, expected (N, 28, 28)")
    if labels.ndim != 1 or len(labels) != len(images):
        raise MNISTError(
            f"{paths[1]}: labels have dimensions {labels.shape}, expected ({len(images)},) to match the images"
        )
    return images, labels
