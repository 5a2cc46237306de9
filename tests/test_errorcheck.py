"""The error-bounded gradient checker: detection of small gradient errors, no false alarms, kinks, modules, modes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from mutants import contracting_chain, random_program, smooth_chain

import tinygrad_mnist as tg
from benchmarks import best_times
from tinygrad_mnist import Tensor, nn
from tinygrad_mnist.autograd import (
    Function,
    GradcheckError,
    GradientBoundError,
    check_gradients,
    check_module,
    gradcheck,
)
from tinygrad_mnist.autograd.finite_differences import estimate, ladder
from tinygrad_mnist.core import rules
from tinygrad_mnist.nn import functional as F

DS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
KINDS = ("scale", "element", "noise")
_rng = np.random.default_rng(1)
W = Tensor(_rng.standard_normal((4, 3)))
# well-conditioned compositions of tanh, exp, sin, matmul, log_softmax: (function, input shape)
FUNCTIONS: dict[str, tuple[Callable[[Tensor], Tensor], tuple[int, ...]]] = {
    "tanh*exp": (lambda x: (x.tanh() * x.exp()).sum(), (5,)),
    "tanh(sin @ W)": (lambda x: (x.sin() @ W).tanh(), (2, 4)),
    "log_softmax(x @ W)": (lambda x: F.log_softmax(x @ W, dim=-1), (3, 4)),
    "tanh(sin(exp))": (lambda x: (x * 0.5).exp().sin().tanh(), (4,)),
}
POINTS = {name: _rng.uniform(-1.5, 1.5, size=shape) for name, (_, shape) in FUNCTIONS.items()}


def wrong_gradient(kind: str, d: float, seed: int = 0) -> Callable[[Tensor], Tensor]:
    """The identity, whose backward is wrong by a relative ``d``: every element scaled by ``1 + d``,
    element 0 only scaled, or each element scaled by ``1 + d * N(0, 1)``."""

    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return np.array(x, copy=True)

        @staticmethod
        def backward(ctx, grad):
            g = np.array(grad, dtype=np.float64, copy=True)
            if kind == "scale":
                return g * (1 + d)
            if kind == "element":
                g.flat[0] *= 1 + d
                return g
            return g * (1 + d * np.random.default_rng(seed).standard_normal(g.shape))

    return Wrong.apply


def caught(checker: str, fn: Callable[[Tensor], Tensor], point: np.ndarray) -> bool:
    x = Tensor(point.copy(), requires_grad=True)
    if checker == "pytorch-default":
        return not gradcheck(fn, x, raise_exception=False)
    return not check_gradients(fn, x, fast=checker == "fast", raise_exception=False)


def _compose(f: Callable[[Tensor], Tensor], g: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    return lambda x: f(g(x))


def detection_table() -> dict[tuple[str, float], float]:
    """Fraction of the mutants (functions x kinds) caught, for each checker and error size d."""
    table = {}
    for checker in ("pytorch-default", "new", "fast"):
        for d in DS:
            hits = [caught(checker, _compose(f, wrong_gradient(kind, d)), POINTS[name])
                    for name, (f, _) in FUNCTIONS.items() for kind in KINDS]
            table[(checker, d)] = float(np.mean(hits))
    return table


def test_correct_functions_pass_and_mutants_are_caught_down_to_1e_6() -> None:
    for name, (f, _) in FUNCTIONS.items():
        assert check_gradients(f, Tensor(POINTS[name].copy(), requires_grad=True), modes=("rev", "fwd"))
        assert check_gradients(f, Tensor(POINTS[name].copy(), requires_grad=True), fast=True)
    table = detection_table()
    print("\nfraction of mutants caught, by relative gradient error d")
    print("checker          " + " ".join(f"{d:>7.0e}" for d in DS))
    for checker in ("pytorch-default", "new", "fast"):
        print(f"{checker:16} " + " ".join(f"{table[(checker, d)]:7.2f}" for d in DS))
    for d in DS:
        if d >= 1e-6:
            assert table[("new", d)] == 1.0, d
            assert table[("fast", d)] == 1.0, d
    assert table[("pytorch-default", 1e-2)] == 1.0
    for d in DS:
        if d <= 1e-5:  # the fixed tolerances of the old check let these through
            assert table[("pytorch-default", d)] == 0.0, d
    assert table[("pytorch-default", 1e-4)] < 0.5


def test_failure_names_input_element_values_and_bound() -> None:
    x = Tensor(np.array([0.3, -0.8, 1.1]), requires_grad=True)
    y = Tensor(np.array([0.5, 0.2, -0.4]), requires_grad=True)
    bad = wrong_gradient("element", 1e-6)
    with pytest.raises(GradientBoundError, match=r"input 1 element \(0,\).*analytical .*numerical .*bound") as info:
        check_gradients(lambda a, b: (a.sin() * bad(b).exp()).sum(), (x, y))
    assert isinstance(info.value, GradcheckError)
    assert info.value.input_index == 1 and info.value.input_element == (0,)
    assert abs(info.value.analytical / info.value.numerical - (1 + 1e-6)) < 1e-9
    result = check_gradients(lambda a, b: (a.sin() * bad(b).exp()).sum(), (x, y), raise_exception=False)
    assert not result.passed and result.checked == 6 and result.skipped == 0
    assert result.worst["input 0"] is not None and result.worst["input 0"].ratio < 1
    worst = result.worst["input 1"]
    assert worst is not None and worst.ratio > 1 and worst.input_element == (0,)
    assert "FAILED" in result.summary()


def test_no_false_alarms_on_random_correct_programs() -> None:
    failures = []
    for seed in range(250):
        program = random_program(seed)
        fast = seed >= 170
        xs = [Tensor(a.copy(), requires_grad=True) for a in program.arrays]
        result = check_gradients(program.fn, xs, fast=fast, seed=seed, raise_exception=False)
        if not result.passed:
            failures.append(f"{program.describe()}\n{result.summary()}")
    assert not failures, "\n\n".join(failures)


ILL_CONDITIONED: dict[str, tuple[Callable[..., Tensor], list[np.ndarray]]] = {
    "large dynamic range": (lambda x: (x * Tensor(np.array([1e-6, 1.0, 1e6]))).sin() * 1e8 + x.tanh(),
                            [np.array([3e5, 0.7, 2e-7])]),
    "tiny and huge inputs": (lambda x: (x * x + 1).log() * x, [np.array([1e-9, 1e4, -3e3, 5e-5])]),
    "exp of large arguments": (lambda x: x.exp() * (x * 0.5).sin(), [np.array([30.0, 45.0, -40.0, 60.0])]),
    "steep exp": (lambda x: (x * 40).exp().sum(), [np.array([0.9, 1.1, 0.2])]),
    "near kinks": (lambda x: x.relu() + x.abs() * 2 + x.clip(-0.5, 0.5), [np.array([1e-3, -2e-4, 0.5002, 3e-4])]),
    "near a max tie": (lambda a, b: a.maximum(b) * a, [np.array([1.0, 2.0]), np.array([1.0002, 1.9995])]),
    "long contracting chain": (lambda x: contracting_chain(x, 60), [np.array([0.4, -0.9, 1.3])]),  # exp(x) - 1 of ~1e-10
    "long smooth chain": (lambda x: smooth_chain(x, 80), [np.array([0.4, -0.9, 1.3])]),
    "cancellation": (lambda x: (x + 1e3) * (x + 1e3) - (x * 2e3), [np.array([0.37, -1.25])]),
    "softmax of large logits": (lambda x: F.log_softmax(x * 30, dim=-1), [np.array([[1.0, 1.2, -0.3]])]),
}


@pytest.mark.parametrize("name", sorted(ILL_CONDITIONED))
@pytest.mark.parametrize("fast", [False, True])
def test_no_false_alarms_on_ill_conditioned_functions(name: str, fast: bool) -> None:
    fn, arrays = ILL_CONDITIONED[name]
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    result = check_gradients(fn, xs, fast=fast, raise_exception=False)
    assert result.passed, result.summary()
    assert result.checked > 0


@pytest.mark.parametrize(("name", "fn", "arrays", "element"), [
    ("relu at 0", Tensor.relu, [np.array([0.5, -1.0, 0.0])], (2,)),
    ("abs at 0", lambda x: x.abs() * 3, [np.array([0.0, 1.5])], (0,)),
    ("clamp at its bound", lambda x: x.clip(-1.0, 1.0), [np.array([0.2, 1.0])], (1,)),
    ("max tie", lambda a, b: a.maximum(b), [np.array([1.0, 2.0]), np.array([1.0, 0.5])], (0,)),
    ("amax tie", lambda x: x.amax(axis=-1), [np.array([[2.0, 2.0, 1.0], [0.0, 1.0, 3.0]])], (0, 0)),
])
def test_kinks_are_reported_as_skipped(name: str, fn: Callable[..., Tensor], arrays: list[np.ndarray],
                                       element: tuple[int, ...]) -> None:
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    result = check_gradients(fn, xs)
    assert result.passed and result.skipped > 0
    descriptions = [s.describe() for s in result.skips]
    assert any(d.startswith(f"non-differentiable at input 0 element {element}") for d in descriptions), descriptions
    smooth = [(s.input_index, s.input_element) for s in result.skips]
    assert len(set(smooth)) == 1 or name.endswith("tie"), smooth  # only the kink itself is skipped


def test_estimate_reports_nonconvergence_and_steps() -> None:
    h = ladder(1.0)
    with np.errstate(all="ignore"):  # log of a negative number on the larger steps
        est = estimate(np.array([np.log(1e-5)]), np.log(1e-5 + h)[:, None], np.log(1e-5 - h)[:, None], h,
                       noise=np.array([1e-15]))
    assert not est.converged[0] or est.kink[0]
    with pytest.raises(ValueError, match="at least 3 steps"):
        ladder(1.0, steps=2)


def _mlp() -> nn.Sequential:
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))


def test_check_module_mlp_and_cnn_pass_and_leave_the_model_untouched() -> None:
    model = _mlp()
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    x = Tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32), requires_grad=True)
    target = np.array([0, 2, 1, 1, 0])
    result = check_module(model, lambda out: F.cross_entropy(out, Tensor(target)), x)
    assert result.passed and set(result.worst) == {"input 0", "0.weight", "0.bias", "2.weight", "2.bias"}
    assert all(report is not None and report.ratio < 1 for report in result.worst.values())
    for name, p in model.named_parameters():
        assert p.dtype == np.float32 and np.array_equal(p.data, before[name])

    tg.manual_seed(1)
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 3 * 3, 2))
    images = Tensor(np.random.default_rng(1).standard_normal((2, 1, 5, 5)))
    result = check_module(cnn, lambda out: (out.sin() ** 2).sum(), images, max_elements=8, seed=3)
    assert result.passed and result.skipped == 0
    assert result.checked == 8 + 2 + 8 + 2  # the cap applies per parameter: conv weight 18 -> 8, linear 36 -> 8


def test_check_module_names_the_mutated_parameter() -> None:
    scale = wrong_gradient("scale", 1e-6)

    class BadLinear(nn.Linear):
        def forward(self, input: Tensor) -> Tensor:
            return F.linear(input, scale(self.weight), self.bias)

    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), BadLinear(6, 3))
    x = Tensor(np.random.default_rng(0).standard_normal((5, 4)))
    with pytest.raises(GradientBoundError, match=r"2\.weight element"):
        check_module(model, lambda out: (out * out).sum(), x)
    result = check_module(model, lambda out: (out * out).sum(), x, raise_exception=False)
    assert [r.input_name for r in result.failures] and {r.input_name for r in result.failures} == {"2.weight"}


@pytest.mark.parametrize("fast", [False, True])
def test_forward_and_reverse_modes_agree(fast: bool) -> None:
    x = Tensor(np.array([[0.3, -1.1, 0.8], [1.4, 0.2, -0.6]]), requires_grad=True)
    result = check_gradients(lambda t: (t.tanh() @ W[:3]).sin(), x, modes=("fwd", "rev"), fast=fast)
    assert result.passed and result.consistency["input 0"] < 1e-12


@pytest.mark.parametrize("fast", [False, True])
def test_a_wrong_jvp_is_caught(monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
    monkeypatch.setattr(rules.tanh, "jvp", lambda vs, out, a: vs[0] * (1 - out * out) * (1 + 1e-6))
    x = Tensor(np.array([0.3, -1.1, 0.8]), requires_grad=True)
    fn = lambda t: (t.tanh() * t.exp()).sum()  # noqa: E731
    assert check_gradients(fn, x, fast=fast)  # reverse mode alone is right
    with pytest.raises(GradientBoundError, match=r"forward/reverse mismatch|fwd"):
        check_gradients(fn, x, modes=("rev", "fwd"), fast=fast)
    result = check_gradients(fn, x, modes=("rev", "fwd"), fast=fast, raise_exception=False)
    assert result.consistency_failures and any(r.mode.endswith("fwd") for r in result.failures)


def test_bad_arguments() -> None:
    x = Tensor(np.array([1.0]), requires_grad=True)
    with pytest.raises(ValueError, match="modes"):
        check_gradients(Tensor.exp, x, modes=("backward",))
    with pytest.raises(RuntimeError, match="no input requires grad"):
        check_gradients(Tensor.exp, Tensor(np.array([1.0])))
    with pytest.raises(TypeError, match=r"nn\.Module"):
        check_module(Tensor.exp, Tensor.sum, x)


def test_cost_against_gradcheck() -> None:
    """Printed: the time of the new check over the old one's, best of 3, on a few programs."""
    for seed in (3, 11, 42):
        program = random_program(seed)
        xs = [Tensor(a.copy(), requires_grad=True) for a in program.arrays]
        old, new, fast = best_times(lambda xs=xs, p=program: gradcheck(p.fn, xs),
                                    lambda xs=xs, p=program: check_gradients(p.fn, xs),
                                    lambda xs=xs, p=program: check_gradients(p.fn, xs, fast=True), repeats=3)
        print(f"\nprogram {seed}: gradcheck {old * 1e3:.1f} ms, check_gradients {new * 1e3:.1f} ms "
              f"({new / old:.1f}x), fast {fast * 1e3:.1f} ms")
        assert new < 30 * old + 0.05


def test_a_0d_input_is_named_by_its_element_not_as_a_directional_derivative(monkeypatch):
    monkeypatch.setattr(rules.tanh, "vjps", (lambda g, out, a: 2 * g * (1 - out * out),))
    result = check_gradients(Tensor.tanh, Tensor(np.array(0.3), requires_grad=True), raise_exception=False)
    assert not result.passed
    assert result.failures[0].describe().startswith("input 0 element () (output 0 element ()) [rev]")
    fast = check_gradients(Tensor.tanh, Tensor(np.array(0.3), requires_grad=True), fast=True,
                           raise_exception=False)
    assert fast.failures[0].describe().startswith("input 0 u^T J v [fast rev]")
