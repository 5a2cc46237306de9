"""The three reproductions of docs/reproductions.md, run in full for seed 0 (``pytest -m slow``).

Each asserts the band the write-up's figure calls for: Oman's 784-512-10 network
at least 92 % test accuracy, Chang's 784-10-10 network at least 80 % training
accuracy, and our recipe for Jha's 784-1024-10 network at least 97.9 % test
accuracy. About a minute and a half in all on a 2-core machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def final_line(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", str(ROOT / "examples" / script),
                             "--seed", "0", *args], capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def figure(name: str, line: str) -> float:
    match = re.search(rf"\b{name} accuracy (0\.\d+|1\.0+)\b", line)
    assert match, line
    return float(match.group(1))


@pytest.mark.slow
def test_oman_784_512_10_reaches_the_writeup_band() -> None:
    line = final_line("oman_784_512_10.py", "--check-closed-form", "1000")
    assert figure("test", line) >= 0.92, line


@pytest.mark.slow
def test_chang_784_10_10_reaches_the_writeup_training_accuracy() -> None:
    line = final_line("chang_784_10_10.py", "--check-closed-form", "100")
    assert figure("training", line) >= 0.80, line
    assert figure("held-out", line) >= 0.78, line


@pytest.mark.slow
def test_jha_784_1024_10_recipe_beats_the_writeup() -> None:
    line = final_line("jha_784_1024_10.py", "--check-closed-form", "2000")
    assert figure("test", line) >= 0.979, line
