"""A real training run on the bundled MNIST (deselected by default; run with ``pytest -m slow``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def tinygrad_mnist_command() -> list[str]:
    """The installed console script, or the module when the script is not on PATH."""
    script = shutil.which("tinygrad-mnist")
    return [script] if script else [sys.executable, "-m", "tinygrad_mnist.mnist.cli"]


@pytest.mark.slow
def test_one_epoch_on_mnist_reaches_96_percent(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = subprocess.run([*tinygrad_mnist_command(), "train", "--epochs", "1", "--quiet", "--out", str(out)],
                            capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]) == 1
    assert metrics["test_accuracy"] >= 0.96, metrics
    assert (out / "checkpoint.npz").is_file() and (out / "best.npz").is_file()


@pytest.mark.slow
def test_the_documented_cnn_command_reaches_99_2_percent(tmp_path: Path) -> None:
    """``tinygrad-mnist train --model cnn`` as the README gives it: 5 epochs, >= 99.2 % test accuracy."""
    out = tmp_path / "run"
    result = subprocess.run([*tinygrad_mnist_command(), "train", "--model", "cnn", "--quiet", "--out", str(out)],
                            capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["model"] == "cnn" and len(metrics["history"]) == 5
    assert metrics["test_accuracy"] >= 0.992, metrics

    evaluated = subprocess.run([*tinygrad_mnist_command(), "evaluate", str(out / "best.npz")],
                               capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout.startswith("test accuracy 0.99"), evaluated.stdout[:200]
