"""Backpropagation three ways, measured: the Jacobian chain, the closed form and the engine.

The same float64 MLP (built by `tinygrad_mnist.mnist.models.build_mlp`) and the
same MNIST test images go through `reference.jacobian_chain.backward`
(dense per-sample Jacobians), `reference.closed_form.backward` (the
column-major equations) and the engine (``loss.backward()``). For each batch
size this records the wall time, the peak memory allocated during the call
(``tracemalloc``, which sees numpy's array buffers as well as Python objects)
and the largest absolute difference of each method's gradients from the
closed form's. It backs ``tinygrad-mnist backprop-compare``.

Examples:
    >>> rows = compare([2], hidden=[4], skip_chain=True, images=np.zeros((2, 28, 28), np.uint8),
    ...                labels=np.array([3, 7]))
    >>> [(row.batch, row.method) for row in rows]
    [(2, 'closed form'), (2, 'engine')]
    >>> rows[1].max_abs_diff < 1e-12
    True
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np

from .. import nn
from ..core.tensor import Tensor
from ..datasets import load_mnist
from ..nn import functional as F
from ..random import manual_seed
from .models import build_mlp
from .reference import closed_form, jacobian_chain
from .reference.closed_form import Gradients

INPUTS, CLASSES = 784, 10
METHODS = ("jacobian chain", "closed form", "engine")
DEFAULT_CHAIN_LIMIT = 1e9  # bytes of Jacobians for one sample, in float64
WRITE_UP_SIZES, WRITE_UP_BATCH = (784, 512, 10), 50

T = TypeVar("T")


class ChainTooLarge(ValueError):
    """The Jacobian chain of the requested network would need more memory than allowed."""


class BatchTooLarge(ValueError):
    """A batch size larger than the number of images available."""


@dataclass
class Measurement:
    """One method on one batch: wall time, peak traced memory, gradient difference and loss."""

    batch: int
    method: str
    seconds: float
    peak_bytes: int
    max_abs_diff: float  # largest |gradient - closed form's| over all parameters (0 for the closed form)
    loss: float


def layer_sizes(hidden: Sequence[int]) -> list[int]:
    """Widths of the MNIST MLP, inputs first: [784, *hidden, 10]."""
    return [INPUTS, *hidden, CLASSES]


def chain_bytes_per_sample(hidden: Sequence[int]) -> int:
    """Estimated bytes of the Jacobian chain's dense Jacobians for one sample, in float64."""
    return jacobian_chain.memory_estimate(layer_sizes(hidden), batch=1, bytes_per_entry=8).per_sample_bytes


def check_chain_size(hidden: Sequence[int], limit: float = DEFAULT_CHAIN_LIMIT) -> None:
    """Raise `ChainTooLarge` if one sample's Jacobians would take more than ``limit`` bytes."""
    needed = chain_bytes_per_sample(hidden)
    if needed > limit:
        dims = "-".join(map(str, layer_sizes(hidden)))
        raise ChainTooLarge(
            f"the Jacobian chain of {dims} needs an estimated {needed / 1e9:.2f} GB per sample "
            f"(limit {limit / 1e9:g} GB); use --skip-chain to compare only the closed form and the engine"
        )


def build_network(hidden: Sequence[int], activation: str, seed: int) -> nn.Sequential:
    """The MLP 784-hidden-10 initialised from ``seed``, its parameters cast to float64."""
    manual_seed(seed)
    model = build_mlp(INPUTS, list(hidden), CLASSES, activation, 0.0)
    for parameter in model.parameters():
        parameter.data = parameter.data.astype(np.float64)
    return model


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [module for module in model.modules() if isinstance(module, nn.Linear)]


def _negative_slope(model: nn.Module) -> float:
    slopes = [module.negative_slope for module in model.modules() if isinstance(module, nn.LeakyReLU)]
    return float(slopes[0]) if slopes else 0.01


def engine_gradients(model: nn.Module, X: np.ndarray, labels: np.ndarray) -> Gradients:
    """Mean cross-entropy and its gradients by the engine, for X (batch, 784), in column-major shapes."""
    model.zero_grad()
    loss = F.cross_entropy(model(Tensor(X)), labels)
    loss.backward()
    linears = _linears(model)
    # build_mlp's layers all have a bias, and backward has just filled every .grad
    dW = [layer.weight.grad.data for layer in linears]  # type: ignore[union-attr]
    db = [layer.bias.grad.data.reshape(-1, 1) for layer in linears]  # type: ignore[union-attr]
    return Gradients(float(loss.item()), dW, db)


def measure(fn: Callable[[], T], repeats: int = 3, budget: float = 1.0) -> tuple[T, float, int]:
    """``fn()``'s result, its wall time and the peak memory it allocates.

    The time is the best of up to ``repeats`` untraced runs (fewer once they have
    taken ``budget`` seconds); the peak comes from one more run under tracemalloc,
    which slows allocation down and so is not timed.
    """
    times: list[float] = []
    while len(times) < repeats and sum(times) < budget:
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    seconds = min(times)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, seconds, max(peak, 0)


def max_abs_diff(grads: Gradients, reference: Gradients) -> float:
    """The largest absolute difference over every dW and db."""
    pairs = zip(grads.dW + grads.db, reference.dW + reference.db, strict=True)
    return max(float(np.max(np.abs(np.asarray(g) - r))) for g, r in pairs)


def compare(batch_sizes: Sequence[int], hidden: Sequence[int] = (32,), activation: str = "relu", seed: int = 0,
            skip_chain: bool = False, chain_limit: float = DEFAULT_CHAIN_LIMIT,
            images: np.ndarray | None = None, labels: np.ndarray | None = None) -> list[Measurement]:
    """Measure every method on the first ``b`` images for each ``b`` in ``batch_sizes``.

    ``images`` (N, 28, 28) uint8 and ``labels`` default to the bundled MNIST test set.
    Raises `ChainTooLarge` (unless ``skip_chain``) and `BatchTooLarge`.
    """
    if not skip_chain:
        check_chain_size(hidden, chain_limit)
    if images is None or labels is None:
        images, labels = load_mnist("test")
    if max(batch_sizes) > len(images):
        raise BatchTooLarge(f"batch sizes must be at most {len(images)} (the images available), got {max(batch_sizes)}")
    model = build_network(hidden, activation, seed)
    W = [layer.weight.data for layer in _linears(model)]
    b = [layer.bias.data.reshape(-1, 1) for layer in _linears(model)]  # type: ignore[union-attr]  # built with bias
    slope = _negative_slope(model)
    rows: list[Measurement] = []
    for batch in batch_sizes:
        X = images[:batch].reshape(batch, -1).astype(np.float64) / 255.0
        y = np.asarray(labels[:batch]).astype(np.int64)
        methods: dict[str, Callable[[], Gradients]] = {
            "jacobian chain": partial(jacobian_chain.backward, W, b, X.T, y, activation, slope),
            "closed form": partial(closed_form.backward, W, b, X.T, y, activation, slope),
            "engine": partial(engine_gradients, model, X, y),
        }
        results = {name: measure(fn) for name, fn in methods.items() if not (skip_chain and name == METHODS[0])}
        reference = results["closed form"][0]
        for name, (grads, seconds, peak) in results.items():
            rows.append(Measurement(batch, name, seconds, peak, max_abs_diff(grads, reference), grads.loss))
    return rows


def format_table(rows: Sequence[Measurement]) -> str:
    """A fixed-width table, one line per batch size and method."""
    lines = [(f"{'batch':>5}  {'method':<14}  {'time (ms)':>10}  {'peak memory (MB)':>16}  "
              f"{'loss':>8}  max |grad - closed form|")]
    for row in rows:
        diff = "(reference)" if row.method == "closed form" else f"{row.max_abs_diff:.2e}"
        lines.append(f"{row.batch:>5}  {row.method:<14}  {row.seconds * 1e3:>10.2f}  "
                     f"{row.peak_bytes / 1e6:>16.2f}  {row.loss:>8.4f}  {diff}")
    return "\n".join(lines)


def write_up_estimate() -> str:
    """The Jacobian chain's memory for the write-up's 784-512-10 network at batch 50, in float32."""
    estimate = jacobian_chain.memory_estimate(WRITE_UP_SIZES, batch=WRITE_UP_BATCH, bytes_per_entry=4)
    dims = "-".join(map(str, WRITE_UP_SIZES))
    return (f"memory_estimate of the Jacobian chain for {dims} at batch {WRITE_UP_BATCH} (float32): "
            f"{estimate.per_sample_entries:,} entries per sample = {estimate.per_sample_bytes / 1e6:.0f} MB "
            f"per sample, {estimate.batch_bytes / 1e9:.1f} GB for the batch held at once")
