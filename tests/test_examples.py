"""The example scripts run end to end (in their quick modes) and say what they claim."""

import subprocess
import sys
from pathlib import Path

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
