"""The dtype names, as numpy dtype objects: ``t.dtype == float64`` holds and numpy accepts them.

PyTorch's aliases are here too (``half``, ``float``, ``double``, ``short``, ``int``,
``long``); ``float``, ``int`` and ``bool`` shadow the builtins only as attributes of
this module and of the package (``tinygrad_mnist.float``), never where they are imported
by name elsewhere.

Examples:
    >>> import numpy as np
    >>> from tinygrad_mnist.core import dtypes
    >>> np.zeros(2, dtype=dtypes.float64).dtype == dtypes.double
    True
    >>> dtypes.long, dtypes.half
    (dtype('int64'), dtype('float16'))
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bool", "double", "float", "float16", "float32", "float64", "half", "int", "int8", "int16",
    "int32", "int64", "long", "short", "uint8",
]

float16 = np.dtype("float16")
"""16-bit floating point (PyTorch's `torch.float16`, alias `half`)."""
float32 = np.dtype("float32")
"""32-bit floating point, the default dtype of Tensors made from Python floats (alias `float`)."""
float64 = np.dtype("float64")
"""64-bit floating point, the dtype of gradient checking (alias `double`)."""
uint8 = np.dtype("uint8")
"""8-bit unsigned integer, the dtype of MNIST's pixels."""
int8 = np.dtype("int8")
"""8-bit signed integer."""
int16 = np.dtype("int16")
"""16-bit signed integer (alias `short`)."""
int32 = np.dtype("int32")
"""32-bit signed integer (alias `int`)."""
int64 = np.dtype("int64")
"""64-bit signed integer, the dtype of class labels and indices (alias `long`)."""
bool = np.dtype("bool")
"""Boolean, the dtype of comparisons and masks."""
half = float16
"""PyTorch's name for `float16`."""
float = float32
"""PyTorch's name for `float32`."""
double = float64
"""PyTorch's name for `float64`."""
short = int16
"""PyTorch's name for `int16`."""
int = int32
"""PyTorch's name for `int32`."""
long = int64
"""PyTorch's name for `int64`."""
