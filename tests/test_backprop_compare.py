"""``tinygrad-mnist backprop-compare``: the three methods on MNIST test images, and its refusals.

Called in-process through ``cli.main``, on a narrow network and small batches.
"""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

from tinygrad_mnist.mnist import backprop_compare
from tinygrad_mnist.mnist import cli
from tinygrad_mnist.mnist.reference import jacobian_chain

ROW = re.compile(r"^\s*(\d+)\s+(jacobian chain|closed form|engine)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)\s*$")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``tinygrad-mnist backprop-compare ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        status = cli.main(["backprop-compare", *args])
    except SystemExit as stop:  # argparse ends bad command lines with SystemExit(2)
        status = stop.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    return status, out, err


def table(out: str) -> list[tuple[int, str, float, float, float, str]]:
    """(batch, method, ms, MB, loss, max diff) for every table row printed."""
    rows = []
    for line in out.splitlines():
        match = ROW.match(line)
        if match:
            batch, method, ms, mb, loss, diff = match.groups()
            rows.append((int(batch), method, float(ms), float(mb), float(loss), diff))
    return rows


def test_three_methods_per_batch_size_agree(capsys):
    status, out, err = run(capsys, "--batch-sizes", "1", "3", "--hidden", "8")
    assert status == 0, err
    assert err == ""
    rows = table(out)
    assert [(r[0], r[1]) for r in rows] == [(b, m) for b in (1, 3) for m in backprop_compare.METHODS]
    for batch, method, ms, mb, loss, diff in rows:
        assert ms >= 0 and mb >= 0
        assert 0.5 < loss < 5  # about log(10) for an untrained network
        if method == "closed form":
            assert diff == "(reference)"
        else:
            assert float(diff) < 1e-12
    losses = {batch: {r[4] for r in rows if r[0] == batch} for batch in (1, 3)}
    assert all(len(values) == 1 for values in losses.values())  # one loss per batch, whatever the method
    assert "784-8-10 relu" in out
    assert "784-512-10 at batch 50 (float32)" in out
    assert re.search(r"\d+(\.\d)? GB for the batch", out)


def test_chain_memory_is_the_largest(capsys):
    """The chain's peak (dominated by I (x) a^T, 32 x 25088 here) is well above the others'."""
    status, out, _ = run(capsys, "--batch-sizes", "2", "--activation", "tanh")
    assert status == 0
    peak = {method: mb for _, method, _, mb, _, _ in table(out)}
    assert peak["jacobian chain"] >= 32 * 32 * 784 * 8 / 1e6
    assert peak["jacobian chain"] > 5 * max(peak["closed form"], peak["engine"])


def test_skip_chain_compares_closed_form_and_engine_only(capsys):
    status, out, err = run(capsys, "--batch-sizes", "2", "--hidden", "512", "--skip-chain", "--activation", "sigmoid")
    assert status == 0, err
    rows = table(out)
    assert [(r[0], r[1]) for r in rows] == [(2, "closed form"), (2, "engine")]
    assert float(rows[1][5]) < 1e-12
    assert "jacobian chain" not in out.split("memory_estimate")[0]


def test_wide_network_is_refused_in_one_line(capsys):
    status, out, err = run(capsys, "--hidden", "512")
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("tinygrad-mnist backprop-compare: error: the Jacobian chain of 784-512-10 needs an estimated")
    assert "--skip-chain" in err


def test_refusal_follows_the_limit(capsys):
    needed = backprop_compare.chain_bytes_per_sample([8])
    assert needed == jacobian_chain.memory_estimate([784, 8, 10], 1, bytes_per_entry=8).per_sample_bytes
    status, _, err = run(capsys, "--hidden", "8", "--batch-sizes", "1", "--chain-limit-gb", str(needed / 2e9))
    assert status == 2 and "--skip-chain" in err
    status, _, err = run(capsys, "--hidden", "8", "--batch-sizes", "1", "--chain-limit-gb", str(needed * 1.01 / 1e9))
    assert status == 0, err


@pytest.mark.parametrize("args, message", [
    (["--batch-sizes", "0"], "argument --batch-sizes: expected a positive integer"),
    (["--batch-sizes", "10001", "--hidden", "2"], "argument --batch-sizes: batch sizes must be at most 10000"),
    (["--activation", "gelu"], "argument --activation: invalid choice"),
    (["--chain-limit-gb", "0"], "argument --chain-limit-gb: expected a number > 0"),
])
def test_bad_arguments_exit_2(capsys, args, message):
    status, out, err = run(capsys, *args)
    assert status == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_measure_sees_numpy_allocations():
    """tracemalloc reports numpy's array buffers, so the peak includes them."""
    was_tracing = tracemalloc.is_tracing()
    result, seconds, peak = backprop_compare.measure(lambda: np.ones(1_000_000).sum())
    assert result == 1_000_000 and seconds >= 0
    assert 8_000_000 <= peak < 9_000_000
    assert tracemalloc.is_tracing() == was_tracing  # left as it was found


def test_measure_inside_a_running_trace():
    tracemalloc.start()
    try:
        keep = np.ones(2_000_000)  # allocated before: not part of the peak
        _, _, peak = backprop_compare.measure(lambda: np.zeros(500_000) + 1)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
    assert 4_000_000 <= peak < 9_000_000
    assert keep.size == 2_000_000


def test_engine_gradients_match_closed_form_on_mnist():
    from tinygrad_mnist.datasets import load_mnist
    from tinygrad_mnist.mnist.reference import closed_form

    images, labels = load_mnist("test")
    model = backprop_compare.build_network([16, 12], "leaky_relu", seed=3)
    X = images[:5].reshape(5, -1) / 255.0
    y = labels[:5].astype(np.int64)
    engine = backprop_compare.engine_gradients(model, X, y)
    W = [m.weight.data for m in model.modules() if hasattr(m, "in_features")]
    b = [m.bias.data.reshape(-1, 1) for m in model.modules() if hasattr(m, "in_features")]
    reference = closed_form.backward(W, b, X.T, y, "leaky_relu", 0.01)
    assert [g.shape for g in engine.dW] == [(16, 784), (12, 16), (10, 12)]
    assert backprop_compare.max_abs_diff(engine, reference) < 1e-14
    assert engine.loss == pytest.approx(reference.loss, rel=1e-12)
    wrong = closed_form.backward(W, b, X.T, y, "relu")  # a different activation must show
    assert backprop_compare.max_abs_diff(engine, wrong) > 1e-6
