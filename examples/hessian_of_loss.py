"""The largest eigenvalue of the Hessian of a tiny network's loss, by power iteration on Hessian-vector products.

The loss of a small MLP on a few MNIST digits is a function of all its
parameters. Its Hessian H (second derivatives) says how curved the loss is:
the largest eigenvalue bounds the learning rate plain gradient descent can use
(about 2 / lambda_max). ``autograd.hvp`` gives H v for any v at the cost of two
backward passes, so power iteration finds lambda_max without building H; for a
network this small the full Hessian can also be built with ``autograd.hessian``
and its eigenvalues computed by numpy, which checks the iteration.

    python examples/hessian_of_loss.py            # 784-8-10 on 64 digits, all 6,370 parameters
    python examples/hessian_of_loss.py --quick    # a smaller net for the test suite
"""

from __future__ import annotations

import argparse

import numpy as np

from tinygrad_mnist import Tensor, autograd
from tinygrad_mnist.datasets import load_mnist
from tinygrad_mnist.nn import functional as F


def make_loss(images: np.ndarray, labels: np.ndarray, sizes: tuple[int, int, int]):
    """The mean cross-entropy as a function of one flat float64 parameter vector."""
    n_in, n_hidden, n_out = sizes
    x = Tensor(images.reshape(len(images), -1)[:, :n_in].astype(np.float64) / 255)
    cut = [n_hidden * n_in, n_hidden, n_out * n_hidden, n_out]
    bounds = np.cumsum([0] + cut)

    def loss(theta: Tensor) -> Tensor:
        w1, b1, w2, b2 = (theta[int(a):int(b)] for a, b in zip(bounds[:-1], bounds[1:]))
        hidden = (x @ w1.reshape(n_hidden, n_in).T + b1).tanh()
        return F.cross_entropy(hidden @ w2.reshape(n_out, n_hidden).T + b2, labels)

    return loss, int(bounds[-1])


def power_iteration(loss, theta: Tensor, steps: int, seed: int = 0) -> float:
    """The Hessian's eigenvalue of largest magnitude at theta, from repeated Hessian-vector products."""
    v = np.random.default_rng(seed).normal(size=theta.shape)
    v /= np.linalg.norm(v)
    value = 0.0
    for _ in range(steps):
        _, hv = autograd.hvp(loss, theta, Tensor(v))
        value = float(v @ hv.data)  # Rayleigh quotient
        v = hv.data / np.linalg.norm(hv.data)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 64-input, 4-hidden network on 16 digits")
    parser.add_argument("--steps", type=int, default=50, help="power-iteration steps")
    args = parser.parse_args()
    images, labels = load_mnist("test")
    sizes, samples = ((64, 4, 10), 16) if args.quick else ((784, 8, 10), 64)
    loss, count = make_loss(images[:samples], labels[:samples].astype(np.int64), sizes)
    theta = Tensor(np.random.default_rng(1).normal(scale=0.1, size=count))
    print(f"network {'-'.join(map(str, sizes))}, {count} parameters, loss {loss(theta).item():.4f} on {samples} digits")
    estimate = power_iteration(loss, theta, args.steps)
    print(f"power iteration ({args.steps} Hessian-vector products): lambda_max ~ {estimate:.6f}")
    if count <= 2000:
        eigenvalues = np.linalg.eigvalsh(autograd.hessian(loss, theta).data)
        print(f"full Hessian ({count} x {count}) eigenvalues: max {eigenvalues[-1]:.6f}, min {eigenvalues[0]:.6f}")
        print(f"relative difference of lambda_max: {abs(estimate - eigenvalues[-1]) / abs(eigenvalues[-1]):.2e}")
    print(f"largest stable step for gradient descent here: about 2 / lambda_max = {2 / estimate:.3f}")


if __name__ == "__main__":
    main()
