"""Reproduce Elliott Chang's 784-10-10 column-major network ("Developing a Neural Network From Scratch").

Chang derives the backpropagation equations of a one-hidden-layer network in
column-major notation (one column per sample: X is 784 x m, W1 is 10 x 784)
and trains it by full-batch gradient descent, reaching about 85 % training
accuracy. His code's recipe, rebuilt here from the framework's Tensor ops in the
same layout (Z1 = W1 X + b1, A1 = ReLU(Z1), Z2 = W2 A1 + b2, softmax over each
column, cross-entropy averaged over the m columns):

* pixels divided by 255; the training set shuffled (here with a fixed seed)
  and its first 1,000 samples held out;
* weights and biases drawn from U(-0.5, 0.5);
* full-batch gradient descent, learning rate 0.1, 500 iterations.

Differences: his code reads Kaggle's ``train.csv`` (42,000 rows, so about
41,000 training columns); we use the 60,000 MNIST training images (59,000
training columns after the hold-out) and also report the 10,000-image test
set. His bias updates use the sum of dZ over all of its entries, not one sum
per unit; we descend along the true gradient, and ``--writeup-bias-update``
swaps in his rule (see docs/reproductions.md).

``--check-closed-form N`` casts the parameters and the full batch of every N-th
iteration to float64, recomputes the engine's gradients there and compares them
with the numpy closed form (:mod:`tinygrad_mnist.mnist.reference.closed_form`, the
same equations as the write-up); the scale-relative error
``max|engine - closed form| / max|closed form|`` must stay below 1e-10. The
float32 gradients the update actually uses are compared too, for information.

    python examples/chang_784_10_10.py                            # 500 iterations
    python examples/chang_784_10_10.py --check-closed-form 50     # with the check
    python examples/chang_784_10_10.py --quick --check-closed-form 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor, nn, no_grad, optim
from tinygrad_mnist.datasets import load_mnist
from tinygrad_mnist.mnist.reference import closed_form
from tinygrad_mnist.mnist.reference.closed_form import relative_error

HELD_OUT = 1000
TOLERANCE = 1e-10  # float64 engine vs float64 closed form, scale-relative
WRITEUP = "about 85 %"
Params = list[nn.Parameter]  # W1, b1, W2, b2


def columns(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (784, N) float32 in [0, 1], one column per sample."""
    X: np.ndarray = np.ascontiguousarray(images.reshape(len(images), -1).T, dtype=np.float32)
    return X / np.float32(255)


def init_params() -> Params:
    """W1 (10, 784), b1 (10, 1), W2 (10, 10), b2 (10, 1), each from U(-0.5, 0.5)."""
    params = [nn.Parameter(np.empty(shape, dtype=np.float32)) for shape in [(10, 784), (10, 1), (10, 10), (10, 1)]]
    for p in params:
        nn.init.uniform_(p, -0.5, 0.5)
    return params


def logits(params: Params | list[Tensor], X: Tensor) -> Tensor:
    W1, b1, W2, b2 = params
    A1 = (W1 @ X + b1).relu()
    return W2 @ A1 + b2  # Z2, (10, m)


def loss_fn(params: Params | list[Tensor], X: Tensor, Y: np.ndarray) -> Tensor:
    """Cross-entropy of the column softmax against one-hot Y (10, m), averaged over the columns."""
    return -(logits(params, X).log_softmax(axis=0) * Y).sum() * (1.0 / X.shape[1])


def accuracy(params: Params, X: np.ndarray, labels: np.ndarray) -> float:
    with no_grad():
        return float(np.mean(logits(params, Tensor(X)).data.argmax(axis=0) == labels))


class ClosedFormCheck:
    """Compares the engine's float64 gradients on the full batch with the closed form."""

    def __init__(self, X: np.ndarray, labels: np.ndarray) -> None:
        self.X64 = X.astype(np.float64)  # full batch: the same every iteration, cast once
        self.labels = labels
        self.Y64 = closed_form.one_hot(labels, 10)

    def __call__(self, params: Params, iteration: int) -> None:
        twin = [Tensor(p.data.astype(np.float64), requires_grad=True) for p in params]
        loss_fn(twin, Tensor(self.X64), self.Y64).backward()
        W1, b1, W2, b2 = (t.data for t in twin)
        ref = closed_form.backward([W1, W2], [b1, b2], self.X64, self.labels, act="relu")
        expected = [ref.dW[0], ref.db[0], ref.dW[1], ref.db[1]]
        err64 = max(relative_error(t.grad.data, e) for t, e in zip(twin, expected) if t.grad is not None)
        err32 = max(relative_error(p.grad.data.astype(np.float64), e) for p, e in zip(params, expected)
                    if p.grad is not None)
        if not err64 <= TOLERANCE:
            raise SystemExit(f"closed-form check FAILED at step {iteration}: "
                             f"relative error {err64:.2e} > {TOLERANCE:g}")
        print(f"closed-form check passed at step {iteration} (float64 relative error {err64:.1e}; "
              f"float32 step gradients {err32:.1e})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffle and of the initialisation")
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--check-closed-form", type=int, default=0, metavar="N",
                        help="compare the gradients with the closed form every N iterations (0: never)")
    parser.add_argument("--writeup-bias-update", action="store_true",
                        help="update each bias vector by the sum of its gradient, as the write-up's code does")
    parser.add_argument("--quick", action="store_true", help="20 iterations on 5,000 training columns")
    args = parser.parse_args()
    start = time.perf_counter()
    images, labels = load_mnist("train")
    order = np.random.default_rng(args.seed).permutation(len(images))
    held_out, train = order[:HELD_OUT], order[HELD_OUT:]
    if args.quick:
        train = train[:5000]
    X, y = columns(images[train]), labels[train].astype(np.int64)
    X_held, y_held = columns(images[held_out]), labels[held_out]
    Y = closed_form.one_hot(y, 10).astype(np.float32)
    tm.manual_seed(args.seed)
    params = init_params()
    opt = optim.SGD(params, lr=args.lr)
    check = ClosedFormCheck(X, y) if args.check_closed_form else None
    iterations = 20 if args.quick else args.iterations
    for i in range(iterations):
        loss = loss_fn(params, Tensor(X), Y)
        opt.zero_grad()
        loss.backward()
        if check is not None and i % args.check_closed_form == 0:
            check(params, i)
        if args.writeup_bias_update:  # db = 1/m * sum(dZ) over every entry: one number for the whole vector
            for b in params[1::2]:
                assert b.grad is not None
                b.grad = Tensor(np.full_like(b.grad.data, b.grad.data.sum()))
        opt.step()
        if i % 50 == 0 or i == iterations - 1:
            print(f"iteration {i}: loss {loss.item():.4f}, training accuracy {accuracy(params, X, y):.4f} "
                  f"({time.perf_counter() - start:.1f} s)")
    test_images, test_labels = load_mnist("test")
    train_acc, held_acc = accuracy(params, X, y), accuracy(params, X_held, y_held)
    test_acc = accuracy(params, columns(test_images), test_labels)
    print(f"{iterations} iterations on {X.shape[1]} columns in {time.perf_counter() - start:.1f} s")
    print(f"training accuracy {train_acc:.4f} (write-up: {WRITEUP}); "
          f"held-out accuracy {held_acc:.4f} ({HELD_OUT} samples); test accuracy {test_acc:.4f}")


if __name__ == "__main__":
    main()
