"""Gradient clipping and flattening parameters to one vector.

Examples:
    >>> from tinygrad_mnist import Tensor
    >>> w = Tensor([3.0, 4.0], requires_grad=True)
    >>> (w * 1.0).sum().backward()
    >>> w.grad = Tensor([3.0, 4.0])
    >>> float(clip_grad_norm_([w], max_norm=1.0))
    5.0
    >>> [round(float(v), 6) for v in w.grad.data]
    [0.6, 0.8]
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..core.inplace import mark_changed
from ..core.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _params(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so their joint ``norm_type`` norm is at most ``max_norm``; returns the norm."""
    grads = [p.grad.data for p in _params(parameters) if p.grad is not None]
    if not grads:
        return Tensor(np.array(0.0, dtype=np.float32))
    norm_type = float(norm_type)
    if norm_type == math.inf:
        norms = [np.max(np.abs(g)) if g.size else np.zeros((), g.dtype) for g in grads]
        total = np.max(np.stack(norms))
    else:
        norms = [np.sum(np.abs(g) ** norm_type) ** (1 / norm_type) for g in grads]
        total = np.sum(np.stack(norms) ** norm_type) ** (1 / norm_type)
    total = np.asarray(total, dtype=grads[0].dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} is {total}, not finite")
    coef = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    for g in grads:
        g *= coef
    return Tensor(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    for p in _params(parameters):
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenate the parameters, flattened, into one 1-D Tensor (a copy, without graph)."""
    params = _params(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return Tensor(np.concatenate([p.data.reshape(-1) for p in params]))


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: vec must be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    params = _params(parameters)
    total = sum(p.data.size for p in params)
    if vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} elements, the parameters hold {total}")
    offset = 0
    for p in params:
        n = p.data.size
        p.data[...] = vec.data[offset:offset + n].reshape(p.shape)
        offset += n
        mark_changed(p)
