"""In-place changes: what the differential cases cannot compare (messages, counters, object identity)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from tinygrad_mnist import Tensor, autograd, manual_seed, nn, no_grad, optim
from tinygrad_mnist.core.grad_mode import enable_grad, inference_mode, is_grad_enabled, set_grad_enabled
from tinygrad_mnist.core.hooks import HOOKS


def leaf(*values: float) -> Tensor:
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_module_update_under_no_grad_keeps_the_parameter_objects() -> None:
    manual_seed(0)
    model = nn.Linear(3, 2)
    before = list(model.parameters())
    arrays = [p.data for p in before]
    x = Tensor(np.ones((4, 3), dtype=np.float32))
    model(x).sum().backward()
    expected = [p.data - 0.1 * p.grad.data for p in before]  # type: ignore[union-attr]
    with no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    after = list(model.parameters())
    assert all(a is b for a, b in zip(after, before, strict=True))
    assert all(p.data is a for p, a in zip(after, arrays, strict=True))  # the same arrays, changed in place
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in after)
    for p, e in zip(after, expected, strict=True):
        np.testing.assert_allclose(p.data, e)
        assert p._version == 2  # 1 from the initialiser at construction (as in PyTorch), 1 from the update


def test_leaf_message_names_the_operation_and_the_remedy() -> None:
    w = leaf(1.0)
    for op in (lambda: w.__iadd__(1), lambda: w.mul_(2), lambda: w.zero_(), lambda: w.uniform_()):
        with pytest.raises(RuntimeError, match=r"^(add_|mul_|zero_|uniform_): a leaf tensor that requires grad"):
            op()
    assert w._version == 0 and w.data[0] == 1.0  # a refused change changes nothing


def test_backward_after_a_change_names_the_primitive_and_the_version() -> None:
    w = leaf(1.0, 2.0)
    loss = (w * w).sum()
    with no_grad():
        w.add_(1).add_(1)
    with pytest.raises(RuntimeError, match=r"^backward: input 0 of mul \(shape \(2,\), now at version 2\)"):
        loss.backward()
    assert w.grad is None  # nothing was written


def test_output_changed_under_no_grad() -> None:
    x = leaf(1.0)
    y = x.exp()
    with no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match=r"^backward: the output of exp"):
        y.backward()


def test_a_change_that_no_rule_reads_is_allowed() -> None:
    # add's derivative reads neither input, so changing one after recording is harmless (as in PyTorch)
    w, b = leaf(1.0, 2.0), leaf(3.0, 4.0)
    loss = (w + b).sum()
    with no_grad():
        b.mul_(10)
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])  # type: ignore[union-attr]


def test_optimizer_steps_bump_versions_of_updated_parameters_only() -> None:
    w, unused = leaf(1.0), leaf(2.0)
    opt = optim.Adam([w, unused], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    opt.step()
    assert (w._version, unused._version) == (2, 0)
    assert w._changed_at > 0


def test_other_walks_refuse_stale_graphs_too() -> None:
    w = leaf(1.0, 2.0)
    loss = (w * w).sum()
    with no_grad():
        w.sub_(1)
    with pytest.raises(RuntimeError, match=r"^backward: input 0 of mul"):
        autograd.grad(loss, w)


def test_rebase_keeps_the_identity_and_records() -> None:
    x = leaf(1.0, 2.0)
    y = x * 2
    alias = y
    y += x
    assert alias is y and y.grad_fn.name() == "add" and not y.is_leaf and y._version == 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])  # type: ignore[union-attr]


def test_in_place_keeps_dtype_and_refuses_read_only_constants() -> None:
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32))
    x += np.array([1.0, 1.0])  # float64 operand, stored as float32
    assert x.dtype == np.float32
    with pytest.raises(TypeError, match=r"^add_: the result has dtype float64"):
        Tensor(np.array([1, 2])).add_(0.5)
    frozen = np.ones(2)
    frozen.flags.writeable = False
    with pytest.raises(RuntimeError, match=r"^mul_: this tensor's data is read-only"):
        Tensor(frozen).mul_(2)
    with pytest.raises(ValueError, match=r"^clamp_: at least one"):
        x.clamp_()
    with pytest.raises(ValueError, match=r"^normal_: std must be >= 0"):
        x.normal_(0.0, -1.0)


def test_random_fills_follow_manual_seed() -> None:
    manual_seed(3)
    a = Tensor(np.zeros(5)).uniform_(-1, 1).data.copy()
    b = Tensor(np.zeros(5)).normal_(2.0, 0.5).data.copy()
    manual_seed(3)
    np.testing.assert_array_equal(Tensor(np.zeros(5)).uniform_(-1, 1).data, a)
    np.testing.assert_array_equal(Tensor(np.zeros(5)).normal_(2.0, 0.5).data, b)
    assert ((a >= -1) & (a < 1)).all()


def test_set_grad_enabled_called_switches_at_once_and_restores_in_with() -> None:
    try:
        switch = set_grad_enabled(False)
        assert not is_grad_enabled()
        with switch:  # entering the called switch: leaving it restores what was before the call
            assert not is_grad_enabled()
        assert is_grad_enabled()
    finally:
        set_grad_enabled(True)
    with no_grad():
        set_grad_enabled(True)
        assert is_grad_enabled()
    assert is_grad_enabled()


def test_switches_as_decorators_do_not_change_the_mode_when_applied() -> None:
    @set_grad_enabled(False)
    def off() -> bool:
        return is_grad_enabled()

    @inference_mode()
    def inference() -> bool:
        return is_grad_enabled()

    assert is_grad_enabled()
    assert not off() and not inference() and is_grad_enabled()
    with no_grad():
        assert enable_grad()(is_grad_enabled)()
    with pytest.raises(TypeError, match=r"^inference_mode: mode must be a bool"):
        inference_mode(1)  # type: ignore[arg-type]


def test_in_place_on_a_tensor_that_its_own_product_needs() -> None:
    x = leaf(1.0, 2.0)
    y = x * 2
    y *= y
    with pytest.raises(RuntimeError, match=r"^backward: input 1 of mul"):
        y.sum().backward()


def test_hook_handles_and_bad_returns() -> None:
    x = leaf(1.0, 2.0)
    calls: list[int] = []
    h1 = x.register_hook(lambda g: calls.append(1))
    h2 = x.register_hook(lambda g: calls.append(2))
    (x * 2).sum().backward()
    h1.remove()
    h1.remove()  # removing twice is harmless
    (x * 2).sum().backward()
    h2.remove()
    assert calls == [1, 2, 2]
    assert id(x) not in HOOKS  # nothing left behind: the walk is back to one truth test per tensor
    y = x * 2
    y.register_hook(lambda g: np.zeros(3))
    with pytest.raises(RuntimeError, match=r"^hook: a hook must return None or a Tensor shaped like"):
        y.sum().backward()
    with pytest.raises(TypeError, match=r"^register_hook: hook must be callable"):
        x.register_hook(3)  # type: ignore[arg-type]


def test_hooks_are_forgotten_with_their_tensor() -> None:
    x = leaf(1.0)
    y = x * 2
    y.retain_grad()
    key = id(y)
    assert key in HOOKS
    del y
    gc.collect()
    assert key not in HOOKS


def test_backward_with_inputs_writes_nothing_else() -> None:
    a, b = leaf(1.0, 2.0), leaf(3.0, 4.0)
    autograd.backward((a * b).sum(), inputs=[b])
    assert a.grad is None
    np.testing.assert_array_equal(b.grad.data, [1.0, 2.0])  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match=r"^backward: inputs\[0\] \(shape \(2,\)\) does not require grad"):
        autograd.backward((a * b).sum(), inputs=[Tensor(np.zeros(2))])


def test_changing_a_view_while_recording_is_refused() -> None:
    x = leaf(1.0, 2.0, 3.0, 4.0)
    y = x * 2
    row = y.reshape(2, 2)[0]  # a numpy view of y's array
    with pytest.raises(RuntimeError, match=r"^mul_: this tensor's data is a view of another array"):
        row.mul_(3)
    np.testing.assert_array_equal(y.data, [2.0, 4.0, 6.0, 8.0])  # refused before anything changed


def test_changing_the_base_of_a_view_refuses_backward_through_the_view() -> None:
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    y = x * 2
    first = y[0]  # a row: a numpy view of y's array
    y.add_(1)
    np.testing.assert_array_equal(first.data, [3.0, 5.0])  # the view sees the change, as in PyTorch
    with pytest.raises(RuntimeError, match=r"^backward: input 0 of getitem"):
        first.sum().backward()


def test_nodes_show_names_and_next_functions() -> None:
    x = leaf(1.0, 2.0)
    y = (x * Tensor(np.ones(2))).exp()
    node = y._ctx
    assert node.name() == "exp" and repr(node) == "<exp>"
    (mul, _), = node.next_functions
    assert mul.name() == "mul" and [f if f is None else f.name() for f, _ in mul.next_functions] == [
        "AccumulateGrad", None]
    y.sum().backward()
    with pytest.raises(RuntimeError, match=r"^next_functions: the graph behind this tensor was freed"):
        _ = node.next_functions
