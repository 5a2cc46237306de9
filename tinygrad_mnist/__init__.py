"""tinygrad_mnist: a small reverse-mode autodiff framework on numpy.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> w = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> loss = (w @ Tensor([1.0, 1.0])).sum()
    >>> loss.backward()
    >>> w.grad
    Tensor([[1., 1.],
            [1., 1.]])

The library is ``tinygrad_mnist`` itself (``core`` underneath), ``autograd``,
``nn``, ``optim``, ``testing``, ``viz`` and ``datasets``; the MNIST
application (training loop, the ``tinygrad-mnist`` command, checkpoints,
models, plots) is ``tinygrad_mnist.mnist``, which is imported only when used.
"""

from importlib import import_module as _import_module
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from .core.coerce import get_default_dtype, set_default_dtype
from .core.devices import accelerator, backends, cuda, device
from .core.dtypes import bool as bool  # builtins-shadowing names: attributes only
from .core.dtypes import (
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from .core.dtypes import float as float
from .core.dtypes import int as int
from .core.factories import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from .core.functions import abs as abs  # builtins' names: attributes only
from .core.functions import all as all
from .core.functions import (
    amax,
    amin,
    argmax,
    argmin,
    argsort,
    cat,
    ceil,
    chunk,
    clamp,
    clip,
    clone,
    concat,
    concatenate,
    cos,
    cumsum,
    eq,
    erf,
    exp,
    expm1,
    flatten,
    flip,
    floor,
    gather,
    ge,
    gt,
    index_select,
    isfinite,
    isnan,
    le,
    log,
    log1p,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logsumexp,
    lt,
    masked_fill,
    maximum,
    mean,
    minimum,
    nan_to_num,
    narrow,
    ne,
    norm,
    numel,
    permute,
    prod,
    relu,
    reshape,
    rsqrt,
    scatter,
    scatter_add,
    sigmoid,
    sign,
    sin,
    softmax,
    sort,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    t,
    tanh,
    topk,
    transpose,
    unflatten,
    unsqueeze,
    var,
)
from .core.functions import any as any
from .core.functions import max as max
from .core.functions import min as min
from .core.functions import pow as pow
from .core.functions import round as round
from .core.functions import sum as sum
from .core.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .core.tensor import Tensor, where
from .random import manual_seed

if _TYPE_CHECKING:  # loaded on first use, below
    from .serialization import load, save

# bool, float, int and the functions named like builtins (sum, max, abs, ...) are attributes
# (tinygrad_mnist.sum, as torch.sum) but left out of __all__,
# so that a star import never shadows the builtins.
__all__ = [
    "Tensor",
    "accelerator",
    "amax",
    "amin",
    "arange",
    "argmax",
    "argmin",
    "argsort",
    "as_tensor",
    "backends",
    "cat",
    "ceil",
    "chunk",
    "clamp",
    "clip",
    "clone",
    "concat",
    "concatenate",
    "cos",
    "cuda",
    "cumsum",
    "device",
    "double",
    "empty",
    "empty_like",
    "enable_grad",
    "eq",
    "erf",
    "exp",
    "expm1",
    "eye",
    "flatten",
    "flip",
    "float16",
    "float32",
    "float64",
    "floor",
    "from_numpy",
    "full",
    "full_like",
    "gather",
    "ge",
    "get_default_dtype",
    "gt",
    "half",
    "index_select",
    "inference_mode",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_grad_enabled",
    "isfinite",
    "isnan",
    "le",
    "linspace",
    "load",
    "log",
    "log1p",
    "log_softmax",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "logsumexp",
    "long",
    "lt",
    "manual_seed",
    "masked_fill",
    "maximum",
    "mean",
    "minimum",
    "nan_to_num",
    "narrow",
    "ne",
    "no_grad",
    "norm",
    "numel",
    "ones",
    "ones_like",
    "permute",
    "prod",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "relu",
    "reshape",
    "rsqrt",
    "save",
    "scatter",
    "scatter_add",
    "set_default_dtype",
    "set_grad_enabled",
    "short",
    "sigmoid",
    "sign",
    "sin",
    "softmax",
    "sort",
    "split",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "t",
    "tanh",
    "tensor",
    "topk",
    "transpose",
    "uint8",
    "unflatten",
    "unsqueeze",
    "var",
    "where",
    "zeros",
    "zeros_like",
]
__version__ = "0.1.0"

# The library's subpackages load on first use (``tinygrad_mnist.nn``, ``tinygrad_mnist.utils.data``, ...),
# as ``torch.nn`` does after ``import torch``, without making every import pay for all of them.
# ``save`` and ``load`` (which need ``nn`` for Parameters) the same way.
_SUBPACKAGES = frozenset({"autograd", "datasets", "func", "nn", "optim", "testing", "transforms", "utils", "viz"})
_LAZY_FUNCTIONS = {"save": "serialization", "load": "serialization"}


def __getattr__(name: str) -> _Any:
    if name in _SUBPACKAGES:
        return _import_module(f"{__name__}.{name}")
    if name in _LAZY_FUNCTIONS:
        return getattr(_import_module(f"{__name__}.{_LAZY_FUNCTIONS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
