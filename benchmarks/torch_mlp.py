"""Seconds per MNIST epoch in PyTorch eager: the reference for ``benchmarks/mlp_epoch.py``.

The same step as the framework's side of ``mlp_epoch.py``, written in PyTorch:
784-512-10 ReLU, float32, batch 128, ``F.cross_entropy`` (mean), and
``torch.optim.Adam`` with the same hyper-parameters (lr 1e-3, betas (0.9,
0.999), eps 1e-8, no weight decay). Everything the comparison depends on is
taken from ``mlp_epoch.py`` rather than repeated here: the constants, the
batches (``_data``: the same shuffle, prepared before the clock starts) and the
initial weights (``_initial_weights``: the framework's seeded init, copied into
the ``nn.Linear`` layers, which share its (out, in) layout).

Settings, so that the comparison is like for like:

* ``torch.set_num_threads`` is set to the number of CPUs this process may run
  on (``os.sched_getaffinity``; ``os.cpu_count()`` where the OS does not say),
  which is also what numpy's OpenBLAS uses by default. PyTorch's own default
  is the number of physical cores, which can be lower.
* The optimizer runs PyTorch's default implementation (no ``foreach``/``fused``
  argument), which on CPU is the per-parameter loop.
* No subnormal flushing (``torch.set_flush_denormal`` is left off). The
  framework's optimizers flush decaying buffers of about 2e-31 and below because over
  many epochs they decay into float32's subnormal range; within one epoch (468
  steps) a moment shrinks at most by 0.9 ** 468, about 4e-22, so only moments
  already below about 3e-17 could get there, and the epoch's speed is unchanged.
* Batches become tensors with ``torch.from_numpy`` (no copy) before the clock
  starts; no step is run as a warm-up, exactly as on the other two sides.

The timed loop is ``forward, loss, zero_grad, backward, step`` per batch, as in
``mlp_epoch.run_project``. Each measurement is a fresh interpreter, so peak
RSS (reported for context; it includes PyTorch's own libraries) is per run.

Run from the repository root::

    python -m benchmarks.torch_mlp            # one epoch, prints one JSON line
    python -m benchmarks.torch_mlp --steps 20

``python -m benchmarks`` runs this beside the other two implementations. A
machine without an importable ``torch`` gets one JSON line with ``"error"``
and exit status 3.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from benchmarks import mlp_epoch, peak_rss_mb
from benchmarks.mlp_epoch import BATCH, BETAS, CLASSES, EPS, HIDDEN, LR

NOT_IMPORTABLE = 3  # the child's exit status when torch cannot be imported


def cpu_threads() -> int:
    """The CPUs this process may run on (what OpenBLAS uses by default)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_torch(batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    import torch

    torch.set_num_threads(cpu_threads())
    model = torch.nn.Sequential(torch.nn.Linear(784, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES))
    return train_torch(copy_weights(model, mlp_epoch._initial_weights()), batches)


def copy_weights(model: Any, weights: list[np.ndarray]) -> Any:
    """``model`` with the framework's ``weights`` copied into its parameters, in order (shapes checked)."""
    import torch

    params = list(model.parameters())
    if [tuple(p.shape) for p in params] != [w.shape for w in weights]:
        raise RuntimeError(f"parameter shapes differ: torch {[tuple(p.shape) for p in params]}, "
                           f"tinygrad_mnist {[w.shape for w in weights]}")
    with torch.no_grad():
        for p, w in zip(params, weights):
            p.copy_(torch.from_numpy(w))
    return model


def train_torch(model: Any, batches: list[tuple[np.ndarray, np.ndarray]],
                loss_name: str = "cross_entropy") -> tuple[float, float]:
    """The timed PyTorch loop over ``batches`` with Adam: (seconds, last loss). Shared by the CNN benchmark,
    whose pytorch/examples model ends in a log-softmax and takes ``loss_name="nll_loss"``."""
    import torch
    from torch.nn import functional as F

    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    if data and (data[0][0].dtype != torch.float32 or data[0][0].shape[1:] != (784,)):
        raise RuntimeError(f"unexpected batch {data[0][0].dtype} {tuple(data[0][0].shape)}")
    criterion = getattr(F, loss_name)
    start = time.perf_counter()
    for x, y in data:
        loss = criterion(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start, loss.item()


def child(steps: int | None) -> int:
    try:
        import torch
    except Exception as exc:  # not installed, or installed but broken (missing shared libraries)
        print(json.dumps({"impl": "torch", "error": f"{type(exc).__name__}: {exc}"}))
        return NOT_IMPORTABLE
    batches = mlp_epoch._data(steps)
    seconds, loss = run_torch(batches)
    peak_mb = peak_rss_mb()
    print(json.dumps({"impl": "torch", "seconds": seconds, "final_loss": loss, "peak_rss_mb": peak_mb,
                      "steps": len(batches), "batch": BATCH, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))
    return 0


def measure(steps: int | None) -> dict[str, Any]:
    """One epoch (or ``steps`` steps) in a fresh interpreter; ``{"error": ...}`` when torch cannot be imported."""
    command = [sys.executable, "-m", "benchmarks.torch_mlp"]
    if steps:
        command += ["--steps", str(steps)]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode == NOT_IMPORTABLE and lines:
        return json.loads(lines[-1])
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(command)} failed with status {done.returncode}:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, help="train this many steps instead of the whole epoch")
    args = parser.parse_args(argv)
    return child(args.steps)


if __name__ == "__main__":
    sys.exit(main())
