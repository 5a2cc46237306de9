"""trace_backward: the recorded reverse walk against gradients worked out by hand in numpy."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from tinygrad_mnist import Tensor
from tinygrad_mnist.core import graph
from tinygrad_mnist.autograd import BackwardTrace, trace_backward
from tinygrad_mnist.mnist.models import build_mlp
from tinygrad_mnist.nn import functional as F


def norm(a) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64).ravel()))


def leaf(values, name=None) -> Tensor:
    t = Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)
    t.name = name
    return t


def sends(step):
    """(sent shape, sent norm) per input, None for inputs that sent nothing."""
    return [None if not r.sent else (r.sent_shape, r.sent_norm) for r in step.inputs]


A = np.array([0.5, -1.5, 2.0])
B = np.array([3.0, 0.25, -4.0])


def test_steps_follow_the_reverse_walk_with_norms_worked_out_by_hand():
    a, b = leaf(A, "a"), leaf(B, "b")
    trace = trace_backward(((a * b) + a).sum())
    assert isinstance(trace, BackwardTrace)
    assert [s.op for s in trace.steps] == ["sum", "add", "mul"]
    assert [s.number for s in trace.steps] == [1, 2, 3]
    assert [s.output_shape for s in trace.steps] == [(), (3,), (3,)]
    assert [s.input_shapes for s in trace.steps] == [[(3,)], [(3,), (3,)], [(3,), (3,)]]
    assert [s.grad_shape for s in trace.steps] == [(), (3,), (3,)]
    # sum receives the seed 1 and sends ones; add passes them to both sides; mul sends g*b and g*a.
    g = np.ones(3)
    assert [s.grad_norm for s in trace.steps] == pytest.approx([1.0, norm(g), norm(g)])
    s1, s2, s3 = (sends(s) for s in trace.steps)
    assert s1 == [((3,), pytest.approx(math.sqrt(3)))]
    assert s2 == [((3,), pytest.approx(norm(g))), ((3,), pytest.approx(norm(g)))]
    assert s3 == [((3,), pytest.approx(norm(g * B))), ((3,), pytest.approx(norm(g * A)))]
    # the intermediate inputs point at the step that processed them; leaves carry their names
    assert [r.label for r in trace.steps[1].inputs] == ["x0 (from step 3)", "x1 (leaf a)"]
    assert trace.steps[0].inputs[0].from_step == 2 and trace.steps[1].inputs[0].from_step == 3
    assert [r.label for r in trace.steps[2].inputs] == ["x0 (leaf a)", "x1 (leaf b)"]
    deposited = {leaf.label: leaf for leaf in trace.leaves}
    assert list(deposited) == ["a", "b"]
    assert deposited["a"].norm == pytest.approx(norm(B + 1)) and deposited["a"].from_steps == [2, 3]
    assert deposited["b"].norm == pytest.approx(norm(A)) and deposited["b"].from_steps == [3]
    np.testing.assert_allclose(a.grad.data, B + 1)
    np.testing.assert_allclose(b.grad.data, A)


def test_a_weighted_chain_passes_the_upstream_gradient_through_each_vjp():
    a, b = leaf(A), leaf(B)
    w = np.array([2.0, -1.0, 0.5])
    trace = trace_backward(((a * b + a) * w).sum())
    assert [s.op for s in trace.steps] == ["sum", "mul", "add", "mul"]
    assert [s.grad_norm for s in trace.steps] == pytest.approx([1.0, math.sqrt(3), norm(w), norm(w)])
    assert sends(trace.steps[1])[1] is None  # the constant w
    assert sends(trace.steps[3]) == [((3,), pytest.approx(norm(w * B))), ((3,), pytest.approx(norm(w * A)))]
    # unnamed leaves are numbered in the order the walk reaches them
    assert [r.label for r in trace.steps[2].inputs] == ["x0 (from step 4)", "x1 (leaf #1)"]
    assert [r.label for r in trace.steps[3].inputs] == ["x0 (leaf #1)", "x1 (leaf #2)"]


def test_broadcast_gradients_are_reported_after_unbroadcast():
    rng = np.random.default_rng(0)
    a, b = leaf(rng.standard_normal((3, 1))), leaf(rng.standard_normal((1, 4)))
    w = rng.standard_normal((3, 4))
    trace = trace_backward(((a + b) * w).sum())
    assert [s.op for s in trace.steps] == ["sum", "mul", "add"]
    add = trace.steps[2]
    assert add.output_shape == (3, 4) and add.input_shapes == [(3, 1), (1, 4)]
    assert add.grad_norm == pytest.approx(norm(w))
    assert sends(add) == [
        ((3, 1), pytest.approx(norm(w.sum(axis=1, keepdims=True)))),
        ((1, 4), pytest.approx(norm(w.sum(axis=0, keepdims=True)))),
    ]
    np.testing.assert_allclose(a.grad.data, w.sum(axis=1, keepdims=True))


def test_fan_out_sends_two_contributions_to_one_leaf_and_deposits_their_sum():
    x = leaf(A, "x")
    trace = trace_backward((x * x).sum())
    assert [s.op for s in trace.steps] == ["sum", "mul"]
    mul = trace.steps[1]
    assert sends(mul) == [((3,), pytest.approx(norm(A))), ((3,), pytest.approx(norm(A)))]
    assert [(r.contribution, r.contributions) for r in mul.inputs] == [(1, 2), (2, 2)]
    assert [r.label for r in mul.inputs] == ["x0 (leaf x)", "x1 (leaf x)"]
    (deposit,) = trace.leaves
    assert deposit.label == "x" and deposit.from_steps == [2, 2]
    assert deposit.norm == pytest.approx(norm(2 * A))
    np.testing.assert_allclose(x.grad.data, 2 * A)
    text = trace.table()
    assert "fan-out: 1st of 2, summed" in text and "fan-out: 2nd of 2, summed" in text
    assert "2 (2 contributions)" in text


def make_mlp_batch():
    rng = np.random.default_rng(1)
    model = build_mlp(6, [5], 3, "relu", 0.0)
    for p in model.parameters():
        p.data[...] = rng.standard_normal(p.shape).astype(np.float32) * 0.5
    x = Tensor(rng.standard_normal((4, 6)).astype(np.float32))
    return model, x, np.array([0, 2, 1, 2])


def test_mlp_cross_entropy_trace_reverses_the_forward_and_matches_plain_backward():
    model, x, y = make_mlp_batch()
    logits = model(x)
    trace = trace_backward(F.cross_entropy(logits, y), names=model.named_parameters())
    ops = [s.op for s in trace.steps]
    # forward: linear, relu, linear, log_softmax, mul (weights), sum; finite log-probabilities need no mask
    assert ops == ["sum", "mul", "log_softmax", "linear", "relu", "linear"]
    # the gradient log_softmax sends to the logits is (softmax - one_hot) / N
    z = logits.data.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    expected = (p - np.eye(3)[y]) / len(y)
    step = trace.steps[ops.index("log_softmax")]
    assert sends(step) == [((4, 3), pytest.approx(norm(expected), rel=1e-5))]
    # each step's incoming gradient is what the step before sent to it
    for before, after in zip(trace.steps, trace.steps[1:]):
        assert before.inputs[0].from_step == after.number
        assert after.grad_norm == pytest.approx(before.inputs[0].sent_norm)
    first = trace.steps[-1]
    assert [r.label for r in first.inputs] == ["x0 (const)", "x1 (leaf 0.weight)", "x2 (leaf 0.bias)"]
    assert sends(first)[0] is None
    # the same model and batch through a plain backward() gives the same .grad, bit for bit
    twin, x2, y2 = make_mlp_batch()
    F.cross_entropy(twin(x2), y2).backward()
    for (name, traced), (_, plain) in zip(model.named_parameters(), twin.named_parameters()):
        assert traced.grad.dtype == plain.grad.dtype
        np.testing.assert_array_equal(traced.grad.data, plain.grad.data, err_msg=name)
        record = next(leaf for leaf in trace.leaves if leaf.label == name)
        assert record.norm == pytest.approx(norm(plain.grad.data), rel=1e-6)
    assert [leaf.label for leaf in trace.leaves] == ["2.weight", "2.bias", "0.weight", "0.bias"]


def test_small_graph_grads_equal_plain_backward():
    def graph():
        a, b = leaf(A), leaf(B)
        return a, b, ((a * b).exp() / (a * a + 1.0) + b[1:].sum()).sum()

    a1, b1, loss1 = graph()
    a2, b2, loss2 = graph()
    trace_backward(loss1)
    loss2.backward()
    np.testing.assert_array_equal(a1.grad.data, a2.grad.data)
    np.testing.assert_array_equal(b1.grad.data, b2.grad.data)


def test_no_grad_inputs_are_shown_as_such():
    a = leaf(A, "a")
    c = Tensor(B)
    c.name = "c"
    trace = trace_backward((a * c).sum())
    (mul,) = [s for s in trace.steps if s.op == "mul"]
    x0, x1 = mul.inputs
    assert x0.requires_grad and x0.sent
    assert not x1.requires_grad and not x1.sent and x1.sent_norm is None
    assert x1.label == "x1 (const c)"
    row = next(line for line in trace.table().splitlines() if "x1 (const c)" in line)
    assert "no grad" in row
    assert [leaf.label for leaf in trace.leaves] == ["a"]


def test_table_is_aligned_deterministic_and_names_every_op():
    def run():
        a, b = leaf(A, "a"), leaf(B, "b")
        return trace_backward(((a * b) + a).exp().sum())

    trace = run()
    text = str(trace)
    assert text == trace.table() == str(run())
    lines = text.splitlines()
    assert lines[0].startswith("Backward trace: 4 steps")
    header = next(line for line in lines if line.startswith("step"))
    for op in ("sum", "exp", "add", "mul"):
        assert any(line.split()[1:2] == [op] for line in lines if line[:4].strip().isdigit()), op
    rows = lines[lines.index(header) + 1: lines.index("Deposited into .grad (sum of the contributions above):")]
    assert len(rows) == 1 + 1 + 2 + 2  # one line per input
    column = header.index("input")
    for row in rows:
        assert row[column:].startswith("x"), row  # every input label starts under "input"
        assert row[column - 1] == " "
    # norms with 4 significant digits
    assert f"{trace.steps[1].grad_norm:.4g}" in rows[1]
    buffer = io.StringIO()
    trace.print(file=buffer)
    assert buffer.getvalue() == text + "\n"


def test_seed_gradient_for_a_non_scalar_output():
    a = leaf(A)
    seed = np.array([1.0, -2.0, 2.0])
    trace = trace_backward(a * 3.0, gradient=seed)
    (mul,) = trace.steps
    assert mul.grad_norm == pytest.approx(3.0)
    assert sends(mul)[0] == ((3,), pytest.approx(norm(3 * seed)))
    np.testing.assert_allclose(a.grad.data, 3 * seed)
    with pytest.raises(RuntimeError, match="one-element"):
        trace_backward(leaf(A) * 3.0)


def test_retain_graph_allows_a_second_trace():
    a = leaf(A, "a")
    loss = (a * a).sum()
    first = trace_backward(loss, retain_graph=True)
    second = trace_backward(loss)
    assert str(first).splitlines()[:-3] == str(second).splitlines()[:-3]
    assert not first.leaves[0].accumulated and second.leaves[0].accumulated
    assert "added to an earlier .grad" in str(second)
    np.testing.assert_allclose(a.grad.data, 4 * A)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        trace_backward(loss)
    np.testing.assert_allclose(a.grad.data, 4 * A)  # the failed pass left .grad alone


def test_a_leaf_as_the_loss_takes_the_seed():
    x = leaf(2.0, "x")
    trace = trace_backward(x)
    assert trace.steps == []
    (deposit,) = trace.leaves
    assert deposit.label == "x" and deposit.norm == 1.0 and deposit.from_steps == []
    assert x.grad.item() == 1.0


def test_engine_observer_sees_each_node_once_and_is_optional():
    a, c = leaf(A), Tensor(B)
    y = (a * c).sum()
    seen = []
    graph.backward((y,), None, True, False, observer=lambda t, node, g, sent: seen.append(
        (node.prim.name, t.shape, g.shape, [(i, node.inputs[i] is a, s.shape) for i, s in sent])))
    # c needs no gradient, so mul sends one to its input 0 (a) only
    assert seen == [("sum", (), (), [(0, False, (3,))]), ("mul", (3,), (3,), [(0, True, (3,))])]
    grad_with_observer = a.grad.data.copy()
    a.grad = None
    graph.backward((y,), None, False, False)
    np.testing.assert_array_equal(a.grad.data, grad_with_observer)
