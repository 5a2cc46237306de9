"""Lookups as functions: ``embedding``, ``one_hot``.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> one_hot(Tensor(np.array([0, 2])))
    Tensor([[1, 0, 0],
            [0, 0, 1]], dtype=int64)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.inplace import mark_changed
from ...core.tensor import Tensor

__all__ = ["embedding", "one_hot"]

_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32))


def _indices(op: str, value: Any, allowed: tuple[np.dtype, ...]) -> np.ndarray:
    """The integer array of a Tensor (or numpy array) of indices; other dtypes are a TypeError."""
    if not isinstance(value, (Tensor, np.ndarray)):
        raise TypeError(f"{op}: indices must be an integer Tensor, got {type(value).__name__}")
    array = value.data if isinstance(value, Tensor) else value
    if array.dtype not in allowed:
        names = " or ".join(d.name for d in allowed)
        raise TypeError(f"{op}: indices must have dtype {names}, got {array.dtype}")
    return array


def _renorm_rows(weight: Tensor, rows: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Scale the rows ``rows`` of ``weight`` whose ``norm_type``-norm exceeds ``max_norm`` down to it, in place."""
    data = weight.data
    norms = np.linalg.norm(data[rows].astype(np.float64), ord=norm_type, axis=1)
    over = norms > max_norm
    if over.any():
        scale = max_norm / (norms[over] + 1e-7)
        data[rows[over]] = (data[rows[over]] * scale[:, None]).astype(data.dtype)
        mark_changed(weight)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """The rows of ``weight`` (num_embeddings, embedding_dim) at the integer ``input`` indices, any shape.

    The result has shape ``(*input.shape, embedding_dim)``. Occurrences of
    ``padding_idx`` give that row's value but pass it no gradient. With
    ``max_norm``, each looked-up row whose ``norm_type``-norm exceeds it is first
    scaled down to norm ``max_norm`` in ``weight`` itself (in place, outside the
    graph). ``scale_grad_by_freq`` and ``sparse`` are not supported.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> weight = Tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> out = embedding(Tensor(np.array([[2, 0], [2, 1]])), weight, padding_idx=0)
        >>> out.shape
        (2, 2, 2)
        >>> out.sum().backward(); weight.grad
        Tensor([[0., 0.],
                [1., 1.],
                [2., 2.]])
    """
    if scale_grad_by_freq:
        raise NotImplementedError("embedding: scale_grad_by_freq=True is not supported (only False)")
    if sparse:
        raise NotImplementedError("embedding: sparse=True is not supported; gradients are dense (sparse=False)")
    index = _indices("embedding", input, _INDEX_DTYPES)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-d (num_embeddings, embedding_dim), got shape {weight.shape}")
    rows = weight.shape[0]
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings ({rows}), got {padding_idx}")
        padding_idx = padding_idx % rows
    if index.size and (index.min() < 0 or index.max() >= rows):
        bad = index.min() if index.min() < 0 else index.max()
        raise IndexError(f"embedding: index {bad} is out of range for a weight with {rows} rows")
    if max_norm is not None and index.size:
        _renorm_rows(weight, np.unique(index), float(max_norm), float(norm_type))
    out = weight[index.astype(np.int64)]
    if padding_idx is not None:
        padded = index == padding_idx
        if padded.any():
            out = out.masked_fill(padded[..., None], out.detach())
    return out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """An int64 tensor of shape ``(*tensor.shape, num_classes)``: 1 at each index of int64 ``tensor``, 0 elsewhere.

    ``num_classes=-1`` means the largest index plus one. Negative indices and
    indices not below ``num_classes`` raise.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> one_hot(Tensor(np.array([1])), num_classes=4)
        Tensor([[0, 1, 0, 0]], dtype=int64)
    """
    index = _indices("one_hot", tensor, (np.dtype(np.int64),))
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 (infer) or a non-negative integer, got {num_classes!r}")
    if num_classes == -1:
        if index.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; give num_classes")
        num_classes = int(index.max()) + 1
    if index.size and index.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {index.min()}")
    if index.size and index.max() >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes={num_classes}, got {index.max()}")
    return Tensor(index[..., None] == np.arange(num_classes)).long()
