"""The explorer page in a real browser: headless Chromium (Debian's ``chromium``) driven by playwright.

The page of ``f(x, W, b) = sum(tanh(W @ x + b) * x)`` is opened from ``file://`` and stepped
through every stage with its buttons (and the arrow keys). The test reads what the page shows
(the highlighted node, the ``data-values`` of the panel) and compares it with the engine: each
leaf's displayed gradient with ``.grad`` of a separate backward pass, the reverse stage's
sequence of highlighted nodes with the order of ``trace_backward``. No console error, no request
other than the ``file://`` page itself. Screenshots of each stage go to ``explore-check/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_mnist import Tensor
from tinygrad_mnist.autograd import trace_backward
from tinygrad_mnist.mnist.explore_command import explore_mlp
from tinygrad_mnist.viz import explore

CHROMIUM = Path("/usr/bin/chromium")
# the flags docs/check_site.py launches Chromium with
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[1] / "explore-check"

if not CHROMIUM.exists():
    pytest.skip("Chromium is not installed at /usr/bin/chromium (Debian package chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[docs]')")


def f(x: Tensor, W: Tensor, b: Tensor) -> Tensor:
    return ((W @ x + b).tanh() * x).sum()


def inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(22)
    return [rng.standard_normal(3), rng.standard_normal((3, 3)), rng.standard_normal(3)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page whose requests, console errors and uncaught exceptions are recorded."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 820})
        self.page.set_default_timeout(5000)
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.goto(path.as_uri())

    def state(self) -> dict[str, Any]:
        return self.page.evaluate("window.explorer.state()")

    def click(self, selector: str) -> None:
        self.page.click(selector)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SHOTS / name), full_page=True)

    def panel_values(self) -> list[list[float]]:
        return [json.loads(v) for v in self.page.eval_on_selector_all(
            "[data-role=panel] .tensor[data-values]", "els => els.map(e => e.getAttribute('data-values'))")]

    def check_clean(self, path: Path) -> None:
        assert self.errors == []
        assert self.requests and all(url == path.as_uri() for url in self.requests), self.requests


def numbers(values: list[Any]) -> np.ndarray:
    return np.array([float(v) for v in values])


def test_stepping_through_f_shows_the_engines_numbers(browser: Any, tmp_path: Path) -> None:
    arrays = inputs()
    page_data = explore(f, *(Tensor(a) for a in arrays))
    path = page_data.save(tmp_path / "f.html")
    data = page_data.data
    watched = Watched(browser, path)

    # 1. forward values: the Next button visits every node, inputs first, and shows its value
    assert watched.state()["stage"] == "forward"
    seen = []
    for k, node in enumerate(data["nodes"]):
        state = watched.state()
        assert state["node"] == state["highlighted"] == node["id"]
        seen.append(state["node"])
        np.testing.assert_array_equal(numbers(watched.panel_values()[0]), numbers(node["value"]["values"]))
        if node["op"] == "tanh":
            watched.shot("1-forward.png")
        if k < len(data["nodes"]) - 1:
            watched.click("[data-action=next]")
    assert seen == [n["id"] for n in data["nodes"]]

    # 2. forward mode: each node's tangent, first in the panel
    watched.click("[data-stage=tangent]")  # each stage starts at its first step
    for k, node in enumerate(data["nodes"]):
        assert watched.state() == {**watched.state(), "stage": "tangent", "step": k, "node": node["id"]}
        np.testing.assert_array_equal(numbers(watched.panel_values()[0]), numbers(node["tangent"]["values"]))
        if node["op"] == "mul":
            watched.shot("2-forward-mode.png")
        watched.page.keyboard.press("ArrowRight")  # the arrow keys step too

    # 3. the reverse walk: the highlighted nodes, in order, are the engine's
    watched.click("[data-stage=reverse]")
    highlighted = []
    for k in range(len(data["steps"])):
        state = watched.state()
        assert state["stage"] == "reverse" and state["step"] == k
        highlighted.append(state["highlighted"])
        if k == 1:  # mul: x's first contribution of two (fan-out), with its running sum
            watched.shot("3-reverse-midway.png")
        watched.click("[data-action=next]")
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    trace = trace_backward(f(*leaves))
    ops = {n["id"]: n["op"] for n in data["nodes"]}
    assert highlighted == [step["node"] for step in data["steps"]]
    assert [ops[i] for i in highlighted] == [step.op for step in trace.steps] == ["sum", "mul", "tanh", "add",
                                                                                   "matmul"]

    # the end of the walk: the .grad deposits, equal to the engine's
    assert watched.page.is_disabled("[data-action=next]")
    shown = dict(watched.page.eval_on_selector_all(
        "[data-leaf]", "els => els.map(e => [e.getAttribute('data-leaf'), e.getAttribute('data-values')])"))
    assert sorted(shown) == ["W", "b", "x"]
    for name, leaf in zip(["x", "W", "b"], leaves, strict=True):
        np.testing.assert_allclose(numbers(json.loads(shown[name])), leaf.grad.data.ravel(), rtol=0, atol=1e-12)
    watched.shot("4-reverse-end.png")
    watched.page.keyboard.press("ArrowLeft")
    assert watched.state()["step"] == len(data["steps"]) - 1
    watched.check_clean(path)


def test_mlp_layers_are_blocks_that_open_on_click(browser: Any, tmp_path: Path) -> None:
    path = explore_mlp(batch=8, layout="auto").save(tmp_path / "mlp.html")
    watched = Watched(browser, path)
    blocks = watched.page.eval_on_selector_all("[data-block-id]",
                                               "els => els.map(e => e.querySelector('text').textContent)")
    assert blocks == ["0: Linear", "1: ReLU", "2: Linear"]
    assert watched.page.query_selector("[data-node-id] >> text=0.weight") is None  # hidden in its block
    watched.click("[data-stage=reverse]")
    for _ in range(3):
        watched.click("[data-action=next]")
    watched.shot("5-mlp-collapsed.png")
    watched.click("[data-block-id=b0]")
    assert watched.state()["expanded"] == [0]
    assert watched.page.query_selector("[data-node-id] >> text=0.weight") is not None
    assert watched.page.query_selector("[data-cluster-id=b0]") is not None
    watched.click("[data-stage=forward]")
    watched.page.locator("g[data-node-id]", has_text="linear").first.click()  # a node's click goes to its step
    assert watched.state()["node"] is not None and watched.state()["highlighted"] == watched.state()["node"]
    watched.shot("6-mlp-expanded.png")
    watched.click("[data-cluster-id=b0]")
    assert watched.state()["expanded"] == []
    watched.check_clean(path)


def test_page_laid_out_in_python_draws_every_node_and_edge(browser: Any, tmp_path: Path) -> None:
    page_data = explore(f, *(Tensor(a) for a in inputs()), layout="python")
    path = page_data.save(tmp_path / "f-python.html")
    watched = Watched(browser, path)
    drawn = watched.page.eval_on_selector_all("[data-node-id]", "els => els.map(e => e.getAttribute('data-node-id'))")
    assert sorted(drawn) == sorted(n["id"] for n in page_data.data["nodes"])
    edges = watched.page.eval_on_selector_all(".edges path", "els => els.length")
    assert edges == sum(len(set(n["inputs"])) for n in page_data.data["nodes"])
    watched.check_clean(path)
