"""The run directory of ``tinygrad-mnist train``: checked before any work, locked while in use, cleaned.

`prepare_run_dir` is called before the data is read or a model is built:

* ``--out`` must be a directory or a path where one can be made, and writable;
* a directory that already holds a run (``checkpoint.npz``, ``best.npz``,
  ``metrics.json`` or the figures of ``plot``) is refused unless the caller
  allows it to be overwritten, and then that run's files are removed first, so
  files of two runs never sit side by side;
* the lock file ``.lock`` (created with ``O_CREAT | O_EXCL``, holding the
  process id) refuses a second run into the same directory while the first is
  alive; the lock of a process that no longer exists is taken over;
* temporary files of saves that were killed mid-write are removed.

`checkpoint_path` and its parts resolve the PATH of evaluate, predict and plot:
a checkpoint file, or a run directory standing for its ``best.npz`` (its
``checkpoint.npz`` when no epoch has completed).

`run_dir_session` adds what a command needs around it: SIGTERM before training
installs its own handler ends the process (status 143) with the lock released.

Examples:
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp()) / "run"
    >>> with prepare_run_dir(run, overwrite=False) as lock:
    ...     lock.path.name, lock.path.read_text().strip() == str(os.getpid())
    ('.lock', True)
    >>> (run / "metrics.json").write_text("{}")
    2
    >>> prepare_run_dir(run, overwrite=False)
    Traceback (most recent call last):
    ...
    tinygrad_mnist.mnist.rundir.RunDirError: argument --out: ... already holds a run (metrics.json); ...
    >>> with prepare_run_dir(run, overwrite=True):
    ...     sorted(p.name for p in run.iterdir())
    ['.lock']
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import NoReturn, final

from ..atomic import stale_parts
from .plots import FILENAMES as PLOT_FILENAMES
from .training import run_checkpoint

LOCK_NAME = ".lock"
# every file a run (train, then plot into the run directory) writes under a fixed name
RUN_FILES = ("checkpoint.npz", "best.npz", "metrics.json", *PLOT_FILENAMES.values())
# a lock file still empty this many seconds after its creation is being written, not abandoned
_FRESH_LOCK_SECONDS = 5.0
RUN_OR_CHECKPOINT = "a run directory (the --out of train) or a checkpoint file written by train"
EXPECTED = "expected a new or empty directory, or a used one with --overwrite"


class RunDirError(Exception):
    """A run directory argument (``--out``, PATH) that cannot be used; the message is one line naming it."""


@final
class RunLock:
    """The lock of a run directory, held by this process until `release` (or the end of a ``with`` block)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def release(self) -> None:
        """Remove the lock file if it is still this process's."""
        if _lock_owner(self.path) == os.getpid():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()


def run_files(run: str | Path) -> list[Path]:
    """The files of a run present in ``run`` (see `RUN_FILES`), in that order."""
    return [Path(run) / name for name in RUN_FILES if (Path(run) / name).is_file()]


def _lock_owner(path: Path) -> int | None:
    """The process id written in a lock file; None when the file is missing, empty or unreadable."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """Whether another process with this id exists (this process's own id counts as not alive)."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def lock_run_dir(run: str | Path) -> RunLock:
    """Create ``run/.lock`` holding this process's id; take over the lock of a process that has ended.

    Raises:
        RunDirError: another live process holds the lock, or ``run`` is not writable.
    """
    run = Path(run)
    path = run / LOCK_NAME
    for _ in range(5):
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _lock_owner(path)
            try:
                young = time.time() - path.stat().st_mtime < _FRESH_LOCK_SECONDS
            except FileNotFoundError:
                continue  # released meanwhile: try again
            if (owner is not None and _alive(owner)) or (owner is None and young):
                holder = f"process {owner}" if owner is not None else "another process"
                raise RunDirError(f"argument --out: {run} is in use by another run ({holder}, lock file {path}); "
                                  f"wait for it to end or choose another directory") from None
            path.unlink(missing_ok=True)  # left by a process that has ended
            continue
        except OSError as exc:
            raise RunDirError(f"argument --out: cannot write in {run} ({exc.strerror}); {EXPECTED}") from None
        try:
            with os.fdopen(handle, "w") as out:
                out.write(f"{os.getpid()}\n")
        except BaseException:  # Ctrl-C between creating and filling it: leave no empty lock behind
            path.unlink(missing_ok=True)
            raise
        return RunLock(path)
    raise RunDirError(f"argument --out: cannot take the lock {path}: other processes keep taking it")


def prepare_run_dir(out: str | Path, *, overwrite: bool, same_run: bool = False) -> RunLock:
    """Check, create and lock ``out`` for a run; returns the held lock.

    ``same_run``: ``out`` holds the run being resumed, so its files stay.
    Otherwise a directory holding another run is refused, or with ``overwrite``
    emptied of that run's files. Temporary files of killed saves are removed.

    Raises:
        RunDirError: ``out`` is a file, cannot be created or written, is locked
            by a live run, or holds another run and ``overwrite`` is false.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"argument --out: {out} is a file, not a directory; {EXPECTED}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"argument --out: cannot create the directory {out} ({exc.strerror}); {EXPECTED}") \
            from None
    lock = lock_run_dir(out)
    try:
        found = [] if same_run else run_files(out)
        if found and not overwrite:
            raise RunDirError(f"argument --out: {out} already holds a run ({', '.join(p.name for p in found)}); "
                              f"pass --overwrite to replace it or choose a new directory")
        for path in [*found, *stale_parts(out)]:
            path.unlink(missing_ok=True)
    except OSError as exc:
        lock.release()
        raise RunDirError(f"argument --out: cannot remove files in {out} ({exc.strerror})") from None
    except BaseException:
        lock.release()
        raise
    return lock


def out_for(out: str | None, resume: str | None, default: str | Path) -> tuple[Path, bool]:
    """The run directory of ``train`` and whether it holds the run being resumed.

    ``--out`` when given, else the directory of the ``--resume`` checkpoint, else ``default``.

    Examples:
        >>> out_for(None, "runs/a/checkpoint.npz", "runs/new")
        (PosixPath('runs/a'), True)
        >>> out_for("runs/b", "runs/a/checkpoint.npz", "runs/new")
        (PosixPath('runs/b'), False)
        >>> out_for(None, None, "runs/new")
        (PosixPath('runs/new'), False)
    """
    path = Path(out) if out else Path(resume).parent if resume else Path(default)
    return path, resume is not None and path.resolve() == Path(resume).resolve().parent


def _terminate(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def run_dir_session(out: str | Path, *, overwrite: bool, same_run: bool = False) -> Iterator[RunLock]:
    """`prepare_run_dir` for the duration of the block, with SIGTERM ending the process as status 143.

    Training replaces the SIGTERM handler with its own (save, then stop); the
    previous handler is restored at the end of the block.
    """
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with prepare_run_dir(out, overwrite=overwrite, same_run=same_run) as lock:
            yield lock
    finally:
        signal.signal(signal.SIGTERM, previous)


def existing_path(text: str) -> Path:
    """``text`` as a path that exists; RunDirError naming argument PATH otherwise."""
    path = Path(text)
    if not path.exists():
        raise RunDirError(f"argument PATH: {path} does not exist; expected {RUN_OR_CHECKPOINT}")
    return path


def run_dir_checkpoint(run: Path) -> Path:
    """The checkpoint that stands for the run directory ``run``; RunDirError when it holds none."""
    found = run_checkpoint(run)
    if found is None:
        raise RunDirError(f"argument PATH: {run} is a directory without best.npz or checkpoint.npz, so not a run "
                          f"directory; expected {RUN_OR_CHECKPOINT}")
    return found


def checkpoint_path(text: str) -> Path:
    """The checkpoint PATH names: the file itself, or the one that stands for a run directory."""
    path = existing_path(text)
    return run_dir_checkpoint(path) if path.is_dir() else path
