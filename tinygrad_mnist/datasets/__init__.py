"""MNIST: the bundled files, the IDX parser, verified loading, checking a data directory, downloads and batching.

Examples:
    >>> from tinygrad_mnist.datasets import load_mnist, DataLoader
    >>> images, labels = load_mnist("test")
    >>> x, y = next(iter(DataLoader(images, labels, batch_size=32)))
    >>> x.shape, y.shape
    ((32, 784), (32,))
"""

from .download import DEFAULT_MIRRORS, download_file
from .errors import MNISTError
from .idx import parse_idx, read_payload, write_idx
from .loader import DataLoader, train_val_split
from .mnist import DIGESTS, FILES, cache_dir, load_mnist
from .validate import NONCANONICAL_FLAG, validate_data_dir
from .vision import MNIST

__all__ = [
    "DEFAULT_MIRRORS",
    "DIGESTS",
    "FILES",
    "MNIST",
    "NONCANONICAL_FLAG",
    "DataLoader",
    "MNISTError",
    "cache_dir",
    "download_file",
    "load_mnist",
    "parse_idx",
    "read_payload",
    "train_val_split",
    "validate_data_dir",
    "write_idx",
]
