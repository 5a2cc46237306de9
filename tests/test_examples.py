"""The example scripts run end to end (in their quick modes) and say what they claim."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_custom_network_checks_gradients_and_learns():
    out = run("custom_network.py", "--quick")
    assert "gradcheck of a 784-6-6-6-10 float64 twin: passed" in out
    accuracy = float(out.strip().splitlines()[-1].rsplit(" ", 1)[-1])
    assert accuracy > 0.9  # 300 steps of a residual MLP on real MNIST


def test_finite_difference_error_shows_truncation_rounding_tradeoff(tmp_path):
    out = run("finite_difference_error.py", "--json", str(tmp_path / "errors.json"))
    report = json.loads((tmp_path / "errors.json").read_text())
    eps, errors, best, theory = (np.array(report["eps"]), report["errors"], report["best"], report["theory"])
    assert report["closed_form_gap"] < 1e-12  # the engine's gradient is the exact one

    # the printed "best:" block says the same as the JSON
    printed = [line.split()[1:] for line in out.splitlines() if line.startswith("best: ") and "method" not in line]
    assert {f"{m} {d}": float(e) for m, d, e, _ in printed} == pytest.approx(
        {key: b["eps"] for key, b in best.items()}, rel=1e-3)

    for dtype in ("float32", "float64"):
        forward, central = best[f"forward {dtype}"], best[f"central {dtype}"]
        # the optimum steps sit near u^(1/2) and u^(1/3), within about one half-decade of the grid
        for method, b in (("forward", forward), ("central", central)):
            ratio = b["eps"] / theory[dtype][method]
            assert 0.1 < ratio < 10, (method, dtype, b["eps"], theory[dtype][method])
        # central differences take a larger step and get much closer
        assert central["eps"] > forward["eps"]
        assert central["error"] * 10 < forward["error"]
    for method in ("forward", "central"):
        # coarser rounding in float32 pushes the optimum to larger steps and raises its error
        assert best[f"{method} float32"]["eps"] > best[f"{method} float64"]["eps"]
        assert best[f"{method} float32"]["error"] > 100 * best[f"{method} float64"]["error"]

    def slope(column, big, small):
        i, j = int(np.argmin(abs(np.log10(eps / big)))), int(np.argmin(abs(np.log10(eps / small))))
        return np.log10(errors[column][i] / errors[column][j]) / np.log10(eps[i] / eps[j])

    # float64, large steps: truncation error falls like eps (forward) and eps^2 (central)
    assert 0.8 < slope("forward float64", 1e-1, 1e-3) < 1.2
    assert 1.8 < slope("central float64", 1e-1, 1e-3) < 2.2
    # float64, tiny steps: rounding error grows like 1/eps and swamps the optimum by far
    for method in ("forward", "central"):
        assert -1.5 < slope(f"{method} float64", 1e-8, 1e-12) < -0.5
        assert errors[f"{method} float64"][-1] > 1000 * best[f"{method} float64"]["error"]
    assert eps[-1] == pytest.approx(1e-12)


# ---- the three reproductions of the write-ups (docs/reproductions.md) ------------------

REPRODUCTIONS = [
    # script, figure line, number of closed-form checks in --quick with --check-closed-form 1
    ("oman_784_512_10.py", r"^test accuracy 0\.\d{4} \(write-up: 92-95 %\)$", 100),
    ("chang_784_10_10.py", r"^training accuracy 0\.\d{4} \(write-up: about 85 %\); "
                           r"held-out accuracy 0\.\d{4} \(1000 samples\); test accuracy 0\.\d{4}$", 20),
    ("jha_784_1024_10.py", r"^test accuracy 0\.\d{4} \(write-up: 97\.87 %\)$", 100),
]


def run_strict(script: str, *args: str) -> str:
    """Run an example with RuntimeWarnings (overflow, invalid values) turned into errors."""
    result = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", str(ROOT / "examples" / script), *args],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("script, figure, steps", REPRODUCTIONS, ids=[s for s, _, _ in REPRODUCTIONS])
def test_reproduction_checks_every_step_against_closed_form(script, figure, steps):
    out = run_strict(script, "--quick", "--check-closed-form", "1")
    checked = re.findall(r"^closed-form check passed at step (\d+) ", out, re.M)
    assert [int(k) for k in checked] == list(range(steps))
    assert re.search(figure, out.splitlines()[-1]), out.splitlines()[-1]


def test_reproduction_checks_only_every_nth_step():
    out = run_strict("chang_784_10_10.py", "--quick", "--check-closed-form", "7")
    assert re.findall(r"^closed-form check passed at step (\d+) ", out, re.M) == ["0", "7", "14"]
    assert "closed-form check" not in run_strict("chang_784_10_10.py", "--quick")


def load_example(script: str):
    spec = importlib.util.spec_from_file_location(script.removesuffix(".py"), ROOT / "examples" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_closed_form_checks_fail_on_a_tiny_mismatch(monkeypatch):
    """A relative disagreement of 1e-8 in one gradient entry stops each script with a non-zero exit."""
    from tinygrad_mnist import Tensor, manual_seed
    from tinygrad_mnist.mnist.reference import closed_form

    exact = closed_form.backward

    def off_by_1e8(*args, **kwargs):
        grads = exact(*args, **kwargs)
        grads.dW[0][np.unravel_index(np.argmax(np.abs(grads.dW[0])), grads.dW[0].shape)] *= 1 + 1e-8
        return grads

    monkeypatch.setattr(closed_form, "backward", off_by_1e8)
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 784)).astype(np.float32), rng.integers(0, 10, 8)
    manual_seed(0)

    oman = load_example("oman_784_512_10.py")
    net = oman.OmanNet()
    oman.F.cross_entropy(net(Tensor(x)), y).backward()
    with pytest.raises(SystemExit, match="closed-form check FAILED at step 3"):
        oman.check_closed_form(net, x, y, 3)

    jha = load_example("jha_784_1024_10.py")
    model = jha.make_model(0.05)
    jha.loss_fn(model, Tensor(x), y, 1e-3).backward()
    with pytest.raises(SystemExit, match="closed-form check FAILED at step 5"):
        jha.check_closed_form(model, x, y, 1e-3, 5)

    chang = load_example("chang_784_10_10.py")
    params = chang.init_params()
    X = np.ascontiguousarray(x.T)
    chang.loss_fn(params, Tensor(X), closed_form.one_hot(y, 10).astype(np.float32)).backward()
    with pytest.raises(SystemExit, match="closed-form check FAILED at step 7"):
        chang.ClosedFormCheck(X, y)(params, 7)

    monkeypatch.setattr(closed_form, "backward", exact)  # and the exact oracle lets it pass
    chang.ClosedFormCheck(X, y)(params, 7)


def test_hessian_power_iteration_agrees_with_the_full_hessian():
    out = run("hessian_of_loss.py", "--quick")
    line = next(l for l in out.splitlines() if l.startswith("relative difference of lambda_max"))
    assert float(line.rsplit(" ", 1)[-1]) < 1e-2


def test_inspect_graph_draws_and_traces(tmp_path):
    out = run("inspect_graph.py", "--hidden", "4", "--out", str(tmp_path / "graph.dot"))
    assert (tmp_path / "graph.dot").read_text().startswith("digraph")
    ops = [line.split()[1] for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert ops == ["sum", "mul", "log_softmax", "linear", "relu", "linear"]
