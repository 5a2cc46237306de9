"""One exception type per kind of mistake, everywhere (docs/architecture.md, "Errors").

Each row is one mistake a user can make at one place in the library, with the
exception type the policy gives that kind of mistake and the start of the
message, which names the operation or argument. Rows of one kind come from
different layers (operators, the walk, losses, layers, tools), so a place that
raises another type for the same kind of mistake fails here.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

from tinygrad_mnist import Tensor, autograd, concatenate, nn, optim, set_grad_enabled, stack
from tinygrad_mnist.autograd import trace_backward
from tinygrad_mnist.core import rules
from tinygrad_mnist.core.shape import DimensionError
from tinygrad_mnist.datasets import MNISTError
from tinygrad_mnist.mnist.checkpoint import CheckpointError
from tinygrad_mnist.mnist.imageio import ImageError
from tinygrad_mnist.nn import functional as F
from tinygrad_mnist.nn.module import StateDictError
from tinygrad_mnist.viz import to_dot


def ones(*shape: int, grad: bool = False) -> Tensor:
    return Tensor(np.ones(shape), requires_grad=grad)


def used_graph() -> Tensor:
    """A loss whose graph a backward pass has already freed."""
    loss = (ones(3, grad=True) * 2.0).sum()
    loss.backward()
    return loss


class Square(autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return x * x

    @staticmethod
    def backward(ctx: Any, grad: np.ndarray) -> np.ndarray:
        return grad[:1]  # the wrong shape


def load_wrong_shape() -> None:
    layer = nn.Linear(2, 3)
    layer.load_state_dict({"weight": np.ones((3, 3), np.float32), "bias": np.ones(3, np.float32)})


def function_twice() -> None:
    x = ones(2, grad=True)
    (g,) = autograd.grad((Square.apply(x) * 1.0).sum(), x, create_graph=True)


# (mistake, call, expected type, message pattern)
SHAPES: list[tuple[str, Callable[[], Any], str]] = [
    ("operands that do not broadcast", lambda: ones(3) + ones(4), r"^add: shapes \(3,\) and \(4,\)"),
    ("matmul inner sizes", lambda: ones(2, 3) @ ones(4, 2), r"^matmul: shapes \(2, 3\) and \(4, 2\)"),
    ("reshape to another size", lambda: ones(6).reshape(4), r"^reshape: cannot reshape shape \(6,\)"),
    ("broadcast_to an incompatible shape", lambda: ones(3).broadcast_to((2, 4)), r"^broadcast_to: shape \(3,\)"),
    ("sum_to_size to a shape that does not broadcast", lambda: ones(2, 3).sum_to_size(4), r"^sum_to_size:"),
    ("stack of different shapes", lambda: stack([ones(2), ones(3)]), r"^stack: tensor 1 has shape \(3,\)"),
    ("concatenate of different shapes", lambda: concatenate([ones(2, 3), ones(3, 2)], axis=1), r"^concatenate:"),
    ("backward seed of the wrong shape", lambda: (ones(3, grad=True) * 2.0).backward(np.ones(4)), r"^backward:"),
    ("loss target of the wrong shape", lambda: F.mse_loss(ones(3), np.ones(4)), r"^mse_loss:"),
    ("conv2d channels", lambda: F.conv2d(ones(1, 2, 4, 4), ones(3, 1, 2, 2)), r"^conv2d: input has 2 channels"),
    ("a Function's gradient of the wrong shape",
     lambda: Square.apply(ones(2, grad=True)).sum().backward(), r"^Square\.backward returned a gradient of shape"),
    ("a state dict entry of the wrong shape", load_wrong_shape, r"load_state_dict: weight"),
    ("a dim out of range", lambda: ones(2, 3).sum(axis=2), r"^sum: dim 2 is out of range"),
]
KINDS: list[tuple[str, Callable[[], Any], str]] = [
    ("non-numeric data", lambda: Tensor("abc"), r"^Tensor:"),  # type: ignore[arg-type]
    ("an integer tensor asked to require grad", lambda: Tensor(np.arange(3)).requires_grad_(), r"^requires_grad:"),
    ("float class targets", lambda: F.cross_entropy(ones(2, 3), np.zeros(2)), r"^cross_entropy: target"),
    ("a non-Tensor to draw", lambda: to_dot(np.ones(2)), r"^to_dot:"),  # type: ignore[arg-type]
    ("an optimizer given something that is not a tensor", lambda: optim.SGD([[1.0, 2.0]], lr=0.1), r"^SGD: parameter 0"),
    ("a mode that is not a bool", lambda: set_grad_enabled(1), r"^set_grad_enabled:"),  # type: ignore[arg-type]
]
INDICES: list[tuple[str, Callable[[], Any], str]] = [
    ("an integer index past the end", lambda: ones(3)[5], r"^getitem: index 5"),
    ("an index array past the end", lambda: ones(2, 2)[np.array([3])], r"^getitem:"),
    ("a gather index past the end", lambda: ones(2, 2).gather(1, Tensor(np.array([[2], [0]]))), r"^gather: index"),
    ("a dim out of range (also a ValueError)", lambda: ones(2, 3).transpose(0, 2), r"^transpose: dim 2"),
]
GRAPH: list[tuple[str, Callable[[], Any], str]] = [
    ("backward through a freed graph", lambda: used_graph().backward(), r"^backward: .*freed"),
    ("grad through a freed graph", lambda: autograd.grad(used_graph(), ones(1, grad=True), allow_unused=True),
     r"freed"),
    ("drawing a freed graph", lambda: to_dot(used_graph()), r"^to_dot: .*freed"),
    ("tracing a freed graph", lambda: trace_backward(used_graph()), r"freed"),
    ("backward from a tensor that needs no grad", lambda: ones(3).sum().backward(), r"^backward: .*does not require"),
    ("an implicit gradient for a non-scalar", lambda: (ones(3, grad=True) * 2.0).backward(), r"^backward: .*one-element"),
    ("grad with respect to a tensor that needs no grad", lambda: autograd.grad(ones(1, grad=True) * 2.0, ones(1)),
     r"^grad: inputs\[0\]"),
    ("turning off requires_grad on a non-leaf", lambda: (ones(1, grad=True) * 2.0).requires_grad_(False),
     r"^requires_grad_:"),
    ("create_graph through a numpy Function", function_twice, r"^Square: .*create_graph"),
    ("gradcheck with no input that requires grad", lambda: autograd.gradcheck(lambda x: x.sum(), ones(2)),
     r"^gradcheck: no input requires grad"),
]


def _check(call: Callable[[], Any], kind: type[Exception], pattern: str) -> None:
    with pytest.raises(kind, match=pattern) as info, np.errstate(all="ignore"):
        call()
    assert type(info.value) is kind or kind is ValueError and isinstance(info.value, StateDictError) or (
        kind in (ValueError, IndexError) and type(info.value) is DimensionError)  # both, like numpy's AxisError


@pytest.mark.parametrize(("mistake", "call", "pattern"), SHAPES, ids=[row[0] for row in SHAPES])
def test_a_shape_or_value_that_does_not_fit_is_a_value_error(mistake: str, call: Callable[[], Any],
                                                             pattern: str) -> None:
    _check(call, ValueError, pattern)


@pytest.mark.parametrize(("mistake", "call", "pattern"), KINDS, ids=[row[0] for row in KINDS])
def test_the_wrong_kind_or_dtype_is_a_type_error(mistake: str, call: Callable[[], Any], pattern: str) -> None:
    _check(call, TypeError, pattern)


@pytest.mark.parametrize(("mistake", "call", "pattern"), INDICES, ids=[row[0] for row in INDICES])
def test_an_index_outside_the_shape_is_an_index_error(mistake: str, call: Callable[[], Any], pattern: str) -> None:
    _check(call, IndexError, pattern)


@pytest.mark.parametrize(("mistake", "call", "pattern"), GRAPH, ids=[row[0] for row in GRAPH])
def test_misusing_the_graph_is_a_runtime_error(mistake: str, call: Callable[[], Any], pattern: str) -> None:
    _check(call, RuntimeError, pattern)


def test_domain_errors_are_the_kind_they_describe() -> None:
    for error in (MNISTError, CheckpointError, ImageError, StateDictError):
        assert issubclass(error, ValueError), error
    assert issubclass(StateDictError, KeyError)  # missing keys are also a lookup failure
    assert issubclass(autograd.AnomalyError, RuntimeError)


@pytest.mark.parametrize("bug", [ZeroDivisionError("kernel bug"), TypeError("kernel bug"), KeyError("kernel bug"),
                                 ValueError("operands could not be broadcast together (kernel bug)")])
def test_a_bug_inside_a_forward_surfaces_as_itself(bug: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    """The forward wrapper re-words only the caller's broadcasting mistakes: here the shapes broadcast."""
    def broken(*arrays: np.ndarray) -> np.ndarray:
        raise bug

    monkeypatch.setattr(rules.add, "forward", broken)
    with pytest.raises(type(bug)) as info:
        ones(3) + ones(3)
    assert info.value is bug
