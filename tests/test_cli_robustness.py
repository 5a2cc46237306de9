"""The ``tinygrad-mnist`` command against careless use and hostile conditions, each in a real process.

The run directory (``--out``) is checked and locked before any work; SIGTERM saves like Ctrl-C;
a closed stdout and Ctrl-C during start-up end without a traceback; a save killed with
``kill -9`` corrupts nothing and its temporary file is removed at the next start; the BLAS
thread count is recorded in checkpoints; ``evaluate`` warns about weights and outputs that are
not finite.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_mnist.mnist.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_mnist.mnist.models import build_model

from train_helpers import finish, synthetic_digits, write_split

COMMAND = [sys.executable, "-m", "tinygrad_mnist.mnist.cli"]
VAL_SIZE = 50
# 350 training samples: 44 steps of 8 per epoch, narrow layers (quick on a busy machine)
STEPS_PER_EPOCH = 44
LONG = ["--batch-size", "8", "--val-size", str(VAL_SIZE), "--hidden", "32", "--quiet"]


# ---- helpers -----------------------------------------------------------------------------


def run_cli(*args: Any, env: dict[str, str] | None = None, timeout: float = 120,
            **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``python -m tinygrad_mnist.mnist.cli ARGS`` in a fresh interpreter."""
    return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env}, **kwargs)


def spawn(*args: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([*COMMAND, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], timeout: float = 60,
             pause: float = 0.002) -> bool:
    """Poll ``condition`` while ``process`` runs; whether it came true before the process ended."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if condition():
            return True
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the condition never came true")
        time.sleep(pause)
    return condition()


def one_error_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The single stderr line of a refused command (status 2, nothing on stdout), checked for ``expected``."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0]
    return lines[0]


def parts(run: Path) -> list[str]:
    return sorted(p.name for p in run.glob(".*.part"))


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# ---- fixtures ----------------------------------------------------------------------------


def make_data(root: Path, train: int, test: int) -> Path:
    rng = np.random.default_rng(0)
    write_split(root, "train", *synthetic_digits(train, rng))
    write_split(root, "test", *synthetic_digits(test, rng))
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 training and 100 test images in MNIST's file layout."""
    return make_data(tmp_path_factory.mktemp("synthetic-mnist"), 400, 100)


@pytest.fixture(scope="module")
def finished_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete one-epoch run: checkpoint.npz, best.npz, metrics.json."""
    out = tmp_path_factory.mktemp("finished") / "run"
    result = run_cli("train", "--epochs", 1, *LONG, "--allow-noncanonical-data", "--data", data_dir, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


# ---- --out checked before any work -------------------------------------------------------


def test_out_naming_a_file_is_refused_before_the_data_is_read(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    # the data directory does not exist: an --out error proves --out is checked first
    result = run_cli("train", "--allow-noncanonical-data", "--data", tmp_path / "no-data", "--out", target)
    one_error_line(result, "argument --out", str(target), "is a file")
    assert target.read_text() == "mine"


def test_out_below_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = run_cli("train", "--allow-noncanonical-data", "--data", tmp_path / "no-data", "--out", tmp_path / "file" / "run")
    one_error_line(result, "argument --out", "cannot create the directory")


@contextlib.contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """``directory`` made unwritable for this process: by its mode, or, for root (whom modes do not stop),
    by the immutable attribute; skips the test where neither works."""
    directory.chmod(0o500)
    immutable = False
    try:
        if os.access(directory, os.W_OK):  # root
            immutable = shutil.which("chattr") is not None and subprocess.run(
                ["chattr", "+i", str(directory)], capture_output=True, check=False).returncode == 0
            if not immutable:
                pytest.skip("cannot make a directory unwritable for this user here (root without chattr +i)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=False)
        directory.chmod(0o700)


def test_unwritable_out_is_refused_before_the_data_is_read(tmp_path: Path) -> None:
    out = tmp_path / "locked"
    out.mkdir()
    with unwritable(out):
        assert not (out / "probe").exists()
        result = run_cli("train", "--allow-noncanonical-data", "--data", tmp_path / "no-data", "--out", out)
    one_error_line(result, "argument --out", "cannot write in")


def test_resume_of_a_missing_checkpoint_creates_no_directory(tmp_path: Path) -> None:
    result = run_cli("train", "--resume", tmp_path / "gone" / "checkpoint.npz")
    one_error_line(result, "argument --resume", "checkpoint.npz")
    assert not (tmp_path / "gone").exists()


def test_a_used_out_is_refused_and_overwrite_removes_the_old_run(
    data_dir: Path, finished_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("checkpoint.npz", "best.npz", "metrics.json"):
        (run / name).write_bytes((finished_run / name).read_bytes())
    (run / "notes.txt").write_text("mine")
    before = (run / "checkpoint.npz").read_bytes()

    refused = run_cli("train", "--dry-run", *LONG, "--seed", 1, "--allow-noncanonical-data", "--data", data_dir, "--out", run)
    one_error_line(refused, "argument --out", "already holds a run", "best.npz", "--overwrite")
    assert (run / "checkpoint.npz").read_bytes() == before

    # a dry run stops inside its first epoch: it writes checkpoint.npz and metrics.json but no best.npz
    again = run_cli("train", "--dry-run", *LONG, "--seed", 1, "--allow-noncanonical-data", "--data", data_dir, "--out", run, "--overwrite")
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.npz", "metrics.json", "notes.txt"]
    assert load_checkpoint(run / "checkpoint.npz").metadata["config"]["seed"] == 1


def test_help_says_what_overwrite_does() -> None:
    result = run_cli("train", "--help")
    text = " ".join(result.stdout.split())
    assert "--overwrite" in text and "deleted first" in text and "refused unless --overwrite" in text


# ---- the lock ----------------------------------------------------------------------------


def test_a_lock_held_by_a_live_process_refuses_the_run(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text(f"{os.getpid()}\n")  # this test's process is alive
    result = run_cli("train", "--dry-run", *LONG, "--allow-noncanonical-data", "--data", data_dir, "--out", run)
    one_error_line(result, "argument --out", "in use by another run", f"process {os.getpid()}")
    assert sorted(p.name for p in run.iterdir()) == [".lock"]


def test_the_lock_of_a_dead_process_is_taken_over_and_released(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text(f"{dead_pid()}\n")
    result = run_cli("train", "--dry-run", *LONG, "--allow-noncanonical-data", "--data", data_dir, "--out", run)
    assert result.returncode == 0, result.stderr
    assert (run / "checkpoint.npz").is_file()
    assert not (run / ".lock").exists()


# ---- SIGTERM, and a second run while the first is going ------------------------------------


def test_sigterm_saves_exits_143_and_resume_finishes_the_run(data_dir: Path, tmp_path: Path) -> None:
    second = None
    for epochs in (20, 80, 320):  # a run that ends before the signal lands is retried with more work
        out = tmp_path / f"run-{epochs}"
        process = spawn("train", "--epochs", epochs, *LONG, "--allow-noncanonical-data", "--data", data_dir, "--out", out)
        if wait_for(lambda out=out: (out / "checkpoint.npz").exists(), process):
            # meanwhile a second run into the same directory is refused
            second = run_cli("train", "--dry-run", *LONG, "--allow-noncanonical-data", "--data", data_dir, "--out", out, "--overwrite")
            process.send_signal(signal.SIGTERM)
        status, stdout, stderr = finish(process)
        if status == -signal.SIGTERM:
            # the signal landed after training, once the run had restored the default handler: a
            # finished run (its metrics are written), to be retried with more work like a status of 0
            assert "test_accuracy" in (out / "metrics.json").read_text(), stderr
        elif status != 0:
            break
    assert second is not None
    one_error_line(second, "argument --out", "in use by another run", f"process {process.pid}")
    assert status == 143, stderr
    assert "Traceback" not in stderr
    checkpoint = out / "checkpoint.npz"
    assert stdout.startswith("\nterminated at epoch")
    assert f"resume with: tinygrad-mnist train --resume {checkpoint}" in stdout
    assert not (out / ".lock").exists()
    state = load_checkpoint(checkpoint).metadata["state"]
    assert 1 <= state["epoch"] < epochs

    resumed = run_cli("train", "--resume", checkpoint, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    final = load_checkpoint(checkpoint).metadata["state"]
    assert (final["epoch"], final["step"]) == (epochs, epochs * STEPS_PER_EPOCH)


# ---- kill -9 during a save ----------------------------------------------------------------


def test_kill_9_during_a_save_corrupts_nothing_and_the_next_start_removes_the_part(
    data_dir: Path, tmp_path: Path
) -> None:
    # wide layers make each save take a while (about 40 MB with Adam's moments), so it can be caught
    wide = ["--batch-size", "50", "--val-size", str(VAL_SIZE), "--hidden", "1024", "1024", "--quiet"]
    for attempt in range(5):
        out = tmp_path / f"run-{attempt}"
        process = spawn("train", "--epochs", 50, *wide, "--allow-noncanonical-data", "--data", data_dir, "--out", out)
        caught = wait_for(lambda out=out: bool(parts(out)), process, pause=0.0005)
        if caught:
            process.send_signal(signal.SIGKILL)
        status, _, _ = finish(process)
        if caught and parts(out):
            break
    else:
        pytest.skip("no save was caught in the middle")
    assert status == -signal.SIGKILL
    left = parts(out)
    assert left and all(name.endswith(".part") for name in left)
    for name in ("checkpoint.npz", "best.npz"):  # whatever is under a final name is complete
        if (out / name).exists():
            assert load_checkpoint(out / name).model_state
    assert (out / ".lock").read_text().strip() == str(process.pid)  # a stale lock, taken over below

    restart = run_cli("train", "--dry-run", *LONG, "--allow-noncanonical-data", "--data", data_dir, "--out", out, "--overwrite")
    assert restart.returncode == 0, restart.stderr
    assert parts(out) == []
    assert not (out / ".lock").exists()


def test_resume_removes_stale_parts(data_dir: Path, finished_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("checkpoint.npz", "best.npz", "metrics.json"):
        (run / name).write_bytes((finished_run / name).read_bytes())
    (run / ".checkpoint.npz.x81k2m.part").write_bytes(b"\0" * 1000)
    (run / ".best.npz.3j_qz0.part").write_bytes(b"PK")
    (run / ".lock").write_text(f"{dead_pid()}\n")
    result = run_cli("train", "--resume", run / "checkpoint.npz", "--quiet")
    assert result.returncode == 0, result.stderr
    assert parts(run) == []


# ---- closed stdout, Ctrl-C during start-up ---------------------------------------------------


def test_evaluate_into_a_closed_pipe_ends_quietly_with_141(data_dir: Path, finished_run: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written
    try:
        result = subprocess.run([*COMMAND, "evaluate", str(finished_run), "--data", str(data_dir)],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""


def test_evaluate_piped_to_head_prints_one_line_and_no_traceback(data_dir: Path, finished_run: Path) -> None:
    command = " ".join([*COMMAND, "evaluate", str(finished_run), "--data", str(data_dir)])
    result = subprocess.run(["bash", "-c", f'{command} | head -1; echo "status ${{PIPESTATUS[0]}}"'],
                            capture_output=True, text=True, timeout=120)
    first, status = result.stdout.splitlines()
    assert first.startswith("test accuracy ")
    assert status in ("status 0", "status 141")
    assert result.stderr == ""


@pytest.fixture(scope="module")
def large_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 training images: reading them takes long enough to interrupt it."""
    return make_data(tmp_path_factory.mktemp("large-mnist"), 20000, 100)


def test_ctrl_c_during_start_up_exits_130_without_traceback(large_data_dir: Path, tmp_path: Path) -> None:
    for attempt in range(3):
        out = tmp_path / f"run-{attempt}"
        process = spawn("train", "--epochs", 1, *LONG, "--allow-noncanonical-data", "--data", large_data_dir, "--out", out)
        # the lock is taken just before the data is read
        if wait_for(lambda out=out: (out / ".lock").exists(), process, pause=0.001):
            process.send_signal(signal.SIGINT)
        status, _, stderr = finish(process)
        if not (out / "checkpoint.npz").exists():
            break  # the signal landed before training began
    assert status == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr.strip().endswith("interrupted")
    assert not (out / "checkpoint.npz").exists()
    assert not (out / ".lock").exists()


# ---- BLAS threads ----------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2])
def test_blas_threads_follow_the_environment(threads: int) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from tinygrad_mnist.mnist.threads import blas_threads; print(blas_threads())"],
        capture_output=True, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}, timeout=60)
    assert result.stdout.strip() == str(threads), result.stderr


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS runs one thread on one core")
def test_resume_with_another_blas_thread_count_warns(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = run_cli("train", "--dry-run", *LONG, "--allow-noncanonical-data", "--data", data_dir, "--out", out, env={"OPENBLAS_NUM_THREADS": "1"})
    assert first.returncode == 0, first.stderr
    assert load_checkpoint(out / "checkpoint.npz").metadata["blas_threads"] == 1

    same = run_cli("train", "--resume", out / "checkpoint.npz", "--quiet", env={"OPENBLAS_NUM_THREADS": "1"})
    assert same.returncode == 0, same.stderr
    assert "BLAS" not in same.stderr

    other = run_cli("train", "--resume", out / "checkpoint.npz", "--quiet", env={"OPENBLAS_NUM_THREADS": "2"})
    assert other.returncode == 0, other.stderr
    warnings = [line for line in other.stderr.splitlines() if "BLAS" in line]
    assert len(warnings) == 1, other.stderr
    assert "a BLAS thread count of 1" in warnings[0] and "this process uses 2" in warnings[0]
    assert "not be bit-identical" in warnings[0]


# ---- evaluate and weights that are not finite ----------------------------------------------


def test_evaluate_warns_about_nan_weights_and_outputs(data_dir: Path, finished_run: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(finished_run / "best.npz")
    model = build_model(ckpt.metadata["architecture"])
    model.load_state_dict(ckpt.model_state)
    first = next(iter(model.parameters()))
    first.data.reshape(-1)[[0, 5, 9]] = [np.nan, np.inf, -np.inf]
    broken = tmp_path / "broken.npz"
    save_checkpoint(broken, model, metadata=ckpt.metadata)
    total = sum(a.size for a in ckpt.model_state.values())

    result = run_cli("evaluate", broken, "--data", data_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("test accuracy ")
    lines = result.stderr.splitlines()
    assert f"warning: 3 of {total:,} weights are NaN or infinite; the accuracy below is meaningless" in lines[0]
    assert any("outputs (logits) are NaN or infinite" in line for line in lines[1:]), result.stderr


def test_evaluate_of_finite_weights_does_not_warn(data_dir: Path, finished_run: Path) -> None:
    result = run_cli("evaluate", finished_run, "--data", data_dir)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
