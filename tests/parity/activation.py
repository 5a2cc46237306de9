"""Cases for the activation functions and layers and the distance functions: values, input gradients
(first and second order), the kinks, large magnitudes, float32, ``inplace=True``, printed forms and errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from parity import case, raises, value_and_grad, weighted

# the kinks of every piecewise function (0, +-1, +-3, 6), both sides of them, and ordinary values
KINKS = np.array([-7.0, -6.0, -3.0, -2.5, -1.0, -0.4, -1e-9, 0.0, 1e-9, 0.3, 1.0, 2.5, 3.0, 4.5, 6.0, 8.0])
LARGE = np.array([-1000.0, -90.0, -50.0, -20.0, 20.0, 50.0, 90.0, 1000.0])
SMOOTH = np.array([[-2.5, -1.0, -0.3, 0.0], [0.2, 0.9, 1.7, 3.1]])


def _F(T: Any) -> Any:
    return T.nn.functional


ELEMENTWISE = {
    "relu": lambda T: _F(T).relu,
    "relu6": lambda T: _F(T).relu6,
    "hardtanh": lambda T: _F(T).hardtanh,
    "hardtanh_range": lambda T: lambda x: _F(T).hardtanh(x, -2.5, 3.0),
    "leaky_relu": lambda T: lambda x: _F(T).leaky_relu(x, 0.2),
    "elu": lambda T: _F(T).elu,
    "elu_alpha": lambda T: lambda x: _F(T).elu(x, alpha=0.5),
    "selu": lambda T: _F(T).selu,
    "celu": lambda T: lambda x: _F(T).celu(x, alpha=2.0),
    "gelu": lambda T: _F(T).gelu,
    "gelu_tanh": lambda T: lambda x: _F(T).gelu(x, approximate="tanh"),
    "silu": lambda T: _F(T).silu,
    "softplus": lambda T: _F(T).softplus,
    "softplus_beta_threshold": lambda T: lambda x: _F(T).softplus(x, beta=2.0, threshold=5.0),  # 2.5: on it
    "softplus_negative_beta": lambda T: lambda x: _F(T).softplus(x, beta=-1.5, threshold=3.0),
    "mish": lambda T: _F(T).mish,
    "hardswish": lambda T: _F(T).hardswish,
    "softsign": lambda T: _F(T).softsign,
    "logsigmoid": lambda T: _F(T).logsigmoid,
    "tanhshrink": lambda T: _F(T).tanhshrink,
    "sigmoid": lambda T: _F(T).sigmoid,
    "tanh": lambda T: _F(T).tanh,
}
STABLE = ("elu", "selu", "celu", "gelu", "gelu_tanh", "silu", "softplus", "softplus_beta_threshold", "mish",
          "hardswish", "softsign", "logsigmoid", "sigmoid", "relu6", "leaky_relu")


@case
def activations_at_the_kinks(T):
    """Every elementwise activation: values and gradients at and beside each kink."""
    return {name: value_and_grad(T, make(T), KINKS) for name, make in ELEMENTWISE.items()}


@case
def activations_at_large_magnitudes(T):
    """No overflow, and PyTorch's values and gradients, far out on both sides."""
    return {name: value_and_grad(T, ELEMENTWISE[name](T), LARGE) for name in STABLE}


@case(rtol=1e-5, atol=1e-6)
def activations_in_float32(T):
    """float32 in, float32 out, with float32 gradients."""
    out = {}
    for name, make in ELEMENTWISE.items():
        x = T.tensor(np.concatenate([KINKS, LARGE]), dtype=T.float32, requires_grad=True)
        y = make(T)(x)
        (y * T.tensor(np.linspace(0.5, 2.0, x.numel()), dtype=T.float32)).sum().backward()
        out[name] = (y, x.grad)
    return out


def _second_order(T: Any, f: Any, array: Any) -> tuple[Any, Any, Any]:
    """``f``, its gradient built with create_graph, and the gradient of that gradient."""
    x = T.tensor(array, dtype=T.float64, requires_grad=True)
    y = f(x)
    (g,) = T.autograd.grad(weighted(T, y), x, create_graph=True)
    weighted(T, g * g).backward()
    return y, g, x.grad


@case
def activations_second_order(T):
    points = np.array([-25.0, -3.0, -1.2, -0.2, 0.0, 0.4, 1.5, 3.0, 30.0])
    names = ("gelu", "gelu_tanh", "silu", "mish", "softplus", "softplus_beta_threshold", "elu", "celu", "selu",
             "logsigmoid", "softsign", "tanhshrink", "hardswish")
    return {name: _second_order(T, ELEMENTWISE[name](T), points) for name in names}


@case(rtol=1e-7, atol=1e-12)
def hardsigmoid_function_module_and_inplace(T):
    """Kept apart for its tolerance: PyTorch's gradient multiplies by 1/6 rounded to float32, even in float64
    (a relative 3e-8 from the exact 1/6 used here)."""
    x = T.tensor(KINKS, dtype=T.float64, requires_grad=True)
    h = x * 1.5
    y = T.nn.functional.hardsigmoid(h, inplace=True)
    weighted(T, y * y).backward()
    return (value_and_grad(T, T.nn.functional.hardsigmoid, KINKS), value_and_grad(T, T.nn.Hardsigmoid(), LARGE),
            y is h, h, x.grad)


# ---- softmax family ------------------------------------------------------------------------------
@case
def softmax_family_along_each_dim(T):
    F = _F(T)
    out = {}
    for dim in (0, 1, -1):
        for fn in (F.softmax, F.log_softmax, F.softmin):
            out[f"{fn.__name__}{dim}"] = value_and_grad(T, lambda x, fn=fn, dim=dim: fn(x, dim), SMOOTH)
    return out


@case(rtol=1e-6, atol=1e-7)
def softmax_family_dtype_argument(T):
    F = _F(T)
    x = T.tensor(SMOOTH, dtype=T.float32)
    return [fn(x, 1, dtype=T.float64) for fn in (F.softmax, F.log_softmax, F.softmin)] + [
        F.softmin(x, dim=0).dtype]


@case
def softmax_family_implicit_dim_warns(T):
    F = _F(T)
    x = T.tensor(SMOOTH, dtype=T.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = [F.softmax(x), F.log_softmax(x), F.softmin(x), T.nn.Softmax()(x), T.nn.Softmin()(x[0])]
    return out, [w.category.__name__ for w in caught]


# ---- in place ------------------------------------------------------------------------------------
INPLACE = {
    "relu": lambda F, x: F.relu(x, inplace=True),
    "relu6": lambda F, x: F.relu6(x, inplace=True),
    "hardtanh": lambda F, x: F.hardtanh(x, -0.5, 2.0, inplace=True),
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.1, inplace=True),
    "elu": lambda F, x: F.elu(x, 0.7, inplace=True),
    "selu": lambda F, x: F.selu(x, inplace=True),
    "celu": lambda F, x: F.celu(x, 1.5, inplace=True),
    "silu": lambda F, x: F.silu(x, inplace=True),
    "mish": lambda F, x: F.mish(x, inplace=True),
    "hardswish": lambda F, x: F.hardswish(x, inplace=True),
}


@case
def inplace_returns_the_input_and_gradients_flow(T):
    """On a tensor made by recorded operations: the input holds the result and gradients reach the leaf."""
    out = {}
    for name, fn in INPLACE.items():
        x = T.tensor(KINKS, dtype=T.float64, requires_grad=True)
        h = x * 1.5
        y = fn(_F(T), h)
        weighted(T, y * y).backward()
        out[name] = (y is h, h, x.grad)
    return out


@case
def inplace_without_grad_changes_the_data(T):
    out = {}
    for name, fn in [*INPLACE.items(), ("hardsigmoid", lambda F, x: F.hardsigmoid(x, inplace=True))]:
        x = T.tensor(KINKS, dtype=T.float64)
        out[name] = (fn(_F(T), x) is x, x)
    return out


@case
def inplace_modules(T):
    nn = T.nn
    layers = [nn.ReLU(True), nn.ReLU6(True), nn.Hardtanh(-1.0, 2.0, True), nn.LeakyReLU(0.3, True),
              nn.ELU(0.5, True), nn.CELU(2.0, True), nn.SELU(True), nn.SiLU(True), nn.Mish(True),
              nn.Hardswish(True), nn.Hardsigmoid(True)]
    out = []
    for layer in layers:
        x = T.tensor(KINKS, dtype=T.float64)
        out.append((layer(x) is x, x))
    return out


@raises
def inplace_on_a_leaf_that_requires_grad(T):
    _F(T).relu(T.tensor([1.0, -1.0], requires_grad=True), inplace=True)


@raises
def inplace_elu_on_a_leaf_that_requires_grad(T):
    T.nn.ELU(inplace=True)(T.tensor([1.0, -1.0], requires_grad=True))


# ---- modules ---------------------------------------------------------------------------------------
def _modules(T: Any) -> list[Any]:
    nn = T.nn
    return [nn.ReLU(), nn.ReLU(inplace=True), nn.ReLU6(), nn.ReLU6(inplace=True), nn.Hardtanh(),
            nn.Hardtanh(-2.5, 3.0), nn.Hardtanh(-2, 3, True), nn.LeakyReLU(), nn.LeakyReLU(0.2, True),
            nn.ELU(), nn.ELU(alpha=2, inplace=True), nn.CELU(), nn.CELU(0.5), nn.SELU(), nn.SELU(True),
            nn.GELU(), nn.GELU("tanh"), nn.SiLU(), nn.SiLU(True), nn.Softplus(), nn.Softplus(2.0, 5.0),
            nn.Mish(), nn.Hardswish(), nn.Hardsigmoid(), nn.Softsign(), nn.LogSigmoid(), nn.Tanhshrink(),
            nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=1), nn.Softmax(0), nn.LogSoftmax(dim=1), nn.Softmin(1),
            nn.CosineSimilarity(), nn.CosineSimilarity(0, 1e-6), nn.PairwiseDistance(), nn.PairwiseDistance(1.0)]


@case
def module_reprs(T):
    return [repr(m) for m in _modules(T)]


@case
def module_attributes(T):
    nn = T.nn
    return [vars_of(nn.Hardtanh(-2.0, 3.0), "min_val", "max_val", "inplace"), vars_of(nn.ReLU6(), "min_val", "max_val"),
            vars_of(nn.ELU(0.3), "alpha", "inplace"), vars_of(nn.Softplus(2.0, 4.0), "beta", "threshold"),
            vars_of(nn.GELU("tanh"), "approximate"), vars_of(nn.Softmax(1), "dim"),
            vars_of(nn.CosineSimilarity(0, 1e-3), "dim", "eps"),
            vars_of(nn.PairwiseDistance(3.0, 1e-3, True), "norm", "eps", "keepdim"),
            isinstance(nn.ReLU6(), nn.Hardtanh), list(nn.ReLU().parameters())]


def vars_of(module: Any, *names: str) -> list[Any]:
    return [getattr(module, name) for name in names]


@case
def modules_values_and_gradients(T):
    out = []
    for layer in _modules(T):
        if type(layer).__name__ in ("CosineSimilarity", "PairwiseDistance", "Hardsigmoid"):
            continue
        x = T.tensor(KINKS.reshape(4, 4), dtype=T.float64, requires_grad=True)
        h = x * 1.0  # in-place layers change a non-leaf
        y = layer(h)
        weighted(T, y).backward()
        out.append((y, x.grad))
    return out


@case
def distance_modules(T):
    a = T.tensor(SMOOTH, dtype=T.float64, requires_grad=True)
    b = T.tensor(SMOOTH[::-1].copy() + 0.5, dtype=T.float64, requires_grad=True)
    ys = [m(a, b) for m in _modules(T)[-4:]]
    weighted(T, sum((y * (k + 1)).sum() for k, y in enumerate(ys))).backward()
    return ys, a.grad, b.grad


# ---- errors PyTorch raises too ---------------------------------------------------------------------
@raises
def gelu_unknown_approximate(T):
    _F(T).gelu(T.tensor([1.0]), approximate="bad")


@raises
def gelu_module_unknown_approximate(T):
    T.nn.GELU("exact")(T.tensor([1.0]))


@raises
def gelu_of_integers(T):
    _F(T).gelu(T.tensor([1, 2]))


@raises
def silu_of_integers(T):
    _F(T).silu(T.tensor([1, 2]))


@raises
def hardtanh_min_above_max(T):
    _F(T).hardtanh(T.tensor([1.0]), 2.0, 1.0)


@raises
def hardtanh_module_empty_range(T):
    T.nn.Hardtanh(1.0, 1.0)


@raises
def celu_alpha_zero(T):
    _F(T).celu(T.tensor([1.0]), alpha=0.0)


@raises
def softmin_dim_out_of_range(T):
    _F(T).softmin(T.tensor(SMOOTH), dim=2)


@raises
def softmax_module_dim_out_of_range(T):
    T.nn.Softmax(dim=3)(T.tensor(SMOOTH))


# ---- distances ----------------------------------------------------------------------------------
ROWS = np.array([[3.0, -4.0, 1.0], [0.0, 0.0, 0.0], [2e-9, -1e-9, 0.0], [-0.5, 2.0, 7.0]])
OTHER = np.array([[1.0, 2.0, -2.0], [0.5, -1.0, 0.3], [4.0, 1.0, 0.0], [-0.5, 2.0, 7.0]])


def _pair(T: Any, a: Any, b: Any, dtype: Any = None) -> tuple[Any, Any]:
    dtype = T.float64 if dtype is None else dtype
    return (T.tensor(a, dtype=dtype, requires_grad=True), T.tensor(b, dtype=dtype, requires_grad=True))


def _pair_grads(T: Any, f: Any, a: Any, b: Any) -> tuple[Any, Any, Any]:
    x1, x2 = _pair(T, a, b)
    y = f(x1, x2)
    weighted(T, y).backward()
    return y, x1.grad, x2.grad


@case
def normalize_norms_and_dims(T):
    """p = 2, 1, 3, inf along each dim, with a zero row and a row below eps."""
    F = _F(T)
    rows = ROWS * np.array([[1.0], [1.0], [1e-4], [1.0]])  # the third row's norm is below 1e-12
    out = {}
    for p in (2.0, 1.0, 3.0, float("inf")):
        for dim in (0, 1, -1):
            out[f"{p}/{dim}"] = value_and_grad(T, lambda x, p=p, dim=dim: F.normalize(x, p=p, dim=dim), rows)
    out["3d"] = value_and_grad(T, F.normalize, np.sin(np.arange(24.0)).reshape(2, 3, 4))
    out["1d"] = value_and_grad(T, lambda x: F.normalize(x, dim=0), ROWS[0])
    out["eps"] = value_and_grad(T, lambda x: F.normalize(x, eps=2.0), ROWS)
    return out


@case
def cosine_similarity_values_and_gradients(T):
    """Zero vectors and vectors shorter than eps: PyTorch divides by max(norm, eps), differentiating the norm."""
    F = _F(T)
    return {
        "rows": _pair_grads(T, F.cosine_similarity, ROWS, OTHER),
        "zero_both": _pair_grads(T, F.cosine_similarity, np.zeros((2, 3)), np.zeros((2, 3))),
        "dim0": _pair_grads(T, lambda a, b: F.cosine_similarity(a, b, dim=0), ROWS, OTHER),
        "eps": _pair_grads(T, lambda a, b: F.cosine_similarity(a, b, eps=1.5), ROWS * 0.2, OTHER),
        "broadcast": _pair_grads(T, lambda a, b: F.cosine_similarity(a, b, dim=-1), ROWS.reshape(4, 1, 3),
                                 OTHER[:3]),
        "vectors": _pair_grads(T, lambda a, b: F.cosine_similarity(a, b, dim=0), ROWS[0], OTHER[0]),
        "3d": _pair_grads(T, F.cosine_similarity, np.sin(np.arange(24.0)).reshape(2, 3, 4),
                          np.cos(np.arange(24.0)).reshape(2, 3, 4)),
    }


@case
def pairwise_distance_values_and_gradients(T):
    F = _F(T)
    out = {}
    for p in (2.0, 1.0, 3.0, 1.5, float("inf")):
        out[f"p{p}"] = _pair_grads(T, lambda a, b, p=p: F.pairwise_distance(a, b, p=p), ROWS, OTHER)
    out["keepdim"] = _pair_grads(T, lambda a, b: F.pairwise_distance(a, b, keepdim=True), ROWS, OTHER)
    out["no_eps_equal_rows"] = _pair_grads(T, lambda a, b: F.pairwise_distance(a, b, eps=0.0), ROWS, ROWS)
    out["broadcast"] = _pair_grads(T, F.pairwise_distance, ROWS, OTHER[0])
    out["vectors"] = _pair_grads(T, F.pairwise_distance, ROWS[0], OTHER[0])
    out["3d"] = _pair_grads(T, F.pairwise_distance, np.sin(np.arange(24.0)).reshape(2, 3, 4), OTHER[0, :1])
    x1, x2 = _pair(T, ROWS, OTHER)
    out["p0"] = F.pairwise_distance(x1, x2, p=0.0, eps=0.0)
    return out


@case(rtol=1e-5, atol=1e-6)
def distances_in_float32(T):
    F = _F(T)
    x1, x2 = _pair(T, ROWS, OTHER, T.float32)
    ys = [F.normalize(x1), F.cosine_similarity(x1, x2), F.pairwise_distance(x1, x2)]
    weighted(T, sum((y * (k + 1.0)).sum() for k, y in enumerate(ys))).backward()
    return ys, x1.grad, x2.grad


@case
def distances_second_order(T):
    F = _F(T)
    a, b = np.sin(np.arange(12.0)).reshape(4, 3), np.cos(np.arange(12.0)).reshape(4, 3)
    out = {}
    for name, f in (("normalize", lambda x: F.normalize(x)), ("normalize_p3", lambda x: F.normalize(x, p=3.0)),
                    ("cosine", lambda x: F.cosine_similarity(x, T.tensor(b, dtype=T.float64))),
                    ("pairwise", lambda x: F.pairwise_distance(x, T.tensor(b, dtype=T.float64)))):
        out[name] = _second_order(T, f, a)
    return out


@raises
def cosine_similarity_shapes_that_do_not_broadcast(T):
    _F(T).cosine_similarity(T.tensor(np.ones((2, 3))), T.tensor(np.ones((3, 3))))


@raises
def cosine_similarity_of_vectors_along_dim_1(T):
    _F(T).cosine_similarity(T.tensor(np.ones(3)), T.tensor(np.ones(3)))


@raises
def cosine_similarity_of_integers(T):
    _F(T).cosine_similarity(T.tensor([[1, 2]]), T.tensor([[2, 1]]))


@raises
def pairwise_distance_shapes_that_do_not_broadcast(T):
    _F(T).pairwise_distance(T.tensor(np.ones((2, 3))), T.tensor(np.ones((2, 4))))


@raises
def normalize_dim_out_of_range(T):
    _F(T).normalize(T.tensor(np.ones((2, 3))), dim=2)


@raises
def normalize_vector_along_dim_1(T):
    _F(T).normalize(T.tensor(np.ones(3)))


@case
def normalize_over_a_tuple_of_dims(T):
    x = np.sin(np.arange(24.0)).reshape(2, 3, 4)
    return value_and_grad(T, lambda t: T.nn.functional.normalize(t, dim=(1, 2)), x)


# ---- names and networks ------------------------------------------------------------------------------
FUNCTIONS = ("celu", "cosine_similarity", "elu", "gelu", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu",
             "log_softmax", "logsigmoid", "mish", "normalize", "pairwise_distance", "relu", "relu6", "selu",
             "sigmoid", "silu", "softmax", "softmin", "softplus", "softsign", "tanh", "tanhshrink", "sign")


@case
def functional_names(T):
    """The names exist on both sides (``sign`` on neither: the sign function is ``T.sign``, not in functional)."""
    return {name: hasattr(T.nn.functional, name) for name in FUNCTIONS}


@case
def inplace_layers_in_a_network(T):
    """In-place activations between layers: outputs and parameter gradients as without ``inplace``."""
    nn = T.nn
    out = []
    for inplace in (False, True):
        model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(inplace), nn.Linear(5, 4), nn.Hardtanh(-0.3, 0.4, inplace),
                              nn.Linear(4, 4), nn.ELU(0.5, inplace), nn.Linear(4, 2)).double()
        for k, p in enumerate(model.parameters()):
            with T.no_grad():
                p.copy_(T.tensor(np.sin(np.arange(p.numel()) * (k + 1.0)).reshape(tuple(p.shape))))
        x = T.tensor(np.cos(np.arange(12.0)).reshape(4, 3), dtype=T.float64, requires_grad=True)
        y = model(x)
        weighted(T, y).backward()
        out.append((y, x.grad, [p.grad for p in model.parameters()]))
    return out
