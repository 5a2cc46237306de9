"""Batches for training: a deterministic, seedable ``DataLoader`` and a train/validation split.

Each batch is one fancy-index gather from the uint8 images followed by one
conversion to float32 in [0, 1]; there is no per-sample Python work.

Examples:
    >>> import numpy as np
    >>> images = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2)
    >>> labels = np.arange(10, dtype=np.uint8)
    >>> loader = DataLoader(images, labels, batch_size=4, shuffle=True, seed=0)
    >>> [len(y) for x, y in loader]
    [4, 4, 2]
    >>> x, y = next(iter(loader))
    >>> x.shape, x.dtype, y.dtype
    ((4, 4), dtype('float32'), dtype('int64'))
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class DataLoader:
    """Iterate over ``(x, y)`` batches of images and labels.

    Args:
        images: uint8 array (N, ...) of pixels in 0..255.
        labels: integer array (N,).
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: visit samples in a new random order each epoch.
        seed: the order of epoch ``e`` depends only on ``(seed, e)``, so a run
            resumed at epoch ``e`` sees the same batches as an uninterrupted one.
        drop_last: skip a final batch smaller than ``batch_size``.
        flatten: yield x as (B, pixels) rather than (B, 28, 28).

    ``x`` is float32 scaled to [0, 1]; ``y`` is int64. Iterating starts the
    next epoch; [`batches`][tinygrad_mnist.datasets.DataLoader.batches] gives any epoch from any batch on.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int = 128,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        flatten: bool = True,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"DataLoader: {len(images)} images but {len(labels)} labels")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.images = images
        self.labels = labels
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.flatten = flatten
        self.epoch = 0

    def __len__(self) -> int:
        full, rest = divmod(len(self.images), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def order(self, epoch: int) -> np.ndarray:
        """The sample indices of ``epoch``, in visiting order."""
        n = len(self.images)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def batches(self, epoch: int, start: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The batches of ``epoch``, beginning with batch number ``start``."""
        order = self.order(epoch)
        for b in range(start, len(self)):
            index = order[b * self.batch_size:(b + 1) * self.batch_size]
            x = self.images[index].astype(np.float32)
            x /= np.float32(255)
            if self.flatten:
                x = x.reshape(len(index), -1)
            yield x, self.labels[index].astype(np.int64)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        epoch = self.epoch
        self.epoch += 1
        return self.batches(epoch)


def train_val_split(
    images: np.ndarray, labels: np.ndarray, val_size: int, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split off ``val_size`` random samples (deterministic for a seed) for validation.

    Examples:
        >>> x, y = np.zeros((10, 2)), np.arange(10)
        >>> (xt, yt), (xv, yv) = train_val_split(x, y, val_size=3, seed=1)
        >>> len(yt), len(yv), sorted(np.concatenate([yt, yv]).tolist()) == list(range(10))
        (7, 3, True)
    """
    n = len(images)
    if not 0 <= val_size < n:
        raise ValueError(f"train_val_split: val_size must be in [0, {n}), got {val_size}")
    order = np.random.default_rng(seed).permutation(n)
    val, train = np.sort(order[:val_size]), np.sort(order[val_size:])
    return (images[train], labels[train]), (images[val], labels[val])
