"""``save`` and ``load``: nested dicts, lists and tuples of tensors, arrays and plain values, in a file
without pickle (PyTorch's ``torch.save`` / ``torch.load`` for the objects they are used with).

The file is an ``.npz`` archive (a zip of ``.npy`` arrays) whose ``object.json``
member describes the structure; every tensor and array is an ``.npy`` member of
its own, with its exact dtype and shape. Loading reads it with
``allow_pickle=False``, so a file can never run code, and anything that is not
such a file is refused with an error naming it. The same archive layer writes and
reads the MNIST application's checkpoints.

What comes back is what went in: dicts and ``OrderedDict`` with their key types
(str, int, float, bool, None or tuples of those: an optimizer's state uses int
keys), lists, tuples, numbers, bools, None, strings, numpy arrays and scalars, and
Tensors with their dtype, shape and ``requires_grad`` (as leaves, like PyTorch;
gradients are not saved). A saved ``nn.Parameter`` loads as a Parameter, and a
tensor or array that appears more than once loads as one object. Modules,
optimizers, functions and other objects are refused: save their ``state_dict()``.

Examples:
    >>> import io
    >>> import tinygrad_mnist as tm
    >>> model = tm.nn.Linear(3, 2)
    >>> buffer = io.BytesIO()
    >>> tm.save({"model": model.state_dict(), "epoch": 3, "betas": (0.9, 0.999)}, buffer)
    >>> _ = buffer.seek(0)
    >>> state = tm.load(buffer)
    >>> state["epoch"], state["betas"], sorted(state["model"])
    (3, (0.9, 0.999), ['bias', 'weight'])
    >>> model.load_state_dict(state["model"])
    <All keys matched successfully>
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any

import numpy as np

from .atomic import atomic_write
from .core.tensor import Tensor
from .nn.module import Parameter

__all__ = ["NpzArchive", "SerializationError", "load", "open_npz", "read_npz", "save", "write_npz"]

FORMAT, VERSION = "tinygrad_mnist.save", 1
_OBJECT, _DATA = "object.json", "data/"
_ARRAY_KINDS = "biufc"  # bool, integers, floats, complex: what an .npy member holds without pickle
_SCALARS = (type(None), bool, int, float, str)

FileLike = str | os.PathLike[str] | IO[bytes]


class SerializationError(ValueError):
    """A file that is not a readable archive of ours: not a zip, damaged, a pickle, or not written by ``save``."""


# ---- the archive layer (also used by the application's checkpoints) ----------------------------
_ZIP_START, _ZIP_END, _ZIP_DIRECTORY, _NPY_MAGIC = b"PK\x03\x04", b"PK\x05\x06", b"PK\x01\x02", b"\x93NUMPY"
_HEADER_BYTES, _CHUNK = 65536 + 12, 1 << 20  # the longest .npy 1.0 header; reading unit of the check


def write_npz(f: FileLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an ``.npz`` archive: to a path exactly (atomically, no ``.npz`` appended)
    or to a binary file object."""
    if isinstance(f, (str, os.PathLike)):
        with atomic_write(Path(f)) as out:
            # numpy's stub lets **kwds fill savez's allow_pickle: bool; member names never take that name
            np.savez(out, **arrays)  # type: ignore[arg-type]
    elif hasattr(f, "write"):
        np.savez(f, **arrays)  # type: ignore[arg-type]
    else:
        raise TypeError(f"save: f must be a path (str or os.PathLike) or a binary file object, got "
                        f"{type(f).__name__}")


def _describe(f: Any) -> str:
    return os.fspath(f) if isinstance(f, (str, os.PathLike)) else f"file object {getattr(f, 'name', repr(f))}"


def _not_a_zip(data: bytes) -> str:
    """Why ``data``, which has no zip end record, is not an archive: empty, truncated, damaged or foreign."""
    unreadable = "not a readable .npz archive"
    if not data:
        return f"{unreadable}: the file is empty (0 bytes)"
    if data[:1] == b"\x80":
        return "a pickle (perhaps an older torch.save file); refused, since unpickling can run arbitrary code"
    if data.startswith(_NPY_MAGIC):
        return f"{unreadable}: a single .npy array (np.save), not an .npz archive of them"
    if not _ZIP_START.startswith(data[:4]):
        return f"{unreadable} (no zip signature)"
    tail = data[-22:]  # where the end record of a complete archive lies (no comment)
    size, offset = int.from_bytes(tail[12:16], "little"), int.from_bytes(tail[16:20], "little")
    if len(data) >= 22 and offset + size == len(data) - 22 and data[offset:offset + 4] == _ZIP_DIRECTORY:
        return f"{unreadable}: the zip's end record is damaged (the file is complete, {len(data)} bytes)"
    return f"{unreadable}: the file is truncated ({len(data)} bytes; the zip's end record is missing)"


class NpzArchive:
    """An ``.npz`` archive whose members passed every check (zip CRC-32, ``.npy`` header, no objects,
    data size) before any array is made: ``shapes`` and ``dtypes`` come from the headers, `read` makes
    the arrays. Open one with `open_npz`.
    """

    def __init__(self, where: str, archive: zipfile.ZipFile, headers: dict[str, tuple[zipfile.ZipInfo,
                 tuple[int, ...], np.dtype[Any]]]) -> None:
        self.where, self._archive, self._headers = where, archive, headers
        self.shapes = {name: shape for name, (_, shape, _) in headers.items()}
        self.dtypes = {name: dtype for name, (_, _, dtype) in headers.items()}

    def read(self, name: str) -> np.ndarray:
        """The array of member ``name`` (without its ``.npy`` suffix)."""
        return np.lib.format.read_array(io.BytesIO(self._archive.read(self._headers[name][0])), allow_pickle=False,
                                        max_header_size=_HEADER_BYTES)

    def read_all(self) -> dict[str, np.ndarray]:
        """Every member's array, by name."""
        return {name: self.read(name) for name in self._headers}


def _damaged(where: str, reason: str) -> SerializationError:
    return SerializationError(f"{where}: not a readable .npz archive: {reason}")


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                  where: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype of one ``.npy`` member, after reading it through once (no array made)."""
    try:
        with archive.open(info) as stream:
            head = stream.read(_HEADER_BYTES)
            size = len(head)
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):
            raise _damaged(where, f"member {name!r} is corrupted (its CRC-32 does not match its data)") from None
        detail = "its local header names another file" if "File name in directory" in str(exc) else f"{exc}"
        raise _damaged(where, f"member {name!r} has a damaged zip header ({detail})") from None
    except Exception as exc:  # noqa: BLE001 -- a damaged entry fails in many ways (zlib, EOF, method, flags)
        raise _damaged(where, f"member {name!r} has a damaged zip entry ({type(exc).__name__}: {exc!s:.80})") from None
    if not head.startswith(_NPY_MAGIC):
        raise SerializationError(f"{where}: not an .npz archive of arrays: member {name!r} is not an .npy array")
    fp = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(fp)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(fp, max_header_size=_HEADER_BYTES)
    except Exception as exc:  # noqa: BLE001 -- a bad header fails as ValueError, SyntaxError, TypeError...
        raise _damaged(where, f"member {name!r} has an invalid .npy header ({exc})") from None
    if dtype.hasobject:
        raise SerializationError(f"{where}: refused unsafe content: member {name!r} is an object array "
                                 f"({dtype}), stored as a pickle that could run code when loaded")
    expected, held = math.prod(shape) * dtype.itemsize, size - fp.tell()
    if expected != held:
        raise _damaged(where, f"member {name!r} is damaged: its .npy header declares shape {shape} of {dtype} "
                   f"({expected} bytes) but it holds {held} bytes of data")
    return shape, dtype


def open_npz(f: FileLike) -> NpzArchive:
    """An ``.npz`` archive with every member checked and no array made yet (see `NpzArchive`).

    Raises:
        SerializationError: (naming the file) empty, truncated, not a zip archive, a pickle, a
            PyTorch file, a member that is corrupted (CRC-32), damaged or not an ``.npy`` array,
            or unsafe content (an object array, which would need pickle).

    Examples:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> write_npz(buffer, {"w": np.zeros((2, 3), dtype=np.float32)})
        >>> archive = open_npz(io.BytesIO(buffer.getvalue()))
        >>> archive.shapes, archive.read("w").dtype
        ({'w': (2, 3)}, dtype('float32'))
        >>> open_npz(io.BytesIO(buffer.getvalue()[:100]))
        Traceback (most recent call last):
            ...
        tinygrad_mnist.serialization.SerializationError: file object ...: the file is truncated (100 bytes; ...)
    """
    where = _describe(f)
    data = Path(f).read_bytes() if isinstance(f, (str, os.PathLike)) else f.read()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise SerializationError(f"{where}: {_not_a_zip(data)}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 -- a damaged directory fails in many ways (zip, version, OS)
        raise _damaged(where, f"the zip's central directory is damaged ({type(exc).__name__}: {exc})") from None
    end = data.rfind(_ZIP_END)
    listed = int.from_bytes(data[end + 10:end + 12], "little")  # the end record's count of members
    if listed != 0xFFFF and listed != len(archive.infolist()):  # 0xFFFF: the count is in a zip64 record
        raise _damaged(where, f"the zip's central directory is damaged (it lists {len(archive.infolist())} "
                              f"members, its end record {listed})")
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in archive.namelist()):
        raise SerializationError(f"{where}: a PyTorch torch.save file (a zip of pickles); it cannot be read "
                                 "without unpickling: load it with torch, and save its tensors as numpy arrays")
    headers = {}
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        headers[name] = (info, *_check_member(archive, info, name, where))
    return NpzArchive(where, archive, headers)


def read_npz(f: FileLike) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive, read without pickle after every member is checked
    (see `open_npz`, which says what is refused)."""
    return open_npz(f).read_all()


# ---- save ----------------------------------------------------------------------------------------
class _Encoder:
    """Turns an object into a JSON tree, collecting its tensors and arrays as numbered members."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, tuple[Any, str]] = {}  # id -> (object, member): shared tensors stay shared
        self.path: set[int] = set()  # ids of the containers being encoded, to find cycles

    def member(self, value: Any, array: np.ndarray, where: str) -> str:
        if id(value) in self.seen:
            return self.seen[id(value)][1]
        if array.dtype.kind not in _ARRAY_KINDS or array.dtype.fields is not None:
            raise TypeError(f"save: {where} has dtype {array.dtype}, which cannot be saved; expected bool, "
                            "integer, floating or complex data")
        name = f"{_DATA}{len(self.arrays)}"
        self.arrays[name] = np.ascontiguousarray(array) if array.ndim else np.array(array)
        self.seen[id(value)] = (value, name)
        return name

    def encode(self, value: Any, where: str) -> Any:
        kind = type(value)
        if isinstance(value, np.generic):
            return {"$": "numpy_scalar", "data": self.member(value, np.asarray(value), where)}
        if kind in _SCALARS:
            return value
        if kind is Tensor or kind is Parameter:
            return {"$": kind.__name__, "data": self.member(value, value.data, where),
                    "requires_grad": bool(value.requires_grad)}
        if kind is np.ndarray:
            return {"$": "ndarray", "data": self.member(value, value, where)}
        if kind in (list, tuple, dict, OrderedDict):
            if id(value) in self.path:
                raise ValueError(f"save: {where} contains itself (a circular reference), which cannot be saved")
            self.path.add(id(value))
            try:
                if isinstance(value, dict):
                    items = [[self.key(k, where), self.encode(v, f"{where}[{k!r}]")] for k, v in value.items()]
                    return {"$": kind.__name__, "items": items}
                return {"$": kind.__name__, "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
            finally:
                self.path.discard(id(value))
        raise TypeError(_refusal(value, where))

    def key(self, key: Any, where: str) -> Any:
        if type(key) in _SCALARS:
            return key
        if type(key) is tuple:
            return {"$": "tuple", "items": [self.key(k, where) for k in key]}
        raise TypeError(f"save: {where} has a key {key!r} of type {type(key).__name__}; dict keys must be "
                        "str, int, float, bool, None or tuples of those")


def _refusal(value: Any, where: str) -> str:
    kind = type(value)
    what = f"a {kind.__module__}.{kind.__qualname__}"
    if hasattr(value, "state_dict") and hasattr(value, "load_state_dict"):
        return (f"save: {where} is {what}, which is not saved as an object (that would need pickle); "
                f"save its state_dict() instead and restore it with load_state_dict()")
    if isinstance(value, Tensor):
        return (f"save: {where} is {what}, a Tensor subclass; save a plain Tensor or Parameter "
                "(e.g. tensor.detach()) instead")
    return (f"save: {where} is {what}, which cannot be saved; expected dicts (str, int, float, bool or "
            "None keys), lists, tuples, Tensors, numpy arrays, numbers, bools, None or strings")


def save(obj: Any, f: FileLike) -> None:
    """Write ``obj`` (nested dicts, lists and tuples of Tensors, numpy arrays, numbers, bools, None and
    strings) to ``f``: a path, written exactly at that name and atomically, or a binary file object.

    Raises:
        TypeError: something in ``obj`` cannot be saved (a Module, an optimizer, a function, ...),
            named by where it is (``obj['model']``), or ``f`` is neither a path nor a file object.
        ValueError: ``obj`` contains itself.

    Examples:
        >>> import io, tinygrad_mnist as tm
        >>> tm.save({"model": tm.nn.Linear(2, 2)}, io.BytesIO())
        Traceback (most recent call last):
            ...
        TypeError: save: obj['model'] is a tinygrad_mnist.nn.layers.Linear, which is not saved as an object ...
    """
    encoder = _Encoder()
    tree = {"format": FORMAT, "version": VERSION, "object": encoder.encode(obj, "obj")}
    arrays = dict(encoder.arrays)
    arrays[_OBJECT] = np.array(json.dumps(tree, allow_nan=True))
    write_npz(f, arrays)


# ---- load ----------------------------------------------------------------------------------------
def _check_map_location(map_location: Any) -> None:
    """Everything here lives on the CPU: accept only locations that name it."""
    def cpu(location: Any) -> bool:
        if isinstance(location, str):
            return location.split(":")[0] == "cpu"
        return getattr(location, "type", None) == "cpu"
    if map_location is None:
        return
    if isinstance(map_location, dict):
        targets = list(map_location.values())
    elif isinstance(map_location, str) or hasattr(map_location, "type"):
        targets = [map_location]
    elif callable(map_location):
        raise NotImplementedError("load: a callable map_location is not supported; pass None or 'cpu' "
                                  "(every tensor loads on the CPU)")
    else:
        raise TypeError(f"load: map_location must be None, a device string, a device or a dict, "
                        f"got {type(map_location).__name__}")
    for target in targets:
        if not cpu(target):
            raise ValueError(f"load: map_location {str(target)!r} is not available; only 'cpu' is "
                             "(every tensor loads on the CPU)")


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], where: str) -> None:
        self.arrays, self.where = arrays, where
        self.made: dict[str, Any] = {}  # member -> object made from it, so shared objects stay shared

    def fail(self, message: str) -> SerializationError:
        return SerializationError(f"{self.where}: {message}; the file is damaged or not written by save")

    def decode(self, node: Any) -> Any:
        if type(node) in _SCALARS:
            return node
        if not isinstance(node, dict) or not isinstance(node.get("$"), str):
            raise self.fail(f"object.json holds an unexpected entry {node!r:.80}")
        kind = node["$"]
        if kind in ("Tensor", "Parameter", "ndarray", "numpy_scalar"):
            name = node.get("data")
            if not isinstance(name, str) or name not in self.arrays:
                raise self.fail(f"object.json refers to a missing array {name!r}")
            if name not in self.made:
                self.made[name] = self.leaf(kind, self.arrays[name], node)
            return self.made[name]
        items = node.get("items")
        if not isinstance(items, list):
            raise self.fail(f"a {kind} without its items")
        if kind in ("list", "tuple"):
            values = [self.decode(v) for v in items]
            return values if kind == "list" else tuple(values)
        if kind in ("dict", "OrderedDict"):
            if not all(isinstance(pair, list) and len(pair) == 2 for pair in items):
                raise self.fail(f"a {kind} whose items are not key-value pairs")
            pairs = [(self.decode(k), self.decode(v)) for k, v in items]
            return dict(pairs) if kind == "dict" else OrderedDict(pairs)
        raise self.fail(f"object.json holds an unknown kind {kind!r}")

    def leaf(self, kind: str, array: np.ndarray, node: dict[str, Any]) -> Any:
        if kind == "ndarray":
            return array
        if kind == "numpy_scalar":
            return array[()]
        requires_grad = node.get("requires_grad", False)
        if not isinstance(requires_grad, bool):
            raise self.fail(f"requires_grad {requires_grad!r} is not a bool")
        if kind == "Parameter":
            return Parameter(array, requires_grad=requires_grad)
        return Tensor(array, requires_grad=requires_grad)


def load(f: FileLike, map_location: Any = None, *, weights_only: bool | None = True) -> Any:
    """Read an object written by [`save`][tinygrad_mnist.serialization.save] from a path or a binary file object.

    ``map_location`` may be None, ``'cpu'``, a CPU device or a dict mapping
    locations to ``'cpu'``: every tensor loads on the CPU. ``weights_only`` is
    accepted for PyTorch's sake and changes nothing: the format holds only data,
    never pickled objects, whatever its value.

    Raises:
        FileNotFoundError: no file at the path.
        SerializationError (a ValueError): the file is not one written by [`save`][tinygrad_mnist.serialization.save]
            (not a zip, truncated, a pickle, a PyTorch file, a checkpoint), named in the message.
        ValueError: a ``map_location`` other than the CPU.
    """
    _check_map_location(map_location)
    if weights_only not in (True, False, None):
        raise TypeError(f"load: weights_only must be a bool or None, got {weights_only!r}")
    where = _describe(f)
    if isinstance(f, (str, os.PathLike)):
        if not os.path.exists(f):
            raise FileNotFoundError(f"load: no such file: {where}")
        if not os.path.isfile(f):
            raise SerializationError(f"load: {where}: not a file")
    elif not hasattr(f, "read"):
        raise TypeError(f"load: f must be a path (str or os.PathLike) or a binary file object, got "
                        f"{type(f).__name__}")
    try:
        return _load(f, where)
    except SerializationError as exc:
        raise SerializationError(f"load: {exc}") from None


def _load(f: FileLike, where: str) -> Any:
    arrays = read_npz(f)
    if _OBJECT not in arrays:
        if "metadata.json" in arrays:
            raise SerializationError(f"{where}: a training checkpoint (save_checkpoint), not a file written by "
                                     "save; read it with tinygrad_mnist.mnist.checkpoint.load_checkpoint")
        raise SerializationError(f"{where}: an .npz archive without {_OBJECT}; not written by save")
    try:
        tree = json.loads(str(arrays.pop(_OBJECT)))
    except json.JSONDecodeError as exc:
        raise SerializationError(f"{where}: {_OBJECT} is not valid JSON ({exc})") from None
    if not isinstance(tree, dict) or tree.get("format") != FORMAT or "object" not in tree:
        raise SerializationError(f"{where}: {_OBJECT} does not describe a saved object; not written by save")
    if tree.get("version") != VERSION:
        raise SerializationError(f"{where}: format version {tree.get('version')!r}, this version reads {VERSION}")
    return _Decoder(arrays, where).decode(tree["object"])
