"""``MNIST``: torchvision's dataset class over the bundled files (see
[`load_mnist`][tinygrad_mnist.datasets.load_mnist]).

Samples are ``(image, label)``; the image handed to ``transform`` is the uint8
``(28, 28)`` numpy array (torchvision hands a PIL image; there is no image library
here), the label an int. ``transforms.ToTensor`` turns the image into a float32
``(1, 28, 28)`` tensor in ``[0, 1]``.

When the transform is batchable (``transforms.batchable``: ``ToTensor``,
``Normalize`` and ``Compose`` of them, or no transform) and there is no
``target_transform``, ``__getitems__`` gathers a whole batch and transforms it
at once, so ``utils.data.DataLoader`` costs one step per batch, not per sample.

Examples:
    >>> from tinygrad_mnist import transforms
    >>> ds = MNIST(train=False, transform=transforms.ToTensor())
    >>> image, label = ds[0]
    >>> len(ds), image.shape, image.dtype, label
    (10000, (1, 28, 28), dtype('float32'), 7)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..core.tensor import Tensor
from ..transforms import batchable
from ..utils.data import Batch, Dataset
from .mnist import FILES, fetch_missing, load_mnist, locate

__all__ = ["MNIST"]


def _holds(directory: Path, split: str) -> bool:
    return all(locate(name, directory).is_file() for name in FILES[split])


def _directory(root: str | Path | None, split: str) -> Path | None:
    """Where ``split`` lives under ``root``: ``root`` itself or torchvision's ``root/MNIST/raw``."""
    if root is None:
        return None
    raw = Path(root) / "MNIST" / "raw"
    return raw if not _holds(Path(root), split) and _holds(raw, split) else Path(root)


class MNIST(Dataset):
    """The MNIST training (60,000) or test (10,000) split.

    Args:
        root: a directory holding the MNIST files (gzip or raw), directly or in
            torchvision's ``root/MNIST/raw``; None uses the bundled copy.
        train: the training split, else the test split.
        transform: applied to each uint8 (28, 28) image array.
        target_transform: applied to each int label.
        download: put the four files (both splits, as torchvision does) into
            ``root`` when they are missing: copied from the bundled copy, which
            holds the canonical bytes, or else downloaded. Without it nothing is
            fetched (missing files raise ``MNISTError``).

    Attributes ``data`` (uint8 tensor N x 28 x 28) and ``targets`` (int64 tensor)
    hold the whole split, as torchvision's.
    """

    classes: ClassVar[list[str]] = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str | Path | None = None, train: bool = True,
                 transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None, download: bool = False) -> None:
        self.root = root
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        split = "train" if train else "test"
        if root is not None and download:
            for each in FILES:
                if not _holds(Path(root), each) and not _holds(Path(root) / "MNIST" / "raw", each):
                    fetch_missing(each, Path(root))
        images, labels = load_mnist(split, root=_directory(root, split), download=download)
        self._images = images
        self._labels = labels.astype(np.int64)
        self.data = Tensor(images)
        self.targets = Tensor(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image: Any = self._images[index]
        target: Any = int(self._labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __getitems__(self, indices: Sequence[int]) -> Any:
        """A batch in one gather (and one transform) when possible, else the list of samples."""
        if self.target_transform is not None or not batchable(self.transform):
            return [self[i] for i in indices]
        idx = np.asarray(indices, dtype=np.int64)
        images = self._images[idx]
        batch = Tensor(images) if self.transform is None else self.transform.batch(images)  # type: ignore[attr-defined]
        return Batch([batch, Tensor(self._labels[idx])])

    def __repr__(self) -> str:
        return f"Dataset MNIST\n    Number of datapoints: {len(self)}\n    Split: {'Train' if self.train else 'Test'}"
