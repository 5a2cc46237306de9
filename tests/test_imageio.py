"""``read_image``: one 28x28 digit from ``.npy`` (uint8 or float) or PGM (P5 binary, P2 text)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from tinygrad_mnist.mnist.imageio import ImageError, read_image


@pytest.fixture
def digit() -> np.ndarray:
    """A 28x28 uint8 image using every grey level from 0 to 255."""
    return (np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)


def pgm_p5(width: int, height: int, maxval: int, pixels: bytes, header_comment: bool = False) -> bytes:
    comment = b"# written by the tests\n" if header_comment else b""
    return b"P5\n" + comment + f"{width} {height}\n{maxval}\n".encode() + pixels


def pgm_p2(width: int, height: int, maxval: int, values: np.ndarray, per_line: int = 17) -> bytes:
    """Plain PGM text: values wrapped over lines, with a comment in the header."""
    flat = [str(int(v)) for v in np.ravel(values)]
    rows = [" ".join(flat[i:i + per_line]) for i in range(0, len(flat), per_line)]
    return (f"P2\n# plain PGM\n{width} {height}\n{maxval}\n" + "\n".join(rows) + "\n").encode()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


# ---- .npy ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(28, 28), (784,)])
def test_npy_uint8(shape: tuple[int, ...], digit: np.ndarray, tmp_path: Path) -> None:
    image = read_image(save(tmp_path / "digit.npy", digit.reshape(shape)))
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, digit)


@pytest.mark.parametrize("dtype", ["int16", "int64", "uint16"])
def test_npy_other_integer_types_in_range(dtype: str, digit: np.ndarray, tmp_path: Path) -> None:
    image = read_image(save(tmp_path / "digit.npy", digit.astype(dtype)))
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, digit)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(28, 28), (784,)])
def test_npy_float_in_unit_range_is_scaled_to_0_255(
    dtype: str, shape: tuple[int, ...], digit: np.ndarray, tmp_path: Path
) -> None:
    image = read_image(save(tmp_path / "digit.npy", (digit / 255).astype(dtype).reshape(shape)))
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, digit)


def test_npy_float_rounds_to_the_nearest_level(tmp_path: Path) -> None:
    array = np.zeros((28, 28))
    array[0, :5] = [0.4 / 255, 0.6 / 255, 1.4 / 255, 254.6 / 255, 1.0]
    image = read_image(save(tmp_path / "digit.npy", array))
    assert image[0, :5].tolist() == [0, 1, 1, 255, 255]


def test_uppercase_extension(digit: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "DIGIT.NPY"
    np.save(tmp_path / "digit.npy", digit)
    (tmp_path / "digit.npy").rename(path)
    np.testing.assert_array_equal(read_image(path), digit)


@pytest.mark.parametrize("low_high", [(-0.1, 0.5), (0.0, 1.5), (0.0, 255.0)], ids=["negative", "above-1", "0-255"])
def test_npy_float_out_of_range_is_refused(low_high: tuple[float, float], tmp_path: Path) -> None:
    array = np.full((28, 28), 0.5)
    array[0, 0], array[27, 27] = low_high
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        read_image(save(tmp_path / "digit.npy", array))


@pytest.mark.parametrize("shape", [(27, 28), (28, 27), (28, 28, 1), (1, 784), (783,), (28, 28, 3)])
def test_npy_wrong_shape_is_refused_naming_the_shape(shape: tuple[int, ...], tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="28x28") as error:
        read_image(save(tmp_path / "digit.npy", np.zeros(shape, dtype=np.uint8)))
    assert str(shape) in str(error.value)


@pytest.mark.parametrize("array", [np.zeros((28, 28), dtype=bool), np.zeros((28, 28), dtype="<U1"),
                                   np.zeros((28, 28), dtype=np.complex64)], ids=["bool", "str", "complex"])
def test_npy_non_numeric_dtype_is_refused(array: np.ndarray, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="dtype"):
        read_image(save(tmp_path / "digit.npy", array))


class MakesDirectoryWhenUnpickled:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, ...]:
        return os.mkdir, (str(self.path),)


def test_npy_object_array_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    array = np.array([MakesDirectoryWhenUnpickled(marker)], dtype=object)
    with pytest.raises(ImageError, match="not a readable"):
        read_image(save(tmp_path / "digit.npy", array))
    assert not marker.exists()


def test_npy_that_is_not_an_array_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not a readable"):
        read_image(write(tmp_path / "digit.npy", b"\x93NUMPY garbage"))


# ---- PGM -------------------------------------------------------------------------------


@pytest.mark.parametrize("comment", [False, True], ids=["plain-header", "commented-header"])
def test_pgm_p5(comment: bool, digit: np.ndarray, tmp_path: Path) -> None:
    image = read_image(write(tmp_path / "digit.pgm", pgm_p5(28, 28, 255, digit.tobytes(), comment)))
    assert image.dtype == np.uint8 and image.shape == (28, 28)
    np.testing.assert_array_equal(image, digit)


def test_pgm_p2(digit: np.ndarray, tmp_path: Path) -> None:
    image = read_image(write(tmp_path / "digit.pgm", pgm_p2(28, 28, 255, digit)))
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, digit)


def test_pgm_p5_pixel_bytes_that_look_like_whitespace_or_comments(tmp_path: Path) -> None:
    pixels = np.full((28, 28), ord("#"), dtype=np.uint8)
    pixels[0, :4] = [ord(" "), ord("\n"), 0, ord("9")]
    image = read_image(write(tmp_path / "digit.pgm", pgm_p5(28, 28, 255, pixels.tobytes())))
    np.testing.assert_array_equal(image, pixels)


@pytest.mark.parametrize("maxval", [1, 15, 100, 1000, 65535])
@pytest.mark.parametrize("kind", ["P5", "P2"])
def test_pgm_maxval_other_than_255_is_scaled(kind: str, maxval: int, tmp_path: Path) -> None:
    values = np.random.default_rng(maxval).integers(0, maxval + 1, size=(28, 28))
    values[0, 0], values[0, 1] = 0, maxval
    if kind == "P5":  # one byte per value below 256, two big-endian bytes from 256 on
        dtype = np.uint8 if maxval < 256 else np.dtype(">u2")
        data = pgm_p5(28, 28, maxval, values.astype(dtype).tobytes())
    else:
        data = pgm_p2(28, 28, maxval, values)
    image = read_image(write(tmp_path / "digit.pgm", data))
    assert image.dtype == np.uint8
    exact = values * 255 / maxval
    assert np.abs(image - exact).max() <= 0.5 + 1e-9  # the nearest grey level (either one at a tie)
    assert image[0, 0] == 0 and image[0, 1] == 255


@pytest.mark.parametrize("data", [
    pytest.param(pgm_p5(28, 28, 255, bytes(28 * 28 - 1)), id="P5-one-byte-short"),
    pytest.param(pgm_p5(28, 28, 255, b""), id="P5-no-pixels"),
    pytest.param(pgm_p5(28, 28, 1000, bytes(28 * 28)), id="P5-16-bit-half-missing"),
    pytest.param(pgm_p2(28, 28, 255, np.zeros(28 * 28 - 1, dtype=int)), id="P2-one-value-short"),
    pytest.param(b"P5\n28 28\n", id="header-without-maxval"),
    pytest.param(b"P5\n28", id="header-cut-short"),
    pytest.param(b"", id="empty-file"),
])
def test_truncated_pgm_is_refused(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="digit.pgm"):
        read_image(write(tmp_path / "digit.pgm", data))


@pytest.mark.parametrize(("data", "message"), [
    pytest.param(b"P6\n28 28\n255\n" + bytes(3 * 784), "not a PGM", id="colour-P6"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(100), "not a PGM", id="png-bytes"),
    pytest.param(b"P5\n28 x\n255\n" + bytes(784), "malformed", id="non-numeric-size"),
    pytest.param(b"P5\n28 28\n0\n" + bytes(784), "maxval", id="maxval-0"),
    pytest.param(b"P5\n28 28\n70000\n" + bytes(2 * 784), "maxval", id="maxval-too-large"),
    pytest.param(pgm_p2(28, 28, 255, np.zeros(784, dtype=int)).replace(b"0 0", b"0 x", 1), "integers",
                 id="P2-non-integer-value"),
    pytest.param(pgm_p2(28, 28, 255, np.zeros(785, dtype=int)), "785 values", id="P2-one-value-too-many"),
])
def test_malformed_pgm_is_refused(data: bytes, message: str, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=message):
        read_image(write(tmp_path / "digit.pgm", data))


@pytest.mark.parametrize("width_height", [(27, 28), (28, 27), (56, 14)])
def test_pgm_of_the_wrong_size_is_refused_naming_the_shape(width_height: tuple[int, int], tmp_path: Path) -> None:
    width, height = width_height
    with pytest.raises(ImageError, match="28x28") as error:
        read_image(write(tmp_path / "digit.pgm", pgm_p5(width, height, 255, bytes(width * height))))
    assert str((height, width)) in str(error.value)


# ---- other files -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["digit.png", "digit.txt", "digit", "digit.npz"])
def test_unknown_extension_is_refused(name: str, digit: np.ndarray, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="unsupported image type"):
        read_image(write(tmp_path / name, digit.tobytes()))


@pytest.mark.parametrize("name", ["missing.npy", "missing.pgm"])
def test_missing_file_is_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not found"):
        read_image(tmp_path / name)


def test_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "digit.npy").mkdir()
    with pytest.raises(ImageError, match="not found"):
        read_image(tmp_path / "digit.npy")


def test_image_error_is_a_value_error() -> None:
    assert issubclass(ImageError, ValueError)


# ---- pixel values outside the format's range -------------------------------------------

OUT_OF_RANGE = [
    pytest.param("digit.npy", lambda: np.full((28, 28), 300, dtype=np.int16), id="npy-int-above-255"),
    pytest.param("digit.npy", lambda: np.full((28, 28), -1, dtype=np.int16), id="npy-int-negative"),
    pytest.param("digit.npy", lambda: np.where(np.eye(28, dtype=bool), np.nan, 0.5), id="npy-float-nan"),
    pytest.param("digit.pgm", lambda: pgm_p2(28, 28, 15, np.full(784, 200)), id="P2-above-maxval"),
    pytest.param("digit.pgm", lambda: pgm_p2(28, 28, 255, np.full(784, -3)), id="P2-negative"),
    pytest.param("digit.pgm", lambda: pgm_p5(28, 28, 100, bytes([255]) * 784), id="P5-above-maxval"),
]


@pytest.mark.parametrize(("name", "make"), OUT_OF_RANGE)
def test_pixel_values_outside_the_range_are_refused(
    name: str, make: Callable[[], np.ndarray | bytes], tmp_path: Path
) -> None:
    content = make()
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    with pytest.raises(ImageError):
        read_image(path)
