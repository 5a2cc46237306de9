"""Define your own network, check its gradients, and train it on MNIST.

A small residual MLP written as a custom ``nn.Module``: the forward pass is
ordinary Tensor code, and backward comes from the engine. Before training, the
gradients of a float64 copy are checked against finite differences.

    python examples/custom_network.py            # 3 epochs, about half a minute
    python examples/custom_network.py --quick    # a few hundred steps
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor, autograd, nn, no_grad, optim
from tinygrad_mnist.datasets import DataLoader, load_mnist
from tinygrad_mnist.nn import functional as F


class ResidualBlock(nn.Module):
    """x + W2 relu(W1 x): the identity path lets gradients skip the block."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.inner = nn.Linear(width, width)
        self.outer = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.outer(F.relu(self.inner(x)))


class ResidualMLP(nn.Module):
    def __init__(self, width: int = 128, blocks: int = 2) -> None:
        super().__init__()
        self.stem = nn.Linear(784, width)
        self.blocks = nn.ModuleList([ResidualBlock(width) for _ in range(blocks)])
        self.head = nn.Linear(width, 10)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.stem(x))
        for block in self.blocks:
            h = F.relu(block(h))
        return self.head(h)


def check_gradients(images: np.ndarray, labels: np.ndarray) -> None:
    """gradcheck a tiny float64 twin of the model on four samples."""
    twin = ResidualMLP(width=6, blocks=1)
    for p in twin.parameters():
        p.data = p.data.astype(np.float64)
    x = Tensor(images[:4].reshape(4, -1) / 255.0)
    y = labels[:4]
    ok = autograd.gradcheck(lambda *params: F.cross_entropy(twin(x), y), twin.parameters())
    print(f"gradcheck of a 784-6-6-6-10 float64 twin: {'passed' if ok else 'FAILED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="300 steps on 1 epoch")
    args = parser.parse_args()
    tm.manual_seed(0)
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    model = ResidualMLP()
    print(model)
    check_gradients(train_x, train_y)
    opt = optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    loader = DataLoader(train_x, train_y, batch_size=128, shuffle=True, seed=0)
    for epoch in range(1 if args.quick else args.epochs):
        for step, (x, y) in enumerate(loader):
            loss = F.cross_entropy(model(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if args.quick and step == 300:
                break
        with no_grad():
            logits = model(Tensor(test_x.reshape(len(test_x), -1).astype(np.float32) / 255))
        accuracy = float((logits.data.argmax(axis=1) == test_y).mean())
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}, test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
