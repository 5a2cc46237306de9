"""``validate_data_dir``: every file of an MNIST-layout directory read and checked before any work.

A directory given for training (the command line's ``--data``) is checked in
full up front, so that a bad file is reported at start-up, not after an epoch
or after training: all four files present and parsable, images ``(N, 28, 28)``
uint8, labels ``(N,)`` uint8 with values 0-9 and as many as the images, and,
unless turned off, the canonical MNIST SHA-256 digests. A file holding the bytes
of another canonical file (train and test swapped, images and labels swapped) is
named as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .download import sha256_of
from .errors import MNISTError
from .idx import IMAGES_MAGIC, LABELS_MAGIC, parse_idx, read_payload
from .mnist import DIGESTS, FILES, locate

NONCANONICAL_FLAG = "--allow-noncanonical-data"
"""The command-line flag that accepts IDX data other than the canonical MNIST files."""
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)
_CANONICAL_NAME = {digest: name for name, digest in DIGESTS.items()}  # digest -> canonical file name


def _read(path: Path, digest: bool) -> tuple[np.ndarray, str | None]:
    """The array in the IDX file at ``path`` (any type) and, if asked, the SHA-256 of its decompressed bytes."""
    try:
        payload = read_payload(path)
    except OSError as exc:  # unreadable: permissions, a device error
        raise MNISTError(f"{path}: cannot be read ({exc.strerror or exc}); expected a readable IDX file") from None
    return parse_idx(payload, str(path)), sha256_of(payload) if digest else None


def _swap_hint(name: str, other: str) -> str:
    """What probably happened when the file for ``name`` holds the canonical ``other``."""
    split, other_split = name.split("-")[0], other.split("-")[0]
    kind, other_kind = name.split("-")[1], other.split("-")[1]
    if split != other_split and kind == other_kind:
        return " (train and test swapped?)"
    if kind != other_kind and split == other_split:
        return " (images and labels swapped?)"
    return ""


def _check_images(path: Path, images: np.ndarray) -> None:
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise MNISTError(
            f"{path}: holds {images.dtype} values of shape {images.shape}; expected uint8 images of shape "
            f"(N, 28, 28) (IDX magic 0x{IMAGES_MAGIC:08x})"
        )
    if len(images) == 0:
        raise MNISTError(f"{path}: holds 0 images; expected at least 1")


def _check_labels(path: Path, labels: np.ndarray, images_path: Path, n_images: int) -> None:
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise MNISTError(
            f"{path}: holds {labels.dtype} values of shape {labels.shape}; expected uint8 labels of shape "
            f"(N,) (IDX magic 0x{LABELS_MAGIC:08x})"
        )
    if len(labels) != n_images:
        raise MNISTError(
            f"{path}: holds {len(labels)} labels; expected {n_images}, one per image of {images_path.name}"
        )
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        first = int(bad[0])
        raise MNISTError(
            f"{path}: {bad.size} labels outside 0-{NUM_CLASSES - 1} (the first, at index {first}, is "
            f"{int(labels[first])}); expected digit classes 0-{NUM_CLASSES - 1}"
        )


def _noncanonical(path: Path, name: str, digest: str) -> str:
    return (
        f"{path}: not the canonical MNIST {name} (SHA-256 {digest}, expected {DIGESTS[name]}); "
        f"pass {NONCANONICAL_FLAG} to use deliberately different IDX data"
    )


def validate_data_dir(
    directory: str | Path, *, canonical: bool = True, splits: Sequence[str] = ("train", "test")
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read and check the MNIST-layout files of ``directory``; the images and labels of each split.

    The files are named as MNIST's (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``), each gzip-compressed with a ``.gz``
    suffix or raw, as [`load_mnist`][tinygrad_mnist.datasets.load_mnist] reads them. Every file
    of every split in ``splits`` is read and checked before anything is returned, so that the
    arrays can be used without reading the files again.

    Args:
        directory: the directory holding the files.
        canonical: also require the canonical MNIST SHA-256 digests. With False only the
            structure is checked: other data in MNIST's layout (for example Fashion-MNIST).
        splits: the splits to read: ``"train"``, ``"test"`` or both (a single name is one split).

    Returns:
        ``{split: (images, labels)}``: images uint8 ``(N, 28, 28)``, labels uint8 ``(N,)`` in 0-9.

    Raises:
        ValueError: an unknown split.
        MNISTError: ``directory`` is not a directory, or a file is missing, not IDX (or a
            corrupt gzip stream), of the wrong type or shape, holds labels outside 0-9 or a
            number of labels other than its images', or (with ``canonical``) is not the
            canonical file: the message names the file, says what is wrong, what was expected
            and, for a file holding another canonical file's bytes, which one.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from tinygrad_mnist.datasets import validate_data_dir, write_idx
        >>> folder = Path(tempfile.mkdtemp())
        >>> images, labels = np.zeros((4, 28, 28), np.uint8), np.array([0, 1, 2, 3], np.uint8)
        >>> for prefix in ("train", "t10k"):
        ...     _ = (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(write_idx(images, compress=True))
        ...     _ = (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(write_idx(labels, compress=True))
        >>> data = validate_data_dir(folder, canonical=False)
        >>> data["train"][0].shape, data["test"][1].tolist()
        ((4, 28, 28), [0, 1, 2, 3])
        >>> validate_data_dir(folder)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        tinygrad_mnist.datasets.errors.MNISTError: ...train-images-idx3-ubyte.gz: not the canonical MNIST ...
        >>> import shutil; shutil.rmtree(folder)
    """
    wanted = list(dict.fromkeys([splits] if isinstance(splits, str) else splits))
    if not wanted or any(s not in FILES for s in wanted):
        raise ValueError(f"validate_data_dir: splits must be one or both of 'train', 'test', got {splits!r}")
    root = Path(directory)
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a directory"
        raise MNISTError(f"{root}: {what}; expected a directory holding the MNIST-layout IDX files")
    names = [name for split in wanted for name in FILES[split]]
    paths = {name: locate(name, root) for name in names}
    missing = [name for name in names if not paths[name].is_file()]
    if missing:
        raise MNISTError(
            f"{paths[missing[0]]}: file not found; {root} lacks {', '.join(missing)} (each expected as "
            "NAME.gz, gzip-compressed, or raw as NAME)"
        )
    arrays: dict[str, np.ndarray] = {}
    digests: dict[str, str | None] = {}
    for name in names:
        arrays[name], digests[name] = _read(paths[name], canonical)
        other = _CANONICAL_NAME.get(digests[name] or "")
        if other is not None and other != name:
            raise MNISTError(
                f"{paths[name]}: holds the canonical {other}, expected the canonical {name}"
                f"{_swap_hint(name, other)}; pass {NONCANONICAL_FLAG} to use deliberately different IDX data"
            )
    result = {}
    for split in wanted:
        images_name, labels_name = FILES[split]
        images, labels = arrays[images_name], arrays[labels_name]
        _check_images(paths[images_name], images)
        _check_labels(paths[labels_name], labels, paths[images_name], len(images))
        result[split] = (images, labels)
    if canonical:
        for name in names:
            if digests[name] != DIGESTS[name]:
                raise MNISTError(_noncanonical(paths[name], name, str(digests[name])))
    return result
