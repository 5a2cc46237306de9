"""Neural-network building blocks with PyTorch's names.

>>> from tinygrad_mnist import nn, Tensor, manual_seed
>>> _ = manual_seed(0)
>>> model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
>>> sum(p.size for p in model.parameters())
407050
"""

from . import functional, init
from .layers import (
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
    Normalize,
    ReLU,
    Sigmoid,
    Tanh,
    Unflatten,
)
from .module import Module, Parameter, Sequential, StateDictError

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Module",
    "Normalize",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "StateDictError",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
]
