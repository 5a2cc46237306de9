"""PNG figures of a training run: learning curves, confusion matrix, first-layer weights, mistakes.

matplotlib is optional (``pip install 'tinygrad_mnist[viz]'``) and imported
only when a figure is drawn; without it every function raises
`MissingMatplotlib`. Figures are drawn on matplotlib's Agg canvas
(no display, no pyplot state) at a fixed size and resolution, so each PNG
always has the same pixel dimensions (see `SIZES`), and each file is
written atomically: a reader never sees a half-written image.

Examples:
    >>> sorted(SIZES)
    ['confusion', 'curves', 'first_layer', 'misclassified']
    >>> pixel_size("curves")
    (1000, 400)
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import atomic_write
from ..nn.layers import Conv2d, Linear
from ..nn.module import Module
from .checkpoint import load_model
from .metrics import confusion_matrix
from .training import load_split, predict_logits

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "plots need matplotlib: pip install 'tinygrad_mnist[viz]'"
DPI = 100
# Figure sizes in inches; the PNG is (width * DPI) x (height * DPI) pixels.
SIZES: dict[str, tuple[float, float]] = {
    "curves": (10.0, 4.0),
    "confusion": (7.0, 6.0),
    "first_layer": (8.0, 8.5),
    "misclassified": (8.0, 9.0),
}
FILENAMES = {name: f"{name}.png" for name in SIZES}
IMAGE_SIDE = 28


class MissingMatplotlib(ImportError):
    """matplotlib is not installed; the message says how to install it."""


class PlotError(ValueError):
    """A run directory, metrics file or checkpoint is missing or unusable, or an input has the wrong shape."""


def pixel_size(kind: str) -> tuple[int, int]:
    """(width, height) in pixels of the PNG drawn for ``kind`` (a key of `SIZES`)."""
    width, height = SIZES[kind]
    return round(width * DPI), round(height * DPI)


def _new_figure(kind: str) -> Figure:
    """An empty figure of the fixed size for ``kind``, on an Agg canvas (no display needed)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingMatplotlib(INSTALL_HINT) from None
    figure = Figure(figsize=SIZES[kind], dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | Path) -> Path:
    """Render ``figure`` to PNG in memory, then write it to ``path`` atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    target = Path(path)
    with atomic_write(target) as out:
        out.write(buffer.getvalue())
    return target


def _message(figure: Figure, text: str) -> None:
    """A figure that only says ``text`` (for runs with nothing to show)."""
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.text(0.5, 0.5, text, ha="center", va="center", fontsize=14, transform=axes.transAxes)


def _images(name: str, array: np.ndarray) -> np.ndarray:
    """``array`` as (N, 28, 28), accepting flattened (N, 784) rows."""
    images = np.asarray(array)
    if images.ndim == 2 and images.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
        images = images.reshape(len(images), IMAGE_SIDE, IMAGE_SIDE)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise PlotError(f"{name} must have shape (N, 28, 28) or (N, 784), got {np.shape(array)}")
    return images


def _grid(count: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid holding ``count`` cells."""
    columns = max(1, math.ceil(math.sqrt(count)))
    return max(1, math.ceil(count / columns)), columns


# ---- single figures ----------------------------------------------------------------------


def plot_curves(history: Sequence[Mapping[str, Any]], path: str | Path,
                test_accuracy: float | None = None) -> Path:
    """Training loss, and training and validation accuracy, per epoch (``metrics.json``'s history).

    Args:
        history: one mapping per epoch with ``epoch``, ``train_loss``,
            ``train_accuracy`` and ``val_accuracy`` (NaN when there was no
            validation split).
        path: the PNG to write (`pixel_size` ``("curves")`` pixels).
        test_accuracy: drawn as a horizontal line when given.

    Returns:
        ``path`` as a `Path`.
    """
    figure = _new_figure("curves")
    if not history:
        _message(figure, "no completed epochs in this run")
        return _save(figure, path)
    try:
        epochs = [int(row["epoch"]) for row in history]
        loss = [float(row["train_loss"]) for row in history]
        train_acc = [float(row["train_accuracy"]) for row in history]
        val_acc = [float(row["val_accuracy"]) for row in history]
    except (KeyError, TypeError, ValueError) as exc:
        raise PlotError(f"history: each epoch needs epoch, train_loss, train_accuracy and val_accuracy ({exc!r})") \
            from None
    from matplotlib.ticker import MaxNLocator

    loss_axes, acc_axes = figure.subplots(1, 2)
    loss_axes.plot(epochs, loss, marker="o", color="tab:red", label="train loss")
    loss_axes.set_title("training loss (cross-entropy)")
    loss_axes.set_ylabel("loss")
    acc_axes.plot(epochs, train_acc, marker="o", color="tab:blue", label="train")
    if not all(math.isnan(v) for v in val_acc):
        acc_axes.plot(epochs, val_acc, marker="s", color="tab:orange", label="validation")
    if test_accuracy is not None and math.isfinite(test_accuracy):
        acc_axes.axhline(test_accuracy, color="tab:green", linestyle="--", label=f"test {test_accuracy:.4f}")
    acc_axes.set_title("accuracy")
    acc_axes.set_ylabel("accuracy")
    for axes in (loss_axes, acc_axes):
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best")
    return _save(figure, path)


def plot_confusion(matrix: np.ndarray, path: str | Path) -> Path:
    """Heatmap of a confusion matrix (rows: true digit, columns: predicted), each cell's count written in it.

    Args:
        matrix: square array of counts, ``matrix[i, j]`` = samples of class i
            predicted as j (see `tinygrad_mnist.mnist.metrics.confusion_matrix`).
        path: the PNG to write (`pixel_size` ``("confusion")`` pixels).
    """
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise PlotError(f"confusion matrix must be square and non-empty, got shape {counts.shape}")
    if counts.dtype.kind not in "iu" or (counts < 0).any():
        raise PlotError(f"confusion matrix must hold non-negative integer counts, got dtype {counts.dtype}")
    figure = _new_figure("confusion")
    axes = figure.add_subplot()
    k = counts.shape[0]
    peak = int(counts.max())
    image = axes.imshow(counts, cmap="Blues", vmin=0, vmax=max(peak, 1))
    figure.colorbar(image, ax=axes, label="images")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                value = int(counts[i, j])
                axes.text(j, i, str(value), ha="center", va="center", fontsize=8,
                          color="white" if value > peak / 2 else "black")
    axes.set_xticks(range(k))
    axes.set_yticks(range(k))
    axes.set_xlabel("predicted digit")
    axes.set_ylabel("true digit")
    total = int(counts.sum())
    accuracy = f", accuracy {np.trace(counts) / total:.4f}" if total else ""
    axes.set_title(f"confusion matrix ({total} images{accuracy})")
    return _save(figure, path)


def plot_first_layer(weight: np.ndarray, path: str | Path, max_units: int = 64) -> Path:
    """The first layer's weights as images, in a grid: what each unit looks for.

    For an MLP each hidden unit's 784 incoming weights are drawn as a 28x28
    image; for a CNN each convolution filter is drawn as a k x k image. Weights
    use a diverging colormap centred at 0 (red positive, blue negative), scaled
    to that unit's largest absolute weight.

    Args:
        weight: (units, 784) as in ``Linear.weight``, or (filters, 1, k, k) as
            in the ``Conv2d.weight`` of a layer reading one-channel images.
        path: the PNG to write (`pixel_size` ``("first_layer")`` pixels).
        max_units: draw the first this many units.
    """
    array = np.asarray(weight, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
        images, what = array.reshape(-1, IMAGE_SIDE, IMAGE_SIDE), "hidden units"
    elif array.ndim == 4 and array.shape[1] == 1:
        images, what = array[:, 0], f"{array.shape[2]}x{array.shape[3]} convolution filters"
    else:
        raise PlotError(f"first-layer weight must have shape (units, 784) or (filters, 1, k, k), "
                        f"got {np.shape(weight)}")
    if max_units < 1:
        raise PlotError(f"max_units must be at least 1, got {max_units}")
    shown = images[:max_units]
    figure = _new_figure("first_layer")
    figure.suptitle(f"first layer: weights of {len(shown)} of {len(images)} {what} "
                    "(red +, blue -, each scaled to its max |w|)")
    n_rows, n_cols = _grid(len(shown))
    grid = figure.subplots(n_rows, n_cols, squeeze=False)
    for index, axes in enumerate(grid.flat):
        axes.set_axis_off()
        if index < len(shown):
            unit = shown[index]
            bound = float(np.abs(unit).max()) or 1.0
            axes.imshow(unit, cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
    return _save(figure, path)


def plot_misclassified(images: np.ndarray, true: np.ndarray, predicted: np.ndarray, path: str | Path,
                       max_images: int = 36) -> Path:
    """A grid of misclassified digits, each titled "pred P / true T".

    Only images whose prediction differs from the label are drawn, in the
    order given, at most ``max_images`` of them.

    Args:
        images: (N, 28, 28) or (N, 784) pixels (any range; uint8 0..255 as in MNIST).
        true, predicted: (N,) integer labels.
        path: the PNG to write (`pixel_size` ``("misclassified")`` pixels).
        max_images: the most digits drawn.
    """
    pixels = _images("images", images)
    true, predicted = np.asarray(true), np.asarray(predicted)
    if true.shape != (len(pixels),) or predicted.shape != (len(pixels),):
        raise PlotError(f"{len(pixels)} images need as many labels and predictions, "
                        f"got shapes {true.shape} and {predicted.shape}")
    if max_images < 1:
        raise PlotError(f"max_images must be at least 1, got {max_images}")
    wrong = np.flatnonzero(true != predicted)
    figure = _new_figure("misclassified")
    if len(wrong) == 0:
        _message(figure, f"no misclassified images among {len(pixels)}")
        return _save(figure, path)
    shown = wrong[:max_images]
    figure.suptitle(f"misclassified: {len(shown)} of {len(wrong)} wrong out of {len(pixels)}")
    n_rows, n_cols = _grid(len(shown))
    grid = figure.subplots(n_rows, n_cols, squeeze=False)
    high = 255 if pixels.dtype == np.uint8 else None
    for index, axes in enumerate(grid.flat):
        axes.set_axis_off()
        if index < len(shown):
            i = shown[index]
            axes.imshow(pixels[i], cmap="gray_r", vmin=0, vmax=high, interpolation="nearest")
            axes.set_title(f"pred {int(predicted[i])} / true {int(true[i])}", fontsize=9)
    return _save(figure, path)


# ---- a whole run -------------------------------------------------------------------------


def _read_metrics(run: Path) -> dict[str, Any]:
    metrics_path = run / "metrics.json"
    if not metrics_path.is_file():
        raise PlotError(f"{metrics_path}: metrics file not found (is {run} a training run directory?)")
    try:
        record = json.loads(metrics_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlotError(f"{metrics_path}: not readable JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("history", []), list):
        raise PlotError(f"{metrics_path}: expected an object with a \"history\" list")
    return record


def _checkpoint_path(run: Path, checkpoint: str | Path) -> Path:
    path = run / checkpoint
    if path.is_file():
        return path
    fallback = run / "checkpoint.npz"
    if Path(checkpoint).name == "best.npz" and fallback.is_file():
        return fallback
    tried = f"{path}" + (f" or {fallback}" if Path(checkpoint).name == "best.npz" else "")
    raise PlotError(f"{tried}: checkpoint not found")


def first_layer_weight(model: Module) -> np.ndarray:
    """The weight of the first `Linear` or `Conv2d` in ``model``."""
    for module in model.modules():
        if isinstance(module, (Linear, Conv2d)):
            return np.asarray(module.weight.data)
    raise PlotError(f"model has no Linear or Conv2d layer: {model!r}")


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None, data: str | None = None,
             checkpoint: str = "best.npz") -> list[Path]:
    """Draw the four figures of a training run; returns the PNG paths.

    Reads ``run_dir/metrics.json`` and the checkpoint (``best.npz``, or
    ``checkpoint.npz`` when the run has no ``best.npz``), evaluates the model
    on the test split (of ``data``, an IDX directory; by default the data the
    run was trained on, which is the bundled MNIST unless it used ``--data``), and
    writes ``curves.png``, ``confusion.png``, ``first_layer.png`` and
    ``misclassified.png`` into ``out_dir`` (default ``run_dir``).

    Raises:
        MissingMatplotlib: matplotlib is not installed (an ImportError).
        PlotError: the run directory, its metrics.json or the checkpoint is
            missing or unreadable (a ValueError; the message names the path).
        CheckpointError: the checkpoint is corrupt or lacks an architecture.
        StateDictError: the checkpoint's arrays do not fit its architecture.
        MNISTError: the test files are missing or malformed.
    """
    _new_figure("curves")  # fail early, before any loading, when matplotlib is absent
    run = Path(run_dir)
    if not run.is_dir():
        raise PlotError(f"{run}: run directory not found")
    record = _read_metrics(run)
    test = record.get("test_accuracy")
    history, test_accuracy = record.get("history", []), float(test) if isinstance(test, (int, float)) else None
    if data is None:  # score the run on the data it was trained on
        config = record.get("config")
        data = config.get("data") if isinstance(config, dict) else None
    model, _ = load_model(_checkpoint_path(run, checkpoint))
    images, labels = load_split("test", data)
    logits = predict_logits(model, images)
    predicted, labels = logits.argmax(axis=1), labels.astype(np.int64)
    classes = max(logits.shape[1], int(labels.max(initial=-1)) + 1)
    target = Path(out_dir) if out_dir is not None else run
    return [
        plot_curves(history, target / FILENAMES["curves"], test_accuracy),
        plot_confusion(confusion_matrix(labels, predicted, num_classes=classes), target / FILENAMES["confusion"]),
        plot_first_layer(first_layer_weight(model), target / FILENAMES["first_layer"]),
        plot_misclassified(images, labels, predicted, target / FILENAMES["misclassified"]),
    ]
