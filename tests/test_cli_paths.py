"""PATH of evaluate, predict and plot: a run directory or a checkpoint file; train's summary of the best checkpoint.

Runs are trained in-process on a tiny learnable dataset in MNIST's layout (a
fraction of a second each); one run goes through a real subprocess.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_mnist.datasets import load_mnist
from tinygrad_mnist.mnist import cli, plots
from tinygrad_mnist.mnist.checkpoint import load_model, save_checkpoint
from tinygrad_mnist.mnist.models import build_model, mlp_architecture
from tinygrad_mnist.mnist.training import Trainer, predict_logits

from train_helpers import call_cli, synthetic_digits, write_split

VAL_SIZE = 50
# 350 training samples -> 11 steps per epoch; a learning rate low enough that the epochs differ
SMALL = ["--epochs", "3", "--batch-size", "32", "--val-size", str(VAL_SIZE), "--hidden", "32", "--lr", "3e-4",
         "--quiet"]
ACCURACY = re.compile(r"test accuracy (\d\.\d{4})")
FIRST_LINE = re.compile(r"test accuracy (\d\.\d{4}) on 100 images; checkpoint (.+)$")


# ---- helpers -----------------------------------------------------------------------------


def train_quietly(*args: Any) -> str:
    """``cli.main(["train", ARGS])`` on synthetic data in this process (it must succeed); its standard output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(["train", "--allow-noncanonical-data", *map(str, args)])
    assert status == 0
    return out.getvalue()


def history(run: Path) -> list[dict[str, Any]]:
    return json.loads((run / "metrics.json").read_text())["history"]


def accuracy_of(checkpoint: Path, data: Path) -> float:
    """Test accuracy of the model saved in ``checkpoint``, computed here, not by the command."""
    model, _ = load_model(checkpoint)
    images, labels = load_mnist("test", root=data, verify_digests=False)
    return float(np.mean(predict_logits(model, images).argmax(axis=1) == labels))


def evaluate(capsys: pytest.CaptureFixture[str], path: Path, data: Path) -> tuple[str, str, list[str]]:
    """``evaluate PATH``: (test accuracy as printed, what its first line says of the checkpoint, the other lines)."""
    status, out, err = call_cli(capsys, "evaluate", path, "--data", data)
    assert status == 0, err
    first, *rest = out.splitlines()
    match = FIRST_LINE.match(first)
    assert match, first
    return match.group(1), match.group(2), rest


def summary(out: str) -> tuple[float, str]:
    """(test accuracy of the final weights, the line about the checkpoint that stands for the run)."""
    *_, last_line, best_line = out.strip().splitlines()
    match = ACCURACY.match(last_line)
    assert match and "of the final weights" in last_line, out
    return float(match.group(1)), best_line


# ---- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic-mnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 400), ("test", 100)):
        write_split(root, split, *synthetic_digits(n, rng))
    return root


@pytest.fixture(scope="module")
def run_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete three-epoch run: best.npz, checkpoint.npz, metrics.json."""
    out = tmp_path_factory.mktemp("run")
    train_quietly(*SMALL, "--allow-noncanonical-data", "--data", data_dir, "--out", out)
    return out


@pytest.fixture(scope="module")
def dry_run_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five steps, inside the first epoch: checkpoint.npz and metrics.json, no best.npz."""
    out = tmp_path_factory.mktemp("dry-run")
    train_quietly("--dry-run", "--batch-size", "16", "--hidden", "8", "--val-size", VAL_SIZE, "--data", data_dir,
                  "--out", out, "--quiet")
    return out


@pytest.fixture(scope="module")
def mixed_run_dir(run_dir: Path, dry_run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory whose best.npz and checkpoint.npz hold different models (784-32-10 and 784-8-10)."""
    out = tmp_path_factory.mktemp("mixed-run")
    (out / "best.npz").write_bytes((run_dir / "best.npz").read_bytes())
    (out / "checkpoint.npz").write_bytes((dry_run_dir / "checkpoint.npz").read_bytes())
    (out / "metrics.json").write_text((run_dir / "metrics.json").read_text())
    return out


@pytest.fixture(scope="module")
def bad_paths(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Paths that are not runs nor checkpoints, and checkpoints outside a run directory."""
    root = tmp_path_factory.mktemp("bad-paths")
    (root / "empty-dir").mkdir()
    (root / "notes.txt").write_text("not a checkpoint\n")
    (root / "random.npz").write_bytes(np.random.default_rng(1).bytes(2048))
    (root / "only-metrics").mkdir()
    (root / "only-metrics" / "metrics.json").write_text((run_dir / "metrics.json").read_text())
    (root / "no-metrics").mkdir()
    (root / "no-metrics" / "best.npz").write_bytes((run_dir / "best.npz").read_bytes())
    (root / "loose").mkdir()
    (root / "loose" / "model.npz").write_bytes((run_dir / "best.npz").read_bytes())
    save_checkpoint(root / "weights-only.npz", build_model(mlp_architecture([32])))
    return root


# ---- evaluate ----------------------------------------------------------------------------


def test_evaluate_run_directory_uses_the_best_checkpoint_and_says_so(
    run_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    epochs = history(run_dir)
    best = max(epochs, key=lambda e: e["val_accuracy"])  # the first of equal maxima, as train keeps it
    accuracy, checkpoint, rest = evaluate(capsys, run_dir, data_dir)
    assert checkpoint == (f"{run_dir / 'best.npz'}, the run's best (epoch {best['epoch']}, "
                          f"validation accuracy {best['val_accuracy']:.4f})")
    file_accuracy, _, file_rest = evaluate(capsys, run_dir / "best.npz", data_dir)
    assert (accuracy, rest) == (file_accuracy, file_rest)
    assert float(accuracy) == pytest.approx(accuracy_of(run_dir / "best.npz", data_dir), abs=5e-5)


def test_evaluate_run_directory_prefers_best_to_last_checkpoint(
    mixed_run_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accuracy, checkpoint, rest = evaluate(capsys, mixed_run_dir, data_dir)
    assert checkpoint.startswith(f"{mixed_run_dir / 'best.npz'}, the run's best (epoch ")
    assert (accuracy, rest) == evaluate(capsys, mixed_run_dir / "best.npz", data_dir)[::2]
    assert rest != evaluate(capsys, mixed_run_dir / "checkpoint.npz", data_dir)[2]


def test_evaluate_checkpoint_file_names_it_and_its_epoch(
    run_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    last = history(run_dir)[-1]
    accuracy, checkpoint, _ = evaluate(capsys, run_dir / "checkpoint.npz", data_dir)
    assert checkpoint == f"{run_dir / 'checkpoint.npz'} (epoch 3, validation accuracy {last['val_accuracy']:.4f})"
    assert float(accuracy) == pytest.approx(accuracy_of(run_dir / "checkpoint.npz", data_dir), abs=5e-5)


def test_evaluate_run_without_best_checkpoint_uses_its_last_one(
    dry_run_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accuracy, checkpoint, rest = evaluate(capsys, dry_run_dir, data_dir)
    assert checkpoint == (f"{dry_run_dir / 'checkpoint.npz'}, the run's last, as it has no best.npz "
                          f"(step 5, inside epoch 1)")
    assert (accuracy, rest) == evaluate(capsys, dry_run_dir / "checkpoint.npz", data_dir)[::2]


def test_evaluate_checkpoint_without_training_state(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    architecture = mlp_architecture([8])
    save_checkpoint(tmp_path / "weights.npz", build_model(architecture), metadata={"architecture": architecture})
    _, checkpoint, _ = evaluate(capsys, tmp_path / "weights.npz", data_dir)
    assert checkpoint == f"{tmp_path / 'weights.npz'} (no training state recorded)"


# ---- predict -----------------------------------------------------------------------------


def test_predict_accepts_a_run_directory(
    mixed_run_dir: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for path in (mixed_run_dir, mixed_run_dir / "best.npz", mixed_run_dir / "checkpoint.npz"):
        status, out, err = call_cli(capsys, "predict", path, "--index", 3, "--data", data_dir)
        assert status == 0, err
        outputs.append(out)
    assert outputs[0].startswith("digit ") and len(outputs[0].splitlines()) == 11
    assert outputs[0] == outputs[1] != outputs[2]


# ---- plot --------------------------------------------------------------------------------


@pytest.fixture
def plot_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, str]]:
    """Replace ``plots.plot_run`` by a recorder of (run directory, checkpoint name): no figures drawn."""
    pytest.importorskip("matplotlib")
    calls: list[tuple[Path, str]] = []

    def record(run: Path, out_dir: Any = None, data: Any = None, checkpoint: str = "best.npz") -> list[Path]:
        calls.append((Path(run), checkpoint))
        return []

    monkeypatch.setattr(plots, "plot_run", record)
    return calls


@pytest.mark.parametrize(("relative", "expected"), [
    (".", "best.npz"), ("best.npz", "best.npz"), ("checkpoint.npz", "checkpoint.npz"),
], ids=["run-directory", "best-checkpoint", "last-checkpoint"])
def test_plot_resolves_path_to_run_directory_and_checkpoint(
    relative: str, expected: str, run_dir: Path, plot_calls: list[tuple[Path, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = call_cli(capsys, "plot", run_dir / relative)
    assert status == 0, err
    assert [(run.resolve(), name) for run, name in plot_calls] == [(run_dir.resolve(), expected)]


def test_plot_run_without_best_checkpoint_draws_its_last_one(
    dry_run_dir: Path, plot_calls: list[tuple[Path, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = call_cli(capsys, "plot", dry_run_dir)
    assert status == 0, err
    assert plot_calls == [(dry_run_dir, "checkpoint.npz")]


def test_plot_checkpoint_file_draws_the_figures_of_its_run(
    run_dir: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("matplotlib")
    loaded: list[Path] = []
    monkeypatch.setattr(plots, "load_model", lambda path: loaded.append(Path(path)) or load_model(path))
    status, out, err = call_cli(capsys, "plot", run_dir / "checkpoint.npz", "--out", tmp_path, "--data", data_dir)
    assert status == 0, err
    assert loaded == [run_dir / "checkpoint.npz"]
    assert out.splitlines() == [f"wrote {tmp_path / name}" for name in plots.FILENAMES.values()]
    for name in plots.FILENAMES.values():
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- errors: status 2, one line naming PATH, the path and what was expected --------------

EVERY_COMMAND = [["evaluate"], ["predict", "--index", "0"], ["plot"]]
BAD_PATHS = [
    ("missing", "does not exist; expected a run directory (the --out of train) or a checkpoint file"),
    ("empty-dir", "is a directory without best.npz or checkpoint.npz, so not a run directory; expected"),
    ("only-metrics", "is a directory without best.npz or checkpoint.npz, so not a run directory; expected"),
    ("notes.txt", "not a readable .npz archive"),
    ("random.npz", "expected a run directory (the --out of train) or a checkpoint file"),
    ("weights-only.npz", "no architecture in its metadata; expected a run directory"),
]


def assert_one_line_error(status: int, out: str, err: str, command: str, path: Path, expected: str) -> None:
    assert status == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tinygrad-mnist {command}: error: argument PATH: ")
    assert str(path) in lines[0]
    assert expected in lines[0]
    assert "not found" not in lines[0]


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda argv: argv[0])
@pytest.mark.parametrize(("name", "expected"), BAD_PATHS, ids=[name for name, _ in BAD_PATHS])
def test_bad_path_exits_2_with_one_line(
    command: list[str], name: str, expected: str, bad_paths: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if command[0] == "plot":
        pytest.importorskip("matplotlib")
    path = bad_paths / name
    status, out, err = call_cli(capsys, command[0], path, *command[1:])
    assert_one_line_error(status, out, err, command[0], path, expected)


@pytest.mark.parametrize(("name", "expected"), [
    ("loose/model.npz", "is not in a run directory (no metrics.json beside it); plot needs the run directory"),
    ("no-metrics", "has no metrics.json; plot needs the run directory written by train"),
], ids=["checkpoint-outside-a-run", "directory-without-metrics"])
def test_plot_says_it_needs_a_run_directory(
    name: str, expected: str, bad_paths: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    path = bad_paths / name
    status, out, err = call_cli(capsys, "plot", path)
    assert_one_line_error(status, out, err, "plot", path, expected)


def test_checkpoint_outside_a_run_is_fine_for_evaluate(
    bad_paths: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, checkpoint, _ = evaluate(capsys, bad_paths / "loose" / "model.npz", data_dir)
    assert checkpoint.startswith(f"{bad_paths / 'loose' / 'model.npz'} (epoch ")


# ---- --help ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["evaluate", "plot", "predict"])
def test_help_says_path_is_a_run_directory_or_a_checkpoint_file(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = call_cli(capsys, command, "--help")
    assert status == 0
    text = " ".join(out.split())  # argparse wraps lines anywhere
    assert f"usage: tinygrad-mnist {command} " in text and " PATH" in text
    assert "a run directory" in text and "or a checkpoint file" in text


# ---- train's summary ---------------------------------------------------------------------


def test_train_summary_names_the_best_checkpoint_and_what_evaluate_reports(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = train_quietly(*SMALL, "--data", data_dir, "--out", tmp_path)
    last_accuracy, line = summary(out)
    best = max(history(tmp_path), key=lambda e: e["val_accuracy"])
    reported = evaluate(capsys, tmp_path, data_dir)[0]
    assert line == (f"best checkpoint {tmp_path / 'best.npz'} (epoch {best['epoch']}, validation accuracy "
                    f"{best['val_accuracy']:.4f}): test accuracy {reported}, "
                    f"as `tinygrad-mnist evaluate {tmp_path}` reports")
    assert last_accuracy == pytest.approx(accuracy_of(tmp_path / "checkpoint.npz", data_dir), abs=5e-5)
    record = json.loads((tmp_path / "metrics.json").read_text())["best_checkpoint"]
    assert record["checkpoint"] == "best.npz" and record["epoch"] == best["epoch"]
    assert record["test_accuracy"] == accuracy_of(tmp_path / "best.npz", data_dir)


def test_train_summary_when_the_best_epoch_is_not_the_last(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Trainer.evaluate
    validation = iter([0.9, 0.5, 0.4])  # the first epoch scores best on validation

    def scripted(self: Trainer, images: np.ndarray, labels: np.ndarray) -> float:
        return next(validation) if images is self.val_x else real(self, images, labels)

    monkeypatch.setattr(Trainer, "evaluate", scripted)
    last_accuracy, line = summary(train_quietly(*SMALL, "--data", data_dir, "--out", tmp_path))
    best_accuracy = accuracy_of(tmp_path / "best.npz", data_dir)
    assert line.startswith(f"best checkpoint {tmp_path / 'best.npz'} (epoch 1, validation accuracy 0.9000): "
                           f"test accuracy {best_accuracy:.4f}, as ")
    assert f"{best_accuracy:.4f}" != f"{last_accuracy:.4f}"  # one epoch of training against three
    monkeypatch.undo()
    assert evaluate(capsys, tmp_path, data_dir)[0] == f"{best_accuracy:.4f}"


def test_train_summary_without_validation_split(data_dir: Path, tmp_path: Path) -> None:
    _, line = summary(train_quietly(*SMALL[:4], "--val-size", 0, "--hidden", 8, "--quiet", "--data", data_dir,
                                    "--out", tmp_path))
    assert line.startswith(f"best checkpoint {tmp_path / 'best.npz'} (epoch 3, no validation split): ")


def test_train_summary_of_a_dry_run(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = train_quietly("--dry-run", "--batch-size", "16", "--hidden", "8", "--val-size", VAL_SIZE,
                        "--data", data_dir, "--out", tmp_path, "--quiet")
    last_accuracy, line = summary(out)
    assert line == (f"no best.npz (no epoch completed); last checkpoint {tmp_path / 'checkpoint.npz'} "
                    f"(step 5, inside epoch 1): test accuracy {last_accuracy:.4f}, "
                    f"as `tinygrad-mnist evaluate {tmp_path}` reports")
    assert evaluate(capsys, tmp_path, data_dir)[0] == f"{last_accuracy:.4f}"


def test_train_summary_matches_evaluate_in_real_processes(data_dir: Path, tmp_path: Path) -> None:
    def run(*args: Any) -> str:
        result = subprocess.run([sys.executable, "-m", "tinygrad_mnist.mnist.cli", *map(str, args)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    _, line = summary(run("train", *SMALL, "--allow-noncanonical-data", "--data", data_dir, "--out", tmp_path))
    reported = run("evaluate", tmp_path, "--data", data_dir).splitlines()[0]
    match = re.search(r": test accuracy (\d\.\d{4}), as `tinygrad-mnist evaluate (\S+)` reports$", line)
    assert match and match.group(2) == str(tmp_path)
    assert reported.startswith(f"test accuracy {match.group(1)} on 100 images; checkpoint {tmp_path / 'best.npz'}")
