"""``python -m tinygrad_mnist.datasets verify [--root DIR]``: check the MNIST files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import MNISTError
from .mnist import BUNDLED_DIR, FILES, IMAGES_MAGIC, LABELS_MAGIC, cache_dir, load_verified, locate


def verify(root: str | None) -> int:
    """Print each file, its sample count and checksum verdict; return the exit status."""
    directory = Path(root) if root else BUNDLED_DIR if locate(FILES["train"][0], BUNDLED_DIR).is_file() else cache_dir()
    print(f"MNIST files in {directory}")
    status = 0
    for split, names in FILES.items():
        for name, magic in zip(names, (IMAGES_MAGIC, LABELS_MAGIC), strict=True):
            path = locate(name, directory)
            try:
                array = load_verified(path, name, magic)
                print(f"  {path.name:32} {split:5} {len(array):6d} samples  SHA-256 ok")
            except MNISTError as exc:
                print(f"  {path.name:32} {split:5} FAILED: {exc}")
                status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinygrad_mnist.datasets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="check files, counts and checksums")
    check.add_argument("--root", help="directory holding the files (default: the bundled copy)")
    args = parser.parse_args(argv)
    return verify(args.root)


if __name__ == "__main__":
    sys.exit(main())
