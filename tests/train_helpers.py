"""Helpers for the tests that train: a tiny learnable stand-in for MNIST in its file layout,
and the command line called in-process."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_mnist.mnist import cli
from tinygrad_mnist.datasets import write_idx

PREFIXES = {"train": "train", "test": "t10k"}


def synthetic_digits(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Learnable stand-ins for digits: class k is a bright 8x4 block at its own place, over noise.

    Classes are balanced (n // 10 samples each when n is a multiple of 10).
    """
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    for image, label in zip(images, labels):
        row, col = divmod(int(label), 5)
        top, left = 4 + 12 * row, 1 + 5 * col
        image[top:top + 8, left:left + 4] = rng.integers(200, 256, size=(8, 4), dtype=np.uint8)
    return images, labels


def write_split(root: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """The two gzip IDX files of ``split`` ("train" or "test"), named as MNIST's, in ``root``."""
    prefix = PREFIXES[split]
    (root / f"{prefix}-images-idx3-ubyte.gz").write_bytes(write_idx(images, compress=True))
    (root / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(write_idx(labels, compress=True))


def call_cli(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    """``cli.main(ARGS)`` in this process: (exit status, stdout, stderr)."""
    try:
        status = cli.main([str(a) for a in args])
    except SystemExit as stop:  # argparse ends bad command lines with SystemExit(2)
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    """Wait for ``process`` (killed if it outlives ``timeout`` or the wait fails): (status, stdout, stderr)."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr
