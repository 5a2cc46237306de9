"""Checkpoints: round trips, atomic saves, and refusal of unsafe, corrupt or mismatched files."""

from __future__ import annotations

import io
import os
import pickle
import stat
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from tinygrad_mnist import optim
from tinygrad_mnist.mnist import checkpoint
from tinygrad_mnist.mnist.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tinygrad_mnist.mnist.models import build_model, mlp_architecture
from tinygrad_mnist.nn import functional as F
from tinygrad_mnist.nn.module import Module, StateDictError
from tinygrad_mnist.random import manual_seed
from tinygrad_mnist.core.tensor import Tensor

OPTIMIZERS: dict[str, Callable[[list[Any]], optim.Optimizer]] = {
    "sgd-momentum": lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adam": lambda params: optim.Adam(params, lr=0.01, betas=(0.8, 0.99), eps=1e-7),
    "adamw": lambda params: optim.AdamW(params, lr=0.01, weight_decay=0.05),
}
METADATA = {"epoch": 3, "name": "run-\u03b1", "history": [{"loss": 0.25, "acc": 0.5}], "best": None,
            "done": True, "lr": 0.1, "big": 2**70, "nested": {"list": [1, [2, 3]]}}


def small_mlp(hidden: list[int] | None = None, classes: int = 3, seed: int = 0) -> Module:
    manual_seed(seed)
    return build_model(mlp_architecture(hidden or [5], inputs=6, classes=classes))


def train_steps(model: Module, optimizer: optim.Optimizer, steps: int = 2, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = Tensor(rng.random((4, 6), dtype=np.float32))
        loss = F.cross_entropy(model(x), rng.integers(0, 3, size=4))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    """An npz written directly with numpy (object arrays are pickled, numpy's default when saving)."""
    np.savez(path, **arrays)
    return path


class MakesDirectoryWhenUnpickled:
    """Unpickling this runs ``os.mkdir(path)``: a harmless stand-in for code execution."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.path),)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "model.npz"


@pytest.fixture
def model() -> Module:
    return small_mlp()


@pytest.fixture
def saved(path: Path, model: Module) -> Path:
    """A checkpoint of ``model`` (with an Adam state) at ``path``."""
    optimizer = optim.Adam(model.parameters())
    train_steps(model, optimizer)
    save_checkpoint(path, model, optimizer, METADATA)
    return path


# ---- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_round_trip_restores_model_optimizer_and_metadata(kind: str, path: Path, model: Module) -> None:
    optimizer = OPTIMIZERS[kind](model.parameters())
    train_steps(model, optimizer)
    save_checkpoint(path, model, optimizer, METADATA)

    ckpt = load_checkpoint(path)
    expected_model = model.state_dict()
    assert sorted(ckpt.model_state) == sorted(expected_model)
    for name, array in expected_model.items():
        assert ckpt.model_state[name].dtype == array.dtype
        np.testing.assert_array_equal(ckpt.model_state[name], array)
    expected_optimizer = optimizer.state_dict()
    assert ckpt.optimizer_state is not None
    assert ckpt.optimizer_state["param_groups"] == expected_optimizer["param_groups"]  # betas come back as a tuple
    assert sorted(ckpt.optimizer_state["state"]) == sorted(expected_optimizer["state"])
    assert ckpt.optimizer_state["state"]  # momentum / moment buffers were saved
    for index, entry in expected_optimizer["state"].items():
        assert sorted(ckpt.optimizer_state["state"][index]) == sorted(entry)
        for key, value in entry.items():
            np.testing.assert_array_equal(ckpt.optimizer_state["state"][index][key], value)
    assert ckpt.metadata == METADATA


def test_adam_betas_come_back_as_a_tuple(saved: Path) -> None:
    hyper = load_checkpoint(saved).optimizer_state["param_groups"][0]
    assert hyper["betas"] == (0.9, 0.999) and isinstance(hyper["betas"], tuple)


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_restored_training_continues_exactly(kind: str, path: Path, model: Module) -> None:
    optimizer = OPTIMIZERS[kind](model.parameters())
    train_steps(model, optimizer, seed=1)
    save_checkpoint(path, model, optimizer)

    restored = small_mlp(seed=99)  # different initial weights, overwritten by the checkpoint
    restored_optimizer = OPTIMIZERS[kind](restored.parameters())
    ckpt = load_checkpoint(path)
    restored.load_state_dict(ckpt.model_state)
    restored_optimizer.load_state_dict(ckpt.optimizer_state)

    train_steps(model, optimizer, steps=3, seed=2)
    train_steps(restored, restored_optimizer, steps=3, seed=2)
    for (name, got), expected in zip(restored.state_dict().items(), model.state_dict().values()):
        assert np.array_equal(got, expected), name


def test_checkpoint_without_optimizer_has_no_optimizer_state(path: Path, model: Module) -> None:
    save_checkpoint(path, model)
    ckpt = load_checkpoint(path)
    assert ckpt.optimizer_state is None
    assert ckpt.metadata == {}
    assert sorted(ckpt.model_state) == sorted(model.state_dict())


def test_saved_file_is_a_plain_npz_without_pickles(saved: Path) -> None:
    with np.load(saved, allow_pickle=False) as archive:
        names = archive.files
        assert all(archive[name].dtype != object for name in names)
    assert "metadata.json" in names
    assert any(n.startswith("model/") for n in names) and any(n.startswith("optim/") for n in names)


def test_metadata_key_named_optimizer_round_trips(path: Path, model: Module) -> None:
    save_checkpoint(path, model, metadata={"optimizer": "sgd"})
    assert load_checkpoint(path).metadata == {"optimizer": "sgd"}


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_saved_file_has_the_permissions_of_a_normally_created_file(umask_022: None, path: Path, model: Module) -> None:
    save_checkpoint(path, model)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# ---- atomic saves ----------------------------------------------------------------------------


def savez_failing_midway(error: BaseException) -> Callable[..., None]:
    """A stand-in for ``np.savez`` that writes half of the real archive, then raises ``error``."""
    real_savez = np.savez

    def savez(file: Any, *args: Any, **kwds: Any) -> None:
        buffer = io.BytesIO()
        real_savez(buffer, *args, **kwds)
        file.write(buffer.getvalue()[:len(buffer.getvalue()) // 2])
        raise error

    return savez


ERRORS = [pytest.param(OSError(28, "No space left on device"), id="disk-full"),
          pytest.param(KeyboardInterrupt(), id="ctrl-c")]


@pytest.mark.parametrize("error", ERRORS)
def test_failed_save_keeps_the_previous_checkpoint_and_leaves_no_temporary_file(
    error: BaseException, saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = saved.read_bytes()
    monkeypatch.setattr(checkpoint.np, "savez", savez_failing_midway(error))
    with pytest.raises(type(error)):
        save_checkpoint(saved, small_mlp(seed=7), metadata={"epoch": 4})
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]
    assert load_checkpoint(saved).metadata == METADATA


@pytest.mark.parametrize("error", ERRORS)
def test_failed_first_save_leaves_nothing(
    error: BaseException, path: Path, model: Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint.np, "savez", savez_failing_midway(error))
    with pytest.raises(type(error)):
        save_checkpoint(path, model)
    assert list(path.parent.iterdir()) == []


def test_save_replaces_an_existing_checkpoint(saved: Path) -> None:
    model = small_mlp(seed=8)
    save_checkpoint(saved, model, metadata={"epoch": 9})
    ckpt = load_checkpoint(saved)
    assert ckpt.metadata == {"epoch": 9} and ckpt.optimizer_state is None
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(ckpt.model_state[name], array)
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


# ---- metadata that cannot be saved -----------------------------------------------------------


def circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


@pytest.mark.parametrize("metadata", [
    pytest.param({"classes": {1, 2}}, id="set"),
    pytest.param({"thing": object()}, id="object"),
    pytest.param({"weights": np.zeros(2)}, id="ndarray"),
    pytest.param({"lr": np.float32(0.1)}, id="float32"),
    pytest.param({"raw": b"bytes"}, id="bytes"),
    pytest.param(circular(), id="circular"),
])
def test_metadata_that_is_not_json_serialisable_is_refused(
    metadata: dict[str, Any], path: Path, model: Module
) -> None:
    with pytest.raises(CheckpointError, match="JSON"):
        save_checkpoint(path, model, metadata=metadata)
    assert list(path.parent.iterdir()) == []


# ---- files that load_checkpoint refuses ------------------------------------------------------

FLOAT_WEIGHT = np.zeros((2, 2), dtype=np.float32)
EMPTY_METADATA = np.array("{}")


@pytest.mark.parametrize("entry", ["model/0.weight", "optim/exp_avg.0", "metadata.json"])
def test_object_arrays_are_refused_and_never_unpickled(entry: str, path: Path, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    arrays = {"model/0.weight": FLOAT_WEIGHT, "metadata.json": EMPTY_METADATA}
    arrays[entry] = np.array([MakesDirectoryWhenUnpickled(marker)], dtype=object)
    write_npz(path, **arrays)
    with pytest.raises(CheckpointError, match="unsafe"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_raw_pickle_is_refused_and_never_unpickled(path: Path, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    path.write_bytes(pickle.dumps({"model/0.weight": MakesDirectoryWhenUnpickled(marker)}))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_file_without_metadata_is_refused(path: Path) -> None:
    write_npz(path, **{"model/0.weight": FLOAT_WEIGHT})
    with pytest.raises(CheckpointError, match="metadata"):
        load_checkpoint(path)


def test_metadata_that_is_not_json_is_refused(path: Path) -> None:
    write_npz(path, **{"model/0.weight": FLOAT_WEIGHT, "metadata.json": np.array("{epoch: 1")})
    with pytest.raises(CheckpointError, match="JSON"):
        load_checkpoint(path)


def test_metadata_that_is_not_a_json_object_is_refused(path: Path) -> None:
    write_npz(path, **{"model/0.weight": FLOAT_WEIGHT, "metadata.json": np.array("5")})
    with pytest.raises(CheckpointError, match="metadata"):
        load_checkpoint(path)


@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool", "complex64", "<U3"])
def test_non_float_parameters_are_refused(dtype: str, path: Path) -> None:
    write_npz(path, **{"model/0.weight": np.zeros((2, 2), dtype=dtype), "metadata.json": EMPTY_METADATA})
    with pytest.raises(CheckpointError, match="0.weight.*dtype"):
        load_checkpoint(path)


def malformed_npy_header(path: Path) -> None:
    """A zip holding an .npy member whose header has an unclosed parenthesis."""
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, }"
    header += b" " * (63 - len(header) % 64) + b"\n"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)


def unsupported_zip_version(path: Path) -> None:
    """A real checkpoint whose zip directory asks for a zip version newer than Python reads."""
    save_checkpoint(path, small_mlp())
    data = bytearray(path.read_bytes())
    data[data.index(b"PK\x01\x02") + 6] = 118  # "version needed to extract": 11.8
    path.write_bytes(bytes(data))


def truncated(path: Path) -> None:
    save_checkpoint(path, small_mlp())
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def corrupted_data(path: Path) -> None:
    """A real checkpoint with one byte of array data flipped (the zip CRC no longer matches)."""
    model = small_mlp()
    model.parameters()[0].data[...] = 0.5
    save_checkpoint(path, model)
    data = bytearray(path.read_bytes())
    position = data.index(np.full(4, 0.5, dtype=np.float32).tobytes())
    data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def npy_instead_of_npz(path: Path) -> None:
    with open(path, "wb") as out:
        np.save(out, FLOAT_WEIGHT)


CORRUPT_FILES: list[Any] = [
    pytest.param(lambda path: None, "not found", id="missing"),
    pytest.param(lambda path: path.mkdir(), "not found", id="directory"),
    pytest.param(lambda path: path.write_bytes(b""), "not a readable", id="empty"),
    pytest.param(lambda path: path.write_bytes(np.random.default_rng(0).bytes(2000)), None, id="random-bytes"),
    pytest.param(lambda path: path.write_bytes(b"PK\x03\x04" + bytes(100)), "not a readable", id="zip-signature-only"),
    pytest.param(truncated, "not a readable", id="truncated"),
    pytest.param(corrupted_data, "not a readable", id="flipped-byte"),
    pytest.param(malformed_npy_header, None, id="malformed-npy-header"),
    pytest.param(unsupported_zip_version, None, id="unsupported-zip-version"),
    pytest.param(npy_instead_of_npz, None, id="npy-not-npz"),
]


@pytest.mark.parametrize(("make", "message"), CORRUPT_FILES)
def test_missing_or_corrupt_files_raise_checkpoint_error(
    make: Callable[[Path], Any], message: str | None, path: Path
) -> None:
    make(path)
    with pytest.raises(CheckpointError, match=message) as error:
        load_checkpoint(path)
    assert str(path) in str(error.value)


# ---- loading into a model that does not fit -------------------------------------------------


def test_wrongly_shaped_parameters_raise_state_dict_error_and_change_nothing(saved: Path) -> None:
    other = small_mlp(classes=4, seed=5)  # same first layer, a wider last layer
    before = other.state_dict()
    with pytest.raises(StateDictError, match="shape"):
        other.load_state_dict(load_checkpoint(saved).model_state)
    for name, array in other.state_dict().items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)


def test_parameters_for_another_depth_raise_state_dict_error(saved: Path) -> None:
    deeper = small_mlp(hidden=[5, 5])
    with pytest.raises(StateDictError, match="missing keys"):
        deeper.load_state_dict(load_checkpoint(saved).model_state)


def test_optimizer_buffers_of_the_wrong_shape_are_refused(saved: Path) -> None:
    other = small_mlp(classes=4)
    with pytest.raises(ValueError, match="shape"):
        optim.Adam(other.parameters()).load_state_dict(load_checkpoint(saved).optimizer_state)
