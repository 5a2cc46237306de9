"""Checkpoint metadata against its schema, architecture shapes against the stored arrays, and messages
that say what is wrong with a damaged file (truncated, corrupted member, unsafe content)."""

from __future__ import annotations

import copy
import io
import json
import os
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinygrad_mnist as tm
from tinygrad_mnist import optim, random
from tinygrad_mnist.mnist import checkpoint
from tinygrad_mnist.mnist.checkpoint import CheckpointError, load_checkpoint, load_model, model_architecture
from tinygrad_mnist.mnist.models import (
    MAX_PARAMETERS,
    build_model,
    cnn_architecture,
    mlp_architecture,
    parameter_shapes,
    validate_architecture,
)
from tinygrad_mnist.mnist.schema import SchemaError
from tinygrad_mnist.mnist.training import RunState, TrainConfig, Trainer
from tinygrad_mnist.serialization import SerializationError, read_npz

ARCHITECTURE = mlp_architecture([5], inputs=6, classes=3)


def training_metadata() -> dict[str, Any]:
    """Metadata with every field a training checkpoint holds, for the model ``ARCHITECTURE`` describes."""
    model = build_model(ARCHITECTURE)
    scheduler = optim.CosineAnnealingLR(optim.Adam(model.parameters()), T_max=3)
    state = asdict(RunState(epoch=1, batch=2, step=9, best_val_accuracy=0.5,
                            history=[{"epoch": 1, "train_loss": 0.7, "train_accuracy": 0.6,
                                      "val_accuracy": float("nan"), "lr": 0.002, "seconds": 1.5}]))
    return {"format": "tinygrad_mnist.mnist.checkpoint/1", "architecture": dict(ARCHITECTURE),
            "config": asdict(TrainConfig(epochs=3, hidden=[5])), "state": state,
            "rng_state": random.get_rng_state(), "scheduler": scheduler.state_dict(), "blas_threads": 1}


def write_checkpoint(path: Path, metadata: dict[str, Any], architecture: dict[str, Any] = ARCHITECTURE) -> Path:
    """A checkpoint of a freshly built ``architecture`` (with an Adam state) and ``metadata`` as given."""
    model = build_model(architecture)
    checkpoint.save_checkpoint(path, model, optim.Adam(model.parameters()), metadata)
    return path


def with_field(dotted: str, value: Any) -> dict[str, Any]:
    """``training_metadata()`` with the field at ``dotted`` (``state.epoch``, ``architecture.hidden``) set."""
    metadata = copy.deepcopy(training_metadata())
    *parents, last = dotted.split(".")
    target = metadata
    for name in parents:
        target = target[name]
    target[last] = value
    return metadata


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "checkpoint.npz"


# ---- the schema ------------------------------------------------------------------------------


def test_a_training_checkpoint_loads_and_builds_its_model(path: Path) -> None:
    model = build_model(ARCHITECTURE)
    checkpoint.save_checkpoint(path, model, optim.Adam(model.parameters()), training_metadata())
    loaded, metadata = load_model(path)
    assert metadata["state"]["step"] == 9
    for (name, got), expected in zip(loaded.state_dict().items(), model.state_dict().values(), strict=True):
        np.testing.assert_array_equal(got, expected, err_msg=name)


WRONG_FIELDS = [
    ("state.epoch", "x", "a non-negative int"),
    ("state.step", -1, "a non-negative int"),
    ("state.batch", True, "a non-negative int"),
    ("state.best_val_accuracy", "high", "a finite number from -1.0 to 1.0 or NaN"),
    ("state.history", {"epoch": 1}, "a list of one record per completed epoch"),
    ("config.lr", 0.0, "a finite number above 0.0"),
    ("config.lr", "fast", "a finite number above 0.0"),
    ("config.epochs", 2.5, "a positive int"),
    ("config.batch_size", 0, "a positive int"),
    ("config.optimizer", "rmsprop", "one of ['adam', 'adamw', 'sgd']"),
    ("config.weight_decay", float("inf"), "a finite number at least 0.0"),
    ("config.seed", -3, "a non-negative int"),
    ("architecture.kind", "rnn", "one of ['cnn', 'mlp']"),
    ("architecture.activation", "gelu", "one of ['leaky_relu', 'relu', 'sigmoid', 'tanh']"),
    ("architecture.dropout", 1.5, "a finite number from 0.0 to 1.0"),
    ("architecture.hidden", "5", "a list of at most 64 ints"),
    ("architecture.inputs", None, "an int from 1 to 65536"),
    ("rng_state.bit_generator", "MT19937", "one of ['PCG64']"),
    ("rng_state.state.inc", -1, "an int from 0 to"),
    ("scheduler.T_max", "3", "a positive int"),
    ("format", "tinygrad_mnist.mnist.checkpoint/2", "one of ['tinygrad_mnist.mnist.checkpoint/1']"),
    ("blas_threads", 0, "a positive int"),
]


@pytest.mark.parametrize(("field", "value", "expected"), WRONG_FIELDS)
def test_a_field_of_the_wrong_type_or_range_is_named_with_its_value(
    field: str, value: Any, expected: str, path: Path
) -> None:
    write_checkpoint(path, with_field(field, value))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert message.startswith(f"checkpoint {path}: metadata field {field} is {value!r}")
    assert f"expected {expected}" in message


def test_a_history_record_of_the_wrong_type_is_named(path: Path) -> None:
    metadata = training_metadata()
    metadata["state"]["history"][0]["val_accuracy"] = "0.9"
    write_checkpoint(path, metadata)
    with pytest.raises(CheckpointError, match=r"field state\.history\[0\]\.val_accuracy is '0\.9' \(a str\)"):
        load_checkpoint(path)


def test_a_missing_state_field_is_named(path: Path) -> None:
    metadata = training_metadata()
    del metadata["state"]["step"]
    write_checkpoint(path, metadata)
    with pytest.raises(CheckpointError, match=r"field state\.step is None.*the field is missing"):
        load_checkpoint(path)


def test_an_unknown_architecture_field_is_named(path: Path) -> None:
    write_checkpoint(path, with_field("architecture.layers", 3))
    with pytest.raises(CheckpointError, match=r"unknown field architecture\.layers \(holding 3\); an MLP has"):
        load_checkpoint(path)


def test_resume_refuses_a_wrong_field_type_before_building_anything(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_checkpoint(path, with_field("state.epoch", "x"))
    monkeypatch.setattr(Trainer, "__init__", lambda *args, **kwargs: pytest.fail("a trainer was built"))
    with pytest.raises(CheckpointError, match=r"field state\.epoch is 'x' \(a str\); expected a non-negative int"):
        Trainer.resume(path)


def test_free_form_metadata_outside_the_schema_still_round_trips(path: Path) -> None:
    metadata = {"epoch": "x", "notes": [1, "two"], "lr": -1}  # top-level names of no schema
    write_checkpoint(path, metadata)
    assert load_checkpoint(path).metadata == metadata


# ---- the architecture against the stored arrays ----------------------------------------------


@pytest.mark.parametrize("architecture", [
    mlp_architecture([5], inputs=6, classes=3),
    mlp_architecture([7, 4, 3], activation="tanh", dropout=0.5),
    mlp_architecture([]),
    cnn_architecture(),
    cnn_architecture([4], [], kernel_size=5, dropout=0.25, normalize=None),
    cnn_architecture([2, 3, 2], [6, 6], image_size=28),
])
def test_parameter_shapes_are_those_of_the_built_model(architecture: dict[str, Any]) -> None:
    built = {name: array.shape for name, array in build_model(architecture).state_dict().items()}
    assert parameter_shapes(architecture) == built


def test_a_huge_architecture_is_refused_before_anything_is_allocated(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_checkpoint(path, with_field("architecture.hidden", [10**9]))
    monkeypatch.setattr(checkpoint, "build_model", lambda arch: pytest.fail("a model was built"))
    with pytest.raises(CheckpointError, match=r"field architecture\.hidden\[0\] is 1000000000; "
                                              r"expected an int from 1 to 65536"):
        load_model(path)


def test_widths_within_bounds_whose_parameters_add_up_to_too_many_are_refused() -> None:
    with pytest.raises(SchemaError, match=rf"at most {MAX_PARAMETERS} parameters; these make 4347133962"):
        validate_architecture(mlp_architecture([65536, 65536]))


@pytest.mark.parametrize(("stored", "described", "message"), [
    ([5], [7], r"parameter 0\.weight has shape \(5, 6\), but its architecture implies \(7, 6\)"),
    ([5], [5, 4], r"parameter 2\.weight has shape \(3, 5\), but its architecture implies \(4, 5\)"),
    ([5, 4], [5], r"parameter 2\.weight has shape \(4, 5\), but its architecture implies \(3, 5\)"),
    ([4], [], r"parameter 0\.weight has shape \(4, 6\), but its architecture implies \(3, 6\)"),
])
def test_stored_shapes_that_differ_from_the_architecture_are_named_before_any_model_is_built(
    stored: list[int], described: list[int], message: str, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata = with_field("architecture.hidden", described)
    metadata["config"]["hidden"] = described
    write_checkpoint(path, metadata, mlp_architecture(stored, inputs=6, classes=3))
    monkeypatch.setattr(checkpoint, "build_model", lambda arch: pytest.fail("a model was built"))
    with pytest.raises(CheckpointError, match=message):
        load_model(path)


def write_state(path: Path, state: dict[str, np.ndarray]) -> None:
    np.savez(path, **{f"model/{k}": v for k, v in state.items()},
             **{"metadata.json": np.array(json.dumps({"architecture": ARCHITECTURE}))})


def test_a_stored_parameter_the_architecture_lacks_is_named(path: Path) -> None:
    state = {name: tensor.data for name, tensor in build_model(ARCHITECTURE).state_dict().items()}
    write_state(path, {**state, "4.weight": np.zeros((2, 2), dtype=np.float32)})
    with pytest.raises(CheckpointError, match=r"parameter 4\.weight of shape \(2, 2\) is not in the model"):
        load_checkpoint(path)


def test_a_parameter_the_architecture_implies_but_the_file_lacks_is_named(path: Path) -> None:
    state = {name: tensor.data for name, tensor in build_model(ARCHITECTURE).state_dict().items()}
    del state["2.bias"]
    write_state(path, state)
    with pytest.raises(CheckpointError, match=r"parameter 2\.bias of shape \(3,\), which its architecture "
                                              r"implies, is missing"):
        load_checkpoint(path)


# ---- one field describes the model ------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "described"), [
    ("hidden", [7], "architecture.hidden is [5]"),
    ("model", "cnn", "architecture.kind is 'mlp'"),
    ("activation", "tanh", "architecture.activation is 'relu'"),
    ("dropout", 0.5, "architecture.dropout is 0.0"),
])
def test_a_config_that_describes_another_model_than_the_architecture_is_refused(
    field: str, value: Any, described: str, path: Path
) -> None:
    write_checkpoint(path, with_field(f"config.{field}", value))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert f"metadata fields disagree: config.{field} is {value!r} but {described}" in str(error.value)


def test_model_architecture_is_what_both_evaluate_and_resume_build(path: Path) -> None:
    metadata = training_metadata()
    write_checkpoint(path, metadata)
    architecture = model_architecture(load_checkpoint(path).metadata, path)
    assert architecture == validate_architecture(ARCHITECTURE)
    config = TrainConfig(**metadata["config"])
    assert {k: architecture[k] for k in ("hidden", "activation", "dropout")} == \
        {"hidden": config.hidden, "activation": config.activation, "dropout": config.dropout}


def test_model_architecture_without_one_is_a_checkpoint_error() -> None:
    with pytest.raises(CheckpointError, match=r"checkpoint run/best\.npz: no architecture in its metadata"):
        model_architecture({"config": {}}, "run/best.npz")


# ---- what is wrong with a damaged file --------------------------------------------------------


@pytest.fixture
def saved(path: Path) -> bytes:
    model = build_model(ARCHITECTURE)
    model.parameters()[0].data[...] = 0.5
    checkpoint.save_checkpoint(path, model, metadata=training_metadata())
    return path.read_bytes()


@pytest.mark.parametrize("keep", [1, 3, 30, 200, 0.5, -23, -1])
def test_a_truncated_checkpoint_is_reported_as_truncated(keep: float, saved: bytes, path: Path) -> None:
    size = int(len(saved) * keep) if isinstance(keep, float) else keep % len(saved)
    path.write_bytes(saved[:size])
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert f"{path}: not a readable .npz archive: the file is truncated ({size} bytes; the zip's end record is " \
           "missing)" in message
    assert "no zip signature" not in message


def test_an_empty_file_is_reported_as_empty(path: Path) -> None:
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="the file is empty"):
        load_checkpoint(path)


def member_position(data: bytes, member: str, content: bytes) -> int:
    """Where ``content`` first appears in the data of ``member`` (after its local zip header)."""
    header = data.index(member.encode() + b".npy")
    return data.index(content, header)


@pytest.mark.parametrize(("content", "offset"), [
    pytest.param(b"'descr': '<f4'", 10, id="npy-header"),  # '<' becomes '>': a valid header, other data
    pytest.param(b"'shape': (5, 6)", 10, id="npy-shape"),
    pytest.param(np.full(4, 0.5, dtype=np.float32).tobytes(), 2, id="array-data"),
])
@pytest.mark.parametrize("bit", [1, 6])
def test_a_flipped_bit_in_a_member_names_that_member_as_corrupted(
    content: bytes, offset: int, bit: int, saved: bytes, path: Path
) -> None:
    data = bytearray(saved)
    data[member_position(saved, "model/0.weight", content) + offset] ^= 1 << bit
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert f"{path}: not a readable .npz archive: member 'model/0.weight' is corrupted (its CRC-32 does not " \
           "match its data)" in message
    assert "unsafe" not in message


def test_a_flipped_bit_in_a_local_zip_header_names_the_member(saved: bytes, path: Path) -> None:
    data = bytearray(saved)
    data[saved.index(b"model/0.bias.npy") + 6] ^= 1  # its name in the local header: 'model/0' becomes 'model/1'
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"member 'model/0\.bias' has a damaged zip header"):
        load_checkpoint(path)


def test_a_damaged_end_record_is_told_from_a_truncated_file(saved: bytes, path: Path) -> None:
    data = bytearray(saved)
    data[saved.rindex(b"PK\x05\x06") + 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"the zip's end record is damaged \(the file is complete"):
        load_checkpoint(path)


def test_a_damaged_central_directory_entry_count_is_reported(saved: bytes, path: Path) -> None:
    data = bytearray(saved)
    data[saved.rindex(b"PK\x05\x06") + 10] ^= 1  # the end record's count of members
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="the zip's central directory is damaged"):
        load_checkpoint(path)


class MakesDirectoryWhenUnpickled:
    """Unpickling this runs ``os.mkdir(path)``: a harmless stand-in for code execution."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.path),)


def test_an_object_array_is_refused_as_unsafe_naming_the_member(path: Path, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    np.savez(path, **{"metadata.json": np.array("{}"),
                      "model/0.weight": np.array([MakesDirectoryWhenUnpickled(marker)], dtype=object)})
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert f"{path}: refused unsafe content: member 'model/0.weight' is an object array" in str(error.value)
    assert not marker.exists()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_member(shape: tuple[int, ...], data: bytes) -> bytes:
    """An .npy file whose header declares ``shape`` of float32, followed by ``data``."""
    header = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data


def test_a_header_declaring_more_data_than_the_member_holds_is_refused_before_allocating(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json.npy", npy_bytes(np.array("{}")))
        archive.writestr("model/0.weight.npy", npy_member((10**9, 784), bytes(16)))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert ("member 'model/0.weight' is damaged: its .npy header declares shape (1000000000, 784) of float32 "
            "(3136000000000 bytes) but it holds 16 bytes of data") in str(error.value)


def test_the_general_loader_reports_truncation_and_corruption_too(tmp_path: Path) -> None:
    path = tmp_path / "state.pt"
    tm.save({"w": tm.ones(100)}, path)
    data = path.read_bytes()
    path.write_bytes(data[:300])
    with pytest.raises(SerializationError, match=r"the file is truncated \(300 bytes"):
        tm.load(path)
    corrupted = bytearray(data)
    corrupted[member_position(data, "data/0", np.ones(4, dtype=np.float32).tobytes()) + 3] ^= 0x10
    path.write_bytes(bytes(corrupted))
    with pytest.raises(SerializationError, match="member 'data/0' is corrupted"):
        read_npz(path)


def test_metadata_that_is_not_a_string_is_refused(path: Path) -> None:
    np.savez(path, **{"metadata.json": np.zeros(3), "model/0.weight": np.zeros((2, 2), dtype=np.float32)})
    with pytest.raises(CheckpointError, match=r"metadata\.json must be a JSON string, got an array of shape \(3,\)"):
        load_checkpoint(path)


def test_an_optimizer_state_that_is_not_one_is_a_checkpoint_error(path: Path) -> None:
    np.savez(path, **{"metadata.json": np.array("{}"), "model/0.weight": np.zeros((2, 2), dtype=np.float32),
                      "optimizer.json": np.array(json.dumps({"state": {"first": {}}, "param_groups": []}))})
    with pytest.raises(CheckpointError, match=r"optimizer\.json does not describe an optimizer's state"):
        load_checkpoint(path)
