"""The benchmark harness, and performance properties that can be checked without a clock.

``python -m benchmarks --quick`` must run and write every figure, and
``python -m benchmarks.cnn_epoch`` its own, with or without PyTorch; the parts of
its breakdown of a step (and of ``benchmarks.mlp_epoch``'s) must add up to the step. The other
tests pin down what the timings rely on: a float32 training step computes in
float32 only (a float64 intermediate doubles the memory traffic), backward
frees the graph as it goes without help from the garbage collector (so memory
stays flat over many steps), and the optimizers update parameters in place
through buffers allocated once.
"""

from __future__ import annotations

import gc
import json
import math
import os
import resource
import subprocess
import sys
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist import Tensor, manual_seed, nn, optim
from tinygrad_mnist.core import rules
from tinygrad_mnist.core.graph import toposort
from tinygrad_mnist.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
MEASURED = ("mlp_epoch_vs_numpy", "peak_rss", "per_op_overhead", "chain_ratio", "import_time", "per_example_grads")
AGAINST_TORCH = ("mlp_epoch_vs_torch", "mlp_plain_vs_torch", "per_op_vs_torch", "cnn_epoch_vs_torch",
                 "examples_cnn_vs_torch")
FIGURE_KEYS = {"label", "unit", "project", "reference", "reference_name", "ratio", "target", "target_on",
               "value", "pass", "status", "samples"}


# ---- the harness -----------------------------------------------------------------------
def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_measured(name: str, figure: dict) -> None:
    assert FIGURE_KEYS <= set(figure), f"{name}: missing {FIGURE_KEYS - set(figure)}"
    for key in ("project", "reference", "ratio", "target", "value"):
        assert _is_number(figure[key]) and figure[key] > 0, f"{name}.{key} = {figure[key]!r}"
    assert figure["target_on"] in ("ratio", "project")
    assert figure["value"] == figure[figure["target_on"]]
    assert figure["pass"] is (figure["value"] <= figure["target"])
    assert figure["status"] == ("pass" if figure["pass"] else "miss")
    for side in ("project", "reference"):
        samples = figure["samples"][side]
        assert samples and all(_is_number(s) and s > 0 for s in samples), f"{name}: samples {samples!r}"


def test_quick_run_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    payload = json.loads(out.read_text())
    figures = payload["figures"]
    assert set(figures) == {*MEASURED, *AGAINST_TORCH}
    for name in MEASURED:
        _check_measured(name, figures[name])
    for name in AGAINST_TORCH:  # measured where torch can be imported, else skipped with the reason
        torch_figure = figures[name]
        if torch_figure["status"] == "skipped":
            assert torch_figure["note"] and torch_figure["pass"] is None
        else:
            _check_measured(name, torch_figure)
    assert len({figures[name]["status"] == "skipped" for name in AGAINST_TORCH}) == 1  # all or none
    assert figures["cnn_epoch_vs_torch"]["target"] == 1.30 and figures["examples_cnn_vs_torch"]["target"] == 1.50
    assert figures["mlp_plain_vs_torch"]["target"] == figures["mlp_epoch_vs_torch"]["target"] == 0.90
    assert payload["meta"]["quick"] is True and payload["meta"]["rounds"] == 1
    assert payload["meta"]["mlp_steps"] == 20 and payload["meta"]["cnn_steps"] == 5
    assert [r["steps"] for r in payload["cnn_runs"]["project"]] == [5]
    assert [r["steps"] for r in payload["examples_cnn_runs"]["project"]] == [5]
    for figure in figures.values():  # the table shows every row with its verdict
        assert figure["label"] in done.stdout
    for verdict in ("pass", "miss"):
        assert done.stdout.count(f" {verdict}\n") == sum(f["status"] == verdict for f in figures.values())


# ---- a small training set-up ------------------------------------------------------------
def _mlp(hidden: int = 64, seed: int = 0) -> nn.Sequential:
    manual_seed(seed)
    return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def _batches(n: int, batch: int = 32, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.random((batch, 784), dtype=np.float32), rng.integers(0, 10, batch)) for _ in range(n)]


def _step(model: nn.Module, opt: optim.Optimizer, x: np.ndarray, y: np.ndarray) -> float:
    loss = F.cross_entropy(model(Tensor(x)), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


# ---- (a) float32 stays float32 ----------------------------------------------------------
class DtypeSpy:
    """Records the dtype of every op output: each primitive's forward and ``Tensor._wrap``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, np.dtype]] = []
        wrap = Tensor.__dict__["_wrap"].__func__

        def spy_wrap(data):
            self.seen.append(("Tensor._wrap", np.asarray(data).dtype))
            return wrap(data)

        monkeypatch.setattr(Tensor, "_wrap", staticmethod(spy_wrap))
        for name, prim in rules.PRIMITIVES.items():
            monkeypatch.setattr(prim, "forward", self._spy_forward(name, prim.forward))

    def _spy_forward(self, name, forward):
        def spy(*arrays, **params):
            out = forward(*arrays, **params)
            self.seen.append((name, np.asarray(out).dtype))
            return out

        return spy

    def floats_other_than_float32(self) -> list[tuple[str, np.dtype]]:
        return [(where, dtype) for where, dtype in self.seen if dtype.kind == "f" and dtype != np.float32]


def test_a_float32_training_step_computes_in_float32_only(monkeypatch):
    model = _mlp(hidden=32)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    batches = _batches(2, batch=16)
    spy = DtypeSpy(monkeypatch)
    for x, y in batches:  # the first step creates the optimizer's buffers, the second reuses them
        _step(model, opt, x, y)
    primitives = {where for where, _ in spy.seen if where != "Tensor._wrap"}
    assert {"linear", "relu", "log_softmax"} <= primitives, f"the spy saw only {sorted(primitives)}"
    assert spy.floats_other_than_float32() == []
    for p in model.parameters():
        assert p.dtype == np.float32 and p.grad is not None and p.grad.dtype == np.float32
    buffers = [b for bufs in opt.buffers.values() for b in bufs]
    assert buffers and all(b.dtype == np.float32 for b in buffers)
    # and the spy does see a float64 when there is one
    _ = Tensor(np.zeros(3, dtype=np.float32), requires_grad=True) * Tensor(np.ones(3))
    assert spy.floats_other_than_float32()


# ---- (b) the graph is freed promptly ----------------------------------------------------
def test_backward_frees_the_graph_without_the_garbage_collector():
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    (x, y), = _batches(1)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        xt = Tensor(x)
        loss = F.cross_entropy(model(xt), y)
        graph = [t for t in toposort([loss]) if t._ctx is not None and t is not loss]
        assert len(graph) >= 4  # linear, relu, linear, log_softmax, ...
        refs = [weakref.ref(t) for t in graph] + [weakref.ref(xt)]
        del graph, xt
        assert all(r() is not None for r in refs)  # alive while the graph is
        opt.zero_grad()
        loss.backward()
        alive = [r() for r in refs if r() is not None]
        assert alive == [], f"{len(alive)} tensor(s) of the graph outlive backward: {[t.grad_fn for t in alive]}"
        assert _is_number(loss.item())
        opt.step()
        root = weakref.ref(loss)
        del loss
        assert root() is None
    finally:
        if was_enabled:
            gc.enable()


def _current_rss_mb() -> float:
    """Resident set size now (Linux), else the peak so far (which also grows with a leak)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def test_memory_stays_flat_over_a_thousand_training_steps():
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    batches = _batches(8, batch=64)  # each step's input alone is 200 kB: a kept graph shows
    rss = {}
    was_enabled = gc.isenabled()
    gc.disable()  # what is freed must be freed by reference counting
    try:
        for step in range(1, 1001):
            x, y = batches[step % len(batches)]
            loss = _step(model, opt, x, y)
            if step in (100, 1000):
                rss[step] = _current_rss_mb()
    finally:
        if was_enabled:
            gc.enable()
    assert math.isfinite(loss)
    assert rss[1000] - rss[100] < 4.0, f"RSS grew from {rss[100]:.1f} MB to {rss[1000]:.1f} MB"


# ---- (c) the optimizers update in place --------------------------------------------------
OPTIMIZERS = {
    "adam": lambda ps: optim.Adam(ps, lr=1e-3),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-3),
    "sgd-momentum": lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9),
}


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_the_optimizer_updates_in_place_through_buffers_allocated_once(make):
    model = _mlp(hidden=32)
    params = model.parameters()
    opt = make(params)
    arrays = [p.data for p in params]
    start = [a.copy() for a in arrays]
    batches = _batches(4, batch=16)
    _step(model, opt, *batches[0])
    buffers = {name: list(bufs) for name, bufs in opt.buffers.items()}
    assert buffers, "the optimizer keeps no buffers"
    for step in range(1, 20):
        _step(model, opt, *batches[step % len(batches)])
    assert all(p.data is a for p, a in zip(params, arrays)), "a parameter's array was replaced"
    assert not any(np.array_equal(a, s) for a, s in zip(arrays, start)), "a parameter did not change"
    assert opt.buffers.keys() == buffers.keys()
    for name, bufs in buffers.items():
        assert all(now is then for now, then in zip(opt.buffers[name], bufs)), f"buffer {name!r} was replaced"


def test_an_adam_step_allocates_nothing_proportional_to_the_model():
    model = _mlp(hidden=256)
    params = model.parameters()
    opt = optim.Adam(params, lr=1e-3)
    batches = _batches(2, batch=16)
    _step(model, opt, *batches[0])  # the buffers are allocated at the first step
    model_bytes = sum(p.data.nbytes for p in params)
    x, y = batches[1]
    loss = F.cross_entropy(model(Tensor(x)), y)
    opt.zero_grad()
    loss.backward()
    tracemalloc.start()  # numpy reports its array allocations to tracemalloc
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.02 * model_bytes, f"opt.step() allocated up to {peak} bytes; the model has {model_bytes}"


# ---- (d) the CNN epoch benchmark ---------------------------------------------------------
def _run_cnn_epoch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "benchmarks.cnn_epoch", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _check_cnn_quick(summary: dict, runs: dict) -> None:
    assert summary["steps"] == 5 and summary["rounds"] == 1 and summary["target"] == 2.0
    assert [r["steps"] for r in runs["project"]] == [5]
    for key in ("project_seconds", "project_peak_rss_mb"):
        assert _is_number(summary[key]) and summary[key] > 0, f"{key} = {summary[key]!r}"
    assert _is_number(summary["final_loss"]["project"]) and 0 < summary["final_loss"]["project"] < 5


def test_cnn_epoch_quick_writes_sane_json(tmp_path):
    out = tmp_path / "cnn.json"
    done = _run_cnn_epoch("--quick", "--json", str(out))
    payload = json.loads(out.read_text())
    summary, runs = payload["summary"], payload["runs"]
    _check_cnn_quick(summary, runs)
    assert "seconds" in done.stdout and "final loss" in done.stdout
    if summary["status"] == "skipped":  # no importable torch: the project side is still timed
        assert summary["note"] and summary["pass"] is None and runs["torch"] == []
        assert "skipped" in done.stdout
        return
    assert summary["status"] in ("pass", "miss") and summary["pass"] is (summary["time_ratio"] <= 2.0)
    for key in ("torch_seconds", "time_ratio", "torch_peak_rss_mb"):
        assert _is_number(summary[key]) and summary[key] > 0, f"{key} = {summary[key]!r}"
    assert summary["time_ratio"] == pytest.approx(summary["project_seconds"] / summary["torch_seconds"])
    # same model, initial weights, batches and optimizer: after 5 steps the losses differ by about 1e-4
    # (pooling windows with near-ties send their gradient to different cells); a different model or
    # data would differ by far more (a missing input standardisation: 0.27)
    loss = summary["final_loss"]
    assert loss["torch"] == pytest.approx(loss["project"], abs=5e-3), loss


def test_cnn_epoch_without_torch_times_the_project_and_says_why(tmp_path):
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("torch is hidden by this test")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "cnn.json"
    done = _run_cnn_epoch("--quick", "--json", str(out), env=env)
    payload = json.loads(out.read_text())
    _check_cnn_quick(payload["summary"], payload["runs"])
    assert payload["summary"]["status"] == "skipped" and payload["runs"]["torch"] == []
    assert "torch is hidden by this test" in payload["summary"]["note"]
    assert "PyTorch side skipped" in done.stdout


def test_cnn_profile_parts_add_up_to_the_step(tmp_path):
    out = tmp_path / "profile.json"
    done = _run_cnn_epoch("--profile", "--steps", "3", "--json", str(out))
    result = json.loads(out.read_text())
    rows, step_ms = result["rows"], result["step_ms"]
    assert result["steps"] == 3 and _is_number(step_ms) and step_ms > 0
    assert all(_is_number(r["ms"]) and r["ms"] > 0 for r in rows), [r for r in rows if not r["ms"] > 0]
    assert sum(r["ms"] for r in rows) == pytest.approx(step_ms, rel=1e-9)
    assert sum(r["percent"] for r in rows) == pytest.approx(100.0, rel=1e-9)
    assert [r["ms"] for r in rows] == sorted((r["ms"] for r in rows), reverse=True)
    assert sum(result["phase_ms"].values()) == pytest.approx(step_ms, rel=1e-9)
    # the steps' phases cover the training loop (only the loop's own bookkeeping is outside them)
    assert 0.9 * result["loop_ms"] <= step_ms <= result["loop_ms"]
    parts = {(r["part"], r["phase"]) for r in rows}
    assert {("conv2d_bias", "forward"), ("conv2d_weight_grad", "backward"), ("conv2d_input_grad", "backward"),
            ("max_pool2d", "forward"), ("window_scatter", "backward"), ("linear", "forward")} <= parts
    assert {("the rest: engine and Python", "forward"), ("the rest: engine and Python", "backward"),
            ("optimizer step (Adam update, numpy)", "optimizer")} <= parts
    assert {r["kind"] for r in rows} <= {"primitive", "kernel", "optimizer", "rest"}
    assert all((r["calls"] is None) == (r["kind"] in ("optimizer", "rest")) for r in rows)
    # the per-step call counts are those of the CNN: two convolutions with their bias, one transposed (the first
    # has no input grad)
    calls = {(r["part"], r["phase"]): r["calls"] for r in rows}
    assert calls["conv2d_bias", "forward"] == calls["conv2d_weight_grad", "backward"] == 2
    assert calls["conv2d_input_grad", "backward"] == 1
    table = done.stdout
    assert "conv2d_weight_grad" in table and "by kind: primitive forwards" in table


def test_mlp_profile_parts_add_up_to_the_step_and_skip_the_input_gradient(tmp_path):
    out = tmp_path / "profile.json"
    command = [sys.executable, "-m", "benchmarks.mlp_epoch", "--profile", "--steps", "3", "--json", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    rows, step_ms = result["rows"], result["step_ms"]
    assert result["steps"] == 3 and sum(r["ms"] for r in rows) == pytest.approx(step_ms, rel=1e-9)
    assert 0.9 * result["loop_ms"] <= step_ms <= result["loop_ms"]
    calls = {(r["part"], r["phase"]): r["calls"] for r in rows}
    # one fused node per layer forward; backward's products are both weight gradients and the hidden layer's
    # input gradient: the data's gradient is never computed
    assert calls["linear", "forward"] == 2 and calls["matmul", "backward"] == 3
    assert calls["optimizer step (Adam update, numpy)", "optimizer"] is None
    assert "by kind: primitive forwards" in done.stdout


def test_the_profile_restores_every_primitive_forward():
    from benchmarks import cnn_epoch

    originals = {name: prim.forward for name, prim in rules.PRIMITIVES.items()}
    namespace = dict(vars(rules))  # the conv kernels that VJPs call directly are wrapped where rules looks them up
    rng = np.random.default_rng(0)
    batches = [(rng.random((8, 784), dtype=np.float32), rng.integers(0, 10, 8)) for _ in range(2)]
    result = cnn_epoch.profile(batches)
    assert result["steps"] == 2 and {r["part"] for r in result["rows"]} >= {"conv2d_bias", "max_pool2d"}
    assert all(prim.forward is originals[name] for name, prim in rules.PRIMITIVES.items())
    assert all(vars(rules)[name] is value for name, value in namespace.items())
