"""Neural-network building blocks with PyTorch's names.

>>> from tinygrad_mnist import nn, Tensor, manual_seed
>>> _ = manual_seed(0)
>>> model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
>>> sum(p.numel() for p in model.parameters())
407050
"""

from . import functional, init, utils
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
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import IncompatibleKeys, Module, Parameter, RegistrationError, StateDictError

__all__ = [
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "IncompatibleKeys",
    "KLDivLoss",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Normalize",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "ReLU",
    "RegistrationError",
    "Sequential",
    "Sigmoid",
    "SmoothL1Loss",
    "StateDictError",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
    "utils",
]
