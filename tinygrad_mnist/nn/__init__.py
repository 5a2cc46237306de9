"""Neural-network building blocks with PyTorch's names.

Examples:
    >>> from tinygrad_mnist import nn, Tensor, manual_seed
    >>> _ = manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    >>> sum(p.numel() for p in model.parameters())
    407050
"""

from . import activation, dropout, functional, init, normalization, sparse, utils
from .activation import *
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .dropout import *
from .layers import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    Conv2d,
    Flatten,
    Identity,
    Linear,
    MaxPool2d,
    Normalize,
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
from .normalization import *
from .sparse import *

__all__ = activation.__all__ + dropout.__all__ + normalization.__all__ + sparse.__all__ + [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "Conv2d",
    "CrossEntropyLoss",
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "KLDivLoss",
    "L1Loss",
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
    "RegistrationError",
    "Sequential",
    "SmoothL1Loss",
    "StateDictError",
    "Unflatten",
    "functional",
    "init",
    "utils",
]
