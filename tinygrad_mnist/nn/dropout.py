"""Dropout layers: random zeroing while training, the identity in eval mode.

``Dropout`` zeroes single elements; ``Dropout1d`` and ``Dropout2d`` zero whole
channels (``x[n, c]``). Masks come from [`tinygrad_mnist.random.generator`][tinygrad_mnist.random.generator].

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> layer = Dropout(0.5).eval()
    >>> layer(Tensor(np.ones(3, dtype=np.float32)))
    Tensor([1., 1., 1.])
"""

from __future__ import annotations

from ..core.composites import check_dropout_probability
from ..core.tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]


class _DropoutNd(Module):
    """The shared arguments: probability ``p`` in [0, 1] and ``inplace``."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        check_dropout_probability(type(self).__name__, p)
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout: each element zeroed with probability ``p`` while training, the rest scaled by 1/(1-p).

    The mask is drawn exactly as ``F.dropout`` draws it, so one seed gives both the same mask.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> sorted(set(Dropout(p=0.5)(Tensor(np.ones(1000))).numpy().tolist()))
        [0.0, 2.0]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Whole channels of (N, C, L) or (C, L) input zeroed with probability ``p`` while training (``F.dropout1d``).

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> Dropout1d(0.3).eval()(Tensor(np.ones((1, 2, 2)))).shape
        (1, 2, 2)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout1d(x, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Whole channels of (N, C, H, W) input zeroed with probability ``p`` while training (``F.dropout2d``).

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> Dropout2d(0.3).eval()(Tensor(np.ones((1, 2, 2, 2)))).shape
        (1, 2, 2, 2)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout2d(x, self.p, self.training, self.inplace)
