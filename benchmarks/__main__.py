"""Every performance figure of the project in one run, each against its target.

Run from the repository root::

    python -m benchmarks                   # 3 rounds (about two minutes on 2 cores, most of it the CNN epochs)
    python -m benchmarks --rounds 5
    python -m benchmarks --quick           # smoke run for CI: a few steps, 1 round, well under 30 s
    python -m benchmarks --cnn-steps 50    # shorter CNN runs
    python -m benchmarks --json out.json   # default: benchmarks/results/latest.json (git-ignored)

The figures, measured by the functions of the single-purpose scripts (so that
each measurement is written once):

* MLP epoch (``mlp_epoch.py``, ``torch_mlp.py``): one MNIST epoch of
  784-512-10, float32, batch 128, Adam, from the same initial weights on the
  same batches, by the framework, by hand-written numpy and, when ``torch`` can
  be imported, by PyTorch eager (otherwise that line says why it was skipped).
  Each run is a fresh interpreter. The ratio is the median of the per-round
  ratios. Targets: framework / numpy <= 1.00, framework / PyTorch <= 0.90.
  The same MLP written with plain ops as users write custom networks
  (``(x @ W1 + b1).relu() @ W2 + b2``, W shaped (in, out)), from the same
  weights transposed: framework / PyTorch <= 0.90.
* Peak RSS of those same 1-epoch runs (``ru_maxrss`` of each child), framework
  against numpy: ratio <= 1.10. Both include the prepared batches of the epoch.
* Per-op overhead (``overhead.py``): ``((a*b)+a).sum()`` forward and backward
  on 10-element float32 vectors, with leaf creation, per iteration: <= 25 us,
  with the same arithmetic by hand in numpy beside it; and against the same
  step in PyTorch eager in the same process: ratio <= 0.60. Each round runs it in
  three fresh interpreters (``--per-op-processes``), and the figure is the median
  over all of them: the time of the same code moves between processes, bimodally.
* Backward scaling (``overhead.py``): t(100,000-node chain) / t(10,000): <= 11.
* ``import tinygrad_mnist`` in a fresh interpreter, timed inside it (interpreter
  start-up excluded), median of several runs, beside ``import numpy`` measured
  the same way: <= 150 ms. Bytecode is cached in a temporary directory
  (``PYTHONPYCACHEPREFIX``) by a discarded warm-up run, as after an install,
  even where ``PYTHONDONTWRITEBYTECODE`` is set; the source tree is not written.
* CNN epoch (``cnn_epoch.py``): one MNIST epoch of the default CNN
  (``build_model(cnn_architecture())``: conv 32 and conv 64, 3x3, each with ReLU
  and 2x2 max-pool, then 1600-128-10; PyTorch's copy is translated layer for
  layer), float32, batch 128, Adam, from the same initial weights on the same batches,
  by the framework and by PyTorch eager, each in a fresh interpreter; ratio
  framework / PyTorch (median of the per-round ratios) <= 1.30. Without an
  importable ``torch`` the line says why it was skipped. Where the framework's
  step spends its time: ``python -m benchmarks.cnn_epoch --profile``.
* The pytorch/examples MNIST CNN (``cnn_epoch.py --model examples``: two 3x3
  convolutions of 32 and 64 channels before one max-pool, dropout, 9216-128-10,
  batch 64, Adam), 100 steps (or ``--cnn-steps``), framework / PyTorch <= 1.50.
* Per-example gradients (``per_example.py``): ``vmap(grad(loss))`` over a batch
  of 128 (8 with ``--quick``) for the 784-512-10 MLP in float64, against a
  Python loop of ``grad(loss)`` per example, after checking that they agree to
  1e-10; ratio vmap / loop <= 0.1 (a 10x speed-up).

With numba installed (the ``[fast]`` extra), the child runs use the compiled loops of
convolution and pooling; the run says so (``compiled kernels: on``) and warms numba's
cache first, untimed. ``TINYGRAD_MNIST_ACCELERATOR=0 python -m benchmarks`` measures
the numpy-only build.

Rounds alternate all the measurements (MLP runs, CNN runs, imports, per-op, chain), so a
drift in machine speed hits every implementation alike; each figure is the
median over rounds. On a machine with as few cores as this one's 2, another
busy process skews the figures (multi-threaded PyTorch most of all); the load
average at the start and the end is printed and saved with the figures.

The run prints a table (figure, project, reference, ratio, target, pass/miss)
and writes the JSON. It exits with status 0 whenever it completes: it reports,
it does not test.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import cnn_epoch, mlp_epoch, overhead, per_example, torch_mlp
from tinygrad_mnist.core import accelerator
from benchmarks.overhead import _positive

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "latest.json"

TARGETS = {
    "mlp_epoch_vs_numpy": 1.00,  # time ratio
    "mlp_epoch_vs_torch": 0.90,  # time ratio
    "mlp_plain_vs_torch": 0.90,  # time ratio: the same MLP written with plain ops, W shaped (in, out)
    "peak_rss": 1.10,  # ratio
    "per_op_overhead": 25.0,  # microseconds, absolute
    "per_op_vs_torch": 0.60,  # time ratio
    "chain_ratio": 11.0,  # t(1e5) / t(1e4)
    "import_time": 150.0,  # milliseconds, absolute
    "cnn_epoch_vs_torch": 1.30,  # time ratio
    "examples_cnn_vs_torch": 1.50,  # time ratio: the pytorch/examples MNIST CNN, batch 64
    "per_example_grads": 0.1,  # time ratio vmap(grad) / loop of grad: a 10x speed-up
}
FIGURES = ("mlp_epoch_vs_numpy", "mlp_epoch_vs_torch", "mlp_plain_vs_torch", "peak_rss", "per_op_overhead",
           "per_op_vs_torch", "chain_ratio", "import_time", "cnn_epoch_vs_torch", "examples_cnn_vs_torch",
           "per_example_grads")
PER_EXAMPLE_BATCH, QUICK_PER_EXAMPLE_BATCH = 128, 8

QUICK_CNN_STEPS = 5  # a CNN step costs about as much as a whole MLP run's 20: the quick run stays quick

_IMPORT_CODE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


# ---- measurements ----------------------------------------------------------------------
def run_mlp(impl: str, steps: int | None) -> dict[str, Any]:
    """One epoch (or ``steps`` steps) of ``impl`` in a fresh interpreter."""
    if impl == "torch":
        return torch_mlp.measure(steps)
    try:
        return mlp_epoch.measure(impl, steps)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"the {impl} MLP run failed with status {exc.returncode}:\n{(exc.stderr or '')[-2000:]}")


def import_seconds(module: str, env: dict[str, str]) -> float:
    """Seconds of ``import module`` in a fresh interpreter, timed inside it."""
    done = subprocess.run([sys.executable, "-c", _IMPORT_CODE.format(module=module)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"import {module} failed with status {done.returncode}:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


_PER_OP_CODE = ("import dataclasses, json; from benchmarks import overhead; "
                "print(json.dumps(dataclasses.asdict(overhead.measure_per_op({iterations}, 1))))")


PER_OP_PROCESSES = 3  # fresh interpreters per round for the per-op figure (one draw each of its spread)


def per_op_in_child(iterations: int) -> overhead.PerOpResult:
    """One sample of the per-op figure, measured in a fresh interpreter.

    The per-op time of the same code moves by up to 50 % from one process to the next
    (hash seed, memory layout, the state left by earlier measurements), bimodally; a
    fresh process per round samples that spread instead of repeating one draw of it.
    """
    done = subprocess.run([sys.executable, "-c", _PER_OP_CODE.format(iterations=iterations)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"the per-op run failed with status {done.returncode}:\n{done.stderr[-2000:]}")
    return overhead.PerOpResult(**json.loads(done.stdout.strip().splitlines()[-1]))


def torch_status() -> tuple[bool, str]:
    """Whether to run the PyTorch side, and why not."""
    if importlib.util.find_spec("torch") is None:
        return False, "torch is not installed"
    return True, ""


# ---- figures ---------------------------------------------------------------------------
def figure(label: str, unit: str, project: float, reference: float, reference_name: str, ratio: float,
           target_key: str, target_on: str, samples: dict[str, list[float]], **extra: Any) -> dict[str, Any]:
    """One row: the value compared with the target is the ratio or the project's own figure."""
    target = TARGETS[target_key]
    value = ratio if target_on == "ratio" else project
    ok = bool(value <= target)
    return {"label": label, "unit": unit, "project": project, "reference": reference,
            "reference_name": reference_name, "ratio": ratio, "target": target, "target_on": target_on,
            "value": value, "pass": ok, "status": "pass" if ok else "miss", "samples": samples, **extra}


def skipped(label: str, target_key: str, note: str) -> dict[str, Any]:
    return {"label": label, "status": "skipped", "note": note, "target": TARGETS[target_key],
            "target_on": "ratio", "pass": None}


def summarise(runs: dict[str, list[dict[str, Any]]], torch_note: str, per_op: list[overhead.PerOpResult],
              chains: list[overhead.ChainResult], imports: dict[str, list[float]],
              cnn_runs: dict[str, list[dict[str, Any]]] | None = None,
              cnn_note: str = "", per_example_runs: list[dict[str, float]] | None = None,
              per_example_batch: int = PER_EXAMPLE_BATCH,
              examples_runs: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, dict[str, Any]]:
    med = statistics.median
    figures: dict[str, dict[str, Any]] = {}
    project, numpy_runs = runs["project"], runs["numpy"]
    p_sec = [r["seconds"] for r in project]
    n_sec = [r["seconds"] for r in numpy_runs]
    losses = {impl: r[-1]["final_loss"] for impl, r in runs.items() if r}
    figures["mlp_epoch_vs_numpy"] = figure(
        f"MLP epoch ({project[0]['steps']} steps) vs numpy", "s", med(p_sec), med(n_sec), "numpy",
        med(p / n for p, n in zip(p_sec, n_sec)), "mlp_epoch_vs_numpy", "ratio",
        {"project": p_sec, "reference": n_sec}, final_loss=losses)
    if runs["torch"]:
        t_sec = [r["seconds"] for r in runs["torch"]]
        first = runs["torch"][0]
        figures["mlp_epoch_vs_torch"] = figure(
            f"MLP epoch ({project[0]['steps']} steps) vs PyTorch", "s", med(p_sec), med(t_sec), "torch",
            med(p / t for p, t in zip(p_sec, t_sec)), "mlp_epoch_vs_torch", "ratio",
            {"project": p_sec, "reference": t_sec}, final_loss=losses, torch=first["torch"],
            threads=first["threads"], torch_peak_rss_mb=med(r["peak_rss_mb"] for r in runs["torch"]))
    else:
        figures["mlp_epoch_vs_torch"] = skipped("MLP epoch vs PyTorch", "mlp_epoch_vs_torch", torch_note)
    if runs["torch"] and runs.get("plain"):
        plain_sec = [r["seconds"] for r in runs["plain"]]
        t_sec = [r["seconds"] for r in runs["torch"]]
        figures["mlp_plain_vs_torch"] = figure(
            f"MLP epoch, plain ops ({runs['plain'][0]['steps']} steps) vs PyTorch", "s", med(plain_sec), med(t_sec),
            "torch", med(p / t for p, t in zip(plain_sec, t_sec)), "mlp_plain_vs_torch", "ratio",
            {"project": plain_sec, "reference": t_sec}, final_loss=losses)
    else:
        figures["mlp_plain_vs_torch"] = skipped("MLP epoch, plain ops, vs PyTorch", "mlp_plain_vs_torch", torch_note)
    p_rss = [r["peak_rss_mb"] for r in project]
    n_rss = [r["peak_rss_mb"] for r in numpy_runs]
    figures["peak_rss"] = figure(
        f"peak RSS, MLP run ({project[0]['steps']} steps)", "MB", med(p_rss), med(n_rss), "numpy",
        med(p / n for p, n in zip(p_rss, n_rss)), "peak_rss", "ratio", {"project": p_rss, "reference": n_rss})
    p_us = [r.project_us for r in per_op]
    n_us = [r.numpy_us for r in per_op]
    figures["per_op_overhead"] = figure(
        "per-op overhead ((a*b)+a).sum() fwd+bwd", "us", med(p_us), med(n_us), "numpy",
        med(p_us) / med(n_us), "per_op_overhead", "project", {"project": p_us, "reference": n_us},
        iterations=per_op[0].iterations)
    t_us = [r.torch_us for r in per_op if r.torch_us is not None]
    if t_us:
        figures["per_op_vs_torch"] = figure(
            "per-op overhead ((a*b)+a).sum() fwd+bwd vs PyTorch", "us", med(p_us), med(t_us), "torch",
            med(p_us) / med(t_us), "per_op_vs_torch", "ratio", {"project": p_us, "reference": t_us})
    else:
        figures["per_op_vs_torch"] = skipped("per-op overhead vs PyTorch", "per_op_vs_torch", torch_note)
    small, large = (str(n) for n in overhead.CHAIN_SIZES)
    t_large = [c.seconds[large] * 1e3 for c in chains]
    t_small = [c.seconds[small] * 1e3 for c in chains]
    figures["chain_ratio"] = figure(
        f"backward chain t({int(large):.0e})/t({int(small):.0e})".replace("e+0", "e"), "ms", med(t_large),
        med(t_small), f"{int(small):,} nodes", med(t_large) / med(t_small), "chain_ratio", "ratio",
        {"project": t_large, "reference": t_small}, sizes=list(overhead.CHAIN_SIZES))
    p_ms = [s * 1e3 for s in imports["tinygrad_mnist"]]
    n_ms = [s * 1e3 for s in imports["numpy"]]
    figures["import_time"] = figure(
        "import tinygrad_mnist (fresh interpreter)", "ms", med(p_ms), med(n_ms), "import numpy",
        med(p_ms) / med(n_ms), "import_time", "project", {"project": p_ms, "reference": n_ms})
    figures["cnn_epoch_vs_torch"] = cnn_figure(cnn_runs or {"project": [], "torch": []}, cnn_note or torch_note)
    figures["examples_cnn_vs_torch"] = cnn_figure(
        examples_runs or {"project": [], "torch": []}, cnn_note or torch_note, "examples_cnn_vs_torch",
        "pytorch/examples CNN")
    fast = [r["vmap_s"] * 1e3 for r in per_example_runs or []]
    slow = [r["loop_s"] * 1e3 for r in per_example_runs or []]
    if fast:
        figures["per_example_grads"] = figure(
            f"per-example grads, MLP, batch {per_example_batch}: vmap vs loop", "ms", med(fast), med(slow),
            "loop of grad", med(f / s for f, s in zip(fast, slow)), "per_example_grads", "ratio",
            {"project": fast, "reference": slow})
    return figures


def cnn_figure(cnn_runs: dict[str, list[dict[str, Any]]], note: str, key: str = "cnn_epoch_vs_torch",
               name: str = "CNN epoch") -> dict[str, Any]:
    """A CNN row: framework / PyTorch seconds, median of the per-round ratios; skipped without PyTorch."""
    med = statistics.median
    project, torch_runs = cnn_runs["project"], cnn_runs["torch"]
    if not (project and torch_runs):
        note = note or "no CNN runs"
        if project:  # the project side was timed all the same: say what it took
            note += f"; project alone {_number(med(r['seconds'] for r in project), 's')} ({project[0]['steps']} steps)"
        return {**skipped(f"{name} vs PyTorch", key, note),
                "samples": {"project": [r["seconds"] for r in project]}}
    p_sec = [r["seconds"] for r in project]
    t_sec = [r["seconds"] for r in torch_runs]
    first = torch_runs[0]
    return figure(
        f"{name} ({project[0]['steps']} steps) vs PyTorch", "s", med(p_sec), med(t_sec), "torch",
        med(p / t for p, t in zip(p_sec, t_sec)), key, "ratio",
        {"project": p_sec, "reference": t_sec},
        final_loss={impl: r[-1]["final_loss"] for impl, r in cnn_runs.items() if r}, torch=first["torch"],
        threads=first["threads"], project_peak_rss_mb=med(r["peak_rss_mb"] for r in project),
        torch_peak_rss_mb=med(r["peak_rss_mb"] for r in torch_runs))


# ---- report ----------------------------------------------------------------------------
def _number(value: float, unit: str) -> str:
    digits = 3 if abs(value) < 10 else 1 if abs(value) < 1000 else 0
    return f"{value:.{digits}f} {unit}"


def format_table(figures: dict[str, dict[str, Any]]) -> str:
    header = ("figure", "project", "reference", "ratio", "target", "result")
    rows: list[tuple[str, ...]] = [header]
    notes: dict[int, tuple[str, str, str]] = {}  # row index -> (label, note, status): the note spans the middle
    for key in FIGURES:
        f = figures[key]
        if f["status"] in ("pass", "miss"):
            unit = f["unit"]
            target_unit = "" if f["target_on"] == "ratio" else f" {unit}"
            rows.append((f["label"], _number(f["project"], unit),
                         f"{_number(f['reference'], unit)} ({f['reference_name']})", f"{f['ratio']:.3f}",
                         f"<= {f['target']:g}{target_unit}", f["status"]))
        else:
            notes[len(rows)] = (f["label"], f["note"], f["status"])
            rows.append(("",) * len(header))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    widths[0] = max([widths[0]] + [len(n[0]) for n in notes.values()])
    middle = sum(widths[1:5]) + 2 * 3
    lines = []
    for i, r in enumerate(rows):
        if i in notes:
            label, note, status = notes[i]
            lines.append(f"{label.ljust(widths[0])}  {note.ljust(middle)}  {status}")
        else:
            cells = [c.rjust(w) if j == 3 else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))]
            lines.append("  ".join(cells).rstrip())
    lines.insert(1, "-" * max(len(line) for i, line in enumerate(lines) if i not in notes))
    return "\n".join(lines)


def _first(load: list[float]) -> str:
    return f"{load[0]:.2f}" if load else "unknown"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


# ---- main ------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=_positive, default=None,
                        help="rounds of every measurement (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: 20 MLP steps, {QUICK_CNN_STEPS} CNN steps, 500 per-op iterations, 1 round; "
                             "checks the harness, not the figures")
    parser.add_argument("--json", metavar="PATH", type=Path, default=DEFAULT_JSON,
                        help=f"where to write the figures (default {DEFAULT_JSON.relative_to(ROOT)})")
    parser.add_argument("--steps", type=_positive, default=None,
                        help="MLP steps per run (default: the whole epoch; 20 with --quick)")
    parser.add_argument("--cnn-steps", type=_positive, default=None,
                        help=f"CNN steps per run (default: the whole epoch; {QUICK_CNN_STEPS} with --quick)")
    parser.add_argument("--iterations", type=_positive, default=None,
                        help="per-op iterations per process (default 20000; 500 with --quick)")
    parser.add_argument("--per-op-processes", type=_positive, default=None,
                        help=f"fresh interpreters per round for the per-op figure (default {PER_OP_PROCESSES}; "
                             "1 with --quick)")
    parser.add_argument("--import-runs", type=_positive, default=None,
                        help="fresh-interpreter imports of each module per round (default 3; 2 with --quick)")
    return parser.parse_args(argv)


def accelerator_on() -> bool:
    """Whether the child runs will use the optional compiled loops (checked without importing numba here)."""
    return accelerator.switched_on() and importlib.util.find_spec("numba") is not None


def accelerator_status() -> str:
    """Whether the runs used the optional compiled loops (``[fast]`` extra), and why not."""
    if accelerator_on():
        return f"on (numba {importlib.metadata.version('numba')})"
    if importlib.util.find_spec("numba") is not None:
        return f"off ({accelerator.ENVIRONMENT_VARIABLE}={os.environ.get(accelerator.ENVIRONMENT_VARIABLE)})"
    return "off (numba is not installed: numpy only)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    steps = args.steps or (20 if args.quick else None)
    cnn_steps = args.cnn_steps or (QUICK_CNN_STEPS if args.quick else None)
    iterations = args.iterations or (500 if args.quick else 20_000)
    import_runs = args.import_runs or (2 if args.quick else 3)
    per_op_processes = args.per_op_processes or (1 if args.quick else PER_OP_PROCESSES)
    started, load_start = time.perf_counter(), _load()
    use_torch, torch_note = torch_status()
    impls = ["project", "plain", "numpy"] + (["torch"] if use_torch else [])
    cnn_impls = ["project"] + (["torch"] if use_torch else [])
    runs: dict[str, list[dict[str, Any]]] = {"project": [], "plain": [], "numpy": [], "torch": []}
    cnn_runs: dict[str, list[dict[str, Any]]] = {"project": [], "torch": []}
    examples_runs: dict[str, list[dict[str, Any]]] = {"project": [], "torch": []}
    cnn_note = ""
    per_op: list[overhead.PerOpResult] = []
    chains: list[overhead.ChainResult] = []
    imports: dict[str, list[float]] = {"tinygrad_mnist": [], "numpy": []}
    per_example_runs: list[dict[str, float]] = []
    per_example_batch = QUICK_PER_EXAMPLE_BATCH if args.quick else PER_EXAMPLE_BATCH
    with tempfile.TemporaryDirectory(prefix="pycache-") as pycache:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": pycache}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for module in imports:  # warm-up: writes the bytecode cache, not counted
            import_seconds(module, env)
        if accelerator_on() and not args.quick:  # warm-up: numba's cache, not counted (--quick measures nothing)
            cnn_epoch.measure("project", 2)
        for r in range(rounds):
            print(f"round {r + 1}/{rounds}: MLP runs ({', '.join(impls)}), CNN runs ({', '.join(cnn_impls)}), "
                  "imports, per-op, chain ...", file=sys.stderr, flush=True)
            for impl in impls:
                result = run_mlp(impl, steps)
                if "error" in result:  # torch is there but cannot be imported: say so and carry on without it
                    impls.remove(impl)
                    torch_note = f"torch is installed but cannot be imported ({result['error'][:200]})"
                    continue
                runs[impl].append(result)
            for impl in list(cnn_impls):
                result = cnn_epoch.measure(impl, cnn_steps)
                if "error" in result:  # as above: the CNN figure is skipped with the reason
                    cnn_impls.remove(impl)
                    cnn_note = f"torch is installed but cannot be imported ({result['error'][:200]})"
                    continue
                cnn_runs[impl].append(result)
                examples_runs[impl].append(cnn_epoch.measure(impl, cnn_steps, model="examples"))
            for _ in range(import_runs):
                for module in imports:
                    imports[module].append(import_seconds(module, env))
            per_example_runs.append(per_example.measure(per_example_batch, np.float64, 1))
            per_op.extend(per_op_in_child(iterations) for _ in range(per_op_processes))
            chains.append(overhead.measure_chain(1))
    figures = summarise(runs, torch_note, per_op, chains, imports, cnn_runs, cnn_note, per_example_runs,
                        per_example_batch, examples_runs)
    load_end = _load()

    cpus = torch_mlp.cpu_threads()
    print(f"compiled kernels: {accelerator_status()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"torch {figures['mlp_epoch_vs_torch'].get('torch', '-')}; {cpus} CPU(s); "
          f"median of {rounds} round(s){' (--quick: a harness check, not a measurement)' if args.quick else ''}; "
          f"load average {_first(load_start)} at start, {_first(load_end)} at end")
    print()
    print(format_table(figures))
    print()
    print("final loss: " + ", ".join(f"{k} {v:.6f}" for k, v in figures["mlp_epoch_vs_numpy"]["final_loss"].items()))
    if "torch_peak_rss_mb" in figures["mlp_epoch_vs_torch"]:
        t = figures["mlp_epoch_vs_torch"]
        print(f"PyTorch runs: {t['threads']} thread(s), peak RSS {t['torch_peak_rss_mb']:.1f} MB (with its libraries)")
    cnn = figures["cnn_epoch_vs_torch"]
    if "final_loss" in cnn:
        print("CNN final loss: " + ", ".join(f"{k} {v:.6f}" for k, v in cnn["final_loss"].items())
              + f"; peak RSS project {cnn['project_peak_rss_mb']:.1f} MB, torch {cnn['torch_peak_rss_mb']:.1f} MB")
    payload = {
        "meta": {
            "python": platform.python_version(), "numpy": np.__version__,
            "torch": figures["mlp_epoch_vs_torch"].get("torch"), "platform": platform.platform(),
            "cpus": cpus, "compiled_kernels": accelerator_status(), "rounds": rounds, "quick": args.quick,
            "mlp_steps": runs["project"][0]["steps"],
            "cnn_steps": cnn_runs["project"][0]["steps"],
            "per_op_iterations": iterations, "import_runs_per_round": import_runs,
            "load_average_start": load_start, "load_average_end": load_end,
            "wall_seconds": time.perf_counter() - started,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "targets": TARGETS,
        "figures": figures,
        "runs": runs,
        "cnn_runs": cnn_runs,
        "examples_cnn_runs": examples_runs,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2, default=_plain) + "\n")
    print(f"wrote {args.json} ({payload['meta']['wall_seconds']:.0f} s in all)")
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


if __name__ == "__main__":
    sys.exit(main())
