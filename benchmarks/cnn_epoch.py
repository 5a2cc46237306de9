"""Seconds per MNIST epoch of the CNN: the framework against PyTorch eager, in the same run.

Both sides train the default CNN, ``build_model(cnn_architecture())`` of
:mod:`tinygrad_mnist.mnist.models` (rows of 784 pixels unflattened to 1x28x28,
standardised, conv 32 3x3 -> ReLU -> 2x2 max-pool -> conv 64 3x3 -> ReLU -> 2x2
max-pool -> flatten -> 1600-128-10, ReLU), float32, batch 128, Adam (lr 1e-3,
betas (0.9, 0.999), eps 1e-8), one epoch of 468 steps (drop_last). The PyTorch
model is translated from the framework's, layer for layer (a layer with no
translation written here stops the run), so the two follow the default
architecture wherever it goes. Everything else is shared with the MLP
benchmarks, so that the comparison is like for like:

* the batches are ``mlp_epoch._data`` (the same shuffle, seed 0, prepared
  before the clock starts; rows of 784 pixels, which both models unflatten);
* the initial weights are the framework's seeded init (``manual_seed(0)`` then
  ``build_model(cnn_architecture())``), copied into the PyTorch model: the
  layouts agree (OIHW conv weights, (out, in) linear weights) and so does the
  order of the parameters (checked, shape by shape);
* PyTorch runs on ``torch_mlp.cpu_threads()`` threads (the CPUs this process
  may use, what numpy's OpenBLAS uses by default), its default Adam (the
  per-parameter loop), no subnormal flushing, no warm-up step, as in
  ``torch_mlp.py``.

Each measurement is a fresh interpreter that prints one JSON line (seconds,
final loss, peak RSS, steps); rounds alternate the two implementations, and the
figure to quote is the median of the per-round ratios (the per-round seconds and
the load average are printed too: on a machine with few cores a round that
overlapped another busy process stands out). The two final losses are
reported side by side: same weights, same batches, same optimizer. The first
forward pass agrees to float32 rounding, and so do the gradients, except in
the pooling windows that hold two values equal to within rounding (common: the
standardised background is uniform), where each side may send the window's
gradient to a different one of them. The runs drift apart from there, Adam
scaling tiny gradient differences up to full-size steps: after 5 steps the
losses differ by about 1e-4, after a whole epoch the last batch's losses
(small, under 0.15) by about 0.01. Without an importable
``torch`` the child exits with ``torch_mlp.NOT_IMPORTABLE`` and the project side
is still timed.

Where the time goes (``--profile``, its own fresh interpreter, 50 steps by
default): every primitive of ``tinygrad_mnist.core.rules.PRIMITIVES`` has its numpy
forward wrapped by a timer for the run (and restored afterwards). The VJPs are
written in primitives, so nearly all the numpy work of a step happens in those
forwards; what does not is timed too: the optimizer's update (as a whole), and
any numpy kernel of ``tinygrad_mnist.core.kernels`` that a VJP would call directly rather
than through a primitive (none at present: ``max_pool2d`` saves the positions
of its maxima for its VJP), wrapped where ``ops`` looks them up. Each
row is split by phase: the forward pass (model and loss) or inside
``loss.backward()``. What is left of the step, "the rest", is the engine and
Python around the numpy calls (graph recording, the reverse walk, module calls,
``zero_grad``) plus the little numpy written inline in VJPs (the mask
``a.data > 0`` of ``relu``'s VJP, say) and in the engine (summing fan-out
gradients, copying a leaf's gradient that is a view), per phase. The rows add
up to the step time.

The PyTorch-examples CNN (``--model examples``): the network of the
pytorch/examples MNIST script, conv 32 3x3 -> ReLU -> conv 64 3x3 -> ReLU ->
2x2 max-pool -> dropout 0.25 -> flatten -> 9216-128 -> ReLU -> dropout 0.5 ->
128-10 -> log-softmax, with the negative log-likelihood loss, float32, batch
64, Adam (lr 1e-3, as above), a fixed number of steps (``EXAMPLES_STEPS``, 100;
``--steps`` changes it) on the same seeded shuffle of the training set. Both
sides start from the framework's seeded initial weights, copied into the
PyTorch model as above. Each side draws its own dropout masks, so the two
losses follow different (equally likely) paths and are printed for
plausibility only; the rest of the step is the same work.

Run from the repository root::

    python -m benchmarks.cnn_epoch              # 3 rounds of one epoch each (about two minutes on 2 cores)
    python -m benchmarks.cnn_epoch --rounds 5 --json results.json
    python -m benchmarks.cnn_epoch --steps 50   # shorter runs
    python -m benchmarks.cnn_epoch --quick      # 5 steps, 1 round: checks the harness only
    python -m benchmarks.cnn_epoch --profile    # where a step's time goes, 50 steps
    python -m benchmarks.cnn_epoch --model examples             # the PyTorch-examples CNN, 100 steps
    python -m benchmarks.cnn_epoch --model examples --profile   # and where its step's time goes

Target: time ratio project / PyTorch <= 2.0 for the default CNN, <= 1.5 for the PyTorch-examples CNN.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np

from benchmarks import mlp_epoch, peak_rss_mb, step_profile, torch_mlp
from benchmarks.mlp_epoch import BATCH, BETAS, EPS, LR
from benchmarks.torch_mlp import NOT_IMPORTABLE, cpu_threads

TARGET = 2.0  # seconds ratio project / PyTorch, the default CNN
EXAMPLES_TARGET = 1.5  # the same for the PyTorch-examples CNN
QUICK_STEPS = 5
PROFILE_STEPS = 50
EXAMPLES_STEPS = 100  # steps of the PyTorch-examples CNN when --steps is not given
EXAMPLES_BATCH = 64
MODELS = ("cli", "examples")

Batches = list[tuple[np.ndarray, np.ndarray]]


def _model(model: str = "cli"):
    """The framework's CNN (``model``: "cli", the default CNN, or "examples") with its seeded initial weights."""
    import tinygrad_mnist as tm
    from tinygrad_mnist import nn
    from tinygrad_mnist.mnist.models import build_model, cnn_architecture

    tm.manual_seed(0)
    if model == "examples":  # the network of the pytorch/examples MNIST script
        return nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128),
                             nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10), nn.LogSoftmax(dim=1))
    return build_model(cnn_architecture())


def _description(model: str = "cli") -> str:
    from tinygrad_mnist.mnist.models import cnn_architecture, describe

    if model == "examples":
        return "PyTorch-examples CNN (conv 32-64 3x3, max-pool, dropout, 9216-128-10, log-softmax + NLL)"
    return describe(cnn_architecture())


def _batch(model: str) -> int:
    return EXAMPLES_BATCH if model == "examples" else BATCH


def _data(model: str, steps: int | None) -> Batches:
    """The CLI CNN's batches are the MLP benchmarks'; the examples CNN's are the same shuffle in batches of 64."""
    if model != "examples":
        return mlp_epoch._data(steps)
    from tinygrad_mnist.datasets import DataLoader, load_mnist

    images, labels = load_mnist("train")
    loader = DataLoader(images, labels, batch_size=EXAMPLES_BATCH, shuffle=True, seed=0, drop_last=True)
    batches = list(loader.batches(0))  # prepared up front: the run times only training
    return batches[:steps or EXAMPLES_STEPS]


def _train_project(batches: Batches, on_step: Callable[[str], None] = step_profile.no_clock,
                   model_name: str = "cli") -> tuple[float, float]:
    """The framework's training loop over ``batches``; ``on_step(phase)`` is told where each step is
    (the profile's clock; five calls of a no-op in a step of tens of milliseconds otherwise)."""
    from tinygrad_mnist import Tensor, optim
    from tinygrad_mnist.nn import functional as F

    model = _model(model_name)
    criterion = F.nll_loss if model_name == "examples" else F.cross_entropy
    opt = optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=EPS)
    start = time.perf_counter()
    for x, y in batches:
        on_step("forward")
        loss = criterion(model(Tensor(x)), y)
        on_step("zero_grad")
        opt.zero_grad()
        on_step("backward")
        loss.backward()
        on_step("optimizer")
        opt.step()
        on_step("end")
    return time.perf_counter() - start, loss.item()


def run_project(batches: Batches, model: str = "cli") -> tuple[float, float]:
    return _train_project(batches, model_name=model)


def _torch_layer(layer: Any) -> Any:
    """The PyTorch module that computes what the framework's ``layer`` computes."""
    import torch
    from torch import nn

    kind = type(layer).__name__
    if kind == "Unflatten":
        return nn.Unflatten(layer.dim, layer.unflattened_size)
    if kind == "Normalize":  # the framework's formula, with its float32 constants: (x - mean) * (1 / std)
        class Normalize(nn.Module):
            def __init__(self, mean: float, std: float) -> None:
                super().__init__()
                self.mean = torch.tensor(mean, dtype=torch.float32)
                self.scale = torch.tensor(1.0 / std, dtype=torch.float32)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return (x - self.mean) * self.scale

        return Normalize(layer.mean, layer.std)
    if kind == "Conv2d":
        return nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                         padding=layer.padding, bias=layer.bias is not None)
    if kind == "MaxPool2d":
        return nn.MaxPool2d(layer.kernel_size, layer.stride)
    if kind == "Linear":
        return nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    if kind == "LeakyReLU":
        return nn.LeakyReLU(layer.negative_slope)
    if kind in ("ReLU", "Sigmoid", "Tanh", "Flatten"):
        return getattr(nn, kind)()
    if kind == "Dropout":
        return nn.Dropout(layer.p)
    if kind == "LogSoftmax":
        return nn.LogSoftmax(dim=layer.dim)
    raise NotImplementedError(f"cnn_epoch: no PyTorch counterpart written for the layer {layer!r}")


def torch_model(model: str = "cli"):
    """The same CNN in PyTorch, layer for layer, with the framework's initial weights copied in."""
    from torch import nn

    ours = _model(model)
    translated = nn.Sequential(*(_torch_layer(layer) for layer in ours))
    return torch_mlp.copy_weights(translated, [p.data for p in ours.parameters()])


def run_torch(batches: Batches, model: str = "cli") -> tuple[float, float]:
    import torch

    torch.set_num_threads(cpu_threads())
    if model == "examples":
        return torch_mlp.train_torch(torch_model(model), batches, loss_name="nll_loss")
    return torch_mlp.train_torch(torch_model(model), batches)


def profile(batches: Batches, model: str = "cli") -> dict[str, Any]:
    """Train over ``batches`` with every primitive forward timed; the breakdown per step."""
    def train(steps: Batches, on_step: Callable[[str], None]) -> tuple[float, float]:
        return _train_project(steps, on_step, model)

    return step_profile.profile(batches, train)


# ---- fresh interpreters ----------------------------------------------------------------
def child(impl: str, steps: int | None, model: str = "cli") -> int:
    if impl == "torch":
        try:
            import torch
        except Exception as exc:  # not installed, or installed but broken (missing shared libraries)
            print(json.dumps({"impl": "torch", "error": f"{type(exc).__name__}: {exc}"}))
            return NOT_IMPORTABLE
    batches = _data(model, steps)
    if impl == "profile":
        print(json.dumps(profile(batches, model)))
        return 0
    seconds, loss = (run_torch if impl == "torch" else run_project)(batches, model)
    peak_mb = peak_rss_mb()
    result = {"impl": impl, "seconds": seconds, "final_loss": loss, "peak_rss_mb": peak_mb,
              "steps": len(batches), "batch": _batch(model), "model": model}
    if impl == "torch":
        result.update(torch=torch.__version__, threads=torch.get_num_threads())
    print(json.dumps(result))
    return 0


def measure(impl: str, steps: int | None, model: str = "cli") -> dict[str, Any]:
    """One epoch (or ``steps`` steps) of ``impl`` ("project", "torch" or "profile") in a fresh
    interpreter, for ``model`` ("cli" or "examples", the latter 100 steps by default); for torch,
    ``{"error": ...}`` when it cannot be imported."""
    command = [sys.executable, "-m", "benchmarks.cnn_epoch", "--child", impl, "--model", model]
    if steps:
        command += ["--steps", str(steps)]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if impl == "torch" and done.returncode == NOT_IMPORTABLE and lines:
        return json.loads(lines[-1])
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(command)} failed with status {done.returncode}:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


# ---- report ----------------------------------------------------------------------------
def summarise(results: dict[str, list[dict[str, Any]]], note: str, model: str = "cli") -> dict[str, Any]:
    med = statistics.median
    target = EXAMPLES_TARGET if model == "examples" else TARGET
    project = results["project"]
    summary: dict[str, Any] = {
        "steps": project[0]["steps"],
        "rounds": len(project),
        "project_seconds": med(r["seconds"] for r in project),
        "project_peak_rss_mb": med(r["peak_rss_mb"] for r in project),
        "project_samples": [r["seconds"] for r in project],
        "final_loss": {impl: runs[-1]["final_loss"] for impl, runs in results.items() if runs},
        "target": target,
        "model": model,
    }
    if results["torch"]:
        torch_runs = results["torch"]
        ratios = [p["seconds"] / t["seconds"] for p, t in zip(project, torch_runs)]
        summary.update(torch_seconds=med(r["seconds"] for r in torch_runs), time_ratio=med(ratios),
                       torch_samples=[r["seconds"] for r in torch_runs],
                       ratios=ratios, torch_peak_rss_mb=med(r["peak_rss_mb"] for r in torch_runs),
                       torch=torch_runs[0]["torch"], threads=torch_runs[0]["threads"])
        summary["pass"] = bool(summary["time_ratio"] <= target)
        summary["status"] = "pass" if summary["pass"] else "miss"
    else:
        summary.update(status="skipped", note=note, **{"pass": None})
    return summary


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


def _load_text(summary: dict[str, Any]) -> str:
    start, end = summary.get("load_average_start") or ["?"], summary.get("load_average_end") or ["?"]
    return f"{start[0]} at start, {end[0]} at end"


def format_summary(summary: dict[str, Any], model: str = "cli") -> str:
    lines = [f"{_description(model)}, float32, batch {_batch(model)}, Adam: {summary['steps']} steps, "
             f"{summary['rounds']} round(s)"]
    lines.append(f"{'':20}{'project':>10}{'torch':>10}{'ratio':>8}{'target':>9}{'result':>8}")
    if summary["status"] == "skipped":
        lines.append(f"{'seconds':20}{summary['project_seconds']:10.3f}{'-':>10}{'-':>8}"
                     f"{'<= ' + format(summary['target'], 'g'):>9}{'skipped':>8}")
        lines.append(f"{'peak RSS (MB)':20}{summary['project_peak_rss_mb']:10.1f}{'-':>10}")
        lines.append(f"PyTorch side skipped: {summary['note']}")
        lines.append(f"per-round seconds: project {_list(summary['project_samples'])}; "
                     f"load average {_load_text(summary)}")
        lines.append(f"final loss: project {summary['final_loss']['project']:.6f}")
        return "\n".join(lines)
    lines.append(f"{'seconds':20}{summary['project_seconds']:10.3f}{summary['torch_seconds']:10.3f}"
                 f"{summary['time_ratio']:8.3f}{'<= ' + format(summary['target'], 'g'):>9}{summary['status']:>8}")
    lines.append(f"{'peak RSS (MB)':20}{summary['project_peak_rss_mb']:10.1f}{summary['torch_peak_rss_mb']:10.1f}")
    loss = summary["final_loss"]
    lines.append(f"per-round seconds: project {_list(summary['project_samples'])}, "
                 f"torch {_list(summary['torch_samples'])}; ratios {_list(summary['ratios'])}")
    lines.append(f"torch {summary['torch']}, {summary['threads']} thread(s); "
                 f"load average {_load_text(summary)}")
    lines.append(f"final loss: project {loss['project']:.6f}, torch {loss['torch']:.6f} "
                 f"(difference {abs(loss['project'] - loss['torch']):.2e})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cnn_epoch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, help="steps per run (default: the whole epoch; "
                                                  f"{PROFILE_STEPS} with --profile, {QUICK_STEPS} with --quick)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps, 1 round: a harness check")
    parser.add_argument("--profile", action="store_true",
                        help="where a step's time goes (the project only, one fresh interpreter)")
    parser.add_argument("--model", choices=MODELS, default="cli",
                        help="cli: the default CNN (default); examples: the PyTorch-examples CNN, "
                             f"batch {EXAMPLES_BATCH}, {EXAMPLES_STEPS} steps unless --steps")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", choices=["project", "torch", "profile"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.steps, args.model)
    if args.profile:
        result = measure("profile", args.steps or (QUICK_STEPS if args.quick else PROFILE_STEPS), args.model)
        print(step_profile.format_profile(
            result, f"{_description(args.model)}, float32, batch {_batch(args.model)}, Adam"))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        return 0
    steps, rounds = (args.steps or QUICK_STEPS, 1) if args.quick else (args.steps, args.rounds)
    results: dict[str, list[dict[str, Any]]] = {"project": [], "torch": []}
    impls, note, load_start = ["project", "torch"], "", _load()
    for _ in range(rounds):
        for impl in list(impls):
            result = measure(impl, steps, args.model)
            if "error" in result:  # torch cannot be imported: say so and time the project alone
                impls.remove(impl)
                note = f"torch cannot be imported ({result['error'][:200]})"
                continue
            results[impl].append(result)
    summary = summarise(results, note, args.model)
    summary.update(load_average_start=load_start, load_average_end=_load())
    print(format_summary(summary, args.model))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "runs": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
