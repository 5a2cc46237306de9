"""``gradcheck``: the engine's Jacobians against central finite differences in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.grad_mode import enable_grad, no_grad
from ..core.graph import backward
from ..core.tensor import Tensor
from .functional import as_tensor_tuple, grad


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
        raise RuntimeError("gradcheck: no input requires grad; pass Tensors created with requires_grad=True")
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
    jac = {(o, i): np.zeros((out.data.size, inputs[i].data.size)) for o, out in enumerate(outputs) for i in chosen}
    wrt = [inputs[i] for i in chosen]
    for o, out in enumerate(outputs):
        if not out.requires_grad:
            continue  # a constant output: its Jacobian is zero
        for j in range(out.data.size):
            seed = np.zeros(out.shape, dtype=out.dtype)
            seed.flat[j] = 1
            rows = backward((out,), (seed,), retain_graph=True, create_graph=False, inputs=wrt)
            assert rows is not None
            for i, row in zip(chosen, rows, strict=True):
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
                    for o, (p, m) in enumerate(zip(plus, minus, strict=True)):
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


def _unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    direction = rng.standard_normal(shape)
    norm = np.linalg.norm(direction)
    return direction / norm if norm > 0 else direction


def _fast_check(
    fn: Callable[..., Any], args: tuple[Any, ...], chosen: list[int], outputs: tuple[Tensor, ...],
    eps: float, atol: float, rtol: float, rng: np.random.Generator,
) -> tuple[int, int, float, float] | None:
    """Compare ``u^T J v`` both ways for every (output, input) pair, with random unit u and v.

    Returns the first failing pair as (output, input, analytical, numerical), or None.
    """
    us = [_unit(rng, out.shape) for out in outputs]
    vs = {i: _unit(rng, args[i].shape) for i in chosen}
    analytical: dict[tuple[int, int], float] = {}
    wrt = [args[i] for i in chosen]
    for o, out in enumerate(outputs):
        rows: list[Tensor | None] | None = [None] * len(chosen)
        if out.requires_grad:
            rows = backward((out,), (us[o].astype(out.dtype),), retain_graph=True, create_graph=False, inputs=wrt)
        assert rows is not None  # with inputs= given, backward returns one gradient (or None) per input
        for i, row in zip(chosen, rows, strict=True):
            analytical[(o, i)] = 0.0 if row is None else float(np.sum(np.broadcast_to(row.data, vs[i].shape) * vs[i]))
    with no_grad():
        for i in chosen:
            tensor, original = args[i], args[i].data
            try:
                tensor.data = original + eps * vs[i]
                plus = [o.data.astype(np.float64) for o in _outputs(fn(*args))]
                tensor.data = original - eps * vs[i]
                minus = [o.data.astype(np.float64) for o in _outputs(fn(*args))]
            finally:
                tensor.data = original
            for o, (p, m) in enumerate(zip(plus, minus, strict=True)):
                numerical = float(np.sum(us[o] * (p - m) / (2 * eps)))
                a = analytical[(o, i)]
                if not abs(a - numerical) <= atol + rtol * abs(numerical):  # also catches nan
                    return o, i, a, numerical
    return None


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """Check the engine's gradients of ``fn`` against central finite differences.

    Every float64 Tensor input with ``requires_grad=True`` is checked; other
    inputs are passed through unchanged. The full Jacobian of each output with
    respect to each such input is built both ways and compared element by
    element: ``|analytical - numerical| <= atol + rtol * |numerical|``.

    With ``fast_mode=True`` only ``u^T J v`` is compared, for random unit
    vectors u and v drawn from ``seed``: one backward pass per output and two
    forward passes per input instead of one per element. When that fails, the
    full check runs to name the element.

    Returns True when all agree. Otherwise raises [`GradcheckError`][tinygrad_mnist.autograd.gradcheck.GradcheckError]
    naming the input, the output and the worst element with both values, or
    returns False when ``raise_exception=False``.

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
        >>> gradcheck(lambda t: (t * t.exp()).sum(), x)
        True
    """
    args = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    chosen = _differentiable_inputs(args)
    outputs = _outputs(fn(*args))
    failure: GradcheckError | None
    if fast_mode:
        mismatch = _fast_check(fn, args, chosen, outputs, eps, atol, rtol, np.random.default_rng(seed))
        if mismatch is None:
            return True
        o, i, a, n = mismatch
        failure = compare_jacobians(  # the full check of that pair says which element
            analytical_jacobians(outputs, args, [i]), numerical_jacobians(fn, args, [i], eps),
            outputs, args, atol, rtol,
        ) or GradcheckError(
            f"gradcheck (fast mode): u^T J v mismatch for output {o} with respect to input {i}: "
            f"analytical {a:.6g}, numerical {n:.6g}; every element is within tolerance on its own",
            input_index=i, output_index=o, input_element=(), output_element=(), analytical=a, numerical=n,
        )
    else:
        analytical = analytical_jacobians(outputs, args, chosen)
        numerical = numerical_jacobians(fn, args, chosen, eps)
        failure = compare_jacobians(analytical, numerical, outputs, args, atol, rtol)
    if failure is None:
        return True
    if raise_exception:
        raise failure
    return False


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int = 0,
) -> bool:
    """Check second derivatives: [`gradcheck`][tinygrad_mnist.autograd.gradcheck.gradcheck] of the map (inputs, v) ->
    v^T J.

    The vector-Jacobian product of ``fn`` with ``grad_outputs`` (random float64
    vectors from ``seed`` when omitted) is computed with ``create_graph=True``,
    and its own derivatives, with respect to both the inputs and the vectors,
    are checked against finite differences. ``fast_mode`` checks along random
    directions (a random-direction, second-order check).

    Examples:
        >>> import numpy as np
        >>> from tinygrad_mnist import Tensor
        >>> x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
        >>> gradgradcheck(lambda t: t.tanh() * t, x)
        True
    """
    args = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    chosen = _differentiable_inputs(args)
    vectors = _grad_output_vectors(fn, args, grad_outputs, seed, "gradgradcheck")
    n_args = len(args)
    try:
        return gradcheck(_vjp_map(fn, n_args, chosen), (*args, *vectors), eps, atol, rtol, True, fast_mode, seed)
    except GradcheckError as failure:
        o, i = failure.output_index, failure.input_index
        wrt = f"input {i}" if i < n_args else f"grad_outputs[{i - n_args}]"
        error = GradcheckError(
            f"gradgradcheck: the gradient with respect to input {chosen[o]} has a wrong derivative with "
            f"respect to {wrt}: worst at gradient element {failure.output_element}, {wrt} element "
            f"{failure.input_element}: analytical {failure.analytical:.6g}, numerical {failure.numerical:.6g}",
            input_index=i, output_index=chosen[o], input_element=failure.input_element,
            output_element=failure.output_element, analytical=failure.analytical, numerical=failure.numerical,
        )
        if raise_exception:
            raise error from None
        return False


def _grad_output_vectors(fn: Callable[..., Any], args: tuple[Any, ...], grad_outputs: Sequence[Any] | None,
                         seed: int, caller: str) -> tuple[Tensor, ...]:
    """The vectors ``v`` of ``v^T J``, one per differentiable output: given, or standard normal from ``seed``."""
    outputs = [o for o in _outputs(fn(*args)) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        return tuple(Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outputs)
    vectors = as_tensor_tuple(grad_outputs, "grad_outputs")
    if len(vectors) != len(outputs):
        raise ValueError(f"{caller}: got {len(vectors)} grad_outputs for {len(outputs)} differentiable outputs")
    return vectors


def _vjp_map(fn: Callable[..., Any], n_args: int, chosen: list[int]) -> Callable[..., tuple[Tensor, ...]]:
    """The map ``(*inputs, *v) -> v^T J`` (one gradient per chosen input), differentiable again."""

    def first_derivative(*values: Any) -> tuple[Tensor, ...]:
        xs, vs = values[:n_args], values[n_args:]
        with enable_grad():
            outs = [o for o in _outputs(fn(*xs)) if o.requires_grad]
            wrt = [xs[i] for i in chosen]
            grads = grad(outs, wrt, grad_outputs=list(vs), create_graph=True, allow_unused=True) if outs else ()
        return tuple(g if g is not None else Tensor(np.zeros(x.shape))
                     for g, x in zip(grads or [None] * len(wrt), wrt, strict=True))

    return first_derivative
