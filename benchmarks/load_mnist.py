"""Seconds to load and verify MNIST from the bundled copy, in a fresh process each time.

Each measurement starts a new interpreter (so no verdict is cached), imports
the package, and times ``load_mnist("train")`` (read, gunzip, IDX checks,
SHA-256 of the decompressed payloads) and then ``load_mnist("test")``.

    python -m benchmarks.load_mnist            # 5 runs, medians
    python -m benchmarks.load_mnist --runs 3 --json out.json

Target: the training set in <= 1.0 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

TARGET_SECONDS = 1.0


def child() -> None:
    from tinygrad_mnist.datasets import load_mnist

    figures = {}
    for split in ("train", "test"):
        start = time.perf_counter()
        images, labels = load_mnist(split)
        figures[split] = time.perf_counter() - start
        figures[f"{split}_samples"] = len(labels)
    print(json.dumps(figures))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child()
        return 0
    runs = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-m", "benchmarks.load_mnist", "--child"],
                             check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    summary = {split: statistics.median(r[split] for r in runs) for split in ("train", "test")}
    print(f"load_mnist, bundled copy, fresh process each run, median of {args.runs}:")
    print(f"  train ({runs[0]['train_samples']} samples)  {summary['train']:.3f} s   target <= {TARGET_SECONDS:.1f} s"
          f"   {'ok' if summary['train'] <= TARGET_SECONDS else 'OVER TARGET'}")
    print(f"  test  ({runs[0]['test_samples']} samples)  {summary['test']:.3f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "runs": runs}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
