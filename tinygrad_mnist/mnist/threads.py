"""How many threads numpy's BLAS uses: recorded in checkpoints, because it decides the bits of every product."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

__all__ = ["blas_threads"]

_BLAS_THREAD_QUERIES = ("openblas_get_num_threads", "openblas_get_num_threads64_",
                        "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads")
_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads() -> int | None:
    """The number of threads numpy's BLAS uses for matrix products; None when it cannot be told.

    Asks the OpenBLAS bundled with numpy's wheels, else reads the first of
    ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` that is
    set. Products split over a different number of threads sum in a different
    order, so exact resumption needs the same count.

    Examples:
        >>> n = blas_threads()
        >>> n is None or n >= 1
        True
    """
    package = Path(np.__file__).parent
    for library in sorted([*package.parent.glob("numpy.libs/*openblas*"), *package.glob(".dylibs/*openblas*")]):
        try:
            handle = ctypes.CDLL(str(library))
        except OSError:
            continue
        for name in _BLAS_THREAD_QUERIES:
            query = getattr(handle, name, None)
            if query is not None:
                query.restype = ctypes.c_int
                return int(query())
    for variable in _BLAS_THREAD_VARIABLES:
        value = os.environ.get(variable, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None

