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

An architecture is checked field by field (`validate_architecture`) before
anything is built, and the shapes it implies are known without building it
(`parameter_shapes`), so a checkpoint can be compared with them first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from .. import nn
from .. import random as tm_random
from .schema import SchemaError, check_int, check_int_list, check_number, check_string

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
IMAGE_SIZE = 28
# mean and standard deviation of the MNIST training pixels scaled to [0, 1]
MNIST_MEAN_STD = (0.1307, 0.3081)
# the bounds `validate_architecture` enforces: far above any MNIST model, far below what exhausts memory
MAX_WIDTH, MAX_LAYERS, MAX_IMAGE_SIZE = 1 << 16, 64, 1 << 12
MAX_PARAMETERS = 1 << 28  # 1 GiB of float32 weights


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


def _plan(arch: dict[str, Any]) -> list[tuple[str, tuple[Any, ...]]]:
    """The layers of a complete architecture in order, as (kind, sizes): what `build_model` makes
    and what `parameter_shapes` measures, without making anything."""
    plan: list[tuple[str, tuple[Any, ...]]] = []
    act: tuple[str, tuple[Any, ...]] = ("activation", (arch["activation"],))
    drop = [("dropout", (arch["dropout"],))] if arch["dropout"] else []
    width = arch.get("inputs", 0)
    if arch["kind"] == "cnn":
        plan.append(("unflatten", (arch["image_size"],)))
        if arch["normalize"] is not None:
            plan.append(("normalize", tuple(arch["normalize"])))
        for depth, out in pairwise([1, *arch["channels"]]):
            # pooling before the activation gives the same values, as every activation here is
            # non-decreasing, and applies it to a quarter of the numbers
            plan += [("conv", (depth, out, arch["kernel_size"])), ("pool", ()), act]
        plan += [("flatten", ()), *drop]
        width = _cnn_features(arch["channels"], arch["kernel_size"], arch["image_size"])
    for size in arch["hidden"]:
        plan += [("linear", (width, size)), act, *drop]
        width = size
    return [*plan, ("linear", (width, arch["classes"]))]


def _layer(kind: str, sizes: tuple[Any, ...]) -> nn.Module:
    if kind == "linear":
        return nn.Linear(*sizes)
    if kind == "conv":
        return nn.Conv2d(*sizes)
    if kind == "activation":
        return _activation(sizes[0])()
    if kind == "dropout":
        return nn.Dropout(sizes[0])
    if kind == "unflatten":
        return nn.Unflatten(1, (1, sizes[0], sizes[0]))
    if kind == "normalize":
        return nn.Normalize(*sizes)
    return nn.MaxPool2d(2) if kind == "pool" else nn.Flatten()


def _build(arch: dict[str, Any]) -> nn.Sequential:
    return nn.Sequential(*(_layer(kind, sizes) for kind, sizes in _plan(arch)))


def build_mlp(inputs: int, hidden: list[int], classes: int, activation: str, dropout: float) -> nn.Sequential:
    """inputs -> [Linear -> activation (-> Dropout)] per hidden width -> Linear(classes)."""
    return _build(validate_architecture(mlp_architecture(hidden, activation, dropout, inputs, classes)))


def build_cnn(channels: list[int], hidden: list[int], kernel_size: int, activation: str, dropout: float,
              normalize: list[float] | None, image_size: int, classes: int) -> nn.Sequential:
    """(N, image_size**2) rows -> (N, 1, H, W) -> conv blocks -> flatten -> dense layers.

    See `cnn_architecture`.
    """
    return _build(validate_architecture(cnn_architecture(channels, hidden, kernel_size, activation, dropout,
                                                         normalize, image_size, classes)))


def _cnn_features(channels: list[int], kernel_size: int, image_size: int) -> int:
    """How many numbers the conv blocks leave per image, for the first fully connected layer."""
    side = image_size
    for _ in channels:
        side = (side - kernel_size + 1) // 2
        if side < 1:
            raise ValueError(f"cnn: {len(channels)} blocks of {kernel_size}x{kernel_size} conv + 2x2 pool "
                             f"shrink a {image_size}x{image_size} image to nothing; use fewer channels entries")
    return (channels[-1] if channels else 1) * side * side


def validate_architecture(architecture: Any) -> dict[str, Any]:
    """``architecture`` checked field by field and completed with the defaults of its kind.

    Raises:
        SchemaError (a ValueError): the first field of the wrong type or out of range, an unknown
            field, or more than `MAX_PARAMETERS` parameters; the message names the field, the value
            received and what was expected.

    Examples:
        >>> validate_architecture({"hidden": [64]})["inputs"]
        784
        >>> validate_architecture({"kind": "mlp", "hidden": [10**9]})
        Traceback (most recent call last):
            ...
        tinygrad_mnist.mnist.schema.SchemaError: field hidden[0] is 1000000000; expected an int from 1 to 65536
    """
    if not isinstance(architecture, dict):
        raise SchemaError("architecture", architecture, "a JSON object describing the model")
    kind = check_string(architecture.get("kind", "mlp"), "kind", sorted(BUILDERS))
    complete = BUILDERS[kind][0]
    arch = complete()  # the defaults, overridden below by what is given
    for name, value in architecture.items():
        if name not in arch:
            model = "a CNN" if kind == "cnn" else "an MLP"
            raise SchemaError(name, value, f"{model} has the fields {sorted(arch)}", unknown=True)
        arch[name] = value
    arch["hidden"] = check_int_list(arch["hidden"], "hidden", 1, MAX_WIDTH, MAX_LAYERS)
    check_int(arch["classes"], "classes", 1, MAX_WIDTH)
    check_string(arch["activation"], "activation", sorted(ACTIVATIONS))
    check_number(arch["dropout"], "dropout", 0.0, 1.0)
    if kind == "mlp":
        check_int(arch["inputs"], "inputs", 1, MAX_WIDTH)
    else:
        arch["channels"] = check_int_list(arch["channels"], "channels", 1, MAX_WIDTH, MAX_LAYERS)
        size = check_int(arch["image_size"], "image_size", 1, MAX_IMAGE_SIZE)
        check_int(arch["kernel_size"], "kernel_size", 1, size)
        if arch["normalize"] is not None:
            if not isinstance(arch["normalize"], (list, tuple)) or len(arch["normalize"]) != 2:
                raise SchemaError("normalize", arch["normalize"], "null or [mean, std]")
            arch["normalize"] = [check_number(arch["normalize"][0], "normalize[0]", None, None),
                                 check_number(arch["normalize"][1], "normalize[1]", 0.0, None, low_open=True)]
        try:
            _cnn_features(arch["channels"], arch["kernel_size"], size)
        except ValueError as exc:
            raise SchemaError("channels", arch["channels"], f"fewer conv blocks ({exc})") from None
    count = sum(math.prod(shape) for shape in _shapes(arch).values())
    if count > MAX_PARAMETERS:
        raise SchemaError("hidden", arch["hidden"], f"widths that make at most {MAX_PARAMETERS} parameters; "
                          f"these make {count} ({count * 4 / 2**30:.3g} GiB of float32)")
    return arch


def _shapes(arch: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for index, (kind, sizes) in enumerate(_plan(arch)):
        if kind == "linear":
            shapes.update({f"{index}.weight": (sizes[1], sizes[0]), f"{index}.bias": (sizes[1],)})
        elif kind == "conv":
            inputs, outputs, k = sizes
            shapes.update({f"{index}.weight": (outputs, inputs, k, k), f"{index}.bias": (outputs,)})
    return shapes


def parameter_shapes(architecture: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The ``state_dict`` names and shapes of the model ``architecture`` describes, computed from the
    architecture alone (nothing is allocated); the architecture is checked by `validate_architecture`.

    Examples:
        >>> parameter_shapes({"kind": "mlp", "hidden": [512]})
        {'0.weight': (512, 784), '0.bias': (512,), '2.weight': (10, 512), '2.bias': (10,)}
    """
    return _shapes(validate_architecture(architecture))


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
    """A freshly initialised model for ``architecture`` (see `mlp_architecture`, `cnn_architecture`).

    Raises:
        SchemaError (a ValueError): an architecture that `validate_architecture` refuses.
    """
    return _build(validate_architecture(architecture))


def build_seeded_model(architecture: dict[str, Any], seed: int) -> nn.Module:
    """``build_model`` with its initial weights drawn from ``seed``, leaving the global random state as it was.

    Examples:
        >>> first = build_seeded_model(mlp_architecture(hidden=[4]), seed=1)
        >>> again = build_seeded_model(mlp_architecture(hidden=[4]), seed=1)
        >>> bool((first[0].weight.data == again[0].weight.data).all())
        True
    """
    state = tm_random.get_rng_state()
    try:
        tm_random.manual_seed(seed)
        return build_model(architecture)
    finally:
        tm_random.set_rng_state(state)
