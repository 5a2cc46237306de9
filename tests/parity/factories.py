"""Making tensors: ``tensor`` and its dtype inference, the filled and range factories, the random
factories (shapes, dtypes and ranges only), ``*_like``, ``from_numpy``/``as_tensor``, the default dtype."""

from __future__ import annotations

import numpy as np

from parity import case, raises


def _summary(t):
    """What two random tensors of the two libraries can share: shape and dtype."""
    return list(t.shape), t.dtype


def _with_default(T, dtype, make):
    """``make()`` run with ``dtype`` as the default dtype, which is always restored."""
    previous = T.get_default_dtype()
    T.set_default_dtype(dtype)
    try:
        return make()
    finally:
        T.set_default_dtype(previous)


# ---- tensor(...) and its dtype inference -----------------------------------------------------
@case
def tensor_ints_floats_bools(T):
    return T.tensor([1, 2]), T.tensor([1.5, 2.0]), T.tensor([True, False]), T.tensor([1, 2.5]), T.tensor([True, 2])


@case
def tensor_nested_and_tuples(T):
    return T.tensor([[1, 2], [3, 4]]), T.tensor(((1.0,), (2.0,))), T.tensor([[True], [False]])


@case
def tensor_scalars_are_0d(T):
    return T.tensor(3), T.tensor(2.5), T.tensor(True), T.tensor(-0.0)


@case
def tensor_empty_lists(T):
    return T.tensor([]), T.tensor([[]]), T.tensor([[], []]).dtype


@case
def tensor_numpy_arrays_keep_dtype(T):
    arrays = [np.arange(3, dtype=d) for d in (np.int8, np.uint8, np.int16, np.int32, np.int64, np.float16,
                                               np.float32, np.float64)]
    return [T.tensor(a) for a in arrays] + [T.tensor(np.array([True, False]))]


@case
def tensor_numpy_scalars_keep_dtype(T):
    return (T.tensor(np.float64(1.5)), T.tensor(np.int32(3)), T.tensor([np.float64(1.0), np.float64(2.0)]),
            T.tensor([np.int32(1), np.int32(2)]), T.tensor([np.int32(1), 2]), T.tensor([np.float32(1.0), 2]))


@case
def tensor_copies_numpy_and_tensor(T):
    a = np.array([1.0, 2.0])
    t = T.tensor(a)
    a[0] = 9.0
    return t, T.tensor(t), a


@case
def tensor_of_tensors_is_detached_copy(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = T.tensor(x.detach())
    return y, y.requires_grad, T.tensor([T.tensor(1.0), T.tensor(2.0)])


@case
def tensor_mixed_leaves_promote(T):
    return (T.tensor([True, 2.5]), T.tensor([[1, 2], [3.5, 4]]), T.tensor([np.int8(1), np.uint8(2)]),
            T.tensor([np.float16(1), 2]), T.tensor([np.array([1, 2]), np.array([3, 4])]), T.tensor(np.array(5)),
            T.tensor([[T.tensor(1)], [2]]), T.tensor([T.tensor([1.0])]))


@case
def tensor_dtype_argument(T):
    return (T.tensor([1.5, -1.5, 2.7], dtype=T.int64), T.tensor([1, 2], dtype=T.float64),
            T.tensor([0.0, 0.5], dtype=T.bool), T.tensor(np.arange(3), dtype=T.float32), T.tensor(1, dtype=float))


@case
def tensor_requires_grad(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    return x.requires_grad, x.is_leaf, x.grad


@case
def dtype_names(T):
    names = [T.float16, T.float32, T.float64, T.int32, T.int64, T.bool, T.half, T.float, T.double, T.int, T.long,
             T.uint8, T.int8, T.int16, T.short]
    return [*names, T.zeros(1, dtype=T.double).dtype == T.float64, T.tensor([1]).dtype == T.long]


@raises
def tensor_requires_grad_integer(T):
    T.tensor([1, 2], requires_grad=True)


@raises
def tensor_requires_grad_bool(T):
    T.tensor([True], requires_grad=True)


@raises
def tensor_ragged(T):
    T.tensor([[1, 2], [3]])


@raises
def tensor_of_string(T):
    T.tensor("1")


@raises
def tensor_of_string_array(T):
    T.tensor(np.array(["a"]))


@raises
def tensor_list_of_multi_element_tensors(T):
    T.tensor([T.tensor([1.0, 2.0]), T.tensor([3.0, 4.0])])


@raises
def tensor_dtype_as_string(T):
    T.tensor([1.0], dtype="float32")


@raises
def tensor_value_overflows_dtype(T):
    T.tensor([300], dtype=T.int8)


# ---- filled ---------------------------------------------------------------------------------------
@case
def zeros_sizes_and_dtypes(T):
    return (T.zeros(2, 3), T.zeros((2, 3)), T.zeros([4]), T.zeros(()), T.zeros(0, 2),
            T.zeros(2, dtype=T.int64), T.zeros(np.int64(2)), T.zeros(2, dtype=T.bool))


@case
def ones_sizes_and_dtypes(T):
    x = T.ones(2, 2, requires_grad=True)
    (x * 3.0).sum().backward()
    return T.ones(3), T.ones((1, 2), dtype=T.float64), T.ones(2, dtype=T.int32), x.grad


@case
def empty_shape_and_dtype(T):
    return _summary(T.empty(2, 3)), _summary(T.empty((4,), dtype=T.int64)), T.empty(2, requires_grad=True).requires_grad


@case
def full_infers_dtype_from_value(T):
    return (T.full((2,), 1), T.full((2,), True), T.full((2, 1), 1.5), T.full([2], np.float64(1.0)),
            T.full((2,), np.int32(3)), T.full((2,), 1.5, dtype=T.int64), T.full((), 2.0, dtype=T.float64))


@case
def eye_square_and_rectangular(T):
    return (T.eye(3), T.eye(2, 3), T.eye(3, 2, dtype=T.int64), T.eye(0), T.eye(2, 0), T.eye(1, dtype=T.float64),
            T.eye(2, dtype=T.bool))


@raises
def zeros_negative_size(T):
    T.zeros(2, -1)


@raises
def ones_float_size(T):
    T.ones(2.0)


@raises
def zeros_bool_size(T):
    T.zeros(True)


@raises
def empty_negative_size(T):
    T.empty(-2)


@raises
def full_size_must_be_sequence(T):
    T.full(2, 1.0)


@raises
def full_value_overflows_dtype(T):
    T.full((2,), 300, dtype=T.int8)


@raises
def zeros_requires_grad_integer(T):
    T.zeros(2, dtype=T.int64, requires_grad=True)


@raises
def eye_negative(T):
    T.eye(-1)


# ---- ranges -------------------------------------------------------------------------------------------
@case
def arange_integers_are_int64(T):
    return T.arange(5), T.arange(1, 4), T.arange(5, 0, -2), T.arange(0, 10, 3), T.arange(0), T.arange(1, 1)


@case
def arange_floats_use_default_dtype(T):
    return T.arange(0, 1, 0.25), T.arange(5.0), T.arange(0.5, 3), T.arange(1, 2.5, 0.5)


@case
def arange_length_rule(T):
    return [list(T.arange(0, 1, step).shape) for step in (0.1, 0.3, 0.25, 0.4, 1 / 3)] + [
        list(T.arange(-1, 1, 0.2).shape), list(T.arange(10, 0, -3).shape)]


@case
def arange_values_float64(T):
    return T.arange(0, 1, 0.1, dtype=T.float64), T.arange(-2, 2, 0.3, dtype=T.float64)


@case
def arange_dtype_argument(T):
    return (T.arange(3, dtype=T.float64), T.arange(0.5, 3, dtype=T.int64), T.arange(4, dtype=T.int32),
            T.arange(3, dtype=T.uint8), T.linspace(0, 4, 3, dtype=T.uint8))


@case
def linspace_values(T):
    return (T.linspace(0, 1, 5), T.linspace(-1, 1, 1), T.linspace(0, 1, 0), T.linspace(0, 10, 4, dtype=T.int64),
            T.linspace(0, 1, 7, dtype=T.float64), T.linspace(3, -2, 6, dtype=T.float64))


@case(rtol=1e-6, atol=1e-7)
def linspace_float32(T):
    return T.linspace(0, 1, 11), T.linspace(-3.5, 2.25, 9)


@raises
def arange_zero_step(T):
    T.arange(0, 1, 0)


@raises
def arange_step_sign(T):
    T.arange(0, 5, -1)


@raises
def arange_negative_end(T):
    T.arange(-3)


@raises
def arange_infinite(T):
    T.arange(float("inf"))


@raises
def arange_bool_dtype(T):
    T.arange(3, dtype=T.bool)


@raises
def linspace_bool_dtype(T):
    T.linspace(0, 1, 3, dtype=T.bool)


@raises
def linspace_negative_steps(T):
    T.linspace(0, 1, -1)


@raises
def linspace_float_steps(T):
    T.linspace(0, 1, 2.0)


# ---- random: shapes, dtypes and ranges, never the values ----------------------------------------------
@case
def rand_shape_dtype_range(T):
    x = T.rand(200, 3)
    return _summary(x), _summary(T.rand((2,), dtype=T.float64)), bool(x.min() >= 0), bool(x.max() < 1)


@case
def randn_shape_dtype_spread(T):
    x = T.randn(4000, dtype=T.float64)
    return _summary(x), _summary(T.randn(2, 3)), abs(x.mean().item()) < 0.15, 0.85 < (x * x).mean().item() < 1.15


@case
def randint_signature_forms(T):
    a, b, c = T.randint(5, (300,)), T.randint(2, 5, (300,)), T.randint(low=-3, high=0, size=(2, 4))
    d, e = T.randint(5, size=(2,)), T.randint(high=3, size=[3])
    ranges = [(int(t.min().item()), int(t.max().item())) for t in (a, b)]
    return [_summary(t) for t in (a, b, c, d, e)] + [ranges, bool(c.max() < 0), bool(c.min() >= -3)]


@case
def randint_dtype_argument(T):
    x = T.randint(0, 10, (50,), dtype=T.float32)
    return _summary(x), bool(x.min() >= 0), bool(x.max() < 10)


@case
def random_requires_grad(T):
    return T.rand(2, requires_grad=True).requires_grad, T.randn(2, requires_grad=True).requires_grad


@raises
def rand_integer_dtype(T):
    T.rand(2, dtype=T.int64)


@raises
def randn_integer_dtype(T):
    T.randn(2, dtype=T.int64)


@raises
def rand_negative_size(T):
    T.rand(-1)


@raises
def randint_size_must_be_sequence(T):
    T.randint(5, 3)


@raises
def randint_empty_range(T):
    T.randint(5, 2, (2,))


@raises
def randint_float_bound(T):
    T.randint(0.5, 5, (2,))


@raises
def randint_bool_out_of_range(T):
    T.randint(5, (2,), dtype=T.bool)


# ---- *_like -------------------------------------------------------------------------------------------
@case
def zeros_ones_like(T):
    i, f = T.tensor([[1, 2], [3, 4]]), T.tensor([1.0, 2.0], dtype=T.float64)
    return T.zeros_like(i), T.ones_like(f), T.zeros_like(i, dtype=T.float64), T.ones_like(f, dtype=T.int32)


@case
def full_like_keeps_input_dtype(T):
    i, f = T.tensor([1, 2]), T.tensor([1.0, 2.0])
    return T.full_like(i, 2.7), T.full_like(f, 3), T.full_like(f, 1.5, dtype=T.float64), T.full_like(i, True)


@case
def rand_randn_like(T):
    f = T.zeros(3, 2, dtype=T.float64)
    r = T.rand_like(f)
    return (_summary(r), _summary(T.randn_like(f)), _summary(T.rand_like(f, dtype=T.float32)),
            bool(r.min() >= 0), bool(r.max() < 1), T.randn_like(f, requires_grad=True).requires_grad)


@raises
def rand_like_integer(T):
    T.rand_like(T.tensor([1, 2]))


@raises
def randn_like_integer(T):
    T.randn_like(T.tensor([1, 2]))


@raises
def zeros_like_numpy_array(T):
    T.zeros_like(np.zeros(2))


@raises
def ones_like_requires_grad_integer(T):
    T.ones_like(T.tensor([1, 2]), requires_grad=True)


# ---- from_numpy, as_tensor ------------------------------------------------------------------------------
@case
def from_numpy_shares_memory_and_dtype(T):
    a = np.arange(4, dtype=np.int32)
    t = T.from_numpy(a)
    a[0] = 9
    h = T.from_numpy(np.zeros(2, dtype=np.float16))
    return t, h, T.from_numpy(np.array([True]))


@case
def as_tensor_shares_when_no_conversion(T):
    a = np.array([1.0, 2.0])
    same, converted = T.as_tensor(a), T.as_tensor(a, dtype=T.float32)
    a[0] = 5.0
    t = T.tensor([1.0])
    return (same, converted, T.as_tensor(t) is t, T.as_tensor([1, 2]), T.as_tensor([1.5]),
            T.as_tensor(3, dtype=T.float64))


@raises
def from_numpy_of_list(T):
    T.from_numpy([1, 2])


@raises
def from_numpy_of_strings(T):
    T.from_numpy(np.array(["a"]))


# ---- the default dtype ----------------------------------------------------------------------------------
@case
def default_dtype_is_float32(T):
    return T.get_default_dtype(), T.tensor([1.0]).dtype, T.zeros(1).dtype


@case
def set_default_dtype_float64(T):
    def make():
        return (T.get_default_dtype(), T.tensor([1.0, 2.5]), T.tensor([1, 2]), T.zeros(2), T.ones(1), T.full((1,), 1.5),
                T.arange(0.5, 2), T.linspace(0, 1, 3), T.eye(1), T.rand(2).dtype, T.randn(1).dtype, T.empty(1).dtype,
                T.tensor(np.float32(1.0)), T.tensor([]), T.Tensor([1.0, 2.0]).dtype)
    return _with_default(T, T.float64, make), T.get_default_dtype()


@case
def set_default_dtype_restores(T):
    _with_default(T, T.float64, lambda: None)
    return T.get_default_dtype(), T.tensor([0.5]).dtype


@raises
def set_default_dtype_integer(T):
    _with_default(T, T.int64, lambda: None)


@raises
def set_default_dtype_string(T):
    _with_default(T, "float64", lambda: None)


@raises
def set_default_dtype_python_float(T):
    _with_default(T, float, lambda: None)


# ---- devices: the CPU is the only one, and scripts that ask get PyTorch's CPU answers ----------
@case
def devices_on_a_machine_without_accelerators(T):
    cpu = T.device("cpu")
    x = T.ones(2).to(cpu)
    return (str(cpu), cpu.type, cpu.index, repr(T.device("cuda", 1)), str(T.device("cuda:1")),
            T.device("cuda:1") == T.device("cuda", 1), T.device("cpu") == T.device("cpu:0"), str(x.device),
            x.device == cpu, T.cuda.is_available(), T.cuda.device_count(), T.backends.mps.is_available(),
            T.accelerator.is_available(), T.accelerator.current_accelerator(), repr(T.device(T.device("cpu"))))


@raises
def device_unknown_type(T):
    return T.device("gpu")


@raises
def device_negative_index(T):
    return T.device("cuda", -1)


@raises
def device_index_twice(T):
    return T.device("cuda:0", 1)
