"""Parameter initialisers, as ``torch.nn.init`` has them, drawing from the framework's seedable generator.

Each fills a tensor where it is and returns it, like PyTorch's trailing-underscore
functions: the tensor keeps its array, its dtype and its ``requires_grad``, no
gradient is recorded (a Parameter that requires grad can be filled at any time),
and the change counts as an in-place change (``_version`` goes up), as any other.
Draws come from ``tinygrad_mnist.random`` (seed it with ``manual_seed``) unless a
``numpy.random.Generator`` is passed as ``generator``.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor, manual_seed
    >>> w = Tensor(np.empty((256, 100), dtype=np.float32))
    >>> _ = manual_seed(0); _ = kaiming_uniform_(w, nonlinearity="relu")
    >>> bool(np.abs(w.data).max() <= np.sqrt(6 / 100)), w.dtype
    (True, dtype('float32'))
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import random
from ..core.inplace import mark_changed
from ..core.tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "sparse_",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended scale of weights followed by ``nonlinearity`` (PyTorch's table).

    ``param`` is the negative slope of ``'leaky_relu'`` (default 0.01) and is
    ignored by the others. ``'identity'`` is accepted as a synonym of ``'linear'``.

    Examples:
        >>> calculate_gain("tanh"), calculate_gain("leaky_relu", 0.0) ** 2, calculate_gain("selu")
        (1.6666666666666667, 2.0000000000000004, 0.75)
    """
    if nonlinearity in _LINEAR or nonlinearity in ("sigmoid", "identity"):
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope: float = 0.01
        elif isinstance(param, float) or (isinstance(param, int) and not isinstance(param, bool)):
            slope = param
        else:
            raise ValueError(f"calculate_gain: the negative slope (param) of 'leaky_relu' must be an int or a "
                             f"float, got {param!r}")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    known = ", ".join(repr(n) for n in (*_LINEAR, "sigmoid", "tanh", "relu", "leaky_relu", "selu"))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of {known}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)``: dimensions 1 and 0, each times the product of the dimensions after them."""
    return _fans("_calculate_fan_in_and_fan_out", tensor)


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    """The fan that ``mode`` (``'fan_in'`` or ``'fan_out'``, any case) names."""
    return _fan("_calculate_correct_fan", tensor, mode)


def _fans(name: str, tensor: Tensor) -> tuple[int, int]:
    _check_tensor(name, tensor)
    if tensor.ndim < 2:
        raise ValueError(f"{name}: fan in and fan out can not be computed for a tensor with fewer than "
                         f"2 dimensions: they need at least 2 dimensions, got shape {tuple(tensor.shape)}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(name: str, tensor: Tensor, mode: str) -> int:
    chosen = mode.lower() if isinstance(mode, str) else mode
    if chosen not in ("fan_in", "fan_out"):
        raise ValueError(f"{name}: mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _fans(name, tensor)
    return fan_in if chosen == "fan_in" else fan_out


# ---- filling -------------------------------------------------------------------------------------
def _check_tensor(name: str, tensor: Any) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(tensor).__name__}")


def _rng(name: str, generator: Any) -> np.random.Generator:
    if generator is None:
        return random.generator()
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"{name}: generator must be None (the tinygrad_mnist.random generator) or a "
                    f"numpy.random.Generator, got {type(generator).__module__}.{type(generator).__name__}")


def _check_float(name: str, tensor: Any) -> None:
    _check_tensor(name, tensor)
    if tensor.data.dtype.kind != "f":
        raise TypeError(f"{name}: random draws need a floating-point tensor, got dtype {tensor.data.dtype}")


def _fill(name: str, tensor: Tensor, values: Any) -> Tensor:
    """Write ``values`` into the tensor's own array (converted to its dtype) and count the change."""
    if not tensor.data.flags.writeable:
        raise RuntimeError(f"{name}: this tensor's data is read-only (a shared constant); fill a copy instead")
    np.copyto(tensor.data, values, casting="unsafe")
    mark_changed(tensor)
    return tensor


def _zero_elements(tensor: Tensor) -> bool:
    if tensor.data.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with draws from the uniform distribution on [a, b).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> w = uniform_(tm.empty(1000), -0.5, 0.5)
        >>> bool((w.data >= -0.5).all() and (w.data < 0.5).all())
        True
    """
    return _uniform("uniform_", tensor, a, b, generator)


def _uniform(name: str, tensor: Tensor, a: float, b: float, generator: Any) -> Tensor:
    _check_float(name, tensor)
    if a > b:
        raise ValueError(f"{name}: expects a <= b (a range [a, b)), got a={a} > b={b}")
    return _fill(name, tensor, _rng(name, generator).uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with draws from the normal distribution N(mean, std**2).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> w = normal_(tm.empty(100_000), mean=3.0, std=0.5)
        >>> round(float(w.data.mean()), 1), round(float(w.data.std()), 1)
        (3.0, 0.5)
    """
    return _normal("normal_", tensor, mean, std, generator)


def _normal(name: str, tensor: Tensor, mean: float, std: float, generator: Any) -> Tensor:
    _check_float(name, tensor)
    if std < 0:
        raise ValueError(f"{name}: std must be >= 0, got {std}")
    return _fill(name, tensor, _rng(name, generator).normal(mean, std, size=tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Any = None) -> Tensor:
    """Fill with draws from N(mean, std**2) truncated to [a, b] (rejection sampling, so exact).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> w = trunc_normal_(tm.empty(10_000), std=1.0, a=-0.5, b=1.0)
        >>> bool(w.data.min() >= -0.5 and w.data.max() <= 1.0)
        True
    """
    _check_float("trunc_normal_", tensor)
    if not std > 0:
        raise ValueError(f"trunc_normal_: std must be > 0, got {std}")
    if not a < b:
        raise ValueError(f"trunc_normal_: expects a < b, got a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("trunc_normal_: mean is more than 2 std from [a, b]; "
                      "the distribution of values may be incorrect.", stacklevel=2)
    rng = _rng("trunc_normal_", generator)
    low, high = np.asarray(a, tensor.data.dtype), np.asarray(b, tensor.data.dtype)  # bounds as stored
    accepted = np.asarray(_normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std))
    values = np.empty(tensor.shape)
    pending = np.ones(tensor.shape, dtype=bool)
    peak = min(max(mean, a), b)  # where the density is largest inside [a, b]
    while (count := int(pending.sum())) > 0:
        if accepted > 0.3:  # most normal draws fall inside: keep those that do
            draws = rng.normal(mean, std, size=count)
            stored = draws.astype(tensor.data.dtype)
            keep = (stored >= low) & (stored <= high)
        else:  # a narrow window: uniform proposals on [a, b], accepted in proportion to the density
            draws = rng.uniform(a, b, size=count)
            keep = rng.random(count) < np.exp(-0.5 * (((draws - mean) / std) ** 2 - ((peak - mean) / std) ** 2))
        slots = np.flatnonzero(pending)[keep]
        values.flat[slots] = draws[keep]
        pending.flat[slots] = False
    return _fill("trunc_normal_", tensor, values)


def _normal_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> constant_(tm.empty(3), 0.5)
        Tensor([0.5, 0.5, 0.5])
    """
    _check_tensor("constant_", tensor)
    return _fill("constant_", tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> ones_(tm.empty(2))
        Tensor([1., 1.])
    """
    _check_tensor("ones_", tensor)
    return _fill("ones_", tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> zeros_(tm.ones(2))
        Tensor([0., 0.])
    """
    _check_tensor("zeros_", tensor)
    return _fill("zeros_", tensor, 0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-d tensor with the identity matrix (ones on the diagonal, also when not square).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> eye_(tm.empty(2, 3))
        Tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    _check_tensor("eye_", tensor)
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape {tuple(tensor.shape)}")
    rows, cols = tensor.shape
    return _fill("eye_", tensor, np.eye(rows, cols))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-d convolution weight so that the convolution passes its input through
    (as many channels as fit, in each of ``groups`` groups).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> dirac_(tm.empty(2, 2, 3)).data[:, :, 1]
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    _check_tensor("dirac_", tensor)
    shape = tuple(tensor.shape)
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"dirac_: only tensors with 3, 4, or 5 dimensions are supported, got shape {shape}")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"dirac_: groups must be a positive integer, got {groups!r}")
    if shape[0] % groups != 0:
        raise ValueError(f"dirac_: dim 0 (size {shape[0]}) must be divisible by groups={groups}")
    per_group = shape[0] // groups
    channels = np.arange(min(per_group, shape[1]))
    out = (np.arange(groups)[:, None] * per_group + channels).ravel()
    centre = [s // 2 for s in shape[2:]]
    index: tuple[Any, ...] = (out, np.tile(channels, groups), *centre)
    values = np.zeros(shape)
    values[index] = 1
    return _fill("dirac_", tensor, values)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> w = xavier_uniform_(tm.empty(30, 20))
        >>> bool(abs(w.data).max() <= (6 / 50) ** 0.5)
        True
    """
    fan_in, fan_out = _fans("xavier_uniform_", tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return _uniform("xavier_uniform_", tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio, 2010).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> w = xavier_normal_(tm.empty(400, 600))
        >>> round(float(w.data.std()) / (2 / 1000) ** 0.5, 1)
        1.0
    """
    fan_in, fan_out = _fans("xavier_normal_", tensor)
    return _normal("xavier_normal_", tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(name: str, tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(name, tensor, mode))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Any = None) -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al., 2015); ``a`` is the
    negative slope of ``'leaky_relu'``, ``mode`` picks ``'fan_in'`` or ``'fan_out'``.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> w = kaiming_uniform_(tm.empty(64, 8, 3, 3), mode="fan_out", nonlinearity="relu")
        >>> bool(abs(w.data).max() <= (6 / (64 * 9)) ** 0.5)
        True
    """
    _check_tensor("kaiming_uniform_", tensor)
    if _zero_elements(tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    return _uniform("kaiming_uniform_", tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Any = None) -> Tensor:
    """N(0, std**2) with std = gain / sqrt(fan) (He et al., 2015); arguments as
    [`kaiming_uniform_`][tinygrad_mnist.nn.init.kaiming_uniform_].

    Examples:
        >>> import tinygrad_mnist as tm
        >>> w = kaiming_normal_(tm.empty(500, 400), nonlinearity="relu")
        >>> round(float(w.data.std()) / (2 / 400) ** 0.5, 1)
        1.0
    """
    _check_tensor("kaiming_normal_", tensor)
    if _zero_elements(tensor):
        return tensor
    return _normal("kaiming_normal_", tensor, 0.0, _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity),
                   generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator: Any = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013): the tensor seen as
    ``(shape[0], rest)``, from the QR decomposition of a normal draw with R's diagonal made positive.

    Examples:
        >>> import numpy as np, tinygrad_mnist as tm
        >>> w = orthogonal_(tm.empty(3, 5, dtype=tm.float64)).data
        >>> np.allclose(w @ w.T, np.eye(3))
        True
    """
    _check_float("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.data.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.data.size // rows
    flat = _rng("orthogonal_", generator).normal(0.0, 1.0, size=(rows, cols))
    tall = flat.T if rows < cols else flat  # QR of the tall orientation: orthonormal columns
    q, r = np.linalg.qr(tall)
    q = q * np.sign(np.diag(r))  # a unique, uniformly distributed Q (Mezzadri, 2007)
    if rows < cols:
        q = q.T
    return _fill("orthogonal_", tensor, (q * gain).reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Any = None) -> Tensor:
    """A 2-d tensor with draws from N(0, std**2) and, in every column, ``ceil(sparsity * rows)``
    entries (at random rows) set to zero (Martens, 2010).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> w = sparse_(tm.empty(10, 4), sparsity=0.3)
        >>> (w.data == 0).sum(axis=0).tolist()
        [3, 3, 3, 3]
    """
    _check_float("sparse_", tensor)
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: only tensors with 2 dimensions are supported, got shape {tuple(tensor.shape)}")
    if std < 0:
        raise ValueError(f"sparse_: std must be >= 0, got {std}")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparse_: sparsity must be in [0, 1], got {sparsity}")
    rng = _rng("sparse_", generator)
    rows, cols = tensor.shape
    zeros = math.ceil(sparsity * rows)
    values = rng.normal(0.0, std, size=(rows, cols))
    order = np.argsort(rng.random((rows, cols)), axis=0)  # an independent random order of rows per column
    values[order[:zeros], np.arange(cols)] = 0
    return _fill("sparse_", tensor, values)
