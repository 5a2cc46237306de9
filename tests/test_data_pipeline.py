"""The data pipeline: ``utils.data``, ``transforms`` and ``datasets.MNIST``, against numpy.

The differential cases against PyTorch live in ``tests/parity/data.py``; here the
expected values are numpy formulas, plus what PyTorch cannot check for us: the
batched fast paths give what the per-sample paths give, shuffling reproduces
from seeds, and nothing touches the network without ``download=True``.
"""

import numpy as np
import pytest

import tinygrad_mnist as tm
import tinygrad_mnist.datasets.mnist as mnist_module
from tinygrad_mnist import transforms as T
from tinygrad_mnist.datasets import MNIST, MNISTError
from tinygrad_mnist.utils.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split

NORM = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])


def images(*shape):
    return ((np.arange(int(np.prod(shape))) * 53) % 256).astype(np.uint8).reshape(shape)


# ---- transforms ---------------------------------------------------------------------------------
def test_to_tensor_scales_uint8_and_moves_channels_first():
    a = images(4, 3, 2)
    x = T.ToTensor()(a)
    assert x.dtype == np.float32 and x.shape == (2, 4, 3)
    np.testing.assert_array_equal(x.numpy(), np.transpose(a, (2, 0, 1)).astype(np.float32) / np.float32(255))
    gray = T.ToTensor()(images(5, 6))
    assert gray.shape == (1, 5, 6) and 0.0 <= gray.min().item() <= gray.max().item() <= 1.0


def test_to_tensor_does_not_scale_other_dtypes():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    np.testing.assert_array_equal(T.ToTensor()(a).numpy(), a[None])


def test_normalize_is_per_channel_affine():
    a = images(4, 3, 2)
    mean, std = (0.5, 0.25), (0.2, 0.4)
    out = T.Compose([T.ToTensor(), T.Normalize(mean, std)])(a).numpy()
    chw = np.transpose(a, (2, 0, 1)).astype(np.float32) / np.float32(255)
    expected = (chw - np.float32(mean).reshape(-1, 1, 1)) / np.float32(std).reshape(-1, 1, 1)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_transform_misuse_raises():
    with pytest.raises(TypeError, match="ToTensor"):
        T.ToTensor()([[1, 2]])
    with pytest.raises(ValueError, match="Normalize"):
        T.Normalize((0.0,), (0.0,))
    with pytest.raises(TypeError, match="Normalize"):
        T.Normalize((0.0,), (1.0,))(tm.tensor(np.zeros((1, 2, 2), dtype=np.int64)))
    with pytest.raises(ValueError, match="Normalize"):
        T.Normalize((0.0, 0.0), (1.0, 1.0))(tm.zeros(3, 2, 2))
    with pytest.raises(TypeError, match="Lambda"):
        T.Lambda(3)


def test_batchable():
    assert T.batchable(None) and T.batchable(NORM)
    assert not T.batchable(T.Compose([T.ToTensor(), T.Lambda(lambda x: x)]))


# ---- MNIST -------------------------------------------------------------------------------------
def test_mnist_items_like_torchvision():
    seen = []
    ds = MNIST(train=False, transform=lambda im: seen.append((im.dtype, im.shape)) or im,
               target_transform=lambda t: t + 100)
    _, label = ds[0]
    assert seen == [(np.uint8, (28, 28))] and label == 107 and len(ds) == 10_000
    assert ds.data.shape == (10_000, 28, 28) and ds.targets.dtype == np.int64
    assert len(MNIST(train=True)) == 60_000


def test_mnist_batched_path_equals_per_sample_path():
    fast = MNIST(train=False, transform=NORM)
    slow = MNIST(train=False, transform=T.Compose([T.ToTensor(), T.Lambda(lambda x: x),
                                                   T.Normalize((0.1307,), (0.3081,))]))
    order = list(range(0, 300, 3))
    for a, b in zip(DataLoader(Subset(fast, order), batch_size=64),
                    DataLoader(Subset(slow, order), batch_size=64), strict=True):
        assert a[0].shape == b[0].shape and a[0].dtype == b[0].dtype == np.float32
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())


def test_mnist_without_transform_batches_uint8():
    x, y = next(iter(DataLoader(MNIST(train=False), batch_size=8)))
    assert x.dtype == np.uint8 and x.shape == (8, 28, 28) and y.dtype == np.int64


def test_mnist_transform_runs_once_per_batch():
    calls = []

    class Counting(T.ToTensor):
        def batch(self, pics):
            calls.append(len(pics))
            return super().batch(pics)

    dl = DataLoader(Subset(MNIST(train=False, transform=Counting()), range(130)), batch_size=64)
    assert [tuple(b[0].shape) for b in dl] == [(64, 1, 28, 28), (64, 1, 28, 28), (2, 1, 28, 28)]
    assert calls == [64, 64, 2]


def test_mnist_never_downloads_without_permission(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_module, "download_file", lambda *a, **k: pytest.fail("network used"))
    with pytest.raises(MNISTError):
        MNIST(root=tmp_path)


# ---- utils.data ----------------------------------------------------------------------------------
def test_getitems_is_one_gather_per_batch():
    calls = []

    class Spy(TensorDataset):
        def __getitem__(self, i):
            raise AssertionError("per-sample access")

        def __getitems__(self, indices):
            calls.append(list(indices))
            return super().__getitems__(indices)

    out = [b[0].tolist() for b in DataLoader(Spy(tm.arange(5)), batch_size=2)]
    assert out == [[0, 1], [2, 3], [4]] and calls == [[0, 1], [2, 3], [4]]


def test_custom_collate_sees_samples():
    ds = TensorDataset(tm.arange(4), tm.arange(4) * 2)
    batches = list(DataLoader(ds, batch_size=3, collate_fn=lambda samples: [(int(a), int(b)) for a, b in samples]))
    assert batches == [[(0, 0), (1, 2), (2, 4)], [(3, 6)]]


def test_shuffle_reproduces_from_manual_seed_and_generator():
    ds = TensorDataset(tm.arange(20))

    def epoch(**kw):
        return np.concatenate([b[0].numpy() for b in DataLoader(ds, batch_size=6, shuffle=True, **kw)])

    tm.manual_seed(3)
    a = epoch()
    tm.manual_seed(3)
    assert np.array_equal(a, epoch()) and sorted(a.tolist()) == list(range(20))
    assert np.array_equal(epoch(generator=7), epoch(generator=7))
    assert np.array_equal(epoch(generator=np.random.default_rng(1)), epoch(generator=np.random.default_rng(1)))
    dl = DataLoader(ds, batch_size=20, shuffle=True, generator=5)
    first, second = (next(iter(dl))[0].numpy() for _ in range(2))
    assert not np.array_equal(first, second)  # a fresh order each epoch


def test_sampler_and_errors():
    ds = TensorDataset(tm.arange(6))
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=[5, 0, 3])] == [[5, 0], [3]]
    with pytest.raises(ValueError, match="sampler"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, shuffle=True, generator="seed")
    with pytest.raises(ValueError, match="TensorDataset"):
        TensorDataset(tm.arange(3), tm.arange(4))
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object()])


def test_random_split_is_a_seeded_partition():
    ds = TensorDataset(tm.arange(10))
    parts = random_split(ds, [3, 7], generator=42)
    again = random_split(ds, [3, 7], generator=42)
    assert [list(p.indices) for p in parts] == [list(p.indices) for p in again]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    assert [len(p) for p in random_split(ds, [0.34, 0.33, 0.33])] == [4, 3, 3]
    with pytest.raises(ValueError, match="random_split"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="random_split"):
        random_split(ds, [0.5, 0.4])


def test_dataset_base_and_concat():
    class Squares(Dataset):
        def __getitem__(self, i):
            return i * i

        def __len__(self):
            return 3

    both = Squares() + Squares()
    assert len(both) == 6 and both[4] == 1 and both[-1] == 4
    assert DataLoader(both, batch_size=4).__iter__().__next__().tolist() == [0, 1, 4, 0]
    with pytest.raises(IndexError):
        both[6]
