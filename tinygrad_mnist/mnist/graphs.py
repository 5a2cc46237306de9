"""The training graphs of the MNIST models, drawn with `tinygrad_mnist.viz`.

``tinygrad-mnist graph`` calls `write_graph`: one training step's forward
pass (model, cross-entropy loss) on a small random batch, drawn as DOT/SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..nn import functional as F
from ..nn.module import Module
from ..viz import render
from .models import build_seeded_model, mlp_architecture


def mlp_training_graph(
    hidden: Sequence[int] = (512,), activation: str = "relu", batch: int = 4, seed: int = 0
) -> tuple[Tensor, Module]:
    """The cross-entropy loss of an MLP on a small random batch, and the model.

    The graph behind the loss is one training step's forward pass, ready for
    `to_dot` (pass the model as ``params`` to name its parameters). The
    framework's random generator is restored afterwards.

    Examples:
        >>> loss, model = mlp_training_graph(hidden=(8,), batch=2)
        >>> loss.shape, loss.grad_fn.name(), [name for name, _ in model.named_parameters()]
        ((), 'sum', ['0.weight', '0.bias', '2.weight', '2.bias'])
    """
    return training_graph(mlp_architecture(hidden=list(hidden), activation=activation), batch=batch, seed=seed)


def training_graph(architecture: dict[str, Any], batch: int = 4, seed: int = 0) -> tuple[Tensor, Module]:
    """Like `mlp_training_graph`, for any architecture dict of `tinygrad_mnist.mnist.models`.

    Examples:
        >>> from tinygrad_mnist.mnist.models import cnn_architecture
        >>> loss, model = training_graph(cnn_architecture([4], [8]), batch=2)
        >>> names = [name for name, _ in model.named_parameters()]
        >>> names[0], names[1]
        ('2.weight', '2.bias')
    """
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"training_graph: batch must be a positive integer, got {batch!r}")
    model = build_seeded_model(architecture, seed)
    rng = np.random.default_rng(seed)
    inputs = architecture.get("inputs", architecture.get("image_size", 28) ** 2)
    images = Tensor(rng.random((int(batch), inputs), dtype=np.float32))
    images.name = "images"
    labels = rng.integers(0, architecture.get("classes", 10), size=int(batch))
    loss = F.cross_entropy(model(images), labels)
    loss.name = "loss"
    return loss, model


def write_graph(
    out: str | Path,
    hidden: Sequence[int] = (512,),
    activation: str = "relu",
    *,
    batch: int = 4,
    show_grads: bool = False,
    format: str | None = None,
    architecture: dict[str, Any] | None = None,
) -> Path:
    """Draw the training graph of the MLP ``hidden``/``activation`` (or of ``architecture``) into ``out``.

    Returns the path written: ``out`` itself, or ``out`` with the suffix
    ``.dot`` when the ``dot`` program is missing (see `render`, whose
    warning carries `how_to_render`'s message). With ``show_grads`` a
    backward pass runs first and the parameters show their gradients' norms.
    """
    if architecture is None:
        loss, model = mlp_training_graph(hidden, activation, batch=batch)
    else:
        loss, model = training_graph(architecture, batch=batch)
    if show_grads:
        loss.backward(retain_graph=True)
    return render(loss, out, format=format, show_grads=show_grads, params=model)
