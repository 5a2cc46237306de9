"""What checkpointing buys and costs: peak memory and time of one training step of a deep MLP.

Run from the repository root::

    python -m benchmarks.checkpointing              # 32 layers of 512, batch 1024, float32 (about a minute)
    python -m benchmarks.checkpointing --quick      # small sizes, a harness check
    python -m benchmarks.checkpointing --width 1024 --batch 256 --json out.json

The network is ``layers`` blocks ``Linear(width, width)`` + ``Tanh``, float32;
one step is the forward, the loss ``(y ** 2).mean()`` and ``backward()`` (the
parameters' ``.grad`` set to None before, as ``zero_grad()`` does). It runs
without checkpointing and with :func:`tinygrad_mnist.utils.checkpoint.checkpoint`
around every block, and around every ``k`` blocks.

* Peak memory: ``tracemalloc`` (numpy reports its buffers to it) is started
  after the model and the input are made, so the peak counts what the step
  allocates: activations, the recomputation, and the parameters' gradients
  (``layers * width**2 * 4`` bytes, the same in every variant, printed for
  reference; the column "- grads" is the peak less them). Activations dominate when ``batch`` is large beside ``width``,
  which is when checkpointing is used; the default size is such a case.
* Step time: the best of ``--repeats`` steps, without tracemalloc; rounds alternate
  the variants, so that a drift in machine speed hits them alike.

The gradients of every variant are checked equal to the plain step's
(bit for bit) before anything is measured. The run prints a table and exits
with status 0: it reports, it does not test.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    import tinygrad_mnist as tm
except ImportError:  # run as a file from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_mnist as tm
from benchmarks.overhead import _positive
from tinygrad_mnist import nn
from tinygrad_mnist.utils.checkpoint import checkpoint


def build(layers: int, width: int, batch: int, seed: int = 0) -> tuple[list[nn.Module], tm.Tensor]:
    """``layers`` blocks Linear + Tanh and a float32 input batch."""
    tm.manual_seed(seed)
    blocks: list[nn.Module] = [nn.Sequential(nn.Linear(width, width), nn.Tanh()) for _ in range(layers)]
    x = tm.Tensor(np.random.default_rng(seed).standard_normal((batch, width)).astype(np.float32))
    return blocks, x


def _run(blocks: Sequence[Callable[[Any], Any]], x: Any) -> Any:
    for block in blocks:
        x = block(x)
    return x


def step(blocks: list[nn.Module], x: tm.Tensor, every: int | None) -> None:
    """One forward + backward; ``every``: blocks per checkpointed chunk (None: no checkpointing)."""
    for block in blocks:
        for p in block.parameters():
            p.grad = None
    if every is None:
        y = _run(blocks, x)
    else:
        y = x
        for start in range(0, len(blocks), every):
            chunk = blocks[start:start + every]
            y = checkpoint(lambda h, chunk=chunk: _run(chunk, h), y, use_reentrant=False)
    (y ** 2).mean().backward()


def peak_bytes(blocks: list[nn.Module], x: tm.Tensor, every: int | None) -> int:
    """The tracemalloc peak of one step, counted from its start."""
    gc.collect()
    tracemalloc.start()
    try:
        step(blocks, x, every)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def seconds(blocks: list[nn.Module], x: tm.Tensor, every: int | None) -> float:
    """The time of one step."""
    gc.collect()
    started = time.perf_counter()
    step(blocks, x, every)
    return time.perf_counter() - started


def gradients(blocks: list[nn.Module], x: tm.Tensor, every: int | None) -> list[np.ndarray]:
    step(blocks, x, every)
    return [p.grad.numpy().copy() for block in blocks for p in block.parameters()]


def measure(layers: int, width: int, batch: int, everies: Sequence[int], repeats: int) -> dict[str, Any]:
    """Peak bytes and best step time of each variant, and their ratios to the plain step."""
    blocks, x = build(layers, width, batch)
    reference = gradients(blocks, x, None)
    for every in everies:
        same = all(np.array_equal(a, b) for a, b in zip(reference, gradients(blocks, x, every), strict=True))
        if not same:
            raise AssertionError(f"checkpointing every {every} block(s) changed the gradients")
    variants = [None, *everies]
    rows = [{"every": every, "peak_bytes": peak_bytes(blocks, x, every), "seconds": float("inf")} for every in variants]
    for _ in range(repeats):  # rounds alternate the variants, so a drift in machine speed hits them alike
        for row in rows:
            row["seconds"] = min(row["seconds"], seconds(blocks, x, row["every"]))
    plain = rows[0]
    for row in rows:
        row["peak_ratio"] = row["peak_bytes"] / plain["peak_bytes"]
        row["time_ratio"] = row["seconds"] / plain["seconds"]
    return {"layers": layers, "width": width, "batch": batch, "repeats": repeats, "dtype": "float32",
            "gradient_bytes": layers * (width * width + width) * 4, "rows": rows}


def format_table(result: dict[str, Any]) -> str:
    title = (f"{result['layers']}-layer MLP, width {result['width']}, batch {result['batch']}, float32, tanh; "
             f"parameters' gradients {result['gradient_bytes'] / 2**20:.1f} MB (in every peak)")
    header = (f"{'checkpointing':<24}{'peak MB':>10}{'ratio':>8}{'- grads MB':>12}{'ratio':>8}"
              f"{'step ms':>10}{'ratio':>8}")
    lines = [title, header]
    grads = result["gradient_bytes"]
    plain = result["rows"][0]["peak_bytes"] - grads
    for row in result["rows"]:
        every = row["every"]
        label = "none" if every is None else "every block" if every == 1 else f"every {every} blocks"
        rest = row["peak_bytes"] - grads
        lines.append(f"{label:<24}{row['peak_bytes'] / 2**20:>10.1f}{row['peak_ratio']:>8.3f}"
                     f"{rest / 2**20:>12.1f}{rest / plain:>8.3f}"
                     f"{row['seconds'] * 1e3:>10.1f}{row['time_ratio']:>8.3f}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checkpointing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=_positive, default=32)
    parser.add_argument("--width", type=_positive, default=512)
    parser.add_argument("--batch", type=_positive, default=1024)
    parser.add_argument("--every", type=_positive, nargs="+", default=[1, 4, 8],
                        help="blocks per checkpointed chunk, one variant each (default 1 4 8)")
    parser.add_argument("--repeats", type=_positive, default=5, help="timed steps per variant; the best counts")
    parser.add_argument("--quick", action="store_true", help="8 layers of 64, batch 128, 2 repeats")
    parser.add_argument("--json", metavar="PATH", type=Path, default=None, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.layers, args.width, args.batch, args.repeats = 8, 64, 128, 2
    result = measure(args.layers, args.width, args.batch, args.every, args.repeats)
    print(format_table(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
