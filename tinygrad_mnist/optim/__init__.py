"""Optimizers and learning-rate schedulers with PyTorch's names and semantics.

Updates are done in place on each parameter's array, so a step allocates little.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward()      # gradient 2w
    >>> opt.step(); w
    Tensor([ 0.8, -1.6], dtype=float64, requires_grad=True)
"""

from . import lr_scheduler
from .algorithms import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, RMSprop
from .lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from .optimizer import Optimizer

__all__ = [
    "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "CosineAnnealingLR", "ExponentialLR", "LRScheduler",
    "LambdaLR", "LinearLR", "MultiStepLR", "OneCycleLR", "Optimizer", "RMSprop", "ReduceLROnPlateau",
    "SequentialLR", "StepLR", "lr_scheduler",
]
