"""Checkpoints: one ``.npz`` with model and optimizer arrays plus JSON metadata, no pickle.

Saving writes a temporary file beside the target and moves it into place with
``os.replace``, so an interrupted save never leaves a half-written checkpoint
under the final name. Loading checks the whole file before making any array: a
truncated file, a corrupted member (its CRC-32) and unsafe content (object arrays,
which would need pickle) are each named as such. The metadata is then checked
against its schema (`tinygrad_mnist.mnist.schema`), and when it holds an
``architecture`` (the one field that describes the model, for every command: see
`model_architecture`) the parameter shapes that architecture implies are compared
with the stored arrays' shapes, read from their headers, before any of them is loaded.

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
from ..serialization import NpzArchive, SerializationError, open_npz, write_npz
from .models import build_model, parameter_shapes, validate_architecture
from .schema import SchemaError, validate_metadata

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


def _json_object(archive: NpzArchive, key: str, source: Path) -> dict[str, Any]:
    if archive.shapes[key] != () or archive.dtypes[key].kind not in "US":
        raise CheckpointError(f"checkpoint {source}: {key} must be a JSON string, got an array of shape "
                              f"{archive.shapes[key]} and dtype {archive.dtypes[key]}")
    try:
        value = json.loads(str(archive.read(key)))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {source}: {key} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"checkpoint {source}: {key} must hold a JSON object, got {type(value).__name__}")
    return value


def _check_metadata(metadata: dict[str, Any], source: Path) -> None:
    try:
        validate_metadata(metadata)
    except SchemaError as exc:
        raise CheckpointError(f"checkpoint {source}: metadata {exc}") from None
    if "architecture" in metadata:
        architecture = model_architecture(metadata, source)
        _check_config(metadata.get("config"), architecture, source)


def _check_config(config: Any, architecture: dict[str, Any], source: Path) -> None:
    """The run settings that describe the model must agree with ``architecture`` (resuming builds from them)."""
    if not isinstance(config, dict):
        return
    implied = {"model": architecture["kind"], "hidden": architecture["hidden"],
               "activation": architecture["activation"], "dropout": architecture["dropout"]}
    if architecture["kind"] == "cnn":
        implied["channels"] = architecture["channels"]
    for name, value in implied.items():
        field = "kind" if name == "model" else name
        if name in config and config[name] != value:
            raise CheckpointError(f"checkpoint {source}: metadata fields disagree: config.{name} is "
                                  f"{config[name]!r} but architecture.{field} is {value!r} (the architecture "
                                  "describes the model)")


def model_architecture(metadata: dict[str, Any], source: str | Path = "") -> dict[str, Any]:
    """The model a checkpoint's metadata describes: its ``architecture`` field, checked and completed.

    This one field describes the model for every command: evaluating, predicting,
    plotting and resuming training build the same model from it.

    Raises:
        CheckpointError: no ``architecture`` field, or one that
            [`validate_architecture`][tinygrad_mnist.mnist.models.validate_architecture] refuses
            (the message names the field, the value and what was expected).

    Examples:
        >>> model_architecture({"architecture": {"kind": "mlp", "hidden": [64]}})["inputs"]
        784
        >>> try:
        ...     model_architecture({"architecture": {"kind": "mlp", "hidden": [0]}}, "run/best.npz")
        ... except CheckpointError as exc:
        ...     print(exc)
        checkpoint run/best.npz: metadata field architecture.hidden[0] is 0; expected an int from 1 to 65536
    """
    where = f"checkpoint {source}" if str(source) else "checkpoint"
    if "architecture" not in metadata:
        raise CheckpointError(f"{where}: no architecture in its metadata")
    try:
        return validate_architecture(metadata["architecture"])
    except SchemaError as exc:
        raise CheckpointError(f"{where}: metadata "
                              f"{exc if exc.field == 'architecture' else exc.within('architecture')}") from None


def _check_shapes(architecture: dict[str, Any], stored: dict[str, tuple[int, ...]], source: Path) -> None:
    """The shapes ``architecture`` implies against the stored ones, before any array is made."""
    implied = parameter_shapes(architecture)
    for name, shape in implied.items():
        if name not in stored:
            raise CheckpointError(f"checkpoint {source}: parameter {name} of shape {shape}, which its "
                                  "architecture implies, is missing")
        if stored[name] != shape:
            raise CheckpointError(f"checkpoint {source}: parameter {name} has shape {stored[name]}, but its "
                                  f"architecture implies {shape}")
    extra = sorted(set(stored) - set(implied))
    if extra:
        raise CheckpointError(f"checkpoint {source}: parameter {extra[0]} of shape {stored[extra[0]]} is not "
                              f"in the model its architecture describes ({len(extra)} such)")


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
        CheckpointError: the file is missing, empty, truncated, not an npz archive, holds a
            corrupted member, object arrays or pickles, lacks its metadata, has metadata that does
            not fit its schema (`tinygrad_mnist.mnist.schema`), or parameters whose shapes differ
            from those its architecture implies; the message says which.
    """
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(f"checkpoint {source}: file not found")
    try:
        archive = open_npz(source)
    except SerializationError as exc:
        raise CheckpointError(f"checkpoint {exc}") from None
    if _META not in archive.shapes:
        raise CheckpointError(f"checkpoint {source}: no {_META} entry; not written by save_checkpoint")
    metadata = _json_object(archive, _META, source)
    _check_metadata(metadata, source)
    shapes = {k[len(_MODEL):]: v for k, v in archive.shapes.items() if k.startswith(_MODEL)}
    for name in shapes:
        dtype = archive.dtypes[_MODEL + name]
        if dtype.kind != "f":
            raise CheckpointError(f"checkpoint {source}: parameter {name} has dtype {dtype}, expected float")
    if "architecture" in metadata:
        _check_shapes(model_architecture(metadata, source), shapes, source)
    arrays = {name: archive.read(name) for name in archive.shapes if name not in (_META, _OPTIM_META)}
    model_state = {k[len(_MODEL):]: v for k, v in arrays.items() if k.startswith(_MODEL)}
    optimizer_state = None
    if _OPTIM_META in archive.shapes:
        optimizer_state = _optimizer_state(_json_object(archive, _OPTIM_META, source), arrays, source)
    return Checkpoint(model_state, optimizer_state, metadata)


def _optimizer_state(optimizer_state: dict[str, Any], arrays: dict[str, np.ndarray],
                     source: Path) -> dict[str, Any]:
    try:
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
    except (AttributeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {source}: {_OPTIM_META} does not describe an optimizer's state "
                              f"({type(exc).__name__}: {exc})") from None
    return optimizer_state


def load_model(path: str | Path) -> tuple[Module, dict[str, Any]]:
    """The model a checkpoint describes: rebuilt from its architecture (`model_architecture`), weights
    loaded, with the metadata.

    Raises:
        CheckpointError: unreadable file, metadata that does not fit its schema, no usable architecture,
            or stored weights whose shapes differ from those the architecture implies.
    """
    source = Path(path)
    ckpt = load_checkpoint(source)
    model = build_model(model_architecture(ckpt.metadata, source))
    model.load_state_dict(ckpt.model_state)
    return model, ckpt.metadata
