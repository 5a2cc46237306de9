"""``detect_anomaly``: the first operation whose value or gradient turns non-finite is named, with its line.

Operations that produce inf or nan run under ``np.errstate(all="ignore")``, since
the test suite turns numpy's RuntimeWarnings into errors. Expected call sites are
found by marker comments in this file (``# site: <name>``), never hard-coded.
"""

import os
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist import Tensor, autograd
from tinygrad_mnist.core.anomaly import AnomalyError as AnomalyErrorFromAnomaly
from tinygrad_mnist.core.anomaly import detect_anomaly as detect_anomaly_from_anomaly
from tinygrad_mnist.autograd import AnomalyError, Function, detect_anomaly

with open(__file__, encoding="utf-8") as _source:
    SOURCE_LINES = _source.read().splitlines()


def site(tag):
    """``path:line`` of the single line of this file marked ``# site: <tag>``."""
    lines = [n for n, text in enumerate(SOURCE_LINES, start=1) if text.rstrip().endswith(f"# site: {tag}")]
    assert len(lines) == 1, (tag, lines)
    return f"{os.path.abspath(__file__)}:{lines[0]}"


def assert_names_site(message, tag):
    expected = site(tag)
    path, line = expected.rsplit(":", 1)
    match = re.search(r"at (\S+):(\d+)\b", message)
    assert match, message
    assert os.path.abspath(match.group(1)) == path, message
    assert int(match.group(2)) == int(line), f"expected line {line}: {message}"


def leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


@pytest.fixture(autouse=True)
def _anomaly_mode_is_off_around_each_test():
    with np.errstate(all="ignore"):
        assert _anomaly_checks_are_off()
    yield
    with np.errstate(all="ignore"):
        assert _anomaly_checks_are_off()


def _anomaly_checks_are_off():
    """Behavioural probe: a log of a negative number passes silently unless anomaly mode is on."""
    try:
        Tensor(np.array([-1.0])).log()
    except AnomalyError:
        return False
    return True


# ---- forward: non-finite values from finite inputs ------------------------------------------------
def forward_log_of_negative(x):
    return (x - 2.0).log()  # site: log-negative


def forward_log_of_zero(x):
    return (x - x).log()  # site: log-zero


def forward_division_by_zero(x):
    return x / (x * 0.0)  # site: div-zero


def forward_exp_overflow(x):
    return (x * 1000.0).exp()  # site: exp-overflow


def forward_exp_then_zero(x):
    return x.exp() * 0.0  # site: exp-in-helper


FORWARD_CASES = {
    "log-negative": (forward_log_of_negative, [1.0, 0.5], "log", "nan"),
    "log-zero": (forward_log_of_zero, [1.0, 0.5], "log", "-inf"),
    "div-zero": (forward_division_by_zero, [1.0, 0.5], "div", "inf"),
    "exp-overflow": (forward_exp_overflow, [1.0, 0.5], "exp", "inf"),
}


@pytest.mark.parametrize("tag", FORWARD_CASES)
def test_forward_producing_nan_or_inf_names_the_primitive_file_and_line(tag):
    fn, values, primitive, kind = FORWARD_CASES[tag]
    x = leaf(values)
    with np.errstate(all="ignore"), detect_anomaly():
        with pytest.raises(AnomalyError) as info:
            fn(x)
    message = str(info.value)
    assert message.startswith(f"forward of {primitive} produced"), message
    assert re.search(rf"produced {re.escape(kind)}\b", message), message
    assert "finite inputs" in message
    assert_names_site(message, tag)
    assert isinstance(info.value, RuntimeError)


def test_the_line_is_that_of_the_call_in_the_test_itself():
    x = leaf([1.0, -1.0])
    with np.errstate(all="ignore"), detect_anomaly():
        y = x * 2.0  # a finite operation first: nothing raised
        with pytest.raises(AnomalyError, match=r"forward of log") as info:
            y.log()  # site: inline-log
    assert_names_site(str(info.value), "inline-log")


def test_a_later_stage_of_a_chain_is_blamed_not_the_first():
    x = leaf([0.5, 1.0])
    with np.errstate(all="ignore"), detect_anomaly():
        h = x.exp()  # finite
        with pytest.raises(AnomalyError) as info:
            forward_exp_then_zero(h * 800.0)  # exp(800 e^x) overflows inside the helper
    message = str(info.value)
    assert message.startswith("forward of exp produced inf"), message
    assert_names_site(message, "exp-in-helper")  # the line of the exp call, inside the helper


def test_a_function_forward_producing_nan_is_named():
    class NanForward(Function):
        @staticmethod
        def forward(ctx, x):
            return np.sqrt(x - 10.0)

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = leaf([1.0, 2.0])
    with np.errstate(all="ignore"), detect_anomaly():
        with pytest.raises(AnomalyError, match=r"forward of NanForward produced nan") as info:
            NanForward.apply(x)  # site: function-forward
    assert_names_site(str(info.value), "function-forward")


# ---- forward: what is not an anomaly ---------------------------------------------------------------
@given(
    hnp.arrays(np.float64, st.integers(1, 4), elements=st.sampled_from([np.inf, -np.inf, np.nan, 1.0, -2.0]))
    .filter(lambda a: not np.isfinite(a).all())
)
def test_non_finite_inputs_from_the_user_do_not_raise_in_forward(arr):
    x = Tensor(arr, requires_grad=True)
    with np.errstate(all="ignore"), detect_anomaly():
        y = x * 2.0 + 1.0
        z = y.exp() * x  # inf * 0 or nan propagate: not the operation's fault
        w = (x - x).tanh()  # inf - inf = nan, from a non-finite input
        s = z.sum() + w.sum()
    assert not np.isfinite(y.data).all()
    assert s.requires_grad


def test_an_operation_with_one_non_finite_input_does_not_raise():
    finite, infinite = leaf([0.0, 1.0]), Tensor(np.array([np.inf, 2.0]))
    with np.errstate(all="ignore"), detect_anomaly():
        product = finite * infinite  # 0 * inf = nan, but an input was already inf
    assert np.isnan(product.data[0])


def test_non_float_outputs_are_not_checked():
    x = leaf([1.0, -1.0])
    with detect_anomaly():
        mask = x > 0.0
        y = x * 3.0
    np.testing.assert_array_equal(mask.data, [True, False])
    np.testing.assert_array_equal(y.data, [3.0, -3.0])


# ---- backward ---------------------------------------------------------------------------------------
def test_backward_producing_inf_names_the_primitive_and_where_it_was_called():
    x = leaf([0.0, 4.0])
    with np.errstate(all="ignore"), detect_anomaly():
        root = x.sqrt()  # site: sqrt-at-zero
        loss = (root * 3.0).sum()  # forward is finite: sqrt(0) = 0
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    assert message.startswith("backward of pow produced inf"), message  # sqrt is x ** 0.5
    assert re.search(r"gradient for its input 0\b", message), message
    assert re.search(r"the pow was called at", message), message
    assert_names_site(message, "sqrt-at-zero")
    assert x.grad is None  # a failed backward deposits nothing


def test_backward_producing_nan_names_the_primitive():
    # d/dx (sqrt(x) * 0) at 0: the mul sends 0, the pow turns it into 0 * inf = nan
    x = leaf([0.0, 1.0])
    with np.errstate(all="ignore"), detect_anomaly():
        y = x.sqrt()  # site: sqrt-nan
        z = y * 0.0
        with pytest.raises(AnomalyError, match=r"^backward of pow produced nan") as info:
            autograd.grad(z.sum(), x)
    assert_names_site(str(info.value), "sqrt-nan")


def test_backward_with_create_graph_blames_the_primitive_not_the_ops_inside_its_vjp():
    x = leaf([0.0, 1.0])
    with np.errstate(all="ignore"), detect_anomaly():
        y = x.sqrt()  # site: sqrt-create-graph
        with pytest.raises(AnomalyError) as info:
            autograd.grad(y.sum(), x, create_graph=True)
    message = str(info.value)
    assert message.startswith("backward of pow"), message
    assert_names_site(message, "sqrt-create-graph")


def test_a_function_backward_producing_inf_is_named_with_its_line():
    class Reciprocal(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 1.0

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad / x  # deliberately wrong and infinite at 0

    x = leaf([0.0, 2.0])
    with np.errstate(all="ignore"), detect_anomaly():
        y = Reciprocal.apply(x)  # site: function-backward
        with pytest.raises(AnomalyError, match=r"^backward of Reciprocal produced inf") as info:
            y.sum().backward()
    assert_names_site(str(info.value), "function-backward")


def test_a_graph_built_outside_is_checked_in_backward_without_a_site():
    x = leaf([0.0, 1.0])
    y = x.sqrt()
    assert y._ctx.site is None
    with np.errstate(all="ignore"), detect_anomaly():
        with pytest.raises(AnomalyError, match=r"backward of pow produced inf") as info:
            y.sum().backward()
    assert "not recorded" in str(info.value)
    assert "test_anomaly.py" not in str(info.value)


def test_a_graph_built_inside_and_run_outside_is_not_checked():
    x = leaf([0.0, 1.0])
    with np.errstate(all="ignore"):
        with detect_anomaly():
            y = x.sqrt()
        y.sum().backward()
    assert np.isinf(x.grad.data[0]) and x.grad.data[1] == pytest.approx(0.5)


# ---- outside the context nothing is checked -----------------------------------------------------------
def test_outside_the_context_nothing_is_checked_or_recorded():
    x = leaf([1.0, 0.0, -1.0])
    with np.errstate(all="ignore"):
        y = x.log()
        (y * 0.0).sum().backward()
    assert np.isnan(y.data[2]) and np.isneginf(y.data[1])
    assert y._ctx.site is None
    assert np.isnan(x.grad.data[1])


def test_inside_the_context_sites_are_recorded():
    x = leaf([1.0])
    with detect_anomaly():
        y = x * 2.0  # site: recorded
    assert y._ctx.site == site("recorded")


@given(hnp.arrays(np.float64, st.integers(1, 4), elements=st.floats(-2.0, 2.0)))
def test_detect_anomaly_does_not_change_values_or_gradients(arr):
    def run():
        x = Tensor(arr, requires_grad=True)
        y = (x.tanh() * x.exp()).sum() / (x * x + 1.0).sum()
        y.backward()
        return y.data, x.grad.data

    plain_value, plain_grad = run()
    with detect_anomaly():
        checked_value, checked_grad = run()
    np.testing.assert_array_equal(plain_value, checked_value)
    np.testing.assert_array_equal(plain_grad, checked_grad)


# ---- state: restored after exceptions, nesting, decorator --------------------------------------------
def test_the_previous_state_is_restored_after_an_anomaly():
    with np.errstate(all="ignore"):
        with pytest.raises(AnomalyError):
            with detect_anomaly():
                leaf([-1.0]).log()
        leaf([-1.0]).log()  # off again: no error


def test_the_previous_state_is_restored_after_another_exception():
    with pytest.raises(KeyError):
        with detect_anomaly():
            raise KeyError("unrelated")
    with np.errstate(all="ignore"):
        assert _anomaly_checks_are_off()


def test_nested_contexts_keep_checking_until_the_outer_one_exits():
    with np.errstate(all="ignore"):
        with detect_anomaly():
            with detect_anomaly():
                pass
            with pytest.raises(AnomalyError):
                leaf([-1.0]).log()
            with pytest.raises(ValueError):
                with detect_anomaly():
                    raise ValueError("inner failure")
            with pytest.raises(AnomalyError):
                leaf([-1.0]).log()
        assert _anomaly_checks_are_off()


def test_one_instance_can_be_nested():
    mode = detect_anomaly()
    with mode:
        with mode:
            pass
        with np.errstate(all="ignore"), pytest.raises(AnomalyError):
            leaf([-1.0]).log()
    try:
        with np.errstate(all="ignore"):
            assert _anomaly_checks_are_off()
    finally:
        from tinygrad_mnist.core.grad_mode import STATE

        STATE.anomaly = False  # do not leak the stuck state into other tests


def test_one_instance_can_be_reused_in_sequence():
    mode = detect_anomaly()
    for _ in range(2):
        with mode:
            with np.errstate(all="ignore"), pytest.raises(AnomalyError):
                leaf([-1.0]).log()
        with np.errstate(all="ignore"):
            assert _anomaly_checks_are_off()


@detect_anomaly()
def decorated_log(x):
    """Takes the logarithm."""
    return x.log()  # site: decorated


def test_works_as_a_decorator():
    assert decorated_log.__name__ == "decorated_log" and decorated_log.__doc__ == "Takes the logarithm."
    y = decorated_log(leaf([1.0, np.e]))
    np.testing.assert_allclose(y.data, [0.0, 1.0])
    with np.errstate(all="ignore"):
        assert _anomaly_checks_are_off()  # only on during the call
        with pytest.raises(AnomalyError, match=r"forward of log produced nan") as info:
            decorated_log(leaf([-1.0]))
        assert _anomaly_checks_are_off()
    assert_names_site(str(info.value), "decorated")


def test_exported_from_both_modules():
    assert AnomalyError is AnomalyErrorFromAnomaly and detect_anomaly is detect_anomaly_from_anomaly
    assert issubclass(AnomalyError, RuntimeError)
