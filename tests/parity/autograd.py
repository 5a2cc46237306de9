"""Cases for in-place operations, the version counter and the recording switches."""

from __future__ import annotations

from typing import Any

from parity import case, raises


def _leaf(T: Any, values: Any) -> Any:
    return T.tensor(values, dtype=T.float64, requires_grad=True)


# ---- 1. augmented assignment ---------------------------------------------------------------
@case
def augmented_assignment_under_no_grad_changes_the_leaf(T):
    w = _leaf(T, [1., 2., 3.])
    (w * w).sum().backward()
    before = w
    with T.no_grad():
        w -= 0.5 * w.grad
        w += 1.0
        w *= 2.0
        w /= 4.0
    return w, w is before, w.requires_grad, w.is_leaf


@case
def augmented_assignment_on_a_non_leaf_is_recorded(T):
    x = _leaf(T, [1., 2., 3.])
    y = x * 2
    y += x
    y -= 1.0
    y *= 3.0
    y /= 2.0
    y /= x
    y.sum().backward()
    return y, x.grad, y.is_leaf


@raises
def changing_a_tensor_that_a_recorded_product_of_it_needs(T):
    x = _leaf(T, [1., 2., 3.])
    y = x * 2
    y *= y  # the product needs y, which the product itself overwrites
    y.sum().backward()


@raises
def changing_an_output_that_its_rule_needs(T):
    x = _leaf(T, [1., 2., 3.])
    y = x.tanh()
    y -= 1.0
    y.sum().backward()


@case
def augmented_assignment_without_grad_works_in_place(T):
    x = T.tensor([1., 2.], dtype=T.float64)
    alias = x
    x += T.tensor([3., 4.], dtype=T.float64)
    x *= 2
    return x, alias is x, x.requires_grad


@case
def plain_tensor_plus_tensor_requiring_grad_becomes_recorded(T):
    acc = T.tensor([0., 0.], dtype=T.float64)
    w = _leaf(T, [1., 2.])
    acc += w * w
    acc.sum().backward()
    return acc, w.grad, acc.requires_grad, acc.is_leaf


@raises
def augmented_assignment_on_a_leaf_requiring_grad(T):
    w = _leaf(T, [1., 2.])
    w -= 0.1


@raises
def augmented_assignment_that_would_broadcast_self(T):
    x = T.tensor([1., 2.], dtype=T.float64)
    x += T.tensor([[1., 2.], [3., 4.]], dtype=T.float64)


# ---- 2. version counter ----------------------------------------------------------------------
@case
def version_counts_in_place_changes(T):
    x = T.tensor([1., 2.], dtype=T.float64)
    versions = [x._version]
    x.add_(1)
    versions.append(x._version)
    x.mul_(2).sub_(1)
    versions.append(x._version)
    return versions


@case
def a_change_after_backward_is_fine(T):
    w = _leaf(T, [1., 2.])
    (w * w).sum().backward()
    with T.no_grad():
        w.sub_(w.grad, alpha=0.25)
    w.grad = None
    (w * w).sum().backward()
    return w, w.grad


@raises
def backward_after_a_saved_input_changed(T):
    w = _leaf(T, [1., 2.])
    loss = (w * w).sum()
    with T.no_grad():
        w.add_(1)
    loss.backward()


@raises
def backward_after_a_saved_output_changed(T):
    x = _leaf(T, [1., 2.])
    y = x.exp()
    y.add_(1)
    y.sum().backward()


@raises
def backward_after_an_output_changed_under_no_grad(T):
    x = _leaf(T, [1., 2.])
    y = x.exp()
    with T.no_grad():
        y.mul_(2)
    y.sum().backward()


@raises
def backward_after_optimizer_step(T):
    w = _leaf(T, [1., 2.])
    opt = T.optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    loss.backward()


@case
def optimizer_step_bumps_the_version(T):
    w = _leaf(T, [1., 2.])
    opt = T.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    return w, w._version


# ---- 3. in-place methods ----------------------------------------------------------------
@case
def in_place_methods_return_self(T):
    x = T.tensor([[1., -2.], [3., 4.]], dtype=T.float64)
    same = x.add_(T.tensor([1., 1.], dtype=T.float64), alpha=2) is x
    out = {"add": x.detach().numpy().copy()}
    out["sub"] = x.sub_(1.5).detach().numpy().copy()
    out["mul"] = x.mul_(T.tensor([2., -1.], dtype=T.float64)).detach().numpy().copy()
    out["div"] = x.div_(4).detach().numpy().copy()
    out["clamp"] = x.clamp_(-1, 0.5).detach().numpy().copy()
    out["copy"] = x.copy_(T.tensor([7., 8.], dtype=T.float64)).detach().numpy().copy()
    out["fill"] = x.fill_(2.5).detach().numpy().copy()
    out["zero"] = x.zero_().detach().numpy().copy()
    return same, out, x._version


@case
def in_place_methods_under_no_grad_keep_the_leaf(T):
    w = _leaf(T, [1., 2., 3.])
    with T.no_grad():
        w.mul_(2).add_(1).clamp_(0, 6)
    (w * w).sum().backward()
    return w, w.grad, w.is_leaf, w.requires_grad


@case
def in_place_methods_on_non_leaves_are_differentiable(T):
    x = _leaf(T, [0.5, -1.0, 2.0])
    y = x * 3
    y.add_(x, alpha=2).mul_(x).clamp_(-4, 10).div_(2)
    z = x * 1
    z.copy_(x * x)
    (y.sum() + z.sum()).backward()
    return y, z, x.grad


@case
def copy_broadcasts_and_converts(T):
    x = T.tensor([[1., 2.], [3., 4.]], dtype=T.float64)
    x.copy_(T.tensor([5., 6.], dtype=T.float32))
    return x


@case
def random_fills_have_the_right_shape_and_range(T):
    x = T.tensor([[0., 0., 0.], [0., 0., 0.]], dtype=T.float64)
    u = x.uniform_(2.0, 3.0)
    inside = bool(((x.detach().numpy() >= 2.0) & (x.detach().numpy() < 3.0)).all())
    n = x.normal_(5.0, 0.0)
    return u is x, n is x, inside, x, x._version


@raises
def in_place_method_on_a_leaf_requiring_grad(T):
    _leaf(T, [1., 2.]).zero_()


@raises
def random_fill_on_a_leaf_requiring_grad(T):
    _leaf(T, [1., 2.]).normal_()


@raises
def integer_tensor_cannot_take_a_float_result(T):
    x = T.tensor([1, 2])
    x += 0.5


@raises
def copy_from_a_shape_that_does_not_broadcast(T):
    x = T.tensor([1., 2.], dtype=T.float64)
    x.copy_(T.tensor([1., 2., 3.], dtype=T.float64))


# ---- 4. recording switches -----------------------------------------------------------------
@case
def set_grad_enabled_as_a_function(T):
    x = _leaf(T, [1., 2.])
    T.set_grad_enabled(False)
    try:
        off = (T.is_grad_enabled(), (x * 2).requires_grad)
    finally:
        T.set_grad_enabled(True)
    with T.set_grad_enabled(False):
        inside = T.is_grad_enabled()
    return off, inside, T.is_grad_enabled(), (x * 2).requires_grad


@case
def set_grad_enabled_as_a_decorator(T):
    @T.set_grad_enabled(False)
    def double(v):
        return v * 2

    x = _leaf(T, [1., 2.])
    return T.is_grad_enabled(), double(x).requires_grad, T.is_grad_enabled()


@case
def inference_mode_records_nothing(T):
    inference_mode = T.autograd.inference_mode  # also T.inference_mode once exported at the top level
    x = _leaf(T, [1., 2.])
    with inference_mode():
        y = x * 2
        inside = T.is_grad_enabled()

    @inference_mode()
    def f(v):
        return v * 3

    with inference_mode(False):
        kept = (x * 2).requires_grad
    return y, y.requires_grad, inside, f(x).requires_grad, kept, T.is_grad_enabled()


# ---- 5. retain_grad, hooks, backward(inputs=...) -----------------------------------------------
@case
def retain_grad_fills_a_non_leaf(T):
    x = _leaf(T, [1., 2., 3.])
    y = x * x
    y.retain_grad()
    z = y * 2
    z.retain_grad()
    (z * y).sum().backward()
    first = (y.grad.detach().numpy().copy(), z.grad)
    (x * 1).retain_grad()  # a tensor that is never reached keeps no .grad
    return first, x.grad, y.retains_grad, x.retains_grad


@case
def retained_gradient_comes_after_the_hooks_and_accumulates(T):
    x = _leaf(T, [1., 2.])
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    loss = (y * 3).sum()
    loss.backward(retain_graph=True)
    once = y.grad.detach().numpy().copy()
    loss.backward()
    return once, y.grad, x.grad


@case
def hooks_see_and_replace_gradients(T):
    seen = []
    x = _leaf(T, [1., -2.])
    hx = x.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
    y = x * 3
    y.register_hook(lambda g: g + 1)
    (y * y).sum().backward()
    hx.remove()
    x.grad = None
    (x * 5).sum().backward()
    return seen, x.grad


@case
def backward_into_chosen_inputs(T):
    a, b = _leaf(T, [1., 2.]), _leaf(T, [3., 4.])
    y = a * b
    y.retain_grad()
    loss = (y * y).sum()
    T.autograd.backward(loss, inputs=[a], retain_graph=True)
    first = (a.grad.detach().numpy().copy(), b.grad)
    T.autograd.backward([loss], inputs=[y, b])
    return first, a.grad, b.grad, y.grad


@raises
def retain_grad_on_a_tensor_without_grad(T):
    T.tensor([1., 2.], dtype=T.float64).retain_grad()


@raises
def hook_on_a_tensor_without_grad(T):
    T.tensor([1., 2.], dtype=T.float64).register_hook(lambda g: g)


@raises
def backward_with_empty_inputs(T):
    a = _leaf(T, [1., 2.])
    T.autograd.backward((a * a).sum(), inputs=[])


@case
def copy_from_a_recorded_tensor_keeps_both_paths(T):
    x = _leaf(T, [1., 2.])
    s = x * 3
    z = x * 1
    z.copy_(s)
    (z * s).sum().backward()
    return z, x.grad


@case
def in_place_on_a_tensor_that_has_views(T):
    x = _leaf(T, [[1., 2.], [3., 4.]])
    y = x * 2
    row = y[0]
    y.add_(1)
    with T.no_grad():
        view = y.detach()[1]
        view.mul_(10)
    return row, y, view


# ---- 6. the graph as PyTorch shows it (node objects; run through tensor._ctx until grad_fn returns them) ----
def _grad_fn(T, t):
    return t.grad_fn


@case
def next_functions_lead_to_the_leaves(T):
    x = _leaf(T, [1., 2.])
    c = T.tensor([1., 1.], dtype=T.float64)
    y = (x * c).exp()
    node = _grad_fn(T, y)
    (mul, index), = node.next_functions
    leaf_step, const_step = mul.next_functions
    return (index, len(mul.next_functions), const_step, leaf_step[0].variable is x, leaf_step[1],
            isinstance(node.name(), str), leaf_step[0].next_functions)


@case
def tensor_backward_into_chosen_inputs(T):
    a = T.tensor([2.0, 3.0], dtype=T.float64, requires_grad=True)
    b = T.tensor([5.0, 7.0], dtype=T.float64, requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    return a.grad, b.grad
