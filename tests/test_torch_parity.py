"""PyTorch names mean PyTorch semantics: every case of ``tests/parity`` run through both.

Each case is written once against a namespace (see :mod:`parity`); here it runs
with ``torch`` and with ``tinygrad_mnist`` and the results must agree: values
and gradients to tight float64 tolerances, dtypes and shapes exactly, and a
case marked ``@raises`` must raise in both. Without PyTorch installed the cases
are skipped with the reason (``pip install -e ".[compare]"`` brings it).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import parity
import tinygrad_mnist
import tinygrad_mnist.autograd
import tinygrad_mnist.func
import tinygrad_mnist.nn
import tinygrad_mnist.nn.functional
import tinygrad_mnist.optim

for _info in pkgutil.iter_modules(parity.__path__):
    importlib.import_module(f"parity.{_info.name}")


def plain(value: Any, torch: Any) -> Any:
    """Results as numpy arrays, Python numbers and plain containers, so that the two sides compare."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tinygrad_mnist.Tensor, np.ndarray, np.generic)) or (
            torch is not None and isinstance(value, torch.Tensor)):
        array = value.detach().numpy() if torch is not None and isinstance(value, torch.Tensor) else np.asarray(value)
        return np.array(array, copy=True)
    if isinstance(value, Mapping):
        return {k: plain(v, torch) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [plain(v, torch) for v in value]
    if hasattr(value, "itemsize") and hasattr(value, "is_floating_point"):  # a torch dtype
        return str(value).replace("torch.", "")
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    return value


def assert_same(ours: Any, theirs: Any, rtol: float, atol: float, where: str = "result") -> None:
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), f"{where}: expected an array, got {type(ours).__name__}"
        assert ours.shape == theirs.shape, f"{where}: shape {ours.shape}, PyTorch {theirs.shape}"
        assert ours.dtype == theirs.dtype, f"{where}: dtype {ours.dtype}, PyTorch {theirs.dtype}"
        if theirs.dtype.kind in "fc":
            np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=where)
        else:
            np.testing.assert_array_equal(ours, theirs, err_msg=where)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys(), f"{where}: keys {ours} vs {theirs}"
        for key in theirs:
            assert_same(ours[key], theirs[key], rtol, atol, f"{where}[{key!r}]")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), f"{where}: {ours!r} vs PyTorch {theirs!r}"
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(a, b, rtol, atol, f"{where}[{k}]")
    elif isinstance(theirs, float):
        assert ours == pytest.approx(theirs, rel=rtol, abs=atol), f"{where}: {ours!r} vs PyTorch {theirs!r}"
    else:
        assert ours == theirs, f"{where}: {ours!r} vs PyTorch {theirs!r}"


@pytest.mark.parametrize("registered", parity.CASES, ids=lambda r: r.name)
def test_same_as_pytorch(registered: parity.Registered) -> None:
    torch = pytest.importorskip("torch", reason='the differential oracle: pip install -e ".[compare]"')
    torch.set_default_dtype(torch.float32)
    if registered.must_raise:
        with pytest.raises(Exception):  # noqa: B017  (PyTorch's exception types differ; raising is the point)
            registered.fn(torch)
        with pytest.raises(Exception):  # noqa: B017
            registered.fn(tinygrad_mnist)
        return
    theirs = plain(registered.fn(torch), torch)
    ours = plain(registered.fn(tinygrad_mnist), torch)
    assert_same(ours, theirs, registered.rtol, registered.atol)


def test_every_case_module_registers_cases() -> None:
    modules = {info.name for info in pkgutil.iter_modules(parity.__path__)}
    covered = {r.fn.__module__.rsplit(".", 1)[-1] for r in parity.CASES}
    assert modules <= covered, f"case modules without a case: {sorted(modules - covered)}"


def test_plain_and_assert_same_can_fail() -> None:
    """The comparison itself: a value, a dtype and a shape that differ are each caught."""
    a = np.array([1.0, 2.0])
    with pytest.raises(AssertionError):
        assert_same(plain(a + 1e-6, None), plain(a, None), 1e-10, 1e-12)
    with pytest.raises(AssertionError):
        assert_same(plain(a.astype(np.float32), None), plain(a, None), 1e-10, 1e-12)
    with pytest.raises(AssertionError):
        assert_same(plain(a[:1], None), plain(a, None), 1e-10, 1e-12)
    assert_same(plain((a, {"x": 1.0}), None), plain([a.copy(), {"x": 1.0}], None), 1e-10, 1e-12)

