"""Image transforms with torchvision's names: ``ToTensor``, ``Normalize``, ``Compose``, ``Lambda``.

There is no image library here, so images are numpy arrays: ``ToTensor`` takes
a uint8 ``H x W`` or ``H x W x C`` array (where torchvision takes a PIL image or
an array) and gives a float32 ``(C, H, W)`` tensor scaled to ``[0, 1]``.

Each transform that can also runs on a whole stack of samples at once through
``batch(x)`` (``ToTensor.batch`` takes ``N x H x W[ x C]`` and gives
``(N, C, H, W)``); [`batchable`][tinygrad_mnist.transforms.batchable] tells whether a transform (a ``Compose``
of them included) can; datasets such as ``datasets.MNIST`` use it to transform
a batch in one step instead of sample by sample.

Examples:
    >>> import numpy as np
    >>> t = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
    >>> t(np.array([[0, 255]], dtype=np.uint8)).tolist()
    [[[-1.0, 1.0]]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .core.tensor import Tensor

__all__ = ["Compose", "Lambda", "Normalize", "ToTensor", "batchable"]


def batchable(transform: Any) -> bool:
    """Whether ``transform`` (or None: no transform) can run on a stacked batch via ``batch``."""
    if transform is None:
        return True
    if isinstance(transform, Compose):
        return all(batchable(t) for t in transform.transforms)
    return callable(getattr(transform, "batch", None))


class ToTensor:
    """uint8 ``H x W`` / ``H x W x C`` array -> float32 ``(C, H, W)`` tensor in ``[0, 1]``.

    Arrays of other dtypes are transposed but not scaled (as torchvision).

    Examples:
        >>> import numpy as np
        >>> x = ToTensor()(np.full((2, 3), 51, dtype=np.uint8))
        >>> x.shape, x.dtype, round(x.max().item(), 6)
        ((1, 2, 3), dtype('float32'), 0.2)
    """

    def __call__(self, pic: Any) -> Tensor:
        if not isinstance(pic, np.ndarray):
            raise TypeError(f"ToTensor: pic should be a numpy array (H x W or H x W x C), got {type(pic).__name__}")
        if pic.ndim not in (2, 3):
            raise ValueError(f"ToTensor: pic should be 2 or 3 dimensional, got {pic.ndim} dimensions")
        return self.batch(pic[None])[0]

    def batch(self, pics: np.ndarray) -> Tensor:
        """A stack ``N x H x W[ x C]`` -> ``(N, C, H, W)``, in one vectorised step."""
        if not isinstance(pics, np.ndarray) or pics.ndim not in (3, 4):
            raise ValueError(f"ToTensor.batch: expected an N x H x W[ x C] array, got {getattr(pics, 'shape', pics)}")
        chw = pics[:, None] if pics.ndim == 3 else np.moveaxis(pics, -1, 1)
        if pics.dtype == np.uint8:
            return Tensor(np.ascontiguousarray(chw, dtype=np.float32) / np.float32(255))
        return Tensor(np.ascontiguousarray(chw))

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a float ``(..., C, H, W)`` tensor.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> Normalize((1.0, 2.0), (2.0, 4.0))(tm.ones(2, 1, 1)).flatten().tolist()
        [0.0, -0.25]
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = tuple(float(m) for m in np.atleast_1d(mean))
        self.std = tuple(float(s) for s in np.atleast_1d(std))
        self.inplace = inplace
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std evaluated to zero, leading to division by zero: {self.std}")

    def __call__(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: expected a Tensor, got {type(tensor).__name__}")
        if tensor.dtype.kind != "f":
            raise TypeError(f"Normalize: input tensor should be a float tensor, got {tensor.dtype}")
        if tensor.ndim < 3:
            raise ValueError(f"Normalize: expected a tensor image of size (..., C, H, W), got {tensor.shape}")
        channels = tensor.shape[-3]
        if len(self.mean) not in (1, channels) or len(self.std) not in (1, channels):
            raise ValueError(f"Normalize: mean {self.mean} / std {self.std} do not fit {channels} channels")
        mean = np.asarray(self.mean, dtype=tensor.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=tensor.dtype).reshape(-1, 1, 1)
        return (tensor - Tensor(mean)) / Tensor(std)

    batch = __call__  # works on (N, C, H, W) as on (C, H, W)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Compose:
    """Apply transforms one after the other.

    Examples:
        >>> Compose([lambda x: x + 1, lambda x: x * 2])(3)
        8
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def batch(self, x: Any) -> Any:
        """The composed batch transforms (every member must be [`batchable`][tinygrad_mnist.transforms.batchable])."""
        for t in self.transforms:
            x = t.batch(x)  # type: ignore[attr-defined]
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class Lambda:
    """A user function as a transform (applied per sample).

    Examples:
        >>> Lambda(lambda x: x * 10)(4)
        40
    """

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, x: Any) -> Any:
        return self.lambd(x)

    def __repr__(self) -> str:
        return "Lambda()"
