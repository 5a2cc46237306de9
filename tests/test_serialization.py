"""``tinygrad_mnist.save`` / ``load``: round trips of nested objects, training state, refusals and bad files."""

from __future__ import annotations

import io
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor, nn, optim
from tinygrad_mnist.serialization import SerializationError


def round_trip(obj, tmp_path: Path):
    path = tmp_path / "obj.pt"
    tm.save(obj, path)
    return tm.load(path)


# ---- round trips ---------------------------------------------------------------------------------
def test_nested_plain_values_come_back_with_their_types(tmp_path):
    obj = {"a": [1, 2.5, True, None, "s", -(2**70)], "t": (1, (2.0, "x"), []), 3: {"nested": {}},
           (1, "k"): False, 2.5: float("inf"), None: [float("-inf")], True: "bool key",
           "od": OrderedDict([("z", 1), ("a", 2)])}
    back = round_trip(obj, tmp_path)
    assert back == obj
    assert type(back["t"]) is tuple and type(back["t"][1]) is tuple and type(back["od"]) is OrderedDict
    assert list(back["od"]) == ["z", "a"] and list(back) == list(obj)
    assert type(back[(1, "k")]) is bool and type(back["a"][0]) is int and type(back["a"][2]) is bool
    assert np.isnan(round_trip([float("nan")], tmp_path)[0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8,
                                   np.bool_, np.complex128])
def test_arrays_and_numpy_scalars_keep_dtype_shape_and_values(dtype, tmp_path):
    array = (np.arange(24).reshape(2, 3, 4) % 3).astype(dtype)
    back = round_trip({"a": array, "f": np.asfortranarray(array), "v": array[:, ::2], "0d": array[0, 0, 1],
                       "empty": np.zeros((0, 3), dtype)}, tmp_path)
    for key, value in (("a", array), ("f", array), ("v", array[:, ::2]), ("empty", np.zeros((0, 3), dtype))):
        assert type(back[key]) is np.ndarray and back[key].dtype == dtype
        np.testing.assert_array_equal(back[key], value)
    assert isinstance(back["0d"], np.generic) and back["0d"].dtype == dtype and back["0d"] == array[0, 0, 1]


@pytest.mark.parametrize("dtype", [tm.float32, tm.float64, tm.int64, tm.bool, tm.uint8, tm.float16])
def test_tensors_keep_dtype_shape_and_values(dtype, tmp_path):
    t = Tensor((np.arange(6).reshape(2, 3) % 2).astype(dtype))
    back = round_trip([t, Tensor(np.array(3, dtype=dtype))], tmp_path)
    assert type(back[0]) is Tensor and back[0].dtype == dtype and back[0].shape == (2, 3)
    np.testing.assert_array_equal(back[0].data, t.data)
    assert back[1].shape == () and back[1].dtype == dtype


def test_requires_grad_and_parameters_come_back_as_torch_has_them(tmp_path):
    """Parameters load as Parameters; requires_grad is kept, as a leaf; gradients are not saved."""
    leaf = Tensor([1.0, 2.0], requires_grad=True)
    (leaf * 2).sum().backward()
    obj = {"leaf": leaf, "made": leaf * 3, "plain": Tensor([1.0]), "p": nn.Parameter(tm.ones(2)),
           "frozen": nn.Parameter(tm.ones(2), requires_grad=False)}
    back = round_trip(obj, tmp_path)
    assert back["leaf"].requires_grad and back["leaf"].grad is None and back["leaf"].is_leaf
    assert back["made"].requires_grad and back["made"].is_leaf
    np.testing.assert_array_equal(back["made"].data, [3.0, 6.0])
    assert not back["plain"].requires_grad and type(back["plain"]) is Tensor
    assert type(back["p"]) is nn.Parameter and back["p"].requires_grad
    assert type(back["frozen"]) is nn.Parameter and not back["frozen"].requires_grad


def test_a_tensor_saved_twice_loads_as_one_object(tmp_path):
    t, a = tm.ones(3), np.zeros(2)
    back = round_trip({"x": t, "y": [t, a], "z": a}, tmp_path)
    assert back["x"] is back["y"][0] and back["z"] is back["y"][1]
    assert back["x"] is not t


def test_loaded_tensors_do_not_share_memory_with_the_saved_ones(tmp_path):
    t = tm.ones(3)
    back = round_trip(t, tmp_path)
    t.data[0] = 5.0
    assert back.data[0] == 1.0


def test_model_state_dict_round_trip(tmp_path):
    tm.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).double()
    tm.save(model.state_dict(), tmp_path / "model.pt")
    tm.manual_seed(1)
    other = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).double()
    other.load_state_dict(tm.load(tmp_path / "model.pt"))
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items(), strict=True):
        assert a.dtype == b.dtype == np.float64, name
        np.testing.assert_array_equal(a, b)


def _train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x, y = tm.tensor(rng.normal(size=(8, 4)).astype(np.float32)), tm.tensor(rng.integers(0, 3, 8))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def _model_and_adam(seed):
    tm.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    return model, optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.95), weight_decay=1e-3, amsgrad=True)


def test_training_continues_bit_identically_after_save_and_load(tmp_path):
    model, opt = _model_and_adam(0)
    _train(model, opt, 3, seed=10)
    tm.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    _train(model, opt, 4, seed=11)  # the uninterrupted run

    state = tm.load(tmp_path / "ckpt.pt")
    assert list(state["optimizer"]["state"]) == [0, 1, 2, 3]  # int keys stay ints
    assert state["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.95)
    resumed, resumed_opt = _model_and_adam(99)
    resumed.load_state_dict(state["model"])
    resumed_opt.load_state_dict(state["optimizer"])
    _train(resumed, resumed_opt, 4, seed=11)
    for a, b in zip(model.parameters(), resumed.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


# ---- files and file objects -----------------------------------------------------------------------
def test_a_path_is_written_exactly_at_its_name_without_a_temporary_left(tmp_path):
    for name in ("model.pt", "weights", "x.npz"):
        tm.save({"w": tm.ones(2)}, tmp_path / name)
        tm.save([1], str(tmp_path / name))  # str paths too, replacing the file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "weights", "x.npz"]


def test_binary_file_objects(tmp_path):
    buffer = io.BytesIO()
    tm.save({"w": tm.ones(2)}, buffer)
    buffer.seek(0)
    assert tm.load(buffer)["w"].data.tolist() == [1.0, 1.0]
    with open(tmp_path / "f.bin", "wb") as out:
        tm.save((1, 2), out)
    with open(tmp_path / "f.bin", "rb") as source:
        assert tm.load(source) == (1, 2)


def test_the_file_is_a_plain_npz_without_pickles(tmp_path):
    tm.save({"w": tm.ones(2), "s": "text"}, tmp_path / "f")
    with np.load(tmp_path / "f", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["data/0", "object.json"]


def test_a_failed_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "f.pt"
    tm.save({"ok": 1}, path)
    with pytest.raises(TypeError):
        tm.save({"bad": object()}, path)
    assert tm.load(path) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["f.pt"]


# ---- refusals -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("obj", "where", "advice"), [
    (nn.Linear(2, 2), "obj is a tinygrad_mnist.nn.layers.Linear", "state_dict()"),
    ({"model": nn.Linear(2, 2)}, r"obj\['model'\] is", "state_dict()"),
    ({"opt": optim.SGD([nn.Parameter(tm.ones(1))], lr=0.1)}, r"obj\['opt'\] is .*SGD", "state_dict()"),
    ({"state": {0: [1, len]}}, r"obj\['state'\]\[0\]\[1\] is a builtins.builtin_function_or_method", "expected"),
    ([lambda: 1], r"obj\[0\] is a builtins.function", "expected"),
    ({"s": {1, 2}}, r"obj\['s'\] is a builtins.set", "expected"),
    ({"a": np.array([object()])}, r"obj\['a'\] has dtype object", "expected bool"),
    ({"a": np.array(["text"])}, r"obj\['a'\] has dtype <U4", "expected bool"),
    ({object(): 1}, r"obj has a key <object object", "keys must be"),
])
def test_what_cannot_be_saved_is_refused_naming_where_it_is(obj, where, advice, tmp_path):
    with pytest.raises(TypeError, match=where) as error:
        tm.save(obj, tmp_path / "f")
    assert advice in str(error.value)
    assert not (tmp_path / "f").exists()


def test_a_structure_that_contains_itself_is_refused(tmp_path):
    loop: list = [1]
    loop.append({"back": loop})
    with pytest.raises(ValueError, match=r"obj\[1\]\['back'\] contains itself"):
        tm.save(loop, tmp_path / "f")


def test_f_of_another_type_is_refused():
    with pytest.raises(TypeError, match="save: f must be a path"):
        tm.save(1, 42)
    with pytest.raises(TypeError, match="load: f must be a path"):
        tm.load(42)


# ---- loading what is not ours ---------------------------------------------------------------------
def _torch_file(path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, path)


def _torch_legacy_file(path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)


def _truncated(path: Path) -> None:
    tm.save({"w": tm.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:200])


def _plain_npz(path: Path) -> None:
    with open(path, "wb") as out:
        np.savez(out, w=np.ones(2))


def _other_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")


def _bad_json(path: Path) -> None:
    with open(path, "wb") as out:
        np.savez(out, **{"object.json": np.array("{not json")})


def _foreign_json(path: Path) -> None:
    with open(path, "wb") as out:
        np.savez(out, **{"object.json": np.array('{"format": "other", "object": 1}')})


def _missing_member(path: Path) -> None:
    with open(path, "wb") as out:
        np.savez(out, **{"object.json": np.array(
            '{"format": "tinygrad_mnist.save", "version": 1, "object": {"$": "Tensor", "data": "data/0"}}')})


def _checkpoint(path: Path) -> None:
    with open(path, "wb") as out:
        np.savez(out, **{"metadata.json": np.array("{}"), "model/w": np.ones(2)})


@pytest.mark.parametrize(("make", "message"), [
    (_torch_file, "a PyTorch torch.save file"),
    (_torch_legacy_file, "a pickle"),
    (lambda p: p.write_bytes(b""), "not a readable .npz archive"),
    (_truncated, "not a readable .npz archive"),
    (_plain_npz, "without object.json; not written by save"),
    (_other_zip, "member 'readme.txt' is not an .npy array"),
    (_bad_json, "object.json is not valid JSON"),
    (_foreign_json, "does not describe a saved object"),
    (_missing_member, "refers to a missing array 'data/0'"),
    (_checkpoint, "a training checkpoint"),
    (lambda p: p.mkdir(), "not a file"),
])
def test_files_that_are_not_ours_raise_naming_the_path(make, message, tmp_path):
    path = tmp_path / "f.pt"
    make(path)
    with pytest.raises(SerializationError, match=message) as error:
        tm.load(path)
    assert str(error.value).startswith(f"load: {path}: ")
    assert isinstance(error.value, ValueError)


def test_a_missing_file_raises_file_not_found_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load: .*nothing\.pt"):
        tm.load(tmp_path / "nothing.pt")


# ---- map_location and weights_only ----------------------------------------------------------------
@pytest.mark.parametrize("location", [None, "cpu", "cpu:0", {"cuda:0": "cpu"}])
def test_cpu_map_locations_are_accepted(location, tmp_path):
    tm.save([tm.ones(1)], tmp_path / "f")
    assert tm.load(tmp_path / "f", map_location=location)[0].data.tolist() == [1.0]
    assert tm.load(tmp_path / "f", location, weights_only=False)[0].data.tolist() == [1.0]


def test_a_torch_cpu_device_is_accepted(tmp_path):
    torch = pytest.importorskip("torch")
    tm.save(1, tmp_path / "f")
    assert tm.load(tmp_path / "f", map_location=torch.device("cpu")) == 1


@pytest.mark.parametrize(("location", "error"), [("cuda", ValueError), ("cuda:1", ValueError),
                                                 ({"cpu": "mps"}, ValueError), (lambda s, loc: s, NotImplementedError),
                                                 (3, TypeError)])
def test_other_map_locations_are_refused(location, error, tmp_path):
    tm.save(1, tmp_path / "f")
    with pytest.raises(error, match=r"load: .*map_location"):
        tm.load(tmp_path / "f", map_location=location)
