"""The ``tinygrad-mnist`` command line: every subcommand's arguments, checked as they are parsed.

A bad value ends the command with status 2 and one line naming the argument,
the value received and what was expected.

Examples:
    >>> args = build_parser().parse_args(["train", "--model", "cnn", "--epochs", "2"])
    >>> args.command, args.model, args.epochs
    ('train', 'cnn', 2)
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a positive integer, got '0'
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

from . import backprop_compare, explore_command
from .models import ACTIVATIONS
from .training import MODEL_DEFAULTS, OPTIMIZERS, TrainConfig


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind: Callable[[str], Any], low: float, inclusive: bool, what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_int = _number(int, 1, True, "a positive integer")
non_negative_int = _number(int, 0, True, "an integer >= 0")
positive_float = _number(float, 0, False, "a number > 0")
non_negative_float = _number(float, 0, True, "a number >= 0")


def _probability(text: str) -> float:
    value = non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return value


def _add_architecture_arguments(command: argparse.ArgumentParser) -> None:
    """--model, --hidden, --channels and --activation, shared by train and graph."""
    defaults, mlp, cnn = TrainConfig(), MODEL_DEFAULTS["mlp"], MODEL_DEFAULTS["cnn"]
    channels = " ".join(str(n) for n in defaults.channels)
    command.add_argument("--model", choices=sorted(MODEL_DEFAULTS), default="mlp",
                         help="mlp: 784-512-10; cnn: conv 32 3x3 -> pool -> conv 64 3x3 -> pool -> 128 -> 10 (mlp)")
    command.add_argument("--hidden", type=positive_int, nargs="+",
                         help=f"fully connected hidden widths, one value per layer "
                              f"({' '.join(map(str, mlp['hidden']))} mlp, {' '.join(map(str, cnn['hidden']))} cnn)")
    command.add_argument("--channels", type=positive_int, nargs="+", default=defaults.channels,
                         help=f"cnn only: output channels of each conv 3x3 + pool block ({channels})")
    command.add_argument("--activation", choices=sorted(ACTIVATIONS), default=defaults.activation)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinygrad-mnist", description="Train and use an MNIST network built on tinygrad_mnist.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train the MLP (784-512-10 ReLU, 10 epochs) or, with --model cnn, a CNN")
    defaults, mlp, cnn = TrainConfig(), MODEL_DEFAULTS["mlp"], MODEL_DEFAULTS["cnn"]
    _add_architecture_arguments(train)
    train.add_argument("--epochs", type=positive_int,
                       help=f"number of epochs ({mlp['epochs']} for the mlp, {cnn['epochs']} for the cnn)")
    train.add_argument("--batch-size", type=positive_int,
                       help=f"samples per step ({mlp['batch_size']} mlp, {cnn['batch_size']} cnn)")
    train.add_argument("--lr", type=positive_float, help=f"learning rate ({mlp['lr']:g} mlp, {cnn['lr']:g} cnn)")
    train.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=defaults.optimizer)
    train.add_argument("--momentum", type=non_negative_float, default=defaults.momentum, help="SGD momentum (0.9)")
    train.add_argument("--dropout", type=_probability,
                       help=f"dropout probability before fully connected layers ({mlp['dropout']:g} mlp, "
                            f"{cnn['dropout']:g} cnn)")
    train.add_argument("--weight-decay", type=non_negative_float, default=defaults.weight_decay)
    train.add_argument("--scheduler", choices=["cosine", "none"], default=defaults.scheduler,
                       help="learning-rate schedule over the epochs (cosine)")
    train.add_argument("--seed", type=non_negative_int, default=defaults.seed)
    train.add_argument("--val-size", type=non_negative_int, default=defaults.val_size,
                       help="training samples held out for validation (5000)")
    train.add_argument("--data", help="directory of IDX files named like MNIST's (default: the bundled MNIST); "
                       "all four files are checked before training, including MNIST's digests")
    train.add_argument("--allow-noncanonical-data", action="store_true",
                       help="accept --data files that are not MNIST's own (other data in MNIST's layout)")
    train.add_argument("--out", help="run directory (default runs/<timestamp>); a directory holding another run "
                                     "is refused unless --overwrite is given")
    train.add_argument("--overwrite", action="store_true",
                       help="reuse an --out that holds another run: its files (checkpoints, metrics.json, figures) "
                            "are deleted first")
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue the run saved in CHECKPOINT")
    train.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    train.add_argument("--dry-run", action="store_true", help="run 5 steps only (smoke test)")

    evaluate = sub.add_parser("evaluate", help="test accuracy, confusion matrix and per-class table")
    evaluate.add_argument("path", metavar="PATH",
                          help="a run directory (the --out of train; its best.npz is evaluated, or checkpoint.npz "
                               "when no epoch has completed) or a checkpoint file")
    evaluate.add_argument("--data", help="directory of IDX files named like MNIST's")

    predict = sub.add_parser("predict", help="the digit in one image, with the ten probabilities")
    predict.add_argument("checkpoint", metavar="PATH",
                         help="a run directory (its best.npz is used) or a checkpoint file")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--index", type=non_negative_int, help="index of a test-set image")
    source.add_argument("image", nargs="?", help="a 28x28 image: .npy or .pgm")
    predict.add_argument("--data", help="directory of IDX files named like MNIST's (for --index)")

    data = sub.add_parser("data", help="check the MNIST files: counts and checksums")
    data.add_argument("--root", help="directory holding the files (default: the bundled copy)")

    compare = sub.add_parser("backprop-compare",
                             help="Jacobian chain, closed form and engine: time, memory and gradient agreement")
    compare.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[1, 10, 50],
                         help="batch sizes to measure, each on the first test images (1 10 50)")
    compare.add_argument("--hidden", type=positive_int, nargs="+", default=[32],
                         help="hidden layer widths, one value per layer (32)")
    compare.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    compare.add_argument("--seed", type=non_negative_int, default=0, help="seed of the initial weights (0)")
    compare.add_argument("--skip-chain", action="store_true",
                         help="compare only the closed form and the engine (for networks too wide for the chain)")
    compare.add_argument("--chain-limit-gb", type=positive_float, default=backprop_compare.DEFAULT_CHAIN_LIMIT / 1e9,
                         help="refuse a Jacobian chain estimated above this many GB per sample (1)")

    graph = sub.add_parser("graph", help="draw a model's training graph (Graphviz DOT, or SVG/PNG with dot)")
    _add_architecture_arguments(graph)
    graph.add_argument("--grads", action="store_true", help="run backward first and show the parameters' gradients")
    graph.add_argument("--out", required=True, help="output file: .svg, .png, .pdf (needs Graphviz) or .dot")
    explore_command.add_parser(sub)

    plot = sub.add_parser("plot", help="PNG figures of a run: curves, confusion matrix, first layer, mistakes")
    plot.add_argument("path", metavar="PATH",
                      help="a run directory (the --out of train: metrics.json with best.npz or checkpoint.npz; "
                           "best.npz is drawn) or a checkpoint file in one (that checkpoint is drawn)")
    plot.add_argument("--out", help="where to write the PNGs (default: the run directory)")
    plot.add_argument("--data", help="IDX directory for the test set (default: the one the run was trained on)")
    return parser
