"""Lookup layers: ``Embedding``, a trainable table whose rows integer indices select.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor, manual_seed
    >>> _ = manual_seed(0)
    >>> table = Embedding(10, 3, padding_idx=0)
    >>> table(Tensor(np.array([[1, 0, 4]]))).shape, table.weight.dtype
    ((1, 3, 3), dtype('float32'))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """A table ``weight`` (num_embeddings, embedding_dim), drawn from N(0, 1); ``forward`` is ``F.embedding``.

    The ``padding_idx`` row starts at zero and gets no gradient; a negative
    ``padding_idx`` counts from the end. ``_weight`` gives the table (its shape
    must match; its padding row is left as it is). ``scale_grad_by_freq=True``
    and ``sparse=True`` are not supported (NotImplementedError).

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> table = Embedding(4, 2, padding_idx=-1)
        >>> table.padding_idx, table.weight[3]
        (3, Tensor([0., 0.], grad_fn=getitem))
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False) -> None:
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Embedding: {name} must be a positive integer, got {value!r}")
        if scale_grad_by_freq:
            raise NotImplementedError("Embedding: scale_grad_by_freq=True is not supported (only False)")
        if sparse:
            raise NotImplementedError("Embedding: sparse=True is not supported; gradients are dense (sparse=False)")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be within num_embeddings ({num_embeddings}), "
                                 f"got {padding_idx}")
            padding_idx = int(padding_idx) % int(num_embeddings)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=np.float32),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight must have shape ({num_embeddings}, {embedding_dim}), "
                                 f"got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight.data if isinstance(_weight, Tensor) else np.asarray(_weight),
                                    requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Draw the table from N(0, 1) again, with the padding row zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An ``Embedding`` over the given 2-d table (shared, not copied); ``freeze`` turns its gradient off.

        Examples:
            >>> import numpy as np
            >>> from tinygrad_mnist import Tensor
            >>> table = Embedding.from_pretrained(Tensor([[1.0, 2.0], [3.0, 4.0]]))
            >>> table(Tensor(np.array([1]))), table.weight.requires_grad
            (Tensor([[3., 4.]]), False)
        """
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-d (num_embeddings, "
                             f"embedding_dim), got shape {tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    def extra_repr(self) -> str:
        parts = [f"{self.num_embeddings}, {self.embedding_dim}"]
        optional: dict[str, Any] = {"padding_idx": self.padding_idx, "max_norm": self.max_norm}
        parts += [f"{name}={value}" for name, value in optional.items() if value is not None]
        if self.norm_type != 2:
            parts.append(f"norm_type={self.norm_type}")
        return ", ".join(parts)
