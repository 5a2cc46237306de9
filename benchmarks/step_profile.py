"""Where a training step's time goes: every primitive's numpy forward timed, by phase.

Used by ``python -m benchmarks.cnn_epoch --profile``. While :func:`profile` runs,
each primitive of ``tinygrad_mnist.core.rules.PRIMITIVES`` has its forward wrapped by a
timer (restored afterwards), and the training loop announces the phase it is in
(forward, zero_grad, backward, optimizer). The VJPs are written in primitives, so
nearly all the numpy work of a step happens in those forwards; any numpy kernel
of ``tinygrad_mnist.core.kernels`` that ``ops`` calls outside a forward is wrapped too.
What is left of each phase is "the rest": the engine and Python around the
numpy calls. The rows add up to the step time.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

Batches = list[tuple[np.ndarray, np.ndarray]]
Trainer = Callable[..., tuple[float, float]]  # train(batches, on_step=...) -> (seconds, last loss)


def no_clock(phase: str) -> None:
    """The step clock of an unprofiled run: told each phase, it does nothing."""


class PhaseClock:
    """Times every primitive's numpy forward, by phase, and the phases of each step.

    ``install`` wraps ``Primitive.forward`` of every entry in ``rules.PRIMITIVES``,
    and the numpy kernels of ``tinygrad_mnist.core.kernels`` that ``ops`` uses other than
    as a forward (a VJP calls them directly); ``uninstall`` puts the originals
    back. Calls are timed at the outermost level only (a forward that called
    another wrapped function would not count twice).
    """

    def __init__(self) -> None:
        self.phase = "between"  # before the first step: nothing is counted there
        self.mark = 0.0
        self.depth = 0
        self.wall: dict[str, float] = {}  # phase -> seconds of the step spent in it
        self.inside: dict[tuple[str, str], float] = {}  # (primitive or kernel, phase) -> seconds inside it
        self.calls: dict[tuple[str, str], int] = {}
        self.kernels: set[str] = set()  # the names timed that are not primitives
        self.steps = 0
        self._originals: list[tuple[Any, str, Callable[..., Any]]] = []  # (owner, attribute, original)

    def install(self) -> None:
        from tinygrad_mnist.core import kernels, rules

        forwards = {id(prim.forward) for prim in rules.PRIMITIVES.values()}
        for name, prim in rules.PRIMITIVES.items():
            self._originals.append((prim, "forward", prim.forward))
            prim.forward = self._timed(name, prim.forward)
        for name, value in vars(rules).items():  # conv kernels that a VJP calls without a primitive
            if callable(value) and getattr(value, "__module__", None) == kernels.__name__ and id(value) not in forwards:
                self.kernels.add(name)
                self._originals.append((rules, name, value))
                setattr(rules, name, self._timed(name, value))

    def uninstall(self) -> None:
        for owner, attribute, original in reversed(self._originals):
            setattr(owner, attribute, original)
        self._originals.clear()

    def _timed(self, name: str, forward: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.perf_counter

        def timed(*arrays: Any, **params: Any) -> Any:
            if self.depth:
                return forward(*arrays, **params)
            self.depth = 1
            start = clock()
            try:
                return forward(*arrays, **params)
            finally:
                elapsed = clock() - start
                self.depth = 0
                key = (name, self.phase)
                self.inside[key] = self.inside.get(key, 0.0) + elapsed
                self.calls[key] = self.calls.get(key, 0) + 1

        return timed

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        if self.phase != "between":
            self.wall[self.phase] = self.wall.get(self.phase, 0.0) + now - self.mark
        if phase == "end":
            self.steps += 1
            phase = "between"
        self.phase, self.mark = phase, now

    def rows(self) -> list[dict[str, Any]]:
        """The parts of a step, in ms per step, largest first; they add up to the step time."""
        per_step = 1e3 / self.steps
        rows = [{"part": name + (" (numpy called by a VJP)" if name in self.kernels else ""), "phase": phase,
                 "kind": "kernel" if name in self.kernels else "primitive", "ms": seconds * per_step,
                 "calls": self.calls[name, phase] / self.steps}
                for (name, phase), seconds in self.inside.items()]
        timed = {phase: sum(s for (_, p), s in self.inside.items() if p == phase) for phase in self.wall}
        for phase, what, kind in (("optimizer", "optimizer step (Adam update, numpy)", "optimizer"),
                                  ("forward", "the rest: engine and Python", "rest"),
                                  ("backward", "the rest: engine and Python", "rest"),
                                  ("zero_grad", "the rest: zero_grad", "rest")):
            seconds = self.wall.get(phase, 0.0) - timed.get(phase, 0.0)
            rows.append({"part": what, "phase": phase, "kind": kind, "ms": seconds * per_step, "calls": None})
        rows.sort(key=lambda r: -r["ms"])
        return rows


def profile(batches: Batches, train: Trainer) -> dict[str, Any]:
    """Run ``train(batches, on_step=clock)`` with every primitive forward timed; the breakdown per step."""
    clock = PhaseClock()
    clock.install()
    try:
        seconds, loss = train(batches, on_step=clock)
    finally:
        clock.uninstall()
    step_ms = 1e3 * sum(clock.wall.values()) / clock.steps
    rows = clock.rows()
    for row in rows:
        row["percent"] = 100 * row["ms"] / step_ms
    phases = {phase: 1e3 * s / clock.steps for phase, s in clock.wall.items()}
    return {"impl": "project", "mode": "profile", "steps": clock.steps, "step_ms": step_ms,
            "loop_ms": 1e3 * seconds / clock.steps, "phase_ms": phases, "rows": rows, "final_loss": loss}


def format_profile(result: dict[str, Any], title: str) -> str:
    """The breakdown as a table under ``title``, with totals by phase and by kind."""
    rows = result["rows"]
    width = max(len(r["part"]) for r in rows)
    lines = [f"{title}: where a step's time goes ({result['steps']} steps, project)",
             f"{'part':{width}}  {'phase':9}  {'calls':>5}  {'ms/step':>8}  {'% step':>6}"]
    lines.append("-" * len(lines[-1]))
    for r in rows:
        calls = "" if r["calls"] is None else f"{r['calls']:g}"
        lines.append(f"{r['part']:{width}}  {r['phase']:9}  {calls:>5}  {r['ms']:8.3f}  {r['percent']:6.1f}")
    lines.append("-" * len(lines[1]))
    lines.append(f"{'step':{width}}  {'':9}  {'':>5}  {result['step_ms']:8.3f}  {100.0:6.1f}")
    phases = result["phase_ms"]
    lines.append("by phase: " + ", ".join(f"{p} {phases.get(p, 0.0):.2f} ms" for p in
                                           ("forward", "backward", "optimizer", "zero_grad")))
    kinds = (("primitive", "primitive forwards"), ("kernel", "numpy called by VJPs"), ("optimizer", "optimizer"),
             ("rest", "the rest"))
    total = {kind: sum(r["ms"] for r in rows if r["kind"] == kind) for kind, _ in kinds}
    lines.append("by kind: " + ", ".join(f"{name} {total[kind]:.2f} ms ({100 * total[kind] / result['step_ms']:.1f} %)"
                                         for kind, name in kinds))
    lines.append(f"final loss {result['final_loss']:.6f}")
    return "\n".join(lines)
