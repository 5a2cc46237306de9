"""The example scripts run end to end (in their quick modes) and say what they claim."""

import json
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
