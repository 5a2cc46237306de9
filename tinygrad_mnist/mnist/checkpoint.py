"""Checkpoints: one ``.npz`` with model and optimizer arrays plus JSON metadata, no pickle.

Saving writes a temporary file beside the target and moves it into place with
``os.replace``, so an interrupted save never leaves a half-written checkpoint
under the final name. Loading uses ``allow_pickle=False`` and refuses object
arrays.

Examples:
    >>> import tempfile, os
    >>> from tinygrad_mnist import nn
    >>> model = nn.Linear(3, 2)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> save_checkpoint(path, model, metadata={"epoch": 1})
    >>> ckpt = load_checkpoint(path)
    >>> ckpt.metadata["epoch"], sorted(ckpt.model_state)
    (1, ['bias', 'weight'])
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..nn.module import Module
from ..optim import Optimizer
from ..serialization import SerializationError, read_npz, write_npz
from .models import build_model

_MODEL, _OPTIM, _META, _OPTIM_META = "model/", "optim/", "metadata.json", "optimizer.json"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, unsafe or does not fit the model."""


@dataclass
class Checkpoint:
    model_state: dict[str, np.ndarray]
    optimizer_state: dict[str, Any] | None
    metadata: dict[str, Any] = field(default_factory=dict)


def _json_entry(value: dict[str, Any], what: str) -> np.ndarray:
    try:
        return np.array(json.dumps(value))
    except (TypeError, ValueError) as exc:  # unknown types, circular references
        raise CheckpointError(f"save_checkpoint: {what} is not JSON-serialisable: {exc}") from None


def _json_object(arrays: dict[str, np.ndarray], key: str, source: Path) -> dict[str, Any]:
    try:
        value = json.loads(str(arrays.pop(key)))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {source}: {key} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"checkpoint {source}: {key} must hold a JSON object, got {type(value).__name__}")
    return value


def save_checkpoint(
    path: str | Path,
    model: Module,
    optimizer: Optimizer | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Write model (and optimizer) arrays and ``metadata`` (JSON-serialisable) to ``path`` atomically."""
    target = Path(path)
    arrays = {_MODEL + name: tensor.data for name, tensor in model.state_dict().items()}
    arrays[_META] = _json_entry(metadata or {}, "metadata")
    if optimizer is not None:
        state = optimizer.state_dict()
        # per-parameter arrays go to "optim/<index>/<name>", everything else to JSON
        arrays.update({f"{_OPTIM}{i}/{k}": v.data for i, s in state["state"].items() for k, v in s.items()
                       if isinstance(v, Tensor)})
        scalars = {str(i): {k: v for k, v in s.items() if not isinstance(v, Tensor)}
                   for i, s in state["state"].items()}
        arrays[_OPTIM_META] = _json_entry({"state": scalars, "param_groups": state["param_groups"]},
                                          "optimizer state")
    write_npz(target, arrays)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`.

    Raises:
        CheckpointError: the file is missing, not an npz archive, holds object
            arrays or pickles, or lacks its metadata.
    """
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(f"checkpoint {source}: file not found")
    try:
        arrays = read_npz(source)
    except SerializationError as exc:
        raise CheckpointError(f"checkpoint {exc}") from None
    if _META not in arrays:
        raise CheckpointError(f"checkpoint {source}: no {_META} entry; not written by save_checkpoint")
    metadata = _json_object(arrays, _META, source)
    model_state = {k[len(_MODEL):]: v for k, v in arrays.items() if k.startswith(_MODEL)}
    for name, array in model_state.items():
        if array.dtype.kind != "f":
            raise CheckpointError(f"checkpoint {source}: parameter {name} has dtype {array.dtype}, expected float")
    optimizer_state = None
    if _OPTIM_META in arrays:
        optimizer_state = _json_object(arrays, _OPTIM_META, source)
        entries = {k[len(_OPTIM):]: v for k, v in arrays.items() if k.startswith(_OPTIM)}
        if "hyper" in optimizer_state:  # earlier format: "optim/<name>.<index>" buffers
            optimizer_state["buffers"] = entries
            if isinstance(optimizer_state["hyper"].get("betas"), list):
                optimizer_state["hyper"]["betas"] = tuple(optimizer_state["hyper"]["betas"])
        else:
            per_param = {int(i): dict(s) for i, s in optimizer_state.get("state", {}).items()}
            for key, array in entries.items():
                index, _, name = key.partition("/")
                per_param.setdefault(int(index), {})[name] = array
            optimizer_state["state"] = per_param
            for group in optimizer_state.get("param_groups", []):
                if isinstance(group.get("betas"), list):
                    group["betas"] = tuple(group["betas"])
    return Checkpoint(model_state, optimizer_state, metadata)


def load_model(path: str | Path) -> tuple[Module, dict[str, Any]]:
    """The model a checkpoint describes: rebuilt from its architecture, weights loaded, with the metadata.

    Raises:
        CheckpointError: unreadable file, or no usable architecture in its metadata.
        StateDictError: weights that do not fit the architecture.
    """
    ckpt = load_checkpoint(path)
    if "architecture" not in ckpt.metadata:
        raise CheckpointError(f"checkpoint {path}: no architecture in its metadata")
    try:
        model = build_model(ckpt.metadata["architecture"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: bad architecture ({exc})") from None
    model.load_state_dict(ckpt.model_state)
    return model, ckpt.metadata
