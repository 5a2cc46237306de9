"""Reproduce Stephen Oman's 784-512-10 network ("Solving MNIST with a Neural Network from the ground up").

Oman borrows the layer sizes of the TensorFlow beginner example, writes
backpropagation by hand (first as a chain of Jacobian matrices, then in the
"short form") and reports 92-95 % test accuracy over several runs. The recipe of
his notebook, rebuilt here from the framework's Tensor ops (no hand-written
backward):

* pixels scaled to [0, 1] by dividing by 255;
* biases folded into the weights: each layer sees its input with a constant 1
  appended, so its weight matrix is (out, in + 1) and its last column is the
  bias (his notebook stacks the 1 on top, the position does not matter);
* every weight, bias column included, drawn from U(-1, 1);
* hidden layer 512 wide with leaky ReLU of slope 0.1, softmax + cross-entropy
  (mean over the batch) at the output;
* plain SGD, learning rate 0.1, batches of 50 in file order (no shuffling), 5 epochs.

``--check-closed-form N`` casts the parameters and the batch of every N-th step
to float64, recomputes the engine's gradients there and compares them with the
numpy closed form (:mod:`tinygrad_mnist.mnist.reference.closed_form`, after splitting
each weight matrix into W and b); the scale-relative error
``max|engine - closed form| / max|closed form|`` must stay below 1e-10. The
float32 gradients the step actually uses are compared too, for information.

    python examples/oman_784_512_10.py                            # 5 epochs
    python examples/oman_784_512_10.py --check-closed-form 200    # with the check
    python examples/oman_784_512_10.py --quick --check-closed-form 1
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor, concatenate, nn, optim
from tinygrad_mnist.datasets import DataLoader, load_mnist
from tinygrad_mnist.nn import functional as F
from tinygrad_mnist.mnist.reference import closed_form
from tinygrad_mnist.mnist.training import model_accuracy
from tinygrad_mnist.mnist.reference.closed_form import relative_error

SLOPE = 0.1  # leaky ReLU's slope for negative inputs
TOLERANCE = 1e-10  # float64 engine vs float64 closed form, scale-relative
WRITEUP = "92-95 %"


def append_ones(x: Tensor) -> Tensor:
    """``[x, 1]`` along the last axis: the constant column receives no gradient."""
    return concatenate([x, Tensor(np.ones((x.shape[0], 1), dtype=x.dtype))], axis=1)


class BiasColumnLayer(nn.Module):
    """``z = [x, 1] @ weight.T`` with weight (out, in + 1): the last column is the bias."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(np.empty((n_out, n_in + 1), dtype=np.float32))
        nn.init.uniform_(self.weight, -1.0, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        return append_ones(x) @ self.weight.T


class OmanNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = BiasColumnLayer(784, 512)
        self.out = BiasColumnLayer(512, 10)

    def layers(self) -> list[BiasColumnLayer]:
        return [self.hidden, self.out]

    def forward(self, x: Tensor) -> Tensor:
        logits: Tensor = self.out(F.leaky_relu(self.hidden(x), SLOPE))
        return logits


def check_closed_form(model: OmanNet, x: np.ndarray, y: np.ndarray, step: int) -> None:
    """The engine's float64 gradients on this batch equal the closed form, or SystemExit."""
    twin = copy.deepcopy(model)
    for p in twin.parameters():
        p.data, p.grad = p.data.astype(np.float64), None
    F.cross_entropy(twin(Tensor(x.astype(np.float64))), y).backward()
    weights = [layer.weight.data for layer in twin.layers()]
    ref = closed_form.backward([w[:, :-1] for w in weights], [w[:, -1] for w in weights],
                               x.astype(np.float64).T, y, act="leaky_relu", negative_slope=SLOPE)
    errors: dict[int, float] = {64: 0.0, 32: 0.0}  # the float64 twin's gradients, the step's float32 ones
    for kind, net in ((64, twin), (32, model)):
        for l, layer in enumerate(net.layers()):
            assert layer.weight.grad is not None
            g = layer.weight.grad.data.astype(np.float64)  # split back into dW (all but last column) and db
            errors[kind] = max(errors[kind], relative_error(g[:, :-1], ref.dW[l]),
                               relative_error(g[:, -1], ref.db[l].ravel()))
    if not errors[64] <= TOLERANCE:
        raise SystemExit(f"closed-form check FAILED at step {step}: relative error {errors[64]:.2e} > {TOLERANCE:g}")
    print(f"closed-form check passed at step {step} (float64 relative error {errors[64]:.1e}; "
          f"float32 step gradients {errors[32]:.1e})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="seed of the U(-1, 1) initialisation")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--check-closed-form", type=int, default=0, metavar="N",
                        help="compare the gradients with the closed form every N steps (0: never)")
    parser.add_argument("--quick", action="store_true", help="100 steps of one epoch")
    args = parser.parse_args()
    start = time.perf_counter()
    tm.manual_seed(args.seed)
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    model = OmanNet()
    opt = optim.SGD(model.parameters(), lr=args.lr)
    loader = DataLoader(train_x, train_y, batch_size=50, shuffle=False)  # file order, as in the notebook
    step = 0
    for epoch in range(1 if args.quick else args.epochs):
        losses, hits, seen = [], 0, 0
        for x, y in loader:
            logits = model(Tensor(x))
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            if args.check_closed_form and step % args.check_closed_form == 0:
                check_closed_form(model, x, y, step)
            opt.step()
            losses.append(loss.item())
            hits, seen, step = hits + int(np.sum(logits.data.argmax(axis=1) == y)), seen + len(y), step + 1
            if args.quick and step == 100:
                break
        accuracy = model_accuracy(model, test_x, test_y)
        print(f"epoch {epoch + 1}: mean loss {np.mean(losses):.4f}, training accuracy {hits / seen:.4f}, "
              f"test accuracy {accuracy:.4f} ({time.perf_counter() - start:.1f} s)")
    print(f"{step} steps in {time.perf_counter() - start:.1f} s")
    print(f"test accuracy {accuracy:.4f} (write-up: {WRITEUP})")


if __name__ == "__main__":
    main()
