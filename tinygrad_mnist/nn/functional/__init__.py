"""Activations, layers and losses as functions (import as ``F``), with PyTorch's names and arguments.

Grouped by area: [`activation`][tinygrad_mnist.nn.functional.activation],
[`layer`][tinygrad_mnist.nn.functional.layer] (linear, convolution, pooling, padding),
[`dropouts`][tinygrad_mnist.nn.functional.dropouts], [`normalization`][tinygrad_mnist.nn.functional.normalization],
[`sparse`][tinygrad_mnist.nn.functional.sparse] (embedding, one-hot),
[`distance`][tinygrad_mnist.nn.functional.distance] and [`loss`][tinygrad_mnist.nn.functional.loss]. The
functions shared with ``Tensor`` methods are the composites of
``tinygrad_mnist.core.composites``, written once. Nothing here has a
hand-written gradient, so gradients of any order follow.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> from tinygrad_mnist.nn import functional as F
    >>> logits = Tensor([[2.0, 0.0, -2.0]], requires_grad=True)
    >>> F.cross_entropy(logits, np.array([0])).backward()
    >>> np.allclose(logits.grad.data, F.softmax(logits, dim=1).data - [1, 0, 0])   # dZ = A - Y
    True
"""

from . import activation, distance, dropouts, layer, loss, normalization, sparse
from .activation import *
from .distance import *
from .dropouts import *
from .layer import *
from .loss import *
from .normalization import *
from .sparse import *

__all__ = (activation.__all__ + distance.__all__ + dropouts.__all__ + layer.__all__ + loss.__all__
           + normalization.__all__ + sparse.__all__)
