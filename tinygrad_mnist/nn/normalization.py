"""Normalisation layers: ``BatchNorm1d``/``BatchNorm2d``, ``LayerNorm``, ``GroupNorm``.

Each is the module form of a function of [`tinygrad_mnist.nn.functional`][tinygrad_mnist.nn.functional],
with a learnable per-channel (or per-element) ``weight`` (ones) and ``bias``
(zeros), float32 like every parameter. The batch norms also keep running
statistics as buffers, so their ``state_dict`` holds ``running_mean``,
``running_var`` and an int64 ``num_batches_tracked``, as in PyTorch.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> bn = BatchNorm1d(2)
    >>> y = bn(Tensor(np.array([[1.0, 10.0], [3.0, 30.0]], dtype=np.float32)))
    >>> list(bn.state_dict()), bn.num_batches_tracked
    (['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'], Tensor(1, dtype=int64))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.tensor import Tensor
from . import functional as F
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm"]


def _positive(owner: str, name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _affine(module: Module, shape: tuple[int, ...], weight: bool, bias: bool) -> None:
    """Register ``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None in their place."""
    module.register_parameter("weight", Parameter(np.ones(shape, dtype=np.float32)) if weight else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype=np.float32)) if weight and bias else None)


class _BatchNorm(Module):
    """Batch normalisation over every axis but the channels (axis 1), with running statistics."""

    _expected_dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = _positive(type(self).__name__, "num_features", num_features)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats, self.use_bias = affine, track_running_stats, bias
        _affine(self, (self.num_features,), affine, bias)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=np.float32)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """Running statistics reset, weight ones, bias zeros."""
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def _check_input_dim(self, x: Tensor) -> None:
        if x.ndim not in self._expected_dims:
            dims = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"{type(self).__name__}: expected {dims} input, got {x.ndim}D input of shape {x.shape}")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative moving average: the mean of all batches so far
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.affine and self.use_bias}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input: each channel over the batch (and length).

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> bn = BatchNorm1d(3).eval()  # running statistics 0 and 1: nearly the identity
        >>> bn(Tensor(np.ones((2, 3), dtype=np.float32))).shape
        (2, 3)
    """

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input: each channel over the batch and both spatial axes.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> bn = BatchNorm2d(4)
        >>> bn(Tensor(np.ones((2, 4, 3, 3), dtype=np.float32))).shape, bn.running_mean.shape
        ((2, 4, 3, 3), (4,))
    """

    _expected_dims = (4,)


class LayerNorm(Module):
    """Normalise each sample over its trailing ``normalized_shape`` axes, with element-wise weight and bias.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> ln = LayerNorm(4)
        >>> ln.weight.shape, ln(Tensor(np.arange(8.0, dtype=np.float32).reshape(2, 4))).shape
        ((4,), (2, 4))
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
        self.normalized_shape = tuple(_positive("LayerNorm", "normalized_shape", n) for n in shape)
        self.eps, self.elementwise_affine, self.use_bias = eps, elementwise_affine, bias
        _affine(self, self.normalized_shape, elementwise_affine, bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.elementwise_affine and self.use_bias}")


class GroupNorm(Module):
    """Normalise each of ``num_groups`` groups of channels of each sample; per-channel weight and bias.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> GroupNorm(2, 4)(Tensor(np.ones((3, 4, 5), dtype=np.float32))).shape
        (3, 4, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.num_groups = _positive("GroupNorm", "num_groups", num_groups)
        self.num_channels = _positive("GroupNorm", "num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.eps, self.affine, self.use_bias = eps, affine, bias
        _affine(self, (self.num_channels,), affine, bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.affine and self.use_bias}")
