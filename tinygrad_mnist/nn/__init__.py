"""Neural-network building blocks with PyTorch's names.

>>> from tinygrad_mnist import nn, Tensor, manual_seed
>>> _ = manual_seed(0)
>>> model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
>>> sum(p.numel() for p in model.parameters())
407050
"""

from . import functional, init
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
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
from .module import IncompatibleKeys, Module, Parameter, RegistrationError, StateDictError

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "IncompatibleKeys",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Normalize",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "ReLU",
    "RegistrationError",
    "Sequential",
    "Sigmoid",
    "StateDictError",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
]
