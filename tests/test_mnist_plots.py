"""PNG figures of a run (tinygrad_mnist.mnist.plots): each figure, a whole run, and the errors."""

from __future__ import annotations

import json
import struct
import sys
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from tinygrad_mnist.mnist.training import Trainer, TrainConfig
from tinygrad_mnist.mnist import plots
from tinygrad_mnist.mnist.plots import INSTALL_HINT, MissingMatplotlib, PlotError, pixel_size

from train_helpers import synthetic_digits, write_split

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def mpl() -> Iterator[None]:
    """Skip the test when matplotlib is not installed; turn every warning into an error."""
    pytest.importorskip("matplotlib")
    pytest.importorskip("matplotlib.backends.backend_agg")  # imported before the warnings become errors
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk of a PNG file, after checking its signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    assert data[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82", f"{path} is truncated"
    return width, height


def ink_fraction(path: Path) -> float:
    """Fraction of pixels that are not white (so that a blank figure is caught)."""
    from matplotlib.image import imread

    pixels = imread(path)[..., :3]
    return float(np.mean(pixels.min(axis=2) < 0.95))


HISTORY = [
    {"epoch": 1, "train_loss": 0.9, "train_accuracy": 0.7, "val_accuracy": 0.75, "lr": 1e-3, "seconds": 1.0},
    {"epoch": 2, "train_loss": 0.5, "train_accuracy": 0.85, "val_accuracy": 0.8, "lr": 5e-4, "seconds": 1.0},
    {"epoch": 3, "train_loss": 0.3, "train_accuracy": 0.9, "val_accuracy": 0.82, "lr": 1e-4, "seconds": 1.0},
]


# ---- matplotlib absent -------------------------------------------------------------------


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes ``import matplotlib`` fail
    with pytest.raises(MissingMatplotlib) as info:
        plots.plot_curves(HISTORY, tmp_path / "curves.png")
    assert isinstance(info.value, ImportError)
    assert str(info.value) == "plots need matplotlib: pip install 'tinygrad_mnist[viz]'" == INSTALL_HINT
    with pytest.raises(MissingMatplotlib):  # before reading anything
        plots.plot_run(tmp_path / "no-such-run")
    assert list(tmp_path.iterdir()) == []


# ---- single figures ----------------------------------------------------------------------


def test_curves(mpl: None, tmp_path: Path) -> None:
    out = plots.plot_curves(HISTORY, tmp_path / "curves.png", test_accuracy=0.81)
    assert out == tmp_path / "curves.png"
    assert png_size(out) == pixel_size("curves") == (1000, 400)
    assert ink_fraction(out) > 0.01


def test_curves_without_validation_or_epochs(mpl: None, tmp_path: Path) -> None:
    no_val = [dict(row, val_accuracy=float("nan")) for row in HISTORY[:1]]
    assert png_size(plots.plot_curves(no_val, tmp_path / "a.png")) == pixel_size("curves")
    assert png_size(plots.plot_curves([], tmp_path / "b.png")) == pixel_size("curves")


def test_curves_reject_history_without_losses(mpl: None, tmp_path: Path) -> None:
    with pytest.raises(PlotError, match="train_loss"):
        plots.plot_curves([{"epoch": 1}], tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def test_confusion(mpl: None, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 20, size=(10, 10)) + np.diag(rng.integers(500, 1000, size=10))
    out = plots.plot_confusion(matrix, tmp_path / "confusion.png")
    assert png_size(out) == pixel_size("confusion") == (700, 600)
    assert ink_fraction(out) > 0.05


@pytest.mark.parametrize("matrix", [np.zeros((3, 4), dtype=np.int64), np.full((2, 2), 0.5), -np.eye(2, dtype=int)])
def test_confusion_rejects_bad_matrices(mpl: None, tmp_path: Path, matrix: np.ndarray) -> None:
    with pytest.raises(PlotError, match="confusion matrix"):
        plots.plot_confusion(matrix, tmp_path / "bad.png")


def test_first_layer(mpl: None, tmp_path: Path) -> None:
    weight = np.random.default_rng(1).normal(size=(100, 784)).astype(np.float32)
    out = plots.plot_first_layer(weight, tmp_path / "first_layer.png", max_units=16)
    assert png_size(out) == pixel_size("first_layer") == (800, 850)
    assert ink_fraction(out) > 0.3
    few = plots.plot_first_layer(weight[:3], tmp_path / "few.png")  # fewer units than max_units
    assert png_size(few) == pixel_size("first_layer")


def test_first_layer_needs_784_inputs(mpl: None, tmp_path: Path) -> None:
    with pytest.raises(PlotError, match=r"\(units, 784\)"):
        plots.plot_first_layer(np.zeros((4, 100)), tmp_path / "w.png")


def test_misclassified(mpl: None, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    true = rng.integers(0, 10, size=50)
    predicted = true.copy()
    predicted[::3] = (predicted[::3] + 1) % 10
    out = plots.plot_misclassified(images, true, predicted, tmp_path / "misclassified.png", max_images=9)
    assert png_size(out) == pixel_size("misclassified") == (800, 900)
    assert ink_fraction(out) > 0.05
    none_wrong = plots.plot_misclassified(images, true, true, tmp_path / "none.png")
    assert png_size(none_wrong) == pixel_size("misclassified")
    with pytest.raises(PlotError, match="labels"):
        plots.plot_misclassified(images, true[:10], predicted[:10], tmp_path / "bad.png")


def test_misclassified_are_titled_pred_then_true(mpl: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    titles: list[str] = []
    save = plots._save

    def capture(figure, path):  # type: ignore[no-untyped-def]
        titles.extend(axes.get_title() for axes in figure.axes if axes.get_title())
        return save(figure, path)

    monkeypatch.setattr(plots, "_save", capture)
    images = np.zeros((4, 784), dtype=np.uint8)  # flattened rows are accepted too
    plots.plot_misclassified(images, np.array([1, 2, 3, 4]), np.array([1, 7, 3, 9]), tmp_path / "m.png")
    assert titles == ["pred 7 / true 2", "pred 9 / true 4"]


def test_a_failed_render_leaves_the_previous_file(mpl: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = plots.plot_confusion(np.eye(3, dtype=int), tmp_path / "confusion.png")
    before = out.read_bytes()

    def broken(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("renderer failed")

    from matplotlib.figure import Figure

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="renderer failed"):
        plots.plot_confusion(np.eye(3, dtype=int) * 2, out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["confusion.png"]


# ---- a whole run -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data directory in MNIST's layout, run directory of a two-epoch run on it)."""
    data_dir = tmp_path_factory.mktemp("synthetic-mnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 300), ("test", 100)):
        images, labels = synthetic_digits(n, rng)
        if split == "test":
            labels[:5] = (labels[:5] + 1) % 10  # some certain mistakes
        write_split(data_dir, split, images, labels)
    run_dir = tmp_path_factory.mktemp("run")
    config = TrainConfig(epochs=2, batch_size=32, hidden=[16], val_size=50, data=str(data_dir), allow_noncanonical_data=True)
    Trainer(config, out=run_dir, log=lambda message: None, progress=False).fit()
    return data_dir, run_dir


def test_plot_run_writes_four_pngs(mpl: None, synthetic_run: tuple[Path, Path]) -> None:
    data_dir, run_dir = synthetic_run
    paths = plots.plot_run(run_dir, data=str(data_dir))
    names = ["curves.png", "confusion.png", "first_layer.png", "misclassified.png"]
    assert paths == [run_dir / name for name in names]
    for path, kind in zip(paths, ["curves", "confusion", "first_layer", "misclassified"]):
        assert png_size(path) == pixel_size(kind)
        assert ink_fraction(path) > 0.01
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".part")]


def test_plot_run_out_dir_and_checkpoint_fallback(mpl: None, synthetic_run: tuple[Path, Path], tmp_path: Path) -> None:
    data_dir, run_dir = synthetic_run
    copy = tmp_path / "run-copy"
    copy.mkdir()
    for name in ("metrics.json", "checkpoint.npz"):  # no best.npz: falls back to checkpoint.npz
        (copy / name).write_bytes((run_dir / name).read_bytes())
    out = tmp_path / "figures" / "nested"
    paths = plots.plot_run(copy, out_dir=out, data=str(data_dir))
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths) and len(paths) == 4
    assert sorted(p.name for p in copy.iterdir()) == ["checkpoint.npz", "metrics.json"]


def test_plot_run_missing_pieces(mpl: None, synthetic_run: tuple[Path, Path], tmp_path: Path) -> None:
    data_dir, run_dir = synthetic_run
    missing = tmp_path / "nowhere"
    with pytest.raises(PlotError, match=f"{missing}: run directory not found"):
        plots.plot_run(missing, data=str(data_dir))

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PlotError, match="metrics file not found") as info:
        plots.plot_run(empty, data=str(data_dir))
    assert str(empty / "metrics.json") in str(info.value)
    assert isinstance(info.value, ValueError)

    (empty / "metrics.json").write_text(json.dumps({"history": HISTORY}))
    with pytest.raises(PlotError, match="checkpoint not found") as info:
        plots.plot_run(empty, data=str(data_dir))
    assert str(empty / "best.npz") in str(info.value) and str(empty / "checkpoint.npz") in str(info.value)
    with pytest.raises(PlotError, match="other.npz: checkpoint not found"):
        plots.plot_run(run_dir, data=str(data_dir), checkpoint="other.npz")

    (empty / "metrics.json").write_text("{not json")
    with pytest.raises(PlotError, match="not readable JSON"):
        plots.plot_run(empty, data=str(data_dir))
    assert sorted(p.name for p in empty.iterdir()) == ["metrics.json"]


# ---- the command ---------------------------------------------------------------------------
def test_plot_command_uses_the_runs_own_data(mpl: None, synthetic_run: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tinygrad_mnist.mnist.cli import main

    data_dir, run_dir = synthetic_run  # trained with --data: the command must score on that data, not MNIST
    seen = []
    real = plots.load_split
    monkeypatch.setattr(plots, "load_split", lambda split, data: seen.append((split, data)) or real(split, data))
    assert main(["plot", str(run_dir), "--out", str(tmp_path)]) == 0
    assert seen == [("test", str(data_dir))]
    written = [line.split(" ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert [Path(p).name for p in written] == ["curves.png", "confusion.png", "first_layer.png", "misclassified.png"]
    assert all(png_size(Path(p))[0] > 0 for p in written)


def test_plot_command_errors_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from tinygrad_mnist.mnist.cli import main

    assert main(["plot", str(tmp_path / "missing")]) in (2,)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0]
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["plot", str(tmp_path)]) == 2
    assert "pip install 'tinygrad_mnist[viz]'" in capsys.readouterr().err
