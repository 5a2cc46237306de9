"""tinygrad_mnist: a small reverse-mode autodiff framework on numpy.

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
models, plots) is :mod:`tinygrad_mnist.mnist`, which is imported only when used.
"""

from .core.functions import concatenate, maximum, stack
from .core.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .core.tensor import Tensor, where
from .random import manual_seed

__all__ = [
    "Tensor",
    "concatenate",
    "enable_grad",
    "is_grad_enabled",
    "manual_seed",
    "maximum",
    "no_grad",
    "set_grad_enabled",
    "stack",
    "where",
]
__version__ = "0.1.0"
