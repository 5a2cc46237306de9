"""A training script written the way PyTorch's MNIST example is written, run on this package.

The same calls in the same places as that script: the accelerator question
answered "no", ``manual_seed``, ``device``, ``datasets.MNIST`` with
``Compose([ToTensor(), Normalize(...)])``, ``utils.data.DataLoader``, a Net of
two 3x3 convolutions, max-pooling, two dropouts and two linear layers ending in
``log_softmax``, ``Adadelta`` with ``StepLR``, ``nll_loss``, ``.to(device)``,
``zero_grad``/``backward``/``step``, ``loss.item()``, ``eval()`` with
``no_grad()``, ``argmax(dim=1, keepdim=True)``, ``eq(view_as)``, and saving
the ``state_dict``. The quick test trains on a slice of the data; the slow one
is the example's one epoch on all of it (>= 98 % test accuracy).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinygrad_mnist as tm
import tinygrad_mnist.nn as nn
import tinygrad_mnist.nn.functional as F
import tinygrad_mnist.optim as optim
from tinygrad_mnist import datasets, transforms
from tinygrad_mnist.optim.lr_scheduler import StepLR


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: tm.Tensor) -> tm.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = tm.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def train(model: Net, device: tm.device, loader: tm.utils.data.DataLoader, optimizer: optim.Optimizer,
          log_interval: int = 10) -> list[float]:
    model.train()
    losses = []
    for batch_idx, (data, target) in enumerate(loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % log_interval == 0:
            losses.append(loss.item())
    return losses


def evaluate(model: Net, device: tm.device, loader: tm.utils.data.DataLoader) -> tuple[float, float]:
    model.eval()
    test_loss, correct = 0.0, 0
    with tm.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    return test_loss / len(loader.dataset), correct / len(loader.dataset)


def run(train_size: int | None, test_size: int | None, epochs: int,
        save_to: Path) -> tuple[list[float], float, Net]:
    use_accel = tm.accelerator.is_available()
    tm.manual_seed(1)
    device = tm.accelerator.current_accelerator() if use_accel else tm.device("cpu")
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    dataset1: tm.utils.data.Dataset = datasets.MNIST(train=True, transform=transform)
    dataset2: tm.utils.data.Dataset = datasets.MNIST(train=False, transform=transform)
    if train_size is not None:
        dataset1 = tm.utils.data.Subset(dataset1, range(train_size))
    if test_size is not None:
        dataset2 = tm.utils.data.Subset(dataset2, range(test_size))
    train_loader = tm.utils.data.DataLoader(dataset1, batch_size=64)
    test_loader = tm.utils.data.DataLoader(dataset2, batch_size=1000)
    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    losses: list[float] = []
    accuracy = 0.0
    for _ in range(epochs):
        losses += train(model, device, train_loader, optimizer)
        _, accuracy = evaluate(model, device, test_loader)
        scheduler.step()
    tm.save(model.state_dict(), save_to)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.7 ** epochs)
    return losses, accuracy, model


def test_the_example_script_learns_from_a_slice_of_mnist(tmp_path: Path) -> None:
    """40 steps of 64 images: the loss falls from chance (ln 10 = 2.30) and most test digits come out right."""
    losses, accuracy, trained = run(train_size=2560, test_size=1000, epochs=1, save_to=tmp_path / "mnist_cnn.pt")
    assert losses[0] == pytest.approx(np.log(10), abs=0.15)
    assert len(losses) == 4 and losses[-1] < 0.8
    assert accuracy >= 0.8
    fresh = Net()
    fresh.load_state_dict(tm.load(tmp_path / "mnist_cnn.pt"))  # the saved weights load back into a new Net
    for (name, saved), (_, loaded) in zip(trained.state_dict().items(), fresh.state_dict().items(), strict=True):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy(), err_msg=name)


@pytest.mark.slow
def test_one_epoch_of_the_example_reaches_98_percent(tmp_path: Path) -> None:
    _, accuracy, _ = run(train_size=None, test_size=None, epochs=1, save_to=tmp_path / "mnist_cnn.pt")
    assert accuracy >= 0.98
