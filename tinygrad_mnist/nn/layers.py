"""Layers: ``Linear``, ``Conv2d``, pooling, ``Identity``, ``Flatten``, ``Unflatten``, ``Normalize``."""

from __future__ import annotations

import math

import numpy as np

from ..core.tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features), float32.

    Initialised like PyTorch: weight Kaiming-uniform with a = sqrt(5) (bound
    1/sqrt(in_features)), bias U(-1/sqrt(in_features), 1/sqrt(in_features)).

    >>> layer = Linear(784, 512)
    >>> layer.weight.shape, layer.bias.shape, layer.weight.dtype
    ((512, 784), (512,), dtype('float32'))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive integer, got {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=np.float32))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = None
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=np.float32))
            bound = 1 / math.sqrt(in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear: input has shape {x.shape}, expected (..., {self.in_features}) "
                f"(last axis = in_features)"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-d convolution of NCHW input with an OIHW weight (out_channels, in_channels, k, k), float32.

    Initialised like :class:`Linear`, with fan-in ``in_channels * k * k``.

    >>> layer = Conv2d(1, 8, kernel_size=3, padding=1)
    >>> layer(Tensor(np.zeros((2, 1, 28, 28), dtype=np.float32))).shape
    (2, 8, 28, 28)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("kernel_size", kernel_size), ("stride", stride)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Conv2d: {name} must be a positive integer, got {value!r}")
        if not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"Conv2d: padding must be a non-negative integer, got {padding!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = int(kernel_size), int(stride), int(padding)
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=np.float32))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = None
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=np.float32))
            bound = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class _Pool2d(Module):
    """A pooling function over ``kernel_size`` x ``kernel_size`` windows, as a layer."""

    pool = staticmethod(F.max_pool2d)

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class MaxPool2d(_Pool2d):
    """Maximum over ``kernel_size`` x ``kernel_size`` windows (stride defaults to the kernel size)."""

    pool = staticmethod(F.max_pool2d)


class AvgPool2d(_Pool2d):
    """Mean over ``kernel_size`` x ``kernel_size`` windows (stride defaults to the kernel size)."""

    pool = staticmethod(F.avg_pool2d)


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are accepted and ignored, as in PyTorch).

    >>> x = Tensor([1.0, 2.0])
    >>> Identity(54, unused="argument")(x) is x
    True
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    """Merge axes ``start_dim`` .. ``end_dim`` into one: (N, 1, 28, 28) -> (N, 784) with the defaults.

    >>> Flatten()(Tensor(np.zeros((2, 1, 28, 28), dtype=np.float32))).shape
    (2, 784)
    >>> Flatten(0, 1)(Tensor(np.zeros((2, 3, 4), dtype=np.float32))).shape
    (6, 4)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Normalize(Module):
    """``(x - mean) / std`` with fixed numbers: inputs centred near 0 with unit spread train faster.

    Like torchvision's ``transforms.Normalize`` for one-channel images, but a layer,
    so the model carries it into checkpoints and every caller gets it.

    >>> Normalize(0.5, 0.25)(Tensor(np.array([0.0, 0.5, 1.0], dtype=np.float32)))
    Tensor([-2.,  0.,  2.])
    """

    def __init__(self, mean: float, std: float) -> None:
        super().__init__()
        if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
            raise ValueError(f"Normalize: mean must be finite and std a finite number > 0, got {mean!r}, {std!r}")
        self.mean, self.std = float(mean), float(std)

    def forward(self, x: Tensor) -> Tensor:
        mean, scale = np.asarray(self.mean, dtype=x.dtype), np.asarray(1.0 / self.std, dtype=x.dtype)
        return (x - mean) * scale

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``: (N, 784) -> (N, 1, 28, 28) with ``Unflatten(1, (1, 28, 28))``.

    >>> Unflatten(1, (1, 28, 28))(Tensor(np.zeros((2, 784), dtype=np.float32))).shape
    (2, 1, 28, 28)
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        sizes = tuple(unflattened_size)
        if not sizes or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in sizes):
            raise ValueError(f"Unflatten: unflattened_size must be positive integers, got {unflattened_size!r}")
        self.dim, self.unflattened_size = dim, tuple(int(n) for n in sizes)

    def forward(self, x: Tensor) -> Tensor:
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"Unflatten: dim {self.dim} is out of range for an input of shape {x.shape}")
        dim = self.dim % x.ndim
        if x.shape[dim] != math.prod(self.unflattened_size):
            raise ValueError(f"Unflatten: axis {dim} of the input (shape {x.shape}) has {x.shape[dim]} elements, "
                             f"expected {math.prod(self.unflattened_size)} to make {self.unflattened_size}")
        return x.reshape(*x.shape[:dim], *self.unflattened_size, *x.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
