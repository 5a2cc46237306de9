"""Dropout layers: random zeroing while training, the identity in eval mode.

>>> import numpy as np
>>> from tinygrad_mnist import Tensor
>>> layer = Dropout(0.5).eval()
>>> layer(Tensor(np.ones(3, dtype=np.float32)))
Tensor([1., 1., 1.])
"""

from __future__ import annotations

from ..core.tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Inverted dropout with probability ``p`` while training; identity in eval mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
