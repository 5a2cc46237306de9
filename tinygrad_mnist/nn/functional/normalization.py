"""Normalisation as functions: ``batch_norm``, ``layer_norm``, ``group_norm``.

Each subtracts a mean and divides by ``sqrt(var + eps)`` (the biased
variance), then scales by ``weight`` and shifts by ``bias`` when given. They
differ in the elements a statistic is taken over: every axis but the channel
axis 1 (``batch_norm``), the trailing ``normalized_shape`` axes of each sample
(``layer_norm``), or groups of channels of each sample (``group_norm``).
Written in Tensor operations, so gradients of any order follow.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor([[1.0, 10.0], [3.0, 30.0]])
    >>> batch_norm(x, None, None, training=True, eps=0.0)
    Tensor([[-1., -1.],
            [ 1.,  1.]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.grad_mode import no_grad
from ...core.tensor import Tensor

__all__ = ["batch_norm", "group_norm", "layer_norm"]


def _check_dtypes(op: str, x: Tensor, **tensors: Tensor | None) -> None:
    """Statistics and affine parameters must have the input's dtype (as in PyTorch; no silent promotion)."""
    for name, t in tensors.items():
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{op}: {name} has dtype {t.dtype} but the input has dtype {x.dtype}; "
                            f"convert them to one dtype (for a module: .double() or .float())")


def _check_per_channel(op: str, channels: int, **tensors: Tensor | None) -> None:
    for name, t in tensors.items():
        if t is not None and t.numel() != channels:
            raise ValueError(f"{op}: {name} should contain {channels} elements, one per channel of the input, "
                             f"got shape {t.shape}")


def _check_batch_size(op: str, shape: Sequence[int], input_shape: tuple[int, ...]) -> None:
    """PyTorch's rule: a statistic over a single value per channel is refused (its variance would be 0)."""
    if shape[0] * int(np.prod(shape[2:])) == 1:
        raise ValueError(f"{op}: Expected more than 1 value per channel when training, "
                         f"got input of shape {input_shape}")


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """``(x - mean) / sqrt(var + eps)`` over ``axes``, with the mean and biased variance (kept dims)."""
    mean = x.mean(axes, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(axes, keepdim=True)
    return centred * (var + eps).rsqrt(), mean, var


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) of ``input`` (N, C, *) over all its other axes.

    With ``training=True`` the batch's mean and biased variance normalise, and
    ``running_mean``/``running_var`` (when given) are updated in place, outside
    the graph: ``running = (1 - momentum) * running + momentum * batch``, with
    the unbiased variance. With ``training=False`` the running statistics
    normalise. ``weight`` and ``bias`` (C,) scale and shift each channel.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> mean, var = Tensor([0.0]), Tensor([1.0])
        >>> y = batch_norm(Tensor([[0.0], [2.0]]), mean, var, training=True, momentum=0.5)
        >>> mean, var  # halfway to the batch mean 1 and unbiased variance 2
        (Tensor([0.5]), Tensor([1.5]))
    """
    x = input
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must have at least 2 dimensions (N, C, *), got shape {x.shape}")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise TypeError(f"batch_norm: momentum must be a float, got {momentum!r} (the modules pass "
                        f"1 / num_batches_tracked for momentum=None)")
    channels = x.shape[1]
    _check_per_channel("batch_norm", channels, running_mean=running_mean, running_var=running_var,
                       weight=weight, bias=bias)
    _check_dtypes("batch_norm", x, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    axes = (0, *range(2, x.ndim))
    per_channel = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        _check_batch_size("batch_norm", x.shape, x.shape)
        out, mean, var = _normalize(x, axes, eps)
        count = x.numel() // channels
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1.0 - momentum).add_(mean.detach().reshape(running_mean.shape) * momentum)
            if running_var is not None:
                unbiased = var.detach().reshape(running_var.shape) * (count / (count - 1))
                running_var.mul_(1.0 - momentum).add_(unbiased * momentum)
    else:
        for name, t in (("running_mean", running_mean), ("running_var", running_var)):
            if t is None:
                raise ValueError(f"batch_norm: {name} must be given in evaluation mode (training=False)")
        assert running_mean is not None and running_var is not None
        out = (x - running_mean.reshape(per_channel)) * (running_var.reshape(per_channel) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out


def _normalized_shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"layer_norm: normalized_shape must be a tuple or list of ints, got {value!r} "
                        f"(write ({value},) for one axis)")
    shape = tuple(int(n) for n in value)
    if not shape:
        raise ValueError("layer_norm: normalized_shape must contain at least one size, got ()")
    return shape


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample over its trailing axes ``normalized_shape``; ``weight``/``bias`` have that shape.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> layer_norm(Tensor([[1.0, 3.0], [0.0, 10.0]]), (2,), eps=0.0)
        Tensor([[-1.,  1.],
                [-1.,  1.]])
    """
    shape = _normalized_shape(normalized_shape)
    x = input
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: normalized_shape={shape} expects an input of shape (*, "
                         f"{', '.join(map(str, shape))}), got shape {x.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape normalized_shape={shape}, got {t.shape}")
    _check_dtypes("layer_norm", x, weight=weight, bias=bias)
    out, _, _ = _normalize(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Split the C channels of ``input`` (N, C, *) into ``num_groups`` groups; normalise each group of each sample.

    ``weight`` and ``bias`` (C,) scale and shift each channel afterwards.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> group_norm(Tensor([[1.0, 3.0, 0.0, 4.0]]), 2, eps=0.0)
        Tensor([[-1.,  1., -1.,  1.]])
    """
    x = input
    if x.ndim < 2:
        raise ValueError(f"group_norm: input must have at least 2 dimensions (N, C, *), got shape {x.shape}")
    n, channels = x.shape[:2]
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or num_groups < 1:
        raise ValueError(f"group_norm: num_groups must be a positive integer, got {num_groups!r}")
    if channels % num_groups:
        raise ValueError(f"group_norm: the number of channels must be divisible by num_groups, got input of "
                         f"shape {x.shape} and num_groups={num_groups}")
    _check_per_channel("group_norm", channels, weight=weight, bias=bias)
    _check_dtypes("group_norm", x, weight=weight, bias=bias)
    _check_batch_size("group_norm", (n * channels // num_groups, num_groups, *x.shape[2:]), x.shape)
    grouped, _, _ = _normalize(x.reshape(n, int(num_groups), -1), (2,), eps)
    out = grouped.reshape(x.shape)
    per_channel = (1, channels) + (1,) * (x.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out
