"""``tinygrad-mnist explore``: the autodiff explorer page of a built-in example.

Two examples: ``f`` (the default), ``f(x, W, b) = sum(tanh(W @ x + b) * x)`` with x and b of
shape (3,) and W (3, 3) in float64, small enough to follow every number; and ``mlp``, one
training step of the MNIST MLP (cross-entropy of a batch of bundled test images, read offline),
its layers drawn as blocks that open on click. The page is written with
[`explore`][tinygrad_mnist.viz.explore]; ``cli.py`` registers the command.

Examples:
    >>> fn, inputs = example_function()
    >>> [tuple(t.shape) for t in inputs], round(fn(*inputs).item(), 6)
    ([(3,), (3, 3), (3,)], -0.598751)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..datasets import DataLoader, load_mnist
from ..nn import functional as F
from ..viz import Exploration, explore
from .models import ACTIVATIONS, build_seeded_model, describe, mlp_architecture

EXAMPLES = ("f", "mlp")


class ExploreError(ValueError):
    """A bad argument of ``explore``, said in one line (the command ends with status 2)."""


def example_function(seed: int = 0) -> tuple[Callable[..., Tensor], tuple[Tensor, Tensor, Tensor]]:
    """``f(x, W, b) = sum(tanh(W @ x + b) * x)`` and float64 inputs drawn from a standard normal (``seed``)."""
    rng = np.random.default_rng(seed)

    def f(x: Tensor, W: Tensor, b: Tensor) -> Tensor:
        return ((W @ x + b).tanh() * x).sum()

    return f, (Tensor(rng.standard_normal(3)), Tensor(rng.standard_normal((3, 3))), Tensor(rng.standard_normal(3)))


def explore_example(layout: str = "auto", tangents: str = "ones", seed: int = 0) -> Exploration:
    """The page of ``f(x, W, b)`` (see `example_function`).

    Examples:
        >>> page = explore_example(layout="python")
        >>> [leaf["name"] for leaf in page.data["leaves"]]
        ['W', 'x', 'b']
    """
    fn, inputs = example_function(seed)
    return explore(fn, *inputs, tangents=tangents, layout=layout, seed=seed,
                   title="autodiff explorer: f(x, W, b) = sum(tanh(W @ x + b) * x)")


def explore_mlp(hidden: list[int] | None = None, activation: str = "relu", batch: int = 8, seed: int = 0,
                layout: str = "auto", tangents: str = "ones") -> Exploration:
    """The page of one training step of the MNIST MLP: mean cross-entropy of the first ``batch`` test images.

    The model is freshly initialised (framework seed ``seed``); its layers are blocks on the page.
    As in training, the images are a constant and the parameters the leaves: forward mode moves
    every parameter along ``tangents`` (ones, or a seeded standard normal direction), so the
    loss's tangent is its directional derivative in parameter space.

    Examples:
        >>> page = explore_mlp(hidden=[16], batch=2, layout="python")
        >>> [block["label"] for block in page.data["blocks"]]
        ['0: Linear', '1: ReLU', '2: Linear']
    """
    if not isinstance(batch, int) or batch < 1:
        raise ExploreError(f"argument --batch: expected a positive integer, got {batch!r}")
    architecture = mlp_architecture(activation=activation) if not hidden else \
        mlp_architecture(hidden=list(hidden), activation=activation)
    model = build_seeded_model(architecture, seed)
    images, labels = load_mnist("test")
    if batch > len(images):
        raise ExploreError(f"argument --batch: expected at most {len(images)} (the test images), got {batch}")
    x, y = next(iter(DataLoader(images[:batch], labels[:batch], batch_size=batch)))

    batch_images = Tensor(x)
    batch_images.name = "images"

    def mlp_loss() -> Tensor:
        loss = F.cross_entropy(model(batch_images), y)
        loss.name = "loss"
        return loss

    rng = np.random.default_rng(seed)
    directions = {name: np.ones(p.shape) if tangents == "ones" else rng.standard_normal(p.shape)
                  for name, p in model.named_parameters()}
    return explore(mlp_loss, module=model, layout=layout, tangents=directions,
                   title=f"autodiff explorer: MNIST MLP {describe(architecture)}, {batch} test images")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``explore`` on the subparsers ``sub`` of the ``tinygrad-mnist`` parser."""
    command = sub.add_parser("explore", help="write the autodiff explorer page (forward values, forward mode, "
                                             "reverse walk) of a small example or of the MNIST MLP")
    command.add_argument("--example", choices=EXAMPLES, default="f",
                         help="f: sum(tanh(W @ x + b) * x) in float64 (default); mlp: the MNIST MLP's loss on a batch")
    command.add_argument("--out", default="explore.html", help="the HTML file to write (explore.html)")
    command.add_argument("--hidden", type=_at_least(1), nargs="+", help="mlp: hidden widths (512)")
    command.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu", help="mlp: the activation")
    command.add_argument("--batch", type=_at_least(1), default=8, help="mlp: test images in the batch (8)")
    command.add_argument("--tangent", choices=["ones", "random"], default="ones",
                         help="forward mode's direction on the inputs (mlp: on the parameters): ones, or a seeded "
                              "random normal (ones)")
    command.add_argument("--layout", choices=["auto", "dot", "python"], default="auto",
                         help="graph layout: Graphviz's dot when installed (auto), or the built-in one (python)")
    command.add_argument("--seed", type=_at_least(0), default=0,
                         help="seed of the inputs, weights and random tangent (0)")
    return command


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low``."""
    what = "a positive integer" if low == 1 else f"an integer >= {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


def run(args: argparse.Namespace) -> int:
    """Write the page; raises `ExploreError` for a bad argument."""
    out = Path(args.out)
    if out.is_dir():
        raise ExploreError(f"argument --out: {out} is a directory; expected a file name such as explore.html")
    if not out.parent.is_dir():
        raise ExploreError(f"argument --out: the directory {out.parent} does not exist")
    try:
        if args.example == "mlp":
            page = explore_mlp(args.hidden, args.activation, args.batch, args.seed, args.layout, args.tangent)
        else:
            page = explore_example(args.layout, args.tangent, args.seed)
    except RuntimeError as exc:  # layout "dot" without Graphviz
        raise ExploreError(f"argument --layout: {exc}") from None
    try:
        page.save(out)
    except OSError as exc:
        raise ExploreError(f"argument --out: cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {out}")
    return 0
