"""Reading IDX files, the format MNIST is published in, raw or gzip-compressed.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the values in C order.

Examples:
    >>> import numpy as np
    >>> header = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big")
    >>> parse_idx(header + bytes([7, 8, 9]))
    array([7, 8, 9], dtype=uint8)
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MNISTError

# type code -> big-endian numpy dtype
IDX_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
LABELS_MAGIC = 0x00000801
IMAGES_MAGIC = 0x00000803
_GZIP_SIGNATURE = b"\x1f\x8b"


def decompress(data: bytes, source: str = "<bytes>") -> bytes:
    """The payload of gzip ``data``, or ``data`` itself when it is not gzip."""
    if not data.startswith(_GZIP_SIGNATURE):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise MNISTError(f"{source}: the gzip stream is truncated or corrupt ({exc})") from None


def read_payload(path: str | Path) -> bytes:
    """The decompressed bytes of the file at ``path``."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise MNISTError(
            f"{path}: file not found; pass download=True to fetch MNIST, or root= a directory holding it"
        ) from None
    return decompress(data, str(path))


def parse_idx(payload: bytes, source: str = "<bytes>", magic: int | None = None) -> np.ndarray:
    """The array stored in an uncompressed IDX ``payload`` (a read-only view, no copy).

    Args:
        payload: the file's bytes after decompression.
        source: a name for error messages (usually the path).
        magic: the magic number required (``LABELS_MAGIC``, ``IMAGES_MAGIC``), or None for any.

    Raises:
        MNISTError: bad magic, unknown type code, short header, or a payload
            whose size is not exactly what the header promises.
    """
    if len(payload) < 4:
        raise MNISTError(f"{source}: {len(payload)} bytes is too short for an IDX header (need at least 4)")
    seen = int.from_bytes(payload[:4], "big")
    type_code, ndim = payload[2], payload[3]
    if payload[:2] != b"\x00\x00" or type_code not in IDX_TYPES or (magic is not None and seen != magic):
        wanted = f"0x{magic:08x}" if magic is not None else "0x0000TTNN with a known type code TT"
        raise MNISTError(f"{source}: bad magic number 0x{seen:08x}, expected {wanted}")
    header_size = 4 + 4 * ndim
    if len(payload) < header_size:
        raise MNISTError(
            f"{source}: truncated header: {ndim} dimensions need {header_size} bytes, got {len(payload)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(payload, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[type_code]
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow for absurd headers
    actual = len(payload) - header_size
    if actual != expected:
        what = "truncated" if actual < expected else "too long"
        raise MNISTError(
            f"{source}: payload {what}: dimensions {dims} need {expected} bytes of data, got {actual}"
        )
    return np.frombuffer(payload, dtype=dtype, offset=header_size).reshape(dims)


def write_idx(array: np.ndarray, compress: bool = False) -> bytes:
    """The IDX bytes of ``array`` (uint8 or another IDX type): the inverse of
    [`parse_idx`][tinygrad_mnist.datasets.parse_idx].

    Examples:
        >>> a = np.arange(6, dtype=np.uint8).reshape(2, 3)
        >>> bool((parse_idx(write_idx(a)) == a).all())
        True
    """
    codes = {dtype.newbyteorder(">") if dtype.itemsize > 1 else dtype: code for code, dtype in IDX_TYPES.items()}
    big_endian = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if big_endian not in codes:
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX type code")
    header = bytes([0, 0, codes[big_endian], array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    data = header + np.ascontiguousarray(array, dtype=big_endian).tobytes()
    return gzip.compress(data, mtime=0) if compress else data
