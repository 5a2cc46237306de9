"""``nn.init`` beyond what PyTorch can check for us: the number stream, the ``generator`` argument,
in-place effects, and each distribution against its theory."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor, nn
from tinygrad_mnist.nn import init

RANDOM_FILLS = {
    "uniform_": lambda t, **kw: init.uniform_(t, -1.0, 2.0, **kw),
    "normal_": lambda t, **kw: init.normal_(t, 0.5, 2.0, **kw),
    "trunc_normal_": lambda t, **kw: init.trunc_normal_(t, 0.0, 1.0, -1.0, 1.5, **kw),
    "xavier_uniform_": lambda t, **kw: init.xavier_uniform_(t, **kw),
    "xavier_normal_": lambda t, **kw: init.xavier_normal_(t, **kw),
    "kaiming_uniform_": lambda t, **kw: init.kaiming_uniform_(t, **kw),
    "kaiming_normal_": lambda t, **kw: init.kaiming_normal_(t, **kw),
    "orthogonal_": lambda t, **kw: init.orthogonal_(t, **kw),
    "sparse_": lambda t, **kw: init.sparse_(t, 0.5, **kw),
}


# ---- the number stream ---------------------------------------------------------------------------
def test_linear_draws_its_weights_and_bias_from_the_seeded_generator():
    """Linear(in, out): weight then bias, each U(-1/sqrt(in), 1/sqrt(in)), drawn in float64 and stored as float32."""
    tm.manual_seed(7)
    layer = nn.Linear(30, 20)
    rng = np.random.default_rng(7)
    bound = 1 / math.sqrt(30)
    np.testing.assert_array_equal(layer.weight.data, rng.uniform(-bound, bound, (20, 30)).astype(np.float32))
    np.testing.assert_array_equal(layer.bias.data, rng.uniform(-bound, bound, 20).astype(np.float32))


@pytest.mark.parametrize("name", sorted(RANDOM_FILLS))
def test_a_numpy_generator_gives_the_same_draws_as_the_same_seed(name):
    fill = RANDOM_FILLS[name]
    tm.manual_seed(3)
    from_global = fill(tm.empty(40, 30)).data.copy()
    from_argument = fill(tm.empty(40, 30), generator=np.random.default_rng(3)).data
    np.testing.assert_array_equal(from_global, from_argument)


@pytest.mark.parametrize("name", sorted(RANDOM_FILLS))
def test_a_generator_of_another_kind_is_refused(name):
    with pytest.raises(TypeError, match=f"{name}: generator must be None .* numpy.random.Generator, got .*RandomState"):
        RANDOM_FILLS[name](tm.empty(4, 6), generator=np.random.RandomState(0))


def test_a_passed_generator_leaves_the_global_one_alone():
    tm.manual_seed(5)
    expected = tm.random.generator().random()
    tm.manual_seed(5)
    init.normal_(tm.empty(100), generator=np.random.default_rng(1))
    assert tm.random.generator().random() == expected


# ---- in place, dtypes, no graph ------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(RANDOM_FILLS))
@pytest.mark.parametrize("dtype", [tm.float16, tm.float32, tm.float64])
def test_random_fills_keep_array_dtype_and_leaf(name, dtype):
    p = nn.Parameter(tm.zeros(8, 6, dtype=dtype))
    array = p.data
    with tm.enable_grad():
        assert RANDOM_FILLS[name](p) is p
    assert p.data is array and p.dtype == dtype
    assert p.requires_grad and p.is_leaf and p.grad is None and p._version == 1
    assert np.abs(p.data).max() > 0


def test_a_graph_recorded_before_an_init_refuses_backward():
    """The fill counts as an in-place change: a product recorded before it cannot be differentiated."""
    w = nn.Parameter(tm.ones(3, 3))
    loss = (w * w).sum()
    init.kaiming_uniform_(w)
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


@pytest.mark.parametrize("fill", [init.uniform_, init.normal_, init.xavier_uniform_, init.orthogonal_,
                                  init.trunc_normal_, init.kaiming_normal_])
def test_random_fills_refuse_integer_tensors(fill):
    with pytest.raises(TypeError, match="floating-point tensor, got dtype int64"):
        fill(tm.zeros(3, 3, dtype=tm.int64))


@pytest.mark.parametrize("fill", [init.zeros_, init.ones_, init.eye_, init.kaiming_uniform_])
def test_fills_refuse_what_is_not_a_tensor(fill):
    with pytest.raises(TypeError, match="expected a Tensor, got ndarray"):
        fill(np.zeros((2, 2)))


def test_argument_errors_name_the_function_and_the_value():
    with pytest.raises(ValueError, match=r"uniform_: expects a <= b .*a=1.0 > b=0.0"):
        init.uniform_(tm.empty(3), 1.0, 0.0)
    with pytest.raises(ValueError, match="normal_: std must be >= 0, got -1"):
        init.normal_(tm.empty(3), 0.0, -1)
    with pytest.raises(ValueError, match="trunc_normal_: expects a < b"):
        init.trunc_normal_(tm.empty(3), a=1.0, b=1.0)
    with pytest.raises(ValueError, match="sparse_: sparsity must be in"):
        init.sparse_(tm.empty(3, 3), 1.5)
    with pytest.raises(ValueError, match=r"dirac_: dim 0 .* divisible by groups=2"):
        init.dirac_(tm.empty(3, 3, 3), groups=2)
    with pytest.raises(ValueError, match="kaiming_normal_: mode 'fan_avg' not supported"):
        init.kaiming_normal_(tm.empty(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match=r"xavier_normal_: fan in .*fewer than 2 dimensions.*got shape \(4,\)"):
        init.xavier_normal_(tm.empty(4))


def test_read_only_tensors_are_refused():
    t = Tensor(np.zeros(3, dtype=np.float32))
    t.data.flags.writeable = False
    with pytest.raises(RuntimeError, match=r"ones_: .*read-only"):
        init.ones_(t)


def test_trunc_normal_warns_when_the_mean_is_far_from_the_window():
    with pytest.warns(UserWarning, match="more than 2 std"):
        init.trunc_normal_(tm.empty(100), mean=5.0, std=1.0, a=-1.0, b=1.0)


# ---- distributions against theory -----------------------------------------------------------------
def _truncated_moments(mean, std, a, b):
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: (1 + math.erf(x / math.sqrt(2))) / 2  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    m = mean + std * (pdf(alpha) - pdf(beta)) / z
    var = std**2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    return m, math.sqrt(var)


@pytest.mark.parametrize(("mean", "std", "a", "b"), [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04),
                                                     (0.3, 1.0, -0.2, 0.1), (0.0, 1.0, 1.5, 4.0)])
def test_trunc_normal_has_the_truncated_moments(mean, std, a, b):
    tm.manual_seed(0)
    values = init.trunc_normal_(tm.empty(200_000, dtype=tm.float64), mean, std, a, b).data
    assert values.min() >= a and values.max() <= b
    m, s = _truncated_moments(mean, std, a, b)
    assert values.mean() == pytest.approx(m, abs=0.01 * s)
    assert values.std() == pytest.approx(s, rel=0.01)


def test_trunc_normal_of_float32_stays_within_the_stored_bounds():
    values = init.trunc_normal_(tm.empty(100_000), 0.0, 1.0, -0.1, 0.1).data
    assert values.dtype == np.float32
    assert values.min() >= np.float32(-0.1) and values.max() <= np.float32(0.1)


@pytest.mark.parametrize(("kwargs", "std"), [
    ({}, math.sqrt(2 / (1 + 0.01**2)) / math.sqrt(300)),
    ({"a": 0.5, "mode": "fan_out", "nonlinearity": "leaky_relu"}, math.sqrt(2 / 1.25) / math.sqrt(2000)),
    ({"nonlinearity": "selu"}, 0.75 / math.sqrt(300)),
])
def test_kaiming_normal_std(kwargs, std):
    tm.manual_seed(0)
    values = init.kaiming_normal_(tm.empty(200, 30, 10), **kwargs).data
    assert values.std() == pytest.approx(std, rel=0.01)
    assert abs(values.mean()) < 0.01 * std


def test_orthogonal_is_uniformly_signed_and_scaled():
    """The sign correction makes the diagonal of R positive, so Q's entries are symmetric around 0."""
    tm.manual_seed(0)
    firsts = np.array([init.orthogonal_(tm.empty(3, 3, dtype=tm.float64), gain=2.0).data[0, 0]
                       for _ in range(400)])
    assert abs(np.mean(firsts > 0) - 0.5) < 0.1
    w = init.orthogonal_(tm.empty(4, 3, 2, dtype=tm.float64), gain=2.0).data.reshape(4, 6)
    np.testing.assert_allclose(w @ w.T, 4.0 * np.eye(4), atol=1e-12)


def test_sparse_zero_count_and_std():
    tm.manual_seed(0)
    values = init.sparse_(tm.empty(1000, 200, dtype=tm.float64), sparsity=0.1, std=0.3).data
    assert ((values == 0).sum(axis=0) == 100).all()
    assert values[values != 0].std() == pytest.approx(0.3, rel=0.02)


def test_dirac_makes_the_convolution_pass_its_input_through():
    tm.manual_seed(0)
    x = tm.randn(2, 3, 7, 7)
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    init.dirac_(conv.weight)
    np.testing.assert_array_equal(conv(x).data, x.data)


def test_calculate_gain_of_identity_is_one():
    assert init.calculate_gain("identity") == 1
