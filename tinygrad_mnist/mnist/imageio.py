"""Reading a single digit image for ``predict``: ``.npy`` arrays and PGM (P2/P5) files.

Examples:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "digit.pgm")
    >>> _ = open(path, "wb").write(b"P5\\n# a comment\\n28 28\\n255\\n" + bytes(range(28)) * 28)
    >>> image = read_image(path)
    >>> image.shape, image.dtype, int(image[0, 27])
    ((28, 28), dtype('uint8'), 27)
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

SIZE = (28, 28)


class ImageError(ValueError):
    """An image file cannot be read or is not a 28x28 grey-level digit."""


def _read_pgm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    # header: magic, width, height, maxval, separated by whitespace and # comments
    tokens = re.finditer(rb"(?:\s|#[^\n]*\n)*([^\s#]+)", data)
    header = []
    end = 0
    for match in tokens:
        header.append(match.group(1))
        end = match.end()
        if len(header) == 4:
            break
    if len(header) < 4 or header[0] not in (b"P2", b"P5"):
        raise ImageError(f"{path}: not a PGM file (expected a P2 or P5 header)")
    try:
        width, height, maxval = (int(t) for t in header[1:])
    except ValueError:
        raise ImageError(f"{path}: malformed PGM header {header!r}") from None
    if not 0 < maxval < 65536:
        raise ImageError(f"{path}: PGM maxval must be in 1..65535, got {maxval}")
    if header[0] == b"P5":
        dtype = np.uint8 if maxval < 256 else np.dtype(">u2")
        body = data[end + 1:]
        count = width * height
        if len(body) < count * np.dtype(dtype).itemsize:
            raise ImageError(f"{path}: PGM data truncated: expected {width}x{height} pixels")
        pixels = np.frombuffer(body, dtype=dtype, count=count)
    else:
        try:
            pixels = np.array(data[end:].split(), dtype=np.int64)
        except ValueError:
            raise ImageError(f"{path}: PGM (P2) pixel values must be integers") from None
        if pixels.size != width * height:
            raise ImageError(f"{path}: PGM has {pixels.size} values, expected {width * height}")
    if pixels.size and (pixels.min() < 0 or pixels.max() > maxval):
        raise ImageError(f"{path}: PGM values must be in 0..{maxval}, got {pixels.min()}..{pixels.max()}")
    image = pixels.reshape(height, width).astype(np.float64) * (255.0 / maxval)
    return np.round(image).astype(np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """A 28x28 uint8 image from ``.npy`` (uint8 0..255 or float 0..1; (28, 28) or (784,)) or ``.pgm``."""
    source = Path(path)
    if not source.is_file():
        raise ImageError(f"{source}: file not found")
    if source.suffix.lower() == ".pgm":
        image = _read_pgm(source)
    elif source.suffix.lower() == ".npy":
        try:
            array = np.load(source, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ImageError(f"{source}: not a readable .npy array ({exc})") from None
        if array.shape == (784,):
            array = array.reshape(SIZE)
        if array.dtype.kind == "f":
            if not np.isfinite(array).all() or (array.size and (array.min() < 0 or array.max() > 1)):
                raise ImageError(f"{source}: float images must be finite and in [0, 1], "
                                 f"got values in [{np.nanmin(array)}, {np.nanmax(array)}]")
            array = np.round(array * 255)
        elif array.dtype.kind in "iu":
            if array.size and (array.min() < 0 or array.max() > 255):
                raise ImageError(f"{source}: integer images must be in 0..255, got {array.min()}..{array.max()}")
        else:
            raise ImageError(f"{source}: expected a numeric image, got dtype {array.dtype}")
        image = array
    else:
        raise ImageError(f"{source}: unsupported image type {source.suffix!r}; expected .npy or .pgm")
    if image.shape != SIZE:
        raise ImageError(f"{source}: image has shape {image.shape}, expected 28x28")
    return image.astype(np.uint8)
