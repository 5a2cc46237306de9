"""Dropout variants as functions: ``dropout1d``, ``dropout2d`` (whole channels at once).

Each zeroes entire channels (``input[n, c]``) with probability ``p`` and
scales the kept ones by ``1 / (1 - p)``, so that the expected value is
unchanged; with ``training=False`` (or ``p=0``) the input is returned as it
is. The mask is drawn from [`tinygrad_mnist.random.generator`][tinygrad_mnist.random.generator], so
``manual_seed`` reproduces it. ``inplace=True`` multiplies the input itself
(refused, as in PyTorch, for a leaf that requires grad while recording).

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor(np.ones((1, 2, 3)))
    >>> dropout1d(x, p=0.5, training=False) is x
    True
"""

from __future__ import annotations

import warnings

from ...core.composites import check_dropout_probability, masked_dropout
from ...core.tensor import Tensor

__all__ = ["dropout1d", "dropout2d"]


def _channel_mask(shape: tuple[int, ...]) -> tuple[int, ...]:
    """One mask entry per (sample, channel): the first two sizes, then ones."""
    return shape[:2] + (1,) * (len(shape) - 2)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``input`` (N, C, L) or (C, L) with probability ``p``; scale the rest by 1/(1-p).

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor, manual_seed
        >>> _ = manual_seed(0)
        >>> y = dropout1d(Tensor(np.ones((4, 8, 5))), p=0.5)
        >>> bool(np.all(y.numpy() == y.numpy()[:, :, :1]))  # each channel is all 0 or all 2
        True
    """
    check_dropout_probability("dropout1d", p)
    if input.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 2-d (C, L) or 3-d (N, C, L) input, got shape {input.shape}; "
                         f"dropout1d drops channels of inputs with one spatial dimension")
    mask = _channel_mask(input.shape) if input.ndim == 3 else (input.shape[0], 1)
    return masked_dropout(input, p, training, inplace, mask)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``input`` (N, C, H, W) with probability ``p``; scale the rest by 1/(1-p).

    As in PyTorch, a 3-d input is taken as (N, C, L) (one mask entry per
    (N, C), with a warning; use ``dropout1d`` for that), and inputs of other
    ranks (at least 2) warn and get one mask entry per entry of the first two axes.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor, manual_seed
        >>> _ = manual_seed(0)
        >>> y = dropout2d(Tensor(np.ones((4, 8, 3, 3))), p=0.25)
        >>> sorted(set(y.numpy().ravel().round(4).tolist()))
        [0.0, 1.3333]
    """
    check_dropout_probability("dropout2d", p)
    if input.ndim < 2:
        raise ValueError(f"dropout2d: needs at least 2 dimensions (N, C, ...), got shape {input.shape}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: a {input.ndim}-d input is deprecated (PyTorch will refuse it); dropout2d "
                      f"drops channels of 4-d (N, C, H, W) inputs; use dropout for other shapes", UserWarning,
                      stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: a 3-d input is taken as (N, C, L) and its channels are dropped as by "
                      "dropout1d (not as one unbatched (C, H, W) sample); call dropout1d to say so",
                      UserWarning, stacklevel=2)
    return masked_dropout(input, p, training, inplace, _channel_mask(input.shape))
