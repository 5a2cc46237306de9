"""Per-example gradients: ``vmap(grad(loss))`` against a Python loop of single-example ``grad`` calls.

Run from the repository root:

    python -m benchmarks.per_example                 # batch 128, float64 and float32
    python -m benchmarks.per_example --quick         # batch 16, float64 only

The model is the MNIST MLP 784-512-10 (ReLU), called through
``func.functional_call`` with the parameters as a dict; the loss of one example
is the cross-entropy written as ``-(log_softmax(logits) * one_hot).sum()``.
``vmap(grad(loss), in_dims=(None, 0, 0))`` gives all the batch's gradients in
one call; the reference is ``grad(loss)`` called once per example. Both are
checked to agree (1e-10 in float64) before the clock starts; each time is the
best of several runs, the two alternating. The ratio loop / vmap is the
speed-up (the issue's target: >= 10 for batch 128).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

try:
    import tinygrad_mnist as tm
except ImportError:  # run as a file from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_mnist as tm

from benchmarks import best_times
from tinygrad_mnist import nn
from tinygrad_mnist.func import functional_call, grad, vmap


def problem(batch: int, dtype: Any, seed: int = 0) -> tuple[Any, dict[str, tm.Tensor], tm.Tensor, tm.Tensor]:
    tm.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10)).to(dtype)
    params = {name: p.detach() for name, p in model.named_parameters()}
    rng = np.random.default_rng(seed)
    x = tm.tensor(rng.random((batch, 784)), dtype=dtype)
    y = tm.tensor(np.eye(10)[rng.integers(0, 10, batch)], dtype=dtype)

    def loss(params: dict[str, tm.Tensor], x: tm.Tensor, y: tm.Tensor) -> tm.Tensor:
        logits = functional_call(model, params, (x.unsqueeze(0),))
        return -(logits.log_softmax(dim=1) * y.unsqueeze(0)).sum()

    return loss, params, x, y


def measure(batch: int, dtype: Any, repeats: int) -> dict[str, float]:
    loss, params, x, y = problem(batch, dtype)
    batched, single = vmap(grad(loss), in_dims=(None, 0, 0)), grad(loss)

    def loop() -> list[dict[str, tm.Tensor]]:
        return [single(params, x[k], y[k]) for k in range(batch)]

    if dtype == tm.float64:  # the two agree before anything is timed
        together, one_by_one = batched(params, x, y), loop()
        for name in params:
            stacked = np.stack([g[name].numpy() for g in one_by_one])
            np.testing.assert_allclose(together[name].numpy(), stacked, rtol=1e-10, atol=1e-12)
    fast, slow = best_times(lambda: batched(params, x, y), loop, repeats=repeats)
    return {"vmap_s": fast, "loop_s": slow, "speedup": slow / fast}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 16, float64, two repeats")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args(argv)
    batch, repeats = (16, 2) if args.quick else (args.batch, args.repeats)
    dtypes = (tm.float64,) if args.quick else (tm.float64, tm.float32)
    print(f"per-example gradients, MLP 784-512-10, batch {batch} (best of {repeats})")
    for dtype in dtypes:
        r = measure(batch, dtype, repeats)
        print(f"  {np.dtype(dtype).name}: vmap {r['vmap_s'] * 1e3:8.1f} ms   loop {r['loop_s'] * 1e3:8.1f} ms   "
              f"speed-up {r['speedup']:.1f}x")


if __name__ == "__main__":
    main()
