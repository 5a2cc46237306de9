"""Model builders described by a JSON-friendly architecture dict (stored in checkpoints).

Both models take images as rows of 784 pixels (the layout the data loader yields),
so training, evaluation, prediction and checkpoints treat them alike.

Examples:
    >>> model = build_model({"kind": "mlp", "hidden": [512], "activation": "relu"})
    >>> [tuple(p.shape) for p in model.parameters()]
    [(512, 784), (512,), (10, 512), (10,)]
    >>> cnn = build_model(cnn_architecture())
    >>> [tuple(p.shape) for p in cnn.parameters()]
    [(32, 1, 3, 3), (32,), (64, 32, 3, 3), (64,), (128, 1600), (128,), (10, 128), (10,)]
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from .. import nn

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
IMAGE_SIZE = 28
# mean and standard deviation of the MNIST training pixels scaled to [0, 1]
MNIST_MEAN_STD = (0.1307, 0.3081)


def mlp_architecture(
    hidden: list[int] | tuple[int, ...] = (512,),
    activation: str = "relu",
    dropout: float = 0.0,
    inputs: int = 784,
    classes: int = 10,
) -> dict[str, Any]:
    """The architecture dict of a multilayer perceptron."""
    return {"kind": "mlp", "inputs": inputs, "hidden": list(hidden), "classes": classes,
            "activation": activation, "dropout": dropout}


def cnn_architecture(
    channels: list[int] | tuple[int, ...] = (32, 64),
    hidden: list[int] | tuple[int, ...] = (128,),
    kernel_size: int = 3,
    activation: str = "relu",
    dropout: float = 0.0,
    normalize: tuple[float, float] | list[float] | None = MNIST_MEAN_STD,
    image_size: int = IMAGE_SIZE,
    classes: int = 10,
) -> dict[str, Any]:
    """The architecture dict of a convolutional network.

    Pixels are first standardised, ``(x - mean) / std`` with ``normalize =
    (mean, std)`` (MNIST's by default; None to skip). One block per entry of
    ``channels`` follows: conv ``kernel_size`` x ``kernel_size`` (no padding)
    -> 2x2 max-pool -> activation (the same as activation then pool, since the
    activations are non-decreasing, on a quarter of the numbers); then the feature maps are flattened into
    ``hidden`` fully connected layers and a linear classifier, with dropout
    ``dropout`` before every fully connected layer when it is not 0. The
    default is 1x28x28 -> conv 32 -> pool -> conv 64 -> pool (64x5x5) ->
    1600-128-10.
    """
    return {"kind": "cnn", "channels": list(channels), "hidden": list(hidden), "kernel_size": kernel_size,
            "activation": activation, "dropout": dropout,
            "normalize": None if normalize is None else [float(v) for v in normalize],
            "image_size": image_size, "classes": classes}


def _activation(name: str) -> Callable[[], nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def _dense(width: int, hidden: list[int], classes: int, activation: str, dropout: float) -> list[nn.Module]:
    """[Linear -> activation (-> Dropout)] per hidden width, then Linear(classes)."""
    make_activation = _activation(activation)
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(width, size), make_activation()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    return [*layers, nn.Linear(width, classes)]


def build_mlp(inputs: int, hidden: list[int], classes: int, activation: str, dropout: float) -> nn.Sequential:
    """inputs -> [Linear -> activation (-> Dropout)] per hidden width -> Linear(classes)."""
    return nn.Sequential(*_dense(inputs, hidden, classes, activation, dropout))


def build_cnn(channels: list[int], hidden: list[int], kernel_size: int, activation: str, dropout: float,
              normalize: list[float] | None, image_size: int, classes: int) -> nn.Sequential:
    """(N, image_size**2) rows -> (N, 1, H, W) -> conv blocks -> flatten -> dense layers.

    See `cnn_architecture`.
    """
    make_activation = _activation(activation)
    layers: list[nn.Module] = [nn.Unflatten(1, (1, image_size, image_size))]
    if normalize is not None:
        layers.append(nn.Normalize(*normalize))
    features = _cnn_features(channels, kernel_size, image_size)
    for depth, width in pairwise([1, *channels]):
        # pooling before the activation gives the same values, as every activation here is
        # non-decreasing, and applies it to a quarter of the numbers
        layers += [nn.Conv2d(depth, width, kernel_size), nn.MaxPool2d(2), make_activation()]
    layers.append(nn.Flatten())
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, *_dense(features, hidden, classes, activation, dropout))


def _cnn_features(channels: list[int], kernel_size: int, image_size: int) -> int:
    """How many numbers the conv blocks leave per image, for the first fully connected layer."""
    side = image_size
    for _ in channels:
        side = (side - kernel_size + 1) // 2
        if side < 1:
            raise ValueError(f"cnn: {len(channels)} blocks of {kernel_size}x{kernel_size} conv + 2x2 pool "
                             f"shrink a {image_size}x{image_size} image to nothing; use fewer channels entries")
    return (channels[-1] if channels else 1) * side * side


def describe(architecture: dict[str, Any]) -> str:
    """A one-line name such as ``784-512-10 relu MLP`` or ``conv 32-64 3x3, 1600-128-10 relu CNN``.

    Examples:
        >>> describe(cnn_architecture())
        'conv 32-64 3x3, 1600-128-10 relu CNN'
    """
    arch = {**architecture}
    kind = arch.pop("kind", "mlp")
    if kind == "cnn":
        arch = cnn_architecture(**arch)
        dense = [_cnn_features(arch["channels"], arch["kernel_size"], arch["image_size"]), *arch["hidden"],
                 arch["classes"]]
        convs = "-".join(str(c) for c in arch["channels"])
        return (f"conv {convs} {arch['kernel_size']}x{arch['kernel_size']}, "
                f"{'-'.join(str(n) for n in dense)} {arch['activation']} CNN")
    arch = mlp_architecture(**arch)
    dims = "-".join(str(n) for n in [arch["inputs"], *arch["hidden"], arch["classes"]])
    return f"{dims} {arch['activation']} MLP"


BUILDERS: dict[str, tuple[Callable[..., dict[str, Any]], Callable[..., nn.Sequential]]] = {
    "mlp": (mlp_architecture, build_mlp),
    "cnn": (cnn_architecture, build_cnn),
}


def build_model(architecture: dict[str, Any]) -> nn.Module:
    """A freshly initialised model for ``architecture`` (see `mlp_architecture`, `cnn_architecture`)."""
    kind = architecture.get("kind", "mlp")
    if kind not in BUILDERS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(BUILDERS)}")
    complete, build = BUILDERS[kind]
    try:
        arch = complete(**{k: v for k, v in architecture.items() if k != "kind"})
    except TypeError as exc:
        raise ValueError(f"{kind} architecture {architecture!r}: {exc}") from None
    del arch["kind"]
    return build(**arch)
