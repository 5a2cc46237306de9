"""``assert_grads_close``: a gradient assertion for property tests, on float64 copies of the inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import GradcheckError, check_gradients, gradcheck
from ..core.tensor import Tensor

__all__ = ["assert_grads_close"]


def _float_array(value: Any) -> np.ndarray | None:
    data = value.data if isinstance(value, Tensor) else value
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind == "f":
        return np.array(data, dtype=np.float64, copy=True)
    return None


def assert_grads_close(
    fn: Callable[..., Any],
    *inputs: Any,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
) -> None:
    """Assert that the engine's gradients of ``fn(*inputs)`` match finite differences.

    Every input that is a floating-point Tensor or numpy array (float32
    included) is replaced by a new float64 leaf with ``requires_grad=True``,
    holding a copy of its values; other inputs (integer or boolean arrays,
    Python numbers, ...) reach ``fn`` unchanged, as constants. The caller's
    inputs are never modified.

    By default the whole Jacobian is compared by
    [`check_gradients`][tinygrad_mnist.autograd.check_gradients]: each finite-difference
    derivative carries its own error estimate, so errors down to about 1e-8
    relative are caught, and elements at a kink (relu, abs, clip, a tie of
    max) are skipped rather than judged; it fails if no element at all could be
    checked. Giving ``eps``, ``atol`` or ``rtol`` selects the fixed tolerances
    of [`gradcheck`][tinygrad_mnist.autograd.gradcheck.gradcheck] instead
    (``|analytical - numerical| <= atol + rtol * |numerical|``, PyTorch's
    defaults ``1e-6``, ``1e-5``, ``1e-3`` for those not given).

    Returns None when the gradients agree. Otherwise raises
    [`GradcheckError`][tinygrad_mnist.autograd.GradcheckError] (an ``AssertionError``)
    whose message names the input, the output and the worst element, with both
    values.

    Examples:
        >>> import numpy as np
        >>> assert_grads_close(lambda x: (x * x).sum(), np.array([1.0, 2.0]))
        >>> assert_grads_close(lambda a, b: a @ b, np.ones((2, 3), np.float32), np.arange(3.0))
        >>> assert_grads_close(lambda x: x.relu(), np.array([-1.0, 0.0, 2.0]))  # the kink at 0 is skipped
        >>> try:
        ...     assert_grads_close(lambda x: x.relu(), np.array([-1.0, 0.0, 2.0]), atol=1e-5)
        ... except AssertionError as error:
        ...     print(error)
        gradcheck: Jacobian mismatch ... input element (1,): analytical 0, numerical 0.5 ...
    """
    __tracebackhide__ = True  # pytest reports the failure at the caller's line
    args = []
    checked = 0
    for value in inputs:
        array = _float_array(value)
        if array is None:
            args.append(value)
        else:
            args.append(Tensor(array, requires_grad=True))
            checked += 1
    if not checked:
        kinds = ", ".join(type(v).__name__ for v in inputs) or "none"
        raise ValueError(
            f"assert_grads_close: no floating-point Tensor or numpy array among the inputs (got {kinds})"
        )
    try:
        if eps is None and atol is None and rtol is None:
            result = check_gradients(fn, args)
            if not result.checked and result.skipped:
                skip = result.skips[0]
                raise GradcheckError(
                    f"assert_grads_close: no derivative could be checked; {result.skipped} skipped, first: "
                    f"{skip.describe()}", input_index=skip.input_index, output_index=skip.output_index,
                    input_element=skip.input_element, output_element=skip.output_element,
                    analytical=float("nan"), numerical=float("nan"))
        else:
            gradcheck(fn, args, eps=1e-6 if eps is None else eps, atol=1e-5 if atol is None else atol,
                      rtol=1e-3 if rtol is None else rtol)
    except GradcheckError as failure:
        raise failure.with_traceback(None) from None  # where inside the checker it was found does not matter
