"""``validate_data_dir``: a data directory read and checked completely before any training.

Every failure is built in a temporary directory: tiny synthetic IDX files written here (the bytes
laid out by hand for the malformed ones) and the bundled canonical files copied under other names.
Expected facts come from MNIST itself (file names, sample counts, the digests recorded in
``SHA256SUMS-decompressed``, classes 0-9) or from the data the test wrote, not from the module's tables.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist.datasets import MNISTError, validate_data_dir, write_idx

MNIST_DIR = Path(__file__).resolve().parents[1] / "tinygrad_mnist" / "datasets" / "mnist"
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
NAMES = {"train": (TRAIN_IMAGES, TRAIN_LABELS), "test": (TEST_IMAGES, TEST_LABELS)}
ALL_NAMES = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
FLAG = "--allow-noncanonical-data"


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A well-formed directory that is not MNIST: 30 training and 20 test samples, gzip-compressed."""
    for split, n, seed in (("train", 30, 0), ("test", 20, 1)):
        for name, array in zip(NAMES[split], synthetic(n, seed), strict=True):
            (tmp_path / f"{name}.gz").write_bytes(write_idx(array, compress=True))
    return tmp_path


def put(directory: Path, name: str, payload: bytes) -> Path:
    """Replace the file ``name`` (gzip or raw) by the gzip of ``payload``."""
    for old in (directory / name, directory / f"{name}.gz"):
        old.unlink(missing_ok=True)
    path = directory / f"{name}.gz"
    path.write_bytes(gzip.compress(payload, mtime=0))
    return path


def idx(type_code: int, dims: tuple[int, ...], data: bytes) -> bytes:
    """IDX bytes laid out by hand: two zero bytes, the type code, the number of dimensions, sizes, data."""
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def canonical_copy(directory: Path, placement: dict[str, str]) -> None:
    """``directory`` holding the bundled canonical file ``source`` under the name ``target``."""
    for target, source in placement.items():
        shutil.copyfile(MNIST_DIR / f"{source}.gz", directory / f"{target}.gz")


def raises(directory: Path, path_name: str, *fragments: str, canonical: bool = True) -> str:
    """The message of the MNISTError raised for ``directory``, checked to name the file and hold each fragment."""
    with pytest.raises(MNISTError) as info:
        validate_data_dir(directory, canonical=canonical)
    message = str(info.value)
    assert message.startswith(str(directory / path_name)), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# --- what passes ------------------------------------------------------------------------------------------


def test_the_bundled_canonical_files_pass_with_the_mnist_sizes():
    data = validate_data_dir(MNIST_DIR)
    assert set(data) == {"train", "test"}
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = data[split]
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.uint8
        assert set(np.unique(labels).tolist()) == set(range(10))


def test_the_digest_check_looks_at_the_bytes_not_the_names(tmp_path):
    # the canonical files, uncompressed, in another directory: the decompressed bytes are what is hashed
    for name in ALL_NAMES:
        (tmp_path / name).write_bytes(gzip.decompress((MNIST_DIR / f"{name}.gz").read_bytes()))
    data = validate_data_dir(tmp_path)
    assert len(data["train"][0]) == 60000 and len(data["test"][0]) == 10000


def test_well_formed_other_data_passes_without_the_digest_check_and_returns_its_arrays(data_dir):
    data = validate_data_dir(data_dir, canonical=False)
    for split, seed in (("train", 0), ("test", 1)):
        images, labels = synthetic(30 if split == "train" else 20, seed)
        assert np.array_equal(data[split][0], images) and np.array_equal(data[split][1], labels)


def test_raw_and_gzip_files_may_be_mixed(data_dir):
    gz = data_dir / f"{TEST_LABELS}.gz"
    (data_dir / TEST_LABELS).write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    assert np.array_equal(validate_data_dir(data_dir, canonical=False)["test"][1], synthetic(20, 1)[1])


def test_one_split_can_be_asked_for_alone(data_dir):
    for name in NAMES["train"]:
        (data_dir / f"{name}.gz").unlink()
    data = validate_data_dir(data_dir, canonical=False, splits=("test",))
    assert list(data) == ["test"] and len(data["test"][0]) == 20
    with pytest.raises(MNISTError, match=TRAIN_IMAGES):
        validate_data_dir(data_dir, canonical=False)


@pytest.mark.parametrize("splits", [(), ("valid",), ("train", "tests")])
def test_an_unknown_split_is_a_value_error_naming_it(data_dir, splits):
    with pytest.raises(ValueError, match=re.escape(repr(splits))):
        validate_data_dir(data_dir, splits=splits)


# --- the canonical digests --------------------------------------------------------------------------------


def test_other_data_fails_the_digest_check_naming_the_file_and_the_flag(data_dir):
    message = raises(data_dir, f"{TRAIN_IMAGES}.gz", "not the canonical", FLAG)
    actual = hashlib.sha256(write_idx(synthetic(30, 0)[0])).hexdigest()
    assert actual in message
    assert "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db" in message  # the canonical one


def test_the_one_noncanonical_file_among_canonical_ones_is_the_one_named(tmp_path):
    canonical_copy(tmp_path, {name: name for name in ALL_NAMES})
    images, _ = synthetic(10000, 2)  # same count as the canonical test labels: only the digest differs
    put(tmp_path, TEST_IMAGES, write_idx(images))
    raises(tmp_path, f"{TEST_IMAGES}.gz", "not the canonical", FLAG)
    assert len(validate_data_dir(tmp_path, canonical=False)["test"][0]) == 10000


SWAPS = {
    "train and test swapped": {TRAIN_IMAGES: TEST_IMAGES, TRAIN_LABELS: TEST_LABELS,
                               TEST_IMAGES: TRAIN_IMAGES, TEST_LABELS: TRAIN_LABELS},
    "only the image files swapped": {TRAIN_IMAGES: TEST_IMAGES, TRAIN_LABELS: TRAIN_LABELS,
                                     TEST_IMAGES: TRAIN_IMAGES, TEST_LABELS: TEST_LABELS},
}


@pytest.mark.parametrize("placement", SWAPS.values(), ids=SWAPS.keys())
def test_swapped_canonical_files_are_named_as_what_they_hold(tmp_path, placement):
    canonical_copy(tmp_path, placement)
    raises(tmp_path, f"{TRAIN_IMAGES}.gz", f"holds the canonical {TEST_IMAGES}", "train and test swapped?", FLAG)


def test_swapped_splits_are_accepted_as_other_data_when_asked(tmp_path):
    canonical_copy(tmp_path, SWAPS["train and test swapped"])
    data = validate_data_dir(tmp_path, canonical=False)
    assert len(data["train"][0]) == 10000 and len(data["test"][0]) == 60000


def test_labels_under_the_images_name_are_named_as_labels(tmp_path):
    canonical_copy(tmp_path, {name: name for name in ALL_NAMES} | {TEST_IMAGES: TEST_LABELS})
    raises(tmp_path, f"{TEST_IMAGES}.gz", f"holds the canonical {TEST_LABELS}", "images and labels swapped?", FLAG)


# --- structure: checked with or without the digests -------------------------------------------------------


@pytest.mark.parametrize("canonical", [True, False])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_a_missing_file_is_named(data_dir, name, canonical):
    (data_dir / f"{name}.gz").unlink()
    raises(data_dir, f"{name}.gz", "file not found", name, canonical=canonical)


def test_every_missing_file_is_listed(data_dir):
    for name in (TRAIN_LABELS, TEST_IMAGES):
        (data_dir / f"{name}.gz").unlink()
    message = raises(data_dir, f"{TRAIN_LABELS}.gz", TRAIN_LABELS, TEST_IMAGES)
    assert TRAIN_IMAGES not in message and TEST_LABELS not in message


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_the_directory_itself_must_be_a_directory(tmp_path, kind):
    target = tmp_path / "data"
    if kind == "a file":
        target.write_bytes(b"")
    with pytest.raises(MNISTError, match=re.escape(str(target)) + ": (does not exist|is not a directory)"):
        validate_data_dir(target)


UNPARSABLE = {
    "not IDX": b"this is not an IDX file at all",
    "short header": b"\x00\x00\x08",
    "bad magic": b"\x01\x02\x08\x01" + struct.pack(">I", 2) + b"\x00\x01",
    "truncated data": idx(0x08, (5, 28, 28), bytes(100)),
}


@pytest.mark.parametrize("canonical", [True, False])
@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("payload", UNPARSABLE.values(), ids=UNPARSABLE.keys())
def test_an_unparsable_file_is_named_in_either_split(data_dir, name, payload, canonical):
    put(data_dir, name, payload)
    raises(data_dir, f"{name}.gz", canonical=canonical)


def test_a_corrupt_gzip_stream_is_named(data_dir):
    path = data_dir / f"{TEST_LABELS}.gz"
    path.write_bytes(path.read_bytes()[:-12])
    raises(data_dir, f"{TEST_LABELS}.gz", "gzip", canonical=False)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_named(data_dir):
    path = data_dir / f"{TEST_IMAGES}.gz"
    path.chmod(0)
    try:
        raises(data_dir, f"{TEST_IMAGES}.gz", "cannot be read", canonical=False)
    finally:
        path.chmod(0o644)


BAD_IMAGES = {
    "27 columns": idx(0x08, (3, 28, 27), bytes(3 * 28 * 27)),
    "flat rows": idx(0x08, (3, 784), bytes(3 * 784)),
    "float32": idx(0x0D, (3, 28, 28), bytes(4 * 3 * 28 * 28)),
    "one image without N": idx(0x08, (28, 28), bytes(28 * 28)),
}


@pytest.mark.parametrize("canonical", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("payload", BAD_IMAGES.values(), ids=BAD_IMAGES.keys())
def test_images_that_are_not_n_by_28_by_28_uint8_are_named(data_dir, split, payload, canonical):
    name = NAMES[split][0]
    put(data_dir, name, payload)
    raises(data_dir, f"{name}.gz", "expected uint8 images of shape (N, 28, 28)", canonical=canonical)


BAD_LABELS = {
    "int32": idx(0x0C, (20,), bytes(4 * 20)),
    "a column": idx(0x08, (20, 1), bytes(20)),
    "images": idx(0x08, (20, 28, 28), bytes(20 * 28 * 28)),
}


@pytest.mark.parametrize("canonical", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("payload", BAD_LABELS.values(), ids=BAD_LABELS.keys())
def test_labels_that_are_not_a_uint8_vector_are_named(data_dir, split, payload, canonical):
    name = NAMES[split][1]
    put(data_dir, name, payload)
    raises(data_dir, f"{name}.gz", "expected uint8 labels of shape (N,)", canonical=canonical)


@pytest.mark.parametrize("canonical", [True, False])
@pytest.mark.parametrize("split, n_labels", [("train", 29), ("train", 31), ("test", 0), ("test", 60000)])
def test_a_label_count_other_than_the_image_count_is_named(data_dir, split, n_labels, canonical):
    n_images = 30 if split == "train" else 20
    name = NAMES[split][1]
    put(data_dir, name, write_idx(np.zeros(n_labels, np.uint8)))
    raises(data_dir, f"{name}.gz", f"holds {n_labels} labels", f"expected {n_images}", canonical=canonical)


@pytest.mark.parametrize("canonical", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
def test_labels_outside_0_to_9_are_counted_and_the_first_is_located(data_dir, split, canonical):
    name = NAMES[split][1]
    labels = synthetic(30 if split == "train" else 20, 0)[1].copy()
    labels[[4, 7, 11]] = [10, 255, 10]
    put(data_dir, name, write_idx(labels))
    raises(data_dir, f"{name}.gz", "3 labels outside 0-9", "index 4, is 10", canonical=canonical)


def test_a_single_label_of_10_is_enough(data_dir):
    labels = synthetic(20, 1)[1].copy()
    labels[-1] = 10
    put(data_dir, TEST_LABELS, write_idx(labels))
    raises(data_dir, f"{TEST_LABELS}.gz", "1 labels outside 0-9", "index 19, is 10", canonical=False)


@pytest.mark.parametrize("split", ["train", "test"])
def test_an_empty_split_is_named(data_dir, split):
    images_name, labels_name = NAMES[split]
    put(data_dir, images_name, write_idx(np.zeros((0, 28, 28), np.uint8)))
    put(data_dir, labels_name, write_idx(np.zeros(0, np.uint8)))
    raises(data_dir, f"{images_name}.gz", "holds 0 images", canonical=False)


def test_a_broken_test_file_is_found_before_anything_is_returned(data_dir):
    # the test split is read up front, even when the training split alone is well formed
    labels = synthetic(20, 1)[1].copy()
    labels[0] = 12
    put(data_dir, TEST_LABELS, write_idx(labels))
    assert len(validate_data_dir(data_dir, canonical=False, splits="train")["train"][0]) == 30
    raises(data_dir, f"{TEST_LABELS}.gz", "outside 0-9", canonical=False)

