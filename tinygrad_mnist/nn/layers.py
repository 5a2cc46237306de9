"""Layers: ``Linear``, ``Conv2d``, pooling (max, average, adaptive), ``Identity``, ``Flatten``, ``Unflatten``,
``Normalize``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.kernels import pair
from ..core.tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features), float32.

    Initialised like PyTorch: weight Kaiming-uniform with a = sqrt(5) (bound
    1/sqrt(in_features)), bias U(-1/sqrt(in_features), 1/sqrt(in_features)).

    Examples:
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
    """2-d convolution of NCHW (or unbatched CHW) input with an OIHW weight
    (out_channels, in_channels / groups, kh, kw), float32, with PyTorch's arguments.

    ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are ints or (h, w) pairs
    (kept as pairs); ``padding`` may be 'valid' or 'same'. ``padding_mode`` 'zeros',
    'reflect', 'replicate' or 'circular' says what the padding holds. Initialised like
    [`Linear`][tinygrad_mnist.nn.layers.Linear], with fan-in ``in_channels / groups * kh * kw``.

    Examples:
        >>> layer = Conv2d(1, 8, kernel_size=3, padding=1)
        >>> layer(Tensor(np.zeros((2, 1, 28, 28), dtype=np.float32))).shape
        (2, 8, 28, 28)
        >>> Conv2d(4, 8, (3, 2), stride=2, groups=2, bias=False, padding_mode="reflect", padding=1)
        Conv2d(4, 8, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), groups=2, bias=False, padding_mode=reflect)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: str | int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros") -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Conv2d: {name} must be a positive integer, got {value!r}")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(f"Conv2d: {name} ({value}) must be divisible by groups ({groups})")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
                             f"got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        self.stride, self.dilation = pair(stride, "stride", "Conv2d"), pair(dilation, "dilation", "Conv2d")
        self.padding_mode = padding_mode
        self.padding: str | tuple[int, int]
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: padding must be 'valid', 'same', an int or a pair, got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1, got stride={stride!r}")
            self.padding = padding
            totals = [d * (k - 1) if padding == "same" else 0 for d, k in zip(self.dilation, self.kernel_size,
                                                                               strict=True)]
            sides = [(t // 2, t - t // 2) for t in totals]
        else:
            self.padding = pair(padding, "padding", "Conv2d", minimum=0)
            sides = [(p, p) for p in self.padding]
        # (left, right, top, bottom): what F.pad adds for a padding_mode other than 'zeros'
        self._reversed_padding_repeated_twice = [*sides[1], *sides[0]]
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=np.float32))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = None
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=np.float32))
            bound = 1 / math.sqrt(in_channels // groups * math.prod(self.kernel_size))
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if self.padding_mode != "zeros":
            x = F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


Size2 = int | tuple[int, int]


class MaxPool2d(Module):
    """[`max_pool2d`][tinygrad_mnist.core.convolution.max_pool2d] as a layer (stride defaults to the kernel size).

    Examples:
        >>> MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)
    """

    def __init__(self, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0, dilation: Size2 = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Tensor) -> Any:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """[`avg_pool2d`][tinygrad_mnist.core.convolution.avg_pool2d] as a layer (stride defaults to the kernel size).

    Examples:
        >>> AvgPool2d((2, 3), stride=(1, 2), padding=1, count_include_pad=False)
        AvgPool2d(kernel_size=(2, 3), stride=(1, 2), padding=1)
    """

    def __init__(self, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average-pools to a fixed ``output_size`` (int, or a pair whose None entries keep that size).

    Examples:
        >>> AdaptiveAvgPool2d((1, None))(Tensor(np.zeros((2, 3, 5, 7), dtype=np.float32))).shape
        (2, 3, 1, 7)
    """

    def __init__(self, output_size: int | tuple[int | None, int | None] | None) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max-pools to a fixed ``output_size``; with ``return_indices`` also the flat indices into H * W.

    Examples:
        >>> AdaptiveMaxPool2d(2)(Tensor(np.zeros((3, 5, 7), dtype=np.float32))).shape
        (3, 2, 2)
    """

    def __init__(self, output_size: int | tuple[int | None, int | None] | None, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x: Tensor) -> Any:
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are accepted and ignored, as in PyTorch).

    Examples:
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

    Examples:
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

    Examples:
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

    Examples:
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
