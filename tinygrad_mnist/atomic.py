"""Atomic file writes: write beside the target, then ``os.replace`` it into place.

A reader (or a crash) never sees a half-written file under the final name: it
either finds the old content or the complete new one.

The temporary file is ``.<name>.<random>.part`` in the target's directory; a
process killed mid-write (``kill -9``) leaves it behind, and `stale_parts`
lists such files for removal.

Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> with atomic_write(path) as f:
    ...     _ = f.write(b"done")
    >>> open(path, "rb").read()
    b'done'
    >>> stale_parts(os.path.dirname(path))
    []
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

PART_SUFFIX = ".part"


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it and put it back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary file object whose content replaces ``path`` only if the block succeeds.

    The temporary file's path is ``f.name``, for checks before the move.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PART_SUFFIX)
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a new file should follow the umask
    try:
        with open(temporary, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def stale_parts(directory: str | Path) -> list[Path]:
    """The temporary files `atomic_write` left in ``directory`` (``.<name>.<random>.part``), sorted.

    Only a write still in progress or a killed one leaves such a file; remove
    them when no other process can be writing into ``directory``.

    Examples:
        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> (run / ".checkpoint.npz.k3j9x.part").write_bytes(b"half")
        4
        >>> (run / "notes.part").touch()  # not a temporary name: kept
        >>> [p.name for p in stale_parts(run)]
        ['.checkpoint.npz.k3j9x.part']
    """
    return sorted(p for p in Path(directory).glob(f".?*.*{PART_SUFFIX}") if p.is_file())
