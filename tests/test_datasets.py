"""The MNIST datasets package: IDX format, verified loading, bundled copy, packaging, batching, CLI.

Downloads are tested in ``test_download.py``. Expected values here come from
the IDX format description, the published MNIST facts (file names, digests in
``SHA256SUMS-decompressed``, sample and label counts) or are computed with
``gzip``/``hashlib``/``struct`` directly, not from the package's own tables.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist.datasets import (
    DIGESTS,
    FILES,
    DataLoader,
    MNISTError,
    cache_dir,
    load_mnist,
    parse_idx,
    read_payload,
    train_val_split,
    write_idx,
)
from tinygrad_mnist.datasets import mnist as mnist_module
from tinygrad_mnist.datasets.idx import decompress

REPO_ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO_ROOT / "tinygrad_mnist" / "datasets" / "mnist"
MNIST_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_NAMES = [name for names in MNIST_NAMES.values() for name in names]
SAMPLES = {"train": 60000, "test": 10000}
# Published per-digit counts of the MNIST labels (digits 0..9).
LABEL_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
# IDX type code and struct format of each element type, from the format's description.
IDX_FORMAT = {
    "u1": (0x08, "B"),
    "i1": (0x09, "b"),
    ">i2": (0x0B, "h"),
    ">i4": (0x0C, "i"),
    ">f4": (0x0D, "f"),
    ">f8": (0x0E, "d"),
}
LABELS_MAGIC, IMAGES_MAGIC = 0x00000801, 0x00000803


def idx_bytes(code: int, dims: tuple[int, ...], body: bytes = b"") -> bytes:
    """An IDX file assembled by hand: magic, big-endian uint32 dimensions, data."""
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + body


def synthetic(n_images: int, n_labels: int | None = None, image_shape=(28, 28), seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n_images, *image_shape), dtype=np.uint8)
    labels = rng.integers(0, 10, n_images if n_labels is None else n_labels, dtype=np.uint8)
    return images, labels


@pytest.fixture
def write_split(tmp_path, monkeypatch):
    """``write_split(split, images, labels, compress=True)`` -> the two paths written into ``tmp_path``.

    The SHA-256 of each decompressed file is registered as its digest, so the files pass verification.
    """

    def write(split: str, images: np.ndarray, labels: np.ndarray, compress: bool = True) -> tuple[Path, Path]:
        paths = []
        for name, array in zip(MNIST_NAMES[split], (images, labels)):
            payload = write_idx(array)
            path = tmp_path / (f"{name}.gz" if compress else name)
            path.write_bytes(gzip.compress(payload) if compress else payload)
            monkeypatch.setitem(mnist_module.DIGESTS, name, hashlib.sha256(payload).hexdigest())
            paths.append(path)
        return paths[0], paths[1]

    return write


def load_error(root: Path, split: str = "test") -> str:
    with pytest.raises(MNISTError) as info:
        load_mnist(split, root=root)
    return str(info.value)


def mentions(message: str, number: int) -> bool:
    return re.search(rf"(?<![\d-]){number}(?!\d)", message) is not None


# --- IDX format --------------------------------------------------------------------------------------

small_arrays = st.sampled_from(["u1", "i1", ">i2", "<i2", ">i4", "<i4", ">f4", "<f4", ">f8", "<f8"]).flatmap(
    lambda dtype: hnp.arrays(np.dtype(dtype), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
)


@pytest.mark.parametrize("dtype", IDX_FORMAT)
def test_write_idx_produces_the_documented_layout(dtype):
    code, fmt = IDX_FORMAT[dtype]
    array = np.array([[0, 1, 2], [3, 4, 5]], dtype=dtype) * 7
    expected = idx_bytes(code, (2, 3), struct.pack(f">6{fmt}", *array.ravel().tolist()))
    assert write_idx(array) == expected
    assert gzip.decompress(write_idx(array, compress=True)) == expected
    result = parse_idx(expected)
    assert result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(result, array)


@pytest.mark.parametrize("dtype", ["u1", ">i4", ">f4"])
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_of_a_known_array(dtype, compress):
    array = (np.arange(24).reshape(2, 3, 4) * 11 % 256).astype(dtype)
    result = parse_idx(decompress(write_idx(array, compress=compress)))
    assert result.shape == (2, 3, 4) and result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(result, array)


@given(array=small_arrays, compress=st.booleans())
def test_write_then_parse_gives_the_array_back(array, compress):
    result = parse_idx(decompress(write_idx(array, compress=compress)))
    assert result.shape == array.shape
    assert result.dtype == (array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype)
    np.testing.assert_array_equal(result, array)  # NaNs compare equal here


def test_parsed_arrays_are_read_only_views():
    result = parse_idx(idx_bytes(0x08, (3,), b"\x07\x08\x09"))
    assert result.tolist() == [7, 8, 9]
    assert not result.flags.writeable


def damage(draw, data: bytes) -> bytes:
    """One random mutation of ``data``: truncate, append, flip a bit, or replace a (header) byte."""
    kind = draw(st.sampled_from(["truncate", "append", "flip", "replace", "header"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "append":
        return data + draw(st.binary(min_size=1, max_size=16))
    out = bytearray(data)
    position = draw(st.integers(0, min(len(data), 12) - 1 if kind == "header" else len(data) - 1))
    if kind == "flip":
        out[position] ^= 1 << draw(st.integers(0, 7))
    else:
        out[position] = draw(st.integers(0, 255))
    return bytes(out)


@st.composite
def damaged_files(draw) -> bytes:
    payload = write_idx(draw(small_arrays))
    layout = draw(st.sampled_from(["raw", "gzip", "gzip of damaged payload"]))
    if layout == "raw":
        return damage(draw, payload)
    if layout == "gzip":
        return damage(draw, gzip.compress(payload))
    return gzip.compress(damage(draw, payload))


@given(data=damaged_files(), magic=st.sampled_from([None, LABELS_MAGIC, IMAGES_MAGIC]))
def test_damaged_files_are_parsed_or_rejected_with_mnist_error(data, magic):
    try:
        result = parse_idx(decompress(data, "damaged.gz"), "damaged.gz", magic)
    except MNISTError as exc:  # anything else (IndexError, struct.error, EOFError, zlib.error, ...) fails
        assert "damaged.gz" in str(exc)
    else:
        assert isinstance(result, np.ndarray)


@given(array=small_arrays, compress=st.booleans(), data=st.data())
def test_every_truncation_is_rejected(array, compress, data):
    whole = write_idx(array, compress=compress)
    cut = data.draw(st.integers(0, len(whole) - 1), label="cut")
    with pytest.raises(MNISTError):
        parse_idx(decompress(whole[:cut]))


@given(array=small_arrays, extra=st.binary(min_size=1, max_size=16))
def test_trailing_bytes_after_the_data_are_rejected(array, extra):
    with pytest.raises(MNISTError, match="too long"):
        parse_idx(write_idx(array) + extra)


@pytest.mark.parametrize(
    "header, seen",
    [
        (b"\x00\x00\x07\x01", 0x00000701),  # unknown type code
        (b"\x12\x34\x08\x01", 0x12340801),  # leading bytes not zero
        (b"\x1f\x8b\x08\x00", 0x1F8B0800),  # a gzip stream given as a payload
    ],
)
def test_bad_magic_is_reported_in_hex(header, seen):
    with pytest.raises(MNISTError, match=rf"(?i)0x0*{seen:x}\b"):
        parse_idx(header + bytes(8), "file.idx")


@pytest.mark.parametrize("dims", [(1 << 16,) * 4, (2**32 - 1, 2**32 - 1)], ids=["wraps-to-zero", "wraps-negative"])
def test_huge_dimensions_are_reported_with_their_true_size(dims):
    with pytest.raises(MNISTError) as info:
        parse_idx(idx_bytes(0x08, dims), "huge.idx")
    assert mentions(str(info.value), math.prod(dims)), str(info.value)


def test_a_truncated_gzip_stream_is_an_mnist_error():
    whole = gzip.compress(idx_bytes(0x08, (64,), bytes(range(64))))
    for cut in range(2, len(whole)):
        with pytest.raises(MNISTError, match="gzip stream is truncated"):
            decompress(whole[:cut], "cut.gz")


# --- load_mnist on synthetic roots: results and errors -----------------------------------------------


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_load_mnist_reads_a_root_directory(write_split, tmp_path, compress):
    images, labels = synthetic(5)
    write_split("test", images, labels, compress=compress)
    got_images, got_labels = load_mnist("test", root=tmp_path)
    assert got_images.dtype == got_labels.dtype == np.uint8
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_unknown_split_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="validation"):
        load_mnist("validation")


def test_missing_file_names_the_path_and_suggests_download(tmp_path):
    message = load_error(tmp_path)
    assert str(tmp_path / "t10k-images-idx3-ubyte") in message
    assert "download=True" in message


def test_truncated_payload_says_expected_and_actual_bytes(write_split, tmp_path):
    images, labels = synthetic(2)
    images_path, _ = write_split("test", images, labels)
    images_path.write_bytes(gzip.compress(idx_bytes(0x08, (2, 28, 28), images.tobytes()[:-5])))
    message = load_error(tmp_path)
    assert str(images_path) in message and "truncated" in message
    assert mentions(message, 2 * 28 * 28) and mentions(message, 2 * 28 * 28 - 5), message


@pytest.mark.parametrize(
    "labels_file, seen",
    [
        (idx_bytes(0x08, (3, 1, 1), bytes(3)), IMAGES_MAGIC),  # an images file where labels belong
        (idx_bytes(0x08, (3, 1), bytes(3)), 0x00000802),
        (b"\xde\xad\xbe\xef" + bytes(8), 0xDEADBEEF),
    ],
)
def test_bad_magic_names_the_file_and_the_value_seen(write_split, tmp_path, labels_file, seen):
    _, labels_path = write_split("test", *synthetic(3))
    labels_path.write_bytes(gzip.compress(labels_file))
    message = load_error(tmp_path)
    assert str(labels_path) in message
    assert re.search(rf"(?i)0x0*{seen:x}\b", message), message


@pytest.mark.parametrize("n_images, n_labels", [(4, 3), (3, 4)])
def test_images_and_labels_must_agree_in_number(write_split, tmp_path, n_images, n_labels):
    _, labels_path = write_split("test", *synthetic(n_images, n_labels))
    message = load_error(tmp_path)
    assert str(labels_path) in message
    assert mentions(message, n_images) and mentions(message, n_labels), message


def test_images_must_be_28_by_28(write_split, tmp_path):
    images_path, _ = write_split("test", *synthetic(3, image_shape=(28, 27)))
    message = load_error(tmp_path)
    assert str(images_path) in message and "28, 27" in message


def test_checksum_mismatch_gives_expected_and_actual_digests(write_split, tmp_path, monkeypatch):
    images_path, _ = write_split("test", *synthetic(3))
    expected = hashlib.sha256(b"some other file").hexdigest()
    monkeypatch.setitem(mnist_module.DIGESTS, "t10k-images-idx3-ubyte", expected)
    actual = hashlib.sha256(gzip.decompress(images_path.read_bytes())).hexdigest()
    message = load_error(tmp_path)
    assert str(images_path) in message and "checksum mismatch" in message
    assert expected in message and actual in message


def test_verify_digests_false_accepts_other_data_in_the_mnist_layout(write_split, tmp_path, monkeypatch):
    images, labels = synthetic(3)
    write_split("test", images, labels)
    monkeypatch.setitem(mnist_module.DIGESTS, "t10k-images-idx3-ubyte", "0" * 64)
    load_error(tmp_path)
    np.testing.assert_array_equal(load_mnist("test", root=tmp_path, verify_digests=False)[0], images)


def test_truncated_gzip_file_names_the_file(write_split, tmp_path):
    _, labels_path = write_split("test", *synthetic(3))
    labels_path.write_bytes(labels_path.read_bytes()[:-6])
    message = load_error(tmp_path)
    assert str(labels_path) in message and "truncated" in message


def test_read_payload_of_a_missing_file(tmp_path):
    with pytest.raises(MNISTError, match="download=True"):
        read_payload(tmp_path / "nothing.gz")


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_MNIST_DATA", str(tmp_path / "data"))
    assert cache_dir() == tmp_path / "data"
    monkeypatch.delenv("TINYGRAD_MNIST_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "tinygrad_mnist" / "mnist"


# --- the verdict cache -------------------------------------------------------------------------------


@pytest.fixture
def digest_checks(monkeypatch) -> list[str]:
    """The sources whose SHA-256 ``load_mnist`` computes, in order."""
    checks: list[str] = []
    original = mnist_module.check_digest

    def counting(payload: bytes, expected: str, source: str) -> None:
        checks.append(source)
        original(payload, expected, source)

    monkeypatch.setattr(mnist_module, "check_digest", counting)
    return checks


def set_mtime(path: Path, mtime_ns: int) -> None:
    os.utime(path, ns=(path.stat().st_atime_ns, mtime_ns))


@pytest.mark.parametrize("change", ["mtime", "size"])
def test_an_unchanged_file_is_hashed_once_and_a_changed_one_again(write_split, tmp_path, digest_checks, change):
    images, labels = synthetic(3)
    images_path, labels_path = write_split("test", images, labels)
    load_mnist("test", root=tmp_path)
    load_mnist("test", root=tmp_path)
    assert digest_checks == [str(images_path), str(labels_path)]

    before = labels_path.stat()
    if change == "size":  # the same payload stored uncompressed inside the gzip file, the same mtime
        labels_path.write_bytes(gzip.compress(write_idx(labels), compresslevel=0))
        set_mtime(labels_path, before.st_mtime_ns)
        assert labels_path.stat().st_size != before.st_size
    else:
        set_mtime(labels_path, before.st_mtime_ns + 10**9)
    load_mnist("test", root=tmp_path)
    assert digest_checks[2:] == [str(labels_path)]


def test_a_file_changed_after_a_successful_load_fails_its_check(write_split, tmp_path):
    images, labels = synthetic(3)
    _, labels_path = write_split("test", images, labels)
    load_mnist("test", root=tmp_path)
    mtime_ns = labels_path.stat().st_mtime_ns
    labels_path.write_bytes(gzip.compress(write_idx((labels + 1) % 10)))
    set_mtime(labels_path, mtime_ns + 10**9)  # a later write, even where the clock is coarse
    with pytest.raises(MNISTError, match="checksum mismatch"):
        load_mnist("test", root=tmp_path)


def test_a_file_replaced_during_a_load_is_checked_on_the_next_load(write_split, tmp_path, monkeypatch):
    images, labels = synthetic(3)
    _, labels_path = write_split("test", images, labels)
    original_read = mnist_module.read_payload

    def read_then_replace(path):
        payload = original_read(path)
        if Path(path) == labels_path:  # another process replaces the file just after this read
            monkeypatch.setattr(mnist_module, "read_payload", original_read)
            mtime_ns = labels_path.stat().st_mtime_ns
            labels_path.write_bytes(gzip.compress(write_idx((labels + 1) % 10)))
            set_mtime(labels_path, mtime_ns + 10**9)
        return payload

    monkeypatch.setattr(mnist_module, "read_payload", read_then_replace)
    load_mnist("test", root=tmp_path)  # verifies the content it read: the original labels
    with pytest.raises(MNISTError, match="checksum mismatch"):
        load_mnist("test", root=tmp_path)  # the file now on disk was never verified


# --- the bundled copy --------------------------------------------------------------------------------


def read_sha256sums() -> dict[str, str]:
    """``SHA256SUMS-decompressed``: one ``<digest>  <name>`` line per file."""
    record = {}
    for line in (MNIST_DIR / "SHA256SUMS-decompressed").read_text().splitlines():
        digest, name = line.split()
        record[name] = digest
    return record


def test_the_files_and_digests_are_the_canonical_ones():
    assert FILES == MNIST_NAMES
    assert sorted(read_sha256sums()) == sorted(ALL_NAMES)
    assert DIGESTS == read_sha256sums()


@pytest.mark.parametrize("name", ALL_NAMES)
def test_bundled_file_matches_the_recorded_digest(name):
    payload = gzip.decompress((MNIST_DIR / f"{name}.gz").read_bytes())
    assert hashlib.sha256(payload).hexdigest() == read_sha256sums()[name]


@pytest.mark.parametrize("split", ["train", "test"])
def test_bundled_split_has_the_mnist_shapes_and_labels(split):
    images, labels = load_mnist(split)
    n = SAMPLES[split]
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.uint8
    assert labels.min() == 0 and labels.max() == 9
    assert np.bincount(labels, minlength=10).tolist() == LABEL_COUNTS[split]
    assert images.min() == 0 and images.max() == 255


# --- packaging ---------------------------------------------------------------------------------------


def test_the_wheel_ships_the_data_its_checksums_licence_note_and_py_typed(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = tmp_path.glob("*.whl")
    data_files = [f"{name}.gz" for name in ALL_NAMES] + ["SHA256SUMS-decompressed", "README.md"]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "tinygrad_mnist/py.typed" in names
        for data_file in data_files:
            member = f"tinygrad_mnist/datasets/mnist/{data_file}"
            assert member in names
            assert archive.read(member) == (MNIST_DIR / data_file).read_bytes()
        assert b"CC BY-SA 3.0" in archive.read("tinygrad_mnist/datasets/mnist/README.md")  # the licence note


# --- DataLoader and train_val_split ------------------------------------------------------------------

N = 50


@pytest.fixture
def numbered():
    """N images and labels 0..N-1; image i is filled with i except for its first two pixels, 0 and 255."""
    images = np.repeat(np.arange(N, dtype=np.uint8), 28 * 28).reshape(N, 28, 28)
    images[:, 0, 0], images[:, 0, 1] = 0, 255
    return images, np.arange(N, dtype=np.uint8)


def epoch(loader: DataLoader, number: int, start: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(loader.batches(number, start=start))


def visit_order(loader: DataLoader, number: int) -> list[int]:
    return np.concatenate([y for _, y in loader.batches(number)]).tolist()


@pytest.mark.parametrize("batch_size", [1, 7, 16, N, N + 3])
@pytest.mark.parametrize("shuffle", [False, True])
def test_each_epoch_visits_every_sample_once(numbered, batch_size, shuffle):
    images, labels = numbered
    loader = DataLoader(images, labels, batch_size=batch_size, shuffle=shuffle, seed=3)
    for number in range(3):
        order = visit_order(loader, number)
        assert sorted(order) == list(range(N))
        if not shuffle:
            assert order == list(range(N))


@pytest.mark.parametrize("flatten, sample_shape", [(True, (784,)), (False, (28, 28))])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_shapes_types_and_values(numbered, flatten, sample_shape, drop_last):
    images, labels = numbered
    loader = DataLoader(images, labels, batch_size=16, shuffle=True, seed=1, drop_last=drop_last, flatten=flatten)
    batches = list(loader)
    sizes = [16, 16, 16] if drop_last else [16, 16, 16, 2]
    assert [len(y) for _, y in batches] == sizes
    assert len(loader) == len(sizes)
    for x, y in batches:
        assert x.shape == (len(y), *sample_shape) and x.dtype == np.float32
        assert y.shape == (len(y),) and y.dtype == np.int64
        assert 0.0 <= x.min() and x.max() <= 1.0
        expected = images[y].reshape(len(y), *sample_shape) / 255.0
        np.testing.assert_array_equal(x, expected.astype(np.float32))
        flat = x.reshape(len(y), -1)
        assert (flat[:, 0] == 0.0).all() and (flat[:, 1] == 1.0).all()


@pytest.mark.parametrize(
    "n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (2, 5, True)]
)
def test_len_counts_the_batches_yielded(n, batch_size, drop_last):
    loader = DataLoader(np.zeros((n, 28, 28), np.uint8), np.zeros(n), batch_size=batch_size, drop_last=drop_last)
    expected = n // batch_size if drop_last else math.ceil(n / batch_size)
    assert len(loader) == expected == len(list(loader))


def test_shuffled_order_depends_only_on_seed_and_epoch(numbered):
    images, labels = numbered
    first, again, other = (DataLoader(images, labels, batch_size=8, shuffle=True, seed=s) for s in (5, 5, 6))
    orders = {(seed, number): visit_order(loader, number)
              for seed, loader in ((5, first), (6, other)) for number in range(3)}
    assert all(visit_order(again, number) == orders[5, number] for number in range(3))
    assert len({tuple(order) for order in orders.values()}) == len(orders)  # every (seed, epoch) differs


def test_iterating_advances_the_epoch(numbered):
    images, labels = numbered
    loader = DataLoader(images, labels, batch_size=8, shuffle=True, seed=2)
    for number in range(3):
        assert [y.tolist() for _, y in loader] == [y.tolist() for _, y in loader.batches(number)]


@pytest.mark.parametrize("start", [0, 1, 3, 6, 7])
def test_batches_from_start_are_the_tail_of_the_epoch(numbered, start):
    images, labels = numbered
    loader = DataLoader(images, labels, batch_size=8, shuffle=True, seed=4)
    full, tail = epoch(loader, 2), epoch(loader, 2, start=start)
    assert len(loader) == 7 and len(tail) == len(full) - start
    for (x_tail, y_tail), (x_full, y_full) in zip(tail, full[start:]):
        np.testing.assert_array_equal(x_tail, x_full)
        np.testing.assert_array_equal(y_tail, y_full)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, "8", None])
def test_bad_batch_size_is_a_value_error(numbered, batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(*numbered, batch_size=batch_size)


def test_images_and_labels_of_different_lengths_are_a_value_error(numbered):
    images, labels = numbered
    with pytest.raises(ValueError, match=f"{N}.*{N - 1}"):
        DataLoader(images, labels[:-1])


@pytest.mark.parametrize("val_size", [0, 1, 10, N - 1])
def test_train_val_split_partitions_the_samples(numbered, val_size):
    images, labels = numbered
    (train_x, train_y), (val_x, val_y) = train_val_split(images, labels, val_size=val_size, seed=7)
    assert len(val_y) == val_size and len(train_y) == N - val_size
    assert not set(train_y.tolist()) & set(val_y.tolist())
    assert sorted(np.concatenate([train_y, val_y]).tolist()) == list(range(N))
    np.testing.assert_array_equal(train_x[:, 5, 5], train_y)  # images stay with their labels
    np.testing.assert_array_equal(val_x[:, 5, 5], val_y)


def test_train_val_split_is_deterministic_per_seed(numbered):
    def val_labels(seed):
        return train_val_split(*numbered, val_size=10, seed=seed)[1][1].tolist()

    assert val_labels(1) == val_labels(1)
    assert val_labels(1) != val_labels(2)


@pytest.mark.parametrize("val_size", [-1, N, N + 1])
def test_train_val_split_rejects_bad_sizes(numbered, val_size):
    with pytest.raises(ValueError, match="val_size"):
        train_val_split(*numbered, val_size=val_size)


# --- python -m tinygrad_mnist.datasets verify --------------------------------------------------------


def run_verify(*args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "TINYGRAD_MNIST_DATA"}
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_mnist.datasets", "verify", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )


def line_for(output: str, name: str) -> str:
    (line,) = [line for line in output.splitlines() if f"{name}.gz" in line]
    return line


def test_verify_passes_on_the_bundled_copy():
    result = run_verify()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout
    for split, names in MNIST_NAMES.items():
        for name in names:
            line = line_for(result.stdout, name)
            assert re.search(rf"\b{SAMPLES[split]}\b.*\bok\b", line), line


@pytest.mark.parametrize("corruption", ["checksum", "truncated"])
def test_verify_reports_a_corrupt_file_and_fails(tmp_path, corruption):
    for name in ALL_NAMES:
        shutil.copy(MNIST_DIR / f"{name}.gz", tmp_path)
    corrupt = tmp_path / "t10k-labels-idx1-ubyte.gz"
    payload = bytearray(gzip.decompress(corrupt.read_bytes()))
    if corruption == "checksum":
        payload[-1] = (payload[-1] + 1) % 10  # one label changed: still a valid file
        corrupt.write_bytes(gzip.compress(bytes(payload)))
    else:
        corrupt.write_bytes(corrupt.read_bytes()[:-100])
    result = run_verify("--root", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    for name in ALL_NAMES:
        line = line_for(result.stdout, name)
        if f"{name}.gz" == corrupt.name:
            assert "FAILED" in line and ("checksum mismatch" if corruption == "checksum" else "truncated") in line
        else:
            assert re.search(r"\bok\b", line) and "FAILED" not in line, line
