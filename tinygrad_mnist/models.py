"""Model builders described by a JSON-friendly architecture dict (stored in checkpoints).

>>> model = build_model({"kind": "mlp", "hidden": [512], "activation": "relu"})
>>> [tuple(p.shape) for p in model.parameters()]
[(512, 784), (512,), (10, 512), (10,)]
"""

from __future__ import annotations

from typing import Any

from . import nn

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


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


def build_mlp(inputs: int, hidden: list[int], classes: int, activation: str, dropout: float) -> nn.Sequential:
    """inputs -> [Linear -> activation (-> Dropout)] per hidden width -> Linear(classes)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    layers: list[nn.Module] = []
    width = inputs
    for size in hidden:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def build_model(architecture: dict[str, Any]) -> nn.Module:
    """A freshly initialised model for ``architecture`` (see :func:`mlp_architecture`)."""
    arch = mlp_architecture(**{k: v for k, v in architecture.items() if k != "kind"})
    if architecture.get("kind", "mlp") != "mlp":
        raise ValueError(f"unknown model kind {architecture.get('kind')!r}; expected 'mlp'")
    return build_mlp(arch["inputs"], arch["hidden"], arch["classes"], arch["activation"], arch["dropout"])
