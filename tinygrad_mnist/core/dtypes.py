"""The dtype names, as numpy dtype objects: ``t.dtype == float64`` holds and numpy accepts them.

PyTorch's aliases are here too (``half``, ``float``, ``double``, ``short``, ``int``,
``long``); ``float``, ``int`` and ``bool`` shadow the builtins only as attributes of
this module and of the package (``tinygrad_mnist.float``), never where they are imported
by name elsewhere.

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
float32 = np.dtype("float32")
float64 = np.dtype("float64")
uint8 = np.dtype("uint8")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool = np.dtype("bool")

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
