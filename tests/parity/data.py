"""Cases for the data pipeline: ``utils.data`` (datasets, collate, loader, splits) and the MNIST transforms.

Loader cases run ``T.utils.data`` on both sides. torchvision is not a dependency,
so the transform cases compare ``tinygrad_mnist.transforms`` (and the
``datasets.MNIST`` pipeline) against PyTorch computing the same formula with
plain tensor ops: ``float(x) / 255`` in float32, channels first, then
``(x - mean) / std``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_mnist.datasets
import tinygrad_mnist.transforms
import tinygrad_mnist.utils.data  # makes T.utils.data available on our side
from parity import case, raises

MEAN, STD = (0.1307,), (0.3081,)


def _is_torch(T: Any) -> bool:
    return bool(T.__name__ == "torch")


def _xy(T: Any, n: int = 10) -> tuple[Any, Any]:
    x = T.tensor(np.arange(n * 3, dtype=np.float64).reshape(n, 3) / 7)
    y = T.tensor(np.arange(n, dtype=np.int64) % 4)
    return x, y


def _images(n: int = 3, channels: int | None = None) -> np.ndarray:
    shape = (n, 5, 4) if channels is None else (n, 5, 4, channels)
    return ((np.arange(int(np.prod(shape))) * 37) % 256).astype(np.uint8).reshape(shape)


def _to_tensor_normalized(T: Any, images: np.ndarray, mean: tuple[float, ...] | None = None,
                          std: Any = None) -> Any:
    """(N, C, H, W): ours through ToTensor/Normalize/Compose per sample then stacked; PyTorch by formula."""
    if _is_torch(T):
        nhwc = np.array(images if images.ndim == 4 else images[..., None])
        x = T.from_numpy(nhwc).permute(0, 3, 1, 2).float().div(255)
        if mean is not None:
            x = x.sub(T.tensor(mean).view(-1, 1, 1)).div(T.tensor(std).view(-1, 1, 1))
        return x
    tf = tinygrad_mnist.transforms
    steps: list[Any] = [tf.ToTensor()] + ([tf.Normalize(mean, std)] if mean is not None else [])
    return T.stack([tf.Compose(steps)(image) for image in images])


@case
def loader_batches_in_order(T: Any) -> Any:
    dl = T.utils.data.DataLoader(T.utils.data.TensorDataset(*_xy(T)), batch_size=4)
    return len(dl), [list(batch) for batch in dl]


@case
def loader_drop_last(T: Any) -> Any:
    dl = T.utils.data.DataLoader(T.utils.data.TensorDataset(*_xy(T)), batch_size=4, drop_last=True)
    return len(dl), [list(batch) for batch in dl]


@case
def loader_over_a_list_of_tuples(T: Any) -> Any:
    samples = [(np.full((2,), k, dtype=np.float32), k, float(k) / 2) for k in range(5)]
    return [list(b) for b in T.utils.data.DataLoader(samples, batch_size=2)]


@case
def collate_tuples_and_dicts(T: Any) -> Any:
    batch = [({"a": np.array([k, k + 1], dtype=np.int32), "b": float(k)}, k, True, np.float32(k) / 4)
             for k in range(3)]
    return T.utils.data.default_collate(batch)


@case
def collate_tensors_keep_dtype(T: Any) -> Any:
    rows = [T.tensor(np.array([k, 2 * k], dtype=np.float32)) for k in range(3)]
    out = T.utils.data.default_collate(rows)
    return out, out.dtype


@case
def subset_item_and_loader(T: Any) -> Any:
    s = T.utils.data.Subset(T.utils.data.TensorDataset(*_xy(T)), [3, 1, 4, 9, 0])
    return len(s), list(s[1]), [list(b) for b in T.utils.data.DataLoader(s, batch_size=2)]


@case
def concat_dataset(T: Any) -> Any:
    a, b = (T.utils.data.TensorDataset(*_xy(T, n)) for n in (3, 4))
    both = a + b
    return len(both), list(both[4]), [list(batch) for batch in T.utils.data.DataLoader(both, batch_size=5)]


@case
def random_split_lengths_cover_the_dataset(T: Any) -> Any:
    ds = T.utils.data.TensorDataset(T.tensor(np.arange(11)))
    parts = T.utils.data.random_split(ds, [0.5, 0.3, 0.2])
    exact = T.utils.data.random_split(ds, [4, 7])
    covered = sorted(int(p[k][0]) for p in parts for k in range(len(p)))
    return [len(p) for p in parts], [len(p) for p in exact], covered


@case
def shuffle_keeps_every_sample_once(T: Any) -> Any:
    dl = T.utils.data.DataLoader(T.utils.data.TensorDataset(T.tensor(np.arange(9))), batch_size=4, shuffle=True)
    batches = [b[0] for b in dl]
    return [tuple(b.shape) for b in batches], sorted(int(v) for b in batches for v in b)


@case
def to_tensor_gray_and_rgb(T: Any) -> Any:
    return _to_tensor_normalized(T, _images()), _to_tensor_normalized(T, _images(2, 3))


@case
def normalize_and_compose(T: Any) -> Any:
    return (_to_tensor_normalized(T, _images(), MEAN, STD),
            _to_tensor_normalized(T, _images(2, 3), (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)))


@case
def mnist_pipeline_first_batches(T: Any) -> Any:
    """datasets.MNIST + Compose([ToTensor(), Normalize]) batched, against the formula on the same arrays."""
    images, labels = tinygrad_mnist.datasets.load_mnist("test")
    if _is_torch(T):
        ds = T.utils.data.TensorDataset(_to_tensor_normalized(T, images[:150], MEAN, STD),
                                        T.tensor(labels[:150].astype(np.int64)))
        return [list(b) for b in T.utils.data.DataLoader(ds, batch_size=64)]
    tf = tinygrad_mnist.transforms
    mnist = tinygrad_mnist.datasets.MNIST(train=False, transform=tf.Compose([tf.ToTensor(), tf.Normalize(MEAN, STD)]))
    return [list(b) for b in T.utils.data.DataLoader(T.utils.data.Subset(mnist, range(150)), batch_size=64)]


@raises
def tensor_dataset_size_mismatch(T: Any) -> None:
    T.utils.data.TensorDataset(T.tensor([1.0, 2.0]), T.tensor([1.0, 2.0, 3.0]))


@raises
def random_split_lengths_must_sum(T: Any) -> None:
    T.utils.data.random_split(T.utils.data.TensorDataset(T.tensor(np.arange(5))), [2, 2])


@raises
def random_split_fractions_must_sum_to_one(T: Any) -> None:
    T.utils.data.random_split(T.utils.data.TensorDataset(T.tensor(np.arange(5))), [0.5, 0.2])


@raises
def loader_batch_size_zero(T: Any) -> None:
    T.utils.data.DataLoader(T.utils.data.TensorDataset(T.tensor(np.arange(5))), batch_size=0)


@raises
def collate_ragged_lists(T: Any) -> None:
    T.utils.data.default_collate([[1, 2], [3]])


@case
def loader_worker_options_give_the_same_batches(T: Any) -> Any:
    dl = T.utils.data.DataLoader(T.utils.data.TensorDataset(*_xy(T)), batch_size=4, num_workers=2,
                                 pin_memory=False, persistent_workers=True, prefetch_factor=2)
    return len(dl), [list(batch) for batch in dl], dl.num_workers


@raises
def loader_negative_workers(T: Any) -> Any:
    return T.utils.data.DataLoader(T.utils.data.TensorDataset(*_xy(T)), num_workers=-1)


@raises
def loader_persistent_workers_without_workers(T: Any) -> Any:
    return T.utils.data.DataLoader(T.utils.data.TensorDataset(*_xy(T)), persistent_workers=True)
