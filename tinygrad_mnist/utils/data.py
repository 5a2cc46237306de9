"""Datasets and batching with the names and semantics of ``torch.utils.data``.

``Dataset`` (indexable samples), ``TensorDataset``, ``Subset``, ``ConcatDataset``,
``random_split``, ``default_collate`` and ``DataLoader``. Tensor-backed datasets
define ``__getitems__(indices)`` (as PyTorch 2.x datasets may) returning a whole
batch gathered at once, marked [`Batch`][tinygrad_mnist.utils.data.Batch], so loading costs one gather per
batch instead of one Python call per sample.

Randomness (shuffling, ``random_split``) comes from the ``generator`` argument
when given (a ``numpy.random.Generator`` or an int seed; PyTorch takes a
``torch.Generator``), else from the framework generator that
``tinygrad_mnist.manual_seed`` reseeds.

Examples:
    >>> import tinygrad_mnist as tm
    >>> ds = TensorDataset(tm.arange(6), tm.arange(6) * 10)
    >>> [[b.tolist() for b in batch] for batch in DataLoader(ds, batch_size=4)]
    [[[0, 1, 2, 3], [0, 10, 20, 30]], [[4, 5], [40, 50]]]
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .. import random as _random
from ..core.functions import stack
from ..core.tensor import Tensor

__all__ = ["Batch", "ConcatDataset", "DataLoader", "Dataset", "Subset", "TensorDataset",
           "default_collate", "random_split"]


class Batch(list[Any]):
    """A batch already collated by a dataset's ``__getitems__``: the loader passes it through."""


class Dataset:
    """Base class of map-style datasets: define ``__getitem__`` and ``__len__``; ``a + b`` concatenates.

    Examples:
        >>> class Squares(Dataset):
        ...     def __getitem__(self, i): return i * i
        ...     def __len__(self): return 4
        >>> (Squares() + Squares())[5]
        1
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset define __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the tuples ``(t[i] for t in tensors)``; all tensors share their first dimension.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> ds = TensorDataset(tm.tensor([[1., 2.], [3., 4.]]), tm.tensor([0, 1]))
        >>> len(ds), ds[1][0].tolist(), ds[1][1].item()
        (2, [3.0, 4.0], 1)
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor, got none")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: expected Tensors, got {type(t).__name__}")
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if any(s != sizes[0] for s in sizes) or sizes[0] is None:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes}")
        self.tensors = tuple(tensors)

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        idx = np.asarray(indices, dtype=np.int64)
        return Batch(t[idx] for t in self.tensors)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> s = Subset(TensorDataset(tm.arange(10)), [7, 2])
        >>> len(s), s[0][0].item()
        (2, 7)
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: Sequence[int]) -> Any:
        mapped = [int(self.indices[i]) for i in indices]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(mapped)
        return [self.dataset[i] for i in mapped]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> c = ConcatDataset([TensorDataset(tm.arange(2)), TensorDataset(tm.arange(3))])
        >>> len(c), c[3][0].item()
        (5, 1)
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise IndexError(f"ConcatDataset: index {index} out of range for length {len(self)}")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        if which >= len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} out of range for length {len(self)}")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def as_generator(generator: np.random.Generator | int | None) -> np.random.Generator:
    """The generator to draw from: the argument, a fresh one seeded by an int, or the framework's."""
    if generator is None:
        return _random.generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(f"generator: expected a numpy.random.Generator, an int seed or None, "
                    f"got {type(generator).__name__}")


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: np.random.Generator | int | None = None) -> list[Subset]:
    """Split ``dataset`` at random into Subsets of the given lengths (ints, or fractions summing to 1).

    Fractions give ``floor(fraction * len)`` samples each, the remainder handed out one
    by one from the first subset on (as PyTorch 2.x).

    Examples:
        >>> import tinygrad_mnist as tm
        >>> [len(s) for s in random_split(TensorDataset(tm.arange(10)), [0.5, 0.3, 0.2], generator=0)]
        [5, 3, 2]
    """
    n = len(dataset)
    sizes = list(lengths)
    if any(isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)) for s in sizes):
        raise TypeError(f"random_split: lengths must be ints or fractions, got {sizes}")
    if sizes and math.isclose(sum(sizes), 1.0) and sum(sizes) <= 1:
        if any(s < 0 or s > 1 for s in sizes):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {sizes}")
        counts = [math.floor(n * f) for f in sizes]
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
    else:
        if any(s < 0 or int(s) != s for s in sizes):
            raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, "
                             f"got {sizes}")
        counts = [int(s) for s in sizes]
    if sum(counts) != n:
        raise ValueError(f"random_split: the lengths {sizes} sum to {sum(counts)}, "
                         f"not to the dataset's length {n}")
    order = as_generator(generator).permutation(n).tolist()
    ends = np.cumsum(counts).tolist()
    return [Subset(dataset, order[end - c:end]) for c, end in zip(counts, ends, strict=True)]


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch as PyTorch does.

    Tensors and numpy arrays are stacked (dtype kept), Python floats give float64,
    ints int64, bools bool, numpy scalars their dtype; strings stay a list;
    mappings collate per key, tuples and lists per position (returned as a list;
    a namedtuple keeps its type).

    Examples:
        >>> out = default_collate([(1, {"a": 2.0}), (3, {"a": 4.0})])
        >>> out[0].tolist(), out[1]["a"].dtype
        ([1, 3], dtype('float64'))
    """
    if not batch:
        raise ValueError("default_collate: batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), dim=0)
    if isinstance(elem, np.ndarray) and elem.dtype.kind not in "OSU":
        return Tensor(np.stack(batch, axis=0))
    if isinstance(elem, np.generic) and elem.dtype.kind not in "OSU":
        return Tensor(np.array(batch, dtype=elem.dtype))
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch, strict=True)))
    if isinstance(elem, (tuple, list)):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch, strict=True)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


class DataLoader:
    """Batches of ``dataset``: indices from ``sampler`` (or in order, or shuffled), collated.

    Args:
        batch_size: samples per batch (a positive int).
        shuffle: a fresh permutation each epoch, drawn from ``generator`` (a numpy
            Generator, or an int seeding one at construction) or the framework generator.
        drop_last: drop a last, incomplete batch.
        collate_fn: list of samples -> batch; default [`default_collate`][tinygrad_mnist.utils.data.default_collate].
        sampler: an iterable of indices (excludes ``shuffle``).
        num_workers: accepted for scripts written for PyTorch, like ``pin_memory``,
            ``timeout``, ``prefetch_factor`` and ``persistent_workers`` (checked as
            PyTorch checks them). Batches are always loaded in this process, so they
            are the same batches, in the same order, as PyTorch's workers deliver;
            pinning has no meaning without a GPU.

    With the default collate and a dataset defining ``__getitems__``, a batch is
    fetched by that one call.

    Examples:
        >>> import tinygrad_mnist as tm
        >>> dl = DataLoader(TensorDataset(tm.arange(5)), batch_size=2, drop_last=True)
        >>> len(dl), [b[0].tolist() for b in dl]
        (2, [[0, 1], [2, 3]])
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 collate_fn: Callable[[list[Any]], Any] | None = None,
                 generator: np.random.Generator | int | None = None,
                 sampler: Iterable[int] | None = None, num_workers: int = 0, pin_memory: bool = False,
                 timeout: float = 0, prefetch_factor: int | None = None, persistent_workers: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, got {batch_size!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative, got {num_workers!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and (prefetch_factor is not None or persistent_workers):
            raise ValueError("DataLoader: prefetch_factor and persistent_workers need num_workers > 0 "
                             f"(as in PyTorch), got num_workers=0 with prefetch_factor={prefetch_factor!r}, "
                             f"persistent_workers={persistent_workers!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.sampler = sampler
        self.generator = as_generator(generator) if generator is not None else None
        self.num_workers, self.pin_memory, self.timeout = int(num_workers), bool(pin_memory), timeout
        self.prefetch_factor, self.persistent_workers = prefetch_factor, bool(persistent_workers)

    def indices(self) -> list[int]:
        """This epoch's sample order."""
        if self.sampler is not None:
            return [int(i) for i in self.sampler]
        if self.shuffle:
            return as_generator(self.generator).permutation(len(self.dataset)).tolist()
        return list(range(len(self.dataset)))

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def fetch(self, indices: list[int]) -> Any:
        """One batch: the dataset's ``__getitems__`` when it has one, else per-sample, then collated."""
        if hasattr(self.dataset, "__getitems__"):
            samples = self.dataset.__getitems__(indices)
            if isinstance(samples, Batch):
                if self.collate_fn is None:
                    return list(samples)
                samples = [self.dataset[i] for i in indices]  # a custom collate sees real samples
        else:
            samples = [self.dataset[i] for i in indices]
        return (self.collate_fn or default_collate)(samples)

    def __iter__(self) -> Iterator[Any]:
        order = self.indices()
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            yield self.fetch(order[start:start + self.batch_size])

