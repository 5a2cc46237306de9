"""The ``tinygrad-mnist`` command end to end, on a tiny learnable dataset in MNIST's layout.

A few runs go through a real subprocess (``python -m tinygrad_mnist.mnist.cli``);
everything else calls ``cli.main`` in-process, which returns the exit status.
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_mnist.mnist import training
from tinygrad_mnist.mnist.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_mnist.datasets import load_mnist
from tinygrad_mnist.mnist.models import build_model, mlp_architecture
from tinygrad_mnist.mnist.training import Interrupted, Trainer, TrainConfig

from train_helpers import call_cli, finish, synthetic_digits, write_split

TRAIN_SIZE, TEST_SIZE = 400, 100
VAL_SIZE = 50
MISLABELLED = 4  # test images of a 3 labelled 8
# small settings for a quick run: 350 training samples -> 11 steps per epoch
SMALL = ["--epochs", "2", "--batch-size", "32", "--val-size", str(VAL_SIZE), "--hidden", "32", "--quiet"]
SMALL_STEPS = 2 * math.ceil((TRAIN_SIZE - VAL_SIZE) / 32)


# ---- helpers -----------------------------------------------------------------------------


def run_cli(*args: Any, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m tinygrad_mnist.mnist.cli ARGS`` in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "tinygrad_mnist.mnist.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout)


def arrays(path: Path) -> dict[str, np.ndarray]:
    """The model and optimizer arrays of a checkpoint file."""
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files if k.startswith(("model/", "optim/"))}


def assert_same_arrays(got: Path, expected: Path) -> None:
    got_arrays, expected_arrays = arrays(got), arrays(expected)
    assert sorted(got_arrays) == sorted(expected_arrays)
    assert any(k.startswith("optim/") for k in expected_arrays)
    different = [k for k in expected_arrays
                 if got_arrays[k].dtype != expected_arrays[k].dtype
                 or not np.array_equal(got_arrays[k], expected_arrays[k])]
    assert different == [], f"arrays differ between {got} and {expected}"


def read_metrics(run: Path) -> dict[str, Any]:
    return json.loads((run / "metrics.json").read_text())


def parse_prediction(out: str) -> tuple[str, np.ndarray]:
    """The first line of ``predict`` output and its ten probabilities."""
    lines = out.strip().splitlines()
    assert len(lines) == 11, out
    probabilities = []
    for k, line in enumerate(lines[1:]):
        label, value = line.split(":")
        assert int(label) == k
        probabilities.append(float(value))
    return lines[0], np.array(probabilities)


def write_pgm(path: Path, image: np.ndarray) -> None:
    height, width = image.shape
    path.write_bytes(f"P5\n{width} {height}\n255\n".encode() + image.astype(np.uint8).tobytes())


# ---- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the four MNIST files (gzip IDX) holding a small synthetic dataset."""
    root = tmp_path_factory.mktemp("synthetic-mnist")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", TRAIN_SIZE), ("t10k", TEST_SIZE)):
        images, labels = synthetic_digits(n, rng)
        if prefix == "t10k":  # a few wrong labels, so that the confusion matrix is not diagonal
            labels[np.flatnonzero(labels == 3)[:MISLABELLED]] = 8
        write_split(root, "train" if prefix == "train" else "test", images, labels)
    return root


@pytest.fixture(scope="module")
def trained_run(
    data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One small ``train`` run in a subprocess: (run directory, completed process)."""
    out = tmp_path_factory.mktemp("run")
    return out, run_cli("train", *SMALL, "--allow-noncanonical-data", "--data", data_dir, "--out", out, cwd=out)


@pytest.fixture(scope="module")
def run_dir(trained_run: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    out, result = trained_run
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def synthetic_test_set(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return load_mnist("test", root=data_dir, verify_digests=False)


# ---- the dataset fixture itself ----------------------------------------------------------


def test_synthetic_dataset_loads_like_mnist(data_dir: Path) -> None:
    for split, n in (("train", TRAIN_SIZE), ("test", TEST_SIZE)):
        images, labels = load_mnist(split, root=data_dir, verify_digests=False)
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.uint8
        assert labels.max() == 9 and np.bincount(labels).min() >= n // 10 - MISLABELLED


def test_data_command_reports_checksum_failures_for_other_data(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = call_cli(capsys, "data", "--root", data_dir)
    assert status == 1
    assert out.count("FAILED") == 4


# ---- train -------------------------------------------------------------------------------


def test_train_exits_0_and_writes_the_run_files(trained_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, result = trained_run
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "test accuracy" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["best.npz", "checkpoint.npz", "metrics.json"]


def test_train_metrics_json_has_per_epoch_history_and_test_accuracy(run_dir: Path) -> None:
    metrics = read_metrics(run_dir)
    history = metrics["history"]
    assert [entry["epoch"] for entry in history] == [1, 2]
    for entry in history:
        assert {"train_loss", "train_accuracy", "val_accuracy", "lr", "seconds"} <= set(entry)
        assert entry["train_loss"] > 0 and 0 <= entry["val_accuracy"] <= 1
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert isinstance(metrics["test_accuracy"], float)
    assert 0.8 < metrics["test_accuracy"] <= 1 - MISLABELLED / TEST_SIZE
    assert metrics["steps"] == SMALL_STEPS
    assert metrics["config"]["hidden"] == [32] and metrics["config"]["epochs"] == 2


def test_train_checkpoints_hold_the_run_state(run_dir: Path) -> None:
    final = load_checkpoint(run_dir / "checkpoint.npz")
    assert final.metadata["state"]["epoch"] == 2
    assert final.metadata["state"]["step"] == SMALL_STEPS
    assert final.metadata["architecture"]["hidden"] == [32]
    assert final.optimizer_state is not None and final.optimizer_state["state"][0]["step"] == SMALL_STEPS
    best = load_checkpoint(run_dir / "best.npz")
    best_val_accuracy = max(e["val_accuracy"] for e in read_metrics(run_dir)["history"])
    assert best.metadata["state"]["best_val_accuracy"] == best_val_accuracy


def test_dry_run_runs_five_steps_and_writes_a_checkpoint(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = call_cli(capsys, "train", "--dry-run", "--batch-size", "16", "--hidden", "8",
                                "--val-size", VAL_SIZE, "--allow-noncanonical-data", "--data", data_dir, "--out", tmp_path, "--quiet")
    assert status == 0, err
    assert "after 5 steps" in out
    state = load_checkpoint(tmp_path / "checkpoint.npz").metadata["state"]
    assert (state["epoch"], state["batch"], state["step"]) == (0, 5, 5)
    assert read_metrics(tmp_path)["steps"] == 5


# ---- evaluate ----------------------------------------------------------------------------


def test_evaluate_prints_accuracy_confusion_matrix_and_per_class_table(
    run_dir: Path, data_dir: Path, synthetic_test_set: tuple[np.ndarray, np.ndarray]
) -> None:
    result = run_cli("evaluate", run_dir / "checkpoint.npz", "--data", data_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()

    first = lines[0].split()
    assert first[:2] == ["test", "accuracy"] and first[3:6] == ["on", str(TEST_SIZE), "images;"]
    assert lines[0].endswith(f"; checkpoint {run_dir / 'checkpoint.npz'} (epoch 2, validation accuracy "
                             f"{read_metrics(run_dir)['history'][-1]['val_accuracy']:.4f})")
    accuracy = float(first[2])
    assert accuracy == pytest.approx(read_metrics(run_dir)["test_accuracy"], abs=5e-5)

    start = lines.index("confusion matrix (rows: true digit, columns: predicted)")
    assert [int(t) for t in lines[start + 1].split()] == list(range(10))
    rows = [[int(t) for t in line.split()] for line in lines[start + 2:start + 12]]
    assert [row[0] for row in rows] == list(range(10))
    matrix = np.array([row[1:] for row in rows])
    assert matrix.shape == (10, 10)
    _, labels = synthetic_test_set
    assert matrix.sum(axis=1).tolist() == np.bincount(labels, minlength=10).tolist()
    assert np.trace(matrix) / TEST_SIZE == pytest.approx(accuracy, abs=5e-5)
    assert matrix[8, 3] >= MISLABELLED - 1 > 0  # images of a 3 labelled 8: row 8 (true), column 3

    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["class"])
    assert lines[header].split() == ["class", "precision", "recall", "f1", "support"]
    table = [line.split() for line in lines[header + 1:header + 11]]
    assert [int(row[0]) for row in table] == list(range(10))
    recall = np.array([float(row[2]) for row in table])
    np.testing.assert_allclose(recall, np.diag(matrix) / matrix.sum(axis=1), atol=5e-5)
    assert [int(row[4]) for row in table] == matrix.sum(axis=1).tolist()
    macro = lines[header + 11].split()
    assert macro[0] == "macro" and int(macro[4]) == TEST_SIZE
    assert float(macro[2]) == pytest.approx(recall.mean(), abs=1e-4)


# ---- predict -----------------------------------------------------------------------------


def predict(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[str, np.ndarray]:
    status, out, err = call_cli(capsys, "predict", *args)
    assert status == 0, err
    assert err == ""
    return parse_prediction(out)


def test_predict_index_prints_the_digit_and_ten_probabilities(
    run_dir: Path, data_dir: Path, synthetic_test_set: tuple[np.ndarray, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    _, labels = synthetic_test_set
    for index in (0, 7, TEST_SIZE - 1):
        first, probabilities = predict(capsys, run_dir / "best.npz", "--index", index, "--data", data_dir)
        digit = int(np.argmax(probabilities))
        assert first == f"digit {digit} (true label {labels[index]})"
        assert np.all((probabilities >= 0) & (probabilities <= 1))
        assert probabilities.sum() == pytest.approx(1, abs=1e-3)


IMAGE_FORMATS = {
    "npy-uint8": lambda path, image: np.save(path.with_suffix(".npy"), image),
    "npy-flat": lambda path, image: np.save(path.with_suffix(".npy"), image.reshape(784)),
    "npy-float": lambda path, image: np.save(path.with_suffix(".npy"), image / 255.0),
    "pgm": lambda path, image: write_pgm(path.with_suffix(".pgm"), image),
}


@pytest.mark.parametrize("fmt", sorted(IMAGE_FORMATS))
def test_predict_image_file_matches_predict_index(
    fmt: str, run_dir: Path, data_dir: Path, synthetic_test_set: tuple[np.ndarray, np.ndarray], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    images, _ = synthetic_test_set
    index = 7
    IMAGE_FORMATS[fmt](tmp_path / "digit", images[index])
    (image_file,) = tmp_path.iterdir()
    first, probabilities = predict(capsys, run_dir / "best.npz", image_file)
    index_first, index_probabilities = predict(capsys, run_dir / "best.npz", "--index", index, "--data", data_dir)
    assert first == index_first.split(" (")[0] == f"digit {int(np.argmax(probabilities))}"
    np.testing.assert_array_equal(probabilities, index_probabilities)


# ---- bad arguments: status 2, one line on stderr, no traceback ---------------------------


@pytest.fixture(scope="module")
def bad_files(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Broken inputs: random bytes, truncated, weights-only and mismatched checkpoints, a 27x28 image."""
    files = tmp_path_factory.mktemp("bad-files")
    (files / "random-bytes.npz").write_bytes(np.random.default_rng(1).bytes(4096))
    real = (run_dir / "checkpoint.npz").read_bytes()
    (files / "truncated.npz").write_bytes(real[:len(real) // 2])
    np.save(files / "27x28.npy", np.zeros((27, 28), dtype=np.uint8))
    save_checkpoint(files / "weights-only.npz", build_model(mlp_architecture([32])))
    save_checkpoint(files / "wrong-architecture.npz", build_model(mlp_architecture([32])),
                    metadata={"architecture": mlp_architecture([16])})
    return files


BAD_ARGUMENTS = [
    pytest.param(["train", "--lr", "-1"], ["--lr", "a number > 0", "'-1'"], id="negative-lr"),
    pytest.param(["train", "--lr", "abc"], ["--lr", "a number > 0", "'abc'"], id="non-numeric-lr"),
    pytest.param(["train", "--lr", "nan"], ["--lr", "a number > 0"], id="nan-lr"),
    pytest.param(["train", "--epochs", "0"], ["--epochs", "a positive integer", "'0'"], id="zero-epochs"),
    pytest.param(["train", "--epochs", "1.5"], ["--epochs", "a positive integer"], id="fractional-epochs"),
    pytest.param(["train", "--batch-size", "0"], ["--batch-size", "a positive integer"], id="zero-batch-size"),
    pytest.param(["train", "--dropout", "1.5"], ["--dropout", "probability in [0, 1)", "'1.5'"], id="dropout-1.5"),
    pytest.param(["train", "--dropout", "1"], ["--dropout", "probability in [0, 1)", "'1'"], id="dropout-1"),
    pytest.param(["train", "--dropout", "-0.1"], ["--dropout", "'-0.1'"], id="negative-dropout"),
    pytest.param(["train", "--optimizer", "foo"], ["--optimizer", "invalid choice", "'foo'"], id="unknown-optimizer"),
    pytest.param(["train", "--allow-noncanonical-data", "--data", "{files}/no-such-dir", "--out", "{files}/run"], ["no-such-dir", "does not exist"],
                 id="missing-data-dir"),
    pytest.param(["evaluate", "{files}/missing.npz"], ["argument PATH", "missing.npz", "does not exist"],
                 id="missing-checkpoint"),
    pytest.param(["evaluate", "{files}/random-bytes.npz"], ["random-bytes.npz"], id="random-bytes-checkpoint"),
    pytest.param(["evaluate", "{files}/truncated.npz"], ["truncated.npz", "not a readable .npz"],
                 id="truncated-checkpoint"),
    pytest.param(["evaluate", "{files}/weights-only.npz"], ["weights-only.npz", "no architecture"],
                 id="checkpoint-without-architecture"),
    pytest.param(["evaluate", "{files}/wrong-architecture.npz"], ["shape"],
                 id="checkpoint-not-fitting-its-architecture"),
    pytest.param(["predict", "{run}/best.npz", "{files}/27x28.npy"], ["27x28.npy", "(27, 28)", "28x28"],
                 id="wrong-size-image"),
    pytest.param(["predict", "{run}/best.npz", "{files}/missing.npy"], ["missing.npy", "not found"],
                 id="missing-image"),
    pytest.param(["predict", "{run}/best.npz", "--index", "100", "--data", "{data}"],
                 ["--index", "below 100", "100"], id="index-out-of-range"),
    pytest.param(["predict", "{run}/best.npz", "--index", "-1", "--data", "{data}"], ["--index", "'-1'"],
                 id="negative-index"),
    pytest.param(["predict", "{run}/best.npz", "{files}/27x28.npy", "--index", "0"], ["not allowed with"],
                 id="image-and-index"),
    pytest.param(["predict", "{run}/best.npz"], ["required"], id="no-image-nor-index"),
    pytest.param(["evaluate", "{files}/27x28.npy"], ["27x28.npy"], id="npy-array-as-checkpoint"),
    pytest.param(["train", "--val-size", str(TRAIN_SIZE), "--allow-noncanonical-data", "--data", "{data}", "--out", "{files}/run"],
                 ["val", str(TRAIN_SIZE)], id="val-size-as-large-as-the-training-set"),
    pytest.param(["train", "--resume", "{files}/weights-only.npz"], ["weights-only.npz", "training checkpoint"],
                 id="resume-weights-only-checkpoint"),
]


@pytest.mark.parametrize(("argv", "expected"), BAD_ARGUMENTS)
def test_bad_argument_exits_2_with_one_line(
    argv: list[str], expected: list[str], run_dir: Path, data_dir: Path, bad_files: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [a.format(files=bad_files, run=run_dir, data=data_dir) for a in argv]
    status, out, err = call_cli(capsys, *args)
    assert status == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tinygrad-mnist {args[0]}: error: ")
    for text in expected:
        assert text in lines[0]


@pytest.mark.parametrize("argv", [["train", "--lr", "-1"], ["evaluate", "{files}/random-bytes.npz"]],
                         ids=["argument", "corrupt-checkpoint"])
def test_bad_argument_in_a_real_process_exits_2_without_traceback(argv: list[str], bad_files: Path) -> None:
    result = run_cli(*[a.format(files=bad_files) for a in argv])
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


# ---- interrupt and resume ----------------------------------------------------------------

# many small steps (44 per epoch), so that the run is still going after its first epoch; narrow layers
# keep the matrix products single-threaded (fast on a busy machine); dropout makes the random state matter
INTERRUPTIBLE = ["--batch-size", "8", "--val-size", str(VAL_SIZE), "--hidden", "32", "--dropout", "0.2",
                 "--seed", "5", "--quiet"]


def train_and_interrupt(args: list[Any], out: Path, timeout: float = 120) -> tuple[int, str, str]:
    """Start ``train``, send SIGINT as soon as the first epoch's checkpoint exists; (status, stdout, stderr)."""
    process = subprocess.Popen([sys.executable, "-m", "tinygrad_mnist.mnist.cli", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    try:
        while not (out / "checkpoint.npz").exists() and process.poll() is None:
            if time.monotonic() > deadline:
                pytest.fail("training wrote no checkpoint in time")
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return finish(process, timeout)


def test_sigint_saves_a_checkpoint_and_resume_matches_an_uninterrupted_run(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for epochs in (12, 48, 192):  # a run that ends before the signal lands is retried with more work
        out = tmp_path / f"interrupted-{epochs}"
        args = ["train", "--epochs", epochs, *INTERRUPTIBLE, "--allow-noncanonical-data", "--data", data_dir, "--out", out]
        status, stdout, stderr = train_and_interrupt(args, out)
        if status != 0:
            break
    assert status == 130, stderr
    assert "Traceback" not in stderr
    checkpoint = out / "checkpoint.npz"
    assert f"resume with: tinygrad-mnist train --resume {checkpoint}" in stdout
    state = load_checkpoint(checkpoint).metadata["state"]
    assert 1 <= state["epoch"] < epochs

    resumed = run_cli("train", "--resume", checkpoint, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"resuming {checkpoint} at epoch {state['epoch'] + 1}, step {state['step']}")

    reference = tmp_path / "reference"
    status, _, err = call_cli(capsys, *args[:-1], reference)
    assert status == 0, err
    assert_same_arrays(checkpoint, reference / "checkpoint.npz")
    assert_same_arrays(out / "best.npz", reference / "best.npz")
    got, expected = read_metrics(out), read_metrics(reference)
    assert len(got["history"]) == epochs
    for key in ("val_accuracy", "lr"):
        assert [e[key] for e in got["history"]] == [e[key] for e in expected["history"]]
    assert got["test_accuracy"] == expected["test_accuracy"]


@pytest.fixture(scope="module")
def config(data_dir: Path) -> TrainConfig:
    """3 epochs of 11 steps, with dropout so that the random state matters."""
    return TrainConfig(epochs=3, batch_size=32, hidden=[8], dropout=0.2, seed=3, val_size=VAL_SIZE,
                       data=str(data_dir), allow_noncanonical_data=True)


def quiet_trainer(config: TrainConfig, out: Path) -> Trainer:
    return Trainer(config, out, log=lambda message: None, progress=False)


def send_sigint_after(trainer: Trainer, steps: int) -> None:
    """Make the process receive SIGINT right after optimizer step number ``steps``."""
    step = trainer.optimizer.step

    def step_then_signal() -> None:
        step()
        if trainer.optimizer.steps == steps:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # would stop pytest itself
                pytest.fail("Trainer.fit installed no SIGINT handler")
            signal.raise_signal(signal.SIGINT)

    trainer.optimizer.step = step_then_signal  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def reference_run(config: TrainConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run of ``config``."""
    out = tmp_path_factory.mktemp("reference")
    quiet_trainer(config, out).fit()
    return out


@pytest.mark.parametrize("stop_after", [1, 11, 17], ids=["first-step", "last-step-of-an-epoch", "mid-epoch"])
def test_trainer_interrupted_by_sigint_resumes_bit_identically(
    config: TrainConfig, reference_run: Path, tmp_path: Path, stop_after: int
) -> None:
    handler = signal.getsignal(signal.SIGINT)
    trainer = quiet_trainer(config, tmp_path / "run")
    send_sigint_after(trainer, stop_after)
    with pytest.raises(Interrupted) as stopped:
        trainer.fit()
    assert signal.getsignal(signal.SIGINT) is handler
    checkpoint = Path(stopped.value.args[0])
    assert checkpoint == tmp_path / "run" / "checkpoint.npz"

    resumed = Trainer.resume(checkpoint, log=lambda message: None, progress=False)
    assert resumed.state.step == stop_after
    result = resumed.fit()
    assert result["steps"] == 33
    assert_same_arrays(checkpoint, reference_run / "checkpoint.npz")
    assert [e["val_accuracy"] for e in resumed.state.history] == \
        [e["val_accuracy"] for e in read_metrics(reference_run)["history"]]


def test_trainer_stopped_by_max_steps_resumes_bit_identically(
    config: TrainConfig, reference_run: Path, tmp_path: Path
) -> None:
    quiet_trainer(dataclasses.replace(config, max_steps=15), tmp_path / "run").fit()
    resumed = Trainer.resume(tmp_path / "run" / "checkpoint.npz", log=lambda message: None, progress=False)
    assert (resumed.state.epoch, resumed.state.batch, resumed.state.step) == (1, 4, 15)
    resumed.config.max_steps = None  # the limit is saved with the config: lift it to finish the run
    resumed.fit()
    assert_same_arrays(tmp_path / "run" / "checkpoint.npz", reference_run / "checkpoint.npz")


def test_resumed_run_reports_the_same_training_history(
    config: TrainConfig, reference_run: Path, tmp_path: Path
) -> None:
    trainer = quiet_trainer(config, tmp_path / "run")
    send_sigint_after(trainer, 17)
    with pytest.raises(Interrupted) as stopped:
        trainer.fit()
    resumed = Trainer.resume(stopped.value.args[0], log=lambda message: None, progress=False)
    resumed.fit()
    expected = read_metrics(reference_run)["history"]
    for key in ("train_loss", "train_accuracy"):
        assert [e[key] for e in resumed.state.history] == [e[key] for e in expected]


def test_ctrl_c_during_the_final_evaluation_ends_without_a_traceback(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    load_split = training.load_split

    def ctrl_c_before_the_test_set(split: str, data: str | None) -> tuple[np.ndarray, np.ndarray]:
        if split == "test":
            signal.raise_signal(signal.SIGINT)
        return load_split(split, data)

    monkeypatch.setattr(training, "load_split", ctrl_c_before_the_test_set)
    try:
        status, out, _ = call_cli(capsys, "train", *SMALL, "--allow-noncanonical-data", "--data", data_dir, "--out", tmp_path)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped from tinygrad-mnist train")
    assert status in (0, 130)
    assert load_checkpoint(tmp_path / "checkpoint.npz").metadata["state"]["epoch"] == 2
