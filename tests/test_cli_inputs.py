"""The ``tinygrad-mnist`` command on bad inputs, each in a real process: ``--data`` is checked in full before
training (both splits, label range, MNIST's digests), and crafted or damaged checkpoints are refused by
``evaluate`` and ``train --resume`` with one accurate line, before any model is built."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist.datasets.mnist import BUNDLED_DIR
from tinygrad_mnist.mnist.checkpoint import save_checkpoint
from tinygrad_mnist.mnist.models import build_model

from test_cli_robustness import one_error_line, run_cli
from train_helpers import synthetic_digits, write_split

SMALL = ["--epochs", "1", "--batch-size", "16", "--val-size", "20", "--hidden", "8", "--quiet"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Well-formed synthetic data in MNIST's layout (not MNIST's own files)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    root.mkdir()
    for split, n in (("train", 100), ("test", 30)):
        write_split(root, split, *synthetic_digits(n, rng))
    return root


def _no_run_left(out: Path) -> None:
    assert not (out / "checkpoint.npz").exists() and not (out / "best.npz").exists()


# ---- --data --------------------------------------------------------------------------------------
def test_other_data_needs_the_flag_and_trains_with_it(data_dir: Path, tmp_path: Path) -> None:
    refused = run_cli("train", *SMALL, "--data", data_dir, "--out", tmp_path / "a")
    one_error_line(refused, "train-images-idx3-ubyte.gz", "not the canonical MNIST", "--allow-noncanonical-data")
    _no_run_left(tmp_path / "a")
    trained = run_cli("train", *SMALL, "--data", data_dir, "--allow-noncanonical-data", "--out", tmp_path / "b")
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "b" / "best.npz").exists()
    assert "--allow-noncanonical-data" in run_cli("train", "--help").stdout


def test_labels_outside_0_to_9_are_refused_before_training(data_dir: Path, tmp_path: Path) -> None:
    images, labels = synthetic_digits(100, np.random.default_rng(1))
    labels[17] = 12
    write_split(data_dir, "train", images, labels)
    result = run_cli("train", *SMALL, "--data", data_dir, "--allow-noncanonical-data", "--out", tmp_path / "run")
    one_error_line(result, "train-labels-idx1-ubyte.gz", "12")
    _no_run_left(tmp_path / "run")


def test_a_broken_test_file_is_found_before_training(data_dir: Path, tmp_path: Path) -> None:
    (data_dir / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    result = run_cli("train", *SMALL, "--data", data_dir, "--allow-noncanonical-data", "--out", tmp_path / "run")
    one_error_line(result, "t10k-images-idx3-ubyte.gz")
    _no_run_left(tmp_path / "run")


def test_swapped_train_and_test_files_are_named(tmp_path: Path) -> None:
    root = tmp_path / "swapped"
    root.mkdir()
    for kind in ("images-idx3", "labels-idx1"):
        shutil.copy(BUNDLED_DIR / f"train-{kind}-ubyte.gz", root / f"t10k-{kind}-ubyte.gz")
        shutil.copy(BUNDLED_DIR / f"t10k-{kind}-ubyte.gz", root / f"train-{kind}-ubyte.gz")
    result = run_cli("train", *SMALL, "--data", root, "--out", tmp_path / "run")
    one_error_line(result, "train-images-idx3-ubyte.gz", "canonical t10k-images-idx3-ubyte", "swapped")
    _no_run_left(tmp_path / "run")


def test_canonical_files_given_as_data_train_without_the_flag(tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(BUNDLED_DIR, root)
    result = run_cli("train", "--data", root, "--out", tmp_path / "run", "--dry-run", "--quiet")
    assert result.returncode == 0, result.stderr


# ---- crafted and damaged checkpoints ------------------------------------------------------------------
@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "model.npz"
    architecture = {"kind": "mlp", "inputs": 784, "hidden": [8], "classes": 10, "activation": "relu"}
    save_checkpoint(path, build_model(architecture), metadata={"architecture": architecture})
    return path


def _rewrite_metadata(path: Path, change: dict) -> None:
    """The checkpoint at ``path`` with ``change`` merged into its metadata (the arrays untouched)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    key = next(name for name in members if name.startswith("metadata"))
    stored = np.load(path, allow_pickle=False)[key.removesuffix(".npy")]
    metadata = json.loads(str(stored))
    metadata.update(change)
    new = dict(np.load(path, allow_pickle=False))
    new[key.removesuffix(".npy")] = np.array(json.dumps(metadata))
    np.savez(path, **new)


def test_a_wrong_field_type_is_one_line(checkpoint: Path) -> None:
    _rewrite_metadata(checkpoint, {"state": {"epoch": "x", "batch": 0, "step": 0}})
    one_error_line(run_cli("evaluate", checkpoint), "state.epoch", "'x'", "expected a non-negative int")


def test_an_absurd_architecture_is_refused_before_any_allocation(checkpoint: Path) -> None:
    _rewrite_metadata(checkpoint, {"architecture": {"kind": "mlp", "hidden": [10 ** 9]}})
    result = run_cli("evaluate", checkpoint, timeout=60)
    one_error_line(result, "hidden", str(10 ** 9))


def test_a_truncated_checkpoint_says_truncated(checkpoint: Path) -> None:
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])
    one_error_line(run_cli("evaluate", checkpoint), "truncated")


def test_a_flipped_bit_names_the_corrupted_member(checkpoint: Path) -> None:
    data = bytearray(checkpoint.read_bytes())
    with zipfile.ZipFile(checkpoint) as archive:
        info = next(i for i in archive.infolist() if "weight" in i.filename)
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0x10  # inside the member's data
    checkpoint.write_bytes(bytes(data))
    one_error_line(run_cli("evaluate", checkpoint), "corrupted", info.filename.removesuffix(".npy"))


def test_resume_refuses_a_crafted_checkpoint_in_one_line(checkpoint: Path, tmp_path: Path) -> None:
    _rewrite_metadata(checkpoint, {"config": {"epochs": "ten"}, "state": {"epoch": 0, "batch": 0, "step": 0}})
    result = run_cli("train", "--resume", checkpoint, "--out", tmp_path / "run")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "epochs" in result.stderr
