"""The CNN end to end: its architecture, training, checkpoints and the CLI's commands on it.

The model is checked against an independent description (shapes and parameter
counts computed here from the layer arithmetic), and, where PyTorch is
installed, against PyTorch's layers with the same weights (values and
gradients). Training runs use a tiny synthetic dataset in MNIST's layout.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_mnist import Tensor, manual_seed, nn
from tinygrad_mnist.mnist import cli
from tinygrad_mnist.mnist.checkpoint import load_checkpoint, load_model
from tinygrad_mnist.mnist.models import build_model, cnn_architecture, describe, mlp_architecture
from tinygrad_mnist.nn import functional as F
from tinygrad_mnist.mnist.training import ConfigError, Trainer, TrainConfig

from train_helpers import call_cli, synthetic_digits, write_split

TRAIN_SIZE, TEST_SIZE, VAL_SIZE = 300, 100, 50
SMALL_CNN = {"channels": [4, 8], "hidden": [16], "batch_size": 25, "val_size": VAL_SIZE, "seed": 1}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic-mnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", TRAIN_SIZE), ("test", TEST_SIZE)):
        write_split(root, split, *synthetic_digits(n, rng))
    return root


@pytest.fixture(scope="module")
def cnn_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("cnn-run")
    config = TrainConfig.for_model("cnn", epochs=3, lr=1e-2, data=str(data_dir), allow_noncanonical_data=True, **SMALL_CNN)
    result = Trainer(config, out, log=lambda message: None, progress=False).fit()
    return out, result


# ---- the architecture ----------------------------------------------------------------------
def expected_shapes(channels: list[int], hidden: list[int], k: int = 3, side: int = 28) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    depth = 1
    for width in channels:
        shapes += [(width, depth, k, k), (width,)]
        depth, side = width, (side - k + 1) // 2
    width = depth * side * side
    for size in [*hidden, 10]:
        shapes += [(size, width), (size,)]
        width = size
    return shapes


@pytest.mark.parametrize(("channels", "hidden"), [([32, 64], [128]), ([4], [16, 8]), ([3, 5, 7], [])])
def test_cnn_parameters_follow_the_layer_arithmetic(channels: list[int], hidden: list[int]) -> None:
    model = build_model(cnn_architecture(channels, hidden))
    assert [p.shape for p in model.parameters()] == expected_shapes(channels, hidden)
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_default_cnn_has_225034_parameters_and_maps_rows_to_ten_logits() -> None:
    model = build_model(cnn_architecture())
    count = (32 * 9 + 32) + (64 * 32 * 9 + 64) + (1600 * 128 + 128) + (128 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == count == 225034
    out = model(Tensor(np.zeros((3, 784), dtype=np.float32)))
    assert out.shape == (3, 10) and out.dtype == np.float32


def test_describe_names_both_models() -> None:
    assert describe(mlp_architecture([512])) == "784-512-10 relu MLP"
    assert describe(cnn_architecture([8], [32], activation="tanh")) == "conv 8 3x3, 1352-32-10 tanh CNN"


@pytest.mark.parametrize(("architecture", "match"), [
    ({"kind": "rnn"}, r"field kind is 'rnn'.*one of \['cnn', 'mlp'\]"),
    ({"kind": "cnn", "channels": [8], "depth": 3}, r"unknown field depth \(holding 3\); a CNN has the fields"),
    ({"kind": "cnn", "channels": [4, 4, 4, 4]}, r"4 blocks .* shrink a 28x28 image to nothing"),
    ({"kind": "cnn", "activation": "gelu"}, r"field activation is 'gelu'.*one of \[.*'relu'"),
])
def test_bad_architectures_are_named(architecture: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_model(architecture)


def test_unflatten_splits_one_axis_and_names_bad_sizes() -> None:
    layer = nn.Unflatten(1, (2, 3))
    x = Tensor(np.arange(12.0).reshape(2, 6), requires_grad=True)
    y = layer(x)
    np.testing.assert_array_equal(y.data, np.arange(12.0).reshape(2, 2, 3))
    (y * Tensor(np.arange(12.0).reshape(2, 2, 3))).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.arange(12.0).reshape(2, 6))
    assert nn.Unflatten(-1, (3, 2))(Tensor(np.zeros((4, 6)))).shape == (4, 3, 2)
    with pytest.raises(ValueError, match=r"axis 1 of the input \(shape \(2, 5\)\) has 5 elements, expected 6"):
        layer(Tensor(np.zeros((2, 5))))
    with pytest.raises(ValueError, match=r"dim 1 is out of range for an input of shape \(4,\)"):
        layer(Tensor(np.zeros(4)))
    with pytest.raises(ValueError, match="unflattened_size must be positive integers"):
        nn.Unflatten(1, (0, 3))


def test_normalize_standardises_and_scales_the_gradient() -> None:
    layer = nn.Normalize(0.25, 0.5)
    x = Tensor(np.array([[0.0, 0.25, 1.0]], dtype=np.float32), requires_grad=True)
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, (x.data - 0.25) / 0.5)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full((1, 3), 2.0))
    for bad in ((0.0, 0.0), (0.0, -1.0), (float("nan"), 1.0)):
        with pytest.raises(ValueError, match="Normalize: mean must be finite and std a finite number > 0"):
            nn.Normalize(*bad)


def test_cnn_matches_pytorch_values_and_gradients() -> None:
    """Differential test against PyTorch's layers, from the same weights (skipped without torch)."""
    torch = pytest.importorskip("torch")
    manual_seed(4)
    model = build_model(cnn_architecture([6, 12], [20]))
    # the textbook order conv -> ReLU -> pool: the model pools first, which must not change a thing
    reference = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 28, 28)), torch.nn.Conv2d(1, 6, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 12, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(300, 20), torch.nn.ReLU(), torch.nn.Linear(20, 10)).double()
    with torch.no_grad():
        for mine, theirs in zip(model.parameters(), reference.parameters()):
            theirs.copy_(torch.from_numpy(mine.data.astype(np.float64)))
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    rng = np.random.default_rng(0)
    x = rng.random((5, 784))
    y = rng.integers(0, 10, 5)
    loss = F.cross_entropy(model(Tensor(x)), y)
    loss.backward()
    standardised = (torch.from_numpy(x) - 0.1307) / 0.3081  # the model's Normalize layer, by hand
    expected = torch.nn.functional.cross_entropy(reference(standardised), torch.from_numpy(y))
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    for mine, theirs in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(mine.grad.data, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


# ---- training, checkpoints, evaluation -----------------------------------------------------
def test_for_model_fills_in_the_models_defaults() -> None:
    cnn = TrainConfig.for_model("cnn")
    assert (cnn.model, cnn.epochs, cnn.batch_size, cnn.lr, cnn.hidden, cnn.dropout, cnn.channels) == \
        ("cnn", 5, 64, 2e-3, [128], 0.25, [32, 64])
    assert TrainConfig.for_model("cnn", epochs=2).epochs == 2
    assert TrainConfig.for_model("mlp") == TrainConfig()
    with pytest.raises(ConfigError, match="model must be one of"):
        TrainConfig.for_model("vit")


def test_cnn_learns_the_synthetic_digits_and_checkpoints_its_architecture(cnn_run: tuple[Path, dict]) -> None:
    out, result = cnn_run
    assert result["test_accuracy"] >= 0.9
    checkpoint = load_checkpoint(out / "best.npz")
    assert checkpoint.metadata["architecture"] == cnn_architecture([4, 8], [16], dropout=0.25)
    assert checkpoint.metadata["config"]["model"] == "cnn"
    assert sorted(checkpoint.model_state) == sorted(build_model(checkpoint.metadata["architecture"]).state_dict())
    assert [a.shape for a in checkpoint.model_state.values()] == expected_shapes([4, 8], [16])
    model, _ = load_model(out / "best.npz")
    assert [type(m).__name__ for m in model][:5] == ["Unflatten", "Normalize", "Conv2d", "MaxPool2d", "ReLU"]
    assert model[2].weight.shape == (4, 1, 3, 3)


def test_cnn_run_resumes_bit_identically(data_dir: Path, tmp_path: Path) -> None:
    config = TrainConfig.for_model("cnn", epochs=2, data=str(data_dir), allow_noncanonical_data=True, **SMALL_CNN)
    quiet = {"log": lambda message: None, "progress": False}
    Trainer(config, tmp_path / "whole", **quiet).fit()
    Trainer(dataclasses.replace(config, max_steps=7), tmp_path / "part", **quiet).fit()
    resumed = Trainer.resume(tmp_path / "part" / "checkpoint.npz", **quiet)
    resumed.config.max_steps = None
    resumed.fit()
    with np.load(tmp_path / "whole" / "checkpoint.npz") as whole, np.load(tmp_path / "part" / "checkpoint.npz") as part:
        assert sorted(whole.files) == sorted(part.files)
        for name in whole.files:
            if name.startswith(("model/", "optim/")):
                np.testing.assert_array_equal(part[name], whole[name], err_msg=name)


def test_cli_trains_evaluates_and_predicts_with_the_cnn(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    status, stdout, stderr = call_cli(capsys, "train", "--model", "cnn", "--channels", "4", "8", "--hidden", "16",
                                      "--epochs", "2", "--lr", "3e-3", "--batch-size", "25",
                                      "--val-size", VAL_SIZE, "--allow-noncanonical-data", "--data", data_dir, "--out", out)
    assert status == 0, stderr
    assert "training conv 4-8 3x3, 200-16-10 relu CNN with adam, lr 0.003, batch 25, 2 epochs" in stdout
    record = json.loads((out / "metrics.json").read_text())
    assert record["config"]["model"] == "cnn" and len(record["history"]) == 2

    status, stdout, stderr = call_cli(capsys, "evaluate", out / "best.npz", "--data", data_dir)
    assert status == 0, stderr
    accuracy = float(stdout.split()[2])
    assert accuracy == pytest.approx(record["test_accuracy"], abs=0.011)  # best.npz may be an earlier epoch

    status, stdout, stderr = call_cli(capsys, "predict", out / "best.npz", "--index", "0", "--data", data_dir)
    assert status == 0, stderr
    probabilities = [float(line.split(":")[1]) for line in stdout.strip().splitlines()[1:]]
    assert len(probabilities) == 10 and sum(probabilities) == pytest.approx(1, abs=1e-3)


def test_cli_cnn_defaults_and_bad_model(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser().parse_args(["train", "--model", "cnn"])
    assert (args.model, args.epochs, args.batch_size, args.lr, args.hidden, args.dropout, args.channels) == \
        ("cnn", None, None, None, None, None, [32, 64])
    status, _, stderr = call_cli(capsys, "train", "--model", "resnet")
    assert status == 2 and "invalid choice: 'resnet'" in stderr and len(stderr.strip().splitlines()) == 1
    status, _, stderr = call_cli(capsys, "train", "--model", "cnn", "--channels", "0")
    assert status == 2 and "--channels" in stderr and "positive integer" in stderr


def test_plot_run_draws_the_cnn_filters(cnn_run: tuple[Path, dict], data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from tinygrad_mnist.mnist import plots

    out, _ = cnn_run
    model, _ = load_model(out / "best.npz")
    np.testing.assert_array_equal(plots.first_layer_weight(model), model[2].weight.data)
    paths = plots.plot_run(out, out_dir=tmp_path, data=str(data_dir))
    assert [p.name for p in paths] == ["curves.png", "confusion.png", "first_layer.png", "misclassified.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    with pytest.raises(plots.PlotError, match=r"\(filters, 1, k, k\), got \(4, 3, 3, 3\)"):
        plots.plot_first_layer(np.zeros((4, 3, 3, 3)), tmp_path / "rgb.png")
