"""Metrics against counting loops written here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist.mnist.metrics import accuracy, classification_report, confusion_matrix

# ---- loop-based oracles ------------------------------------------------------------


def count_confusion(y_true, y_pred, k):
    counts = [[0] * k for _ in range(k)]
    for t, p in zip(y_true, y_pred):
        counts[t][p] += 1
    return counts


def ratio(num, den):
    return num / den if den else 0.0


def per_class_scores(y_true, y_pred, k):
    """(precision, recall, f1, support) lists, 0 where a ratio is undefined."""
    precision, recall, f1, support = [], [], [], []
    for c in range(k):
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == c and p == c)
        predicted = sum(1 for p in y_pred if p == c)
        actual = sum(1 for t in y_true if t == c)
        prec, rec = ratio(tp, predicted), ratio(tp, actual)
        precision.append(prec)
        recall.append(rec)
        f1.append(ratio(2 * prec * rec, prec + rec))
        support.append(actual)
    return precision, recall, f1, support


@st.composite
def label_pairs(draw, min_size=1):
    k = draw(st.integers(1, 6))
    n = draw(st.integers(min_size, 40))
    labels = st.lists(st.integers(0, k - 1), min_size=n, max_size=n)
    return np.array(draw(labels), dtype=np.int64), np.array(draw(labels), dtype=np.int64), k


# ---- accuracy ------------------------------------------------------------------------


def test_accuracy_small_example():
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])) == 0.5
    assert accuracy(np.array([3]), np.array([3])) == 1.0
    assert accuracy(np.array([3]), np.array([2])) == 0.0


@given(label_pairs())
def test_accuracy_matches_hit_count(pair):
    y_true, y_pred, _ = pair
    hits = sum(1 for t, p in zip(y_true, y_pred) if t == p)
    result = accuracy(y_true, y_pred)
    assert isinstance(result, float)
    assert result == pytest.approx(hits / len(y_true), rel=1e-12)


# ---- confusion matrix ----------------------------------------------------------------


@given(label_pairs(min_size=0))
def test_confusion_matrix_matches_counting_loop(pair):
    y_true, y_pred, k = pair
    matrix = confusion_matrix(y_true, y_pred, num_classes=k)
    assert matrix.shape == (k, k)
    assert matrix.tolist() == count_confusion(y_true, y_pred, k)


def test_confusion_matrix_infers_the_class_count_from_the_largest_label():
    matrix = confusion_matrix(np.array([0, 3]), np.array([1, 1]))
    assert matrix.tolist() == count_confusion([0, 3], [1, 1], 4)


@pytest.mark.parametrize(
    "dtype",
    [
        np.int64,
        np.int32,
        np.uint8,
        np.int8,
    ],
)
def test_confusion_matrix_with_many_classes_and_narrow_label_dtypes(dtype):
    k = 20
    y_true = np.array([19, 18, 0, 5, 19], dtype=dtype)
    y_pred = np.array([19, 0, 18, 5, 3], dtype=dtype)
    assert confusion_matrix(y_true, y_pred, num_classes=k).tolist() == count_confusion(y_true, y_pred, k)


# ---- classification report ----------------------------------------------------------


@given(label_pairs())
def test_classification_report_matches_loops(pair):
    y_true, y_pred, k = pair
    report = classification_report(y_true, y_pred, num_classes=k)
    precision, recall, f1, support = per_class_scores(y_true.tolist(), y_pred.tolist(), k)
    np.testing.assert_allclose(report.precision, precision, rtol=1e-12)
    np.testing.assert_allclose(report.recall, recall, rtol=1e-12)
    np.testing.assert_allclose(report.f1, f1, rtol=1e-12)
    assert report.support.tolist() == support
    assert report.macro == pytest.approx((np.mean(precision), np.mean(recall), np.mean(f1)), rel=1e-12)


def test_classification_report_undefined_ratios_are_zero():
    # class 0: never predicted; class 1: predicted but absent; class 2: absent and never predicted
    report = classification_report(np.array([0, 0, 3]), np.array([1, 1, 3]), num_classes=4)
    assert report.precision.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert report.recall.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert report.f1.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert report.support.tolist() == [2, 0, 0, 1]
    assert report.macro == pytest.approx((0.25, 0.25, 0.25))


def test_classification_report_hand_computed_example():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    report = classification_report(y_true, y_pred)
    # class 0: tp 2, predicted 2, actual 3; class 1: tp 1, predicted 2, actual 2; class 2: tp 1, predicted 2, actual 1
    np.testing.assert_allclose(report.precision, [1.0, 0.5, 0.5])
    np.testing.assert_allclose(report.recall, [2 / 3, 0.5, 1.0])
    np.testing.assert_allclose(report.f1, [0.8, 0.5, 2 / 3])


def test_classification_report_table():
    report = classification_report(np.array([0, 1, 2, 2, 1]), np.array([0, 2, 2, 2, 1]), num_classes=4)
    lines = str(report).splitlines()
    assert lines[0].split() == ["class", "precision", "recall", "f1", "support"]
    rows = [line.split() for line in lines[1:]]
    assert [row[0] for row in rows] == ["0", "1", "2", "3", "macro"]
    for k, row in enumerate(rows[:4]):
        assert [float(v) for v in row[1:4]] == pytest.approx(
            [report.precision[k], report.recall[k], report.f1[k]], abs=5e-5)
        assert int(row[4]) == report.support[k]
    macro = rows[4]
    assert [float(v) for v in macro[1:4]] == pytest.approx(report.macro, abs=5e-5)
    assert int(macro[4]) == 5


# ---- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", [accuracy, confusion_matrix, classification_report])
@pytest.mark.parametrize(
    "y_true, y_pred, pattern",
    [
        pytest.param(np.array([0, 1, 2]), np.array([0, 1]), "3 labels.*2", id="mismatched-lengths"),
        pytest.param(np.array([0.0, 1.0]), np.array([0, 1]), "y_true.*integer.*float64", id="float-true"),
        pytest.param(np.array([0, 1]), np.array([0.5, 1.0]), "y_pred.*integer", id="float-pred"),
        pytest.param(np.array([True, False]), np.array([0, 1]), "y_true.*integer", id="bool-true"),
        pytest.param(np.array([[0, 1]]), np.array([[0, 1]]), r"1-d.*\(1, 2\)", id="2d"),
    ],
)
def test_invalid_labels(metric, y_true, y_pred, pattern):
    with pytest.raises(ValueError, match=pattern):
        metric(y_true, y_pred)


def test_accuracy_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="accuracy: no labels"):
        accuracy(np.array([], dtype=np.int64), np.array([], dtype=np.int64))


@pytest.mark.parametrize("metric", [confusion_matrix, classification_report])
@pytest.mark.parametrize(
    "y_true, y_pred, num_classes, pattern",
    [
        pytest.param([0, 3], [0, 1], 3, r"\[0, 2\]", id="true-too-large"),
        pytest.param([0, 1], [0, 5], 3, r"\[0, 2\]", id="pred-too-large"),
        pytest.param([0, -1], [0, 1], 3, r"\[0, 2\]", id="negative"),
        pytest.param([0, -1], [0, 1], None, r"\[0, 1\]", id="negative-inferred"),
    ],
)
def test_labels_outside_the_classes(metric, y_true, y_pred, num_classes, pattern):
    with pytest.raises(ValueError, match=pattern):
        metric(np.array(y_true), np.array(y_pred), num_classes=num_classes)
