"""The ``tinygrad-mnist`` command: train, evaluate, predict, data, plot, graph, explore, backprop-compare.

Bad arguments end with status 2 and one line naming the argument and what was
expected; Ctrl-C (SIGINT) or SIGTERM during training saves a checkpoint and ends
with status 130 or 143; Ctrl-C before training starts ends with 130 and no
traceback; output cut short by its reader (``evaluate RUN | head -1``) ends
quietly with status 141, as a process ended by SIGPIPE.
evaluate, predict and plot take a run directory (the ``--out`` of train) or a
checkpoint file; a run directory stands for its ``best.npz`` (its
``checkpoint.npz`` when no epoch has completed).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import signal
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

if __name__ == "__main__":  # python -m: Ctrl-C while the modules below load ends without a traceback
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))

import numpy as np

from ..datasets import MNISTError
from ..datasets.__main__ import verify
from ..nn.module import Module, StateDictError
from ..viz import GraphvizMissingWarning, how_to_render
from . import backprop_compare, explore_command, graphs, metrics, plots, rundir
from .checkpoint import CheckpointError, load_model
from .imageio import ImageError, read_image
from .models import ACTIVATIONS, describe
from .rundir import RUN_OR_CHECKPOINT, RunDirError
from .schema import SchemaError
from .threads import blas_threads
from .training import (
    MODEL_DEFAULTS,
    OPTIMIZERS,
    ConfigError,
    Interrupted,
    TrainConfig,
    Trainer,
    checkpoint_progress,
    load_split,
    predict_logits,
)


class UsageError(Exception):
    """A bad argument or input file: reported in one line, exit status 2."""


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


# ---- PATH: a run directory or a checkpoint file ----------------------------------------


def _load(path: Path) -> tuple[Module, dict[str, Any]]:
    try:
        return load_model(path)
    except CheckpointError as exc:
        raise UsageError(f"argument PATH: {exc}; expected {RUN_OR_CHECKPOINT}") from None
    except StateDictError as exc:
        raise UsageError(f"argument PATH: checkpoint {path}: its weights do not fit its architecture ({exc})") \
            from None


def _progress(progress: dict[str, Any]) -> str:
    """`checkpoint_progress` in words, e.g. "epoch 7, validation accuracy 0.9830"."""
    if "epoch" not in progress:
        return "no training state recorded"
    if progress["mid_epoch"]:
        where = f"step {progress['step']}, inside epoch {progress['epoch'] + 1}"
    else:
        where = f"epoch {progress['epoch']}"
    val = progress["val_accuracy"]
    if val is None:
        return where
    return f"{where}, " + ("no validation split" if math.isnan(val) else f"validation accuracy {val:.4f}")


# ---- commands ----------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume and not Path(args.resume).is_file():
        raise UsageError(f"argument --resume: {args.resume} is not a file; expected a checkpoint written by train")
    out, same_run = rundir.out_for(args.out, args.resume, Path("runs") / time.strftime("%Y%m%d-%H%M%S"))
    with rundir.run_dir_session(out, overwrite=args.overwrite, same_run=same_run):
        return _train(args, out)


def _train(args: argparse.Namespace, out: Path) -> int:
    log = (lambda message: None) if args.quiet else print
    if args.resume:
        trainer = Trainer.resume(args.resume, out=out, log=log, progress=not args.quiet)
        print(f"resuming {args.resume} at epoch {trainer.state.epoch + 1}, step {trainer.state.step}")
        saved, now = trainer.checkpoint_blas_threads, blas_threads()
        if saved is not None and now is not None and saved != now:
            print(f"tinygrad-mnist train: warning: the checkpoint was saved with a BLAS thread count of {saved} and "
                  f"this process uses {now}; the continuation will not be bit-identical to an uninterrupted run",
                  file=sys.stderr)
    else:
        given = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "hidden": args.hidden,
                 "dropout": args.dropout}
        config = TrainConfig.for_model(
            args.model, optimizer=args.optimizer, momentum=args.momentum,
            channels=list(args.channels), activation=args.activation,
            weight_decay=args.weight_decay, scheduler=args.scheduler, seed=args.seed, val_size=args.val_size,
            data=args.data, allow_noncanonical_data=args.allow_noncanonical_data, max_steps=5 if args.dry_run else None,
            **{name: value for name, value in given.items() if value is not None},
        )
        trainer = Trainer(config, out, log=log, progress=not args.quiet)
        log(f"training {describe(config.architecture())} with {config.optimizer}, lr {config.lr}, "
            f"batch {config.batch_size}, {config.epochs} epochs -> {trainer.out}")
    started = time.perf_counter()
    try:
        result = trainer.fit()
    except Interrupted as stop:
        how = "interrupted" if stop.signum == signal.SIGINT else "terminated"
        print(f"\n{how} at epoch {trainer.state.epoch + 1}, step {trainer.state.step}; "
              f"checkpoint saved to {stop.args[0]}\nresume with: tinygrad-mnist train --resume {stop.args[0]}")
        return 128 + stop.signum
    print(f"test accuracy {result['test_accuracy']:.4f} of the final weights, after {trainer.state.step} steps "
          f"({time.perf_counter() - started:.1f} s); run saved in {trainer.out}")
    best = result.get("best_checkpoint")
    if best:
        role = "best checkpoint" if best["checkpoint"] == "best.npz" else \
            "no best.npz (no epoch completed); last checkpoint"
        print(f"{role} {trainer.out / best['checkpoint']} ({_progress(best)}): test accuracy "
              f"{best['test_accuracy']:.4f}, as `tinygrad-mnist evaluate {shlex.quote(str(trainer.out))}` reports")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    checkpoint = rundir.checkpoint_path(args.path)
    model, metadata = _load(checkpoint)
    role = ""
    if Path(args.path).is_dir():
        role = ", the run's best" if checkpoint.name == "best.npz" else ", the run's last, as it has no best.npz"
    images, labels = load_split("test", args.data)
    logits = predict_logits(model, images)
    _warn_not_finite("weights", [p.data for p in model.parameters()])
    _warn_not_finite("outputs (logits)", [logits])
    predictions = logits.argmax(axis=1)
    print(f"test accuracy {metrics.accuracy(labels, predictions):.4f} on {len(labels)} images; "
          f"checkpoint {checkpoint}{role} ({_progress(checkpoint_progress(metadata))})\n")
    matrix = metrics.confusion_matrix(labels, predictions, num_classes=10)
    print("confusion matrix (rows: true digit, columns: predicted)")
    print("      " + " ".join(f"{k:5d}" for k in range(10)))
    for k, row in enumerate(matrix):
        print(f"{k:5d} " + " ".join(f"{n:5d}" for n in row))
    print()
    print(metrics.classification_report(labels, predictions, num_classes=10))
    return 0


def _warn_not_finite(what: str, arrays: list[np.ndarray]) -> None:
    """One line on stderr when some of ``arrays``' values are NaN or infinite."""
    bad, total = sum(int((~np.isfinite(a)).sum()) for a in arrays), sum(a.size for a in arrays)
    if bad:
        print(f"tinygrad-mnist evaluate: warning: {bad:,} of {total:,} {what} are NaN or infinite; "
              f"the accuracy below is meaningless", file=sys.stderr)


def cmd_predict(args: argparse.Namespace) -> int:
    model, _ = _load(rundir.checkpoint_path(args.checkpoint))
    if args.index is not None:
        images, labels = load_split("test", args.data)
        if args.index >= len(images):
            raise UsageError(f"argument --index: expected an index below {len(images)}, got {args.index}")
        image, note = images[args.index], f" (true label {labels[args.index]})"
    else:
        image, note = read_image(args.image), ""
    logits = predict_logits(model, image[None])[0].astype(np.float64)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    print(f"digit {int(probabilities.argmax())}{note}")
    for k, p in enumerate(probabilities):
        print(f"  {k}: {p:.4f}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    return verify(args.root)


def cmd_backprop_compare(args: argparse.Namespace) -> int:
    dims = "-".join(str(n) for n in backprop_compare.layer_sizes(args.hidden))
    try:
        rows = backprop_compare.compare(args.batch_sizes, args.hidden, args.activation, args.seed,
                                        skip_chain=args.skip_chain, chain_limit=args.chain_limit_gb * 1e9)
    except backprop_compare.ChainTooLarge as exc:
        raise UsageError(str(exc)) from None
    except backprop_compare.BatchTooLarge as exc:
        raise UsageError(f"argument --batch-sizes: {exc}") from None
    print(f"backpropagation of mean cross-entropy through {dims} {args.activation} (float64, seed {args.seed}) "
          f"on MNIST test images")
    print(backprop_compare.format_table(rows))
    if not args.skip_chain:
        estimate = backprop_compare.chain_bytes_per_sample(args.hidden)
        print(f"\nJacobian chain for {dims}: estimated {estimate / 1e6:.1f} MB of Jacobians per sample (float64)")
    print(backprop_compare.write_up_estimate())
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    out = Path(args.out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GraphvizMissingWarning)  # said below, in one clean line
        try:
            config = TrainConfig.for_model(args.model, channels=list(args.channels), activation=args.activation,
                                           **({"hidden": list(args.hidden)} if args.hidden else {}))
            written = graphs.write_graph(out, show_grads=args.grads, architecture=config.architecture())
        except ValueError as exc:
            raise UsageError(f"argument --out: {exc}") from None
    if written.suffix == ".dot" != out.suffix:
        print(how_to_render(written, out))
    else:
        print(f"wrote {written}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401  (said before any path is checked)
    except ImportError:
        raise UsageError(plots.INSTALL_HINT) from None
    path = rundir.existing_path(args.path)
    if path.is_dir():
        run, checkpoint = path, rundir.run_dir_checkpoint(path).name
    else:
        _load(path)  # a checkpoint at all? (said before where it lies)
        run, checkpoint = path.parent, path.name
    if not (run / "metrics.json").is_file():
        where = f"{run} has no metrics.json" if path.is_dir() else \
            f"checkpoint {path} is not in a run directory (no metrics.json beside it)"
        raise UsageError(f"argument PATH: {where}; plot needs the run directory written by train (metrics.json "
                         f"with best.npz or checkpoint.npz) or a checkpoint file in it")
    try:
        paths = plots.plot_run(run, out_dir=args.out, data=args.data, checkpoint=checkpoint)
    except (plots.MissingMatplotlib, plots.PlotError) as exc:
        raise UsageError(str(exc)) from None
    for written in paths:
        print(f"wrote {written}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "data": cmd_data,
            "backprop-compare": cmd_backprop_compare, "graph": cmd_graph, "plot": cmd_plot,
            "explore": explore_command.run}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        try:
            status = COMMANDS[args.command](args)
        except (UsageError, RunDirError, ConfigError, CheckpointError, StateDictError, MNISTError, ImageError,
                explore_command.ExploreError) as exc:
            print(f"tinygrad-mnist {args.command}: error: {exc}", file=sys.stderr)
            status = 2
        except SchemaError as exc:  # an architecture out of range, from the command line's own numbers
            print(f"tinygrad-mnist {args.command}: error: the model's architecture: {exc}", file=sys.stderr)
            status = 2
        sys.stdout.flush()  # a closed pipe is reported here, not at exit
        return status
    except KeyboardInterrupt:
        print("\ntinygrad-mnist: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout has gone: no more output, no traceback
        with contextlib.suppress(OSError, ValueError):  # ValueError: stdout is no file (in-process callers)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
