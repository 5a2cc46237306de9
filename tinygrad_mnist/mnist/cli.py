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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # python -m: Ctrl-C while the modules below load ends without a traceback
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))

import numpy as np

from ..datasets import MNISTError
from ..datasets.__main__ import verify
from ..nn.module import Module, StateDictError
from ..viz import GraphvizMissingWarning, how_to_render
from . import backprop_compare, explore_command, graphs, metrics, plots, rundir
from .arguments import build_parser
from .checkpoint import CheckpointError, load_model
from .imageio import ImageError, read_image
from .models import describe
from .rundir import RUN_OR_CHECKPOINT, RunDirError
from .schema import SchemaError
from .threads import blas_threads
from .training import (
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
