"""In-place operations on tensors (``add_``, ``mul_``, ``zero_``, ``copy_``, ``+=``...), made safe.

``InPlaceMethods`` is a base class of ``Tensor``: the methods that change
a tensor where it is, with PyTorch's rules:

* under ``no_grad``, or on tensors that need no gradient, the data changes in
  place (``with no_grad(): w -= lr * w.grad`` updates ``w`` itself, so a
  Parameter stays the same object);
* while recording, a leaf that requires grad refuses (RuntimeError): its
  gradient would describe a value that no longer exists;
* while recording, a tensor made by recorded operations (or one that needs
  no grad, changed with one that does) is *rebased*: it now holds the result
  of the operation, recorded with a copy of its previous value as input, so
  gradients flow through the change. A tensor whose array is a view of another
  (indexing, reshape, transpose) refuses instead (RuntimeError), where PyTorch
  would also rebase the tensor it views.

Every change counts: ``_version`` goes up by one and ``_changed_at`` takes the
next number of the graph's creation counter. ``backward`` compares that number
with the number of every node it goes through; when an input or the output of
a node was changed after the node was recorded, it raises RuntimeError naming
the primitive if that primitive's derivative rule reads the changed tensor
(found from the rule's code: ``mul`` reads its inputs, ``exp`` its output,
``add`` neither). This follows PyTorch, which raises for the tensors a rule
saved; it can be stricter where our rule reads a tensor PyTorch does not keep.
Optimizers count their updates the same way, so a graph recorded before
``opt.step()`` cannot be differentiated after it. Not tracked: numpy views that
share memory (``y = x.reshape(...)`` changed in place under ``no_grad`` does not
count as a change of ``x``, where PyTorch's views share one counter).

Examples:
    >>> from tinygrad_mnist import Tensor, no_grad
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> with no_grad():
    ...     w -= 0.5 * w.grad
    >>> w, w.requires_grad, w._version
    (Tensor([0., 0.], requires_grad=True), True, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import random
from . import composites, graph, hooks
from .grad_mode import STATE

if TYPE_CHECKING:  # annotations only; never imported at run time
    from .tensor import Tensor

LEAF = ("a leaf tensor that requires grad cannot be changed in place while the graph is recorded; "
        "change it under no_grad() (as optimizers do), or work on a copy (x = x + ... instead of x += ...)")


def mark_changed(tensor: Any, stamp: int | None = None) -> None:
    """Count an in-place change of ``tensor`` (optimizers call it for each parameter they update)."""
    tensor._version += 1
    tensor._changed_at = _stamp(stamp)


def _stamp(stamp: int | None = None) -> int:
    """A stamp of the graph's creation count for an in-place change, remembered as the latest."""
    value = next(graph._creation_order) if stamp is None else stamp
    STATE.last_change = max(STATE.last_change, value)
    return value


def _operand(value: Any, like: Tensor) -> Tensor:
    if hasattr(value, "_ctx"):
        return value
    array = np.asarray(value)
    if like.data.dtype.kind == "f" and (array.dtype.kind in "iub" or array.ndim == 0):
        array = array.astype(like.data.dtype)
    return like._wrap(array)


def apply_in_place(self: Tensor, name: str, compute: Callable[..., Tensor], *operands: Any) -> Tensor:
    """Change ``self`` to ``compute(previous self, *operands)`` in place and return it, following the rules
    of this module (``name`` names the operation in errors); the ``inplace=True`` forms of ``nn.functional``
    use it too."""
    if STATE.enabled and self.requires_grad and self._ctx is None:
        raise RuntimeError(f"{name}: {LEAF}")
    stamp = next(graph._creation_order)  # before the new node, which must come after the change
    # ``old`` is the value before the change, kept for the new node's derivative (a copy of its own);
    # ``self`` as an operand (x *= x) is the tensor itself, whose later changes the new node must notice.
    old = self._wrap(self.data)
    old._ctx, old.requires_grad = self._ctx, self.requires_grad
    alias = None
    if any(o is self for o in operands):
        alias = self._wrap(self.data)
        alias._ctx, alias.requires_grad = self._ctx, self.requires_grad
    new = compute(old, *[alias if o is self else _operand(o, old) for o in operands])
    if new.data.shape != self.data.shape:
        raise ValueError(f"{name}: the result has shape {new.data.shape}, which does not fit in place in "
                         f"the tensor of shape {self.data.shape}")
    if new.data.dtype != self.data.dtype:
        if not np.can_cast(new.data.dtype, self.data.dtype, "same_kind"):
            raise TypeError(f"{name}: the result has dtype {new.data.dtype}, which cannot be stored in place "
                            f"in a tensor of dtype {self.data.dtype}")
        new = new.astype(self.data.dtype)
    if not self.data.flags.writeable:
        raise RuntimeError(f"{name}: this tensor's data is read-only (a shared constant); "
                           "change a copy of it instead")
    if new._ctx is not None:  # rebase: self now stands for the recorded result, its previous value is old
        if self.data.base is not None:
            raise RuntimeError(f"{name}: this tensor's data is a view of another array (from indexing, reshape "
                               "or transpose), and changing a view in place while recording is not supported; "
                               "change a copy instead (x = x + 1 rather than x += 1)")
        old.data = old.data.copy()  # the value before the change, for the new node's derivative
        old._changed_at = _stamp(stamp)  # as the output of the node that made it, it was overwritten
        if alias is not None:  # x *= x: the operand is overwritten by this very change (as in PyTorch)
            alias._changed_at = _stamp()
        self._ctx, self.requires_grad = new._ctx, True
    np.copyto(self.data, new.data)  # in the tensor's own array, so that its views see the change
    mark_changed(self, stamp)
    return self


class InPlaceMethods:
    """The in-place methods of ``Tensor``: each changes the tensor and returns it.

    Examples:
        >>> from tinygrad_mnist import Tensor
        >>> x = Tensor([1.0, -2.0, 3.0])
        >>> x.add_(1).mul_(2).clamp_(0, 5)
        Tensor([4., 0., 5.])
        >>> x.zero_()._version
        4
    """

    __slots__ = ()

    def add_(self: Any, other: Any, alpha: float = 1) -> Any:
        """``self += alpha * other`` in place."""
        return apply_in_place(self, "add_", lambda x, o: x + (o * alpha if alpha != 1 else o), other)

    def sub_(self: Any, other: Any, alpha: float = 1) -> Any:
        """``self -= alpha * other`` in place."""
        return apply_in_place(self, "sub_", lambda x, o: x - (o * alpha if alpha != 1 else o), other)

    def mul_(self: Any, other: Any) -> Any:
        """``self *= other`` in place."""
        return apply_in_place(self, "mul_", lambda x, o: x * o, other)

    def div_(self: Any, other: Any) -> Any:
        """``self /= other`` in place (true division)."""
        return apply_in_place(self, "div_", lambda x, o: x / o, other)

    def __iadd__(self: Any, other: Any) -> Any:
        return apply_in_place(self, "add_", lambda x, o: x + o, other)

    def __isub__(self: Any, other: Any) -> Any:
        return apply_in_place(self, "sub_", lambda x, o: x - o, other)

    def __imul__(self: Any, other: Any) -> Any:
        return apply_in_place(self, "mul_", lambda x, o: x * o, other)

    def __itruediv__(self: Any, other: Any) -> Any:
        return apply_in_place(self, "div_", lambda x, o: x / o, other)

    def clamp_(self: Any, min: float | None = None, max: float | None = None) -> Any:
        """Limit the values to [min, max] in place."""
        if min is None and max is None:
            raise ValueError("clamp_: at least one of min and max must be given, got neither")
        return apply_in_place(self, "clamp_", lambda x: composites.clip(x, min, max))

    def copy_(self: Any, src: Any) -> Any:
        """Copy ``src`` (broadcast to this shape, converted to this dtype) into the tensor."""
        def compute(x: Tensor, source: Tensor) -> Tensor:
            if source.data.shape != x.data.shape:
                try:
                    np.broadcast_shapes(source.data.shape, x.data.shape)
                except ValueError:
                    raise ValueError(f"copy_: src of shape {source.data.shape} cannot be broadcast to "
                                     f"{x.data.shape}") from None
                source = source.broadcast_to(x.data.shape)
            if source.data.dtype != x.data.dtype:
                return source.astype(x.data.dtype)
            # a node of its own: the tensor must not share the source's node (the walk visits a node once)
            return source.broadcast_to(x.data.shape) if source.requires_grad and STATE.enabled else source
        return apply_in_place(self, "copy_", compute, src)

    def fill_(self: Any, value: float) -> Any:
        """Set every element to ``value``."""
        return apply_in_place(self, "fill_", lambda x: x._wrap(np.full(x.data.shape, value, dtype=x.data.dtype)))

    def zero_(self: Any) -> Any:
        """Set every element to 0."""
        return apply_in_place(self, "zero_", lambda x: x._wrap(np.zeros_like(x.data)))

    def uniform_(self: Any, a: float = 0.0, b: float = 1.0) -> Any:
        """Fill with draws from the uniform distribution on [a, b) (``tinygrad_mnist.random`` generator)."""
        return apply_in_place(self, "uniform_", lambda x: x._wrap(
            random.generator().uniform(a, b, size=x.data.shape).astype(x.data.dtype)))

    def normal_(self: Any, mean: float = 0.0, std: float = 1.0) -> Any:
        """Fill with draws from the normal distribution N(mean, std**2)."""
        if std < 0:
            raise ValueError(f"normal_: std must be >= 0, got {std}")
        return apply_in_place(self, "normal_", lambda x: x._wrap(
            random.generator().normal(mean, std, size=x.data.shape).astype(x.data.dtype)))

    # ---- gradient hooks (kept here, beside the other methods that change a tensor's state) ----
    def register_hook(self: Any, hook: Callable[[Any], Any]) -> hooks.RemovableHandle:
        """Call ``hook(grad)`` whenever backward completes this tensor's gradient; a Tensor it
        returns replaces the gradient (for the leaves' ``.grad`` and the rest of the walk).

        Examples:
            >>> from tinygrad_mnist import Tensor
            >>> w = Tensor([1.0, 2.0], requires_grad=True)
            >>> handle = w.register_hook(lambda g: g.clip(max=0.5))
            >>> (w * w).sum().backward()
            >>> w.grad
            Tensor([0.5, 0.5])
            >>> handle.remove()
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad, so no gradient will reach "
                               "a hook; call requires_grad_() on the leaf first")
        if not callable(hook):
            raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
        return hooks.add_hook(self, hook)

    def retain_grad(self: Any) -> None:
        """Have backward fill the ``.grad`` of this non-leaf too (leaves keep theirs anyway).

        Examples:
            >>> from tinygrad_mnist import Tensor
            >>> x = Tensor([1.0, 2.0], requires_grad=True)
            >>> y = x * x
            >>> y.retain_grad()
            >>> (y * 3).sum().backward()
            >>> y.grad, y.retains_grad
            (Tensor([3., 3.]), True)
        """
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad, so it has no gradient to keep")
        if self._ctx is not None:
            hooks.retain(self)

    @property
    def retains_grad(self: Any) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf."""
        return self._ctx is not None and hooks.retains(self)
