"""``gradcheck``: the engine's Jacobians against central finite differences in float64."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..engine import backward
from ..grad_mode import no_grad
from ..tensor import Tensor
from .functional import as_tensor_tuple


class GradcheckError(AssertionError):
    """An analytical gradient differs from finite differences; says where and by how much."""

    def __init__(
        self,
        message: str,
        *,
        input_index: int,
        output_index: int,
        input_element: tuple[int, ...],
        output_element: tuple[int, ...],
        analytical: float,
        numerical: float,
    ) -> None:
        super().__init__(message)
        self.input_index = input_index
        self.output_index = output_index
        self.input_element = input_element
        self.output_element = output_element
        self.analytical = analytical
        self.numerical = numerical


def _outputs(value: Any) -> tuple[Tensor, ...]:
    return as_tensor_tuple(value, "fn output")


def _differentiable_inputs(inputs: tuple[Any, ...]) -> list[int]:
    chosen = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not chosen:
        raise ValueError("gradcheck: no input requires grad; pass Tensors created with requires_grad=True")
    for i in chosen:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: inputs[{i}] has dtype {inputs[i].dtype}; finite differences need float64, "
                "e.g. Tensor(array.astype(np.float64), requires_grad=True)"
            )
    return chosen


def analytical_jacobians(
    outputs: tuple[Tensor, ...], inputs: tuple[Any, ...], chosen: list[int]
) -> dict[tuple[int, int], np.ndarray]:
    """J[(out, in)] of shape (out.size, in.size), one backward pass per output element."""
    jac = {(o, i): np.zeros((out.size, inputs[i].size)) for o, out in enumerate(outputs) for i in chosen}
    wrt = [inputs[i] for i in chosen]
    for o, out in enumerate(outputs):
        if not out.requires_grad:
            continue  # a constant output: its Jacobian is zero
        for j in range(out.size):
            seed = np.zeros(out.shape, dtype=out.dtype)
            seed.flat[j] = 1
            rows = backward((out,), (seed,), retain_graph=True, create_graph=False, inputs=wrt)
            assert rows is not None
            for i, row in zip(chosen, rows):
                if row is not None:
                    jac[(o, i)][j] = np.broadcast_to(row.data, inputs[i].shape).ravel()
    return jac


def numerical_jacobians(
    fn: Callable[..., Any], inputs: tuple[Any, ...], chosen: list[int], eps: float
) -> dict[tuple[int, int], np.ndarray]:
    """J[(out, in)] by central differences, one column per input element."""
    jac: dict[tuple[int, int], np.ndarray] = {}
    with no_grad():
        for i in chosen:
            tensor = inputs[i]
            original = tensor.data
            work = np.array(original, dtype=np.float64, copy=True)
            tensor.data = work
            try:
                for k in range(work.size):
                    centre = work.flat[k]
                    work.flat[k] = centre + eps
                    plus = [o.data.astype(np.float64).ravel() for o in _outputs(fn(*inputs))]
                    work.flat[k] = centre - eps
                    minus = [o.data.astype(np.float64).ravel() for o in _outputs(fn(*inputs))]
                    work.flat[k] = centre
                    for o, (p, m) in enumerate(zip(plus, minus)):
                        jac.setdefault((o, i), np.zeros((p.size, work.size)))[:, k] = (p - m) / (2 * eps)
            finally:
                tensor.data = original
    return jac


def compare_jacobians(
    analytical: dict[tuple[int, int], np.ndarray],
    numerical: dict[tuple[int, int], np.ndarray],
    outputs: tuple[Tensor, ...],
    inputs: tuple[Any, ...],
    atol: float,
    rtol: float,
    what: str = "Jacobian",
) -> GradcheckError | None:
    """The first (output, input) pair whose Jacobians differ, described by its worst element."""
    for (o, i), num in sorted(numerical.items()):
        ana = analytical[(o, i)]
        allowed = atol + rtol * np.abs(num)
        with np.errstate(invalid="ignore"):
            difference = np.abs(ana - num)
            close = difference <= allowed  # False wherever either side is nan or inf
            if close.all():
                continue
            excess = np.where(close, -np.inf, np.nan_to_num(difference - allowed, nan=np.inf))
        row, col = np.unravel_index(int(np.argmax(excess)), excess.shape)
        out_el = tuple(int(v) for v in np.unravel_index(row, outputs[o].shape))
        in_el = tuple(int(v) for v in np.unravel_index(col, inputs[i].shape))
        bad = int((~close).sum())
        a, n = float(ana[row, col]), float(num[row, col])
        message = (
            f"gradcheck: {what} mismatch for output {o} with respect to input {i}: "
            f"worst at output element {out_el}, input element {in_el}: "
            f"analytical {a:.6g}, numerical {n:.6g} (|difference| {abs(a - n):.3g} > "
            f"atol + rtol * |numerical| = {float(allowed[row, col]):.3g}); "
            f"{bad} of {excess.size} elements outside tolerance"
        )
        return GradcheckError(
            message, input_index=i, output_index=o, input_element=in_el,
            output_element=out_el, analytical=a, numerical=n,
        )
    return None


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check the engine's gradients of ``fn`` against central finite differences.

    Every float64 Tensor input with ``requires_grad=True`` is checked; other
    inputs are passed through unchanged. The full Jacobian of each output with
    respect to each such input is built both ways and compared element by
    element: ``|analytical - numerical| <= atol + rtol * |numerical|``.

    Returns True when all agree. Otherwise raises :class:`GradcheckError`
    naming the input, the output and the worst element with both values, or
    returns False when ``raise_exception=False``.

    >>> import numpy as np
    >>> from tinygrad_mnist import Tensor
    >>> x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    >>> gradcheck(lambda t: (t * t.exp()).sum(), x)
    True
    """
    args = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    chosen = _differentiable_inputs(args)
    outputs = _outputs(fn(*args))
    analytical = analytical_jacobians(outputs, args, chosen)
    numerical = numerical_jacobians(fn, args, chosen, eps)
    failure = compare_jacobians(analytical, numerical, outputs, args, atol, rtol)
    if failure is None:
        return True
    if raise_exception:
        raise failure
    return False
